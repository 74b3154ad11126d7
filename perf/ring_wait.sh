#!/usr/bin/env bash
# Where W14's tail latency goes: records one weft run of bench/cpu_latency.c
# with the USDT probes submit, start, inject_batch and steal and the switch
# events, then perf/ring_wait.py splits the tasks that waited past the p99
# by what held them (a preempted worker, a ring a thief emptied late).
#
#   perf/ring_wait.sh [POOL [SECONDS]]        default: pool 4, 1 s
#
# Needs root (uprobes) and a libweft built with the probes (sys/sdt.h
# present at configure time: systemtap-sdt-dev).
source "$(dirname "$0")/lib.sh"
pool=${1:-4} secs=${2:-1}
[[ $pool =~ ^[1-9][0-9]*$ ]] || { echo "perf/ring_wait.sh: POOL must be a thread count >= 1" >&2; exit 2; }
[[ $secs =~ ^[0-9]*\.?[0-9]+$ ]] && awk -v s="$secs" 'BEGIN { exit !(s > 0) }' \
  || { echo "perf/ring_wait.sh: SECONDS must be > 0" >&2; exit 2; }
weft_perf_build weft_cpu_latency
lib=$(readlink -f "$build/lib/libweft.so")
data="$build/ring_wait.data"
# Only the probes this script adds, and removed however it ends (a uprobe
# left behind traps every later run of the library).
probes=(submit start steal inject_batch)
trap 'for p in "${probes[@]}"; do perf probe -q -d "sdt_weft:$p" > /dev/null 2>&1 || true; done' EXIT
for p in "${probes[@]}"; do
  perf probe -q -d "sdt_weft:$p" > /dev/null 2>&1 || true
  perf probe -x "$lib" -a "sdt_weft:$p" > "$build/ring_wait.probe.log" 2>&1 \
    || { cat "$build/ring_wait.probe.log" >&2; exit 1; }
done
perf record -q -o "$data" --switch-events -e sdt_weft:submit -e sdt_weft:start -e sdt_weft:steal -e sdt_weft:inject_batch -- \
  "$build/bench/weft_cpu_latency" --impls=weft --pools="$pool" --reps=1 --secs="$secs"
echo "steals: $(perf script -i "$data" -F event 2> /dev/null | grep -c 'sdt_weft:steal')"
perf script -i "$data" --show-switch-events -F tid,time,event,trace 2> /dev/null \
  | python3 "$(dirname "$0")/ring_wait.py"
