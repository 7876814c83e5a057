/* analyze.c -- references, dependencies, order, stages and the checks that
 * need the whole workflow
 *
 * Resolves every ${...} path, turns step references into dependencies when
 * that keeps the graph acyclic (and reports those that cannot be honoured),
 * finds cycles with their full path, orders the steps topologically, and
 * computes stages and the critical path the runtime schedules by.
 */
#include "compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompt_file.h"
#include "read.h"
#include "shell.h"
#include "types.h"

#define NOLOC ((struct pc_loc){0, 0, 0})

struct walk {
    struct pc_build *b;
    struct pc_step *step; /* NULL outside a step */
    bool in_for_each;
    bool allow_refs;        /* step references become dependencies */
    bool item_is_candidate; /* a best_of score: item and index name
                               a candidate */
};

static bool in_list(const char *const *l, const char *s)
{
    for (; l && *l; l++)
        if (!strcmp(*l, s))
            return true;
    return false;
}

static bool has_output(const struct pc_step *t, const char *name)
{
    for (size_t i = 0; i < t->noutputs; i++)
        if (!strcmp(t->outputs[i], name))
            return true;
    /* an approval's outputs are its answer's members: its schema's
       properties */
    const struct pc_node *props = t->kind == PC_STEP_APPROVAL &&
                                          t->output_schema
                                      ? pc_map_get(t->output_schema,
                                                   "properties")
                                      : NULL;
    if (props && props->kind == PC_NODE_MAP && pc_map_get(props, name))
        return true;
    return pc_fixed_output(t->kind, name) ||
           (!t->noutputs && pc_schema_output(t, name));
}

static void add_ref(struct walk *w, uint32_t target, struct pc_loc loc)
{
    struct pc_step *s = w->step;
    if (!s || !w->allow_refs)
        return;
    for (size_t i = 0; i < s->nrefs; i++)
        if (s->refs[i].step == target)
            return;
    struct pc_step_ref *r = PR_PUSH(&w->b->ctx->arena, s->refs, s->nrefs,
                                    s->caprefs);
    if (!r) {
        pc_oom(w->b->ctx);
        return;
    }
    r->step = target;
    r->loc = loc;
}

static void step_path(struct walk *w, struct pc_expr *p, uint32_t t,
                      size_t out_seg)
{
    struct pc_build *b = w->b;
    struct pc_step *target = &b->wf->steps[t];
    if (p->nseg > out_seg) {
        const char *out = p->seg[out_seg];
        bool open = target->noutputs == 0 &&
                    ((target->kind == PC_STEP_LLM &&
                      !pc_schema_has_outputs(target)) ||
                     (target->kind == PC_STEP_APPROVAL &&
                      !target->output_schema));
        if (!open && !has_output(target, out)) {
            struct pc_diag *d = pc_report(
                b->ctx, PC_D_UNDEFINED_OUTPUT, p->segloc[out_seg],
                "step '%s' has no output '%s'", target->id, out);
            if (!target->noutputs && pc_schema_has_outputs(target)) {
                const char *near = pc_closest(out, target->schema_ty->names,
                                              target->schema_ty->nfields);
                if (near)
                    pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
                pc_note(b->ctx, d, target->loc,
                        "the outputs of '%s' are the properties of its "
                        "output schema",
                        target->id);
            } else if (target->noutputs) {
                const char *near = pc_closest(out, target->outputs,
                                              target->noutputs);
                if (near)
                    pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
                else
                    pc_note(b->ctx, d, target->loc,
                            "declare it under 'outputs:' of '%s'", target->id);
            } else {
                pc_note(b->ctx, d, target->loc,
                        "declare it under 'outputs:' of '%s'", target->id);
            }
        }
    }
    add_ref(w, t, p->loc);
}

static void visit_path(void *ud, struct pc_expr *p)
{
    struct walk *w = ud;
    struct pc_build *b = w->b;
    struct pc_ctx *c = b->ctx;
    const char *root = p->seg[0];
    int which = pr_root_lookup(root);
    if (which == PR_ROOT_PARAMS) {
        if (p->nseg < 2) {
            pc_report(c, PC_D_UNDEFINED_PARAM, p->loc,
                      "'%s' needs a parameter name: %s.NAME", root, root);
            return;
        }
        struct pc_param *pa = pc_find_param(b->wf, p->seg[1]);
        if (pa) {
            pa->used = true;
            pc_expr_resolve(p, PC_REF_PARAMS, 0, 1);
            return;
        }
        struct pc_diag *d = pc_report(c, PC_D_UNDEFINED_PARAM, p->segloc[1],
                                      "undefined parameter '%s'", p->seg[1]);
        const char **names = malloc((b->wf->nparams + 1) * sizeof *names);
        if (names) {
            for (size_t i = 0; i < b->wf->nparams; i++)
                names[i] = b->wf->params[i].name;
            const char *near = pc_closest(p->seg[1], names, b->wf->nparams);
            if (near)
                pc_note(c, d, NOLOC, "did you mean '%s'?", near);
            else
                pc_note(c, d, NOLOC, "declare it under 'parameters:'");
            free(names);
        }
        return;
    }
    if (which == PR_ROOT_STEPS) {
        if (p->nseg < 2) {
            pc_report(c, PC_D_UNDEFINED_STEP, p->loc,
                      "'%s' needs a step id: %s.ID.OUTPUT", root, root);
            return;
        }
        long t = pc_step_index(b, p->seg[1]);
        if (t < 0) {
            struct pc_diag *d = pc_report(c, PC_D_UNDEFINED_STEP, p->segloc[1],
                                          "undefined step '%s'", p->seg[1]);
            pc_suggest_step(b, d, p->seg[1]);
            return;
        }
        step_path(w, p, (uint32_t)t, 2);
        pc_expr_resolve(p, PC_REF_STEP, (uint32_t)t, 2);
        return;
    }
    if (which == PR_ROOT_ITEM || which == PR_ROOT_INDEX) {
        pc_expr_resolve(p, which == PR_ROOT_ITEM ? PC_REF_ITEM : PC_REF_INDEX,
                        0, 1);
        if (!w->item_is_candidate &&
            (!w->step || !w->step->for_each || w->in_for_each))
            pc_report(c, PC_D_UNDEFINED_VAR, p->segloc[0],
                      "'%s' is defined only inside a step with for_each",
                      root);
        return;
    }
    long t = pc_step_index(b, root);
    if (t >= 0) {
        pc_report(c, PC_D_BARE_REFERENCE, p->segloc[0],
                  "'%s' names a step; write %s.%s", root,
                  pr_root_name(PR_ROOT_STEPS), root);
        step_path(w, p, (uint32_t)t, 1);
        pc_expr_resolve(p, PC_REF_STEP, (uint32_t)t, 1);
        return;
    }
    /* a bare name that is no step is a parameter: params.NAME */
    pc_expr_resolve(p, PC_REF_PARAMS, 0, 0);
    struct pc_param *pa = pc_find_param(b->wf, root);
    if (pa && !pa->implicit) {
        pc_report(c, PC_D_BARE_REFERENCE, p->segloc[0],
                  "'%s' names a parameter; write %s.%s", root,
                  pr_root_name(PR_ROOT_PARAMS), root);
        pa->used = true;
        return;
    }
    if (pa)
        return;
    pa = pc_add_param(b, root, p->segloc[0]);
    if (!pa)
        return;
    pa->implicit = true;
    pa->used = true;
    pa->type = PC_T_ANY;
    struct pc_diag *d = pc_report(
        c, PC_D_IMPLICIT_PARAM, p->segloc[0],
        "'%s' is not a parameter or a step; it becomes a parameter given "
        "at run time (-p %s=...)",
        root, root);
    pc_note(c, d, NOLOC, "declare it under 'parameters:' to give it a type");
}

static void walk_expr(struct walk *w, struct pc_expr *e)
{
    if (e)
        pc_expr_walk_paths(e, visit_path, w);
}

static void walk_interp(struct walk *w, struct pc_interp *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->nparts; i++)
        walk_expr(w, in->parts[i].expr);
}

static void walk_tval(struct walk *w, struct pc_tval *t)
{
    if (!t)
        return;
    if (t->kind == PC_TV_STR)
        walk_interp(w, t->str);
    for (size_t i = 0;
         (t->kind == PC_TV_LIST || t->kind == PC_TV_MAP) && i < t->len; i++)
        walk_tval(w, t->items[i]);
}

static void resolve_step(struct pc_build *b, struct pc_step *s)
{
    struct walk w = {b, s, false, true, false};
    w.in_for_each = true;
    walk_expr(&w, s->for_each);
    w.in_for_each = false;
    walk_expr(&w, s->condition);
    walk_interp(&w, s->run);
    walk_interp(&w, s->prompt);
    walk_interp(&w, s->system);
    walk_tval(&w, s->inputs);
    walk_tval(&w, s->with);
    walk_tval(&w, s->env);
    w.item_is_candidate = true;
    walk_expr(&w, s->score);
}

/* ---- graph ---- */

struct graph {
    size_t n;
    uint32_t *child_start; /* CSR of dependents */
    uint32_t *child;
    uint32_t *mark; /* visit generation per step */
    uint32_t *topo; /* a topological number per step */
    uint32_t gen;
    uint32_t *stack;
};

static int graph_build(struct pc_build *b, struct graph *g)
{
    struct pc_workflow *wf = b->wf;
    size_t n = wf->nsteps, edges = 0;
    for (size_t i = 0; i < n; i++)
        edges += wf->steps[i].ndeps;
    g->n = n;
    g->child_start = calloc(n + 1, sizeof *g->child_start);
    g->child = malloc((edges + 1) * sizeof *g->child);
    g->mark = calloc(n + 1, sizeof *g->mark);
    g->stack = malloc((n + edges + 1) * sizeof *g->stack);
    g->topo = calloc(n + 1, sizeof *g->topo);
    g->gen = 0;
    if (!g->child_start || !g->child || !g->mark || !g->stack || !g->topo)
        return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < wf->steps[i].ndeps; d++)
            g->child_start[wf->steps[i].deps[d].step + 1]++;
    for (size_t i = 0; i < n; i++)
        g->child_start[i + 1] += g->child_start[i];
    uint32_t *fill = calloc(n + 1, sizeof *fill);
    if (!fill)
        return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < wf->steps[i].ndeps; d++) {
            uint32_t p = wf->steps[i].deps[d].step;
            g->child[g->child_start[p] + fill[p]++] = (uint32_t)i;
        }
    free(fill);
    return 0;
}

static void graph_free(struct graph *g)
{
    free(g->child_start);
    free(g->child);
    free(g->mark);
    free(g->stack);
    free(g->topo);
}

/* A topological numbering of the current graph (dependencies first), by
 * an iterative post-order walk over dependencies.  Only called on an
 * acyclic graph. */
static int number_topo(struct pc_build *b, struct graph *g)
{
    struct pc_workflow *wf = b->wf;
    size_t n = wf->nsteps;
    size_t *pos = malloc((n + 1) * sizeof *pos);
    if (!pos)
        return -1;
    uint32_t gen = ++g->gen, next = 0;
    for (size_t root = 0; root < n; root++) {
        if (g->mark[root] == gen)
            continue;
        size_t sp = 0;
        g->stack[sp] = (uint32_t)root;
        pos[sp++] = 0;
        g->mark[root] = gen;
        while (sp) {
            uint32_t x = g->stack[sp - 1];
            if (pos[sp - 1] == wf->steps[x].ndeps) {
                g->topo[x] = next++;
                sp--;
                continue;
            }
            uint32_t y = wf->steps[x].deps[pos[sp - 1]++].step;
            if (g->mark[y] != gen) {
                g->mark[y] = gen;
                g->stack[sp] = y;
                pos[sp++] = 0;
            }
        }
    }
    free(pos);
    return 0;
}

/* Is ANC an ancestor of S (S depends on it, directly or not)?  Ancestors
 * have smaller topological numbers, which prunes the search. */
static bool is_ancestor(struct pc_build *b, struct graph *g, uint32_t s,
                        uint32_t anc)
{
    struct pc_workflow *wf = b->wf;
    if (g->topo[anc] >= g->topo[s])
        return false;
    for (size_t d = 0; d < wf->steps[s].ndeps; d++)
        if (wf->steps[s].deps[d].step == anc)
            return true;
    uint32_t gen = ++g->gen;
    size_t sp = 0;
    g->stack[sp++] = s;
    g->mark[s] = gen;
    while (sp) {
        uint32_t x = g->stack[--sp];
        for (size_t d = 0; d < wf->steps[x].ndeps; d++) {
            uint32_t p = wf->steps[x].deps[d].step;
            if (p == anc)
                return true;
            if (g->mark[p] != gen && g->topo[p] > g->topo[anc]) {
                g->mark[p] = gen;
                g->stack[sp++] = p;
            }
        }
    }
    return false;
}

/* Iterative depth-first search for cycles; reports each with its path. */
static bool find_cycles(struct pc_build *b)
{
    struct pc_workflow *wf = b->wf;
    size_t n = wf->nsteps;
    unsigned char *color = calloc(n + 1, 1);
    uint32_t *stk = malloc((n + 1) * sizeof *stk);
    size_t *pos = malloc((n + 1) * sizeof *pos);
    bool found = false;
    if (!color || !stk || !pos) {
        free(color);
        free(stk);
        free(pos);
        pc_oom(b->ctx);
        return true;
    }
    for (size_t root = 0; root < n; root++) {
        if (color[root])
            continue;
        size_t sp = 0;
        stk[sp] = (uint32_t)root;
        pos[sp++] = 0;
        color[root] = 1;
        while (sp) {
            uint32_t x = stk[sp - 1];
            struct pc_step *s = &wf->steps[x];
            if (pos[sp - 1] == s->ndeps) {
                color[x] = 2;
                sp--;
                continue;
            }
            struct pc_dep *dep = &s->deps[pos[sp - 1]++];
            uint32_t y = dep->step;
            if (color[y] == 0) {
                color[y] = 1;
                stk[sp] = y;
                pos[sp++] = 0;
            } else if (color[y] == 1) {
                /* y is on the stack: the cycle is y .. x, then y again.
                   Print it in run order: y runs before ... before x. */
                found = true;
                size_t k = sp;
                while (k > 0 && stk[k - 1] != y)
                    k--;
                size_t len = 16;
                for (size_t i = k - 1; i < sp; i++)
                    len += strlen(wf->steps[stk[i]].id) + 5;
                len += strlen(wf->steps[y].id);
                char *path = pr_arena_alloc(&b->ctx->arena, len);
                if (!path)
                    continue;
                /* stack order is dependent -> dependency; reverse it */
                char *p = path;
                p += sprintf(p, "%s", wf->steps[y].id);
                for (size_t i = sp; i-- > k - 1;) {
                    if (stk[i] == y && i == k - 1)
                        break;
                    p += sprintf(p, " \xE2\x86\x92 %s", wf->steps[stk[i]].id);
                }
                p += sprintf(p, " \xE2\x86\x92 %s", wf->steps[y].id);
                struct pc_diag *d = pc_report(
                    b->ctx, PC_D_CYCLE, dep->loc.file ? dep->loc : s->loc,
                    "dependency cycle: %s", path);
                pc_note(b->ctx, d, NOLOC,
                        "each step must wait for the one before it; remove "
                        "one of these dependencies");
            }
        }
    }
    free(color);
    free(stk);
    free(pos);
    return found;
}

static void add_implied(struct pc_build *b, struct graph *g)
{
    struct pc_workflow *wf = b->wf;
    if (number_topo(b, g) < 0) {
        pc_oom(b->ctx);
        return;
    }
    for (size_t i = 0; i < wf->nsteps; i++) {
        struct pc_step *s = &wf->steps[i];
        for (size_t r = 0; r < s->nrefs; r++) {
            uint32_t t = s->refs[r].step;
            if (t == i) {
                pc_report(b->ctx, PC_D_STEP_ORDER, s->refs[r].loc,
                          "step '%s' refers to its own output", s->id);
                continue;
            }
            if (is_ancestor(b, g, (uint32_t)i, t)) {
                /* an order-only dependency becomes a data one */
                for (size_t d = 0; d < s->ndeps; d++)
                    if (s->deps[d].step == t)
                        s->deps[d].order_only = false;
                continue;
            }
            if (is_ancestor(b, g, t, (uint32_t)i)) {
                struct pc_diag *d = pc_report(
                    b->ctx, PC_D_STEP_ORDER, s->refs[r].loc,
                    "step '%s' refers to '%s', which cannot run before it",
                    s->id, wf->steps[t].id);
                pc_note(b->ctx, d, wf->steps[t].loc,
                        "'%s' depends on '%s', directly or through other "
                        "steps",
                        wf->steps[t].id, s->id);
                continue;
            }
            pc_add_dep(b, s, t, false, true, s->refs[r].loc);
            pc_report(b->ctx, PC_D_IMPLICIT_DEP, s->refs[r].loc,
                      "step '%s' now depends on '%s' because it uses its "
                      "output",
                      s->id, wf->steps[t].id);
            /* keep the numbering topological */
            if (g->topo[t] > g->topo[i] && number_topo(b, g) < 0) {
                pc_oom(b->ctx);
                return;
            }
        }
    }
}

/* The time the SLA check counts for one attempt of S, with its attempts
 * in *TRIES, as pomlrun bounds them: a built-in aggregation and a gate
 * run in process with no timer, and a tool step has only the timeout and
 * the retries it sets itself (not the SLA's timeout_per_step nor
 * error_handling's retry_policy). */
static double bound_time(const struct pc_workflow *wf, const struct pc_step *s,
                         unsigned *tries)
{
    *tries = pc_attempts(s);
    if (s->kind == PC_STEP_GATE)
        return 0;
    if (s->kind == PC_STEP_AGGREGATE) {
        for (size_t i = 0; s->strategy && i < wf->naggs; i++)
            if (!strcmp(wf->aggs[i].name, s->strategy) && wf->aggs[i].run)
                return s->timeout;
        return 0;
    }
    if (s->kind == PC_STEP_TOOL) {
        if (!s->retry_set)
            *tries = 1;
        return s->node && pc_map_get(s->node, "timeout") ? s->timeout : 0;
    }
    return s->timeout;
}

static int order_steps(struct pc_build *b, struct graph *g)
{
    struct pc_workflow *wf = b->wf;
    size_t n = wf->nsteps;
    uint32_t *indeg = calloc(n + 1, sizeof *indeg);
    uint32_t *queue = malloc((n + 1) * sizeof *queue);
    wf->order = pr_arena_alloc(&b->ctx->arena, (n + 1) * sizeof *wf->order);
    if (!indeg || !queue || !wf->order) {
        free(indeg);
        free(queue);
        pc_oom(b->ctx);
        return -1;
    }
    size_t qh = 0, qt = 0;
    for (size_t i = 0; i < n; i++) {
        indeg[i] = (uint32_t)wf->steps[i].ndeps;
        wf->steps[i].stage = 0;
        if (!indeg[i])
            queue[qt++] = (uint32_t)i;
    }
    while (qh < qt) {
        uint32_t x = queue[qh++];
        for (uint32_t k = g->child_start[x]; k < g->child_start[x + 1]; k++) {
            uint32_t y = g->child[k];
            if (wf->steps[y].stage < wf->steps[x].stage + 1)
                wf->steps[y].stage = wf->steps[x].stage + 1;
            if (--indeg[y] == 0)
                queue[qt++] = y;
        }
    }
    free(indeg);
    if (qt != n) { /* a cycle slipped through: already reported */
        free(queue);
        return -1;
    }
    /* order by (stage, source position): deps always come first */
    uint32_t nst = 0;
    for (size_t i = 0; i < n; i++)
        if (wf->steps[i].stage + 1 > nst)
            nst = wf->steps[i].stage + 1;
    uint32_t *count = calloc(nst + 1, sizeof *count);
    if (!count) {
        free(queue);
        pc_oom(b->ctx);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        count[wf->steps[i].stage + 1]++;
    wf->widest_stage = 0;
    for (uint32_t s = 0; s < nst; s++)
        if (count[s + 1] > wf->widest_stage)
            wf->widest_stage = count[s + 1];
    for (uint32_t s = 0; s < nst; s++)
        count[s + 1] += count[s];
    for (size_t i = 0; i < n; i++) {
        uint32_t pos = count[wf->steps[i].stage]++;
        wf->order[pos] = (uint32_t)i;
        wf->steps[i].topo = pos;
    }
    free(count);
    wf->nstages = nst;

    /* critical path: longest path to a sink, in steps and in timeouts */
    for (size_t k = n; k-- > 0;) {
        uint32_t x = wf->order[k];
        struct pc_step *s = &wf->steps[x];
        uint32_t best_steps = 0;
        double best_secs = 0;
        for (uint32_t c = g->child_start[x]; c < g->child_start[x + 1]; c++) {
            struct pc_step *ch = &wf->steps[g->child[c]];
            if (ch->cp_steps > best_steps)
                best_steps = ch->cp_steps;
            if (ch->cp_seconds > best_secs)
                best_secs = ch->cp_seconds;
        }
        s->cp_steps = best_steps + 1;
        unsigned tries;
        s->cp_seconds = best_secs + bound_time(wf, s, &tries) * tries;
    }
    /* mark one longest path (by steps), ties to the earliest step */
    long cur = -1;
    wf->cp_steps = 0;
    wf->cp_seconds = 0;
    for (size_t i = 0; i < n; i++) {
        if (wf->steps[i].ndeps)
            continue;
        if (cur < 0 || wf->steps[i].cp_steps > wf->steps[cur].cp_steps)
            cur = (long)i;
        if (wf->steps[i].cp_seconds > wf->cp_seconds)
            wf->cp_seconds = wf->steps[i].cp_seconds;
    }
    if (cur >= 0)
        wf->cp_steps = wf->steps[cur].cp_steps;
    while (cur >= 0) {
        wf->steps[cur].on_critical_path = true;
        long next = -1;
        for (uint32_t c = g->child_start[cur]; c < g->child_start[cur + 1];
             c++) {
            uint32_t y = g->child[c];
            if (wf->steps[y].cp_steps + 1 == wf->steps[cur].cp_steps &&
                (next < 0 || y < (uint32_t)next))
                next = y;
        }
        cur = next;
    }
    free(queue);
    return 0;
}

/* ---- phases ---- */

static long phase_index(struct pc_workflow *wf, const char *name)
{
    for (size_t i = 0; i < wf->nphases; i++)
        if (!strcmp(wf->phases[i].name, name))
            return (long)i;
    return -1;
}

static void link_phases(struct pc_build *b)
{
    struct pc_workflow *wf = b->wf;
    size_t nreal = wf->nsteps;
    for (size_t i = 0; i < nreal; i++) {
        struct pc_step *s = &wf->steps[i];
        if (!s->phase || phase_index(wf, s->phase) >= 0)
            continue;
        struct pc_diag *d = pc_report(
            b->ctx, PC_D_UNKNOWN_PHASE,
            s->phase_loc.file ? s->phase_loc : s->loc,
            "step '%s' is in phase '%s', which is not declared under "
            "'phases:'",
            s->id, s->phase);
        if (wf->nphases) {
            const char **names = malloc(wf->nphases * sizeof *names);
            if (names) {
                for (size_t k = 0; k < wf->nphases; k++)
                    names[k] = wf->phases[k].name;
                const char *near = pc_closest(s->phase, names, wf->nphases);
                if (near)
                    pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
                free(names);
            }
        }
    }
    for (size_t p = 0; p < wf->nphases; p++) {
        struct pc_phase *ph = &wf->phases[p];
        if (ph->feedback_to) {
            long t = phase_index(wf, ph->feedback_to);
            if (t < 0 || (size_t)t >= p)
                pc_report(b->ctx, PC_D_UNKNOWN_PHASE,
                          ph->feedback_loc.file ? ph->feedback_loc : ph->loc,
                          "feedback of phase '%s' goes to '%s', which is not "
                          "an earlier phase",
                          ph->name, ph->feedback_to);
        }
        if (ph->duplicate)
            continue;
        /* a gate step closes the phase; the next phase waits for it */
        char *id = pr_arena_printf(&b->ctx->arena, "%s.gate", ph->name);
        struct pc_step *g = id ? pc_add_step(b, id, ph->loc) : NULL;
        if (!g)
            continue;
        g->kind = PC_STEP_GATE;
        g->synthetic = true;
        g->gate_of_phase = (int32_t)p;
        g->condition = NULL;
        ph->gate_step = (uint32_t)(g - wf->steps);
        ph->has_gate_step = true;
        for (size_t i = 0; i < nreal; i++) {
            struct pc_step *s = &wf->steps[i];
            if (!s->phase)
                continue;
            if (!strcmp(s->phase, ph->name))
                pc_add_dep(b, g, (uint32_t)i, true, false, ph->loc);
        }
        if (p > 0 && wf->phases[p - 1].has_gate_step)
            pc_add_dep(b, g, wf->phases[p - 1].gate_step, false, false,
                       ph->loc);
    }
    for (size_t i = 0; i < nreal; i++) {
        struct pc_step *s = &wf->steps[i];
        long p = s->phase ? phase_index(wf, s->phase) : -1;
        if (p > 0 && wf->phases[p - 1].has_gate_step)
            pc_add_dep(b, s, wf->phases[p - 1].gate_step, false, false,
                       s->loc);
    }
    struct walk w = {b, NULL, false, false, false};
    for (size_t p = 0; p < wf->nphases; p++) {
        walk_expr(&w, wf->phases[p].gate);
        walk_expr(&w, wf->phases[p].feedback_when);
    }
    for (size_t i = 0; i < wf->naggs; i++)
        walk_interp(&w, wf->aggs[i].run);
}

/* ---- checks on single steps ---- */

/* NAME is a tool of the workflow's or the catalog's, or SERVER.TOOL of
 * a catalog server or of a workflow tool's command (tools/list decides at
 * run time whether the server has TOOL) */
static bool tool_known(struct pc_build *b, const char *name)
{
    for (size_t i = 0; i < b->wf->ntools; i++)
        if (!strcmp(b->wf->tools[i].name, name))
            return true;
    if (pc_catalog_tools(b->ctx, b->cat) < 0)
        return true; /* its load error was reported */
    if (pc_catalog_tool(b->cat, name))
        return true;
    const char *dot = strchr(name, '.');
    for (size_t i = 0; dot && i < b->wf->ntools; i++) {
        const struct pc_wf_tool *t = &b->wf->tools[i];
        if (t->argc && strlen(t->name) == (size_t)(dot - name) &&
            !strncmp(t->name, name, (size_t)(dot - name)))
            return pc_catalog_server_tool(b->ctx, b->cat, name, t->argv,
                                          t->argc) != NULL;
    }
    return pc_catalog_server_tool(b->ctx, b->cat, name, NULL, 0) != NULL;
}

bool pc_tool_def(struct pc_build *b, const char *name, struct pc_tool_def *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < b->wf->ntools; i++) {
        const struct pc_wf_tool *t = &b->wf->tools[i];
        if (!strcmp(t->name, name)) {
            out->input_schema = t->input_schema;
            out->output_schema = t->output_schema;
            return true;
        }
    }
    const struct pc_tool *t = pc_catalog_tools(b->ctx, b->cat) < 0
                                  ? NULL
                                  : pc_catalog_tool(b->cat, name);
    if (!t)
        return false;
    out->input_schema = t->input_schema;
    out->output_schema = t->output_schema;
    return true;
}

/* The arguments of tool step S against the input schema its tool's
 * definition states (JSON Schema: open unless it says otherwise). */
static void check_tool_args(struct pc_build *b, const struct pc_step *s)
{
    struct pc_tool_def td;
    if (!pc_tool_def(b, s->tool, &td) || !td.input_schema)
        return;
    cJSON *schema = pc_node_json(td.input_schema);
    char what[96];
    snprintf(what, sizeof what, "tool '%.60s'", s->tool);
    struct pc_schema_inputs w = {
        schema, NULL, what, s->tool_loc.file ? s->tool_loc : s->loc, false};
    if (schema)
        pc_check_schema_inputs(b, s, &w);
    cJSON_Delete(schema);
}

static void check_tool(struct pc_build *b, struct pc_step *s, const char *name,
                       struct pc_loc loc)
{
    if (!loc.file)
        loc = s->loc;
    if (!tool_known(b, name)) {
        struct pc_diag *d = pc_report(
            b->ctx, PC_D_UNKNOWN_TOOL, loc,
            "step '%s' uses tool '%s', which is neither under 'tools:' nor "
            "in the catalog",
            s->id, name);
        size_t n = b->wf->ntools + b->cat->ntools;
        const char **names = malloc((n + 1) * sizeof *names);
        if (d && names) {
            size_t k = 0;
            for (size_t i = 0; i < b->wf->ntools; i++)
                names[k++] = b->wf->tools[i].name;
            for (size_t i = 0; i < b->cat->ntools; i++)
                names[k++] = b->cat->tools[i].name;
            const char *near = pc_closest(name, names, k);
            if (near)
                pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
        }
        free(names);
    }
    if (b->wf->policy_tools_set &&
        !in_list((const char *const *)b->wf->allowed_tools, name)) {
        bool ok = false;
        for (size_t i = 0; i < b->wf->nallowed_tools; i++)
            if (pr_policy_tool_match(b->wf->allowed_tools[i], name, NULL))
                ok = true;
        if (!ok)
            pc_report(b->ctx, PC_D_POLICY, loc,
                      "step '%s' uses tool '%s', which the policy's "
                      "allowed_tools does not list; it will be refused",
                      s->id, name);
    }
}

static bool wf_allowed(const char *name, void *ctx)
{
    const struct pc_workflow *wf = ctx;
    for (size_t k = 0; k < wf->nallowed_commands; k++)
        if (!strcmp(wf->allowed_commands[k], name))
            return true;
    return false;
}

/* The policy check pomlrun makes, at compile time: every command of
 * RUN (a step's or an aggregation's, WHAT names it). */
static void check_commands(struct pc_build *b, const struct pc_interp *run,
                           const char *what, struct pc_loc loc)
{
    if (!b->wf->policy_commands_set || !run || !run->nparts)
        return;
    struct pr_shell_part *parts = calloc(run->nparts, sizeof *parts);
    if (!parts) {
        pc_oom(b->ctx);
        return;
    }
    for (size_t i = 0; i < run->nparts; i++) {
        parts[i].text = run->parts[i].expr ? NULL : run->parts[i].text;
        parts[i].len = run->parts[i].expr ? 0 : run->parts[i].len;
    }
    struct pr_shell_cmd cmd;
    char err[400];
    if (pr_shell_prepare(parts, run->nparts, &cmd, err, sizeof err) == 0) {
        if (pr_shell_check_policy(&cmd, wf_allowed, b->wf, err, sizeof err) <
            0)
            pc_report(b->ctx, PC_D_POLICY, loc, "%s would be refused: %s",
                      what, err + 8);
        pr_shell_cmd_free(&cmd);
    }
    free(parts);
}

static void check_command(struct pc_build *b, struct pc_step *s)
{
    char what[200];
    snprintf(what, sizeof what, "step '%s'", s->id);
    check_commands(b, s->run, what, s->run_loc.file ? s->run_loc : s->loc);
    if (!b->wf->policy_commands_set || !s->env || s->env->kind != PC_TV_MAP)
        return;
    for (size_t k = 0; k < s->env->len; k++)
        if (pr_shell_protected_var(s->env->keys[k], strlen(s->env->keys[k])))
            pc_report(b->ctx, PC_D_POLICY, s->env->items[k]->loc,
                      "step '%s' sets '%s' in env, which changes which "
                      "programs run; under allowed_commands it will be "
                      "refused",
                      s->id, s->env->keys[k]);
}

/* What the policy cannot bound: listed programs that run any command,
 * and aggregation commands. */
static void check_policy(struct pc_build *b)
{
    struct pc_workflow *wf = b->wf;
    if (!wf->policy_commands_set)
        return;
    for (size_t k = 0; k < wf->nallowed_commands; k++) {
        const char *why = pr_shell_runs_code(wf->allowed_commands[k]);
        if (!why)
            continue;
        struct pc_diag *d = pc_report(
            b->ctx, PC_D_POLICY,
            wf->allowed_commands_locs ? wf->allowed_commands_locs[k] : NOLOC,
            "allowed_commands lists '%s', which lets a step run commands "
            "the policy does not see: %s",
            wf->allowed_commands[k], why);
        if (d)
            pc_note(b->ctx, d, NOLOC,
                    "list the programs the steps run instead (see "
                    "SECURITY in poml(5))");
    }
    for (size_t k = 0; k < wf->naggs; k++) {
        char what[200];
        snprintf(what, sizeof what, "aggregation '%s'", wf->aggs[k].name);
        check_commands(b, wf->aggs[k].run, what, wf->aggs[k].loc);
    }
    for (size_t k = 0; k < wf->non_failure_actions; k++) {
        const char *a = wf->on_failure_actions[k];
        /* run=CMD, and notify's notify[@STEP].run=CMD */
        const char *eq = strchr(a, '=');
        const char *cmd = !strncmp(a, "run=", 4) ? a + 4
                          : !strncmp(a, "notify", 6) && eq && eq - a >= 10 &&
                                  !strncmp(eq - 4, ".run", 4)
                              ? eq + 1
                              : NULL;
        if (!cmd)
            continue;
        struct pc_interp_part part = {cmd, strlen(cmd), NULL};
        struct pc_interp run = {&part, 1, false};
        check_commands(b, &run,
                       cmd == a + 4 ? "the on_failure command"
                                    : "the notify command",
                       wf->on_failure_locs[k]);
    }
}

/* A ${...} the shell would not expand (a quoted here-document): the
 * same preparation pomlrun makes, run at compile time. */
static void check_run_quoting(struct pc_build *b, struct pc_step *s)
{
    if (!s->run || !s->run->nparts)
        return;
    struct pr_shell_part *parts = calloc(s->run->nparts, sizeof *parts);
    if (!parts) {
        pc_oom(b->ctx);
        return;
    }
    for (size_t i = 0; i < s->run->nparts; i++) {
        const struct pc_interp_part *p = &s->run->parts[i];
        parts[i].text = p->expr ? NULL : p->text;
        parts[i].len = p->expr ? 0 : p->len;
    }
    struct pr_shell_cmd cmd;
    char err[256];
    struct pc_loc loc = s->run_loc.file ? s->run_loc : s->loc;
    if (pr_shell_prepare(parts, s->run->nparts, &cmd, err, sizeof err) < 0) {
        if (!strcmp(err, "out of memory"))
            pc_oom(b->ctx);
        else
            pc_report(b->ctx, PC_D_SHELL_QUOTING, loc, "step '%s': %s", s->id,
                      err);
        free(parts);
        return;
    }
    size_t var = 0;
    for (size_t i = 0; i < s->run->nparts; i++) {
        const struct pc_interp_part *p = &s->run->parts[i];
        if (!p->expr || var >= cmd.nvars)
            continue;
        const struct pr_shell_var *v = &cmd.vars[var++];
        if (v->use != PR_SHELL_CODE)
            continue;
        struct pc_diag *d = pc_report(
            b->ctx, PC_D_SHELL_QUOTING, p->expr->loc.file ? p->expr->loc : loc,
            "step '%s': this ${...} becomes program text that '%s' runs, "
            "so a value could run as code",
            s->id, v->prog);
        if (d)
            pc_note(b->ctx, d, NOLOC,
                    "pass it as data instead: an argument (sh -c '... "
                    "\"$1\"' sh ${...}; awk '... ARGV[1] ...' ${...}; "
                    "python3 -c '... sys.argv[1] ...' ${...}) or a variable "
                    "of the step's env read by the program");
    }
    pr_shell_cmd_free(&cmd);
    free(parts);
}

/* An LLM step asks something: a prompt, a prompt file, or inputs (from
 * which the request states the task). */
static void check_request(struct pc_build *b, struct pc_step *s)
{
    bool prompt = s->prompt && s->prompt->nparts > 0;
    if (prompt || s->prompt_file || (s->inputs && s->inputs->len > 0))
        return;
    struct pc_diag *d = pc_report(
        b->ctx, PC_D_EMPTY_STEP, s->loc,
        "LLM step '%s' has no prompt, prompt_file or inputs: it would send "
        "an empty request",
        s->id);
    pc_note(b->ctx, d, NOLOC,
            "give it a 'prompt', a 'prompt_file' or the 'inputs' its task "
            "needs");
}

/* The judge J of best_of step S: an LLM step with a model, judging one
 * step, and not S itself; it runs after S, as part of S's strategy. */
static void check_judge(struct pc_build *b, struct pc_step *s,
                        struct pc_step *j)
{
    struct pc_loc loc = s->judge_loc.file ? s->judge_loc : s->loc;
    if (j == s) {
        pc_report(b->ctx, PC_D_BAD_VALUE, loc,
                  "step '%s' cannot be its own judge", s->id);
    } else if (j->kind != PC_STEP_LLM || j->cascade || j->best_of > 1) {
        struct pc_diag *d = pc_report(
            b->ctx, PC_D_BAD_VALUE, loc,
            "judge step '%s' of step '%s' must be an LLM step with one "
            "model",
            j->id, s->id);
        pc_note(b->ctx, d, j->loc, "'%s' is defined here", j->id);
    } else if (j->judge_of) {
        struct pc_diag *d = pc_report(
            b->ctx, PC_D_BAD_VALUE, loc,
            "step '%s' already judges step '%s'; a judge judges one step",
            j->id, j->judge_of);
        pc_note(b->ctx, d, j->loc, "'%s' is defined here", j->id);
    } else {
        j->judge_of = s->id;
        pc_add_dep(b, j, (uint32_t)(s - b->wf->steps), false, true, loc);
    }
}

static void check_step(struct pc_build *b, struct pc_step *s)
{
    struct pc_ctx *c = b->ctx;
    struct pc_workflow *wf = b->wf;
    if (s->condition && pc_expr_is_constant(s->condition))
        pc_report(c, PC_D_CONSTANT_CONDITION, s->condition->loc,
                  "the condition of step '%s' is constant; it never depends "
                  "on the run",
                  s->id);
    if (s->for_each) {
        struct pc_expr *e = s->for_each;
        const char *bad = NULL;
        switch (e->kind) {
        case PC_E_NULL:
            bad = "null";
            break;
        case PC_E_BOOL:
            bad = "a boolean";
            break;
        case PC_E_NUM:
            bad = "a number";
            break;
        case PC_E_STR:
            bad = "a string";
            break;
        case PC_E_PATH:
            if (e->nseg == 2 && !strcmp(e->seg[0], "params")) {
                struct pc_param *p = pc_find_param(wf, e->seg[1]);
                if (p && p->type != PC_T_ARRAY && p->type != PC_T_ANY)
                    bad = "a parameter that is not an array";
            }
            break;
        default:
            break;
        }
        if (bad)
            pc_report(c, PC_D_FOR_EACH_TYPE, e->loc,
                      "for_each of step '%s' must be a list, not %s", s->id,
                      bad);
    }
    if (s->kind == PC_STEP_AGGREGATE && s->strategy &&
        !pc_is_builtin_strategy(s->strategy)) {
        bool defined = false;
        for (size_t i = 0; i < wf->naggs; i++)
            if (!strcmp(wf->aggs[i].name, s->strategy))
                defined = true;
        if (!defined) {
            const struct pc_node *sn = pc_map_get(s->node, "strategy");
            struct pc_diag *d = pc_report(
                c, PC_D_UNKNOWN_STRATEGY, sn ? sn->loc : s->loc,
                "unknown aggregation strategy '%s'", s->strategy);
            const char *near = pc_closest(s->strategy, pc_builtin_strategies,
                                          6);
            if (near)
                pc_note(c, d, NOLOC, "did you mean '%s'?", near);
            else
                pc_note(c, d, NOLOC,
                        "the built-in strategies are concat, merge, "
                        "merge_and_deduplicate, first_success, vote and "
                        "reduce; define others under 'aggregation:'");
        }
    }
    if (s->kind == PC_STEP_LLM && !s->nfallback && s->ncap_rest) {
        /* a capability's other models back its first up */
        s->fallback = s->cap_rest;
        s->nfallback = s->ncap_rest;
    }
    if (s->kind == PC_STEP_LLM)
        check_request(b, s);
    if (s->kind == PC_STEP_TOOL && s->tool) {
        check_tool(b, s, s->tool, s->tool_loc);
        check_tool_args(b, s);
    }
    for (size_t i = 0; i < s->ntools; i++)
        check_tool(b, s, s->tools[i],
                   s->tools_locs ? s->tools_locs[i] : s->loc);
    if (s->kind == PC_STEP_SHELL) {
        check_command(b, s);
        check_run_quoting(b, s);
    }
    if (s->judge) {
        long t = pc_step_index(b, s->judge);
        if (t < 0) {
            struct pc_diag *d = pc_report(
                c, PC_D_UNDEFINED_STEP,
                s->judge_loc.file ? s->judge_loc : s->loc,
                "step '%s' names unknown judge step '%s'", s->id, s->judge);
            pc_suggest_step(b, d, s->judge);
        } else {
            check_judge(b, s, &b->wf->steps[t]);
        }
    }
}

/* ---- entry ---- */

static void fmt_secs(char *buf, size_t n, double s)
{
    long whole = (long)s;
    if ((double)whole != s || whole < 60)
        snprintf(buf, n, "%gs", s);
    else if (whole % 3600 == 0)
        snprintf(buf, n, "%ldh", whole / 3600);
    else if (whole >= 3600 && whole % 60 == 0)
        snprintf(buf, n, "%ldh%ldm", whole / 3600, whole % 3600 / 60);
    else if (whole % 60 == 0)
        snprintf(buf, n, "%ldm", whole / 60);
    else
        snprintf(buf, n, "%lds", whole);
}

/* Every default a plan field has, filled in here once (pc_attempts gives
 * the attempts): a step's timeout is its own, else the workflow's
 * sla.step_timeout, else for an LLM step PC_DEFAULT_LLM_TIMEOUT; a
 * circuit breaker and a phase's feedback loops take
 * the PC_DEFAULT_ values when not set. */
static void fill_defaults(struct pc_workflow *wf)
{
    for (size_t i = 0; i < wf->nsteps; i++)
        if (!(wf->steps[i].timeout > 0))
            wf->steps[i].timeout = wf->sla_step_timeout > 0
                                       ? wf->sla_step_timeout
                                   : wf->steps[i].kind == PC_STEP_LLM
                                       ? PC_DEFAULT_LLM_TIMEOUT
                                       : 0;
    if (!wf->breaker_threshold)
        wf->breaker_threshold = PC_DEFAULT_BREAKER_THRESHOLD;
    if (!(wf->breaker_reset > 0))
        wf->breaker_reset = PC_DEFAULT_BREAKER_RESET;
    for (size_t i = 0; i < wf->nphases; i++)
        if (!wf->phases[i].max_loops)
            wf->phases[i].max_loops = PC_DEFAULT_MAX_LOOPS;
}

int pc_analyze(struct pc_build *b)
{
    struct pc_workflow *wf = b->wf;
    struct pc_ctx *c = b->ctx;
    size_t nsource = wf->nsteps;
    pc_types_prepare(b);
    for (size_t i = 0; i < nsource; i++)
        resolve_step(b, &wf->steps[i]);
    link_phases(b);
    for (size_t i = 0; i < nsource; i++)
        check_step(b, &wf->steps[i]);
    check_policy(b);
    fill_defaults(wf);
    /* after an error, a parameter may look unused only because the
       expression that used it did not parse */
    for (size_t i = 0; c->nerrors == b->errors_at_start && i < wf->nparams;
         i++) {
        struct pc_param *p = &wf->params[i];
        if (!p->used && !p->implicit)
            pc_report(c, PC_D_UNUSED_PARAM, p->loc,
                      "parameter '%s' is never used", p->name);
    }
    if (wf->nsteps == 0)
        pc_report(c, PC_D_EMPTY_STEP, b->root_loc,
                  "the workflow has no steps");

    if (find_cycles(b))
        return -1;
    struct graph g = {0};
    if (graph_build(b, &g) < 0) {
        graph_free(&g);
        pc_oom(c);
        return -1;
    }
    add_implied(b, &g);
    /* the dependents index again, now with the implied edges */
    graph_free(&g);
    memset(&g, 0, sizeof g);
    if (graph_build(b, &g) < 0) {
        graph_free(&g);
        pc_oom(c);
        return -1;
    }
    int rc = order_steps(b, &g);
    graph_free(&g);
    if (rc < 0)
        return -1;
    pc_types_check(b);

    if (wf->sla_max_duration > 0 && wf->cp_seconds > wf->sla_max_duration) {
        char a[32], bb[32];
        fmt_secs(a, sizeof a, wf->cp_seconds);
        fmt_secs(bb, sizeof bb, wf->sla_max_duration);
        struct pc_diag *d = pc_report(
            c, PC_D_SLA, wf->sla_loc,
            "the longest chain of step timeouts (%s, retries included) "
            "exceeds the SLA's max_duration of %s",
            a, bb);
        for (size_t k = 0; k < wf->nsteps; k++) {
            struct pc_step *s = &wf->steps[wf->order[k]];
            unsigned tries;
            double t = bound_time(wf, s, &tries);
            if (s->on_critical_path && t > 0) {
                fmt_secs(a, sizeof a, t);
                pc_note(c, d, s->loc, "'%s' may take up to %s x %u", s->id, a,
                        tries);
            }
        }
    }
    return 0;
}
