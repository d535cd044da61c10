#!/bin/sh
# Runs the Neovim plugin test headless against a real cordon binary.
# usage: editors/nvim/test/run.sh /path/to/cordon
set -eu
cordon=${1:?usage: run.sh /path/to/cordon}
case $cordon in /*) ;; *) cordon=$(pwd)/$cordon ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
command -v nvim >/dev/null || { echo "nvim not found: apt-get install -y neovim" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/ws" "$tmp/state" "$tmp/config" "$tmp/data"
ws=$(cd "$tmp/ws" && pwd -P)
status=0
for t in "$here"/test/t*.lua; do
  echo "== $(basename "$t")"
  CORDON=$cordon CORDON_TEST_WS=$ws XDG_STATE_HOME=$tmp/state XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data \
    timeout 120 nvim --headless -u NONE -i NONE --cmd "set rtp^=$here" --cmd "runtime plugin/cordon.lua" \
    -c "luafile $t" </dev/null || status=1
done
exit $status
