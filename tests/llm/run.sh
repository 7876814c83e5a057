#!/bin/sh
# run.sh -- pomlrun's LLM steps against tests/llm/server.py
#
# Starts the loopback OpenAI / Anthropic stand-in (synchronised on its port
# file), then for each check compiles a workflow of tests/llm/wf (the
# server's port substituted for @PORT@), runs it with pomlrun --json and
# looks at the result and at the server's request log: plain and streamed
# replies of both protocols, SSE framing (split, coalesced, CRLF,
# comments) with multibyte text, tool-call deltas, retries (429 with
# Retry-After / retry-after-ms, 5xx, 400 not retried), a hung request
# and the step timeout, reset and closed connections, malformed JSON, an
# HTML page, a cut stream, structured output, budgets, the circuit breaker
# and fallbacks, where the API key travels, cassettes (--record /
# --replay), --provider-jobs, cascade and best_of, and that the usage
# totals add up.  Faults are asked for in the model id ("fault/SPEC",
# see server.py).  Nothing is ordered with sleeps; a short sleep only
# paces a bounded wait.  Prints one line per failed check, then a count;
# exits 1 when a check failed, 77 (skipped) without python3 or curl.  The
# servers it starts are stopped however it ends.
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
wf=$top_srcdir/tests/llm/wf
server=$top_srcdir/tests/llm/server.py

for prog in "$pomlc" "$pomlrun"; do
    if [ ! -x "$prog" ]; then
        echo "error: $prog not built"
        exit 1
    fi
done
for prog in python3 curl; do
    if ! command -v "$prog" > /dev/null 2>&1; then
        echo "llm: $prog is needed; skipped"
        exit 77
    fi
done

. "$top_srcdir/tests/lib.sh"
test_begin llm

# every server started here, stopped on any exit
pids=
stop_server() {
    _rest=
    for _p in $pids; do
        [ "$_p" = "$1" ] || _rest="$_rest $_p"
    done
    pids=$_rest
    kill -TERM "$1" 2> /dev/null
    n=0
    while kill -0 "$1" 2> /dev/null && [ "$n" -lt 100 ]; do
        sleep 0.05
        n=$((n + 1))
    done
    kill -KILL "$1" 2> /dev/null
    wait "$1" 2> /dev/null
}
stop_all() {
    for p in $pids; do
        stop_server "$p"
    done
}
trap 'stop_all; rm -rf "$tmp"' EXIT

# the key the servers expect; it must travel in its header only
key="sk-poml-test-$$-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
POML_TEST_KEY=$key
export POML_TEST_KEY

# what the Python checks read: D (the check's directory), RES (its
# result), ERR (its stderr), LOG (the server's request log), MARK (the
# number of log lines before the run)
D=
RES=
ERR=
LOG=
MARK=0
export D RES ERR LOG MARK

# ---- helpers ----

# start_server DIR: a server logging to DIR/log; sets srv_pid and
# srv_port (empty when it did not start)
start_server() {
    mkdir -p "$1"
    python3 "$server" --port 0 --port-file "$1/port" --log "$1/log" \
        --key "$key" > "$1/out" 2>&1 &
    srv_pid=$!
    pids="$pids $srv_pid"
    srv_port=
    n=0
    until [ -s "$1/port" ]; do
        if ! kill -0 "$srv_pid" 2> /dev/null || [ "$n" -ge 400 ]; then
            fail "server.py did not start: $(first "$1/out")"
            return 1
        fi
        sleep 0.05
        n=$((n + 1))
    done
    srv_port=$(cat "$1/port")
}

# compile CHECK NAME [OUT [SED-EXPRESSION]...]: $tmp/OUT.plan (OUT
# defaults to NAME) from wf/NAME.poml with the port (and the expressions)
# substituted; a failure fails CHECK
compile() {
    _what=$1
    _name=$2
    _out=${3:-$2}
    if [ "$#" -ge 3 ]; then shift 3; else shift "$#"; fi
    printf '%s\n' "s|@PORT@|$port|g" "$@" > "$tmp/sed"
    sed -f "$tmp/sed" "$wf/$_name.poml" > "$tmp/$_out.poml"
    "$pomlc" -o "$tmp/$_out.plan" "$tmp/$_out.poml" > "$tmp/pomlc.err" 2>&1
    c=$?
    sanitized "$_what: pomlc $_name.poml" "$tmp/pomlc.err" || return 1
    if [ "$c" -ne 0 ] || [ ! -s "$tmp/$_out.plan" ]; then
        fail "$_what: pomlc $_name.poml failed (status $c): $(grep -m1 \
            'error' "$tmp/pomlc.err")"
        return 1
    fi
    return 0
}

# scratch NAME: a fresh directory for one check
scratch() {
    D=$tmp/$1
    rm -rf "$D"
    mkdir -p "$D"
}

# mark: the requests from here on belong to the next run; the server's
# counters (and fault scenarios: 500x2 fails twice again) start afresh
mark() {
    MARK=$(wc -l < "$LOG" | tr -d ' ')
    curl -s -X POST "$base/stats/reset" > /dev/null ||
        fail "POST /stats/reset failed"
}

# prun CHECK ARGS...: runs pomlrun ARGS in $D (without the API key in
# its environment when $nokey is set); leaves $RES (standard output), $ERR
# and $rc; a sanitizer report fails CHECK
nokey=
prun() {
    _what=$1
    shift
    RES=$D/res.json
    ERR=$D/err
    (cd "$D" && if [ -n "$nokey" ]; then unset POML_TEST_KEY; fi &&
        exec "$pomlrun" "$@") > "$RES" 2> "$ERR"
    rc=$?
    sanitized "$_what" "$ERR"
}

# status CHECK N: the last run exited with N
status() {
    if [ "$rc" -eq "$2" ]; then
        pass
    else
        fail "$1: expected exit status $2, got $rc ($(first "$ERR"))"
    fi
}

# the Python side of the checks
py_lib="$py_json"'
E = os.environ
def load(path=None):
    path = path or E["RES"]
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except Exception as e:
        print("no JSON result in %s (%s)" % (path.split("/")[-1], e))
        sys.exit(0)
def expect(r, path, want):
    got = get(r, path)
    if got is MISSING or not same(got, want):
        print("%s is %s, expected %s" % (path, show(got), show(want)))
        return False
    return True
def contains(r, path, *words):
    got = get(r, path)
    for w in words:
        if not isinstance(got, str) or w not in got:
            print("%s is %s, expected it to contain %r" % (path, show(got), w))
            return False
    return True
def requests(log=None, mark=None):
    """The API requests the server logged since the mark."""
    log = log or E["LOG"]
    mark = int(E["MARK"]) if mark is None else mark
    with open(log, encoding="utf-8") as f:
        lines = f.readlines()[mark:]
    out = [json.loads(l) for l in lines if l.strip()]
    return [q for q in out if q.get("provider") and q.get("method") == "POST"]
def of(reqs, model):
    return [q for q in reqs if q.get("model") == model]
def count(reqs, model, want, what=None):
    n = len(of(reqs, model))
    if n != want:
        print("the server saw %d requests for %s, expected %d%s"
              % (n, model, want, " (" + what + ")" if what else ""))
    return n == want
def user_text(q):
    """The text of the last message of a logged request."""
    m = ((q.get("body") or {}).get("messages") or [{}])[-1]
    c = m.get("content")
    if isinstance(c, list):
        return "".join(b.get("text", "") for b in c if isinstance(b, dict))
    return c if isinstance(c, str) else ""
def words(s):
    return len(s.split())
def usage_sums(r, calls=None):
    """The usage totals at the top equal the sums over the steps (and
    llm_calls equals CALLS when given)."""
    u = r.get("usage")
    if not isinstance(u, dict):
        print("no usage in the result")
        return
    tin = tout = 0
    cost = 0.0
    for sid, s in sorted(r.get("steps", {}).items()):
        o = s.get("outputs") or {}
        us, cs = o.get("usage"), o.get("cost")
        if not isinstance(us, list):
            us, cs = [us], [cs]
        for x in us:
            if isinstance(x, dict):
                tin += x.get("input_tokens", 0)
                tout += x.get("output_tokens", 0)
        for x in cs if isinstance(cs, list) else []:
            if isinstance(x, (int, float)):
                cost += x
    for name, want in (("input_tokens", tin), ("output_tokens", tout)):
        if u.get(name) != want:
            print("usage.%s is %s, the steps sum to %d"
                  % (name, show(u.get(name, MISSING)), want))
    c = u.get("cost_usd")
    if not isinstance(c, (int, float)) or abs(c - cost) > 1e-9 + 1e-6 * cost:
        print("usage.cost_usd is %s, the steps sum to %.9g"
              % (show(u.get("cost_usd", MISSING)), cost))
    if calls is not None and u.get("llm_calls") != calls:
        print("usage.llm_calls is %s, expected %d"
              % (show(u.get("llm_calls", MISSING)), calls))
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

# py CHECK [ARG]...: the Python program on standard input (after py_lib)
# prints the failures of CHECK
py() {
    _what=$1
    shift
    python3 -c "$py_lib
$(cat)" "$@" > "$tmp/py" 2>&1
    report "$_what"
}

# usage_ok CHECK [CALLS]: in $RES the usage totals are the sums of the
# steps' (and llm_calls is CALLS; "server": the requests logged since the
# mark)
usage_ok() {
    py "$1: usage totals" "${2:-}" << 'EOF'
r = load()
calls = sys.argv[1]
usage_sums(r, len(requests()) if calls == "server" else
           int(calls) if calls else None)
EOF
}

# modes: streamed (the default) and --no-stream; $flag is the option of
# the mode (empty or --no-stream), given as ${flag:+"$flag"}
modes="stream no-stream"
mode_flag() {
    if [ "$1" = no-stream ]; then echo --no-stream; fi
}
flag=

# ---- the server ----

start_server "$tmp/srv" || { test_end; exit 1; }
port=$srv_port
base=http://127.0.0.1:$port
LOG=$tmp/srv/log
POML_TEST_BASE_URL=$base/v1
export POML_TEST_BASE_URL

# multibyte UTF-8: two-, three- and four-byte characters
text='naïve café — ☃ 日本語 🎉 done'
TEXT=$text
export TEXT

# ---- 1. plain and streamed replies, both protocols ----

check_basic() {
    compile basic basic || return
    for mode in $modes; do
        flag=$(mode_flag "$mode")
        scratch "basic-$mode"
        mark
        prun "basic ($mode)" --json ${flag:+"$flag"} \
            "$tmp/basic.plan" -p text="$text"
        status "basic ($mode)" 0
        MODE=$mode py "basic ($mode)" << 'EOF'
r = load()
t, stream = E["TEXT"], E["MODE"] == "stream"
sysp = "You answer briefly."
expect(r, "status", "succeeded")
for sid, model, prompt, system, pin, pout in (
        ("o", "oa", t, sysp, 1.5, 2.5), ("a", "an", t, sysp, 3.0, 15.0),
        ("e", "viaenv", "plain " + t, None, 1.0, 1.0)):
    o = "steps.%s." % sid
    expect(r, o + "status", "succeeded")
    expect(r, o + "attempts", 1)
    want = "echo: " + prompt
    expect(r, o + "outputs.text", want)
    expect(r, o + "outputs.model", model)
    tin = words(prompt) + (words(system) if system else 0)
    tout = words(want)
    expect(r, o + "outputs.usage",
           {"input_tokens": tin, "output_tokens": tout,
            "total_tokens": tin + tout})
    cost = get(r, o + "outputs.cost")
    want_cost = tin * pin / 1e6 + tout * pout / 1e6
    if not isinstance(cost, (int, float)) or abs(cost - want_cost) > 1e-12:
        print("%s cost is %s, expected %.9g" % (sid, show(cost), want_cost))
reqs = requests()
if len(reqs) != 3:
    print("the server saw %d requests, expected 3" % len(reqs))
for q in reqs:
    b = q.get("body") or {}
    if q.get("stream") is not stream:
        print("%s: stream is %s, expected %s"
              % (q.get("model"), show(q.get("stream")), show(stream)))
    if stream and q["provider"] == "openai" and \
            b.get("stream_options") != {"include_usage": True}:
        print("%s: no stream_options.include_usage" % q["model"])
    if not stream and ("stream" in b or "stream_options" in b):
        print("%s: --no-stream sent stream fields: %s"
              % (q["model"], show(b)))
    if q.get("status") != 200:
        print("%s: HTTP %s" % (q.get("model"), q.get("status")))
for q in of(reqs, "gpt-basic"):
    b = q["body"]
    if q["path"] != "/v1/chat/completions":
        print("OpenAI request to %s" % q["path"])
    if b.get("messages") != [{"role": "system", "content": sysp},
                             {"role": "user", "content": t}]:
        print("OpenAI messages are %s" % show(b.get("messages")))
    if b.get("temperature") != 0.5 or b.get("max_tokens") != 60:
        print("OpenAI temperature / max_tokens: %s / %s"
              % (show(b.get("temperature")), show(b.get("max_tokens"))))
    if not q["headers"].get("authorization", "").startswith("Bearer "):
        print("OpenAI request without Authorization: Bearer")
for q in of(reqs, "claude-basic"):
    b = q["body"]
    if q["path"] != "/v1/messages":
        print("Anthropic request to %s" % q["path"])
    if b.get("system") != sysp or b.get("messages") != \
            [{"role": "user", "content": t}]:
        print("Anthropic system / messages: %s / %s"
              % (show(b.get("system")), show(b.get("messages"))))
    if b.get("temperature") != 0.5 or b.get("max_tokens") != 60:
        print("Anthropic temperature / max_tokens: %s / %s"
              % (show(b.get("temperature")), show(b.get("max_tokens"))))
    if "x-api-key" not in q["headers"] or \
            "authorization" in q["headers"]:
        print("Anthropic key header: %s" % sorted(q["headers"]))
    if not q["headers"].get("anthropic-version"):
        print("Anthropic request without anthropic-version")
count(reqs, "gpt-env", 1, "base_url_env")
for q in of(reqs, "gpt-env"):
    if "temperature" in q["body"] or "max_tokens" in q["body"]:
        print("gpt-env: temperature / max_tokens sent unasked")
EOF
        usage_ok "basic ($mode)" server
    done
}

# ---- 2. SSE framing: split, coalesced, CRLF, comments, all at once ----

check_sse() {
    scratch sse
    compile sse sse || return
    mark
    prun sse --json --events "$D/events" "$tmp/sse.plan" -p text="$text"
    status sse 0
    py "sse framing" "$D/events" << 'EOF'
r = load()
# the step_output events of each step join to its text, in order
pieces = {}
for line in open(sys.argv[1], encoding="utf-8"):
    ev = json.loads(line)
    if ev["event"] == "step_output":
        pieces.setdefault(ev["step"], []).append(ev["text"])
for sid, st in r["steps"].items():
    got = "".join(pieces.get(sid, []))
    if got != st["outputs"].get("text"):
        print("step_output events of %s join to %r, its text is %r"
              % (sid, got, st["outputs"].get("text")))
want = "echo: " + E["TEXT"]
expect(r, "status", "succeeded")
for f in ("split", "coalesce", "crlf", "comments", "all"):
    for p in ("o", "a"):
        sid = "%s_%s" % (p, f)
        expect(r, "steps.%s.outputs.text" % sid, want)
        expect(r, "steps.%s.attempts" % sid, 1)
reqs = requests()
if len(reqs) != 10 or not all(q.get("stream") is True for q in reqs):
    print("the server saw %d requests (%d streamed), expected 10 streamed"
          % (len(reqs), sum(q.get("stream") is True for q in reqs)))
EOF
    usage_ok sse server
}

# ---- 3. tool calls assembled from deltas ----

# pomlrun does not offer a step's tools to the model, so the server has no
# reason to call one: the replies are recorded, then replaced in the
# cassette by the server's own tool-call replies to the same prompt with
# two tools defined, and replayed (streamed and whole)
check_tools() {
    scratch tools
    compile tools tools || return
    mark
    prun "tools (record)" --json --record "$D/stream.cas" "$tmp/tools.plan"
    status "tools (record, streamed)" 0
    prun "tools (record)" --json --no-stream --record "$D/whole.cas" \
        "$tmp/tools.plan"
    status "tools (record, --no-stream)" 0
    BASE=$base py "tools: cassettes with tool calls" << 'EOF'
import http.client, urllib.parse
u = urllib.parse.urlsplit(E["BASE"])
schema = {"type": "object", "required": ["city", "days"],
          "properties": {"city": {"type": "string", "enum": ["Zürich"]},
                         "days": {"type": "integer", "minimum": 3}}}
clock = {"type": "object", "properties": {"tz": {"type": "string",
                                                "const": "UTC"}}}
msgs = [{"role": "user", "content": "use weather and clock"}]
def ask(anthropic, stream):
    if anthropic:
        body = {"model": "claude-tools", "max_tokens": 100,
                "messages": msgs,
                "tools": [{"name": "weather", "input_schema": schema},
                          {"name": "clock", "input_schema": clock}]}
        hdr = {"x-api-key": E["POML_TEST_KEY"],
               "anthropic-version": "2023-06-01"}
        path = "/v1/messages"
    else:
        body = {"model": "gpt-tools", "messages": msgs, "tools": [
            {"type": "function", "function": {"name": "weather",
                                              "parameters": schema}},
            {"type": "function", "function": {"name": "clock",
                                              "parameters": clock}}]}
        hdr = {"authorization": "Bearer " + E["POML_TEST_KEY"]}
        path = "/v1/chat/completions"
        if stream:
            body["stream_options"] = {"include_usage": True}
    if stream:
        body["stream"] = True
    hdr["content-type"] = "application/json"
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    c.request("POST", path, json.dumps(body), hdr)
    res = c.getresponse()
    data = res.read().decode("utf-8")
    c.close()
    return res.status, res.getheader("content-type"), data
want = {}
for name, stream in (("stream", True), ("whole", False)):
    entries = []
    with open(os.path.join(E["D"], name + ".cas"), encoding="utf-8") as f:
        entries = [json.loads(l) for l in f if l.strip()]
    if len(entries) != 2:
        print("%s.cas has %d entries, expected 2" % (name, len(entries)))
    for e in entries:
        anthropic = '"type":"message' in e["body"]
        st, ct, data = ask(anthropic, stream)
        if st != 200:
            print("the server answered the tool request with %s" % st)
        e.update(status=st, content_type=ct, body=data)
        pfx = "toolu_" if anthropic else "call_"
        ids = re.findall(r"\"id\"\s*:\s*\"(%s[^\"]+)\"" % pfx, data)
        want[(name, "a" if anthropic else "o")] = [
            {"id": ids[0] if ids else "?", "name": "weather",
             "arguments": {"city": "Zürich", "days": 3}},
            {"id": ids[1] if len(ids) > 1 else "?", "name": "clock",
             "arguments": {"tz": "UTC"}}]
    with open(os.path.join(E["D"], name + "-tools.cas"), "w",
              encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
with open(os.path.join(E["D"], "want.json"), "w", encoding="utf-8") as f:
    json.dump({"%s/%s" % k: v for k, v in want.items()}, f)
EOF
    for mode in $modes; do
        flag=$(mode_flag "$mode")
        cas=stream
        [ "$mode" = no-stream ] && cas=whole
        nokey=1
        prun "tools (replay, $mode)" --json ${flag:+"$flag"} \
            --replay "$D/$cas-tools.cas" "$tmp/tools.plan"
        nokey=
        status "tools (replay, $mode)" 0
        CAS=$cas py "tools: outputs.tool_calls ($mode)" << 'EOF'
r = load()
with open(os.path.join(E["D"], "want.json"), encoding="utf-8") as f:
    want = json.load(f)
for sid, proto in (("o", "OpenAI"), ("a", "Anthropic")):
    got = get(r, "steps.%s.outputs.tool_calls" % sid)
    w = want["%s/%s" % (E["CAS"], sid)]
    if got is MISSING or not same(got, w):
        print("%s: tool_calls are %s, expected %s" % (proto, show(got),
                                                      show(w)))
EOF
    done
}

# ---- 4. status codes: Retry-After, 5xx, 400 ----

check_retry() {
    scratch retry
    compile retry retry || return
    mark
    prun retry --json "$tmp/retry.plan"
    status "retry (400 fails)" 1
    py "retry" << 'EOF'
r = load()
reqs = requests()
for sid, model, n in (
        ("o429", "fault/429x1,retry-after=1,id=o429", 2),
        ("c429", "fault/429x1,retry-after=1,id=c429", 2),
        ("a429", "fault/429x1,retry-after-ms=400,id=a429", 2),
        ("o500", "fault/500x2,id=o500", 3),
        ("a529", "fault/529x1,retry-after=0,id=a529", 2)):
    expect(r, "steps.%s.status" % sid, "succeeded")
    expect(r, "steps.%s.attempts" % sid, n)
    count(reqs, model, n, sid)
    h = get(r, "steps.%s.history" % sid)
    if not isinstance(h, list) or len(h) != n:
        print("%s: history is %s, expected %d attempts" % (sid, show(h), n))
    else:
        for i, a in enumerate(h):
            st = "succeeded" if i == n - 1 else "failed"
            if a.get("status") != st:
                print("%s: attempt %d %s, expected %s"
                      % (sid, i + 1, a.get("status"), st))
            if st == "failed" and not ("HTTP " + model.split("/")[1][:3]) \
                    in (a.get("reason") or ""):
                print("%s: attempt %d reason %s" % (sid, i + 1,
                                                   show(a.get("reason"))))
# the second attempt waited for the server's delay (a max_delay below it
# bounds the backoff only)
for model, lo in (("fault/429x1,retry-after=1,id=o429", 0.95),
                  ("fault/429x1,retry-after=1,id=c429", 0.95),
                  ("fault/429x1,retry-after-ms=400,id=a429", 0.38)):
    t = [q["time"] for q in of(reqs, model)]
    if len(t) == 2 and t[1] - t[0] < lo:
        print("%s: second attempt %.3f s after the first, before the "
              "server's retry-after (%.2f s)" % (model, t[1] - t[0], lo))
for sid, model in (("o400", "fault/400,id=o400"),
                   ("a400", "fault/400,id=a400")):
    expect(r, "steps.%s.status" % sid, "failed")
    expect(r, "steps.%s.attempts" % sid, 1)
    contains(r, "steps.%s.reason" % sid, "HTTP 400")
    count(reqs, model, 1, "400 is not retried")
expect(r, "steps.o500.outputs.text", "echo: server error")
expect(r, "steps.once.status", "failed")
expect(r, "steps.once.attempts", 1)
count(reqs, "fault/500,id=once", 1, "max_attempts: 1")
EOF
    usage_ok retry server
}

# ---- 5. connections: hung (step timeout), reset mid-reply ----

check_conn() {
    compile conn conn || return
    for mode in $modes; do
        flag=$(mode_flag "$mode")
        scratch "conn-$mode"
        mark
        prun "conn ($mode)" --json --kill-grace 0.5 ${flag:+"$flag"} \
            "$tmp/conn.plan"
        status "conn ($mode)" 1
        py "conn ($mode)" << 'EOF'
import datetime
r = load()
reqs = requests()
def at(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
expect(r, "steps.hang.status", "failed")
# the documented reason, whether the step's timer or the request's own
# limit (the same duration) ended the attempt
expect(r, "steps.hang.reason", "timeout")
for i, a in enumerate(get(r, "steps.hang2.instances") or []):
    if a.get("reason") != "timeout":
        print("hang2[%d]: reason %s, expected \"timeout\""
              % (i, show(a.get("reason"))))
for i, a in enumerate(get(r, "steps.hang.history") or []):
    if a.get("reason") != "timeout":
        print("hang: attempt %d reason %s, expected \"timeout\""
              % (i + 1, show(a.get("reason"))))
n = get(r, "steps.hang.attempts")
if not isinstance(n, int) or not 1 <= n <= 2:
    print("hang: %s attempts, expected 1..2 (max_attempts 2)" % show(n))
else:
    count(reqs, "fault/hang,id=hang", n, "one per attempt")
    took = at(r["steps"]["hang"]["finished_at"]) - \
        at(r["steps"]["hang"]["started_at"])
    if took < 0.9 * n:
        print("hang: %d attempts ended after %.2f s, before their 1 s "
              "timeouts" % (n, took))
for sid in ("o_reset", "a_reset"):
    expect(r, "steps.%s.status" % sid, "succeeded")
    expect(r, "steps.%s.attempts" % sid, 2)
    expect(r, "steps.%s.outputs.text" % sid, "echo: reset once")
    if get(r, "steps.%s.history.0.status" % sid) != "failed" or \
            not get(r, "steps.%s.history.0.reason" % sid):
        print("%s: the first attempt is %s" % (sid, show(get(
            r, "steps.%s.history.0" % sid))))
    count(reqs, "fault/reset,times=1,id=" + sid, 2)
EOF
        usage_ok "conn ($mode)" server
    done
}

# a connection closed without a reply, after the step before left it
# open: every request the server sees is an attempt of the step
check_close() {
    scratch close
    compile close close || return
    mark
    prun close --json "$tmp/close.plan"
    status close 1
    py "close (no reply)" << 'EOF'
r = load()
reqs = requests()
expect(r, "steps.warm.status", "succeeded")
expect(r, "steps.close.status", "failed")
expect(r, "steps.close.attempts", 2)
count(reqs, "fault/close,id=close", 2, "max_attempts 2")
EOF
    usage_ok close server
}

# ---- 6. replies that are not what was asked for ----

check_bad() {
    compile bad bad || return
    for mode in $modes; do
        flag=$(mode_flag "$mode")
        scratch "bad-$mode"
        mark
        prun "bad ($mode)" --json ${flag:+"$flag"} "$tmp/bad.plan"
        status "bad ($mode)" 1
        MODE=$mode py "bad replies ($mode)" << 'EOF'
r = load()
reqs = requests()
stream = E["MODE"] == "stream"
for p in ("o", "a"):
    s = "steps.%s_malformed." % p
    expect(r, s + "status", "failed")
    expect(r, s + "attempts", 2)
    contains(r, s + "reason", "not JSON" if stream else "not valid JSON")
    s = "steps.%s_html." % p
    expect(r, s + "status", "failed")
    expect(r, s + "attempts", 1)
    contains(r, s + "reason", "content type", "text/html")
    s = "steps.%s_cut." % p
    if stream:
        expect(r, s + "status", "failed")
        expect(r, s + "attempts", 2)
        contains(r, s + "reason", "stream ended before the reply was complete")
    else:
        expect(r, s + "status", "succeeded")
for model, n in (("fault/malformed", 4), ("fault/html", 2),
                 ("fault/cut", 4 if stream else 2)):
    count(reqs, model, n, "one per attempt")
EOF
        usage_ok "bad ($mode)" server
    done
}

# ---- 7. structured output ----

check_structured() {
    compile structured structured || return
    for mode in $modes; do
        flag=$(mode_flag "$mode")
        scratch "structured-$mode"
        mark
        prun "structured ($mode)" --json ${flag:+"$flag"} \
            "$tmp/structured.plan"
        status "structured ($mode)" 0
        py "structured output ($mode)" << 'EOF'
r = load()
reqs = requests()
schema = {"type": "object", "required": ["name", "n", "tags"],
          "properties": {
              "name": {"type": "string", "enum": ["Zoë Ångström"]},
              "n": {"type": "integer", "minimum": 4},
              "tags": {"type": "array", "items": {"type": "string"},
                       "minItems": 2}}}
expect(r, "steps.js.status", "succeeded")
o = get(r, "steps.js.outputs")
try:
    parsed = json.loads(o["text"])
except Exception as e:
    parsed = None
    print("js: text is not JSON: %s (%s)" % (show(get(o, "text")), e))
j = get(r, "steps.js.outputs.json")
if parsed is not None and not same(j, parsed):
    print("js: json is %s, the text says %s" % (show(j), show(parsed)))
if isinstance(j, dict):
    if j.get("name") != "Zoë Ångström" or not isinstance(j.get("n"), int) \
            or j["n"] < 4 or not isinstance(j.get("tags"), list) or \
            len(j["tags"]) < 2:
        print("js: json %s does not match the schema" % show(j))
    expect(r, "steps.js.outputs.name", j.get("name"))
    expect(r, "steps.js.outputs.n", j.get("n"))
expect(r, "steps.ajs.status", "succeeded")
expect(r, "steps.ajs.outputs.name", "Zoë Ångström")
for q in reqs:
    rf = q["body"].get("response_format")
    if user_text(q) == "Describe the account.":
        fmt = get(q["body"], "output_config.format")
        if get(fmt, "type") != "json_schema" or \
                not same(get(fmt, "schema"), schema):
            print("ajs: output_config.format is %s" % show(fmt))
        if "response_format" in q["body"]:
            print("ajs: an Anthropic request with response_format")
    elif user_text(q) == "Describe the user.":
        if get(rf, "type") != "json_schema" or \
                not same(get(rf, "json_schema.schema"), schema):
            print("js: response_format is %s" % show(rf))
    elif rf != {"type": "json_object"}:
        print("jo: response_format is %s" % show(rf))
expect(r, "steps.jo.status", "succeeded")
expect(r, "steps.jo.outputs.json", {"echo": "Any JSON will do."})
if len(reqs) != 3:
    print("the server saw %d requests, expected 3" % len(reqs))
EOF
        usage_ok "structured ($mode)" server
    done
}

# a reply that does not match: a retryable failure naming the problem
check_badschema() {
    scratch badschema
    compile badschema badschema || return
    mark
    prun badschema --json --no-stream "$tmp/badschema.plan"
    status badschema 1
    py "badschema" << 'EOF'
r = load()
expect(r, "steps.schema.status", "failed")
expect(r, "steps.schema.attempts", 2)
contains(r, "steps.schema.reason", "does not match the output schema")
why = get(r, "steps.schema.reason")
if isinstance(why, str) and not re.search(r"\b(name|age)\b", why):
    print("the reason %s names neither property" % show(why))
expect(r, "steps.schema.history.0.status", "failed")
expect(r, "steps.object.status", "failed")
expect(r, "steps.object.attempts", 2)
contains(r, "steps.object.reason", "not JSON")
if len(requests()) != 4:
    print("the server saw %d requests, expected 4 (2 attempts each)"
          % len(requests()))
EOF
    # the rejected replies were read and count in the run's usage (every
    # attempt), though no step's outputs show them
    py "badschema: usage totals" << 'EOF'
r = load()
reqs = requests()
u = r.get("usage", {})
tin = sum(max(1, sum(words(m.get("content") or "")
                     for m in q["body"].get("messages", [])))
          for q in reqs)
expect(r, "usage.llm_calls", len(reqs))
expect(r, "usage.input_tokens", tin)
out = u.get("output_tokens")
if not isinstance(out, int) or out < len(reqs):
    print("usage.output_tokens is %s, expected one or more per reply"
          % show(out))
else:
    c = u.get("cost_usd")
    if not isinstance(c, (int, float)) or abs(c - (tin + out) / 1e6) > 1e-12:
        print("usage.cost_usd is %s, expected %.9g" % (show(c),
                                                      (tin + out) / 1e6))
EOF
}

# a reply that misses its schema does not open the circuit breaker
check_schema_breaker() {
    scratch schemabreaker
    compile schemabreaker schemabreaker || return
    mark
    prun schemabreaker --json --no-stream "$tmp/schemabreaker.plan"
    status "schema and breaker" 0
    py "schema and breaker" << 'EOF'
r = load()
expect(r, "steps.schema.status", "succeeded")
expect(r, "steps.schema.attempts", 2)
contains(r, "steps.schema.history.0.reason", "does not match the output schema")
count(requests(), "fault/badschema,times=1,id=schemabreaker", 2,
      "the retry reached the server")
EOF
}

# a reply past the 32 MiB that pomlrun reads: the reason says so
check_huge() {
    scratch huge
    compile huge huge || return
    mark
    prun huge --json --no-stream "$tmp/huge.plan"
    status huge 1
    py "huge reply" << 'EOF'
r = load()
expect(r, "steps.huge.status", "failed")
expect(r, "steps.huge.attempts", 1)
contains(r, "steps.huge.reason", "larger than 32 MiB")
EOF
    # a reply being read counts with the run's outputs
    mark
    prun "huge reply, memory bound" --json --no-stream \
        --max-output-memory 4M "$tmp/huge.plan"
    status "huge reply, memory bound" 1
    py "huge reply, memory bound" << 'EOF'
r = load()
expect(r, "steps.huge.status", "failed")
contains(r, "steps.huge.reason", "past --max-output-memory (4 MiB)")
EOF
}

# a streamed request answered with 64 MiB and no event end: the body is
# read in one pass, so a shell step beside it ends by its own timeout and
# the reply by the 32 MiB cap, not by the LLM step's timeout
check_hugestream() {
    scratch hugestream
    compile hugestream hugestream || return
    mark
    prun hugestream --json "$tmp/hugestream.plan"
    status hugestream 1
    py "huge streamed reply" << 'EOF'
r = load()
expect(r, "steps.sleeper.status", "failed")
expect(r, "steps.sleeper.reason", "timeout")
expect(r, "steps.huge.status", "failed")
expect(r, "steps.huge.attempts", 1)
contains(r, "steps.huge.reason", "larger than 32 MiB")
EOF
}

# a header past libcurl's limit: said so, with the limit, not retried
check_big_header() {
    scratch bigheader
    compile bigheader bigheader || return
    mark
    prun bigheader --json "$tmp/bigheader.plan"
    status bigheader 1
    py "oversized header" << 'EOF'
r = load()
expect(r, "steps.big.attempts", 1)
contains(r, "steps.big.reason", "header is larger than 100 KiB")
EOF
}

# a NUL in the reply's text: kept as U+FFFD, with a note; both
# protocols, streamed and whole
check_nul() {
    for proto in openai anthropic; do
        for opt in --stream --no-stream; do
            scratch "nul-$proto$opt"
            compile "nul ($proto $opt)" nul "nul-$proto" \
                "s|@PROTO@|$proto|" || return
            [ "$opt" = --stream ] && set -- || set -- "$opt"
            prun "nul ($proto $opt)" --json "$@" "$tmp/nul-$proto.plan"
            status "nul ($proto $opt)" 0
            grep -q 'NUL character (\\u0000), replaced by U+FFFD' "$ERR" ||
                fail "nul ($proto $opt): no note on stderr: $(first "$ERR")"
            py "nul ($proto $opt)" << 'EOF'
r = load()
contains(r, "steps.nul.outputs.text", "a\ufffdb echo")
EOF
        done
    done
}

# invalid UTF-8 in what is sent (a parameter in the prompt and the system
# prompt): the body is valid JSON, each bad byte U+FFFD, with a note
check_bad_utf8() {
    for proto in openai anthropic; do
        for mode in $modes; do
            flag=$(mode_flag "$mode")
            scratch "badutf8-$proto-$mode"
            compile "bad utf-8 ($proto $mode)" badutf8 "badutf8-$proto" \
                "s|@PROTO@|$proto|" || return
            mark
            prun "bad utf-8 ($proto $mode)" --json ${flag:+"$flag"} \
                -p "word=a$(printf '\377\300\200')b" \
                "$tmp/badutf8-$proto.plan"
            status "bad utf-8 ($proto $mode)" 0
            grep -q 'pomlrun: ask: .*6 bytes of invalid UTF-8.*U+FFFD' "$ERR" ||
                fail "bad utf-8 ($proto $mode): no note on stderr: \
$(first "$ERR")"
            py "bad utf-8 ($proto $mode)" "$proto" << 'EOF'
r = load()
contains(r, "steps.ask.outputs.text", "say a\ufffd\ufffd\ufffdb")
reqs = requests()
if len(reqs) != 1:
    print("the server saw %d requests, expected 1" % len(reqs))
else:
    b = reqs[0].get("body") or {}
    sys_text = (b.get("system") if sys.argv[1] == "anthropic" else
                (b.get("messages") or [{}])[0].get("content"))
    if sys_text != "brief a\ufffd\ufffd\ufffdb":
        print("the system prompt sent is %r" % (sys_text,))
EOF
        done
    done
}

# ---- 8. budgets ----

# budget_case NAME BUDGET DEP WANT-REQUESTS WORD
budget_case() {
    scratch "budget-$1"
    compile "budget ($1)" budget "budget-$1" "s/@BUDGET@/$2/" \
        "s/@DEP@/$3/" || return
    mark
    prun "budget ($1)" --json "$tmp/budget-$1.plan"
    status "budget ($1)" 1
    WANT=$4 WORD=$5 py "budget ($1)" << 'EOF'
r = load()
want = int(E["WANT"])
n = len(requests())
if n != want:
    print("the server saw %d requests, expected %d" % (n, want))
ok = [s for s in r["steps"] if r["steps"][s]["status"] == "succeeded"]
bad = [s for s in r["steps"] if r["steps"][s]["status"] == "failed"]
if len(ok) != want or len(bad) != 4 - want:
    print("%d steps succeeded, %d failed; expected %d and %d"
          % (len(ok), len(bad), want, 4 - want))
for s in bad:
    why = r["steps"][s].get("reason") or ""
    if not why.startswith("budget") or E["WORD"] not in why:
        print("%s failed with %s, expected a budget reason naming %s"
              % (s, show(why), E["WORD"]))
EOF
    usage_ok "budget ($1)" server
}

check_budget() {
    budget_case calls 'max_llm_calls: 2' '' 2 max_llm_calls
    budget_case tokens 'max_tokens: 5' s1 1 max_tokens
    budget_case cost 'max_cost_usd: 0.0005' s1 1 max_cost_usd

    # a step's own budget stops its retries before they reach the server
    scratch stepbudget
    compile stepbudget stepbudget || return
    mark
    prun stepbudget --json "$tmp/stepbudget.plan"
    status stepbudget 1
    py "step budget" << 'EOF'
r = load()
expect(r, "steps.once.status", "failed")
why = get(r, "steps.once.reason")
if not isinstance(why, str) or not why.startswith("budget"):
    print("the reason is %s, expected a budget reason" % show(why))
count(requests(), "fault/503,retry-after=0,id=stepbudget", 1,
      "the step's max_llm_calls")
EOF
}

# ---- 9. an open circuit falls back ----

check_breaker() {
    scratch breaker
    compile breaker breaker || return
    mark
    prun breaker --json "$tmp/breaker.plan"
    status breaker 0
    py "circuit breaker" << 'EOF'
r = load()
reqs = requests()
primary, backup = "fault/500,retry-after=0,id=primary", "claude-backup"
for s, p in (("s1", "first"), ("s2", "second"), ("s3", "third"),
             ("s4", "fourth")):
    expect(r, "steps.%s.status" % s, "succeeded")
    expect(r, "steps.%s.outputs.model" % s, "backup")
    expect(r, "steps.%s.outputs.text" % s, "echo: " + p)
# two failures open the primary's circuit: from then on, the fallback only
count(reqs, primary, 2, "failure_threshold 2, then the breaker is open")
order = [q["model"] for q in reqs]
last = max((i for i, m in enumerate(order) if m == primary), default=-1)
if any(user_text(q) in ("third", "fourth") for q in reqs[:last + 1]):
    print("the primary was tried after its circuit opened: %s" % order)
for s, p in (("s3", "third"), ("s4", "fourth")):
    expect(r, "steps.%s.attempts" % s, 1)
    asked = [q["model"] for q in reqs if user_text(q) == p]
    if asked != [backup]:
        print("%s went to %s, expected the fallback only" % (s, asked))
EOF
    usage_ok breaker server
}

# ---- 10. the API key travels in its header only ----

# no_key_in CHECK: the result, stderr, events and cassette of the last run
# in $D are not empty and do not hold the key
no_key_in() {
    for f in res.json err events cassette; do
        if [ ! -s "$D/$f" ]; then
            fail "$1: $f is empty"
        elif grep -qF -- "$key" "$D/$f"; then
            fail "$1: the API key is in $f"
        else
            pass
        fi
    done
}

check_key() {
    compile basic basic || return
    for mode in $modes; do
        flag=$(mode_flag "$mode")
        scratch "key-$mode"
        mark
        prun "key ($mode)" --json -v --events "$D/events" \
            --record "$D/cassette" ${flag:+"$flag"} "$tmp/basic.plan" \
            -p text="$text"
        status "key ($mode)" 0
        no_key_in "key ($mode)"
        py "key ($mode): server" << 'EOF'
reqs = requests()
if len(reqs) != 3:
    print("the server saw %d requests, expected 3" % len(reqs))
for q in reqs:
    if not q["auth"]["ok"] or q["key_in_body"] or q["key_in_query"]:
        print("%s: auth %s, key in body %s, in query %s"
              % (q["model"], q["auth"], q["key_in_body"], q["key_in_query"]))
EOF
    done
    # without the key: refused, and the reason says which variable to set
    scratch nokey
    mark
    nokey=1
    prun nokey --json "$tmp/basic.plan" -p text=x
    nokey=
    status "no key" 1
    py "no key" << 'EOF'
r = load()
for s in ("o", "a", "e"):
    expect(r, "steps.%s.status" % s, "failed")
    expect(r, "steps.%s.attempts" % s, 1)
    contains(r, "steps.%s.reason" % s, "HTTP 401", "POML_TEST_KEY")
EOF
}

# a key quoted back by the server is masked in everything pomlrun writes;
# a key variable with a line break is refused before any request
check_key_echo() {
    compile echokey echokey || return
    for mode in $modes; do
        flag=$(mode_flag "$mode")
        scratch "echokey-$mode"
        mark
        POML_BAD_KEY=$(printf '%s\r\nX-Injected: 1' "$key")
        export POML_BAD_KEY
        prun "key echo ($mode)" --json -v --events "$D/events" \
            --record "$D/cassette" ${flag:+"$flag"} "$tmp/echokey.plan"
        unset POML_BAD_KEY
        status "key echo ($mode)" 1
        no_key_in "key echo ($mode)"
        py "key echo ($mode)" << 'EOF'
r = load()
reqs = requests()
for sid in ("oecho", "aecho"):
    expect(r, "steps.%s.status" % sid, "failed")
    contains(r, "steps.%s.reason" % sid, "HTTP 400", "Invalid key: Bearer [redacted")
    count(reqs, "fault/400,echo-key,id=" + sid, 1)
expect(r, "steps.crlf.status", "failed")
expect(r, "steps.crlf.attempts", 1)
contains(r, "steps.crlf.reason", "POML_BAD_KEY", "line break")
count(reqs, "gpt-crlf", 0, "a key with a line break is not sent")
for q in reqs:
    if "x-injected" in q["headers"]:
        print("a request carried the injected header")
EOF
    done
}

# a workflow's model shadows the catalog's of its name; a provider's key
# goes to the provider's endpoint only
check_key_route() {
    scratch keyroute
    compile keyroute keyroute || return
    if grep -q "shadows the catalog" "$tmp/pomlc.err" &&
        grep -q "is not sent OPENAI_API_KEY" "$tmp/pomlc.err"; then
        pass
    else
        fail "key route: pomlc did not warn: $(first "$tmp/pomlc.err")"
    fi
    mark
    OPENAI_API_KEY=$key
    export OPENAI_API_KEY
    prun "key route" --json "$tmp/keyroute.plan"
    unset OPENAI_API_KEY
    status "key route" 1
    py "key route" << 'EOF'
r = load()
reqs = requests()
expect(r, "steps.shadow.status", "succeeded")
expect(r, "steps.shadow.outputs.text", "echo: stay local")
count(reqs, "gpt-shadow", 1, "the workflow's definition")
expect(r, "steps.elsewhere.status", "failed")
contains(r, "steps.elsewhere.reason", "HTTP 401", "names no api_key_env")
for q in of(reqs, "gpt-elsewhere"):
    if q["auth"]["present"]:
        print("gpt-elsewhere was sent a key (%s)" % q["auth"])
EOF
}

# ---- 10b. every catalog provider takes its endpoint from the environment

check_catalog_env() {
    scratch catalogenv
    compile catalogenv catalogenv || return
    mark
    for p in GROQ GEMINI MISTRAL DEEPSEEK AI21; do
        eval "${p}_BASE_URL=\$base/v1 ${p}_API_KEY=\$key"
        export "${p}_BASE_URL" "${p}_API_KEY"
    done
    prun catalogenv --json "$tmp/catalogenv.plan"
    unset GROQ_BASE_URL GEMINI_BASE_URL MISTRAL_BASE_URL DEEPSEEK_BASE_URL \
        AI21_BASE_URL GROQ_API_KEY GEMINI_API_KEY MISTRAL_API_KEY \
        DEEPSEEK_API_KEY AI21_API_KEY
    status "catalog providers' *_BASE_URL" 0
    py "catalog providers' *_BASE_URL" << 'EOF'
r = load()
reqs = requests()
for sid in ("groq", "google", "mistral", "deepseek", "ai21"):
    expect(r, "steps.%s.status" % sid, "succeeded")
    expect(r, "steps.%s.outputs.text" % sid, "echo: " + sid)
    asked = [q for q in reqs if user_text(q) == sid]
    if len(asked) != 1 or not asked[0]["auth"]["ok"]:
        print("%s: %d requests reached the server with the key"
              % (sid, len(asked)))
EOF
}

# ---- 10c. capability routing: the first model that is configured ----

check_capability() {
    scratch capability
    compile capability capability || return
    mark
    unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL
    OPENAI_BASE_URL=$base/v1 OPENAI_API_KEY=$key
    export OPENAI_BASE_URL OPENAI_API_KEY
    prun capability --json "$tmp/capability.plan"
    unset OPENAI_BASE_URL OPENAI_API_KEY
    status "capability routing" 0
    if grep -q "capability 'code_analysis': using model 'gpt-5', the first of its models that is configured ('claude-sonnet-4-5' is not: ANTHROPIC_API_KEY is not set)" "$D/err"
    then
        pass
    else
        fail "capability routing: no note says which model it took" \
            "($(first "$D/err"))"
    fi
    py "capability routing" << 'EOF2'
r = load()
reqs = requests()
expect(r, "steps.analyse.status", "succeeded")
expect(r, "steps.analyse.outputs.model", "gpt-5")
if len(reqs) != 1 or "anthropic" in reqs[0].get("path", ""):
    print("the server saw %d requests, expected one OpenAI request"
          % len(reqs))
EOF2
}

# ---- 11. cassettes: record, then replay with the server stopped ----

check_replay() {
    scratch replay
    start_server "$D/srv" || return
    port2=$srv_port
    pid2=$srv_pid
    port_save=$port
    port=$port2
    compile replay replay || { port=$port_save; return; }
    port=$port_save
    for mode in $modes; do
        flag=$(mode_flag "$mode")
        prun "replay (record, $mode)" --json --record "$D/$mode.cas" \
            ${flag:+"$flag"} "$tmp/replay.plan"
        status "replay (record, $mode)" 0
        cp "$RES" "$D/rec-$mode.json"
    done
    stop_server "$pid2"
    nreq=$(grep -c '"provider"' "$D/srv/log")
    for mode in $modes; do
        flag=$(mode_flag "$mode")
        nokey=1
        prun "replay ($mode)" --json --replay "$D/$mode.cas" \
            ${flag:+"$flag"} "$tmp/replay.plan"
        nokey=
        status "replay ($mode)" 0
        cp "$RES" "$D/rep-$mode.json"
        MODE=$mode py "replay ($mode): the same outputs" << 'EOF'
rec = load(os.path.join(E["D"], "rec-%s.json" % E["MODE"]))
rep = load(os.path.join(E["D"], "rep-%s.json" % E["MODE"]))
with open(os.path.join(E["D"], E["MODE"] + ".cas"), encoding="utf-8") as f:
    n = sum(1 for l in f if l.strip())
if n != 4:
    print("the cassette holds %d exchanges, expected 4" % n)
for k in ("status", "usage"):
    if not same(rec.get(k), rep.get(k)):
        print("%s: recorded %s, replayed %s" % (k, show(rec.get(k)),
                                                show(rep.get(k))))
for s in ("o", "a", "j", "after"):
    a, b = get(rec, "steps.%s.outputs" % s), get(rep, "steps.%s.outputs" % s)
    if a is MISSING or not same(a, b):
        print("%s: recorded %s, replayed %s" % (s, show(a), show(b)))
if get(rec, "steps.j.outputs.json.fact") is MISSING:
    print("j: no structured output recorded")
EOF
    done
    if [ "$(grep -c '"provider"' "$D/srv/log")" -eq "$nreq" ]; then
        pass
    else
        fail "replay: the stopped server's log grew"
    fi
    # a request the cassette does not hold fails, naming --record
    nokey=1
    prun "replay (unknown)" --json --replay "$D/stream.cas" \
        "$tmp/replay.plan" -p topic=else
    nokey=
    status "replay (unknown request)" 1
    py "replay (unknown request)" << 'EOF'
r = load()
for s in ("o", "a", "j"):
    expect(r, "steps.%s.status" % s, "failed")
    contains(r, "steps.%s.reason" % s, "--record")
with open(E["ERR"], encoding="utf-8") as f:
    if "--record" not in f.read():
        print("stderr does not name --record")
EOF
}

# ---- 12. many calls at once under --provider-jobs ----

check_many() {
    scratch many
    compile many many || return
    items=$(python3 -c 'print(list(range(100)))')
    mark
    prun many --json --no-stream --provider-jobs 8 "$tmp/many.plan" \
        -p items="$items"
    status "many (--provider-jobs 8)" 0
    curl -s "$base/stats" > "$D/stats.json" || fail "GET /stats failed"
    py "many (--provider-jobs 8)" << 'EOF'
r = load()
st = load(os.path.join(E["D"], "stats.json"))
expect(r, "status", "succeeded")
inst = get(r, "steps.each.instances")
if not isinstance(inst, list) or len(inst) != 100:
    print("%s instances, expected 100" % (len(inst) if isinstance(inst, list)
                                         else show(inst)))
else:
    bad = [i for i, x in enumerate(inst) if x.get("status") != "succeeded"]
    if bad:
        print("instances %s did not succeed" % bad[:10])
expect(r, "steps.each.outputs.text",
       ["echo: item %d" % i for i in range(100)])
if st.get("requests") != 100:
    print("the server saw %s requests, expected 100" % st.get("requests"))
peak = st.get("max_active")
if not isinstance(peak, int) or not 2 <= peak <= 8:
    print("peak requests in flight %s, expected 2..8" % show(peak))
EOF
    usage_ok "many" 100
}

# ---- 13. cascade and best_of ----

check_strategies() {
    scratch strategies
    compile strategies strategies || return
    mark
    prun strategies --json "$tmp/strategies.plan"
    status strategies 0
    py "cascade and best_of" << 'EOF'
r = load()
reqs = requests()
expect(r, "status", "succeeded")
# cascade: the drafter answers, the refiner improves its draft
d = of(reqs, "gpt-drafter")
f = of(reqs, "claude-refiner")
if len(d) != 1 or len(f) != 1:
    print("cascade: %d drafter and %d refiner requests, expected 1 and 1"
          % (len(d), len(f)))
else:
    if user_text(d[0]) != "Write a haiku.":
        print("cascade: the drafter was asked %s" % show(user_text(d[0])))
    p = user_text(f[0])
    if "Write a haiku." not in p or "echo: Write a haiku." not in p:
        print("cascade: the refiner was asked %s" % show(p))
    expect(r, "steps.refine.outputs.drafts",
           ["echo: Write a haiku.", "echo: " + p])
    expect(r, "steps.refine.outputs.text", "echo: " + p)
    expect(r, "steps.refine.outputs.model", "refiner")
# best_of 3 with a judge: 3 candidates, then 1 request to the judge's model
w = of(reqs, "gpt-writer")
if len(w) != 3 or any(user_text(q) != "Name a colour." for q in w):
    print("best_of: %d writer requests %s, expected 3"
          % (len(w), [user_text(q) for q in w]))
c = of(reqs, "claude-critic")
judging = [q for q in c if "Candidate answers" in user_text(q)]
if len(judging) != 1:
    print("best_of: %d judge requests, expected 1" % len(judging))
elif "Prefer candidate 2." not in user_text(judging[0]):
    print("best_of: the judge was not given the judge step's prompt")
if len(c) != 1:
    print("the critic saw %d requests, expected 1: the judging, which is "
          "the pick step's only call" % len(c))
# the judge step makes no call of its own: its outputs are the judging's
expect(r, "steps.pick.status", "succeeded")
expect(r, "steps.pick.outputs.chosen", 1)
if not str(get(r, "steps.pick.outputs.text")).startswith(
        "echo: Prefer candidate 2."):
    print("pick: its text is %s, not the judging's reply"
          % show(get(r, "steps.pick.outputs.text")))
if any(q["time"] < max(x["time"] for x in w) for q in judging):
    print("best_of: the judge was asked before every candidate came")
expect(r, "steps.best.outputs.candidates", ["echo: Name a colour."] * 3)
expect(r, "steps.best.outputs.text", "echo: Name a colour.")
# best_of 4 by vote
v = of(reqs, "claude-voter")
if len(v) != 4:
    print("vote: %d requests, expected 4" % len(v))
expect(r, "steps.vote.outputs.candidates", ["echo: Name a number."] * 4)
expect(r, "steps.vote.outputs.text", "echo: Name a number.")
expect(r, "steps.vote.outputs.chosen", 0)
expect(r, "steps.best.outputs.chosen", 1)
# best_of 3 by score: the highest (the last candidate) wins
expect(r, "steps.scored.outputs.chosen", 2)
expect(r, "steps.scored.outputs.candidates", ["echo: Name a shape."] * 3)
if len(reqs) != 13:
    print("the server saw %d requests, expected 13" % len(reqs))
EOF
    usage_ok strategies server
}

# ---- the whole run: the key never left its header ----

# error_strategy fail_fast: the first failure cancels what runs and
# starts nothing more
check_failfast() {
    compile failfast failfast || return
    scratch failfast
    mark
    prun failfast --json --kill-grace 0.5 "$tmp/failfast.plan"
    status failfast 1
    py "failfast" << 'EOF'
r = load()
expect(r, "status", "failed")
expect(r, "steps.broken.status", "failed")
expect(r, "steps.wait.status", "cancelled")
contains(r, "steps.wait.reason", "broken", "fail_fast")
expect(r, "steps.later.status", "cancelled")
EOF
}

# a swarm's execution.parallel_limit bounds its agents' requests in flight
check_swarmlimit() {
    compile swarmlimit swarmlimit || return
    scratch swarmlimit
    mark
    prun swarmlimit --json --no-stream "$tmp/swarmlimit.plan" -p task=t
    status swarmlimit 0
    curl -s "$base/stats" > "$D/stats.json" || fail "GET /stats failed"
    py "swarm parallel_limit" << 'EOF'
r = load()
st = load(os.path.join(E["D"], "stats.json"))
expect(r, "status", "succeeded")
if st.get("requests") != 4:
    print("the server saw %s requests, expected 4" % st.get("requests"))
if st.get("max_active") != 1:
    print("peak requests in flight %s, expected 1" % show(st.get(
        "max_active")))
EOF
}

# a step inherits no descriptor of pomlrun's: not the --events file, not
# the HTTP client's sockets
check_fds() {
    compile fds fds || return
    scratch fds
    mark
    prun fds --json --events "$D/events" "$tmp/fds.plan"
    status fds 0
    py "fds: a step has only 0, 1 and 2" << 'EOF'
r = load()
expect(r, "steps.ask.status", "succeeded")
fds = (get(r, "steps.fds.outputs.stdout") or "").split("\n")
extra = [f for f in fds if f.split(">")[0] not in ("0", "1", "2")
         and not f.split(">", 1)[1].endswith("/fd")]
if extra or len(fds) < 3:
    print("the step's descriptors: %s" % fds)
EOF
}

check_key_everywhere() {
    left=$(grep -rlF -- "$key" "$tmp" 2> /dev/null | head -n 3)
    if [ -z "$left" ]; then
        pass
    else
        fail "the API key is in $(echo "$left" | tr '\n' ' ')"
    fi
    MARK=0 py "every request: the key in its header only" << 'EOF'
reqs = requests()
if len(reqs) < 100:
    print("only %d requests in the server log" % len(reqs))
for q in reqs:
    if q["key_in_body"] or q["key_in_query"]:
        print("request %s (%s): the key is in the %s" % (
            q["seq"], q["model"], "body" if q["key_in_body"] else "query"))
EOF
}

check_basic
check_sse
check_tools
check_retry
check_conn
check_close
check_bad
check_structured
check_badschema
check_schema_breaker
check_huge
check_hugestream
check_big_header
check_nul
check_bad_utf8
check_budget
check_breaker
check_key
check_key_echo
check_key_route
check_catalog_env
check_capability
check_replay
check_many
check_strategies
check_fds
check_failfast
check_swarmlimit
check_key_everywhere

stop_all
test_end
