/* prompt_file.h -- prompt files: frontmatter, template body, partials
 *
 * A prompt file (poml(5), PROMPT FILES) is markdown with an optional
 * YAML frontmatter between two '---' lines (name, description, model,
 * config, input schema and defaults, output format and schema) and a
 * Handlebars body.  pc_prompt_parse reads one from a registered source;
 * pc_load_prompt does it for a step, once per workflow, with the partials
 * the body names, each from its own file.
 */
#ifndef POML_PROMPT_FILE_H
#define POML_PROMPT_FILE_H

#include <cjson/cJSON.h>

#include "compile.h"

/* Parses the prompt file SRC into P (whose name the caller sets): the
 * frontmatter's fields, the body's template.  SRC is registered in CTX
 * (P->file) after the frontmatter, so messages come in file order.  NAMED
 * resolves schema names (may be NULL).  Problems are reported into CTX;
 * -1 when the file has no usable body. */
int pc_prompt_parse(struct pc_ctx *ctx, struct pc_source *src,
                    struct pc_prompt *p, const cJSON *named);

/* The prompt file NAME (relative to the workflow's directory) of a step,
 * named at LOC: read, compiled and its model and partials resolved on the
 * first call, the same object after.  NULL when it cannot be read. */
struct pc_prompt *pc_load_prompt(struct pc_build *b, const char *name,
                                 struct pc_loc loc);

/* A step's inputs against its prompt's input schema: every required input
 * given (or defaulted), and no input the schema does not declare. */
void pc_check_prompt_inputs(struct pc_build *b, const struct pc_step *s);

/* A step's inputs (a tool step's `with` when it has no inputs) against
 * the object schema SCHEMA of WHAT ("prompt file 'x'", "tool 'y'"): every
 * required member given or in DEFAULTS, each missing one reported at LOC;
 * when the schema is closed (additionalProperties: false, or absent and
 * CLOSED_BY_DEFAULT) no member outside its properties. */
struct pc_schema_inputs {
    const cJSON *schema, *defaults; /* defaults may be NULL */
    const char *what;
    struct pc_loc loc;
    bool closed_by_default;
};
void pc_check_schema_inputs(struct pc_build *b, const struct pc_step *s,
                            const struct pc_schema_inputs *w);

/* pomlc --lint on a prompt file by itself: 0 when clean. */
int pc_lint_prompt(struct pc_ctx *ctx, struct pc_catalog *cat,
                   const char *path);

#endif
