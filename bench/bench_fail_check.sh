#!/bin/sh
# ctest bench_failed_cell_exit_status: a run in which a cell failed ends
# with exit status 1 and the cell's reason in the table; weft_bench once
# printed "error: ..." in the table and exited 0, so a script or CI that
# ran it took the run for a good one. The cells fail without any timing:
# the child processes of the libuv/GLib peers need a temporary file, and
# TMPDIR names a folder that does not exist.
#   bench_fail_check.sh WEFT_BENCH PEER
set -u
bin=$1 peer=$2
out=$(TMPDIR=/nonexistent/weft_bench_fail_check "$bin" --wb-scale=short --wb-impls="$peer" \
      --wb-sizes=1 --wb-workloads=W1 --benchmark_repetitions=1 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 1 ] || { echo "exit status $rc, expected 1" >&2; exit 1; }
echo "$out" | grep -q "error: child process not started: no temporary file" \
  || { echo "no failed cell in the table" >&2; exit 1; }
echo "$out" | grep -q "cells failed" || { echo "no count of failed cells" >&2; exit 1; }
# Nothing to measure is refused (exit 2), not a table of no cells with
# exit 0: an implementation without the workload asked for (bare has W4
# alone), or no repetition.
"$bin" --wb-scale=short --wb-impls=bare --wb-sizes=1 --wb-workloads=W1 > /dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || { echo "bare W1: exit status $rc, expected 2" >&2; exit 1; }
"$bin" --wb-scale=short --wb-impls=pthread --wb-sizes=1 --wb-workloads=W1 \
       --benchmark_repetitions=0 > /dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || { echo "no repetition: exit status $rc, expected 2" >&2; exit 1; }
echo "exit status 1 and the failed cell in the table; nothing to measure refused"
