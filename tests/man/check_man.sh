#!/bin/sh
# check_man.sh -- the manual pages render cleanly and match the programs
#
# Checks that man/pomlc.1, man/poml.5, man/pomlrun.1 and man/poml-plan.5
# render without warnings, that every option of 'pomlc --help' is in the
# OPTIONS of pomlc.1, that every check of 'pomlc --list-warnings' is under
# WARNINGS with its default, that every workflow marked as an example in
# poml.5 passes 'pomlc --lint', that the OPTIONS of pomlrun.1 name exactly
# the options of 'pomlrun --help', and that poml-plan.5 describes every
# section, every record field (offset, size, type), the magic, the header
# size, every opcode and every function that runtime/plan.h and
# runtime/bytecode.h define: the lists are read from the headers here, so
# the page cannot fall behind them.
LC_ALL=C
export LC_ALL

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
pomlc=$builddir/pomlc
pomlrun=$builddir/pomlrun
man1=$srcdir/man/pomlc.1
man5=$srcdir/man/poml.5
runman=$srcdir/man/pomlrun.1
planman=$srcdir/man/poml-plan.5
plan_h=$srcdir/runtime/plan.h
bytecode_h=$srcdir/runtime/bytecode.h

for prog in "$pomlc" "$pomlrun"; do
    if [ ! -x "$prog" ]; then
        echo "check_man: $prog is not built" >&2
        exit 99
    fi
done

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
# A page whose first line is '\" t has tables, as man(1) reads it.  The
# output goes to /dev/null rather than through -z, which hides the
# warnings tbl's text blocks give while the page is set.
for page in "$man1" "$man5" "$runman" "$planman"; do
    if [ "$render" = groff ]; then
        pre=
        if head -n 1 "$page" | grep -x -F "'\\\" t" >/dev/null; then
            pre=-t
        fi
        groff $pre -man -Tutf8 -ww "$page" 2>"$tmp/render.out" >/dev/null
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
unescape "$runman" >"$tmp/pomlrun.1"
unescape "$planman" >"$tmp/poml-plan.5"

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

# ---- (e) the OPTIONS of pomlrun.1 name exactly the --help options ----
# Options are read from the tags (the line after .TP or .TQ), one word at
# a time, so "-p" must be a tag's word, not merely a part of "--params".
section OPTIONS "$tmp/pomlrun.1" |
    awk '/^\.T[PQ]$/ { tag = 1; next }
         tag { tag = 0; gsub(/["(),|]/, " ");
               for (i = 2; i <= NF; i++) if ($i ~ /^-/) print $i }' |
    sort -u >"$tmp/run-tags"
if ! "$pomlrun" --help >"$tmp/run-help"; then
    bad "pomlrun --help failed"
fi
awk '/^ +-/ {
        sub(/^ +/, ""); sub(/   .*/, "")
        n = split($0, alt, ", ")
        for (i = 1; i <= n; i++) { opt = alt[i]; sub(/ .*/, "", opt);
                                   print opt }
    }' "$tmp/run-help" | sort -u >"$tmp/run-opts"
if [ ! -s "$tmp/run-opts" ]; then
    bad "no options found in pomlrun --help"
fi
while read -r opt; do
    if grep -x -F -e "$opt" "$tmp/run-tags" >/dev/null; then
        ok
    else
        bad "option '$opt' of pomlrun --help is not in OPTIONS of pomlrun.1"
    fi
done <"$tmp/run-opts"
while read -r opt; do
    if grep -x -F -e "$opt" "$tmp/run-opts" >/dev/null; then
        ok
    else
        bad "option '$opt' in OPTIONS of pomlrun.1 is not in pomlrun --help"
    fi
done <"$tmp/run-tags"

# ---- (f) poml-plan.5 follows runtime/plan.h and runtime/bytecode.h ----
# Lines of subsection NAME (from its .SS to the next .SS or .SH).
subsection() {
    awk -v name="$1" '
        /^\.S[SH] / { on = ($0 == ".SS " name || $0 == ".SS \"" name "\"");
                      next }
        on' "$2"
}

# Every section of enum pr_section: a subsection "NAME (id N)" and a row
# "N@NAME@" in the table under SECTIONS.
sed -n '/^enum pr_section {/,/^};/p' "$plan_h" |
    sed -n 's/^ *PR_SEC_\([A-Z0-9_]*\) *= *\([0-9][0-9]*\).*/\1 \2/p' |
    grep -v '^COUNT ' >"$tmp/sections"
if [ ! -s "$tmp/sections" ]; then
    bad "no sections found in enum pr_section of $plan_h"
fi
section SECTIONS "$tmp/poml-plan.5" >"$tmp/sec-table"
while read -r name id; do
    if grep -x -F -e ".SS \"$name (id $id)\"" "$tmp/poml-plan.5" >/dev/null
    then
        ok
    else
        bad "section $name (id $id) has no subsection in poml-plan.5"
    fi
    if grep "^$id@$name@" "$tmp/sec-table" >/dev/null; then
        ok
    else
        bad "section $name (id $id) is not in the SECTIONS table"
    fi
done <"$tmp/sections"

# Every field of every PR_*_FIELDS list, as "LIST NAME TYPE ARG OFFSET",
# and every record size, as "LIST SIZE".
awk '
    /^#define PR_[A-Z]+_FIELDS\(X\)/ {
        list = $2; sub(/^PR_/, "", list); sub(/_FIELDS.*/, "", list)
        on = 1; next
    }
    on && /X\(/ {
        x = $0; sub(/^[^X]*X\(/, "", x); sub(/\).*/, "", x)
        gsub(/[ \t]/, "", x); split(x, f, ",")
        t = f[2]; sub(/^PR_FT_/, "", t)
        print list, f[1], t, f[3], f[4]
    }
    on && !/\\$/ { on = 0 }
    /^#define PR_[A-Z]+_SIZE [0-9]+/ {
        l = $2; sub(/^PR_/, "", l); sub(/_SIZE$/, "", l)
        print l, $3 > sizes
    }' sizes="$tmp/sizes" "$plan_h" >"$tmp/fields"
if [ ! -s "$tmp/fields" ]; then
    bad "no PR_*_FIELDS lists found in $plan_h"
fi
# The numeric #defines, to read FLAGS masks.
awk '$1 == "#define" && $2 ~ /^PR_/ && NF == 3 &&
     $3 ~ /^(0x[0-9A-Fa-f]+|[0-9]+)u?$/ { v = $3; sub(/u$/, "", v);
                                         print $2, v }' \
    "$plan_h" >"$tmp/defines"

# The subsection describing list L: L, LS or LES (PARAM -> PARAMS).
plan_subsection() {
    for s in "$1" "${1}S" "${1}ES"; do
        id=$(awk -v s="$s" '$1 == s { print $2 }' "$tmp/sections")
        if [ -n "$id" ]; then
            subsection "\"$s (id $id)\"" "$tmp/poml-plan.5"
            return 0
        fi
    done
    return 1
}

for list in $(cut -d' ' -f1 "$tmp/fields" | uniq); do
    if ! plan_subsection "$list" >"$tmp/sub" || [ ! -s "$tmp/sub" ]; then
        bad "no subsection of poml-plan.5 for PR_${list}_FIELDS"
        continue
    fi
    size=$(awk -v l="$list" '$1 == l { print $2 }' "$tmp/sizes")
    if [ -n "$size" ] && grep -F -e "$size-byte record" "$tmp/sub" >/dev/null
    then
        ok
    else
        bad "the subsection of PR_${list}_FIELDS does not say" \
            "'${size:-?}-byte record'"
    fi
    awk -v l="$list" '$1 == l' "$tmp/fields" >"$tmp/list-fields"
    while read -r l name type arg off; do
        case $type in
        U8|ENUM|FLAGS|ZERO) bytes=1 ;;
        U64|F64|CODE|TCODE|LIST) bytes=8 ;;
        *) bytes=4 ;;
        esac
        want=$type
        case $type in
        LIST) want="LIST(${arg#PR_LK_})" ;;
        FLAGS) mask=$(awk -v a="$arg" '$1 == a { print $2 }' "$tmp/defines")
               want="FLAGS(${mask:-$arg})" ;;
        ENUM) case $arg in
              [0-9]*) want="ENUM($arg)" ;;
              *) want="ENUM(" ;;
              esac ;;
        esac
        if awk -F@ -v off="$off" -v n="$bytes" -v t="$want" -v f="$name" '
               $1 == off && $2 == n && $4 == f &&
               ($3 == t || (t ~ /\($/ && index($3, t) == 1) ||
                tolower($3) == tolower(t)) { found = 1 }
               END { exit !found }' "$tmp/sub"
        then
            ok
        else
            bad "field $name of PR_${list}_FIELDS is not in poml-plan.5" \
                "as $off@$bytes@$want@$name"
        fi
    done <"$tmp/list-fields"
done

# The magic, as hex bytes, and the header size, under HEADER.
section HEADER "$tmp/poml-plan.5" >"$tmp/header"
magic=$(sed -n 's/^#define PR_PLAN_MAGIC "\(.*\)"$/\1/p' "$plan_h" |
    awk 'BEGIN { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i
                 esc["r"] = 13; esc["n"] = 10; esc["t"] = 9; esc["0"] = 0
                 esc["\\"] = 92; esc["\""] = 34 }
         { out = ""
           for (i = 1; i <= length($0); i++) {
               c = substr($0, i, 1)
               if (c == "\\") {
                   c = substr($0, ++i, 1)
                   if (c == "x") {
                       v = toupper(substr($0, i + 1, 2)); i += 2
                   } else {
                       v = sprintf("%02X", esc[c])
                   }
               } else {
                   v = sprintf("%02X", ord[c])
               }
               out = out (out == "" ? "" : " ") v
           }
           print out }')
if [ -n "$magic" ] && grep -i -F -e "$magic" "$tmp/header" >/dev/null; then
    ok
else
    bad "the magic '${magic:-?}' of plan.h is not under HEADER of poml-plan.5"
fi
hsize=$(sed -n 's/^#define PR_PLAN_HEADER_SIZE \([0-9][0-9]*\)$/\1/p' \
    "$plan_h")
if [ -n "$hsize" ] &&
    grep -F -e "The first $hsize bytes of the file" "$tmp/header" >/dev/null
then
    ok
else
    bad "the header size ${hsize:-?} of plan.h is not under HEADER of" \
        "poml-plan.5"
fi

# Every opcode of PR_OPS as a row "0xNN@name@", every function of
# PR_FUNCS as "id@name@arity@".
subsection Opcodes "$tmp/poml-plan.5" >"$tmp/ops-sub"
subsection Functions "$tmp/poml-plan.5" >"$tmp/fns-sub"
sed -n 's/.*X([A-Z_]*, *\(0x[0-9a-f]*\), *"\([a-z]*\)".*/\1@\2@/p' \
    "$bytecode_h" >"$tmp/ops"
sed -n 's/.*X([A-Z_]*, *\([0-9]*\), *"\([A-Za-z]*\)", *\([0-9]*\)).*/\1@\2@\3@/p' \
    "$bytecode_h" >"$tmp/fns"
if [ ! -s "$tmp/ops" ] || [ ! -s "$tmp/fns" ]; then
    bad "no opcodes or functions found in $bytecode_h"
fi
while read -r row; do
    if grep "^$row" "$tmp/ops-sub" >/dev/null; then
        ok
    else
        bad "opcode '$row' of bytecode.h is not under Opcodes of poml-plan.5"
    fi
done <"$tmp/ops"
while read -r row; do
    if grep "^$row" "$tmp/fns-sub" >/dev/null; then
        ok
    else
        bad "function '$row' of bytecode.h is not under Functions of" \
            "poml-plan.5"
    fi
done <"$tmp/fns"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
