#!/usr/bin/env bash
# Install what weft needs (Debian 12, as root). Idempotent and quick when
# everything is already there.
#
#   bash scripts/deps.sh         everything: build, test, benchmark, profile
#   bash scripts/deps.sh bench   the headline benchmark only (scripts/bench.sh
#                                short run: the library, google-benchmark and
#                                the peers; no test, profiling or doc tools)
#   bash scripts/deps.sh scaling the benchmark's packages and patchelf
#                                (scripts/scaling.sh pack)
set -euo pipefail
if [ "${1:-}" = bench ] || [ "${1:-}" = scaling ]; then
  PKGS=(build-essential cmake pkg-config libck-dev libbenchmark-dev libuv1-dev
        libglib2.0-dev libtbb-dev systemtap-sdt-dev)
  if [ "$1" = scaling ]; then PKGS+=(patchelf); fi
else
  PKGS=(build-essential cmake pkg-config clang gcc g++ git
        libck-dev libcmocka-dev
        libbenchmark-dev libuv1-dev libevent-dev libglib2.0-dev libtbb-dev
        systemtap-sdt-dev spin valgrind linux-perf gnuplot-nox doxygen wrk python3
        ninja-build)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "weft: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
