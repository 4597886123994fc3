#!/usr/bin/env python3
"""Alternate `jepa bench` runs of several binaries (or one binary under several environments) on
one filter, and print each side's best and median time per case. For A/B checks on a shared
machine, where the best of a few alternated runs says more than one run each.

    python3 scripts/bench_ab.py ROUNDS FILTER BIN[=VAR:VALUE,...] ...
    python3 scripts/bench_ab.py 3 softmax target/nofloor/release/jepa \\
        target/nofloor/release/jepa=JEPA_SIMD:baseline
    AB_THREADS=1 python3 scripts/bench_ab.py 2 attention_fwd target/release/jepa \\
        target/nofloor/release/jepa
"""
import json
import os
import statistics
import subprocess
import sys


def run(spec, filt, threads):
    path, _, envs = spec.partition("=")
    env = dict(os.environ)
    for kv in filter(None, envs.split(",")):
        k, v = kv.split(":", 1)
        env[k] = v
    out = subprocess.run([path, "bench", "--threads", threads, "--json", "--filter", filt],
                         capture_output=True, text=True, env=env, check=True).stdout
    return [r for r in json.loads(out) if r["name"] != "fma_peak"]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, filt, specs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    threads = os.environ.get("AB_THREADS", "2")
    res = {}
    for _ in range(rounds):
        for spec in specs:
            for r in run(spec, filt, threads):
                res.setdefault((r["name"], spec), []).append(r)
    for (name, spec), rs in sorted(res.items()):
        ms = [r["median_ms"] for r in rs]
        pct = [r["percent_of_peak"] for r in rs if r.get("percent_of_peak") is not None]
        print(f"{name:36s} {spec:50s} best {min(ms):9.3f}  median {statistics.median(ms):9.3f} ms"
              f"  %ceiling max {max(pct) if pct else 0:5.1f}  path {rs[0].get('simd_path')}")


if __name__ == "__main__":
    main()
