/* yaml.c -- the YAML subset: layout pass, scalar decoding, node tree
 *
 * grammar/yaml_scan.l hands over raw tokens with their columns; the layout
 * pass here keeps the stack of open block collections and emits BMAP /
 * BSEQ / BEND tokens for grammar/yaml_parse.y, the way an
 * indentation-sensitive scanner emits INDENT and DEDENT.  It also decodes
 * scalars, reports what the subset does not support, and answers questions
 * about scalars for later passes.
 */
#include "yaml.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_scan.h"
#include "yaml_parse.h"
#include "util.h"

/* ---- small helpers ---- */

static struct pc_loc at(struct pcy_state *st, uint32_t off, uint32_t len)
{
    struct pc_loc l = {st->file, off, len};
    return l;
}

/* An error at OFF on the line where a double-quoted string spanning lines
 * ended: the string most likely lacks its closing quote and swallowed the
 * lines after it, so say where it began. */
static void note_runaway_string(struct pcy_state *st, struct pc_diag *d,
                                uint32_t off)
{
    if (!d || !st->dq_end || off < st->dq_end ||
        memchr(st->buf + st->dq_end, '\n', off - st->dq_end))
        return;
    unsigned line, col;
    pc_source_linecol(pc_ctx_source(st->ctx, st->file), st->dq_end - 1,
                      &line, &col);
    pc_note(st->ctx, d, at(st, st->dq_off, 1),
            "a quoted string that starts here runs on to line %u", line);
}

static void layout_error(struct pcy_state *st, enum pc_diag_id id,
                         uint32_t off, uint32_t len, const char *msg)
{
    st->layout_errors++;
    /* after these the tree no longer says what the author meant */
    if (id != PC_D_DUPLICATE_KEY)
        st->fatal_errors++;
    note_runaway_string(st, pc_report(st->ctx, id, at(st, off, len), "%s", msg),
                        off);
}

/* An error in the block structure: after an earlier fatal error (a tab
 * in the indentation, say) it is most likely an echo of it. */
static void structure_error(struct pcy_state *st, uint32_t off, uint32_t len,
                            const char *msg)
{
    if (st->fatal_errors) {
        st->layout_errors++;
        st->fatal_errors++;
        return;
    }
    layout_error(st, PC_D_SYNTAX, off, len, msg);
}

void pcy_syntax_error(struct pcy_state *st, uint32_t off, uint32_t len,
                      const char *msg)
{
    /* after a layout error the parser's complaint is usually its echo */
    if (st->layout_errors == 0)
        note_runaway_string(
            st, pc_report(st->ctx, PC_D_SYNTAX, at(st, off, len), "%s", msg),
            off);
    st->layout_errors++;
    st->fatal_errors++;
}

static void plain_flush(struct pcy_state *st);

void pcy_newline(struct pcy_state *st)
{
    st->line_off = st->off;
    st->at_line_start = true;
    st->tab_in_indent = false;
    st->line_no++;
}

static struct pc_node *new_node(struct pcy_state *st, enum pc_node_kind k,
                                uint32_t off, uint32_t len)
{
    struct pc_node *n = pr_arena_alloc(&st->ctx->arena, sizeof *n);
    if (!n) {
        pc_oom(st->ctx);
        return NULL;
    }
    n->kind = k;
    n->loc = at(st, off, len);
    return n;
}

struct pc_node *pcy_null(struct pcy_state *st, uint32_t off)
{
    struct pc_node *n = new_node(st, PC_NODE_NULL, off, 0);
    if (n)
        n->str = "";
    return n;
}

struct pc_node *pcy_collection(struct pcy_state *st, enum pc_node_kind kind,
                               bool flow, uint32_t off, uint32_t end)
{
    struct pc_node *n = new_node(st, kind, off, end > off ? end - off : 0);
    if (n)
        n->flow = flow;
    return n;
}

void pcy_extend(struct pc_node *n, uint32_t end)
{
    if (n && end > n->loc.off)
        n->loc.len = end - n->loc.off;
}

int pcy_seq_add(struct pcy_state *st, struct pc_node *seq,
                struct pc_node *item, size_t *cap)
{
    if (!item)
        return -1;
    struct pc_node **slot = PR_PUSH(&st->ctx->arena, seq->items, seq->len,
                                    *cap);
    if (!slot) {
        pc_oom(st->ctx);
        return -1;
    }
    *slot = item;
    return 0;
}

int pcy_map_add(struct pcy_state *st, struct pc_node *map, struct pc_node *key,
                struct pc_node *value, size_t *cap)
{
    if (!key || !value)
        return -1;
    struct pc_pair *slot = PR_PUSH(&st->ctx->arena, map->pairs, map->len,
                                   *cap);
    if (!slot) {
        pc_oom(st->ctx);
        return -1;
    }
    slot->key = key;
    slot->value = value;
    return 0;
}

/* ---- scalar decoding ---- */

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 64;
        while (ncap < b->n + n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_ch(struct sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

static void sb_utf8(struct sbuf *b, unsigned long cp)
{
    char u[4];
    sb_put(b, u, pr_utf8_put(u, cp));
}

/* Moves decoded text into the arena and fills the node. */
static struct pc_node *scalar_node(struct pcy_state *st,
                                   enum pc_scalar_style style, uint32_t off,
                                   uint32_t len, struct sbuf *b,
                                   uint32_t content_off, bool exact)
{
    if (b->oom) {
        free(b->p);
        pc_oom(st->ctx);
        return NULL;
    }
    struct pc_node *n = new_node(st, PC_NODE_SCALAR, off, len);
    if (!n) {
        free(b->p);
        return NULL;
    }
    n->style = style;
    n->str = pr_arena_strndup(&st->ctx->arena, b->p ? b->p : "", b->n);
    n->len = b->n;
    n->content_off = content_off;
    n->exact = exact;
    free(b->p);
    if (!n->str) {
        pc_oom(st->ctx);
        return NULL;
    }
    return n;
}

static bool is_nl(const char *s, uint32_t i, uint32_t end)
{
    return s[i] == '\n' || (s[i] == '\r' && i + 1 < end && s[i + 1] == '\n');
}

/* Folds a line break inside a quoted scalar starting at *i: trailing
 * blanks were already dropped by the caller; blank lines become '\n', a
 * single break becomes ' '. */
static void fold_break(struct sbuf *b, const char *s, uint32_t *i,
                       uint32_t end)
{
    unsigned breaks = 0;
    while (*i < end) {
        if (s[*i] == '\r' && *i + 1 < end && s[*i + 1] == '\n')
            (*i)++;
        if (s[*i] == '\n') {
            breaks++;
            (*i)++;
            while (*i < end && (s[*i] == ' ' || s[*i] == '\t'))
                (*i)++;
            continue;
        }
        break;
    }
    if (breaks <= 1)
        sb_ch(b, ' ');
    else
        for (unsigned k = 1; k < breaks; k++)
            sb_ch(b, '\n');
}

static void trim_trailing_blanks(struct sbuf *b)
{
    while (b->n && (b->p[b->n - 1] == ' ' || b->p[b->n - 1] == '\t'))
        b->p[--b->n] = '\0';
}

static struct pc_node *decode_squoted(struct pcy_state *st, uint32_t off,
                                      uint32_t len)
{
    const char *s = st->buf;
    struct sbuf b = {0};
    uint32_t end = off + len - 1; /* the closing quote */
    bool exact = true;
    sb_put(&b, "", 0);
    for (uint32_t i = off + 1; i < end;) {
        if (s[i] == '\'' && i + 1 < end && s[i + 1] == '\'') {
            sb_ch(&b, '\'');
            i += 2;
            exact = false;
        } else if (is_nl(s, i, end)) {
            trim_trailing_blanks(&b);
            fold_break(&b, s, &i, end);
            exact = false;
        } else {
            sb_ch(&b, s[i++]);
        }
    }
    return scalar_node(st, PC_SQUOTED, off, len, &b, off + 1, exact);
}

static struct pc_node *decode_dquoted(struct pcy_state *st, uint32_t off,
                                      uint32_t len)
{
    const char *s = st->buf;
    struct sbuf b = {0};
    uint32_t end = off + len - 1;
    bool exact = true;
    sb_put(&b, "", 0);
    for (uint32_t i = off + 1; i < end;) {
        char c = s[i];
        if (is_nl(s, i, end)) {
            trim_trailing_blanks(&b);
            fold_break(&b, s, &i, end);
            exact = false;
            continue;
        }
        if (c != '\\') {
            sb_ch(&b, c);
            i++;
            continue;
        }
        exact = false;
        uint32_t esc = i;
        char e = s[i + 1];
        i += 2;
        int digits = 0;
        switch (e) {
        case '0':
            sb_ch(&b, '\0');
            break;
        case 'a':
            sb_ch(&b, '\a');
            break;
        case 'b':
            sb_ch(&b, '\b');
            break;
        case 't':
        case '\t':
            sb_ch(&b, '\t');
            break;
        case 'n':
            sb_ch(&b, '\n');
            break;
        case 'v':
            sb_ch(&b, '\v');
            break;
        case 'f':
            sb_ch(&b, '\f');
            break;
        case 'r':
            sb_ch(&b, '\r');
            break;
        case 'e':
            sb_ch(&b, '\x1b');
            break;
        case ' ':
            sb_ch(&b, ' ');
            break;
        case '"':
            sb_ch(&b, '"');
            break;
        case '/':
            sb_ch(&b, '/');
            break;
        case '\\':
            sb_ch(&b, '\\');
            break;
        case 'N':
            sb_utf8(&b, 0x85);
            break;
        case '_':
            sb_utf8(&b, 0xA0);
            break;
        case 'L':
            sb_utf8(&b, 0x2028);
            break;
        case 'P':
            sb_utf8(&b, 0x2029);
            break;
        case 'x':
            digits = 2;
            break;
        case 'u':
            digits = 4;
            break;
        case 'U':
            digits = 8;
            break;
        case '\r':
        case '\n':
            /* an escaped line break joins the lines without a space */
            if (e == '\r' && s[i] == '\n')
                i++;
            for (;;) {
                while (i < end && (s[i] == ' ' || s[i] == '\t'))
                    i++;
                if (i < end && is_nl(s, i, end)) {
                    sb_ch(&b, '\n'); /* a blank line stays a newline */
                    i += s[i] == '\r' ? 2 : 1;
                    continue;
                }
                break;
            }
            break;
        default:
            layout_error(st, PC_D_SYNTAX, esc, 2,
                         "unknown escape sequence in double-quoted scalar");
            break;
        }
        if (digits) {
            unsigned long cp = 0;
            int k;
            for (k = 0; k < digits && i < end && pr_hexval(s[i]) >= 0; k++)
                cp = cp * 16 + (unsigned long)pr_hexval(s[i++]);
            if (k < digits || (cp >= 0xD800 && cp <= 0xDFFF) ||
                cp > 0x10FFFF) {
                layout_error(st, PC_D_SYNTAX, esc, (uint32_t)(i - esc),
                             "invalid escape: expected a valid code point "
                             "in hex digits");
            } else {
                sb_utf8(&b, cp);
            }
        }
    }
    return scalar_node(st, PC_DQUOTED, off, len, &b, off + 1, exact);
}

static struct pc_node *decode_plain(struct pcy_state *st, uint32_t off,
                                    uint32_t len)
{
    struct sbuf b = {0};
    sb_put(&b, st->buf + off, len);
    return scalar_node(st, PC_PLAIN, off, len, &b, off, true);
}

/* A block scalar: header "|" or ">" with chomping and indentation
 * indicators, then content lines more indented than PARENT. */
static struct pc_node *decode_block(struct pcy_state *st, uint32_t off,
                                    uint32_t len, int parent)
{
    const char *s = st->buf;
    uint32_t end = off + len, i = off + 1;
    if (end > st->len) /* the newline added after the source is not text */
        end = st->len;
    bool folded = s[off] == '>';
    char chomp = 'c';
    int explicit_indent = 0;
    while (i < end &&
           (s[i] == '-' || s[i] == '+' || (s[i] >= '0' && s[i] <= '9'))) {
        if (s[i] == '-' || s[i] == '+') {
            if (chomp != 'c')
                layout_error(st, PC_D_SYNTAX, i, 1,
                             "more than one chomping indicator");
            chomp = s[i];
        } else {
            if (explicit_indent || s[i] == '0')
                layout_error(st, PC_D_SYNTAX, i, 1,
                             "the indentation indicator must be one digit "
                             "from 1 to 9");
            explicit_indent = s[i] - '0';
        }
        i++;
    }
    /* the rest of the header line: blanks and a comment */
    while (i < end && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < end && s[i] != '#' && s[i] != '\n' && s[i] != '\r') {
        layout_error(st, PC_D_SYNTAX, i, 1,
                     "unexpected text after a block scalar indicator; the "
                     "content starts on the next line");
    }
    while (i < end && s[i] != '\n')
        i++;
    if (i < end)
        i++;
    uint32_t body = i;

    /* content indentation: explicit, or the first non-blank line's */
    int indent = -1;
    if (explicit_indent)
        indent = (parent < 0 ? 0 : parent) + explicit_indent;
    for (uint32_t p = body; indent < 0 && p < end;) {
        int sp = 0;
        while (p + (uint32_t)sp < end && s[p + (uint32_t)sp] == ' ')
            sp++;
        uint32_t q = p + (uint32_t)sp;
        if (q < end && s[q] != '\n' && s[q] != '\r') {
            indent = sp;
            break;
        }
        while (q < end && s[q] != '\n')
            q++;
        p = q + 1;
    }

    struct sbuf b = {0};
    sb_put(&b, "", 0);
    bool prev_text = false, prev_more = false, terminated = false;
    unsigned pending_breaks = 0;
    for (uint32_t p = body; p < end;) {
        uint32_t q = p;
        while (q < end && s[q] != '\n')
            q++;
        uint32_t le = q;
        if (le > p && s[le - 1] == '\r')
            le--;
        int sp = 0;
        while (p + (uint32_t)sp < le && s[p + (uint32_t)sp] == ' ')
            sp++;
        /* spaces beyond the indentation are content, even on a line of
           nothing else */
        bool blank = p + (uint32_t)sp == le && (indent < 0 || sp <= indent);
        if (blank) {
            if (q < end)
                pending_breaks++;
        } else {
            uint32_t start = p + (uint32_t)(indent >= 0 && sp >= indent
                                                ? indent
                                                : sp);
            bool more = start < le && (s[start] == ' ' || s[start] == '\t');
            if (prev_text) {
                if (folded && !more && !prev_more && pending_breaks == 0)
                    sb_ch(&b, ' ');
                else if (folded && !more && !prev_more)
                    for (unsigned k = 0; k < pending_breaks; k++)
                        sb_ch(&b, '\n');
                else
                    for (unsigned k = 0; k <= pending_breaks; k++)
                        sb_ch(&b, '\n');
            } else {
                for (unsigned k = 0; k < pending_breaks; k++)
                    sb_ch(&b, '\n');
            }
            pending_breaks = 0;
            sb_put(&b, s + start, le - start);
            prev_text = true;
            prev_more = more;
            terminated = q < end;
        }
        p = q + 1;
    }
    /* chomping */
    if (chomp == '+') {
        if (prev_text && terminated)
            sb_ch(&b, '\n');
        for (unsigned k = 0; k < pending_breaks; k++)
            sb_ch(&b, '\n');
    } else if (chomp == 'c' && prev_text && terminated) {
        sb_ch(&b, '\n');
    }
    /* the node's range ends at the last content line, not at the
       following blank lines */
    uint32_t last = end;
    while (last > off &&
           (s[last - 1] == '\n' || s[last - 1] == '\r' || s[last - 1] == ' '))
        last--;
    return scalar_node(st, folded ? PC_FOLDED : PC_LITERAL, off, last - off,
                       &b, body, false);
}

/* The key text of a KEY token: the scalar before the ':' */
static uint32_t key_len(struct pcy_state *st, const struct pcy_raw *t)
{
    uint32_t n = t->len - 1; /* drop ':' */
    while (n &&
           (st->buf[t->off + n - 1] == ' ' || st->buf[t->off + n - 1] == '\t'))
        n--;
    return n;
}

/* ---- layout ---- */

static void emit(struct pcy_state *st, int type, struct pc_node *node,
                 uint32_t off, uint32_t len)
{
    if (st->qlen >= (int)(sizeof st->queue / sizeof st->queue[0]))
        return; /* cannot happen: at most depth + 3 tokens per raw token */
    int slot = (st->qhead + st->qlen) %
               (int)(sizeof st->queue / sizeof st->queue[0]);
    st->queue[slot].type = type;
    st->queue[slot].node = node;
    st->queue[slot].off = off;
    st->queue[slot].len = len;
    st->qlen++;
}

static void unwind(struct pcy_state *st, long col, uint32_t off)
{
    while (st->depth > 0 && (long)st->stack[st->depth - 1].col > col) {
        emit(st, PCY_BEND, NULL, off, 0);
        st->depth--;
    }
}

static bool push_level(struct pcy_state *st, uint32_t col, bool seq,
                       bool indentless, uint32_t off)
{
    if (st->depth + st->lflow >= PC_YAML_MAX_DEPTH) {
        if (!st->depth_reported)
            layout_error(st, PC_D_DEPTH, off, 1,
                         "nesting deeper than 64 levels");
        st->depth_reported = true;
        return false;
    }
    st->stack[st->depth].col = col;
    st->stack[st->depth].seq = seq;
    st->stack[st->depth].indentless = indentless;
    st->depth++;
    emit(st, seq ? PCY_BSEQ : PCY_BMAP, NULL, off, 0);
    return true;
}

static bool is_key(enum pcy_raw_type t)
{
    return t == R_KEY_PLAIN || t == R_KEY_SQ || t == R_KEY_DQ;
}

static void finish(struct pcy_state *st, uint32_t off)
{
    plain_flush(st);
    unwind(st, -1, off);
    emit(st, PCY_YYEOF, NULL, off, 0);
    st->eof = true;
}

static const char *describe(enum pcy_raw_type t)
{
    switch (t) {
    case R_KEY_PLAIN:
    case R_KEY_SQ:
    case R_KEY_DQ:
        return "a mapping key";
    case R_DASH:
        return "a '-' sequence entry";
    case R_BLOCK:
        return "a block scalar";
    case R_LBRACK:
    case R_LBRACE:
        return "a flow collection";
    default:
        return "a scalar";
    }
}

/* Decides the block structure a token opens or closes.  Returns false
 * when the token is to be dropped. */
static bool block_layout(struct pcy_state *st, const struct pcy_raw *t)
{
    bool ls = t->line_start;
    uint32_t col = t->col;
    if (ls) {
        struct pcy_level *top;
        /* the shallowest level this line closes */
        long popped = -1;
        for (int k = st->depth; k > 0 && st->stack[k - 1].col > col; k--)
            popped = st->stack[k - 1].col;
        unwind(st, (long)col, t->off);
        top = st->depth ? &st->stack[st->depth - 1] : NULL;
        if (popped >= 0 && (!top || top->col < col) && col < popped) {
            /* between two levels: neither a sibling nor a child */
            char msg[160];
            snprintf(msg, sizeof msg,
                     "inconsistent indentation: this line starts at "
                     "column %u, the block it seems to continue at column "
                     "%ld",
                     col + 1, popped + 1);
            structure_error(st, t->off, t->len ? t->len : 1, msg);
            return false;
        }
        if (top && top->indentless && top->col == col && t->type != R_DASH) {
            emit(st, PCY_BEND, NULL, t->off, 0);
            st->depth--;
            top = st->depth ? &st->stack[st->depth - 1] : NULL;
        }
        if (top && top->col == col) {
            if (!top->seq && is_key(t->type))
                return true;
            if (top->seq && t->type == R_DASH)
                return true;
            if (!top->seq && t->type == R_DASH && st->last_was_key)
                return push_level(st, col, true, true, t->off);
            char msg[160];
            snprintf(msg, sizeof msg,
                     "expected %s at this indentation, found %s",
                     top->seq ? "a '-' sequence entry" : "'key: value'",
                     describe(t->type));
            structure_error(st, t->off, t->len ? t->len : 1, msg);
            return false;
        }
        if (is_key(t->type))
            return push_level(st, col, false, false, t->off);
        if (t->type == R_DASH)
            return push_level(st, col, true, false, t->off);
        return true;
    }
    if (st->after_dash) {
        if (is_key(t->type))
            return push_level(st, col, false, false, t->off);
        if (t->type == R_DASH)
            return push_level(st, col, true, false, t->off);
        return true;
    }
    if (is_key(t->type)) {
        uint32_t n = key_len(st, t);
        /* printf '{"a": 1}': the quote is inside a plain value, and the
         * ': ' after it ends the value */
        if (memchr(st->buf + t->off, '\'', n) ||
            memchr(st->buf + t->off, '"', n)) {
            layout_error(st, PC_D_SYNTAX, t->off, n + 1,
                         "': ' ends this plain value, whose quotes do not "
                         "protect it: a value that does not start with a "
                         "quote cannot contain ': '; quote the whole value "
                         "(in single quotes, each ' inside doubled) or write "
                         "it as a '|' block scalar on the lines below");
            return false;
        }
        layout_error(st, PC_D_SYNTAX, t->off, n + 1,
                     "a mapping key cannot follow a value on the same line; "
                     "start it on a new line, or, if ': ' belongs to the "
                     "value, quote the whole value or use a '|' block "
                     "scalar");
        return false;
    }
    if (t->type == R_DASH) {
        layout_error(st, PC_D_SYNTAX, t->off, 1,
                     "a '-' sequence entry cannot start here; start it on a "
                     "new line");
        return false;
    }
    return true;
}

static int current_indent(struct pcy_state *st)
{
    return st->depth ? (int)st->stack[st->depth - 1].col : -1;
}

/* Ends the plain scalar that may have been continuing: its joined text
 * moves into the arena. */
static void plain_flush(struct pcy_state *st)
{
    struct pc_node *n = st->last_plain;
    if (st->plain.oom)
        pc_oom(st->ctx);
    if (n && st->plain.n && !st->plain.oom) {
        char *s = pr_arena_strndup(&st->ctx->arena, st->plain.p, st->plain.n);
        if (s) {
            n->str = s;
            n->len = st->plain.n;
        } else {
            pc_oom(st->ctx);
        }
    }
    st->plain.n = 0;
    st->last_plain = NULL;
}

/* Joins a continuation line onto the previous plain scalar: one line
 * break folds to a space, each blank line between stays a newline. */
static bool continue_plain(struct pcy_state *st, const struct pcy_raw *t)
{
    struct pc_node *n = st->last_plain;
    if (st->saw_comment) {
        layout_error(st, PC_D_SYNTAX, t->off, t->len,
                     "a comment ends a plain scalar; this line cannot "
                     "continue it (quote the value or drop the comment)");
        plain_flush(st);
        return false;
    }
    if (st->plain.n == 0)
        sb_put(&st->plain, n->str, n->len);
    uint32_t gap = st->line_no - st->last_plain_line;
    if (gap <= 1)
        sb_put(&st->plain, " ", 1);
    for (uint32_t k = 1; k < gap; k++)
        sb_put(&st->plain, "\n", 1);
    sb_put(&st->plain, st->buf + t->off, t->len);
    n->exact = false;
    n->loc.len = t->off + t->len - n->loc.off;
    st->last_plain_line = st->line_no;
    return true;
}

static void process(struct pcy_state *st, struct pcy_raw *t)
{
    const char *what = NULL;
    enum pc_diag_id id = PC_D_UNSUPPORTED;

    if (t->line_start && st->tab_in_indent && st->lflow == 0 &&
        t->type != R_EOF) {
        layout_error(st, PC_D_TAB_INDENT, st->tab_off, 1,
                     "tab character in indentation; indent with spaces");
        st->tab_in_indent = false;
    }
    if (st->lflow > 0 && t->line_start && t->type != R_RBRACK &&
        t->type != R_RBRACE &&
        ((int)t->col <= current_indent(st) || t->type == R_DASH)) {
        /* a flow collection left open: the next block line arrived */
        char msg[96];
        unsigned line, col;
        pc_source_linecol(pc_ctx_source(st->ctx, st->file),
                          st->flow_open[st->lflow - 1], &line, &col);
        snprintf(msg, sizeof msg, "missing '%c' to close the '%c' on line %u",
                 st->buf[st->flow_open[st->lflow - 1]] == '[' ? ']' : '}',
                 st->buf[st->flow_open[st->lflow - 1]], line);
        layout_error(st, PC_D_SYNTAX, t->off, t->len ? t->len : 1, msg);
        finish(st, t->off);
        return;
    }
    switch (t->type) {
    case R_EOF:
        finish(st, st->len);
        return;
    case R_DOCSTART:
        if (!st->seen_content && !st->seen_docstart) {
            st->seen_docstart = true;
            return;
        }
        layout_error(st, PC_D_UNSUPPORTED, t->off, 3,
                     "multiple documents in one file are not supported; "
                     "put each workflow in its own file");
        finish(st, t->off);
        return;
    case R_DOCEND:
        layout_error(st, PC_D_UNSUPPORTED, t->off, 3,
                     "the document end marker '...' is not supported");
        finish(st, t->off);
        return;
    case R_DIRECTIVE:
        what = "directives ('%YAML', '%TAG') are not supported";
        break;
    case R_ANCHOR:
        what = "anchors ('&name') are not supported; repeat the value "
               "instead";
        break;
    case R_ALIAS:
        what = "aliases ('*name') are not supported; repeat the value "
               "instead";
        break;
    case R_TAG:
        what = "tags ('!tag') are not supported; POML infers types from "
               "the schema";
        break;
    case R_QUESTION:
        what = "complex mapping keys ('? ') are not supported";
        st->skip_colon = true;
        break;
    case R_COLON:
        if (st->skip_colon) { /* the ':' of a '? ' key already reported */
            st->skip_colon = false;
            return;
        }
        id = PC_D_SYNTAX;
        what = "a ':' with no key before it";
        break;
    case R_BLOCKINFLOW:
        id = PC_D_SYNTAX;
        what = "block scalars ('|' and '>') cannot appear inside [ ] or "
               "{ }; use a quoted string";
        break;
    case R_RESERVED:
        id = PC_D_SYNTAX;
        what = "'@' and '`' are reserved and cannot start a plain scalar; "
               "quote the value";
        break;
    case R_BADCHAR:
        id = PC_D_SYNTAX;
        what = st->buf[t->off] == ','
                   ? "unexpected ',' outside a flow collection; quote the "
                     "value or use [ ]"
                   : "unexpected character; quote the value";
        break;
    case R_UNTERMINATED:
        layout_error(st, PC_D_SYNTAX, t->off, 1,
                     st->buf[t->off] == '"'
                         ? "missing terminating '\"' character"
                         : "missing terminating ''' character");
        finish(st, st->len);
        return;
    default:
        break;
    }
    if (what) {
        layout_error(st, id, t->off, t->len ? t->len : 1, what);
        if (t->type == R_BLOCKINFLOW) {
            finish(st, t->off);
            return;
        }
        if (t->type != R_ALIAS)
            return;
        /* an alias still stands for a value: keep the structure intact */
        t->type = R_PLAIN;
        t->len = 0;
    }
    st->seen_content = true;

    if (is_key(t->type) && memchr(st->buf + t->off, '\n', t->len)) {
        layout_error(st, PC_D_SYNTAX, t->off, 1,
                     "a mapping key must fit on one line");
        finish(st, t->off);
        return;
    }
    if (t->line_start && t->type == R_PLAIN && st->last_plain &&
        (st->lflow > 0 || (int)t->col > current_indent(st))) {
        continue_plain(st, t);
        return;
    }
    plain_flush(st);
    if (st->lflow == 0) {
        if (!block_layout(st, t)) {
            st->after_dash = false;
            st->last_was_key = false;
            return;
        }
    }

    struct pc_node *n = NULL;
    int tok = 0;
    uint32_t off = t->off, len = t->len;
    switch (t->type) {
    case R_KEY_PLAIN:
        len = key_len(st, t);
        n = decode_plain(st, off, len);
        tok = PCY_KEY;
        break;
    case R_KEY_SQ:
        len = key_len(st, t);
        n = decode_squoted(st, off, len);
        tok = PCY_KEY;
        break;
    case R_KEY_DQ:
        len = key_len(st, t);
        n = decode_dquoted(st, off, len);
        tok = PCY_KEY;
        break;
    case R_PLAIN:
        n = len ? decode_plain(st, off, len) : pcy_null(st, off);
        tok = PCY_SCALAR;
        break;
    case R_SQ:
        n = decode_squoted(st, off, len);
        tok = PCY_SCALAR;
        break;
    case R_DQ:
        n = decode_dquoted(st, off, len);
        tok = PCY_SCALAR;
        if (st->lflow == 0 && memchr(st->buf + off, '\n', len)) {
            st->dq_off = off;
            st->dq_end = off + len;
        }
        break;
    case R_BLOCK:
        n = decode_block(st, off, len, current_indent(st));
        if (n)
            len = n->loc.len;
        tok = PCY_SCALAR;
        break;
    case R_DASH:
        tok = PCY_ENTRY;
        break;
    case R_LBRACK:
    case R_LBRACE:
        if (st->lflow < PC_YAML_MAX_DEPTH)
            st->flow_open[st->lflow] = off;
        if (++st->lflow + st->depth > PC_YAML_MAX_DEPTH) {
            layout_error(st, PC_D_DEPTH, off, 1,
                         "nesting deeper than 64 levels");
            finish(st, off);
            return;
        }
        tok = t->type == R_LBRACK ? PCY_LBRACK : PCY_LBRACE;
        break;
    case R_RBRACK:
    case R_RBRACE:
        if (st->lflow > 0)
            st->lflow--;
        tok = t->type == R_RBRACK ? PCY_RBRACK : PCY_RBRACE;
        break;
    case R_COMMA:
        tok = PCY_COMMA;
        break;
    default:
        return;
    }
    if ((tok == PCY_KEY || tok == PCY_SCALAR) && !n) {
        finish(st, off);
        return;
    }
    emit(st, tok, n, off, len);
    st->after_dash = t->type == R_DASH && st->lflow == 0;
    st->last_was_key = tok == PCY_KEY;
    if (t->type == R_PLAIN && n && n->kind == PC_NODE_SCALAR) {
        st->last_plain = n;
        st->last_plain_line = st->line_no;
        st->saw_comment = false;
    }
}

int pcy_lex(PCY_STYPE *lval, PCY_LTYPE *lloc, struct pcy_state *st)
{
    while (st->qlen == 0) {
        if (st->eof)
            return PCY_YYEOF;
        struct pcy_raw t;
        st->block_parent = current_indent(st);
        pcyr_lex_raw(&t, st->scanner);
        process(st, &t);
    }
    struct pcy_tok *q = &st->queue[st->qhead];
    st->qhead = (st->qhead + 1) %
                (int)(sizeof st->queue / sizeof st->queue[0]);
    st->qlen--;
    lval->node = q->node;
    lloc->first_line = lloc->last_line = 0;
    lloc->first_column = (int)q->off;
    lloc->last_column = (int)(q->off + q->len);
    return q->type;
}

/* ---- encoding ---- */

/* Reports NUL bytes and malformed UTF-8.  Returns the number of problems
 * (reporting stops after a few). */
static unsigned check_encoding(struct pcy_state *st)
{
    const unsigned char *s = (const unsigned char *)st->buf;
    unsigned bad = 0;
    for (uint32_t i = 0; i < st->len && bad < 4;) {
        unsigned char c = s[i];
        if (c == 0) {
            layout_error(st, PC_D_ENCODING, i, 1,
                         "NUL byte in source; POML files are UTF-8 text");
            bad++;
            i++;
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = pr_utf8_decode((const char *)s + i, st->len - i, NULL);
        bool ok = n > 0;
        if (!ok) {
            char msg[80];
            snprintf(msg, sizeof msg,
                     "invalid UTF-8 byte 0x%02X; POML files are UTF-8 text",
                     c);
            layout_error(st, PC_D_ENCODING, i, 1, msg);
            bad++;
            /* one error per malformed sequence */
            for (i++; i < st->len && (s[i] & 0xC0) == 0x80; i++)
                ;
            continue;
        }
        i += (uint32_t)n;
    }
    return bad;
}

/* ---- duplicate keys ---- */

static int cmp_pair_key(const void *a, const void *b)
{
    const struct pc_pair *const *pa = a, *const *pb = b;
    int c = strcmp((*pa)->key->str, (*pb)->key->str);
    if (c)
        return c;
    return (*pa)->key->loc.off < (*pb)->key->loc.off ? -1 : 1;
}

static void report_dup(struct pcy_state *st, const struct pc_pair *first,
                       const struct pc_pair *again)
{
    struct pc_diag *d = pc_report(st->ctx, PC_D_DUPLICATE_KEY, again->key->loc,
                                  "duplicate key '%s'", again->key->str);
    pc_note(st->ctx, d, first->key->loc, "'%s' first appears here",
            first->key->str);
}

static void check_duplicates(struct pcy_state *st, struct pc_node *n,
                             int depth)
{
    if (!n || depth > 2 * PC_YAML_MAX_DEPTH + 2)
        return;
    if (n->kind == PC_NODE_SEQ) {
        for (size_t i = 0; i < n->len; i++)
            check_duplicates(st, n->items[i], depth + 1);
        return;
    }
    if (n->kind != PC_NODE_MAP)
        return;
    if (n->len <= 32) {
        for (size_t i = 1; i < n->len; i++)
            for (size_t j = 0; j < i; j++)
                if (strcmp(n->pairs[i].key->str, n->pairs[j].key->str) == 0) {
                    report_dup(st, &n->pairs[j], &n->pairs[i]);
                    break;
                }
    } else {
        const struct pc_pair **idx = malloc(n->len * sizeof *idx);
        if (!idx) {
            pc_oom(st->ctx);
            return;
        }
        for (size_t i = 0; i < n->len; i++)
            idx[i] = &n->pairs[i];
        qsort(idx, n->len, sizeof *idx, cmp_pair_key);
        size_t first = 0;
        for (size_t i = 1; i < n->len; i++) {
            if (strcmp(idx[i]->key->str, idx[first]->key->str) == 0)
                report_dup(st, idx[first], idx[i]);
            else
                first = i;
        }
        free(idx);
    }
    for (size_t i = 0; i < n->len; i++)
        check_duplicates(st, n->pairs[i].value, depth + 1);
}

/* ---- entry point ---- */

int pcy_parse(struct pcy_state *st);
int pcyr_lex_init_extra(struct pcy_state *st, void **scanner);
int pcyr_lex_destroy(void *scanner);
struct yy_buffer_state *pcyr__scan_buffer(char *base, size_t size,
                                          void *scanner);
void pcyr__switch_to_buffer(struct yy_buffer_state *b, void *scanner);

struct pc_node *pc_yaml_parse(struct pc_ctx *ctx, uint32_t file)
{
    struct pc_source *src = pc_ctx_source(ctx, file);
    if (!src)
        return NULL;
    if (src->len > (size_t)INT32_MAX) {
        pc_report(ctx, PC_D_SYNTAX, (struct pc_loc){file, 0, 0},
                  "file too large (more than 2 GiB)");
        return NULL;
    }
    struct pcy_state *st = calloc(1, sizeof *st);
    if (!st) {
        pc_oom(ctx);
        return NULL;
    }
    st->ctx = ctx;
    st->file = file;
    st->len = (uint32_t)src->len;
    /* the scanner sees the text with a final newline so every line ends */
    char *buf = malloc(src->len + 2);
    if (!buf) {
        free(st);
        pc_oom(ctx);
        return NULL;
    }
    memcpy(buf, src->text, src->len);
    buf[src->len] = '\n';
    buf[src->len + 1] = '\0';
    st->buf = buf;

    struct pc_node *root = NULL;
    if (check_encoding(st) == 0) {
        uint32_t start = 0;
        if (st->len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
            start = 3;
        st->off = st->line_off = start;
        st->at_line_start = true;
        /* flex's copy, with its two final NULs (flex writes into it as
           it scans): ours, as the one yy_scan_bytes makes is lost when
           it fails half way */
        size_t n = src->len + 1 - start;
        char *fbuf = malloc(n + 2);
        if (fbuf) {
            memcpy(fbuf, buf + start, n);
            fbuf[n] = fbuf[n + 1] = '\0';
        }
        if (fbuf && pcyr_lex_init_extra(st, &st->scanner) == 0) {
            jmp_buf jb;
            volatile int rc = -1;
            st->jmp = &jb;
            if (setjmp(jb) == 0) {
                /* the buffer stack first, while no buffer can be lost:
                   flex grows it on the second call */
                pcyr__switch_to_buffer(NULL, st->scanner);
                pcyr__switch_to_buffer(NULL, st->scanner);
                pcyr__scan_buffer(fbuf, n + 2, st->scanner);
                rc = pcy_parse(st);
            } else {
                pc_oom(ctx);
            }
            st->jmp = NULL;
            pcyr_lex_destroy(st->scanner);
            plain_flush(st);
            if (rc == 0 && st->root && st->fatal_errors == 0) {
                check_duplicates(st, st->root, 0);
                root = st->root;
            }
        } else {
            pc_oom(ctx);
        }
        free(fbuf);
    }
    free(st->plain.p);
    free(buf);
    free(st);
    return root;
}

/* ---- readers ---- */

struct pc_node *pc_map_get(const struct pc_node *map, const char *key)
{
    if (!map || map->kind != PC_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->len; i++)
        if (strcmp(map->pairs[i].key->str, key) == 0)
            return map->pairs[i].value;
    return NULL;
}

bool pc_scalar_is(const struct pc_node *n, const char *s)
{
    return n && n->kind == PC_NODE_SCALAR && strcmp(n->str, s) == 0;
}

bool pc_scalar_null(const struct pc_node *n)
{
    if (!n || n->kind == PC_NODE_NULL)
        return true;
    if (n->kind != PC_NODE_SCALAR || n->style != PC_PLAIN)
        return false;
    return strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
           strcmp(n->str, "NULL") == 0 || strcmp(n->str, "~") == 0 ||
           n->str[0] == '\0';
}

int pc_scalar_bool(const struct pc_node *n, bool *out)
{
    if (!n || n->kind != PC_NODE_SCALAR || n->style != PC_PLAIN)
        return -1;
    const char *s = n->str;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *out = false;
        return 0;
    }
    return -1;
}

int pc_scalar_int(const struct pc_node *n, long long *out)
{
    if (!n || n->kind != PC_NODE_SCALAR || n->style != PC_PLAIN || !n->str[0])
        return -1;
    const char *s = n->str;
    int base = 10;
    const char *digits = s;
    if (*digits == '+' || *digits == '-')
        digits++;
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o')) {
        if (digits != s)
            return -1;
        base = digits[1] == 'x' ? 16 : 8;
        s += 2;
        digits += 2;
    }
    if (!*digits)
        return -1;
    for (const char *p = digits; *p; p++) {
        int v = pr_hexval(*p);
        if (v < 0 || v >= base)
            return -1;
    }
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, base);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int pc_scalar_float(const struct pc_node *n, double *out)
{
    if (!n || n->kind != PC_NODE_SCALAR || n->style != PC_PLAIN || !n->str[0])
        return -1;
    const char *s = n->str;
    const char *p = s + (*s == '+' || *s == '-');
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        *out = *s == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
        *out = NAN;
        return 0;
    }
    /* digits, one optional '.', optional exponent: no hex, no "inf" */
    const char *q = p;
    bool digit = false;
    while (*q >= '0' && *q <= '9')
        q++, digit = true;
    if (*q == '.')
        for (q++; *q >= '0' && *q <= '9'; q++)
            digit = true;
    if (!digit)
        return -1;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!(*q >= '0' && *q <= '9'))
            return -1;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q)
        return -1;
    *out = strtod(s, NULL);
    return 0;
}

struct pc_loc pc_node_subloc(const struct pc_node *n, size_t i, size_t len)
{
    if (n->exact && i + len <= n->len) {
        struct pc_loc l = {n->loc.file, n->content_off + (uint32_t)i,
                           (uint32_t)(len ? len : 1)};
        return l;
    }
    return n->loc;
}

const char *pc_node_kind_name(const struct pc_node *n)
{
    if (!n || n->kind == PC_NODE_NULL)
        return "null";
    switch (n->kind) {
    case PC_NODE_SEQ:
        return "a list";
    case PC_NODE_MAP:
        return "a mapping";
    default:
        return "a scalar";
    }
}

static cJSON *node_json(const struct pc_node *n, int depth)
{
    long long iv;
    double dv;
    bool b;
    if (!n || depth > PC_YAML_MAX_DEPTH * 4)
        return cJSON_CreateNull();
    switch (n->kind) {
    case PC_NODE_NULL:
        return cJSON_CreateNull();
    case PC_NODE_SCALAR:
        if (pc_scalar_null(n))
            return cJSON_CreateNull();
        if (pc_scalar_bool(n, &b) == 0)
            return cJSON_CreateBool(b);
        if (pc_scalar_int(n, &iv) == 0)
            return cJSON_CreateNumber((double)iv);
        if (pc_scalar_float(n, &dv) == 0)
            return cJSON_CreateNumber(dv);
        return cJSON_CreateString(n->str);
    case PC_NODE_SEQ: {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < n->len; i++) {
            cJSON *item = node_json(n->items[i], depth + 1);
            if (!item || !cJSON_AddItemToArray(a, item)) {
                cJSON_Delete(item);
                cJSON_Delete(a);
                return NULL;
            }
        }
        return a;
    }
    case PC_NODE_MAP: {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; o && i < n->len; i++) {
            cJSON *item = node_json(n->pairs[i].value, depth + 1);
            if (!item ||
                !cJSON_AddItemToObject(o, n->pairs[i].key->str, item)) {
                cJSON_Delete(item);
                cJSON_Delete(o);
                return NULL;
            }
        }
        return o;
    }
    }
    return cJSON_CreateNull();
}

cJSON *pc_node_json(const struct pc_node *n)
{
    return node_json(n, 0);
}
