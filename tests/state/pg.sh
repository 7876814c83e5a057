#!/bin/sh
# pg.sh -- runs kept in a PostgreSQL database (--state postgresql://...)
#
# Starts a server of its own (initdb, pg_ctl) in a scratch directory on
# 127.0.0.1 and a free port, as user nobody when run as root; a run is
# written there and read back by --runs, --outputs and --verify; the
# password is in no message; resume after kill -9, dead letters and the
# cache work as on SQLite.  The server is stopped however the test ends.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
. "$top_srcdir/tests/lib.sh"
test_begin pg
. "$here/pg_server.sh"

"$pomlc" -o "$tmp/state.plan" "$top_srcdir/tests/run/wf/state.poml" \
    > /dev/null 2>&1 || fail "pomlc state.poml"
d=$tmp/run
mkdir "$d"
(cd "$d" && "$pomlrun" -q --state "$url" "$tmp/state.plan") > "$d/out" 2> "$d/err"
same_text "run: exit status" "$?" 0
sanitized "run" "$d/err"
"$pomlrun" --state "$url" --runs > "$d/runs" 2>&1
if grep -q 'state  *succeeded' "$d/runs"; then pass; else fail "--runs: $(cat "$d/runs")"; fi
"$pomlrun" --state "$url" --outputs last wait > "$d/o.json" 2>&1
same_text "--outputs" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["json"])' "$d/o.json" 2>&1)" \
    "{'done': True, 'count': 2}"
same_text "--verify" \
    "$("$pomlrun" --state "$url" --verify 2>&1 | sed 's/[0-9][0-9]* rows/N rows/')" \
    "ledger: N rows, intact"
# a second run in the same database; the ledger chains on
(cd "$d" && "$pomlrun" -q --state "postgres://poml@127.0.0.1:$port/postgres" "$tmp/state.plan") > /dev/null 2>&1
same_text "--verify after two runs" \
    "$("$pomlrun" --state "$url" --verify 2>&1 | sed 's/[0-9][0-9]* rows/N rows/')" \
    "ledger: N rows, intact"
# resume after kill -9, dead letters and --redrive, the cache: as on SQLite
r=$tmp/rs
mkdir "$r"
cat > "$r/rs.poml" << 'EOF'
workflow_id: rs
parameters:
  gate: {type: string, default: ""}
steps:
  - id: a
    run: echo a >> log
  - id: b
    depends_on: [a]
    run: |
      echo "b $POML_ATTEMPT" >> log
      if [ -n "${params.gate}" ]; then : > b.started; sleep 300; fi
  - id: c
    cache: true
    depends_on: [b]
    run: echo c >> log
  - id: bad
    depends_on: [c]
    run: test -e fixed || exit 4
EOF
"$pomlc" -o "$r/rs.plan" "$r/rs.poml" > /dev/null 2>&1 || fail "pomlc rs.poml"
(cd "$r" && exec "$pomlrun" -q --state "$url" -p gate=1 "$r/rs.plan") > /dev/null 2>&1 &
p=$!
pg_until_file "$r/b.started" || fail "resume: b never started"
pg_until_running last b || fail "resume: b not recorded running"
kill -KILL "$p"
wait "$p" 2> /dev/null
(cd "$r" && "$pomlrun" -q --state "$url" --resume -p gate= "$r/rs.plan") > /dev/null 2> "$r/err"
same_text "resume: exit status (bad fails)" "$?" 1
same_text "resume: what ran" "$(tr '\n' ' ' < "$r/log")" "a b 1 b 2 c "
has "resume: the step left running is stopped" "$r/err" "stopping process group"
"$pomlrun" --state "$url" --dead-letters > "$r/dead" 2>&1
has "dead letters: listed" "$r/dead" "^bad  failed"
touch "$r/fixed"
(cd "$r" && "$pomlrun" -q --state "$url" --redrive "$r/rs.plan") > /dev/null 2>&1
same_text "re-drive: exit status" "$?" 0
: > "$r/log"
(cd "$r" && "$pomlrun" --state "$url" "$r/rs.plan") > /dev/null 2> "$r/err"
same_text "cache: a new run reuses c" "$?|$(tr '\n' ' ' < "$r/log")" "0|a b 1 "
has "cache: said" "$r/err" "1 job reused (1 from the cache)"

# no server there: a clear error, the password hidden
"$pomlrun" --state "postgresql://poml:pw9secret@127.0.0.1:1/x" --runs > "$d/e" 2>&1
if grep -q 'poml:\*\*\*@127.0.0.1:1/x.*cannot connect' "$d/e" && ! grep -q pw9secret "$d/e" "$d/err"; then
    pass
else
    fail "refused connection: $(first "$d/e")"
fi
test_end
