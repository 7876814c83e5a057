# graph.py -- reads pomlc's Graphviz and JSON outputs into one summary
#
#   python3 graph.py dot FILE     parses FILE as DOT (the grammar of
#                                 graphviz.org/doc/info/lang.html, without
#                                 ports and HTML strings); exit 1 with the
#                                 line of the first error
#   python3 graph.py json FILE    reads pomlc --emit=json output
#   python3 graph.py stats FILE   the --stats figures of a JSON output
#
# dot and json print the same summary for the same workflow: the stage of
# every step, the edges, and the steps and edges drawn as the critical path.
import json
import re
import sys


class DotError(Exception):
    pass


TOKEN = re.compile(r'''
    (?P<ws>[ \t\r]+|//[^\n]*|/\*.*?\*/|\n|\#[^\n]*)
  | (?P<str>"(?:[^"\\]|\\.|\\\n)*")
  | (?P<num>-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))
  | (?P<id>[A-Za-z_\x80-\uffff][A-Za-z_0-9\x80-\uffff]*)
  | (?P<edgeop>->|--)
  | (?P<punct>[{}\[\];,=:])
''', re.S | re.X)

KEYWORDS = {"strict", "graph", "digraph", "node", "edge", "subgraph"}


def tokenize(text):
    toks, pos, line = [], 0, 1
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise DotError("line %d: unexpected %r" % (line, text[pos]))
        kind = m.lastgroup
        val = m.group()
        if kind == "str":
            val = re.sub(r'\\\n', "", val[1:-1])
            val = val.replace('\\"', '"')
            toks.append(("id", val, line))
        elif kind == "id" and val.lower() in KEYWORDS:
            toks.append((val.lower(), val, line))
        elif kind in ("id", "num"):
            toks.append(("id", val, line))
        elif kind != "ws":
            toks.append((val, val, line))
        line += m.group().count("\n")
        pos = m.end()
    toks.append(("eof", "", line))
    return toks


class Parser:
    def __init__(self, toks):
        self.t, self.i = toks, 0
        self.stage = {}         # node -> cluster name
        self.order = []         # nodes in order of declaration
        self.edges = []
        self.red_nodes = []
        self.red_edges = []
        self.clusters = []

    def peek(self):
        return self.t[self.i][0]

    def take(self, kind):
        k, v, line = self.t[self.i]
        if k != kind:
            raise DotError("line %d: expected %s, found %r" % (line, kind, v))
        self.i += 1
        return v

    def graph(self):
        if self.peek() == "strict":
            self.take("strict")
        if self.peek() != "digraph":
            raise DotError("line %d: not a digraph" % self.t[self.i][2])
        self.take("digraph")
        if self.peek() == "id":
            self.name = self.take("id")
        self.take("{")
        self.stmts(None)
        self.take("}")
        self.take("eof")

    def attrs(self):
        a = {}
        while self.peek() == "[":
            self.take("[")
            while self.peek() == "id":
                k = self.take("id")
                self.take("=")
                a[k] = self.take("id")
                if self.peek() in (",", ";"):
                    self.i += 1
            self.take("]")
        return a

    def stmts(self, cluster):
        while self.peek() not in ("}", "eof"):
            self.stmt(cluster)
            if self.peek() == ";":
                self.take(";")

    def stmt(self, cluster):
        k = self.peek()
        if k in ("graph", "node", "edge"):
            self.i += 1
            self.attrs()
        elif k == "subgraph" or k == "{":
            name = None
            if k == "subgraph":
                self.take("subgraph")
                if self.peek() == "id":
                    name = self.take("id")
            self.take("{")
            if name and name.startswith("cluster"):
                self.clusters.append(name)
                self.stmts(name)
            else:
                self.stmts(cluster)
            self.take("}")
        else:
            a = self.take("id")
            if self.peek() == "=":
                self.take("=")
                self.take("id")
                return
            ends = [a]
            while self.peek() == "->":
                self.take("->")
                ends.append(self.take("id"))
            if self.peek() == "--":
                raise DotError("line %d: '--' in a digraph" % self.t[self.i][2])
            at = self.attrs()
            red = at.get("color") == "red"
            if len(ends) == 1:
                if a in self.stage:
                    raise DotError("node %r declared twice" % a)
                self.stage[a] = cluster
                self.order.append(a)
                if red:
                    self.red_nodes.append(a)
            for x, y in zip(ends, ends[1:]):
                self.edges.append((x, y))
                if red:
                    self.red_edges.append((x, y))


def dot_summary(path):
    p = Parser(tokenize(open(path, encoding="utf-8").read()))
    p.graph()
    out = []
    for c in p.clusters:
        m = re.fullmatch(r"cluster_stage([0-9]+)", c)
        if not m:
            raise DotError("unexpected cluster %r" % c)
        out.append("stage %s: %s" % (m.group(1), " ".join(
            n for n in p.order if p.stage[n] == c)))
    for x, y in p.edges:
        for n in (x, y):
            if n not in p.stage:
                raise DotError("edge names undeclared node %r" % n)
    for n in p.order:
        if p.stage[n] is None:
            raise DotError("node %r outside every stage" % n)
    out += ["edge %s -> %s" % e for e in sorted(p.edges)]
    out.append("critical " + " ".join(p.red_nodes))
    out += ["critical edge %s -> %s" % e for e in sorted(p.red_edges)]
    return out


def json_summary(path):
    d = json.load(open(path, encoding="utf-8"))
    out = ["stage %d: %s" % (i, " ".join(s)) for i, s in
           enumerate(d["stages"])]
    steps = {s["id"]: s for s in d["steps"]}
    edges, red = [], []
    for s in d["steps"]:
        for dep in s["depends_on"] + s["after"] + s["implied"]:
            edges.append((dep, s["id"]))
            p = steps[dep]
            if (p["critical"] and s["critical"] and
                    p["critical_path_steps"] == s["critical_path_steps"] + 1):
                red.append((dep, s["id"]))
    out += ["edge %s -> %s" % e for e in sorted(edges)]
    out.append("critical " + " ".join(d["critical_path"]))
    out += ["critical edge %s -> %s" % e for e in sorted(red)]
    return out


def stats_summary(path):
    d = json.load(open(path, encoding="utf-8"))
    edges = sum(len(s["depends_on"]) + len(s["after"]) + len(s["implied"])
                for s in d["steps"])
    llm = sum(1 for s in d["steps"] if s["kind"] == "llm")
    cp = d["critical_path"]
    return ["steps %d (%d LLM)" % (len(d["steps"]), llm),
            "edges %d" % edges,
            "stages %d" % len(d["stages"]),
            "widest stage %d" % max([len(s) for s in d["stages"]] + [0]),
            "critical path %d step%s:" % (len(cp), "" if len(cp) == 1 else "s") +
            " \u2192".join(" " + x for x in cp)]


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("dot", "json", "stats"):
        sys.stderr.write("usage: graph.py dot|json|stats FILE\n")
        return 2
    fn = {"dot": dot_summary, "json": json_summary,
          "stats": stats_summary}[sys.argv[1]]
    try:
        lines = fn(sys.argv[2])
    except (DotError, ValueError, KeyError, TypeError) as e:
        sys.stderr.write("%s: %s\n" % (sys.argv[2], e))
        return 1
    sys.stdout.buffer.write(("\n".join(lines) + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
