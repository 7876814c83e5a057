# pg_server.sh -- a PostgreSQL server of the test's own, for the drivers
# that keep runs in one (pg.sh, pgwork.sh); source it after lib.sh's
# test_begin.  Starts it (initdb, pg_ctl) in $tmp on 127.0.0.1 and a free
# port, as user nobody when run as root, stops it however the driver
# ends, and sets $url (user poml, password pw9secret) and $port.  Exits 77
# (skipped) when the server's binaries or libpq are missing.  Then the
# drivers' helpers: has, pg_until_file, pg_until_running.
# shellcheck shell=sh
pgbin=${POML_PGBIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pg_ctl" ]; then
    echo "$0: no PostgreSQL server binaries in $pgbin (apt-get install postgresql); skipped"
    exit 77
fi
if ! grep -q '^#define HAVE_LIBPQ 1' "$top_builddir/config.h"; then
    echo "$0: pomlrun is built without libpq; skipped"
    exit 77
fi
as() {
    if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}
chmod 755 "$tmp"
mkdir "$tmp/sock"
[ "$(id -u)" = 0 ] && chown nobody "$tmp" "$tmp/sock"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as "$pgbin/initdb" -D "$tmp/data" -A trust -U poml > "$tmp/initdb.log" 2>&1 ||
    { fail "initdb: $(grep -v "^initdb: removing" "$tmp/initdb.log" | tail -n 1)"; test_end; exit; }
as "$pgbin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp/sock" start \
    > /dev/null 2>&1 ||
    { fail "pg_ctl start: $(tail -n 1 "$tmp/server.log")"; test_end; exit; }
pg_stop() {
    as "$pgbin/pg_ctl" -D "$tmp/data" -m immediate stop > /dev/null 2>&1
}
trap 'pg_stop; rm -rf "$tmp"' EXIT
url="postgresql://poml:pw9secret@127.0.0.1:$port/postgres"

# pg_until_file FILE: waits (20 s at most) for FILE, which a step writes
pg_until_file() {
    k=0
    while [ ! -e "$1" ] && [ $k -lt 400 ]; do sleep 0.05; k=$((k + 1)); done
    [ -e "$1" ]
}
# pg_until_running RUN STEP: waits for the store to say STEP runs
pg_until_running() {
    k=0
    while [ $k -lt 200 ]; do
        "$pomlrun" --state "$url" --show "$1" --json 2> /dev/null |
            python3 -c 'import json, sys
r = json.load(sys.stdin)
sys.exit(0 if any(j["step"] == sys.argv[1] and j["status"] == "running" for j in r["jobs"]) else 1)' "$2" &&
            return 0
        sleep 0.1
        k=$((k + 1))
    done
    return 1
}
# has CHECK FILE PATTERN: FILE has a line matching PATTERN
has() {
    if grep -q -- "$3" "$2"; then pass; else fail "$1: no '$3' in: $(first "$2")"; fi
}
