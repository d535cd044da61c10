#!/usr/bin/env bash
# skips.sh LOG [--strict]: the count of sandbox tests a run skipped (each
# skip goes through sandboxtest.Skip, which appends a line to LOG), printed
# last so it cannot scroll by. --strict (CI) fails on any skip when run as
# root: there, every attack test can and must run.
set -euo pipefail
log=$1
strict=${2:-}
n=0
if [ -s "$log" ]; then
  n=$(sort -u "$log" | wc -l)
  sort -u "$log" | sed 's/^/  skipped: /'
fi
echo "cordon: $n sandbox test(s) skipped$([ "$(id -u)" = 0 ] || echo " (not root: the root halves cannot run)")"
if [ "$strict" = --strict ] && [ "$(id -u)" = 0 ] && [ "$n" != 0 ]; then
  echo "cordon: attack tests were skipped on a root machine" >&2
  exit 1
fi
