/* util.h -- small helpers both programs share: little-endian bytes, UTF-8,
 * hex digits, error messages, "did you mean" and text safe for a terminal
 *
 * Everything that reads a plan, writes one, decodes escapes or suggests a
 * name goes through these, so each rule is written once.
 */
#ifndef POML_UTIL_H
#define POML_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Little-endian reads and writes of possibly unaligned bytes. */
static inline uint16_t pr_rd_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}
static inline uint32_t pr_rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t pr_rd_u64(const uint8_t *p)
{
    return (uint64_t)pr_rd_u32(p) | (uint64_t)pr_rd_u32(p + 4) << 32;
}
static inline double pr_rd_f64(const uint8_t *p)
{
    uint64_t v = pr_rd_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}
static inline void pr_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void pr_put_u64(uint8_t *p, uint64_t v)
{
    pr_put_u32(p, (uint32_t)v);
    pr_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline void pr_put_f64(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    pr_put_u64(p, v);
}

/* The ending of a regular plural noun counted N: "" for one, "s" for any
 * other count ("%u step%s", n, pr_plural(n)); every count printed with a
 * noun goes through it. */
static inline const char *pr_plural(unsigned long long n)
{
    return n == 1 ? "" : "s";
}

/* The value of a hex digit, or -1. */
int pr_hexval(char c);

/* Encodes code point CP (at most 0x10FFFF) as UTF-8 into OUT; returns the
 * number of bytes, 1 to 4. */
size_t pr_utf8_put(char out[4], unsigned long cp);

/* The length (1 to 4) of the well-formed UTF-8 sequence at S (N bytes
 * available, N > 0), its code point in *CP when CP is not NULL; 0 when
 * S starts no such sequence (a stray continuation byte, an overlong
 * form, a surrogate, past U+10FFFF, cut short).  NUL is a sequence of
 * one byte.  The one UTF-8 check of both programs. */
size_t pr_utf8_decode(const char *s, size_t n, unsigned long *cp);

/* Text pomlrun did not write (step names, reasons, server messages, step
 * output) on its way to a terminal or a log: a control character there
 * could move the cursor, recolour or erase the screen, or start a line
 * that looks like pomlrun's own ("\rpomlrun: ... succeeded").  Escaped:
 * CR and LF as \r and \n, every other C0 control but TAB and DEL as
 * \xHH, C1 controls (U+0080..U+009F) and the line separators and
 * bidirectional overrides (U+2028, U+2029, U+202A..U+202E,
 * U+2066..U+2069) as \uHHHH, and each byte of invalid UTF-8 as \xHH.
 * TAB, which only moves the cursor forward, and every other character
 * pass as they are.  --json and --events carry the exact text.
 *
 * Writes the escaped form of a prefix of S[0..N) into OUT (CAP >= 8
 * bytes; always NUL-terminated) and returns how many bytes of S it
 * covers: less than N when OUT is full (call again with the rest). */
size_t pr_term_escape(const char *s, size_t n, char *out, size_t cap);

/* The NUL-terminated S escaped as by pr_term_escape into BUF (CAP >= 8),
 * cut with "..." when it does not fit; "" for NULL.  Returns BUF, so a
 * call wraps a printf argument. */
const char *pr_term_text(const char *s, char *buf, size_t cap);

/* Formats into ERR (when ERR and CAP allow) and returns -1: the one way
 * library code reports a failure with a message. */
int pr_errf(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Levenshtein distance of two short strings; (size_t)-1 past 64 bytes. */
size_t pr_edit_distance(const char *a, const char *b);

/* The candidate closest to WORD, when close enough to be what was meant
 * ("did you mean"), else NULL. */
const char *pr_closest(const char *word, const char *const *cands, size_t n);

/* Makes *P (an array of SIZE-byte items, *CAP allocated) hold at least
 * NEED items, doubling from 8.  0, or -1 (out of memory; *P unchanged). */
int pr_grow(void **p, size_t *cap, size_t need, size_t size);

/* The offset of the first escape \u0000 inside a JSON string in TEXT,
 * or -1.  cJSON would cut a string there. */
long pr_json_nul_escape(const char *text, size_t n);

/* The wall clock: seconds since the epoch, for times people read
 * (started_at, timestamps).  Durations and deadlines use the monotonic
 * clock, pr_loop_now (exec/loop.h): one function per clock. */
double pr_wall_now(void);

/* policy.allowed_tools entry PATTERN allows tool NAME of server SERVER
 * (may be NULL): PATTERN is NAME, or names the server, as SERVER or as
 * the part of a SERVER.TOOL name before the dot. */
bool pr_policy_tool_match(const char *pattern, const char *name,
                          const char *server);

#endif
