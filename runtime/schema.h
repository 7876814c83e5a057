/* schema.h -- checking a JSON value against a JSON Schema (a subset)
 *
 * The keywords read: type (one name: object, array, string, boolean,
 * null, number, integer), enum, required, properties and items; every
 * other keyword, and a schema that is not an object, allows anything.
 * pomlrun checks a model's structured reply with it; a tool client and
 * the compiler may check their own values the same way.
 */
#ifndef POML_SCHEMA_H
#define POML_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Whether V conforms to SCHEMA.  When not, ERR (CAP bytes, always
 * NUL-terminated when CAP > 0) says where and why, the place written
 * from "$" ("$.items[2]: expected string, got number").  Deeper than 64
 * levels the schema is not followed further. */
bool pr_schema_check(const cJSON *v, const cJSON *schema, char *err,
                     size_t cap);

#endif
