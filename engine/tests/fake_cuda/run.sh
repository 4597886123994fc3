#!/usr/bin/env bash
# Runs the CUDA half of the engine's one-body-per-device tests (engine/tests/device_*.rs) and the
# kernels' rung-5 GPU tests on a machine WITHOUT a GPU: fake_cuda.cpp / fake_cublas.cpp stand in
# for libcuda / libcublas, kernels are compiled by the real NVRTC (scripts/cuda-env.sh) and run in
# the CPU emulator. REQUIRE_GPU=1 is set, so a probe that fails is a test failure, not a skip.
#
#   engine/tests/fake_cuda/run.sh [all|engine|kernels] [cargo test args]
#   e.g. run.sh engine -- attention     (the engine suite, tests whose name contains "attention")
#
# FAKE_CUDA_ASAN=1 builds the fake driver with AddressSanitizer and preloads its runtime into the
# test binaries (not into cargo): an emulated kernel reading or writing past a device allocation
# is then reported with file and line (fiber mode, which ASan follows; several times slower).
set -euo pipefail
cd "$(dirname "$0")/../../.."
suite=all
case "${1:-}" in all | engine | kernels) suite="$1"; shift ;; esac

mkdir -p "${CARGO_TARGET_DIR:-target}/fake-cuda"
out="$(cd "${CARGO_TARGET_DIR:-target}/fake-cuda" && pwd)"
src=engine/tests/fake_cuda
flags=(-std=c++20 -O2 -g -fPIC -shared -Wl,-Bsymbolic -Wall -Wextra -Wno-unknown-pragmas -pthread)
runner=()
if [ "${FAKE_CUDA_ASAN:-0}" = 1 ]; then
    flags+=(-fsanitize=address -fno-omit-frame-pointer)
    out="$out/asan"
    mkdir -p "$out"
    runner=(env "LD_PRELOAD=$(${CXX:-g++} -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0)
fi
deps=(kernels/emu/harness.cpp kernels/emu/emu_cuda.hpp kernels/cuda "$src/run.sh")
build() {  # build <source> <library>
    local lib="$out/$2" stale=0
    for f in "$src/$1" "${deps[@]}"; do [ "$f" -nt "$lib" ] && stale=1; done
    if [ ! -e "$lib" ] || [ "$stale" = 1 ] || [ -n "$(find kernels/cuda -newer "$lib" 2>/dev/null)" ]; then
        "${CXX:-g++}" "${flags[@]}" "$src/$1" -o "$lib.tmp"
        mv "$lib.tmp" "$lib"
    fi
}
build fake_cuda.cpp libcuda.so
build fake_cublas.cpp libcublas.so

# shellcheck disable=SC1091
source scripts/cuda-env.sh
export LD_LIBRARY_PATH="$out:$LD_LIBRARY_PATH"
export REQUIRE_GPU=1
if [ "${#runner[@]}" -gt 0 ]; then
    export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="${runner[*]}"
fi
if [ "$suite" != kernels ]; then
    cargo test -p jepa-engine --test device_ops --test device_nn --test device_tensor "$@"
fi
if [ "$suite" != engine ]; then
    cargo test -p jepa-kernels --test gpu --test gpu_strided "$@"
fi
