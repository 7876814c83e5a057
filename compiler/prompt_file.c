/* prompt_file.c -- prompt files: frontmatter, template body, partials
 *
 * Splits a prompt file at its '---' fences as Dotprompt does (the body
 * trimmed when there is a frontmatter), reads the frontmatter with the
 * project's YAML reader (as a source of its own under the same name, so
 * its positions are the file's), converts schemas from Picoschema, and
 * compiles the body (handlebars.c).  In a workflow, each prompt file and
 * each partial is compiled once; partials are files _NAME.md or
 * _NAME.prompt beside the file that names them.
 */
#include "prompt_file.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handlebars.h"
#include "picoschema.h"
#include "read.h"

#define NOLOC ((struct pc_loc){0, 0, 0})

/* ---- the text ---- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* Whether the line [from, to) is a fence: "---", then blanks. */
static bool fence(const char *s, size_t from, size_t to)
{
    if (to - from < 3 || memcmp(s + from, "---", 3))
        return false;
    for (size_t i = from + 3; i < to; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static size_t line_end(const char *s, size_t n, size_t i)
{
    const char *nl = memchr(s + i, '\n', n - i);
    return nl ? (size_t)(nl - s) : n;
}

struct split {
    size_t front_end; /* where the closing fence starts; 0: no
                         frontmatter */
    size_t body, body_end;
};

static int split_text(struct pc_ctx *ctx, const struct pc_source *src,
                      struct split *sp)
{
    const char *s = src->text;
    size_t n = src->len, i = 0;
    memset(sp, 0, sizeof *sp);
    sp->body_end = n;
    if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
        i = 3;
    size_t e = line_end(s, n, i);
    if (!fence(s, i, e))
        return 0;
    for (size_t j = e + 1; j <= n && e < n;) {
        size_t le = line_end(s, n, j);
        if (fence(s, j, le)) {
            sp->front_end = j;
            sp->body = le < n ? le + 1 : n;
            while (sp->body < n && is_ws(s[sp->body]))
                sp->body++;
            while (sp->body_end > sp->body && is_ws(s[sp->body_end - 1]))
                sp->body_end--;
            return 0;
        }
        if (le >= n)
            break;
        j = le + 1;
    }
    sp->front_end = SIZE_MAX;
    sp->body = i;
    return -1;
}

/* ---- the frontmatter ---- */

static const char *json_text(struct pc_ctx *ctx, cJSON *j)
{
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    const char *out = t ? pr_arena_strdup(&ctx->arena, t) : NULL;
    free(t);
    if (!out)
        pc_oom(ctx);
    return out;
}

static const char *node_text(struct pc_ctx *ctx, const struct pc_node *n)
{
    cJSON *j = pc_node_json(n);
    const char *t = json_text(ctx, j);
    cJSON_Delete(j);
    return t;
}

static const char *schema_text(struct pc_ctx *ctx, const struct pc_node *n,
                               const cJSON *named, cJSON **keep)
{
    cJSON *j = pc_picoschema(ctx, n, named);
    const char *t = j ? json_text(ctx, j) : NULL;
    if (keep && !*keep)
        *keep = j;
    else
        cJSON_Delete(j);
    return t;
}

static const char *const front_keys[] = {
    "name",  "description", "model",   "config",   "input", "output", "schema",
    "tools", "variant",     "version", "metadata", "ext",   "raw",    NULL};

/* Keys outside the list are Dotprompt's to allow (extensions, custom
 * fields); only those that look like a misspelt key are reported. */
static void check_front_keys(struct pc_ctx *ctx, const struct pc_node *m)
{
    for (size_t i = 0; i < m->len; i++) {
        const struct pc_node *k = m->pairs[i].key;
        bool known = strchr(k->str, '.') != NULL;
        for (size_t j = 0; !known && front_keys[j]; j++)
            known = !strcmp(k->str, front_keys[j]);
        const char *near =
            known ? NULL
                  : pc_closest(k->str, front_keys,
                               sizeof front_keys / sizeof *front_keys - 1);
        if (!near)
            continue;
        struct pc_diag *d = pc_report(ctx, PC_D_UNKNOWN_KEY, k->loc,
                                      "unknown key '%s' in the frontmatter",
                                      k->str);
        pc_note(ctx, d, NOLOC, "did you mean '%s'?", near);
    }
}

static const char *get_str(struct pc_ctx *ctx, const struct pc_node *m,
                           const char *key, struct pc_loc *loc)
{
    const struct pc_node *v = pc_map_get(m, key);
    if (!v)
        return NULL;
    if (loc)
        *loc = v->loc;
    return pc_get_str(ctx, v, key);
}

static void read_input(struct pc_ctx *ctx, const struct pc_node *in,
                       struct pc_prompt *p, const cJSON *named, cJSON **schema)
{
    static const char *const keys[] = {"schema", "default", NULL};
    if (!pc_want_kind(ctx, in, PC_NODE_MAP, "input"))
        return;
    pc_check_keys(ctx, in, keys, "input");
    const struct pc_node *v;
    if ((v = pc_map_get(in, "schema")))
        p->input_schema = schema_text(ctx, v, named, schema);
    if ((v = pc_map_get(in, "default")) &&
        pc_want_kind(ctx, v, PC_NODE_MAP, "default"))
        p->input_default = node_text(ctx, v);
}

static void read_output(struct pc_ctx *ctx, const struct pc_node *out,
                        struct pc_prompt *p, const cJSON *named)
{
    static const char *const keys[] = {"format", "schema", NULL};
    if (!pc_want_kind(ctx, out, PC_NODE_MAP, "output"))
        return;
    pc_check_keys(ctx, out, keys, "output");
    const struct pc_node *v;
    struct pc_loc loc;
    const char *f = get_str(ctx, out, "format", &loc);
    if (f && strcmp(f, "json") && strcmp(f, "text"))
        pc_report(ctx, PC_D_BAD_VALUE, loc,
                  "'format' must be json or text, not '%s'", f);
    else
        p->output_format = f;
    if ((v = pc_map_get(out, "schema"))) {
        p->output_schema = schema_text(ctx, v, named, NULL);
        if (p->output_schema && !p->output_format)
            p->output_format = "json";
    }
}

static void read_front(struct pc_ctx *ctx, const struct pc_node *m,
                       struct pc_prompt *p, const cJSON *named, cJSON **schema)
{
    const struct pc_node *v;
    check_front_keys(ctx, m);
    p->title = get_str(ctx, m, "name", NULL);
    p->description = get_str(ctx, m, "description", NULL);
    p->model_name = get_str(ctx, m, "model", &p->model_loc);
    if ((v = pc_map_get(m, "config")) &&
        pc_want_kind(ctx, v, PC_NODE_MAP, "config"))
        p->config = node_text(ctx, v);
    if ((v = pc_map_get(m, "input")))
        read_input(ctx, v, p, named, schema);
    if ((v = pc_map_get(m, "schema"))) {
        /* the seed's form: a top-level input schema */
        const struct pc_node *in = pc_map_get(m, "input");
        if (in && in->kind == PC_NODE_MAP && pc_map_get(in, "schema"))
            pc_report(ctx, PC_D_BAD_VALUE, v->loc,
                      "the input schema is given twice: 'schema' and "
                      "'input.schema'");
        else
            p->input_schema = schema_text(ctx, v, named, schema);
    }
    if ((v = pc_map_get(m, "output")))
        read_output(ctx, v, p, named);
    if ((v = pc_map_get(m, "tools")))
        pc_get_str_list(ctx, v, "tools", &(size_t){0}, NULL);
}

int pc_prompt_parse(struct pc_ctx *ctx, struct pc_source *src,
                    struct pc_prompt *p, const cJSON *named)
{
    struct split sp;
    cJSON *schema = NULL;
    struct pc_node *root = NULL;
    bool unclosed = split_text(ctx, src, &sp) < 0;
    if (sp.front_end && !unclosed) {
        /* the frontmatter as a YAML source of its own, registered first
         * so that its messages come first: same name, same positions,
         * cut before the closing fence */
        struct pc_source *fm = pc_source_from_mem(&ctx->arena, src->path,
                                                  src->text, sp.front_end);
        uint32_t ff = fm ? pc_ctx_add_source(ctx, fm) : 0;
        if (!ff) {
            pc_oom(ctx);
            return -1;
        }
        root = pc_yaml_parse(ctx, ff);
    }
    p->file = pc_ctx_add_source(ctx, src);
    if (!p->file) {
        pc_oom(ctx);
        return -1;
    }
    if (unclosed) {
        pc_report(ctx, PC_D_FRONTMATTER,
                  (struct pc_loc){p->file, (uint32_t)sp.body, 3},
                  "the frontmatter is not closed: a line '---' must end it");
        return -1;
    }
    if (root && root->kind == PC_NODE_MAP) {
        p->front = root;
        read_front(ctx, root, p, named, &schema);
    } else if (root && root->kind != PC_NODE_NULL) {
        pc_report(ctx, PC_D_FRONTMATTER, root->loc,
                  "the frontmatter must be a mapping of keys, not %s",
                  pc_node_kind_name(root));
    }
    if (!sp.front_end) {
        sp.body = 0;
        sp.body_end = src->len;
    }
    p->tpl = pc_tpl_parse(ctx, p->file, (uint32_t)sp.body, src->text + sp.body,
                          sp.body_end - sp.body);
    if (p->tpl && schema)
        pc_tpl_check_inputs(ctx, p->tpl, schema, "this prompt file");
    cJSON_Delete(schema);
    return p->tpl ? 0 : -1;
}

/* ---- in a workflow ---- */

static struct pc_prompt *cached(struct pc_workflow *wf, const char *name,
                                bool partial)
{
    for (size_t i = 0; i < wf->nprompts; i++)
        if (wf->prompts[i]->partial == partial &&
            !strcmp(wf->prompts[i]->name, name))
            return wf->prompts[i];
    return NULL;
}

static struct pc_prompt *new_prompt(struct pc_build *b, const char *name,
                                    const char *path, bool partial)
{
    struct pc_ctx *c = b->ctx;
    struct pc_prompt *p = pr_arena_alloc(&c->arena, sizeof *p);
    struct pc_prompt **slot = p ? PR_PUSH(&c->arena, b->wf->prompts,
                                          b->wf->nprompts, b->wf->capprompts)
                                : NULL;
    if (!slot) {
        pc_oom(c);
        return NULL;
    }
    *slot = p;
    p->name = name;
    p->path = path;
    p->partial = partial;
    return p;
}

static void resolve_partials(struct pc_build *b, struct pc_prompt *p);

/* The partial REF names from the file NAME: _BASE.md or _BASE.prompt in
 * the directory of NAME (and REF's own directories). */
static struct pc_prompt *load_partial(struct pc_build *b, const char *name,
                                      const struct pc_tpl_partial *ref)
{
    static const char *const exts[] = {".md", ".prompt"};
    struct pr_arena *a = &b->ctx->arena;
    const char *slash = strrchr(name, '/');
    int dir = slash ? (int)(slash - name + 1) : 0;
    const char *rs = strrchr(ref->name, '/');
    int sub = rs ? (int)(rs - ref->name + 1) : 0;
    const char *rel[2];
    for (int k = 0; k < 2; k++) {
        rel[k] = pr_arena_printf(a, "%.*s%.*s_%s%s", dir, name, sub, ref->name,
                                 ref->name + sub, exts[k]);
        if (!rel[k]) {
            pc_oom(b->ctx);
            return NULL;
        }
        struct pc_prompt *p = cached(b->wf, rel[k], true);
        if (p)
            return p;
    }
    for (int k = 0; k < 2; k++) {
        const char *path = pc_source_file(b, NULL, rel[k], ref->loc,
                                          "partial");
        if (!path)
            return NULL;
        struct pc_source *src = pc_ctx_read_source(b->ctx, a, path);
        if (!src)
            continue;
        struct pc_prompt *p = new_prompt(b, rel[k], path, true);
        if (!p)
            return NULL;
        pc_add_file(b, path);
        p->file = pc_ctx_add_source(b->ctx, src);
        if (!p->file)
            return NULL;
        p->tpl = pc_tpl_parse(b->ctx, p->file, 0, src->text, src->len);
        resolve_partials(b, p);
        return p;
    }
    pc_report(b->ctx, PC_D_UNKNOWN_PARTIAL, ref->loc,
              "unknown partial '%s': there is no file '%s' or '%s'", ref->name,
              rel[0], rel[1]);
    return NULL;
}

static void resolve_partials(struct pc_build *b, struct pc_prompt *p)
{
    for (size_t i = 0; p->tpl && i < p->tpl->npartials; i++)
        p->tpl->partials[i].target = load_partial(b, p->name,
                                                  &p->tpl->partials[i]);
}

/* The prompt file NAME read from PATH. */
static struct pc_prompt *load_prompt(struct pc_build *b, const char *name,
                                     const char *path, struct pc_loc loc)
{
    struct pc_prompt *p = cached(b->wf, name, false);
    if (p)
        return p->file ? p : NULL;
    struct pc_source *src = path ? pc_ctx_read_source(b->ctx, &b->ctx->arena,
                                                      path)
                                 : NULL;
    if (!(p = new_prompt(b, name, path, false)))
        return NULL;
    if (!src) {
        pc_report(b->ctx, PC_D_IMPORT, loc, "cannot read prompt file '%s'",
                  name);
        return NULL;
    }
    pc_add_file(b, path);
    if (pc_prompt_parse(b->ctx, src, p, NULL) < 0)
        return NULL;
    if (p->model_name && b->prompt_alone &&
        pc_catalog_models(b->ctx, b->cat) == 0 &&
        !pc_catalog_model(b->cat, p->model_name)) {
        struct pc_diag *d = pc_report(
            b->ctx, PC_D_UNRESOLVED_MODEL, p->model_loc,
            "model '%s' is not in the catalog; a workflow using this prompt "
            "file must define it under 'models:'",
            p->model_name);
        const char *near = pc_catalog_suggest_model(b->cat, p->model_name);
        if (near)
            pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
    } else if (p->model_name) {
        p->model = pc_find_model(b, p->model_name, p->model_loc);
    }
    resolve_partials(b, p);
    return p;
}

struct pc_prompt *pc_load_prompt(struct pc_build *b, const char *name,
                                 struct pc_loc loc)
{
    const char *path = pc_source_file(b, NULL, name, loc, "prompt file");
    return path ? load_prompt(b, name, path, loc) : NULL;
}

/* ---- a step's inputs ---- */

static bool has_key(const struct pc_tval *t, const char *key)
{
    for (size_t i = 0; t && t->kind == PC_TV_MAP && i < t->len; i++)
        if (!strcmp(t->keys[i], key))
            return true;
    return false;
}

void pc_check_schema_inputs(struct pc_build *b, const struct pc_step *s,
                            const struct pc_schema_inputs *w)
{
    const struct pc_tval *args = s->kind == PC_STEP_TOOL && !s->inputs
                                     ? s->with
                                     : s->inputs;
    if (args && args->kind != PC_TV_MAP)
        return;
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(w->schema, "required");
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(w->schema,
                                                          "properties");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(
        w->schema, "additionalProperties");
    for (const cJSON *r = cJSON_IsArray(req) ? req->child : NULL; r;
         r = r->next) {
        if (!cJSON_IsString(r) || has_key(args, r->valuestring) ||
            cJSON_GetObjectItemCaseSensitive(w->defaults, r->valuestring))
            continue;
        struct pc_diag *d = pc_report(b->ctx, PC_D_MISSING_INPUT, w->loc,
                                      "step '%s' gives no input '%s', which "
                                      "%s requires",
                                      s->id, r->valuestring, w->what);
        const char *given[64];
        size_t ngiven = 0;
        for (size_t i = 0; args && i < args->len && ngiven < 64; i++)
            if (!cJSON_GetObjectItemCaseSensitive(props, args->keys[i]))
                given[ngiven++] = args->keys[i];
        const char *near = pc_closest(r->valuestring, given, ngiven);
        if (near)
            pc_note(b->ctx, d, NOLOC, "'%s' is given: did you mean '%s'?",
                    near, r->valuestring);
        else
            pc_note(b->ctx, d, NOLOC, "add it under '%s:' of the step",
                    args == s->with && args ? "with" : "inputs");
    }
    bool closed = cJSON_IsObject(props) &&
                  (extra ? cJSON_IsFalse(extra) : w->closed_by_default);
    const struct pc_node *in = s->node ? pc_map_get(s->node,
                                                    args == s->with && args
                                                        ? "with"
                                                        : "inputs")
                                       : NULL;
    const char *names[64];
    size_t nnames = 0;
    for (const cJSON *c = closed ? props->child : NULL; c && nnames < 64;
         c = c->next)
        names[nnames++] = c->string;
    for (size_t i = 0; closed && in && in->kind == PC_NODE_MAP && i < in->len;
         i++) {
        const struct pc_node *k = in->pairs[i].key;
        if (cJSON_GetObjectItemCaseSensitive(props, k->str))
            continue;
        struct pc_diag *d = pc_report(b->ctx, PC_D_UNKNOWN_INPUT, k->loc,
                                      "input '%s' is not in the input schema "
                                      "of %s",
                                      k->str, w->what);
        const char *near = pc_closest(k->str, names, nnames);
        if (near)
            pc_note(b->ctx, d, NOLOC, "did you mean '%s'?", near);
    }
}

void pc_check_prompt_inputs(struct pc_build *b, const struct pc_step *s)
{
    const struct pc_prompt *p = s->prompt_def;
    if (!p || !p->input_schema || (s->inputs && s->inputs->kind != PC_TV_MAP))
        return;
    cJSON *schema = cJSON_Parse(p->input_schema);
    cJSON *defs = p->input_default ? cJSON_Parse(p->input_default) : NULL;
    char what[96];
    snprintf(what, sizeof what, "prompt file '%.60s'", p->name);
    /* Picoschema objects are closed unless they say otherwise */
    struct pc_schema_inputs w = {schema, defs, what, s->prompt_file_loc, true};
    pc_check_schema_inputs(b, s, &w);
    cJSON_Delete(schema);
    cJSON_Delete(defs);
}

/* ---- a prompt file alone ---- */

int pc_lint_prompt(struct pc_ctx *ctx, struct pc_catalog *cat,
                   const char *path)
{
    unsigned errors = ctx->nerrors;
    struct pc_build b = {0};
    struct pc_workflow *wf = pr_arena_alloc(&ctx->arena, sizeof *wf);
    if (!wf) {
        pc_oom(ctx);
        return -1;
    }
    const char *slash = strrchr(path, '/');
    b.ctx = ctx;
    b.cat = cat;
    b.wf = wf;
    b.dir = pc_dir_of(ctx, path);
    b.root = pc_canonical(ctx, b.dir);
    b.prompt_alone = true;
    wf->path = path;
    const void *scope = cat->scope;
    cat->scope = wf;
    load_prompt(&b, slash ? slash + 1 : path, path, NOLOC);
    cat->scope = scope;
    return ctx->nerrors == errors && !ctx->oom ? 0 : -1;
}
