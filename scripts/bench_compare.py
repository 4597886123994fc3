#!/usr/bin/env python3
"""Side-by-side table of `jepa bench --json` and ../shared/perf/bench_torch.py results.

    python3 scripts/bench_compare.py JEPA.json TORCH.json  > table.md
    python3 scripts/bench_compare.py J1.json T1.json J2.json T2.json ...  # interleaved rounds

With several rounds (each a jepa run followed by a torch run), the table gives the median time
of each side over the rounds and every round's own speed-up, so the spread is visible.

Ratios are torch time / jepa time (> 1 means jepa is faster). For attention, the ViT forward and
the I-JEPA step, torch's better implementation (SDPA or naive) is the reference.
"""
import json
import sys


def torch_ms(t, name):
    """Torch's median time in ms for the jepa record `name` (None if torch has no such case)."""
    def best(keys):
        vals = [t[k]["ms"] for k in keys if k in t]
        return min(vals) if vals else None
    if name.startswith("gemm_"):
        n = name.split("_")[1]
        return t.get(f"sgemm_{n}", {}).get("ms")
    if name.startswith("attention_"):
        # attention_fwd_b64_h3_n64_d64 / attention_fwd_bwd_b16_h12_n196_d64
        parts = name.split("_")
        kind = "fwdbwd" if parts[2] == "bwd" else "fwd"
        dims = parts[-4:]
        shape = "_".join(p.upper()[0] + p[1:] for p in dims)
        return best([f"attn_{impl}_{shape}_{kind}" for impl in ("sdpa", "naive")])
    if name == "layernorm_fwd_4096x192":
        v = t.get("layernorm_4096x192_fwd", {}).get("us")
        return v / 1e3 if v else None
    if name == "layernorm_fwd_bwd_4096x192":
        v = t.get("layernorm_4096x192_fwdbwd", {}).get("us")
        return v / 1e3 if v else None
    if name == "vit_tiny_forward_b64":
        return best(["vit_tiny_fwd_b64_naive", "vit_tiny_fwd_b64_sdpa"])
    if name == "ijepa_step_vit_tiny_b64":
        vals = [t[k]["step_ms_median"] for k in ("ijepa_step_naive", "ijepa_step_sdpa") if k in t]
        return min(vals) if vals else None
    return None


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def rounds(paths):
    pairs = [(json.load(open(j)), json.load(open(t))) for j, t in zip(paths[::2], paths[1::2])]
    torch0 = pairs[0][1]
    print(f"torch {torch0.get('torch')} ({torch0.get('cpu_capability')}), threads {torch0.get('threads')}, "
          f"{len(pairs)} interleaved rounds\n")
    print("| case | jepa ms (median) | torch ms (median) | speed-up per round | speed-up of medians |")
    print("|---|---|---|---|---|")
    for r0 in pairs[0][0]:
        name = r0["name"]
        js = [r["median_ms"] for jp, _ in pairs for r in jp if r["name"] == name]
        ts = [torch_ms(tp, name) for _, tp in pairs]
        if name == "fma_peak":
            gf = [r["gflops"] for jp, _ in pairs for r in jp if r["name"] == name]
            print(f"| fma_peak (GFLOP/s) | {' / '.join(f'{g:.0f}' for g in gf)} | – | – | – |")
            continue
        if None in ts:
            print(f"| {name} | {median(js):.3f} | – | – | – |")
            continue
        per = " / ".join(f"{t / j:.2f}x" for j, t in zip(js, ts))
        print(f"| {name} | {median(js):.3f} | {median(ts):.3f} | {per} | {median(ts) / median(js):.2f}x |")


def main():
    if len(sys.argv) > 3:
        return rounds(sys.argv[1:])
    jepa = json.load(open(sys.argv[1]))
    torch = json.load(open(sys.argv[2]))
    print(f"torch {torch.get('torch')} ({torch.get('cpu_capability')}), threads {torch.get('threads')}\n")
    print("| case | jepa ms | torch ms | speed-up vs torch | jepa GFLOP/s | jepa GB/s | jepa img/s |")
    print("|---|---|---|---|---|---|---|")
    for r in jepa:
        name, ms = r["name"], r["median_ms"]
        tm = torch_ms(torch, name)
        ratio = f"{tm / ms:.2f}x" if tm else "–"
        tms = f"{tm:.3f}" if tm else "–"
        fmt = lambda k: f"{r[k]:.1f}" if r.get(k) is not None else "–"
        print(f"| {name} | {ms:.3f} | {tms} | {ratio} | {fmt('gflops')} | {fmt('gbps')} | {fmt('images_per_s')} |")
    steps = [torch[k] for k in ("ijepa_step_naive", "ijepa_step_sdpa") if k in torch]
    if steps:
        print(f"\ntorch I-JEPA step peak RSS (VmHWM): "
              + ", ".join(f"{s['attn_impl']} {s['peak_rss_vmhwm_MiB']:.0f} MiB" for s in steps))


if __name__ == "__main__":
    main()
