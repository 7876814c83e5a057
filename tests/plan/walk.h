/* walk.h -- reads every view of a loaded plan, for tests and fuzzing
 *
 * Every record of every section through its typed view, every list entry,
 * interpolation part, template value and string, every prompt rendered,
 * every step's prompt looked up, and every embedded plan,
 * looked up by name, loaded on its own and walked.  A plan the loader
 * accepted must survive this under the sanitizers; the returned sum keeps
 * the reads from being optimised away.  Header-only: the unit tests and the
 * fuzz harness include it.
 */
#ifndef POML_TESTS_PLAN_WALK_H
#define POML_TESTS_PLAN_WALK_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "prompt.h"

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static size_t touch_code(struct pr_code c)
{
    size_t h = 0;
    for (uint32_t i = 0; i < c.len; i++)
        h += c.p[i];
    return h;
}

static size_t touch_list(const struct pr_plan *p, struct pr_list l)
{
    size_t h = 0;
    for (uint32_t k = 0; k < l.n; k++)
        h += pr_plan_list_at(p, l, k);
    return h;
}

#define touch_1(p, x) (*(x))
#define touch_2(p, x) (*(x))
#define touch_3(p, x) (size_t)(*(x))
#define touch_4(p, x) (size_t)(isfinite(*(x)) ? 1 : 0)
#define touch_5(p, x) (*(x))
#define touch_6(p, x) (*(x))
#define touch_7(p, x) (*(x))
#define touch_8(p, x) touch(*(x))
#define touch_9(p, x) touch(*(x))
#define touch_10(p, x) touch_code(*(x))
#define touch_11(p, x) (*(x))
#define touch_12(p, x) (*(x))
#define touch_13(p, x) (*(x))
#define touch_14(p, x) (*(x))
#define touch_15(p, x) (*(x))
#define touch_16(p, x) touch_list(p, *(x))
#define touch_17(p, x) (*(x))
#define touch_18(p, x) touch_code(*(x))
#define TF(name, type, arg, off) h += TF_(type)(p, &v.name);
#define TF_(t) TF__(t)
#define TF__(t) touch_##t

static size_t walk(const struct pr_plan *p);

/* Every prompt rendered over an empty context, on a short leash: code the
 * loader accepted may fail to render, never crash.  Every step's prompt
 * file has its record (abort() otherwise). */
static size_t walk_prompts(const struct pr_plan *p)
{
    size_t h = 0;
    struct pr_tpl_set set;
    struct pr_tpl_opts o = {.max_work = 20000, .max_output = 1 << 20};
    pr_plan_tpl_set(p, &set);
    for (uint32_t i = 0; i < p->nprompts; i++) {
        struct pr_prompt v;
        struct pr_tpl_out out;
        pr_plan_prompt(p, i, &v);
        pr_tpl_out_init(&out);
        if (pr_tpl_render(v.code.p, v.code.len, &set, NULL, &o, &out, NULL,
                          0) == 0) {
            cJSON *m = pr_tpl_messages(&out, NULL);
            h += out.text.len + out.nmarks + (m != NULL);
            cJSON_Delete(m);
        }
        pr_tpl_out_free(&out);
    }
    for (uint32_t i = 0; i < p->nsteps; i++) {
        struct pr_step s;
        pr_plan_step(p, i, &s);
        if (s.prompt_file &&
            pr_plan_prompt_find(p, s.prompt_file) == PR_PLAN_NONE)
            abort();
    }
    return h;
}

/* Each SUBPLANS record, and the plan under its name: validated with P, it
 * must be found and load on its own (abort() otherwise). */
static size_t walk_subplans(const struct pr_plan *p)
{
    size_t h = 0;
    const uint8_t *d;
    size_t n;
    for (uint32_t i = 0; i <= p->nsubplans; i++) {
        struct pr_subplan v;
        struct pr_plan sub;
        pr_plan_subplan_at(p, i, &v);
        PR_SUBPLAN_FIELDS(TF)
        if (i == p->nsubplans)
            break;
        if (pr_plan_subplan(p, v.name, &d, &n) < 0 || n != v.size ||
            pr_plan_load_mem(&sub, d, n, NULL, 0) < 0)
            abort();
        h += walk(&sub);
        pr_plan_close(&sub);
    }
    return h + (pr_plan_subplan(p, "", &d, &n) == -1);
}

static size_t walk(const struct pr_plan *p)
{
    size_t h = 0;
    {
        struct pr_workflow v;
        pr_plan_workflow(p, &v);
        PR_WORKFLOW_FIELDS(TF)
    }
#define WALK(n, type, fn, FIELDS)                                             \
    for (uint32_t i = 0; i <= p->n; i++) {                                    \
        struct type v;                                                        \
        fn(p, i, &v);                                                         \
        FIELDS(TF)                                                            \
    }
    WALK(nparams, pr_param, pr_plan_param, PR_PARAM_FIELDS)
    WALK(nsteps, pr_step, pr_plan_step, PR_STEP_FIELDS)
    WALK(nmodels, pr_model, pr_plan_model, PR_MODEL_FIELDS)
    WALK(nphases, pr_phase, pr_plan_phase, PR_PHASE_FIELDS)
    WALK(ntools, pr_tool, pr_plan_tool, PR_TOOL_FIELDS)
    WALK(naggs, pr_agg, pr_plan_agg, PR_AGG_FIELDS)
    WALK(nalerts, pr_alert, pr_plan_alert, PR_ALERT_FIELDS)
    WALK(nprompts, pr_prompt, pr_plan_prompt, PR_PROMPT_FIELDS)
#undef WALK
    for (uint32_t i = 0; i <= p->ninterps; i++) {
        struct pr_interp_view v;
        pr_plan_interp(p, i, &v);
        for (uint32_t k = 0; k < v.n; k++) {
            struct pr_part_view pv;
            pr_plan_part(p, v.first + k, &pv);
            h += pv.text_len + touch(pv.text) + touch_code(pv.code);
        }
    }
    for (uint32_t i = 0; i < p->nparts; i++) {
        struct pr_part_view pv;
        pr_plan_part(p, i, &pv);
        h += touch(pv.text) + touch_code(pv.code);
    }
    for (uint32_t i = 0; i <= p->ntvals; i++) {
        struct pr_tval_view v;
        pr_plan_tval(p, i, &v);
        h += v.kind + v.interp + v.first + v.n;
        if (v.kind == PR_TV_MAP) {
            struct pr_list l = {v.keys, v.n};
            for (uint32_t k = 0; k < v.n; k++)
                h += touch(pr_plan_str(p, pr_plan_list_at(p, l, k), NULL));
        }
    }
    /* the string table, record by record */
    uint32_t ssize = p->sec[PR_SEC_STRINGS].size;
    for (uint64_t ref = 0; ref < ssize;) {
        size_t n;
        const char *s = pr_plan_str(p, (uint32_t)ref, &n);
        h += n + (s[n] == '\0');
        ref += (uint64_t)n + 5;
    }
    struct pr_list all = {0, p->nlists};
    for (uint32_t k = 0; k < p->nlists; k++) {
        size_t n;
        const char *s = pr_plan_str(p, pr_plan_list_at(p, all, k), &n);
        h += n + (s[n] == '\0');
    }
    return h + walk_prompts(p) + walk_subplans(p);
}

#endif
