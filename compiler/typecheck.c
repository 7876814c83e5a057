/* typecheck.c -- typed data flow: the type of every value an expression
 * reads, and the checks made on it
 *
 * Types (types.h) come from parameter declarations, output schemas (the
 * step's output.schema or its prompt file's), the fixed outputs of each
 * step kind, types declared under outputs: (outputs: {count: integer}),
 * the for_each list (item and index), fan-in (a for_each step's outputs
 * are lists) and aggregator strategies.  pc_types_prepare runs before
 * references are resolved (so an output schema's properties are outputs),
 * pc_types_check after the steps are ordered, pc_types_check_subs once the
 * sub-workflows are compiled.  any silences every check; -Wany reports
 * where it reaches a typed use.
 */
#include "compile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

#define NOLOC ((struct pc_loc){0, 0, 0})

/* Where a type came from, said in a note when a check fails. */
struct origin {
    struct pc_loc loc;
    const char *fmt; /* NULL: nothing to say (a literal) */
    const char *a, *b;
};

struct tyinfo {
    const struct pc_ty *t;
    struct origin o;
};

struct tc {
    struct pc_build *b;
    struct pc_ctx *c;
    struct pr_arena *a;
    struct pc_step *step; /* NULL outside a step */
    struct tyinfo item;   /* the for_each element */
    bool have_item;
};

/* ---- fixed types ---- */

static const char *const status_vals[] = {"succeeded", "failed", "skipped",
                                          "cancelled"};
static const struct pc_ty ty_status = {
    .kind = PC_TY_STRING, .enumv = status_vals, .nenum = 4};
static const char *const usage_names[] = {"input_tokens", "output_tokens",
                                          "total_tokens"};
static const struct pc_ty *const usage_fields[] = {
    &pc_ty_integer, &pc_ty_integer, &pc_ty_integer};
static const struct pc_ty ty_usage = {
    .kind = PC_TY_OBJECT,
    .names = (const char **)usage_names,
    .fields = (const struct pc_ty **)usage_fields,
    .nfields = 3};
static const struct pc_ty ty_strings = {.kind = PC_TY_ARRAY,
                                        .elem = &pc_ty_string};
static const struct pc_ty ty_objects = {.kind = PC_TY_ARRAY,
                                        .elem = &pc_ty_open_object};

struct fixed {
    const char *name;
    const struct pc_ty *t;
};

static const struct fixed fixed_shell[] = {{"stdout", &pc_ty_string},
                                           {"stderr", &pc_ty_string},
                                           {"exit_code", &pc_ty_integer},
                                           {"json", &pc_ty_any},
                                           {NULL, NULL}};
static const struct fixed fixed_llm[] = {
    {"text", &pc_ty_string},  {"json", &pc_ty_any},
    {"usage", &ty_usage},     {"cost", &pc_ty_number},
    {"model", &pc_ty_string}, {"tool_calls", &ty_objects},
    {"drafts", &ty_strings},  {"candidates", &pc_ty_any_array},
    {"chosen", &pc_ty_any},   {NULL, NULL}};
static const struct fixed fixed_tool[] = {
    {"result", &pc_ty_any},       {"text", &pc_ty_string},
    {"json", &pc_ty_any},         {"content", &ty_objects},
    {"is_error", &pc_ty_boolean}, {NULL, NULL}};
static const struct fixed fixed_agg[] = {{"result", &pc_ty_any}, {NULL, NULL}};
static const struct fixed fixed_wf[] = {{"result", &pc_ty_open_object},
                                        {"outputs", &pc_ty_open_object},
                                        {NULL, NULL}};
static const struct fixed fixed_approval[] = {{"approved", &pc_ty_boolean},
                                              {"by", &pc_ty_string},
                                              {"comment", &pc_ty_string},
                                              {"value", &pc_ty_any},
                                              {NULL, NULL}};

static const struct fixed *fixed_of(enum pc_step_kind k)
{
    switch (k) {
    case PC_STEP_SHELL:
        return fixed_shell;
    case PC_STEP_LLM:
        return fixed_llm;
    case PC_STEP_TOOL:
        return fixed_tool;
    case PC_STEP_AGGREGATE:
        return fixed_agg;
    case PC_STEP_WORKFLOW:
        return fixed_wf;
    case PC_STEP_APPROVAL:
        return fixed_approval;
    default:
        return NULL;
    }
}

static const struct pc_ty *fixed_type(enum pc_step_kind k, const char *name)
{
    for (const struct fixed *f = fixed_of(k); f && f->name; f++)
        if (!strcmp(f->name, name))
            return f->t;
    return NULL;
}

bool pc_fixed_output(enum pc_step_kind k, const char *name)
{
    return !strcmp(name, "status") || !strcmp(name, "attempts") ||
           fixed_type(k, name) != NULL;
}

/* ---- messages ---- */

static void note_origin(struct tc *tc, struct pc_diag *d,
                        const struct origin *o)
{
    if (d && o->fmt)
        pc_note(tc->c, d, o->loc, o->fmt, o->a, o->b);
}

/* BUF as printed (N bytes wanted), "..." ending it when cut, in the
 * arena. */
static const char *clipped(struct tc *tc, char *buf, size_t cap, int n)
{
    if (n >= (int)cap)
        memcpy(buf + cap - 4, "...", 4);
    return pr_arena_strdup(tc->a, buf);
}

static const char *ty_text(struct tc *tc, const struct pc_ty *t)
{
    char buf[160];
    return clipped(tc, buf, sizeof buf, pc_ty_print(t, buf, sizeof buf));
}

static const char *expr_text(struct tc *tc, const struct pc_expr *e)
{
    char buf[96];
    return clipped(tc, buf, sizeof buf, pc_expr_print(e, buf, sizeof buf));
}

static void oom_if(struct tc *tc, const void *p)
{
    if (!p)
        pc_oom(tc->c);
}

/* -Wany: E, of type any, reaches a use that wants WANT. */
static void report_any(struct tc *tc, const struct pc_expr *e,
                       const struct tyinfo *ti, const char *want)
{
    if (!e || ti->t->kind != PC_TY_ANY || !ti->o.fmt ||
        !tc->c->opts.state[PC_D_ANY])
        return;
    struct pc_diag *d = pc_report(tc->c, PC_D_ANY, e->loc,
                                  "%s has type any where %s is expected",
                                  expr_text(tc, e), want);
    note_origin(tc, d, &ti->o);
}

/* ---- parameter and output types ---- */

static const char *const param_type_names[] = {
    "any", "string", "integer", "number", "boolean", "array", "object"};

/* The type JSON Schema J describes (J freed); NULL for none. */
static const struct pc_ty *json_type(struct tc *tc, cJSON *j)
{
    if (!j)
        return NULL;
    const struct pc_ty *t = pc_ty_from_schema(tc->a, j);
    cJSON_Delete(j);
    oom_if(tc, t);
    return t;
}

static const struct pc_ty *param_type(struct tc *tc, struct pc_param *p)
{
    if (p->implicit || p->type == PC_T_ANY)
        return &pc_ty_any;
    if (!p->node || p->node->kind != PC_NODE_MAP)
        return pc_ty_from_name(param_type_names[p->type]);
    cJSON *j = pc_node_json(p->node);
    if (!j) {
        pc_oom(tc->c);
        return &pc_ty_any;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(j, "type");
    cJSON_DeleteItemFromObjectCaseSensitive(j, "default");
    cJSON_AddStringToObject(j, "type", param_type_names[p->type]);
    const struct pc_ty *t = json_type(tc, j);
    return t ? t : &pc_ty_any;
}

static const struct pc_node *schema_node(const struct pc_step *s)
{
    const struct pc_node *o = s->node ? pc_map_get(s->node, "output") : NULL;
    return o && o->kind == PC_NODE_MAP ? pc_map_get(o, "schema") : NULL;
}

/* A property of an object schema type, or NULL. */
static const struct pc_ty *schema_field(const struct pc_ty *t,
                                        const char *name)
{
    for (size_t i = 0; t->kind == PC_TY_OBJECT && i < t->nfields; i++)
        if (!strcmp(t->names[i], name))
            return t->fields[i];
    return NULL;
}

/* The type a JSON Schema written in the workflow describes. */
static const struct pc_ty *node_type(struct tc *tc, const struct pc_node *n)
{
    return n ? json_type(tc, pc_node_json(n)) : NULL;
}

static const struct pc_ty *schema_type(struct tc *tc, struct pc_step *s)
{
    if (s->output_schema)
        return node_type(tc, s->output_schema);
    return s->output_schema_json
               ? json_type(tc, cJSON_Parse(s->output_schema_json))
               : NULL;
}

/* The output schema of S, at property NAME when it has one. */
static struct origin schema_origin(const struct pc_step *s, const char *name)
{
    const struct pc_node *n = schema_node(s);
    const struct pc_node *props = n && n->kind == PC_NODE_MAP
                                      ? pc_map_get(n, "properties")
                                      : NULL;
    const struct pc_node *pn = props && props->kind == PC_NODE_MAP && name
                                   ? pc_map_get(props, name)
                                   : NULL;
    if (pn)
        n = pn;
    if (n)
        return (struct origin){n->loc,
                               "the output schema of step '%s' "
                               "is here",
                               s->id, NULL};
    return (struct origin){s->prompt_file_loc,
                           "the output schema of prompt file '%s' is here",
                           s->prompt_file, NULL};
}

/* A type written under outputs: a name, a JSON Schema, or nothing. */
static const struct pc_ty *declared_type(struct tc *tc, struct pc_step *s,
                                         const struct pc_node *v,
                                         const char *name)
{
    if (v->kind == PC_NODE_NULL)
        return NULL;
    if (v->kind == PC_NODE_SCALAR) {
        /* a type name; text of more than one word describes the output */
        const struct pc_ty *t = pc_ty_from_name(v->str);
        if (!t && !strpbrk(v->str, " \t\n")) {
            static const char *const names[] = {
                "any",    "null",  "boolean", "integer", "number",
                "string", "array", "object",  "list",    "map"};
            struct pc_diag *d = pc_report(
                tc->c, PC_D_OUTPUT_TYPE, v->loc,
                "unknown type '%s' for output '%s' of step '%s'", v->str, name,
                s->id);
            const char *near = pc_closest(v->str, names, 10);
            if (near)
                pc_note(tc->c, d, NOLOC, "did you mean '%s'?", near);
            else
                pc_note(tc->c, d, NOLOC,
                        "the types are any, null, boolean, integer, number, "
                        "string, array and object, or a JSON Schema; a "
                        "description has more than one word");
        }
        return t;
    }
    if (v->kind == PC_NODE_MAP)
        return node_type(tc, v);
    pc_report(tc->c, PC_D_OUTPUT_TYPE, v->loc,
              "the type of output '%s' must be a type name or a JSON "
              "Schema, not %s",
              name, pc_node_kind_name(v));
    return NULL;
}

/* outputs: {name: type} and the output schema, checked against each
 * other. */
static void prepare_outputs(struct tc *tc, struct pc_step *s)
{
    const struct pc_node *outs = s->node ? pc_map_get(s->node, "outputs")
                                         : NULL;
    const struct pc_ty *sch = s->schema_ty;
    bool props = s->kind == PC_STEP_LLM && sch && sch->kind == PC_TY_OBJECT &&
                 sch->nfields;
    if (!outs || !s->noutputs)
        return;
    bool map = outs->kind == PC_NODE_MAP && outs->len == s->noutputs;
    if (map) {
        s->output_tys = pr_arena_alloc(tc->a,
                                       s->noutputs * sizeof *s->output_tys);
        if (!s->output_tys) {
            pc_oom(tc->c);
            return;
        }
    }
    for (size_t i = 0; i < s->noutputs; i++) {
        const struct pc_node *k = map ? outs->pairs[i].key
                                  : outs->kind == PC_NODE_SEQ && i < outs->len
                                      ? outs->items[i]
                                      : outs;
        const struct pc_ty *d = NULL;
        if (map) {
            d = declared_type(tc, s, outs->pairs[i].value, s->outputs[i]);
            s->output_tys[i] = d;
        }
        if (!props)
            continue;
        const struct pc_ty *f = schema_field(sch, s->outputs[i]);
        struct origin o = schema_origin(s, NULL);
        if (!f) {
            if (fixed_type(s->kind, s->outputs[i]))
                continue;
            struct pc_diag *dg = pc_report(
                tc->c, PC_D_OUTPUT_TYPE, k->loc,
                "output '%s' of step '%s' is not a property of its output "
                "schema",
                s->outputs[i], s->id);
            const char *near = pc_closest(s->outputs[i], sch->names,
                                          sch->nfields);
            if (near)
                pc_note(tc->c, dg, NOLOC, "did you mean '%s'?", near);
            note_origin(tc, dg, &o);
        } else if (d && !pc_ty_assignable(f, d)) {
            struct pc_diag *dg = pc_report(
                tc->c, PC_D_OUTPUT_TYPE, outs->pairs[i].value->loc,
                "output '%s' of step '%s' is declared %s, but its output "
                "schema makes it %s",
                s->outputs[i], s->id, ty_text(tc, d), ty_text(tc, f));
            note_origin(tc, dg, &o);
        }
    }
}

void pc_types_prepare(struct pc_build *b)
{
    struct tc tc = {b, b->ctx, &b->ctx->arena, NULL, {0}, false};
    struct pc_workflow *wf = b->wf;
    for (size_t i = 0; i < wf->nparams; i++)
        wf->params[i].ty = param_type(&tc, &wf->params[i]);
    for (size_t i = 0; i < wf->nsteps; i++) {
        struct pc_step *s = &wf->steps[i];
        if (s->kind == PC_STEP_LLM)
            s->schema_ty = schema_type(&tc, s);
        struct pc_tool_def td;
        if (s->kind == PC_STEP_TOOL && s->tool &&
            pc_tool_def(b, s->tool, &td)) {
            s->tool_input_schema = td.input_schema;
            s->tool_output_schema = td.output_schema;
            s->schema_ty = node_type(&tc, td.output_schema);
        }
        prepare_outputs(&tc, s);
    }
}

bool pc_schema_has_outputs(const struct pc_step *s)
{
    return s->kind == PC_STEP_LLM && s->schema_ty &&
           s->schema_ty->kind == PC_TY_OBJECT && s->schema_ty->nfields;
}

bool pc_schema_output(const struct pc_step *s, const char *name)
{
    if (!pc_schema_has_outputs(s))
        return false;
    for (size_t i = 0; i < s->schema_ty->nfields; i++)
        if (!strcmp(s->schema_ty->names[i], name))
            return true;
    return false;
}

/* The type of output NAME of step S, and where it came from. */
static struct tyinfo output_info(const struct pc_step *s, const char *name)
{
    struct tyinfo r = {&pc_ty_any, {s->loc, NULL, NULL, NULL}};
    if (!strcmp(name, "status")) {
        r.t = &ty_status;
        r.o.fmt = "every step's status is succeeded, failed, skipped or "
                  "cancelled%s%s";
        r.o.a = r.o.b = "";
        r.o.loc = NOLOC;
        return r;
    }
    if (!strcmp(name, "attempts")) {
        r.t = &pc_ty_integer;
        return r;
    }
    size_t i;
    for (i = 0; i < s->noutputs; i++)
        if (!strcmp(s->outputs[i], name))
            break;
    bool declared = i < s->noutputs;
    const struct pc_ty *f = NULL;
    if (declared && s->output_tys && s->output_tys[i]) {
        r.t = s->output_tys[i];
        r.o.fmt = "output '%s' of step '%s' is declared with its type here";
        const struct pc_node *outs = pc_map_get(s->node, "outputs");
        if (outs && outs->kind == PC_NODE_MAP && i < outs->len)
            r.o.loc = outs->pairs[i].value->loc;
    } else if (s->kind == PC_STEP_LLM && s->schema_ty &&
               (!strcmp(name, "json") ||
                (f = schema_field(s->schema_ty, name)) != NULL)) {
        r.t = !strcmp(name, "json") ? s->schema_ty : f;
        r.o = schema_origin(s, name);
        r.o.b = r.o.a;
        r.o.a = name;
        r.o.fmt = schema_node(s) ? "'%s' is typed by the output schema of "
                                   "step '%s'"
                                 : "'%s' is typed by the output schema of "
                                   "prompt file '%s'";
    } else if (s->kind == PC_STEP_TOOL && s->schema_ty && !declared &&
               (!strcmp(name, "json") || !strcmp(name, "result"))) {
        r.t = s->schema_ty;
        r.o = (struct origin){s->tool_output_schema->loc,
                              "'%s' is typed by the output schema of tool "
                              "'%s'",
                              name, s->tool};
    } else if (s->kind == PC_STEP_AGGREGATE &&
               (declared || !strcmp(name, "result"))) {
        r.t = s->schema_ty ? s->schema_ty : &pc_ty_any;
        r.o.fmt = "'%s' of aggregator '%s' is what its strategy makes of its "
                  "inputs";
    } else if (!declared && (f = fixed_type(s->kind, name))) {
        r.t = f;
        r.o.fmt = "'%s' is a fixed output of step '%s'";
    } else {
        r.o.fmt = "output '%s' of step '%s' declares no type (outputs: "
                  "{NAME: TYPE} gives one)";
    }
    if (!r.o.a) {
        r.o.a = name;
        r.o.b = s->id;
    }
    return r;
}

/* output_info with fan-in applied: a for_each step's outputs are lists. */
static struct tyinfo output_type(struct pr_arena *a, const struct pc_step *s,
                                 const char *name)
{
    struct tyinfo r = output_info(s, name);
    if (s->for_each && strcmp(name, "status") && strcmp(name, "attempts")) {
        const struct pc_ty *t = pc_ty_array(a, r.t);
        r.t = t ? t : &pc_ty_any_array;
        r.o.fmt = "step '%s' runs for_each: its output '%s' is a list, one "
                  "element per item";
        r.o.a = s->id;
        r.o.b = name;
        r.o.loc = s->for_each->loc;
    }
    return r;
}

const struct pc_ty *pc_output_type(struct pr_arena *a, const struct pc_step *s,
                                   const char *name)
{
    return output_type(a, s, name).t;
}

/* ---- expressions ---- */

static struct tyinfo plain(const struct pc_ty *t)
{
    return (struct tyinfo){t, {NOLOC, NULL, NULL, NULL}};
}

static struct tyinfo infer(struct tc *tc, struct pc_expr *e);

/* Field NAME of TI at LOC, after BASE (the text read so far). */
static struct tyinfo field(struct tc *tc, struct tyinfo ti, const char *name,
                           struct pc_loc loc, const struct pc_expr *whole,
                           size_t upto)
{
    const struct pc_ty *f = pc_ty_field(ti.t, name);
    if (f) {
        ti.t = f;
        return ti;
    }
    char base[96];
    if (whole->kind == PC_E_PATH) {
        size_t n = 0;
        base[0] = '\0';
        for (size_t i = 0; i < upto && n < sizeof base - 1; i++)
            n += (size_t)snprintf(base + n, sizeof base - n, "%s%s",
                                  i ? "." : "", whole->seg[i]);
    } else {
        pc_expr_print(whole, base, sizeof base);
    }
    struct pc_diag *d;
    if (ti.t->kind == PC_TY_OBJECT) {
        d = pc_report(tc->c, PC_D_NO_SUCH_FIELD, loc, "%s has no field '%s'",
                      base, name);
        const char *near = pc_closest(name, ti.t->names, ti.t->nfields);
        if (near)
            pc_note(tc->c, d, NOLOC, "did you mean '%s'?", near);
        else if (ti.t->nfields)
            pc_note(tc->c, d, NOLOC, "its fields: %s", ty_text(tc, ti.t));
    } else {
        d = pc_report(tc->c, PC_D_NO_SUCH_FIELD, loc,
                      "%s is %s, which has no field '%s'", base,
                      ty_text(tc, ti.t), name);
    }
    note_origin(tc, d, &ti.o);
    return plain(&pc_ty_any);
}

static struct tyinfo path_type(struct tc *tc, struct pc_expr *p)
{
    struct tyinfo r = plain(&pc_ty_any);
    size_t k = p->ref_member + 1;
    switch (p->ref) {
    case PC_REF_PARAMS: {
        if (p->ref_member >= p->nseg)
            return r;
        struct pc_param *pa = pc_find_param(tc->b->wf, p->seg[p->ref_member]);
        if (!pa)
            return r;
        r.t = pa->ty ? pa->ty : &pc_ty_any;
        r.o = (struct origin){pa->loc,
                              pa->implicit ? "'%s' is a parameter declared "
                                             "by use, of no type%s"
                                           : "parameter '%s' is declared "
                                             "here%s",
                              pa->name, ""};
        break;
    }
    case PC_REF_STEP: {
        if (p->ref_member >= p->nseg)
            return r; /* the step as a whole */
        const struct pc_step *s = &tc->b->wf->steps[p->ref_step];
        r = output_type(tc->a, s, p->seg[p->ref_member]);
        break;
    }
    case PC_REF_ITEM:
        if (!tc->have_item)
            return r;
        r = tc->item;
        k = 1;
        break;
    case PC_REF_INDEX:
        if (!tc->have_item)
            return r;
        r.t = &pc_ty_integer;
        k = 1;
        break;
    default:
        return r;
    }
    for (size_t i = k; i < p->nseg && r.t->kind != PC_TY_ANY; i++)
        r = field(tc, r, p->seg[i], p->segloc[i], p, i);
    return r;
}

static bool known(const struct pc_ty *t)
{
    return t->kind != PC_TY_ANY;
}

static const char *a_type(struct tc *tc, const struct pc_ty *t)
{
    return ty_text(tc, t);
}

/* ordering and arithmetic: both sides known and not fitting */
static void mismatch(struct tc *tc, struct pc_expr *e, bool compare,
                     const struct tyinfo *l, const struct tyinfo *r)
{
    struct pc_diag *d;
    if (compare)
        d = pc_report(tc->c, PC_D_TYPE_MISMATCH, e->loc,
                      "cannot compare %s and %s with '%s'", a_type(tc, l->t),
                      a_type(tc, r->t), pc_expr_op_symbol(e->op));
    else
        d = pc_report(tc->c, PC_D_TYPE_MISMATCH, e->loc,
                      "cannot apply '%s' to %s and %s",
                      pc_expr_op_symbol(e->op), a_type(tc, l->t),
                      a_type(tc, r->t));
    note_origin(tc, d, &l->o);
    note_origin(tc, d, &r->o);
}

/* An enum-typed side compared with a string literal outside the enum. */
static void enum_literal(struct tc *tc, const struct tyinfo *ti,
                         const struct pc_expr *side, const struct pc_expr *lit,
                         bool always_true)
{
    if (lit->kind != PC_E_STR || ti->t->kind != PC_TY_STRING ||
        !ti->t->enumv || pc_ty_enum_allows(ti->t, lit->str))
        return;
    struct pc_diag *d = pc_report(
        tc->c, PC_D_ENUM_COMPARE, lit->loc,
        "'%s' is not a value of %s (%s); the comparison is always %s",
        lit->str, expr_text(tc, side), ty_text(tc, ti->t),
        always_true ? "true" : "false");
    const char *near = pc_closest(lit->str, ti->t->enumv, ti->t->nenum);
    if (near)
        pc_note(tc->c, d, NOLOC, "did you mean '%s'?", near);
    note_origin(tc, d, &ti->o);
}

static struct tyinfo binary(struct tc *tc, struct pc_expr *e)
{
    struct pc_expr *le = e->args[0], *re = e->args[1];
    struct tyinfo l = infer(tc, le), r = infer(tc, re);
    int op = e->op;
    switch (op) {
    case PR_OP_AND:
    case PR_OP_OR:
        return plain(&pc_ty_boolean);
    case PR_OP_EQ:
    case PR_OP_NE:
        enum_literal(tc, &l, le, re, op == PR_OP_NE);
        enum_literal(tc, &r, re, le, op == PR_OP_NE);
        return plain(&pc_ty_boolean);
    case PR_OP_IN:
        if (re->kind == PC_E_LIST)
            for (size_t i = 0; i < re->nargs; i++)
                enum_literal(tc, &l, le, re->args[i], false);
        if (le->kind == PC_E_STR && r.t->kind == PC_TY_ARRAY) {
            struct tyinfo el = {pc_ty_elem(r.t), r.o};
            enum_literal(tc, &el, re, le, false);
        }
        if (known(r.t) && r.t->kind != PC_TY_ARRAY &&
            r.t->kind != PC_TY_STRING && r.t->kind != PC_TY_OBJECT &&
            r.t->kind != PC_TY_NULL) {
            struct pc_diag *d = pc_report(
                tc->c, PC_D_TYPE_MISMATCH, re->loc,
                "'in' needs a list, string or object to search, not %s",
                a_type(tc, r.t));
            note_origin(tc, d, &r.o);
        }
        return plain(&pc_ty_boolean);
    case PR_OP_LT:
    case PR_OP_LE:
    case PR_OP_GT:
    case PR_OP_GE: {
        if (known(l.t) && known(r.t) &&
            !(pc_ty_is_numeric(l.t) && pc_ty_is_numeric(r.t)) &&
            !(l.t->kind == PC_TY_STRING && r.t->kind == PC_TY_STRING)) {
            mismatch(tc, e, true, &l, &r);
        } else if (known(l.t) != known(r.t)) {
            report_any(tc, known(l.t) ? re : le, known(l.t) ? &r : &l,
                       a_type(tc, known(l.t) ? l.t : r.t));
        }
        return plain(&pc_ty_boolean);
    }
    default: /* arithmetic */
        if (op == PR_OP_ADD && l.t->kind == PC_TY_STRING &&
            r.t->kind == PC_TY_STRING)
            return plain(&pc_ty_string);
        if (known(l.t) && known(r.t) &&
            !(pc_ty_is_numeric(l.t) && pc_ty_is_numeric(r.t))) {
            mismatch(tc, e, false, &l, &r);
            return plain(&pc_ty_any);
        }
        if (known(l.t) != known(r.t))
            report_any(tc, known(l.t) ? re : le, known(l.t) ? &r : &l,
                       a_type(tc, known(l.t) ? l.t : r.t));
        if (l.t->kind == PC_TY_INTEGER && r.t->kind == PC_TY_INTEGER &&
            op != PR_OP_DIV)
            return plain(&pc_ty_integer);
        if (pc_ty_is_numeric(l.t) && pc_ty_is_numeric(r.t))
            return plain(&pc_ty_number);
        return plain(op == PR_OP_ADD ? &pc_ty_any : &pc_ty_number);
    }
}

/* Argument I of call E must be one of the kinds in MASK. */
static bool want_arg(struct tc *tc, struct pc_expr *e, size_t i,
                     const struct tyinfo *ti, unsigned mask, const char *need)
{
    if (!known(ti->t)) {
        report_any(tc, e->args[i], ti, need);
        return true;
    }
    if (ti->t->kind == PC_TY_NULL || (mask & (1u << ti->t->kind)) ||
        ((mask & (1u << PC_TY_NUMBER)) && ti->t->kind == PC_TY_INTEGER))
        return true;
    struct pc_diag *d = pc_report(tc->c, PC_D_ARGUMENT_TYPE, e->args[i]->loc,
                                  "%s() needs %s, not %s", e->str, need,
                                  a_type(tc, ti->t));
    note_origin(tc, d, &ti->o);
    return false;
}

#define M(k) (1u << PC_TY_##k)

static struct tyinfo call(struct tc *tc, struct pc_expr *e)
{
    struct tyinfo av[2] = {plain(&pc_ty_any), plain(&pc_ty_any)};
    for (size_t i = 0; i < e->nargs; i++) {
        struct tyinfo t = infer(tc, e->args[i]);
        if (i < 2)
            av[i] = t;
    }
    if (e->nargs != (size_t)pr_func_arity((unsigned)e->op))
        return plain(&pc_ty_any);
    switch ((enum pr_func)e->op) {
    case PR_FN_LEN:
        want_arg(tc, e, 0, &av[0], M(STRING) | M(ARRAY) | M(OBJECT),
                 "a string, list or object");
        return plain(&pc_ty_integer);
    case PR_FN_CONTAINS:
        if (want_arg(tc, e, 0, &av[0], M(STRING) | M(ARRAY) | M(OBJECT),
                     "a list, string or object to search") &&
            av[0].t->kind != PC_TY_ARRAY && known(av[0].t) &&
            av[0].t->kind != PC_TY_NULL)
            want_arg(tc, e, 1, &av[1], M(STRING),
                     "a string to look for in a string or object");
        if (av[0].t->kind == PC_TY_ARRAY) {
            struct tyinfo el = {pc_ty_elem(av[0].t), av[0].o};
            enum_literal(tc, &el, e->args[0], e->args[1], false);
        }
        return plain(&pc_ty_boolean);
    case PR_FN_STARTS_WITH:
    case PR_FN_ENDS_WITH:
        want_arg(tc, e, 0, &av[0], M(STRING), "a string");
        want_arg(tc, e, 1, &av[1], M(STRING), "a string");
        return plain(&pc_ty_boolean);
    case PR_FN_JOIN:
        want_arg(tc, e, 0, &av[0], M(ARRAY), "a list");
        want_arg(tc, e, 1, &av[1], M(STRING), "a string");
        if (av[0].t->kind == PC_TY_ARRAY) {
            const struct pc_ty *el = pc_ty_elem(av[0].t);
            if (el->kind == PC_TY_ARRAY || el->kind == PC_TY_OBJECT) {
                struct pc_diag *d = pc_report(
                    tc->c, PC_D_ARGUMENT_TYPE, e->args[0]->loc,
                    "join() cannot join elements of type %s", a_type(tc, el));
                note_origin(tc, d, &av[0].o);
            }
        }
        return plain(&pc_ty_string);
    case PR_FN_DEFAULT: {
        const struct pc_ty *x = av[0].t->kind == PC_TY_NULL ? av[1].t
                                                            : av[0].t;
        const struct pc_ty *j = pc_ty_join(tc->a, x, av[1].t);
        return plain(j ? j : &pc_ty_any);
    }
    case PR_FN_LOWER:
    case PR_FN_UPPER:
        want_arg(tc, e, 0, &av[0], M(STRING), "a string");
        return plain(&pc_ty_string);
    }
    return plain(&pc_ty_any);
}

/* A number written in the workflow: integer when it is whole. */
static const struct pc_ty *num_type(double v)
{
    return v == floor(v) && fabs(v) < 9e15 ? &pc_ty_integer : &pc_ty_number;
}

static struct tyinfo infer(struct tc *tc, struct pc_expr *e)
{
    if (!e)
        return plain(&pc_ty_any);
    switch (e->kind) {
    case PC_E_NULL:
        return plain(&pc_ty_null);
    case PC_E_BOOL:
        return plain(&pc_ty_boolean);
    case PC_E_NUM:
        return plain(num_type(e->num));
    case PC_E_STR:
        return plain(&pc_ty_string);
    case PC_E_LIST: {
        const struct pc_ty *t = NULL;
        for (size_t i = 0; i < e->nargs; i++) {
            const struct pc_ty *u = infer(tc, e->args[i]).t;
            t = t ? pc_ty_join(tc->a, t, u) : u;
            if (!t) {
                pc_oom(tc->c);
                return plain(&pc_ty_any_array);
            }
        }
        const struct pc_ty *a = t ? pc_ty_array(tc->a, t) : &pc_ty_any_array;
        return plain(a ? a : &pc_ty_any_array);
    }
    case PC_E_PATH:
        return path_type(tc, e);
    case PC_E_MEMBER: {
        struct tyinfo b = infer(tc, e->args[0]);
        if (!known(b.t))
            return b;
        return field(tc, b, e->str, e->loc, e->args[0], 0);
    }
    case PC_E_INDEX: {
        struct tyinfo b = infer(tc, e->args[0]);
        struct tyinfo i = infer(tc, e->args[1]);
        if (b.t->kind == PC_TY_ARRAY) {
            if (known(i.t) && !pc_ty_is_numeric(i.t)) {
                struct pc_diag *d = pc_report(
                    tc->c, PC_D_TYPE_MISMATCH, e->args[1]->loc,
                    "cannot index a list with %s", a_type(tc, i.t));
                note_origin(tc, d, &i.o);
            }
            b.t = pc_ty_elem(b.t);
            return b;
        }
        if (b.t->kind == PC_TY_OBJECT) {
            if (e->args[1]->kind == PC_E_STR)
                return field(tc, b, e->args[1]->str, e->args[1]->loc,
                             e->args[0], 0);
            if (known(i.t) && i.t->kind != PC_TY_STRING) {
                struct pc_diag *d = pc_report(
                    tc->c, PC_D_TYPE_MISMATCH, e->args[1]->loc,
                    "cannot index an object with %s", a_type(tc, i.t));
                note_origin(tc, d, &i.o);
            }
            return plain(&pc_ty_any);
        }
        if (known(b.t) && b.t->kind != PC_TY_NULL) {
            struct pc_diag *d = pc_report(tc->c, PC_D_TYPE_MISMATCH,
                                          e->args[0]->loc, "cannot index %s",
                                          a_type(tc, b.t));
            note_origin(tc, d, &b.o);
        }
        return plain(&pc_ty_any);
    }
    case PC_E_UNARY: {
        struct tyinfo v = infer(tc, e->args[0]);
        if (e->op == PR_OP_NOT)
            return plain(&pc_ty_boolean);
        if (known(v.t) && !pc_ty_is_numeric(v.t)) {
            struct pc_diag *d = pc_report(tc->c, PC_D_TYPE_MISMATCH, e->loc,
                                          "cannot apply unary '-' to %s",
                                          a_type(tc, v.t));
            note_origin(tc, d, &v.o);
            return plain(&pc_ty_any);
        }
        report_any(tc, e->args[0], &v, "a number");
        return plain(v.t->kind == PC_TY_INTEGER ? &pc_ty_integer
                                                : &pc_ty_number);
    }
    case PC_E_BINARY:
        return binary(tc, e);
    case PC_E_CALL:
        return call(tc, e);
    }
    return plain(&pc_ty_any);
}

/* ---- values written in the workflow ---- */

static void check_interp(struct tc *tc, struct pc_interp *in)
{
    for (size_t i = 0; in && i < in->nparts; i++)
        if (in->parts[i].expr)
            infer(tc, in->parts[i].expr);
}

static struct tyinfo tval_type(struct tc *tc, struct pc_tval *v, int depth)
{
    if (!v || depth > 64)
        return plain(&pc_ty_any);
    switch (v->kind) {
    case PC_TV_NULL:
        return plain(&pc_ty_null);
    case PC_TV_BOOL:
        return plain(&pc_ty_boolean);
    case PC_TV_NUM:
        return plain(num_type(v->num));
    case PC_TV_STR:
        if (v->str && v->str->pure && v->str->nparts == 1 &&
            v->str->parts[0].expr)
            return infer(tc, v->str->parts[0].expr);
        check_interp(tc, v->str);
        return plain(&pc_ty_string);
    case PC_TV_LIST: {
        const struct pc_ty *t = NULL;
        for (size_t i = 0; i < v->len; i++) {
            const struct pc_ty *u = tval_type(tc, v->items[i], depth + 1).t;
            t = t ? pc_ty_join(tc->a, t, u) : u;
            if (!t)
                return plain(&pc_ty_any_array);
        }
        const struct pc_ty *a = t ? pc_ty_array(tc->a, t) : &pc_ty_any_array;
        return plain(a ? a : &pc_ty_any_array);
    }
    case PC_TV_MAP: {
        const struct pc_ty **f = pr_arena_alloc(tc->a,
                                                (v->len + 1) * sizeof *f);
        if (!f) {
            pc_oom(tc->c);
            return plain(&pc_ty_open_object);
        }
        for (size_t i = 0; i < v->len; i++)
            f[i] = tval_type(tc, v->items[i], depth + 1).t;
        const struct pc_ty *o = pc_ty_object(tc->a, v->keys, f, v->len, false);
        return plain(o ? o : &pc_ty_open_object);
    }
    }
    return plain(&pc_ty_any);
}

/* Checks the map M (inputs or with) against the object type WANT, each
 * entry; WHOSE names what declares the types. */
static void check_map_against(struct tc *tc, struct pc_tval *m,
                              const struct pc_ty *want, const char *what,
                              const struct origin *o)
{
    for (size_t i = 0; m && m->kind == PC_TV_MAP && i < m->len; i++) {
        struct tyinfo got = tval_type(tc, m->items[i], 0);
        const struct pc_ty *w = pc_ty_field(want, m->keys[i]);
        if (!w || !known(w))
            continue;
        if (!known(got.t)) {
            report_any(tc,
                       m->items[i]->kind == PC_TV_STR && m->items[i]->str->pure
                           ? m->items[i]->str->parts[0].expr
                           : NULL,
                       &got, ty_text(tc, w));
            continue;
        }
        if (got.t->kind == PC_TY_NULL || pc_ty_assignable(got.t, w))
            continue;
        struct pc_diag *d = pc_report(
            tc->c, PC_D_INPUT_TYPE, m->items[i]->loc,
            "%s '%s' of step '%s' is %s, where %s wants %s",
            m != tc->step->with              ? "input"
            : tc->step->kind == PC_STEP_TOOL ? "argument"
                                             : "parameter",
            m->keys[i], tc->step->id, ty_text(tc, got.t), what,
            ty_text(tc, w));
        note_origin(tc, d, &got.o);
        if (d && o->fmt)
            pc_note(tc->c, d, o->loc, o->fmt, o->a, o->b);
    }
}

/* Values given in ARGS against the object type WANT of WHAT. */
static void check_args(struct tc *tc, struct pc_tval *args,
                       const struct pc_ty *want, const char *what,
                       const struct origin *o)
{
    if (args && want && want->kind == PC_TY_OBJECT)
        check_map_against(tc, args, want, pr_arena_strdup(tc->a, what), o);
}

static void check_prompt_inputs(struct tc *tc, struct pc_step *s)
{
    const struct pc_prompt *p = s->prompt_def;
    if (!p || !p->input_schema || !s->inputs)
        return;
    char what[96];
    snprintf(what, sizeof what, "prompt file '%.60s'", s->prompt_file);
    struct origin o = {s->prompt_file_loc,
                       "the input schema of prompt file '%s' types it%s",
                       s->prompt_file, ""};
    check_args(tc, s->inputs, json_type(tc, cJSON_Parse(p->input_schema)),
               what, &o);
}

/* A tool step's arguments (inputs, or with) against the input schema
 * its definition states. */
static void check_tool_inputs(struct tc *tc, struct pc_step *s)
{
    const struct pc_node *n = s->tool_input_schema;
    if (!n)
        return;
    char what[96];
    snprintf(what, sizeof what, "tool '%.60s'", s->tool);
    struct origin o = {n->loc, "the input schema of tool '%s' types it%s",
                       s->tool, ""};
    check_args(tc, s->inputs ? s->inputs : s->with, node_type(tc, n), what,
               &o);
}

/* ---- steps ---- */

static const char *const literal_kinds[] = {[PC_E_NULL] = "null",
                                            [PC_E_BOOL] = "a boolean",
                                            [PC_E_NUM] = "a number",
                                            [PC_E_STR] = "a string"};

static void check_for_each(struct tc *tc, struct pc_step *s)
{
    struct pc_expr *e = s->for_each;
    struct tyinfo t = infer(tc, e);
    tc->item = (struct tyinfo){pc_ty_elem(t.t), t.o};
    if (!tc->item.t)
        tc->item.t = &pc_ty_any;
    else if (t.o.fmt)
        tc->item.o = (struct origin){e->loc,
                                     "'item' is an element of the for_each "
                                     "list of step '%s'%s",
                                     s->id, ""};
    tc->have_item = true;
    /* literals and parameters: analyze.c says it in its own words */
    if (e->kind <= PC_E_STR && literal_kinds[e->kind])
        return;
    if (e->kind == PC_E_PATH && e->nseg == 2 && !strcmp(e->seg[0], "params"))
        return;
    if (!known(t.t)) {
        report_any(tc, e, &t, "a list");
        return;
    }
    if (t.t->kind == PC_TY_ARRAY || t.t->kind == PC_TY_NULL)
        return;
    struct pc_diag *d = pc_report(tc->c, PC_D_FOR_EACH_TYPE, e->loc,
                                  "for_each of step '%s' must be a list, not "
                                  "%s (%s)",
                                  s->id, ty_text(tc, t.t), expr_text(tc, e));
    note_origin(tc, d, &t.o);
}

static void check_condition(struct tc *tc, struct pc_step *s,
                            struct pc_expr *e, const char *what)
{
    struct tyinfo t = infer(tc, e);
    if (!known(t.t) || t.t->kind == PC_TY_BOOLEAN || pc_expr_is_constant(e))
        return;
    struct pc_diag *d = pc_report(
        tc->c, PC_D_CONDITION_TYPE, e->loc,
        "the %s of step '%s' is %s, not a boolean; it is tested for "
        "truthiness",
        what, s->id, ty_text(tc, t.t));
    note_origin(tc, d, &t.o);
    pc_note(tc->c, d, NOLOC,
            "compare it (== , !=, len(...) > 0) to say what is meant");
}

/* The main output of step S as an aggregator reads it: result, json, text
 * or stdout, the first it has; a list for a for_each step. */
static const struct pc_ty *main_output(struct tc *tc, const struct pc_step *s)
{
    const struct pc_ty *t = &pc_ty_any;
    if (s->kind == PC_STEP_AGGREGATE || s->kind == PC_STEP_LLM)
        t = s->schema_ty ? s->schema_ty : &pc_ty_any;
    if (s->for_each) {
        const struct pc_ty *a = pc_ty_array(tc->a, t);
        t = a ? a : &pc_ty_any_array;
    }
    return t;
}

static const struct pc_ty *aggregate_type(struct tc *tc, struct pc_step *s)
{
    const char *st = s->strategy ? s->strategy : "concat";
    if (s->inputs || !s->ndeps || !pc_is_builtin_strategy(st))
        return &pc_ty_any;
    if (!strcmp(st, "merge"))
        return &pc_ty_open_object;
    const struct pc_ty *all = NULL, *items = NULL;
    bool strings = true, lists = true;
    for (size_t i = 0; i < s->ndeps; i++) {
        if (s->deps[i].order_only || s->deps[i].implied)
            continue;
        const struct pc_ty *t = main_output(
            tc, &tc->b->wf->steps[s->deps[i].step]);
        if (!known(t))
            return &pc_ty_any;
        strings = strings && t->kind == PC_TY_STRING;
        lists = lists && t->kind == PC_TY_ARRAY;
        const struct pc_ty *it = t->kind == PC_TY_ARRAY ? pc_ty_elem(t) : t;
        all = all ? pc_ty_join(tc->a, all, t) : t;
        items = items ? pc_ty_join(tc->a, items, it) : it;
        if (!all || !items)
            return &pc_ty_any;
    }
    if (!all)
        return &pc_ty_any;
    if (!strcmp(st, "concat")) {
        if (strings)
            return &pc_ty_string;
        const struct pc_ty *a = pc_ty_array(tc->a, items);
        return a ? a : &pc_ty_any;
    }
    if (!strcmp(st, "merge_and_deduplicate")) {
        const struct pc_ty *a = pc_ty_array(tc->a, items);
        return a ? a : &pc_ty_any;
    }
    if (!strcmp(st, "reduce") && all->kind == PC_TY_OBJECT)
        return &pc_ty_open_object;
    (void)lists;
    return all; /* first_success, vote, reduce */
}

static void check_step(struct tc *tc, struct pc_step *s)
{
    tc->step = s;
    tc->have_item = false;
    if (s->for_each)
        check_for_each(tc, s);
    if (s->condition)
        check_condition(tc, s, s->condition, "condition");
    check_interp(tc, s->run);
    check_interp(tc, s->prompt);
    check_interp(tc, s->system);
    tval_type(tc, s->inputs, 0);
    tval_type(tc, s->env, 0);
    if (s->kind != PC_STEP_WORKFLOW)
        tval_type(tc, s->with, 0);
    check_prompt_inputs(tc, s);
    if (s->kind == PC_STEP_TOOL)
        check_tool_inputs(tc, s);
    if (s->score) {
        tc->have_item = false;
        infer(tc, s->score);
    }
    if (s->kind == PC_STEP_AGGREGATE)
        s->schema_ty = aggregate_type(tc, s);
    tc->step = NULL;
}

void pc_types_check(struct pc_build *b)
{
    struct tc tc = {b, b->ctx, &b->ctx->arena, NULL, {0}, false};
    struct pc_workflow *wf = b->wf;
    for (size_t k = 0; k < wf->nsteps; k++)
        check_step(&tc, &wf->steps[wf->order ? wf->order[k] : k]);
    for (size_t i = 0; i < wf->nphases; i++) {
        infer(&tc, wf->phases[i].gate);
        infer(&tc, wf->phases[i].feedback_when);
    }
}

void pc_types_check_subs(struct pc_build *b)
{
    struct tc tc = {b, b->ctx, &b->ctx->arena, NULL, {0}, false};
    struct pc_workflow *wf = b->wf;
    for (size_t i = 0; i < wf->nsteps; i++) {
        struct pc_step *s = &wf->steps[i];
        if (!s->workflow || !s->with)
            continue;
        struct pc_workflow *sub = NULL;
        for (size_t k = 0; k < wf->nsubs; k++)
            if (!strcmp(wf->subs[k].name, s->workflow))
                sub = wf->subs[k].wf;
        if (!sub) {
            tval_type(&tc, s->with, 0);
            continue;
        }
        const char **names = pr_arena_alloc(tc.a, (sub->nparams + 1) *
                                                      sizeof *names);
        const struct pc_ty **tys = pr_arena_alloc(tc.a, (sub->nparams + 1) *
                                                            sizeof *tys);
        if (!names || !tys) {
            pc_oom(tc.c);
            return;
        }
        for (size_t k = 0; k < sub->nparams; k++) {
            names[k] = sub->params[k].name;
            tys[k] = sub->params[k].ty ? sub->params[k].ty : &pc_ty_any;
        }
        const struct pc_ty *want = pc_ty_object(tc.a, names, tys, sub->nparams,
                                                true);
        if (!want)
            return;
        tc.step = s;
        tc.have_item = false; /* item: any here */
        char what[96];
        snprintf(what, sizeof what, "sub-workflow '%.60s'", s->workflow);
        struct origin o = {s->workflow_loc,
                           "sub-workflow '%s' declares the types of its "
                           "parameters%s",
                           s->workflow, ""};
        check_map_against(&tc, s->with, want, pr_arena_strdup(tc.a, what), &o);
    }
}

/* ---- for pomlc --emit=json ---- */

static void add_output(cJSON *o, struct pr_arena *a, const struct pc_step *s,
                       const char *name)
{
    if (cJSON_GetObjectItemCaseSensitive(o, name))
        return;
    char text[256];
    const struct pc_ty *t = output_type(a, s, name).t;
    cJSON *e = cJSON_AddObjectToObject(o, name);
    if (!e)
        return;
    pc_ty_print(t, text, sizeof text);
    cJSON_AddStringToObject(e, "type", text);
    cJSON_AddItemToObject(e, "schema", pc_ty_to_schema(t));
}

cJSON *pc_output_types_json(struct pr_arena *a, const struct pc_step *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    add_output(o, a, s, "status");
    add_output(o, a, s, "attempts");
    for (const struct fixed *f = fixed_of(s->kind); f && f->name; f++)
        add_output(o, a, s, f->name);
    for (size_t i = 0; i < s->noutputs; i++)
        add_output(o, a, s, s->outputs[i]);
    for (size_t i = 0;
         !s->noutputs && pc_schema_has_outputs(s) && i < s->schema_ty->nfields;
         i++)
        add_output(o, a, s, s->schema_ty->names[i]);
    return o;
}
