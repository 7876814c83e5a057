/* check_sse.c -- runtime/llm/sse.c: server-sent events from bytes cut
 * anywhere, each line ending (LF, CRLF, CR), fields, comments, a leading
 * byte order mark, what is dropped, and a callback that stops the reader.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

/* The events read, one "type|id|data" line each. */
struct got {
    char text[4096];
    size_t len;
    int n, stop_at;
};

static int collect(void *ud, struct pr_sse_event *ev)
{
    struct got *g = ud;
    ck_assert_uint_eq(strlen(ev->data), ev->len);
    g->len += (size_t)snprintf(g->text + g->len, sizeof g->text - g->len,
                               "%s|%s|%s\n", ev->type, ev->id, ev->data);
    return ++g->n == g->stop_at ? 7 : 0;
}

static int count_only(void *ud, struct pr_sse_event *ev)
{
    struct got *g = ud;
    g->n++;
    g->len += ev->len;
    return 0;
}

/* Feeds S in pieces of PIECE bytes; the events into G. */
static void feed(struct got *g, const char *s, size_t n, size_t piece)
{
    struct pr_sse r;
    memset(g, 0, sizeof *g);
    pr_sse_init(&r, collect, g);
    for (size_t at = 0; at < n; at += piece)
        ck_assert_int_eq(
            pr_sse_feed(&r, s + at, at + piece <= n ? piece : n - at), 0);
    pr_sse_free(&r);
}

/* S, cut every way from one byte at a time to whole, reads as WANT. */
static void same_cut_anywhere(const char *s, const char *want)
{
    size_t n = strlen(s);
    for (size_t piece = 1; piece <= n; piece++) {
        struct got g;
        feed(&g, s, n, piece);
        ck_assert_msg(!strcmp(g.text, want), "pieces of %zu: got\n%s", piece,
                      g.text);
    }
}

START_TEST(test_line_ends)
{
    static const char want[] = "message||a\nmessage||b\nmessage||c\n";
    same_cut_anywhere("data: a\n\ndata: b\n\ndata: c\n\n", want);
    same_cut_anywhere("data: a\r\n\r\ndata: b\r\n\r\ndata: c\r\n\r\n", want);
    same_cut_anywhere("data: a\r\rdata: b\r\rdata: c\r\r", want);
    same_cut_anywhere("data: a\n\r\ndata: b\r\n\ndata: c\r\r\n", want);
}
END_TEST

START_TEST(test_fields)
{
    same_cut_anywhere(": a comment\n"
                      "event: delta\n"
                      "id: 7\n"
                      "data: one\n"
                      "data:two\n"
                      "data:  three\n"
                      "retry: 100\n"
                      "unknown: x\n"
                      "\n"
                      "data: {\"k\": \"caf\xc3\xa9 \xe2\x98\x83\"}\n\n",
                      "delta|7|one\ntwo\n three\n"
                      "message|7|{\"k\": \"caf\xc3\xa9 \xe2\x98\x83\"}\n");
    /* a field without a colon has an empty value; an event without data
       is not passed on, and its type does not carry over */
    same_cut_anywhere("data\ndata\n\nevent: x\n\nevent: y\nid\ndata: z\n\n",
                      "message||\n\ny||z\n");
    same_cut_anywhere("data:\n\n", "message||\n");
}
END_TEST

START_TEST(test_bom_and_end)
{
    same_cut_anywhere("\xef\xbb\xbf"
                      "data: a\n\n",
                      "message||a\n");
    /* only at the start, and only a whole one */
    same_cut_anywhere("\xef\xbb"
                      "data: a\n\ndata: b\n\n",
                      "message||b\n");
    same_cut_anywhere("data: a\n\n\xef\xbb\xbf"
                      "data: b\n\n",
                      "message||a\n");
    /* an event without its blank line never completes */
    same_cut_anywhere("data: a\n\ndata: cut short\n", "message||a\n");
    same_cut_anywhere("data: a", "");
    same_cut_anywhere("", "");
}
END_TEST

START_TEST(test_stop)
{
    static const char s[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    struct got g;
    struct pr_sse r;
    memset(&g, 0, sizeof g);
    g.stop_at = 2;
    pr_sse_init(&r, collect, &g);
    ck_assert_int_eq(pr_sse_feed(&r, s, sizeof s - 1), 7);
    ck_assert_str_eq(g.text, "message||1\nmessage||2\n");
    /* the reader goes on where it stopped */
    ck_assert_int_eq(pr_sse_feed(&r, "", 0), 0);
    ck_assert_int_eq(pr_sse_feed(&r, s + 18, sizeof s - 19), 0);
    ck_assert_str_eq(g.text, "message||1\nmessage||2\nmessage||3\n");
    pr_sse_free(&r);
}
END_TEST

/* A long stream read a byte at a time costs time linear in its length
 * (a quadratic reader would not end within the test's timeout, which is
 * set far above the linear reader's cost, even under sanitizers on a
 * loaded machine: a quadratic one would take hours): a line of a
 * mebibyte, then an event of 128 Ki data lines. */
START_TEST(test_linear)
{
    size_t n = 1u << 20, lines = 128u << 10;
    char *s = malloc(n + 8 * lines + 4);
    ck_assert_ptr_nonnull(s);
    memset(s, 'x', n);
    memcpy(s, "data: ", 6);
    memcpy(s + n, "\n\n", 2);
    size_t len = n + 2;
    for (size_t i = 0; i < lines; i++, len += 8)
        memcpy(s + len, "data: y\n", 8);
    s[len++] = '\n';
    struct got g;
    struct pr_sse r;
    memset(&g, 0, sizeof g);
    pr_sse_init(&r, count_only, &g);
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(pr_sse_feed(&r, s + i, 1), 0);
    ck_assert_int_eq(g.n, 2);
    ck_assert_uint_eq(g.len, n - 6 + 2 * lines - 1);
    pr_sse_free(&r);
    free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sse");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_line_ends);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_bom_and_end);
    tcase_add_test(tc, test_stop);
    tcase_add_test(tc, test_linear);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
