/* types.c -- the type lattice: constructors, join, narrowing, printing and
 * types from JSON Schema (types.h)
 */
#include "types.h"

#include <stdio.h>
#include <string.h>

const struct pc_ty pc_ty_any = {.kind = PC_TY_ANY};
const struct pc_ty pc_ty_null = {.kind = PC_TY_NULL};
const struct pc_ty pc_ty_boolean = {.kind = PC_TY_BOOLEAN};
const struct pc_ty pc_ty_integer = {.kind = PC_TY_INTEGER};
const struct pc_ty pc_ty_number = {.kind = PC_TY_NUMBER};
const struct pc_ty pc_ty_string = {.kind = PC_TY_STRING};
const struct pc_ty pc_ty_any_array = {.kind = PC_TY_ARRAY, .elem = &pc_ty_any};
const struct pc_ty pc_ty_open_object = {.kind = PC_TY_OBJECT, .open = true};

/* Nesting deeper than this is any (schemas are finite, but deep). */
#define TY_MAX_DEPTH 32

static struct pc_ty *new_ty(struct pr_arena *a, enum pc_tykind k)
{
    struct pc_ty *t = pr_arena_alloc(a, sizeof *t);
    if (t) {
        memset(t, 0, sizeof *t);
        t->kind = k;
    }
    return t;
}

const struct pc_ty *pc_ty_array(struct pr_arena *a, const struct pc_ty *elem)
{
    if (!elem || elem->kind == PC_TY_ANY)
        return &pc_ty_any_array;
    struct pc_ty *t = new_ty(a, PC_TY_ARRAY);
    if (t)
        t->elem = elem;
    return t;
}

static bool has_str(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return true;
    return false;
}

const struct pc_ty *pc_ty_enum(struct pr_arena *a, const char *const *vals,
                               size_t n)
{
    struct pc_ty *t = new_ty(a, PC_TY_STRING);
    const char **v = pr_arena_alloc(a, (n + 1) * sizeof *v);
    if (!t || !v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!has_str(v, k, vals[i]))
            v[k++] = vals[i];
    t->enumv = v;
    t->nenum = k;
    /* enumv set with nenum 0: an empty narrowing, no value at all */
    return t;
}

const struct pc_ty *pc_ty_object(struct pr_arena *a, const char *const *names,
                                 const struct pc_ty *const *types, size_t n,
                                 bool open)
{
    if (n == 0 && open)
        return &pc_ty_open_object;
    struct pc_ty *t = new_ty(a, PC_TY_OBJECT);
    const char **nm = pr_arena_alloc(a, (n + 1) * sizeof *nm);
    const struct pc_ty **ty = pr_arena_alloc(a, (n + 1) * sizeof *ty);
    if (!t || !nm || !ty)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        nm[i] = names[i];
        ty[i] = types[i] ? types[i] : &pc_ty_any;
    }
    t->names = nm;
    t->fields = ty;
    t->nfields = n;
    t->open = open;
    return t;
}

static bool is_enum(const struct pc_ty *t)
{
    return t->kind == PC_TY_STRING && t->enumv;
}

const struct pc_ty *pc_ty_join(struct pr_arena *a, const struct pc_ty *x,
                               const struct pc_ty *y)
{
    if (!x || !y)
        return NULL;
    if (x == y)
        return x;
    if (x->kind == PC_TY_ANY || y->kind == PC_TY_ANY)
        return &pc_ty_any;
    if (pc_ty_is_numeric(x) && pc_ty_is_numeric(y))
        return x->kind == PC_TY_INTEGER && y->kind == PC_TY_INTEGER
                   ? &pc_ty_integer
                   : &pc_ty_number;
    if (x->kind != y->kind)
        return &pc_ty_any;
    switch (x->kind) {
    case PC_TY_STRING: {
        if (!is_enum(x) || !is_enum(y))
            return &pc_ty_string;
        const char **v = pr_arena_alloc(a,
                                        (x->nenum + y->nenum + 1) * sizeof *v);
        if (!v)
            return NULL;
        size_t n = 0;
        for (size_t i = 0; i < x->nenum; i++)
            v[n++] = x->enumv[i];
        for (size_t i = 0; i < y->nenum; i++)
            v[n++] = y->enumv[i];
        return pc_ty_enum(a, v, n);
    }
    case PC_TY_ARRAY:
        return pc_ty_array(a, pc_ty_join(a, x->elem, y->elem));
    case PC_TY_OBJECT: {
        const char **nm = pr_arena_alloc(a, (x->nfields + 1) * sizeof *nm);
        const struct pc_ty **ty = pr_arena_alloc(a, (x->nfields + 1) *
                                                        sizeof *ty);
        if (!nm || !ty)
            return NULL;
        size_t n = 0;
        bool open = x->open || y->open || x->nfields != y->nfields;
        for (size_t i = 0; i < x->nfields; i++) {
            size_t j;
            for (j = 0; j < y->nfields; j++)
                if (!strcmp(x->names[i], y->names[j]))
                    break;
            if (j == y->nfields) {
                open = true;
                continue;
            }
            nm[n] = x->names[i];
            ty[n] = pc_ty_join(a, x->fields[i], y->fields[j]);
            if (!ty[n])
                return NULL;
            n++;
        }
        if (n != y->nfields)
            open = true;
        return pc_ty_object(a, nm, ty, n, open);
    }
    default:
        return x; /* null, boolean: the same */
    }
}

const struct pc_ty *pc_ty_narrow(struct pr_arena *a, const struct pc_ty *t,
                                 const char *const *vals, size_t n)
{
    if (!t || t->kind != PC_TY_STRING)
        return t;
    if (!is_enum(t))
        return pc_ty_enum(a, vals, n);
    const char **v = pr_arena_alloc(a, (t->nenum + 1) * sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < t->nenum; i++)
        if (has_str(vals, n, t->enumv[i]))
            v[k++] = t->enumv[i];
    return pc_ty_enum(a, v, k);
}

const struct pc_ty *pc_ty_elem(const struct pc_ty *t)
{
    if (t->kind == PC_TY_ANY)
        return &pc_ty_any;
    if (t->kind == PC_TY_ARRAY)
        return t->elem ? t->elem : &pc_ty_any;
    return NULL;
}

const struct pc_ty *pc_ty_field(const struct pc_ty *t, const char *name)
{
    if (t->kind == PC_TY_ANY)
        return &pc_ty_any;
    if (t->kind != PC_TY_OBJECT)
        return NULL;
    for (size_t i = 0; i < t->nfields; i++)
        if (!strcmp(t->names[i], name))
            return t->fields[i];
    return t->open ? &pc_ty_any : NULL;
}

bool pc_ty_enum_allows(const struct pc_ty *t, const char *s)
{
    return !is_enum(t) || has_str(t->enumv, t->nenum, s);
}

bool pc_ty_is_numeric(const struct pc_ty *t)
{
    return t->kind == PC_TY_INTEGER || t->kind == PC_TY_NUMBER;
}

bool pc_ty_assignable(const struct pc_ty *from, const struct pc_ty *to)
{
    if (from->kind == PC_TY_ANY || to->kind == PC_TY_ANY)
        return true;
    if (from->kind == PC_TY_INTEGER && to->kind == PC_TY_NUMBER)
        return true;
    if (from->kind != to->kind)
        return false;
    switch (to->kind) {
    case PC_TY_STRING:
        if (!is_enum(to))
            return true;
        if (!is_enum(from))
            return true; /* a plain string may hold a member: run time */
        for (size_t i = 0; i < from->nenum; i++)
            if (!has_str(to->enumv, to->nenum, from->enumv[i]))
                return false;
        return true;
    case PC_TY_ARRAY:
        return pc_ty_assignable(pc_ty_elem(from), pc_ty_elem(to));
    case PC_TY_OBJECT:
        for (size_t i = 0; i < to->nfields; i++) {
            const struct pc_ty *f = pc_ty_field(from, to->names[i]);
            if (f && !pc_ty_assignable(f, to->fields[i]))
                return false;
        }
        return true;
    default:
        return true;
    }
}

const char *pc_ty_kind_name(enum pc_tykind k)
{
    static const char *const names[] = {"any",     "null",   "boolean",
                                        "integer", "number", "string",
                                        "array",   "object"};
    return k <= PC_TY_OBJECT ? names[k] : "?";
}

/* ---- printing ---- */

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *s)
{
    size_t n = strlen(s);
    if (o->len + 1 < o->cap) {
        size_t room = o->cap - o->len - 1;
        memcpy(o->buf + o->len, s, n < room ? n : room);
        o->buf[o->len + (n < room ? n : room)] = '\0';
    }
    o->len += n;
}

static void print_ty(struct out *o, const struct pc_ty *t, int depth)
{
    if (depth > TY_MAX_DEPTH) {
        put(o, "...");
        return;
    }
    switch (t->kind) {
    case PC_TY_STRING:
        if (!is_enum(t)) {
            put(o, "string");
            break;
        }
        if (t->nenum == 0)
            put(o, "string (no value)");
        for (size_t i = 0; i < t->nenum; i++) {
            if (i)
                put(o, " | ");
            put(o, "'");
            put(o, t->enumv[i]);
            put(o, "'");
        }
        break;
    case PC_TY_ARRAY:
        put(o, "array<");
        print_ty(o, pc_ty_elem(t), depth + 1);
        put(o, ">");
        break;
    case PC_TY_OBJECT:
        if (t->nfields == 0) {
            put(o, t->open ? "object" : "{}");
            break;
        }
        put(o, "{");
        for (size_t i = 0; i < t->nfields; i++) {
            if (i)
                put(o, ", ");
            put(o, t->names[i]);
            put(o, ": ");
            print_ty(o, t->fields[i], depth + 1);
        }
        put(o, t->open ? ", ...}" : "}");
        break;
    default:
        put(o, pc_ty_kind_name(t->kind));
    }
}

int pc_ty_print(const struct pc_ty *t, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    print_ty(&o, t, 0);
    return (int)o.len;
}

/* ---- from names and JSON Schema ---- */

const struct pc_ty *pc_ty_from_name(const char *name)
{
    static const struct {
        const char *name;
        const struct pc_ty *t;
    } names[] = {
        {"any", &pc_ty_any},
        {"null", &pc_ty_null},
        {"boolean", &pc_ty_boolean},
        {"integer", &pc_ty_integer},
        {"number", &pc_ty_number},
        {"string", &pc_ty_string},
        {"array", &pc_ty_any_array},
        {"list", &pc_ty_any_array},
        {"object", &pc_ty_open_object},
        {"map", &pc_ty_open_object},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name))
            return names[i].t;
    return NULL;
}

static const struct pc_ty *from_schema(struct pr_arena *a, const cJSON *s,
                                       int depth);

static const struct pc_ty *join_all(struct pr_arena *a, const cJSON *arr,
                                    int depth)
{
    const struct pc_ty *t = NULL;
    const cJSON *it;
    cJSON_ArrayForEach (it, arr) {
        const struct pc_ty *u = from_schema(a, it, depth + 1);
        t = t ? pc_ty_join(a, t, u) : u;
        if (!t)
            return NULL;
    }
    return t ? t : &pc_ty_any;
}

/* An enum of strings types a string; any other enum (numbers, mixed)
 * leaves the type to "type". */
static bool enum_of_strings(const cJSON *e)
{
    const cJSON *it;
    cJSON_ArrayForEach (it, e) {
        if (!cJSON_IsString(it))
            return false;
    }
    return true;
}

static const struct pc_ty *enum_type(struct pr_arena *a, const cJSON *e)
{
    size_t n = (size_t)cJSON_GetArraySize(e);
    const cJSON *it;
    const char **v = pr_arena_alloc(a, (n + 1) * sizeof *v);
    if (!v)
        return NULL;
    n = 0;
    cJSON_ArrayForEach (it, e) {
        v[n++] = pr_arena_strdup(a, it->valuestring);
    }
    for (size_t i = 0; i < n; i++)
        if (!v[i])
            return NULL;
    return n ? pc_ty_enum(a, v, n) : &pc_ty_string;
}

static const struct pc_ty *from_schema(struct pr_arena *a, const cJSON *s,
                                       int depth)
{
    if (!cJSON_IsObject(s) || depth > TY_MAX_DEPTH)
        return &pc_ty_any;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(s, "enum");
    if (cJSON_IsArray(e) && enum_of_strings(e))
        return enum_type(a, e);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(s, "const");
    if (cJSON_IsString(c)) {
        const char *v = pr_arena_strdup(a, c->valuestring);
        return v ? pc_ty_enum(a, &v, 1) : NULL;
    }
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(s, "anyOf");
    if (!cJSON_IsArray(any))
        any = cJSON_GetObjectItemCaseSensitive(s, "oneOf");
    if (cJSON_IsArray(any))
        return join_all(a, any, depth);
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (cJSON_IsArray(ty)) { /* ["integer", "null"]: null passes every
                                 check, so the other type; more: any */
        const cJSON *only = NULL;
        const cJSON *it;
        int n = 0;
        cJSON_ArrayForEach (it, ty) {
            if (cJSON_IsString(it) && !strcmp(it->valuestring, "null"))
                continue;
            only = it;
            n++;
        }
        ty = n == 1 && cJSON_IsString(only) ? only : NULL;
        if (!ty)
            return &pc_ty_any;
    }
    const char *k = cJSON_IsString(ty) ? ty->valuestring
                    : cJSON_GetObjectItemCaseSensitive(s, "properties")
                        ? "object" /* properties alone: an object */
                        : NULL;
    if (!k)
        return &pc_ty_any;
    if (!strcmp(k, "array")) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
        return items ? pc_ty_array(a, from_schema(a, items, depth + 1))
                     : &pc_ty_any_array;
    }
    if (!strcmp(k, "object")) {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
        const cJSON *add = cJSON_GetObjectItemCaseSensitive(
            s, "additionalProperties");
        bool open = !cJSON_IsFalse(add);
        size_t n = (size_t)cJSON_GetArraySize(props);
        if (!cJSON_IsObject(props) || n == 0)
            return open ? &pc_ty_open_object
                        : pc_ty_object(a, NULL, NULL, 0, false);
        const char **nm = pr_arena_alloc(a, (n + 1) * sizeof *nm);
        const struct pc_ty **tys = pr_arena_alloc(a, (n + 1) * sizeof *tys);
        if (!nm || !tys)
            return NULL;
        size_t i = 0;
        const cJSON *p;
        cJSON_ArrayForEach (p, props) {
            nm[i] = pr_arena_strdup(a, p->string ? p->string : "");
            tys[i] = from_schema(a, p, depth + 1);
            if (!nm[i] || !tys[i])
                return NULL;
            i++;
        }
        return pc_ty_object(a, nm, tys, n, open);
    }
    const struct pc_ty *t = pc_ty_from_name(k);
    return t && strcmp(k, "list") && strcmp(k, "map") ? t : &pc_ty_any;
}

const struct pc_ty *pc_ty_from_schema(struct pr_arena *a, const cJSON *s)
{
    return from_schema(a, s, 0);
}

static cJSON *to_schema(const struct pc_ty *t, int depth)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || depth > TY_MAX_DEPTH || t->kind == PC_TY_ANY)
        return o;
    cJSON_AddStringToObject(o, "type", pc_ty_kind_name(t->kind));
    if (t->kind == PC_TY_STRING && t->enumv) {
        cJSON *e = cJSON_AddArrayToObject(o, "enum");
        for (size_t i = 0; e && i < t->nenum; i++)
            cJSON_AddItemToArray(e, cJSON_CreateString(t->enumv[i]));
    } else if (t->kind == PC_TY_ARRAY) {
        cJSON_AddItemToObject(o, "items", to_schema(pc_ty_elem(t), depth + 1));
    } else if (t->kind == PC_TY_OBJECT) {
        cJSON *p = cJSON_AddObjectToObject(o, "properties");
        for (size_t i = 0; p && i < t->nfields; i++)
            cJSON_AddItemToObject(p, t->names[i],
                                  to_schema(t->fields[i], depth + 1));
        if (!t->open)
            cJSON_AddFalseToObject(o, "additionalProperties");
    }
    return o;
}

cJSON *pc_ty_to_schema(const struct pc_ty *t)
{
    return to_schema(t, 0);
}
