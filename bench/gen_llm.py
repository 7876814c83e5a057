#!/usr/bin/env python3
"""gen_llm.py -- generates the LLM benchmark's inputs: a workflow of N LLM
calls to a model served by the loopback test server (tests/llm/server.py),
and the request bodies pomlrun sends for them, one JSON line each, for
bench/llm_client.py to send the same requests.

  gen_llm.py SHAPE N PORT PREFIX

SHAPE:
  for_each   one step with for_each over a parameter of N items
  steps      N independent steps, one call each
Both ask the same N questions ("Say item-0000 back." ...) of the model
"bench-model" (protocol openai, base_url http://127.0.0.1:PORT/v1, key in
$POML_BENCH_KEY).  Writes PREFIX.poml, PREFIX.stream.jsonl (the bodies
with streaming, pomlrun's default) and PREFIX.whole.jsonl (--no-stream).
The bodies are what the server logs pomlrun sending; run.sh checks that
on every run of the benchmark."""
import json
import sys

MODEL = "bench-model"
KEY_ENV = "POML_BENCH_KEY"
PROMPT = "Say %s back."
COMPACT = (",", ":")


def items(n):
    return ["item-%04d" % i for i in range(n)]


def body(item, stream):
    b = {"model": MODEL,
         "messages": [{"role": "user", "content": PROMPT % item}]}
    if stream:
        b["stream"] = True
        b["stream_options"] = {"include_usage": True}
    return json.dumps(b, separators=COMPACT)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("for_each", "steps"):
        sys.exit("usage: gen_llm.py for_each|steps N PORT PREFIX")
    shape, n, port, prefix = sys.argv[1], int(sys.argv[2]), \
        int(sys.argv[3]), sys.argv[4]
    its = items(n)
    out = ["workflow_id: llm_bench",
           "models:",
           "  %s:" % MODEL,
           "    protocol: openai",
           "    base_url: http://127.0.0.1:%d/v1" % port,
           "    api_key_env: %s" % KEY_ENV,
           "    id: %s" % MODEL]
    if shape == "for_each":
        out += ["parameters:",
                "  items:",
                "    type: array",
                "    default: [%s]" % ", ".join(its),
                "steps:",
                "  - id: ask",
                '    for_each: "${params.items}"',
                "    model: %s" % MODEL,
                '    prompt: "%s"' % (PROMPT % "${item}")]
    else:
        out.append("steps:")
        for i, it in enumerate(its):
            out += ["  - id: ask%d" % i,
                    "    model: %s" % MODEL,
                    '    prompt: "%s"' % (PROMPT % it)]
    with open(prefix + ".poml", "w") as f:
        f.write("\n".join(out) + "\n")
    for name, stream in (("stream", True), ("whole", False)):
        with open("%s.%s.jsonl" % (prefix, name), "w") as f:
            for it in its:
                f.write(body(it, stream) + "\n")


if __name__ == "__main__":
    main()
