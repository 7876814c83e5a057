/* catalog.h -- the standard library's catalogs: models, agents, tools
 *
 * Loaded on demand from the stdlib directory (stdlib/models.poml,
 * commands.poml, tools.poml) through the same YAML front end, so a broken
 * catalog is reported like any other source.  Lookups accept names and
 * aliases.
 */
#ifndef POML_CATALOG_H
#define POML_CATALOG_H

#include "ir.h"

struct pc_capability {
    const char *name;
    const char *description;
    const char **models; /* preference order */
    size_t nmodels;
};

struct pc_agent {
    const char *name;
    const char *description;
    const char *capability;
    const char *model;
    const char *system;
    struct pc_loc loc;
};

struct pc_tool {
    const char *name;
    const char *server;
    const char *remote_name;
    const char **argv; /* the server's command */
    size_t argc;
    /* JSON Schemas of its arguments and its structuredContent, as the
     * catalog states them (NULL: not stated) */
    const struct pc_node *input_schema, *output_schema;
};

struct pc_catalog {
    const char *dir;          /* the stdlib directory */
    const char *real_dir;     /* the same, canonical (set on first use) */
    const char *const *allow; /* canonical directories a workflow may
                                 also read from (--allow-path) */
    size_t nallow;
    bool loaded_models, loaded_agents, loaded_tools;
    int models_rc, agents_rc, tools_rc; /* how the first load went */
    struct pc_model *models;
    size_t nmodels, capmodels;
    struct pc_alias {
        const char *name;
        uint32_t model; /* index into models */
    } * aliases;
    size_t naliases, capaliases;
    struct pc_capability *caps;
    size_t ncaps, capcaps;
    struct pc_agent *agents;
    size_t nagents, capagents;
    struct pc_tool *tools;
    size_t ntools, captools;
    const struct pc_node *servers; /* tools.poml's servers, or NULL */
    const char **files; /* catalog files read, for -MD */
    size_t nfiles, capfiles;
    const void *scope; /* the workflow being compiled: the models
                          other workflows define are hidden */
};

/* Finds the stdlib directory: --stdlib, $POML_STDLIB, the directory beside
 * the executable, then the installed one.  Never NULL. */
const char *pc_stdlib_dir(const char *option, const char *argv0);

void pc_catalog_init(struct pc_catalog *cat, const char *dir);

/* Each loads its file once; errors are reported into ctx.  0 or -1. */
int pc_catalog_models(struct pc_ctx *ctx, struct pc_catalog *cat);
int pc_catalog_agents(struct pc_ctx *ctx, struct pc_catalog *cat);
int pc_catalog_tools(struct pc_ctx *ctx, struct pc_catalog *cat);

struct pc_model *pc_catalog_model(struct pc_catalog *cat, const char *name);
/* Whether M is the catalog's or the workflow in scope defines it. */
bool pc_catalog_visible(const struct pc_catalog *cat,
                        const struct pc_model *m);
struct pc_capability *pc_catalog_capability(struct pc_catalog *cat,
                                            const char *name);
struct pc_agent *pc_catalog_agent(struct pc_catalog *cat, const char *name);
struct pc_tool *pc_catalog_tool(struct pc_catalog *cat, const char *name);
/* NAME as SERVER.TOOL: the tool TOOL of SERVER, a server of tools.poml
 * or, when WF_ARGV is not NULL, the one that command starts (a tool of
 * the workflow's own), added to the catalog's tools under NAME so that
 * pc_catalog_tool finds it from then on.  NULL when NAME has no dot or
 * SERVER is unknown. */
struct pc_tool *pc_catalog_server_tool(struct pc_ctx *ctx,
                                       struct pc_catalog *cat,
                                       const char *name,
                                       const char *const *wf_argv,
                                       size_t wf_argc);

/* Adds a model defined by a workflow's models: section, visible while
 * that workflow is in scope. */
struct pc_model *pc_catalog_add_model(struct pc_ctx *ctx,
                                      struct pc_catalog *cat,
                                      const char *name);

/* The closest known name, for "did you mean". */
const char *pc_catalog_suggest_model(struct pc_catalog *cat, const char *name);
const char *pc_catalog_suggest_capability(struct pc_catalog *cat,
                                          const char *name);
const char *pc_catalog_suggest_agent(struct pc_catalog *cat, const char *name);

#endif
