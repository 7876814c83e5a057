/* answer.h -- a person's answers, given on the command line (answer.c):
 * --waiting, --approve, --reject, --decide; and what a suspended run
 * prints */
#ifndef POML_ANSWER_H
#define POML_ANSWER_H

#include <stdbool.h>

#include "run.h"

enum pr_answer_cmd {
    PR_ANSWER_NONE,
    PR_ANSWER_WAITING, /* list what waits */
    PR_ANSWER_APPROVE,
    PR_ANSWER_REJECT,
    PR_ANSWER_DECIDE /* an escalation: retry, skip or abort */
};

struct pr_answer_args {
    enum pr_answer_cmd cmd;
    const char *run;      /* an id, a prefix of one, or "last" */
    const char *step;     /* "name" or "name[3]" */
    const char *decision; /* --decide's */
    const char *value;    /* --value JSON, or NULL */
    const char *comment;  /* --comment, or NULL */
    const char *by;       /* --by, or NULL: the user's name */
};

/* Carries out A on the state file at PATH.  Returns the exit status: 0,
 * or 1 with the reason on stderr. */
int pr_answer(const char *path, const struct pr_answer_args *a, bool json);

/* After run R stopped with jobs waiting for a person: says on stderr
 * what waits and the command that answers each (STATE: the --state file
 * given, or NULL). */
void pr_answer_report(const struct pr_run *r, const char *state);

#endif
