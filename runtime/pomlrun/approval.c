/* approval.c -- approval steps and escalations: a person in the loop
 *
 * An approval step looks its answer up in the state file, against (run,
 * step, instance), so a resumed run (the same id) finds what a person
 * said with --approve or --reject.  Without one it waits: the job is
 * suspended, the recorder asks the question in the state file, and the
 * run ends with PR_EXIT_SUSPENDED when nothing else can run.  Approved,
 * the step's outputs are the answer's value (an object's members, or
 * `value`) with `approved`, `by` and `comment`; rejected, it fails with
 * the comment.  `timeout` counts from the question: past it without an
 * answer the step fails.  The same table holds the decisions on
 * escalated jobs (retry, skip, abort), read through pr_answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "record.h"
#include "schema.h"
#include "store.h"
#include "util.h"

static struct pr_store *store_of(const struct pr_run *r)
{
    const struct pr_recorder *rec = r->opt.host;
    return rec ? rec->store : NULL;
}

/* The question of J in the state file: 1 (into *OUT), 0, or -1 with the
 * reason in ERR. */
static int look_up(const struct pr_job *j, cJSON **out, char *err, size_t cap)
{
    struct pr_store *s = store_of(j->run);
    *out = NULL;
    if (!s)
        return pr_errf(err, cap, "a person's answer is kept in the state "
                                 "file, and this run keeps none");
    int rc = s->ops->approval(s, j->run->run_id, pr_job_step(j)->id,
                              j->instance, out);
    if (rc < 0)
        pr_errf(err, cap, "%s", pr_store_error(s));
    return rc;
}

static const char *text_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double number_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Approved: the value and who said so become J's outputs. */
static void approved(struct pr_job *j, const cJSON *a)
{
    const struct pr_step *s = pr_job_step(j);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "value");
    char err[512];
    if (v && s->output_schema) {
        cJSON *schema = cJSON_Parse(s->output_schema);
        bool ok = pr_schema_check(v, schema, err, sizeof err);
        cJSON_Delete(schema);
        if (!ok) {
            char why[600];
            snprintf(why, sizeof why, "the approved value does not match "
                     "the step's schema: %s", err);
            pr_job_finish(j, false, why, false);
            return;
        }
    }
    cJSON *out = cJSON_IsObject(v) ? cJSON_Duplicate(v, true)
                                   : cJSON_CreateObject();
    if (out && v && !cJSON_IsObject(v) && !cJSON_IsNull(v))
        cJSON_AddItemToObject(out, "value", cJSON_Duplicate(v, true));
    const char *by = text_of(a, "answered_by"), *c = text_of(a, "reason");
    cJSON_DeleteItemFromObjectCaseSensitive(out, "approved");
    cJSON_AddBoolToObject(out, "approved", true);
    cJSON_DeleteItemFromObjectCaseSensitive(out, "by");
    cJSON_AddStringToObject(out, "by", by ? by : "");
    cJSON_DeleteItemFromObjectCaseSensitive(out, "comment");
    cJSON_AddStringToObject(out, "comment", c ? c : "");
    pr_job_set_outputs(j, out);
    pr_job_finish(j, true, NULL, false);
}

static void approval_start(struct pr_job *j)
{
    const struct pr_step *s = pr_job_step(j);
    char err[600], why[800];
    cJSON *a;
    int rc = look_up(j, &a, err, sizeof err);
    if (rc < 0) {
        pr_job_finish(j, false, err, false);
        return;
    }
    const char *d = rc ? text_of(a, "decision") : NULL;
    double deadline = rc ? number_of(a, "deadline") : 0;
    if (d && !strcmp(d, "approve")) {
        approved(j, a);
    } else if (d) {
        const char *by = text_of(a, "answered_by"), *c = text_of(a, "reason");
        snprintf(why, sizeof why, "rejected%s%s%s%s", by ? " by " : "",
                 by ? by : "", c && *c ? ": " : "", c && *c ? c : "");
        pr_job_finish(j, false, why, false);
    } else if (deadline > 0 && pr_wall_now() > deadline) {
        snprintf(why, sizeof why, "no answer within the timeout (%g s)",
                 s->timeout);
        pr_job_finish(j, false, why, false);
    } else {
        cJSON *p = NULL;
        if (pr_run_interp(j, s->prompt, &p, err, sizeof err) < 0) {
            snprintf(why, sizeof why, "prompt: %s", err);
            pr_job_finish(j, false, why, false);
        } else {
            char *t = cJSON_IsString(p) ? NULL : cJSON_PrintUnformatted(p);
            pr_job_suspend(j, cJSON_IsString(p) ? p->valuestring
                              : t               ? t
                                                : "approve?");
            free(t);
        }
        cJSON_Delete(p);
    }
    cJSON_Delete(a);
}

static void approval_stop(struct pr_job *j, int sig)
{
    (void)j;
    (void)sig; /* it finishes inside start */
}

const struct pr_executor pr_exec_approval = {
    .in_process = true, .start = approval_start, .stop = approval_stop};

static enum pr_decision decision(void *ud, const struct pr_job *j, char *who,
                                 size_t cap)
{
    (void)ud;
    cJSON *a;
    char err[600];
    int rc = look_up(j, &a, err, sizeof err);
    enum pr_decision out = PR_DECIDE_NONE;
    const char *d = rc > 0 ? text_of(a, "decision") : NULL;
    const char *kind = rc > 0 ? text_of(a, "kind") : NULL;
    if (rc > 0 && kind && !strcmp(kind, "escalation"))
        out = !d                      ? PR_DECIDE_WAITING
              : !strcmp(d, "retry") ? PR_DECIDE_RETRY
              : !strcmp(d, "skip")  ? PR_DECIDE_SKIP
              : !strcmp(d, "abort") ? PR_DECIDE_ABORT
                                    : PR_DECIDE_NONE;
    const char *by = rc > 0 ? text_of(a, "answered_by") : NULL;
    snprintf(who, cap, "%s", by ? by : "");
    cJSON_Delete(a);
    return out;
}

const struct pr_answers pr_answers_state = {.decision = decision};
