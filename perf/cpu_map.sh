#!/usr/bin/env bash
# Which thread ran on which CPU, window by window, for one cell of the
# benchmark: perf record of cpu-clock with the CPU of each sample, then
# perf/cpu_map.py counts the samples per thread and CPU in each window and
# names the main thread's (the loop's or the submitter's) top functions in
# the windows where one pattern of threads held. With more runnable threads
# than CPUs it shows how the kernel shared them out, and whether a slow
# repetition is one where two workers took turns on a CPU.
#
#   perf/cpu_map.sh [IMPL [WORKLOAD [SIZE [SCALE]]]]   default: weft W3 2 long
#   WEFT_PERF_REPS=10 perf/cpu_map.sh ...               repetitions (default 1)
#   WEFT_CPU_MAP_MS=20                                  window length in ms
source "$(dirname "$0")/lib.sh"
impl=${1:-weft} wl=${2:-W3} size=${3:-2} scale=${4:-long}
case "$impl" in weft|weft_qw|pthread|bare|libuv|glib|tbb|ckring) ;; *) echo "perf/cpu_map.sh: unknown IMPL $impl" >&2; exit 2 ;; esac
case "$wl" in W1|W2|W3|W4|W5) ;; *) echo "perf/cpu_map.sh: unknown WORKLOAD $wl (W1..W5)" >&2; exit 2 ;; esac
[[ $size =~ ^[1-9][0-9]*$ ]] || { echo "perf/cpu_map.sh: SIZE must be a thread count >= 1" >&2; exit 2; }
case "$scale" in long|short) ;; *) echo "perf/cpu_map.sh: SCALE is long or short" >&2; exit 2 ;; esac
ms=${WEFT_CPU_MAP_MS:-20}
[[ $ms =~ ^[0-9]*\.?[0-9]+$ ]] && awk -v m="$ms" 'BEGIN { exit !(m > 0) }' \
  || { echo "perf/cpu_map.sh: WEFT_CPU_MAP_MS must be a window length in ms > 0" >&2; exit 2; }
weft_perf_build weft_bench
data="$build/cpu_map.data"
# shellcheck disable=SC2046
perf record -q -F 1999 -e cpu-clock --sample-cpu -o "$data" -- \
  "$build/bench/weft_bench" $(weft_perf_bench_args "$impl" "$wl" "$size" "$scale") \
  > "$build/cpu_map.out" 2> "$build/cpu_map.err" || { cat "$build/cpu_map.err" >&2; exit 1; }
echo "perf record: $impl $wl, $size threads, $scale scale → $data"
echo "rates of the repetitions, in order (primary column):"
# The counters are columns in name order under a header of their own, and
# each implementation has its own set (weft adds parks, steals, unparks;
# W2 adds p99_us; ckring its ring counts): find primary's column in the
# header above the rows (+2 for the time units after Time and CPU).
sed 's/\x1b\[[0-9;]*m//g' "$build/cpu_map.out" | awk -v c="$wl/$impl/$size/" '
  $1 == "Benchmark" { col = 0; for (i = 1; i <= NF; i++) if ($i == "primary") col = i + 2 }
  index($1, c) == 1 && $1 !~ /_(mean|median|stddev|cv)$/ && col > 0 { printf " %s", $col }
  END { print "" }'
perf script -i "$data" -F comm,tid,cpu,time,ip,sym 2> /dev/null \
  | python3 "$(dirname "$0")/cpu_map.py" "$ms"
