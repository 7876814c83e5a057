/* picoschema.c -- Dotprompt's Picoschema to JSON Schema
 *
 * Follows Dotprompt's parser: a string is a scalar type (string, number,
 * integer, boolean, null, any) or a named schema, with an optional
 * ", description"; a mapping with a JSON Schema "type" (or "properties")
 * is JSON Schema already; any other mapping is an object whose keys are
 * "name", "name?" (optional, so also nullable), "name(array, desc)",
 * "name(object, desc)", "name(enum, desc)" or "(*)" (other properties).
 * Objects are closed (additionalProperties: false) and list their
 * required properties.
 */
#include "picoschema.h"
#include "alloc.h"

#include <string.h>

static const char *const scalars[] = {"string", "boolean", "null",
                                      "number", "integer", "any"};

static bool is_scalar(const char *t, size_t n)
{
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (strlen(scalars[i]) == n && !memcmp(scalars[i], t, n))
            return true;
    return false;
}

struct pico {
    struct pc_ctx *ctx;
    const cJSON *named;
    bool failed;
};

static cJSON *fail(struct pico *p, const struct pc_node *at, const char *msg,
                   const char *arg)
{
    pc_report(p->ctx, PC_D_PICOSCHEMA, at->loc, msg, arg);
    p->failed = true;
    return NULL;
}

/* "type, description": the type's length, and the description (after the
 * first comma and the spaces after it), or NULL. */
static size_t split_desc(const char *s, const char **desc)
{
    const char *c = strchr(s, ',');
    *desc = NULL;
    if (!c)
        return strlen(s);
    const char *d = c + 1;
    while (*d == ' ')
        d++;
    *desc = d;
    return (size_t)(c - s);
}

static bool add_desc(cJSON *o, const char *desc)
{
    if (!desc || !*desc)
        return true;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "description");
    return cJSON_AddStringToObject(o, "description", desc) != NULL;
}

/* A type name written as a string, with its description. */
static cJSON *from_string(struct pico *p, const struct pc_node *n)
{
    const char *desc;
    size_t len = split_desc(n->str, &desc);
    cJSON *out;
    if (is_scalar(n->str, len)) {
        out = cJSON_CreateObject();
        if (out && strncmp(n->str, "any", len) != 0) {
            char t[16];
            memcpy(t, n->str, len);
            t[len] = '\0';
            if (!cJSON_AddStringToObject(out, "type", t)) {
                cJSON_Delete(out);
                out = NULL;
            }
        }
    } else {
        char name[128];
        if (len == 0 || len >= sizeof name)
            return fail(p, n, "'%s' is not a Picoschema type", n->str);
        memcpy(name, n->str, len);
        name[len] = '\0';
        const cJSON *s = p->named
                             ? cJSON_GetObjectItemCaseSensitive(p->named, name)
                             : NULL;
        if (!s)
            return fail(p, n,
                        "unknown type '%s'; Picoschema types are string, "
                        "number, integer, boolean, null and any",
                        name);
        out = cJSON_Duplicate(s, true);
    }
    if (out && !add_desc(out, desc)) {
        cJSON_Delete(out);
        out = NULL;
    }
    return out;
}

/* TYPE becomes [TYPE, "null"] when it is a single type. */
static bool nullable(cJSON *o)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(t))
        return true;
    const char *two[] = {t->valuestring, "null"};
    cJSON *arr = cJSON_CreateStringArray(two, 2);
    return arr && pr_json_set(o, "type", arr);
}

static cJSON *pico(struct pico *p, const struct pc_node *n, int depth);

/* One "key: value" of an object into OBJ's properties / required. */
static bool property(struct pico *p, const struct pc_pair *pr, cJSON *props,
                     cJSON *req, cJSON *obj, int depth)
{
    const char *key = pr->key->str;
    if (!strcmp(key, "(*)")) {
        cJSON *extra = pico(p, pr->value, depth + 1);
        return extra && pr_json_set(obj, "additionalProperties", extra);
    }
    const char *paren = strchr(key, '(');
    size_t nlen = paren ? (size_t)(paren - key) : strlen(key);
    bool optional = nlen > 0 && key[nlen - 1] == '?';
    char name[256];
    size_t plen = nlen - optional;
    if (plen == 0 || plen >= sizeof name) {
        fail(p, pr->key, "'%s' is not a property name", key);
        return false;
    }
    memcpy(name, key, plen);
    name[plen] = '\0';
    if (cJSON_GetObjectItemCaseSensitive(props, name)) {
        fail(p, pr->key, "property '%s' is given twice", name);
        return false;
    }
    if (!optional && !cJSON_AddItemToArray(req, cJSON_CreateString(name)))
        return false;
    cJSON *prop = NULL;
    if (!paren) {
        prop = pico(p, pr->value, depth + 1);
        if (prop && optional && !nullable(prop)) {
            cJSON_Delete(prop);
            return false;
        }
    } else {
        size_t len = strlen(paren + 1);
        if (len == 0 || paren[len] != ')') {
            fail(p, pr->key, "'%s' lacks its closing ')'", key);
            return false;
        }
        char info[256];
        if (len >= sizeof info) {
            fail(p, pr->key, "'%s' is too long", key);
            return false;
        }
        memcpy(info, paren + 1, len - 1);
        info[len - 1] = '\0';
        const char *desc;
        size_t tl = split_desc(info, &desc);
        info[tl] = '\0';
        if (!strcmp(info, "array")) {
            cJSON *items = pico(p, pr->value, depth + 1);
            prop = items ? cJSON_CreateObject() : NULL;
            if (prop && optional) {
                const char *two[] = {"array", "null"};
                cJSON_AddItemToObject(prop, "type",
                                      cJSON_CreateStringArray(two, 2));
            } else if (prop) {
                cJSON_AddStringToObject(prop, "type", "array");
            }
            if (prop)
                cJSON_AddItemToObject(prop, "items", items);
            else
                cJSON_Delete(items);
        } else if (!strcmp(info, "object")) {
            if (pr->value->kind != PC_NODE_MAP) {
                fail(p, pr->value, "'%s' needs a mapping of properties", key);
                return false;
            }
            prop = pico(p, pr->value, depth + 1);
            if (prop && optional && !nullable(prop)) {
                cJSON_Delete(prop);
                return false;
            }
        } else if (!strcmp(info, "enum")) {
            if (pr->value->kind != PC_NODE_SEQ) {
                fail(p, pr->value, "'%s' needs a list of values", key);
                return false;
            }
            cJSON *vals = pc_node_json(pr->value);
            prop = vals ? cJSON_CreateObject() : NULL;
            if (prop && optional)
                cJSON_AddItemToArray(vals, cJSON_CreateNull());
            if (prop)
                cJSON_AddItemToObject(prop, "enum", vals);
            else
                cJSON_Delete(vals);
        } else {
            fail(p, pr->key,
                 "'%s': the type in parentheses must be array, object or "
                 "enum",
                 key);
            return false;
        }
        if (prop && !add_desc(prop, desc)) {
            cJSON_Delete(prop);
            return false;
        }
    }
    if (!prop)
        return false;
    if (!cJSON_AddItemToObject(props, name, prop)) {
        cJSON_Delete(prop);
        return false;
    }
    return true;
}

static cJSON *pico(struct pico *p, const struct pc_node *n, int depth)
{
    if (depth > PC_YAML_MAX_DEPTH)
        return fail(p, n, "schema nested too deep%s", "");
    if (n->kind == PC_NODE_SCALAR)
        return from_string(p, n);
    if (n->kind != PC_NODE_MAP)
        return fail(p, n,
                    "a Picoschema is a type name or a mapping of "
                    "properties, not %s",
                    pc_node_kind_name(n));
    cJSON *obj = cJSON_CreateObject();
    cJSON *props = cJSON_CreateObject(), *req = cJSON_CreateArray();
    if (!obj || !props || !req ||
        !cJSON_AddStringToObject(obj, "type", "object") ||
        !cJSON_AddItemToObject(obj, "properties", props)) {
        cJSON_Delete(obj);
        cJSON_Delete(props);
        cJSON_Delete(req);
        pc_oom(p->ctx);
        return NULL;
    }
    if (!cJSON_AddItemToObject(obj, "required", req)) {
        cJSON_Delete(req);
        cJSON_Delete(obj);
        return NULL;
    }
    cJSON_AddFalseToObject(obj, "additionalProperties");
    bool ok = true;
    for (size_t i = 0; i < n->len; i++) /* every problem, not the first */
        ok &= property(p, &n->pairs[i], props, req, obj, depth);
    if (!ok) {
        cJSON_Delete(obj);
        if (!p->failed)
            pc_oom(p->ctx);
        return NULL;
    }
    if (!req->child)
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "required");
    return obj;
}

static bool json_schema_type(const char *t)
{
    return is_scalar(t, strlen(t)) || !strcmp(t, "object") ||
           !strcmp(t, "array");
}

cJSON *pc_picoschema(struct pc_ctx *ctx, const struct pc_node *node,
                     const cJSON *named)
{
    struct pico p = {ctx, named, false};
    if (!node || node->kind == PC_NODE_NULL)
        return NULL;
    if (node->kind == PC_NODE_MAP) {
        const struct pc_node *t = pc_map_get(node, "type");
        if (t && t->kind == PC_NODE_SCALAR && json_schema_type(t->str))
            return pc_node_json(node);
        const struct pc_node *props = pc_map_get(node, "properties");
        if (props && props->kind == PC_NODE_MAP) {
            cJSON *s = pc_node_json(node);
            if (s && !cJSON_GetObjectItemCaseSensitive(s, "type"))
                cJSON_AddStringToObject(s, "type", "object");
            return s;
        }
    }
    return pico(&p, node, 0);
}
