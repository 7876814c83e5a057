/* conformance.c -- the Mustache spec and Dotprompt's suites, end to end
 *
 * Every case goes through the real compiler (handlebars.c, prompt.c,
 * picoschema.c) and the real renderer (template_render.c,
 * template_msgs.c): the template is compiled, its partials resolved and
 * compiled, the code encoded and rendered, and the text (Mustache, HTML
 * escaping on) or the messages (Dotprompt, escaping off) compared with
 * what the suite expects; Dotprompt's frontmatter and Picoschema cases
 * compare the compiled metadata.  Prints a line per file and every
 * failure with its reason.
 *
 * The suites are not part of the tree: they are looked for in
 * $POML_SHARED/conformance, else $top_srcdir/../shared/conformance; when
 * absent the test is skipped (exit 77).  Cases listed in KNOWN below
 * fail for the reason given; any other failure in a core Mustache file or
 * a Dotprompt file fails the test (exit 1), and so does a known failure
 * that passes (the list must stay true).  The optional Mustache files
 * (~lambdas, ~inheritance, ~dynamic-names) are counted, not judged.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "diag.h"
#include "eval.h"
#include "handlebars.h"
#include "prompt_file.h"
#include "template.h"
#include "yaml.h"

/* Cases that fail, and why: FILE, case name, test description (NULL:
 * every test of the case). */
static const struct known {
    const char *file, *name, *desc, *why;
} known[] = {
    {NULL, NULL, NULL, NULL},
};

struct tally {
    int pass, fail, xfail;
};

static int unexpected; /* failures not in KNOWN, passes in it */
static bool verbose;

static const struct known *find_known(const char *file, const char *name,
                                      const char *desc)
{
    for (const struct known *k = known; k->file; k++)
        if (!strcmp(k->file, file) && !strcmp(k->name, name) &&
            (!k->desc || (desc && !strcmp(k->desc, desc))))
            return k;
    return NULL;
}

/* Counts one case; WHY is NULL when it passed. */
static void verdict(struct tally *t, bool judged, const char *file,
                    const char *name, const char *desc, const char *why)
{
    const struct known *k = find_known(file, name, desc);
    if (!why) {
        t->pass++;
        if (k && judged) {
            printf("UNEXPECTED PASS %s: %s%s%s (listed as known: %s)\n", file,
                   name, desc ? " / " : "", desc ? desc : "", k->why);
            unexpected++;
        }
        return;
    }
    if (k) {
        t->xfail++;
        if (verbose)
            printf("known failure %s: %s%s%s: %s\n", file, name,
                   desc ? " / " : "", desc ? desc : "", k->why);
        return;
    }
    t->fail++;
    if (judged || verbose)
        printf("%s %s: %s%s%s\n    %s\n", judged ? "FAIL" : "fail (optional)",
               file, name, desc ? " / " : "", desc ? desc : "", why);
    if (judged)
        unexpected++;
}

/* The string member KEY of object O, or NULL. */
static const char *field(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* Whether DOC, the file FILE, is a list; if not, says so. */
static bool readable(const char *file, const cJSON *doc)
{
    if (cJSON_IsArray(doc))
        return true;
    printf("FAIL %s: cannot read it\n", file);
    unexpected++;
    return false;
}

/* A file's line, and its counts added to ALL. */
static void summary(const char *file, const struct tally *t, bool judged,
                    struct tally *all)
{
    printf("%s: %d of %d pass%s", file, t->pass, t->pass + t->fail + t->xfail,
           judged ? "" : " (optional)");
    if (t->xfail)
        printf(", %d known failure%s", t->xfail, t->xfail == 1 ? "" : "s");
    putchar('\n');
    all->pass += t->pass;
    all->fail += t->fail;
    all->xfail += t->xfail;
}

/* ---- compiling a template and its partials ---- */

struct unit {
    const char *name; /* partial name; NULL for the main one */
    struct pc_tpl *tpl;
    struct pr_buf code;
};

struct set {
    struct pc_ctx ctx;
    struct unit *u;
    size_t n, cap;
    const cJSON *partials; /* name -> template text (two sources) */
    const cJSON *partials2;
    int empty; /* the unit for missing partials, or -1 */
    char why[2048];
};

static void set_init(struct set *s, const cJSON *partials,
                     const cJSON *partials2)
{
    memset(s, 0, sizeof *s);
    pc_ctx_init(&s->ctx);
    s->ctx.opts.color = false;
    s->partials = partials;
    s->partials2 = partials2;
    s->empty = -1;
}

static void set_free(struct set *s)
{
    for (size_t i = 0; i < s->n; i++)
        pr_buf_free(&s->u[i].code);
    free(s->u);
    pc_ctx_free(&s->ctx);
}

static struct unit *add_unit(struct set *s, const char *name)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct unit *u = realloc(s->u, cap * sizeof *u);
        if (!u)
            abort();
        s->u = u;
        s->cap = cap;
    }
    struct unit *u = &s->u[s->n++];
    memset(u, 0, sizeof *u);
    u->name = name;
    pr_buf_init(&u->code);
    return u;
}

static uint32_t source(struct set *s, const char *label, const char *text)
{
    struct pc_source *src = pc_source_from_mem(&s->ctx.arena, label, text,
                                               strlen(text));
    return src ? pc_ctx_add_source(&s->ctx, src) : 0;
}

/* Resolves the partials of unit I, adding units for new names; a name no
 * source has gets an empty template, as Mustache asks. */
static void resolve(struct set *s, size_t i)
{
    struct pc_tpl *t = s->u[i].tpl;
    for (size_t k = 0; t && k < t->npartials; k++) {
        const char *name = t->partials[k].name;
        size_t found = s->n;
        for (size_t j = 0; j < s->n; j++)
            if (s->u[j].name && !strcmp(s->u[j].name, name))
                found = j;
        if (found == s->n) {
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(s->partials,
                                                                 name);
            if (!cJSON_IsString(text))
                text = cJSON_GetObjectItemCaseSensitive(s->partials2, name);
            if (!cJSON_IsString(text)) {
                if (s->empty < 0) {
                    struct unit *u = add_unit(s, "");
                    uint32_t f = source(s, "(missing partial)", "");
                    u->tpl = pc_tpl_parse(&s->ctx, f, 0, "", 0);
                    s->empty = (int)(s->n - 1);
                }
                found = (size_t)s->empty;
            } else {
                struct unit *u = add_unit(s, name);
                char label[128];
                snprintf(label, sizeof label, "partial %s", name);
                uint32_t f = source(s, label, text->valuestring);
                u->tpl = pc_tpl_parse(&s->ctx, f, 0, text->valuestring,
                                      strlen(text->valuestring));
                resolve(s, s->n - 1);
            }
        }
        t->partials[k].target = (void *)(uintptr_t)(found + 1);
    }
}

static uint32_t unit_index(void *ud, void *target)
{
    (void)ud;
    return (uint32_t)((uintptr_t)target - 1);
}

static int unit_code(void *ud, uint32_t i, const uint8_t **code, size_t *len)
{
    const struct set *s = ud;
    if (i >= s->n)
        return -1;
    *code = s->u[i].code.data;
    *len = s->u[i].code.len;
    return 0;
}

/* Encodes every unit and checks each code as the plan loader would; -1
 * with the compiler's messages in s->why. */
static int finish(struct set *s)
{
    if (s->ctx.nerrors) {
        char *buf = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&buf, &n);
        if (m) {
            pc_diag_flush(&s->ctx, m);
            fclose(m);
            snprintf(s->why, sizeof s->why, "compile: %s", buf ? buf : "");
            free(buf);
        }
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        char err[256];
        if (!s->u[i].tpl ||
            pc_tpl_encode(s->u[i].tpl, unit_index, NULL, &s->u[i].code) < 0)
            return snprintf(s->why, sizeof s->why, "encode failed"), -1;
        if (pr_tpl_verify(s->u[i].code.data, s->u[i].code.len, (uint32_t)s->n,
                          err, sizeof err) < 0)
            return snprintf(s->why, sizeof s->why,
                            "the checker rejects the code: %s", err),
                   -1;
    }
    return 0;
}

static int render(struct set *s, const cJSON *ctx, bool escape,
                  const cJSON *data, struct pr_tpl_out *out)
{
    struct pr_tpl_set ts = {unit_code, s};
    struct pr_tpl_opts o = {.escape_html = escape, .data = data};
    char err[512];
    pr_tpl_out_init(out);
    if (pr_tpl_render(s->u[0].code.data, s->u[0].code.len, &ts, ctx, &o, out,
                      err, sizeof err) < 0) {
        snprintf(s->why, sizeof s->why, "render: %s", err);
        return -1;
    }
    return 0;
}

/* "expected X, got Y" with both as JSON strings. */
static void differ(char *why, size_t cap, const char *want, const char *got)
{
    cJSON *a = cJSON_CreateString(want), *b = cJSON_CreateString(got);
    char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
    snprintf(why, cap, "expected %s, got %s", x ? x : "?", y ? y : "?");
    free(x);
    free(y);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* ---- Mustache ---- */

static void mustache_file(const char *dir, const char *base, bool judged,
                          struct tally *all)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, base);
    struct pr_arena a;
    pr_arena_init(&a);
    struct pc_source *src = pc_source_read(&a, path);
    cJSON *doc = src ? cJSON_Parse(src->text) : NULL;
    pr_arena_free(&a);
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(doc, "tests");
    struct tally t = {0};
    char file[256];
    snprintf(file, sizeof file, "mustache/%s.json", base);
    if (!readable(file, tests)) {
        cJSON_Delete(doc);
        return;
    }
    for (const cJSON *c = tests->child; c; c = c->next) {
        const char *name = field(c, "name"), *tpl = field(c, "template");
        const char *want = field(c, "expected");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(c, "data");
        const cJSON *partials = cJSON_GetObjectItemCaseSensitive(c,
                                                                 "partials");
        if (!name || !tpl || !want) {
            verdict(&t, judged, file, name ? name : "?", NULL,
                    "malformed case");
            continue;
        }
        struct set s;
        set_init(&s, partials, NULL);
        char label[512];
        snprintf(label, sizeof label, "%s: %s", file, name);
        struct unit *u = add_unit(&s, NULL);
        uint32_t f = source(&s, label, tpl);
        u->tpl = pc_tpl_parse(&s.ctx, f, 0, tpl, strlen(tpl));
        resolve(&s, 0);
        struct pr_tpl_out out;
        const char *why = NULL;
        if (finish(&s) < 0) {
            why = s.why;
        } else if (render(&s, data, true, NULL, &out) < 0) {
            why = s.why;
            pr_tpl_out_free(&out);
        } else {
            char *got = pr_tpl_text(&out, NULL);
            if (got && strcmp(got, want)) {
                differ(s.why, sizeof s.why, want, got);
                why = s.why;
            }
            free(got);
            pr_tpl_out_free(&out);
        }
        verdict(&t, judged, file, name, NULL, why);
        set_free(&s);
    }
    summary(file, &t, judged, all);
    cJSON_Delete(doc);
}

/* ---- Dotprompt ---- */

/* A YAML file as JSON, through the compiler's YAML reader. */
static cJSON *yaml_file(const char *path)
{
    struct pc_ctx ctx;
    pc_ctx_init(&ctx);
    struct pc_source *src = pc_source_read(&ctx.arena, path);
    struct pc_node *root = src ? pc_yaml_parse(&ctx,
                                               pc_ctx_add_source(&ctx, src))
                               : NULL;
    cJSON *j = root && !ctx.nerrors ? pc_node_json(root) : NULL;
    pc_diag_flush(&ctx, stderr);
    pc_ctx_free(&ctx);
    return j;
}

static cJSON *parse_or_null(const char *text)
{
    return text ? cJSON_Parse(text) : NULL;
}

/* Dotprompt's "ext": dotted frontmatter keys grouped by what precedes
 * their last dot. */
static cJSON *ext_of(const cJSON *raw)
{
    cJSON *ext = cJSON_CreateObject();
    for (const cJSON *c = raw ? raw->child : NULL; c; c = c->next) {
        const char *dot = c->string ? strrchr(c->string, '.') : NULL;
        if (!dot)
            continue;
        char ns[256];
        snprintf(ns, sizeof ns, "%.*s", (int)(dot - c->string), c->string);
        cJSON *o = cJSON_GetObjectItemCaseSensitive(ext, ns);
        if (!o)
            o = cJSON_AddObjectToObject(ext, ns);
        cJSON_AddItemToObject(o, dot + 1, cJSON_Duplicate(c, true));
    }
    return ext;
}

/* Whether every member of WANT equals the same member of GOT. */
static bool subset_equal(const cJSON *want, const cJSON *got)
{
    if (!cJSON_IsObject(want) || !cJSON_IsObject(got))
        return pr_json_equal(want, got);
    for (const cJSON *c = want->child; c; c = c->next)
        if (!pr_json_equal(c,
                           cJSON_GetObjectItemCaseSensitive(got, c->string)))
            return false;
    return true;
}

static void mismatch(char *why, size_t cap, const char *what,
                     const cJSON *want, const cJSON *got)
{
    char *x = want ? cJSON_PrintUnformatted(want) : NULL;
    char *y = got ? cJSON_PrintUnformatted(got) : NULL;
    snprintf(why, cap, "%s: expected %s, got %s", what, x ? x : "nothing",
             y ? y : "nothing");
    free(x);
    free(y);
}

/* The metadata Dotprompt would report for the prompt P, with the options'
 * input over the frontmatter's. */
static cJSON *metadata(const struct pc_prompt *p, const cJSON *options)
{
    cJSON *m = cJSON_CreateObject();
    cJSON *in = cJSON_CreateObject(), *out = cJSON_CreateObject();
    cJSON *schema = parse_or_null(p->input_schema);
    cJSON *def = parse_or_null(p->input_default);
    const cJSON *oin = cJSON_GetObjectItemCaseSensitive(options, "input");
    const cJSON *odef = cJSON_GetObjectItemCaseSensitive(oin, "default");
    if (odef) {
        cJSON_Delete(def);
        def = cJSON_Duplicate(odef, true);
    }
    if (schema)
        cJSON_AddItemToObject(in, "schema", schema);
    if (def)
        cJSON_AddItemToObject(in, "default", def);
    if (p->output_format)
        cJSON_AddStringToObject(out, "format", p->output_format);
    if (p->output_schema)
        cJSON_AddItemToObject(out, "schema", parse_or_null(p->output_schema));
    cJSON_AddItemToObject(m, "input", in);
    cJSON_AddItemToObject(m, "output", out);
    if (p->model_name)
        cJSON_AddStringToObject(m, "model", p->model_name);
    if (p->config)
        cJSON_AddItemToObject(m, "config", parse_or_null(p->config));
    if (p->front) {
        cJSON *raw = pc_node_json(p->front);
        cJSON_AddItemToObject(m, "ext", ext_of(raw));
        cJSON_AddItemToObject(m, "raw", raw);
    }
    return m;
}

/* The context: the input over the defaults (the options' or the
 * frontmatter's). */
static cJSON *context_of(const cJSON *meta, const cJSON *input)
{
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(meta, "input"), "default");
    cJSON *ctx = cJSON_IsObject(def) ? cJSON_Duplicate(def, true)
                                     : cJSON_CreateObject();
    for (const cJSON *c = input ? input->child : NULL; c; c = c->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(ctx, c->string);
        cJSON_AddItemToObject(ctx, c->string, cJSON_Duplicate(c, true));
    }
    return ctx;
}

/* One test of a Dotprompt case; NULL when it passes, else why not. */
static const char *dotprompt_test(struct set *s, const struct pc_prompt *p,
                                  const cJSON *suite, const cJSON *test)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(test, "data");
    if (!data)
        data = cJSON_GetObjectItemCaseSensitive(suite, "data");
    const cJSON *options = cJSON_GetObjectItemCaseSensitive(test, "options");
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(test, "expect");
    cJSON *meta = metadata(p, options);
    cJSON *ctx = context_of(meta,
                            cJSON_GetObjectItemCaseSensitive(data, "input"));
    struct pr_tpl_out out;
    const char *why = NULL;
    cJSON *msgs = NULL;
    if (render(s, ctx, false,
               cJSON_GetObjectItemCaseSensitive(data, "context"), &out) < 0) {
        why = s->why;
    } else {
        msgs = pr_tpl_messages(
            &out, cJSON_GetObjectItemCaseSensitive(data, "messages"));
    }
    pr_tpl_out_free(&out);
    for (const cJSON *e = expect ? expect->child : NULL; e && !why;
         e = e->next) {
        const char *k = e->string;
        if (!strcmp(k, "messages")) {
            if (!pr_json_equal(e, msgs)) {
                mismatch(s->why, sizeof s->why, "messages", e, msgs);
                why = s->why;
            }
        } else if (!strcmp(k, "input") || !strcmp(k, "output")) {
            const cJSON *got = cJSON_GetObjectItemCaseSensitive(meta, k);
            if (!subset_equal(e, got)) {
                mismatch(s->why, sizeof s->why, k, e, got);
                why = s->why;
            }
        } else if (!strcmp(k, "model") || !strcmp(k, "config") ||
                   !strcmp(k, "raw") || !strcmp(k, "ext")) {
            const cJSON *got = cJSON_GetObjectItemCaseSensitive(meta, k);
            if (!pr_json_equal(e, got)) {
                mismatch(s->why, sizeof s->why, k, e, got);
                why = s->why;
            }
        } else {
            snprintf(s->why, sizeof s->why, "expect key '%s' not checked", k);
            why = s->why;
        }
    }
    cJSON_Delete(msgs);
    cJSON_Delete(ctx);
    cJSON_Delete(meta);
    return why;
}

static void dotprompt_file(const char *dir, const char *rel, struct tally *all)
{
    char path[4096], file[256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    snprintf(file, sizeof file, "dotprompt/%s", rel);
    cJSON *doc = yaml_file(path);
    struct tally t = {0};
    if (!readable(file, doc)) {
        cJSON_Delete(doc);
        return;
    }
    for (const cJSON *c = doc->child; c; c = c->next) {
        const char *name = field(c, "name"), *tpl = field(c, "template");
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(c, "tests");
        if (!name || !tpl || !cJSON_IsArray(tests)) {
            verdict(&t, true, file, name ? name : "?", NULL, "malformed case");
            continue;
        }
        const cJSON *named = cJSON_GetObjectItemCaseSensitive(c, "schemas");
        if (!named)
            named = cJSON_GetObjectItemCaseSensitive(c, "resolverSchemas");
        struct set s;
        set_init(&s, cJSON_GetObjectItemCaseSensitive(c, "partials"),
                 cJSON_GetObjectItemCaseSensitive(c, "resolverPartials"));
        char label[512];
        snprintf(label, sizeof label, "%s: %s", file, name);
        struct pc_prompt p = {.name = label, .path = label};
        struct unit *u = add_unit(&s, NULL);
        struct pc_source *src = pc_source_from_mem(&s.ctx.arena, label, tpl,
                                                   strlen(tpl));
        if (src)
            pc_prompt_parse(&s.ctx, src, &p, named);
        u->tpl = p.tpl;
        resolve(&s, 0);
        bool compiled = finish(&s) == 0;
        for (const cJSON *x = tests->child; x; x = x->next) {
            const char *desc = field(x, "desc");
            const char *why = compiled ? dotprompt_test(&s, &p, c, x) : s.why;
            verdict(&t, true, file, name, desc ? desc : "?", why);
        }
        set_free(&s);
    }
    summary(file, &t, true, all);
    cJSON_Delete(doc);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .yaml files of DIR/SUB, sorted, each with DIR/SUB's prefix. */
static void dotprompt_dir(const char *dir, const char *sub, struct tally *all)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", dir, *sub ? "/" : "", sub);
    DIR *d = opendir(path);
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".yaml")) {
            char rel[512];
            snprintf(rel, sizeof rel, "%s%s%s", sub, *sub ? "/" : "",
                     e->d_name);
            names[n++] = strdup(rel);
        }
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        dotprompt_file(dir, names[i], all);
        free(names[i]);
    }
}

int main(int argc, char **argv)
{
    char root[4096];
    const char *shared = getenv("POML_SHARED");
    const char *top = getenv("top_srcdir");
    struct stat st;
    verbose = argc > 1 && !strcmp(argv[1], "-v");
    if (shared && *shared)
        snprintf(root, sizeof root, "%s/conformance", shared);
    else
        snprintf(root, sizeof root, "%s/../shared/conformance",
                 top && *top ? top : ".");
    char mdir[4200], ddir[4200];
    snprintf(mdir, sizeof mdir, "%s/mustache", root);
    snprintf(ddir, sizeof ddir, "%s/dotprompt", root);
    if (stat(mdir, &st) < 0 || stat(ddir, &st) < 0) {
        printf("conformance suite not found at %s (set POML_SHARED), "
               "skipped\n",
               root);
        return 77;
    }
    static const char *const core[] = {"comments",      "delimiters",
                                       "interpolation", "inverted",
                                       "partials",      "sections"};
    static const char *const optional[] = {"~dynamic-names", "~inheritance",
                                           "~lambdas"};
    struct tally m = {0}, opt = {0}, dp = {0};
    for (size_t i = 0; i < sizeof core / sizeof *core; i++)
        mustache_file(mdir, core[i], true, &m);
    for (size_t i = 0; i < sizeof optional / sizeof *optional; i++)
        mustache_file(mdir, optional[i], false, &opt);
    dotprompt_dir(ddir, "", &dp);
    dotprompt_dir(ddir, "helpers", &dp);
    printf("mustache core: %d of %d pass; optional: %d of %d; dotprompt: "
           "%d of %d pass, %d known failure%s; %d unexpected\n",
           m.pass, m.pass + m.fail + m.xfail, opt.pass,
           opt.pass + opt.fail + opt.xfail, dp.pass,
           dp.pass + dp.fail + dp.xfail, dp.xfail + m.xfail,
           dp.xfail + m.xfail == 1 ? "" : "s", unexpected);
    return unexpected ? 1 : 0;
}
