/* check_store.c -- the SQLite store: a run, its jobs, attempts, outputs
 * and events written in one transaction come back as written, by id, by
 * a prefix of it and as "last"; a second connection reads while one
 * writes; damaged and foreign files are refused with a reason; secrets
 * are recognised by name; a question to a person is asked once, answered
 * once, and an escalation answered retry is asked anew */
#include "store.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s/check_store.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static struct pr_store *open_at(const char *name, char *err, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return pr_store_open(path, false, err, cap);
}

static void write_run(struct pr_store *s, const char *id, double at)
{
    struct pr_store_run r = {id, "wf", "00ff", "{\"who\": \"bob\"}", at, 42};
    ck_assert_int_eq(pr_store_begin(s), 0);
    ck_assert_int_eq(s->ops->run_started(s, &r), 0);
    struct pr_store_job j = {id, "build", -1, "running", 1, at, 0, NULL};
    ck_assert_int_eq(s->ops->job(s, &j), 0);
    struct pr_store_attempt a = {id, "build", -1, 1, at, 0, -1, NULL};
    ck_assert_int_eq(s->ops->attempt(s, &a), 0);
    a.finished_at = at + 1;
    a.ok = 0;
    a.reason = "exit status 1";
    ck_assert_int_eq(s->ops->attempt(s, &a), 0);
    j.status = "succeeded";
    j.attempts = 2;
    j.finished_at = at + 2;
    ck_assert_int_eq(s->ops->job(s, &j), 0);
    ck_assert_int_eq(s->ops->output(s, id, "build", -1, "stdout", "\"done\""),
                     0);
    ck_assert_int_eq(s->ops->output(s, id, "build", -1, "count", "3"), 0);
    ck_assert_int_eq(
        s->ops->event(s, id, 1, at, "note", "build", "{\"event\": \"note\"}"),
        0);
    ck_assert_int_eq(
        s->ops->run_finished(s, id, "succeeded", 0, at + 3, 0.25, 1200), 0);
    ck_assert_int_eq(pr_store_commit(s), 0);
}

START_TEST(test_round_trip)
{
    char err[512];
    struct pr_store *s = open_at(".poml/state.db", err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    write_run(s, "aaaa-1111", 100);
    write_run(s, "bbbb-2222", 200);

    cJSON *l = s->ops->runs(s, 10);
    ck_assert_int_eq(cJSON_GetArraySize(l), 2);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetArrayItem(l, 0), "id")->valuestring,
        "bbbb-2222");
    cJSON_Delete(l);

    cJSON *r = s->ops->run(s, "aaaa");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(cJSON_GetObjectItem(r, "status")->valuestring,
                     "succeeded");
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(r, "params"), "who")
            ->valuestring,
        "bob");
    ck_assert_double_eq(cJSON_GetObjectItem(r, "cost")->valuedouble, 0.25);
    cJSON *job = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "jobs"), 0);
    ck_assert_int_eq(cJSON_GetObjectItem(job, "attempts")->valueint, 2);
    cJSON *outs = cJSON_GetObjectItem(job, "outputs");
    ck_assert_str_eq(cJSON_GetObjectItem(outs, "stdout")->valuestring, "done");
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(outs, "count")));
    cJSON_Delete(r);

    r = s->ops->run(s, "last");
    ck_assert_str_eq(cJSON_GetObjectItem(r, "id")->valuestring, "bbbb-2222");
    cJSON_Delete(r);

    ck_assert_ptr_null(s->ops->run(s, "cccc"));
    ck_assert_ptr_nonnull(strstr(pr_store_error(s), "no run 'cccc'"));

    cJSON *ev = s->ops->events(s, "bbbb");
    ck_assert_int_eq(cJSON_GetArraySize(ev), 1);
    cJSON_Delete(ev);
    pr_store_close(s);

    /* the file opens again, at the schema it has */
    s = open_at(".poml/state.db", err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    l = s->ops->runs(s, 1);
    ck_assert_int_eq(cJSON_GetArraySize(l), 1);
    cJSON_Delete(l);
    pr_store_close(s);
}
END_TEST

START_TEST(test_reader_while_writing)
{
    char err[512];
    struct pr_store *w = open_at("state.db", err, sizeof err);
    struct pr_store *rd = open_at("state.db", err, sizeof err);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(rd);
    write_run(w, "aaaa-1111", 100);
    struct pr_store_run r = {"dddd-4444", "wf", "00", "{}", 300, 1};
    ck_assert_int_eq(pr_store_begin(w), 0);
    ck_assert_int_eq(w->ops->run_started(w, &r), 0);
    /* the open transaction is not seen; what was committed is */
    cJSON *l = rd->ops->runs(rd, 10);
    ck_assert_int_eq(cJSON_GetArraySize(l), 1);
    cJSON_Delete(l);
    ck_assert_int_eq(pr_store_commit(w), 0);
    l = rd->ops->runs(rd, 10);
    ck_assert_int_eq(cJSON_GetArraySize(l), 2);
    cJSON_Delete(l);
    pr_store_close(w);
    pr_store_close(rd);
}
END_TEST

START_TEST(test_damaged)
{
    char err[512], path[512];
    /* not SQLite */
    snprintf(path, sizeof path, "%s/text.db", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database\n", f);
    fclose(f);
    ck_assert_ptr_null(pr_store_open(path, false, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "text.db"));
    ck_assert_ptr_nonnull(strstr(err, "not a database"));

    /* a newer schema */
    struct pr_store *s = open_at("new.db", err, sizeof err);
    ck_assert_ptr_nonnull(s);
    pr_store_close(s);
    snprintf(path, sizeof path,
             "sqlite3 '%s/new.db' 'PRAGMA user_version = 99' 2>/dev/null",
             dir);
    if (system(path) == 0) {
        ck_assert_ptr_null(open_at("new.db", err, sizeof err));
        ck_assert_ptr_nonnull(strstr(err, "schema 99, newer"));
    }

    /* truncated: the first page only */
    s = open_at("cut.db", err, sizeof err);
    ck_assert_ptr_nonnull(s);
    write_run(s, "aaaa-1111", 1);
    pr_store_close(s);
    snprintf(path, sizeof path, "%s/cut.db", dir);
    ck_assert_int_eq(truncate(path, 1000), 0);
    s = pr_store_open(path, false, err, sizeof err);
    if (s) {
        /* SQLite may open it: reading it must fail, with a reason */
        cJSON *l = s->ops->runs(s, 10);
        ck_assert_ptr_null(l);
        ck_assert_ptr_nonnull(strstr(pr_store_error(s), "cut.db"));
        pr_store_close(s);
    } else {
        ck_assert_ptr_nonnull(strstr(err, "cut.db"));
    }

    /* a directory that cannot be made */
    ck_assert_ptr_null(
        pr_store_open("/proc/no/such/state.db", false, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/proc/no/such/state.db"));

    /* a server URL: PostgreSQL (refused here, its password not shown),
       or refused by a pomlrun built without libpq */
    ck_assert_ptr_null(pr_store_open("postgresql://u:pw9x@127.0.0.1:1/x",
                                     false, err, sizeof err));
#if HAVE_LIBPQ
    ck_assert_ptr_nonnull(strstr(err, "cannot connect"));
    ck_assert_ptr_nonnull(strstr(err, "u:***@127.0.0.1:1/x"));
#else
    ck_assert_ptr_nonnull(strstr(err, "SQLite files only"));
#endif
    ck_assert_ptr_null(strstr(err, "pw9x"));
}
END_TEST

static const char *text_of(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

START_TEST(test_approvals)
{
    char err[600];
    struct pr_store *s = open_at("a.db", err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    write_run(s, "run-a", 1000);
    struct pr_store_approval q = {"run-a", "gate", 2, "approval", "ship?",
                                  "{\"type\":\"object\"}", 1100, 1160};
    ck_assert_int_eq(pr_store_begin(s), 0);
    ck_assert_int_eq(s->ops->approval_request(s, &q), 0);
    /* asked again (a resumed run): kept as first asked */
    q.prompt = "again?";
    q.requested_at = 1200;
    ck_assert_int_eq(s->ops->approval_request(s, &q), 0);
    ck_assert_int_eq(pr_store_commit(s), 0);
    cJSON *a = NULL;
    ck_assert_int_eq(s->ops->approval(s, "run", "gate", 2, &a), 1);
    ck_assert_str_eq(text_of(a, "prompt"), "ship?");
    ck_assert(cJSON_IsObject(cJSON_GetObjectItem(a, "schema")));
    ck_assert(cJSON_GetNumberValue(cJSON_GetObjectItem(a, "deadline")) ==
              1160);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(a, "decision")));
    cJSON_Delete(a);
    ck_assert_int_eq(s->ops->approval(s, "last", "gate", 0, &a), 0);
    ck_assert_ptr_null(a);
    cJSON *w = s->ops->waiting(s, NULL);
    ck_assert_int_eq(cJSON_GetArraySize(w), 1);
    cJSON_Delete(w);
    /* answered once */
    ck_assert_int_eq(pr_store_begin(s), 0);
    ck_assert_int_eq(s->ops->approval_answer(s, "run-a", "gate", 2,
                                             "approve", "{\"x\":1}", "ok",
                                             "al", 1130),
                     0);
    ck_assert_int_eq(s->ops->approval_answer(s, "run-a", "gate", 2, "reject",
                                             NULL, NULL, "bo", 1140),
                     1);
    ck_assert_int_eq(pr_store_commit(s), 0);
    ck_assert_int_eq(s->ops->approval(s, "run-a", "gate", 2, &a), 1);
    ck_assert_str_eq(text_of(a, "decision"), "approve");
    ck_assert_str_eq(text_of(a, "answered_by"), "al");
    ck_assert(cJSON_GetNumberValue(
                  cJSON_GetObjectItem(cJSON_GetObjectItem(a, "value"), "x")) ==
              1);
    cJSON_Delete(a);
    w = s->ops->waiting(s, "run-a");
    ck_assert_int_eq(cJSON_GetArraySize(w), 0);
    cJSON_Delete(w);
    /* an escalation decided retry that fails again is asked anew */
    struct pr_store_approval e = {"run-a", "build", -1, "escalation",
                                  "failed", NULL, 1300, 0};
    ck_assert_int_eq(pr_store_begin(s), 0);
    ck_assert_int_eq(s->ops->approval_request(s, &e), 0);
    ck_assert_int_eq(s->ops->approval_answer(s, "run-a", "build", -1,
                                             "retry", NULL, NULL, "al", 1310),
                     0);
    e.prompt = "failed again";
    ck_assert_int_eq(s->ops->approval_request(s, &e), 0);
    ck_assert_int_eq(pr_store_commit(s), 0);
    ck_assert_int_eq(s->ops->approval(s, "run-a", "build", -1, &a), 1);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(a, "decision")));
    ck_assert_str_eq(text_of(a, "prompt"), "failed again");
    cJSON_Delete(a);
    /* a decision the table does not know is refused */
    ck_assert_int_eq(pr_store_begin(s), 0);
    ck_assert_int_eq(s->ops->approval_answer(s, "run-a", "build", -1,
                                             "maybe", NULL, NULL, "al", 1320),
                     -1);
    ck_assert_int_eq(pr_store_commit(s), 0);
    pr_store_close(s);
}
END_TEST

START_TEST(test_secret_names)
{
    ck_assert(pr_store_secret_name("OPENAI_API_KEY"));
    ck_assert(pr_store_secret_name("github_token"));
    ck_assert(pr_store_secret_name("db_password"));
    ck_assert(pr_store_secret_name("Client_Secret"));
    ck_assert(!pr_store_secret_name("keyword"));
    ck_assert(!pr_store_secret_name("key"));
    ck_assert(!pr_store_secret_name("tokens"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *t = tcase_create("sqlite");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_round_trip);
    tcase_add_test(t, test_reader_while_writing);
    tcase_add_test(t, test_damaged);
    tcase_add_test(t, test_secret_names);
    tcase_add_test(t, test_approvals);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
