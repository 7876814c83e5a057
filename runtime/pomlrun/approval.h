/* approval.h -- approval steps and the decisions on escalations, kept in
 * the state file (approval.c) */
#ifndef POML_APPROVAL_H
#define POML_APPROVAL_H

#include "run.h"

/* The executor of approval steps; the run's opt.host is its recorder. */
extern const struct pr_executor pr_exec_approval;
/* The decisions on escalated jobs, from the recorder's state file. */
extern const struct pr_answers pr_answers_state;

#endif
