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

# py_json: Python the drivers' JSON checks share: get(d, "a.b.0") (MISSING
# when absent), same(a, b) (JSON equality, type-strict: true is not 1,
# numbers by value) and show(v)
py_json='
import json, os, re, sys
MISSING = object()
def get(d, path):
    for k in path.split(".") if path else []:
        if isinstance(d, list):
            try:
                d = d[int(k)]
            except (ValueError, IndexError):
                return MISSING
        elif isinstance(d, dict) and k in d:
            d = d[k]
        else:
            return MISSING
    return d
def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
def show(v):
    return "(missing)" if v is MISSING else json.dumps(v, ensure_ascii=False)
'

# first FILE: the first line of FILE, or (empty)
first() {
    if [ -s "$1" ]; then head -n 1 "$1"; else echo '(empty)'; fi
}

# sanitized WHAT FILE: FILE (a standard error) has no sanitizer report
sanitized() {
    if grep -E "$sanitizer" "$2" > /dev/null 2>&1; then
        fail "$1: sanitizer report: $(grep -E "$sanitizer" "$2" | head -n 1)"
        return 1
    fi
    return 0
}

# one output line per failure
fail() {
    printf 'FAIL: %s\n' "$*"
    failed=$((failed + 1))
}

pass() {
    passed=$((passed + 1))
}

# same_text CHECK GOT WANT: GOT is WANT
same_text() {
    if [ "$2" = "$3" ]; then
        pass
    else
        fail "$1: got '$2', expected '$3'"
    fi
}

# test_end: the closing line; the driver's exit status
test_end() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
