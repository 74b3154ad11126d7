#!/usr/bin/env bash
# The 1-N worker scaling of W1-W5 and W14's latency row on a machine with
# more cores than this one, from a self-contained pack: the benchmark
# programs, every library they load and the dynamic loader, so the machine
# that runs it needs no package and no network (issue 19 asks for this run
# wherever a machine with 16 cores is at hand).
#
#   bash scripts/scaling.sh pack          build Release into build-bench (as
#                                         scripts/bench.sh) and copy the pack
#                                         into build-scaling/ (about 12 MB)
#   bash scripts/scaling.sh run [OUT]     run the pack on this machine:
#                                         W1-W5, every peer, sizes 1 to twice
#                                         the CPUs (powers of 2: on 16 CPUs
#                                         1,2,4,8,16,32), long scale, 5
#                                         repetitions; then W14 at pools 4, 8,
#                                         the CPUs and twice the CPUs. Tables
#                                         and logs go to OUT (default
#                                         build-scaling/out).
#   SCALING_SCALE=short ...run            a tenth of the work (a check of the
#                                         pack, 2-3 minutes on 2 CPUs)
#
# The pack runs under its own loader and C library: the programs'
# interpreter and search path are set (patchelf) to /tmp/weft-scaling, where
# `run` copies the pack first, so a machine with an older C library runs it
# too, and the benchmark's re-execution of itself (/proc/self/exe, one
# process per size for GLib) finds the same. x86-64 Linux only.
# About 5-7 minutes on 16 CPUs at the long scale; each benchmark cell is
# cut at 60 s (--wb-run-limit), and what was measured is still written.
set -euo pipefail
cd "$(dirname "$0")/.."
pack=${WEFT_SCALING_PACK:-build-scaling}
home=/tmp/weft-scaling # where the pack runs from: fixed, written into its programs
mode=${1:-}

case "$mode" in
pack)
  bash scripts/deps.sh scaling  # the benchmark's packages and patchelf
  build=${WEFT_BENCH_BUILD:-build-bench}
  mkdir -p "$build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_BENCH=ON \
        -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF > "$build/configure.log" 2>&1 \
    || { cat "$build/configure.log"; exit 1; }
  cmake --build "$build" -j "$(nproc)" --target weft_bench weft_cpu_latency > "$build/build.log" 2>&1 \
    || { tail -50 "$build/build.log"; exit 1; }
  rm -rf "$pack"
  mkdir -p "$pack/lib"
  cp "$build/bench/weft_bench" "$build/bench/weft_cpu_latency" "$pack/"
  # Every library either program loads, and the loader itself (ldd's line
  # without "=>"), resolved through their links.
  for bin in "$pack/weft_bench" "$pack/weft_cpu_latency"; do
    ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
  done | sort -u | while read -r lib; do
    cp -L "$lib" "$pack/lib/$(basename "$lib")"
  done
  [ -f "$pack/lib/ld-linux-x86-64.so.2" ] || { echo "scaling.sh: no x86-64 loader found by ldd" >&2; exit 1; }
  # DT_RPATH (--force-rpath), not RUNPATH: it also serves the libraries'
  # own dependencies (libweft's, libglib's).
  for bin in "$pack/weft_bench" "$pack/weft_cpu_latency"; do
    patchelf --set-interpreter "$home/lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$home/lib" "$bin"
  done
  # What was built: the commit, and whether tracked files differed from it
  # (the programs come from the working tree), as scripts/bench.sh --long
  # says in its generated block.
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  dirty=$(git status --porcelain --untracked-files=no -- . ':(exclude)docs' 2>/dev/null \
          | grep -q . && echo " (with uncommitted changes)" || true)
  echo "$commit$dirty" > "$pack/commit"
  echo "pack: $pack ($(du -sh "$pack" | cut -f1)), commit $(cat "$pack/commit")"
  ;;
run)
  out=${2:-$pack/out}
  [ -x "$pack/weft_bench" ] || { echo "scaling.sh: no pack in $pack (bash scripts/scaling.sh pack)" >&2; exit 1; }
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  # A run that dies before it writes its table (a crash) must not print the
  # previous run's table under this run's machine line, nor add to its log
  # (--wb-log appends).
  rm -f "$out/table.md" "$out/bench.tsv" "$out/bench.log" "$out/bench.out" "$out/w14.md"
  rm -rf "$home"
  cp -r "$pack" "$home"
  scale=${SCALING_SCALE:-long}
  case "$scale" in long|short) ;; *) echo "scaling.sh: SCALING_SCALE is long or short" >&2; exit 2 ;; esac
  cpus=$(nproc)
  sizes=1 n=2
  while [ "$n" -le $((2 * cpus)) ]; do sizes="$sizes,$n"; n=$((2 * n)); done
  pools=$(printf '%s\n' 4 8 "$cpus" $((2 * cpus)) | sort -nu | paste -sd, -)
  {
    echo "commit $(cat "$home/commit"), $(date -u '+%Y-%m-%d %H:%M UTC'), $cpus CPUs" \
         "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(uname -r)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); sizes $sizes; W14 pools $pools; scale $scale"
  } | tee "$out/machine.txt"
  rc=0
  "$home/weft_bench" --wb-scale="$scale" --wb-sizes="$sizes" --benchmark_repetitions=5 \
       --wb-run-limit=60 --benchmark_display_aggregates_only=true \
       --benchmark_enable_random_interleaving=true --wb-log="$out/bench.log" \
       --wb-table="$out/table.md" --wb-data="$out/bench.tsv" > "$out/bench.out" 2>&1 || rc=$?
  secs=2
  [ "$scale" = short ] && secs=0.5
  echo "=== W14 cpu-heavy latency, pools $pools ===" >> "$out/bench.out"
  "$home/weft_cpu_latency" --pools="$pools" --reps=5 --secs="$secs" --workers \
       > "$out/w14.md" 2>&1 || rc=$?
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
  cat "$out/machine.txt"
  if [ -f "$out/table.md" ]; then
    cat "$out/table.md"
  else
    echo "scaling.sh: weft_bench wrote no table (see $out/bench.out)" >&2
    [ "$rc" -ne 0 ] || rc=1
  fi
  cat "$out/w14.md"
  exit "$rc"
  ;;
*)
  sed -n '2,28p' "$0"
  [ "$mode" = -h ] || [ "$mode" = --help ] || exit 2
  ;;
esac
