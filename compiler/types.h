/* types.h -- the type lattice of the values a workflow's expressions read
 *
 * Types: null, boolean, integer, number, string (with an enum set when
 * known), array of T, object with known fields (open or closed) and any,
 * the top, which silences every check.  Types are immutable once built and
 * live in an arena (or are the static primitives below), so they may be
 * shared freely.  integer is a subtype of number; a join of types of
 * different kinds is any.
 */
#ifndef POML_TYPES_H
#define POML_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "arena.h"

enum pc_tykind {
    PC_TY_ANY,
    PC_TY_NULL,
    PC_TY_BOOLEAN,
    PC_TY_INTEGER,
    PC_TY_NUMBER,
    PC_TY_STRING,
    PC_TY_ARRAY,
    PC_TY_OBJECT
};

struct pc_ty {
    enum pc_tykind kind;
    /* PC_TY_STRING: the values it may take; enumv NULL: any string */
    const char *const *enumv;
    size_t nenum;
    /* PC_TY_ARRAY: the element type */
    const struct pc_ty *elem;
    /* PC_TY_OBJECT: known fields; open: others may be present (any) */
    const char **names;
    const struct pc_ty **fields;
    size_t nfields;
    bool open;
};

extern const struct pc_ty pc_ty_any, pc_ty_null, pc_ty_boolean, pc_ty_integer,
    pc_ty_number, pc_ty_string, pc_ty_any_array, pc_ty_open_object;

/* NULL on out of memory everywhere below. */
const struct pc_ty *pc_ty_array(struct pr_arena *a, const struct pc_ty *elem);
/* A string restricted to VALS[0..n) (copied, duplicates dropped). */
const struct pc_ty *pc_ty_enum(struct pr_arena *a, const char *const *vals,
                               size_t n);
/* An object of N fields NAMES / TYPES (copied). */
const struct pc_ty *pc_ty_object(struct pr_arena *a, const char *const *names,
                                 const struct pc_ty *const *types, size_t n,
                                 bool open);

/* The least type holding both (branches that meet): enums unite, arrays
 * join their elements, objects keep the fields both have (joined) and are
 * open when either is or a field is missing from one. */
const struct pc_ty *pc_ty_join(struct pr_arena *a, const struct pc_ty *x,
                               const struct pc_ty *y);

/* Enum narrowing: T restricted to the string values VALS[0..n) (an enum
 * intersected, a plain string becoming that enum); T itself when it is no
 * string type.  An empty intersection gives an enum of no values. */
const struct pc_ty *pc_ty_narrow(struct pr_arena *a, const struct pc_ty *t,
                                 const char *const *vals, size_t n);

/* The element type of an array (any for any), or NULL when T is no array. */
const struct pc_ty *pc_ty_elem(const struct pc_ty *t);

/* The type of field NAME of T: any for any and open objects without it,
 * NULL when T cannot have it (closed object, or no object at all). */
const struct pc_ty *pc_ty_field(const struct pc_ty *t, const char *name);

/* True when T is a string enum that holds S, or is no enum at all. */
bool pc_ty_enum_allows(const struct pc_ty *t, const char *s);

/* True when a value of type FROM can be used where TO is expected (any on
 * either side is assignable; integer to number; enums by inclusion). */
bool pc_ty_assignable(const struct pc_ty *from, const struct pc_ty *to);

bool pc_ty_is_numeric(const struct pc_ty *t);

/* The kind's name: "string", "array", ... */
const char *pc_ty_kind_name(enum pc_tykind k);

/* The type written out: string, "a" | "b", array<integer>,
 * {name: string, n: integer, ...}.  Writes at most CAP bytes including the
 * NUL; returns the full length like snprintf. */
int pc_ty_print(const struct pc_ty *t, char *buf, size_t cap);

/* The type a JSON Schema describes (type, enum, const, items, properties,
 * additionalProperties; anyOf / oneOf join).  Anything else is any. */
const struct pc_ty *pc_ty_from_schema(struct pr_arena *a, const cJSON *s);

/* T as JSON Schema (any: {}), for tools reading pomlc --emit=json; NULL
 * when out of memory. */
cJSON *pc_ty_to_schema(const struct pc_ty *t);

/* The type named by a type keyword ("string", "integer", ..., "list" and
 * "map" as aliases), or NULL for an unknown name. */
const struct pc_ty *pc_ty_from_name(const char *name);

#endif
