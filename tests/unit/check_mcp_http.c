/* check_mcp_http.c -- runtime/mcp/http_wire.c: the headers of a POST for
 * each revision (MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID,
 * Mcp-Method on requests only, Mcp-Name from name or uri), values that
 * are not plain ASCII sent base64-wrapped, the workflow's headers with a
 * line break refused; replies classified by status and content type;
 * response headers read and a session id outside visible ASCII refused.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_int.h"

/* The headers of MSG (JSON text) under C, joined with '|'. */
static char *headers_of(const struct pr_mcp_http_ctx *c, const char *msg)
{
    static char out[2048];
    cJSON *j = cJSON_Parse(msg);
    ck_assert_ptr_nonnull(j);
    struct pr_mcp_http_hdrs h;
    char err[200] = "";
    int rc = pr_mcp_http_headers(c, j, &h, err, sizeof err);
    cJSON_Delete(j);
    if (rc < 0) {
        snprintf(out, sizeof out, "error: %s", err);
        return out;
    }
    size_t at = 0;
    out[0] = 0;
    for (size_t i = 0; i < h.n; i++)
        at += (size_t)snprintf(out + at, sizeof out - at, "%s%s",
                               i ? "|" : "", pr_mcp_http_hdr_at(&h, i));
    ck_assert_ptr_null(pr_mcp_http_hdr_at(&h, h.n));
    pr_buf_free(&h.b);
    return out;
}

#define BASE "Content-Type: application/json|" \
             "Accept: application/json, text/event-stream"

START_TEST(stateful)
{
    struct pr_mcp_http_ctx c = {0};
    /* initialize: no revision yet, no session */
    ck_assert_str_eq(headers_of(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,"
                                    "\"method\":\"initialize\"}"),
                     BASE);
    c.revision = "2025-11-25";
    c.session = "abc-123";
    ck_assert_str_eq(
        headers_of(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
                       "\"tools/call\",\"params\":{\"name\":\"echo\"}}"),
        BASE "|MCP-Protocol-Version: 2025-11-25|Mcp-Session-Id: abc-123");
    c.last_event_id = "ev-7";
    ck_assert_str_eq(headers_of(&c, "{\"jsonrpc\":\"2.0\",\"method\":"
                                    "\"notifications/initialized\"}"),
                     BASE "|MCP-Protocol-Version: 2025-11-25|"
                          "Mcp-Session-Id: abc-123|Last-Event-ID: ev-7");
}
END_TEST

START_TEST(stateless)
{
    struct pr_mcp_http_ctx c = {.revision = "2026-07-28",
                                .stateless = true,
                                .session = "ignored",
                                .last_event_id = "ignored"};
    const char *v = BASE "|MCP-Protocol-Version: 2026-07-28";
    char want[512];
    snprintf(want, sizeof want, "%s|Mcp-Method: tools/call|Mcp-Name: echo",
             v);
    ck_assert_str_eq(
        headers_of(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
                       "\"tools/call\",\"params\":{\"name\":\"echo\"}}"),
        want);
    snprintf(want, sizeof want,
             "%s|Mcp-Method: resources/read|Mcp-Name: file:///a b", v);
    ck_assert_str_eq(
        headers_of(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
                       "\"resources/read\",\"params\":{\"uri\":"
                       "\"file:///a b\"}}"),
        want);
    snprintf(want, sizeof want, "%s|Mcp-Method: tools/list", v);
    ck_assert_str_eq(headers_of(&c, "{\"jsonrpc\":\"2.0\",\"id\":4,"
                                    "\"method\":\"tools/list\",\"params\":"
                                    "{\"name\":\"not mirrored\"}}"),
                     want);
    /* a notification carries no Mcp-Method; a response neither */
    ck_assert_str_eq(headers_of(&c, "{\"jsonrpc\":\"2.0\",\"method\":"
                                    "\"notifications/cancelled\"}"),
                     v);
    ck_assert_str_eq(
        headers_of(&c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}"), v);
    /* a name that is not plain ASCII: base64 of its UTF-8 */
    snprintf(want, sizeof want,
             "%s|Mcp-Method: tools/call|Mcp-Name: =?base64?dMO2w7ZsX3VuaWNvZGU=?=",
             v);
    ck_assert_str_eq(headers_of(&c, "{\"jsonrpc\":\"2.0\",\"id\":6,"
                                    "\"method\":\"tools/call\",\"params\":"
                                    "{\"name\":\"t\\u00f6\\u00f6l_unicode\"}}"),
                     want);
    snprintf(want, sizeof want,
             "%s|Mcp-Method: tools/call|Mcp-Name: =?base64?YQ0KRXZpbDogMQ==?=",
             v);
    ck_assert_str_eq(headers_of(&c, "{\"jsonrpc\":\"2.0\",\"id\":7,"
                                    "\"method\":\"tools/call\",\"params\":"
                                    "{\"name\":\"a\\r\\nEvil: 1\"}}"),
                     want);
}
END_TEST

START_TEST(encode)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain name", "plain name"},
        {"", ""},
        {" lead", "=?base64?IGxlYWQ=?="},
        {"trail\t", "=?base64?dHJhaWwJ?="},
        {"=?base64?x?=", "=?base64?PT9iYXNlNjQ/eD89?="},
        {"caf\xc3\xa9", "=?base64?Y2Fmw6k=?="},
        {"\x7f", "=?base64?fw==?="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct pr_buf b;
        pr_buf_init(&b);
        ck_assert_int_eq(pr_mcp_http_encode_value(&b, cases[i].in), 0);
        ck_assert_int_eq(pr_buf_append(&b, "", 1), 0);
        ck_assert_str_eq((char *)b.data, cases[i].out);
        pr_buf_free(&b);
    }
}
END_TEST

START_TEST(extra)
{
    struct pr_mcp_http_extra x[] = {{"Authorization", "Bearer s3cret"},
                                    {"X-Team", "a\tb"}};
    struct pr_mcp_http_ctx c = {.extra = x, .nextra = 2};
    const char *msg = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    ck_assert_str_eq(headers_of(&c, msg),
                     BASE "|Authorization: Bearer s3cret|X-Team: a\tb");
    x[1].value = "a\r\nHost: evil";
    ck_assert_str_eq(headers_of(&c, msg),
                     "error: header 'X-Team': its value has a line break "
                     "or control character");
    x[1].value = "ok";
    x[1].name = "Bad Name";
    ck_assert_str_eq(headers_of(&c, msg),
                     "error: header name 'Bad Name' is not an HTTP token");
    ck_assert(pr_mcp_http_token("Mcp-Session-Id"));
    ck_assert(!pr_mcp_http_token(""));
    ck_assert(!pr_mcp_http_token("a:b"));
}
END_TEST

START_TEST(classify)
{
    char err[200];
    ck_assert_int_eq(pr_mcp_http_classify(200, "application/json", false,
                                          true, err, sizeof err),
                     PR_MCP_HTTP_JSON);
    ck_assert_int_eq(pr_mcp_http_classify(200, "Application/JSON; charset=utf-8",
                                          false, true, err, sizeof err),
                     PR_MCP_HTTP_JSON);
    ck_assert_int_eq(pr_mcp_http_classify(200, " text/event-stream", true,
                                          true, err, sizeof err),
                     PR_MCP_HTTP_SSE);
    ck_assert_int_eq(pr_mcp_http_classify(200, "application/jsonx", false,
                                          true, err, sizeof err),
                     PR_MCP_HTTP_FAIL);
    ck_assert_str_eq(err, "the server answered with content type "
                          "'application/jsonx', neither application/json "
                          "nor text/event-stream");
    ck_assert_int_eq(pr_mcp_http_classify(202, NULL, true, false, err,
                                          sizeof err),
                     PR_MCP_HTTP_NONE);
    ck_assert_int_eq(pr_mcp_http_classify(202, NULL, true, true, err,
                                          sizeof err),
                     PR_MCP_HTTP_FAIL);
    ck_assert_str_eq(err, "the server accepted a request (HTTP 202) "
                          "without answering it");
    ck_assert_int_eq(pr_mcp_http_classify(404, "text/html", true, true, err,
                                          sizeof err),
                     PR_MCP_HTTP_SESSION_GONE);
    ck_assert_int_eq(pr_mcp_http_classify(404, "text/html", false, true, err,
                                          sizeof err),
                     PR_MCP_HTTP_FAIL);
    ck_assert_str_eq(err, "the server answered HTTP 404");
    ck_assert_int_eq(pr_mcp_http_classify(500, "application/json", true,
                                          true, err, sizeof err),
                     PR_MCP_HTTP_FAIL);
}
END_TEST

START_TEST(response_header)
{
    char v[16];
    const char *l = "mcp-session-id:  abc-123 \r\n";
    ck_assert_int_eq(pr_mcp_http_response_header(l, strlen(l),
                                                 "Mcp-Session-Id", v,
                                                 sizeof v),
                     1);
    ck_assert_str_eq(v, "abc-123");
    l = "Mcp-Session-Idx: a\r\n";
    ck_assert_int_eq(pr_mcp_http_response_header(l, strlen(l),
                                                 "Mcp-Session-Id", v,
                                                 sizeof v),
                     0);
    l = "Mcp-Session-Id: a b\r\n";
    ck_assert_int_eq(pr_mcp_http_response_header(l, strlen(l),
                                                 "Mcp-Session-Id", v,
                                                 sizeof v),
                     -1);
    l = "Mcp-Session-Id: 0123456789abcdefXYZ\r\n";
    ck_assert_int_eq(pr_mcp_http_response_header(l, strlen(l),
                                                 "Mcp-Session-Id", v,
                                                 sizeof v),
                     -1);
    l = "Mcp-Session-Id";
    ck_assert_int_eq(pr_mcp_http_response_header(l, strlen(l),
                                                 "Mcp-Session-Id", v,
                                                 sizeof v),
                     0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mcp_http");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, stateful);
    tcase_add_test(tc, stateless);
    tcase_add_test(tc, encode);
    tcase_add_test(tc, extra);
    tcase_add_test(tc, classify);
    tcase_add_test(tc, response_header);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
