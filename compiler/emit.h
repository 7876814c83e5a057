/* emit.h -- the compiler's outputs: plan file, Graphviz, JSON, statistics,
 * make dependency files
 */
#ifndef POML_EMIT_H
#define POML_EMIT_H

#include <stdint.h>
#include <stdio.h>

#include "catalog.h"
#include "ir.h"

/* Serialises WF into a plan file image (malloc'd).  0, or -1 with the
 * reason in WHY ("out of memory", or a field the writer refused). */
int pc_emit_plan(struct pc_ctx *ctx, struct pc_catalog *cat,
                 struct pc_workflow *wf, uint8_t **out, size_t *size,
                 char *why, size_t whycap);

/* Graphviz: steps grouped by stage, the critical path in red. */
void pc_emit_dot(struct pc_workflow *wf, FILE *out);
/* The IR as JSON.  0, or -1 with errno set (ENOMEM: nothing written). */
int pc_emit_json(struct pc_workflow *wf, FILE *out);
/* Counts, critical path and static upper bounds on LLM calls and cost. */
void pc_emit_stats(struct pc_workflow *wf, FILE *out);
/* A make rule "TARGET: every file read"; PHONY adds an empty rule for each
 * dependency, as gcc -MP does. */
int pc_emit_deps(struct pc_workflow *wf, const char *target, bool phony,
                 FILE *out);
const char *pc_step_kind_name(enum pc_step_kind k);

#endif
