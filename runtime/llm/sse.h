/* sse.h -- a reader of server-sent events (text/event-stream)
 *
 * Bytes go in as they arrive, cut anywhere (inside a line, between CR
 * and LF, inside a UTF-8 character); each complete event comes out once,
 * through the callback, in order.  The rules are the event-stream
 * interpretation of the HTML standard: lines end in CRLF, LF or CR; a
 * leading U+FEFF is skipped; a line starting with ':' is a comment;
 * "data" lines are joined with LF, "event" names the type, "id" sets the
 * last event id, "retry" and unknown fields are ignored; a field's value
 * loses one leading space.  A blank line ends an event, which is passed
 * on when it has data.  What is left when the stream ends was never a
 * complete event: the caller drops it (pr_sse_free).
 *
 * Linear: each byte is looked at a bounded number of times, whatever the
 * pieces; memory holds the current line and the current event.  The LLM
 * client reads model streams with it; an MCP client reads its server's
 * stream the same way.
 */
#ifndef POML_SSE_H
#define POML_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct pr_sse_event {
    const char *type; /* "message" when the stream named none */
    char *data;       /* the data lines joined with LF, NUL-
                         terminated; the callback may change
                         its bytes in place */
    size_t len;       /* of DATA, without the NUL */
    const char *id;   /* the last event id, "" when none */
};

/* Called once per event; 0 to go on, anything else stops pr_sse_feed,
 * which returns it. */
typedef int (*pr_sse_fn)(void *ud, struct pr_sse_event *ev);

struct pr_sse {
    pr_sse_fn on_event;
    void *ud;
    struct pr_buf line; /* the line being read */
    struct pr_buf data, type, id;
    bool cr;      /* the last byte was CR: an LF next ends
                     no other line */
    bool started; /* the stream's first bytes are past */
};

void pr_sse_init(struct pr_sse *s, pr_sse_fn on_event, void *ud);
void pr_sse_free(struct pr_sse *s);

/* Reads N more bytes of the stream.  0; -1 when memory runs out (the
 * reader is then unusable); or the callback's nonzero return. */
int pr_sse_feed(struct pr_sse *s, const char *p, size_t n);

#endif
