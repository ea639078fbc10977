#!/usr/bin/env bash
# Configures and builds fasten-mcp: one Release build that the demo, the tests and the benchmarks
# all use (so the binary the README builds is the one bench/ measures).
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
#   BUILD_TARGETS="fasten-mcp ..."  builds only those targets (default: everything configured)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
