# lib.sh -- what the shell test drivers share: a scratch directory removed
# on exit, pass / fail counters, the sanitizer report pattern and the
# closing "N passed, N failed" line.  Source it after setting top_srcdir
# and top_builddir:   . "$top_srcdir/tests/lib.sh"; test_begin NAME
# shellcheck shell=sh

passed=0
failed=0
sanitizer='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer'
sanitizer="$sanitizer|MemorySanitizer|runtime error:"

# test_begin NAME: makes $tmp, removed however the driver ends
test_begin() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# one output line per failure
fail() {
    printf 'FAIL: %s\n' "$*"
    failed=$((failed + 1))
}

pass() {
    passed=$((passed + 1))
}

# test_end: the closing line; the driver's exit status
test_end() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
