#!/usr/bin/env bash
# Instructions per task under callgrind, with the perf/hotpath program:
#
#     Ir/task = (Ir(N) - Ir(0)) / N
#
# Two runs that differ only in the number of tasks, so start-up, pool
# creation and shutdown cancel out. Target: <= 100 instructions per task.
#
#   perf/callgrind.sh [N [MODE...]]     default: N = 100000, MODE = call work
#     call  weft_threadpool_call_in_thread (node cache)
#     work  weft_threadpool_queue_work (caller-owned weft_work)
#     callctx  call, submitted from a thread with a current context
#             (weft/context.h): the cost of carrying it
#     tree  call from inside the pool (a binary tree of N tasks, each
#           submitting its two children from its worker): W5's local path
#     ckring  the bench peer built from concurrencykit's ck_ring alone
#             (bench/ckring_hotpath.c: the same N tasks, same formula)
#     rt    a reactor round trip per task (perf/roundtrip.c, 1000 in
#           flight, one worker): deferToThreadPool from the reactor thread,
#           the Deferred fired back there, its callback submitting the next
#     rtqw  the same round trip with queue_work and call_from_thread_req
#     rtctx the rt round trip from a reactor thread with a current context
#           (bench's weft_qw, W3): no Deferred, no allocation
#     The target applies to call, work and callctx (the foreign submit):
#     tree counts the tree's own ~30 instructions per task, ckring is a
#     peer, and the round trips count both directions and the loop.
#
# callgrind runs the threads one at a time, so idle spinning of workers that
# wait for the submitter shows up as instructions; hotpath is built to keep
# that out of the difference (see perf/hotpath.c). What is left varies by
# one or two instructions per task between runs (how often a submit finds
# the worker searching), so each mode runs WEFT_CG_REPS times (default 5)
# and the target is judged on the median; min and max are printed beside
# it. The per-function split of the last run N is left in
# $build/callgrind.out.MODE.N (callgrind_annotate it).
source "$(dirname "$0")/lib.sh"
n=${1:-100000}
shift || true
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(call work)
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "perf/callgrind.sh: N must be a positive number of tasks" >&2; exit 2; }
reps=${WEFT_CG_REPS:-5}
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "perf/callgrind.sh: WEFT_CG_REPS must be a positive number" >&2; exit 2; }
for m in "${modes[@]}"; do
  case "$m" in call|work|callctx|tree|ckring|rt|rtqw|rtctx) ;; *) echo "perf/callgrind.sh: unknown MODE $m" >&2; exit 2 ;; esac
done
targets=(weft_hotpath)
for m in "${modes[@]}"; do
  case "$m" in ckring) targets+=(ckring_hotpath) ;; rt|rtqw|rtctx) targets+=(weft_roundtrip) ;; esac
done
weft_perf_build "${targets[@]}"
hp="$build/perf/weft_hotpath"
[ -x "$hp" ] || { echo "no hotpath binary at $hp"; exit 1; }

ir_of() {  # $1: task count, $2: mode; prints the total Ir of one run
  local out="$build/callgrind.out.$2.$1" cmd=("$hp" "$1" "$2")
  case "$2" in
    ckring) cmd=("$build/bench/ckring_hotpath" "$1") ;;
    rt) cmd=("$build/perf/weft_roundtrip" "$1" 1000 1) ;;
    rtqw) cmd=("$build/perf/weft_roundtrip" "$1" 1000 1 qw) ;;
    rtctx) cmd=("$build/perf/weft_roundtrip" "$1" 1000 1 ctx) ;;
  esac
  valgrind --tool=callgrind --callgrind-out-file="$out" "${cmd[@]}" \
    > "$build/callgrind.$2.$1.log" 2>&1 \
    || { cat "$build/callgrind.$2.$1.log" >&2; exit 1; }  # stderr: stdout is the caller's $(...)
  grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
}
for mode in "${modes[@]}"; do
  pers=()
  for ((r = 0; r < reps; r++)); do
    ir0=$(ir_of 0 "$mode")
    irn=$(ir_of "$n" "$mode")
    pers+=("$(awk -v a="$ir0" -v b="$irn" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')")
  done
  printf '%s\n' "${pers[@]}" | sort -g | awk -v n="$n" -v m="$mode" -v reps="$reps" '
    { v[NR] = $1 }
    END {
      med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      what = m ~ /^rt/ ? "round trip" : "task"
      printf "%-6s N = %d: %.1f instructions per %s, median of %d (min %.1f, max %.1f)", m, n, med, what, reps, v[1], v[NR]
      # The target is the foreign submit'"'"'s (call, work, callctx): tree counts
      # the tree'"'"'s own ~30 per task, ckring is a peer, rt/rtqw are two ways.
      if (m ~ /^(call|work|callctx)$/) printf " (target <= 100: %s)\n", med <= 100 ? "met" : "MISSED"
      else printf "\n"
    }'
done
echo "top functions by self Ir, ${modes[0]} mode, N=$n, last run (callgrind_annotate $build/callgrind.out.${modes[0]}.$n):"
callgrind_annotate --inclusive=no --threshold=95 "$build/callgrind.out.${modes[0]}.$n" 2> /dev/null \
  | grep -E '^ *[0-9][0-9,]* ' | head -12 || true  # head closes the pipe early (SIGPIPE, 141)
