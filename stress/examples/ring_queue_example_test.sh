#!/bin/sh
# The example must be clean on the correct queue and must catch the broken twin; and asked
# whether the queue is lock-free (it is not), the harness must say no, naming where it parked.
set -u
good="$1"
broken="$2"
if ! "$good" --quiet --only=example.ring --threads=2,4 --seconds=2 --seed=1; then
    echo "FAIL: the correct queue was reported" >&2
    exit 1
fi
out="$("$broken" --quiet --only=example.ring --threads=4 --seconds=10 --seed=1 2>&1)"
status=$?
echo "$out" | tail -5
if [ "$status" -eq 0 ]; then
    echo "FAIL: the broken queue was not caught" >&2
    exit 1
fi
case "$out" in
*VIOLATION*replay:*) echo "ok: the broken queue was caught, with a replay command" ;;
*ThreadSanitizer*) echo "ok: the broken queue was caught by ThreadSanitizer" ;;
*HANG*replay:*) echo "ok: the broken queue livelocked and the watchdog reported it" ;;
*) echo "FAIL: the broken queue failed without a report" >&2; exit 1 ;;
esac
out="$("$good" --quiet --only=example.ring_progress --threads=3 --seconds=1 --seed=1 2>&1)"
status=$?
echo "$out" | tail -4
case "$status:$out" in
1:*"HANG in example.ring_progress"*'parked on purpose at noise point "ring.push.claimed"'*)
    echo "ok: the queue is not lock-free, and the report says where the parked thread stops it" ;;
*) echo "FAIL: example.ring_progress did not end in a hang report naming the parked point" >&2
   exit 1 ;;
esac
