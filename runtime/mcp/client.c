/* client.c -- the MCP session: handshake, tools, calls (mcp.h) */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonrpc.h"
#include "mcp_int.h"
#include "schema.h"
#include "util.h"

#define IO_IN 1
#define IO_OUT 2
/* Notes of the same kind, per session, before they are only counted. */
#define MAX_NOTES 5
/* tools/list pages followed at most. */
#define MAX_PAGES 1000

enum state { IDLE, STARTING, LISTING, READY };

struct call {
    struct pr_mcp *m;
    uint64_t id;
    int64_t rpc; /* its request id; 0: not sent */
    char *tool;
    cJSON *args;
    double timeout;
    pr_mcp_done_fn done;
    pr_mcp_progress_fn progress;
    void *ud;
    struct call *next;
};

struct pr_mcp {
    struct pr_mcp_io io;
    char *name;
    char **argv, **envp, *cwd;
    pr_mcp_note_fn note;
    void *note_ud;
    enum state state;
    unsigned starts;
    struct pr_mcp_stdio t;
    struct pr_jrpc_lines lines;
    struct pr_mcp_table pending;
    struct call *calls; /* every call not ended, newest first */
    int64_t next_rpc;
    uint64_t next_call;
    uint64_t timer;     /* the soonest deadline */
    uint64_t soon;      /* deliveries of calls that failed at once */
    cJSON *tools;
    unsigned pages;
    size_t dropped_long;      /* the length of the last line skipped */
    unsigned malformed, unknown;
    bool watching_out;
    bool exited;    /* the session ended because its output did */
    bool stateless; /* the server speaks 2026-07-28 */
};

static void session_end(struct pr_mcp *m, const char *why, bool retryable);

static void note(struct pr_mcp *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct pr_mcp *m, const char *fmt, ...)
{
    if (!m->note)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    m->note(m->note_ud, buf);
}

/* ---- strings ---- */

static char **copy_vec(const char *const *v)
{
    if (!v)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        if (!(c[i] = strdup(v[i]))) {
            while (i)
                free(c[--i]);
            free(c);
            return NULL;
        }
    return c;
}

static void free_vec(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* ---- calls ---- */

static void unlink_call(struct pr_mcp *m, struct call *c)
{
    for (struct call **p = &m->calls; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
}

static void free_call(struct call *c)
{
    free(c->tool);
    cJSON_Delete(c->args);
    free(c);
}

/* Ends call C with RES: out of every list, then its callback. */
static void deliver(struct call *c, const struct pr_mcp_result *res)
{
    struct pr_mcp *m = c->m;
    struct pr_mcp_pending p;
    if (c->rpc)
        pr_mcp_table_take(&m->pending, c->rpc, &p);
    unlink_call(m, c);
    pr_mcp_done_fn done = c->done;
    void *ud = c->ud;
    free_call(c);
    done(ud, res);
}

static void fail(struct call *c, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct call *c, bool retryable, const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    struct pr_mcp_result res = {.retryable = retryable, .error = why,
                                .text = ""};
    deliver(c, &res);
}

/* The stderr tail, as " (stderr: ...)" or "". */
static void stderr_note(struct pr_mcp *m, char *buf, size_t cap)
{
    char tail[400];
    pr_mcp_stdio_tail(&m->t, tail, sizeof tail);
    if (*tail)
        snprintf(buf, cap, "; its stderr: %s", tail);
    else if (cap)
        *buf = 0;
}

/* ---- the timer of deadlines ---- */

static void on_deadline(void *ud);

static void arm(struct pr_mcp *m)
{
    if (m->timer)
        m->io.cancel(m->io.ud, m->timer);
    m->timer = 0;
    double next = pr_mcp_table_next(&m->pending);
    if (next < 0)
        return;
    double after = next - m->io.now();
    m->timer = m->io.timer(m->io.ud, after > 0 ? after : 0, on_deadline, m);
}

/* ---- sending ---- */

static void on_out(void *ud, int fd, int events);
static void on_read(void *ud, int fd, int events);
static void on_err(void *ud, int fd, int events);

/* Queues TEXT (taken) for the server; false when it cannot be (the
 * session ends then, with the reason). */
static bool send_line(struct pr_mcp *m, char *text)
{
    if (!text) {
        session_end(m, "out of memory", true);
        return false;
    }
    int rc = pr_mcp_stdio_queue(&m->t, text);
    free(text);
    if (rc < 0) {
        session_end(m, "the server does not read its input (more than 16 "
                       "MiB waiting to be written)", true);
        return false;
    }
    rc = pr_mcp_stdio_flush(&m->t);
    if (rc < 0) {
        session_end(m, "its input is closed", true);
        return false;
    }
    bool want = rc > 0;
    if (want != m->watching_out) {
        m->io.watch(m->io.ud, m->t.in, want ? IO_OUT : 0, on_out, m);
        m->watching_out = want;
    }
    return true;
}

/* Adds the 2026-07-28 request metadata to P's _meta (made when absent). */
static void add_meta(cJSON *p)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(p, "_meta");
    if (!meta)
        meta = cJSON_AddObjectToObject(p, "_meta");
    cJSON_AddStringToObject(meta, "io.modelcontextprotocol/protocolVersion",
                            PR_MCP_PROTOCOL_STATELESS);
    cJSON *ci = cJSON_AddObjectToObject(meta,
                                        "io.modelcontextprotocol/clientInfo");
    cJSON_AddStringToObject(ci, "name", "pomlrun");
    cJSON_AddStringToObject(ci, "version", PACKAGE_VERSION);
    cJSON_AddObjectToObject(meta, "io.modelcontextprotocol/clientCapabilities");
}

static bool request(struct pr_mcp *m, const char *method, cJSON *params,
                    double timeout, enum pr_mcp_req what, struct call *c)
{
    int64_t id = ++m->next_rpc;
    if (m->stateless || what == PR_MCP_REQ_DISCOVER) {
        if (!params)
            params = cJSON_CreateObject();
        add_meta(params);
    }
    char *text = pr_jrpc_request(id, method, params);
    cJSON_Delete(params);
    if (pr_mcp_table_add(&m->pending, id, m->io.now() + timeout, what, c) <
        0) {
        free(text);
        session_end(m, "out of memory", true);
        return false;
    }
    if (c)
        c->rpc = id;
    if (!send_line(m, text))
        return false;
    arm(m);
    return true;
}

static void notify(struct pr_mcp *m, const char *method, cJSON *params)
{
    char *text = pr_jrpc_request(-1, method, params);
    cJSON_Delete(params);
    send_line(m, text);
}

static void send_cancelled(struct pr_mcp *m, int64_t rpc, const char *reason)
{
    if (m->state == IDLE || !rpc)
        return;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "requestId", (double)rpc);
    cJSON_AddStringToObject(p, "reason", reason);
    notify(m, "notifications/cancelled", p);
}

/* ---- the session ---- */

static const cJSON *find_tool(const struct pr_mcp *m, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, m->tools)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
            return t;
    }
    return NULL;
}

/* "a, b, c" of the tools' names, cut to CAP. */
static void tool_names(const struct pr_mcp *m, char *buf, size_t cap)
{
    size_t at = 0;
    *buf = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, m->tools)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
        if (!cJSON_IsString(n))
            continue;
        int w = snprintf(buf + at, cap - at, "%s%s", at ? ", " : "",
                         n->valuestring);
        if (w < 0 || (size_t)w >= cap - at) {
            buf[at] = 0;
            break;
        }
        at += (size_t)w;
    }
}

static void send_call(struct call *c)
{
    struct pr_mcp *m = c->m;
    const cJSON *tool = find_tool(m, c->tool);
    if (!tool) {
        char names[300];
        tool_names(m, names, sizeof names);
        fail(c, false, "server '%s' has no tool '%s' (it has: %s)", m->name,
             c->tool, *names ? names : "none");
        return;
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(tool, "inputSchema");
    char why[300];
    if (in && !pr_schema_check(c->args, in, why, sizeof why)) {
        fail(c, false, "arguments of tool '%s' do not match its inputSchema: "
                       "%s", c->tool, why);
        return;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", c->tool);
    cJSON_AddItemToObject(p, "arguments", cJSON_Duplicate(c->args, true));
    cJSON *meta = cJSON_AddObjectToObject(p, "_meta");
    cJSON_AddNumberToObject(meta, "progressToken", (double)(m->next_rpc + 1));
    request(m, "tools/call", p, c->timeout, PR_MCP_REQ_CALL, c);
}

static void ready(struct pr_mcp *m)
{
    m->state = READY;
    /* oldest first: the list is newest first */
    for (;;) {
        struct call *c = NULL;
        for (struct call *k = m->calls; k; k = k->next)
            if (!k->rpc)
                c = k;
        if (!c || m->state != READY)
            return;
        send_call(c);
    }
}

static void list_page(struct pr_mcp *m, const char *cursor)
{
    cJSON *p = NULL;
    if (cursor) {
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "cursor", cursor);
    }
    m->pages++;
    request(m, "tools/list", p, PR_MCP_INIT_TIMEOUT, PR_MCP_REQ_LIST, NULL);
}

static void start(struct pr_mcp *m)
{
    char err[300];
    m->starts++;
    if (m->starts > 1)
        note(m, "MCP server '%s' started again (start %u)", m->name,
             m->starts);
    if (pr_mcp_stdio_start(&m->t, &(struct pr_mcp_server){
                                      .argv = (const char *const *)m->argv,
                                      .envp = (const char *const *)m->envp,
                                      .cwd = m->cwd},
                           err, sizeof err) < 0) {
        session_end(m, err, false);
        return;
    }
    m->state = STARTING;
    m->pages = 0;
    m->malformed = m->unknown = 0;
    m->dropped_long = 0;
    cJSON_Delete(m->tools);
    m->tools = cJSON_CreateArray();
    pr_jrpc_lines_free(&m->lines);
    pr_jrpc_lines_init(&m->lines, PR_MCP_MAX_LINE);
    if (m->io.watch(m->io.ud, m->t.out, IO_IN, on_read, m) < 0 ||
        m->io.watch(m->io.ud, m->t.err, IO_IN, on_err, m) < 0) {
        session_end(m, "out of memory", true);
        return;
    }
    m->stateless = false;
    request(m, "server/discover", NULL, PR_MCP_DISCOVER_TIMEOUT,
            PR_MCP_REQ_DISCOVER, NULL);
}

/* The 2025-11-25 handshake, after server/discover found no 2026-07-28. */
static void initialize(struct pr_mcp *m)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "protocolVersion", PR_MCP_PROTOCOL);
    cJSON_AddObjectToObject(p, "capabilities");
    cJSON *ci = cJSON_AddObjectToObject(p, "clientInfo");
    cJSON_AddStringToObject(ci, "name", "pomlrun");
    cJSON_AddStringToObject(ci, "version", PACKAGE_VERSION);
    request(m, "initialize", p, PR_MCP_INIT_TIMEOUT, PR_MCP_REQ_INIT, NULL);
}

/* Stops the server, and fails every call with WHY (and its stderr). */
static void session_end(struct pr_mcp *m, const char *why, bool retryable)
{
    if (m->state != IDLE) {
        if (m->watching_out)
            m->io.watch(m->io.ud, m->t.in, 0, on_out, m);
        m->watching_out = false;
        if (m->t.out >= 0)
            m->io.watch(m->io.ud, m->t.out, 0, on_read, m);
        if (m->t.err >= 0)
            m->io.watch(m->io.ud, m->t.err, 0, on_err, m);
        pr_mcp_stdio_stop(&m->t, 0.5);
        m->state = IDLE;
    }
    char how[64];
    pr_mcp_stdio_how(&m->t, how, sizeof how);
    pr_mcp_table_free(&m->pending);
    arm(m);
    /* the callbacks may start new calls: take the list first */
    struct call *list = m->calls;
    m->calls = NULL;
    while (list) {
        struct call *c = list;
        list = c->next;
        c->rpc = 0;
        /* how it ended tells something only when it was not us */
        bool told = *how && m->exited;
        fail(c, retryable, "MCP server '%s': %s%s%s%s", m->name, why,
             told ? " (" : "", told ? how : "", told ? ")" : "");
    }
}

/* ---- replies ---- */

static void end_session_msg(struct pr_mcp *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void end_session_msg(struct pr_mcp *m, const char *fmt, ...)
{
    char why[700], tail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    stderr_note(m, tail, sizeof tail);
    char all[1400];
    snprintf(all, sizeof all, "%s%s", why, tail);
    session_end(m, all, false);
}

static bool version_known(const char *v)
{
    static const char *const known[] = {"2025-11-25", "2025-06-18",
                                        "2025-03-26", "2024-11-05", NULL};
    for (size_t i = 0; known[i]; i++)
        if (!strcmp(known[i], v))
            return true;
    return false;
}

static void on_init(struct pr_mcp *m, const struct pr_jrpc_msg *msg)
{
    if (msg->kind == PR_JRPC_ERROR) {
        end_session_msg(m, "initialize failed: error %lld: %s",
                        msg->error_code, msg->error_msg);
        return;
    }
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(msg->result, "protocolVersion");
    if (!cJSON_IsString(v)) {
        end_session_msg(m, "its initialize reply has no protocolVersion");
        return;
    }
    if (!version_known(v->valuestring)) {
        char t[80];
        end_session_msg(m, "it speaks MCP revision '%s', which pomlrun does "
                           "not (it speaks %s back to 2024-11-05)",
                        pr_term_text(v->valuestring, t, sizeof t),
                        PR_MCP_PROTOCOL);
        return;
    }
    notify(m, "notifications/initialized", NULL);
    if (m->state == IDLE)
        return;
    m->state = LISTING;
    list_page(m, NULL);
}

static void on_discover(struct pr_mcp *m, const struct pr_jrpc_msg *msg)
{
    const cJSON *v = msg->kind == PR_JRPC_RESULT
                         ? cJSON_GetObjectItemCaseSensitive(
                               msg->result, "supportedVersions")
                         : NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (cJSON_IsString(e) &&
            !strcmp(e->valuestring, PR_MCP_PROTOCOL_STATELESS)) {
            m->stateless = true;
            m->state = LISTING;
            list_page(m, NULL);
            return;
        }
    }
    initialize(m);
}

static void on_list(struct pr_mcp *m, const struct pr_jrpc_msg *msg)
{
    if (msg->kind == PR_JRPC_ERROR) {
        end_session_msg(m, "tools/list failed: error %lld: %s",
                        msg->error_code, msg->error_msg);
        return;
    }
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(msg->result,
                                                          "tools");
    if (!cJSON_IsArray(tools)) {
        end_session_msg(m, "its tools/list reply has no tools array");
        return;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        if (cJSON_IsObject(t))
            cJSON_AddItemToArray(m->tools, cJSON_Duplicate(t, true));
    }
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(msg->result,
                                                         "nextCursor");
    if (cJSON_IsString(next)) {
        if (m->pages >= MAX_PAGES) {
            end_session_msg(m, "tools/list goes on past %d pages",
                            MAX_PAGES);
            return;
        }
        list_page(m, next->valuestring);
        return;
    }
    ready(m);
}

static char *join_text(const cJSON *content)
{
    struct pr_buf b;
    pr_buf_init(&b);
    const cJSON *blk;
    bool first = true;
    cJSON_ArrayForEach(blk, content)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(blk, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(blk, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") ||
            !cJSON_IsString(text))
            continue;
        if (!first)
            pr_buf_append_u8(&b, '\n');
        pr_buf_append(&b, text->valuestring, strlen(text->valuestring));
        first = false;
    }
    pr_buf_append_u8(&b, 0);
    return (char *)b.data;
}

static void on_call(struct pr_mcp *m, struct call *c,
                    const struct pr_jrpc_msg *msg)
{
    if (msg->kind == PR_JRPC_ERROR) {
        long long code = msg->error_code;
        fail(c, code != PR_JRPC_INVALID_PARAMS &&
                    code != PR_JRPC_METHOD_NOT_FOUND,
             "tool '%s' of MCP server '%s': error %lld: %s", c->tool,
             m->name, code, msg->error_msg);
        return;
    }
    const cJSON *r = msg->result;
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(r, "resultType");
    if (cJSON_IsString(rt) && !strcmp(rt->valuestring, "input_required")) {
        fail(c, false, "tool '%s' of MCP server '%s' asked the client for "
                       "input (roots, sampling or elicitation), which "
                       "pomlrun does not offer", c->tool, m->name);
        return;
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(r, "content");
    if (content && !cJSON_IsArray(content)) {
        fail(c, true, "tool '%s' of MCP server '%s' replied with content "
                      "that is not an array", c->tool, m->name);
        return;
    }
    const cJSON *structured =
        cJSON_GetObjectItemCaseSensitive(r, "structuredContent");
    bool is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r,
                                                                  "isError"));
    char *text = join_text(content);
    if (!text) {
        fail(c, true, "out of memory");
        return;
    }
    struct pr_mcp_result res = {.ok = !is_error, .is_error = is_error,
                                .retryable = true, .content = content,
                                .structured = structured, .text = text};
    char why[1024];
    if (is_error) {
        char t[900];
        snprintf(why, sizeof why, "tool '%s' of MCP server '%s' failed: %s",
                 c->tool, m->name,
                 pr_term_text(*text ? text : "(no text)", t, sizeof t));
        res.error = why;
    } else {
        const cJSON *tool = find_tool(m, c->tool);
        const cJSON *out =
            tool ? cJSON_GetObjectItemCaseSensitive(tool, "outputSchema")
                 : NULL;
        char w[300];
        if (out && !structured) {
            snprintf(why, sizeof why, "tool '%s' of MCP server '%s' has an "
                                      "outputSchema but replied without "
                                      "structuredContent", c->tool, m->name);
            res.ok = false;
            res.error = why;
        } else if (out && !pr_schema_check(structured, out, w, sizeof w)) {
            snprintf(why, sizeof why, "the structuredContent of tool '%s' "
                                      "does not match its outputSchema: %s",
                     c->tool, w);
            res.ok = false;
            res.error = why;
        }
    }
    deliver(c, &res);
    free(text);
}

static void answer(struct pr_mcp *m, const struct pr_jrpc_msg *msg)
{
    if (!strcmp(msg->method, "ping")) {
        send_line(m, pr_jrpc_result(msg->id, NULL));
        return;
    }
    char why[200], t[80];
    snprintf(why, sizeof why, "pomlrun does not offer '%s' (no such "
                              "client capability declared)",
             pr_term_text(msg->method, t, sizeof t));
    send_line(m, pr_jrpc_error(msg->id, PR_JRPC_METHOD_NOT_FOUND, why));
}

static void on_notification(struct pr_mcp *m, const struct pr_jrpc_msg *msg)
{
    if (strcmp(msg->method, "notifications/progress"))
        return;
    const cJSON *tok =
        cJSON_GetObjectItemCaseSensitive(msg->params, "progressToken");
    const cJSON *prog = cJSON_GetObjectItemCaseSensitive(msg->params,
                                                         "progress");
    if (!cJSON_IsNumber(tok) || !cJSON_IsNumber(prog))
        return;
    struct call *c = NULL;
    for (struct call *k = m->calls; k; k = k->next)
        if (k->rpc && (double)k->rpc == tok->valuedouble)
            c = k;
    if (!c || !c->progress)
        return;
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(msg->params,
                                                          "total");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(msg->params,
                                                         "message");
    c->progress(c->ud, prog->valuedouble,
                cJSON_IsNumber(total) ? total->valuedouble : -1,
                cJSON_IsString(text) ? text->valuestring : NULL);
}

static void on_message(struct pr_mcp *m, const struct pr_jrpc_msg *msg)
{
    switch (msg->kind) {
    case PR_JRPC_INVALID:
        if (++m->malformed <= MAX_NOTES)
            note(m, "MCP server '%s' wrote a line that is not a JSON-RPC "
                    "message (%s); skipped%s", m->name, msg->why,
                 m->malformed == MAX_NOTES ? " (further ones are not told)"
                                           : "");
        return;
    case PR_JRPC_REQUEST:
        answer(m, msg);
        return;
    case PR_JRPC_NOTIFICATION:
        on_notification(m, msg);
        return;
    default:
        break;
    }
    struct pr_mcp_pending p;
    if (!msg->int_id || !pr_mcp_table_take(&m->pending, msg->id_num, &p)) {
        if (++m->unknown <= MAX_NOTES)
            note(m, "MCP server '%s' replied to a request that is not "
                    "pending (unknown, or answered too late); dropped",
                 m->name);
        return;
    }
    arm(m);
    if (p.what == PR_MCP_REQ_DISCOVER)
        on_discover(m, msg);
    else if (p.what == PR_MCP_REQ_INIT)
        on_init(m, msg);
    else if (p.what == PR_MCP_REQ_LIST)
        on_list(m, msg);
    else {
        struct call *c = p.call;
        c->rpc = 0; /* out of the table already */
        on_call(m, c, msg);
    }
}

/* ---- the loop's callbacks ---- */

static int on_line(void *ud, char *line, size_t len, bool too_long)
{
    struct pr_mcp *m = ud;
    if (too_long) {
        m->dropped_long = len;
        note(m, "MCP server '%s' wrote a message of %zu bytes, more than "
                "the %u MiB pomlrun reads; skipped", m->name, len,
                PR_MCP_MAX_LINE >> 20);
        return 0;
    }
    struct pr_jrpc_msg msg;
    pr_jrpc_parse(line, len, &msg);
    unsigned starts = m->starts;
    on_message(m, &msg);
    cJSON_Delete(msg.root);
    /* the session ended (and maybe started again): stop reading these
       bytes, they were the old server's */
    return m->state == IDLE || m->starts != starts ? 1 : 0;
}

static void on_read(void *ud, int fd, int events)
{
    struct pr_mcp *m = ud;
    (void)events;
    char buf[65536];
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) {
            int rc = pr_jrpc_feed(&m->lines, buf, (size_t)r, on_line, m);
            if (rc < 0)
                session_end(m, "out of memory", true);
            if (rc)
                return;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        /* its output ended: the server is gone */
        pr_mcp_stdio_drain_err(&m->t);
        char tail[600];
        stderr_note(m, tail, sizeof tail);
        char why[800];
        snprintf(why, sizeof why, "the server exited%s", tail);
        m->exited = true;
        session_end(m, why, true);
        m->exited = false;
        return;
    }
}

static void on_err(void *ud, int fd, int events)
{
    struct pr_mcp *m = ud;
    (void)events;
    if (!pr_mcp_stdio_drain_err(&m->t))
        m->io.watch(m->io.ud, fd, 0, on_err, m);
}

static void on_out(void *ud, int fd, int events)
{
    struct pr_mcp *m = ud;
    (void)events;
    int rc = pr_mcp_stdio_flush(&m->t);
    if (rc < 0) {
        session_end(m, "its input is closed", true);
        return;
    }
    if (rc == 0) {
        m->io.watch(m->io.ud, fd, 0, on_out, m);
        m->watching_out = false;
    }
}

static void on_deadline(void *ud)
{
    struct pr_mcp *m = ud;
    m->timer = 0;
    struct pr_mcp_pending p;
    double now = m->io.now();
    while (pr_mcp_table_expired(&m->pending, now, &p)) {
        char extra[160] = "";
        if (m->dropped_long)
            snprintf(extra, sizeof extra, " (it wrote a message of %zu "
                                          "bytes, too long to read)",
                     m->dropped_long);
        if (p.what == PR_MCP_REQ_DISCOVER) {
            initialize(m); /* an older server that does not answer */
            if (m->state == IDLE)
                return;
            continue;
        }
        if (p.what != PR_MCP_REQ_CALL) {
            end_session_msg(m, "no reply to %s within %gs%s",
                            p.what == PR_MCP_REQ_INIT ? "initialize"
                                                      : "tools/list",
                            PR_MCP_INIT_TIMEOUT, extra);
            return;
        }
        struct call *c = p.call;
        send_cancelled(m, p.id, "timed out");
        c->rpc = 0;
        fail(c, true, "tool '%s' of MCP server '%s' did not answer within "
                      "%gs%s", c->tool, m->name, c->timeout, extra);
    }
    arm(m);
}

static void on_soon(void *ud)
{
    struct pr_mcp *m = ud;
    m->soon = 0;
    if (m->state == READY)
        ready(m);
    else if (m->state == IDLE && m->calls) {
        if (m->starts > PR_MCP_RESTARTS) {
            char why[120];
            snprintf(why, sizeof why, "it was started %u times and ended "
                                      "each time; not started again",
                     m->starts);
            session_end(m, why, false);
            return;
        }
        start(m);
    }
}

/* ---- the interface ---- */

struct pr_mcp *pr_mcp_new(const struct pr_mcp_io *io,
                          const struct pr_mcp_server *s, pr_mcp_note_fn fn,
                          void *note_ud)
{
    struct pr_mcp *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->io = *io;
    m->note = fn;
    m->note_ud = note_ud;
    m->t.in = m->t.out = m->t.err = -1;
    m->name = strdup(s->name ? s->name : s->argv[0]);
    m->argv = copy_vec(s->argv);
    m->envp = copy_vec(s->envp);
    m->cwd = s->cwd ? strdup(s->cwd) : NULL;
    if (!m->name || !m->argv || (s->envp && !m->envp) ||
        (s->cwd && !m->cwd)) {
        pr_mcp_free(m);
        return NULL;
    }
    /* a server that dies while we write must not kill the program */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    return m;
}

void pr_mcp_free(struct pr_mcp *m)
{
    if (!m)
        return;
    while (m->calls) {
        struct call *c = m->calls;
        m->calls = c->next;
        free_call(c);
    }
    if (m->state != IDLE) {
        if (m->watching_out)
            m->io.watch(m->io.ud, m->t.in, 0, on_out, m);
        if (m->t.out >= 0)
            m->io.watch(m->io.ud, m->t.out, 0, on_read, m);
        if (m->t.err >= 0)
            m->io.watch(m->io.ud, m->t.err, 0, on_err, m);
        pr_mcp_stdio_stop(&m->t, 2.0);
    }
    pr_buf_free(&m->t.wq);
    if (m->timer)
        m->io.cancel(m->io.ud, m->timer);
    if (m->soon)
        m->io.cancel(m->io.ud, m->soon);
    pr_mcp_table_free(&m->pending);
    pr_jrpc_lines_free(&m->lines);
    cJSON_Delete(m->tools);
    free(m->name);
    free_vec(m->argv);
    free_vec(m->envp);
    free(m->cwd);
    free(m);
}

uint64_t pr_mcp_call(struct pr_mcp *m, const char *tool, const cJSON *args,
                     double timeout, pr_mcp_done_fn done,
                     pr_mcp_progress_fn progress, void *ud)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return 0;
    c->m = m;
    c->tool = strdup(tool);
    c->args = args ? cJSON_Duplicate(args, true) : cJSON_CreateObject();
    if (!c->tool || !c->args) {
        free_call(c);
        return 0;
    }
    c->timeout = timeout > 0 ? timeout : PR_MCP_CALL_TIMEOUT;
    if (c->timeout > PR_MCP_CALL_TIMEOUT_MAX)
        c->timeout = PR_MCP_CALL_TIMEOUT_MAX;
    c->done = done;
    c->progress = progress;
    c->ud = ud;
    c->id = ++m->next_call;
    c->next = m->calls;
    m->calls = c;
    /* started (or sent) from the loop, so DONE never runs in here */
    if ((m->state == READY || m->state == IDLE) && !m->soon) {
        m->soon = m->io.timer(m->io.ud, 0, on_soon, m);
        if (!m->soon) { /* out of memory: the call would never start */
            m->calls = c->next;
            free_call(c);
            return 0;
        }
    }
    return c->id;
}

void pr_mcp_cancel(struct pr_mcp *m, uint64_t id, const char *reason)
{
    for (struct call *c = m->calls; c; c = c->next) {
        if (c->id != id)
            continue;
        if (c->rpc) {
            struct pr_mcp_pending p;
            pr_mcp_table_take(&m->pending, c->rpc, &p);
            send_cancelled(m, c->rpc, reason);
            arm(m);
        }
        unlink_call(m, c);
        free_call(c);
        return;
    }
}

const cJSON *pr_mcp_tools(const struct pr_mcp *m)
{
    return m->state == READY ? m->tools : NULL;
}
