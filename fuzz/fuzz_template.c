/* fuzz_template.c -- libFuzzer harness for prompt files and templates
 *
 * Each input is read twice.  As a prompt file: frontmatter, Picoschema and
 * template compiled (every partial it names resolved to itself, so
 * recursion is exercised); when it compiles, the code must pass the
 * checker (abort() otherwise: the compiler and the checker disagree), and
 * it is rendered over a fixed context and split into messages.  As
 * compiled code: the raw bytes go to the checker, the disassembler and the
 * renderer, which must fail cleanly.  Build: build-front.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "handlebars.h"
#include "ir.h"
#include "prompt_file.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;
static cJSON *context;

static uint32_t self_index(void *ud, void *target)
{
    (void)ud;
    (void)target;
    return 0;
}

static int one_code(void *ud, uint32_t i, const uint8_t **code, size_t *len)
{
    const struct pr_buf *b = ud;
    if (i != 0)
        return -1;
    *code = b->data;
    *len = b->len;
    return 0;
}

static void render(const uint8_t *code, size_t len, struct pr_buf *self)
{
    struct pr_tpl_set set = {one_code, self};
    struct pr_tpl_opts o = {.max_work = 20000, .max_output = 1 << 16};
    struct pr_tpl_out out;
    char err[256];
    pr_tpl_out_init(&out);
    if (pr_tpl_render(code, len, &set, context, &o, &out, err, sizeof err) ==
        0) {
        cJSON *m = pr_tpl_messages(&out, cJSON_GetObjectItem(context, "h"));
        cJSON_Delete(m);
    } else if (!err[0]) {
        abort(); /* every failure must say why */
    }
    pr_tpl_out_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        context = cJSON_Parse(
            "{\"a\":1,\"s\":\"x\",\"l\":[1,\"two\",{\"k\":[]}],"
            "\"o\":{\"p\":{\"q\":null},\"t\":true},\"role\":\"user\","
            "\"h\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}");
        if (!devnull || !context)
            abort();
    }
    /* as a prompt file */
    struct pc_ctx ctx;
    pc_ctx_init(&ctx);
    struct pc_source *src = pc_source_from_mem(&ctx.arena, "f.md",
                                               (const char *)data, size);
    struct pc_prompt p = {.name = "f.md"};
    if (src && pc_prompt_parse(&ctx, src, &p, NULL) == 0 && !ctx.nerrors &&
        !ctx.oom) {
        struct pr_buf code;
        char err[256];
        pr_buf_init(&code);
        for (size_t i = 0; i < p.tpl->npartials; i++)
            p.tpl->partials[i].target = &p;
        if (pc_tpl_encode(p.tpl, self_index, NULL, &code) < 0)
            abort();
        if (pr_tpl_verify(code.data, code.len, 1, err, sizeof err) < 0) {
            fprintf(stderr, "compiled code rejected: %s\n", err);
            abort();
        }
        pr_tpl_disasm(code.data, code.len, devnull);
        render(code.data, code.len, &code);
        pr_buf_free(&code);
    }
    pc_diag_flush(&ctx, devnull);
    pc_ctx_free(&ctx);
    /* as compiled code */
    struct pr_buf raw = {(uint8_t *)(uintptr_t)data, size, size};
    char err[256];
    pr_tpl_verify(data, size, 1, err, sizeof err);
    pr_tpl_disasm(data, size, devnull);
    render(data, size, &raw);
    return 0;
}
