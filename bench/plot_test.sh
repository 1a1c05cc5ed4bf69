#!/bin/sh
# bench/plot.sh on a fixture: one PNG and one JSON per family, and results.md with the date, the
# machine, the load and a table per bench holding the fixture's numbers.
# Usage: plot_test.sh PLOT_SH FIXTURE_JSON
set -eu
plot="$1"
fixture="$2"
out="${TEST_TMPDIR:-$(mktemp -d)}/plots"
fail() { echo "plot_test: $*" >&2; exit 1; }

BENCH_LOAD="0.01, 0.02, 0.03" "$plot" "$fixture" "$out"

# vec: a bench slower than 1,000 operations per second (a freeze of 4M elements) still plots.
for family in hp snap vec server; do
    [ -s "$out/$family.png" ] || fail "$family.png missing"
    # PNG signature: \211 P N G
    [ "$(head -c 4 "$out/$family.png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "$family.png is not a PNG"
done
[ ! -e "$out/hp.retire_reclaim.png" ] || fail "one PNG per family, not per bench"
[ "$(grep -c '"bench"' "$out/hp.json")" -eq 5 ] || fail "hp.json should hold the 5 hp rows"
[ "$(grep -c '"bench"' "$out/snap.json")" -eq 3 ] || fail "snap.json should hold the 3 snap rows"
grep -q '"snap' "$out/hp.json" && fail "hp.json holds snap rows"
[ "$(grep -c '"bench"' "$out/server.json")" -eq 2 ] || fail "server_* rows make the server family"
[ ! -e "$out/server_get_P16.png" ] || fail "server_get_P16 is not a family of its own"
grep -q '^Measured [0-9-]* [0-9:]* UTC on .*, [0-9]* CPUs' "$out/results.md" || fail "no date and machine"
grep -q 'load average before the run: 0.01, 0.02, 0.03' "$out/results.md" || fail "no load"
grep -q '^### hp.protect_reset$' "$out/results.md" || fail "no hp.protect_reset table"
grep -q '^| threads | cask Mops/s (ns/op) | ck Mops/s (ns/op) |$' "$out/results.md" || fail "bad header"
grep -q '^| 2 | 2000.00 (1.00) | 300.00 (6.67) |$' "$out/results.md" || fail "bad hp row"
grep -q '^| 2 | - | 50.00 (40.00) |$' "$out/results.md" || fail "a missing measurement must show -"
echo "plot_test: ok"
