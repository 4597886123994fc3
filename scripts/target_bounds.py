#!/usr/bin/env python3
"""How far each speed target of issues 2 and 4 sits from this machine's ceilings.

    python3 scripts/target_bounds.py J1.json T1.json [J2.json T2.json ...]   # interleaved rounds

For every target (a speed-up over torch measured in the same run) it prints torch's median time,
the time jepa would need, and that time as a share of the ceiling the work is bound by: the FMA
ceiling `jepa bench` measures (`fma_peak`) for FLOP-counted work, the parallel copy of the same
bytes (`copy_gbps`) for LayerNorm. A target that needs more than 100 % cannot be met in f32 on
the machine, whatever the code; one that needs 95 % cannot in practice. Times are the medians
over the rounds; the FLOP and byte counts are the ones `jepa bench` reports.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_compare import median, torch_ms  # noqa: E402

# (jepa record, speed-up needed, ceiling)
TARGETS = [
    ("gemm_1024", 1.13, "fma"),
    ("attention_fwd_bwd_b64_h3_n64_d64", 2.3, "fma"),
    ("layernorm_fwd_4096x192", 2.0, "copy"),
    ("vit_tiny_forward_b64", 1.85, "fma"),
    ("ijepa_step_vit_tiny_b64", 1.5, "fma"),
]


def main(paths):
    if len(paths) < 2 or len(paths) % 2:
        sys.exit("usage: target_bounds.py JEPA.json TORCH.json [JEPA2.json TORCH2.json ...]")
    pairs = [(json.load(open(j)), json.load(open(t))) for j, t in zip(paths[::2], paths[1::2])]
    by_name = [{r["name"]: r for r in j} for j, _ in pairs]
    fma = median([b["fma_peak"]["gflops"] for b in by_name if "fma_peak" in b])
    print(f"{len(pairs)} round(s); FMA ceiling {fma:.0f} GFLOP/s (median)\n")
    print("| target | needed | jepa ms | torch ms | speed-up | ceiling | jepa % | torch % "
          "| % needed for the target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, want, kind in TARGETS:
        recs = [b[name] for b in by_name if name in b]
        tms = [torch_ms(t, name) for _, t in pairs]
        tms = [x for x in tms if x]
        if not recs or not tms:
            print(f"| {name} | {want}x | – | – | – | – | – | – | missing |")
            continue
        jm, tm = median([r["median_ms"] for r in recs]), median(tms)
        need_ms = tm / want
        rate, ceil_key = ("gflops", None) if kind == "fma" else ("gbps", "copy_gbps")
        works = [r[rate] * r["median_ms"] / 1e3 for r in recs if r.get(rate)]
        ceils = [fma] if kind == "fma" else [r[ceil_key] for r in recs if r.get(ceil_key)]
        if not works or not ceils:  # records from before jepa bench counted this work
            print(f"| {name} | {want}x | {jm:.3f} | {tm:.3f} | {tm / jm:.2f}x | – | – | – | "
                  f"no {rate if not works else ceil_key} in the records |")
            continue
        work, ceil = median(works), median(ceils)
        unit = "GFLOP/s" if kind == "fma" else "GB/s copy"
        pct = lambda ms: 100.0 * work / (ms / 1e3) / ceil  # noqa: E731
        print(f"| {name} | {want}x | {jm:.3f} | {tm:.3f} | {tm / jm:.2f}x | {ceil:.0f} {unit} "
              f"| {pct(jm):.0f} % | {pct(tm):.0f} % | {pct(need_ms):.0f} % |")


if __name__ == "__main__":
    main(sys.argv[1:])
