#!/bin/sh
# check_man.sh -- the manual pages render cleanly and match the programs
#
# Checks that man/pomlc.1 and man/poml.5 render without warnings, that
# every option of 'pomlc --help' is in the OPTIONS of pomlc.1, that every
# check of 'pomlc --list-warnings' is under WARNINGS with its default, and
# that every workflow marked as an example in poml.5 passes 'pomlc --lint'.
LC_ALL=C
export LC_ALL

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
pomlc=$builddir/pomlc
man1=$srcdir/man/pomlc.1
man5=$srcdir/man/poml.5

if [ ! -x "$pomlc" ]; then
    echo "check_man: $pomlc is not built" >&2
    exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' 0
trap 'exit 130' INT
trap 'exit 143' TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# The man source with the escapes the checks must see through undone:
# \- to -, \e to \, \& and font changes dropped, named glyphs restored.
soh=$(printf '\001')
arrow=$(printf '\342\206\222')
unescape() {
    sed -e "s/\\\\e/$soh/g" \
        -e 's/\\-/-/g' \
        -e 's/\\&//g' \
        -e 's/\\f[BIRP]//g' \
        -e "s/\\\\(aq/'/g" \
        -e 's/\\(ga/`/g' \
        -e 's/\\(dq/"/g' \
        -e "s/\\\\(->/$arrow/g" \
        -e "s/$soh/\\\\/g" "$@"
}

# Lines of section NAME (from its .SH to the next .SH) of an unescaped page.
section() {
    awk -v name="$1" '
        /^\.SH / { on = ($0 == ".SH " name || $0 == ".SH \"" name "\"");
                   next }
        on' "$2"
}

# ---- (a) the pages render without warnings ----
render=
if command -v groff >/dev/null 2>&1; then
    render=groff
elif command -v man >/dev/null 2>&1; then
    render=man
else
    echo "check_man: SKIP: neither groff nor man is installed" >&2
    exit 77
fi
for page in "$man1" "$man5"; do
    if [ "$render" = groff ]; then
        groff -man -Tutf8 -ww -z "$page" >"$tmp/render.out" 2>&1
    else
        MANWIDTH=80 man -l "$page" >/dev/null 2>"$tmp/render.out"
    fi
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$tmp/render.out" ]; then
        ok
    else
        bad "$page does not render cleanly:"
        sed 's/^/    /' "$tmp/render.out"
    fi
done

unescape "$man1" >"$tmp/pomlc.1"
unescape "$man5" >"$tmp/poml.5"

# ---- (b) every --help option is in the OPTIONS of pomlc.1 ----
# Each option is taken as written up to its argument: "-Werror=NAME" must
# appear as "-Werror=", "-W NAME" as "-W", "--stdlib DIR" as "--stdlib".
section OPTIONS "$tmp/pomlc.1" >"$tmp/options"
if ! "$pomlc" --help >"$tmp/help"; then
    bad "pomlc --help failed"
fi
awk '/^ +-/ {
        sub(/^ +/, ""); sub(/   .*/, "")
        n = split($0, alt, ", ")
        for (i = 1; i <= n; i++) {
            opt = alt[i]
            sub(/ .*/, "", opt)
            if (!sub(/=[A-Z]+$/, "=", opt) && opt ~ /^-W/) {
                rest = substr(opt, 3)
                sub(/[A-Z]+$/, "", rest)
                opt = "-W" rest
            }
            print opt
        }
    }' "$tmp/help" | sort -u >"$tmp/opts"
if [ ! -s "$tmp/opts" ]; then
    bad "no options found in pomlc --help"
fi
while read -r opt; do
    if grep -F -e "$opt" "$tmp/options" >/dev/null; then
        ok
    else
        bad "option '$opt' of pomlc --help is not in OPTIONS of pomlc.1"
    fi
done <"$tmp/opts"

# ---- (c) every check is under WARNINGS, with its default ----
section WARNINGS "$tmp/pomlc.1" >"$tmp/warnings"
if ! "$pomlc" --list-warnings >"$tmp/list"; then
    bad "pomlc --list-warnings failed"
fi
if [ ! -s "$tmp/list" ]; then
    bad "pomlc --list-warnings printed nothing"
fi
while read -r name def; do
    if grep -x -F -e ".BR $name \" ($def)\"" "$tmp/warnings" >/dev/null
    then
        ok
    else
        bad "check '$name' ($def) is not under WARNINGS of pomlc.1"
    fi
done <"$tmp/list"

# ---- (d) the examples of poml.5 pass pomlc --lint ----
mkdir "$tmp/ex"
awk -v dir="$tmp/ex" '
    /^\.\\" example-begin / { name = $3; file = dir "/" name ".poml";
                              n++; print name; on = 1; next }
    /^\.\\" example-end/    { on = 0; close(file); next }
    on && /^\.(nf|fi)$/     { next }
    on                      { print > file }' "$tmp/poml.5" >"$tmp/names"
if [ ! -s "$tmp/names" ]; then
    bad "no marked examples in poml.5"
fi
while read -r name; do
    if (cd "$tmp/ex" && "$pomlc" --lint "$name.poml") >"$tmp/lint" 2>&1
    then
        ok
    else
        bad "example '$name' of poml.5 does not pass pomlc --lint:"
        sed 's/^/    /' "$tmp/lint"
    fi
done <"$tmp/names"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
