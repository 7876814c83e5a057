/* exec_agg.c -- steps that run inside pomlrun: gates and aggregators
 *
 * Aggregator items: the step's `inputs` when it has them (a list; or a
 * mapping with one entry holding a list; or the values of a mapping),
 * else the main output of each dependency in order (a dependency that did
 * not succeed gives null).  Strategies:
 *   concat                 strings joined by newlines; lists concatenated;
 *                          anything else collected into a list
 *   merge                  objects merged left to right (later keys win)
 *   merge_and_deduplicate  lists flattened into one, duplicates (by value)
 *                          dropped, first occurrence kept
 *   first_success          the first item that is not null
 *   vote                   the most common value (ties: the earliest)
 *   reduce                 numbers summed, strings and lists concatenated,
 *                          objects merged
 * The result is output `result` and every declared output.  A strategy
 * of the workflow's `aggregation:` section that is a `run` command runs as
 * a process (pr_exec_agg_cmd): the items in the file $POML_ITEMS names,
 * the result its standard output.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval.h"
#include "exec_proc.h"
#include "run.h"

/* ---- gates ---- */

/* A phase's feedback: when its condition holds and loops remain, the
 * phases from its target to this one run again (the gate does not
 * finish: it waits again with them).  True when that happened. */
static bool feedback(struct pr_job *j, const struct pr_phase *ph,
                     uint32_t self)
{
    struct pr_run *r = j->run;
    cJSON *v;
    char err[400];
    if (pr_run_expr(j, ph->feedback_when, &v, err, sizeof err) < 0) {
        pr_run_note(r, j, "phase '%s' feedback: %s; going on", ph->name, err);
        return false;
    }
    bool again = pr_truthy(v);
    cJSON_Delete(v);
    if (!again)
        return false;
    struct pr_phase to;
    pr_plan_phase(r->plan, ph->feedback_to, &to);
    unsigned max = ph->max_loops; /* at least 1: the loader checks */
    if (r->loops[self] >= max) {
        pr_run_note(r, j,
                    "phase '%s' feedback to '%s': all %u loops taken; "
                    "going on",
                    ph->name, to.name, max);
        return false;
    }
    pr_run_note(r, j, "phase '%s' feedback: back to '%s' (loop %u of %u)",
                ph->name, to.name, r->loops[self] + 1, max);
    pr_run_feedback(j, ph->feedback_to, self);
    return true;
}

static void gate_start(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    char why[600];
    if (s->gate_of_phase == PR_PLAN_NONE) {
        pr_job_finish(j, true, NULL, false);
        return;
    }
    struct pr_phase ph;
    pr_plan_phase(r->plan, s->gate_of_phase, &ph);
    uint32_t total = 0, passed = 0, succeeded = 0;
    for (uint32_t k = 0; k < s->deps.n; k++) {
        uint32_t e = pr_plan_list_at(r->plan, s->deps, k);
        uint32_t d = e & ~PR_EDGE_AFTER;
        if (!(e & PR_EDGE_AFTER) || d >= r->nsteps ||
            r->steps[d].phase != s->gate_of_phase)
            continue;
        const struct pr_job *x = &r->jobs[d];
        if (x->status == PR_ST_SKIPPED)
            continue;
        total++;
        succeeded += x->status == PR_ST_SUCCEEDED;
        passed += x->status == PR_ST_SUCCEEDED ||
                  (x->status == PR_ST_FAILED &&
                   (r->steps[d].flags & PR_SF_CONTINUE));
    }
    /* with a rate, steps that failed count against it even when their
       failure was allowed; without one, allowed failures pass */
    if (ph.min_success_rate > 0)
        passed = succeeded;
    double rate = total ? (double)passed / total : 1.0;
    double need = ph.min_success_rate > 0 ? ph.min_success_rate : 1.0;
    pr_job_output(j, "success_rate", cJSON_CreateNumber(rate));
    if (rate + 1e-12 < need) {
        snprintf(why, sizeof why,
                 "phase '%s': %u of %u steps succeeded (%.0f%%), the gate "
                 "needs %.0f%%",
                 ph.name, passed, total, rate * 100, need * 100);
        pr_job_finish(j, false, why, false);
        return;
    }
    if (ph.gate.p) {
        cJSON *v;
        char err[400];
        if (pr_run_expr(j, ph.gate, &v, err, sizeof err) < 0) {
            snprintf(why, sizeof why, "phase '%s' gate: %s", ph.name, err);
            pr_job_finish(j, false, why, false);
            return;
        }
        bool ok = pr_truthy(v);
        cJSON_Delete(v);
        if (!ok) {
            snprintf(why, sizeof why,
                     "phase '%s': the gate condition is "
                     "false",
                     ph.name);
            pr_job_finish(j, false, why, false);
            return;
        }
    }
    if (ph.feedback_to != PR_PLAN_NONE && ph.feedback_when.p) {
        if (feedback(j, &ph, s->gate_of_phase))
            return;
        pr_job_output(j, "loops",
                      cJSON_CreateNumber(r->loops[s->gate_of_phase]));
    }
    pr_job_finish(j, true, NULL, false);
}

static void no_stop(struct pr_job *j, int sig)
{
    (void)j;
    (void)sig;
}

const struct pr_executor pr_exec_gate = {
    .in_process = true, .start = gate_start, .stop = no_stop};

/* ---- steps this build cannot run ---- */

static void unsupported_start(struct pr_job *j)
{
    static const char *const what[PR_STEP_KINDS] = {
        [PR_STEP_LLM] = "LLM steps", [PR_STEP_TOOL] = "MCP tool steps"};
    const char *w = what[pr_job_step(j)->kind];
    char why[128];
    snprintf(why, sizeof why, "%s are not supported by this pomlrun",
             w ? w : "steps of this kind");
    pr_job_finish(j, false, why, false);
}

const struct pr_executor pr_exec_unsupported = {
    .in_process = true, .start = unsupported_start, .stop = no_stop};

/* ---- aggregators ---- */

static cJSON *items_of(struct pr_job *j, char *err, size_t cap)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    cJSON *in = NULL;
    if (s->inputs != PR_PLAN_NONE) {
        if (pr_run_tval(j, s->inputs, &in, err, cap) < 0)
            return NULL;
        if (cJSON_IsArray(in))
            return in;
        if (cJSON_IsObject(in)) {
            cJSON *only = in->child;
            if (only && !only->next && cJSON_IsArray(only)) {
                cJSON_DetachItemViaPointer(in, only);
                cJSON_Delete(in);
                return only;
            }
            cJSON *list = cJSON_CreateArray();
            while (list && in->child) {
                cJSON *c = cJSON_DetachItemViaPointer(in, in->child);
                cJSON_AddItemToArray(list, c);
            }
            cJSON_Delete(in);
            return list;
        }
        cJSON *list = cJSON_CreateArray();
        if (list)
            cJSON_AddItemToArray(list, in);
        else
            cJSON_Delete(in);
        return list;
    }
    cJSON *list = cJSON_CreateArray();
    for (uint32_t k = 0; list && k < s->deps.n; k++) {
        uint32_t d = pr_plan_list_at(r->plan, s->deps, k) & ~PR_EDGE_AFTER;
        if (d >= r->nsteps)
            continue;
        const struct pr_job *x = &r->jobs[d];
        const cJSON *v = x->status == PR_ST_SUCCEEDED ? pr_job_main_output(x)
                                                      : NULL;
        cJSON_AddItemToArray(list, v ? cJSON_Duplicate(v, true)
                                     : cJSON_CreateNull());
    }
    return list;
}

static bool all_of(const cJSON *items, cJSON_bool (*is)(const cJSON *))
{
    const cJSON *e;
    cJSON_ArrayForEach (e, items) {
        if (!is(e))
            return false;
    }
    return true;
}

static cJSON *concat(const cJSON *items)
{
    const cJSON *e;
    if (all_of(items, cJSON_IsString)) {
        size_t n = 0;
        cJSON_ArrayForEach (e, items)
            n += strlen(e->valuestring) + 1;
        char *t = malloc(n + 1), *p = t;
        if (!t)
            return NULL;
        *p = '\0';
        cJSON_ArrayForEach (e, items) {
            if (p != t)
                *p++ = '\n';
            size_t l = strlen(e->valuestring);
            memcpy(p, e->valuestring, l + 1);
            p += l;
        }
        cJSON *v = cJSON_CreateString(t);
        free(t);
        return v;
    }
    cJSON *out = cJSON_CreateArray();
    cJSON_ArrayForEach (e, items) {
        if (cJSON_IsArray(e)) {
            const cJSON *x;
            cJSON_ArrayForEach (x, e)
                cJSON_AddItemToArray(out, cJSON_Duplicate(x, true));
        } else {
            cJSON_AddItemToArray(out, cJSON_Duplicate(e, true));
        }
    }
    return out;
}

static void merge_into(cJSON *dst, const cJSON *src)
{
    const cJSON *e;
    cJSON_ArrayForEach (e, src) {
        cJSON_DeleteItemFromObjectCaseSensitive(dst, e->string);
        cJSON_AddItemToObject(dst, e->string, cJSON_Duplicate(e, true));
    }
}

static cJSON *merge(const cJSON *items, char *err, size_t cap)
{
    cJSON *out = cJSON_CreateObject();
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach (e, items) {
        if (cJSON_IsNull(e)) {
            i++;
            continue;
        }
        if (!cJSON_IsObject(e)) {
            pr_errf(err, cap, "merge: item %d is %s, not an object", i,
                    pr_json_type_name(e));
            cJSON_Delete(out);
            return NULL;
        }
        merge_into(out, e);
        i++;
    }
    return out;
}

static bool in_list(const cJSON *list, const cJSON *v)
{
    const cJSON *e;
    cJSON_ArrayForEach (e, list) {
        if (pr_json_equal(e, v))
            return true;
    }
    return false;
}

static cJSON *dedupe(const cJSON *items)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *e;
    cJSON_ArrayForEach (e, items) {
        if (cJSON_IsNull(e))
            continue;
        if (cJSON_IsArray(e)) {
            const cJSON *x;
            cJSON_ArrayForEach (x, e) {
                if (!in_list(out, x))
                    cJSON_AddItemToArray(out, cJSON_Duplicate(x, true));
            }
        } else if (!in_list(out, e)) {
            cJSON_AddItemToArray(out, cJSON_Duplicate(e, true));
        }
    }
    return out;
}

static cJSON *first_success(const cJSON *items, char *err, size_t cap)
{
    const cJSON *e;
    cJSON_ArrayForEach (e, items) {
        if (!cJSON_IsNull(e))
            return cJSON_Duplicate(e, true);
    }
    pr_errf(err, cap, "first_success: no input succeeded");
    return NULL;
}

static cJSON *vote(const cJSON *items, cJSON **votes, char *err, size_t cap)
{
    const cJSON *best = NULL, *e;
    int best_n = 0;
    cJSON_ArrayForEach (e, items) {
        if (cJSON_IsNull(e))
            continue;
        int n = 0;
        const cJSON *x;
        cJSON_ArrayForEach (x, items)
            n += pr_json_equal(e, x);
        if (n > best_n) {
            best = e;
            best_n = n;
        }
    }
    if (!best) {
        pr_errf(err, cap, "vote: no votes");
        return NULL;
    }
    *votes = cJSON_CreateNumber(best_n);
    return cJSON_Duplicate(best, true);
}

static cJSON *reduce(const cJSON *items, char *err, size_t cap)
{
    const cJSON *e;
    if (all_of(items, cJSON_IsNumber)) {
        double sum = 0;
        cJSON_ArrayForEach (e, items)
            sum += e->valuedouble;
        return cJSON_CreateNumber(sum);
    }
    if (all_of(items, cJSON_IsObject))
        return merge(items, err, cap);
    if (all_of(items, cJSON_IsString) || all_of(items, cJSON_IsArray)) {
        if (cJSON_IsString(items->child)) {
            size_t n = 1;
            cJSON_ArrayForEach (e, items)
                n += strlen(e->valuestring);
            char *t = malloc(n);
            if (!t)
                return NULL;
            t[0] = '\0';
            cJSON_ArrayForEach (e, items)
                strcat(t, e->valuestring);
            cJSON *v = cJSON_CreateString(t);
            free(t);
            return v;
        }
        return concat(items);
    }
    pr_errf(err, cap,
            "reduce: the items are not all numbers, strings, "
            "lists or objects");
    return NULL;
}

static void agg_start(struct pr_job *j)
{
    const struct pr_step *s = pr_job_step(j);
    const struct pr_plan *p = j->run->plan;
    char err[512] = "";
    const char *strategy = s->strategy ? s->strategy : "concat";
    /* a name from the workflow's aggregation: section */
    for (uint32_t k = 0; k < p->naggs; k++) {
        struct pr_agg a;
        pr_plan_agg(p, k, &a);
        if (strcmp(a.name, strategy))
            continue;
        if (a.builtin)
            strategy = a.builtin;
        break;
    }
    cJSON *items = items_of(j, err, sizeof err);
    cJSON *res = NULL, *votes = NULL;
    if (items) {
        if (!strcmp(strategy, "concat"))
            res = concat(items);
        else if (!strcmp(strategy, "merge"))
            res = merge(items, err, sizeof err);
        else if (!strcmp(strategy, "merge_and_deduplicate"))
            res = dedupe(items);
        else if (!strcmp(strategy, "first_success"))
            res = first_success(items, err, sizeof err);
        else if (!strcmp(strategy, "vote"))
            res = vote(items, &votes, err, sizeof err);
        else if (!strcmp(strategy, "reduce"))
            res = reduce(items, err, sizeof err);
        else
            pr_errf(err, sizeof err, "unknown strategy '%s'", strategy);
    }
    cJSON_Delete(items);
    if (!res) {
        pr_job_finish(j, false, err[0] ? err : "out of memory", false);
        return;
    }
    for (uint32_t k = 0; k < s->outputs.n; k++)
        pr_job_output(j,
                      pr_plan_str(p, pr_plan_list_at(p, s->outputs, k), NULL),
                      cJSON_Duplicate(res, true));
    if (votes)
        pr_job_output(j, "votes", votes);
    pr_job_output(j, "result", res);
    pr_job_finish(j, true, NULL, false);
}

const struct pr_executor pr_exec_agg = {
    .in_process = true, .start = agg_start, .stop = no_stop};

/* ---- aggregations that run a command ---- */

/* The aggregation of the workflow's `aggregation:` section that step S
 * names and that runs a command, or PR_PLAN_NONE. */
uint32_t pr_agg_command(const struct pr_plan *p, const struct pr_step *s)
{
    if (s->kind != PR_STEP_AGGREGATE || !s->strategy)
        return PR_PLAN_NONE;
    for (uint32_t k = 0; k < p->naggs; k++) {
        struct pr_agg a;
        pr_plan_agg(p, k, &a);
        if (!strcmp(a.name, s->strategy))
            return !a.builtin && a.run != PR_PLAN_NONE ? k : PR_PLAN_NONE;
    }
    return PR_PLAN_NONE;
}

static void items_path(const struct pr_job *j, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/items-%u-%d-%u.json", j->run->tmpdir, j->step,
             (int)j->instance, j->attempts);
}

static void agg_cmd_done(struct pr_job *j, int status, struct pr_child *c,
                         const char *out_path)
{
    const struct pr_step *s = pr_job_step(j);
    const struct pr_plan *p = j->run->plan;
    char path[4200], reason[256] = "";
    (void)out_path;
    items_path(j, path, sizeof path);
    unlink(path);
    size_t len = 0;
    unsigned long long total = 0;
    char *out = pr_spawn_output(c, false, &len, &total);
    int code = pr_proc_status(status, reason, sizeof reason);
    pr_job_set_outputs(j, NULL);
    pr_job_output(j, "exit_code", cJSON_CreateNumber(code));
    size_t el = 0;
    unsigned long long et = 0;
    char *err = pr_spawn_output(c, true, &el, &et);
    if (err)
        pr_job_output(j, "stderr", pr_text_value(err, el, NULL));
    free(err);
    if (code == 0 && out) {
        /* the result: its standard output, JSON when it reads as JSON */
        size_t n = len;
        if (n && out[n - 1] == '\n')
            n--;
        cJSON *res = cJSON_ParseWithLength(out, n);
        if (!res)
            res = pr_text_value(out, n, NULL);
        for (uint32_t k = 0; res && k < s->outputs.n; k++)
            pr_job_output(
                j, pr_plan_str(p, pr_plan_list_at(p, s->outputs, k), NULL),
                cJSON_Duplicate(res, true));
        pr_job_output(j, "result", res);
    }
    free(out);
    pr_job_finish(j, code == 0, code == 0 ? NULL : reason, true);
}

static void agg_cmd_start(struct pr_job *j)
{
    struct pr_run *r = j->run;
    uint32_t k = pr_agg_command(r->plan, pr_job_step(j));
    char err[512] = "", path[4200];
    struct pr_agg a;
    pr_plan_agg(r->plan, k, &a);
    cJSON *items = items_of(j, err, sizeof err);
    char *text = items ? cJSON_PrintUnformatted(items) : NULL;
    cJSON_Delete(items);
    if (!text) {
        pr_job_finish(j, false, err[0] ? err : "out of memory", false);
        return;
    }
    items_path(j, path, sizeof path);
    FILE *f = fopen(path, "wbe");
    bool ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    free(text);
    if (!ok) {
        snprintf(err, sizeof err, "cannot write the items to %.400s", path);
        pr_job_finish(j, false, err, false);
        return;
    }
    /* the items, a JSON list, in the file $POML_ITEMS names */
    const char *var[2] = {"POML_ITEMS", path};
    pr_shell_command(j, a.run, var, agg_cmd_done);
}

const struct pr_executor pr_exec_agg_cmd = {.in_process = false,
                                            .start = agg_cmd_start,
                                            .stop = pr_proc_stop,
                                            .release = pr_shell_release};
