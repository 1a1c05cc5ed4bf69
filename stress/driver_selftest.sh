#!/bin/sh
# The stress driver's own promises (stress/driver_selftest.c): a run that dies prints its replay
# line; a run that did nothing, or whose checks mostly could not decide, is not clean; noise
# points in thread-exit destructors are scheduled under PCT.
set -u
prog="$1"
out="${TEST_TMPDIR:-/tmp}/driver_selftest.out"
fail() { echo "driver_selftest: $*" >&2; sed 's/^/    /' "$out" >&2; exit 1; }

# Exits with the status of the command, its output in $out (no sanitizer options of ours).
run() { "$prog" --quiet "$@" >"$out" 2>&1; }

run --only=self.abort --threads=2 --ops=1 --seed=5 --noise=off
status=$?
[ "$status" -ne 0 ] || fail "self.abort: exit status 0"
grep -q "died of signal 6 in self.abort (threads=2)" "$out" || fail "self.abort: no death line"
grep -q "replay: .* --only=self.abort --threads=2 --seed=5 --noise=off --ops=1" "$out" ||
    fail "self.abort: no replay line"

run --only=self.nothing --threads=1 --ops=1
[ $? -eq 1 ] || fail "self.nothing: not a failure"
grep -q "VIOLATION in self.nothing (threads=1): nothing ran" "$out" || fail "self.nothing: message"

run --only=self.undecided --threads=1 --ops=1
[ $? -eq 1 ] || fail "self.undecided: not a failure"
grep -q "VIOLATION in self.undecided (threads=1): UNDECIDED: 1 checks" "$out" ||
    fail "self.undecided: message"

run --only=self.some_undecided --threads=1 --ops=1 --noise=off
[ $? -eq 0 ] || fail "self.some_undecided: not clean"
grep -qE "^self.some_undecided +1 +off +1 +[0-9]+ +3 +1 +0 +0$" "$out" ||
    fail "self.some_undecided: the table does not show 3 checked, 1 undecided"

run --only=self.exit_points --threads=2 --ops=1 --seed=9 --noise=pct
[ $? -eq 0 ] || fail "self.exit_points: not clean"
steps="$(sed -n 's/^pct self.exit_points threads=2: \([0-9]*\) scheduled steps.*/\1/p' "$out")"
[ -n "$steps" ] && [ "$steps" -ge 1000 ] ||
    fail "self.exit_points: ${steps:-no} scheduled steps; the destructors' 1000 points were not scheduled"

# More PCT threads than the scheduler controls is refused, not run half-controlled.
run --only=self.exit_points --threads=65 --ops=1 --noise=pct
[ $? -eq 2 ] || fail "--noise=pct --threads=65: accepted"
echo "driver_selftest: all passed"
