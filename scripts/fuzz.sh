#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang into build-fuzz/ and runs each for a bounded time,
# seeded with the committed corpus fuzz/corpus/<target>/ (copied into build-fuzz/corpus/, so the
# checkout stays clean and local runs keep what they learnt). Prints each target's executions and
# whether it crashed; exits 1 on any crash (or hang, out-of-memory, leak), leaving the input in
# build-fuzz/crashes/ with the log beside it.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60, every target)
#        FUZZ_JOBS=N scripts/fuzz.sh ...   targets run N at a time (default: the number of cores)
# Reproduce a crash: build-fuzz/fuzz/<target> build-fuzz/crashes/<target>-crash-<hash>
# (EDGETRAIN_FUZZ_VERBOSE=1 also prints why each input is refused).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
(($# > 0)) && shift
targets=("$@")
((${#targets[@]})) || targets=(fuzz_idx fuzz_csv fuzz_mlmodel fuzz_png fuzz_npy)
jobs="${FUZZ_JOBS:-$(nproc)}"

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DEDGETRAIN_FUZZ=ON -DEDGETRAIN_BUILD_TESTS=OFF -DEDGETRAIN_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz --target "${targets[@]}"

mkdir -p build-fuzz/crashes build-fuzz/logs
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

# Runs one target; its summary line goes to build-fuzz/logs/<target>.result.
run_target() {
  local target="$1" log="build-fuzz/logs/$1.log" corpus="build-fuzz/corpus/$1"
  mkdir -p "$corpus"
  cp fuzz/corpus/"$target"/* "$corpus"/
  local status=0
  # -timeout: one input running 60 s is a hang (each target bounds an input's work to well under
  # a second, so a machine 5x slower under the sanitizers stays far from it); -rss_limit_mb:
  # using 2 GiB is a failure too. -max_total_time bounds the run; no verdict rests on its count.
  "build-fuzz/fuzz/$target" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$target-" "$corpus" >"$log" 2>&1 ||
    status=$?
  local executions coverage
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  coverage="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)"
  local result="ok"
  if ((status != 0)); then
    result="CRASH (exit $status): $(grep -o "build-fuzz/crashes/$target-[a-z-]*[0-9a-f]*" "$log" |
      tail -1 || true) — log: $log"
  fi
  printf '%-14s %12s executions  %6s edges  %s\n' "$target" "${executions:-?}" "${coverage:-?}" \
    "$result" >"build-fuzz/logs/$target.result"
  return "$status"
}

echo "fuzz: ${#targets[@]} targets, ${seconds} s each, ${jobs} at a time"
failed=0
running=0
for target in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_target "$target" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done

for target in "${targets[@]}"; do cat "build-fuzz/logs/$target.result"; done
if ((failed)); then
  echo "fuzz: FAILED; the inputs are in build-fuzz/crashes/, the stacks in build-fuzz/logs/" >&2
  for target in "${targets[@]}"; do
    grep -q CRASH "build-fuzz/logs/$target.result" || continue
    echo "---- $target" >&2
    grep -E -A30 '==ERROR|runtime error|fuzz check failed|fuzz_mlmodel:|deadly signal|Timeout|out-of-memory|terminate called' \
      "build-fuzz/logs/$target.log" | head -60 >&2
  done
  exit 1
fi
echo "fuzz: no crashes"
