#!/usr/bin/env bash
# docs/examples/regen_reports.sh: the reports pasted in docs/cookbook.md, from real runs.
#
#   --caught  run every wrong way (ThreadSanitizer build) and fail unless each one is caught the
#             way the cookbook says: a ThreadSanitizer report, the frozen-memory trap, or the
#             program's own check
#   --check   fail unless every report pasted in docs/cookbook.md is what a fresh run prints
#             (after normalising addresses, pids, thread ids and paths), and every program
#             pasted there is the file as it is
#   --write   paste fresh reports (and the programs) into docs/cookbook.md
#
# A report sits in the cookbook between "<!-- report NAME -->" and "<!-- end report -->"; a
# program of docs/examples/ between "<!-- file NAME.c -->" and "<!-- end file -->".
# Needs llvm-symbolizer-19 (package llvm-19) for reports that name files and lines.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
COOKBOOK=docs/cookbook.md

# name:how it is caught (tsan, trap or check)
WRONG=(
    r1_immutable_through_queue_wrong:tsan
    r2_immutable_by_reference_wrong:tsan
    r3_deep_copies_wrong:tsan
    r4_frozen_then_thaw_wrong:trap
    r5_frozen_namespace_wrong:tsan
    r6_frozen_in_namespace_wrong:trap
    r7_hand_over_wrong:tsan
    r8_shared_mutable_wrong:tsan
    r9_snapshot_rcu_wrong:check
    p1_separate_object_wrong:tsan
    p2_all_or_nothing_wrong:check
    p3_worker_pool_close_wrong:check
)

say() { printf 'regen_reports: %s\n' "$*" >&2; }

modes=()
for arg in "$@"; do
    case "$arg" in
    --caught | --check | --write) modes+=("$arg") ;;
    *) say "usage: $0 --caught | --check | --write"; exit 2 ;;
    esac
done
[ ${#modes[@]} -gt 0 ] || { say "usage: $0 --caught | --check | --write"; exit 2; }

symbolizer="$(command -v llvm-symbolizer-19 || true)"
[ -n "$symbolizer" ] || { say "llvm-symbolizer-19 is missing (apt-get install llvm-19)"; exit 1; }

targets=()
for w in "${WRONG[@]}"; do targets+=("//docs/examples:${w%%:*}"); done
if ! bazel build --config=tsan "${targets[@]}" >/dev/null 2>&1; then
    bazel build --config=tsan "${targets[@]}"
    exit 1
fi
bin="$(bazel info --config=tsan bazel-bin 2>/dev/null)/docs/examples"

# normalize: what differs between runs and machines becomes a fixed word. Frames inside the
# library keep their file but lose the line, so that editing lib/ does not make the pasted
# reports stale; the examples' own lines stay.
normalize() {
    sed -e 's/ (BuildId: [0-9a-f]*)//g' \
        -e 's/ ([^ ()]*+0x[0-9a-f]*)//g' \
        -e 's/ ([^ ()]*+0x[0-9a-f]*)//g' \
        -e 's,/proc/self/cwd/,,g' \
        -e 's,^\(    #[0-9]* [^ ]* \)\(lib\|include\)\(/[^ :]*\):[0-9:]*,\1\2\3,' \
        -e 's/(pid=[0-9]*)/(pid=N)/g' \
        -e 's/(tid=[0-9]*, [a-z]*)/(tid=N)/g' \
        -e 's/0x[0-9a-f]\{4,\}/0x.../g'
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0
for w in "${WRONG[@]}"; do
    name="${w%%:*}" how="${w##*:}"
    # through sh, so that this shell does not announce the expected aborts
    TSAN_OPTIONS="halt_on_error=1:history_size=4:external_symbolizer_path=$symbolizer" \
        sh -c '"$1" >"$2" 2>&1; echo $? >"$3"' sh "$bin/$name" "$work/$name.raw" "$work/$name.rc"
    rc="$(cat "$work/$name.rc")"
    normalize <"$work/$name.raw" >"$work/$name.txt"
    case "$how" in
    tsan) want=66 needle="WARNING: ThreadSanitizer:" ;;
    trap) want=134 needle="what: write to frozen memory" ;;
    check) want=1 needle="check failed:" ;;
    esac
    if [ "$rc" -eq "$want" ] && grep -q "$needle" "$work/$name.txt"; then
        echo "$how" >"$work/$name.caught"
    else
        echo "$name: NOT CAUGHT (exit $rc, expected $want and \"$needle\"):" >"$work/$name.caught"
        sed 's/^/    /' "$work/$name.txt" >>"$work/$name.caught"
    fi
done

# The cookbook with every report replaced by the fresh one.
fresh_cookbook() {
    awk -v dir="$work" -v src=docs/examples '
        /^<!-- report [a-z0-9_]+ -->$/ {
            print
            name = $3
            print "```text"
            file = dir "/" name ".txt"
            while ((getline line < file) > 0) print line
            close(file)
            print "```"
            skipping = 1
            next
        }
        /^<!-- file [a-z0-9_.]+ -->$/ {
            print
            name = $3
            print "```c"
            file = src "/" name
            while ((getline line < file) > 0) print line
            close(file)
            print "```"
            skipping = 1
            next
        }
        /^<!-- end (report|file) -->$/ { skipping = 0 }
        !skipping { print }
    ' "$COOKBOOK"
}

for mode in "${modes[@]}"; do
    case "$mode" in
    --caught)
        for w in "${WRONG[@]}"; do
            name="${w%%:*}" how="${w##*:}"
            if [ "$(cat "$work/$name.caught")" = "$how" ]; then
                say "caught ($how): $name"
            else
                cat "$work/$name.caught" >&2
                status=1
            fi
        done
        ;;
    --check)
        for w in "${WRONG[@]}"; do
            name="${w%%:*}"
            if ! grep -qx "<!-- report $name -->" "$COOKBOOK"; then
                say "$COOKBOOK has no report for $name"
                status=1
            fi
        done
        if ! fresh_cookbook | diff -u "$COOKBOOK" - >"$work/diff"; then
            say "reports in $COOKBOOK are stale (run $0 --write):"
            cat "$work/diff" >&2
            status=1
        else
            say "reports in $COOKBOOK are current"
        fi
        ;;
    --write)
        fresh_cookbook >"$work/cookbook.md" && cp "$work/cookbook.md" "$COOKBOOK"
        say "wrote the reports into $COOKBOOK"
        ;;
    esac
done
exit $status
