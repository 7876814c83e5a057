/* buf.h -- growable byte buffer with little-endian writers
 *
 * The compiler writes expression bytecode and plan sections through it.
 * Storage comes from malloc and grows by doubling; every writer returns 0,
 * or -1 when memory runs out (the buffer is then left as it was).
 */
#ifndef POML_BUF_H
#define POML_BUF_H

#include <stddef.h>
#include <stdint.h>

struct pr_buf {
    uint8_t *data; /* NULL until the first append */
    size_t len;    /* bytes written */
    size_t cap;    /* bytes allocated */
};

void pr_buf_init(struct pr_buf *b);
void pr_buf_free(struct pr_buf *b);

/* Makes room for N more bytes.  0 or -1. */
int pr_buf_reserve(struct pr_buf *b, size_t n);

int pr_buf_append(struct pr_buf *b, const void *p, size_t n);
int pr_buf_append_u8(struct pr_buf *b, uint8_t v);
int pr_buf_append_u16(struct pr_buf *b, uint16_t v);
int pr_buf_append_u32(struct pr_buf *b, uint32_t v);
int pr_buf_append_u64(struct pr_buf *b, uint64_t v);
int pr_buf_append_f64(struct pr_buf *b, double v); /* IEEE 754 bits */

/* Overwrites 4 bytes at OFF, which must lie inside what was written (for
 * back-patching jumps and section sizes).  0 or -1. */
int pr_buf_patch_u32(struct pr_buf *b, size_t off, uint32_t v);

#endif
