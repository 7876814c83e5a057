/* handlebars.h -- Handlebars / Mustache template text to compiled code
 *
 * pc_tpl_parse reads a template (the body of a prompt file, a partial, a
 * conformance case) into a tree, reporting every problem with its
 * position: unclosed tags and blocks, mismatched closing tags, unknown
 * helpers, helpers given the wrong arguments, bad delimiters.  The caller
 * resolves the partials it names, may check its names against an input
 * schema, then encodes it as runtime/template.h specifies.
 */
#ifndef POML_HANDLEBARS_H
#define POML_HANDLEBARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "diag.h"

struct pc_tnode;

/* A partial a template names; the caller sets TARGET when it resolves
 * it (left NULL: unknown). */
struct pc_tpl_partial {
    const char *name;
    struct pc_loc loc;
    void *target;
};

struct pc_tpl {
    struct pc_tnode *body;           /* the tree (handlebars.c) */
    struct pc_tpl_partial *partials; /* in order of appearance */
    size_t npartials, cappartials;
    uint32_t file; /* where the text is, for messages */
    uint32_t base;
    bool ok; /* parsed without an error */
};

/* Parses LEN bytes of TEXT, which sit at byte BASE of source FILE of CTX
 * (locations point there).  Problems are reported into CTX; the result is
 * NULL only when memory runs out.  Tree and strings live in the arena. */
struct pc_tpl *pc_tpl_parse(struct pc_ctx *ctx, uint32_t file, uint32_t base,
                            const char *text, size_t len);

/* Reports each name the template reads at its top level (outside blocks
 * that change the context) that is not a property of SCHEMA, a JSON
 * Schema object with "properties"; WHAT names the schema's owner in the
 * note.  Nothing happens when the schema declares no properties or allows
 * others. */
void pc_tpl_check_inputs(struct pc_ctx *ctx, const struct pc_tpl *t,
                         const cJSON *schema, const char *what);

/* Appends the compiled code to OUT; INDEX gives the template number of a
 * resolved partial's target.  0, or -1 when memory runs out. */
int pc_tpl_encode(const struct pc_tpl *t,
                  uint32_t (*index)(void *ud, void *target), void *ud,
                  struct pr_buf *out);

#endif
