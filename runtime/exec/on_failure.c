/* on_failure.c -- error_handling.on_failure: the commands run when a run
 * fails
 *
 * Each `run:` action is a shell command, run once, in the order written,
 * after the last step of a run that failed (not of one stopped by a
 * signal); then the notify actions (notify.c) of a run that failed or
 * waits for a person.  It is a script as written, with no ${...} (pomlc refuses
 * one): the failure reaches it in its environment, as data.  The
 * workflow's policy bounds it like a step.  Its output goes to pomlrun's
 * standard error, escaped like every text printed there, never to
 * standard output, which --json owns.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_proc.h"
#include "run.h"
#include "sched_int.h"
#include "buf.h"
#include "shell.h"
#include "util.h"

extern char **environ;

/* What is shown of each of the command's streams. */
#define SHOW_CAP ((size_t)64 << 10)

struct hook {
    struct pr_run *r;
    struct pr_child c;
    bool done, timed_out;
    int status;
    uint64_t timer;
};

static void hook_exit(void *ud, pid_t pid, int status)
{
    (void)pid;
    struct hook *h = ud;
    h->status = status;
    h->done = true;
}

static void hook_timeout(void *ud)
{
    struct hook *h = ud;
    h->timer = 0;
    if (!h->timed_out) {
        /* SIGTERM, then SIGKILL after the grace period */
        h->timed_out = true;
        pr_spawn_signal(&h->c, SIGTERM);
        h->timer = pr_loop_timer(h->r->loop, h->r->opt.kill_grace,
                                 hook_timeout, h);
    } else {
        pr_spawn_signal(&h->c, SIGKILL);
    }
}

/* The failure, for the command's environment: the failed steps' ids,
 * space-separated, and the first one's id and reason. */
static int failure_env(struct pr_run *r, struct pr_strv *env)
{
    struct pr_buf ids, first;
    pr_buf_init(&ids);
    pr_buf_init(&first);
    int rc = 0;
    for (uint32_t i = 0; i < r->nsteps; i++) {
        const struct pr_job *j = &r->jobs[i];
        const char *id = r->steps[i].id;
        if (j->status != PR_ST_FAILED)
            continue;
        if (ids.len)
            rc |= pr_buf_append_u8(&ids, ' ');
        rc |= pr_buf_append(&ids, id, strlen(id));
        if (!first.len) {
            const char *why = j->reason ? j->reason : "failed";
            rc |= pr_buf_append(&first, id, strlen(id));
            rc |= pr_buf_append(&first, ": ", 2);
            rc |= pr_buf_append(&first, why, strlen(why));
        }
    }
    if (!first.len)
        rc |= pr_buf_append(&first, r->stop_reason, strlen(r->stop_reason));
    rc |= pr_buf_append_u8(&ids, 0) | pr_buf_append_u8(&first, 0);
    if (rc == 0 &&
        (pr_strv_add(env, pr_env_entry("POML_RUN_ID", r->run_id)) < 0 ||
         pr_strv_add(env, pr_env_entry("POML_WORKFLOW", r->wf.id)) < 0 ||
         pr_strv_add(
             env, pr_env_entry("POML_FAILED_STEPS", (char *)ids.data)) < 0 ||
         pr_strv_add(env, pr_env_entry("POML_FAILURE", (char *)first.data)) <
             0 ||
         pr_strv_add(env, pr_env_entry("POML_RUN_STATUS",
                                       r->sla_exceeded ? "sla_exceeded"
                                       : r->failed_hard ? "failed"
                                                        : "suspended")) < 0))
        rc = -1;
    pr_buf_free(&ids);
    pr_buf_free(&first);
    return rc ? -1 : 0;
}

static bool ours(const char *e)
{
    static const char *const names[] = {
        "POML_RUN_ID=",      "POML_WORKFLOW=",
        "POML_FAILED_STEPS=", "POML_FAILURE=",
        "POML_RUN_STATUS=",  "POML_FAILURE_JSON=",
        NULL};
    for (size_t k = 0; names[k]; k++)
        if (!strncmp(e, names[k], strlen(names[k])))
            return true;
    return false;
}

/* Prints what the command WHAT ("on_failure", "notify") wrote (FD,
 * capped) to standard error, a line at a time, escaped. */
static void show_output(const struct pr_child *c, bool err, const char *what)
{
    size_t len = 0;
    unsigned long long total = 0;
    char *t = pr_spawn_output(c, err, &len, &total);
    if (!t)
        return;
    char esc[1024];
    for (char *l = t; l < t + len;) {
        char *nl = memchr(l, '\n', (size_t)(t + len - l));
        size_t n = nl ? (size_t)(nl - l) : (size_t)(t + len - l);
        pr_term_escape(l, n, esc, sizeof esc);
        fprintf(stderr, "pomlrun: %s: %s\n", what, esc);
        l += n + 1;
    }
    if (total > len)
        fprintf(stderr, "pomlrun: %s: (%llu more bytes not shown)\n", what,
                total - len);
    free(t);
}

void pr_run_hook(struct pr_run *r, const char *script, const char *what,
                 const char *json)
{
    struct pr_shell_part part = {script, strlen(script)};
    struct pr_shell_cmd cmd;
    char err[512] = "";
    if (pr_shell_prepare(&part, 1, &cmd, err, sizeof err) < 0) {
        pr_run_note(r, NULL, "%s command not run: %s", what,
                    err[0] ? err : "out of memory");
        return;
    }
    int rc = pr_shell_policy(r, &cmd, err, sizeof err);
    struct pr_strv env = {0};
    for (char **e = environ; rc == 0 && *e; e++)
        if (!ours(*e) && pr_strv_borrow(&env, *e) < 0)
            rc = pr_errf(err, sizeof err, "out of memory");
    if (rc == 0 && failure_env(r, &env) < 0)
        rc = pr_errf(err, sizeof err, "out of memory");
    if (rc == 0 && json &&
        pr_strv_add(&env, pr_env_entry("POML_FAILURE_JSON", json)) < 0)
        rc = pr_errf(err, sizeof err, "out of memory");
    char *argv[] = {"/bin/sh", "-c", cmd.script, NULL};
    struct hook h = {.r = r};
    struct pr_spawn sp = {argv,    env.v,    NULL,    r->tmpdir,
                          r->loop, SHOW_CAP, SHOW_CAP};
    if (rc == 0)
        rc = pr_spawn_start(&sp, &h.c, err, sizeof err);
    pr_strv_free(&env);
    pr_shell_cmd_free(&cmd);
    if (rc < 0) {
        pr_run_note(r, NULL, "%s command not run: %s", what, err);
        return;
    }
    if (pr_loop_child(r->loop, h.c.pid, hook_exit, &h) < 0) {
        pr_spawn_signal(&h.c, SIGKILL);
        pr_spawn_close(&h.c);
        pr_run_note(r, NULL, "%s command: out of memory", what);
        return;
    }
    h.timer = pr_loop_timer(r->loop, PR_ON_FAILURE_TIMEOUT, hook_timeout, &h);
    r->hook = &h.c;
    while (!h.done)
        if (pr_loop_once(r->loop, -1) < 0 && errno != EINTR)
            break;
    pr_spawn_drain(&h.c);
    r->hook = NULL;
    if (h.timer)
        pr_loop_cancel(r->loop, h.timer);
    if (!h.done) {
        /* the loop failed: do not leave the command behind */
        pr_spawn_signal(&h.c, SIGKILL);
        waitpid(h.c.pid, &h.status, 0);
    }
    pr_spawn_signal(&h.c, SIGKILL); /* what it left running */
    show_output(&h.c, false, what);
    show_output(&h.c, true, what);
    pr_spawn_close(&h.c);
    char reason[256] = "";
    int code = pr_proc_status(h.status, reason, sizeof reason);
    if (h.timed_out)
        pr_run_note(r, NULL, "%s command timed out after %d s", what,
                    PR_ON_FAILURE_TIMEOUT);
    else if (code != 0)
        pr_run_note(r, NULL, "%s command failed: %s", what, reason);
    else
        pr_run_note(r, NULL, "%s command ran", what);
}

void pr_run_on_failure(struct pr_run *r)
{
    const struct pr_plan *p = r->plan;
    for (uint32_t k = 0; k < r->wf.on_failure_actions.n && !r->signal; k++) {
        const char *a = pr_plan_str(
            p, pr_plan_list_at(p, r->wf.on_failure_actions, k), NULL);
        if (!strncmp(a, "run=", 4) && (r->failed_hard || r->sla_exceeded))
            pr_run_hook(r, a + 4, "on_failure", NULL);
    }
    pr_run_notify(r);
}
