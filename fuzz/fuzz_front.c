/* fuzz_front.c -- libFuzzer harness for the whole compiler front end
 *
 * Each input is compiled as a workflow (YAML, expressions, arrow syntax,
 * analysis) against a small catalog written once to a temporary directory;
 * when it compiles, the plan is emitted, loaded back and every step is
 * read, so the writer and the loader agree on whatever the front end
 * accepts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compile.h"
#include "emit.h"
#include "plan.h"

static char dir[] = "/tmp/poml-fuzz-XXXXXX";
static FILE *devnull;

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!mkdtemp(dir))
        abort();
    devnull = fopen("/dev/null", "w");
    put("models.poml",
        "providers:\n  p: {protocol: openai, base_url: http://127.0.0.1,"
        " api_key_env: K}\n"
        "models:\n  m: {provider: p, context_window: 1000,"
        " max_output_tokens: 100, aliases: [mm]}\n"
        "  gpt-4o: {provider: p}\n"
        "capabilities:\n  code_analysis: {models: [m]}\n");
    put("commands.poml",
        "agents:\n  /query: {capability: code_analysis, system: hi}\n");
    put("tools.poml",
        "servers:\n  s: {command: [true]}\ntools:\n  t: {server: s}\n");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    struct pc_ctx ctx;
    pc_ctx_init(&ctx);
    ctx.opts.max_errors = 0;
    struct pc_catalog cat;
    pc_catalog_init(&cat, dir);
    char name[300];
    snprintf(name, sizeof name, "%s/input.poml", dir);
    struct pc_source *src = pc_source_from_mem(&ctx.arena, name,
                                               (const char *)data, size);
    struct pc_workflow *wf = NULL;
    if (src && pc_compile_source(&ctx, &cat, src, &wf) == 0 && wf) {
        uint8_t *img;
        size_t n;
        char why[128];
        if (pc_emit_plan(&ctx, &cat, wf, &img, &n, why, sizeof why) == 0) {
            struct pr_plan p;
            char err[256];
            if (pr_plan_load_mem(&p, img, n, err, sizeof err) < 0) {
                fprintf(stderr, "emitted plan rejected: %s\n", err);
                abort();
            }
            for (uint32_t i = 0; i < p.nsteps; i++) {
                struct pr_step s;
                pr_plan_step(&p, i, &s);
            }
            pr_plan_close(&p);
            free(img);
        }
    }
    pc_diag_flush(&ctx, devnull);
    pc_ctx_free(&ctx);
    return 0;
}
