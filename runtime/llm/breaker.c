/* breaker.c -- circuit breakers per model, and fallbacks
 *
 * What opens and closes a breaker is decided by the caller (llm.c: what
 * says the provider is unhealthy); this file keeps the states and walks
 * a step's chain of models past the open ones.
 */
#include "breaker.h"
#include "llm_int.h"

#define DEFAULT_BREAKER_THRESHOLD 5
#define DEFAULT_BREAKER_RESET 60.0

bool pr_llm_breaker_allows(const struct pr_run *r, struct pr_llm_breaker *b)
{
    double reset = r->wf.breaker_reset > 0 ? r->wf.breaker_reset
                                           : DEFAULT_BREAKER_RESET;
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
    unsigned threshold = r->wf.breaker_threshold
                             ? r->wf.breaker_threshold
                             : DEFAULT_BREAKER_THRESHOLD;
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

uint32_t pr_llm_pick_model(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    struct pr_llm *L = pr_llm_state(r);
    uint32_t links = 1 + s->fallback.n;
    uint32_t first = j->attempts > 0 ? j->attempts - 1 : 0;
    if (first >= links)
        first = links - 1;
    for (uint32_t k = 0; k < links; k++) {
        uint32_t at = (first + k) % links;
        uint32_t m = at == 0 ? s->model
                             : pr_plan_list_at(r->plan, s->fallback, at - 1);
        if (m < r->plan->nmodels && pr_llm_breaker_allows(r, &L->breakers[m]))
            return m;
    }
    return PR_PLAN_NONE;
}
