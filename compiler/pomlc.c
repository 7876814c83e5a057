/* pomlc.c -- command line of the workflow compiler */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "yaml.h"

int main(int argc, char **argv)
{
    struct pc_ctx ctx;
    pc_ctx_init(&ctx);
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct pc_source *s = pc_source_read(&ctx.arena, argv[i]);
        if (!s) {
            perror(argv[i]);
            rc = 1;
            continue;
        }
        uint32_t f = pc_ctx_add_source(&ctx, s);
        pc_yaml_parse(&ctx, f);
    }
    pc_diag_flush(&ctx, stderr);
    if (ctx.nerrors)
        rc = 1;
    pc_ctx_free(&ctx);
    return rc;
}
