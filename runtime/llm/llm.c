/* llm.c -- one exchange with a model server, from request to outcome
 *
 * One attempt of an LLM step:
 *   1. pick the model: the step's, or the first of its fallbacks whose
 *      circuit breaker lets a call through (breaker.c);
 *   2. check the budget (workflow and step): no call starts once spent
 *      (budget.c);
 *   3. build the request in the model's protocol (proto.h), with the key
 *      from the environment only (never logged, never in a cassette);
 *   4. wait for the provider's limits (throttle.c), then send it on the
 *      loop (http.c) or serve it from the cassette (cassette.c); read the
 *      server-sent events as they arrive (sse.c) or the whole JSON reply;
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

#include "alloc.h"
#include "buf.h"
#include "eval.h"
#include "llm_call.h"
#include "llm_int.h"
#include "proto.h"
#include "schema.h"
#include "util.h"

#define MAX_REPLY ((size_t)32 << 20)

struct call {
    struct pr_job *j;
    pr_llm_done done;
    void *ud;
    struct pr_http_req *req;
    const struct pr_llm_proto *proto;
    bool had_key;           /* an API key was sent */
    struct pr_llm_ticket t; /* its place under the provider's limits */
    uint32_t model;
    const struct pr_step *step; /* whose request: the job's step, or the
                                   judge a best_of step asks */
    bool stream, json_mode;
    struct pr_buf raw;        /* every byte of the reply */
    struct pr_llm_stream sse; /* the stream's events */
    size_t sse_fed;           /* raw is read by SSE up to here */
    struct pr_llm_parsed reply;
    char key[17];        /* the cassette's */
    bool served;         /* answered by the keeper, not the server */
    uint64_t keep_token; /* the keeper's for this request */
    char *req_body;
    size_t bad_utf8;    /* bytes of the request sent as U+FFFD */
    char *secret;       /* the API key sent, to redact from
                           what comes back; NULL: none */
    size_t redacted_to; /* raw is redacted up to here */
    bool too_big;       /* the reply passed MAX_REPLY */
    bool over_memory;   /* ... or --max-output-memory */
    size_t held;        /* bytes counted by pr_run_hold */
};

static void start_waiting(struct pr_run *r);

static struct call *call_of(struct pr_llm_ticket *t)
{
    return (struct call *)(void *)((char *)t - offsetof(struct call, t));
}

const char *pr_llm_env(const char *name)
{
    const char *v = name && *name ? getenv(name) : NULL;
    return v && *v ? v : NULL;
}

/* ---- run state ---- */

static int out_of_memory(void)
{
    fputs("pomlrun: error: out of memory\n", stderr);
    return -1;
}

int pr_llm_init(struct pr_run *r, const struct pr_llm_opts *o)
{
    struct pr_llm *L = calloc(1, sizeof *L);
    if (!L)
        return out_of_memory();
    r->llm = L;
    L->o = *o;
    L->run = r;
    if (!L->o.provider_jobs)
        L->o.provider_jobs = 64;
    L->breakers = calloc((size_t)r->plan->nmodels + 1, sizeof *L->breakers);
    if (!L->breakers ||
        pr_llm_limits_init(&L->limits, (size_t)r->plan->nmodels + 1,
                           L->o.provider_jobs, o->rpm, o->tpm) < 0)
        return out_of_memory();
    if (o->replay && pr_llm_tape_load(&L->tape, o->replay) < 0)
        return -1;
    /* the HTTP client (and libcurl) comes with the first request */
    return 0;
}

int pr_llm_finish(struct pr_run *r)
{
    struct pr_llm *L = pr_llm_state(r);
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
    const struct pr_step *s = c->step;
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
        const char *name = pr_plan_str(p, pr_plan_list_at(p, s->outputs, k),
                                       NULL);
        cJSON_AddItemToObject(props, name, cJSON_CreateObject());
        cJSON_AddItemToArray(req, cJSON_CreateString(name));
    }
    cJSON_AddBoolToObject(o, "additionalProperties", false);
    return o;
}

static char *build_body(struct call *c, const struct pr_model *m,
                        const struct pr_llm_ask *a)
{
    /* a member cJSON could not allocate is missing without a word, and
       the request would be another: counted, and refused below */
    unsigned long failures = pr_alloc_failures();
    const struct pr_step *s = c->step;
    cJSON *schema = c->json_mode ? schema_of(c) : NULL;
    struct pr_llm_request q = {.wire_id = m->wire_id,
                               .max_tokens = s->max_tokens ? s->max_tokens
                                                           : m->reply_tokens,
                               .step_max_tokens = s->max_tokens != 0,
                               .temperature = s->temperature,
                               .prompt = a->prompt,
                               .system = a->system,
                               .turns = a->turns,
                               .schema = schema,
                               .json_mode = c->json_mode,
                               .stream = c->stream};
    char *t = pr_llm_body(c->proto, &q, &c->bad_utf8);
    cJSON_Delete(schema);
    if (t && pr_alloc_failures() != failures) {
        free(t);
        t = NULL;
    }
    return t;
}

/* ---- replies ---- */

/* Reads the events in c->raw[sse_fed, TO). */
static void parse_sse(struct call *c, size_t to)
{
    if (!c->sse.pr)
        pr_llm_stream_init(&c->sse, c->proto, &c->reply);
    if (to > c->sse_fed)
        pr_llm_stream_feed(&c->sse, (const char *)c->raw.data + c->sse_fed,
                           to - c->sse_fed);
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
    while (i + k <= n) {
        /* the key's first byte, found by memchr: the reply's bytes are
           looked at once, not each against the key */
        const char *h = memchr(b + i, c->secret[0], n - k + 1 - i);
        if (!h) {
            i = n - k + 1;
            break;
        }
        i = (size_t)(h - b);
        if (memcmp(b + i, c->secret, k)) {
            i++;
            continue;
        }
        static const char mark[] = "[redacted]";
        for (size_t j = 0; j < k; j++)
            b[i + j] = k >= sizeof mark - 1 && j < sizeof mark - 2 ? mark[j]
                       : k >= sizeof mark - 1 && j == k - 1        ? ']'
                                                                   : '*';
        i += k;
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
    /* a reply being read counts with the run's outputs */
    if (!pr_run_hold(c->j->run, (long long)n)) {
        c->over_memory = true;
        return -1;
    }
    c->held += n;
    if (pr_buf_append(&c->raw, p, n) < 0) {
        c->reply.oom = true;
        return -1;
    }
    redact(c);
    if (c->stream)
        parse_sse(c, c->redacted_to);
    return 0;
}

static void free_call(struct call *c)
{
    if (c->secret) {
        memset(c->secret, 0, strlen(c->secret));
        free(c->secret);
    }
    pr_run_hold(c->j->run, -(long long)c->held);
    pr_buf_free(&c->raw);
    if (c->sse.pr)
        pr_llm_stream_free(&c->sse);
    pr_llm_parsed_free(&c->reply);
    free(c->req_body);
    free(c);
}

static void put(cJSON *o, const char *name, cJSON *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, name);
    if (v)
        pr_json_add(o, name, v);
}

/* The outputs of a good reply into *OUT; NULL, or why the reply is not
 * acceptable (a retry may help). */
static const char *outputs(struct call *c, const struct pr_model *m,
                           cJSON **out, double *cost, char *why, size_t cap)
{
    unsigned long failures = pr_alloc_failures();
    const struct pr_step *s = c->step;
    const struct pr_plan *p = c->j->run->plan;
    bool lost = c->reply.oom || pr_buf_append_u8(&c->reply.text, 0) < 0;
    const char *text = c->reply.text.data ? (const char *)c->reply.text.data
                                          : "";
    cJSON *o = cJSON_CreateObject();
    *out = o;
    cJSON *tv = lost ? NULL : pr_text_value(text, strlen(text), NULL);
    if (!tv) {
        snprintf(why, cap, "out of memory");
        return why;
    }
    put(o, "text", tv);
    size_t nuls = c->reply.nuls;
    if (nuls)
        pr_run_note(c->j->run, c->j,
                    "the reply held %zu NUL character%s (\\u0000), "
                    "replaced by U+FFFD",
                    nuls, nuls == 1 ? "" : "s");
    uint64_t in_tok = c->reply.in_tok, out_tok = c->reply.out_tok;
    *cost = pr_llm_spend(c->j, m, in_tok, out_tok);
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "input_tokens", (double)in_tok);
    cJSON_AddNumberToObject(u, "output_tokens", (double)out_tok);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(in_tok + out_tok));
    put(o, "usage", u);
    put(o, "cost", cJSON_CreateNumber(*cost));
    put(o, "model", cJSON_CreateString(m->name));
    if (c->reply.tools) {
        cJSON *t;
        cJSON_ArrayForEach (t, c->reply.tools) {
            const char *a = pr_llm_str_at(t, "arguments", NULL);
            cJSON *parsed = a && *a ? cJSON_Parse(a) : NULL;
            if (parsed)
                pr_json_set(t, "arguments", parsed);
        }
        put(o, "tool_calls", c->reply.tools);
        c->reply.tools = NULL;
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
        snprintf(why, cap,
                 pr_alloc_failures() != failures
                     ? "out of memory"
                     : "the reply is not JSON, though JSON was "
                       "asked for");
        return why;
    }
    if (json) {
        cJSON *schema = schema_of(c);
        char err[300];
        bool ok = !schema || pr_schema_check(json, schema, err, sizeof err);
        cJSON_Delete(schema);
        if (c->json_mode && !ok) {
            cJSON_Delete(json);
            snprintf(why, cap,
                     "the reply does not match the output schema: "
                     "%s",
                     err);
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
    /* an output cJSON could not allocate is missing without a word */
    if (pr_alloc_failures() != failures) {
        snprintf(why, cap, "out of memory");
        return why;
    }
    return NULL;
}

/* The request of C as the keeper knows it. */
static void keep_reply(struct pr_llm *L, const struct call *c,
                       const struct pr_http_result *res,
                       const struct pr_llm_reply *rep)
{
    const struct pr_llm_keeper *k = L->o.keeper;
    if (!k || c->served)
        return;
    struct pr_model m;
    pr_plan_model(c->j->run->plan, c->model, &m);
    struct pr_llm_kept x = {res->status, res->content_type,
                            (const char *)c->raw.data, c->raw.len};
    k->keep(k->ud, c->j, c->keep_token, m.protocol, c->proto->path,
            c->req_body, &x, rep->in_tok, rep->out_tok, rep->cost);
}

static void record(struct pr_llm *L, const struct call *c,
                   const struct pr_http_result *res)
{
    if (!L->o.record || res->cancelled || !res->status)
        return;
    pr_llm_tape_add(&L->tape, c->key, res->status, res->content_type,
                    (const char *)c->raw.data, c->raw.len);
}

/* Ends C: the callback gets the reply, C is freed. */
static void conclude(struct call *c, struct pr_llm_reply *rep)
{
    struct pr_run *r = c->j->run;
    pr_llm_settle(&c->t, c->reply.in_tok + c->reply.out_tok);
    pr_llm_done done = c->done;
    void *ud = c->ud;
    free_call(c);
    done(ud, rep);
    start_waiting(r);
}

/* A request of C ended: its provider's slot is free. */
static void release(struct call *c)
{
    if (c->t.prov && c->t.prov->in_flight)
        c->t.prov->in_flight--;
}

static void on_done(void *ud, const struct pr_http_result *res)
{
    struct call *c = ud;
    struct pr_run *r = c->j->run;
    struct pr_llm *L = pr_llm_state(r);
    struct pr_model m;
    pr_plan_model(r->plan, c->model, &m);
    c->req = NULL;
    release(c);
    record(L, c, res);
    char why[600], msg[400];
    struct pr_llm_reply rep = {.retryable = true,
                               .why = why,
                               .retry_after = res->retry_after,
                               .cancelled = res->cancelled != 0};
    bool ok = false, whole = false; /* WHOLE: a complete reply */
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
                 "reads; ask for less (max_tokens)",
                 m.name, MAX_REPLY >> 20);
        rep.retryable = false;
    } else if (c->over_memory) {
        snprintf(why, sizeof why,
                 "%s: the reply being read would take the run's step "
                 "outputs past --max-output-memory (%.0f MiB)",
                 m.name, (double)c->j->run->opt.max_output_memory / 1048576);
        rep.retryable = false;
    } else if (c->reply.oom) {
        /* a part of the reply could not be kept (curl: a write error) */
        snprintf(why, sizeof why, "%s: out of memory", m.name);
    } else if (res->header_too_big) {
        snprintf(why, sizeof why,
                 "%s: %s; the server's reply cannot be "
                 "read",
                 m.name, res->error);
        rep.retryable = false;
    } else if (res->curl_code) {
        snprintf(why, sizeof why, "%s: %s", m.name,
                 res->error ? res->error : "request failed");
    } else if (res->status < 200 || res->status > 299) {
        bool quota;
        pr_llm_error(c->proto, (const char *)c->raw.data, c->raw.len, msg,
                     sizeof msg, &quota);
        long st = res->status;
        rep.retryable = st == 408 || st == 409 || st == 429 || st >= 500;
        /* as the SDKs: the server's x-should-retry decides; a spent
           quota is no rate limit to wait out */
        if (res->should_retry >= 0)
            rep.retryable = res->should_retry == 1;
        if (st == 429 && quota)
            rep.retryable = false;
        bool nokey = st == 401 && !c->had_key;
        snprintf(why, sizeof why, "%s: HTTP %ld%s%s%s%s", m.name, st, msg,
                 !nokey             ? ""
                 : m.api_key_env[0] ? " (no API key was sent: set "
                                    : " (no API key was sent: the model "
                                      "names no api_key_env",
                 nokey ? m.api_key_env : "", nokey ? ")" : "");
    } else {
        const char *ct = res->content_type ? res->content_type : "";
        bool sse = !strncmp(ct, "text/event-stream", 17);
        bool json = !strncmp(ct, "application/json", 16);
        if (c->stream && sse) {
            parse_sse(c, c->raw.len); /* the end: nothing is held */
            if (c->reply.oom)
                snprintf(why, sizeof why, "%s: out of memory", m.name);
            else if (c->reply.error)
                snprintf(why, sizeof why, "%s: %s", m.name, c->reply.error);
            else if (!c->reply.done)
                snprintf(why, sizeof why,
                         "%s: the stream ended before the reply was "
                         "complete",
                         m.name);
            else
                ok = true;
        } else if (json) {
            const char *bad = pr_llm_whole(c->proto, &c->reply,
                                           (char *)c->raw.data, c->raw.len);
            if (!bad && c->reply.oom)
                bad = "out of memory";
            if (bad)
                snprintf(why, sizeof why, "%s: %s", m.name, bad);
            else
                ok = true;
        } else {
            snprintf(why, sizeof why,
                     "%s: unexpected content type '%.80s' (HTTP %ld)", m.name,
                     ct, res->status);
            rep.retryable = false;
        }
        whole = ok;
        if (ok) {
            char bad_buf[600];
            const char *bad = outputs(c, &m, &rep.outputs, &rep.cost, bad_buf,
                                      sizeof bad_buf);
            rep.in_tok = c->reply.in_tok;
            rep.out_tok = c->reply.out_tok;
            if (bad) {
                ok = false;
                cJSON_Delete(rep.outputs);
                rep.outputs = NULL;
                snprintf(why, sizeof why, "%.80s: %.500s", m.name, bad);
            }
        }
    }
    rep.ok = ok;
    if (whole)
        keep_reply(L, c, res, &rep);
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
    struct pr_llm_reply rep = {
        .why = why, .retryable = retryable, .retry_after = -1};
    conclude(c, &rep);
}

/* Answers C with a reply that was kept (a cassette, the state file). */
static void serve(struct call *c, long status, const char *content_type,
                  const char *body, size_t len)
{
    struct pr_http_result res = {0};
    res.retry_after = -1;
    on_data(c, body, len);
    res.status = status;
    res.content_type = content_type;
    on_done(c, &res);
}

static void replay(struct call *c)
{
    struct pr_llm *L = pr_llm_state(c->j->run);
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
    serve(c, x->status, x->content_type, x->body, x->len);
}

/* Sends C (its body built, its slot taken). */
static void send_call(struct call *c)
{
    struct pr_run *r = c->j->run;
    struct pr_llm *L = pr_llm_state(r);
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
    const struct pr_llm_keeper *k = L->o.keeper;
    struct pr_llm_kept kx;
    if (k &&
        k->find(k->ud, c->j, m.protocol, c->proto->path, c->req_body, &kx)) {
        c->served = true;
        serve(c, kx.status, kx.content_type, kx.body, kx.len);
        return;
    }
    if (!L->http && !(L->http = pr_http_new(r->loop, why, sizeof why))) {
        release(c);
        fail_call(c, why, false);
        return;
    }
    /* the endpoint and the key: the variables the model names, nothing
       else (the compiler gives a provider's variables only to models
       of the provider's own endpoint), so that no plan sends a
       well-known key to a host of its choosing */
    const char *base = pr_llm_env(m.base_url_env);
    if (!base)
        base = m.base_url;
    const char *key = pr_llm_env(m.api_key_env);
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
        snprintf(why, sizeof why, "model '%s' has no base URL; set %s", m.name,
                 m.base_url_env[0] ? m.base_url_env : "base_url");
        release(c);
        fail_call(c, why, false);
        return;
    }
    char url[2048];
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof url, "%.*s%s", (int)bl, base, c->proto->path);
    char auth[1024] = "";
    c->had_key = key != NULL;
    const char *headers[7];
    size_t nh = 0;
    headers[nh++] = "Content-Type: application/json";
    headers[nh++] = "Expect:"; /* no 100-continue round trip */
    headers[nh++] = c->stream ? "Accept: text/event-stream"
                              : "Accept: application/json";
    nh += c->proto->headers(key, auth, sizeof auth, headers + nh);
    headers[nh] = NULL;
    /* the step's timeout (pomlc gives every LLM step one) bounds each
       request too */
    double t = L->o.request_timeout > 0 ? L->o.request_timeout : s->timeout;
    struct pr_http_opts o = {.url = url,
                             .headers = headers,
                             .body = c->req_body,
                             .body_len = strlen(c->req_body),
                             .timeout = t,
                             .connect_timeout = 30,
                             .on_data = on_data,
                             .on_done = on_done,
                             .ud = c};
    if (k)
        c->keep_token = k->sent(k->ud, c->j, m.protocol, c->proto->path,
                                c->req_body);
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
    struct pr_llm *L = pr_llm_state(r);
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
    struct pr_llm *L = pr_llm_state(r);
    struct call *c = calloc(1, sizeof *c);
    if (!c) {
        struct pr_llm_reply rep = {.why = "out of memory", .retry_after = -1};
        done(ud, &rep);
        return NULL;
    }
    c->j = j;
    c->step = a->as_step ? a->as_step : pr_job_step(j);
    c->reply.j = j;
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
        pr_run_note(r, j, "using fallback model '%s'", m.name);
    c->model = mi;
    c->proto = pr_llm_proto_for(m.protocol);
    c->stream = !L->o.no_stream;
    c->json_mode = a->json_mode;
    c->req_body = build_body(c, &m, a);
    if (!c->req_body) {
        fail_call(c, "out of memory", false);
        return NULL;
    }
    if (c->bad_utf8)
        pr_run_note(r, j,
                    "the request held %zu byte%s of invalid "
                    "UTF-8, each sent as U+FFFD",
                    c->bad_utf8, pr_plural(c->bad_utf8));
    pr_llm_tape_key(m.protocol, c->proto->path, c->req_body, c->key);
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
    struct pr_llm *L = pr_llm_state(c->j->run);
    if (c->t.waiting) {
        pr_llm_unwait(&L->limits, &c->t);
        struct pr_llm_reply rep = {
            .why = "cancelled", .cancelled = true, .retry_after = -1};
        conclude(c, &rep);
        return;
    }
    if (c->req)
        pr_http_cancel(c->req);
}
