#!/usr/bin/env bash
# The test command: installs dependencies, checks formatting, builds, runs every test, then
# builds and runs them all again under AddressSanitizer + UndefinedBehaviorSanitizer, then runs
# each libFuzzer driver briefly (docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs="$(nproc)"

echo "== format check (clang-format)"
mapfile -t sources < <(git ls-files '*.cc' '*.h' 2>/dev/null || find . -name '*.cc' -o -name '*.h')
clang-format --dry-run -Werror "${sources[@]}"

echo "== build and test (Release, -Wall -Wextra -Werror)"
scripts/build.sh build -DFASTEN_BUILD_TESTS=ON
ctest --test-dir build -j"$jobs" --output-on-failure --timeout 900

echo "== build and test under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The 10,000-call tenant isolation test ran above; unoptimised ASan code runs a shorter sequence.
export FASTEN_ISOLATION_CALLS=1500
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFASTEN_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan -j"$jobs" --output-on-failure --timeout 900

echo "== fuzz each driver briefly (libFuzzer, ASan + UBSan)"
unset ASAN_OPTIONS UBSAN_OPTIONS FASTEN_ISOLATION_CALLS
scripts/fuzz.sh --jobs "$jobs" "${FASTEN_FUZZ_SECONDS:-10}"
