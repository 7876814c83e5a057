/* store.c -- choosing a store's backend, and what every backend shares */
#include <string.h>
#include <strings.h>

#include "store_int.h"
#include "util.h"

struct pr_store *pr_store_open(const char *where, bool sync_full, char *err,
                               size_t errcap)
{
    if (!strncmp(where, "postgres://", 11) ||
        !strncmp(where, "postgresql://", 13)) {
        pr_errf(err, errcap,
                "'%s': this pomlrun keeps state in SQLite files only; give "
                "a file name",
                where);
        return NULL;
    }
    return pr_store_sqlite_open(where, sync_full, err, errcap);
}

bool pr_store_secret_name(const char *name)
{
    static const char *const ends[] = {"_key", "_token", "_secret",
                                       "_password", NULL};
    size_t n = strlen(name);
    for (size_t k = 0; ends[k]; k++) {
        size_t e = strlen(ends[k]);
        if (n >= e && !strcasecmp(name + n - e, ends[k]))
            return true;
    }
    return false;
}
