/* check_reply.c -- the reply parsers of runtime/llm/llm.c (included: they are
 * static) on exact inputs: streamed text split anywhere reassembles to
 * the same text, tool-call deltas assemble, usage is read, and inputs
 * that once crashed (tests/llm/crashes/, first byte as in
 * fuzz/fuzz_reply.c) are survived.
 */
#include <check.h>
#include <dirent.h>

#include "../../runtime/llm/llm.c"

static struct call *feed(int anthropic, int stream, const char *body,
                         size_t n, size_t piece)
{
    struct call *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->anthropic = anthropic;
    c->stream = stream;
    for (size_t at = 0; at < n; at += piece)
        ck_assert_int_eq(on_data(c, body + at, at + piece <= n ? piece
                                                                : n - at),
                         0);
    if (!stream) {
        cJSON *r = cJSON_ParseWithLength((const char *)c->raw.data,
                                         c->raw.len);
        if (r)
            parse_whole(c, r);
        cJSON_Delete(r);
    }
    return c;
}

static const char *text(struct call *c)
{
    pr_buf_append_u8(&c->text, 0);
    return c->text.data ? (const char *)c->text.data : "";
}

static const char openai_stream[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"h\xc3\xa9\"}}]}"
    "\r\n\r\n"
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"llo \xe2\x9c"
    "\x93\"}}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
    "\"completion_tokens\":4}}\n\n"
    "data: [DONE]\n\n";

START_TEST(test_split_anywhere)
{
    for (size_t piece = 1; piece <= sizeof openai_stream; piece++) {
        struct call *c = feed(0, 1, openai_stream, sizeof openai_stream - 1,
                              piece);
        ck_assert_str_eq(text(c), "h\xc3\xa9llo \xe2\x9c\x93");
        ck_assert(c->done_event);
        ck_assert_uint_eq(c->in_tok, 3);
        ck_assert_uint_eq(c->out_tok, 4);
        free_call(c);
    }
}
END_TEST

START_TEST(test_tool_deltas)
{
    static const char s[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
        "\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"look\","
        "\"arguments\":\"{\\\"q\\\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
        "\"index\":0,\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n"
        "data: [DONE]\n\n";
    struct call *c = feed(0, 1, s, sizeof s - 1, 7);
    cJSON *t = cJSON_GetArrayItem(c->tools, 0);
    ck_assert_str_eq(str_at(t, "id", NULL), "c1");
    ck_assert_str_eq(str_at(t, "name", NULL), "look");
    ck_assert_str_eq(str_at(t, "arguments", NULL), "{\"q\":1}");
    free_call(c);
    static const char a[] =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
        "{\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\","
        "\"name\":\"n\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\\\"a\\\":\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"2}\"}}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":"
        "{\"output_tokens\":9}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    c = feed(1, 1, a, sizeof a - 1, 5);
    /* the first tool call, though content block 1 */
    ck_assert_int_eq(cJSON_GetArraySize(c->tools), 1);
    t = cJSON_GetArrayItem(c->tools, 0);
    ck_assert_str_eq(str_at(t, "id", NULL), "t1");
    ck_assert_str_eq(str_at(t, "arguments", NULL), "{\"a\":2}");
    ck_assert_uint_eq(c->in_tok, 5);
    ck_assert_uint_eq(c->out_tok, 9);
    ck_assert(c->done_event);
    free_call(c);
}
END_TEST

START_TEST(test_stream_errors)
{
    static const char cut[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n";
    struct call *c = feed(0, 1, cut, sizeof cut - 1, 3);
    ck_assert(!c->done_event);      /* no [DONE]: the caller fails it */
    free_call(c);
    static const char bad[] = "data: {\"choices\": [\n\n";
    c = feed(0, 1, bad, sizeof bad - 1, 2);
    ck_assert_ptr_nonnull(c->stream_error);
    free_call(c);
    static const char err[] = "event: error\ndata: {\"type\":\"error\","
                              "\"error\":{\"message\":\"overloaded\"}}\n\n";
    c = feed(1, 1, err, sizeof err - 1, 4);
    ck_assert_ptr_nonnull(strstr(c->stream_error, "overloaded"));
    free_call(c);
}
END_TEST

/* Every file of tests/llm/crashes goes through as the fuzzer sent it. */
START_TEST(test_crashes)
{
    const char *top = getenv("top_srcdir");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/llm/crashes", top ? top : ".");
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "README"))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        static char buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        if (len < 1)
            continue;
        struct call *c = feed(buf[0] & 1, (buf[0] & 2) != 0, buf + 1,
                              len - 1, 1 + ((unsigned char)buf[0] >> 2));
        char msg[400];
        error_message(c, msg, sizeof msg);
        free_call(c);
        n++;
    }
    closedir(d);
    ck_assert_int_gt(n, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reply");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_split_anywhere);
    tcase_add_test(tc, test_tool_deltas);
    tcase_add_test(tc, test_stream_errors);
    tcase_add_test(tc, test_crashes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
