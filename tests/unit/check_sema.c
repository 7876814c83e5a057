/* check_sema.c -- unit tests of the compiler's reading and analysis passes
 *
 * Writes workflows to a temporary directory, compiles them with pc_compile
 * and checks the IR: step kinds, resolved models, dependencies (explicit,
 * order-only, implied), topological order, stages, the critical path,
 * phase gates, the arrow forms, parameters, and the id of the diagnostic
 * each semantic check reports.  Messages and positions as printed are
 * pinned by tests/lint/run.sh.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "compile.h"
#include "diag.h"
#include "ir.h"

static struct pc_ctx ctx;
static struct pc_catalog cat;
static char dir[64];
static char stdlib_dir[4096];
static char *written[16];
static size_t nwritten;

static void setup(void)
{
    pc_ctx_init(&ctx);
    const char *env = getenv("POML_STDLIB");
    if (!env || !*env)
        env = "stdlib";
    if (!realpath(env, stdlib_dir))
        snprintf(stdlib_dir, sizeof stdlib_dir, "%s", env);
    pc_catalog_init(&cat, stdlib_dir);
    snprintf(dir, sizeof dir, "%s", "/tmp/check_sema.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    nwritten = 0;
}

static void teardown(void)
{
    for (size_t i = 0; i < nwritten; i++) {
        unlink(written[i]);
        free(written[i]);
    }
    rmdir(dir);
    pc_ctx_free(&ctx);
}

/* Writes TEXT to NAME in the temporary directory; returns its path. */
static const char *put(const char *name, const char *text)
{
    ck_assert_uint_lt(nwritten, sizeof written / sizeof written[0]);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    ck_assert_ptr_nonnull(path);
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    written[nwritten++] = path;
    return path;
}

/* Compiles TEXT; returns the workflow (NULL only if nothing was read). */
static struct pc_workflow *compile(const char *text)
{
    struct pc_workflow *wf = NULL;
    pc_compile(&ctx, &cat, put("w.poml", text), &wf);
    return wf;
}

static unsigned count_diag(enum pc_diag_id id)
{
    unsigned n = 0;
    for (size_t i = 0; i < ctx.ndiags; i++)
        if (ctx.diags[i].id == id)
            n++;
    return n;
}

static unsigned count_errors(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < ctx.ndiags; i++)
        if (ctx.diags[i].sev == PC_SEV_ERROR)
            n++;
    return n;
}

/* Compiles TEXT, which must give no error. */
static struct pc_workflow *compile_ok(const char *text)
{
    struct pc_workflow *wf = NULL;
    int rc = pc_compile(&ctx, &cat, put("w.poml", text), &wf);
    if (rc != 0 || count_errors())
        for (size_t i = 0; i < ctx.ndiags; i++)
            fprintf(stderr, "unexpected: %s [-W%s]\n", ctx.diags[i].msg,
                    pc_diag_name(ctx.diags[i].id));
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(count_errors(), 0);
    ck_assert_ptr_nonnull(wf);
    return wf;
}

/* Compiles TEXT and checks it reports check ID (as error or warning). */
static void expect_diag(const char *text, enum pc_diag_id id)
{
    compile(text);
    if (!count_diag(id))
        for (size_t i = 0; i < ctx.ndiags; i++)
            fprintf(stderr, "got: %s [-W%s]\n", ctx.diags[i].msg,
                    pc_diag_name(ctx.diags[i].id));
    ck_assert_msg(count_diag(id) > 0, "no -W%s diagnostic", pc_diag_name(id));
}

static long idx(struct pc_workflow *wf, const char *id)
{
    for (size_t i = 0; i < wf->nsteps; i++)
        if (!strcmp(wf->steps[i].id, id))
            return (long)i;
    ck_abort_msg("no step '%s'", id);
    return -1;
}

static struct pc_step *step(struct pc_workflow *wf, const char *id)
{
    return &wf->steps[idx(wf, id)];
}

/* The dependency of step S on step ON, or NULL. */
static struct pc_dep *dep(struct pc_workflow *wf, const char *s,
                          const char *on)
{
    struct pc_step *st = step(wf, s);
    long t = idx(wf, on);
    for (size_t i = 0; i < st->ndeps; i++)
        if (st->deps[i].step == (uint32_t)t)
            return &st->deps[i];
    return NULL;
}

static void check_topo(struct pc_workflow *wf)
{
    for (size_t i = 0; i < wf->nsteps; i++) {
        struct pc_step *s = &wf->steps[i];
        ck_assert_uint_eq(wf->order[s->topo], i);
        for (size_t d = 0; d < s->ndeps; d++) {
            struct pc_step *p = &wf->steps[s->deps[d].step];
            ck_assert_uint_lt(p->topo, s->topo);
            ck_assert_uint_lt(p->stage, s->stage);
        }
    }
}

/* ---- step kinds and models ---- */

START_TEST(test_step_kinds)
{
    put("sub.poml", "steps:\n  - id: x\n    run: echo x\n");
    struct pc_workflow *wf = compile_ok(
        "workflow_id: kinds\n"
        "steps:\n"
        "  - id: sh\n    run: echo hi\n"
        "  - id: llm\n    model: gpt-4o\n    prompt: hi\n"
        "  - id: cap\n    agent_capability: code_generation\n"
        "    prompt: hi\n"
        "  - id: ag\n    agent: /query\n    prompt: hi\n"
        "  - id: tl\n    tool: read_file\n    inputs: {path: a.txt}\n"
        "  - id: agg\n    strategy: vote\n    depends_on: [sh, llm]\n"
        "  - id: sub\n    workflow: sub.poml\n    with: {n: 1}\n"
        "  - id: g\n    type: gate\n    depends_on: [sub]\n");
    ck_assert_str_eq(wf->id, "kinds");
    ck_assert_int_eq(step(wf, "sh")->kind, PC_STEP_SHELL);
    ck_assert_int_eq(step(wf, "llm")->kind, PC_STEP_LLM);
    ck_assert_str_eq(step(wf, "llm")->model->name, "gpt-4o");
    ck_assert_int_eq(step(wf, "cap")->kind, PC_STEP_LLM);
    ck_assert_str_eq(step(wf, "cap")->capability, "code_generation");
    ck_assert_ptr_nonnull(step(wf, "cap")->model);
    ck_assert_str_eq(step(wf, "cap")->model->name, "codestral");
    ck_assert_int_eq(step(wf, "ag")->kind, PC_STEP_LLM);
    ck_assert_str_eq(step(wf, "ag")->agent, "/query");
    ck_assert_ptr_nonnull(step(wf, "ag")->model);
    ck_assert_ptr_nonnull(step(wf, "ag")->system);
    ck_assert_int_eq(step(wf, "tl")->kind, PC_STEP_TOOL);
    ck_assert_str_eq(step(wf, "tl")->tool, "read_file");
    ck_assert_int_eq(step(wf, "agg")->kind, PC_STEP_AGGREGATE);
    ck_assert_str_eq(step(wf, "agg")->strategy, "vote");
    ck_assert_int_eq(step(wf, "sub")->kind, PC_STEP_WORKFLOW);
    ck_assert_ptr_nonnull(step(wf, "sub")->with);
    ck_assert_int_eq(step(wf, "sub")->with->kind, PC_TV_MAP);
    ck_assert_int_eq(step(wf, "g")->kind, PC_STEP_GATE);
    /* every model used is listed once */
    size_t n = 0;
    for (size_t i = 0; i < wf->nmodels; i++)
        if (!strcmp(wf->models[i]->name, "gpt-4o"))
            n++;
    ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(test_workflow_models_agents)
{
    struct pc_workflow *wf = compile_ok(
        "models:\n"
        "  house:\n    provider: anthropic\n    id: claude-x\n"
        "agents:\n"
        "  writer:\n    model: house\n    system: Be brief.\n"
        "steps:\n"
        "  - id: a\n    agent: writer\n    prompt: hi\n"
        "  - id: b\n    model: house\n    prompt: hi\n"
        "    fallback: [gpt-4o-mini]\n"
        "  - id: c\n    cascade: [gpt-4o-mini, gpt-4o]\n    prompt: hi\n");
    ck_assert_str_eq(step(wf, "a")->model->name, "house");
    ck_assert_str_eq(step(wf, "a")->model->protocol, "anthropic");
    ck_assert_str_eq(step(wf, "a")->model->wire_id, "claude-x");
    ck_assert_ptr_nonnull(step(wf, "a")->system);
    ck_assert_uint_eq(step(wf, "b")->nfallback, 1);
    ck_assert_str_eq(step(wf, "b")->fallback[0]->name, "gpt-4o-mini");
    ck_assert_uint_eq(step(wf, "c")->ncascade, 2);
    ck_assert_str_eq(step(wf, "c")->model->name, "gpt-4o-mini");
}
END_TEST

/* ---- dependencies ---- */

START_TEST(test_deps_explicit_after_implied)
{
    struct pc_workflow *wf = compile_ok(
        "steps:\n"
        "  - id: a\n    run: echo a\n"
        "  - id: b\n    run: echo b\n    depends_on: [a]\n"
        "  - id: c\n    run: echo c\n    after: [b]\n"
        "  - id: d\n    run: \"echo ${steps.c.stdout}\"\n"
        "  - id: e\n    run: \"echo ${steps.a.stdout}\"\n    after: [a]\n");
    struct pc_dep *d;
    ck_assert_ptr_nonnull(d = dep(wf, "b", "a"));
    ck_assert(!d->order_only);
    ck_assert(!d->implied);
    ck_assert_ptr_nonnull(d = dep(wf, "c", "b"));
    ck_assert(d->order_only);
    ck_assert(!d->implied);
    ck_assert_ptr_nonnull(d = dep(wf, "d", "c"));
    ck_assert(d->implied);
    ck_assert(!d->order_only);
    /* after plus a reference: a data dependency */
    ck_assert_ptr_nonnull(d = dep(wf, "e", "a"));
    ck_assert(!d->order_only);
    ck_assert_uint_eq(step(wf, "e")->ndeps, 1);
    ck_assert_ptr_null(dep(wf, "a", "b"));
    check_topo(wf);
}
END_TEST

START_TEST(test_topo_reverse_source_order)
{
    struct pc_workflow *wf = compile_ok(
        "steps:\n"
        "  - id: report\n"
        "    run: \"echo ${steps.test.stdout} ${steps.build.stdout}\"\n"
        "  - id: test\n    run: \"make ${steps.build.exit_code}\"\n"
        "  - id: build\n    run: make\n");
    check_topo(wf);
    ck_assert_uint_eq(step(wf, "build")->topo, 0);
    ck_assert_uint_eq(step(wf, "test")->topo, 1);
    ck_assert_uint_eq(step(wf, "report")->topo, 2);
    ck_assert_uint_eq(wf->nstages, 3);
    ck_assert_ptr_nonnull(dep(wf, "report", "test"));
    ck_assert_ptr_nonnull(dep(wf, "report", "build"));
}
END_TEST

START_TEST(test_stages_widest)
{
    struct pc_workflow *wf = compile_ok(
        "steps:\n"
        "  - id: a\n    run: echo a\n"
        "  - id: b\n    run: echo b\n    depends_on: [a]\n"
        "  - id: c\n    run: echo c\n    depends_on: [a]\n"
        "  - id: d\n    run: echo d\n    depends_on: [a]\n"
        "  - id: e\n    run: echo e\n    depends_on: [b, c, d]\n");
    check_topo(wf);
    ck_assert_uint_eq(wf->nstages, 3);
    ck_assert_uint_eq(wf->widest_stage, 3);
    ck_assert_uint_eq(step(wf, "a")->stage, 0);
    ck_assert_uint_eq(step(wf, "c")->stage, 1);
    ck_assert_uint_eq(step(wf, "e")->stage, 2);
}
END_TEST

START_TEST(test_critical_path)
{
    struct pc_workflow *wf = compile_ok(
        "steps:\n"
        "  - id: lone\n    run: echo lone\n    timeout: 1h\n"
        "  - id: a\n    run: echo a\n    timeout: 10s\n"
        "  - id: b\n    run: echo b\n    timeout: 20s\n"
        "    depends_on: [a]\n    retry: 1\n"
        "  - id: c\n    run: echo c\n    timeout: 30s\n"
        "    depends_on: [b]\n");
    check_topo(wf);
    ck_assert_uint_eq(wf->cp_steps, 3);
    ck_assert_uint_eq(step(wf, "a")->cp_steps, 3);
    ck_assert_uint_eq(step(wf, "c")->cp_steps, 1);
    ck_assert(step(wf, "a")->on_critical_path);
    ck_assert(step(wf, "b")->on_critical_path);
    ck_assert(step(wf, "c")->on_critical_path);
    ck_assert(!step(wf, "lone")->on_critical_path);
    /* seconds: the longest by time is lone (3600) */
    ck_assert_double_eq_tol(step(wf, "a")->cp_seconds, 10 + 40 + 30, 1e-9);
    ck_assert_double_eq_tol(wf->cp_seconds, 3600, 1e-9);
}
END_TEST

/* ---- phases ---- */

START_TEST(test_phase_gates)
{
    struct pc_workflow *wf = compile_ok(
        "phases:\n"
        "  - name: dev\n    gate: {min_success_rate: 0.5}\n"
        "  - name: ops\n    feedback: {to: dev, max_loops: 2}\n"
        "steps:\n"
        "  - id: code\n    phase: dev\n    run: make\n"
        "  - id: test\n    phase: dev\n    run: make check\n"
        "  - id: ship\n    phase: ops\n    run: ./ship.sh\n");
    ck_assert_uint_eq(wf->nphases, 2);
    ck_assert(wf->phases[0].has_gate_step);
    ck_assert_double_eq_tol(wf->phases[0].min_success_rate, 0.5, 1e-9);
    ck_assert_str_eq(wf->phases[1].feedback_to, "dev");
    ck_assert_uint_eq(wf->phases[1].max_loops, 2);
    struct pc_step *g = step(wf, "dev.gate");
    ck_assert(g->synthetic);
    ck_assert_int_eq(g->kind, PC_STEP_GATE);
    ck_assert_int_eq(g->gate_of_phase, 0);
    ck_assert_uint_eq(wf->phases[0].gate_step, (uint32_t)idx(wf, "dev.gate"));
    struct pc_dep *d;
    ck_assert_ptr_nonnull(d = dep(wf, "dev.gate", "code"));
    ck_assert(d->order_only);
    ck_assert_ptr_nonnull(dep(wf, "dev.gate", "test"));
    ck_assert_ptr_nonnull(dep(wf, "ship", "dev.gate"));
    ck_assert_ptr_nonnull(dep(wf, "ops.gate", "dev.gate"));
    ck_assert_ptr_nonnull(dep(wf, "ops.gate", "ship"));
    check_topo(wf);
}
END_TEST

/* ---- arrow forms ---- */

static const char arrow_steps[] = "steps:\n"
                                  "  - id: a\n    run: echo a\n"
                                  "  - id: b\n    run: echo b\n"
                                  "  - id: c\n    run: echo c\n"
                                  "  - id: d\n    run: echo d\n";

static struct pc_workflow *compile_arrow(const char *form)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s%s", arrow_steps, form);
    return compile_ok(buf);
}

START_TEST(test_arrow_chain)
{
    struct pc_workflow *wf = compile_arrow(
        "chain: \"a \xE2\x86\x92 b -> c\"\n");
    ck_assert_ptr_nonnull(dep(wf, "b", "a"));
    ck_assert_ptr_nonnull(dep(wf, "c", "b"));
    ck_assert_ptr_null(dep(wf, "c", "a"));
    ck_assert_uint_eq(step(wf, "d")->ndeps, 0);
    ck_assert_uint_eq(wf->nstages, 3);
    check_topo(wf);
}
END_TEST

START_TEST(test_arrow_pipeline)
{
    struct pc_workflow *wf = compile_arrow(
        "pipeline: \"a -> [b, c] \xE2\x86\x92 d\"\n");
    ck_assert_ptr_nonnull(dep(wf, "b", "a"));
    ck_assert_ptr_nonnull(dep(wf, "c", "a"));
    ck_assert_ptr_nonnull(dep(wf, "d", "b"));
    ck_assert_ptr_nonnull(dep(wf, "d", "c"));
    ck_assert_uint_eq(wf->widest_stage, 2);
    ck_assert_uint_eq(wf->cp_steps, 3);
}
END_TEST

START_TEST(test_arrow_flow)
{
    struct pc_workflow *wf = compile_arrow(
        "flow: \"if steps.a.exit_code == 0 then b -> c else d\"\n");
    struct pc_expr *cb = step(wf, "b")->condition;
    struct pc_expr *cd = step(wf, "d")->condition;
    ck_assert_ptr_nonnull(cb);
    ck_assert_ptr_nonnull(cd);
    ck_assert_int_eq(cb->kind, PC_E_BINARY);
    ck_assert_int_eq(cd->kind, PC_E_UNARY);
    ck_assert_int_eq(cd->op, PR_OP_NOT);
    ck_assert_ptr_eq(cd->args[0], cb);
    ck_assert_ptr_null(step(wf, "c")->condition);
    ck_assert_ptr_nonnull(dep(wf, "c", "b"));
    /* the condition's reference orders the branches after a */
    ck_assert_ptr_nonnull(dep(wf, "b", "a"));
    ck_assert_ptr_nonnull(dep(wf, "d", "a"));
    check_topo(wf);
}
END_TEST

START_TEST(test_arrow_swarm)
{
    struct pc_workflow *wf = compile_arrow(
        "swarm: \"coordinator: a -> specialists: [b, c] -> "
        "aggregator: d\"\n");
    ck_assert_ptr_nonnull(dep(wf, "b", "a"));
    ck_assert_ptr_nonnull(dep(wf, "c", "a"));
    ck_assert_ptr_nonnull(dep(wf, "d", "b"));
    ck_assert_ptr_nonnull(dep(wf, "d", "c"));
    ck_assert_uint_eq(wf->nstages, 3);
}
END_TEST

START_TEST(test_yaml_chain)
{
    struct pc_workflow *wf = compile_ok(
        "/chain:\n  steps:\n"
        "    - name: find\n      command: /query\n      params: look\n"
        "    - name: fix\n      command: /task\n      params: fix\n"
        "    - name: check\n      command: /protocol\n      params: run\n"
        "  options:\n    error_strategy: continue_on_failure\n");
    ck_assert_uint_eq(wf->nsteps, 3);
    ck_assert_ptr_nonnull(dep(wf, "fix", "find"));
    ck_assert_ptr_nonnull(dep(wf, "check", "fix"));
    ck_assert_int_eq(step(wf, "find")->kind, PC_STEP_LLM);
    ck_assert_str_eq(step(wf, "find")->agent, "/query");
    ck_assert(step(wf, "fix")->continue_on_failure);
}
END_TEST

START_TEST(test_yaml_swarm_and_pipeline)
{
    struct pc_workflow *wf = compile_ok(
        "/swarm:\n  topology: hierarchical\n  agents:\n"
        "    coordinator: {model: gpt-4o, role: plan}\n"
        "    s1: {model: gpt-4o-mini, role: one}\n"
        "    s2: {model: gpt-4o-mini, role: two}\n"
        "    aggregator: {model: gpt-4o, role: merge}\n"
        "  execution: {timeout: 10m, retry_strategy: fixed}\n");
    ck_assert_ptr_nonnull(dep(wf, "s1", "coordinator"));
    ck_assert_ptr_nonnull(dep(wf, "s2", "coordinator"));
    ck_assert_ptr_nonnull(dep(wf, "aggregator", "s1"));
    ck_assert_ptr_nonnull(dep(wf, "aggregator", "s2"));
    ck_assert_double_eq_tol(step(wf, "s1")->timeout, 600, 1e-9);
    ck_assert_int_eq(step(wf, "s1")->retry.backoff, PC_BACKOFF_FIXED);
    ck_assert_ptr_nonnull(pc_find_param(wf, "task"));
    ck_assert(step(wf, "s1")->synthetic);
    pc_ctx_free(&ctx);
    pc_ctx_init(&ctx);
    pc_catalog_init(&cat, stdlib_dir);
    wf = compile_ok(
        "/pipeline:\n  stages:\n"
        "    - {name: in, processor: /query, batch_size: 10, parallelism: 2}\n"
        "    - {name: out, processor: /docs}\n");
    ck_assert_ptr_nonnull(dep(wf, "out", "in"));
    ck_assert_uint_eq(step(wf, "in")->batch_size, 10);
    ck_assert_uint_eq(step(wf, "in")->parallelism, 2);
    ck_assert_ptr_nonnull(pc_find_param(wf, "input"));
}
END_TEST

START_TEST(test_yaml_flow)
{
    struct pc_workflow *wf = compile_ok(
        "parameters:\n  n: {type: integer, default: 1}\n"
        "/flow:\n  conditions:\n"
        "    - if: \"params.n > 1\"\n"
        "      then: [{command: /task, params: big}]\n"
        "      else: [{command: /task, params: small}]\n"
        "    - if: \"params.n > 5\"\n"
        "      then: [{command: /docs, params: doc}]\n");
    struct pc_step *t = step(wf, "flow1_then_1");
    struct pc_step *e = step(wf, "flow1_else_1");
    ck_assert_ptr_nonnull(t->condition);
    ck_assert_int_eq(e->condition->kind, PC_E_UNARY);
    struct pc_dep *d = dep(wf, "flow2_then_1", "flow1_then_1");
    ck_assert_ptr_nonnull(d);
    ck_assert(d->order_only);
    ck_assert_ptr_nonnull(d = dep(wf, "flow2_then_1", "flow1_else_1"));
    ck_assert(d->order_only);
}
END_TEST

/* ---- parameters, durations, retry ---- */

START_TEST(test_params)
{
    struct pc_workflow *wf = compile_ok(
        "parameters:\n"
        "  s: {type: string, default: x, enum: [x, y]}\n"
        "  i: {type: integer, default: 3}\n"
        "  f: {type: number, default: 0.5}\n"
        "  b: {type: boolean, default: true}\n"
        "  l: {default: [1, 2]}\n"
        "  o: {default: {k: v}}\n"
        "  r: {required: true}\n"
        "steps:\n"
        "  - id: a\n"
        "    run: \"echo ${params.s}${params.i}${params.f}${params.b}"
        "${params.l}${params.o}${params.r}${bare}\"\n");
    ck_assert_int_eq(pc_find_param(wf, "s")->type, PC_T_STRING);
    ck_assert_ptr_nonnull(pc_find_param(wf, "s")->enumv);
    ck_assert_str_eq(pc_find_param(wf, "s")->def->str, "x");
    ck_assert_int_eq(pc_find_param(wf, "i")->type, PC_T_INTEGER);
    ck_assert_int_eq(pc_find_param(wf, "f")->type, PC_T_NUMBER);
    ck_assert_int_eq(pc_find_param(wf, "b")->type, PC_T_BOOLEAN);
    ck_assert_int_eq(pc_find_param(wf, "l")->type, PC_T_ARRAY);
    ck_assert_int_eq(pc_find_param(wf, "o")->type, PC_T_OBJECT);
    ck_assert(pc_find_param(wf, "r")->required);
    ck_assert_ptr_null(pc_find_param(wf, "r")->def);
    ck_assert(pc_find_param(wf, "bare")->implicit);
    ck_assert_int_eq(pc_find_param(wf, "bare")->type, PC_T_ANY);
    for (size_t i = 0; i < wf->nparams; i++)
        ck_assert(wf->params[i].used);
    ck_assert_uint_eq(count_diag(PC_D_IMPLICIT_PARAM), 1);
}
END_TEST

START_TEST(test_durations_retry)
{
    struct pc_workflow *wf = compile_ok(
        "error_handling:\n  retry_policy: {max_attempts: 4}\n"
        "steps:\n"
        "  - id: a\n    run: x\n    timeout: 30\n"
        "  - id: b\n    run: x\n    timeout: 30s\n    retry: 2\n"
        "  - id: c\n    run: x\n    timeout: 5m\n"
        "    retry: {max_attempts: 3, backoff: fixed, initial_delay: 2s,"
        " max_delay: 1m}\n"
        "  - id: d\n    run: x\n    timeout: 1h\n    retry: {backoff: none}\n"
        "  - id: e\n    run: x\n    timeout: 1h30m\n    on_failure: continue\n"
        "    cache: true\n");
    ck_assert_double_eq_tol(step(wf, "a")->timeout, 30, 1e-9);
    ck_assert_double_eq_tol(step(wf, "b")->timeout, 30, 1e-9);
    ck_assert_double_eq_tol(step(wf, "c")->timeout, 300, 1e-9);
    ck_assert_double_eq_tol(step(wf, "d")->timeout, 3600, 1e-9);
    ck_assert_double_eq_tol(step(wf, "e")->timeout, 5400, 1e-9);
    ck_assert_uint_eq(step(wf, "a")->retry.max_attempts, 4);
    ck_assert_uint_eq(step(wf, "b")->retry.max_attempts, 3);
    ck_assert_uint_eq(step(wf, "c")->retry.max_attempts, 3);
    ck_assert_int_eq(step(wf, "c")->retry.backoff, PC_BACKOFF_FIXED);
    ck_assert_double_eq_tol(step(wf, "c")->retry.initial_delay, 2, 1e-9);
    ck_assert_double_eq_tol(step(wf, "c")->retry.max_delay, 60, 1e-9);
    ck_assert_int_eq(step(wf, "d")->retry.backoff, PC_BACKOFF_NONE);
    ck_assert(step(wf, "e")->continue_on_failure);
    ck_assert(step(wf, "e")->cache);
    ck_assert(!step(wf, "a")->continue_on_failure);
}
END_TEST

START_TEST(test_for_each_literal_list)
{
    struct pc_workflow *wf = compile_ok("steps:\n"
                                        "  - id: a\n    for_each: [x, y]\n    "
                                        "run: \"echo ${item} ${index}\"\n");
    ck_assert_ptr_nonnull(step(wf, "a")->for_each);
    ck_assert_int_eq(step(wf, "a")->for_each->kind, PC_E_LIST);
}
END_TEST

START_TEST(test_for_each_param)
{
    struct pc_workflow *wf = compile_ok(
        "parameters:\n  files: {type: array, default: [a]}\n"
        "steps:\n"
        "  - id: a\n    for_each: \"${params.files}\"\n"
        "    run: \"echo ${item} ${index}\"\n");
    ck_assert_ptr_nonnull(step(wf, "a")->for_each);
    ck_assert_int_eq(step(wf, "a")->for_each->kind, PC_E_PATH);
}
END_TEST

START_TEST(test_workflow_sections)
{
    struct pc_workflow *wf = compile_ok(
        "max_parallel: 3\n"
        "sla: {max_duration: 1h, timeout_per_step: 2m}\n"
        "budget: {max_cost_usd: 1.5, max_tokens: 1000, max_llm_calls: 4}\n"
        "policy: {allowed_tools: [read_file], allowed_commands: [make]}\n"
        "error_handling:\n"
        "  on_failure: [{notify: ops}]\n"
        "  circuit_breaker: {failure_threshold: 5, reset_timeout: 30s}\n"
        "steps:\n  - id: a\n    run: make\n"
        "  - id: b\n    run: make\n    timeout: 5s\n");
    ck_assert_uint_eq(wf->max_parallel, 3);
    ck_assert_double_eq_tol(wf->sla_max_duration, 3600, 1e-9);
    ck_assert_double_eq_tol(step(wf, "a")->timeout, 120, 1e-9);
    ck_assert_double_eq_tol(step(wf, "b")->timeout, 5, 1e-9);
    ck_assert_double_eq_tol(wf->budget.max_cost_usd, 1.5, 1e-9);
    ck_assert_uint_eq(wf->budget.max_tokens, 1000);
    ck_assert_uint_eq(wf->budget.max_llm_calls, 4);
    ck_assert(wf->policy_tools_set);
    ck_assert_uint_eq(wf->nallowed_commands, 1);
    ck_assert_uint_eq(wf->non_failure_actions, 1);
    ck_assert_str_eq(wf->on_failure_actions[0], "notify=ops");
    ck_assert_uint_eq(wf->breaker_threshold, 5);
    ck_assert_double_eq_tol(wf->breaker_reset, 30, 1e-9);
}
END_TEST

/* ---- one test per check ---- */

START_TEST(test_undefined_step)
{
    expect_diag("steps:\n  - id: a\n    run: x\n    depends_on: [b]\n",
                PC_D_UNDEFINED_STEP);
}
END_TEST

START_TEST(test_undefined_step_ref)
{
    expect_diag("steps:\n  - id: a\n    run: \"x ${steps.nope.stdout}\"\n",
                PC_D_UNDEFINED_STEP);
}
END_TEST

START_TEST(test_undefined_param)
{
    expect_diag("steps:\n  - id: a\n    run: \"x ${params.nope}\"\n",
                PC_D_UNDEFINED_PARAM);
}
END_TEST

START_TEST(test_undefined_output)
{
    expect_diag("steps:\n  - id: a\n    run: x\n    outputs: [o]\n"
                "  - id: b\n    run: \"x ${steps.a.p}\"\n",
                PC_D_UNDEFINED_OUTPUT);
}
END_TEST

START_TEST(test_undefined_variable)
{
    expect_diag("steps:\n  - id: a\n    run: \"x ${index}\"\n",
                PC_D_UNDEFINED_VAR);
}
END_TEST

START_TEST(test_cycle)
{
    expect_diag("steps:\n"
                "  - id: a\n    run: x\n    depends_on: [c]\n"
                "  - id: b\n    run: x\n    depends_on: [a]\n"
                "  - id: c\n    run: x\n    depends_on: [b]\n",
                PC_D_CYCLE);
    ck_assert_uint_eq(count_diag(PC_D_CYCLE), 1);
    for (size_t i = 0; i < ctx.ndiags; i++)
        if (ctx.diags[i].id == PC_D_CYCLE)
            ck_assert_ptr_nonnull(
                strstr(ctx.diags[i].msg,
                       "a \xE2\x86\x92 b \xE2\x86\x92 c \xE2\x86\x92 a"));
}
END_TEST

START_TEST(test_cycle_self)
{
    expect_diag("steps:\n  - id: a\n    run: x\n    depends_on: [a]\n",
                PC_D_CYCLE);
}
END_TEST

START_TEST(test_step_order)
{
    expect_diag("steps:\n"
                "  - id: a\n    run: \"x ${steps.b.stdout}\"\n"
                "  - id: b\n    run: x\n    depends_on: [a]\n",
                PC_D_STEP_ORDER);
}
END_TEST

START_TEST(test_enum_default)
{
    expect_diag("parameters:\n  e: {enum: [x, y], default: z}\n"
                "steps:\n  - id: a\n    run: \"${params.e}\"\n",
                PC_D_ENUM_DEFAULT);
}
END_TEST

START_TEST(test_param_type)
{
    expect_diag("parameters:\n  n: {type: integer, default: lots}\n"
                "steps:\n  - id: a\n    run: \"${params.n}\"\n",
                PC_D_PARAM_TYPE);
}
END_TEST

START_TEST(test_for_each_type)
{
    expect_diag("parameters:\n  n: {type: integer, default: 2}\n"
                "steps:\n  - id: a\n    for_each: \"${params.n}\"\n"
                "    run: \"${item}\"\n",
                PC_D_FOR_EACH_TYPE);
}
END_TEST

START_TEST(test_unknown_strategy)
{
    expect_diag("steps:\n  - id: a\n    run: x\n"
                "  - id: b\n    strategy: average\n    depends_on: [a]\n",
                PC_D_UNKNOWN_STRATEGY);
}
END_TEST

START_TEST(test_unknown_model)
{
    expect_diag("steps:\n  - id: a\n    model: gpt-4oo\n    prompt: x\n",
                PC_D_UNKNOWN_MODEL);
}
END_TEST

START_TEST(test_unknown_capability)
{
    expect_diag("steps:\n  - id: a\n    agent_capability: juggling\n"
                "    prompt: x\n",
                PC_D_UNKNOWN_CAPABILITY);
}
END_TEST

START_TEST(test_unknown_agent)
{
    expect_diag("steps:\n  - id: a\n    agent: nobody\n    prompt: x\n",
                PC_D_UNKNOWN_AGENT);
}
END_TEST

START_TEST(test_unknown_phase)
{
    expect_diag("phases: [dev]\n"
                "steps:\n  - id: a\n    run: x\n    phase: ops\n",
                PC_D_UNKNOWN_PHASE);
}
END_TEST

START_TEST(test_arrow_syntax)
{
    expect_diag("steps:\n  - id: a\n    run: x\n  - id: b\n    run: x\n"
                "chain: \"a b\"\n",
                PC_D_ARROW);
}
END_TEST

START_TEST(test_arrow_unknown_step)
{
    expect_diag("steps:\n  - id: a\n    run: x\n"
                "chain: \"a -> zz\"\n",
                PC_D_UNDEFINED_STEP);
}
END_TEST

START_TEST(test_import)
{
    expect_diag("import: [missing.poml]\nsteps:\n  - id: a\n    run: x\n",
                PC_D_IMPORT);
}
END_TEST

/* Each distinct sub-workflow compiled once, in the IR with its files;
 * the models a caller defines are not its sub-workflows'. */
START_TEST(test_sub_workflows)
{
    put("leaf.poml", "steps:\n  - id: x\n    run: echo x\n");
    put("mid.poml", "workflow_id: mid\nsteps:\n  - id: l\n"
                    "    workflow: leaf.poml\n");
    struct pc_workflow *wf = compile_ok(
        "steps:\n  - id: a\n    workflow: mid.poml\n"
        "  - id: b\n    workflow: ./mid.poml\n"
        "  - id: c\n    workflow: mid.poml\n");
    ck_assert_uint_eq(wf->nsubs, 2);
    ck_assert_str_eq(wf->subs[0].name, "mid.poml");
    ck_assert_str_eq(wf->subs[1].name, "./mid.poml");
    ck_assert_ptr_eq(wf->subs[0].wf, wf->subs[1].wf);
    struct pc_workflow *mid = wf->subs[0].wf;
    ck_assert_str_eq(mid->id, "mid");
    ck_assert_uint_eq(mid->nsubs, 1);
    ck_assert_str_eq(mid->subs[0].wf->id, "leaf");
    size_t found = 0;
    for (size_t i = 0; i < wf->ndeps_files; i++)
        found += strstr(wf->deps_files[i], "mid.poml") ||
                 strstr(wf->deps_files[i], "leaf.poml");
    ck_assert_uint_eq(found, 2);

    put("uses.poml", "steps:\n  - id: x\n    model: own\n"
                     "    prompt: hi\n");
    expect_diag("models:\n  own: {protocol: openai}\n"
                "steps:\n  - id: a\n    model: own\n    prompt: hi\n"
                "  - id: b\n    workflow: uses.poml\n",
                PC_D_UNKNOWN_MODEL);
}
END_TEST

START_TEST(test_sub_workflow_cycle)
{
    put("back.poml", "steps:\n  - id: b\n    workflow: w.poml\n");
    expect_diag("steps:\n  - id: a\n    workflow: back.poml\n",
                PC_D_SUB_WORKFLOW);
    ck_assert_uint_eq(count_diag(PC_D_SUB_WORKFLOW), 1);
}
END_TEST

START_TEST(test_conflicting_kind)
{
    expect_diag("steps:\n  - id: a\n    run: x\n    tool: read_file\n",
                PC_D_CONFLICTING_KIND);
}
END_TEST

START_TEST(test_duplicate_id)
{
    expect_diag("steps:\n  - id: a\n    run: x\n  - id: a\n    run: y\n",
                PC_D_DUPLICATE_ID);
}
END_TEST

START_TEST(test_reader_checks)
{
    expect_diag("steps:\n  - id: a\n    rnu: x\n", PC_D_UNKNOWN_KEY);
    ck_assert_uint_eq(count_diag(PC_D_UNKNOWN_KEY), 1);
    expect_diag("steps:\n  - id: b\n    run: x\n    cache: often\n",
                PC_D_WRONG_TYPE);
    expect_diag("steps:\n  - id: c\n    type: shell\n", PC_D_MISSING_FIELD);
    expect_diag("steps:\n  - id: d\n    run: x\n    on_failure: maybe\n",
                PC_D_BAD_VALUE);
    expect_diag("steps:\n  - id: e\n    run: x\n    condition: \"a ==\"\n",
                PC_D_EXPR);
}
END_TEST

START_TEST(test_warnings)
{
    expect_diag("parameters:\n  p: {default: 1}\n"
                "steps:\n  - id: a\n    run: x\n",
                PC_D_UNUSED_PARAM);
    expect_diag("steps:\n  - id: b\n    run: x\n    condition: \"true\"\n",
                PC_D_CONSTANT_CONDITION);
    expect_diag("sla: {max_duration: 1m}\n"
                "steps:\n  - id: c\n    run: x\n    timeout: 2m\n",
                PC_D_SLA);
    expect_diag("steps:\n  - id: d\n", PC_D_EMPTY_STEP);
    expect_diag("steps:\n  - id: e\n    tool: no_such_tool\n",
                PC_D_UNKNOWN_TOOL);
    expect_diag("aggregation:\n  merge: {logic: text}\n"
                "steps:\n  - id: f\n    run: x\n",
                PC_D_CUSTOM_LOGIC);
    expect_diag("policy: {allowed_commands: [make]}\n"
                "steps:\n  - id: g\n    run: rm -rf /\n",
                PC_D_POLICY);
    /* warnings do not fail the compilation */
    ck_assert_uint_eq(count_errors(), 0);
}
END_TEST

START_TEST(test_off_by_default)
{
    static const char text[] = "parameters:\n  p: {default: 1}\n"
                               "steps:\n  - id: a\n    run: \"x ${p}\"\n"
                               "  - id: b\n    run: \"x ${steps.a.stdout}\"\n"
                               "  - name: c\n    run: x\n";
    compile_ok(text);
    ck_assert_uint_eq(count_diag(PC_D_BARE_REFERENCE), 0);
    ck_assert_uint_eq(count_diag(PC_D_IMPLICIT_DEP), 0);
    ck_assert_uint_eq(count_diag(PC_D_MISSING_ID), 0);
    pc_ctx_free(&ctx);
    pc_ctx_init(&ctx);
    pc_catalog_init(&cat, stdlib_dir);
    const char *err;
    ck_assert_int_eq(pc_diag_option(&ctx, "bare-reference", &err), 0);
    ck_assert_int_eq(pc_diag_option(&ctx, "implicit-dependency", &err), 0);
    ck_assert_int_eq(pc_diag_option(&ctx, "missing-id", &err), 0);
    compile_ok(text);
    ck_assert_uint_eq(count_diag(PC_D_BARE_REFERENCE), 1);
    ck_assert_uint_eq(count_diag(PC_D_IMPLICIT_DEP), 1);
    ck_assert_uint_eq(count_diag(PC_D_MISSING_ID), 1);
    ck_assert_int_lt(pc_diag_option(&ctx, "no-cycle", &err), 0);
}
END_TEST

START_TEST(test_all_errors_reported)
{
    compile("steps:\n"
            "  - id: a\n    run: \"${params.x}\"\n"
            "  - id: b\n    model: nope-model\n    prompt: x\n"
            "  - id: c\n    run: x\n    depends_on: [zz]\n"
            "  - id: a\n    run: y\n");
    ck_assert_uint_eq(count_diag(PC_D_UNDEFINED_PARAM), 1);
    ck_assert_uint_eq(count_diag(PC_D_UNKNOWN_MODEL), 1);
    ck_assert_uint_eq(count_diag(PC_D_UNDEFINED_STEP), 1);
    ck_assert_uint_eq(count_diag(PC_D_DUPLICATE_ID), 1);
    ck_assert_uint_eq(ctx.nerrors, 4);
}
END_TEST

START_TEST(test_flow_condition_reported_once)
{
    compile("/flow:\n  conditions:\n"
            "    - if: \"params.nope > 1\"\n"
            "      then: [{command: /task, params: a}]\n"
            "      else: [{command: /task, params: b}]\n");
    ck_assert_uint_eq(count_diag(PC_D_UNDEFINED_PARAM), 1);
}
END_TEST

static Suite *sema_suite(void)
{
    Suite *s = suite_create("sema");
    TCase *t = tcase_create("ir");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_step_kinds);
    tcase_add_test(t, test_workflow_models_agents);
    tcase_add_test(t, test_deps_explicit_after_implied);
    tcase_add_test(t, test_topo_reverse_source_order);
    tcase_add_test(t, test_stages_widest);
    tcase_add_test(t, test_critical_path);
    tcase_add_test(t, test_phase_gates);
    tcase_add_test(t, test_arrow_chain);
    tcase_add_test(t, test_arrow_pipeline);
    tcase_add_test(t, test_arrow_flow);
    tcase_add_test(t, test_arrow_swarm);
    tcase_add_test(t, test_yaml_chain);
    tcase_add_test(t, test_yaml_swarm_and_pipeline);
    tcase_add_test(t, test_yaml_flow);
    tcase_add_test(t, test_params);
    tcase_add_test(t, test_durations_retry);
    tcase_add_test(t, test_for_each_literal_list);
    tcase_add_test(t, test_for_each_param);
    tcase_add_test(t, test_workflow_sections);
    suite_add_tcase(s, t);

    t = tcase_create("checks");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_undefined_step);
    tcase_add_test(t, test_undefined_step_ref);
    tcase_add_test(t, test_undefined_param);
    tcase_add_test(t, test_undefined_output);
    tcase_add_test(t, test_undefined_variable);
    tcase_add_test(t, test_cycle);
    tcase_add_test(t, test_cycle_self);
    tcase_add_test(t, test_step_order);
    tcase_add_test(t, test_enum_default);
    tcase_add_test(t, test_param_type);
    tcase_add_test(t, test_for_each_type);
    tcase_add_test(t, test_unknown_strategy);
    tcase_add_test(t, test_unknown_model);
    tcase_add_test(t, test_unknown_capability);
    tcase_add_test(t, test_unknown_agent);
    tcase_add_test(t, test_unknown_phase);
    tcase_add_test(t, test_arrow_syntax);
    tcase_add_test(t, test_arrow_unknown_step);
    tcase_add_test(t, test_import);
    tcase_add_test(t, test_sub_workflows);
    tcase_add_test(t, test_sub_workflow_cycle);
    tcase_add_test(t, test_conflicting_kind);
    tcase_add_test(t, test_duplicate_id);
    tcase_add_test(t, test_reader_checks);
    tcase_add_test(t, test_warnings);
    tcase_add_test(t, test_off_by_default);
    tcase_add_test(t, test_all_errors_reported);
    tcase_add_test(t, test_flow_condition_reported_once);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(sema_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
