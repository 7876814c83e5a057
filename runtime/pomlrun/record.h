/* record.h -- keeping a run in the store (record.c) */
#ifndef POML_RECORD_H
#define POML_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "run.h"

struct pr_store;
struct pr_memos;

struct pr_recorder {
    struct pr_observer obs; /* register with pr_run_observe */
    struct pr_store *store; /* NULL: none, or it failed */
    struct pr_run *run;
    uint64_t seq;   /* events written (a resumed run: before, too) */
    uint64_t timer; /* the turn's commit, or 0 */
    bool resumed;   /* the run is an earlier one, resumed */
    bool urgent;    /* the transaction commits at the end of the turn */
    const struct pr_memos *memo; /* what decided each job, or NULL */
};

/* Prepares REC to keep runs in STORE (taken over). */
void pr_record_init(struct pr_recorder *rec, struct pr_store *store);
/* Says the store failed (its error), once, drops it, and stops the run
 * from starting steps: what runs finishes, and the run fails. */
void pr_record_failed(struct pr_recorder *rec);
/* Opens the turn's transaction for a write of the caller's: the store,
 * or NULL when there is none (any more). */
struct pr_store *pr_record_begin(struct pr_recorder *rec);
/* After a write of the caller's that returned RC. */
void pr_record_check(struct pr_recorder *rec, int rc);
/* Commits what was written at the end of this turn of the loop, not at
 * the end of the window. */
void pr_record_urgent(struct pr_recorder *rec);

/* How long a transaction stays open for more writes, seconds: what a
 * kill of pomlrun can lose (those jobs run again when it is resumed). */
#define PR_RECORD_WINDOW 0.010
/* The plan's hash as the store keeps it (hex of its two checksums). */
void pr_record_plan_hash(const struct pr_plan *p, char out[24]);
/* Closes the store. */
void pr_record_close(struct pr_recorder *rec);

#endif
