/* breaker.h -- circuit breakers, one per model, and the choice of the
 * model an attempt calls (llm internal)
 *
 * A breaker is closed (calls go through), open (none do, for the
 * workflow's breaker_reset seconds after breaker_threshold failures in a
 * row) or half-open (one trial call goes through: its success closes
 * the breaker, its failure opens it again).
 */
#ifndef POML_BREAKER_H
#define POML_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "run.h"

enum pr_llm_breaker_state { PR_LLM_CLOSED, PR_LLM_OPEN, PR_LLM_HALF_OPEN };

struct pr_llm_breaker {
    enum pr_llm_breaker_state state;
    unsigned failures; /* consecutive */
    double opened_at;  /* monotonic */
    bool trial;        /* half-open: the one call is out */
};

/* Whether B lets a call through now (an open breaker whose time is up
 * turns half-open). */
bool pr_llm_breaker_allows(const struct pr_run *r, struct pr_llm_breaker *b);
/* A call through B left: the trial, when B is half-open. */
void pr_llm_breaker_sent(struct pr_llm_breaker *b);
/* The outcome of a call through B: OK closes it, a failure counts. */
void pr_llm_breaker_result(const struct pr_run *r, struct pr_llm_breaker *b,
                           bool ok);

/* The model for J's attempt, or PR_PLAN_NONE (every breaker open).  The
 * chain is the step's model, then its fallbacks in order: attempt N
 * starts at link N (a retry after a failure moves down the chain, the
 * last link keeps the remaining attempts), counted from the first link
 * that is configured (its key set, an endpoint) when the step's model
 * comes from a capability; a link whose breaker is open is passed
 * over. */
uint32_t pr_llm_pick_model(struct pr_job *j);

#endif
