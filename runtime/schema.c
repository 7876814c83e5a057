/* schema.c -- checking a JSON value against a JSON Schema (a subset)
 *
 * A walk of the value beside its schema, one keyword after another; the
 * first failure is reported with its place.  Which keywords are read is
 * stated in schema.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval.h"
#include "schema.h"

#define MAX_DEPTH 64

static bool type_is(const cJSON *v, const char *t)
{
    if (!strcmp(t, "object"))
        return cJSON_IsObject(v);
    if (!strcmp(t, "array"))
        return cJSON_IsArray(v);
    if (!strcmp(t, "string"))
        return cJSON_IsString(v);
    if (!strcmp(t, "boolean"))
        return cJSON_IsBool(v);
    if (!strcmp(t, "null"))
        return cJSON_IsNull(v);
    if (!strcmp(t, "number"))
        return cJSON_IsNumber(v);
    if (!strcmp(t, "integer"))
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    return true;
}

static bool conforms(const cJSON *v, const cJSON *schema, const char *path,
                     char *err, size_t cap, int depth)
{
    if (!cJSON_IsObject(schema) || depth > MAX_DEPTH)
        return true;
    const cJSON *t = cJSON_GetObjectItem(schema, "type");
    if (cJSON_IsString(t) && !type_is(v, t->valuestring)) {
        snprintf(err, cap, "%s: expected %s, got %s", path, t->valuestring,
                 pr_json_type_name(v));
        return false;
    }
    const cJSON *en = cJSON_GetObjectItem(schema, "enum");
    if (cJSON_IsArray(en)) {
        const cJSON *e;
        bool found = false;
        cJSON_ArrayForEach (e, en)
            found |= pr_json_equal(e, v);
        if (!found) {
            snprintf(err, cap, "%s: not one of the enum values", path);
            return false;
        }
    }
    const cJSON *req = cJSON_GetObjectItem(schema, "required");
    const cJSON *e;
    if (cJSON_IsObject(v) && cJSON_IsArray(req)) {
        cJSON_ArrayForEach (e, req) {
            if (cJSON_IsString(e) &&
                !cJSON_GetObjectItemCaseSensitive(v, e->valuestring)) {
                snprintf(err, cap, "%s: missing required field '%s'", path,
                         e->valuestring);
                return false;
            }
        }
    }
    const cJSON *props = cJSON_GetObjectItem(schema, "properties");
    if (cJSON_IsObject(v) && cJSON_IsObject(props)) {
        cJSON_ArrayForEach (e, props) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, e->string);
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", path, e->string);
            if (x && !conforms(x, e, sub, err, cap, depth + 1))
                return false;
        }
    }
    const cJSON *items = cJSON_GetObjectItem(schema, "items");
    if (cJSON_IsArray(v) && cJSON_IsObject(items)) {
        int i = 0;
        cJSON_ArrayForEach (e, v) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%d]", path, i++);
            if (!conforms(e, items, sub, err, cap, depth + 1))
                return false;
        }
    }
    return true;
}

bool pr_schema_check(const cJSON *v, const cJSON *schema, char *err,
                     size_t cap)
{
    if (cap)
        err[0] = '\0';
    return conforms(v, schema, "$", err, cap, 0);
}
