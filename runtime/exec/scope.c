/* scope.c -- what expressions see: a step's outputs, parameters, the
 * for_each item; evaluation of expressions, interpolations and template
 * values for a job
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "eval.h"
#include "run.h"
#include "sched_int.h"

static const char *plan_str(void *ud, uint32_t idx, size_t *len)
{
    const struct pr_plan *p = ud;
    if (idx >= p->sec[PR_SEC_STRINGS].size)
        return NULL;
    return pr_plan_str(p, idx, len);
}

/* The outputs object of a finished job as expressions see it. */
static cJSON *job_view(struct pr_job *j)
{
    if (!j->outputs)
        j->outputs = cJSON_CreateObject();
    if (j->outputs &&
        !cJSON_GetObjectItemCaseSensitive(j->outputs, "status")) {
        cJSON_AddStringToObject(j->outputs, "status",
                                pr_status_names[j->status]);
        cJSON_AddNumberToObject(j->outputs, "attempts",
                                j->attempt_base + j->attempts);
    }
    return j->outputs;
}

static const char *env_str(void *ud, uint32_t idx, size_t *len)
{
    return plan_str((void *)((struct pr_run *)ud)->plan, idx, len);
}

/* The STEP instruction: the plan gives the index, checked below nsteps. */
static cJSON *env_step(void *ud, uint32_t index)
{
    struct pr_run *r = ud;
    return r->jobs[index].status >= PR_ST_SUCCEEDED ? job_view(&r->jobs[index])
                                                    : NULL;
}

int pr_run_expr_item(struct pr_job *j, struct pr_code code, cJSON *item,
                     long long index, bool has_item, cJSON **out, char *err,
                     size_t errcap)
{
    struct pr_run *r = j->run;
    struct pr_eval_env env = {.str = env_str,
                              .step = env_step,
                              .nsteps = r->nsteps,
                              .ud = r,
                              .params = r->params,
                              .item = item,
                              .index = index,
                              .has_item = has_item};
    return pr_eval(code.p, code.len, &env, out, err, errcap);
}

int pr_run_expr(struct pr_job *j, struct pr_code code, cJSON **out, char *err,
                size_t errcap)
{
    return pr_run_expr_item(j, code, j->item, j->index, j->instance >= 0, out,
                            err, errcap);
}

int pr_run_interp(struct pr_job *j, uint32_t interp, cJSON **out, char *err,
                  size_t errcap)
{
    const struct pr_plan *p = j->run->plan;
    struct pr_interp_view iv;
    *out = NULL;
    if (interp == PR_PLAN_NONE) {
        *out = cJSON_CreateString("");
        return *out ? 0 : pr_errf(err, errcap, "out of memory");
    }
    pr_plan_interp(p, interp, &iv);
    if (iv.pure && iv.n == 1) {
        struct pr_part_view pv;
        pr_plan_part(p, iv.first, &pv);
        if (pv.kind == 1)
            return pr_run_expr(j, pv.code, out, err, errcap);
    }
    struct pr_buf b;
    pr_buf_init(&b);
    for (uint32_t k = 0; k < iv.n; k++) {
        struct pr_part_view pv;
        pr_plan_part(p, iv.first + k, &pv);
        if (pv.kind == 0) {
            if (pr_buf_append(&b, pv.text, pv.text_len) < 0)
                goto oom;
            continue;
        }
        cJSON *v;
        if (pr_run_expr(j, pv.code, &v, err, errcap) < 0) {
            pr_buf_free(&b);
            return -1;
        }
        char *t = pr_value_text(v);
        cJSON_Delete(v);
        if (!t || pr_buf_append(&b, t, strlen(t)) < 0) {
            free(t);
            goto oom;
        }
        free(t);
    }
    if (pr_buf_append_u8(&b, 0) < 0)
        goto oom;
    *out = cJSON_CreateString(b.data ? (char *)b.data : "");
    pr_buf_free(&b);
    return *out ? 0 : pr_errf(err, errcap, "out of memory");
oom:
    pr_buf_free(&b);
    return pr_errf(err, errcap, "out of memory");
}

int pr_run_tval(struct pr_job *j, uint32_t tval, cJSON **out, char *err,
                size_t errcap)
{
    const struct pr_plan *p = j->run->plan;
    struct pr_tval_view tv;
    *out = NULL;
    if (tval == PR_PLAN_NONE) {
        *out = cJSON_CreateNull();
        return 0;
    }
    pr_plan_tval(p, tval, &tv);
    switch (tv.kind) {
    case PR_TV_NULL:
        *out = cJSON_CreateNull();
        break;
    case PR_TV_BOOL:
        *out = cJSON_CreateBool(tv.b);
        break;
    case PR_TV_NUM:
        *out = cJSON_CreateNumber(tv.num);
        break;
    case PR_TV_STR:
        return pr_run_interp(j, tv.interp, out, err, errcap);
    case PR_TV_LIST:
    case PR_TV_MAP: {
        cJSON *c = tv.kind == PR_TV_LIST ? cJSON_CreateArray()
                                         : cJSON_CreateObject();
        for (uint32_t k = 0; c && k < tv.n; k++) {
            cJSON *v;
            if (pr_run_tval(j, tv.first + k, &v, err, errcap) < 0) {
                cJSON_Delete(c);
                return -1;
            }
            if (tv.kind == PR_TV_LIST) {
                cJSON_AddItemToArray(c, v);
            } else {
                struct pr_list keys = {tv.keys, tv.n};
                const char *key = pr_plan_str(p, pr_plan_list_at(p, keys, k),
                                              NULL);
                cJSON_AddItemToObject(c, key, v);
            }
        }
        *out = c;
        break;
    }
    }
    return *out ? 0 : pr_errf(err, errcap, "out of memory");
}

void pr_job_output(struct pr_job *j, const char *name, cJSON *v)
{
    if (!v)
        return;
    if (!j->outputs)
        j->outputs = cJSON_CreateObject();
    if (!j->outputs) {
        cJSON_Delete(v);
        return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(j->outputs, name);
    if (cJSON_AddItemToObject(j->outputs, name, v))
        PR_NOTIFY(j->run, output, j, name, v);
    else
        cJSON_Delete(v);
}

void pr_job_set_outputs(struct pr_job *j, cJSON *outputs)
{
    cJSON_Delete(j->outputs);
    j->outputs = outputs;
    const cJSON *e;
    cJSON_ArrayForEach (e, outputs) {
        PR_NOTIFY(j->run, output, j, e->string, e);
    }
}

void pr_job_retry_after(struct pr_job *j, double seconds)
{
    j->retry_after = seconds;
}

void pr_job_hand(struct pr_job *to, cJSON *v)
{
    cJSON_Delete(to->handed);
    to->handed = v;
}

cJSON *pr_job_take_handed(struct pr_job *j)
{
    cJSON *v = j->handed;
    j->handed = NULL;
    return v;
}

const cJSON *pr_job_main_output(const struct pr_job *j)
{
    static const char *const names[] = {"result", "json", "text", "stdout",
                                        NULL};
    if (j->status != PR_ST_SUCCEEDED && j->status != PR_ST_FAILED)
        return NULL;
    for (size_t k = 0; names[k]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j->outputs,
                                                          names[k]);
        if (v)
            return v;
    }
    return NULL;
}

cJSON *pr_reply_output(const cJSON *json, const char *text, const char *name,
                       uint32_t noutputs)
{
    const cJSON *f = cJSON_IsObject(json)
                         ? cJSON_GetObjectItemCaseSensitive(json, name)
                         : NULL;
    if (f)
        return cJSON_Duplicate(f, true);
    if (noutputs != 1)
        return cJSON_CreateNull();
    return json ? cJSON_Duplicate(json, true) : cJSON_CreateString(text);
}
