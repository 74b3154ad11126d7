#!/usr/bin/env bash
# cmake --install gives a usable package that needs nothing but itself:
#   - find_package(weft) -> weft::weft and weft::weft_static, configured with
#     CMAKE_PREFIX_PATH=<prefix> only and PkgConfig disabled;
#   - a relocatable weft.pc whose `pkg-config --cflags --libs weft` (and
#     --static) works with PKG_CONFIG_LIBDIR=<prefix>/lib/pkgconfig, where no
#     other package's .pc file can be found, and gives consumers no flags but
#     weft's own -I / -L -lweft (-lpthread when static);
#   - libweft.so needs no shared library but libc (no liburcu, no ck).
# Usage: install_check.sh BUILD_DIR SOURCE_DIR [CONFIG]
# CONFIG: the configuration to install (ctest passes its own; a multi-config
# build's `cmake --install` would otherwise install Release).
set -euo pipefail
build=$1; src=$2; config=${3:-}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "install check: $*" >&2; exit 1; }
cmake --install "$build" ${config:+--config "$config"} --prefix "$tmp/prefix" > /dev/null

so=$(find "$tmp/prefix" -name 'libweft.so' | head -1)
libdir=$(dirname "$so")
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
for n in $needed; do
  case "$n" in
    libc.so.*|ld-linux*|libpthread.so.*) ;;
    *) fail "libweft.so needs $n (expected libc only): $needed" ;;
  esac
done

# CMake consumer: the prefix is all it is given; PkgConfig may not be used.
cmake -S "$src/tests/install_consumer" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON > "$tmp/consumer.log" 2>&1 \
  || { cat "$tmp/consumer.log"; fail "find_package(weft) failed"; }
cmake --build "$tmp/b" > "$tmp/consumer-build.log" 2>&1 \
  || { cat "$tmp/consumer-build.log"; fail "CMake consumer did not build"; }
LD_LIBRARY_PATH=$libdir "$tmp/b/c"
"$tmp/b/c_static"

# pkg-config consumer: only weft's .pc is visible.
pcdir=$(dirname "$(find "$tmp/prefix" -name weft.pc)")
pc() { env -u PKG_CONFIG_PATH PKG_CONFIG_LIBDIR="$pcdir" pkg-config "$@"; }
cflags=$(pc --cflags weft | xargs) || fail "pkg-config --cflags weft failed"
libs=$(pc --libs weft) || fail "pkg-config --libs weft failed"
static_libs=$(pc --static --libs weft) || fail "pkg-config --static --libs weft failed"
# Consumers get weft's include directory and nothing else.
for f in $cflags; do
  case "$f" in -I*) ;; *) fail "unexpected flag in Cflags: $cflags" ;; esac
done
[ "$(echo "$cflags" | wc -w)" -eq 1 ] || fail "Cflags has more than weft's -I: $cflags"
[ -f "${cflags#-I}/weft/weft.h" ] || fail "Cflags does not point at weft's headers: $cflags"
for f in $libs $static_libs; do
  case "$f" in -L*|-lweft|-lpthread) ;; *) fail "unexpected flag in Libs: $f" ;; esac
done
# shellcheck disable=SC2086
cc "$src/tests/install_consumer/main.c" $cflags $libs -o "$tmp/pc"
LD_LIBRARY_PATH=$libdir "$tmp/pc"
# shellcheck disable=SC2086
cc "$src/tests/install_consumer/main.c" $cflags -static-libgcc "$libdir/libweft.a" \
   $(echo "$static_libs" | tr ' ' '\n' | grep -v -e '^-lweft$' | tr '\n' ' ') -o "$tmp/pc_static"
"$tmp/pc_static"
echo "install check: find_package (shared, static) and pkg-config (shared, static) consumers ran;" \
     "libweft.so needs: $needed; Cflags: $cflags"
