/* llm.h -- what a run keeps about language-model calls
 *
 * The LLM client (llm.c) speaks the OpenAI chat-completions protocol
 * (any compatible server) and Anthropic's messages protocol (proto.h)
 * over http.c.  Per run it keeps (llm_int.h): the HTTP multi handle, a
 * circuit breaker per model (breaker.h), the spending against the
 * budgets (budget.h), the limits per provider (throttle.h), and the
 * cassette (cassette.h) when recording or replaying.
 */
#ifndef POML_LLM_H
#define POML_LLM_H

/* libcurl as this layer loads it, for the program's other requests
   (notify's POST) */
#include "curl_dl.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pr_run;
struct pr_job;
struct pr_executor;

/* The executor of LLM steps (llm_step.c), for the program's registry. */
extern const struct pr_executor pr_exec_llm;

/* Replies kept for a run, so that a request whose reply had arrived is
 * not sent again when the run is resumed (pomlrun's state file).  A
 * request is its protocol, endpoint path and body (never the key). */
struct pr_llm_kept {
    long status;
    const char *content_type; /* may be NULL */
    const char *body;
    size_t len;
};
struct pr_llm_keeper {
    void *ud;
    /* The reply kept for this request of J, into X (borrowed until the
     * run ends): true; false: it goes to the server.  A request made
     * N times is answered by the N replies kept for it, in order. */
    bool (*find)(void *ud, const struct pr_job *j, const char *protocol,
                 const char *path, const char *body, struct pr_llm_kept *x);
    /* The request goes to the server: a token for keep. */
    uint64_t (*sent)(void *ud, const struct pr_job *j, const char *protocol,
                     const char *path, const char *body);
    /* The reply to the request sent with TOKEN arrived whole (2xx): X,
     * with what it cost. */
    void (*keep)(void *ud, const struct pr_job *j, uint64_t token,
                 const char *protocol, const char *path, const char *body,
                 const struct pr_llm_kept *x, uint64_t in_tok,
                 uint64_t out_tok, double cost);
};

struct pr_llm_opts {
    const char *record;     /* cassette to write, or NULL */
    const char *replay;     /* cassette to serve from, or NULL */
    unsigned provider_jobs; /* requests in flight per provider */
    unsigned rpm, tpm;      /* requests / tokens per minute and
                               provider; 0: no limit */
    bool no_stream;         /* ask for whole replies, not SSE */
    double request_timeout; /* seconds per request; 0: the step's */
    const struct pr_llm_keeper *keeper; /* may be NULL */
};

/* Sets up the run's LLM state (cassette loaded, breakers closed).  -1
 * with a message on stderr (a cassette that cannot be read). */
int pr_llm_init(struct pr_run *r, const struct pr_llm_opts *o);
/* Writes the cassette when recording; frees everything.  -1 when the
 * cassette cannot be written (reported on stderr). */
int pr_llm_finish(struct pr_run *r);

/* Totals for the result. */
void pr_llm_totals(const struct pr_run *r, double *cost, uint64_t *in_tok,
                   uint64_t *out_tok, uint64_t *calls);

#endif
