#!/usr/bin/env bash
# One experiment of issue 6: pretrain with experiments/configs/NAME.toml on the shared CIFAR-10
# archive (10,000 images held out, never pretrained on), then probe the target encoder on the
# held-out images. Extra arguments go to `jepa pretrain` (e.g. --seed 1 --steps 400).
#   experiments/run.sh NAME [RUN_SUFFIX] [pretrain flags...]
# Env: JEPA (binary, default target/release/jepa), RUNS (run dirs, default runs/), CONFIG (a
#      config file to use instead of experiments/configs/NAME.toml),
#      PROBE_MAX_TRAIN (probe training images, 0 = all 40,000), RANDOM_INIT=1 adds the baseline,
#      DATA (training data, default the shared CIFAR-10 archive) and TEST (data with a test split
#      to probe on instead of the 10,000 held-out images, e.g. Fashion-MNIST:
#      DATA=/usr/share/datasets/fashion-mnist TEST=\$DATA experiments/run.sh fmnist-ijepa).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=$1; shift
suffix=${1:-}; [[ $# -gt 0 ]] && shift
jepa=${JEPA:-$root/target/release/jepa}
data=${DATA:-$root/../shared/datasets/cifar10-train-jpeg.tar.gz}
runs=${RUNS:-$root/runs}
out=$runs/$name$suffix
mkdir -p "$runs"
echo "== $name$suffix: $(date -u +%FT%TZ) $(git -C "$root" rev-parse --short HEAD)" | tee -a "$runs/log.txt"
config=${CONFIG:-$root/experiments/configs/$name.toml}
"$jepa" pretrain --config "$config" --data "$data" --out "$out" \
    --threads 2 --no-progress "$@" 2> "$out.pretrain.log" || { tail -3 "$out.pretrain.log"; exit 1; }
tail -1 "$out.pretrain.log" | tee -a "$runs/log.txt"
extra=()
[[ ${RANDOM_INIT:-0} == 1 ]] && extra+=(--random-init)
if [[ -n ${TEST:-} ]]; then extra+=(--test "$TEST"); else extra+=(--holdout 10000); fi
"$jepa" probe --checkpoint "$out/checkpoint.safetensors" --train "$data" \
    --max-train "${PROBE_MAX_TRAIN:-0}" --threads 2 --no-progress --json "${extra[@]}" \
    > "$out/probe.json" 2> "$out.probe.log" || { tail -3 "$out.probe.log"; exit 1; }
cat "$out/probe.json" | tee -a "$runs/log.txt"
