/* picoschema.h -- Dotprompt's Picoschema to JSON Schema
 *
 * A prompt file's input and output schemas may be written in Picoschema,
 * the compact form Dotprompt defines ("name: string, description",
 * "tags(array): string", "kind?(enum): [a, b]", "(*): any"), or as JSON
 * Schema, which passes through.  The conversion happens once, in pomlc;
 * plans carry JSON Schema.
 */
#ifndef POML_PICOSCHEMA_H
#define POML_PICOSCHEMA_H

#include <cjson/cJSON.h>

#include "diag.h"
#include "yaml.h"

/* Converts the schema written at NODE; NAMED (an object of named schemas,
 * or NULL) resolves type names that are not JSON Schema types.  Problems
 * are reported at the offending node as -Wpicoschema; NULL after one (or
 * when out of memory).  The caller frees the result. */
cJSON *pc_picoschema(struct pc_ctx *ctx, const struct pc_node *node,
                     const cJSON *named);

#endif
