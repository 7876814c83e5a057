/* check_crc32c.c -- the plan checksum: the processor's instruction and the
 * tables agree on every length, alignment and chaining, and both give the
 * standard CRC-32C check values */
#include "plan.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

START_TEST(test_check_values)
{
    /* the check value of the CRC catalogue, and RFC 3720's test vectors */
    static const uint8_t zeros[32],
        ones[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    uint8_t up[32];
    for (int i = 0; i < 32; i++)
        up[i] = (uint8_t)i;
    ck_assert_uint_eq(pr_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(pr_crc32c(0, zeros, 32), 0x8A9136AAu);
    ck_assert_uint_eq(pr_crc32c(0, ones, 32), 0x62A8AB43u);
    ck_assert_uint_eq(pr_crc32c(0, up, 32), 0x46DD794Eu);
    ck_assert_uint_eq(pr_crc32c_portable(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(pr_crc32c(0, "", 0), 0);
    const char *m = pr_crc32c_method();
    ck_assert(strcmp(m, "instruction") == 0 || strcmp(m, "tables") == 0);
}
END_TEST

START_TEST(test_agree)
{
    enum { N = 1200 };
    uint8_t *buf = malloc(N + 8);
    ck_assert_ptr_nonnull(buf);
    uint32_t x = 0x9E3779B9u;
    for (size_t i = 0; i < N + 8; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len <= N; len += len < 40 ? 1 : 37) {
            uint32_t hw = pr_crc32c(0, buf + off, len);
            ck_assert_msg(hw == pr_crc32c_portable(0, buf + off, len),
                          "offset %zu length %zu", off, len);
            /* chaining: a CRC continued over a split gives the whole */
            size_t cut = len / 3;
            uint32_t c = pr_crc32c(0, buf + off, cut);
            ck_assert_uint_eq(pr_crc32c(c, buf + off + cut, len - cut), hw);
            c = pr_crc32c_portable(0, buf + off, cut);
            ck_assert_uint_eq(
                pr_crc32c_portable(c, buf + off + cut, len - cut), hw);
        }
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("crc32c");
    tcase_add_test(tc, test_check_values);
    tcase_add_test(tc, test_agree);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("crc32c: %s\n", pr_crc32c_method());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
