#!/usr/bin/env bash
# Instructions per task under callgrind, with h1's perf/hotpath program:
#
#     Ir/task = (Ir(N) - Ir(0)) / N
#
# Two runs that differ only in the number of tasks, so start-up, pool
# creation and shutdown cancel out. Target: <= 100 instructions per task.
#
#   perf/callgrind.sh [N [hotpath args...]]      default N = 100000
#
# callgrind runs the threads one at a time, so idle spinning of workers that
# wait for the submitter shows up as instructions; hotpath is built to keep
# that out of the difference (see perf/hotpath.c). The per-function split
# of run N is left in $build/callgrind.out.N (callgrind_annotate it).
source "$(dirname "$0")/lib.sh"
n=${1:-100000}
shift || true
weft_perf_build hotpath
hp="$build/perf/hotpath"
[ -x "$hp" ] || { echo "no hotpath binary at $hp"; exit 1; }

ir_of() {  # $1: task count, then hotpath's other args; prints total Ir
  local k=$1
  shift
  local out="$build/callgrind.out.$k"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$hp" "$k" "$@" \
    > "$build/callgrind.$k.log" 2>&1 || { cat "$build/callgrind.$k.log"; exit 1; }
  grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
}
ir0=$(ir_of 0 "$@")
irn=$(ir_of "$n" "$@")
awk -v a="$ir0" -v b="$irn" -v n="$n" 'BEGIN {
  per = (b - a) / n
  printf "Ir(0) = %d, Ir(%d) = %d\n", a, n, b
  printf "instructions per task: %.1f (target <= 100: %s)\n", per, per <= 100 ? "met" : "MISSED"
}'
echo "top functions by self Ir for N=$n (callgrind_annotate):"
callgrind_annotate --inclusive=no --threshold=95 "$build/callgrind.out.$n" 2> /dev/null \
  | sed -n '/^-* *$/,$p' | grep -E '^ *[0-9,]+ ' | head -15
