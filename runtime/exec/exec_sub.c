/* exec_sub.c -- sub-workflow steps
 *
 * The sub-workflow's plan is embedded in the parent's (pomlc compiles it
 * along).  A step runs it as a child pomlrun process: its own process
 * group, so a timeout or a cancel stops it like any step; its parameters
 * are the step's `with`, evaluated; its result comes back as JSON on
 * standard output; the parent's policy, intersected with the one the
 * parent runs under, bounds it (--policy, policy.h).  The child, a
 * pomlrun of its own, runs its steps with the same executors as the
 * parent: its registry's (pomlrun/registry.c).  Outputs: `outputs` (each
 * step's outputs, by id) and `result` (the outputs of its last step).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec_proc.h"
#include "policy.h"
#include "run.h"

extern char **environ;

/* The most of a sub-workflow's result (its --json output) read. */
#define SUB_RESULT_CAP ((size_t)64 << 20)

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    int rc = fclose(f);
    return w == n && rc == 0 ? 0 : -1;
}

/* The file of J's sub-workflow with extension EXT, in the run's
 * temporary directory. */
static void sub_path(const struct pr_job *j, const char *ext, char *buf,
                     size_t cap)
{
    snprintf(buf, cap, "%s/sub-%u-%d.%s", j->run->tmpdir, j->step,
             (int)j->instance, ext);
}

static void cleanup(struct pr_job *j)
{
    static const char *const exts[] = {"plan", "json", "policy", NULL};
    char path[4200];
    for (size_t k = 0; exts[k]; k++) {
        sub_path(j, exts[k], path, sizeof path);
        unlink(path);
    }
}

/* Why the sub-workflow failed: its first failed step and that step's
 * reason, from its result's STEPS. */
static void failed_reason(const cJSON *steps, char *reason, size_t cap)
{
    const cJSON *st;
    cJSON_ArrayForEach (st, steps) {
        const char *status = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(st, "status"));
        const char *why = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(st, "reason"));
        if (status && !strcmp(status, "failed")) {
            snprintf(reason, cap, "the sub-workflow failed: step '%.100s': %s",
                     st->string, why ? why : "failed");
            return;
        }
    }
    snprintf(reason, cap, "the sub-workflow failed");
}

static void sub_done(struct pr_job *j, int status, struct pr_child *c,
                     const char *out_path)
{
    (void)out_path;
    char reason[512] = "";
    int code = pr_proc_status(status, reason, sizeof reason);
    size_t len;
    unsigned long long total;
    char *out = pr_spawn_output(c, false, &len, &total);
    cJSON *res = out ? cJSON_Parse(out) : NULL;
    free(out);
    cleanup(j);
    cJSON *steps = cJSON_GetObjectItemCaseSensitive(res, "steps");
    if (!cJSON_IsObject(steps)) {
        size_t el;
        unsigned long long et;
        char *e = pr_spawn_output(c, true, &el, &et);
        char *nl = e ? strrchr(e, '\n') : NULL;
        if (nl && nl[1] == '\0')
            *nl = '\0';
        snprintf(reason, sizeof reason, "the sub-workflow did not run: %s",
                 e && *e ? e : "no result");
        free(e);
        cJSON_Delete(res);
        pr_job_finish(j, false, reason, false);
        return;
    }
    cJSON *outputs = cJSON_CreateObject(), *st, *last = NULL;
    cJSON_ArrayForEach (st, steps) {
        cJSON *o = cJSON_GetObjectItemCaseSensitive(st, "outputs");
        cJSON_AddItemToObject(outputs, st->string,
                              o ? cJSON_Duplicate(o, true)
                                : cJSON_CreateObject());
        last = o;
    }
    pr_job_output(j, "result",
                  last ? cJSON_Duplicate(last, true) : cJSON_CreateObject());
    pr_job_output(j, "outputs", outputs);
    const char *sub_status = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(res, "status"));
    if (code && !reason[0])
        snprintf(reason, sizeof reason, "exit status %d", code);
    if (code && sub_status && !strcmp(sub_status, "failed"))
        failed_reason(steps, reason, sizeof reason);
    cJSON_Delete(res);
    pr_job_finish(j, code == 0, code ? reason : NULL, true);
}

static void sub_start(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    const uint8_t *data;
    size_t size;
    char err[512], plan_path[4200], params_path[4200], policy_path[4200],
        jobs[32];
    if (!s->workflow || pr_plan_subplan(r->plan, s->workflow, &data, &size)) {
        snprintf(err, sizeof err, "the plan holds no sub-workflow '%s'",
                 s->workflow ? s->workflow : "");
        pr_job_finish(j, false, err, false);
        return;
    }
    cJSON *with = NULL;
    if (s->with != PR_PLAN_NONE &&
        pr_run_tval(j, s->with, &with, err, sizeof err) < 0) {
        char why[600];
        snprintf(why, sizeof why, "in 'with': %s", err);
        pr_job_finish(j, false, why, false);
        return;
    }
    if (!with)
        with = cJSON_CreateObject();
    char *params = cJSON_PrintUnformatted(with);
    cJSON_Delete(with);
    sub_path(j, "plan", plan_path, sizeof plan_path);
    sub_path(j, "json", params_path, sizeof params_path);
    sub_path(j, "policy", policy_path, sizeof policy_path);
    int bounded = 0;
    if (!params || write_file(plan_path, data, size) < 0 ||
        write_file(params_path, params, strlen(params)) < 0 ||
        (bounded = pr_policy_write(r, policy_path)) < 0) {
        snprintf(err, sizeof err, "cannot write to '%s': %s", r->tmpdir,
                 params ? strerror(errno) : "out of memory");
        free(params);
        cleanup(j);
        pr_job_finish(j, false, err, false);
        return;
    }
    free(params);
    char grace[32], room[32];
    snprintf(jobs, sizeof jobs, "%u", r->opt.jobs);
    snprintf(grace, sizeof grace, "%g", r->opt.kill_grace);
    /* the child may hold what the parent has room for (at least 1 MiB):
       its result comes back to be held here too */
    unsigned long long left = r->opt.max_output_memory > r->output_bytes
                                  ? r->opt.max_output_memory - r->output_bytes
                                  : 0;
    snprintf(room, sizeof room, "%llu", left > 1ull << 20 ? left : 1ull << 20);
    char *argv[16] = {(char *)r->opt.self_exe,
                      "--json",
                      "-q",
                      "--jobs",
                      jobs,
                      "--kill-grace",
                      grace,
                      "--params",
                      params_path,
                      "--max-output-memory",
                      room,
                      "--no-state"};
    size_t n = 12;
    if (bounded) { /* the parent's policy bounds the child */
        argv[n++] = "--policy";
        argv[n++] = policy_path;
    }
    argv[n++] = plan_path;
    argv[n] = NULL;
    pr_proc_start(j, argv, environ, NULL, NULL, SUB_RESULT_CAP, 4096,
                  sub_done);
}

/* The child pomlrun's steps live in process groups of their own, which a
 * SIGKILL to the child would orphan.  So the child gets SIGTERM to stop
 * its steps gracefully, and SIGUSR1 instead of SIGKILL to kill them at
 * once and end. */
static void sub_stop(struct pr_job *j, int sig)
{
    pr_proc_stop(j, sig == SIGKILL ? SIGUSR1 : SIGTERM);
}

const struct pr_executor pr_exec_sub = {
    .in_process = false, .start = sub_start, .stop = sub_stop};
