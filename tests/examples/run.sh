#!/bin/sh
# run.sh -- every workflow of examples/ and examples/seeds/ run end to end
#
# Each example is compiled as it is written and run by pomlrun with --json,
# its shell steps as real processes in a scratch directory that holds the
# files the example expects (a Makefile, deploy scripts, a package.json),
# its LLM steps against tests/llm/server.py on loopback: every provider of
# the stdlib catalog is pointed at the server through its base URL
# variable, so no request leaves the machine (a provider without such a
# variable fails the run before any example starts).  The checks read the
# result and the server's request log: that the run ends as poml(5) says
# it must, and that what a step should send reaches the model.  Exits 77
# (skipped) without python3.
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
examples=$top_srcdir/examples

for prog in "$pomlc" "$pomlrun"; do
    if [ ! -x "$prog" ]; then
        echo "error: $prog not built"
        exit 1
    fi
done
if ! command -v python3 > /dev/null 2>&1; then
    echo "examples: python3 is needed; skipped"
    exit 77
fi

. "$top_srcdir/tests/lib.sh"
test_begin examples

server=
trap 'if [ -n "$server" ]; then kill "$server" 2> /dev/null;
      wait "$server" 2> /dev/null; fi; rm -rf "$tmp"' EXIT

python3 "$top_srcdir/tests/llm/server.py" --port 0 --key test-key \
    --port-file "$tmp/port" --log "$tmp/requests.log" \
    > "$tmp/server.out" 2>&1 &
server=$!
n=0
while [ ! -s "$tmp/port" ] && [ "$n" -lt 400 ]; do
    if ! kill -0 "$server" 2> /dev/null; then
        break
    fi
    sleep 0.05
    n=$((n + 1))
done
if [ ! -s "$tmp/port" ]; then
    echo "error: the loopback server did not start: $(first "$tmp/server.out")"
    exit 1
fi
port=$(cat "$tmp/port")

# every catalog provider's base URL and key variable, pointed at the server
python3 - "$POML_STDLIB/models.poml" "$port" > "$tmp/env.sh" << 'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
port = sys.argv[2]
block = re.search(r"^providers:\n((?:[ #].*\n|\n)*)", text, re.M)
providers = re.split(r"^  (?=[a-z0-9_-]+:)", block.group(1), flags=re.M)[1:]
missing = []
for p in providers:
    name = p.split(":", 1)[0]
    def val(key):
        m = re.search(r"^\s+%s:\s*\"?([^\"\n]*)\"?" % key, p, re.M)
        return m.group(1).strip() if m else ""
    url, url_env, key_env = val("base_url"), val("base_url_env"), val("api_key_env")
    if not url_env:
        missing.append(name)
        continue
    root = "http://127.0.0.1:%s" % port
    print("%s='%s/v1'; export %s" % (url_env, root, url_env))
    if key_env:
        print("%s=test-key; export %s" % (key_env, key_env))
if missing:
    print("echo 'providers without a base URL variable: %s'" % " ".join(missing))
    print("exit 1")
EOF
if ! . "$tmp/env.sh"; then
    exit 1
fi

py_lib="$py_json"'
r = json.load(open(sys.argv[1]))
log = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
def steps(status):
    return sorted(k for k, v in r["steps"].items() if v["status"] == status)
def sent(text):
    return any(text in json.dumps(q.get("body")) for q in log)
'

# run_example NAME SOURCE DIR [pomlrun arguments...]: compile SOURCE, run
# its plan in DIR; leaves $tmp/NAME.json, NAME.err, NAME.rc, and the
# requests the run made in NAME.log
run_example() {
    name=$1
    src=$2
    dir=$3
    shift 3
    if ! "$pomlc" -o "$tmp/$name.plan" "$src" > "$tmp/$name.cerr" 2>&1; then
        fail "$name: pomlc: $(grep -m1 error: "$tmp/$name.cerr")"
        return 1
    fi
    lines=$(wc -l < "$tmp/requests.log" 2> /dev/null || echo 0)
    (cd "$dir" && "$pomlrun" --json "$tmp/$name.plan" "$@") \
        > "$tmp/$name.json" 2> "$tmp/$name.err"
    echo $? > "$tmp/$name.rc"
    tail -n +"$((lines + 1))" "$tmp/requests.log" > "$tmp/$name.log"
    sanitized "$name" "$tmp/$name.err" || return 1
    return 0
}

# expect NAME STATUS CHECK...: the run exited with STATUS and each Python
# expression CHECK (over r, the result, and log, its requests) holds
expect() {
    name=$1
    want=$2
    shift 2
    got=$(cat "$tmp/$name.rc")
    if [ "$got" != "$want" ]; then
        fail "$name: exit status $got, not $want: $(grep -m1 -E 'error|failed' "$tmp/$name.err")"
        return
    fi
    for check in "$@"; do
        if python3 -c "$py_lib
sys.exit(0 if ($check) else 1)" "$tmp/$name.json" "$tmp/$name.log" \
            2> "$tmp/$name.py"; then
            pass
        else
            fail "$name: does not hold: $check $(tail -n 1 "$tmp/$name.py")"
        fi
    done
}

# hello: three shell steps
if run_example hello "$examples/hello.poml" "$tmp" -p name=poml; then
    expect hello 0 'steps("succeeded") == ["count", "greet", "report"]' \
        'r["steps"]["report"]["outputs"]["stdout"] == "Hello, poml! (4 letters)"'
fi

# fan-out: for_each and an aggregator
if run_example fan-out "$examples/fan-out.poml" "$tmp"; then
    expect fan-out 0 'steps("failed") == []' \
        'r["status"] == "succeeded"'
fi

# the release notes: a shell step feeding two LLM steps, from the cassette
if run_example release-notes "$examples/llm/release-notes.poml" \
    "$top_srcdir" --replay "$examples/llm/release-notes.cassette"; then
    expect release-notes 0 'steps("failed") == []' 'log == []' \
        'r["steps"]["summary"]["outputs"]["json"]["features"] == 5'
fi

# ci: npm's scripts run as the project defines them; the review reads the
# changed files through its prompt file
mkdir -p "$tmp/ci"
cat > "$tmp/ci/package.json" << 'EOF'
{"name": "ci-example", "version": "1.0.0",
 "scripts": {"test": "echo tests-ran", "build": "echo build-ran"}}
EOF
if command -v npm > /dev/null 2>&1; then
    if run_example ci "$examples/ci.poml" "$tmp/ci" \
        -p 'files=[{"path": "src/a.c", "diff": "+int parse_flags(void);"}]'; then
        expect ci 0 'steps("succeeded") == ["build", "review", "test"]' \
            '"tests-ran" in r["steps"]["test"]["outputs"]["stdout"]' \
            'sent("parse_flags")'
    fi
else
    echo "examples: npm not found; examples/ci.poml not run"
fi

# phases: gates, a policy of three commands, a feedback condition
mkdir -p "$tmp/phases"
printf 'test:\n\t@echo tests passed\n' > "$tmp/phases/Makefile"
printf '#!/bin/sh\necho "deployed $1 to $2"\n' > "$tmp/phases/deploy.sh"
cat > "$tmp/phases/collect-metrics.sh" << 'EOF'
#!/bin/sh
echo "metrics=p99 120ms for $1" >> "$POML_OUTPUT"
EOF
chmod +x "$tmp/phases/deploy.sh" "$tmp/phases/collect-metrics.sh"
if run_example phases "$examples/phases.poml" "$tmp/phases" -p service=api; then
    expect phases 0 'steps("failed") == []' \
        'r["steps"]["deploy"]["outputs"]["stdout"] == "deployed api to staging"' \
        'sent("p99 120ms for api")'
fi

# multi-model: a planner, best_of with a judge, a cascade, fallbacks, budgets
if run_example multi-model "$examples/multi-model.poml" "$tmp" \
    -p task=parse-flags; then
    expect multi-model 0 'steps("failed") == []' \
        'sent("parse-flags")' \
        'len(r["steps"]["generate"]["outputs"]["candidates"]) == 3' \
        '"chosen" in r["steps"]["review"]["outputs"]' \
        'isinstance(r["steps"]["review"]["outputs"]["json"]["reason"], str)' \
        'sent("Check that this code does the task")'
fi

# the seeds' workflows, as written in the seeds
seeds=$examples/seeds

# the code review up to its last step, an MCP tool (git_operations), which
# this pomlrun cannot call yet: it fails with that reason, after every
# analysis, the merge of their reports and the report itself succeeded,
# and escalates to a person (on_failure: escalate_to: human), so the run
# is suspended
if run_example seed-code-review "$seeds/code-review.poml" "$tmp" \
    -p repo=acme/widgets; then
    expect seed-code-review 4 'steps("suspended") == ["create_pr_comment"]' \
        'r["status"] == "suspended"' \
        '"MCP" in r["steps"]["create_pr_comment"]["reason"]' \
        'r["steps"]["aggregate_findings"]["status"] == "succeeded"' \
        'r["steps"]["generate_report"]["status"] == "succeeded"' \
        'sent("acme/widgets")' \
        'sent("Answer with one JSON object with the members: analysis_report")' \
        '"analysis_report" in r["steps"]["analyze_code"]["outputs"]'
fi

for s in sequential parallel conditional alerts; do
    if run_example "seed-$s" "$seeds/$s.poml" "$tmp"; then
        expect "seed-$s" 0 'steps("failed") == []'
    fi
done

# fan-out over an output nothing writes: the step fails, as poml(5) says
# of a for_each that does not give a list, and what needs it is skipped
if run_example seed-fan-out "$seeds/fan-out.poml" "$tmp"; then
    expect seed-fan-out 1 'steps("failed") == ["process_chunk"]' \
        'steps("skipped") == ["merge_results"]' \
        '"not a list" in r["steps"]["process_chunk"]["reason"]'
fi

if run_example seed-chain "$seeds/chain.poml" "$tmp"; then
    expect seed-chain 0 'steps("failed") == []' \
        'sent("fix security issues found in")'
fi

if run_example seed-flow "$seeds/flow.poml" "$tmp" \
    -p 'codebase={"complexity": 1500}' -p 'security={"issues_found": 0}'; then
    expect seed-flow 0 'steps("failed") == []' \
        'steps("succeeded") == ["flow1_then_1", "flow2_else_1"]'
fi

if run_example seed-swarm "$seeds/swarm.poml" "$tmp" -p task=audit-login; then
    expect seed-swarm 0 'steps("failed") == []' 'sent("audit-login")'
fi

if run_example seed-pipeline "$seeds/pipeline.poml" "$tmp" -p input=feed-1; then
    expect seed-pipeline 0 'steps("failed") == []' 'sent("feed-1")'
fi

# nothing of the examples is left unchecked
for f in "$examples"/*.poml "$examples"/llm/*.poml "$seeds"/*.poml; do
    b=$(basename "$f" .poml)
    case $f in
    "$seeds"/*) b=seed-$b ;;
    esac
    if [ -f "$tmp/$b.rc" ] || { [ "$b" = ci ] && ! command -v npm > /dev/null 2>&1; }; then
        pass
    else
        fail "$f: no check runs it"
    fi
done

test_end
