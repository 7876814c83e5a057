/* store.h -- the durable store of runs: the interface every backend
 * implements
 *
 * pomlrun remembers each run in a store: the run, each job (a step, or
 * one instance of a for_each step), each attempt, each output and each
 * event.  The scheduler never calls the store: an observer (record.c)
 * turns state changes into the calls below.  SQLite (store_sqlite.c) is
 * the first backend; another (PostgreSQL) implements the same table of
 * operations and needs no change above this header.
 *
 * Writes are grouped: pr_store_begin opens a transaction that
 * pr_store_commit ends, and the caller commits once per turn of the event
 * loop, so a state change costs no disk flush of its own.  Every call
 * returns 0, or -1 with the reason in pr_store_error; after a failure
 * the caller stops starting steps and finishes the run without the store.
 *
 * What goes in is what pomlrun already shows in --json: parameters
 * (never the environment), outputs, reasons, usage.  API keys never
 * reach a store (they are never in a plan, an output or an event), and
 * a parameter whose name ends in _KEY, _TOKEN or _SECRET is stored as
 * "[redacted]" (pr_store_secret_name).
 */
#ifndef POML_STORE_H
#define POML_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct pr_store;

/* The schema version this program writes (SQLite: PRAGMA user_version). */
#define PR_STORE_SCHEMA 4

struct pr_store_run {
    const char *id;          /* the run id (a UUID) */
    const char *workflow;    /* workflow_id */
    const char *plan_hash;   /* hex of the plan's checksum */
    const char *params_json; /* the bound parameters, secrets redacted */
    double started_at;       /* wall clock, seconds since the epoch */
    long pid;                /* the pomlrun that runs it */
    long long pid_start;     /* its start time (pr_store_proc_start) */
};

/* A job's state as it changes; instance is -1 for a step that is not an
 * instance of a for_each step. */
struct pr_store_job {
    const char *run_id;
    const char *step;
    int32_t instance;
    const char *status; /* waiting, running, succeeded, ... */
    uint32_t attempts;
    double started_at, finished_at; /* 0: not yet */
    const char *reason;             /* NULL: none */
    /* What decided whether it ran (NULL: not known yet): its cache key
     * (hex SHA-256), the digest of each part of the key as a JSON object,
     * the values it read (parameters, item, index) as a JSON object, why
     * it ran or was reused, and the run whose result it reused. */
    const char *key, *key_parts, *inputs, *decision, *reused_from;
};

struct pr_store_attempt {
    const char *run_id;
    const char *step;
    int32_t instance;
    uint32_t n;                     /* 1, 2, ... */
    double started_at, finished_at; /* finished_at 0: running */
    int ok;                         /* 1, 0, or -1 while it runs */
    const char *reason;
};

/* A question put to a person: an approval step waiting for its answer,
 * or a job that exhausted its retries and was escalated (escalate_to:
 * human).  Kept against (run_id, step, instance), so a resumed run (the
 * same id) finds the answer. */
struct pr_store_approval {
    const char *run_id;
    const char *step;
    int32_t instance;
    const char *kind;        /* "approval" or "escalation" */
    const char *prompt;      /* what the person is asked (escalation: the
                                failure) */
    const char *schema_json; /* what an approval's value must match, or
                                NULL */
    double requested_at;
    double deadline; /* requested_at + timeout; 0: none */
};

struct pr_store_ops {
    const char *name; /* "sqlite" */
    int (*begin)(struct pr_store *s);
    int (*commit)(struct pr_store *s);
    int (*run_started)(struct pr_store *s, const struct pr_store_run *r);
    /* The run ended with STATUS and EXIT_STATUS at AT, having spent COST
     * US dollars and TOKENS tokens on model calls. */
    int (*run_finished)(struct pr_store *s, const char *run_id,
                        const char *status, int exit_status, double at,
                        double cost, uint64_t tokens);
    int (*job)(struct pr_store *s, const struct pr_store_job *j);
    int (*attempt)(struct pr_store *s, const struct pr_store_attempt *a);
    /* Output NAME of a job is VALUE_JSON (replacing an earlier one). */
    int (*output)(struct pr_store *s, const char *run_id, const char *step,
                  int32_t instance, const char *name, const char *value_json);
    /* Event SEQ of the run: KIND ("note", "job_finished", ...), the step
     * it is about (or NULL) and the event as a JSON object. */
    int (*event)(struct pr_store *s, const char *run_id, uint64_t seq,
                 double at, const char *kind, const char *step,
                 const char *json);

    /* Approvals and escalations (the approvals table). */
    /* Asks A's question unless it is asked already; an escalation
     * answered "retry" (it ran again and failed again) is asked anew. */
    int (*approval_request)(struct pr_store *s,
                            const struct pr_store_approval *a);
    /* The question of RUN_ID (an id, a prefix of one, or "last"), STEP,
     * INSTANCE as a JSON object (run_id, step, instance, kind, prompt,
     * schema, requested_at, deadline, decision, value, reason,
     * answered_at, answered_by) into *OUT: 1, 0 when there is none, -1
     * with the reason. */
    int (*approval)(struct pr_store *s, const char *run_id, const char *step,
                    int32_t instance, cJSON **out);
    /* Records the answer DECISION (approve, reject, retry, skip, abort)
     * with VALUE_JSON (or NULL), REASON (or NULL) by BY at AT, to the
     * question of run RUN_ID (a full id) that is still waiting.  0, 1
     * when it was answered meanwhile, -1 with the reason. */
    int (*approval_answer)(struct pr_store *s, const char *run_id,
                           const char *step, int32_t instance,
                           const char *decision, const char *value_json,
                           const char *reason, const char *by, double at);
    /* The questions still waiting, oldest first, of run RUN_ID (as for
     * approval) or of every run (NULL), as a JSON list of objects. */
    cJSON *(*waiting)(struct pr_store *s, const char *run_id);

    /* Reading, for the commands that look at runs (no transaction). */
    /* The newest LIMIT runs, newest first: a JSON list of {id,
     * workflow, status, started_at, finished_at, exit_status, cost}. */
    cJSON *(*runs)(struct pr_store *s, unsigned limit);
    /* Run ID (a prefix of one will do; "last": the newest) with its jobs,
     * their attempts and outputs, as a JSON object; NULL with the reason
     * when there is none. */
    cJSON *(*run)(struct pr_store *s, const char *id);
    /* The events of run ID, in order, as a JSON list. */
    cJSON *(*events)(struct pr_store *s, const char *id);
    /* Walks the ledger: 0 when every event is in it and every row's hash
     * holds, 1 with the first row changed, removed or inserted described
     * in REPORT, -1 with the reason in the store's error. */
    int (*verify)(struct pr_store *s, char *report, size_t cap);

    /* ---- resuming, the cache, LLM replies ---- */
    /* Run ID starts again in process PID (a resume): running, its end
     * cleared, its count of resumes one more. */
    int (*run_resumed)(struct pr_store *s, const char *id, long pid,
                       long long pid_start, double at);
    /* The attempt of a job runs in process group PGID, started at
     * PG_START (pr_store_proc_start). */
    int (*process)(struct pr_store *s, const char *run_id, const char *step,
                   int32_t instance, long pgid, long long pg_start);
    /* The N-th request of run RUN_ID whose digest is HASH was sent for
     * a job, at AT. */
    int (*exchange_sent)(struct pr_store *s, const char *run_id,
                         const char *hash, uint32_t n, const char *step,
                         int32_t instance, double at);
    /* ... and its whole reply: HTTP STATUS, CONTENT_TYPE (may be NULL),
     * LEN bytes of BODY, the tokens and cost. */
    int (*exchange_done)(struct pr_store *s, const char *run_id,
                         const char *hash, uint32_t n, long status,
                         const char *content_type, const char *body,
                         size_t len, uint64_t in_tok, uint64_t out_tok,
                         double cost, double at);
    /* The exchanges of run ID as a JSON list of {hash, n, http_status,
     * content_type, reply, in_tokens, out_tokens, cost}, reply null for
     * a request whose reply never came. */
    cJSON *(*exchanges)(struct pr_store *s, const char *id);
    /* The newest job of any run that succeeded with cache key KEY and
     * finished at NOT_BEFORE or later, as {run_id, step, instance,
     * finished_at, outputs}; NULL when none (err empty) or on an error
     * (err set). */
    cJSON *(*cached)(struct pr_store *s, const char *key, double not_before);
    /* The jobs that failed (dead letters) of run ID, or of every run when
     * ID is NULL, newest run first: a JSON list of {run_id, step,
     * instance, attempts, reason, inputs, finished_at, attempts_made:
     * [...]}. */
    cJSON *(*dead_letters)(struct pr_store *s, const char *id);
    void (*close)(struct pr_store *s);
};

struct pr_store {
    const struct pr_store_ops *ops;
    char err[512]; /* why the last call failed */
    bool in_txn;
};

/* Opens the store at WHERE (a file name: SQLite; a postgresql:// or
 * postgres:// URL: PostgreSQL, see store_pg.c), creating it and its
 * directory, and migrating an older schema.  SYNC_FULL: every commit is
 * flushed to disk (survives a power cut), else only ordered (survives a
 * kill of pomlrun, not of the machine).  NULL with the reason in ERR:
 * not a state file, a newer schema, read-only, ... */
struct pr_store *pr_store_open(const char *where, bool sync_full, char *err,
                               size_t errcap);

static inline int pr_store_begin(struct pr_store *s)
{
    return s->ops->begin(s);
}
static inline int pr_store_commit(struct pr_store *s)
{
    return s->ops->commit(s);
}
static inline void pr_store_close(struct pr_store *s)
{
    if (s)
        s->ops->close(s);
}
static inline const char *pr_store_error(const struct pr_store *s)
{
    return s->err;
}

/* True when WHERE names a database server (postgresql:// or
 * postgres://) rather than a file. */
bool pr_store_is_database(const char *where);

/* True when a parameter named NAME holds a secret by its name (ends in
 * _KEY, _TOKEN, _SECRET or _PASSWORD, in any case): stored redacted. */
bool pr_store_secret_name(const char *name);

/* The start time of process PID (clock ticks since boot, from /proc), to
 * tell it from a later process given the same number; -1 when there is
 * no such process (or it has ended and waits to be reaped). */
long long pr_store_proc_start(long pid);

/* ---- SHA-256 (sha256.c), for the ledger and cache keys ---- */

#define PR_SHA256_HEX 64

struct pr_sha256;

/* A new digest; NULL when out of memory. */
struct pr_sha256 *pr_sha256_new(void);
/* Adds N bytes at P (a failed digest stays failed). */
void pr_sha256_add(struct pr_sha256 *h, const void *p, size_t n);
/* Adds the string S and its NUL: parts so ended never run together. */
void pr_sha256_part(struct pr_sha256 *h, const char *s);
/* Ends H (freed) with its digest in hex in OUT.  0, or -1 when the digest
 * failed (OUT empty). */
int pr_sha256_end(struct pr_sha256 *h, char out[PR_SHA256_HEX + 1]);
/* The digest of N bytes at P. */
int pr_sha256_hex(const void *p, size_t n, char out[PR_SHA256_HEX + 1]);

#endif
