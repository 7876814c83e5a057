/* source.h -- source files, byte-range locations and the line map
 *
 * A location is a byte range in one source; line and column are computed
 * only when a message is printed.  Columns count characters (UTF-8 code
 * points), starting at 1, as GCC does with -fdiagnostics-column-unit=display.
 */
#ifndef POML_SOURCE_H
#define POML_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

struct pc_loc {
    uint32_t file; /* index into the context's sources, 0 none */
    uint32_t off;  /* byte offset of the first byte */
    uint32_t len;  /* bytes covered, at least 1 when printed */
};

struct pc_source {
    const char *path; /* as given on the command line */
    const char *text; /* NUL terminated, CRLF kept, BOM kept */
    size_t len;
    uint32_t *lines; /* byte offset of each line start */
    size_t nlines;
    struct pr_arena *arena; /* where the line map is built */
};

/* Reads a whole file into the arena.  Returns NULL with errno set. */
struct pc_source *pc_source_read(struct pr_arena *a, const char *path);
struct pc_source *pc_source_from_mem(struct pr_arena *a, const char *path,
                                     const char *text, size_t len);

/* Builds the line map the two functions below use, when not yet built.
 * 0, or -1 when out of memory: they would then say line 1, column 1. */
int pc_source_map_lines(struct pc_source *s);

/* 1-based line and column (in code points) of a byte offset. */
void pc_source_linecol(struct pc_source *s, uint32_t off, unsigned *line,
                       unsigned *col);

/* The text of line LINE (1-based) without its terminator. */
const char *pc_source_line(struct pc_source *s, unsigned line, size_t *len);

#endif
