/* memo.h -- what pomlrun already knows of a job before it runs: cache
 * keys, results of an earlier attempt of the run (--resume) or of another
 * run (cache: true), and LLM replies that had arrived (memo.c)
 *
 * The scheduler asks the memo (struct pr_memo of run.h) before a job's
 * first attempt; the LLM layer asks it (struct pr_llm_keeper of llm.h)
 * before a request goes out.  The memo computes the job's key, decides,
 * and remembers why, for the recorder to store and for --explain.
 */
#ifndef POML_MEMO_H
#define POML_MEMO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "llm.h"
#include "run.h"

struct pr_recorder;

/* What decided a job, for the store (strings owned by the memo). */
struct pr_memo_info {
    char key[65];      /* "" when it has none (uncacheable) */
    char *parts;       /* JSON object: part -> digest */
    char *inputs;      /* JSON object: the values it read */
    char *decision;    /* why it ran or was reused */
    char *reused_from; /* the run whose result it reused, or NULL */
};

struct pr_memo_opts {
    bool no_cache;           /* --no-cache */
    FILE *explain;           /* --explain: a line per decision, or NULL */
    const cJSON *prior;      /* the run resumed (store's run()), or NULL */
    cJSON *exchanges;        /* its LLM exchanges (taken over), or NULL */
    const char *resume_from; /* --resume-from STEP, or NULL */
};

struct pr_memo_stats {
    uint64_t reused, cached; /* jobs reused: of the run, from the cache */
    uint64_t served;         /* LLM requests answered from the state */
    uint64_t resent;         /* ... sent again: in flight at the end */
    double resent_cost;      /* what those cost */
};

struct pr_memos;

/* A memo for runs of PLAN that reads the cache from REC's store and
 * writes LLM exchanges through REC.  NULL with the reason in ERR: out of
 * memory, or --resume-from names no step. */
struct pr_memos *pr_memo_new(const struct pr_plan *plan,
                             struct pr_recorder *rec,
                             const struct pr_memo_opts *o, char *err,
                             size_t cap);
void pr_memo_free(struct pr_memos *m);

/* For pr_run_opts.memo and pr_llm_opts.keeper. */
const struct pr_memo *pr_memo_iface(struct pr_memos *m);
const struct pr_llm_keeper *pr_memo_keeper(struct pr_memos *m);

/* What decided J, or NULL when the memo was not asked about it. */
const struct pr_memo_info *pr_memo_info(const struct pr_memos *m,
                                        const struct pr_job *j);
const struct pr_memo_stats *pr_memo_stats(const struct pr_memos *m);

#endif
