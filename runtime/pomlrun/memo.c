/* memo.c -- cache keys, and the results pomlrun reuses instead of running
 *
 * A job's key is a SHA-256 over named parts, in this order (pomlrun(1),
 * CACHE):
 *   definition      the step's compiled definition (plan_canon.c)
 *   param NAME      each parameter its expressions read, by name
 *   step ID         each step it depends on: its status and outputs
 *   item, index     a for_each instance's element and position
 *   endpoint        an LLM step's base URLs as this run resolves them
 * each part digested alone, so that --explain can name the part that
 * changed.  Values are digested in a canonical form (object members in
 * byte order of their names), never as the text they came in.  Times,
 * run ids and paths are no part of a key.
 *
 * Before a job's first attempt: a job of the run being resumed that
 * succeeded with the same key is reused; so is, for a step with `cache`,
 * the newest success with the same key in the state file, no older than
 * its ttl.  Everything else runs, and the reason is kept.
 *
 * LLM requests: the replies of the run being resumed are served to the
 * same requests, the N-th request with one body getting the N-th reply;
 * a request that had been sent but had no reply is sent again and
 * counted.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "memo.h"
#include "plan.h"
#include "plan_canon.h"
#include "record.h"
#include "store.h"
#include "util.h"

struct def { /* per step, made once */
    bool done, bad;
    char digest[PR_SHA256_HEX + 1];
    struct pr_canon_reads reads;
};

struct slot { /* per step: what was decided for it, or its instances */
    struct pr_memo_info *one;
    struct pr_memo_info **inst;
    size_t ninst;
    const cJSON *prior;       /* the earlier job (instance -1) */
    const cJSON **prior_inst; /* ... by instance */
    size_t nprior;
};

struct xrow { /* an exchange of the run resumed */
    const char *hash;
    uint32_t n;
    const cJSON *row;
};

struct count { /* requests with one body, in this process */
    char hash[PR_SHA256_HEX + 1];
    uint32_t n;
};

struct pr_memos {
    struct pr_memo iface;
    struct pr_llm_keeper keeper;
    const struct pr_plan *plan;
    struct pr_recorder *rec;
    struct pr_memo_opts o;
    struct def *defs;
    struct slot *slots;
    bool *forced; /* --resume-from: these steps run */
    struct xrow *x;
    size_t nx;
    struct count *counts; /* open addressing, capcounts a power of 2 */
    size_t ncounts, capcounts;
    struct pr_memo_stats stats;
};

/* ---- canonical values ---- */

static int cmp_names(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

static int canon_value(struct pr_buf *b, const cJSON *v, int depth);

/* Bookkeeping among a job's outputs, as expressions see them: its status
 * (a part of the key already) and attempts (they count work, not
 * results). */
static bool bookkeeping(const char *name)
{
    return !strcmp(name, "status") || !strcmp(name, "attempts");
}

/* The members of object V (without bookkeeping ones when SKIP), sorted
 * by name. */
static int canon_object(struct pr_buf *b, const cJSON *v, int depth, bool skip)
{
    int n = 0, rc;
    for (const cJSON *e = v ? v->child : NULL; e; e = e->next)
        n += !(skip && bookkeeping(e->string));
    const cJSON **m = n ? malloc((size_t)n * sizeof *m) : NULL;
    if (n && !m)
        return -1;
    int k = 0;
    for (const cJSON *e = v ? v->child : NULL; e; e = e->next)
        if (!(skip && bookkeeping(e->string)))
            m[k++] = e;
    if (n > 1)
        qsort(m, (size_t)n, sizeof *m, cmp_names);
    rc = pr_buf_append_u8(b, 7) | pr_buf_append_u32(b, (uint32_t)n);
    for (k = 0; k < n && !rc; k++) {
        size_t len = strlen(m[k]->string);
        rc = pr_buf_append_u64(b, len) | pr_buf_append(b, m[k]->string, len) |
             canon_value(b, m[k], depth + 1);
    }
    free(m);
    return rc;
}

/* V in a form that does not depend on how it was written: a tag, then
 * the value; object members sorted by name.  -1 out of memory. */
static int canon_value(struct pr_buf *b, const cJSON *v, int depth)
{
    if (!v || depth > 512)
        return pr_buf_append_u8(b, 0);
    if (cJSON_IsNull(v))
        return pr_buf_append_u8(b, 1);
    if (cJSON_IsBool(v))
        return pr_buf_append_u8(b, cJSON_IsTrue(v) ? 3 : 2);
    if (cJSON_IsNumber(v))
        return pr_buf_append_u8(b, 4) | pr_buf_append_f64(b, v->valuedouble);
    if (cJSON_IsString(v)) {
        size_t n = strlen(v->valuestring);
        return pr_buf_append_u8(b, 5) | pr_buf_append_u64(b, n) |
               pr_buf_append(b, v->valuestring, n);
    }
    if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        int rc = pr_buf_append_u8(b, 6) | pr_buf_append_u32(b, (uint32_t)n);
        for (const cJSON *e = v->child; e && !rc; e = e->next)
            rc = canon_value(b, e, depth + 1);
        return rc;
    }
    return canon_object(b, v, depth, false);
}

static int digest_value(const cJSON *v, char out[PR_SHA256_HEX + 1])
{
    struct pr_buf b;
    pr_buf_init(&b);
    int rc = canon_value(&b, v, 0);
    if (rc == 0)
        rc = pr_sha256_hex(b.data, b.len, out);
    pr_buf_free(&b);
    return rc;
}

/* ---- the parts of a key ---- */

static struct def *definition(struct pr_memos *m, uint32_t step)
{
    struct def *d = &m->defs[step];
    if (d->done)
        return d;
    d->done = true;
    struct pr_buf b;
    pr_buf_init(&b);
    d->bad = pr_step_canon(m->plan, step, &b, &d->reads) < 0 ||
             pr_sha256_hex(b.data, b.len, d->digest) < 0;
    pr_buf_free(&b);
    return d;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds part NAME whose digest is D to the key H and to PARTS. */
static int part_digest(struct pr_sha256 *h, cJSON *parts, const char *name,
                       const char *d)
{
    pr_sha256_part(h, name);
    pr_sha256_part(h, d);
    return cJSON_AddStringToObject(parts, name, d) ? 0 : -1;
}

/* Adds part NAME with value V (its digest) to the key H and to PARTS. */
static int part(struct pr_sha256 *h, cJSON *parts, const char *name,
                const cJSON *v)
{
    char d[PR_SHA256_HEX + 1];
    return digest_value(v, d) < 0 ? -1 : part_digest(h, parts, name, d);
}

/* The digest of a dependency as a dependent's key sees it: the object
 * {outputs, status}, its outputs without bookkeeping. */
static int dep_digest(const struct pr_job *dj, char d[PR_SHA256_HEX + 1])
{
    static const char outs[] = "outputs", st[] = "status";
    const char *status = pr_status_names[dj->status];
    size_t n = strlen(status);
    struct pr_buf b;
    pr_buf_init(&b);
    int rc = pr_buf_append_u8(&b, 7) | pr_buf_append_u32(&b, 2) |
             pr_buf_append_u64(&b, sizeof outs - 1) |
             pr_buf_append(&b, outs, sizeof outs - 1);
    rc = rc || canon_object(&b, dj->outputs, 1, true);
    rc = rc || pr_buf_append_u64(&b, sizeof st - 1) |
                   pr_buf_append(&b, st, sizeof st - 1) |
                   pr_buf_append_u8(&b, 5) | pr_buf_append_u64(&b, n) |
                   pr_buf_append(&b, status, n);
    rc = rc ? -1 : pr_sha256_hex(b.data, b.len, d);
    pr_buf_free(&b);
    return rc;
}

/* The key of J into INFO (key, parts, inputs); -1 when it cannot be made
 * (out of memory): J is then uncacheable. */
static int make_key(struct pr_memos *m, const struct pr_job *j,
                    struct pr_memo_info *info)
{
    const struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    struct def *d = definition(m, j->step);
    if (d->bad)
        return -1;
    struct pr_sha256 *h = pr_sha256_new();
    cJSON *parts = cJSON_CreateObject(), *inputs = cJSON_CreateObject();
    cJSON *pv = cJSON_AddObjectToObject(inputs, "params");
    int rc = h && parts && pv ? 0 : -1;
    pr_sha256_part(h, "poml-key-1");
    pr_sha256_part(h, "definition");
    pr_sha256_part(h, d->digest);
    if (rc == 0 && !cJSON_AddStringToObject(parts, "definition", d->digest))
        rc = -1;
    /* the parameters it reads, by name */
    size_t np = 0;
    const char **names = NULL;
    if (d->reads.all_params) {
        np = (size_t)cJSON_GetArraySize(r->params);
        names = np ? malloc(np * sizeof *names) : NULL;
        size_t k = 0;
        for (const cJSON *e = r->params ? r->params->child : NULL; names && e;
             e = e->next)
            names[k++] = e->string;
    } else if ((np = d->reads.nparams)) {
        names = malloc(np * sizeof *names);
        if (names)
            memcpy(names, d->reads.params, np * sizeof *names);
    }
    if (np && !names)
        rc = -1;
    if (names)
        qsort(names, np, sizeof *names, cmp_str);
    for (size_t k = 0; rc == 0 && k < np; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->params, names[k]);
        char pn[300];
        snprintf(pn, sizeof pn, "param %s", names[k]);
        rc = part(h, parts, pn, v);
        cJSON *shown = pr_store_secret_name(names[k])
                           ? cJSON_CreateString("[redacted]")
                       : v ? cJSON_Duplicate(v, true)
                           : cJSON_CreateNull();
        pr_json_add(pv, names[k], shown);
    }
    free(names);
    /* the steps it depends on, in the plan's order */
    for (uint32_t k = 0; rc == 0 && k < s->deps.n; k++) {
        uint32_t e = pr_plan_list_at(r->plan, s->deps, k);
        uint32_t dep = e & ~PR_EDGE_AFTER;
        if ((e & PR_EDGE_AFTER) || dep >= r->nsteps)
            continue;
        char pn[300], dd[PR_SHA256_HEX + 1];
        snprintf(pn, sizeof pn, "step %s", r->steps[dep].id);
        rc = dep_digest(&r->jobs[dep], dd) < 0 ? -1
                                               : part_digest(h, parts, pn, dd);
    }
    if (rc == 0 && j->instance >= 0) {
        cJSON *idx = cJSON_CreateNumber((double)j->index);
        rc = part(h, parts, "item", j->item) | part(h, parts, "index", idx);
        pr_json_add(inputs, "item", cJSON_Duplicate(j->item, true));
        pr_json_add(inputs, "index", idx);
    }
    if (rc == 0 && s->kind == PR_STEP_LLM) {
        cJSON *ep = cJSON_CreateArray();
        uint32_t chain[1 + 64];
        size_t nc = 0;
        if (s->model != PR_PLAN_NONE)
            chain[nc++] = s->model;
        for (uint32_t k = 0; k < s->fallback.n && nc < 65; k++)
            chain[nc++] = pr_plan_list_at(r->plan, s->fallback, k);
        for (uint32_t k = 0; k < s->cascade.n && nc < 65; k++)
            chain[nc++] = pr_plan_list_at(r->plan, s->cascade, k);
        for (size_t k = 0; ep && k < nc; k++) {
            struct pr_model md;
            pr_plan_model(r->plan, chain[k], &md);
            const char *env = md.base_url_env && *md.base_url_env
                                  ? getenv(md.base_url_env)
                                  : NULL;
            cJSON_AddItemToArray(
                ep, cJSON_CreateString(env && *env ? env : md.base_url));
        }
        rc = ep ? part(h, parts, "endpoint", ep) : -1;
        cJSON_Delete(ep);
    }
    if (rc == 0 && pr_sha256_end(h, info->key) < 0)
        rc = -1;
    else if (rc < 0)
        pr_sha256_end(h, info->key);
    if (rc == 0) {
        info->parts = cJSON_PrintUnformatted(parts);
        info->inputs = cJSON_PrintUnformatted(inputs);
        if (!info->parts || !info->inputs)
            rc = -1;
    }
    if (rc < 0)
        info->key[0] = '\0';
    cJSON_Delete(parts);
    cJSON_Delete(inputs);
    return rc;
}

/* ---- what was decided, per job ---- */

static struct pr_memo_info **info_slot(struct pr_memos *m,
                                       const struct pr_job *j)
{
    struct slot *sl = &m->slots[j->step];
    if (j->instance < 0)
        return &sl->one;
    size_t i = (size_t)j->instance;
    if (i >= sl->ninst) {
        size_t cap = sl->ninst;
        if (pr_grow((void **)&sl->inst, &cap, i + 1, sizeof *sl->inst) < 0)
            return NULL;
        memset(sl->inst + sl->ninst, 0, (cap - sl->ninst) * sizeof *sl->inst);
        sl->ninst = cap;
    }
    return &sl->inst[i];
}

const struct pr_memo_info *pr_memo_info(const struct pr_memos *m,
                                        const struct pr_job *j)
{
    const struct slot *sl = &m->slots[j->step];
    if (j->instance < 0)
        return sl->one;
    return (size_t)j->instance < sl->ninst ? sl->inst[j->instance] : NULL;
}

static void info_free(struct pr_memo_info *i)
{
    if (!i)
        return;
    free(i->parts);
    free(i->inputs);
    free(i->decision);
    free(i->reused_from);
    free(i);
}

static const cJSON *prior_job(const struct pr_memos *m, const struct pr_job *j)
{
    const struct slot *sl = &m->slots[j->step];
    if (j->instance < 0)
        return sl->prior;
    return (size_t)j->instance < sl->nprior ? sl->prior_inst[j->instance]
                                            : NULL;
}

/* The first part of the key that differs from the earlier job's, as
 * "param x changed", into OUT. */
static void changed_part(const cJSON *old_parts, const char *new_parts,
                         char *out, size_t cap)
{
    cJSON *np = cJSON_Parse(new_parts);
    const cJSON *e;
    snprintf(out, cap, "its key changed");
    cJSON_ArrayForEach (e, np) {
        const char *was = pr_json_str(old_parts, e->string);
        if (!was) {
            snprintf(out, cap, "%s is new to its key", e->string);
            break;
        }
        if (cJSON_IsString(e) && strcmp(was, e->valuestring)) {
            snprintf(out, cap, "%s changed", e->string);
            break;
        }
    }
    if (!strcmp(out, "its key changed"))
        cJSON_ArrayForEach (e, old_parts)
            if (!cJSON_GetObjectItemCaseSensitive(np, e->string)) {
                snprintf(out, cap, "%s is no longer in its key", e->string);
                break;
            }
    cJSON_Delete(np);
}

/* What an earlier job's status says, for a decision. */
static const char *was_what(const char *st)
{
    static const char *const says[][2] = {
        {"failed", "it failed"},
        {"skipped", "it was skipped"},
        {"cancelled", "it was cancelled"},
        {"running", "it was running when its pomlrun stopped"},
        {"waiting", "it had not started"}};
    for (size_t k = 0; st && k < sizeof says / sizeof *says; k++)
        if (!strcmp(st, says[k][0]))
            return says[k][1];
    return "it had not finished";
}

static void decide(struct pr_memos *m, const struct pr_job *j,
                   struct pr_memo_info *info, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void decide(struct pr_memos *m, const struct pr_job *j,
                   struct pr_memo_info *info, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(info->decision);
    info->decision = strdup(msg);
    if (m->o.explain) {
        char name[300];
        fprintf(m->o.explain, "pomlrun: explain: %s: %s\n",
                pr_job_name(j, name, sizeof name), msg);
    }
}

/* The outputs of an earlier job as this run's (a copy). */
static cJSON *outputs_of(const cJSON *job)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(job, "outputs");
    return cJSON_IsObject(o) ? cJSON_Duplicate(o, true) : cJSON_CreateObject();
}

static void ask(void *ud, const struct pr_job *j, struct pr_memo_answer *a)
{
    struct pr_memos *m = ud;
    const struct pr_step *s = pr_job_step(j);
    struct pr_memo_info **slot = info_slot(m, j);
    if (!slot)
        return;
    const cJSON *prior = prior_job(m, j);
    if (prior) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(prior, "attempts");
        a->earlier_attempts = cJSON_IsNumber(n) && n->valuedouble > 0
                                  ? (uint32_t)n->valuedouble
                                  : 0;
    }
    if (*slot) { /* asked again: its phase runs again (feedback) */
        decide(m, j, *slot, "runs again: its phase is run again");
        return;
    }
    struct pr_memo_info *info = calloc(1, sizeof *info);
    if (!info)
        return;
    *slot = info;
    if (make_key(m, j, info) < 0) {
        decide(m, j, info,
               "runs: its key cannot be made (out of memory), so it is "
               "not cached");
        return;
    }
    if (m->forced && m->forced[j->step]) {
        decide(m, j, info, "runs: --resume-from %s", m->o.resume_from);
        return;
    }
    if (prior) {
        const char *st = pr_json_str(prior, "status");
        const char *key = pr_json_str(prior, "cache_key");
        const char *run = pr_json_str(m->o.prior, "id");
        if (st && !strcmp(st, "succeeded") && key && !strcmp(key, info->key)) {
            a->outputs = outputs_of(prior);
            info->reused_from = run ? strdup(run) : NULL;
            m->stats.reused++;
            decide(m, j, info,
                   "reused: it succeeded before this run was resumed, with "
                   "the same key");
            return;
        }
        if (st && !strcmp(st, "succeeded")) {
            char why[400];
            if (key)
                changed_part(
                    cJSON_GetObjectItemCaseSensitive(prior, "key_parts"),
                    info->parts, why, sizeof why);
            else
                snprintf(why, sizeof why, "it had no key");
            decide(m, j, info, "runs again: %s", why);
            if (!(s->flags & PR_SF_CACHE))
                return;
        } else if (!(s->flags & PR_SF_CACHE) || m->o.no_cache) {
            const char *why = pr_json_str(prior, "reason");
            decide(m, j, info, "runs again: %s%s%s%s", was_what(st),
                   why ? " (" : "", why ? why : "", why ? ")" : "");
            return;
        }
    }
    if (!(s->flags & PR_SF_CACHE)) {
        decide(m, j, info, "runs: %s",
               m->o.prior ? "it had not run" : "the step is not cached");
        return;
    }
    if (m->o.no_cache) {
        decide(m, j, info, "runs: --no-cache");
        return;
    }
    struct pr_store *store = m->rec->store;
    if (!store) {
        decide(m, j, info, "runs: no state file to take a result from");
        return;
    }
    double not_before = s->cache_ttl > 0 ? pr_wall_now() - s->cache_ttl : 0;
    cJSON *hit = store->ops->cached(store, info->key, not_before);
    if (!hit) {
        if (pr_store_error(store)[0])
            decide(m, j, info, "runs: the cache cannot be read: %s",
                   pr_store_error(store));
        else
            decide(m, j, info,
                   s->cache_ttl > 0 ? "runs: no result with its key younger "
                                      "than its ttl"
                                    : "runs: no result with its key");
        return;
    }
    a->outputs = outputs_of(hit);
    const char *from = pr_json_str(hit, "run_id");
    info->reused_from = from ? strdup(from) : NULL;
    m->stats.cached++;
    decide(m, j, info, "reused from the cache: run %.8s, step %s",
           from ? from : "?", pr_json_str(hit, "step"));
    cJSON_Delete(hit);
}

/* ---- LLM replies ---- */

static int cmp_x(const void *a, const void *b)
{
    const struct xrow *x = a, *y = b;
    int c = strcmp(x->hash, y->hash);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static const struct xrow *find_x(const struct pr_memos *m, const char *hash,
                                 uint32_t n)
{
    struct xrow k = {hash, n, NULL};
    return m->nx ? bsearch(&k, m->x, m->nx, sizeof *m->x, cmp_x) : NULL;
}

static void request_hash(const char *protocol, const char *path,
                         const char *body, char out[PR_SHA256_HEX + 1])
{
    struct pr_sha256 *h = pr_sha256_new();
    pr_sha256_part(h, protocol);
    pr_sha256_part(h, path);
    pr_sha256_part(h, body);
    pr_sha256_end(h, out);
}

/* The count of requests made with HASH in this process (a slot). */
static struct count *count_of(struct pr_memos *m, const char *hash)
{
    if (m->ncounts * 2 >= m->capcounts) {
        size_t cap = m->capcounts ? m->capcounts * 2 : 64;
        struct count *c = calloc(cap, sizeof *c);
        if (!c)
            return NULL;
        for (size_t i = 0; i < m->capcounts; i++) {
            if (!m->counts[i].hash[0])
                continue;
            size_t k = strtoul(m->counts[i].hash + 48, NULL, 16) & (cap - 1);
            while (c[k].hash[0])
                k = (k + 1) & (cap - 1);
            c[k] = m->counts[i];
        }
        free(m->counts);
        m->counts = c;
        m->capcounts = cap;
    }
    size_t k = strtoul(hash + 48, NULL, 16) & (m->capcounts - 1);
    while (m->counts[k].hash[0] && strcmp(m->counts[k].hash, hash))
        k = (k + 1) & (m->capcounts - 1);
    if (!m->counts[k].hash[0]) {
        memcpy(m->counts[k].hash, hash, PR_SHA256_HEX + 1);
        m->ncounts++;
    }
    return &m->counts[k];
}

static bool kept_find(void *ud, const struct pr_job *j, const char *protocol,
                      const char *path, const char *body,
                      struct pr_llm_kept *x)
{
    struct pr_memos *m = ud;
    (void)j;
    if (!m->nx)
        return false;
    char hash[PR_SHA256_HEX + 1];
    request_hash(protocol, path, body, hash);
    struct count *c = count_of(m, hash);
    if (!c)
        return false;
    const struct xrow *r = find_x(m, hash, c->n + 1);
    const cJSON *st = r ? cJSON_GetObjectItem(r->row, "http_status") : NULL;
    const cJSON *reply = r ? cJSON_GetObjectItem(r->row, "reply") : NULL;
    if (!cJSON_IsNumber(st) || !cJSON_IsString(reply))
        return false;
    c->n++;
    x->status = (long)st->valuedouble;
    x->content_type = pr_json_str(r->row, "content_type");
    x->body = reply->valuestring;
    x->len = strlen(reply->valuestring);
    m->stats.served++;
    return true;
}

static uint64_t kept_sent(void *ud, const struct pr_job *j,
                          const char *protocol, const char *path,
                          const char *body)
{
    struct pr_memos *m = ud;
    char hash[PR_SHA256_HEX + 1];
    request_hash(protocol, path, body, hash);
    struct count *c = count_of(m, hash);
    if (!c)
        return 0;
    uint32_t n = ++c->n;
    const struct xrow *r = find_x(m, hash, n);
    if (r && cJSON_IsNull(cJSON_GetObjectItem(r->row, "reply")))
        m->stats.resent++; /* in flight when the run stopped */
    struct pr_store *s = pr_record_begin(m->rec);
    if (s)
        pr_record_check(m->rec,
                        s->ops->exchange_sent(s, j->run->run_id, hash, n,
                                              pr_job_step(j)->id, j->instance,
                                              pr_wall_now()));
    return n;
}

static void kept_keep(void *ud, const struct pr_job *j, uint64_t token,
                      const char *protocol, const char *path, const char *body,
                      const struct pr_llm_kept *x, uint64_t in_tok,
                      uint64_t out_tok, double cost)
{
    struct pr_memos *m = ud;
    if (!token)
        return;
    char hash[PR_SHA256_HEX + 1];
    request_hash(protocol, path, body, hash);
    const struct xrow *r = find_x(m, hash, (uint32_t)token);
    if (r && cJSON_IsNull(cJSON_GetObjectItem(r->row, "reply")))
        m->stats.resent_cost += cost;
    struct pr_store *s = pr_record_begin(m->rec);
    if (s)
        pr_record_check(
            m->rec,
            s->ops->exchange_done(s, j->run->run_id, hash, (uint32_t)token,
                                  x->status, x->content_type, x->body, x->len,
                                  in_tok, out_tok, cost, pr_wall_now()));
    pr_record_urgent(m->rec); /* a reply paid for is not lost */
}

/* ---- making one ---- */

static uint32_t step_index(const struct pr_plan *p, const char *id)
{
    for (uint32_t i = 0; i < p->nsteps; i++) {
        struct pr_step s;
        pr_plan_step(p, i, &s);
        if (!strcmp(s.id, id))
            return i;
    }
    return PR_PLAN_NONE;
}

/* Marks step I and everything downstream of it. */
static void force(const struct pr_plan *p, bool *forced, uint32_t i)
{
    /* plan order is topological: one pass forward will do */
    forced[i] = true;
    for (uint32_t k = i; k < p->nsteps; k++) {
        if (!forced[k])
            continue;
        struct pr_step s;
        pr_plan_step(p, k, &s);
        for (uint32_t e = 0; e < s.dependents.n; e++) {
            uint32_t d = pr_plan_list_at(p, s.dependents, e) & ~PR_EDGE_AFTER;
            if (d < p->nsteps)
                forced[d] = true;
        }
    }
}

static int index_prior(struct pr_memos *m)
{
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(m->o.prior, "jobs");
    const cJSON *job;
    cJSON_ArrayForEach (job, jobs) {
        const char *id = pr_json_str(job, "step");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(job, "instance");
        uint32_t i = id ? step_index(m->plan, id) : PR_PLAN_NONE;
        if (i == PR_PLAN_NONE || !cJSON_IsNumber(in))
            continue; /* a step the edited plan no longer has */
        struct slot *sl = &m->slots[i];
        double k = in->valuedouble;
        if (k < 0) {
            sl->prior = job;
            continue;
        }
        if (k >= 1e7)
            continue;
        size_t at = (size_t)k;
        if (at >= sl->nprior) {
            size_t cap = sl->nprior;
            if (pr_grow((void **)&sl->prior_inst, &cap, at + 1,
                        sizeof *sl->prior_inst) < 0)
                return -1;
            memset(sl->prior_inst + sl->nprior, 0,
                   (cap - sl->nprior) * sizeof *sl->prior_inst);
            sl->nprior = cap;
        }
        sl->prior_inst[at] = job;
    }
    const cJSON *x;
    size_t n = (size_t)cJSON_GetArraySize(m->o.exchanges);
    m->x = n ? calloc(n, sizeof *m->x) : NULL;
    if (n && !m->x)
        return -1;
    cJSON_ArrayForEach (x, m->o.exchanges) {
        const char *h = pr_json_str(x, "hash");
        const cJSON *k = cJSON_GetObjectItem(x, "n");
        if (h && cJSON_IsNumber(k))
            m->x[m->nx++] = (struct xrow){h, (uint32_t)k->valuedouble, x};
    }
    if (m->nx > 1)
        qsort(m->x, m->nx, sizeof *m->x, cmp_x);
    return 0;
}

struct pr_memos *pr_memo_new(const struct pr_plan *plan,
                             struct pr_recorder *rec,
                             const struct pr_memo_opts *o, char *err,
                             size_t cap)
{
    struct pr_memos *m = calloc(1, sizeof *m);
    if (!m) {
        pr_errf(err, cap, "out of memory");
        return NULL;
    }
    m->plan = plan;
    m->rec = rec;
    m->o = *o;
    m->iface = (struct pr_memo){m, ask};
    m->keeper = (struct pr_llm_keeper){m, kept_find, kept_sent, kept_keep};
    size_t n = (size_t)plan->nsteps + 1;
    m->defs = calloc(n, sizeof *m->defs);
    m->slots = calloc(n, sizeof *m->slots);
    if (!m->defs || !m->slots || (o->prior && index_prior(m) < 0)) {
        pr_errf(err, cap, "out of memory");
        pr_memo_free(m);
        return NULL;
    }
    if (o->resume_from) {
        uint32_t i = step_index(plan, o->resume_from);
        if (i == PR_PLAN_NONE) {
            pr_errf(err, cap, "--resume-from: the plan has no step '%s'",
                    o->resume_from);
            pr_memo_free(m);
            return NULL;
        }
        if (!(m->forced = calloc(n, sizeof *m->forced))) {
            pr_errf(err, cap, "out of memory");
            pr_memo_free(m);
            return NULL;
        }
        force(plan, m->forced, i);
    }
    return m;
}

void pr_memo_free(struct pr_memos *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; m->slots && i <= m->plan->nsteps; i++) {
        struct slot *sl = &m->slots[i];
        info_free(sl->one);
        for (size_t k = 0; k < sl->ninst; k++)
            info_free(sl->inst[k]);
        free(sl->inst);
        free(sl->prior_inst);
    }
    for (uint32_t i = 0; m->defs && i <= m->plan->nsteps; i++)
        pr_canon_reads_free(&m->defs[i].reads);
    free(m->defs);
    free(m->slots);
    free(m->forced);
    free(m->x);
    free(m->counts);
    cJSON_Delete(m->o.exchanges);
    free(m);
}

const struct pr_memo *pr_memo_iface(struct pr_memos *m)
{
    return &m->iface;
}

const struct pr_llm_keeper *pr_memo_keeper(struct pr_memos *m)
{
    return &m->keeper;
}

const struct pr_memo_stats *pr_memo_stats(const struct pr_memos *m)
{
    return &m->stats;
}
