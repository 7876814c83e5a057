#!/bin/sh
# pgwork.sh -- runs shared through PostgreSQL: --submit, --worker, --wait,
# --cancel
#
# On a server of the test's own (pg_server.sh): three workers take up
# three submitted runs of work.poml (a for_each of 100, an aggregator, a
# last step): every job runs exactly once (each appends a line to its
# run's log) and each result is the one-process run's.  A worker killed
# by SIGKILL mid-job: another takes the run up once the lease ended and
# runs that job again (POML_ATTEMPT 2), nothing else.  A worker stopped
# by SIGTERM lets its run go to another; --cancel stops a running run and
# a queued one.  The modes on a SQLite state file are refused.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
. "$top_srcdir/tests/lib.sh"
test_begin pgwork
. "$here/pg_server.sh"
workers=
trap 'for w in $workers; do kill -KILL "$w" 2> /dev/null; done; pg_stop; rm -rf "$tmp"' EXIT

# worker NAME [OPTIONS]: a worker in the background, its pid in $wpid
worker() {
    n=$1
    shift
    (cd "$tmp" && exec "$pomlrun" --worker --state "$url" -q "$@") \
        2> "$tmp/$n.err" &
    wpid=$!
    workers="$workers $wpid"
}
# normal FILE: a --json result without what differs between runs
normal() {
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
for k in ("run_id", "started_at", "finished_at", "duration_seconds", "reuse"):
    r.pop(k, None)
def clean(o):
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items() if not k.endswith("_at") and k not in ("duration_seconds", "log")}
    if isinstance(o, list):
        return [clean(v) for v in o]
    return o
print(json.dumps(clean(r), sort_keys=True))' "$1" 2>&1
}
# once LOG WANT: every line of LOG is there once, WANT lines in all
once() {
    same_text "$1: lines" "$(wc -l < "$2" | tr -d ' ')" "$3"
    same_text "$1: nothing twice" "$(sort "$2" | uniq -d | head -n 3)" ""
}

"$pomlc" -o "$tmp/work.plan" "$here/work.poml" > /dev/null 2>&1 ||
    fail "pomlc work.poml"

# ---- a SQLite state file: the modes are refused ----
for m in --submit --worker "--wait x" "--cancel x"; do
    # shellcheck disable=SC2086
    if [ "$m" = --submit ]; then
        "$pomlrun" --submit "$tmp/work.plan" -p log=x --state "$tmp/s.db" > /dev/null 2> "$tmp/e"
    else
        "$pomlrun" $m --state "$tmp/s.db" > /dev/null 2> "$tmp/e"
    fi
    same_text "$m on SQLite: exit status" "$?" 1
    has "$m on SQLite: why" "$tmp/e" "needs a PostgreSQL state database"
done
"$pomlrun" --worker "$tmp/work.plan" --state "$url" > /dev/null 2> "$tmp/e"
same_text "--worker with a plan: exit status" "$?" 2

# ---- the one-process run, for reference ----
(cd "$tmp" && "$pomlrun" -q --json --state "$url" -p "log=$tmp/ref.log" \
    "$tmp/work.plan") > "$tmp/ref.json" 2> "$tmp/ref.err"
same_text "one process: exit status" "$?" 0
once "one process" "$tmp/ref.log" 103

# ---- three workers, three runs ----
ids=
for k in 1 2 3; do
    id=$("$pomlrun" --submit "$tmp/work.plan" --state "$url" -p "log=$tmp/r$k.log" 2> "$tmp/sub.err")
    same_text "submit $k: an id" "$(echo "$id" | grep -c '^[0-9a-f-]\{36\}$')" 1
    ids="$ids $id"
done
"$pomlrun" --runs --state "$url" > "$tmp/runs" 2>&1
has "--runs: a submitted run is queued" "$tmp/runs" " queued "
for k in 1 2 3; do worker "w$k" --jobs 4 --lease 5; done
k=0
for id in $ids; do
    k=$((k + 1))
    timeout 120 "$pomlrun" --wait "$id" --state "$url" > "$tmp/r$k.json" 2> "$tmp/wait.err"
    same_text "run $k: --wait's exit status" "$?" 0
    once "run $k" "$tmp/r$k.log" 103
    same_text "run $k: the one-process result" "$(normal "$tmp/r$k.json" | sed 's/r[0-9].log/L/g')" \
        "$(normal "$tmp/ref.json" | sed 's/ref.log/L/g')"
done
same_text "the runs were spread over the workers" \
    "$(cat "$tmp"/w[123].err | grep -c '(claim 1)')" 3
for w in $workers; do kill -TERM "$w"; done
for w in $workers; do wait "$w"; same_text "SIGTERM: a worker's exit status" "$?" 143; done
workers=
has "SIGTERM: the worker says so" "$tmp/w1.err" "stopped"

# ---- SIGKILL mid-job: the run is taken up after the lease ----
id=$("$pomlrun" --submit "$tmp/work.plan" --state "$url" -p "log=$tmp/k.log" -p n=20 -p "gate=$tmp/k")
worker a --jobs 4 --lease 2
a=$wpid
pg_until_file "$tmp/k.started" || fail "kill: slow never started"
pg_until_running "$id" slow || fail "kill: slow not recorded running"
"$pomlrun" --state "$url" --runs > "$tmp/runs" 2>&1
has "--runs: the worker that holds a run" "$tmp/runs" "running .* worker [^ ]*:$a (lease [0-9]* s left)"
"$pomlrun" --state "$url" --show "$id" > "$tmp/show" 2>&1
has "--show: the worker that holds the run" "$tmp/show" "^held by   worker [^ ]*:$a"
has "--show: the worker that holds a job" "$tmp/show" "^slow  *running .* on [^ ]*:$a$"
kill -KILL "$a"
wait "$a" 2> /dev/null
worker b --jobs 4 --lease 2
timeout 120 "$pomlrun" --wait "$id" --state "$url" > "$tmp/k.json" 2> /dev/null
same_text "kill: --wait's exit status" "$?" 0
same_text "kill: slow ran twice, the rest once" \
    "$(sort "$tmp/k.log" | uniq -c | awk '$1 != 1' | head -n 3)|$(grep -c . "$tmp/k.log")|$(grep slow "$tmp/k.log" | tr '\n' ' ')" \
    "|24|slow 1 slow 2 "
same_text "kill: the result" \
    "$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["status"], r["steps"]["final"]["outputs"]["stdout"].strip())' "$tmp/k.json" 2>&1)" \
    "succeeded 36"
same_text "kill: the store counts two attempts of slow" \
    "$("$pomlrun" --state "$url" --show "$id" --json 2>&1 | python3 -c 'import json, sys
print([j["attempts"] for j in json.load(sys.stdin)["jobs"] if j["step"] == "slow"])' 2>&1)" "[2]"
has "kill: the next worker took it up" "$tmp/b.err" "run $id (claim 2)"
has "kill: the step left running is stopped" "$tmp/b.err" "stopping process group"

# ---- SIGTERM mid-run: the run is let go, and another worker ends it ----
id=$("$pomlrun" --submit "$tmp/work.plan" --state "$url" -p "log=$tmp/t.log" -p n=5 -p "gate=$tmp/t")
pg_until_file "$tmp/t.started" || fail "SIGTERM: slow never started"
kill -TERM "$wpid"
wait "$wpid"
same_text "SIGTERM mid-run: the worker's exit status" "$?" 143
has "SIGTERM mid-run: let go" "$tmp/b.err" "run $id let go"
worker c --jobs 4 --lease 2
timeout 120 "$pomlrun" --wait "$id" --state "$url" > "$tmp/t.json" 2> /dev/null
same_text "SIGTERM mid-run: another worker ends it" "$?" 0
same_text "SIGTERM mid-run: slow ran again, the rest once" \
    "$(grep -c . "$tmp/t.log")|$(grep slow "$tmp/t.log" | tr '\n' ' ')" "9|slow 1 slow 2 "

# ---- --cancel: a running run, a queued one ----
id=$("$pomlrun" --submit "$tmp/work.plan" --state "$url" -p "log=$tmp/c.log" -p n=2 -p "gate=$tmp/c")
pg_until_file "$tmp/c.started" || fail "cancel: slow never started"
"$pomlrun" --cancel "$id" --state "$url" 2> "$tmp/cancel.err"
same_text "cancel: exit status" "$?" 0
timeout 60 "$pomlrun" --wait "$(echo "$id" | cut -c1-8)" --state "$url" > "$tmp/c.json" 2> /dev/null
same_text "cancel: --wait's exit status" "$?" 143
same_text "cancel: the result" "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"])' "$tmp/c.json" 2>&1)" cancelled
kill -TERM "$wpid"
wait "$wpid"
workers=
id=$("$pomlrun" --submit "$tmp/work.plan" --state "$url" -p "log=$tmp/q.log")
"$pomlrun" --cancel "$id" --state "$url" 2> /dev/null
timeout 60 "$pomlrun" --wait "$id" --state "$url" > "$tmp/q.json" 2> /dev/null
same_text "cancel queued: --wait" "$?|$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"])' "$tmp/q.json" 2>&1)" "130|cancelled"
same_text "cancel queued: nothing ran" "$(cat "$tmp/q.log" 2> /dev/null)" ""
"$pomlrun" --wait nosuchrun --state "$url" > /dev/null 2> "$tmp/e"
same_text "--wait for no run: exit status" "$?" 1
has "--wait for no run: why" "$tmp/e" "no submitted run 'nosuchrun'"
test_end
