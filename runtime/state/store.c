/* store.c -- choosing a store's backend, and what every backend shares */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_int.h"
#include "util.h"

struct pr_store *pr_store_open(const char *where, bool sync_full, char *err,
                               size_t errcap)
{
    if (pr_store_is_database(where)) {
#if HAVE_LIBPQ
        (void)sync_full; /* the server's synchronous_commit decides */
        return pr_store_pg_open(where, err, errcap);
#else
        pr_errf(err, errcap,
                "a PostgreSQL state database: this pomlrun keeps state "
                "in SQLite files only, built without libpq (apt-get install libpq-dev, then configure "
                "again); give a file name");
        return NULL;
#endif
    }
    return pr_store_sqlite_open(where, sync_full, err, errcap);
}

bool pr_store_is_database(const char *where)
{
    return !strncmp(where, "postgres://", 11) ||
           !strncmp(where, "postgresql://", 13);
}

long long pr_store_proc_start(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = pid > 0 ? fopen(path, "re") : NULL;
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the name, field 2, is in parentheses and may hold anything: the
       fields after its last ')' are numbers but the state, field 3;
       starttime is field 22.  A zombie has ended. */
    const char *p = strrchr(buf, ')');
    if (p && p[1] == ' ' && p[2] == 'Z')
        return -1;
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoll(p + 1, NULL, 10) : -1;
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
