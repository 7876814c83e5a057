/* plan_load.c -- maps a plan file, validates every byte once, typed views
 *
 * The reader's half of plan.h.  A plan may be damaged or hostile, so the
 * loader checks the header, the section table, the string table, every
 * field of every record (driven by the PR_*_FIELDS lists), every list entry
 * and every expression's bytecode before anything else reads it; a failure
 * is an ordinary error with a precise reason.  After that, the views below
 * decode records through byte helpers, never by casting mapped bytes.
 */
#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytecode.h"
#include "template.h"

/* ---- field tables, generated from the lists in plan.h ---- */

struct field {
    const char *name;
    uint8_t type, arg;
    uint16_t off;
};

#define FIELD_ROW(name, type, arg, off) {#name, type, arg, off},
static const struct field workflow_fields[] = {PR_WORKFLOW_FIELDS(FIELD_ROW)};
static const struct field param_fields[] = {PR_PARAM_FIELDS(FIELD_ROW)};
static const struct field step_fields[] = {PR_STEP_FIELDS(FIELD_ROW)};
static const struct field model_fields[] = {PR_MODEL_FIELDS(FIELD_ROW)};
static const struct field phase_fields[] = {PR_PHASE_FIELDS(FIELD_ROW)};
static const struct field tool_fields[] = {PR_TOOL_FIELDS(FIELD_ROW)};
static const struct field agg_fields[] = {PR_AGG_FIELDS(FIELD_ROW)};
static const struct field alert_fields[] = {PR_ALERT_FIELDS(FIELD_ROW)};
static const struct field subplan_fields[] = {PR_SUBPLAN_FIELDS(FIELD_ROW)};
static const struct field prompt_fields[] = {PR_PROMPT_FIELDS(FIELD_ROW)};
static const struct field otype_fields[] = {PR_OTYPE_FIELDS(FIELD_ROW)};
#undef FIELD_ROW

/* Every field lies inside its record. */
#define PR_FIELD_KEY(R, name, type, arg, off)                                 \
    _Static_assert((off) + PR_FT_BYTES(type) <= PR_##R##_SIZE,                \
                   "field " #name " outside its record");
#define FITS(R, sec, what) PR_##R##_FIELDS(PR_BY_##R)
PR_RECORDS(FITS)
#undef FITS
#undef PR_FIELD_KEY

/* F64 fields that are durations, prices, costs, rates or temperatures:
 * they must also be non-negative (-0 passes: it compares equal to 0).
 * Other F64 fields (alert thresholds, template numbers) may be any finite
 * number. */
static const char nonneg_f64[] =
    " cp_seconds sla_max_duration sla_step_timeout budget_cost"
    " breaker_reset timeout initial_delay max_delay"
    " input_per_mtok output_per_mtok min_success_rate ";

/* U32 and F64 fields pomlc always fills in (its defaults included) and
 * for which 0 means nothing: a count of at least 1, a positive duration. */
static const char positive[] =
    " max_attempts max_loops breaker_threshold breaker_reset reply_tokens ";

/* What check_record asks of a number beyond its type. */
enum { RULE_NONNEG = 1, RULE_POSITIVE = 2 };

/* A record section: its fields, where its count lives, its name. */
struct rkind {
    const char *what; /* for messages: "step 3: ..." */
    enum pr_section sec;
    uint32_t size;
    const struct field *f;
    size_t nf;
};

#define RKIND(what, sec, size, arr)                                           \
    {                                                                         \
        what, sec, size, arr, sizeof arr / sizeof arr[0]                      \
    }
static const struct rkind k_workflow = RKIND(
    "workflow", PR_SEC_WORKFLOW, PR_WORKFLOW_SIZE, workflow_fields);
static const struct rkind k_param = RKIND("parameter", PR_SEC_PARAMS,
                                          PR_PARAM_SIZE, param_fields);
static const struct rkind k_step = RKIND("step", PR_SEC_STEPS, PR_STEP_SIZE,
                                         step_fields);
static const struct rkind k_model = RKIND("model", PR_SEC_MODELS,
                                          PR_MODEL_SIZE, model_fields);
static const struct rkind k_phase = RKIND("phase", PR_SEC_PHASES,
                                          PR_PHASE_SIZE, phase_fields);
static const struct rkind k_tool = RKIND("tool", PR_SEC_TOOLS, PR_TOOL_SIZE,
                                         tool_fields);
static const struct rkind k_agg = RKIND("aggregate", PR_SEC_AGGS, PR_AGG_SIZE,
                                        agg_fields);
static const struct rkind k_alert = RKIND("alert", PR_SEC_ALERTS,
                                          PR_ALERT_SIZE, alert_fields);
static const struct rkind k_subplan = RKIND("subplan", PR_SEC_SUBPLANS,
                                            PR_SUBPLAN_SIZE, subplan_fields);
static const struct rkind k_prompt = RKIND("prompt", PR_SEC_PROMPTS,
                                           PR_PROMPT_SIZE, prompt_fields);
static const struct rkind k_otype = RKIND("output types", PR_SEC_OTYPES,
                                          PR_OTYPE_SIZE, otype_fields);
#undef RKIND

static const char *const sec_names[PR_SEC_COUNT + 1] = {
    [PR_SEC_STRINGS] = "strings", [PR_SEC_WORKFLOW] = "workflow",
    [PR_SEC_PARAMS] = "params",   [PR_SEC_STEPS] = "steps",
    [PR_SEC_LISTS] = "lists",     [PR_SEC_INTERPS] = "interps",
    [PR_SEC_PARTS] = "parts",     [PR_SEC_TVALS] = "tvals",
    [PR_SEC_CODE] = "code",       [PR_SEC_MODELS] = "models",
    [PR_SEC_PHASES] = "phases",   [PR_SEC_TOOLS] = "tools",
    [PR_SEC_AGGS] = "aggs",       [PR_SEC_ALERTS] = "alerts",
    [PR_SEC_PROMPTS] = "prompts", [PR_SEC_SUBPLANS] = "subplans",
    [PR_SEC_OTYPES] = "otypes",
};

/* The minor version that added each section: in a plan of an earlier
 * minor version the section is unknown, so skipped and not required.
 * Format 3.0 has them all. */
static const uint8_t sec_minor[PR_SEC_COUNT + 1] = {[PR_SEC_OTYPES] = 2};

/* Record size of each section; 0: not an array of records. */
static const uint32_t sec_record[PR_SEC_COUNT + 1] = {
    [PR_SEC_WORKFLOW] = PR_WORKFLOW_SIZE, [PR_SEC_PARAMS] = PR_PARAM_SIZE,
    [PR_SEC_STEPS] = PR_STEP_SIZE,        [PR_SEC_LISTS] = 4,
    [PR_SEC_INTERPS] = PR_INTERP_SIZE,    [PR_SEC_PARTS] = PR_PART_SIZE,
    [PR_SEC_TVALS] = PR_TVAL_SIZE,        [PR_SEC_MODELS] = PR_MODEL_SIZE,
    [PR_SEC_PHASES] = PR_PHASE_SIZE,      [PR_SEC_TOOLS] = PR_TOOL_SIZE,
    [PR_SEC_AGGS] = PR_AGG_SIZE,          [PR_SEC_ALERTS] = PR_ALERT_SIZE,
    [PR_SEC_PROMPTS] = PR_PROMPT_SIZE,    [PR_SEC_OTYPES] = PR_OTYPE_SIZE,
};

/* ---- the validation context ---- */

struct vctx {
    struct pr_plan *p;
    char *err;
    size_t errcap;
    uint8_t *starts;  /* bit per STRINGS byte: a record begins */
    uint16_t *jdepth; /* per CODE byte, see verify_code */
    const char *what; /* the record being checked, for messages */
    uint32_t idx;
    bool single;    /* the one workflow record: no index */
    unsigned depth; /* levels of embedding above this plan */
};

static int fail(struct vctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct vctx *c, const char *fmt, ...)
{
    if (c->err && c->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A failure inside a record: "step 3: " before the reason. */
static int rfail(struct vctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int rfail(struct vctx *c, const char *fmt, ...)
{
    if (!c->err || !c->errcap)
        return -1;
    int n = c->single ? snprintf(c->err, c->errcap, "%s: ", c->what)
                      : snprintf(c->err, c->errcap, "%s %lu: ", c->what,
                                 (unsigned long)c->idx);
    if (n < 0 || (size_t)n >= c->errcap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errcap - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *sec_name(uint32_t id)
{
    return id >= 1 && id <= PR_SEC_COUNT ? sec_names[id] : "unknown";
}

/* ---- header and section table ---- */

static bool is_text_byte(uint8_t b)
{
    return b == '\r' || b == '\n' || b == 0x1a;
}

/* The first four bytes of the magic are intact and the probe after them
 * is a run of CR, LF and SUB bytes in another arrangement: a text-mode
 * conversion added or dropped some. */
static bool text_damaged(const uint8_t *d, size_t size)
{
    static const uint8_t m[8] = PR_PLAN_MAGIC;
    if (size < 5 || memcmp(d, m, 4) != 0)
        return false;
    size_t j = 4;
    while (j < size && j < 13 && is_text_byte(d[j]))
        j++;
    return j > 4 && j < 13;
}

static int check_header(struct vctx *c, const uint8_t *d, size_t size)
{
    static const uint8_t m[8] = PR_PLAN_MAGIC;
    size_t probe = size < 8 ? size : 8;
    if (memcmp(d, m, probe) != 0) {
        if (size >= 4 && d[0] == (m[0] & 0x7f) && memcmp(d + 1, m + 1, 3) == 0)
            return fail(c, "damaged in transfer (high bit stripped)");
        if (text_damaged(d, size))
            return fail(c, "damaged in transfer (text-mode conversion)");
        return fail(c, "not a plan file (bad magic)");
    }
    if (size < PR_PLAN_HEADER_SIZE)
        return fail(c,
                    "truncated: %zu bytes, shorter than the %d-byte "
                    "header",
                    size, PR_PLAN_HEADER_SIZE);
    uint16_t major = pr_rd_u16(d + PR_HDR_MAJOR);
    uint16_t minor = pr_rd_u16(d + PR_HDR_MINOR);
    if (major > PR_PLAN_MAJOR)
        return fail(c,
                    "plan format %u.%u is newer than this version of "
                    "poml reads (%d.x)",
                    major, minor, PR_PLAN_MAJOR);
    if (major < PR_PLAN_MAJOR)
        return fail(c, "plan format %u.%u is not supported (%d.x expected)",
                    major, minor, PR_PLAN_MAJOR);
    uint32_t hsize = pr_rd_u32(d + PR_HDR_SIZE);
    if (hsize != PR_PLAN_HEADER_SIZE)
        return fail(c, "header size %lu, expected %d", (unsigned long)hsize,
                    PR_PLAN_HEADER_SIZE);
    uint64_t fsize = pr_rd_u64(d + PR_HDR_FILE_SIZE);
    if (fsize > size)
        return fail(c, "truncated: header says %llu bytes, file has %zu",
                    (unsigned long long)fsize, size);
    if (fsize < size)
        return fail(c, "trailing bytes: header says %llu bytes, file has %zu",
                    (unsigned long long)fsize, size);
    uint32_t flags = pr_rd_u32(d + PR_HDR_FLAGS);
    if (flags)
        return fail(c, "unknown incompatible flags 0x%lx",
                    (unsigned long)flags);
    for (int i = PR_HDR_RESERVED; i < PR_PLAN_HEADER_SIZE; i++)
        if (d[i])
            return fail(c, "reserved header bytes are not zero");
    uint8_t h[PR_PLAN_HEADER_SIZE];
    memcpy(h, d, sizeof h);
    memset(h + PR_HDR_CRC, 0, 8); /* both checksums */
    if (pr_crc32c(0, h, sizeof h) != pr_rd_u32(d + PR_HDR_CRC))
        return fail(c, "header checksum mismatch");
    if (pr_crc32c(0, d + PR_PLAN_HEADER_SIZE, size - PR_PLAN_HEADER_SIZE) !=
        pr_rd_u32(d + PR_HDR_BODY_CRC))
        return fail(c, "body checksum mismatch (file damaged)");
    c->p->major = major;
    c->p->minor = minor;
    return 0;
}

struct ent {
    uint32_t id;
    uint64_t off, size;
};

static int by_offset(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return (x->size > y->size) - (x->size < y->size);
}

static int check_sections(struct vctx *c, const uint8_t *d, size_t size)
{
    uint64_t n = pr_rd_u32(d + PR_HDR_NSECTIONS);
    uint64_t table = pr_rd_u64(d + PR_HDR_TABLE);
    if (table < PR_PLAN_HEADER_SIZE || table > size ||
        n * PR_ENT_BYTES > size - table)
        return fail(c,
                    "section table (%llu entries at %llu) lies outside "
                    "the file",
                    (unsigned long long)n, (unsigned long long)table);
    struct ent *e = malloc((n ? n : 1) * sizeof *e);
    if (!e)
        return fail(c, "out of memory");
    uint32_t prev = 0;
    int rc = -1;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *t = d + table + i * PR_ENT_BYTES;
        uint32_t id = pr_rd_u32(t + PR_ENT_ID);
        uint32_t fl = pr_rd_u32(t + PR_ENT_FLAGS);
        uint64_t off = pr_rd_u32(t + PR_ENT_OFFSET);
        uint64_t sz = pr_rd_u32(t + PR_ENT_SIZE);
        if (i > 0 && id <= prev) {
            fail(c,
                 id == prev ? "section %lu (%s) listed twice"
                            : "section table not sorted at section %lu "
                              "(%s)",
                 (unsigned long)id, sec_name(id));
            goto out;
        }
        prev = id;
        if (fl) {
            fail(c, "section %lu (%s) has flags 0x%lx", (unsigned long)id,
                 sec_name(id), (unsigned long)fl);
            goto out;
        }
        if (off < PR_PLAN_HEADER_SIZE || off > table || sz > table - off) {
            fail(c, "section %lu (%s) lies outside the file",
                 (unsigned long)id, sec_name(id));
            goto out;
        }
        if (off % 8) {
            fail(c, "section %lu (%s) is not aligned to 8 bytes",
                 (unsigned long)id, sec_name(id));
            goto out;
        }
        e[i].id = id;
        e[i].off = off;
        e[i].size = sz;
        if (id >= 1 && id <= PR_SEC_COUNT && sec_minor[id] <= c->p->minor) {
            c->p->sec[id].p = d + off;
            c->p->sec[id].size = (uint32_t)sz;
        }
    }
    qsort(e, n, sizeof *e, by_offset);
    uint64_t end = PR_PLAN_HEADER_SIZE;
    uint32_t last = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (!e[i].size)
            continue;
        if (e[i].off < end) {
            fail(c, "section %lu (%s) overlaps section %lu (%s)",
                 (unsigned long)e[i].id, sec_name(e[i].id),
                 (unsigned long)last, sec_name(last));
            goto out;
        }
        end = e[i].off + e[i].size;
        last = e[i].id;
    }
    for (uint32_t id = 1; id <= PR_SEC_COUNT; id++) {
        if (sec_minor[id] > c->p->minor)
            continue;
        if (!c->p->sec[id].p) {
            fail(c, "section %lu (%s) is missing", (unsigned long)id,
                 sec_names[id]);
            goto out;
        }
        uint32_t rs = sec_record[id], sz = c->p->sec[id].size;
        if (id == PR_SEC_WORKFLOW && sz != PR_WORKFLOW_SIZE) {
            fail(c,
                 "section 2 (workflow) has %lu bytes, not one record of "
                 "%d",
                 (unsigned long)sz, PR_WORKFLOW_SIZE);
            goto out;
        }
        if (rs && sz % rs) {
            fail(c, "section %lu (%s) size %lu is not a multiple of %lu",
                 (unsigned long)id, sec_names[id], (unsigned long)sz,
                 (unsigned long)rs);
            goto out;
        }
    }
    rc = 0;
out:
    free(e);
    return rc;
}

/* ---- strings ---- */

static int check_strings(struct vctx *c)
{
    const uint8_t *s = c->p->sec[PR_SEC_STRINGS].p;
    uint32_t size = c->p->sec[PR_SEC_STRINGS].size;
    if (size < 5 || pr_rd_u32(s) != 0 || s[4] != 0)
        return fail(c, "strings: the table does not start with the empty "
                       "string");
    c->starts = calloc((size_t)size / 8 + 1, 1);
    if (!c->starts)
        return fail(c, "out of memory");
    uint64_t pos = 0;
    while (pos < size) {
        if (size - pos < 5)
            return fail(c, "strings: record at 0x%llx is truncated",
                        (unsigned long long)pos);
        uint64_t len = pr_rd_u32(s + pos);
        if (len > size - pos - 5)
            return fail(c,
                        "strings: record at 0x%llx has length %llu past "
                        "the end",
                        (unsigned long long)pos, (unsigned long long)len);
        if (s[pos + 4 + len])
            return fail(c, "strings: record at 0x%llx lacks its NUL",
                        (unsigned long long)pos);
        c->starts[pos / 8] |= (uint8_t)(1u << (pos % 8));
        pos += len + 5;
    }
    return 0;
}

static bool str_ok(const struct vctx *c, uint32_t ref)
{
    return ref < c->p->sec[PR_SEC_STRINGS].size &&
           (c->starts[ref / 8] >> (ref % 8) & 1);
}

/* ---- bytecode ---- */

/* Verifies one expression's code so that pr_eval can only fail on values,
 * never on the code: every opcode known, operands inside the code and
 * valid (strings, roots, functions and arity, finite numbers), jumps
 * forward onto instruction starts, the stack simulated on every path never
 * below empty nor above PR_EVAL_STACK, both paths into a jump target at
 * the same depth, exactly one value at END, END the last instruction.
 * c->jdepth holds the depth + 1 expected at pending jump targets. */
static int verify_code(struct vctx *c, const char *field, const uint8_t *code,
                       uint32_t len)
{
    uint16_t *jd = c->jdepth;
    size_t pc = 0;
    unsigned depth = 0;
    int rc = -1;
#define BAD(...)                                                              \
    do {                                                                      \
        char why_[96];                                                        \
        snprintf(why_, sizeof why_, __VA_ARGS__);                             \
        rfail(c, "invalid bytecode in %s at byte %zu: %s", field, pc, why_);  \
        goto out;                                                             \
    } while (0)
    while (pc < len) {
        if (jd[pc] && jd[pc] - 1u != depth)
            BAD("stack depth %u at jump target, %u on the jump", depth,
                jd[pc] - 1u);
        struct pr_insn in;
        int d = pr_decode(code, len, pc, &in);
        if (d == PR_DECODE_BAD_OPCODE)
            BAD("unknown opcode 0x%02x", in.op);
        if (d == PR_DECODE_TRUNCATED)
            BAD("truncated %s instruction", pr_op_name(in.op));
        for (size_t k = pc + 1; k < in.next; k++)
            if (jd[k])
                BAD("jump to byte %zu inside the instruction", k);
        unsigned need = in.pops;
        switch (in.arg) {
        case PR_ARG_F64:
            if (!isfinite(in.num))
                BAD("number is not finite");
            break;
        case PR_ARG_STR:
            if (!str_ok(c, in.u32))
                BAD("string reference 0x%lx out of range",
                    (unsigned long)in.u32);
            break;
        case PR_ARG_ROOT:
            if (in.a >= PR_ROOT_COUNT)
                BAD("unknown root %u", in.a);
            break;
        case PR_ARG_STEP:
            if (in.u32 >= c->p->nsteps)
                BAD("step %lu out of range (%lu steps)", (unsigned long)in.u32,
                    (unsigned long)c->p->nsteps);
            break;
        case PR_ARG_COUNT:
            need += in.a;
            break;
        case PR_ARG_CALL:
            if (pr_func_arity(in.a) < 0)
                BAD("unknown function %u", in.a);
            if ((int)in.b != pr_func_arity(in.a))
                BAD("%s() called with %u arguments", pr_func_name(in.a), in.b);
            need += in.b;
            break;
        case PR_ARG_TARGET:
            if (in.u32 < in.next || in.u32 >= len)
                BAD("jump target %lu", (unsigned long)in.u32);
            break;
        case PR_ARG_NONE:
            break;
        }
        if (depth < need)
            BAD("stack underflow");
        if (in.op == PR_OP_END) {
            if (depth != 1)
                BAD("%u values left at end", depth);
            if (in.next != len)
                BAD("code continues after end");
            rc = 0;
            goto out;
        }
        depth -= need;
        if (in.op == PR_OP_AND || in.op == PR_OP_OR) {
            /* the jump pushes a boolean where the value was */
            uint16_t want = (uint16_t)(depth + 2);
            if (jd[in.u32] && jd[in.u32] != want)
                BAD("jump to byte %lu at depth %u, another at %u",
                    (unsigned long)in.u32, depth + 1, jd[in.u32] - 1u);
            jd[in.u32] = want;
        } else if (++depth > PR_EVAL_STACK) {
            BAD("stack overflow");
        }
        pc = in.next;
    }
    BAD("missing end");
#undef BAD
out:
    memset(jd, 0, (size_t)len * sizeof *jd);
    return rc;
}

/* (offset, length) inside CODE: 1 when present, 0 when absent (length
 * and offset 0), -1 after a failure.  ABSENT and WHAT word the messages
 * ("absent code", "code"). */
static int code_range(struct vctx *c, const char *field, uint32_t off,
                      uint32_t len, const char *absent, const char *what)
{
    uint32_t csize = c->p->sec[PR_SEC_CODE].size;
    if (len == 0)
        return off ? rfail(c, "%s: %s with offset %lu", field, absent,
                           (unsigned long)off)
                   : 0;
    if (off > csize || len > csize - off)
        return rfail(c,
                     "%s: %s %lu+%lu outside the code section (%lu "
                     "bytes)",
                     field, what, (unsigned long)off, (unsigned long)len,
                     (unsigned long)csize);
    return 1;
}

/* A CODE reference: (offset, length) inside CODE, verified; or absent. */
static int check_code(struct vctx *c, const char *field, uint32_t off,
                      uint32_t len)
{
    int rc = code_range(c, field, off, len, "absent code", "code");
    if (rc <= 0)
        return rc;
    return verify_code(c, field, c->p->sec[PR_SEC_CODE].p + off, len);
}

/* A TCODE reference: (offset, length) inside CODE, a template's code that
 * pr_tpl_verify accepts; length 0 is the empty template. */
static int check_tcode(struct vctx *c, const char *field, uint32_t off,
                       uint32_t len)
{
    char why[128];
    int rc = code_range(c, field, off, len, "empty template", "template");
    if (rc <= 0)
        return rc;
    if (pr_tpl_verify(c->p->sec[PR_SEC_CODE].p + off, len, c->p->nprompts, why,
                      sizeof why) < 0)
        return rfail(c, "%s: invalid template code %s", field, why);
    return 0;
}

/* ---- lists ---- */

static int check_list(struct vctx *c, const char *field, unsigned kind,
                      uint32_t off, uint32_t n)
{
    const struct pr_plan *p = c->p;
    if (off > p->nlists || n > p->nlists - off)
        return rfail(c, "%s: list %lu+%lu outside lists (%lu entries)", field,
                     (unsigned long)off, (unsigned long)n,
                     (unsigned long)p->nlists);
    const uint8_t *l = p->sec[PR_SEC_LISTS].p + (size_t)off * 4;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t v = pr_rd_u32(l + (size_t)k * 4);
        switch (kind) {
        case PR_LK_STR:
            if (!str_ok(c, v))
                return rfail(c,
                             "%s[%lu]: string reference 0x%lx out of "
                             "range",
                             field, (unsigned long)k, (unsigned long)v);
            break;
        case PR_LK_MODEL:
            if (v >= p->nmodels)
                return rfail(c,
                             "%s[%lu]: model %lu out of range (%lu "
                             "models)",
                             field, (unsigned long)k, (unsigned long)v,
                             (unsigned long)p->nmodels);
            break;
        case PR_LK_STEP:
        case PR_LK_EDGE:
            if (kind == PR_LK_EDGE)
                v &= ~PR_EDGE_AFTER;
            if (v >= p->nsteps)
                return rfail(c,
                             "%s[%lu]: step %lu out of range (%lu "
                             "steps)",
                             field, (unsigned long)k, (unsigned long)v,
                             (unsigned long)p->nsteps);
            break;
        default:
            return rfail(c, "%s: unknown list kind %u", field, kind);
        }
    }
    return 0;
}

/* ---- records ---- */

static int check_index(struct vctx *c, const char *field, const char *what,
                       uint32_t v, uint32_t count)
{
    if (v != PR_PLAN_NONE && v >= count)
        return rfail(c, "%s: %s %lu out of range (%lu)", field, what,
                     (unsigned long)v, (unsigned long)count);
    return 0;
}

/* One record against its field list. */
static int check_record(struct vctx *c, const struct rkind *k,
                        const uint8_t *rule, const uint8_t *r)
{
    const struct pr_plan *p = c->p;
    for (size_t i = 0; i < k->nf; i++) {
        const struct field *f = &k->f[i];
        const uint8_t *a = r + f->off;
        uint32_t v = 0;
        switch (f->type) {
        case PR_FT_U32:
            if ((rule[i] & RULE_POSITIVE) && pr_rd_u32(a) == 0)
                return rfail(c, "%s: 0, must be at least 1", f->name);
            if (f->arg && pr_rd_u32(a) > pr_limit_max(f->arg))
                return rfail(c, "%s: %lu is above the limit of %lu", f->name,
                             (unsigned long)pr_rd_u32(a),
                             (unsigned long)pr_limit_max(f->arg));
            break;
        case PR_FT_U8:
        case PR_FT_U64:
            break;
        case PR_FT_F64: {
            double x = pr_rd_f64(a);
            if (!isfinite(x))
                return rfail(c, "%s: number is not finite", f->name);
            if ((rule[i] & RULE_NONNEG) && x < 0)
                return rfail(c, "%s: %g is negative", f->name, x);
            if ((rule[i] & RULE_POSITIVE) && !(x > 0))
                return rfail(c, "%s: %g, must be positive", f->name, x);
            break;
        }
        case PR_FT_ENUM:
            if (a[0] >= f->arg)
                return rfail(c, "%s: value %u out of range (below %u)",
                             f->name, a[0], f->arg);
            break;
        case PR_FT_FLAGS:
            if (a[0] & ~f->arg)
                return rfail(c, "%s: unknown bits 0x%02x", f->name,
                             (unsigned)(a[0] & ~f->arg));
            break;
        case PR_FT_ZERO:
            if (a[0])
                return rfail(c, "%s: padding is not zero", f->name);
            break;
        case PR_FT_ZERO32:
            if (pr_rd_u32(a))
                return rfail(c, "%s: padding is not zero", f->name);
            break;
        case PR_FT_STR:
        case PR_FT_OPTSTR:
            v = pr_rd_u32(a);
            if (f->type == PR_FT_OPTSTR && v == PR_PLAN_NONE)
                break;
            if (!str_ok(c, v))
                return rfail(c, "%s: string reference 0x%lx out of range",
                             f->name, (unsigned long)v);
            break;
        case PR_FT_CODE:
            if (check_code(c, f->name, pr_rd_u32(a), pr_rd_u32(a + 4)) < 0)
                return -1;
            break;
        case PR_FT_TCODE:
            if (check_tcode(c, f->name, pr_rd_u32(a), pr_rd_u32(a + 4)) < 0)
                return -1;
            break;
        case PR_FT_INTERP:
            if (check_index(c, f->name, "interp", pr_rd_u32(a), p->ninterps) <
                0)
                return -1;
            break;
        case PR_FT_TVAL:
            if (check_index(c, f->name, "template value", pr_rd_u32(a),
                            p->ntvals) < 0)
                return -1;
            break;
        case PR_FT_STEP:
            if (check_index(c, f->name, "step", pr_rd_u32(a), p->nsteps) < 0)
                return -1;
            break;
        case PR_FT_MODEL:
            if (check_index(c, f->name, "model", pr_rd_u32(a), p->nmodels) < 0)
                return -1;
            break;
        case PR_FT_PHASE:
            if (check_index(c, f->name, "phase", pr_rd_u32(a), p->nphases) < 0)
                return -1;
            break;
        case PR_FT_LIST:
            if (check_list(c, f->name, f->arg, pr_rd_u32(a),
                           pr_rd_u32(a + 4)) < 0)
                return -1;
            break;
        default:
            return rfail(c, "%s: unknown field type %u", f->name, f->type);
        }
    }
    return 0;
}

#define MAX_FIELDS 64
_Static_assert(sizeof step_fields / sizeof step_fields[0] <= MAX_FIELDS,
               "raise MAX_FIELDS");
_Static_assert(sizeof workflow_fields / sizeof workflow_fields[0] <=
                   MAX_FIELDS,
               "raise MAX_FIELDS");

/* N records of kind K at BASE. */
static int check_array(struct vctx *c, const struct rkind *k,
                       const uint8_t *base, uint32_t n)
{
    uint8_t rule[MAX_FIELDS] = {0};
    char key[40];
    if (k->nf > MAX_FIELDS)
        return fail(c, "internal error: too many fields");
    for (size_t i = 0; i < k->nf; i++) {
        bool num = k->f[i].type == PR_FT_F64 || k->f[i].type == PR_FT_U32;
        snprintf(key, sizeof key, " %s ", k->f[i].name);
        if (k->f[i].type == PR_FT_F64 && strstr(nonneg_f64, key))
            rule[i] |= RULE_NONNEG;
        if (num && strstr(positive, key))
            rule[i] |= RULE_POSITIVE;
    }
    c->what = k->what;
    c->single = k->sec == PR_SEC_WORKFLOW;
    for (uint32_t i = 0; i < n; i++) {
        c->idx = i;
        if (check_record(c, k, rule, base + (size_t)i * k->size) < 0)
            return -1;
    }
    c->single = false;
    return 0;
}

/* Every record of a record section. */
static int check_records(struct vctx *c, const struct rkind *k)
{
    const struct pr_sec *s = &c->p->sec[k->sec];
    return check_array(c, k, s->p, s->size / k->size);
}

/* A 64-bit mix (splitmix64's finalizer) of one dependency edge. */
static uint64_t edge_mix(uint32_t from, uint32_t to)
{
    uint64_t x = ((uint64_t)from << 32 | to) + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Topological order and the dependents lists, in O(steps + edges): each
 * dependency comes before its step, each dependent after; the number of
 * dependents each step lists equals the number of steps naming it as a
 * dependency, and an order-independent sum of mixed (dependency,
 * dependent, kind) triples is the same on both sides. */
static int check_graph(struct vctx *c)
{
    const struct pr_plan *p = c->p;
    const uint8_t *st = p->sec[PR_SEC_STEPS].p;
    const uint8_t *ls = p->sec[PR_SEC_LISTS].p;
    uint32_t *in = calloc((size_t)p->nsteps + 1, sizeof *in);
    if (!in)
        return fail(c, "out of memory");
    uint64_t sum_deps = 0, sum_dependents = 0;
    int rc = -1;
    c->what = "step";
    for (uint32_t i = 0; i < p->nsteps; i++) {
        const uint8_t *r = st + (size_t)i * PR_STEP_SIZE;
        uint32_t off = pr_rd_u32(r + PR_STEP_OFF_deps);
        uint32_t n = pr_rd_u32(r + PR_STEP_OFF_deps + 4);
        c->idx = i;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t e = pr_rd_u32(ls + ((size_t)off + k) * 4);
            uint32_t d = e & ~PR_EDGE_AFTER;
            if (d >= i) {
                rfail(c, "dependency %lu does not come before it",
                      (unsigned long)d);
                goto out;
            }
            in[d]++;
            sum_deps += edge_mix(d, e & PR_EDGE_AFTER ? i | PR_EDGE_AFTER : i);
        }
        off = pr_rd_u32(r + PR_STEP_OFF_dependents);
        n = pr_rd_u32(r + PR_STEP_OFF_dependents + 4);
        for (uint32_t k = 0; k < n; k++) {
            uint32_t e = pr_rd_u32(ls + ((size_t)off + k) * 4);
            uint32_t d = e & ~PR_EDGE_AFTER;
            if (d <= i) {
                rfail(c, "dependent %lu does not come after it",
                      (unsigned long)d);
                goto out;
            }
            sum_dependents += edge_mix(i, e);
        }
    }
    for (uint32_t i = 0; i < p->nsteps; i++) {
        uint32_t n = pr_rd_u32(st + (size_t)i * PR_STEP_SIZE +
                               PR_STEP_OFF_dependents + 4);
        if (n != in[i]) {
            c->idx = i;
            rfail(c, "lists %lu dependents, but %lu steps depend on it",
                  (unsigned long)n, (unsigned long)in[i]);
            goto out;
        }
    }
    if (sum_deps != sum_dependents) {
        fail(c, "steps: the dependents lists are not the inverse of the "
                "dependency lists");
        goto out;
    }
    rc = 0;
out:
    free(in);
    return rc;
}

/* Fields that belong to one kind of step are absent on the others. */
static int check_step_kinds(struct vctx *c)
{
    const struct pr_plan *p = c->p;
    c->what = "step";
    for (uint32_t i = 0; i < p->nsteps; i++) {
        const uint8_t *r = p->sec[PR_SEC_STEPS].p + (size_t)i * PR_STEP_SIZE;
        c->idx = i;
        if (pr_rd_u32(r + PR_STEP_OFF_score + 4) &&
            r[PR_STEP_OFF_kind] != PR_STEP_LLM)
            return rfail(c, "score: set on a step that is not an LLM step");
        double ttl = pr_rd_f64(r + PR_STEP_OFF_cache_ttl);
        if (!(ttl >= 0) || ttl > 1e12)
            return rfail(c, "cache_ttl: not a number of seconds from 0");
        if (ttl > 0 && !(r[PR_STEP_OFF_flags] & PR_SF_CACHE))
            return rfail(c, "cache_ttl: set on a step that is not cached");
    }
    return 0;
}

static int check_interps(struct vctx *c)
{
    const struct pr_plan *p = c->p;
    c->what = "interp";
    for (uint32_t i = 0; i < p->ninterps; i++) {
        const uint8_t *r = p->sec[PR_SEC_INTERPS].p +
                           (size_t)i * PR_INTERP_SIZE;
        uint32_t first = pr_rd_u32(r + PR_INTERP_OFF_first);
        uint32_t n = pr_rd_u32(r + PR_INTERP_OFF_n);
        c->idx = i;
        if (first > p->nparts || n > p->nparts - first)
            return rfail(c, "parts %lu+%lu out of range (%lu parts)",
                         (unsigned long)first, (unsigned long)n,
                         (unsigned long)p->nparts);
        if (n == 0 && first)
            return rfail(c, "no parts but first part %lu",
                         (unsigned long)first);
        uint8_t pure = r[PR_INTERP_OFF_pure];
        if (pure > 1)
            return rfail(c, "pure: %u is not a boolean", pure);
        for (int k = PR_INTERP_OFF_pure + 1; k < PR_INTERP_SIZE; k++)
            if (r[k])
                return rfail(c, "padding is not zero");
    }
    c->what = "interp part";
    for (uint32_t i = 0; i < p->nparts; i++) {
        const uint8_t *r = p->sec[PR_SEC_PARTS].p + (size_t)i * PR_PART_SIZE;
        uint8_t kind = r[PR_PART_OFF_kind];
        uint32_t text = pr_rd_u32(r + PR_PART_OFF_text);
        uint32_t off = pr_rd_u32(r + PR_PART_OFF_code);
        uint32_t len = pr_rd_u32(r + PR_PART_OFF_code + 4);
        c->idx = i;
        if (kind > 1)
            return rfail(c, "kind: value %u out of range (below 2)", kind);
        if (r[PR_PART_OFF_pad0] || r[PR_PART_OFF_pad1] || r[PR_PART_OFF_pad2])
            return rfail(c, "padding is not zero");
        if (!str_ok(c, text))
            return rfail(c, "text: string reference 0x%lx out of range",
                         (unsigned long)text);
        if (kind == 0 && (off || len))
            return rfail(c, "text part with code %lu+%lu", (unsigned long)off,
                         (unsigned long)len);
        if (kind == 1 && len == 0)
            return rfail(c, "expression part without code");
        if (kind == 1 && check_code(c, "expression", off, len) < 0)
            return -1;
    }
    return 0;
}

static int check_tvals(struct vctx *c)
{
    const struct pr_plan *p = c->p;
    c->what = "template value";
    for (uint32_t i = 0; i < p->ntvals; i++) {
        const uint8_t *r = p->sec[PR_SEC_TVALS].p + (size_t)i * PR_TVAL_SIZE;
        uint8_t kind = r[PR_TVAL_OFF_kind], b = r[PR_TVAL_OFF_b];
        uint32_t interp = pr_rd_u32(r + PR_TVAL_OFF_interp);
        uint32_t first = pr_rd_u32(r + PR_TVAL_OFF_first);
        uint32_t n = pr_rd_u32(r + PR_TVAL_OFF_n);
        uint32_t keys = pr_rd_u32(r + PR_TVAL_OFF_keys);
        c->idx = i;
        if (kind >= PR_TV_KINDS)
            return rfail(c, "kind: value %u out of range (below %d)", kind,
                         PR_TV_KINDS);
        if (b > 1 || (kind != PR_TV_BOOL && b))
            return rfail(c, "bool: invalid value %u", b);
        for (int k = PR_TVAL_OFF_b + 1; k < PR_TVAL_OFF_num; k++)
            if (r[k])
                return rfail(c, "padding is not zero");
        double num = pr_rd_f64(r + PR_TVAL_OFF_num);
        if (!isfinite(num))
            return rfail(c, "number: not finite");
        if (kind == PR_TV_STR) {
            if (interp != PR_PLAN_NONE && interp >= p->ninterps)
                return rfail(c, "interp: %lu out of range (%lu)",
                             (unsigned long)interp,
                             (unsigned long)p->ninterps);
        } else if (interp) {
            return rfail(c, "interp: set on a value that is not a string");
        }
        if (kind != PR_TV_LIST && kind != PR_TV_MAP && (n || first))
            return rfail(c, "children on a value that is not a list or map");
        if (n && (first <= i || first > p->ntvals || n > p->ntvals - first))
            return rfail(c,
                         "children %lu+%lu not after it and in range "
                         "(%lu values)",
                         (unsigned long)first, (unsigned long)n,
                         (unsigned long)p->ntvals);
        if (!n && first)
            return rfail(c, "no children but first child %lu",
                         (unsigned long)first);
        if (kind == PR_TV_MAP) {
            if (check_list(c, "keys", PR_LK_STR, keys, n) < 0)
                return -1;
        } else if (keys) {
            return rfail(c, "keys: set on a value that is not a map");
        }
    }
    return 0;
}

/* ---- names steps give: prompt files, sub-workflows ---- */

static const char *printable(char out[48], const char *s, size_t n);

static int by_ref(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The string reference at OFF of every step (of kind KIND when it is not
 * -1, where it must be present) is one of REFS, which this sorts and
 * frees; else "FIELD: no WHAT 'name' in section SEC". */
static int check_step_refs(struct vctx *c, uint32_t *refs, size_t nrefs,
                           size_t off, int kind, const char *what,
                           const char *sec)
{
    const struct pr_plan *p = c->p;
    const char *field = off == PR_STEP_OFF_workflow ? "workflow"
                                                    : "prompt_file";
    int rc = 0;
    qsort(refs, nrefs, sizeof *refs, by_ref);
    c->what = "step";
    for (uint32_t i = 0; rc == 0 && i < p->nsteps; i++) {
        const uint8_t *r = p->sec[PR_SEC_STEPS].p + (size_t)i * PR_STEP_SIZE;
        uint32_t ref = pr_rd_u32(r + off);
        c->idx = i;
        if (kind >= 0 && r[PR_STEP_OFF_kind] != kind)
            continue;
        if (ref == PR_PLAN_NONE) {
            if (kind >= 0)
                rc = rfail(c, "%s: absent on a %s step", field, field);
        } else if (!bsearch(&ref, refs, nrefs, sizeof *refs, by_ref)) {
            size_t n;
            const char *w = pr_plan_str(p, ref, &n);
            char q[48];
            rc = rfail(c, "%s: no %s '%s' in section %s", field, what,
                       printable(q, w, n), sec);
        }
    }
    free(refs);
    return rc;
}

/* ---- prompts ---- */

/* A JSON field of a prompt: absent, or an object. */
static int check_json(struct vctx *c, const char *field, uint32_t ref)
{
    size_t n;
    const char *s = pr_plan_str(c->p, ref, &n);
    const char *end = NULL;
    if (ref == PR_PLAN_NONE)
        return 0;
    cJSON *j = cJSON_ParseWithOpts(s, &end, 0);
    bool ok = cJSON_IsObject(j) && end == s + n;
    cJSON_Delete(j);
    return ok ? 0 : rfail(c, "%s: not a JSON object", field);
}

/* Order and uniqueness by (kind, name); the JSON fields; the format. */
static int check_prompt_records(struct vctx *c)
{
    const struct pr_plan *p = c->p;
    const uint8_t *sec = p->sec[PR_SEC_PROMPTS].p;
    c->what = "prompt";
    for (uint32_t i = 0; i < p->nprompts; i++) {
        const uint8_t *r = sec + (size_t)i * PR_PROMPT_SIZE;
        size_t n, np;
        char q[48], qp[48];
        const char *name = pr_plan_str(p, pr_rd_u32(r + PR_PROMPT_OFF_name),
                                       &n);
        c->idx = i;
        if (!n)
            return rfail(c, "name: empty");
        if (memchr(name, 0, n))
            return rfail(c, "name: '%s' holds a NUL byte",
                         printable(q, name, n));
        if (i > 0) {
            const uint8_t *pr = r - PR_PROMPT_SIZE;
            const char *prev = pr_plan_str(
                p, pr_rd_u32(pr + PR_PROMPT_OFF_name), &np);
            uint8_t kind = r[PR_PROMPT_OFF_kind];
            uint8_t pkind = pr[PR_PROMPT_OFF_kind];
            int d = kind != pkind ? (kind > pkind ? 1 : -1)
                                  : pr_plan_name_cmp(name, n, prev, np);
            if (d == 0)
                return rfail(c, "name: '%s' is given twice",
                             printable(q, name, n));
            if (d < 0)
                return rfail(c,
                             "name: '%s' after '%s' is out of order "
                             "(records are sorted by kind, then name)",
                             printable(q, name, n), printable(qp, prev, np));
        }
        static const struct {
            const char *field;
            uint16_t off;
        } json[] = {{"config", PR_PROMPT_OFF_config},
                    {"input_schema", PR_PROMPT_OFF_input_schema},
                    {"input_default", PR_PROMPT_OFF_input_default},
                    {"output_schema", PR_PROMPT_OFF_output_schema}};
        for (size_t k = 0; k < sizeof json / sizeof json[0]; k++)
            if (check_json(c, json[k].field, pr_rd_u32(r + json[k].off)) < 0)
                return -1;
        uint32_t f = pr_rd_u32(r + PR_PROMPT_OFF_output_format);
        const char *fmt = pr_plan_str(p, f, &n);
        if (f != PR_PLAN_NONE && strcmp(fmt, "json") && strcmp(fmt, "text"))
            return rfail(c, "output_format: '%s' is not json or text",
                         printable(q, fmt, n));
    }
    return 0;
}

/* Every step naming a prompt file finds its record: a prompt whose name
 * is the very string reference of the step's prompt_file. */
static int check_prompt_steps(struct vctx *c)
{
    const struct pr_plan *p = c->p;
    uint32_t *refs = malloc(((size_t)p->nprompts + 1) * sizeof *refs);
    size_t nrefs = 0;
    if (!refs)
        return fail(c, "out of memory");
    for (uint32_t i = 0; i < p->nprompts; i++) {
        const uint8_t *r = p->sec[PR_SEC_PROMPTS].p +
                           (size_t)i * PR_PROMPT_SIZE;
        if (r[PR_PROMPT_OFF_kind] == PR_PROMPT_FILE)
            refs[nrefs++] = pr_rd_u32(r + PR_PROMPT_OFF_name);
    }
    return check_step_refs(c, refs, nrefs, PR_STEP_OFF_prompt_file, -1,
                           "prompt", "15 (prompts)");
}

static int check_prompts(struct vctx *c)
{
    if (check_prompt_records(c) < 0)
        return -1;
    return check_prompt_steps(c);
}

/* ---- sub-plans ---- */

static int load(struct pr_plan *p, const void *data, size_t size, char *err,
                size_t errcap, unsigned depth);

/* A name from the file, fit for a message: printable ASCII, shortened. */
static const char *printable(char out[48], const char *s, size_t n)
{
    size_t k = 0;
    for (; k < n && k < 40; k++) {
        unsigned char ch = (unsigned char)s[k];
        out[k] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (k < n)
        memcpy(out + k, "...", 3), k += 3;
    out[k] = '\0';
    return out;
}

/* The number of records: the first one's offset over 16. */
static int count_subplans(struct vctx *c)
{
    const struct pr_sec *s = &c->p->sec[PR_SEC_SUBPLANS];
    if (!s->size)
        return 0;
    if (s->size < PR_SUBPLAN_SIZE)
        return fail(c,
                    "section 16 (subplans) has %lu bytes, less than one "
                    "record",
                    (unsigned long)s->size);
    uint32_t first = pr_rd_u32(s->p + PR_SUBPLAN_OFF_offset);
    if (!first || first % PR_SUBPLAN_SIZE || first > s->size)
        return fail(c,
                    "section 16 (subplans): the first plan's offset %lu "
                    "does not end the records (a multiple of %d, not 0, "
                    "within the %lu bytes)",
                    (unsigned long)first, PR_SUBPLAN_SIZE,
                    (unsigned long)s->size);
    if (c->depth >= PR_PLAN_MAX_DEPTH)
        return fail(c,
                    "section 16 (subplans): plans nested deeper than %d "
                    "levels",
                    PR_PLAN_MAX_DEPTH);
    c->p->nsubplans = first / PR_SUBPLAN_SIZE;
    return 0;
}

/* Record I's name: not empty, no NUL, after the name before it. */
static int check_subplan_name(struct vctx *c, uint32_t i)
{
    const uint8_t *r = c->p->sec[PR_SEC_SUBPLANS].p +
                       (size_t)i * PR_SUBPLAN_SIZE;
    size_t n, np = 0;
    const char *name = pr_plan_str(c->p, pr_rd_u32(r + PR_SUBPLAN_OFF_name),
                                   &n);
    const char *prev = i ? pr_plan_str(c->p,
                                       pr_rd_u32(r - PR_SUBPLAN_SIZE +
                                                 PR_SUBPLAN_OFF_name),
                                       &np)
                         : NULL;
    char q[48], qp[48];
    if (!n)
        return rfail(c, "name: empty");
    if (memchr(name, 0, n))
        return rfail(c, "name: '%s' holds a NUL byte", printable(q, name, n));
    int d = prev ? pr_plan_name_cmp(prev, np, name, n) : -1;
    if (d == 0)
        return rfail(c, "name: '%s' is given twice", printable(q, name, n));
    if (d > 0)
        return rfail(c,
                     "name: '%s' after '%s' is out of order (names are "
                     "sorted)",
                     printable(q, name, n), printable(qp, prev, np));
    return 0;
}

/* The names, and the plans in record order inside the section, aligned,
 * none sharing a byte with the records or another plan. */
static int check_subplan_layout(struct vctx *c)
{
    const struct pr_sec *s = &c->p->sec[PR_SEC_SUBPLANS];
    uint64_t end = (uint64_t)c->p->nsubplans * PR_SUBPLAN_SIZE;
    c->what = "subplan";
    for (uint32_t i = 0; i < c->p->nsubplans; i++) {
        const uint8_t *r = s->p + (size_t)i * PR_SUBPLAN_SIZE;
        uint64_t off = pr_rd_u32(r + PR_SUBPLAN_OFF_offset);
        uint64_t size = pr_rd_u32(r + PR_SUBPLAN_OFF_size);
        c->idx = i;
        if (check_subplan_name(c, i) < 0)
            return -1;
        if (off % 8)
            return rfail(c, "plan at offset %llu is not aligned to 8 bytes",
                         (unsigned long long)off);
        if (off < end)
            return rfail(c,
                         "plan at offset %llu starts before %llu, the end "
                         "of the plan before it",
                         (unsigned long long)off, (unsigned long long)end);
        if (off > s->size || size > s->size - off)
            return rfail(c,
                         "plan %llu+%llu lies outside the section (%lu "
                         "bytes)",
                         (unsigned long long)off, (unsigned long long)size,
                         (unsigned long)s->size);
        end = off + size;
    }
    return 0;
}

/* Every workflow step names a sub-plan: its `workflow` is the string
 * reference of a record's name. */
static int check_workflow_steps(struct vctx *c)
{
    const struct pr_plan *p = c->p;
    uint32_t *refs = malloc(((size_t)p->nsubplans + 1) * sizeof *refs);
    if (!refs)
        return fail(c, "out of memory");
    for (uint32_t i = 0; i < p->nsubplans; i++)
        refs[i] = pr_rd_u32(p->sec[PR_SEC_SUBPLANS].p +
                            (size_t)i * PR_SUBPLAN_SIZE + PR_SUBPLAN_OFF_name);
    return check_step_refs(c, refs, p->nsubplans, PR_STEP_OFF_workflow,
                           PR_STEP_WORKFLOW, "plan for", "16 (subplans)");
}

/* Each embedded plan, by the same rules, one level deeper. */
static int check_subplan_plans(struct vctx *c)
{
    const struct pr_sec *s = &c->p->sec[PR_SEC_SUBPLANS];
    for (uint32_t i = 0; i < c->p->nsubplans; i++) {
        const uint8_t *r = s->p + (size_t)i * PR_SUBPLAN_SIZE;
        struct pr_plan sub;
        char why[512], q[48];
        size_t n;
        const char *name = pr_plan_str(c->p,
                                       pr_rd_u32(r + PR_SUBPLAN_OFF_name), &n);
        if (load(&sub, s->p + pr_rd_u32(r + PR_SUBPLAN_OFF_offset),
                 pr_rd_u32(r + PR_SUBPLAN_OFF_size), why, sizeof why,
                 c->depth + 1) < 0)
            return fail(c, "subplan %lu (%s): %s", (unsigned long)i,
                        printable(q, name, n), why);
    }
    return 0;
}

static int check_subplans(struct vctx *c)
{
    if (sec_minor[PR_SEC_SUBPLANS] > c->p->minor)
        return 0;
    if (count_subplans(c) < 0 ||
        check_array(c, &k_subplan, c->p->sec[PR_SEC_SUBPLANS].p,
                    c->p->nsubplans) < 0 ||
        check_subplan_layout(c) < 0 || check_workflow_steps(c) < 0)
        return -1;
    return check_subplan_plans(c);
}

static int validate(struct vctx *c, const uint8_t *d, size_t size)
{
    struct pr_plan *p = c->p;
    if (check_header(c, d, size) < 0 || check_sections(c, d, size) < 0)
        return -1;
    p->base = d;
    p->size = size;
    p->nparams = p->sec[PR_SEC_PARAMS].size / PR_PARAM_SIZE;
    p->nsteps = p->sec[PR_SEC_STEPS].size / PR_STEP_SIZE;
    p->nmodels = p->sec[PR_SEC_MODELS].size / PR_MODEL_SIZE;
    p->nphases = p->sec[PR_SEC_PHASES].size / PR_PHASE_SIZE;
    p->ntools = p->sec[PR_SEC_TOOLS].size / PR_TOOL_SIZE;
    p->naggs = p->sec[PR_SEC_AGGS].size / PR_AGG_SIZE;
    p->nalerts = p->sec[PR_SEC_ALERTS].size / PR_ALERT_SIZE;
    p->ninterps = p->sec[PR_SEC_INTERPS].size / PR_INTERP_SIZE;
    p->nparts = p->sec[PR_SEC_PARTS].size / PR_PART_SIZE;
    p->ntvals = p->sec[PR_SEC_TVALS].size / PR_TVAL_SIZE;
    p->nlists = p->sec[PR_SEC_LISTS].size / 4;
    p->nprompts = p->sec[PR_SEC_PROMPTS].size / PR_PROMPT_SIZE;
    p->notypes = p->sec[PR_SEC_OTYPES].size / PR_OTYPE_SIZE;
    if (p->notypes && p->notypes != p->nsteps)
        return fail(c, "otypes has %lu records for %lu steps",
                    (unsigned long)p->notypes, (unsigned long)p->nsteps);
    if (check_strings(c) < 0)
        return -1;
    c->jdepth = calloc((size_t)p->sec[PR_SEC_CODE].size + 1,
                       sizeof *c->jdepth);
    if (!c->jdepth)
        return fail(c, "out of memory");
    static const struct rkind *const kinds[] = {
        &k_workflow, &k_param, &k_step,  &k_model,  &k_phase,
        &k_tool,     &k_agg,   &k_alert, &k_prompt, &k_otype,
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (check_records(c, kinds[i]) < 0)
            return -1;
    if (check_graph(c) < 0 || check_step_kinds(c) < 0 ||
        check_interps(c) < 0 || check_tvals(c) < 0 || check_prompts(c) < 0)
        return -1;
    return check_subplans(c);
}

int pr_plan_load_mem(struct pr_plan *p, const void *data, size_t size,
                     char *err, size_t errcap)
{
    return load(p, data, size, err, errcap, 0);
}

static int load(struct pr_plan *p, const void *data, size_t size, char *err,
                size_t errcap, unsigned depth)
{
    struct vctx c = {.p = p, .err = err, .errcap = errcap, .depth = depth};
    memset(p, 0, sizeof *p);
    if (err && errcap)
        err[0] = '\0';
    int rc;
    if (!data || size == 0)
        rc = fail(&c, "empty file");
    else if ((uint64_t)size > 0xFFFFFFFFull)
        rc = fail(&c, "too large (%zu bytes, at most 4 GiB)", size);
    else
        rc = validate(&c, data, size);
    free(c.starts);
    free(c.jdepth);
    if (rc < 0) {
        memset(p, 0, sizeof *p);
        if (err && errcap && !err[0])
            snprintf(err, errcap, "invalid plan");
        return -1;
    }
    return 0;
}

int pr_plan_open(struct pr_plan *p, const char *path, char *err, size_t errcap)
{
    char dummy[1];
    if (!err || !errcap) {
        err = dummy;
        errcap = sizeof dummy;
    }
    memset(p, 0, sizeof *p);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errcap, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        snprintf(err, errcap, "cannot stat: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errcap, "not a regular file");
        close(fd);
        return -1;
    }
    if (sb.st_size == 0) {
        snprintf(err, errcap, "empty file");
        close(fd);
        return -1;
    }
    if ((uint64_t)sb.st_size > 0xFFFFFFFFull ||
        (uint64_t)sb.st_size > SIZE_MAX) {
        snprintf(err, errcap, "too large (%lld bytes, at most 4 GiB)",
                 (long long)sb.st_size);
        close(fd);
        return -1;
    }
    size_t size = (size_t)sb.st_size;
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errcap, "cannot map: %s", strerror(e));
        return -1;
    }
    if (pr_plan_load_mem(p, m, size, err, errcap) < 0) {
        munmap(m, size);
        return -1;
    }
    p->mapped = true;
    return 0;
}

void pr_plan_close(struct pr_plan *p)
{
    if (p->mapped && p->base)
        munmap((void *)(uintptr_t)p->base, p->size);
    memset(p, 0, sizeof *p);
}

/* ---- views ---- */

const char *pr_plan_str(const struct pr_plan *p, uint32_t ref, size_t *len)
{
    const struct pr_sec *s = &p->sec[PR_SEC_STRINGS];
    if (len)
        *len = 0;
    if (!s->p || ref == PR_PLAN_NONE || ref >= s->size || s->size - ref < 5)
        return "";
    uint32_t n = pr_rd_u32(s->p + ref);
    if (n > s->size - ref - 5)
        return "";
    if (len)
        *len = n;
    return (const char *)s->p + ref + 4;
}

uint32_t pr_plan_list_at(const struct pr_plan *p, struct pr_list l, uint32_t k)
{
    if (k >= l.n || l.off > p->nlists || k >= p->nlists - l.off)
        return PR_PLAN_NONE;
    return pr_rd_u32(p->sec[PR_SEC_LISTS].p + ((size_t)l.off + k) * 4);
}

static struct pr_code code_at(const struct pr_plan *p, uint32_t off,
                              uint32_t len)
{
    const struct pr_sec *s = &p->sec[PR_SEC_CODE];
    struct pr_code c = {NULL, 0};
    if (len && off <= s->size && len <= s->size - off) {
        c.p = s->p + off;
        c.len = len;
    }
    return c;
}

/* One decoder per field type, named by the type's number so the field
 * lists can pick it: DEC(PR_FT_STR) is dec_8. */
static uint8_t dec_1(const struct pr_plan *p, const uint8_t *a)
{
    (void)p;
    return a[0];
}
static uint32_t dec_2(const struct pr_plan *p, const uint8_t *a)
{
    (void)p;
    return pr_rd_u32(a);
}
static uint64_t dec_3(const struct pr_plan *p, const uint8_t *a)
{
    (void)p;
    return pr_rd_u64(a);
}
static double dec_4(const struct pr_plan *p, const uint8_t *a)
{
    (void)p;
    return pr_rd_f64(a);
}
#define dec_5 dec_1
#define dec_6 dec_1
#define dec_7 dec_1
static const char *dec_8(const struct pr_plan *p, const uint8_t *a)
{
    return pr_plan_str(p, pr_rd_u32(a), NULL);
}
static const char *dec_9(const struct pr_plan *p, const uint8_t *a)
{
    uint32_t ref = pr_rd_u32(a);
    return ref == PR_PLAN_NONE ? NULL : pr_plan_str(p, ref, NULL);
}
static struct pr_code dec_10(const struct pr_plan *p, const uint8_t *a)
{
    return code_at(p, pr_rd_u32(a), pr_rd_u32(a + 4));
}
#define dec_11 dec_2
#define dec_12 dec_2
#define dec_13 dec_2
#define dec_14 dec_2
#define dec_15 dec_2
#define dec_17 dec_2
#define dec_18 dec_10
static struct pr_list dec_16(const struct pr_plan *p, const uint8_t *a)
{
    (void)p;
    struct pr_list l = {pr_rd_u32(a), pr_rd_u32(a + 4)};
    return l;
}

#define DEC(t) dec_##t
#define DEC_(t) DEC(t)
#define DECODE_FIELD(name, type, arg, off)                                    \
    out->name = DEC_(type)(p, r + (off));

/* The record I of a record section, or NULL when I is out of range. */
static const uint8_t *record(const struct pr_plan *p, enum pr_section sec,
                             uint32_t size, uint32_t i)
{
    const struct pr_sec *s = &p->sec[sec];
    if (!s->p || i >= s->size / size)
        return NULL;
    return s->p + (size_t)i * size;
}

#define VIEW(fn, type, sec, size, FIELDS)                                     \
    void fn(const struct pr_plan *p, uint32_t i, struct type *out)            \
    {                                                                         \
        const uint8_t *r = record(p, sec, size, i);                           \
        memset(out, 0, sizeof *out);                                          \
        if (!r)                                                               \
            return;                                                           \
        FIELDS(DECODE_FIELD)                                                  \
    }

VIEW(pr_plan_param, pr_param, PR_SEC_PARAMS, PR_PARAM_SIZE, PR_PARAM_FIELDS)
VIEW(pr_plan_step, pr_step, PR_SEC_STEPS, PR_STEP_SIZE, PR_STEP_FIELDS)
VIEW(pr_plan_model, pr_model, PR_SEC_MODELS, PR_MODEL_SIZE, PR_MODEL_FIELDS)
VIEW(pr_plan_phase, pr_phase, PR_SEC_PHASES, PR_PHASE_SIZE, PR_PHASE_FIELDS)
VIEW(pr_plan_tool, pr_tool, PR_SEC_TOOLS, PR_TOOL_SIZE, PR_TOOL_FIELDS)
VIEW(pr_plan_agg, pr_agg, PR_SEC_AGGS, PR_AGG_SIZE, PR_AGG_FIELDS)
VIEW(pr_plan_alert, pr_alert, PR_SEC_ALERTS, PR_ALERT_SIZE, PR_ALERT_FIELDS)
VIEW(pr_plan_prompt, pr_prompt, PR_SEC_PROMPTS, PR_PROMPT_SIZE,
     PR_PROMPT_FIELDS)
VIEW(pr_plan_otype, pr_otype, PR_SEC_OTYPES, PR_OTYPE_SIZE, PR_OTYPE_FIELDS)

void pr_plan_subplan_at(const struct pr_plan *p, uint32_t i,
                        struct pr_subplan *out)
{
    memset(out, 0, sizeof *out);
    if (i >= p->nsubplans)
        return;
    const uint8_t *r = p->sec[PR_SEC_SUBPLANS].p + (size_t)i * PR_SUBPLAN_SIZE;
    PR_SUBPLAN_FIELDS(DECODE_FIELD)
}

_Static_assert(PR_PROMPT_OFF_name == 0 && PR_SUBPLAN_OFF_name == 0,
               "find_named reads the name at offset 0");

/* Binary search of N records of SIZE bytes at SEC, sorted by the name
 * at offset 0; with KIND_AT set, only records whose byte there is 0 count
 * (the others sort after them).  The index, or PR_PLAN_NONE. */
static uint32_t find_named(const struct pr_plan *p, const uint8_t *sec,
                           uint32_t n, size_t size, int kind_at,
                           const char *name)
{
    size_t len = name ? strlen(name) : 0;
    uint32_t lo = 0, hi = name && sec ? n : 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *r = sec + (size_t)mid * size;
        size_t rl;
        const char *s = pr_plan_str(p, pr_rd_u32(r), &rl); /* name */
        int d = kind_at >= 0 && r[kind_at]
                    ? 1
                    : pr_plan_name_cmp(s, rl, name, len);
        if (d == 0)
            return mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return PR_PLAN_NONE;
}

uint32_t pr_plan_prompt_find(const struct pr_plan *p, const char *name)
{
    return find_named(p, p->sec[PR_SEC_PROMPTS].p, p->nprompts, PR_PROMPT_SIZE,
                      PR_PROMPT_OFF_kind, name);
}

int pr_plan_subplan(const struct pr_plan *p, const char *name,
                    const uint8_t **data, size_t *size)
{
    const uint8_t *sec = p->sec[PR_SEC_SUBPLANS].p;
    uint32_t i = find_named(p, sec, p->nsubplans, PR_SUBPLAN_SIZE, -1, name);
    *data = NULL;
    *size = 0;
    if (i == PR_PLAN_NONE)
        return -1;
    const uint8_t *r = sec + (size_t)i * PR_SUBPLAN_SIZE;
    *data = sec + pr_rd_u32(r + PR_SUBPLAN_OFF_offset);
    *size = pr_rd_u32(r + PR_SUBPLAN_OFF_size);
    return 0;
}

void pr_plan_workflow(const struct pr_plan *p, struct pr_workflow *out)
{
    const uint8_t *r = record(p, PR_SEC_WORKFLOW, PR_WORKFLOW_SIZE, 0);
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    PR_WORKFLOW_FIELDS(DECODE_FIELD)
}

void pr_plan_interp(const struct pr_plan *p, uint32_t i,
                    struct pr_interp_view *out)
{
    const uint8_t *r = record(p, PR_SEC_INTERPS, PR_INTERP_SIZE, i);
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    out->first = pr_rd_u32(r + PR_INTERP_OFF_first);
    out->n = pr_rd_u32(r + PR_INTERP_OFF_n);
    out->pure = r[PR_INTERP_OFF_pure] != 0;
}

void pr_plan_part(const struct pr_plan *p, uint32_t i,
                  struct pr_part_view *out)
{
    const uint8_t *r = record(p, PR_SEC_PARTS, PR_PART_SIZE, i);
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    size_t n;
    out->kind = r[PR_PART_OFF_kind];
    out->text = pr_plan_str(p, pr_rd_u32(r + PR_PART_OFF_text), &n);
    out->text_len = (uint32_t)n;
    out->code = code_at(p, pr_rd_u32(r + PR_PART_OFF_code),
                        pr_rd_u32(r + PR_PART_OFF_code + 4));
}

void pr_plan_tval(const struct pr_plan *p, uint32_t i,
                  struct pr_tval_view *out)
{
    const uint8_t *r = record(p, PR_SEC_TVALS, PR_TVAL_SIZE, i);
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    out->kind = r[PR_TVAL_OFF_kind];
    out->b = r[PR_TVAL_OFF_b] != 0;
    out->num = pr_rd_f64(r + PR_TVAL_OFF_num);
    out->interp = pr_rd_u32(r + PR_TVAL_OFF_interp);
    out->first = pr_rd_u32(r + PR_TVAL_OFF_first);
    out->n = pr_rd_u32(r + PR_TVAL_OFF_n);
    out->keys = pr_rd_u32(r + PR_TVAL_OFF_keys);
}
