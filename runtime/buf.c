/* buf.c -- growable byte buffer with little-endian writers
 *
 * Values are written byte by byte, so the output is the same on every host
 * whatever its byte order or alignment rules.
 */
#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void pr_buf_init(struct pr_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void pr_buf_free(struct pr_buf *b)
{
    free(b->data);
    pr_buf_init(b);
}

int pr_buf_reserve(struct pr_buf *b, size_t n)
{
    if (n <= b->cap - b->len)
        return 0;
    if (n > SIZE_MAX - b->len)
        return -1;
    size_t need = b->len + n;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int pr_buf_append(struct pr_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (pr_buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Writes the low N bytes of V, least significant first. */
static int append_le(struct pr_buf *b, uint64_t v, size_t n)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    return pr_buf_append(b, tmp, n);
}

int pr_buf_append_u8(struct pr_buf *b, uint8_t v)
{
    return append_le(b, v, 1);
}

int pr_buf_append_u16(struct pr_buf *b, uint16_t v)
{
    return append_le(b, v, 2);
}

int pr_buf_append_u32(struct pr_buf *b, uint32_t v)
{
    return append_le(b, v, 4);
}

int pr_buf_append_u64(struct pr_buf *b, uint64_t v)
{
    return append_le(b, v, 8);
}

int pr_buf_append_f64(struct pr_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return append_le(b, bits, 8);
}

int pr_buf_patch_u32(struct pr_buf *b, size_t off, uint32_t v)
{
    if (off > b->len || b->len - off < 4)
        return -1;
    for (size_t i = 0; i < 4; i++)
        b->data[off + i] = (uint8_t)(v >> (8 * i));
    return 0;
}
