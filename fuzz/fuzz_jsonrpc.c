/* fuzz_jsonrpc.c -- libFuzzer harness for what an MCP server writes on
 * its standard output: the line reader and the message classifier
 * (runtime/mcp/jsonrpc.c).
 *
 * The first byte says how the bytes are cut into pieces (as a pipe
 * delivers them) and picks a small line limit now and then, so that the
 * too-long path is reached; the rest is the stream.  Every line is
 * classified, and a request is answered as the client would (an error
 * response echoing its id), which must print as one line.  Invariants
 * checked: the reader never holds more than its limit, a classified
 * message has the members its kind promises.  Build: fuzz/build-jsonrpc.sh
 */
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_line(void *ud, char *line, size_t len, bool too_long)
{
    (void)ud;
    if (too_long)
        return 0;
    struct pr_jrpc_msg m;
    pr_jrpc_parse(line, len, &m);
    switch (m.kind) {
    case PR_JRPC_REQUEST: {
        if (!m.method || !m.id || !m.root)
            abort();
        char *s = pr_jrpc_error(m.id, PR_JRPC_METHOD_NOT_FOUND, m.method);
        if (s && strchr(s, '\n'))
            abort();
        free(s);
        break;
    }
    case PR_JRPC_NOTIFICATION:
        if (!m.method || m.id)
            abort();
        break;
    case PR_JRPC_RESULT:
        if (!m.result || !m.id)
            abort();
        break;
    case PR_JRPC_ERROR:
        if (!m.error_msg || !m.id)
            abort();
        break;
    case PR_JRPC_INVALID:
        if (!m.why[0])
            abort();
        break;
    }
    cJSON_Delete(m.root);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = 1 + (data[0] & 63);
    size_t max = data[0] & 64 ? 32 : 1u << 20;
    struct pr_jrpc_lines r;
    pr_jrpc_lines_init(&r, max);
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    for (size_t at = 0; at < n; at += piece) {
        size_t k = n - at < piece ? n - at : piece;
        if (pr_jrpc_feed(&r, p + at, k, on_line, NULL) != 0)
            abort();
        if (r.line.len > max)
            abort();
    }
    pr_jrpc_lines_free(&r);
    return 0;
}
