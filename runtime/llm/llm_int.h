/* llm_int.h -- the run's LLM state, shared by the client's files
 * (llm.c, breaker.c, budget.c); nothing outside runtime/llm sees it
 */
#ifndef POML_LLM_INT_H
#define POML_LLM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "breaker.h"
#include "budget.h"
#include "cassette.h"
#include "http.h"
#include "throttle.h"
#include "llm.h"
#include "run.h"

struct pr_llm {
    struct pr_llm_opts o;
    struct pr_http *http;
    struct pr_llm_breaker *breakers; /* one per model */
    struct pr_llm_limits limits;
    struct pr_llm_spent spent;
    struct pr_llm_tape tape;
    uint64_t wake; /* timer: a rate limit frees up */
    struct pr_run *run;
};

static inline struct pr_llm *pr_llm_state(const struct pr_run *r)
{
    return r->llm;
}

/* The value of environment variable NAME, or NULL when NAME is NULL or
 * empty, or the variable is unset or empty. */
const char *pr_llm_env(const char *name);

#endif
