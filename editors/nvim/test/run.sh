#!/bin/sh
# Runs the Neovim plugin tests headless against a real cordon binary; when
# started by root, runs them again as the unprivileged user nobody (the
# sandbox must hold in both cases).
# usage: editors/nvim/test/run.sh /path/to/cordon [NVIM...]
# Each NVIM (default: nvim on PATH) is a Neovim to test with; fetch-nvim.sh
# prints wrappers for 0.10.x and 0.12.x.
set -eu
cordon=${1:?usage: run.sh /path/to/cordon [NVIM...]}
shift
case $cordon in /*) ;; *) cordon=$(pwd)/$cordon ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- nvim
nvims="$*"
for nv in $nvims; do
  command -v "$nv" >/dev/null || { echo "$nv not found (apt-get install -y neovim; fetch-nvim.sh for newer ones)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# one NVIM USER: runs every t*.lua with NVIM as USER ("" = the current user),
# each in a fresh workspace and state.
one() {
  nvim=$1
  user=$2
  ver=$("$nvim" --version | head -1 | sed 's/^NVIM //')
  i=0
  for t in "$here"/test/t*.lua; do
    i=$((i + 1))
    base=$tmp/${user:-self}-$ver-$i
    mkdir -p "$base/ws" "$base/state" "$base/config" "$base/data" "$base/home"
    [ -z "$user" ] || chown -R "$user" "$base"
    ws=$(cd "$base/ws" && pwd -P)
    echo "== $(basename "$t") on Neovim $ver as ${user:-$(id -un)}"
    set -- env HOME="$base/home" CORDON="$cordon" CORDON_TEST_WS="$ws" XDG_STATE_HOME="$base/state" \
      XDG_CONFIG_HOME="$base/config" XDG_DATA_HOME="$base/data" \
      timeout 120 "$nvim" --headless -u NONE -i NONE --cmd "set rtp^=$here" --cmd "runtime plugin/cordon.lua" -c "luafile $t"
    if [ -n "$user" ]; then
      set -- setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"
    fi
    "$@" </dev/null || status=1
  done
}

status=0
for nv in $nvims; do
  one "$nv" ""
  if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    one "$nv" nobody
  fi
done
exit $status
