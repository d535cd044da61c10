#!/bin/sh
# Runs the Neovim plugin tests headless against a real cordon binary; when
# started by root, runs them again as the unprivileged user nobody (the
# sandbox must hold in both cases).
# usage: editors/nvim/test/run.sh /path/to/cordon
set -eu
cordon=${1:?usage: run.sh /path/to/cordon}
case $cordon in /*) ;; *) cordon=$(pwd)/$cordon ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
command -v nvim >/dev/null || { echo "nvim not found: apt-get install -y neovim" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# one USER: runs every t*.lua as USER ("" = the current user).
one() {
  user=$1
  base=$tmp/${user:-self}
  mkdir -p "$base/ws" "$base/state" "$base/config" "$base/data" "$base/home"
  [ -z "$user" ] || chown -R "$user" "$base"
  ws=$(cd "$base/ws" && pwd -P)
  for t in "$here"/test/t*.lua; do
    echo "== $(basename "$t") as ${user:-$(id -un)}"
    set -- env HOME="$base/home" CORDON="$cordon" CORDON_TEST_WS="$ws" XDG_STATE_HOME="$base/state" \
      XDG_CONFIG_HOME="$base/config" XDG_DATA_HOME="$base/data" \
      timeout 120 nvim --headless -u NONE -i NONE --cmd "set rtp^=$here" --cmd "runtime plugin/cordon.lua" -c "luafile $t"
    if [ -n "$user" ]; then
      set -- setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"
    fi
    "$@" </dev/null || status=1
  done
}

status=0
one ""
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  one nobody
fi
exit $status
