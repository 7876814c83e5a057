#!/bin/sh
# state.sh -- runs kept in the SQLite state file
#
# A run is written as it goes (runs, jobs, attempts, outputs, events) and
# read back by --runs, --show, --outputs and --history and by sqlite3; a
# secret-named parameter is stored redacted; another pomlrun reads the
# run while it runs (a step waits on a FIFO meanwhile); --no-state keeps
# nothing; --state names another file; two runs share one file; the
# ledger's hash chain finds a changed, removed or inserted row; a state
# file that is not one, or has a newer schema, is refused before anything
# runs; an unwritable default only warns.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
for prog in python3 sqlite3; do
    if ! command -v "$prog" > /dev/null 2>&1; then
        echo "state: $prog is needed; skipped"
        exit 77
    fi
done

. "$top_srcdir/tests/lib.sh"
test_begin state

# q SQL: what sqlite3 prints for SQL on the state file of $d
q() {
    sqlite3 "$d/.poml/state.db" "$1" 2>&1
}

if ! "$pomlc" -o "$tmp/state.plan" "$top_srcdir/tests/run/wf/state.poml" \
    > "$tmp/pomlc.err" 2>&1; then
    fail "pomlc state.poml: $(first "$tmp/pomlc.err")"
    test_end
    exit
fi

# ---- a run, written and read back ----
d=$tmp/one
mkdir -p "$d"
(cd "$d" && "$pomlrun" -q "$tmp/state.plan") > "$d/out" 2> "$d/err"
rc=$?
sanitized "run" "$d/err"
same_text "run: exit status" "$rc" 0
same_text "runs row" "$(q 'SELECT workflow, status, exit_status FROM runs')" \
    "state|succeeded|0"
same_text "secret parameter" "$(q 'SELECT params FROM runs')" \
    '{"api_token":"[redacted]","fifo":""}'
if grep -r t0ps3cret "$d/.poml" > /dev/null 2>&1; then
    fail "the secret parameter's value is in the state file"
else
    pass
fi
same_text "jobs" "$(q "SELECT step || ':' || instance || ':' || status || ':' || attempts FROM jobs ORDER BY step, instance")" \
    "$(printf '%s\n' each:-1:succeeded:1 each:0:succeeded:1 \
        each:1:succeeded:1 flaky:-1:succeeded:2 wait:-1:succeeded:1)"
same_text "attempts" "$(q "SELECT n || ':' || ok || ':' || coalesce(reason, '') FROM attempts WHERE step = 'flaky' ORDER BY n")" \
    "$(printf '%s\n' '1:0:exit status 3' '2:1:')"
same_text "outputs, typed" "$(q "SELECT value FROM outputs WHERE step = 'each' AND instance = -1 AND name = 'n'")" \
    '[1,2]'
"$pomlrun" --state "$d/.poml/state.db" --outputs last wait > "$d/o.json" \
    2> "$d/o.err"
same_text "--outputs" "$(python3 -c 'import json, sys
o = json.load(open(sys.argv[1]))
print(o["stdout"], o["exit_code"])' "$d/o.json" 2>&1)" \
    '{"done": true, "count": 2} 0'
(cd "$d" && "$pomlrun" --outputs last 'each[1]') > "$d/o1.json" 2>&1
same_text "--outputs of an instance" \
    "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["n"])' \
        "$d/o1.json" 2>&1)" 2
(cd "$d" && "$pomlrun" --runs) > "$d/runs" 2>&1
if grep -q '^[0-9a-f-]\{36\}  state  *succeeded' "$d/runs"; then
    pass
else
    fail "--runs: $(sed -n 2p "$d/runs")"
fi
(cd "$d" && "$pomlrun" --show last) > "$d/show" 2>&1
if grep -q '^flaky  *succeeded  *2 ' "$d/show"; then
    pass
else
    fail "--show: no line for flaky ($(first "$d/show"))"
fi
(cd "$d" && "$pomlrun" --history last) > "$d/hist" 2>&1
if python3 -c 'import json, sys
ev = [json.loads(l)["event"] for l in open(sys.argv[1])]
sys.exit(not (ev[0] == "run_started" and ev[-1] == "run_finished"
              and "job_retrying" in ev))' "$d/hist" 2> /dev/null; then
    pass
else
    fail "--history: $(head -c 200 "$d/hist")"
fi
(cd "$d" && "$pomlrun" --show nosuch) > /dev/null 2> "$d/e"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "no run 'nosuch'" "$d/e"; then
    pass
else
    fail "--show of an unknown run: status $rc, $(first "$d/e")"
fi

# ---- the ledger: intact, then each kind of tampering found ----
# verify CHECK WORDS: --verify exits 1 and names WORDS (none: exits 0)
verify() {
    "$pomlrun" --state "$d/t.db" --verify > "$d/v.out" 2> "$d/v.err"
    _rc=$?
    if [ -z "$2" ] && [ "$_rc" -eq 0 ] && grep -q 'intact' "$d/v.out"; then
        pass
    elif [ -n "$2" ] && [ "$_rc" -eq 1 ] && grep -q -- "$2" "$d/v.err"; then
        pass
    else
        fail "$1: status $_rc, $(first "$d/v.out") $(first "$d/v.err")"
    fi
}
tamper() {      # CHECK SQL WORDS: on a fresh copy of the state file
    cp "$d/.poml/state.db" "$d/t.db"
    sqlite3 "$d/t.db" "$2" > /dev/null 2>&1 || fail "$1: sqlite3 failed"
    verify "$1" "$3"
}
cp "$d/.poml/state.db" "$d/t.db"
verify "ledger intact" ""
tamper "ledger: an event changed" \
    "UPDATE events SET data = replace(data, 'flaky', 'fl4ky') WHERE kind = 'job_finished' AND step = 'flaky'" \
    "was changed"
tamper "ledger: an event removed" \
    "DELETE FROM events WHERE seq = 2" "was removed"
tamper "ledger: a row removed" \
    "DELETE FROM ledger WHERE id = 3" "the row before it was changed or removed"
tamper "ledger: an event put in" \
    "INSERT INTO events SELECT run_id, 999, at, kind, step, data FROM events WHERE seq = 1" \
    "it was put in"

# ---- another pomlrun reads the run while it runs ----
d=$tmp/live
mkdir -p "$d"
mkfifo "$d/go"
(cd "$d" && exec "$pomlrun" -q "$tmp/state.plan" -p fifo="$d/go") \
    > "$d/out" 2> "$d/err" &
pid=$!
n=0
while [ ! -e "$d/wait.started" ] && [ "$n" -lt 400 ]; do
    sleep 0.05
    n=$((n + 1))
done
(cd "$d" && "$pomlrun" --show last) > "$d/show" 2>&1
if grep -q '^status    running' "$d/show" &&
    grep -q '^wait  *running' "$d/show"; then
    pass
else
    fail "a run in progress: $(tr '\n' '|' < "$d/show" | cut -c1-300)"
fi
echo go > "$d/go"
wait "$pid"
same_text "the run, once done" "$(q 'SELECT status FROM runs')" succeeded

# ---- --no-state, --state elsewhere, two runs on one file ----
d=$tmp/none
mkdir -p "$d"
(cd "$d" && "$pomlrun" -q --no-state "$tmp/state.plan") > /dev/null 2>&1
if [ -e "$d/.poml" ]; then fail "--no-state made .poml"; else pass; fi
d=$tmp/shared
mkdir -p "$d/a" "$d/b"
(cd "$d/a" && "$pomlrun" -q --state "$d/s.db" "$tmp/state.plan") \
    > /dev/null 2> "$d/a.err" &
a=$!
(cd "$d/b" && "$pomlrun" -q --state "$d/s.db" "$tmp/state.plan") \
    > /dev/null 2> "$d/b.err"
wait "$a"
same_text "two runs on one file" \
    "$(sqlite3 "$d/s.db" "SELECT count(*), sum(status = 'succeeded') FROM runs" 2>&1)" \
    "2|2"
[ "$(sqlite3 "$d/s.db" "SELECT count(*) FROM runs" 2>&1)" = 2 ] ||
    echo "    $(cat "$d/a.err" "$d/b.err" | head -n 3)"
sanitized "two runs" "$d/a.err"

# ---- damaged state files: refused before anything runs ----
d=$tmp/bad
mkdir -p "$d"
printf 'not a database %.0s' $(seq 1 100) > "$d/text.db"
(cd "$d" && "$pomlrun" -q --state text.db "$tmp/state.plan") > /dev/null \
    2> "$d/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "text.db" "$d/err" && [ ! -e "$d/flaky.once" ]
then
    pass
else
    fail "a state file that is not one: status $rc, $(first "$d/err")"
fi
(cd "$d" && "$pomlrun" -q --state new.db --no-state "$tmp/state.plan") \
    > /dev/null 2>&1
same_text "--state with --no-state" "$?" 2
sqlite3 "$d/new.db" 'PRAGMA user_version = 99' > /dev/null 2>&1
(cd "$d" && "$pomlrun" -q --state new.db "$tmp/state.plan") > /dev/null \
    2> "$d/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "schema 99, newer" "$d/err"; then
    pass
else
    fail "a newer schema: status $rc, $(first "$d/err")"
fi
# the default state file cannot be made: a warning, and the run goes on
d=$tmp/ro
mkdir -p "$d"
: > "$d/.poml"          # a file where the directory would be
(cd "$d" && "$pomlrun" -q "$tmp/state.plan") > /dev/null 2> "$d/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "warning: .*running without keeping" "$d/err"
then
    pass
else
    fail "an unusable default: status $rc, $(first "$d/err")"
fi

test_end
