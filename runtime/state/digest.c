/* digest.c -- SHA-256 through libcrypto's EVP interface */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "store.h"

struct pr_sha256 {
    EVP_MD_CTX *c;
    bool ok;
};

struct pr_sha256 *pr_sha256_new(void)
{
    struct pr_sha256 *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    h->c = EVP_MD_CTX_new();
    h->ok = h->c && EVP_DigestInit_ex(h->c, EVP_sha256(), NULL);
    return h;
}

void pr_sha256_add(struct pr_sha256 *h, const void *p, size_t n)
{
    if (h && h->ok && n)
        h->ok = EVP_DigestUpdate(h->c, p, n);
}

void pr_sha256_part(struct pr_sha256 *h, const char *s)
{
    pr_sha256_add(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

int pr_sha256_end(struct pr_sha256 *h, char out[PR_SHA256_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    bool ok = h && h->ok && EVP_DigestFinal_ex(h->c, md, &n) &&
              n * 2 == PR_SHA256_HEX;
    if (h) {
        EVP_MD_CTX_free(h->c);
        free(h);
    }
    out[0] = '\0';
    if (!ok)
        return -1;
    for (unsigned int k = 0; k < n; k++)
        snprintf(out + 2 * k, 3, "%02x", md[k]);
    return 0;
}

int pr_sha256_hex(const void *p, size_t n, char out[PR_SHA256_HEX + 1])
{
    struct pr_sha256 *h = pr_sha256_new();
    pr_sha256_add(h, p, n);
    return pr_sha256_end(h, out);
}
