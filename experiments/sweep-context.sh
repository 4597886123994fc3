#!/usr/bin/env bash
# The EC-IJEPA vs I-JEPA context-scale sweep of methods.md §3.5: for each context-block scale
# range, pretrain experiments/configs/sweep-{ijepa,ecijepa}.toml with mask.enc_scale set to it,
# then probe (experiments/run.sh does both). Generated configs go to $RUNS/configs/.
#   experiments/sweep-context.sh [METHOD...]      (default: ijepa ecijepa)
# Env as experiments/run.sh (JEPA, RUNS, PROBE_MAX_TRAIN; default 10000 here), and SCALES
# (the ranges to run, default "0.85-1.0 0.6-0.8 0.4-0.6 0.2-0.4").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-$root/runs}
mkdir -p "$runs/configs"
methods=("$@"); [[ ${#methods[@]} -gt 0 ]] || methods=(ijepa ecijepa)
for scale in ${SCALES:-0.85-1.0 0.6-0.8 0.4-0.6 0.2-0.4}; do
    lo=${scale%-*} hi=${scale#*-}
    for m in "${methods[@]}"; do
        name=sweep-$m-ctx$lo-$hi
        sed "s/^\[mask\]$/[mask]\nenc_scale = [$lo, $hi]/" "$root/experiments/configs/sweep-$m.toml" \
            > "$runs/configs/$name.toml"
        CONFIG=$runs/configs/$name.toml PROBE_MAX_TRAIN=${PROBE_MAX_TRAIN:-10000} \
            "$root/experiments/run.sh" "$name"
    done
done
