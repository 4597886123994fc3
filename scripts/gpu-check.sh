#!/usr/bin/env bash
# Rung 5 of the CUDA verification ladder (cuda.md §6): real-GPU tests, for hosts that may have a
# GPU but no Rust toolchain.
#
#   scripts/gpu-check.sh build [DIR]  Build in release mode for CUDA 13 (`cuda-13` feature: the
#                                     NVRTC major must match the GPU host's) the kernels test
#                                     binaries, the engine's device tests (engine/tests/device_*.rs,
#                                     once engine/Cargo.toml has a cuda-13 feature) and the CUDA
#                                     bench binary (benches/cuda_kernels), strip them
#                                     and put them in DIR (default target/gpu-check) with a copy of
#                                     this script.
#   scripts/gpu-check.sh run [DIR]    On the GPU host: run every test binary in DIR with
#                                     REQUIRE_GPU=1 REQUIRE_NVRTC=1 (a missing GPU or NVRTC fails
#                                     instead of skipping), then the bench binaries with short
#                                     criterion settings ($GPU_BENCH_ARGS, default
#                                     `--warm-up-time 1 --measurement-time 2`). Logs and criterion's
#                                     reports go to $OUT when set, else DIR/results. Without an
#                                     NVIDIA driver it prints `skipped: ...` and exits 0.
#   scripts/gpu-check.sh              build, then run (so on a machine without a GPU it builds and
#                                     skips cleanly).
#
# On the GPU host (driver 580+, CUDA 13), make NVRTC findable before `run`, e.g.
#   python3 -m venv v && v/bin/pip install nvidia-cuda-nvrtc   # provides nvidia/cu13/lib
#   export LD_LIBRARY_PATH=$PWD/v/lib/python3*/site-packages/nvidia/cu13/lib:$LD_LIBRARY_PATH
# (the benches' and engine tests' cuBLAS cases also need libcublas, e.g. `pip install
# nvidia-cublas`, on the same path) and once per kernel change also run the binaries under
# compute-sanitizer (memcheck, racecheck, synccheck, initcheck), e.g.
# `compute-sanitizer --tool racecheck DIR/test-gpu-bin`.
set -euo pipefail
mode="${1:-all}"
# A DIR given on the command line is relative to the caller's directory (the copied script is
# run as `bash DIR/gpu-check.sh run DIR`, and the cd below would otherwise move under it); the
# default is relative to the repository.
dir="${2:-}"
[ -n "$dir" ] && [ "${dir#/}" = "$dir" ] && dir="$PWD/$dir"
cd "$(dirname "$0")/.."
dir="${dir:-target/gpu-check}"

build() {
    mkdir -p "$dir"
    rm -f "$dir"/*-bin 2>/dev/null || true
    local list
    list="$(mktemp)"
    # --no-default-features drops cuda-12; exactly one CUDA major is active for the kernels crate.
    cargo test -p jepa-kernels --release --no-run --no-default-features --features cuda-13 \
        --message-format=json >"$list"
    # cudarc 0.19.10 does not compile with two CUDA majors on, so every crate built here must be
    # able to drop jepa-kernels' default cuda-12: the benches have cuda-12/cuda-13 features; the
    # engine's device tests are built only once the engine has them too.
    if grep -q '^cuda-13 *=' engine/Cargo.toml; then
        local device_tests=()
        for t in engine/tests/device_*.rs; do
            device_tests+=(--test "$(basename "$t" .rs)")
        done
        if ! cargo test -p jepa-engine --release --no-run --no-default-features --features cuda-13 \
            "${device_tests[@]}" --message-format=json >>"$list"; then
            echo "gpu-check: engine device tests did not build; continuing" >&2
        fi
    else
        echo "gpu-check: engine/Cargo.toml has no cuda-13 feature (its jepa-kernels dependency" \
            "keeps cuda-12 on, and cudarc cannot compile with both): engine device tests not built" >&2
    fi
    # Only the CUDA benches: the CPU benches mean nothing on the GPU host.
    if ! cargo bench -p jepa-benches --no-run --bench cuda_kernels --no-default-features \
        --features cuda-13 --message-format=json >>"$list"; then
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
    local res="${OUT:-$dir/results}" failed=0 bin log
    mkdir -p "$res"
    for bin in "$dir"/test-*-bin; do
        log="$res/$(basename "$bin" -bin).log"
        echo "gpu-check: $bin (log: $log)"
        REQUIRE_GPU=1 REQUIRE_NVRTC=1 "$bin" --test-threads=1 2>&1 | tee "$log" || failed=1
    done
    # Word splitting is intended: GPU_BENCH_ARGS is a list of criterion flags.
    # shellcheck disable=SC2206
    local bench_args=(${GPU_BENCH_ARGS:---warm-up-time 1 --measurement-time 2})
    for bin in "$dir"/bench-*-bin; do
        [ -e "$bin" ] || continue
        log="$res/$(basename "$bin" -bin).log"
        echo "gpu-check: $bin (benchmarks, log: $log)"
        REQUIRE_GPU=1 CRITERION_HOME="$res/criterion" "$bin" --bench "${bench_args[@]}" 2>&1 |
            tee "$log" || failed=1
    done
    return "$failed"
}

case "$mode" in
    build) build ;;
    run) run ;;
    all) build && run ;;
    *) echo "usage: $0 [build|run|all] [DIR]" >&2; exit 2 ;;
esac
