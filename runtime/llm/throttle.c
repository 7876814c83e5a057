/* throttle.c -- concurrency and rate limits per provider
 *
 * Queues of waiting calls and token buckets; when to look again (a
 * timer, a call that ends) is the caller's (llm.c).
 */
#include <stdlib.h>
#include <string.h>

#include "throttle.h"
#include "loop.h"
#include "util.h"

int pr_llm_limits_init(struct pr_llm_limits *l, size_t max, unsigned jobs,
                       unsigned rpm, unsigned tpm)
{
    memset(l, 0, sizeof *l);
    l->jobs = jobs;
    l->rpm = rpm;
    l->tpm = tpm;
    l->max = max;
    l->p = calloc(max ? max : 1, sizeof *l->p);
    return l->p ? 0 : -1;
}

void pr_llm_limits_free(struct pr_llm_limits *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->p[i].q);
    free(l->p);
    l->p = NULL;
    l->n = 0;
}

struct pr_llm_provider *pr_llm_provider(struct pr_llm_limits *l,
                                        const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->p[i].name, name))
            return &l->p[i];
    if (l->n >= l->max)
        return NULL;
    struct pr_llm_provider *p = &l->p[l->n++];
    p->name = name;
    p->in_flight = 0;
    return p;
}

/* Admits T under its provider's limits: 0 (the buckets are charged), or
 * the seconds until it could be admitted (-1: a concurrency slot must
 * free up first). */
static double admit(struct pr_llm_limits *l, struct pr_llm_ticket *t)
{
    struct pr_llm_provider *s = t->prov;
    if (s->in_flight >= l->jobs)
        return -1;
    double rpm = l->rpm, tpm = l->tpm;
    if (!rpm && !tpm)
        return 0;
    double now = pr_loop_now();
    if (!s->last) {
        s->req_avail = rpm;
        s->tok_avail = tpm;
    } else {
        s->req_avail += (now - s->last) * rpm / 60;
        s->tok_avail += (now - s->last) * tpm / 60;
        if (s->req_avail > rpm)
            s->req_avail = rpm;
        if (s->tok_avail > tpm)
            s->tok_avail = tpm;
    }
    s->last = now;
    double need = t->est_tokens < tpm ? t->est_tokens : tpm, wait = 0;
    if (rpm && s->req_avail < 1)
        wait = (1 - s->req_avail) * 60 / rpm;
    if (tpm && s->tok_avail < need && (need - s->tok_avail) * 60 / tpm > wait)
        wait = (need - s->tok_avail) * 60 / tpm;
    if (wait > 0)
        return wait;
    if (rpm)
        s->req_avail -= 1;
    if (tpm) {
        s->tok_avail -= t->est_tokens;
        t->charged = true;
    }
    return 0;
}

int pr_llm_admit_or_wait(struct pr_llm_limits *l, struct pr_llm_ticket *t)
{
    struct pr_llm_provider *ps = t->prov;
    if (ps->head == ps->len && admit(l, t) == 0)
        return 0;
    if (ps->head > 0 && ps->len == ps->cap) { /* compact */
        memmove(ps->q, ps->q + ps->head, (ps->len - ps->head) * sizeof *ps->q);
        ps->len -= ps->head;
        ps->head = 0;
    }
    if (pr_grow((void **)&ps->q, &ps->cap, ps->len + 1, sizeof *ps->q) < 0)
        return -1;
    t->waiting = true;
    ps->q[ps->len++] = t;
    l->nwaiting++;
    return 1;
}

void pr_llm_unwait(struct pr_llm_limits *l, struct pr_llm_ticket *t)
{
    struct pr_llm_provider *ps = t->prov;
    for (size_t i = ps->head; i < ps->len; i++)
        if (ps->q[i] == t) {
            memmove(ps->q + i, ps->q + i + 1,
                    (ps->len - i - 1) * sizeof *ps->q);
            ps->len--;
            l->nwaiting--;
            break;
        }
    t->waiting = false;
}

struct pr_llm_ticket *pr_llm_next(struct pr_llm_limits *l, double *soonest)
{
    if (!l->nwaiting)
        return NULL;
    for (size_t k = 0; k < l->n; k++) {
        struct pr_llm_provider *ps = &l->p[k];
        if (ps->head < ps->len) {
            struct pr_llm_ticket *t = ps->q[ps->head];
            double w = admit(l, t);
            if (w == 0) {
                ps->head++;
                l->nwaiting--;
                t->waiting = false;
                if (ps->head == ps->len)
                    ps->head = ps->len = 0;
                return t;
            }
            if (w > 0 && (*soonest < 0 || w < *soonest))
                *soonest = w;
        }
    }
    return NULL;
}

void pr_llm_settle(struct pr_llm_ticket *t, uint64_t used)
{
    if (t->prov && t->charged)
        t->prov->tok_avail -= (double)used - t->est_tokens;
}
