#!/usr/bin/env bash
# make bench: every performance figure of the README, each measured against
# its baseline in the same run. Medians; ratios are cordon / baseline.
set -euo pipefail
cordon=${1:?usage: bench.sh PATH-TO-CORDON}
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/bench/out
mkdir -p "$out"
runs=${BENCH_RUNS:-40}
srt_version=0.0.78

need() { command -v "$1" >/dev/null 2>&1; }
if ! need hyperfine || ! need socat || ! need rg; then
  ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get install -y -qq hyperfine socat ripgrep >/dev/null
fi
# srt (Anthropic's sandbox runtime), pinned, installed beside the results.
if [ ! -x "$out/srt/node_modules/.bin/srt" ]; then
  mkdir -p "$out/srt"
  npm install --silent --prefix "$out/srt" "@anthropic-ai/sandbox-runtime@$srt_version" >/dev/null 2>&1
fi
srt=$out/srt/node_modules/.bin/srt

ws=$(mktemp -d /tmp/cordon-bench.XXXXXX)
trap 'rm -rf "$ws"' EXIT
cd "$ws"

echo "== start-up: one command, $runs runs each, same session"
hyperfine -N --warmup 5 --runs "$runs" --export-json "$out/startup.json" \
  -n "bwrap --ro-bind / / true" "bwrap --ro-bind / / true" \
  -n "bwrap, cordon's namespaces" "bwrap --unshare-user --cap-drop ALL --disable-userns --unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try --unshare-net --new-session --die-with-parent --ro-bind / / --dev /dev --proc /proc true" \
  -n "cordon run -- true" "$cordon run -w $ws -- true" \
  -n "srt -c true ($srt_version)" "$srt -c true" >/dev/null
python3 - "$out/startup.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(sys.argv[1]))["results"]}
bw, co = r["bwrap --ro-bind / / true"], r["cordon run -- true"]
srt = [v for k, v in r.items() if k.startswith("srt")][0]
for k, v in r.items():
    print(f"  {k:32s} median {v:8.2f} ms")
print(f"  cordon / bare bwrap   = {co/bw:5.2f}x   (target <= 1.5x)")
print(f"  cordon / bwrap with the same namespaces = {co/r[\"bwrap, cordon's namespaces\"]:5.2f}x")
print(f"  srt / cordon          = {srt/co:5.1f}x   (target >= 30x)")
PY
cd "$root"

echo "== Go benchmarks (medians of -count runs)"
go_bench() { # pkg regexp
  go test -run '^$' -bench "$2" -benchtime "${BENCHTIME:-3x}" -count "${BENCHCOUNT:-3}" "$1" 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' || true
}
for spec in $(cat testdata/scripts/bench.list 2>/dev/null | grep -v '^#'); do
  go_bench "${spec%%:*}" "${spec#*:}"
done
