/* budget.c -- spending of LLM calls and the budgets that bound it
 *
 * The workflow's max_llm_calls, max_tokens and max_cost_usd bound the
 * run's totals; a step's own bound what its attempts spent together.
 */
#include <stdlib.h>

#include "budget.h"
#include "llm.h"
#include "llm_call.h"
#include "llm_int.h"

struct pr_llm_step_state *pr_llm_step_state(struct pr_job *j)
{
    struct pr_run *r = j->run;
    struct pr_llm_step_state *sp = r->kind_state[j->step];
    if (!sp)
        sp = r->kind_state[j->step] = calloc(1, sizeof *sp);
    return sp;
}

const char *pr_llm_over_budget(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    const struct pr_llm_spent *t = &pr_llm_state(r)->spent;
    const struct pr_llm_step_state *sp = r->kind_state[j->step];
    if (r->wf.budget_calls && t->calls >= r->wf.budget_calls)
        return "budget: the workflow's max_llm_calls is spent";
    if (r->wf.budget_tokens && t->in_tok + t->out_tok >= r->wf.budget_tokens)
        return "budget: the workflow's max_tokens is spent";
    if (r->wf.budget_cost > 0 && t->cost >= r->wf.budget_cost)
        return "budget: the workflow's max_cost_usd is spent";
    if (sp && s->budget_calls && sp->calls >= s->budget_calls)
        return "budget: the step's max_llm_calls is spent";
    if (sp && s->budget_tokens && sp->tokens >= s->budget_tokens)
        return "budget: the step's max_tokens is spent";
    if (sp && s->budget_cost > 0 && sp->cost >= s->budget_cost)
        return "budget: the step's max_cost_usd is spent";
    return NULL;
}

void pr_llm_spend_call(struct pr_job *j)
{
    pr_llm_state(j->run)->spent.calls++;
    struct pr_llm_step_state *sp = pr_llm_step_state(j);
    if (sp)
        sp->calls++;
}

double pr_llm_spend(struct pr_job *j, const struct pr_model *m,
                    uint64_t in_tok, uint64_t out_tok)
{
    struct pr_llm_spent *t = &pr_llm_state(j->run)->spent;
    double cost = (double)in_tok * m->input_per_mtok / 1e6 +
                  (double)out_tok * m->output_per_mtok / 1e6;
    t->cost += cost;
    t->in_tok += in_tok;
    t->out_tok += out_tok;
    struct pr_llm_step_state *sp = pr_llm_step_state(j);
    if (sp) {
        sp->cost += cost;
        sp->tokens += in_tok + out_tok;
    }
    return cost;
}

void pr_llm_totals(const struct pr_run *r, double *cost, uint64_t *in_tok,
                   uint64_t *out_tok, uint64_t *calls)
{
    const struct pr_llm *L = pr_llm_state(r);
    *cost = L ? L->spent.cost : 0;
    *in_tok = L ? L->spent.in_tok : 0;
    *out_tok = L ? L->spent.out_tok : 0;
    *calls = L ? L->spent.calls : 0;
}
