/* report.c -- what a run tells people and programs
 *
 * The reporter is an observer of the run (run.h): it hears state changes
 * as every observer does and keeps its own state (the progress timer,
 * the bytes streamed).
 *
 *   log lines      stderr, one per finished step (failures with the end of
 *                  their stderr); -q: failures only; -v: starts, notes
 *                  and output too
 *   progress       on a terminal, one status line redrawn in place
 *   events         --events: a JSON object per line, per state change
 *   result         --json: one JSON object when the run ends, read from
 *                  the finished run (usage through pr_run_usage)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "run.h"
#include "util.h"

void pr_time_rfc3339(double t, char buf[64])
{
    time_t s = (time_t)floor(t);
    int ms = (int)((t - (double)s) * 1000);
    if (ms > 999)
        ms = 999;
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* "12 ms", "3.40 s", "2 min 5 s" */
static const char *duration(double s, char buf[32])
{
    if (s < 0)
        s = 0;
    if (s < 1)
        snprintf(buf, 32, "%.0f ms", s * 1000);
    else if (s < 120)
        snprintf(buf, 32, "%.2f s", s);
    else
        snprintf(buf, 32, "%.0f min %.0f s", floor(s / 60), fmod(s, 60));
    return buf;
}

static void clear_line(const struct pr_reporter *rep)
{
    if (rep->o.progress)
        fputs("\r\033[K", stderr);
}

static void emit_event(const struct pr_reporter *rep, cJSON *ev)
{
    char *t = cJSON_PrintUnformatted(ev);
    if (t) {
        fputs(t, rep->o.events);
        fputc('\n', rep->o.events);
        fflush(rep->o.events);
        free(t);
    }
    cJSON_Delete(ev);
}

static cJSON *new_event(const char *name)
{
    cJSON *ev = cJSON_CreateObject();
    char t[64];
    pr_time_rfc3339(pr_wall_now(), t);
    cJSON_AddStringToObject(ev, "time", t);
    cJSON_AddStringToObject(ev, "event", name);
    return ev;
}

static void report_run(struct pr_reporter *rep, const struct pr_run *r,
                       bool end)
{
    const char *event = end ? "run_finished" : "run_started";
    if (rep->o.events) {
        cJSON *ev = new_event(event);
        cJSON_AddStringToObject(ev, "workflow_id", r->wf.id);
        cJSON_AddStringToObject(ev, "run_id", r->run_id);
        if (end) {
            cJSON_AddStringToObject(ev, "status", pr_run_status(r));
            cJSON_AddNumberToObject(ev, "succeeded", r->succeeded);
            cJSON_AddNumberToObject(ev, "failed", r->failed);
            cJSON_AddNumberToObject(ev, "skipped", r->skipped);
            cJSON_AddNumberToObject(ev, "cancelled", r->cancelled);
            if (r->suspended)
                cJSON_AddNumberToObject(ev, "suspended", r->suspended);
        }
        emit_event(rep, ev);
    }
    if (end && rep->o.verbosity > PR_QUIET) {
        char d[32], wf[400];
        clear_line(rep);
        fprintf(stderr,
                "pomlrun: %s %s in %s: %u succeeded, %u failed, "
                "%u skipped",
                pr_term_text(r->wf.id, wf, sizeof wf), pr_run_status(r),
                duration(r->finished_at - r->started_at, d), r->succeeded,
                r->failed, r->skipped);
        if (r->cancelled)
            fprintf(stderr, ", %u cancelled", r->cancelled);
        if (r->suspended)
            fprintf(stderr, ", %u waiting for a person", r->suspended);
        fputc('\n', stderr);
    }
}

static const char *status_word(uint8_t st)
{
    static const char *const w[] = {"waiting", "running",   "succeeded",
                                    "failed",  "skipped",   "cancelled",
                                    "suspended"};
    return st < 7 ? w[st] : "?";
}

/* The last LINES lines of S. */
static const char *tail(const char *s, int lines)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n')
        n--;
    const char *p = s + n;
    while (p > s) {
        if (p[-1] == '\n' && --lines == 0)
            break;
        p--;
    }
    return p;
}

static void print_output(const struct pr_job *j, const char *name, int lines)
{
    const char *s = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(j->outputs, name));
    if (!s || !*s)
        return;
    const char *t = lines ? tail(s, lines) : s;
    for (const char *p = t; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[1024];
        fprintf(stderr, "  %s| ", name[3] == 'e' ? "!" : " ");
        for (size_t at = 0; at < n;) {
            at += pr_term_escape(p + at, n - at, line, sizeof line);
            fputs(line, stderr);
        }
        fputc('\n', stderr);
        p += n + (e != NULL);
    }
}

/* J's name as a terminal may show it, in SAFE: made only for a line that
 * is printed, not for each step of a quiet run */
#define SHOWN_NAME 1200
static const char *shown_name(const struct pr_job *j, char safe[SHOWN_NAME])
{
    char name[300];
    return pr_term_text(pr_job_name(j, name, sizeof name), safe, SHOWN_NAME);
}

static void report_job(struct pr_reporter *rep, const struct pr_job *j,
                       bool start)
{
    char safe[SHOWN_NAME], why[4096];
    if (rep->o.events) {
        cJSON *ev = new_event(start ? "step_started" : "step_finished");
        cJSON_AddStringToObject(ev, "step", pr_job_step(j)->id);
        if (j->instance >= 0)
            cJSON_AddNumberToObject(ev, "instance", j->instance);
        if (start) {
            if (j->attempts)
                cJSON_AddNumberToObject(ev, "attempt", j->attempts);
        } else {
            cJSON_AddStringToObject(ev, "status", status_word(j->status));
            cJSON_AddNumberToObject(ev, "attempts", j->attempts);
            if (j->reason)
                cJSON_AddStringToObject(ev, "reason", j->reason);
            if (j->reused)
                cJSON_AddBoolToObject(ev, "reused", true);
        }
        emit_event(rep, ev);
    }
    if (start) {
        if (rep->o.verbosity == PR_VERBOSE) {
            clear_line(rep);
            fprintf(stderr, "pomlrun: %s started\n", shown_name(j, safe));
        }
        return;
    }
    bool bad = j->status == PR_ST_FAILED;
    if (rep->o.verbosity == PR_QUIET && !bad)
        return;
    if (pr_job_step(j)->flags & PR_SF_SYNTHETIC && !bad &&
        rep->o.verbosity < PR_VERBOSE)
        return;
    if (j->status == PR_ST_CANCELLED && rep->o.verbosity < PR_VERBOSE)
        return;
    clear_line(rep);
    const char *id = shown_name(j, safe);
    char d[32], after[48] = "";
    double took = j->finished_at - j->started_at;
    /* a step that failed before it started (its condition or for_each)
       has no start time and so no duration */
    if (j->started_at > 0)
        snprintf(after, sizeof after, " after %s", duration(took, d));
    if (j->status == PR_ST_SKIPPED)
        fprintf(stderr, "pomlrun: %s skipped: %s\n", id,
                pr_term_text(j->reason, why, sizeof why));
    else if (j->status == PR_ST_SUSPENDED)
        fprintf(stderr, "pomlrun: %s waits for a person: %s\n", id,
                pr_term_text(j->reason ? j->reason : "", why, sizeof why));
    else if (bad)
        fprintf(
            stderr, "pomlrun: %s failed%s (%s%s)\n", id, after,
            j->reason ? pr_term_text(j->reason, why, sizeof why) : "failed",
            (pr_job_step(j)->flags & PR_SF_CONTINUE) ? "; continuing" : "");
    else if (j->reused)
        fprintf(stderr, "pomlrun: %s reused (it succeeded before)\n", id);
    else
        fprintf(stderr, "pomlrun: %s %s in %s\n", id, status_word(j->status),
                duration(took, d));
    if (rep->o.verbosity == PR_VERBOSE) {
        print_output(j, "stdout", 0);
        print_output(j, "stderr", 0);
        print_output(j, "text", 0);
    } else if (bad) {
        print_output(j, "stderr", 10);
    }
}

static void report_note(struct pr_reporter *rep, const struct pr_job *j,
                        const char *msg)
{
    if (rep->o.events) {
        cJSON *ev = new_event("note");
        if (j)
            cJSON_AddStringToObject(ev, "step", pr_job_step(j)->id);
        if (j && j->instance >= 0)
            cJSON_AddNumberToObject(ev, "instance", j->instance);
        cJSON_AddStringToObject(ev, "message", msg);
        emit_event(rep, ev);
    }
    if (rep->o.verbosity == PR_QUIET)
        return;
    char name[300], safe[1200], text[4096];
    clear_line(rep);
    if (j)
        fprintf(
            stderr, "pomlrun: %s: %s\n",
            pr_term_text(pr_job_name(j, name, sizeof name), safe, sizeof safe),
            pr_term_text(msg, text, sizeof text));
    else
        fprintf(stderr, "pomlrun: %s\n", pr_term_text(msg, text, sizeof text));
}

static void report_progress(const struct pr_reporter *rep, bool final)
{
    const struct pr_run *r = rep->run;
    if (!rep->o.progress || rep->o.verbosity == PR_QUIET)
        return;
    if (final) {
        clear_line(rep);
        return;
    }
    char line[200];
    int n = snprintf(line, sizeof line, "[%u/%u] %.1f s  %u running", r->done,
                     r->nsteps, pr_loop_now() - r->mono0,
                     r->running + r->inflight);
    if (rep->streamed && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, ", %llu B streamed",
                      (unsigned long long)rep->streamed);
    if (r->failed && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, ", %u failed",
                      r->failed);
    /* name a few of the running steps */
    unsigned shown = 0;
    for (uint32_t i = 0;
         i < r->nsteps && shown < 3 && n > 0 && (size_t)n + 40 < sizeof line;
         i++) {
        const struct pr_job *j = &r->jobs[i];
        if (j->status != PR_ST_RUNNING || j->queued || j->retry_wait)
            continue;
        char id[31 * 6 + 1];
        n += snprintf(line + n, sizeof line - (size_t)n, "%s%.30s",
                      shown ? ", " : ": ",
                      pr_term_text(r->steps[i].id, id, sizeof id));
        shown++;
    }
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

/* ---- the observer ---- */

/* Redraws the line every 0.1 s while steps remain (not while the
 * error_handling.on_failure commands of a finished run run). */
static void on_progress(void *ud)
{
    struct pr_reporter *rep = ud;
    rep->progress_timer = 0;
    if (rep->run->done >= rep->run->nsteps)
        return;
    report_progress(rep, false);
    rep->progress_timer = pr_loop_timer(rep->run->loop, 0.1, on_progress, rep);
}

static void on_run_started(void *ud, struct pr_run *r)
{
    struct pr_reporter *rep = ud;
    report_run(rep, r, false);
    if (rep->o.progress)
        rep->progress_timer = pr_loop_timer(r->loop, 0.1, on_progress, rep);
}

static void on_run_finished(void *ud, struct pr_run *r)
{
    struct pr_reporter *rep = ud;
    if (rep->progress_timer)
        pr_loop_cancel(r->loop, rep->progress_timer);
    rep->progress_timer = 0;
    if (rep->o.progress)
        report_progress(rep, true);
    report_run(rep, r, true);
}

static void on_job_started(void *ud, const struct pr_job *j)
{
    report_job(ud, j, true);
}

static void on_job_finished(void *ud, const struct pr_job *j)
{
    report_job(ud, j, false);
}

/* Said like an end: the run will not see this job end. */
static void on_job_suspended(void *ud, const struct pr_job *j, bool esc)
{
    (void)esc;
    report_job(ud, j, false);
}

static void on_retrying(void *ud, const struct pr_job *j, const char *reason,
                        double delay)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "attempt %u failed (%s); retrying in %.2f s",
             j->attempts, reason ? reason : "failed", delay);
    report_note(ud, j, msg);
}

static void on_note(void *ud, const struct pr_run *r, const struct pr_job *j,
                    const char *msg)
{
    (void)r;
    report_note(ud, j, msg);
}

static void on_stream(void *ud, const struct pr_job *j, const char *text,
                      size_t n)
{
    struct pr_reporter *rep = ud;
    rep->streamed += n;
    if (!rep->o.events)
        return;
    cJSON *ev = new_event("step_output");
    cJSON_AddStringToObject(ev, "step", pr_job_step(j)->id);
    if (j->instance >= 0)
        cJSON_AddNumberToObject(ev, "instance", j->instance);
    cJSON_AddNumberToObject(ev, "attempt", j->attempts);
    pr_json_add(ev, "text", pr_text_value(text, n, NULL));
    emit_event(rep, ev);
}

int pr_report_attach(struct pr_reporter *rep, const struct pr_report_opts *o,
                     struct pr_run *r)
{
    *rep = (struct pr_reporter){.o = *o,
                                .run = r,
                                .obs = {.ud = rep,
                                        .run_started = on_run_started,
                                        .run_finished = on_run_finished,
                                        .job_started = on_job_started,
                                        .job_retrying = on_retrying,
                                        .job_finished = on_job_finished,
                                        .job_suspended = on_job_suspended,
                                        .note = on_note,
                                        .stream = on_stream}};
    return pr_run_observe(r, &rep->obs);
}

/* ---- the result ---- */

static void add_time(cJSON *o, const char *key, double t)
{
    if (t <= 0)
        return;
    char b[64];
    pr_time_rfc3339(t, b);
    cJSON_AddStringToObject(o, key, b);
}

static cJSON *job_result(const struct pr_job *j)
{
    cJSON *o = cJSON_CreateObject();
    if (j->instance >= 0) {
        cJSON_AddNumberToObject(o, "index", j->instance);
        pr_json_add(o, "item",
                    j->item ? cJSON_Duplicate(j->item, true)
                            : cJSON_CreateNull());
    }
    cJSON_AddStringToObject(o, "status", status_word(j->status));
    cJSON_AddNumberToObject(o, "attempts", j->attempts);
    if (j->reason)
        cJSON_AddStringToObject(o, "reason", j->reason);
    add_time(o, "started_at", j->started_at);
    add_time(o, "finished_at", j->finished_at);
    cJSON *out = cJSON_AddObjectToObject(o, "outputs");
    const cJSON *e;
    cJSON_ArrayForEach (e, j->outputs) {
        if (strcmp(e->string, "status") && strcmp(e->string, "attempts"))
            pr_json_add(out, e->string, cJSON_Duplicate(e, true));
    }
    if (j->history && cJSON_GetArraySize(j->history) > 1)
        pr_json_add(o, "history", cJSON_Duplicate(j->history, true));
    if (j->inst || (j->status != PR_ST_SKIPPED && j->ninst == 0 && j->item &&
                    j->instance < 0)) {
        cJSON *list = cJSON_AddArrayToObject(o, "instances");
        for (uint32_t k = 0; k < j->ninst; k++)
            pr_json_add(list, NULL, job_result(&j->inst[k]));
    }
    return o;
}

cJSON *pr_report_result(const struct pr_run *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workflow_id", r->wf.id);
    cJSON_AddStringToObject(o, "run_id", r->run_id);
    cJSON_AddStringToObject(o, "status", pr_run_status(r));
    add_time(o, "started_at", r->started_at);
    add_time(o, "finished_at", r->finished_at);
    struct pr_usage use;
    pr_run_usage(r, &use);
    if (use.calls) {
        cJSON *u = cJSON_AddObjectToObject(o, "usage");
        cJSON_AddNumberToObject(u, "llm_calls", (double)use.calls);
        cJSON_AddNumberToObject(u, "input_tokens", (double)use.in_tok);
        cJSON_AddNumberToObject(u, "output_tokens", (double)use.out_tok);
        cJSON_AddNumberToObject(u, "cost_usd", use.cost);
    }
    cJSON *steps = cJSON_AddObjectToObject(o, "steps");
    for (uint32_t i = 0; i < r->nsteps; i++)
        pr_json_add(steps, r->steps[i].id, job_result(&r->jobs[i]));
    return o;
}
