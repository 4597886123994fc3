#!/usr/bin/env bash
# Rung 5 of the CUDA verification ladder (cuda.md §6): real-GPU tests, for hosts that may have a
# GPU but no Rust toolchain.
#
#   scripts/gpu-check.sh build [DIR]  Build the kernels test binaries and the bench binaries in
#                                     release mode for CUDA 13 (`cuda-13` feature: the NVRTC major
#                                     must match the GPU host's), strip them and put them in DIR
#                                     (default target/gpu-check) with a copy of this script.
#   scripts/gpu-check.sh run [DIR]    On the GPU host: run every test binary in DIR with
#                                     REQUIRE_GPU=1 REQUIRE_NVRTC=1 (a missing GPU or NVRTC fails
#                                     instead of skipping). Without an NVIDIA driver it prints
#                                     `skipped: ...` and exits 0.
#   scripts/gpu-check.sh              build, then run (so on a machine without a GPU it builds and
#                                     skips cleanly).
#
# On the GPU host (driver 580+, CUDA 13), make NVRTC findable before `run`, e.g.
#   python3 -m venv v && v/bin/pip install nvidia-cuda-nvrtc   # provides nvidia/cu13/lib
#   export LD_LIBRARY_PATH=$PWD/v/lib/python3*/site-packages/nvidia/cu13/lib:$LD_LIBRARY_PATH
# and once per kernel change also run the binaries under compute-sanitizer (memcheck, racecheck,
# synccheck, initcheck), e.g. `compute-sanitizer --tool racecheck DIR/gpu-*`.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"
dir="${2:-target/gpu-check}"

build() {
    mkdir -p "$dir"
    rm -f "$dir"/*-bin 2>/dev/null || true
    local list
    list="$(mktemp)"
    # --no-default-features drops cuda-12; exactly one CUDA major is active for the kernels crate.
    cargo test -p jepa-kernels --release --no-run --no-default-features --features cuda-13 \
        --message-format=json >"$list"
    # Benches depend on jepa-kernels with default features; with cuda-12 and cuda-13 both on,
    # cudarc takes the highest version (13), which is what this host needs.
    if ! cargo bench -p jepa-benches --no-run --features jepa-kernels/cuda-13 --message-format=json >>"$list"; then
        echo "gpu-check: bench binaries did not build; continuing with the tests" >&2
    fi
    python3 - "$list" "$dir" <<'PY'
import json, shutil, sys, os
out = sys.argv[2]
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    exe = m.get("executable")
    if m.get("reason") != "compiler-artifact" or not exe:
        continue
    kind = m["target"]["kind"][0]
    if kind not in ("lib", "test", "bench"):
        continue
    if kind == "lib":
        kind = "test"  # the library's unit tests
    name = m["target"]["name"]
    dst = os.path.join(out, f"{kind}-{name}-bin")
    shutil.copy2(exe, dst)
    print(f"gpu-check: {dst}")
PY
    rm -f "$list"
    strip "$dir"/*-bin
    cp "$0" "$dir/gpu-check.sh"
    du -ch "$dir"/*-bin | tail -n 1
    echo "gpu-check: copy $dir to the GPU host and run: bash $dir/gpu-check.sh run $dir"
}

has_gpu() {
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && return 0
    ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1' && return 0
    return 1
}

run() {
    if ! has_gpu; then
        echo "skipped: gpu-check: no NVIDIA driver or GPU on this host"
        return 0
    fi
    local failed=0
    for bin in "$dir"/test-*-bin; do
        echo "gpu-check: $bin"
        REQUIRE_GPU=1 REQUIRE_NVRTC=1 "$bin" --test-threads=1 || failed=1
    done
    for bin in "$dir"/bench-*-bin; do
        [ -e "$bin" ] || continue
        echo "gpu-check: $bin (benchmarks)"
        "$bin" --bench || failed=1
    done
    return "$failed"
}

case "$mode" in
    build) build ;;
    run) run ;;
    all) build && run ;;
    *) echo "usage: $0 [build|run|all] [DIR]" >&2; exit 2 ;;
esac
