/* fuzz_yaml.c -- libFuzzer entry for the YAML front end
 *
 * Parses arbitrary bytes, prints the diagnostics to /dev/null (so the line
 * map and the caret lines run too), walks the tree through the reader
 * helpers and frees everything.  Besides the sanitizers it traps on broken
 * invariants: every location inside the source (a diagnostic may point just
 * past its end), exact scalars equal to the bytes they point at.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static void check_loc(const struct pc_loc *l, size_t size)
{
    if (l->off > size || l->len > size - l->off)
        __builtin_trap();
}

static void walk(const struct pc_node *n, const uint8_t *data, size_t size,
                 int depth)
{
    if (!n || depth > 2 * PC_YAML_MAX_DEPTH + 4)
        __builtin_trap();
    check_loc(&n->loc, size);
    switch (n->kind) {
    case PC_NODE_NULL:
        break;
    case PC_NODE_SCALAR: {
        if (!n->str || n->str[n->len] != '\0')
            __builtin_trap();
        if (n->exact &&
            (n->content_off > size || n->len > size - n->content_off ||
             memcmp(data + n->content_off, n->str, n->len)))
            __builtin_trap();
        bool b;
        long long i;
        double d;
        (void)pc_scalar_null(n);
        (void)pc_scalar_bool(n, &b);
        (void)pc_scalar_int(n, &i);
        (void)pc_scalar_float(n, &d);
        struct pc_loc l = pc_node_subloc(n, n->len / 2, n->len - n->len / 2);
        check_loc(&l, size);
        break;
    }
    case PC_NODE_SEQ:
        for (size_t k = 0; k < n->len; k++)
            walk(n->items[k], data, size, depth + 1);
        break;
    case PC_NODE_MAP:
        for (size_t k = 0; k < n->len; k++) {
            const struct pc_node *key = n->pairs[k].key;
            if (!key || key->kind != PC_NODE_SCALAR)
                __builtin_trap();
            walk(key, data, size, depth + 1);
            walk(n->pairs[k].value, data, size, depth + 1);
            if (pc_map_get(n, key->str) == NULL)
                __builtin_trap();
        }
        break;
    }
    (void)pc_node_kind_name(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    struct pc_ctx ctx;
    pc_ctx_init(&ctx);
    struct pc_source *s = pc_source_from_mem(&ctx.arena, "fuzz.yaml",
                                             (const char *)data, size);
    if (s) {
        uint32_t file = pc_ctx_add_source(&ctx, s);
        struct pc_node *root = pc_yaml_parse(&ctx, file);
        if (root && ctx.nerrors == 0)
            walk(root, data, size, 0);
        /* a diagnostic may point at the end of the file (off == size) */
        for (size_t k = 0; k < ctx.ndiags; k++)
            check_loc(&ctx.diags[k].loc, size + 1);
        if (devnull)
            pc_diag_flush(&ctx, devnull);
    }
    pc_ctx_free(&ctx);
    return 0;
}
