/* answer.c -- --waiting, --approve, --reject and --decide: a person's
 * answers to approval steps and escalations, recorded in the state file
 * without a plan (the run takes them when it is resumed) */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"
#include "schema.h"
#include "store.h"
#include "util.h"

static const char *str_of(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
    return s ? s : "";
}

/* "2026-12-07 11:58:03" in local time. */
static void when(double t, char buf[32])
{
    time_t s = (time_t)t;
    struct tm tm;
    if (!localtime_r(&s, &tm) ||
        !strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, 32, "-");
}

/* STEP "name" or "name[3]" into NAME and *INSTANCE (-1: none); false
 * when the brackets are not a number. */
static bool split_step(const char *step, char *name, size_t cap,
                       int *instance)
{
    const char *b = strchr(step, '[');
    *instance = -1;
    if (!b) {
        snprintf(name, cap, "%s", step);
        return true;
    }
    char *end;
    long n = strtol(b + 1, &end, 10);
    if (end == b + 1 || strcmp(end, "]") || n < 0 || n > 0x7fffffff)
        return false;
    snprintf(name, cap, "%.*s", (int)(b - step), step);
    *instance = (int)n;
    return true;
}

static const char *user_name(void)
{
    const char *u = getenv("USER");
    if (u && *u)
        return u;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_name ? pw->pw_name : "unknown";
}

static void print_waiting(const cJSON *list)
{
    const cJSON *a;
    char at[32], name[300], safe[1200], sname[300];
    if (!cJSON_GetArraySize(list)) {
        puts("nothing waits");
        return;
    }
    cJSON_ArrayForEach (a, list) {
        double inst = cJSON_GetNumberValue(cJSON_GetObjectItem(a, "instance"));
        if (inst >= 0)
            snprintf(name, sizeof name, "%s[%.0f]", str_of(a, "step"), inst);
        else
            snprintf(name, sizeof name, "%s", str_of(a, "step"));
        when(cJSON_GetNumberValue(cJSON_GetObjectItem(a, "requested_at")),
             at);
        printf("%s  %-24s  %-10s  since %s\n", str_of(a, "run_id"),
               pr_term_text(name, sname, sizeof sname), str_of(a, "kind"), at);
        printf("    %s\n", pr_term_text(str_of(a, "prompt"), safe, sizeof safe));
    }
}

/* Why answer A does not fit question Q (kind, deadline, schema), into
 * ERR; false when it fits. */
static bool unfit(const struct pr_answer_args *a, const cJSON *q,
                  const cJSON *value, char *err, size_t cap)
{
    const char *kind = str_of(q, "kind");
    const cJSON *deadline = cJSON_GetObjectItem(q, "deadline");
    if (cJSON_GetStringValue(cJSON_GetObjectItem(q, "decision"))) {
        pr_errf(err, cap, "it was answered already (%s by %s)",
                str_of(q, "decision"), str_of(q, "answered_by"));
        return true;
    }
    if (!strcmp(kind, "escalation") && a->cmd != PR_ANSWER_DECIDE) {
        pr_errf(err, cap, "it is an escalated failure: answer it with "
                          "--decide RUN STEP retry|skip|abort");
        return true;
    }
    if (strcmp(kind, "escalation") && a->cmd == PR_ANSWER_DECIDE) {
        pr_errf(err, cap, "it is an approval: answer it with --approve or "
                          "--reject");
        return true;
    }
    if (cJSON_IsNumber(deadline) && pr_wall_now() > deadline->valuedouble) {
        char at[32];
        when(deadline->valuedouble, at);
        pr_errf(err, cap, "its timeout passed at %s; the step fails when "
                          "the run is resumed",
                at);
        return true;
    }
    const cJSON *schema = cJSON_GetObjectItem(q, "schema");
    char why[512];
    if (value && cJSON_IsObject(schema) &&
        !pr_schema_check(value, schema, why, sizeof why)) {
        pr_errf(err, cap, "the value does not match the step's schema: %s",
                why);
        return true;
    }
    return false;
}

static int answer(struct pr_store *s, const struct pr_answer_args *a)
{
    char name[300], err[900], safe[1000];
    int inst;
    if (!split_step(a->step, name, sizeof name, &inst)) {
        fprintf(stderr, "pomlrun: error: '%s' is not a step: give NAME or "
                        "NAME[INDEX]\n",
                pr_term_text(a->step, safe, sizeof safe));
        return 1;
    }
    cJSON *value = NULL;
    if (a->value && !(value = cJSON_Parse(a->value))) {
        fprintf(stderr, "pomlrun: error: --value: not JSON: %s\n",
                pr_term_text(a->value, safe, sizeof safe));
        return 1;
    }
    cJSON *q = NULL;
    int rc = s->ops->approval(s, a->run, name, inst, &q);
    int out = 1;
    if (rc < 0) {
        fprintf(stderr, "pomlrun: error: %s\n",
                pr_term_text(pr_store_error(s), safe, sizeof safe));
    } else if (rc == 0) {
        fprintf(stderr,
                "pomlrun: error: run %s has no question for step '%s' "
                "(--waiting lists what waits)\n",
                a->run, pr_term_text(a->step, safe, sizeof safe));
    } else if (unfit(a, q, value, err, sizeof err)) {
        fprintf(stderr, "pomlrun: error: %s of run %s: %s\n",
                pr_term_text(a->step, safe, sizeof safe), str_of(q, "run_id"),
                err);
    } else {
        const char *d = a->cmd == PR_ANSWER_APPROVE  ? "approve"
                        : a->cmd == PR_ANSWER_REJECT ? "reject"
                                                     : a->decision;
        char *vt = value ? cJSON_PrintUnformatted(value) : NULL;
        rc = pr_store_begin(s);
        if (rc == 0)
            rc = s->ops->approval_answer(s, str_of(q, "run_id"), name, inst,
                                         d, vt, a->comment,
                                         a->by ? a->by : user_name(),
                                         pr_wall_now());
        if (rc == 0 && pr_store_commit(s) < 0)
            rc = -1;
        free(vt);
        if (rc < 0)
            fprintf(stderr, "pomlrun: error: %s\n",
                    pr_term_text(pr_store_error(s), safe, sizeof safe));
        else if (rc > 0)
            fprintf(stderr, "pomlrun: error: %s of run %s was answered "
                            "meanwhile\n",
                    pr_term_text(a->step, safe, sizeof safe),
                    str_of(q, "run_id"));
        else {
            fprintf(stderr, "pomlrun: %s of run %s: %s recorded; go on "
                            "with: pomlrun --resume %s PLAN\n",
                    pr_term_text(a->step, safe, sizeof safe),
                    str_of(q, "run_id"), d, str_of(q, "run_id"));
            out = 0;
        }
    }
    cJSON_Delete(q);
    cJSON_Delete(value);
    return out;
}

int pr_answer(const char *path, const struct pr_answer_args *a, bool json)
{
    char err[600], safe[700];
    struct pr_store *s = pr_store_open(path, false, err, sizeof err);
    if (!s) {
        fprintf(stderr, "pomlrun: error: %s\n",
                pr_term_text(err, safe, sizeof safe));
        return 1;
    }
    int rc = 1;
    if (a->cmd == PR_ANSWER_WAITING) {
        cJSON *l = s->ops->waiting(s, a->run);
        if (!l) {
            fprintf(stderr, "pomlrun: error: %s\n",
                    pr_term_text(pr_store_error(s), safe, sizeof safe));
        } else if (json) {
            char *t = cJSON_Print(l);
            rc = t ? 0 : 1;
            if (t)
                puts(t);
            else
                fputs("pomlrun: error: out of memory\n", stderr);
            free(t);
        } else {
            print_waiting(l);
            rc = 0;
        }
        cJSON_Delete(l);
    } else {
        rc = answer(s, a);
    }
    pr_store_close(s);
    return rc;
}

void pr_answer_report(const struct pr_run *r, const char *state)
{
    char raw[300], name[400], safe[1200], st[1100] = "";
    if (state)
        snprintf(st, sizeof st, " --state %s",
                 pr_term_text(state, safe, sizeof safe));
    if (r->failed_hard)
        fprintf(stderr, "pomlrun: run %s failed; these wait for a person "
                        "as well:\n",
                r->run_id);
    else
        fprintf(stderr,
                "pomlrun: run %s is suspended, waiting for a person (exit "
                "status %d):\n",
                r->run_id, PR_EXIT_SUSPENDED);
    for (uint32_t i = 0; i < r->nsteps; i++) {
        const struct pr_job *j = &r->jobs[i];
        const struct pr_job *list = j->inst ? j->inst : j;
        uint32_t n = j->inst ? j->ninst : 1;
        for (uint32_t k = 0; k < n; k++) {
            const struct pr_job *x = &list[k];
            if (x->status != PR_ST_SUSPENDED)
                continue;
            pr_term_text(pr_job_name(x, raw, sizeof raw), name, sizeof name);
            fprintf(stderr, "pomlrun:   %s: %s\n", name,
                    pr_term_text(x->reason ? x->reason : "", safe,
                                 sizeof safe));
            if (pr_job_step(x)->kind == PR_STEP_APPROVAL)
                fprintf(stderr,
                        "pomlrun:     answer: pomlrun%s --approve %s '%s' "
                        "[--value JSON] [--comment TEXT]\n"
                        "pomlrun:         or: pomlrun%s --reject %s '%s' "
                        "[--comment TEXT]\n",
                        st, r->run_id, name, st, r->run_id, name);
            else
                fprintf(stderr,
                        "pomlrun:     answer: pomlrun%s --decide %s '%s' "
                        "retry|skip|abort\n",
                        st, r->run_id, name);
        }
    }
    fprintf(stderr, "pomlrun:   then go on with: pomlrun%s --resume %s PLAN\n",
            st, r->run_id);
}
