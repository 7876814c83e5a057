/* check_util.c -- the shared text helpers: the one UTF-8 decoder, and the
 * escaping of text bound for a terminal (what passes, what is escaped and
 * how, cutting, and escaping in pieces); JSON read into scratch trees */
#include "util.h"
#include "alloc.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* scratch trees read as cJSON_Parse's do, small and past the region's
 * first blocks, one after another; text that is not JSON is NULL */
START_TEST(test_json_scratch)
{
    pr_alloc_init();
    for (int round = 0; round < 3; round++) {
        const char *t = "{\"a\":[1,2,{\"b\":\"x\\u00e9\"}],\"n\":null}";
        cJSON *v = pr_json_scratch_parse(t, strlen(t));
        ck_assert_ptr_nonnull(v);
        cJSON *a = cJSON_GetObjectItem(v, "a");
        ck_assert_int_eq(cJSON_GetArraySize(a), 3);
        ck_assert_str_eq(
            cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "b")->valuestring,
            "x\xc3\xa9");
        ck_assert(cJSON_IsNull(cJSON_GetObjectItem(v, "n")));
        /* a copy outlives the region */
        cJSON *keep = cJSON_Duplicate(a, true);
        pr_json_scratch_end();
        /* 20,000 values: several blocks */
        size_t n = 20000 * 4 + 2;
        char *big = malloc(n + 1);
        ck_assert_ptr_nonnull(big);
        big[0] = '[';
        for (size_t i = 0; i < 20000; i++)
            memcpy(big + 1 + 4 * i, i + 1 < 20000 ? "\"x\"," : "\"x\"]", 4);
        big[n - 1] = '\0';
        cJSON *b = pr_json_scratch_parse(big, strlen(big));
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(cJSON_GetArraySize(b), 20000);
        ck_assert_str_eq(cJSON_GetArrayItem(b, 19999)->valuestring, "x");
        ck_assert_ptr_null(pr_json_scratch_parse("{\"a\":", 5));
        pr_json_scratch_end();
        free(big);
        ck_assert_int_eq(cJSON_GetArraySize(keep), 3);
        cJSON_Delete(keep);
    }
}
END_TEST

START_TEST(test_utf8_decode)
{
    unsigned long cp = 0;
    ck_assert_uint_eq(pr_utf8_decode("A", 1, &cp), 1);
    ck_assert_uint_eq(cp, 'A');
    ck_assert_uint_eq(pr_utf8_decode("", 1, &cp), 1); /* NUL */
    ck_assert_uint_eq(pr_utf8_decode("\xc3\xa9", 2, &cp), 2);
    ck_assert_uint_eq(cp, 0xe9);
    ck_assert_uint_eq(pr_utf8_decode("\xe2\x82\xac", 3, &cp), 3);
    ck_assert_uint_eq(cp, 0x20ac);
    ck_assert_uint_eq(pr_utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
    ck_assert_uint_eq(cp, 0x1f600);
    ck_assert_uint_eq(pr_utf8_decode("\xf4\x8f\xbf\xbf", 4, NULL), 4);
    /* stray continuation, overlong, surrogate, past U+10FFFF, cut */
    ck_assert_uint_eq(pr_utf8_decode("\x80", 1, NULL), 0);
    ck_assert_uint_eq(pr_utf8_decode("\xc0\x80", 2, NULL), 0);
    ck_assert_uint_eq(pr_utf8_decode("\xe0\x80\x80", 3, NULL), 0);
    ck_assert_uint_eq(pr_utf8_decode("\xed\xa0\x80", 3, NULL), 0);
    ck_assert_uint_eq(pr_utf8_decode("\xf4\x90\x80\x80", 4, NULL), 0);
    ck_assert_uint_eq(pr_utf8_decode("\xf5\x80\x80\x80", 4, NULL), 0);
    ck_assert_uint_eq(pr_utf8_decode("\xe2\x82", 2, NULL), 0);
    ck_assert_uint_eq(pr_utf8_decode("\xe2\x82x", 3, NULL), 0);
}
END_TEST

START_TEST(test_term_escape)
{
    char b[256];
    ck_assert_str_eq(pr_term_text("plain\ttab, caf\xc3\xa9", b, sizeof b),
                     "plain\ttab, caf\xc3\xa9");
    ck_assert_str_eq(pr_term_text("\033[31mred\rok\nnext", b, sizeof b),
                     "\\x1b[31mred\\rok\\nnext");
    ck_assert_str_eq(pr_term_text("\x01\x7f\x1f", b, sizeof b),
                     "\\x01\\x7f\\x1f");
    /* C1 controls, separators and bidirectional overrides */
    ck_assert_str_eq(pr_term_text("\xc2\x9b"
                                  "2J\xc2\x85",
                                  b, sizeof b),
                     "\\u009b2J\\u0085");
    ck_assert_str_eq(pr_term_text("a\xe2\x80\xae"
                                  "b\xe2\x80\xa8\xe2\x81\xa6",
                                  b, sizeof b),
                     "a\\u202eb\\u2028\\u2066");
    ck_assert_str_eq(pr_term_text("\xe2\x80\xaf", b, sizeof b),
                     "\xe2\x80\xaf"); /* U+202F passes */
    /* each byte of invalid UTF-8 */
    ck_assert_str_eq(pr_term_text("x\xff\xc3(\xe2\x82", b, sizeof b),
                     "x\\xff\\xc3(\\xe2\\x82");
    ck_assert_str_eq(pr_term_text(NULL, b, sizeof b), "");
}
END_TEST

START_TEST(test_term_cut)
{
    char b[12];
    ck_assert_str_eq(pr_term_text("0123456789abc", b, sizeof b),
                     "01234567...");
    ck_assert_str_eq(pr_term_text("0123456789a", b, sizeof b), "0123456789a");
    /* an escape is never cut in half */
    ck_assert_str_eq(pr_term_text("012345\033\033", b, sizeof b), "012345...");
    ck_assert_str_eq(
        pr_term_text("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", b,
                     sizeof b),
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...");
}
END_TEST

START_TEST(test_term_pieces)
{
    /* escaping in pieces gives what escaping at once gives */
    const char *s = "\033[1mbold\r\xc2\x9b\xe2\x80\xae\xff end \xc3\xa9";
    size_t n = strlen(s);
    char whole[256], piece[8], joined[256] = "";
    ck_assert_uint_eq(pr_term_escape(s, n, whole, sizeof whole), n);
    for (size_t at = 0; at < n;) {
        size_t k = pr_term_escape(s + at, n - at, piece, sizeof piece);
        ck_assert_uint_gt(k, 0);
        strcat(joined, piece);
        at += k;
    }
    ck_assert_str_eq(joined, whole);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    tcase_add_test(tc, test_json_scratch);
    tcase_add_test(tc, test_utf8_decode);
    tcase_add_test(tc, test_term_escape);
    tcase_add_test(tc, test_term_cut);
    tcase_add_test(tc, test_term_pieces);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
