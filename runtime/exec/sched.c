/* sched.c -- the scheduler: dependency counts, a ready queue, attempts
 *
 * A step becomes ready the moment its last dependency finishes (no stage
 * barriers).  Ready steps that run a process wait in a heap ordered by the
 * longest remaining critical path; at most --jobs of them run at once.
 * In-process steps (gates, aggregators) run as soon as they are ready.
 *
 * Outcome rules (poml(5) says the same):
 *   - a dependency that failed blocks its dependents (they are skipped)
 *     unless it has on_failure: continue;
 *   - a dependency that was skipped blocks its dependents too;
 *   - an order-only dependency ("after") blocks nothing: it only orders;
 *   - a false condition skips the step.
 * Everything runs from the one event loop; nothing here blocks.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eval.h"
#include "run.h"
#include "sched_int.h"

const char *const pr_status_names[] = {"waiting", "running",   "succeeded",
                                       "failed",  "skipped",   "cancelled",
                                       "suspended"};

const char *pr_run_status(const struct pr_run *r)
{
    return r->signal        ? "cancelled"
           : r->failed_hard ? "failed"
           : r->suspended   ? "suspended"
                            : "succeeded";
}

const char *pr_job_name(const struct pr_job *j, char *buf, size_t cap)
{
    const char *id = pr_job_step(j)->id;
    if (j->instance < 0)
        return id;
    snprintf(buf, cap, "%s[%d]", id, (int)j->instance);
    return buf;
}

const char *pr_cancel_reason(const struct pr_run *r)
{
    return r->sla_exceeded     ? "sla: the workflow's max_duration is over"
           : r->stop_reason[0] ? r->stop_reason
                               : "cancelled";
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- the ready heap ---- */

static bool before(const struct pr_run *r, const struct pr_job *a,
                   const struct pr_job *b)
{
    const struct pr_step *x = &r->steps[a->step], *y = &r->steps[b->step];
    if (x->cp_seconds != y->cp_seconds)
        return x->cp_seconds > y->cp_seconds;
    if (x->cp_steps != y->cp_steps)
        return x->cp_steps > y->cp_steps;
    if (a->step != b->step)
        return a->step < b->step;
    return a->instance < b->instance;
}

static void run_out_of_memory(struct pr_run *r);

static int heap_push(struct pr_run *r, struct pr_job *j)
{
    if (pr_grow((void **)&r->heap, &r->capheap, r->nheap + 1,
                sizeof *r->heap) < 0) {
        run_out_of_memory(r);
        return -1;
    }
    size_t k = r->nheap++;
    while (k && before(r, j, r->heap[(k - 1) / 2])) {
        r->heap[k] = r->heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    r->heap[k] = j;
    return 0;
}

static struct pr_job *heap_pop(struct pr_run *r)
{
    struct pr_job *top = r->heap[0], *x = r->heap[--r->nheap];
    size_t k = 0;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= r->nheap)
            break;
        if (c + 1 < r->nheap && before(r, r->heap[c + 1], r->heap[c]))
            c++;
        if (!before(r, r->heap[c], x))
            break;
        r->heap[k] = r->heap[c];
        k = c;
    }
    if (r->nheap)
        r->heap[k] = x;
    return top;
}

/* Memory ran out where no step can take the failure (a ready queue,
 * the loop): the run fails and stops; a step left unqueued ends
 * cancelled "stopped: out of memory". */
static void run_out_of_memory(struct pr_run *r)
{
    if (!r->failed_hard || !r->stop_reason[0]) {
        fputs("pomlrun: error: out of memory\n", stderr);
        snprintf(r->stop_reason, sizeof r->stop_reason,
                 "stopped: out of memory");
    }
    r->failed_hard = true;
    if (!r->cancelling)
        pr_sched_cancel(r);
}

static int now_push(struct pr_run *r, struct pr_job *j)
{
    if (pr_grow((void **)&r->now, &r->capnow, r->nnow + 1, sizeof *r->now) <
        0) {
        run_out_of_memory(r);
        return -1;
    }
    r->now[r->nnow++] = j;
    return 0;
}

/* An executor that limits itself still counts against a max_parallel
 * that bounds LLM steps (a swarm's parallel_limit). */
static bool limited(const struct pr_run *r, const struct pr_executor *x)
{
    return x->own_slots && (r->wf.flags & PR_WF_LIMIT_LLM) &&
           r->wf.max_parallel;
}

/* ---- outcomes ---- */

static void step_done(struct pr_job *j);
static void start_attempt(struct pr_job *j);

/* error_strategy: fail_fast: the first failure that fails the run stops
 * it (nothing new starts, what runs is stopped). */
static void fail_fast(struct pr_job *j)
{
    struct pr_run *r = j->run;
    char buf[64];
    if (!(r->wf.flags & PR_WF_FAIL_FAST) || r->cancelling ||
        j->status != PR_ST_FAILED || (pr_job_step(j)->flags & PR_SF_CONTINUE))
        return;
    snprintf(r->stop_reason, sizeof r->stop_reason,
             "stopped: step '%s' failed and error_strategy is fail_fast",
             pr_job_name(j, buf, sizeof buf));
    r->failed_hard = true;
    pr_run_note(r, j,
                "failed; error_strategy is fail_fast: stopping the "
                "run");
    pr_sched_cancel(r);
}

/* The reason a job is given when its own cannot be copied: the memory
 * ran out.  Static, never freed. */
static char no_memory_reason[] = "out of memory";

/* The memory value V takes, near enough: its nodes, names and text. */
static size_t value_bytes(const cJSON *v)
{
    size_t n = 0;
    for (; v; v = v->next) {
        n += sizeof *v + (v->string ? strlen(v->string) : 0) +
             (v->valuestring ? strlen(v->valuestring) : 0);
        if (v->child)
            n += value_bytes(v->child);
    }
    return n;
}

bool pr_run_hold(struct pr_run *r, long long n)
{
    if (n < 0) {
        unsigned long long m = (unsigned long long)-n;
        r->output_bytes = m < r->output_bytes ? r->output_bytes - m : 0;
        return true;
    }
    if (r->output_bytes + (unsigned long long)n > r->opt.max_output_memory)
        return false;
    r->output_bytes += (unsigned long long)n;
    return true;
}

/* Counts J's outputs in what the run holds.  When that passes
 * --max-output-memory, the outputs are dropped, and the reason why J
 * fails goes to WHY: false. */
static bool hold_outputs(struct pr_job *j, char *why, size_t cap)
{
    struct pr_run *r = j->run;
    size_t n = j->outputs ? value_bytes(j->outputs->child) : 0;
    r->output_bytes -= j->output_bytes;
    j->output_bytes = 0;
    if (r->output_bytes + n <= r->opt.max_output_memory) {
        r->output_bytes += n;
        j->output_bytes = n;
        return true;
    }
    snprintf(why, cap,
             "its outputs (%.1f MiB) would take the run's step outputs "
             "past --max-output-memory (%.0f MiB); they were dropped",
             (double)n / 1048576, (double)r->opt.max_output_memory / 1048576);
    cJSON_Delete(j->outputs);
    j->outputs = NULL;
    return false;
}

static void set_reason(struct pr_job *j, const char *reason)
{
    if (j->reason != no_memory_reason)
        free(j->reason);
    j->reason = dup_or_null(reason);
    if (reason && !j->reason)
        j->reason = no_memory_reason;
}

/* Ends a job that never ran (skipped, or failed before starting). */
static void end_unstarted(struct pr_job *j, enum pr_status st,
                          const char *reason)
{
    j->status = (uint8_t)st;
    set_reason(j, reason);
    j->finished_at = pr_wall_now(); /* no started_at: it never started */
    step_done(j);
}

/* A for_each step whose instances all finished. */
static void instances_done(struct pr_job *p)
{
    struct pr_run *r = p->run;
    const struct pr_step *s = pr_job_step(p);
    uint32_t nfail = 0, ncancel = 0, nok = 0;
    double last = p->started_at;
    for (uint32_t i = 0; i < p->ninst; i++) {
        struct pr_job *x = &p->inst[i];
        nfail += x->status == PR_ST_FAILED;
        ncancel += x->status == PR_ST_CANCELLED || x->status == PR_ST_WAITING;
        nok += x->status == PR_ST_SUCCEEDED;
        if (x->finished_at > last)
            last = x->finished_at;
        if (x->attempts > p->attempts)
            p->attempts = x->attempts;
    }
    /* outputs become lists in item order; an instance without an
       output gives null there */
    cJSON *lists = cJSON_CreateObject();
    struct column {
        cJSON *list;
        uint32_t count;
    } *cols = NULL;
    size_t ncols = 0, capcols = 0;
    for (uint32_t i = 0; lists && i < p->ninst; i++) {
        cJSON *o = p->inst[i].outputs, *e;
        cJSON_ArrayForEach (e, o) {
            if (!strcmp(e->string, "status") || !strcmp(e->string, "attempts"))
                continue;
            size_t c = 0;
            while (c < ncols && strcmp(cols[c].list->string, e->string))
                c++;
            if (c == ncols) {
                cJSON *l = cJSON_AddArrayToObject(lists, e->string);
                if (!l || pr_grow((void **)&cols, &capcols, ncols + 1,
                                  sizeof *cols) < 0)
                    break;
                cols[ncols++] = (struct column){l, 0};
            }
            for (; cols[c].count < i; cols[c].count++)
                cJSON_AddItemToArray(cols[c].list, cJSON_CreateNull());
            cJSON_AddItemToArray(cols[c].list, cJSON_Duplicate(e, true));
            cols[c].count++;
        }
    }
    /* the outputs every instance would have had, for an empty list */
    static const char *const builtin[PR_STEP_KINDS][4] = {
        [PR_STEP_SHELL] = {"stdout", "stderr", "exit_code"},
        [PR_STEP_AGGREGATE] = {"result"},
        [PR_STEP_WORKFLOW] = {"result", "outputs"}};
    for (size_t k = 0; lists && k < 4 && builtin[s->kind][k]; k++)
        if (!cJSON_GetObjectItemCaseSensitive(lists, builtin[s->kind][k]))
            cJSON_AddArrayToObject(lists, builtin[s->kind][k]);
    for (uint32_t k = 0; lists && k < s->outputs.n; k++) {
        const char *name = pr_plan_str(
            r->plan, pr_plan_list_at(r->plan, s->outputs, k), NULL);
        if (!cJSON_GetObjectItemCaseSensitive(lists, name))
            cJSON_AddArrayToObject(lists, name);
    }
    /* pad every list to one entry per instance */
    cJSON *l;
    cJSON_ArrayForEach (l, lists) {
        uint32_t have = 0;
        for (size_t c = 0; c < ncols; c++)
            if (cols[c].list == l)
                have = cols[c].count;
        for (; have < p->ninst; have++)
            cJSON_AddItemToArray(l, cJSON_CreateNull());
    }
    free(cols);
    pr_job_set_outputs(p, lists);
    p->finished_at = last > p->started_at ? last : pr_wall_now();
    char why[256];
    if (!hold_outputs(p, why, sizeof why)) {
        p->status = PR_ST_FAILED;
        set_reason(p, why);
    } else if (nfail) { /* also when its failure cancelled the rest */
        int n = snprintf(why, sizeof why, "%u of %u instance%s failed", nfail,
                         p->ninst, pr_plural(p->ninst));
        if (ncancel && n > 0 && (size_t)n < sizeof why)
            snprintf(why + n, sizeof why - (size_t)n, " (%u cancelled)",
                     ncancel);
        p->status = PR_ST_FAILED;
        set_reason(p, why);
    } else if (ncancel) {
        p->status = PR_ST_CANCELLED;
        set_reason(p, pr_cancel_reason(p->run));
    } else {
        p->status = PR_ST_SUCCEEDED;
    }
    (void)nok;
    step_done(p);
}

static void instance_done(struct pr_job *j)
{
    struct pr_job *p = j->parent;
    PR_NOTIFY(j->run, job_finished, j);
    fail_fast(j);
    if (++p->inst_done == p->ninst)
        instances_done(p);
}

static int enqueue(struct pr_job *j);

/* Decides what happens to a step whose dependencies all finished. */
static void make_ready(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    char err[512];
    if (r->cancelling) {
        end_unstarted(j, PR_ST_CANCELLED, pr_cancel_reason(r));
        return;
    }
    uint32_t b = r->blocker[j->step];
    if (b) {
        const struct pr_job *d = &r->jobs[b - 1];
        snprintf(err, sizeof err, "dependency '%s' %s", r->steps[b - 1].id,
                 pr_status_names[d->status]);
        end_unstarted(j, PR_ST_SKIPPED, err);
        return;
    }
    if (s->condition.p && !s->for_each.p) {
        cJSON *v;
        if (pr_run_expr(j, s->condition, &v, err, sizeof err) < 0) {
            char why[600];
            snprintf(why, sizeof why, "condition: %s", err);
            end_unstarted(j, PR_ST_FAILED, why);
            return;
        }
        bool t = pr_truthy(v);
        cJSON_Delete(v);
        if (!t) {
            end_unstarted(j, PR_ST_SKIPPED, "condition is false");
            return;
        }
    }
    if (s->for_each.p) {
        cJSON *list;
        if (pr_run_expr(j, s->for_each, &list, err, sizeof err) < 0) {
            char why[600];
            snprintf(why, sizeof why, "for_each: %s", err);
            end_unstarted(j, PR_ST_FAILED, why);
            return;
        }
        if (!cJSON_IsArray(list)) {
            snprintf(err, sizeof err, "for_each gave %s, not a list",
                     pr_json_type_name(list));
            cJSON_Delete(list);
            end_unstarted(j, PR_ST_FAILED, err);
            return;
        }
        uint32_t n = (uint32_t)cJSON_GetArraySize(list);
        j->started_at = pr_wall_now();
        j->status = PR_ST_RUNNING;
        j->inst = n ? calloc(n, sizeof *j->inst) : NULL;
        if (n && !j->inst) {
            cJSON_Delete(list);
            end_unstarted(j, PR_ST_FAILED, "out of memory");
            return;
        }
        j->ninst = n;
        PR_NOTIFY(r, job_started, j);
        cJSON *it = list->child;
        for (uint32_t i = 0; i < n; i++, it = it->next) {
            struct pr_job *x = &j->inst[i];
            x->run = r;
            x->step = j->step;
            x->instance = (int32_t)i;
            x->parent = j;
            x->index = i;
            x->item = it;
        }
        j->item = list; /* owns the items */
        if (n == 0) {
            instances_done(j);
            return;
        }
        /* backwards: ready queues of in-process and LLM jobs are stacks,
           so the instances start in item order */
        for (uint32_t i = n; i-- > 0;)
            enqueue(&j->inst[i]);
        return;
    }
    enqueue(j);
}

static int enqueue(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_executor *x = r->execs[j->step];
    j->queued = true;
    if (x->in_process || x->own_slots)
        return now_push(r, j);
    return heap_push(r, j);
}

/* A step finished (any status): count it, tell its dependents. */
static void step_done(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    r->done++;
    switch (j->status) {
    case PR_ST_SUCCEEDED:
        r->succeeded++;
        break;
    case PR_ST_FAILED:
        r->failed++;
        break;
    case PR_ST_SKIPPED:
        r->skipped++;
        break;
    default:
        r->cancelled++;
        break;
    }
    PR_NOTIFY(r, job_finished, j);
    bool passes = j->status == PR_ST_SUCCEEDED ||
                  (j->status == PR_ST_FAILED && (s->flags & PR_SF_CONTINUE));
    for (uint32_t k = 0; k < s->dependents.n; k++) {
        uint32_t e = pr_plan_list_at(r->plan, s->dependents, k);
        uint32_t d = e & ~PR_EDGE_AFTER;
        if (d >= r->nsteps)
            continue;
        if (r->pending[d] == 0)
            continue; /* it ran already: a phase ran again (feedback) */
        if (!passes && !(e & PR_EDGE_AFTER) && !r->blocker[d])
            r->blocker[d] = j->step + 1;
        if (--r->pending[d] == 0)
            now_push(r, &r->jobs[d]);
    }
    fail_fast(j);
}

/* ---- phase feedback ---- */

static bool in_phases(const struct pr_step *s, uint32_t from, uint32_t to)
{
    return (s->phase != PR_PLAN_NONE && s->phase >= from && s->phase <= to) ||
           (s->gate_of_phase != PR_PLAN_NONE && s->gate_of_phase >= from &&
            s->gate_of_phase <= to);
}

static void free_job(struct pr_job *j);

/* Takes a finished step back to waiting: its counts undone, its outputs
 * and attempts forgotten, and the dependents outside the phases that
 * still wait told to wait for it again. */
static void unfinish(struct pr_run *r, struct pr_job *j, uint32_t from,
                     uint32_t to)
{
    const struct pr_step *s = pr_job_step(j);
    /* what waits for a person is asked again when it runs again */
    for (uint32_t k = 0; k < j->ninst; k++)
        r->suspended -= j->inst[k].status == PR_ST_SUSPENDED;
    if (j->status == PR_ST_SUSPENDED) {
        r->suspended--;
    } else if (j->status >= PR_ST_SUCCEEDED) {
        r->done--;
        switch (j->status) {
        case PR_ST_SUCCEEDED:
            r->succeeded--;
            break;
        case PR_ST_FAILED:
            r->failed--;
            break;
        case PR_ST_SKIPPED:
            r->skipped--;
            break;
        default:
            r->cancelled--;
            break;
        }
        for (uint32_t k = 0; k < s->dependents.n; k++) {
            uint32_t d = pr_plan_list_at(r->plan, s->dependents, k) &
                         ~PR_EDGE_AFTER;
            if (d < r->nsteps && !in_phases(&r->steps[d], from, to) &&
                r->jobs[d].status == PR_ST_WAITING && r->pending[d])
                r->pending[d]++;
        }
    }
    free_job(j);
    uint32_t step = j->step;
    memset(j, 0, sizeof *j);
    j->run = r;
    j->step = step;
    j->instance = -1;
    r->blocker[step] = 0;
}

void pr_run_feedback(struct pr_job *gate, uint32_t from, uint32_t to)
{
    struct pr_run *r = gate->run;
    r->loops[to]++;
    for (uint32_t i = 0; i < r->nsteps; i++)
        if (in_phases(&r->steps[i], from, to))
            unfinish(r, &r->jobs[i], from, to);
    /* what each step of the phases waits for: the steps of the phases */
    for (uint32_t i = 0; i < r->nsteps; i++) {
        const struct pr_step *s = &r->steps[i];
        if (!in_phases(s, from, to))
            continue;
        r->pending[i] = 0;
        for (uint32_t k = 0; k < s->deps.n; k++) {
            uint32_t e = pr_plan_list_at(r->plan, s->deps, k);
            uint32_t d = e & ~PR_EDGE_AFTER;
            if (d >= r->nsteps)
                continue;
            if (in_phases(&r->steps[d], from, to))
                r->pending[i]++;
            else if (r->jobs[d].status != PR_ST_SUCCEEDED &&
                     !(e & PR_EDGE_AFTER) && !r->blocker[i] &&
                     !(r->jobs[d].status == PR_ST_FAILED &&
                       (r->steps[d].flags & PR_SF_CONTINUE)))
                r->blocker[i] = d + 1;
        }
        if (r->pending[i] == 0)
            now_push(r, &r->jobs[i]);
    }
}

/* ---- attempts ---- */

static double retry_delay(const struct pr_step *s, uint32_t attempt)
{
    double base = s->initial_delay, cap = s->max_delay;
    switch (s->backoff) {
    case PR_BACKOFF_NONE:
        return 0;
    case PR_BACKOFF_FIXED:
        return base < cap ? base : cap;
    default: {
        /* exponential with full jitter */
        double d = base * ldexp(1.0, (int)(attempt > 30 ? 30 : attempt - 1));
        if (d > cap)
            d = cap;
        return d * ((double)random() / (double)RAND_MAX);
    }
    }
}

static void record_attempt(struct pr_job *j, bool ok, const char *reason)
{
    if (!j->history)
        j->history = cJSON_CreateArray();
    cJSON *a = cJSON_CreateObject();
    if (!a || !j->history) {
        cJSON_Delete(a);
        return;
    }
    char t[64];
    pr_time_rfc3339(j->attempt_started, t);
    cJSON_AddStringToObject(a, "started_at", t);
    pr_time_rfc3339(pr_wall_now(), t);
    cJSON_AddStringToObject(a, "finished_at", t);
    cJSON_AddStringToObject(a, "status", ok ? "succeeded" : "failed");
    if (reason)
        cJSON_AddStringToObject(a, "reason", reason);
    cJSON *ec = cJSON_GetObjectItemCaseSensitive(j->outputs, "exit_code");
    if (ec)
        cJSON_AddItemToObject(a, "exit_code", cJSON_Duplicate(ec, false));
    cJSON_AddItemToArray(j->history, a);
}

/* Ends a job that waited (to retry, or in a ready queue) and does not
 * start again. */
static void end_held(struct pr_job *j, enum pr_status st, const char *why)
{
    j->queued = false;
    j->status = (uint8_t)st;
    set_reason(j, why);
    j->finished_at = pr_wall_now();
    if (j->parent)
        instance_done(j);
    else
        step_done(j);
}

/* ... when the run stopped. */
static void end_cancelled(struct pr_job *j)
{
    end_held(j, PR_ST_CANCELLED, pr_cancel_reason(j->run));
}

static void on_retry(void *ud)
{
    struct pr_job *j = ud;
    struct pr_run *r = j->run;
    j->timer = 0;
    j->retry_wait = false;
    r->waiting_retry--;
    if (r->cancelling) {
        end_cancelled(j);
        return;
    }
    enqueue(j);
}

/* The attempt of J ends: its timer and its slot go. */
static void end_attempt(struct pr_job *j)
{
    struct pr_run *r = j->run;
    if (j->timer) {
        pr_loop_cancel(r->loop, j->timer);
        j->timer = 0;
    }
    const struct pr_executor *x = r->execs[j->step];
    if (x->own_slots && limited(r, x))
        r->limited--;
    if (x->own_slots)
        r->inflight--;
    else if (!x->in_process)
        r->running--;
    if (!x->in_process)
        r->fd_starved = false; /* it gives its descriptors back */
}

/* J waits for a person: not finished, so its dependents wait. */
static void suspend(struct pr_job *j, const char *question, bool escalation)
{
    struct pr_run *r = j->run;
    set_reason(j, question);
    j->status = PR_ST_SUSPENDED;
    j->finished_at = pr_wall_now();
    r->suspended++;
    PR_NOTIFY(r, job_suspended, j, escalation);
}

void pr_job_suspend(struct pr_job *j, const char *question)
{
    struct pr_run *r = j->run;
    end_attempt(j);
    if (r->cancelling) {
        PR_NOTIFY(r, attempt_finished, j, false, pr_cancel_reason(r));
        end_held(j, PR_ST_CANCELLED, pr_cancel_reason(r));
        return;
    }
    PR_NOTIFY(r, attempt_finished, j, false, "waiting for a person");
    suspend(j, question, false);
}

/* escalate_to: human: the last attempt of J failed with REASON; J waits
 * for a decision.  False when the step does not escalate. */
static bool escalate(struct pr_job *j, const char *reason)
{
    struct pr_run *r = j->run;
    if (!(pr_job_step(j)->flags & PR_SF_ESCALATE) || r->cancelling)
        return false;
    if (!r->opt.answers) {
        /* nowhere to keep the question, nobody could answer it */
        pr_run_note(r, j, "not escalated: a decision is kept in the state "
                          "file, and this run keeps none");
        return false;
    }
    char q[600];
    snprintf(q, sizeof q, "failed after %u attempt%s (%s): retry, skip or "
             "abort?", j->attempts, pr_plural(j->attempts),
             reason ? reason : "failed");
    suspend(j, q, true);
    return true;
}

void pr_job_finish(struct pr_job *j, bool ok, const char *reason,
                   bool retryable)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    end_attempt(j);
    if (j->timed_out) {
        ok = false;
        reason = "timeout";
        retryable = true; /* whatever the stopped executor said */
    }
    if (r->cancelling && !ok) {
        reason = pr_cancel_reason(r);
        retryable = false;
    }
    char over[256];
    if (!hold_outputs(j, over, sizeof over)) {
        ok = false;
        reason = over;
        retryable = false;
    }
    if (s->max_attempts > 1)
        record_attempt(j, ok, reason);
    PR_NOTIFY(r, attempt_finished, j, ok, reason);
    j->finished_at = pr_wall_now();
    uint32_t max = s->max_attempts; /* at least 1: the loader checks */
    if (!ok && retryable && j->attempts < max && !r->cancelling) {
        double d = retry_delay(s, j->attempts);
        /* the server's wish (Retry-After), up to PR_RETRY_AFTER_MAX as
           the providers' SDKs honour it: the step's max_delay bounds
           its own backoff, not what the server asks for */
        if (j->retry_after > d)
            d = j->retry_after < PR_RETRY_AFTER_MAX ? j->retry_after
                                                    : PR_RETRY_AFTER_MAX;
        PR_NOTIFY(r, job_retrying, j, reason, d);
        j->timer = pr_loop_timer(r->loop, d, on_retry, j);
        if (j->timer) {
            j->retry_wait = true;
            r->waiting_retry++;
            return;
        }
    }
    if (!ok && escalate(j, reason))
        return;
    set_reason(j, ok ? NULL : reason ? reason : "failed");
    j->status = ok              ? PR_ST_SUCCEEDED
                : r->cancelling ? PR_ST_CANCELLED
                                : PR_ST_FAILED;
    if (j->parent)
        instance_done(j);
    else
        step_done(j);
}

/* The condition of a for_each step holds per item: false skips the
 * instance.  True when the instance goes ahead. */
static bool instance_condition(struct pr_job *j)
{
    const struct pr_step *s = pr_job_step(j);
    char err[512], why[600];
    cJSON *v;
    if (j->instance < 0 || j->attempts || !s->condition.p)
        return true;
    const char *reason = NULL;
    if (pr_run_expr(j, s->condition, &v, err, sizeof err) < 0) {
        snprintf(why, sizeof why, "condition: %s", err);
        j->status = PR_ST_FAILED;
        reason = why;
    } else {
        bool t = pr_truthy(v);
        cJSON_Delete(v);
        if (t)
            return true;
        j->status = PR_ST_SKIPPED;
        reason = "condition is false";
    }
    set_reason(j, reason);
    j->finished_at = pr_wall_now();
    instance_done(j);
    return false;
}

/* Before J's first attempt: the memo may have its result.  True when J
 * succeeded with it and does not run. */
static bool reuse(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_memo *m = r->opt.memo;
    if (!m || j->attempts || j->reused)
        return false;
    struct pr_memo_answer a = {NULL, 0};
    m->ask(m->ud, j, &a);
    j->attempt_base = a.earlier_attempts;
    if (!a.outputs)
        return false;
    j->reused = true;
    j->status = PR_ST_RUNNING;
    j->started_at = pr_wall_now();
    if (!j->announced) {
        j->announced = true;
        PR_NOTIFY(r, job_started, j);
    }
    pr_job_set_outputs(j, a.outputs);
    char why[256];
    bool held = hold_outputs(j, why, sizeof why);
    set_reason(j, held ? NULL : why);
    j->status = held ? PR_ST_SUCCEEDED : PR_ST_FAILED;
    j->finished_at = pr_wall_now();
    if (j->parent)
        instance_done(j);
    else
        step_done(j);
    return true;
}

/* A job of a step that escalates, resumed: what a person decided.  True
 * when it goes ahead (retry, or never escalated). */
static bool decided(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_answers *a = r->opt.answers;
    if (j->attempts || !(pr_job_step(j)->flags & PR_SF_ESCALATE) || !a ||
        !a->decision)
        return true;
    char who[128] = "", why[300];
    enum pr_decision d = a->decision(a->ud, j, who, sizeof who);
    const char *by = who[0] ? " by " : "";
    switch (d) {
    case PR_DECIDE_WAITING:
        suspend(j, "still waiting for a decision: retry, skip or abort?",
                true);
        return false;
    case PR_DECIDE_SKIP:
        snprintf(why, sizeof why, "skipped on escalation%s%s", by, who);
        end_held(j, PR_ST_SKIPPED, why);
        return false;
    case PR_DECIDE_ABORT:
        snprintf(why, sizeof why, "aborted on escalation%s%s", by, who);
        snprintf(r->stop_reason, sizeof r->stop_reason,
                 "stopped: the run was aborted on escalation%s%s", by, who);
        r->failed_hard = true;
        end_held(j, PR_ST_FAILED, why);
        pr_sched_cancel(r);
        return false;
    case PR_DECIDE_RETRY:
        pr_run_note(r, j, "retried on escalation%s%s", by, who);
        return true;
    default:
        return true;
    }
}

static void start_attempt(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_executor *x = r->execs[j->step];
    j->queued = false;
    if (!instance_condition(j) || reuse(j) || !decided(j))
        return;
    j->attempts++;
    j->timed_out = false;
    j->retry_after = -1;
    j->status = PR_ST_RUNNING;
    j->attempt_started = pr_wall_now();
    if (j->attempts == 1)
        j->started_at = j->attempt_started;
    j->mono_started = pr_loop_now();
    if (x->own_slots && limited(r, x))
        r->limited++;
    if (x->own_slots)
        r->inflight++;
    if (!x->in_process) {
        if (!x->own_slots)
            r->running++;
        pr_timeout_start(j);
    }
    if (!j->announced) {
        j->announced = true;
        PR_NOTIFY(r, job_started, j);
    }
    PR_NOTIFY(r, attempt_started, j);
    x->start(j);
}

void pr_job_defer(struct pr_job *j, const char *why)
{
    struct pr_run *r = j->run;
    if (j->timer) {
        pr_loop_cancel(r->loop, j->timer);
        j->timer = 0;
    }
    r->running--;
    if (r->running == 0 && r->inflight == 0) {
        /* nothing of this run holds a descriptor it could give back */
        r->running++;
        pr_job_finish(j, false, why, false);
        return;
    }
    j->attempts--;
    j->status = PR_ST_WAITING;
    j->queued = true;
    if (heap_push(r, j) < 0) {
        r->running++;
        pr_job_finish(j, false, "out of memory", false);
        return;
    }
    r->fd_starved = true;
    if (!r->fd_noted) {
        r->fd_noted = true;
        pr_run_note(r, j,
                    "out of file descriptors (%s); steps wait for "
                    "running ones to end before they start",
                    why);
    }
}

/* Runs everything that can run now. */
static void dispatch(struct pr_run *r)
{
    for (;;) {
        if (r->nnow) {
            struct pr_job *j = r->now[--r->nnow];
            if (j->queued && limited(r, r->execs[j->step]) &&
                r->limited + r->nheld >= r->wf.max_parallel) {
                /* waits for one of its kind to finish, in order */
                if (pr_grow((void **)&r->held, &r->capheld, r->nheld + 1,
                            sizeof *r->held) == 0)
                    r->held[r->nheld++] = j;
                else
                    end_held(j, PR_ST_FAILED, "out of memory");
                continue;
            }
            if (j->queued)
                start_attempt(j); /* an in-process or LLM job */
            else
                make_ready(j); /* its dependencies finished */
            continue;
        }
        if (r->nheld && !r->cancelling && r->limited < r->wf.max_parallel) {
            struct pr_job *j = r->held[0];
            memmove(r->held, r->held + 1, --r->nheld * sizeof *r->held);
            start_attempt(j);
            continue;
        }
        if (r->nheap && !r->cancelling && r->running < r->opt.jobs &&
            !r->fd_starved) {
            start_attempt(heap_pop(r));
            continue;
        }
        break;
    }
}

/* ---- cancelling ---- */

void pr_sched_stop_all(struct pr_run *r, int sig)
{
    for (uint32_t i = 0; i < r->nsteps; i++) {
        struct pr_job *j = &r->jobs[i];
        const struct pr_executor *x = r->execs[i];
        if (x->in_process)
            continue;
        struct pr_job *list = j->inst ? j->inst : j;
        uint32_t n = j->inst ? j->ninst : 1;
        for (uint32_t k = 0; k < n; k++)
            if (list[k].status == PR_ST_RUNNING && !list[k].queued &&
                !list[k].retry_wait)
                x->stop(&list[k], sig);
    }
}

/* Steps waiting between attempts end now: the run is cancelling. */
static void end_retry_waits(struct pr_run *r)
{
    for (uint32_t i = 0; i < r->nsteps; i++) {
        struct pr_job *j = &r->jobs[i];
        struct pr_job *list = j->inst ? j->inst : j;
        uint32_t n = j->inst ? j->ninst : 1;
        for (uint32_t k = 0; k < n; k++) {
            struct pr_job *x = &list[k];
            if (!x->retry_wait)
                continue;
            pr_loop_cancel(r->loop, x->timer);
            on_retry(x);
        }
    }
}

void pr_sched_cancel(struct pr_run *r)
{
    r->cancelling = true;
    pr_sched_stop_all(r, SIGTERM);
    end_retry_waits(r);
}

void pr_run_stop_starting(struct pr_run *r, const char *why)
{
    if (r->cancelling)
        return;
    snprintf(r->stop_reason, sizeof r->stop_reason, "%s", why);
    r->failed_hard = true;
    r->cancelling = true;
    end_retry_waits(r);
}

static void kill_stragglers(void *ud)
{
    struct pr_run *r = ud;
    pr_sched_stop_all(r, SIGKILL);
}

/* ---- the run ---- */

static void make_run_id(struct pr_run *r)
{
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rbe");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f)
        fclose(f);
    for (size_t i = got; i < sizeof b; i++)
        b[i] = (unsigned char)random();
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* UUID version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(r->run_id, sizeof r->run_id,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    unsigned seed = 0;
    for (size_t i = 0; i < sizeof b; i++)
        seed = seed * 31 + b[i];
    srandom(seed ^ (unsigned)getpid());
}

int pr_run_init(struct pr_run *r, const struct pr_plan *plan, cJSON *params,
                const struct pr_run_opts *opt)
{
    memset(r, 0, sizeof *r);
    r->plan = plan;
    r->params = params;
    r->opt = *opt;
    r->nsteps = plan->nsteps;
    pr_plan_workflow(plan, &r->wf);
    size_t n = (size_t)r->nsteps + 1;
    r->steps = calloc(n, sizeof *r->steps);
    r->jobs = calloc(n, sizeof *r->jobs);
    r->pending = calloc(n, sizeof *r->pending);
    r->blocker = calloc(n, sizeof *r->blocker);
    r->kind_state = calloc(n, sizeof *r->kind_state);
    r->loops = calloc((size_t)plan->nphases + 1, sizeof *r->loops);
    r->execs = calloc(n, sizeof *r->execs);
    r->loop = pr_loop_new();
    if (!r->steps || !r->jobs || !r->pending || !r->blocker ||
        !r->kind_state || !r->loops || !r->execs || !r->loop) {
        fputs("pomlrun: error: out of memory\n", stderr);
        return -1;
    }
    for (uint32_t i = 0; i < r->nsteps; i++) {
        pr_plan_step(plan, i, &r->steps[i]);
        r->jobs[i].run = r;
        r->jobs[i].step = i;
        r->jobs[i].instance = -1;
        r->pending[i] = r->steps[i].deps.n;
    }
    if (opt->executors)
        r->exec = *opt->executors;
    for (uint32_t i = 0; i < r->nsteps; i++) {
        const struct pr_step *s = &r->steps[i];
        const struct pr_executor *x = r->exec.choose ? r->exec.choose(plan, s)
                                                     : NULL;
        if (!x && s->kind < PR_STEP_KINDS)
            x = r->exec.kind[s->kind];
        if (!x) {
            fprintf(stderr,
                    "pomlrun: error: step '%s': this pomlrun has "
                    "no executor for its kind of step\n",
                    s->id);
            return -1;
        }
        r->execs[i] = x;
    }
    if (r->opt.jobs == 0)
        r->opt.jobs = 1;
    if (r->wf.max_parallel && r->wf.max_parallel < r->opt.jobs)
        r->opt.jobs = r->wf.max_parallel;
    if (r->opt.kill_grace < 0)
        r->opt.kill_grace = 5;
    if (r->opt.max_output_memory == 0)
        r->opt.max_output_memory = PR_MAX_OUTPUT_MEMORY_DEFAULT;
    if (opt->run_id && strlen(opt->run_id) < sizeof r->run_id)
        snprintf(r->run_id, sizeof r->run_id, "%s", opt->run_id);
    else
        make_run_id(r);
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/pomlrun-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(path)) {
        fprintf(stderr,
                "pomlrun: error: cannot create a directory in "
                "'%s': %s; set TMPDIR to a writable directory\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return -1;
    }
    r->tmpdir = strdup(path);
    if (!r->tmpdir) {
        rmdir(path);
        fputs("pomlrun: error: out of memory\n", stderr);
        return -1;
    }
    pr_signals_watch(r);
    return 0;
}

void pr_run_usage(const struct pr_run *r, struct pr_usage *u)
{
    memset(u, 0, sizeof *u);
    if (r->exec.usage)
        r->exec.usage(r, u);
}

int pr_run_exec(struct pr_run *r)
{
    r->started_at = pr_wall_now();
    r->mono0 = pr_loop_now();
    PR_NOTIFY(r, run_started, r);
    for (uint32_t i = 0; i < r->nsteps; i++)
        if (r->pending[i] == 0)
            now_push(r, &r->jobs[i]);
    /* reverse, so that the stack pops them in plan order */
    for (size_t a = 0, b = r->nnow; b > a + 1; a++, b--) {
        struct pr_job *t = r->now[a];
        r->now[a] = r->now[b - 1];
        r->now[b - 1] = t;
    }
    pr_sla_start(r);
    bool straggler_timer = false;
    for (;;) {
        dispatch(r);
        if (r->cancelling) {
            /* ready steps never start */
            while (r->nheap) {
                struct pr_job *j = heap_pop(r);
                j->queued = false;
                end_cancelled(j);
            }
            while (r->nheld)
                end_held(r->held[--r->nheld], PR_ST_CANCELLED,
                         pr_cancel_reason(r));
            dispatch(r);
            if (!straggler_timer && (r->running || r->inflight)) {
                pr_loop_timer(r->loop, r->opt.kill_grace, kill_stragglers, r);
                straggler_timer = true;
            }
            if (r->running == 0 && r->inflight == 0 && r->waiting_retry == 0)
                break;
        } else if (r->done == r->nsteps) {
            break;
        } else if (r->running == 0 && r->inflight == 0 &&
                   r->waiting_retry == 0 && !r->nheap && !r->nnow &&
                   !r->nheld) {
            /* nothing can make progress: cannot happen with a valid
               plan, but never spin */
            break;
        }
        errno = 0;
        if (pr_loop_once(r->loop, -1) < 0 && errno != EINTR) {
            if (errno == ENOMEM) {
                /* the loop cannot wait for what runs any more */
                run_out_of_memory(r);
                pr_sched_stop_all(r, SIGKILL);
            }
            break;
        }
    }
    if (r->sla_timer)
        pr_loop_cancel(r->loop, r->sla_timer);
    /* steps that never became ready */
    for (uint32_t i = 0; i < r->nsteps; i++) {
        struct pr_job *j = &r->jobs[i];
        if (j->status == PR_ST_WAITING || j->status == PR_ST_RUNNING) {
            j->status = PR_ST_CANCELLED;
            set_reason(j, r->suspended && !r->cancelling
                              ? "waits for a step that waits for a person"
                              : pr_cancel_reason(j->run));
            r->cancelled++;
            r->done++;
        }
    }
    /* a step that failed without on_failure: continue fails the run */
    for (uint32_t i = 0; i < r->nsteps; i++)
        if (r->jobs[i].status == PR_ST_FAILED &&
            !(r->steps[i].flags & PR_SF_CONTINUE))
            r->failed_hard = true;
    if ((r->failed_hard || r->sla_exceeded || r->suspended) && !r->signal)
        pr_run_on_failure(r);
    r->finished_at = pr_wall_now();
    PR_NOTIFY(r, run_finished, r);
    if (r->signal)
        return 128 + r->signal;
    return r->failed_hard ? 1 : r->suspended ? PR_EXIT_SUSPENDED : 0;
}

static void free_job(struct pr_job *j)
{
    if (j->run) /* NULL: pr_run_init failed before setting it */
        j->run->output_bytes -= j->output_bytes;
    j->output_bytes = 0;
    if (j->reason != no_memory_reason)
        free(j->reason);
    cJSON_Delete(j->outputs);
    cJSON_Delete(j->history);
    cJSON_Delete(j->handed);
    for (uint32_t k = 0; k < j->ninst; k++)
        free_job(&j->inst[k]);
    free(j->inst);
    if (j->instance < 0)
        cJSON_Delete(j->item);
}

/* Removes the run's temporary directory DIR and whatever a step, an
 * aggregation or a sub-workflow left in it (files only: nothing here
 * makes a directory inside it), on every way a run ends. */
static void remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4400];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    if (rmdir(dir) < 0 && errno != ENOENT)
        fprintf(stderr, "pomlrun: warning: cannot remove '%s': %s\n", dir,
                strerror(errno));
}

void pr_run_free(struct pr_run *r)
{
    for (uint32_t i = 0; r->jobs && i < r->nsteps; i++) {
        const struct pr_executor *x = r->execs ? r->execs[i] : NULL;
        if (r->kind_state && r->kind_state[i] && x && x->release)
            x->release(r->kind_state[i]);
        free_job(&r->jobs[i]);
    }
    if (r->tmpdir) {
        remove_tmpdir(r->tmpdir);
        free(r->tmpdir);
    }
    pr_loop_free(r->loop);
    free(r->steps);
    free(r->jobs);
    free(r->pending);
    free(r->blocker);
    free(r->kind_state);
    free(r->loops);
    free(r->execs);
    free(r->heap);
    free(r->now);
    free(r->held);
    free(r->obs);
    cJSON_Delete(r->params);
}
