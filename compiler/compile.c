/* compile.c -- one workflow file from source to checked IR
 *
 * Reads and parses the file, runs the reading and analysis passes, and
 * records every file the result depends on.  Then come the sub-workflows
 * its steps name, compiled the same way into the same context (so their
 * diagnostics carry their own file names), once per run however many
 * steps name them, for the plan writer to embed.  A file that names
 * itself, directly or through others, is an error naming the chain, and so
 * is nesting deeper than a plan may embed plans.
 */
#include "compile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

#define NOLOC ((struct pc_loc){0, 0, 0})

/* A file compiled in this run. */
struct unit {
    const char *real; /* canonical path, or the path as given */
    struct pc_workflow *wf;
    unsigned height; /* levels of sub-workflows below it */
};

/* One pc_compile_source: the files done, and the chain in progress. */
struct session {
    struct pc_ctx *ctx;
    struct pc_catalog *cat;
    const char *top_dir; /* canonical directory of the main file */
    struct unit *done;
    size_t ndone, capdone;
    const char **chain; /* canonical paths, the main file first */
    size_t nchain, capchain;
};

/* The workflow id a file gets when it declares none: its base name with
 * the extension dropped and other characters turned into '_'. */
static const char *default_id(struct pc_ctx *ctx, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        n = (size_t)(dot - base);
    char *id = pr_arena_strndup(&ctx->arena, base, n);
    if (!id)
        return "workflow";
    for (char *p = id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            *p = '_';
    if (!*id || (*id >= '0' && *id <= '9') || *id == '-')
        return pr_arena_printf(&ctx->arena, "w_%s", id);
    return id;
}

const char *pc_dir_of(struct pc_ctx *ctx, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *d = !slash ? "."
                           : pr_arena_strndup(
                                 &ctx->arena, path,
                                 slash == path ? 1 : (size_t)(slash - path));
    if (!d)
        pc_oom(ctx);
    return d ? d : ".";
}

/* ---- the chain of sub-workflows ---- */

const char *pc_canonical(struct pc_ctx *ctx, const char *path)
{
    char *r = realpath(path, NULL);
    const char *out = r ? pr_arena_strdup(&ctx->arena, r) : NULL;
    if (r ? !out : errno == ENOMEM)
        pc_oom(ctx);
    free(r);
    return out ? out : path;
}

/* A canonical path as the user knows it: relative to the main file's
 * directory (canonical too). */
static const char *shown(const struct session *ss, const char *real)
{
    const char *dir = ss->top_dir;
    if (real[0] != '/' || dir[0] != '/')
        return real;
    size_t common = 1, i = 0;
    for (; dir[i] && dir[i] == real[i]; i++)
        if (real[i] == '/')
            common = i + 1;
    if (!dir[i] && (real[i] == '/' || !dir[1]))
        return real + i + (real[i] == '/');
    unsigned up = 1;
    for (const char *p = dir + common; *p; p++)
        up += *p == '/';
    char *t = pr_arena_alloc(&ss->ctx->arena,
                             3 * up + strlen(real + common) + 1);
    if (!t)
        return real;
    for (unsigned k = 0; k < up; k++)
        memcpy(t + 3 * k, "../", 3);
    strcpy(t + 3 * up, real + common);
    return t;
}

/* "a.poml -> b.poml -> LAST": the chain from entry FROM, then LAST. */
static const char *chain_text(const struct session *ss, size_t from,
                              const char *last)
{
    size_t n = strlen(shown(ss, last)) + 1;
    for (size_t i = from; i < ss->nchain; i++)
        n += strlen(shown(ss, ss->chain[i])) + 4;
    char *t = pr_arena_alloc(&ss->ctx->arena, n);
    if (!t)
        return "...";
    char *p = t;
    for (size_t i = from; i < ss->nchain; i++)
        p = stpcpy(stpcpy(p, shown(ss, ss->chain[i])), " -> ");
    strcpy(p, shown(ss, last));
    return t;
}

static const struct unit *find_unit(const struct session *ss, const char *real)
{
    for (size_t i = 0; i < ss->ndone; i++)
        if (!strcmp(ss->done[i].real, real))
            return &ss->done[i];
    return NULL;
}

/* Whether naming REAL (canonical) from step S closes a cycle; if so it is
 * reported. */
static bool is_cycle(struct session *ss, const struct pc_step *s,
                     const char *real)
{
    for (size_t i = 0; i < ss->nchain; i++)
        if (!strcmp(ss->chain[i], real)) {
            pc_report(ss->ctx, PC_D_SUB_WORKFLOW, s->workflow_loc,
                      "sub-workflow cycle: %s", chain_text(ss, i, real));
            return true;
        }
    return false;
}

/* Whether REAL, named at LEVEL with BELOW levels under it, is too deep; if
 * so it is reported. */
static bool too_deep(struct session *ss, const struct pc_step *s,
                     const char *real, unsigned level, unsigned below)
{
    if (level + below <= PR_PLAN_MAX_DEPTH)
        return false;
    struct pc_diag *d = pc_report(
        ss->ctx, PC_D_SUB_WORKFLOW, s->workflow_loc,
        "sub-workflows nested deeper than %d levels: '%s' here would reach "
        "level %u",
        PR_PLAN_MAX_DEPTH, s->workflow, level + below);
    if (below)
        pc_note(ss->ctx, d, NOLOC, "the chain: %s, and %u levels below it",
                chain_text(ss, 0, real), below);
    else
        pc_note(ss->ctx, d, NOLOC, "the chain: %s", chain_text(ss, 0, real));
    return true;
}

/* ---- compiling ---- */

static struct pc_workflow *compile_unit(struct session *ss,
                                        struct pc_source *src, unsigned level,
                                        unsigned *height);

/* The sub-workflow step S of B names, compiled at LEVEL (1 when the main
 * file names it), with the levels below it in *HEIGHT; NULL when it cannot
 * be, after saying why. */
static struct pc_workflow *compile_sub(struct session *ss, struct pc_build *b,
                                       const struct pc_step *s, unsigned level,
                                       unsigned *height)
{
    const char *path = pc_source_file(b, NULL, s->workflow, s->workflow_loc,
                                      "sub-workflow");
    if (!path)
        return NULL;
    const char *real = pc_canonical(ss->ctx, path);
    const struct unit *u = find_unit(ss, real);
    if (is_cycle(ss, s, real) ||
        too_deep(ss, s, real, level, u ? u->height : 0))
        return NULL;
    if (u) {
        *height = u->height;
        return u->wf;
    }
    struct pc_source *src = pc_ctx_read_source(ss->ctx, &ss->ctx->arena, path);
    if (!src) {
        struct pc_diag *d = pc_report(ss->ctx, PC_D_IMPORT, s->workflow_loc,
                                      "cannot read sub-workflow '%s'",
                                      s->workflow);
        if (!strncmp(s->workflow, "stdlib:", 7))
            pc_note(ss->ctx, d, NOLOC,
                    "'stdlib:NAME' is the standard library's "
                    "templates/NAME.poml, here '%s'",
                    path);
        return NULL;
    }
    return compile_unit(ss, src, level, height);
}

static bool has_sub(const struct pc_workflow *wf, const char *name)
{
    for (size_t i = 0; i < wf->nsubs; i++)
        if (!strcmp(wf->subs[i].name, name))
            return true;
    return false;
}

/* Every distinct sub-workflow B's steps name, one level below LEVEL; their
 * files become B's dependencies.  *HEIGHT: the levels below B. */
static void compile_subs(struct session *ss, struct pc_build *b,
                         unsigned level, unsigned *height)
{
    struct pc_workflow *wf = b->wf;
    *height = 0;
    for (size_t i = 0; i < wf->nsteps; i++) {
        const struct pc_step *s = &wf->steps[i];
        if (!s->workflow || has_sub(wf, s->workflow))
            continue;
        struct pc_sub *sub = PR_PUSH(&ss->ctx->arena, wf->subs, wf->nsubs,
                                     wf->capsubs);
        if (!sub) {
            pc_oom(ss->ctx);
            return;
        }
        unsigned h = 0;
        sub->name = s->workflow;
        sub->wf = compile_sub(ss, b, s, level + 1, &h);
        for (size_t k = 0; sub->wf && k < sub->wf->ndeps_files; k++)
            pc_add_file(b, sub->wf->deps_files[k]);
        if (sub->wf && h + 1 > *height)
            *height = h + 1;
    }
}

/* Reads and analyses one file. */
static struct pc_workflow *read_unit(struct pc_ctx *ctx,
                                     struct pc_catalog *cat,
                                     struct pc_source *src, struct pc_build *b)
{
    const char *path = src->path;
    unsigned errors_before = ctx->nerrors;
    uint32_t file = pc_ctx_add_source(ctx, src);
    if (!file)
        return NULL;
    struct pc_node *root = pc_yaml_parse(ctx, file);
    if (!root)
        return NULL;
    struct pc_workflow *wf = pr_arena_alloc(&ctx->arena, sizeof *wf);
    if (!wf) {
        pc_oom(ctx);
        return NULL;
    }
    b->ctx = ctx;
    b->cat = cat;
    b->wf = wf;
    b->root_loc = (struct pc_loc){file, 0, 0};
    b->errors_at_start = errors_before;
    b->dir = pc_dir_of(ctx, path);
    wf->path = path;
    pc_add_file(b, path);

    const void *scope = cat->scope;
    cat->scope = wf;
    pc_read_workflow(b, root);
    if (!wf->id)
        wf->id = default_id(ctx, path);
    if (wf->nsteps || root->kind == PC_NODE_MAP)
        pc_analyze(b);
    cat->scope = scope;
    for (size_t i = 0; i < cat->nfiles; i++)
        pc_add_file(b, cat->files[i]);
    return wf;
}

/* One file at LEVEL of the chain, then its sub-workflows. */
static struct pc_workflow *compile_unit(struct session *ss,
                                        struct pc_source *src, unsigned level,
                                        unsigned *height)
{
    struct pc_build b = {0};
    if (level == 0)
        ss->top_dir = pc_canonical(ss->ctx, pc_dir_of(ss->ctx, src->path));
    b.root = ss->top_dir; /* sub-workflows read in the main file's tree */
    struct pc_workflow *wf = read_unit(ss->ctx, ss->cat, src, &b);
    *height = 0;
    if (!wf)
        return NULL;
    const char *real = pc_canonical(ss->ctx, src->path);
    const char **link = PR_PUSH(&ss->ctx->arena, ss->chain, ss->nchain,
                                ss->capchain);
    if (!link) {
        pc_oom(ss->ctx);
        return wf;
    }
    *link = real;
    compile_subs(ss, &b, level, height);
    pc_types_check_subs(&b);
    ss->nchain--;
    struct unit *u = PR_PUSH(&ss->ctx->arena, ss->done, ss->ndone,
                             ss->capdone);
    if (u)
        *u = (struct unit){real, wf, *height};
    else
        pc_oom(ss->ctx);
    return wf;
}

int pc_compile(struct pc_ctx *ctx, struct pc_catalog *cat, const char *path,
               struct pc_workflow **out)
{
    *out = NULL;
    struct pc_source *src = pc_ctx_read_source(ctx, &ctx->arena, path);
    if (!src) {
        pc_report(ctx, PC_D_IMPORT, (struct pc_loc){0, 0, 0},
                  "cannot read '%s': no such file or not readable", path);
        return -1;
    }
    return pc_compile_source(ctx, cat, src, out);
}

int pc_compile_source(struct pc_ctx *ctx, struct pc_catalog *cat,
                      struct pc_source *src, struct pc_workflow **out)
{
    unsigned errors_before = ctx->nerrors;
    struct session ss = {.ctx = ctx, .cat = cat};
    unsigned height;
    *out = compile_unit(&ss, src, 0, &height);
    return *out && ctx->nerrors == errors_before && !ctx->oom ? 0 : -1;
}
