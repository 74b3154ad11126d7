#!/usr/bin/env bash
# Install everything weft needs to build, test and benchmark (Debian 12, as root).
# Idempotent and quick when everything is already there.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang gcc g++ git
      libck-dev libcmocka-dev
      libbenchmark-dev libuv1-dev libevent-dev libglib2.0-dev libtbb-dev
      systemtap-sdt-dev spin valgrind linux-perf gnuplot-nox doxygen wrk python3)
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
