/* plan_canon.h -- a step's definition in bytes independent of its place
 * in the plan (plan_canon.c), for cache keys */
#ifndef POML_PLAN_CANON_H
#define POML_PLAN_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct pr_plan;

/* The parameters a step's expressions read: by name, or all of them when
 * one reads the params root as a whole. */
struct pr_canon_reads {
    const char **params; /* into the plan's strings */
    size_t nparams, cap;
    bool all_params;
};

/* Appends step I's definition to OUT and notes what it reads in READS
 * (zeroed before; may be NULL).  0, or -1 when out of memory. */
int pr_step_canon(const struct pr_plan *p, uint32_t i, struct pr_buf *out,
                  struct pr_canon_reads *reads);
void pr_canon_reads_free(struct pr_canon_reads *r);

#endif
