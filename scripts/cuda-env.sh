#!/usr/bin/env bash
# CUDA verification-ladder environment (cuda.md §5). SOURCE it (scripts/test.sh does):
#   - creates the git-ignored .venv-cuda with the pinned NVIDIA wheels if it is missing
#     (NVRTC for rung 1, runtime/nvcc/cccl headers for host compilers), then
#   - exports CUDA_SP, LD_LIBRARY_PATH (the NVRTC lib dir, so cudarc's dlopen finds
#     libnvrtc.so.12 and its builtins library beside it), NVRTC_LIB_DIR, REQUIRE_NVRTC=1 and the
#     include directories CUDA_RUNTIME_INCLUDE, CUDA_NVCC_INCLUDE, CUDA_CCCL_INCLUDE.
# Idempotent: when the venv already holds the pinned versions it only exports (well under 1 s).
# Set CUDA_ENV_SKIP_INSTALL=1 to only export what is already there.

_cuda_env_main() {
    local root venv py sp stamp pins
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$root/.venv-cuda"
    pins="nvidia-cuda-nvrtc-cu12==12.9.86 nvidia-cuda-runtime-cu12==12.9.79 nvidia-cuda-nvcc-cu12==12.9.86 nvidia-cuda-cccl-cu12==12.9.27"
    stamp="$venv/.jepa-pins"

    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$pins" ]; then
        if [ "${CUDA_ENV_SKIP_INSTALL:-0}" = 1 ]; then
            echo "cuda-env: .venv-cuda missing or stale and CUDA_ENV_SKIP_INSTALL=1" >&2
            return 1
        fi
        echo "cuda-env: installing pinned NVIDIA wheels into .venv-cuda" >&2
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || return 1
        # shellcheck disable=SC2086
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins || return 1
        echo "$pins" > "$stamp"
    fi

    py="$(ls -d "$venv"/lib/python3*/site-packages 2>/dev/null | head -n 1)"
    sp="$py/nvidia"
    if [ ! -e "$sp/cuda_nvrtc/lib/libnvrtc.so.12" ]; then
        echo "cuda-env: $sp/cuda_nvrtc/lib/libnvrtc.so.12 missing" >&2
        return 1
    fi
    export CUDA_SP="$sp"
    export NVRTC_LIB_DIR="$sp/cuda_nvrtc/lib"
    case ":${LD_LIBRARY_PATH:-}:" in
        *":$NVRTC_LIB_DIR:"*) ;;
        *) export LD_LIBRARY_PATH="$NVRTC_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
    esac
    export REQUIRE_NVRTC=1
    export CUDA_RUNTIME_INCLUDE="$sp/cuda_runtime/include"
    export CUDA_NVCC_INCLUDE="$sp/cuda_nvcc/include"
    export CUDA_CCCL_INCLUDE="$sp/cuda_cccl/include"
}

_cuda_env_main
_cuda_env_rc=$?
unset -f _cuda_env_main
if [ "$_cuda_env_rc" -ne 0 ]; then
    echo "cuda-env: setup failed" >&2
    # `return` when sourced, `exit` when run directly.
    return "$_cuda_env_rc" 2>/dev/null || exit "$_cuda_env_rc"
fi
unset _cuda_env_rc
