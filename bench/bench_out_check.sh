#!/bin/sh
# ctest bench_out_keeps_child_cells: weft_bench --benchmark_out=FILE holds
# the in-process cells (pthread) and those of the peers that run in child
# processes (libuv, GLib): the children once got the flag too and each
# rewrote FILE with its own cells only. In json (the default) and in csv.
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
# csv: google-benchmark's CSV writer (1.7.1) aborted at the first cell
# whose counters differed from the first one's (weft's after pthread's, W2's
# p99_us after W1), and weft_bench refused csv for that; every cell now
# reports every counter. One header; the children's rows under it.
csv=$out.csv
rm -f "$csv"
"$bin" --wb-scale=short --wb-impls="pthread,weft,$peers" --wb-sizes=2 --wb-workloads=W1,W2 \
       --benchmark_repetitions=1 --benchmark_out="$csv" --benchmark_out_format=csv > /dev/null
[ "$(grep -c '^name,' "$csv")" -eq 1 ] || { echo "not one header in $csv" >&2; exit 1; }
for impl in pthread weft "$@"; do
  for w in W1 W2; do
    grep -q "^\"$w/$impl/2/" "$csv" || { echo "no $w/$impl/2 row in $csv" >&2; exit 1; }
  done
done
echo "every cell in $out and in $csv"
