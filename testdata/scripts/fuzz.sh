#!/usr/bin/env bash
# Runs every Fuzz target in the module briefly (go test -fuzz takes one
# target at a time). The seed corpora already run in plain `go test`.
set -euo pipefail
fuzztime=${1:-4000x}
cd "$(dirname "$0")/../.."
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/cordon-fuzz.log 2>&1 || { cat /tmp/cordon-fuzz.log; exit 1; }
  done
done
