/* store_pg.c -- the store in a PostgreSQL database
 *
 * Selected by a postgresql:// or postgres:// URL; libpq reads the
 * connection settings from the URL and from the usual PG* variables
 * (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGPASSFILE, ...).  The password
 * is never put in a message: a URL is shown with its password replaced
 * by "***" (pr_store_pg_redact).
 *
 * The logical schema is SQLite's (store_sqlite.c) with PostgreSQL's
 * types; its version is kept in the table poml_schema and migrations
 * move it forward one step at a time, under an advisory lock so that
 * two pomlrun processes creating one database do not both migrate it.
 * SQLite's rowid order is an "ord" column (bigserial) here.
 *
 * The ledger is one hash chain over every event of every run: a
 * transaction that adds an event takes the advisory lock LEDGER_LOCK
 * until it ends, so writers of the chain take turns and no two rows
 * chain to the same previous row.
 *
 * libpq is linked into pomlrun when configure finds it (pkg-config
 * libpq); it costs a plain run only its loading at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_int.h"
#include "util.h"

#define LEDGER_LOCK 0x706f6d6cLL /* "poml" */
#define SCHEMA_LOCK 0x706f6d6dLL

static const char *const migrations[PR_STORE_SCHEMA] = {
    /* 1 */
    "CREATE TABLE runs ("
    " id TEXT PRIMARY KEY, workflow TEXT NOT NULL, plan_hash TEXT NOT NULL,"
    " params TEXT NOT NULL, status TEXT NOT NULL,"
    " started_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION,"
    " exit_status BIGINT, cost DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " tokens BIGINT NOT NULL DEFAULT 0, pid BIGINT);"
    "CREATE INDEX runs_started ON runs(started_at);"
    "CREATE TABLE jobs ("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " step TEXT NOT NULL, instance BIGINT NOT NULL, status TEXT NOT NULL,"
    " attempts BIGINT NOT NULL, started_at DOUBLE PRECISION,"
    " finished_at DOUBLE PRECISION, reason TEXT, ord BIGSERIAL,"
    " PRIMARY KEY (run_id, step, instance));"
    "CREATE TABLE attempts ("
    " run_id TEXT NOT NULL, step TEXT NOT NULL, instance BIGINT NOT NULL,"
    " n BIGINT NOT NULL, started_at DOUBLE PRECISION NOT NULL,"
    " finished_at DOUBLE PRECISION, ok BIGINT, reason TEXT,"
    " PRIMARY KEY (run_id, step, instance, n),"
    " FOREIGN KEY (run_id, step, instance)"
    "  REFERENCES jobs(run_id, step, instance) ON DELETE CASCADE);"
    "CREATE TABLE outputs ("
    " run_id TEXT NOT NULL, step TEXT NOT NULL, instance BIGINT NOT NULL,"
    " name TEXT NOT NULL, value TEXT NOT NULL, ord BIGSERIAL,"
    " PRIMARY KEY (run_id, step, instance, name),"
    " FOREIGN KEY (run_id, step, instance)"
    "  REFERENCES jobs(run_id, step, instance) ON DELETE CASCADE);"
    "CREATE TABLE events ("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " seq BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,"
    " step TEXT, data TEXT NOT NULL, PRIMARY KEY (run_id, seq));",
    /* 2: the ledger */
    "CREATE TABLE ledger ("
    " id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, seq BIGINT NOT NULL,"
    " prev TEXT NOT NULL, hash TEXT NOT NULL);",
    /* 3: resume and the cache */
    "ALTER TABLE runs ADD COLUMN pid_start BIGINT;"
    "ALTER TABLE runs ADD COLUMN resumes BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN cache_key TEXT;"
    "ALTER TABLE jobs ADD COLUMN key_parts TEXT;"
    "ALTER TABLE jobs ADD COLUMN inputs TEXT;"
    "ALTER TABLE jobs ADD COLUMN decision TEXT;"
    "ALTER TABLE jobs ADD COLUMN reused_from TEXT;"
    "ALTER TABLE jobs ADD COLUMN pgid BIGINT;"
    "ALTER TABLE jobs ADD COLUMN pg_start BIGINT;"
    "CREATE INDEX jobs_cache_key ON jobs(cache_key, finished_at)"
    " WHERE status = 'succeeded';"
    "CREATE TABLE exchanges ("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " hash TEXT NOT NULL, n BIGINT NOT NULL, step TEXT NOT NULL,"
    " instance BIGINT NOT NULL, sent_at DOUBLE PRECISION NOT NULL,"
    " done_at DOUBLE PRECISION, http_status BIGINT, content_type TEXT,"
    " reply TEXT, in_tokens BIGINT, out_tokens BIGINT,"
    " cost DOUBLE PRECISION, PRIMARY KEY (run_id, hash, n));",
    /* 4: approvals */
    "CREATE TABLE approvals ("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " step TEXT NOT NULL, instance BIGINT NOT NULL, kind TEXT NOT NULL,"
    " requested_at DOUBLE PRECISION NOT NULL, deadline DOUBLE PRECISION,"
    " prompt TEXT NOT NULL, schema TEXT, decision TEXT CHECK (decision IN"
    " ('approve', 'reject', 'retry', 'skip', 'abort')), value TEXT,"
    " reason TEXT, answered_at DOUBLE PRECISION, answered_by TEXT,"
    " ord BIGSERIAL, PRIMARY KEY (run_id, step, instance));",
};

struct pg {
    struct pr_store base;
    PGconn *db;
    char *where; /* the URL, its password redacted */
    char last[PR_LEDGER_HEX + 1]; /* the ledger's last hash in this
                                     transaction; "": not read yet */
    bool queue; /* the database has queue_pg.c's tables: a run read
                   says which worker holds it */
};

/* Parameters as text, numbers printed into their own buffers. */
#define MAXP 16
struct params {
    const char *v[MAXP];
    char buf[MAXP][32];
    int n;
};

static void p_text(struct params *p, const char *t)
{
    p->v[p->n++] = t;
}
static void p_int(struct params *p, long long x)
{
    snprintf(p->buf[p->n], sizeof p->buf[0], "%lld", x);
    p->v[p->n] = p->buf[p->n];
    p->n++;
}
static void p_real(struct params *p, double x)
{
    snprintf(p->buf[p->n], sizeof p->buf[0], "%.17g", x);
    p->v[p->n] = p->buf[p->n];
    p->n++;
}
/* A time, NULL when 0 (not yet). */
static void p_when(struct params *p, double t)
{
    if (t > 0)
        p_real(p, t);
    else
        p_text(p, NULL);
}

void pr_store_pg_redact(const char *url, char *out, size_t cap)
{
    /* scheme://user:password@host/db?password=...: each password, up to
       the '@' or the next '&', becomes "***" */
    size_t o = 0;
    const char *s = strstr(url, "://");
    const char *auth = s ? s + 3 : NULL;
    const char *at = auth ? strchr(auth, '@') : NULL;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    for (const char *p = url; *p && o + 4 < cap;) {
        const char *skip_to = NULL;
        if (p == colon + 1 && colon)
            skip_to = at;
        else if (!strncmp(p, "password=", 9) &&
                 (p == url || p[-1] == '?' || p[-1] == '&')) {
            memcpy(out + o, p, 9);
            o += 9;
            p += 9;
            skip_to = p + strcspn(p, "&");
        }
        if (skip_to) {
            memcpy(out + o, "***", 3);
            o += 3;
            p = skip_to;
            continue;
        }
        out[o++] = *p++;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static int fail(struct pg *g, const char *what, const PGresult *r)
{
    const char *m = r ? PQresultErrorMessage(r) : "";
    if (!m || !*m)
        m = PQerrorMessage(g->db);
    snprintf(g->base.err, sizeof g->base.err, "state database '%s': %s: %.*s",
             g->where, what, (int)strcspn(m, "\n"), m);
    return -1;
}

/* Runs QUERY with the parameters P; the result (or NULL with the reason
 * in the store's error).  Without parameters QUERY may be several
 * statements (a migration). */
static PGresult *run(struct pg *g, const char *query, const struct params *p,
                     const char *what)
{
    PGresult *r = p ? PQexecParams(g->db, query, p->n, NULL, p->v, NULL,
                                   NULL, 0)
                    : PQexec(g->db, query);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fail(g, what, r);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int exec(struct pg *g, const char *query, const struct params *p,
                const char *what)
{
    PGresult *r = run(g, query, p, what);
    PQclear(r);
    return r ? 0 : -1;
}

static int pg_begin(struct pr_store *b)
{
    struct pg *g = (struct pg *)b;
    if (b->in_txn)
        return 0;
    if (exec(g, "BEGIN", NULL, "cannot begin a transaction") < 0)
        return -1;
    b->in_txn = true;
    g->last[0] = '\0';
    return 0;
}

static int pg_commit(struct pr_store *b)
{
    struct pg *g = (struct pg *)b;
    if (!b->in_txn)
        return 0;
    b->in_txn = false;
    if (exec(g, "COMMIT", NULL, "cannot commit") < 0) {
        PQclear(PQexec(g->db, "ROLLBACK"));
        return -1;
    }
    return 0;
}

static int pg_run_started(struct pr_store *b, const struct pr_store_run *r)
{
    struct params p = {.n = 0};
    p_text(&p, r->id);
    p_text(&p, r->workflow);
    p_text(&p, r->plan_hash);
    p_text(&p, r->params_json);
    p_real(&p, r->started_at);
    p_int(&p, r->pid);
    p_int(&p, r->pid_start);
    return exec((struct pg *)b,
                "INSERT INTO runs (id, workflow, plan_hash, params, status,"
                " started_at, pid, pid_start)"
                " VALUES ($1, $2, $3, $4, 'running', $5, $6, $7)",
                &p, "cannot record the run");
}

static int pg_run_resumed(struct pr_store *b, const char *id, long pid,
                          long long pid_start, double at)
{
    struct params p = {.n = 0};
    (void)at;
    p_text(&p, id);
    p_int(&p, pid);
    p_int(&p, pid_start);
    return exec((struct pg *)b,
                "UPDATE runs SET status = 'running', pid = $2,"
                " pid_start = $3, finished_at = NULL, exit_status = NULL,"
                " resumes = resumes + 1 WHERE id = $1",
                &p, "cannot record the resumed run");
}

static int pg_process(struct pr_store *b, const char *run_id, const char *st,
                      int32_t instance, long pgid, long long pg_start)
{
    struct params p = {.n = 0};
    p_text(&p, run_id);
    p_text(&p, st);
    p_int(&p, instance);
    p_int(&p, pgid);
    p_int(&p, pg_start);
    return exec((struct pg *)b,
                "UPDATE jobs SET pgid = $4, pg_start = $5"
                " WHERE run_id = $1 AND step = $2 AND instance = $3",
                &p, "cannot record a job's process");
}

static int pg_exchange_sent(struct pr_store *b, const char *run_id,
                            const char *hash, uint32_t n, const char *st,
                            int32_t instance, double at)
{
    struct params p = {.n = 0};
    p_text(&p, run_id);
    p_text(&p, hash);
    p_int(&p, n);
    p_text(&p, st);
    p_int(&p, instance);
    p_real(&p, at);
    return exec((struct pg *)b,
                "INSERT INTO exchanges (run_id, hash, n, step, instance,"
                " sent_at) VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (run_id, hash, n) DO UPDATE SET sent_at = $6,"
                " step = $4, instance = $5",
                &p, "cannot record an LLM request");
}

static int pg_exchange_done(struct pr_store *b, const char *run_id,
                            const char *hash, uint32_t n, long status,
                            const char *content_type, const char *body,
                            size_t len, uint64_t in_tok, uint64_t out_tok,
                            double cost, double at)
{
    struct pg *g = (struct pg *)b;
    /* the reply as text: a NUL-terminated copy of its LEN bytes */
    char *copy = malloc(len + 1);
    if (!copy)
        return pr_errf(b->err, sizeof b->err, "out of memory");
    if (len)
        memcpy(copy, body, len);
    copy[len] = '\0';
    struct params p = {.n = 0};
    p_text(&p, run_id);
    p_text(&p, hash);
    p_int(&p, n);
    p_int(&p, status);
    p_text(&p, content_type);
    p_text(&p, copy);
    p_int(&p, (long long)in_tok);
    p_int(&p, (long long)out_tok);
    p_real(&p, cost);
    p_real(&p, at);
    int rc = exec(g,
                  "UPDATE exchanges SET http_status = $4, content_type = $5,"
                  " reply = $6, in_tokens = $7, out_tokens = $8, cost = $9,"
                  " done_at = $10 WHERE run_id = $1 AND hash = $2 AND n = $3",
                  &p, "cannot record an LLM reply");
    free(copy);
    return rc;
}

static int pg_run_finished(struct pr_store *b, const char *id,
                           const char *status, int exit_status, double at,
                           double cost, uint64_t tokens)
{
    struct params p = {.n = 0};
    p_text(&p, id);
    p_text(&p, status);
    p_int(&p, exit_status);
    p_when(&p, at);
    p_real(&p, cost);
    p_int(&p, (long long)tokens);
    return exec((struct pg *)b,
                "UPDATE runs SET status = $2, exit_status = $3,"
                " finished_at = $4, cost = $5, tokens = $6, pid = NULL,"
                " pid_start = NULL WHERE id = $1",
                &p, "cannot record the end of the run");
}

static int pg_job(struct pr_store *b, const struct pr_store_job *j)
{
    struct params p = {.n = 0};
    p_text(&p, j->run_id);
    p_text(&p, j->step);
    p_int(&p, j->instance);
    p_text(&p, j->status);
    p_int(&p, j->attempts);
    p_when(&p, j->started_at);
    p_when(&p, j->finished_at);
    p_text(&p, j->reason);
    p_text(&p, j->key);
    p_text(&p, j->key_parts);
    p_text(&p, j->inputs);
    p_text(&p, j->decision);
    p_text(&p, j->reused_from);
    return exec(
        (struct pg *)b,
        "INSERT INTO jobs AS j (run_id, step, instance, status, attempts,"
        " started_at, finished_at, reason, cache_key, key_parts, inputs,"
        " decision, reused_from)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " ON CONFLICT (run_id, step, instance) DO UPDATE SET"
        " status = $4, attempts = $5, started_at = $6, finished_at = $7,"
        " reason = $8, cache_key = coalesce($9, j.cache_key),"
        " key_parts = coalesce($10, j.key_parts),"
        " inputs = coalesce($11, j.inputs),"
        " decision = coalesce($12, j.decision), reused_from = $13",
        &p, "cannot record a job");
}

static int pg_attempt(struct pr_store *b, const struct pr_store_attempt *a)
{
    struct params p = {.n = 0};
    p_text(&p, a->run_id);
    p_text(&p, a->step);
    p_int(&p, a->instance);
    p_int(&p, a->n);
    p_real(&p, a->started_at);
    p_when(&p, a->finished_at);
    if (a->ok < 0)
        p_text(&p, NULL);
    else
        p_int(&p, a->ok);
    p_text(&p, a->reason);
    return exec((struct pg *)b,
                "INSERT INTO attempts (run_id, step, instance, n, started_at,"
                " finished_at, ok, reason)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (run_id, step, instance, n) DO UPDATE SET"
                " finished_at = $6, ok = $7, reason = $8",
                &p, "cannot record an attempt");
}

static int pg_output(struct pr_store *b, const char *run_id, const char *st,
                     int32_t instance, const char *name, const char *value)
{
    struct params p = {.n = 0};
    p_text(&p, run_id);
    p_text(&p, st);
    p_int(&p, instance);
    p_text(&p, name);
    p_text(&p, value);
    return exec((struct pg *)b,
                "INSERT INTO outputs (run_id, step, instance, name, value)"
                " VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (run_id, step, instance, name) DO UPDATE SET"
                " value = $5",
                &p, "cannot record an output");
}

static int pg_event(struct pr_store *b, const char *run_id, uint64_t seq,
                    double at, const char *kind, const char *st,
                    const char *json)
{
    struct pg *g = (struct pg *)b;
    struct params p = {.n = 0};
    p_text(&p, run_id);
    p_int(&p, (long long)seq);
    p_real(&p, at);
    p_text(&p, kind);
    p_text(&p, st);
    p_text(&p, json);
    if (exec(g,
             "INSERT INTO events (run_id, seq, at, kind, step, data)"
             " VALUES ($1, $2, $3, $4, $5, $6)",
             &p, "cannot record an event") < 0)
        return -1;
    if (!g->last[0]) {
        char lock[96];
        snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)",
                 LEDGER_LOCK);
        if (exec(g, lock, NULL, "cannot lock the ledger") < 0)
            return -1;
        PGresult *r = run(g, "SELECT hash FROM ledger ORDER BY id DESC"
                             " LIMIT 1",
                          NULL, "cannot read the ledger");
        if (!r)
            return -1;
        const char *h = PQntuples(r) ? PQgetvalue(r, 0, 0) : "";
        snprintf(g->last, sizeof g->last, "%s", *h ? h : PR_LEDGER_GENESIS);
        PQclear(r);
    }
    char hash[PR_LEDGER_HEX + 1];
    if (pr_ledger_hash(g->last, run_id, (long long)seq, at, kind, st, json,
                       hash) < 0)
        return pr_errf(b->err, sizeof b->err,
                       "out of memory computing the ledger's digest");
    struct params l = {.n = 0};
    p_text(&l, run_id);
    p_int(&l, (long long)seq);
    p_text(&l, g->last);
    p_text(&l, hash);
    if (exec(g,
             "INSERT INTO ledger (run_id, seq, prev, hash)"
             " VALUES ($1, $2, $3, $4)",
             &l, "cannot record the ledger") < 0)
        return -1;
    memcpy(g->last, hash, sizeof hash);
    return 0;
}

/* ---- reading ---- */

/* Field (ROW, I) of R as JSON, as store_sqlite.c's column(). */
static cJSON *field(const PGresult *r, int row, int i)
{
    if (PQgetisnull(r, row, i))
        return cJSON_CreateNull();
    const char *name = PQfname(r, i), *t = PQgetvalue(r, row, i);
    switch (PQftype(r, i)) {
    case 20: /* int8 */
    case 21: /* int2 */
    case 23: /* int4 */
    case 700: /* float4 */
    case 701: /* float8 */
    case 1700: /* numeric */
        return cJSON_CreateNumber(strtod(t, NULL));
    case 16: /* bool */
        return cJSON_CreateNumber(*t == 't');
    default:
        break;
    }
    if (!strcmp(name, "value") || !strcmp(name, "params") ||
        !strcmp(name, "key_parts") || !strcmp(name, "inputs") ||
        !strcmp(name, "schema")) {
        cJSON *v = cJSON_Parse(t);
        if (v)
            return v;
    }
    return cJSON_CreateString(t);
}

static cJSON *object(const PGresult *r, int row)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < PQnfields(r); i++)
        cJSON_AddItemToObject(o, PQfname(r, i), field(r, row, i));
    return o;
}

/* The rows of QUERY with parameters P as a JSON list of objects; NULL
 * with the reason. */
static cJSON *rowsp(struct pg *g, const char *query, const struct params *p)
{
    PGresult *r = run(g, query, p, "cannot read");
    if (!r)
        return NULL;
    cJSON *list = cJSON_CreateArray();
    for (int k = 0; list && k < PQntuples(r); k++)
        cJSON_AddItemToArray(list, object(r, k));
    PQclear(r);
    if (!list)
        pr_errf(g->base.err, sizeof g->base.err, "out of memory");
    return list;
}

static cJSON *rows(struct pg *g, const char *query, const char *p1,
                   long long p2)
{
    struct params p = {.n = 0};
    if (p1)
        p_text(&p, p1);
    if (p2 >= 0)
        p_int(&p, p2);
    return rowsp(g, query, &p);
}

/* The worker that holds run RUNS.ID and the seconds its lease has
 * left, as columns (the queue of queue_pg.c). */
#define HOLDER                                                                \
    "(SELECT worker FROM poml_queue q WHERE q.run_id = runs.id AND"           \
    " q.state = 'claimed') AS worker,"                                        \
    " (SELECT q.lease_until - extract(epoch FROM clock_timestamp())"          \
    " FROM poml_queue q WHERE q.run_id = runs.id AND q.state = 'claimed')"    \
    " AS lease_left"

static cJSON *pg_runs(struct pr_store *b, unsigned limit)
{
    struct pg *g = (struct pg *)b;
    return rows(g,
                g->queue ? "SELECT id, workflow, status, started_at,"
                           " finished_at, exit_status, cost, tokens, " HOLDER
                           " FROM runs ORDER BY started_at DESC, id DESC"
                           " LIMIT $1"
                         : "SELECT id, workflow, status, started_at,"
                           " finished_at, exit_status, cost, tokens FROM runs"
                           " ORDER BY started_at DESC, id DESC LIMIT $1",
                NULL, limit);
}

static char *resolve(struct pg *g, const char *id)
{
    cJSON *l = !strcmp(id, "last")
                   ? rows(g,
                          "SELECT id FROM runs ORDER BY started_at DESC,"
                          " id DESC LIMIT 1",
                          NULL, -1)
                   : rows(g,
                          "SELECT id FROM runs WHERE substr(id, 1,"
                          " length($1)) = $1 LIMIT 2",
                          id, -1);
    return pr_store_one_run(l, g->base.err, sizeof g->base.err,
                            "state database", g->where, id);
}

static cJSON *pg_run(struct pr_store *b, const char *id)
{
    struct pg *g = (struct pg *)b;
    char *rid = resolve(g, id);
    if (!rid)
        return NULL;
    cJSON *run1 = rows(g,
                       g->queue ? "SELECT *, (SELECT max(seq) FROM events e"
                                  " WHERE e.run_id = runs.id) AS last_seq, "
                                  HOLDER " FROM runs WHERE id = $1"
                                : "SELECT *, (SELECT max(seq) FROM events e"
                                  " WHERE e.run_id = runs.id) AS last_seq"
                                  " FROM runs WHERE id = $1",
                       rid, -1);
    cJSON *jobs = rows(g,
                       "SELECT step, instance, status, attempts,"
                       " started_at, finished_at, reason, cache_key,"
                       " key_parts, inputs, decision, reused_from, pgid,"
                       " pg_start FROM jobs WHERE run_id = $1 ORDER BY ord",
                       rid, -1);
    cJSON *outs = rows(g,
                       "SELECT step, instance, name, value FROM outputs"
                       " WHERE run_id = $1 ORDER BY ord",
                       rid, -1);
    free(rid);
    return pr_store_run_tree(run1, jobs, outs);
}

static cJSON *pg_cached(struct pr_store *b, const char *key, double not_before)
{
    struct pg *g = (struct pg *)b;
    b->err[0] = '\0';
    struct params p = {.n = 0};
    p_text(&p, key);
    p_real(&p, not_before);
    cJSON *l = rowsp(g,
                     "SELECT run_id, step, instance, finished_at FROM jobs"
                     " WHERE cache_key = $1 AND status = 'succeeded' AND"
                     " finished_at >= $2 ORDER BY finished_at DESC LIMIT 1",
                     &p);
    cJSON *o = l ? cJSON_DetachItemFromArray(l, 0) : NULL;
    cJSON_Delete(l);
    if (!o)
        return NULL;
    struct params q = {.n = 0};
    p_text(&q, cJSON_GetObjectItem(o, "run_id")->valuestring);
    p_text(&q, cJSON_GetObjectItem(o, "step")->valuestring);
    p_int(&q, (long long)cJSON_GetObjectItem(o, "instance")->valuedouble);
    PGresult *r = run(g,
                      "SELECT name, value FROM outputs WHERE run_id = $1"
                      " AND step = $2 AND instance = $3 ORDER BY ord",
                      &q, "cannot read");
    cJSON *outs = r ? cJSON_AddObjectToObject(o, "outputs") : NULL;
    for (int k = 0; outs && k < PQntuples(r); k++) {
        cJSON *v = cJSON_Parse(PQgetvalue(r, k, 1));
        if (v)
            cJSON_AddItemToObject(outs, PQgetvalue(r, k, 0), v);
    }
    PQclear(r);
    if (!outs) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *pg_exchanges(struct pr_store *b, const char *id)
{
    return rows((struct pg *)b,
                "SELECT hash, n, http_status, content_type, reply,"
                " in_tokens, out_tokens, cost FROM exchanges"
                " WHERE run_id = $1 ORDER BY hash, n",
                id, -1);
}

static cJSON *pg_dead_letters(struct pr_store *b, const char *id)
{
    struct pg *g = (struct pg *)b;
    char *rid = id ? resolve(g, id) : NULL;
    if (id && !rid)
        return NULL;
    cJSON *l = rows(g,
                    rid ? "SELECT j.run_id, r.workflow, j.step, j.instance,"
                          " j.attempts, j.reason, j.inputs, j.finished_at"
                          " FROM jobs j JOIN runs r ON r.id = j.run_id"
                          " WHERE j.status = 'failed' AND j.run_id = $1"
                          " ORDER BY j.ord"
                        : "SELECT j.run_id, r.workflow, j.step, j.instance,"
                          " j.attempts, j.reason, j.inputs, j.finished_at"
                          " FROM jobs j JOIN runs r ON r.id = j.run_id"
                          " WHERE j.status = 'failed'"
                          " ORDER BY r.started_at DESC, j.ord",
                    rid, -1);
    free(rid);
    cJSON *e;
    cJSON_ArrayForEach (e, l) {
        struct params p = {.n = 0};
        p_text(&p, cJSON_GetObjectItem(e, "run_id")->valuestring);
        p_text(&p, cJSON_GetObjectItem(e, "step")->valuestring);
        p_int(&p, (long long)cJSON_GetObjectItem(e, "instance")->valuedouble);
        cJSON *att = rowsp(g,
                           "SELECT n, started_at, finished_at, ok, reason"
                           " FROM attempts WHERE run_id = $1 AND step = $2"
                           " AND instance = $3 ORDER BY n",
                           &p);
        if (!att)
            break;
        cJSON_AddItemToObject(e, "attempts_made", att);
    }
    return l;
}

static cJSON *pg_events(struct pr_store *b, const char *id)
{
    struct pg *g = (struct pg *)b;
    char *rid = resolve(g, id);
    if (!rid)
        return NULL;
    cJSON *l = rows(g, "SELECT data FROM events WHERE run_id = $1 ORDER BY seq",
                    rid, -1);
    free(rid);
    cJSON *e;
    cJSON_ArrayForEach (e, l) {
        cJSON *d = cJSON_DetachItemFromObject(e, "data");
        cJSON *v = cJSON_IsString(d) ? cJSON_Parse(d->valuestring) : NULL;
        cJSON_Delete(d);
        if (v)
            cJSON_AddItemToObject(e, "event", v);
    }
    return l;
}

static int pg_verify(struct pr_store *b, char *report, size_t cap)
{
    struct pg *g = (struct pg *)b;
    PGresult *r = run(g,
                      "SELECT l.id, l.run_id, l.seq, l.prev, l.hash, e.at,"
                      " e.kind, e.step, e.data, e.run_id IS NULL FROM ledger"
                      " l LEFT JOIN events e ON e.run_id = l.run_id AND"
                      " e.seq = l.seq ORDER BY l.id",
                      NULL, "cannot read the ledger");
    if (!r)
        return -1;
    char prev[PR_LEDGER_HEX + 1] = PR_LEDGER_GENESIS;
    char hash[PR_LEDGER_HEX + 1];
    int out = 0, n = PQntuples(r), k;
    for (k = 0; out == 0 && k < n; k++) {
        long long id = strtoll(PQgetvalue(r, k, 0), NULL, 10);
        const char *runid = PQgetvalue(r, k, 1);
        long long seq = strtoll(PQgetvalue(r, k, 2), NULL, 10);
        const char *p = PQgetvalue(r, k, 3), *h = PQgetvalue(r, k, 4);
        if (*PQgetvalue(r, k, 9) == 't') {
            snprintf(report, cap,
                     "ledger row %lld: event %lld of run %s was removed", id,
                     seq, runid);
            out = 1;
        } else if (strcmp(p, prev)) {
            snprintf(report, cap,
                     "ledger row %lld (event %lld of run %s): the row before "
                     "it was changed or removed",
                     id, seq, runid);
            out = 1;
        } else if (pr_ledger_hash(p, runid, seq,
                                  strtod(PQgetvalue(r, k, 5), NULL),
                                  PQgetvalue(r, k, 6),
                                  PQgetisnull(r, k, 7) ? NULL
                                                       : PQgetvalue(r, k, 7),
                                  PQgetvalue(r, k, 8), hash) < 0) {
            out = pr_errf(b->err, sizeof b->err, "the ledger's digest failed");
        } else if (strcmp(h, hash)) {
            snprintf(report, cap,
                     "ledger row %lld: event %lld of run %s was changed", id,
                     seq, runid);
            out = 1;
        } else {
            memcpy(prev, hash, sizeof hash);
        }
    }
    PQclear(r);
    if (out)
        return out;
    r = run(g,
            "SELECT e.run_id, e.seq FROM events e LEFT JOIN ledger l"
            " ON l.run_id = e.run_id AND l.seq = e.seq WHERE l.id IS NULL"
            " LIMIT 1",
            NULL, "cannot read the ledger");
    if (!r)
        return -1;
    if (PQntuples(r)) {
        snprintf(report, cap,
                 "event %s of run %s is in no ledger row: it was put in",
                 PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0));
        out = 1;
    } else {
        snprintf(report, cap, "ledger: %d rows, intact", n);
    }
    PQclear(r);
    return out;
}

/* ---- approvals ---- */

static int pg_approval_request(struct pr_store *b,
                               const struct pr_store_approval *a)
{
    struct params p = {.n = 0};
    p_text(&p, a->run_id);
    p_text(&p, a->step);
    p_int(&p, a->instance);
    p_text(&p, a->kind);
    p_real(&p, a->requested_at);
    p_when(&p, a->deadline);
    p_text(&p, a->prompt ? a->prompt : "");
    p_text(&p, a->schema_json);
    return exec(
        (struct pg *)b,
        "INSERT INTO approvals (run_id, step, instance, kind, requested_at,"
        " deadline, prompt, schema) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (run_id, step, instance) DO UPDATE SET"
        " kind = $4, requested_at = $5, deadline = $6, prompt = $7,"
        " schema = $8, decision = NULL, value = NULL, reason = NULL,"
        " answered_at = NULL, answered_by = NULL"
        " WHERE approvals.decision = 'retry'",
        &p, "cannot record an approval");
}

#define APPROVAL_COLUMNS                                                      \
    "SELECT run_id, step, instance, kind, prompt, schema, requested_at,"     \
    " deadline, decision, value, reason, answered_at, answered_by"           \
    " FROM approvals"

static int pg_approval(struct pr_store *b, const char *run_id,
                       const char *st, int32_t instance, cJSON **out)
{
    struct pg *g = (struct pg *)b;
    *out = NULL;
    char *rid = resolve(g, run_id);
    if (!rid)
        return -1;
    struct params p = {.n = 0};
    p_text(&p, rid);
    p_text(&p, st);
    p_int(&p, instance);
    cJSON *l = rowsp(g,
                     APPROVAL_COLUMNS
                     " WHERE run_id = $1 AND step = $2 AND instance = $3",
                     &p);
    free(rid);
    if (!l)
        return -1;
    *out = cJSON_DetachItemFromArray(l, 0);
    cJSON_Delete(l);
    return *out ? 1 : 0;
}

static int pg_approval_answer(struct pr_store *b, const char *run_id,
                              const char *st, int32_t instance,
                              const char *decision, const char *value,
                              const char *reason, const char *by, double at)
{
    struct params p = {.n = 0};
    p_text(&p, run_id);
    p_text(&p, st);
    p_int(&p, instance);
    p_text(&p, decision);
    p_text(&p, value);
    p_text(&p, reason);
    p_text(&p, by);
    p_real(&p, at);
    PGresult *r = run((struct pg *)b,
                      "UPDATE approvals SET decision = $4, value = $5,"
                      " reason = $6, answered_by = $7, answered_at = $8"
                      " WHERE run_id = $1 AND step = $2 AND instance = $3"
                      " AND decision IS NULL",
                      &p, "cannot record the answer");
    if (!r)
        return -1;
    int changed = !strcmp(PQcmdTuples(r), "1");
    PQclear(r);
    return changed ? 0 : 1;
}

static cJSON *pg_waiting(struct pr_store *b, const char *run_id)
{
    struct pg *g = (struct pg *)b;
    if (!run_id)
        return rows(g,
                    APPROVAL_COLUMNS " WHERE decision IS NULL"
                                     " ORDER BY requested_at, ord",
                    NULL, -1);
    char *rid = resolve(g, run_id);
    if (!rid)
        return NULL;
    cJSON *l = rows(g,
                    APPROVAL_COLUMNS " WHERE decision IS NULL AND run_id = $1"
                                     " ORDER BY requested_at, ord",
                    rid, -1);
    free(rid);
    return l;
}

static void pg_close(struct pr_store *b)
{
    struct pg *g = (struct pg *)b;
    if (b->in_txn)
        pg_commit(b);
    PQfinish(g->db);
    free(g->where);
    free(g);
}

static const struct pr_store_ops pg_ops = {
    .name = "postgresql",
    .begin = pg_begin,
    .commit = pg_commit,
    .run_started = pg_run_started,
    .run_finished = pg_run_finished,
    .job = pg_job,
    .attempt = pg_attempt,
    .output = pg_output,
    .event = pg_event,
    .runs = pg_runs,
    .run = pg_run,
    .events = pg_events,
    .verify = pg_verify,
    .run_resumed = pg_run_resumed,
    .process = pg_process,
    .exchange_sent = pg_exchange_sent,
    .exchange_done = pg_exchange_done,
    .exchanges = pg_exchanges,
    .cached = pg_cached,
    .dead_letters = pg_dead_letters,
    .approval_request = pg_approval_request,
    .approval = pg_approval,
    .approval_answer = pg_approval_answer,
    .waiting = pg_waiting,
    .close = pg_close,
};

/* Brings the schema to PR_STORE_SCHEMA under SCHEMA_LOCK. */
static int migrate(struct pg *g)
{
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)",
             SCHEMA_LOCK);
    if (exec(g, "BEGIN", NULL, "cannot begin a transaction") < 0)
        return -1;
    int rc = exec(g, lock, NULL, "cannot lock the schema");
    if (rc == 0)
        rc = exec(g,
                  "CREATE TABLE IF NOT EXISTS poml_schema (version BIGINT"
                  " NOT NULL)",
                  NULL, "cannot set up its tables");
    int version = -1;
    PGresult *r = rc == 0 ? run(g, "SELECT max(version) FROM poml_schema",
                                NULL, "cannot read the schema's version")
                          : NULL;
    if (!r)
        rc = -1;
    else
        version = PQgetisnull(r, 0, 0) ? 0 : atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (rc == 0 && version > PR_STORE_SCHEMA)
        rc = pr_errf(g->base.err, sizeof g->base.err,
                     "state database '%s' has schema %d, newer than this "
                     "pomlrun's (%d); use a newer pomlrun, or another "
                     "database with --state",
                     g->where, version, PR_STORE_SCHEMA);
    for (int v = version; rc == 0 && v < PR_STORE_SCHEMA; v++) {
        struct params p = {.n = 0};
        p_int(&p, v + 1);
        if (exec(g, migrations[v], NULL, "cannot set up its tables") < 0 ||
            exec(g, "DELETE FROM poml_schema", NULL,
                 "cannot set up its tables") < 0 ||
            exec(g, "INSERT INTO poml_schema (version) VALUES ($1)", &p,
                 "cannot set up its tables") < 0)
            rc = -1;
    }
    if (rc == 0 && exec(g, "COMMIT", NULL, "cannot set up its tables") < 0)
        rc = -1;
    if (rc < 0)
        PQclear(PQexec(g->db, "ROLLBACK"));
    return rc;
}

static void notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

struct pr_store *pr_store_pg_open(const char *url, char *err, size_t errcap)
{
    struct pg *g = calloc(1, sizeof *g);
    char shown[1024];
    pr_store_pg_redact(url, shown, sizeof shown);
    if (!g || !(g->where = strdup(shown))) {
        free(g);
        pr_errf(err, errcap, "out of memory");
        return NULL;
    }
    g->base.ops = &pg_ops;
    g->db = PQconnectdb(url);
    if (!g->db) {
        pr_errf(g->base.err, sizeof g->base.err, "out of memory");
    } else if (PQstatus(g->db) != CONNECTION_OK) {
        fail(g, "cannot connect", NULL);
    } else {
        PQsetNoticeProcessor(g->db, notice, NULL);
        if (exec(g, "SET client_min_messages = warning", NULL,
                 "cannot set up the session") == 0 &&
            migrate(g) == 0) {
            PGresult *r = run(g, "SELECT to_regclass('poml_queue') IS NOT"
                                 " NULL", NULL, "cannot read the schema");
            g->queue = r && PQntuples(r) == 1 && *PQgetvalue(r, 0, 0) == 't';
            PQclear(r);
            if (r)
                return &g->base;
        }
    }
    pr_errf(err, errcap, "%s", g->base.err);
    g->base.in_txn = false;
    pg_close(&g->base);
    return NULL;
}
