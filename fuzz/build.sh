#!/bin/sh
# build.sh -- builds fuzz/fuzz_yaml with libFuzzer, ASan and UBSan
#
# Usage: fuzz/build.sh [BUILDDIR]   (BUILDDIR: where `make` generated
# grammar/yaml_scan.c and grammar/yaml_parse.c; default the source tree)
set -e
LC_ALL=C
export LC_ALL
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src}" && pwd)
CC=${CC:-clang}

for f in grammar/yaml_scan.c grammar/yaml_parse.c grammar/yaml_parse.h; do
    if [ ! -f "$build/$f" ]; then
        echo "build.sh: $build/$f missing; run make first" >&2
        exit 1
    fi
done

$CC -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer -g -O1 -std=c11 -D_GNU_SOURCE \
    -I"$build" -I"$build/grammar" -I"$src/runtime" -I"$src/compiler" \
    -I"$src/grammar" \
    -o "$src/fuzz/fuzz_yaml" \
    "$src/fuzz/fuzz_yaml.c" "$src/runtime/arena.c" "$src/runtime/util.c" \
    "$src/compiler/source.c" \
    "$src/compiler/diag.c" "$src/compiler/yaml.c" \
    "$build/grammar/yaml_scan.c" "$build/grammar/yaml_parse.c" -lcjson

# the seed corpus: the valid and invalid examples and earlier crashes
mkdir -p "$src/fuzz/corpus"
for f in "$src"/tests/yaml/valid/*.yaml "$src"/tests/yaml/invalid/*.yaml \
    "$src"/tests/yaml/crashes/*.yaml; do
    [ -f "$f" ] && cp "$f" "$src/fuzz/corpus/"
done
echo "built $src/fuzz/fuzz_yaml; run:"
echo "  $src/fuzz/fuzz_yaml -max_len=4096 -max_total_time=600 $src/fuzz/corpus"
