/* budget.h -- what LLM calls have spent, against the workflow's and the
 * steps' budgets (llm internal)
 *
 * The run's totals (pr_llm_totals, llm.h) and each step's (kept in the
 * step's kind_state, freed by the executor's release) count calls as
 * they leave and tokens and cost as replies come; pr_llm_over_budget
 * (llm_call.h) stops a call from starting once a budget is spent.
 */
#ifndef POML_BUDGET_H
#define POML_BUDGET_H

#include <stdint.h>

#include "run.h"

struct pr_llm_spent { /* the run's */
    double cost;
    uint64_t in_tok, out_tok, calls;
};

/* What the client keeps per step (in its kind_state). */
struct pr_llm_step_state {
    double cost;
    uint64_t tokens, calls;
    bool routed; /* the capability note was given */
};

/* J's step's state, created on first use; NULL: out of memory. */
struct pr_llm_step_state *pr_llm_step_state(struct pr_job *j);

/* A request of J leaves: one call more for the run and the step. */
void pr_llm_spend_call(struct pr_job *j);
/* A reply of J's used IN_TOK and OUT_TOK tokens of model M: returns
 * their cost, counted for the run and the step. */
double pr_llm_spend(struct pr_job *j, const struct pr_model *m,
                    uint64_t in_tok, uint64_t out_tok);

#endif
