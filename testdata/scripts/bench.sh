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

# The floors under cordon: bwrap with the namespaces the invariants
# require, and the same with the mounts cordon makes for this empty
# workspace (its own dir and temp dir writable, the runtime dir hidden),
# running true directly. Protected names that do not exist yet cost no
# mount: the guard refuses them (README, "Nothing left behind").
ns="--unshare-user --cap-drop ALL --disable-userns --unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try --unshare-net --new-session --die-with-parent --ro-bind / / --dev /dev --proc /proc"
floor=$(mktemp -d /tmp/cordon-bench-floor.XXXXXX)
mkdir -p "$floor/ws" "$floor/rt/tmp"
mounts="--bind $floor/ws $floor/ws --tmpfs $floor/rt --bind $floor/rt/tmp $floor/rt/tmp"
trap 'rm -rf "$ws" "$floor"' EXIT
cd "$ws"

echo "== start-up: one command, $runs runs each, same session"
hyperfine -N --warmup 5 --runs "$runs" --export-json "$out/startup.json" \
  -n "bwrap --ro-bind / / true" "bwrap --ro-bind / / true" \
  -n "bwrap, cordon's namespaces" "bwrap $ns true" \
  -n "bwrap, cordon's namespaces and mounts" "bwrap $ns $mounts --chdir $floor/ws true" \
  -n "cordon run -- true" "$cordon run -w $ws -- true" \
  -n "srt -c true ($srt_version)" "$srt -c true" >/dev/null
python3 - "$out/startup.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(sys.argv[1]))["results"]}
bw, co = r["bwrap --ro-bind / / true"], r["cordon run -- true"]
ns, mounts = r["bwrap, cordon's namespaces"], r["bwrap, cordon's namespaces and mounts"]
srt = [v for k, v in r.items() if k.startswith("srt")][0]
for k, v in r.items():
    print(f"  {k:40s} median {v:8.2f} ms   ({v/bw:5.2f}x bare bwrap)")
print(f"  cordon / bare bwrap                    = {co/bw:5.2f}x   (target <= 1.5x)")
print(f"  cordon / bwrap, namespaces and mounts  = {co/mounts:5.2f}x   (cordon's own cost on top of bwrap)")
print(f"  srt / cordon                           = {srt/co:5.1f}x   (target >= 30x)")
PY
echo "== the two Linux backends, same run: start-up and a command making and removing 3,000 files, $runs runs each"
# CORDON_BACKEND picks the backend (issue 11); the Landlock one has no
# namespaces to make and no mounts, so it should start the faster.
backend_files='for i in $(seq 3000); do : > f$i; done; rm -f f*'
hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/backends.json" \
  -n "bwrap: cordon run -- true" "env CORDON_BACKEND=bwrap $cordon run -w $ws -- true" \
  -n "landlock: cordon run -- true" "env CORDON_BACKEND=landlock $cordon run -w $ws -- true" \
  -n "bwrap: 3,000 files" "env CORDON_BACKEND=bwrap $cordon run -w $ws -c '$backend_files'" \
  -n "landlock: 3,000 files" "env CORDON_BACKEND=landlock $cordon run -w $ws -c '$backend_files'" >/dev/null
python3 - "$out/backends.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(sys.argv[1]))["results"]}
for k, v in r.items():
    print(f"  {k:32s} median {v:8.2f} ms")
t = r["landlock: cordon run -- true"] / r["bwrap: cordon run -- true"]
f = r["landlock: 3,000 files"] / r["bwrap: 3,000 files"]
print(f"  landlock / bwrap, start-up     = {t:5.2f}x   (target < 1)")
print(f"  landlock / bwrap, 3,000 files  = {f:5.2f}x")
PY
echo "== agent entry points: cordon shell -c against cordon run, $runs runs each"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/shell.json" \
  -n "cordon run -- true" "$cordon run -w $ws -- true" \
  -n "cordon shell -c true" "$cordon shell -c true" >/dev/null
python3 - "$out/shell.json" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(sys.argv[1]))["results"]}
run, sh = r["cordon run -- true"], r["cordon shell -c true"]
print(f"  cordon run -- true     median {run:8.2f} ms")
print(f"  cordon shell -c true   median {sh:8.2f} ms   ({sh/run:4.2f}x: bash inside instead of true, and the control-socket probe)")
PY
echo "== the deny_write guard: a command making 500 files, 10 runs each"
# Without a guarded rule: a workspace holding every protected name (a
# missing one is the guard's, which would turn it on).
unguarded=$(mktemp -d /tmp/cordon-bench-noguard.XXXXXX)
for name in .sandbox.toml .gitmodules .vscode/ .idea/ .nvim.lua .nvimrc .exrc .envrc .mcp.json .claude/ \
  .bashrc .bash_profile .profile .zshrc .zprofile .gitconfig .ripgreprc; do
  case $name in */) mkdir "$unguarded/${name%/}" ;; *) : >"$unguarded/$name" ;; esac
done
guarded=$(mktemp -d /tmp/cordon-bench-guard.XXXXXX)
printf '[filesystem]\ndeny_write = ["*.pem"]\n' >"$guarded/.sandbox.toml"
make_files='for i in $(seq 500); do : > f$i; done; rm -f f*'
hyperfine -N --warmup 1 --runs 10 --export-json "$out/guard.json" \
  -n "500 files, no guarded rule" "$cordon run -w $unguarded -c '$make_files'" \
  -n "500 files, deny_write = [\"*.pem\"]" "$cordon run -w $guarded -c '$make_files'" >/dev/null
rm -rf "$guarded" "$unguarded"
python3 - "$out/guard.json" <<'PY'
import json, statistics, sys
r = [(x["command"], statistics.median(x["times"]) * 1000) for x in json.load(open(sys.argv[1]))["results"]]
for k, v in r:
    print(f"  {k:40s} median {v:8.1f} ms")
print(f"  added per name made: {(r[1][1] - r[0][1]) / 500 * 1000:.0f} us")
PY

# Toolchain figures (issue 16): each against bwrap with cordon's namespaces,
# the same writable workspace and private /tmp, and the caches bound
# directly (no copy-on-write layer): the ratio is cordon's whole cost,
# layers included.
tc=$(mktemp -d /tmp/cordon-bench-tc.XXXXXX)
mkdir -p "$tc/ws" "$tc/tmp"
tcmounts="--bind $tc/tmp /tmp --bind $tc/ws $tc/ws" # /tmp first: the workspace lives below it
for c in "$HOME/.npm" "$HOME/.cache" "$HOME/go/pkg"; do
  [ -d "$c" ] && tcmounts="$tcmounts --bind $c $c"
done
tcruns=${BENCH_TC_RUNS:-$(( runs < 10 ? runs : 10 ))}
echo "== a command making and removing 3,000 files, $runs runs each"
files='for i in $(seq 3000); do : > f$i; done; rm -f f*'
pairs="python3 $root/testdata/scripts/pairs.py"
$pairs --warmup 2 --runs "$runs" --json "$out/files.json" \
  "bwrap, cordon's namespaces and mounts" "bwrap $ns $tcmounts --chdir $tc/ws sh -c '$files'" \
  "cordon run" "$cordon run -w $tc/ws -c '$files'"
echo "== the same loop in a workspace on tmpfs, $runs runs each"
# On tmpfs a name costs the kernel a few microseconds, where on this
# machine's disk ext4 spends up to half a millisecond skipping inodes
# freed moments ago (it has no journal): what the supervisor's round trip
# per name costs shows here undiluted.
shm=$(mktemp -d /dev/shm/cordon-bench.XXXXXX)
$pairs --warmup 2 --runs "$runs" --json "$out/files-tmpfs.json" \
  "bwrap, cordon's namespaces and mounts" "bwrap $ns --bind $tc/tmp /tmp --bind $shm $shm --chdir $shm sh -c '$files'" \
  "cordon run" "$cordon run -w $shm -c '$files'"
rm -rf "$shm"
echo "== npm install of ~100 packages from a warm cache, $tcruns runs each"
cat >"$tc/ws/package.json" <<'JSON'
{"name": "bench", "version": "1.0.0", "private": true,
 "dependencies": {"express": "4.21.2", "chalk": "4.1.2", "commander": "12.1.0", "debug": "4.4.0", "yargs": "17.7.2"}}
JSON
printf '[network]\nallow = ["registry.npmjs.org:443"]\n' >"$tc/ws/.sandbox.toml"
"$cordon" trust -w "$tc/ws" >/dev/null
(cd "$tc/ws" && npm install --no-audit --no-fund --loglevel=error >/dev/null && rm -rf node_modules) # warms the host's cache
# --prefer-offline: npm still asks the registry for a few packuments it did
# not keep (--offline fails on them even outside any sandbox), so this
# baseline keeps the host's network (no --unshare-net) and cordon's run
# reaches the registry through its proxy.
npmi='rm -rf node_modules && npm install --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null'
$pairs --warmup 1 --runs "$tcruns" --json "$out/npm.json" \
  "bwrap, cordon's namespaces and mounts" "bwrap ${ns/--unshare-net /} $tcmounts --chdir $tc/ws sh -c '$npmi'" \
  "cordon run" "$cordon run -w $tc/ws -c '$npmi'"
echo "npm packages installed: $(ls "$tc/ws/node_modules" 2>/dev/null | wc -l)"
echo "== a warm go build (cache layers over ~/go/pkg and ~/.cache/go-build), $tcruns runs each"
mkdir -p "$tc/ws/gob" && (cd "$root" && git ls-files -z -- go.mod go.sum cmd proxy sandbox server workspace | grep -zv '_test.go$' | xargs -0 cp --parents -t "$tc/ws/gob")
cp "$root/sandbox/linux/initimage/cordon-init.bin" "$tc/ws/gob/sandbox/linux/initimage/" 2>/dev/null || true
(cd "$tc/ws/gob" && go build ./... ) # warms the host's build cache
gob='cd gob && go build ./...'
$pairs --warmup 1 --runs "$tcruns" --json "$out/gobuild.json" \
  "bwrap, cordon's namespaces and mounts" "bwrap $ns $tcmounts --chdir $tc/ws sh -c '$gob'" \
  "cordon run" "$cordon run -w $tc/ws -c '$gob'"
rm -rf "$tc"
python3 - "$out/files.json" "$out/files-tmpfs.json" "$out/npm.json" "$out/gobuild.json" <<'PY'
import json, statistics, sys
targets = {"files": "<= 1.15x", "files-tmpfs": "none: the cost per name, undiluted", "npm": "<= 1.15x", "gobuild": "<= 1.05x"}
for path in sys.argv[1:]:
    name = path.rsplit("/", 1)[1].split(".")[0]
    d = json.load(open(path))
    r = {x["command"]: statistics.median(x["times"]) * 1000 for x in d["results"]}
    base, co = r["bwrap, cordon's namespaces and mounts"], r["cordon run"]
    ratio = statistics.median(d["ratios"])  # run by run in pairs: see pairs.py
    print(f"  {name:11s} bwrap {base:8.1f} ms   cordon {co:8.1f} ms   ratio {ratio:5.2f}x (median of pairs)   (target {targets[name]})")
PY

echo "== replay: a scripted agent session through cordon lsp (prompts vs the permission model)"
python3 "$root/testdata/scripts/replay.py" "$cordon" --replays 2 || echo "replay failed"
cd "$root"

echo "== Go benchmarks (medians of -count runs)"
go_bench() { # pkg regexp
  go test -run '^$' -bench "$2" -benchtime "${BENCHTIME:-3x}" -count "${BENCHCOUNT:-3}" "$1" 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)' || true
}
for spec in $(cat testdata/scripts/bench.list 2>/dev/null | grep -v '^#'); do
  go_bench "${spec%%:*}" "${spec#*:}"
done
