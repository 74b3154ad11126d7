#!/usr/bin/env bash
# Server benchmark: examples/http_server driven by wrk over loopback, the same
# server code on three pools (weft, the mutex/condvar pthread pool of
# bench/pthread_pool.c, GLib's GThreadPool), in three scenarios:
#   a    dispatch-bound: /hash?bytes=64, no sleep, pool of 4, 32 connections
#   b    mostly sleeping: bytes=64, sleep 1000-5000 µs (bench/server/sleep.lua),
#        pool of 64, 64 connections
#   c4   CPU-bound: bytes=50000 (~100 µs of hashing), pool of 4, 16 connections
#   c8   the same with a pool of 8
# Each cell: a fresh server, a 1 s warm-up run (discarded), then one measured
# wrk run; the runs are interleaved (run 1 of every cell, then run 2...) with
# the backend order rotated each run, so load from elsewhere falls on every
# backend alike. The table shows medians over the runs, errors summed.
#
#   bash scripts/bench_server.sh [--runs=5] [--duration=5] [--scenarios="a b c4 c8"]
#                                [--backends="weft pthread glib"] [--out=DIR]
#                                [--build=DIR] [--no-deps]
#
# Backends: weft (queue_work round trip), weft-deferred (deferToThreadPool),
# pthread, glib. Only 127.0.0.1 is used. Writes DIR/raw.tsv (one line per
# measured run) and DIR/table.md (the markdown table), and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
duration=5
scenarios="a b c4 c8"
backends="weft pthread glib"
out=""
build="build-bench-server"
deps=1
for arg in "$@"; do
  case "$arg" in
    --runs=*) runs=${arg#*=} ;;
    --duration=*) duration=${arg#*=} ;;
    --scenarios=*) scenarios=${arg#*=} ;;
    --backends=*) backends=${arg#*=} ;;
    --out=*) out=${arg#*=} ;;
    --build=*) build=${arg#*=} ;;
    --no-deps) deps=0 ;;
    *) echo "unknown argument $arg"; exit 2 ;;
  esac
done
# Check every argument before installing or building anything.
case "$runs" in ''|*[!0-9]*|0) echo "--runs must be a positive integer, not '$runs'" >&2; exit 2 ;; esac
case "$duration" in ''|*[!0-9]*|0) echo "--duration must be a positive integer (seconds), not '$duration'" >&2; exit 2 ;; esac
for sc in $scenarios; do
  case "$sc" in a|b|c4|c8) ;; *) echo "unknown scenario '$sc' (a b c4 c8)" >&2; exit 2 ;; esac
done
for be in $backends; do
  case "$be" in weft|weft-deferred|pthread|glib) ;;
    *) echo "unknown backend '$be' (weft weft-deferred pthread glib)" >&2; exit 2 ;; esac
done
[ -n "$scenarios" ] && [ -n "$backends" ] || { echo "no scenario or no backend given" >&2; exit 2; }
[ "$deps" = 1 ] && bash scripts/deps.sh
[ -n "$out" ] || out=$(mktemp -d /tmp/weft-bench-server.XXXXXX)
mkdir -p "$out"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF \
      -DWEFT_BUILD_EXAMPLES=ON -DWEFT_BUILD_BENCH=OFF > "$out/configure.log" 2>&1 \
  || { cat "$out/configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target http_server > "$out/build.log" 2>&1 \
  || { tail -50 "$out/build.log"; grep -i "skipped\|not found" "$out/configure.log"; exit 1; }
server_bin=$build/examples/http_server/http_server

# scenario -> pool size, connections, wrk target arguments
scenario_args() {
  case "$1" in
    a)  echo "4 32 /hash?bytes=64" ;;
    b)  echo "64 64 -s bench/server/sleep.lua /" ;;
    c4) echo "4 16 /hash?bytes=50000" ;;
    c8) echo "8 16 /hash?bytes=50000" ;;
    *) echo "unknown scenario $1" >&2; exit 2 ;;
  esac
}

server_pid=""
cleanup() { if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

# Start the server; sets server_pid and port. The port is read from the
# server's first line, polled for at most 10 s.
start_server() { # backend threads logfile
  local flags
  case "$1" in
    weft-deferred) flags="--backend=weft --weft-api=deferred" ;;
    *) flags="--backend=$1" ;;
  esac
  # shellcheck disable=SC2086
  "$server_bin" --port=0 --threads="$2" $flags > "$3" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$3")
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server $1 did not start:"; cat "$3"; exit 1
}

stop_server() { # logfile; sets srv_errors, the server's 5xx count
  kill -TERM "$server_pid"
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  if [ "$rc" != 0 ]; then echo "server exited with $rc:"; cat "$1"; exit 1; fi
  srv_errors=$(sed -n 's/^served [0-9]* hash requests, \([0-9]*\) errors$/\1/p' "$1")
  [ -n "$srv_errors" ] || { echo "no summary from the server:"; cat "$1"; exit 1; }
}

# wrk's figures in µs; wrk prints 1.23us, 4.56ms or 1.02s.
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
  if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; printf "%.0f", n }'; }

raw=$out/raw.tsv
printf 'scenario\tbackend\trun\treq_s\tp50_us\tp99_us\terrors\n' > "$raw"
# shellcheck disable=SC2086
set -- $backends
nb=$#
echo "weft server benchmark: runs=$runs duration=${duration}s scenarios=($scenarios)" \
     "backends=($backends), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$runs"); do
  for sc in $scenarios; do
    read -r threads conns target <<< "$(scenario_args "$sc")"
    # rotate the backend order: run r starts with backend (r-1) mod n
    # shellcheck disable=SC2206
    list=($backends)
    for k in $(seq 0 $((nb - 1))); do
      be=${list[$(( (k + run - 1) % nb ))]}
      log=$out/server-$sc-$be-$run.log
      start_server "$be" "$threads" "$log"
      url_args=${target% *}
      path=${target##* }
      [ "$url_args" = "$target" ] && url_args=""
      # shellcheck disable=SC2086
      wrk -t2 -c"$conns" -d1s $url_args "http://127.0.0.1:$port$path" > /dev/null
      # shellcheck disable=SC2086
      wrk -t2 -c"$conns" -d"${duration}s" --latency $url_args \
          "http://127.0.0.1:$port$path" > "$out/wrk-$sc-$be-$run.txt"
      stop_server "$log"
      w=$out/wrk-$sc-$be-$run.txt
      rps=$(awk '/^Requests\/sec:/ { print $2 }' "$w")
      p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$w")")
      p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$w")")
      sock=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$w")
      non2xx=$(awk '/Non-2xx/ { print $NF }' "$w")
      errors=$(( ${sock:-0} + ${non2xx:-0} + ${srv_errors:-0} ))
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sc" "$be" "$run" "$rps" "$p50" "$p99" \
             "$errors" >> "$raw"
      printf 'run %s %-3s %-13s %10.0f req/s  p50 %7s us  p99 %7s us  errors %s\n' \
             "$run" "$sc" "$be" "$rps" "$p50" "$p99" "$errors"
    done
  done
done

# Medians per (scenario, backend), ratios against pthread, as markdown.
awk -F'\t' -v order="$scenarios" -v bes="$backends" '
  NR == 1 { next }
  { k = $1 SUBSEP $2; n[k]++; rps[k, n[k]] = $4; p50[k, n[k]] = $5; p99[k, n[k]] = $6
    err[k] += $7 }
  function median(a, k, m,   i, j, t, v) {
    for (i = 1; i <= m; i++) v[i] = a[k, i]
    for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
      t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
  }
  function ms(us) { return us >= 1000 ? sprintf("%.2f ms", us / 1000) : sprintf("%d µs", us) }
  END {
    desc["a"] = "(a) dispatch-bound: 64 B, no sleep; pool 4, 32 conns"
    desc["b"] = "(b) sleeping: 64 B, sleep 1-5 ms; pool 64, 64 conns"
    desc["c4"] = "(c) CPU-bound: 50,000 B (~100 µs); pool 4, 16 conns"
    desc["c8"] = "(c) CPU-bound: 50,000 B (~100 µs); pool 8, 16 conns"
    print "| scenario | backend | req/s | × pthread | p50 | × pthread | p99 | × pthread | errors |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    ns = split(order, S, " "); nbk = split(bes, B, " ")
    for (i = 1; i <= ns; i++) {
      base = S[i] SUBSEP "pthread"
      if (n[base]) { br = median(rps, base, n[base]); b50 = median(p50, base, n[base])
                     b99 = median(p99, base, n[base]) }
      for (j = 1; j <= nbk; j++) {
        k = S[i] SUBSEP B[j]; if (!n[k]) continue
        r = median(rps, k, n[k]); l50 = median(p50, k, n[k]); l99 = median(p99, k, n[k])
        printf "| %s | %s | %.0f | %s | %s | %s | %s | %s | %d |\n",
          (j == 1 ? desc[S[i]] : ""), B[j], r,
          (n[base] ? sprintf("%.2f", r / br) : "-"), ms(l50),
          (n[base] && b50 > 0 ? sprintf("%.2f", l50 / b50) : "-"), ms(l99),
          (n[base] && b99 > 0 ? sprintf("%.2f", l99 / b99) : "-"), err[k]
      }
    }
    printf "\nMedians of %d runs of %s s each (wrk -t2, --latency); errors: wrk socket errors + non-2xx + the server'"'"'s 5xx, summed over the runs.\n", n[S[1] SUBSEP B[1]], "'"$duration"'"
  }' "$raw" > "$out/table.md"
echo
cat "$out/table.md"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw figures: $raw"
