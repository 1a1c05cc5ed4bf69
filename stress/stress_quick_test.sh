#!/bin/sh
# A quick pass of every stress scenario with each noise mode: all must come out clean.
set -eu
stress="$1"
"$stress" --quiet --threads=2,4 --seconds=1 --noise=random --seed=1
"$stress" --quiet --threads=3 --ops=3000 --noise=pct --seed=2
"$stress" --quiet --threads=2 --ops=20000 --noise=off --seed=3
