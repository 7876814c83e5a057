/* yaml.h -- the YAML subset POML is written in, as a tree of nodes
 *
 * Block and flow collections, plain / single / double quoted scalars, block
 * scalars (| and > with chomping and indentation indicators), comments,
 * UTF-8, CRLF and a BOM.  Anchors, aliases, tags, directives and multiple
 * documents are rejected with a diagnostic.  Parsing reports every problem
 * it can recover from and returns NULL only when nothing usable remains.
 */
#ifndef POML_YAML_H
#define POML_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "diag.h"

enum pc_node_kind { PC_NODE_NULL, PC_NODE_SCALAR, PC_NODE_SEQ, PC_NODE_MAP };

enum pc_scalar_style {
    PC_PLAIN,
    PC_SQUOTED,
    PC_DQUOTED,
    PC_LITERAL, /* | */
    PC_FOLDED   /* > */
};

struct pc_node;

struct pc_pair {
    struct pc_node *key;   /* always a scalar */
    struct pc_node *value; /* never NULL: empty values are PC_NODE_NULL */
};

struct pc_node {
    enum pc_node_kind kind;
    enum pc_scalar_style style;
    bool flow;              /* collection written as [..] or {..} */
    bool exact;             /* scalar text maps byte for byte onto the
                               source from content_off (no escapes, no
                               folding): expression errors can point
                               inside it */
    struct pc_loc loc;      /* the whole node */
    uint32_t content_off;   /* first byte of a scalar's content */
    const char *str;        /* scalar: decoded text, NUL terminated */
    size_t len;             /* scalar: bytes; seq: items; map: pairs */
    struct pc_node **items; /* seq */
    struct pc_pair *pairs;  /* map */
};

/* Nesting deeper than this is an error, so no input exhausts the stack. */
#define PC_YAML_MAX_DEPTH 64

/* Parses source FILE (registered in ctx).  Diagnostics go to ctx.  Returns
 * the document's root (a PC_NODE_NULL node for an empty document), or NULL
 * after a syntax error that left no tree. */
struct pc_node *pc_yaml_parse(struct pc_ctx *ctx, uint32_t file);

/* Helpers for readers of the tree. */
struct pc_node *pc_map_get(const struct pc_node *map, const char *key);
bool pc_scalar_is(const struct pc_node *n, const char *s);
/* A plain scalar that YAML 1.2's core schema reads as null / bool / int /
 * float; quoted scalars are always strings. */
bool pc_scalar_null(const struct pc_node *n);
int pc_scalar_bool(const struct pc_node *n, bool *out);     /* 0 or -1 */
int pc_scalar_int(const struct pc_node *n, long long *out); /* 0 or -1 */
int pc_scalar_float(const struct pc_node *n, double *out);  /* 0 or -1 */

/* A location covering the first N bytes of a scalar's content starting at
 * byte I, when the scalar is exact; otherwise the whole scalar. */
struct pc_loc pc_node_subloc(const struct pc_node *n, size_t i, size_t len);

const char *pc_node_kind_name(const struct pc_node *n);

/* The node as JSON with the core schema's types (plain null, booleans and
 * numbers typed, everything else a string); NULL when out of memory. */
cJSON *pc_node_json(const struct pc_node *n);

#endif
