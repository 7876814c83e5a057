/* template.c -- compiled templates: decoding, the checker, the disassembler
 *
 * The encoding is specified in template.h.  Decoding checks every read
 * against the code's length; the checker adds what decoding cannot see
 * alone (bodies that fill their ranges, nesting, partial numbers), so the
 * plan loader can prove a template well formed once.  Rendering lives in
 * template_render.c.
 */
#include "template.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* ---- the lists ---- */

static const struct {
    unsigned byte;
    const char *name;
} ops[] = {
#define PR_X(id, byte, name) {byte, name},
    PR_TPL_OPS(PR_X)
#undef PR_X
};

static const struct {
    const char *name;
    int argc;
} blocks[] = {
#define PR_X(id, num, name, argc) [num] = {name, argc},
    PR_TPL_BLOCKS(PR_X)
#undef PR_X
};

static const struct {
    const char *name;
    int argc;
} helpers[] = {
#define PR_X(id, num, name, argc) [num] = {name, argc},
    PR_TPL_HELPERS(PR_X)
#undef PR_X
};

const char *pr_tpl_op_name(unsigned op)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].byte == op)
            return ops[i].name;
    return NULL;
}

const char *pr_tpl_block_name(unsigned kind)
{
    return kind < PR_TB_COUNT ? blocks[kind].name : NULL;
}

int pr_tpl_block_argc(unsigned kind)
{
    return kind < PR_TB_COUNT ? blocks[kind].argc : -1;
}

const char *pr_tpl_helper_name(unsigned helper)
{
    return helper < PR_TH_COUNT ? helpers[helper].name : NULL;
}

int pr_tpl_helper_argc(unsigned helper)
{
    return helper < PR_TH_COUNT ? helpers[helper].argc : -1;
}

static bool name_is(const char *want, const char *s, size_t n)
{
    return strlen(want) == n && memcmp(want, s, n) == 0;
}

int pr_tpl_block_lookup(const char *name, size_t len)
{
    /* "section" is a helper; {{#section}} is a Mustache section */
    for (unsigned k = PR_TB_IF; k < PR_TB_COUNT; k++)
        if (name_is(blocks[k].name, name, len))
            return (int)k;
    return -1;
}

int pr_tpl_helper_lookup(const char *name, size_t len)
{
    for (unsigned k = 0; k < PR_TH_COUNT; k++)
        if (name_is(helpers[k].name, name, len))
            return (int)k;
    return -1;
}

/* ---- decoding ---- */

#define NEED(n)                                                               \
    do {                                                                      \
        if ((n) > len || *at > len - (n)) {                                   \
            *why = "truncated";                                               \
            return -1;                                                        \
        }                                                                     \
    } while (0)

int pr_tpl_name(const uint8_t *code, size_t len, size_t *at, const uint8_t **s,
                size_t *n, const char **why)
{
    NEED(2);
    size_t k = pr_rd_u16(code + *at);
    *at += 2;
    if (k == 0) {
        *why = "empty name";
        return -1;
    }
    NEED(k);
    *s = code + *at;
    *n = k;
    *at += k;
    return 0;
}

static int text_at(const uint8_t *code, size_t len, size_t *at,
                   const uint8_t **s, uint32_t *n, const char **why)
{
    NEED(4);
    uint32_t k = pr_rd_u32(code + *at);
    *at += 4;
    NEED(k);
    *s = code + *at;
    *n = k;
    *at += k;
    return 0;
}

static int path_at(const uint8_t *code, size_t len, size_t *at,
                   struct pr_tpl_val *v, const char **why)
{
    NEED(3);
    v->flags = code[*at];
    v->up = code[*at + 1];
    v->count = code[*at + 2];
    *at += 3;
    if (v->flags & ~(unsigned)(PR_TPATH_DATA | PR_TPATH_ANCHORED)) {
        *why = "unknown path flags";
        return -1;
    }
    if ((v->flags & PR_TPATH_DATA) && (v->count == 0 || v->up)) {
        *why = "data path without a name";
        return -1;
    }
    v->names = *at;
    for (unsigned i = 0; i < v->count; i++) {
        const uint8_t *s;
        size_t n;
        if (pr_tpl_name(code, len, at, &s, &n, why) < 0)
            return -1;
    }
    return 0;
}

int pr_tpl_value(const uint8_t *code, size_t len, size_t *at,
                 struct pr_tpl_val *v, const char **why)
{
    memset(v, 0, sizeof *v);
    NEED(1);
    v->kind = code[(*at)++];
    switch (v->kind) {
    case PR_TA_PATH:
        return path_at(code, len, at, v, why);
    case PR_TA_TEXT:
        return text_at(code, len, at, &v->str, &v->n, why);
    case PR_TA_NUMBER:
        NEED(8);
        v->num = pr_rd_f64(code + *at);
        *at += 8;
        if (!isfinite(v->num)) {
            *why = "number is not finite";
            return -1;
        }
        return 0;
    case PR_TA_TRUE:
    case PR_TA_FALSE:
    case PR_TA_NULL:
    case PR_TA_UNDEFINED:
        return 0;
    default:
        *why = "unknown value kind";
        return -1;
    }
}

static int values_at(const uint8_t *code, size_t len, size_t *at, unsigned n,
                     const char **why)
{
    struct pr_tpl_val v;
    for (unsigned i = 0; i < n; i++)
        if (pr_tpl_value(code, len, at, &v, why) < 0)
            return -1;
    return 0;
}

static int hash_at(const uint8_t *code, size_t len, size_t *at,
                   const char **why)
{
    NEED(1);
    unsigned n = code[(*at)++];
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *s;
        size_t k;
        struct pr_tpl_val v;
        if (pr_tpl_name(code, len, at, &s, &k, why) < 0 ||
            pr_tpl_value(code, len, at, &v, why) < 0)
            return -1;
    }
    return 0;
}

/* A block's or helper's kind byte, argument count and arguments: the
 * kind below COUNT, the count what ARGC_OF says; UNKNOWN and WRONG are
 * the reasons for each failure. */
static int kind_args(const uint8_t *code, size_t len, size_t *at,
                     struct pr_tpl_insn *in, unsigned count,
                     int (*argc_of)(unsigned), const char **why,
                     const char *unknown, const char *wrong)
{
    NEED(2);
    in->a = code[*at];
    in->argc = code[*at + 1];
    *at += 2;
    if (in->a >= count) {
        *why = unknown;
        return -1;
    }
    if ((int)in->argc != argc_of(in->a)) {
        *why = wrong;
        return -1;
    }
    in->args = *at;
    return values_at(code, len, at, in->argc, why);
}

int pr_tpl_decode(const uint8_t *code, size_t len, size_t pc,
                  struct pr_tpl_insn *in, const char **why)
{
    size_t pos = pc, *at = &pos;
    memset(in, 0, sizeof *in);
    in->at = pc;
    NEED(1);
    in->op = code[pos++];
    switch (in->op) {
    case PR_TOP_TEXT:
        if (text_at(code, len, at, &in->str, &in->n, why) < 0)
            return -1;
        break;
    case PR_TOP_VAR: {
        struct pr_tpl_val v;
        NEED(1);
        in->a = code[pos++];
        if (in->a & ~(unsigned)PR_TVAR_RAW) {
            *why = "unknown var flags";
            return -1;
        }
        in->path = pos;
        if (path_at(code, len, at, &v, why) < 0)
            return -1;
        break;
    }
    case PR_TOP_BLOCK:
        if (kind_args(code, len, at, in, PR_TB_COUNT, pr_tpl_block_argc, why,
                      "unknown block kind",
                      "wrong number of block arguments") < 0)
            return -1;
        NEED(8);
        {
            uint64_t body = pr_rd_u32(code + pos);
            uint64_t els = pr_rd_u32(code + pos + 4);
            pos += 8;
            if (body > len - pos || els > len - pos - body) {
                *why = "block runs past the end";
                return -1;
            }
            in->body = pos;
            in->else_at = pos + body;
            pos += body + els;
        }
        break;
    case PR_TOP_PARTIAL:
        NEED(4);
        in->target = pr_rd_u32(code + pos);
        pos += 4;
        NEED(1);
        in->flags = code[pos++];
        if (in->flags & ~(unsigned)(PR_TPART_CONTEXT | PR_TPART_STANDALONE)) {
            *why = "unknown partial flags";
            return -1;
        }
        if (text_at(code, len, at, &in->str, &in->n, why) < 0)
            return -1;
        in->args = pos;
        if (values_at(code, len, at, in->flags & PR_TPART_CONTEXT, why) < 0)
            return -1;
        in->hash = pos;
        if (hash_at(code, len, at, why) < 0)
            return -1;
        break;
    case PR_TOP_HELPER:
        if (kind_args(code, len, at, in, PR_TH_COUNT, pr_tpl_helper_argc, why,
                      "unknown helper",
                      "wrong number of helper arguments") < 0)
            return -1;
        in->hash = pos;
        if (hash_at(code, len, at, why) < 0)
            return -1;
        break;
    default:
        *why = "unknown opcode";
        return -1;
    }
    in->next = pos;
    return 0;
}

#undef NEED

/* ---- the checker ---- */

struct vstate {
    const uint8_t *code;
    size_t len;
    uint32_t ntemplates;
    size_t bad_at;
    const char *why;
};

/* The instructions of [from, to) fill it exactly; blocks recurse. */
static int verify_range(struct vstate *v, size_t from, size_t to,
                        unsigned depth)
{
    size_t pc = from;
    while (pc < to) {
        struct pr_tpl_insn in;
        /* decode inside the range only: nothing may straddle its end */
        if (pr_tpl_decode(v->code, to, pc, &in, &v->why) < 0) {
            v->bad_at = pc;
            return -1;
        }
        if (in.op == PR_TOP_BLOCK) {
            if (depth >= PR_TPL_MAX_NEST) {
                v->bad_at = pc;
                v->why = "blocks nested too deep";
                return -1;
            }
            if (verify_range(v, in.body, in.else_at, depth + 1) < 0 ||
                verify_range(v, in.else_at, in.next, depth + 1) < 0)
                return -1;
        } else if (in.op == PR_TOP_PARTIAL && in.target >= v->ntemplates) {
            v->bad_at = pc;
            v->why = "partial names no template";
            return -1;
        }
        pc = in.next;
    }
    return 0;
}

int pr_tpl_verify(const uint8_t *code, size_t len, uint32_t ntemplates,
                  char *err, size_t errcap)
{
    struct vstate v = {code, len, ntemplates, 0, NULL};
    if (!code && len)
        return pr_errf(err, errcap, "no code");
    if (verify_range(&v, 0, len, 0) < 0)
        return pr_errf(err, errcap, "at byte %zu: %s", v.bad_at, v.why);
    return 0;
}

/* ---- the disassembler ---- */

static void put_quoted(FILE *out, const uint8_t *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = s[i];
        if (ch == '\n')
            fputs("\\n", out);
        else if (ch == '\t')
            fputs("\\t", out);
        else if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(out, "\\x%02x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static int put_path(FILE *out, const uint8_t *code, size_t len,
                    const struct pr_tpl_val *v)
{
    size_t at = v->names;
    const char *why;
    if (v->flags & PR_TPATH_DATA)
        fputc('@', out);
    for (unsigned i = 0; i < v->up; i++)
        fputs("../", out);
    if (v->count == 0) {
        fputs("this", out);
        return 0;
    }
    if ((v->flags & PR_TPATH_ANCHORED) && !v->up)
        fputs("this.", out);
    for (unsigned i = 0; i < v->count; i++) {
        const uint8_t *s;
        size_t n;
        if (pr_tpl_name(code, len, &at, &s, &n, &why) < 0)
            return -1;
        fprintf(out, "%s%.*s", i ? "." : "", (int)n, (const char *)s);
    }
    return 0;
}

static int put_value(FILE *out, const uint8_t *code, size_t len, size_t *at)
{
    struct pr_tpl_val v;
    const char *why;
    char num[32];
    if (pr_tpl_value(code, len, at, &v, &why) < 0)
        return -1;
    switch (v.kind) {
    case PR_TA_PATH:
        return put_path(out, code, len, &v);
    case PR_TA_TEXT:
        put_quoted(out, v.str, v.n);
        return 0;
    case PR_TA_NUMBER:
        snprintf(num, sizeof num, "%.17g", v.num);
        fputs(num, out);
        return 0;
    default: {
        static const char *const lit[] = {"true", "false", "null",
                                          "undefined"};
        fputs(lit[v.kind - PR_TA_TRUE], out);
        return 0;
    }
    }
}

static int put_hash(FILE *out, const uint8_t *code, size_t len, size_t at)
{
    unsigned n = code[at++];
    const char *why;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *s;
        size_t k;
        if (pr_tpl_name(code, len, &at, &s, &k, &why) < 0)
            return -1;
        fprintf(out, " %.*s=", (int)k, (const char *)s);
        if (put_value(out, code, len, &at) < 0)
            return -1;
    }
    return 0;
}

static int disasm_range(const uint8_t *code, size_t from, size_t to,
                        int indent, FILE *out)
{
    size_t pc = from;
    while (pc < to) {
        struct pr_tpl_insn in;
        const char *why;
        if (pr_tpl_decode(code, to, pc, &in, &why) < 0) {
            fprintf(out, "%04zx  %*s(malformed: %s)\n", pc, indent, "", why);
            return -1;
        }
        fprintf(out, "%04zx  %*s%s", pc, indent, "", pr_tpl_op_name(in.op));
        size_t at = in.args;
        int rc = 0;
        switch (in.op) {
        case PR_TOP_TEXT:
            fputc(' ', out);
            put_quoted(out, in.str, in.n);
            break;
        case PR_TOP_VAR: {
            struct pr_tpl_val v;
            size_t p = in.path;
            fputs(in.a & PR_TVAR_RAW ? " raw " : " ", out);
            /* a var's path has no kind byte: decode it as one */
            v.kind = PR_TA_PATH;
            v.flags = code[p];
            v.up = code[p + 1];
            v.count = code[p + 2];
            v.names = p + 3;
            rc = put_path(out, code, to, &v);
            break;
        }
        case PR_TOP_BLOCK:
            fprintf(out, " %s", pr_tpl_block_name(in.a));
            for (unsigned i = 0; rc == 0 && i < in.argc; i++) {
                fputc(' ', out);
                rc = put_value(out, code, to, &at);
            }
            fprintf(out, " (body %zu, else %zu bytes)", in.else_at - in.body,
                    in.next - in.else_at);
            break;
        case PR_TOP_PARTIAL:
            fprintf(out, " %lu", (unsigned long)in.target);
            if (in.flags & PR_TPART_STANDALONE) {
                fputs(" standalone ", out);
                put_quoted(out, in.str, in.n);
            }
            if (in.flags & PR_TPART_CONTEXT) {
                fputc(' ', out);
                rc = put_value(out, code, to, &at);
            }
            if (rc == 0)
                rc = put_hash(out, code, to, in.hash);
            break;
        case PR_TOP_HELPER:
            fprintf(out, " %s", pr_tpl_helper_name(in.a));
            for (unsigned i = 0; rc == 0 && i < in.argc; i++) {
                fputc(' ', out);
                rc = put_value(out, code, to, &at);
            }
            if (rc == 0)
                rc = put_hash(out, code, to, in.hash);
            break;
        }
        fputc('\n', out);
        if (rc < 0)
            return -1;
        if (in.op == PR_TOP_BLOCK) {
            if (disasm_range(code, in.body, in.else_at, indent + 2, out) < 0)
                return -1;
            if (in.next > in.else_at) {
                fprintf(out, "%04zx  %*selse\n", in.else_at, indent, "");
                if (disasm_range(code, in.else_at, in.next, indent + 2, out) <
                    0)
                    return -1;
            }
        }
        pc = in.next;
    }
    return 0;
}

int pr_tpl_disasm(const uint8_t *code, size_t len, FILE *out)
{
    return disasm_range(code, 0, len, 0, out);
}
