#!/bin/sh
# Builds kvserver the way a user of cask would: copies cask's include/ and lib/ into the build
# directory (vendoring) and compiles everything with plain compiler lines, no build system.
#
#   examples/kvserver/build.sh [--release | --tsan] [--out DIR]
#
#   (default)  -O2 -g, cask's run-time checks on (CASK_CHECKED follows !NDEBUG)
#   --release  -O2 -DNDEBUG (cask's checks off), for benchmarks
#   --tsan     clang-19 (or $CC) with -fsanitize=thread, for the race tests
# CC picks the compiler (default cc). The binary is DIR/kvserver (default DIR: ./build here).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/build"
cc="${CC:-cc}"
flags="-O2 -g"
while [ $# -gt 0 ]; do
    case "$1" in
    --release) flags="-O2 -DNDEBUG" ;;
    --tsan) cc="${CC:-clang-19}"; flags="-O1 -g -fsanitize=thread" ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    *) echo "usage: $0 [--release | --tsan] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/vendor" "$out/obj"
mkdir -p "$out/vendor" "$out/obj/cask"
cp -R "$root/include" "$root/lib" "$out/vendor/"
cd "$out/obj"
# shellcheck disable=SC2086
(cd cask && "$cc" -std=c11 -Wall -Wextra -Werror $flags -I"$out/vendor/include" -c "$out"/vendor/lib/*.c)
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror $flags -I"$out/vendor/include" -c "$here"/*.c
# shellcheck disable=SC2086
"$cc" $flags ./*.o cask/*.o -o "$out/kvserver" -lurcu -lurcu-qsbr -lpthread
echo "$out/kvserver"
