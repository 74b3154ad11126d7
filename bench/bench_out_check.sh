#!/bin/sh
# ctest bench_out_keeps_child_cells: weft_bench --benchmark_out=FILE holds
# the in-process cells (pthread) and those of the peers that run in child
# processes (libuv, GLib): the children once got the flag too and each
# rewrote FILE with its own cells only.
#   bench_out_check.sh WEFT_BENCH FILE PEER...
set -eu
bin=$1 out=$2
shift 2
peers=$(echo "$@" | tr ' ' ,)
rm -f "$out"
"$bin" --wb-scale=short --wb-impls="pthread,$peers" --wb-sizes=2 --wb-workloads=W1 \
       --benchmark_repetitions=1 --benchmark_out="$out" > /dev/null
for impl in pthread "$@"; do
  grep -q "\"name\": \"W1/$impl/2/" "$out" || { echo "no W1/$impl/2 cell in $out" >&2; exit 1; }
done
echo "every cell in $out"
