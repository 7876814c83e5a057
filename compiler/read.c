/* read.c -- typed reading of YAML nodes, with a diagnostic for each misfit
 *
 * The workflow reader and the catalog loader both use these, so a field of
 * the wrong type reads the same everywhere.
 */
#include "read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int pc_check_keys(struct pc_ctx *c, const struct pc_node *map,
                  const char *const *keys, const char *what)
{
    if (!map || map->kind != PC_NODE_MAP)
        return 0;
    size_t nkeys = 0;
    while (keys[nkeys])
        nkeys++;
    int bad = 0;
    for (size_t i = 0; i < map->len; i++) {
        const struct pc_node *k = map->pairs[i].key;
        size_t j;
        for (j = 0; j < nkeys; j++)
            if (strcmp(k->str, keys[j]) == 0)
                break;
        if (j < nkeys)
            continue;
        bad++;
        struct pc_diag *d = pc_report(c, PC_D_UNKNOWN_KEY, k->loc,
                                      "unknown key '%s' in %s", k->str, what);
        const char *near = pc_closest(k->str, keys, nkeys);
        if (near)
            pc_note(c, d, (struct pc_loc){0, 0, 0}, "did you mean '%s'?",
                    near);
    }
    return bad;
}

static const char *kind_word(enum pc_node_kind k)
{
    switch (k) {
    case PC_NODE_SEQ:
        return "a list";
    case PC_NODE_MAP:
        return "a mapping";
    case PC_NODE_SCALAR:
        return "a scalar";
    default:
        return "null";
    }
}

bool pc_want_kind(struct pc_ctx *c, const struct pc_node *n,
                  enum pc_node_kind kind, const char *field)
{
    if (n && n->kind == kind)
        return true;
    pc_report(c, PC_D_WRONG_TYPE, n ? n->loc : (struct pc_loc){0, 0, 0},
              "'%s' must be %s, not %s", field, kind_word(kind),
              pc_node_kind_name(n));
    return false;
}

const char *pc_get_str(struct pc_ctx *c, const struct pc_node *n,
                       const char *field)
{
    if (n && n->kind == PC_NODE_SCALAR)
        return n->str;
    pc_report(c, PC_D_WRONG_TYPE, n ? n->loc : (struct pc_loc){0, 0, 0},
              "'%s' must be a string, not %s", field, pc_node_kind_name(n));
    return NULL;
}

const struct pc_node *pc_get_map(struct pc_ctx *c, const struct pc_node *map,
                                 const char *key)
{
    const struct pc_node *v = pc_map_get(map, key);
    return v && pc_want_kind(c, v, PC_NODE_MAP, key) ? v : NULL;
}

int pc_get_bool(struct pc_ctx *c, const struct pc_node *n, const char *field,
                bool *out)
{
    if (pc_scalar_bool(n, out) == 0)
        return 0;
    pc_report(c, PC_D_WRONG_TYPE, n ? n->loc : (struct pc_loc){0, 0, 0},
              "'%s' must be true or false, not %s%s%s", field,
              n && n->kind == PC_NODE_SCALAR ? "'" : "",
              n && n->kind == PC_NODE_SCALAR ? n->str : pc_node_kind_name(n),
              n && n->kind == PC_NODE_SCALAR ? "'" : "");
    return -1;
}

int pc_get_uint(struct pc_ctx *c, const struct pc_node *n, const char *field,
                uint64_t max, uint64_t *out)
{
    long long v;
    if (pc_scalar_int(n, &v) == 0 && v >= 0 && (uint64_t)v <= max) {
        *out = (uint64_t)v;
        return 0;
    }
    if (pc_scalar_int(n, &v) == 0)
        pc_report(c, PC_D_BAD_VALUE, n->loc,
                  "'%s' must be between 0 and %llu, not %lld", field,
                  (unsigned long long)max, v);
    else
        pc_report(c, PC_D_WRONG_TYPE, n ? n->loc : (struct pc_loc){0, 0, 0},
                  "'%s' must be a whole number, not %s%s%s", field,
                  n && n->kind == PC_NODE_SCALAR ? "'" : "",
                  n && n->kind == PC_NODE_SCALAR ? n->str
                                                 : pc_node_kind_name(n),
                  n && n->kind == PC_NODE_SCALAR ? "'" : "");
    return -1;
}

int pc_get_num(struct pc_ctx *c, const struct pc_node *n, const char *field,
               double *out)
{
    long long v;
    if (pc_scalar_int(n, &v) == 0) {
        *out = (double)v;
        return 0;
    }
    if (pc_scalar_float(n, out) == 0 && isfinite(*out))
        return 0;
    pc_report(c, PC_D_WRONG_TYPE, n ? n->loc : (struct pc_loc){0, 0, 0},
              "'%s' must be a number, not %s%s%s", field,
              n && n->kind == PC_NODE_SCALAR ? "'" : "",
              n && n->kind == PC_NODE_SCALAR ? n->str : pc_node_kind_name(n),
              n && n->kind == PC_NODE_SCALAR ? "'" : "");
    return -1;
}

int pc_parse_duration(const char *s, double *out)
{
    double total = 0;
    bool any = false;
    while (*s) {
        char *end;
        if (!(*s >= '0' && *s <= '9') && *s != '.')
            return -1;
        double v = strtod(s, &end);
        if (end == s || !isfinite(v) || v < 0)
            return -1;
        s = end;
        double unit;
        if (strncmp(s, "ms", 2) == 0) {
            unit = 0.001;
            s += 2;
        } else if (*s == 's') {
            unit = 1;
            s++;
        } else if (*s == 'm') {
            unit = 60;
            s++;
        } else if (*s == 'h') {
            unit = 3600;
            s++;
        } else if (*s == 'd') {
            unit = 86400;
            s++;
        } else {
            return -1;
        }
        total += v * unit;
        any = true;
    }
    if (!any)
        return -1;
    *out = total;
    return 0;
}

int pc_get_duration(struct pc_ctx *c, const struct pc_node *n,
                    const char *field, double *out)
{
    long long iv;
    double v;
    if (pc_scalar_int(n, &iv) == 0 && iv >= 0) {
        *out = (double)iv;
        return 0;
    }
    if (pc_scalar_float(n, &v) == 0 && isfinite(v) && v >= 0) {
        *out = v;
        return 0;
    }
    if (n && n->kind == PC_NODE_SCALAR && pc_parse_duration(n->str, out) == 0)
        return 0;
    pc_report(c, PC_D_WRONG_TYPE, n ? n->loc : (struct pc_loc){0, 0, 0},
              "'%s' must be a number of seconds or a duration such as "
              "30s, 5m or 1h, not %s%s%s",
              field, n && n->kind == PC_NODE_SCALAR ? "'" : "",
              n && n->kind == PC_NODE_SCALAR ? n->str : pc_node_kind_name(n),
              n && n->kind == PC_NODE_SCALAR ? "'" : "");
    return -1;
}

const char **pc_get_str_list(struct pc_ctx *c, const struct pc_node *n,
                             const char *field, size_t *count,
                             struct pc_loc **locs)
{
    *count = 0;
    if (locs)
        *locs = NULL;
    if (!n || n->kind == PC_NODE_NULL)
        return NULL;
    size_t len = n->kind == PC_NODE_SEQ ? n->len : 1;
    const char **out = pr_arena_alloc(&c->arena, (len + 1) * sizeof *out);
    struct pc_loc *l = pr_arena_alloc(&c->arena, (len + 1) * sizeof *l);
    if (!out || !l) {
        pc_oom(c);
        return NULL;
    }
    if (n->kind == PC_NODE_SCALAR) {
        out[0] = n->str;
        l[0] = n->loc;
        *count = 1;
    } else if (n->kind == PC_NODE_SEQ) {
        size_t k = 0;
        for (size_t i = 0; i < n->len; i++) {
            const struct pc_node *it = n->items[i];
            if (it->kind != PC_NODE_SCALAR) {
                pc_report(c, PC_D_WRONG_TYPE, it->loc,
                          "each entry of '%s' must be a string, not %s", field,
                          pc_node_kind_name(it));
                continue;
            }
            l[k] = it->loc;
            out[k++] = it->str;
        }
        *count = k;
    } else {
        pc_report(c, PC_D_WRONG_TYPE, n->loc,
                  "'%s' must be a list of strings, not %s", field,
                  pc_node_kind_name(n));
        return NULL;
    }
    if (locs)
        *locs = l;
    return out;
}

bool pc_is_ident(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return false;
    return true;
}

void pc_not_implemented(struct pc_ctx *c, const struct pc_node *map,
                        const char *key, const char *why)
{
    for (size_t i = 0; map && map->kind == PC_NODE_MAP && i < map->len; i++)
        if (!strcmp(map->pairs[i].key->str, key)) {
            pc_report(c, PC_D_NOT_IMPLEMENTED, map->pairs[i].key->loc,
                      "'%s' is accepted but %s", key, why);
            return;
        }
}
