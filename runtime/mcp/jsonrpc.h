/* jsonrpc.h -- JSON-RPC 2.0 messages, one per line (MCP's stdio framing)
 *
 * The line reader takes bytes as they arrive, cut anywhere, and hands
 * out each complete line (without its LF, and without a CR before it).
 * A line longer than the reader's limit is not kept: its bytes are
 * skipped up to the next LF and the line is reported as too long, so a
 * peer can never make the reader hold more than the limit.  Blank lines
 * are skipped.
 *
 * pr_jrpc_parse classifies one line: a request (method and id), a
 * notification (method, no id), a response (id with result or error) or
 * not a JSON-RPC message at all, with the reason.  Ids are numbers or
 * strings; the client only ever sends integer ids, so a response whose
 * id is anything else cannot be one of its own.
 */
#ifndef POML_JSONRPC_H
#define POML_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"

/* ---- the line reader ---- */

struct pr_jrpc_lines {
    struct pr_buf line; /* the current line, up to max bytes */
    size_t max;         /* the longest line kept */
    bool skipping;      /* inside a line past max */
    size_t skipped;     /* its length so far */
};

/* Called once per complete line: LINE (NUL-terminated, LEN bytes; the
 * callback may change it in place) or, when TOO_LONG, NULL and the
 * length of the line that was dropped.  0 to go on; anything else stops
 * pr_jrpc_feed, which returns it. */
typedef int (*pr_jrpc_line_fn)(void *ud, char *line, size_t len,
                               bool too_long);

void pr_jrpc_lines_init(struct pr_jrpc_lines *r, size_t max);
void pr_jrpc_lines_free(struct pr_jrpc_lines *r);
/* Feeds N bytes.  0, what a callback returned, or -1 when out of
 * memory. */
int pr_jrpc_feed(struct pr_jrpc_lines *r, const char *p, size_t n,
                 pr_jrpc_line_fn fn, void *ud);

/* ---- messages ---- */

enum pr_jrpc_kind {
    PR_JRPC_INVALID,
    PR_JRPC_REQUEST,
    PR_JRPC_NOTIFICATION,
    PR_JRPC_RESULT,
    PR_JRPC_ERROR
};

struct pr_jrpc_msg {
    enum pr_jrpc_kind kind;
    cJSON *root;        /* the whole message; the caller frees it */
    const cJSON *id;    /* requests and responses (may be null on an
                           error response) */
    bool int_id;        /* ID is an integer that fits ID_NUM */
    int64_t id_num;
    const char *method; /* requests and notifications */
    const cJSON *params;   /* may be NULL */
    const cJSON *result;   /* PR_JRPC_RESULT */
    long long error_code;  /* PR_JRPC_ERROR */
    const char *error_msg; /* PR_JRPC_ERROR, "" when none */
    const cJSON *error_data;
    char why[160]; /* PR_JRPC_INVALID: the reason */
};

/* Classifies LINE (LEN bytes).  Always fills M; M->root is NULL when the
 * line is not JSON. */
void pr_jrpc_parse(const char *line, size_t len, struct pr_jrpc_msg *m);

/* The text of a request (ID >= 0) or notification (ID < 0) of METHOD
 * with PARAMS (borrowed; NULL: none), malloc'd, one line without the LF.
 * NULL when out of memory. */
char *pr_jrpc_request(int64_t id, const char *method, const cJSON *params);
/* A result response to request id ID (borrowed) with RESULT (borrowed;
 * NULL: {}). */
char *pr_jrpc_result(const cJSON *id, const cJSON *result);
/* An error response to ID (borrowed; NULL: null). */
char *pr_jrpc_error(const cJSON *id, long long code, const char *msg);

/* JSON-RPC error codes. */
#define PR_JRPC_PARSE_ERROR -32700
#define PR_JRPC_INVALID_REQUEST -32600
#define PR_JRPC_METHOD_NOT_FOUND -32601
#define PR_JRPC_INVALID_PARAMS -32602

#endif
