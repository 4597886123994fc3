#!/usr/bin/env python3
"""The PyTorch half of the replay experiment of RESULTS.md §1: trains the reference
(../shared/perf/ref_ijepa.py, float32, official init drawn with `torch.manual_seed(SEED)`) on the
batches `parity_replay dump` wrote, with the parity run's schedules, and prints the loss every 10
steps. `--save-init DIR` also writes that init as step_encoder / step_predictor safetensors, so
`parity_replay replay FILE STEPS --init DIR/step_encoder.safetensors DIR/step_predictor.safetensors`
trains jepa from the very same weights.

    cargo run --release -p jepa-models --example parity_replay -- dump /tmp/batches.bin 250
    python experiments/ref_replay.py /tmp/batches.bin 250 --seed 0 --save-init /tmp/init
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "shared" / "perf"))
import ref_ijepa as R  # noqa: E402

B, TOTAL, WARMUP = 128, 780, 94


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("batches")
    ap.add_argument("steps", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-init")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    enc, pred = R.init_model("vit_tiny", img_size=32, patch_size=4, pred_depth=4, pred_emb_dim=96)
    if a.save_init:
        out = Path(a.save_init)
        out.mkdir(parents=True, exist_ok=True)
        meta = {"heads": "3", "pred_heads": "3", "dim": "192", "img": "32"}
        for name, mod in (("step_encoder", enc), ("step_predictor", pred)):
            save_file({k: v.detach().contiguous() for k, v in mod.state_dict().items()},
                      out / f"{name}.safetensors", meta)
    tgt = R.make_target_encoder(enc)
    opt = R.make_optimizer(enc, pred)
    with open(a.batches, "rb") as f:
        for step in range(a.steps):
            imgs = torch.from_numpy(np.frombuffer(f.read(B * 3 * 32 * 32 * 4), dtype=np.float32).copy())
            n = int(np.frombuffer(f.read(4), dtype=np.uint32)[0])
            rec = np.frombuffer(f.read(4 * n), dtype=np.uint32).astype(np.int64)
            kc, kt = int(rec[0]), int(rec[1])
            me = [torch.from_numpy(rec[2:2 + B * kc].reshape(B, kc))]
            off = 2 + B * kc
            mp = [torch.from_numpy(rec[off + j * B * kt:off + (j + 1) * B * kt].reshape(B, kt)) for j in range(4)]
            lr = R.warmup_cosine_lr(step + 1, WARMUP, 2e-4, 1e-3, 1e-6, TOTAL)
            wd = R.cosine_wd(step + 1, 0.04, 0.4, TOTAL)
            for g in opt.param_groups:
                g["lr"] = lr
                if not g.get("WD_exclude", False):
                    g["weight_decay"] = wd
            loss = R.train_step(enc, pred, tgt, opt, imgs.reshape(B, 3, 32, 32), me, mp,
                                R.ema_momentum(step, (0.996, 1.0), TOTAL))
            if (step + 1) % 10 == 0:
                print(step + 1, round(loss, 4), flush=True)


if __name__ == "__main__":
    main()
