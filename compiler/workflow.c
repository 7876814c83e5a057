/* workflow.c -- reads a workflow document into the IR
 *
 * Checks every key and value of the top level, parameters, steps, SLA,
 * error handling, budget, policy, phases, models, agents, tools, aggregation
 * and imports.  References between steps are resolved later, in analyze.c;
 * the arrow forms (chain, flow, swarm, pipeline) are read by arrow.c.
 */
#include "compile.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "plan_limits.h"
#include "prompt_file.h"
#include "read.h"
#include "routing.h"

#define NOLOC ((struct pc_loc){0, 0, 0})

const char *const pc_builtin_strategies[] = {
    "concat", "merge", "merge_and_deduplicate", "first_success", "vote",
    "reduce", NULL};

bool pc_is_builtin_strategy(const char *name)
{
    for (size_t i = 0; pc_builtin_strategies[i]; i++)
        if (strcmp(name, pc_builtin_strategies[i]) == 0)
            return true;
    return false;
}

/* ---- step ids ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int grow_ids(struct pc_build *b)
{
    size_t ncap = b->idcap ? b->idcap * 2 : 64;
    uint32_t *n = pr_arena_alloc(&b->ctx->arena, ncap * sizeof *n);
    if (!n)
        return -1;
    memset(n, 0xff, ncap * sizeof *n);
    for (size_t i = 0; i < b->idcap; i++) {
        uint32_t v = b->ids[i];
        if (v == UINT32_MAX)
            continue;
        size_t h = hash_str(b->wf->steps[v].id) & (ncap - 1);
        while (n[h] != UINT32_MAX)
            h = (h + 1) & (ncap - 1);
        n[h] = v;
    }
    b->ids = n;
    b->idcap = ncap;
    return 0;
}

long pc_step_index(struct pc_build *b, const char *id)
{
    if (!b->idcap)
        return -1;
    size_t h = hash_str(id) & (b->idcap - 1);
    while (b->ids[h] != UINT32_MAX) {
        if (strcmp(b->wf->steps[b->ids[h]].id, id) == 0)
            return b->ids[h];
        h = (h + 1) & (b->idcap - 1);
    }
    return -1;
}

void pc_suggest_step(struct pc_build *b, struct pc_diag *d, const char *id)
{
    if (!d || b->wf->nsteps > 5000)
        return;
    const char **names = malloc(b->wf->nsteps * sizeof *names + 1);
    if (!names) {
        pc_oom(b->ctx);
        return;
    }
    for (size_t i = 0; i < b->wf->nsteps; i++)
        names[i] = b->wf->steps[i].id;
    const char *near = pc_closest(id, names, b->wf->nsteps);
    if (near)
        pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
    free(names);
}

/* Adds a step with a unique id; reports a duplicate and returns NULL. */
struct pc_step *pc_add_step(struct pc_build *b, const char *id,
                            struct pc_loc loc)
{
    struct pc_workflow *wf = b->wf;
    long prev = pc_step_index(b, id);
    if (prev >= 0) {
        struct pc_diag *d = pc_report(b->ctx, PC_D_DUPLICATE_ID, loc,
                                      "duplicate step id '%s'", id);
        pc_note(b->ctx, d, wf->steps[prev].loc, "'%s' first defined here", id);
        return NULL;
    }
    if (wf->nsteps >= UINT32_MAX / 4) {
        pc_report(b->ctx, PC_D_BAD_VALUE, loc, "too many steps");
        return NULL;
    }
    if ((wf->nsteps + 1) * 2 > b->idcap && grow_ids(b) < 0) {
        pc_oom(b->ctx);
        return NULL;
    }
    struct pc_step *s = PR_PUSH(&b->ctx->arena, wf->steps, wf->nsteps,
                                wf->capsteps);
    if (!s) {
        pc_oom(b->ctx);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->id = id;
    s->loc = loc;
    s->node_loc = loc;
    s->gate_of_phase = -1;
    s->temperature = -1;
    s->retry = wf->default_retry;
    s->continue_on_failure = wf->default_continue;
    s->escalate = wf->default_escalate;
    size_t h = hash_str(id) & (b->idcap - 1);
    while (b->ids[h] != UINT32_MAX)
        h = (h + 1) & (b->idcap - 1);
    b->ids[h] = (uint32_t)(wf->nsteps - 1);
    return s;
}

int pc_add_dep(struct pc_build *b, struct pc_step *s, uint32_t on,
               bool order_only, bool implied, struct pc_loc loc)
{
    for (size_t i = 0; i < s->ndeps; i++)
        if (s->deps[i].step == on) {
            if (!order_only)
                s->deps[i].order_only = false;
            return 0;
        }
    struct pc_dep *d = PR_PUSH(&b->ctx->arena, s->deps, s->ndeps, s->capdeps);
    if (!d) {
        pc_oom(b->ctx);
        return -1;
    }
    d->step = on;
    d->order_only = order_only;
    d->implied = implied;
    d->loc = loc;
    return 0;
}

void pc_add_file(struct pc_build *b, const char *path)
{
    struct pc_workflow *wf = b->wf;
    for (size_t i = 0; i < wf->ndeps_files; i++)
        if (strcmp(wf->deps_files[i], path) == 0)
            return;
    const char **slot = PR_PUSH(&b->ctx->arena, wf->deps_files,
                                wf->ndeps_files, wf->capdeps_files);
    if (slot)
        *slot = path;
}

/* ---- models, agents ---- */

static struct pc_model *find_wf_model(struct pc_build *b, const char *name)
{
    for (size_t i = 0; i < b->wf->nmodels; i++)
        if (strcmp(b->wf->models[i]->name, name) == 0)
            return b->wf->models[i];
    return NULL;
}

struct pc_model *pc_find_model(struct pc_build *b, const char *name,
                               struct pc_loc loc)
{
    struct pc_model *m = find_wf_model(b, name);
    return m ? m : pc_use_model(b, name, loc);
}

/* Lists M among the models of the workflow, once. */
static void note_used(struct pc_build *b, struct pc_model *m)
{
    for (size_t i = 0; i < b->wf->nmodels; i++)
        if (b->wf->models[i] == m)
            return;
    struct pc_model **slot = PR_PUSH(&b->ctx->arena, b->wf->models,
                                     b->wf->nmodels, b->wf->capmodels);
    if (slot)
        *slot = m;
    else
        pc_oom(b->ctx);
}

struct pc_model *pc_use_model(struct pc_build *b, const char *name,
                              struct pc_loc loc)
{
    if (pc_catalog_models(b->ctx, b->cat) < 0)
        return NULL; /* the catalog's own error says it all */
    struct pc_model *m = pc_catalog_model(b->cat, name);
    if (!m) {
        struct pc_diag *d = pc_report(b->ctx, PC_D_UNKNOWN_MODEL, loc,
                                      "unknown model '%s'", name);
        const char *near = pc_catalog_suggest_model(b->cat, name);
        if (near)
            pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
        else
            pc_note(b->ctx, d, NOLOC,
                    "define it under 'models:' or add it to the catalog "
                    "(stdlib/models.poml)");
        return NULL;
    }
    note_used(b, m);
    return m;
}

static struct pc_wf_agent *find_wf_agent(struct pc_build *b, const char *name)
{
    for (size_t i = 0; i < b->wf->nagents; i++)
        if (strcmp(b->wf->agents[i].name, name) == 0)
            return &b->wf->agents[i];
    return NULL;
}

/* Whether model M offers each of the N features NEEDS; the first it
 * lacks in *MISSING. */
static bool has_features(const struct pc_model *m, const char *const *needs,
                         size_t n, const char **missing)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m->nfeatures && strcmp(m->features[j], needs[i]))
            j++;
        if (j == m->nfeatures) {
            *missing = needs[i];
            return false;
        }
    }
    return true;
}

static void use_capability(struct pc_build *b, const char *name,
                           struct pc_loc loc, struct pc_step *s);

/* The models of capability C that have the N features NEEDS, in its
 * order (a workflow's own model of the same name first): the first is
 * step S's model, the others its fallbacks unless it names its own.
 * pomlrun starts with the first whose API key is set, and says so. */
static void capability_models(struct pc_build *b,
                              const struct pc_capability *c,
                              const char *const *needs, size_t n,
                              struct pc_step *s)
{
    const char *missing;
    for (size_t i = 0; i < c->nmodels; i++) {
        struct pc_model *m = find_wf_model(b, c->models[i]);
        if (!m)
            m = pc_catalog_model(b->cat, c->models[i]);
        if (!m || !has_features(m, needs, n, &missing))
            continue;
        note_used(b, m);
        if (!s->model) {
            s->model = m;
            continue;
        }
        struct pc_model **slot = PR_PUSH(&b->ctx->arena, s->cap_rest,
                                         s->ncap_rest, s->capcap_rest);
        if (!slot) {
            pc_oom(b->ctx);
            return;
        }
        *slot = m;
    }
}

/* Step S uses workflow agent A: its model, or the first model of its
 * capability that has every feature A needs, and its tools unless the
 * step names its own. */
static void use_wf_agent(struct pc_build *b, const struct pc_wf_agent *a,
                         struct pc_step *s)
{
    if (!s->model && a->model)
        s->model = a->model;
    if (!s->model && a->capability && a->nneeds &&
        pc_catalog_models(b->ctx, b->cat) == 0) {
        struct pc_capability *c = pc_catalog_capability(b->cat, a->capability);
        if (c)
            capability_models(b, c, a->needs, a->nneeds, s);
        if (c && !s->model) {
            struct pc_diag *d = pc_report(
                b->ctx, PC_D_UNKNOWN_CAPABILITY, a->needs_loc,
                "no model of capability '%s' has every capability agent "
                "'%s' needs",
                a->capability, a->name);
            pc_note(b->ctx, d, NOLOC, "step '%s' uses the agent", s->id);
        }
        s->capability = c ? c->name : NULL;
    }
    if (!s->model && a->capability)
        use_capability(b, a->capability, a->loc, s);
    if (!s->ntools && a->ntools) {
        s->tools = a->tools;
        s->ntools = a->ntools;
        s->tools_locs = a->tools_locs;
    }
}

/* Resolves capability NAME to its preferred model for step S. */
static void use_capability(struct pc_build *b, const char *name,
                           struct pc_loc loc, struct pc_step *s)
{
    if (pc_catalog_models(b->ctx, b->cat) < 0)
        return;
    struct pc_capability *c = pc_catalog_capability(b->cat, name);
    if (!c) {
        struct pc_diag *d = pc_report(b->ctx, PC_D_UNKNOWN_CAPABILITY, loc,
                                      "unknown capability '%s'", name);
        const char *near = pc_catalog_suggest_capability(b->cat, name);
        if (near)
            pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
        return;
    }
    s->capability = c->name;
    if (!s->model)
        capability_models(b, c, NULL, 0, s);
}

const char *pc_resolve_agent(struct pc_build *b, const char *name,
                             struct pc_loc loc, struct pc_step *s)
{
    struct pc_wf_agent *wa = find_wf_agent(b, name);
    if (wa) {
        if (s) {
            use_wf_agent(b, wa, s);
            if (!s->system && wa->system) {
                struct pc_node tmp = {0};
                tmp.kind = PC_NODE_SCALAR;
                tmp.style = PC_LITERAL;
                tmp.str = wa->system;
                tmp.len = strlen(wa->system);
                tmp.loc = wa->loc;
                pc_interp_parse(b->ctx, &tmp, &s->system);
            }
        }
        return wa->name;
    }
    if (pc_catalog_agents(b->ctx, b->cat) < 0)
        return name;
    struct pc_agent *a = pc_catalog_agent(b->cat, name);
    if (!a) {
        struct pc_diag *d = pc_report(b->ctx, PC_D_UNKNOWN_AGENT, loc,
                                      "unknown agent '%s'", name);
        const char *near = pc_catalog_suggest_agent(b->cat, name);
        if (near)
            pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
        else
            pc_note(b->ctx, d, NOLOC, "define it under 'agents:'");
        return NULL;
    }
    if (s) {
        if (!s->model && a->model)
            s->model = pc_use_model(b, a->model, a->loc);
        if (!s->model && a->capability)
            use_capability(b, a->capability, a->loc, s);
        if (!s->system && a->system) {
            struct pc_node tmp = {0};
            tmp.kind = PC_NODE_SCALAR;
            tmp.style = PC_LITERAL;
            tmp.str = a->system;
            tmp.len = strlen(a->system);
            tmp.loc = a->loc;
            pc_interp_parse(b->ctx, &tmp, &s->system);
        }
    }
    return a->name;
}

/* ---- parameters ---- */

struct pc_param *pc_find_param(struct pc_workflow *wf, const char *name)
{
    for (size_t i = 0; i < wf->nparams; i++)
        if (strcmp(wf->params[i].name, name) == 0)
            return &wf->params[i];
    return NULL;
}

struct pc_param *pc_add_param(struct pc_build *b, const char *name,
                              struct pc_loc loc)
{
    struct pc_param *p = PR_PUSH(&b->ctx->arena, b->wf->params, b->wf->nparams,
                                 b->wf->capparams);
    if (!p) {
        pc_oom(b->ctx);
        return NULL;
    }
    memset(p, 0, sizeof *p);
    p->name = name;
    p->loc = loc;
    return p;
}

static const char *const type_names[] = {
    "any", "string", "integer", "number", "boolean", "array", "object", NULL};

/* Does a YAML value fit a parameter type? */
static bool value_fits(const struct pc_node *v, enum pc_type t)
{
    long long i;
    double d;
    bool bo;
    switch (t) {
    case PC_T_ANY:
        return true;
    case PC_T_STRING:
        return v->kind == PC_NODE_SCALAR;
    case PC_T_INTEGER:
        return pc_scalar_int(v, &i) == 0;
    case PC_T_NUMBER:
        return pc_scalar_int(v, &i) == 0 || pc_scalar_float(v, &d) == 0;
    case PC_T_BOOLEAN:
        return pc_scalar_bool(v, &bo) == 0;
    case PC_T_ARRAY:
        return v->kind == PC_NODE_SEQ;
    case PC_T_OBJECT:
        return v->kind == PC_NODE_MAP;
    }
    return false;
}

static bool same_value(const struct pc_node *a, const struct pc_node *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == PC_NODE_SCALAR)
        return strcmp(a->str, b->str) == 0;
    return a->kind == PC_NODE_NULL;
}

static void read_params(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"type",        "required", "default",
                                       "enum",        "items",    "properties",
                                       "description", NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "parameters"))
        return;
    for (size_t i = 0; i < n->len; i++) {
        const struct pc_node *k = n->pairs[i].key, *def = n->pairs[i].value;
        if (!pc_is_ident(k->str)) {
            pc_report(b->ctx, PC_D_BAD_VALUE, k->loc,
                      "parameter name '%s' is not an identifier (letters, "
                      "digits, '_' and '-', not starting with a digit)",
                      k->str);
            continue;
        }
        struct pc_param *p = pc_add_param(b, k->str, k->loc);
        if (!p)
            return;
        p->type = PC_T_STRING;
        if (def->kind == PC_NODE_NULL)
            continue;
        if (!pc_want_kind(b->ctx, def, PC_NODE_MAP, k->str))
            continue;
        pc_check_keys(b->ctx, def, keys, "parameter");
        p->node = def;
        const struct pc_node *v;
        bool typed = false;
        if ((v = pc_map_get(def, "type"))) {
            const char *t = pc_get_str(b->ctx, v, "type");
            size_t j;
            for (j = 0; t && type_names[j]; j++)
                if (strcmp(t, type_names[j]) == 0)
                    break;
            if (t && type_names[j]) {
                p->type = (enum pc_type)j;
                typed = true;
            } else if (t) {
                struct pc_diag *d = pc_report(
                    b->ctx, PC_D_BAD_VALUE, v->loc,
                    "unknown parameter type '%s'; expected string, integer, "
                    "number, boolean, array or object",
                    t);
                const char *near = pc_closest(t, type_names, 7);
                if (near)
                    pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
            }
        }
        if ((v = pc_map_get(def, "required")))
            pc_get_bool(b->ctx, v, "required", &p->required);
        if ((v = pc_map_get(def, "description")))
            p->description = pc_get_str(b->ctx, v, "description");
        if ((v = pc_map_get(def, "enum")) &&
            pc_want_kind(b->ctx, v, PC_NODE_SEQ, "enum")) {
            p->enumv = (struct pc_node *)v;
            for (size_t j = 0; j < v->len; j++)
                if (!value_fits(v->items[j], p->type))
                    pc_report(b->ctx, PC_D_PARAM_TYPE, v->items[j]->loc,
                              "enum value of parameter '%s' is not of its "
                              "type %s",
                              p->name, type_names[p->type]);
        }
        if ((v = pc_map_get(def, "default"))) {
            p->def = (struct pc_node *)v;
            if (!typed && v->kind == PC_NODE_SEQ)
                p->type = PC_T_ARRAY;
            else if (!typed && v->kind == PC_NODE_MAP)
                p->type = PC_T_OBJECT;
            if (!value_fits(v, p->type)) {
                pc_report(b->ctx, PC_D_PARAM_TYPE, v->loc,
                          "default of parameter '%s' is not a%s %s", p->name,
                          p->type == PC_T_INTEGER || p->type == PC_T_ARRAY ||
                                  p->type == PC_T_OBJECT
                              ? "n"
                              : "",
                          type_names[p->type]);
            } else if (p->enumv) {
                size_t j;
                for (j = 0; j < p->enumv->len; j++)
                    if (same_value(p->enumv->items[j], v))
                        break;
                if (j == p->enumv->len) {
                    struct pc_diag *d = pc_report(
                        b->ctx, PC_D_ENUM_DEFAULT, v->loc,
                        "default '%s' of parameter '%s' is not one of its "
                        "enum values",
                        v->kind == PC_NODE_SCALAR ? v->str : "?", p->name);
                    pc_note(b->ctx, d, p->enumv->loc, "enum declared here");
                }
            }
            if (p->required)
                pc_report(b->ctx, PC_D_BAD_VALUE, v->loc,
                          "parameter '%s' is required and has a default; "
                          "drop one of them",
                          p->name);
        }
    }
}

/* ---- template values ---- */

static struct pc_tval *read_tval(struct pc_build *b, const struct pc_node *n,
                                 int depth)
{
    struct pc_tval *t = pr_arena_alloc(&b->ctx->arena, sizeof *t);
    if (!t) {
        pc_oom(b->ctx);
        return NULL;
    }
    t->loc = n->loc;
    long long iv;
    double dv;
    if (depth > 2 * PC_YAML_MAX_DEPTH) /* cannot happen: YAML bounds it */
        return t;
    switch (n->kind) {
    case PC_NODE_NULL:
        t->kind = PC_TV_NULL;
        break;
    case PC_NODE_SCALAR:
        if (pc_scalar_null(n)) {
            t->kind = PC_TV_NULL;
        } else if (pc_scalar_bool(n, &t->b) == 0) {
            t->kind = PC_TV_BOOL;
        } else if (pc_scalar_int(n, &iv) == 0) {
            t->kind = PC_TV_NUM;
            t->num = (double)iv;
        } else if (pc_scalar_float(n, &dv) == 0) {
            t->kind = PC_TV_NUM;
            t->num = dv;
        } else {
            t->kind = PC_TV_STR;
            pc_interp_parse(b->ctx, n, &t->str);
        }
        break;
    case PC_NODE_SEQ:
        t->kind = PC_TV_LIST;
        t->len = n->len;
        t->items = pr_arena_alloc(&b->ctx->arena,
                                  (n->len + 1) * sizeof *t->items);
        if (!t->items) {
            pc_oom(b->ctx);
            return t;
        }
        for (size_t i = 0; i < n->len; i++)
            t->items[i] = read_tval(b, n->items[i], depth + 1);
        break;
    case PC_NODE_MAP:
        t->kind = PC_TV_MAP;
        t->len = n->len;
        t->items = pr_arena_alloc(&b->ctx->arena,
                                  (n->len + 1) * sizeof *t->items);
        t->keys = pr_arena_alloc(&b->ctx->arena,
                                 (n->len + 1) * sizeof *t->keys);
        if (!t->items || !t->keys) {
            pc_oom(b->ctx);
            return t;
        }
        for (size_t i = 0; i < n->len; i++) {
            t->keys[i] = n->pairs[i].key->str;
            t->items[i] = read_tval(b, n->pairs[i].value, depth + 1);
        }
        break;
    }
    return t;
}

/* ---- steps ---- */

/* cache: true | false | {ttl: DURATION}: reuse a result of an earlier
 * run with the same key (pomlrun(1), CACHE). */
static void read_cache(struct pc_ctx *c, const struct pc_node *v,
                       struct pc_step *s)
{
    if (v->kind != PC_NODE_MAP) {
        pc_get_bool(c, v, "cache", &s->cache);
        return;
    }
    static const char *const keys[] = {"ttl", NULL};
    pc_check_keys(c, v, keys, "cache");
    s->cache = true;
    const struct pc_node *t = pc_map_get(v, "ttl");
    if (t && pc_get_duration(c, t, "cache.ttl", &s->cache_ttl) == 0 &&
        s->cache_ttl <= 0)
        pc_report(c, PC_D_BAD_VALUE, t->loc,
                  "'cache.ttl' must be above zero; leave it out for "
                  "results of any age");
}

static const char *const step_keys[] = {"id",          "name",
                                        "description", "type",
                                        "run",         "dir",
                                        "env",         "model",
                                        "agent",       "agent_capability",
                                        "prompt",      "prompt_file",
                                        "system",      "fallback",
                                        "temperature", "max_tokens",
                                        "output",      "tools",
                                        "best_of",     "judge",
                                        "score",       "cascade",
                                        "tool",        "strategy",
                                        "workflow",    "with",
                                        "command",     "params",
                                        "depends_on",  "after",
                                        "parallel",    "condition",
                                        "for_each",    "inputs",
                                        "outputs",     "timeout",
                                        "retry",       "on_failure",
                                        "cache",       "phase",
                                        "budget",      "batch_size",
                                        "parallelism", "processor",
                                        "schema",      "escalate_to",
                                        "notify",      "routing",
                                        NULL};

static const char *const step_types[] = {
    "shell", "llm",  "tool",     "aggregator", "workflow",
    "gate",  "bash", "approval", NULL};

/* ---- a person in the loop: escalate_to, notify ---- */

static void check_hook_command(struct pc_build *b, const char *cmd,
                               struct pc_loc loc);

/* Appends action TEXT ("run=...", "notify=...", ...) to the workflow's
 * on_failure list. */
static void add_action(struct pc_build *b, const char *text,
                       struct pc_loc loc)
{
    struct pc_workflow *wf = b->wf;
    if (!text)
        return;
    if (wf->non_failure_actions == wf->cap_failure_actions) {
        size_t cap = wf->cap_failure_actions ? 2 * wf->cap_failure_actions
                                             : 8;
        const char **a = pr_arena_alloc(&b->ctx->arena, cap * sizeof *a);
        struct pc_loc *l = pr_arena_alloc(&b->ctx->arena, cap * sizeof *l);
        if (!a || !l) {
            pc_oom(b->ctx);
            return;
        }
        if (wf->non_failure_actions) {
            memcpy(a, wf->on_failure_actions,
                   wf->non_failure_actions * sizeof *a);
            memcpy(l, wf->on_failure_locs,
                   wf->non_failure_actions * sizeof *l);
        }
        wf->on_failure_actions = a;
        wf->on_failure_locs = l;
        wf->cap_failure_actions = cap;
    }
    wf->on_failure_locs[wf->non_failure_actions] = loc;
    wf->on_failure_actions[wf->non_failure_actions++] = text;
}

/* escalate_to: human is the only one there is. */
static bool read_escalate(struct pc_build *b, const struct pc_node *v)
{
    const char *to = pc_get_str(b->ctx, v, "escalate_to");
    if (to && strcmp(to, "human")) {
        pc_report(b->ctx, PC_D_BAD_VALUE, v->loc,
                  "'escalate_to' must be human, not '%s'", to);
        return false;
    }
    return to != NULL;
}

static bool is_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* A channel's name: it is configured by POML_NOTIFY_<NAME>. */
static bool is_channel(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

/* An environment variable's name: [A-Za-z_][A-Za-z0-9_]*. */
static bool is_env_name(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* notify: a channel's name, a URL, or {url:, headers:} or {run:}; STEP:
 * the step it is about, or NULL for the workflow's. */
static void read_notify(struct pc_build *b, const struct pc_node *v,
                        const char *step)
{
    struct pc_ctx *c = b->ctx;
    char who[300] = "notify";
    if (step)
        snprintf(who, sizeof who, "notify@%s", step);
    if (v->kind == PC_NODE_SCALAR) {
        const char *t = pc_get_str(c, v, "notify");
        if (!t)
            return;
        if (!is_url(t) && !is_channel(t)) {
            pc_report(c, PC_D_BAD_VALUE, v->loc,
                      "'notify' must name a channel (configured by "
                      "POML_NOTIFY_<NAME>), be an http:// or https:// URL, "
                      "or be a map with 'url' or 'run'; not '%s'",
                      t);
            return;
        }
        add_action(b, pr_arena_printf(&c->arena, "%s=%s", who, t), v->loc);
        return;
    }
    if (!pc_want_kind(c, v, PC_NODE_MAP, "notify"))
        return;
    static const char *const keys[] = {"url", "headers", "run", NULL};
    pc_check_keys(c, v, keys, "notify");
    const struct pc_node *url = pc_map_get(v, "url"),
                         *run = pc_map_get(v, "run"),
                         *hdr = pc_map_get(v, "headers");
    if (!url == !run) {
        pc_report(c, PC_D_BAD_VALUE, v->loc,
                  "'notify' needs either 'url' (a POST of the failure as "
                  "JSON) or 'run' (a command), not %s",
                  url ? "both" : "neither");
        return;
    }
    if (run) {
        const char *cmd = pc_get_str(c, run, "run");
        if (hdr)
            pc_report(c, PC_D_BAD_VALUE, hdr->loc,
                      "'headers' go with 'url', not with 'run'");
        if (cmd) {
            check_hook_command(b, cmd, run->loc);
            add_action(b, pr_arena_printf(&c->arena, "%s.run=%s", who, cmd),
                       run->loc);
        }
        return;
    }
    const char *u = pc_get_str(c, url, "url");
    if (u && !is_url(u)) {
        pc_report(c, PC_D_BAD_VALUE, url->loc,
                  "'url' must begin with http:// or https://, not '%s'", u);
        return;
    }
    if (u)
        add_action(b, pr_arena_printf(&c->arena, "%s.url=%s", who, u),
                   url->loc);
    if (!hdr || !pc_want_kind(c, hdr, PC_NODE_MAP, "headers"))
        return;
    /* a header's value comes from the environment variable named, so
       no secret is written in the workflow or the plan */
    for (size_t i = 0; i < hdr->len; i++) {
        const char *name = hdr->pairs[i].key->str;
        const char *env = pc_get_str(c, hdr->pairs[i].value, name);
        bool token = *name != '\0';
        for (const char *p = name; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-')
                token = false;
        if (!token)
            pc_report(c, PC_D_BAD_VALUE, hdr->pairs[i].key->loc,
                      "'%s' is not a header name", name);
        else if (env && !is_env_name(env))
            pc_report(c, PC_D_BAD_VALUE, hdr->pairs[i].value->loc,
                      "header '%s' names the environment variable that "
                      "holds its value; '%s' is not a variable name",
                      name, env);
        else if (env)
            add_action(b,
                       pr_arena_printf(&c->arena, "%s.header=%s:%s", who,
                                       name, env),
                       hdr->pairs[i].value->loc);
    }
}

/* A step's on_failure as a list: escalate_to and notify, as the
 * workflow's error_handling.on_failure writes them. */
static void read_step_actions(struct pc_build *b, const struct pc_node *v,
                              struct pc_step *s)
{
    static const char *const akeys[] = {"notify", "escalate_to", NULL};
    for (size_t i = 0; i < v->len; i++) {
        const struct pc_node *a = v->items[i];
        if (!pc_want_kind(b->ctx, a, PC_NODE_MAP, "on_failure"))
            continue;
        pc_check_keys(b->ctx, a, akeys, "a step's on_failure action");
        const struct pc_node *w;
        if ((w = pc_map_get(a, "escalate_to")))
            s->escalate = read_escalate(b, w);
        if ((w = pc_map_get(a, "notify")))
            read_notify(b, w, s->id);
    }
}

static void read_retry(struct pc_build *b, const struct pc_node *n,
                       struct pc_retry *r)
{
    static const char *const keys[] = {"max_attempts", "backoff",
                                       "initial_delay", "max_delay", NULL};
    uint64_t u;
    if (n->kind == PC_NODE_SCALAR) {
        /* a count of retries after the first attempt */
        if (pc_get_uint(b->ctx, n, "retry", PR_MAX_ATTEMPTS - 1, &u) == 0)
            r->max_attempts = (unsigned)u + 1;
        return;
    }
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "retry"))
        return;
    pc_check_keys(b->ctx, n, keys, "retry");
    const struct pc_node *v;
    if ((v = pc_map_get(n, "max_attempts")) &&
        pc_get_uint(b->ctx, v, "max_attempts", PR_MAX_ATTEMPTS - 1, &u) == 0) {
        if (u == 0)
            pc_report(b->ctx, PC_D_BAD_VALUE, v->loc,
                      "'max_attempts' must be at least 1");
        else
            r->max_attempts = (unsigned)u;
    }
    if ((v = pc_map_get(n, "backoff"))) {
        const char *s = pc_get_str(b->ctx, v, "backoff");
        if (!s)
            ;
        else if (!strcmp(s, "exponential") ||
                 !strcmp(s, "exponential_backoff"))
            r->backoff = PC_BACKOFF_EXPONENTIAL;
        else if (!strcmp(s, "fixed") || !strcmp(s, "linear"))
            r->backoff = PC_BACKOFF_FIXED;
        else if (!strcmp(s, "none"))
            r->backoff = PC_BACKOFF_NONE;
        else
            pc_report(b->ctx, PC_D_BAD_VALUE, v->loc,
                      "'backoff' must be exponential, fixed or none, not "
                      "'%s'",
                      s);
    }
    if ((v = pc_map_get(n, "initial_delay")))
        pc_get_duration(b->ctx, v, "initial_delay", &r->initial_delay);
    if ((v = pc_map_get(n, "max_delay")))
        pc_get_duration(b->ctx, v, "max_delay", &r->max_delay);
}

static void read_budget(struct pc_build *b, const struct pc_node *n,
                        struct pc_budget *bu)
{
    static const char *const keys[] = {"max_cost_usd", "max_tokens",
                                       "max_llm_calls", NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "budget"))
        return;
    pc_check_keys(b->ctx, n, keys, "budget");
    const struct pc_node *v;
    if ((v = pc_map_get(n, "max_cost_usd")))
        pc_get_num(b->ctx, v, "max_cost_usd", &bu->max_cost_usd);
    if ((v = pc_map_get(n, "max_tokens")))
        pc_get_uint(b->ctx, v, "max_tokens", UINT64_MAX / 2, &bu->max_tokens);
    if ((v = pc_map_get(n, "max_llm_calls")))
        pc_get_uint(b->ctx, v, "max_llm_calls", UINT32_MAX,
                    &bu->max_llm_calls);
}

static struct pc_model **read_model_list(struct pc_build *b,
                                         const struct pc_node *n,
                                         const char *field, size_t *count)
{
    size_t len;
    struct pc_loc *locs;
    const char **names = pc_get_str_list(b->ctx, n, field, &len, &locs);
    *count = 0;
    if (!names)
        return NULL;
    struct pc_model **out = pr_arena_alloc(&b->ctx->arena,
                                           (len + 1) * sizeof *out);
    if (!out) {
        pc_oom(b->ctx);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        struct pc_model *m = pc_find_model(b, names[i], locs[i]);
        if (m)
            out[(*count)++] = m;
    }
    return out;
}

/* Which kind of step the keys describe; 0 or -1 on a conflict. */
static void decide_kind(struct pc_build *b, const struct pc_node *def,
                        struct pc_step *s)
{
    static const struct {
        const char *key;
        enum pc_step_kind kind;
    } marks[] = {
        {"run", PC_STEP_SHELL},         {"model", PC_STEP_LLM},
        {"agent", PC_STEP_LLM},         {"agent_capability", PC_STEP_LLM},
        {"prompt", PC_STEP_LLM},        {"prompt_file", PC_STEP_LLM},
        {"command", PC_STEP_LLM},       {"processor", PC_STEP_LLM},
        {"cascade", PC_STEP_LLM},       {"best_of", PC_STEP_LLM},
        {"tool", PC_STEP_TOOL},         {"strategy", PC_STEP_AGGREGATE},
        {"workflow", PC_STEP_WORKFLOW},
    };
    const struct pc_node *first = NULL;
    const char *first_key = NULL;
    bool have = false;
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        const struct pc_node *v = pc_map_get(def, marks[i].key);
        if (!v)
            continue;
        if (!have) {
            s->kind = marks[i].kind;
            first = v;
            first_key = marks[i].key;
            have = true;
        } else if (marks[i].kind != s->kind) {
            struct pc_diag *d = pc_report(
                b->ctx, PC_D_CONFLICTING_KIND, v->loc,
                "step '%s' has both '%s' and '%s'; a step does one thing",
                s->id, first_key, marks[i].key);
            pc_note(b->ctx, d, first->loc, "'%s' is here", first_key);
        }
    }
    const struct pc_node *t = pc_map_get(def, "type");
    if (t) {
        const char *ty = pc_get_str(b->ctx, t, "type");
        if (!ty)
            return;
        enum pc_step_kind k;
        if (!strcmp(ty, "shell") || !strcmp(ty, "bash"))
            k = PC_STEP_SHELL;
        else if (!strcmp(ty, "llm"))
            k = PC_STEP_LLM;
        else if (!strcmp(ty, "tool"))
            k = PC_STEP_TOOL;
        else if (!strcmp(ty, "aggregator"))
            k = PC_STEP_AGGREGATE;
        else if (!strcmp(ty, "workflow"))
            k = PC_STEP_WORKFLOW;
        else if (!strcmp(ty, "gate"))
            k = PC_STEP_GATE;
        else if (!strcmp(ty, "approval"))
            k = PC_STEP_APPROVAL;
        else {
            struct pc_diag *d = pc_report(
                b->ctx, PC_D_BAD_VALUE, t->loc,
                "unknown step type '%s'; expected shell, llm, tool, "
                "aggregator, workflow, gate or approval",
                ty);
            const char *near = pc_closest(ty, step_types, 8);
            if (near)
                pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
            return;
        }
        /* an approval's prompt is shown to a person */
        bool asks = k == PC_STEP_APPROVAL && first_key &&
                    !strcmp(first_key, "prompt");
        if (have && k != s->kind && !asks) {
            struct pc_diag *d = pc_report(
                b->ctx, PC_D_CONFLICTING_KIND, t->loc,
                "step '%s' is declared '%s' but has '%s'", s->id, ty,
                first_key);
            pc_note(b->ctx, d, first->loc, "'%s' is here", first_key);
        }
        s->kind = k;
        have = true;
    }
    if (!have)
        pc_report(b->ctx, PC_D_EMPTY_STEP, s->loc,
                  "step '%s' does nothing (no run, model, agent, tool, "
                  "strategy or workflow); it runs as a gate",
                  s->id);
}

/* A for_each written as a YAML list of scalars: the list literal. */
static struct pc_expr *literal_list(struct pc_build *b,
                                    const struct pc_node *v)
{
    struct pc_ctx *c = b->ctx;
    struct pc_expr *e = pr_arena_alloc(&c->arena, sizeof *e);
    struct pc_expr **items = pr_arena_alloc(&c->arena,
                                            (v->len + 1) * sizeof *items);
    if (!e || !items) {
        pc_oom(c);
        return NULL;
    }
    e->kind = PC_E_LIST;
    e->loc = v->loc;
    e->args = items;
    e->height = 2;
    e->need = (unsigned)v->len + 1;
    if (v->len >= PR_EVAL_STACK) {
        pc_report(c, PC_D_BAD_VALUE, v->loc,
                  "a literal for_each list holds at most %d items",
                  PR_EVAL_STACK - 1);
        return NULL;
    }
    for (size_t i = 0; i < v->len; i++) {
        const struct pc_node *it = v->items[i];
        struct pc_expr *x = pr_arena_alloc(&c->arena, sizeof *x);
        if (!x) {
            pc_oom(c);
            return NULL;
        }
        x->loc = it->loc;
        x->height = 1;
        x->need = 1;
        long long iv;
        if (it->kind != PC_NODE_SCALAR && it->kind != PC_NODE_NULL) {
            pc_report(c, PC_D_WRONG_TYPE, it->loc,
                      "for_each items written as a list must be scalars; "
                      "use an expression for nested values");
            return NULL;
        }
        if (pc_scalar_null(it)) {
            x->kind = PC_E_NULL;
        } else if (pc_scalar_bool(it, &x->b) == 0) {
            x->kind = PC_E_BOOL;
        } else if (pc_scalar_int(it, &iv) == 0) {
            x->kind = PC_E_NUM;
            x->num = (double)iv;
        } else if (pc_scalar_float(it, &x->num) == 0) {
            x->kind = PC_E_NUM;
        } else {
            x->kind = PC_E_STR;
            x->str = it->str;
            x->len = it->len;
        }
        items[e->nargs++] = x;
    }
    return e;
}

/* Whether the canonical path REAL lies in the canonical directory DIR. */
static bool inside(const char *real, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return true;
    return !strncmp(real, dir, n) && (real[n] == '/' || real[n] == '\0');
}

const char *pc_source_file(struct pc_build *b, const char *dir,
                           const char *name, struct pc_loc loc,
                           const char *what)
{
    struct pc_ctx *c = b->ctx;
    struct pr_arena *a = &c->arena;
    const char *path;
    if (!strncmp(name, "stdlib:", 7) && !strcmp(what, "sub-workflow"))
        path = pr_arena_printf(a, "%s/templates/%s.poml", b->cat->dir,
                               name + 7);
    else if (!strncmp(name, "stdlib/", 7))
        path = pr_arena_printf(a, "%s/%s", b->cat->dir, name + 7);
    else if (name[0] == '/')
        path = pr_arena_strdup(a, name);
    else
        path = pr_arena_printf(a, "%s/%s", dir ? dir : b->dir, name);
    if (!path) {
        pc_oom(c);
        return NULL;
    }
    char *r = realpath(path, NULL);
    if (!r && errno == ENOMEM) {
        pc_oom(c); /* not a file that may be read unchecked */
        return NULL;
    }
    if (!r)
        return path; /* not there: the reader says it cannot read it */
    if (!b->cat->real_dir)
        b->cat->real_dir = pc_canonical(c, b->cat->dir);
    bool ok = (b->root && inside(r, b->root)) ||
              (b->cat->real_dir && inside(r, b->cat->real_dir));
    for (size_t i = 0; !ok && i < b->cat->nallow; i++)
        ok = inside(r, b->cat->allow[i]);
    free(r);
    if (ok)
        return path;
    struct pc_diag *d = pc_report(
        c, PC_D_IMPORT, loc,
        "%s '%s' is outside the directories pomlc reads: the workflow's "
        "'%s' and the standard library '%s'",
        what, name, b->root ? b->root : "?",
        b->cat->real_dir ? b->cat->real_dir : b->cat->dir);
    pc_note(c, d, NOLOC,
            "move the file there, or pass --allow-path DIR to read files "
            "under DIR too");
    return NULL;
}

static struct pc_interp *interp_of(struct pc_build *b, const struct pc_node *v,
                                   const char *field)
{
    if (!pc_get_str(b->ctx, v, field))
        return NULL;
    struct pc_interp *out = NULL;
    pc_interp_parse(b->ctx, v, &out);
    return out;
}

int pc_read_step(struct pc_build *b, const struct pc_node *def,
                 struct pc_step *s)
{
    pc_check_keys(b->ctx, def, step_keys, "step");
    return pc_read_step_fields(b, def, s);
}

int pc_read_step_fields(struct pc_build *b, const struct pc_node *def,
                        struct pc_step *s)
{
    struct pc_ctx *c = b->ctx;
    const struct pc_node *v;
    s->node = def;
    s->node_loc = def->loc;
    decide_kind(b, def, s);

    if ((v = pc_map_get(def, "name")))
        s->name = pc_get_str(c, v, "name");
    if ((v = pc_map_get(def, "description")))
        s->description = pc_get_str(c, v, "description");
    /* shell */
    if ((v = pc_map_get(def, "run"))) {
        s->run = interp_of(b, v, "run");
        s->run_loc = v->loc;
    }
    if ((v = pc_map_get(def, "dir")))
        s->shell_dir = pc_get_str(c, v, "dir");
    if ((v = pc_map_get(def, "env")) && pc_want_kind(c, v, PC_NODE_MAP, "env"))
        s->env = read_tval(b, v, 0);
    /* llm */
    if ((v = pc_map_get(def, "model"))) {
        const char *m = pc_get_str(c, v, "model");
        if (m)
            s->model = pc_find_model(b, m, v->loc);
    }
    const struct pc_node *agent = pc_map_get(def, "agent");
    if (!agent)
        agent = pc_map_get(def, "command");
    if (!agent)
        agent = pc_map_get(def, "processor");
    if (agent) {
        const char *a = pc_get_str(c, agent, "agent");
        if (a)
            s->agent = pc_resolve_agent(b, a, agent->loc, s);
    }
    if ((v = pc_map_get(def, "agent_capability"))) {
        const char *cap = pc_get_str(c, v, "agent_capability");
        if (cap)
            use_capability(b, cap, v->loc, s);
    }
    if ((v = pc_map_get(def, "prompt")))
        s->prompt = interp_of(b, v, "prompt");
    if ((v = pc_map_get(def, "params")) && !s->prompt)
        s->prompt = interp_of(b, v, "params");
    if ((v = pc_map_get(def, "prompt_file"))) {
        s->prompt_file = pc_get_str(c, v, "prompt_file");
        s->prompt_file_loc = v->loc;
        if (s->prompt_file)
            s->prompt_def = pc_load_prompt(b, s->prompt_file, v->loc);
        if (s->prompt)
            pc_report(c, PC_D_CONFLICTING_KIND, v->loc,
                      "step '%s' has both 'prompt' and 'prompt_file'", s->id);
    }
    if ((v = pc_map_get(def, "system")))
        s->system = interp_of(b, v, "system");
    if ((v = pc_map_get(def, "fallback")))
        s->fallback = read_model_list(b, v, "fallback", &s->nfallback);
    if ((v = pc_map_get(def, "cascade"))) {
        s->cascade = read_model_list(b, v, "cascade", &s->ncascade);
        if (!s->model && s->ncascade)
            s->model = s->cascade[0];
    }
    if ((v = pc_map_get(def, "temperature"))) {
        double t;
        if (pc_get_num(c, v, "temperature", &t) == 0) {
            if (t < 0 || t > 2)
                pc_report(c, PC_D_BAD_VALUE, v->loc,
                          "'temperature' must be between 0 and 2");
            else
                s->temperature = t;
        }
    }
    if ((v = pc_map_get(def, "max_tokens")))
        pc_get_uint(c, v, "max_tokens", UINT32_MAX, &s->max_tokens);
    if (s->kind == PC_STEP_LLM)
        pc_route_step(b, def, s);
    else if ((v = pc_map_get(def, "routing")))
        pc_report(c, PC_D_BAD_VALUE, v->loc,
                  "'routing' is for LLM steps; step '%s' is not one", s->id);
    if ((v = pc_map_get(def, "output")) &&
        pc_want_kind(c, v, PC_NODE_MAP, "output")) {
        static const char *const keys[] = {"format", "schema", NULL};
        pc_check_keys(c, v, keys, "output");
        const struct pc_node *f = pc_map_get(v, "format");
        const char *fs = f ? pc_get_str(c, f, "format") : NULL;
        if (fs && strcmp(fs, "json") && strcmp(fs, "text"))
            pc_report(c, PC_D_BAD_VALUE, f->loc,
                      "'format' must be json or text, not '%s'", fs);
        s->json_output = fs && !strcmp(fs, "json");
        const struct pc_node *sc = pc_map_get(v, "schema");
        if (sc && pc_want_kind(c, sc, PC_NODE_MAP, "schema")) {
            s->output_schema = (struct pc_node *)sc;
            s->json_output = true;
        }
    }
    if ((v = pc_map_get(def, "tools")))
        s->tools = pc_get_str_list(c, v, "tools", &s->ntools, &s->tools_locs);
    if ((v = pc_map_get(def, "best_of"))) {
        uint64_t n;
        if (pc_get_uint(c, v, "best_of", PR_MAX_BEST_OF, &n) == 0) {
            if (n < 2)
                pc_report(c, PC_D_BAD_VALUE, v->loc,
                          "'best_of' must be at least 2");
            s->best_of = (unsigned)n;
        }
    }
    if ((v = pc_map_get(def, "judge"))) {
        s->judge = pc_get_str(c, v, "judge");
        s->judge_loc = v->loc;
    }
    /* score: ranks the candidates of best_of (item: a candidate) */
    if ((v = pc_map_get(def, "score")) && pc_get_str(c, v, "score")) {
        pc_cond_parse(c, v, &s->score);
        if (!pc_map_get(def, "best_of"))
            pc_report(c, PC_D_MISSING_FIELD, v->loc,
                      "'score' ranks the candidates of best_of, and step "
                      "'%s' has no 'best_of'",
                      s->id);
        else if (s->judge)
            pc_report(c, PC_D_CONFLICTING_KIND, v->loc,
                      "step '%s' has both a 'judge' and a 'score'; keep one",
                      s->id);
    }
    /* tool, aggregator, sub-workflow */
    if ((v = pc_map_get(def, "tool"))) {
        s->tool = pc_get_str(c, v, "tool");
        s->tool_loc = v->loc;
    }
    if ((v = pc_map_get(def, "strategy")))
        s->strategy = pc_get_str(c, v, "strategy");
    if ((v = pc_map_get(def, "workflow"))) { /* compile.c reads it */
        s->workflow = pc_get_str(c, v, "workflow");
        s->workflow_loc = v->loc;
    }
    if ((v = pc_map_get(def, "with")) &&
        pc_want_kind(c, v, PC_NODE_MAP, "with"))
        s->with = read_tval(b, v, 0);
    /* common */
    if ((v = pc_map_get(def, "parallel")))
        pc_get_bool(c, v, "parallel", &s->parallel);
    if ((v = pc_map_get(def, "condition")) && pc_get_str(c, v, "condition"))
        pc_cond_parse(c, v, &s->condition);
    if ((v = pc_map_get(def, "for_each"))) {
        if (v->kind == PC_NODE_SEQ) {
            s->for_each = literal_list(b, v);
        } else if (pc_get_str(c, v, "for_each")) {
            pc_cond_parse(c, v, &s->for_each);
        }
    }
    if ((v = pc_map_get(def, "inputs")) &&
        pc_want_kind(c, v, PC_NODE_MAP, "inputs"))
        s->inputs = read_tval(b, v, 0);
    if ((v = pc_map_get(def, "outputs"))) {
        if (v->kind == PC_NODE_MAP) {
            s->noutputs = v->len;
            s->outputs = pr_arena_alloc(&c->arena,
                                        (v->len + 1) * sizeof *s->outputs);
            for (size_t i = 0; s->outputs && i < v->len; i++)
                s->outputs[i] = v->pairs[i].key->str;
        } else {
            struct pc_loc *locs;
            s->outputs = pc_get_str_list(c, v, "outputs", &s->noutputs, &locs);
            for (size_t i = 0; i < s->noutputs; i++)
                if (!pc_is_ident(s->outputs[i]))
                    pc_report(c, PC_D_BAD_VALUE, locs[i],
                              "output name '%s' is not an identifier",
                              s->outputs[i]);
        }
    }
    if ((v = pc_map_get(def, "timeout"))) /* else sla.step_timeout */
        pc_get_duration(c, v, "timeout", &s->timeout);
    if ((v = pc_map_get(def, "retry"))) {
        read_retry(b, v, &s->retry);
        s->retry_set = true;
    }
    if ((v = pc_map_get(def, "on_failure")) && v->kind == PC_NODE_SEQ) {
        read_step_actions(b, v, s);
    } else if (v) {
        const char *f = pc_get_str(c, v, "on_failure");
        if (f && !strcmp(f, "continue"))
            s->continue_on_failure = true;
        else if (f && !strcmp(f, "fail"))
            s->continue_on_failure = false;
        else if (f)
            pc_report(c, PC_D_BAD_VALUE, v->loc,
                      "'on_failure' must be fail or continue, not '%s'", f);
    }
    if ((v = pc_map_get(def, "escalate_to")))
        s->escalate = read_escalate(b, v);
    if ((v = pc_map_get(def, "notify")))
        read_notify(b, v, s->id);
    if ((v = pc_map_get(def, "schema"))) {
        if (s->kind != PC_STEP_APPROVAL)
            pc_report(c, PC_D_BAD_VALUE, v->loc,
                      "'schema' is the answer's schema of an approval step; "
                      "step '%s' is not one (an LLM step's is "
                      "output.schema)",
                      s->id);
        else if (pc_want_kind(c, v, PC_NODE_MAP, "schema"))
            s->output_schema = (struct pc_node *)v;
    }
    if ((v = pc_map_get(def, "cache")))
        read_cache(c, v, s);
    if ((v = pc_map_get(def, "phase"))) {
        s->phase = pc_get_str(c, v, "phase");
        s->phase_loc = v->loc;
    }
    if ((v = pc_map_get(def, "budget")))
        read_budget(b, v, &s->budget);
    uint64_t u;
    if ((v = pc_map_get(def, "batch_size")) &&
        pc_get_uint(c, v, "batch_size", PR_MAX_BATCH_SIZE, &u) == 0)
        s->batch_size = (unsigned)u;
    pc_not_implemented(c, def, "batch_size",
                       "a stage is not run in batches yet: it gets its "
                       "whole input at once");
    if ((v = pc_map_get(def, "parallelism")) &&
        pc_get_uint(c, v, "parallelism", PR_MAX_PARALLELISM, &u) == 0)
        s->parallelism = (unsigned)u;
    pc_not_implemented(c, def, "parallelism",
                       "a stage runs as one step: it is not split across "
                       "parallel instances yet");

    /* a prompt file may name the model, declare the inputs and the
     * output */
    if (s->prompt_def) {
        const struct pc_prompt *p = s->prompt_def;
        if (!s->model)
            s->model = p->model;
        if (!pc_map_get(def, "output")) {
            s->json_output = p->output_format &&
                             !strcmp(p->output_format, "json");
            s->output_schema_json = p->output_schema;
        }
        pc_check_prompt_inputs(b, s);
    }

    /* what each kind needs */
    switch (s->kind) {
    case PC_STEP_LLM:
        if (!pc_map_get(def, "model") && !pc_map_get(def, "agent") &&
            /* a prompt file's model, or its error already reported */
            !(s->prompt_def ? s->prompt_def->model_name != NULL
                            : s->prompt_file != NULL) &&
            !pc_map_get(def, "agent_capability") &&
            !pc_map_get(def, "command") && !pc_map_get(def, "processor") &&
            !pc_map_get(def, "cascade")) {
            struct pc_diag *d = pc_report(c, PC_D_MISSING_FIELD, s->loc,
                                          "LLM step '%s' names no model, "
                                          "agent or agent_capability",
                                          s->id);
            if (s->prompt_def)
                pc_note(c, d, s->prompt_file_loc,
                        "nor does the frontmatter of its prompt file");
        }
        break;
    case PC_STEP_SHELL:
        if (!pc_map_get(def, "run"))
            pc_report(c, PC_D_MISSING_FIELD, s->loc,
                      "shell step '%s' has no 'run' command", s->id);
        break;
    case PC_STEP_AGGREGATE:
        if (!s->strategy) {
            if (pc_map_get(def, "type"))
                pc_report(c, PC_D_MISSING_FIELD, s->loc,
                          "aggregator step '%s' has no 'strategy'", s->id);
            s->strategy = "concat";
        }
        break;
    case PC_STEP_TOOL:
        if (!s->tool)
            pc_report(c, PC_D_MISSING_FIELD, s->loc,
                      "tool step '%s' names no 'tool'", s->id);
        break;
    case PC_STEP_WORKFLOW:
        if (!s->workflow)
            pc_report(c, PC_D_MISSING_FIELD, s->loc,
                      "workflow step '%s' names no 'workflow' file", s->id);
        break;
    case PC_STEP_APPROVAL:
        if (!s->prompt)
            pc_report(c, PC_D_MISSING_FIELD, s->loc,
                      "approval step '%s' has no 'prompt' to show the "
                      "person who answers",
                      s->id);
        /* a person's answer is the decision: it does not escalate */
        if (!pc_map_get(def, "escalate_to"))
            s->escalate = false;
        else if (s->escalate)
            pc_report(c, PC_D_BAD_VALUE, pc_map_get(def, "escalate_to")->loc,
                      "approval step '%s' is answered by a person already: "
                      "it does not escalate",
                      s->id);
        break;
    default:
        break;
    }
    return 0;
}

/* Reads the depends_on / after lists of a step (done once every step
 * exists, so forward references resolve). */
static void read_deps(struct pc_build *b, const struct pc_node *def,
                      struct pc_step *s)
{
    static const char *const fields[] = {"depends_on", "after"};
    for (int f = 0; f < 2; f++) {
        const struct pc_node *v = pc_map_get(def, fields[f]);
        if (!v)
            continue;
        size_t n;
        struct pc_loc *locs;
        const char **ids = pc_get_str_list(b->ctx, v, fields[f], &n, &locs);
        for (size_t i = 0; i < n; i++) {
            long t = pc_step_index(b, ids[i]);
            if (t < 0) {
                struct pc_diag *d = pc_report(
                    b->ctx, PC_D_UNDEFINED_STEP, locs[i],
                    "step '%s' depends on unknown step '%s'", s->id, ids[i]);
                pc_suggest_step(b, d, ids[i]);
                continue;
            }
            if (&b->wf->steps[t] == s) {
                pc_report(b->ctx, PC_D_CYCLE, locs[i],
                          "step '%s' depends on itself", s->id);
                continue;
            }
            pc_add_dep(b, s, (uint32_t)t, f == 1, false, locs[i]);
        }
    }
}

static void read_steps(struct pc_build *b, const struct pc_node *n)
{
    if (!pc_want_kind(b->ctx, n, PC_NODE_SEQ, "steps"))
        return;
    size_t first = b->wf->nsteps;
    for (size_t i = 0; i < n->len; i++) {
        const struct pc_node *def = n->items[i];
        if (def->kind == PC_NODE_NULL) {
            pc_report(b->ctx, PC_D_MISSING_FIELD, def->loc,
                      "empty step; give it at least an 'id'");
            continue;
        }
        if (!pc_want_kind(b->ctx, def, PC_NODE_MAP, "step"))
            continue;
        const struct pc_node *idn = pc_map_get(def, "id");
        const char *id = NULL;
        struct pc_loc loc = def->loc;
        if (idn) {
            id = pc_get_str(b->ctx, idn, "id");
            loc = idn->loc;
        } else if ((idn = pc_map_get(def, "name")) &&
                   idn->kind == PC_NODE_SCALAR && pc_is_ident(idn->str)) {
            id = idn->str;
            loc = idn->loc;
            pc_report(b->ctx, PC_D_MISSING_ID, loc,
                      "step has no 'id'; its name '%s' serves as one", id);
        } else {
            pc_report(b->ctx, PC_D_MISSING_FIELD, def->loc,
                      "step has no 'id'");
            id = pr_arena_printf(&b->ctx->arena, "#%zu", i + 1);
        }
        if (!id)
            continue;
        if (!pc_is_ident(id) && id[0] != '#') {
            pc_report(b->ctx, PC_D_BAD_VALUE, loc,
                      "step id '%s' is not an identifier (letters, digits, "
                      "'_' and '-', not starting with a digit)",
                      id);
        }
        struct pc_step *s = pc_add_step(b, id, loc);
        if (!s)
            continue;
        pc_read_step(b, def, s);
    }
    b->steps_end = b->wf->nsteps;
    (void)first;
}

/* ---- workflow-level sections ---- */

static void read_sla(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"max_duration", "max_duration_minutes",
                                       "timeout_per_step",
                                       "timeout_per_step_minutes", NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "sla"))
        return;
    b->wf->sla_loc = n->loc;
    pc_check_keys(b->ctx, n, keys, "sla");
    const struct pc_node *v;
    double d;
    if ((v = pc_map_get(n, "max_duration")))
        pc_get_duration(b->ctx, v, "max_duration", &b->wf->sla_max_duration);
    if ((v = pc_map_get(n, "max_duration_minutes")) &&
        pc_get_num(b->ctx, v, "max_duration_minutes", &d) == 0)
        b->wf->sla_max_duration = d * 60;
    if ((v = pc_map_get(n, "timeout_per_step")))
        pc_get_duration(b->ctx, v, "timeout_per_step",
                        &b->wf->sla_step_timeout);
    if ((v = pc_map_get(n, "timeout_per_step_minutes")) &&
        pc_get_num(b->ctx, v, "timeout_per_step_minutes", &d) == 0)
        b->wf->sla_step_timeout = d * 60;
}

/* An on_failure `run` command is a script as written: a ${...} naming a
 * POML value (a dotted name, which no shell variable has) would reach
 * the shell unexpanded, so it is refused with the variables that carry
 * the failure instead. */
static void check_hook_command(struct pc_build *b, const char *cmd,
                               struct pc_loc loc)
{
    for (const char *p = strstr(cmd, "${"); p; p = strstr(p + 2, "${")) {
        const char *end = strchr(p, '}');
        const char *dot = strchr(p, '.');
        if (end && dot && dot < end) {
            struct pc_diag *d = pc_report(
                b->ctx, PC_D_BAD_VALUE, loc,
                "'%.*s' is not interpolated in an on_failure command",
                (int)(end - p + 1 > 80 ? 80 : end - p + 1), p);
            if (d)
                pc_note(b->ctx, d, NOLOC,
                        "the command reads the failure from its "
                        "environment: $POML_FAILED_STEPS, $POML_FAILURE, "
                        "$POML_RUN_STATUS, $POML_RUN_ID, $POML_WORKFLOW");
            return;
        }
    }
}

static void read_error_handling(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"retry_policy", "on_failure",
                                       "circuit_breaker", NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "error_handling"))
        return;
    pc_check_keys(b->ctx, n, keys, "error_handling");
    const struct pc_node *v;
    if ((v = pc_map_get(n, "retry_policy")))
        read_retry(b, v, &b->wf->default_retry);
    if ((v = pc_map_get(n, "on_failure"))) {
        if (v->kind == PC_NODE_SCALAR) {
            if (!strcmp(v->str, "continue"))
                b->wf->default_continue = true;
            else if (strcmp(v->str, "fail"))
                pc_report(b->ctx, PC_D_BAD_VALUE, v->loc,
                          "'on_failure' must be fail, continue or a list "
                          "of actions");
        } else if (pc_want_kind(b->ctx, v, PC_NODE_SEQ, "on_failure")) {
            static const char *const akeys[] = {"notify", "escalate_to", "run",
                                                NULL};
            for (size_t i = 0; i < v->len; i++) {
                const struct pc_node *a = v->items[i];
                if (!pc_want_kind(b->ctx, a, PC_NODE_MAP, "on_failure"))
                    continue;
                pc_check_keys(b->ctx, a, akeys, "on_failure action");
                if (a->len != 1) {
                    pc_report(b->ctx, PC_D_BAD_VALUE, a->loc,
                              "each on_failure action has one key");
                    continue;
                }
                const char *key = a->pairs[0].key->str;
                const struct pc_node *w = a->pairs[0].value;
                if (!strcmp(key, "escalate_to")) {
                    b->wf->default_escalate = read_escalate(b, w);
                    continue;
                }
                if (!strcmp(key, "notify")) {
                    read_notify(b, w, NULL);
                    continue;
                }
                const char *val = pc_get_str(b->ctx, w, key);
                if (val && !strcmp(key, "run"))
                    check_hook_command(b, val, w->loc);
                if (val)
                    add_action(b,
                               pr_arena_printf(&b->ctx->arena, "%s=%s", key,
                                               val),
                               w->loc);
            }
        }
    }
    if ((v = pc_map_get(n, "circuit_breaker")) &&
        pc_want_kind(b->ctx, v, PC_NODE_MAP, "circuit_breaker")) {
        static const char *const ckeys[] = {"failure_threshold",
                                            "reset_timeout", NULL};
        pc_check_keys(b->ctx, v, ckeys, "circuit_breaker");
        const struct pc_node *w;
        uint64_t u;
        if ((w = pc_map_get(v, "failure_threshold")) &&
            pc_get_uint(b->ctx, w, "failure_threshold", PR_MAX_BREAKER, &u) ==
                0)
            b->wf->breaker_threshold = (unsigned)u;
        if ((w = pc_map_get(v, "reset_timeout")))
            pc_get_duration(b->ctx, w, "reset_timeout", &b->wf->breaker_reset);
    }
}

static void read_policy(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"allowed_tools", "allowed_commands",
                                       NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "policy"))
        return;
    pc_check_keys(b->ctx, n, keys, "policy");
    const struct pc_node *v;
    if ((v = pc_map_get(n, "allowed_tools"))) {
        b->wf->allowed_tools = pc_get_str_list(b->ctx, v, "allowed_tools",
                                               &b->wf->nallowed_tools, NULL);
        b->wf->policy_tools_set = true;
    }
    if ((v = pc_map_get(n, "allowed_commands"))) {
        b->wf->allowed_commands = pc_get_str_list(
            b->ctx, v, "allowed_commands", &b->wf->nallowed_commands,
            &b->wf->allowed_commands_locs);
        b->wf->policy_commands_set = true;
    }
}

static void read_phase(struct pc_build *b, const struct pc_node *k,
                       const struct pc_node *def)
{
    static const char *const keys[] = {"name", "description", "steps",
                                       "gate", "feedback",    NULL};
    struct pc_workflow *wf = b->wf;
    struct pc_phase *p = PR_PUSH(&b->ctx->arena, wf->phases, wf->nphases,
                                 wf->capphases);
    if (!p) {
        pc_oom(b->ctx);
        return;
    }
    memset(p, 0, sizeof *p);
    p->loc = k ? k->loc : def->loc;
    p->name = k ? k->str : "?";
    if (def->kind == PC_NODE_SCALAR && !k) {
        p->name = def->str;
        return;
    }
    if (def->kind == PC_NODE_NULL && k)
        return;
    if (def->kind == PC_NODE_NULL) {
        pc_report(b->ctx, PC_D_MISSING_FIELD, def->loc,
                  "empty phase; give it a name");
        return;
    }
    if (!pc_want_kind(b->ctx, def, PC_NODE_MAP, "phase"))
        return;
    pc_check_keys(b->ctx, def, keys, "phase");
    const struct pc_node *v;
    if ((v = pc_map_get(def, "name"))) {
        const char *name = pc_get_str(b->ctx, v, "name");
        if (name)
            p->name = name;
        p->loc = v->loc;
    } else if (!k) {
        pc_report(b->ctx, PC_D_MISSING_FIELD, def->loc, "phase has no name");
    }
    for (size_t i = 0; i + 1 < wf->nphases; i++)
        if (!strcmp(wf->phases[i].name, p->name)) {
            pc_report(b->ctx, PC_D_DUPLICATE_ID, p->loc,
                      "duplicate phase '%s'", p->name);
            break;
        }
    if ((v = pc_map_get(def, "description")))
        p->description = pc_get_str(b->ctx, v, "description");
    for (size_t i = 0; i + 1 < wf->nphases; i++)
        if (!strcmp(wf->phases[i].name, p->name))
            p->duplicate = true;
    if ((v = pc_map_get(def, "steps"))) {
        size_t n;
        struct pc_loc *locs;
        const char **ids = pc_get_str_list(b->ctx, v, "steps", &n, &locs);
        for (size_t i = 0; i < n; i++) {
            long t = pc_step_index(b, ids[i]);
            if (t < 0) {
                struct pc_diag *d = pc_report(
                    b->ctx, PC_D_UNDEFINED_STEP, locs[i],
                    "phase '%s' lists unknown step '%s'", p->name, ids[i]);
                pc_suggest_step(b, d, ids[i]);
            } else if (wf->steps[t].phase &&
                       strcmp(wf->steps[t].phase, p->name)) {
                pc_report(b->ctx, PC_D_BAD_VALUE, locs[i],
                          "step '%s' is already in phase '%s'", ids[i],
                          wf->steps[t].phase);
            } else {
                wf->steps[t].phase = p->name;
            }
        }
    }
    if ((v = pc_map_get(def, "gate"))) {
        if (v->kind == PC_NODE_MAP) {
            static const char *const gkeys[] = {"min_success_rate",
                                                "condition", NULL};
            pc_check_keys(b->ctx, v, gkeys, "gate");
            const struct pc_node *w;
            if ((w = pc_map_get(v, "min_success_rate")) &&
                pc_get_num(b->ctx, w, "min_success_rate",
                           &p->min_success_rate) == 0 &&
                (p->min_success_rate < 0 || p->min_success_rate > 1))
                pc_report(b->ctx, PC_D_BAD_VALUE, w->loc,
                          "'min_success_rate' must be between 0 and 1");
            if ((w = pc_map_get(v, "condition")) &&
                pc_get_str(b->ctx, w, "condition"))
                pc_cond_parse(b->ctx, w, &p->gate);
        } else if (pc_get_str(b->ctx, v, "gate")) {
            pc_cond_parse(b->ctx, v, &p->gate);
        }
    }
    if ((v = pc_map_get(def, "feedback")) &&
        pc_want_kind(b->ctx, v, PC_NODE_MAP, "feedback")) {
        static const char *const fkeys[] = {"to", "when", "max_loops", NULL};
        pc_check_keys(b->ctx, v, fkeys, "feedback");
        const struct pc_node *w;
        uint64_t u;
        if ((w = pc_map_get(v, "to"))) {
            p->feedback_to = pc_get_str(b->ctx, w, "to");
            p->feedback_loc = w->loc;
        }
        if ((w = pc_map_get(v, "when")) && pc_get_str(b->ctx, w, "when"))
            pc_cond_parse(b->ctx, w, &p->feedback_when);
        p->max_loops = 1;
        if ((w = pc_map_get(v, "max_loops")) &&
            pc_get_uint(b->ctx, w, "max_loops", PR_MAX_MAX_LOOPS, &u) == 0)
            p->max_loops = (unsigned)u;
        if (!p->feedback_to)
            pc_report(b->ctx, PC_D_MISSING_FIELD, v->loc,
                      "feedback of phase '%s' has no 'to' phase", p->name);
    }
}

static void read_phases(struct pc_build *b, const struct pc_node *n)
{
    if (n->kind == PC_NODE_MAP) {
        for (size_t i = 0; i < n->len; i++)
            read_phase(b, n->pairs[i].key, n->pairs[i].value);
    } else if (pc_want_kind(b->ctx, n, PC_NODE_SEQ, "phases")) {
        for (size_t i = 0; i < n->len; i++)
            read_phase(b, NULL, n->items[i]);
    }
}

static const char *const models_keys[] = {"provider",
                                          "id",
                                          "protocol",
                                          "base_url",
                                          "api_key_env",
                                          "base_url_env",
                                          "input_per_mtok",
                                          "output_per_mtok",
                                          "context_window",
                                          "max_output_tokens",
                                          "capabilities",
                                          "description",
                                          NULL};

/* URL has a user (and maybe a password) before its host:
 * scheme://user[:password]@host... */
static bool url_has_credentials(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    size_t auth = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth);
    return at != NULL;
}

static void read_models_one(struct pc_build *b, const struct pc_node *k,
                            const struct pc_node *def)
{
    struct pc_model *shadowed = pc_catalog_model(b->cat, k->str);
    if (shadowed && !shadowed->owner) {
        struct pc_diag *d = pc_report(
            b->ctx, PC_D_SHADOWED_MODEL, k->loc,
            "model '%s' shadows the catalog's model of that name", k->str);
        pc_note(b->ctx, d, NOLOC,
                "steps naming '%s' use this definition, not the "
                "catalog's (%s); rename it to silence this",
                k->str, shadowed->provider ? shadowed->provider : "catalog");
    }
    struct pc_model *m = pc_catalog_add_model(b->ctx, b->cat, k->str);
    if (!m)
        return;
    const struct pc_node *v;
    if ((v = pc_map_get(def, "provider"))) {
        m->provider = pc_get_str(b->ctx, v, "provider");
        for (size_t j = 0; m->provider && j + 1 < b->cat->nmodels; j++) {
            struct pc_model *o = &b->cat->models[j];
            if (o->provider && !strcmp(o->provider, m->provider) &&
                pc_catalog_visible(b->cat, o)) {
                m->protocol = o->protocol;
                m->base_url = o->base_url;
                m->api_key_env = o->api_key_env;
                m->base_url_env = o->base_url_env;
                break;
            }
        }
    }
    if ((v = pc_map_get(def, "id")))
        m->wire_id = pc_get_str(b->ctx, v, "id");
    if ((v = pc_map_get(def, "protocol"))) {
        m->protocol = pc_get_str(b->ctx, v, "protocol");
        if (m->protocol && strcmp(m->protocol, "openai") &&
            strcmp(m->protocol, "anthropic"))
            pc_report(b->ctx, PC_D_BAD_VALUE, v->loc,
                      "'protocol' must be openai or anthropic");
    }
    if ((v = pc_map_get(def, "base_url"))) {
        const char *own = pc_get_str(b->ctx, v, "base_url");
        /* a provider's key (and its *_BASE_URL) go to the provider's
           endpoint only: a model with an endpoint of its own names its
           own key variable */
        if (own && m->base_url && strcmp(own, m->base_url) &&
            !pc_map_get(def, "api_key_env") && m->api_key_env &&
            *m->api_key_env) {
            struct pc_diag *d = pc_report(
                b->ctx, PC_D_MODEL_KEY, v->loc,
                "model '%s' has a base_url of its own: it is not sent "
                "%s, which belongs to provider '%s'",
                k->str, m->api_key_env, m->provider);
            pc_note(b->ctx, d, NOLOC,
                    "name the variable that holds its key with "
                    "'api_key_env'");
        }
        if (own && m->base_url && strcmp(own, m->base_url)) {
            if (!pc_map_get(def, "api_key_env"))
                m->api_key_env = NULL;
            if (!pc_map_get(def, "base_url_env"))
                m->base_url_env = NULL;
        }
        m->base_url = own;
        if (own && url_has_credentials(own)) {
            struct pc_diag *d = pc_report(
                b->ctx, PC_D_MODEL_KEY, v->loc,
                "the base_url of model '%s' holds credentials, which the "
                "plan would store in clear",
                k->str);
            pc_note(b->ctx, d, NOLOC,
                    "take them out of the URL and give the key in the "
                    "environment, with 'api_key_env'");
        }
    }
    if ((v = pc_map_get(def, "api_key_env")))
        m->api_key_env = pc_get_str(b->ctx, v, "api_key_env");
    if ((v = pc_map_get(def, "base_url_env")))
        m->base_url_env = pc_get_str(b->ctx, v, "base_url_env");
    if ((v = pc_map_get(def, "input_per_mtok")))
        pc_get_num(b->ctx, v, "input_per_mtok", &m->input_per_mtok);
    if ((v = pc_map_get(def, "output_per_mtok")))
        pc_get_num(b->ctx, v, "output_per_mtok", &m->output_per_mtok);
    if ((v = pc_map_get(def, "context_window")))
        pc_get_uint(b->ctx, v, "context_window", UINT32_MAX,
                    &m->context_window);
    if ((v = pc_map_get(def, "max_output_tokens")))
        pc_get_uint(b->ctx, v, "max_output_tokens", UINT32_MAX,
                    &m->max_output_tokens);
    if ((v = pc_map_get(def, "capabilities")))
        m->features = pc_get_str_list(b->ctx, v, "capabilities", &m->nfeatures,
                                      NULL);
    if (!m->protocol)
        pc_report(b->ctx, PC_D_MISSING_FIELD, k->loc,
                  "model '%s' needs a 'provider' from the catalog or a "
                  "'protocol' (openai or anthropic)",
                  k->str);
}

static const char *const agents_keys[] = {
    "description",      "model",  "capability",
    "agent_capability", "system", "role",
    "capabilities",     "tools",  NULL};

static void read_agents_one(struct pc_build *b, const struct pc_node *k,
                            const struct pc_node *def)
{
    struct pc_wf_agent *a = PR_PUSH(&b->ctx->arena, b->wf->agents,
                                    b->wf->nagents, b->wf->capagents);
    if (!a) {
        pc_oom(b->ctx);
        return;
    }
    memset(a, 0, sizeof *a);
    a->name = k->str;
    a->loc = k->loc;
    const struct pc_node *v;
    if ((v = pc_map_get(def, "model"))) {
        const char *m = pc_get_str(b->ctx, v, "model");
        if (m && !(a->model = find_wf_model(b, m)))
            a->model = pc_use_model(b, m, v->loc);
    }
    if ((v = pc_map_get(def, "capability")) ||
        (v = pc_map_get(def, "agent_capability"))) {
        a->capability = pc_get_str(b->ctx, v, "capability");
        if (a->capability && pc_catalog_models(b->ctx, b->cat) == 0 &&
            !pc_catalog_capability(b->cat, a->capability)) {
            struct pc_diag *d = pc_report(b->ctx, PC_D_UNKNOWN_CAPABILITY,
                                          v->loc, "unknown capability '%s'",
                                          a->capability);
            const char *near = pc_catalog_suggest_capability(b->cat,
                                                             a->capability);
            if (near)
                pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
            a->capability = NULL;
        }
    }
    if ((v = pc_map_get(def, "system")) || (v = pc_map_get(def, "role")))
        a->system = pc_get_str(b->ctx, v, "system");
    if ((v = pc_map_get(def, "tools")))
        a->tools = pc_get_str_list(b->ctx, v, "tools", &a->ntools,
                                   &a->tools_locs);
    if ((v = pc_map_get(def, "capabilities"))) {
        a->needs = pc_get_str_list(b->ctx, v, "capabilities", &a->nneeds,
                                   NULL);
        a->needs_loc = v->loc;
        const char *missing;
        if (a->model && a->nneeds &&
            !has_features(a->model, a->needs, a->nneeds, &missing)) {
            struct pc_diag *d = pc_report(
                b->ctx, PC_D_UNKNOWN_CAPABILITY, v->loc,
                "agent '%s' needs capability '%s', which its model '%s' "
                "lacks",
                a->name, missing, a->model->name);
            pc_note(b->ctx, d, NOLOC,
                    "a model's capabilities are listed in its catalog "
                    "entry or under 'models:'");
        } else if (!a->model && !a->capability && a->nneeds) {
            pc_report(b->ctx, PC_D_MISSING_FIELD, v->loc,
                      "agent '%s' lists capabilities but names no 'model' "
                      "or 'capability' to match them against",
                      a->name);
        }
    }
}

static const char *const tools_keys[] = {
    "server",       "name",          "command", "description",
    "input_schema", "output_schema", NULL};

static void read_tools_one(struct pc_build *b, const struct pc_node *k,
                           const struct pc_node *def)
{
    struct pc_wf_tool *t = PR_PUSH(&b->ctx->arena, b->wf->tools, b->wf->ntools,
                                   b->wf->captools);
    if (!t) {
        pc_oom(b->ctx);
        return;
    }
    memset(t, 0, sizeof *t);
    t->name = k->str;
    t->remote_name = k->str;
    t->loc = k->loc;
    const struct pc_node *v;
    if ((v = pc_map_get(def, "name")))
        t->remote_name = pc_get_str(b->ctx, v, "name");
    if ((v = pc_map_get(def, "server")))
        t->server = pc_get_str(b->ctx, v, "server");
    if ((v = pc_map_get(def, "command")))
        t->argv = pc_get_str_list(b->ctx, v, "command", &t->argc, NULL);
    t->input_schema = pc_get_map(b->ctx, def, "input_schema");
    t->output_schema = pc_get_map(b->ctx, def, "output_schema");
    if (!t->server && !t->argv)
        pc_report(b->ctx, PC_D_MISSING_FIELD, k->loc,
                  "tool '%s' needs a 'command' (the MCP server to start) "
                  "or a catalog 'server'",
                  k->str);
}

static const char *const aggregation_keys[] = {"type", "strategy",    "logic",
                                               "run",  "description", NULL};

static void read_aggregation_one(struct pc_build *b, const struct pc_node *k,
                                 const struct pc_node *def)
{
    struct pc_agg_def *a = PR_PUSH(&b->ctx->arena, b->wf->aggs, b->wf->naggs,
                                   b->wf->capaggs);
    if (!a) {
        pc_oom(b->ctx);
        return;
    }
    memset(a, 0, sizeof *a);
    a->name = k->str;
    a->loc = k->loc;
    const struct pc_node *v;
    if ((v = pc_map_get(def, "run")))
        a->run = interp_of(b, v, "run");
    const char *base = NULL;
    bool named = false;
    if ((v = pc_map_get(def, "strategy"))) {
        base = pc_get_str(b->ctx, v, "strategy");
        named = true;
    }
    if (base && !pc_is_builtin_strategy(base))
        pc_report(b->ctx, PC_D_UNKNOWN_STRATEGY, v->loc,
                  "unknown aggregation strategy '%s'", base);
    else if (base)
        a->builtin = base;
    const struct pc_node *logic = pc_map_get(def, "logic");
    if (!a->builtin && !a->run && !named) {
        if (pc_is_builtin_strategy(k->str)) {
            a->builtin = k->str;
            if (logic)
                pc_report(b->ctx, PC_D_CUSTOM_LOGIC, logic->loc,
                          "'logic' text is not executed; the built-in "
                          "'%s' strategy runs instead (give 'run' a "
                          "command to customise it)",
                          k->str);
        } else {
            pc_report(b->ctx, PC_D_MISSING_FIELD, k->loc,
                      "aggregation '%s' needs a built-in 'strategy' or "
                      "a 'run' command%s",
                      k->str, logic ? "; 'logic' text is not executed" : "");
        }
    }
}

/* Reads each NAME: {...} entry of a definitions section with FN, after
 * checking it is a mapping of known keys. */
static void
each_definition(struct pc_build *b, const struct pc_node *n,
                const char *section, const char *what, const char *const *keys,
                void (*fn)(struct pc_build *, const struct pc_node *,
                           const struct pc_node *))
{
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, section))
        return;
    for (size_t i = 0; i < n->len && !b->ctx->oom; i++) {
        const struct pc_node *k = n->pairs[i].key, *def = n->pairs[i].value;
        if (!pc_want_kind(b->ctx, def, PC_NODE_MAP, k->str))
            continue;
        pc_check_keys(b->ctx, def, keys, what);
        fn(b, k, def);
    }
}

/* ---- imports ---- */

static void import_file(struct pc_build *b, const struct pc_node *where,
                        const char *path, const char *dir, int depth);

static void read_definitions(struct pc_build *b, const struct pc_node *root,
                             const char *dir, int depth)
{
    const struct pc_node *v;
    if ((v = pc_map_get(root, "import"))) {
        size_t n;
        struct pc_loc *locs;
        const char **files = pc_get_str_list(b->ctx, v, "import", &n, &locs);
        for (size_t i = 0; i < n; i++) {
            struct pc_node tmp = {0};
            tmp.loc = locs[i];
            import_file(b, &tmp, files[i], dir, depth + 1);
        }
    }
    if ((v = pc_map_get(root, "models"))) {
        pc_catalog_models(b->ctx, b->cat);
        each_definition(b, v, "models", "model", models_keys, read_models_one);
    }
    if ((v = pc_map_get(root, "agents")))
        each_definition(b, v, "agents", "agent", agents_keys, read_agents_one);
    if ((v = pc_map_get(root, "tools")))
        each_definition(b, v, "tools", "tool", tools_keys, read_tools_one);
    if ((v = pc_map_get(root, "aggregation")))
        each_definition(b, v, "aggregation", "aggregation", aggregation_keys,
                        read_aggregation_one);
}

static void import_file(struct pc_build *b, const struct pc_node *where,
                        const char *path, const char *dir, int depth)
{
    struct pc_ctx *c = b->ctx;
    const char *full = pc_source_file(b, dir, path, where->loc, "import");
    if (!full)
        return;
    for (size_t i = 0; i < b->nimported; i++)
        if (!strcmp(b->imported[i], full))
            return; /* imported once, whatever the path to it */
    if (depth > 16) {
        pc_report(c, PC_D_IMPORT, where->loc,
                  "imports nested deeper than 16 files");
        return;
    }
    const char **slot = PR_PUSH(&c->arena, b->imported, b->nimported,
                                b->capimported);
    if (slot)
        *slot = full;
    struct pc_source *s = pc_ctx_read_source(c, &c->arena, full);
    if (!s) {
        pc_report(c, PC_D_IMPORT, where->loc, "cannot import '%s': %s", path,
                  "no such file");
        return;
    }
    pc_add_file(b, full);
    uint32_t f = pc_ctx_add_source(c, s);
    struct pc_node *root = pc_yaml_parse(c, f);
    if (!root || root->kind == PC_NODE_NULL)
        return;
    if (!pc_want_kind(c, root, PC_NODE_MAP, "imported file"))
        return;
    static const char *const keys[] = {"import", "models",      "agents",
                                       "tools",  "aggregation", "description",
                                       NULL};
    pc_check_keys(c, root, keys, "an imported file");
    const char *slash = strrchr(full, '/');
    const char *subdir = slash ? pr_arena_strndup(&c->arena, full,
                                                  (size_t)(slash - full))
                               : ".";
    read_definitions(b, root, subdir ? subdir : ".", depth);
}

/* ---- the document ---- */

static const char *const top_keys[] = {
    "workflow_id",  "version",     "description",    "parameters",
    "steps",        "sla",         "error_handling", "budget",
    "policy",       "phases",      "models",         "agents",
    "tools",        "aggregation", "import",         "chain",
    "flow",         "swarm",       "pipeline",       "/chain",
    "/flow",        "/swarm",      "/pipeline",      "alerts",
    "max_parallel", "routing",     NULL};

int pc_read_workflow(struct pc_build *b, const struct pc_node *root)
{
    struct pc_ctx *c = b->ctx;
    struct pc_workflow *wf = b->wf;
    wf->default_retry.max_attempts = 0; /* by kind: pc_attempts */
    wf->default_retry.backoff = PC_BACKOFF_EXPONENTIAL;
    wf->default_retry.initial_delay = 1;
    wf->default_retry.max_delay = 60;
    if (root->kind == PC_NODE_NULL) {
        pc_report(c, PC_D_MISSING_FIELD, root->loc,
                  "empty workflow; a workflow has 'steps' or an arrow form "
                  "(chain, flow, swarm, pipeline)");
        return -1;
    }
    if (root->kind != PC_NODE_MAP) {
        pc_report(c, PC_D_WRONG_TYPE, root->loc,
                  "a workflow must be a mapping with keys such as "
                  "workflow_id and steps, not %s",
                  pc_node_kind_name(root));
        return -1;
    }
    pc_check_keys(c, root, top_keys, "workflow");
    const struct pc_node *v;
    if ((v = pc_map_get(root, "workflow_id"))) {
        wf->id = pc_get_str(c, v, "workflow_id");
        if (wf->id && !pc_is_ident(wf->id))
            pc_report(c, PC_D_BAD_VALUE, v->loc,
                      "workflow_id '%s' is not an identifier", wf->id);
    }
    if ((v = pc_map_get(root, "version")))
        wf->version = pc_get_str(c, v, "version");
    if ((v = pc_map_get(root, "description")))
        wf->description = pc_get_str(c, v, "description");
    if ((v = pc_map_get(root, "max_parallel"))) {
        uint64_t u;
        if (pc_get_uint(c, v, "max_parallel", PR_MAX_MAX_PARALLEL, &u) == 0)
            wf->max_parallel = (unsigned)u;
    }
    read_definitions(b, root, b->dir, 0);
    if ((v = pc_map_get(root, "parameters")))
        read_params(b, v);
    if ((v = pc_map_get(root, "sla")))
        read_sla(b, v);
    if ((v = pc_map_get(root, "error_handling")))
        read_error_handling(b, v);
    if ((v = pc_map_get(root, "budget")))
        read_budget(b, v, &wf->budget);
    if ((v = pc_map_get(root, "policy")))
        read_policy(b, v);
    if ((v = pc_map_get(root, "routing")))
        wf->routing = pc_read_routing(b, v);
    if ((v = pc_map_get(root, "steps")))
        read_steps(b, v);
    pc_read_arrows(b, root);
    /* depends_on may name steps that the arrow forms define */
    for (size_t i = 0; i < b->steps_end; i++)
        if (b->wf->steps[i].node)
            read_deps(b, b->wf->steps[i].node, &b->wf->steps[i]);
    if ((v = pc_map_get(root, "phases")))
        read_phases(b, v);
    return 0;
}
