#!/bin/sh
# prism.sh -- the requests pomlrun sends, validated against the official
# OpenAI API description
#
# Serves ../shared/peers/openai-openapi.yaml (filtered: Prism's validator
# cannot compile the chat-completions request schema with `nullable`
# left in, and then accepts anything) with Prism's mock server, which
# answers 422 to a request that does not match the description.  First a
# deliberately broken request (sent with curl) must get 422, proving that
# the validator is active; then tests/llm/wf/prism.poml, which holds every
# request shape pomlrun produces (bare prompt, system prompt, temperature,
# max_tokens, json_object, json_schema), runs with --no-stream: every
# request must pass Prism's validation; the steps asking for text
# succeed, those asking for JSON fail only because Prism's example reply
# is the text "string".  It runs streamed too, for the requests only
# (stream, stream_options): Prism validates them but cannot answer with
# server-sent events.
#
# Needs ../shared (from $top_srcdir/.., or $POML_SHARED) and Prism
# (npm install @stoplight/prism-cli: $PRISM, node_modules/.bin of the
# build or source tree, ~/.cache/poml-prism/node_modules/.bin, or PATH);
# without either it prints "skipped: ..." and exits 77.  Prism takes
# about 30 s to start: its log is polled (at most $prism_wait seconds) for
# the line naming the port.  Prints one line per failed check, then a
# count; exits 1 when a check failed.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POML_STDLIB:=$top_srcdir/stdlib}"
export POML_STDLIB
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
wf=$top_srcdir/tests/llm/wf
prism_wait=${POML_PRISM_WAIT:-100}

for prog in "$pomlc" "$pomlrun"; do
    if [ ! -x "$prog" ]; then
        echo "error: $prog not built"
        exit 1
    fi
done

shared=${POML_SHARED:-$top_srcdir/../shared}
spec=$shared/peers/openai-openapi.yaml
if [ ! -r "$spec" ]; then
    echo "prism: skipped: no OpenAI API description at $spec (set POML_SHARED)"
    exit 77
fi
prism=${PRISM:-}
if [ -z "$prism" ]; then
    for p in "$top_builddir/node_modules/.bin/prism" \
        "$top_srcdir/node_modules/.bin/prism" \
        "${HOME:-/nonexistent}/.cache/poml-prism/node_modules/.bin/prism"; do
        if [ -x "$p" ]; then
            prism=$p
            break
        fi
    done
fi
if [ -z "$prism" ]; then
    prism=$(command -v prism 2> /dev/null)
fi
if [ -z "$prism" ] || [ ! -x "$prism" ]; then
    echo "prism: skipped: Prism not found (npm install --prefix" \
        "\$HOME/.cache/poml-prism @stoplight/prism-cli, or set PRISM)"
    exit 77
fi
for prog in python3 curl; do
    if ! command -v "$prog" > /dev/null 2>&1; then
        echo "prism: skipped: $prog is needed"
        exit 77
    fi
done

. "$top_srcdir/tests/lib.sh"
test_begin prism

prism_pid=
stop_prism() {
    [ -n "$prism_pid" ] || return 0
    kill -TERM "$prism_pid" 2> /dev/null
    n=0
    while kill -0 "$prism_pid" 2> /dev/null && [ "$n" -lt 100 ]; do
        sleep 0.05
        n=$((n + 1))
    done
    kill -KILL "$prism_pid" 2> /dev/null
    wait "$prism_pid" 2> /dev/null
    prism_pid=
}
trap 'stop_prism; rm -rf "$tmp"' EXIT

POML_TEST_KEY="sk-poml-prism-$$"
export POML_TEST_KEY

# ---- Prism on the filtered description ----

grep -vE '^\s*nullable: (true|false)\s*$' "$spec" > "$tmp/openai.yaml"
"$prism" mock -h 127.0.0.1 -p 0 "$tmp/openai.yaml" > "$tmp/prism.log" 2>&1 &
prism_pid=$!
listen='http://127\.0\.0\.1:\([0-9][0-9]*\).*'
port=
n=0
while [ -z "$port" ]; do
    port=$(sed -n "s|.*Prism is listening on $listen|\\1|p" \
        "$tmp/prism.log" | head -n 1)
    [ -n "$port" ] && break
    if ! kill -0 "$prism_pid" 2> /dev/null; then
        fail "Prism exited before listening: $(grep -m1 -i error \
            "$tmp/prism.log")"
        test_end
        exit 1
    fi
    n=$((n + 1))
    if [ "$n" -ge $((prism_wait * 10)) ]; then
        fail "Prism did not listen within $prism_wait s"
        test_end
        exit 1
    fi
    sleep 0.1
done
base=http://127.0.0.1:$port

# validated LOG-FROM: counts in Prism's log after line LOG-FROM: requests
# received, passed, not passed; and the first validation errors
validated() {
    tail -n "+$(($1 + 1))" "$tmp/prism.log" > "$tmp/log.part"
    recv=$(grep -c 'post /chat/completions.*Request received' "$tmp/log.part")
    ok=$(grep -c 'request passed the validation rules' "$tmp/log.part")
    bad=$(grep -c 'did not pass the validation rules' "$tmp/log.part")
    why=$(grep -m3 '\[VALIDATOR\].*error' "$tmp/log.part" |
        sed 's/.*error *//' | tr '\n' ';')
}

# ---- 1. the validator is active: a broken request gets 422 ----

# post NAME BODY: POSTs BODY to /chat/completions; NAME.out, $code
post() {
    code=$(curl -s -o "$tmp/$1.out" -w '%{http_code}' \
        -H "Authorization: Bearer $POML_TEST_KEY" \
        -H 'Content-Type: application/json' -d "$2" \
        "$base/chat/completions")
}

post broken '{"model": "gpt-4o-mini", "messages": [{"role": "robot",
    "content": "hi"}], "temperature": "hot", "response_format":
    {"type": "json_schema"}}'
if [ "$code" = 422 ] && grep -q 'temperature' "$tmp/broken.out"; then
    pass
else
    fail "a broken request got HTTP $code, expected 422 naming" \
        "temperature: $(head -c 200 "$tmp/broken.out")"
fi
post good '{"model": "gpt-4o-mini", "messages": [{"role": "user",
    "content": "hi"}]}'
if [ "$code" = 200 ]; then
    pass
else
    fail "a valid request got HTTP $code: $(head -c 200 "$tmp/good.out")"
fi

# ---- 2. every request pomlrun sends passes ----

sed "s|@PORT@|$port|g" "$wf/prism.poml" > "$tmp/prism.poml"
if ! "$pomlc" -o "$tmp/prism.plan" "$tmp/prism.poml" > "$tmp/pomlc.err" \
    2>&1; then
    fail "pomlc prism.poml: $(grep -m1 error "$tmp/pomlc.err")"
    test_end
    exit 1
fi

for mode in no-stream stream; do
    flag=
    [ "$mode" = no-stream ] && flag=--no-stream
    from=$(wc -l < "$tmp/prism.log" | tr -d ' ')
    "$pomlrun" --json ${flag:+"$flag"} "$tmp/prism.plan" \
        > "$tmp/res-$mode.json" 2> "$tmp/err-$mode"
    rc=$?
    if grep -E "$sanitizer" "$tmp/err-$mode" > /dev/null 2>&1; then
        fail "$mode: sanitizer report: $(grep -m1 -E "$sanitizer" \
            "$tmp/err-$mode")"
    fi
    validated "$from"
    if [ "$bad" -eq 0 ] && [ "$recv" -gt 0 ] && [ "$ok" -eq "$recv" ]; then
        pass
    else
        fail "$mode: $bad of $recv requests did not validate ($ok did): $why"
    fi
    RECV=$recv MODE=$mode python3 -c '
import json, os, sys
E = os.environ
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        r = json.load(f)
except Exception as e:
    print("no JSON result (%s)" % e)
    sys.exit(0)
steps = r.get("steps", {})
text = ("plain", "system", "temperature", "zero", "max_tokens")
json_steps = ("json_object", "json_schema", "everything")
for s in text + json_steps:
    if s not in steps:
        print("step %s is missing" % s)
calls = r.get("usage", {}).get("llm_calls")
if calls != int(E["RECV"]):
    print("%s llm calls, Prism received %s requests" % (calls, E["RECV"]))
if E["MODE"] == "stream":
    sys.exit(0)     # Prism cannot answer with events: requests only
for s in text:
    st = steps.get(s, {})
    if st.get("status") != "succeeded":
        print("%s: %s (%s)" % (s, st.get("status"), st.get("reason")))
    elif not isinstance(st.get("outputs", {}).get("text"), str):
        print("%s: no text" % s)
# Prism answers with its example, the text "string": the JSON steps fail
# on the reply, never on the request
for s in json_steps:
    st = steps.get(s, {})
    why = st.get("reason") or ""
    if st.get("status") == "succeeded":
        continue
    if "HTTP" in why or "not JSON" not in why:
        print("%s: %s" % (s, why))
' "$tmp/res-$mode.json" > "$tmp/py" 2>&1
    if [ -s "$tmp/py" ]; then
        while IFS= read -r line; do
            fail "$mode: $line"
        done < "$tmp/py"
    else
        pass
    fi
    case $rc in
    0 | 1) pass ;;  # the JSON steps fail
    *) fail "$mode: pomlrun exited with $rc: $(first "$tmp/err-$mode")" ;;
    esac
done

stop_prism
test_end
