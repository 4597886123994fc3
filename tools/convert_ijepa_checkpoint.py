#!/usr/bin/env python3
"""Convert an official I-JEPA PyTorch checkpoint to safetensors for `jepa embed` / `jepa probe`.

The official training script (facebookresearch/ijepa, src/train.py) saves a dict with the state
dicts `encoder`, `predictor` and `target_encoder` (keys carry a `module.` prefix when trained with
DistributedDataParallel) plus optimiser state and bookkeeping. This script keeps the three
networks, strips `module.`, prefixes each key with its network name (`encoder.`, `predictor.`,
`target_encoder.`: the names the Rust models use) and stores every tensor as contiguous
little-endian float32, the dtype the jepa loader expects. Metadata records the source file and
epoch. The output is written to a temporary name and renamed, so it is never half-written.

Usage:
    pip install torch safetensors numpy
    python tools/convert_ijepa_checkpoint.py IN.pth.tar OUT.safetensors [--only target_encoder]
    jepa inspect OUT.safetensors
    jepa embed --checkpoint OUT.safetensors --images photos/ --out feats.npy
"""

import argparse
import os
import sys

NETWORKS = ("encoder", "predictor", "target_encoder")


def strip_module(key):
    """`module.blocks.0...` -> `blocks.0...` (DDP wraps every parameter name)."""
    return key[len("module."):] if key.startswith("module.") else key


def convert_state(raw, only):
    """Flat {prefixed name: float32 numpy array} from the checkpoint dict."""
    import numpy as np

    wanted = [n for n in NETWORKS if only is None or n in only]
    found = [n for n in wanted if n in raw]
    if not found:
        keys = ", ".join(sorted(map(str, raw.keys()))[:10])
        raise SystemExit(f"error: none of {', '.join(wanted)} in the checkpoint (keys: {keys})")
    tensors = {}
    for net in found:
        state = raw[net]
        if not hasattr(state, "items"):
            raise SystemExit(f"error: `{net}` is not a state dict")
        for key, value in state.items():
            name = f"{net}.{strip_module(key)}"
            if name in tensors:
                raise SystemExit(f"error: duplicate tensor name {name}")
            array = value.detach().to("cpu").float().contiguous().numpy()
            tensors[name] = np.ascontiguousarray(array, dtype="<f4")
    return tensors, found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="official checkpoint (.pth.tar / .pt)")
    ap.add_argument("output", help="output .safetensors file")
    ap.add_argument(
        "--only",
        action="append",
        choices=NETWORKS,
        help="keep only this network (repeatable); default: all three",
    )
    args = ap.parse_args(argv)
    try:
        import torch
        from safetensors.numpy import save_file
    except ImportError as e:
        raise SystemExit(f"error: {e}; install with `pip install torch safetensors numpy`")

    try:
        raw = torch.load(args.input, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any load failure is reported on one line
        raise SystemExit(f"error: {args.input}: cannot load: {e}".splitlines()[0])
    if not isinstance(raw, dict):
        raise SystemExit(f"error: {args.input}: expected a dict checkpoint, got {type(raw).__name__}")
    tensors, found = convert_state(raw, args.only)
    meta = {
        "format": "ijepa-official-converted",
        "source": os.path.basename(args.input),
        "networks": ",".join(found),
    }
    if "epoch" in raw:
        meta["epoch"] = str(raw["epoch"])
    out_dir = os.path.dirname(os.path.abspath(args.output))
    tmp = os.path.join(out_dir, f".{os.path.basename(args.output)}.tmp{os.getpid()}")
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    total = sum(t.size for t in tensors.values())
    print(f"{args.output}: {len(tensors)} tensors, {total / 1e6:.1f} M parameters ({', '.join(found)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
