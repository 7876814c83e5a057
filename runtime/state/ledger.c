/* ledger.c -- the hash of a ledger row, which chains it to the row
 * before: SHA-256 (sha256.c) over the previous row's hash and this row's
 * event, each part ended by a NUL so that no two different rows give the
 * same input */
#include <stdio.h>
#include <string.h>

#include "sha256.h"
#include "store_int.h"

_Static_assert(PR_SHA256_SIZE * 2 == PR_LEDGER_HEX,
               "a ledger hash is a SHA-256 digest in hex");

int pr_ledger_hash(const char *prev, const char *run_id, long long seq,
                   double at, const char *kind, const char *step,
                   const char *data, char out[PR_LEDGER_HEX + 1])
{
    char num[64];
    uint8_t md[PR_SHA256_SIZE];
    struct pr_sha256 c;
    const char *parts[7] = {prev, run_id,           NULL, NULL,
                            kind, step ? step : "", data};
    snprintf(num, 32, "%lld", seq);
    snprintf(num + 32, 32, "%.17g", at);
    parts[2] = num;
    parts[3] = num + 32;
    pr_sha256_init(&c);
    for (int k = 0; k < 7; k++)
        pr_sha256_update(&c, parts[k], strlen(parts[k]) + 1);
    pr_sha256_final(&c, md);
    for (int k = 0; k < PR_SHA256_SIZE; k++)
        snprintf(out + 2 * k, 3, "%02x", md[k]);
    return 0;
}
