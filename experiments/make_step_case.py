#!/usr/bin/env python3
"""Golden step cases at a real model size, for the parity hunt of issue 6 §1.

The shared golden cases check one training step at dim 64 / depth 2; this writes the same five
files (step_encoder, step_predictor, step_case, step_grads, step_after; same keys and metadata
as ../shared/golden/README.md) for ViT-Tiny/4 at 32 px with the 96/4/3 predictor, real CIFAR-10
images from the archive and parity masks, computed in float64 by ../shared/perf/ref_ijepa.py.
Weights come from an official-layout checkpoint (`--checkpoint`, e.g. one written by
ref_pretrain.py; its target encoder is both encoders, as in the shared cases) or a fresh
official init. Point the golden tests at the result:

    python experiments/make_step_case.py --out /tmp/golden-tiny [--checkpoint ref.pth.tar]
    for f in ../shared/golden/*; do ln -sf "$PWD/$f" /tmp/golden-tiny/ 2>/dev/null; done
    JEPA_GOLDEN_DIR=/tmp/golden-tiny cargo test -p jepa-models --test golden_step
"""

import argparse
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torchvision import transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT.parent / "shared" / "perf"))
import ref_ijepa as R  # noqa: E402

LR, WD, EMA, BETAS, EPS = 1e-3, 0.04, 0.996, (0.9, 0.999), 1e-8


def images(archive, n, seed):
    tf = transforms.Compose([transforms.RandomResizedCrop(32, scale=(0.3, 1.0)), transforms.ToTensor(),
                             transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    out = []
    with tarfile.open(archive) as tar:
        for m in tar:
            if m.isfile() and m.name.endswith(".jpg") and len(out) < n * 50:
                out.append(Image.open(io.BytesIO(tar.extractfile(m).read())).convert("RGB"))
    g = np.random.default_rng(seed)
    return torch.stack([tf(out[i]) for i in g.choice(len(out), n, replace=False)])


def f32(d):
    return {k: v.detach().to(torch.float32).contiguous() for k, v in d.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--checkpoint")
    ap.add_argument("--archive", default=str(ROOT.parent / "shared/datasets/cifar10-train-jpeg.tar.gz"))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trajectory", type=int, default=0, metavar="K",
                    help="write trajectory.safetensors instead: K training steps from the init")
    ap.add_argument("--small", action="store_true", help="dim 64 / depth 2 / heads 4, predictor 32/2/4")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = dict(dim=64, depth=2, heads=4, pred_dim=32, pred_depth=2, pred_heads=4) if a.small else \
        dict(dim=192, depth=12, heads=3, pred_dim=96, pred_depth=4, pred_heads=3)
    enc, pred = R.init_model("vit_tiny", img_size=32, patch_size=4, pred_depth=sizes["pred_depth"],
                             pred_emb_dim=sizes["pred_dim"], embed_dim=sizes["dim"], depth=sizes["depth"],
                             num_heads=sizes["heads"])
    if a.checkpoint:
        ck = torch.load(a.checkpoint, map_location="cpu")
        enc.load_state_dict(ck["target_encoder"])
        pred.load_state_dict(ck["predictor"])
    enc, pred = enc.double(), pred.double()
    tgt = R.make_target_encoder(enc)
    coll = R.MultiBlockMaskCollator(32, 4, enc_mask_scale=(0.85, 1.0), pred_mask_scale=(0.15, 0.2),
                                    aspect_ratio=(0.75, 1.5), nenc=1, npred=4, min_keep=4)
    coll._counter = a.seed
    meta = {"B": a.batch, **sizes, "img": 32, "patch": 4, "ln_eps": 1e-6,
            "loss": "smooth_l1 beta=1 mean", "nenc": 1, "npred": 4,
            "target_ln_eps": 1e-5, "cond": False, "vicreg": False,
            "vicreg_pool": "mean", "var_coeff": 1.0, "cov_coeff": 0.04, "variant": "I-JEPA",
            "collator": json.dumps(dict(input_size=32, patch_size=4, enc_mask_scale=[0.85, 1.0],
                                        pred_mask_scale=[0.15, 0.2], aspect_ratio=[0.75, 1.5],
                                        nenc=1, npred=4, min_keep=4, allow_overlap=False))}
    meta = {k: str(v) for k, v in meta.items()}
    if a.trajectory:
        return trajectory(a, enc, pred, tgt, coll, meta, out)
    imgs = images(a.archive, a.batch, a.seed).double()
    me, mp = coll.sample_masks(a.batch)
    save_file(f32(enc.state_dict()), out / "step_encoder.safetensors", meta)
    save_file(f32(pred.state_dict()), out / "step_predictor.safetensors", meta)
    loss, parts = R.jepa_loss(enc, pred, tgt, imgs, me, mp, return_parts=True)
    case = {"imgs": imgs, "loss": loss.reshape(1), "smooth_l1": parts["smooth_l1"].reshape(1),
            "target_h": parts["h"], "z_ctx": parts["z_ctx"], "z_pred": parts["z"]}
    case = f32(case)
    case.update({f"masks_enc.{i}": m.contiguous() for i, m in enumerate(me)})
    case.update({f"masks_pred.{i}": m.contiguous() for i, m in enumerate(mp)})
    save_file(case, out / "step_case.safetensors", meta)
    loss.backward()
    grads = {f"{n}.{k}": p.grad for n, mod in (("encoder", enc), ("predictor", pred))
             for k, p in mod.named_parameters() if p.grad is not None}
    save_file(f32(grads), out / "step_grads.safetensors", meta)
    opt = R.make_optimizer(enc, pred, lr=LR, weight_decay=WD, betas=BETAS, eps=EPS)
    opt.step()
    R.ema_update(enc, tgt, EMA)
    after = {f"{n}.{k}": v for n, mod in (("encoder", enc), ("predictor", pred), ("target_encoder", tgt))
             for k, v in mod.state_dict().items()}
    meta.update(lr=str(LR), weight_decay=str(WD), ema=str(EMA), betas=str(BETAS), adam_eps=str(EPS))
    save_file(f32(after), out / "step_after.safetensors", meta)
    print(f"step case B={a.batch}, K_c={me[0].shape[1]}, K_t={mp[0].shape[1]}, loss {float(loss):.6f} -> {out}")


def trajectory(a, enc, pred, tgt, coll, meta, out):
    """K official steps at a warm-up-then-cosine lr, an increasing wd and an increasing EMA
    momentum, so the step counter, the moments' bias correction and every schedule are
    exercised: the initial weights, every batch, every loss and the final weights."""
    k = a.trajectory
    opt = R.make_optimizer(enc, pred, lr=LR, weight_decay=WD, betas=BETAS, eps=EPS)
    imgs = images(a.archive, a.batch * k, a.seed).double()
    case = {f"init.encoder.{n}": v for n, v in enc.state_dict().items()}
    case.update({f"init.predictor.{n}": v for n, v in pred.state_dict().items()})
    case = f32(case)
    hyper, losses = [], []
    for s in range(k):
        lr = R.warmup_cosine_lr(s + 1, k // 3, 2e-4, LR, 1e-6, k)
        wd = R.cosine_wd(s + 1, WD, 0.4, k)
        m = R.ema_momentum(s, (EMA, 1.0), k)
        for grp in opt.param_groups:
            grp["lr"] = lr
            if not grp.get("WD_exclude", False):
                grp["weight_decay"] = wd
        x = imgs[s * a.batch:(s + 1) * a.batch]
        me, mp = coll.sample_masks(a.batch)
        case[f"imgs.{s}"] = x.float().contiguous()
        case.update({f"masks_enc.{i}.{s}": t.contiguous() for i, t in enumerate(me)})
        case.update({f"masks_pred.{i}.{s}": t.contiguous() for i, t in enumerate(mp)})
        losses.append(R.train_step(enc, pred, tgt, opt, x, me, mp, m))
        hyper.append([lr, wd, m])
    case["losses"] = torch.tensor(losses, dtype=torch.float32)
    case["hyper"] = torch.tensor(hyper, dtype=torch.float32)
    for n, mod in (("encoder", enc), ("predictor", pred), ("target_encoder", tgt)):
        case.update({f"after.{n}.{key}": v.detach().float().contiguous() for key, v in mod.state_dict().items()})
    save_file(case, out / "trajectory.safetensors", {**meta, "steps": str(k)})
    print(f"trajectory of {k} steps, B={a.batch}, losses {losses[0]:.6f} -> {losses[-1]:.6f} -> {out}")


if __name__ == "__main__":
    main()
