/* check_jsonrpc.c -- runtime/mcp/jsonrpc.c: lines from bytes cut
 * anywhere, CRLF, blank lines, a line past the limit dropped without
 * being held, a callback that stops the reader; messages classified
 * (request, notification, result, error, and every kind of invalid
 * line); messages written as one line; the table of pending requests.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "mcp_int.h"

struct got {
    char text[4096];
    size_t len;
    int n, stop_at;
};

static int collect(void *ud, char *line, size_t len, bool too_long)
{
    struct got *g = ud;
    if (too_long)
        g->len += (size_t)snprintf(g->text + g->len, sizeof g->text - g->len,
                                   "<long %zu>\n", len);
    else {
        ck_assert_uint_eq(strlen(line), len);
        g->len += (size_t)snprintf(g->text + g->len, sizeof g->text - g->len,
                                   "%s\n", line);
    }
    return ++g->n == g->stop_at ? 9 : 0;
}

static void feed(struct got *g, const char *s, size_t max, size_t piece)
{
    struct pr_jrpc_lines r;
    memset(g, 0, sizeof *g);
    pr_jrpc_lines_init(&r, max);
    size_t n = strlen(s);
    for (size_t at = 0; at < n; at += piece) {
        size_t k = n - at < piece ? n - at : piece;
        ck_assert_int_eq(pr_jrpc_feed(&r, s + at, k, collect, g), 0);
    }
    /* what is held never passes the limit */
    ck_assert_uint_le(r.line.len, max);
    pr_jrpc_lines_free(&r);
}

START_TEST(lines_any_pieces)
{
    const char *in = "one\r\ntwo\n\n  \nthree\nfour-is-much-too-long\nfive\n"
                     "tail";
    const char *want = "one\ntwo\nthree\n<long 21>\nfive\n";
    for (size_t piece = 1; piece < 60; piece++) {
        struct got g;
        feed(&g, in, 10, piece);
        ck_assert_str_eq(g.text, want);
    }
}
END_TEST

START_TEST(lines_stop)
{
    struct pr_jrpc_lines r;
    struct got g;
    memset(&g, 0, sizeof g);
    g.stop_at = 2;
    pr_jrpc_lines_init(&r, 100);
    ck_assert_int_eq(pr_jrpc_feed(&r, "a\nb\nc\n", 6, collect, &g), 9);
    ck_assert_str_eq(g.text, "a\nb\n");
    pr_jrpc_lines_free(&r);
}
END_TEST

static enum pr_jrpc_kind kind_of(const char *s, struct pr_jrpc_msg *m)
{
    pr_jrpc_parse(s, strlen(s), m);
    return m->kind;
}

START_TEST(classify)
{
    struct pr_jrpc_msg m;
    ck_assert_int_eq(kind_of("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
                             "\"ping\"}", &m), PR_JRPC_REQUEST);
    ck_assert(m.int_id && m.id_num == 7);
    ck_assert_str_eq(m.method, "ping");
    cJSON_Delete(m.root);
    ck_assert_int_eq(kind_of("{\"jsonrpc\":\"2.0\",\"method\":\"n\","
                             "\"params\":{}}", &m), PR_JRPC_NOTIFICATION);
    cJSON_Delete(m.root);
    ck_assert_int_eq(kind_of("{\"jsonrpc\":\"2.0\",\"id\":\"x\","
                             "\"result\":{}}", &m), PR_JRPC_RESULT);
    ck_assert(!m.int_id);
    cJSON_Delete(m.root);
    ck_assert_int_eq(kind_of("{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":"
                             "{\"code\":-32602,\"message\":\"bad\"}}", &m),
                     PR_JRPC_ERROR);
    ck_assert_int_eq(m.error_code, -32602);
    ck_assert_str_eq(m.error_msg, "bad");
    cJSON_Delete(m.root);
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"nope", "not JSON"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}} x", "text after"},
        {"[{\"jsonrpc\":\"2.0\"}]", "a batch"},
        {"42", "not a JSON object"},
        {"{\"id\":1,\"result\":{}}", "\"jsonrpc\""},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":{}}", "neither a number"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":3}", "method that is"},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":3}", "params"},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}", "null id"},
        {"{\"jsonrpc\":\"2.0\",\"result\":{}}", "neither a method nor an id"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{}}", "both"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", "neither a result"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\"}}",
         "numeric code"},
        /* found by fuzz/fuzz_jsonrpc: converting it overflowed */
        {"{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-3233333333"
         "33333333333333333333333333333333333333602,\"message\":\"b\"}}",
         "out of range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(kind_of(bad[i].in, &m), PR_JRPC_INVALID);
        ck_assert_msg(strstr(m.why, bad[i].why), "%s: %s", bad[i].in, m.why);
        cJSON_Delete(m.root);
    }
}
END_TEST

START_TEST(write)
{
    cJSON *p = cJSON_Parse("{\"a\":[1,\"x\\ny\"]}");
    char *s = pr_jrpc_request(5, "tools/call", p);
    ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":"
                        "\"tools/call\",\"params\":{\"a\":[1,\"x\\ny\"]}}");
    ck_assert_ptr_null(strchr(s, '\n'));
    free(s);
    s = pr_jrpc_request(-1, "notifications/initialized", NULL);
    ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"method\":"
                        "\"notifications/initialized\"}");
    free(s);
    cJSON *id = cJSON_CreateString("p1");
    s = pr_jrpc_result(id, NULL);
    ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"id\":\"p1\",\"result\":{}}");
    free(s);
    s = pr_jrpc_error(id, -32601, "no");
    ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"id\":\"p1\",\"error\":"
                        "{\"code\":-32601,\"message\":\"no\"}}");
    free(s);
    cJSON_Delete(id);
    cJSON_Delete(p);
}
END_TEST

START_TEST(pending)
{
    struct pr_mcp_table t = {0};
    int a, b;
    ck_assert_int_eq(pr_mcp_table_next(&t) < 0, 1);
    pr_mcp_table_add(&t, 1, 10.0, PR_MCP_REQ_INIT, NULL);
    pr_mcp_table_add(&t, 2, 5.0, PR_MCP_REQ_CALL, &a);
    pr_mcp_table_add(&t, 3, 7.0, PR_MCP_REQ_CALL, &b);
    ck_assert(pr_mcp_table_next(&t) == 5.0);
    ck_assert_ptr_eq(pr_mcp_table_of(&t, &b)->call, &b);
    struct pr_mcp_pending p;
    ck_assert(!pr_mcp_table_expired(&t, 4.0, &p));
    ck_assert(pr_mcp_table_expired(&t, 7.5, &p));
    ck_assert(pr_mcp_table_expired(&t, 7.5, &p));
    ck_assert(!pr_mcp_table_expired(&t, 7.5, &p));
    ck_assert(!pr_mcp_table_take(&t, 2, &p)); /* expired: a late reply */
    ck_assert(pr_mcp_table_take(&t, 1, &p) && p.what == PR_MCP_REQ_INIT);
    ck_assert_uint_eq(t.n, 0);
    pr_mcp_table_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonrpc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, lines_any_pieces);
    tcase_add_test(tc, lines_stop);
    tcase_add_test(tc, classify);
    tcase_add_test(tc, write);
    tcase_add_test(tc, pending);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
