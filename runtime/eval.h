/* eval.h -- evaluating expression bytecode over JSON values
 *
 * pr_eval runs one expression's code (encoding in bytecode.h) against the
 * run's values and returns a fresh cJSON value.  The code may come from a
 * damaged or hostile plan: every read is checked, so bad code is an error.
 */
#ifndef POML_EVAL_H
#define POML_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bytecode.h"

/* Lists the evaluator builds may nest this deep; pomlc allows 64. */
#define PR_EVAL_MAX_NEST 128

/* The largest value one operation of an expression may build (a '+' of
 * strings, join(), a [...] list), in bytes of its text as JSON, roughly:
 * 64 MiB, the most a sub-workflow's result may be and four times what a
 * step keeps of its standard output.  Without it a few references to a
 * large output, repeated, build gigabytes. */
#define PR_EVAL_MAX_VALUE ((size_t)64 << 20)

/* What an expression can see.  Values are borrowed: pr_eval never modifies
 * or frees them.  A NULL value reads as null. */
struct pr_eval_env {
    /* The string table: bytes of string IDX and their count in *len, or
     * NULL when IDX is out of range (an error). */
    const char *(*str)(void *ud, uint32_t idx, size_t *len);
    /* The outputs of the step at INDEX (below nsteps; the STEP
     * instruction), or NULL while it has not finished (reads as null).
     * May itself be NULL when nsteps is 0. */
    cJSON *(*step)(void *ud, uint32_t index);
    uint32_t nsteps; /* STEP indices at or above it are errors */
    void *ud;        /* passed to the callbacks */
    cJSON *params;   /* object of parameters */
    cJSON *item;     /* the for_each element, when has_item */
    long long index; /* its position, when has_item */
    bool has_item;
};

/* Evaluates CODE[0..len).  Returns 0 and a value in *out that the caller
 * frees with cJSON_Delete, or -1 with a message in ERR (NUL terminated,
 * cut to ERRCAP bytes; ERR may be NULL).  Messages about malformed code
 * begin with "invalid bytecode: ". */
int pr_eval(const uint8_t *code, size_t len, const struct pr_eval_env *env,
            cJSON **out, char *err, size_t errcap);

/* null, false, 0, NaN, "", [] and {} are false; everything else true. */
bool pr_truthy(const cJSON *v);

/* Deep JSON equality: same type, numbers equal, strings byte for byte,
 * lists element by element, objects with the same keys and equal values
 * in any order. */
bool pr_json_equal(const cJSON *a, const cJSON *b);

/* "null", "boolean", "number", "string", "list" or "object". */
const char *pr_json_type_name(const cJSON *v);

/* The shortest text that reads back as D ("3", "0.1", "1e+21"); returns
 * the length like snprintf.  24 bytes always suffice. */
int pr_format_number(double d, char *buf, size_t cap);

/* A value as text, for string interpolation and join: strings as they
 * are, numbers by pr_format_number, true / false, null as "", lists and
 * objects as compact JSON.  malloc'd; NULL when out of memory. */
char *pr_value_text(const cJSON *v);

#endif
