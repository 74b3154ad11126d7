#!/usr/bin/env bash
# cmake --install gives a usable package: find_package(weft) -> weft::weft, and
# a relocatable pkg-config file. Usage: install_check.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1; src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
cmake -S "$src/tests/install_consumer" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" > /dev/null
cmake --build "$tmp/b" > /dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name 'libweft.so' | head -1)")
LD_LIBRARY_PATH=$libdir "$tmp/b/c"
pcdir=$(dirname "$(find "$tmp/prefix" -name weft.pc)")
# shellcheck disable=SC2046
cc "$src/tests/install_consumer/main.c" $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs weft) -o "$tmp/pc"
LD_LIBRARY_PATH=$libdir "$tmp/pc"
echo "install check: find_package and pkg-config consumers ran"
