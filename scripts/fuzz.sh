#!/usr/bin/env bash
# Builds the libFuzzer drivers (build-fuzz/, clang, ASan + UBSan) and runs each for SECONDS.
#
#   scripts/fuzz.sh [--merge] [--build-only] [--jobs N] [SECONDS] [DRIVER...]
#
# SECONDS defaults to 60; DRIVER names (json_text, dispatcher, ...) default to every driver built.
# --jobs N runs N drivers at a time (default 1; each driver is one process on one core).
# Each driver starts from its committed seed corpus (tests/fuzz/corpus/<driver>/) and its past
# crash inputs (tests/fuzz/crashes/<driver>/); new interesting inputs go to a scratch directory
# (build-fuzz/fuzz-out/<driver>/new/), not to the committed corpus, unless --merge is given: then
# the ones that add coverage are merged into tests/fuzz/corpus/<driver>/ afterwards. A crash stops
# that driver; its input stays in build-fuzz/fuzz-out/<driver>/artifacts/ (commit it under
# tests/fuzz/crashes/<driver>/ with the fix and a regression test). Prints one line per driver:
# seconds, executions, executions per second, corpus size, crashes. Exits 1 when any driver
# crashed. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

merge=0
build_only=0
jobs=1
seconds=60
drivers=()
while [ $# -gt 0 ]; do
  case "$1" in
    --merge) merge=1 ;;
    --build-only) build_only=1 ;;
    --jobs) jobs="$2"; shift ;;
    ''|*[!0-9]*) drivers+=("$1") ;;
    *) seconds="$1" ;;
  esac
  shift
done

build=build-fuzz
echo "== fuzz build ($build: clang, libFuzzer, ASan + UBSan)"
start=$(date +%s)
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DFASTEN_FUZZ=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -gline-tables-only" >/dev/null
cmake --build "$build" -j"$(nproc)" --target fasten_fuzzers
echo "fuzz build: $(( $(date +%s) - start )) s"
[ "$build_only" -eq 1 ] && exit 0
if [ ${#drivers[@]} -eq 0 ]; then  # every driver built, in tests/fuzz/CMakeLists.txt's order
  mapfile -t drivers < <(sed -n 's/^ *fasten_fuzz_driver(\([a-z_]*\) .*/\1/p' tests/fuzz/CMakeLists.txt |
                         while read -r d; do [ -x "$build/tests/fuzz/fuzz_$d" ] && echo "$d"; done)
fi
for d in "${drivers[@]}"; do
  if [ ! -x "$build/tests/fuzz/fuzz_$d" ]; then
    echo "fuzz: no driver $d ($build/tests/fuzz/fuzz_$d)" >&2
    exit 2
  fi
done

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
corpus_root=tests/fuzz/corpus

# Runs driver $1; leaves its summary line in $out/summary and its exit status in $out/status.
run_driver() {
  local d="$1" out="$build/fuzz-out/$1"
  rm -rf "$out"
  mkdir -p "$out/new" "$out/artifacts"
  local dirs=("$out/new" "$corpus_root/$d")
  [ -d "tests/fuzz/crashes/$d" ] && dirs+=("tests/fuzz/crashes/$d")
  # 8 KiB inputs, except the pack verifier's: its seeds are whole packs (tar members in 512-byte
  # blocks), and one that verifies holds six members and a manifest, so it needs tens of KiB.
  local max_len=8192
  [ "$d" = pack ] && max_len=65536
  local args=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len="$max_len"
              -print_final_stats=1 -artifact_prefix="$out/artifacts/")
  [ -f "tests/fuzz/dict/$d.dict" ] && args+=(-dict="tests/fuzz/dict/$d.dict")
  local t0 status=0
  t0=$(date +%s)
  "$build/tests/fuzz/fuzz_$d" "${args[@]}" "${dirs[@]}" >"$out/log" 2>&1 || status=$?
  local elapsed execs rate corpus crashes
  elapsed=$(( $(date +%s) - t0 ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log" | tail -1)
  corpus=$(grep -a -o 'corp: [0-9]*' "$out/log" | tail -1 | sed 's/corp: //' || true)
  crashes=$(find "$out/artifacts" -type f | wc -l)
  printf '%-14s %8s %12s %10s %8s %8s\n' "$d" "$elapsed" "${execs:-?}" "${rate:-?}" \
    "${corpus:-?}" "$crashes" >"$out/summary"
  [ "$crashes" -ne 0 ] && [ "$status" -eq 0 ] && status=1
  echo "$status" >"$out/status"
}

running=0
for d in "${drivers[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_driver "$d" &
  running=$((running + 1))
done
wait || true

failed=()
printf '%-14s %8s %12s %10s %8s %8s\n' driver seconds execs exec/s corpus crashes
for d in "${drivers[@]}"; do
  out="$build/fuzz-out/$d"
  cat "$out/summary"
  if [ "$(cat "$out/status")" -ne 0 ]; then
    failed+=("$d")
    echo "fuzz: $d failed; log $out/log; inputs in $out/artifacts/" >&2
    grep -a -m1 -A12 -E 'ERROR: |FUZZ_CHECK failed|runtime error' "$out/log" >&2 ||
      tail -20 "$out/log" >&2
  elif [ "$merge" -eq 1 ]; then
    "$build/tests/fuzz/fuzz_$d" -merge=1 -max_len=8192 "$corpus_root/$d" "$out/new" \
      >"$out/merge.log" 2>&1
    echo "fuzz: merged into $corpus_root/$d ($(find "$corpus_root/$d" -type f | wc -l) files)"
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
