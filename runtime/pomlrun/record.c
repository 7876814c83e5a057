/* record.c -- the store as an observer of the run
 *
 * Every state change the observers hear is written to the store: the run
 * when it starts and ends, each job's state, each attempt, each output
 * and every note, as events in order.  Writes go in one transaction that
 * a timer commits PR_RECORD_WINDOW seconds after it began (group commit:
 * the turns of the event loop in that window share one commit, so a
 * state change costs no write of its own), or at the end of the turn
 * when what was written must not be lost (an LLM reply that arrived, the
 * end of the run).  When the store fails, pomlrun says so once, starts no new
 * step (what the store could not keep would be run again by a resume)
 * and finishes what runs, without the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "loop.h"
#include "memo.h"
#include "plan.h"
#include "record.h"
#include "run.h"
#include "store.h"
#include "util.h"

static void commit_now(void *ud)
{
    struct pr_recorder *rec = ud;
    rec->timer = 0;
    rec->urgent = false;
    if (rec->store && pr_store_commit(rec->store) < 0)
        pr_record_failed(rec);
}

void pr_record_failed(struct pr_recorder *rec)
{
    fprintf(stderr,
            "pomlrun: error: %s; no new step starts, what runs "
            "finishes without the state file\n",
            pr_store_error(rec->store));
    pr_store_close(rec->store);
    rec->store = NULL;
    if (rec->run)
        pr_run_stop_starting(rec->run,
                             "stopped: the state file cannot be written");
}

/* Opens the turn's transaction; false when there is no store (any more). */
static bool ready(struct pr_recorder *rec)
{
    if (!rec->store)
        return false;
    if (pr_store_begin(rec->store) < 0) {
        pr_record_failed(rec);
        return false;
    }
    if (!rec->timer && rec->run)
        rec->timer = pr_loop_timer(rec->run->loop, PR_RECORD_WINDOW,
                                   commit_now, rec);
    return true;
}

void pr_record_urgent(struct pr_recorder *rec)
{
    if (!rec->store || !rec->run || !rec->store->in_txn || rec->urgent)
        return;
    if (rec->timer)
        pr_loop_cancel(rec->run->loop, rec->timer);
    rec->timer = pr_loop_timer(rec->run->loop, 0, commit_now, rec);
    rec->urgent = true;
}

static void check(struct pr_recorder *rec, int rc)
{
    if (rc < 0 && rec->store)
        pr_record_failed(rec);
}

struct pr_store *pr_record_begin(struct pr_recorder *rec)
{
    return ready(rec) ? rec->store : NULL;
}

void pr_record_check(struct pr_recorder *rec, int rc)
{
    check(rec, rc);
}

static const char *step_id(const struct pr_job *j)
{
    return pr_job_step(j)->id;
}

static void put_job(struct pr_recorder *rec, const struct pr_job *j)
{
    if (!ready(rec))
        return;
    const struct pr_memo_info *mi = rec->memo ? pr_memo_info(rec->memo, j)
                                              : NULL;
    struct pr_store_job sj = {rec->run->run_id,
                              step_id(j),
                              j->instance,
                              pr_status_names[j->status],
                              j->attempt_base + j->attempts,
                              j->started_at,
                              j->status > 1 && j->status != PR_ST_SUSPENDED
                                  ? j->finished_at
                                  : 0,
                              j->reason,
                              mi && mi->key[0] ? mi->key : NULL,
                              mi ? mi->parts : NULL,
                              mi ? mi->inputs : NULL,
                              mi ? mi->decision : NULL,
                              mi ? mi->reused_from : NULL};
    check(rec, rec->store->ops->job(rec->store, &sj));
}

static void put_event(struct pr_recorder *rec, const struct pr_job *j,
                      const char *kind, const char *msg)
{
    if (!ready(rec))
        return;
    double at = pr_wall_now();
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "event", kind);
    cJSON_AddNumberToObject(e, "at", at);
    if (j) {
        cJSON_AddStringToObject(e, "step", step_id(j));
        if (j->instance >= 0)
            cJSON_AddNumberToObject(e, "instance", j->instance);
    }
    if (msg)
        cJSON_AddStringToObject(e, "message", msg);
    char *t = e ? cJSON_PrintUnformatted(e) : NULL;
    cJSON_Delete(e);
    if (!t)
        return;
    check(rec, rec->store->ops->event(rec->store, rec->run->run_id, ++rec->seq,
                                      at, kind, j ? step_id(j) : NULL, t));
    free(t);
}

/* The parameters as stored: those whose names say they are secrets
 * replaced by "[redacted]". */
static char *params_text(const cJSON *params)
{
    cJSON *p = cJSON_Duplicate(params, true);
    for (cJSON *x = p ? p->child : NULL, *next; x; x = next) {
        next = x->next; /* x goes when it is replaced */
        if (x->string && pr_store_secret_name(x->string) &&
            !pr_json_set(p, x->string, cJSON_CreateString("[redacted]"))) {
            cJSON_Delete(p); /* never stored with the secret in it */
            return NULL;
        }
    }
    char *t = p ? cJSON_PrintUnformatted(p) : NULL;
    cJSON_Delete(p);
    return t;
}

static void on_run_started(void *ud, struct pr_run *r)
{
    struct pr_recorder *rec = ud;
    rec->run = r;
    if (!ready(rec))
        return;
    char hash[24], *params = params_text(r->params);
    pr_record_plan_hash(r->plan, hash);
    struct pr_store_run sr = {r->run_id,
                              r->wf.id,
                              hash,
                              params ? params : "{}",
                              r->started_at,
                              (long)getpid(),
                              pr_store_proc_start((long)getpid())};
    if (rec->resumed)
        check(rec, rec->store->ops->run_resumed(rec->store, r->run_id, sr.pid,
                                                sr.pid_start, sr.started_at));
    else
        check(rec, rec->store->ops->run_started(rec->store, &sr));
    free(params);
    put_event(rec, NULL, rec->resumed ? "run_resumed" : "run_started", NULL);
}

static void on_run_finished(void *ud, struct pr_run *r)
{
    struct pr_recorder *rec = ud;
    for (uint32_t i = 0; i < r->nsteps; i++)
        if (r->jobs[i].status == PR_ST_CANCELLED)
            put_job(rec, &r->jobs[i]); /* never started */
    put_event(rec, NULL, "run_finished", NULL);
    if (!ready(rec))
        return;
    struct pr_usage u;
    pr_run_usage(r, &u);
    const char *status = pr_run_status(r);
    int code = r->signal        ? 128 + r->signal
               : r->failed_hard ? 1
               : r->suspended   ? PR_EXIT_SUSPENDED
                                : 0;
    check(rec, rec->store->ops->run_finished(rec->store, r->run_id, status,
                                             code, r->finished_at, u.cost,
                                             u.in_tok + u.out_tok));
    if (rec->timer) {
        pr_loop_cancel(r->loop, rec->timer);
        rec->timer = 0;
    }
    if (rec->store && pr_store_commit(rec->store) < 0)
        pr_record_failed(rec);
}

static void on_job_started(void *ud, const struct pr_job *j)
{
    struct pr_recorder *rec = ud;
    put_job(rec, j);
    put_event(rec, j, "job_started", NULL);
}

static void on_attempt_started(void *ud, const struct pr_job *j)
{
    struct pr_recorder *rec = ud;
    put_job(rec, j);
    if (!ready(rec))
        return;
    struct pr_store_attempt a = {rec->run->run_id,
                                 step_id(j),
                                 j->instance,
                                 j->attempt_base + j->attempts,
                                 j->attempt_started,
                                 0,
                                 -1,
                                 NULL};
    check(rec, rec->store->ops->attempt(rec->store, &a));
}

static void on_attempt_finished(void *ud, const struct pr_job *j, bool ok,
                                const char *reason)
{
    struct pr_recorder *rec = ud;
    if (!ready(rec))
        return;
    struct pr_store_attempt a = {rec->run->run_id,
                                 step_id(j),
                                 j->instance,
                                 j->attempt_base + j->attempts,
                                 j->attempt_started,
                                 pr_wall_now(),
                                 ok,
                                 reason};
    check(rec, rec->store->ops->attempt(rec->store, &a));
}

static void on_job_retrying(void *ud, const struct pr_job *j,
                            const char *reason, double delay)
{
    struct pr_recorder *rec = ud;
    char msg[600];
    snprintf(msg, sizeof msg, "attempt %u failed (%s); retrying in %.2f s",
             j->attempts, reason ? reason : "failed", delay);
    put_event(rec, j, "job_retrying", msg);
}

static void on_job_finished(void *ud, const struct pr_job *j)
{
    struct pr_recorder *rec = ud;
    put_job(rec, j);
    put_event(rec, j, "job_finished", j->reason);
}

/* J waits for a person: the question goes in the approvals table (kept
 * as it was when a resumed run asks it again). */
static void on_job_suspended(void *ud, const struct pr_job *j,
                             bool escalation)
{
    struct pr_recorder *rec = ud;
    put_job(rec, j);
    put_event(rec, j, "job_suspended", j->reason);
    if (!ready(rec))
        return;
    const struct pr_step *s = pr_job_step(j);
    double now = pr_wall_now();
    struct pr_store_approval a = {
        rec->run->run_id,
        step_id(j),
        j->instance,
        escalation ? "escalation" : "approval",
        j->reason,
        escalation ? NULL : s->output_schema,
        now,
        !escalation && s->timeout > 0 ? now + s->timeout : 0};
    check(rec, rec->store->ops->approval_request(rec->store, &a));
}

static void on_output(void *ud, const struct pr_job *j, const char *name,
                      const cJSON *v)
{
    struct pr_recorder *rec = ud;
    if (!ready(rec))
        return;
    char *t = cJSON_PrintUnformatted(v);
    if (!t)
        return;
    check(rec, rec->store->ops->output(rec->store, rec->run->run_id,
                                       step_id(j), j->instance, name, t));
    free(t);
}

static void on_note(void *ud, const struct pr_run *r, const struct pr_job *j,
                    const char *msg)
{
    (void)r;
    put_event(ud, j, "note", msg);
}

/* The process group, with its start time: a resume after a kill of
 * pomlrun stops what it left running (and nothing that took its
 * number since). */
static void on_process(void *ud, const struct pr_job *j, long pgid)
{
    struct pr_recorder *rec = ud;
    if (!ready(rec))
        return;
    check(rec, rec->store->ops->process(rec->store, rec->run->run_id,
                                        step_id(j), j->instance, pgid,
                                        pr_store_proc_start(pgid)));
}

void pr_record_plan_hash(const struct pr_plan *p, char out[24])
{
    /* the plan by its checksums, as its header records them */
    snprintf(out, 24, "%08x%08x", pr_rd_u32(p->base + PR_HDR_CRC),
             pr_rd_u32(p->base + PR_HDR_BODY_CRC));
}

void pr_record_init(struct pr_recorder *rec, struct pr_store *store)
{
    memset(rec, 0, sizeof *rec);
    rec->store = store;
    rec->obs = (struct pr_observer){
        .ud = rec,
        .run_started = on_run_started,
        .run_finished = on_run_finished,
        .job_started = on_job_started,
        .attempt_started = on_attempt_started,
        .attempt_finished = on_attempt_finished,
        .job_retrying = on_job_retrying,
        .job_finished = on_job_finished,
        .job_suspended = on_job_suspended,
        .output = on_output,
        .note = on_note,
        .process = on_process,
    };
}

void pr_record_close(struct pr_recorder *rec)
{
    pr_store_close(rec->store);
    rec->store = NULL;
}
