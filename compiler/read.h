/* read.h -- typed reading of YAML nodes, with a diagnostic for each misfit
 *
 * Every reader names the field in its message ("'timeout' must be ...") and
 * points at the offending node.  Readers return 0 / a value on success and
 * -1 / NULL after reporting.
 */
#ifndef POML_READ_H
#define POML_READ_H

#include <stdint.h>

#include "diag.h"
#include "yaml.h"

/* Reports every key of MAP that is not in KEYS (NULL-terminated), with a
 * "did you mean" note; WHAT names the place ("step", "parameter").
 * Returns the number of unknown keys. */
int pc_check_keys(struct pc_ctx *c, const struct pc_node *map,
                  const char *const *keys, const char *what);

bool pc_want_kind(struct pc_ctx *c, const struct pc_node *n,
                  enum pc_node_kind kind, const char *field);

const char *pc_get_str(struct pc_ctx *c, const struct pc_node *n,
                       const char *field);
/* The member KEY of mapping MAP when it is a mapping; NULL when absent
 * or, reported, when it is something else. */
const struct pc_node *pc_get_map(struct pc_ctx *c, const struct pc_node *map,
                                 const char *key);
int pc_get_bool(struct pc_ctx *c, const struct pc_node *n, const char *field,
                bool *out);
int pc_get_uint(struct pc_ctx *c, const struct pc_node *n, const char *field,
                uint64_t max, uint64_t *out);
int pc_get_num(struct pc_ctx *c, const struct pc_node *n, const char *field,
               double *out);
/* A number of seconds, or a string such as 250ms, 30s, 5m, 1h, 1h30m. */
int pc_get_duration(struct pc_ctx *c, const struct pc_node *n,
                    const char *field, double *out);
/* A list of strings; a single string counts as a list of one.  Also fills
 * LOCS (when not NULL) with each string's location. */
const char **pc_get_str_list(struct pc_ctx *c, const struct pc_node *n,
                             const char *field, size_t *count,
                             struct pc_loc **locs);

/* Warns (not-implemented) at KEY of MAP, when MAP has it, that the key is
 * accepted but WHY: "'KEY' is accepted but WHY".  For the keys whose run
 * time half does not exist yet. */
void pc_not_implemented(struct pc_ctx *c, const struct pc_node *map,
                        const char *key, const char *why);

/* Parses a duration text; -1 when malformed. */
int pc_parse_duration(const char *s, double *out);

/* A valid identifier for steps, parameters and phases:
 * [A-Za-z_][A-Za-z0-9_-]*  */
bool pc_is_ident(const char *s);

#endif
