/* compile.c -- one workflow file from source to checked IR
 *
 * Reads and parses the file, runs the reading and analysis passes, and
 * records every file the result depends on.
 */
#include "compile.h"

#include <stdlib.h>
#include <string.h>

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

int pc_compile(struct pc_ctx *ctx, struct pc_catalog *cat, const char *path,
               struct pc_workflow **out)
{
    *out = NULL;
    struct pc_source *src = pc_source_read(&ctx->arena, path);
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
    const char *path = src->path;
    *out = NULL;
    uint32_t file = pc_ctx_add_source(ctx, src);
    if (!file)
        return -1;
    struct pc_node *root = pc_yaml_parse(ctx, file);
    if (!root)
        return -1;

    struct pc_workflow *wf = pr_arena_alloc(&ctx->arena, sizeof *wf);
    if (!wf) {
        pc_oom(ctx);
        return -1;
    }
    struct pc_build b = {0};
    b.ctx = ctx;
    b.cat = cat;
    b.wf = wf;
    b.root_loc = (struct pc_loc){file, 0, 0};
    b.errors_at_start = errors_before;
    const char *slash = strrchr(path, '/');
    b.dir = slash ? pr_arena_strndup(&ctx->arena, path,
                                     (size_t)(slash - path ? slash - path
                                                           : 1))
                  : ".";
    wf->path = path;
    pc_add_file(&b, path);

    pc_read_workflow(&b, root);
    if (!wf->id)
        wf->id = default_id(ctx, path);
    if (wf->nsteps || root->kind == PC_NODE_MAP)
        pc_analyze(&b);
    for (size_t i = 0; i < cat->nfiles; i++)
        pc_add_file(&b, cat->files[i]);
    *out = wf;
    return ctx->nerrors == errors_before && !ctx->oom ? 0 : -1;
}
