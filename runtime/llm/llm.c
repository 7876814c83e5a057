/* llm.c -- one exchange with a model server, from request to outcome
 *
 * One attempt of an LLM step:
 *   1. pick the model: the step's, or the first of its fallbacks whose
 *      circuit breaker lets a call through (breaker.c);
 *   2. check the budget (workflow and step): no call starts once spent
 *      (budget.c);
 *   3. build the request for the model's protocol (openai | anthropic),
 *      with the key from the environment only (never logged, never in a
 *      cassette);
 *   4. wait for the provider's limits (throttle.c), then send it on the
 *      loop (http.c) or serve it from the cassette (cassette.c); parse
 *      the server-sent events as they arrive (or the whole JSON reply);
 *   5. classify the end: 408, 409, 429, 5xx and connection failures are
 *      retryable (retry-after honoured), other 4xx are not; a reply that
 *      is not JSON when JSON was asked for, or that misses the output
 *      schema, is retryable with the reason.
 * Outputs: text, json (when the text is JSON), usage, cost, model,
 * tool_calls, and each declared output as a field of the JSON reply.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "eval.h"
#include "llm_call.h"
#include "llm_int.h"
#include "run.h"
#include "schema.h"
#include "sse.h"
#include "util.h"

#define DEFAULT_MAX_TOKENS 4096
#define MAX_REPLY ((size_t)32 << 20)

struct call {
    struct pr_job *j;
    pr_llm_done done;
    void *ud;
    struct pr_http_req *req;
    bool had_key;               /* an API key was sent */
    int16_t block_tool[64];     /* Anthropic: content block -> tool call
                                   index + 1 (0: not a tool block) */
    int ntools;
    struct pr_llm_ticket t;     /* its place under the provider's limits */
    uint32_t model;
    bool anthropic, stream, json_mode;
    struct pr_buf raw;          /* every byte of the reply */
    struct pr_sse sse;          /* the stream's events */
    size_t sse_fed;             /* raw is read by SSE up to here */
    struct pr_buf text;
    cJSON *tools;               /* tool calls being assembled */
    uint64_t in_tok, out_tok;
    bool done_event;
    char *stream_error;
    char key[17];               /* the cassette's */
    char *req_body;
    char *secret;               /* the API key sent, to redact from
                                   what comes back; NULL: none */
    size_t redacted_to;         /* raw is redacted up to here */
    bool too_big;               /* the reply passed MAX_REPLY */
    size_t nuls;                /* \u0000 escapes read as U+FFFD */
    size_t bad_utf8;            /* bytes of the request sent as U+FFFD */
};

static void start_waiting(struct pr_run *r);

static struct pr_llm *state(const struct pr_run *r)
{
    return pr_llm_state(r);
}

static struct call *call_of(struct pr_llm_ticket *t)
{
    return (struct call *)(void *)((char *)t - offsetof(struct call, t));
}

static char *env_or_null(const char *name)
{
    const char *v = name && *name ? getenv(name) : NULL;
    return v && *v ? (char *)v : NULL;
}

/* ---- run state ---- */

int pr_llm_init(struct pr_run *r, const struct pr_llm_opts *o)
{
    struct pr_llm *L = calloc(1, sizeof *L);
    if (!L)
        return -1;
    r->llm = L;
    L->o = *o;
    L->run = r;
    if (!L->o.provider_jobs)
        L->o.provider_jobs = 64;
    L->breakers = calloc((size_t)r->plan->nmodels + 1, sizeof *L->breakers);
    if (!L->breakers ||
        pr_llm_limits_init(&L->limits, (size_t)r->plan->nmodels + 1,
                           L->o.provider_jobs, o->rpm, o->tpm) < 0)
        return -1;
    if (o->replay && pr_llm_tape_load(&L->tape, o->replay) < 0)
        return -1;
    if (!o->replay) {
        L->http = pr_http_new(r->loop);
        if (!L->http) {
            fputs("pomlrun: error: cannot start libcurl\n", stderr);
            return -1;
        }
    }
    return 0;
}

int pr_llm_finish(struct pr_run *r)
{
    struct pr_llm *L = state(r);
    int rc = 0;
    if (!L)
        return 0;
    if (L->o.record && L->tape.dirty)
        rc = pr_llm_tape_save(&L->tape, L->o.record);
    if (L->wake)
        pr_loop_cancel(r->loop, L->wake);
    pr_http_free(L->http);
    pr_llm_tape_free(&L->tape);
    free(L->breakers);
    pr_llm_limits_free(&L->limits);
    free(L);
    r->llm = NULL;
    return rc;
}

/* ---- requests ---- */

/* The schema of the step's reply: its own, else for a task step with
 * outputs an object of exactly those members; NULL for none. */
static cJSON *schema_of(struct call *c)
{
    const struct pr_step *s = pr_job_step(c->j);
    if (s->output_schema)
        return cJSON_Parse(s->output_schema);
    if (!pr_llm_task_step(s) || !s->outputs.n)
        return NULL;
    const struct pr_plan *p = c->j->run->plan;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "object");
    cJSON *props = cJSON_AddObjectToObject(o, "properties");
    cJSON *req = cJSON_AddArrayToObject(o, "required");
    for (uint32_t k = 0; props && req && k < s->outputs.n; k++) {
        const char *name =
            pr_plan_str(p, pr_plan_list_at(p, s->outputs, k), NULL);
        cJSON_AddItemToObject(props, name, cJSON_CreateObject());
        cJSON_AddItemToArray(req, cJSON_CreateString(name));
    }
    cJSON_AddBoolToObject(o, "additionalProperties", false);
    return o;
}

/* One turn of a conversation in the protocol's shape: text, or text and
 * media parts. */
static cJSON *turn(bool anthropic, const char *role, const char *text,
                   const cJSON *media)
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
    cJSON_AddItemToArray(parts, p);
    const cJSON *u;
    cJSON_ArrayForEach(u, media) {
        if (!cJSON_IsString(u))
            continue;
        p = cJSON_CreateObject();
        if (anthropic) {
            cJSON_AddStringToObject(p, "type", "image");
            cJSON *src = cJSON_AddObjectToObject(p, "source");
            cJSON_AddStringToObject(src, "type", "url");
            cJSON_AddStringToObject(src, "url", u->valuestring);
        } else {
            cJSON_AddStringToObject(p, "type", "image_url");
            cJSON *iu = cJSON_AddObjectToObject(p, "image_url");
            cJSON_AddStringToObject(iu, "url", u->valuestring);
        }
        cJSON_AddItemToArray(parts, p);
    }
    return t;
}

/* T (a printed JSON text, freed) with each byte that starts no valid
 * UTF-8 sequence replaced by U+FFFD, counted in *BAD: cJSON prints a
 * string's bytes as they are, and a server refuses a body that is not
 * UTF-8.  Outside strings JSON is ASCII, so only string contents change. */
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

static char *build_body(struct call *c, const struct pr_model *m,
                        const char *prompt, const char *system,
                        const cJSON *turns)
{
    const struct pr_step *s = pr_job_step(c->j);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", m->wire_id);
    uint64_t max_tokens = s->max_tokens ? s->max_tokens
                          : m->max_output_tokens &&
                                  m->max_output_tokens < DEFAULT_MAX_TOKENS
                              ? m->max_output_tokens
                              : DEFAULT_MAX_TOKENS;
    cJSON *schema = c->json_mode ? schema_of(c) : NULL;
    cJSON *msgs = cJSON_CreateArray();
    if (c->anthropic) {
        cJSON_AddNumberToObject(b, "max_tokens", (double)max_tokens);
        char *sys = NULL;
        if (schema) {
            /* structured outputs: output_config.format */
            cJSON *oc = cJSON_AddObjectToObject(b, "output_config");
            cJSON *f = cJSON_AddObjectToObject(oc, "format");
            cJSON_AddStringToObject(f, "type", "json_schema");
            cJSON_AddItemToObject(f, "schema", cJSON_Duplicate(schema, true));
        } else if (c->json_mode) {
            /* JSON without a schema has no option of its own: ask */
            size_t n = (system ? strlen(system) : 0) + 64;
            sys = malloc(n);
            if (sys)
                snprintf(sys, n, "%s%sReply with one JSON value only.",
                         system ? system : "",
                         system && *system ? "\n\n" : "");
        }
        if (sys || (system && *system))
            cJSON_AddStringToObject(b, "system", sys ? sys : system);
        free(sys);
    } else {
        if (s->max_tokens)
            cJSON_AddNumberToObject(b, "max_tokens", (double)max_tokens);
        if (system && *system) {
            cJSON *sm = cJSON_CreateObject();
            cJSON_AddStringToObject(sm, "role", "system");
            cJSON_AddStringToObject(sm, "content", system);
            cJSON_AddItemToArray(msgs, sm);
        }
        if (c->json_mode) {
            cJSON *rf = cJSON_AddObjectToObject(b, "response_format");
            if (schema) {
                cJSON_AddStringToObject(rf, "type", "json_schema");
                cJSON *js = cJSON_AddObjectToObject(rf, "json_schema");
                cJSON_AddStringToObject(js, "name", "output");
                cJSON_AddItemToObject(js, "schema",
                                      cJSON_Duplicate(schema, true));
            } else {
                cJSON_AddStringToObject(rf, "type", "json_object");
            }
        }
    }
    if (turns) {
        const cJSON *t;
        cJSON_ArrayForEach(t, turns) {
            const char *role = cJSON_GetStringValue(
                cJSON_GetObjectItem(t, "role"));
            const char *text = cJSON_GetStringValue(
                cJSON_GetObjectItem(t, "text"));
            cJSON_AddItemToArray(msgs, turn(c->anthropic,
                                            role ? role : "user",
                                            text ? text : "",
                                            cJSON_GetObjectItem(t, "media")));
        }
    } else {
        cJSON_AddItemToArray(msgs, turn(c->anthropic, "user", prompt, NULL));
    }
    cJSON_AddItemToObject(b, "messages", msgs);
    if (s->temperature >= 0)
        cJSON_AddNumberToObject(b, "temperature", s->temperature);
    if (c->stream) {
        cJSON_AddTrueToObject(b, "stream");
        if (!c->anthropic) {
            cJSON *so = cJSON_AddObjectToObject(b, "stream_options");
            cJSON_AddTrueToObject(so, "include_usage");
        }
    }
    cJSON_Delete(schema);
    char *t = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    return t ? valid_utf8(t, &c->bad_utf8) : NULL;
}

/* ---- replies ---- */

static void add_tool_delta(struct call *c, int index, const char *id,
                           const char *name, const char *args)
{
    if (!c->tools)
        c->tools = cJSON_CreateArray();
    while (cJSON_GetArraySize(c->tools) <= index) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "id", "");
        cJSON_AddStringToObject(t, "name", "");
        cJSON_AddStringToObject(t, "arguments", "");
        cJSON_AddItemToArray(c->tools, t);
    }
    cJSON *t = cJSON_GetArrayItem(c->tools, index);
    const char *fields[3] = {"id", "name", "arguments"};
    const char *vals[3] = {id, name, args};
    for (int k = 0; k < 3; k++) {
        if (!vals[k] || !*vals[k])
            continue;
        const char *old = cJSON_GetStringValue(cJSON_GetObjectItem(t, fields[k]));
        size_t a = old ? strlen(old) : 0, b = strlen(vals[k]);
        char *n = malloc(a + b + 1);
        if (!n)
            continue;
        memcpy(n, old ? old : "", a);
        memcpy(n + a, vals[k], b + 1);
        cJSON_ReplaceItemInObject(t, fields[k], cJSON_CreateString(n));
        free(n);
    }
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
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

/* A count from a reply, clamped: a server's number never overflows a
 * conversion (-1 for "none" where a negative or fractional one is). */
static uint64_t count_at(const cJSON *o, const char *a, const char *b)
{
    double d = num_at(o, a, b);
    if (!(d >= 0))
        return 0;
    return d > 9007199254740992.0 ? (uint64_t)9007199254740992ull
                                  : (uint64_t)d;
}

static int index_at(const cJSON *o, const char *a)
{
    double d = num_at(o, a, NULL);
    return d >= 0 && d < 1024 ? (int)d : -1;
}

static void append_text(struct call *c, const char *t)
{
    if (t)
        pr_buf_append(&c->text, t, strlen(t));
}

/* Text of a streamed reply as it arrives: kept, and shown live (events,
 * the progress line). */
static void stream_text(struct call *c, const char *t)
{
    append_text(c, t);
    if (t && *t && c->j)
        pr_report_stream(c->j->run, c->j, t, strlen(t));
}

/* Rewrites each \u0000 escape of the JSON text T as \uFFFD, counting
 * them in C: a NUL would end the text where the reply goes on (the rule
 * of shell steps' output, where a NUL becomes U+FFFD too).  A backslash
 * only occurs inside strings, so no string state is needed. */
static void nul_escapes(struct call *c, char *t, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (t[i] != '\\')
            continue;
        if (i + 5 < n && !memcmp(t + i + 1, "u0000", 5)) {
            memcpy(t + i + 2, "FFFD", 4);
            c->nuls++;
            i += 5;
        } else {
            i++;
        }
    }
}

/* One server-sent event (its data lines joined). */
static void on_event(struct call *c, char *data)
{
    if (!strcmp(data, "[DONE]")) {
        c->done_event = true;
        return;
    }
    nul_escapes(c, data, strlen(data));
    cJSON *e = cJSON_Parse(data);
    if (!e) {
        if (!c->stream_error)
            c->stream_error = strdup("an event's data is not JSON");
        return;
    }
    if (c->anthropic) {
        const char *type = str_at(e, "type", NULL);
        if (!type) {
        } else if (!strcmp(type, "message_start")) {
            cJSON *msg = cJSON_GetObjectItem(e, "message");
            c->in_tok += count_at(msg, "usage", "input_tokens");
            c->out_tok += count_at(msg, "usage", "output_tokens");
        } else if (!strcmp(type, "content_block_start")) {
            cJSON *b = cJSON_GetObjectItem(e, "content_block");
            int idx = index_at(e, "index");
            const char *bt = str_at(b, "type", NULL);
            if (bt && !strcmp(bt, "tool_use")) {
                int t = c->ntools < 1024 ? c->ntools++ : 1023;
                if (idx >= 0 && idx < 64)
                    c->block_tool[idx] = (int16_t)(t + 1);
                add_tool_delta(c, t, str_at(b, "id", NULL),
                               str_at(b, "name", NULL), NULL);
            } else {
                stream_text(c, str_at(b, "text", NULL));
            }
        } else if (!strcmp(type, "content_block_delta")) {
            cJSON *d = cJSON_GetObjectItem(e, "delta");
            const char *dt = str_at(d, "type", NULL);
            int idx = index_at(e, "index");
            if (dt && !strcmp(dt, "input_json_delta")) {
                if (idx >= 0 && idx < 64 && c->block_tool[idx])
                    add_tool_delta(c, c->block_tool[idx] - 1, NULL, NULL,
                                   str_at(d, "partial_json", NULL));
            } else {
                stream_text(c, str_at(d, "text", NULL));
            }
        } else if (!strcmp(type, "message_delta")) {
            uint64_t o = count_at(e, "usage", "output_tokens");
            if (o)
                c->out_tok = o;
        } else if (!strcmp(type, "message_stop")) {
            c->done_event = true;
        } else if (!strcmp(type, "error") && !c->stream_error) {
            const char *m = str_at(e, "error", "message");
            size_t n = (m ? strlen(m) : 0) + 32;
            c->stream_error = malloc(n);
            if (c->stream_error)
                snprintf(c->stream_error, n, "server error: %s",
                         m ? m : "unknown");
        }
    } else {
        cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "choices"), 0);
        cJSON *d = cJSON_GetObjectItem(ch, "delta");
        stream_text(c, str_at(d, "content", NULL));
        cJSON *tc;
        cJSON_ArrayForEach(tc, cJSON_GetObjectItem(d, "tool_calls")) {
            int idx = index_at(tc, "index");
            if (idx >= 0 && idx < 1024)
                add_tool_delta(c, idx, str_at(tc, "id", NULL),
                               str_at(tc, "function", "name"),
                               str_at(tc, "function", "arguments"));
        }
        cJSON *u = cJSON_GetObjectItem(e, "usage");
        if (cJSON_IsObject(u)) {
            c->in_tok = count_at(u, "prompt_tokens", NULL);
            c->out_tok = count_at(u, "completion_tokens", NULL);
        }
        const char *em = str_at(e, "error", "message");
        if (em && !c->stream_error)
            c->stream_error = strdup(em);
    }
    cJSON_Delete(e);
}

static int on_sse(void *ud, struct pr_sse_event *ev)
{
    struct call *c = ud;
    if (ev->len)
        on_event(c, ev->data);
    return 0;
}

/* Reads the events in c->raw[sse_fed, TO). */
static void parse_sse(struct call *c, size_t to)
{
    if (!c->sse.on_event)
        pr_sse_init(&c->sse, on_sse, c);
    if (to > c->sse_fed &&
        pr_sse_feed(&c->sse, (const char *)c->raw.data + c->sse_fed,
                    to - c->sse_fed) < 0 &&
        !c->stream_error)
        c->stream_error = strdup("out of memory");
    c->sse_fed = to;
}

/* Masks every whole occurrence of the key sent in the reply received so
 * far (its "Bearer " form included), before anything parses, prints or
 * records it: a server that quotes the key back (an error message) must
 * not put it in a log line, the result, an event or a cassette.  The
 * mask has the key's length, so offsets into the reply stay valid;
 * bytes that may begin an occurrence completed by the next chunk wait
 * for it. */
static void redact(struct call *c)
{
    size_t k = c->secret ? strlen(c->secret) : 0, n = c->raw.len;
    if (!k) {
        c->redacted_to = n;
        return;
    }
    char *b = (char *)c->raw.data;
    size_t i = c->redacted_to;
    for (; i + k <= n; i++) {
        if (b[i] != c->secret[0] || memcmp(b + i, c->secret, k))
            continue;
        static const char mark[] = "[redacted]";
        for (size_t j = 0; j < k; j++)
            b[i + j] = k >= sizeof mark - 1 && j < sizeof mark - 2
                           ? mark[j]
                       : k >= sizeof mark - 1 && j == k - 1 ? ']'
                                                            : '*';
        i += k - 1;
    }
    /* what is left may begin an occurrence only where it is the start
       of the key */
    while (i < n && memcmp(b + i, c->secret, n - i))
        i++;
    c->redacted_to = i;
}

static int on_data(void *ud, const char *p, size_t n)
{
    struct call *c = ud;
    if (c->raw.len + n > MAX_REPLY) {
        c->too_big = true;
        return -1;
    }
    if (pr_buf_append(&c->raw, p, n) < 0)
        return -1;
    redact(c);
    if (c->stream)
        parse_sse(c, c->redacted_to);
    return 0;
}

/* A whole (not streamed) reply. */
static const char *parse_whole(struct call *c, cJSON *r)
{
    if (c->anthropic) {
        cJSON *b;
        int idx = 0;
        cJSON_ArrayForEach(b, cJSON_GetObjectItem(r, "content")) {
            const char *t = str_at(b, "type", NULL);
            if (t && !strcmp(t, "tool_use") && idx < 1024) {
                cJSON *in = cJSON_GetObjectItem(b, "input");
                char *args = in ? cJSON_PrintUnformatted(in) : NULL;
                add_tool_delta(c, idx++, str_at(b, "id", NULL),
                               str_at(b, "name", NULL), args);
                free(args);
            } else {
                append_text(c, str_at(b, "text", NULL));
            }
        }
        c->in_tok = count_at(r, "usage", "input_tokens");
        c->out_tok = count_at(r, "usage", "output_tokens");
        if (!cJSON_IsArray(cJSON_GetObjectItem(r, "content")))
            return "the reply has no 'content' list";
    } else {
        cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "choices"), 0);
        cJSON *m = cJSON_GetObjectItem(ch, "message");
        if (!m)
            return "the reply has no choices[0].message";
        append_text(c, str_at(m, "content", NULL));
        cJSON *tc;
        int idx = 0;
        cJSON_ArrayForEach(tc, cJSON_GetObjectItem(m, "tool_calls")) {
            add_tool_delta(c, idx++, str_at(tc, "id", NULL),
                           str_at(tc, "function", "name"),
                           str_at(tc, "function", "arguments"));
        }
        c->in_tok = count_at(r, "usage", "prompt_tokens");
        c->out_tok = count_at(r, "usage", "completion_tokens");
    }
    return NULL;
}

/* The error message in an error reply body, if it has one. */
static void error_message(const struct call *c, char *buf, size_t cap)
{
    buf[0] = '\0';
    cJSON *e = c->raw.data ? cJSON_ParseWithLength((const char *)c->raw.data,
                                                   c->raw.len)
                           : NULL;
    const char *m = str_at(e, "error", "message");
    if (m)
        snprintf(buf, cap, ": %.300s", m);
    cJSON_Delete(e);
}

/* OpenAI's 429 for an account out of credit: waiting does not help. */
static bool is_quota_error(const struct call *c)
{
    cJSON *e = c->raw.data ? cJSON_ParseWithLength((const char *)c->raw.data,
                                                   c->raw.len)
                           : NULL;
    const char *code = str_at(e, "error", "code");
    const char *type = str_at(e, "error", "type");
    bool q = (code && !strcmp(code, "insufficient_quota")) ||
             (type && !strcmp(type, "insufficient_quota"));
    cJSON_Delete(e);
    return q;
}

static void free_call(struct call *c)
{
    if (c->secret) {
        memset(c->secret, 0, strlen(c->secret));
        free(c->secret);
    }
    pr_buf_free(&c->raw);
    pr_sse_free(&c->sse);
    pr_buf_free(&c->text);
    cJSON_Delete(c->tools);
    free(c->stream_error);
    free(c->req_body);
    free(c);
}


static void put(cJSON *o, const char *name, cJSON *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, name);
    if (v)
        cJSON_AddItemToObject(o, name, v);
}

/* The outputs of a good reply into *OUT; NULL, or why the reply is not
 * acceptable (a retry may help). */
static const char *outputs(struct call *c, const struct pr_model *m,
                           cJSON **out, double *cost, char *why, size_t cap)
{
    const struct pr_step *s = pr_job_step(c->j);
    const struct pr_plan *p = c->j->run->plan;
    pr_buf_append_u8(&c->text, 0);
    const char *text = c->text.data ? (const char *)c->text.data : "";
    cJSON *o = cJSON_CreateObject();
    *out = o;
    put(o, "text", pr_text_value(text, strlen(text), NULL));
    if (c->nuls)
        pr_report_note(c->j->run, c->j,
                       "the reply held %zu NUL character%s (\\u0000), "
                       "replaced by U+FFFD", c->nuls, c->nuls == 1 ? "" : "s");
    *cost = pr_llm_spend(c->j, m, c->in_tok, c->out_tok);
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "input_tokens", (double)c->in_tok);
    cJSON_AddNumberToObject(u, "output_tokens", (double)c->out_tok);
    cJSON_AddNumberToObject(u, "total_tokens",
                            (double)(c->in_tok + c->out_tok));
    put(o, "usage", u);
    put(o, "cost", cJSON_CreateNumber(*cost));
    put(o, "model", cJSON_CreateString(m->name));
    if (c->tools) {
        cJSON *t;
        cJSON_ArrayForEach(t, c->tools) {
            const char *a = str_at(t, "arguments", NULL);
            cJSON *parsed = a && *a ? cJSON_Parse(a) : NULL;
            if (parsed)
                cJSON_ReplaceItemInObject(t, "arguments", parsed);
        }
        put(o, "tool_calls", c->tools);
        c->tools = NULL;
    }
    /* a fenced ```json block counts as JSON too */
    const char *js = text;
    size_t jl = strlen(text);
    while (jl && strchr(" \t\r\n", *js))
        js++, jl--;
    if (jl > 7 && !strncmp(js, "```", 3)) {
        const char *nl = strchr(js, '\n');
        const char *close = nl ? strstr(nl, "```") : NULL;
        if (close) {
            js = nl + 1;
            jl = (size_t)(close - js);
        }
    }
    cJSON *json = jl ? cJSON_ParseWithLength(js, jl) : NULL;
    if (c->json_mode && !json) {
        snprintf(why, cap, "the reply is not JSON, though JSON was asked for");
        return why;
    }
    if (json) {
        cJSON *schema = schema_of(c);
        char err[300];
        bool ok = !schema || pr_schema_check(json, schema, err, sizeof err);
        cJSON_Delete(schema);
        if (c->json_mode && !ok) {
            cJSON_Delete(json);
            snprintf(why, cap, "the reply does not match the output schema: "
                               "%s", err);
            return why;
        }
    }
    for (uint32_t k = 0; k < s->outputs.n; k++) {
        const char *name = pr_plan_str(p, pr_plan_list_at(p, s->outputs, k),
                                       NULL);
        put(o, name, pr_reply_output(json, text, name, s->outputs.n));
    }
    if (json)
        put(o, "json", json);
    return NULL;
}

static void record(struct pr_llm *L, const struct call *c,
                   const struct pr_http_result *res)
{
    if (!L->o.record || res->cancelled || !res->status)
        return;
    pr_llm_tape_add(&L->tape, c->key, res->status, res->content_type,
                    (const char *)c->raw.data, c->raw.len);
}

/* A request of C ended: its provider's slot is free. */
static void release(struct call *c)
{
    if (c->t.prov && c->t.prov->in_flight)
        c->t.prov->in_flight--;
}

/* Ends C: the callback gets the reply, C is freed. */
static void conclude(struct call *c, struct pr_llm_reply *rep)
{
    struct pr_run *r = c->j->run;
    pr_llm_settle(&c->t, c->in_tok + c->out_tok);
    pr_llm_done done = c->done;
    void *ud = c->ud;
    free_call(c);
    done(ud, rep);
    start_waiting(r);
}

static void on_done(void *ud, const struct pr_http_result *res)
{
    struct call *c = ud;
    struct pr_run *r = c->j->run;
    struct pr_llm *L = state(r);
    struct pr_model m;
    pr_plan_model(r->plan, c->model, &m);
    c->req = NULL;
    release(c);
    record(L, c, res);
    char why[600], msg[400];
    struct pr_llm_reply rep = {.retryable = true, .why = why,
                               .retry_after = res->retry_after,
                               .cancelled = res->cancelled != 0};
    bool ok = false, whole = false;     /* WHOLE: a complete reply */
    if (res->cancelled) {
        snprintf(why, sizeof why, "cancelled");
        rep.retryable = false;
    } else if (res->timed_out) {
        /* the request's limit is the step's timeout: the same reason
           as when the step's own timer ends the attempt */
        snprintf(why, sizeof why, "timeout");
    } else if (c->too_big) {
        snprintf(why, sizeof why,
                 "%s: the reply is larger than %zu MiB, the most pomlrun "
                 "reads; ask for less (max_tokens)", m.name,
                 MAX_REPLY >> 20);
        rep.retryable = false;
    } else if (res->header_too_big) {
        snprintf(why, sizeof why, "%s: %s; the server's reply cannot be "
                 "read", m.name, res->error);
        rep.retryable = false;
    } else if (res->curl_code) {
        snprintf(why, sizeof why, "%s: %s", m.name,
                 res->error ? res->error : "request failed");
    } else if (res->status < 200 || res->status > 299) {
        error_message(c, msg, sizeof msg);
        long st = res->status;
        rep.retryable = st == 408 || st == 409 || st == 429 || st >= 500;
        /* as the SDKs: the server's x-should-retry decides; a spent
           quota is no rate limit to wait out */
        if (res->should_retry >= 0)
            rep.retryable = res->should_retry == 1;
        if (st == 429 && is_quota_error(c))
            rep.retryable = false;
        bool nokey = st == 401 && !c->had_key;
        snprintf(why, sizeof why, "%s: HTTP %ld%s%s%s%s", m.name, st, msg,
                 !nokey               ? ""
                 : m.api_key_env[0]   ? " (no API key was sent: set "
                                      : " (no API key was sent: the model "
                                        "names no api_key_env",
                 nokey ? m.api_key_env : "", nokey ? ")" : "");
    } else {
        const char *ct = res->content_type ? res->content_type : "";
        bool sse = !strncmp(ct, "text/event-stream", 17);
        bool json = !strncmp(ct, "application/json", 16);
        if (c->stream && sse) {
            parse_sse(c, c->raw.len);   /* the end: nothing is held */
            if (c->stream_error)
                snprintf(why, sizeof why, "%s: %s", m.name, c->stream_error);
            else if (!c->done_event)
                snprintf(why, sizeof why,
                         "%s: the stream ended before the reply was "
                         "complete", m.name);
            else
                ok = true;
        } else if (json) {
            if (c->raw.data)
                nul_escapes(c, (char *)c->raw.data, c->raw.len);
            cJSON *body = cJSON_ParseWithLength(
                c->raw.data ? (const char *)c->raw.data : "", c->raw.len);
            const char *bad = body ? parse_whole(c, body)
                                   : "the reply body is not valid JSON";
            cJSON_Delete(body);
            if (bad)
                snprintf(why, sizeof why, "%s: %s", m.name, bad);
            else
                ok = true;
        } else {
            snprintf(why, sizeof why,
                     "%s: unexpected content type '%.80s' (HTTP %ld)",
                     m.name, ct, res->status);
            rep.retryable = false;
        }
        whole = ok;
        if (ok) {
            char bad_buf[600];
            const char *bad = outputs(c, &m, &rep.outputs, &rep.cost, bad_buf,
                                      sizeof bad_buf);
            rep.in_tok = c->in_tok;
            rep.out_tok = c->out_tok;
            if (bad) {
                ok = false;
                cJSON_Delete(rep.outputs);
                rep.outputs = NULL;
                snprintf(why, sizeof why, "%.80s: %.500s", m.name, bad);
            }
        }
    }
    rep.ok = ok;
    /* the breaker counts what says the provider is unhealthy: no
       connection, a timeout, 408, 429, 5xx, a stream that broke off; a
       whole reply is a healthy provider, whatever its content (a reply
       that misses its schema is the step's to retry); a refusal of the
       request itself (other 4xx) neither opens nor closes it */
    long st = res->status;
    bool sick = (res->curl_code && !c->too_big) || st == 408 || st == 429 ||
                st >= 500 || (st >= 200 && st <= 299 && !whole);
    bool client_error = !sick && st >= 300;
    if (!res->cancelled && !client_error)
        pr_llm_breaker_result(r, &L->breakers[c->model], !sick);
    conclude(c, &rep);
}

/* ---- starting ---- */

static void fail_call(struct call *c, const char *why, bool retryable)
{
    struct pr_llm_reply rep = {.why = why, .retryable = retryable,
                               .retry_after = -1};
    conclude(c, &rep);
}

static void replay(struct call *c)
{
    struct pr_llm *L = state(c->j->run);
    struct pr_llm_exchange *x = pr_llm_tape_find(&L->tape, c->key);
    if (!x) {
        char why[300];
        snprintf(why, sizeof why,
                 "the cassette '%s' has no exchange for this request (key "
                 "%s); record it with --record",
                 L->o.replay, c->key);
        release(c);
        fail_call(c, why, false);
        return;
    }
    struct pr_http_result res = {0};
    res.retry_after = -1;
    on_data(c, x->body, x->len);
    res.status = x->status;
    res.content_type = x->content_type;
    on_done(c, &res);
}

/* Sends C (its body built, its slot taken). */
static void send_call(struct call *c)
{
    struct pr_run *r = c->j->run;
    struct pr_llm *L = state(r);
    const struct pr_step *s = pr_job_step(c->j);
    struct pr_model m;
    pr_plan_model(r->plan, c->model, &m);
    char why[600];
    c->t.prov->in_flight++;
    pr_llm_spend_call(c->j);
    pr_llm_breaker_sent(&L->breakers[c->model]);
    if (L->o.replay) {
        replay(c);
        return;
    }
    const char *path = c->anthropic ? "/messages" : "/chat/completions";
    /* the endpoint and the key: the variables the model names, nothing
       else (the compiler gives a provider's variables only to models
       of the provider's own endpoint), so that no plan sends a
       well-known key to a host of its choosing */
    const char *base = env_or_null(m.base_url_env);
    if (!base)
        base = m.base_url;
    const char *key = env_or_null(m.api_key_env);
    if (key && strpbrk(key, "\r\n")) {
        /* a line break would end the header and start another */
        snprintf(why, sizeof why,
                 "the key in %s holds a line break (CR or LF), which "
                 "would add request headers; set it to the key alone",
                 m.api_key_env);
        release(c);
        fail_call(c, why, false);
        return;
    }
    if (key && !(c->secret = strdup(key))) {
        release(c);
        fail_call(c, "out of memory", false);
        return;
    }
    if (!base || !*base) {
        snprintf(why, sizeof why, "model '%s' has no base URL; set %s",
                 m.name, m.base_url_env[0] ? m.base_url_env : "base_url");
        release(c);
        fail_call(c, why, false);
        return;
    }
    char url[2048];
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof url, "%.*s%s", (int)bl, base, path);
    char auth[1024] = "", ver[] = "anthropic-version: 2023-06-01";
    c->had_key = key != NULL;
    if (key)
        snprintf(auth, sizeof auth, c->anthropic ? "x-api-key: %s"
                                                 : "Authorization: Bearer %s",
                 key);
    const char *headers[7];
    size_t nh = 0;
    headers[nh++] = "Content-Type: application/json";
    headers[nh++] = "Expect:";      /* no 100-continue round trip */
    headers[nh++] = c->stream ? "Accept: text/event-stream"
                              : "Accept: application/json";
    if (key)
        headers[nh++] = auth;
    if (c->anthropic)
        headers[nh++] = ver;
    headers[nh] = NULL;
    double t = L->o.request_timeout > 0 ? L->o.request_timeout
               : s->timeout > 0         ? s->timeout
                                        : 600;
    struct pr_http_opts o = {
        .url = url, .headers = headers, .body = c->req_body,
        .body_len = strlen(c->req_body), .timeout = t,
        .connect_timeout = 30, .on_data = on_data, .on_done = on_done,
        .ud = c};
    c->req = pr_http_start(L->http, &o);
    memset(auth, 0, sizeof auth);
    if (!c->req) {
        release(c);
        fail_call(c, "cannot start the request: out of memory", false);
    }
}

static void on_wake(void *ud)
{
    struct pr_llm *L = ud;
    L->wake = 0;
    start_waiting(L->run);
}

/* Starts the waiting calls the providers' limits admit, in order; sets a
 * timer for the earliest a rate limit admits the rest. */
static void start_waiting(struct pr_run *r)
{
    struct pr_llm *L = state(r);
    if (!L)
        return;
    double soonest = -1;
    struct pr_llm_ticket *t;
    while ((t = pr_llm_next(&L->limits, &soonest)))
        send_call(call_of(t));
    if (soonest > 0 && !L->wake)
        L->wake = pr_loop_timer(r->loop, soonest, on_wake, L);
}

struct pr_llm_call *pr_llm_call(struct pr_job *j, const struct pr_llm_ask *a,
                                pr_llm_done done, void *ud)
{
    struct pr_run *r = j->run;
    struct pr_llm *L = state(r);
    struct call *c = calloc(1, sizeof *c);
    if (!c) {
        struct pr_llm_reply rep = {.why = "out of memory", .retry_after = -1};
        done(ud, &rep);
        return NULL;
    }
    c->j = j;
    c->done = done;
    c->ud = ud;
    const char *over = pr_llm_over_budget(j);
    if (over) {
        fail_call(c, over, false);
        return NULL;
    }
    uint32_t mi = a->model != PR_PLAN_NONE ? a->model : pr_llm_pick_model(j);
    if (mi == PR_PLAN_NONE) {
        fail_call(c, "circuit breaker open for the model and every fallback",
                  true);
        return NULL;
    }
    struct pr_model m;
    pr_plan_model(r->plan, mi, &m);
    if (a->model == PR_PLAN_NONE && mi != pr_job_step(j)->model)
        pr_report_note(r, j, "using fallback model '%s'", m.name);
    c->model = mi;
    c->anthropic = !strcmp(m.protocol, "anthropic");
    c->stream = !L->o.no_stream;
    c->json_mode = a->json_mode;
    c->req_body = build_body(c, &m, a->prompt, a->system, a->turns);
    if (!c->req_body) {
        fail_call(c, "out of memory", false);
        return NULL;
    }
    if (c->bad_utf8)
        pr_report_note(r, j, "the request held %zu byte%s of invalid "
                       "UTF-8, each sent as U+FFFD", c->bad_utf8,
                       pr_plural(c->bad_utf8));
    const char *path = c->anthropic ? "/messages" : "/chat/completions";
    pr_llm_tape_key(m.protocol, path, c->req_body, c->key);
    c->t.prov = pr_llm_provider(&L->limits, m.provider);
    c->t.est_tokens = L->o.tpm ? (double)strlen(c->req_body) / 4 : 0;
    int w = c->t.prov ? pr_llm_admit_or_wait(&L->limits, &c->t) : -1;
    if (w < 0) {
        fail_call(c, "out of memory", false);
        return NULL;
    }
    if (w > 0) {
        start_waiting(r);
        return (struct pr_llm_call *)c;
    }
    send_call(c);
    return (struct pr_llm_call *)c;
}

void pr_llm_cancel(struct pr_llm_call *pc)
{
    struct call *c = (struct call *)pc;
    struct pr_llm *L = state(c->j->run);
    if (c->t.waiting) {
        pr_llm_unwait(&L->limits, &c->t);
        struct pr_llm_reply rep = {.why = "cancelled", .cancelled = true,
                                   .retry_after = -1};
        conclude(c, &rep);
        return;
    }
    if (c->req)
        pr_http_cancel(c->req);
}
