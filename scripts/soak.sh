#!/usr/bin/env bash
# Soak: minutes of mixed load on weft, with the resident set size of each
# load process sampled into a CSV, so that a leak shows as a rising line.
#
#   scripts/soak.sh [BUILD_DIR] [SECONDS] [CSV]
#       BUILD_DIR  a configured and built tree (default: build-soak, built here)
#       SECONDS    load duration (default 600)
#       CSV        output (default: BUILD_DIR/soak-rss.csv)
#
# Load: tests/torture_pool (submitters, task-spawned children, resize churn,
# stop/submit races, a new pool per round) and tests/torture_reactor
# (callFromThread from foreign threads, deferToThread chains, worker->loop
# calls, blockingCallFromThread), side by side. Each verifies exactly-once
# accounting itself and exits non-zero on a lost or duplicated task.
# CSV columns: seconds,program,pid,rss_kib. Exit status: 0 if both programs
# passed.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-soak}
seconds=${2:-600}
csv=${3:-$build/soak-rss.csv}
interval=${SOAK_INTERVAL:-5}
[[ -f $build/CMakeCache.txt ]] ||
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j2 --target torture_pool torture_reactor >/dev/null # never a stale build
echo "seconds,program,pid,rss_kib" >"$csv" # before the load: a bad path starts nothing
log=$build/soak.log
: >"$log"
pool_pid= reactor_pid=
trap 'kill $pool_pid $reactor_pid 2>/dev/null || true' EXIT # no load left behind
"$build/tests/torture_pool" 3 20000 1 4 "$seconds" >>"$log" 2>&1 &
pool_pid=$!
"$build/tests/torture_reactor" 2 20000 4 500 "$seconds" >>"$log" 2>&1 &
reactor_pid=$!
start=$(date +%s)
# RSS of process $1, only while /proc/$1 is still that process: once a program
# exits its pid may be reused (even as a thread id of another process, which
# /proc also lists), so check that the pid is a thread-group leader named $2.
rss() {
  awk -v want="$2" -v pid="$1" '
    /^Name:/  {name = $2}
    /^Tgid:/  {tgid = $2}
    /^VmRSS:/ {rss = $2}
    END {if (tgid == pid && name == want && rss != "") print rss}' "/proc/$1/status" 2>/dev/null || true
}
alive() { [[ -n $(rss "$1" "$2") ]]; }
while alive "$pool_pid" torture_pool || alive "$reactor_pid" torture_reactor; do
  now=$(( $(date +%s) - start ))
  for p in "pool:$pool_pid" "reactor:$reactor_pid"; do
    name=${p%%:*} pid=${p##*:}
    r=$(rss "$pid" "torture_$name")
    [[ -n $r ]] && echo "$now,torture_$name,$pid,$r" >>"$csv"
  done
  sleep "$interval" # sampling period of the monitor only; no test outcome depends on it
done
status=0
wait "$pool_pid" || status=1
wait "$reactor_pid" || status=1
cat "$log"
for prog in torture_pool torture_reactor; do
  first=$(awk -F, -v p="$prog" '$2==p {print $4; exit}' "$csv")
  last=$(awk -F, -v p="$prog" '$2==p {v=$4} END {print v}' "$csv")
  max=$(awk -F, -v p="$prog" '$2==p && $4>m {m=$4} END {print m}' "$csv")
  echo "$prog: RSS first ${first:-?} KiB, last ${last:-?} KiB, max ${max:-?} KiB"
done
echo "samples: $csv"
exit $status
