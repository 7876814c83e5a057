/* notify.c -- notify: telling someone that a run failed or waits
 *
 * After a run that failed or stopped with jobs waiting for a person, each
 * notify action of the workflow (error_handling.on_failure), and each of
 * a step that failed or waits (notify@STEP), sends the failure as one
 * JSON object:
 *
 *   {"run_id", "workflow", "status": "failed" | "suspended" |
 *    "sla_exceeded", "failed": [{"step", "instance", "reason",
 *    "attempts"}], "waiting": [{"step", "instance", "kind", "question"}]}
 *
 * An action is one of (as pomlc writes them in the plan's list):
 *   notify[@STEP]=NAME        the channel NAME: POML_NOTIFY_<NAME> (upper
 *                             case, - as _) holds a URL or a command
 *   notify[@STEP]=URL         a POST of the JSON to URL
 *   notify[@STEP].url=URL     the same; the notify[@STEP].header=NAME:ENV
 *                             actions after it add header NAME with the
 *                             value of environment variable ENV
 *   notify[@STEP].run=CMD     the command CMD, run as on_failure runs its
 *                             own, with the JSON in POML_FAILURE_JSON
 * A POST goes through the executor table's post (the exec layer names no
 * HTTP library); one that fails, or a command that fails, is a note.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "sched_int.h"
#include "util.h"

#define NOTIFY_TIMEOUT 30.0
#define MAX_HEADERS 16

static void add_job(cJSON *failed, cJSON *waiting, const struct pr_job *j)
{
    cJSON *o = NULL;
    if (j->status == PR_ST_FAILED)
        o = cJSON_CreateObject();
    else if (j->status == PR_ST_SUSPENDED)
        o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddStringToObject(o, "step", pr_job_step(j)->id);
    if (j->instance >= 0)
        cJSON_AddNumberToObject(o, "instance", j->instance);
    if (j->status == PR_ST_FAILED) {
        cJSON_AddStringToObject(o, "reason", j->reason ? j->reason : "failed");
        cJSON_AddNumberToObject(o, "attempts", j->attempts);
        cJSON_AddItemToArray(failed, o);
    } else {
        cJSON_AddStringToObject(o, "kind",
                                pr_job_step(j)->kind == PR_STEP_APPROVAL
                                    ? "approval"
                                    : "escalation");
        cJSON_AddStringToObject(o, "question", j->reason ? j->reason : "");
        cJSON_AddItemToArray(waiting, o);
    }
}

/* The failure as JSON text (malloc'd), or NULL when out of memory.
 * *ABOUT[i] says whether step i failed or waits. */
static char *failure_json(const struct pr_run *r, bool *about)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run_id", r->run_id);
    cJSON_AddStringToObject(o, "workflow", r->wf.id);
    cJSON_AddStringToObject(o, "status",
                            r->sla_exceeded  ? "sla_exceeded"
                            : r->failed_hard ? "failed"
                                             : "suspended");
    cJSON *failed = cJSON_AddArrayToObject(o, "failed");
    cJSON *waiting = cJSON_AddArrayToObject(o, "waiting");
    for (uint32_t i = 0; i < r->nsteps; i++) {
        const struct pr_job *j = &r->jobs[i];
        uint32_t n0 = (uint32_t)cJSON_GetArraySize(failed) +
                      (uint32_t)cJSON_GetArraySize(waiting);
        if (j->inst && j->status != PR_ST_FAILED)
            for (uint32_t k = 0; k < j->ninst; k++)
                add_job(failed, waiting, &j->inst[k]);
        else
            add_job(failed, waiting, j);
        about[i] = (uint32_t)cJSON_GetArraySize(failed) +
                       (uint32_t)cJSON_GetArraySize(waiting) >
                   n0;
    }
    char *t = failed && waiting ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return t;
}

/* POSTs JSON to URL with the HEADERS given as NAME:ENV. */
static void post(struct pr_run *r, const char *url, char **headers,
                 size_t nheaders, const char *json)
{
    char err[512], safe[600];
    if (!r->exec.post) {
        pr_run_note(r, NULL, "notify: this pomlrun cannot post to a URL");
        return;
    }
    char *lines[MAX_HEADERS + 2] = {0};
    size_t n = 0;
    lines[n++] = strdup("Content-Type: application/json");
    for (size_t k = 0; k < nheaders; k++) {
        char *colon = strchr(headers[k], ':');
        const char *v = colon ? getenv(colon + 1) : NULL;
        if (!colon)
            continue;
        if (!v) {
            pr_run_note(r, NULL,
                        "notify: header %.*s: environment variable %s is "
                        "not set; sent without it",
                        (int)(colon - headers[k]), headers[k], colon + 1);
            continue;
        }
        size_t len = strlen(headers[k]) + strlen(v) + 4;
        if ((lines[n] = malloc(len)))
            snprintf(lines[n++], len, "%.*s: %s", (int)(colon - headers[k]),
                     headers[k], v);
    }
    long status = r->exec.post(url, (const char *const *)lines, json,
                               NOTIFY_TIMEOUT, err, sizeof err);
    for (size_t k = 0; k < n; k++)
        free(lines[k]);
    /* the URL may carry a token (webhooks do): only its host is told,
       without user and password */
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t hl = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hl);
    if (at) {
        hl -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    snprintf(safe, sizeof safe, "%.*s", (int)(hl > 200 ? 200 : hl), host);
    if (status < 0)
        pr_run_note(r, NULL, "notify: posting to %s failed: %s", safe, err);
    else if (status < 200 || status > 299)
        pr_run_note(r, NULL, "notify: %s answered HTTP %ld", safe, status);
    else
        pr_run_note(r, NULL, "notify: posted to %s", safe);
}

static bool is_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* The channel NAME: POML_NOTIFY_<NAME> says where it goes. */
static void channel(struct pr_run *r, const char *name, const char *json)
{
    char var[96] = "POML_NOTIFY_";
    size_t n = strlen(var);
    for (const char *p = name; *p && n + 1 < sizeof var; p++)
        var[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    var[n] = '\0';
    const char *to = getenv(var);
    if (!to || !*to)
        pr_run_note(r, NULL,
                    "notify: channel '%s' is not configured (set %s to a "
                    "URL or a command); nothing sent",
                    name, var);
    else if (is_url(to))
        post(r, to, NULL, 0, json);
    else
        pr_run_hook(r, to, "notify", json);
}

void pr_run_notify(struct pr_run *r)
{
    const struct pr_plan *p = r->plan;
    uint32_t n = r->wf.on_failure_actions.n;
    bool *about = calloc((size_t)r->nsteps + 1, sizeof *about);
    char *json = about ? failure_json(r, about) : NULL;
    if (!json) {
        if (n)
            pr_run_note(r, NULL, "notify: out of memory; nothing sent");
        free(about);
        return;
    }
    for (uint32_t k = 0; k < n && !r->signal; k++) {
        const char *a = pr_plan_str(
            p, pr_plan_list_at(p, r->wf.on_failure_actions, k), NULL);
        if (strncmp(a, "notify", 6) || (a[6] != '=' && a[6] != '.' &&
                                        a[6] != '@'))
            continue;
        /* whose: the workflow's, or a step's that failed or waits */
        const char *rest = a + 6;
        if (*rest == '@') {
            size_t len = strcspn(rest + 1, ".=");
            bool mine = false;
            for (uint32_t i = 0; i < r->nsteps && !mine; i++)
                mine = about[i] && strlen(r->steps[i].id) == len &&
                       !strncmp(r->steps[i].id, rest + 1, len);
            rest += 1 + len;
            if (!mine)
                continue;
        }
        if (*rest == '=') {
            if (is_url(rest + 1))
                post(r, rest + 1, NULL, 0, json);
            else
                channel(r, rest + 1, json);
        } else if (!strncmp(rest, ".run=", 5)) {
            pr_run_hook(r, rest + 5, "notify", json);
        } else if (!strncmp(rest, ".url=", 5)) {
            /* its headers follow it */
            char *hdr[MAX_HEADERS];
            size_t nh = 0;
            size_t prefix = (size_t)(rest - a);
            while (k + 1 < n && nh < MAX_HEADERS) {
                const char *h = pr_plan_str(
                    p, pr_plan_list_at(p, r->wf.on_failure_actions, k + 1),
                    NULL);
                if (strncmp(h, a, prefix) || strncmp(h + prefix, ".header=", 8))
                    break;
                hdr[nh++] = (char *)h + prefix + 8;
                k++;
            }
            post(r, rest + 5, hdr, nh, json);
        }
    }
    free(json);
    free(about);
}
