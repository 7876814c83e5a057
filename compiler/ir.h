/* ir.h -- the checked workflow: what the front end hands to the back end
 *
 * Everything here is resolved and validated: step kinds, references,
 * dependencies (explicit and implied), topological order, stages and the
 * critical path.  Strings and nodes live in the compilation arena.  The plan
 * writer serialises this; nothing after analysis goes back to the YAML.
 */
#ifndef POML_IR_H
#define POML_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "expr.h"
#include "yaml.h"

struct pc_ty; /* types.h */

enum pc_type {
    PC_T_ANY,
    PC_T_STRING,
    PC_T_INTEGER,
    PC_T_NUMBER,
    PC_T_BOOLEAN,
    PC_T_ARRAY,
    PC_T_OBJECT
};

enum pc_step_kind {
    PC_STEP_GATE,      /* no action: a join point or a condition */
    PC_STEP_SHELL,     /* run: */
    PC_STEP_LLM,       /* model / agent / agent_capability */
    PC_STEP_TOOL,      /* tool: an MCP tool */
    PC_STEP_AGGREGATE, /* type: aggregator */
    PC_STEP_WORKFLOW,  /* workflow: a sub-workflow */
    PC_STEP_APPROVAL   /* type: approval: a person's answer */
};

enum pc_backoff { PC_BACKOFF_EXPONENTIAL, PC_BACKOFF_FIXED, PC_BACKOFF_NONE };

/* A value written in the workflow whose strings may hold ${...}: inputs,
 * sub-workflow parameters, tool arguments. */
enum pc_tval_kind {
    PC_TV_NULL,
    PC_TV_BOOL,
    PC_TV_NUM,
    PC_TV_STR,
    PC_TV_LIST,
    PC_TV_MAP
};

struct pc_tval {
    enum pc_tval_kind kind;
    struct pc_loc loc;
    bool b;
    double num;
    struct pc_interp *str;  /* PC_TV_STR */
    size_t len;             /* items or pairs */
    struct pc_tval **items; /* PC_TV_LIST, and PC_TV_MAP values */
    const char **keys;      /* PC_TV_MAP */
};

struct pc_retry {
    unsigned max_attempts; /* 1: no retry; 0: not set (pc_attempts) */
    enum pc_backoff backoff;
    double initial_delay; /* seconds */
    double max_delay;     /* seconds */
};

struct pc_budget {
    double max_cost_usd; /* 0: no limit */
    uint64_t max_tokens;
    uint64_t max_llm_calls;
};

struct pc_model {     /* a catalog entry */
    const char *name; /* catalog name */
    const char *provider;
    const char *protocol; /* openai | anthropic */
    const char *wire_id;
    const char *base_url;
    const char *api_key_env;
    const char *base_url_env;
    double input_per_mtok, output_per_mtok;
    uint64_t context_window, max_output_tokens;
    const char **features;
    size_t nfeatures;
    const void *owner; /* the workflow defining it; NULL: catalog */
};

/* A prompt file or a partial, compiled once per workflow. */
struct pc_prompt {
    const char *name; /* the plan's key: the prompt_file as steps
                         write it, or a partial's file relative
                         to the workflow's directory */
    const char *path; /* the file as opened */
    bool partial;
    uint32_t file;               /* its source (0: not read) */
    const struct pc_node *front; /* the frontmatter, or NULL */
    struct pc_tpl *tpl;          /* the body (handlebars.h) */
    const char *title;           /* frontmatter name */
    const char *description;
    const char *model_name;
    struct pc_loc model_loc;
    struct pc_model *model;    /* model_name, resolved */
    const char *config;        /* JSON text, or NULL */
    const char *input_schema;  /* JSON Schema text, or NULL */
    const char *input_default; /* JSON text, or NULL */
    const char *output_format; /* json / text, or NULL */
    const char *output_schema; /* JSON Schema text, or NULL */
    uint32_t index;            /* in PROMPTS, set by the writer */
};

struct pc_param {
    const char *name;
    struct pc_loc loc;
    enum pc_type type;
    bool required;
    bool implicit;         /* declared by use, -Wimplicit-parameter */
    struct pc_node *def;   /* NULL: no default */
    struct pc_node *enumv; /* a sequence, or NULL */
    const char *description;
    bool used;
    const struct pc_node *node; /* its declaration, or NULL */
    const struct pc_ty *ty;     /* its type (typecheck.c) */
};

struct pc_dep {
    uint32_t step;   /* index into workflow steps (source order) */
    bool order_only; /* "after": runs whatever the outcome */
    bool implied;    /* from a reference, not written */
    struct pc_loc loc;
};

struct pc_step {
    const char *id;
    struct pc_loc loc;      /* the id, or the step if it has none */
    struct pc_loc node_loc; /* the whole step */
    const char *name;
    const char *description;
    enum pc_step_kind kind;

    struct pc_interp *run; /* shell */
    const char *shell_dir; /* working directory, relative */
    struct pc_tval *env;   /* extra environment */

    struct pc_model *model; /* llm: resolved model */
    const char *agent;
    const char *capability;
    struct pc_interp *prompt;
    const char *prompt_file;
    struct pc_loc prompt_file_loc;
    struct pc_prompt *prompt_def; /* prompt_file, compiled */
    struct pc_interp *system;
    struct pc_model **fallback;
    size_t nfallback;
    struct pc_model **cap_rest; /* a capability's models after
                                   the step's: its fallbacks
                                   unless it names its own */
    size_t ncap_rest, capcap_rest;
    const struct pc_routing *routing; /* its own or the workflow's */
    double temperature; /* < 0: provider default */
    uint64_t max_tokens;
    bool json_output;
    struct pc_node *output_schema;
    const char *output_schema_json; /* from the prompt file, when the
                                       step has no output of its own */
    const char **tools;             /* tools the model may call */
    size_t ntools;
    unsigned best_of;      /* 0: off */
    const char *judge;     /* step id judging best_of */
    const char *judge_of;  /* the best_of step this one
                              judges: it runs only as part
                              of that step's strategy */
    struct pc_expr *score; /* or an expression ranking the
                              candidates (item: one) */
    struct pc_model **cascade;
    size_t ncascade;

    const char *tool;     /* tool step */
    const struct pc_node *tool_input_schema;  /* as its definition states */
    const struct pc_node *tool_output_schema; /* them, or NULL (typecheck.c) */
    const char *strategy; /* aggregator */
    const char *workflow; /* sub-workflow file */
    struct pc_loc workflow_loc;
    struct pc_tval *with; /* sub-workflow parameters */

    struct pc_dep *deps;
    size_t ndeps, capdeps;
    bool parallel;
    struct pc_expr *condition;
    struct pc_expr *for_each;
    struct pc_tval *inputs;
    const char **outputs;
    size_t noutputs;
    const struct pc_ty **output_tys; /* [noutputs]: the types declared
                                        under outputs: (NULL: none) */
    const struct pc_ty *schema_ty;   /* the type of its output schema,
                                        or NULL (typecheck.c) */
    double timeout; /* seconds, 0: none */
    struct pc_retry retry;
    bool retry_set;
    bool continue_on_failure;
    bool escalate; /* escalate_to: human (or the workflow's) */
    bool cache;
    double cache_ttl; /* cache: {ttl}: seconds; 0: any age */
    const char *phase;
    struct pc_loc phase_loc, judge_loc, tool_loc, run_loc;
    struct pc_loc *tools_locs;
    struct pc_budget budget;
    unsigned batch_size, parallelism; /* pipeline stages */
    int32_t gate_of_phase;            /* a phase's gate step, else -1 */
    bool synthetic;                   /* made by the compiler */
    struct pc_step_ref {              /* steps its expressions name */
        uint32_t step;
        struct pc_loc loc;
    } * refs;
    size_t nrefs, caprefs;
    const struct pc_node *node; /* the step's mapping, if any */

    /* computed by analysis */
    uint32_t topo;     /* position in topological order */
    uint32_t stage;    /* topological level */
    uint32_t cp_steps; /* longest path to a sink, steps */
    double cp_seconds; /* ... summing timeouts */
    bool on_critical_path;
};

struct pc_phase {
    const char *name;
    struct pc_loc loc;
    const char *description;
    double min_success_rate; /* gate; 0: none */
    struct pc_expr *gate;    /* gate condition, or NULL */
    const char *feedback_to; /* phase to loop back to */
    struct pc_loc feedback_loc;
    bool duplicate; /* a second phase of that name */
    struct pc_expr *feedback_when;
    unsigned max_loops;
    uint32_t gate_step; /* index of its gate step */
    bool has_gate_step;
};

struct pc_alert {
    const char *group, *metric, *op, *severity, *action;
    double threshold;
    const char *unit; /* "s", "%", "" */
    struct pc_loc loc;
};

/* routing: how a capability's model is chosen (compiler/routing.c) */
enum pc_route_by {
    PC_ROUTE_BALANCED, /* the default */
    PC_ROUTE_COST,
    PC_ROUTE_LATENCY,
    PC_ROUTE_QUALITY,
};

struct pc_routing {
    struct pc_loc loc;
    enum pc_route_by by;
    double explore;          /* share of calls to a candidate not the best */
    double explore_max_cost; /* USD per call an explored one may cost;
                                < 0: not given */
    const char **providers;  /* NULL: any */
    size_t nproviders;
    struct pc_loc *provider_locs;
    double max_cost_per_call; /* USD; < 0: no limit */
    uint64_t min_context;     /* tokens; 0: no limit */
};

struct pc_workflow {
    const char *id;
    const char *version;
    const char *description;
    const char *path; /* the main source, as given */
    struct pc_param *params;
    size_t nparams, capparams;
    struct pc_step *steps; /* source order */
    size_t nsteps, capsteps;
    uint32_t *order; /* topological order: step indices */
    uint32_t nstages;
    uint32_t widest_stage;
    uint32_t cp_steps;
    double cp_seconds;

    double sla_max_duration; /* seconds, 0: none */
    struct pc_loc sla_loc;
    double sla_step_timeout; /* default per step, 0: none */
    struct pc_retry default_retry;
    bool default_continue;
    const struct pc_routing *routing; /* workflow level, or NULL */
    struct pc_budget budget;
    const char **allowed_tools;
    size_t nallowed_tools;
    const char **allowed_commands;
    size_t nallowed_commands;
    struct pc_loc *allowed_commands_locs;
    bool policy_tools_set, policy_commands_set;
    struct pc_phase *phases;
    size_t nphases, capphases;
    struct pc_alert *alerts;
    size_t nalerts, capalerts;
    unsigned max_parallel; /* 0: no workflow limit */
    bool max_parallel_llm; /* ... counting LLM steps too */
    bool fail_fast;        /* the first failure stops the run */
    bool no_state;         /* save_state: false */

    struct pc_model **models; /* catalog entries used */
    size_t nmodels, capmodels;
    struct pc_agg_def { /* aggregation: definitions */
        const char *name;
        const char *builtin;   /* the strategy it runs */
        struct pc_interp *run; /* or a command */
        struct pc_loc loc;
    } * aggs;
    size_t naggs, capaggs;
    struct pc_wf_agent { /* agents: definitions */
        const char *name;
        struct pc_model *model;
        const char *capability;
        const char *system;
        struct pc_loc loc;
        const char **needs; /* capabilities: model features */
        size_t nneeds;
        struct pc_loc needs_loc;
        const char **tools; /* tools its steps may call */
        size_t ntools;
        struct pc_loc *tools_locs;
    } * agents;
    size_t nagents, capagents;
    struct pc_wf_tool { /* tools: definitions */
        const char *name;
        const char *server;
        const char *remote_name;
        const char **argv;
        size_t argc;
        const struct pc_node *input_schema, *output_schema; /* or NULL */
        struct pc_loc loc;
    } * tools;
    size_t ntools, captools;
    const char **on_failure_actions; /* error_handling.on_failure, and
                                        the steps' notify (notify@STEP) */
    size_t non_failure_actions, cap_failure_actions;
    bool default_escalate; /* on_failure: [escalate_to: human] */
    struct pc_loc *on_failure_locs; /* [non_failure_actions] */
    unsigned breaker_threshold;     /* circuit breaker, 0: default */
    double breaker_reset;           /* seconds */
    const char **deps_files;        /* every file read: -MD */
    size_t ndeps_files, capdeps_files;
    struct pc_sub {             /* the sub-workflows steps name */
        const char *name;       /* as written: the plan's key */
        struct pc_workflow *wf; /* NULL: not compiled (an error) */
    } * subs;                   /* in the order steps name them */
    size_t nsubs, capsubs;
    struct pc_prompt **prompts; /* prompt files and partials */
    size_t nprompts, capprompts;
};

/* The defaults the plan records: pomlc fills every one in (pc_attempts,
 * and pc_analyze for the rest); pomlrun has none of its own. */
#define PC_DEFAULT_LLM_ATTEMPTS 3      /* as the providers' SDKs retry */
#define PC_DEFAULT_BREAKER_THRESHOLD 5 /* failures that open a breaker */
#define PC_DEFAULT_BREAKER_RESET 60.0  /* seconds until it half-opens */
#define PC_DEFAULT_MAX_LOOPS 1         /* feedback loops of a phase */
#define PC_DEFAULT_LLM_TIMEOUT                                                \
    600.0 /* seconds an LLM step's attempt has                                \
              when nothing sets its timeout */
#define PC_DEFAULT_REPLY_TOKENS                                               \
    4096 /* max_tokens a step sets none of,                                   \
            where the protocol needs one */

/* The attempts a step makes: as set, else PC_DEFAULT_LLM_ATTEMPTS for an
 * LLM step and 1 for the rest. */
static inline unsigned pc_attempts(const struct pc_step *s)
{
    return s->retry.max_attempts    ? s->retry.max_attempts
           : s->kind == PC_STEP_LLM ? PC_DEFAULT_LLM_ATTEMPTS
                                    : 1;
}

#endif
