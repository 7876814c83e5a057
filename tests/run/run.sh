#!/bin/sh
# run.sh -- pomlrun running workflows, with real processes
#
# Each check compiles a workflow of tests/run/wf with pomlc, runs it with
# pomlrun (mostly --json, read with python3) and looks at the result, the
# events, the files the steps leave and the processes left behind:
# parallelism and --jobs, dependencies, failures and what they block,
# on_failure, conditions and `after`, for_each, retries, timeouts,
# SIGINT / SIGTERM, values that try to inject shell code, NUL characters,
# step outputs, aggregators, sub-workflows, parameter errors, --events,
# -q, and the examples that need no model.  Steps are ordered with files
# and FIFOs, never with sleeps; a short sleep only paces a bounded wait
# for a condition.  Prints one line per failed check, then a count; exits
# 1 when a check failed.
# shellcheck disable=SC2016 # '$' in single quotes is meant literally
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POML_STDLIB:=$top_srcdir/stdlib}"
export POML_STDLIB
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
wf=$top_srcdir/tests/run/wf
examples=$top_srcdir/examples

for prog in "$pomlc" "$pomlrun"; do
    if [ ! -x "$prog" ]; then
        echo "error: $prog not built"
        exit 1
    fi
done
if ! command -v python3 > /dev/null 2>&1; then
    echo "error: python3 is needed to read pomlrun's JSON"
    exit 1
fi

. "$top_srcdir/tests/lib.sh"
test_begin run
# every run's temporary directory lives here, and must be gone when the
# run ends, however it ends (see left_behind)
TMPDIR=$tmp/tmpdir
export TMPDIR
mkdir "$TMPDIR"

# a number of seconds no step reaches, unique to this driver, so that the
# sleeps of a run can be told from every other process: sleep ${long}N
long=300.$$

# ---- helpers ----

# compile CHECK NAME [DIR]: $tmp/NAME.plan from DIR/NAME.poml (default
# tests/run/wf); a failure fails CHECK
compile() {
    "$pomlc" -o "$tmp/$2.plan" "${3:-$wf}/$2.poml" > "$tmp/pomlc.err" 2>&1
    c=$?
    sanitized "$1: pomlc $2.poml" "$tmp/pomlc.err" || return 1
    if [ "$c" -ne 0 ] || [ ! -s "$tmp/$2.plan" ]; then
        fail "$1: pomlc $2.poml failed (status $c): $(grep -m1 'error' \
            "$tmp/pomlc.err")"
        return 1
    fi
    return 0
}

# prun CHECK DIR ARGS...: runs pomlrun ARGS in DIR; leaves DIR/res.json
# (standard output), DIR/err and $rc; a sanitizer report fails CHECK
prun() {
    _what=$1
    _dir=$2
    shift 2
    (cd "$_dir" && exec "$pomlrun" "$@") > "$_dir/res.json" 2> "$_dir/err"
    rc=$?
    sanitized "$_what" "$_dir/err"
    left_behind "$_what"
}

# left_behind CHECK: no run left its temporary directory in $TMPDIR
left_behind() {
    _left=$(ls "$TMPDIR")
    if [ -n "$_left" ]; then
        fail "$1: left in TMPDIR: $(echo $_left | cut -c1-200)"
        rm -rf "${TMPDIR:?}"/*
    fi
}

# status CHECK N: the last run exited with N
status() {
    if [ "$rc" -eq "$2" ]; then
        pass
    else
        fail "$1: expected exit status $2, got $rc ($(first "$d/err"))"
    fi
}

# JSON comparisons, type-strict (true is not 1), numbers by value
py_lib="$py_json"'
def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except Exception as e:
        print("no JSON result in %s (%s)" % (path.split("/")[-1], e))
        sys.exit(0)
def lines(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, l in enumerate(f, 1):
                try:
                    out.append(json.loads(l))
                except ValueError:
                    print("line %d is not JSON: %r" % (n, l[:80]))
                    sys.exit(0)
    except OSError as e:
        print("no events file (%s)" % e)
        sys.exit(0)
    return out
'

# report CHECK: each line of $tmp/py is a failure of CHECK; none: a pass
report() {
    if [ -s "$tmp/py" ]; then
        while IFS= read -r line; do
            fail "$1: $line"
        done < "$tmp/py"
    else
        pass
    fi
}

# expect CHECK FILE PATH JSON [PATH JSON]...: in the JSON document FILE,
# each PATH (keys and list indices separated by dots) holds JSON
expect() {
    _what=$1
    _file=$2
    shift 2
    python3 -c "$py_lib"'
r = load(sys.argv[1])
a = sys.argv[2:]
for i in range(0, len(a), 2):
    got, want = get(r, a[i]), json.loads(a[i + 1])
    if got is MISSING or not same(got, want):
        print("%s is %s, expected %s" % (a[i], show(got), show(want)))
' "$_file" "$@" > "$tmp/py" 2>&1
    report "$_what"
}

# holds CHECK FILE EXPR [SHOW]: the Python expression EXPR is true of the
# JSON document FILE (r; get(r, "a.b") reads a path); SHOW is printed
# when it is not
holds() {
    python3 -c "$py_lib"'
r = load(sys.argv[1])
if not eval(sys.argv[2]):
    print("not true: %s%s" % (sys.argv[2],
          ("; " + show(eval(sys.argv[3]))) if len(sys.argv) > 3 else ""))
' "$2" "$3" ${4+"$4"} > "$tmp/py" 2>&1
    report "$1"
}

# reason CHECK FILE STEP WORDS: the reason of STEP contains WORDS
reason() {
    python3 -c "$py_lib"'
r = load(sys.argv[1])
why = get(r, "steps.%s.reason" % sys.argv[2])
if not isinstance(why, str) or sys.argv[3] not in why:
    print("reason of %s is %s, expected it to mention %r"
          % (sys.argv[2], show(why), sys.argv[3]))
' "$2" "$3" "$4" > "$tmp/py" 2>&1
    report "$1"
}

# wait_until COMMAND...: COMMAND succeeds within about 20 s ($patience
# tries, 20 a second)
patience=400
wait_until() {
    i=0
    until "$@"; do
        i=$((i + 1))
        [ "$i" -lt "$patience" ] || return 1
        sleep 0.05
    done
    return 0
}

# proc_live PID: the process exists and is not a zombie
proc_live() {
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$st" ] && [ "$st" != Z ]
}

# live PATTERN: ids of live processes whose command line matches PATTERN
live() {
    for p in $(pgrep -f -- "$1"); do
        if proc_live "$p"; then echo "$p"; fi
    done
}

# live_tag: ids of live processes started by the current check's pomlrun,
# its steps and its sub-workflows included: their environment holds the
# check's POML_TEST_TAG
live_tag() {
    for e in /proc/[0-9]*/environ; do
        if { tr '\0' '\n' < "$e"; } 2>/dev/null |
            grep -qxF "POML_TEST_TAG=$POML_TEST_TAG"; then
            p=${e#/proc/}
            p=${p%/environ}
            if proc_live "$p"; then echo "$p"; fi
        fi
    done
}

# no_live PATTERN: no live process matches PATTERN
no_live() {
    [ -z "$(live "$1")" ]
}

# none_left CHECK PATTERN: no process matching PATTERN and no process of
# the check's runs remains (waiting a little for ones that were just sent
# SIGKILL); what is left is killed
none_left() {
    patience=60
    if wait_until no_live "$2" && [ -z "$(live_tag)" ]; then
        pass
    else
        left="$(live "$2") $(live_tag)"
        fail "$1: processes left behind:" \
            "$(for p in $left; do tr '\0\n' '  ' < "/proc/$p/cmdline"; \
               printf "[%s]; " "$p"; done 2>/dev/null)"
        for p in $left; do kill -KILL "$p" 2>/dev/null; done
    fi
    patience=400
}

# exited PID: the process is gone or a zombie
exited() {
    ! proc_live "$1"
}

# finish PID: waits (at most about 20 s) for the background pomlrun PID
# and sets $rc; kills it when it does not end
finish() {
    if wait_until exited "$1"; then
        wait "$1"
        rc=$?
        return 0
    fi
    kill -KILL "$1" 2>/dev/null
    wait "$1"
    rc=$?
    return 1
}

# now: wall-clock seconds
now() {
    python3 -c 'import time; print("%.3f" % time.time())'
}

# scratch NAME: a fresh directory for one check, and a tag in the
# environment of the processes it starts
scratch() {
    d=$tmp/$1
    rm -rf "$d"
    mkdir -p "$d"
    POML_TEST_TAG=poml-run-test-$$-$1
    export POML_TEST_TAG
}

# ---- 1. parallel steps overlap; --jobs 1 runs one at a time ----

# a and b each wait, through a FIFO, for the other
check_overlap() {
    scratch overlap
    compile overlap overlap || return
    mkfifo "$d/ab" "$d/ba"
    prun overlap "$d" --json --jobs 2 "$tmp/overlap.plan" -p dir="$d"
    status "overlap (--jobs 2)" 0
    expect "overlap (--jobs 2)" "$d/res.json" \
        status '"succeeded"' \
        steps.a.status '"succeeded"' steps.a.outputs.stdout '"from-b"' \
        steps.b.status '"succeeded"' steps.b.outputs.stdout '"from-a"'
}

# with --jobs 1 the markers come in start/end pairs, and the events never
# show two steps running
check_serial() {
    scratch serial
    compile serial serial || return
    : > "$d/log"
    prun serial "$d" --json --jobs 1 --events "$d/ev" "$tmp/serial.plan" \
        -p mark="$wf/mark.sh" -p log="$d/log"
    status "serial (--jobs 1)" 0
    expect "serial (--jobs 1)" "$d/res.json" status '"succeeded"'
    if awk '
        NR % 2 == 1 { if ($1 != "start") exit 1; id = $2; next }
        { if ($1 != "end" || $2 != id) exit 1 }
        END { if (NR != 6) exit 1 }' "$d/log"; then
        pass
    else
        fail "serial (--jobs 1): steps interleaved:" \
            "$(tr '\n' ',' < "$d/log")"
    fi
    python3 -c "$py_lib"'
running, most = 0, 0
for e in lines(sys.argv[1]):
    if "instance" in e:
        continue
    if e["event"] == "step_started":
        running += 1
        most = max(most, running)
    elif e["event"] == "step_finished" and e.get("attempts", 0) > 0:
        running -= 1
if most != 1:
    print("the events show %d steps running at once" % most)
' "$d/ev" > "$tmp/py" 2>&1
    report "serial (--jobs 1) events"
}

# the workflow's max_parallel lowers --jobs
check_max_parallel() {
    scratch serial-mp
    compile max_parallel serial-mp || return
    : > "$d/log"
    prun max_parallel "$d" --json --jobs 4 "$tmp/serial-mp.plan" \
        -p mark="$wf/mark.sh" -p log="$d/log"
    status "max_parallel 1" 0
    if awk '
        NR % 2 == 1 { if ($1 != "start") exit 1; id = $2; next }
        { if ($1 != "end" || $2 != id) exit 1 }
        END { if (NR != 6) exit 1 }' "$d/log"; then
        pass
    else
        fail "max_parallel 1 (--jobs 4): steps interleaved:" \
            "$(tr '\n' ',' < "$d/log")"
    fi
}

# ---- 2. dependents wait and see their dependencies' results ----

check_deps() {
    scratch deps
    compile deps deps || return
    prun deps "$d" --json --events "$d/ev" "$tmp/deps.plan" -p dir="$d"
    status deps 0
    expect deps "$d/res.json" \
        status '"succeeded"' \
        steps.b.outputs.stdout '"written by a\nstdout of a"' \
        steps.c.outputs.stdout '"c saw written by a\nstdout of a"'
    python3 -c "$py_lib"'
ev = lines(sys.argv[1])
def at(kind, step):
    for i, e in enumerate(ev):
        if e["event"] == kind and e.get("step") == step:
            return i
    return None
for dep, step in (("a", "b"), ("b", "c")):
    f, s = at("step_finished", dep), at("step_started", step)
    if f is None or s is None or not f < s:
        print("%s started (event %s) before %s finished (event %s)"
              % (step, s, dep, f))
' "$d/ev" > "$tmp/py" 2>&1
    report "deps order"
    events_ok "events (deps)" "$d/ev" "$d/res.json"
}

# ---- 3. a failure blocks its dependents, not the other branch ----

check_failure() {
    scratch failure
    compile failure failure || return
    prun failure "$d" --json --jobs 2 --events "$d/ev" "$tmp/failure.plan" \
        -p ev="$d/ev"
    status failure 1
    expect failure "$d/res.json" \
        status '"failed"' \
        steps.bad.status '"failed"' \
        steps.bad.outputs.exit_code 3 \
        steps.bad.outputs.stderr '"oops\n"' \
        steps.child.status '"skipped"' \
        steps.grandchild.status '"skipped"' \
        steps.other.status '"succeeded"' \
        steps.other.outputs.stdout '"other ran"' \
        steps.other2.status '"succeeded"' \
        steps.other2.outputs.stdout '"after other ran"'
    # a skipped step made no attempt; its times are when it was skipped
    expect "failure: skipped step" "$d/res.json" \
        steps.child.attempts 0 steps.grandchild.attempts 0
    holds "failure: skipped step times" "$d/res.json" \
        '"finished_at" in get(r, "steps.child") and get(r, "steps.child").get("started_at", get(r, "steps.child.finished_at")) == get(r, "steps.child.finished_at")' \
        'get(r, "steps.child")'
    reason "failure: child's reason" "$d/res.json" child "'bad'"
    reason "failure: grandchild's reason" "$d/res.json" grandchild "'child'"
    reason "failure: bad's reason" "$d/res.json" bad "exit status 3"
    if grep -F 'oops' "$d/err" > /dev/null; then
        pass
    else
        fail "failure: the failed step's standard error is not reported" \
            "($(first "$d/err"))"
    fi
    events_ok "events (failure)" "$d/ev" "$d/res.json"
}

# ---- 4. on_failure: continue ----

check_continue() {
    scratch continue
    compile continue continue || return
    prun continue "$d" --json "$tmp/continue.plan"
    status "on_failure continue" 0
    expect "on_failure continue" "$d/res.json" \
        status '"succeeded"' \
        steps.x.status '"failed"' \
        steps.x.outputs.stdout '"partial"' \
        steps.y.status '"succeeded"' \
        steps.y.outputs.stdout '"x was failed with 4"' \
        steps.z.status '"succeeded"' \
        steps.z.outputs.stdout '"handled"'
}

# error_handling.on_failure: run: once when the run fails, with the
# failure in its environment; its output escaped on standard error, not
# on standard output; bounded by the policy; never when the run succeeds
check_hook() {
    scratch hook
    compile hook hook || return
    prun hook "$d" --json "$tmp/hook.plan"
    status "on_failure run" 1
    expect "on_failure run" "$d/res.json" status '"failed"'
    if [ "$(cat "$d/hook.out" 2>/dev/null)" != "bad|bad: exit status 4|failed|hook" ]
    then
        fail "on_failure run: the command saw '$(first "$d/hook.out")'"
    elif ! grep -q '^pomlrun: on_failure: \\x1b\]0;forged$' "$d/err" ||
        ! grep -q '^pomlrun: on_failure: said on stderr$' "$d/err" ||
        ! grep -q 'on_failure command failed: exit status 3' "$d/err"; then
        fail "on_failure run: its output and status are not on stderr," \
            "escaped: $(grep on_failure "$d/err" | head -n 3)"
    elif grep -q forged "$d/res.json"; then
        fail "on_failure run: its output reached standard output"
    else
        pass
    fi
    rm -f "$d/hook.out"
    prun "on_failure run, success" "$d" --json "$tmp/hook.plan" -p code=0
    status "on_failure run, success" 0
    if [ -e "$d/hook.out" ] || grep -q on_failure "$d/err"; then
        fail "on_failure run: ran though the run succeeded"
    else
        pass
    fi
    # under a policy that does not list its commands: refused, with why
    compile "on_failure policy" hook-policy || return
    prun "on_failure policy" "$d" --json "$tmp/hook-policy.plan"
    status "on_failure policy" 1
    if [ -e "$d/touched" ]; then
        fail "on_failure policy: the command ran under a policy refusing it"
    elif ! grep -q "on_failure command not run: policy: 'touch'" "$d/err"
    then
        fail "on_failure policy: no refusal ($(first "$d/err"))"
    else
        pass
    fi
    # a ${...} of a POML value is refused at compile time
    printf '%s\n' 'workflow_id: h' 'error_handling:' '  on_failure:' \
        '    - run: echo ${steps.a.stdout}' 'steps:' '  - {id: a, run: "false"}' \
        > "$d/interp.poml"
    if "$pomlc" -o "$d/interp.plan" "$d/interp.poml" > "$d/cerr" 2>&1; then
        fail "on_failure run: \${steps.a.stdout} compiled"
    elif ! grep -q 'not interpolated in an on_failure command' "$d/cerr"; then
        fail "on_failure run: unclear error: $(first "$d/cerr")"
    else
        pass
    fi
}

# ---- 5. conditions; `after` ----

check_condition() {
    scratch condition
    compile condition condition || return
    prun condition "$d" --json --events "$d/ev" "$tmp/condition.plan"
    status "condition true" 0
    expect "condition true" "$d/res.json" \
        status '"succeeded"' \
        steps.if_true.status '"succeeded"' \
        steps.if_false.status '"skipped"' \
        steps.if_false.reason '"condition is false"' \
        steps.needs_false.status '"skipped"' \
        steps.follows_false.status '"succeeded"' \
        steps.follows_false.outputs.stdout '"follows"' \
        steps.needs_true.status '"succeeded"' \
        steps.needs_true.outputs.stdout '"got yes"'
    reason "condition: dependent of a skipped step" "$d/res.json" \
        needs_false "'if_false'"
    events_ok "events (condition)" "$d/ev" "$d/res.json"

    prun condition "$d" --json "$tmp/condition.plan" -p flag=false
    status "condition false" 0
    expect "condition false" "$d/res.json" \
        status '"succeeded"' \
        steps.if_true.status '"skipped"' \
        steps.if_true.reason '"condition is false"' \
        steps.needs_true.status '"skipped"' \
        steps.if_false.status '"succeeded"' \
        steps.needs_false.status '"succeeded"' \
        steps.follows_false.status '"succeeded"'
}

# every form of reference reaches its value: params.x and a bare x, a bare
# name given with -p, steps.id.out and a bare id.out, item and index; in
# conditions, for_each, env, inputs and run
check_refs() {
    scratch refs
    compile refs refs || return
    prun refs "$d" --json "$tmp/refs.plan" -p who=bob
    status refs 0
    expect refs "$d/res.json" \
        status '"succeeded"' \
        steps.probe.outputs.stdout '"px|px|bob"' \
        steps.qualified.status '"succeeded"' \
        steps.qualified.outputs.stdout '"px|px|bob/2"' \
        steps.bare.status '"succeeded"' \
        steps.bare.outputs.stdout '"px|px|bob/2/px|px|bob"' \
        steps.bare_false.status '"skipped"' \
        steps.each_param.outputs.stdout '["0:a:a", "1:b:b"]' \
        steps.each_step.outputs.stdout '["0=2", "1=3"]' \
        steps.gathered.outputs.result '"px|px|bob\npx|px|bob/2\nbob\npx"'

    prun "refs, other values" "$d" --json "$tmp/refs.plan" -p who=eve \
        -p x=qx -p 'list=["z"]'
    status "refs, other values" 0
    expect "refs, other values" "$d/res.json" \
        steps.probe.outputs.stdout '"qx|qx|eve"' \
        steps.qualified.status '"skipped"' \
        steps.bare.status '"skipped"' \
        steps.bare_false.status '"succeeded"' \
        steps.each_param.outputs.stdout '["0:z:z"]' \
        steps.gathered.status '"skipped"'
}

# a condition or for_each that cannot be evaluated fails the step before
# it starts: no start time, and no duration on its line
check_badcond() {
    scratch badcond
    compile badcond badcond || return
    prun badcond "$d" --json "$tmp/badcond.plan"
    status badcond 1
    expect badcond "$d/res.json" \
        steps.check.status '"failed"' \
        steps.each.status '"failed"'
    reason "badcond: condition" "$d/res.json" check "condition: cannot read"
    reason "badcond: for_each" "$d/res.json" each "for_each: cannot read"
    holds "badcond: no start time" "$d/res.json" \
        '"started_at" not in r["steps"]["check"] and "started_at" not in r["steps"]["each"]'
    for s in check each; do
        if grep -x "pomlrun: $s failed ([a-z_]*: cannot read member 'x' of a list)" \
            "$d/err" > /dev/null; then
            pass
        else
            fail "badcond: the line of $s: $(grep "pomlrun: $s" "$d/err")"
        fi
    done
}

check_after() {
    scratch after
    compile after after || return
    prun after "$d" --json "$tmp/after.plan"
    status "after a failed step" 1
    expect "after a failed step" "$d/res.json" \
        status '"failed"' \
        steps.broken.status '"failed"' \
        steps.cleanup.status '"succeeded"' \
        steps.cleanup.outputs.stdout '"cleaning"' \
        steps.needs_broken.status '"skipped"'
}

# ---- 6. for_each ----

check_foreach() {
    scratch foreach
    compile for_each foreach || return
    prun "for_each, 4 items" "$d" --json --jobs 4 --events "$d/ev" \
        "$tmp/foreach.plan" -p 'list=["a","b c","*","d"]' -p ev="$d/ev"
    status "for_each, 4 items" 0
    expect "for_each, 4 items" "$d/res.json" \
        status '"succeeded"' \
        steps.each.status '"succeeded"' \
        steps.each.outputs.stdout '["0:a","1:b c","2:*","3:d"]' \
        steps.each.outputs.pos '[0,1,2,3]' \
        steps.each.outputs.exit_code '[0,0,0,0]' \
        steps.each.instances.0.item '"a"' \
        steps.each.instances.0.index 0 \
        steps.each.instances.3.item '"d"' \
        steps.each.instances.3.index 3 \
        steps.each.instances.3.outputs.stdout '"3:d"' \
        steps.literal.status '"succeeded"' \
        steps.literal.outputs.stdout '["0|x","1|y z","2|3","3|$HOME"]' \
        steps.joined.outputs.stdout '"0:a,1:b c,2:*,3:d/4"'
    holds "for_each, 4 items: instances" "$d/res.json" \
        'len(get(r, "steps.each.instances")) == 4 and all(i["status"] == "succeeded" for i in get(r, "steps.each.instances"))' \
        'get(r, "steps.each.instances")'
    # the instances finished last to first
    python3 -c "$py_lib"'
order = [e["instance"] for e in lines(sys.argv[1])
         if e["event"] == "step_finished" and e.get("step") == "each"
         and "instance" in e]
if order != [3, 2, 1, 0]:
    print("instances finished in the order %s, the workflow forces [3, 2, 1, 0]"
          % order)
' "$d/ev" > "$tmp/py" 2>&1
    report "for_each, 4 items: finishing order"
    events_ok "events (for_each)" "$d/ev" "$d/res.json"

    scratch foreach1
    prun "for_each, 1 item" "$d" --json --jobs 4 --events "$d/ev" \
        "$tmp/foreach.plan" -p 'list=["only"]' -p ev="$d/ev"
    status "for_each, 1 item" 0
    expect "for_each, 1 item" "$d/res.json" \
        status '"succeeded"' \
        steps.each.outputs.stdout '["0:only"]' \
        steps.each.outputs.pos '[0]' \
        steps.each.instances.0.item '"only"' \
        steps.joined.outputs.stdout '"0:only/1"'
    holds "for_each, 1 item: instances" "$d/res.json" \
        'len(get(r, "steps.each.instances")) == 1'

    scratch foreach0
    prun "for_each, no item" "$d" --json --jobs 4 --events "$d/ev" \
        "$tmp/foreach.plan" -p 'list=[]' -p ev="$d/ev"
    status "for_each, no item" 0
    expect "for_each, no item" "$d/res.json" \
        status '"succeeded"' \
        steps.each.status '"succeeded"' \
        steps.each.instances '[]' \
        steps.each.outputs.stdout '[]' \
        steps.each.outputs.stderr '[]' \
        steps.each.outputs.exit_code '[]' \
        steps.each.outputs.pos '[]' \
        steps.joined.outputs.stdout '"/0"'
}

# ---- 7. retries ----

check_retry() {
    scratch retry
    compile retry retry || return
    prun retry "$d" --json --events "$d/ev" "$tmp/retry.plan" -p dir="$d"
    status retry 1
    expect retry "$d/res.json" \
        status '"failed"' \
        steps.flaky.status '"succeeded"' \
        steps.flaky.attempts 3 \
        steps.flaky.outputs.stdout '"attempt 3"' \
        steps.flaky.history.0.status '"failed"' \
        steps.flaky.history.1.status '"failed"' \
        steps.flaky.history.2.status '"succeeded"' \
        steps.hopeless.status '"failed"' \
        steps.hopeless.attempts 2 \
        steps.hopeless.history.0.status '"failed"' \
        steps.hopeless.history.1.status '"failed"' \
        steps.hopeless.history.1.exit_code 5 \
        steps.notfound.status '"failed"' \
        steps.notfound.outputs.exit_code 127 \
        steps.notfound_sh.status '"failed"' \
        steps.notfound_sh.outputs.exit_code 127
    holds "retry: history lengths" "$d/res.json" \
        'len(get(r, "steps.flaky.history")) == 3 and len(get(r, "steps.hopeless.history")) == 2'
    if [ "$(cat "$d/count" 2>/dev/null)" = 3 ] &&
        [ "$(wc -l < "$d/hopeless" 2>/dev/null)" -eq 2 ]; then
        pass
    else
        fail "retry: expected 3 runs of flaky and 2 of hopeless, got" \
            "$(cat "$d/count" 2>/dev/null) and" \
            "$(wc -l < "$d/hopeless" 2>/dev/null)"
    fi
    # a command started without a shell behaves as through /bin/sh
    holds "retry: program not found, with and without a shell" "$d/res.json" \
        'get(r, "steps.notfound.attempts") == get(r, "steps.notfound_sh.attempts")' \
        '[get(r, "steps.notfound.attempts"), get(r, "steps.notfound_sh.attempts")]'
    # each attempt has its own times, in sequence
    holds "retry: history times" "$d/res.json" \
        'all(h[i]["started_at"] >= h[i - 1]["finished_at"] for h in [get(r, "steps.flaky.history")] for i in range(1, len(h)))' \
        '[(a["started_at"], a["finished_at"]) for a in get(r, "steps.flaky.history")]'
    events_ok "events (retry)" "$d/ev" "$d/res.json"
}

# ---- 8. timeouts ----

check_timeout() {
    scratch timeout
    compile timeout timeout || return
    t=${long}08
    start=$(now)
    prun timeout "$d" --json --jobs 4 --kill-grace 0.5 "$tmp/timeout.plan" \
        -p t="$t"
    took=$(python3 -c "import time; print('%.2f' % (time.time() - $start))")
    status timeout 1
    expect timeout "$d/res.json" \
        status '"failed"' \
        steps.slow.status '"failed"' \
        steps.slow.reason '"timeout"' \
        steps.slow.outputs.exit_code 143 \
        steps.again.status '"failed"' \
        steps.again.reason '"timeout"' \
        steps.again.attempts 2 \
        steps.again.history.0.reason '"timeout"' \
        steps.again.history.1.reason '"timeout"' \
        steps.stubborn.status '"failed"' \
        steps.stubborn.reason '"timeout"' \
        steps.stubborn.outputs.exit_code 137 \
        steps.nested.status '"failed"' \
        steps.nested.reason '"timeout"' \
        steps.after_slow.status '"skipped"'
    # 'stubborn' gets SIGKILL only after its 0.5 s timeout and the 0.5 s
    # grace (its exit code 137 above shows the SIGKILL came)
    if python3 -c "import sys; sys.exit(not ($took >= 0.95))"; then
        pass
    else
        fail "timeout: 'stubborn' was killed before its timeout and grace" \
            "(the run took $took s)"
    fi
    none_left "timeout: processes" "sleep $t"
}

# sla.max_duration over: the run fails and stops what runs
check_sla() {
    scratch sla
    compile sla sla || return
    t=${long}09
    prun sla "$d" --json --kill-grace 0.5 "$tmp/sla.plan" -p t="$t"
    status sla 1
    expect sla "$d/res.json" \
        status '"failed"' \
        steps.slow.status '"cancelled"' \
        steps.after.status '"cancelled"' \
        steps.quick.status '"succeeded"' \
        steps.quick.outputs.stdout '"in time"'
    reason sla "$d/res.json" slow "sla: the workflow's max_duration is over"
    none_left "sla: processes" "sleep $t"
}

# $POML_OUTPUT that does not parse: the step fails, naming the problem
check_badoutput() {
    scratch badoutput
    compile badoutput badoutput || return
    prun badoutput "$d" --json "$tmp/badoutput.plan"
    status badoutput 1
    expect badoutput "$d/res.json" \
        steps.garbage.status '"failed"' \
        steps.unclosed.status '"failed"' \
        steps.reserved.status '"failed"' \
        steps.fine.status '"succeeded"' \
        steps.fine.outputs.v '"line one\nline two"'
    reason badoutput "$d/res.json" garbage \
        "POML_OUTPUT line 2: expected NAME=VALUE or NAME<<DELIMITER"
    reason badoutput "$d/res.json" unclosed \
        "the block 'v' has no closing line 'END'"
    reason badoutput "$d/res.json" reserved "'exit_code' is recorded by pomlrun"
}

# aggregations that run a command over the items in $POML_ITEMS
check_aggcmd() {
    scratch aggcmd
    compile aggcmd aggcmd || return
    prun aggcmd "$d" --json "$tmp/aggcmd.plan"
    status aggcmd 1
    expect aggcmd "$d/res.json" \
        steps.all.status '"succeeded"' \
        steps.all.outputs.result '["alpha", "be"]' \
        steps.pick.outputs.result '"banana; rm -rf ~"' \
        steps.pick.outputs.word '"banana; rm -rf ~"' \
        steps.fails.status '"failed"' \
        steps.fails.outputs.exit_code 3 \
        steps.fails.outputs.stderr '"no good\n"'
    reason aggcmd "$d/res.json" fails "exit status 3"
    # refused by the policy after its items were written: the run's
    # temporary directory still goes (prun checks)
    compile "aggcmd policy" aggcmd-policy || return
    prun "aggcmd policy" "$d" --json "$tmp/aggcmd-policy.plan"
    status "aggcmd policy" 1
    reason "aggcmd policy" "$d/res.json" all "policy"
}

# phase feedback: two loops back, then on to the next phase
check_feedback() {
    scratch feedback
    compile feedback feedback || return
    prun feedback "$d" --json "$tmp/feedback.plan"
    status feedback 0
    expect feedback "$d/res.json" \
        status '"succeeded"' \
        steps.make.outputs.stdout '"3"' \
        steps.check.outputs.critical 0 \
        steps.report.outputs.stdout '"done after 3 builds"'
    holds feedback "$d/res.json" \
        'r["steps"]["watch.gate"]["outputs"].get("loops") == 2' \
        'the gate of watch took 2 loops'
}

# ---- 9. SIGINT and SIGTERM ----

# ready DIR NAME...: every DIR/NAME.ready exists
ready() {
    dir=$1
    shift
    for n in "$@"; do
        [ -e "$dir/$n.ready" ] || return 1
    done
    return 0
}

# check_signal SIG CODE
check_signal() {
    sig=$1
    code=$2
    what="SIG$sig"
    scratch "signal-$sig"
    compile "$what" signal || return
    t=${long}1$code
    (cd "$d" && exec "$pomlrun" --json --jobs 4 --kill-grace 0.5 \
        --events "$d/ev" "$tmp/signal.plan" -p t="$t" -p dir="$d") \
        > "$d/res.json" 2> "$d/err" &
    pid=$!
    if ! wait_until ready "$d" plain background stubborn retrying nested ||
        ! wait_until grep -q '"step":"stubborn","attempt":1' "$d/ev" ||
        ! wait_until grep -q '"step":"retrying","message":"attempt 1 failed' \
            "$d/ev"; then
        fail "$what: the steps did not start ($(first "$d/err"))"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid"
        for p in $(live "sleep $t"); do kill -KILL "$p"; done
        return
    fi
    start=$(now)
    kill -"$sig" "$pid"
    if ! finish "$pid"; then
        fail "$what: pomlrun did not end within 20 s of SIG$sig"
    fi
    took=$(python3 -c "import time; print('%.2f' % (time.time() - $start))")
    sanitized "$what" "$d/err"
    status "$what" "$code"
    expect "$what" "$d/res.json" \
        status '"cancelled"' \
        steps.plain.status '"cancelled"' \
        steps.background.status '"cancelled"' \
        steps.stubborn.status '"cancelled"' \
        steps.retrying.status '"cancelled"' \
        steps.retrying.attempts 1 \
        steps.nested.status '"cancelled"' \
        steps.later.status '"cancelled"'
    expect "$what: a step that became ready after the signal" \
        "$d/res.json" steps.later.attempts 0
    # every cancelled step says so
    for s in plain background stubborn retrying nested later; do
        expect "$what: reason of $s" "$d/res.json" \
            "steps.$s.reason" '"cancelled"'
    done
    if [ -e "$d/later.ran" ]; then
        fail "$what: a step started after the signal"
    else
        pass
    fi
    # 'stubborn' ignores SIGTERM: it ends by SIGKILL (exit code 137,
    # below), which waits for --kill-grace (0.5 s)
    if python3 -c "import sys; sys.exit(not ($took >= 0.45))"; then
        pass
    else
        fail "$what: pomlrun ended $took s after SIG$sig, before" \
            "--kill-grace 0.5 was over for a step ignoring SIGTERM"
    fi
    expect "$what: stubborn killed" "$d/res.json" \
        steps.stubborn.outputs.exit_code 137
    if grep -F "received SIG$sig" "$d/err" > /dev/null; then
        pass
    else
        fail "$what: standard error does not say 'received SIG$sig'" \
            "($(first "$d/err"))"
    fi
    none_left "$what: processes" "sleep $t"
    left_behind "$what"
    events_ok "events ($what)" "$d/ev" "$d/res.json"
}

# a second SIGINT stops the steps at once, without the grace period,
# those of a sub-workflow (which ignore SIGTERM) included: with a grace
# of 600 s, a run that ends at all did not wait for it
check_twice() {
    what="SIGINT twice"
    scratch twice
    compile "$what" signal || return
    t=${long}2
    (cd "$d" && exec "$pomlrun" --json --jobs 4 --kill-grace 600 \
        --events "$d/ev" \
        "$tmp/signal.plan" -p t="$t" -p dir="$d" -p stubborn_nested=true) \
        > "$d/res.json" 2> "$d/err" &
    pid=$!
    if ! wait_until ready "$d" plain background stubborn nested; then
        fail "$what: the steps did not start ($(first "$d/err"))"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid"
        for p in $(live "sleep $t"); do kill -KILL "$p"; done
        return
    fi
    kill -INT "$pid"
    wait_until grep -q 'received SIGINT' "$d/ev"
    kill -INT "$pid"
    if finish "$pid"; then
        pass
    else
        fail "$what: pomlrun waited for the grace period (600 s)"
    fi
    sanitized "$what" "$d/err"
    status "$what" 130
    expect "$what" "$d/res.json" \
        status '"cancelled"' steps.stubborn.status '"cancelled"'
    none_left "$what: processes" "sleep $t"
    left_behind "$what"
}

# ---- more: a failing for_each instance, leftovers, env ----

check_misc() {
    scratch misc
    compile misc misc || return
    t=${long}3
    # POML_V* from outside are not passed on; other variables are.
    # Standard input is a FIFO that never ends: a step reading it would
    # hang (it must get /dev/null)
    mkfifo "$d/stdin"
    POML_V1=outside POML_V9=outside POML_TEST_KEEP=kept \
        prun misc "$d" --json "$tmp/misc.plan" -p t="$t" <> "$d/stdin"
    status misc 1
    expect misc "$d/res.json" \
        status '"failed"' \
        steps.each.status '"failed"' \
        steps.each.outputs.stdout '["1", "2", "3"]' \
        steps.each.outputs.exit_code '[0, 1, 0]' \
        steps.each.instances.1.status '"failed"' \
        steps.each.instances.0.status '"succeeded"' \
        steps.after_each.status '"skipped"' \
        steps.leaves_one.status '"succeeded"' \
        steps.leaves_one.outputs.stdout '"started"' \
        steps.env.outputs.stdout '"/x y|<started>|started"' \
        steps.inherited.outputs.stdout '"unset|unset|kept"' \
        steps.cwd.outputs.stdout "\"$(cd "$d" && pwd -P)\"" \
        steps.in_root.outputs.stdout '"/"' \
        steps.stdin.outputs.stdout '"/dev/null"'
    holds "misc: POML_STEP_ID and POML_RUN_ID" "$d/res.json" \
        'get(r, "steps.ids.outputs.stdout") == "ids " + r["run_id"]' \
        'get(r, "steps.ids.outputs.stdout")'

    # a ${...} in a quoted here-document: refused, by pomlc or before the
    # step starts
    if "$pomlc" -o "$tmp/quoted-heredoc.plan" "$wf/quoted-heredoc.poml" \
        > "$tmp/pomlc.err" 2>&1; then
        prun "quoted here-document" "$d" --json "$tmp/quoted-heredoc.plan"
        status "quoted here-document" 1
        reason "quoted here-document" "$d/res.json" quoted "<<EOF"
    elif grep -F '<<EOF' "$tmp/pomlc.err" > /dev/null; then
        pass
    else
        fail "quoted here-document: pomlc failed without saying why:" \
            "$(first "$tmp/pomlc.err")"
    fi
    reason "misc: for_each reason" "$d/res.json" each "1 of 3"
    # what a step leaves running ends with it
    none_left "misc: processes" "sleep $t"
}

# ---- 10. values that try to inject shell code ----

# inject_value VALUE: every step of inject.poml prints VALUE exactly
inject_value() {
    v=$1
    rm -f "$tmp/pwned"
    prun "inject" "$d" --json "$tmp/inject.plan" -p "x=$v"
    status "inject $(printf '%s' "$v" | tr '\n' '|')" 0
    python3 -c "$py_lib"'
r = load(sys.argv[1])
v = sys.argv[2]
for step, res in r["steps"].items():
    want = {"mixed": "pre%s<%s>(%s)post" % (v, v, v),
            "direct_mid": "pre%spost" % v}.get(step, v)
    got = res.get("outputs", {}).get("stdout")
    if got != want:
        print("%s printed %s, expected %s (%s)" % (step, json.dumps(got),
              json.dumps(want), res.get("reason", res["status"])))
' "$d/res.json" "$v" > "$tmp/py" 2>&1
    report "inject $(printf '%s' "$v" | tr '\n' '|')"
    if [ -e "$tmp/pwned" ]; then
        fail "inject $(printf '%s' "$v" | tr '\n' '|'): the value ran a command"
    else
        pass
    fi
}

check_inject() {
    scratch inject
    compile inject inject || return
    # a file that a glob in the steps' directory would find
    : > "$d/glob-would-find-me"
    nl='
'
    inject_value "\$(touch $tmp/pwned)"
    inject_value "\`touch $tmp/pwned\`"
    inject_value "; touch $tmp/pwned"
    inject_value "' ; touch $tmp/pwned ; '"
    inject_value "\" ; touch $tmp/pwned ; \""
    inject_value "a${nl}touch $tmp/pwned"
    inject_value "x${nl}EOF${nl}touch $tmp/pwned${nl}cat <<EOF"
    inject_value '*'
    inject_value '  two  spaces  '
    inject_value '$HOME'
    inject_value '${HOME} \$HOME \\ \n %s -- }'
    inject_value '-n'
    inject_value ''
}

# ---- policy.allowed_commands holds for every command ----

check_bypass() {
    scratch bypass
    "$pomlc" -o "$tmp/bypass.plan" "$wf/bypass.poml" > "$tmp/pomlc.err" 2>&1
    n=$(grep -c 'warning: .*\[-Wpolicy\]' "$tmp/pomlc.err")
    if [ "$n" -ge 35 ]; then pass; else
        fail "bypass: pomlc reported $n of 35 refusals"; fi
    prun bypass "$d" --json "$tmp/bypass.plan"
    python3 -c "$py_lib"'
r = load(sys.argv[1])
for step, res in r["steps"].items():
    if step == "ok":
        if res["status"] != "succeeded":
            print("ok: %s" % res.get("reason"))
    elif res["status"] != "failed" or \
            not res.get("reason", "").startswith("policy: "):
        print("%s was not refused: %s %s" % (step, res["status"],
                                             res.get("reason")))
' "$d/res.json" > "$tmp/py" 2>&1
    report bypass
    if [ -e "$d/pwned" ]; then fail "bypass: a step ran touch"; else pass; fi
}

# ---- NUL characters ----

check_nul() {
    scratch nul
    compile nul nul-param || return
    printf '{"x": "a\\u0000b"}\n' > "$d/params.json"
    prun "NUL in --params" "$d" --json "$tmp/nul-param.plan" \
        --params "$d/params.json"
    nul_param "NUL in --params" "$d/res.json" echo_param '"a\u0000b"'
    prun "NUL in -p (JSON)" "$d" --json "$tmp/nul-param.plan" \
        -p 'tags=["a\u0000b","c"]'
    nul_param "NUL in -p (JSON)" "$d/res.json" echo_tags '"a\u0000b,c"'

    # NUL bytes a step writes cannot reach another process: replaced (by
    # U+FFFD) or refused, never cut short
    compile nul nul-output || return
    prun "NUL in outputs" "$d" --json "$tmp/nul-output.plan"
    python3 -c "$py_lib"'
r = load(sys.argv[1])
st = r["steps"]
def value(src, name, dst):
    s = st[src]
    if s["status"] == "failed" and "NUL" in s.get("reason", ""):
        return
    got = s["outputs"].get(name)
    if got not in ("a\ufffdb", "a\u0000b"):
        print("%s.%s is %s, expected a, a NUL (or U+FFFD) and b"
              % (src, name, json.dumps(got)))
    rd = st[dst]["outputs"].get("stdout")
    if rd not in ("a\ufffdb", "a\u0000b"):
        print("%s printed %s, expected a, a NUL (or U+FFFD) and b"
              % (dst, json.dumps(rd)))
value("nul_stdout", "stdout", "read_stdout")
value("nul_raw", "v", "read_raw")
value("nul_escaped", "v", "read_escaped")
' "$d/res.json" > "$tmp/py" 2>&1
    report "NUL in outputs"
}

# nul_param CHECK RESULT STEP JSON: the last run refused a NUL in a
# parameter before running anything, or STEP printed JSON exactly
nul_param() {
    if [ "$rc" -ne 0 ]; then
        if grep -E 'NUL|\\u0000' "$d/err" > /dev/null &&
            ! grep -F '"steps"' "$2" > /dev/null; then
            pass
        else
            fail "$1: exit status $rc without a message about the NUL" \
                "($(first "$d/err"))"
        fi
        return
    fi
    expect "$1 (the run did not refuse it)" "$2" \
        "steps.$3.outputs.stdout" "$4"
}

# a step writing 1 GiB: the first 16 MiB are kept, the rest is read and
# dropped (not left on disk), with a note
check_bigout() {
    scratch bigout
    compile bigout bigout || return
    prun bigout "$d" --json "$tmp/bigout.plan"
    status bigout 0
    python3 -c "$py_lib"'
r = load(sys.argv[1])
out = get(r, "steps.flood.outputs.stdout")
err = get(r, "steps.flood.outputs.stderr")
if not isinstance(out, str) or len(out) != 16 << 20:
    print("stdout kept %s bytes, expected 16 MiB" %
          (len(out) if isinstance(out, str) else show(out)))
m = re.search(r"room (\d+) (\d+)", err if isinstance(err, str) else "")
if not m:
    print("the step did not report the room it saw: %s" % show(err))
elif int(m.group(1)) - int(m.group(2)) > 256 * 1024:
    print("the file system lost %d KiB while the step wrote 1 GiB"
          % (int(m.group(1)) - int(m.group(2))))
' "$d/res.json" > "$tmp/py" 2>&1
    report bigout
    if grep -q "stdout: kept the first 16777216 of 1073741824 bytes" "$d/err"
    then
        pass
    else
        fail "bigout: no note says what was kept ($(first "$d/err"))"
    fi
}

# out of file descriptors: with ulimit -n 64 and 64 jobs, steps wait for
# running ones to end (back-pressure) instead of failing with EMFILE
check_emfile() {
    scratch emfile
    {
        echo "workflow_id: fds"
        echo "steps:"
        i=0
        while [ "$i" -lt 200 ]; do
            i=$((i + 1))
            echo "  - {id: s$i, run: sleep 0.05}"
        done
    } > "$d/fds.poml"
    compile emfile fds "$d" || return
    (ulimit -n 64 && cd "$d" && exec "$pomlrun" --json -j 64 \
        "$tmp/fds.plan") > "$d/res.json" 2> "$d/err"
    rc=$?
    sanitized emfile "$d/err"
    left_behind emfile
    status emfile 0
    holds emfile "$d/res.json" \
        'all(v["status"] == "succeeded" for v in r["steps"].values())' \
        '[k for k, v in r["steps"].items() if v["status"] != "succeeded"][:5]'
    if grep -q "out of file descriptors" "$d/err"; then
        pass
    else
        fail "emfile: no note says steps waited ($(first "$d/err"))"
    fi
}

# --max-output-memory bounds what all step outputs hold: the step that
# would pass it fails with its outputs dropped, and says so
check_outmem() {
    scratch outmem
    compile outmem outmem || return
    prun outmem "$d" --json -j 1 --max-output-memory 20M "$tmp/outmem.plan"
    status outmem 0
    expect outmem "$d/res.json" \
        steps.a.status '"succeeded"' steps.b.status '"succeeded"' \
        steps.c.status '"failed"' \
        steps.sizes.outputs.stdout '"8388607 failed"'
    reason outmem "$d/res.json" c "past --max-output-memory (20 MiB)"
    holds outmem "$d/res.json" '"stdout" not in get(r, "steps.c.outputs")' \
        'get(r, "steps.c.outputs").keys()'
    prun "outmem default" "$d" --json -j 1 "$tmp/outmem.plan"
    status "outmem default" 0
    expect "outmem default" "$d/res.json" steps.c.status '"succeeded"'
    prun "outmem usage" "$d" --max-output-memory 12X "$tmp/outmem.plan"
    status "outmem usage" 2
}

# ---- 11. outputs ----

check_outputs() {
    scratch outputs
    compile outputs outputs || return
    prun outputs "$d" --json "$tmp/outputs.plan"
    status outputs 0
    expect outputs "$d/res.json" \
        status '"succeeded"' \
        steps.a.outputs.count 41 \
        steps.a.outputs.obj '{"k": [1, 2], "s": "x y"}' \
        steps.a.outputs.word '"hello world"' \
        steps.a.outputs.block '"line 1\nline=2\n"' \
        steps.a.outputs.list '[true, null, "z"]' \
        steps.a.outputs.quoted '"41"' \
        steps.a.outputs.stdout '"text with trailing newline"' \
        steps.a.outputs.exit_code 0 \
        steps.b.outputs.stdout '"42|20|x y|0|true|3"' \
        steps.code.status '"failed"' \
        steps.code.outputs.exit_code 7 \
        steps.c.outputs.stdout '"7/some/failed"' \
        steps.two_lines.outputs.stdout '"x\n"' \
        steps.no_newline.outputs.stdout '"y"' \
        steps.crlf.outputs.stdout '"w"' \
        steps.single.outputs.value '{"n": 5}' \
        steps.d.outputs.stdout '"5"'
}

# ---- 12. aggregators ----

check_aggregate() {
    scratch aggregate
    compile aggregate aggregate || return
    prun aggregate "$d" --json "$tmp/aggregate.plan"
    status aggregate 0
    expect "aggregate (inputs)" "$d/res.json" \
        status '"succeeded"' \
        steps.in_concat_str.outputs.result '"a\nb c\n"' \
        steps.in_concat_list.outputs.result '[1, 2, 3, 4]' \
        steps.in_merge.outputs.result '{"a": 1, "b": 2, "c": 3}' \
        steps.in_dedupe.outputs.result '[1, 2, [2, 3], 3, "x"]' \
        steps.in_first.outputs.result '"second"' \
        steps.in_vote.outputs.result '"b"' \
        steps.in_vote.outputs.votes 3 \
        steps.in_vote_tie.outputs.result '"x"' \
        steps.in_reduce_num.outputs.result 6.5 \
        steps.in_reduce_str.outputs.result '"abcd"' \
        steps.in_reduce_list.outputs.result '[1, 2, 3]' \
        steps.in_reduce_obj.outputs.result '{"a": 2, "b": 3}'
    expect "aggregate (dependencies)" "$d/res.json" \
        steps.dep_concat.outputs.result '"one\ntwo\none"' \
        steps.dep_merge.outputs.result '{"a": 1, "b": 2, "c": [3]}' \
        steps.dep_dedupe.outputs.result '["one", "two", 1, 2, [2, 3]]' \
        steps.dep_first.outputs.result '"two"' \
        steps.dep_concat_null.outputs.result '["two", null]' \
        steps.dep_foreach.outputs.result '["1", "2", "one"]' \
        steps.dep_vote.outputs.result '"one"' \
        steps.dep_vote.outputs.votes 2 \
        steps.dep_reduce.outputs.result '"onetwoone"' \
        steps.dep_of_agg.outputs.result '"a\nb c\n\none\ntwo\none"'
    # the dependencies count in the order depends_on gives them
    expect "aggregate (depends_on order)" "$d/res.json" \
        steps.dep_concat_order.outputs.result '"two\none"'
    expect "aggregate (refused items)" "$d/res.json" \
        steps.bad_merge.status '"failed"' \
        steps.bad_first.status '"failed"' \
        steps.bad_vote.status '"failed"' \
        steps.bad_reduce.status '"failed"'
}

# a shell step that prints JSON hands it on like an LLM reply
check_json_stdout() {
    scratch json-stdout
    compile json-stdout json-stdout || return
    prun json-stdout "$d" --json "$tmp/json-stdout.plan"
    status json-stdout 0
    expect "json stdout (declared outputs)" "$d/res.json" \
        steps.analyze_code.outputs.analysis_report \
        '{"findings": ["f1"], "by": "analyze"}' \
        steps.security_scan.outputs.security_report '{"findings": ["f2"]}' \
        steps.quality_check.outputs.json \
        '{"findings": ["f3"], "quality": true}' \
        steps.two.outputs.a 1 steps.two.outputs.b '[2]' \
        steps.two.outputs.c null \
        steps.number.outputs.n 42 \
        steps.plain.outputs.word '"not json"'
    expect "json stdout (aggregators)" "$d/res.json" \
        steps.aggregate_findings.status '"succeeded"' \
        steps.aggregate_findings.outputs.combined_findings \
        '{"findings": ["f3"], "by": "analyze", "quality": true}' \
        steps.merged.status '"succeeded"' \
        steps.merged.outputs.result \
        '{"findings": ["f3"], "by": "analyze", "quality": true}'
    holds "json stdout (text stays text)" "$d/res.json" \
        '"json" not in get(r, "steps.number.outputs") and "json" not in get(r, "steps.plain.outputs")'
}

# ---- 13. sub-workflows ----

check_subflow() {
    scratch subflow
    compile subflow subflow || return
    prun subflow "$d" --json "$tmp/subflow.plan"
    status subflow 0
    expect subflow "$d/res.json" \
        status '"succeeded"' \
        steps.call.status '"succeeded"' \
        steps.call.outputs.result \
        '{"stdout": "hello Ada; $(touch pwned)!", "stderr": "", "exit_code": 0, "n": 3}' \
        steps.call.outputs.outputs.greet.stdout '"hello Ada; $(touch pwned)"' \
        steps.call.outputs.outputs.shout.n 3 \
        steps.use.outputs.stdout \
        '"hello Ada; $(touch pwned)! hello Ada; $(touch pwned) 3"' \
        steps.call_fail.status '"failed"' \
        steps.call_fail.attempts 2 \
        steps.call_fail.outputs.result.exit_code 1 \
        steps.call_bad.status '"failed"' \
        steps.call_bad.attempts 1
    reason "subflow: failed sub-workflow" "$d/res.json" call_fail \
        "the sub-workflow failed"
    reason "subflow: sub-workflow that cannot start" "$d/res.json" call_bad \
        "the sub-workflow did not run"
    reason "subflow: sub-workflow that cannot start" "$d/res.json" call_bad \
        "'times'"
    if [ -e "$d/pwned" ]; then
        fail "subflow: a value passed with 'with' ran a command"
    else
        pass
    fi
}

# A sub-workflow runs under its parent's policy as well as its own: the
# child allows touch, the parent does not, so the child's touch is
# refused, naming the parent's policy; a --policy file that is not one is
# an error
check_sub_policy() {
    scratch sub-policy
    compile sub-policy policy-parent || return
    prun "sub policy" "$d" --json "$tmp/policy-parent.plan"
    status "sub policy" 1
    expect "sub policy" "$d/res.json" \
        steps.call.status '"failed"' \
        steps.call.outputs.outputs.hello.stdout '"hello"'
    reason "sub policy" "$d/res.json" call \
        "step 'mark': policy of the parent workflow 'policy_parent': 'touch' is not in allowed_commands"
    if [ -e "$d/touched" ]; then
        fail "sub policy: the child ran touch, which its parent's policy refuses"
    else
        pass
    fi
    echo '{"allowed_commands": "echo"}' > "$d/bad.json"
    prun "sub policy (bad file)" "$d" --policy "$d/bad.json" \
        "$tmp/policy-parent.plan"
    status "sub policy (bad file)" 1
    if grep -q "bad.json: policy: 'allowed_commands' must be a list of names" \
        "$d/err"; then
        pass
    else
        fail "sub policy (bad file): unexpected message: $(first "$d/err")"
    fi
}

# A for_each step's reason counts its failed instances, in the singular
# for one
check_foreach_fail() {
    scratch foreach-fail
    compile foreach-fail foreach-fail || return
    prun "foreach fail" "$d" --json "$tmp/foreach-fail.plan"
    status "foreach fail" 0
    expect "foreach fail" "$d/res.json" \
        steps.one.status '"failed"' steps.one.reason '"1 of 1 instance failed"' \
        steps.three.status '"failed"' \
        steps.three.reason '"2 of 3 instances failed"'
}

# A template of the standard library, run by name: stdlib:greet is the
# library's templates/greet.poml (a library made here, so the template
# runs shell steps)
check_stdlib_template() {
    scratch stdlib
    mkdir -p "$d/lib/templates"
    cp "$POML_STDLIB"/*.poml "$d/lib/"
    printf '%s\n' 'workflow_id: greet' \
        'parameters: {who: {type: string, required: true}}' 'steps:' \
        '  - id: hello' '    run: echo "hello ${params.who}"' \
        > "$d/lib/templates/greet.poml"
    printf '%s\n' 'workflow_id: main' 'steps:' '  - id: call' \
        '    workflow: stdlib:greet' '    with: {who: Ada}' > "$d/main.poml"
    if ! "$pomlc" --stdlib "$d/lib" -o "$d/main.plan" "$d/main.poml" \
            > "$d/pomlc.err" 2>&1; then
        fail "stdlib template: pomlc: $(first "$d/pomlc.err")"
        return
    fi
    prun "stdlib template" "$d" --json "$d/main.plan"
    status "stdlib template" 0
    expect "stdlib template" "$d/res.json" \
        steps.call.status '"succeeded"' \
        steps.call.outputs.outputs.hello.stdout '"hello Ada"'
}

# ---- 14. parameters ----

# bad_params CHECK NAME ARGS...: pomlrun ARGS exits 1 before running
# anything, naming parameter NAME
bad_params() {
    what=$1
    name=$2
    shift 2
    rm -f "$d/ran"
    prun "$what" "$d" --json "$tmp/params.plan" "$@"
    status "$what" 1
    if grep -F "'$name'" "$d/err" > /dev/null; then
        pass
    else
        fail "$what: the error does not name '$name' ($(first "$d/err"))"
    fi
    if [ -e "$d/ran" ] || [ -s "$d/res.json" ]; then
        fail "$what: the workflow ran"
    else
        pass
    fi
}

check_params() {
    scratch params
    compile params params || return
    bad_params "unknown -p" nope -p dir="$d" -p nope=1
    bad_params "integer -p" count -p dir="$d" -p count=abc
    bad_params "fractional integer -p" count -p dir="$d" -p count=3.5
    bad_params "number -p" ratio -p dir="$d" -p ratio=1e
    bad_params "boolean -p" verbose -p dir="$d" -p verbose=yes
    bad_params "enum -p" level -p dir="$d" -p level=mid
    bad_params "array -p" tags -p dir="$d" -p 'tags={}'
    bad_params "missing required" dir
    printf '{"dir": "%s", "count": "3"}\n' "$d" > "$d/p.json"
    bad_params "--params type" count --params "$d/p.json"
    printf '{"dir": "%s", "cuont": 3}\n' "$d" > "$d/p.json"
    bad_params "--params unknown" cuont --params "$d/p.json"

    rm -f "$d/ran"
    prun "good parameters" "$d" --json "$tmp/params.plan" -p dir="$d" \
        -p count=7 -p ratio=2.5 -p verbose=true -p level=high \
        -p 'tags=["a","b"]'
    status "good parameters" 0
    expect "good parameters" "$d/res.json" \
        steps.touch.outputs.stdout '"7/2.5/true/high/2"'
}

# ---- 15. --events ----

# events_ok CHECK EVENTS RESULT: EVENTS is JSON lines, run_started first,
# run_finished last and agreeing with RESULT, one step_finished per step
events_ok() {
    python3 -c "$py_lib"'
ev = lines(sys.argv[1])
r = load(sys.argv[2])
if not ev:
    print("no events")
    sys.exit(0)
for n, e in enumerate(ev, 1):
    if not isinstance(e, dict) or "event" not in e or "time" not in e:
        print("event %d has no event or time: %s" % (n, json.dumps(e)))
if ev[0].get("event") != "run_started":
    print("the first event is %s" % json.dumps(ev[0]))
if ev[-1].get("event") != "run_finished":
    print("the last event is %s" % json.dumps(ev[-1]))
for k in ("run_started", "run_finished"):
    c = sum(e.get("event") == k for e in ev)
    if c != 1:
        print("%d %s events" % (c, k))
end = ev[-1]
if end.get("status") != r.get("status"):
    print("run_finished says %s, the result %s"
          % (end.get("status"), r.get("status")))
for e in (ev[0], end):
    if e.get("run_id") != r.get("run_id"):
        print("%s has run_id %s, the result %s"
              % (e.get("event"), e.get("run_id"), r.get("run_id")))
steps = r.get("steps", {})
for sid, s in steps.items():
    fin = [e for e in ev if e.get("event") == "step_finished"
           and e.get("step") == sid and "instance" not in e]
    if len(fin) != 1:
        print("%d step_finished events for %s" % (len(fin), sid))
        continue
    if fin[0].get("status") != s["status"]:
        print("step_finished says %s is %s, the result %s"
              % (sid, fin[0].get("status"), s["status"]))
    for i, inst in enumerate(s.get("instances", [])):
        c = sum(e.get("event") == "step_finished" and e.get("step") == sid
                and e.get("instance") == i for e in ev)
        if c != 1:
            print("%d step_finished events for %s[%d]" % (c, sid, i))
    started = [k for k, e in enumerate(ev) if e.get("event") ==
               "step_started" and e.get("step") == sid and "instance" not in e]
    done = ev.index(fin[0])
    if any(k > done for k in started):
        print("%s started after it finished" % sid)
for e in ev:
    if e.get("event") in ("step_started", "step_finished", "note") and \
            "step" in e and e["step"] not in steps:
        print("an event names the unknown step %s" % e["step"])
' "$2" "$3" > "$tmp/py" 2>&1
    report "$1"
}

# ---- 16. -q, and output that is not a terminal ----

check_quiet() {
    scratch quiet
    compile quiet deps || return
    prun "-q" "$d" -q "$tmp/deps.plan" -p dir="$d"
    status "-q" 0
    if [ -s "$d/res.json" ] || [ -s "$d/err" ]; then
        fail "-q: a successful run printed something:" \
            "$(cat "$d/res.json" "$d/err" | head -n 2 | tr '\n' '|')"
    else
        pass
    fi
    prun "-q failure" "$d" -q "$tmp/after.plan"
    if [ "$rc" -eq 1 ] && grep -F broken "$d/err" > /dev/null &&
        ! grep -F cleanup "$d/err" > /dev/null; then
        pass
    else
        fail "-q: a failure should be reported, and only the failure" \
            "(status $rc): $(tr '\n' '|' < "$d/err")"
    fi
    prun "plain output" "$d" "$tmp/deps.plan" -p dir="$d"
    status "plain output" 0
    esc=$(printf '\033')
    if grep -F "$esc" "$d/err" "$d/res.json" > /dev/null; then
        fail "plain output: escape sequences on a file:" \
            "$(grep -F "$esc" "$d/err" | head -n 1 | od -c | head -n 1)"
    elif grep -v '^pomlrun: ' "$d/err" > /dev/null ||
        [ "$(grep -c . "$d/err")" -ne 4 ]; then
        fail "plain output: expected 4 lines 'pomlrun: ...', got" \
            "$(tr '\n' '|' < "$d/err")"
    elif [ -s "$d/res.json" ]; then
        fail "plain output: standard output is not empty" \
            "($(first "$d/res.json"))"
    else
        pass
    fi
}

# ---- the examples that need no model ----

check_examples() {
    scratch examples
    compile hello.poml hello "$examples" || return
    prun "hello.poml" "$d" --json "$tmp/hello.plan"
    status "hello.poml" 0
    expect "hello.poml" "$d/res.json" \
        status '"succeeded"' \
        steps.greet.outputs.stdout '"Hello, world!"' \
        steps.count.outputs.stdout '"5"' \
        steps.report.outputs.stdout '"Hello, world! (5 letters)"'
    prun "hello.poml -p" "$d" --json "$tmp/hello.plan" -p 'name=Ada $(x) "*"'
    status "hello.poml -p" 0
    expect "hello.poml -p" "$d/res.json" \
        steps.report.outputs.stdout '"Hello, Ada $(x) \"*\"! (12 letters)"'

    # steps without a kind run as gates: the seeds' shapes
    for s in sequential parallel conditional; do
        "$pomlc" -Wno-empty-step -o "$tmp/$s.plan" \
            "$examples/seeds/$s.poml" > "$tmp/pomlc.err" 2>&1 || {
            fail "seeds/$s.poml: pomlc failed: $(first "$tmp/pomlc.err")"
            continue
        }
        sanitized "seeds/$s.poml: pomlc" "$tmp/pomlc.err" || continue
        prun "seeds/$s.poml" "$d" --json "$tmp/$s.plan"
        status "seeds/$s.poml" 0
        expect "seeds/$s.poml" "$d/res.json" status '"succeeded"'
    done
    expect "seeds/conditional.poml" "$d/res.json" \
        steps.analyze.status '"succeeded"' \
        steps.fix_issues.status '"skipped"' \
        steps.deploy.status '"succeeded"'

    # fan-out.poml: shell steps, for_each and an aggregator; file names
    # that need quoting in JSON and in the shell
    compile fan-out.poml fan-out "$examples" || return
    mkdir "$d/files"
    printf 'a\nb\n' > "$d/files/one.txt"
    printf 'c\n' > "$d/files/two words.txt"
    printf 'x\ny\nz\n' > "$d/files/\$(three).txt"
    printf 'q\n' > "$d/files/q\"uote.txt"
    : > "$d/files/skip.dat"
    prun "fan-out.poml" "$d" --json "$tmp/fan-out.plan" \
        -p dir="$d/files" -p 'pattern=*.txt'
    status "fan-out.poml" 0
    expect "fan-out.poml" "$d/res.json" \
        status '"succeeded"' \
        steps.count.outputs.lines '[3, 2, 1, 1]' \
        steps.total.outputs.lines 7 \
        steps.report.outputs.stdout '"4 files, 7 lines"'
}

check_overlap
check_serial
check_max_parallel
check_deps
check_failure
check_continue
check_hook
check_condition
check_refs
check_badcond
check_after
check_foreach
check_retry
check_timeout
check_sla
check_badoutput
check_aggcmd
check_feedback
check_signal INT 130
check_signal TERM 143
check_signal HUP 129
check_twice
check_misc
check_inject
check_bypass
check_nul
check_bigout
check_emfile
check_outmem
check_outputs
check_aggregate
check_json_stdout
check_subflow
check_sub_policy
check_foreach_fail
check_stdlib_template
check_params
check_quiet
check_examples
left_behind "the runs of every check"

test_end
