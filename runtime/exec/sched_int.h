/* sched_int.h -- what the scheduler's files share (not an interface: the
 * layer above includes run.h)
 *
 *   sched.c    ready queues, outcomes, attempts, cancelling, the run
 *   observe.c  observers: registering them, notes, streamed text
 *   scope.c    what expressions see; evaluation for a job
 *   signals.c  signals cancel the run
 *   sla.c      a step's timeout, the workflow's sla.max_duration
 *   on_failure.c  the commands error_handling.on_failure runs
 *   notify.c   its notify actions
 */
#ifndef POML_SCHED_INT_H
#define POML_SCHED_INT_H

#include "run.h"

/* Indexed by enum pr_status: "waiting", "running", ... */

/* Calls member FN of every observer of run R that has one, with the
 * observer's user data and the other arguments. */
#define PR_NOTIFY(r, fn, ...)                                                 \
    do {                                                                      \
        for (size_t k_ = 0; k_ < (r)->nobs; k_++)                             \
            if ((r)->obs[k_]->fn)                                             \
                (r)->obs[k_]->fn((r)->obs[k_]->ud, __VA_ARGS__);              \
    } while (0)
/* Why steps end unfinished when the run stops. */
const char *pr_cancel_reason(const struct pr_run *r);

/* Stops the run: nothing new starts, running steps are stopped, steps
 * waiting between attempts end. */
void pr_sched_cancel(struct pr_run *r);
/* Sends SIG to every running attempt that runs outside the process. */
void pr_sched_stop_all(struct pr_run *r, int sig);

/* Cancels the run on SIGINT, SIGTERM, SIGHUP and SIGUSR1. */
void pr_signals_watch(struct pr_run *r);
/* Arms J's timeout for the attempt that starts (into j->timer), when the
 * step or the workflow's sla.step_timeout sets one. */
void pr_timeout_start(struct pr_job *j);
/* Arms sla.max_duration (into r->sla_timer), when the workflow sets it. */
void pr_sla_start(struct pr_run *r);

/* error_handling.on_failure: runs the `run` actions of a run that
 * failed, one after the other, each bounded by PR_ON_FAILURE_TIMEOUT
 * seconds (then SIGTERM, and SIGKILL after the kill grace). */
#define PR_ON_FAILURE_TIMEOUT 300
void pr_run_on_failure(struct pr_run *r);
/* Runs SCRIPT, an action WHAT ("on_failure", "notify") of run R, as
 * on_failure runs its commands, with JSON (or NULL) in its environment
 * as POML_FAILURE_JSON; a note says how it ended. */
void pr_run_hook(struct pr_run *r, const char *script, const char *what,
                 const char *json);
/* notify.c: the notify actions of a run that failed or waits for a
 * person: its own, and those of the steps that failed or wait. */
void pr_run_notify(struct pr_run *r);

#endif
