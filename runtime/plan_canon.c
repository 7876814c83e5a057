/* plan_canon.c -- a step's definition as bytes that do not depend on
 * where it sits in the plan
 *
 * The cache key of a job (pomlrun(1), CACHE) starts from its step's
 * compiled definition.  The record itself will not do: it holds string
 * references, list offsets and record indices that move when another
 * step is edited.  This walk follows the record's field list (the same
 * X-list the reader and writer use) and writes every field by what it
 * means: a string by its bytes, a step by its id, a model by its fields,
 * an expression instruction by instruction with its strings and steps
 * resolved.  Fields that describe the plan rather than the step (its
 * stage, its place on the critical path, its source position, its
 * dependents, its display name and description) are left out.
 */
#include <stdlib.h>
#include <string.h>

#include "bytecode.h"
#include "plan.h"
#include "plan_canon.h"

struct canon {
    const struct pr_plan *p;
    struct pr_buf *out;
    struct pr_canon_reads *reads;
    int failed;
};

static void bytes(struct canon *c, const void *v, size_t n)
{
    if (pr_buf_append(c->out, v, n) < 0)
        c->failed = 1;
}

static void u8(struct canon *c, uint8_t v)
{
    bytes(c, &v, 1);
}

static void u32(struct canon *c, uint32_t v)
{
    if (pr_buf_append_u32(c->out, v) < 0)
        c->failed = 1;
}

/* A string: its length, then its bytes (so that no two differ only in
 * where one ends). */
static void str(struct canon *c, const char *s, size_t n)
{
    u32(c, (uint32_t)n);
    bytes(c, s, n);
}

static void cstr(struct canon *c, const char *s)
{
    if (!s) {
        u32(c, 0xFFFFFFFFu);
        return;
    }
    str(c, s, strlen(s));
}

static void ref(struct canon *c, uint32_t r)
{
    size_t n;
    const char *s = pr_plan_str(c->p, r, &n);
    str(c, s, n);
}

static void step_id(struct canon *c, uint32_t i)
{
    if (i >= c->p->nsteps) {
        u32(c, 0xFFFFFFFFu);
        return;
    }
    struct pr_step s;
    pr_plan_step(c->p, i, &s);
    cstr(c, s.id);
}

static void add_param(struct pr_canon_reads *r, const char *name)
{
    for (size_t k = 0; k < r->nparams; k++)
        if (!strcmp(r->params[k], name))
            return;
    if (pr_grow((void **)&r->params, &r->cap, r->nparams + 1,
                sizeof *r->params) == 0)
        r->params[r->nparams++] = name;
    else
        r->all_params = true; /* cannot name them: all of them count */
}

static void code(struct canon *c, struct pr_code k)
{
    if (!k.p) {
        u8(c, 0);
        return;
    }
    u8(c, 1);
    u32(c, k.len);
    bool after_params = false; /* the last instruction was root params */
    for (size_t at = 0; at < k.len;) {
        struct pr_insn in;
        if (pr_decode(k.p, k.len, at, &in) < 0) {
            c->failed = 1;
            return;
        }
        u8(c, (uint8_t)in.op);
        switch (in.arg) {
        case PR_ARG_F64:
            bytes(c, &in.num, sizeof in.num);
            break;
        case PR_ARG_STR:
            ref(c, in.u32);
            break;
        case PR_ARG_STEP:
            step_id(c, in.u32);
            break;
        case PR_ARG_TARGET:
            u32(c, in.u32); /* relative to the code: where it sits */
            break;
        case PR_ARG_ROOT:
        case PR_ARG_COUNT:
        case PR_ARG_CALL:
            u32(c, in.a);
            u32(c, in.b);
            break;
        case PR_ARG_NONE:
            break;
        }
        if (c->reads) {
            if (after_params && in.op == PR_OP_MEMBER)
                add_param(c->reads, pr_plan_str(c->p, in.u32, NULL));
            else if (after_params)
                c->reads->all_params = true;
            after_params = in.op == PR_OP_ROOT && in.a == PR_ROOT_PARAMS;
        }
        at = in.next;
    }
    if (after_params && c->reads)
        c->reads->all_params = true;
}

static void interp(struct canon *c, uint32_t i)
{
    if (i == PR_PLAN_NONE) {
        u8(c, 0);
        return;
    }
    struct pr_interp_view v;
    pr_plan_interp(c->p, i, &v);
    u8(c, v.pure ? 2 : 1);
    u32(c, v.n);
    for (uint32_t k = 0; k < v.n; k++) {
        struct pr_part_view pt;
        pr_plan_part(c->p, v.first + k, &pt);
        u8(c, pt.kind);
        if (pt.kind == 0)
            str(c, pt.text, pt.text_len);
        else
            code(c, pt.code);
    }
}

static void tval(struct canon *c, uint32_t i, int depth)
{
    if (i == PR_PLAN_NONE || depth > 64) {
        u8(c, 0xFF);
        return;
    }
    struct pr_tval_view v;
    pr_plan_tval(c->p, i, &v);
    u8(c, v.kind);
    switch (v.kind) {
    case PR_TV_BOOL:
        u8(c, v.b);
        break;
    case PR_TV_NUM:
        bytes(c, &v.num, sizeof v.num);
        break;
    case PR_TV_STR:
        interp(c, v.interp);
        break;
    case PR_TV_LIST:
    case PR_TV_MAP:
        u32(c, v.n);
        for (uint32_t k = 0; k < v.n; k++) {
            if (v.kind == PR_TV_MAP) {
                struct pr_list keys = {v.keys, v.n};
                ref(c, pr_plan_list_at(c->p, keys, k));
            }
            tval(c, v.first + k, depth + 1);
        }
        break;
    default:
        break;
    }
}

static void model(struct canon *c, uint32_t i);
static void list(struct canon *c, unsigned kind, struct pr_list l);

/* One field of a record, by its type (plan.h); NAME is the field's. */
static void field(struct canon *c, const char *name, unsigned type,
                  unsigned arg, const void *v)
{
    static const char *const skip[] = {"name",     "description", "stage",
                                       "cp_steps", "cp_seconds",  "src_line",
                                       "src_col",  "dependents",  NULL};
    for (size_t k = 0; skip[k]; k++)
        if (!strcmp(name, skip[k]))
            return;
    switch (type) {
    case PR_FT_ZERO:
    case PR_FT_ZERO32:
        return;
    default:
        break;
    }
    cstr(c, name);
    switch (type) {
    case PR_FT_U8:
    case PR_FT_ENUM:
    case PR_FT_FLAGS:
        u8(c, *(const uint8_t *)v);
        break;
    case PR_FT_U32:
        u32(c, *(const uint32_t *)v);
        break;
    case PR_FT_U64:
        bytes(c, v, sizeof(uint64_t));
        break;
    case PR_FT_F64:
        bytes(c, v, sizeof(double));
        break;
    case PR_FT_STR:
    case PR_FT_OPTSTR:
        cstr(c, *(const char *const *)v);
        break;
    case PR_FT_CODE:
    case PR_FT_TCODE: {
        const struct pr_code *k = v;
        if (type == PR_FT_CODE) {
            code(c, *k);
        } else { /* templates hold their text inline */
            u32(c, k->len);
            bytes(c, k->p, k->len);
        }
        break;
    }
    case PR_FT_INTERP:
        interp(c, *(const uint32_t *)v);
        break;
    case PR_FT_TVAL:
        tval(c, *(const uint32_t *)v, 0);
        break;
    case PR_FT_STEP:
        step_id(c, *(const uint32_t *)v);
        break;
    case PR_FT_MODEL:
        model(c, *(const uint32_t *)v);
        break;
    case PR_FT_PHASE: {
        uint32_t ph = *(const uint32_t *)v;
        if (ph < c->p->nphases) {
            struct pr_phase f;
            pr_plan_phase(c->p, ph, &f);
            cstr(c, f.name);
        } else {
            u32(c, 0xFFFFFFFFu);
        }
        break;
    }
    case PR_FT_LIST:
        list(c, arg, *(const struct pr_list *)v);
        break;
    default:
        c->failed = 1; /* a type this walk does not know */
        break;
    }
}

static void model(struct canon *c, uint32_t i)
{
    if (i >= c->p->nmodels) {
        u32(c, 0xFFFFFFFFu);
        return;
    }
    struct pr_model m;
    pr_plan_model(c->p, i, &m);
#define F(name, type, arg, off) field(c, #name, type, arg, &m.name);
    /* a model's name is what the workflow calls it: it counts */
    cstr(c, m.name);
    PR_MODEL_FIELDS(F)
#undef F
}

static void list(struct canon *c, unsigned kind, struct pr_list l)
{
    u32(c, l.n);
    for (uint32_t k = 0; k < l.n; k++) {
        uint32_t e = pr_plan_list_at(c->p, l, k);
        switch (kind) {
        case PR_LK_STR:
            ref(c, e);
            break;
        case PR_LK_MODEL:
            model(c, e);
            break;
        case PR_LK_STEP:
            step_id(c, e);
            break;
        case PR_LK_EDGE:
            u8(c, (e & PR_EDGE_AFTER) != 0);
            step_id(c, e & ~PR_EDGE_AFTER);
            break;
        default:
            u32(c, e);
            break;
        }
    }
}

/* The prompt file a step names, and every partial (by index, so any of
 * them may be the one it includes). */
static void prompts(struct canon *c, const char *name)
{
    uint32_t k = pr_plan_prompt_find(c->p, name);
    if (k == PR_PLAN_NONE)
        return;
    for (uint32_t i = 0; i < c->p->nprompts; i++) {
        struct pr_prompt pr;
        pr_plan_prompt(c->p, i, &pr);
        if (i != k && pr.kind != PR_PROMPT_PARTIAL)
            continue;
        cstr(c, pr.name);
#define F(fname, type, arg, off) field(c, #fname, type, arg, &pr.fname);
        PR_PROMPT_FIELDS(F)
#undef F
    }
}

int pr_step_canon(const struct pr_plan *p, uint32_t i, struct pr_buf *out,
                  struct pr_canon_reads *reads)
{
    struct canon c = {p, out, reads, 0};
    if (i >= p->nsteps)
        return -1;
    struct pr_step s;
    pr_plan_step(p, i, &s);
    cstr(&c, "poml-step-1");
#define F(name, type, arg, off) field(&c, #name, type, arg, &s.name);
    PR_STEP_FIELDS(F)
#undef F
    if (s.prompt_file)
        prompts(&c, s.prompt_file);
    if (s.strategy) /* an aggregation's command */
        for (uint32_t k = 0; k < p->naggs; k++) {
            struct pr_agg a;
            pr_plan_agg(p, k, &a);
            if (strcmp(a.name, s.strategy))
                continue;
#define F(name, type, arg, off) field(&c, #name, type, arg, &a.name);
            PR_AGG_FIELDS(F)
#undef F
        }
    const uint8_t *sub;
    size_t n;
    if (s.workflow && pr_plan_subplan(p, s.workflow, &sub, &n) == 0) {
        cstr(&c, "subplan");
        u32(&c, (uint32_t)n);
        bytes(&c, sub, n);
    }
    return c.failed ? -1 : 0;
}

void pr_canon_reads_free(struct pr_canon_reads *r)
{
    free(r->params);
    memset(r, 0, sizeof *r);
}
