# Sourced by the perf/*.sh scripts: find (or build) the Release tree that
# holds weft_bench, libweft.so and the hotpath program (perf/hotpath.c).
#   WEFT_PERF_BUILD   the build directory (default: build-bench, as scripts/bench.sh)
#   WEFT_PERF_REPS    repetitions of the benchmark cell (default 1; more = more samples)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${WEFT_PERF_BUILD:-$root/build-bench}

# weft_perf_build TARGET...: configure once (Release, debug info kept so perf
# and callgrind can name functions and lines), then build the targets.
weft_perf_build() {
  mkdir -p "$build"
  # A tree configured elsewhere (scripts/bench.sh configures build-bench
  # without them) gets the flags too: perf and callgrind need the debug
  # info and frame pointers to name and unwind weft's functions.
  if [ ! -f "$build/CMakeCache.txt" ] || ! grep -q '^CMAKE_C_FLAGS:.*-fno-omit-frame-pointer' "$build/CMakeCache.txt"; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_BENCH=ON \
          -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF \
          -DCMAKE_C_FLAGS="-g -fno-omit-frame-pointer" \
          -DCMAKE_CXX_FLAGS="-g -fno-omit-frame-pointer" > "$build/configure.log" 2>&1 \
      || { cat "$build/configure.log"; exit 1; }
  fi
  cmake --build "$build" -j "$(nproc)" --target "$@" > "$build/build.log" 2>&1 \
    || { tail -40 "$build/build.log"; exit 1; }
}

# The bench arguments that select one cell of the table, one repetition.
# $1 impl (weft, weft_qw, pthread, libuv, glib, tbb), $2 workload (W1..W5),
# $3 pool size, $4 scale (short|long).
weft_perf_bench_args() {
  echo "--wb-impls=$1 --wb-workloads=$2 --wb-sizes=$3 --wb-scale=${4:-long}" \
       "--benchmark_repetitions=${WEFT_PERF_REPS:-1}"
}
