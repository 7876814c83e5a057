/* yaml_dump.c -- prints the node tree of a YAML file as JSON
 *
 * Every scalar is printed as its decoded string and an empty value as "",
 * which is what PyYAML's BaseLoader gives, so tests/yaml/compare.sh can
 * check the parser against PyYAML on the same files.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"
#include "yaml.h"

static cJSON *to_json(const struct pc_node *n)
{
    switch (n->kind) {
    case PC_NODE_NULL:
        return cJSON_CreateString("");
    case PC_NODE_SCALAR:
        return cJSON_CreateString(n->str);
    case PC_NODE_SEQ: {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n->len; i++)
            cJSON_AddItemToArray(a, to_json(n->items[i]));
        return a;
    }
    case PC_NODE_MAP: {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; i < n->len; i++)
            cJSON_AddItemToObject(o, n->pairs[i].key->str,
                                  to_json(n->pairs[i].value));
        return o;
    }
    }
    return cJSON_CreateNull();
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: yaml_dump FILE\n", stderr);
        return 2;
    }
    struct pc_ctx ctx;
    pc_ctx_init(&ctx);
    struct pc_source *s = pc_source_read(&ctx.arena, argv[1]);
    if (!s) {
        perror(argv[1]);
        return 2;
    }
    struct pc_node *root = pc_yaml_parse(&ctx, pc_ctx_add_source(&ctx, s));
    int rc = ctx.nerrors ? 1 : 0;
    pc_diag_flush(&ctx, stderr);
    if (root && !rc) {
        cJSON *j = to_json(root);
        char *txt = cJSON_PrintUnformatted(j);
        puts(txt);
        free(txt);
        cJSON_Delete(j);
    }
    pc_ctx_free(&ctx);
    return rc;
}
