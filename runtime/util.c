/* util.c -- small helpers both programs share
 *
 * UTF-8 encoding and decoding, hex digits, formatted error messages, the
 * edit distance behind every "did you mean", the escaping of text bound
 * for a terminal, and the wall clock.
 */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int pr_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t pr_utf8_put(char out[4], unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t pr_utf8_decode(const char *s, size_t n, unsigned long *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned long v;
    size_t len;
    if (u[0] < 0x80)
        len = 1, v = u[0];
    else if (u[0] >= 0xc2 && u[0] <= 0xdf)
        len = 2, v = u[0] & 0x1f;
    else if (u[0] >= 0xe0 && u[0] <= 0xef)
        len = 3, v = u[0] & 0x0f;
    else if (u[0] >= 0xf0 && u[0] <= 0xf4)
        len = 4, v = u[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (u[i] & 0x3f);
    }
    if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
        (len == 4 && (v < 0x10000 || v > 0x10ffff)))
        return 0;
    if (cp)
        *cp = v;
    return len;
}

/* True when code point CP must not reach a terminal raw (see util.h). */
static bool term_unsafe(unsigned long cp)
{
    return (cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp <= 0x9f) ||
           cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* The escape of code point CP (LEN bytes at S; 0: an invalid byte) into
 * OUT; returns its length. */
static size_t term_escape_one(const char *s, size_t len, unsigned long cp,
                              char out[8])
{
    if (len == 0)
        return (size_t)snprintf(out, 8, "\\x%02x", (unsigned char)s[0]);
    if (cp == '\r' || cp == '\n') {
        out[0] = '\\';
        out[1] = cp == '\r' ? 'r' : 'n';
        return 2;
    }
    if (cp < 0x80)
        return (size_t)snprintf(out, 8, "\\x%02lx", cp);
    return (size_t)snprintf(out, 8, "\\u%04lx", cp);
}

size_t pr_term_escape(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned long cp = 0;
        size_t len = pr_utf8_decode(s + i, n - i, &cp);
        char esc[8];
        const char *piece = s + i;
        size_t k = len;
        if (len == 0 || term_unsafe(cp)) {
            k = term_escape_one(s + i, len, cp, esc);
            piece = esc;
        }
        if (o + k >= cap)
            break;
        memcpy(out + o, piece, k);
        o += k;
        i += len ? len : 1;
    }
    out[o] = '\0';
    return i;
}

const char *pr_term_text(const char *s, char *buf, size_t cap)
{
    if (!s) {
        buf[0] = '\0';
        return buf;
    }
    size_t n = strlen(s);
    if (pr_term_escape(s, n, buf, cap) < n) {
        pr_term_escape(s, n, buf, cap - 3);
        strcat(buf, "...");
    }
    return buf;
}

int pr_errf(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

size_t pr_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

const char *pr_closest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    size_t wl = strlen(word);
    for (size_t i = 0; i < n; i++) {
        size_t d = pr_edit_distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    /* close enough: at most a third of the word, and something shared */
    size_t limit = wl / 3 + 1;
    if (limit > 4)
        limit = 4;
    return bestd <= limit && bestd < wl ? best : NULL;
}

long pr_json_nul_escape(const char *t, size_t n)
{
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '"') {
            in = !in;
        } else if (in && t[i] == '\\') {
            if (i + 5 < n && !memcmp(t + i + 1, "u0000", 5))
                return (long)i;
            i++;
        }
    }
    return -1;
}

int pr_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

double pr_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool pr_policy_tool_match(const char *pattern, const char *name,
                          const char *server)
{
    if (!strcmp(pattern, name) || (server && !strcmp(pattern, server)))
        return true;
    const char *dot = strchr(name, '.');
    return dot && !strchr(pattern, '.') &&
           strlen(pattern) == (size_t)(dot - name) &&
           !strncmp(pattern, name, (size_t)(dot - name));
}
