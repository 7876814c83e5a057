/* resume.c -- taking up an earlier run
 *
 * A run is resumed under its own id: the jobs that succeeded are reused
 * from the state file (memo.c decides, job by job, by their keys), the
 * others run again.  Before that, the run must be dead: a pomlrun that
 * still runs it (its pid alive with the same start time) is left alone.
 * A pomlrun killed by SIGKILL leaves its steps' process groups running;
 * the state file has each group with its start time, so those still
 * alive are stopped here, and nothing that took their number since.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "record.h"
#include "resume.h"
#include "store.h"
#include "util.h"

static long long num_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : -1;
}

/* The newest run of workflow WF; NULL with the reason on stderr. */
static char *newest_of(struct pr_store *s, const char *wf)
{
    cJSON *l = s->ops->runs(s, 100000);
    if (!l) {
        fprintf(stderr, "pomlrun: error: %s\n", pr_store_error(s));
        return NULL;
    }
    char *id = NULL;
    const cJSON *r;
    cJSON_ArrayForEach (r, l) {
        const char *w = pr_json_str(r, "workflow");
        if (w && !strcmp(w, wf)) {
            id = strdup(pr_json_str(r, "id"));
            break;
        }
    }
    cJSON_Delete(l);
    if (!id)
        fprintf(stderr,
                "pomlrun: error: the state file has no run of workflow "
                "'%s' to resume\n",
                wf);
    return id;
}

static bool alive(long pid, long long start)
{
    return pid > 0 && start >= 0 && pr_store_proc_start(pid) == start;
}

/* Stops process group PGID (started at START) if it still runs. */
static void stop_group(long pgid, long long start, double grace,
                       const char *step)
{
    if (!alive(pgid, start))
        return;
    fprintf(stderr,
            "pomlrun: stopping process group %ld that step '%s' left "
            "running when its pomlrun was killed\n",
            pgid, step);
    kill(-(pid_t)pgid, SIGTERM);
    for (double waited = 0; waited < grace && alive(pgid, start);
         waited += 0.05) {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    if (alive(pgid, start))
        kill(-(pid_t)pgid, SIGKILL);
}

int pr_resume_prepare(struct pr_store *s, const struct pr_plan *plan,
                      const char *run, bool redrive, double grace,
                      struct pr_resume *out)
{
    memset(out, 0, sizeof *out);
    struct pr_workflow wf;
    pr_plan_workflow(plan, &wf);
    char *id = !run || !strcmp(run, "last") ? newest_of(s, wf.id)
                                            : strdup(run);
    if (!id)
        return -1;
    out->run = s->ops->run(s, id);
    free(id);
    if (!out->run) {
        fprintf(stderr, "pomlrun: error: %s\n", pr_store_error(s));
        return -1;
    }
    const char *rid = pr_json_str(out->run, "id");
    const char *w = pr_json_str(out->run, "workflow");
    const char *status = pr_json_str(out->run, "status");
    snprintf(out->id, sizeof out->id, "%s", rid ? rid : "");
    if (!rid || strlen(rid) >= sizeof out->id) {
        fprintf(stderr, "pomlrun: error: the run's id is malformed\n");
        goto fail;
    }
    if (w && strcmp(w, wf.id)) {
        fprintf(stderr,
                "pomlrun: error: run %s is of workflow '%s', not '%s'; "
                "give the plan it ran\n",
                rid, w, wf.id);
        goto fail;
    }
    long pid = (long)num_of(out->run, "pid");
    if (status && !strcmp(status, "running") &&
        alive(pid, num_of(out->run, "pid_start"))) {
        fprintf(stderr,
                "pomlrun: error: run %s is still running (pomlrun, pid "
                "%ld); stop it before resuming it\n",
                rid, pid);
        goto fail;
    }
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(out->run, "jobs");
    const cJSON *j;
    unsigned ok = 0, all = 0, dead = 0;
    cJSON_ArrayForEach (j, jobs) {
        const char *st = pr_json_str(j, "status");
        all++;
        ok += st && !strcmp(st, "succeeded");
        dead += st && !strcmp(st, "failed");
        if (st && !strcmp(st, "running") && num_of(j, "pgid") > 0)
            stop_group((long)num_of(j, "pgid"), num_of(j, "pg_start"), grace,
                       pr_json_str(j, "step") ? pr_json_str(j, "step") : "?");
    }
    if (redrive && !dead) {
        fprintf(stderr,
                "pomlrun: error: run %s has no dead letters (no job "
                "failed); --resume takes up a run that was stopped\n",
                rid);
        goto fail;
    }
    out->exchanges = s->ops->exchanges(s, rid);
    if (!out->exchanges) {
        fprintf(stderr, "pomlrun: error: %s\n", pr_store_error(s));
        goto fail;
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(out->run, "params");
    out->params = cJSON_PrintUnformatted(params);
    long long seq = num_of(out->run, "last_seq");
    out->last_seq = seq > 0 ? (uint64_t)seq : 0;
    char hash[24];
    pr_record_plan_hash(plan, hash);
    const char *was = pr_json_str(out->run, "plan_hash");
    if (status && !strcmp(status, "queued"))
        fprintf(stderr, "pomlrun: taking up submitted run %s\n", rid);
    else
        fprintf(stderr,
                "pomlrun: %s run %s (%s, %u of %u jobs succeeded)\n",
                redrive ? "re-driving the dead letters of" : "resuming", rid,
                status ? status : "?", ok, all);
    if (was && strcmp(was, hash))
        fprintf(stderr,
                "pomlrun: note: the plan is not the one the run started "
                "with; a job is reused only when its key is the same "
                "(--explain says which)\n");
    if (!out->params)
        goto fail;
    return 0;
fail:
    pr_resume_free(out);
    return -1;
}

const char *pr_resume_missing_secret(const struct pr_resume *r,
                                     const char *const *names, size_t n)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(r->run, "params");
    const cJSON *p;
    cJSON_ArrayForEach (p, params) {
        if (!cJSON_IsString(p) || strcmp(p->valuestring, "[redacted]") ||
            !pr_store_secret_name(p->string))
            continue;
        size_t k = 0;
        while (k < n && strcmp(names[k], p->string))
            k++;
        if (k == n)
            return p->string;
    }
    return NULL;
}

void pr_resume_free(struct pr_resume *r)
{
    cJSON_Delete(r->run);
    cJSON_Delete(r->exchanges);
    free(r->params);
    memset(r, 0, sizeof *r);
}
