/* alloc.c -- the allocation functions both programs hand to their libraries
 *
 * Thin on purpose: each calls its libc function, so a build that replaces
 * those (tests/alloc links with -Wl,--wrap=malloc,...) sees the libraries'
 * allocations as the programs' own; the one addition is a count of the
 * calls that failed.
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

static unsigned long failures;

/* P, counting it when it is NULL: an allocation that failed */
static void *counted(void *p)
{
    if (!p)
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    return p;
}

unsigned long pr_alloc_failures(void)
{
    return __atomic_load_n(&failures, __ATOMIC_RELAXED);
}

void *pr_malloc(size_t n)
{
    return counted(malloc(n));
}

void *pr_calloc(size_t n, size_t size)
{
    return counted(calloc(n, size));
}

void *pr_realloc(void *p, size_t n)
{
    return n ? counted(realloc(p, n)) : realloc(p, n);
}

void *pr_realloc_or_free(void *p, size_t n)
{
    void *q = pr_realloc(p, n);
    if (!q && n)
        free(p);
    return q;
}

void pr_free(void *p)
{
    free(p);
}

char *pr_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = counted(malloc(n));
    return d ? memcpy(d, s, n) : NULL;
}

bool pr_json_add(cJSON *obj, const char *key, cJSON *v)
{
    if (key ? cJSON_AddItemToObject(obj, key, v)
            : cJSON_AddItemToArray(obj, v))
        return true;
    cJSON_Delete(v);
    return false;
}

bool pr_json_set(cJSON *obj, const char *key, cJSON *v)
{
    cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
    char *name = v && old ? pr_strdup(key) : NULL;
    if (!old)
        return pr_json_add(obj, key, v);
    if (!name) {
        cJSON_Delete(v);
        return false;
    }
    if (!(v->type & cJSON_StringIsConst))
        cJSON_free(v->string);
    v->string = name;
    v->type &= ~cJSON_StringIsConst;
    return cJSON_ReplaceItemViaPointer(obj, old, v);
}

void pr_alloc_init(void)
{
    cJSON_Hooks hooks = {.malloc_fn = pr_malloc, .free_fn = pr_free};
    cJSON_InitHooks(&hooks);
}

const char *pr_json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
