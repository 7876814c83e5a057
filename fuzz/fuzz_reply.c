/* fuzz_reply.c -- libFuzzer harness for what a model server sends back:
 * the server-sent-event framing and the OpenAI / Anthropic event and
 * reply parsers of runtime/llm/llm.c (included here, as they are static).
 *
 * The first byte picks the protocol, streaming or not, and how the body
 * is cut into pieces (as TCP delivers it); the rest is the body.  Build:
 * fuzz/build-reply.sh
 */
#include "../runtime/llm/llm.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return 0;
    c->anthropic = data[0] & 1;
    c->stream = (data[0] & 2) != 0;
    size_t piece = 1 + (data[0] >> 2);  /* 1 .. 64 bytes at a time */
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    for (size_t at = 0; at < n; at += piece)
        if (on_data(c, body + at, at + piece <= n ? piece : n - at) < 0)
            break;
    if (!c->stream) {
        cJSON *r = cJSON_ParseWithLength(
            c->raw.data ? (const char *)c->raw.data : "", c->raw.len);
        if (r)
            parse_whole(c, r);
        cJSON_Delete(r);
    }
    char msg[400];
    error_message(c, msg, sizeof msg);
    free_call(c);
    return 0;
}
