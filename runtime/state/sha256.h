/* sha256.h -- SHA-256 (FIPS 180-4), for the ledger's hash chain
 *
 * Written here rather than taken from OpenSSL's libcrypto: the ledger
 * hashes a few hundred bytes an event, and linking libcrypto cost every
 * pomlrun start (sub-workflow children included) half a millisecond of
 * loading and relocation for it.  Checked against FIPS 180-4's examples
 * (tests/unit/check_sha256.c).
 */
#ifndef POML_SHA256_H
#define POML_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PR_SHA256_SIZE 32

struct pr_sha256_state {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t buf[64];
};

void pr_sha256_init(struct pr_sha256_state *c);
void pr_sha256_update(struct pr_sha256_state *c, const void *data, size_t n);
/* The digest of everything given to C since pr_sha256_init */
void pr_sha256_final(struct pr_sha256_state *c, uint8_t out[PR_SHA256_SIZE]);

#endif
