#!/bin/sh
# build-jsonrpc.sh -- builds fuzz/fuzz_jsonrpc (what an MCP server writes:
# runtime/mcp/jsonrpc.c's line reader and classifier) with libFuzzer, ASan
# and UBSan, and writes a seed corpus from the loopback server's kinds of
# lines to fuzz/corpus-jsonrpc/ (not in git)
#
# Usage: fuzz/build-jsonrpc.sh
set -e
LC_ALL=C
export LC_ALL
src=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}

$CC -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer -g -O1 -std=c11 -D_GNU_SOURCE \
    -include "$src/config.h" -I"$src/runtime" -I"$src/runtime/mcp" \
    -o "$src/fuzz/fuzz_jsonrpc" "$src/fuzz/fuzz_jsonrpc.c" \
    "$src/runtime/mcp/jsonrpc.c" "$src/runtime/buf.c" -lcjson -lm

c=$src/fuzz/corpus-jsonrpc
mkdir -p "$c"
# first byte: the piece size (bits 0-5), a 32-byte line limit (bit 6)
printf '\005{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}}}}\n{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\r\n' > "$c/init"
printf '\077{"jsonrpc":"2.0","id":"r1","method":"roots/list"}\n{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"bad"}}\n' > "$c/request-error"
printf '\100not json\n[1,2]\n{"jsonrpc":"1.0"}\n\n{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"a line far longer than thirty-two bytes"}]}}\n' > "$c/garbage-long"
printf '\001{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":5,"progress":1,"total":2}}\n' > "$c/progress"
echo "built $src/fuzz/fuzz_jsonrpc; run:"
echo "  $src/fuzz/fuzz_jsonrpc -max_total_time=180 $c"
