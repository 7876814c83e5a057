/* check_plan.c -- unit tests of the plan loader
 *
 * Builds small plans with the writer, loads them and reads every view;
 * then one corruption per check, each with its own message, in a plain
 * plan and in one embedding the plans of two sub-workflows; then every
 * byte of both flipped, zeroed and cut, with and without the checksums
 * recomputed, and the saved fuzzer findings in tests/plan.
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytecode.h"
#include "plan.h"
#include "prompt.h"

/* ---- building a plan ---- */

struct built {
    uint8_t *data;
    size_t size;
    uint32_t s_name, s_x; /* string references the tests reuse */
    uint32_t s_nul;       /* "a\0b", in plans with sub-plans */
};

/* A plan to embed, and its name. */
struct sub {
    const char *name;
    const struct built *plan;
};

#define STR(b, s) pr_pb_str(b, s, strlen(s))

/* The condition of step 1: params.name == "x" && <the outputs of step 0>. */
static size_t std_cond(uint8_t *c, uint32_t s_name, uint32_t s_x)
{
    size_t n = 0;
    c[n++] = PR_OP_ROOT;
    c[n++] = PR_ROOT_PARAMS;
    c[n++] = PR_OP_MEMBER;
    pr_put_u32(c + n, s_name);
    n += 4;
    c[n++] = PR_OP_STR;
    pr_put_u32(c + n, s_x);
    n += 4;
    c[n++] = PR_OP_EQ;
    c[n++] = PR_OP_AND;
    pr_put_u32(c + n, 24);
    n += 4;
    c[n++] = PR_OP_STEP;
    pr_put_u32(c + n, 0);
    n += 4;
    c[n++] = PR_OP_BOOL;
    c[n++] = PR_OP_END;
    return n;
}

/* The template of prompt "p.md", "Hi {{name}}{{> 1}}", and of its
 * partial "_x.md", "!": see template.h.  PROMPT_PARTIAL_AT is the offset
 * of the partial instruction's template number. */
static const uint8_t prompt_code[] = {
    0x01, 3, 0, 0, 0, 'H', 'i', ' ',                /* text "Hi " */
    0x02, 0, 0, 0, 1, 4,   0,   'n', 'a', 'm', 'e', /* var name */
    0x04, 1, 0, 0, 0, 0,   0,   0,   0,   0,   0,   /* partial 1 */
};
static const uint8_t partial_code[] = {0x01, 1, 0, 0, 0, '!'};
#define PROMPT_PARTIAL_AT 20

/* Three steps (1 after 0, 2 after 0 and order-only after 1), a parameter,
 * a model, a phase, a tool, an aggregate, an alert, an interpolation with
 * an expression part, a map template value, and prompt "p.md" of step 2
 * with its partial.  COND, when given, is the
 * code of step 1's condition (else std_cond).  With NSUBS plans to embed,
 * step 0 is a workflow step naming the first. */
static void build_with(struct built *out, const uint8_t *cond, size_t ncond,
                       const struct sub *subs, size_t nsubs)
{
    struct pr_plan_builder *b = pr_pb_new();
    ck_assert_ptr_nonnull(b);
    uint32_t s_wf = STR(b, "wf"), s_name = STR(b, "name");
    uint32_t s_x = STR(b, "x"), s_hello = STR(b, "hello ");
    uint32_t s_k = STR(b, "k"), s_gpt = STR(b, "gpt");
    out->s_name = s_name;
    out->s_x = s_x;

    uint8_t code[64];
    if (!cond) {
        ncond = std_cond(code, s_name, s_x);
        cond = code;
    }
    uint32_t c_cond = pr_pb_code(b, cond, ncond);
    uint8_t expr[] = {PR_OP_ROOT, PR_ROOT_PARAMS, PR_OP_MEMBER, 0, 0, 0,
                      0,          PR_OP_END};
    pr_put_u32(expr + 3, s_name);
    uint32_t c_expr = pr_pb_code(b, expr, sizeof expr);
    uint8_t gate[] = {PR_OP_TRUE, PR_OP_END};
    uint32_t c_gate = pr_pb_code(b, gate, sizeof gate);

    uint32_t tools[] = {s_gpt};
    uint32_t l_tools = pr_pb_list(b, tools, 1);
    uint32_t dep1[] = {0}, dep2[] = {0, 1 | PR_EDGE_AFTER};
    uint32_t l_dep1 = pr_pb_list(b, dep1, 1), l_dep2 = pr_pb_list(b, dep2, 2);
    uint32_t dt0[] = {1, 2}, dt1[] = {2 | PR_EDGE_AFTER};
    uint32_t l_dt0 = pr_pb_list(b, dt0, 2), l_dt1 = pr_pb_list(b, dt1, 1);
    uint32_t models[] = {0};
    uint32_t l_models = pr_pb_list(b, models, 1);
    uint32_t keys[] = {s_k};
    uint32_t l_keys = pr_pb_list(b, keys, 1);

    uint8_t *r = pr_pb_record(b, PR_SEC_WORKFLOW, PR_WORKFLOW_SIZE, NULL);
    pr_put_u32(r + 0, s_wf);
    pr_put_u32(r + 16, 3);
    pr_put_f64(r + 32, 12.5);
    pr_put_f64(r + 56, 2.0);
    pr_put_u64(r + 64, 1000);
    r[92] = PR_WF_CONTINUE;
    pr_put_f64(r + PR_WORKFLOW_OFF_breaker_reset, 60);
    pr_put_u32(r + PR_WORKFLOW_OFF_breaker_threshold, 5);
    pr_put_u32(r + 96, l_tools);
    pr_put_u32(r + 100, 1);

    r = pr_pb_record(b, PR_SEC_PARAMS, PR_PARAM_SIZE, NULL);
    pr_put_u32(r, s_name);
    pr_put_u32(r + 8, PR_PLAN_NONE);
    pr_put_u32(r + 12, STR(b, "[\"x\",\"y\"]"));
    r = pr_pb_at(b, PR_SEC_PARAMS, PR_PARAM_SIZE, 0);
    r[16] = PR_T_STRING;
    r[17] = PR_PF_REQUIRED;

    /* parts and interps: "hello ${params.name}" */
    r = pr_pb_record(b, PR_SEC_PARTS, PR_PART_SIZE, NULL);
    pr_put_u32(r + 4, s_hello);
    r = pr_pb_record(b, PR_SEC_PARTS, PR_PART_SIZE, NULL);
    r[0] = 1;
    pr_put_u32(r + 8, c_expr);
    pr_put_u32(r + 12, sizeof expr);
    r = pr_pb_record(b, PR_SEC_INTERPS, PR_INTERP_SIZE, NULL);
    pr_put_u32(r + 4, 2);
    r = pr_pb_record(b, PR_SEC_INTERPS, PR_INTERP_SIZE, NULL);
    pr_put_u32(r, 1);
    pr_put_u32(r + 4, 1);
    r[8] = 1;

    /* template values: {k: "${params.name}"} */
    r = pr_pb_record(b, PR_SEC_TVALS, PR_TVAL_SIZE, NULL);
    r[0] = PR_TV_MAP;
    pr_put_u32(r + 20, 1);
    pr_put_u32(r + 24, 1);
    pr_put_u32(r + 28, l_keys);
    r = pr_pb_record(b, PR_SEC_TVALS, PR_TVAL_SIZE, NULL);
    r[0] = PR_TV_STR;
    pr_put_u32(r + 16, 1);

    const char *ids[] = {"a", "b", "c"};
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t s_id = STR(b, ids[i]);
        r = pr_pb_record(b, PR_SEC_STEPS, PR_STEP_SIZE, NULL);
        pr_put_u32(r, s_id);
        r[12] = i == 2            ? PR_STEP_LLM
                : i == 0 && nsubs ? PR_STEP_WORKFLOW
                                  : PR_STEP_SHELL;
        r[13] = PR_SF_CACHE;
        r[14] = PR_BACKOFF_FIXED;
        pr_put_u32(r + 16, i);
        pr_put_u32(r + 24, 3);
        pr_put_f64(r + 40, 30.0);
        pr_put_f64(r + 48, 0.5);
        pr_put_f64(r + 64, 0.7);
        pr_put_u32(r + 104, i == 1 ? l_dep1 : i == 2 ? l_dep2 : 0);
        pr_put_u32(r + 108, i);
        pr_put_u32(r + 112, i == 0 ? l_dt0 : i == 1 ? l_dt1 : 0);
        pr_put_u32(r + 116, i == 0 ? 2 : i == 1 ? 1 : 0);
        if (i == 1) {
            pr_put_u32(r + 120, c_cond);
            pr_put_u32(r + 124, (uint32_t)ncond);
        }
        pr_put_u32(r + 136, i == 2 ? PR_PLAN_NONE : 0);
        pr_put_u32(r + 140, i == 2 ? 0 : PR_PLAN_NONE);
        pr_put_u32(r + 144, PR_PLAN_NONE);
        pr_put_u32(r + 148, i == 2 ? STR(b, "p.md") : PR_PLAN_NONE);
        pr_put_u32(r + 152, i == 2 ? 0 : PR_PLAN_NONE);
        pr_put_u32(r + 156, PR_PLAN_NONE);
        if (i == 2) {
            pr_put_u32(r + 160, l_models);
            pr_put_u32(r + 164, 1);
        }
        for (int o = 176; o <= 188; o += 4)
            pr_put_u32(r + o, PR_PLAN_NONE);
        pr_put_u32(r + 208,
                   i == 0 && nsubs ? STR(b, subs[0].name) : PR_PLAN_NONE);
        pr_put_u32(r + 212, i == 2 ? 0 : PR_PLAN_NONE);
        pr_put_u32(r + 216, PR_PLAN_NONE);
        pr_put_u32(r + 220, PR_PLAN_NONE);
        pr_put_u32(r + 224, PR_PLAN_NONE);
        pr_put_u32(r + 228, PR_PLAN_NONE);
        pr_put_u32(r + 232, 0);
        pr_put_u32(r + 236, i == 2 ? 0 : PR_PLAN_NONE);
        pr_put_u32(r + 248, 10 + i);
    }

    uint32_t s_m = STR(b, "openai");
    r = pr_pb_record(b, PR_SEC_MODELS, PR_MODEL_SIZE, NULL);
    pr_put_u32(r, s_gpt);
    pr_put_u32(r + 4, s_m);
    pr_put_u32(r + 28, 4096); /* reply_tokens */
    pr_put_f64(r + 32, 2.5);
    pr_put_f64(r + 40, 10.0);
    pr_put_u64(r + 48, 128000);
    pr_put_u32(r + 64, l_tools);
    pr_put_u32(r + 68, 1);

    uint32_t s_build = STR(b, "build");
    r = pr_pb_record(b, PR_SEC_PHASES, PR_PHASE_SIZE, NULL);
    pr_put_u32(r, s_build);
    pr_put_u32(r + 8, 2);
    pr_put_u32(r + 12, PR_PLAN_NONE);
    pr_put_f64(r + 16, 0.9);
    pr_put_u32(r + 24, c_gate);
    pr_put_u32(r + 28, sizeof gate);
    pr_put_u32(r + 40, 2);

    uint32_t s_srv = STR(b, "srv");
    r = pr_pb_record(b, PR_SEC_TOOLS, PR_TOOL_SIZE, NULL);
    pr_put_u32(r, s_srv);
    pr_put_u32(r + 16, l_tools);
    pr_put_u32(r + 20, 1);

    uint32_t s_concat = STR(b, "concat");
    r = pr_pb_record(b, PR_SEC_AGGS, PR_AGG_SIZE, NULL);
    pr_put_u32(r, s_k);
    pr_put_u32(r + 4, s_concat);
    pr_put_u32(r + 8, PR_PLAN_NONE);

    uint32_t s_gt = STR(b, ">");
    r = pr_pb_record(b, PR_SEC_ALERTS, PR_ALERT_SIZE, NULL);
    pr_put_u32(r + 8, s_gt);
    pr_put_f64(r + 24, -1.5);

    uint32_t c_prompt = pr_pb_code(b, prompt_code, sizeof prompt_code);
    uint32_t c_partial = pr_pb_code(b, partial_code, sizeof partial_code);
    for (int k = 0; k < 2; k++) {
        r = pr_pb_record(b, PR_SEC_PROMPTS, PR_PROMPT_SIZE, NULL);
        pr_put_u32(r, STR(b, k ? "_x.md" : "p.md"));
        pr_put_u32(r + 8, k ? c_partial : c_prompt);
        pr_put_u32(r + 12, k ? sizeof partial_code : sizeof prompt_code);
        r[16] = k ? PR_PROMPT_PARTIAL : PR_PROMPT_FILE;
        pr_put_u32(r + 24, k ? PR_PLAN_NONE : 0);
        pr_put_u32(r + 28, k ? PR_PLAN_NONE : STR(b, "{}"));
        pr_put_u32(r + 32, PR_PLAN_NONE);
        pr_put_u32(r + 36, k ? PR_PLAN_NONE : STR(b, "{\"name\":\"x\"}"));
        pr_put_u32(r + 40, k ? PR_PLAN_NONE : STR(b, "text"));
        pr_put_u32(r + 44, PR_PLAN_NONE);
    }

    for (int k = 0; k < 3; k++) {
        r = pr_pb_record(b, PR_SEC_OTYPES, PR_OTYPE_SIZE, NULL);
        pr_put_u32(r, k ? PR_PLAN_NONE : STR(b, "{\"stdout\":\"string\"}"));
    }

    out->s_nul = nsubs ? pr_pb_str(b, "a\0b", 3) : 0;
    for (size_t i = 0; i < nsubs; i++)
        ck_assert_int_eq(pr_pb_subplan(b, subs[i].name, subs[i].plan->data,
                                       subs[i].plan->size),
                         0);
    ck_assert(!pr_pb_failed(b));
    ck_assert_int_eq(pr_pb_finish(b, &out->data, &out->size), 0);
    pr_pb_free(b);
}

static void build(struct built *out, const uint8_t *cond, size_t ncond)
{
    build_with(out, cond, ncond, NULL, 0);
}

/* A plan embedding two plain ones: "b.poml", which step 0 names, given
 * first, then "a.poml"; the writer sorts them.  The last one built is in
 * NESTED, for the corruptions to find its strings. */
static struct built nested;

static void build_nested(struct built *out)
{
    struct built a, b;
    build(&a, NULL, 0);
    build(&b, NULL, 0);
    struct sub subs[] = {{"b.poml", &b}, {"a.poml", &a}};
    build_with(out, NULL, 0, subs, 2);
    nested = *out;
    free(a.data);
    free(b.data);
}

static void fix_crc(uint8_t *d, size_t size)
{
    if (size < PR_PLAN_HEADER_SIZE)
        return;
    pr_put_u32(d + 44, pr_crc32c(0, d + PR_PLAN_HEADER_SIZE,
                                 size - PR_PLAN_HEADER_SIZE));
    pr_put_u32(d + 40, 0);
    uint8_t h[PR_PLAN_HEADER_SIZE];
    memcpy(h, d, sizeof h);
    memset(h + 40, 0, 8);
    pr_put_u32(d + 40, pr_crc32c(0, h, sizeof h));
}

/* Offset of section ID's entry in the table, and of the section. */
static uint8_t *entry(uint8_t *d, uint32_t id)
{
    uint32_t n = pr_rd_u32(d + 28);
    uint64_t t = pr_rd_u64(d + 32);
    for (uint32_t i = 0; i < n; i++)
        if (pr_rd_u32(d + t + (size_t)i * 16) == id)
            return d + t + (size_t)i * 16;
    ck_abort_msg("no section %u", id);
    return NULL;
}

static uint8_t *sec(uint8_t *d, uint32_t id)
{
    return d + pr_rd_u32(entry(d, id) + 8);
}

/* Field F of record I of kind R in the plan at d. */
#define AT(R, i, f) (rec(d, PR_##R##_SEC, PR_##R##_SIZE, i) + PR_##R##_OFF_##f)

static uint8_t *rec(uint8_t *d, uint32_t id, size_t size, uint32_t i)
{
    return sec(d, id) + (size_t)i * size;
}

/* ---- reading everything ---- */

#include "walk.h"

/* ---- loading valid plans ---- */

/* A parameter record with every field written, of type TYPE. */
static void param_rec(struct pr_rec *w, unsigned type)
{
    PR_REC_INIT(w, PARAM);
    PR_PUT(w, PARAM, name, 0);
    PR_PUT(w, PARAM, description, 0);
    PR_PUT(w, PARAM, default_json, PR_PLAN_NONE);
    PR_PUT(w, PARAM, enum_json, 7);
    PR_PUT(w, PARAM, type, type);
    PR_PUT(w, PARAM, flags, PR_PF_REQUIRED);
}

/* The writer names fields through the lists: a record missing a field
 * that is not padding, or with a value too wide for its field, is refused
 * and pr_pb_why names the field; a complete one is written as put. */
START_TEST(test_write_by_name)
{
    struct pr_plan_builder *b = pr_pb_new();
    struct pr_rec w;
    PR_REC_INIT(&w, ALERT);
    PR_PUT(&w, ALERT, group, 0);
    PR_PUT(&w, ALERT, metric, 0);
    PR_PUT(&w, ALERT, op, 0);
    PR_PUT(&w, ALERT, severity, 0);
    PR_PUT(&w, ALERT, action, 0);
    PR_PUT_F64(&w, ALERT, threshold, 2.5);
    ck_assert(!pr_pb_failed(b));
    pr_pb_add(b, &w);
    ck_assert(pr_pb_failed(b));
    ck_assert_str_eq(pr_pb_why(b),
                     "internal error: alert field 'unit' not written");
    pr_pb_free(b);

    b = pr_pb_new();
    param_rec(&w, 256);
    pr_pb_add(b, &w);
    ck_assert_str_eq(pr_pb_why(b), "internal error: parameter field 'type': "
                                   "value does not fit");
    pr_pb_free(b);

    b = pr_pb_new();
    param_rec(&w, PR_T_STRING);
    ck_assert_uint_eq(pr_pb_add(b, &w), 0);
    ck_assert(!pr_pb_failed(b));
    ck_assert_uint_eq(pr_rd_u32(w.b + PR_PARAM_OFF_enum_json), 7);
    ck_assert_uint_eq(w.b[PR_PARAM_OFF_type], PR_T_STRING);
    ck_assert_uint_eq(w.b[PR_PARAM_OFF_flags], PR_PF_REQUIRED);
    pr_pb_free(b);
}
END_TEST

START_TEST(test_load_views)
{
    struct built b;
    build(&b, NULL, 0);
    struct pr_plan p;
    char err[256];
    int rc = pr_plan_load_mem(&p, b.data, b.size, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(p.major, PR_PLAN_MAJOR);
    ck_assert_uint_eq(p.nsteps, 3);
    ck_assert_uint_eq(p.nparams, 1);
    ck_assert_uint_eq(p.ninterps, 2);
    ck_assert_uint_eq(p.nparts, 2);
    ck_assert_uint_eq(p.ntvals, 2);

    struct pr_workflow w;
    pr_plan_workflow(&p, &w);
    ck_assert_str_eq(w.id, "wf");
    ck_assert_str_eq(w.version, "");
    ck_assert_uint_eq(w.nstages, 3);
    ck_assert(w.cp_seconds == 12.5);
    ck_assert_uint_eq(w.budget_tokens, 1000);
    ck_assert_uint_eq(w.flags, PR_WF_CONTINUE);
    ck_assert_uint_eq(w.allowed_tools.n, 1);
    ck_assert_str_eq(
        pr_plan_str(&p, pr_plan_list_at(&p, w.allowed_tools, 0), NULL), "gpt");

    struct pr_param pa;
    pr_plan_param(&p, 0, &pa);
    ck_assert_str_eq(pa.name, "name");
    ck_assert_ptr_null(pa.default_json);
    ck_assert_str_eq(pa.enum_json, "[\"x\",\"y\"]");
    ck_assert_uint_eq(pa.type, PR_T_STRING);

    struct pr_step s;
    pr_plan_step(&p, 1, &s);
    ck_assert_str_eq(s.id, "b");
    ck_assert_uint_eq(s.kind, PR_STEP_SHELL);
    ck_assert_uint_eq(s.backoff, PR_BACKOFF_FIXED);
    ck_assert(s.timeout == 30.0);
    ck_assert_uint_eq(s.deps.n, 1);
    ck_assert_uint_eq(pr_plan_list_at(&p, s.deps, 0), 0);
    ck_assert_uint_eq(s.dependents.n, 1);
    ck_assert_uint_eq(pr_plan_list_at(&p, s.dependents, 0), 2 | PR_EDGE_AFTER);
    ck_assert_ptr_nonnull(s.condition.p);
    ck_assert_uint_eq(s.condition.len, 25);
    ck_assert_uint_eq(s.condition.p[24], PR_OP_END);
    ck_assert_ptr_null(s.for_each.p);
    ck_assert_uint_eq(s.for_each.len, 0);
    ck_assert_uint_eq(s.run, 0);
    ck_assert_uint_eq(s.model, PR_PLAN_NONE);
    ck_assert_ptr_null(s.agent);
    ck_assert_uint_eq(s.src_line, 11);
    ck_assert_uint_eq(pr_plan_list_at(&p, s.deps, 1), PR_PLAN_NONE);

    pr_plan_step(&p, 2, &s);
    ck_assert_str_eq(s.id, "c");
    ck_assert_uint_eq(s.model, 0);
    ck_assert_uint_eq(s.deps.n, 2);
    ck_assert_uint_eq(pr_plan_list_at(&p, s.deps, 1), 1 | PR_EDGE_AFTER);
    ck_assert_uint_eq(s.with, 0);
    ck_assert_uint_eq(s.gate_of_phase, 0);

    pr_plan_step(&p, 3, &s); /* out of range: zeroed */
    ck_assert_ptr_null(s.id);
    ck_assert_uint_eq(s.deps.n, 0);

    /* the prompt of step 2, its partial, and the prompt rendered */
    pr_plan_step(&p, 2, &s);
    ck_assert_str_eq(s.prompt_file, "p.md");
    ck_assert_uint_eq(p.nprompts, 2);
    uint32_t k = pr_plan_prompt_find(&p, s.prompt_file);
    ck_assert_uint_eq(k, 0);
    ck_assert_uint_eq(pr_plan_prompt_find(&p, "_x.md"), PR_PLAN_NONE);
    ck_assert_uint_eq(pr_plan_prompt_find(&p, "q.md"), PR_PLAN_NONE);
    ck_assert_uint_eq(pr_plan_prompt_find(&p, NULL), PR_PLAN_NONE);
    struct pr_prompt pr;
    pr_plan_prompt(&p, 0, &pr);
    ck_assert_str_eq(pr.name, "p.md");
    ck_assert_uint_eq(pr.kind, PR_PROMPT_FILE);
    ck_assert_uint_eq(pr.code.len, sizeof prompt_code);
    ck_assert_uint_eq(pr.model, 0);
    ck_assert_str_eq(pr.output_format, "text");
    ck_assert_ptr_null(pr.input_schema);
    pr_plan_prompt(&p, 1, &pr);
    ck_assert_str_eq(pr.name, "_x.md");
    ck_assert_uint_eq(pr.kind, PR_PROMPT_PARTIAL);
    ck_assert_ptr_null(pr.config);
    pr_plan_prompt(&p, 2, &pr); /* out of range: zeroed */
    ck_assert_ptr_null(pr.name);
    cJSON *msgs, *in = cJSON_Parse("{\"other\":1}");
    ck_assert_int_eq(
        pr_prompt_render(&p, 0, in, NULL, NULL, &msgs, err, sizeof err), 0);
    char *txt = cJSON_PrintUnformatted(msgs);
    ck_assert_str_eq(txt, "[{\"role\":\"user\",\"content\":"
                          "[{\"text\":\"Hi x!\"}]}]");
    free(txt);
    cJSON_Delete(msgs);
    cJSON_AddStringToObject(in, "name", "y");
    ck_assert_int_eq(
        pr_prompt_render(&p, 0, in, NULL, NULL, &msgs, err, sizeof err), 0);
    txt = cJSON_PrintUnformatted(msgs);
    ck_assert_ptr_nonnull(strstr(txt, "Hi y!"));
    free(txt);
    cJSON_Delete(msgs);
    cJSON_Delete(in);
    ck_assert_int_eq(
        pr_prompt_render(&p, 2, NULL, NULL, NULL, &msgs, err, sizeof err), -1);
    ck_assert_str_eq(err, "no prompt 2 in the plan");

    struct pr_model m;
    pr_plan_model(&p, 0, &m);
    ck_assert_str_eq(m.name, "gpt");
    ck_assert_str_eq(m.provider, "openai");
    ck_assert_uint_eq(m.context_window, 128000);
    struct pr_phase ph;
    pr_plan_phase(&p, 0, &ph);
    ck_assert_str_eq(ph.name, "build");
    ck_assert_uint_eq(ph.gate_step, 2);
    ck_assert_uint_eq(ph.feedback_to, PR_PLAN_NONE);
    ck_assert_uint_eq(ph.gate.len, 2);
    struct pr_tool t;
    pr_plan_tool(&p, 0, &t);
    ck_assert_str_eq(t.name, "srv");
    struct pr_agg ag;
    pr_plan_agg(&p, 0, &ag);
    ck_assert_str_eq(ag.builtin, "concat");
    struct pr_alert al;
    pr_plan_alert(&p, 0, &al);
    ck_assert_str_eq(al.op, ">");
    ck_assert(al.threshold == -1.5);

    struct pr_interp_view iv;
    pr_plan_interp(&p, 0, &iv);
    ck_assert_uint_eq(iv.n, 2);
    ck_assert(!iv.pure);
    struct pr_part_view pv;
    pr_plan_part(&p, 0, &pv);
    ck_assert_uint_eq(pv.kind, 0);
    ck_assert_str_eq(pv.text, "hello ");
    ck_assert_uint_eq(pv.text_len, 6);
    ck_assert_ptr_null(pv.code.p);
    pr_plan_part(&p, 1, &pv);
    ck_assert_uint_eq(pv.kind, 1);
    ck_assert_uint_eq(pv.code.len, 8);
    struct pr_tval_view tv;
    pr_plan_tval(&p, 0, &tv);
    ck_assert_uint_eq(tv.kind, PR_TV_MAP);
    ck_assert_uint_eq(tv.first, 1);
    struct pr_list kl = {tv.keys, tv.n};
    size_t n;
    ck_assert_str_eq(pr_plan_str(&p, pr_plan_list_at(&p, kl, 0), &n), "k");
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(pr_plan_str(&p, 0x7fffffff, &n), "");
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_gt(walk(&p), 0);
    pr_plan_close(&p);
    free(b.data);
}
END_TEST

START_TEST(test_open_file)
{
    struct built b;
    build(&b, NULL, 0);
    char path[] = "/tmp/check_plan_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b.data, b.size), (ssize_t)b.size);
    close(fd);
    struct pr_plan p;
    char err[256];
    int rc = pr_plan_open(&p, path, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert(p.mapped);
    ck_assert_uint_eq(p.nsteps, 3);
    ck_assert_uint_gt(walk(&p), 0);
    pr_plan_close(&p);

    /* empty, directory, missing */
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(pr_plan_open(&p, path, err, sizeof err), -1);
    ck_assert_str_eq(err, "empty file");
    unlink(path);
    ck_assert_int_eq(pr_plan_open(&p, path, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
    ck_assert_int_eq(pr_plan_open(&p, "/tmp", err, sizeof err), -1);
    ck_assert_str_eq(err, "not a regular file");
    free(b.data);
}
END_TEST

/* ---- embedded plans ---- */

START_TEST(test_load_subplans)
{
    struct built b, plain;
    build_nested(&b);
    build(&plain, NULL, 0);
    struct pr_plan p, sub;
    char err[256];
    int rc = pr_plan_load_mem(&p, b.data, b.size, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(p.minor, PR_PLAN_MINOR);
    ck_assert_uint_eq(p.nsubplans, 2);
    struct pr_subplan v;
    pr_plan_subplan_at(&p, 0, &v);
    ck_assert_str_eq(v.name, "a.poml");
    ck_assert_uint_eq(v.offset, 2 * PR_SUBPLAN_SIZE);
    ck_assert_uint_eq(v.size, plain.size);
    pr_plan_subplan_at(&p, 1, &v);
    ck_assert_str_eq(v.name, "b.poml");
    ck_assert_uint_eq(v.offset, (2 * PR_SUBPLAN_SIZE + plain.size + 7) & ~7u);
    pr_plan_subplan_at(&p, 2, &v); /* out of range: zeroed */
    ck_assert_ptr_null(v.name);
    ck_assert_uint_eq(v.size, 0);

    struct pr_step s;
    pr_plan_step(&p, 0, &s);
    ck_assert_uint_eq(s.kind, PR_STEP_WORKFLOW);
    ck_assert_str_eq(s.workflow, "b.poml");
    const uint8_t *d;
    size_t n;
    ck_assert_int_eq(pr_plan_subplan(&p, s.workflow, &d, &n), 0);
    ck_assert_uint_eq(n, plain.size); /* the very bytes given */
    ck_assert_int_eq(memcmp(d, plain.data, n), 0);
    rc = pr_plan_load_mem(&sub, d, n, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(sub.nsteps, 3);
    ck_assert_uint_eq(sub.nsubplans, 0);
    pr_plan_close(&sub);
    ck_assert_int_eq(pr_plan_subplan(&p, "a.poml", &d, &n), 0);
    ck_assert_int_eq(memcmp(d, plain.data, n), 0);
    const char *absent[] = {"c.poml", "a.pom", "a.poml2", "", "B.poml"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        ck_assert_int_eq(pr_plan_subplan(&p, absent[i], &d, &n), -1);
        ck_assert_ptr_null(d);
        ck_assert_uint_eq(n, 0);
    }
    ck_assert_int_eq(pr_plan_subplan(&p, NULL, &d, &n), -1);
    ck_assert_uint_gt(walk(&p), 0);
    pr_plan_close(&p);
    ck_assert_int_eq(pr_plan_subplan(&p, "a.poml", &d, &n), -1);
    free(plain.data);
    free(b.data);
}
END_TEST

/* Plans embedded PR_PLAN_MAX_DEPTH levels deep load; one more is
 * refused, the message naming each level. */
START_TEST(test_subplan_depth)
{
    enum { N = PR_PLAN_MAX_DEPTH + 1 };
    struct built level[N + 1];
    build(&level[0], NULL, 0);
    for (int k = 1; k <= N; k++) {
        struct sub s = {"a.poml", &level[k - 1]};
        build_with(&level[k], NULL, 0, &s, 1);
    }
    struct pr_plan p;
    char err[2048], want[2048] = "";
    int rc = pr_plan_load_mem(&p, level[N - 1].data, level[N - 1].size, err,
                              sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_gt(walk(&p), 0);
    pr_plan_close(&p);
    rc = pr_plan_load_mem(&p, level[N].data, level[N].size, err, sizeof err);
    ck_assert_int_eq(rc, -1);
    for (int k = 0; k < PR_PLAN_MAX_DEPTH; k++)
        strcat(want, "subplan 0 (a.poml): ");
    strcat(want, "section 16 (subplans): plans nested deeper than 16 "
                 "levels");
    ck_assert_str_eq(err, want);
    for (int k = 0; k <= N; k++)
        free(level[k].data);
}
END_TEST

/* ---- one corruption per check ---- */

enum { RAW, FIX };

/* Applies a corruption to a fresh valid plan and expects MSG. */
typedef void (*corrupt_fn)(uint8_t *d, size_t *size);

/* Whether MSG occurs in ERR, each '#' of MSG standing for a number. */
static bool has_msg(const char *err, const char *msg)
{
    for (const char *at = err;; at++) {
        const char *e = at, *m = msg;
        while (*m && (*m == '#' ? isdigit((unsigned char)*e) : *e == *m)) {
            if (*m++ != '#')
                e++;
            else
                while (isdigit((unsigned char)*e))
                    e++;
        }
        if (!*m)
            return true;
        if (!*at)
            return false;
    }
}

static void expect_in(void (*make)(struct built *), corrupt_fn fn, int fix,
                      const char *msg)
{
    struct built b;
    make(&b);
    size_t size = b.size;
    fn(b.data, &size);
    if (fix == FIX)
        fix_crc(b.data, size);
    struct pr_plan p;
    char err[256];
    ck_assert_int_eq(pr_plan_load_mem(&p, b.data, size, err, sizeof err), -1);
    ck_assert_msg(has_msg(err, msg), "expected \"%s\", got \"%s\"", msg, err);
    free(b.data);
}

static void build_plain(struct built *out)
{
    build(out, NULL, 0);
}

static void expect_code(const uint8_t *code, size_t n, const char *msg)
{
    struct built b;
    build(&b, code, n);
    struct pr_plan p;
    char err[256];
    ck_assert_int_eq(pr_plan_load_mem(&p, b.data, b.size, err, sizeof err),
                     -1);
    ck_assert_msg(has_msg(err, msg), "expected \"%s\", got \"%s\"", msg, err);
    free(b.data);
}

#define CORRUPT(name, ...)                                                    \
    static void name(uint8_t *d, size_t *size)                                \
    {                                                                         \
        (void)d;                                                              \
        (void)size;                                                           \
        __VA_ARGS__;                                                          \
    }

CORRUPT(c_magic, d[1] = 'X')
CORRUPT(c_crlf, {
    memmove(d + 4, d + 5, *size - 5); /* CR LF -> LF */
    (*size)--;
})
CORRUPT(c_lf_crlf, {
    memmove(d + 7, d + 6, 8); /* LF -> CR LF, tail lost */
    d[6] = '\r';
})
CORRUPT(c_high_bit, d[0] &= 0x7f)
CORRUPT(c_short, *size = 40)
CORRUPT(c_trunc, *size -= 16)
CORRUPT(c_major, pr_put_u32(d + 8, PR_PLAN_MAJOR + 1))
CORRUPT(c_major0, { /* 0.0 */
    d[8] = 0;
    d[10] = 0;
})
CORRUPT(c_major1, { /* a plan of format 1.2 */
                    d[8] = 1;
                    d[10] = 2;
})
CORRUPT(c_major2, { /* 2.0: best_of's score in run */
    d[8] = 2;
    d[10] = 0;
})
CORRUPT(c_major3, { /* 3.0: no cache_ttl, steps of 264 bytes */
    d[8] = 3;
    d[10] = 0;
})
CORRUPT(c_hsize, pr_put_u32(d + 12, 72))
CORRUPT(c_flags, pr_put_u32(d + 24, 4))
CORRUPT(c_reserved, d[60] = 1)
CORRUPT(c_hcrc, d[40] ^= 1)
CORRUPT(c_bcrc, d[100] ^= 1)
CORRUPT(c_table, pr_put_u64(d + 32, *size))
CORRUPT(c_table_count, pr_put_u32(d + 28, 0x10000000))
CORRUPT(c_sec_out, pr_put_u32(entry(d, 4) + 8, 0xfffffff0u))
CORRUPT(c_sec_big, pr_put_u32(entry(d, 4) + 12, 0xfffffff0u))
CORRUPT(c_sec_low, pr_put_u32(entry(d, 1) + 8, 8))
CORRUPT(c_sec_dup, pr_put_u32(entry(d, 5), 4))
CORRUPT(c_sec_order, {
    uint8_t *e5 = entry(d, 5), *e6 = entry(d, 6);
    pr_put_u32(e5, 6);
    pr_put_u32(e6, 5);
})
CORRUPT(c_sec_flags, pr_put_u32(entry(d, 3) + 4, 1))
CORRUPT(c_sec_align,
        pr_put_u32(entry(d, 9) + 8, pr_rd_u32(entry(d, 9) + 8) + 4))
CORRUPT(c_sec_overlap, pr_put_u32(entry(d, 4) + 8, pr_rd_u32(entry(d, 3) + 8)))
CORRUPT(c_sec_missing, {
    pr_put_u32(entry(d, PR_SEC_COUNT), PR_SEC_COUNT + 1);
    for (uint32_t id = PR_SEC_COUNT - 1; id >= 15; id--)
        pr_put_u32(entry(d, id), id + 1);
})
CORRUPT(c_sec_size, pr_put_u32(entry(d, 4) + 12, 3 * PR_STEP_SIZE - 8))
CORRUPT(c_otypes_count,
        pr_put_u32(entry(d, PR_SEC_OTYPES) + 12, 2 * PR_OTYPE_SIZE))
CORRUPT(c_wf_size, pr_put_u32(entry(d, 2) + 12, 0))
CORRUPT(c_lists_size,
        pr_put_u32(entry(d, 5) + 12, pr_rd_u32(entry(d, 5) + 12) - 2))
CORRUPT(c_prompts, {
    pr_put_u32(entry(d, 15) + 8, pr_rd_u32(entry(d, 14) + 8));
    pr_put_u32(entry(d, 15) + 12, 8);
    pr_put_u32(entry(d, 14) + 12, 0);
})
CORRUPT(c_prompt_kind, *AT(PROMPT, 1, kind) = PR_PROMPT_KINDS)
CORRUPT(c_prompt_order, *AT(PROMPT, 1, kind) = PR_PROMPT_FILE)
CORRUPT(c_prompt_twice, {
    *AT(PROMPT, 1, kind) = PR_PROMPT_FILE;
    memcpy(AT(PROMPT, 1, name), AT(PROMPT, 0, name), 4);
})
CORRUPT(c_prompt_json, memcpy(AT(PROMPT, 0, input_default),
                              rec(d, PR_PROMPT_SEC, PR_PROMPT_SIZE, 1), 4))
CORRUPT(c_prompt_format, memcpy(AT(PROMPT, 0, output_format),
                                rec(d, PR_PROMPT_SEC, PR_PROMPT_SIZE, 1), 4))
CORRUPT(c_prompt_code,
        sec(d, 9)[pr_rd_u32(AT(PROMPT, 0, code)) + PROMPT_PARTIAL_AT] = 2)
CORRUPT(c_prompt_code_len,
        pr_put_u32(AT(PROMPT, 0, code) + 4, sizeof prompt_code - 1))
CORRUPT(c_prompt_empty, pr_put_u32(AT(PROMPT, 1, code) + 4, 0))
CORRUPT(c_prompt_step, memcpy(AT(STEP, 2, prompt_file),
                              rec(d, PR_PROMPT_SEC, PR_PROMPT_SIZE, 1), 4))
CORRUPT(c_str_start, sec(d, 1)[0] = 1)
CORRUPT(c_str_len, pr_put_u32(sec(d, 1) + 5, 1000))
CORRUPT(c_str_nul, sec(d, 1)[5 + 4 + 2] = 'x')
CORRUPT(c_step_str, pr_put_u32(AT(STEP, 2, description), 0x1234))
CORRUPT(c_step_str_mid, pr_put_u32(AT(STEP, 1, id), 1))
CORRUPT(c_optstr, pr_put_u32(AT(STEP, 0, agent), 0xfffffffe))
CORRUPT(c_enum, *AT(STEP, 2, kind) = PR_STEP_KINDS)
CORRUPT(c_backoff, *AT(STEP, 2, backoff) = 3)
CORRUPT(c_pad, *AT(STEP, 0, pad0) = 1)
CORRUPT(c_nan, pr_put_f64(AT(STEP, 1, temperature), NAN))
CORRUPT(c_inf, pr_put_f64(AT(WORKFLOW, 0, sla_max_duration), INFINITY))
CORRUPT(c_negative, pr_put_f64(AT(STEP, 1, timeout), -1))
CORRUPT(c_neg_price, pr_put_f64(AT(MODEL, 0, input_per_mtok), -0.5))
CORRUPT(c_param_type, *AT(PARAM, 0, type) = PR_T_TYPES)
CORRUPT(c_wf_flags, *AT(WORKFLOW, 0, flags) = 0x40)
CORRUPT(c_wf_list, pr_put_u32(AT(WORKFLOW, 0, allowed_tools) + 4, 1000))
CORRUPT(c_list_overflow, {
    pr_put_u32(AT(WORKFLOW, 0, allowed_tools), 0xffffffffu);
    pr_put_u32(AT(WORKFLOW, 0, allowed_tools) + 4, 2);
})
CORRUPT(c_list_str, pr_put_u32(sec(d, 5), 3))
CORRUPT(c_interp_idx, pr_put_u32(AT(STEP, 2, run), 2))
CORRUPT(c_model_idx, pr_put_u32(AT(STEP, 2, model), 1))
CORRUPT(c_step_idx, pr_put_u32(AT(STEP, 0, judge), 3))
CORRUPT(c_phase_idx, pr_put_u32(AT(STEP, 0, phase), 1))
CORRUPT(c_tval_idx, pr_put_u32(AT(STEP, 0, inputs), 2))
CORRUPT(c_fallback, pr_put_u32(sec(d, 5) + 4 * 7, 1))
CORRUPT(c_dep_order, pr_put_u32(sec(d, 5) + 4 * 1, 1))
CORRUPT(c_dep_range, pr_put_u32(sec(d, 5) + 4 * 1, 7))
CORRUPT(c_dependent_order, pr_put_u32(sec(d, 5) + 4 * 4, 0))
CORRUPT(c_dependent_count, pr_put_u32(AT(STEP, 1, dependents) + 4, 0))
CORRUPT(c_dependent_kind, pr_put_u32(sec(d, 5) + 4 * 6, 2))
CORRUPT(c_dependent_swap, {
    /* a: [1, 2], b: [2|after]  ->  a: [1|after, 2], b: [2] */
    pr_put_u32(sec(d, 5) + 4 * 4, 1 | PR_EDGE_AFTER);
    pr_put_u32(sec(d, 5) + 4 * 6, 2);
})
CORRUPT(c_code_range, pr_put_u32(AT(STEP, 1, condition) + 4, 1000))
CORRUPT(c_code_absent, pr_put_u32(AT(STEP, 0, for_each), 4))
CORRUPT(c_attempts0, pr_put_u32(AT(STEP, 1, max_attempts), 0))
CORRUPT(c_loops0, pr_put_u32(AT(PHASE, 0, max_loops), 0))
CORRUPT(c_reset0, pr_put_f64(AT(WORKFLOW, 0, breaker_reset), 0))
CORRUPT(c_score_kind, memcpy(AT(STEP, 1, score), AT(STEP, 1, condition), 8))
CORRUPT(c_part_kind, *AT(PART, 0, kind) = 2)
CORRUPT(c_part_pad, *AT(PART, 0, pad1) = 2)
CORRUPT(c_part_text, pr_put_u32(AT(PART, 0, text), 3))
CORRUPT(c_part_code, pr_put_u32(AT(PART, 1, code) + 4, 0))
CORRUPT(c_text_code, pr_put_u32(AT(PART, 0, code) + 4, 1))
CORRUPT(c_part_bytecode, {
    uint8_t *p = rec(d, PR_PART_SEC, PR_PART_SIZE, 1);
    sec(d, 9)[pr_rd_u32(p + 8) + 1] = 9;
})
CORRUPT(c_interp_range, pr_put_u32(AT(INTERP, 1, n), 2))
CORRUPT(c_interp_pure, *AT(INTERP, 1, pure) = 2)
CORRUPT(c_interp_pad, *(AT(INTERP, 1, pad3) + 3) = 2)
CORRUPT(c_tval_kind, *AT(TVAL, 1, kind) = PR_TV_KINDS)
CORRUPT(c_tval_pad, *(AT(TVAL, 1, pad2) + 1) = 1)
CORRUPT(c_tval_child, pr_put_u32(AT(TVAL, 0, first), 0))
CORRUPT(c_tval_child_range, pr_put_u32(AT(TVAL, 0, n), 2))
CORRUPT(c_tval_keys, pr_put_u32(AT(TVAL, 0, keys), 9))
CORRUPT(c_tval_interp, pr_put_u32(AT(TVAL, 1, interp), 5))
CORRUPT(c_tval_num, pr_put_f64(AT(TVAL, 1, num), NAN))
CORRUPT(c_tval_scalar_kids, {
    *AT(TVAL, 1, kind) = PR_TV_NUM;
    pr_put_u32(AT(TVAL, 1, interp), 0);
    pr_put_u32(AT(TVAL, 1, n), 1);
})
CORRUPT(c_phase_gate, pr_put_u32(AT(PHASE, 0, gate_step), 3))
CORRUPT(c_phase_fb, pr_put_u32(AT(PHASE, 0, feedback_to), 1))
CORRUPT(c_phase_code, sec(d, 9)[pr_rd_u32(AT(PHASE, 0, gate))] = 0x7f)
CORRUPT(c_alert_str, pr_put_u32(AT(ALERT, 0, action), 0xffffffff))

struct reject {
    corrupt_fn fn;
    int fix;
    const char *msg;
};

static const struct reject cases[] = {
    {c_magic, RAW, "not a plan file (bad magic)"},
    {c_crlf, RAW, "damaged in transfer (text-mode conversion)"},
    {c_lf_crlf, RAW, "damaged in transfer (text-mode conversion)"},
    {c_high_bit, RAW, "damaged in transfer (high bit stripped)"},
    {c_short, RAW, "truncated: 40 bytes, shorter than the 64-byte header"},
    {c_trunc, RAW, "truncated: header says"},
    {c_major, RAW,
     "plan format 5.0 is newer than this version of poml reads "
     "(4.x)"},
    {c_major0, RAW, "plan format 0.0 is not supported (4.x expected)"},
    {c_major1, RAW, "plan format 1.2 is not supported (4.x expected)"},
    {c_major2, RAW, "plan format 2.0 is not supported (4.x expected)"},
    {c_major3, RAW, "plan format 3.0 is not supported (4.x expected)"},
    {c_hsize, RAW, "header size 72, expected 64"},
    {c_flags, RAW, "unknown incompatible flags 0x4"},
    {c_reserved, RAW, "reserved header bytes are not zero"},
    {c_hcrc, RAW, "header checksum mismatch"},
    {c_bcrc, RAW, "body checksum mismatch (file damaged)"},
    {c_table, FIX, "section table"},
    {c_table_count, FIX, "lies outside the file"},
    {c_sec_out, FIX, "section 4 (steps) lies outside the file"},
    {c_sec_big, FIX, "section 4 (steps) lies outside the file"},
    {c_sec_low, FIX, "section 1 (strings) lies outside the file"},
    {c_sec_dup, FIX, "section 4 (steps) listed twice"},
    {c_sec_order, FIX, "not sorted"},
    {c_sec_flags, FIX, "section 3 (params) has flags 0x1"},
    {c_sec_align, FIX, "section 9 (code) is not aligned to 8 bytes"},
    {c_sec_overlap, FIX, "overlaps"},
    {c_sec_missing, FIX, "section 15 (prompts) is missing"},
    {c_sec_size, FIX, "section 4 (steps) size 808 is not a multiple of 272"},
    {c_otypes_count, FIX, "otypes has 2 records for 3 steps"},
    {c_wf_size, FIX, "section 2 (workflow) has 0 bytes"},
    {c_lists_size, FIX, "section 5 (lists)"},
    {c_prompts, FIX, "section 15 (prompts) size 8 is not a multiple of 48"},
    {c_prompt_kind, FIX, "prompt 1: kind: value 2 out of range (below 2)"},
    {c_prompt_order, FIX,
     "prompt 1: name: '_x.md' after 'p.md' is out of "
     "order"},
    {c_prompt_twice, FIX, "prompt 1: name: 'p.md' is given twice"},
    {c_prompt_json, FIX, "prompt 0: input_default: not a JSON object"},
    {c_prompt_format, FIX,
     "prompt 0: output_format: '_x.md' is not json "
     "or text"},
    {c_prompt_code, FIX,
     "prompt 0: code: invalid template code at byte 19: "
     "partial names no template"},
    {c_prompt_code_len, FIX,
     "prompt 0: code: invalid template code at byte "
     "19: truncated"},
    {c_prompt_empty, FIX, "prompt 1: code: empty template with offset"},
    {c_prompt_step, FIX,
     "step 2: prompt_file: no prompt '_x.md' in section "
     "15 (prompts)"},
    {c_str_start, FIX, "does not start with the empty string"},
    {c_str_len, FIX, "strings: record at 0x5 has length 1000"},
    {c_str_nul, FIX, "strings: record at 0x5 lacks its NUL"},
    {c_step_str, FIX,
     "step 2: description: string reference 0x1234 out of "
     "range"},
    {c_step_str_mid, FIX, "step 1: id: string reference 0x1 out of range"},
    {c_optstr, FIX, "step 0: agent: string reference 0xfffffffe"},
    {c_enum, FIX, "step 2: kind: value 7 out of range"},
    {c_backoff, FIX, "step 2: backoff: value 3 out of range"},
    {c_pad, FIX, "step 0: pad0: padding is not zero"},
    {c_nan, FIX, "step 1: temperature: number is not finite"},
    {c_inf, FIX, "workflow: sla_max_duration: number is not finite"},
    {c_negative, FIX, "step 1: timeout: -1 is negative"},
    {c_neg_price, FIX, "model 0: input_per_mtok: -0.5 is negative"},
    {c_param_type, FIX, "parameter 0: type: value 7 out of range"},
    {c_wf_flags, FIX, "workflow: flags: unknown bits 0x40"},
    {c_wf_list, FIX, "workflow: allowed_tools: list"},
    {c_list_overflow, FIX, "workflow: allowed_tools: list 4294967295+2"},
    {c_list_str, FIX, "allowed_tools[0]: string reference 0x3 out of range"},
    {c_interp_idx, FIX, "step 2: run: interp 2 out of range"},
    {c_model_idx, FIX, "step 2: model: model 1 out of range"},
    {c_step_idx, FIX, "step 0: judge: step 3 out of range"},
    {c_phase_idx, FIX, "step 0: phase: phase 1 out of range"},
    {c_tval_idx, FIX, "step 0: inputs: template value 2 out of range"},
    {c_fallback, FIX, "step 2: fallback[0]: model 1 out of range"},
    {c_dep_order, FIX, "step 1: dependency 1 does not come before it"},
    {c_dep_range, FIX, "step 1: deps[0]: step 7 out of range"},
    {c_dependent_order, FIX, "step 0: dependent 0 does not come after it"},
    {c_dependent_count, FIX, "step 1: lists 0 dependents, but 1 steps"},
    {c_dependent_kind, FIX, "not the inverse of the dependency lists"},
    {c_dependent_swap, FIX, "not the inverse of the dependency lists"},
    {c_code_range, FIX, "step 1: condition: code"},
    {c_code_absent, FIX, "step 0: for_each: absent code with offset 4"},
    {c_part_kind, FIX, "interp part 0: kind: value 2"},
    {c_part_pad, FIX, "interp part 0: padding is not zero"},
    {c_part_text, FIX, "interp part 0: text: string reference 0x3"},
    {c_part_code, FIX, "interp part 1: expression part without code"},
    {c_text_code, FIX, "interp part 0: text part with code"},
    {c_part_bytecode, FIX,
     "interp part 1: invalid bytecode in expression "
     "at byte 0: unknown root 9"},
    {c_interp_range, FIX, "interp 1: parts 1+2 out of range"},
    {c_interp_pure, FIX, "interp 1: pure: 2 is not a boolean"},
    {c_interp_pad, FIX, "interp 1: padding is not zero"},
    {c_tval_kind, FIX, "template value 1: kind: value 6"},
    {c_tval_pad, FIX, "template value 1: padding is not zero"},
    {c_tval_child, FIX, "template value 0: children 0+1 not after it"},
    {c_tval_child_range, FIX, "template value 0: children 1+2"},
    {c_tval_keys, FIX, "template value 0: keys: list 9+1 outside lists"},
    {c_tval_interp, FIX, "template value 1: interp: 5 out of range"},
    {c_tval_num, FIX, "template value 1: number: not finite"},
    {c_tval_scalar_kids, FIX, "template value 1: children on a value"},
    {c_attempts0, FIX, "step 1: max_attempts: 0, must be at least 1"},
    {c_loops0, FIX, "phase 0: max_loops: 0, must be at least 1"},
    {c_reset0, FIX, "workflow: breaker_reset: 0, must be positive"},
    {c_score_kind, FIX,
     "step 1: score: set on a step that is not an LLM "
     "step"},
    {c_phase_gate, FIX, "phase 0: gate_step: step 3 out of range"},
    {c_phase_fb, FIX, "phase 0: feedback_to: phase 1 out of range"},
    {c_phase_code, FIX,
     "phase 0: invalid bytecode in gate at byte 0: "
     "unknown opcode 0x7f"},
    {c_alert_str, FIX, "alert 0: action: string reference 0xffffffff"},
};

/* Every count pomlc bounds is bounded by the loader too (plan_limits.h):
 * each such field of the workflow, step 0 and phase 0, set to its limit,
 * loads; one above it is refused, naming the field and the limit. */
struct bounded {
    const char *name;
    uint32_t sec, size, off;
    unsigned lim;
};

START_TEST(test_limits)
{
    static const struct bounded fields[] = {
#define B_ROW(sec, size, name, type, arg, off)                                \
    {#name, sec, size, off, type == PR_FT_U32 ? arg : 0},
#define B_WF(...) B_ROW(PR_SEC_WORKFLOW, PR_WORKFLOW_SIZE, __VA_ARGS__)
#define B_STEP(...) B_ROW(PR_SEC_STEPS, PR_STEP_SIZE, __VA_ARGS__)
#define B_PHASE(...) B_ROW(PR_SEC_PHASES, PR_PHASE_SIZE, __VA_ARGS__)
        PR_WORKFLOW_FIELDS(B_WF) PR_STEP_FIELDS(B_STEP)
            PR_PHASE_FIELDS(B_PHASE)
#undef B_ROW
#undef B_WF
#undef B_STEP
#undef B_PHASE
    };
    unsigned seen = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const struct bounded *f = &fields[i];
        if (!f->lim)
            continue;
        seen++;
        uint32_t max = pr_limit_max(f->lim);
        for (int over = 0; over <= 1; over++) {
            struct built b;
            build_plain(&b);
            pr_put_u32(rec(b.data, f->sec, f->size, 0) + f->off,
                       max + (uint32_t)over);
            fix_crc(b.data, b.size);
            struct pr_plan p;
            char err[256], want[128];
            int rc = pr_plan_load_mem(&p, b.data, b.size, err, sizeof err);
            if (!over) {
                ck_assert_msg(rc == 0, "%s = %lu: %s", f->name,
                              (unsigned long)max, err);
                pr_plan_close(&p);
            } else {
                snprintf(want, sizeof want,
                         "%s: %lu is above the limit of %lu", f->name,
                         (unsigned long)max + 1, (unsigned long)max);
                ck_assert_int_eq(rc, -1);
                ck_assert_msg(has_msg(err, want),
                              "expected \"%s\", got \"%s\"", want, err);
            }
            free(b.data);
        }
    }
    ck_assert_uint_eq(seen, PR_LIM_COUNT - 1);
}
END_TEST

START_TEST(test_reject)
{
    expect_in(build_plain, cases[_i].fn, cases[_i].fix, cases[_i].msg);
}
END_TEST

/* ---- one corruption per check of SUBPLANS, in build_nested's plan ---- */

#define SP(i) rec(d, PR_SEC_SUBPLANS, PR_SUBPLAN_SIZE, i)
#define SP_PLAN(i) (sec(d, PR_SEC_SUBPLANS) + pr_rd_u32(SP(i) + 4))
#define STEP0_WORKFLOW (rec(d, PR_SEC_STEPS, PR_STEP_SIZE, 0) + 208)

CORRUPT(c_sp_missing, {
    pr_put_u32(entry(d, PR_SEC_COUNT), PR_SEC_COUNT + 1);
    for (uint32_t id = PR_SEC_COUNT - 1; id >= 16; id--)
        pr_put_u32(entry(d, id), id + 1);
})
CORRUPT(c_sp_small, pr_put_u32(entry(d, 16) + 12, 8))
CORRUPT(c_sp_first, pr_put_u32(SP(0) + 4, 24))
CORRUPT(c_sp_first0, pr_put_u32(SP(0) + 4, 0))
CORRUPT(c_sp_first_out, pr_put_u32(SP(0) + 4, 0xfffffff0u))
CORRUPT(c_sp_name, pr_put_u32(SP(0), 3))
CORRUPT(c_sp_pad, pr_put_u32(SP(1) + 12, 1))
CORRUPT(c_sp_empty, pr_put_u32(SP(0), 0))
CORRUPT(c_sp_nul, pr_put_u32(SP(1), nested.s_nul))
CORRUPT(c_sp_dup, pr_put_u32(SP(1), pr_rd_u32(SP(0))))
CORRUPT(c_sp_order, {
    uint32_t a = pr_rd_u32(SP(0));
    pr_put_u32(SP(0), pr_rd_u32(SP(1)));
    pr_put_u32(SP(1), a);
})
CORRUPT(c_sp_align, pr_put_u32(SP(1) + 4, pr_rd_u32(SP(1) + 4) + 4))
CORRUPT(c_sp_overlap, pr_put_u32(SP(1) + 4, pr_rd_u32(SP(1) + 4) - 8))
CORRUPT(c_sp_records, pr_put_u32(SP(1) + 4, 16))
CORRUPT(c_sp_shared, {
    pr_put_u32(SP(1) + 4, pr_rd_u32(SP(0) + 4));
    pr_put_u32(SP(1) + 8, pr_rd_u32(SP(0) + 8));
})
CORRUPT(c_sp_outside, pr_put_u32(SP(1) + 8, pr_rd_u32(SP(1) + 8) + 8))
CORRUPT(c_sp_far, pr_put_u32(SP(1) + 4, 0xfffffff8u))
CORRUPT(c_sp_step, pr_put_u32(STEP0_WORKFLOW, nested.s_x))
CORRUPT(c_sp_step_none, pr_put_u32(STEP0_WORKFLOW, PR_PLAN_NONE))
CORRUPT(c_sp_inner_crc, SP_PLAN(0)[100] ^= 1)
CORRUPT(c_sp_inner_cut, pr_put_u32(SP(1) + 8, pr_rd_u32(SP(1) + 8) - 8))
CORRUPT(c_sp_inner_step, {
    uint8_t *in = SP_PLAN(1);
    rec(in, PR_SEC_STEPS, PR_STEP_SIZE, 2)[12] = PR_STEP_KINDS;
    fix_crc(in, pr_rd_u32(SP(1) + 8));
})
CORRUPT(c_sp_inner_wf, {
    uint8_t *in = SP_PLAN(1);
    rec(in, PR_SEC_STEPS, PR_STEP_SIZE, 0)[12] = PR_STEP_WORKFLOW;
    fix_crc(in, pr_rd_u32(SP(1) + 8));
})

static const struct reject sub_cases[] = {
    {c_sp_missing, FIX, "section 16 (subplans) is missing"},
    {c_sp_small, FIX,
     "section 16 (subplans) has 8 bytes, less than one "
     "record"},
    {c_sp_first, FIX,
     "section 16 (subplans): the first plan's offset 24 "
     "does not end the records"},
    {c_sp_first0, FIX, "the first plan's offset 0 does not end"},
    {c_sp_first_out, FIX,
     "the first plan's offset 4294967280 does not end "
     "the records (a multiple of 16, not 0, within the "
     "# bytes)"},
    {c_sp_name, FIX, "subplan 0: name: string reference 0x3 out of range"},
    {c_sp_pad, FIX, "subplan 1: pad0: padding is not zero"},
    {c_sp_empty, FIX, "subplan 0: name: empty"},
    {c_sp_nul, FIX, "subplan 1: name: 'a?b' holds a NUL byte"},
    {c_sp_dup, FIX, "subplan 1: name: 'a.poml' is given twice"},
    {c_sp_order, FIX,
     "subplan 1: name: 'a.poml' after 'b.poml' is out of "
     "order (names are sorted)"},
    {c_sp_align, FIX,
     "subplan 1: plan at offset # is not aligned to 8 "
     "bytes"},
    {c_sp_overlap, FIX,
     "subplan 1: plan at offset # starts before #, the "
     "end of the plan before it"},
    {c_sp_records, FIX, "subplan 1: plan at offset 16 starts before #"},
    {c_sp_shared, FIX, "subplan 1: plan at offset 32 starts before #"},
    {c_sp_outside, FIX,
     "subplan 1: plan #+# lies outside the section (# "
     "bytes)"},
    {c_sp_far, FIX, "subplan 1: plan 4294967288+# lies outside"},
    {c_sp_step, FIX,
     "step 0: workflow: no plan for 'x' in section 16 "
     "(subplans)"},
    {c_sp_step_none, FIX, "step 0: workflow: absent on a workflow step"},
    {c_sp_inner_crc, FIX, "subplan 0 (a.poml): body checksum mismatch"},
    {c_sp_inner_cut, FIX,
     "subplan 1 (b.poml): truncated: header says # "
     "bytes, file has #"},
    {c_sp_inner_step, FIX,
     "subplan 1 (b.poml): step 2: kind: value 7 out "
     "of range (below 7)"},
    {c_sp_inner_wf, FIX,
     "subplan 1 (b.poml): step 0: workflow: absent on a "
     "workflow step"},
};

START_TEST(test_reject_sub)
{
    expect_in(build_nested, sub_cases[_i].fn, sub_cases[_i].fix,
              sub_cases[_i].msg);
}
END_TEST

START_TEST(test_reject_trailing)
{
    /* a byte more than the header says */
    struct built b;
    build(&b, NULL, 0);
    uint8_t *d = realloc(b.data, b.size + 1);
    ck_assert_ptr_nonnull(d);
    d[b.size] = 0;
    struct pr_plan p;
    char err[256];
    ck_assert_int_eq(pr_plan_load_mem(&p, d, b.size + 1, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "trailing bytes: header says"));
    ck_assert_int_eq(pr_plan_load_mem(&p, d, 0, err, sizeof err), -1);
    ck_assert_str_eq(err, "empty file");
    ck_assert_int_eq(pr_plan_load_mem(&p, "\x89PLN", 4, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "truncated: 4 bytes"));
    ck_assert_int_eq(pr_plan_load_mem(&p, "#!/bin/sh\n", 10, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "not a plan file (bad magic)");
    free(d);
}
END_TEST

/* ---- bytecode verification ---- */

#define U32(v)                                                                \
    (uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16),                  \
        (uint8_t)((v) >> 24)

START_TEST(test_bytecode_ok)
{
    /* len(lower("x")) > 0 || [1, null] in [] */
    struct built ref;
    build(&ref, NULL, 0);
    uint32_t sx = ref.s_x;
    free(ref.data);
    uint8_t c[] = {PR_OP_STR,  U32(sx),   PR_OP_CALL, PR_FN_LOWER, 1,
                   PR_OP_CALL, PR_FN_LEN, 1,          PR_OP_NUM,   0,
                   0,          0,         0,          0,           0,
                   0,          0,         PR_OP_GT,   PR_OP_OR,    U32(44),
                   PR_OP_NUM,  0,         0,          0,           0,
                   0,          0,         0xf0,       0x3f,        PR_OP_NULL,
                   PR_OP_LIST, 2,         0,          PR_OP_LIST,  0,
                   0,          PR_OP_IN,  PR_OP_BOOL, PR_OP_END};
    ck_assert_uint_eq(sizeof c, 45);
    struct built b;
    build(&b, c, sizeof c);
    struct pr_plan p;
    char err[256];
    int rc = pr_plan_load_mem(&p, b.data, b.size, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    free(b.data);
}
END_TEST

START_TEST(test_bytecode_bad)
{
    struct built ref;
    build(&ref, NULL, 0);
    uint32_t sx = ref.s_x;
    free(ref.data);
    static const char *const pre = "step 1: invalid bytecode in condition "
                                   "at byte ";
    char msg[200];
#define BAD(expected, ...)                                                    \
    do {                                                                      \
        uint8_t c_[] = {__VA_ARGS__};                                         \
        snprintf(msg, sizeof msg, "%s%s", pre, expected);                     \
        expect_code(c_, sizeof c_, msg);                                      \
    } while (0)
    BAD("1: unknown opcode 0x7f", PR_OP_TRUE, 0x7f, PR_OP_END);
    BAD("0: unknown opcode 0x1d", 0x1d, PR_OP_END);
    BAD("1: truncated str instruction", PR_OP_TRUE, PR_OP_STR, 0, 0);
    BAD("0: stack underflow", PR_OP_ADD, PR_OP_END);
    BAD("0: stack underflow", PR_OP_END);
    BAD("2: 2 values left at end", PR_OP_NULL, PR_OP_NULL, PR_OP_END);
    BAD("2: missing end", PR_OP_NULL, PR_OP_NOT);
    BAD("1: code continues after end", PR_OP_NULL, PR_OP_END, PR_OP_END);
    BAD("0: string reference 0x3 out of range", PR_OP_STR, U32(3), PR_OP_END);
    BAD("0: step 3 out of range (3 steps)", PR_OP_STEP, U32(3), PR_OP_END);
    BAD("0: step 2147483647 out of range (3 steps)", PR_OP_STEP,
        U32(0x7fffffff), PR_OP_END);
    BAD("0: truncated step instruction", PR_OP_STEP, 2, 0, 0);
    BAD("1: string reference 0x1 out of range", PR_OP_NULL, PR_OP_MEMBER,
        U32(1), PR_OP_END);
    BAD("0: unknown root 3", PR_OP_ROOT, 3, PR_OP_END);
    BAD("1: unknown function 8", PR_OP_NULL, PR_OP_CALL, 8, 1, PR_OP_END);
    BAD("1: join() called with 1 arguments", PR_OP_NULL, PR_OP_CALL,
        PR_FN_JOIN, 1, PR_OP_END);
    BAD("1: stack underflow", PR_OP_NULL, PR_OP_CALL, PR_FN_JOIN, 2,
        PR_OP_END);
    BAD("1: stack underflow", PR_OP_NULL, PR_OP_LIST, 2, 0, PR_OP_END);
    BAD("0: number is not finite", PR_OP_NUM, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f,
        PR_OP_END);
    BAD("1: jump target 0", PR_OP_TRUE, PR_OP_OR, U32(0), PR_OP_END);
    BAD("1: jump target 7", PR_OP_TRUE, PR_OP_OR, U32(7), PR_OP_END);
    BAD("1: jump target 1", PR_OP_TRUE, PR_OP_AND, U32(1), PR_OP_END);
    /* into the middle of STR */
    BAD("7: jump to byte 8 inside the instruction", PR_OP_TRUE, PR_OP_OR,
        U32(8), PR_OP_NULL, PR_OP_STR, U32(sx), PR_OP_ADD, PR_OP_END);
    /* depth 1 by the jump, 2 by falling through */
    BAD("8: stack depth 2 at jump target, 1 on the jump", PR_OP_TRUE, PR_OP_OR,
        U32(8), PR_OP_NULL, PR_OP_NULL, PR_OP_END);
#undef BAD
}
END_TEST

START_TEST(test_bytecode_stack)
{
    uint8_t c[PR_EVAL_STACK + 2];
    memset(c, PR_OP_NULL, sizeof c);
    c[sizeof c - 1] = PR_OP_END;
    char msg[128];
    snprintf(msg, sizeof msg, "at byte %d: stack overflow", PR_EVAL_STACK);
    expect_code(c, sizeof c, msg);
    /* exactly the limit, folded into one list: fine */
    uint8_t ok[PR_EVAL_STACK + 4];
    memset(ok, PR_OP_NULL, sizeof ok);
    ok[PR_EVAL_STACK] = PR_OP_LIST;
    ok[PR_EVAL_STACK + 1] = PR_EVAL_STACK & 0xff;
    ok[PR_EVAL_STACK + 2] = PR_EVAL_STACK >> 8;
    ok[PR_EVAL_STACK + 3] = PR_OP_END;
    struct built b;
    build(&b, ok, sizeof ok);
    struct pr_plan p;
    char err[256];
    int rc = pr_plan_load_mem(&p, b.data, b.size, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    free(b.data);
}
END_TEST

/* ---- exhaustive corruption ---- */

static long variants, accepted;

static void try_variant(const uint8_t *d, size_t size, bool must_fail)
{
    struct pr_plan p;
    char err[256];
    uint8_t *copy = malloc(size ? size : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, d, size);
    variants++;
    int rc = pr_plan_load_mem(&p, copy, size, err, sizeof err);
    if (rc < 0) {
        ck_assert_msg(err[0] != '\0', "empty message");
    } else {
        ck_assert_msg(!must_fail, "variant accepted");
        accepted++;
        walk(&p);
        pr_plan_close(&p);
    }
    free(copy);
}

/* The plain plan (_i 0) and build_nested's. */
START_TEST(test_every_byte)
{
    struct built b;
    if (_i == 0)
        build(&b, NULL, 0);
    else
        build_nested(&b);
    uint8_t *d = malloc(b.size);
    ck_assert_ptr_nonnull(d);
    variants = accepted = 0;
    for (size_t i = 0; i < b.size; i++) {
        for (int how = 0; how < 2; how++) {
            memcpy(d, b.data, b.size);
            d[i] = how == 0 ? (uint8_t)(d[i] ^ 0xFF) : 0;
            if (d[i] == b.data[i])
                continue;
            try_variant(d, b.size, true);
            fix_crc(d, b.size);
            try_variant(d, b.size, false);
        }
    }
    for (size_t n = 0; n < b.size; n++) {
        try_variant(b.data, n, true);
        memcpy(d, b.data, n);
        if (n >= PR_PLAN_HEADER_SIZE) {
            pr_put_u64(d + 16, n);
            fix_crc(d, n);
        }
        try_variant(d, n, true);
    }
    fprintf(stderr,
            "check_plan: %ld corrupted variants of a %zu-byte plan, "
            "%ld accepted after checksum repair\n",
            variants, b.size, accepted);
    free(d);
    free(b.data);
}
END_TEST

/* ---- fuzzer findings ---- */

START_TEST(test_crashes)
{
    const char *top = getenv("top_srcdir");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/plan/crashes", top ? top : ".");
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        uint8_t *buf = malloc(1 << 20);
        ck_assert_ptr_nonnull(buf);
        size_t len = fread(buf, 1, 1 << 20, f);
        fclose(f);
        try_variant(buf, len, false);
        fix_crc(buf, len);
        try_variant(buf, len, false);
        free(buf);
        n++;
    }
    closedir(dp);
    fprintf(stderr, "check_plan: %d saved fuzzer inputs\n", n);
}
END_TEST

static Suite *plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_load_views);
    tcase_add_test(tc, test_write_by_name);
    tcase_add_test(tc, test_open_file);
    tcase_add_test(tc, test_load_subplans);
    tcase_add_test(tc, test_subplan_depth);
    tcase_add_test(tc, test_limits);
    tcase_add_loop_test(tc, test_reject, 0,
                        (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, test_reject_sub, 0,
                        (int)(sizeof sub_cases / sizeof sub_cases[0]));
    tcase_add_test(tc, test_reject_trailing);
    tcase_add_test(tc, test_bytecode_ok);
    tcase_add_test(tc, test_bytecode_bad);
    tcase_add_test(tc, test_bytecode_stack);
    suite_add_tcase(s, tc);
    TCase *hx = tcase_create("corruption");
    tcase_set_timeout(hx, 300);
    tcase_add_loop_test(hx, test_every_byte, 0, 2);
    tcase_add_test(hx, test_crashes);
    suite_add_tcase(s, hx);
    return s;
}

/* With POML_PLAN_SEEDS=DIR, writes a few valid plans there (the fuzzer's
 * seed corpus) instead of testing. */
START_TEST(test_write_seeds)
{
    const char *dir = getenv("POML_PLAN_SEEDS");
    uint8_t big[PR_EVAL_STACK + 4];
    memset(big, PR_OP_NULL, sizeof big);
    big[PR_EVAL_STACK] = PR_OP_LIST;
    big[PR_EVAL_STACK + 1] = PR_EVAL_STACK & 0xff;
    big[PR_EVAL_STACK + 2] = PR_EVAL_STACK >> 8;
    big[PR_EVAL_STACK + 3] = PR_OP_END;
    uint8_t small[] = {PR_OP_NULL, PR_OP_NOT, PR_OP_END};
    struct {
        const char *name;
        const uint8_t *code;
        size_t n;
    } seeds[] = {
        {"plan-std", NULL, 0},
        {"plan-list", big, sizeof big},
        {"plan-not", small, sizeof small},
    };
    for (size_t i = 0; i <= sizeof seeds / sizeof seeds[0]; i++) {
        struct built b;
        bool sub = i == sizeof seeds / sizeof seeds[0];
        if (sub)
            build_nested(&b);
        else
            build(&b, seeds[i].code, seeds[i].n);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir,
                 sub ? "plan-sub" : seeds[i].name);
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f && fwrite(b.data, 1, b.size, f) == b.size &&
                          fclose(f) == 0,
                      "cannot write %s", path);
        free(b.data);
    }
}
END_TEST

int main(void)
{
    Suite *s;
    if (!getenv("POML_PLAN_SEEDS")) {
        s = plan_suite();
    } else {
        s = suite_create("seeds");
        TCase *tc = tcase_create("seeds");
        tcase_add_test(tc, test_write_seeds);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
