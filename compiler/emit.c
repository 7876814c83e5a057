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
 */
#include "emit.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "handlebars.h"
#include "plan.h"

/* The plans written so far in one pc_emit_plan, by workflow. */
struct plan_cache {
    struct written {
        const struct pc_workflow *wf;
        uint8_t *data;
        size_t size;
    } *v;
    size_t n, cap;
};

struct emitter {
    struct pc_ctx *ctx;
    struct pc_catalog *cat;
    struct pc_workflow *wf;
    struct pr_plan_builder *b;
    struct pc_model **models;   /* plan model index -> catalog entry */
    size_t nmodels;
    struct plan_cache *cache;
    bool failed;
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

/* Writes CODE (offset, length) for an expression at P. */
static void put_code(struct emitter *e, uint8_t *p, const struct pc_expr *x)
{
    pr_put_u32(p, 0);
    pr_put_u32(p + 4, 0);
    if (!x)
        return;
    struct pr_buf code;
    pr_buf_init(&code);
    struct pc_expr_sink sink = {intern, step_at, e};
    if (pc_expr_emit(x, &code, &sink) < 0) {
        e->failed = true;
        pr_buf_free(&code);
        return;
    }
    uint32_t off = pr_pb_code(e->b, code.data, code.len);
    pr_put_u32(p, off);
    pr_put_u32(p + 4, (uint32_t)code.len);
    pr_buf_free(&code);
}

static uint32_t emit_interp(struct emitter *e, const struct pc_interp *in)
{
    if (!in)
        return PR_PLAN_NONE;
    uint32_t first = 0, idx;
    for (size_t i = 0; i < in->nparts; i++) {
        uint32_t k;
        uint8_t *p = pr_pb_record(e->b, PR_SEC_PARTS, PR_PART_SIZE, &k);
        if (i == 0)
            first = k;
        const struct pc_interp_part *pt = &in->parts[i];
        if (pt->expr) {
            p[0] = 1;
            /* record pointers move when sections grow: fill by index */
            uint8_t tmp[8];
            put_code(e, tmp, pt->expr);
            p = pr_pb_at(e->b, PR_SEC_PARTS, PR_PART_SIZE, k);
            memcpy(p + 8, tmp, 8);
        } else {
            uint32_t s = pr_pb_str(e->b, pt->text, pt->len);
            p = pr_pb_at(e->b, PR_SEC_PARTS, PR_PART_SIZE, k);
            p[0] = 0;
            pr_put_u32(p + 4, s);
        }
    }
    uint8_t *r = pr_pb_record(e->b, PR_SEC_INTERPS, PR_INTERP_SIZE, &idx);
    pr_put_u32(r, in->nparts ? first : 0);
    pr_put_u32(r + 4, (uint32_t)in->nparts);
    r[8] = in->pure;
    return idx;
}

/* Template values: a node, then its children in consecutive records, then
 * their descendants. */
static void fill_tval(struct emitter *e, uint32_t at, const struct pc_tval *t)
{
    uint8_t hdr[PR_TVAL_SIZE] = {0};
    hdr[0] = (uint8_t)t->kind;
    switch (t->kind) {
    case PC_TV_BOOL:
        hdr[1] = t->b;
        break;
    case PC_TV_NUM:
        pr_put_f64(hdr + 8, t->num);
        break;
    case PC_TV_STR:
        pr_put_u32(hdr + 16, emit_interp(e, t->str));
        break;
    case PC_TV_LIST:
    case PC_TV_MAP: {
        uint32_t first = 0;
        for (size_t i = 0; i < t->len; i++) {
            uint32_t k;
            pr_pb_record(e->b, PR_SEC_TVALS, PR_TVAL_SIZE, &k);
            if (i == 0)
                first = k;
        }
        pr_put_u32(hdr + 20, t->len ? first : 0);
        pr_put_u32(hdr + 24, (uint32_t)t->len);
        if (t->kind == PC_TV_MAP) {
            uint32_t *keys = malloc((t->len + 1) * sizeof *keys);
            if (!keys) {
                e->failed = true;
                break;
            }
            for (size_t i = 0; i < t->len; i++)
                keys[i] = str(e, t->keys[i]);
            pr_put_u32(hdr + 28, pr_pb_list(e->b, keys, t->len));
            free(keys);
        }
        for (size_t i = 0; i < t->len; i++)
            fill_tval(e, first + (uint32_t)i, t->items[i]);
        break;
    }
    default:
        break;
    }
    memcpy(pr_pb_at(e->b, PR_SEC_TVALS, PR_TVAL_SIZE, at), hdr, sizeof hdr);
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

static void put_list(struct emitter *e, uint8_t *p, const uint32_t *v,
                     size_t n)
{
    pr_put_u32(p, n ? pr_pb_list(e->b, v, n) : 0);
    pr_put_u32(p + 4, (uint32_t)n);
}

/* A list of strings at P (offset, count). */
static void put_strs(struct emitter *e, size_t rec_sec, size_t rec_size,
                     uint32_t rec, size_t field, const char *const *v,
                     size_t n)
{
    uint32_t *refs = malloc((n + 1) * sizeof *refs);
    if (!refs) {
        e->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = str(e, v[i]);
    uint8_t tmp[8];
    put_list(e, tmp, refs, n);
    free(refs);
    memcpy(pr_pb_at(e->b, (enum pr_section)rec_sec, rec_size, rec) + field,
           tmp, 8);
}

static void put_models(struct emitter *e, uint32_t rec, size_t field,
                       struct pc_model *const *v, size_t n)
{
    uint32_t *idx = malloc((n + 1) * sizeof *idx);
    if (!idx) {
        e->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = model_index(e, v[i]);
    uint8_t tmp[8];
    put_list(e, tmp, idx, n);
    free(idx);
    memcpy(pr_pb_at(e->b, PR_SEC_STEPS, PR_STEP_SIZE, rec) + field, tmp, 8);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void emit_step(struct emitter *e, const struct pc_step *s,
                      uint32_t rec)
{
    struct pc_workflow *wf = e->wf;
    uint8_t r[PR_STEP_SIZE] = {0};
    pr_put_u32(r + 0, str(e, s->id));
    pr_put_u32(r + 4, str(e, s->name));
    pr_put_u32(r + 8, str(e, s->description));
    r[12] = (uint8_t)s->kind;
    r[13] = (uint8_t)((s->parallel ? PR_SF_PARALLEL : 0) |
                      (s->continue_on_failure ? PR_SF_CONTINUE : 0) |
                      (s->cache ? PR_SF_CACHE : 0) |
                      (s->json_output ? PR_SF_JSON : 0) |
                      (s->synthetic ? PR_SF_SYNTHETIC : 0) |
                      (s->on_critical_path ? PR_SF_CRITICAL : 0) |
                      (s->judge_of ? PR_SF_JUDGE : 0));
    r[14] = (uint8_t)s->retry.backoff;
    pr_put_u32(r + 16, s->stage);
    pr_put_u32(r + 20, s->cp_steps);
    pr_put_u32(r + 24, pc_attempts(s));
    pr_put_u32(r + 28, s->best_of);
    pr_put_f64(r + 32, s->cp_seconds);
    pr_put_f64(r + 40, s->timeout);
    pr_put_f64(r + 48, s->retry.initial_delay);
    pr_put_f64(r + 56, s->retry.max_delay);
    pr_put_f64(r + 64, s->temperature);
    pr_put_u64(r + 72, s->max_tokens);
    pr_put_f64(r + 80, s->budget.max_cost_usd);
    pr_put_u64(r + 88, s->budget.max_tokens);
    pr_put_u64(r + 96, s->budget.max_llm_calls);
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
    put_list(e, r + 104, deps, s->ndeps);
    free(deps);
    put_code(e, r + 120, s->condition);
    put_code(e, r + 128, s->for_each);
    /* run: a shell step's command, or a best_of step's score as a
       one-part interpolation */
    struct pc_interp_part score_part = {NULL, 0, s->score};
    struct pc_interp score = {&score_part, 1, true};
    pr_put_u32(r + 136, emit_interp(e, s->score ? &score : s->run));
    pr_put_u32(r + 140, emit_interp(e, s->prompt));
    pr_put_u32(r + 144, emit_interp(e, s->system));
    pr_put_u32(r + 148, optstr(e, s->prompt_file));
    pr_put_u32(r + 152, model_index(e, s->model));
    long judge = PR_PLAN_NONE;
    for (size_t i = 0; s->judge && i < wf->nsteps; i++)
        if (!strcmp(wf->steps[i].id, s->judge))
            judge = wf->steps[i].topo;
    pr_put_u32(r + 156, (uint32_t)judge);
    pr_put_u32(r + 176, optstr(e, s->agent));
    pr_put_u32(r + 180, optstr(e, s->capability));
    pr_put_u32(r + 184, optstr(e, s->tool));
    pr_put_u32(r + 188, optstr(e, s->kind == PC_STEP_AGGREGATE ? s->strategy
                                                               : NULL));
    pr_put_u32(r + 208, optstr(e, s->workflow));
    pr_put_u32(r + 212, emit_tval(e, s->with));
    pr_put_u32(r + 216, emit_tval(e, s->inputs));
    pr_put_u32(r + 220, emit_tval(e, s->env));
    pr_put_u32(r + 224, optstr(e, s->shell_dir));
    pr_put_u32(r + 228, s->output_schema ? json_str(e, s->output_schema)
                                         : optstr(e, s->output_schema_json));
    uint32_t phase = PR_PLAN_NONE;
    for (size_t i = 0; s->phase && i < wf->nphases; i++)
        if (!strcmp(wf->phases[i].name, s->phase))
            phase = (uint32_t)i;
    pr_put_u32(r + 232, phase);
    pr_put_u32(r + 236, s->gate_of_phase >= 0 ? (uint32_t)s->gate_of_phase
                                              : PR_PLAN_NONE);
    pr_put_u32(r + 240, s->batch_size);
    pr_put_u32(r + 244, s->parallelism);
    struct pc_source *src = pc_ctx_source(e->ctx, s->loc.file);
    if (src && !s->synthetic) {
        unsigned line, col;
        pc_source_linecol(src, s->loc.off, &line, &col);
        pr_put_u32(r + 248, line);
        pr_put_u32(r + 252, col);
    }
    memcpy(pr_pb_at(e->b, PR_SEC_STEPS, PR_STEP_SIZE, rec), r, sizeof r);
    put_models(e, rec, 160, s->fallback, s->nfallback);
    put_models(e, rec, 168, s->cascade, s->ncascade);
    put_strs(e, PR_SEC_STEPS, PR_STEP_SIZE, rec, 192, s->tools, s->ntools);
    put_strs(e, PR_SEC_STEPS, PR_STEP_SIZE, rec, 200, s->outputs,
             s->noutputs);
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
            lists[p][count[p]++] =
                (uint32_t)k | (s->deps[d].order_only ? PR_EDGE_AFTER : 0);
        }
    }
    for (size_t k = 0; k < n && !e->failed; k++) {
        uint8_t tmp[8];
        put_list(e, tmp, lists[k], count[k]);
        memcpy(pr_pb_at(e->b, PR_SEC_STEPS, PR_STEP_SIZE, (uint32_t)k) + 112,
               tmp, 8);
    }
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

static void emit_tool(struct emitter *e, const char *name,
                      const char *server, const char *remote,
                      const char *const *argv, size_t argc)
{
    uint32_t idx;
    uint8_t *r = pr_pb_record(e->b, PR_SEC_TOOLS, PR_TOOL_SIZE, &idx);
    pr_put_u32(r, str(e, name));
    pr_put_u32(r + 4, str(e, server));
    pr_put_u32(r + 8, str(e, remote));
    put_strs(e, PR_SEC_TOOLS, PR_TOOL_SIZE, idx, 16, argv, argc);
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
            emit_tool(e, t->name, t->server, t->remote_name, t->argv,
                      t->argc);
        }
    }
    free(seen);
}

static int emit_workflow(struct pc_ctx *ctx, struct pc_catalog *cat,
                         struct pc_workflow *wf, struct plan_cache *cache,
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
    uint32_t off = code.len ? pr_pb_code(e->b, code.data, code.len) : 0;
    uint8_t r[PR_PROMPT_SIZE] = {0};
    pr_put_u32(r, str(e, p->name));
    pr_put_u32(r + 4, str(e, p->title));
    pr_put_u32(r + 8, off);
    pr_put_u32(r + 12, (uint32_t)code.len);
    r[16] = p->partial ? PR_PROMPT_PARTIAL : PR_PROMPT_FILE;
    pr_put_u32(r + 20, str(e, p->description));
    pr_put_u32(r + 24, model_index(e, p->model));
    pr_put_u32(r + 28, optstr(e, p->config));
    pr_put_u32(r + 32, optstr(e, p->input_schema));
    pr_put_u32(r + 36, optstr(e, p->input_default));
    pr_put_u32(r + 40, optstr(e, p->output_format));
    pr_put_u32(r + 44, optstr(e, p->output_schema));
    memcpy(pr_pb_record(e->b, PR_SEC_PROMPTS, PR_PROMPT_SIZE, NULL), r,
           sizeof r);
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
static const struct written *plan_of(struct emitter *e,
                                     struct pc_workflow *wf)
{
    struct plan_cache *c = e->cache;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].wf == wf)
            return &c->v[i];
    struct written w = {wf, NULL, 0};
    if (emit_workflow(e->ctx, e->cat, wf, c, &w.data, &w.size) < 0)
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
                 struct pc_workflow *wf, uint8_t **out, size_t *size)
{
    struct plan_cache cache = {NULL, 0, 0};
    int rc = emit_workflow(ctx, cat, wf, &cache, out, size);
    for (size_t i = 0; i < cache.n; i++)
        free(cache.v[i].data);
    free(cache.v);
    return rc;
}

static int emit_workflow(struct pc_ctx *ctx, struct pc_catalog *cat,
                         struct pc_workflow *wf, struct plan_cache *cache,
                         uint8_t **out, size_t *size)
{
    struct emitter e = {ctx, cat, wf, pr_pb_new(), NULL, 0, cache, false};
    if (!e.b)
        return -1;
    e.models = wf->models;
    e.nmodels = wf->nmodels;

    /* workflow */
    uint8_t w[PR_WORKFLOW_SIZE] = {0};
    pr_put_u32(w + 0, str(&e, wf->id));
    pr_put_u32(w + 4, str(&e, wf->version));
    pr_put_u32(w + 8, str(&e, wf->description));
    pr_put_u32(w + 12, str(&e, base_name(wf->path)));
    pr_put_u32(w + 16, wf->nstages);
    pr_put_u32(w + 20, wf->widest_stage);
    pr_put_u32(w + 24, wf->cp_steps);
    pr_put_u32(w + 28, wf->max_parallel);
    pr_put_f64(w + 32, wf->cp_seconds);
    pr_put_f64(w + 40, wf->sla_max_duration);
    pr_put_f64(w + 48, wf->sla_step_timeout);
    pr_put_f64(w + 56, wf->budget.max_cost_usd);
    pr_put_u64(w + 64, wf->budget.max_tokens);
    pr_put_u64(w + 72, wf->budget.max_llm_calls);
    pr_put_f64(w + 80, wf->breaker_reset);
    pr_put_u32(w + 88, wf->breaker_threshold);
    w[92] = (uint8_t)((wf->default_continue ? PR_WF_CONTINUE : 0) |
                      (wf->policy_tools_set ? PR_WF_POLICY_TOOLS : 0) |
                      (wf->policy_commands_set ? PR_WF_POLICY_COMMANDS : 0) |
                      (wf->fail_fast ? PR_WF_FAIL_FAST : 0) |
                      (wf->max_parallel_llm ? PR_WF_LIMIT_LLM : 0));
    memcpy(pr_pb_record(e.b, PR_SEC_WORKFLOW, PR_WORKFLOW_SIZE, NULL), w,
           sizeof w);
    put_strs(&e, PR_SEC_WORKFLOW, PR_WORKFLOW_SIZE, 0, 96,
             wf->allowed_tools, wf->nallowed_tools);
    put_strs(&e, PR_SEC_WORKFLOW, PR_WORKFLOW_SIZE, 0, 104,
             wf->allowed_commands, wf->nallowed_commands);
    put_strs(&e, PR_SEC_WORKFLOW, PR_WORKFLOW_SIZE, 0, 112,
             wf->on_failure_actions, wf->non_failure_actions);

    /* parameters */
    for (size_t i = 0; i < wf->nparams; i++) {
        const struct pc_param *p = &wf->params[i];
        uint8_t r[PR_PARAM_SIZE] = {0};
        pr_put_u32(r, str(&e, p->name));
        pr_put_u32(r + 4, str(&e, p->description));
        pr_put_u32(r + 8, json_str(&e, p->def));
        pr_put_u32(r + 12, json_str(&e, p->enumv));
        r[16] = (uint8_t)p->type;
        r[17] = (uint8_t)((p->required ? PR_PF_REQUIRED : 0) |
                          (p->implicit ? PR_PF_IMPLICIT : 0));
        memcpy(pr_pb_record(e.b, PR_SEC_PARAMS, PR_PARAM_SIZE, NULL), r,
               sizeof r);
    }

    /* models */
    for (size_t i = 0; i < e.nmodels; i++) {
        const struct pc_model *m = e.models[i];
        uint32_t idx;
        uint8_t *r = pr_pb_record(e.b, PR_SEC_MODELS, PR_MODEL_SIZE, &idx);
        uint8_t t[PR_MODEL_SIZE] = {0};
        (void)r;
        pr_put_u32(t, str(&e, m->name));
        pr_put_u32(t + 4, str(&e, m->provider));
        pr_put_u32(t + 8, str(&e, m->protocol));
        pr_put_u32(t + 12, str(&e, m->wire_id));
        pr_put_u32(t + 16, str(&e, m->base_url));
        pr_put_u32(t + 20, str(&e, m->api_key_env));
        pr_put_u32(t + 24, str(&e, m->base_url_env));
        pr_put_f64(t + 32, m->input_per_mtok);
        pr_put_f64(t + 40, m->output_per_mtok);
        pr_put_u64(t + 48, m->context_window);
        pr_put_u64(t + 56, m->max_output_tokens);
        memcpy(pr_pb_at(e.b, PR_SEC_MODELS, PR_MODEL_SIZE, idx), t,
               sizeof t);
        put_strs(&e, PR_SEC_MODELS, PR_MODEL_SIZE, idx, 64, m->features,
                 m->nfeatures);
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
        uint8_t r[PR_PHASE_SIZE] = {0};
        pr_put_u32(r, str(&e, ph->name));
        pr_put_u32(r + 4, str(&e, ph->description));
        pr_put_u32(r + 8, ph->has_gate_step ? wf->steps[ph->gate_step].topo
                                            : PR_PLAN_NONE);
        uint32_t to = PR_PLAN_NONE;
        for (size_t j = 0; ph->feedback_to && j < wf->nphases; j++)
            if (!strcmp(wf->phases[j].name, ph->feedback_to))
                to = (uint32_t)j;
        pr_put_u32(r + 12, to);
        pr_put_f64(r + 16, ph->min_success_rate);
        put_code(&e, r + 24, ph->gate);
        put_code(&e, r + 32, ph->feedback_when);
        pr_put_u32(r + 40, ph->max_loops);
        memcpy(pr_pb_at(e.b, PR_SEC_PHASES, PR_PHASE_SIZE, idx), r,
               sizeof r);
    }

    emit_tools(&e);

    for (size_t i = 0; i < wf->naggs; i++) {
        const struct pc_agg_def *a = &wf->aggs[i];
        uint32_t idx;
        pr_pb_record(e.b, PR_SEC_AGGS, PR_AGG_SIZE, &idx);
        uint8_t r[PR_AGG_SIZE] = {0};
        pr_put_u32(r, str(&e, a->name));
        pr_put_u32(r + 4, optstr(&e, a->builtin));
        pr_put_u32(r + 8, emit_interp(&e, a->run));
        memcpy(pr_pb_at(e.b, PR_SEC_AGGS, PR_AGG_SIZE, idx), r, sizeof r);
    }

    for (size_t i = 0; i < wf->nalerts; i++) {
        const struct pc_alert *a = &wf->alerts[i];
        uint8_t r[PR_ALERT_SIZE] = {0};
        pr_put_u32(r, str(&e, a->group));
        pr_put_u32(r + 4, str(&e, a->metric));
        pr_put_u32(r + 8, str(&e, a->op));
        pr_put_u32(r + 12, str(&e, a->unit));
        pr_put_u32(r + 16, str(&e, a->severity));
        pr_put_u32(r + 20, str(&e, a->action));
        pr_put_f64(r + 24, a->threshold);
        memcpy(pr_pb_record(e.b, PR_SEC_ALERTS, PR_ALERT_SIZE, NULL), r,
               sizeof r);
    }

    emit_prompts(&e);
    emit_subplans(&e);
    int rc = e.failed || pr_pb_failed(e.b) ? -1
                                           : pr_pb_finish(e.b, out, size);
    pr_pb_free(e.b);
    return rc;
}
