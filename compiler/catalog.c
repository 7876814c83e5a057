/* catalog.c -- the standard library's catalogs: models, agents, tools
 *
 * Each catalog file is read once per compilation through the YAML front
 * end and checked with the same readers as workflows.  Names and aliases
 * share one namespace per catalog.
 */
#include "catalog.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "read.h"

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *pc_stdlib_dir(const char *option, const char *argv0)
{
    static char buf[PATH_MAX];
    if (option && *option)
        return option;
    const char *env = getenv("POML_STDLIB");
    if (env && *env)
        return env;
    /* beside the executable: a build tree, or a relocated install */
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 32);
    if (n > 0) {
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash + 1, "stdlib");
            if (is_dir(buf))
                return buf;
            strcpy(slash + 1, "../share/poml/stdlib");
            if (is_dir(buf))
                return buf;
        }
    }
    (void)argv0;
    return POML_STDLIB_DIR;
}

void pc_catalog_init(struct pc_catalog *cat, const char *dir)
{
    memset(cat, 0, sizeof *cat);
    cat->dir = dir;
}

/* Reads DIR/NAME; NULL after reporting why. */
static struct pc_node *load(struct pc_ctx *ctx, struct pc_catalog *cat,
                            const char *name)
{
    char *path = pr_arena_printf(&ctx->arena, "%s/%s", cat->dir, name);
    if (!path) {
        pc_oom(ctx);
        return NULL;
    }
    struct pc_source *s = pc_ctx_read_source(ctx, &ctx->arena, path);
    if (!s) {
        pc_report(ctx, PC_D_IMPORT, (struct pc_loc){0, 0, 0},
                  "cannot read the standard library file '%s'; set "
                  "POML_STDLIB or --stdlib to the stdlib directory",
                  path);
        return NULL;
    }
    const char **slot = PR_PUSH(&ctx->arena, cat->files, cat->nfiles,
                                cat->capfiles);
    if (slot)
        *slot = path;
    uint32_t f = pc_ctx_add_source(ctx, s);
    struct pc_node *root = pc_yaml_parse(ctx, f);
    if (root && root->kind != PC_NODE_MAP) {
        pc_report(ctx, PC_D_WRONG_TYPE, root->loc,
                  "a catalog file must be a mapping");
        return NULL;
    }
    return root;
}

static bool name_taken(struct pc_catalog *cat, const char *name)
{
    return pc_catalog_model(cat, name) != NULL;
}

static void add_alias(struct pc_ctx *ctx, struct pc_catalog *cat,
                      const char *alias, uint32_t model, struct pc_loc loc)
{
    if (name_taken(cat, alias)) {
        pc_report(ctx, PC_D_DUPLICATE_ID, loc,
                  "catalog name '%s' is already taken", alias);
        return;
    }
    struct pc_alias *a = PR_PUSH(&ctx->arena, cat->aliases, cat->naliases,
                                 cat->capaliases);
    if (!a) {
        pc_oom(ctx);
        return;
    }
    a->name = alias;
    a->model = model;
}

static const char *const provider_keys[] = {"protocol",    "base_url",
                                            "api_key_env", "base_url_env",
                                            "description", NULL};
static const char *const model_keys[] = {"provider",
                                         "id",
                                         "aliases",
                                         "context_window",
                                         "max_output_tokens",
                                         "input_per_mtok",
                                         "output_per_mtok",
                                         "capabilities",
                                         "strengths",
                                         "description",
                                         NULL};
static const char *const cap_keys[] = {"description", "models", NULL};

/* Fills a model from its catalog entry; PROVIDERS is the providers map. */
static void read_model(struct pc_ctx *ctx, struct pc_model *m,
                       const struct pc_node *def,
                       const struct pc_node *providers)
{
    pc_check_keys(ctx, def, model_keys, "model");
    const struct pc_node *v;
    if ((v = pc_map_get(def, "provider"))) {
        m->provider = pc_get_str(ctx, v, "provider");
        const struct pc_node *p = m->provider
                                      ? pc_map_get(providers, m->provider)
                                      : NULL;
        if (m->provider && !p) {
            pc_report(ctx, PC_D_UNKNOWN_MODEL, v->loc, "unknown provider '%s'",
                      m->provider);
        } else if (p) {
            pc_check_keys(ctx, p, provider_keys, "provider");
            const struct pc_node *q;
            if ((q = pc_map_get(p, "protocol"))) {
                m->protocol = pc_get_str(ctx, q, "protocol");
                if (m->protocol && strcmp(m->protocol, "openai") &&
                    strcmp(m->protocol, "anthropic"))
                    pc_report(ctx, PC_D_BAD_VALUE, q->loc,
                              "'protocol' must be openai or anthropic");
            }
            if ((q = pc_map_get(p, "base_url")))
                m->base_url = pc_get_str(ctx, q, "base_url");
            if ((q = pc_map_get(p, "api_key_env")))
                m->api_key_env = pc_get_str(ctx, q, "api_key_env");
            if ((q = pc_map_get(p, "base_url_env")))
                m->base_url_env = pc_get_str(ctx, q, "base_url_env");
        }
    } else {
        pc_report(ctx, PC_D_MISSING_FIELD, def->loc,
                  "model '%s' has no 'provider'", m->name);
    }
    m->wire_id = m->name;
    if ((v = pc_map_get(def, "id")))
        m->wire_id = pc_get_str(ctx, v, "id");
    if ((v = pc_map_get(def, "context_window")))
        pc_get_uint(ctx, v, "context_window", UINT32_MAX, &m->context_window);
    if ((v = pc_map_get(def, "max_output_tokens")))
        pc_get_uint(ctx, v, "max_output_tokens", UINT32_MAX,
                    &m->max_output_tokens);
    if ((v = pc_map_get(def, "input_per_mtok")))
        pc_get_num(ctx, v, "input_per_mtok", &m->input_per_mtok);
    if ((v = pc_map_get(def, "output_per_mtok")))
        pc_get_num(ctx, v, "output_per_mtok", &m->output_per_mtok);
    if ((v = pc_map_get(def, "capabilities")))
        m->features = pc_get_str_list(ctx, v, "capabilities", &m->nfeatures,
                                      NULL);
}

static int load_models(struct pc_ctx *ctx, struct pc_catalog *cat);

/* Loads once; a catalog that failed to load keeps saying so, and callers
 * then stay quiet about names it would have defined. */
int pc_catalog_models(struct pc_ctx *ctx, struct pc_catalog *cat)
{
    if (!cat->loaded_models) {
        cat->loaded_models = true;
        unsigned errors = ctx->nerrors;
        cat->models_rc = load_models(ctx, cat);
        if (ctx->nerrors != errors)
            cat->models_rc = -1;
    }
    return cat->models_rc;
}

static int load_models(struct pc_ctx *ctx, struct pc_catalog *cat)
{
    struct pc_node *root = load(ctx, cat, "models.poml");
    if (!root)
        return -1;
    static const char *const top[] = {"providers", "models", "capabilities",
                                      NULL};
    pc_check_keys(ctx, root, top, "the model catalog");
    const struct pc_node *providers = pc_map_get(root, "providers");
    const struct pc_node *models = pc_map_get(root, "models");
    if (models && pc_want_kind(ctx, models, PC_NODE_MAP, "models")) {
        for (size_t i = 0; i < models->len; i++) {
            const struct pc_node *k = models->pairs[i].key;
            const struct pc_node *def = models->pairs[i].value;
            if (!pc_want_kind(ctx, def, PC_NODE_MAP, k->str))
                continue;
            if (name_taken(cat, k->str)) {
                pc_report(ctx, PC_D_DUPLICATE_ID, k->loc,
                          "catalog name '%s' is already taken", k->str);
                continue;
            }
            struct pc_model *m = PR_PUSH(&ctx->arena, cat->models,
                                         cat->nmodels, cat->capmodels);
            if (!m) {
                pc_oom(ctx);
                return -1;
            }
            m->name = k->str;
            read_model(ctx, m, def, providers);
            const struct pc_node *al = pc_map_get(def, "aliases");
            size_t na;
            struct pc_loc *locs;
            const char **aliases = pc_get_str_list(ctx, al, "aliases", &na,
                                                   &locs);
            for (size_t j = 0; j < na; j++)
                add_alias(ctx, cat, aliases[j], (uint32_t)(cat->nmodels - 1),
                          locs[j]);
        }
    }
    const struct pc_node *caps = pc_map_get(root, "capabilities");
    if (caps && pc_want_kind(ctx, caps, PC_NODE_MAP, "capabilities")) {
        for (size_t i = 0; i < caps->len; i++) {
            const struct pc_node *k = caps->pairs[i].key;
            const struct pc_node *def = caps->pairs[i].value;
            if (!pc_want_kind(ctx, def, PC_NODE_MAP, k->str))
                continue;
            pc_check_keys(ctx, def, cap_keys, "capability");
            struct pc_capability *c = PR_PUSH(&ctx->arena, cat->caps,
                                              cat->ncaps, cat->capcaps);
            if (!c) {
                pc_oom(ctx);
                return -1;
            }
            c->name = k->str;
            const struct pc_node *v;
            if ((v = pc_map_get(def, "description")))
                c->description = pc_get_str(ctx, v, "description");
            struct pc_loc *locs;
            c->models = pc_get_str_list(ctx, pc_map_get(def, "models"),
                                        "models", &c->nmodels, &locs);
            for (size_t j = 0; j < c->nmodels; j++)
                if (!pc_catalog_model(cat, c->models[j]))
                    pc_report(ctx, PC_D_UNKNOWN_MODEL, locs[j],
                              "unknown model '%s' in capability '%s'",
                              c->models[j], c->name);
        }
    }
    return 0;
}

static int load_agents(struct pc_ctx *ctx, struct pc_catalog *cat);

/* Loads once; a catalog that failed to load keeps saying so, and callers
 * then stay quiet about names it would have defined. */
int pc_catalog_agents(struct pc_ctx *ctx, struct pc_catalog *cat)
{
    if (!cat->loaded_agents) {
        cat->loaded_agents = true;
        unsigned errors = ctx->nerrors;
        cat->agents_rc = load_agents(ctx, cat);
        if (ctx->nerrors != errors)
            cat->agents_rc = -1;
    }
    return cat->agents_rc;
}

static int load_agents(struct pc_ctx *ctx, struct pc_catalog *cat)
{
    struct pc_node *root = load(ctx, cat, "commands.poml");
    if (!root)
        return -1;
    static const char *const top[] = {"agents", NULL};
    static const char *const keys[] = {"description", "capability", "model",
                                       "system", NULL};
    pc_check_keys(ctx, root, top, "the command catalog");
    const struct pc_node *agents = pc_map_get(root, "agents");
    if (!agents || !pc_want_kind(ctx, agents, PC_NODE_MAP, "agents"))
        return -1;
    for (size_t i = 0; i < agents->len; i++) {
        const struct pc_node *k = agents->pairs[i].key;
        const struct pc_node *def = agents->pairs[i].value;
        if (!pc_want_kind(ctx, def, PC_NODE_MAP, k->str))
            continue;
        pc_check_keys(ctx, def, keys, "agent");
        struct pc_agent *a = PR_PUSH(&ctx->arena, cat->agents, cat->nagents,
                                     cat->capagents);
        if (!a) {
            pc_oom(ctx);
            return -1;
        }
        a->name = k->str;
        a->loc = k->loc;
        const struct pc_node *v;
        if ((v = pc_map_get(def, "description")))
            a->description = pc_get_str(ctx, v, "description");
        if ((v = pc_map_get(def, "capability")))
            a->capability = pc_get_str(ctx, v, "capability");
        if ((v = pc_map_get(def, "model")))
            a->model = pc_get_str(ctx, v, "model");
        if ((v = pc_map_get(def, "system")))
            a->system = pc_get_str(ctx, v, "system");
    }
    return 0;
}

static int load_tools(struct pc_ctx *ctx, struct pc_catalog *cat);

/* Loads once; a catalog that failed to load keeps saying so, and callers
 * then stay quiet about names it would have defined. */
int pc_catalog_tools(struct pc_ctx *ctx, struct pc_catalog *cat)
{
    if (!cat->loaded_tools) {
        cat->loaded_tools = true;
        unsigned errors = ctx->nerrors;
        cat->tools_rc = load_tools(ctx, cat);
        if (ctx->nerrors != errors)
            cat->tools_rc = -1;
    }
    return cat->tools_rc;
}

static int load_tools(struct pc_ctx *ctx, struct pc_catalog *cat)
{
    struct pc_node *root = load(ctx, cat, "tools.poml");
    if (!root)
        return -1;
    static const char *const top[] = {"servers", "tools", NULL};
    static const char *const skeys[] = {"command", "description", NULL};
    static const char *const tkeys[] = {"server",        "name",
                                        "description",   "input_schema",
                                        "output_schema", NULL};
    pc_check_keys(ctx, root, top, "the tool catalog");
    const struct pc_node *servers = pc_map_get(root, "servers");
    const struct pc_node *tools = pc_map_get(root, "tools");
    cat->servers = servers && servers->kind == PC_NODE_MAP ? servers : NULL;
    if (servers)
        for (size_t i = 0; servers->kind == PC_NODE_MAP && i < servers->len;
             i++)
            pc_check_keys(ctx, servers->pairs[i].value, skeys, "server");
    if (!tools || !pc_want_kind(ctx, tools, PC_NODE_MAP, "tools"))
        return -1;
    for (size_t i = 0; i < tools->len; i++) {
        const struct pc_node *k = tools->pairs[i].key;
        const struct pc_node *def = tools->pairs[i].value;
        if (!pc_want_kind(ctx, def, PC_NODE_MAP, k->str))
            continue;
        pc_check_keys(ctx, def, tkeys, "tool");
        struct pc_tool *t = PR_PUSH(&ctx->arena, cat->tools, cat->ntools,
                                    cat->captools);
        if (!t) {
            pc_oom(ctx);
            return -1;
        }
        t->name = k->str;
        t->remote_name = k->str;
        const struct pc_node *v;
        if ((v = pc_map_get(def, "name")))
            t->remote_name = pc_get_str(ctx, v, "name");
        t->input_schema = pc_get_map(ctx, def, "input_schema");
        t->output_schema = pc_get_map(ctx, def, "output_schema");
        if ((v = pc_map_get(def, "server"))) {
            t->server = pc_get_str(ctx, v, "server");
            const struct pc_node *s = t->server
                                          ? pc_map_get(servers, t->server)
                                          : NULL;
            if (t->server && !s)
                pc_report(ctx, PC_D_UNKNOWN_TOOL, v->loc,
                          "unknown server '%s'", t->server);
            else if (s)
                t->argv = pc_get_str_list(ctx, pc_map_get(s, "command"),
                                          "command", &t->argc, NULL);
        }
    }
    return 0;
}

bool pc_catalog_visible(const struct pc_catalog *cat, const struct pc_model *m)
{
    return !m->owner || m->owner == cat->scope;
}

struct pc_model *pc_catalog_model(struct pc_catalog *cat, const char *name)
{
    /* the workflow's own definition first: it shadows the catalog's */
    for (size_t i = 0; i < cat->nmodels; i++)
        if (strcmp(cat->models[i].name, name) == 0 && cat->models[i].owner &&
            cat->models[i].owner == cat->scope)
            return &cat->models[i];
    for (size_t i = 0; i < cat->nmodels; i++)
        if (strcmp(cat->models[i].name, name) == 0 && !cat->models[i].owner)
            return &cat->models[i];
    for (size_t i = 0; i < cat->naliases; i++)
        if (strcmp(cat->aliases[i].name, name) == 0)
            return &cat->models[cat->aliases[i].model];
    return NULL;
}

struct pc_capability *pc_catalog_capability(struct pc_catalog *cat,
                                            const char *name)
{
    for (size_t i = 0; i < cat->ncaps; i++)
        if (strcmp(cat->caps[i].name, name) == 0)
            return &cat->caps[i];
    return NULL;
}

struct pc_agent *pc_catalog_agent(struct pc_catalog *cat, const char *name)
{
    for (size_t i = cat->nagents; i-- > 0;)
        if (strcmp(cat->agents[i].name, name) == 0)
            return &cat->agents[i];
    return NULL;
}

struct pc_tool *pc_catalog_tool(struct pc_catalog *cat, const char *name)
{
    for (size_t i = 0; i < cat->ntools; i++)
        if (strcmp(cat->tools[i].name, name) == 0)
            return &cat->tools[i];
    return NULL;
}

struct pc_tool *pc_catalog_server_tool(struct pc_ctx *ctx,
                                       struct pc_catalog *cat,
                                       const char *name,
                                       const char *const *wf_argv,
                                       size_t wf_argc)
{
    const char *dot = strchr(name, '.');
    if (!dot || dot == name || !dot[1])
        return NULL;
    char *server = pr_arena_strndup(&ctx->arena, name, (size_t)(dot - name));
    if (!server) {
        pc_oom(ctx);
        return NULL;
    }
    const char **argv = NULL;
    size_t argc = 0;
    if (wf_argv) {
        argv = (const char **)wf_argv;
        argc = wf_argc;
    } else {
        const struct pc_node *s = cat->servers
                                      ? pc_map_get(cat->servers, server)
                                      : NULL;
        if (!s || s->kind != PC_NODE_MAP)
            return NULL;
        argv = pc_get_str_list(ctx, pc_map_get(s, "command"), "command",
                               &argc, NULL);
    }
    struct pc_tool *t = PR_PUSH(&ctx->arena, cat->tools, cat->ntools,
                                cat->captools);
    if (!t) {
        pc_oom(ctx);
        return NULL;
    }
    t->name = name;
    t->server = server;
    t->remote_name = dot + 1;
    t->argv = argv;
    t->argc = argc;
    return t;
}

struct pc_model *pc_catalog_add_model(struct pc_ctx *ctx,
                                      struct pc_catalog *cat, const char *name)
{
    struct pc_model *m = PR_PUSH(&ctx->arena, cat->models, cat->nmodels,
                                 cat->capmodels);
    if (!m) {
        pc_oom(ctx);
        return NULL;
    }
    m->name = name;
    m->wire_id = name;
    m->owner = cat->scope;
    return m;
}

static const char *suggest(const char *name, const char *const *names,
                           size_t n)
{
    return n ? pc_closest(name, names, n) : NULL;
}

/* The closest of the names of ARR[i] for which KEEP holds. */
#define SUGGEST_FROM(arr, count, field, keep)                                 \
    do {                                                                      \
        const char **names = malloc(((count) + 1) * sizeof *names);           \
        size_t kept = 0;                                                      \
        if (!names)                                                           \
            return NULL;                                                      \
        for (size_t i = 0; i < (count); i++)                                  \
            if (keep)                                                         \
                names[kept++] = (arr)[i] field;                               \
        const char *r = suggest(name, names, kept);                           \
        free(names);                                                          \
        return r;                                                             \
    } while (0)

const char *pc_catalog_suggest_model(struct pc_catalog *cat, const char *name)
{
    SUGGEST_FROM(cat->models, cat->nmodels, .name,
                 pc_catalog_visible(cat, &cat->models[i]));
}

const char *pc_catalog_suggest_capability(struct pc_catalog *cat,
                                          const char *name)
{
    SUGGEST_FROM(cat->caps, cat->ncaps, .name, true);
}

const char *pc_catalog_suggest_agent(struct pc_catalog *cat, const char *name)
{
    SUGGEST_FROM(cat->agents, cat->nagents, .name, true);
}
