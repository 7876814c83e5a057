/* arrow.c -- chain, flow, swarm and pipeline: the compact arrow syntax and
 * the YAML forms of the same four shapes
 *
 * Compact forms order steps defined under steps:
 *   chain: "a → b → c"                 pipeline: "in → [x, y] → out"
 *   flow: "if EXPR then a → b else c"
 *   swarm: "coordinator: plan → specialists: [x, y] → aggregator: report"
 * '->' may stand for '→'.  The YAML forms (/chain, /flow, /swarm,
 * /pipeline) define their own steps.  Everything becomes ordinary steps
 * and dependencies; nothing downstream knows which form was used.
 */
#include "compile.h"

#include <stdlib.h>
#include <string.h>

#include "read.h"

#define NOLOC ((struct pc_loc){0, 0, 0})

bool pc_is_arrow_key(const char *key)
{
    return !strcmp(key, "chain") || !strcmp(key, "flow") ||
           !strcmp(key, "swarm") || !strcmp(key, "pipeline");
}

/* ---- compact syntax ---- */

struct group {
    uint32_t steps[64];
    struct pc_loc locs[64]; /* where each name stands */
    unsigned n;
};

struct cursor {
    struct pc_build *b;
    const struct pc_node *node;
    const char *s; /* the scalar's text */
    size_t i, end;
    bool failed;
};

static void cur_error(struct cursor *c, size_t at, size_t len, const char *fmt,
                      const char *arg)
{
    if (c->failed)
        return;
    c->failed = true;
    if (at >= c->end) /* at the end: point just past the text */
        len = 0;
    pc_report(c->b->ctx, PC_D_ARROW, pc_node_subloc(c->node, at, len), fmt,
              arg);
}

static void skip_ws(struct cursor *c)
{
    while (c->i < c->end &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n'))
        c->i++;
}

static bool at_arrow(struct cursor *c)
{
    skip_ws(c);
    if (c->i + 3 <= c->end && !memcmp(c->s + c->i, "\xE2\x86\x92", 3)) {
        c->i += 3;
        return true;
    }
    if (c->i + 2 <= c->end && !memcmp(c->s + c->i, "->", 2)) {
        c->i += 2;
        return true;
    }
    return false;
}

static bool ident_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

/* Reads an identifier; returns its length (0 if none). */
static size_t word(struct cursor *c, size_t *start)
{
    skip_ws(c);
    *start = c->i;
    while (c->i < c->end && ident_char(c->s[c->i])) {
        /* "->" ends a name */
        if (c->s[c->i] == '-' && c->i + 1 < c->end && c->s[c->i + 1] == '>')
            break;
        c->i++;
    }
    return c->i - *start;
}

static bool keyword(struct cursor *c, const char *kw)
{
    skip_ws(c);
    size_t n = strlen(kw);
    if (c->i + n <= c->end && !memcmp(c->s + c->i, kw, n) &&
        (c->i + n == c->end || !ident_char(c->s[c->i + n]))) {
        c->i += n;
        return true;
    }
    return false;
}

static bool step_ref(struct cursor *c, struct group *g)
{
    size_t start, n = word(c, &start);
    if (n == 0) {
        cur_error(c, c->i, 1, "expected a step id%s", "");
        return false;
    }
    char *id = pr_arena_strndup(&c->b->ctx->arena, c->s + start, n);
    if (!id)
        return false;
    long t = pc_step_index(c->b, id);
    if (t < 0) {
        struct pc_diag *d = pc_report(c->b->ctx, PC_D_UNDEFINED_STEP,
                                      pc_node_subloc(c->node, start, n),
                                      "unknown step '%s'", id);
        pc_suggest_step(c->b, d, id);
        return true; /* keep reading: report every unknown name */
    }
    if (g->n >= 64) {
        cur_error(c, start, n, "more than 64 steps in one group%s", "");
        return false;
    }
    g->locs[g->n] = pc_node_subloc(c->node, start, n);
    g->steps[g->n++] = (uint32_t)t;
    return true;
}

/* elem := id | '[' id (',' id)* ']' */
static bool element(struct cursor *c, struct group *g)
{
    g->n = 0;
    skip_ws(c);
    if (c->i < c->end && c->s[c->i] == '[') {
        size_t open = c->i++;
        do {
            if (!step_ref(c, g))
                return false;
            skip_ws(c);
        } while (c->i < c->end && c->s[c->i] == ',' && ++c->i);
        if (c->i >= c->end || c->s[c->i] != ']') {
            cur_error(c, open, 1, "unclosed '['%s", "");
            return false;
        }
        c->i++;
        return true;
    }
    return step_ref(c, g);
}

static void link(struct pc_build *b, const struct group *from,
                 const struct group *to, struct pc_loc loc)
{
    for (unsigned i = 0; i < to->n; i++)
        for (unsigned j = 0; j < from->n; j++)
            if (to->steps[i] != from->steps[j])
                pc_add_dep(b, &b->wf->steps[to->steps[i]], from->steps[j],
                           false, false, loc);
            else
                pc_report(b->ctx, PC_D_CYCLE, to->locs[i],
                          "step '%s' follows itself",
                          b->wf->steps[to->steps[i]].id);
}

/* chain := elem (ARROW elem)*; stops before 'else' or the end.  FIRST gets
 * the first element (for flow branches). */
static bool chain(struct cursor *c, struct group *first, bool stop_at_else)
{
    struct group prev, cur;
    if (!element(c, &prev))
        return false;
    if (first)
        *first = prev;
    for (;;) {
        size_t save = c->i;
        if (!at_arrow(c)) {
            c->i = save;
            break;
        }
        if (!element(c, &cur))
            return false;
        link(c->b, &prev, &cur, c->node->loc);
        prev = cur;
    }
    skip_ws(c);
    if (c->i < c->end) {
        size_t save = c->i;
        if (stop_at_else && keyword(c, "else")) {
            c->i = save;
            return true;
        }
        cur_error(c, c->i, 1, "expected '→' or the end of the %s",
                  stop_at_else ? "branch" : "chain");
        return false;
    }
    return true;
}

static struct pc_expr *mk_unary(struct pc_build *b, int op, struct pc_expr *e)
{
    struct pc_expr *n = pr_arena_alloc(&b->ctx->arena, sizeof *n);
    struct pc_expr **args = pr_arena_alloc(&b->ctx->arena, sizeof *args);
    if (!n || !args) {
        pc_oom(b->ctx);
        return e;
    }
    n->kind = PC_E_UNARY;
    n->op = op;
    n->loc = e->loc;
    args[0] = e;
    n->args = args;
    n->nargs = 1;
    n->height = e->height + 1;
    n->need = e->need;
    return n;
}

static struct pc_expr *mk_and(struct pc_build *b, struct pc_expr *l,
                              struct pc_expr *r)
{
    if (!l)
        return r;
    struct pc_expr *n = pr_arena_alloc(&b->ctx->arena, sizeof *n);
    struct pc_expr **args = pr_arena_alloc(&b->ctx->arena, 2 * sizeof *args);
    if (!n || !args) {
        pc_oom(b->ctx);
        return l;
    }
    n->kind = PC_E_BINARY;
    n->op = PR_OP_AND;
    n->loc = r->loc;
    args[0] = l;
    args[1] = r;
    n->args = args;
    n->nargs = 2;
    n->height = (l->height > r->height ? l->height : r->height) + 1;
    n->need = (l->need > r->need + 1 ? l->need : r->need + 1);
    return n;
}

static void guard(struct pc_build *b, const struct group *g,
                  struct pc_expr *cond)
{
    for (unsigned i = 0; i < g->n; i++) {
        struct pc_step *s = &b->wf->steps[g->steps[i]];
        s->condition = mk_and(b, s->condition, cond);
    }
}

/* flow := 'if' EXPR 'then' chain ('else' chain)? */
static void compact_flow(struct cursor *c)
{
    if (!keyword(c, "if")) {
        cur_error(c, c->i, 1, "a flow starts with 'if'%s", "");
        return;
    }
    skip_ws(c);
    size_t estart = c->i, eend = 0;
    /* the expression runs to the first ' then ' outside quotes */
    char quote = 0;
    for (size_t k = c->i; k < c->end; k++) {
        char ch = c->s[k];
        if (quote) {
            if (ch == '\\')
                k++;
            else if (ch == quote)
                quote = 0;
        } else if (ch == '"' || ch == '\'') {
            quote = ch;
        } else if (k > estart && (c->s[k - 1] == ' ' || c->s[k - 1] == '\t') &&
                   k + 4 <= c->end && !memcmp(c->s + k, "then", 4) &&
                   (k + 4 == c->end || !ident_char(c->s[k + 4]))) {
            eend = k;
            break;
        }
    }
    if (!eend) {
        cur_error(c, c->i, 1, "expected 'then' after the condition%s", "");
        return;
    }
    size_t elen = eend - estart;
    while (elen &&
           (c->s[estart + elen - 1] == ' ' || c->s[estart + elen - 1] == '\t'))
        elen--;
    struct pc_expr *cond = NULL;
    if (pc_expr_parse(c->b->ctx, c->node, estart, elen, &cond) < 0)
        c->failed = true;
    c->i = eend + 4;
    struct group then_first = {0}, else_first = {0};
    if (!chain(c, &then_first, true))
        return;
    bool has_else = keyword(c, "else");
    if (has_else && !chain(c, &else_first, false))
        return;
    if (!cond)
        return;
    guard(c->b, &then_first, cond);
    if (has_else)
        guard(c->b, &else_first, mk_unary(c->b, PR_OP_NOT, cond));
}

/* swarm := role ':' elem (ARROW role ':' elem)* */
static void compact_swarm(struct cursor *c)
{
    static const char *const roles[] = {"coordinator", "specialists",
                                        "aggregator", NULL};
    struct group prev = {0}, cur;
    bool have_prev = false;
    do {
        size_t start, n = word(c, &start);
        skip_ws(c);
        if (n == 0 || c->i >= c->end || c->s[c->i] != ':') {
            cur_error(c, start, n ? n : 1,
                      "expected 'role: steps' (coordinator, specialists or "
                      "aggregator)%s",
                      "");
            return;
        }
        char *role = pr_arena_strndup(&c->b->ctx->arena, c->s + start, n);
        bool known = false;
        for (int r = 0; role && roles[r]; r++)
            known |= !strcmp(role, roles[r]);
        if (role && !known) {
            struct pc_diag *d = pc_report(
                c->b->ctx, PC_D_ARROW, pc_node_subloc(c->node, start, n),
                "unknown swarm role '%s'; expected coordinator, "
                "specialists or aggregator",
                role);
            const char *near = pc_closest(role, roles, 3);
            if (near)
                pc_note(c->b->ctx, d, NOLOC, "did you mean '%s'?", near);
        }
        c->i++;
        if (!element(c, &cur))
            return;
        if (have_prev)
            link(c->b, &prev, &cur, c->node->loc);
        prev = cur;
        have_prev = true;
    } while (at_arrow(c));
    skip_ws(c);
    if (c->i < c->end)
        cur_error(c, c->i, 1, "expected '→' or the end of the swarm%s", "");
}

static void compact(struct pc_build *b, const char *key,
                    const struct pc_node *n)
{
    if (n->kind == PC_NODE_SEQ) {
        for (size_t i = 0; i < n->len; i++)
            compact(b, key, n->items[i]);
        return;
    }
    if (!pc_get_str(b->ctx, n, key))
        return;
    struct cursor c = {b, n, n->str, 0, n->len, false};
    if (!strcmp(key, "flow"))
        compact_flow(&c);
    else if (!strcmp(key, "swarm"))
        compact_swarm(&c);
    else
        chain(&c, NULL, false);
}

/* ---- YAML forms ---- */

/* A scalar node holding TEXT, for prompts the compiler writes itself. */
static const struct pc_node *synth(struct pc_build *b, const char *text,
                                   struct pc_loc loc)
{
    struct pc_node *n = pr_arena_alloc(&b->ctx->arena, sizeof *n);
    if (!n) {
        pc_oom(b->ctx);
        return NULL;
    }
    n->kind = PC_NODE_SCALAR;
    n->style = PC_DQUOTED;
    n->str = text;
    n->len = strlen(text);
    n->loc = loc;
    return n;
}

static void synth_prompt(struct pc_build *b, struct pc_step *s,
                         const char *text)
{
    const struct pc_node *n = synth(b, text, s->loc);
    if (n && !s->prompt)
        pc_interp_parse(b->ctx, n, &s->prompt);
}

/* Declares a string parameter the form needs, unless already there. */
static void need_param(struct pc_build *b, const char *name, struct pc_loc loc,
                       const char *desc)
{
    if (pc_find_param(b->wf, name))
        return;
    struct pc_param *p = pc_add_param(b, name, loc);
    if (p) {
        p->type = PC_T_STRING;
        p->required = true;
        p->description = desc;
    }
}

static struct pc_step *form_step(struct pc_build *b, const char *id,
                                 const struct pc_node *def, struct pc_loc loc)
{
    struct pc_step *s = pc_add_step(b, id, loc);
    if (s && def) /* the caller has checked DEF's keys */
        pc_read_step_fields(b, def, s);
    if (s)
        s->synthetic = def == NULL;
    return s;
}

static const char *const chain_step_keys[] = {
    "name",       "command", "params",    "timeout",    "retry",
    "depends_on", "model",   "condition", "on_failure", NULL};

static void yaml_chain(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"steps", "options", NULL};
    static const char *const okeys[] = {
        "save_state", "parallel_where_possible", "error_strategy", NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "/chain"))
        return;
    pc_check_keys(b->ctx, n, keys, "/chain");
    bool parallel = false, cont = false;
    const struct pc_node *o = pc_map_get(n, "options"), *v;
    if (o && pc_want_kind(b->ctx, o, PC_NODE_MAP, "options")) {
        pc_check_keys(b->ctx, o, okeys, "/chain options");
        /* the state is kept by default; false keeps none */
        bool save;
        if ((v = pc_map_get(o, "save_state")) &&
            pc_get_bool(b->ctx, v, "save_state", &save) == 0)
            b->wf->no_state = !save;
        if ((v = pc_map_get(o, "parallel_where_possible")))
            pc_get_bool(b->ctx, v, "parallel_where_possible", &parallel);
        if ((v = pc_map_get(o, "error_strategy"))) {
            const char *es = pc_get_str(b->ctx, v, "error_strategy");
            if (es && !strcmp(es, "continue_on_failure"))
                cont = true;
            else if (es && !strcmp(es, "fail_fast"))
                b->wf->fail_fast = true;
            else if (es)
                pc_report(b->ctx, PC_D_BAD_VALUE, v->loc,
                          "'error_strategy' must be fail_fast or "
                          "continue_on_failure, not '%s'",
                          es);
        }
    }
    const struct pc_node *steps = pc_map_get(n, "steps");
    if (!steps) {
        pc_report(b->ctx, PC_D_MISSING_FIELD, n->loc, "/chain has no steps");
        return;
    }
    if (!pc_want_kind(b->ctx, steps, PC_NODE_SEQ, "steps"))
        return;
    size_t first = b->wf->nsteps;
    for (size_t i = 0; i < steps->len; i++) {
        const struct pc_node *def = steps->items[i];
        if (!pc_want_kind(b->ctx, def, PC_NODE_MAP, "chain step"))
            continue;
        pc_check_keys(b->ctx, def, chain_step_keys, "/chain step");
        const struct pc_node *nm = pc_map_get(def, "name");
        const char *id = nm ? pc_get_str(b->ctx, nm, "name") : NULL;
        if (!id) {
            pc_report(b->ctx, PC_D_MISSING_FIELD, def->loc,
                      "chain step has no 'name'");
            continue;
        }
        struct pc_step *s = form_step(b, id, def, nm->loc);
        if (s && cont)
            s->continue_on_failure = true;
    }
    for (size_t i = first; i < b->wf->nsteps; i++) {
        struct pc_step *s = &b->wf->steps[i];
        const struct pc_node *d = pc_map_get(s->node, "depends_on");
        size_t nd;
        struct pc_loc *locs;
        const char **ids = pc_get_str_list(b->ctx, d, "depends_on", &nd,
                                           &locs);
        for (size_t k = 0; k < nd; k++) {
            long t = pc_step_index(b, ids[k]);
            if (t < 0) {
                struct pc_diag *dg = pc_report(
                    b->ctx, PC_D_UNDEFINED_STEP, locs[k],
                    "step '%s' depends on unknown step '%s'", s->id, ids[k]);
                pc_suggest_step(b, dg, ids[k]);
            } else {
                pc_add_dep(b, s, (uint32_t)t, false, false, locs[k]);
            }
        }
        /* a chain is sequential unless told to find parallelism */
        if (!parallel && i > first)
            pc_add_dep(b, s, (uint32_t)(i - 1), false, false, s->loc);
    }
}

static void flow_branch(struct pc_build *b, const struct pc_node *acts,
                        const char *prefix, struct pc_expr *cond,
                        const struct group *after, struct group *made)
{
    static const char *const akeys[] = {"command", "params", "model",
                                        "timeout", "retry",  NULL};
    made->n = 0;
    if (!acts)
        return;
    const struct pc_node *one[1] = {acts};
    const struct pc_node *const *items = one;
    size_t n = 1;
    if (acts->kind == PC_NODE_SEQ) {
        items = (const struct pc_node *const *)acts->items;
        n = acts->len;
    }
    for (size_t i = 0; i < n && made->n < 64; i++) {
        if (!pc_want_kind(b->ctx, items[i], PC_NODE_MAP, "action"))
            continue;
        pc_check_keys(b->ctx, items[i], akeys, "flow action");
        char *id = pr_arena_printf(&b->ctx->arena, "%s_%zu", prefix, i + 1);
        struct pc_step *s = id ? form_step(b, id, items[i], items[i]->loc)
                               : NULL;
        if (!s)
            continue;
        s->condition = mk_and(b, s->condition, cond);
        /* a later block runs after an earlier one, whichever branch ran */
        for (unsigned k = 0; k < after->n; k++)
            pc_add_dep(b, s, after->steps[k], true, false, s->loc);
        made->steps[made->n++] = (uint32_t)(s - b->wf->steps);
    }
}

static void yaml_flow(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"conditions", "adaptive", "learning",
                                       NULL};
    static const char *const ckeys[] = {"if", "then", "else", NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "/flow"))
        return;
    pc_check_keys(b->ctx, n, keys, "/flow");
    const struct pc_node *v;
    bool flag;
    if ((v = pc_map_get(n, "adaptive")) &&
        pc_get_bool(b->ctx, v, "adaptive", &flag) == 0 && flag)
        pc_not_implemented(b->ctx, n, "adaptive",
                           "the flow does not adapt: its conditions are "
                           "evaluated as written");
    if ((v = pc_map_get(n, "learning")) &&
        pc_get_bool(b->ctx, v, "learning", &flag) == 0 && flag)
        pc_not_implemented(b->ctx, n, "learning",
                           "nothing is learnt from earlier runs yet");
    const struct pc_node *conds = pc_map_get(n, "conditions");
    if (!conds) {
        pc_report(b->ctx, PC_D_MISSING_FIELD, n->loc,
                  "/flow has no conditions");
        return;
    }
    if (!pc_want_kind(b->ctx, conds, PC_NODE_SEQ, "conditions"))
        return;
    struct group prev = {0};
    for (size_t i = 0; i < conds->len; i++) {
        const struct pc_node *blk = conds->items[i];
        if (!pc_want_kind(b->ctx, blk, PC_NODE_MAP, "condition block"))
            continue;
        pc_check_keys(b->ctx, blk, ckeys, "/flow condition");
        const struct pc_node *iff = pc_map_get(blk, "if");
        struct pc_expr *cond = NULL;
        if (!iff)
            pc_report(b->ctx, PC_D_MISSING_FIELD, blk->loc,
                      "condition block has no 'if'");
        else if (pc_get_str(b->ctx, iff, "if"))
            pc_cond_parse(b->ctx, iff, &cond);
        if (!cond)
            continue;
        char *p1 = pr_arena_printf(&b->ctx->arena, "flow%zu_then", i + 1);
        char *p2 = pr_arena_printf(&b->ctx->arena, "flow%zu_else", i + 1);
        struct group t, e;
        flow_branch(b, pc_map_get(blk, "then"), p1, cond, &prev, &t);
        flow_branch(b, pc_map_get(blk, "else"), p2,
                    mk_unary(b, PR_OP_NOT, cond), &prev, &e);
        prev = t;
        for (unsigned k = 0; k < e.n && prev.n < 64; k++)
            prev.steps[prev.n++] = e.steps[k];
    }
}

static void check_enum(struct pc_build *b, const struct pc_node *map,
                       const char *key, const char *const *allowed)
{
    const struct pc_node *v = pc_map_get(map, key);
    if (!v)
        return;
    const char *s = pc_get_str(b->ctx, v, key);
    if (!s)
        return;
    for (size_t i = 0; allowed[i]; i++)
        if (!strcmp(allowed[i], s))
            return;
    size_t n = 0;
    while (allowed[n])
        n++;
    struct pc_diag *d = pc_report(b->ctx, PC_D_BAD_VALUE, v->loc,
                                  "unknown %s '%s'", key, s);
    const char *near = pc_closest(s, allowed, n);
    if (near)
        pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
}

static void yaml_swarm(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"topology", "agents", "coordination",
                                       "execution", NULL};
    static const char *const akeys[] = {"role", "model", "capabilities",
                                        "tools", NULL};
    static const char *const topologies[] = {"hierarchical", "mesh",
                                             "pipeline", "star", NULL};
    static const char *const comms[] = {"event_driven", "synchronous",
                                        "asynchronous", NULL};
    static const char *const sharing[] = {"global", "local", "hierarchical",
                                          NULL};
    static const char *const conflict[] = {"consensus", "priority", "voting",
                                           NULL};
    static const char *const ekeys[] = {"parallel_limit", "timeout",
                                        "retry_strategy", NULL};
    static const char *const ckeys[] = {"communication", "state_sharing",
                                        "conflict_resolution", NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "/swarm"))
        return;
    pc_check_keys(b->ctx, n, keys, "/swarm");
    check_enum(b, n, "topology", topologies);
    const struct pc_node *t = pc_map_get(n, "topology");
    const char *topo = t && t->kind == PC_NODE_SCALAR ? t->str
                                                      : "hierarchical";
    const struct pc_node *co = pc_map_get(n, "coordination");
    if (co && pc_want_kind(b->ctx, co, PC_NODE_MAP, "coordination")) {
        pc_check_keys(b->ctx, co, ckeys, "coordination");
        check_enum(b, co, "communication", comms);
        check_enum(b, co, "state_sharing", sharing);
        check_enum(b, co, "conflict_resolution", conflict);
        pc_not_implemented(b->ctx, n, "coordination",
                           "the agents share nothing beyond their texts: "
                           "communication, state sharing and conflict "
                           "resolution are not implemented yet");
    }
    double timeout = 0;
    struct pc_retry retry = b->wf->default_retry;
    const struct pc_node *ex = pc_map_get(n, "execution"), *v;
    if (ex && pc_want_kind(b->ctx, ex, PC_NODE_MAP, "execution")) {
        pc_check_keys(b->ctx, ex, ekeys, "execution");
        uint64_t u;
        if ((v = pc_map_get(ex, "parallel_limit")) &&
            pc_get_uint(b->ctx, v, "parallel_limit", 65536, &u) == 0 &&
            !b->wf->max_parallel) {
            /* the agents are LLM steps: the limit is on them */
            b->wf->max_parallel = (unsigned)u;
            b->wf->max_parallel_llm = true;
        }
        if ((v = pc_map_get(ex, "timeout")))
            pc_get_duration(b->ctx, v, "timeout", &timeout);
        if ((v = pc_map_get(ex, "retry_strategy"))) {
            static const char *const rs[] = {"exponential_backoff", "fixed",
                                             "none", NULL};
            check_enum(b, ex, "retry_strategy", rs);
            if (v->kind == PC_NODE_SCALAR && strcmp(v->str, "none")) {
                retry.max_attempts = 3;
                retry.backoff = strcmp(v->str, "fixed")
                                    ? PC_BACKOFF_EXPONENTIAL
                                    : PC_BACKOFF_FIXED;
            }
        }
    }
    const struct pc_node *agents = pc_map_get(n, "agents");
    if (!agents) {
        pc_report(b->ctx, PC_D_MISSING_FIELD, n->loc, "/swarm has no agents");
        return;
    }
    if (!pc_want_kind(b->ctx, agents, PC_NODE_MAP, "agents"))
        return;
    need_param(b, "task", n->loc, "the task the swarm works on");
    long coord = -1, aggr = -1;
    struct group spec = {0};
    size_t first = b->wf->nsteps;
    for (size_t i = 0; i < agents->len; i++) {
        const struct pc_node *k = agents->pairs[i].key;
        const struct pc_node *def = agents->pairs[i].value;
        if (!pc_want_kind(b->ctx, def, PC_NODE_MAP, k->str))
            continue;
        pc_check_keys(b->ctx, def, akeys, "swarm agent");
        struct pc_step *s = form_step(b, k->str, NULL, k->loc);
        if (!s)
            continue;
        s->kind = PC_STEP_LLM;
        s->node_loc = def->loc;
        s->timeout = timeout ? timeout : s->timeout;
        s->retry = retry;
        if ((v = pc_map_get(def, "model"))) {
            const char *m = pc_get_str(b->ctx, v, "model");
            if (m)
                s->model = pc_use_model(b, m, v->loc);
        }
        if ((v = pc_map_get(def, "role")) && pc_get_str(b->ctx, v, "role"))
            pc_interp_parse(b->ctx, v, &s->system);
        if ((v = pc_map_get(def, "capabilities"))) {
            size_t nc;
            struct pc_loc *locs;
            const char **caps = pc_get_str_list(b->ctx, v, "capabilities", &nc,
                                                &locs);
            bool catalog = pc_catalog_models(b->ctx, b->cat) == 0;
            for (size_t j = 0; catalog && j < nc; j++) {
                if (pc_catalog_capability(b->cat, caps[j]))
                    continue;
                struct pc_diag *d = pc_report(
                    b->ctx, PC_D_UNKNOWN_CAPABILITY, locs[j],
                    "unknown capability '%s'", caps[j]);
                const char *near = pc_catalog_suggest_capability(b->cat,
                                                                 caps[j]);
                if (near)
                    pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
            }
            if (nc)
                s->capability = caps[0];
        }
        if ((v = pc_map_get(def, "tools")))
            s->tools = pc_get_str_list(b->ctx, v, "tools", &s->ntools, NULL);
        if (!pc_map_get(def, "model"))
            pc_report(b->ctx, PC_D_MISSING_FIELD, k->loc,
                      "swarm agent '%s' has no 'model'", k->str);
        uint32_t idx = (uint32_t)(s - b->wf->steps);
        if (!strcmp(k->str, "coordinator"))
            coord = idx;
        else if (!strcmp(k->str, "aggregator"))
            aggr = idx;
        else if (spec.n < 64)
            spec.steps[spec.n++] = idx;
    }
    /* prompts and order by topology */
    struct pc_workflow *wf = b->wf;
    if (!strcmp(topo, "pipeline")) {
        for (size_t i = first; i < wf->nsteps; i++) {
            struct pc_step *s = &wf->steps[i];
            if (i == first) {
                synth_prompt(b, s, "${params.task}");
            } else {
                char *p = pr_arena_printf(&b->ctx->arena,
                                          "${params.task}\n\n"
                                          "Previous stage:\n${steps.%s.text}",
                                          wf->steps[i - 1].id);
                if (p)
                    synth_prompt(b, s, p);
                pc_add_dep(b, s, (uint32_t)(i - 1), false, false, s->loc);
            }
        }
        return;
    }
    if (coord >= 0)
        synth_prompt(b, &wf->steps[coord],
                     "Break this task down for the specialists:\n"
                     "${params.task}");
    for (unsigned i = 0; i < spec.n; i++) {
        struct pc_step *s = &wf->steps[spec.steps[i]];
        if (coord >= 0 && strcmp(topo, "mesh")) {
            char *p = pr_arena_printf(&b->ctx->arena,
                                      "${params.task}\n\nPlan:\n"
                                      "${steps.%s.text}",
                                      wf->steps[coord].id);
            if (p)
                synth_prompt(b, s, p);
            pc_add_dep(b, s, (uint32_t)coord, false, false, s->loc);
        } else {
            synth_prompt(b, s, "${params.task}");
        }
    }
    if (aggr >= 0) {
        struct pc_step *s = &wf->steps[aggr];
        size_t cap = 256;
        char *p = malloc(cap);
        size_t len = 0;
        if (p) {
            len = (size_t)snprintf(p, cap, "%s",
                                   "Combine the specialists' findings "
                                   "for: ${params.task}\n");
            for (unsigned i = 0; i < spec.n && p; i++) {
                const char *id = wf->steps[spec.steps[i]].id;
                size_t need = len + 2 * strlen(id) + 32;
                if (need >= cap) {
                    char *np = realloc(p, cap = need * 2);
                    if (!np) {
                        free(p);
                        p = NULL;
                        break;
                    }
                    p = np;
                }
                len += (size_t)snprintf(p + len, cap - len,
                                        "\n## %s\n${steps.%s.text}\n", id, id);
            }
        }
        if (p) {
            synth_prompt(b, s, pr_arena_strdup(&b->ctx->arena, p));
            free(p);
        }
        for (unsigned i = 0; i < spec.n; i++)
            pc_add_dep(b, s, spec.steps[i], false, false, s->loc);
        if (spec.n == 0 && coord >= 0)
            pc_add_dep(b, s, (uint32_t)coord, false, false, s->loc);
    }
}

static void yaml_pipeline(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"stages", "flow_control", "monitoring",
                                       NULL};
    static const char *const skeys[] = {
        "name",    "processor", "batch_size", "parallelism",
        "timeout", "retry",     "model",      NULL};
    static const char *const fkeys[] = {"backpressure", "buffer_size",
                                        "overflow_strategy", NULL};
    static const char *const mkeys[] = {"throughput_tracking",
                                        "latency_monitoring",
                                        "error_rate_alerting", NULL};
    static const char *const overflow[] = {"drop_oldest", "drop_newest",
                                           "block", "fail", NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "/pipeline"))
        return;
    pc_check_keys(b->ctx, n, keys, "/pipeline");
    const struct pc_node *v, *w;
    bool flag;
    uint64_t u;
    if ((v = pc_map_get(n, "flow_control")) &&
        pc_want_kind(b->ctx, v, PC_NODE_MAP, "flow_control")) {
        pc_check_keys(b->ctx, v, fkeys, "flow_control");
        if ((w = pc_map_get(v, "backpressure")))
            pc_get_bool(b->ctx, w, "backpressure", &flag);
        if ((w = pc_map_get(v, "buffer_size")) &&
            pc_get_uint(b->ctx, w, "buffer_size", 1 << 24, &u) == 0 && !u)
            pc_report(b->ctx, PC_D_BAD_VALUE, w->loc,
                      "'buffer_size' must be at least 1: a buffer of no "
                      "items passes nothing");
        check_enum(b, v, "overflow_strategy", overflow);
        pc_not_implemented(b->ctx, n, "flow_control",
                           "stages do not stream: there is no backpressure "
                           "or buffer yet, each stage runs once on the "
                           "whole text");
    }
    if ((v = pc_map_get(n, "monitoring")) &&
        pc_want_kind(b->ctx, v, PC_NODE_MAP, "monitoring")) {
        pc_check_keys(b->ctx, v, mkeys, "monitoring");
        for (size_t i = 0; i < v->len; i++)
            pc_get_bool(b->ctx, v->pairs[i].value, v->pairs[i].key->str,
                        &flag);
        pc_not_implemented(b->ctx, n, "monitoring",
                           "nothing is tracked: throughput, latency and "
                           "error rates are not measured yet");
    }
    const struct pc_node *stages = pc_map_get(n, "stages");
    if (!stages) {
        pc_report(b->ctx, PC_D_MISSING_FIELD, n->loc,
                  "/pipeline has no stages");
        return;
    }
    if (!pc_want_kind(b->ctx, stages, PC_NODE_SEQ, "stages"))
        return;
    need_param(b, "input", n->loc, "what the pipeline's first stage reads");
    long prev = -1;
    for (size_t i = 0; i < stages->len; i++) {
        const struct pc_node *def = stages->items[i];
        if (!pc_want_kind(b->ctx, def, PC_NODE_MAP, "stage"))
            continue;
        pc_check_keys(b->ctx, def, skeys, "/pipeline stage");
        const struct pc_node *nm = pc_map_get(def, "name");
        const char *id = nm ? pc_get_str(b->ctx, nm, "name") : NULL;
        if (!id) {
            pc_report(b->ctx, PC_D_MISSING_FIELD, def->loc,
                      "stage has no 'name'");
            continue;
        }
        struct pc_step *s = form_step(b, id, def, nm->loc);
        if (!s)
            continue;
        char *p = prev < 0
                      ? pr_arena_strdup(&b->ctx->arena, "${params.input}")
                      : pr_arena_printf(&b->ctx->arena, "${steps.%s.text}",
                                        b->wf->steps[prev].id);
        if (p)
            synth_prompt(b, s, p);
        if (prev >= 0)
            pc_add_dep(b, s, (uint32_t)prev, false, false, s->loc);
        prev = s - b->wf->steps;
    }
}

static void read_alerts(struct pc_build *b, const struct pc_node *n)
{
    static const char *const keys[] = {"metric", "threshold", "severity",
                                       "action", NULL};
    static const char *const severities[] = {"info", "warning", "critical",
                                             NULL};
    if (!pc_want_kind(b->ctx, n, PC_NODE_MAP, "alerts"))
        return;
    for (size_t i = 0; i < n->len; i++) {
        const struct pc_node *k = n->pairs[i].key, *list = n->pairs[i].value;
        if (!pc_want_kind(b->ctx, list, PC_NODE_SEQ, k->str))
            continue;
        for (size_t j = 0; j < list->len; j++) {
            const struct pc_node *a = list->items[j];
            if (!pc_want_kind(b->ctx, a, PC_NODE_MAP, "alert"))
                continue;
            pc_check_keys(b->ctx, a, keys, "alert");
            check_enum(b, a, "severity", severities);
            struct pc_alert *al = PR_PUSH(&b->ctx->arena, b->wf->alerts,
                                          b->wf->nalerts, b->wf->capalerts);
            if (!al) {
                pc_oom(b->ctx);
                return;
            }
            memset(al, 0, sizeof *al);
            al->group = k->str;
            al->loc = a->loc;
            const struct pc_node *v;
            if ((v = pc_map_get(a, "metric")))
                al->metric = pc_get_str(b->ctx, v, "metric");
            if ((v = pc_map_get(a, "severity")))
                al->severity = pc_get_str(b->ctx, v, "severity");
            if ((v = pc_map_get(a, "action")))
                al->action = pc_get_str(b->ctx, v, "action");
            if (!al->metric)
                pc_report(b->ctx, PC_D_MISSING_FIELD, a->loc,
                          "alert has no 'metric'");
            v = pc_map_get(a, "threshold");
            const char *th = v ? pc_get_str(b->ctx, v, "threshold") : NULL;
            if (!th) {
                if (!v)
                    pc_report(b->ctx, PC_D_MISSING_FIELD, a->loc,
                              "alert has no 'threshold'");
                continue;
            }
            /* OP NUMBER [UNIT]: "> 300s", ">= 0.1", "> 80%" */
            const char *p = th;
            while (*p == ' ')
                p++;
            static const char *const ops[] = {
                ">=", "<=", "==", "!=", ">", "<"};
            size_t o;
            for (o = 0; o < 6; o++)
                if (!strncmp(p, ops[o], strlen(ops[o])))
                    break;
            char *end = NULL;
            double num = 0;
            if (o < 6) {
                al->op = ops[o];
                p += strlen(ops[o]);
                num = strtod(p, &end);
            }
            if (o == 6 || end == p ||
                (*end && strcmp(end, "s") && strcmp(end, "%") &&
                 strcmp(end, "ms") && strcmp(end, "m"))) {
                pc_report(b->ctx, PC_D_BAD_VALUE, v->loc,
                          "threshold '%s' must read like '> 300s', "
                          "'>= 0.1' or '> 80%%'",
                          th);
                continue;
            }
            al->threshold = num;
            al->unit = end;
        }
    }
}

int pc_read_arrows(struct pc_build *b, const struct pc_node *root)
{
    static const char *const compact_keys[] = {"chain", "pipeline", "flow",
                                               "swarm"};
    const struct pc_node *v;
    if ((v = pc_map_get(root, "/chain")))
        yaml_chain(b, v);
    if ((v = pc_map_get(root, "/flow")))
        yaml_flow(b, v);
    if ((v = pc_map_get(root, "/swarm")))
        yaml_swarm(b, v);
    if ((v = pc_map_get(root, "/pipeline")))
        yaml_pipeline(b, v);
    for (size_t i = 0; i < 4; i++)
        if ((v = pc_map_get(root, compact_keys[i])))
            compact(b, compact_keys[i], v);
    if ((v = pc_map_get(root, "alerts"))) {
        read_alerts(b, v);
        pc_not_implemented(b->ctx, root, "alerts",
                           "no rule is evaluated: alerts are stored in the "
                           "plan and never fire yet");
    }
    return 0;
}
