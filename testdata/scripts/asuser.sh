#!/usr/bin/env bash
# asuser.sh [GO TEST ARGS...]: run go test as the unprivileged test user
# (sandboxtest.UserName, created when missing), the way a CI service that
# is not root runs the suite. Run as root. The user gets a copy of the tree
# it owns, a copy of the module cache (GOPROXY=off: nothing downloads), its
# own build cache and home; the Go toolchain is the one on root's PATH.
#
# Run so, the user half of every attack test runs for real and every root
# half skips, each with one line in the skip log. The script fails when a
# test fails, and when a test skipped for any reason but the want of root:
# a skipped user half is a sandbox left untested.
#
#   testdata/scripts/asuser.sh ./...                       # the whole suite
#   testdata/scripts/asuser.sh -run 'TestAttack' ./cmd/cordon
#
# CORDON_USER_GOCACHE (default /var/tmp/cordon-asuser-gocache) keeps the
# user's build cache between runs.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
[ "$(id -u)" = 0 ] || { echo "asuser.sh: run as root (it runs the suite as the test user)" >&2; exit 2; }
[ $# -gt 0 ] || set -- ./...

user=cordontest # sandboxtest.UserName
id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
gid=$(id -g "$user")

scratch=$(mktemp -d /tmp/cordon-asuser.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chmod 755 "$scratch"
mkdir -p "$scratch/src" "$scratch/home"
# The tree as it is (tracked and new files; nothing ignored, no .git).
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$scratch/src" -xf -
cp -a "$(go env GOMODCACHE)" "$scratch/gomod"
chown -R "$user:$gid" "$scratch/src" "$scratch/home" "$scratch/gomod"

# The build cache persists, but only as the user's own directory.
cache=${CORDON_USER_GOCACHE:-/var/tmp/cordon-asuser-gocache}
if [ -L "$cache" ] || { [ -e "$cache" ] && [ "$(stat -c %u "$cache")" != "$(id -u "$user")" ]; }; then
  echo "asuser.sh: $cache is not $user's own directory" >&2
  exit 2
fi
mkdir -p "$cache" && chown "$user:$gid" "$cache" && chmod 700 "$cache"

log=$scratch/home/skips.log
goroot=$(go env GOROOT)
cd "$scratch/src"
start=$(date +%s)
set +e
setpriv --reuid "$user" --regid "$gid" --clear-groups -- env -i \
  PATH="$goroot/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  HOME="$scratch/home" USER="$user" LOGNAME="$user" LANG=C TMPDIR=/tmp \
  GOCACHE="$cache" GOMODCACHE="$scratch/gomod" GOPROXY=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
  CORDON_SKIP_LOG="$log" \
  go test "$@"
rc=$?
set -e
echo "asuser.sh: go test $* as $user: exit $rc in $(( $(date +%s) - start ))s"

# Every skip must be for want of root: a root half (sandboxtest.RequireRoot)
# or a root-only test whose user case another test runs; each of the latter
# is listed. Any other skip is a sandbox left untested.
halves=0
[ -s "$log" ] && halves=$(sort -u "$log" | grep -c '/root: not root: the root half is skipped' || true)
rootonly=$( [ -s "$log" ] && sort -u "$log" | grep -v '/root: not root: the root half is skipped' | grep -E '^[^:]+: not root' || true)
other=$( [ -s "$log" ] && sort -u "$log" | grep -vE '^[^:]+: not root' || true)
[ -z "$rootonly" ] || echo "$rootonly" | sed 's/^/  root only, skipped: /'
echo "cordon: as $user, $halves root half(s) of sandbox tests skipped (they need root; the user halves ran), $( [ -z "$rootonly" ] && echo 0 || echo "$rootonly" | wc -l) root-only test(s) skipped"
if [ -n "$other" ]; then
  echo "$other" | sed 's/^/  skipped: /'
  echo "cordon: as $user, sandbox tests skipped that an unprivileged user can run" >&2
  exit 1
fi
exit $rc
