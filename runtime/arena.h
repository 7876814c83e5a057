/* arena.h -- bump allocator shared by the compiler and the runtime
 *
 * One arena per compilation (AST, strings, diagnostics) or per run; freed at
 * once.  Allocation failure returns NULL: callers report it, nobody aborts.
 */
#ifndef POML_ARENA_H
#define POML_ARENA_H

#include <stddef.h>

struct pr_arena_block;

struct pr_arena {
    struct pr_arena_block *head;
    size_t total; /* bytes handed out, for statistics */
};

void pr_arena_init(struct pr_arena *a);
void pr_arena_free(struct pr_arena *a);

/* Returns zeroed, 16-byte aligned memory, or NULL when out of memory. */
void *pr_arena_alloc(struct pr_arena *a, size_t n);

/* Copies n bytes and appends a NUL.  NULL when out of memory. */
char *pr_arena_strndup(struct pr_arena *a, const char *s, size_t n);
char *pr_arena_strdup(struct pr_arena *a, const char *s);

/* printf into the arena. */
char *pr_arena_printf(struct pr_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Growable array living in an arena: doubling, old storage abandoned. */
int pr_arena_grow(struct pr_arena *a, void **items, size_t *cap, size_t n,
                  size_t size);

#define PR_PUSH(arena, arr, n, cap)                                           \
    (((n) < (cap) || pr_arena_grow((arena), (void **)&(arr), &(cap), (n),     \
                                   sizeof *(arr)) == 0)                       \
         ? &(arr)[(n)++]                                                      \
         : NULL)

#endif
