/* emit_text.c -- the compiler's text outputs: Graphviz, JSON, statistics
 * and make dependency files
 *
 * All of them read the checked IR; none needs the plan.  Each prints in
 * topological or source order, so the output is as deterministic as the
 * plan.
 */
#include "emit.h"
#include "alloc.h"
#include "compile.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"gate", "shell",      "llm",
                                         "tool", "aggregator", "workflow",
                                         "approval"};
static const char *const type_names[] = {
    "any", "string", "integer", "number", "boolean", "array", "object"};

const char *pc_step_kind_name(enum pc_step_kind k)
{
    return k <= PC_STEP_WORKFLOW ? kind_names[k] : "?";
}

/* ---- Graphviz ---- */

static void dot_id(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void pc_emit_dot(struct pc_workflow *wf, FILE *out)
{
    fputs("digraph ", out);
    dot_id(out, wf->id);
    fputs(" {\n  rankdir=LR;\n  node [shape=box, style=rounded, "
          "fontname=\"Helvetica\"];\n  edge [color=gray40];\n",
          out);
    size_t k = 0;
    for (uint32_t st = 0; st < wf->nstages; st++) {
        fprintf(out,
                "  subgraph cluster_stage%u {\n    label=\"stage %u\";"
                "\n    style=dashed; color=gray70;\n",
                st, st);
        for (; k < wf->nsteps && wf->steps[wf->order[k]].stage == st; k++) {
            const struct pc_step *s = &wf->steps[wf->order[k]];
            fputs("    ", out);
            dot_id(out, s->id);
            fprintf(out, " [label=\"%s\\n%s\"%s];\n", s->id,
                    pc_step_kind_name(s->kind),
                    s->on_critical_path ? ", color=red, penwidth=2" : "");
        }
        fputs("  }\n", out);
    }
    for (k = 0; k < wf->nsteps; k++) {
        const struct pc_step *s = &wf->steps[wf->order[k]];
        for (size_t d = 0; d < s->ndeps; d++) {
            const struct pc_step *p = &wf->steps[s->deps[d].step];
            fputs("  ", out);
            dot_id(out, p->id);
            fputs(" -> ", out);
            dot_id(out, s->id);
            bool crit = p->on_critical_path && s->on_critical_path &&
                        p->cp_steps == s->cp_steps + 1;
            const char *style = s->deps[d].order_only ? "dashed"
                                : s->deps[d].implied  ? "dotted"
                                                      : NULL;
            if (crit || style) {
                fputs(" [", out);
                if (crit)
                    fputs("color=red, penwidth=2", out);
                if (style)
                    fprintf(out, "%sstyle=%s", crit ? ", " : "", style);
                fputc(']', out);
            }
            fputs(";\n", out);
        }
    }
    fputs("}\n", out);
}

/* ---- JSON ---- */

static cJSON *expr_json(const struct pc_expr *e)
{
    if (!e)
        return cJSON_CreateNull();
    char buf[512];
    int n = pc_expr_print(e, buf, sizeof buf);
    if (n < 0)
        return cJSON_CreateNull();
    if ((size_t)n < sizeof buf)
        return cJSON_CreateString(buf);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return cJSON_CreateNull();
    pc_expr_print(e, big, (size_t)n + 1);
    cJSON *j = cJSON_CreateString(big);
    free(big);
    return j;
}

static cJSON *interp_json(const struct pc_interp *in)
{
    if (!in)
        return cJSON_CreateNull();
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    for (size_t i = 0; s && i < in->nparts; i++) {
        const struct pc_interp_part *p = &in->parts[i];
        size_t need = len + p->len + 4;
        if (need > cap) {
            char *ns = realloc(s, cap = need * 2);
            if (!ns) {
                free(s);
                s = NULL;
                break;
            }
            s = ns;
        }
        if (p->expr)
            len += (size_t)snprintf(s + len, cap - len, "${%.*s}", (int)p->len,
                                    p->text);
        else {
            memcpy(s + len, p->text, p->len);
            len += p->len;
        }
    }
    if (!s)
        return cJSON_CreateNull();
    s[len] = '\0';
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

int pc_emit_json(struct pc_workflow *wf, FILE *out)
{
    unsigned long failures = pr_alloc_failures();
    cJSON *root = cJSON_CreateObject();
    if (!root) {
        errno = ENOMEM;
        return -1;
    }
    struct pr_arena types; /* the lists fan-in makes */
    pr_arena_init(&types);
    cJSON_AddItemToObject(root, "workflow_id", str_or_null(wf->id));
    cJSON_AddItemToObject(root, "version", str_or_null(wf->version));
    cJSON_AddItemToObject(root, "description", str_or_null(wf->description));
    cJSON *params = cJSON_AddArrayToObject(root, "parameters");
    for (size_t i = 0; i < wf->nparams; i++) {
        const struct pc_param *p = &wf->params[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", p->name);
        cJSON_AddStringToObject(o, "type", type_names[p->type]);
        cJSON_AddBoolToObject(o, "required", p->required);
        cJSON_AddBoolToObject(o, "implicit", p->implicit);
        if (p->def && p->def->kind == PC_NODE_SCALAR)
            cJSON_AddStringToObject(o, "default", p->def->str);
        cJSON_AddItemToObject(o, "description", str_or_null(p->description));
        cJSON_AddItemToArray(params, o);
    }
    cJSON *steps = cJSON_AddArrayToObject(root, "steps");
    for (size_t k = 0; k < wf->nsteps; k++) {
        const struct pc_step *s = &wf->steps[wf->order[k]];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", s->id);
        cJSON_AddStringToObject(o, "kind", pc_step_kind_name(s->kind));
        cJSON_AddNumberToObject(o, "stage", s->stage);
        cJSON_AddNumberToObject(o, "critical_path_steps", s->cp_steps);
        cJSON_AddNumberToObject(o, "critical_path_seconds", s->cp_seconds);
        cJSON_AddBoolToObject(o, "critical", s->on_critical_path);
        cJSON *deps = cJSON_AddArrayToObject(o, "depends_on");
        cJSON *after = cJSON_AddArrayToObject(o, "after");
        cJSON *implied = cJSON_AddArrayToObject(o, "implied");
        for (size_t d = 0; d < s->ndeps; d++) {
            const char *id = wf->steps[s->deps[d].step].id;
            cJSON_AddItemToArray(s->deps[d].order_only ? after
                                 : s->deps[d].implied  ? implied
                                                       : deps,
                                 cJSON_CreateString(id));
        }
        cJSON_AddItemToObject(o, "condition", expr_json(s->condition));
        cJSON_AddItemToObject(o, "for_each", expr_json(s->for_each));
        cJSON_AddItemToObject(o, "score", expr_json(s->score));
        cJSON_AddItemToObject(o, "run", interp_json(s->run));
        cJSON_AddItemToObject(o, "prompt", interp_json(s->prompt));
        cJSON_AddItemToObject(o, "model",
                              str_or_null(s->model ? s->model->name : NULL));
        cJSON_AddItemToObject(o, "agent", str_or_null(s->agent));
        cJSON_AddItemToObject(o, "capability", str_or_null(s->capability));
        cJSON_AddItemToObject(o, "tool", str_or_null(s->tool));
        cJSON_AddItemToObject(
            o, "strategy",
            str_or_null(s->kind == PC_STEP_AGGREGATE ? s->strategy : NULL));
        cJSON_AddItemToObject(o, "workflow", str_or_null(s->workflow));
        cJSON_AddNumberToObject(o, "timeout", s->timeout);
        cJSON *r = cJSON_AddObjectToObject(o, "retry");
        cJSON_AddNumberToObject(r, "max_attempts", pc_attempts(s));
        cJSON_AddStringToObject(
            r, "backoff",
            s->retry.backoff == PC_BACKOFF_EXPONENTIAL ? "exponential"
            : s->retry.backoff == PC_BACKOFF_FIXED     ? "fixed"
                                                       : "none");
        cJSON_AddStringToObject(o, "on_failure",
                                s->continue_on_failure ? "continue" : "fail");
        cJSON_AddItemToObject(o, "phase", str_or_null(s->phase));
        cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
        for (size_t i = 0; i < s->noutputs; i++)
            cJSON_AddItemToArray(outs, cJSON_CreateString(s->outputs[i]));
        cJSON_AddItemToObject(o, "output_types",
                              pc_output_types_json(&types, s, false));
        cJSON_AddItemToArray(steps, o);
    }
    cJSON *stages = cJSON_AddArrayToObject(root, "stages");
    size_t k = 0;
    for (uint32_t st = 0; st < wf->nstages; st++) {
        cJSON *a = cJSON_CreateArray();
        for (; k < wf->nsteps && wf->steps[wf->order[k]].stage == st; k++) {
            const char *id = wf->steps[wf->order[k]].id;
            cJSON_AddItemToArray(a, cJSON_CreateString(id));
        }
        cJSON_AddItemToArray(stages, a);
    }
    cJSON *cp = cJSON_AddArrayToObject(root, "critical_path");
    for (k = 0; k < wf->nsteps; k++)
        if (wf->steps[wf->order[k]].on_critical_path) {
            const char *id = wf->steps[wf->order[k]].id;
            cJSON_AddItemToArray(cp, cJSON_CreateString(id));
        }
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    pr_arena_free(&types);
    /* a value cJSON could not allocate is missing without a word */
    if (!txt || pr_alloc_failures() != failures) {
        free(txt);
        errno = ENOMEM;
        return -1;
    }
    fputs(txt, out);
    fputc('\n', out);
    free(txt);
    return 0;
}

/* ---- statistics ---- */

static void fmt_duration(char *buf, size_t n, double s)
{
    if (s <= 0)
        snprintf(buf, n, "none");
    else if (s >= 3600)
        snprintf(buf, n, "%.0fh%02.0fm", floor(s / 3600),
                 fmod(floor(s / 60), 60));
    else if (s >= 60)
        snprintf(buf, n, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
    else
        snprintf(buf, n, "%gs", s);
}

/* A call's most: the price of a full context window (out_tok output
 * tokens, the rest input) at model M's prices. */
static double window_cost(const struct pc_step *s, const struct pc_model *m)
{
    double out_tok = s->max_tokens ? (double)s->max_tokens
                                   : (double)m->max_output_tokens;
    double in_tok = (double)m->context_window - out_tok;
    if (in_tok < 0)
        in_tok = 0;
    return (in_tok * m->input_per_mtok + out_tok * m->output_per_mtok) / 1e6;
}

/* The model that bounds step S's cost: its model, or for a routed step
 * (which may run on any of its candidates) the dearest candidate. */
static const struct pc_model *bound_model(const struct pc_step *s)
{
    const struct pc_model *m = s->model;
    if (!s->routing || !m || !m->context_window)
        return m;
    for (size_t i = 0; i < s->ncap_rest; i++) {
        const struct pc_model *c = s->cap_rest[i];
        if (!c->context_window)
            return c; /* unknown: the bound is unknown too */
        if (window_cost(s, c) > window_cost(s, m))
            m = c;
    }
    return m;
}

void pc_emit_stats(struct pc_workflow *wf, FILE *out)
{
    size_t edges = 0, llm = 0, unbounded = 0;
    double calls = 0, tokens = 0, cost = 0;
    bool cost_known = true;
    for (size_t i = 0; i < wf->nsteps; i++) {
        const struct pc_step *s = &wf->steps[i];
        edges += s->ndeps;
        if (s->kind != PC_STEP_LLM)
            continue;
        llm++;
        if (s->for_each) {
            unbounded++;
            continue;
        }
        double per = (double)pc_attempts(s);
        per *= s->best_of ? s->best_of : 1;
        per *= s->ncascade ? s->ncascade : 1;
        per *= s->judge ? 1 : 1;
        calls += per;
        const struct pc_model *m = bound_model(s);
        if (!m || !m->context_window) {
            cost_known = false;
            continue;
        }
        double out_tok = s->max_tokens ? (double)s->max_tokens
                                       : (double)m->max_output_tokens;
        tokens += per * fmax((double)m->context_window, out_tok);
        cost += per * window_cost(s, m);
    }
    char d[32];
    fprintf(out, "workflow        %s\n", wf->id);
    fprintf(out, "steps           %zu (%zu LLM)\n", wf->nsteps, llm);
    fprintf(out, "edges           %zu\n", edges);
    fprintf(out, "stages          %u\n", wf->nstages);
    fprintf(out, "widest stage    %u\n", wf->widest_stage);
    fprintf(out, "critical path   %u step%s:", wf->cp_steps,
            pr_plural(wf->cp_steps));
    unsigned shown = 0;
    for (size_t k = 0; k < wf->nsteps; k++) {
        const struct pc_step *s = &wf->steps[wf->order[k]];
        if (!s->on_critical_path)
            continue;
        if (shown++ == 12) {
            fputs(" ...", out);
            break;
        }
        fprintf(out, "%s %s", shown > 1 ? " \xE2\x86\x92" : "", s->id);
    }
    fmt_duration(d, sizeof d, wf->cp_seconds);
    fprintf(out, "\nlongest timeouts %s (retries included)\n", d);
    fprintf(out, "LLM calls       at most %.0f%s\n", calls,
            unbounded ? " plus for_each steps (one set per item)" : "");
    if (cost_known) {
        fprintf(out, "tokens          at most %.0f\n", tokens);
        fprintf(out, "cost            at most $%.2f\n", cost);
    } else {
        fputs("tokens          unknown (a model has no context window in "
              "the catalog)\n",
              out);
    }
    if (wf->budget.max_cost_usd > 0)
        fprintf(out, "budget          $%.2f\n", wf->budget.max_cost_usd);
    if (wf->budget.max_llm_calls)
        fprintf(out, "budget calls    %llu\n",
                (unsigned long long)wf->budget.max_llm_calls);
}

/* ---- make dependency files ---- */

static void make_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == ' ' || *s == '#')
            fputc('\\', out);
        if (*s == '$')
            fputc('$', out);
        fputc(*s, out);
    }
}

int pc_emit_deps(struct pc_workflow *wf, const char *target, bool phony,
                 FILE *out)
{
    make_escape(out, target);
    fputc(':', out);
    for (size_t i = 0; i < wf->ndeps_files; i++) {
        fputs(" \\\n ", out);
        make_escape(out, wf->deps_files[i]);
    }
    fputc('\n', out);
    for (size_t i = 1; phony && i < wf->ndeps_files; i++) {
        fputc('\n', out);
        make_escape(out, wf->deps_files[i]);
        fputs(":\n", out);
    }
    return ferror(out) ? -1 : 0;
}
