/* params.h -- binding a run's parameters to a plan's parameter schema
 *
 * Values come from -p name=value (typed by the schema: arrays and objects
 * as JSON) and from a JSON file of name/value pairs; defaults fill the
 * rest.  Every problem is reported, not only the first.
 */
#ifndef POML_PARAMS_H
#define POML_PARAMS_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "plan.h"

struct pr_param_arg {
    const char *name; /* NULL: a whole JSON file in text */
    const char *text;
    const char *origin; /* "-p" or the file's name, for messages */
};

/* Builds the parameters object into *OUT.  Problems are printed to ERRS,
 * one line each ("pomlrun: error: ..."); returns their number (0: *OUT is
 * the bound object, to be freed with cJSON_Delete). */
int pr_params_bind(const struct pr_plan *plan, const struct pr_param_arg *args,
                   size_t nargs, cJSON **out, FILE *errs);

#endif
