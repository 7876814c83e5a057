/* check_sha256.c -- the state file's digest (store.h, over libcrypto):
 * FIPS 180-4's SHA-256 examples, and the same digest however the input is
 * cut into updates */
#include "store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void digest(const void *p, size_t n, char out[PR_SHA256_HEX + 1])
{
    ck_assert_int_eq(pr_sha256_hex(p, n, out), 0);
}

START_TEST(test_examples)
{
    char h[PR_SHA256_HEX + 1];
    digest("", 0, h);
    ck_assert_str_eq(
        h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    digest("abc", 3, h);
    ck_assert_str_eq(
        h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    static const char two[] =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    digest(two, sizeof two - 1, h);
    ck_assert_str_eq(
        h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    static const char four[] =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
        "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    digest(four, sizeof four - 1, h);
    ck_assert_str_eq(
        h, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    /* a million times 'a', given in pieces of 1,000 */
    char a[1000];
    memset(a, 'a', sizeof a);
    struct pr_sha256 *c = pr_sha256_new();
    for (int i = 0; i < 1000; i++)
        pr_sha256_add(c, a, sizeof a);
    ck_assert_int_eq(pr_sha256_end(c, h), 0);
    ck_assert_str_eq(
        h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

/* every length across the padding's edges (55, 56, 64 bytes...), each cut
 * in two and in single bytes, gives the digest of the whole */
START_TEST(test_pieces)
{
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t len = 0; len <= sizeof buf; len++) {
        char whole[PR_SHA256_HEX + 1], got[PR_SHA256_HEX + 1];
        digest(buf, len, whole);
        size_t cut = len * 7 / 11;
        struct pr_sha256 *c = pr_sha256_new();
        pr_sha256_add(c, buf, cut);
        pr_sha256_add(c, buf + cut, len - cut);
        ck_assert_int_eq(pr_sha256_end(c, got), 0);
        ck_assert_msg(!strcmp(got, whole), "length %zu cut at %zu", len, cut);
        c = pr_sha256_new();
        for (size_t i = 0; i < len; i++)
            pr_sha256_add(c, buf + i, 1);
        ck_assert_int_eq(pr_sha256_end(c, got), 0);
        ck_assert_msg(!strcmp(got, whole), "length %zu a byte at a time",
                      len);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("sha256");
    tcase_add_test(tc, test_examples);
    tcase_add_test(tc, test_pieces);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
