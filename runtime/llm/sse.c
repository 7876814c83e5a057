/* sse.c -- a reader of server-sent events (text/event-stream)
 *
 * Splits the bytes into lines (copied only while a line spans two
 * pieces), reads each line's field, and passes each complete event on.
 * The rules are in sse.h.
 */
#include <string.h>

#include "sse.h"

void pr_sse_init(struct pr_sse *s, pr_sse_fn on_event, void *ud)
{
    memset(s, 0, sizeof *s);
    s->on_event = on_event;
    s->ud = ud;
}

void pr_sse_free(struct pr_sse *s)
{
    pr_buf_free(&s->line);
    pr_buf_free(&s->data);
    pr_buf_free(&s->type);
    pr_buf_free(&s->id);
}

/* B holds exactly the N bytes at P, NUL-terminated. */
static int set(struct pr_buf *b, const char *p, size_t n)
{
    b->len = 0;
    if (pr_buf_append(b, p, n) < 0 || pr_buf_append_u8(b, 0) < 0)
        return -1;
    b->len--;
    return 0;
}

static int dispatch(struct pr_sse *s)
{
    if (!s->data.len) {
        s->type.len = 0;
        return 0;
    }
    s->data.len--; /* the LF after the last data line */
    s->data.data[s->data.len] = '\0';
    struct pr_sse_event ev = {.type = s->type.len ? (const char *)s->type.data
                                                  : "message",
                              .data = (char *)s->data.data,
                              .len = s->data.len,
                              .id = s->id.len ? (const char *)s->id.data : ""};
    int rc = s->on_event(s->ud, &ev);
    s->data.len = 0;
    s->type.len = 0;
    return rc;
}

/* One line, without its end. */
static int line(struct pr_sse *s, const char *p, size_t n)
{
    if (!n)
        return dispatch(s);
    if (p[0] == ':')
        return 0;
    const char *colon = memchr(p, ':', n);
    size_t fl = colon ? (size_t)(colon - p) : n;
    const char *v = colon ? colon + 1 : p + n;
    size_t vl = (size_t)(p + n - v);
    if (vl && *v == ' ')
        v++, vl--;
    if (fl == 4 && !memcmp(p, "data", 4)) {
        /* the LF becomes the NUL when it is the last */
        if (pr_buf_append(&s->data, v, vl) < 0 ||
            pr_buf_append_u8(&s->data, '\n') < 0)
            return -1;
    } else if (fl == 5 && !memcmp(p, "event", 5)) {
        return set(&s->type, v, vl);
    } else if (fl == 2 && !memcmp(p, "id", 2)) {
        if (!memchr(v, '\0', vl))
            return set(&s->id, v, vl);
    }
    return 0;
}

int pr_sse_feed(struct pr_sse *s, const char *p, size_t n)
{
    if (!s->started && n) {
        /* a byte order mark may open the stream, even cut in pieces */
        static const char bom[] = "\xef\xbb\xbf";
        size_t have = s->line.len, k = 0;
        while (have + k < 3 && k < n && p[k] == bom[have + k])
            k++;
        if (have + k < 3 && k == n) /* all of it may start the mark */
            return pr_buf_append(&s->line, p, n) < 0 ? -1 : 0;
        s->started = true;
        if (have + k == 3) {
            s->line.len = 0;
            p += k, n -= k;
        }
        /* else: no mark, and what was held is the line's start */
    }
    while (n) {
        if (s->cr) {
            s->cr = false;
            if (*p == '\n') {
                p++, n--;
                continue;
            }
        }
        size_t i = 0;
        while (i < n && p[i] != '\n' && p[i] != '\r')
            i++;
        if (i == n) {
            if (pr_buf_append(&s->line, p, n) < 0)
                return -1;
            return 0;
        }
        int rc;
        if (s->line.len) {
            if (pr_buf_append(&s->line, p, i) < 0)
                return -1;
            rc = line(s, (const char *)s->line.data, s->line.len);
            s->line.len = 0;
        } else {
            rc = line(s, p, i);
        }
        s->cr = p[i] == '\r';
        p += i + 1, n -= i + 1;
        if (rc)
            return rc;
    }
    return 0;
}
