#!/bin/sh
# The example in README.md is tests/readme_example_test.c, character for character: the code
# block that follows the line "<!-- tests/readme_example_test.c -->" must equal the file.
# Usage: readme_example_sync_test.sh README.md tests/readme_example_test.c
set -eu
readme="$1"
example="$2"
block="$(awk '
    /^<!-- tests\/readme_example_test.c -->$/ { found = 1; next }
    found == 1 && /^```c$/ { found = 2; next }
    found == 2 && /^```$/ { exit }
    found == 2 { print }
' "$readme")"
if [ "$block" != "$(cat "$example")" ]; then
    echo "README.md's example differs from $example:" >&2
    printf '%s\n' "$block" | diff -u "$example" - >&2 || true
    exit 1
fi
echo "README.md's example is $example"
