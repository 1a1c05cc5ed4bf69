#!/bin/sh
# Vendoring check: include/ + lib/ copied into another tree build with one plain compiler line,
# no build system and no configure step, with warnings as errors, in checked and NDEBUG builds;
# a program using the library links against liburcu and pthreads only, and runs.
# Usage: tests/vendor_check.sh CC
set -eu
cc="${1:-cc}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -R "$root/include" "$root/lib" "$work/"
cp "$root/tests/hp_test.c" "$root/tests/expect.h" "$root/tests/expect_death.c" "$work/"
cd "$work"
for mode in "" "-DNDEBUG"; do
    # shellcheck disable=SC2086
    "$cc" -std=c11 -Wall -Wextra -Werror -O2 $mode -Iinclude -c lib/*.c
done
"$cc" -std=c11 -Wall -Wextra -Werror -O2 -Iinclude -I. lib/*.c hp_test.c expect_death.c \
    -o hp_test -lurcu -lurcu-qsbr -lpthread
./hp_test
