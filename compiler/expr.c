/* expr.c -- expression syntax trees: construction, checks, printing
 *
 * The grammar calls the constructors here; they decode literals, resolve
 * function names and arities, bound nesting and report every problem with
 * a location inside the scalar.  Also splits ${...} interpolations and
 * conditions, and prints trees in canonical form.  Emission: expr_emit.c.
 */
#include "expr.h"
#include "util.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

/* ---- locations and messages ---- */

static struct pc_loc span_loc(const struct pc_expr_parser *p, struct pc_span s)
{
    return pc_node_subloc(p->node, p->off + s.beg, s.end - s.beg);
}

static struct pc_diag *report_at(struct pc_ctx *ctx, struct pc_loc loc,
                                 const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static struct pc_diag *report_at(struct pc_ctx *ctx, struct pc_loc loc,
                                 const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return pc_report(ctx, PC_D_EXPR, loc, "%s", msg);
}

static struct pc_diag *report(struct pc_expr_parser *p, struct pc_span s,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct pc_diag *report(struct pc_expr_parser *p, struct pc_span s,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct pc_diag *d = report_at(p->ctx, span_loc(p, s), fmt, ap);
    va_end(ap);
    p->failed = true;
    return d;
}

/* A report about bytes I..I+N of the scalar itself (interpolation). */
static void report_node(struct pc_ctx *ctx, const struct pc_node *node,
                        size_t i, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void report_node(struct pc_ctx *ctx, const struct pc_node *node,
                        size_t i, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_at(ctx, pc_node_subloc(node, i, n), fmt, ap);
    va_end(ap);
}

static void *alloc(struct pc_expr_parser *p, size_t n)
{
    void *m = pr_arena_alloc(&p->ctx->arena, n);
    if (!m)
        pc_oom(p->ctx);
    return m;
}

static char *copy(struct pc_expr_parser *p, struct pc_span s)
{
    char *m = pr_arena_strndup(&p->ctx->arena, p->text + s.beg, s.end - s.beg);
    if (!m)
        pc_oom(p->ctx);
    return m;
}

/* ---- constructors ---- */

static unsigned umax(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

static struct pc_expr *node(struct pc_expr_parser *p, enum pc_expr_kind kind,
                            struct pc_span s)
{
    struct pc_expr *e = alloc(p, sizeof *e);
    if (!e)
        return NULL;
    e->kind = kind;
    e->loc = span_loc(p, s);
    e->height = 1;
    e->need = 1;
    return e;
}

/* The limits that keep recursive walkers and the evaluator's stack safe. */
static struct pc_expr *checked(struct pc_expr_parser *p, struct pc_expr *e,
                               struct pc_span s)
{
    if (e->height > PC_EXPR_MAX_HEIGHT) {
        report(p, s,
               "expression too complex (more than %d levels of "
               "operators)",
               PC_EXPR_MAX_HEIGHT);
        return NULL;
    }
    if (e->need > PR_EVAL_STACK) {
        report(p, s,
               "expression too complex (more than %d values pending "
               "at once)",
               PR_EVAL_STACK);
        return NULL;
    }
    return e;
}

static struct pc_expr **args2(struct pc_expr_parser *p, struct pc_expr *a,
                              struct pc_expr *b)
{
    struct pc_expr **v = alloc(p, 2 * sizeof *v);
    if (v) {
        v[0] = a;
        v[1] = b;
    }
    return v;
}

struct pc_expr *pc_expr_null(struct pc_expr_parser *p, struct pc_span s)
{
    return node(p, PC_E_NULL, s);
}

struct pc_expr *pc_expr_bool(struct pc_expr_parser *p, bool b,
                             struct pc_span s)
{
    struct pc_expr *e = node(p, PC_E_BOOL, s);
    if (e)
        e->b = b;
    return e;
}

struct pc_expr *pc_expr_number(struct pc_expr_parser *p, struct pc_span s)
{
    struct pc_expr *e = node(p, PC_E_NUM, s);
    char *t = copy(p, s);
    if (!e || !t)
        return NULL;
    e->num = strtod(t, NULL);
    if (!isfinite(e->num)) {
        report(p, s, "number '%.40s' is out of range", t);
        e->num = 0;
    }
    return e;
}

/* The 4 hex digits at T[0..4) as a number, or -1. */
static long hex4(const char *t, size_t avail)
{
    long v = 0;
    if (avail < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int h = pr_hexval(t[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

struct pc_expr *pc_expr_string(struct pc_expr_parser *p, struct pc_span s)
{
    struct pc_expr *e = node(p, PC_E_STR, s);
    /* the scanner guarantees the quotes and a character after each '\' */
    size_t beg = s.beg + 1, end = s.end - 1;
    const char *t = p->text;
    char *o = alloc(p, end - beg + 1);
    if (!e || !o)
        return NULL;
    size_t n = 0;
    for (size_t i = beg; i < end; i++) {
        if (t[i] != '\\') {
            o[n++] = t[i];
            continue;
        }
        char c = t[++i];
        struct pc_span at = {i - 1, i + 1};
        switch (c) {
        case '"':
        case '\'':
        case '\\':
        case '/':
            o[n++] = c;
            continue;
        case 'n':
            o[n++] = '\n';
            continue;
        case 't':
            o[n++] = '\t';
            continue;
        case 'r':
            o[n++] = '\r';
            continue;
        case 'u':
            break;
        default:
            at.end = i + (pr_utf8_decode(t + i, end - i, NULL) ?: 1);
            if (at.end > end)
                at.end = end;
            report(p, at, "invalid escape sequence '\\%.*s' in string",
                   (int)(at.end - i), t + i);
            continue;
        }
        long cp = hex4(t + i + 1, end - i - 1);
        if (cp < 0) {
            report(p, at, "'\\u' must be followed by 4 hex digits");
            continue;
        }
        at.end = i + 5;
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            long lo = end - i > 6 && t[i + 1] == '\\' && t[i + 2] == 'u'
                          ? hex4(t + i + 3, end - i - 3)
                          : -1;
            if (lo < 0xdc00 || lo > 0xdfff) {
                report(p, at, "unpaired surrogate '\\u%.4s' in string",
                       t + at.beg + 2);
                continue;
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            report(p, at, "unpaired surrogate '\\u%.4s' in string",
                   t + at.beg + 2);
            continue;
        } else if (cp == 0) {
            report(p, at, "'\\u0000' is not allowed in strings");
            continue;
        }
        n += pr_utf8_put(o + n, (unsigned long)cp);
    }
    o[n] = '\0';
    e->str = o;
    e->len = n;
    return e;
}

/* Appends a segment to a path; capacity is the next power of two >= 4. */
static int path_add(struct pc_expr_parser *p, struct pc_expr *e,
                    const char *name, struct pc_loc loc)
{
    size_t n = e->nseg;
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
        size_t cap = n ? 2 * n : 4;
        const char **seg = alloc(p, cap * sizeof *seg);
        struct pc_loc *sl = alloc(p, cap * sizeof *sl);
        if (!seg || !sl)
            return -1;
        if (n) {
            memcpy(seg, e->seg, n * sizeof *seg);
            memcpy(sl, e->segloc, n * sizeof *sl);
        }
        e->seg = seg;
        e->segloc = sl;
    }
    e->seg[n] = name;
    e->segloc[n] = loc;
    e->nseg = n + 1;
    return 0;
}

struct pc_expr *pc_expr_path(struct pc_expr_parser *p, struct pc_span s)
{
    struct pc_expr *e = node(p, PC_E_PATH, s);
    char *name = copy(p, s);
    if (!e || !name || path_add(p, e, name, e->loc) < 0)
        return NULL;
    e->str = name;
    e->len = s.end - s.beg;
    return e;
}

struct pc_expr *pc_expr_member(struct pc_expr_parser *p, struct pc_expr *base,
                               struct pc_span name, struct pc_span s)
{
    char *t = copy(p, name);
    if (!t)
        return NULL;
    if (base->kind == PC_E_PATH) {
        if (path_add(p, base, t, span_loc(p, name)) < 0)
            return NULL;
        base->loc = span_loc(p, s);
        return base;
    }
    struct pc_expr *e = node(p, PC_E_MEMBER, s);
    struct pc_expr **a = alloc(p, sizeof *a);
    if (!e || !a)
        return NULL;
    a[0] = base;
    e->args = a;
    e->nargs = 1;
    e->str = t;
    e->len = name.end - name.beg;
    e->height = base->height + 1;
    e->need = base->need;
    return checked(p, e, s);
}

struct pc_expr *pc_expr_index(struct pc_expr_parser *p, struct pc_expr *base,
                              struct pc_expr *index, struct pc_span s)
{
    struct pc_expr *e = node(p, PC_E_INDEX, s);
    if (!e || !(e->args = args2(p, base, index)))
        return NULL;
    e->nargs = 2;
    e->height = umax(base->height, index->height) + 1;
    e->need = umax(base->need, index->need + 1);
    return checked(p, e, s);
}

struct pc_expr *pc_expr_unary(struct pc_expr_parser *p, int op,
                              struct pc_expr *x, struct pc_span s)
{
    if (op == PR_OP_NEG && x->kind == PC_E_NUM) {
        x->num = -x->num;
        x->loc = span_loc(p, s);
        return x;
    }
    struct pc_expr *e = node(p, PC_E_UNARY, s);
    struct pc_expr **a = alloc(p, sizeof *a);
    if (!e || !a)
        return NULL;
    a[0] = x;
    e->op = op;
    e->args = a;
    e->nargs = 1;
    e->height = x->height + 1;
    e->need = x->need;
    return checked(p, e, s);
}

struct pc_expr *pc_expr_binary(struct pc_expr_parser *p, int op,
                               struct pc_expr *l, struct pc_expr *r,
                               struct pc_span s)
{
    struct pc_expr *e = node(p, PC_E_BINARY, s);
    if (!e || !(e->args = args2(p, l, r)))
        return NULL;
    e->op = op;
    e->nargs = 2;
    e->height = umax(l->height, r->height) + 1;
    /* and / or pop their left operand before evaluating the right one */
    if (op == PR_OP_AND || op == PR_OP_OR)
        e->need = umax(l->need, r->need);
    else
        e->need = umax(l->need, r->need + 1);
    return checked(p, e, s);
}

struct pc_expr_list *pc_expr_list_add(struct pc_expr_parser *p,
                                      struct pc_expr_list *l,
                                      struct pc_expr *e)
{
    if (!l && !(l = alloc(p, sizeof *l)))
        return NULL;
    unsigned before = l->n > UINT_MAX / 2 ? UINT_MAX / 2 : (unsigned)l->n;
    struct pc_expr **slot = PR_PUSH(&p->ctx->arena, l->v, l->n, l->cap);
    if (!slot) {
        pc_oom(p->ctx);
        return NULL;
    }
    *slot = e;
    l->height = umax(l->height, e->height);
    l->need = umax(l->need, before + e->need);
    return l;
}

/* Elements or arguments into E. */
static void take_items(struct pc_expr *e, struct pc_expr_list *items)
{
    if (!items)
        return;
    e->args = items->v;
    e->nargs = items->n;
    e->height = items->height + 1;
    e->need = umax(1, items->need);
}

struct pc_expr *pc_expr_list(struct pc_expr_parser *p,
                             struct pc_expr_list *items, struct pc_span s)
{
    struct pc_expr *e = node(p, PC_E_LIST, s);
    if (!e)
        return NULL;
    take_items(e, items);
    return checked(p, e, s);
}

static const char *const func_names[PR_FN_COUNT] = {
#define PR_X(id, num, name, arity) [num] = name,
    PR_FUNCS(PR_X)
#undef PR_X
};

struct pc_expr *pc_expr_call(struct pc_expr_parser *p, struct pc_span name,
                             struct pc_expr_list *args, struct pc_span s)
{
    struct pc_expr *e = node(p, PC_E_CALL, s);
    char *t = copy(p, name);
    if (!e || !t)
        return NULL;
    take_items(e, args);
    e->str = t;
    e->len = name.end - name.beg;
    e->op = pr_func_lookup(t, e->len);
    if (e->op < 0) {
        struct pc_diag *d = report(p, name, "unknown function '%s'", t);
        const char *near = pc_closest(t, func_names, PR_FN_COUNT);
        struct pc_loc none = {0, 0, 0};
        if (near)
            pc_note(p->ctx, d, none, "did you mean '%s'?", near);
        return e;
    }
    int want = pr_func_arity((unsigned)e->op);
    if (e->nargs != (size_t)want)
        report(p, s, "function '%s' takes %d argument%s, but %zu %s given", t,
               want, pr_plural(want), e->nargs,
               e->nargs == 1 ? "was" : "were");
    return checked(p, e, s);
}

int pc_expr_enter(struct pc_expr_parser *p, struct pc_span s)
{
    if (++p->nest > PC_EXPR_MAX_NEST) {
        report(p, s, "expression nested too deeply (more than %d levels)",
               PC_EXPR_MAX_NEST);
        return -1;
    }
    return 0;
}

void pc_expr_leave(struct pc_expr_parser *p)
{
    p->nest--;
}

/* ---- syntax errors ---- */

static void bad_char(struct pc_expr_parser *p, struct pc_span s)
{
    const char *t = p->text + s.beg;
    size_t n = s.end - s.beg;
    unsigned char c = (unsigned char)t[0];
    static const struct {
        char c;
        const char *op;
    } near_ops[] = {{'=', "=="}, {'&', "&&"}, {'|', "||"}};
    for (size_t i = 0; i < sizeof near_ops / sizeof near_ops[0]; i++)
        if (n == 1 && c == (unsigned char)near_ops[i].c) {
            report(p, s, "'%c' is not an operator; did you mean '%s'?", c,
                   near_ops[i].op);
            return;
        }
    if (n == 2 && c == '$')
        report(p, s, "'${' cannot appear inside an expression");
    else if (n > 1)
        report(p, s, "unexpected character '%.*s'", (int)n, t);
    else if (c < 0x20 || c == 0x7f)
        report(p, s, "unexpected character U+%04X", c);
    else if (c >= 0x80)
        report(p, s, "invalid UTF-8 byte 0x%02x", c);
    else
        report(p, s, "unexpected character '%c'", c);
}

void pc_expr_syntax_error(struct pc_expr_parser *p, struct pc_span s,
                          enum pc_expr_tok tok, unsigned want)
{
    if (tok == PC_TOK_BAD) {
        bad_char(p, s);
        return;
    }
    if (tok == PC_TOK_UNTERMINATED) {
        report(p, s, "unterminated string literal");
        return;
    }
    char what[64];
    const char *t = p->text + s.beg;
    size_t n = s.end - s.beg;
    if (tok == PC_TOK_END)
        snprintf(what, sizeof what, "end of expression");
    else if (tok == PC_TOK_STRING)
        snprintf(what, sizeof what, "string literal");
    else if (n > 32)
        snprintf(what, sizeof what, "'%.32s...'", t);
    else
        snprintf(what, sizeof what, "'%.*s'", (int)n, t);

    const char *exp = NULL;
    if (want & PC_WANT_OPERAND)
        exp = "expression";
    else if (want & PC_WANT_NAME)
        exp = "name";
    else if ((want & PC_WANT_RPAREN) && (want & PC_WANT_COMMA))
        exp = "',' or ')'";
    else if ((want & PC_WANT_RBRACK) && (want & PC_WANT_COMMA))
        exp = "',' or ']'";
    else if (want & PC_WANT_RPAREN)
        exp = "')'";
    else if (want & PC_WANT_RBRACK)
        exp = "']'";

    struct pc_diag *d;
    if (exp && tok == PC_TOK_END)
        d = report(p, s, "expected %s at end of expression", exp);
    else if (exp)
        d = report(p, s, "expected %s before %s", exp, what);
    else
        d = report(p, s, "unexpected %s", what);

    static const char *const words[][2] = {{"and", "'&&' or 'AND'"},
                                           {"or", "'||' or 'OR'"},
                                           {"not", "'!' or 'NOT'"}};
    struct pc_loc none = {0, 0, 0};
    for (size_t i = 0; i < 3; i++)
        if (tok == PC_TOK_OTHER && n == strlen(words[i][0]) &&
            memcmp(t, words[i][0], n) == 0)
            pc_note(p->ctx, d, none, "operators are written %s", words[i][1]);
}

void pc_expr_parser_error(struct pc_expr_parser *p, struct pc_span s,
                          const char *msg)
{
    report(p, s, "expression too complex (%s)", msg);
}

/* ---- entry points ---- */

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

int pc_expr_parse(struct pc_ctx *ctx, const struct pc_node *node, size_t off,
                  size_t len, struct pc_expr **out)
{
    struct pc_expr_parser p = {
        .ctx = ctx,
        .node = node,
        .off = off,
        .text = node->str + off,
        .len = len,
    };
    struct pc_span all = {0, len};
    *out = NULL;
    if (blank(p.text, len)) {
        report(&p, all, "empty expression");
        return -1;
    }
    if (len > INT_MAX / 2) {
        report(&p, all, "expression too long");
        return -1;
    }
    int rc = pcx_run(&p);
    if (rc != 0 || p.failed || !p.result) {
        if (!p.failed)
            pc_oom(ctx);
        return -1;
    }
    *out = p.result;
    return 0;
}

/* The '}' that ends a ${ whose expression starts at START, skipping quoted
 * string literals; -1 when there is none. */
static long find_close(const char *s, size_t n, size_t start)
{
    for (size_t j = start; j < n; j++) {
        char c = s[j];
        if (c == '}')
            return (long)j;
        if (c != '"' && c != '\'')
            continue;
        for (j++; j < n && s[j] != c; j++)
            if (s[j] == '\\')
                j++;
        if (j >= n)
            return -1;
    }
    return -1;
}

static int add_part(struct pc_ctx *ctx, struct pc_interp *ip, size_t *cap,
                    const char *text, size_t len, struct pc_expr *e)
{
    struct pc_interp_part *part = PR_PUSH(&ctx->arena, ip->parts, ip->nparts,
                                          *cap);
    if (!part) {
        pc_oom(ctx);
        return -1;
    }
    part->text = text;
    part->len = len;
    part->expr = e;
    return 0;
}

/* Adds the literal text gathered in LIT[0..*n) as a part. */
static int flush_literal(struct pc_ctx *ctx, struct pc_interp *ip, size_t *cap,
                         const char *lit, size_t *n)
{
    if (*n == 0)
        return 0;
    char *t = pr_arena_strndup(&ctx->arena, lit, *n);
    if (!t) {
        pc_oom(ctx);
        return -1;
    }
    size_t len = *n;
    *n = 0;
    return add_part(ctx, ip, cap, t, len, NULL);
}

static const char *kind_words(const struct pc_node *n)
{
    return n->kind == PC_NODE_NULL ? "nothing" : pc_node_kind_name(n);
}

int pc_interp_parse(struct pc_ctx *ctx, const struct pc_node *node,
                    struct pc_interp **out)
{
    struct pc_interp *ip = pr_arena_alloc(&ctx->arena, sizeof *ip);
    *out = NULL;
    if (!ip) {
        pc_oom(ctx);
        return -1;
    }
    if (node->kind == PC_NODE_NULL) {
        *out = ip;
        return 0;
    }
    if (node->kind != PC_NODE_SCALAR) {
        pc_report(ctx, PC_D_WRONG_TYPE, node->loc,
                  "expected a string, found %s", kind_words(node));
        return -1;
    }
    const char *s = node->str;
    size_t n = node->len, cap = 0, nlit = 0, nexpr = 0;
    char *lit = pr_arena_alloc(&ctx->arena, n + 1);
    bool failed = false;
    if (!lit) {
        pc_oom(ctx);
        return -1;
    }
    for (size_t i = 0; i < n;) {
        if (s[i] == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            lit[nlit++] = '$';
            lit[nlit++] = '{';
            i += 3;
            continue;
        }
        if (s[i] != '$' || i + 1 >= n || s[i + 1] != '{') {
            lit[nlit++] = s[i++];
            continue;
        }
        if (flush_literal(ctx, ip, &cap, lit, &nlit) < 0)
            return -1;
        long close = find_close(s, n, i + 2);
        if (close < 0) {
            report_node(ctx, node, i, 2, "unterminated '${' (missing '}')");
            return -1;
        }
        size_t beg = i + 2, len = (size_t)close - beg;
        struct pc_expr *e = NULL;
        nexpr++;
        if (blank(s + beg, len)) {
            report_node(ctx, node, i, len + 3, "empty expression in '${}'");
            failed = true;
        } else if (pc_expr_parse(ctx, node, beg, len, &e) < 0) {
            failed = true;
        } else if (add_part(ctx, ip, &cap, s + beg, len, e) < 0) {
            return -1;
        }
        i = (size_t)close + 1;
    }
    if (flush_literal(ctx, ip, &cap, lit, &nlit) < 0 || failed)
        return -1;
    ip->pure = nexpr == 1 && ip->nparts == 1 && n >= 3 && s[0] == '$' &&
               s[1] == '{' && s[n - 1] == '}';
    *out = ip;
    return 0;
}

int pc_cond_parse(struct pc_ctx *ctx, const struct pc_node *node,
                  struct pc_expr **out)
{
    *out = NULL;
    if (node->kind != PC_NODE_SCALAR) {
        if (node->kind == PC_NODE_NULL)
            pc_report(ctx, PC_D_EXPR, node->loc, "empty condition");
        else
            pc_report(ctx, PC_D_WRONG_TYPE, node->loc,
                      "expected a condition, found %s", kind_words(node));
        return -1;
    }
    const char *s = node->str;
    size_t b = 0, e = node->len;
    while (b < e && blank(s + b, 1))
        b++;
    while (e > b && blank(s + e - 1, 1))
        e--;
    if (b == e) {
        pc_report(ctx, PC_D_EXPR, node->loc, "empty condition");
        return -1;
    }
    if (e - b >= 2 && s[b] == '$' && s[b + 1] == '{') {
        long close = find_close(s, e, b + 2);
        if (close < 0) {
            report_node(ctx, node, b, 2, "unterminated '${' (missing '}')");
            return -1;
        }
        if ((size_t)close + 1 != e) {
            report_node(ctx, node, (size_t)close + 1, e - (size_t)close - 1,
                        "text after '${...}' in a condition; put the whole "
                        "condition inside one '${...}'");
            return -1;
        }
        size_t len = (size_t)close - b - 2;
        if (blank(s + b + 2, len)) {
            report_node(ctx, node, b, len + 3, "empty expression in '${}'");
            return -1;
        }
        return pc_expr_parse(ctx, node, b + 2, len, out);
    }
    return pc_expr_parse(ctx, node, b, e - b, out);
}

/* ---- walking ---- */

void pc_expr_walk_paths(struct pc_expr *e,
                        void (*fn)(void *ud, struct pc_expr *path), void *ud)
{
    if (e->kind == PC_E_PATH) {
        fn(ud, e);
        return;
    }
    for (size_t i = 0; i < e->nargs; i++)
        pc_expr_walk_paths(e->args[i], fn, ud);
}

bool pc_expr_is_constant(const struct pc_expr *e)
{
    if (e->kind == PC_E_PATH)
        return false;
    for (size_t i = 0; i < e->nargs; i++)
        if (!pc_expr_is_constant(e->args[i]))
            return false;
    return true;
}

/* ---- printing ---- */

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->cap && o->len < o->cap - 1) {
        size_t room = o->cap - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

const char *pc_expr_op_symbol(int op)
{
    switch (op) {
    case PR_OP_OR:
        return "||";
    case PR_OP_AND:
        return "&&";
    case PR_OP_EQ:
        return "==";
    case PR_OP_NE:
        return "!=";
    case PR_OP_LT:
        return "<";
    case PR_OP_LE:
        return "<=";
    case PR_OP_GT:
        return ">";
    case PR_OP_GE:
        return ">=";
    case PR_OP_IN:
        return "in";
    case PR_OP_ADD:
        return "+";
    case PR_OP_SUB:
        return "-";
    case PR_OP_MUL:
        return "*";
    case PR_OP_DIV:
        return "/";
    case PR_OP_MOD:
        return "%";
    case PR_OP_NOT:
        return "!";
    case PR_OP_NEG:
        return "-";
    default:
        return "?";
    }
}

enum { P_OR = 1, P_AND, P_EQ, P_CMP, P_ADD, P_MUL, P_UNARY, P_POSTFIX };

static int prec(const struct pc_expr *e)
{
    if (e->kind == PC_E_UNARY || (e->kind == PC_E_NUM && signbit(e->num)))
        return P_UNARY;
    if (e->kind != PC_E_BINARY)
        return P_POSTFIX;
    switch (e->op) {
    case PR_OP_OR:
        return P_OR;
    case PR_OP_AND:
        return P_AND;
    case PR_OP_EQ:
    case PR_OP_NE:
        return P_EQ;
    case PR_OP_ADD:
    case PR_OP_SUB:
        return P_ADD;
    case PR_OP_MUL:
    case PR_OP_DIV:
    case PR_OP_MOD:
        return P_MUL;
    default:
        return P_CMP;
    }
}

static void print(struct out *o, const struct pc_expr *e);

static void print_in(struct out *o, const struct pc_expr *e, bool parens)
{
    if (parens)
        put(o, "(", 1);
    print(o, e);
    if (parens)
        put(o, ")", 1);
}

static void print_str(struct out *o, const char *s, size_t n)
{
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c == '\n') {
            put(o, "\\n", 2);
        } else if (c == '\t') {
            put(o, "\\t", 2);
        } else if (c == '\r') {
            put(o, "\\r", 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(o, esc, 6);
        } else {
            put(o, s + i, 1);
        }
    }
    put(o, "\"", 1);
}

static void print_items(struct out *o, const struct pc_expr *e)
{
    for (size_t i = 0; i < e->nargs; i++) {
        if (i)
            put(o, ", ", 2);
        print(o, e->args[i]);
    }
}

static void print(struct out *o, const struct pc_expr *e)
{
    char num[32];
    switch (e->kind) {
    case PC_E_NULL:
        puts_(o, "null");
        break;
    case PC_E_BOOL:
        puts_(o, e->b ? "true" : "false");
        break;
    case PC_E_NUM:
        pr_format_number(e->num, num, sizeof num);
        puts_(o, num);
        break;
    case PC_E_STR:
        print_str(o, e->str, e->len);
        break;
    case PC_E_LIST:
        put(o, "[", 1);
        print_items(o, e);
        put(o, "]", 1);
        break;
    case PC_E_PATH:
        for (size_t i = 0; i < e->nseg; i++) {
            if (i)
                put(o, ".", 1);
            puts_(o, e->seg[i]);
        }
        break;
    case PC_E_INDEX:
        print_in(o, e->args[0], prec(e->args[0]) < P_POSTFIX);
        put(o, "[", 1);
        print(o, e->args[1]);
        put(o, "]", 1);
        break;
    case PC_E_MEMBER:
        print_in(o, e->args[0], prec(e->args[0]) < P_POSTFIX);
        put(o, ".", 1);
        put(o, e->str, e->len);
        break;
    case PC_E_UNARY:
        puts_(o, pc_expr_op_symbol(e->op));
        print_in(o, e->args[0], prec(e->args[0]) < P_UNARY);
        break;
    case PC_E_BINARY: {
        int pe = prec(e);
        print_in(o, e->args[0], prec(e->args[0]) < pe);
        put(o, " ", 1);
        puts_(o, pc_expr_op_symbol(e->op));
        put(o, " ", 1);
        print_in(o, e->args[1], prec(e->args[1]) <= pe);
        break;
    }
    case PC_E_CALL:
        put(o, e->str, e->len);
        put(o, "(", 1);
        print_items(o, e);
        put(o, ")", 1);
        break;
    }
}

int pc_expr_print(const struct pc_expr *e, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    print(&o, e);
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len > INT_MAX ? INT_MAX : (int)o.len;
}
