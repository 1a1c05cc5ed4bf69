#!/bin/sh
# A quick pass of every stress scenario with each noise mode: all must come out clean.
set -eu
stress="$1"
"$stress" --quiet --threads=2,4 --seconds=1 --noise=random --seed=1
"$stress" --quiet --threads=3 --ops=3000 --noise=pct --seed=2
"$stress" --quiet --threads=2 --ops=20000 --noise=off --seed=3
# A misspelt scenario name is an error, also next to a good one: it must not shrink the run.
for only in "queue.pairs,queue.nosuch" "nosuch." ""; do
    if "$stress" --quiet --only="$only" --ops=10 >/dev/null 2>&1; then
        echo "stress --only='$only' was accepted; it names no scenario" >&2
        exit 1
    fi
done
