#!/usr/bin/env bash
# perf stat on one cell of the benchmark: task-clock, context switches and
# CPU migrations, and the same per 1,000 tasks.
#
#   perf/stat.sh [IMPL [WORKLOAD [SIZE [SCALE]]]]     default: weft W1 2 long
#   perf/stat.sh pthread W1 2                       the baseline, same cell
#
# The counts cover the whole process (pool set-up, warm-up and the timed
# run); weft_bench's own csw_per_1k column counts the timed run only.
# In a VM without a PMU only software events exist, which is all this uses.
source "$(dirname "$0")/lib.sh"
impl=${1:-weft} wl=${2:-W1} size=${3:-2} scale=${4:-long}
case "$impl" in weft|weft_qw|pthread|bare|libuv|glib|tbb|ckring) ;; *) echo "perf/stat.sh: unknown IMPL $impl" >&2; exit 2 ;; esac
case "$wl" in W1|W2|W3|W4|W5) ;; *) echo "perf/stat.sh: unknown WORKLOAD $wl (W1..W5)" >&2; exit 2 ;; esac
case "$scale" in long|short) ;; *) echo "perf/stat.sh: SCALE is long or short" >&2; exit 2 ;; esac
weft_perf_build weft_bench
# shellcheck disable=SC2046
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -x, -o "$build/perf-stat.csv" \
  "$build/bench/weft_bench" $(weft_perf_bench_args "$impl" "$wl" "$size" "$scale") \
  --wb-log="$build/perf-stat.bench.log" > "$build/perf-stat.out"
case "$wl:$scale" in
  W1:long) tasks=1000000 ;; W1:short) tasks=100000 ;;
  W2:long) tasks=100000 ;;  W2:short) tasks=10000 ;;
  W3:long) tasks=1000000 ;; W3:short) tasks=100000 ;;
  W4:long) tasks=200000 ;;  W4:short) tasks=100000 ;;  # bench/main.cpp params_for
  W5:long) tasks=262143 ;;  W5:short) tasks=32767 ;;
esac
reps=${WEFT_PERF_REPS:-1}
tasks=$((tasks * reps))
echo "perf stat: $impl $wl, $size threads, $scale scale ($tasks tasks: $reps run(s) + warm-up)"
grep -v '^#' "$build/perf-stat.csv" | grep -v '^$' | awk -F, -v n="$tasks" '
  { v = $1; ev = $3; unit = $2
    if (v ~ /not/) { printf "  %-18s %s\n", ev, v; next }
    printf "  %-18s %14.1f %-5s  %10.3f per 1,000 tasks\n", ev, v, unit, v * 1000 / n }'
sed -n '/^## weft/,$p' "$build/perf-stat.out" | grep -E "^\| (impl|$impl) \|" || true
