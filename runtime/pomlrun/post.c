/* post.c -- notify's POST of a failure to a URL, with libcurl (the
 * executor table's post: the exec layer names no HTTP library) */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

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
    CURL *c = curl_easy_init();
    if (!c)
        return pr_errf(err, cap, "libcurl cannot start");
    struct curl_slist *h = NULL;
    for (size_t k = 0; headers && headers[k]; k++) {
        struct curl_slist *n = curl_slist_append(h, headers[k]);
        if (!n) {
            curl_slist_free_all(h);
            curl_easy_cleanup(c);
            return pr_errf(err, cap, "out of memory");
        }
        h = n;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pomlrun/" PACKAGE_VERSION);
    CURLcode rc = curl_easy_perform(c);
    long status = -1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        pr_errf(err, cap, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}
