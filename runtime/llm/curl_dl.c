/* curl_dl.c -- opens libcurl at the first request (see curl_dl.h)
 *
 * RTLD_LOCAL keeps libcurl's symbols and those of the libraries it pulls
 * in out of the global scope, so nothing loaded later binds to them by
 * chance.  The handle is never closed: libcurl's global state lives as
 * long as the process, as it did when the library was linked.
 */
#include <dlfcn.h>
#include <stdio.h>

#include "alloc.h"
#include "curl_dl.h"

static struct pr_curl funcs;
static int state; /* 0 not tried, 1 loaded, -1 failed (why says why) */
static char why[512];

static int load(void)
{
    void *h = dlopen(POML_LIBCURL, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "cannot load libcurl (%s): %s",
                 POML_LIBCURL, e ? e : "unknown error");
        return -1;
    }
    /* dlsym's void * to a function pointer: what POSIX requires to work */
#define PR_CURL_SYM(f)                                                        \
    *(void **)&funcs.f = dlsym(h, "curl_" #f);                               \
    if (!funcs.f) {                                                           \
        snprintf(why, sizeof why, "%s has no function curl_%s",               \
                 POML_LIBCURL, #f);                                           \
        return -1;                                                            \
    }
    PR_CURL_FUNCS(PR_CURL_SYM)
#undef PR_CURL_SYM
    if (funcs.global_init_mem(CURL_GLOBAL_DEFAULT, pr_malloc, pr_free,
                              pr_realloc, pr_strdup, pr_calloc) != 0) {
        snprintf(why, sizeof why, "cannot start libcurl: out of memory");
        return -1;
    }
    return 0;
}

const struct pr_curl *pr_curl_load(char *err, size_t n)
{
    if (state == 0)
        state = load() == 0 ? 1 : -1;
    if (state > 0)
        return &funcs;
    snprintf(err, n, "%s", why);
    return NULL;
}
