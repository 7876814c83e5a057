/* routing.h -- the `routing:` key of a workflow and of an LLM step */
#ifndef POML_COMPILER_ROUTING_H
#define POML_COMPILER_ROUTING_H

#include "compile.h"

/* Reads the routing map N (a workflow's or a step's) into a new
 * pc_routing, reporting every bad key and value at its position.
 * Returns NULL on a wrong kind or out of memory. */
struct pc_routing *pc_read_routing(struct pc_build *b, const struct pc_node *n);

/* Applies step S's routing (its own, else the workflow's) to the
 * candidates its capability gave it: drops those outside the
 * restrictions, orders them by the policy when the catalog alone can
 * (by: cost), and reports when none is left.  DEF is the step's map. */
void pc_route_step(struct pc_build *b, const struct pc_node *def,
                   struct pc_step *s);

#endif
