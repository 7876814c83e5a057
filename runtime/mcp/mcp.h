/* mcp.h -- a Model Context Protocol client (the runtime/mcp/ library)
 *
 * One struct pr_mcp is one MCP server, spoken to over stdio: the client
 * starts it as a child process in a process group of its own, writes one
 * JSON-RPC message per line to its standard input and reads one per line
 * from its standard output; standard error is captured (its last
 * kilobytes are shown when something fails).  Nothing here blocks: the
 * program's event loop drives the client through struct pr_mcp_io (an fd
 * watch per pipe, timers), so one server has one reader on the loop and
 * every step that uses the server shares it.
 *
 * Lifecycle: the first call starts the server and probes it with
 * `server/discover` (revision 2026-07-28, stateless).  A server that
 * lists 2026-07-28 among its supportedVersions is spoken to that way:
 * no handshake, every request's _meta carries the revision, clientInfo
 * and the (empty) client capabilities.  On any error, a timeout
 * (PR_MCP_DISCOVER_TIMEOUT) or a result without that revision the client
 * falls back to 2025-11-25, the revision the reference servers speak:
 * `initialize` (our revision, capabilities, clientInfo); a reply with a
 * revision the client does not speak ends the session; otherwise
 * `notifications/initialized` follows.  Then `tools/list`, page after
 * page by opaque cursor, and the calls that waited go out.  A result
 * with resultType "input_required" (a stateless server's question) fails
 * the call: the client offers no roots, sampling or elicitation.  A server that exits is started again for the next call,
 * at most PR_MCP_RESTARTS times a client.  pr_mcp_free shuts it down:
 * standard input closed, a wait, SIGTERM, a wait, SIGKILL, all to its
 * process group.
 *
 * Requests wait in a table of pending ids, each with its deadline; a
 * reply whose id is not pending (unknown, or late after a timeout) is
 * dropped.  A call whose deadline passes fails, and the server is sent
 * `notifications/cancelled` for it, as also for pr_mcp_cancel.
 * Requests from the server are answered: `ping` with an empty result,
 * anything else (roots, sampling, elicitation: capabilities the client
 * does not declare) with "method not found".  Malformed lines and lines
 * longer than PR_MCP_MAX_LINE are reported through the note callback and
 * skipped.  `notifications/progress` for a pending call reaches the
 * call's progress callback.
 *
 * A call checks its arguments against the tool's inputSchema before
 * sending (runtime/schema.h; a "$ref" is never followed, let alone
 * fetched), and the reply's structuredContent against the outputSchema
 * when the tool has one.  `isError: true` is a failed call carrying the
 * server's text.
 */
#ifndef POML_MCP_H
#define POML_MCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The revision the client asks for, and the longest line it reads. */
#define PR_MCP_PROTOCOL "2025-11-25"
#define PR_MCP_PROTOCOL_STATELESS "2026-07-28"
#define PR_MCP_MAX_LINE (4u << 20)
/* Restarts of a server that exited, per client. */
#define PR_MCP_RESTARTS 3
/* Seconds: initialize and each tools/list page; a call without a
 * timeout of its own; the longest any call may be given. */
#define PR_MCP_INIT_TIMEOUT 30.0
#define PR_MCP_DISCOVER_TIMEOUT 5.0
#define PR_MCP_CALL_TIMEOUT 300.0
#define PR_MCP_CALL_TIMEOUT_MAX 3600.0

/* How the client waits: the program's event loop.  The shapes are
 * those of loop.h (PR_LOOP_IN 1, PR_LOOP_OUT 2; EVENTS 0 removes a
 * watch; timer ids are never 0). */
struct pr_mcp_io {
    void *ud;
    int (*watch)(void *ud, int fd, int events,
                 void (*fn)(void *fud, int fd, int events), void *fud);
    uint64_t (*timer)(void *ud, double after, void (*fn)(void *fud),
                      void *fud);
    void (*cancel)(void *ud, uint64_t id);
    double (*now)(void); /* monotonic seconds */
};

struct pr_mcp_server {
    const char *name;         /* for messages */
    const char *const *argv;  /* the command, argv[0] looked up in PATH */
    const char *const *envp;  /* NULL: the program's environment */
    const char *cwd;          /* NULL: the program's */
};

/* What a call ended with. */
struct pr_mcp_result {
    bool ok;            /* the tool ran and did not report an error */
    bool is_error;      /* the server said isError: true */
    bool retryable;     /* a failure another attempt may not repeat */
    const char *error;  /* when !ok: why (the server's text for isError) */
    const cJSON *content;    /* the content blocks, or NULL */
    const cJSON *structured; /* structuredContent, or NULL */
    const char *text;        /* the text blocks joined with LF, or "" */
};

typedef void (*pr_mcp_done_fn)(void *ud, const struct pr_mcp_result *res);
/* PROGRESS (and TOTAL, < 0 when unknown) with MESSAGE (may be NULL). */
typedef void (*pr_mcp_progress_fn)(void *ud, double progress, double total,
                                   const char *message);
/* Something the program may want to tell (a malformed line, a server
 * restart): MSG. */
typedef void (*pr_mcp_note_fn)(void *ud, const char *msg);

struct pr_mcp;

/* A client for server S (its strings copied) on IO; the server starts on
 * the first call.  NULL when out of memory. */
struct pr_mcp *pr_mcp_new(const struct pr_mcp_io *io,
                          const struct pr_mcp_server *s, pr_mcp_note_fn note,
                          void *note_ud);
/* Shuts the server down (see above) and frees M; pending calls end
 * without their callbacks. */
void pr_mcp_free(struct pr_mcp *m);

/* Calls tool TOOL with ARGS (an object, borrowed; NULL: {}) within
 * TIMEOUT seconds (<= 0: PR_MCP_CALL_TIMEOUT; at most
 * PR_MCP_CALL_TIMEOUT_MAX).  DONE is called exactly once, from the loop,
 * never from inside pr_mcp_call, unless pr_mcp_cancel comes first.
 * PROGRESS may be NULL.  Returns the call's id (never 0), or 0 when out
 * of memory. */
uint64_t pr_mcp_call(struct pr_mcp *m, const char *tool, const cJSON *args,
                     double timeout, pr_mcp_done_fn done,
                     pr_mcp_progress_fn progress, void *ud);
/* Gives up call ID: its callback is not called; when the request was
 * sent, the server is sent notifications/cancelled with REASON.  An id
 * that ended is ignored. */
void pr_mcp_cancel(struct pr_mcp *m, uint64_t id, const char *reason);

/* The tools the server listed (an array of Tool objects, borrowed), or
 * NULL before they were. */
const cJSON *pr_mcp_tools(const struct pr_mcp *m);

#endif
