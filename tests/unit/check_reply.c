/* check_reply.c -- the reply readers of runtime/llm (proto.h: both wire
 * protocols; sse.c underneath) on exact inputs: streamed text split
 * anywhere reassembles to the same text, tool-call deltas assemble, usage
 * is read, and inputs that once crashed (tests/llm/crashes/, first byte
 * as in fuzz/fuzz_reply.c) are survived; and the request bodies both
 * protocols write are valid UTF-8 whatever the text sent.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util.h"

/* The reply BODY[0..N) of protocol ANTHROPIC (else OpenAI), streamed or
 * whole, fed in pieces of PIECE bytes; free with pr_llm_parsed_free. */
static struct pr_llm_parsed *feed(int anthropic, int stream, const char *body,
                                  size_t n, size_t piece)
{
    const struct pr_llm_proto *pr = pr_llm_proto_for(anthropic ? "anthropic"
                                                               : "openai");
    struct pr_llm_parsed *p = calloc(1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    if (stream) {
        struct pr_llm_stream s;
        pr_llm_stream_init(&s, pr, p);
        for (size_t at = 0; at < n; at += piece)
            pr_llm_stream_feed(&s, body + at,
                               at + piece <= n ? piece : n - at);
        pr_llm_stream_free(&s);
    } else {
        char *copy = malloc(n + 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, body, n);
        pr_llm_whole(pr, p, copy, n);
        free(copy);
    }
    return p;
}

static void free_reply(struct pr_llm_parsed *p)
{
    pr_llm_parsed_free(p);
    free(p);
}

static const char *text(struct pr_llm_parsed *p)
{
    pr_buf_append_u8(&p->text, 0);
    return p->text.data ? (const char *)p->text.data : "";
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
        struct pr_llm_parsed *c = feed(0, 1, openai_stream,
                                       sizeof openai_stream - 1, piece);
        ck_assert_str_eq(text(c), "h\xc3\xa9llo \xe2\x9c\x93");
        ck_assert(c->done);
        ck_assert_uint_eq(c->in_tok, 3);
        ck_assert_uint_eq(c->out_tok, 4);
        free_reply(c);
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
    struct pr_llm_parsed *c = feed(0, 1, s, sizeof s - 1, 7);
    cJSON *t = cJSON_GetArrayItem(c->tools, 0);
    ck_assert_str_eq(pr_llm_str_at(t, "id", NULL), "c1");
    ck_assert_str_eq(pr_llm_str_at(t, "name", NULL), "look");
    ck_assert_str_eq(pr_llm_str_at(t, "arguments", NULL), "{\"q\":1}");
    free_reply(c);
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
    ck_assert_str_eq(pr_llm_str_at(t, "id", NULL), "t1");
    ck_assert_str_eq(pr_llm_str_at(t, "arguments", NULL), "{\"a\":2}");
    ck_assert_uint_eq(c->in_tok, 5);
    ck_assert_uint_eq(c->out_tok, 9);
    ck_assert(c->done);
    free_reply(c);
}
END_TEST

START_TEST(test_stream_errors)
{
    static const char cut[] =
        "data: "
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n";
    struct pr_llm_parsed *c = feed(0, 1, cut, sizeof cut - 1, 3);
    ck_assert(!c->done); /* no [DONE]: the caller fails it */
    free_reply(c);
    static const char bad[] = "data: {\"choices\": [\n\n";
    c = feed(0, 1, bad, sizeof bad - 1, 2);
    ck_assert_ptr_nonnull(c->error);
    free_reply(c);
    static const char err[] = "event: error\ndata: {\"type\":\"error\","
                              "\"error\":{\"message\":\"overloaded\"}}\n\n";
    c = feed(1, 1, err, sizeof err - 1, 4);
    ck_assert_ptr_nonnull(strstr(c->error, "overloaded"));
    free_reply(c);
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
        struct pr_llm_parsed *c = feed(buf[0] & 1, (buf[0] & 2) != 0, buf + 1,
                                       len - 1,
                                       1 + ((unsigned char)buf[0] >> 2));
        char msg[400];
        bool quota;
        pr_llm_error(pr_llm_proto_for(buf[0] & 1 ? "anthropic" : "openai"),
                     buf + 1, len - 1, msg, sizeof msg, &quota);
        free_reply(c);
        n++;
    }
    closedir(d);
    ck_assert_int_gt(n, 0);
}
END_TEST

/* The body of Q in both protocols, exactly (a cassette's key is a hash
 * of it, so its bytes must not change by accident). */
START_TEST(test_bodies)
{
    cJSON *media = cJSON_Parse("[\"http://x/a.png\"]");
    cJSON *turns = cJSON_CreateArray();
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "role", "user");
    cJSON_AddStringToObject(t, "text", "look");
    cJSON_AddItemToObject(t, "media", media);
    cJSON_AddItemToArray(turns, t);
    cJSON *schema = cJSON_Parse("{\"type\":\"object\"}");
    struct pr_llm_request q = {.wire_id = "m1",
                               .max_tokens = 100,
                               .step_max_tokens = true,
                               .temperature = 0.5,
                               .system = "be brief",
                               .turns = turns,
                               .schema = schema,
                               .json_mode = true,
                               .stream = true};
    size_t bad = 9;
    char *b = pr_llm_body(&pr_llm_openai, &q, &bad);
    ck_assert_str_eq(
        b, "{\"model\":\"m1\",\"max_tokens\":100,\"response_format\":{"
           "\"type\":\"json_schema\",\"json_schema\":{\"name\":\"output\","
           "\"schema\":{\"type\":\"object\"}}},\"messages\":[{\"role\":"
           "\"system\",\"content\":\"be brief\"},{\"role\":\"user\","
           "\"content\":[{\"type\":\"text\",\"text\":\"look\"},{\"type\":"
           "\"image_url\",\"image_url\":{\"url\":\"http://x/a.png\"}}]}],"
           "\"temperature\":0.5,\"stream\":true,\"stream_options\":{"
           "\"include_usage\":true}}");
    ck_assert_uint_eq(bad, 0);
    free(b);
    b = pr_llm_body(&pr_llm_anthropic, &q, &bad);
    ck_assert_str_eq(
        b, "{\"model\":\"m1\",\"max_tokens\":100,\"output_config\":{"
           "\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":"
           "\"object\"}}},\"system\":\"be brief\",\"messages\":[{\"role\":"
           "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},{"
           "\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"
           "\"http://x/a.png\"}}]}],\"temperature\":0.5,\"stream\":true}");
    free(b);
    /* JSON without a schema, no system prompt, the model's max_tokens, a
       plain prompt, no temperature, whole replies */
    struct pr_llm_request w = {.wire_id = "m2",
                               .max_tokens = 4096,
                               .temperature = -1,
                               .prompt = "hi",
                               .json_mode = true};
    b = pr_llm_body(&pr_llm_openai, &w, &bad);
    ck_assert_str_eq(b, "{\"model\":\"m2\",\"response_format\":{\"type\":"
                        "\"json_object\"},\"messages\":[{\"role\":\"user\","
                        "\"content\":\"hi\"}]}");
    free(b);
    b = pr_llm_body(&pr_llm_anthropic, &w, &bad);
    ck_assert_str_eq(
        b, "{\"model\":\"m2\",\"max_tokens\":4096,\"system\":\"Reply with "
           "one JSON value only.\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"hi\"}]}");
    free(b);
    cJSON_Delete(turns);
    cJSON_Delete(schema);
}
END_TEST

/* Invalid UTF-8 anywhere in the text sent becomes U+FFFD, one per byte,
 * and the body is JSON a strict reader accepts. */
START_TEST(test_body_utf8)
{
    const struct pr_llm_proto *protos[] = {&pr_llm_openai, &pr_llm_anthropic};
    for (int k = 0; k < 2; k++) {
        struct pr_llm_request q = {
            .wire_id = "m",
            .max_tokens = 10,
            .temperature = -1,
            /* a stray continuation, an overlong form, a surrogate, a cut
               sequence; valid two- and four-byte characters around */
            .prompt = "\x80\xc0\xaf\xc3\xa9\xed\xa0\x80\xf0\x9f\x98\x80"
                      "\xe2\x82",
            .system = "s\xff"};
        size_t bad = 0;
        char *b = pr_llm_body(protos[k], &q, &bad);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(bad, 9);
        for (size_t i = 0, n = strlen(b), m; i < n; i += m)
            ck_assert_uint_ne(m = pr_utf8_decode(b + i, n - i, NULL), 0);
        cJSON *v = cJSON_Parse(b);
        ck_assert_ptr_nonnull(v);
        const cJSON *msgs = cJSON_GetObjectItem(v, "messages");
        const cJSON *last = cJSON_GetArrayItem(msgs,
                                               cJSON_GetArraySize(msgs) - 1);
        ck_assert_str_eq(pr_llm_str_at(last, "content", NULL),
                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9"
                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                         "\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd");
        cJSON_Delete(v);
        free(b);
        /* valid text is left as it is */
        q.prompt = "caf\xc3\xa9";
        q.system = NULL;
        b = pr_llm_body(protos[k], &q, &bad);
        ck_assert_uint_eq(bad, 0);
        ck_assert_ptr_nonnull(strstr(b, "caf\xc3\xa9"));
        free(b);
    }
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
    tcase_add_test(tc, test_bodies);
    tcase_add_test(tc, test_body_utf8);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
