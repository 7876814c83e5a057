/* fuzz_reply.c -- libFuzzer harness for what a model server sends back:
 * the server-sent-event framing (runtime/llm/sse.c) and the OpenAI /
 * Anthropic event, whole-reply and error-reply readers (proto.h).
 *
 * The first byte picks the protocol, streaming or not, and how the body
 * is cut into pieces (as TCP delivers it); the rest is the body.  Build:
 * fuzz/build-reply.sh
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const struct pr_llm_proto *pr = pr_llm_proto_for(data[0] & 1 ? "anthropic"
                                                                 : "openai");
    bool stream = (data[0] & 2) != 0;
    size_t piece = 1 + (data[0] >> 2); /* 1 .. 64 bytes at a time */
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    struct pr_llm_parsed p;
    memset(&p, 0, sizeof p);
    if (stream) {
        struct pr_llm_stream s;
        pr_llm_stream_init(&s, pr, &p);
        for (size_t at = 0; at < n; at += piece)
            pr_llm_stream_feed(&s, body + at,
                               at + piece <= n ? piece : n - at);
        pr_llm_stream_free(&s);
    } else {
        char *copy = malloc(n + 1);
        if (!copy)
            return 0;
        memcpy(copy, body, n);
        pr_llm_whole(pr, &p, copy, n);
        free(copy);
    }
    char msg[400];
    bool quota;
    pr_llm_error(pr, body, n, msg, sizeof msg, &quota);
    pr_llm_parsed_free(&p);
    return 0;
}
