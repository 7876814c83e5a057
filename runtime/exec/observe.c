/* observe.c -- observers: who hears of a run's state changes
 *
 * The scheduler and the executors say what happened here; every observer
 * registered on the run hears it, in the order they were registered.
 * The reporter (report.c) is one; a store or a second worker would be
 * others.  Nothing here decides anything.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "run.h"
#include "sched_int.h"
#include "util.h"

int pr_run_observe(struct pr_run *r, const struct pr_observer *o)
{
    if (pr_grow((void **)&r->obs, &r->capobs, r->nobs + 1, sizeof *r->obs) < 0)
        return -1;
    r->obs[r->nobs++] = o;
    return 0;
}

void pr_run_note(struct pr_run *r, const struct pr_job *j, const char *fmt,
                 ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    PR_NOTIFY(r, note, r, j, msg);
}

void pr_job_stream(struct pr_job *j, const char *text, size_t n)
{
    PR_NOTIFY(j->run, stream, j, text, n);
}

void pr_job_process(struct pr_job *j, long pgid)
{
    PR_NOTIFY(j->run, process, j, pgid);
}
