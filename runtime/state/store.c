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

char *pr_store_one_run(cJSON *l, char *err, size_t errcap, const char *what,
                       const char *where, const char *id)
{
    if (!l)
        return NULL;
    int n = cJSON_GetArraySize(l);
    char *out = NULL;
    if (n == 1)
        out = strdup(
            cJSON_GetObjectItem(cJSON_GetArrayItem(l, 0), "id")->valuestring);
    else
        snprintf(err, errcap,
                 n == 0 ? "%s '%s': no run '%s'"
                        : "%s '%s': '%s' names more than one run; "
                          "give more of its id",
                 what, where, id);
    cJSON_Delete(l);
    return out;
}

cJSON *pr_store_run_tree(cJSON *run, cJSON *jobs, cJSON *outs)
{
    cJSON *r = run ? cJSON_DetachItemFromArray(run, 0) : NULL;
    cJSON_Delete(run);
    if (!r || !jobs || !outs) {
        cJSON_Delete(r);
        cJSON_Delete(jobs);
        cJSON_Delete(outs);
        return NULL;
    }
    cJSON *j, *o;
    cJSON_ArrayForEach (j, jobs) {
        cJSON *mine = cJSON_AddObjectToObject(j, "outputs");
        cJSON_ArrayForEach (o, outs) {
            if (!strcmp(cJSON_GetObjectItem(o, "step")->valuestring,
                        cJSON_GetObjectItem(j, "step")->valuestring) &&
                cJSON_GetObjectItem(o, "instance")->valuedouble ==
                    cJSON_GetObjectItem(j, "instance")->valuedouble)
                cJSON_AddItemToObject(
                    mine, cJSON_GetObjectItem(o, "name")->valuestring,
                    cJSON_Duplicate(cJSON_GetObjectItem(o, "value"), true));
        }
    }
    cJSON_Delete(outs);
    cJSON_AddItemToObject(r, "jobs", jobs);
    return r;
}
