#!/usr/bin/env python3
"""gen_sub.py -- generates the sub-workflow benchmark's inputs: a for_each
over N items whose instances each run a sub-workflow of one `true` step,
and the same for_each with that step inline.

  gen_sub.py N PREFIX

writes PREFIX-sub.poml (the for_each of sub-workflows), PREFIX-one.poml
(the sub-workflow) and PREFIX-inline.poml (the step inline)."""
import os
import sys


def main():
    n, prefix = int(sys.argv[1]), sys.argv[2]
    items = "[" + ", ".join(str(i) for i in range(n)) + "]"
    head = ("parameters:\n"
            "  items: {type: array, default: %s}\n"
            "steps:\n"
            "  - id: each\n"
            "    for_each: ${params.items}\n" % items)
    with open(prefix + "-one.poml", "w") as f:
        f.write("workflow_id: one\n"
                "parameters:\n"
                "  n: {type: integer, required: true}\n"
                "steps:\n"
                "  - id: step\n"
                "    run: true\n")
    with open(prefix + "-sub.poml", "w") as f:
        f.write("workflow_id: subs\n" + head +
                "    workflow: %s-one.poml\n"
                "    with: {n: \"${item}\"}\n" % os.path.basename(prefix))
    with open(prefix + "-inline.poml", "w") as f:
        f.write("workflow_id: inline\n" + head + "    run: true\n")


if __name__ == "__main__":
    main()
