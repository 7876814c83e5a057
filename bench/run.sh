#!/bin/sh
# run.sh -- the benchmarks: poml's figures next to what a user would
# otherwise use, measured in one run and printed as ratios.
#   lint:    pomlc --lint on a 10,000-step workflow vs PyYAML's C loader
#            merely loading the same file
#   plan:    pomlc compiling a 100,000-step workflow, the plan's size, and
#            pomlrun --check (map and validate) vs ninja loading an
#            equivalent build.ninja and PyYAML loading the POML source
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
