/* check_template.c -- unit tests of prompt templates and prompt files
 *
 * The compiler's diagnostics with their positions (template syntax,
 * helpers, partials, inputs, frontmatter, Picoschema); rendering that the
 * conformance suites do not reach (indentation of nested partials, marker
 * text in values, data variables, else chains, limits); and hostile code:
 * hand-made malformations the checker must name, and every byte of a
 * compiled template flipped, zeroed and cut, which the checker and the
 * renderer must survive, the renderer also without the checker.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "diag.h"
#include "handlebars.h"
#include "ir.h"
#include "prompt_file.h"
#include "template.h"
#include "util.h"

/* ---- compiling ---- */

/* Templates compiled in one context; template 0 is the main one, the
 * others partials found by name. */
struct tset {
    struct pc_ctx ctx;
    const char *names[8];
    struct pc_tpl *tpl[8];
    struct pr_buf code[8];
    size_t n;
};

static uint32_t by_target(void *ud, void *target)
{
    (void)ud;
    return (uint32_t)((uintptr_t)target - 1);
}

static int set_code(void *ud, uint32_t i, const uint8_t **code, size_t *len)
{
    const struct tset *s = ud;
    if (i >= s->n)
        return -1;
    *code = s->code[i].data;
    *len = s->code[i].len;
    return 0;
}

/* Compiles TEXTS[0..N) named NAMES (NAMES[0] unused); resolves partials
 * among them.  Returns the number of errors. */
static unsigned compile(struct tset *s, const char *const *names,
                        const char *const *texts, size_t n)
{
    memset(s, 0, sizeof *s);
    pc_ctx_init(&s->ctx);
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        char label[32];
        snprintf(label, sizeof label, i ? "partial%zu" : "t", i);
        struct pc_source *src = pc_source_from_mem(&s->ctx.arena, label,
                                                   texts[i], strlen(texts[i]));
        uint32_t f = pc_ctx_add_source(&s->ctx, src);
        s->names[i] = names ? names[i] : NULL;
        s->tpl[i] = pc_tpl_parse(&s->ctx, f, 0, texts[i], strlen(texts[i]));
        ck_assert_ptr_nonnull(s->tpl[i]);
        pr_buf_init(&s->code[i]);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s->tpl[i]->npartials; k++)
            for (size_t j = 1; j < n; j++)
                if (!strcmp(s->tpl[i]->partials[k].name, s->names[j]))
                    s->tpl[i]->partials[k].target = (void *)(uintptr_t)(j + 1);
    bool resolved = true;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < s->tpl[i]->npartials; k++)
            resolved &= s->tpl[i]->partials[k].target != NULL;
    if (!s->ctx.nerrors)
        for (size_t i = 0; i < n; i++) {
            char err[128];
            ck_assert_int_eq(
                pc_tpl_encode(s->tpl[i], by_target, NULL, &s->code[i]), 0);
            ck_assert_msg(!resolved ||
                              pr_tpl_verify(s->code[i].data, s->code[i].len,
                                            (uint32_t)n, err, sizeof err) == 0,
                          "%s", err);
        }
    return s->ctx.nerrors;
}

static void tset_free(struct tset *s)
{
    for (size_t i = 0; i < s->n; i++)
        pr_buf_free(&s->code[i]);
    pc_ctx_free(&s->ctx);
}

/* Diagnostic I as "LINE:COL name: message". */
static const char *diag(struct pc_ctx *c, size_t i)
{
    static char buf[512];
    ck_assert_uint_lt(i, c->ndiags);
    const struct pc_diag *d = &c->diags[i];
    unsigned line = 0, col = 0;
    struct pc_source *src = pc_ctx_source(c, d->loc.file);
    if (src)
        pc_source_linecol(src, d->loc.off, &line, &col);
    snprintf(buf, sizeof buf, "%u:%u %s: %s", line, col, pc_diag_name(d->id),
             d->msg);
    return buf;
}

/* Whether a diagnostic of C reads WANT. */
static bool has_diag(struct pc_ctx *c, const char *want)
{
    for (size_t i = 0; i < c->ndiags; i++)
        if (!strcmp(diag(c, i), want))
            return true;
    return false;
}

/* The one diagnostic of TEXT compiled alone. */
static void one_error(const char *text, const char *want)
{
    struct tset s;
    const char *texts[] = {text};
    unsigned n = compile(&s, NULL, texts, 1);
    ck_assert_msg(n == 1, "%s: %u errors, the first %s", text, n,
                  n ? diag(&s.ctx, 0) : "-");
    ck_assert_str_eq(diag(&s.ctx, 0), want);
    tset_free(&s);
}

/* ---- rendering ---- */

/* Renders template 0 of S over JSON; the text, or the error as "error: ". */
static char *render_json(struct tset *s, const char *json,
                         const struct pr_tpl_opts *o)
{
    cJSON *ctx = json ? cJSON_Parse(json) : NULL;
    struct pr_tpl_set set = {set_code, s};
    struct pr_tpl_out out;
    char err[256];
    char *text;
    pr_tpl_out_init(&out);
    if (pr_tpl_render(s->code[0].data, s->code[0].len, &set, ctx, o, &out, err,
                      sizeof err) < 0) {
        text = malloc(strlen(err) + 8);
        sprintf(text, "error: %s", err);
    } else {
        text = pr_tpl_text(&out, NULL);
    }
    pr_tpl_out_free(&out);
    cJSON_Delete(ctx);
    return text;
}

static void renders(const char *tpl, const char *json, const char *want)
{
    struct tset s;
    const char *texts[] = {tpl};
    ck_assert_uint_eq(compile(&s, NULL, texts, 1), 0);
    char *got = render_json(&s, json, NULL);
    ck_assert_str_eq(got, want);
    free(got);
    tset_free(&s);
}

/* The messages of TPL over JSON, printed compactly. */
static char *messages(const char *tpl, const char *json, const char *hist)
{
    struct tset s;
    const char *texts[] = {tpl};
    ck_assert_uint_eq(compile(&s, NULL, texts, 1), 0);
    cJSON *ctx = cJSON_Parse(json), *h = hist ? cJSON_Parse(hist) : NULL;
    struct pr_tpl_set set = {set_code, &s};
    struct pr_tpl_out out;
    char err[256];
    pr_tpl_out_init(&out);
    ck_assert_int_eq(pr_tpl_render(s.code[0].data, s.code[0].len, &set, ctx,
                                   NULL, &out, err, sizeof err),
                     0);
    cJSON *m = pr_tpl_messages(&out, h);
    char *txt = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    cJSON_Delete(ctx);
    cJSON_Delete(h);
    pr_tpl_out_free(&out);
    tset_free(&s);
    return txt;
}

/* ---- diagnostics ---- */

START_TEST(test_syntax_errors)
{
    one_error("{{#if a}}x", "1:1 template: '{{#if}}' is not closed; add "
                            "'{{/if}}'");
    one_error("{{^a}}{{/b}}", "1:7 template: '{{/b}}' does not close "
                              "'{{^a}}'");
    one_error("a\n  {{/each}}", "2:3 template: '{{/each}}' closes no block");
    one_error("x {{ name", "1:3 template: '{{' is not closed by '}}'");
    one_error("{{{raw}}", "1:1 template: '{{' is not closed by '}}}'");
    one_error("{{!-- open", "1:1 template: '{{' is not closed by '--}}'");
    one_error("{{=<% =}}", "1:1 template: a delimiter tag needs two "
                           "delimiters without spaces or '=', of at most 15 "
                           "bytes each, as in {{=<% %>=}}");
    one_error("{{#if}}{{/if}}", "1:1 template: 'if' takes 1 argument, not 0");
    one_error("{{#}}{{/}}", "1:1 template: a block needs a name, as in "
                            "{{#if ready}}");
    one_error("{{#if a b}}{{/if}}", "1:9 template: too many arguments: 'if' "
                                    "takes 1");
    one_error("{{role \"a\" \"b\"}}", "1:12 template: too many arguments: "
                                      "'role' takes 1");
    one_error("{{history x}}", "1:11 template: too many arguments: "
                               "'history' takes 0");
    one_error("{{#ifEquals a}}{{/ifEquals}}",
              "1:1 template: 'ifEquals' takes 2 arguments, not 1");
    one_error("{{#each xs key=1}}{{/each}}",
              "1:16 template: 'each' takes no key=value arguments");
    one_error("{{json}}", "1:1 template: 'json' takes 1 argument, not 0");
    one_error("{{json x depth=2}}", "1:16 template: 'json' takes no "
                                    "argument 'depth'");
    one_error("{{media contentType=\"a\"}}",
              "1:1 template: 'media' needs url=..., as in {{media "
              "url=imageUrl}}");
    one_error("é {{role \"Sys\"}}",
              "1:10 template: a role is a word of lowercase letters, such "
              "as \"system\", \"user\" or \"model\"");
    one_error("{{json (upper x)}}", "1:8 template: subexpressions '(...)' "
                                    "are not supported");
    one_error("{{#each xs as |x|}}{{/each}}",
              "1:12 template: block parameters ('as |x|') are not supported");
    one_error("{{> (which)}}", "1:5 template: dynamic partial names are not "
                               "supported");
    one_error("{{a..b}}", "1:3 template: malformed name 'a..b'");
    one_error("{{this.}}", "1:3 template: a name is missing after 'this.'");
    one_error("{{a.b.}}", "1:3 template: a name ends with a separator");
    one_error("{{@}}", "1:3 template: '@' needs a name, as in @index");
    one_error("{{json x indent=}}", "1:10 template: a value is missing after "
                                    "'='");
    one_error("{{json \"x}}", "1:8 template: unterminated string");
    /* an unbalanced quote: the tag ends at the next delimiter after it,
     * never at one before it (found by fuzz_template: it looped) */
    one_error("a}} {{json \"x}} y", "1:12 template: unterminated string");
    one_error("{{json indent=2 x}}", "1:17 template: arguments must come "
                                     "before key=value pairs");
    one_error("{{else}}", "1:1 template: '{{else}}' outside a block");
    one_error("{{#if a}}{{else}}{{else}}{{/if}}",
              "1:18 template: a second '{{else}}' in one block");
    one_error("{{> }}", "1:1 template: a partial needs a name, as in "
                        "{{> header}}");
    one_error("{{}}", "1:1 template: empty tag");
    one_error("{{#\"x\"}}", "1:4 template: a name is needed here, not a "
                            "literal");
}
END_TEST

START_TEST(test_helper_errors)
{
    one_error("{{jsn x}}", "1:3 unknown-helper: unknown helper 'jsn'");
    one_error("{{#repeat 3}}x{{/repeat}}",
              "1:4 unknown-helper: unknown block helper 'repeat'");
    one_error("{{#unless a}}{{else frob b}}{{/unless}}",
              "1:21 unknown-helper: unknown block helper 'frob'");
}
END_TEST

/* One mistake, one message; every mistake of a template in one run. */
START_TEST(test_recovery)
{
    struct tset s;
    const char *texts[] = {
        "{{#each items}}\n"
        "  {{#if x}}\n"
        "{{/each}}\n"            /* closes the if and the each */
        "{{#frob a}}{{/frob}}\n" /* unknown, its close silent */
        "{{{x}}} {{y\n"};
    ck_assert_uint_eq(compile(&s, NULL, texts, 1), 3);
    ck_assert(has_diag(&s.ctx, "3:1 template: '{{/each}}' does not close "
                               "'{{#if}}'"));
    ck_assert(has_diag(&s.ctx, "4:4 unknown-helper: unknown block helper "
                               "'frob'"));
    ck_assert(has_diag(&s.ctx, "5:9 template: '{{' is not closed by '}}'"));
    tset_free(&s);
}
END_TEST

START_TEST(test_nesting_limit)
{
    char text[2000] = "";
    for (int i = 0; i <= PR_TPL_MAX_NEST; i++)
        strcat(text, "{{#a}}");
    for (int i = 0; i <= PR_TPL_MAX_NEST; i++)
        strcat(text, "{{/a}}");
    one_error(text, "1:385 template: blocks nested deeper than 64 levels");
    text[strlen(text) - 6] = '\0';
    memmove(text, text + 6, strlen(text + 6) + 1);
    renders(text, "{\"a\":true}", "");
}
END_TEST

/* Names read at the top level against the input schema. */
START_TEST(test_inputs)
{
    struct tset s;
    const char *texts[] = {"{{topik}} {{#each list}}{{item}}{{/each}}"
                           "{{#if tone}}{{tone}}{{tonne}}{{/if}}{{@index}}"
                           "{{this.list}}{{../up}}"};
    ck_assert_uint_eq(compile(&s, NULL, texts, 1), 0);
    cJSON *schema = cJSON_Parse(
        "{\"type\":\"object\",\"properties\":{\"topic\":{},\"list\":{},"
        "\"tone\":{}},\"additionalProperties\":false}");
    pc_tpl_check_inputs(&s.ctx, s.tpl[0], schema, "T");
    ck_assert_uint_eq(s.ctx.nerrors, 2);
    ck_assert_str_eq(diag(&s.ctx, 0), "1:3 unknown-input: 'topik' is not "
                                      "declared in the input schema of T");
    ck_assert_str_eq(diag(&s.ctx, 1), "1:64 unknown-input: 'tonne' is not "
                                      "declared in the input schema of T");
    /* open schemas are not checked */
    cJSON_ReplaceItemInObject(schema, "additionalProperties",
                              cJSON_CreateTrue());
    pc_tpl_check_inputs(&s.ctx, s.tpl[0], schema, "T");
    ck_assert_uint_eq(s.ctx.nerrors, 2);
    cJSON_Delete(schema);
    tset_free(&s);
}
END_TEST

/* pc_prompt_parse on TEXT; its diagnostics as lines in OUT. */
static unsigned prompt(const char *text, struct pc_prompt *p, struct pc_ctx *c)
{
    pc_ctx_init(c);
    memset(p, 0, sizeof *p);
    p->name = "p.md";
    struct pc_source *src = pc_source_from_mem(&c->arena, "p.md", text,
                                               strlen(text));
    pc_prompt_parse(c, src, p, NULL);
    return c->nerrors;
}

START_TEST(test_prompt_files)
{
    struct pc_prompt p;
    struct pc_ctx c;
    /* no frontmatter: the whole file, untrimmed */
    ck_assert_uint_eq(prompt("\n  Hi {{x}}\n", &p, &c), 0);
    ck_assert_ptr_null(p.front);
    ck_assert_uint_eq(p.tpl->base, 0);
    pc_ctx_free(&c);
    /* a BOM, CRLF lines, blanks after the fences; the body trimmed */
    ck_assert_uint_eq(prompt("\xef\xbb\xbf---  \r\nmodel: m\r\n"
                             "output:\r\n  format: text\r\n---\t\r\n\r\n"
                             "  Hi\r\n\r\n",
                             &p, &c),
                      0);
    ck_assert_str_eq(p.model_name, "m");
    ck_assert_str_eq(p.output_format, "text");
    ck_assert_uint_eq(p.tpl->base, 55);
    pc_ctx_free(&c);
    /* the closing fence at the end of the file */
    ck_assert_uint_eq(prompt("---\nname: n\n---", &p, &c), 0);
    ck_assert_str_eq(p.title, "n");
    pc_ctx_free(&c);
    /* an empty frontmatter */
    ck_assert_uint_eq(prompt("---\n---\nbody", &p, &c), 0);
    ck_assert_ptr_null(p.title);
    pc_ctx_free(&c);
    /* a schema at the top, input defaults, output schema implying json */
    ck_assert_uint_eq(
        prompt("---\nschema: {type: object, properties: {a: {}}}\n"
               "input: {default: {a: 1}}\noutput: {schema: {b: number}}\n"
               "---\n{{a}}",
               &p, &c),
        0);
    ck_assert_str_eq(p.input_schema,
                     "{\"type\":\"object\",\"properties\":{\"a\":{}}}");
    ck_assert_str_eq(p.input_default, "{\"a\":1}");
    ck_assert_str_eq(p.output_format, "json");
    ck_assert_str_eq(p.output_schema,
                     "{\"type\":\"object\",\"properties\":{\"b\":{\"type\":"
                     "\"number\"}},\"required\":[\"b\"],"
                     "\"additionalProperties\":false}");
    pc_ctx_free(&c);
}
END_TEST

START_TEST(test_prompt_errors)
{
    struct pc_prompt p;
    struct pc_ctx c;
    ck_assert_uint_eq(prompt("---\nname: x\nbody {{y}}\n", &p, &c), 1);
    ck_assert_str_eq(diag(&c, 0), "1:1 frontmatter: the frontmatter is not "
                                  "closed: a line '---' must end it");
    pc_ctx_free(&c);
    ck_assert_uint_eq(prompt("---\n- a\n---\nx", &p, &c), 1);
    ck_assert_str_eq(diag(&c, 0), "2:1 frontmatter: the frontmatter must be "
                                  "a mapping of keys, not a list");
    pc_ctx_free(&c);
    ck_assert_uint_eq(prompt("---\nmodle: m\ncustom: ok\nx.y: ok\n"
                             "output: {format: xml}\n"
                             "input: {schema: s, defaults: {}}\n"
                             "schema: {a: string}\n---\n{{a}}",
                             &p, &c),
                      5);
    ck_assert(has_diag(&c, "2:1 unknown-key: unknown key 'modle' in the "
                           "frontmatter"));
    ck_assert(has_diag(&c, "5:18 bad-value: 'format' must be json or text, "
                           "not 'xml'"));
    ck_assert(has_diag(&c, "6:17 picoschema: unknown type 's'; Picoschema "
                           "types are string, number, integer, boolean, "
                           "null and any"));
    ck_assert(has_diag(&c, "6:20 unknown-key: unknown key 'defaults' in "
                           "input"));
    ck_assert(has_diag(&c, "7:9 bad-value: the input schema is given twice: "
                           "'schema' and 'input.schema'"));
    pc_ctx_free(&c);
    ck_assert_uint_eq(
        prompt("---\nschema:\n  a(array: string\n  b(enum): x\n"
               "  c(object): string\n  d?(tuple): string\n  e: [x]\n---\n",
               &p, &c),
        5);
    ck_assert_str_eq(diag(&c, 0), "3:3 picoschema: 'a(array' lacks its "
                                  "closing ')'");
    ck_assert_str_eq(diag(&c, 1), "4:12 picoschema: 'b(enum)' needs a list "
                                  "of values");
    ck_assert_str_eq(diag(&c, 2), "5:14 picoschema: 'c(object)' needs a "
                                  "mapping of properties");
    ck_assert_str_eq(diag(&c, 3), "6:3 picoschema: 'd?(tuple)': the type in "
                                  "parentheses must be array, object or "
                                  "enum");
    ck_assert_str_eq(diag(&c, 4), "7:6 picoschema: a Picoschema is a type "
                                  "name or a mapping of properties, not a "
                                  "list");
    pc_ctx_free(&c);
}
END_TEST

/* ---- rendering ---- */

START_TEST(test_render_values)
{
    renders("{{n}} {{f}} {{b}} {{z}} {{l}} {{o}} {{missing}}",
            "{\"n\":3,\"f\":0.5,\"b\":false,\"z\":null,\"l\":[1,\"a\"],"
            "\"o\":{\"k\":[]}}",
            "3 0.5 false  [1,\"a\"] {\"k\":[]} ");
    renders("{{l.1}} {{l.length}} {{[a b]}} {{l.9}}",
            "{\"l\":[\"x\",\"y\"],\"a b\":7}", "y 2 7 ");
    renders("<{{x}}>", "{\"x\":\"<&\\\">\"}", "<<&\">>");
    struct tset s;
    const char *texts[] = {"{{x}}{{{x}}}"};
    ck_assert_uint_eq(compile(&s, NULL, texts, 1), 0);
    struct pr_tpl_opts o = {.escape_html = true};
    char *got = render_json(&s, "{\"x\":\"<a&'b'>\\\"\"}", &o);
    ck_assert_str_eq(got, "&lt;a&amp;'b'&gt;&quot;<a&'b'>\"");
    free(got);
    tset_free(&s);
    /* falsy: missing, null, false, 0, "", []; {} is truthy */
    renders("{{#if a}}1{{/if}}{{#if b}}2{{/if}}{{#if c}}3{{/if}}"
            "{{#if d}}4{{/if}}{{#if e}}5{{/if}}{{#if f}}6{{/if}}"
            "{{#if g}}7{{/if}}{{#x}}8{{/x}}",
            "{\"b\":null,\"c\":false,\"d\":0,\"e\":\"\",\"f\":[],\"g\":{}}",
            "7");
}
END_TEST

START_TEST(test_render_blocks)
{
    renders("{{#each o}}{{@key}}={{this}}{{#if @first}}!{{/if}}"
            "{{#if @last}}.{{/if}}{{#unless @last}},{{/unless}}{{/each}}",
            "{\"o\":{\"a\":1,\"b\":2,\"c\":3}}", "a=1!,b=2,c=3.");
    renders("{{#each l}}{{@index}}:{{name}}/{{../name}}/{{@root.name}} "
            "{{/each}}",
            "{\"name\":\"top\",\"l\":[{\"name\":\"x\"},{}]}",
            "0:x/top/top 1:top/top/top ");
    renders("{{#each l}}x{{else}}none{{/each}}", "{\"l\":[]}", "none");
    renders("{{#each s}}x{{else}}no list{{/each}}", "{\"s\":\"str\"}",
            "no list");
    renders("{{#with p}}{{name}} {{../t}}{{else}}nobody{{/with}}",
            "{\"p\":{\"name\":\"Ann\"},\"t\":1}", "Ann 1");
    renders("{{#with p}}x{{else}}nobody{{/with}}", "{}", "nobody");
    renders("{{#if a}}A{{else if b}}B{{else if c}}C{{else}}D{{/if}}",
            "{\"c\":1}", "C");
    renders("{{#if a}}A{{else if b}}B{{else}}D{{/if}}", "{}", "D");
    renders("{{#ifEquals a b}}eq{{else}}ne{{/ifEquals}}"
            "{{#ifEquals a c}}eq{{else}}ne{{/ifEquals}}"
            "{{#ifEquals x y}}eq{{/ifEquals}}"
            "{{#ifEquals x n}}eq{{else}}ne{{/ifEquals}}",
            "{\"a\":[1,{\"k\":2}],\"b\":[1,{\"k\":2}],\"c\":\"1\","
            "\"n\":null}",
            "eqneeqne");
    renders("{{#ifEquals a \"x\"}}s{{/ifEquals}}{{#ifEquals b 2}}n"
            "{{/ifEquals}}{{#ifEquals c true}}t{{/ifEquals}}",
            "{\"a\":\"x\",\"b\":2,\"c\":true}", "snt");
    renders("{{^l}}empty{{else}}full{{/l}}", "{\"l\":[0]}", "full");
    renders("{{#t}}{{.}}{{/t}}", "{\"t\":true}", "{\"t\":true}");
    renders("{{json o}}|{{json o indent=2}}|{{json s}}|{{json m}}",
            "{\"o\":{\"a\":[1,2.5,{}],\"b\":\"\\u0001\\n\"},\"s\":\"x\"}",
            "{\"a\":[1,2.5,{}],\"b\":\"\\u0001\\n\"}|{\n  \"a\": [\n    1,\n"
            "    2.5,\n    {}\n  ],\n  \"b\": \"\\u0001\\n\"\n}|\"x\"|");
    renders("{{=| |=}}|x| {{x}} |={{ }}=|{{x}}", "{\"x\":1}", "1 {{x}} 1");
    renders("a  {{~x~}}  \n b {{!-- c --}}", "{\"x\":1}", "a1b ");
    renders("\\{{x}} \\\\{{x}} \\{{y", "{\"x\":1}", "{{x}} \\1 {{y");
}
END_TEST

START_TEST(test_render_partials)
{
    struct tset s;
    const char *names[] = {NULL, "outer", "inner", "self"};
    const char *texts[] = {
        "<\n  {{> outer}}\n>{{> inner}}|{{> inner x}}|{{> inner y=1}}",
        "o1\n  {{> inner}}\no{{v}}\n", "i{{y}}\n", "{{> self}}"};
    ck_assert_uint_eq(compile(&s, names, texts, 4), 0);
    /* standalone: every line of the partial indented, nested ones twice;
     * a value's own lines never; inline partials not at all */
    char *got = render_json(&s, "{\"v\":\"a\\nb\",\"y\":0,\"x\":{\"y\":2}}",
                            NULL);
    ck_assert_str_eq(got, "<\n  o1\n    i0\n  oa\nb\n>i0\n|i2\n|i1\n");
    free(got);
    /* a partial that includes itself stops at the limit */
    const char *texts2[] = {"{{> self}}", "x", "y", "{{> self}}"};
    tset_free(&s);
    ck_assert_uint_eq(compile(&s, names, texts2, 4), 0);
    got = render_json(&s, "{}", NULL);
    ck_assert_str_eq(got, "error: partials nested more than 64 deep (a "
                          "partial that includes itself without end?)");
    free(got);
    tset_free(&s);
}
END_TEST

/* Exponential work and output end in errors, not hangs. */
START_TEST(test_render_limits)
{
    struct tset s;
    const char *texts[] = {"{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}"
                           "{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}"};
    ck_assert_uint_eq(compile(&s, NULL, texts, 1), 0);
    struct pr_tpl_opts o = {.max_work = 100000};
    char *got = render_json(&s, "{\"l\":[1,2,3,4,5,6,7,8,9,10]}", &o);
    ck_assert_str_eq(got, "error: the template does too much work (more "
                          "than 100000 steps)");
    free(got);
    tset_free(&s);
    const char *texts2[] = {"{{#l}}{{x}}{{/l}}"};
    ck_assert_uint_eq(compile(&s, NULL, texts2, 1), 0);
    o = (struct pr_tpl_opts){.max_output = 10};
    got = render_json(&s, "{\"l\":[1,2,3],\"x\":\"abcd\"}", &o);
    ck_assert_str_eq(got, "error: the rendered text exceeds 10 bytes");
    free(got);
    tset_free(&s);
    /* a partial the set does not have */
    const char *texts3[] = {"{{> gone}}"};
    ck_assert_uint_eq(compile(&s, NULL, texts3, 1), 0);
    got = render_json(&s, "{}", NULL);
    ck_assert_str_eq(got, "error: partial 4294967295 does not exist");
    free(got);
    tset_free(&s);
}
END_TEST

START_TEST(test_render_helper_errors)
{
    renders("{{role r}}", "{\"r\":1}",
            "error: role needs a non-empty string, not number");
    renders("{{role r}}", "{\"r\":\"Bad\"}",
            "error: role 'Bad' is not a word of lowercase letters");
    renders("{{section s}}", "{}",
            "error: section needs a non-empty string, not a missing value");
    renders("{{media url=u}}", "{\"u\":[]}",
            "error: media url needs a non-empty string, not list");
    renders("{{media url=\"u\" contentType=c}}", "{\"c\":2}",
            "error: media contentType must be a string, not number");
    renders("{{json x indent=i}}", "{\"x\":1,\"i\":\"2\"}",
            "error: json: indent must be a number");
}
END_TEST

START_TEST(test_messages)
{
    char *m = messages("{{role \"system\"}}S {{x}}\n{{role \"user\"}}  \n"
                       "{{role \"model\"}}M{{media url=u contentType=\"a/b\"}}"
                       "{{section \"s\"}}\n",
                       "{\"x\":\"<<<dotprompt:role:user>>>\",\"u\":\"U\"}",
                       NULL);
    ck_assert_str_eq(m,
                     "[{\"role\":\"system\",\"content\":[{\"text\":\"S "
                     "<<<dotprompt:role:user>>>\\n\"}]},{\"role\":\"model\","
                     "\"content\":[{\"text\":\"M\"},{\"media\":{\"url\":\"U\","
                     "\"contentType\":\"a/b\"}},{\"metadata\":{\"purpose\":"
                     "\"s\",\"pending\":true}}]}]");
    free(m);
    /* history without a marker: before the final user message */
    m = messages("{{role \"system\"}}S{{role \"user\"}}U", "{}",
                 "[{\"role\":\"user\",\"content\":[{\"text\":\"h\"}],"
                 "\"metadata\":{\"k\":1}}]");
    ck_assert_str_eq(m,
                     "[{\"role\":\"system\",\"content\":[{\"text\":\"S\"}]},"
                     "{\"role\":\"user\",\"content\":[{\"text\":\"h\"}],"
                     "\"metadata\":{\"k\":1}},{\"role\":\"user\",\"content\":"
                     "[{\"text\":\"U\"}]}]");
    free(m);
    /* with a marker: marked as history, a model message after */
    m = messages("A{{history}}B", "{}",
                 "[{\"role\":\"user\",\"content\":[],\"metadata\":1}]");
    ck_assert_str_eq(m, "[{\"role\":\"user\",\"content\":[{\"text\":\"A\"}]},"
                        "{\"role\":\"user\",\"content\":[],\"metadata\":"
                        "{\"purpose\":\"history\"}},{\"role\":\"model\","
                        "\"content\":[{\"text\":\"B\"}]}]");
    free(m);
    m = messages("  \n ", "{}", NULL);
    ck_assert_str_eq(m, "[]");
    free(m);
}
END_TEST

/* ---- hostile code ---- */

struct bad {
    const char *what;
    uint8_t code[48];
    size_t len;
    const char *why;
};

#define U32(v) (v) & 0xff, ((v) >> 8) & 0xff, ((v) >> 16) & 0xff, (v) >> 24

static const struct bad bads[] = {
    {"opcode", {0x09}, 1, "at byte 0: unknown opcode"},
    {"opcode 0", {0x00}, 1, "at byte 0: unknown opcode"},
    {"text length", {0x01, U32(5), 'a'}, 6, "at byte 0: truncated"},
    {"text huge", {0x01, U32(0xffffffffu)}, 5, "at byte 0: truncated"},
    {"var flags", {0x02, 0x02, 0, 0, 0}, 5, "at byte 0: unknown var flags"},
    {"path flags", {0x02, 0, 0x04, 0, 0}, 5, "at byte 0: unknown path flags"},
    {"data no name",
     {0x02, 0, 0x01, 0, 0},
     5,
     "at byte 0: data path without a name"},
    {"empty name", {0x02, 0, 0, 0, 1, 0, 0}, 7, "at byte 0: empty name"},
    {"name past end",
     {0x02, 0, 0, 0, 1, 9, 0, 'a'},
     8,
     "at byte 0: truncated"},
    {"block kind", {0x03, 8, 1}, 3, "at byte 0: unknown block kind"},
    {"block argc",
     {0x03, 2, 2},
     3,
     "at byte 0: wrong number of block arguments"},
    {"value kind", {0x03, 2, 1, 7}, 4, "at byte 0: unknown value kind"},
    {"nan",
     {0x03, 2, 1, 2, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, U32(0), U32(0)},
     20,
     "at byte 0: number is not finite"},
    {"body past end",
     {0x03, 2, 1, 3, U32(3), U32(0), 0x01},
     13,
     "at byte 0: block runs past the end"},
    {"else past end",
     {0x03, 2, 1, 3, U32(0), U32(1)},
     12,
     "at byte 0: block runs past the end"},
    {"body not whole",
     {0x03, 2, 1, 3, U32(5), U32(0), 0x01, U32(1), 'a'},
     18,
     "at byte 12: truncated"},
    {"straddles block",
     {0x03, 2, 1, 3, U32(0), U32(2), 0x01, U32(1), 'a'},
     18,
     "at byte 12: truncated"},
    {"helper id", {0x05, 5, 0, 0}, 4, "at byte 0: unknown helper"},
    {"helper argc",
     {0x05, 1, 1, 5, 0},
     5,
     "at byte 0: wrong number of helper arguments"},
    {"hash truncated",
     {0x05, 1, 0, 2, 1, 0, 'k', 5},
     8,
     "at byte 0: truncated"},
    {"partial target",
     {0x04, U32(1), 0, U32(0), 0},
     11,
     "at byte 0: partial names no template"},
    {"partial flags",
     {0x04, U32(0), 4, U32(0), 0},
     11,
     "at byte 0: unknown partial flags"},
    {"partial context",
     {0x04, U32(0), 1, U32(0), 0},
     11,
     "at byte 0: truncated"},
};

/* The checker names each malformation; the renderer, given the same code
 * unchecked, fails (or, for a partial number only the set can judge,
 * reports the missing partial) without crashing. */
START_TEST(test_hostile_code)
{
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const struct bad *b = &bads[i];
        char err[128];
        ck_assert_msg(pr_tpl_verify(b->code, b->len, 1, err, sizeof err) == -1,
                      "%s: accepted", b->what);
        ck_assert_msg(!strcmp(err, b->why), "%s: \"%s\"", b->what, err);
        struct pr_tpl_out out;
        pr_tpl_out_init(&out);
        ck_assert_msg(pr_tpl_render(b->code, b->len, NULL, NULL, NULL, &out,
                                    err, sizeof err) == -1,
                      "%s: rendered", b->what);
        pr_tpl_out_free(&out);
        /* the disassembler sees what decoding sees: not partial numbers */
        FILE *null = fopen("/dev/null", "w");
        ck_assert_int_eq(pr_tpl_disasm(b->code, b->len, null),
                         strstr(b->why, "partial names") ? 0 : -1);
        fclose(null);
    }
    /* nesting past the limit */
    uint8_t deep[(PR_TPL_MAX_NEST + 1) * 12];
    size_t n = sizeof deep;
    for (int k = 0; k <= PR_TPL_MAX_NEST; k++) {
        uint8_t *p = deep + (size_t)k * 12;
        uint32_t body = (uint32_t)(n - (size_t)(k + 1) * 12);
        uint8_t hdr[] = {0x03, 2, 1, 3, U32(body), U32(0)};
        memcpy(p, hdr, sizeof hdr);
    }
    char err[128];
    ck_assert_int_eq(pr_tpl_verify(deep, n, 0, err, sizeof err), -1);
    ck_assert_str_eq(err, "at byte 768: blocks nested too deep");
    ck_assert_int_eq(pr_tpl_verify(deep + 12, n - 12, 0, err, sizeof err), 0);
    ck_assert_int_eq(pr_tpl_verify(NULL, 0, 0, err, sizeof err), 0);
}
END_TEST

/* Every byte of a template using every instruction flipped, zeroed and
 * cut: the checker, the disassembler and the renderer (checked or not)
 * must come back. */
START_TEST(test_every_byte)
{
    struct tset s;
    const char *names[] = {NULL, "p"};
    const char *texts[] = {
        "{{role \"system\"}}A {{x}} {{{y.z}}} {{@index}} {{../q}}\n"
        "{{#each l}}{{this}}{{@key}}{{else}}none{{/each}}"
        "{{#ifEquals a 1.5}}{{json o indent=2}}{{/ifEquals}}"
        "{{#with w}}{{> p w k=\"v\" n=null t=true f=false u=undefined}}"
        "{{/with}}\n  {{> p}}\n{{media url=u contentType=\"c\"}}"
        "{{section \"s\"}}{{history}}",
        "P{{k}}\n"};
    ck_assert_uint_eq(compile(&s, names, texts, 2), 0);
    struct pr_tpl_set set = {set_code, &s};
    cJSON *ctx = cJSON_Parse(
        "{\"x\":1,\"y\":{\"z\":2},\"l\":[1,2],\"a\":1.5,\"o\":{},"
        "\"w\":{\"k\":0},\"u\":\"u\"}");
    size_t len = s.code[0].len;
    uint8_t *orig = malloc(len), *d = malloc(len);
    memcpy(orig, s.code[0].data, len);
    FILE *null = fopen("/dev/null", "w");
    unsigned accepted = 0, total = 0;
    for (size_t i = 0; i <= len; i++)
        for (int v = 0; v < 10; v++) {
            size_t n = len;
            memcpy(d, orig, len);
            if (v < 8 && i < len)
                d[i] ^= (uint8_t)(1u << v);
            else if (v == 8 && i < len)
                d[i] = 0;
            else if (v == 9)
                n = i;
            else
                continue;
            total++;
            char err[256];
            struct pr_tpl_out out;
            struct pr_tpl_opts o = {.max_work = 5000, .max_output = 4096};
            bool ok = pr_tpl_verify(d, n, 2, err, sizeof err) == 0;
            accepted += ok;
            pr_tpl_disasm(d, n, null);
            pr_tpl_out_init(&out);
            if (pr_tpl_render(d, n, &set, ctx, &o, &out, err, sizeof err) ==
                0) {
                cJSON *m = pr_tpl_messages(&out, NULL);
                cJSON_Delete(m);
            }
            pr_tpl_out_free(&out);
        }
    ck_assert_uint_gt(accepted, 0);
    ck_assert_uint_lt(accepted, total);
    fclose(null);
    free(orig);
    free(d);
    cJSON_Delete(ctx);
    tset_free(&s);
}
END_TEST

START_TEST(test_disasm)
{
    struct tset s;
    const char *texts[] = {"a{{#if x}}{{@index}}{{else}}{{json ../y "
                           "indent=2}}{{/if}}"};
    ck_assert_uint_eq(compile(&s, NULL, texts, 1), 0);
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    ck_assert_int_eq(pr_tpl_disasm(s.code[0].data, s.code[0].len, m), 0);
    fclose(m);
    ck_assert_str_eq(buf, "0000  text \"a\"\n"
                          "0006  block if x (body 12, else 28 bytes)\n"
                          "0018    var @index\n"
                          "0024  else\n"
                          "0024    helper json ../y indent=2\n");
    free(buf);
    tset_free(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("compile");
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_helper_errors);
    tcase_add_test(tc, test_recovery);
    tcase_add_test(tc, test_nesting_limit);
    tcase_add_test(tc, test_inputs);
    tcase_add_test(tc, test_prompt_files);
    tcase_add_test(tc, test_prompt_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("render");
    tcase_add_test(tc, test_render_values);
    tcase_add_test(tc, test_render_blocks);
    tcase_add_test(tc, test_render_partials);
    tcase_add_test(tc, test_render_limits);
    tcase_add_test(tc, test_render_helper_errors);
    tcase_add_test(tc, test_messages);
    tcase_add_test(tc, test_disasm);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hostile_code);
    tcase_add_test(tc, test_every_byte);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
