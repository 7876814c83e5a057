/* sla.c -- time limits: a step's timeout (then SIGKILL after the grace
 * period) and the workflow's sla.max_duration
 */
#include <signal.h>

#include "run.h"
#include "sched_int.h"

static void on_grace(void *ud)
{
    struct pr_job *j = ud;
    j->timer = 0;
    j->run->execs[j->step]->stop(j, SIGKILL);
}

static void on_timeout(void *ud)
{
    struct pr_job *j = ud;
    struct pr_run *r = j->run;
    j->timed_out = true;
    j->timer = pr_loop_timer(r->loop, r->opt.kill_grace, on_grace, j);
    r->execs[j->step]->stop(j, SIGTERM);
}

void pr_timeout_start(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    if (s->timeout > 0) /* pomlc gave sla.step_timeout to steps */
        j->timer = pr_loop_timer(r->loop, s->timeout, on_timeout, j);
}

/* sla.max_duration: the run fails, what is running is stopped. */
static void on_sla(void *ud)
{
    struct pr_run *r = ud;
    r->sla_timer = 0;
    if (r->cancelling)
        return;
    r->sla_exceeded = true;
    r->failed_hard = true;
    pr_run_note(r, NULL,
                "the workflow's sla.max_duration (%g s) is over; stopping "
                "running steps",
                r->wf.sla_max_duration);
    pr_sched_cancel(r);
}

void pr_sla_start(struct pr_run *r)
{
    if (r->wf.sla_max_duration > 0)
        r->sla_timer = pr_loop_timer(r->loop, r->wf.sla_max_duration, on_sla,
                                     r);
}
