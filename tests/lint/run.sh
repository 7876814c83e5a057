#!/bin/sh
# run.sh -- checks pomlc --lint against the diagnostics corpus
#
# tests/lint/invalid/*.poml (and prompt files, *.md) hold comment lines
#   # expect: LINE:COL: KIND: MESSAGE-SUBSTRING [-Wname]
#   # flags: EXTRA-OPTIONS        (optional)
#   # exit: N                     (optional, default 1)
# Each expect line must match a diagnostic line FILE:LINE:COL: KIND: ...
# (same position and kind, the substring somewhere in the message, the
# option name at the end when given), in order; every error pomlc prints
# must be expected.  tests/lint/valid/*.poml and the examples must lint
# with exit status 0 and no error (their expect lines, if any, must match
# too).  Also checked: JSON diagnostics and the usage errors (exit 2).
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POML_STDLIB:=$top_srcdir/stdlib}"
export POML_STDLIB
pomlc=$top_builddir/pomlc
corpus=$top_srcdir/tests/lint

if [ ! -x "$pomlc" ]; then
    echo "error: $pomlc not built"
    exit 1
fi

. "$top_srcdir/tests/lib.sh"
test_begin lint


# lint FILE [FLAGS...]: runs pomlc, leaving $tmp/out, $tmp/err and $rc
lint() {
    f=$1
    shift
    # shellcheck disable=SC2086
    "$pomlc" --lint --color=never "$@" "$f" > "$tmp/out" 2> "$tmp/err"
    rc=$?
}

# diags FILE: the diagnostic lines of FILE in $tmp/err, without the name
diags() {
    awk -v p="$1:" 'index($0, p) == 1 &&
        substr($0, length(p) + 1) ~ /^[0-9]+:[0-9]+: (error|warning|note): / {
            print substr($0, length(p) + 1)
        }' "$tmp/err" > "$tmp/diags"
}

# match: checks $tmp/exp against $tmp/diags; prints what is wrong
match() {
    awk -v expfile="$tmp/exp" '
    { d[++nd] = $0 }
    END {
        ne = 0
        while ((getline e < expfile) > 0)
            x[++ne] = e
        at = 1
        bad = 0
        for (i = 1; i <= ne; i++) {
            e = x[i]
            if (!match(e, /^[0-9]+:[0-9]+: (error|warning|note): /)) {
                print "  malformed expect line: " e
                bad = 1
                continue
            }
            pre = substr(e, 1, RLENGTH)
            msg = substr(e, RLENGTH + 1)
            opt = ""
            if (match(msg, / ?\[-W[a-z-]+\]$/)) {
                opt = substr(msg, RSTART, RLENGTH)
                sub(/^ /, "", opt)
                msg = substr(msg, 1, RSTART - 1)
            }
            found = 0
            for (k = at; k <= nd; k++) {
                if (substr(d[k], 1, length(pre)) != pre)
                    continue
                rest = substr(d[k], length(pre) + 1)
                if (msg != "" && index(rest, msg) == 0)
                    continue
                if (opt != "" && substr(rest, length(rest) - length(opt) + 1) != opt)
                    continue
                found = k
                break
            }
            if (!found) {
                print "  missing (in order): " e
                bad = 1
            } else {
                used[found] = 1
                at = found + 1
            }
        }
        for (k = 1; k <= nd; k++)
            if (!used[k] && d[k] ~ /^[0-9]+:[0-9]+: error: /) {
                print "  unexpected: " d[k]
                bad = 1
            }
        exit bad
    }' "$tmp/diags"
}

# report NAME: prints the expected and actual diagnostics side by side
report() {
    sed 's/^/  - /' "$tmp/exp"
    sed 's/^/  + /' "$tmp/diags"
}

sanity() {
    if grep -Eq "$sanitizer" "$tmp/err"; then
        fail "$1: sanitizer report: $(grep -E "$sanitizer" "$tmp/err" | head -n 1)"
        return 1
    fi
    if [ "$rc" -ge 128 ]; then
        fail "$1: killed by signal $((rc - 128))"
        return 1
    fi
    return 0
}

# ---- invalid files (prompt files too, their expect lines in comments
# of the frontmatter) ----
for f in "$corpus"/invalid/*.poml "$corpus"/invalid/*.md; do
    [ -f "$f" ] || continue
    name=invalid/${f##*/}
    sed -n 's/^# expect: //p' "$f" > "$tmp/exp"
    if [ ! -s "$tmp/exp" ]; then
        fail "$name: no '# expect:' line"
        continue
    fi
    flags=$(sed -n 's/^# flags: //p' "$f" | head -n 1)
    want=$(sed -n 's/^# exit: //p' "$f" | head -n 1)
    : "${want:=1}"
    # shellcheck disable=SC2086
    lint "$f" $flags
    sanity "$name" || continue
    diags "$f"
    if [ "$rc" != "$want" ]; then
        fail "$name: exit $rc, expected $want"
        report
        continue
    fi
    if ! match > "$tmp/why"; then
        fail "$name: diagnostics differ"
        cat "$tmp/why"
        report
        continue
    fi
    pass
done

# ---- valid files and the examples ----
for f in "$corpus"/valid/*.poml "$top_srcdir"/examples/*.poml \
         "$top_srcdir"/examples/seeds/*.poml; do
    [ -f "$f" ] || continue
    case $f in
    "$corpus"/*) name=${f#"$corpus"/} ;;
    *) name=${f#"$top_srcdir"/} ;;
    esac
    sed -n 's/^# expect: //p' "$f" > "$tmp/exp"
    flags=$(sed -n 's/^# flags: //p' "$f" | head -n 1)
    # shellcheck disable=SC2086
    lint "$f" $flags
    sanity "$name" || continue
    diags "$f"
    if [ "$rc" != 0 ]; then
        fail "$name: exit $rc, expected 0"
        report
        continue
    fi
    if ! match > "$tmp/why"; then
        fail "$name: diagnostics differ"
        cat "$tmp/why"
        report
        continue
    fi
    pass
done

# ---- JSON diagnostics: valid JSON with the same positions ----
for base in cycle-three-steps unknown-key-step multi-errors-in-order \
            arrow-chain-unknown-step warn-sla; do
    f=$corpus/invalid/$base.poml
    name=json/$base
    [ -f "$f" ] || { fail "$name: $f missing"; continue; }
    flags=$(sed -n 's/^# flags: //p' "$f" | head -n 1)
    # shellcheck disable=SC2086
    "$pomlc" --lint --diagnostics-format=json $flags "$f" > "$tmp/out" \
        2> "$tmp/err"
    rc=$?
    sanity "$name" || continue
    if [ "$rc" != 1 ]; then
        fail "$name: exit $rc, expected 1"
        continue
    fi
    if [ -s "$tmp/err" ]; then
        fail "$name: JSON mode wrote to stderr: $(head -n 1 "$tmp/err")"
        continue
    fi
    if command -v python3 > /dev/null 2>&1; then
        if ! python3 -m json.tool < "$tmp/out" > /dev/null 2> "$tmp/why"; then
            fail "$name: not valid JSON: $(head -n 1 "$tmp/why")"
            continue
        fi
        python3 -c '
import json, sys
for d in json.load(sys.stdin):
    for l in d.get("locations", []):
        c = l["caret"]
        print("%d:%d: %s" % (c["line"], c["column"], d["kind"]))
' < "$tmp/out" > "$tmp/json"
    else
        sed 's/"line":\([0-9]*\),"column":\([0-9]*\)/\n\1:\2:\n/g' \
            "$tmp/out" | sed -n 's/^\([0-9]*:[0-9]*\):$/\1/p' > "$tmp/json"
    fi
    ok=1
    for loc in $(sed -n 's/^# expect: \([0-9]*:[0-9]*\): error:.*/\1/p' "$f"); do
        if ! grep -q "^$loc:" "$tmp/json"; then
            fail "$name: no diagnostic at $loc in the JSON output"
            sed 's/^/  + /' "$tmp/json"
            ok=0
            break
        fi
    done
    [ "$ok" = 1 ] && pass
done

# ---- inputs that once crashed the compiler: a clean exit 0 or 1 ----
for f in "$corpus"/crashes/*.poml; do
    [ -f "$f" ] || continue
    name=crashes/$(basename "$f")
    lint "$f"
    sanity "$name" || continue
    if [ "$rc" -gt 1 ]; then
        fail "$name: exit $rc, expected 0 or 1"
    else
        pass
    fi
done

# ---- a missing or broken standard library: its own error, no echoes ----
mkdir -p "$tmp/badlib"
printf 'models: [oops\n' > "$tmp/badlib/models.poml"
for lib in "$tmp/nolib" "$tmp/badlib"; do
    "$pomlc" --lint --color=never --stdlib "$lib" \
        "$top_srcdir/examples/multi-model.poml" \
        "$top_srcdir/examples/seeds/swarm.poml" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    sanity "stdlib $(basename "$lib")" || continue
    n=$(grep -c ': error: ' "$tmp/err")
    if [ "$rc" != 1 ]; then
        fail "stdlib $(basename "$lib"): exit $rc, expected 1"
    elif ! grep -q "$(basename "$lib")/models.poml" "$tmp/err"; then
        fail "stdlib $(basename "$lib"): no error names models.poml"
    elif grep -q 'unknown model\|no .model.' "$tmp/err"; then
        fail "stdlib $(basename "$lib"): echoes: $(grep 'unknown model\|no .model.' "$tmp/err" | head -n 1)"
    elif [ "$n" -gt 3 ]; then
        fail "stdlib $(basename "$lib"): $n errors, expected one per catalog file"
    else
        pass
    fi
done

# ---- usage errors: exit 2 and a message ----
usage() {
    name=$1
    want=$2
    shift 2
    "$pomlc" "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    if [ "$rc" != 2 ]; then
        fail "usage/$name: exit $rc, expected 2"
    elif ! grep -Fq -- "$want" "$tmp/err"; then
        fail "usage/$name: stderr lacks \"$want\": $(head -n 1 "$tmp/err")"
    else
        pass
    fi
}
one=$corpus/invalid/cycle-self.poml
usage unknown-option "unknown option '--frobnicate'" --lint --frobnicate "$one"
usage no-cycle "'cycle' is an error and cannot be disabled" --lint -Wno-cycle "$one"
usage unknown-warning "did you mean '-Wunused-parameter'?" --lint -Wunused-paramter "$one"
usage no-input "no input files" --lint
usage bad-format "unknown diagnostics format" --lint --diagnostics-format=xml "$one"
usage bad-color "'--color' takes auto, always or never" --lint --color=sometimes "$one"

test_end
