#!/usr/bin/env bash
# The whole test suite: installs dependencies, then builds and runs ctest three
# times — plain (gcc, Debug invariants), ASan+UBSan (clang), TSan (clang).
# The plain run also builds the API reference (ctest's api_reference: fails on
# any undocumented public item).
#   bash scripts/test.sh            all three
#   bash scripts/test.sh plain      one configuration (plain | asan | tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
JOBS=$(nproc)
configs=("${@:-plain asan tsan}")
# shellcheck disable=SC2206
configs=(${configs[*]})
status=0
for cfg in "${configs[@]}"; do
  case "$cfg" in
    plain) cc=gcc;   cxx=g++;     san="";                 bt=Debug; bench=ON;  docs=ON ;;
    asan)  cc=clang; cxx=clang++; san="address,undefined"; bt=RelWithDebInfo; bench=OFF; docs=OFF ;;
    tsan)  cc=clang; cxx=clang++; san="thread";            bt=RelWithDebInfo; bench=OFF; docs=OFF ;;
    *) echo "unknown configuration $cfg"; exit 2 ;;
  esac
  echo "=== weft tests: $cfg ($cc${san:+, -fsanitize=$san}) ==="
  cmake -S . -B "build-$cfg" -DCMAKE_BUILD_TYPE=$bt -DCMAKE_C_COMPILER=$cc \
        -DCMAKE_CXX_COMPILER=$cxx -DWEFT_SANITIZE="$san" -DWEFT_BUILD_TESTS=ON \
        -DWEFT_BUILD_EXAMPLES=ON -DWEFT_BUILD_BENCH="$bench" \
        -DWEFT_BUILD_DOCS="$docs" > "build-$cfg.configure.log" \
    || { cat "build-$cfg.configure.log"; exit 1; }
  cmake --build "build-$cfg" -j "$JOBS"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Quoted: TSAN_OPTIONS is a space-separated list, and the path may hold one.
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions='$PWD/tests/tsan.supp'"
  # Tests run their written size in every configuration; the few lines that
  # size a test down under a sanitizer read this (tests/test_size.h).
  export WEFT_TEST_CONFIG=$cfg
  # The spin model checks and the API reference do not depend on the compiler
  # or sanitizer: they run once, in the plain configuration (the reference
  # only exists there: WEFT_BUILD_DOCS=OFF elsewhere).
  exclude=()
  [ "$cfg" != plain ] && exclude=(-LE 'model|mutant')
  if ! (cd "build-$cfg" && ctest -j "$JOBS" --output-on-failure "${exclude[@]}"); then
    status=1
  fi
done
exit $status
