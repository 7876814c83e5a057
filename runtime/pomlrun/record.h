/* record.h -- keeping a run in the store (record.c) */
#ifndef POML_RECORD_H
#define POML_RECORD_H

#include <stdint.h>

#include "run.h"

struct pr_store;

struct pr_recorder {
    struct pr_observer obs; /* register with pr_run_observe */
    struct pr_store *store; /* NULL: none, or it failed */
    struct pr_run *run;
    uint64_t seq;   /* events written */
    uint64_t timer; /* the turn's commit, or 0 */
};

/* Prepares REC to keep runs in STORE (taken over). */
void pr_record_init(struct pr_recorder *rec, struct pr_store *store);
/* Says the store failed (its error), once, and drops it. */
void pr_record_failed(struct pr_recorder *rec);
/* Closes the store. */
void pr_record_close(struct pr_recorder *rec);

#endif
