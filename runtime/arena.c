/* arena.c -- bump allocator shared by the compiler and the runtime
 *
 * Blocks grow geometrically; a request larger than a block gets its own.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define MIN_BLOCK (64 * 1024)

struct pr_arena_block {
    struct pr_arena_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

void pr_arena_init(struct pr_arena *a)
{
    a->head = NULL;
    a->total = 0;
}

void pr_arena_free(struct pr_arena *a)
{
    struct pr_arena_block *b = a->head;
    while (b) {
        struct pr_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}

void *pr_arena_alloc(struct pr_arena *a, size_t n)
{
    struct pr_arena_block *b = a->head;
    if (n > SIZE_MAX / 2)
        return NULL;
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (n == 0)
        n = ALIGN;
    if (!b || b->size - b->used < n) {
        size_t size = b ? b->size * 2 : MIN_BLOCK;
        if (size > 16 * 1024 * 1024)
            size = 16 * 1024 * 1024;
        if (size < n)
            size = n;
        struct pr_arena_block *nb = malloc(sizeof *nb + size);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->size = size;
        if (b && size == n) {
            /* a large one-off block goes behind the current head so the
               head's free space stays usable */
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            a->total += n;
            memset(nb->data, 0, n);
            return nb->data;
        }
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

char *pr_arena_strndup(struct pr_arena *a, const char *s, size_t n)
{
    char *p = pr_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *pr_arena_strdup(struct pr_arena *a, const char *s)
{
    return pr_arena_strndup(a, s, strlen(s));
}

char *pr_arena_printf(struct pr_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = pr_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int pr_arena_grow(struct pr_arena *a, void **items, size_t *cap, size_t n,
                  size_t size)
{
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > SIZE_MAX / size)
        return -1;
    void *p = pr_arena_alloc(a, ncap * size);
    if (!p)
        return -1;
    if (n)
        memcpy(p, *items, n * size);
    *items = p;
    *cap = ncap;
    return 0;
}
