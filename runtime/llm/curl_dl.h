/* curl_dl.h -- libcurl, loaded when the first request needs it
 *
 * pomlrun does not link libcurl: a run that sends no request (--version,
 * --check, a plan of shell steps, every sub-workflow child of one) would
 * otherwise map and relocate libcurl and the thirty-odd libraries it
 * needs (TLS, HTTP/2, Kerberos, LDAP, IDN...) at each start.  The library
 * is opened by the file name configure found it under (its soname), once,
 * and only the functions http.c calls are looked up, each with the type
 * curl.h declares for it.
 */
#ifndef POML_CURL_DL_H
#define POML_CURL_DL_H

#include <stddef.h>

#include <curl/curl.h>

/* every libcurl function the runtime calls, without its curl_ prefix */
#define PR_CURL_FUNCS(X)                                                      \
    X(global_init_mem)                                                        \
    X(easy_init)                                                              \
    X(easy_setopt)                                                            \
    X(easy_getinfo)                                                           \
    X(easy_cleanup)                                                           \
    X(easy_perform)                                                           \
    X(easy_strerror)                                                          \
    X(multi_init)                                                             \
    X(multi_setopt)                                                           \
    X(multi_cleanup)                                                          \
    X(multi_add_handle)                                                       \
    X(multi_remove_handle)                                                    \
    X(multi_socket_action)                                                    \
    X(multi_info_read)                                                        \
    X(slist_append)                                                           \
    X(slist_free_all)

struct pr_curl {
#define PR_CURL_FIELD(f) __typeof__(curl_##f) *f;
    PR_CURL_FUNCS(PR_CURL_FIELD)
#undef PR_CURL_FIELD
};

/* libcurl's functions, with curl_global_init_mem done (allocating through
 * alloc.h); NULL when the library cannot be opened, lacks a function or
 * does not start, the reason then in ERR (N bytes).  The first call
 * decides; later ones return the same without trying again.  One thread
 * (the run's loop) calls it. */
const struct pr_curl *pr_curl_load(char *err, size_t n);

#endif
