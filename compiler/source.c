/* source.c -- source files and the line map
 *
 * Files are read whole into the compilation arena.  The line map is built on
 * the first request for a line or column, so clean compiles never pay for it.
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pc_source *pc_source_from_mem(struct pr_arena *a, const char *path,
                                     const char *text, size_t len)
{
    struct pc_source *s = pr_arena_alloc(a, sizeof *s);
    if (!s)
        return NULL;
    s->path = pr_arena_strdup(a, path);
    s->text = pr_arena_strndup(a, text, len);
    if (!s->path || !s->text)
        return NULL;
    s->len = len;
    s->arena = a;
    return s;
}

struct pc_source *pc_source_read(struct pr_arena *a, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        errno = ENOMEM;
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            if (cap > (size_t)1 << 30) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    struct pc_source *s = pc_source_from_mem(a, path, buf, n);
    free(buf);
    if (!s)
        errno = ENOMEM;
    return s;
}

static int build_lines(struct pc_source *s)
{
    size_t n = 1;
    for (size_t i = 0; i < s->len; i++)
        if (s->text[i] == '\n')
            n++;
    s->lines = pr_arena_alloc(s->arena, n * sizeof *s->lines);
    if (!s->lines)
        return -1;
    size_t k = 0;
    s->lines[k++] = 0;
    for (size_t i = 0; i < s->len; i++)
        if (s->text[i] == '\n')
            s->lines[k++] = (uint32_t)(i + 1);
    s->nlines = n;
    return 0;
}

int pc_source_map_lines(struct pc_source *s)
{
    return s->lines ? 0 : build_lines(s);
}

void pc_source_linecol(struct pc_source *s, uint32_t off, unsigned *line,
                       unsigned *col)
{
    *line = 1;
    *col = 1;
    if (!s->lines && build_lines(s) < 0)
        return;
    if (off > s->len)
        off = (uint32_t)s->len;
    size_t lo = 0, hi = s->nlines;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    *line = (unsigned)lo + 1;
    unsigned c = 1;
    for (uint32_t i = s->lines[lo]; i < off; i++)
        if (((unsigned char)s->text[i] & 0xC0) != 0x80)
            c++;
    /* a BOM at the very start does not count as a column */
    if (lo == 0 && s->len >= 3 && memcmp(s->text, "\xEF\xBB\xBF", 3) == 0 &&
        off >= 3)
        c--;
    *col = c;
}

const char *pc_source_line(struct pc_source *s, unsigned line, size_t *len)
{
    *len = 0;
    if (!s->lines && build_lines(s) < 0)
        return "";
    if (line == 0 || line > s->nlines)
        return "";
    size_t start = s->lines[line - 1];
    size_t end = start;
    while (end < s->len && s->text[end] != '\n')
        end++;
    if (end > start && s->text[end - 1] == '\r')
        end--;
    if (line == 1 && end - start >= 3 &&
        memcmp(s->text, "\xEF\xBB\xBF", 3) == 0)
        start += 3;
    *len = end - start;
    return s->text + start;
}
