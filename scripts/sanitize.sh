#!/usr/bin/env bash
# Rung 3 of the CUDA verification ladder (cuda.md §6): one small C++ driver per kernel file
# (kernels/emu/sanitize/<file>.cpp: the unmodified .cu through emu_cuda.hpp, 1–2 blocks,
# exact-size heap buffers), built twice and run as plain executables:
#   - -fsanitize=thread in OS-thread mode: a missing __syncthreads shows up as a data race;
#   - -fsanitize=address,undefined -fno-sanitize-recover: out-of-bounds accesses and UB.
# Fails on any sanitizer report or emulator fault. Binaries are cached in target/sanitize and
# rebuilt only when a source is newer. -O0: compile time dominates and the runs are short.
set -euo pipefail
cd "$(dirname "$0")/.."

CXX="${CXX:-g++}"
out="target/sanitize"
mkdir -p "$out"
src_dir="kernels/emu/sanitize"
common=(-std=c++20 -O0 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unknown-pragmas -Wno-clobbered)
deps=(kernels/emu/emu_cuda.hpp "$src_dir/driver.hpp" kernels/cuda/common.cuh scripts/sanitize.sh)

build() {  # build <name> <kind>
    local name="$1" kind="$2" bin="$out/$1.$2" flags
    case "$kind" in
        tsan) flags=(-fsanitize=thread) ;;
        asan) flags=(-fsanitize=address,undefined -fno-sanitize-recover=undefined) ;;
    esac
    local stale=0
    for f in "$src_dir/$name.cpp" "kernels/cuda/$name.cu" "${deps[@]}"; do
        [ "$f" -nt "$bin" ] && stale=1
    done
    if [ ! -x "$bin" ] || [ "$stale" = 1 ]; then
        "$CXX" "${common[@]}" "${flags[@]}" "$src_dir/$name.cpp" -o "$bin.tmp" -pthread
        mv "$bin.tmp" "$bin"
    fi
}
export -f build
export CXX out src_dir
export common_str="${common[*]}"

names=()
for f in kernels/cuda/*.cu; do
    n="$(basename "$f" .cu)"
    [ -f "$src_dir/$n.cpp" ] || { echo "sanitize: no driver $src_dir/$n.cpp for $f" >&2; exit 1; }
    names+=("$n")
done

start=$(date +%s)
jobs_list=()
for n in "${names[@]}"; do jobs_list+=("$n tsan" "$n asan"); done
# Two compiles at a time (the CI machine has 2 cores).
printf '%s\n' "${jobs_list[@]}" | xargs -P "${SANITIZE_JOBS:-2}" -L 1 bash -c '
    common=($common_str); deps=(kernels/emu/emu_cuda.hpp "$src_dir/driver.hpp" kernels/cuda/common.cuh scripts/sanitize.sh)
    build "$0" "$1"' || { echo "sanitize: build failed" >&2; exit 1; }

failed=0
for n in "${names[@]}"; do
    for kind in tsan asan; do
        log="$out/$n.$kind.log"
        rc=0
        if [ "$kind" = tsan ]; then
            EMU_FIBERS=0 TSAN_OPTIONS="halt_on_error=1:exitcode=66" "$out/$n.$kind" >"$log" 2>&1 || rc=$?
        else
            EMU_FIBERS=0 ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:exitcode=67" \
                UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" "$out/$n.$kind" >"$log" 2>&1 || rc=$?
        fi
        if [ "$rc" -ne 0 ] || grep -qE "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|runtime error|ERROR: LeakSanitizer" "$log"; then
            echo "sanitize: $n ($kind) FAILED (exit $rc):" >&2
            head -n 60 "$log" >&2
            failed=1
        else
            echo "sanitize: $n ($kind) ok"
        fi
    done
done
echo "sanitize: ${#names[@]} kernel files × {tsan, asan+ubsan} in $(( $(date +%s) - start )) s"
exit "$failed"
