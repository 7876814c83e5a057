#!/bin/sh
# run.sh -- the benchmarks: poml's figures next to what a user would
# otherwise use, measured in one run and printed as ratios.
#   lint:    pomlc --lint on a 10,000-step workflow vs PyYAML's C loader
#            merely loading the same file
#   plan:    pomlc compiling a 100,000-step workflow, the plan's size, and
#            pomlrun --check (map and validate) vs ninja loading an
#            equivalent build.ninja and PyYAML loading the POML source
#   run:     executing `true` steps with 2 jobs -- 10,000 independent, a
#            1,000-step chain, a 100 x 100 layered DAG -- by pomlrun, make,
#            ninja and a bare posix_spawn loop (bench/spawnfloor.c, the floor)
#   sched:   pomlrun scheduling 100,000 in-process steps (gates, aggregators),
#            net of loading the plan (pomlrun --check)
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
trap 'rm -rf "$work"' EXIT

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
    "$pomlrun" --json --jobs $jobs "$3" 2>"$work/r.err" >"$work/r.json" &&
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
                   "$pomlrun -q --jobs $jobs $p.plan"; do
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
        "make -r -j$jobs" "ninja -j$jobs" "pomlrun --jobs $jobs"
}

run_shape independent 10000 $jobs "10,000 independent steps"
run_shape chain 1000 1 "a 1,000-step chain"
run_shape layered 10000 $jobs "a 100 x 100 layered DAG (24,750 edges)"
echo "  (the floor spawns 'true' by posix_spawnp and waitpid, $jobs in flight;"
echo "   for the chain one at a time, as its edges allow; ninja runs commands"
echo "   through /bin/sh -c, make and pomlrun run 'true' directly; median of"
echo "   $runs runs each, taken in turns; µs/step = median / steps, -floor the"
echo "   same less the floor's; CPU: user + system time, children included)"

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
    t=$(stats 5 "$pomlrun -q --jobs $jobs $p.plan")
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
