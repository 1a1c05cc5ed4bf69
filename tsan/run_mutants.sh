#!/usr/bin/env bash
# run_mutants.sh: measures the stress harness's power on bugs planted on purpose.
#
# Each tsan/mutants/NAME.patch is a small patch against the library (lib/ or include/cask/) with
# a header of "# key: value" lines:
#   description  one line: what the bug is
#   expect       the detector that should catch it (tsan, asan, invariant, linearizability,
#                trap, hang)
#   scenario     the stress scenarios to run (--only)
#   config       tsan (default) or asan: the sanitizer build of the stress program
#   quick        yes: part of the quick subset that ./cask test runs
#   test         (optional) a Bazel test target to run instead of the stress program, once,
#                in the config above: a deterministic schedule that reaches the bug every time
#                (scenario is then "-")
# For each mutant this script copies the working tree to a scratch tree, applies the patch,
# builds the stress program, runs it until the first report or the time budget (or runs the
# mutant's test), and prints what caught the bug and how long it took. Last line:
# "mutants: D/T detected".
#
# Usage: tsan/run_mutants.sh [--quick] [--seconds=S] [NAME...]   (NAME: exact, or a prefix)
# Exit status: 0 if every mutant run was detected, 1 otherwise, 2 on a usage or setup error.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRATCH="${TMPDIR:-/tmp}/cask-mutants-$(printf %s "$ROOT" | md5sum | cut -c1-8)"
TREE="$SCRATCH/tree"
quick=0
seconds=60 # budget per mutant
chunk=5    # one stress run; runs repeat with new seeds until a report or the budget
names=()
for arg in "$@"; do
    case "$arg" in
    --quick) quick=1 ;;
    --seconds=*) seconds="${arg#--seconds=}" ;;
    -h | --help)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*) echo "run_mutants: unknown option $arg" >&2; exit 2 ;;
    *) names+=("$arg") ;;
    esac
done
[ "$quick" = 1 ] && [ "$seconds" = 60 ] && seconds=30

header() { sed -n "s/^# $2: //p" "$1" | head -1; }

mutants=()
if [ ${#names[@]} -gt 0 ]; then
    for n in "${names[@]}"; do # an exact name, else every mutant whose name starts with it
        f="$ROOT/tsan/mutants/$n.patch"
        if [ -f "$f" ]; then
            mutants+=("$f")
            continue
        fi
        found=0
        for f in "$ROOT/tsan/mutants/$n"*.patch; do
            [ -f "$f" ] && mutants+=("$f") && found=1
        done
        [ "$found" = 1 ] || { echo "run_mutants: no mutant $n* (see tsan/mutants/)" >&2; exit 2; }
    done
else
    for f in "$ROOT"/tsan/mutants/*.patch; do
        [ -f "$f" ] || continue
        [ "$quick" = 1 ] && [ "$(header "$f" quick)" != yes ] && continue
        mutants+=("$f")
    done
fi
[ ${#mutants[@]} -gt 0 ] || { echo "run_mutants: no mutants to run" >&2; exit 2; }

# A fresh copy of the working tree (tracked and new files, not ignored ones) at a fixed path, so
# the scratch workspace keeps its Bazel cache between mutants and only patched files rebuild.
fresh_tree() {
    rm -rf "$TREE" && mkdir -p "$TREE" || return 1
    (cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$TREE")
}

classify() { # log exit_status -> detector name, or "" if clean
    local log="$1" status="$2"
    # The watchdog's hang report comes first: the threads it leaves stuck can make TSan report a
    # thread leak (and exit 66) on the way out, which is a consequence, not the finding.
    # 66 is TSan's exit status after reports (exitcode=66), also when the report itself did not
    # reach the log (a child process, or output cut short by the abort).
    # A violation reported before the hang is the finding, though: the hang is then what the
    # broken run did next (a push stuck writing into pages the bad freeze had protected).
    local hang_at violation_at
    hang_at="$(grep -n -m1 "^HANG in" "$log" | cut -d: -f1)"
    violation_at="$(grep -n -m1 "^VIOLATION" "$log" | cut -d: -f1)"
    if [ -n "$hang_at" ] && [ -n "$violation_at" ] && [ "$violation_at" -lt "$hang_at" ]; then
        if grep -q "VIOLATION.*linearizab" "$log"; then echo "linearizability"; else echo "invariant"; fi
    elif [ -n "$hang_at" ]; then echo "HANG"
    elif grep -q "WARNING: ThreadSanitizer" "$log" || [ "$status" = 66 ]; then echo "TSan report"
    elif grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)" "$log"; then echo "ASan report"
    elif grep -q "runtime error:" "$log"; then echo "UBSan report"
    elif grep -q "fatal misuse of frozen" "$log"; then echo "frozen-write trap"
    elif grep -q "VIOLATION.*linearizab" "$log"; then echo "linearizability"
    elif grep -q "VIOLATION" "$log"; then echo "invariant"
    elif [ "$status" = 124 ] || [ "$status" = 137 ]; then
        echo "timeout/hang"
    elif [ "$status" != 0 ]; then echo "crash (exit $status)"
    fi
}

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Runs the mutant's test once (a deterministic schedule that must fail); sets caught, elapsed and
# seed. Returns 1 if it did not build (the log's tail goes to stderr).
run_test() {
    local target="$1" log="$SCRATCH/$name.log" start status
    start=$(date +%s.%N)
    (cd "$TREE" && bazel test --config="$config" --test_output=all --cache_test_results=no \
        "$target") >"$log" 2>&1
    status=$?
    elapsed="$(since "$start")"
    seed="-"
    case "$status" in
    0) caught="" ;;
    3) caught="$(classify "$log" "$status")"
       if [ -z "$caught" ] || [ "$caught" = "crash (exit 3)" ]; then
           caught="test failed" # an assertion of the test (tests/expect.h)
           grep -qE "expectation failed|: expected .* == " "$log" && caught="invariant"
       fi ;;
    *) tail -20 "$log" >&2
       return 1 ;;
    esac
}

# Runs the stress program on the mutant's scenarios in chunks with new seeds until a detector
# fires or the budget is spent; sets caught, elapsed and seed. Returns 1 if it did not build.
run_stress() {
    local bin log="$SCRATCH/$name.log" start status
    if ! (cd "$TREE" && bazel build --config="$config" //stress:stress >"$SCRATCH/build.log" 2>&1); then
        tail -20 "$SCRATCH/build.log" >&2
        return 1
    fi
    bin="$(cd "$TREE" && bazel info --config="$config" bazel-bin 2>/dev/null)/stress/stress"
    start=$(date +%s.%N)
    seed=1
    caught=""
    while :; do
        TSAN_OPTIONS="halt_on_error=1:history_size=4" \
            ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" UBSAN_OPTIONS="halt_on_error=1" \
            timeout -k 5 $((chunk + 30)) "$bin" --quiet --only="$scenario" --threads=4 \
            --seconds="$chunk" --seed="$seed" >"$log" 2>&1
        status=$?
        elapsed="$(since "$start")"
        if [ "$status" = 2 ]; then # a usage error (a scenario renamed?): it detected nothing
            tail -5 "$log" >&2
            return 2
        fi
        caught="$(classify "$log" "$status")"
        [ -n "$caught" ] && break
        awk -v e="$elapsed" -v c="$chunk" -v s="$seconds" 'BEGIN { exit !(e + c > s) }' && break
        seed=$((seed + 1))
    done
}

detected=0
total=0
rows=()
for m in "${mutants[@]}"; do
    name="$(basename "$m" .patch)"
    config="$(header "$m" config)"
    config="${config:-tsan}"
    scenario="$(header "$m" scenario)"
    expect="$(header "$m" expect)"
    target="$(header "$m" test)"
    total=$((total + 1))
    echo "mutant $name: building ($config)..." >&2
    if ! fresh_tree || ! (cd "$TREE" && patch -s -p1 <"$m"); then
        rows+=("$(printf '%-28s %-16s %-20s %s' "$name" "$expect" "PATCH FAILED" "-")")
        continue
    fi
    if [ -n "$target" ]; then run_test "$target"; else run_stress; fi || {
        rc=$?
        what="BUILD FAILED"
        [ "$rc" = 2 ] && what="USAGE ERROR"
        rows+=("$(printf '%-28s %-16s %-20s %s' "$name" "$expect" "$what" "-")")
        continue
    }
    if [ -n "$caught" ]; then
        detected=$((detected + 1))
    else
        caught="NOT DETECTED"
    fi
    rows+=("$(printf "%-28s %-16s %-20s %-8s %s" "$name" "$expect" "$caught" "$elapsed" "$seed")")
    echo "mutant $name: $caught after ${elapsed}s${target:+ ($target)}" >&2
done
(cd "$TREE" 2>/dev/null && bazel shutdown >/dev/null 2>&1)

printf '\n%-28s %-16s %-20s %-8s %s\n' "mutant" "expected" "caught by" "seconds" "seed"
for r in "${rows[@]}"; do printf '%s\n' "$r"; done
echo "mutants: $detected/$total detected"
[ "$detected" -eq "$total" ]
