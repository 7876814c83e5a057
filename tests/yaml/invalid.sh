#!/bin/sh
# invalid.sh -- checks the YAML front end's diagnostics on invalid input
#
# Each file in tests/yaml/invalid starts with one or more lines
#   # expect: LINE:COL: SEVERITY: MESSAGE-SUBSTRING
# naming, in order, every diagnostic yaml_dump must print (errors and
# notes): same line, column and severity, a message containing the
# substring, nothing else, exit status 1.  Inputs that cannot be committed
# as text (NUL bytes, malformed UTF-8) are generated here.  Every file in
# tests/yaml/crashes (inputs that once crashed the parser) must give exit
# status 0 or 1 and no sanitizer report.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
dump=$top_builddir/tests/yaml/yaml_dump

if [ ! -x "$dump" ]; then
    echo "error: $dump not built (make tests/yaml/yaml_dump)"
    exit 1
fi

. "$top_srcdir/tests/lib.sh"
test_begin invalid



# expect FILE NAME: runs yaml_dump on FILE and checks its expect lines
expect() {
    f=$1
    name=$2
    sed -n 's/^# expect: //p' "$f" > "$tmp/exp"
    if [ ! -s "$tmp/exp" ]; then
        fail "$name: no '# expect:' line"
        return
    fi
    "$dump" "$f" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    if grep -Eq "$sanitizer" "$tmp/err"; then
        fail "$name: exit $rc, sanitizer report: $(grep -E "$sanitizer" \
            "$tmp/err" | head -n 1)"
        return
    fi
    if [ "$rc" != 1 ]; then
        fail "$name: exit $rc, expected 1; stdout: $(head -c 200 "$tmp/out")"
        return
    fi
    # the diagnostics, without the file name: "LINE:COL: SEVERITY: ..."
    awk -v p="$f:" '
        substr($0, 1, length(p)) == p {
            r = substr($0, length(p) + 1)
            if (r ~ /^[0-9]+:[0-9]+: (error|warning|note): /)
                print r
        }' "$tmp/err" > "$tmp/act"
    why=$(awk '
        NR == FNR { e[++ne] = $0; next }
        { a[++na] = $0 }
        END {
            for (i = 1; i <= ne || i <= na; i++) {
                if (i > na) {
                    printf "missing \"%s\"; ", e[i]
                    continue
                }
                if (i > ne) {
                    printf "unexpected \"%s\"; ", a[i]
                    continue
                }
                match(e[i], /^[0-9]+:[0-9]+: [a-z]+:/)
                pre = substr(e[i], 1, RLENGTH)
                msg = substr(e[i], RLENGTH + 2)
                if (substr(a[i], 1, length(pre)) != pre ||
                    index(a[i], msg) == 0)
                    printf "expected \"%s\", got \"%s\"; ", e[i], a[i]
            }
        }' "$tmp/exp" "$tmp/act")
    if [ -n "$why" ]; then
        fail "$name: ${why%; }"
    else
        passed=$((passed + 1))
    fi
}

ls "$top_srcdir"/tests/yaml/invalid/*.yaml > "$tmp/list" 2>/dev/null
if [ ! -s "$tmp/list" ]; then
    fail "no files in $top_srcdir/tests/yaml/invalid"
fi
while IFS= read -r f; do
    expect "$f" "${f#"$top_srcdir"/}"
done < "$tmp/list"

# generated: bytes that do not belong in a committed text file
gen() {
    printf "$2" > "$tmp/$1.yaml"
    expect "$tmp/$1.yaml" "generated/$1"
}
gen nul '# expect: 2:5: error: NUL byte in source\na: 1\000\n'
gen nul_in_quotes '# expect: 2:6: error: NUL byte in source\na: "x\000y"\n'
gen utf8_ff '# expect: 2:4: error: invalid UTF-8 byte 0xFF\na: \377\n'
gen utf8_lone_continuation \
    '# expect: 2:5: error: invalid UTF-8 byte 0x80\na: x\200y\n'
gen utf8_truncated_at_eof \
    '# expect: 2:4: error: invalid UTF-8 byte 0xE2\na: \342\206'
gen utf8_truncated_mid \
    '# expect: 2:4: error: invalid UTF-8 byte 0xC3\na: \303x\n'
gen utf8_overlong '# expect: 2:4: error: invalid UTF-8 byte 0xC0\na: \300\200\n'
gen utf8_surrogate \
    '# expect: 2:4: error: invalid UTF-8 byte 0xED\na: \355\240\200\n'
gen utf8_above_max \
    '# expect: 2:4: error: invalid UTF-8 byte 0xF4\na: \364\220\200\200\n'

# large inputs must take linear time: 2 CPU seconds is plenty for them (a
# few milliseconds each), and too little for anything quadratic
stress() {
    awk "BEGIN { $2 }" > "$tmp/$1.yaml"
    (ulimit -t 2 2>/dev/null; exec "$dump" "$tmp/$1.yaml") \
        > /dev/null 2> "$tmp/err"
    rc=$?
    if grep -Eq "$sanitizer" "$tmp/err"; then
        fail "stress/$1: sanitizer report: $(grep -E "$sanitizer" \
            "$tmp/err" | head -n 1)"
    elif [ "$rc" != "$3" ]; then
        fail "stress/$1: exit $rc, expected $3 (killed after 2 CPU seconds?)"
    else
        passed=$((passed + 1))
    fi
}
stress plain_continuation_lines \
    'print "k: a"; for (i = 0; i < 30000; i++) print "  b"' 0
stress repeated_key 'for (i = 0; i < 30000; i++) print "k: v"' 1
stress many_keys 'for (i = 0; i < 200000; i++) print "k" i ": v"' 0
stress long_flow \
    'printf "k: ["; for (i = 0; i < 200000; i++) printf "a, "; print "]"' 0
stress block_scalar_lines \
    'print "k: |"; for (i = 0; i < 200000; i++) print "  line"' 0

# former crashes: any diagnostics are fine, a crash is not
crashes=$top_srcdir/tests/yaml/crashes
for f in "$crashes"/*.yaml; do
    [ -f "$f" ] || continue
    name=${f#"$top_srcdir"/}
    "$dump" "$f" > /dev/null 2> "$tmp/err"
    rc=$?
    if grep -Eq "$sanitizer" "$tmp/err"; then
        fail "$name: exit $rc, sanitizer report: $(grep -E "$sanitizer" \
            "$tmp/err" | head -n 1)"
    elif [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
        fail "$name: exit $rc (crash?), expected 0 or 1"
    else
        passed=$((passed + 1))
    fi
done

test_end
