"""PyTorch's reduced-precision counterparts of `jepa bench --matmul-precision high|medium`.

Times the ViT-Tiny/4 forward (batch 64, inference) and the I-JEPA training step (batch 64) of
../shared/perf/bench_torch.py, reusing its model, step and timing loop, under:
  - torch.set_float32_matmul_precision("highest" | "high" | "medium")  (the same switch jepa mirrors)
  - torch.autocast("cpu", dtype=torch.bfloat16)                           (mixed precision)

    python3 scripts/bench_torch_reduced.py --threads 2 --out torch_reduced.json
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PERF = os.path.join(HERE, "..", "..", "shared", "perf")
sys.path.insert(0, PERF)

import bench_torch as B  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import torch
    import ref_ijepa as R

    torch.set_num_threads(args.threads)
    res = {"torch": torch.__version__, "threads": args.threads}
    enc = R.VisionTransformer(img_size=32, patch_size=4, embed_dim=192, depth=12, num_heads=3).eval()
    imgs = torch.randn(64, 3, 32, 32)
    modes = ["highest", "high", "medium", "autocast_bf16"]
    for mode in modes:
        torch.set_float32_matmul_precision("highest" if mode == "autocast_bf16" else mode)
        ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if mode == "autocast_bf16" else None
        for impl in ("naive", "sdpa"):
            R.ATTN_IMPL = impl

            def fwd():
                if ctx is None:
                    return enc(imgs)
                with ctx():
                    return enc(imgs)
            with torch.inference_mode():
                t, _ = B.bench(fwd, warmup=3, reps=12)
            res[f"vit_tiny_fwd_b64_{impl}_{mode}"] = {"ms": t * 1e3, "img_per_s": 64 / t}
            print(f"forward {impl:5} {mode:13} {t * 1e3:8.1f} ms", file=sys.stderr)
        step = R.train_step
        if ctx is not None:
            def step_ac(*a, **k):
                with ctx():
                    return step(*a, **k)
            R.train_step = step_ac
        for impl in ("naive", "sdpa"):
            r = B.run_step(args.threads, impl=impl)
            res[f"ijepa_step_b64_{impl}_{mode}"] = {"ms": r["step_ms_median"], "img_per_s": r["img_per_s"],
                                                    "peak_rss_vmhwm_MiB": r["peak_rss_vmhwm_MiB"]}
            print(f"step    {impl:5} {mode:13} {r['step_ms_median']:8.1f} ms", file=sys.stderr)
        R.train_step = step
    torch.set_float32_matmul_precision("highest")
    text = json.dumps(res, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
