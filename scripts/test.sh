#!/usr/bin/env bash
# The project's test command (README, .ci/run). Installs what the CUDA verification ladder needs
# (pinned NVRTC wheels in a git-ignored venv), runs the sanitizer drivers, then the Rust tests.
# The last line printed is the test runner's own summary.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real-data tests read Fashion-MNIST from Debian's package (CIFAR-10 comes from ../shared).
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
    $sudo_ apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
        || { $sudo_ apt-get update -q >/dev/null && $sudo_ apt-get install -y -q dataset-fashion-mnist >/dev/null; }
fi

# The report test opens report.html in headless Chromium (skipped, visibly, without it).
if ! command -v chromium >/dev/null 2>&1; then
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
    $sudo_ apt-get install -y -q chromium >/dev/null 2>&1 \
        || { $sudo_ apt-get update -q >/dev/null && $sudo_ apt-get install -y -q chromium >/dev/null; } \
        || echo "scripts/test.sh: chromium could not be installed; the report's browser test will say SKIPPED"
fi

if [ -x scripts/cuda-env.sh ]; then
    # shellcheck disable=SC1091
    source scripts/cuda-env.sh
fi
if [ -x scripts/sanitize.sh ]; then
    bash scripts/sanitize.sh
fi

if cargo nextest --version >/dev/null 2>&1; then
    exec cargo nextest run --workspace --cargo-profile test --no-fail-fast "$@"
else
    exec cargo test --workspace --no-fail-fast "$@"
fi
