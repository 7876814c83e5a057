/* pending.c -- the table of requests waiting for their reply (mcp_int.h)
 *
 * A server has few requests in flight at once (a call per step using
 * it), so the table is a small unordered array searched linearly. */
#include <stdlib.h>

#include "mcp_int.h"
#include "util.h"

int pr_mcp_table_add(struct pr_mcp_table *t, int64_t id, double deadline,
                     enum pr_mcp_req what, void *call)
{
    if (pr_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v) < 0)
        return -1;
    t->v[t->n++] = (struct pr_mcp_pending){id, deadline, what, call};
    return 0;
}

static void take(struct pr_mcp_table *t, size_t i, struct pr_mcp_pending *out)
{
    *out = t->v[i];
    t->v[i] = t->v[--t->n];
}

bool pr_mcp_table_take(struct pr_mcp_table *t, int64_t id,
                       struct pr_mcp_pending *out)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].id == id) {
            take(t, i, out);
            return true;
        }
    return false;
}

struct pr_mcp_pending *pr_mcp_table_of(struct pr_mcp_table *t,
                                       const void *call)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].call == call)
            return &t->v[i];
    return NULL;
}

bool pr_mcp_table_expired(struct pr_mcp_table *t, double now,
                          struct pr_mcp_pending *out)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].deadline <= now) {
            take(t, i, out);
            return true;
        }
    return false;
}

double pr_mcp_table_next(const struct pr_mcp_table *t)
{
    double d = -1;
    for (size_t i = 0; i < t->n; i++)
        if (d < 0 || t->v[i].deadline < d)
            d = t->v[i].deadline;
    return d;
}

void pr_mcp_table_free(struct pr_mcp_table *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}
