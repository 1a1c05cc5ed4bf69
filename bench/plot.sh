#!/usr/bin/env bash
# bench/plot.sh JSON OUTDIR: turn the measurements of `./cask bench --json JSON` into, for each
# family of benches (the name before the first dot or underscore: hp, snap, queue, map, vec,
# server, ...):
#   OUTDIR/<family>.png   one panel per bench, throughput (Mops/s, all threads together, log
#                         scale) against the thread count, one line per implementation
#                         (gnuplot, pngcairo);
#   OUTDIR/<family>.json  that family's rows, in the input's format;
# and OUTDIR/results.md: the date, the machine (CPU model and count from /proc/cpuinfo, the load
# average from uptime; BENCH_LOAD overrides it, so that `./cask bench --plot` can give the load
# from before the run) and one table per bench.
# Reads the one-row-per-line JSON that the benchmarks write. Needs gnuplot.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 JSON OUTDIR" >&2
    exit 2
fi
json="$1"
out="$2"
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot is missing (apt-get install gnuplot-nox)" >&2; exit 1; }
[ -r "$json" ] || { echo "plot.sh: cannot read $json" >&2; exit 1; }
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# rows.tsv: bench, impl, threads, ops_per_sec, ns_per_op, the original line; in input order.
awk '
    function field(line, key,    s) {
        if (match(line, "\"" key "\": *\"[^\"]*\"")) {
            s = substr(line, RSTART, RLENGTH)
            sub(/^"[^"]*": *"/, "", s)
            sub(/"$/, "", s)
            return s
        }
        if (match(line, "\"" key "\": *[-+0-9.eE]+")) {
            s = substr(line, RSTART, RLENGTH)
            sub(/^"[^"]*": */, "", s)
            return s
        }
        return ""
    }
    /"bench":/ {
        line = $0
        sub(/^[ \t]*/, "", line)
        sub(/,[ \t]*$/, "", line)
        print field($0, "bench") "\t" field($0, "impl") "\t" field($0, "threads") "\t" \
              field($0, "ops_per_sec") "\t" field($0, "ns_per_op") "\t" line
    }
' "$json" >"$work/rows.tsv"
[ -s "$work/rows.tsv" ] || { echo "plot.sh: no measurements in $json" >&2; exit 1; }

load="${BENCH_LOAD:-$(uptime | sed 's/.*load average: *//')}"
cpu="$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')"
cpus="$(grep -c '^processor' /proc/cpuinfo)"
{
    echo "# Benchmark results"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $cpu, $cpus CPUs (/proc/cpuinfo);"
    echo "load average before the run: $load. Made by \`./cask bench --plot\` (bench/plot.sh)."
    echo
    echo "Mops/s: operations per second of all threads together, in millions; ns/op: wall-clock"
    echo "nanoseconds per operation on one thread. Median of the runs each benchmark makes."
} >"$out/results.md"

families="$(cut -f1 "$work/rows.tsv" | sed 's/[._].*//' | awk '!seen[$0]++')"
for family in $families; do
    awk -F'\t' -v f="$family" 'index($1, f ".") == 1 || index($1, f "_") == 1' "$work/rows.tsv" >"$work/$family.tsv"
    {
        echo "["
        cut -f6 "$work/$family.tsv" | sed '$!s/$/,/' | sed 's/^/  /'
        echo "]"
    } >"$out/$family.json"

    benches="$(cut -f1 "$work/$family.tsv" | awk '!seen[$0]++')"
    count="$(printf '%s\n' "$benches" | wc -l)"
    cols=1
    [ "$count" -gt 1 ] && cols=2
    [ "$count" -gt 4 ] && cols=3
    grid_rows=$(((count + cols - 1) / cols))
    {
        echo "set terminal pngcairo size $((cols * 600)),$((grid_rows * 380)) font 'sans,9'"
        echo "set output '$out/$family.png'"
        echo "set datafile separator '\t'"
        echo "set datafile missing '-'"
        echo "set key outside right top vertical box"
        echo "set grid"
        echo "set xlabel 'threads'"
        echo "set ylabel 'Mops/s (all threads, log scale)'"
        echo "set logscale y 10"
        echo "set multiplot layout $grid_rows,$cols title '$family: throughput against threads'"
    } >"$work/$family.gp"

    printf '\n## %s\n' "$family" >>"$out/results.md"
    n=0
    for bench in $benches; do
        n=$((n + 1))
        impls="$(awk -F'\t' -v b="$bench" '$1 == b { print $2 }' "$work/$family.tsv" | awk '!seen[$0]++')"
        threads="$(awk -F'\t' -v b="$bench" '$1 == b { print $3 }' "$work/$family.tsv" | sort -n | uniq)"
        data="$work/$family.$n.dat"
        # one column per implementation: Mops/s at each thread count ("-" if not measured)
        {
            printf 'threads'
            for impl in $impls; do printf '\t%s' "$impl"; done
            printf '\n'
            for t in $threads; do
                printf '%s' "$t"
                for impl in $impls; do
                    v="$(awk -F'\t' -v b="$bench" -v i="$impl" -v t="$t" \
                        '$1 == b && $2 == i && $3 == t { printf "%.6g", $4 / 1e6; exit }' "$work/$family.tsv")"
                    printf '\t%s' "${v:--}"
                done
                printf '\n'
            done
        } >"$data"
        nimpl="$(printf '%s\n' "$impls" | wc -l)"
        {
            echo "set title '$bench' noenhanced"
            echo "set xtics ($(printf '%s\n' "$threads" | paste -sd, -))"
            echo "plot for [i=2:$((nimpl + 1))] '$data' using 1:i with linespoints lw 2 title columnheader(i) noenhanced"
        } >>"$work/$family.gp"

        {
            printf '\n### %s\n\n| threads |' "$bench"
            for impl in $impls; do printf ' %s Mops/s (ns/op) |' "$impl"; done
            printf '\n|---|'
            for impl in $impls; do printf -- '---|'; done
            printf '\n'
            for t in $threads; do
                printf '| %s |' "$t"
                for impl in $impls; do
                    awk -F'\t' -v b="$bench" -v i="$impl" -v t="$t" '
                        $1 == b && $2 == i && $3 == t { printf " %.2f (%.2f) |", $4 / 1e6, $5; found = 1; exit }
                        END { if (!found) printf " - |" }' "$work/$family.tsv"
                done
                printf '\n'
            done
        } >>"$out/results.md"
    done
    echo "unset multiplot" >>"$work/$family.gp"
    gnuplot "$work/$family.gp"
    echo "plot.sh: wrote $out/$family.png and $out/$family.json" >&2
done
echo "plot.sh: wrote $out/results.md" >&2
