/* plan_limits.h -- the bounds pomlc puts on the counts it writes into a plan
 *
 * One table for both programs: pomlc refuses a source value above its
 * bound, and pomlrun's loader refuses a plan holding one, so a damaged or
 * hand-made plan cannot ask for more (a best_of of 10^8 candidates, 2^32
 * attempts) than any compiled source could.  A record field names its row
 * by the arg of its PR_FT_U32 entry in plan.h (0: unbounded).
 */
#ifndef POML_PLAN_LIMITS_H
#define POML_PLAN_LIMITS_H

#include <stdint.h>

/* X(NAME, max): the largest value a plan field may hold */
#define PR_LIMITS(X)                                                          \
    X(ATTEMPTS, 101)       /* retry: 100 retries is 101 attempts */           \
    X(BEST_OF, 16)         /* candidates of a best_of step */                 \
    X(MAX_PARALLEL, 65536) /* max_parallel */                                 \
    X(BREAKER, 1000)       /* circuit_breaker.failure_threshold */            \
    X(MAX_LOOPS, 100)      /* a phase's feedback max_loops */                 \
    X(BATCH_SIZE, 1000000) /* a pipeline stage's batch_size */                \
    X(PARALLELISM, 4096)   /* a pipeline stage's parallelism */

/* PR_LIM_NAME: a row (0 is none); PR_MAX_NAME: its bound */
enum pr_limit {
    PR_LIM_NONE = 0,
#define PR_LIMIT_ROW(name, max) PR_LIM_##name,
    PR_LIMITS(PR_LIMIT_ROW)
#undef PR_LIMIT_ROW
        PR_LIM_COUNT
};

enum {
#define PR_LIMIT_MAX(name, max) PR_MAX_##name = (max),
    PR_LIMITS(PR_LIMIT_MAX)
#undef PR_LIMIT_MAX
};

/* The bound of row ID; 0 for none or an unknown row. */
static inline uint32_t pr_limit_max(unsigned id)
{
    static const uint32_t max[PR_LIM_COUNT] = {0,
#define PR_LIMIT_VAL(name, max) (max),
                                               PR_LIMITS(PR_LIMIT_VAL)
#undef PR_LIMIT_VAL
    };
    return id < PR_LIM_COUNT ? max[id] : 0;
}

#endif
