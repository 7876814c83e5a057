/* store_sqlite.c -- the store in an SQLite file
 *
 * One file, in WAL mode (readers see a run while it is written; a second
 * pomlrun on the same file waits for the lock up to busy_timeout), with
 * foreign keys on and the schema's version in PRAGMA user_version, which
 * migrations move forward one step at a time.  synchronous=NORMAL by
 * default: a commit is ordered on disk but not flushed, so a kill of
 * pomlrun loses nothing and a power cut may lose the last commits;
 * synchronous=FULL (--sync=full) flushes each.  The schema is plain and
 * normalised so that sqlite3(1) reads it: pomlrun(1) documents it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_int.h"
#include "util.h"

/* Schema version N is made by steps[0..N): each step migrates N-1 to N. */
static const char *const migrations[PR_STORE_SCHEMA] = {
    /* 1 */
    "CREATE TABLE runs ("
    " id TEXT PRIMARY KEY, workflow TEXT NOT NULL, plan_hash TEXT NOT NULL,"
    " params TEXT NOT NULL, status TEXT NOT NULL, started_at REAL NOT NULL,"
    " finished_at REAL, exit_status INTEGER, cost REAL NOT NULL DEFAULT 0,"
    " tokens INTEGER NOT NULL DEFAULT 0, pid INTEGER);"
    "CREATE INDEX runs_started ON runs(started_at);"
    "CREATE TABLE jobs ("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " step TEXT NOT NULL, instance INTEGER NOT NULL, status TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, started_at REAL, finished_at REAL,"
    " reason TEXT, PRIMARY KEY (run_id, step, instance));"
    "CREATE TABLE attempts ("
    " run_id TEXT NOT NULL, step TEXT NOT NULL, instance INTEGER NOT NULL,"
    " n INTEGER NOT NULL, started_at REAL NOT NULL, finished_at REAL,"
    " ok INTEGER, reason TEXT, PRIMARY KEY (run_id, step, instance, n),"
    " FOREIGN KEY (run_id, step, instance)"
    "  REFERENCES jobs(run_id, step, instance) ON DELETE CASCADE);"
    "CREATE TABLE outputs ("
    " run_id TEXT NOT NULL, step TEXT NOT NULL, instance INTEGER NOT NULL,"
    " name TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (run_id, step, instance, name),"
    " FOREIGN KEY (run_id, step, instance)"
    "  REFERENCES jobs(run_id, step, instance) ON DELETE CASCADE);"
    "CREATE TABLE events ("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL,"
    " step TEXT, data TEXT NOT NULL, PRIMARY KEY (run_id, seq));",
    /* 2: the ledger, a hash chain over every event of every run */
    "CREATE TABLE ledger ("
    " id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " prev TEXT NOT NULL, hash TEXT NOT NULL);",
    /* 3: resume and the cache: what decided each job, its process, the
       replies of LLM requests */
    "ALTER TABLE runs ADD COLUMN pid_start INTEGER;"
    "ALTER TABLE runs ADD COLUMN resumes INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN cache_key TEXT;"
    "ALTER TABLE jobs ADD COLUMN key_parts TEXT;"
    "ALTER TABLE jobs ADD COLUMN inputs TEXT;"
    "ALTER TABLE jobs ADD COLUMN decision TEXT;"
    "ALTER TABLE jobs ADD COLUMN reused_from TEXT;"
    "ALTER TABLE jobs ADD COLUMN pgid INTEGER;"
    "ALTER TABLE jobs ADD COLUMN pg_start INTEGER;"
    "CREATE INDEX jobs_cache_key ON jobs(cache_key, finished_at)"
    " WHERE status = 'succeeded';"
    "CREATE TABLE exchanges ("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " hash TEXT NOT NULL, n INTEGER NOT NULL, step TEXT NOT NULL,"
    " instance INTEGER NOT NULL, sent_at REAL NOT NULL, done_at REAL,"
    " http_status INTEGER, content_type TEXT, reply TEXT,"
    " in_tokens INTEGER, out_tokens INTEGER, cost REAL,"
    " PRIMARY KEY (run_id, hash, n));",
    /* 4: questions put to a person (approval steps, escalations) */
    "CREATE TABLE approvals ("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " step TEXT NOT NULL, instance INTEGER NOT NULL, kind TEXT NOT NULL,"
    " requested_at REAL NOT NULL, deadline REAL, prompt TEXT NOT NULL,"
    " schema TEXT, decision TEXT CHECK (decision IN ('approve', 'reject',"
    " 'retry', 'skip', 'abort')), value TEXT, reason TEXT,"
    " answered_at REAL, answered_by TEXT,"
    " PRIMARY KEY (run_id, step, instance));",
};

enum stmt {
    S_BEGIN,
    S_COMMIT,
    S_RUN_START,
    S_RUN_END,
    S_JOB,
    S_ATTEMPT,
    S_OUTPUT,
    S_EVENT,
    S_LAST_HASH,
    S_LEDGER,
    S_RUN_RESUMED,
    S_PROCESS,
    S_XSENT,
    S_XDONE,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_RUN_START] =
        "INSERT INTO runs (id, workflow, plan_hash, params, status,"
        " started_at, pid, pid_start)"
        " VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7)",
    [S_RUN_END] =
        "UPDATE runs SET status = ?2, exit_status = ?3, finished_at = ?4,"
        " cost = ?5, tokens = ?6, pid = NULL, pid_start = NULL"
        " WHERE id = ?1",
    [S_JOB] = "INSERT INTO jobs (run_id, step, instance, status, attempts,"
              " started_at, finished_at, reason, cache_key, key_parts,"
              " inputs, decision, reused_from)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
              " ?13)"
              " ON CONFLICT (run_id, step, instance) DO UPDATE SET"
              " status = ?4, attempts = ?5, started_at = ?6, finished_at = ?7,"
              " reason = ?8, cache_key = coalesce(?9, cache_key),"
              " key_parts = coalesce(?10, key_parts),"
              " inputs = coalesce(?11, inputs),"
              " decision = coalesce(?12, decision), reused_from = ?13",
    [S_ATTEMPT] =
        "INSERT INTO attempts (run_id, step, instance, n, started_at,"
        " finished_at, ok, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        " ON CONFLICT (run_id, step, instance, n) DO UPDATE SET"
        " finished_at = ?6, ok = ?7, reason = ?8",
    [S_OUTPUT] = "INSERT INTO outputs (run_id, step, instance, name, value)"
                 " VALUES (?1, ?2, ?3, ?4, ?5)"
                 " ON CONFLICT (run_id, step, instance, name) DO UPDATE SET"
                 " value = ?5",
    [S_EVENT] = "INSERT INTO events (run_id, seq, at, kind, step, data)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_LAST_HASH] = "SELECT hash FROM ledger ORDER BY id DESC LIMIT 1",
    [S_LEDGER] = "INSERT INTO ledger (run_id, seq, prev, hash)"
                 " VALUES (?1, ?2, ?3, ?4)",
    [S_RUN_RESUMED] = "UPDATE runs SET status = 'running', pid = ?2,"
                      " pid_start = ?3, finished_at = NULL, exit_status ="
                      " NULL, resumes = resumes + 1 WHERE id = ?1",
    [S_PROCESS] = "UPDATE jobs SET pgid = ?4, pg_start = ?5"
                  " WHERE run_id = ?1 AND step = ?2 AND instance = ?3",
    [S_XSENT] = "INSERT INTO exchanges (run_id, hash, n, step, instance,"
                " sent_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                " ON CONFLICT (run_id, hash, n) DO UPDATE SET sent_at = ?6,"
                " step = ?4, instance = ?5",
    [S_XDONE] = "UPDATE exchanges SET http_status = ?4, content_type = ?5,"
                " reply = ?6, in_tokens = ?7, out_tokens = ?8, cost = ?9,"
                " done_at = ?10 WHERE run_id = ?1 AND hash = ?2 AND n = ?3",
};

struct sq {
    struct pr_store base;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[S_COUNT];
    char last[PR_LEDGER_HEX + 1]; /* the ledger's last hash in this
                                     transaction; "": not read yet */
};

static int fail(struct sq *q, const char *what)
{
    snprintf(q->base.err, sizeof q->base.err, "state file '%s': %s: %s",
             q->path, what, sqlite3_errmsg(q->db));
    return -1;
}

/* Runs statement K with its parameters bound by the caller, then resets
 * it. */
static int step(struct sq *q, enum stmt k, const char *what)
{
    sqlite3_stmt *s = q->st[k];
    int rc = sqlite3_step(s);
    /* taking the write lock may be refused at once rather than waited
       for (see BUSY_TRIES): try again */
    for (int t = 0; k == S_BEGIN && rc == SQLITE_BUSY && t < 200; t++) {
        sqlite3_reset(s);
        sqlite3_sleep(50);
        rc = sqlite3_step(s);
    }
    int out = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(q, what);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return out;
}

static void text(sqlite3_stmt *s, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void when(sqlite3_stmt *s, int i, double t)
{
    if (t > 0)
        sqlite3_bind_double(s, i, t);
    else
        sqlite3_bind_null(s, i);
}

static int sq_begin(struct pr_store *b)
{
    struct sq *q = (struct sq *)b;
    if (b->in_txn)
        return 0;
    if (step(q, S_BEGIN, "cannot begin a transaction") < 0)
        return -1;
    b->in_txn = true;
    q->last[0] = '\0'; /* another process may have added rows */
    return 0;
}

static int sq_commit(struct pr_store *b)
{
    struct sq *q = (struct sq *)b;
    if (!b->in_txn)
        return 0;
    b->in_txn = false;
    if (step(q, S_COMMIT, "cannot commit") < 0) {
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int sq_run_started(struct pr_store *b, const struct pr_store_run *r)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_RUN_START];
    text(s, 1, r->id);
    text(s, 2, r->workflow);
    text(s, 3, r->plan_hash);
    text(s, 4, r->params_json);
    sqlite3_bind_double(s, 5, r->started_at);
    sqlite3_bind_int64(s, 6, r->pid);
    sqlite3_bind_int64(s, 7, r->pid_start);
    return step(q, S_RUN_START, "cannot record the run");
}

static int sq_run_resumed(struct pr_store *b, const char *id, long pid,
                          long long pid_start, double at)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_RUN_RESUMED];
    (void)at;
    text(s, 1, id);
    sqlite3_bind_int64(s, 2, pid);
    sqlite3_bind_int64(s, 3, pid_start);
    return step(q, S_RUN_RESUMED, "cannot record the resumed run");
}

static int sq_process(struct pr_store *b, const char *run_id, const char *st,
                      int32_t instance, long pgid, long long pg_start)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_PROCESS];
    text(s, 1, run_id);
    text(s, 2, st);
    sqlite3_bind_int(s, 3, instance);
    sqlite3_bind_int64(s, 4, pgid);
    sqlite3_bind_int64(s, 5, pg_start);
    return step(q, S_PROCESS, "cannot record a job's process");
}

static int sq_exchange_sent(struct pr_store *b, const char *run_id,
                            const char *hash, uint32_t n, const char *st,
                            int32_t instance, double at)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_XSENT];
    text(s, 1, run_id);
    text(s, 2, hash);
    sqlite3_bind_int64(s, 3, n);
    text(s, 4, st);
    sqlite3_bind_int(s, 5, instance);
    sqlite3_bind_double(s, 6, at);
    return step(q, S_XSENT, "cannot record an LLM request");
}

static int sq_exchange_done(struct pr_store *b, const char *run_id,
                            const char *hash, uint32_t n, long status,
                            const char *content_type, const char *body,
                            size_t len, uint64_t in_tok, uint64_t out_tok,
                            double cost, double at)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_XDONE];
    text(s, 1, run_id);
    text(s, 2, hash);
    sqlite3_bind_int64(s, 3, n);
    sqlite3_bind_int64(s, 4, status);
    text(s, 5, content_type);
    sqlite3_bind_text64(s, 6, body ? body : "", len, SQLITE_STATIC,
                        SQLITE_UTF8);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)in_tok);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)out_tok);
    sqlite3_bind_double(s, 9, cost);
    sqlite3_bind_double(s, 10, at);
    return step(q, S_XDONE, "cannot record an LLM reply");
}

static int sq_run_finished(struct pr_store *b, const char *id,
                           const char *status, int exit_status, double at,
                           double cost, uint64_t tokens)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_RUN_END];
    text(s, 1, id);
    text(s, 2, status);
    sqlite3_bind_int(s, 3, exit_status);
    when(s, 4, at);
    sqlite3_bind_double(s, 5, cost);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)tokens);
    return step(q, S_RUN_END, "cannot record the end of the run");
}

static int sq_job(struct pr_store *b, const struct pr_store_job *j)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_JOB];
    text(s, 1, j->run_id);
    text(s, 2, j->step);
    sqlite3_bind_int(s, 3, j->instance);
    text(s, 4, j->status);
    sqlite3_bind_int64(s, 5, j->attempts);
    when(s, 6, j->started_at);
    when(s, 7, j->finished_at);
    text(s, 8, j->reason);
    text(s, 9, j->key);
    text(s, 10, j->key_parts);
    text(s, 11, j->inputs);
    text(s, 12, j->decision);
    text(s, 13, j->reused_from);
    return step(q, S_JOB, "cannot record a job");
}

static int sq_attempt(struct pr_store *b, const struct pr_store_attempt *a)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_ATTEMPT];
    text(s, 1, a->run_id);
    text(s, 2, a->step);
    sqlite3_bind_int(s, 3, a->instance);
    sqlite3_bind_int64(s, 4, a->n);
    sqlite3_bind_double(s, 5, a->started_at);
    when(s, 6, a->finished_at);
    if (a->ok < 0)
        sqlite3_bind_null(s, 7);
    else
        sqlite3_bind_int(s, 7, a->ok);
    text(s, 8, a->reason);
    return step(q, S_ATTEMPT, "cannot record an attempt");
}

static int sq_output(struct pr_store *b, const char *run_id, const char *st,
                     int32_t instance, const char *name, const char *value)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_OUTPUT];
    text(s, 1, run_id);
    text(s, 2, st);
    sqlite3_bind_int(s, 3, instance);
    text(s, 4, name);
    text(s, 5, value);
    return step(q, S_OUTPUT, "cannot record an output");
}

static int sq_event(struct pr_store *b, const char *run_id, uint64_t seq,
                    double at, const char *kind, const char *st,
                    const char *json)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s = q->st[S_EVENT];
    text(s, 1, run_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    sqlite3_bind_double(s, 3, at);
    text(s, 4, kind);
    text(s, 5, st);
    text(s, 6, json);
    if (step(q, S_EVENT, "cannot record an event") < 0)
        return -1;
    /* the event's row of the ledger, chained to the last one */
    if (!q->last[0]) {
        sqlite3_stmt *l = q->st[S_LAST_HASH];
        int rc = sqlite3_step(l);
        const char *h = rc == SQLITE_ROW
                            ? (const char *)sqlite3_column_text(l, 0)
                            : NULL;
        snprintf(q->last, sizeof q->last, "%s",
                 h && *h ? h : PR_LEDGER_GENESIS);
        sqlite3_reset(l);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return fail(q, "cannot read the ledger");
    }
    char hash[PR_LEDGER_HEX + 1];
    if (pr_ledger_hash(q->last, run_id, (long long)seq, at, kind, st, json,
                       hash) < 0) {
        snprintf(b->err, sizeof b->err,
                 "out of memory computing the ledger's digest");
        return -1;
    }
    s = q->st[S_LEDGER];
    text(s, 1, run_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    text(s, 3, q->last);
    text(s, 4, hash);
    if (step(q, S_LEDGER, "cannot record the ledger") < 0)
        return -1;
    memcpy(q->last, hash, sizeof hash);
    return 0;
}

/* ---- reading ---- */

/* Column I of S as JSON: numbers as numbers, text as text, NULL as
 * null; a column named value, params, key_parts, inputs or schema holds
 * JSON text and is parsed. */
static cJSON *column(sqlite3_stmt *s, int i)
{
    const char *name = sqlite3_column_name(s, i);
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
        return cJSON_CreateNumber((double)sqlite3_column_int64(s, i));
    case SQLITE_FLOAT:
        return cJSON_CreateNumber(sqlite3_column_double(s, i));
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_column_text(s, i);
        if (!strcmp(name, "value") || !strcmp(name, "params") ||
            !strcmp(name, "key_parts") || !strcmp(name, "inputs") ||
            !strcmp(name, "schema")) {
            cJSON *v = cJSON_Parse(t);
            if (v)
                return v;
        }
        return cJSON_CreateString(t);
    }
    default:
        return cJSON_CreateNull();
    }
}

/* The rows of SQL (with text parameter P1 when not NULL) as a JSON list
 * of objects; NULL with the reason. */
static cJSON *rows(struct sq *q, const char *query, const char *p1,
                   long long p2)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, query, -1, &s, NULL) != SQLITE_OK) {
        fail(q, "cannot read");
        return NULL;
    }
    if (p1)
        sqlite3_bind_text(s, 1, p1, -1, SQLITE_STATIC);
    if (p2 >= 0)
        sqlite3_bind_int64(s, p1 ? 2 : 1, p2);
    cJSON *list = cJSON_CreateArray();
    int rc;
    while (list && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        for (int i = 0; o && i < sqlite3_column_count(s); i++)
            cJSON_AddItemToObject(o, sqlite3_column_name(s, i), column(s, i));
        cJSON_AddItemToArray(list, o);
    }
    if (list && rc != SQLITE_DONE) {
        fail(q, "cannot read");
        cJSON_Delete(list);
        list = NULL;
    }
    sqlite3_finalize(s);
    if (!list && !q->base.err[0])
        snprintf(q->base.err, sizeof q->base.err, "out of memory");
    return list;
}

static cJSON *sq_runs(struct pr_store *b, unsigned limit)
{
    return rows((struct sq *)b,
                "SELECT id, workflow, status, started_at, finished_at,"
                " exit_status, cost, tokens FROM runs"
                " ORDER BY started_at DESC, rowid DESC LIMIT ?1",
                NULL, limit);
}

/* The id of the run ID names: itself, the only run it is a prefix of,
 * or the newest for "last"; NULL with the reason. */
static char *resolve(struct sq *q, const char *id)
{
    cJSON *l = !strcmp(id, "last")
                   ? rows(q,
                          "SELECT id FROM runs ORDER BY started_at DESC,"
                          " rowid DESC LIMIT 1",
                          NULL, -1)
                   : rows(q,
                          "SELECT id FROM runs WHERE substr(id, 1,"
                          " length(?1)) = ?1 LIMIT 2",
                          id, -1);
    return pr_store_one_run(l, q->base.err, sizeof q->base.err, "state file",
                            q->path, id);
}

static cJSON *sq_run(struct pr_store *b, const char *id)
{
    struct sq *q = (struct sq *)b;
    char *rid = resolve(q, id);
    if (!rid)
        return NULL;
    cJSON *run = rows(q,
                      "SELECT *, (SELECT max(seq) FROM events e"
                      " WHERE e.run_id = runs.id) AS last_seq"
                      " FROM runs WHERE id = ?1",
                      rid, -1);
    cJSON *jobs = rows(q,
                       "SELECT step, instance, status, attempts,"
                       " started_at, finished_at, reason, cache_key,"
                       " key_parts, inputs, decision, reused_from, pgid,"
                       " pg_start FROM jobs"
                       " WHERE run_id = ?1 ORDER BY rowid",
                       rid, -1);
    cJSON *outs = rows(q,
                       "SELECT step, instance, name, value FROM outputs"
                       " WHERE run_id = ?1 ORDER BY rowid",
                       rid, -1);
    free(rid);
    return pr_store_run_tree(run, jobs, outs);
}

/* The outputs of job (RUN, STEP, INSTANCE) into O. */
static int job_outputs(struct sq *q, cJSON *o, const char *run, const char *st,
                       long long instance)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db,
                           "SELECT name, value FROM outputs WHERE run_id = ?1"
                           " AND step = ?2 AND instance = ?3 ORDER BY rowid",
                           -1, &s, NULL) != SQLITE_OK)
        return fail(q, "cannot read");
    sqlite3_bind_text(s, 1, run, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, st, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, instance);
    cJSON *outs = cJSON_AddObjectToObject(o, "outputs");
    int rc;
    while (outs && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *v = cJSON_Parse((const char *)sqlite3_column_text(s, 1));
        if (v)
            cJSON_AddItemToObject(outs,
                                  (const char *)sqlite3_column_text(s, 0), v);
    }
    int out = outs && rc == SQLITE_DONE ? 0 : fail(q, "cannot read");
    sqlite3_finalize(s);
    return out;
}

static cJSON *sq_cached(struct pr_store *b, const char *key, double not_before)
{
    struct sq *q = (struct sq *)b;
    q->base.err[0] = '\0';
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db,
                           "SELECT run_id, step, instance, finished_at FROM"
                           " jobs WHERE cache_key = ?1 AND status ="
                           " 'succeeded' AND finished_at >= ?2 ORDER BY"
                           " finished_at DESC LIMIT 1",
                           -1, &s, NULL) != SQLITE_OK) {
        fail(q, "cannot read");
        return NULL;
    }
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 2, not_before);
    cJSON *o = NULL;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && (o = cJSON_CreateObject())) {
        for (int i = 0; i < 4; i++)
            cJSON_AddItemToObject(o, sqlite3_column_name(s, i), column(s, i));
        if (job_outputs(
                q, o, cJSON_GetObjectItem(o, "run_id")->valuestring,
                cJSON_GetObjectItem(o, "step")->valuestring,
                (long long)cJSON_GetObjectItem(o, "instance")->valuedouble) <
            0) {
            cJSON_Delete(o);
            o = NULL;
        }
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fail(q, "cannot read");
    }
    sqlite3_finalize(s);
    return o;
}

static cJSON *sq_exchanges(struct pr_store *b, const char *id)
{
    return rows((struct sq *)b,
                "SELECT hash, n, http_status, content_type, reply,"
                " in_tokens, out_tokens, cost FROM exchanges"
                " WHERE run_id = ?1 ORDER BY hash, n",
                id, -1);
}

static cJSON *sq_dead_letters(struct pr_store *b, const char *id)
{
    struct sq *q = (struct sq *)b;
    char *rid = id ? resolve(q, id) : NULL;
    if (id && !rid)
        return NULL;
    cJSON *l = rows(q,
                    rid ? "SELECT j.run_id, r.workflow, j.step, j.instance,"
                          " j.attempts, j.reason, j.inputs, j.finished_at"
                          " FROM jobs j JOIN runs r ON r.id = j.run_id"
                          " WHERE j.status = 'failed' AND j.run_id = ?1"
                          " ORDER BY j.rowid"
                        : "SELECT j.run_id, r.workflow, j.step, j.instance,"
                          " j.attempts, j.reason, j.inputs, j.finished_at"
                          " FROM jobs j JOIN runs r ON r.id = j.run_id"
                          " WHERE j.status = 'failed'"
                          " ORDER BY r.started_at DESC, j.rowid",
                    rid, -1);
    free(rid);
    cJSON *e;
    cJSON_ArrayForEach (e, l) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(q->db,
                               "SELECT n, started_at, finished_at, ok, reason"
                               " FROM attempts WHERE run_id = ?1 AND step ="
                               " ?2 AND instance = ?3 ORDER BY n",
                               -1, &s, NULL) != SQLITE_OK)
            break;
        sqlite3_bind_text(s, 1, cJSON_GetObjectItem(e, "run_id")->valuestring,
                          -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, cJSON_GetObjectItem(e, "step")->valuestring,
                          -1, SQLITE_STATIC);
        sqlite3_bind_int64(
            s, 3, (long long)cJSON_GetObjectItem(e, "instance")->valuedouble);
        cJSON *att = cJSON_AddArrayToObject(e, "attempts_made");
        while (att && sqlite3_step(s) == SQLITE_ROW) {
            cJSON *a = cJSON_CreateObject();
            for (int i = 0; a && i < 5; i++)
                cJSON_AddItemToObject(a, sqlite3_column_name(s, i),
                                      column(s, i));
            cJSON_AddItemToArray(att, a);
        }
        sqlite3_finalize(s);
    }
    return l;
}

static cJSON *sq_events(struct pr_store *b, const char *id)
{
    struct sq *q = (struct sq *)b;
    char *rid = resolve(q, id);
    if (!rid)
        return NULL;
    cJSON *l = rows(q,
                    "SELECT data FROM events WHERE run_id = ?1"
                    " ORDER BY seq",
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

/* The ledger walked in order, each row's event read back and its hash
 * computed again; the chain breaks where a row or an event was changed,
 * removed or put in, and the first break is reported. */
static int sq_verify(struct pr_store *b, char *report, size_t cap)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s;
    const char *walk =
        "SELECT l.id, l.run_id, l.seq, l.prev, l.hash, e.at, e.kind, e.step,"
        " e.data, e.rowid IS NULL FROM ledger l LEFT JOIN events e"
        " ON e.run_id = l.run_id AND e.seq = l.seq ORDER BY l.id";
    if (sqlite3_prepare_v2(q->db, walk, -1, &s, NULL) != SQLITE_OK)
        return fail(q, "cannot read the ledger");
    char prev[PR_LEDGER_HEX + 1] = PR_LEDGER_GENESIS;
    char hash[PR_LEDGER_HEX + 1];
    int rc, out = 0;
    long long rows = 0;
    while (out == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(s, 0);
        const char *run = (const char *)sqlite3_column_text(s, 1);
        long long seq = sqlite3_column_int64(s, 2);
        const char *p = (const char *)sqlite3_column_text(s, 3);
        const char *h = (const char *)sqlite3_column_text(s, 4);
        rows++;
        if (sqlite3_column_int(s, 9)) {
            snprintf(report, cap,
                     "ledger row %lld: event %lld of run %s was removed", id,
                     seq, run ? run : "?");
            out = 1;
        } else if (!p || strcmp(p, prev)) {
            snprintf(report, cap,
                     "ledger row %lld (event %lld of run %s): the row before "
                     "it was changed or removed",
                     id, seq, run ? run : "?");
            out = 1;
        } else if (pr_ledger_hash(p, run, seq, sqlite3_column_double(s, 5),
                                  (const char *)sqlite3_column_text(s, 6),
                                  (const char *)sqlite3_column_text(s, 7),
                                  (const char *)sqlite3_column_text(s, 8),
                                  hash) < 0) {
            out = -1;
            snprintf(b->err, sizeof b->err, "the ledger's digest failed");
        } else if (!h || strcmp(h, hash)) {
            snprintf(report, cap,
                     "ledger row %lld: event %lld of run %s was changed", id,
                     seq, run ? run : "?");
            out = 1;
        } else {
            memcpy(prev, hash, sizeof hash);
        }
    }
    if (out == 0 && rc != SQLITE_DONE)
        out = fail(q, "cannot read the ledger");
    sqlite3_finalize(s);
    if (out)
        return out;
    /* an event that no ledger row holds was put in */
    const char *extra = "SELECT e.run_id, e.seq FROM events e LEFT JOIN"
                        " ledger l ON l.run_id = e.run_id AND l.seq = e.seq"
                        " WHERE l.id IS NULL LIMIT 1";
    if (sqlite3_prepare_v2(q->db, extra, -1, &s, NULL) != SQLITE_OK)
        return fail(q, "cannot read the ledger");
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        snprintf(report, cap,
                 "event %lld of run %s is in no ledger row: it was put in",
                 sqlite3_column_int64(s, 1),
                 (const char *)sqlite3_column_text(s, 0));
        out = 1;
    } else if (rc != SQLITE_DONE) {
        out = fail(q, "cannot read the ledger");
    } else {
        snprintf(report, cap, "ledger: %lld rows, intact", rows);
    }
    sqlite3_finalize(s);
    return out;
}

/* ---- approvals ---- */

static int sq_approval_request(struct pr_store *b,
                               const struct pr_store_approval *a)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s;
    const char *ins =
        "INSERT INTO approvals (run_id, step, instance, kind, requested_at,"
        " deadline, prompt, schema) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        " ON CONFLICT (run_id, step, instance) DO UPDATE SET"
        " kind = ?4, requested_at = ?5, deadline = ?6, prompt = ?7,"
        " schema = ?8, decision = NULL, value = NULL, reason = NULL,"
        " answered_at = NULL, answered_by = NULL"
        " WHERE approvals.decision = 'retry'";
    if (sqlite3_prepare_v2(q->db, ins, -1, &s, NULL) != SQLITE_OK)
        return fail(q, "cannot record an approval");
    text(s, 1, a->run_id);
    text(s, 2, a->step);
    sqlite3_bind_int(s, 3, a->instance);
    text(s, 4, a->kind);
    sqlite3_bind_double(s, 5, a->requested_at);
    when(s, 6, a->deadline);
    text(s, 7, a->prompt ? a->prompt : "");
    text(s, 8, a->schema_json);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : fail(q, "cannot record an approval");
}

#define APPROVAL_COLUMNS                                                      \
    "SELECT run_id, step, instance, kind, prompt, schema, requested_at,"     \
    " deadline, decision, value, reason, answered_at, answered_by"           \
    " FROM approvals"

static int sq_approval(struct pr_store *b, const char *run_id,
                       const char *st, int32_t instance, cJSON **out)
{
    struct sq *q = (struct sq *)b;
    *out = NULL;
    char *rid = resolve(q, run_id);
    if (!rid)
        return -1;
    sqlite3_stmt *s;
    const char *query = APPROVAL_COLUMNS
        " WHERE run_id = ?1 AND step = ?2 AND instance = ?3";
    int rc = sqlite3_prepare_v2(q->db, query, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, rid, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, st, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 3, instance);
        rc = sqlite3_step(s);
    }
    int found = 0;
    if (rc == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        for (int i = 0; o && i < sqlite3_column_count(s); i++)
            cJSON_AddItemToObject(o, sqlite3_column_name(s, i), column(s, i));
        found = o ? 1 : pr_errf(b->err, sizeof b->err, "out of memory");
        *out = o;
    } else if (rc != SQLITE_DONE) {
        found = fail(q, "cannot read the approvals");
    }
    sqlite3_finalize(s);
    free(rid);
    return found;
}

static int sq_approval_answer(struct pr_store *b, const char *run_id,
                              const char *st, int32_t instance,
                              const char *decision, const char *value,
                              const char *reason, const char *by, double at)
{
    struct sq *q = (struct sq *)b;
    sqlite3_stmt *s;
    const char *upd = "UPDATE approvals SET decision = ?4, value = ?5,"
                      " reason = ?6, answered_by = ?7, answered_at = ?8"
                      " WHERE run_id = ?1 AND step = ?2 AND instance = ?3"
                      " AND decision IS NULL";
    if (sqlite3_prepare_v2(q->db, upd, -1, &s, NULL) != SQLITE_OK)
        return fail(q, "cannot record the answer");
    text(s, 1, run_id);
    text(s, 2, st);
    sqlite3_bind_int(s, 3, instance);
    text(s, 4, decision);
    text(s, 5, value);
    text(s, 6, reason);
    text(s, 7, by);
    sqlite3_bind_double(s, 8, at);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return fail(q, "cannot record the answer");
    return sqlite3_changes(q->db) == 1 ? 0 : 1;
}

static cJSON *sq_waiting(struct pr_store *b, const char *run_id)
{
    struct sq *q = (struct sq *)b;
    if (!run_id)
        return rows(q,
                    APPROVAL_COLUMNS " WHERE decision IS NULL"
                                     " ORDER BY requested_at, rowid",
                    NULL, -1);
    char *rid = resolve(q, run_id);
    if (!rid)
        return NULL;
    cJSON *l = rows(q,
                    APPROVAL_COLUMNS " WHERE decision IS NULL AND run_id = ?1"
                                     " ORDER BY requested_at, rowid",
                    rid, -1);
    free(rid);
    return l;
}

static void sq_close(struct pr_store *b)
{
    struct sq *q = (struct sq *)b;
    if (b->in_txn)
        sq_commit(b);
    for (int k = 0; k < S_COUNT; k++)
        sqlite3_finalize(q->st[k]);
    sqlite3_close(q->db);
    free(q->path);
    free(q);
}

static const struct pr_store_ops sqlite_ops = {
    .name = "sqlite",
    .begin = sq_begin,
    .commit = sq_commit,
    .run_started = sq_run_started,
    .run_finished = sq_run_finished,
    .job = sq_job,
    .attempt = sq_attempt,
    .output = sq_output,
    .event = sq_event,
    .runs = sq_runs,
    .run = sq_run,
    .events = sq_events,
    .verify = sq_verify,
    .run_resumed = sq_run_resumed,
    .process = sq_process,
    .exchange_sent = sq_exchange_sent,
    .exchange_done = sq_exchange_done,
    .exchanges = sq_exchanges,
    .cached = sq_cached,
    .dead_letters = sq_dead_letters,
    .approval_request = sq_approval_request,
    .approval = sq_approval,
    .approval_answer = sq_approval_answer,
    .waiting = sq_waiting,
    .close = sq_close,
};

/* Makes the directory of PATH (one level: .poml/), if it has one. */
static void make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    mkdir(dir, 0777);
}

/* Brings the schema to PR_STORE_SCHEMA; 0, or -1 with the reason.  The
 * version is read under the write lock, so that two pomlrun processes
 * making one new file do not both migrate it. */
static int migrate(struct sq *q)
{
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(q, "not a state file, or cannot be written");
    sqlite3_stmt *s;
    int version = -1;
    if (sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &s, NULL) ==
            SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    int rc = 0;
    if (version < 0) {
        rc = fail(q, "not a state file");
    } else if (version > PR_STORE_SCHEMA) {
        snprintf(q->base.err, sizeof q->base.err,
                 "state file '%s' has schema %d, newer than this pomlrun's "
                 "(%d); use a newer pomlrun, or another file with --state",
                 q->path, version, PR_STORE_SCHEMA);
        rc = -1;
    }
    for (int v = version; rc == 0 && v < PR_STORE_SCHEMA; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(q->db, migrations[v], NULL, NULL, NULL) !=
                SQLITE_OK ||
            sqlite3_exec(q->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
            rc = fail(q, "cannot set up its tables");
    }
    if (rc == 0 &&
        sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(q, "cannot set up its tables");
    if (rc < 0)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* SQLite returns SQLITE_BUSY without waiting where waiting could
 * deadlock: two processes making one new file, one switching it to WAL
 * while the other reads its header.  Such steps are tried again, for up
 * to about 10 s. */
#define BUSY_TRIES 200

static int exec_busy(struct sq *q, const char *text)
{
    int rc = SQLITE_BUSY;
    for (int k = 0;
         k < BUSY_TRIES && (rc == SQLITE_BUSY || rc == SQLITE_LOCKED); k++) {
        if (k)
            sqlite3_sleep(50);
        rc = sqlite3_exec(q->db, text, NULL, NULL, NULL);
    }
    return rc;
}

static int migrate_busy(struct sq *q)
{
    int rc = -1;
    for (int k = 0; k < BUSY_TRIES; k++) {
        if (k)
            sqlite3_sleep(50);
        if ((rc = migrate(q)) == 0)
            return 0;
        int e = sqlite3_errcode(q->db);
        if (e != SQLITE_BUSY && e != SQLITE_LOCKED)
            return rc;
    }
    return rc;
}

struct pr_store *pr_store_sqlite_open(const char *where, bool sync_full,
                                      char *err, size_t errcap)
{
    struct sq *q = calloc(1, sizeof *q);
    if (!q || !(q->path = strdup(where))) {
        free(q);
        pr_errf(err, errcap, "out of memory");
        return NULL;
    }
    q->base.ops = &sqlite_ops;
    make_parent(where);
    int rc = sqlite3_open_v2(where, &q->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s;"
             " PRAGMA foreign_keys = ON;",
             sync_full ? "FULL" : "NORMAL");
    if (rc != SQLITE_OK || !q->db) {
        if (q->db)
            fail(q, "cannot open");
        else
            pr_errf(q->base.err, sizeof q->base.err, "out of memory");
    } else if (sqlite3_busy_timeout(q->db, 10000) != SQLITE_OK ||
               exec_busy(q, pragmas) != SQLITE_OK) {
        fail(q, "cannot open");
    } else if (migrate_busy(q) == 0) {
        rc = 0;
        for (int k = 0; k < S_COUNT && rc == 0; k++)
            if (sqlite3_prepare_v3(q->db, sql[k], -1,
                                   SQLITE_PREPARE_PERSISTENT, &q->st[k],
                                   NULL) != SQLITE_OK)
                rc = fail(q, "cannot prepare its statements");
        if (rc == 0)
            return &q->base;
    }
    pr_errf(err, errcap, "%s", q->base.err);
    q->base.in_txn = false;
    sq_close(&q->base);
    return NULL;
}
