#!/bin/sh
# check_server.sh -- self-test of tests/llm/server.py, the loopback
# OpenAI / Anthropic stand-in that the pomlrun model tests talk to
#
# Starts the server on a free port (synchronised on its port file, never on
# a sleep), drives it with curl and reads the replies with python3: both
# routes of each provider, authentication, request validation, text,
# structured output and tool-call replies, streams (SSE framing, chunked
# transfer encoding, tool-call argument deltas, the usage chunk, split and
# coalesced writes, CRLF, comments, HTTP/1.0), every fault (status codes
# with Retry-After, counted failures then success, hang, close, reset,
# malformed JSON, HTML, cut and failing streams, slow replies, schema
# mismatch), the request log, /stats, 64 requests at once, keep-alive, and a
# clean exit on SIGTERM and SIGINT with a hung connection open.  Prints one
# line per failed check, then a count; exits 1 when a check failed, 77
# (skipped) without curl or python3.  The servers it starts are stopped
# however it ends.
# shellcheck disable=SC2016 # '$ref' in JSON bodies is meant literally
# shellcheck disable=SC2154 # $tmp comes from test_begin (tests/lib.sh)
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
server=$top_srcdir/tests/llm/server.py

for prog in python3 curl; do
    if ! command -v "$prog" > /dev/null 2>&1; then
        echo "check_server: $prog is needed; skipped"
        exit 77
    fi
done

. "$top_srcdir/tests/lib.sh"
test_begin check_server

# every server started here, stopped on any exit
pids=
stop_all() {
    for p in $pids; do
        kill -TERM "$p" 2> /dev/null
    done
    for p in $pids; do
        n=0
        while kill -0 "$p" 2> /dev/null && [ "$n" -lt 50 ]; do
            sleep 0.1
            n=$((n + 1))
        done
        kill -KILL "$p" 2> /dev/null
    done
    pids=
}
trap 'stop_all; rm -rf "$tmp"' EXIT

# ---- helpers ----

# python helpers for the checks: T is the scratch directory; a request
# NAME leaves NAME.out (body), NAME.hdr (headers), NAME.code (status)
cat > "$tmp/h.py" << 'EOF'
import hashlib, json, os, re
T = os.environ["T"]

def RAW(name):
    """The body of NAME (curl writes no file when nothing came)."""
    try:
        with open(os.path.join(T, name + ".out"), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""

def TEXT(name):
    """The body as text; a body kept raw (curl --raw) is dechunked."""
    b = RAW(name)
    if re.match(rb"[0-9a-fA-F]+\r\n", b):
        b = b"".join(CHUNKS(name))
    return b.decode("utf-8")

def PARSES(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False

def J(name):
    return json.loads(TEXT(name))

def FILE(name):
    """A file of the scratch directory, as text."""
    with open(os.path.join(T, name), encoding="utf-8", errors="replace") as f:
        return f.read()

def CODE(name):
    with open(os.path.join(T, name + ".code")) as f:
        return int(f.read().strip() or 0)

def H(name, header):
    """The value of header in the last response of NAME.hdr, or None."""
    value = None
    with open(os.path.join(T, name + ".hdr"), encoding="latin-1") as f:
        for line in f:
            if line.startswith("HTTP/"):
                value = None
            k, sep, v = line.partition(":")
            if sep and k.strip().lower() == header.lower():
                value = v.strip()
    return value

def LOG():
    """The request log of the main server."""
    return LINES("main.log")

def FIRST(pred):
    """The first entry of the log for which pred holds."""
    return [e for e in LOG() if pred(e)][0]

def LINES(name):
    with open(os.path.join(T, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]

def S(name):
    """The SSE events of NAME: a list of (event name or None, data)."""
    out = []
    for block in TEXT(name).replace("\r\n", "\n").split("\n\n"):
        event, data = None, []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if data:
            out.append((event, "\n".join(data)))
    return out

def OCHOICE(name):
    """The first choice of an OpenAI reply."""
    return J(name)["choices"][0]

def OMSG(name):
    """The message of an OpenAI reply."""
    return OCHOICE(name)["message"]

def OAI(name):
    """The JSON chunks of an OpenAI stream, without [DONE]."""
    return [json.loads(d) for _, d in S(name) if d != "[DONE]"]

def OTEXT(name):
    return "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in OAI(name) if c["choices"])

def OTOOLS(name):
    """Tool calls reassembled from OpenAI deltas: index -> [id, name,
    arguments, number of argument fragments]."""
    calls = {}
    for c in OAI(name):
        for ch in c["choices"]:
            for t in ch["delta"].get("tool_calls") or []:
                call = calls.setdefault(t["index"], [None, None, "", 0])
                if t.get("id"):
                    call[0] = t["id"]
                fn = t.get("function") or {}
                if fn.get("name"):
                    call[1] = fn["name"]
                if fn.get("arguments"):
                    call[2] += fn["arguments"]
                    call[3] += 1
    return calls

def ANT(name):
    return [(e, json.loads(d)) for e, d in S(name)]

def ATEXT(name):
    return "".join(d["delta"].get("text", "") for e, d in ANT(name)
                   if e == "content_block_delta")

def AJSON(name, index):
    return "".join(d["delta"].get("partial_json", "") for e, d in ANT(name)
                   if e == "content_block_delta" and d["index"] == index)

def ANT_SEQ(name):
    """The request number in the message id of an Anthropic stream."""
    return int(ANT(name)[0][1]["message"]["id"].split("_")[1])

def CHUNKS(name):
    """The chunks of a body kept raw (curl --raw): a list of bytes."""
    b, out = RAW(name), []
    while b:
        size, _, b = b.partition(b"\r\n")
        size = int(size.split(b";")[0], 16)
        if size == 0:
            break
        out.append(b[:size])
        b = b[size + 2:]
    return out

def UTF8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False

def FP(key):
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:12]

def LISTENING(port):
    """The local addresses listening on port (from /proc/net/tcp)."""
    out = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            addr, p = local.split(":")
            if int(p, 16) == port and state == "0A":
                out.append(addr)
    return out
EOF
T=$tmp
PYTHONPATH=$tmp
export T PYTHONPATH

# check WHAT EXPR: queues a check that passes when the python expression
# EXPR (over h.py) holds; run_checks evaluates the queue in one python
# process (a python start per check would double the run time).  A check
# sees the files as they are when run_checks runs.
mkdir "$tmp/checks"
nchecks=0
check() {
    nchecks=$((nchecks + 1))
    printf '%s' "$1" > "$tmp/checks/$nchecks.name"
    printf '%s' "$2" > "$tmp/checks/$nchecks.expr"
}

run_checks() {
    python3 - "$tmp/checks" > "$tmp/results" 2>&1 << 'EOF'
import os, sys
import h
ns = dict(vars(h))
d = sys.argv[1]
for n in sorted(int(f[:-5]) for f in os.listdir(d) if f.endswith(".expr")):
    base = os.path.join(d, str(n))
    with open(base + ".name", encoding="utf-8") as f:
        name = f.read()
    with open(base + ".expr", encoding="utf-8") as f:
        expr = f.read()
    os.remove(base + ".name")
    os.remove(base + ".expr")
    try:
        ok, why = bool(eval("(" + expr + "\n)", ns)), ""
    except Exception as e:
        ok, why = False, ": %s: %s" % (type(e).__name__, e)
    print("pass" if ok else "fail %s%s" % (name, why))
EOF
    while IFS= read -r line; do
        case $line in
            pass) pass ;;
            'fail '*) fail "${line#fail }" ;;
            *) fail "run_checks: $line" ;;
        esac
    done < "$tmp/results"
}

# start NAME [OPTIONS]: a server with NAME.port, NAME.log; sets port, url,
# spid
start() {
    s_name=$1
    shift
    python3 "$server" --port 0 --port-file "$tmp/$s_name.port" \
        --log "$tmp/$s_name.log" "$@" 2> "$tmp/$s_name.stderr" &
    spid=$!
    pids="$pids $spid"
    n=0
    while [ ! -s "$tmp/$s_name.port" ] && [ "$n" -lt 200 ]; do
        kill -0 "$spid" 2> /dev/null || break
        sleep 0.05
        n=$((n + 1))
    done
    port=$(cat "$tmp/$s_name.port" 2> /dev/null)
    url=http://127.0.0.1:$port
}

# stopped PID: waits (at most 5 s) for PID to end; status in $st
stopped() {
    n=0
    while kill -0 "$1" 2> /dev/null && [ "$n" -lt 50 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    if kill -0 "$1" 2> /dev/null; then
        st=running
    else
        wait "$1"
        st=$?
    fi
}

# req NAME PATH BODY [CURL-OPTIONS]: POST BODY; curl's status in $rc
req() {
    r_name=$1 r_path=$2 r_body=$3
    shift 3
    curl -sS --max-time 10 -o "$tmp/$r_name.out" -D "$tmp/$r_name.hdr" \
        -w '%{http_code}' "$@" --data-binary "$r_body" "$url$r_path" \
        > "$tmp/$r_name.code" 2> "$tmp/$r_name.err"
    rc=$?
}

# oai NAME BODY [CURL-OPTIONS]: an OpenAI chat completion with the key
oai() {
    o_name=$1 o_body=$2
    shift 2
    req "$o_name" /v1/chat/completions "$o_body" \
        -H 'Authorization: Bearer test-key' \
        -H 'Content-Type: application/json' "$@"
}

# ant NAME BODY [CURL-OPTIONS]: an Anthropic message with key and version
ant() {
    a_name=$1 a_body=$2
    shift 2
    req "$a_name" /v1/messages "$a_body" -H 'x-api-key: test-key' \
        -H 'anthropic-version: 2023-06-01' \
        -H 'Content-Type: application/json' "$@"
}

# bodies: MSG is a user text with multibyte characters
MSG='hello wörld 日本 🎉'
ECHO="echo: $MSG"
o_hello='{"model":"gpt-test","messages":[{"role":"system",
    "content":"be brief"},{"role":"user","content":"'$MSG'"}]}'
o_stream='{"model":"gpt-test","stream":true,"messages":[{"role":"user",
    "content":"'$MSG'"}]}'
o_stream_usage='{"model":"gpt-test","stream":true,
    "stream_options":{"include_usage":true},"messages":[{"role":"user",
    "content":"'$MSG'"}]}'
a_hello='{"model":"claude-test","max_tokens":100,"system":"be brief",
    "messages":[{"role":"user","content":"'$MSG'"}]}'
a_stream='{"model":"claude-test","max_tokens":100,"stream":true,
    "messages":[{"role":"user","content":[{"type":"text","text":"'$MSG'"}]}]}'
weather='{"type":"object","properties":{"city":{"type":"string"},
    "days":{"type":"integer","minimum":1,"maximum":7}},"required":["city",
    "days"],"additionalProperties":false}'
o_tools='[{"type":"function","function":{"name":"get_weather",
    "parameters":'$weather'}},{"type":"function",
    "function":{"name":"get_time","parameters":{"type":"object",
    "properties":{"zone":{"type":"string","enum":["UTC","CET"]}}}}}]'
a_tools='[{"name":"get_weather","input_schema":'$weather'},{"name":"get_time",
    "input_schema":{"type":"object",
    "properties":{"zone":{"type":"string"}}}}]'
schema='{"type":"object","properties":{"name":{"type":"string","minLength":3},
    "age":{"type":"integer","minimum":18},"score":{"type":["number","null"],
    "exclusiveMinimum":0},"kind":{"enum":["cat","dog"]},
    "tags":{"type":"array","items":{"type":"string"},"minItems":2},
    "when":{"type":"string","format":"date-time"},
    "owner":{"$ref":"#/$defs/person"}},"required":["name","age","score",
    "kind","tags","when","owner"],"additionalProperties":false,
    "$defs":{"person":{"type":"object","properties":{"id":{"type":"integer"},
    "ok":{"type":"boolean"}},"required":["id","ok"]}}}'
# schema_ok NAME-OF-PARSED-VALUE: the python test that a value matches it
schema_ok='type(v) is dict
    and sorted(v) == ["age", "kind", "name", "owner", "score", "tags", "when"]
    and len(v["name"]) >= 3 and type(v["age"]) is int and v["age"] >= 18
    and v["score"] > 0 and v["kind"] == "cat" and len(v["tags"]) == 2
    and all(type(t) is str for t in v["tags"]) and v["when"].endswith("Z")
    and type(v["owner"]["id"]) is int and v["owner"]["ok"] is True'

# ---- start ----

start main
if [ -z "$port" ]; then
    fail "server did not write its port file: $(head -n 3 "$tmp/main.stderr")"
    test_end
    exit
fi
check 'port file holds the port' "int(FILE('main.port')) == $port > 0"
check 'listens on 127.0.0.1 only' "LISTENING($port) in ([], ['0100007F'])"

# ---- OpenAI, not streamed ----

oai o1 "$o_hello"
check 'openai: 200 chat.completion echoing the last user message' \
    "CODE('o1') == 200 and J('o1')['object'] == 'chat.completion'
    and OMSG('o1') == {'role': 'assistant', 'content': '$ECHO',
                       'refusal': None, 'annotations': []}"
check 'openai: finish_reason stop, model, id' \
    "OCHOICE('o1')['finish_reason'] == 'stop'
    and J('o1')['model'] == 'gpt-test'
    and J('o1')['id'].startswith('chatcmpl-')"
check 'openai: usage counts words (prompt 2+4, completion 5)' \
    "{k: J('o1')['usage'][k]
    for k in ('prompt_tokens', 'completion_tokens', 'total_tokens')}
        == {'prompt_tokens': 6, 'completion_tokens': 5, 'total_tokens': 11}"
check 'openai: application/json with Content-Length' \
    "H('o1', 'content-type') == 'application/json'
    and int(H('o1', 'content-length')) == len(RAW('o1'))
    and H('o1', 'transfer-encoding') is None"
check 'openai: x-request-id header' "H('o1', 'x-request-id').startswith('req_')"

req o2 /chat/completions "$o_hello" -H 'Authorization: Bearer test-key'
check 'openai: /chat/completions (no /v1) answers too' \
    "CODE('o2') == 200 and OMSG('o2')['content'] == '$ECHO'"

req o3 /v1/chat/completions "$o_hello"
check 'openai: no key: 401 invalid_request_error, code null' \
    "CODE('o3') == 401 and J('o3')['error']['type'] == 'invalid_request_error'
    and J('o3')['error']['code'] is None
    and 'API key' in J('o3')['error']['message']"
req o4 /v1/chat/completions "$o_hello" -H 'Authorization: Bearer wrong-key-123'
check 'openai: wrong key: 401 invalid_api_key' \
    "CODE('o4') == 401 and J('o4')['error']['code'] == 'invalid_api_key'
    and J('o4')['error']['param'] is None"
req o5 /v1/chat/completions "$o_hello" -H 'x-api-key: test-key'
check 'openai: the Anthropic header is not an OpenAI key' "CODE('o5') == 401"

oai o6 '{"model":"gpt-test","messages":[{"role":"user","content":"x"}'
check 'openai: invalid JSON: 400' \
    "CODE('o6') == 400 and J('o6')['error']['type'] == 'invalid_request_error'"
oai o7 '{"model":"gpt-test"}'
check 'openai: no messages: 400' \
    "CODE('o7') == 400 and 'messages' in J('o7')['error']['message']"
oai o8 '{"model":"gpt-test","stream_options":{"include_usage":true},
    "messages":[{"role":"user","content":"x"}]}'
check 'openai: stream_options without stream: 400' "CODE('o8') == 400"
oai o9 '{"model":"gpt-test","max_tokens":2,"messages":[{"role":"user",
    "content":"one two three four"}]}'
check 'openai: max_tokens cuts the reply, finish_reason length' \
    "OMSG('o9')['content'] == 'echo: one'
    and OCHOICE('o9')['finish_reason'] == 'length'
    and J('o9')['usage']['completion_tokens'] == 2"
oai o10 '{"model":"gpt-test","stop":["three"],"messages":[{"role":"user",
    "content":"one two three four"}]}'
check 'openai: stop sequence cuts the reply' \
    "OMSG('o10')['content'] == 'echo: one two '
    and OCHOICE('o10')['finish_reason'] == 'stop'"

# structured output
oai o11 '{"model":"gpt-test","response_format":{"type":"json_schema",
    "json_schema":{"name":"pet","strict":true,"schema":'"$schema"'}},
    "messages":[{"role":"user","content":"a pet"}]}'
check 'openai: json_schema: the content is JSON matching the schema' \
    "(lambda v: $schema_ok)(json.loads(OMSG('o11')['content']))"
oai o12 '{"model":"gpt-test","response_format":{"type":"json_object"},
    "messages":[{"role":"user","content":"'"$MSG"'"}]}'
check 'openai: json_object: {"echo": ...}' \
    "json.loads(OMSG('o12')['content']) == {'echo': '$MSG'}"
oai o13 '{"model":"gpt-test","response_format":{"type":"json_schema",
    "json_schema":{"name":"pet","schema":'"$schema"'}},
    "messages":[{"role":"user","content":"a pet"}]}' \
    -H 'X-Test-Fault: badschema'
check 'openai: badschema: JSON that misses a required property' \
    "(lambda v: type(v) is dict and 'name' not in v
    and type(v['age']) is str)(json.loads(OMSG('o13')['content']))"

# tools
oai o14 '{"model":"gpt-test","tools":'"$o_tools"',"messages":[{"role":"user",
    "content":"use get_weather please"}]}'
check 'openai: a named tool is called: tool_calls, content null' \
    "(lambda m, c: m['content'] is None and len(m['tool_calls']) == 1
    and m['tool_calls'][0]['type'] == 'function'
    and m['tool_calls'][0]['id'].startswith('call_')
    and m['tool_calls'][0]['function']['name'] == 'get_weather'
    and json.loads(m['tool_calls'][0]['function']['arguments'])
        == {'city': 'city', 'days': 1}
    and c['finish_reason'] == 'tool_calls')(OMSG('o14'), OCHOICE('o14'))"
oai o15 '{"model":"gpt-test","tools":'"$o_tools"',"messages":[{"role":"user",
    "content":"get_weather and get_time"}]}'
check 'openai: two tools named: two parallel calls' \
    "[t['function']['name'] for t in OMSG('o15')['tool_calls']]
        == ['get_weather', 'get_time']
    and json.loads(OMSG('o15')['tool_calls'][1]['function']['arguments'])
        == {'zone': 'UTC'}"
oai o16 '{"model":"gpt-test","parallel_tool_calls":false,"tools":'"$o_tools"',
    "messages":[{"role":"user","content":"get_weather and get_time"}]}'
check 'openai: parallel_tool_calls false: one call' \
    "len(OMSG('o16')['tool_calls']) == 1"
oai o17 '{"model":"gpt-test","tool_choice":"required","tools":'"$o_tools"',
    "messages":[{"role":"user","content":"hi"}]}'
check 'openai: tool_choice required: the first tool' \
    "OMSG('o17')['tool_calls'][0]['function']['name'] == 'get_weather'"
oai o18 '{"model":"gpt-test","tools":'"$o_tools"',"messages":[{"role":"user",
    "content":"hi"}]}'
check 'openai: tools but no trigger: text' \
    "OMSG('o18')['content'] == 'echo: hi' and 'tool_calls' not in OMSG('o18')"
oai o19 '{"model":"gpt-test","tools":'"$o_tools"',"messages":[{"role":"user",
    "content":"get_weather"},{"role":"assistant","content":null,
    "tool_calls":[{"id":"call_1","type":"function",
    "function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool",
    "tool_call_id":"call_1","content":"22 C"}]}'
check 'openai: after a tool result: text, no new call' \
    "OMSG('o19')['content'] == 'tool result: 22 C'
    and OCHOICE('o19')['finish_reason'] == 'stop'"

run_checks

# ---- OpenAI streams ----

oai s1 "$o_stream"
check 'openai stream: 200 text/event-stream, chunked' \
    "CODE('s1') == 200
    and H('s1', 'content-type').startswith('text/event-stream')
    and H('s1', 'transfer-encoding') == 'chunked'
    and H('s1', 'content-length') is None"
check 'openai stream: data-only events, chat.completion.chunk, [DONE] last' \
    "all(e is None for e, _ in S('s1')) and S('s1')[-1][1] == '[DONE]'
    and all(c['object'] == 'chat.completion.chunk' for c in OAI('s1'))"
check 'openai stream: role first, content reassembles, finish_reason once' \
    "OAI('s1')[0]['choices'][0]['delta']['role'] == 'assistant'
    and OTEXT('s1') == '$ECHO' and len(OAI('s1')) >= 5
    and [c['choices'][0]['finish_reason'] for c in OAI('s1')].count('stop')
        == 1"
check 'openai stream: no usage without include_usage' \
    "all('usage' not in c for c in OAI('s1'))"
oai s2 "$o_stream_usage"
check 'openai stream: include_usage: last chunk, empty choices, usage' \
    "OAI('s2')[-1]['choices'] == []
    and OAI('s2')[-1]['usage']['total_tokens'] == 4 + 5
    and all(c['usage'] is None for c in OAI('s2')[:-1])"
oai s3 '{"model":"gpt-test","stream":true,"tools":'"$o_tools"',
    "messages":[{"role":"user","content":"get_weather and get_time"}]}'
check 'openai stream: tool calls reassemble by index from fragments' \
    "(lambda t: sorted(t) == [0, 1] and t[0][1] == 'get_weather'
    and t[0][0].startswith('call_')
    and json.loads(t[0][2]) == {'city': 'city', 'days': 1} and t[0][3] >= 3
    and json.loads(t[1][2]) == {'zone': 'UTC'})(OTOOLS('s3'))"
check 'openai stream: finish_reason tool_calls' \
    "[c['choices'][0]['finish_reason'] for c in OAI('s3')][-1]
        == 'tool_calls'"
oai s4 "$o_stream" -H 'X-Test-Fault: split' --raw
check 'split: more HTTP chunks than events' \
    "len(CHUNKS('s4')) >= 4 * len(S('s1'))"
check 'split: some chunk ends inside a UTF-8 character' \
    "not all(UTF8(c) for c in CHUNKS('s4')) and UTF8(b''.join(CHUNKS('s4')))"
check 'split: some chunk ends between the two newlines of an event' \
    "any(c.endswith(b'}\n') for c in CHUNKS('s4'))"
check 'split: the events reassemble' \
    "OTEXT('s4') == '$ECHO' and len(S('s4')) == len(S('s1'))"
oai s5 "$o_stream" -H 'X-Test-Fault: coalesce' --raw
check 'coalesce: the whole stream in one chunk' \
    "len(CHUNKS('s5')) == 1 and OTEXT('s5') == '$ECHO'
    and len(S('s5')) == len(S('s1'))"
oai s6 "$o_stream" -H 'X-Test-Fault: crlf,comments'
check 'crlf, comments: same events, CRLF and comment lines on the wire' \
    "OTEXT('s6') == '$ECHO' and len(S('s6')) == len(S('s1'))
    and b'\r\n\r\n' in RAW('s6') and b': keep-alive' in RAW('s6')"
oai s7 "$o_stream" --http1.0
check 'HTTP/1.0 stream: no chunking, connection closed, same events' \
    "H('s7', 'transfer-encoding') is None and H('s7', 'connection') == 'close'
    and OTEXT('s7') == '$ECHO' and S('s7')[-1][1] == '[DONE]'"
oai s8 "$o_stream" -H 'X-Test-Fault: cut'
check 'cut: the stream ends cleanly without finish_reason or [DONE]' \
    "$rc == 0 and CODE('s8') == 200 and len(OAI('s8')) >= 2
    and '[DONE]' not in TEXT('s8')
    and all(c['choices'][0]['finish_reason'] is None for c in OAI('s8'))"
oai s9 "$o_stream" -H 'X-Test-Fault: stream-error'
check 'stream-error: data: {"error": ...} then the end, no [DONE]' \
    "$rc == 0 and 'error' in json.loads(S('s9')[-1][1])
    and json.loads(S('s9')[-1][1])['error']['type'] == 'server_error'
    and '[DONE]' not in TEXT('s9')"
oai s10 "$o_stream" -H 'X-Test-Fault: malformed'
check 'stream malformed: one event is not JSON, the stream goes on' \
    "$rc == 0 and S('s10')[-1][1] == '[DONE]'
    and [PARSES(d) for _, d in S('s10')[:-1]].count(False) == 1"
oai s11 "$o_stream" -H 'X-Test-Fault: reset'
check 'stream reset: the connection is reset mid-stream' \
    "$rc in (18, 56) and b'data: ' in RAW('s11')
    and b'[DONE]' not in RAW('s11')"
oai s12 "$o_stream" -H 'X-Test-Fault: slow=400' --max-time 1
check 'slow stream: events 400 ms apart outlast a 1 s client timeout' \
    "$rc == 28 and b'[DONE]' not in RAW('s12')"
oai s13 "$o_stream" -H 'X-Test-Fault: slow=10,split'
check 'slow=10,split: complete and intact' \
    "OTEXT('s13') == '$ECHO' and len(S('s13')) == len(S('s1'))"

run_checks

# ---- Anthropic ----

ant a1 "$a_hello"
check 'anthropic: 200 message with a text block echoing the user' \
    "CODE('a1') == 200 and J('a1')['type'] == 'message'
    and J('a1')['role'] == 'assistant'
    and J('a1')['content'] == [{'type': 'text', 'text': '$ECHO'}]
    and J('a1')['id'].startswith('msg_')"
check 'anthropic: end_turn, usage input 6 output 5, request-id' \
    "J('a1')['stop_reason'] == 'end_turn' and J('a1')['stop_sequence'] is None
    and J('a1')['usage']['input_tokens'] == 6
    and J('a1')['usage']['output_tokens'] == 5
    and H('a1', 'request-id').startswith('req_')
    and int(H('a1', 'content-length')) == len(RAW('a1'))"
req a2 /v1/messages "$a_hello" -H 'anthropic-version: 2023-06-01'
check 'anthropic: no x-api-key: 401 authentication_error' \
    "CODE('a2') == 401 and J('a2')['type'] == 'error'
    and J('a2')['error']['type'] == 'authentication_error'
    and 'request_id' in J('a2')"
req a3 /v1/messages "$a_hello" -H 'anthropic-version: 2023-06-01' \
    -H 'x-api-key: nope'
check 'anthropic: wrong key: 401' \
    "CODE('a3') == 401 and J('a3')['error']['message'] == 'invalid x-api-key'"
req a4 /v1/messages "$a_hello" -H 'x-api-key: test-key'
check 'anthropic: no anthropic-version: 400' \
    "CODE('a4') == 400 and J('a4')['error']['type'] == 'invalid_request_error'
    and 'anthropic-version' in J('a4')['error']['message']"
req a5 /v1/messages "$a_hello" -H 'anthropic-version: 2023-06-01' \
    -H 'Authorization: Bearer test-key'
check 'anthropic: a Bearer key is not an x-api-key' "CODE('a5') == 401"
ant a6 '{"model":"claude-test","messages":[{"role":"user","content":"x"}]}'
check 'anthropic: no max_tokens: 400' \
    "CODE('a6') == 400 and 'max_tokens' in J('a6')['error']['message']"
ant a7 '{"model":"claude-test","max_tokens":5,"messages":[{"role":"system",
    "content":"s"},{"role":"user","content":"x"}]}'
check 'anthropic: a system role inside messages: 400' "CODE('a7') == 400"
ant a8 '{"model":"claude-test","max_tokens":100,"stop_sequences":["three"],
    "messages":[{"role":"user","content":"one two three"}]}'
check 'anthropic: stop_sequences: stop_reason stop_sequence' \
    "J('a8')['stop_reason'] == 'stop_sequence'
    and J('a8')['stop_sequence'] == 'three'
    and J('a8')['content'][0]['text'] == 'echo: one two '"
ant a9 '{"model":"claude-test","max_tokens":1,"messages":[{"role":"user",
    "content":"one two three"}]}'
check 'anthropic: max_tokens: stop_reason max_tokens' \
    "J('a9')['stop_reason'] == 'max_tokens'
    and J('a9')['content'][0]['text'] == 'echo:'"
ant a10 '{"model":"claude-test","max_tokens":100,
    "output_format":{"type":"json_schema","schema":'"$schema"'},
    "messages":[{"role":"user","content":"a pet"}]}'
check 'anthropic: output_format json_schema: matching JSON text' \
    "(lambda v: $schema_ok)(json.loads(J('a10')['content'][0]['text']))"
ant a11 '{"model":"claude-test","max_tokens":100,
    "output_config":{"format":{"type":"json_schema","schema":'"$schema"'}},
    "messages":[{"role":"user","content":"a pet"}]}'
check 'anthropic: output_config.format json_schema too' \
    "(lambda v: $schema_ok)(json.loads(J('a11')['content'][0]['text']))"
ant a12 '{"model":"claude-test","max_tokens":100,"tools":'"$a_tools"',
    "messages":[{"role":"user","content":"call get_weather"}]}'
check 'anthropic: tool_use block with input, stop_reason tool_use' \
    "(lambda c: c[0] == {'type': 'text', 'text': 'calling get_weather'}
    and c[1]['type'] == 'tool_use' and c[1]['id'].startswith('toolu_')
    and c[1]['name'] == 'get_weather'
    and c[1]['input'] == {'city': 'city', 'days': 1})(J('a12')['content'])
    and J('a12')['stop_reason'] == 'tool_use'"
ant a13 '{"model":"claude-test","max_tokens":100,"tools":'"$a_tools"',
    "tool_choice":{"type":"tool","name":"get_time"},
    "messages":[{"role":"user","content":"hi"}]}'
check 'anthropic: tool_choice tool: that tool' \
    "J('a13')['content'][-1]['name'] == 'get_time'"
ant a14 '{"model":"claude-test","max_tokens":100,"tools":'"$a_tools"',
    "messages":[{"role":"user","content":"call get_weather"},
    {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1",
    "name":"get_weather","input":{}}]},{"role":"user",
    "content":[{"type":"tool_result","tool_use_id":"toolu_1",
    "content":"22 C"}]}]}'
check 'anthropic: after a tool_result: text' \
    "J('a14')['content'] == [{'type': 'text', 'text': 'tool result: 22 C'}]
    and J('a14')['stop_reason'] == 'end_turn'"

ant a15 "$a_stream"
check 'anthropic stream: event sequence' \
    "(lambda n: n[:3] == ['message_start', 'content_block_start', 'ping']
    and n[-3:] == ['content_block_stop', 'message_delta', 'message_stop']
    and set(n[3:-3]) == {'content_block_delta'})([e for e, _ in ANT('a15')])"
check 'anthropic stream: event name = data type, chunked' \
    "all(e == d['type'] for e, d in ANT('a15'))
    and H('a15', 'transfer-encoding') == 'chunked'
    and H('a15', 'content-type').startswith('text/event-stream')"
check 'anthropic stream: text reassembles, usage in start and delta' \
    "ATEXT('a15') == '$ECHO'
    and ANT('a15')[0][1]['message']['usage']['input_tokens'] == 4
    and ANT('a15')[-2][1]['usage']['output_tokens'] == 5
    and ANT('a15')[-2][1]['delta']['stop_reason'] == 'end_turn'"
ant a16 '{"model":"claude-test","max_tokens":100,"stream":true,
    "tools":'"$a_tools"',"messages":[{"role":"user",
    "content":"call get_weather"}]}'
check 'anthropic stream: tool_use block, input_json_delta reassembles' \
    "[d['content_block'] for e, d in ANT('a16')
      if e == 'content_block_start'][1]
        == {'type': 'tool_use', 'id': 'toolu_%06d_0' % ANT_SEQ('a16'),
            'name': 'get_weather', 'input': {}}
    and json.loads(AJSON('a16', 1)) == {'city': 'city', 'days': 1}
    and len([d for e, d in ANT('a16')
             if e == 'content_block_delta' and d['index'] == 1]) >= 3"
ant a17 "$a_stream" -H 'X-Test-Fault: stream-error'
check 'anthropic stream-error: an overloaded_error event, no message_stop' \
    "ANT('a17')[-1][0] == 'error'
    and ANT('a17')[-1][1]['error']['type'] == 'overloaded_error'
    and 'message_stop' not in [e for e, _ in ANT('a17')]"
ant a18 "$a_stream" -H 'X-Test-Fault: cut'
check 'anthropic cut: no message_stop' \
    "$rc == 0 and ANT('a18')[0][0] == 'message_start'
    and 'message_stop' not in [e for e, _ in ANT('a18')]"
ant a19 "$a_stream" -H 'X-Test-Fault: split,crlf' --raw
check 'anthropic split,crlf: a chunk ends between CR and LF, events intact' \
    "any(c.endswith(b'\r') for c in CHUNKS('a19'))
    and not all(UTF8(c) for c in CHUNKS('a19'))
    and ATEXT('a19') == '$ECHO' and ANT('a19')[-1][0] == 'message_stop'"

run_checks

# ---- faults ----

oai f1 "$o_hello" -H 'X-Test-Fault: 429'
check '429: rate_limit_exceeded, retry-after: 1' \
    "CODE('f1') == 429 and J('f1')['error']['code'] == 'rate_limit_exceeded'
    and H('f1', 'retry-after') == '1'"
oai f2 "$o_hello" -H 'X-Test-Fault: 429,retry-after-ms=50'
check '429,retry-after-ms=50: retry-after-ms only' \
    "H('f2', 'retry-after-ms') == '50' and H('f2', 'retry-after') is None"
oai f3 "$o_hello" -H 'X-Test-Fault: 429,retry-after=7,should-retry=false'
check '429,retry-after=7,should-retry=false' \
    "H('f3', 'retry-after') == '7' and H('f3', 'x-should-retry') == 'false'"
oai f4 "$o_hello" -H 'X-Test-Fault: 429,quota'
check '429,quota: insufficient_quota' \
    "J('f4')['error']['code'] == 'insufficient_quota'"
ant f5 "$a_hello" -H 'X-Test-Fault: 429'
check 'anthropic 429: rate_limit_error, retry-after' \
    "CODE('f5') == 429 and J('f5')['type'] == 'error'
    and J('f5')['error']['type'] == 'rate_limit_error'
    and H('f5', 'retry-after') == '1'"
codes=
for i in 1 2 3 4; do
    oai "f6_$i" "$o_hello" -H 'X-Test-Fault: 500x2,id=s-500'
    codes="$codes $(cat "$tmp/f6_$i.code")"
done
check '500x2: 500, 500, then 200 for good' "'$codes' == ' 500 500 200 200'"
check '500x2: server_error body' "J('f6_1')['error']['type'] == 'server_error'"
codes=
for i in 1 2 3; do
    ant "f7_$i" "$a_hello" -H 'X-Test-Fault: 529,times=1,id=s-529'
    codes="$codes $(cat "$tmp/f7_$i.code")"
done
check 'anthropic 529,times=1: overloaded_error once' \
    "'$codes' == ' 529 200 200'
    and J('f7_1')['error']['type'] == 'overloaded_error'"
for s in 400 408 409 502 503; do
    oai "f8_$s" "$o_hello" -H "X-Test-Fault: $s"
done
check '400, 408, 409, 502, 503: those statuses, OpenAI error bodies' \
    "all(CODE('f8_%d' % s) == s
        and set(J('f8_%d' % s)['error']) == {'message', 'type', 'param', 'code'}
        for s in (400, 408, 409, 502, 503))"
check '503 sends retry-after, 400 does not' \
    "H('f8_503', 'retry-after') == '1' and H('f8_400', 'retry-after') is None
    and J('f8_400')['error']['type'] == 'invalid_request_error'"
oai f9 '{"model":"fault/503","messages":[{"role":"user","content":"x"}]}'
check 'fault in the model name: fault/503' \
    "CODE('f9') == 503 and J('f9')['error']['type'] == 'server_error'"
ant f10 '{"model":"fault/429,retry-after-ms=10","max_tokens":5,
    "messages":[{"role":"user","content":"x"}]}'
check 'fault in an Anthropic model name, with options' \
    "CODE('f10') == 429 and H('f10', 'retry-after-ms') == '10'"
oai f11 '{"model":"fault/cut","stream":true,"messages":[{"role":"user",
    "content":"x"}]}' \
    -H 'X-Test-Fault: 409'
check 'header tokens join the model tokens' "CODE('f11') == 409"
oai f12 "$o_hello" -H 'X-Test-Fault: explode'
check 'unknown fault token: 400 naming it' \
    "CODE('f12') == 400 and 'explode' in J('f12')['error']['message']"
oai f12b "$o_hello" -H 'X-Test-Fault: slow=soon'
check 'fault token with a bad value: 400' \
    "CODE('f12b') == 400 and 'slow=soon' in J('f12b')['error']['message']"

oai f13 "$o_hello" -H 'X-Test-Fault: hang' --max-time 1
check 'hang: no answer until the client gives up' \
    "$rc == 28 and RAW('f13') == b''"
oai f14 "$o_hello"
check 'after a hang, the server still answers' "CODE('f14') == 200"
oai f15 "$o_hello" -H 'X-Test-Fault: close'
check 'close: empty reply' "$rc == 52"
oai f16 "$o_hello" -H 'X-Test-Fault: reset'
check 'reset: headers and part of the body, then a reset' \
    "$rc in (18, 56) and CODE('f16') == 200
    and 0 < len(RAW('f16')) < int(H('f16', 'content-length'))"
oai f17 "$o_hello" -H 'X-Test-Fault: malformed'
check 'malformed: 200 application/json that does not parse' \
    "CODE('f17') == 200 and H('f17', 'content-type') == 'application/json'
    and RAW('f17').startswith(b'{') and not PARSES(TEXT('f17'))"
oai f18 "$o_hello" -H 'X-Test-Fault: html'
check 'html: 200 text/html' \
    "CODE('f18') == 200 and H('f18', 'content-type').startswith('text/html')
    and TEXT('f18').startswith('<!DOCTYPE html>')"
oai f19 "$o_hello" -H 'X-Test-Fault: 502,html'
check '502,html: a proxy error page' \
    "CODE('f19') == 502 and H('f19', 'content-type').startswith('text/html')
    and '502 Bad Gateway' in TEXT('f19')"
oai f20 "$o_hello" -H 'X-Test-Fault: slow=1500' --max-time 0.5
check 'slow=1500 (not streamed): no answer within 0.5 s' "$rc == 28"
oai f21 "$o_hello" -H 'X-Test-Fault: slow=50'
check 'slow=50: then the normal reply' \
    "CODE('f21') == 200 and OMSG('f21')['content'] == '$ECHO'"
oai f22 '{"model":"gpt-test","tools":'"$o_tools"',"messages":[{"role":"user",
    "content":"hi"}]}' \
    -H 'X-Test-Fault: tool=get_time'
check 'tool=get_time forces that call' \
    "OMSG('f22')['tool_calls'][0]['function']['name'] == 'get_time'"

run_checks

# ---- HTTP details ----

curl -sv --max-time 10 -H 'Authorization: Bearer test-key' -d "$o_stream" \
    -o /dev/null -o /dev/null \
    "$url/v1/chat/completions" "$url/v1/chat/completions" \
    2> "$tmp/k1.err"
check 'keep-alive: a second request reuses the connection after a stream' \
    "'Re-using existing connection' in FILE('k1.err')"
oai k2 "$o_hello" -H 'Transfer-Encoding: chunked'
check 'a chunked request body is read' \
    "CODE('k2') == 200 and OMSG('k2')['content'] == '$ECHO'"
oai k3 "$o_hello" -H 'Expect: 100-continue'
check 'Expect: 100-continue' "CODE('k3') == 200"
req k3b '/v1/messages?beta=true' "$a_hello" -H 'x-api-key: test-key' \
    -H 'anthropic-version: 2023-06-01'
check 'a query string is ignored for routing' "CODE('k3b') == 200"
req k4 /v1/nothing '{}'
check 'unknown path: 404' "CODE('k4') == 404 and 'error' in J('k4')"
curl -sS -o "$tmp/k5.out" -w '%{http_code}' "$url/v1/chat/completions" \
    > "$tmp/k5.code" 2> /dev/null
check 'GET on an API route: 405' "CODE('k5') == 405"

run_checks

# ---- the request log ----

oai l1 "$o_hello" -H 'X-Test-Fault: 500x1,id=log'
oai l2 "$o_hello" -H 'X-Test-Fault: 500x1,id=log'
req l3 '/v1/chat/completions?key=test-key' "$o_hello" \
    -H 'Authorization: Bearer test-key'
oai l4 '{"model":"gpt-test","api_key":"test-key","messages":[{"role":"user",
    "content":"x"}]}'
check 'log: one JSON line per request, in order' \
    "[e['seq'] for e in LOG()] == sorted(e['seq'] for e in LOG())
    and len(LOG()) >= 80"
check 'log: retries recorded with scenario and attempt' \
    "[(e['attempt'], e['status'], e['action']) for e in LOG()
      if e.get('scenario') == 'log']
        == [(1, 500, 'error 500'), (2, 200, 'reply')]"
check 'log: the key never in the headers, only its fingerprint' \
    "all('test-key' not in json.dumps(e['headers']) for e in LOG())
    and FIRST(lambda e: e.get('provider') == 'openai'
              and e['auth']['ok'])['headers']['authorization']
        == 'Bearer [redacted %s]' % FP('test-key')"
check 'log: x-api-key redacted, auth fingerprint' \
    "(lambda e: e['headers']['x-api-key'] == '[redacted %s]' % FP('test-key')
        and e['auth']['fingerprint'] == FP('test-key'))(
        FIRST(lambda e: e.get('provider') == 'anthropic' and e['auth']['ok']))"
check 'log: key_in_body set only when the key is in the body' \
    "LOG()[-1]['key_in_body'] is True
    and not any(e.get('key_in_body') for e in LOG()[:-1])"
check 'log: key_in_query set only when the key is in the query' \
    "LOG()[-2]['key_in_query'] is True
    and not any(e.get('key_in_query') for e in LOG()[:-2] + LOG()[-1:])"
check 'log: body, model, stream flag, fault and headers recorded' \
    "(lambda e: e['model'] == 'gpt-test' and e['stream'] is True
        and e['body']['messages'][0]['content'] == '$MSG'
        and e['headers']['x-test-fault'] == 'cut')(
        FIRST(lambda e: e.get('fault') == 'cut'))"
check 'log: an unparsable body is kept as text' \
    "FIRST(lambda e: e.get('status') == 400 and e.get('body') is None)
        ['body_text'].startswith('{\"model\"')"

run_checks

# ---- /stats ----

curl -sS -o "$tmp/st1.out" "$url/stats"
check 'stats: counts by path, model, fault, status, scenario' \
    "(lambda s: s['by_path']['/v1/chat/completions'] > 50
    and s['by_path']['/chat/completions'] == 1
    and s['by_path']['/v1/messages'] > 20
    and s['by_provider']['anthropic'] == s['by_path']['/v1/messages']
    and s['by_model']['fault/503'] == 1 and s['by_fault']['500'] == 6
    and s['by_fault']['hang'] == 1 and s['by_status']['500'] == 3
    and s['scenarios']['s-500'] == 4)(J('st1'))"
req st2 /stats/reset ''
curl -sS -o "$tmp/st3.out" "$url/stats"
check 'stats/reset: counters back to zero' \
    "J('st2') == {'reset': True} and J('st3')['requests'] == 0
    and J('st3')['by_path'] == {} and J('st3')['scenarios'] == {}"

run_checks

# ---- 64 at once ----

cpids=
i=0
while [ "$i" -lt 64 ]; do
    curl -s --max-time 60 -o "$tmp/c$i.out" -w '%{http_code}' \
        -H 'Authorization: Bearer test-key' \
        -H 'X-Test-Fault: barrier=64,id=c64' \
        -d '{"model":"gpt-test",
            "messages":[{"role":"user","content":"n'$i'"}]}' \
        "$url/v1/chat/completions" > "$tmp/c$i.code" 2> /dev/null &
    cpids="$cpids $!"
    i=$((i + 1))
done
for p in $cpids; do
    wait "$p"
done
curl -sS -o "$tmp/st4.out" "$url/stats"
check '64 requests held until all arrived: all answered' \
    "all(CODE('c%d' % i) == 200
        and OMSG('c%d' % i)['content'] == 'echo: n%d' % i for i in range(64))
    and J('st4')['max_active'] >= 64"

run_checks

# ---- stopping ----

# SIGTERM with a hung request open: the server exits at once, status 0
curl -s --max-time 30 -o /dev/null -H 'Authorization: Bearer test-key' \
    -H 'X-Test-Fault: hang' -d "$o_hello" "$url/v1/chat/completions" &
cpid=$!
n=0
until grep -q '"action": "hang"' "$tmp/main.log" 2> /dev/null ||
    [ "$n" -ge 100 ]; do
    sleep 0.05
    n=$((n + 1))
done
kill -TERM "$spid"
stopped "$spid"
check 'SIGTERM with a hung request open: exit status 0' "'$st' == '0'"
wait "$cpid"
rc=$?
check 'the hung client then sees the connection end' "$rc not in (0, 28)"
check 'no traceback on standard error' \
    "'Traceback' not in FILE('main.stderr')"

start second --key sk-other
oai x1 "$o_hello"
req x2 /v1/chat/completions "$o_hello" -H 'Authorization: Bearer sk-other'
check '--key: that key and no other' "CODE('x1') == 401 and CODE('x2') == 200"
kill -INT "$spid"
stopped "$spid"
check 'SIGINT: exit status 0' "'$st' == '0'"
old=$port
python3 "$server" --port "$old" --port-file "$tmp/third.port" \
    2> "$tmp/third.stderr" &
spid=$!
pids="$pids $spid"
n=0
while [ ! -s "$tmp/third.port" ] && kill -0 "$spid" 2> /dev/null &&
    [ "$n" -lt 200 ]; do
    sleep 0.05
    n=$((n + 1))
done
check 'the port is free again after the exit' \
    "FILE('third.port').strip() == '$old'"

stop_all
run_checks
test_end
