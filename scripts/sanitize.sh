#!/usr/bin/env bash
# The test suite under the sanitizers, with g++:
#   build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer (-O1, asserts on), every test via ctest;
#   build-tsan/: ThreadSanitizer, the threaded tests (thread pool, update task, checkpoints, the
#                PyTorch reference run, batch statistics and weight gradients shared by threads)
#                through a test binary built from their files alone.
# Both at -g1 (line tables: file and line in every report): with full -g the ASan build of
# tests/nn/test_layers.cpp took 31-32 s against 21-24 s (its object 23 MB against 12 MB).
# Any sanitizer report fails the run (exit 1). Expects the dependencies from scripts/setup.sh.
# Usage: scripts/sanitize.sh [asan|tsan]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
((${#parts[@]})) || parts=(asan tsan)
tsan_filter='ThreadPool.*:UpdateTask*:Checkpoint*:Torch*:Batchnorm.*:Embedding.*:TrainingOptions*:Augment.*'
tsan_filter+=':FedSimulation.*'  # federated learning (issue #13)
tsan_filter+=':SpinTeam.*:PredictorThreads.*'  # one prediction on several threads (issue #14)
tsan_filter+=':Network.Threads*'  # a dense layer's weight gradient summed by the threads (issue #14)
# The files those tests are in: the TSan binary is built from them alone (the whole suite's other
# files were ~40 % of its build). Each pattern above must match a test of these files (checked below).
tsan_files='base/test_thread_pool.cpp;base/test_spin_team.cpp;train/test_update_task.cpp'
tsan_files+=';train/test_checkpoint.cpp;train/test_torch_reference.cpp;train/test_training_options.cpp'
tsan_files+=';train/test_augment.cpp;nn/test_batchnorm.cpp;nn/test_embedding.cpp;nn/test_network.cpp'
tsan_files+=';fed/test_fedavg.cpp;infer/test_predictor_threads.cpp'

# Configures and builds the test binary (and the CLI its tests run) with the given sanitizer flags,
# from the given test files (empty: all of them).
build() {
  local dir="$1" flags="$2" test_files="$3"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGETRAIN_TEST_FILES="$test_files" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="$flags" -DEDGETRAIN_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS="$flags -fno-omit-frame-pointer" \
    -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null  # the C API's test (C) and libedgetrain_c.so
  cmake --build "$dir" --target edgetrain_tests
}

# No sanitizer report may go unnoticed: stop at the first one and fail the test that hit it.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1"

# Both parts run even when the first fails, so one run reports everything.
failed=()
for part in "${parts[@]}"; do
  start=$SECONDS
  status=0
  case "$part" in
    asan)
      build build-asan "-fsanitize=address,undefined -fno-sanitize-recover=all" ""
      echo "sanitize: built build-asan in $((SECONDS - start)) s; running every test"
      ctest --test-dir build-asan --output-on-failure -j "$(nproc)" || status=$?
      ;;
    tsan)
      build build-tsan "-fsanitize=thread" "$tsan_files"
      echo "sanitize: built build-tsan in $((SECONDS - start)) s; running $tsan_filter"
      for pattern in ${tsan_filter//:/ }; do
        if ! build-tsan/edgetrain_tests --gtest_filter="$pattern" --gtest_list_tests | grep -q '^  '; then
          echo "sanitize: '$pattern' matches no test of the TSan build's files (tsan_files)" >&2
          status=1
        fi
      done
      ((status != 0)) || build-tsan/edgetrain_tests --gtest_filter="$tsan_filter" || status=$?
      ;;
    *)
      echo "usage: scripts/sanitize.sh [asan|tsan]" >&2
      exit 2
      ;;
  esac
  if ((status == 0)); then
    echo "sanitize: $part clean ($((SECONDS - start)) s)"
  else
    echo "sanitize: $part FAILED ($((SECONDS - start)) s)" >&2
    failed+=("$part")
  fi
done
((${#failed[@]} == 0)) || { echo "sanitize: failed: ${failed[*]}" >&2; exit 1; }
