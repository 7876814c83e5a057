/* ledger.c -- the hash of a ledger row, which chains it to the row
 * before: SHA-256 over the previous row's hash and this row's event,
 * each part ended by a NUL so that no two different rows give the same
 * input */
#include <stdio.h>

#include "store_int.h"

int pr_ledger_hash(const char *prev, const char *run_id, long long seq,
                   double at, const char *kind, const char *step,
                   const char *data, char out[PR_LEDGER_HEX + 1])
{
    char num[64];
    snprintf(num, 32, "%lld", seq);
    snprintf(num + 32, 32, "%.17g", at);
    const char *parts[7] = {prev, run_id, num, num + 32, kind, step, data};
    struct pr_sha256 *h = pr_sha256_new();
    for (int k = 0; k < 7; k++)
        pr_sha256_part(h, parts[k]);
    return pr_sha256_end(h, out);
}
