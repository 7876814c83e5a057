#!/bin/sh
# build-reply.sh -- builds fuzz/fuzz_reply (server-sent events and model
# replies, runtime/llm/sse.c and proto*.c) with libFuzzer, ASan and UBSan,
# and writes a seed corpus of real-looking replies to fuzz/corpus-reply/
# (not in git)
#
# Usage: fuzz/build-reply.sh
set -e
LC_ALL=C
export LC_ALL
src=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}
# the runtime, the executor and the LLM client, linked as they ship
rt=$(ls "$src"/runtime/*.c "$src"/runtime/exec/*.c "$src"/runtime/llm/*.c)

$CC -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer -g -O1 -std=c11 -D_GNU_SOURCE \
    -include "$src/config.h" -I"$src/runtime" -I"$src/runtime/exec" \
    -I"$src/runtime/llm" -o "$src/fuzz/fuzz_reply" \
    "$src/fuzz/fuzz_reply.c" $rt \
    -lcjson -lm -lpthread

c=$src/fuzz/corpus-reply
mkdir -p "$c"
# first byte: bit 0 anthropic, bit 1 streaming, the rest the piece size
printf '\002data: {"choices":[{"index":0,"delta":{"content":"h\xc3\xa9"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\ndata: [DONE]\n\n' > "$c/openai-stream"
printf '\016data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":"{\\"a\\""}}]}}]}\r\n\r\ndata: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}\r\n\r\ndata: [DONE]\r\n\r\n' > "$c/openai-tools"
printf '\003event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5}}}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n"}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\nevent: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":7}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n' > "$c/anthropic-stream"
printf '\000{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}' > "$c/openai-whole"
printf '\001{"content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t","name":"n","input":{"a":1}}],"usage":{"input_tokens":1,"output_tokens":2}}' > "$c/anthropic-whole"
printf '\000{"error":{"message":"rate limited","type":"rate_limit"}}' > "$c/error"
echo "built $src/fuzz/fuzz_reply; run:"
echo "  $src/fuzz/fuzz_reply -max_total_time=600 $c"
