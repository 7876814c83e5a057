/* inspect.c -- --runs, --show, --outputs and --history: the state file
 * read without a plan, also while a run writes it */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inspect.h"
#include "store.h"
#include "util.h"

static const char *str_of(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
    return s ? s : "";
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* "2026-12-07 11:58:03" in local time, or "-". */
static void when(double t, char buf[32])
{
    time_t s = (time_t)t;
    struct tm tm;
    if (isnan(t) || !localtime_r(&s, &tm) ||
        !strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, 32, "-");
}

/* "12.3 s", or "running". */
static void took(double from, double to, char buf[32])
{
    if (isnan(from) || isnan(to))
        snprintf(buf, 32, "-");
    else
        snprintf(buf, 32, "%.1f s", to - from);
}

static int print_json(const cJSON *v)
{
    char *t = cJSON_Print(v);
    if (!t) {
        fputs("pomlrun: error: out of memory\n", stderr);
        return 1;
    }
    puts(t);
    free(t);
    return 0;
}

/* " worker host:pid (lease 12 s left)" for a run a worker holds (a
 * database's runs), else "". */
static const char *holder(const cJSON *r, char *buf, size_t cap)
{
    char safe[300];
    const char *w = str_of(r, "worker");
    double left = num_of(r, "lease_left");
    if (!*w)
        return "";
    snprintf(buf, cap, "worker %s (lease %.0f s %s)",
             pr_term_text(w, safe, sizeof safe), fabs(left),
             left >= 0 ? "left" : "over");
    return buf;
}

static void runs_text(const cJSON *l)
{
    char at[32], d[32], safe[200], by[400];
    printf("%-36s  %-20s  %-9s  %-19s  %9s  %s\n", "RUN", "WORKFLOW", "STATUS",
           "STARTED", "DURATION", "COST");
    const cJSON *r;
    cJSON_ArrayForEach (r, l) {
        when(num_of(r, "started_at"), at);
        took(num_of(r, "started_at"), num_of(r, "finished_at"), d);
        printf("%-36s  %-20s  %-9s  %-19s  %9s  $%.4f%s%s\n", str_of(r, "id"),
               pr_term_text(str_of(r, "workflow"), safe, sizeof safe),
               str_of(r, "status"), at, d, num_of(r, "cost"),
               *holder(r, by, sizeof by) ? "  " : "", by);
    }
}

/* "build" or "build[3]" */
static void job_name(const cJSON *j, char *buf, size_t cap)
{
    double i = num_of(j, "instance");
    if (i >= 0)
        snprintf(buf, cap, "%s[%.0f]", str_of(j, "step"), i);
    else
        snprintf(buf, cap, "%s", str_of(j, "step"));
}

static void show_text(const cJSON *r)
{
    char at[32], d[32], name[300], safe[1100], why[1100];
    when(num_of(r, "started_at"), at);
    took(num_of(r, "started_at"), num_of(r, "finished_at"), d);
    printf("run       %s\nworkflow  %s\nstatus    %s\nstarted   %s\n"
           "duration  %s\ncost      $%.4f (%.0f tokens)\n\n",
           str_of(r, "id"),
           pr_term_text(str_of(r, "workflow"), safe, sizeof safe),
           str_of(r, "status"), at, d, num_of(r, "cost"), num_of(r, "tokens"));
    char by[400];
    if (*holder(r, by, sizeof by))
        printf("held by   %s\n\n", by);
    printf("%-28s  %-9s  %8s  %9s  %s\n", "JOB", "STATUS", "ATTEMPTS",
           "DURATION", "REASON");
    const cJSON *j;
    cJSON_ArrayForEach (j, cJSON_GetObjectItem(r, "jobs")) {
        job_name(j, name, sizeof name);
        took(num_of(j, "started_at"), num_of(j, "finished_at"), d);
        bool held = *by && !strcmp(str_of(j, "status"), "running");
        printf("%-28s  %-9s  %8.0f  %9s  %s%s\n",
               pr_term_text(name, safe, sizeof safe), str_of(j, "status"),
               num_of(j, "attempts"), d, held ? "on " : "",
               pr_term_text(held ? str_of(r, "worker") : str_of(j, "reason"),
                            why, sizeof why));
    }
}

/* The outputs of job STEP ("name" or "name[n]") of run R. */
static int outputs(const cJSON *r, const char *step)
{
    char name[300];
    const cJSON *j;
    cJSON_ArrayForEach (j, cJSON_GetObjectItem(r, "jobs")) {
        job_name(j, name, sizeof name);
        if (!strcmp(name, step))
            return print_json(cJSON_GetObjectItem(j, "outputs"));
    }
    char safe[300];
    fprintf(stderr,
            "pomlrun: error: run %s has no job '%s'; '--show %s' "
            "lists its jobs\n",
            str_of(r, "id"), pr_term_text(step, safe, sizeof safe),
            str_of(r, "id"));
    return 1;
}

static void dead_text(const cJSON *l)
{
    char name[300], safe[1100], at[32];
    const cJSON *e, *a;
    if (!cJSON_GetArraySize(l))
        printf("no dead letters\n");
    cJSON_ArrayForEach (e, l) {
        job_name(e, name, sizeof name);
        when(num_of(e, "finished_at"), at);
        printf("%s  %s  run %s (%s), %.0f attempt%s, at %s\n",
               pr_term_text(name, safe, sizeof safe), "failed",
               str_of(e, "run_id"), str_of(e, "workflow"),
               num_of(e, "attempts"), num_of(e, "attempts") == 1 ? "" : "s",
               at);
        printf("  last error: %s\n",
               pr_term_text(str_of(e, "reason"), safe, sizeof safe));
        char *in = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "inputs"));
        if (in && strcmp(in, "null"))
            printf("  inputs: %s\n", pr_term_text(in, safe, sizeof safe));
        free(in);
        cJSON_ArrayForEach (a, cJSON_GetObjectItem(e, "attempts_made")) {
            const cJSON *ok = cJSON_GetObjectItem(a, "ok");
            printf("  attempt %.0f: %s%s%s\n", num_of(a, "n"),
                   cJSON_IsNumber(ok) && ok->valuedouble ? "succeeded"
                   : cJSON_IsNumber(ok)                  ? "failed"
                                                         : "did not end",
                   *str_of(a, "reason") ? ": " : "",
                   pr_term_text(str_of(a, "reason"), safe, sizeof safe));
        }
    }
    if (cJSON_GetArraySize(l))
        printf("\nre-run them and what they held up: pomlrun --redrive RUN "
               "PLAN\n");
}

/* Why the jobs of STEP ("name", all its instances, or "name[n]") of run
 * R ran or were reused. */
static int explain(const cJSON *r, const char *step, bool json)
{
    char name[300], safe[1100];
    const cJSON *j;
    cJSON *hits = cJSON_CreateArray();
    cJSON_ArrayForEach (j, cJSON_GetObjectItem(r, "jobs")) {
        job_name(j, name, sizeof name);
        if (strcmp(name, step) && strcmp(str_of(j, "step"), step))
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "job", name);
        cJSON_AddStringToObject(o, "status", str_of(j, "status"));
        cJSON_AddStringToObject(o, "decision", str_of(j, "decision"));
        cJSON_AddStringToObject(o, "key", str_of(j, "cache_key"));
        const cJSON *rf = cJSON_GetObjectItem(j, "reused_from");
        if (cJSON_IsString(rf))
            cJSON_AddStringToObject(o, "reused_from", rf->valuestring);
        cJSON *parts = cJSON_GetObjectItem(j, "key_parts");
        cJSON_AddItemToObject(o, "key_parts",
                              parts ? cJSON_Duplicate(parts, true)
                                    : cJSON_CreateNull());
        cJSON_AddItemToArray(hits, o);
    }
    if (!cJSON_GetArraySize(hits)) {
        fprintf(stderr,
                "pomlrun: error: run %s has no job '%s'; '--show %s' "
                "lists its jobs\n",
                str_of(r, "id"), pr_term_text(step, safe, sizeof safe),
                str_of(r, "id"));
        cJSON_Delete(hits);
        return 1;
    }
    if (json) {
        int rc = print_json(hits);
        cJSON_Delete(hits);
        return rc;
    }
    cJSON_ArrayForEach (j, hits) {
        printf("%s (run %s): %s\n",
               pr_term_text(str_of(j, "job"), safe, sizeof safe),
               str_of(r, "id"),
               *str_of(j, "decision") ? str_of(j, "decision")
                                      : "no decision recorded");
        printf("  status  %s\n  key     %s\n", str_of(j, "status"),
               *str_of(j, "key") ? str_of(j, "key") : "(none)");
        const cJSON *p;
        cJSON_ArrayForEach (p, cJSON_GetObjectItem(j, "key_parts"))
            printf("    %-24s %s\n",
                   pr_term_text(p->string, safe, sizeof safe),
                   cJSON_GetStringValue(p) ? cJSON_GetStringValue(p) : "");
    }
    cJSON_Delete(hits);
    return 0;
}

int pr_inspect(const char *path, enum pr_inspect what, const char *run,
               const char *step, bool json)
{
    char err[600], safe[700];
    if (!pr_store_is_database(path) && access(path, F_OK) != 0) {
        fprintf(stderr,
                "pomlrun: error: no state file '%s'; runs are kept "
                "there unless --no-state is given, or name another "
                "with --state\n",
                pr_term_text(path, safe, sizeof safe));
        return 1;
    }
    struct pr_store *s = pr_store_open(path, false, err, sizeof err);
    if (!s) {
        fprintf(stderr, "pomlrun: error: %s\n",
                pr_term_text(err, safe, sizeof safe));
        return 1;
    }
    if (what == PR_INSPECT_VERIFY) {
        char report[600];
        int rc = s->ops->verify(s, report, sizeof report);
        if (rc < 0)
            fprintf(stderr, "pomlrun: error: %s\n",
                    pr_term_text(pr_store_error(s), safe, sizeof safe));
        else if (rc > 0)
            fprintf(stderr, "pomlrun: error: %s: %s\n",
                    pr_term_text(path, safe, sizeof safe), report);
        else
            printf("%s\n", report);
        pr_store_close(s);
        return rc == 0 ? 0 : 1;
    }
    cJSON *v = what == PR_INSPECT_RUNS      ? s->ops->runs(s, 50)
               : what == PR_INSPECT_HISTORY ? s->ops->events(s, run)
               : what == PR_INSPECT_DEAD    ? s->ops->dead_letters(s, run)
                                            : s->ops->run(s, run);
    int rc = 1;
    if (!v) {
        fprintf(stderr, "pomlrun: error: %s\n",
                pr_term_text(pr_store_error(s), safe, sizeof safe));
    } else if (what == PR_INSPECT_OUTPUTS) {
        rc = outputs(v, step);
    } else if (what == PR_INSPECT_EXPLAIN) {
        rc = explain(v, step, json);
    } else if (what == PR_INSPECT_DEAD && !json) {
        dead_text(v);
        rc = 0;
    } else if (what == PR_INSPECT_HISTORY) {
        rc = 0;
        const cJSON *e;
        cJSON_ArrayForEach (e, v) {
            char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "event"));
            if (t)
                puts(t);
            free(t);
        }
    } else if (json) {
        rc = print_json(v);
    } else {
        if (what == PR_INSPECT_RUNS)
            runs_text(v);
        else
            show_text(v);
        rc = 0;
    }
    cJSON_Delete(v);
    pr_store_close(s);
    return rc;
}
