/* http_wire.c -- what the streamable HTTP transport puts on the wire and
 * how it reads what comes back, apart from any connection
 *
 * A POST carries one JSON-RPC message and these request headers:
 *   Content-Type: application/json
 *   Accept: application/json, text/event-stream
 *   MCP-Protocol-Version: the revision, once it is known (2025-11-25:
 *     every POST after initialize; 2026-07-28: every POST)
 *   Mcp-Session-Id: the session the server gave (2025-11-25 only; a
 *     stateless server has none)
 *   Mcp-Method: the request's method (2026-07-28, requests only)
 *   Mcp-Name: params.name of tools/call and prompts/get, params.uri of
 *     resources/read (2026-07-28)
 *   Last-Event-ID: the stream resumed (2025-11-25, on the GET that
 *     resumes it)
 * and the workflow's own headers, whose values were read from named
 * environment variables by the caller.  A value MCP derives from the
 * message (Mcp-Name) that is not plain printable ASCII (a control
 * character, a byte past 0x7E, whitespace at either end, or text that
 * starts as the sentinel does) is sent as "=?base64?" B64(UTF-8) "?=";
 * any other value with a CR, LF or NUL in it is refused, never sent.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mcp_int.h"

static bool tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool pr_mcp_http_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!tchar((unsigned char)*s))
            return false;
    return true;
}

#define SENTINEL "=?base64?"

/* V as it may go in a header unchanged. */
static bool plain(const char *v)
{
    size_t n = strlen(v);
    if (n && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
              v[n - 1] == '\t'))
        return false;
    if (!strncmp(v, SENTINEL, sizeof SENTINEL - 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

static int put(struct pr_buf *b, const char *s)
{
    return pr_buf_append(b, s, strlen(s));
}

static int put_b64(struct pr_buf *b, const unsigned char *p, size_t n)
{
    static const char al[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {al[v >> 18 & 63], al[v >> 12 & 63],
                     i + 1 < n ? al[v >> 6 & 63] : '=',
                     i + 2 < n ? al[v & 63] : '='};
        if (pr_buf_append(b, q, 4) < 0)
            return -1;
    }
    return 0;
}

int pr_mcp_http_encode_value(struct pr_buf *b, const char *v)
{
    if (plain(v))
        return put(b, v);
    if (put(b, SENTINEL) < 0 ||
        put_b64(b, (const unsigned char *)v, strlen(v)) < 0)
        return -1;
    return put(b, "?=");
}

/* Adds "NAME: VALUE\0" to OUT; ENCODE: VALUE as pr_mcp_http_encode_value
 * gives it, else refused (1) when it has a CR, LF or other control byte
 * but a tab.  0, 1, or -1 (memory). */
static int header(struct pr_mcp_http_hdrs *out, const char *name,
                  const char *value, bool encode)
{
    if (!encode)
        for (const char *p = value; *p; p++)
            if ((unsigned char)*p < 0x20 && *p != '\t')
                return 1;
    if (put(&out->b, name) < 0 || put(&out->b, ": ") < 0 ||
        (encode ? pr_mcp_http_encode_value(&out->b, value)
                : put(&out->b, value)) < 0 ||
        pr_buf_append(&out->b, "", 1) < 0)
        return -1;
    out->n++;
    return 0;
}

/* The body field Mcp-Name mirrors for METHOD, or NULL. */
static const char *name_field(const char *method)
{
    if (!strcmp(method, "tools/call") || !strcmp(method, "prompts/get"))
        return "name";
    if (!strcmp(method, "resources/read"))
        return "uri";
    return NULL;
}

int pr_mcp_http_headers(const struct pr_mcp_http_ctx *c, const cJSON *msg,
                        struct pr_mcp_http_hdrs *out, char *err, size_t cap)
{
    pr_buf_init(&out->b);
    out->n = 0;
    int rc = 0;
#define H(n, v, e)                                                            \
    do {                                                                      \
        if ((rc = header(out, (n), (v), (e))) != 0)                           \
            goto fail;                                                        \
    } while (0)
    H("Content-Type", "application/json", false);
    H("Accept", "application/json, text/event-stream", false);
    if (c->revision)
        H("MCP-Protocol-Version", c->revision, false);
    if (c->session && !c->stateless)
        H("Mcp-Session-Id", c->session, false);
    if (c->last_event_id && !c->stateless)
        H("Last-Event-ID", c->last_event_id, false);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(msg, "method");
    bool request = cJSON_GetObjectItemCaseSensitive(msg, "id") != NULL;
    if (c->stateless && cJSON_IsString(m) && request) {
        H("Mcp-Method", m->valuestring, true);
        const char *f = name_field(m->valuestring);
        const cJSON *v = f ? cJSON_GetObjectItemCaseSensitive(
                                 cJSON_GetObjectItemCaseSensitive(msg,
                                                                  "params"),
                                 f)
                           : NULL;
        if (cJSON_IsString(v))
            H("Mcp-Name", v->valuestring, true);
    }
    for (size_t i = 0; i < c->nextra; i++) {
        if (!pr_mcp_http_token(c->extra[i].name)) {
            snprintf(err, cap, "header name '%s' is not an HTTP token",
                     c->extra[i].name);
            rc = 1;
            goto fail_msg;
        }
        if ((rc = header(out, c->extra[i].name, c->extra[i].value, false))) {
            if (rc > 0)
                snprintf(err, cap,
                         "header '%s': its value has a line break or "
                         "control character",
                         c->extra[i].name);
            goto fail_msg;
        }
    }
#undef H
    return 0;
fail:
    if (rc > 0)
        snprintf(err, cap, "a header value has a line break or control "
                           "character");
fail_msg:
    if (rc < 0)
        snprintf(err, cap, "out of memory");
    pr_buf_free(&out->b);
    out->n = 0;
    return -1;
}

const char *pr_mcp_http_hdr_at(const struct pr_mcp_http_hdrs *h, size_t i)
{
    const char *p = (const char *)h->b.data;
    for (size_t k = 0; p && k < h->n; k++) {
        if (k == i)
            return p;
        p += strlen(p) + 1;
    }
    return NULL;
}

/* TYPE's media type (before any ';', spaces trimmed) is WANT. */
static bool media_is(const char *type, const char *want)
{
    while (*type == ' ' || *type == '\t')
        type++;
    size_t n = strlen(want);
    if (strncasecmp(type, want, n))
        return false;
    type += n;
    while (*type == ' ' || *type == '\t')
        type++;
    return !*type || *type == ';';
}

enum pr_mcp_http_body pr_mcp_http_classify(long status, const char *ctype,
                                           bool had_session, bool request,
                                           char *err, size_t cap)
{
    if (status == 404 && had_session) {
        snprintf(err, cap, "the server ended the session (HTTP 404)");
        return PR_MCP_HTTP_SESSION_GONE;
    }
    if (status < 200 || status > 299) {
        snprintf(err, cap, "the server answered HTTP %ld", status);
        return PR_MCP_HTTP_FAIL;
    }
    if (status == 202 && !request)
        return PR_MCP_HTTP_NONE;
    if (!request && status == 200 && (!ctype || !*ctype))
        return PR_MCP_HTTP_NONE;
    if (ctype && media_is(ctype, "application/json"))
        return PR_MCP_HTTP_JSON;
    if (ctype && media_is(ctype, "text/event-stream"))
        return PR_MCP_HTTP_SSE;
    if (status == 202)
        snprintf(err, cap, "the server accepted a request (HTTP 202) "
                           "without answering it");
    else
        snprintf(err, cap,
                 "the server answered with content type '%s', neither "
                 "application/json nor text/event-stream",
                 ctype && *ctype ? ctype : "(none)");
    return PR_MCP_HTTP_FAIL;
}

int pr_mcp_http_response_header(const char *line, size_t len,
                                const char *name, char *val, size_t cap)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
        return 0;
    const char *p = line + n + 1, *e = line + len;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' ||
                     e[-1] == '\t'))
        e--;
    if ((size_t)(e - p) >= cap)
        return -1;
    for (const char *q = p; q < e; q++)
        if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e)
            return -1;
    memcpy(val, p, (size_t)(e - p));
    val[e - p] = 0;
    return 1;
}
