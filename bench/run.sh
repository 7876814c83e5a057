#!/bin/sh
# run.sh -- the benchmarks: poml's figures next to what a user would
# otherwise use, measured in one run and printed as ratios.
#   lint:    pomlc --lint on a 10,000-step workflow vs PyYAML's C loader
#            merely loading the same file
#   plan:    pomlc compiling a 100,000-step workflow, the plan's size, and
#            pomlrun --check (map and validate) vs ninja loading an
#            equivalent build.ninja and PyYAML loading the POML source
#   run:     executing `true` steps with 2 jobs -- 10,000 independent, a
#            1,000-step chain, a 100 x 100 layered DAG -- by pomlrun (its
#            state kept in an SQLite file, and with --no-state), make,
#            ninja and a bare posix_spawn loop (bench/spawnfloor.c, the floor)
#   start-up: pomlrun --version vs ninja's and make's, and pomlrun --check
#            of a 10,000-step plan vs ninja loading the equivalent
#            build.ninja (ninja -t targets all)
#   subs:    a for_each of 1,000 sub-workflows (a child pomlrun each) vs
#            the same step inline
#   sched:   pomlrun scheduling 100,000 in-process steps (gates, aggregators),
#            net of loading the plan (pomlrun --check)
#   llm:     1,000 LLM calls, 64 in flight, against the loopback test server
#            (tests/llm/server.py): pomlrun (a for_each step, and 1,000
#            steps; streamed and whole replies) vs a bare libcurl multi
#            client (bench/curl_client.c, replies unparsed: the floor) and
#            a python3 asyncio client (bench/llm_client.py) sending the
#            same requests
set -eu
LC_ALL=C
export LC_ALL
builddir=${top_builddir:-$(pwd)}
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
POML_STDLIB=${POML_STDLIB:-$srcdir/stdlib}
export POML_STDLIB
pomlc=$builddir/pomlc
pomlrun=$builddir/pomlrun
work=$(mktemp -d)
srv= # the LLM test server, while it runs
trap '[ -z "$srv" ] || kill "$srv" 2>/dev/null || :; rm -rf "$work"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

python3 -c 'import yaml; yaml.CLoader' 2>/dev/null || {
    echo "bench: python3 with PyYAML (python3-yaml) is needed" >&2; exit 1; }
command -v hyperfine >/dev/null || {
    echo "bench: hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
for tool in ninja make; do
    command -v $tool >/dev/null || {
        echo "bench: $tool is needed (apt-get install ninja-build make)" >&2
        exit 1; }
done

# mean seconds of a command, by hyperfine
mean() {
    hyperfine -N --warmup 1 --min-runs "$1" --export-json "$work/h.json" \
        "$2" >/dev/null 2>&1 || hyperfine --warmup 1 --min-runs "$1" \
        --export-json "$work/h.json" "$2" >/dev/null
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$work/h.json"
}

row() { # label seconds reference-seconds
    python3 -c 'import sys
l, a, b = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print("  %-44s %10.2f ms %8.2fx" % (l, a * 1000, a / b if b else 0))' "$@"
}

loader='import sys, yaml; yaml.load(open(sys.argv[1]), Loader=yaml.CLoader)'

echo "== lint: 10,000 steps"
python3 "$srcdir/bench/gen.py" 10000 "$work/w10k.poml" "$work/w10k.ninja"
ref=$(mean 5 "python3 -c '$loader' $work/w10k.poml")
t=$(mean 10 "$pomlc --lint $work/w10k.poml")
row "PyYAML CLoader: load only (reference)" "$ref" "$ref"
row "pomlc --lint: parse, check, analyse" "$t" "$ref"

echo "== plan: 100,000 steps"
python3 "$srcdir/bench/gen.py" 100000 "$work/w100k.poml" "$work/w100k.ninja"
"$pomlc" "$work/w100k.poml" -o "$work/w100k.plan"
size=$(wc -c < "$work/w100k.plan")
src=$(wc -c < "$work/w100k.poml")
ref=$(mean 3 "python3 -c '$loader' $work/w100k.poml")
tc=$(mean 3 "$pomlc $work/w100k.poml -o $work/out.plan")
tk=$(mean 10 "$pomlrun --check $work/w100k.plan")
row "PyYAML CLoader: load the POML source (reference)" "$ref" "$ref"
row "pomlc: compile to a plan" "$tc" "$ref"
row "pomlrun --check: map and validate the plan" "$tk" "$ref"
if command -v ninja >/dev/null; then
    (cd "$work" && cp w100k.ninja build.ninja)
    tn=$(mean 5 "ninja -C $work -n")
    row "ninja -n: load build.ninja (no-op rules)" "$tn" "$ref"
    python3 -c 'import sys
print("  pomlrun --check / ninja -n: %.3fx" % (float(sys.argv[1]) / float(sys.argv[2])))' "$tk" "$tn"
fi
echo "  plan size: $size bytes for a $src-byte source ($(( size / 100000 )) bytes a step)"

## ---- start-up ----
# What every pomlrun pays before its first step (and each sub-workflow
# child again): the program's own start, then mapping and checking a plan
echo "== start-up"
python3 "$srcdir/bench/gen.py" 10000 "$work/w10k.poml" "$work/w10k.ninja"
"$pomlc" "$work/w10k.poml" -o "$work/w10k.plan"
mkdir -p "$work/n10k"
cp "$work/w10k.ninja" "$work/n10k/build.ninja"
tv=$(mean 100 "$pomlrun --version")
tnv=$(mean 100 "ninja --version")
tmv=$(mean 100 "make --version")
tk=$(mean 30 "$pomlrun --check $work/w10k.plan")
tn=$(mean 10 "ninja -C $work/n10k -t targets all")
row "ninja --version (reference)" "$tnv" "$tnv"
row "make --version" "$tmv" "$tnv"
row "pomlrun --version" "$tv" "$tnv"
row "ninja -t targets all: 10,000 rules (ref.)" "$tn" "$tn"
row "pomlrun --check: map, verify 10,000 steps" "$tk" "$tn"
echo "  (hyperfine means; libcurl is loaded only by a run that sends a request)"

## ---- execution ----
# The make and ninja being measured are the user's, not children of the make
# running this script: no inherited flags or jobserver.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS
${CC:-cc} -O2 -o "$work/spawnfloor" "$srcdir/bench/spawnfloor.c"
jobs=2
runs=3

# "mean stddev user system" seconds of a command, by hyperfine, exactly
# RUNS runs; user and system time include the command's children
stats() {
    hyperfine -N --runs "$1" --export-json "$work/h.json" "$2" \
        >/dev/null 2>"$work/h.err" || { cat "$work/h.err" >&2; return 1; }
    python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["results"][0]
print(r["mean"], r["stddev"] or 0, r["user"], r["system"])' "$work/h.json"
}

# pomlrun --json once: the run succeeded and every step of the plan did;
# if not, how to do it again
check_pomlrun() { # shape steps plan
    ok=0
    "$pomlrun" --json --no-state --jobs $jobs "$3" 2>"$work/r.err" >"$work/r.json" &&
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2])
ok = sum(1 for s in d["steps"].values() if s["status"] == "succeeded")
if d["status"] != "succeeded" or len(d["steps"]) != n or ok != n:
    sys.exit("bench: pomlrun: %s, %d of %d steps succeeded"
             % (d["status"], ok, n))' "$work/r.json" "$2" || ok=1
    [ $ok = 0 ] && return 0
    tail -n 5 "$work/r.err" >&2
    echo "bench: pomlrun did not run every step; to reproduce:" >&2
    echo "  python3 $srcdir/bench/gen_exec.py $1 $2 x &&" \
        "POML_STDLIB=$POML_STDLIB $pomlc x.poml -o x.plan &&" \
        "$pomlrun --json --jobs $jobs x.plan" >&2
    exit 1
}

run_shape() { # shape steps floor-jobs title
    shape=$1 n=$2 fj=$3
    p=$work/x-$shape
    python3 "$srcdir/bench/gen_exec.py" "$shape" "$n" "$p"
    "$pomlc" "$p.poml" -o "$p.plan"
    # every tool runs every step, every time
    check_pomlrun "$shape" "$n" "$p.plan"
    c=$(make -r -j$jobs -n -f "$p.mk" | grep -c '^true$' || :)
    [ "$c" = "$n" ] || {
        echo "bench: make -n -f $p.mk runs $c of $n steps" >&2; exit 1; }
    rm -rf "$p.nb"; mkdir "$p.nb"
    for i in 1 2; do # a build, then a dry run: still all n to do
        [ $i = 1 ] && nf= || nf=-n
        ninja -C "$p.nb" -f "$p.ninja" -j$jobs $nf > "$work/n.out"
        tail -n 1 "$work/n.out" | grep -q "^\[$n/$n\] " || {
            echo "bench: ninja $nf -f $p.ninja does not run $n steps" >&2
            exit 1; }
    done
    "$work/spawnfloor" "$n" "$fj"
    make -r -j$jobs -f "$p.mk"

    # round robin, one run of each tool a round, so that a disturbance of
    # the machine does not land on one tool's runs only
    rm -f "$work"/t.*
    r=0
    while [ $r -lt $runs ]; do
        i=0
        for cmd in "$work/spawnfloor $n $fj" "make -r -j$jobs -f $p.mk" \
                   "ninja -C $p.nb -f $p.ninja -j$jobs --quiet" \
                   "$pomlrun -q --jobs $jobs --state $work/state.db $p.plan" \
                   "$pomlrun -q --jobs $jobs --no-state $p.plan"; do
            stats 1 "$cmd" >> "$work/t.$i"
            i=$((i + 1))
        done
        r=$((r + 1))
    done
    if [ "$fj" = 1 ]; then l="posix_spawn loop, serial"; else
        l="posix_spawn loop (floor)"; fi
    echo "== run: $4, $jobs jobs"
    PYTHONIOENCODING=utf-8 python3 -c 'import statistics, sys
w, n = sys.argv[1], int(sys.argv[2])
labels = sys.argv[3:]
print("  %-26s %12s %17s %8s %9s %6s   %-13s %6s" % ("", "wall, median",
      "min\u2013max", "\u00b5s/step", "-floor", "ratio", "CPU \u00b5s/step",
      "ratio"))
floor = cfloor = None
for i, l in enumerate(labels):
    rs = [[float(v) for v in x.split()] for x in open("%s/t.%d" % (w, i))]
    ts = [r[0] for r in rs]
    t = statistics.median(ts)
    c = statistics.median(r[2] + r[3] for r in rs)
    floor, cfloor = floor or t, cfloor or c
    print("  %-26s %9.1f ms %8.1f\u2013%8.1f %8.1f %+9.1f %5.2fx   %13.1f %5.2fx"
          % (l, t * 1e3, min(ts) * 1e3, max(ts) * 1e3, t / n * 1e6,
             (t - floor) / n * 1e6, t / floor, c / n * 1e6, c / cfloor))' \
        "$work" "$n" "$l" \
        "make -r -j$jobs" "ninja -j$jobs" "pomlrun, state kept" \
        "pomlrun --no-state"
}

run_shape independent 10000 $jobs "10,000 independent steps"
run_shape chain 1000 1 "a 1,000-step chain"
run_shape layered 10000 $jobs "a 100 x 100 layered DAG (24,750 edges)"
echo "  (the floor spawns 'true' by posix_spawnp and waitpid, $jobs in flight;"
echo "   for the chain one at a time, as its edges allow; ninja runs commands"
echo "   through /bin/sh -c, make and pomlrun run 'true' directly; median of"
echo "   $runs runs each, taken in turns; µs/step = median / steps, -floor the"
echo "   same less the floor's; CPU: user + system time, children included)"

echo "== sub-workflows: a for_each of 1,000, $jobs jobs"
python3 "$srcdir/bench/gen_sub.py" 1000 "$work/sw"
"$pomlc" -Wno-unused-parameter "$work/sw-sub.poml" -o "$work/sw-sub.plan"
"$pomlc" "$work/sw-inline.poml" -o "$work/sw-inline.plan"
check_pomlrun sub 1 "$work/sw-sub.plan"
check_pomlrun inline 1 "$work/sw-inline.plan"
rm -f "$work"/t.*
r=0
while [ $r -lt $runs ]; do
    stats 1 "$pomlrun -q --no-state --jobs $jobs $work/sw-inline.plan" \
        >> "$work/t.0"
    stats 1 "$pomlrun -q --no-state --jobs $jobs $work/sw-sub.plan" \
        >> "$work/t.1"
    r=$((r + 1))
done
PYTHONIOENCODING=utf-8 python3 -c 'import statistics, sys
w = sys.argv[1]
print("  %-40s %12s %6s   %s" % ("", "wall, median", "ratio",
      "CPU \u00b5s/item"))
ref = None
for i, l in enumerate(sys.argv[2:]):
    rs = [[float(v) for v in x.split()] for x in open("%s/t.%d" % (w, i))]
    t = statistics.median(r[0] for r in rs)
    c = statistics.median(r[2] + r[3] for r in rs)
    ref = ref or t
    print("  %-40s %9.1f ms %5.2fx   %9.1f" % (l, t * 1e3, t / ref,
          c * 1e3))' "$work" \
    "the step inline, 1,000 instances (ref.)" \
    "a sub-workflow of it, 1,000 children"
echo "  (each child is a pomlrun process of its own that runs the step: one"
echo "   exec more an item than inline; median of $runs runs, CPU: user +"
echo "   system, children included)"

echo "== sched: 100,000 in-process steps, pomlrun --jobs $jobs"
printf '  %-30s %9s %11s %11s %13s\n' "" run "--check" scheduling "steps/s"
for s in "gate-chain:a chain of gates" \
         "gate-fan:1 gate -> 99,998 -> 1 gate" \
         "agg-fan:1 gate -> 99,999 concat aggr."; do
    shape=${s%%:*}
    p=$work/x-$shape
    python3 "$srcdir/bench/gen_exec.py" "$shape" 100000 "$p"
    "$pomlc" "$p.poml" -o "$p.plan"
    check_pomlrun "$shape" 100000 "$p.plan"
    t=$(stats 5 "$pomlrun -q --no-state --jobs $jobs $p.plan")
    k=$(stats 5 "$pomlrun --check $p.plan")
    python3 -c 'import sys
l, t, k = sys.argv[1], float(sys.argv[2].split()[0]), float(sys.argv[3].split()[0])
print("  %-30s %6.1f ms %8.1f ms %8.1f ms %13s"
      % (l, t * 1e3, k * 1e3, (t - k) * 1e3,
         "{:,.0f}".format(100000 / (t - k)) if t > k else "n/a"))' \
        "${s#*:}" "$t" "$k"
done
echo "  (run: pomlrun -q, hyperfine mean of 5; --check: loading and validating"
echo "   the plan, the same way; scheduling = run - --check)"

## ---- LLM calls ----
# One loopback server (tests/llm/server.py) for the whole section; pomlrun
# and a python3 asyncio client (bench/llm_client.py) send it the same
# requests, llm_jobs at a time.
llm_n=1000
llm_jobs=64
llm_runs=7
POML_BENCH_KEY=sk-bench-$$
export POML_BENCH_KEY
llm_log=$work/llm.log
python3 "$srcdir/tests/llm/server.py" --port 0 --port-file "$work/llm.port" \
    --key "$POML_BENCH_KEY" --log "$llm_log" 2>"$work/llm.srv" &
srv=$!
i=0
until [ -s "$work/llm.port" ]; do
    kill -0 $srv 2>/dev/null && [ $i -lt 100 ] || {
        cat "$work/llm.srv" >&2
        echo "bench: the LLM test server did not start" >&2; exit 1; }
    sleep 0.1
    i=$((i + 1))
done
port=$(cat "$work/llm.port")
lp=$work/llm
python3 "$srcdir/bench/gen_llm.py" for_each $llm_n $port "$lp-fe"
python3 "$srcdir/bench/gen_llm.py" steps $llm_n $port "$lp-st"
python3 "$srcdir/bench/gen_llm.py" for_each 0 $port "$lp-none"
"$pomlc" "$lp-fe.poml" -o "$lp-fe.plan"
"$pomlc" "$lp-st.poml" -o "$lp-st.plan"
"$pomlc" "$lp-none.poml" -o "$lp-none.plan"
# the interpreter itself, not a wrapper that finds it (pyenv's shims cost
# more than its start-up)
py=$(python3 -c 'import sys; print(sys.executable)')
client="$py $srcdir/bench/llm_client.py --jobs $llm_jobs $port"
# the floor: a bare libcurl multi client, replies dropped unparsed
${CC:-cc} -O2 -o "$work/curl_client" "$srcdir/bench/curl_client.c" \
    $(pkg-config --cflags --libs libcurl)
raw="$work/curl_client --jobs $llm_jobs $port"
prun="$pomlrun -q --no-state --provider-jobs $llm_jobs"

llm_fail() {
    echo "bench: llm: $1; to reproduce:" >&2
    echo "  python3 $srcdir/tests/llm/server.py --port 0 --port-file p" \
        "--key k --log log &" >&2
    echo "  python3 $srcdir/bench/gen_llm.py for_each $llm_n \$(cat p) x &&" \
        "POML_STDLIB=$POML_STDLIB $pomlc x.poml -o x.plan &&" >&2
    echo "  POML_BENCH_KEY=k $pomlrun --json --provider-jobs $llm_jobs" \
        "x.plan; POML_BENCH_KEY=k python3 $srcdir/bench/llm_client.py" \
        "\$(cat p) x.stream.jsonl" >&2
    exit 1
}

# llm_check NAME BODIES COMMAND...: one run of COMMAND (pomlrun --json or
# llm_client.py) got all its replies, and the server received exactly the
# bodies of BODIES, each once, and answered them 200; the header names it
# got go to $lp.hdr.NAME
llm_check() {
    name=$1 bodies=$2
    shift 2
    from=$(wc -l < "$llm_log")
    rc=0
    "$@" > "$lp.out" 2> "$lp.err" || rc=$?
    python3 -c 'import json, sys
out, log, skip, bodies, name, rc, hdr = sys.argv[1:]
text = open(out).read()
if text.startswith("{"):                  # pomlrun --json
    d = json.loads(text)
    st = list(d["steps"].values())
    xs = st[0].get("instances", st) if len(st) == 1 else st
    ok = sum(1 for x in xs if x["status"] == "succeeded")
else:                                     # llm_client.py
    ok = int(text.split()[0]) if text.split() else 0
want = sorted(json.dumps(json.loads(b), sort_keys=True)
              for b in open(bodies))
got, names, bad = [], set(), 0
for i, line in enumerate(open(log)):
    e = json.loads(line) if i >= int(skip) else None
    if e and e.get("path") == "/v1/chat/completions":
        got.append(json.dumps(e["body"], sort_keys=True))
        names.update(e["headers"])
        bad += e["status"] != 200
got.sort()
open(hdr, "w").write(" ".join(sorted(names)) + "\n")
why = []
if rc != "0":
    why.append("exit status %s" % rc)
if ok != len(want):
    why.append("%d of %d calls succeeded" % (ok, len(want)))
if got != want:
    why.append("the server got %d requests, %d of them as in %s"
               % (len(got), sum(1 for g in set(got) if g in set(want)),
                  bodies))
if bad:
    why.append("%d replies were not 200" % bad)
if why:
    sys.exit("bench: llm: %s: %s" % (name, "; ".join(why)))' \
        "$lp.out" "$llm_log" "$from" "$bodies" "$name" "$rc" \
        "$lp.hdr.$name" || {
        tail -n 5 "$lp.err" >&2; llm_fail "$name failed"; }
}

# every client, once (the warm-up too): all replies, the same requests
llm_check pomlrun-fe "$lp-fe.stream.jsonl" $prun --json "$lp-fe.plan"
llm_check pomlrun-st "$lp-fe.stream.jsonl" $prun --json "$lp-st.plan"
llm_check pomlrun-whole "$lp-fe.whole.jsonl" \
    $prun --no-stream --json "$lp-fe.plan"
llm_check python "$lp-fe.stream.jsonl" $client "$lp-fe.stream.jsonl"
llm_check python-whole "$lp-fe.whole.jsonl" $client "$lp-fe.whole.jsonl"
llm_check raw "$lp-fe.stream.jsonl" $raw "$lp-fe.stream.jsonl"
llm_check raw-whole "$lp-fe.whole.jsonl" $raw "$lp-fe.whole.jsonl"
cmp -s "$lp.hdr.pomlrun-fe" "$lp.hdr.python" || {
    echo "bench: llm: the clients send different headers:" >&2
    cat "$lp.hdr.pomlrun-fe" "$lp.hdr.python" >&2; exit 1; }

# in flight: with barrier=K the server holds every request until K have
# arrived, so a client with fewer than K at once never finishes.  Both
# must finish with K = llm_jobs, and must not within 3 s with one more.
for k in $llm_jobs $((llm_jobs + 1)); do
    f="fault/barrier=$k,id=pomlrun-$k"
    sed "s|^    id: bench-model\$|    id: \"$f\"|" "$lp-fe.poml" \
        > "$lp-b$k.poml"
    "$pomlc" "$lp-b$k.poml" -o "$lp-b$k.plan"
done
timeout 60 $prun "$lp-b$llm_jobs.plan" ||
    llm_fail "pomlrun does not have $llm_jobs requests in flight at once"
timeout 60 $client --fault "barrier=$llm_jobs,id=python-$llm_jobs" \
    "$lp-fe.stream.jsonl" > /dev/null ||
    llm_fail "llm_client.py does not have $llm_jobs requests in flight"
k=$((llm_jobs + 1))
rc=0; timeout 3 $prun "$lp-b$k.plan" 2>/dev/null || rc=$?
[ $rc = 124 ] || llm_fail "pomlrun ended (status $rc) though the server holds
    every request until $k are in flight"
rc=0; timeout 3 $client --fault "barrier=$k,id=python-$k" \
    "$lp-fe.stream.jsonl" > /dev/null 2>&1 || rc=$?
[ $rc = 124 ] || llm_fail "llm_client.py ended (status $rc) though the server
    holds every request until $k are in flight"
head -n 1 "$lp-fe.stream.jsonl" > "$lp-one.jsonl"
for s in pomlrun-$k python-$k; do # the K-th request frees the held ones
    $client --fault "barrier=$k,id=$s" "$lp-one.jsonl" > /dev/null
done

# the server's CPU time (user + system, clock ticks) so far
srvcpu() { awk '{ print $14 + $15 }' "/proc/$srv/stat"; }
rm -f "$work"/t.*
r=0
while [ $r -lt $llm_runs ]; do
    i=0
    for cmd in "$client $lp-fe.stream.jsonl" "$prun $lp-fe.plan" \
               "$prun $lp-st.plan" "$client $lp-fe.whole.jsonl" \
               "$prun --no-stream $lp-fe.plan" \
               "$client $lp-none.stream.jsonl" "$prun $lp-none.plan" \
               "$raw $lp-fe.stream.jsonl" "$raw $lp-fe.whole.jsonl" \
               "$raw $lp-none.stream.jsonl"; do
        : > "$llm_log"
        a=$(srvcpu)
        t=$(stats 1 "$cmd")
        echo "$t $(( $(srvcpu) - a ))" >> "$work/t.$i"
        i=$((i + 1))
    done
    r=$((r + 1))
done
echo "== llm: 1,000 requests, $llm_jobs in flight, loopback server"
PYTHONIOENCODING=utf-8 python3 -c 'import statistics, sys
w, n, tick = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
med = statistics.median
def load(i):
    rs = [[float(v) for v in x.split()] for x in open("%s/t.%d" % (w, i))]
    ts = [r[0] for r in rs]
    return (med(ts), ts, med(r[2] + r[3] for r in rs),
            statistics.mean(r[4] for r in rs) / tick)
def span(ts):
    return "%6.1f\u2013%6.1f" % (min(ts) * 1e3, max(ts) * 1e3)
print("  %-35s %12s %15s %6s %8s %7s %6s  %11s %6s  %s" % ("",
      "wall, median", "min\u2013max", "req/s", "\u00b5s/call", "-floor",
      "ratio", "CPU \u00b5s/call", "ratio", "server CPU \u00b5s/call"))
up = {"py": load(5), "poml": load(6), "raw": load(9)}
print("  start-up alone, no requests (subtracted below)")
for l, k in (("raw libcurl multi client", "raw"),
             ("python3 asyncio client", "py"),
             ("pomlrun, a for_each of no items", "poml")):
    t, ts, c, s = up[k]
    print("  %-35s %9.1f ms %15s %6s %8s %7s %6s  %8.1f ms" % (
          l, t * 1e3, span(ts), "", "", "", "", c * 1e3))
groups = [("streamed replies (SSE), the default", [
              (7, "raw libcurl multi client (ref.)", "raw"),
              (0, "python3 asyncio client", "py"),
              (1, "pomlrun (streaming), a for_each", "poml"),
              (2, "pomlrun (streaming), 1,000 steps", "poml")]),
          ("whole replies", [
              (8, "raw libcurl multi client (ref.)", "raw"),
              (3, "python3 asyncio client", "py"),
              (4, "pomlrun (--no-stream), a for_each", "poml")])]
for title, rows in groups:
    print("  %s" % title)
    got = []
    for i, l, k in rows:
        t, ts, c, s = load(i)
        # net of the client start-up: what the calls cost
        got.append((l, t, ts, t - up[k][0], c - up[k][2], s))
    floor = min(g[5] for g in got)
    ref = got[0]
    for l, t, ts, nt, c, s in got + [("server-bound floor (est.)", floor,
                                      None, floor, None, floor)]:
        print("  %-35s %9.1f ms %15s %6s %8.1f %+7.1f %5.2fx  %11s %6s  %8.1f"
              % (l, t * 1e3, span(ts) if ts else "",
                 "{:,.0f}".format(n / nt), nt / n * 1e6,
                 (nt - floor) / n * 1e6, nt / ref[3],
                 "%.1f" % (c / n * 1e6) if c is not None else "",
                 "%.2fx" % (c / ref[4]) if c is not None else "",
                 s / n * 1e6))' \
    "$work" $llm_n "$(getconf CLK_TCK)"
echo "  (checked first: each client gets every reply, the server gets the"
echo "   same request bodies from both, and both keep $llm_jobs in flight;"
echo "   median of $llm_runs runs, taken in turns; req/s, µs/call (wall /"
echo "   calls) and CPU µs/call (user + system time / calls) are net of the"
echo "   client's start-up, the same command with no requests; -floor: µs/call"
echo "   less the floor's; server CPU: the server's, mean; floor: the least"
echo "   server CPU time a call took with any client, what a client costing"
echo "   nothing would still wait: the server's threads share one GIL)"
