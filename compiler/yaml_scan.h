/* yaml_scan.h -- state shared by the YAML scanner, layout pass and parser
 *
 * grammar/yaml_scan.l cuts the text into raw tokens (byte ranges only);
 * compiler/yaml.c turns their columns into block structure tokens, the way
 * an indentation-sensitive scanner emits INDENT and DEDENT, and decodes
 * scalars; grammar/yaml_parse.y builds the node tree from those tokens.
 */
#ifndef POML_YAML_SCAN_H
#define POML_YAML_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "yaml.h"

/* A growing string for decoded scalars; OOM sticks until checked. */
struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
};

enum pcy_raw_type {
    R_EOF = 0,
    R_KEY_PLAIN,
    R_KEY_SQ,
    R_KEY_DQ, /* a scalar followed by ':' */
    R_PLAIN,
    R_SQ,
    R_DQ,
    R_DASH, /* "- " block sequence entry */
    R_LBRACK,
    R_RBRACK,
    R_LBRACE,
    R_RBRACE,
    R_COMMA,
    R_BLOCK, /* | or > with its content lines */
    R_DOCSTART,
    R_DOCEND,
    R_DIRECTIVE,
    R_ANCHOR,
    R_ALIAS,
    R_TAG,
    R_QUESTION,
    R_COLON,
    R_RESERVED,
    R_UNTERMINATED, /* quoted scalar without its end */
    R_BLOCKINFLOW,  /* | or > inside [ ] or { } */
    R_BADCHAR
};

struct pcy_raw {
    enum pcy_raw_type type;
    uint32_t off, len;
    uint32_t col;    /* bytes from the start of the line */
    bool line_start; /* first token on its line */
};

struct pcy_level {
    uint32_t col;
    bool seq;        /* block sequence, else block mapping */
    bool indentless; /* "key:\n- a" sequence at the key's column */
};

struct pcy_tok {
    int type; /* bison token */
    struct pc_node *node;
    uint32_t off, len;
};

struct pcy_state {
    struct pc_ctx *ctx;
    uint32_t file;
    const char *buf; /* the source text plus a final newline */
    uint32_t len;    /* length of the source proper */

    /* scanner bookkeeping, updated by grammar/yaml_scan.l */
    void *scanner;
    void *jmp;         /* jmp_buf flex's fatal errors return to */
    uint32_t off;      /* next byte to scan */
    uint32_t tok_off;  /* first byte of the current match */
    uint32_t line_off; /* first byte of the current line */
    bool at_line_start;
    int flow;  /* [ { nesting seen by the scanner */
    int lflow; /* ... and by the layout pass */
    bool tab_in_indent;
    uint32_t tab_off;
    int block_parent; /* indentation a block scalar must exceed */
    uint32_t blk_start;
    uint32_t blk_col;
    int blk_indent;   /* content indentation, -1 unknown */
    bool saw_comment; /* a comment since the last plain */
    bool blk_line_start;

    /* layout */
    struct pcy_level stack[PC_YAML_MAX_DEPTH + 1];
    int depth;
    struct pcy_tok queue[PC_YAML_MAX_DEPTH + 8];
    int qhead, qlen;
    bool after_dash;
    bool seen_content;
    bool seen_docstart;
    bool last_was_key;          /* the last token emitted was a KEY */
    struct pc_node *last_plain; /* plain scalar value that may continue */
    uint32_t last_plain_line;
    uint32_t line_no; /* counts newlines, for continuation */
    bool eof;
    unsigned layout_errors;
    unsigned fatal_errors; /* errors after which the tree lies */
    uint32_t flow_open[PC_YAML_MAX_DEPTH + 1]; /* where each [ { began */
    bool skip_colon;   /* after '? ': its ':' is no news */
    uint32_t dq_off, dq_end; /* the last double-quoted scalar spanning
                                lines, [off, end); end 0: none */
    struct sbuf plain; /* a plain scalar being continued */
    bool depth_reported;

    struct pc_node *root;
};

/* The raw scanner (grammar/yaml_scan.l). */
int pcyr_lex_raw(struct pcy_raw *tok, void *scanner);

/* Called by grammar/yaml_scan.l's actions. */
void pcy_newline(struct pcy_state *st);

/* Node constructors used by the parser's actions (compiler/yaml.c). */
struct pc_node *pcy_collection(struct pcy_state *st, enum pc_node_kind kind,
                               bool flow, uint32_t off, uint32_t end);
int pcy_seq_add(struct pcy_state *st, struct pc_node *seq,
                struct pc_node *item, size_t *cap);
int pcy_map_add(struct pcy_state *st, struct pc_node *map, struct pc_node *key,
                struct pc_node *value, size_t *cap);
struct pc_node *pcy_null(struct pcy_state *st, uint32_t off);
void pcy_extend(struct pc_node *n, uint32_t end);
void pcy_syntax_error(struct pcy_state *st, uint32_t off, uint32_t len,
                      const char *msg);

#endif
