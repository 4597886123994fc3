#!/usr/bin/env python3
"""Issue 6 §1: the PyTorch reference's I-JEPA pretraining, run on the same split as `jepa`.

Model, masks, loss, AdamW groups, schedules and EMA come unchanged from
../shared/perf/ref_ijepa.py (the project's PyTorch re-implementation of the official code);
this file adds only what that file lacks: the official data loop (src/transforms.py and
src/train.py: RandomResizedCrop(scale 0.3-1) on PIL images, ImageNet normalisation, a
reshuffled sampler with drop_last) over the images of the CIFAR-10 archive that are NOT in a
`jepa pretrain` run's holdout.txt. It saves an official-layout checkpoint (.pth.tar with
`encoder`, `predictor`, `target_encoder`), which tools/convert_ijepa_checkpoint.py turns into
safetensors for `jepa probe`, so both implementations are scored by the same probe.

    pip install torch torchvision numpy pillow safetensors
    python experiments/ref_pretrain.py --holdout runs/parity/holdout.txt --out runs/ref/ckpt.pth.tar
"""

import argparse
import io
import json
import math
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT.parent / "shared" / "perf"))
import ref_ijepa as R  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_images(archive, holdout):
    """Decoded RGB PIL images of the archive's samples not named in `holdout`, in ImageFolder
    order (class, then path) like the Rust loader."""
    held = set(Path(holdout).read_text().split())
    samples = []
    with tarfile.open(archive) as tar:
        for m in tar:
            parts = m.name.rstrip("/").split("/")
            if not m.isfile() or len(parts) < 2 or not parts[-1].lower().endswith((".jpg", ".jpeg", ".png")):
                continue
            if m.name in held:
                continue
            img = Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB")
            img.load()
            samples.append((parts[-2], m.name, img))
    samples.sort(key=lambda s: (s[0], s[1]))
    return [s[2] for s in samples]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", default=str(ROOT.parent / "shared/datasets/cifar10-train-jpeg.tar.gz"))
    ap.add_argument("--holdout", required=True, help="holdout.txt of a `jepa pretrain` run")
    ap.add_argument("--out", required=True, help="official-layout checkpoint to write")
    ap.add_argument("--steps", type=int, default=780)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup-epochs", type=float, default=0.3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--start-lr", type=float, default=2e-4)
    ap.add_argument("--final-lr", type=float, default=1e-6)
    ap.add_argument("--wd", type=float, default=0.04)
    ap.add_argument("--final-wd", type=float, default=0.4)
    ap.add_argument("--ema", type=float, nargs=2, default=(0.996, 1.0))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    t0 = time.time()
    images = load_images(a.archive, a.holdout)
    print(f"ref: {len(images)} pretraining images decoded in {time.time() - t0:.0f} s", file=sys.stderr)
    tf = transforms.Compose([
        transforms.RandomResizedCrop(32, scale=(0.3, 1.0)),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    enc, pred = R.init_model("vit_tiny", img_size=32, patch_size=4, pred_depth=4, pred_emb_dim=96)
    tgt = R.make_target_encoder(enc)
    coll = R.MultiBlockMaskCollator(32, 4, enc_mask_scale=(0.85, 1.0), pred_mask_scale=(0.15, 0.2),
                                    aspect_ratio=(0.75, 1.5), nenc=1, npred=4, min_keep=4)
    opt = R.make_optimizer(enc, pred, lr=a.lr, weight_decay=a.wd)
    ipe = len(images) // a.batch
    warmup = int(round(a.warmup_epochs * ipe))
    order, pos, epoch = [], 0, 0
    log = open(Path(a.out).with_suffix(".jsonl"), "w")
    t0 = time.time()
    for step in range(a.steps):
        if pos + a.batch > len(order):  # drop_last, reshuffle every epoch
            g = torch.Generator().manual_seed(a.seed * 1000 + epoch)
            order, pos, epoch = torch.randperm(len(images), generator=g).tolist(), 0, epoch + 1
        idx = order[pos:pos + a.batch]
        pos += a.batch
        imgs = torch.stack([tf(images[i]) for i in idx])
        me, mp = coll.sample_masks(a.batch)
        lr = R.warmup_cosine_lr(step + 1, warmup, a.start_lr, a.lr, a.final_lr, a.steps)
        wd = R.cosine_wd(step + 1, a.wd, a.final_wd, a.steps)
        for grp in opt.param_groups:
            grp["lr"] = lr
            if not grp.get("WD_exclude", False):
                grp["weight_decay"] = wd
        m = R.ema_momentum(step, tuple(a.ema), a.steps)
        loss = R.train_step(enc, pred, tgt, opt, imgs, me, mp, m)
        if not math.isfinite(loss):
            raise SystemExit(f"ref: loss {loss} at step {step + 1}")
        if (step + 1) % 10 == 0 or step == 0:
            rec = dict(step=step + 1, loss=loss, lr=lr, wd=wd, ema=m, elapsed=time.time() - t0)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(f"ref: step {step + 1} loss {loss:.4f} lr {lr:.2e} {time.time() - t0:.0f} s",
                  file=sys.stderr)
    ckpt = {"encoder": enc.state_dict(), "predictor": pred.state_dict(),
            "target_encoder": tgt.state_dict(), "epoch": epoch, "batch_size": a.batch, "lr": a.lr}
    torch.save(ckpt, a.out)
    print(f"ref: {a.steps} steps in {time.time() - t0:.0f} s -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
