#!/bin/sh
# build-shell.sh -- builds fuzz/fuzz_shell (the shell lexer of
# runtime/shell.c, checked against /bin/sh) with libFuzzer, ASan and UBSan,
# and writes a seed corpus to fuzz/corpus-shell/ (not in git)
#
# Usage: fuzz/build-shell.sh
set -e
LC_ALL=C
export LC_ALL
src=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}

$CC -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer -g -O1 -std=c11 -D_GNU_SOURCE \
    -I"$src/runtime" -o "$src/fuzz/fuzz_shell" "$src/fuzz/fuzz_shell.c" \
    "$src/runtime/shell.c" "$src/runtime/buf.c" "$src/runtime/util.c"

# seeds: script token bytes, NUL, value token bytes (see fuzz_shell.c)
c=$src/fuzz/corpus-shell
mkdir -p "$c"
printf '\001\026\000\007\020\041' > "$c/bare"
printf '\001\004\026\004\000\007\020' > "$c/double"
printf '\001\003\026\003\000\004\007\011' > "$c/single"
printf '\050\026\021\000\007\040' > "$c/heredoc"
printf '\001\006\001\026\007\000\011\012' > "$c/subst"
printf '\001\013\041\026\014\000\035' > "$c/arith"
printf '\001\011\026\012\000\033\007' > "$c/default"
echo "built $src/fuzz/fuzz_shell; run:"
echo "  $src/fuzz/fuzz_shell -max_len=256 -max_total_time=600 $c"
