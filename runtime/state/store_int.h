/* store_int.h -- the backends, for store.c (not an interface: the layer
 * above includes store.h) */
#ifndef POML_STORE_INT_H
#define POML_STORE_INT_H

#include "store.h"

/* store_sqlite.c: the store in the SQLite file at PATH. */
struct pr_store *pr_store_sqlite_open(const char *path, bool sync_full,
                                      char *err, size_t errcap);

/* store_pg.c: the store in the PostgreSQL database URL names (with the
 * PG* variables); NULL with the reason (the password redacted) in ERR. */
struct pr_store *pr_store_pg_open(const char *url, char *err, size_t errcap);

/* URL with every password in it replaced by "***", into OUT. */
void pr_store_pg_redact(const char *url, char *out, size_t cap);

/* store.c, for every backend.  The one run id in L (rows of "id",
 * taken over), a copy to free; NULL with the reason in ERR when L names
 * none or several (WHAT and WHERE name the store, ID what was asked). */
char *pr_store_one_run(cJSON *l, char *err, size_t errcap, const char *what,
                       const char *where, const char *id);

/* The first row of RUN with JOBS under "jobs", each job with its rows
 * of OUTS (step, instance, name, value) as an "outputs" object; all
 * three taken over, NULL when any is NULL. */
cJSON *pr_store_run_tree(cJSON *run, cJSON *jobs, cJSON *outs);

/* ledger.c: the hash of a ledger row, in hex, from the previous row's
 * hash (PR_LEDGER_GENESIS for the first) and its event.  0, or -1 when
 * the digest fails. */
#define PR_LEDGER_HEX 64
#define PR_LEDGER_GENESIS                                                     \
    "0000000000000000000000000000000000000000000000000000000000000000"
int pr_ledger_hash(const char *prev, const char *run_id, long long seq,
                   double at, const char *kind, const char *step,
                   const char *data, char out[PR_LEDGER_HEX + 1]);

#endif
