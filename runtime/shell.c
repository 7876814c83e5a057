/* shell.c -- quoting-context tracking for `run` commands (see shell.h)
 *
 * A small lexer follows the POSIX shell's quoting rules far enough to know,
 * at each ${...}, whether the shell is reading bare words, a double-quoted
 * string, a single-quoted string, a command substitution, a parameter
 * expansion, a comment or a here-document body.  It does not need to parse
 * commands: only quoting decides how a variable reference must be written
 * to expand to one unsplit, unglobbed word.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "shell.h"
#include "util.h"

enum ctx {
    C_BARE,                     /* top level, $( ), ` `: word context */
    C_DQ,                       /* "..." */
    C_SQ,                       /* '...' */
    C_BQ,                       /* `...` */
    C_CMD,                      /* $( ... ) */
    C_PARAM,                    /* ${ ... } */
    C_COMMENT,                  /* # to the end of the line */
    C_HEREDOC                   /* a here-document body */
};

#define MAX_DEPTH 64
#define MAX_HEREDOCS 16

struct heredoc {
    char delim[64];
    size_t len;
    bool quoted, strip_tabs;
};

struct lexer {
    enum ctx stack[MAX_DEPTH];
    int parens[MAX_DEPTH];      /* open ( inside a $( ) */
    int depth;
    struct heredoc pending[MAX_HEREDOCS];
    int npending;               /* read after the next newline */
    struct heredoc cur;         /* the body being read */
    struct pr_buf line;         /* current heredoc line, source text */
    bool line_has_var;
    bool escaped;               /* the previous char was a backslash */
    char prev;                  /* previous source char ('\n' at start) */
};

static enum ctx top(const struct lexer *lx)
{
    return lx->stack[lx->depth];
}

static void push(struct lexer *lx, enum ctx c)
{
    if (lx->depth + 1 < MAX_DEPTH) {
        lx->stack[++lx->depth] = c;
        lx->parens[lx->depth] = 0;
    }
}

static void pop(struct lexer *lx)
{
    if (lx->depth > 0)
        lx->depth--;
}

static bool word_start(char prev)
{
    return strchr(" \t\n;&|()<>", prev) != NULL;
}

/* After "<<" at T[i..]: reads the delimiter word; returns how many bytes
 * it spans (not consumed: the caller copies them). */
static void read_heredoc(struct lexer *lx, const char *t, size_t n)
{
    struct heredoc h = {.quoted = false, .strip_tabs = false};
    size_t i = 0;
    if (i < n && t[i] == '-') {
        h.strip_tabs = true;
        i++;
    }
    while (i < n && (t[i] == ' ' || t[i] == '\t'))
        i++;
    char q = 0;
    for (; i < n; i++) {
        char ch = t[i];
        if (q) {
            if (ch == q)
                q = 0;
            else if (h.len + 1 < sizeof h.delim)
                h.delim[h.len++] = ch;
            continue;
        }
        if (ch == '\'' || ch == '"') {
            q = ch;
            h.quoted = true;
            continue;
        }
        if (ch == '\\') {
            h.quoted = true;
            continue;
        }
        if (strchr(" \t\n;&|()<>", ch))
            break;
        if (h.len + 1 < sizeof h.delim)
            h.delim[h.len++] = ch;
    }
    if (h.len && lx->npending < MAX_HEREDOCS)
        lx->pending[lx->npending++] = h;
}

static bool line_ends_heredoc(struct lexer *lx)
{
    const char *s = (const char *)lx->line.data;
    size_t n = lx->line.len;
    if (lx->line_has_var)
        return false;
    if (lx->cur.strip_tabs)
        while (n && *s == '\t')
            s++, n--;
    return n == lx->cur.len && (n == 0 || memcmp(s, lx->cur.delim, n) == 0);
}

static void start_next_heredoc(struct lexer *lx)
{
    lx->cur = lx->pending[0];
    memmove(lx->pending, lx->pending + 1,
            (size_t)(lx->npending - 1) * sizeof *lx->pending);
    lx->npending--;
    lx->line.len = 0;
    lx->line_has_var = false;
    push(lx, C_HEREDOC);
}

/* Feeds one source character (at T[i], with the rest of the part for
 * lookahead) through the lexer. */
static void feed(struct lexer *lx, const char *t, size_t i, size_t n)
{
    char ch = t[i];
    char prev = lx->prev;
    lx->prev = ch;
    if (lx->escaped) {
        lx->escaped = false;
        return;
    }
    switch (top(lx)) {
    case C_HEREDOC:
        if (ch == '\n') {
            if (line_ends_heredoc(lx)) {
                pop(lx);
                if (lx->npending)
                    start_next_heredoc(lx);
            }
            lx->line.len = 0;
            lx->line_has_var = false;
        } else {
            pr_buf_append_u8(&lx->line, (uint8_t)ch);
            if (ch == '\\' && !lx->cur.quoted)
                lx->escaped = true;
        }
        return;
    case C_COMMENT:
        if (ch == '\n') {
            pop(lx);
            if (lx->npending)
                start_next_heredoc(lx);
        }
        return;
    case C_SQ:
        if (ch == '\'')
            pop(lx);
        return;
    case C_DQ:
        if (ch == '\\')
            lx->escaped = true;
        else if (ch == '"')
            pop(lx);
        else if (ch == '`')
            push(lx, C_BQ);
        else if (ch == '$' && i + 1 < n && t[i + 1] == '(')
            push(lx, C_CMD), lx->prev = '(';
        else if (ch == '$' && i + 1 < n && t[i + 1] == '{')
            push(lx, C_PARAM);
        return;
    case C_PARAM:
        if (ch == '}') {
            pop(lx);
            return;
        }
        break;                  /* quotes nest inside ${ } */
    default:
        break;
    }
    /* word contexts: bare, $( ), ` `, ${ } */
    enum ctx c = top(lx);
    if (ch == '\\') {
        lx->escaped = true;
    } else if (ch == '\'') {
        push(lx, C_SQ);
    } else if (ch == '"') {
        push(lx, C_DQ);
    } else if (ch == '`') {
        if (c == C_BQ)
            pop(lx);
        else
            push(lx, C_BQ);
    } else if (ch == '$' && i + 1 < n && t[i + 1] == '(') {
        push(lx, C_CMD);
    } else if (ch == '$' && i + 1 < n && t[i + 1] == '{') {
        push(lx, C_PARAM);
    } else if (ch == '(' && c == C_CMD && prev != '$') {
        lx->parens[lx->depth]++;
    } else if (ch == ')' && c == C_CMD) {
        if (lx->parens[lx->depth]-- == 0)
            pop(lx);
    } else if (ch == '#' && c != C_PARAM && word_start(prev)) {
        push(lx, C_COMMENT);
    } else if (ch == '<' && i + 1 < n && t[i + 1] == '<' && prev != '<') {
        read_heredoc(lx, t + i + 2, n - i - 2);
    } else if (ch == '\n' && lx->npending) {
        start_next_heredoc(lx);
    }
}

/* ---- direct execution ---- */

static bool plain_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || strchr("_./:=+,@%^-", ch);
}

static const char *const needs_shell[] = {
    "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi",
    "for", "if", "in", "then", "until", "while", "function", "select",
    ".", ":", "break", "continue", "eval", "exec", "exit", "export",
    "readonly", "return", "set", "shift", "times", "trap", "unset", "cd",
    "alias", "bg", "command", "fc", "fg", "getopts", "hash", "jobs", "read",
    "type", "ulimit", "umask", "unalias", "wait", "local", "source", NULL};

/* True when the parts form one simple command of plain words. */
static bool is_simple(const struct pr_shell_part *parts, size_t nparts)
{
    bool in_first = true, any = false, trailing = false;
    char first[16];
    size_t flen = 0;
    for (size_t p = 0; p < nparts; p++) {
        if (!parts[p].text) {
            if (trailing)
                return false;
            if (in_first)
                flen = sizeof first;    /* a value names the program */
            any = true;
            continue;
        }
        for (size_t i = 0; i < parts[p].len; i++) {
            char ch = parts[p].text[i];
            if (ch == '\n') {
                trailing = true;
                continue;
            }
            if (trailing)
                return false;
            if (ch == ' ' || ch == '\t') {
                if (any)
                    in_first = false;
                continue;
            }
            if (!plain_char(ch))
                return false;
            if (in_first) {
                if (ch == '=')
                    return false;   /* an assignment */
                if (flen < sizeof first)
                    first[flen] = ch;
                flen++;
            }
            any = true;
        }
    }
    if (!any)
        return false;
    if (flen < sizeof first) {
        first[flen] = '\0';
        for (size_t k = 0; needs_shell[k]; k++)
            if (!strcmp(first, needs_shell[k]))
                return false;
    }
    return true;
}

static int add_piece(struct pr_shell_cmd *c, bool new_word, const char *text,
                     size_t len, size_t var)
{
    if (new_word || !c->nwords) {
        void *w = realloc(c->argv_words, (c->nwords + 1) * sizeof *c->argv_words);
        if (!w)
            return -1;
        c->argv_words = w;
        c->argv_words[c->nwords++] = (struct pr_shell_word){NULL, 0};
    }
    struct pr_shell_word *w = &c->argv_words[c->nwords - 1];
    void *p = realloc(w->pieces, (w->npieces + 1) * sizeof *w->pieces);
    if (!p)
        return -1;
    w->pieces = p;
    w->pieces[w->npieces++] = (struct pr_shell_piece){text, len, var};
    return 0;
}

static int split_words(const struct pr_shell_part *parts, size_t nparts,
                       struct pr_shell_cmd *c)
{
    bool gap = true;
    size_t var = 0;
    for (size_t p = 0; p < nparts; p++) {
        if (!parts[p].text) {
            if (add_piece(c, gap, NULL, 0, ++var) < 0)
                return -1;
            gap = false;
            continue;
        }
        const char *t = parts[p].text;
        size_t n = parts[p].len;
        for (size_t i = 0; i < n;) {
            if (t[i] == ' ' || t[i] == '\t' || t[i] == '\n') {
                gap = true;
                i++;
                continue;
            }
            size_t j = i;
            while (j < n && t[j] != ' ' && t[j] != '\t' && t[j] != '\n')
                j++;
            if (add_piece(c, gap, t + i, j - i, 0) < 0)
                return -1;
            gap = false;
            i = j;
        }
    }
    return 0;
}

/* ---- the script ---- */

static int emit_ref(struct pr_buf *out, enum ctx c, size_t var)
{
    char ref[48];
    switch (c) {
    case C_DQ:
    case C_HEREDOC:
    case C_COMMENT:
        snprintf(ref, sizeof ref, "${POML_V%zu}", var);
        break;
    case C_SQ:
        snprintf(ref, sizeof ref, "'\"${POML_V%zu}\"'", var);
        break;
    default:
        snprintf(ref, sizeof ref, "\"${POML_V%zu}\"", var);
        break;
    }
    return pr_buf_append(out, ref, strlen(ref));
}

int pr_shell_prepare(const struct pr_shell_part *parts, size_t nparts,
                     struct pr_shell_cmd *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    if (err && errcap)
        err[0] = '\0';
    struct lexer lx;
    memset(&lx, 0, sizeof lx);
    lx.prev = '\n';
    pr_buf_init(&lx.line);
    struct pr_buf s;
    pr_buf_init(&s);
    int rc = 0;
    for (size_t p = 0; p < nparts && rc == 0; p++) {
        const struct pr_shell_part *pt = &parts[p];
        if (pt->text) {
            for (size_t i = 0; i < pt->len; i++)
                feed(&lx, pt->text, i, pt->len);
            rc = pr_buf_append(&s, pt->text, pt->len);
            continue;
        }
        out->nvars++;
        if (top(&lx) == C_HEREDOC) {
            lx.line_has_var = true;
            if (lx.cur.quoted) {
                pr_errf(err, errcap,
                        "${...} inside the quoted here-document '%s' is "
                        "not expanded by the shell; write <<%s instead of "
                        "<<'%s'",
                        lx.cur.delim, lx.cur.delim, lx.cur.delim);
                rc = -1;
                break;
            }
        }
        lx.prev = 'x';
        rc = emit_ref(&s, top(&lx), out->nvars);
    }
    pr_buf_free(&lx.line);
    if (rc == 0)
        rc = pr_buf_append_u8(&s, 0);
    if (rc < 0) {
        if (err && !err[0])
            pr_errf(err, errcap, "out of memory");
        pr_buf_free(&s);
        pr_shell_cmd_free(out);
        return -1;
    }
    out->script = (char *)s.data;
    if (is_simple(parts, nparts) && split_words(parts, nparts, out) < 0) {
        pr_errf(err, errcap, "out of memory");
        pr_shell_cmd_free(out);
        return -1;
    }
    return 0;
}

void pr_shell_cmd_free(struct pr_shell_cmd *c)
{
    for (size_t i = 0; i < c->nwords; i++)
        free(c->argv_words[i].pieces);
    free(c->argv_words);
    free(c->script);
    memset(c, 0, sizeof *c);
}
