/* breaker.c -- circuit breakers per model, and fallbacks
 *
 * What opens and closes a breaker is decided by the caller (llm.c: what
 * says the provider is unhealthy); this file keeps the states and walks
 * a step's chain of models past the open ones (from the first that is
 * configured, for a model chosen by capability).
 */
#include "breaker.h"
#include "llm_int.h"

bool pr_llm_breaker_allows(const struct pr_run *r, struct pr_llm_breaker *b)
{
    double reset = r->wf.breaker_reset; /* positive: the loader checks */
    switch (b->state) {
    case PR_LLM_CLOSED:
        return true;
    case PR_LLM_OPEN:
        if (pr_loop_now() - b->opened_at < reset)
            return false;
        b->state = PR_LLM_HALF_OPEN;
        b->trial = false;
        /* fall through */
    case PR_LLM_HALF_OPEN:
        return !b->trial;
    }
    return false;
}

void pr_llm_breaker_sent(struct pr_llm_breaker *b)
{
    if (b->state == PR_LLM_HALF_OPEN)
        b->trial = true;
}

void pr_llm_breaker_result(const struct pr_run *r, struct pr_llm_breaker *b,
                           bool ok)
{
    unsigned threshold = r->wf.breaker_threshold; /* at least 1 */
    if (ok) {
        b->state = PR_LLM_CLOSED;
        b->failures = 0;
        return;
    }
    b->failures++;
    if (b->state == PR_LLM_HALF_OPEN || b->failures >= threshold) {
        b->state = PR_LLM_OPEN;
        b->opened_at = pr_loop_now();
    }
    b->trial = false;
}

/* Link AT of step S's chain: its model, then its fallbacks. */
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
    return (!v.api_key_env[0] || pr_llm_env(v.api_key_env)) &&
           (v.base_url[0] || pr_llm_env(v.base_url_env));
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
        struct pr_llm_step_state *sp = pr_llm_step_state(j);
        if (at > 0 && sp && !sp->routed) {
            struct pr_model first, took;
            pr_plan_model(r->plan, s->model, &first);
            pr_plan_model(r->plan, chain_model(r, s, at), &took);
            bool nokey = first.api_key_env[0] &&
                         !pr_llm_env(first.api_key_env);
            pr_run_note(r, j,
                        "capability '%s': using model '%s', the first "
                        "of its models that is configured ('%s' is "
                        "not: %s%s)",
                        s->capability, took.name, first.name,
                        nokey ? first.api_key_env : "no endpoint; set ",
                        nokey ? " is not set" : first.base_url_env);
            sp->routed = true;
        }
        return at;
    }
    return 0;
}

uint32_t pr_llm_pick_model(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    struct pr_llm *L = pr_llm_state(r);
    uint32_t links = 1 + s->fallback.n;
    uint32_t first = chain_start(j, links) +
                     (j->attempts > 0 ? j->attempts - 1 : 0);
    if (first >= links)
        first = links - 1;
    for (uint32_t k = 0; k < links; k++) {
        uint32_t m = chain_model(r, s, (first + k) % links);
        if (m < r->plan->nmodels && pr_llm_breaker_allows(r, &L->breakers[m]))
            return m;
    }
    return PR_PLAN_NONE;
}
