/* resume.h -- taking up an earlier run from the state file (resume.c):
 * --resume, --redrive */
#ifndef POML_RESUME_H
#define POML_RESUME_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "plan.h"

struct pr_store;

struct pr_resume {
    char id[40];       /* the run taken up */
    cJSON *run;        /* as the store's run() gives it (jobs, outputs) */
    cJSON *exchanges;  /* its LLM exchanges */
    char *params;      /* its parameters, as JSON text */
    uint64_t last_seq; /* its last event */
};

/* Finds run RUN ("last" or NULL: the newest of PLAN's workflow; else an
 * id or a prefix of one) in S, checks that no pomlrun still runs it,
 * stops the process groups its killed pomlrun left running (SIGTERM,
 * then SIGKILL after GRACE seconds), and fills OUT.  REDRIVE: the run
 * must have dead letters.  0, or -1 with the reason on stderr. */
int pr_resume_prepare(struct pr_store *s, const struct pr_plan *plan,
                      const char *run, bool redrive, double grace,
                      struct pr_resume *out);
/* A parameter of the run that was kept redacted (a secret) and is not
 * given again in NAMES (N of them): its name, or NULL. */
const char *pr_resume_missing_secret(const struct pr_resume *r,
                                     const char *const *names, size_t n);
void pr_resume_free(struct pr_resume *r);

#endif
