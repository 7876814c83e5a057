#!/usr/bin/env python3
"""gen.py -- generates the benchmark inputs: a POML workflow of N steps and
an equivalent build.ninja (one no-op rule per step, the same edges)."""
import sys

def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen.py STEPS OUT.poml OUT.ninja")
    n, poml, ninja = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(poml, "w") as f:
        f.write("workflow_id: generated\n")
        f.write("description: a generated workflow of %d steps\n" % n)
        f.write("parameters:\n  label:\n    type: string\n"
                "    default: bench\n")
        f.write("steps:\n")
        for i in range(n):
            f.write("  - id: s%d\n" % i)
            deps = [d for d in (i - 1, i - 7, i // 2) if 0 <= d < i]
            deps = sorted(set(deps))
            if deps:
                f.write("    depends_on: [%s]\n"
                        % ", ".join("s%d" % d for d in deps))
            if i % 3 == 0 and i:
                f.write("    condition: \"${steps.s%d.exit_code == 0}\"\n"
                        % (i - 1))
            f.write("    run: echo \"${params.label} %d\"\n" % i)
            f.write("    timeout: 30s\n")
    with open(ninja, "w") as f:
        f.write("rule noop\n  command = true\n\n")
        for i in range(n):
            deps = [d for d in (i - 1, i - 7, i // 2) if 0 <= d < i]
            deps = sorted(set(deps))
            f.write("build s%d: noop%s\n"
                    % (i, (" | " + " ".join("s%d" % d for d in deps))
                       if deps else ""))
        f.write("default s%d\n" % (n - 1))

main()
