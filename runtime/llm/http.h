/* http.h -- HTTP requests on the runtime's event loop (libcurl multi)
 *
 * One curl multi handle per run, driven by the loop through libcurl's
 * socket interface: curl says which sockets to watch and when its timer
 * fires; the loop calls back with curl_multi_socket_action.  Many requests
 * are in flight at once, connections are reused, HTTP/2 is used where the
 * server offers it.  Bodies arrive through ON_DATA as they stream in;
 * ON_DONE reports the end exactly once (also after pr_http_cancel).
 */
#ifndef POML_HTTP_H
#define POML_HTTP_H

#include <stddef.h>

#include "loop.h"

struct pr_http;
struct pr_http_req;

struct pr_http_result {
    int curl_code;            /* 0 (CURLE_OK) or a curl error */
    const char *error;        /* curl's words for it, or NULL */
    long status;              /* HTTP status, 0 when none arrived */
    const char *content_type; /* NULL when absent */
    double retry_after;       /* seconds from retry-after(-ms), or -1 */
    int should_retry;         /* x-should-retry: 1 true, 0 false, -1 */
    int cancelled;            /* pr_http_cancel was called */
    int timed_out;            /* the request's timeout ended it */
    int header_too_big;       /* a response header passed libcurl's
                                 limit (PR_HTTP_MAX_HEADER_KIB); ERROR
                                 says so */
};

/* The longest response header line libcurl reads (CURL_MAX_HTTP_HEADER) */
#define PR_HTTP_MAX_HEADER_KIB 100

struct pr_http_opts {
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated */
    const char *body;           /* POST body (copied), NULL for GET */
    size_t body_len;
    double timeout;         /* whole request, seconds; 0: none */
    double connect_timeout; /* seconds; 0: curl's default */
    /* body bytes as they arrive; return 0, or -1 to abort */
    int (*on_data)(void *ud, const char *p, size_t n);
    void (*on_done)(void *ud, const struct pr_http_result *res);
    void *ud;
};

/* A client on LOOP; the first one loads libcurl (curl_dl.h).  NULL when
 * libcurl cannot be loaded or started, or memory runs out, the reason in
 * ERR (N bytes). */
struct pr_http *pr_http_new(struct pr_loop *loop, char *err, size_t n);
void pr_http_free(struct pr_http *h);

/* Starts a request.  NULL when it cannot start (out of memory); ON_DONE
 * is then never called. */
struct pr_http_req *pr_http_start(struct pr_http *h,
                                  const struct pr_http_opts *o);
/* Aborts a request in flight; ON_DONE follows with cancelled set. */
void pr_http_cancel(struct pr_http_req *r);

#endif
