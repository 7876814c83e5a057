#!/usr/bin/env python3
"""gen_exec.py -- generates the execution benchmark's inputs: one graph of
steps written as a POML workflow, a Makefile and a build.ninja, with the
same steps and the same edges.

  gen_exec.py SHAPE N PREFIX

writes PREFIX.poml, and for the process shapes PREFIX.mk and PREFIX.ninja.

Process shapes (every step runs `true`):
  independent  N steps, no edges
  chain        N steps, each depends on the one before
  layered      N = W*W steps in W layers of W; step j of a layer depends on
               steps j and j+1 of the layer before, and on j+W/2 too when
               j is even (indices mod W): 2.5 edges a step on average
In-process shapes (pomlrun only; nothing is spawned):
  gate-chain   N gates, each depends on the one before
  gate-fan     a gate, N-2 gates that depend on it, a gate that joins them
  agg-fan      a gate and N-1 aggregators (strategy concat) that depend on it

The Makefile's targets are phony and their recipe is `@true`, which make
runs without a shell.  The ninja rule is `command = true` (ninja runs it
through /bin/sh -c); no command creates its output, so every run of ninja
is a full build."""
import math
import sys


def edges(shape, n):
    """Yields (step, [dependencies]) for a shape of n steps."""
    if shape == "independent":
        for i in range(n):
            yield i, []
    elif shape in ("chain", "gate-chain"):
        for i in range(n):
            yield i, [i - 1] if i else []
    elif shape == "layered":
        w = math.isqrt(n)
        if w * w != n:
            sys.exit("gen_exec.py: layered needs a square number of steps")
        for layer in range(w):
            for j in range(w):
                deps = []
                if layer:
                    prev = (layer - 1) * w
                    ks = {j, (j + 1) % w}
                    if j % 2 == 0:
                        ks.add((j + w // 2) % w)
                    deps = [prev + k for k in sorted(ks)]
                yield layer * w + j, deps
    elif shape == "gate-fan":
        yield 0, []
        for i in range(1, n - 1):
            yield i, [0]
        yield n - 1, list(range(1, n - 1))
    elif shape == "agg-fan":
        yield 0, []
        for i in range(1, n):
            yield i, [0]
    else:
        sys.exit("gen_exec.py: unknown shape " + shape)


def write_poml(path, shape, n, graph):
    with open(path, "w") as f:
        f.write("workflow_id: %s\n" % shape.replace("-", "_"))
        f.write("description: generated, %s, %d steps\n" % (shape, n))
        f.write("steps:\n")
        for i, deps in graph:
            f.write("  - id: s%d\n" % i)
            if deps:
                f.write("    depends_on: [%s]\n"
                        % ", ".join("s%d" % d for d in deps))
            if shape.startswith("gate") or (shape == "agg-fan" and i == 0):
                f.write("    type: gate\n")
            elif shape == "agg-fan":
                f.write("    strategy: concat\n")
            else:
                f.write("    run: \"true\"\n")


def write_make(path, graph):
    with open(path, "w") as f:
        names = ["s%d" % i for i, _ in graph]
        f.write("all:")
        for i, deps in graph:
            f.write(" s%d" % i)
        f.write("\n.PHONY: all %s\n" % " ".join(names))
        for i, deps in graph:
            f.write("s%d:%s\n\t@true\n"
                    % (i, "".join(" s%d" % d for d in deps)))


def write_ninja(path, graph):
    with open(path, "w") as f:
        f.write("rule t\n  command = true\n")
        for i, deps in graph:
            f.write("build s%d: t%s\n"
                    % (i, (" | " + " ".join("s%d" % d for d in deps))
                       if deps else ""))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen_exec.py SHAPE N PREFIX")
    shape, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    graph = list(edges(shape, n))
    write_poml(prefix + ".poml", shape, n, graph)
    if shape in ("independent", "chain", "layered"):
        write_make(prefix + ".mk", graph)
        write_ninja(prefix + ".ninja", graph)


main()
