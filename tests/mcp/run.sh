#!/bin/sh
# run.sh -- tool steps against tests/mcp/server.py, a loopback MCP server
# that misbehaves on request
#
# Over stdio: a call, structured output checked against its outputSchema,
# arguments refused by the inputSchema before sending, isError as a failed
# attempt, a tool the server does not list, pagination of tools/list, a
# server request answered (ping flood) and one refused (roots/list),
# progress, garbage lines, replies with unknown ids, a 10 MB message, a
# silent tool whose step times out (notifications/cancelled sent), a
# server that exits during a call (and is started again for the next), a
# server that cannot start, one that speaks another revision; a 2026-07-28
# server (server/discover) and one that ignores the probe; retries and
# for_each as for any step; SIGTERM during a call (cancelled, exit 143); a
# server that ignores the end of its input and SIGTERM (SIGKILL after the
# grace); no server left behind.
LC_ALL=C
export LC_ALL
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POML_STDLIB:=$top_srcdir/stdlib}"
export POML_STDLIB
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
server=$top_srcdir/tests/mcp/server.py
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/mcp/lib.sh"
test_begin mcp
if ! command -v python3 > /dev/null 2>&1; then
    echo "SKIP: python3 is needed for the loopback MCP server"
    exit 77
fi
MCP_TEST_LOG=$tmp/received.log
export MCP_TEST_LOG

# ---- calls, schemas, errors, odd messages ----
S="[python3, \"$server\"]"
cat > "$tmp/calls.poml" <<EOF
workflow_id: calls
tools:
  echo: {command: $S}
  add: {command: $S}
  badsum: {command: $S}
  fail: {command: $S}
  sleep: {command: $S}
  garbage: {command: $S}
  unknown: {command: $S}
  flood: {command: $S}
  progress: {command: $S}
  roots: {command: $S}
  nosuch: {command: $S}
  plus: {command: $S, name: add}
steps:
  - {id: echo, tool: echo, inputs: {message: hi}}
  - {id: add, tool: add, inputs: {a: 2, b: 40}}
  - {id: plus, tool: plus, inputs: {a: 1, b: 1}}
  - {id: badargs, tool: add, inputs: {a: two, b: 40}}
  - {id: badsum, tool: badsum}
  - {id: fail, tool: fail, retry: {max_attempts: 2, initial_delay: 0.01s}}
  - {id: sleep, tool: sleep, timeout: 1s}
  - {id: garbage, tool: garbage}
  - {id: unknown, tool: unknown}
  - {id: flood, tool: flood, inputs: {n: 20000}}
  - {id: progress, tool: progress}
  - {id: roots, tool: roots}
  - {id: nosuch, tool: nosuch}
  - id: each
    for_each: '\${[1, 2, 3]}'
    tool: add
    inputs: {a: '\${item}', b: 10}
  - id: uses
    depends_on: [add, echo]
    run: echo "\${steps.echo.text} \${steps.add.json.sum}"
EOF
run_wf calls calls
expect calls calls <<'EOF'
echo succeeded
echo.text = "hi"
echo.is_error = false
echo.content = [{"type": "text", "text": "hi"}]
add succeeded
add.json = {"sum": 42}
plus.json = {"sum": 2}
badargs failed inputSchema: \$\.a: expected number, got string
badsum failed does not match its outputSchema: \$\.sum: expected number
fail failed failed: the disk is full
fail.is_error = true
fail.text = "the disk is full"
sleep failed timeout
garbage succeeded
garbage.text = "after the garbage"
unknown succeeded
unknown.text = "the real reply"
flood succeeded
flood.text = "answered 20000 pings"
progress succeeded
roots succeeded
roots.text ~ -32601.*roots/list
nosuch failed has no tool 'nosuch' \(it has: echo, add, badsum, fail, sleep,
uses succeeded
uses.stdout = "hi 42"
EOF
if python3 -c "$py_json"'
d = json.load(open(sys.argv[1]))
assert d["steps"]["fail"]["attempts"] == 2
e = d["steps"]["each"]
assert e["status"] == "succeeded", e
' "$tmp/calls.json" 2> "$tmp/py.err"; then pass; else
    fail "calls: attempts and for_each: $(tail -n 1 "$tmp/py.err")"; fi
for want in "not a JSON-RPC message (not JSON)" \
    "a batch" "replied to a request that is not pending" \
    "progress 1/2: step 1" "progress 2/2: step 2"; do
    if grep -F -q "$want" "$tmp/calls.err"; then pass; else
        fail "calls: stderr does not tell '$want'"; fi
done
# the timed-out call was cancelled, and the server heard of it
if grep -q '"notifications/cancelled".*"the step timed out"' \
    "$MCP_TEST_LOG"; then pass; else
    fail "calls: no notifications/cancelled reached the server"; fi
# one server for every tool of one command: one initialize
n=$(grep -c '"method":"initialize"' "$MCP_TEST_LOG")
if [ "$n" -eq 1 ]; then pass; else fail "calls: $n initializes, not 1"; fi
if grep -q '"method":"tools/list","params":{"cursor":"page 2"}' \
    "$MCP_TEST_LOG"; then pass; else
    fail "calls: the second page of tools/list was not asked for"; fi

# ---- servers that end badly ----
cat > "$tmp/ends.poml" <<EOF
workflow_id: ends
tools:
  die: {command: $S}
  echo: {command: $S}
  huge: {command: [python3, "$server", ok]}
  old: {command: [python3, "$server", version], name: echo}
  crash: {command: [python3, "$server", crash], name: echo}
  missing: {command: [/nonexistent/mcp-server]}
steps:
  - {id: die, tool: die}
  - {id: again, tool: echo, inputs: {message: again}, after: [die]}
  - {id: huge, tool: huge, timeout: 3s}
  - {id: old, tool: old, inputs: {message: x}}
  - id: crash
    tool: crash
    inputs: {message: x}
    retry: {max_attempts: 2, initial_delay: 0.01s}
  - {id: missing, tool: missing}
EOF
run_wf ends ends
expect ends ends <<'EOF'
die failed the server exited; its stderr: server.py: dying as asked \(exit status 3\)
again succeeded
again.text = "again"
huge failed timeout
old failed speaks MCP revision '1999-01-01', which pomlrun does not
crash failed cannot start: no configuration \(exit status 2\)
missing failed cannot start '/nonexistent/mcp-server'
EOF
for want in "wrote a message of 104858" "MCP server 'die' started again"; do
    if grep -F -q "$want" "$tmp/ends.err"; then pass; else
        fail "ends: stderr does not tell '$want'"; fi
done

# ---- server/discover: a 2026-07-28 server, and an older one that does
# not answer the probe ----
cat > "$tmp/discover.poml" <<EOF
workflow_id: discover
tools:
  st: {command: [python3, "$server", stateless]}
  old: {command: [python3, "$server", silent-discover]}
steps:
  - {id: add, tool: st.add, inputs: {a: 3, b: 4}}
  - {id: input, tool: st.input}
  - {id: old, tool: old.echo, inputs: {message: late}}
EOF
: > "$MCP_TEST_LOG"
run_wf discover discover
expect discover discover <<'EOF'
add succeeded
add.json = {"sum": 7}
input failed asked the client for input
old succeeded
old.text = "late"
EOF
n=$(grep -c '"method":"initialize"' "$MCP_TEST_LOG")
if [ "$n" -eq 1 ]; then pass; else
    fail "discover: $n initializes, not 1 (the older server's only)"; fi
if grep '"method":"tools/call"' "$MCP_TEST_LOG" | grep -q \
    '"io.modelcontextprotocol/protocolVersion":"2026-07-28"'; then pass; else
    fail "discover: no tools/call carried the revision in _meta"; fi

# ---- policy.allowed_tools, by tool and by server; SERVER.TOOL names ----
cat > "$tmp/policy.poml" <<EOF
workflow_id: policy
policy: {allowed_tools: [echo, srv]}
tools:
  echo: {command: $S}
  add: {command: $S}
  srv: {command: [python3, "$server", ok]}
steps:
  - {id: ok, tool: echo, inputs: {message: yes}}
  - {id: refused, tool: add, inputs: {a: 1, b: 2}}
  - {id: dotted, tool: srv.add, inputs: {a: 1, b: 2}}
EOF
if "$pomlc" -Wno-policy -o "$tmp/policy.plan" "$tmp/policy.poml" \
    > "$tmp/policy.err" 2>&1; then
    "$pomlrun" --json "$tmp/policy.plan" > "$tmp/policy.json" \
        2> "$tmp/policy.err"
    expect policy policy <<'EOF'
ok succeeded
refused failed policy: tool 'add' is not in the workflow's allowed_tools
dotted succeeded
dotted.json = {"sum": 3}
EOF
else
    fail "policy: pomlc: $(first "$tmp/policy.err")"
fi

# ---- the run stops during a call: the call is cancelled, the server
# stopped, pomlrun exits 143 ----
cat > "$tmp/stop.poml" <<EOF
workflow_id: stop
tools:
  sleep: {command: $S}
steps:
  - {id: sleep, tool: sleep}
EOF
: > "$MCP_TEST_LOG"
if "$pomlc" -o "$tmp/stop.plan" "$tmp/stop.poml" > "$tmp/stop.err" 2>&1; then
    "$pomlrun" "$tmp/stop.plan" > /dev/null 2> "$tmp/stop.err" &
    pid=$!
    k=0
    while ! grep -q '"tools/call"' "$MCP_TEST_LOG" && [ $k -lt 200 ]; do
        sleep 0.05
        k=$((k + 1))
    done
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    if [ "$rc" -eq 143 ]; then pass; else
        fail "stop: pomlrun exited $rc, not 143: $(first "$tmp/stop.err")"; fi
    if grep -q '"notifications/cancelled".*"the run stopped"' \
        "$MCP_TEST_LOG"; then pass; else
        fail "stop: no notifications/cancelled reached the server"; fi
else
    fail "stop: pomlc: $(first "$tmp/stop.err")"
fi

# ---- a server deaf to the end of its input and to SIGTERM ----
cat > "$tmp/stubborn.poml" <<EOF
workflow_id: stubborn
tools:
  echo: {command: [python3, "$server", stubborn]}
steps:
  - {id: echo, tool: echo, inputs: {message: bye}}
EOF
run_wf stubborn stubborn
expect stubborn stubborn <<'EOF'
echo succeeded
EOF
# closed input, then SIGTERM, are ignored: only SIGKILL ends it, and
# pomlrun does not exit while it runs
if pgrep -f "$server stubborn" > /dev/null 2>&1; then
    fail "stubborn: the server still runs after pomlrun exited"
else
    pass
fi

# ---- nothing left behind ----
if pgrep -f "$server" > /dev/null 2>&1; then
    fail "a server.py outlived its run: $(pgrep -af "$server" | head -n 1)"
else
    pass
fi
test_end
