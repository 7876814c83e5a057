/* exec_tool.c -- the tool step executor: one MCP tool call per attempt
 *
 * A tool step names a tool of the plan's TOOLS records, each of which
 * says which server (its command) offers it under which name.  The
 * servers are started lazily, once per run, and shared by every step
 * that uses them (runtime/mcp, driven by the run's event loop); the last
 * step's release shuts them down at the end of the run.  The step's
 * `inputs` (or `with`) are the arguments.  Outputs: text (the text blocks), json
 * (structuredContent, else the text when it parses as JSON, else null),
 * content (the blocks), is_error, and result (json when there is one,
 * else the text).  A reply with isError is a failed attempt, the
 * server's text its reason, and the outputs are kept; a step's timeout or
 * a stopped run cancels the call (notifications/cancelled).
 * policy.allowed_tools, the plan's and the parent's, is checked before
 * anything starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"
#include "policy.h"
#include "registry.h"
#include "util.h"

/* The servers of a run, shared by its tool steps (each step's
 * kind_state points here, counted). */
struct servers {
    unsigned refs;
    struct pr_run *r;
    struct server {
        char *key;
        struct pr_mcp *m;
    } *v;
    size_t n, cap;
};

/* One attempt in flight. */
struct tool_job {
    struct pr_job *j;
    struct pr_mcp *m;
    uint64_t call;
};

/* ---- the event loop, as the client sees it ---- */

static int io_watch(void *ud, int fd, int events,
                    void (*fn)(void *, int, int), void *fud)
{
    return pr_loop_fd(ud, fd, events, fn, fud);
}

static uint64_t io_timer(void *ud, double after, void (*fn)(void *),
                         void *fud)
{
    return pr_loop_timer(ud, after, fn, fud);
}

static void io_cancel(void *ud, uint64_t id)
{
    pr_loop_cancel(ud, id);
}

static void on_note(void *ud, const char *msg)
{
    struct servers *sv = ud;
    pr_run_note(sv->r, NULL, "%s", msg);
}

static void release(void *state)
{
    struct servers *sv = state;
    if (--sv->refs)
        return;
    for (size_t i = 0; i < sv->n; i++) {
        pr_mcp_free(sv->v[i].m);
        free(sv->v[i].key);
    }
    free(sv->v);
    free(sv);
}

extern const struct pr_executor pr_exec_tool;

/* The run's servers, made by the first tool step that starts. */
static struct servers *servers_of(struct pr_job *j)
{
    struct pr_run *r = j->run;
    if (r->kind_state[j->step])
        return r->kind_state[j->step];
    struct servers *sv = NULL;
    for (uint32_t i = 0; i < r->nsteps && !sv; i++)
        if (r->execs[i] == &pr_exec_tool && r->kind_state[i])
            sv = r->kind_state[i];
    if (!sv) {
        sv = calloc(1, sizeof *sv);
        if (!sv)
            return NULL;
        sv->r = r;
    }
    sv->refs++;
    r->kind_state[j->step] = sv;
    return sv;
}

/* The client of the server of tool record T, made on first use. */
static struct pr_mcp *client_of(struct servers *sv, const struct pr_tool *t,
                                char *err, size_t cap)
{
    const struct pr_plan *p = sv->r->plan;
    const char *server = t->server ? t->server : "";
    const char *tool = t->name;
    /* a catalog server by name; a command of the workflow's own by its
       words, so that tools with one command share one server */
    char key[1024];
    size_t at = (size_t)snprintf(key, sizeof key, "%s", server);
    for (uint32_t k = 0; !*server && k < t->argv.n && at < sizeof key; k++)
        at += (size_t)snprintf(key + at, sizeof key - at, "%s\x1f",
                               pr_plan_str(p, pr_plan_list_at(p, t->argv, k),
                                           NULL));
    for (size_t i = 0; i < sv->n; i++)
        if (!strcmp(sv->v[i].key, key))
            return sv->v[i].m;
    if (!t->argv.n) {
        pr_errf(err, cap, "tool '%s' has no server command", tool);
        return NULL;
    }
    const char **argv = calloc((size_t)t->argv.n + 1, sizeof *argv);
    if (!argv || pr_grow((void **)&sv->v, &sv->cap, sv->n + 1,
                         sizeof *sv->v) < 0) {
        free(argv);
        pr_errf(err, cap, "out of memory");
        return NULL;
    }
    for (uint32_t k = 0; k < t->argv.n; k++)
        argv[k] = pr_plan_str(p, pr_plan_list_at(p, t->argv, k), NULL);
    struct pr_mcp_io io = {sv->r->loop, io_watch, io_timer, io_cancel,
                           pr_loop_now};
    struct pr_mcp_server s = {.name = *server ? server : tool,
                              .argv = argv};
    struct pr_mcp *m = pr_mcp_new(&io, &s, on_note, sv);
    free(argv);
    char *k = strdup(key);
    if (!m || !k) {
        pr_mcp_free(m);
        free(k);
        pr_errf(err, cap, "out of memory");
        return NULL;
    }
    sv->v[sv->n++] = (struct server){k, m};
    return m;
}

/* The TOOLS record named NAME into *T; false when the plan has none. */
static bool find_tool(const struct pr_plan *p, const char *name,
                      struct pr_tool *t)
{
    for (uint32_t i = 0; i < p->ntools; i++) {
        pr_plan_tool(p, i, t);
        if (t->name && !strcmp(t->name, name))
            return true;
    }
    return false;
}

/* policy.allowed_tools of the plan and of the parent allow NAME of
 * SERVER (may be ""): by its name or its server's (pr_policy_tool_match) */
static int check_policy(const struct pr_run *r, const char *name,
                        const char *server, char *err, size_t cap)
{
    const struct pr_plan *p = r->plan;
    const char *srv = *server ? server : NULL;
    if (r->wf.flags & PR_WF_POLICY_TOOLS) {
        bool ok = false;
        for (uint32_t k = 0; k < r->wf.allowed_tools.n && !ok; k++)
            ok = pr_policy_tool_match(
                pr_plan_str(p, pr_plan_list_at(p, r->wf.allowed_tools, k),
                            NULL),
                name, srv);
        if (!ok)
            return pr_errf(err, cap, "policy: tool '%s' is not in the "
                                     "workflow's allowed_tools", name);
    }
    const struct pr_policy *o = r->opt.policy;
    bool ok = !o || !o->tools.set;
    for (size_t k = 0; !ok && k < o->tools.n; k++)
        ok = pr_policy_tool_match(o->tools.names[k], name, srv);
    if (!ok)
        return pr_errf(err, cap, "policy of the parent workflow '%.100s': "
                                 "tool '%s' is not in its allowed_tools (a "
                                 "sub-workflow runs under its parent's "
                                 "policy)", o->workflow, name);
    return 0;
}

static cJSON *json_of(const struct pr_mcp_result *res)
{
    if (res->structured)
        return cJSON_Duplicate(res->structured, true);
    cJSON *v = *res->text ? cJSON_Parse(res->text) : NULL;
    return v ? v : cJSON_CreateNull();
}

static void on_done(void *ud, const struct pr_mcp_result *res)
{
    struct tool_job *tj = ud;
    struct pr_job *j = tj->j;
    j->priv = NULL;
    free(tj);
    if (res->content || res->is_error || res->ok) {
        cJSON *json = json_of(res);
        pr_job_output(j, "text", pr_text_value(res->text, strlen(res->text),
                                               NULL));
        pr_job_output(j, "result",
                      cJSON_IsNull(json)
                          ? pr_text_value(res->text, strlen(res->text), NULL)
                          : cJSON_Duplicate(json, true));
        pr_job_output(j, "json", json);
        pr_job_output(j, "content",
                      res->content ? cJSON_Duplicate(res->content, true)
                                   : cJSON_CreateArray());
        pr_job_output(j, "is_error", cJSON_CreateBool(res->is_error));
    }
    pr_job_finish(j, res->ok, res->ok ? NULL : res->error, res->retryable);
}

static void on_progress(void *ud, double progress, double total,
                        const char *message)
{
    struct tool_job *tj = ud;
    char t[200];
    if (total > 0)
        pr_run_note(tj->j->run, tj->j, "progress %g/%g%s%s", progress, total,
                    message ? ": " : "",
                    message ? pr_term_text(message, t, sizeof t) : "");
    else
        pr_run_note(tj->j->run, tj->j, "progress %g%s%s", progress,
                    message ? ": " : "",
                    message ? pr_term_text(message, t, sizeof t) : "");
}

static void tool_start(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    const char *name = s->tool ? s->tool : "";
    char why[512];
    struct pr_tool t;
    if (!find_tool(r->plan, name, &t)) {
        snprintf(why, sizeof why, "tool '%s' is not among the plan's tools",
                 name);
        pr_job_finish(j, false, why, false);
        return;
    }
    if (check_policy(r, name, t.server ? t.server : "", why, sizeof why) <
        0) {
        pr_job_finish(j, false, why, false);
        return;
    }
    cJSON *args = NULL;
    uint32_t tv = s->inputs != PR_PLAN_NONE ? s->inputs : s->with;
    if (tv != PR_PLAN_NONE && pr_run_tval(j, tv, &args, why, sizeof why) < 0) {
        pr_job_finish(j, false, why, false);
        return;
    }
    if (args && cJSON_IsNull(args)) {
        cJSON_Delete(args);
        args = NULL;
    }
    if (args && !cJSON_IsObject(args)) {
        cJSON_Delete(args);
        snprintf(why, sizeof why, "the inputs of tool step are not an "
                                  "object of arguments");
        pr_job_finish(j, false, why, false);
        return;
    }
    struct servers *sv = servers_of(j);
    struct pr_mcp *m = sv ? client_of(sv, &t, why, sizeof why) : NULL;
    struct tool_job *tj = m ? calloc(1, sizeof *tj) : NULL;
    if (!tj) {
        cJSON_Delete(args);
        pr_job_finish(j, false, sv ? why : "out of memory", false);
        return;
    }
    const char *remote = t.remote_name ? t.remote_name : "";
    tj->j = j;
    tj->m = m;
    /* the step's own timeout is the scheduler's: the client's comes
       just after it, so the step's reason is the one told */
    double timeout = s->timeout > 0 ? s->timeout + 1 : 0;
    tj->call = pr_mcp_call(m, *remote ? remote : name, args, timeout,
                           on_done, on_progress, tj);
    cJSON_Delete(args);
    if (!tj->call) {
        free(tj);
        pr_job_finish(j, false, "out of memory", false);
        return;
    }
    j->priv = tj;
}

static void tool_stop(struct pr_job *j, int sig)
{
    struct tool_job *tj = j->priv;
    (void)sig;
    if (!tj)
        return;
    j->priv = NULL;
    pr_mcp_cancel(tj->m, tj->call, j->timed_out ? "the step timed out"
                                                : "the run stopped");
    free(tj);
    pr_job_finish(j, false, "stopped", false);
}

const struct pr_executor pr_exec_tool = {
    .in_process = false,
    .own_slots = true,
    .start = tool_start,
    .stop = tool_stop,
    .release = release,
};
