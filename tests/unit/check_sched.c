/* check_sched.c -- the scheduler with a fake executor
 *
 * Workflows are compiled in memory (the compiler library) and run with an
 * executor table whose shell steps are performed by a fake: no process
 * starts, each attempt ends from a zero-delay timer of the loop, and the
 * step's `run` says how:
 *   ok        succeeds (output stdout: the job's name)
 *   fail      fails, may be retried
 *   fail N    fails the first N attempts, then succeeds
 *   hard      fails, not to be retried
 *   talk      says a note and streams text, then succeeds
 * An observer writes every state change to a log, so the tests check
 * order, parallelism, failure propagation, retries and conditions on what
 * the run said, without sleeping.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "emit.h"
#include "plan.h"
#include "run.h"

/* ---- compiling a workflow into a plan in memory ---- */

static struct pr_plan plan;
static uint8_t *image;

static void load(const char *text)
{
    struct pc_ctx ctx;
    struct pc_catalog cat;
    struct pc_workflow *wf = NULL;
    pc_ctx_init(&ctx);
    const char *lib = getenv("POML_STDLIB");
    pc_catalog_init(&cat, lib && *lib ? lib : "stdlib");
    struct pc_source *src = pc_source_from_mem(&ctx.arena, "w.poml", text,
                                               strlen(text));
    ck_assert_ptr_nonnull(src);
    int rc = pc_compile_source(&ctx, &cat, src, &wf);
    for (size_t i = 0; rc && i < ctx.ndiags; i++)
        fprintf(stderr, "w.poml: %s\n", ctx.diags[i].msg);
    ck_assert_int_eq(rc, 0);
    size_t n = 0;
    char err[256];
    ck_assert_msg(pc_emit_plan(&ctx, &cat, wf, &image, &n, err, sizeof err) ==
                      0,
                  "%s", err);
    pc_ctx_free(&ctx);
    ck_assert_msg(pr_plan_load_mem(&plan, image, n, err, sizeof err) == 0,
                  "%s", err);
}

static void unload(void)
{
    pr_plan_close(&plan);
    free(image);
    image = NULL;
}

/* ---- the log: what the observer heard, one line per event ---- */

static char logbuf[16384];
static size_t loglen;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(logbuf + loglen, sizeof logbuf - loglen, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < sizeof logbuf - loglen - 1);
    loglen += (size_t)n;
    logbuf[loglen++] = '\n';
    logbuf[loglen] = '\0';
}

static const char *name(const struct pr_job *j)
{
    static char buf[8][64];
    static unsigned at;
    char *b = buf[at++ % 8];
    return pr_job_name(j, b, 64);
}

static const char *const status[] = {"waiting", "running",   "succeeded",
                                     "failed",  "skipped",   "cancelled",
                                     "suspended"};

static void o_run_started(void *ud, struct pr_run *r)
{
    (void)ud;
    say("run started %s", r->wf.id);
}

static void o_run_finished(void *ud, struct pr_run *r)
{
    (void)ud;
    say("run finished %u/%u/%u", r->succeeded, r->failed, r->skipped);
}

static void o_job_started(void *ud, const struct pr_job *j)
{
    (void)ud;
    say("started %s", name(j));
}

static void o_attempt_started(void *ud, const struct pr_job *j)
{
    (void)ud;
    say("attempt %s %u", name(j), j->attempts);
}

static void o_attempt_finished(void *ud, const struct pr_job *j, bool ok,
                               const char *reason)
{
    (void)ud;
    say("attempt-end %s %s%s%s", name(j), ok ? "ok" : "failed",
        reason ? ": " : "", reason ? reason : "");
}

static void o_retrying(void *ud, const struct pr_job *j, const char *reason,
                       double delay)
{
    (void)ud;
    say("retrying %s (%s) in %g", name(j), reason ? reason : "", delay);
}

static void o_job_finished(void *ud, const struct pr_job *j)
{
    (void)ud;
    say("%s %s%s%s", status[j->status], name(j), j->reason ? ": " : "",
        j->reason ? j->reason : "");
}

static void o_job_suspended(void *ud, const struct pr_job *j, bool esc)
{
    (void)ud;
    say("suspended %s%s: %s", name(j), esc ? " (escalation)" : "",
        j->reason ? j->reason : "");
}

static void o_output(void *ud, const struct pr_job *j, const char *key,
                     const cJSON *v)
{
    (void)ud;
    char *t = cJSON_PrintUnformatted(v);
    say("output %s.%s = %s", name(j), key, t ? t : "?");
    free(t);
}

static void o_note(void *ud, const struct pr_run *r, const struct pr_job *j,
                   const char *msg)
{
    (void)ud;
    (void)r;
    say("note %s: %s", j ? name(j) : "-", msg);
}

static void o_stream(void *ud, const struct pr_job *j, const char *text,
                     size_t n)
{
    (void)ud;
    say("stream %s: %.*s", name(j), (int)n, text);
}

static const struct pr_observer logger = {
    .run_started = o_run_started,
    .run_finished = o_run_finished,
    .job_started = o_job_started,
    .attempt_started = o_attempt_started,
    .attempt_finished = o_attempt_finished,
    .job_retrying = o_retrying,
    .job_finished = o_job_finished,
    .job_suspended = o_job_suspended,
    .output = o_output,
    .note = o_note,
    .stream = o_stream};

/* Where LINE is in the log (a whole line), or -1. */
static long at_line(const char *line)
{
    size_t n = strlen(line);
    for (const char *p = logbuf; *p;) {
        const char *e = strchr(p, '\n');
        if ((size_t)(e - p) == n && !memcmp(p, line, n))
            return p - logbuf;
        p = e + 1;
    }
    return -1;
}

static unsigned count_prefix(const char *prefix)
{
    unsigned k = 0;
    size_t n = strlen(prefix);
    for (const char *p = logbuf; *p; p = strchr(p, '\n') + 1)
        k += !strncmp(p, prefix, n);
    return k;
}

#define ck_logged(line)                                                       \
    ck_assert_msg(at_line(line) >= 0, "not logged: '%s'\nlog:\n%s", line,     \
                  logbuf)
#define ck_before(a, b)                                                       \
    do {                                                                      \
        ck_logged(a);                                                         \
        ck_logged(b);                                                         \
        ck_assert_msg(at_line(a) < at_line(b), "'%s' after '%s'\nlog:\n%s",   \
                      a, b, logbuf);                                          \
    } while (0)

/* ---- the fake executor ---- */

static unsigned running, max_running, started;

static const char *command(struct pr_job *j)
{
    static char buf[64];
    cJSON *v = NULL;
    char err[128];
    ck_assert_int_eq(
        pr_run_interp(j, pr_job_step(j)->run, &v, err, sizeof err), 0);
    snprintf(buf, sizeof buf, "%s", cJSON_GetStringValue(v));
    cJSON_Delete(v);
    return buf;
}

static void fake_end(void *ud)
{
    struct pr_job *j = ud;
    const char *cmd = command(j);
    unsigned n = 0;
    j->priv = NULL;
    running--;
    if (!strcmp(cmd, "talk")) {
        pr_run_note(j->run, j, "said %d", 1);
        pr_job_stream(j, "abcdef", 3);
    }
    if (!strcmp(cmd, "ok") || !strcmp(cmd, "talk") ||
        (sscanf(cmd, "fail %u", &n) == 1 && j->attempts > n)) {
        pr_job_output(j, "stdout", cJSON_CreateString(name(j)));
        pr_job_finish(j, true, NULL, true);
    } else if (!strcmp(cmd, "hard")) {
        pr_job_finish(j, false, "hard failure", false);
    } else if (!strcmp(cmd, "ask")) {
        pr_job_suspend(j, "may I?");
    } else {
        pr_job_finish(j, false, "it failed", true);
    }
}

static void fake_start(struct pr_job *j)
{
    started++;
    if (++running > max_running)
        max_running = running;
    uint64_t t = pr_loop_timer(j->run->loop, 0, fake_end, j);
    ck_assert_uint_ne(t, 0);
    j->priv = (void *)(uintptr_t)t;
}

static void fake_stop(struct pr_job *j, int sig)
{
    (void)sig;
    if (!j->priv)
        return;
    pr_loop_cancel(j->run->loop, (uint64_t)(uintptr_t)j->priv);
    j->priv = NULL;
    running--;
    pr_job_finish(j, false, "stopped", false);
}

static const struct pr_executor fake = {.start = fake_start,
                                        .stop = fake_stop};

static struct pr_usage spent;

static void fake_usage(const struct pr_run *r, struct pr_usage *u)
{
    (void)r;
    *u = spent;
}

static struct pr_exec_table table = {
    .kind = {[PR_STEP_SHELL] = &fake,
             [PR_STEP_GATE] = &pr_exec_gate,
             [PR_STEP_AGGREGATE] = &pr_exec_agg},
    .usage = fake_usage};

/* ---- running ---- */

static struct pr_run run;

/* The decision a person made on escalated jobs, for every job; NULL
 * answers: none kept. */
static enum pr_decision decided;
static const struct pr_answers *answers;

static enum pr_decision fake_decision(void *ud, const struct pr_job *j,
                                      char *who, size_t cap)
{
    (void)ud;
    (void)j;
    snprintf(who, cap, "bob");
    return decided;
}

static const struct pr_answers fake_answers = {.decision = fake_decision};

/* Runs the loaded plan with JOBS slots and PARAMS (JSON); the status. */
static int run_plan(unsigned jobs, const char *params)
{
    struct pr_run_opts opt = {.jobs = jobs,
                              .kill_grace = 1,
                              .executors = &table,
                              .answers = answers};
    cJSON *p = cJSON_Parse(params ? params : "{}");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(pr_run_init(&run, &plan, p, &opt), 0);
    ck_assert_int_eq(pr_run_observe(&run, &logger), 0);
    int rc = pr_run_exec(&run);
    ck_assert_uint_eq(running, 0);
    return rc;
}

static const struct pr_job *job(const char *id)
{
    for (uint32_t i = 0; i < run.nsteps; i++)
        if (!strcmp(run.steps[i].id, id))
            return &run.jobs[i];
    ck_abort_msg("no step '%s'", id);
    return NULL;
}

static void setup(void)
{
    loglen = 0;
    logbuf[0] = '\0';
    running = max_running = started = 0;
    spent = (struct pr_usage){0};
    decided = PR_DECIDE_NONE;
    answers = NULL;
}

static void teardown(void)
{
    pr_run_free(&run);
    unload();
}

/* ---- the tests ---- */

START_TEST(test_observer_order)
{
    load("workflow_id: chain\n"
         "steps:\n"
         "  - id: a\n"
         "    run: ok\n"
         "  - id: b\n"
         "    depends_on: [a]\n"
         "    run: ok\n");
    ck_assert_int_eq(run_plan(4, NULL), 0);
    ck_assert_str_eq(logbuf, "run started chain\n"
                             "started a\n"
                             "attempt a 1\n"
                             "output a.stdout = \"a\"\n"
                             "attempt-end a ok\n"
                             "succeeded a\n"
                             "started b\n"
                             "attempt b 1\n"
                             "output b.stdout = \"b\"\n"
                             "attempt-end b ok\n"
                             "succeeded b\n"
                             "run finished 2/0/0\n");
}
END_TEST

/* what executors say reaches every observer, in order */
START_TEST(test_notes_and_stream)
{
    static const struct pr_observer second = {.note = o_note};
    load("workflow_id: talk\nsteps:\n  - {id: a, run: talk}\n");
    struct pr_run_opts opt = {.jobs = 1, .executors = &table};
    ck_assert_int_eq(pr_run_init(&run, &plan, cJSON_CreateObject(), &opt), 0);
    ck_assert_int_eq(pr_run_observe(&run, &logger), 0);
    ck_assert_int_eq(pr_run_observe(&run, &second), 0);
    ck_assert_int_eq(pr_run_exec(&run), 0);
    ck_assert_str_eq(logbuf, "run started talk\n"
                             "started a\n"
                             "attempt a 1\n"
                             "note a: said 1\n"
                             "note a: said 1\n"
                             "stream a: abc\n"
                             "output a.stdout = \"a\"\n"
                             "attempt-end a ok\n"
                             "succeeded a\n"
                             "run finished 1/0/0\n");
}
END_TEST

static const char diamond[] =
    "workflow_id: diamond\n"
    "steps:\n"
    "  - {id: top, run: ok}\n"
    "  - {id: l1, depends_on: [top], run: ok}\n"
    "  - {id: l2, depends_on: [top], run: ok}\n"
    "  - {id: l3, depends_on: [top], run: ok}\n"
    "  - {id: l4, depends_on: [top], run: ok}\n"
    "  - {id: l5, depends_on: [top], run: ok}\n"
    "  - {id: bottom, depends_on: [l1, l2, l3, l4, l5], run: ok}\n";

START_TEST(test_dependencies)
{
    load(diamond);
    ck_assert_int_eq(run_plan(8, NULL), 0);
    static const char *const mid[] = {"l1", "l2", "l3", "l4", "l5"};
    for (size_t k = 0; k < 5; k++) {
        char s[32], e[32];
        snprintf(s, sizeof s, "started %s", mid[k]);
        snprintf(e, sizeof e, "succeeded %s", mid[k]);
        ck_before("succeeded top", s);
        ck_before(e, "started bottom");
    }
    /* the five middle steps ran side by side */
    ck_assert_uint_eq(max_running, 5);
    ck_assert_uint_eq(started, 7);
    ck_assert_uint_eq(run.succeeded, 7);
}
END_TEST

/* --jobs bounds the attempts that hold a slot at once */
START_TEST(test_parallel_limit)
{
    load(diamond);
    for (unsigned jobs = 1; jobs <= 3; jobs++) {
        max_running = 0;
        ck_assert_int_eq(run_plan(jobs, NULL), 0);
        ck_assert_uint_eq(max_running, jobs);
        ck_assert_uint_eq(run.succeeded, 7);
        pr_run_free(&run);
        memset(&run, 0, sizeof run);
    }
}
END_TEST

START_TEST(test_max_parallel)
{
    load("workflow_id: mp\n"
         "max_parallel: 3\n"
         "steps:\n"
         "  - {id: a, run: ok}\n"
         "  - {id: b, run: ok}\n"
         "  - {id: c, run: ok}\n"
         "  - {id: d, run: ok}\n"
         "  - {id: e, run: ok}\n"
         "  - {id: f, run: ok}\n");
    ck_assert_int_eq(run_plan(16, NULL), 0);
    ck_assert_uint_eq(max_running, 3);
}
END_TEST

START_TEST(test_failure_propagation)
{
    load("workflow_id: fail\n"
         "steps:\n"
         "  - {id: a, run: hard}\n"
         "  - {id: b, depends_on: [a], run: ok}\n"
         "  - {id: c, depends_on: [b], run: ok}\n"
         "  - {id: d, after: [a], run: ok}\n"
         "  - {id: e, on_failure: continue, run: hard}\n"
         "  - {id: f, depends_on: [e], run: ok}\n");
    ck_assert_int_eq(run_plan(4, NULL), 1);
    ck_logged("failed a: hard failure");
    ck_logged("skipped b: dependency 'a' failed");
    ck_logged("skipped c: dependency 'b' skipped");
    ck_before("failed a: hard failure", "started d");
    ck_logged("succeeded d");
    ck_logged("failed e: hard failure");
    ck_logged("succeeded f");
    /* skipped steps never reach the executor, nor start */
    ck_assert_int_lt(at_line("started b"), 0);
    ck_assert_int_lt(at_line("started c"), 0);
    ck_assert_uint_eq(started, 4);
    ck_assert_uint_eq(run.failed, 2);
    ck_assert_uint_eq(run.skipped, 2);
    ck_assert_int_eq(job("b")->attempts, 0);
}
END_TEST

START_TEST(test_retries)
{
    load("workflow_id: retry\n"
         "steps:\n"
         "  - id: flaky\n"
         "    retry: {max_attempts: 3, backoff: none}\n"
         "    run: fail 2\n"
         "  - id: hopeless\n"
         "    retry: {max_attempts: 2, backoff: none}\n"
         "    run: fail\n"
         "  - id: final\n"
         "    retry: {max_attempts: 4, backoff: none}\n"
         "    run: hard\n");
    ck_assert_int_eq(run_plan(4, NULL), 1);
    ck_assert_uint_eq(job("flaky")->attempts, 3);
    ck_assert_uint_eq(job("flaky")->status, PR_ST_SUCCEEDED);
    ck_before("retrying flaky (it failed) in 0", "attempt flaky 2");
    ck_before("attempt flaky 2", "attempt flaky 3");
    ck_assert_uint_eq(count_prefix("retrying flaky"), 2);
    ck_assert_uint_eq(count_prefix("started flaky"), 1);
    ck_assert_uint_eq(job("hopeless")->attempts, 2);
    ck_logged("failed hopeless: it failed");
    ck_assert_uint_eq(count_prefix("retrying hopeless"), 1);
    /* a failure the executor calls final is not retried */
    ck_assert_uint_eq(job("final")->attempts, 1);
    ck_assert_uint_eq(count_prefix("retrying final"), 0);
    /* the attempts are kept in the history */
    ck_assert_int_eq(cJSON_GetArraySize(job("flaky")->history), 3);
    ck_assert_uint_eq(started, 3 + 2 + 1);
}
END_TEST

START_TEST(test_conditions)
{
    load("workflow_id: cond\n"
         "parameters:\n"
         "  flag: {type: boolean, default: true}\n"
         "steps:\n"
         "  - {id: yes, condition: '${params.flag}', run: ok}\n"
         "  - {id: no, condition: '${!params.flag}', run: ok}\n"
         "  - {id: needs_no, depends_on: [no], run: ok}\n"
         "  - {id: after_no, after: [no], run: ok}\n"
         "  - id: each\n"
         "    for_each: [1, 2, 3]\n"
         "    condition: '${item != 2}'\n"
         "    run: ok\n");
    ck_assert_int_eq(run_plan(4, "{\"flag\": true}"), 0);
    ck_logged("succeeded yes");
    ck_logged("skipped no: condition is false");
    ck_logged("skipped needs_no: dependency 'no' skipped");
    ck_logged("succeeded after_no");
    ck_logged("succeeded each[0]");
    ck_logged("skipped each[1]: condition is false");
    ck_logged("succeeded each[2]");
    ck_before("succeeded each[2]", "succeeded each");
    ck_assert_uint_eq(started, 4);
    /* the instances' outputs become lists, null where one did not run */
    char *t = cJSON_PrintUnformatted(
        cJSON_GetObjectItem(job("each")->outputs, "stdout"));
    ck_assert_str_eq(t, "[\"each[0]\",null,\"each[2]\"]");
    free(t);
}
END_TEST

START_TEST(test_no_executor)
{
    load("workflow_id: llm\n"
         "models:\n"
         "  m: {protocol: openai, base_url: 'http://127.0.0.1:1/v1',"
         " id: m}\n"
         "steps:\n"
         "  - {id: ask, model: m, prompt: hello}\n");
    struct pr_run_opts opt = {.jobs = 1, .executors = &table};
    ck_assert_int_eq(pr_run_init(&run, &plan, cJSON_CreateObject(), &opt), -1);
}
END_TEST

START_TEST(test_usage_seam)
{
    load("workflow_id: u\nsteps:\n  - {id: a, run: ok}\n");
    spent = (struct pr_usage){
        .calls = 2, .in_tok = 10, .out_tok = 5, .cost = 0.25};
    ck_assert_int_eq(run_plan(1, NULL), 0);
    cJSON *res = pr_report_result(&run);
    char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(res, "usage"));
    ck_assert_str_eq(t, "{\"llm_calls\":2,\"input_tokens\":10,"
                        "\"output_tokens\":5,\"cost_usd\":0.25}");
    free(t);
    cJSON_Delete(res);
}
END_TEST

START_TEST(test_suspend)
{
    load("workflow_id: s\n"
         "steps:\n"
         "  - {id: a, run: ask}\n"
         "  - {id: b, depends_on: [a], run: ok}\n"
         "  - {id: c, run: ok}\n"
         "  - {id: d, depends_on: [c], run: ok}\n");
    ck_assert_int_eq(run_plan(2, NULL), PR_EXIT_SUSPENDED);
    ck_logged("suspended a: may I?");
    ck_logged("succeeded d");
    /* what depends on it waits, and never starts in this run */
    ck_assert_int_lt(at_line("started b"), 0);
    ck_assert_uint_eq(job("a")->status, PR_ST_SUSPENDED);
    ck_assert_uint_eq(job("b")->status, PR_ST_CANCELLED);
    ck_assert_str_eq(job("b")->reason,
                     "waits for a step that waits for a person");
    ck_assert_uint_eq(run.suspended, 1);
    ck_assert_str_eq(pr_run_status(&run), "suspended");
    ck_assert_uint_eq(running, 0);
}
END_TEST

static const char escalating[] =
    "workflow_id: e\n"
    "error_handling:\n"
    "  on_failure: [escalate_to: human]\n"
    "steps:\n"
    "  - id: a\n"
    "    retry: {max_attempts: 2, backoff: none}\n"
    "    run: fail\n"
    "  - {id: b, depends_on: [a], run: ok}\n"
    "  - {id: c, run: ok}\n";

START_TEST(test_escalation)
{
    load(escalating);
    /* without a place to keep the question, the failure stands */
    ck_assert_int_eq(run_plan(1, NULL), 1);
    ck_logged("failed a: it failed");
    pr_run_free(&run);
    loglen = 0;
    answers = &fake_answers;
    ck_assert_int_eq(run_plan(1, NULL), PR_EXIT_SUSPENDED);
    ck_assert_uint_eq(job("a")->attempts, 2);
    ck_logged("suspended a (escalation): failed after 2 attempts (it "
              "failed): retry, skip or abort?");
    ck_assert_int_lt(at_line("started b"), 0);
    ck_logged("succeeded c");
}
END_TEST

START_TEST(test_decisions)
{
    load(escalating);
    answers = &fake_answers;
    decided = PR_DECIDE_WAITING; /* not answered: it waits, unrun */
    ck_assert_int_eq(run_plan(1, NULL), PR_EXIT_SUSPENDED);
    ck_assert_int_lt(at_line("started a"), 0);
    ck_assert_uint_eq(job("a")->status, PR_ST_SUSPENDED);
    pr_run_free(&run);
    loglen = 0;
    decided = PR_DECIDE_SKIP;
    ck_assert_int_eq(run_plan(1, NULL), 0);
    ck_logged("skipped a: skipped on escalation by bob");
    ck_logged("skipped b: dependency 'a' skipped");
    ck_assert_int_lt(at_line("started a"), 0);
    pr_run_free(&run);
    loglen = 0;
    decided = PR_DECIDE_ABORT;
    ck_assert_int_eq(run_plan(1, NULL), 1);
    ck_logged("failed a: aborted on escalation by bob");
    ck_assert_str_eq(pr_run_status(&run), "failed");
    ck_assert_int_lt(at_line("started c"), 0);
    pr_run_free(&run);
    loglen = 0;
    decided = PR_DECIDE_RETRY; /* runs again, a fresh budget */
    ck_assert_int_eq(run_plan(1, NULL), PR_EXIT_SUSPENDED);
    ck_logged("note a: retried on escalation by bob");
    ck_assert_uint_eq(job("a")->attempts, 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_observer_order);
    tcase_add_test(tc, test_notes_and_stream);
    tcase_add_test(tc, test_dependencies);
    tcase_add_test(tc, test_parallel_limit);
    tcase_add_test(tc, test_max_parallel);
    tcase_add_test(tc, test_failure_propagation);
    tcase_add_test(tc, test_retries);
    tcase_add_test(tc, test_conditions);
    tcase_add_test(tc, test_no_executor);
    tcase_add_test(tc, test_usage_seam);
    tcase_add_test(tc, test_suspend);
    tcase_add_test(tc, test_escalation);
    tcase_add_test(tc, test_decisions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
