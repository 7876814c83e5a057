/* inspect.h -- the commands that look at runs in the state file
 * (inspect.c): --runs, --show, --outputs, --history, --verify,
 * --dead-letters, --explain */
#ifndef POML_INSPECT_H
#define POML_INSPECT_H

#include <stdbool.h>

enum pr_inspect {
    PR_INSPECT_NONE,
    PR_INSPECT_RUNS,
    PR_INSPECT_SHOW,
    PR_INSPECT_OUTPUTS,
    PR_INSPECT_HISTORY,
    PR_INSPECT_VERIFY,
    PR_INSPECT_DEAD,   /* --dead-letters [RUN] */
    PR_INSPECT_EXPLAIN /* --explain [RUN] STEP */
};

/* Prints what WHAT asks of the state file at PATH (RUN and STEP as the
 * command takes them), as text or, with JSON, as JSON.  Returns the exit
 * status: 0, or 1 with the reason on stderr. */
int pr_inspect(const char *path, enum pr_inspect what, const char *run,
               const char *step, bool json);

#endif
