#!/bin/sh
# A quick pass of every stress scenario with each noise mode: all must come out clean.
set -eu
stress="$1"
"$stress" --quiet --threads=2,4 --seconds=1 --noise=random --seed=1
"$stress" --quiet --threads=3 --ops=3000 --noise=pct --seed=2
# PCT with threads asleep in blocking calls: a steal must not hand the turn to another sleeper.
# With this seed two consumers asleep in a blocking pop passed the turn to each other at every
# steal, the producers never ran, and a consumer "hung" for 2 s (stress/pct.c).
"$stress" --quiet --only=queue.close --threads=4 --ops=3000 --noise=pct --seed=6563369
"$stress" --quiet --threads=2 --ops=20000 --noise=off --seed=3
# A misspelt scenario name is an error, also next to a good one: it must not shrink the run.
for only in "queue.pairs,queue.nosuch" "nosuch." ""; do
    if "$stress" --quiet --only="$only" --ops=10 >/dev/null 2>&1; then
        echo "stress --only='$only' was accepted; it names no scenario" >&2
        exit 1
    fi
done
