/* proto.c -- what the wire protocols share: the choice of one, bodies
 * printed as valid UTF-8, the reply being assembled, and the reading of
 * events, whole replies and error replies up to the protocol's part
 *
 * The protocols' own shapes are in proto_openai.c and proto_anthropic.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "alloc.h"
#include "util.h"

const struct pr_llm_proto *pr_llm_proto_for(const char *protocol)
{
    return protocol && !strcmp(protocol, "anthropic") ? &pr_llm_anthropic
                                                      : &pr_llm_openai;
}

/* ---- requests ---- */

/* T (a printed JSON text, freed) with each byte that starts no valid
 * UTF-8 sequence replaced by U+FFFD, counted in *BAD: cJSON prints a
 * string's bytes as they are.  Outside strings JSON is ASCII, so only
 * string contents change. */
static char *valid_utf8(char *t, size_t *bad)
{
    size_t n = strlen(t), nbad = 0;
    for (size_t i = 0, k; i < n; i += k ? k : 1)
        if (!(k = pr_utf8_decode(t + i, n - i, NULL)))
            nbad++;
    *bad = nbad;
    if (!nbad)
        return t;
    char *o = malloc(n + 2 * nbad + 1), *w = o;
    for (size_t i = 0, k; o && i < n; i += k ? k : 1) {
        if ((k = pr_utf8_decode(t + i, n - i, NULL))) {
            memcpy(w, t + i, k);
            w += k;
        } else {
            memcpy(w, "\xef\xbf\xbd", 3);
            w += 3;
        }
    }
    if (o)
        *w = '\0';
    free(t);
    return o;
}

char *pr_llm_body(const struct pr_llm_proto *pr,
                  const struct pr_llm_request *q, size_t *bad)
{
    *bad = 0;
    cJSON *b = pr->body(q);
    char *t = b ? cJSON_PrintUnformatted(b) : NULL;
    cJSON_Delete(b);
    return t ? valid_utf8(t, bad) : NULL;
}

cJSON *pr_llm_turn(const char *role, const char *text, const cJSON *media,
                   cJSON *(*image)(const char *url))
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "role", role);
    if (!cJSON_GetArraySize(media)) {
        cJSON_AddStringToObject(t, "content", text);
        return t;
    }
    cJSON *parts = cJSON_AddArrayToObject(t, "content");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "text");
    cJSON_AddStringToObject(p, "text", text);
    pr_json_add(parts, NULL, p);
    const cJSON *u;
    cJSON_ArrayForEach (u, media) {
        if (cJSON_IsString(u))
            pr_json_add(parts, NULL, image(u->valuestring));
    }
    return t;
}

void pr_llm_add_messages(cJSON *b, cJSON *msgs, const struct pr_llm_request *q,
                         cJSON *(*image)(const char *url))
{
    if (q->turns) {
        const cJSON *t;
        cJSON_ArrayForEach (t, q->turns) {
            const char *role = pr_llm_str_at(t, "role", NULL);
            const char *text = pr_llm_str_at(t, "text", NULL);
            pr_json_add(msgs, NULL,
                        pr_llm_turn(role ? role : "user", text ? text : "",
                                    cJSON_GetObjectItem(t, "media"), image));
        }
    } else {
        pr_json_add(msgs, NULL, pr_llm_turn("user", q->prompt, NULL, image));
    }
    pr_json_add(b, "messages", msgs);
    if (q->temperature >= 0)
        cJSON_AddNumberToObject(b, "temperature", q->temperature);
    if (q->stream)
        cJSON_AddTrueToObject(b, "stream");
}

/* ---- replies ---- */

const char *pr_llm_str_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(o, a);
    if (b)
        x = cJSON_GetObjectItem(x, b);
    return cJSON_GetStringValue(x);
}

static double num_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(o, a);
    if (b)
        x = cJSON_GetObjectItem(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : 0;
}

uint64_t pr_llm_count_at(const cJSON *o, const char *a, const char *b)
{
    double d = num_at(o, a, b);
    if (!(d >= 0))
        return 0;
    return d > 9007199254740992.0 ? (uint64_t)9007199254740992ull
                                  : (uint64_t)d;
}

int pr_llm_index_at(const cJSON *o, const char *a)
{
    double d = num_at(o, a, NULL);
    return d >= 0 && d < 1024 ? (int)d : -1;
}

void pr_llm_tool_delta(struct pr_llm_parsed *p, int index, const char *id,
                       const char *name, const char *args)
{
    if (!p->tools)
        p->tools = cJSON_CreateArray();
    while (cJSON_GetArraySize(p->tools) <= index) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "id", "");
        cJSON_AddStringToObject(t, "name", "");
        cJSON_AddStringToObject(t, "arguments", "");
        if (!pr_json_add(p->tools, NULL, t)) {
            p->oom = true;
            return;
        }
    }
    cJSON *t = cJSON_GetArrayItem(p->tools, index);
    const char *fields[3] = {"id", "name", "arguments"};
    const char *vals[3] = {id, name, args};
    for (int k = 0; k < 3; k++) {
        if (!vals[k] || !*vals[k])
            continue;
        const char *old = pr_llm_str_at(t, fields[k], NULL);
        size_t a = old ? strlen(old) : 0, b = strlen(vals[k]);
        char *n = malloc(a + b + 1);
        if (!n) {
            p->oom = true;
            continue;
        }
        memcpy(n, old ? old : "", a);
        memcpy(n + a, vals[k], b + 1);
        if (!pr_json_set(t, fields[k], cJSON_CreateString(n)))
            p->oom = true;
        free(n);
    }
}

void pr_llm_text(struct pr_llm_parsed *p, const char *t)
{
    if (t && pr_buf_append(&p->text, t, strlen(t)) < 0)
        p->oom = true;
}

/* Text of a streamed reply as it arrives: kept, and shown live (events,
 * the progress line). */
void pr_llm_stream_text(struct pr_llm_parsed *p, const char *t)
{
    pr_llm_text(p, t);
    if (t && *t && p->j)
        pr_job_stream(p->j, t, strlen(t));
}

/* Rewrites each \u0000 escape of the JSON text T as \uFFFD, counting
 * them in P: a NUL would end the text where the reply goes on (the rule
 * of shell steps' output, where a NUL becomes U+FFFD too).  A backslash
 * only occurs inside strings, so no string state is needed. */
static void nul_escapes(struct pr_llm_parsed *p, char *t, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        const char *h = memchr(t + i, '\\', n - 1 - i);
        if (!h)
            break;
        i = (size_t)(h - t);
        if (i + 5 < n && !memcmp(t + i + 1, "u0000", 5)) {
            memcpy(t + i + 2, "FFFD", 4);
            p->nuls++;
            i += 5;
        } else {
            i++;
        }
    }
}

void pr_llm_event(const struct pr_llm_proto *pr, struct pr_llm_parsed *p,
                  char *data)
{
    if (!*data)
        return;
    /* OpenAI's end of a stream; no other server sends it */
    if (!strcmp(data, "[DONE]")) {
        p->done = true;
        return;
    }
    size_t n = strlen(data);
    nul_escapes(p, data, n);
    /* read, looked into and dropped: a scratch tree, no heap block for
       each of its values (the handlers copy what they keep) */
    unsigned long failures = pr_alloc_failures();
    cJSON *e = pr_json_scratch_parse(data, n);
    if (!e && pr_alloc_failures() != failures) {
        p->oom = true;
    } else if (!e) {
        if (!p->error)
            p->error = strdup("an event's data is not JSON");
    } else {
        pr->event(p, e);
    }
    pr_json_scratch_end();
}

const char *pr_llm_whole(const struct pr_llm_proto *pr,
                         struct pr_llm_parsed *p, char *body, size_t n)
{
    if (body)
        nul_escapes(p, body, n);
    unsigned long failures = pr_alloc_failures();
    cJSON *r = pr_json_scratch_parse(body ? body : "", body ? n : 0);
    const char *bad = r ? pr->whole(p, r)
                      : pr_alloc_failures() != failures
                          ? "out of memory"
                          : "the reply body is not valid JSON";
    pr_json_scratch_end();
    return bad;
}

void pr_llm_error(const struct pr_llm_proto *pr, const char *body, size_t n,
                  char *msg, size_t cap, bool *quota)
{
    cJSON *e = body ? cJSON_ParseWithLength(body, n) : NULL;
    msg[0] = '\0';
    *quota = false;
    pr->error(e, msg, cap, quota);
    cJSON_Delete(e);
}

void pr_llm_error_common(const cJSON *e, char *msg, size_t cap, bool *quota)
{
    const char *m = pr_llm_str_at(e, "error", "message");
    if (m)
        snprintf(msg, cap, ": %.300s", m);
    const char *code = pr_llm_str_at(e, "error", "code");
    const char *type = pr_llm_str_at(e, "error", "type");
    *quota = (code && !strcmp(code, "insufficient_quota")) ||
             (type && !strcmp(type, "insufficient_quota"));
}

static int on_sse(void *ud, struct pr_sse_event *ev)
{
    struct pr_llm_stream *s = ud;
    pr_llm_event(s->pr, s->p, ev->data);
    return 0;
}

void pr_llm_stream_init(struct pr_llm_stream *s, const struct pr_llm_proto *pr,
                        struct pr_llm_parsed *p)
{
    s->pr = pr;
    s->p = p;
    pr_sse_init(&s->sse, on_sse, s);
}

void pr_llm_stream_feed(struct pr_llm_stream *s, const char *b, size_t n)
{
    if (n && pr_sse_feed(&s->sse, b, n) < 0)
        s->p->oom = true;
}

void pr_llm_stream_free(struct pr_llm_stream *s)
{
    pr_sse_free(&s->sse);
}

void pr_llm_parsed_free(struct pr_llm_parsed *p)
{
    pr_buf_free(&p->text);
    cJSON_Delete(p->tools);
    free(p->error);
    p->tools = NULL;
    p->error = NULL;
}
