/* template.h -- compiled prompt templates: encoding, checker, renderer
 *
 * pomlc compiles the Handlebars / Mustache body of a prompt file
 * (compiler/handlebars.c) into the code below; pomlrun renders it over JSON
 * values (template_render.c) without ever seeing the template text.  This
 * header is the specification of that code.  Like expression bytecode, a
 * template's code may come from a damaged or hostile plan: the checker
 * (template.c) proves it well formed, and the renderer checks again as it
 * goes, so bad code is an ordinary error, never a crash or a loop.
 *
 * ENCODING
 *
 * A template's code is a byte string of instructions that fill it exactly.
 * Each instruction is an opcode byte and its operands, unaligned; numbers
 * are little-endian.  Operand types:
 *
 *   text    u32 n, then n bytes (any bytes; not NUL terminated)
 *   name    u16 n (at least 1), then n bytes
 *   path    u8 flags, u8 up, u8 count, then count names
 *             flags 0x01 DATA: the first name is a data variable (@index,
 *                   @key, @first, @last, @root or one the caller gives);
 *                   0x02 ANCHORED: look in one context only (this, ./,
 *                   ../), not up the context stack
 *             up: context levels to climb first (the number of ../)
 *             count 0: the context itself (this, .)
 *   value   u8 kind, then by kind: 0 path, 1 text (a string literal),
 *           2 f64 (a finite number), 3 true, 4 false, 5 null,
 *           6 undefined (nothing)
 *   hash    u8 n, then n pairs of a name (the key) and a value
 *
 *   byte  name     operands
 *   0x01  text     text           append the bytes
 *   0x02  var      u8 flags, path append the value as text; flags 0x01
 *                                 RAW ({{{x}}}, {{& x}}): never escaped
 *   0x03  block    u8 kind, u8 argc, argc values, u32 body, u32 else
 *                                 the next BODY bytes are the block's
 *                                 body and the ELSE bytes after them its
 *                                 inverse ({{else}}); each is a sequence
 *                                 of instructions that fills it exactly
 *   0x04  partial  u32 template, u8 flags, text indent, [value], hash
 *                                 render template number TEMPLATE (of the
 *                                 set the renderer is given) here; flags
 *                                 0x01 CONTEXT: a value follows, the
 *                                 partial's context; 0x02 STANDALONE: the
 *                                 tag stood on a line of its own, so each
 *                                 line of the partial's text is prefixed
 *                                 with INDENT (after the indentation of
 *                                 the partial around it); the hash's pairs
 *                                 are added to the context
 *   0x05  helper   u8 helper, u8 argc, argc values, hash
 *                                 an inline helper
 *
 * Block kinds (argc): 0 section {{#x}} (1 path), 1 inverted {{^x}} (1
 * path), 2 if (1), 3 unless (1), 4 each (1), 5 with (1), 6 ifEquals (2),
 * 7 unlessEquals (2).  Helpers (argc): 0 role (1), 1 history (0),
 * 2 section (1), 3 json (1; hash: indent), 4 media (0; hash: url,
 * contentType).  PR_TPL_BLOCKS and PR_TPL_HELPERS below are the lists.
 *
 * Blocks nest at most PR_TPL_MAX_NEST deep.  Partials may refer to any
 * template of the set, themselves included: recursion is bounded at
 * render time (PR_TPL_MAX_PARTIALS levels), as are the work done and the
 * output's size, so no code renders forever.
 *
 * SEMANTICS (see poml(5), TEMPLATES)
 *
 * Falsy values: missing, null, false, 0, "" and []; every other value,
 * {} included, is truthy.  A name is looked up in the innermost context,
 * then outward (Mustache); a dotted name resolves its first part that way
 * and the rest inside it.  Text of a value: strings as they are, numbers
 * in their shortest form, true / false, null and missing as nothing, lists
 * and objects as compact JSON.
 */
#ifndef POML_TEMPLATE_H
#define POML_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "buf.h"

#define PR_TPL_MAX_NEST 64     /* blocks inside blocks */
#define PR_TPL_MAX_PARTIALS 64 /* partials inside partials, rendering */

/* The one list of opcodes: X(ENUM, byte, "name"). */
#define PR_TPL_OPS(X)                                                         \
    X(TEXT, 0x01, "text")                                                     \
    X(VAR, 0x02, "var")                                                       \
    X(BLOCK, 0x03, "block")                                                   \
    X(PARTIAL, 0x04, "partial")                                               \
    X(HELPER, 0x05, "helper")

enum pr_tpl_op {
#define PR_X(id, byte, name) PR_TOP_##id = byte,
    PR_TPL_OPS(PR_X)
#undef PR_X
};

/* Block kinds: X(ENUM, number, "name", argc). */
#define PR_TPL_BLOCKS(X)                                                      \
    X(SECTION, 0, "section", 1)                                               \
    X(INVERTED, 1, "inverted", 1)                                             \
    X(IF, 2, "if", 1)                                                         \
    X(UNLESS, 3, "unless", 1)                                                 \
    X(EACH, 4, "each", 1)                                                     \
    X(WITH, 5, "with", 1)                                                     \
    X(IFEQUALS, 6, "ifEquals", 2)                                             \
    X(UNLESSEQUALS, 7, "unlessEquals", 2)

enum pr_tpl_block {
#define PR_X(id, num, name, argc) PR_TB_##id = num,
    PR_TPL_BLOCKS(PR_X)
#undef PR_X
        PR_TB_COUNT
};

/* Inline helpers: X(ENUM, number, "name", argc). */
#define PR_TPL_HELPERS(X)                                                     \
    X(ROLE, 0, "role", 1)                                                     \
    X(HISTORY, 1, "history", 0)                                               \
    X(SECTION, 2, "section", 1)                                               \
    X(JSON, 3, "json", 1)                                                     \
    X(MEDIA, 4, "media", 0)

enum pr_tpl_helper {
#define PR_X(id, num, name, argc) PR_TH_##id = num,
    PR_TPL_HELPERS(PR_X)
#undef PR_X
        PR_TH_COUNT
};

/* Value kinds and path flags. */
enum pr_tpl_arg {
    PR_TA_PATH,
    PR_TA_TEXT,
    PR_TA_NUMBER,
    PR_TA_TRUE,
    PR_TA_FALSE,
    PR_TA_NULL,
    PR_TA_UNDEFINED,
    PR_TA_KINDS
};
#define PR_TPATH_DATA 0x01
#define PR_TPATH_ANCHORED 0x02
#define PR_TVAR_RAW 0x01
#define PR_TPART_CONTEXT 0x01
#define PR_TPART_STANDALONE 0x02

/* Names; NULL outside the lists.  Argument counts: -1 outside. */
const char *pr_tpl_op_name(unsigned op);
const char *pr_tpl_block_name(unsigned kind);
int pr_tpl_block_argc(unsigned kind);
const char *pr_tpl_helper_name(unsigned helper);
int pr_tpl_helper_argc(unsigned helper);
/* The block kind or helper of a name, or -1. */
int pr_tpl_block_lookup(const char *name, size_t len);
int pr_tpl_helper_lookup(const char *name, size_t len);

/* ---- decoding, shared by the checker, the disassembler and the
 * renderer: each call checks that what it reads lies inside the code ---- */

/* One instruction.  For a block, BODY is the offset of its body, ELSE_AT
 * of its inverse and NEXT of what follows both. */
struct pr_tpl_insn {
    unsigned op;
    size_t at, next;
    unsigned a;         /* var: flags; block: kind; helper: id */
    unsigned argc;      /* block, helper */
    size_t args;        /* block, helper: the first value;
                           partial: the context value */
    size_t hash;        /* partial, helper: the hash */
    const uint8_t *str; /* text: its bytes; partial: the indent */
    uint32_t n;
    size_t path;          /* var */
    size_t body, else_at; /* block */
    uint32_t target;      /* partial */
    unsigned flags;       /* partial */
};

/* A decoded value; a path's names start at NAMES. */
struct pr_tpl_val {
    unsigned kind; /* enum pr_tpl_arg */
    double num;
    const uint8_t *str; /* text */
    uint32_t n;
    unsigned flags, up, count; /* path */
    size_t names;
};

/* Decodes the instruction at AT (< LEN); 0, or -1 with *WHY set. */
int pr_tpl_decode(const uint8_t *code, size_t len, size_t at,
                  struct pr_tpl_insn *in, const char **why);
/* Decodes the value at *AT and moves *AT past it; 0 or -1 (*WHY). */
int pr_tpl_value(const uint8_t *code, size_t len, size_t *at,
                 struct pr_tpl_val *v, const char **why);
/* Reads the name at *AT and moves past it; 0 or -1 (*WHY). */
int pr_tpl_name(const uint8_t *code, size_t len, size_t *at, const uint8_t **s,
                size_t *n, const char **why);

/* Checks CODE (LEN bytes) once and for all: every opcode, operand and
 * length inside its range, block bodies filling their bytes, kinds and
 * argument counts known, numbers finite, nesting at most PR_TPL_MAX_NEST,
 * partial numbers below NTEMPLATES.  0, or -1 with "at byte N: what" in
 * ERR. */
int pr_tpl_verify(const uint8_t *code, size_t len, uint32_t ntemplates,
                  char *err, size_t errcap);

/* Prints the code, one instruction a line, blocks indented, to OUT.
 * Returns 0, or -1 after a line saying where the code is malformed. */
int pr_tpl_disasm(const uint8_t *code, size_t len, FILE *out);

/* ---- rendering ---- */

/* The templates partial instructions name: template I's code, 0; or -1
 * when there is no template I. */
struct pr_tpl_set {
    int (*get)(void *ud, uint32_t i, const uint8_t **code, size_t *len);
    void *ud;
};

struct pr_tpl_opts {
    bool escape_html;       /* escape & < > " in {{x}} (Mustache);
                               prompts leave text as it is */
    const cJSON *data;      /* object: more @variables, or NULL */
    size_t max_output;      /* bytes; 0: PR_TPL_MAX_OUTPUT */
    unsigned long max_work; /* instructions run; 0: PR_TPL_MAX_WORK */
};

#define PR_TPL_MAX_OUTPUT ((size_t)64 << 20)
#define PR_TPL_MAX_WORK 50000000ul

/* What rendering produces: text with markers where role, history, media
 * and section helpers ran, in order. */
enum pr_tpl_mark { PR_TM_ROLE, PR_TM_HISTORY, PR_TM_MEDIA, PR_TM_SECTION };

struct pr_tpl_marker {
    enum pr_tpl_mark kind;
    size_t at;   /* offset in the text */
    char *a, *b; /* role / section name; media url and
                    content type (b may be NULL) */
};

struct pr_tpl_out {
    struct pr_buf text; /* not NUL terminated; see pr_tpl_text */
    struct pr_tpl_marker *marks;
    size_t nmarks, capmarks;
};

void pr_tpl_out_init(struct pr_tpl_out *o);
void pr_tpl_out_free(struct pr_tpl_out *o);

/* Renders CODE over CONTEXT (any JSON value, borrowed; NULL: an empty
 * object) into OUT (initialised by the caller, appended to).  Partials
 * come from SET (may be NULL: then none exist).  0, or -1 with a message
 * in ERR: malformed code, a partial that does not exist, recursion, work
 * or output past the limits, a helper given the wrong kind of value. */
int pr_tpl_render(const uint8_t *code, size_t len,
                  const struct pr_tpl_set *set, const cJSON *context,
                  const struct pr_tpl_opts *opts, struct pr_tpl_out *out,
                  char *err, size_t errcap);

/* The rendered text alone, markers dropped: malloc'd, NUL terminated,
 * its length in *LEN (may be NULL); NULL when out of memory. */
char *pr_tpl_text(const struct pr_tpl_out *o, size_t *len);

/* The rendered text as a list of messages, as Dotprompt splits it:
 *   [{"role": R, "content": [PART...], "metadata"?: {...}}...]
 * where a part is {"text": T}, {"media": {"url": U, "contentType"?: C}}
 * or {"metadata": {"purpose": NAME, "pending": true}} (a section).  A role
 * marker starts a message of that role (the first is "user"); history
 * inserts HISTORY's messages (an array, borrowed, may be NULL) with
 * metadata purpose "history", and what follows is a "model" message until
 * the next role; text that is only white space between markers is
 * dropped.  Without a history marker, HISTORY goes before the last
 * message when that is a user message, else at the end.  NULL when out
 * of memory. */
cJSON *pr_tpl_messages(const struct pr_tpl_out *o, const cJSON *history);

#endif
