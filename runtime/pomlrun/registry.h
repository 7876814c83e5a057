/* registry.h -- the executors pomlrun runs steps with
 *
 * The scheduler (exec/sched.c) names no executor: it runs each step with
 * the executor the table it is given holds for the step's kind.  This is
 * where the kinds meet their executors, from every layer: shell, gate,
 * aggregate and sub-workflow steps (exec/), LLM steps (llm/), approval
 * steps (approval.c, in the state file), MCP tool steps (exec_tool.c,
 * on the client of mcp/).  What the run spent on model calls
 * reaches the result (report.c) through the table's usage.  A
 * sub-workflow runs as a child pomlrun, which fills its own table here.
 */
#ifndef POML_REGISTRY_H
#define POML_REGISTRY_H

#include "run.h"

/* The table for a run of pomlrun. */
extern const struct pr_exec_table pr_registry;

/* MCP tool steps (exec_tool.c). */
extern const struct pr_executor pr_exec_tool;

#endif
