/* routing.c -- the `routing:` key: how a capability's model is chosen
 *
 *   routing:
 *     by: cost | latency | quality | balanced   (default balanced)
 *     explore: 0.05            share of calls sent to a candidate that
 *     explore_max_cost: 0.02   is not the best, never one whose call costs
 *                              more than this (USD; required with explore)
 *     providers: [openai]      candidate restrictions
 *     max_cost_per_call: 0.05
 *     min_context: 100000
 *
 * A step's own routing replaces the workflow's.  The candidates are the
 * models of the step's capability; this file drops those outside the
 * restrictions.  A call's cost here is the price of the step's max_tokens
 * output tokens (else the model's max_output_tokens), the bound the
 * compiler can know. */
#include "routing.h"

#include <string.h>

#include "read.h"

static const char *const by_names[] = {"balanced", "cost", "latency",
                                       "quality", NULL};

static void read_cost(struct pc_ctx *c, const struct pc_node *v,
                      const char *field, double *out)
{
    double d;
    if (pc_get_num(c, v, field, &d) != 0)
        return;
    if (!(d >= 0))
        pc_report(c, PC_D_BAD_VALUE, v->loc,
                  "'%s' must be a cost in USD, zero or above", field);
    else
        *out = d;
}

struct pc_routing *pc_read_routing(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"by",          "explore",
                                       "explore_max_cost", "providers",
                                       "max_cost_per_call", "min_context",
                                       NULL};
    struct pc_ctx *c = b->ctx;
    if (!pc_want_kind(c, n, PC_NODE_MAP, "routing"))
        return NULL;
    struct pc_routing *r = pr_arena_alloc(&c->arena, sizeof *r);
    if (!r) {
        pc_oom(c);
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->loc = n->loc;
    r->explore_max_cost = -1;
    r->max_cost_per_call = -1;
    pc_check_keys(c, n, keys, "routing");
    const struct pc_node *v;
    bool by_known = false;
    if ((v = pc_map_get(n, "by"))) {
        const char *s = pc_get_str(c, v, "by");
        size_t i = 0;
        while (s && by_names[i] && strcmp(by_names[i], s))
            i++;
        by_known = s && by_names[i];
        if (by_known)
            r->by = (enum pc_route_by)i;
        else if (s)
            pc_report(c, PC_D_BAD_VALUE, v->loc,
                      "'by' must be cost, latency, quality or balanced, "
                      "not '%s'",
                      s);
    }
    const struct pc_node *ex = pc_map_get(n, "explore");
    if (ex && pc_get_num(c, ex, "explore", &r->explore) == 0 &&
        !(r->explore >= 0 && r->explore <= 0.5)) {
        pc_report(c, PC_D_BAD_VALUE, ex->loc,
                  "'explore' is a share of calls between 0 and 0.5");
        r->explore = 0;
    }
    if ((v = pc_map_get(n, "explore_max_cost")))
        read_cost(c, v, "explore_max_cost", &r->explore_max_cost);
    if (ex && r->explore > 0 && !v)
        pc_report(c, PC_D_MISSING_FIELD, ex->loc,
                  "'explore' needs 'explore_max_cost', the most an explored "
                  "call may cost (USD)");
    if ((v = pc_map_get(n, "providers")))
        r->providers = pc_get_str_list(c, v, "providers", &r->nproviders,
                                       &r->provider_locs);
    if ((v = pc_map_get(n, "max_cost_per_call")))
        read_cost(c, v, "max_cost_per_call", &r->max_cost_per_call);
    if ((v = pc_map_get(n, "min_context")))
        pc_get_uint(c, v, "min_context", UINT64_MAX / 2, &r->min_context);
    /* the track record that latency, quality and exploring need is not
     * kept yet: the catalog's order stands in for it */
    if (by_known && r->by != PC_ROUTE_COST)
        pc_not_implemented(c, n, "by",
                           "the track record is not kept yet: the "
                           "capability's catalog order is used");
    if (r->explore > 0)
        pc_not_implemented(c, n, "explore",
                           "the track record is not kept yet: every call "
                           "goes to the first candidate");
    return r;
}

/* The most a call of step S to model M costs, as far as the compiler
 * knows: its output tokens at the model's output price. */
static double call_cost(const struct pc_step *s, const struct pc_model *m)
{
    uint64_t tok = s->max_tokens ? s->max_tokens : m->max_output_tokens;
    return (double)tok * m->output_per_mtok / 1e6;
}

static bool provider_ok(const struct pc_routing *r, const struct pc_model *m)
{
    if (!r->providers)
        return true;
    for (size_t i = 0; i < r->nproviders; i++)
        if (m->provider && !strcmp(r->providers[i], m->provider))
            return true;
    return false;
}

static bool allowed(const struct pc_routing *r, const struct pc_step *s,
                    const struct pc_model *m)
{
    return provider_ok(r, m) &&
           (r->max_cost_per_call < 0 ||
            call_cost(s, m) <= r->max_cost_per_call) &&
           (!r->min_context || m->context_window >= r->min_context);
}

/* Each provider R names must be one of some candidate's. */
static void check_providers(struct pc_build *b, const struct pc_routing *r,
                            struct pc_model *const *cand, size_t n,
                            const struct pc_step *s)
{
    for (size_t i = 0; i < r->nproviders; i++) {
        size_t j = 0;
        while (j < n && (!cand[j]->provider ||
                         strcmp(cand[j]->provider, r->providers[i])))
            j++;
        if (j == n)
            pc_report(b->ctx, PC_D_BAD_VALUE, r->provider_locs[i],
                      "no model of capability '%s' is from provider '%s'",
                      s->capability, r->providers[i]);
    }
}

void pc_route_step(struct pc_build *b, const struct pc_node *def,
                   struct pc_step *s)
{
    struct pc_ctx *c = b->ctx;
    const struct pc_node *v = pc_map_get(def, "routing");
    const struct pc_routing *r = b->wf->routing;
    if (v)
        r = pc_read_routing(b, v);
    if (!r)
        return;
    if (!s->capability || pc_map_get(def, "model")) {
        if (v)
            pc_report(c, PC_D_BAD_VALUE, v->loc,
                      "'routing' chooses among a capability's models; step "
                      "'%s' names %s",
                      s->id, s->capability ? "its model" : "no capability");
        return;
    }
    s->routing = r;
    if (!s->model)
        return; /* the capability was not found: already reported */
    size_t n = s->ncap_rest + 1;
    struct pc_model **cand = pr_arena_alloc(&c->arena, n * sizeof *cand);
    if (!cand) {
        pc_oom(c);
        return;
    }
    cand[0] = s->model;
    memcpy(cand + 1, s->cap_rest, s->ncap_rest * sizeof *cand);
    check_providers(b, r, cand, n, s);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (allowed(r, s, cand[i]))
            cand[k++] = cand[i];
    if (k == 0) {
        struct pc_diag *d = pc_report(
            c, PC_D_BAD_VALUE, v ? v->loc : r->loc,
            "no model of capability '%s' meets the routing restrictions of "
            "step '%s'",
            s->capability, s->id);
        pc_note(c, d, s->node_loc, "the step is here");
        return;
    }
    if (r->by == PC_ROUTE_COST) /* stable: catalog order breaks ties */
        for (size_t i = 1; i < k; i++)
            for (size_t j = i; j > 0 && call_cost(s, cand[j]) <
                                            call_cost(s, cand[j - 1]); j--) {
                struct pc_model *t = cand[j];
                cand[j] = cand[j - 1];
                cand[j - 1] = t;
            }
    s->model = cand[0];
    s->cap_rest = cand + 1;
    s->ncap_rest = s->capcap_rest = k - 1;
}
