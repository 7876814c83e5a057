/* shell.c -- the quoting lexer for `run` commands (see shell.h)
 *
 * One pass over the text follows the POSIX shell's quoting rules as a
 * state machine with a stack of contexts, so that at each ${...} it knows
 * how the reference must be written to expand to one unsplit, unglobbed
 * word.  The word contexts (the top level, ( ), $( ), backquotes) also
 * follow the command structure: which word is a command name, an
 * assignment, a redirection target or a case pattern, and which argument
 * is program text of another interpreter.  Direct execution of one plain
 * simple command is decided separately, from the text alone.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "shell.h"
#include "util.h"

/* Deeper nesting than this is refused (no script needs it; hostile text
 * must not exhaust memory). */
#define MAX_DEPTH 256
#define MAX_SUBSCRIPT 8 /* sh -c inside sh -c ... checked */
#define VAR_BASE 256    /* in[i] >= VAR_BASE: a ${...} */

enum kind {
    F_TOP,      /* the script */
    F_SUB,      /* ( subshell ) */
    F_CMD,      /* $( ... ), <( ... ) */
    F_BQ,       /* ` ... ` */
    F_DQ,       /* " ... " */
    F_SQ,       /* ' ... ', $' ... ' */
    F_PARAM,    /* ${ ... } */
    F_PARAM_DQ, /* ${ ... } inside "..." */
    F_ARITH,    /* $(( ... )) */
    F_HEREDOC   /* a here-document body */
};

/* What the next word of a word context is. */
enum wstate {
    W_CMD,       /* a command name or an assignment */
    W_ARG,       /* an argument */
    W_REDIR,     /* the target of a redirection */
    W_FOR_NAME,  /* for NAME */
    W_FOR_LIST,  /* for x in WORDS */
    W_CASE_WORD, /* case WORD */
    W_CASE_IN,   /* case x IN */
    W_PATTERN    /* case x in PATTERN) */
};

/* Commands whose arguments matter. */
enum prog {
    P_NONE,
    P_OTHER,
    P_SH,     /* -c SCRIPT */
    P_EVAL,   /* every argument */
    P_TRAP,   /* the first argument */
    P_AWK,    /* the program operand */
    P_SED,    /* -e SCRIPT, or the first operand */
    P_DASH_E, /* perl, ruby, node: -e SCRIPT */
    P_DASH_C, /* python: -c SCRIPT */
    P_NAMES   /* export, read, ...: variable names */
};

struct heredoc {
    char *delim;
    size_t len;
    bool quoted, strip_tabs;
};

struct frame {
    enum kind kind;
    bool ansi;         /* F_SQ opened by $' */
    bool pdq;          /* F_SQ inside "${x:-'...'}": the quotes
                          are literal but must pair, and
                          expansions inside are made */
    bool arith;        /* F_SUB opened by (( (bash arithmetic) */
    bool unsure;       /* F_BQ: escaped quotes or backquotes */
    bool in_dq;        /* F_BQ opened inside "..." */
    bool refused;      /* F_BQ: its escapes already refused */
    int parens;        /* F_ARITH: open ( */
    struct heredoc hd; /* F_HEREDOC */
    /* word contexts: the word being read, after quote removal */
    struct pr_buf word;
    bool in_word, quoted, dynamic, pattern, name_so_far;
    long eq; /* offset of an assignment's '=', or -1 */
    enum wstate ws, saved_ws;
    enum prog prog;
    char progname[32];
    int wrap;        /* 0, or 'c' (command, exec), 'e' (env) */
    bool skip_next;  /* the next word is an option's argument */
    bool opt_code;   /* the next operand is program text */
    bool prog_given; /* awk / sed / sh: program already given */
    bool just_named; /* the last token was a command name */
    bool func_paren; /* NAME ( read: expecting ) */
    long named_run;  /* runs[] index of that name, or -1 */
    int ncase;       /* open case ... esac */
};

struct delim {
    bool on, started, quoted, strip_tabs;
    char q;
    struct pr_buf text;
};

struct lexer {
    const int *in;
    size_t n;
    struct frame *st;
    size_t depth, cap;       /* st[0..depth) */
    struct heredoc *pending; /* read after the next newline */
    size_t npending, pcap;
    struct delim dl;
    struct pr_buf line; /* the current line of a here-document */
    bool line_has_var;
    bool comment;
    bool diverged; /* after $'..\..': bash and sh disagree */
    bool cd_seen;
    int level; /* sh -c nesting */
    struct pr_shell_cmd *out;
    char *err;
    size_t errcap;
    int rc; /* -1: failed, ERR says why */
};

static int C(const struct lexer *lx, size_t i)
{
    return i < lx->n ? lx->in[i] : -1;
}

static struct frame *top(struct lexer *lx)
{
    return &lx->st[lx->depth - 1];
}

static bool word_kind(enum kind k)
{
    return k == F_TOP || k == F_SUB || k == F_CMD || k == F_BQ;
}

static int fail(struct lexer *lx, const char *msg)
{
    if (lx->rc == 0)
        pr_errf(lx->err, lx->errcap, "%s", msg);
    lx->rc = -1;
    return -1;
}

static void push(struct lexer *lx, enum kind k)
{
    if (lx->rc)
        return;
    if (lx->depth >= MAX_DEPTH) {
        fail(lx, "the command nests quotes and substitutions more than "
                 "256 deep");
        return;
    }
    if (pr_grow((void **)&lx->st, &lx->cap, lx->depth + 1, sizeof *lx->st)) {
        fail(lx, "out of memory");
        return;
    }
    struct frame *f = &lx->st[lx->depth++];
    memset(f, 0, sizeof *f);
    f->kind = k;
    f->eq = -1;
    f->named_run = -1;
    f->ws = W_CMD;
    pr_buf_init(&f->word);
}

static void pop(struct lexer *lx)
{
    if (lx->depth <= 1)
        return;
    struct frame *f = top(lx);
    pr_buf_free(&f->word);
    free(f->hd.delim);
    lx->depth--;
}

/* The innermost word context, or NULL inside a here-document body. */
static struct frame *word_frame(struct lexer *lx)
{
    for (size_t d = lx->depth; d-- > 0;) {
        if (lx->st[d].kind == F_HEREDOC)
            return NULL;
        if (word_kind(lx->st[d].kind))
            return &lx->st[d];
    }
    return NULL;
}

static bool in_heredoc(const struct lexer *lx)
{
    for (size_t d = lx->depth; d-- > 0;)
        if (lx->st[d].kind == F_HEREDOC)
            return true;
    return false;
}

/* ---- the commands ---- */

static void add_run(struct lexer *lx, const char *name, const char *why)
{
    struct pr_shell_cmd *o = lx->out;
    void *p = realloc(o->runs, (o->nruns + 1) * sizeof *o->runs);
    if (!p) {
        fail(lx, "out of memory");
        return;
    }
    o->runs = p;
    char *n = name ? strdup(name) : NULL, *w = why ? strdup(why) : NULL;
    if ((name && !n) || (why && !w)) {
        free(n);
        free(w);
        fail(lx, "out of memory");
        return;
    }
    o->runs[o->nruns++] = (struct pr_shell_run){n, w};
}

static void refuse(struct lexer *lx, const char *fmt, const char *arg)
{
    char why[300];
    snprintf(why, sizeof why, fmt, arg);
    add_run(lx, NULL, why);
}

bool pr_shell_protected_var(const char *name, size_t len)
{
    static const char *const names[] = {
        "PATH", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", NULL};
    for (size_t k = 0; names[k]; k++)
        if (strlen(names[k]) == len && !memcmp(names[k], name, len))
            return true;
    return (len >= 3 && !memcmp(name, "LD_", 3)) ||
           (len >= 10 && !memcmp(name, "BASH_FUNC_", 10));
}

static void check_var_name(struct lexer *lx, const char *w, size_t len)
{
    if (pr_shell_protected_var(w, len)) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len < 60 ? len : 60), w);
        refuse(lx,
               "setting '%s' changes which programs run; a policy "
               "does not allow it",
               name);
    }
}

static bool in_list(const char *w, const char *const *list)
{
    for (size_t k = 0; list[k]; k++)
        if (!strcmp(w, list[k]))
            return true;
    return false;
}

/* The shell's own commands that run no program. */
static const char *const harmless[] = {
    ":",     "true",    "false",  "cd",       "pwd",   "echo",  "printf",
    "test",  "[",       "export", "readonly", "set",   "shift", "unset",
    "exit",  "return",  "break",  "continue", "local", "read",  "wait",
    "umask", "getopts", "times",  NULL};

static const char *base_name(const char *w)
{
    const char *s = strrchr(w, '/');
    return s ? s + 1 : w;
}

static enum prog classify(const char *w)
{
    static const char *const sh[] = {"sh",  "bash", "dash", "ksh",  "mksh",
                                     "zsh", "ash",  "posh", "yash", NULL};
    static const char *const awk[] = {"awk", "gawk", "mawk", "nawk", NULL};
    static const char *const dash_e[] = {"perl", "ruby", "node", "nodejs",
                                         NULL};
    static const char *const names[] = {"export",  "readonly", "local",
                                        "read",    "unset",    "getopts",
                                        "declare", "typeset",  NULL};
    const char *b = base_name(w);
    if (in_list(b, sh))
        return P_SH;
    if (in_list(b, awk))
        return P_AWK;
    if (!strcmp(b, "sed"))
        return P_SED;
    if (in_list(b, dash_e))
        return P_DASH_E;
    if (!strncmp(b, "python", 6))
        return P_DASH_C;
    if (!strcmp(w, "eval"))
        return P_EVAL;
    if (!strcmp(w, "trap"))
        return P_TRAP;
    if (in_list(w, names))
        return P_NAMES;
    return P_OTHER;
}

static void subscript(struct lexer *lx, const char *text, size_t len);

/* A word at a command's start: a keyword, an assignment, a wrapper's
 * option or the command's name. */
static void command_word(struct lexer *lx, struct frame *f, const char *w,
                         size_t len)
{
    if (f->wrap && f->skip_next) {
        f->skip_next = false;
        if (f->wrap == 'e')
            check_var_name(lx, w, len);
        return;
    }
    if (f->wrap && w[0] == '-' && !f->dynamic) {
        if (!strcmp(w, "--"))
            return;
        if (f->wrap == 'e' && (strchr("SC", w[1]) || !strncmp(w, "--s", 3) ||
                               !strncmp(w, "--c", 3) || w[1] == 'P')) {
            refuse(lx,
                   "'env %s' runs a command the policy cannot see; "
                   "name the command directly",
                   w);
            return;
        }
        if ((f->wrap == 'e' && !strcmp(w, "-u")) ||
            (f->wrap == 'c' && !strcmp(w, "-a")))
            f->skip_next = true;
        return;
    }
    if (f->eq > 0 && (f->wrap == 'e' || !f->wrap)) {
        check_var_name(lx, w, (size_t)f->eq);
        return;
    }
    bool brace = !strcmp(w, "{") || !strcmp(w, "}");
    if (!f->wrap && !f->quoted && !f->dynamic && (!f->pattern || brace)) {
        static const char *const keep[] = {"if", "then",  "else",  "elif",
                                           "do", "while", "until", "!",
                                           "{",  NULL};
        static const char *const end[] = {"fi", "done", "}", NULL};
        if (in_list(w, keep))
            return;
        if (in_list(w, end)) {
            f->ws = W_ARG;
            f->prog = P_NONE;
            return;
        }
        if (!strcmp(w, "esac")) {
            if (f->ncase > 0)
                f->ncase--;
            f->ws = W_ARG;
            f->prog = P_NONE;
            return;
        }
        if (!strcmp(w, "for")) {
            f->ws = W_FOR_NAME;
            return;
        }
        if (!strcmp(w, "case")) {
            f->ws = W_CASE_WORD;
            return;
        }
    }
    f->ws = W_ARG;
    f->prog = P_OTHER;
    f->skip_next = f->opt_code = f->prog_given = false;
    int wrapped = f->wrap;
    f->wrap = 0;
    if (f->dynamic || (f->pattern && strcmp(w, "["))) {
        char shown[80] = "";
        if (len)
            snprintf(shown, sizeof shown, " '%.*s%s'",
                     len > 60 ? 60 : (int)len, w, len > 60 ? "..." : "");
        refuse(lx,
               "the command name%s is made at run time (from a value, "
               "an expansion or a pattern), so the policy cannot check "
               "it; write the program's name",
               shown);
        return;
    }
    f->named_run = -1;
    snprintf(f->progname, sizeof f->progname, "%s", w);
    f->prog = classify(w);
    if (!strcmp(w, "command") || !strcmp(w, "exec") ||
        !strcmp(base_name(w), "env")) {
        f->ws = W_CMD;
        f->wrap = w[0] == 'c' || !strcmp(w, "exec") ? 'c' : 'e';
        return;
    }
    if (!strcmp(w, "cd"))
        lx->cd_seen = true;
    if (!wrapped && in_list(w, harmless)) {
        f->just_named = true;
        return;
    }
    if (!strcmp(w, "eval") || !strcmp(w, ".") || !strcmp(w, "source") ||
        !strcmp(w, "alias")) {
        refuse(lx,
               "'%s' runs text as shell commands, which the policy "
               "cannot check; write the commands themselves",
               w);
        return;
    }
    if (strchr(w, '/') && w[0] != '/' && lx->cd_seen) {
        refuse(lx,
               "'%s' after 'cd' names a file relative to another "
               "directory; give its absolute path",
               w);
        return;
    }
    if (f->prog == P_TRAP)
        return; /* its action is checked */
    f->named_run = (long)lx->out->nruns;
    f->just_named = true;
    add_run(lx, w, NULL);
}

static bool starts_option(const struct frame *f, const char *w)
{
    return w[0] == '-' && w[1] && !f->dynamic;
}

static void arg_word(struct lexer *lx, struct frame *f, const char *w,
                     size_t len)
{
    bool skip = f->skip_next;
    f->skip_next = false;
    switch (f->prog) {
    case P_NAMES:
        if (f->dynamic && !strcmp(f->progname, "export"))
            refuse(lx,
                   "'%s' with a variable name made at run time; "
                   "write the name",
                   f->progname);
        else if (w[0] != '-')
            check_var_name(lx, w, f->eq >= 0 ? (size_t)f->eq : len);
        break;
    case P_SH:
        if (f->opt_code) {
            f->opt_code = false;
            f->prog_given = true;
            if (f->dynamic) {
                char what[40];
                snprintf(what, sizeof what, "%s -c", f->progname);
                refuse(lx,
                       "'%s' runs a script made at run time, whose "
                       "commands the policy cannot check; write the "
                       "script literally",
                       what);
            } else {
                subscript(lx, w, len);
            }
        } else if (!f->prog_given && starts_option(f, w) &&
                   strncmp(w, "--", 2)) {
            if (strchr(w + 1, 'c'))
                f->opt_code = true;
        } else if (!f->prog_given && !starts_option(f, w)) {
            f->prog_given = true;
        }
        break;
    case P_TRAP:
        if (!f->prog_given) {
            f->prog_given = true;
            if (f->dynamic || (strcmp(w, "-") && len))
                refuse(lx,
                       "'%s' runs its first argument as shell "
                       "commands, which the policy cannot check",
                       "trap");
        }
        break;
    case P_AWK:
        if (skip || f->prog_given)
            break;
        if (!strcmp(w, "-f") || !strncmp(w, "--file", 6))
            f->prog_given = true, f->skip_next = w[2] == '\0';
        else if (!strcmp(w, "-v") || !strcmp(w, "-F"))
            f->skip_next = true;
        else if (!starts_option(f, w))
            f->prog_given = true;
        break;
    case P_SED:
        if (f->opt_code)
            f->opt_code = false;
        else if (!strcmp(w, "-e") || !strcmp(w, "--expression"))
            f->opt_code = f->prog_given = true;
        else if (!strcmp(w, "-f") || !strcmp(w, "--file"))
            f->prog_given = true, f->skip_next = true;
        else if (!skip && !starts_option(f, w))
            f->prog_given = true;
        break;
    case P_DASH_E:
    case P_DASH_C:
        if (f->opt_code)
            f->opt_code = false;
        else if (!f->prog_given &&
                 !strcmp(w, f->prog == P_DASH_E ? "-e" : "-c"))
            f->opt_code = true;
        else if (f->prog == P_DASH_E && !strcmp(w, "-E"))
            f->opt_code = true;
        else if (!starts_option(f, w))
            f->prog_given = true;
        break;
    default:
        break;
    }
}

/* Whether the word F is reading is program text of another interpreter
 * (F's state reflects the words before it). */
static bool code_word(const struct frame *f)
{
    bool opt = f->word.len && f->word.data[0] == '-' && !f->quoted;
    if (f->ws != W_ARG)
        return false;
    switch (f->prog) {
    case P_EVAL:
        return true;
    case P_SH:
    case P_DASH_E:
    case P_DASH_C:
        return f->opt_code;
    case P_TRAP:
        return !f->prog_given;
    case P_AWK:
        return !f->prog_given && !f->skip_next && !opt;
    case P_SED:
        return f->opt_code || (!f->prog_given && !f->skip_next && !opt);
    default:
        return false;
    }
}

static void reset_word(struct frame *f)
{
    f->word.len = 0;
    f->in_word = f->quoted = f->dynamic = f->pattern = false;
    f->name_so_far = true;
    f->eq = -1;
}

static void end_word(struct lexer *lx, struct frame *f)
{
    if (!f->in_word)
        return;
    if (pr_buf_append_u8(&f->word, 0) < 0) {
        fail(lx, "out of memory");
        return;
    }
    const char *w = (const char *)f->word.data;
    size_t len = f->word.len - 1;
    bool plain = !f->quoted && !f->dynamic;
    switch (f->ws) {
    case W_REDIR:
        f->ws = f->saved_ws;
        break;
    case W_FOR_NAME:
        check_var_name(lx, w, len);
        f->ws = W_FOR_LIST;
        break;
    case W_FOR_LIST:
        break;
    case W_CASE_WORD:
        f->ws = W_CASE_IN;
        break;
    case W_CASE_IN:
        if (plain && !strcmp(w, "in")) {
            f->ws = W_PATTERN;
            f->ncase++;
        }
        break;
    case W_PATTERN:
        if (plain && !strcmp(w, "esac")) {
            if (f->ncase > 0)
                f->ncase--;
            f->ws = W_ARG;
            f->prog = P_NONE;
        }
        break;
    case W_CMD:
        command_word(lx, f, w, len);
        break;
    case W_ARG:
        arg_word(lx, f, w, len);
        break;
    }
    reset_word(f);
}

/* A character of the word F reads; QUOTED: it was quoted. */
static void word_add(struct lexer *lx, struct frame *f, int ch, bool quoted)
{
    if (!f)
        return;
    if (!f->in_word) {
        reset_word(f);
        f->in_word = true;
        if (!quoted && ch == '~')
            f->pattern = true;
        if (isdigit(ch))
            f->name_so_far = false;
    }
    if (quoted) {
        f->quoted = true;
        if (f->eq < 0)
            f->name_so_far = false;
    } else if (strchr("*?[{}", ch)) {
        f->pattern = true;
        if (f->eq < 0)
            f->name_so_far = false;
    } else if (ch == '=' && f->eq < 0 && f->name_so_far && f->word.len) {
        f->eq = (long)f->word.len;
    } else if (f->eq < 0 && !(isalnum(ch) || ch == '_')) {
        f->name_so_far = false;
    }
    if (pr_buf_append_u8(&f->word, (uint8_t)ch) < 0)
        fail(lx, "out of memory");
}

/* An expansion inside the word being read: not literal text. */
static void word_dynamic(struct lexer *lx)
{
    struct frame *f = word_frame(lx);
    if (!f)
        return;
    if (!f->in_word) {
        reset_word(f);
        f->in_word = true;
    }
    f->dynamic = true;
    f->name_so_far = false;
}

/* A separator (; & | newline): the next word starts a command. */
static void separator(struct frame *f, bool newline)
{
    f->wrap = 0;
    f->skip_next = f->opt_code = false;
    f->func_paren = false;
    if (newline &&
        (f->ws == W_CASE_WORD || f->ws == W_CASE_IN || f->ws == W_PATTERN))
        return;
    f->ws = W_CMD;
}

static void start_heredoc(struct lexer *lx)
{
    if (!lx->npending)
        return;
    struct heredoc h = lx->pending[0];
    memmove(lx->pending, lx->pending + 1,
            (lx->npending - 1) * sizeof *lx->pending);
    lx->npending--;
    push(lx, F_HEREDOC);
    if (lx->rc) {
        free(h.delim);
        return;
    }
    top(lx)->hd = h;
    lx->line.len = 0;
    lx->line_has_var = false;
}

/* ---- here-document delimiters ---- */

static void delim_finish(struct lexer *lx)
{
    struct delim *d = &lx->dl;
    d->on = false;
    if (!d->text.len)
        return;
    if (pr_grow((void **)&lx->pending, &lx->pcap, lx->npending + 1,
                sizeof *lx->pending)) {
        fail(lx, "out of memory");
        return;
    }
    struct heredoc h = {malloc(d->text.len + 1), d->text.len, d->quoted,
                        d->strip_tabs};
    if (!h.delim) {
        fail(lx, "out of memory");
        return;
    }
    memcpy(h.delim, d->text.data, d->text.len);
    h.delim[h.len] = '\0';
    lx->pending[lx->npending++] = h;
}

/* A character of a delimiter word; 0: it ended the word, lex it again. */
static size_t delim_char(struct lexer *lx, size_t i)
{
    struct delim *d = &lx->dl;
    int ch = C(lx, i), nx = C(lx, i + 1);
    size_t adv = 1;
    if (!d->started && !d->q && (ch == ' ' || ch == '\t'))
        return 1;
    d->started = true;
    if (d->q) {
        if (ch == d->q) {
            d->q = 0;
            return 1;
        }
        if (d->q == '"' && ch == '\\' && nx >= 0 && nx < VAR_BASE &&
            strchr("$`\"\\", nx))
            ch = nx, adv = 2;
        if (pr_buf_append_u8(&d->text, (uint8_t)ch) < 0)
            fail(lx, "out of memory");
        return adv;
    }
    if (ch == '\'' || ch == '"') {
        d->q = (char)ch;
        d->quoted = true;
        return 1;
    }
    if (ch == '\\' && nx >= 0 && nx < VAR_BASE) {
        d->quoted = true;
        pr_buf_append_u8(&d->text, (uint8_t)nx);
        return 2;
    }
    if (strchr(" \t\n;&|()<>", ch)) {
        delim_finish(lx);
        return 0;
    }
    pr_buf_append_u8(&d->text, (uint8_t)ch);
    return 1;
}

static void delim_start(struct lexer *lx, bool strip)
{
    struct delim *d = &lx->dl;
    d->on = true;
    d->started = d->quoted = false;
    d->strip_tabs = strip;
    d->q = 0;
    d->text.len = 0;
}

static bool line_ends_heredoc(struct lexer *lx, const struct heredoc *h)
{
    const char *s = (const char *)lx->line.data;
    size_t n = lx->line.len;
    if (lx->line_has_var)
        return false;
    if (h->strip_tabs)
        while (n && *s == '\t')
            s++, n--;
    return n == h->len && memcmp(s, h->delim, n) == 0;
}

/* ---- the contexts ---- */

/* At '$' (T[i]): the expansion it starts.  Returns the bytes read. */
static size_t dollar(struct lexer *lx, size_t i, bool dq)
{
    int a = C(lx, i + 1), b = C(lx, i + 2);
    word_dynamic(lx);
    if (a == '(' && b == '(') {
        push(lx, F_ARITH);
        return 3;
    }
    if (a == '(') {
        push(lx, F_CMD);
        return 2;
    }
    if (a == '{') {
        push(lx, dq ? F_PARAM_DQ : F_PARAM);
        return 2;
    }
    if (a == '\'' && !dq) {
        push(lx, F_SQ);
        if (!lx->rc)
            top(lx)->ansi = true;
        return 2;
    }
    return 1;
}

static size_t dq_char(struct lexer *lx, size_t i, bool heredoc)
{
    struct frame *f = top(lx);
    int ch = C(lx, i), nx = C(lx, i + 1);
    struct frame *w = heredoc ? NULL : word_frame(lx);
    if (ch == '\\') {
        if (nx >= 0 && nx < VAR_BASE &&
            strchr(heredoc ? "$`\\\n" : "$`\"\\\n", nx)) {
            if (nx != '\n')
                word_add(lx, w, nx, true);
            return 2;
        }
        word_add(lx, w, ch, true);
        return 1;
    }
    if (ch == '"' && !heredoc) {
        pop(lx);
        return 1;
    }
    if (ch == '`') {
        word_dynamic(lx);
        push(lx, F_BQ);
        if (!lx->rc)
            top(lx)->in_dq = true;
        return 1;
    }
    if (ch == '$')
        return dollar(lx, i, true);
    (void)f;
    word_add(lx, w, ch, true);
    return 1;
}

/* Characters that start or continue expansions inside ${ } and $(( )). */
static size_t nested_char(struct lexer *lx, size_t i, bool dq)
{
    int ch = C(lx, i), nx = C(lx, i + 1);
    if (ch == '\\')
        return nx >= 0 && nx < VAR_BASE ? 2 : 1;
    if (ch == '\'' && top(lx)->kind != F_ARITH) {
        push(lx, F_SQ);
        if (!lx->rc)
            top(lx)->pdq = dq;
        return 1;
    }
    if (ch == '"') {
        push(lx, F_DQ);
        return 1;
    }
    if (ch == '`') {
        push(lx, F_BQ);
        if (!lx->rc)
            top(lx)->in_dq = dq;
        return 1;
    }
    if (ch == '$')
        return dollar(lx, i, dq);
    return 1;
}

static size_t redirection(struct lexer *lx, struct frame *f, size_t i)
{
    int ch = C(lx, i), a = C(lx, i + 1), b = C(lx, i + 2);
    /* an IO number (2>, 0<) belongs to the operator */
    if (f->in_word && !f->quoted && !f->dynamic && f->word.len) {
        bool digits = true;
        for (size_t k = 0; k < f->word.len; k++)
            digits &= isdigit(f->word.data[k]) != 0;
        if (digits)
            reset_word(f);
    }
    end_word(lx, f);
    if (a == '(') { /* bash's <( ) and >( ) */
        word_dynamic(lx);
        push(lx, F_CMD);
        return 2;
    }
    if (f->ws != W_REDIR)
        f->saved_ws = f->ws;
    if (ch == '<' && a == '<' && b != '<') {
        bool strip = b == '-';
        delim_start(lx, strip);
        return strip ? 3 : 2;
    }
    f->ws = W_REDIR;
    if (ch == '<' && a == '<' && b == '<')
        return 3;
    if (a == '>' || a == '&' || a == '|' || (ch == '<' && a == '<'))
        return 2;
    return 1;
}

static size_t word_char(struct lexer *lx, size_t i)
{
    struct frame *f = top(lx);
    int ch = C(lx, i), nx = C(lx, i + 1);
    bool named = f->just_named;
    if (ch != ' ' && ch != '\t')
        f->just_named = false;
    switch (ch) {
    case '\\':
        if (nx == '\n')
            return 2;
        if (nx < 0 || nx >= VAR_BASE) {
            word_add(lx, f, '\\', true);
            return 1;
        }
        if (f->kind == F_BQ && (nx == '`' || (f->in_dq && nx == '"')))
            f->unsure = true;
        if (f->kind == F_BQ && strchr("`$\\", nx) && !f->refused) {
            f->refused = true;
            refuse(lx, "%s",
                   "inside backquotes, \\` \\$ and \\\\ hide "
                   "commands from the policy; write $( ) instead "
                   "of ` `");
        }
        word_add(lx, f, nx, true);
        return 2;
    case '\'':
        word_add(lx, f, '\'', true);
        f->word.len--;
        push(lx, F_SQ);
        return 1;
    case '"':
        word_add(lx, f, '"', true);
        f->word.len--;
        push(lx, F_DQ);
        return 1;
    case '`':
        if (f->kind == F_BQ) {
            end_word(lx, f);
            pop(lx);
            return 1;
        }
        word_dynamic(lx);
        push(lx, F_BQ);
        return 1;
    case '$':
        return dollar(lx, i, false);
    case ' ':
    case '\t':
        end_word(lx, f);
        return 1;
    case '\n':
        end_word(lx, f);
        separator(f, true);
        start_heredoc(lx);
        return 1;
    case ';':
        end_word(lx, f);
        if (nx == ';' || nx == '&') {
            f->ws = f->ncase ? W_PATTERN : W_CMD;
            return nx == ';' && C(lx, i + 2) == '&' ? 3 : 2;
        }
        separator(f, false);
        return 1;
    case '&':
        end_word(lx, f);
        if (nx == '>')
            return redirection(lx, f, i + 1) + 1;
        separator(f, false);
        return nx == '&' ? 2 : 1;
    case '|':
        end_word(lx, f);
        if (f->ws == W_PATTERN)
            return 1;
        separator(f, false);
        return nx == '|' || nx == '&' ? 2 : 1;
    case '(':
        end_word(lx, f);
        if (f->just_named || named) {
            f->just_named = false;
            f->func_paren = true;
            if (f->named_run >= 0 &&
                (size_t)f->named_run == lx->out->nruns - 1) {
                struct pr_shell_run *r = &lx->out->runs[--lx->out->nruns];
                free(r->name);
                free(r->why);
            }
            f->named_run = -1;
            return 1;
        }
        if (f->ws == W_PATTERN)
            return 1;
        if (f->ws == W_CMD && nx == '(') {
            push(lx, F_SUB);
            if (!lx->rc)
                top(lx)->arith = true;
            push(lx, F_SUB);
            if (!lx->rc)
                top(lx)->arith = true;
            return 2;
        }
        push(lx, F_SUB);
        return 1;
    case ')':
        end_word(lx, f);
        if (f->func_paren) {
            f->func_paren = false;
            f->ws = W_CMD;
            return 1;
        }
        if (f->ws == W_PATTERN) {
            f->ws = W_CMD;
            return 1;
        }
        if (f->kind == F_SUB || f->kind == F_CMD) {
            pop(lx);
            struct frame *p = top(lx);
            if (f == p)
                return 1;
            if (word_kind(p->kind) && !p->in_word) {
                p->ws = W_ARG; /* ( list ): redirections may follow */
                p->prog = P_NONE;
            }
        }
        return 1;
    case '<':
    case '>':
        return redirection(lx, f, i);
    case '#':
        if (!f->in_word) {
            lx->comment = true;
            return 1;
        }
        word_add(lx, f, ch, false);
        return 1;
    default:
        word_add(lx, f, ch, false);
        return 1;
    }
}

/* Reads the byte at IN[i] (and what it starts); returns how many bytes
 * it took, 0 when the byte must be read again in the new state. */
static size_t lex(struct lexer *lx, size_t i)
{
    int ch = C(lx, i);
    if (lx->comment) {
        if (ch != '\n')
            return 1;
        lx->comment = false;
    }
    if (lx->dl.on)
        return delim_char(lx, i);
    struct frame *f = top(lx);
    switch (f->kind) {
    case F_HEREDOC:
        return f->hd.quoted ? 1 : dq_char(lx, i, true);
    case F_SQ:
        if (ch == '\'') {
            pop(lx);
            return 1;
        }
        if (f->pdq)
            return ch == '"' ? 1 : nested_char(lx, i, true);
        if (f->ansi && ch == '\\') {
            lx->diverged = true;
            word_add(lx, word_frame(lx), ch, true);
            return C(lx, i + 1) >= 0 && C(lx, i + 1) < VAR_BASE ? 2 : 1;
        }
        word_add(lx, word_frame(lx), ch, true);
        return 1;
    case F_DQ:
        return dq_char(lx, i, false);
    case F_PARAM:
    case F_PARAM_DQ:
        if (ch == '}') {
            pop(lx);
            return 1;
        }
        return nested_char(lx, i, f->kind == F_PARAM_DQ);
    case F_ARITH:
        if (ch == '(') {
            f->parens++;
            return 1;
        }
        if (ch == ')') {
            if (f->parens == 0 && C(lx, i + 1) == ')') {
                pop(lx);
                return 2;
            }
            if (f->parens > 0)
                f->parens--;
            return 1;
        }
        return nested_char(lx, i, true);
    default:
        return word_char(lx, i);
    }
}

/* ---- values ---- */

static int emit_var(struct lexer *lx, struct pr_buf *s, size_t var)
{
    struct pr_shell_var *v = &lx->out->vars[var - 1];
    struct frame *f = top(lx);
    if (lx->dl.on)
        return fail(lx, "a here-document delimiter cannot come from a "
                        "${...}; write the delimiter literally");
    if (lx->diverged)
        return fail(lx, "after a $'...' string with a backslash, sh and "
                        "bash read the rest of the command differently, so "
                        "a ${...} there has no knowable quoting; use '...' "
                        "or \"...\" instead");
    bool any_arith = false;
    for (size_t d = 0; d < lx->depth; d++) {
        const struct frame *g = &lx->st[d];
        if (g->kind == F_BQ && g->unsure)
            return fail(lx, "inside backquotes with escaped quotes or "
                            "backquotes, the quoting of a ${...} cannot be "
                            "known; write $( ) instead of ` `");
        if (g->kind == F_ARITH || g->arith)
            any_arith = true;
    }
    if (in_heredoc(lx))
        lx->line_has_var = true;
    if (f->kind == F_HEREDOC && f->hd.quoted) {
        char msg[600];
        snprintf(msg, sizeof msg,
                 "${...} inside the quoted here-document '%.150s' is not "
                 "expanded by the shell; write <<%.150s instead of "
                 "<<'%.150s'",
                 f->hd.delim, f->hd.delim, f->hd.delim);
        return fail(lx, msg);
    }
    if (any_arith)
        v->use = PR_SHELL_NUMBER;
    for (size_t d = 0; d < lx->depth && v->use == PR_SHELL_DATA; d++) {
        struct frame *g = &lx->st[d];
        if (!word_kind(g->kind) || !code_word(g))
            continue;
        v->use = PR_SHELL_CODE;
        snprintf(v->prog, sizeof v->prog, "%.20s%s", g->progname,
                 g->prog == P_SH || g->prog == P_DASH_C ? " -c"
                 : g->prog == P_DASH_E                  ? " -e"
                                                        : "");
    }
    char ref[64];
    if (lx->comment || f->kind == F_DQ || f->kind == F_HEREDOC ||
        f->kind == F_ARITH || (f->kind == F_SQ && f->pdq))
        snprintf(ref, sizeof ref, "${POML_V%zu}", var);
    else if (f->kind == F_SQ)
        snprintf(ref, sizeof ref, "'\"${POML_V%zu}\"%s'", var,
                 f->ansi ? "$" : ""); /* reopen $' as $' */
    else
        snprintf(ref, sizeof ref, "\"${POML_V%zu}\"", var);
    if (!lx->comment) {
        word_dynamic(lx);
        struct frame *w = word_frame(lx);
        if (w)
            w->just_named = false;
    }
    if (pr_buf_append(s, ref, strlen(ref)) < 0)
        return fail(lx, "out of memory");
    return 0;
}

/* ---- one pass ---- */

static void lexer_free(struct lexer *lx)
{
    while (lx->depth > 1)
        pop(lx);
    if (lx->depth)
        pr_buf_free(&lx->st[0].word);
    free(lx->st);
    for (size_t k = 0; k < lx->npending; k++)
        free(lx->pending[k].delim);
    free(lx->pending);
    pr_buf_free(&lx->dl.text);
    pr_buf_free(&lx->line);
}

/* Lexes IN[0..N), writing the script into S (when not NULL). */
static int run_lexer(struct lexer *lx, struct pr_buf *s)
{
    size_t var = 0;
    push(lx, F_TOP);
    for (size_t i = 0; i < lx->n && lx->rc == 0;) {
        if (lx->in[i] >= VAR_BASE) {
            if (s)
                emit_var(lx, s, ++var);
            i++;
            continue;
        }
        bool hd = in_heredoc(lx) && !lx->comment;
        if (hd && lx->in[i] == '\n') {
            size_t d = lx->depth;
            while (d-- > 0 && lx->st[d].kind != F_HEREDOC)
                ;
            bool end = line_ends_heredoc(lx, &lx->st[d].hd);
            lx->line.len = 0;
            lx->line_has_var = false;
            if (end) {
                while (lx->depth > d)
                    pop(lx);
                start_heredoc(lx);
                if (s && pr_buf_append_u8(s, '\n') < 0)
                    fail(lx, "out of memory");
                i++;
                continue;
            }
        }
        size_t adv = lex(lx, i);
        if (adv == 0)
            continue;
        if (i + adv > lx->n)
            adv = lx->n - i;
        for (size_t k = 0; k < adv; k++) {
            if (lx->in[i + k] >= VAR_BASE) {
                adv = k ? k : 1;
                break;
            }
        }
        for (size_t k = 0; hd && k < adv; k++)
            if (lx->in[i + k] != '\n' &&
                pr_buf_append_u8(&lx->line, (uint8_t)lx->in[i + k]) < 0)
                fail(lx, "out of memory");
        for (size_t k = 0; s && k < adv; k++)
            if (pr_buf_append_u8(s, (uint8_t)lx->in[i + k]) < 0)
                fail(lx, "out of memory");
        i += adv;
    }
    if (lx->dl.on)
        delim_finish(lx);
    for (size_t d = lx->depth; d-- > 0 && lx->rc == 0;)
        if (word_kind(lx->st[d].kind))
            end_word(lx, &lx->st[d]);
    return lx->rc;
}

/* The script of `sh -c 'TEXT'`: its commands are the step's too. */
static void subscript(struct lexer *lx, const char *text, size_t len)
{
    if (lx->level >= MAX_SUBSCRIPT) {
        refuse(lx, "%s", "shells nested in shells too deep to check");
        return;
    }
    int *in = malloc((len + 1) * sizeof *in);
    if (!in) {
        fail(lx, "out of memory");
        return;
    }
    for (size_t k = 0; k < len; k++)
        in[k] = (unsigned char)text[k];
    struct lexer sub;
    memset(&sub, 0, sizeof sub);
    sub.in = in;
    sub.n = len;
    sub.level = lx->level + 1;
    sub.out = lx->out;
    sub.err = lx->err;
    sub.errcap = lx->errcap;
    pr_buf_init(&sub.line);
    pr_buf_init(&sub.dl.text);
    if (run_lexer(&sub, NULL) < 0)
        lx->rc = -1;
    lexer_free(&sub);
    free(in);
}

/* ---- direct execution ---- */

static bool plain_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || strchr("_./:=+,@%^-", ch);
}

static const char *const needs_shell[] = {
    "!",       "{",      "}",        "case",     "do",       "done",
    "elif",    "else",   "esac",     "fi",       "for",      "if",
    "in",      "then",   "until",    "while",    "function", "select",
    ".",       ":",      "break",    "continue", "eval",     "exec",
    "exit",    "export", "readonly", "return",   "set",      "shift",
    "times",   "trap",   "unset",    "cd",       "alias",    "bg",
    "command", "fc",     "fg",       "getopts",  "hash",     "jobs",
    "read",    "type",   "ulimit",   "umask",    "unalias",  "wait",
    "local",   "source", NULL};

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
                flen = sizeof first; /* a value names the program */
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
                    return false; /* an assignment */
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
        void *w = realloc(c->argv_words,
                          (c->nwords + 1) * sizeof *c->argv_words);
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

int pr_shell_prepare(const struct pr_shell_part *parts, size_t nparts,
                     struct pr_shell_cmd *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    if (err && errcap)
        err[0] = '\0';
    size_t n = 0, nvars = 0;
    for (size_t p = 0; p < nparts; p++) {
        n += parts[p].text ? parts[p].len : 1;
        nvars += !parts[p].text;
    }
    int *in = malloc((n + 1) * sizeof *in);
    out->vars = calloc(nvars + 1, sizeof *out->vars);
    if (!in || !out->vars) {
        free(in);
        free(out->vars);
        out->vars = NULL;
        return pr_errf(err, errcap, "out of memory");
    }
    size_t k = 0;
    for (size_t p = 0; p < nparts; p++) {
        if (!parts[p].text) {
            in[k++] = VAR_BASE + (int)out->nvars++;
            continue;
        }
        for (size_t i = 0; i < parts[p].len; i++)
            in[k++] = (unsigned char)parts[p].text[i];
    }
    struct lexer lx;
    memset(&lx, 0, sizeof lx);
    lx.in = in;
    lx.n = n;
    lx.out = out;
    lx.err = err;
    lx.errcap = errcap;
    pr_buf_init(&lx.line);
    pr_buf_init(&lx.dl.text);
    struct pr_buf s;
    pr_buf_init(&s);
    int rc = run_lexer(&lx, &s);
    lexer_free(&lx);
    free(in);
    if (rc == 0 && pr_buf_append_u8(&s, 0) < 0)
        rc = pr_errf(err, errcap, "out of memory");
    if (rc < 0) {
        if (err && errcap && !err[0])
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
    for (size_t i = 0; i < c->nruns; i++) {
        free(c->runs[i].name);
        free(c->runs[i].why);
    }
    free(c->runs);
    free(c->vars);
    free(c->script);
    memset(c, 0, sizeof *c);
}

bool pr_shell_number_ok(const char *v)
{
    size_t i = v[0] == '-', digits = strspn(v + i, "0123456789");
    return digits && digits <= 18 && v[i + digits] == '\0' &&
           (v[i] != '0' || digits == 1);
}

/* ---- the policy ---- */

int pr_shell_check_policy(const struct pr_shell_cmd *c,
                          bool (*allowed)(const char *name, void *ctx),
                          void *ctx, char *err, size_t errcap)
{
    for (size_t k = 0; k < c->nruns; k++) {
        const struct pr_shell_run *r = &c->runs[k];
        if (r->why)
            return pr_errf(err, errcap, "policy: %s", r->why);
        if (!allowed(r->name, ctx))
            return pr_errf(err, errcap,
                           "policy: '%.200s' is not in allowed_commands%s",
                           r->name,
                           strchr(r->name, '/')
                               ? " (a name with a slash must be listed as "
                                 "written)"
                               : "");
    }
    return 0;
}

const char *pr_shell_runs_code(const char *name)
{
    static const char *const shells[] = {
        "sh",   "bash", "dash",    "ksh", "mksh", "zsh",  "ash",
        "posh", "yash", "busybox", "csh", "tcsh", "fish", NULL};
    static const char *const runners[] = {
        "xargs",   "find",   "nice",    "nohup", "timeout", "stdbuf",
        "time",    "setsid", "chroot",  "sudo",  "doas",    "su",
        "runuser", "strace", "ltrace",  "watch", "flock",   "parallel",
        "unshare", "ionice", "taskset", "chrt",  "script",  NULL};
    static const char *const builders[] = {"make", "gmake", "ninja", "cmake",
                                           "npm",  "yarn",  "cargo", NULL};
    static const char *const programs[] = {"awk",  "gawk", "mawk",
                                           "nawk", "sed",  NULL};
    static const char *const interps[] = {"perl",  "python", "python3", "ruby",
                                          "node",  "nodejs", "php",     "lua",
                                          "tclsh", "expect", "Rscript", NULL};
    static const char *const others[] = {"ssh",  "git", "vi", "vim",
                                         "less", "man", NULL};
    static const struct {
        const char *const *names;
        const char *why;
    } t[] = {
        {shells, "a shell runs any script it is given"},
        {runners, "it runs the command its arguments name (find -exec, "
                  "xargs CMD), which the policy does not see"},
        {builders, "it runs the commands of its build file (and make "
                   "--eval text)"},
        {programs, "its program can run commands (awk's system(), GNU "
                   "sed's e)"},
        {interps, "an interpreter runs any program it is given"},
        {others, "it can run commands named in its arguments or "
                 "configuration"},
    };
    const char *b = base_name(name);
    for (size_t k = 0; k < sizeof t / sizeof *t; k++)
        if (in_list(b, t[k].names))
            return t[k].why;
    return NULL;
}
