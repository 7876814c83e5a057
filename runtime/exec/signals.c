/* signals.c -- SIGINT, SIGTERM, SIGHUP and SIGUSR1 cancel the run
 *
 * The first signal stops running steps with SIGTERM and lets them end
 * within the grace period; a second one (or SIGUSR1, what a parent run
 * sends its sub-workflow) kills them at once.
 */
#include <signal.h>

#include "child.h"
#include "run.h"
#include "sched_int.h"

static void on_signal(void *ud, int signo)
{
    struct pr_run *r = ud;
    if (r->hook) {
        /* an on_failure command: stopped, at once when asked twice */
        pr_spawn_signal(r->hook, r->signal ? SIGKILL : SIGTERM);
        r->signal = signo == SIGUSR1 ? SIGTERM : signo;
        return;
    }
    if (signo == SIGUSR1) {
        /* stop at once: what a parent run sends its sub-workflow when
           asked twice (two SIGTERMs could arrive as one) */
        if (!r->cancelling) {
            r->signal = SIGTERM;
            pr_sched_cancel(r);
        }
        pr_sched_stop_all(r, SIGKILL);
        return;
    }
    if (r->cancelling) {
        pr_sched_stop_all(r, SIGKILL); /* asked twice: no grace */
        return;
    }
    r->signal = signo;
    pr_run_note(r, NULL, "received %s; stopping running steps",
                signo == SIGINT    ? "SIGINT"
                : signo == SIGTERM ? "SIGTERM"
                                   : "SIGHUP");
    pr_sched_cancel(r);
}

void pr_signals_watch(struct pr_run *r)
{
    pr_loop_on_signal(r->loop, on_signal, r);
}
