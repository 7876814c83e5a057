/* http.c -- libcurl's multi socket interface on the runtime's loop */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl_dl.h"
#include "http.h"

struct pr_http {
    struct pr_loop *loop;
    CURLM *multi;
    uint64_t timer;
    int depth; /* inside a curl call: no removals */
};

struct pr_http_req {
    struct pr_http *h;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    size_t sent;      /* body bytes handed to curl */
    int should_retry; /* x-should-retry: 1, 0, or -1 absent */
    struct pr_http_opts o;
    double retry_after;
    char errbuf[CURL_ERROR_SIZE];
    int cancelled;
    int body_seen; /* the first body bytes arrived */
};

#define PR_HTTP_STR_(x) #x
#define PR_HTTP_STR(x) PR_HTTP_STR_(x)
_Static_assert(PR_HTTP_MAX_HEADER_KIB * 1024 == CURL_MAX_HTTP_HEADER,
               "PR_HTTP_MAX_HEADER_KIB is libcurl's CURL_MAX_HTTP_HEADER");

/* libcurl's functions, from the first pr_http_new */
static const struct pr_curl *C;

static void check_done(struct pr_http *h);

static void on_sock(void *ud, int fd, int events)
{
    struct pr_http *h = ud;
    int flags = (events & PR_LOOP_IN ? CURL_CSELECT_IN : 0) |
                (events & PR_LOOP_OUT ? CURL_CSELECT_OUT : 0);
    int running;
    h->depth++;
    C->multi_socket_action(h->multi, fd, flags, &running);
    h->depth--;
    check_done(h);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp,
                   void *socketp)
{
    struct pr_http *h = userp;
    (void)e;
    (void)socketp;
    int ev = what == CURL_POLL_IN      ? PR_LOOP_IN
             : what == CURL_POLL_OUT   ? PR_LOOP_OUT
             : what == CURL_POLL_INOUT ? PR_LOOP_IN | PR_LOOP_OUT
                                       : 0;
    return pr_loop_fd(h->loop, (int)s, ev, on_sock, h) < 0 ? -1 : 0;
}

static void on_timer(void *ud)
{
    struct pr_http *h = ud;
    int running;
    h->timer = 0;
    h->depth++;
    C->multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    h->depth--;
    check_done(h);
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
    struct pr_http *h = userp;
    (void)m;
    if (h->timer) {
        pr_loop_cancel(h->loop, h->timer);
        h->timer = 0;
    }
    if (ms >= 0) {
        h->timer = pr_loop_timer(h->loop, (double)ms / 1e3, on_timer, h);
        if (!h->timer)
            return -1;
    }
    return 0;
}

struct pr_http *pr_http_new(struct pr_loop *loop, char *err, size_t n)
{
    if (!C && !(C = pr_curl_load(err, n)))
        return NULL;
    struct pr_http *h = calloc(1, sizeof *h);
    if (h)
        h->multi = C->multi_init();
    if (!h || !h->multi) {
        free(h);
        snprintf(err, n, "cannot start libcurl: out of memory");
        return NULL;
    }
    h->loop = loop;
    C->multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    C->multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    C->multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    C->multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    C->multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    return h;
}

void pr_http_free(struct pr_http *h)
{
    if (!h)
        return;
    if (h->timer)
        pr_loop_cancel(h->loop, h->timer);
    C->multi_cleanup(h->multi);
    free(h);
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    struct pr_http_req *r = ud;
    size_t len = size * n;
    if (r->cancelled)
        return 0;
    r->body_seen = 1;
    if (r->o.on_data && r->o.on_data(r->o.ud, p, len) < 0)
        return 0;
    return len;
}

/* The body, read by curl as it sends it. */
static size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct pr_http_req *r = ud;
    size_t left = r->o.body_len - r->sent, k = size * n;
    if (k > left)
        k = left;
    memcpy(buf, r->body + r->sent, k);
    r->sent += k;
    return k;
}

/* curl rewinds the body to send the request again on a new connection
 * when a reused one died before any reply.  That would be a second
 * request the caller never counted (a retry outside its attempts, its
 * backoff and its budget): refuse it, and let the request fail, so that
 * the caller's retry rules decide. */
static int seek_cb(void *ud, curl_off_t offset, int origin)
{
    struct pr_http_req *r = ud;
    if (origin != SEEK_SET || offset != 0 || r->sent > 0)
        return CURL_SEEKFUNC_FAIL;
    return CURL_SEEKFUNC_OK;
}

/* retry-after: seconds or an HTTP date (then: ignored); retry-after-ms */
static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    struct pr_http_req *r = ud;
    size_t len = size * n;
    static const char ra[] = "retry-after:", ram[] = "retry-after-ms:",
                      sr[] = "x-should-retry:";
    char buf[64];
    if (len >= sizeof sr - 1 && !strncasecmp(p, sr, sizeof sr - 1)) {
        const char *v = p + sizeof sr - 1;
        while (v < p + len && (*v == ' ' || *v == '\t'))
            v++;
        size_t k = (size_t)(p + len - v);
        r->should_retry = k >= 4 && !strncasecmp(v, "true", 4)    ? 1
                          : k >= 5 && !strncasecmp(v, "false", 5) ? 0
                                                                  : -1;
        return len;
    }
    if (len >= sizeof ram - 1 && !strncasecmp(p, ram, sizeof ram - 1)) {
        size_t k = len - (sizeof ram - 1);
        snprintf(buf, sizeof buf, "%.*s", (int)(k < 60 ? k : 60),
                 p + sizeof ram - 1);
        char *end;
        double v = strtod(buf, &end);
        if (end != buf && v >= 0)
            r->retry_after = v / 1e3;
    } else if (len >= sizeof ra - 1 && !strncasecmp(p, ra, sizeof ra - 1) &&
               r->retry_after < 0) {
        size_t k = len - (sizeof ra - 1);
        snprintf(buf, sizeof buf, "%.*s", (int)(k < 60 ? k : 60),
                 p + sizeof ra - 1);
        char *end;
        double v = strtod(buf, &end);
        while (*end && isspace((unsigned char)*end))
            end++;
        if (end != buf && v >= 0 && !*end)
            r->retry_after = v;
    }
    return len;
}

static void finish(struct pr_http_req *r, CURLcode code)
{
    struct pr_http_result res = {0};
    res.curl_code = (int)code;
    res.error = code == CURLE_OK ? NULL
                : r->errbuf[0]   ? r->errbuf
                                 : C->easy_strerror(code);
    C->easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
    char *ct = NULL;
    C->easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
    res.content_type = ct;
    res.retry_after = r->retry_after;
    res.should_retry = r->should_retry;
    res.cancelled = r->cancelled;
    res.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    /* libcurl reports a header line past its limit as "Out of memory"
       (its buffer refuses to grow): after the status line and before
       the body, that is what it means */
    if (code == CURLE_OUT_OF_MEMORY && res.status && !r->body_seen) {
        res.header_too_big = 1;
        res.error = "a response header is larger than " PR_HTTP_STR(
            PR_HTTP_MAX_HEADER_KIB) " KiB, the most libcurl reads";
    }
    r->o.on_done(r->o.ud, &res);
    C->multi_remove_handle(r->h->multi, r->easy);
    C->easy_cleanup(r->easy);
    C->slist_free_all(r->headers);
    free(r->body);
    free(r);
}

static void check_done(struct pr_http *h)
{
    CURLMsg *m;
    int left;
    while ((m = C->multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct pr_http_req *r = NULL;
        C->easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            finish(r, m->data.result);
    }
}

struct pr_http_req *pr_http_start(struct pr_http *h,
                                  const struct pr_http_opts *o)
{
    struct pr_http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->h = h;
    r->o = *o;
    r->retry_after = -1;
    r->should_retry = -1;
    r->easy = C->easy_init();
    if (o->body) {
        r->body = malloc(o->body_len + 1);
        if (r->body) {
            memcpy(r->body, o->body, o->body_len);
            r->body[o->body_len] = '\0';
        }
    }
    for (size_t i = 0; o->headers && o->headers[i]; i++) {
        struct curl_slist *n = C->slist_append(r->headers, o->headers[i]);
        if (!n)
            goto fail;
        r->headers = n;
    }
    if (!r->easy || (o->body && !r->body))
        goto fail;
    CURL *e = r->easy;
    C->easy_setopt(e, CURLOPT_URL, o->url);
    C->easy_setopt(e, CURLOPT_PRIVATE, r);
    C->easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    C->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    C->easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    C->easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    C->easy_setopt(e, CURLOPT_WRITEDATA, r);
    C->easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    C->easy_setopt(e, CURLOPT_HEADERDATA, r);
    C->easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    C->easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    C->easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (o->body) {
        C->easy_setopt(e, CURLOPT_POST, 1L);
        C->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)o->body_len);
        C->easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
        C->easy_setopt(e, CURLOPT_READDATA, r);
        C->easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
        C->easy_setopt(e, CURLOPT_SEEKDATA, r);
    }
    if (o->timeout > 0)
        C->easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1e3));
    if (o->connect_timeout > 0)
        C->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(o->connect_timeout * 1e3));
    if (C->multi_add_handle(h->multi, e) != CURLM_OK)
        goto fail;
    return r;
fail:
    if (r->easy)
        C->easy_cleanup(r->easy);
    C->slist_free_all(r->headers);
    free(r->body);
    free(r);
    return NULL;
}

void pr_http_cancel(struct pr_http_req *r)
{
    r->cancelled = 1;
    if (r->h->depth == 0)
        finish(r, CURLE_ABORTED_BY_CALLBACK);
    /* inside curl: the write callback refuses the next bytes, and a
       request that receives none ends by its timeout */
}
