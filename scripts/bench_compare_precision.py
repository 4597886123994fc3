#!/usr/bin/env python3
"""Model benchmarks per matmul precision, beside PyTorch at the same setting.

    python3 scripts/bench_compare_precision.py TORCH_REDUCED.json JEPA_highest.json JEPA_high.json JEPA_medium.json

TORCH_REDUCED.json comes from scripts/bench_torch_reduced.py, the JEPA files from
`jepa bench --json --matmul-precision LEVEL` (the level is read from each record). Ratios are
torch time / jepa time (> 1: jepa faster); torch's better attention (naive or SDPA) is used.
"""
import json
import sys

CASES = {"vit_tiny_forward_b64": "vit_tiny_fwd_b64", "ijepa_step_vit_tiny_b64": "ijepa_step_b64"}


def main():
    torch = json.load(open(sys.argv[1]))
    runs = [json.load(open(p)) for p in sys.argv[2:]]

    def tms(key, mode):
        vals = [torch[k]["ms"] for k in (f"{key}_{i}_{mode}" for i in ("naive", "sdpa")) if k in torch]
        return min(vals) if vals else None
    print(f"torch {torch.get('torch')}, threads {torch.get('threads')}\n")
    print("| case | precision | jepa ms | torch ms, same setting | speed-up | torch ms, f32 (highest) | speed-up vs f32 torch | torch ms, bf16 autocast | speed-up vs autocast |")
    print("|---|---|---|---|---|---|---|---|---|")
    for recs in runs:
        for r in recs:
            if r["name"] not in CASES:
                continue
            key, level, ms = CASES[r["name"]], r.get("matmul_precision", "highest"), r["median_ms"]
            same, f32, ac = tms(key, level), tms(key, "highest"), tms(key, "autocast_bf16")
            cell = lambda t: (f"{t:.1f}", f"{t / ms:.2f}x") if t else ("–", "–")
            print(f"| {r['name']} | {level} | {ms:.1f} | " + " | ".join(" | ".join(cell(t)) for t in (same, f32, ac)) + " |")


if __name__ == "__main__":
    main()
