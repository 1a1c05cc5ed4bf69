#!/bin/sh
# Each argument is a wrong way of docs/cookbook.md that writes to frozen memory: it must die
# with SIGABRT and the frozen-memory trap's report (so the cookbook's claim stays true).
status=0
for program in "$@"; do
    out="$("$program" 2>&1)"
    rc=$?
    # 134: killed by SIGABRT (128 + 6), as the trap's report ends
    if [ "$rc" -ne 134 ] || ! printf '%s\n' "$out" | grep -q "write to frozen memory"; then
        echo "NOT CAUGHT: $program (exit $rc)"
        printf '%s\n' "$out"
        status=1
    else
        echo "caught: $program"
    fi
done
exit $status
