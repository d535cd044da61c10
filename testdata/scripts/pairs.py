#!/usr/bin/env python3
"""pairs.py: time a command against its baseline run by run in pairs.

    pairs.py --runs N [--warmup W] --json OUT  NAME-A 'CMD-A'  NAME-B 'CMD-B'

Runs A and B in turn (A B A B ..., the order swapped every other pair so
neither always runs on the state the other left), each through /bin/sh -c,
and writes hyperfine's JSON shape ({"results": [{"command", "times"}]})
plus "ratios": B/A of each pair. The figure to quote is the median of
those ratios: a machine whose speed drifts (another job, a file system's
own state: ext4 makes a name slower while many were just removed) moves
both halves of a pair alike, where two medians taken minutes apart would
not.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time


def once(cmd):
    start = time.perf_counter()
    r = subprocess.run(["/bin/sh", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"pairs.py: {cmd!r} exited {r.returncode}: {r.stderr.decode(errors='replace')[-2000:]}")
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", required=True)
    ap.add_argument("pairs", nargs=4, metavar=("NAME_A", "CMD_A", "NAME_B", "CMD_B"))
    a = ap.parse_args()
    name_a, cmd_a, name_b, cmd_b = a.pairs
    for _ in range(a.warmup):
        once(cmd_a)
        once(cmd_b)
    ta, tb, ratios = [], [], []
    for i in range(a.runs):
        if i % 2 == 0:
            x, y = once(cmd_a), once(cmd_b)
        else:
            y, x = once(cmd_b), once(cmd_a)
        ta.append(x)
        tb.append(y)
        ratios.append(y / x)
    out = {"results": [{"command": name_a, "times": ta}, {"command": name_b, "times": tb}], "ratios": ratios}
    with open(a.json, "w") as f:
        json.dump(out, f)
    ma, mb = statistics.median(ta) * 1000, statistics.median(tb) * 1000
    print(f"  {name_a:40s} median {ma:8.1f} ms")
    print(f"  {name_b:40s} median {mb:8.1f} ms")
    print(f"  ratio, median of {a.runs} pairs: {statistics.median(ratios):5.2f}x (pairs {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
