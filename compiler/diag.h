/* diag.h -- diagnostics: GCC-style text or JSON, named checks, -W options
 *
 * Every check has a stable name from diagnostics.def.  Diagnostics are
 * collected during a compilation and printed in source order at the end, so
 * a file's errors come out together however many passes found them.
 */
#ifndef POML_DIAG_H
#define POML_DIAG_H

#include <stdbool.h>
#include <stdio.h>

#include "arena.h"
#include "source.h"

enum pc_diag_id {
#define PC_DIAG(id, name, def) PC_D_##id,
#include "diagnostics.def"
#undef PC_DIAG
    PC_D_COUNT
};

enum pc_severity { PC_SEV_NOTE, PC_SEV_WARNING, PC_SEV_ERROR };

enum pc_diag_format { PC_DIAG_TEXT, PC_DIAG_JSON };

struct pc_note {
    struct pc_loc loc; /* file 0: a note without location */
    const char *msg;
    struct pc_note *next;
};

struct pc_diag {
    enum pc_diag_id id;
    enum pc_severity sev;
    struct pc_loc loc;
    const char *msg;
    struct pc_note *notes;
    unsigned seq; /* emission order, for a stable sort */
};

struct pc_diag_opts {
    unsigned char state[PC_D_COUNT]; /* 0 off, 1 warning, 2 error */
    bool werror_all;
    bool color;
    enum pc_diag_format format;
    unsigned max_errors; /* 0: no limit */
};

struct pc_ctx {
    struct pr_arena arena;
    struct pc_source **sources; /* [0] unused so loc.file 0 means none */
    size_t nsources, capsources;
    struct pc_diag *diags;
    size_t ndiags, capdiags;
    unsigned nerrors, nwarnings;
    struct pc_diag_opts opts;
    bool oom; /* an allocation failed; message printed */
};

void pc_ctx_init(struct pc_ctx *c);
void pc_ctx_free(struct pc_ctx *c);

/* Registers a source; returns its index for pc_loc.file (0 on failure). */
uint32_t pc_ctx_add_source(struct pc_ctx *c, struct pc_source *s);
struct pc_source *pc_ctx_source(struct pc_ctx *c, uint32_t file);

/* pc_source_read into A, with out of memory remembered in C (the caller
 * reports any other failure: errno says which). */
struct pc_source *pc_ctx_read_source(struct pc_ctx *c, struct pr_arena *a,
                                     const char *path);

/* Default states from diagnostics.def. */
void pc_diag_opts_default(struct pc_diag_opts *o);

/* Applies "-W<arg>" (arg is what follows -W).  Returns 0, or -1 with a
 * message in *err (static or arena storage). */
int pc_diag_option(struct pc_ctx *c, const char *arg, const char **err);

const char *pc_diag_name(enum pc_diag_id id);
bool pc_diag_is_hard_error(enum pc_diag_id id);

/* Reports a check at LOC.  Returns the diagnostic (to attach notes) or NULL
 * when the check is disabled or memory has run out. */
struct pc_diag *pc_report(struct pc_ctx *c, enum pc_diag_id id,
                          struct pc_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pc_note(struct pc_ctx *c, struct pc_diag *d, struct pc_loc loc,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Out of memory: remembered once, reported by pc_diag_flush.  What is
 * reported after it is dropped: a pass that lost an allocation may well
 * report what it did not see ("unexpected end of the block"). */
void pc_oom(struct pc_ctx *c);

/* Sorts by file and position and prints everything collected so far, then
 * forgets it.  Text goes to OUT (stderr normally).  After out of memory,
 * "pomlc: error: out of memory" goes to stderr whatever OUT is, and a JSON
 * array on OUT ends with that error too. */
void pc_diag_flush(struct pc_ctx *c, FILE *out);

/* "did you mean": the candidate closest to WORD by edit distance, or NULL
 * when none is close enough. */
const char *pc_closest(const char *word, const char *const *cands, size_t n);

#endif
