#!/usr/bin/env bash
# weft's elastic (blocking) benchmark: weft ThreadPool against the textbook
# pthread pool, libuv, GLib and tokio_like on W6, W6r, W7, W9c, W10s, W10t, W10b, W12
# (bench/elastic/main.c has the method; docs/performance.md, "Elastic
# (blocking) benchmark", the reading). Prints markdown tables.
#
#   bash scripts/bench_elastic.sh          quick run: W6 at 2 000 tasks, one
#                                          repetition per cell (~4 minutes)
#   bash scripts/bench_elastic.sh --long   full sizes (W6/W10s/W12 at 10 000
#                                          tasks, W10t/b at 30 000, W10t's
#                                          prime 224, W9c timeout 10 s,
#                                          shrink window 12 s), 5
#                                          repetitions, 1 for the pools
#                                          capped at <= 4 threads (~55
#                                          minutes on 2 cores: a capped
#                                          pool waits out the prime's 10 s)
#   bash scripts/bench_elastic.sh [--long] --pools=weft,tokio_like --workloads=W6,W9c --reps=3 ...
#                                          extra flags go to weft_elastic_bench
#
# Installs what it needs (scripts/deps.sh bench: the compilers, cmake,
# google-benchmark, which configuring bench/ requires, libuv and GLib, the
# peers), then builds Release into build-elastic (WEFT_ELASTIC_BUILD
# overrides it). The raw per-cell lines go to <build>/elastic_raw.tsv, the
# tables to <build>/elastic_table.md as well as stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${WEFT_ELASTIC_BUILD:-build-elastic}
scale=--scale=short
extra=()
for a in "$@"; do
  case "$a" in
    --long) scale=--scale=long; extra+=(--reps-capped=1) ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) extra+=("$a") ;;
  esac
done

# On a fresh machine cmake and google-benchmark are missing (configure fails),
# and without libuv1-dev / libglib2.0-dev their pools would be left out of
# the tables without a word.
bash scripts/deps.sh bench >&2
echo "=== weft elastic bench: building Release into $build ===" >&2
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_BENCH=ON \
      -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF > "$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target weft_elastic_bench > "$build/build.log" 2>&1 \
  || { tail -50 "$build/build.log"; exit 1; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rc=0
"$build/bench/elastic/weft_elastic_bench" "$scale" --raw="$build/elastic_raw.tsv" \
    ${extra[@]+"${extra[@]}"} > "$build/elastic_table.md" || rc=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "Run ending $(date -u '+%Y-%m-%d %H:%M UTC'), built at commit $commit$dirty," \
       "$(nproc) CPUs, load average before/after: $load_before / $load_after."
  echo
  cat "$build/elastic_table.md"
}
exit $rc
