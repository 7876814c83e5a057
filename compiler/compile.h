/* compile.h -- the compiler's passes and what they share
 *
 * pc_compile reads a workflow file and runs the passes in order: reading
 * (workflow.c, arrow.c), then analysis (analyze.c).  Each pass reports into
 * the context and carries on, so one run shows every error of a file.  The
 * sub-workflows the steps name are compiled in turn (compile.c).
 */
#ifndef POML_COMPILE_H
#define POML_COMPILE_H

#include "catalog.h"
#include "ir.h"

struct pc_build {
    struct pc_ctx *ctx;
    struct pc_catalog *cat;
    struct pc_workflow *wf;
    const char *dir;          /* directory of the file */
    const char *root;         /* canonical directory of the file
                                 compiled: the tree it may read */
    struct pc_loc root_loc;   /* the document */
    size_t steps_end;         /* steps: entries end here */
    unsigned errors_at_start; /* ctx errors before this file */
    uint32_t *ids;            /* open-addressing table of step ids */
    size_t idcap;
    const char **imported; /* files imported so far */
    size_t nimported, capimported;
    bool prompt_alone; /* a prompt file checked without the
                          workflow that would define its model */
};

/* Compiles PATH, and the sub-workflows it names, into *OUT.  Returns 0
 * when no error was reported. */
int pc_compile(struct pc_ctx *ctx, struct pc_catalog *cat, const char *path,
               struct pc_workflow **out);
/* The same for a source already in memory (its path names it in messages
 * and anchors relative imports). */
int pc_compile_source(struct pc_ctx *ctx, struct pc_catalog *cat,
                      struct pc_source *src, struct pc_workflow **out);

/* PATH with symbolic links and dots resolved, or PATH when that fails. */
const char *pc_canonical(struct pc_ctx *ctx, const char *path);

/* The directory of PATH ("." when it has none), for relative names. */
const char *pc_dir_of(struct pc_ctx *ctx, const char *path);

/* workflow.c */
int pc_read_workflow(struct pc_build *b, const struct pc_node *root);
struct pc_step *pc_add_step(struct pc_build *b, const char *id,
                            struct pc_loc loc);
int pc_add_dep(struct pc_build *b, struct pc_step *s, uint32_t on,
               bool order_only, bool implied, struct pc_loc loc);
long pc_step_index(struct pc_build *b, const char *id);
void pc_suggest_step(struct pc_build *b, struct pc_diag *d, const char *id);
void pc_add_file(struct pc_build *b, const char *path);
/* The path of the file NAME that a workflow names as WHAT ("import",
 * "prompt file", "partial", "sub-workflow"): relative to DIR (NULL: the
 * workflow's directory), or to the standard library after "stdlib/" (a
 * sub-workflow "stdlib:NAME" is its templates/NAME.poml).  An existing
 * file must lie, symbolic links resolved, under ROOT, the standard
 * library or a directory the catalog allows; otherwise NULL, after
 * saying where the boundary is. */
const char *pc_source_file(struct pc_build *b, const char *dir,
                           const char *name, struct pc_loc loc,
                           const char *what);
int pc_read_step(struct pc_build *b, const struct pc_node *def,
                 struct pc_step *s);
/* pc_read_step without the check of DEF's keys, for the forms (/chain,
 * /flow, /pipeline) that check them against their own narrower list. */
int pc_read_step_fields(struct pc_build *b, const struct pc_node *def,
                        struct pc_step *s);
struct pc_model *pc_use_model(struct pc_build *b, const char *name,
                              struct pc_loc loc);
/* A model the workflow defines, else one of the catalog (reported when
 * unknown). */
struct pc_model *pc_find_model(struct pc_build *b, const char *name,
                               struct pc_loc loc);
const char *pc_resolve_agent(struct pc_build *b, const char *name,
                             struct pc_loc loc, struct pc_step *s);
struct pc_param *pc_find_param(struct pc_workflow *wf, const char *name);
struct pc_param *pc_add_param(struct pc_build *b, const char *name,
                              struct pc_loc loc);

/* arrow.c: chain / flow / swarm / pipeline, compact and YAML forms */
int pc_read_arrows(struct pc_build *b, const struct pc_node *root);
bool pc_is_arrow_key(const char *key);

/* analyze.c */
int pc_analyze(struct pc_build *b);

/* typecheck.c: typed data flow.  prepare gives the parameters and the
 * declared and schema outputs their types (before references are
 * resolved); check types every expression once the steps are ordered;
 * check_subs the parameters given to sub-workflows, once compiled. */
void pc_types_prepare(struct pc_build *b);
/* The tool NAME names, as a step's `tool:` finds it: the workflow's own
 * definition, else the catalog's, with the schemas it states; false
 * when neither has it (SERVER.TOOL names state no schemas). */
struct pc_tool_def {
    const struct pc_node *input_schema, *output_schema; /* or NULL */
};
bool pc_tool_def(struct pc_build *b, const char *name,
                 struct pc_tool_def *out);
void pc_types_check(struct pc_build *b);
void pc_types_check_subs(struct pc_build *b);
/* An LLM step whose output schema is an object with properties: they are
 * its outputs (when it declares none); pc_schema_output says whether NAME
 * is one. */
bool pc_schema_has_outputs(const struct pc_step *s);
/* NAME is an output every step of kind K has (status, attempts, stdout of
 * a shell step, ...): the one table of them, with their types. */
bool pc_fixed_output(enum pc_step_kind k, const char *name);
bool pc_schema_output(const struct pc_step *s, const char *name);
/* The type of output NAME of step S as other steps read it. */
const struct pc_ty *pc_output_type(struct pr_arena *a, const struct pc_step *s,
                                   const char *name);

/* Every output of S, each {"type": TEXT, "schema": JSON Schema}; NULL
 * when out of memory. */
cJSON *pc_output_types_json(struct pr_arena *a, const struct pc_step *s);

/* The built-in aggregation strategies. */
bool pc_is_builtin_strategy(const char *name);
extern const char *const pc_builtin_strategies[];

#endif
