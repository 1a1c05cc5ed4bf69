#!/bin/sh
# make_mutant.sh: writes tsan/mutants/NAME.patch from a sed expression applied to one file, with
# the header run_mutants.sh reads. Fails if the expression changes nothing (the code moved on:
# update the expression). Usage:
#   tsan/make_mutant.sh NAME FILE SED-EXPR EXPECT SCENARIO QUICK "DESCRIPTION" [CONFIG] [TEST]
# (TEST: a Bazel test target that run_mutants.sh runs instead of the stress program.)
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
name="$1" file="$2" expr="$3" expect="$4" scenario="$5" quick="$6" description="$7"
config="${8:-tsan}"
test_target="${9:-}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/a/$(dirname "$file")" "$work/b/$(dirname "$file")"
cp "$root/$file" "$work/a/$file"
sed "$expr" "$root/$file" >"$work/b/$file"
if cmp -s "$work/a/$file" "$work/b/$file"; then
    echo "make_mutant: '$expr' changes nothing in $file" >&2
    exit 1
fi
{
    echo "# description: $description"
    echo "# expect: $expect"
    echo "# scenario: $scenario"
    echo "# config: $config"
    echo "# quick: $quick"
    [ -z "$test_target" ] || echo "# test: $test_target"
    echo "#"
    (cd "$work" && diff -u "a/$file" "b/$file" | sed -e '1s/\t.*//' -e '2s/\t.*//') || true
} >"$root/tsan/mutants/$name.patch"
echo "wrote tsan/mutants/$name.patch"
