#!/usr/bin/env bash
# weft.pc names the directory the headers are installed in, whatever
# GNUInstallDirs was given: CMAKE_INSTALL_INCLUDEDIR and CMAKE_INSTALL_LIBDIR
# may each be relative to the prefix (the default) or absolute. For each
# combination: configure (libweft only, nothing built), put the generated
# weft.pc where `cmake --install` puts it (<full libdir>/pkgconfig), and ask
# pkg-config, which sees no other .pc file, for its includedir.
# Usage: pkgconfig_dirs.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "pkgconfig dirs: $*" >&2; exit 1; }
check() { # name, includedir option, libdir option, expected headers dir, expected pc dir
  local name=$1 inc=$2 lib=$3 want_inc=$4 pcdir=$5
  cmake -S "$src" -B "$tmp/$name" -DCMAKE_INSTALL_PREFIX="$tmp/prefix" \
        -DCMAKE_INSTALL_INCLUDEDIR="$inc" -DCMAKE_INSTALL_LIBDIR="$lib" \
        -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=OFF \
        -DWEFT_BUILD_DOCS=OFF > "$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log"; fail "$name: configure failed"; }
  mkdir -p "$pcdir"
  cp "$tmp/$name/weft.pc" "$pcdir/weft.pc"
  local got
  got=$(env -u PKG_CONFIG_PATH PKG_CONFIG_LIBDIR="$pcdir" pkg-config --variable=includedir weft) \
    || fail "$name: pkg-config failed"
  [ "$(realpath -m "$got")" = "$(realpath -m "$want_inc")" ] \
    || fail "$name: includedir is $got ($(realpath -m "$got")), headers go to $want_inc"
  rm -f "$pcdir/weft.pc"
}
check relative include lib "$tmp/prefix/include" "$tmp/prefix/lib/pkgconfig"
check multiarch include lib/x86_64-linux-gnu "$tmp/prefix/include" "$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
check abs_include "$tmp/dev/include" lib "$tmp/dev/include" "$tmp/prefix/lib/pkgconfig"
check abs_lib include "$tmp/out/lib" "$tmp/prefix/include" "$tmp/out/lib/pkgconfig"
check abs_both "$tmp/dev/include" "$tmp/out/lib" "$tmp/dev/include" "$tmp/out/lib/pkgconfig"
echo "pkgconfig dirs: includedir right for relative, multiarch and absolute install dirs"
