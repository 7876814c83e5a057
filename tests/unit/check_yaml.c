/* check_yaml.c -- unit tests of the YAML front end's API
 *
 * Parses in-memory sources and checks the tree (kinds, pair order, decoded
 * strings, locations), the readers (pc_map_get, the YAML 1.2 core schema
 * of pc_scalar_*), pc_node_subloc and the diagnostics' names and places.
 * Whole-file behaviour against PyYAML lives in tests/yaml/compare.sh.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "yaml.h"

static struct pc_ctx ctx;
static struct pc_source *src;

static void setup(void)
{
    pc_ctx_init(&ctx);
    src = NULL;
}

static void teardown(void)
{
    pc_ctx_free(&ctx);
}

/* Parses LEN bytes of TEXT as "test.yaml". */
static struct pc_node *parse_n(const char *text, size_t len)
{
    src = pc_source_from_mem(&ctx.arena, "test.yaml", text, len);
    ck_assert_ptr_nonnull(src);
    uint32_t file = pc_ctx_add_source(&ctx, src);
    ck_assert_uint_ne(file, 0);
    return pc_yaml_parse(&ctx, file);
}

static struct pc_node *parse(const char *text)
{
    return parse_n(text, strlen(text));
}

/* Parses TEXT, which must be free of diagnostics. */
static struct pc_node *parse_ok(const char *text)
{
    struct pc_node *root = parse(text);
    ck_assert_ptr_nonnull(root);
    ck_assert_uint_eq(ctx.ndiags, 0);
    return root;
}

/* The source bytes a location covers. */
static char *loc_text(struct pc_loc l)
{
    static char buf[256];
    ck_assert_uint_le(l.off + l.len, src->len);
    ck_assert_uint_lt(l.len, sizeof buf);
    memcpy(buf, src->text + l.off, l.len);
    buf[l.len] = '\0';
    return buf;
}

/* The only diagnostic, with its check's name and 1-based line:col. */
static const struct pc_diag *only_diag(const char *name, unsigned line,
                                       unsigned col)
{
    ck_assert_uint_eq(ctx.ndiags, 1);
    const struct pc_diag *d = &ctx.diags[0];
    ck_assert_str_eq(pc_diag_name(d->id), name);
    unsigned l, c;
    pc_source_linecol(src, d->loc.off, &l, &c);
    ck_assert_uint_eq(l, line);
    ck_assert_uint_eq(c, col);
    return d;
}

/* ---- tree shape ---- */

START_TEST(test_block_map_order)
{
    struct pc_node *r = parse_ok("zeta: 1\nalpha: two\nmid: [x]\n");
    ck_assert_int_eq(r->kind, PC_NODE_MAP);
    ck_assert(!r->flow);
    ck_assert_uint_eq(r->len, 3);
    ck_assert_str_eq(r->pairs[0].key->str, "zeta");
    ck_assert_str_eq(r->pairs[1].key->str, "alpha");
    ck_assert_str_eq(r->pairs[2].key->str, "mid");
    ck_assert_str_eq(r->pairs[0].value->str, "1");
    ck_assert_str_eq(r->pairs[1].value->str, "two");
    ck_assert_int_eq(r->pairs[2].value->kind, PC_NODE_SEQ);
    ck_assert(r->pairs[2].value->flow);
    ck_assert_int_eq(r->pairs[0].key->kind, PC_NODE_SCALAR);
    ck_assert_int_eq(r->pairs[0].key->style, PC_PLAIN);
}
END_TEST

START_TEST(test_nested)
{
    struct pc_node *r = parse_ok("steps:\n"
                                 "  - id: a\n"
                                 "    deps:\n"
                                 "    - x\n"
                                 "    - y\n"
                                 "  - - inner\n"
                                 "  -\n");
    struct pc_node *steps = pc_map_get(r, "steps");
    ck_assert_ptr_nonnull(steps);
    ck_assert_int_eq(steps->kind, PC_NODE_SEQ);
    ck_assert_uint_eq(steps->len, 3);
    struct pc_node *s0 = steps->items[0];
    ck_assert_int_eq(s0->kind, PC_NODE_MAP);
    ck_assert(pc_scalar_is(pc_map_get(s0, "id"), "a"));
    struct pc_node *deps = pc_map_get(s0, "deps");
    ck_assert_int_eq(deps->kind, PC_NODE_SEQ);
    ck_assert_uint_eq(deps->len, 2);
    ck_assert_str_eq(deps->items[1]->str, "y");
    ck_assert_int_eq(steps->items[1]->kind, PC_NODE_SEQ);
    ck_assert_str_eq(steps->items[1]->items[0]->str, "inner");
    ck_assert_int_eq(steps->items[2]->kind, PC_NODE_NULL);
}
END_TEST

START_TEST(test_flow)
{
    struct pc_node *r = parse_ok("{a: [1, {b: c}], d: {}, e: [],}\n");
    ck_assert_int_eq(r->kind, PC_NODE_MAP);
    ck_assert(r->flow);
    ck_assert_uint_eq(r->len, 3);
    struct pc_node *a = pc_map_get(r, "a");
    ck_assert_int_eq(a->kind, PC_NODE_SEQ);
    ck_assert_uint_eq(a->len, 2);
    ck_assert_int_eq(a->items[1]->kind, PC_NODE_MAP);
    ck_assert(pc_scalar_is(pc_map_get(a->items[1], "b"), "c"));
    ck_assert_int_eq(pc_map_get(r, "d")->kind, PC_NODE_MAP);
    ck_assert_uint_eq(pc_map_get(r, "d")->len, 0);
    ck_assert_uint_eq(pc_map_get(r, "e")->len, 0);
    ck_assert_str_eq(loc_text(r->loc), "{a: [1, {b: c}], d: {}, e: [],}");
    ck_assert_str_eq(loc_text(a->loc), "[1, {b: c}]");
}
END_TEST

START_TEST(test_empty_documents)
{
    static const char *const docs[] = {"", "\n\n", "# only a comment\n",
                                       "---\n", "\xEF\xBB\xBF"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        pc_ctx_free(&ctx);
        pc_ctx_init(&ctx);
        struct pc_node *r = parse_ok(docs[i]);
        ck_assert_int_eq(r->kind, PC_NODE_NULL);
        ck_assert(pc_scalar_null(r));
    }
}
END_TEST

START_TEST(test_empty_values)
{
    struct pc_node *r = parse_ok("a:\nb: # c\nc: x\n");
    struct pc_node *a = pc_map_get(r, "a");
    ck_assert_int_eq(a->kind, PC_NODE_NULL);
    ck_assert_str_eq(a->str, "");
    ck_assert_uint_eq(a->loc.len, 0);
    ck_assert_int_eq(pc_map_get(r, "b")->kind, PC_NODE_NULL);
    ck_assert(pc_scalar_is(pc_map_get(r, "c"), "x"));
}
END_TEST

START_TEST(test_root_scalar)
{
    struct pc_node *r = parse_ok("hello world\n");
    ck_assert_int_eq(r->kind, PC_NODE_SCALAR);
    ck_assert_str_eq(r->str, "hello world");
    ck_assert_uint_eq(r->len, 11);
}
END_TEST

START_TEST(test_bad_file_index)
{
    ck_assert_ptr_null(pc_yaml_parse(&ctx, 0));
    ck_assert_ptr_null(pc_yaml_parse(&ctx, 99));
}
END_TEST

/* ---- scalars ---- */

START_TEST(test_styles)
{
    struct pc_node *r = parse_ok("p: plain\n"
                                 "s: 'it''s'\n"
                                 "d: \"a\\tb\"\n"
                                 "l: |\n  x\n  y\n"
                                 "f: >\n  x\n  y\n");
    struct pc_node *p = pc_map_get(r, "p"), *s = pc_map_get(r, "s"),
                   *d = pc_map_get(r, "d"), *l = pc_map_get(r, "l"),
                   *f = pc_map_get(r, "f");
    ck_assert_int_eq(p->style, PC_PLAIN);
    ck_assert_int_eq(s->style, PC_SQUOTED);
    ck_assert_int_eq(d->style, PC_DQUOTED);
    ck_assert_int_eq(l->style, PC_LITERAL);
    ck_assert_int_eq(f->style, PC_FOLDED);
    ck_assert_str_eq(s->str, "it's");
    ck_assert_str_eq(d->str, "a\tb");
    ck_assert_str_eq(l->str, "x\ny\n");
    ck_assert_str_eq(f->str, "x y\n");
}
END_TEST

START_TEST(test_escapes)
{
    struct pc_node *r = parse_ok(
        "a: \"\\a\\b\\t\\n\\v\\f\\r\\e\\ \\\"\\/\\\\\"\n"
        "b: \"\\N\\_\\L\\P\"\n"
        "c: \"\\x41\\u00e9\\u2192\\U0001F600\"\n"
        "d: \"x\\\n   y\"\n"
        "e: \"a\\0b\"\n");
    ck_assert_str_eq(pc_map_get(r, "a")->str, "\a\b\t\n\v\f\r\x1b \"/\\");
    ck_assert_str_eq(pc_map_get(r, "b")->str,
                     "\xC2\x85\xC2\xA0\xE2\x80\xA8\xE2\x80\xA9");
    ck_assert_str_eq(pc_map_get(r, "c")->str,
                     "A\xC3\xA9\xE2\x86\x92\xF0\x9F\x98\x80");
    ck_assert_str_eq(pc_map_get(r, "d")->str, "xy");
    /* a NUL escape is kept: len counts it */
    struct pc_node *e = pc_map_get(r, "e");
    ck_assert_uint_eq(e->len, 3);
    ck_assert_int_eq(memcmp(e->str, "a\0b", 4), 0);
}
END_TEST

START_TEST(test_folding)
{
    struct pc_node *r = parse_ok("p: one\n  two\n\n  three\n"
                                 "q: \"one\n  two\n\n  three\"\n"
                                 "f: >-\n  a\n  b\n\n  c\n    more\n  d\n"
                                 "k: |+\n  x\n\n"
                                 "z: end\n");
    ck_assert_str_eq(pc_map_get(r, "p")->str, "one two\nthree");
    ck_assert_str_eq(pc_map_get(r, "q")->str, "one two\nthree");
    ck_assert_str_eq(pc_map_get(r, "f")->str, "a b\nc\n  more\nd");
    ck_assert_str_eq(pc_map_get(r, "k")->str, "x\n\n");
}
END_TEST

START_TEST(test_crlf_and_bom)
{
    struct pc_node *r = parse_ok("\xEF\xBB\xBFkey: v\r\n"
                                 "b: |\r\n  x\r\n  y\r\n"
                                 "q: \"a\r\n  b\"\r\n");
    ck_assert_uint_eq(r->pairs[0].key->loc.off, 3);
    ck_assert_str_eq(r->pairs[0].key->str, "key");
    ck_assert_str_eq(pc_map_get(r, "key")->str, "v");
    ck_assert_str_eq(pc_map_get(r, "b")->str, "x\ny\n");
    ck_assert_str_eq(pc_map_get(r, "q")->str, "a b");
}
END_TEST

/* ---- locations ---- */

START_TEST(test_locations)
{
    struct pc_node *r = parse_ok("name: build all\n"
                                 "list:\n"
                                 "  - 'sq'\n"
                                 "  - \"d\\tq\"\n"
                                 "block: |\n"
                                 "  text\n"
                                 "\n"
                                 "last: x\n");
    ck_assert_uint_eq(r->loc.off, 0);
    struct pc_pair *p = &r->pairs[0];
    ck_assert_str_eq(loc_text(p->key->loc), "name");
    ck_assert_str_eq(loc_text(p->value->loc), "build all");
    ck_assert(p->value->exact);
    ck_assert_uint_eq(p->value->content_off, p->value->loc.off);

    struct pc_node *list = pc_map_get(r, "list");
    ck_assert_str_eq(loc_text(list->loc), "- 'sq'\n  - \"d\\tq\"");
    struct pc_node *sq = list->items[0], *dq = list->items[1];
    ck_assert_str_eq(loc_text(sq->loc), "'sq'");
    ck_assert(sq->exact);
    ck_assert_uint_eq(sq->content_off, sq->loc.off + 1);
    ck_assert_str_eq(loc_text(dq->loc), "\"d\\tq\"");
    ck_assert(!dq->exact);
    ck_assert_uint_eq(dq->content_off, dq->loc.off + 1);

    /* a block scalar ends at its last content line */
    struct pc_node *b = pc_map_get(r, "block");
    ck_assert_str_eq(loc_text(b->loc), "|\n  text");
    ck_assert(!b->exact);
    ck_assert_str_eq(loc_text(pc_map_get(r, "last")->loc), "x");
}
END_TEST

START_TEST(test_multiline_plain_loc)
{
    struct pc_node *r = parse_ok("a: one\n  two\nb: c\n");
    struct pc_node *a = pc_map_get(r, "a");
    ck_assert_str_eq(a->str, "one two");
    ck_assert(!a->exact);
    ck_assert_str_eq(loc_text(a->loc), "one\n  two");
}
END_TEST

START_TEST(test_subloc)
{
    struct pc_node *r = parse_ok("a: run ${params.x} now\n"
                                 "b: 'say ${y}'\n"
                                 "c: \"esc\\t${z}\"\n");
    struct pc_node *a = pc_map_get(r, "a");
    struct pc_loc l = pc_node_subloc(a, 4, 11);
    ck_assert_str_eq(loc_text(l), "${params.x}");
    /* length 0 still covers one byte */
    l = pc_node_subloc(a, 0, 0);
    ck_assert_uint_eq(l.off, a->content_off);
    ck_assert_uint_eq(l.len, 1);
    /* out of range: the whole scalar */
    l = pc_node_subloc(a, 10, 100);
    ck_assert_uint_eq(l.off, a->loc.off);
    ck_assert_uint_eq(l.len, a->loc.len);

    struct pc_node *b = pc_map_get(r, "b");
    ck_assert_str_eq(loc_text(pc_node_subloc(b, 4, 4)), "${y}");

    /* not exact: the whole scalar, quotes included */
    struct pc_node *c = pc_map_get(r, "c");
    ck_assert_str_eq(c->str, "esc\t${z}");
    l = pc_node_subloc(c, 4, 4);
    ck_assert_str_eq(loc_text(l), "\"esc\\t${z}\"");
}
END_TEST

START_TEST(test_utf8_columns)
{
    parse("a: 1\nb: [\xC3\xA9\xE2\x86\x92, @x]\n");
    /* '@' is the 9th code point of line 2, 11 bytes in */
    const struct pc_diag *d = only_diag("syntax", 2, 9);
    ck_assert_uint_eq(d->loc.off, 5 + 11);
}
END_TEST

/* ---- readers ---- */

START_TEST(test_map_get)
{
    struct pc_node *r = parse_ok("a: 1\n\"b c\": 2\nlist: [x]\n");
    ck_assert(pc_scalar_is(pc_map_get(r, "a"), "1"));
    ck_assert(pc_scalar_is(pc_map_get(r, "b c"), "2"));
    ck_assert_ptr_null(pc_map_get(r, "missing"));
    ck_assert_ptr_null(pc_map_get(r, "A"));
    ck_assert_ptr_null(pc_map_get(pc_map_get(r, "list"), "x"));
    ck_assert_ptr_null(pc_map_get(NULL, "a"));
    ck_assert(!pc_scalar_is(pc_map_get(r, "list"), "x"));
    ck_assert(!pc_scalar_is(NULL, ""));
}
END_TEST

START_TEST(test_kind_names)
{
    struct pc_node *r = parse_ok("m: {}\ns: []\nv: x\nn:\n");
    ck_assert_str_eq(pc_node_kind_name(pc_map_get(r, "m")), "a mapping");
    ck_assert_str_eq(pc_node_kind_name(pc_map_get(r, "s")), "a list");
    ck_assert_str_eq(pc_node_kind_name(pc_map_get(r, "v")), "a scalar");
    ck_assert_str_eq(pc_node_kind_name(pc_map_get(r, "n")), "null");
    ck_assert_str_eq(pc_node_kind_name(NULL), "null");
}
END_TEST

START_TEST(test_scalar_null)
{
    struct pc_node *r = parse_ok("- ~\n- null\n- Null\n- NULL\n-\n- ''\n"
                                 "- \"null\"\n- nULL\n- nil\n- 'null'\n"
                                 "- [null]\n");
    for (size_t i = 0; i < 5; i++)
        ck_assert_msg(pc_scalar_null(r->items[i]), "item %zu", i);
    for (size_t i = 5; i < r->len; i++)
        ck_assert_msg(!pc_scalar_null(r->items[i]), "item %zu", i);
}
END_TEST

START_TEST(test_scalar_bool)
{
    struct pc_node *r = parse_ok("[true, True, TRUE, false, False, FALSE, "
                                 "yes, no, on, tRUE, \"true\", 'false', 1, "
                                 "[true]]\n");
    bool v = false;
    for (size_t i = 0; i < 6; i++) {
        ck_assert_msg(pc_scalar_bool(r->items[i], &v) == 0, "item %zu", i);
        ck_assert(v == (i < 3));
    }
    for (size_t i = 6; i < r->len; i++)
        ck_assert_msg(pc_scalar_bool(r->items[i], &v) == -1, "item %zu", i);
    ck_assert_int_eq(pc_scalar_bool(NULL, &v), -1);
}
END_TEST

START_TEST(test_scalar_int)
{
    static const struct {
        const char *text;
        long long v;
    } good[] = {
        {"0", 0},
        {"42", 42},
        {"-17", -17},
        {"+5", 5},
        {"007", 7},
        {"0x1F", 31},
        {"0xff", 255},
        {"0o17", 15},
        {"9223372036854775807", 9223372036854775807LL},
        {"-9223372036854775808", -9223372036854775807LL - 1},
    };
    static const char *const bad[] = {
        "",
        "1.5",
        "1e3",
        "0x",
        "0o",
        "0o8",
        "0xG",
        "-0x1",
        "+0o7",
        "1_000",
        "12abc",
        " 1",
        "9223372036854775808",
        "0b101",
        ".inf",
        "~",
    };
    char text[64];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        pc_ctx_free(&ctx);
        pc_ctx_init(&ctx);
        snprintf(text, sizeof text, "v: %s\n", good[i].text);
        long long v = -1;
        struct pc_node *n = pc_map_get(parse_ok(text), "v");
        ck_assert_msg(pc_scalar_int(n, &v) == 0, "%s", good[i].text);
        ck_assert_msg(v == good[i].v, "%s", good[i].text);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pc_ctx_free(&ctx);
        pc_ctx_init(&ctx);
        snprintf(text, sizeof text, "v: \"%s\"\n", bad[i]);
        struct pc_node *n = pc_map_get(parse_ok(text), "v");
        /* quoted, so a string whatever it says */
        long long v;
        ck_assert_int_eq(pc_scalar_int(n, &v), -1);
        if (bad[i][0] == '\0' || bad[i][0] == ' ')
            continue;
        snprintf(text, sizeof text, "w: %s\n", bad[i]);
        n = pc_map_get(parse_ok(text), "w");
        ck_assert_msg(pc_scalar_int(n, &v) == -1, "%s", bad[i]);
    }
    long long v;
    struct pc_node *r = parse_ok("- '42'\n- [1]\n-\n");
    for (size_t i = 0; i < r->len; i++)
        ck_assert_int_eq(pc_scalar_int(r->items[i], &v), -1);
}
END_TEST

START_TEST(test_scalar_float)
{
    static const struct {
        const char *text;
        double v;
    } good[] = {
        {"1.5", 1.5}, {"-2.5e3", -2500},    {".5", 0.5}, {"1.", 1},
        {"1e5", 1e5}, {"+3.25E-2", 0.0325}, {"42", 42},  {"-0.0", 0},
    };
    static const char *const bad[] = {
        ".",   "1e",    "e5",  "1.5.2", "0x1p3", "inf",
        "nan", "-.nan", "1,5", "1.5f",  "--1",   ". 5",
    };
    struct pc_node *r = parse_ok("[1.5, -2.5e3, .5, 1., 1e5, +3.25E-2, 42, "
                                 "-0.0]\n");
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v = NAN;
        ck_assert_msg(pc_scalar_float(r->items[i], &v) == 0, "%s",
                      good[i].text);
        ck_assert_msg(v == good[i].v, "%s", good[i].text);
    }
    char text[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pc_ctx_free(&ctx);
        pc_ctx_init(&ctx);
        snprintf(text, sizeof text, "w: %s\n", bad[i]);
        double v;
        struct pc_node *n = pc_map_get(parse_ok(text), "w");
        ck_assert_msg(pc_scalar_float(n, &v) == -1, "%s", bad[i]);
    }
}
END_TEST

START_TEST(test_scalar_float_special)
{
    struct pc_node *r = parse_ok(
        "[.inf, .Inf, .INF, +.inf, -.inf, -.Inf, "
        ".nan, .NaN, .NAN, \".inf\", '.nan', .iNf]\n");
    double v;
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(pc_scalar_float(r->items[i], &v), 0);
        ck_assert(isinf(v) && v > 0);
    }
    for (size_t i = 4; i < 6; i++) {
        ck_assert_int_eq(pc_scalar_float(r->items[i], &v), 0);
        ck_assert(isinf(v) && v < 0);
    }
    for (size_t i = 6; i < 9; i++) {
        ck_assert_int_eq(pc_scalar_float(r->items[i], &v), 0);
        ck_assert(isnan(v));
    }
    for (size_t i = 9; i < r->len; i++)
        ck_assert_msg(pc_scalar_float(r->items[i], &v) == -1, "item %zu", i);
}
END_TEST

/* ---- diagnostics ---- */

START_TEST(test_diag_unsupported)
{
    /* reported, and no tree: the value would not mean what was written */
    ck_assert_ptr_null(parse("a: 1\nb: &anchor 2\n"));
    const struct pc_diag *d = only_diag("unsupported", 2, 4);
    ck_assert_int_eq(d->id, PC_D_UNSUPPORTED);
    ck_assert_int_eq(d->sev, PC_SEV_ERROR);
    ck_assert_str_eq(loc_text(d->loc), "&anchor");
    ck_assert_uint_eq(ctx.nerrors, 1);
}
END_TEST

START_TEST(test_diag_duplicate_key)
{
    parse("name: a\nother: b\nname: c\n");
    const struct pc_diag *d = only_diag("duplicate-key", 3, 1);
    ck_assert_str_eq(loc_text(d->loc), "name");
    ck_assert_ptr_nonnull(strstr(d->msg, "'name'"));
    ck_assert_ptr_nonnull(d->notes);
    ck_assert_uint_eq(d->notes->loc.off, 0);
    ck_assert_uint_eq(d->notes->loc.len, 4);
    ck_assert_ptr_nonnull(strstr(d->notes->msg, "first appears here"));
    ck_assert_ptr_null(d->notes->next);
}
END_TEST

START_TEST(test_diag_duplicate_many_keys)
{
    /* more than 32 pairs takes the sorted path */
    char text[1024];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "k%02d: v\n", i);
    snprintf(text + n, sizeof text - n, "k07: again\n");
    parse(text);
    const struct pc_diag *d = only_diag("duplicate-key", 41, 1);
    ck_assert_ptr_nonnull(d->notes);
    unsigned l, c;
    pc_source_linecol(src, d->notes->loc.off, &l, &c);
    ck_assert_uint_eq(l, 8);
    ck_assert_uint_eq(c, 1);
}
END_TEST

START_TEST(test_diag_tab)
{
    parse("a:\n \tb: 1\n");
    const struct pc_diag *d = only_diag("tab-indent", 2, 2);
    ck_assert_uint_eq(d->loc.off, 4);
    ck_assert_int_eq(src->text[d->loc.off], '\t');
}
END_TEST

START_TEST(test_diag_encoding)
{
    ck_assert_ptr_null(parse_n("a: \xFF\n", 5));
    only_diag("encoding", 1, 4);
    pc_ctx_free(&ctx);
    pc_ctx_init(&ctx);
    ck_assert_ptr_null(parse_n("a: x\0\n", 6));
    const struct pc_diag *d = only_diag("encoding", 1, 5);
    ck_assert_uint_eq(d->loc.off, 4);
}
END_TEST

START_TEST(test_diag_depth)
{
    char text[300];
    memset(text, '[', 100);
    memset(text + 100, ']', 100);
    text[200] = '\0';
    parse(text);
    ck_assert_uint_ge(ctx.ndiags, 1);
    ck_assert_str_eq(pc_diag_name(ctx.diags[0].id), "nesting-depth");
    ck_assert_uint_eq(ctx.diags[0].loc.off, PC_YAML_MAX_DEPTH);
}
END_TEST

START_TEST(test_diag_syntax)
{
    parse("a: \"bad \\q\"\n");
    const struct pc_diag *d = only_diag("syntax", 1, 9);
    ck_assert_str_eq(loc_text(d->loc), "\\q");
    pc_ctx_free(&ctx);
    pc_ctx_init(&ctx);
    parse("a: 'open\n");
    only_diag("syntax", 1, 4);
}
END_TEST

START_TEST(test_diag_names)
{
    ck_assert_str_eq(pc_diag_name(PC_D_SYNTAX), "syntax");
    ck_assert_str_eq(pc_diag_name(PC_D_UNSUPPORTED), "unsupported");
    ck_assert_str_eq(pc_diag_name(PC_D_TAB_INDENT), "tab-indent");
    ck_assert_str_eq(pc_diag_name(PC_D_ENCODING), "encoding");
    ck_assert_str_eq(pc_diag_name(PC_D_DEPTH), "nesting-depth");
    ck_assert_str_eq(pc_diag_name(PC_D_DUPLICATE_KEY), "duplicate-key");
}
END_TEST

static Suite *yaml_suite(void)
{
    Suite *s = suite_create("yaml");
    TCase *t = tcase_create("tree");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_block_map_order);
    tcase_add_test(t, test_nested);
    tcase_add_test(t, test_flow);
    tcase_add_test(t, test_empty_documents);
    tcase_add_test(t, test_empty_values);
    tcase_add_test(t, test_root_scalar);
    tcase_add_test(t, test_bad_file_index);
    suite_add_tcase(s, t);

    t = tcase_create("scalars");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_styles);
    tcase_add_test(t, test_escapes);
    tcase_add_test(t, test_folding);
    tcase_add_test(t, test_crlf_and_bom);
    suite_add_tcase(s, t);

    t = tcase_create("locations");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_locations);
    tcase_add_test(t, test_multiline_plain_loc);
    tcase_add_test(t, test_subloc);
    tcase_add_test(t, test_utf8_columns);
    suite_add_tcase(s, t);

    t = tcase_create("readers");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_map_get);
    tcase_add_test(t, test_kind_names);
    tcase_add_test(t, test_scalar_null);
    tcase_add_test(t, test_scalar_bool);
    tcase_add_test(t, test_scalar_int);
    tcase_add_test(t, test_scalar_float);
    tcase_add_test(t, test_scalar_float_special);
    suite_add_tcase(s, t);

    t = tcase_create("diagnostics");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_diag_unsupported);
    tcase_add_test(t, test_diag_duplicate_key);
    tcase_add_test(t, test_diag_duplicate_many_keys);
    tcase_add_test(t, test_diag_tab);
    tcase_add_test(t, test_diag_encoding);
    tcase_add_test(t, test_diag_depth);
    tcase_add_test(t, test_diag_syntax);
    tcase_add_test(t, test_diag_names);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(yaml_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
