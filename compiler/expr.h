/* expr.h -- the POML expression language: syntax tree and parsing
 *
 * Expressions appear inside ${...} in string values and bare in conditions.
 * grammar/expr_scan.l and grammar/expr_parse.y only tokenize and parse; the
 * constructors they call, the checks and every message live in expr.c.
 *
 * Syntax, loosest binding first; binary operators are left associative:
 *
 *   a || b   a OR b            a && b   a AND b
 *   a == b   a != b            a < b   a <= b   a > b   a >= b   a in b
 *   a + b   a - b              a * b   a / b   a % b
 *   !a   NOT a   -a            a.name   a[expr]   f(args)
 *   "str"  'str'  12  -3.5e2  true  false  null  [a, b]  (a)  path
 *
 * Strings take the escapes \" \' \\ \/ \n \t \r and \uXXXX (UTF-16
 * surrogate pairs combine; \u0000 is refused).  A path is an identifier
 * followed by .name parts; its root is params, steps, item, index or a bare
 * name resolved later.  Identifiers match [A-Za-z_][A-Za-z0-9_-]*, but a
 * hyphen belongs to an identifier only when an identifier character follows
 * it directly: step ids like fetch-data read as one name, so subtraction of
 * two names needs a space (a - b; a-b is one name).  AND, OR and NOT are
 * keywords only in upper case; in, true, false and null are keywords too,
 * and all of them may still be used as member names after a dot.
 *
 * Functions: len(x), contains(hay, needle), startsWith(s, prefix),
 * endsWith(s, suffix), join(list, sep), default(x, fallback), lower(s),
 * upper(s); their names and arities come from runtime/bytecode.h.
 */
#ifndef POML_EXPR_H
#define POML_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "bytecode.h"
#include "diag.h"
#include "yaml.h"

/* Parentheses, brackets, calls and unary operators may nest this deep. */
#define PC_EXPR_MAX_NEST 64
/* The syntax tree may be this tall (long operator chains). */
#define PC_EXPR_MAX_HEIGHT 512

/* What the root of a path names, decided by the analyser (analyze.c) and
 * written by the emitter as it was decided. */
enum pc_ref {
    PC_REF_NONE,   /* not resolved (yet): the emitter refuses */
    PC_REF_PARAMS, /* a parameter: params root */
    PC_REF_STEP,   /* a step: ref_step */
    PC_REF_ITEM,   /* the for_each element */
    PC_REF_INDEX   /* its position */
};

enum pc_expr_kind {
    PC_E_NULL,
    PC_E_BOOL,   /* b */
    PC_E_NUM,    /* num (a leading '-' is folded in) */
    PC_E_STR,    /* str, len: decoded, NUL terminated */
    PC_E_LIST,   /* args, nargs: the elements */
    PC_E_PATH,   /* seg, segloc, nseg */
    PC_E_INDEX,  /* args[0][args[1]] */
    PC_E_MEMBER, /* args[0].str (base is not a path) */
    PC_E_UNARY,  /* op (PR_OP_NOT, PR_OP_NEG) args[0] */
    PC_E_BINARY, /* args[0] op args[1]; op is an enum pr_op:
                    MUL DIV MOD ADD SUB LT LE GT GE EQ NE IN
                    AND OR */
    PC_E_CALL    /* op (enum pr_func), str: name, args */
};

struct pc_expr {
    enum pc_expr_kind kind;
    int op;
    struct pc_loc loc; /* the whole expression in the source */
    bool b;
    double num;
    const char *str;
    size_t len;
    /* PATH: segments (root identifier first, then names) */
    const char **seg;
    struct pc_loc *segloc;
    size_t nseg;
    /* PATH, set by pc_expr_resolve: what the root names, the step (its
       index among the workflow's steps) and the first segment read as a
       member of it */
    enum pc_ref ref;
    uint32_t ref_step;
    size_t ref_member;
    struct pc_expr **args;
    size_t nargs;
    /* bookkeeping of the parser: tree height and evaluation stack slots
       the expression needs (bounded so walkers and pr_eval stay safe) */
    unsigned height, need;
};

/* Parses TEXT[0..len) which lies inside scalar node NODE at byte offset OFF
 * of the scalar's decoded text.  Diagnostics (PC_D_EXPR) go to CTX with
 * locations mapped through pc_node_subloc(node, off + i, n).  All memory
 * comes from ctx->arena.  Returns 0 and *OUT, or -1 after reporting. */
int pc_expr_parse(struct pc_ctx *ctx, const struct pc_node *node, size_t off,
                  size_t len, struct pc_expr **out);

/* An interpolated string: literal text and ${...} expressions in order.
 * `$${` is a literal `${`; an unterminated `${` is an error; a '}' inside a
 * quoted string literal does not end the expression.  A scalar that is
 * exactly one ${...} is "pure": its value keeps the expression's type.
 * For literal parts expr is NULL and text/len the decoded text; for
 * expression parts text/len is the expression's source between ${ and }. */
struct pc_interp {
    struct pc_interp_part {
        const char *text;
        size_t len;
        struct pc_expr *expr;
    } * parts;
    size_t nparts;
    bool pure;
};

/* Splits scalar NODE's text.  Every ${...} is parsed, even after an error,
 * so all problems are reported.  Returns 0 and *OUT, or -1. */
int pc_interp_parse(struct pc_ctx *ctx, const struct pc_node *node,
                    struct pc_interp **out);

/* A condition: a value that is one ${...} or a bare expression (surrounding
 * white space ignored).  Returns 0 and *OUT, or -1 after reporting. */
int pc_cond_parse(struct pc_ctx *ctx, const struct pc_node *node,
                  struct pc_expr **out);

/* Records what path P's root names: REF, the step STEP for PC_REF_STEP,
 * and MEMBER, the first of P's segments that reads a member of it. */
void pc_expr_resolve(struct pc_expr *p, enum pc_ref ref, uint32_t step,
                     size_t member);

/* Calls FN for every PC_E_PATH in E, in source order. */
void pc_expr_walk_paths(struct pc_expr *e,
                        void (*fn)(void *ud, struct pc_expr *path), void *ud);

/* True when E contains no path at all. */
bool pc_expr_is_constant(const struct pc_expr *e);

/* Canonical text of E: operators in their symbolic form (&& || !), one
 * space around binary operators, parentheses only where needed, strings in
 * double quotes with JSON escapes, numbers as pr_format_number prints
 * them.  Writes at most CAP bytes including the NUL; returns the full
 * length like snprintf. */
int pc_expr_print(const struct pc_expr *e, char *buf, size_t cap);

/* The symbol pc_expr_print writes for binary or unary operator OP. */
const char *pc_expr_op_symbol(int op);

/* What pc_expr_emit needs of the plan it writes into.  INTERN returns the
 * string-table index of S[0..n), or UINT32_MAX when out of memory; STEP
 * the index in the plan's STEPS of the workflow's step STEP. */
struct pc_expr_sink {
    uint32_t (*intern)(void *ud, const char *s, size_t n);
    uint32_t (*step)(void *ud, uint32_t step);
    void *ud;
};

/* Appends E's bytecode (runtime/bytecode.h), ending with END, to OUT.
 * Jump targets count from the byte OUT held when the call began.  Every
 * path must have been resolved (pc_expr_resolve).  Returns 0, or -1 when
 * out of memory, past an encoding limit or at a path not resolved (never
 * for an expression pc_analyze accepted). */
int pc_expr_emit(const struct pc_expr *e, struct pr_buf *out,
                 const struct pc_expr_sink *sink);

/* ---- for grammar/expr_parse.y and grammar/expr_scan.l only ---- */

/* A byte range [beg, end) in the expression's text. */
struct pc_span {
    size_t beg, end;
};

struct pc_expr_parser {
    struct pc_ctx *ctx;
    const struct pc_node *node;
    size_t off; /* of the text in the scalar */
    const char *text;
    size_t len;
    size_t pos;  /* scanner: offset of the next byte */
    int nest;    /* open brackets and unary operators */
    bool failed; /* a diagnostic was reported */
    void *jmp;   /* scanner: jmp_buf for fatal errors */
    struct pc_expr *result;
};

/* Growing argument or element list. */
struct pc_expr_list {
    struct pc_expr **v;
    size_t n, cap;
    unsigned height, need;
};

/* Token classes and expected-token sets for syntax errors. */
enum pc_expr_tok {
    PC_TOK_END,          /* end of the text */
    PC_TOK_STRING,       /* a string literal */
    PC_TOK_BAD,          /* a character that starts no token */
    PC_TOK_UNTERMINATED, /* a string literal without its end */
    PC_TOK_OTHER
};

enum {
    PC_WANT_OPERAND = 1,
    PC_WANT_NAME = 2,
    PC_WANT_RPAREN = 4,
    PC_WANT_RBRACK = 8,
    PC_WANT_COMMA = 16
};

/* Runs the scanner and parser over p->text; 0 or nonzero (pcx_parse). */
int pcx_run(struct pc_expr_parser *p);

/* Constructors return NULL after reporting a problem (or running out of
 * memory); the parser then stops. */
struct pc_expr *pc_expr_null(struct pc_expr_parser *p, struct pc_span s);
struct pc_expr *pc_expr_bool(struct pc_expr_parser *p, bool b,
                             struct pc_span s);
struct pc_expr *pc_expr_number(struct pc_expr_parser *p, struct pc_span s);
struct pc_expr *pc_expr_string(struct pc_expr_parser *p, struct pc_span s);
struct pc_expr *pc_expr_path(struct pc_expr_parser *p, struct pc_span s);
struct pc_expr *pc_expr_member(struct pc_expr_parser *p, struct pc_expr *base,
                               struct pc_span name, struct pc_span s);
struct pc_expr *pc_expr_index(struct pc_expr_parser *p, struct pc_expr *base,
                              struct pc_expr *index, struct pc_span s);
struct pc_expr *pc_expr_unary(struct pc_expr_parser *p, int op,
                              struct pc_expr *e, struct pc_span s);
struct pc_expr *pc_expr_binary(struct pc_expr_parser *p, int op,
                               struct pc_expr *l, struct pc_expr *r,
                               struct pc_span s);
struct pc_expr *pc_expr_list(struct pc_expr_parser *p,
                             struct pc_expr_list *items, struct pc_span s);
struct pc_expr *pc_expr_call(struct pc_expr_parser *p, struct pc_span name,
                             struct pc_expr_list *args, struct pc_span s);
/* Appends E to L (NULL: a new list). */
struct pc_expr_list *pc_expr_list_add(struct pc_expr_parser *p,
                                      struct pc_expr_list *l,
                                      struct pc_expr *e);
/* An opening bracket or unary operator at S: -1 when too deep. */
int pc_expr_enter(struct pc_expr_parser *p, struct pc_span s);
void pc_expr_leave(struct pc_expr_parser *p);
void pc_expr_syntax_error(struct pc_expr_parser *p, struct pc_span s,
                          enum pc_expr_tok tok, unsigned want);
/* Bison's own failures ("memory exhausted"). */
void pc_expr_parser_error(struct pc_expr_parser *p, struct pc_span s,
                          const char *msg);

#endif
