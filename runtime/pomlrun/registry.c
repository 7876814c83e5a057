/* registry.c -- the executors pomlrun runs steps with (registry.h) */
#include "approval.h"
#include "llm.h"
#include "post.h"
#include "registry.h"

/* An aggregation of the workflow's `aggregation:` section that is a
 * `run` command runs as a process, not in pomlrun. */
static const struct pr_executor *choose(const struct pr_plan *p,
                                        const struct pr_step *s)
{
    return pr_agg_command(p, s) != PR_PLAN_NONE ? &pr_exec_agg_cmd : NULL;
}

/* LLM steps count what they spend (llm.c). */
static void usage(const struct pr_run *r, struct pr_usage *u)
{
    pr_llm_totals(r, &u->cost, &u->in_tok, &u->out_tok, &u->calls);
}

const struct pr_exec_table pr_registry = {
    .kind =
        {
            [PR_STEP_GATE] = &pr_exec_gate,
            [PR_STEP_SHELL] = &pr_exec_shell,
            [PR_STEP_LLM] = &pr_exec_llm,
            [PR_STEP_TOOL] = &pr_exec_tool,
            [PR_STEP_AGGREGATE] = &pr_exec_agg,
            [PR_STEP_WORKFLOW] = &pr_exec_sub,
            [PR_STEP_APPROVAL] = &pr_exec_approval,
        },
    .choose = choose,
    .usage = usage,
    .post = pr_post_json,
};
