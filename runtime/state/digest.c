/* digest.c -- SHA-256 digests in hex (store.h), over sha256.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "store.h"

_Static_assert(PR_SHA256_SIZE * 2 == PR_SHA256_HEX,
               "a hex digest is two digits a byte of SHA-256");

struct pr_sha256 {
    struct pr_sha256_state s;
};

struct pr_sha256 *pr_sha256_new(void)
{
    struct pr_sha256 *h = malloc(sizeof *h);
    if (h)
        pr_sha256_init(&h->s);
    return h;
}

void pr_sha256_add(struct pr_sha256 *h, const void *p, size_t n)
{
    if (h && n)
        pr_sha256_update(&h->s, p, n);
}

void pr_sha256_part(struct pr_sha256 *h, const char *s)
{
    pr_sha256_add(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

int pr_sha256_end(struct pr_sha256 *h, char out[PR_SHA256_HEX + 1])
{
    uint8_t md[PR_SHA256_SIZE];
    out[0] = '\0';
    if (!h)
        return -1;
    pr_sha256_final(&h->s, md);
    free(h);
    for (int k = 0; k < PR_SHA256_SIZE; k++)
        snprintf(out + 2 * k, 3, "%02x", md[k]);
    return 0;
}

int pr_sha256_hex(const void *p, size_t n, char out[PR_SHA256_HEX + 1])
{
    struct pr_sha256 *h = pr_sha256_new();
    pr_sha256_add(h, p, n);
    return pr_sha256_end(h, out);
}
