#!/usr/bin/env python3
"""server.py -- a small MCP server over stdio for pomlrun's tests

Speaks MCP 2025-11-25 over stdio, one JSON-RPC message a line, and
misbehaves on request.  Its tools (listed over two pages, to exercise the
cursor):
  echo {message}      the message as text
  add {a, b}          structuredContent {"sum": a+b} (has an outputSchema)
  badsum {a, b}       structuredContent that does not match its schema
  fail {}             isError: true with a text
  sleep {}            never answers (a step's timeout cancels it)
  die {}              exits in the middle of the call, with a note on stderr
  garbage {}          writes garbage lines, then the reply
  huge {}             replies with a 10 MB line
  unknown {}          a reply with an unknown id first, then the real one
  flood {n}           N ping requests to the client first, then the reply
  progress {}         two notifications/progress, then the reply
  roots {}            asks the client for roots/list; replies with what
                      the client answered
  input {}            (stateless only) a result asking for input
The first argument selects how the handshake goes: "ok" (default: 2025-11-25,
server/discover unknown), "version" (a revision the client cannot speak),
"crash" (exits at once), "stateless" (2026-07-28: server/discover answered,
initialize refused, every request must carry its _meta), "silent-discover"
(2025-11-25, server/discover never answered), "stubborn" (ignores SIGTERM
and the end of its input: only SIGKILL ends it).
With MCP_TEST_LOG set, every message received is appended to that file.
"""
import json
import os
import signal
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
log = os.environ.get("MCP_TEST_LOG")

TOOLS = [
    {"name": "echo", "inputSchema": {"type": "object", "properties": {
        "message": {"type": "string"}}, "required": ["message"]}},
    {"name": "add", "inputSchema": {"type": "object", "properties": {
        "a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"]},
     "outputSchema": {"type": "object", "properties": {
         "sum": {"type": "number"}}, "required": ["sum"]}},
    {"name": "badsum", "inputSchema": {"type": "object"},
     "outputSchema": {"type": "object", "properties": {
         "sum": {"type": "number"}}, "required": ["sum"]}},
    {"name": "fail", "inputSchema": {"type": "object"}},
    {"name": "sleep", "inputSchema": {"type": "object"}},
    {"name": "die", "inputSchema": {"type": "object"}},
    {"name": "garbage", "inputSchema": {"type": "object"}},
    {"name": "huge", "inputSchema": {"type": "object"}},
    {"name": "unknown", "inputSchema": {"type": "object"}},
    {"name": "flood", "inputSchema": {"type": "object"}},
    {"name": "progress", "inputSchema": {"type": "object"}},
    {"name": "roots", "inputSchema": {"type": "object"}},
    {"name": "input", "inputSchema": {"type": "object"}},
]


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def text(s, error=False):
    r = {"content": [{"type": "text", "text": s}]}
    if error:
        r["isError"] = True
    return r


backlog = []


def read(queue=False):
    """The next message; with QUEUE, requests and notifications are kept
    for the main loop and only responses are returned."""
    while True:
        m = read_one()
        if queue and "method" in m:
            backlog.append(m)
            continue
        return m


def read_one():
    line = sys.stdin.readline()
    if not line:
        if mode == "stubborn":
            while True:
                time.sleep(60)
        sys.exit(0)
    if log:
        with open(log, "a") as f:
            f.write(line)
    return json.loads(line)


def call(msg):
    p = msg.get("params", {})
    name, args = p.get("name"), p.get("arguments", {})
    rid = msg["id"]
    if name == "echo":
        return text(args["message"])
    if name == "add":
        s = args["a"] + args["b"]
        return {"content": [{"type": "text", "text": json.dumps({"sum": s})}],
                "structuredContent": {"sum": s}}
    if name == "badsum":
        return {"content": [], "structuredContent": {"sum": "many"}}
    if name == "fail":
        return text("the disk is full", error=True)
    if name == "sleep":
        return None
    if name == "die":
        sys.stderr.write("server.py: dying as asked\n")
        sys.stderr.flush()
        os._exit(3)
    if name == "garbage":
        sys.stdout.write("this is not JSON\n{\"jsonrpc\": \"1.0\"}\n[1,2]\n")
        sys.stdout.write("\n{\"no\": \"jsonrpc\"}\n")
        return text("after the garbage")
    if name == "huge":
        send({"jsonrpc": "2.0", "id": rid,
              "result": text("x" * (10 << 20))})
        return None
    if name == "unknown":
        send({"jsonrpc": "2.0", "id": 987654, "result": text("stray")})
        send({"jsonrpc": "2.0", "id": "a string", "result": text("stray")})
        return text("the real reply")
    if name == "flood":
        n = int(args.get("n", 1000))
        for i in range(n):
            send({"jsonrpc": "2.0", "id": "ping%d" % i, "method": "ping"})
        got = 0
        while got < n:
            read(queue=True)
            got += 1
        return text("answered %d pings" % got)
    if name == "progress":
        tok = p.get("_meta", {}).get("progressToken")
        for k in (1, 2):
            send({"jsonrpc": "2.0", "method": "notifications/progress",
                  "params": {"progressToken": tok, "progress": k,
                             "total": 2, "message": "step %d" % k}})
        return text("done")
    if name == "input":
        return {"resultType": "input_required",
                "inputRequests": {"q": {"method": "roots/list"}},
                "requestState": "opaque"}
    if name == "roots":
        send({"jsonrpc": "2.0", "id": "r1", "method": "roots/list"})
        while True:
            m = read(queue=True)
            if m.get("id") == "r1":
                return text(json.dumps(m.get("error") or m.get("result")))
    return None


def main():
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "crash":
        sys.stderr.write("server.py: cannot start: no configuration\n")
        sys.exit(2)
    while True:
        msg = backlog.pop(0) if backlog else read()
        method = msg.get("method")
        if "id" not in msg:
            continue
        meta = msg.get("params", {}).get("_meta", {})
        if mode == "stateless" and method != "ping" and meta.get(
                "io.modelcontextprotocol/protocolVersion") != "2026-07-28":
            send({"jsonrpc": "2.0", "id": msg["id"], "error": {
                "code": -32602, "message": "no protocol version in _meta"}})
            continue
        if method == "server/discover" and mode == "stateless":
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {
                "resultType": "complete",
                "supportedVersions": ["2026-07-28"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "server.py", "version": "1"}}})
        elif method == "server/discover" and mode == "silent-discover":
            pass
        elif method == "initialize" and mode == "stateless":
            send({"jsonrpc": "2.0", "id": msg["id"], "error": {
                "code": -32601, "message": "initialize is gone"}})
        elif method == "initialize":
            v = "1999-01-01" if mode == "version" else \
                msg["params"]["protocolVersion"]
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {
                "protocolVersion": v, "capabilities": {"tools": {}},
                "serverInfo": {"name": "server.py", "version": "1"}}})
        elif method == "tools/list":
            cur = msg.get("params", {}).get("cursor")
            if cur is None:
                send({"jsonrpc": "2.0", "id": msg["id"], "result": {
                    "tools": TOOLS[:4], "nextCursor": "page 2"}})
            else:
                send({"jsonrpc": "2.0", "id": msg["id"], "result": {
                    "tools": TOOLS[4:]}})
        elif method == "tools/call":
            r = call(msg)
            if r is not None:
                send({"jsonrpc": "2.0", "id": msg["id"], "result": r})
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {}})
        else:
            send({"jsonrpc": "2.0", "id": msg["id"], "error": {
                "code": -32601, "message": "no method " + str(method)}})


main()
