/* alloc.c -- the allocation functions both programs hand to their libraries
 *
 * Thin on purpose: each calls its libc function, so a build that replaces
 * those (tests/alloc links with -Wl,--wrap=malloc,...) sees the libraries'
 * allocations as the programs' own; the one addition is a count of the
 * calls that failed.
 */
#include "alloc.h"

#include <stddef.h>
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

/* ---- scratch trees: a bump region, freed all at once ---- */

struct block {
    struct block *next; /* the one allocated before */
    size_t used, cap;
    max_align_t data[];
};

static struct block *blocks; /* newest first */

/* Under AddressSanitizer each value is a heap block of its own, freed by
 * pr_json_scratch_end, so that a read past one is still caught */
#if defined(__SANITIZE_ADDRESS__)
#define SCRATCH_EACH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCRATCH_EACH 1
#endif
#endif
#ifndef SCRATCH_EACH
#define SCRATCH_EACH 0
#endif

static void *scratch_malloc(size_t n)
{
    if (SCRATCH_EACH) {
        struct block *k = pr_malloc(sizeof *k + n);
        if (!k)
            return NULL;
        k->next = blocks;
        k->used = k->cap = n;
        blocks = k;
        return k->data;
    }
    size_t a = sizeof(max_align_t);
    n = (n + a - 1) / a * a;
    struct block *b = blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? 2 * b->cap : 8192;
        if (cap < n)
            cap = n;
        struct block *k = pr_malloc(sizeof *k + cap);
        if (!k)
            return NULL;
        k->next = b;
        k->used = 0;
        k->cap = cap;
        blocks = b = k;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

/* a scratch value goes with its region */
static void scratch_free(void *p)
{
    (void)p;
}

cJSON *pr_json_scratch_parse(const char *text, size_t n)
{
    pr_json_scratch_end();
    cJSON_Hooks scratch = {.malloc_fn = scratch_malloc,
                           .free_fn = scratch_free};
    cJSON_InitHooks(&scratch);
    cJSON *v = cJSON_ParseWithLength(text, n);
    pr_alloc_init();
    return v;
}

void pr_json_scratch_end(void)
{
    struct block *b = blocks;
    if (!b)
        return;
    /* keep the newest (the largest) block unless it is large */
    while (b->next) {
        struct block *old = b->next;
        b->next = old->next;
        free(old);
    }
    if (SCRATCH_EACH || b->cap > ((size_t)1 << 20)) {
        free(b);
        blocks = NULL;
        return;
    }
    b->used = 0;
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
