#!/usr/bin/env python3
"""server.py -- a loopback stand-in for the OpenAI and Anthropic HTTP APIs.

Tests start it, point the client at it, and stop it.  Python 3 standard
library only.

    python3 tests/llm/server.py --port 0 --port-file FILE [--log FILE]
                                [--key KEY] [--verbose]

It binds 127.0.0.1 only (port 0: the kernel picks one), writes the port to
FILE once it is listening (written to FILE.tmp, then renamed: a reader
never sees half a number), and serves until SIGTERM or SIGINT, then exits
with status 0.  Connections still open (streams, hung requests) do not
delay the exit.

Routes
------
POST /v1/chat/completions, POST /chat/completions
    OpenAI chat completions.  Authorization: Bearer KEY.  Wrong or missing
    key: 401 {"error": {"message", "type": "invalid_request_error",
    "param": null, "code": "invalid_api_key" | null}}.
POST /v1/messages
    Anthropic messages.  x-api-key: KEY (else 401 {"type": "error",
    "error": {"type": "authentication_error", ...}, "request_id"}); an
    anthropic-version header is required (else 400 invalid_request_error,
    as the real API answers).
GET /stats
    JSON counters: requests by path, provider, model, fault token and
    status; attempts per fault scenario; requests in flight and the peak.
POST /stats/reset
    Zeroes the counters and the scenario attempts.
Anything else: 404 (405 for a GET on an API route), in the error shape of
the provider the path belongs to.

Bodies are checked as the real APIs check them: invalid JSON, a missing
model or messages (and max_tokens for Anthropic), a "system" role inside
Anthropic messages, stream_options without stream: 400.

Replies (deterministic)
-----------------------
* Text: "echo: " + the text of the last user message.  When the last
  message is a tool result (OpenAI role "tool"; Anthropic user message
  with tool_result blocks): "tool result: " + its text.
* Usage: one token per whitespace-separated word.  Prompt tokens: the
  words of the system prompt and of every message (text, tool results,
  tool-call arguments), at least 1.  Completion tokens: the words of the
  reply text, plus, per tool call, 1 + the words of its arguments.
* max_tokens / max_completion_tokens below the completion size: the text
  is cut to that many words; finish_reason "length" / stop_reason
  "max_tokens".  stop / stop_sequences: the text is cut before the first
  one found (Anthropic: stop_reason "stop_sequence").
* Structured output: OpenAI response_format {"type": "json_schema",
  "json_schema": {"schema": S}}, Anthropic output_format {"type":
  "json_schema", "schema": S} or output_config {"format": {...}}: the
  reply text is JSON, a small instance of S built from it (every property
  -- below three levels only the required ones --, enum[0] / const /
  default when given, bounds and minItems honoured, one array item where
  none is required -- none below three levels --, $ref, anyOf / oneOf /
  allOf).  response_format {"type": "json_object"}:
  {"echo": <last user text>}.
* Tools: when tools are defined and the last message is not a tool
  result, the server calls every defined tool whose name occurs in the
  last user text (only the first with parallel_tool_calls false or
  disable_parallel_tool_use), or the tool tool_choice names, or the first
  tool for tool_choice "required" / "any", or the tool of the `tool`
  fault token.  tool_choice "none" calls nothing.  Arguments: an instance
  of the tool's parameters / input_schema, as for structured output.
  OpenAI: content null, tool_calls, finish_reason "tool_calls".
  Anthropic: a text block "calling NAME", then tool_use blocks,
  stop_reason "tool_use".
* Non-streamed replies carry Content-Length; connections are HTTP/1.1
  keep-alive.
* Streams ("stream": true) use Transfer-Encoding: chunked, one HTTP chunk
  per write.  OpenAI: data: {chat.completion.chunk} events (a role chunk,
  the text a word at a time or tool-call deltas -- index, id, type and
  name first, then the arguments in pieces of a few characters --, a chunk
  with finish_reason, with stream_options.include_usage a chunk with empty
  choices and the usage, other chunks then carry "usage": null), then
  data: [DONE].  Chunks carry an "obfuscation" field unless
  stream_options.include_obfuscation is false.  Anthropic: event: /
  data: pairs message_start, per block content_block_start,
  content_block_delta (text_delta / input_json_delta),
  content_block_stop, a ping after the first block start, message_delta
  (stop_reason, usage.output_tokens), message_stop.

Fault injection
---------------
One syntax, given in the request header X-Test-Fault, or in the model
name as "fault/SPEC" (for clients that cannot add headers), or both: the
header's tokens come after the model's and win.  The reply's "model" is
the model name as sent.

SPEC is a comma-separated list of tokens, NAME or NAME=VALUE, e.g.
    X-Test-Fault: 500x2,id=retry-a
    "model": "fault/429,retry-after-ms=50"
Authentication comes first (a wrong key gets its 401 whatever the fault,
and is not counted in any scenario), then the fault, then the checks of
the body.  hang and close win over a status; a status wins over the body
and stream tokens, except html.

Status tokens:
  NNN            answer HTTP status NNN (400-599) with the provider's error
                 body (OpenAI {"error": {...}}, Anthropic {"type": "error",
                 ...}): 400 invalid request, 401, 403, 404, 408, 409, 413,
                 422, 429 rate limit, 500, 502, 503, 504, 529 overloaded...
  NNNxK          the same, for the first K requests of the scenario only:
                 "500x2" fails twice, the third attempt succeeds.
  times=K        the whole SPEC applies to the first K requests of the
                 scenario; later ones are served as if no fault was given.
  id=NAME        scenario name for the counting; the default scenario is
                 the whole SPEC text, so give distinct ids to tests that run
                 at the same time.
  retry-after=S  Retry-After: S on an error reply ("none": no header).  429,
                 503 and 529 send "retry-after: 1" unless told otherwise.
  retry-after-ms=MS   retry-after-ms: MS (then no Retry-After unless
                 retry-after= is given too).
  should-retry=true|false   x-should-retry header (the SDKs honour it).
  quota          with 429: OpenAI "insufficient_quota" (must not be
                 retried).
  echo-key       with a status: the error message quotes the key as
                 received, "Invalid key: Bearer KEY" (clients must not
                 show it).
Connection tokens:
  hang           read the request, never answer; the handler returns when
                 the client closes the connection or the server stops.
  close          close the connection without any reply (empty reply).
  reset          send the status line, headers and part of the body (a few
                 events of a stream), then reset the connection (RST).
Body tokens:
  malformed      200, application/json, the reply JSON cut in half (streams:
                 one event's JSON cut in half, the rest intact).
  html           a text/html page instead of JSON, status 200 or the NNN
                 given (a proxy's "502 Bad Gateway" page).
  badschema      structured output that does not match the schema (a
                 required property missing, another of the wrong type); with
                 no schema, text that is not JSON.
  tool[=NAME]    call tool NAME (default: the first defined tool).
  huge=MB        a 200 application/json reply of MB MiB (default 33), one
                 long unfinished text (clients must bound what they read).
  big-header=KB  a 200 reply whose X-Big header holds KB KiB (clients
                 must bound what they read and say so).
  nul            the reply text holds a NUL character ("a\u0000b", in
                 the JSON reply and in the stream's deltas).
  barrier=N      hold the request until N requests of its scenario have
                 arrived, then answer them all: a client that does not send
                 N at once waits forever (until its own timeout).
Stream tokens:
  cut            end the stream (cleanly, final HTTP chunk) halfway,
                 without [DONE] / message_stop.
  stream-error   halfway, an error event (OpenAI data: {"error": ...};
                 Anthropic event: error, overloaded_error), then the end.
  slow[=MS]      wait MS ms (default 200) between events; for a non-streamed
                 reply, wait MS ms before answering.
  split          write every event in several pieces, each flushed as its own
                 chunk, cut at awkward places: inside "data:" / "event:",
                 after the first newline, inside each multibyte UTF-8
                 character, halfway, between the two final newlines.
  split-ms=MS    pause between the pieces (default 5).
  coalesce       the whole stream in one write (clients must split events).
  comments       SSE comment lines (": keep-alive") between events.
  crlf           CRLF line ends in the SSE framing.
An unknown token, or a bad value, is answered 400 with a message that
names it.

Request log (--log FILE)
------------------------
One JSON object per line per request, written (and flushed) before the
reply: seq, time, method, path (with the query), provider, headers (names
in lower case; the values of Authorization, x-api-key and api-key
redacted to "[redacted sha256:XXXXXXXXXXXX]", "Bearer [redacted ...]" for
Authorization: the first 12 hex digits of the SHA-256 of the secret), auth
{"present", "ok", "fingerprint"}, body (the parsed JSON, else body_text),
body_bytes, model, stream, fault, scenario, attempt, action (reply,
error NNN, hang, close, reset, malformed, html, ...), status, and
key_in_body / key_in_query (whether the expected key occurs in the body or
the query string: it must only travel in its header).  Requests to /stats
and unknown routes are logged with seq, time, method, path and headers.
"""

import argparse
import collections
import hashlib
import http.server
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
import time

CREATED = 1700000000                    # fixed "created" of every reply
COMPACT = (",", ":")                    # JSON as the APIs write it
FINGERPRINT = "fp_poml_test"
MAX_BODY = 32 * 1024 * 1024             # the APIs' own request size limit


# ---------------------------------------------------------------- faults --

class FaultError(Exception):
    """A fault SPEC that cannot be parsed."""


class Fault:
    """A parsed fault SPEC: an optional status, a scenario and tokens."""

    BARE = {"hang", "close", "reset", "malformed", "html", "badschema",
            "cut", "stream-error", "split", "coalesce", "comments", "crlf",
            "quota", "slow", "tool", "echo-key", "nul"}
    VALUED = {"times", "id", "retry-after", "retry-after-ms", "should-retry",
              "slow", "split-ms", "tool", "barrier", "huge", "big-header"}

    def __init__(self, text):
        self.text = text                # the SPEC as given, "" when none
        self.status = None
        self.times = None
        self.opts = {}
        for tok in (t.strip() for t in text.split(",")):
            if not tok:
                continue
            m = re.fullmatch(r"([1-5]\d\d)(?:x(\d+))?", tok)
            if m:
                self.status = int(m.group(1))
                if m.group(2) is not None:
                    self.times = int(m.group(2))
                continue
            name, eq, value = tok.partition("=")
            if name not in self.BARE | self.VALUED:
                raise FaultError("unknown fault token '%s'" % tok)
            if eq and name not in self.VALUED:
                raise FaultError("fault token '%s' takes no value" % name)
            if not eq and name not in self.BARE:
                raise FaultError("fault token '%s' needs a value" % name)
            if name == "times":
                self.times = self._int(tok, value)
            elif eq and (name in ("retry-after-ms", "slow", "split-ms",
                                  "barrier", "huge", "big-header") or
                         name == "retry-after" and value != "none"):
                self._int(tok, value)
            self.opts[name] = value
        if self.status is not None and self.status < 400:
            raise FaultError("fault status %d is not an error" % self.status)

    @staticmethod
    def _int(tok, value):
        if not value.isdigit():
            raise FaultError("fault token '%s' needs a number" % tok)
        return int(value)

    def __bool__(self):
        return self.status is not None or bool(self.opts)

    def has(self, name):
        return name in self.opts

    def number(self, name, default):
        """The value of a numeric token, default when given bare."""
        value = self.opts.get(name, "")
        return int(value) if value else default

    def scenario(self):
        return self.opts.get("id") or self.text

    def tokens(self):
        """Names for the statistics: the status and the tokens used."""
        names = [str(self.status)] if self.status else []
        return names + [k for k in self.opts if k != "id"]


NO_FAULT = Fault("")


# ------------------------------------------------------ schema instances --

def resolve(schema, root):
    """Follow "$ref": "#/a/b" inside the root schema."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        ref = schema["$ref"]
        node = root
        if ref.startswith("#"):
            for part in ref[1:].split("/"):
                if not part:
                    continue
                part = part.replace("~1", "/").replace("~0", "~")
                node = node.get(part, {}) if isinstance(node, dict) else {}
        else:
            node = {}
        schema = node
        seen += 1
    return schema


def merge_all_of(schema, root):
    """One schema out of an allOf: properties and required united."""
    out = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = resolve(part, root)
        if not isinstance(part, dict):
            continue
        if "allOf" in part:
            part = merge_all_of(part, root)
        for key, value in part.items():
            if key == "properties":
                out.setdefault("properties", {}).update(value)
            elif key == "required":
                out["required"] = list(out.get("required", [])) + list(value)
            else:
                out.setdefault(key, value)
    return out


def schema_type(schema):
    t = schema.get("type")
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        return rest[0] if rest else "null"
    if t:
        return t
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def fake_string(schema, name, variant):
    formats = {"date-time": "2024-01-01T00:00:00Z", "date": "2024-01-01",
               "time": "00:00:00Z", "email": "user@example.com",
               "uri": "https://example.com/", "url": "https://example.com/",
               "uuid": "00000000-0000-4000-8000-000000000000",
               "ipv4": "127.0.0.1", "ipv6": "::1", "hostname": "example.com"}
    s = formats.get(schema.get("format"), name or "value")
    if variant:
        s += str(variant)
    lo, hi = schema.get("minLength", 0), schema.get("maxLength")
    if len(s) < lo:
        s += "x" * (lo - len(s))
    if hi is not None:
        s = s[:hi]
    return s


def fake_number(schema, integer, variant):
    v = 0
    if "minimum" in schema and v < schema["minimum"]:
        v = schema["minimum"]
    if "exclusiveMinimum" in schema and v <= schema["exclusiveMinimum"]:
        v = schema["exclusiveMinimum"] + 1
    v += variant
    if "maximum" in schema and v > schema["maximum"]:
        v = schema["maximum"]
    if "exclusiveMaximum" in schema and v >= schema["exclusiveMaximum"]:
        v = schema["exclusiveMaximum"] - 1
    step = schema.get("multipleOf")
    if step:
        v = -(-v // step) * step
    if integer:
        v = int(-(-v // 1))
    return v


def instance(schema, root, name="value", depth=0, variant=0):
    """A small JSON value that satisfies schema (the usual subset)."""
    schema = resolve(schema, root)
    if not isinstance(schema, dict) or depth > 16:
        return name
    if "allOf" in schema:
        schema = merge_all_of(schema, root)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][variant % len(schema["enum"])]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            branches = [resolve(b, root) for b in schema[key]]
            live = [b for b in branches
                    if not (isinstance(b, dict) and b.get("type") == "null")]
            return instance((live or branches)[0], root, name, depth, variant)
    t = schema_type(schema)
    deep = depth >= 3                   # recursive schemas must end
    if t == "object":
        out = {}
        required = schema.get("required") or []
        for key, sub in (schema.get("properties") or {}).items():
            if not deep or key in required:
                out[key] = instance(sub, root, key, depth + 1)
        for key in required:
            out.setdefault(key, key)
        return out
    if t == "array":
        count = max(schema.get("minItems", 0), 0 if deep else 1)
        if schema.get("maxItems") is not None:
            count = min(count, schema["maxItems"])
        prefix = schema.get("prefixItems") or []
        items = schema.get("items", {})
        out = [instance(prefix[i] if i < len(prefix) else items, root, name,
                        depth + 1, i) for i in range(count)]
        return out
    if t in ("integer", "number"):
        return fake_number(schema, t == "integer", variant)
    if t == "boolean":
        return True
    if t == "null":
        return None
    return fake_string(schema, name, variant)


def violation(schema, root):
    """Valid JSON that does not match schema."""
    top = resolve(schema, root)
    if isinstance(top, dict) and "allOf" in top:
        top = merge_all_of(top, root)
    value = instance(top, root)
    if isinstance(value, dict):
        before = dict(value)
        required = (top.get("required") if isinstance(top, dict) else None) \
            or list(value)
        if required:
            value.pop(required[0], None)
        for key, item in value.items():
            value[key] = 12345 if isinstance(item, str) else "wrong type"
            break
        if value != before:
            return value
        return ["not", "an", "object"]
    if isinstance(value, list):
        return {"not": "an array"}
    return ["wrong", "type"]


# --------------------------------------------------------------- replies --

def words(text):
    return len(text.split()) if text else 0


def text_of(content):
    """The text of a message content: a string or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    out = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
                elif part.get("type") == "tool_result":
                    out.append(text_of(part.get("content")))
                elif part.get("type") == "tool_use":
                    out.append(json.dumps(part.get("input", {})))
    return " ".join(t for t in out if t)


def cut_text(text, stops, max_tokens):
    """Apply stop sequences, then max_tokens: (text, why, stop sequence),
    why being None, "stop" or "length"."""
    met = [(text.find(s), s) for s in stops
           if isinstance(s, str) and s and s in text]
    if met:
        at, stop = min(met)
        return text[:at], "stop", stop
    if isinstance(max_tokens, int) and max_tokens >= 0 \
            and words(text) > max_tokens:
        pieces = re.findall(r"\s*\S+", text)[:max_tokens]
        return "".join(pieces), "length", None
    return text, None, None


class Reply:
    """What the model 'says', whatever the provider: text and tool calls."""

    def __init__(self):
        self.text = ""
        self.calls = []                 # (name, arguments as JSON text)
        self.finish = "stop"            # stop | length | tool_calls
        self.stop_sequence = None
        self.prompt_tokens = 1
        self.completion_tokens = 1
        self.json_mode = False


def choose_tools(defined, choice, last_text, fault, single):
    """The names of the tools to call (maybe none)."""
    if not defined or choice == "none" or \
            isinstance(choice, dict) and choice.get("type") == "none":
        return []
    if fault.has("tool"):
        return [fault.opts["tool"] or defined[0]]
    if isinstance(choice, dict):
        name = choice.get("name") or (choice.get("function") or {}).get("name")
        if name:
            return [name]
    called = [n for n in defined if n and n in last_text]
    if not called and (choice in ("required", "any") or
                       isinstance(choice, dict) and
                       choice.get("type") == "any"):
        called = defined[:1]
    return called[:1] if single else called


def build_reply(last_text, tool_result, prompt_words, schema, json_object,
                tools, choice, single, stops, max_tokens, fault, calling_text):
    """The provider-neutral reply to a request."""
    r = Reply()
    r.prompt_tokens = max(prompt_words, 1)
    names = [] if tool_result is not None else \
        choose_tools([n for n, _ in tools], choice, last_text, fault, single)
    if names:
        params = dict(tools)
        for name in names:
            args = params.get(name) or {"type": "object", "properties": {}}
            r.calls.append((name, json.dumps(instance(args, args),
                                             ensure_ascii=False)))
        r.finish = "tool_calls"
        r.text = calling_text(names)
    elif tool_result is not None:
        r.text = "tool result: " + tool_result
    elif schema is not None:
        r.json_mode = True
        value = violation(schema, schema) if fault.has("badschema") \
            else instance(schema, schema)
        r.text = json.dumps(value, ensure_ascii=False)
    elif json_object:
        r.json_mode = True
        r.text = "this is not JSON" if fault.has("badschema") \
            else json.dumps({"echo": last_text}, ensure_ascii=False)
    else:
        r.text = "echo: " + last_text
    if fault.has("nul"):
        r.text = "a\u0000b " + r.text
    if not names:
        r.text, why, r.stop_sequence = cut_text(r.text, stops, max_tokens)
        r.finish = "length" if why == "length" else "stop"
    r.completion_tokens = max(words(r.text) + sum(
        1 + words(args) for _, args in r.calls), 1)
    return r


def pieces_of(text, size=None):
    """Stream pieces of text: words with their spaces, or size characters."""
    if not text:
        return []
    if size:
        return [text[i:i + size] for i in range(0, len(text), size)]
    return re.findall(r"\S+\s*|\s+", text)


class RequestError(Exception):
    """A request body the real API would refuse: 400 with message."""


# ----------------------------------------------------------------- OpenAI --

class OpenAI:
    name = "openai"
    indent = 2

    ERRORS = {
        400: ("invalid_request_error", None, "Invalid request."),
        401: ("invalid_request_error", "invalid_api_key",
              "Incorrect API key provided."),
        403: ("invalid_request_error", "unsupported_country_region_territory",
              "Country, region, or territory not supported."),
        404: ("invalid_request_error", "model_not_found",
              "The model does not exist or you do not have access to it."),
        405: ("invalid_request_error", None, "Method not allowed."),
        408: ("invalid_request_error", "request_timeout",
              "Request timed out."),
        409: ("invalid_request_error", "conflict",
              "The request conflicts with another request."),
        413: ("invalid_request_error", "request_too_large",
              "Request too large."),
        422: ("invalid_request_error", None, "Unprocessable entity."),
        429: ("requests", "rate_limit_exceeded",
              "Rate limit reached for requests. Please try again later."),
        503: ("server_error", None,
              "The engine is currently overloaded, please try again later."),
    }
    SERVER = ("server_error", None, "The server had an error while "
              "processing your request. Sorry about that!")

    @classmethod
    def error_body(cls, status, message=None, code=None, fault=NO_FAULT,
                   seq=0):
        etype, ecode, text = cls.ERRORS.get(status, cls.SERVER if status >= 500
                                            else cls.ERRORS[400])
        if status == 429 and fault.has("quota"):
            etype = ecode = "insufficient_quota"
            text = "You exceeded your current quota, please check your plan " \
                "and billing details."
        return {"error": {"message": message or text, "type": etype,
                          "param": None, "code": code or ecode}}

    @staticmethod
    def check_auth(headers, key, seq=0):
        """None when allowed, else (status, body)."""
        value = headers.get("authorization")
        if not value:
            body = OpenAI.error_body(
                401, "You didn't provide an API key. You need to provide your "
                "API key in an Authorization header using Bearer auth (i.e. "
                "Authorization: Bearer YOUR_KEY).")
            body["error"]["code"] = None
            return 401, body
        scheme, _, given = value.partition(" ")
        if scheme.lower() != "bearer" or given.strip() != key:
            return 401, OpenAI.error_body(
                401, "Incorrect API key provided: %s." % mask(given.strip()))
        return None

    @staticmethod
    def validate(body):
        if not isinstance(body, dict):
            raise RequestError("We could not parse the JSON body of your "
                               "request.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise RequestError("you must provide a model parameter")
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise RequestError("Missing required parameter: 'messages'.")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in (
                    "system", "developer", "user", "assistant", "tool",
                    "function"):
                raise RequestError("Invalid value for 'messages[%d].role'."
                                   % i)
        if body.get("stream_options") is not None and not body.get("stream"):
            raise RequestError("The 'stream_options' parameter is only "
                               "allowed when 'stream' is enabled.")

    @staticmethod
    def reply(body, fault):
        msgs = body["messages"]
        prompt = sum(words(text_of(m.get("content"))) +
                     sum(words((c.get("function") or {}).get("arguments", ""))
                         for c in m.get("tool_calls") or [] if
                         isinstance(c, dict))
                     for m in msgs)
        last = msgs[-1]
        tool_result = text_of(last.get("content")) \
            if last.get("role") in ("tool", "function") else None
        users = [m for m in msgs if m.get("role") == "user"]
        last_text = text_of(users[-1].get("content")) if users else ""
        fmt = body.get("response_format") or {}
        schema = None
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
        tools = [((t.get("function") or {}).get("name"),
                  (t.get("function") or {}).get("parameters"))
                 for t in body.get("tools") or [] if isinstance(t, dict)]
        stops = body.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        return build_reply(
            last_text, tool_result, prompt, schema,
            isinstance(fmt, dict) and fmt.get("type") == "json_object",
            tools, body.get("tool_choice"),
            body.get("parallel_tool_calls") is False, stops, limit, fault,
            lambda names: None)

    @staticmethod
    def usage(r):
        return {"prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "total_tokens": r.prompt_tokens + r.completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0,
                                          "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0, "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0}}

    @staticmethod
    def call_id(seq, i):
        return "call_%06d_%d" % (seq, i)

    @classmethod
    def response(cls, body, r, seq):
        message = {"role": "assistant", "content": r.text if not r.calls
                   else None, "refusal": None, "annotations": []}
        if r.calls:
            message["tool_calls"] = [
                {"id": cls.call_id(seq, i), "type": "function",
                 "function": {"name": name, "arguments": args}}
                for i, (name, args) in enumerate(r.calls)]
        return {"id": "chatcmpl-%06d" % seq, "object": "chat.completion",
                "created": CREATED, "model": body["model"],
                "choices": [{"index": 0, "message": message,
                             "logprobs": None, "finish_reason": r.finish}],
                "usage": cls.usage(r), "service_tier": "default",
                "system_fingerprint": FINGERPRINT}

    @classmethod
    def events(cls, body, r, seq):
        """The stream: a list of (event name or None, data text)."""
        opts = body.get("stream_options") or {}
        with_usage = bool(opts.get("include_usage"))
        obfuscate = opts.get("include_obfuscation", True) is not False
        out = []

        def chunk(choices, **extra):
            c = {"id": "chatcmpl-%06d" % seq,
                 "object": "chat.completion.chunk", "created": CREATED,
                 "model": body["model"], "service_tier": "default",
                 "system_fingerprint": FINGERPRINT, "choices": choices}
            if with_usage:
                c["usage"] = None
            c.update(extra)
            if obfuscate:
                c["obfuscation"] = "x" * (1 + len(out) % 7)
            out.append((None, json.dumps(c, ensure_ascii=False,
                                         separators=COMPACT)))

        def delta(d, finish=None):
            chunk([{"index": 0, "delta": d, "logprobs": None,
                    "finish_reason": finish}])

        delta({"role": "assistant", "content": None if r.calls else "",
               "refusal": None})
        for i, (name, args) in enumerate(r.calls):
            delta({"tool_calls": [{"index": i, "id": cls.call_id(seq, i),
                                   "type": "function",
                                   "function": {"name": name,
                                                "arguments": ""}}]})
            for piece in pieces_of(args, 7):
                delta({"tool_calls": [{"index": i,
                                       "function": {"arguments": piece}}]})
        if not r.calls:
            for piece in pieces_of(r.text, 8 if r.json_mode else None):
                delta({"content": piece})
        delta({}, r.finish)
        if with_usage:
            chunk([], usage=cls.usage(r))
        out.append((None, "[DONE]"))
        return out

    @staticmethod
    def stream_error():
        return (None, json.dumps(OpenAI.error_body(500), separators=COMPACT))

    @staticmethod
    def headers(seq):
        return [("x-request-id", "req_%06d" % seq),
                ("openai-processing-ms", "1"),
                ("openai-version", "2020-10-01")]


# -------------------------------------------------------------- Anthropic --

class Anthropic:
    name = "anthropic"
    indent = None

    ERRORS = {400: "invalid_request_error", 401: "authentication_error",
              402: "billing_error", 403: "permission_error",
              404: "not_found_error", 413: "request_too_large",
              429: "rate_limit_error", 500: "api_error",
              504: "timeout_error", 529: "overloaded_error"}
    TEXTS = {401: "invalid x-api-key", 403: "Permission denied.",
             404: "Not found.", 405: "Method not allowed.",
             408: "Request timed out.",
             409: "The request conflicts with another request.",
             413: "Request exceeds the maximum allowed number of bytes.",
             429: "Number of requests has exceeded your rate limit.",
             500: "Internal server error", 529: "Overloaded"}

    @classmethod
    def error_body(cls, status, message=None, code=None, fault=NO_FAULT,
                   seq=0):
        etype = cls.ERRORS.get(status, "api_error" if status >= 500
                               else "invalid_request_error")
        return {"type": "error",
                "error": {"type": etype, "message": message or
                          cls.TEXTS.get(status, "Invalid request.")},
                "request_id": "req_%06d" % seq}

    @staticmethod
    def check_auth(headers, key, seq=0):
        """None when allowed, else (status, body)."""
        given = headers.get("x-api-key")
        if not given:
            return 401, Anthropic.error_body(
                401, "x-api-key header is required", seq=seq)
        if given != key:
            return 401, Anthropic.error_body(401, "invalid x-api-key",
                                             seq=seq)
        if not headers.get("anthropic-version"):
            return 400, Anthropic.error_body(
                400, "anthropic-version: header is required", seq=seq)
        return None

    @staticmethod
    def validate(body):
        if not isinstance(body, dict):
            raise RequestError("There was an issue with the format of your "
                               "request: the body is not valid JSON.")
        for field in ("model", "max_tokens", "messages"):
            if field not in body:
                raise RequestError("%s: Field required" % field)
        if not isinstance(body["model"], str) or not body["model"]:
            raise RequestError("model: Input should be a valid string")
        if not isinstance(body["max_tokens"], int) or \
                isinstance(body["max_tokens"], bool):
            raise RequestError("max_tokens: Input should be a valid integer")
        msgs = body["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise RequestError("messages: at least one message is required")
        for i, m in enumerate(msgs):
            role = m.get("role") if isinstance(m, dict) else None
            if role not in ("user", "assistant"):
                raise RequestError(
                    "messages.%d.role: Input should be 'user' or 'assistant'"
                    " (a system prompt goes in the top-level system "
                    "parameter)" % i)

    @staticmethod
    def reply(body, fault):
        msgs = body["messages"]
        prompt = words(text_of(body.get("system"))) + \
            sum(words(text_of(m.get("content"))) for m in msgs)
        last = msgs[-1]
        content = last.get("content")
        tool_result = None
        if last.get("role") == "user" and isinstance(content, list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result"
                for b in content):
            tool_result = " ".join(
                text_of(b.get("content")) for b in content
                if isinstance(b, dict) and b.get("type") == "tool_result")
        users = [m for m in msgs if m.get("role") == "user"]
        last_text = text_of(users[-1].get("content")) if users else ""
        fmt = body.get("output_format") or \
            (body.get("output_config") or {}).get("format") or {}
        schema = None
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            schema = fmt.get("schema") or {}
        tools = [(t.get("name"), t.get("input_schema"))
                 for t in body.get("tools") or [] if isinstance(t, dict)]
        choice = body.get("tool_choice")
        single = isinstance(choice, dict) and \
            bool(choice.get("disable_parallel_tool_use"))
        if isinstance(choice, dict) and choice.get("type") == "auto":
            choice = None
        return build_reply(
            last_text, tool_result, prompt, schema, False, tools, choice,
            single, body.get("stop_sequences") or [], body["max_tokens"],
            fault, lambda names: "calling " + ", ".join(names))

    @staticmethod
    def stop_reason(r):
        if r.calls:
            return "tool_use"
        if r.finish == "length":
            return "max_tokens"
        return "stop_sequence" if r.stop_sequence is not None else "end_turn"

    @staticmethod
    def tool_id(seq, i):
        return "toolu_%06d_%d" % (seq, i)

    @staticmethod
    def usage(r, output):
        return {"input_tokens": r.prompt_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": output,
                "service_tier": "standard"}

    @classmethod
    def blocks(cls, r, seq):
        out = [{"type": "text", "text": r.text}] if r.text or not r.calls \
            else []
        out += [{"type": "tool_use", "id": cls.tool_id(seq, i), "name": name,
                 "input": json.loads(args)}
                for i, (name, args) in enumerate(r.calls)]
        return out

    @classmethod
    def response(cls, body, r, seq):
        return {"id": "msg_%06d" % seq, "type": "message",
                "role": "assistant", "model": body["model"],
                "content": cls.blocks(r, seq),
                "stop_reason": cls.stop_reason(r),
                "stop_sequence": r.stop_sequence,
                "usage": cls.usage(r, r.completion_tokens)}

    @classmethod
    def events(cls, body, r, seq):
        out = []

        def event(name, data):
            data = dict({"type": name}, **data)
            out.append((name, json.dumps(data, ensure_ascii=False,
                                         separators=COMPACT)))

        event("message_start", {"message": {
            "id": "msg_%06d" % seq, "type": "message", "role": "assistant",
            "model": body["model"], "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": cls.usage(r, 1)}})
        blocks = cls.blocks(r, seq)
        first_tool = len(blocks) - len(r.calls)
        for i, block in enumerate(blocks):
            if block["type"] == "text":
                start = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": p} for p in
                          pieces_of(block["text"],
                                    8 if r.json_mode else None)]
            else:
                start = dict(block, input={})
                args = r.calls[i - first_tool][1]
                deltas = [{"type": "input_json_delta", "partial_json": p}
                          for p in [""] + pieces_of(args, 7)]
            event("content_block_start", {"index": i, "content_block": start})
            if i == 0:
                event("ping", {})
            for d in deltas:
                event("content_block_delta", {"index": i, "delta": d})
            event("content_block_stop", {"index": i})
        event("message_delta", {
            "delta": {"stop_reason": cls.stop_reason(r),
                      "stop_sequence": r.stop_sequence},
            "usage": {"output_tokens": r.completion_tokens}})
        event("message_stop", {})
        return out

    @staticmethod
    def stream_error():
        return ("error", json.dumps({"type": "error", "error": {
            "type": "overloaded_error", "message": "Overloaded"}},
            separators=COMPACT))

    @staticmethod
    def headers(seq):
        return [("request-id", "req_%06d" % seq)]


ROUTES = {"/v1/chat/completions": OpenAI, "/chat/completions": OpenAI,
          "/v1/messages": Anthropic}


def mask(key):
    return key[:3] + "***" + key[-4:] if len(key) > 8 else "***"


def fingerprint(value):
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")) \
        .hexdigest()[:12]


# ------------------------------------------------------------ SSE output --

def frame(event, crlf):
    """One SSE event as bytes."""
    name, data = event
    nl = "\r\n" if crlf else "\n"
    text = ("event: %s%s" % (name, nl) if name else "") + \
        "data: %s%s%s" % (data, nl, nl)
    return text.encode("utf-8")


def awkward(b):
    """The pieces of one framed event, cut where a careless reader breaks."""
    cuts = {3}                                  # inside "data" / "event"
    first_nl = b.find(b"\n")
    if 0 < first_nl < len(b) - 2:
        cuts.add(first_nl + 1)                  # after the first line
    multibyte = [i for i, c in enumerate(b) if c >= 0xC0]
    for i in multibyte[:8]:
        cuts.add(i + 1)                         # inside a UTF-8 character
    for m in re.finditer(b"\r\n", b):
        cuts.add(m.start() + 1)                 # between CR and LF
    cuts.add(len(b) // 2)                       # inside the JSON
    cuts.add(len(b) - 1)                        # between the final newlines
    cuts = sorted(c for c in cuts if 0 < c < len(b))
    return [b[i:j] for i, j in zip([0] + cuts, cuts + [len(b)])]


# ---------------------------------------------------------------- server --

class State:
    """What the handler threads share."""

    def __init__(self, key, log_path, verbose):
        self.key = key
        self.verbose = verbose
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)   # for barrier=N
        self.stopping = threading.Event()
        self.log = open(log_path, "a", encoding="utf-8") if log_path \
            else None
        self.seq = 0
        self.reset()

    def reset(self):
        """Zero the counters; requests in flight stay counted in active."""
        with self.lock:
            self.stats = {name: collections.Counter() for name in (
                "by_path", "by_provider", "by_model", "by_fault",
                "by_status")}
            self.requests = 0
            self.attempts = collections.Counter()
            self.active = getattr(self, "active", 0)
            self.max_active = self.active

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def attempt(self, scenario):
        with self.lock:
            self.attempts[scenario] += 1
            self.arrived.notify_all()
            return self.attempts[scenario]

    def barrier(self, scenario, count):
        """Wait until count requests of scenario have arrived; False when
        the server stops first."""
        with self.lock:
            while self.attempts[scenario] < count:
                if self.stopping.is_set():
                    return False
                self.arrived.wait(0.2)
        return True

    def enter(self, path, provider, model, fault):
        with self.lock:
            self.requests += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.stats["by_path"][path] += 1
            self.stats["by_provider"][provider] += 1
            if model is not None:
                self.stats["by_model"][str(model)] += 1
            for tok in fault.tokens():
                self.stats["by_fault"][tok] += 1

    def leave(self, status):
        with self.lock:
            self.active -= 1
            self.stats["by_status"][str(status)] += 1

    def snapshot(self):
        with self.lock:
            out = {name: dict(c) for name, c in self.stats.items()}
            out.update(requests=self.requests, active=self.active,
                       max_active=self.max_active,
                       scenarios=dict(self.attempts))
            return out

    def record(self, entry):
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        with self.lock:
            if self.log is not None:
                self.log.write(line + "\n")
                self.log.flush()


class Decision:
    """What a request gets: action (reply, error NNN, hang, close, reset,
    malformed, html, cut, stream-error), status, an error payload or the
    reply, the fault in force, and the scenario attempt it was."""

    def __init__(self):
        self.action = "reply"
        self.status = None
        self.payload = None
        self.reply = None
        self.fault = NO_FAULT
        self.scenario = None
        self.attempt = None

    def error(self, status, payload):
        self.action, self.status, self.payload = \
            "error %d" % status, status, payload


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True               # open connections never delay exit
    block_on_close = False
    request_queue_size = 256            # listen backlog: many at once
    allow_reuse_address = True

    def __init__(self, port, state):
        self.state = state
        super().__init__(("127.0.0.1", port), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive, chunked streams
    server_version = "poml-test-llm/1"
    timeout = 300                       # an idle keep-alive connection ends

    # ---- plumbing --

    def log_message(self, fmt, *args):
        if self.server.state.verbose:
            sys.stderr.write("server.py: %s\n" % (fmt % args))

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read_body(self):
        """The request body (Content-Length or chunked), or None when too
        large or unreadable."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    return None
        length = int(self.headers.get("Content-Length") or 0)  # ValueError
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def send_bytes(self, status, body, ctype="application/json",
                   extra=()):
        """A whole reply with Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj, extra=(), indent=None):
        self.send_bytes(status, json.dumps(
            obj, ensure_ascii=False, indent=indent,
            separators=None if indent else COMPACT).encode("utf-8"),
            extra=extra)

    def write_chunk(self, data):
        if self.chunked:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self.wfile.write(data)

    def end_chunks(self):
        if self.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def abort(self):
        """Reset the connection: SO_LINGER 0, then close (RST, not FIN)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.rfile.close()          # drop makefile's hold on the socket
            self.connection.close()
        except OSError:
            pass

    def hang(self):
        """Answer nothing; return when the client hangs up or we stop."""
        self.close_connection = True
        conn = self.connection
        while not self.server.state.stopping.is_set():
            try:
                ready, _, _ = select.select([conn], [], [], 0.2)
                if ready and not conn.recv(65536):
                    return
            except (OSError, ValueError):
                return

    def pause(self, ms):
        """Sleep ms milliseconds; False when the server is stopping."""
        return not self.server.state.stopping.wait(ms / 1000.0)

    # ---- routes --

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/stats":
            self.record_plain("GET", path)
            self.send_json(200, self.server.state.snapshot())
        else:
            self.not_found("GET", path)

    def do_POST(self):
        path = self.path.split("?")[0]
        if path == "/stats/reset":
            self.record_plain("POST", path)
            self.read_body()
            self.server.state.reset()
            self.send_json(200, {"reset": True})
            return
        provider = ROUTES.get(path)
        if provider is None:
            self.read_body()
            self.not_found("POST", path)
            return
        try:
            self.api(provider, path)
        except OSError:                 # the client went away (or timed out)
            self.close_connection = True

    def record_plain(self, method, path):
        state = self.server.state
        state.record({"seq": state.next_seq(), "time": time.time(),
                      "method": method, "path": self.path,
                      "headers": self.redacted_headers()})

    def not_found(self, method, path):
        self.record_plain(method, path)
        provider = Anthropic if path.startswith("/v1/messages") else OpenAI
        status = 405 if path in ROUTES else 404
        body = provider.error_body(status, "%s %s: %s" % (
            method, path, "method not allowed" if status == 405
            else "no such route"))
        self.send_json(status, body)

    def redacted_headers(self):
        out = {}
        for name, value in self.headers.items():
            name = name.lower()
            if name in ("authorization", "x-api-key", "api-key",
                        "proxy-authorization"):
                scheme, sep, rest = value.partition(" ")
                if name.endswith("authorization") and sep:
                    value = "%s [redacted %s]" % (scheme, fingerprint(rest))
                else:
                    value = "[redacted %s]" % fingerprint(value)
            out[name] = out[name] + ", " + value if name in out else value
        return out

    def api(self, provider, path):
        """One API request: read it, decide, record, then answer."""
        state = self.server.state
        seq = state.next_seq()
        try:
            raw = self.read_body()
        except ValueError:
            self.close_connection = True
            self.send_json(400, provider.error_body(
                400, "unreadable request body framing", seq=seq))
            return
        if raw is None:
            self.close_connection = True
            self.send_json(413, provider.error_body(413, seq=seq))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            body = None
        model = body.get("model") if isinstance(body, dict) else None
        stream = bool(body.get("stream")) if isinstance(body, dict) else False

        # the fault: the model's tokens, then the header's
        spec = []
        if isinstance(model, str) and model.startswith("fault/"):
            spec.append(model[len("fault/"):])
        if headers.get("x-test-fault"):
            spec.append(headers["x-test-fault"])
        spec_error = None
        try:
            fault = Fault(",".join(spec))
        except FaultError as e:
            fault, spec_error = NO_FAULT, str(e)

        # in flight from here (before a barrier can count this request)
        state.enter(path, provider.name, model, fault)
        outcome = "aborted"
        try:
            d = self.decide(provider, seq, headers, body, fault, spec_error)
            query = self.path.partition("?")[2]
            state.record({
                "seq": seq, "time": time.time(), "method": "POST",
                "path": self.path, "provider": provider.name,
                "headers": self.redacted_headers(),
                "auth": self.auth_summary(provider, headers),
                "body": body, "body_text": None if body is not None
                else raw[:65536].decode("utf-8", "replace"),
                "body_bytes": len(raw), "model": model, "stream": stream,
                "fault": ",".join(spec) or None, "scenario": d.scenario,
                "attempt": d.attempt, "action": d.action,
                "status": d.status,
                "key_in_body": state.key.encode() in raw,
                "key_in_query": state.key in query})
            outcome = d.status if d.status is not None else d.action
            self.act(provider, d, body, seq, stream)
        finally:
            state.leave(outcome)

    def decide(self, provider, seq, headers, body, fault, spec_error):
        """What to answer: a Decision."""
        d = Decision()
        denied = provider.check_auth(headers, self.server.state.key, seq)
        if fault and not denied:
            d.scenario = fault.scenario()
            d.attempt = self.server.state.attempt(d.scenario)
            if fault.times is not None and d.attempt > fault.times:
                fault = NO_FAULT        # its failures are used up
        d.fault = fault
        if spec_error:
            d.error(400, provider.error_body(
                400, "X-Test-Fault: " + spec_error, seq=seq))
        elif denied:
            d.error(*denied)
        elif fault.has("hang") or fault.has("close"):
            d.action = "hang" if fault.has("hang") else "close"
        elif fault.status and not fault.has("html"):
            message = None
            if fault.has("echo-key"):   # as servers that quote the key
                given = headers.get("authorization") or \
                    "Bearer " + headers.get("x-api-key", "")
                message = "Invalid key: " + given
            d.error(fault.status, provider.error_body(
                fault.status, message, fault=fault, seq=seq))
        else:
            try:
                provider.validate(body)
                d.reply = provider.reply(body, fault)
                d.status = fault.status or 200
                d.action = next((t for t in ("html", "reset", "malformed",
                                             "cut", "stream-error")
                                 if fault.has(t)), "reply")
            except RequestError as e:
                d.error(400, provider.error_body(400, str(e), seq=seq))
        return d

    def auth_summary(self, provider, headers):
        if provider is OpenAI:
            value = headers.get("authorization", "")
            given = value.partition(" ")[2].strip()
        else:
            given = headers.get("x-api-key", "")
        return {"present": bool(given), "ok": given == self.server.state.key,
                "fingerprint": fingerprint(given) if given else None}

    def error_headers(self, status, fault):
        """Retry-After and friends for an error reply."""
        out = []
        after = fault.opts.get("retry-after")
        after_ms = fault.opts.get("retry-after-ms")
        if after is None and after_ms is None and status in (429, 503, 529):
            after = "1"
        if after not in (None, "none"):
            out.append(("retry-after", after))
        if after_ms is not None:
            out.append(("retry-after-ms", after_ms))
        if fault.has("should-retry"):
            out.append(("x-should-retry", fault.opts["should-retry"]))
        return out

    def act(self, provider, d, body, seq, stream):
        """Answer as decided, with the connection and body faults."""
        action, status, reply, fault = d.action, d.status, d.reply, d.fault
        extra = provider.headers(seq)
        if fault.has("barrier") and not self.server.state.barrier(
                fault.scenario(), fault.number("barrier", 0)):
            self.abort()
            return
        if action == "hang":
            self.hang()
            return
        if action == "close":
            self.close_connection = True
            return
        if d.payload is not None:           # an error reply
            self.send_json(status, d.payload,
                           extra + self.error_headers(status, fault))
            return
        if fault.has("slow") and not stream:
            if not self.pause(fault.number("slow", 200)):
                self.abort()
                return
        if action == "html":
            self.send_html(status, extra)
            return
        if fault.has("big-header"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Big", "x" * (fault.number("big-header", 200)
                                             << 10))
            self.send_header("Content-Length", "2")
            self.end_headers()
            try:
                self.wfile.write(b"{}")
            except OSError:
                self.close_connection = True
            return
        if fault.has("huge"):
            # MiB of JSON reply body, its text one long line
            size = fault.number("huge", 33) << 20
            head = b'{"choices":[{"message":{"content":"'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            try:
                self.wfile.write(head)
                left, block = size - len(head), b"x" * 65536
                while left > 0:
                    self.wfile.write(block[:left])
                    left -= len(block)
            except OSError:
                self.close_connection = True
            return
        if stream:
            self.send_stream(provider, body, reply, fault, seq, extra)
            return
        # OpenAI indents its replies, Anthropic does not
        data = json.dumps(provider.response(body, reply, seq),
                          ensure_ascii=False, indent=provider.indent,
                          separators=None if provider.indent else COMPACT
                          ).encode("utf-8")
        if action == "malformed":
            data = data[:len(data) // 2]
        if action == "reset":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.abort()
            return
        self.send_bytes(200, data, extra=extra)

    def send_html(self, status, extra):
        title = "%d %s" % (status, self.responses.get(status, ("",))[0])
        page = ("<!DOCTYPE html>\n<html><head><title>%s</title></head>\n"
                "<body><center><h1>%s</h1></center><hr>"
                "<center>nginx</center></body></html>\n" % (title, title))
        self.send_bytes(status, page.encode(), "text/html; charset=utf-8",
                        extra)

    def send_stream(self, provider, body, reply, fault, seq, extra):
        """SSE over chunked transfer encoding, with the stream faults."""
        events = provider.events(body, reply, seq)
        halfway = min(max(2, len(events) // 2), len(events) - 1)
        crlf = fault.has("crlf")
        self.chunked = self.request_version != "HTTP/1.0"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()

        out = []                        # framed writes, in order
        for i, event in enumerate(events):
            if i == halfway:
                if fault.has("cut"):
                    break
                if fault.has("reset"):
                    out.append(None)    # where the connection is reset
                    break
                if fault.has("stream-error"):
                    out.append(frame(provider.stream_error(), crlf))
                    break
                if fault.has("malformed"):
                    name, data = event
                    event = (name, data[:len(data) // 2])
            if fault.has("comments") and i % 2 == 0:
                out.append((": keep-alive\r\n\r\n" if crlf
                            else ": keep-alive\n\n").encode())
            out.append(frame(event, crlf))

        if fault.has("coalesce"):
            tail = [None] if out and out[-1] is None else []
            out = [b"".join(w for w in out if w is not None)] + tail
        delay = fault.number("slow", 200) if fault.has("slow") else 0
        gap = fault.number("split-ms", 5)
        for i, data in enumerate(out):
            if data is None:
                self.abort()
                return
            if delay and i and not self.pause(delay):
                self.abort()
                return
            for j, piece in enumerate(awkward(data) if fault.has("split")
                                      else [data]):
                if j and gap and not self.pause(gap):
                    self.abort()
                    return
                self.write_chunk(piece)
        self.end_chunks()
        if not self.chunked:
            self.close_connection = True


def main():
    ap = argparse.ArgumentParser(
        description="Loopback OpenAI / Anthropic test server (see the "
        "header of this file for routes and faults).")
    ap.add_argument("--port", type=int, default=0,
                    help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--log", help="append one JSON line per request here")
    ap.add_argument("--key", default="test-key",
                    help="the API key clients must send (default test-key)")
    ap.add_argument("--verbose", action="store_true",
                    help="one line per request on standard error")
    args = ap.parse_args()

    state = State(args.key, args.log, args.verbose)
    try:
        server = Server(args.port, state)
    except OSError as e:
        sys.stderr.write("server.py: cannot listen on 127.0.0.1:%d: %s\n"
                         % (args.port, e))
        return 1

    stop = threading.Event()

    def on_signal(signum, frame_):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    if args.verbose:
        sys.stderr.write("server.py: listening on 127.0.0.1:%d\n" % port)

    while not stop.wait(0.5):
        pass
    state.stopping.set()                # hung and slow handlers return
    server.shutdown()
    server.server_close()
    if state.log:
        with state.lock:
            state.log.close()
            state.log = None
    return 0


if __name__ == "__main__":
    sys.exit(main())
