#!/bin/sh
# Builds build-static/helua, the statically linked helua for the GPU machine (Ubuntu 24.04 with
# the NVIDIA driver, no LLVM, Lua or compilers), and checks it: only glibc is shared, no glibc
# symbol newer than 2.36, under 60 MB (the carry limit to that machine is 64 MiB), and it runs.
# Part of share/scripts; `make static` calls it. Usage: sh share/scripts/static-build.sh [DIR]
#
# The link itself is meson's (-Dstatic_bundle=true, see the root meson.build): LLVM 19 from
# /usr/lib/llvm-19/lib/*.a, liblua5.4.a, libz.a, libzstd.a, -static-libstdc++ -static-libgcc,
# --gc-sections, stripped, and only the Lua C API exported (static_exports.map).
set -eu
cd "$(dirname "$0")/../.."
dir=${1:-build-static}
max_glibc=2.36
max_mb=60

if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" -Dstatic_bundle=true -Dtests=false --buildtype=release >/dev/null
fi
ninja -C "$dir" helua >/dev/null
bin=$dir/helua

fail() { echo "static-build: $*" >&2; exit 1; }

# Shared libraries: glibc's only (libc, libm; libdl/libpthread live in libc since 2.34).
needed=$(objdump -p "$bin" | awk '/NEEDED/ {print $2}' | tr '\n' ' ')
for lib in $needed; do
  case $lib in
    libc.so.6|libm.so.6|libdl.so.2|libpthread.so.0|ld-linux-x86-64.so.2) ;;
    *) fail "$bin needs $lib; only glibc may be shared" ;;
  esac
done

# The newest glibc symbol version it asks for.
newest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -n 1)
if [ "$(printf '%s\n%s\n' "$newest" "$max_glibc" | sort -V | tail -n 1)" != "$max_glibc" ]; then
  fail "$bin needs glibc $newest, newer than $max_glibc"
fi

bytes=$(stat -c %s "$bin")
mb=$((bytes / 1000000))
[ "$mb" -lt "$max_mb" ] || fail "$bin is $mb MB, over $max_mb MB"

version=$("$bin" --version) || fail "$bin --version failed"

echo "static-build: $bin"
echo "  $version"
echo "  size:    $mb MB ($bytes bytes)"
echo "  shared:  $needed"
echo "  glibc:   needs up to GLIBC_$newest (limit $max_glibc)"
