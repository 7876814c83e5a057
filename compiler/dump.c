/* dump.c -- pomlc --dump: a plan file printed readably
 *
 * Like objdump or luac -l: the header, the workflow record, parameters,
 * models, then every step in plan order with its edges, settings, the
 * types of its outputs and the disassembly of its expressions, the tools, the
 * prompt files and partials with their compiled templates, and the embedded
 * plans of the sub-workflows.  Reads through the runtime's loader, so a
 * damaged plan is reported exactly as pomlrun would report it.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bytecode.h"
#include "plan.h"
#include "template.h"

int pc_dump_plan(const char *path, FILE *out);

static const char *const kinds[] = {"gate", "shell",      "llm",
                                    "tool", "aggregator", "workflow",
                                    "approval"};
static const char *const types[] = {"any",     "string", "integer", "number",
                                    "boolean", "array",  "object"};
static const char *const backoffs[] = {"exponential", "fixed", "none"};

static const char *plan_strtab(void *ud, uint32_t idx, size_t *n)
{
    return pr_plan_str(ud, idx, n);
}

static void code(const struct pr_plan *p, FILE *out, const char *label,
                 struct pr_code c)
{
    if (!c.p)
        return;
    fprintf(out, "    %s:\n", label);
    pr_disasm(c.p, c.len, plan_strtab, (void *)p, out);
}

static void interp(const struct pr_plan *p, FILE *out, const char *label,
                   uint32_t idx)
{
    if (idx == PR_PLAN_NONE)
        return;
    struct pr_interp_view iv;
    pr_plan_interp(p, idx, &iv);
    fprintf(out, "    %s: %u part%s%s\n", label, iv.n, pr_plural(iv.n),
            iv.pure ? " (pure)" : "");
    for (uint32_t k = 0; k < iv.n; k++) {
        struct pr_part_view pv;
        pr_plan_part(p, iv.first + k, &pv);
        if (pv.kind == 0) {
            fputs("      text \"", out);
            for (uint32_t j = 0; j < pv.text_len; j++) {
                unsigned char ch = (unsigned char)pv.text[j];
                if (ch == '\n')
                    fputs("\\n", out);
                else if (ch == '"' || ch == '\\')
                    fprintf(out, "\\%c", ch);
                else if (ch < 0x20)
                    fprintf(out, "\\x%02x", ch);
                else
                    fputc(ch, out);
            }
            fputs("\"\n", out);
        } else {
            fputs("      expr\n", out);
            pr_disasm(pv.code.p, pv.code.len, plan_strtab, (void *)p, out);
        }
    }
}

static void strlist(const struct pr_plan *p, FILE *out, const char *label,
                    struct pr_list l)
{
    if (!l.n)
        return;
    fprintf(out, "    %s:", label);
    for (uint32_t k = 0; k < l.n; k++)
        fprintf(out, " %s", pr_plan_str(p, pr_plan_list_at(p, l, k), NULL));
    fputc('\n', out);
}

static void edges(const struct pr_plan *p, FILE *out, const char *label,
                  struct pr_list l)
{
    if (!l.n)
        return;
    fprintf(out, "    %s:", label);
    for (uint32_t k = 0; k < l.n; k++) {
        uint32_t e = pr_plan_list_at(p, l, k);
        struct pr_step s;
        pr_plan_step(p, e & ~PR_EDGE_AFTER, &s);
        fprintf(out, " %s%s", s.id, e & PR_EDGE_AFTER ? " (after)" : "");
    }
    fputc('\n', out);
}

static const char *model_name(const struct pr_plan *p, uint32_t i)
{
    if (i == PR_PLAN_NONE)
        return NULL;
    struct pr_model m;
    pr_plan_model(p, i, &m);
    return m.name;
}

/* The types of step I's outputs, one per line; the text as it is when
 * it is not the JSON object pomlc writes. */
static void output_types(const struct pr_plan *p, uint32_t i, FILE *out)
{
    struct pr_otype t;
    pr_plan_otype(p, i, &t);
    if (!t.types)
        return;
    fputs("    output types:", out);
    cJSON *o = cJSON_Parse(t.types);
    const cJSON *e = cJSON_IsObject(o) ? o->child : NULL;
    if (!e)
        fprintf(out, " %s", t.types);
    for (; e; e = e->next)
        fprintf(out, "\n      %s: %s", e->string,
                cJSON_IsString(e) ? e->valuestring : "?");
    fputc('\n', out);
    cJSON_Delete(o);
}

static void dump_step(const struct pr_plan *p, uint32_t i, FILE *out)
{
    struct pr_step s;
    pr_plan_step(p, i, &s);
    fprintf(out, "step %u %s  [%s] stage %u, critical path %u step%s%s\n", i,
            s.id, kinds[s.kind < PR_STEP_KINDS ? s.kind : 0], s.stage,
            s.cp_steps, pr_plural(s.cp_steps),
            s.flags & PR_SF_CRITICAL ? " (on it)" : "");
    if (s.src_line)
        fprintf(out, "    source: line %u, column %u\n", s.src_line,
                s.src_col);
    edges(p, out, "depends on", s.deps);
    edges(p, out, "dependents", s.dependents);
    if (s.flags & (PR_SF_PARALLEL | PR_SF_CONTINUE | PR_SF_CACHE | PR_SF_JSON |
                   PR_SF_SYNTHETIC))
        fprintf(out, "    flags:%s%s%s%s%s\n",
                s.flags & PR_SF_PARALLEL ? " parallel" : "",
                s.flags & PR_SF_CONTINUE ? " continue-on-failure" : "",
                s.flags & PR_SF_CACHE ? " cache" : "",
                s.flags & PR_SF_JSON ? " json-output" : "",
                s.flags & PR_SF_SYNTHETIC ? " synthetic" : "");
    if (s.timeout > 0)
        fprintf(out, "    timeout: %gs\n", s.timeout);
    if (s.max_attempts > 1)
        fprintf(out, "    retry: %u attempt%s, %s backoff, %gs to %gs\n",
                s.max_attempts, pr_plural(s.max_attempts),
                backoffs[s.backoff < 3 ? s.backoff : 0], s.initial_delay,
                s.max_delay);
    const char *m = model_name(p, s.model);
    if (m)
        fprintf(out, "    model: %s\n", m);
    if (s.agent)
        fprintf(out, "    agent: %s\n", s.agent);
    if (s.capability)
        fprintf(out, "    capability: %s\n", s.capability);
    if (s.tool)
        fprintf(out, "    tool: %s\n", s.tool);
    if (s.strategy)
        fprintf(out, "    strategy: %s\n", s.strategy);
    if (s.workflow)
        fprintf(out, "    workflow: %s\n", s.workflow);
    if (s.prompt_file) {
        uint32_t k = pr_plan_prompt_find(p, s.prompt_file);
        fprintf(out, "    prompt file: %s", s.prompt_file);
        if (k != PR_PLAN_NONE)
            fprintf(out, " (prompt %u)", k);
        fputc('\n', out);
    }
    if (s.best_of)
        fprintf(out, "    best of: %u\n", s.best_of);
    for (uint32_t k = 0; k < s.fallback.n; k++)
        fprintf(out, "    fallback %u: %s\n", k + 1,
                model_name(p, pr_plan_list_at(p, s.fallback, k)));
    for (uint32_t k = 0; k < s.cascade.n; k++)
        fprintf(out, "    cascade %u: %s\n", k + 1,
                model_name(p, pr_plan_list_at(p, s.cascade, k)));
    strlist(p, out, "tools", s.tools);
    strlist(p, out, "outputs", s.outputs);
    output_types(p, i, out);
    code(p, out, "condition", s.condition);
    code(p, out, "for_each", s.for_each);
    code(p, out, "score", s.score);
    if (s.flags & PR_SF_CACHE)
        fprintf(out,
                s.cache_ttl > 0 ? "    cache: ttl %g s\n"
                                : "    cache: any age\n",
                s.cache_ttl);
    interp(p, out, "run", s.run);
    interp(p, out, "prompt", s.prompt);
    interp(p, out, "system", s.system);
    if (s.inputs != PR_PLAN_NONE)
        fprintf(out, "    inputs: value %u\n", s.inputs);
    if (s.with != PR_PLAN_NONE)
        fprintf(out, "    with: value %u\n", s.with);
}

/* A prompt record: what its frontmatter gave, then its template's code. */
static void dump_prompt(const struct pr_plan *p, uint32_t i, FILE *out)
{
    struct pr_prompt v;
    pr_plan_prompt(p, i, &v);
    fprintf(out, "prompt %u %s  [%s]", i, v.name,
            v.kind == PR_PROMPT_PARTIAL ? "partial" : "prompt file");
    if (*v.title)
        fprintf(out, " %s", v.title);
    fputc('\n', out);
    if (*v.description)
        fprintf(out, "    %s\n", v.description);
    const char *m = model_name(p, v.model);
    if (m)
        fprintf(out, "    model: %s\n", m);
    static const char *const labels[] = {"config", "input schema",
                                         "input defaults", "output format",
                                         "output schema"};
    const char *vals[] = {v.config, v.input_schema, v.input_default,
                          v.output_format, v.output_schema};
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++)
        if (vals[k])
            fprintf(out, "    %s: %s\n", labels[k], vals[k]);
    fprintf(out, "    template: %u byte%s\n", v.code.len,
            pr_plural(v.code.len));
    if (v.code.p)
        pr_tpl_disasm(v.code.p, v.code.len, out);
}

/* The plans P embeds, one line each, their own embedded plans indented
 * below them. */
static void dump_subplans(const struct pr_plan *p, FILE *out, int indent)
{
    for (uint32_t i = 0; i < p->nsubplans; i++) {
        struct pr_subplan v;
        struct pr_plan sub;
        struct pr_workflow w;
        const uint8_t *data;
        size_t size;
        char err[256];
        pr_plan_subplan_at(p, i, &v);
        fprintf(out, "%*ssubplan %s: %u byte%s", indent, "", v.name, v.size,
                pr_plural(v.size));
        if (pr_plan_subplan(p, v.name, &data, &size) < 0 ||
            pr_plan_load_mem(&sub, data, size, err, sizeof err) < 0) {
            fputs(", not readable\n", out);
            continue;
        }
        pr_plan_workflow(&sub, &w);
        fprintf(out, ", format %u.%u, workflow %s (from %s), %u step%s\n",
                sub.major, sub.minor, w.id, w.source, sub.nsteps,
                pr_plural(sub.nsteps));
        dump_subplans(&sub, out, indent + 2);
        pr_plan_close(&sub);
    }
}

int pc_dump_plan(const char *path, FILE *out)
{
    struct pr_plan p;
    char err[256];
    if (pr_plan_open(&p, path, err, sizeof err) < 0) {
        fprintf(stderr, "pomlc: error: %s: %s\n", path, err);
        return 1;
    }
    struct pr_workflow w;
    pr_plan_workflow(&p, &w);
    fprintf(out, "plan %s: format %u.%u, %zu byte%s\n", path, p.major, p.minor,
            p.size, pr_plural(p.size));
    fprintf(out, "workflow %s", w.id);
    if (*w.version)
        fprintf(out, " version %s", w.version);
    fprintf(out, " (from %s)\n", w.source);
    if (*w.description)
        fprintf(out, "  %s\n", w.description);
    fprintf(out,
            "  %u step%s in %u stage%s, widest %u, critical path %u "
            "step%s\n",
            p.nsteps, pr_plural(p.nsteps), w.nstages, pr_plural(w.nstages),
            w.widest_stage, w.cp_steps, pr_plural(w.cp_steps));
    if (w.sla_max_duration > 0)
        fprintf(out, "  sla: %gs\n", w.sla_max_duration);
    if (w.budget_cost > 0 || w.budget_tokens || w.budget_calls)
        fprintf(out,
                "  budget: $%g, %" PRIu64 " token%s, %" PRIu64 " call%s\n",
                w.budget_cost, w.budget_tokens, pr_plural(w.budget_tokens),
                w.budget_calls, pr_plural(w.budget_calls));
    for (uint32_t i = 0; i < p.nparams; i++) {
        struct pr_param pa;
        pr_plan_param(&p, i, &pa);
        fprintf(out, "param %s: %s%s%s", pa.name,
                types[pa.type < PR_T_TYPES ? pa.type : 0],
                pa.flags & PR_PF_REQUIRED ? ", required" : "",
                pa.flags & PR_PF_IMPLICIT ? ", implicit" : "");
        if (pa.default_json)
            fprintf(out, ", default %s", pa.default_json);
        if (pa.enum_json)
            fprintf(out, ", one of %s", pa.enum_json);
        fputc('\n', out);
    }
    for (uint32_t i = 0; i < p.nmodels; i++) {
        struct pr_model m;
        pr_plan_model(&p, i, &m);
        fprintf(out,
                "model %u %s: %s %s via %s (key from $%s), $%g/$%g per "
                "Mtok\n",
                i, m.name, m.provider, m.wire_id, m.protocol,
                *m.api_key_env ? m.api_key_env : "-", m.input_per_mtok,
                m.output_per_mtok);
    }
    for (uint32_t i = 0; i < p.nphases; i++) {
        struct pr_phase ph;
        pr_plan_phase(&p, i, &ph);
        fprintf(out, "phase %u %s", i, ph.name);
        if (ph.min_success_rate > 0)
            fprintf(out, ", gate at success rate %g", ph.min_success_rate);
        if (ph.feedback_to != PR_PLAN_NONE)
            fprintf(out, ", feedback to phase %u at most %u time%s",
                    ph.feedback_to, ph.max_loops, pr_plural(ph.max_loops));
        fputc('\n', out);
    }
    uint32_t stage = UINT32_MAX;
    for (uint32_t i = 0; i < p.nsteps; i++) {
        struct pr_step s;
        pr_plan_step(&p, i, &s);
        if (s.stage != stage) {
            stage = s.stage;
            fprintf(out, "\n-- stage %u --\n", stage);
        }
        dump_step(&p, i, out);
    }
    for (uint32_t i = 0; i < p.ntools; i++) {
        struct pr_tool t;
        pr_plan_tool(&p, i, &t);
        fprintf(out, "tool %s: %s on server %s\n", t.name, t.remote_name,
                *t.server ? t.server : "-");
    }
    for (uint32_t i = 0; i < p.nprompts; i++) {
        fputc('\n', out);
        dump_prompt(&p, i, out);
    }
    if (p.nsubplans)
        fputc('\n', out);
    dump_subplans(&p, out, 0);
    pr_plan_close(&p);
    return ferror(out) ? 1 : 0;
}
