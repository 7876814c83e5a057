#!/usr/bin/env python3
"""llm_client.py -- the LLM benchmark's reference client: what one would
write in Python with the standard library alone to make many chat
completion calls at once.

  llm_client.py [--jobs N] [--fault SPEC] PORT BODIES

Sends every line of BODIES (one JSON request body a line, as written by
bench/gen_llm.py) to POST http://127.0.0.1:PORT/v1/chat/completions, N at a
time (default 64): asyncio, N workers each with its own keep-alive
HTTP/1.1 connection (asyncio.open_connection, raw HTTP), taking the next
body when their reply is done.  The key is $POML_BENCH_KEY, sent as
"Authorization: Bearer"; the other headers are the ones pomlrun sends.
Bodies with "stream": true are answered with server-sent events over
chunked transfer encoding, decoded as they arrive (lines, data: fields,
events at a blank line, JSON per event, the text from the deltas, the
finish reason, the usage chunk, [DONE]); other bodies with one JSON reply.
--fault SPEC adds the test server's X-Test-Fault header.

A call succeeds when the status is 200 and the reply is complete: text,
a finish reason, and for a stream [DONE].  Prints "N of M succeeded" and
exits 0 when all did, else 1."""
import argparse
import asyncio
import json
import os
import sys

PATH = "/v1/chat/completions"


class Call:
    """The outcome of one request."""

    def __init__(self):
        self.text = []
        self.finish = None
        self.usage = None
        self.done = False
        self.error = None

    def ok(self, stream):
        return (self.error is None and bool(self.text)
                and self.finish is not None and (self.done or not stream))


class SSE:
    """An incremental server-sent events decoder for an OpenAI stream."""

    def __init__(self, call):
        self.call = call
        self.partial = b""
        self.data = []

    def feed(self, chunk):
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                self.dispatch()
            elif line.startswith(b"data:"):
                v = line[5:]
                self.data.append(v[1:] if v.startswith(b" ") else v)
            # comments (":") and other fields (event:, id:) carry nothing

    def dispatch(self):
        if not self.data:
            return
        data = b"\n".join(self.data)
        self.data = []
        call = self.call
        if data == b"[DONE]":
            call.done = True
            return
        ev = json.loads(data)
        if "error" in ev:
            call.error = ev["error"]
            return
        for choice in ev.get("choices") or ():
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                call.text.append(piece)
            if choice.get("finish_reason"):
                call.finish = choice["finish_reason"]
        if ev.get("usage"):
            call.usage = ev["usage"]


class Client:
    def __init__(self, port, key, fault, bodies):
        self.port = port
        self.bodies = bodies
        self.next = 0
        self.succeeded = 0
        self.failures = []
        extra = "X-Test-Fault: %s\r\n" % fault if fault else ""
        self.head = {}
        for accept in ("text/event-stream", "application/json"):
            self.head[accept] = (
                "POST %s HTTP/1.1\r\n"
                "Host: 127.0.0.1:%d\r\n"
                "Accept: %s\r\n"
                "Accept-Encoding: deflate, gzip, br, zstd\r\n"
                "Authorization: Bearer %s\r\n"
                "Content-Type: application/json\r\n"
                "%s"
                "Content-Length: " % (PATH, port, accept, key, extra)
            ).encode()

    async def worker(self):
        conn = None
        while self.next < len(self.bodies):
            body = self.bodies[self.next]
            self.next += 1
            stream = json.loads(body).get("stream") is True
            call = Call()
            try:
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1",
                                                         self.port)
                keep = await self.exchange(conn, body, stream, call)
            except (OSError, EOFError, ValueError, IndexError,
                    asyncio.IncompleteReadError) as e:
                call.error, keep = repr(e), False
            if call.ok(stream):
                self.succeeded += 1
            else:
                self.failures.append(call.error or "incomplete reply")
            if not keep and conn is not None:
                conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    async def exchange(self, conn, body, stream, call):
        """One request and its reply; whether the connection stays open."""
        reader, writer = conn
        accept = "text/event-stream" if stream else "application/json"
        writer.write(self.head[accept] + b"%d\r\n\r\n" % len(body) + body)
        await writer.drain()
        status = int((await reader.readline()).split(None, 2)[1])
        headers = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise EOFError("connection closed in the headers")
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        keep = headers.get(b"connection") != b"close"
        if headers.get(b"transfer-encoding") == b"chunked":
            sse = SSE(call) if status == 200 and stream else None
            data = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n"):
                        pass
                    break
                chunk = (await reader.readexactly(size + 2))[:-2]
                if sse:
                    sse.feed(chunk)
                else:
                    data.append(chunk)
            if sse:
                sse.feed(b"\n\n")
                raw = None
            else:
                raw = b"".join(data)
        else:
            n = int(headers.get(b"content-length", b"0"))
            raw = await reader.readexactly(n)
        if status != 200:
            call.error = "HTTP %d: %s" % (status, (raw or b"")[:200])
        elif raw is not None:
            reply = json.loads(raw)
            for choice in reply.get("choices") or ():
                call.text.append(
                    (choice.get("message") or {}).get("content") or "")
                call.finish = choice.get("finish_reason")
            call.usage = reply.get("usage")
        return keep

    async def run(self, jobs):
        await asyncio.gather(*(self.worker() for _ in range(jobs)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=64)
    ap.add_argument("--fault")
    ap.add_argument("port", type=int)
    ap.add_argument("bodies")
    a = ap.parse_args()
    with open(a.bodies, "rb") as f:
        bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    c = Client(a.port, os.environ.get("POML_BENCH_KEY", ""), a.fault,
               bodies)
    asyncio.run(c.run(min(a.jobs, len(bodies)) or 1))
    print("%d of %d succeeded" % (c.succeeded, len(bodies)))
    for f in c.failures[:5]:
        print("llm_client.py: %s" % f, file=sys.stderr)
    sys.exit(0 if c.succeeded == len(bodies) else 1)


if __name__ == "__main__":
    main()
