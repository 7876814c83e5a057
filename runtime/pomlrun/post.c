/* post.c -- notify's POST of a failure to a URL, with libcurl (the
 * executor table's post: the exec layer names no HTTP library), loaded
 * when the first POST goes out (curl_dl.h, through llm.h) */
#include <stdio.h>
#include <string.h>

#include "llm.h"
#include "post.h"
#include "util.h"

/* The reply is not read: only its status counts. */
static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

long pr_post_json(const char *url, const char *const *headers,
                  const char *body, double timeout, char *err, size_t cap)
{
    const struct pr_curl *C = pr_curl_load(err, cap);
    if (!C)
        return -1;
    CURL *c = C->easy_init();
    if (!c)
        return pr_errf(err, cap, "libcurl cannot start");
    struct curl_slist *h = NULL;
    for (size_t k = 0; headers && headers[k]; k++) {
        struct curl_slist *n = C->slist_append(h, headers[k]);
        if (!n) {
            C->slist_free_all(h);
            C->easy_cleanup(c);
            return pr_errf(err, cap, "out of memory");
        }
        h = n;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    C->easy_setopt(c, CURLOPT_URL, url);
    C->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    C->easy_setopt(c, CURLOPT_HTTPHEADER, h);
    C->easy_setopt(c, CURLOPT_POSTFIELDS, body);
    C->easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    C->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    C->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    C->easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    C->easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    C->easy_setopt(c, CURLOPT_USERAGENT, "pomlrun/" PACKAGE_VERSION);
    CURLcode rc = C->easy_perform(c);
    long status = -1;
    if (rc == CURLE_OK)
        C->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        pr_errf(err, cap, "%s", cerr[0] ? cerr : C->easy_strerror(rc));
    C->slist_free_all(h);
    C->easy_cleanup(c);
    return status;
}
