#!/bin/sh
# resume.sh -- runs taken up after kill -9, the cache, dead letters
#
# One run of wf/resume.poml is killed with SIGKILL at five points (a
# shell step, a for_each instance, an LLM request that hangs, a stream, a
# best_of with one candidate answered and one hanging) and resumed each
# time.  Executions are counted by the steps themselves
# (exec.log) and LLM requests by the loopback server's log: no job that
# succeeded runs again, no request whose reply had arrived is sent again,
# and the result equals that of a run never interrupted.  Every wait is on
# a file, a FIFO, the server's log or the state file, never a sleep of a
# guessed length.  Then: an edited plan and a new parameter re-run exactly
# what they touch (--explain says why); cache: true and its ttl across
# runs; dead letters listed and re-driven; a state file that fills up
# mid-run; a truncated state file; a read-only one.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
server=$top_srcdir/tests/llm/server.py
for prog in python3 sqlite3; do
    if ! command -v "$prog" > /dev/null 2>&1; then
        echo "resume: $prog is needed; skipped"
        exit 77
    fi
done

. "$top_srcdir/tests/lib.sh"
test_begin resume
srv_pid=
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

POML_TEST_KEY=sk-resume-test
export POML_TEST_KEY

# same CHECK GOT WANT
same_text() {
    if [ "$2" = "$3" ]; then
        pass
    else
        fail "$1: got '$2', expected '$3'"
    fi
}

# has CHECK FILE TEXT: FILE holds TEXT
has() {
    if grep -F -e "$3" "$2" > /dev/null 2>&1; then
        pass
    else
        fail "$1: no '$3' in: $(head -c 600 "$2")"
    fi
}

# q DIR SQL: sqlite3's answer for SQL on DIR's state file
q() {
    sqlite3 "$1/.poml/state.db" "$2" 2> /dev/null
}

# until_true WHAT COMMAND...: waits until COMMAND succeeds (a file shows
# up, a row is written); fails WHAT after about 60 s
until_true() {
    _what=$1
    shift
    _n=0
    until "$@"; do
        _n=$((_n + 1))
        if [ "$_n" -ge 1200 ]; then
            fail "$_what: still waiting after 60 s"
            return 1
        fi
        sleep 0.05
    done
    return 0
}

# count FILE WORD: the lines of FILE that are exactly WORD
count() {
    grep -c -x -F -e "$2" "$1" 2> /dev/null || true
}

# requests MODEL: the requests the server logged for MODEL
requests() {
    python3 -c 'import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    n += e.get("model") == sys.argv[2]
print(n)' "$tmp/srv/log" "$1"
}

# ---- the server ----
mkdir -p "$tmp/srv"
python3 "$server" --port 0 --port-file "$tmp/srv/port" --log "$tmp/srv/log" \
    --key "$POML_TEST_KEY" > "$tmp/srv/out" 2>&1 &
srv_pid=$!
port_up() { [ -s "$tmp/srv/port" ]; }
if ! until_true "server.py starts" port_up; then
    test_end
    exit
fi
port=$(cat "$tmp/srv/port")

# plan NAME SPEC-SUFFIX: $tmp/NAME.plan from wf/resume.poml, its models'
# faults tagged with SUFFIX (empty: no faults)
plan() {
    if [ -n "$2" ]; then
        hang="fault/hang,times=1,id=ask$2"
        slow="fault/slow=400,times=1,id=flow$2"
        half="fault/hang,times=1,id=vote$2"
    else
        hang=gpt-a slow=gpt-b half=gpt-c
    fi
    sed -e "s|@PORT@|$port|g" -e "s|@HANG@|$hang|" -e "s|@SLOW@|$slow|" \
        -e "s|@HALF@|$half|" "$here/wf/resume.poml" > "$tmp/$1.poml"
    if ! "$pomlc" -o "$tmp/$1.plan" "$tmp/$1.poml" > "$tmp/$1.err" 2>&1; then
        fail "pomlc $1: $(first "$tmp/$1.err")"
        return 1
    fi
}

# ---- the run never interrupted ----
plan clean "" || { test_end; exit; }
ref=$tmp/ref
mkdir -p "$ref"
(cd "$ref" && "$pomlrun" -q "$tmp/clean.plan") > "$ref/out" 2> "$ref/err"
same_text "uninterrupted run: exit status" "$?" 0
sanitized "uninterrupted run" "$ref/err"
(cd "$ref" && "$pomlrun" --outputs last final) > "$ref/final.json" 2>&1
want=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["stdout"])' "$ref/final.json" 2>&1)

# ---- one run, killed at six points ----
plan faults "-$$" || { test_end; exit; }
d=$tmp/k
mkdir -p "$d"
for g in prep each2; do
    mkfifo "$d/$g.fifo"
done
hang="fault/hang,times=1,id=ask-$$"
slow="fault/slow=400,times=1,id=flow-$$"
half="fault/hang,times=1,id=vote-$$"

# start N [OPTIONS]: pomlrun in the background (the first time a new
# run, then resumes), events to ev.N
start() {
    _n=$1
    shift
    if [ "$_n" = 0 ]; then
        (cd "$d" && exec "$pomlrun" -q --events "ev.$_n" "$@" \
            "$tmp/faults.plan") > "$d/out.$_n" 2> "$d/err.$_n" &
    else
        (cd "$d" && exec "$pomlrun" -q --resume --explain --events "ev.$_n" \
            "$@" "$tmp/faults.plan") > "$d/out.$_n" 2> "$d/err.$_n" &
    fi
    run_pid=$!
}

# kill9 WHAT: SIGKILL for the pomlrun of start, then reap it
kill9() {
    kill -9 "$run_pid" 2> /dev/null
    wait "$run_pid" 2> /dev/null
    sanitized "$1" "$d/err.$n"
}

reached() { grep -x -F -e "$1" "$d/reached" > /dev/null 2>&1; }
row() { [ "$(q "$d" "$1")" = "$2" ]; }
logged() { [ "$(requests "$1")" -ge "$2" ]; }
streamed() {
    grep -F '"event":"step_output"' "$d/ev.$n" 2> /dev/null |
        grep -F '"step":"flow"' > /dev/null
}

# 1: the first shell step, blocked on its FIFO
n=0
start 0
until_true "kill point prep" reached prep &&
    until_true "prep's process group recorded" row \
        "SELECT count(*) FROM jobs WHERE step = 'prep' AND pgid > 0" 1 &&
    kill9 "killed in prep"
orphan=$(pgrep -f "cat prep.fifo" | head -n 1)
rm -f "$d/prep.fifo"
# 2: the last instance of the for_each; the other two succeeded
n=1
start 1
until_true "kill point each[2]" reached each2 &&
    until_true "each[0], each[1] recorded" row \
        "SELECT count(*) FROM jobs WHERE step = 'each' AND instance IN (0, 1) AND status = 'succeeded'" 2 &&
    kill9 "killed in each[2]"
if [ -n "$orphan" ] && [ -d "/proc/$orphan" ] &&
    ! grep -q ') Z' "/proc/$orphan/stat" 2> /dev/null; then
    fail "the process prep left running (pid $orphan) still runs after the resume"
else
    pass
fi
has "resume 1 stops the process group prep left" "$d/err.1" \
    "left running when its pomlrun was killed"
has "resume 1 explains prep" "$d/err.1" \
    "explain: prep: runs again: it was running when its pomlrun stopped"
rm -f "$d/each2.fifo"
# 3: an LLM request that hangs
n=2
start 2
until_true "kill point ask" logged "$hang" 1 &&
    until_true "ask's request recorded" row \
        "SELECT count(*) FROM exchanges WHERE step = 'ask'" 1 &&
    kill9 "killed in ask"
has "resume 2 reuses each[0]" "$d/err.2" "explain: each[0]: reused"
# 4: a stream, killed while it streams
n=3
start 3
until_true "kill point flow" streamed &&
    until_true "flow's request recorded" row \
        "SELECT count(*) FROM exchanges WHERE step = 'flow'" 1 &&
    kill9 "killed in flow"
# 5: best_of 2: one reply arrived (kept in the state file), one hangs
n=4
start 4
until_true "kill point vote" logged "$half" 2 &&
    until_true "the answered candidate recorded" row \
        "SELECT count(*) FROM exchanges WHERE step = 'vote' AND reply IS NOT NULL" 1 &&
    kill9 "killed in vote"
# the last resume runs to the end, and counts what it reused
n=5
(cd "$d" && "$pomlrun" -q --resume --explain --json "$tmp/faults.plan") \
    > "$d/out.5" 2> "$d/err.5"
same_text "last resume: exit status" "$?" 0
same_text "last resume: what it reused" "$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["reuse"]
print(r["jobs_reused"], r["llm_replies_from_state"], r["llm_requests_sent_again"])' \
        "$d/out.5" 2>&1)" "7 1 1"
for k in 0 1 2 3 4 5; do
    sanitized "pomlrun $k" "$d/err.$k"
done
# no succeeded job ran again: each ran once, the killed ones twice
same_text "executions" \
    "$(count "$d/exec.log" prep) $(count "$d/exec.log" 'each a') $(count "$d/exec.log" 'each b') $(count "$d/exec.log" 'each c') $(count "$d/exec.log" final)" \
    "2 1 1 2 1"
# no request whose reply had arrived was sent again
same_text "LLM requests: ask, flow, vote" \
    "$(requests "$hang") $(requests "$slow") $(requests "$half")" "2 2 3"
same_text "the result equals the uninterrupted run's" \
    "$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["steps"]["final"]["outputs"]["stdout"])' \
        "$d/out.5" 2>&1)" "$want"
same_text "one run id across the resumes" "$(q "$d" 'SELECT count(*), max(resumes) FROM runs')" \
    "1|5"
same_text "attempts count on across resumes: prep's" \
    "$(q "$d" "SELECT attempts FROM jobs WHERE step = 'prep'")" 2
"$pomlrun" --state "$d/.poml/state.db" --verify > "$d/verify" 2>&1
same_text "the ledger holds across resumes" "$?" 0

# ---- an edited plan re-runs what the edit touched ----
sed 's/echo final >> exec.log/echo final >> exec.log; echo edited/' \
    "$tmp/faults.poml" > "$tmp/edited.poml"
"$pomlc" -o "$tmp/edited.plan" "$tmp/edited.poml" > /dev/null 2>&1
(cd "$d" && "$pomlrun" -q --resume --explain "$tmp/edited.plan") \
    > "$d/out.e" 2> "$d/err.e"
same_text "edited plan: exit status" "$?" 0
same_text "edited plan: only final ran" \
    "$(count "$d/exec.log" prep) $(count "$d/exec.log" 'each c') $(count "$d/exec.log" final)" \
    "2 2 2"
has "edited plan: --explain names the part" "$d/err.e" \
    "explain: final: runs again: definition changed"
has "edited plan: the note" "$d/err.e" "the plan is not the one the run started with"
before=$(($(requests "$hang") + $(requests "$slow") + $(requests "$half")))
(cd "$d" && "$pomlrun" -q --resume --explain -p topic=seas "$tmp/edited.plan") \
    > "$d/out.p" 2> "$d/err.p"
same_text "new parameter: exit status" "$?" 0
has "new parameter: --explain names it" "$d/err.p" \
    "explain: ask: runs again: param topic changed"
has "new parameter: a step downstream" "$d/err.p" \
    "explain: flow: runs again: step ask changed"
has "new parameter: a step that does not read it" "$d/err.p" \
    "explain: prep: reused"
after=$(($(requests "$hang") + $(requests "$slow") + $(requests "$half")))
same_text "new parameter: the LLM requests it touched" "$((after - before))" 4
"$pomlrun" --state "$d/.poml/state.db" --explain last ask > "$d/why" 2>&1
has "--explain RUN STEP" "$d/why" "param topic"
"$pomlrun" --state "$d/.poml/state.db" --resume "$tmp/edited.plan" \
    --no-state > "$d/ns" 2>&1
same_text "--resume with --no-state: usage" "$?" 2

# ---- bad names: a run, a step ----
(cd "$d" && "$pomlrun" -q --resume nosuchrun "$tmp/edited.plan") \
    > "$d/bad1" 2>&1
same_text "--resume of no such run: exit status" "$?" 1
has "--resume of no such run: said" "$d/bad1" "no run 'nosuchrun'"
(cd "$d" && "$pomlrun" -q --resume-from nosuchstep "$tmp/edited.plan") \
    > "$d/bad2" 2>&1
same_text "--resume-from no such step: exit status" "$?" 1
has "--resume-from no such step: said" "$d/bad2" "has no step 'nosuchstep'"
(cd "$d" && "$pomlrun" --explain last nosuchstep) > "$d/bad3" 2>&1
same_text "--explain of no such step: exit status" "$?" 1
has "--explain of no such step: said" "$d/bad3" "has no job 'nosuchstep'"
(cd "$d" && "$pomlrun" --resume-from) > "$d/bad4" 2>&1
same_text "--resume-from without a step: usage" "$?" 2
sqlite3 "$d/.poml/state.db" "UPDATE jobs SET key_parts = 'not json{', cache_key = 'x' WHERE step = 'final'"
(cd "$d" && "$pomlrun" -q --resume --explain "$tmp/edited.plan") \
    > "$d/bad5" 2>&1
same_text "a damaged key in the state file: the job runs again" "$?" 0
has "a damaged key in the state file: why" "$d/bad5" "explain: final: runs again"
sanitized "a damaged key in the state file" "$d/bad5"

# ---- cache: true across runs, its ttl, --no-cache ----
c=$tmp/cache
mkdir -p "$c"
cat > "$c/cache.poml" << 'EOF'
workflow_id: cached
steps:
  - id: c
    cache: true
    run: |
      echo c >> exec.log; echo '{"v": [1, true]}'
  - id: t
    cache: {ttl: 1h}
    run: echo t >> exec.log; echo t-value
  - id: n
    run: echo n >> exec.log
EOF
"$pomlc" -o "$c/cache.plan" "$c/cache.poml" > /dev/null 2>&1
for k in 1 2; do
    (cd "$c" && "$pomlrun" -q "$c/cache.plan") > /dev/null 2> "$c/err.$k"
done
same_text "cache: reused in a second run" \
    "$(count "$c/exec.log" c) $(count "$c/exec.log" t) $(count "$c/exec.log" n)" \
    "1 1 2"
(cd "$c" && "$pomlrun" --explain c) > "$c/why" 2>&1
has "cache: --explain" "$c/why" "reused from the cache"
(cd "$c" && "$pomlrun" -q --json "$c/cache.plan") > "$c/out.json" 2> /dev/null
same_text "cache: outputs keep their types" "$(python3 -c 'import json, sys
print(json.dumps(json.load(open(sys.argv[1]))["steps"]["c"]["outputs"]["stdout"]))' "$c/out.json" 2>&1)" \
    '"{\"v\": [1, true]}"'
(cd "$c" && "$pomlrun" -q --no-cache "$c/cache.plan") > /dev/null 2>&1
same_text "cache: --no-cache runs them" \
    "$(count "$c/exec.log" c) $(count "$c/exec.log" t)" "2 2"
sqlite3 "$c/.poml/state.db" \
    "UPDATE jobs SET finished_at = finished_at - 7200 WHERE step = 't'"
(cd "$c" && "$pomlrun" -q "$c/cache.plan") > /dev/null 2>&1
same_text "cache: older than its ttl runs again" \
    "$(count "$c/exec.log" c) $(count "$c/exec.log" t)" "2 3"

# ---- dead letters, and re-driving them ----
e=$tmp/dead
mkdir -p "$e"
cat > "$e/dead.poml" << 'EOF'
workflow_id: dead
parameters:
  who: {type: string, default: ops}
steps:
  - id: ok1
    run: echo ok1 >> exec.log
  - id: bad
    retry: {max_attempts: 2, backoff: none}
    run: |
      echo "bad $POML_ATTEMPT" >> exec.log
      test -e fixed || { echo "not fixed for ${params.who}" >&2; exit 4; }
  - id: after
    depends_on: [bad, ok1]
    run: echo after >> exec.log
EOF
"$pomlc" -o "$e/dead.plan" "$e/dead.poml" > /dev/null 2>&1
(cd "$e" && "$pomlrun" -q "$e/dead.plan") > /dev/null 2>&1
same_text "dead letters: the run fails" "$?" 1
(cd "$e" && "$pomlrun" --dead-letters) > "$e/list" 2>&1
has "dead letters: listed" "$e/list" "bad  failed"
has "dead letters: last error" "$e/list" "last error: exit status 4"
has "dead letters: inputs" "$e/list" '"who":"ops"'
has "dead letters: attempts" "$e/list" "attempt 2: failed"
(cd "$e" && "$pomlrun" --dead-letters --json) > "$e/list.json" 2>&1
same_text "dead letters: --json" "$(python3 -c 'import json, sys
l = json.load(open(sys.argv[1]))
print(len(l), l[0]["step"], len(l[0]["attempts_made"]))' "$e/list.json" 2>&1)" \
    "1 bad 2"
touch "$e/fixed"
(cd "$e" && "$pomlrun" -q --redrive "$e/dead.plan") > /dev/null 2> "$e/err.r"
same_text "re-drive: exit status" "$?" 0
same_text "re-drive: what ran" "$(sort "$e/exec.log" | tr '\n' ' ')" \
    "after bad 1 bad 2 bad 3 ok1 "
(cd "$e" && "$pomlrun" -q --redrive "$e/dead.plan") > /dev/null 2> "$e/err.r2"
same_text "re-drive without dead letters: exit status" "$?" 1
has "re-drive without dead letters: why" "$e/err.r2" "has no dead letters"

# ---- the state file fills up mid-run ----
f=$tmp/full
mkdir -p "$f"
{
    echo "workflow_id: full"
    echo "steps:"
    i=0
    while [ "$i" -lt 300 ]; do
        echo "  - id: s$i"
        [ "$i" -gt 0 ] && echo "    depends_on: [s$((i - 1))]"
        echo "    run: echo s$i >> exec.log; yes x | head -c 3000"
        i=$((i + 1))
    done
} > "$f/full.poml"
"$pomlc" -o "$f/full.plan" "$f/full.poml" > "$f/pomlc.err" 2>&1 ||
    fail "pomlc full.poml: $(first "$f/pomlc.err")"
# a state file that exists, then room for a few dozen more steps
(cd "$f" && "$pomlrun" -q --state s.db "$e/dead.plan") > /dev/null 2>&1
size=$(cat "$f/s.db" "$f/s.db-wal" 2> /dev/null | wc -c)
(
    cd "$f" || exit 1
    trap '' XFSZ
    ulimit -f $(((size + 200000) / 512))
    exec "$pomlrun" -q --state s.db "$f/full.plan"
) > "$f/out" 2> "$f/err"
same_text "full disk: exit status" "$?" 1
sanitized "full disk" "$f/err"
has "full disk: said once" "$f/err" "no new step starts"
ran=$(grep -c -E '^s[0-9]+$' "$f/exec.log")
if [ "$ran" -gt 0 ] && [ "$ran" -lt 300 ]; then
    pass
else
    fail "full disk: $ran of 300 steps ran; expected the run to stop early"
fi
(cd "$f" && "$pomlrun" -q --state s.db --resume "$f/full.plan") \
    > /dev/null 2> "$f/err.r"
same_text "full disk: the resume ends the run" "$?" 0
same_text "full disk: every step ran to the end" \
    "$(grep -E '^s[0-9]+$' "$f/exec.log" | sort -u | wc -l)" 300

# ---- a truncated state file ----
cp "$d/.poml/state.db" "$tmp/trunc.db"
sqlite3 "$tmp/trunc.db" "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null 2>&1
size=$(wc -c < "$tmp/trunc.db")
head -c $((size / 3)) "$tmp/trunc.db" > "$tmp/t.db"
rm -f "$tmp/trunc.db"
"$pomlrun" -q --state "$tmp/t.db" "$tmp/clean.plan" > "$tmp/t.out" 2>&1
same_text "truncated state file: exit status" "$?" 1
has "truncated state file: said" "$tmp/t.out" "state file '$tmp/t.db'"

# ---- a read-only state file (root writes anything: run as nobody) ----
r=$tmp/ro
mkdir -p "$r"
cp "$tmp/clean.plan" "$r/p.plan"
(cd "$r" && "$pomlrun" -q --state ro.db "$e/dead.plan") > /dev/null 2>&1
chmod 444 "$r/ro.db"
rm -f "$r/exec.log"
chmod 755 "$r" "$tmp"
as_user=
if [ "$(id -u)" = 0 ]; then
    command -v setpriv > /dev/null 2>&1 &&
        as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if [ "$(id -u)" = 0 ] && [ -z "$as_user" ]; then
    echo "resume: setpriv is missing; the read-only state file is not checked"
else
    (cd "$r" && $as_user "$pomlrun" -q --state ro.db p.plan) > "$r/out" 2>&1
    same_text "read-only state file: exit status" "$?" 1
    has "read-only state file: said" "$r/out" "state file 'ro.db'"
    if [ -e "$r/exec.log" ]; then
        fail "read-only state file: a step ran"
    else
        pass
    fi
fi

test_end
