#!/usr/bin/env bash
# make demo: one sandboxed command in a scratch workspace, on cordon's
# built-in defaults, showing a write allowed, a write refused, a credential
# unreadable and a host refused.
set -euo pipefail
cordon=${1:?usage: demo.sh PATH-TO-CORDON}
scratch=$(mktemp -d /tmp/cordon-demo.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# A scratch home so the demo touches nothing of yours: a fake AWS
# credential in it, and cordon's config and state under it.
export HOME=$scratch/home XDG_CONFIG_HOME=$scratch/home/.config XDG_STATE_HOME=$scratch/home/.local/state
mkdir -p "$HOME/.aws" "$scratch/project"
echo "aws_secret_access_key = demo-not-a-real-key" >"$HOME/.aws/credentials"
cd "$scratch/project"

cat <<TXT
workspace: $scratch/project   (no .sandbox.toml: the built-in defaults)
running:   cordon run -- sh -c '...'   (setsid: no terminal to ask on, so unknown hosts are denied)

TXT
set +e
setsid -w "$cordon" run -- sh -c '
  echo "1. write inside the workspace:";  echo hello > notes.txt && echo "   ok, wrote notes.txt"
  echo "2. write outside the workspace:"; ( echo x > "$HOME/outside.txt" ) 2>&1 | sed "s/^/   /"
  echo "3. read a credential:";           ( cat "$HOME/.aws/credentials" ) 2>&1 | sed "s/^/   /"
  echo "4. reach a host:";                ( curl -sS -m 10 -o /dev/null https://example.com ) 2>&1 | sed "s/^/   /"
  exit 0
' </dev/null
status=$?
set -e
echo
echo "cordon exited $status; on the host, notes.txt holds: $(cat "$scratch/project/notes.txt")"
[ ! -e "$HOME/outside.txt" ] && echo "and $HOME/outside.txt does not exist."
