/* ledger.c -- the hash of a ledger row, which chains it to the row
 * before: SHA-256 (OpenSSL's libcrypto) over the previous row's hash and
 * this row's event, each part ended by a NUL so that no two different
 * rows give the same input */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "store_int.h"

int pr_ledger_hash(const char *prev, const char *run_id, long long seq,
                   double at, const char *kind, const char *step,
                   const char *data, char out[PR_LEDGER_HEX + 1])
{
    char num[64];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    const char *parts[7] = {prev, run_id,           NULL, NULL,
                            kind, step ? step : "", data};
    snprintf(num, 32, "%lld", seq);
    snprintf(num + 32, 32, "%.17g", at);
    parts[2] = num;
    parts[3] = num + 32;
    for (int k = 0; ok && k < 7; k++)
        ok = EVP_DigestUpdate(c, parts[k], strlen(parts[k]) + 1);
    ok = ok && EVP_DigestFinal_ex(c, md, &n) && n * 2 == PR_LEDGER_HEX;
    EVP_MD_CTX_free(c);
    if (!ok)
        return -1;
    for (unsigned int k = 0; k < n; k++)
        snprintf(out + 2 * k, 3, "%02x", md[k]);
    return 0;
}
