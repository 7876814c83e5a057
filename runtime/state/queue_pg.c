/* queue_pg.c -- the queue of submitted runs in PostgreSQL (queue.h)
 *
 * Two tables beside the store's (store_pg.c), created once under the
 * store's schema lock: poml_plans (a plan's bytes by their SHA-256) and
 * poml_queue (one row per submitted run: its state, its worker and
 * lease, whether it is to be cancelled, and its result once it ended).
 * Times of leases are the server's clock (clock_timestamp()), so that
 * workers on machines whose clocks differ agree on when a lease ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "queue.h"
#include "store_int.h"
#include "util.h"

#define SCHEMA_LOCK 0x706f6d6dLL /* store_pg.c's */
#define NOW "extract(epoch FROM clock_timestamp())"

struct pr_queue {
    PGconn *db;
    char *url;   /* as given: to connect again */
    char *where; /* the URL, its password redacted */
    char err[512];
    char listening[4][16];
    int nlisten;
};

static const char schema[] =
    "SELECT pg_advisory_xact_lock(1886350701);"
    "CREATE TABLE IF NOT EXISTS poml_plans ("
    " hash TEXT PRIMARY KEY, bytes BYTEA NOT NULL,"
    " stored_at DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE IF NOT EXISTS poml_queue ("
    " run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,"
    " plan TEXT NOT NULL REFERENCES poml_plans(hash),"
    " state TEXT NOT NULL CHECK (state IN"
    "  ('queued', 'claimed', 'done', 'cancelled')),"
    " submitted_at DOUBLE PRECISION NOT NULL, worker TEXT,"
    " lease_until DOUBLE PRECISION, claims BIGINT NOT NULL DEFAULT 0,"
    " cancel BOOLEAN NOT NULL DEFAULT false, exit_status BIGINT,"
    " result TEXT, finished_at DOUBLE PRECISION);"
    "CREATE INDEX IF NOT EXISTS poml_queue_open ON poml_queue(submitted_at)"
    " WHERE state IN ('queued', 'claimed');";
_Static_assert(SCHEMA_LOCK == 1886350701LL, "the lock in schema[]");

static int fail(struct pr_queue *q, const char *what, const PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : "";
    if (!m || !*m)
        m = PQerrorMessage(q->db);
    return pr_errf(q->err, sizeof q->err, "state database '%s': %s: %.*s",
                   q->where, what, (int)strcspn(m, "\n"), m);
}

/* Runs QUERY with N text parameters V (NULL: SQL null); the result, or
 * NULL with the reason. */
static PGresult *run(struct pr_queue *q, const char *query, int n,
                     const char *const *v, const char *what)
{
    PGresult *r = n ? PQexecParams(q->db, query, n, NULL, v, NULL, NULL, 0)
                    : PQexec(q->db, query);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fail(q, what, r);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int exec(struct pr_queue *q, const char *query, int n,
                const char *const *v, const char *what)
{
    PGresult *r = run(q, query, n, v, what);
    PQclear(r);
    return r ? 0 : -1;
}

static void rollback(struct pr_queue *q)
{
    PQclear(PQexec(q->db, "ROLLBACK"));
}

static int connect_db(struct pr_queue *q)
{
    if (q->db)
        PQfinish(q->db);
    q->db = PQconnectdb(q->url);
    if (!q->db)
        return pr_errf(q->err, sizeof q->err, "out of memory");
    if (PQstatus(q->db) != CONNECTION_OK)
        return fail(q, "cannot connect", NULL);
    return exec(q, "SET client_min_messages = warning", 0, NULL,
                "cannot set up the session");
}

struct pr_queue *pr_queue_open(const char *url, const char *command,
                               char *err, size_t errcap)
{
    if (!pr_store_is_database(url)) {
        pr_errf(err, errcap,
                "%s needs a PostgreSQL state database shared by the "
                "workers (--state postgresql://...); '%s' is a SQLite "
                "file, which one machine's pomlrun keeps",
                command, url);
        return NULL;
    }
    /* the store's tables first, migrated as every pomlrun does */
    struct pr_store *s = pr_store_pg_open(url, err, errcap);
    if (!s)
        return NULL;
    pr_store_close(s);
    struct pr_queue *q = calloc(1, sizeof *q);
    char shown[1024];
    pr_store_pg_redact(url, shown, sizeof shown);
    if (!q || !(q->url = strdup(url)) || !(q->where = strdup(shown))) {
        pr_queue_close(q);
        pr_errf(err, errcap, "out of memory");
        return NULL;
    }
    if (connect_db(q) == 0 &&
        exec(q, "BEGIN", 0, NULL, "cannot begin a transaction") == 0) {
        if (exec(q, schema, 0, NULL, "cannot create the queue") == 0 &&
            exec(q, "COMMIT", 0, NULL, "cannot commit") == 0)
            return q;
        rollback(q);
    }
    pr_errf(err, errcap, "%s", q->err);
    pr_queue_close(q);
    return NULL;
}

void pr_queue_close(struct pr_queue *q)
{
    if (!q)
        return;
    if (q->db)
        PQfinish(q->db);
    free(q->url);
    free(q->where);
    free(q);
}

const char *pr_queue_error(const struct pr_queue *q)
{
    return q->err;
}

int pr_queue_submit(struct pr_queue *q, const void *plan, size_t len,
                    const char *wf, const char *plan_hash,
                    const char *params_json, char id[40])
{
    char hash[PR_SHA256_HEX + 1], now[32];
    if (pr_sha256_hex(plan, len, hash) < 0)
        return pr_errf(q->err, sizeof q->err, "out of memory");
    snprintf(now, sizeof now, "%.17g", pr_wall_now());
    const char *v[3] = {hash, plan, now};
    int lens[3] = {0, (int)len, 0}, fmts[3] = {0, 1, 0};
    if (len > 0x7fffffff)
        return pr_errf(q->err, sizeof q->err, "the plan is too large");
    if (exec(q, "BEGIN", 0, NULL, "cannot begin a transaction") < 0)
        return -1;
    PGresult *r = PQexecParams(q->db,
                               "INSERT INTO poml_plans (hash, bytes,"
                               " stored_at) VALUES ($1, $2, $3)"
                               " ON CONFLICT (hash) DO NOTHING",
                               3, NULL, v, lens, fmts, 0);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        fail(q, "cannot store the plan", r);
        PQclear(r);
        rollback(q);
        return -1;
    }
    PQclear(r);
    r = run(q, "SELECT gen_random_uuid()::text", 0, NULL,
            "cannot make a run id");
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        rollback(q);
        return -1;
    }
    snprintf(id, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *w[5] = {id, wf, plan_hash, params_json, now};
    const char *v2[3] = {id, hash, now};
    if (exec(q,
             "INSERT INTO runs (id, workflow, plan_hash, params, status,"
             " started_at, pid, pid_start)"
             " VALUES ($1, $2, $3, $4, 'queued', $5, 0, -1)",
             5, w, "cannot record the run") < 0 ||
        exec(q,
             "INSERT INTO poml_queue (run_id, plan, state, submitted_at)"
             " VALUES ($1, $2, 'queued', $3)",
             3, v2, "cannot queue the run") < 0 ||
        exec(q, "SELECT pg_notify('poml_work', $1)", 1, v,
             "cannot tell the workers") < 0 ||
        exec(q, "COMMIT", 0, NULL, "cannot commit") < 0) {
        rollback(q);
        return -1;
    }
    return 0;
}

int pr_queue_claim(struct pr_queue *q, const char *worker, double lease,
                   struct pr_claim *c)
{
    char ls[32];
    snprintf(ls, sizeof ls, "%.17g", lease);
    memset(c, 0, sizeof *c);
    /* one statement, one transaction: the row is locked from the SELECT
       to the UPDATE, and a row another worker holds is passed over */
    const char *v[2] = {worker, ls};
    PGresult *r = run(q,
                      "UPDATE poml_queue SET state = 'claimed',"
                      " worker = $1, lease_until = " NOW " + $2::float8,"
                      " claims = claims + 1 WHERE run_id = ("
                      " SELECT run_id FROM poml_queue WHERE NOT cancel AND"
                      " (state = 'queued' OR (state = 'claimed' AND"
                      "  lease_until < " NOW "))"
                      " ORDER BY submitted_at, run_id LIMIT 1"
                      " FOR UPDATE SKIP LOCKED)"
                      " RETURNING run_id, claims, plan",
                      2, v, "cannot claim a run");
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    snprintf(c->id, sizeof c->id, "%s", PQgetvalue(r, 0, 0));
    c->claims = (unsigned)strtoul(PQgetvalue(r, 0, 1), NULL, 10);
    const char *hv[1] = {PQgetvalue(r, 0, 2)};
    PGresult *b = PQexecParams(q->db,
                               "SELECT bytes FROM poml_plans WHERE hash = $1",
                               1, NULL, hv, NULL, NULL, 1);
    PQclear(r);
    if (!b || PQresultStatus(b) != PGRES_TUPLES_OK || PQntuples(b) != 1) {
        fail(q, "cannot read the run's plan", b);
        PQclear(b);
        pr_queue_release(q, c->id, worker);
        return -1;
    }
    c->len = (size_t)PQgetlength(b, 0, 0);
    c->plan = malloc(c->len ? c->len : 1);
    if (c->plan)
        memcpy(c->plan, PQgetvalue(b, 0, 0), c->len);
    PQclear(b);
    if (!c->plan) {
        pr_queue_release(q, c->id, worker);
        return pr_errf(q->err, sizeof q->err, "out of memory");
    }
    return 1;
}

int pr_queue_renew(struct pr_queue *q, const char *id, const char *worker,
                   double lease)
{
    char ls[32];
    snprintf(ls, sizeof ls, "%.17g", lease);
    const char *v[3] = {id, worker, ls};
    PGresult *r = run(q,
                      "UPDATE poml_queue SET lease_until = " NOW
                      " + $3::float8 WHERE run_id = $1 AND worker = $2 AND"
                      " state = 'claimed' RETURNING cancel",
                      3, v, "cannot renew the lease");
    if (!r)
        return -1;
    int rc = PQntuples(r) == 0 ? 0 : *PQgetvalue(r, 0, 0) == 't' ? 2 : 1;
    PQclear(r);
    return rc;
}

int pr_queue_finish(struct pr_queue *q, const char *id, const char *worker,
                    int exit_status, const char *result_json)
{
    char st[16], now[32];
    snprintf(st, sizeof st, "%d", exit_status);
    snprintf(now, sizeof now, "%.17g", pr_wall_now());
    const char *v[5] = {id, worker, st, result_json, now};
    PGresult *r = run(q,
                      "WITH f AS (UPDATE poml_queue SET state = CASE WHEN"
                      " cancel THEN 'cancelled' ELSE 'done' END,"
                      " exit_status = $3, result = $4, finished_at = $5,"
                      " lease_until = NULL WHERE run_id = $1 AND"
                      " worker = $2 AND state = 'claimed' RETURNING run_id)"
                      " SELECT pg_notify('poml_done', run_id) FROM f",
                      5, v, "cannot record the run's end");
    if (!r)
        return -1;
    int rc = PQntuples(r) == 1 ? 0 : 1;
    PQclear(r);
    return rc;
}

int pr_queue_release(struct pr_queue *q, const char *id, const char *worker)
{
    const char *v[2] = {id, worker};
    return exec(q,
                "WITH f AS (UPDATE poml_queue SET state = 'queued',"
                " lease_until = NULL WHERE run_id = $1 AND worker = $2 AND"
                " state = 'claimed' RETURNING run_id)"
                " SELECT pg_notify('poml_work', run_id) FROM f",
                2, v, "cannot let go of the run");
}

/* The one run of the queue whose id starts with ID, into FULL. */
static int resolve(struct pr_queue *q, const char *id, char full[40])
{
    const char *v[1] = {id};
    PGresult *r = run(q,
                      "SELECT run_id FROM poml_queue WHERE"
                      " substr(run_id, 1, length($1)) = $1 LIMIT 2",
                      1, v, "cannot read the queue");
    if (!r)
        return -1;
    int n = PQntuples(r);
    if (n == 1)
        snprintf(full, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (n == 1)
        return 0;
    return pr_errf(q->err, sizeof q->err,
                   n ? "state database '%s': '%s' names more than one "
                       "submitted run; give more of its id"
                     : "state database '%s': no submitted run '%s'",
                   q->where, id);
}

int pr_queue_cancel(struct pr_queue *q, const char *id, char full[40])
{
    if (resolve(q, id, full) < 0)
        return -1;
    char now[32];
    snprintf(now, sizeof now, "%.17g", pr_wall_now());
    const char *v[2] = {full, now};
    /* a queued run ends here; a claimed one is stopped by its worker,
       which hears poml_cancel (or sees cancel when it renews) */
    PGresult *r = run(q,
                      "WITH c AS (UPDATE poml_queue SET cancel = true,"
                      " state = CASE WHEN state = 'queued' THEN 'cancelled'"
                      " ELSE state END, finished_at = CASE WHEN state ="
                      " 'queued' THEN $2::float8 ELSE finished_at END"
                      " WHERE run_id = $1 AND state IN ('queued', 'claimed')"
                      " RETURNING run_id, state),"
                      " r AS (UPDATE runs SET status = 'cancelled',"
                      " finished_at = $2::float8 WHERE id IN (SELECT run_id"
                      " FROM c WHERE state = 'cancelled'))"
                      " SELECT pg_notify(CASE WHEN state = 'cancelled' THEN"
                      " 'poml_done' ELSE 'poml_cancel' END, run_id) FROM c",
                      2, v, "cannot cancel the run");
    if (!r)
        return -1;
    int rc = PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

int pr_queue_status(struct pr_queue *q, const char *id, char full[40],
                    char state[16], int *exit_status, char **result)
{
    *result = NULL;
    if (resolve(q, id, full) < 0)
        return -1;
    const char *v[1] = {full};
    PGresult *r = run(q,
                      "SELECT state, exit_status, result FROM poml_queue"
                      " WHERE run_id = $1",
                      1, v, "cannot read the queue");
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return pr_errf(q->err, sizeof q->err, "state database '%s': run "
                       "'%s' is gone", q->where, full);
    }
    snprintf(state, 16, "%s", PQgetvalue(r, 0, 0));
    *exit_status = PQgetisnull(r, 0, 1) ? !strcmp(state, "cancelled") ? 130
                                                                        : 1
                                        : atoi(PQgetvalue(r, 0, 1));
    if (!PQgetisnull(r, 0, 2) && !(*result = strdup(PQgetvalue(r, 0, 2)))) {
        PQclear(r);
        return pr_errf(q->err, sizeof q->err, "out of memory");
    }
    PQclear(r);
    return 0;
}

double pr_queue_next_expiry(struct pr_queue *q)
{
    PGresult *r = run(q,
                      "SELECT greatest(min(lease_until) - " NOW ", 0)"
                      " FROM poml_queue WHERE state = 'claimed'",
                      0, NULL, "cannot read the leases");
    double t = -1;
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        t = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return t;
}

int pr_queue_listen(struct pr_queue *q, const char *channel)
{
    char sql[64];
    if (q->nlisten == 4 || strlen(channel) >= sizeof q->listening[0])
        return pr_errf(q->err, sizeof q->err, "too many channels");
    /* CHANNEL is one of this program's names, never user input */
    snprintf(sql, sizeof sql, "LISTEN %s", channel);
    if (exec(q, sql, 0, NULL, "cannot listen") < 0)
        return -1;
    snprintf(q->listening[q->nlisten++], sizeof q->listening[0], "%s",
             channel);
    return 0;
}

int pr_queue_socket(const struct pr_queue *q)
{
    return q->db ? PQsocket(q->db) : -1;
}

int pr_queue_notified(struct pr_queue *q,
                      void (*fn)(void *ud, const char *channel,
                                 const char *payload),
                      void *ud)
{
    if (!PQconsumeInput(q->db) || PQstatus(q->db) != CONNECTION_OK)
        return fail(q, "lost the connection", NULL);
    int n = 0;
    PGnotify *m;
    while ((m = PQnotifies(q->db))) {
        if (fn)
            fn(ud, m->relname, m->extra);
        PQfreemem(m);
        n++;
    }
    return n;
}

int pr_queue_reconnect(struct pr_queue *q)
{
    if (q->db && PQstatus(q->db) == CONNECTION_OK)
        return 0;
    int n = q->nlisten;
    q->nlisten = 0;
    if (connect_db(q) < 0) {
        q->nlisten = n;
        return -1;
    }
    for (int k = 0; k < n; k++) {
        char c[16];
        snprintf(c, sizeof c, "%s", q->listening[k]);
        if (pr_queue_listen(q, c) < 0) {
            q->nlisten = n;
            return -1;
        }
    }
    return 0;
}
