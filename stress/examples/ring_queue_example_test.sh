#!/bin/sh
# The example must be clean on the correct queue and must catch the broken twin.
set -u
good="$1"
broken="$2"
if ! "$good" --quiet --threads=2,4 --seconds=2 --seed=1; then
    echo "FAIL: the correct queue was reported" >&2
    exit 1
fi
out="$("$broken" --quiet --threads=4 --seconds=10 --seed=1 2>&1)"
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
