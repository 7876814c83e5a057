/* mcp_int.h -- the MCP client's own modules: the stdio transport and the
 * table of pending requests (not part of the interface, mcp.h) */
#ifndef POML_MCP_INT_H
#define POML_MCP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "mcp.h"

/* ---- stdio.c: a server as a child process ---- */

/* What of a server's standard error is kept: its last bytes. */
#define PR_MCP_ERR_TAIL 4096
/* What may wait to be written to a server that does not read. */
#define PR_MCP_MAX_QUEUE (16u << 20)

struct pr_mcp_stdio {
    pid_t pid;          /* 0: not running */
    int in, out, err;   /* our ends: its stdin, stdout, stderr; -1 closed */
    struct pr_buf wq;   /* bytes not yet written */
    size_t woff;        /* of WQ, written */
    char tail[PR_MCP_ERR_TAIL]; /* the last of its stderr, a ring */
    size_t tail_len, tail_at;
    int status;         /* wait status once reaped */
    bool reaped;
};

/* Starts S with pipes for its standard streams, in a process group of
 * its own; the parent's ends are non-blocking and close-on-exec.  0, or
 * -1 with ERR. */
int pr_mcp_stdio_start(struct pr_mcp_stdio *t, const struct pr_mcp_server *s,
                       char *err, size_t cap);
/* Queues LINE and a LF.  -1 when the queue would pass PR_MCP_MAX_QUEUE
 * or memory runs out. */
int pr_mcp_stdio_queue(struct pr_mcp_stdio *t, const char *line);
/* Writes what it can of the queue: 1 when some is left, 0 when all was
 * written, -1 when the server's input is closed (EPIPE). */
int pr_mcp_stdio_flush(struct pr_mcp_stdio *t);
/* Reads what stderr has now into the tail; false at its end. */
bool pr_mcp_stdio_drain_err(struct pr_mcp_stdio *t);
/* The tail of stderr, its last line or lines, into BUF ("" when none). */
void pr_mcp_stdio_tail(const struct pr_mcp_stdio *t, char *buf, size_t cap);
/* Shuts the server down: what is queued written (GRACE seconds at
 * most), stdin closed, GRACE seconds to exit, SIGTERM to
 * its group, GRACE more, SIGKILL; reaps it.  Closes every pipe. */
void pr_mcp_stdio_stop(struct pr_mcp_stdio *t, double grace);
/* How it ended ("exit status 3", "killed by signal 9"), or "" while not
 * reaped. */
void pr_mcp_stdio_how(const struct pr_mcp_stdio *t, char *buf, size_t cap);

/* ---- pending.c: requests waiting for their reply ---- */

enum pr_mcp_req {
    PR_MCP_REQ_DISCOVER,
    PR_MCP_REQ_INIT,
    PR_MCP_REQ_LIST,
    PR_MCP_REQ_CALL
};

struct pr_mcp_pending {
    int64_t id;
    double deadline; /* monotonic */
    enum pr_mcp_req what;
    void *call;      /* PR_MCP_REQ_CALL: the call */
};

struct pr_mcp_table {
    struct pr_mcp_pending *v;
    size_t n, cap;
};

/* Adds an entry.  0 or -1 (no memory). */
int pr_mcp_table_add(struct pr_mcp_table *t, int64_t id, double deadline,
                     enum pr_mcp_req what, void *call);
/* Takes the entry of ID out into *OUT; false when ID is not pending. */
bool pr_mcp_table_take(struct pr_mcp_table *t, int64_t id,
                       struct pr_mcp_pending *out);
/* The entry of CALL, or NULL. */
struct pr_mcp_pending *pr_mcp_table_of(struct pr_mcp_table *t,
                                       const void *call);
/* Takes out one entry whose deadline is <= NOW into *OUT; false when
 * none is. */
bool pr_mcp_table_expired(struct pr_mcp_table *t, double now,
                          struct pr_mcp_pending *out);
/* The soonest deadline; < 0 when the table is empty. */
double pr_mcp_table_next(const struct pr_mcp_table *t);
void pr_mcp_table_free(struct pr_mcp_table *t);

/* ---- http_wire.c: the streamable HTTP transport's headers and replies ---- */

/* What a POST's headers depend on. */
struct pr_mcp_http_ctx {
    const char *revision;      /* MCP-Protocol-Version; NULL: none yet */
    bool stateless;            /* 2026-07-28: Mcp-Method, Mcp-Name; no
                                  session, no resumption */
    const char *session;       /* Mcp-Session-Id, or NULL */
    const char *last_event_id; /* Last-Event-ID, or NULL */
    const struct pr_mcp_http_extra {
        const char *name, *value; /* the value from the environment */
    } *extra;                  /* the workflow's own headers */
    size_t nextra;
};

/* Header lines, "Name: value" each NUL-terminated, one after another. */
struct pr_mcp_http_hdrs {
    struct pr_buf b;
    size_t n;
};

enum pr_mcp_http_body {
    PR_MCP_HTTP_JSON,         /* one JSON-RPC message */
    PR_MCP_HTTP_SSE,          /* an event stream of messages */
    PR_MCP_HTTP_NONE,         /* accepted, no body (not for a request) */
    PR_MCP_HTTP_SESSION_GONE, /* 404 on a session: initialize again */
    PR_MCP_HTTP_FAIL
};

/* S is an HTTP token (a header name). */
bool pr_mcp_http_token(const char *s);
/* Appends V as a header value: itself when plain printable ASCII, else
 * "=?base64?" B64 "?=".  0 or -1 (memory). */
int pr_mcp_http_encode_value(struct pr_buf *b, const char *v);
/* The headers of a POST of MSG into OUT (freed with pr_buf_free on
 * OUT->b).  0, or -1 with ERR: out of memory, a header name that is not
 * a token, or a value with a line break (never sent). */
int pr_mcp_http_headers(const struct pr_mcp_http_ctx *c, const cJSON *msg,
                        struct pr_mcp_http_hdrs *out, char *err, size_t cap);
/* Header line I of H, or NULL. */
const char *pr_mcp_http_hdr_at(const struct pr_mcp_http_hdrs *h, size_t i);
/* What a reply of STATUS with content type CTYPE (NULL: none) holds, to
 * a REQUEST (else a notification or a response) sent with a session
 * when HAD_SESSION; ERR says why for SESSION_GONE and FAIL. */
enum pr_mcp_http_body pr_mcp_http_classify(long status, const char *ctype,
                                           bool had_session, bool request,
                                           char *err, size_t cap);
/* When the response header LINE (LEN bytes, CRLF included or not) is
 * NAME (any case), its value, trimmed, into VAL: 1; 0 when it is
 * another header; -1 when the value does not fit CAP or has a byte
 * outside 0x21-0x7E (what a session id may hold). */
int pr_mcp_http_response_header(const char *line, size_t len,
                                const char *name, char *val, size_t cap);

#endif
