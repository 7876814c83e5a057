/* emit.c -- writes the checked IR as a plan file (runtime/plan.h)
 *
 * Steps go out in topological order; everything else in source order, so
 * the same sources always give the same bytes.  Paths are stored as written
 * (the main source by its base name only), and nothing secret exists in
 * the IR to begin with: models carry the names of environment variables,
 * never their values.  Prompt files and partials go into PROMPTS sorted by
 * kind and name, their templates encoded (handlebars.c) with partials by
 * record index.  The plans of the sub-workflows are written the same way
 * and embedded whole, each written once however many plans embed it.
 * Every field is written by name (PR_PUT and its kin, plan.h): the layout
 * is the one the loader reads, and a record missing a field is refused.
 */
#include "emit.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "compile.h"
#include "handlebars.h"
#include "plan.h"

/* The plans written so far in one pc_emit_plan, by workflow. */
struct plan_cache {
    struct written {
        const struct pc_workflow *wf;
        uint8_t *data;
        size_t size;
    } * v;
    size_t n, cap;
};

struct emitter {
    struct pc_ctx *ctx;
    struct pc_catalog *cat;
    struct pc_workflow *wf;
    struct pr_plan_builder *b;
    struct pc_model **models; /* plan model index -> catalog entry */
    size_t nmodels;
    struct plan_cache *cache;
    bool failed;
    char *why; /* the reason of a failure */
    size_t whycap;
};

static uint32_t str(struct emitter *e, const char *s)
{
    return s ? pr_pb_str(e->b, s, strlen(s)) : 0;
}

static uint32_t optstr(struct emitter *e, const char *s)
{
    return s ? pr_pb_str(e->b, s, strlen(s)) : PR_PLAN_NONE;
}

static uint32_t intern(void *ud, const char *s, size_t n)
{
    struct emitter *e = ud;
    return pr_pb_str(e->b, s, n);
}

/* A step of the workflow by its place in the plan: topological order. */
static uint32_t step_at(void *ud, uint32_t step)
{
    struct emitter *e = ud;
    return step < e->wf->nsteps ? e->wf->steps[step].topo : UINT32_MAX;
}

/* The CODE span of an expression's bytecode; (0, 0) when absent. */
static struct pr_span code_span(struct emitter *e, const struct pc_expr *x)
{
    struct pr_span sp = {0, 0};
    if (!x)
        return sp;
    struct pr_buf code;
    pr_buf_init(&code);
    struct pc_expr_sink sink = {intern, step_at, e};
    if (pc_expr_emit(x, &code, &sink) < 0) {
        e->failed = true;
        pr_buf_free(&code);
        return sp;
    }
    sp.off = pr_pb_code(e->b, code.data, code.len);
    sp.len = (uint32_t)code.len;
    pr_buf_free(&code);
    return sp;
}

static uint32_t emit_interp(struct emitter *e, const struct pc_interp *in)
{
    if (!in)
        return PR_PLAN_NONE;
    uint32_t first = 0, idx;
    for (size_t i = 0; i < in->nparts; i++) {
        uint32_t k;
        pr_pb_record(e->b, PR_SEC_PARTS, PR_PART_SIZE, &k);
        if (i == 0)
            first = k;
        const struct pc_interp_part *pt = &in->parts[i];
        struct pr_rec w;
        PR_REC_INIT(&w, PART);
        PR_PUT(&w, PART, kind, pt->expr ? 1 : 0);
        if (pt->expr) {
            PR_PUT(&w, PART, text, 0);
            PR_PUT_SPAN(&w, PART, code, code_span(e, pt->expr));
        } else {
            struct pr_span none = {0, 0};
            PR_PUT(&w, PART, text, pr_pb_str(e->b, pt->text, pt->len));
            PR_PUT_SPAN(&w, PART, code, none);
        }
        pr_pb_put(e->b, &w, k);
    }
    struct pr_rec w;
    PR_REC_INIT(&w, INTERP);
    PR_PUT(&w, INTERP, first, in->nparts ? first : 0);
    PR_PUT(&w, INTERP, n, in->nparts);
    PR_PUT(&w, INTERP, pure, in->pure);
    idx = pr_pb_add(e->b, &w);
    return idx;
}

/* Template values: a node, then its children in consecutive records, then
 * their descendants. */
static void fill_tval(struct emitter *e, uint32_t at, const struct pc_tval *t)
{
    struct pr_rec w;
    uint32_t first = 0, keys = 0;
    bool kids = t->kind == PC_TV_LIST || t->kind == PC_TV_MAP;
    PR_REC_INIT(&w, TVAL);
    PR_PUT(&w, TVAL, kind, t->kind);
    PR_PUT(&w, TVAL, b, t->kind == PC_TV_BOOL && t->b);
    PR_PUT_F64(&w, TVAL, num, t->kind == PC_TV_NUM ? t->num : 0);
    PR_PUT(&w, TVAL, interp,
           t->kind == PC_TV_STR ? emit_interp(e, t->str) : 0);
    for (size_t i = 0; kids && i < t->len; i++) {
        uint32_t k;
        pr_pb_record(e->b, PR_SEC_TVALS, PR_TVAL_SIZE, &k);
        if (i == 0)
            first = k;
    }
    if (t->kind == PC_TV_MAP) {
        uint32_t *v = malloc((t->len + 1) * sizeof *v);
        if (!v) {
            e->failed = true;
            return;
        }
        for (size_t i = 0; i < t->len; i++)
            v[i] = str(e, t->keys[i]);
        keys = pr_pb_list(e->b, v, t->len);
        free(v);
    }
    PR_PUT(&w, TVAL, first, first);
    PR_PUT(&w, TVAL, n, kids ? t->len : 0);
    PR_PUT(&w, TVAL, keys, keys);
    for (size_t i = 0; kids && i < t->len; i++)
        fill_tval(e, first + (uint32_t)i, t->items[i]);
    pr_pb_put(e->b, &w, at);
}

static uint32_t emit_tval(struct emitter *e, const struct pc_tval *t)
{
    if (!t)
        return PR_PLAN_NONE;
    uint32_t at;
    pr_pb_record(e->b, PR_SEC_TVALS, PR_TVAL_SIZE, &at);
    fill_tval(e, at, t);
    return at;
}

static uint32_t json_str(struct emitter *e, const struct pc_node *n)
{
    if (!n)
        return PR_PLAN_NONE;
    cJSON *j = pc_node_json(n);
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!txt) {
        e->failed = true;
        return PR_PLAN_NONE;
    }
    uint32_t r = str(e, txt);
    free(txt);
    return r;
}

static uint32_t model_index(struct emitter *e, const struct pc_model *m)
{
    if (!m)
        return PR_PLAN_NONE;
    for (size_t i = 0; i < e->nmodels; i++)
        if (e->models[i] == m)
            return (uint32_t)i;
    return PR_PLAN_NONE;
}

/* The LISTS span of N entries; (0, 0) when empty. */
static struct pr_span list_span(struct emitter *e, const uint32_t *v, size_t n)
{
    struct pr_span sp = {n ? pr_pb_list(e->b, v, n) : 0, (uint32_t)n};
    if (n > UINT32_MAX)
        e->failed = true;
    return sp;
}

/* A list of strings. */
static struct pr_span strs_span(struct emitter *e, const char *const *v,
                                size_t n)
{
    struct pr_span sp = {0, 0};
    uint32_t *refs = malloc((n + 1) * sizeof *refs);
    if (!refs) {
        e->failed = true;
        return sp;
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = str(e, v[i]);
    sp = list_span(e, refs, n);
    free(refs);
    return sp;
}

/* A list of models, by index. */
static struct pr_span models_span(struct emitter *e, struct pc_model *const *v,
                                  size_t n)
{
    struct pr_span sp = {0, 0};
    uint32_t *idx = malloc((n + 1) * sizeof *idx);
    if (!idx) {
        e->failed = true;
        return sp;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = model_index(e, v[i]);
    sp = list_span(e, idx, n);
    free(idx);
    return sp;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void emit_step(struct emitter *e, const struct pc_step *s, uint32_t rec)
{
    struct pc_workflow *wf = e->wf;
    struct pr_rec w;
    PR_REC_INIT(&w, STEP);
    PR_PUT(&w, STEP, id, str(e, s->id));
    PR_PUT(&w, STEP, name, str(e, s->name));
    PR_PUT(&w, STEP, description, str(e, s->description));
    PR_PUT(&w, STEP, kind, s->kind);
    PR_PUT(&w, STEP, flags,
           (s->parallel ? PR_SF_PARALLEL : 0) |
               (s->continue_on_failure ? PR_SF_CONTINUE : 0) |
               (s->cache ? PR_SF_CACHE : 0) |
               (s->json_output ? PR_SF_JSON : 0) |
               (s->synthetic ? PR_SF_SYNTHETIC : 0) |
               (s->on_critical_path ? PR_SF_CRITICAL : 0) |
               (s->judge_of ? PR_SF_JUDGE : 0) |
               (s->escalate && !s->synthetic ? PR_SF_ESCALATE : 0));
    PR_PUT(&w, STEP, backoff, s->retry.backoff);
    PR_PUT(&w, STEP, stage, s->stage);
    PR_PUT(&w, STEP, cp_steps, s->cp_steps);
    PR_PUT(&w, STEP, max_attempts, pc_attempts(s));
    PR_PUT(&w, STEP, best_of, s->best_of);
    PR_PUT_F64(&w, STEP, cp_seconds, s->cp_seconds);
    PR_PUT_F64(&w, STEP, timeout, s->timeout);
    PR_PUT_F64(&w, STEP, cache_ttl, s->cache_ttl);
    PR_PUT_F64(&w, STEP, initial_delay, s->retry.initial_delay);
    PR_PUT_F64(&w, STEP, max_delay, s->retry.max_delay);
    PR_PUT_F64(&w, STEP, temperature, s->temperature);
    PR_PUT(&w, STEP, max_tokens, s->max_tokens);
    PR_PUT_F64(&w, STEP, budget_cost, s->budget.max_cost_usd);
    PR_PUT(&w, STEP, budget_tokens, s->budget.max_tokens);
    PR_PUT(&w, STEP, budget_calls, s->budget.max_llm_calls);
    /* deps: plan indices in the order written (implied ones after),
       order-only flagged; aggregators read their inputs in this order */
    uint32_t *deps = malloc((s->ndeps + 1) * sizeof *deps);
    if (!deps) {
        e->failed = true;
        return;
    }
    for (size_t i = 0; i < s->ndeps; i++)
        deps[i] = wf->steps[s->deps[i].step].topo |
                  (s->deps[i].order_only ? PR_EDGE_AFTER : 0);
    PR_PUT_SPAN(&w, STEP, deps, list_span(e, deps, s->ndeps));
    free(deps);
    PR_LATER(&w, STEP, dependents); /* emit_dependents */
    PR_PUT_SPAN(&w, STEP, condition, code_span(e, s->condition));
    PR_PUT_SPAN(&w, STEP, for_each, code_span(e, s->for_each));
    PR_PUT_SPAN(&w, STEP, score, code_span(e, s->score));
    PR_PUT(&w, STEP, run, emit_interp(e, s->run));
    PR_PUT(&w, STEP, prompt, emit_interp(e, s->prompt));
    PR_PUT(&w, STEP, system, emit_interp(e, s->system));
    PR_PUT(&w, STEP, prompt_file, optstr(e, s->prompt_file));
    PR_PUT(&w, STEP, model, model_index(e, s->model));
    uint32_t judge = PR_PLAN_NONE;
    for (size_t i = 0; s->judge && i < wf->nsteps; i++)
        if (!strcmp(wf->steps[i].id, s->judge))
            judge = wf->steps[i].topo;
    PR_PUT(&w, STEP, judge, judge);
    PR_PUT(&w, STEP, agent, optstr(e, s->agent));
    PR_PUT(&w, STEP, capability, optstr(e, s->capability));
    PR_PUT(&w, STEP, tool, optstr(e, s->tool));
    PR_PUT(&w, STEP, strategy,
           optstr(e, s->kind == PC_STEP_AGGREGATE ? s->strategy : NULL));
    PR_PUT(&w, STEP, workflow, optstr(e, s->workflow));
    PR_PUT(&w, STEP, with, emit_tval(e, s->with));
    PR_PUT(&w, STEP, inputs, emit_tval(e, s->inputs));
    PR_PUT(&w, STEP, env, emit_tval(e, s->env));
    PR_PUT(&w, STEP, dir, optstr(e, s->shell_dir));
    PR_PUT(&w, STEP, output_schema,
           s->output_schema ? json_str(e, s->output_schema)
                            : optstr(e, s->output_schema_json));
    uint32_t phase = PR_PLAN_NONE;
    for (size_t i = 0; s->phase && i < wf->nphases; i++)
        if (!strcmp(wf->phases[i].name, s->phase))
            phase = (uint32_t)i;
    PR_PUT(&w, STEP, phase, phase);
    PR_PUT(&w, STEP, gate_of_phase,
           s->gate_of_phase >= 0 ? (uint32_t)s->gate_of_phase : PR_PLAN_NONE);
    PR_PUT(&w, STEP, batch_size, s->batch_size);
    PR_PUT(&w, STEP, parallelism, s->parallelism);
    struct pc_source *src = pc_ctx_source(e->ctx, s->loc.file);
    unsigned line = 0, col = 0;
    if (src && !s->synthetic)
        pc_source_linecol(src, s->loc.off, &line, &col);
    PR_PUT(&w, STEP, src_line, line);
    PR_PUT(&w, STEP, src_col, col);
    PR_PUT_SPAN(&w, STEP, fallback, models_span(e, s->fallback, s->nfallback));
    PR_PUT_SPAN(&w, STEP, cascade, models_span(e, s->cascade, s->ncascade));
    PR_PUT_SPAN(&w, STEP, tools, strs_span(e, s->tools, s->ntools));
    PR_PUT_SPAN(&w, STEP, outputs, strs_span(e, s->outputs, s->noutputs));
    pr_pb_put(e->b, &w, rec);
}

/* The OTYPES section: each step's output types, in plan order.  A step
 * with no declared outputs, no schema and no for_each has those of its
 * kind: that text is made once per kind. */
static void emit_otypes(struct emitter *e)
{
    struct pc_workflow *wf = e->wf;
    struct pr_arena types; /* the lists fan-in makes */
    pr_arena_init(&types);
    uint32_t plain[PC_STEP_KIND_COUNT];
    for (size_t k = 0; k < PC_STEP_KIND_COUNT; k++)
        plain[k] = PR_PLAN_NONE;
    for (size_t k = 0; k < wf->nsteps; k++) {
        const struct pc_step *s = &wf->steps[wf->order[k]];
        bool kind_only = !s->noutputs && !s->schema_ty && !s->for_each &&
                         (size_t)s->kind < PC_STEP_KIND_COUNT;
        uint32_t ref = kind_only ? plain[s->kind] : PR_PLAN_NONE;
        if (ref == PR_PLAN_NONE) {
            cJSON *o = pc_output_types_json(&types, s, true);
            char *text = o ? cJSON_PrintUnformatted(o) : NULL;
            cJSON_Delete(o);
            if (!text)
                e->failed = true;
            else if (kind_only)
                plain[s->kind] = optstr(e, text);
            ref = optstr(e, text);
            free(text);
        }
        struct pr_rec w;
        PR_REC_INIT(&w, OTYPE);
        PR_PUT(&w, OTYPE, types, ref);
        pr_pb_add(e->b, &w);
    }
    pr_arena_free(&types);
}

static void emit_dependents(struct emitter *e)
{
    struct pc_workflow *wf = e->wf;
    size_t n = wf->nsteps;
    uint32_t *count = calloc(n + 1, sizeof *count);
    uint32_t **lists = calloc(n + 1, sizeof *lists);
    if (!count || !lists) {
        free(count);
        free(lists);
        e->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < wf->steps[i].ndeps; d++)
            count[wf->steps[wf->steps[i].deps[d].step].topo]++;
    for (size_t i = 0; i < n; i++) {
        lists[i] = malloc((count[i] + 1) * sizeof **lists);
        if (!lists[i])
            e->failed = true;
        count[i] = 0;
    }
    /* walk in plan order so each list comes out sorted */
    for (size_t k = 0; k < n && !e->failed; k++) {
        const struct pc_step *s = &wf->steps[wf->order[k]];
        for (size_t d = 0; d < s->ndeps; d++) {
            uint32_t p = wf->steps[s->deps[d].step].topo;
            lists[p][count[p]++] = (uint32_t)k |
                                   (s->deps[d].order_only ? PR_EDGE_AFTER : 0);
        }
    }
    for (size_t k = 0; k < n && !e->failed; k++)
        PR_PUT_SPAN_AT(e->b, STEP, (uint32_t)k, dependents,
                       list_span(e, lists[k], count[k]));
    for (size_t i = 0; i < n; i++)
        free(lists[i]);
    free(lists);
    free(count);
}

static bool tool_listed(struct emitter *e, const char *name)
{
    for (size_t i = 0; i < e->wf->ntools; i++)
        if (!strcmp(e->wf->tools[i].name, name))
            return true;
    return false;
}

static void emit_tool(struct emitter *e, const char *name, const char *server,
                      const char *remote, const char *const *argv, size_t argc)
{
    struct pr_rec w;
    PR_REC_INIT(&w, TOOL);
    PR_PUT(&w, TOOL, name, str(e, name));
    PR_PUT(&w, TOOL, server, str(e, server));
    PR_PUT(&w, TOOL, remote_name, str(e, remote));
    PR_PUT_SPAN(&w, TOOL, argv, strs_span(e, argv, argc));
    pr_pb_add(e->b, &w);
}

static void emit_tools(struct emitter *e)
{
    struct pc_catalog *cat = e->cat;
    struct pc_workflow *wf = e->wf;
    for (size_t i = 0; i < wf->ntools; i++) {
        struct pc_wf_tool *t = &wf->tools[i];
        emit_tool(e, t->name, t->server, t->remote_name, t->argv, t->argc);
    }
    /* catalog tools the steps use, once each, in step order */
    const char **seen = malloc((wf->nsteps * 2 + 1) * sizeof *seen);
    size_t nseen = 0;
    if (!seen) {
        e->failed = true;
        return;
    }
    for (size_t k = 0; k < wf->nsteps; k++) {
        const struct pc_step *s = &wf->steps[wf->order[k]];
        for (size_t j = 0; j <= s->ntools; j++) {
            const char *name = j < s->ntools ? s->tools[j] : s->tool;
            if (!name || tool_listed(e, name))
                continue;
            bool dup = false;
            for (size_t q = 0; q < nseen; q++)
                if (!strcmp(seen[q], name))
                    dup = true;
            struct pc_tool *t = pc_catalog_tool(cat, name);
            if (dup || !t)
                continue;
            if (nseen < wf->nsteps * 2)
                seen[nseen++] = name;
            emit_tool(e, t->name, t->server, t->remote_name, t->argv, t->argc);
        }
    }
    free(seen);
}

static int emit_workflow(struct emitter *parent, struct pc_workflow *wf,
                         uint8_t **out, size_t *size);

/* PROMPTS: by kind (prompt files, then partials), then by name. */
static int prompt_cmp(const void *a, const void *b)
{
    const struct pc_prompt *x = *(const struct pc_prompt *const *)a;
    const struct pc_prompt *y = *(const struct pc_prompt *const *)b;
    if (x->partial != y->partial)
        return x->partial ? 1 : -1;
    return pr_plan_name_cmp(x->name, strlen(x->name), y->name,
                            strlen(y->name));
}

static uint32_t prompt_index(void *ud, void *target)
{
    (void)ud;
    return ((const struct pc_prompt *)target)->index;
}

static void emit_prompt(struct emitter *e, const struct pc_prompt *p)
{
    struct pr_buf code;
    pr_buf_init(&code);
    if (pc_tpl_encode(p->tpl, prompt_index, NULL, &code) < 0)
        e->failed = true;
    struct pr_span tpl = {code.len ? pr_pb_code(e->b, code.data, code.len) : 0,
                          (uint32_t)code.len};
    struct pr_rec w;
    PR_REC_INIT(&w, PROMPT);
    PR_PUT(&w, PROMPT, name, str(e, p->name));
    PR_PUT(&w, PROMPT, title, str(e, p->title));
    PR_PUT_SPAN(&w, PROMPT, code, tpl);
    PR_PUT(&w, PROMPT, kind, p->partial ? PR_PROMPT_PARTIAL : PR_PROMPT_FILE);
    PR_PUT(&w, PROMPT, description, str(e, p->description));
    PR_PUT(&w, PROMPT, model, model_index(e, p->model));
    PR_PUT(&w, PROMPT, config, optstr(e, p->config));
    PR_PUT(&w, PROMPT, input_schema, optstr(e, p->input_schema));
    PR_PUT(&w, PROMPT, input_default, optstr(e, p->input_default));
    PR_PUT(&w, PROMPT, output_format, optstr(e, p->output_format));
    PR_PUT(&w, PROMPT, output_schema, optstr(e, p->output_schema));
    pr_pb_add(e->b, &w);
    pr_buf_free(&code);
}

static void emit_prompts(struct emitter *e)
{
    struct pc_workflow *wf = e->wf;
    struct pc_prompt **v = malloc((wf->nprompts + 1) * sizeof *v);
    size_t n = 0;
    if (!v) {
        e->failed = true;
        return;
    }
    for (size_t i = 0; i < wf->nprompts; i++)
        if (wf->prompts[i]->tpl)
            v[n++] = wf->prompts[i];
    qsort(v, n, sizeof *v, prompt_cmp);
    for (size_t i = 0; i < n; i++)
        v[i]->index = (uint32_t)i;
    for (size_t i = 0; i < n; i++)
        emit_prompt(e, v[i]);
    free(v);
}

/* The plan of WF, written now or earlier in this emission. */
static const struct written *plan_of(struct emitter *e, struct pc_workflow *wf)
{
    struct plan_cache *c = e->cache;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].wf == wf)
            return &c->v[i];
    struct written w = {wf, NULL, 0};
    if (emit_workflow(e, wf, &w.data, &w.size) < 0)
        return NULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct written *v = realloc(c->v, cap * sizeof *v);
        if (!v) {
            free(w.data);
            return NULL;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n] = w;
    return &c->v[c->n++];
}

static void emit_subplans(struct emitter *e)
{
    for (size_t i = 0; i < e->wf->nsubs; i++) {
        const struct pc_sub *sub = &e->wf->subs[i];
        const struct written *p = sub->wf ? plan_of(e, sub->wf) : NULL;
        if (!p || pr_pb_subplan(e->b, sub->name, p->data, p->size) < 0)
            e->failed = true;
    }
}

int pc_emit_plan(struct pc_ctx *ctx, struct pc_catalog *cat,
                 struct pc_workflow *wf, uint8_t **out, size_t *size,
                 char *why, size_t whycap)
{
    struct plan_cache cache = {NULL, 0, 0};
    struct emitter top = {
        .ctx = ctx, .cat = cat, .cache = &cache, .why = why, .whycap = whycap};
    if (why && whycap)
        snprintf(why, whycap, "out of memory");
    int rc = emit_workflow(&top, wf, out, size);
    for (size_t i = 0; i < cache.n; i++)
        free(cache.v[i].data);
    free(cache.v);
    return rc;
}

/* The plan of WF; PARENT gives the context, the cache and where to say
 * why it failed. */
static int emit_workflow(struct emitter *parent, struct pc_workflow *wf,
                         uint8_t **out, size_t *size)
{
    struct emitter e = {
        parent->ctx, parent->cat,   wf,    pr_pb_new(), NULL,
        0,           parent->cache, false, parent->why, parent->whycap};
    if (!e.b)
        return -1;
    e.models = wf->models;
    e.nmodels = wf->nmodels;

    /* workflow */
    struct pr_rec w;
    PR_REC_INIT(&w, WORKFLOW);
    PR_PUT(&w, WORKFLOW, id, str(&e, wf->id));
    PR_PUT(&w, WORKFLOW, version, str(&e, wf->version));
    PR_PUT(&w, WORKFLOW, description, str(&e, wf->description));
    PR_PUT(&w, WORKFLOW, source, str(&e, base_name(wf->path)));
    PR_PUT(&w, WORKFLOW, nstages, wf->nstages);
    PR_PUT(&w, WORKFLOW, widest_stage, wf->widest_stage);
    PR_PUT(&w, WORKFLOW, cp_steps, wf->cp_steps);
    PR_PUT(&w, WORKFLOW, max_parallel, wf->max_parallel);
    PR_PUT_F64(&w, WORKFLOW, cp_seconds, wf->cp_seconds);
    PR_PUT_F64(&w, WORKFLOW, sla_max_duration, wf->sla_max_duration);
    PR_PUT_F64(&w, WORKFLOW, sla_step_timeout, wf->sla_step_timeout);
    PR_PUT_F64(&w, WORKFLOW, budget_cost, wf->budget.max_cost_usd);
    PR_PUT(&w, WORKFLOW, budget_tokens, wf->budget.max_tokens);
    PR_PUT(&w, WORKFLOW, budget_calls, wf->budget.max_llm_calls);
    PR_PUT_F64(&w, WORKFLOW, breaker_reset, wf->breaker_reset);
    PR_PUT(&w, WORKFLOW, breaker_threshold, wf->breaker_threshold);
    PR_PUT(&w, WORKFLOW, flags,
           (wf->default_continue ? PR_WF_CONTINUE : 0) |
               (wf->policy_tools_set ? PR_WF_POLICY_TOOLS : 0) |
               (wf->policy_commands_set ? PR_WF_POLICY_COMMANDS : 0) |
               (wf->fail_fast ? PR_WF_FAIL_FAST : 0) |
               (wf->no_state ? PR_WF_NO_STATE : 0) |
               (wf->max_parallel_llm ? PR_WF_LIMIT_LLM : 0));
    PR_PUT_SPAN(&w, WORKFLOW, allowed_tools,
                strs_span(&e, wf->allowed_tools, wf->nallowed_tools));
    PR_PUT_SPAN(&w, WORKFLOW, allowed_commands,
                strs_span(&e, wf->allowed_commands, wf->nallowed_commands));
    PR_PUT_SPAN(
        &w, WORKFLOW, on_failure_actions,
        strs_span(&e, wf->on_failure_actions, wf->non_failure_actions));
    pr_pb_add(e.b, &w);

    /* parameters */
    for (size_t i = 0; i < wf->nparams; i++) {
        const struct pc_param *p = &wf->params[i];
        PR_REC_INIT(&w, PARAM);
        PR_PUT(&w, PARAM, name, str(&e, p->name));
        PR_PUT(&w, PARAM, description, str(&e, p->description));
        PR_PUT(&w, PARAM, default_json, json_str(&e, p->def));
        PR_PUT(&w, PARAM, enum_json, json_str(&e, p->enumv));
        PR_PUT(&w, PARAM, type, p->type);
        PR_PUT(&w, PARAM, flags,
               (p->required ? PR_PF_REQUIRED : 0) |
                   (p->implicit ? PR_PF_IMPLICIT : 0));
        pr_pb_add(e.b, &w);
    }

    /* models */
    for (size_t i = 0; i < e.nmodels; i++) {
        const struct pc_model *m = e.models[i];
        PR_REC_INIT(&w, MODEL);
        PR_PUT(&w, MODEL, name, str(&e, m->name));
        PR_PUT(&w, MODEL, provider, str(&e, m->provider));
        PR_PUT(&w, MODEL, protocol, str(&e, m->protocol));
        PR_PUT(&w, MODEL, wire_id, str(&e, m->wire_id));
        PR_PUT(&w, MODEL, base_url, str(&e, m->base_url));
        PR_PUT(&w, MODEL, api_key_env, str(&e, m->api_key_env));
        PR_PUT(&w, MODEL, base_url_env, str(&e, m->base_url_env));
        PR_PUT_F64(&w, MODEL, input_per_mtok, m->input_per_mtok);
        PR_PUT_F64(&w, MODEL, output_per_mtok, m->output_per_mtok);
        PR_PUT(&w, MODEL, context_window, m->context_window);
        PR_PUT(&w, MODEL, max_output_tokens, m->max_output_tokens);
        PR_PUT(&w, MODEL, reply_tokens,
               m->max_output_tokens &&
                       m->max_output_tokens < PC_DEFAULT_REPLY_TOKENS
                   ? (uint32_t)m->max_output_tokens
                   : PC_DEFAULT_REPLY_TOKENS);
        PR_PUT_SPAN(&w, MODEL, features,
                    strs_span(&e, m->features, m->nfeatures));
        pr_pb_add(e.b, &w);
    }

    /* steps, in topological order */
    for (size_t k = 0; k < wf->nsteps; k++)
        pr_pb_record(e.b, PR_SEC_STEPS, PR_STEP_SIZE, NULL);
    for (size_t k = 0; k < wf->nsteps; k++)
        emit_step(&e, &wf->steps[wf->order[k]], (uint32_t)k);
    emit_dependents(&e);

    /* phases */
    for (size_t i = 0; i < wf->nphases; i++) {
        const struct pc_phase *ph = &wf->phases[i];
        uint32_t idx;
        pr_pb_record(e.b, PR_SEC_PHASES, PR_PHASE_SIZE, &idx);
        PR_REC_INIT(&w, PHASE);
        PR_PUT(&w, PHASE, name, str(&e, ph->name));
        PR_PUT(&w, PHASE, description, str(&e, ph->description));
        PR_PUT(&w, PHASE, gate_step,
               ph->has_gate_step ? wf->steps[ph->gate_step].topo
                                 : PR_PLAN_NONE);
        uint32_t to = PR_PLAN_NONE;
        for (size_t j = 0; ph->feedback_to && j < wf->nphases; j++)
            if (!strcmp(wf->phases[j].name, ph->feedback_to))
                to = (uint32_t)j;
        PR_PUT(&w, PHASE, feedback_to, to);
        PR_PUT_F64(&w, PHASE, min_success_rate, ph->min_success_rate);
        PR_PUT_SPAN(&w, PHASE, gate, code_span(&e, ph->gate));
        PR_PUT_SPAN(&w, PHASE, feedback_when,
                    code_span(&e, ph->feedback_when));
        PR_PUT(&w, PHASE, max_loops, ph->max_loops);
        pr_pb_put(e.b, &w, idx);
    }

    emit_tools(&e);

    for (size_t i = 0; i < wf->naggs; i++) {
        const struct pc_agg_def *a = &wf->aggs[i];
        uint32_t idx;
        pr_pb_record(e.b, PR_SEC_AGGS, PR_AGG_SIZE, &idx);
        PR_REC_INIT(&w, AGG);
        PR_PUT(&w, AGG, name, str(&e, a->name));
        PR_PUT(&w, AGG, builtin, optstr(&e, a->builtin));
        PR_PUT(&w, AGG, run, emit_interp(&e, a->run));
        pr_pb_put(e.b, &w, idx);
    }

    for (size_t i = 0; i < wf->nalerts; i++) {
        const struct pc_alert *a = &wf->alerts[i];
        PR_REC_INIT(&w, ALERT);
        PR_PUT(&w, ALERT, group, str(&e, a->group));
        PR_PUT(&w, ALERT, metric, str(&e, a->metric));
        PR_PUT(&w, ALERT, op, str(&e, a->op));
        PR_PUT(&w, ALERT, unit, str(&e, a->unit));
        PR_PUT(&w, ALERT, severity, str(&e, a->severity));
        PR_PUT(&w, ALERT, action, str(&e, a->action));
        PR_PUT_F64(&w, ALERT, threshold, a->threshold);
        pr_pb_add(e.b, &w);
    }

    emit_otypes(&e);
    emit_prompts(&e);
    emit_subplans(&e);
    int rc = e.failed || pr_pb_failed(e.b) ? -1 : pr_pb_finish(e.b, out, size);
    if (pr_pb_failed(e.b) && e.why && e.whycap)
        snprintf(e.why, e.whycap, "%s", pr_pb_why(e.b));
    pr_pb_free(e.b);
    return rc;
}
