#!/bin/sh
# build-plan.sh -- builds fuzz/fuzz_plan (the plan loader) with libFuzzer,
# ASan and UBSan, and writes a seed corpus of valid plans to
# fuzz/corpus-plan/ (made by the unit test's generator; not in git)
#
# Usage: fuzz/build-plan.sh
set -e
LC_ALL=C
export LC_ALL
src=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}
rt=$(ls "$src"/runtime/*.c)

$CC -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer -g -O1 -std=c11 -D_GNU_SOURCE \
    -I"$src/runtime" -I"$src/tests/plan" -o "$src/fuzz/fuzz_plan" \
    "$src/fuzz/fuzz_plan.c" $rt \
    -lcjson -lm -lpthread

# seeds: the unit test's plans, and earlier findings
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$CC -std=c11 -D_GNU_SOURCE -I"$src/runtime" -I"$src/tests/plan" \
    -o "$tmp/seeds" \
    "$src/tests/unit/check_plan.c" $rt $(pkg-config --cflags --libs check) \
    -lcjson -lm -lpthread
mkdir -p "$src/fuzz/corpus-plan"
POML_PLAN_SEEDS="$src/fuzz/corpus-plan" "$tmp/seeds"
# compiled examples, when pomlc has been built in the source tree
if [ -x "$src/pomlc" ]; then
    for f in "$src"/examples/*.poml "$src"/examples/seeds/*.poml; do
        [ -f "$f" ] || continue
        b=$(basename "$f" .poml)
        POML_STDLIB="$src/stdlib" "$src/pomlc" "$f" \
            -o "$src/fuzz/corpus-plan/example-$b" 2>/dev/null || true
    done
fi
for f in "$src"/tests/plan/crashes/*; do
    case $f in */README) continue ;; esac
    [ -f "$f" ] && cp "$f" "$src/fuzz/corpus-plan/"
done
echo "built $src/fuzz/fuzz_plan; run:"
echo "  $src/fuzz/fuzz_plan -max_total_time=600 $src/fuzz/corpus-plan"
