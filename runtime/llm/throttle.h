/* throttle.h -- per-provider limits on LLM calls: requests in flight
 * (--provider-jobs), requests and tokens per minute (--rpm, --tpm)
 * (llm internal)
 *
 * A call holds a ticket.  It is admitted at once when nothing waits for
 * its provider and the limits allow it, else it waits in its provider's
 * queue, in order, until pr_llm_next hands it out.  The per-minute
 * limits are token buckets refilled continuously; a call is charged an
 * estimate of its tokens when admitted and settles with what it used.
 */
#ifndef POML_THROTTLE_H
#define POML_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pr_llm_provider;

struct pr_llm_ticket {
    struct pr_llm_provider *prov;
    double est_tokens; /* what the limiter charges */
    bool charged;
    bool waiting; /* in its provider's queue */
};

struct pr_llm_provider {
    const char *name;
    unsigned in_flight;
    /* token buckets of the --rpm / --tpm limits, refilled continuously */
    double req_avail, tok_avail, last;
    /* tickets waiting for this provider, in order: q[head .. len) */
    struct pr_llm_ticket **q;
    size_t head, len, cap;
};

struct pr_llm_limits {
    unsigned jobs;     /* requests in flight per provider */
    unsigned rpm, tpm; /* per minute and provider; 0: none */
    struct pr_llm_provider *p;
    size_t n, max;
    size_t nwaiting; /* tickets queued, all providers */
};

/* Room for MAX providers.  0, or -1 (out of memory). */
int pr_llm_limits_init(struct pr_llm_limits *l, size_t max, unsigned jobs,
                       unsigned rpm, unsigned tpm);
void pr_llm_limits_free(struct pr_llm_limits *l);

/* The provider NAME (kept, not copied), added when new; NULL when MAX
 * are known. */
struct pr_llm_provider *pr_llm_provider(struct pr_llm_limits *l,
                                        const char *name);

/* Admits T (its provider and estimate set) now, or queues it: 0 (T may
 * go: its buckets are charged), 1 (T waits), -1 (out of memory). */
int pr_llm_admit_or_wait(struct pr_llm_limits *l, struct pr_llm_ticket *t);
/* Takes waiting T out of its queue. */
void pr_llm_unwait(struct pr_llm_limits *l, struct pr_llm_ticket *t);
/* The first waiting ticket its provider's limits admit now (charged and
 * out of the queue), or NULL; *SOONEST becomes the seconds until a rate
 * limit admits one, when that is sooner (it starts < 0: never). */
struct pr_llm_ticket *pr_llm_next(struct pr_llm_limits *l, double *soonest);
/* T's reply used USED tokens: the bucket settles with the estimate. */
void pr_llm_settle(struct pr_llm_ticket *t, uint64_t used);

#endif
