#!/bin/sh
# run.sh -- plan files and the command lines around them
#
# Checks what a user of pomlc and pomlrun sees: plans that do not depend on
# where or by whom they were compiled, make and ninja dependency files,
# pomlrun --check on damaged plans, parameter binding and --dry-run, the
# Graphviz, JSON, --stats and --dump outputs, the exit statuses, and plans
# embedding their sub-workflows.  Data files are in tests/plan/cli.  Prints
# one line per failed check, then a count; exits 1 when a check failed.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POML_STDLIB:=$top_srcdir/stdlib}"
export POML_STDLIB
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
data=$top_srcdir/tests/plan/cli
examples=$top_srcdir/examples

for prog in "$pomlc" "$pomlrun"; do
    if [ ! -x "$prog" ]; then
        echo "error: $prog not built"
        exit 1
    fi
done

. "$top_srcdir/tests/lib.sh"
test_begin plan-cli


# ok WHAT COMMAND...: the command succeeds
ok() {
    what=$1
    shift
    if "$@"; then pass; else fail "$what"; fi
}

# run PROGRAM ARGS...: leaves $tmp/out, $tmp/err and $rc
run() {
    "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
}

# status WHAT N: the last run exited with N
status() {
    if [ "$rc" -eq "$2" ]; then
        pass
    else
        fail "$1: expected exit status $2, got $rc ($(first "$tmp/err"))"
    fi
}

# errline WHAT WORDS...: standard error has exactly the line WORDS
errline() {
    what=$1
    shift
    if grep -Fx -e "$*" "$tmp/err" > /dev/null; then
        pass
    else
        fail "$what: expected the message '$*', got '$(first "$tmp/err")'"
    fi
}

# errhas WHAT WORDS...: a line of standard error contains WORDS
errhas() {
    what=$1
    shift
    if grep -F -e "$*" "$tmp/err" > /dev/null; then
        pass
    else
        fail "$what: expected '$*' on standard error, got" \
             "'$(first "$tmp/err")'"
    fi
}

# errlacks WHAT TEXT: no line of standard error contains TEXT
errlacks() {
    if grep -F -e "$2" "$tmp/err" > /dev/null; then
        fail "$1: did not expect '$2' on standard error, got" \
             "'$(grep -F -e "$2" "$tmp/err" | head -n 1)'"
    else
        pass
    fi
}

# silent WHAT: the last run printed nothing
silent() {
    if [ -s "$tmp/out" ] || [ -s "$tmp/err" ]; then
        fail "$1: expected no output, got" \
             "'$(cat "$tmp/out" "$tmp/err" | head -n 1)'"
    else
        pass
    fi
}

# same WHAT EXPECTED ACTUAL: two strings are equal
same() {
    if [ "$2" = "$3" ]; then
        pass
    else
        fail "$1: expected '$2', got '$3'"
    fi
}

# samefile WHAT EXPECTED-FILE ACTUAL-FILE: two files hold the same bytes
samefile() {
    if cmp -s "$2" "$3"; then
        pass
    else
        fail "$1: $(cmp "$2" "$3" 2>&1 | head -n 1)"
    fi
}

# absent WHAT FILE: FILE does not exist
absent() {
    if [ -e "$2" ]; then fail "$1: $2 exists"; else pass; fi
}

# count FILE TEXT: how many lines of FILE (binary or not) contain TEXT
count() {
    grep -a -c -F -e "$2" "$1"
}

have_python=false
if command -v python3 > /dev/null 2>&1; then
    have_python=true
else
    echo "note: python3 not found; JSON and DOT parsing checks skipped"
fi

# ---- 1. determinism --------------------------------------------------

# The same sources compiled from the source tree with a relative path,
# from a copy elsewhere with another relative path and another copy of the
# standard library, and through an absolute path give the same bytes, and
# none of those directories shows in the plan.
mkdir "$tmp/det" "$tmp/elsewhere" "$tmp/elsewhere/sub"
cp -R "$examples" "$tmp/elsewhere/sub/tree"
cp -R "$POML_STDLIB" "$tmp/stdlib"
# a source tree may be read-only (make distcheck); its copies must not be
chmod -R u+w "$tmp/elsewhere" "$tmp/stdlib"
list=$(cd "$examples" &&
    for f in ./*.poml ./seeds/*.poml; do echo "${f#./}"; done)
if echo "$list" | grep -Fx seeds/code-review.poml > /dev/null; then
    pass
else
    fail "examples: seeds/code-review.poml not found in $examples"
fi
for f in $list; do
    n=$(echo "$f" | tr / _)
    (cd "$top_srcdir" && "$pomlc" -o "$tmp/det/$n.1" "examples/$f") \
        2> /dev/null
    rc1=$?
    (cd "$tmp/elsewhere" &&
        POML_STDLIB=$tmp/stdlib "$pomlc" -o "$tmp/det/$n.2" "sub/tree/$f") \
        2> /dev/null
    rc2=$?
    (cd / && "$pomlc" --stdlib "$tmp/stdlib" -o "$tmp/det/$n.3" \
        "$tmp/elsewhere/sub/tree/$f") 2> /dev/null
    rc3=$?
    same "$f: exit status of the three compilations" "0 0 0" \
         "$rc1 $rc2 $rc3"
    samefile "$f: relative path elsewhere" "$tmp/det/$n.1" "$tmp/det/$n.2"
    samefile "$f: absolute path" "$tmp/det/$n.1" "$tmp/det/$n.3"
    c=$(cat "$tmp/det/$n.1" "$tmp/det/$n.2" "$tmp/det/$n.3" 2> /dev/null |
        grep -a -c -F -e "$tmp" -e "$top_srcdir" -e "$top_builddir")
    same "$f: lines of the plans naming a directory of this machine" 0 "$c"
done

# Keys stay in the environment: the plan names the variable, never the
# value, and is the same with or without it.
for f in seeds/code-review.poml multi-model.poml; do
    n=$(echo "$f" | tr / _)
    (cd "$top_srcdir" &&
        OPENAI_API_KEY=sk-test-SECRET-123 \
        ANTHROPIC_API_KEY=sk-ant-test-SECRET-456 \
        GROQ_API_KEY=gsk-test-SECRET-789 \
        "$pomlc" -o "$tmp/det/$n.env" "examples/$f") 2> /dev/null
    same "$f: plan lines holding a key" 0 \
         "$(count "$tmp/det/$n.env" SECRET)"
    samefile "$f: plan with keys in the environment" "$tmp/det/$n.1" \
             "$tmp/det/$n.env"
done
run "$pomlc" --dump "$tmp/det/seeds_code-review.poml.env"
# shellcheck disable=SC2016
if grep -F 'key from $ANTHROPIC_API_KEY' "$tmp/out" > /dev/null; then
    pass
else
    fail "--dump: expected 'key from \$ANTHROPIC_API_KEY' in the model line"
fi

# ---- 2. make and ninja dependency files ------------------------------

gmake=
for m in ${MAKE:-} gmake make; do
    if "$m" --version 2> /dev/null | grep 'GNU Make' > /dev/null; then
        gmake=$m
        break
    fi
done

proj=$tmp/proj
cp -R "$data/proj" "$proj"
chmod -R u+w "$proj"
sl=$tmp/stdlib

# age: every input a year older than the plan, so that the next touch is
# newer whatever the file system's time resolution
age() {
    find "$1" "$sl" -type f -exec touch -t 202001010000 {} +
    for p in "$1"/*.plan; do
        if [ -f "$p" ]; then touch -t 202101010000 "$p"; fi
    done
}

# mk ARGS...: runs make in the project
mk() {
    (cd "$proj" && "$gmake" POMLC="$pomlc --stdlib $sl" "$@") \
        > "$tmp/out" 2> "$tmp/err"
    rc=$?
}

if [ -n "$gmake" ]; then
    cat > "$proj/Makefile" << 'EOF'
# the usual way to use pomlc from make
POMLC = pomlc
all: wf.plan
%.plan: %.poml
	$(POMLC) -MD $(MP) -MF $*.d $< -o $@
-include *.d
EOF
    mk
    status "make: first build" 0
    ok "make: first build writes wf.plan" test -f "$proj/wf.plan"
    ok "make: first build writes wf.d" test -f "$proj/wf.d"
    run "$pomlrun" --check "$proj/wf.plan"
    status "make: pomlrun --check on the plan make built" 0
    mk
    status "make: second build" 0
    if grep -F -e "$pomlc" "$tmp/out" > /dev/null; then
        fail "make: second build ran pomlc again: $(first "$tmp/out")"
    else
        pass
    fi
    mk -q
    status "make -q right after a build (up to date)" 0

    d=$proj/wf.d
    # shellcheck disable=SC1003
    same "wf.d: first line, the target" 'wf.plan: \' "$(head -n 1 "$d")"
    for dep in wf.poml defs.poml prompts/p.md prompts/_sig.md subs/file.poml \
               subs/leaf.poml "$sl/models.poml"; do
        if grep -E "^ (\./)?$dep( \\\\)?\$" "$d" > /dev/null; then
            pass
        else
            fail "wf.d: expected a line naming $dep, got" \
                 "'$(tr '\n' ' ' < "$d")'"
        fi
    done
    same "wf.d: lines naming notes.txt" 0 "$(count "$d" notes.txt)"
    same "wf.d: phony rules without -MP" 0 "$(grep -c '^[^ ].*:$' "$d")"

    for dep in defs.poml prompts/p.md prompts/_sig.md subs/leaf.poml \
               "$sl/models.poml"; do
        age "$proj"
        mk -q
        status "make -q after the plan was made newer than its inputs" 0
        case $dep in
        /*) touch "$dep" ;;
        *) touch "$proj/$dep" ;;
        esac
        mk -q
        status "make -q after touching $dep (out of date)" 1
        mk
        status "make after touching $dep" 0
        if grep -F -e "-MF wf.d wf.poml -o wf.plan" "$tmp/out" > /dev/null
        then
            pass
        else
            fail "make after touching $dep: expected wf.plan to be rebuilt," \
                 "got '$(first "$tmp/out")'"
        fi
        mk -q
        status "make -q after the rebuild for $dep" 0
    done
    age "$proj"
    touch "$proj/notes.txt"
    mk -q
    status "make -q after touching an unrelated file" 0

    # -MP: once the workflow stops importing defs.poml, reading the prompt
    # file and naming sub-workflows, they may go away without make stopping
    # at them
    mk MP=-MP
    age "$proj"
    touch "$proj/wf.poml"
    mk MP=-MP
    status "make with -MP" 0
    for dep in defs.poml prompts/p.md prompts/_sig.md subs/file.poml \
               subs/leaf.poml "$sl/models.poml"; do
        if grep -E "^(\./)?$dep:\$" "$d" > /dev/null; then
            pass
        else
            fail "wf.d with -MP: expected an empty rule '$dep:', got" \
                 "'$(tr '\n' ' ' < "$d")'"
        fi
    done
    cp "$proj/alone.poml" "$proj/wf.poml"
    rm -r "$proj/defs.poml" "$proj/prompts" "$proj/subs"
    mk MP=-MP
    status "make with -MP after removing what alone.poml does not need" 0
    mk MP=-MP -q
    status "make -q after that rebuild" 0
else
    echo "note: GNU make not found; make checks skipped"
fi

# -MT names the target; without -MF the file is the output's with .d
cp -R "$data/proj" "$tmp/mt"
chmod -R u+w "$tmp/mt"
run "$pomlc" --stdlib "$sl" -MD -MT 'custom target' -o "$tmp/mt/out.plan" \
    "$tmp/mt/wf.poml"
status "pomlc -MD -MT" 0
ok "-MD without -MF writes the output's name with .d" test -f "$tmp/mt/out.d"
# shellcheck disable=SC1003
same "-MT: the first line" 'custom\ target: \' "$(head -n 1 "$tmp/mt/out.d")"
# Output on standard output: the dependency file must not make the
# source depend on itself
(cd "$tmp/mt" && "$pomlc" --stdlib "$sl" --emit=dot -MD wf.poml) \
    > /dev/null 2>&1
if [ -f "$tmp/mt/wf.d" ] && grep '^wf\.poml:' "$tmp/mt/wf.d" > /dev/null
then
    fail "--emit=dot -MD: wf.d makes wf.poml depend on itself:" \
         "'$(head -n 2 "$tmp/mt/wf.d" | tr '\n' ' ')'"
else
    pass
fi
run "$pomlc" --stdlib "$sl" --lint -MD -o "$tmp/mt/lint.plan" \
    "$tmp/mt/wf.poml"
absent "--lint -MD writes no dependency file" "$tmp/mt/lint.d"

if command -v ninja > /dev/null 2>&1; then
    np=$tmp/ninja
    cp -R "$data/proj" "$np"
    chmod -R u+w "$np"
    cat > "$np/build.ninja" << EOF
rule pomlc
  command = $pomlc --stdlib $sl -MD -MF \$out.d \$in -o \$out
  depfile = \$out.d
  deps = gcc
build wf.plan: pomlc wf.poml
EOF
    # nj ARGS...: runs ninja in the project
    nj() {
        (cd "$np" && ninja "$@") > "$tmp/out" 2> "$tmp/err"
        rc=$?
    }
    nj
    status "ninja: first build" 0
    ok "ninja: first build writes wf.plan" test -f "$np/wf.plan"
    nj -n
    if grep 'no work to do' "$tmp/out" > /dev/null; then
        pass
    else
        fail "ninja -n after a build: expected 'no work to do', got" \
             "'$(first "$tmp/out")'"
    fi
    for dep in prompts/p.md defs.poml subs/leaf.poml "$sl/models.poml"; do
        age "$np"
        case $dep in
        /*) touch "$dep" ;;
        *) touch "$np/$dep" ;;
        esac
        nj -n
        if grep -F -e "$pomlc" "$tmp/out" > /dev/null; then
            pass
        else
            fail "ninja -n after touching $dep: expected a rebuild, got" \
                 "'$(first "$tmp/out")'"
        fi
        nj
        status "ninja after touching $dep" 0
        nj -n
        if grep 'no work to do' "$tmp/out" > /dev/null; then
            pass
        else
            fail "ninja -n after the rebuild for $dep: expected 'no work" \
                 "to do', got '$(first "$tmp/out")'"
        fi
    done
    touch "$np/notes.txt"
    nj -n
    if grep 'no work to do' "$tmp/out" > /dev/null; then
        pass
    else
        fail "ninja -n after touching an unrelated file: expected 'no" \
             "work to do', got '$(first "$tmp/out")'"
    fi
else
    echo "note: ninja not found; ninja checks skipped"
fi

# ---- 3. pomlrun --check ----------------------------------------------

plans=$tmp/plans
mkdir "$plans"
"$pomlc" -o "$plans/hello.plan" "$examples/hello.poml" 2> /dev/null
"$pomlc" -o "$plans/cr.plan" "$examples/seeds/code-review.poml" 2> /dev/null
"$pomlc" -o "$plans/typed.plan" "$data/typed.poml" 2> /dev/null
"$pomlc" -o "$plans/noparam.plan" "$examples/seeds/chain.poml" 2> /dev/null
for p in hello cr typed; do
    run "$pomlrun" --check "$plans/$p.plan"
    status "pomlrun --check $p.plan" 0
    silent "pomlrun --check $p.plan"
done

good=$plans/hello.plan
size=$(wc -c < "$good" | tr -d ' ')

# flip FILE OFFSET: replaces the byte at OFFSET by its complement
flip() {
    b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059
    printf "\\$(printf %03o $((255 - b)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc 2> /dev/null
}

c=$tmp/corrupt
mkdir "$c"
head -c $((size / 2)) "$good" > "$c/truncated.plan"
head -c 40 "$good" > "$c/short.plan"
cp "$good" "$c/body.plan"
flip "$c/body.plan" $((size / 2))
cp "$good" "$c/header.plan"
flip "$c/header.plan" 28
{ cat "$good"; printf 'x'; } > "$c/trailing.plan"
: > "$c/empty.plan"
printf 'workflow_id: hello\nsteps: []\n' > "$c/text.plan"
mkdir "$c/dir.plan"
cp "$good" "$c/v5.plan"
printf '\005\000\001' | dd of="$c/v5.plan" bs=1 seek=8 conv=notrunc \
    2> /dev/null
# a plan of format 3.0, whose steps had no cache_ttl: compiled again
cp "$good" "$c/v3.plan"
printf '\003\000\000' | dd of="$c/v3.plan" bs=1 seek=8 conv=notrunc \
    2> /dev/null
# a plan of format 2.0, whose best_of score sat in run: compiled again
cp "$good" "$c/v2.plan"
printf '\002\000\000' | dd of="$c/v2.plan" bs=1 seek=8 conv=notrunc \
    2> /dev/null
# a plan of format 1.2, whose bytecode named steps: compiled again
cp "$good" "$c/v1.plan"
printf '\001\000\002' | dd of="$c/v1.plan" bs=1 seek=8 conv=notrunc \
    2> /dev/null
{ printf '\211PLN\n\032\n'; tail -c +9 "$good"; } > "$c/textmode.plan"
{ printf '\011PLN\r\n\032\n'; tail -c +9 "$good"; } > "$c/7bit.plan"

# The loader checks the version before the checksums, so a plan from a
# newer pomlc is reported as such even though its header checksum no
# longer matches.
half=$((size / 2))
while read -r name reason; do
    f=$c/$name.plan
    run "$pomlrun" --check "$f"
    status "pomlrun --check $name.plan" 1
    case $reason in
    *...) errhas "pomlrun --check $name.plan" \
                 "pomlrun: error: $f: ${reason%...}" ;;
    *) errline "pomlrun --check $name.plan" "pomlrun: error: $f: $reason" ;;
    esac
    sed 's/^pomlrun: /pomlc: /' "$tmp/err" > "$tmp/runerr"
    run "$pomlc" --dump "$f"
    status "pomlc --dump $name.plan" 1
    samefile "pomlc --dump $name.plan: the same reason as pomlrun" \
             "$tmp/runerr" "$tmp/err"
done << EOF
truncated truncated: header says $size bytes, file has $half
short truncated: 40 bytes, shorter than the 64-byte header
body body checksum mismatch (file damaged)
header header checksum mismatch
trailing trailing bytes: header says $size bytes, file has $((size + 1))
empty empty file
text not a plan file (bad magic)
dir not a regular file
missing cannot open: ...
v5 plan format 5.1 is newer than this version of poml reads (4.x)
v3 plan format 3.0 is not supported (4.x expected)
v2 plan format 2.0 is not supported (4.x expected)
v1 plan format 1.2 is not supported (4.x expected)
textmode damaged in transfer (text-mode conversion)
7bit damaged in transfer (high bit stripped)
EOF

# A POML source given for its plan: the commands that compile and run it
printf 'workflow_id: hello\nsteps: []\n' > "$c/hello.poml"
run "$pomlrun" "$c/hello.poml"
status "pomlrun hello.poml" 1
errline "pomlrun hello.poml: the reason" \
    "pomlrun: error: $c/hello.poml: not a plan file (bad magic)"
errline "pomlrun hello.poml: the commands" \
    "pomlrun: note: $c/hello.poml is a POML source, not a plan; compile it" \
    "with 'pomlc $c/hello.poml', then run 'pomlrun $c/hello.plan'"

# ---- 4. pomlrun --dry-run and parameters -----------------------------

# steps: the dry run's "ORDER ID KIND stage N" lines as "ID N"
steps() {
    awk '{ print $2, $NF }' "$tmp/out" | tr '\n' ' ' | sed 's/ $//'
}

run "$pomlrun" --dry-run "$good"
status "pomlrun --dry-run hello.plan" 0
case $(steps) in
"greet 0 count 0 report 1" | "count 0 greet 0 report 1") pass ;;
*) fail "pomlrun --dry-run hello.plan: expected greet and count (stage 0)" \
        "then report (stage 1), got '$(steps)'" ;;
esac
run "$pomlrun" --dry-run "$good" -p name=poml
status "pomlrun --dry-run hello.plan -p name=poml" 0

cr=$plans/cr.plan
run "$pomlrun" --dry-run "$cr"
status "code-review without repo" 1
errhas "code-review without repo" \
       "pomlrun: error: missing required parameter 'repo'"
same "code-review without repo: steps listed" "" "$(cat "$tmp/out")"

run "$pomlrun" --dry-run "$cr" -p repo=x
status "code-review -p repo=x" 0
got=$(steps)
first3=$(echo "$got" | awk '{ print $1, $3, $5 }' | tr ' ' '\n' | sort |
         tr '\n' ' ')
same "code-review: the first three steps" \
     "analyze_code quality_check security_scan " "$first3"
same "code-review: the stages of the first three" "0 0 0" \
     "$(echo "$got" | awk '{ print $2, $4, $6 }')"
same "code-review: the last three steps" \
     "aggregate_findings 1 generate_report 2 create_pr_comment 3" \
     "$(echo "$got" | awk '{ print $7, $8, $9, $10, $11, $12 }')"
same "code-review: number of steps listed" 6 \
     "$(wc -l < "$tmp/out" | tr -d ' ')"

run "$pomlrun" --dry-run "$cr" -p repo=x -p nope=1
status "-p nope=1" 1
errhas "-p nope=1" "pomlrun: error: -p: unknown parameter 'nope'"
run "$pomlrun" --dry-run "$cr" -p rep=x
status "-p rep=x" 1
errhas "-p rep=x" "unknown parameter 'rep'; did you mean 'repo'?"
run "$pomlrun" --dry-run "$good" -p zzzzzzzz=1
errlacks "-p zzzzzzzz=1 (nothing close)" "did you mean"

tp=$plans/typed.plan
run "$pomlrun" --dry-run "$tp" -p n=3 -p n=-7 -p ratio=2.5 -p ratio=1e-3 \
    -p flag=true -p flag=false -p 'list=[1, "a", null]' \
    -p 'obj={"a": {"b": [1]}}' -p mode=slow
status "typed: good values" 0
silent_err=$(first "$tmp/err")
same "typed: standard error with good values" "(empty)" "$silent_err"
same "typed: the step listed" "show 0" "$(steps)"

while read -r arg message; do
    run "$pomlrun" --dry-run "$tp" -p "$arg"
    status "typed: -p $arg" 1
    errline "typed: -p $arg" "pomlrun: error: -p: $message"
done << 'EOF'
n=abc parameter 'n' must be an integer, not 'abc'
n=1.5 parameter 'n' must be an integer, not '1.5'
n= parameter 'n' must be an integer, not ''
ratio=x parameter 'ratio' must be a number, not 'x'
ratio=inf parameter 'ratio' must be a number, not 'inf'
flag=yes parameter 'flag' must be true or false, not 'yes'
list=notjson parameter 'list' must be a JSON array, not 'notjson'
list={} parameter 'list' must be a JSON array, not '{}'
obj=3 parameter 'obj' must be a JSON object, not '3'
obj=[] parameter 'obj' must be a JSON object, not '[]'
mode=other parameter 'mode' is 'other', not one of ["fast","slow"]
EOF

run "$pomlrun" --dry-run "$tp" --params "$data/good.json"
status "typed: --params good.json" 0
same "typed: --params good.json, standard error" "(empty)" \
     "$(first "$tmp/err")"
run "$pomlrun" --dry-run "$tp" --params "$data/wrong-type.json"
status "typed: --params wrong-type.json" 1
errline "typed: --params wrong-type.json" \
        "pomlrun: error: $data/wrong-type.json: parameter 'n' must be an" \
        "integer, not a string"
run "$pomlrun" --dry-run "$tp" --params "$data/not-object.json"
status "typed: --params not-object.json" 1
errline "typed: --params not-object.json" \
        "pomlrun: error: $data/not-object.json: not a JSON object of" \
        "parameter values"
run "$pomlrun" --dry-run "$tp" --params "$tmp/missing.json"
status "typed: --params missing.json" 1
errhas "typed: --params missing.json" \
       "pomlrun: error: cannot read '$tmp/missing.json'"

# A JSON number is an integer only within the range -p accepts (2^53).
printf '{"n": 1e300}\n' > "$tmp/huge.json"
run "$pomlrun" --dry-run "$tp" --params "$tmp/huge.json"
status "typed: --params with n = 1e300" 1
errhas "typed: --params with n = 1e300" "parameter 'n' must be an integer"
# Numbers on the command line are read as JSON numbers, as integers are.
run "$pomlrun" --dry-run "$tp" -p ratio=0x10
status "typed: -p ratio=0x10 (not a JSON number)" 1
errhas "typed: -p ratio=0x10" "parameter 'ratio' must be a number"

run "$pomlrun" --dry-run "$plans/noparam.plan" -p x=1
status "-p on a workflow without parameters" 1
errline "-p on a workflow without parameters" \
        "pomlrun: error: -p: unknown parameter 'x'; this workflow takes" \
        "no parameters"

# every mistake in one run
run "$pomlrun" --dry-run "$tp" -p n=abc -p flag=yes
status "two bad values" 1
same "two bad values: error lines" 2 "$(count "$tmp/err" 'pomlrun: error:')"
run "$pomlrun" --dry-run "$cr" -p rep=x -p severity_threshold=extreme
status "unknown, bad enum and missing parameters" 1
same "unknown, bad enum and missing parameters: error lines" 3 \
     "$(count "$tmp/err" 'pomlrun: error:')"

# usage errors
while read -r what args; do
    # shellcheck disable=SC2086
    run "$pomlrun" $args
    status "pomlrun usage: $what" 2
    errhas "pomlrun usage: $what" "pomlrun: try 'pomlrun --help'"
done << EOF
no-plan --dry-run
no-plan-with-p -p name=x
unknown-option --frobnicate $good
p-without-equals --dry-run $good -p name
p-empty-name --dry-run $good -p =x
p-at-the-end --dry-run $good -p
params-without-file --dry-run $good --params
two-plans --check $good $good
jobs-zero --jobs 0 $good
jobs-word -j many $good
jobs-at-the-end $good --jobs
kill-grace-negative --kill-grace -1 $good
kill-grace-word --kill-grace soon $good
events-at-the-end $good --events
record-and-replay --record a.jsonl --replay b.jsonl $good
record-at-the-end $good --record
provider-jobs-zero --provider-jobs 0 $good
rpm-zero --rpm 0 $good
tpm-word --tpm lots $good
json-and-events-on-stdout --json --events - $good
EOF

# a cassette that is not one: a clear error, nothing runs
printf 'not json\n' > "$tmp/bad.cassette"
run "$pomlrun" --replay "$tmp/bad.cassette" "$good"
status "--replay of a file that is no cassette" 1
errhas "--replay of a file that is no cassette" "bad.cassette:1: not a cassette entry"
run "$pomlrun" --replay "$tmp/no-such.cassette" "$good"
status "--replay of a missing file" 1
errhas "--replay of a missing file" "cannot read cassette"
run "$pomlrun" --events /no/such/dir/ev.jsonl "$good"
status "--events into a missing directory" 1
errhas "--events into a missing directory" "cannot write '/no/such/dir/ev.jsonl'"

# ---- 5. --emit=dot, --emit=json, --stats, --dump ---------------------

crsrc=$examples/seeds/code-review.poml
run "$pomlc" --emit=dot "$crsrc"
status "--emit=dot code-review" 0
cp "$tmp/out" "$tmp/cr.dot"
if command -v dot > /dev/null 2>&1; then
    if dot -Tsvg "$tmp/cr.dot" > /dev/null 2> "$tmp/doterr"; then
        pass
    else
        fail "dot -Tsvg rejects --emit=dot output: $(first "$tmp/doterr")"
    fi
fi
same "--emit=dot: first line" 'digraph "code_review_workflow" {' \
     "$(head -n 1 "$tmp/cr.dot")"
same "--emit=dot: last line" '}' "$(tail -n 1 "$tmp/cr.dot")"
same "--emit=dot: stage clusters" \
     "cluster_stage0 cluster_stage1 cluster_stage2 cluster_stage3" \
     "$(sed -n 's/^ *subgraph \(cluster_stage[0-9]*\) {$/\1/p' \
        "$tmp/cr.dot" | tr '\n' ' ' | sed 's/ $//')"
same "--emit=dot: edges" 5 "$(count "$tmp/cr.dot" ' -> ')"
same "--emit=dot: red nodes" \
     "analyze_code aggregate_findings generate_report create_pr_comment" \
     "$(sed -n 's/^ *"\([^"]*\)" \[label=.*color=red.*/\1/p' \
        "$tmp/cr.dot" | tr '\n' ' ' | sed 's/ $//')"

run "$pomlc" --stats "$crsrc"
status "--stats code-review" 0
cp "$tmp/out" "$tmp/cr.stats"
# field NAME: the rest of the --stats line starting with NAME
field() {
    sed -n "s/^$1  *//p" "$tmp/cr.stats"
}
same "--stats: steps" "6 (4 LLM)" "$(field steps)"
same "--stats: edges" 5 "$(field edges)"
same "--stats: stages" 4 "$(field stages)"
same "--stats: widest stage" 3 "$(field 'widest stage')"
same "--stats: critical path" "4 steps: analyze_code → aggregate_findings\
 → generate_report → create_pr_comment" "$(field 'critical path')"

# Every example: the DOT parses and draws what the JSON says, and the
# JSON agrees with --stats and --dump.
if $have_python; then
    for f in $list; do
        src=$examples/$f
        "$pomlc" --emit=dot -o "$tmp/g.dot" "$src" 2> /dev/null
        "$pomlc" --emit=json -o "$tmp/g.json" "$src" 2> /dev/null
        if python3 "$data/graph.py" dot "$tmp/g.dot" > "$tmp/g.dotsum" \
            2> "$tmp/err"; then
            pass
        else
            fail "$f: --emit=dot is not valid DOT: $(first "$tmp/err")"
            continue
        fi
        if python3 "$data/graph.py" json "$tmp/g.json" > "$tmp/g.jsonsum" \
            2> "$tmp/err"; then
            pass
        else
            fail "$f: --emit=json does not parse: $(first "$tmp/err")"
            continue
        fi
        if cmp -s "$tmp/g.jsonsum" "$tmp/g.dotsum"; then
            pass
        else
            fail "$f: --emit=dot and --emit=json disagree:" \
                 "$(diff "$tmp/g.jsonsum" "$tmp/g.dotsum" | grep '^[<>]' |
                    head -n 2 | tr '\n' ' ')"
        fi
        python3 "$data/graph.py" stats "$tmp/g.json" > "$tmp/g.want"
        "$pomlc" --stats "$src" 2> /dev/null | awk '
            /^(steps|edges|stages|widest stage|critical path) / {
                sub(/   */, " ")
                print
            }' > "$tmp/g.got"
        if cmp -s "$tmp/g.want" "$tmp/g.got"; then
            pass
        else
            fail "$f: --stats disagrees with --emit=json:" \
                 "$(diff "$tmp/g.want" "$tmp/g.got" | grep '^[<>]' |
                    head -n 2 | tr '\n' ' ')"
        fi
        # --dump: every step with its stage, as in the JSON
        "$pomlc" -o "$tmp/g.plan" "$src" 2> /dev/null
        "$pomlc" --dump "$tmp/g.plan" > "$tmp/g.dump"
        sed -n 's/^stage \([0-9]*\): //p' "$tmp/g.jsonsum" > "$tmp/g.st"
        awk '{ for (i = 1; i <= NF; i++) print $i, NR - 1 }' "$tmp/g.st" |
            sort > "$tmp/g.want"
        awk '/^step [0-9]+ [^ ]+  \[[a-z]+\] stage [0-9]+,/ {
                 print $3, $6 + 0
             }' "$tmp/g.dump" | sort > "$tmp/g.got"
        if cmp -s "$tmp/g.want" "$tmp/g.got"; then
            pass
        else
            fail "$f: --dump steps and stages differ from --emit=json:" \
                 "$(diff "$tmp/g.want" "$tmp/g.got" | grep '^[<>]' |
                    head -n 2 | tr '\n' ' ')"
        fi
    done
fi

# --emit=json carries the type of every step output (valid/types.poml uses
# each source of types)
run "$pomlc" --emit=json -o - "$top_srcdir/tests/lint/valid/types.poml"
status "--emit=json types.poml" 0
if python3 -c 'import json, sys
d = {s["id"]: s["output_types"] for s in json.load(open(sys.argv[1]))["steps"]}
want = {("review", "verdict"): "\x27approve\x27 | \x27request_changes\x27",
        ("review", "usage"): "{input_tokens: integer, output_tokens: integer, total_tokens: integer}",
        ("checked", "score"): "number",
        ("count", "count"): "integer",
        ("each", "exit_code"): "array<integer>",
        ("build", "status"): "\x27succeeded\x27 | \x27failed\x27 | \x27skipped\x27 | \x27cancelled\x27"}
for (s, o), t in want.items():
    if d[s][o]["type"] != t:
        sys.exit("%s.%s is %s, not %s" % (s, o, d[s][o]["type"], t))
sc = d["review"]["verdict"]["schema"]
if sc != {"type": "string", "enum": ["approve", "request_changes"]}:
    sys.exit("review.verdict schema: %r" % sc)
if d["each"]["exit_code"]["schema"] != {"type": "array", "items": {"type": "integer"}}:
    sys.exit("each.exit_code schema")' "$tmp/out" 2> "$tmp/err"; then
    pass
else
    fail "--emit=json output_types: $(first "$tmp/err")"
fi

# --dump prints the same types from the plan, step by step, for a file
# with each source of types and one with tool schemas
for f in types types-tools; do
    src=$top_srcdir/tests/lint/valid/$f.poml
    "$pomlc" --emit=json -o "$tmp/t.json" "$src" 2> /dev/null
    "$pomlc" -o "$tmp/t.plan" "$src" 2> /dev/null
    run "$pomlc" --dump "$tmp/t.plan"
    status "--dump $f.poml" 0
    if python3 -c 'import json, sys
want = []
for s in json.load(open(sys.argv[1]))["steps"]:
    for o, t in s["output_types"].items():
        want.append("%s %s: %s" % (s["id"], o, t["type"]))
got, step, on = [], None, False
for line in open(sys.argv[2]):
    line = line.rstrip("\n")
    if line.startswith("step "):
        step, on = line.split()[2], False
    elif line == "    output types:":
        on = True
    elif on and line.startswith("      "):
        got.append("%s %s" % (step, line.strip()))
    else:
        on = False
if sorted(want) != sorted(got) or not want:
    sys.exit("differ: %s" % sorted(set(want) ^ set(got))[:3])' \
        "$tmp/t.json" "$tmp/out" 2> "$tmp/err"; then
        pass
    else
        fail "--dump $f.poml: output types $(first "$tmp/err")"
    fi
done

run "$pomlc" --dump "$cr"
status "--dump code-review" 0
for s in "analyze_code 0" "security_scan 0" "quality_check 0" \
         "aggregate_findings 1" "generate_report 2" "create_pr_comment 3"; do
    id=${s% *}
    st=${s#* }
    if grep "^step [0-9]* $id  \[[a-z]*\] stage $st," "$tmp/out" > /dev/null
    then
        pass
    else
        fail "--dump code-review: expected step $id in stage $st"
    fi
done
if grep -Fx '  6 steps in 4 stages, widest 3, critical path 4 steps' \
    "$tmp/out" > /dev/null; then
    pass
else
    fail "--dump code-review: expected '6 steps in 4 stages, widest 3," \
         "critical path 4 steps'"
fi
same "--dump code-review: lines naming a directory, after the first" 0 \
     "$(sed 1d "$tmp/out" | grep -c -F -e "$top_srcdir" -e "$tmp")"

# counts of one are singular in --stats and --dump
mkdir "$tmp/one"
printf 'workflow_id: one\nsteps:\n  - id: only\n    run: echo hi\n' \
    > "$tmp/one/one.poml"
run "$pomlc" --stats "$tmp/one/one.poml"
status "--stats, one step" 0
same "--stats, one step: critical path" "critical path   1 step: only" \
     "$(grep '^critical path' "$tmp/out")"
run "$pomlc" -o "$tmp/one/one.plan" "$tmp/one/one.poml"
run "$pomlc" --dump "$tmp/one/one.plan"
status "--dump, one step" 0
same "--dump, one step: counts" \
     "  1 step in 1 stage, widest 1, critical path 1 step" \
     "$(sed -n 3p "$tmp/out")"
same "--dump, one step: its part" "    run: 1 part" \
     "$(grep '^    run:' "$tmp/out")"

# -o with two inputs
out=$tmp/two
mkdir "$out"
run "$pomlc" -o "$out/x.plan" "$examples/hello.poml" "$examples/ci.poml"
status "pomlc -o with two inputs" 2
errline "pomlc -o with two inputs" \
        "pomlc: error: '-o' needs exactly one input file"
absent "pomlc -o with two inputs writes nothing" "$out/x.plan"

# A compile error writes no plan and leaves an existing one alone.
w=$tmp/werr
mkdir "$w"
cat > "$w/bad.poml" << 'EOF'
workflow_id: bad
steps:
  - id: a
    depnds_on: [b]
    run: echo a
EOF
run "$pomlc" "$w/bad.poml"
status "pomlc on a bad workflow" 1
errline "pomlc on a bad workflow" \
        "$w/bad.poml:4:5: error: unknown key 'depnds_on' in step" \
        "[-Wunknown-key]"
absent "a compile error writes no plan" "$w/bad.plan"
echo "an older plan" > "$w/bad.plan"
echo "an older plan" > "$w/keep.plan"
run "$pomlc" "$w/bad.poml"
status "pomlc on a bad workflow, plan present" 1
same "a compile error leaves the existing plan" "an older plan" \
     "$(cat "$w/bad.plan")"
run "$pomlc" -MD -o "$w/keep.plan" "$w/bad.poml"
same "a compile error leaves the existing -o plan" "an older plan" \
     "$(cat "$w/keep.plan")"
absent "a compile error writes no dependency file" "$w/keep.d"
same "files left in the directory" "bad.plan bad.poml keep.plan" \
     "$(cd "$w" && echo *)"
run "$pomlc" -o "$tmp/nodir/x.plan" "$examples/hello.poml"
status "pomlc -o into a missing directory" 1
errhas "pomlc -o into a missing directory" \
       "pomlc: error: cannot write '$tmp/nodir/x.plan'"

# ---- 6. exit statuses of pomlc ----------------------------------------

e=$tmp/exit
mkdir "$e"
run "$pomlc" -o "$e/hello.plan" "$examples/hello.poml"
status "pomlc on a clean workflow" 0
silent "pomlc on a clean workflow"
run "$pomlc" --lint "$examples/hello.poml"
status "pomlc --lint on a clean workflow" 0
run "$pomlc" -o "$e/alerts.plan" "$examples/seeds/alerts.poml"
status "pomlc on a workflow with a warning" 0
errhas "pomlc on a workflow with a warning" "warning: the workflow has no steps"
ok "a warning still writes the plan" test -f "$e/alerts.plan"
rm -f "$e/alerts.plan"
run "$pomlc" -Werror -o "$e/alerts.plan" "$examples/seeds/alerts.poml"
status "pomlc -Werror on a warning" 1
errhas "pomlc -Werror on a warning" "error: the workflow has no steps"
absent "-Werror on a warning writes no plan" "$e/alerts.plan"
run "$pomlc" -Werror=empty-step --lint "$examples/seeds/alerts.poml"
status "pomlc -Werror=empty-step on that warning" 1
run "$pomlc" -Werror=sla --lint "$examples/seeds/alerts.poml"
status "pomlc -Werror=sla on another warning" 0
run "$pomlc" -Wno-empty-step -Wno-not-implemented --lint "$examples/seeds/alerts.poml"
status "pomlc -Wno-empty-step" 0
silent "pomlc -Wno-empty-step"
run "$pomlc" --lint "$w/bad.poml"
status "pomlc --lint on errors" 1
run "$pomlc" --stats "$w/bad.poml"
status "pomlc --stats on errors" 1
run "$pomlc" --lint "$tmp/no-such.poml"
status "pomlc on a missing file" 1

while read -r what args; do
    # shellcheck disable=SC2086
    run "$pomlc" $args
    status "pomlc usage: $what" 2
    errhas "pomlc usage: $what" "pomlc: try 'pomlc --help'"
done << EOF
no-input --lint
unknown-option --frobnicate $examples/hello.poml
bad-emit --emit=svg $examples/hello.poml
o-without-file $examples/hello.poml -o
mf-without-file $examples/hello.poml -MF
dump-without-plan --dump
unknown-warning -Wfrobnicate $examples/hello.poml
disable-an-error -Wno-import $examples/hello.poml
bad-max-errors -fmax-errors=x $examples/hello.poml
bad-color --color=sometimes $examples/hello.poml
bad-diag-format --diagnostics-format=xml $examples/hello.poml
EOF
run "$pomlc" --help
status "pomlc --help" 0
run "$pomlrun" --help
status "pomlrun --help" 0

# ---- 7. sub-workflows ------------------------------------------------

# u32 FILE OFFSET: the little-endian u32 at OFFSET of FILE
u32() {
    od -An -tu1 -j "$2" -N 4 "$1" |
        awk '{ print $1 + 256 * ($2 + 256 * ($3 + 256 * $4)) }'
}

# subentry PLAN: the offset of the SUBPLANS (id 16) entry of the section
# table, or nothing
subentry() {
    k=0
    while [ "$k" -lt "$(u32 "$1" 28)" ]; do
        e=$(($(u32 "$1" 32) + k * 16))
        if [ "$(u32 "$1" "$e")" = 16 ]; then
            echo "$e"
            return
        fi
        k=$((k + 1))
    done
}

# subsec PLAN: the offset of the SUBPLANS section
subsec() {
    u32 "$1" $(($(subentry "$1") + 8))
}

# subplan PLAN I OUT: writes the plan of SUBPLANS record I of PLAN to OUT
subplan() {
    at=$(subsec "$1")
    off=$(u32 "$1" $((at + $2 * 16 + 4)))
    len=$(u32 "$1" $((at + $2 * 16 + 8)))
    tail -c +$((at + off + 1)) "$1" | head -c "$len" > "$3"
}

# A plan embeds the plans of its sub-workflows, the bytes pomlc writes for
# each on its own, and the same bytes from wherever it is compiled.
sd=$data/subs
sub=$tmp/sub
mkdir "$sub" "$sub/elsewhere"
cp -R "$sd" "$sub/elsewhere/tree"
chmod -R u+w "$sub/elsewhere"
(cd "$data" && "$pomlc" -o "$sub/main.1" subs/main.poml) 2> /dev/null
rc1=$?
(cd "$sub/elsewhere" && "$pomlc" -o "$sub/main.2" tree/main.poml) 2> /dev/null
rc2=$?
(cd / && "$pomlc" -o "$sub/main.3" "$sub/elsewhere/tree/main.poml") \
    2> /dev/null
rc3=$?
same "sub-workflows: exit status of the three compilations" "0 0 0" \
     "$rc1 $rc2 $rc3"
samefile "sub-workflows: relative path elsewhere" "$sub/main.1" "$sub/main.2"
samefile "sub-workflows: absolute path" "$sub/main.1" "$sub/main.3"
same "sub-workflows: lines of the plans naming a directory of this machine" \
     0 "$(cat "$sub/main.1" "$sub/main.2" "$sub/main.3" |
          grep -a -c -F -e "$tmp" -e "$top_srcdir" -e "$top_builddir")"
mp=$sub/main.1
same "sub-workflows: the plan has a SUBPLANS section" yes \
     "$([ -n "$(subentry "$mp")" ] && echo yes)"
(cd "$sd/flows" && "$pomlc" -o "$sub/check.plan" check.poml) 2> /dev/null
"$pomlc" -o "$sub/notify.plan" "$sd/flows/notify.poml" 2> /dev/null
i=0
for want in check check notify; do
    subplan "$mp" $i "$sub/got$i.plan"
    samefile "sub-plan $i: the plan of $want.poml on its own" \
             "$sub/$want.plan" "$sub/got$i.plan"
    i=$((i + 1))
done
run "$pomlrun" --check "$mp"
status "pomlrun --check on a plan with sub-plans" 0
run "$pomlc" --dump "$mp"
status "--dump of a plan with sub-plans" 0
# the lines "subplan NAME: N bytes, format M.N, workflow ID (from F), K
# steps" without the size, format and file
sed -n '/^ *subplan /{
            s/: [0-9]* bytes, format [0-9]*\.[0-9]*, /: /
            s/ (from [a-z]*\.poml)//p
        }' "$tmp/out" > "$tmp/subs"
cat > "$tmp/want" << 'EOF'
subplan ./flows/check.poml: workflow check, 2 steps
  subplan leaf.poml: workflow leaf, 1 step
subplan flows/check.poml: workflow check, 2 steps
  subplan leaf.poml: workflow leaf, 1 step
subplan flows/notify.poml: workflow notify, 1 step
EOF
samefile "--dump: the sub-plans" "$tmp/want" "$tmp/subs"

# -MD names every file of every sub-workflow, once
run "$pomlc" -MD -o "$sub/md.plan" "$sd/main.poml"
status "pomlc -MD on a workflow with sub-workflows" 0
for dep in main.poml flows/check.poml flows/leaf.poml flows/notify.poml; do
    same "md.d: lines naming $dep" 1 "$(count "$sub/md.d" "/$dep")"
done

# A workflow naming itself through another: the chain, where it closes
cy=$data/cycle
run "$pomlc" -o "$sub/cycle.plan" "$cy/a.poml"
status "a sub-workflow cycle" 1
errline "a sub-workflow cycle" "$cy/sub/b.poml:4:15: error: sub-workflow" \
        "cycle: a.poml -> sub/b.poml -> a.poml [-Wsub-workflow]"
absent "a sub-workflow cycle writes no plan" "$sub/cycle.plan"
run "$pomlc" --lint --allow-path "$cy" "$cy/sub/b.poml"
status "the same cycle from b.poml" 1
errline "the same cycle from b.poml" "$cy/sub/../a.poml:4:15: error:" \
        "sub-workflow cycle: b.poml -> ../a.poml -> b.poml [-Wsub-workflow]"

# 16 levels of sub-workflows below the main file, and one more
deep=$sub/deep
mkdir "$deep"
i=0
while [ $i -le 17 ]; do
    {
        printf 'workflow_id: w%d\nsteps:\n  - id: s\n' $i
        if [ $i -lt 17 ]; then
            printf '    workflow: w%d.poml\n' $((i + 1))
        else
            printf '    run: echo w%d\n' $i
        fi
    } > "$deep/w$i.poml"
    i=$((i + 1))
done
run "$pomlc" -o "$deep/w1.plan" "$deep/w1.poml"
status "sub-workflows 16 levels deep" 0
run "$pomlrun" --check "$deep/w1.plan"
status "pomlrun --check on sub-plans 16 levels deep" 0
run "$pomlc" --dump "$deep/w1.plan"
same "--dump: the innermost of 16 levels" 1 \
     "$(grep -c '^ \{30\}subplan w17.poml: ' "$tmp/out")"
run "$pomlc" -o "$deep/w0.plan" "$deep/w0.poml"
status "sub-workflows 17 levels deep" 1
errline "sub-workflows 17 levels deep" "$deep/w16.poml:4:15: error:" \
        "sub-workflows nested deeper than 16 levels: 'w17.poml' here would" \
        "reach level 17 [-Wsub-workflow]"
absent "sub-workflows 17 levels deep: no plan" "$deep/w0.plan"

# A sub-workflow's errors carry its own file and position; the models its
# caller defines are not its own.
mkdir "$sub/err" "$sub/err/flows"
printf '%s\n' 'workflow_id: main' 'models:' \
    '  house-model: {protocol: openai, base_url: "http://127.0.0.1:1/v1"}' \
    'steps:' '  - id: ask' '    model: house-model' '    prompt: hi' \
    '  - id: sub' '    workflow: flows/sub.poml' > "$sub/err/main.poml"
printf '%s\n' 'workflow_id: sub' 'steps:' '  - id: ask' \
    '    model: house-model' '    prompt: hi' > "$sub/err/flows/sub.poml"
run "$pomlc" -o "$sub/err/main.plan" "$sub/err/main.poml"
status "a sub-workflow with an error" 1
errline "a sub-workflow with an error" "$sub/err/flows/sub.poml:4:12:" \
        "error: unknown model 'house-model' [-Wunknown-model]"
same "a sub-workflow with an error: error lines" 1 \
     "$(count "$tmp/err" ': error: ')"
absent "a sub-workflow with an error: no plan" "$sub/err/main.plan"

# Files compiled in one run share the catalog, and each plan still lists
# the models it uses.
mkdir "$sub/two"
cp "$examples/multi-model.poml" "$sub/two/a.poml"
cp "$examples/multi-model.poml" "$sub/two/b.poml"
run "$pomlc" "$sub/two/a.poml" "$sub/two/b.poml"
status "two workflows with the same models in one run" 0
run "$pomlrun" --check "$sub/two/b.plan"
status "pomlrun --check on the second plan of one run" 0
"$pomlc" -o "$sub/two/alone.plan" "$sub/two/b.poml" 2> /dev/null
samefile "the second plan of one run, as compiled alone" \
         "$sub/two/alone.plan" "$sub/two/b.plan"


# ---- the files a workflow may read ----

# A link out of the workflow's directory is refused, and what it points to
# is neither read into a plan nor quoted; --allow-path lets it in.
pa=$tmp/paths
mkdir -p "$pa/wf/prompts" "$pa/outside"
printf '%s\n' '---' 'model: gpt-4o' '---' 'SECRET-LINE {{topic}}' \
    > "$pa/outside/p.md"
ln -s ../../outside/p.md "$pa/wf/prompts/p.md"
printf '%s\n' 'workflow_id: w' 'steps:' '  - id: a' \
    '    prompt_file: prompts/p.md' '    inputs: {topic: x}' \
    > "$pa/wf/w.poml"
run "$pomlc" -o "$pa/w.plan" "$pa/wf/w.poml"
status "a prompt file linked from outside" 1
errhas "a prompt file linked from outside: the boundary" \
    "error: prompt file 'prompts/p.md' is outside the directories pomlc" \
    "reads: the workflow's '$(cd "$pa/wf" && pwd -P)' and the standard library"
errhas "a prompt file linked from outside: the way in" "--allow-path DIR"
errlacks "a prompt file linked from outside: not quoted" "SECRET-LINE"
absent "a prompt file linked from outside: no plan" "$pa/w.plan"
run "$pomlc" --allow-path "$pa/outside" -o "$pa/w.plan" "$pa/wf/w.poml"
status "a prompt file linked from an allowed directory" 0
same "a prompt file linked from an allowed directory: in the plan" 1 \
     "$(count "$pa/w.plan" "SECRET-LINE")"
run "$pomlc" --lint --allow-path "$pa/none" "$pa/wf/w.poml"
status "--allow-path of no directory" 2
errline "--allow-path of no directory" "pomlc: error: '--allow-path' needs" \
        "a directory, and '$pa/none' is none"
run "$pomlc" --lint "--allow-path=$pa/wf/w.poml" "$pa/wf/w.poml"
status "--allow-path of a file" 2

run "$pomlc" --allow-path / -o "$pa/all.plan" "$pa/wf/w.poml"
status "--allow-path / lets every file in" 0

# A standard library template by name, compiled into the plan
printf '%s\n' 'workflow_id: review' 'steps:' '  - id: review' \
    '    workflow: stdlib:code_review' '    with: {repo: my-app}' \
    > "$pa/review.poml"
run "$pomlc" -Werror=sla -o "$pa/review.plan" "$pa/review.poml"
status "workflow: stdlib:code_review" 0
run "$pomlrun" --dry-run "$pa/review.plan"
status "workflow: stdlib:code_review, pomlrun --dry-run" 0
same "workflow: stdlib:code_review, the step" \
     "1 review workflow stage 0" "$(tr -s ' ' < "$tmp/out" | sed 's/^ //')"
run "$pomlc" --dump "$pa/review.plan"
same "workflow: stdlib:code_review, the template's plan embedded" 1 \
     "$(count "$tmp/out" "subplan stdlib:code_review: ")"
same "workflow: stdlib:code_review, its steps" 1 \
     "$(count "$tmp/out" "workflow code_review_workflow (from code_review.poml), 6 steps")"
printf '%s\n' 'workflow_id: w' 'steps:' '  - id: a' \
    '    workflow: stdlib:no_such_template' > "$pa/missing.poml"
run "$pomlc" --lint "$pa/missing.poml"
status "workflow: stdlib: of no template" 1
errhas "workflow: stdlib: of no template: the file" \
    "note: 'stdlib:NAME' is the standard library's templates/NAME.poml," \
    "here '$POML_STDLIB/templates/no_such_template.poml'"


# An agent's capabilities choose the first model of its capability that
# has them all; its tools become the tools of the steps using it
ag=$tmp/agents
mkdir -p "$ag"
printf '%s\n' 'workflow_id: ag' 'agents:' '  plain:' \
    '    capability: code_analysis' '  strict:' \
    '    capability: code_analysis' '    capabilities: [json_schema]' \
    '    tools: [read_file]' 'steps:' '  - id: a' '    agent: plain' \
    '    prompt: look' '  - id: b' '    agent: strict' '    prompt: look' \
    > "$ag/ag.poml"
run "$pomlc" -o "$ag/ag.plan" "$ag/ag.poml"
status "agent capabilities" 0
run "$pomlc" --dump "$ag/ag.plan"
sed -n '/^step [0-9]* a /,/^step [0-9]* b /p' "$tmp/out" > "$ag/a"
sed -n '/^step [0-9]* b /,/^tool /p' "$tmp/out" > "$ag/b"
same "an agent without capabilities: the capability's first model" 1 \
     "$(count "$ag/a" "model: claude-sonnet-4-5")"
same "an agent needing json_schema: the first model that has it" 1 \
     "$(count "$ag/b" "model: gpt-5")"
same "an agent's tools: the step's" 1 "$(count "$ag/b" "tools: read_file")"
same "an agent's tools: not another agent's step's" 0 \
     "$(count "$ag/a" "tools:")"

# -o to what is not a regular file (a FIFO, /dev/null) writes into it:
# a rename would put a regular file in its place
mkfifo "$tmp/fifo.plan"
timeout 10 cat "$tmp/fifo.plan" > "$tmp/through.plan" &
run "$pomlc" -o "$tmp/fifo.plan" "$data/typed.poml"
wait
status "-o FIFO" 0
if [ -p "$tmp/fifo.plan" ] && "$pomlrun" --check "$tmp/through.plan" 2> /dev/null; then
    pass
else
    fail "-o FIFO: the FIFO was replaced, or the plan did not go through it"
fi

test_end
