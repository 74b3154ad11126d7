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
weft_perf_build weft_cpu_latency
lib=$(readlink -f "$build/lib/libweft.so")
data="$build/ring_wait.data"
perf probe -d 'sdt_weft:*' > /dev/null 2>&1 || true
for p in submit start steal inject_batch; do perf probe -x "$lib" -a "sdt_weft:$p" > /dev/null 2>&1; done
perf record -q -o "$data" --switch-events -e sdt_weft:submit -e sdt_weft:start -e sdt_weft:steal -e sdt_weft:inject_batch -- \
  "$build/bench/weft_cpu_latency" --impls=weft --pools="$pool" --reps=1 --secs="$secs"
echo "steals: $(perf script -i "$data" -F event 2> /dev/null | grep -c 'sdt_weft:steal')"
perf script -i "$data" --show-switch-events -F tid,time,event,trace 2> /dev/null \
  | python3 "$(dirname "$0")/ring_wait.py"
perf probe -d 'sdt_weft:*' > /dev/null 2>&1 || true
