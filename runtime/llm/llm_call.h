/* llm_call.h -- one exchange with a language model (llm.c), for the step
 * strategies (llm_step.c)
 *
 * pr_llm_call sends one request (or serves it from the cassette) and
 * calls back once with the outcome: the outputs of a good reply (text,
 * json, usage, cost, model, tool_calls), or why it failed and whether a
 * retry may help.  Budget, breakers, fallbacks and provider slots are
 * settled here; the strategies decide what to ask and what to keep.
 */
#ifndef POML_LLM_CALL_H
#define POML_LLM_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "run.h"

struct pr_llm_call;

struct pr_llm_reply {
    bool ok;
    bool retryable;
    bool cancelled;
    double retry_after; /* seconds, < 0: none */
    const char *why;    /* when not ok */
    cJSON *outputs;     /* when ok: taken over by the callback */
    uint64_t in_tok, out_tok;
    double cost;
};

typedef void (*pr_llm_done)(void *ud, struct pr_llm_reply *rep);

struct pr_llm_ask {
    uint32_t model; /* a model index, or PR_PLAN_NONE: the
                       step's, or its first fallback whose
                       breaker allows a call */
    const char *prompt;
    const char *system; /* NULL: none */
    /* the conversation instead of PROMPT as one user turn: [{"role":
     * "user" | "assistant", "text": T, "media"?: [URL...]}...] */
    const cJSON *turns;
    bool json_mode;                /* ask for JSON, check the step's schema */
    const struct pr_step *as_step; /* the step whose request this is
                                      (its settings, schema and
                                      outputs); NULL: the job's */
};

/* A step that states a task rather than a prompt: inputs, and neither a
 * prompt nor a prompt file.  It asks with its name, description and
 * inputs, and, when it declares outputs, for a JSON object of exactly
 * those members (its schema, when it gives none of its own). */
static inline bool pr_llm_task_step(const struct pr_step *s)
{
    return !s->prompt_file && s->prompt == PR_PLAN_NONE &&
           s->inputs != PR_PLAN_NONE;
}

/* Starts an exchange for J.  Returns it, or NULL when it could not start
 * (then DONE has already been called with the reason). */
struct pr_llm_call *pr_llm_call(struct pr_job *j, const struct pr_llm_ask *a,
                                pr_llm_done done, void *ud);
/* Stops an exchange; DONE follows with cancelled set. */
void pr_llm_cancel(struct pr_llm_call *c);

/* The budget reason that forbids another call for J, or NULL (budget.c). */
const char *pr_llm_over_budget(struct pr_job *j);

#endif
