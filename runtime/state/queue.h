/* queue.h -- runs submitted to a shared database and taken up by workers
 * (queue_pg.c; PostgreSQL only)
 *
 * pomlrun --submit stores a plan's bytes once, by their SHA-256, and a
 * new run of it with its parameters: a row of the queue, "queued", and a
 * row of runs, "queued" too, so every inspection command sees it.  A
 * worker (pomlrun --worker) claims the oldest queued run, or a run whose
 * worker's lease expired, in one transaction (SELECT ... FOR UPDATE SKIP
 * LOCKED: two workers never claim one row, and neither waits for the
 * other's lock), and renews its lease while the run goes on.  The lease
 * is kept in the server's clock, so the workers' clocks do not matter.
 *
 * The unit a worker claims is a run: its jobs run in that worker, as
 * many at once as its --jobs, and are kept in the store as a plain run's
 * are.  A worker that dies loses its lease; the next worker to claim the
 * run resumes it, reusing every job that succeeded and running again
 * those that had not finished (at least once).
 *
 * Workers and waiters sleep on LISTEN: channel poml_work (a run was
 * submitted or released), poml_done (payload: the run id that ended) and
 * poml_cancel (payload: the run id to stop).  Every call returns 0 (or
 * the count said), or -1 with the reason in pr_queue_error.
 */
#ifndef POML_QUEUE_H
#define POML_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct pr_queue;

/* Connects to the database URL names (migrating its schema as the store
 * does).  A state that is not a postgresql:// URL is refused: the reason
 * in ERR names COMMAND (such as "--worker"). */
struct pr_queue *pr_queue_open(const char *url, const char *command,
                               char *err, size_t errcap);
void pr_queue_close(struct pr_queue *q);
const char *pr_queue_error(const struct pr_queue *q);

/* Stores LEN bytes of PLAN (once: by content hash) and a new run of
 * workflow WF with PARAMS_JSON (secrets already refused): its id into
 * ID (37 bytes).  Tells waiting workers. */
int pr_queue_submit(struct pr_queue *q, const void *plan, size_t len,
                    const char *wf, const char *plan_hash,
                    const char *params_json, char id[40]);

/* A run claimed by a worker. */
struct pr_claim {
    char id[40];
    unsigned claims; /* 1 the first time; more: a worker died or let go */
    void *plan;      /* its bytes (free) */
    size_t len;
};

/* Claims the oldest run that is queued or whose lease ended, for WORKER
 * for LEASE seconds: 1 with C filled, 0 when there is none. */
int pr_queue_claim(struct pr_queue *q, const char *worker, double lease,
                   struct pr_claim *c);
/* Renews WORKER's lease on run ID: 1, 2 when the run is to be cancelled,
 * 0 when the lease is no longer WORKER's (it ended and another claimed
 * the run). */
int pr_queue_renew(struct pr_queue *q, const char *id, const char *worker,
                   double lease);
/* Run ID ended with EXIT_STATUS and RESULT_JSON (as --json prints it;
 * may be NULL): it is done, or cancelled when that was asked.  Tells the
 * waiters.  0, 1 when the lease was no longer WORKER's (nothing kept). */
int pr_queue_finish(struct pr_queue *q, const char *id, const char *worker,
                    int exit_status, const char *result_json);
/* WORKER lets go of run ID (it stops): queued again for another. */
int pr_queue_release(struct pr_queue *q, const char *id, const char *worker);
/* Asks for run ID (a prefix of one will do) to be stopped: a queued run
 * is cancelled at once, a claimed one by its worker.  Its full id into
 * FULL.  1, 0 when it had ended already. */
int pr_queue_cancel(struct pr_queue *q, const char *id, char full[40]);

/* The state of run ID (a prefix will do): "queued", "claimed", "done" or
 * "cancelled" into STATE, with, once it ended, its exit status and result
 * (*RESULT to free, NULL when none was kept).  The full id into FULL. */
int pr_queue_status(struct pr_queue *q, const char *id, char full[40],
                    char state[16], int *exit_status, char **result);

/* Seconds until the earliest lease held by a worker ends (0: ended
 * already), or -1 when no run is claimed: when a worker looks again. */
double pr_queue_next_expiry(struct pr_queue *q);

/* LISTEN on CHANNEL. */
int pr_queue_listen(struct pr_queue *q, const char *channel);
/* The connection's socket, to wait on with poll (readable: a
 * notification may have come). */
int pr_queue_socket(const struct pr_queue *q);
/* Reads what came on the socket: the notifications, each handed to
 * FN(UD, CHANNEL, PAYLOAD).  The count, or -1 (the connection is
 * lost). */
int pr_queue_notified(struct pr_queue *q,
                      void (*fn)(void *ud, const char *channel,
                                 const char *payload),
                      void *ud);
/* After an error: the connection is made again (and LISTENs again).
 * 0, or -1 when the server cannot be reached. */
int pr_queue_reconnect(struct pr_queue *q);

#endif
