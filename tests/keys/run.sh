#!/bin/sh
# run.sh -- every key poml(5) documents does something: it changes the plan
# or pomlc says something about it
#
# The keys are the entries (.TP headings) of the sections of man/poml.5
# that list keys, named SECTION:key (workflow, for WORKFLOW KEYS and YAML
# FORMS, param, step, retry, phase).  tests/keys/samples holds, for each,
# a workflow using it:
#   == SECTION:key
#   YAML lines; those ending in " #key" are the key
#   -- NAME       (optional) the lines after it are the file NAME beside
#                 the workflow (an import, a prompt file)
# The sample is compiled as it is and with its " #key" lines blanked
# (replaced by comment lines, so that positions stay the same); the key
# passes when the plan bytes differ, when only one of the two compiles, or
# when their diagnostics differ.  A documented key without a sample fails.
# The keys the manual documents in running text (sub-keys of mappings,
# options of the forms) have samples named text:PATH after them.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POML_STDLIB:=$top_srcdir/stdlib}"
export POML_STDLIB
pomlc=$top_builddir/pomlc
samples=$top_srcdir/tests/keys/samples
manual=$top_srcdir/man/poml.5

if [ ! -x "$pomlc" ]; then
    echo "error: $pomlc not built"
    exit 1
fi

. "$top_srcdir/tests/lib.sh"
test_begin keys

# the documented keys: SECTION:key, one a line
awk '
/^\.SH / {
    s = substr($0, 5)
    sec = ""
    if (s == "WORKFLOW KEYS") sec = "workflow"
    if (s == "PARAMETERS") sec = "param"
    if (s == "STEPS") sec = "step"
    if (s == "RETRIES") sec = "retry"
    if (s == "PHASES") sec = "phase"
    if (s == "YAML FORMS") sec = "workflow"
}
/^\.TP/ { tag = 1; next }
tag && sec != "" && /^\.BR? / {
    line = $0
    sub(/^\.BR? /, "", line)
    gsub(/"[^"]*"/, " ", line)
    gsub(/\\-/, "-", line)
    n = split(line, w, /[ \t]+/)
    for (i = 1; i <= n; i++)
        if (w[i] ~ /^\/?[a-z_]+$/)
            print sec ":" w[i]
}
{ tag = 0 }' "$manual" | sort -u > "$tmp/documented"

if [ ! -s "$tmp/documented" ]; then
    fail "no key found in $manual"
fi

sed -n 's/^== //p' "$samples" | sort > "$tmp/sampled"
sort -u "$tmp/sampled" | cmp -s - "$tmp/sampled" ||
    fail "samples: a key has two samples: $(uniq -d "$tmp/sampled")"
comm -23 "$tmp/documented" "$tmp/sampled" > "$tmp/missing"
while read -r key; do
    fail "$key: documented in poml(5) with no sample in tests/keys/samples"
done < "$tmp/missing"

# compile DIR: $DIR/w.poml into $DIR/w.plan; $DIR/rc, $DIR/diags
compile() {
    "$pomlc" --color=never -o "$1/w.plan" "$1/w.poml" > /dev/null \
        2> "$1/err"
    echo $? > "$1/rc"
    sed -n 's/^[^:]*w\.poml:\([0-9]*:[0-9]*: [a-z]*: .*\)/\1/p' "$1/err" |
        sort > "$1/diags"
}

# check KEY: the sample in $tmp/with/w.poml
check() {
    key=$1
    cp -R "$tmp/with" "$tmp/without"
    sed 's/^.* #key$/#/' "$tmp/with/w.poml" > "$tmp/without/w.poml"
    if cmp -s "$tmp/with/w.poml" "$tmp/without/w.poml"; then
        fail "$key: the sample marks no line with ' #key'"
        return
    fi
    compile "$tmp/with"
    compile "$tmp/without"
    sanitized "$key" "$tmp/with/err" || return
    sanitized "$key" "$tmp/without/err" || return
    rw=$(cat "$tmp/with/rc")
    ro=$(cat "$tmp/without/rc")
    if [ "$rw" -gt 1 ] || [ "$ro" -gt 1 ]; then
        fail "$key: pomlc exited with $rw / $ro: $(first "$tmp/with/err")"
    elif [ "$rw" != "$ro" ]; then
        pass
    elif ! cmp -s "$tmp/with/diags" "$tmp/without/diags"; then
        pass
    elif [ "$rw" -eq 0 ] && ! cmp -s "$tmp/with/w.plan" "$tmp/without/w.plan"
    then
        pass
    else
        fail "$key: accepted, but changes nothing in the plan and has no" \
             "diagnostic"
    fi
}

key=
while IFS= read -r line; do
    case $line in
    "== "*)
        [ -n "$key" ] && check "$key"
        key=${line#== }
        rm -rf "$tmp/with" "$tmp/without"
        mkdir -p "$tmp/with"
        out=$tmp/with/w.poml
        : > "$out"
        ;;
    "-- "*)
        out=$tmp/with/${line#-- }
        : > "$out"
        ;;
    *)
        [ -n "$key" ] && printf '%s\n' "$line" >> "$out"
        ;;
    esac
done < "$samples"
[ -n "$key" ] && check "$key"

test_end
