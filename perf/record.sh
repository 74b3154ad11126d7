#!/usr/bin/env bash
# perf record -g on one cell of the benchmark, then a flame graph when a
# flame-graph tool is on PATH, else perf report --stdio.
#
#   perf/record.sh [IMPL [WORKLOAD [SIZE [SCALE]]]]   default: weft W1 2 long
#   WEFT_PERF_CALLGRAPH=fp perf/record.sh ...        frame pointers instead of DWARF
#
# Debian 12 packages no flame-graph tool (`apt-cache search flamegraph` finds
# none), so the SVG needs Brendan Gregg's FlameGraph scripts
# (stackcollapse-perf.pl + flamegraph.pl) or inferno (inferno-collapse-perf +
# inferno-flamegraph) installed by hand; without them the report is text.
# Without a hardware PMU (most VMs) perf samples cpu-clock instead of cycles.
source "$(dirname "$0")/lib.sh"
impl=${1:-weft} wl=${2:-W1} size=${3:-2} scale=${4:-long}
case "$impl" in weft|weft_qw|pthread|bare|libuv|glib|tbb|ckring) ;; *) echo "perf/record.sh: unknown IMPL $impl" >&2; exit 2 ;; esac
case "$wl" in W1|W2|W3|W4|W5) ;; *) echo "perf/record.sh: unknown WORKLOAD $wl (W1..W5)" >&2; exit 2 ;; esac
case "$scale" in long|short) ;; *) echo "perf/record.sh: SCALE is long or short" >&2; exit 2 ;; esac
weft_perf_build weft_bench
data="$build/perf.data"
cg=${WEFT_PERF_CALLGRAPH:-dwarf,16384}
# shellcheck disable=SC2046
perf record -F 2999 --call-graph "$cg" -o "$data" -- \
  "$build/bench/weft_bench" $(weft_perf_bench_args "$impl" "$wl" "$size" "$scale") \
  --wb-log="$build/perf-record.bench.log" > "$build/perf-record.out" 2> "$build/perf-record.err" \
  || { cat "$build/perf-record.err" >&2; exit 1; }
echo "perf record: $impl $wl, $size threads, $scale scale → $data"
if command -v stackcollapse-perf.pl > /dev/null && command -v flamegraph.pl > /dev/null; then
  perf script -i "$data" 2> /dev/null | stackcollapse-perf.pl | flamegraph.pl > "$build/flame.svg"
  echo "flame graph: $build/flame.svg"
elif command -v inferno-collapse-perf > /dev/null && command -v inferno-flamegraph > /dev/null; then
  perf script -i "$data" 2> /dev/null | inferno-collapse-perf | inferno-flamegraph > "$build/flame.svg"
  echo "flame graph: $build/flame.svg"
else
  echo "(no flame-graph tool on PATH: text report; full one with perf report -i $data)"
fi
# Self time per symbol: where the cycles go, no call chains.
perf report -i "$data" --stdio --no-children -g none -F overhead,dso,sym --percent-limit 1.5 \
  2> /dev/null | grep -v '^$' | grep -E '^ +[0-9]|^#.*Samples|^#.*Event count' | head -40
