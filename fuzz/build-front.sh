#!/bin/sh
# build-front.sh -- builds fuzz/fuzz_front (the whole compiler front end,
# plan writer and loader) and fuzz/fuzz_template (prompt files, the
# template compiler, checker and renderer) with libFuzzer, ASan and UBSan
#
# Usage: fuzz/build-front.sh [BUILDDIR]  (where `make` generated grammar/)
set -e
LC_ALL=C
export LC_ALL
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src}" && pwd)
CC=${CC:-clang}
[ -f "$build/config.h" ] || { echo "build-front.sh: configure first" >&2; exit 1; }
for f in yaml_scan yaml_parse expr_scan expr_parse; do
    [ -f "$build/grammar/$f.c" ] ||
        { echo "build-front.sh: run make first" >&2; exit 1; }
done
for h in front template; do
    $CC -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -fno-omit-frame-pointer -g -O1 -std=c11 -D_GNU_SOURCE \
        -include "$build/config.h" -DPOML_STDLIB_DIR='"/nonexistent"' \
        -I"$build" -I"$build/grammar" -I"$src/runtime" -I"$src/compiler" \
        -I"$src/grammar" -o "$src/fuzz/fuzz_$h" "$src/fuzz/fuzz_$h.c" \
        "$src"/compiler/[!p]*.c "$src"/compiler/picoschema.c \
        "$src"/compiler/prompt_file.c \
        "$src"/runtime/[!p]*.c "$src"/runtime/plan_build.c \
        "$src"/runtime/plan_load.c "$src"/runtime/prompt.c \
        "$build"/grammar/yaml_scan.c "$build"/grammar/yaml_parse.c \
        "$build"/grammar/expr_scan.c "$build"/grammar/expr_parse.c \
        -lcjson -lm -lpthread
done
mkdir -p "$src/fuzz/corpus-front" "$src/fuzz/corpus-template"
for f in "$src"/examples/*.poml "$src"/examples/seeds/*.poml \
    "$src"/tests/lint/valid/*.poml "$src"/tests/lint/invalid/*.poml; do
    [ -f "$f" ] && cp "$f" "$src/fuzz/corpus-front/"
done
for f in "$src"/examples/prompts/*.md "$src"/tests/lint/*/*.md \
    "$src"/tests/lint/*/prompts/*.md; do
    [ -f "$f" ] && cp "$f" "$src/fuzz/corpus-template/"
done
echo "built $src/fuzz/fuzz_front and $src/fuzz/fuzz_template; run:"
echo "  $src/fuzz/fuzz_front -max_len=8192 -max_total_time=600 $src/fuzz/corpus-front"
echo "  $src/fuzz/fuzz_template -max_len=4096 -max_total_time=600" \
    "$src/fuzz/corpus-template"
