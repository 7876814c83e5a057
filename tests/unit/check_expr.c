/* check_expr.c -- unit tests of the expression language
 *
 * Parsing to canonical text, precedence, every diagnostic with its message
 * and position, interpolation and conditions, parse -> emit -> eval round
 * trips over real JSON, evaluation errors, and hostile bytecode.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "bytecode.h"
#include "diag.h"
#include "eval.h"
#include "expr.h"
#include "source.h"
#include "yaml.h"

/* ---- fixture: one scalar "x: TEXT" in a registered source ---- */

#define PREFIX "x: "
#define PREFIX_LEN 3

struct fx {
    struct pc_ctx ctx;
    struct pc_node node;
};

static void fx_init(struct fx *f, const char *text, size_t n)
{
    pc_ctx_init(&f->ctx);
    char *src = malloc(PREFIX_LEN + n + 2);
    ck_assert_ptr_nonnull(src);
    memcpy(src, PREFIX, PREFIX_LEN);
    memcpy(src + PREFIX_LEN, text, n);
    src[PREFIX_LEN + n] = '\n';
    struct pc_source *s = pc_source_from_mem(&f->ctx.arena, "t.poml", src,
                                             PREFIX_LEN + n + 1);
    free(src);
    ck_assert_ptr_nonnull(s);
    uint32_t file = pc_ctx_add_source(&f->ctx, s);
    ck_assert_uint_ne(file, 0);
    memset(&f->node, 0, sizeof f->node);
    f->node.kind = PC_NODE_SCALAR;
    f->node.style = PC_PLAIN;
    f->node.exact = true;
    f->node.loc.file = file;
    f->node.loc.off = PREFIX_LEN;
    f->node.loc.len = (uint32_t)n;
    f->node.content_off = PREFIX_LEN;
    f->node.str = pr_arena_strndup(&f->ctx.arena, text, n);
    f->node.len = n;
}

static void fx_free(struct fx *f)
{
    pc_ctx_free(&f->ctx);
}

static const char *first_msg(struct fx *f)
{
    return f->ctx.ndiags ? f->ctx.diags[0].msg : "(no diagnostic)";
}

/* Canonical text of TEXT parsed as an expression. */
static char printed[4096];

static const char *show(const char *text)
{
    struct fx f;
    struct pc_expr *e;
    fx_init(&f, text, strlen(text));
    int rc = pc_expr_parse(&f.ctx, &f.node, 0, strlen(text), &e);
    if (rc != 0)
        ck_abort_msg("'%s' did not parse: %s", text, first_msg(&f));
    ck_assert_uint_eq(f.ctx.ndiags, 0);
    int n = pc_expr_print(e, printed, sizeof printed);
    ck_assert_int_eq(n, (int)strlen(printed));
    /* the canonical form reads back as itself */
    char again[4096];
    struct fx g;
    struct pc_expr *e2;
    fx_init(&g, printed, strlen(printed));
    if (pc_expr_parse(&g.ctx, &g.node, 0, strlen(printed), &e2) != 0)
        ck_abort_msg("canonical '%s' did not parse: %s", printed,
                     first_msg(&g));
    pc_expr_print(e2, again, sizeof again);
    ck_assert_str_eq(again, printed);
    fx_free(&g);
    fx_free(&f);
    return printed;
}

/* TEXT must fail with MSG as the first diagnostic, at byte COL of TEXT. */
static void expect_error_n(const char *text, size_t n, const char *msg,
                           unsigned col)
{
    struct fx f;
    struct pc_expr *e = NULL;
    fx_init(&f, text, n);
    int rc = pc_expr_parse(&f.ctx, &f.node, 0, n, &e);
    ck_assert_msg(rc == -1, "'%s' parsed", text);
    ck_assert_ptr_null(e);
    ck_assert_uint_ge(f.ctx.ndiags, 1);
    ck_assert_int_eq(f.ctx.diags[0].id, PC_D_EXPR);
    ck_assert_int_eq(f.ctx.diags[0].sev, PC_SEV_ERROR);
    ck_assert_msg(strcmp(f.ctx.diags[0].msg, msg) == 0,
                  "'%s': got message '%s', want '%s'", text,
                  f.ctx.diags[0].msg, msg);
    ck_assert_msg(f.ctx.diags[0].loc.off == PREFIX_LEN + col,
                  "'%s': '%s' at %u, want %u", text, msg,
                  f.ctx.diags[0].loc.off - PREFIX_LEN, col);
    ck_assert_uint_eq(f.ctx.diags[0].loc.file, f.node.loc.file);
    fx_free(&f);
}

static void expect_error(const char *text, const char *msg, unsigned col)
{
    expect_error_n(text, strlen(text), msg, col);
}

/* ---- parsing ---- */

START_TEST(test_examples)
{
    static const char *const cases[][2] = {
        {"params.repo", "params.repo"},
        {"steps.analyze_code.analysis_report",
         "steps.analyze_code.analysis_report"},
        {"steps.analyze.result.has_issues", "steps.analyze.result.has_issues"},
        {"!steps.analyze.result.has_issues",
         "!steps.analyze.result.has_issues"},
        {"codebase.complexity > 1000", "codebase.complexity > 1000"},
        {"security.issues_found > 0", "security.issues_found > 0"},
        {"item", "item"},
        {"index", "index"},
        {"item.name", "item.name"},
        {"params.n >= 3 && steps.a.exit_code == 0",
         "params.n >= 3 && steps.a.exit_code == 0"},
        {"NOT params.dry AND (params.x OR params.y)",
         "!params.dry && (params.x || params.y)"},
        {"\"x\" in params.tags", "\"x\" in params.tags"},
        {"len(steps.s.chunks) % 2 == 1", "len(steps.s.chunks) % 2 == 1"},
        {"contains(params.name, \"api\")", "contains(params.name, \"api\")"},
        {"startsWith(params.branch, \"release/\")",
         "startsWith(params.branch, \"release/\")"},
        {"join(params.tags, \", \")", "join(params.tags, \", \")"},
        {"default(params.x, \"fallback\")", "default(params.x, \"fallback\")"},
        {"[1, 2, \"three\", null, true]", "[1, 2, \"three\", null, true]"},
        {"a[0]", "a[0]"},
        {"a[\"key\"]", "a[\"key\"]"},
        {"-3.5e2", "-350"},
        {"'single quoted'", "\"single quoted\""},
        {"\"esc \\\" \\n \\\\ \\u00e9\"", "\"esc \\\" \\n \\\\ \xc3\xa9\""},
        {"\"\\ud83d\\ude00 \\/ \\t\\r '\"", "\"\xf0\x9f\x98\x80 / \\t\\r '\""},
        {"'it\\'s'", "\"it's\""},
        {"endsWith(a, \"x\") || lower(b) == upper(c)",
         "endsWith(a, \"x\") || lower(b) == upper(c)"},
        {"[]", "[]"},
        {"[[1], []]", "[[1], []]"},
        {"  a  ", "a"},
        {"false", "false"},
        {"0.5", "0.5"},
        {"1e3", "1000"},
        {"12345678901234567890", "1.2345678901234567e+19"},
        {"a.b[0].c.d", "a.b[0].c.d"},
        {"a[0][1]", "a[0][1]"},
        {"f-x.y-z", "f-x.y-z"},
        {"a-1", "a-1"},
        {"a - 1", "a - 1"},
        {"x.in.true.null.AND", "x.in.true.null.AND"},
        {"and", "and"},
        {"NOT NOT a", "!!a"},
        {"- -a", "--a"},
        {"-(-3)", "3"},
        {"(a).b", "a.b"},
        {"(a + b).c", "(a + b).c"},
        {"(-1)[0]", "(-1)[0]"},
        {"\"\\u0001\"", "\"\\u0001\""},
        {"\"${x}\"", "\"${x}\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_str_eq(show(cases[i][0]), cases[i][1]);
}
END_TEST

/* The tree's top operator and the canonical text for precedence cases. */
START_TEST(test_precedence)
{
    static const char *const cases[][2] = {
        {"a + b * c", "a + b * c"},
        {"(a + b) * c", "(a + b) * c"},
        {"a - b - c", "a - b - c"},
        {"(a - b) - c", "a - b - c"},
        {"a - (b - c)", "a - (b - c)"},
        {"a / b / c", "a / b / c"},
        {"a / (b / c)", "a / (b / c)"},
        {"a * b % c", "a * b % c"},
        {"a || b && c", "a || b && c"},
        {"(a || b) && c", "(a || b) && c"},
        {"a && b || c", "a && b || c"},
        {"a OR b AND c", "a || b && c"},
        {"a == b && c != d", "a == b && c != d"},
        {"a < b == c > d", "a < b == c > d"},
        {"a < (b == c)", "a < (b == c)"},
        {"a + 1 < b * 2", "a + 1 < b * 2"},
        {"a in b == c", "a in b == c"},
        {"a in (b == c)", "a in (b == c)"},
        {"a < b in c", "a < b in c"},
        {"a < (b in c)", "a < (b in c)"},
        {"!a == b", "!a == b"},
        {"!(a == b)", "!(a == b)"},
        {"-a * b", "-a * b"},
        {"-(a * b)", "-(a * b)"},
        {"-a.b[0]", "-a.b[0]"},
        {"a == b == c", "a == b == c"},
        {"a == (b == c)", "a == (b == c)"},
        {"a + -b", "a + -b"},
        {"((((a))))", "a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_str_eq(show(cases[i][0]), cases[i][1]);

    /* the shape, not only the text */
    struct fx f;
    struct pc_expr *e;
    const char *t = "a || b && c == d + e * -f";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), 0);
    ck_assert_int_eq(e->kind, PC_E_BINARY);
    ck_assert_int_eq(e->op, PR_OP_OR);
    e = e->args[1];
    ck_assert_int_eq(e->op, PR_OP_AND);
    e = e->args[1];
    ck_assert_int_eq(e->op, PR_OP_EQ);
    e = e->args[1];
    ck_assert_int_eq(e->op, PR_OP_ADD);
    e = e->args[1];
    ck_assert_int_eq(e->op, PR_OP_MUL);
    ck_assert_int_eq(e->args[1]->kind, PC_E_UNARY);
    ck_assert_int_eq(e->args[1]->op, PR_OP_NEG);
    fx_free(&f);

    t = "a - b - c";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), 0);
    ck_assert_int_eq(e->op, PR_OP_SUB);
    ck_assert_int_eq(e->args[0]->kind, PC_E_BINARY);
    ck_assert_int_eq(e->args[1]->kind, PC_E_PATH);
    fx_free(&f);
}
END_TEST

START_TEST(test_tree)
{
    struct fx f;
    struct pc_expr *e;
    const char *t = "steps.fetch-data.items[0].name";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), 0);
    ck_assert_int_eq(e->kind, PC_E_MEMBER);
    ck_assert_str_eq(e->str, "name");
    ck_assert_uint_eq(e->loc.off, PREFIX_LEN);
    ck_assert_uint_eq(e->loc.len, strlen(t));
    struct pc_expr *ix = e->args[0];
    ck_assert_int_eq(ix->kind, PC_E_INDEX);
    struct pc_expr *path = ix->args[0];
    ck_assert_int_eq(path->kind, PC_E_PATH);
    ck_assert_uint_eq(path->nseg, 3);
    ck_assert_str_eq(path->seg[0], "steps");
    ck_assert_str_eq(path->seg[1], "fetch-data");
    ck_assert_str_eq(path->seg[2], "items");
    ck_assert_uint_eq(path->segloc[1].off, PREFIX_LEN + 6);
    ck_assert_uint_eq(path->segloc[1].len, 10);
    ck_assert_uint_eq(path->segloc[2].off, PREFIX_LEN + 17);
    ck_assert_int_eq(ix->args[1]->kind, PC_E_NUM);
    fx_free(&f);

    /* a long path keeps every segment */
    char buf[4200];
    strcpy(buf, "p");
    for (int i = 0; i < 1000; i++)
        strcat(buf, ".s");
    fx_init(&f, buf, strlen(buf));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(buf), &e), 0);
    ck_assert_uint_eq(e->nseg, 1001);
    ck_assert_str_eq(e->seg[1000], "s");
    ck_assert_uint_eq(e->segloc[1000].off, PREFIX_LEN + 2000);
    fx_free(&f);

    t = "f(x)";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), -1);
    fx_free(&f);

    t = "len([1, 'a'])";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), 0);
    ck_assert_int_eq(e->kind, PC_E_CALL);
    ck_assert_int_eq(e->op, PR_FN_LEN);
    ck_assert_uint_eq(e->nargs, 1);
    ck_assert_int_eq(e->args[0]->kind, PC_E_LIST);
    ck_assert_uint_eq(e->args[0]->nargs, 2);
    ck_assert_str_eq(e->args[0]->args[1]->str, "a");
    fx_free(&f);
}
END_TEST

struct walk_log {
    char text[256];
};

static void log_path(void *ud, struct pc_expr *path)
{
    struct walk_log *w = ud;
    char one[64];
    pc_expr_print(path, one, sizeof one);
    strcat(w->text, one);
    strcat(w->text, ";");
}

START_TEST(test_walk_constant)
{
    static const struct {
        const char *text, *paths;
        bool constant;
    } cases[] = {
        {"a.b + c[d.e] * lower(g)", "a.b;c;d.e;g;", false},
        {"len([x, y.z]) > default(w, 1)", "x;y.z;w;", false},
        {"!(p) && -q.r", "p;q.r;", false},
        {"1 + 2 * len(\"abc\")", "", true},
        {"[1, [true, null], 'x'][0]", "", true},
        {"(1)[a]", "a;", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fx f;
        struct pc_expr *e;
        struct walk_log w = {""};
        const char *t = cases[i].text;
        fx_init(&f, t, strlen(t));
        if (pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e) != 0)
            ck_abort_msg("'%s': %s", t, first_msg(&f));
        pc_expr_walk_paths(e, log_path, &w);
        ck_assert_str_eq(w.text, cases[i].paths);
        ck_assert(pc_expr_is_constant(e) == cases[i].constant);
        fx_free(&f);
    }
}
END_TEST

START_TEST(test_print_truncates)
{
    struct fx f;
    struct pc_expr *e;
    const char *t = "params.repo == 'abc'";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), 0);
    char small[8];
    memset(small, 'z', sizeof small);
    ck_assert_int_eq(pc_expr_print(e, small, sizeof small), 20);
    ck_assert_str_eq(small, "params.");
    ck_assert_int_eq(pc_expr_print(e, NULL, 0), 20);
    fx_free(&f);
}
END_TEST

/* ---- diagnostics ---- */

START_TEST(test_errors)
{
    expect_error("a +", "expected expression at end of expression", 3);
    expect_error("a + )", "expected expression before ')'", 4);
    expect_error(")", "expected expression before ')'", 0);
    expect_error("(a", "expected ')' at end of expression", 2);
    expect_error("(a b", "expected ')' before 'b'", 3);
    expect_error("len(a", "expected ',' or ')' at end of expression", 5);
    expect_error("len(a b)", "expected ',' or ')' before 'b'", 6);
    expect_error("[1 2", "expected ',' or ']' before '2'", 3);
    expect_error("[1, 2,]", "expected expression before ']'", 6);
    expect_error("a[1", "expected ']' at end of expression", 3);
    expect_error("a.", "expected name at end of expression", 2);
    expect_error("a.(b)", "expected name before '('", 2);
    expect_error("a b", "unexpected 'b'", 2);
    expect_error("a )", "unexpected ')'", 2);
    expect_error("a 'x'", "unexpected string literal", 2);
    expect_error("a averyveryveryveryveryverylongidentifier",
                 "unexpected 'averyveryveryveryveryverylongide...'", 2);
    expect_error("a = b", "'=' is not an operator; did you mean '=='?", 2);
    expect_error("a & b", "'&' is not an operator; did you mean '&&'?", 2);
    expect_error("a | b", "'|' is not an operator; did you mean '||'?", 2);
    expect_error("a # b", "unexpected character '#'", 2);
    expect_error("a } b", "unexpected character '}'", 2);
    expect_error("${a}", "'${' cannot appear inside an expression", 0);
    expect_error("a + ${b}", "'${' cannot appear inside an expression", 4);
    expect_error("x == \xc3\xa9", "unexpected character '\xc3\xa9'", 5);
    expect_error("a \x01", "unexpected character U+0001", 2);
    expect_error("a \xff", "invalid UTF-8 byte 0xff", 2);
    expect_error_n("a\0b", 3, "unexpected character U+0000", 1);
    expect_error("\"abc", "unterminated string literal", 0);
    expect_error("x == 'abc\\'", "unterminated string literal", 5);
    expect_error("'ab\\q'", "invalid escape sequence '\\q' in string", 3);
    expect_error("'\\x41'", "invalid escape sequence '\\x' in string", 1);
    expect_error("\"\\u12\"", "'\\u' must be followed by 4 hex digits", 1);
    expect_error("\"\\u12g4\"", "'\\u' must be followed by 4 hex digits", 1);
    expect_error("\"ab\\ud800\"", "unpaired surrogate '\\ud800' in string", 3);
    expect_error("\"\\ud800\\u0041\"",
                 "unpaired surrogate '\\ud800' in string", 1);
    expect_error("\"\\udc00\"", "unpaired surrogate '\\udc00' in string", 1);
    expect_error("\"\\u0000\"", "'\\u0000' is not allowed in strings", 1);
    expect_error("lenn(x)", "unknown function 'lenn'", 0);
    expect_error("a + startswith(b, 'c')", "unknown function 'startswith'", 4);
    expect_error("len(a, b)",
                 "function 'len' takes 1 argument, but 2 were given", 0);
    expect_error("x || len()",
                 "function 'len' takes 1 argument, but 0 were given", 5);
    expect_error("join(a)",
                 "function 'join' takes 2 arguments, but 1 was given", 0);
    expect_error("default(a, b, c)",
                 "function 'default' takes 2 arguments, but 3 were given", 0);
    expect_error("1e999", "number '1e999' is out of range", 0);
    expect_error("a and b", "unexpected 'and'", 2);
    expect_error("", "empty expression", 0);
    expect_error("   ", "empty expression", 0);
    expect_error("a.b(1)", "unexpected '('", 3);
    expect_error("1 2", "unexpected '2'", 2);
    expect_error("a ! b", "unexpected '!'", 2);
    expect_error("a in", "expected expression at end of expression", 4);
}
END_TEST

START_TEST(test_error_notes)
{
    struct fx f;
    struct pc_expr *e;
    const char *t = "a + lenght(b)";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), -1);
    ck_assert_uint_eq(f.ctx.ndiags, 1);
    ck_assert_str_eq(f.ctx.diags[0].msg, "unknown function 'lenght'");
    ck_assert_uint_eq(f.ctx.diags[0].loc.len, 6);
    ck_assert_ptr_nonnull(f.ctx.diags[0].notes);
    ck_assert_str_eq(f.ctx.diags[0].notes->msg, "did you mean 'len'?");
    fx_free(&f);

    t = "steps.x.ok and params.y";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), -1);
    ck_assert_ptr_nonnull(f.ctx.diags[0].notes);
    ck_assert_str_eq(f.ctx.diags[0].notes->msg,
                     "operators are written '&&' or 'AND'");
    fx_free(&f);

    /* several problems in one expression are all reported */
    t = "lenn(x) + '\\q' + join(1)";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), -1);
    ck_assert_uint_eq(f.ctx.ndiags, 3);
    ck_assert_str_eq(f.ctx.diags[1].msg,
                     "invalid escape sequence '\\q' in string");
    ck_assert_uint_eq(f.ctx.diags[1].loc.off, PREFIX_LEN + 11);
    ck_assert_uint_eq(f.ctx.diags[1].loc.len, 2);
    ck_assert_uint_eq(f.ctx.diags[2].loc.off, PREFIX_LEN + 17);
    fx_free(&f);

    /* a whole-scalar location when the scalar is not exact */
    t = "a +";
    fx_init(&f, t, strlen(t));
    f.node.exact = false;
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(t), &e), -1);
    ck_assert_uint_eq(f.ctx.diags[0].loc.off, PREFIX_LEN);
    ck_assert_uint_eq(f.ctx.diags[0].loc.len, 3);
    fx_free(&f);
}
END_TEST

static char *repeat(const char *a, int n, const char *mid, const char *b,
                    int m)
{
    size_t la = strlen(a), lm = strlen(mid), lb = strlen(b);
    char *s = malloc(la * (size_t)n + lm + lb * (size_t)m + 1);
    ck_assert_ptr_nonnull(s);
    char *p = s;
    for (int i = 0; i < n; i++, p += la)
        memcpy(p, a, la);
    memcpy(p, mid, lm);
    p += lm;
    for (int i = 0; i < m; i++, p += lb)
        memcpy(p, b, lb);
    *p = '\0';
    return s;
}

START_TEST(test_limits)
{
    char *s;
    /* 64 levels are fine, the 65th is not, whatever opens it */
    s = repeat("(", 64, "a", ")", 64);
    ck_assert_str_eq(show(s), "a");
    free(s);
    s = repeat("(", 65, "a", ")", 65);
    expect_error(s, "expression nested too deeply (more than 64 levels)", 64);
    free(s);
    s = repeat("[", 64, "1", "]", 64);
    show(s);
    free(s);
    s = repeat("[", 65, "1", "]", 65);
    expect_error(s, "expression nested too deeply (more than 64 levels)", 64);
    free(s);
    s = repeat("!", 64, "a", "", 0);
    show(s);
    free(s);
    s = repeat("NOT ", 65, "a", "", 0);
    expect_error(s, "expression nested too deeply (more than 64 levels)", 256);
    free(s);
    s = repeat("-", 70, "a", "", 0);
    expect_error(s, "expression nested too deeply (more than 64 levels)", 64);
    free(s);
    s = repeat("len(", 65, "a", ")", 65);
    expect_error(s, "expression nested too deeply (more than 64 levels)",
                 64 * 4 + 3);
    free(s);
    s = repeat("a[", 65, "0", "]", 65);
    expect_error(s, "expression nested too deeply (more than 64 levels)",
                 64 * 2 + 1);
    free(s);
    /* hostile depth fails fast, without exhausting any stack */
    s = repeat("(", 200000, "a", ")", 200000);
    expect_error(s, "expression nested too deeply (more than 64 levels)", 64);
    free(s);
    s = repeat("!-", 100000, "a", "", 0);
    expect_error(s, "expression nested too deeply (more than 64 levels)", 64);
    free(s);
    /* long operator chains are bounded too */
    s = repeat("a + ", 511, "a", "", 0);
    show(s);
    free(s);
    s = repeat("a + ", 512, "a", "", 0);
    expect_error(s,
                 "expression too complex (more than 512 levels of "
                 "operators)",
                 0);
    free(s);
    s = repeat("a[0]", 1, "", "[0]", 600);
    expect_error(s,
                 "expression too complex (more than 512 levels of "
                 "operators)",
                 0);
    free(s);
    /* and so is what evaluation would keep on its stack */
    s = repeat("[", 1, "", "1, ", 255);
    strcpy(s + strlen(s) - 2, "]");
    show(s);
    free(s);
    s = repeat("[", 1, "", "1, ", 257);
    strcpy(s + strlen(s) - 2, "]");
    expect_error(s,
                 "expression too complex (more than 256 values pending "
                 "at once)",
                 0);
    free(s);
    s = repeat("1 + (", 60, "1", ")", 60);
    show(s);
    free(s);
    s = repeat("[1, 2, 3, 4, 5, ", 60, "1", "]", 60);
    expect_error(s,
                 "expression too complex (more than 256 values pending "
                 "at once)",
                 16 * 8);
    free(s);
}
END_TEST

/* ---- interpolation and conditions ---- */

struct part_want {
    const char *text; /* literal text, or NULL */
    const char *expr; /* canonical expression, or NULL */
};

static void expect_interp(const char *text, bool pure, size_t n,
                          const struct part_want *want)
{
    struct fx f;
    struct pc_interp *ip;
    fx_init(&f, text, strlen(text));
    int rc = pc_interp_parse(&f.ctx, &f.node, &ip);
    if (rc != 0)
        ck_abort_msg("'%s': %s", text, first_msg(&f));
    ck_assert_uint_eq(ip->nparts, n);
    ck_assert_msg(ip->pure == pure, "'%s': pure %d", text, ip->pure);
    for (size_t i = 0; i < n; i++) {
        if (want[i].text) {
            ck_assert_ptr_null(ip->parts[i].expr);
            ck_assert_uint_eq(ip->parts[i].len, strlen(want[i].text));
            ck_assert(memcmp(ip->parts[i].text, want[i].text,
                             ip->parts[i].len) == 0);
        } else {
            char buf[256];
            ck_assert_ptr_nonnull(ip->parts[i].expr);
            pc_expr_print(ip->parts[i].expr, buf, sizeof buf);
            ck_assert_str_eq(buf, want[i].expr);
        }
    }
    fx_free(&f);
}

static void expect_interp_error(const char *text, const char *msg,
                                unsigned col, size_t ndiags)
{
    struct fx f;
    struct pc_interp *ip = NULL;
    fx_init(&f, text, strlen(text));
    ck_assert_int_eq(pc_interp_parse(&f.ctx, &f.node, &ip), -1);
    ck_assert_ptr_null(ip);
    ck_assert_uint_eq(f.ctx.ndiags, ndiags);
    ck_assert_str_eq(f.ctx.diags[0].msg, msg);
    ck_assert_uint_eq(f.ctx.diags[0].loc.off, PREFIX_LEN + col);
    fx_free(&f);
}

START_TEST(test_interp)
{
    struct part_want w1[] = {{"plain text", NULL}};
    expect_interp("plain text", false, 1, w1);
    expect_interp("", false, 0, NULL);
    struct part_want w2[] = {{NULL, "params.repo"}};
    expect_interp("${params.repo}", true, 1, w2);
    expect_interp("${ params.repo }", true, 1, w2);
    struct part_want w3[] = {
        {"Review ", NULL}, {NULL, "params.repo"}, {" now", NULL}};
    expect_interp("Review ${params.repo} now", false, 3, w3);
    struct part_want w4[] = {{"${x} and ${y}", NULL}};
    expect_interp("$${x} and $${y}", false, 1, w4);
    struct part_want w5[] = {{"cost: $$5 $ {x} ${", NULL}, {NULL, "n"}};
    expect_interp("cost: $$5 $ {x} $${${n}", false, 2, w5);
    struct part_want w6[] = {{NULL, "\"}\" + a"}};
    expect_interp("${ \"}\" + a }", true, 1, w6);
    struct part_want w7[] = {{NULL, "\"${x}\""}};
    expect_interp("${ \"${x}\" }", true, 1, w7);
    struct part_want w8[] = {{" ", NULL}, {NULL, "a"}};
    expect_interp(" ${a}", false, 2, w8);
    struct part_want w9[] = {{NULL, "a"}, {NULL, "b"}};
    expect_interp("${a}${b}", false, 2, w9);
    struct part_want w10[] = {{NULL, "x == \"'}\""}};
    expect_interp("${x == '\\'}'}", true, 1, w10);
    struct part_want w11[] = {{"trailing $", NULL}};
    expect_interp("trailing $", false, 1, w11);

    /* expression parts carry their source text */
    struct fx f;
    struct pc_interp *ip;
    const char *t = "a ${ b.c } d";
    fx_init(&f, t, strlen(t));
    ck_assert_int_eq(pc_interp_parse(&f.ctx, &f.node, &ip), 0);
    ck_assert_uint_eq(ip->parts[1].len, 5);
    ck_assert(memcmp(ip->parts[1].text, " b.c ", 5) == 0);
    ck_assert_uint_eq(ip->parts[1].expr->loc.off, PREFIX_LEN + 5);
    ck_assert_uint_eq(ip->parts[1].expr->loc.len, 3);
    fx_free(&f);

    /* a null value is an empty string */
    fx_init(&f, "", 0);
    f.node.kind = PC_NODE_NULL;
    ck_assert_int_eq(pc_interp_parse(&f.ctx, &f.node, &ip), 0);
    ck_assert_uint_eq(ip->nparts, 0);
    fx_free(&f);

    expect_interp_error("${a} ${", "unterminated '${' (missing '}')", 5, 1);
    expect_interp_error("x ${a + 'b}", "unterminated '${' (missing '}')", 2,
                        1);
    expect_interp_error("${}", "empty expression in '${}'", 0, 1);
    expect_interp_error("a ${ } b", "empty expression in '${}'", 2, 1);
    expect_interp_error("${a +} and ${b b}",
                        "expected expression at end of expression", 5, 2);
    expect_interp_error("${ lenn(x) }", "unknown function 'lenn'", 3, 1);
}
END_TEST

static void expect_cond(const char *text, const char *want)
{
    struct fx f;
    struct pc_expr *e;
    char buf[256];
    fx_init(&f, text, strlen(text));
    if (pc_cond_parse(&f.ctx, &f.node, &e) != 0)
        ck_abort_msg("'%s': %s", text, first_msg(&f));
    pc_expr_print(e, buf, sizeof buf);
    ck_assert_str_eq(buf, want);
    fx_free(&f);
}

static void expect_cond_error(const char *text, const char *msg, unsigned col)
{
    struct fx f;
    struct pc_expr *e = NULL;
    fx_init(&f, text, strlen(text));
    ck_assert_int_eq(pc_cond_parse(&f.ctx, &f.node, &e), -1);
    ck_assert_ptr_null(e);
    ck_assert_uint_ge(f.ctx.ndiags, 1);
    ck_assert_str_eq(f.ctx.diags[0].msg, msg);
    ck_assert_uint_eq(f.ctx.diags[0].loc.off, PREFIX_LEN + col);
    fx_free(&f);
}

START_TEST(test_cond)
{
    expect_cond("${!steps.analyze.result.has_issues}",
                "!steps.analyze.result.has_issues");
    expect_cond("codebase.complexity > 1000", "codebase.complexity > 1000");
    expect_cond("  ${ a == '}' }  \n", "a == \"}\"");
    expect_cond("true", "true");
    expect_cond("x == \"${\"", "x == \"${\"");
    expect_cond_error("${a} && ${b}",
                      "text after '${...}' in a condition; put the whole "
                      "condition inside one '${...}'",
                      4);
    expect_cond_error("  ${a", "unterminated '${' (missing '}')", 2);
    expect_cond_error("${ }", "empty expression in '${}'", 0);
    expect_cond_error("   ", "empty condition", 0);
    expect_cond_error("a && ${b}", "'${' cannot appear inside an expression",
                      5);
    expect_cond_error("a &&", "expected expression at end of expression", 4);
    expect_cond_error("${a &&}", "expected expression at end of expression",
                      6);

    struct fx f;
    struct pc_expr *e;
    fx_init(&f, "", 0);
    f.node.kind = PC_NODE_NULL;
    ck_assert_int_eq(pc_cond_parse(&f.ctx, &f.node, &e), -1);
    ck_assert_str_eq(f.ctx.diags[0].msg, "empty condition");
    fx_free(&f);
    fx_init(&f, "", 0);
    f.node.kind = PC_NODE_SEQ;
    ck_assert_int_eq(pc_cond_parse(&f.ctx, &f.node, &e), -1);
    ck_assert_int_eq(f.ctx.diags[0].id, PC_D_WRONG_TYPE);
    ck_assert_str_eq(f.ctx.diags[0].msg, "expected a condition, found a list");
    fx_free(&f);
}
END_TEST

/* ---- emit and evaluate ---- */

struct strtab {
    char *s[64];
    size_t n[64];
    size_t count;
};

static uint32_t intern(void *ud, const char *s, size_t n)
{
    struct strtab *t = ud;
    for (size_t i = 0; i < t->count; i++)
        if (t->n[i] == n && memcmp(t->s[i], s, n) == 0)
            return (uint32_t)i;
    if (t->count == 64)
        return UINT32_MAX;
    t->s[t->count] = malloc(n + 1);
    memcpy(t->s[t->count], s, n);
    t->s[t->count][n] = '\0';
    t->n[t->count] = n;
    return (uint32_t)t->count++;
}

static const char *lookup(void *ud, uint32_t idx, size_t *len)
{
    struct strtab *t = ud;
    if (idx >= t->count)
        return NULL;
    *len = t->n[idx];
    return t->s[idx];
}

static void strtab_free(struct strtab *t)
{
    for (size_t i = 0; i < t->count; i++)
        free(t->s[i]);
    t->count = 0;
}

/* The steps of the test world: the members of world.steps, in order,
 * then "nope", a step that has not finished. */
static cJSON *world_steps;

static uint32_t world_nsteps(void)
{
    return (uint32_t)cJSON_GetArraySize(world_steps) + 1;
}

/* The index of step ID, or UINT32_MAX. */
static uint32_t world_step_index(const char *id)
{
    uint32_t i = 0;
    for (cJSON *c = world_steps->child; c; c = c->next, i++)
        if (!strcmp(c->string, id))
            return i;
    return strcmp(id, "nope") ? UINT32_MAX : i;
}

static cJSON *world_step(void *ud, uint32_t index)
{
    (void)ud;
    return cJSON_GetArrayItem(world_steps, (int)index);
}

/* Resolves the roots as pc_analyze does: params, steps.ID, item and index,
 * a bare step id, and any other bare name as a parameter. */
static void resolve_path(void *ud, struct pc_expr *p)
{
    (void)ud;
    const char *r = p->seg[0];
    uint32_t t;
    if (!strcmp(r, "params"))
        pc_expr_resolve(p, PC_REF_PARAMS, 0, 1);
    else if (!strcmp(r, "steps") && p->nseg > 1 &&
             (t = world_step_index(p->seg[1])) != UINT32_MAX)
        pc_expr_resolve(p, PC_REF_STEP, t, 2);
    else if (!strcmp(r, "item"))
        pc_expr_resolve(p, PC_REF_ITEM, 0, 1);
    else if (!strcmp(r, "index"))
        pc_expr_resolve(p, PC_REF_INDEX, 0, 1);
    else if ((t = world_step_index(r)) != UINT32_MAX)
        pc_expr_resolve(p, PC_REF_STEP, t, 1);
    else if (strcmp(r, "steps"))
        pc_expr_resolve(p, PC_REF_PARAMS, 0, 0);
}

/* The plan's step index is the world's, shifted to show it is used. */
static uint32_t sink_step(void *ud, uint32_t step)
{
    (void)ud;
    return step;
}

struct world {
    cJSON *params, *steps, *item;
    struct strtab tab;
    struct pr_eval_env env;
};

static void world_init(struct world *w)
{
    memset(w, 0, sizeof *w);
    w->params = cJSON_Parse(
        "{\"repo\":\"poml\",\"n\":3,\"tags\":[\"a\",\"api\"],"
        "\"name\":\"my-api\",\"branch\":\"release/1.2\",\"dry\":false,"
        "\"x\":null,\"y\":true,\"obj\":{\"k\":1,\"l\":[1,{\"m\":2}]},"
        "\"big\":1e308,\"s\":\"h\\u00e9llo\","
        "\"codebase\":{\"complexity\":1500},"
        "\"security\":{\"issues_found\":0}}");
    w->steps = cJSON_Parse(
        "{\"analyze_code\":{\"analysis_report\":\"ok\"},"
        "\"analyze\":{\"result\":{\"has_issues\":true}},"
        "\"a\":{\"exit_code\":0},\"s\":{\"chunks\":[1,2,3]},"
        "\"fetch-data\":{\"items\":[{\"name\":\"first\"}]}}");
    w->item = cJSON_Parse("{\"name\":\"it\"}");
    ck_assert_ptr_nonnull(w->params);
    ck_assert_ptr_nonnull(w->steps);
    ck_assert_ptr_nonnull(w->item);
    world_steps = w->steps;
    w->env.str = lookup;
    w->env.step = world_step;
    w->env.nsteps = world_nsteps();
    w->env.ud = &w->tab;
    w->env.params = w->params;
    w->env.item = w->item;
    w->env.index = 2;
    w->env.has_item = true;
}

static void world_free(struct world *w)
{
    cJSON_Delete(w->params);
    cJSON_Delete(w->steps);
    cJSON_Delete(w->item);
    strtab_free(&w->tab);
}

/* Compiles TEXT into CODE (after a few bytes of other code, so the offsets
 * of jumps are shown to count from the expression's own start). */
static void compile(struct world *w, const char *text, struct pr_buf *code,
                    size_t *start)
{
    struct fx f;
    struct pc_expr *e;
    fx_init(&f, text, strlen(text));
    if (pc_expr_parse(&f.ctx, &f.node, 0, strlen(text), &e) != 0)
        ck_abort_msg("'%s': %s", text, first_msg(&f));
    pr_buf_init(code);
    ck_assert_int_eq(pr_buf_append(code, "\xee\xee\xee", 3), 0);
    *start = code->len;
    struct pc_expr_sink sink = {intern, sink_step, &w->tab};
    pc_expr_walk_paths(e, resolve_path, NULL);
    ck_assert_int_eq(pc_expr_emit(e, code, &sink), 0);
    fx_free(&f);
}

/* Evaluates TEXT; returns 0 with the result as compact JSON in OUT, or -1
 * with the error message in OUT. */
static int run(struct world *w, const char *text, char *out, size_t cap)
{
    struct pr_buf code;
    size_t start;
    compile(w, text, &code, &start);
    cJSON *v = NULL;
    int rc = pr_eval(code.data + start, code.len - start, &w->env, &v, out,
                     cap);
    if (rc == 0) {
        char *s = cJSON_PrintUnformatted(v);
        ck_assert_ptr_nonnull(s);
        snprintf(out, cap, "%s", s);
        free(s);
        cJSON_Delete(v);
    } else {
        ck_assert_ptr_null(v);
    }
    pr_buf_free(&code);
    return rc;
}

static void expect_value(struct world *w, const char *text, const char *json)
{
    char out[512];
    if (run(w, text, out, sizeof out) != 0)
        ck_abort_msg("'%s' failed: %s", text, out);
    ck_assert_msg(strcmp(out, json) == 0, "'%s' gave %s, want %s", text, out,
                  json);
}

static void expect_eval_error(struct world *w, const char *text,
                              const char *msg)
{
    char out[512];
    ck_assert_msg(run(w, text, out, sizeof out) == -1, "'%s' gave %s", text,
                  out);
    ck_assert_msg(strcmp(out, msg) == 0, "'%s' failed with '%s', want '%s'",
                  text, out, msg);
}

START_TEST(test_eval)
{
    static const char *const cases[][2] = {
        {"params.repo", "\"poml\""},
        {"steps.analyze_code.analysis_report", "\"ok\""},
        {"steps.analyze.result.has_issues", "true"},
        {"!steps.analyze.result.has_issues", "false"},
        {"codebase.complexity > 1000", "true"},
        {"security.issues_found > 0", "false"},
        {"item", "{\"name\":\"it\"}"},
        {"index", "2"},
        {"item.name", "\"it\""},
        {"params.n >= 3 && steps.a.exit_code == 0", "true"},
        {"NOT params.dry AND (params.x OR params.y)", "true"},
        {"\"x\" in params.tags", "false"},
        {"\"api\" in params.tags", "true"},
        {"len(steps.s.chunks) % 2 == 1", "true"},
        {"contains(params.name, \"api\")", "true"},
        {"contains(params.tags, \"api\")", "true"},
        {"contains(params.obj, \"q\")", "false"},
        {"startsWith(params.branch, \"release/\")", "true"},
        {"startsWith(params.branch, \"main\")", "false"},
        {"endsWith(params.branch, \".2\")", "true"},
        {"endsWith(\"a\", \"abc\")", "false"},
        {"join(params.tags, \", \")", "\"a, api\""},
        {"join([1, 'b', true, null, 2.5], '-')", "\"1-b-true--2.5\""},
        {"join([], ',')", "\"\""},
        {"default(params.x, \"fallback\")", "\"fallback\""},
        {"default(params.repo, \"fallback\")", "\"poml\""},
        {"default(params.nope, params.tags)", "[\"a\",\"api\"]"},
        {"[1, 2, \"three\", null, true]", "[1,2,\"three\",null,true]"},
        {"[params.obj, [index]]", "[{\"k\":1,\"l\":[1,{\"m\":2}]},[2]]"},
        {"params.tags[0]", "\"a\""},
        {"params.tags[1 + 0]", "\"api\""},
        {"params.tags[2]", "null"},
        {"params.tags[-1]", "null"},
        {"params.obj[\"k\"]", "1"},
        {"params.obj.l[1].m", "2"},
        {"[[1, 2], [3, 4]][1][0]", "3"},
        {"steps.fetch-data.items[0].name", "\"first\""},
        {"params.nothing[3].x", "null"},
        {"-3.5e2", "-350"},
        {"'single quoted'", "\"single quoted\""},
        {"\"esc \\\" \\n \\\\ \\u00e9\"", "\"esc \\\" \\n \\\\ \xc3\xa9\""},
        {"1 + 2 * 3", "7"},
        {"(1 + 2) * 3", "9"},
        {"10 - 4 - 3", "3"},
        {"2 * 3 % 4", "2"},
        {"7 / 2", "3.5"},
        {"-7 % 3", "-1"},
        {"-params.n", "-3"},
        {"\"a\" + \"b\" + params.repo", "\"abpoml\""},
        {"params.missing.deeper", "null"},
        {"steps.nope.x == null", "true"},
        {"len(params.s)", "5"},
        {"len(params.obj)", "2"},
        {"len(params.none)", "0"},
        {"len('')", "0"},
        {"lower(\"AbC\xc3\x89\")", "\"abc\xc3\x89\""},
        {"upper(params.repo)", "\"POML\""},
        {"[1, [2, []]] == [1, [2, []]]", "true"},
        {"[1, 2] == [2, 1]", "false"},
        {"params.obj == params.obj", "true"},
        {"params.obj != null", "true"},
        {"1 == \"1\"", "false"},
        {"null == null", "true"},
        {"\"k\" in params.obj", "true"},
        {"\"pi\" in \"api\"", "true"},
        {"\"\" in \"\"", "true"},
        {"1 in params.none", "false"},
        {"[1] in [[1], 2]", "true"},
        {"null || 0", "false"},
        {"\"\" || [1]", "true"},
        {"[] && true", "false"},
        {"params.obj && 'x'", "true"},
        {"\"b\" > \"a\"", "true"},
        {"\"B\" < \"a\"", "true"},
        {"\"ab\" <= \"ab\"", "true"},
        {"2 >= 2.5", "false"},
        {"false && 1 / 0", "false"},
        {"true || 1 / 0", "true"},
        {"false || params.x && 1 / 0", "false"},
        {"!params.tags", "false"},
        {"!''", "true"},
        {"!!3", "true"},
        {"params.n - 1", "2"},
        {"0.5 + 0.25", "0.75"},
    };
    struct world w;
    world_init(&w);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_value(&w, cases[i][0], cases[i][1]);
    world_free(&w);
}
END_TEST

START_TEST(test_eval_errors)
{
    struct world w;
    world_init(&w);
    expect_eval_error(&w, "1 / 0", "division by zero");
    expect_eval_error(&w, "5 % (2 - 2)", "modulo by zero");
    expect_eval_error(&w, "1 + \"a\"",
                      "cannot apply '+' to number and string");
    expect_eval_error(&w, "\"a\" - \"b\"",
                      "cannot apply '-' to string and string");
    expect_eval_error(&w, "params.x * 2",
                      "cannot apply '*' to null and number");
    expect_eval_error(&w, "\"a\" < 1",
                      "cannot compare string and number with '<'");
    expect_eval_error(&w, "params.x >= 1",
                      "cannot compare null and number with '>='");
    expect_eval_error(&w, "-\"a\"", "cannot apply unary '-' to a string");
    expect_eval_error(&w, "params.repo.x",
                      "cannot read member 'x' of a string");
    expect_eval_error(&w, "params.tags.x", "cannot read member 'x' of a list");
    expect_eval_error(&w, "params.tags[\"x\"]",
                      "cannot index a list with a string");
    expect_eval_error(&w, "params.tags[0.5]",
                      "list index 0.5 is not an integer");
    expect_eval_error(&w, "params.obj[0]",
                      "cannot index an object with a number");
    expect_eval_error(&w, "params.repo[0]", "cannot index a string");
    expect_eval_error(&w, "len(1)",
                      "len() needs a string, list or object, not a number");
    expect_eval_error(&w, "1 in 2",
                      "'in' needs a list, string or object to search, not a "
                      "number");
    expect_eval_error(&w, "1 in \"abc\"",
                      "'in' cannot look for a number in a string");
    expect_eval_error(&w, "contains(params.obj, 1)",
                      "contains() cannot look for a number in an object");
    expect_eval_error(&w, "params.big * 10", "result of '*' is out of range");
    expect_eval_error(&w, "join([[1]], ',')",
                      "join() cannot join element 0, a list");
    expect_eval_error(&w, "join('a', ',')",
                      "join() needs a list and a string, not a string and a "
                      "string");
    expect_eval_error(&w, "startsWith(1, 'a')",
                      "startsWith() needs two strings, not a number and a "
                      "string");
    expect_eval_error(&w, "upper(null)", "upper() needs a string, not null");
    expect_eval_error(&w, "true && -params.repo",
                      "cannot apply unary '-' to a string");
    world_free(&w);
    world_init(&w);
    /* a value an operation builds is bounded: 40 MiB twice is too much */
    size_t half = (size_t)40 << 20;
    char *blob = malloc(half + 1);
    ck_assert_ptr_nonnull(blob);
    memset(blob, 'x', half);
    blob[half] = '\0';
    cJSON *l2 = cJSON_AddArrayToObject(w.params, "l2");
    cJSON_AddItemToArray(l2, cJSON_CreateString(blob));
    cJSON_AddItemToArray(l2, cJSON_CreateString(blob));
    cJSON_AddItemToObject(w.params, "blob", cJSON_CreateString(blob));
    free(blob);
    expect_eval_error(&w, "params.blob + params.blob",
                      "'+' of two strings would build a value larger than "
                      "64 MiB, the most an expression may build; pass less "
                      "data or split the work across steps");
    expect_eval_error(&w, "join([params.blob, params.blob], '')",
                      "the list [...] would build a value larger than 64 "
                      "MiB, the most an expression may build; pass less "
                      "data or split the work across steps");
    expect_eval_error(&w, "join(params.l2, '')",
                      "join() would build a value larger than 64 MiB, the "
                      "most an expression may build; pass less data or "
                      "split the work across steps");
    expect_eval_error(&w, "[params.blob, [params.blob]]",
                      "the list [...] would build a value larger than 64 "
                      "MiB, the most an expression may build; pass less "
                      "data or split the work across steps");
    expect_value(&w, "len(params.blob + 'y')", "41943041");
    w.env.has_item = false;
    expect_eval_error(&w, "item.name",
                      "'item' is only defined inside for_each");
    expect_eval_error(&w, "index + 1",
                      "'index' is only defined inside for_each");
    w.env.nsteps = 1;
    expect_eval_error(&w, "steps.analyze.result",
                      "invalid bytecode: step index 1 out of range");
    w.env.step = NULL;
    expect_eval_error(&w, "steps.analyze_code.analysis_report",
                      "invalid bytecode: step index 0 out of range");
    world_free(&w);
}
END_TEST

START_TEST(test_emit_disasm)
{
    struct world w;
    world_init(&w);
    struct pr_buf code;
    size_t start;
    compile(&w, "params.n > 1 && x", &code, &start);
    static const uint8_t want[] = {
        PR_OP_ROOT,
        PR_ROOT_PARAMS,
        PR_OP_MEMBER,
        0,
        0,
        0,
        0,
        PR_OP_NUM,
        0,
        0,
        0,
        0,
        0,
        0,
        0xf0,
        0x3f,
        PR_OP_GT,
        PR_OP_AND,
        0x1e,
        0,
        0,
        0,
        PR_OP_ROOT,
        PR_ROOT_PARAMS,
        PR_OP_MEMBER,
        1,
        0,
        0,
        0,
        PR_OP_BOOL,
        PR_OP_END,
    };
    ck_assert_uint_eq(code.len - start, sizeof want);
    ck_assert(memcmp(code.data + start, want, sizeof want) == 0);

    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(
        pr_disasm(code.data + start, code.len - start, lookup, &w.tab, f), 0);
    char text[512];
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_str_eq(text, "0000  root params\n"
                           "0002  member 0 \"n\"\n"
                           "0007  num 1\n"
                           "0010  gt\n"
                           "0011  and -> 001e\n"
                           "0016  root params\n"
                           "0018  member 1 \"x\"\n"
                           "001d  bool\n"
                           "001e  end\n");
    pr_buf_free(&code);

    compile(&w, "len(['a', -2]) || 'q'", &code, &start);
    f = tmpfile();
    ck_assert_int_eq(
        pr_disasm(code.data + start, code.len - start, lookup, &w.tab, f), 0);
    rewind(f);
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_str_eq(text, "0000  str 2 \"a\"\n"
                           "0005  num -2\n"
                           "000e  list 2\n"
                           "0011  call len/1\n"
                           "0014  or -> 001f\n"
                           "0019  str 3 \"q\"\n"
                           "001e  bool\n"
                           "001f  end\n");
    /* malformed code is reported, not trusted */
    code.data[start + 0x19] = 0x77;
    f = tmpfile();
    ck_assert_int_eq(
        pr_disasm(code.data + start, code.len - start, lookup, &w.tab, f), -1);
    fclose(f);
    f = tmpfile();
    ck_assert_int_eq(pr_disasm(code.data + start, 3, NULL, NULL, f), -1);
    fclose(f);
    pr_buf_free(&code);
    world_free(&w);
}
END_TEST

/* The emitter writes the analyser's decision: a bare name and its
 * qualified form give the same code, a step is its index; a path nobody
 * resolved is refused rather than guessed from its spelling. */
START_TEST(test_emit_resolved)
{
    static const char *const same[][2] = {
        {"a.exit_code", "steps.a.exit_code"},
        {"repo", "params.repo"},
        {"fetch-data.items[0]", "steps.fetch-data.items[0]"},
    };
    struct world w;
    world_init(&w);
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        struct pr_buf x, y;
        size_t sx, sy;
        compile(&w, same[i][0], &x, &sx);
        compile(&w, same[i][1], &y, &sy);
        ck_assert_msg(x.len - sx == y.len - sy &&
                          !memcmp(x.data + sx, y.data + sy, x.len - sx),
                      "'%s' and '%s' differ", same[i][0], same[i][1]);
        pr_buf_free(&x);
        pr_buf_free(&y);
    }
    struct pr_buf code;
    size_t start;
    compile(&w, "s.chunks", &code, &start);
    static const uint8_t want[] = {PR_OP_STEP, 3, 0, 0, 0,        PR_OP_MEMBER,
                                   0,          0, 0, 0, PR_OP_END};
    ck_assert_uint_eq(code.len - start, sizeof want);
    ck_assert_uint_eq(pr_rd_u32(code.data + start + 6),
                      intern(&w.tab, "chunks", 6));
    ck_assert(memcmp(code.data + start, want, 6) == 0);
    pr_buf_free(&code);

    struct fx f;
    struct pc_expr *e;
    const char *text = "params.repo == 'x'";
    fx_init(&f, text, strlen(text));
    ck_assert_int_eq(pc_expr_parse(&f.ctx, &f.node, 0, strlen(text), &e), 0);
    struct pc_expr_sink sink = {intern, sink_step, &w.tab};
    pr_buf_init(&code);
    ck_assert_int_eq(pc_expr_emit(e, &code, &sink), -1);
    ck_assert_uint_eq(code.len, 0);
    pr_buf_free(&code);
    fx_free(&f);
    world_free(&w);
}
END_TEST

START_TEST(test_buf)
{
    struct pr_buf b;
    pr_buf_init(&b);
    ck_assert_int_eq(pr_buf_append_u8(&b, 0x01), 0);
    ck_assert_int_eq(pr_buf_append_u16(&b, 0x0302), 0);
    ck_assert_int_eq(pr_buf_append_u32(&b, 0x07060504), 0);
    ck_assert_int_eq(pr_buf_append_u64(&b, 0x0f0e0d0c0b0a0908ULL), 0);
    ck_assert_int_eq(pr_buf_append_f64(&b, 1.0), 0);
    static const uint8_t want[] = {1,  2,  3,  4, 5, 6, 7, 8, 9, 10,   11,  12,
                                   13, 14, 15, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    ck_assert_uint_eq(b.len, sizeof want);
    ck_assert(memcmp(b.data, want, sizeof want) == 0);
    ck_assert_uint_eq(pr_rd_u16(b.data + 1), 0x0302);
    ck_assert_uint_eq(pr_rd_u32(b.data + 3), 0x07060504);
    ck_assert(pr_rd_f64(b.data + 15) == 1.0);
    ck_assert_int_eq(pr_buf_patch_u32(&b, 1, 0xaabbccdd), 0);
    ck_assert_uint_eq(pr_rd_u32(b.data + 1), 0xaabbccdd);
    ck_assert_int_eq(pr_buf_patch_u32(&b, b.len - 3, 0), -1);
    for (int i = 0; i < 100000; i++)
        ck_assert_int_eq(pr_buf_append_u8(&b, (uint8_t)i), 0);
    ck_assert_uint_eq(b.len, sizeof want + 100000);
    ck_assert_uint_eq(b.data[b.len - 1], (uint8_t)99999);
    pr_buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(test_values)
{
    char buf[32];
    static const struct {
        double d;
        const char *s;
    } nums[] = {{0, "0"},
                {-0.0, "-0"},
                {1, "1"},
                {-350, "-350"},
                {0.1, "0.1"},
                {1e21, "1e+21"},
                {1.5e-7, "1.5e-07"},
                {123456789, "123456789"},
                {2.5, "2.5"},
                {1.0 / 3, "0.3333333333333333"}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        pr_format_number(nums[i].d, buf, sizeof buf);
        ck_assert_str_eq(buf, nums[i].s);
    }
    cJSON *v = cJSON_Parse("[null,false,0,\"\",[],{},true,1,\"0\",[0],"
                           "{\"a\":null}]");
    int i = 0;
    for (cJSON *c = v->child; c; c = c->next, i++)
        ck_assert(pr_truthy(c) == (i >= 6));
    cJSON_Delete(v);
    ck_assert(!pr_truthy(NULL));

    cJSON *a = cJSON_Parse("{\"x\":[1,{\"y\":null}],\"z\":\"s\"}");
    cJSON *b = cJSON_Parse("{\"z\":\"s\",\"x\":[1,{\"y\":null}]}");
    cJSON *c = cJSON_Parse("{\"z\":\"s\",\"x\":[1,{\"y\":false}]}");
    ck_assert(pr_json_equal(a, b));
    ck_assert(!pr_json_equal(a, c));
    ck_assert(pr_json_equal(NULL, cJSON_GetObjectItem(a->child->next, "q")));
    char *t = pr_value_text(a);
    ck_assert_str_eq(t, "{\"x\":[1,{\"y\":null}],\"z\":\"s\"}");
    free(t);
    t = pr_value_text(NULL);
    ck_assert_str_eq(t, "");
    free(t);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    ck_assert_str_eq(pr_json_type_name(NULL), "null");

    ck_assert_int_eq(pr_func_lookup("startsWith", 10), PR_FN_STARTS_WITH);
    ck_assert_int_eq(pr_func_lookup("startswith", 10), -1);
    ck_assert_int_eq(pr_func_arity(PR_FN_JOIN), 2);
    ck_assert_ptr_null(pr_func_name(PR_FN_COUNT));
    ck_assert_str_eq(pr_op_name(PR_OP_CALL), "call");
    ck_assert_ptr_null(pr_op_name(PR_OP_COUNT));
    ck_assert_int_eq(PR_OP_COUNT, PR_OP_CALL + 1);
}
END_TEST

/* ---- hostile bytecode ---- */

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void eval_any(struct world *w, const uint8_t *code, size_t len)
{
    cJSON *v = NULL;
    char err[128];
    int rc = pr_eval(code, len, &w->env, &v, err, sizeof err);
    ck_assert(rc == 0 || rc == -1);
    if (rc == 0)
        ck_assert_ptr_nonnull(v);
    else
        ck_assert_ptr_null(v);
    cJSON_Delete(v);
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        int d = pr_disasm(code, len, lookup, &w->tab, f);
        ck_assert(d == 0 || d == -1);
        fclose(f);
    }
}

START_TEST(test_hostile)
{
    static const char *const sources[] = {
        "params.n >= 3 && steps.a.exit_code == 0",
        "NOT params.dry AND (params.x OR params.y)",
        "join(params.tags, \", \") + default(params.x, 'z')",
        "[1, [2, [params.obj]], \"three\"][1][1][0].l[1].m",
        "len(steps.s.chunks) % 2 == 1 || 'api' in params.tags",
        "startsWith(upper(params.branch), lower('R')) && -index < 0",
        "codebase.complexity > 1000",
    };
    struct world w;
    world_init(&w);
    uint8_t *code;

    /* every truncation and every single-byte change of valid code */
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        struct pr_buf b;
        size_t start;
        compile(&w, sources[i], &b, &start);
        size_t len = b.len - start;
        code = malloc(len);
        for (size_t cut = 0; cut < len; cut++) {
            memcpy(code, b.data + start, cut);
            cJSON *v = NULL;
            char err[128];
            ck_assert_int_eq(pr_eval(code, cut, &w.env, &v, err, sizeof err),
                             -1);
            ck_assert_ptr_null(v);
        }
        for (size_t at = 0; at < len; at++)
            for (int bit = 0; bit < 8; bit++) {
                memcpy(code, b.data + start, len);
                code[at] ^= (uint8_t)(1u << bit);
                eval_any(&w, code, len);
            }
        free(code);
        pr_buf_free(&b);
    }

    /* random programs, mostly made of real opcodes */
    rng_state = 0x9e3779b97f4a7c15ULL;
    code = malloc(512);
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = rng() % 512;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = rng();
            code[i] = (uint8_t)(r % 4 == 0 ? r >> 8 : (r >> 8) % 0x1e);
        }
        eval_any(&w, code, len);
    }
    free(code);

    /* crafted cases */
    uint8_t deep[2 + 3 * 300];
    size_t n = 0;
    deep[n++] = PR_OP_NULL;
    for (int i = 0; i < 300; i++) {
        deep[n++] = PR_OP_LIST;
        deep[n++] = 1;
        deep[n++] = 0;
    }
    deep[n++] = PR_OP_END;
    cJSON *v = NULL;
    char err[128];
    ck_assert_int_eq(pr_eval(deep, n, &w.env, &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "lists nested too deeply");

    uint8_t loop[] = {PR_OP_TRUE, PR_OP_OR, 0, 0, 0, 0, PR_OP_END};
    ck_assert_int_eq(pr_eval(loop, sizeof loop, &w.env, &v, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "invalid bytecode: jump target 0 at 1");

    uint8_t over[PR_EVAL_STACK + 2];
    memset(over, PR_OP_NULL, sizeof over);
    over[sizeof over - 1] = PR_OP_END;
    ck_assert_int_eq(pr_eval(over, sizeof over, &w.env, &v, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "invalid bytecode: stack overflow");

    uint8_t under[] = {PR_OP_ADD, PR_OP_END};
    ck_assert_int_eq(pr_eval(under, 2, &w.env, &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "invalid bytecode: stack underflow at 0");

    uint8_t two[] = {PR_OP_NULL, PR_OP_NULL, PR_OP_END};
    ck_assert_int_eq(pr_eval(two, 3, &w.env, &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "invalid bytecode: 2 values left at end");

    uint8_t badstr[] = {PR_OP_STR, 99, 0, 0, 0, PR_OP_END};
    ck_assert_int_eq(pr_eval(badstr, 6, &w.env, &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "invalid bytecode: string index 99 out of range");

    uint8_t badop[] = {0xff};
    ck_assert_int_eq(pr_eval(badop, 1, &w.env, &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "invalid bytecode: unknown opcode 0xff at 0");

    uint8_t badcall[] = {PR_OP_NULL, PR_OP_CALL, PR_FN_JOIN, 1, PR_OP_END};
    ck_assert_int_eq(pr_eval(badcall, 5, &w.env, &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "invalid bytecode: join() called with 1 arguments");

    uint8_t nan[] = {PR_OP_NUM, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, PR_OP_END};
    ck_assert_int_eq(pr_eval(nan, sizeof nan, &w.env, &v, err, sizeof err),
                     -1);
    ck_assert_str_eq(err, "invalid bytecode: number is not finite");

    ck_assert_int_eq(pr_eval(NULL, 0, &w.env, &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "invalid bytecode: missing end");
    ck_assert_int_eq(pr_eval(badop, 1, &w.env, &v, NULL, 0), -1);

    /* a string table that fails, and one with a NUL inside a string */
    w.env.str = NULL;
    uint8_t str0[] = {PR_OP_STR, 0, 0, 0, 0, PR_OP_END};
    ck_assert_int_eq(pr_eval(str0, 6, &w.env, &v, err, sizeof err), -1);
    w.env.str = lookup;
    strtab_free(&w.tab);
    intern(&w.tab, "a\0b", 3);
    ck_assert_int_eq(pr_eval(str0, 6, &w.env, &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "string contains a NUL byte");
    world_free(&w);
}
END_TEST

static Suite *expr_suite(void)
{
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_examples);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_tree);
    tcase_add_test(tc, test_walk_constant);
    tcase_add_test(tc, test_print_truncates);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_error_notes);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_interp);
    tcase_add_test(tc, test_cond);
    suite_add_tcase(s, tc);
    tc = tcase_create("eval");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_eval);
    tcase_add_test(tc, test_eval_errors);
    tcase_add_test(tc, test_emit_disasm);
    tcase_add_test(tc, test_emit_resolved);
    tcase_add_test(tc, test_buf);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_hostile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(expr_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
