/* llm.c -- LLM steps: requests, streaming replies, failures, budgets
 *
 * One attempt of an LLM step:
 *   1. pick the model: the step's, or the first of its fallbacks whose
 *      circuit breaker lets a call through;
 *   2. check the budget (workflow and step): no call starts once spent;
 *   3. build the request for the model's protocol (openai | anthropic),
 *      with the key from the environment only (never logged, never in a
 *      cassette);
 *   4. send it on the loop (http.c) or serve it from the cassette; parse
 *      the server-sent events as they arrive (or the whole JSON reply);
 *   5. classify the end: 408, 409, 429, 5xx and connection failures are
 *      retryable (retry-after honoured), other 4xx are not; a reply that
 *      is not JSON when JSON was asked for, or that misses the output
 *      schema, is retryable with the reason.
 * Outputs: text, json (when the text is JSON), usage, cost, model,
 * tool_calls, and each declared output as a field of the JSON reply.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "eval.h"
#include "http.h"
#include "llm.h"
#include "llm_call.h"
#include "run.h"

#define DEFAULT_MAX_TOKENS 4096
#define MAX_REPLY ((size_t)32 << 20)

enum breaker { B_CLOSED, B_OPEN, B_HALF_OPEN };

struct model_state {
    enum breaker state;
    unsigned failures;          /* consecutive */
    double opened_at;           /* monotonic */
    bool trial;                 /* half-open: the one call is out */
};

struct provider_slot {
    const char *name;
    unsigned in_flight;
    /* token buckets of the --rpm / --tpm limits, refilled continuously */
    double req_avail, tok_avail, last;
    /* calls waiting for this provider, in order: q[head .. len) */
    struct call **q;
    size_t head, len, cap;
};

struct exchange {               /* a cassette entry */
    char key[17];
    long status;
    char *content_type;
    char *body;
    size_t len;
    bool used;
};

struct pr_llm {
    struct pr_llm_opts o;
    struct pr_http *http;
    struct model_state *models;
    struct provider_slot *providers;
    size_t nproviders;
    size_t nwaiting;            /* calls queued, all providers */
    double cost;
    uint64_t in_tok, out_tok, calls;
    struct exchange *tape;
    size_t ntape, captape;
    bool tape_dirty;
    uint64_t wake;              /* timer: a rate limit frees up */
    struct pr_run *run;
};

struct step_spend {
    double cost;
    uint64_t tokens, calls;
    bool routed;                /* the capability note was given */
};

struct call {
    struct pr_job *j;
    pr_llm_done done;
    void *ud;
    struct pr_http_req *req;
    bool waiting;               /* queued for a provider slot */
    bool had_key;               /* an API key was sent */
    int16_t block_tool[64];     /* Anthropic: content block -> tool call
                                   index + 1 (0: not a tool block) */
    int ntools;
    double est_tokens;          /* what the rate limiter charges */
    bool charged;
    uint32_t model;
    const struct pr_step *step; /* whose request: the job's step, or the
                                   judge a best_of step asks */
    bool anthropic, stream, json_mode;
    struct provider_slot *slot;
    struct pr_buf raw;          /* every byte of the reply */
    size_t sse_at;              /* parsed up to here */
    size_t sse_scan;            /* no event ends before here: the search
                                   for the next one resumes here, so a
                                   body without a blank line costs one
                                   pass, not one per chunk */
    struct pr_buf text;
    cJSON *tools;               /* tool calls being assembled */
    uint64_t in_tok, out_tok;
    bool done_event;
    bool oom;                   /* a part of the reply could not be kept */
    char *stream_error;
    char key[17];
    char *req_body;
    char *secret;               /* the API key sent, to redact from
                                   what comes back; NULL: none */
    size_t redacted_to;         /* raw is redacted up to here */
    bool too_big;               /* the reply passed MAX_REPLY */
    size_t nuls;                /* \u0000 escapes read as U+FFFD */
};

/* ---- small helpers ---- */

static struct pr_llm *state(const struct pr_run *r)
{
    return r->llm;
}

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static char *env_or_null(const char *name)
{
    const char *v = name && *name ? getenv(name) : NULL;
    return v && *v ? (char *)v : NULL;
}

/* ---- cassettes ---- */

static int out_of_memory(void)
{
    fputs("pomlrun: error: out of memory\n", stderr);
    return -1;
}

static int load_tape(struct pr_llm *L, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "pomlrun: error: cannot read cassette '%s': %s\n",
                path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int rc = 0;
    unsigned long f0 = pr_alloc_failures();
    while ((errno = 0, n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (n <= 1)
            continue;
        cJSON *e = cJSON_Parse(line);
        if (!e && pr_alloc_failures() != f0)
            break;
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(e, "key"));
        cJSON *body = cJSON_GetObjectItem(e, "body");
        cJSON *st = cJSON_GetObjectItem(e, "status");
        if (!key || strlen(key) != 16 || !cJSON_IsString(body) ||
            !cJSON_IsNumber(st)) {
            fprintf(stderr,
                    "pomlrun: error: %s:%u: not a cassette entry (a JSON "
                    "object with key, status and body)\n", path, lineno);
            cJSON_Delete(e);
            rc = -1;
            break;
        }
        if (pr_grow((void **)&L->tape, &L->captape, L->ntape + 1,
                    sizeof *L->tape) < 0) {
            cJSON_Delete(e);
            errno = ENOMEM;
            break;
        }
        struct exchange *x = &L->tape[L->ntape++];
        memset(x, 0, sizeof *x);
        memcpy(x->key, key, 17);
        x->status = (long)st->valuedouble;
        const char *ct = cJSON_GetStringValue(
            cJSON_GetObjectItem(e, "content_type"));
        x->content_type = ct ? strdup(ct) : NULL;
        x->body = strdup(body->valuestring);
        x->len = strlen(body->valuestring);
        cJSON_Delete(e);
        if (!x->body || (ct && !x->content_type)) {
            errno = ENOMEM;
            break;
        }
    }
    /* getline's ENOMEM, or a break above for want of memory: not the
       cassette's end */
    if (rc == 0 && (errno == ENOMEM || pr_alloc_failures() != f0))
        rc = out_of_memory();
    free(line);
    fclose(f);
    return rc;
}

static int save_tape(struct pr_llm *L, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "pomlrun: error: cannot write cassette '%s': %s\n",
                path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < L->ntape; i++) {
        struct exchange *x = &L->tape[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "key", x->key);
        cJSON_AddNumberToObject(e, "status", (double)x->status);
        if (x->content_type)
            cJSON_AddStringToObject(e, "content_type", x->content_type);
        cJSON_AddStringToObject(e, "body", x->body ? x->body : "");
        char *t = cJSON_PrintUnformatted(e);
        if (t) {
            fputs(t, f);
            fputc('\n', f);
        }
        free(t);
        cJSON_Delete(e);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "pomlrun: error: writing cassette '%s': %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- run state ---- */

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
    L->models = calloc((size_t)r->plan->nmodels + 1, sizeof *L->models);
    L->providers = calloc((size_t)r->plan->nmodels + 1, sizeof *L->providers);
    if (!L->models || !L->providers)
        return out_of_memory();
    if (o->replay && load_tape(L, o->replay) < 0)
        return -1;
    if (!o->replay) {
        L->http = pr_http_new(r->loop);
        if (!L->http) {
            fputs("pomlrun: error: cannot start libcurl: out of memory\n",
                  stderr);
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
    if (L->o.record && L->tape_dirty)
        rc = save_tape(L, L->o.record);
    if (L->wake)
        pr_loop_cancel(r->loop, L->wake);
    pr_http_free(L->http);
    for (size_t i = 0; i < L->ntape; i++) {
        free(L->tape[i].body);
        free(L->tape[i].content_type);
    }
    free(L->tape);
    free(L->models);
    for (size_t i = 0; i < L->nproviders; i++)
        free(L->providers[i].q);
    free(L->providers);
    free(L);
    r->llm = NULL;
    return rc;
}

void pr_llm_totals(const struct pr_run *r, double *cost, uint64_t *in_tok,
                   uint64_t *out_tok, uint64_t *calls)
{
    const struct pr_llm *L = state(r);
    *cost = L ? L->cost : 0;
    *in_tok = L ? L->in_tok : 0;
    *out_tok = L ? L->out_tok : 0;
    *calls = L ? L->calls : 0;
}

/* ---- model choice: breakers and fallbacks ---- */

static bool breaker_allows(const struct pr_run *r, struct model_state *m)
{
    double reset = r->wf.breaker_reset; /* positive: the loader checks */
    switch (m->state) {
    case B_CLOSED:
        return true;
    case B_OPEN:
        if (pr_loop_now() - m->opened_at < reset)
            return false;
        m->state = B_HALF_OPEN;
        m->trial = false;
        /* fall through */
    case B_HALF_OPEN:
        return !m->trial;
    }
    return false;
}

static void breaker_result(const struct pr_run *r, struct model_state *m,
                           bool ok)
{
    unsigned threshold = r->wf.breaker_threshold; /* at least 1 */
    if (ok) {
        m->state = B_CLOSED;
        m->failures = 0;
        return;
    }
    m->failures++;
    if (m->state == B_HALF_OPEN || m->failures >= threshold) {
        m->state = B_OPEN;
        m->opened_at = pr_loop_now();
    }
    m->trial = false;
}

/* The model for this attempt, or PR_PLAN_NONE (every breaker open).  The
 * chain is the step's model, then its fallbacks in order: attempt N
 * starts at link N (a retry after a failure moves down the chain, the
 * last link keeps the remaining attempts), and a link whose breaker is
 * open is passed over. */
static uint32_t chain_model(const struct pr_run *r, const struct pr_step *s,
                            uint32_t at)
{
    return at == 0 ? s->model : pr_plan_list_at(r->plan, s->fallback, at - 1);
}

/* Model M can be called: its API key is set (or it needs none) and it
 * has an endpoint. */
static bool configured(const struct pr_run *r, uint32_t m)
{
    struct pr_model v;
    if (m >= r->plan->nmodels)
        return false;
    pr_plan_model(r->plan, m, &v);
    return (!v.api_key_env[0] || env_or_null(v.api_key_env)) &&
           (v.base_url[0] || env_or_null(v.base_url_env));
}

/* The link a step's chain starts at: 0, but for a step whose model comes
 * from a capability, the first link that is configured (none: 0).  The
 * first attempt says which it took when it passed one over. */
static uint32_t chain_start(struct pr_job *j, uint32_t links)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    if (!s->capability)
        return 0;
    for (uint32_t at = 0; at < links; at++) {
        if (!configured(r, chain_model(r, s, at)))
            continue;
        struct step_spend *sp = r->kind_state[j->step];
        if (!sp)
            sp = r->kind_state[j->step] = calloc(1, sizeof *sp);
        if (at > 0 && sp && !sp->routed) {
            struct pr_model first, took;
            pr_plan_model(r->plan, s->model, &first);
            pr_plan_model(r->plan, chain_model(r, s, at), &took);
            bool nokey = first.api_key_env[0] && !env_or_null(first.api_key_env);
            pr_report_note(r, j,
                           "capability '%s': using model '%s', the first "
                           "of its models that is configured ('%s' is "
                           "not: %s%s)", s->capability, took.name,
                           first.name,
                           nokey ? first.api_key_env : "no endpoint; set ",
                           nokey ? " is not set" : first.base_url_env);
            sp->routed = true;
        }
        return at;
    }
    return 0;
}

static uint32_t pick_model(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    struct pr_llm *L = state(r);
    uint32_t links = 1 + s->fallback.n;
    uint32_t first = chain_start(j, links) +
                     (j->attempts > 0 ? j->attempts - 1 : 0);
    if (first >= links)
        first = links - 1;
    for (uint32_t k = 0; k < links; k++) {
        uint32_t m = chain_model(r, s, (first + k) % links);
        if (m < r->plan->nmodels && breaker_allows(r, &L->models[m]))
            return m;
    }
    return PR_PLAN_NONE;
}

/* ---- budget ---- */

const char *pr_llm_over_budget(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    struct pr_llm *L = state(r);
    struct step_spend *sp = r->kind_state[j->step];
    if (r->wf.budget_calls && L->calls >= r->wf.budget_calls)
        return "budget: the workflow's max_llm_calls is spent";
    if (r->wf.budget_tokens && L->in_tok + L->out_tok >= r->wf.budget_tokens)
        return "budget: the workflow's max_tokens is spent";
    if (r->wf.budget_cost > 0 && L->cost >= r->wf.budget_cost)
        return "budget: the workflow's max_cost_usd is spent";
    if (sp && s->budget_calls && sp->calls >= s->budget_calls)
        return "budget: the step's max_llm_calls is spent";
    if (sp && s->budget_tokens && sp->tokens >= s->budget_tokens)
        return "budget: the step's max_tokens is spent";
    if (sp && s->budget_cost > 0 && sp->cost >= s->budget_cost)
        return "budget: the step's max_cost_usd is spent";
    return NULL;
}

static void spend(struct pr_job *j, const struct pr_model *m,
                  uint64_t in_tok, uint64_t out_tok, double *cost)
{
    struct pr_run *r = j->run;
    struct pr_llm *L = state(r);
    *cost = (double)in_tok * m->input_per_mtok / 1e6 +
            (double)out_tok * m->output_per_mtok / 1e6;
    L->cost += *cost;
    L->in_tok += in_tok;
    L->out_tok += out_tok;
    struct step_spend *sp = r->kind_state[j->step];
    if (!sp)
        sp = r->kind_state[j->step] = calloc(1, sizeof *sp);
    if (sp) {
        sp->cost += *cost;
        sp->tokens += in_tok + out_tok;
    }
}

/* ---- structured output: a JSON Schema subset ---- */

static bool type_is(const cJSON *v, const char *t)
{
    if (!strcmp(t, "object")) return cJSON_IsObject(v);
    if (!strcmp(t, "array")) return cJSON_IsArray(v);
    if (!strcmp(t, "string")) return cJSON_IsString(v);
    if (!strcmp(t, "boolean")) return cJSON_IsBool(v);
    if (!strcmp(t, "null")) return cJSON_IsNull(v);
    if (!strcmp(t, "number")) return cJSON_IsNumber(v);
    if (!strcmp(t, "integer"))
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    return true;
}

/* Checks V against SCHEMA (type, enum, required, properties, items);
 * writes where it fails into ERR. */
static bool conforms(const cJSON *v, const cJSON *schema, const char *path,
                     char *err, size_t cap, int depth)
{
    if (!cJSON_IsObject(schema) || depth > 64)
        return true;
    const cJSON *t = cJSON_GetObjectItem(schema, "type");
    if (cJSON_IsString(t) && !type_is(v, t->valuestring)) {
        snprintf(err, cap, "%s: expected %s, got %s", path, t->valuestring,
                 pr_json_type_name(v));
        return false;
    }
    const cJSON *en = cJSON_GetObjectItem(schema, "enum");
    if (cJSON_IsArray(en)) {
        const cJSON *e;
        bool found = false;
        cJSON_ArrayForEach(e, en) found |= pr_json_equal(e, v);
        if (!found) {
            snprintf(err, cap, "%s: not one of the enum values", path);
            return false;
        }
    }
    const cJSON *req = cJSON_GetObjectItem(schema, "required");
    const cJSON *e;
    if (cJSON_IsObject(v) && cJSON_IsArray(req)) {
        cJSON_ArrayForEach(e, req) {
            if (cJSON_IsString(e) &&
                !cJSON_GetObjectItemCaseSensitive(v, e->valuestring)) {
                snprintf(err, cap, "%s: missing required field '%s'", path,
                         e->valuestring);
                return false;
            }
        }
    }
    const cJSON *props = cJSON_GetObjectItem(schema, "properties");
    if (cJSON_IsObject(v) && cJSON_IsObject(props)) {
        cJSON_ArrayForEach(e, props) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, e->string);
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", path, e->string);
            if (x && !conforms(x, e, sub, err, cap, depth + 1))
                return false;
        }
    }
    const cJSON *items = cJSON_GetObjectItem(schema, "items");
    if (cJSON_IsArray(v) && cJSON_IsObject(items)) {
        int i = 0;
        cJSON_ArrayForEach(e, v) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%d]", path, i++);
            if (!conforms(e, items, sub, err, cap, depth + 1))
                return false;
        }
    }
    return true;
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
    pr_json_add(parts, NULL, p);
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
        pr_json_add(parts, NULL, p);
    }
    return t;
}

static char *build_body(struct call *c, const struct pr_model *m,
                        const char *prompt, const char *system,
                        const cJSON *turns)
{
    /* a member cJSON could not allocate is missing without a word, and
       the request would be another: counted, and refused below */
    unsigned long failures = pr_alloc_failures();
    const struct pr_step *s = c->step;
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
            pr_json_add(f, "schema", cJSON_Duplicate(schema, true));
        } else if (c->json_mode) {
            /* JSON without a schema has no option of its own: ask */
            size_t n = (system ? strlen(system) : 0) + 64;
            sys = pr_malloc(n);
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
            pr_json_add(msgs, NULL, sm);
        }
        if (c->json_mode) {
            cJSON *rf = cJSON_AddObjectToObject(b, "response_format");
            if (schema) {
                cJSON_AddStringToObject(rf, "type", "json_schema");
                cJSON *js = cJSON_AddObjectToObject(rf, "json_schema");
                cJSON_AddStringToObject(js, "name", "output");
                pr_json_add(js, "schema", cJSON_Duplicate(schema, true));
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
            pr_json_add(msgs, NULL, turn(c->anthropic,
                                            role ? role : "user",
                                            text ? text : "",
                                            cJSON_GetObjectItem(t, "media")));
        }
    } else {
        pr_json_add(msgs, NULL, turn(c->anthropic, "user", prompt, NULL));
    }
    pr_json_add(b, "messages", msgs);
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
    if (t && pr_alloc_failures() != failures) {
        free(t);
        t = NULL;
    }
    return t;
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
        if (!pr_json_add(c->tools, NULL, t)) {
            c->oom = true;
            return;
        }
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
        if (!n) {
            c->oom = true;
            continue;
        }
        memcpy(n, old ? old : "", a);
        memcpy(n + a, vals[k], b + 1);
        if (!pr_json_set(t, fields[k], cJSON_CreateString(n)))
            c->oom = true;
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
    if (t && pr_buf_append(&c->text, t, strlen(t)) < 0)
        c->oom = true;
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
    unsigned long failures = pr_alloc_failures();
    cJSON *e = cJSON_Parse(data);
    if (!e && pr_alloc_failures() != failures) {
        c->oom = true;
        return;
    }
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

/* Parses the complete events in c->raw after sse_at. */
static void parse_sse(struct call *c)
{
    const char *b = (const char *)c->raw.data;
    size_t n = c->raw.len;
    for (;;) {
        size_t at = c->sse_at, end = (size_t)-1, next = 0;
        size_t from = c->sse_scan > at ? c->sse_scan : at;
        for (size_t i = from; i + 1 < n; i++) {
            if (b[i] == '\n' && b[i + 1] == '\n') {
                end = i, next = i + 2;
                break;
            }
            if (b[i] == '\n' && b[i + 1] == '\r' && i + 2 < n &&
                b[i + 2] == '\n') {
                end = i, next = i + 3;
                break;
            }
        }
        if (end == (size_t)-1) {
            /* an end ("\n\n", "\n\r\n") may still start in the last
               two bytes */
            c->sse_scan = n > at + 2 ? n - 2 : at;
            return;
        }
        struct pr_buf data;
        pr_buf_init(&data);
        for (size_t i = at; i < end;) {
            size_t e = i;
            while (e < end && b[e] != '\n')
                e++;
            size_t len = e - i;
            if (len && b[i + len - 1] == '\r')
                len--;
            if (len >= 5 && !memcmp(b + i, "data:", 5)) {
                size_t o = 5 + (len > 5 && b[i + 5] == ' ');
                if ((data.len && pr_buf_append_u8(&data, '\n') < 0) ||
                    pr_buf_append(&data, b + i + o, len - o) < 0)
                    c->oom = true;
            }
            i = e + 1;
        }
        if (pr_buf_append_u8(&data, 0) < 0)
            c->oom = true;
        else if (data.data && data.len > 1)
            on_event(c, (char *)data.data);
        pr_buf_free(&data);
        c->sse_at = next;
    }
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
    size_t k = c->secret ? strlen(c->secret) : 0;
    if (!k || c->raw.len < k)
        return;
    char *b = (char *)c->raw.data;
    size_t i = c->redacted_to;
    for (; i + k <= c->raw.len; i++) {
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
        parse_sse(c);
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
    pr_buf_append_u8(&c->text, 0);
    const char *text = c->text.data ? (const char *)c->text.data : "";
    cJSON *o = cJSON_CreateObject();
    *out = o;
    cJSON *tv = pr_text_value(text, strlen(text), NULL);
    if (!tv || c->oom) {
        cJSON_Delete(tv);
        snprintf(why, cap, "out of memory");
        return why;
    }
    put(o, "text", tv);
    if (c->nuls)
        pr_report_note(c->j->run, c->j,
                       "the reply held %zu NUL character%s (\\u0000), "
                       "replaced by U+FFFD", c->nuls, c->nuls == 1 ? "" : "s");
    spend(c->j, m, c->in_tok, c->out_tok, cost);
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
                pr_json_set(t, "arguments", parsed);
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
        snprintf(why, cap, pr_alloc_failures() != failures
                               ? "out of memory"
                               : "the reply is not JSON, though JSON was "
                                 "asked for");
        return why;
    }
    if (json) {
        cJSON *schema = schema_of(c);
        char err[300];
        bool ok = !schema || conforms(json, schema, "$", err, sizeof err, 0);
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
    /* an output cJSON could not allocate is missing without a word */
    if (pr_alloc_failures() != failures) {
        snprintf(why, cap, "out of memory");
        return why;
    }
    return NULL;
}

static void record(struct pr_llm *L, const struct call *c,
                   const struct pr_http_result *res)
{
    if (!L->o.record || res->cancelled || !res->status)
        return;
    if (pr_grow((void **)&L->tape, &L->captape, L->ntape + 1,
                sizeof *L->tape) < 0)
        return;
    struct exchange *x = &L->tape[L->ntape++];
    memset(x, 0, sizeof *x);
    memcpy(x->key, c->key, 17);
    x->status = res->status;
    x->content_type = res->content_type ? strdup(res->content_type) : NULL;
    x->body = malloc(c->raw.len + 1);
    if (x->body) {
        memcpy(x->body, c->raw.data ? c->raw.data : (const uint8_t *)"",
               c->raw.len);
        x->body[c->raw.len] = '\0';
    }
    L->tape_dirty = true;
}

static void start_waiting(struct pr_run *r);
static void settle_tokens(struct call *c);

/* Ends C: the callback gets the reply, C is freed. */
static void conclude(struct call *c, struct pr_llm_reply *rep)
{
    struct pr_run *r = c->j->run;
    settle_tokens(c);
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
    if (c->slot && c->slot->in_flight)
        c->slot->in_flight--;
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
            parse_sse(c);
            if (c->oom)
                snprintf(why, sizeof why, "%s: out of memory", m.name);
            else if (c->stream_error)
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
            unsigned long failures = pr_alloc_failures();
            cJSON *body = cJSON_ParseWithLength(
                c->raw.data ? (const char *)c->raw.data : "", c->raw.len);
            const char *bad = body ? parse_whole(c, body)
                              : pr_alloc_failures() != failures
                                  ? "out of memory"
                                  : "the reply body is not valid JSON";
            if (!bad && c->oom)
                bad = "out of memory";
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
    bool sick = (res->curl_code && !c->too_big) || st == 408 || st == 429 || st >= 500 ||
                (st >= 200 && st <= 299 && !whole);
    bool client_error = !sick && st >= 300;
    if (!res->cancelled && !client_error)
        breaker_result(r, &L->models[c->model], !sick);
    conclude(c, &rep);
}

/* ---- starting ---- */

static struct provider_slot *slot_for(struct pr_llm *L, const char *name)
{
    for (size_t i = 0; i < L->nproviders; i++)
        if (!strcmp(L->providers[i].name, name))
            return &L->providers[i];
    struct provider_slot *s = &L->providers[L->nproviders++];
    s->name = name;
    s->in_flight = 0;
    return s;
}

static void fail_call(struct call *c, const char *why, bool retryable)
{
    struct pr_llm_reply rep = {.why = why, .retryable = retryable,
                               .retry_after = -1};
    conclude(c, &rep);
}

static void replay(struct call *c)
{
    struct pr_llm *L = state(c->j->run);
    struct exchange *x = NULL;
    for (size_t i = 0; i < L->ntape && !x; i++)
        if (!memcmp(L->tape[i].key, c->key, 16) && !L->tape[i].used)
            x = &L->tape[i];
    for (size_t i = 0; i < L->ntape && !x; i++)
        if (!memcmp(L->tape[i].key, c->key, 16))
            x = &L->tape[i];
    if (!x) {
        char why[300];
        snprintf(why, sizeof why,
                 "the cassette '%s' has no exchange for this request (key "
                 "%s); record it with --record",
                 L->o.replay, c->key);
        if (c->slot && c->slot->in_flight)
            c->slot->in_flight--;
        fail_call(c, why, false);
        return;
    }
    x->used = true;
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
    c->slot->in_flight++;
    L->calls++;
    struct step_spend *sp = r->kind_state[c->j->step];
    if (!sp)
        sp = r->kind_state[c->j->step] = calloc(1, sizeof *sp);
    if (sp)
        sp->calls++;
    if (L->models[c->model].state == B_HALF_OPEN)
        L->models[c->model].trial = true;
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
        c->slot->in_flight--;
        fail_call(c, why, false);
        return;
    }
    if (key && !(c->secret = strdup(key))) {
        c->slot->in_flight--;
        fail_call(c, "out of memory", false);
        return;
    }
    if (!base || !*base) {
        snprintf(why, sizeof why, "model '%s' has no base URL; set %s",
                 m.name, m.base_url_env[0] ? m.base_url_env : "base_url");
        c->slot->in_flight--;
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
        c->slot->in_flight--;
        fail_call(c, "cannot start the request: out of memory", false);
    }
}

/* Admits C under its provider's limits: 0 (the buckets are charged),
 * or the seconds until it could be admitted (-1: a concurrency slot must
 * free up first). */
static double admit(struct pr_llm *L, struct call *c)
{
    struct provider_slot *s = c->slot;
    if (s->in_flight >= L->o.provider_jobs)
        return -1;
    double rpm = L->o.rpm, tpm = L->o.tpm;
    if (!rpm && !tpm)
        return 0;
    double now = pr_loop_now();
    if (!s->last) {
        s->req_avail = rpm;
        s->tok_avail = tpm;
    } else {
        s->req_avail += (now - s->last) * rpm / 60;
        s->tok_avail += (now - s->last) * tpm / 60;
        if (s->req_avail > rpm)
            s->req_avail = rpm;
        if (s->tok_avail > tpm)
            s->tok_avail = tpm;
    }
    s->last = now;
    double need = c->est_tokens < tpm ? c->est_tokens : tpm, wait = 0;
    if (rpm && s->req_avail < 1)
        wait = (1 - s->req_avail) * 60 / rpm;
    if (tpm && s->tok_avail < need && (need - s->tok_avail) * 60 / tpm > wait)
        wait = (need - s->tok_avail) * 60 / tpm;
    if (wait > 0)
        return wait;
    if (rpm)
        s->req_avail -= 1;
    if (tpm) {
        s->tok_avail -= c->est_tokens;
        c->charged = true;
    }
    return 0;
}

static void on_wake(void *ud)
{
    struct pr_llm *L = ud;
    L->wake = 0;
    start_waiting(L->run);
}

/* Starts, provider by provider, the waiting calls its limits admit, in
 * order; sets a timer for the earliest a rate limit admits the rest. */
static void start_waiting(struct pr_run *r)
{
    struct pr_llm *L = state(r);
    if (!L || !L->nwaiting)
        return;
    double soonest = -1;
    for (size_t k = 0; k < L->nproviders; k++) {
        struct provider_slot *ps = &L->providers[k];
        while (ps->head < ps->len) {
            struct call *c = ps->q[ps->head];
            double w = admit(L, c);
            if (w != 0) {
                if (w > 0 && (soonest < 0 || w < soonest))
                    soonest = w;
                break;
            }
            ps->head++;
            L->nwaiting--;
            c->waiting = false;
            send_call(c);
        }
        if (ps->head == ps->len)
            ps->head = ps->len = 0;
    }
    if (soonest > 0 && !L->wake)
        L->wake = pr_loop_timer(r->loop, soonest, on_wake, L);
}

/* The rate limiter charged an estimate; settle with what was used. */
static void settle_tokens(struct call *c)
{
    if (c->slot && c->charged)
        c->slot->tok_avail -= (double)(c->in_tok + c->out_tok) - c->est_tokens;
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
    c->step = a->as_step ? a->as_step : pr_job_step(j);
    c->done = done;
    c->ud = ud;
    const char *over = pr_llm_over_budget(j);
    if (over) {
        fail_call(c, over, false);
        return NULL;
    }
    uint32_t mi = a->model != PR_PLAN_NONE ? a->model : pick_model(j);
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
    const char *path = c->anthropic ? "/messages" : "/chat/completions";
    uint64_t h = fnv1a(m.protocol, strlen(m.protocol), 1469598103934665603ull);
    h = fnv1a(path, strlen(path), h);
    h = fnv1a(c->req_body, strlen(c->req_body), h);
    snprintf(c->key, sizeof c->key, "%016llx", (unsigned long long)h);
    c->slot = slot_for(L, m.provider);
    c->est_tokens = L->o.tpm ? (double)strlen(c->req_body) / 4 : 0;
    struct provider_slot *ps = c->slot;
    if (ps->head < ps->len || admit(L, c) != 0) {
        if (ps->head > 0 && ps->len == ps->cap) {       /* compact */
            memmove(ps->q, ps->q + ps->head,
                    (ps->len - ps->head) * sizeof *ps->q);
            ps->len -= ps->head;
            ps->head = 0;
        }
        if (pr_grow((void **)&ps->q, &ps->cap, ps->len + 1,
                    sizeof *ps->q) < 0) {
            fail_call(c, "out of memory", false);
            return NULL;
        }
        c->waiting = true;
        ps->q[ps->len++] = c;
        L->nwaiting++;
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
    if (c->waiting) {
        struct provider_slot *ps = c->slot;
        for (size_t i = ps->head; i < ps->len; i++)
            if (ps->q[i] == c) {
                memmove(ps->q + i, ps->q + i + 1,
                        (ps->len - i - 1) * sizeof *ps->q);
                ps->len--;
                L->nwaiting--;
                break;
            }
        struct pr_llm_reply rep = {.why = "cancelled", .cancelled = true,
                                   .retry_after = -1};
        conclude(c, &rep);
        return;
    }
    if (c->req)
        pr_http_cancel(c->req);
}
