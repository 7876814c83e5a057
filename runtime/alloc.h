/* alloc.h -- the allocation functions both programs hand to their libraries
 *
 * The programs allocate with malloc and its family; these thin wrappers are
 * what cJSON (through cJSON_InitHooks) and libcurl (through
 * curl_global_init_mem, in the LLM layer) are given, so every allocation
 * those libraries make passes through the same functions as the programs'
 * own.  The allocation-failure test (tests/alloc) relies on it: failing the
 * N-th allocation reaches cJSON's and libcurl's as well.
 */
#ifndef POML_ALLOC_H
#define POML_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* malloc, calloc, realloc, free and strdup, as their libraries expect:
 * NULL when out of memory, free(NULL) does nothing. */
void *pr_malloc(size_t n);
void *pr_calloc(size_t n, size_t size);
void *pr_realloc(void *p, size_t n);
void pr_free(void *p);
char *pr_strdup(const char *s);

/* realloc that frees P when it fails: for flex, whose buffer stack
 * growth keeps only the NULL (the old stack lost) before its fatal
 * error. */
void *pr_realloc_or_free(void *p, size_t n);

/* How many times the functions above have returned NULL.  cJSON's
 * builders drop a value they cannot allocate without a word; a caller
 * that compares the count before and after building a tree knows whether
 * the tree is whole. */
unsigned long pr_alloc_failures(void);

/* Adds V (taken over) to OBJ as member KEY, or to the array OBJ when KEY
 * is NULL; false, V freed, when that fails (OBJ or V NULL, no memory for
 * the key).  cJSON_AddItemToObject leaves V to the caller then. */
bool pr_json_add(cJSON *obj, const char *key, cJSON *v);

/* Sets OBJ's member KEY to V (taken over), in the place of the member of
 * that name if there is one.  False when out of memory, V freed.  For
 * cJSON_ReplaceItemInObject, which in cJSON 1.7.15 leaves a member
 * without a name (and a crash for whoever reads it) when it cannot copy
 * the key. */
bool pr_json_set(cJSON *obj, const char *key, cJSON *v);

/* TEXT (N bytes) parsed into a tree that lives in a region of its
 * own, not in one heap block per value: for the many short texts read,
 * looked into and dropped at once (a streamed reply's events).  The tree
 * is valid until the next call or pr_json_scratch_end, and must never be
 * given to cJSON_Delete, put into another tree or kept: copy what is
 * needed (cJSON_Duplicate).  NULL when TEXT is not JSON or memory runs
 * out (pr_alloc_failures tells which).  One such tree at a time. */
cJSON *pr_json_scratch_parse(const char *text, size_t n);
/* Ends the last scratch tree; the region's first block is kept for the
 * next one, the rest freed. */
void pr_json_scratch_end(void);

/* OBJ's member KEY when it is a string, else NULL. */
const char *pr_json_str(const cJSON *obj, const char *key);

/* Routes cJSON's allocations through the functions above.  Called first
 * in main(), before any cJSON value exists: a value allocated before the
 * hooks change would be freed by the wrong function. */
void pr_alloc_init(void);

#endif
