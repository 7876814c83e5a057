/* check_sha256.c -- the ledger's digest: FIPS 180-4's SHA-256 examples,
 * and the same digest however the input is cut into updates */
#include "sha256.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const uint8_t *md, char out[2 * PR_SHA256_SIZE + 1])
{
    for (int i = 0; i < PR_SHA256_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void digest(const void *p, size_t n, char out[2 * PR_SHA256_SIZE + 1])
{
    struct pr_sha256_state c;
    uint8_t md[PR_SHA256_SIZE];
    pr_sha256_init(&c);
    pr_sha256_update(&c, p, n);
    pr_sha256_final(&c, md);
    hex(md, out);
}

START_TEST(test_examples)
{
    char h[2 * PR_SHA256_SIZE + 1];
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
    struct pr_sha256_state c;
    uint8_t md[PR_SHA256_SIZE];
    char a[1000];
    memset(a, 'a', sizeof a);
    pr_sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        pr_sha256_update(&c, a, sizeof a);
    pr_sha256_final(&c, md);
    hex(md, h);
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
        char whole[2 * PR_SHA256_SIZE + 1], got[2 * PR_SHA256_SIZE + 1];
        uint8_t md[PR_SHA256_SIZE];
        struct pr_sha256_state c;
        digest(buf, len, whole);
        size_t cut = len * 7 / 11;
        pr_sha256_init(&c);
        pr_sha256_update(&c, buf, cut);
        pr_sha256_update(&c, buf + cut, len - cut);
        pr_sha256_final(&c, md);
        hex(md, got);
        ck_assert_msg(!strcmp(got, whole), "length %zu cut at %zu", len, cut);
        pr_sha256_init(&c);
        for (size_t i = 0; i < len; i++)
            pr_sha256_update(&c, buf + i, 1);
        pr_sha256_final(&c, md);
        hex(md, got);
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
