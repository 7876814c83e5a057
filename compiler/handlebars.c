/* handlebars.c -- template text to a tree, and the tree to compiled code
 *
 * Three passes over the text: the lexer cuts it into text and tags under
 * the current delimiters ({{=<% %>=}} changes them as it goes); the line
 * pass applies the Mustache standalone rule (a block, comment, partial or
 * delimiter tag alone on its line takes the line with it) and then the
 * Handlebars ~ marks (white space beside a tag removed); the builder pairs
 * blocks into a tree.  Encoding follows runtime/template.h.  All decisions
 * about white space are made here, so the runtime only copies bytes.
 */
#include "handlebars.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "template.h" /* runtime/template.h: the encoding */
#include "util.h"

/* ---- the tree ---- */

enum tkind { T_TEXT, T_VAR, T_BLOCK, T_PARTIAL, T_HELPER };

struct tpath {
    unsigned flags, up;
    const char **seg;
    size_t *seglen;
    size_t count;
    struct pc_loc loc;
};

struct tval {
    enum pr_tpl_arg kind;
    double num;
    const char *str; /* text */
    size_t len;
    struct tpath path;
    struct pc_loc loc;
};

struct tpair {
    const char *key;
    size_t klen;
    struct tval v;
};

struct tlist {
    struct pc_tnode **v;
    size_t n, cap;
};

struct pc_tnode {
    enum tkind kind;
    struct pc_loc loc;
    const char *text; /* text: bytes; partial: indent */
    size_t len;
    bool raw;          /* var */
    struct tpath path; /* var */
    unsigned sub;      /* block kind, helper id */
    struct tval args[2];
    size_t nargs;
    struct tpair *hash;
    size_t nhash;
    struct tlist body, els;   /* block */
    size_t partial;           /* index into pc_tpl.partials */
    bool standalone, has_ctx; /* partial */
};

/* ---- lexing ---- */

struct tok {
    bool tag;
    size_t from, to;       /* raw bytes; a tag with its delimiters */
    size_t ts, te;         /* text: what remains after the passes */
    char sigil;            /* 0 var, '{' '&' '#' '^' '/' '!' '>' '='
                              'e' (else) */
    size_t cs, ce;         /* tag content, trimmed */
    bool strip_l, strip_r; /* ~ */
    bool standalone;
    size_t ind_from, ind_to; /* a standalone tag's indentation */
};

struct parser {
    struct pc_ctx *ctx;
    struct pc_tpl *t;
    const char *s;
    size_t n;
    struct tok *toks;
    size_t ntoks, captoks;
    struct pr_arena *a;
};

static struct pc_loc at(const struct parser *p, size_t from, size_t to)
{
    return (struct pc_loc){p->t->file, p->t->base + (uint32_t)from,
                           (uint32_t)(to > from ? to - from : 1)};
}

static bool is_hspace(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static const char *find(const char *s, size_t n, size_t from, const char *w,
                        size_t wn)
{
    if (wn == 0 || n < wn)
        return NULL;
    for (size_t i = from; i + wn <= n; i++)
        if (s[i] == w[0] && memcmp(s + i, w, wn) == 0)
            return s + i;
    return NULL;
}

static struct tok *new_tok(struct parser *p)
{
    struct tok *t = PR_PUSH(p->a, p->toks, p->ntoks, p->captoks);
    if (!t)
        pc_oom(p->ctx);
    else
        memset(t, 0, sizeof *t);
    return t;
}

static void add_text(struct parser *p, size_t from, size_t to)
{
    if (to <= from)
        return;
    struct tok *t = new_tok(p);
    if (t) {
        t->from = t->ts = from;
        t->to = t->te = to;
    }
}

/* The end of a tag's content from I: the closing delimiter CLOSE outside
 * quotes, or NULL. */
static const char *tag_end(const struct parser *p, size_t from,
                           const char *close, size_t cn)
{
    char q = 0;
    size_t i = from;
    for (; i + cn <= p->n; i++) {
        char c = p->s[i];
        if (q) {
            if (c == '\\' && i + 1 < p->n)
                i++;
            else if (c == q)
                q = 0;
        } else if (c == '"' || c == '\'') {
            q = c;
        } else if (c == close[0] && !memcmp(p->s + i, close, cn)) {
            return p->s + i;
        }
    }
    /* an unbalanced quote: the first delimiter will do */
    return q ? find(p->s, p->n, from, close, cn) : NULL;
}

/* The next word of [*I, END) after white space: its start, and *I past
 * it. */
static size_t next_word(const char *s, size_t *i, size_t end)
{
    while (*i < end && is_space(s[*i]))
        (*i)++;
    size_t from = *i;
    while (*i < end && !is_space(s[*i]))
        (*i)++;
    return from;
}

/* {{=<% %>=}}: the new delimiters in OPEN and CLOSE. */
static bool set_delims(struct parser *p, size_t cs, size_t ce,
                       struct pc_loc loc, char open[16], char close[16])
{
    const char *s = p->s;
    size_t i = cs;
    size_t a0 = next_word(s, &i, ce), a1 = i;
    size_t b0 = next_word(s, &i, ce), b1 = i;
    size_t rest = next_word(s, &i, ce);
    if (a1 == a0 || b1 == b0 || rest != ce || a1 - a0 >= 16 || b1 - b0 >= 16 ||
        memchr(s + a0, '=', a1 - a0) || memchr(s + b0, '=', b1 - b0)) {
        pc_report(p->ctx, PC_D_TEMPLATE, loc,
                  "a delimiter tag needs two delimiters without spaces or "
                  "'=', of at most 15 bytes each, as in {{=<%% %%>=}}");
        return false;
    }
    memcpy(open, s + a0, a1 - a0);
    open[a1 - a0] = '\0';
    memcpy(close, s + b0, b1 - b0);
    close[b1 - b0] = '\0';
    return true;
}

static void lex(struct parser *p)
{
    char open[16] = "{{", close[16] = "}}";
    const char *s = p->s;
    size_t pos = 0;
    while (pos < p->n) {
        size_t on = strlen(open), cn = strlen(close);
        const char *o = find(s, p->n, pos, open, on);
        if (!o) {
            add_text(p, pos, p->n);
            return;
        }
        size_t from = (size_t)(o - s);
        if (from > pos && s[from - 1] == '\\' && !strcmp(open, "{{") &&
            !(from - 1 > pos && s[from - 2] == '\\')) {
            /* \{{x}}: the tag as text (Handlebars) */
            const char *c = find(s, p->n, from + on, close, cn);
            size_t end = c ? (size_t)(c - s) + cn : p->n;
            add_text(p, pos, from - 1);
            add_text(p, from, end);
            pos = end;
            continue;
        }
        if (from > pos + 1 && s[from - 1] == '\\' && s[from - 2] == '\\' &&
            !strcmp(open, "{{")) {
            add_text(p, pos, from - 1); /* \\{{x}}: a backslash, a tag */
            pos = from;
        } else {
            add_text(p, pos, from);
        }
        size_t i = from + on;
        bool strip_l = false, triple = false;
        if (i < p->n && s[i] == '~')
            strip_l = true, i++;
        if (i < p->n && s[i] == '{')
            triple = true, i++;
        char sigil = triple ? '{' : 0;
        if (!triple && i < p->n && s[i] && strchr("#^/>&!=", s[i]))
            sigil = s[i++];
        size_t cs = i, ce = i, end = i;
        const char *e;
        if (sigil == '!' && p->n - i >= 2 && s[i] == '-' && s[i + 1] == '-') {
            /* {{!-- ... --}}: may hold the closing delimiter */
            char dc[20];
            snprintf(dc, sizeof dc, "--%s", close);
            e = find(s, p->n, i + 2, dc, strlen(dc));
            const char *e2 = NULL;
            snprintf(dc, sizeof dc, "--~%s", close);
            e2 = find(s, p->n, i + 2, dc, strlen(dc));
            if (e2 && (!e || e2 < e))
                e = e2;
            if (e) {
                ce = (size_t)(e - s);
                end = ce + 2 + (s[ce + 2] == '~') + cn;
            }
        } else if (sigil == '!') {
            e = find(s, p->n, i, close, cn);
            if (e)
                ce = (size_t)(e - s), end = ce + cn;
        } else if (sigil == '=') {
            char dc[20];
            snprintf(dc, sizeof dc, "=%s", close);
            e = find(s, p->n, i, dc, strlen(dc));
            if (e)
                ce = (size_t)(e - s), end = ce + 1 + cn;
        } else {
            char dc[20];
            if (triple)
                snprintf(dc, sizeof dc, "}%s", close);
            else
                snprintf(dc, sizeof dc, "%s", close);
            e = tag_end(p, i, dc, strlen(dc));
            const char *e2 = NULL;
            if (triple) {
                snprintf(dc, sizeof dc, "}~%s", close);
                e2 = tag_end(p, i, dc, strlen(dc));
            }
            if (e2 && (!e || e2 < e)) {
                ce = (size_t)(e2 - s);
                end = ce + 2 + cn;
            } else if (e) {
                ce = (size_t)(e - s);
                end = ce + (triple ? 1 : 0) + cn;
            }
        }
        if (!e) {
            pc_report(p->ctx, PC_D_TEMPLATE, at(p, from, from + on),
                      "'%s' is not closed by '%s%s'", open,
                      triple                                      ? "}"
                      : sigil == '!' && cs < p->n && s[cs] == '-' ? "--"
                                                                  : "",
                      close);
            add_text(p, from, p->n);
            return;
        }
        struct tok *t = new_tok(p);
        if (!t)
            return;
        t->tag = true;
        t->from = from;
        t->to = end;
        t->sigil = sigil;
        t->strip_l = strip_l;
        if (!triple && sigil != '!' && ce > cs && s[ce - 1] == '~')
            t->strip_r = true, ce--;
        else if (triple && s[end - cn - 1] == '~')
            t->strip_r = true;
        else if (sigil == '!' && s[end - cn - 1] == '~')
            t->strip_r = true;
        while (cs < ce && is_space(s[cs]))
            cs++;
        while (ce > cs && is_space(s[ce - 1]))
            ce--;
        t->cs = cs;
        t->ce = ce;
        if (!sigil && ce - cs >= 4 && !memcmp(s + cs, "else", 4) &&
            (ce - cs == 4 || is_space(s[cs + 4])))
            t->sigil = 'e';
        else if (sigil == '^' && cs == ce)
            t->sigil = 'e'; /* {{^}}: else */
        if (sigil == '=' &&
            set_delims(p, cs, ce, at(p, from, end), open, close) == false)
            t->sigil = '!';
        pos = end;
    }
}

/* ---- standalone lines and ~ ---- */

static bool may_stand_alone(char sigil)
{
    return sigil && strchr("#^/!>=e", sigil);
}

/* Tag K is alone on its line: only blanks before it since the line began
 * (or the template), and only blanks then a line end (or the end) after. */
static bool standalone(struct parser *p, size_t k, size_t *ind)
{
    const char *s = p->s;
    const struct tok *t = &p->toks[k];
    *ind = t->from;
    if (k > 0) {
        const struct tok *pr = &p->toks[k - 1];
        if (pr->tag)
            return false;
        size_t i = pr->to;
        while (i > pr->from && is_hspace(s[i - 1]))
            i--;
        if (i > pr->from ? s[i - 1] != '\n' : k - 1 != 0)
            return false;
        *ind = i;
    }
    if (k + 1 < p->ntoks) {
        const struct tok *nx = &p->toks[k + 1];
        if (nx->tag)
            return false;
        size_t i = nx->from;
        while (i < nx->to && is_hspace(s[i]))
            i++;
        if (i < nx->to && s[i] == '\r' && i + 1 < nx->to && s[i + 1] == '\n')
            i++;
        if (i < nx->to ? s[i] != '\n' : k + 2 != p->ntoks)
            return false;
    }
    return true;
}

static void lines(struct parser *p)
{
    const char *s = p->s;
    for (size_t k = 0; k < p->ntoks; k++) {
        struct tok *t = &p->toks[k];
        size_t ind;
        if (!t->tag || !may_stand_alone(t->sigil) || !standalone(p, k, &ind))
            continue;
        t->standalone = true;
        t->ind_from = ind;
        t->ind_to = t->from;
        if (k > 0 && p->toks[k - 1].te > ind)
            p->toks[k - 1].te = ind;
        if (k + 1 < p->ntoks) {
            struct tok *nx = &p->toks[k + 1];
            size_t i = nx->from;
            while (i < nx->to && s[i] != '\n')
                i++;
            if (i < nx->to)
                i++;
            if (nx->ts < i)
                nx->ts = i;
        }
    }
    for (size_t k = 0; k < p->ntoks; k++) {
        struct tok *t = &p->toks[k];
        if (!t->tag)
            continue;
        if (t->strip_l && k > 0 && !p->toks[k - 1].tag) {
            struct tok *pr = &p->toks[k - 1];
            while (pr->te > pr->ts && is_space(s[pr->te - 1]))
                pr->te--;
        }
        if (t->strip_r && k + 1 < p->ntoks && !p->toks[k + 1].tag) {
            struct tok *nx = &p->toks[k + 1];
            while (nx->ts < nx->te && is_space(s[nx->ts]))
                nx->ts++;
        }
    }
}

/* ---- tag contents: names, literals, hashes ---- */

static bool id_char(char c)
{
    return !is_space(c) && !strchr("!\"#%&'()*+,./;<=>@[\\]^`{|}~", c) &&
           c != '\0';
}

/* A cursor over one tag's content. */
struct cur {
    struct parser *p;
    size_t i, end;
    struct pc_loc tag; /* the whole tag, for messages */
};

static void skip_ws(struct cur *c)
{
    while (c->i < c->end && is_space(c->p->s[c->i]))
        c->i++;
}

static bool more(struct cur *c)
{
    skip_ws(c);
    return c->i < c->end;
}

/* The extent of one word: up to white space outside [...] and quotes. */
static size_t word_end(const struct cur *c)
{
    const char *s = c->p->s;
    size_t i = c->i;
    bool br = false;
    while (i < c->end && (br || !is_space(s[i]))) {
        if (s[i] == '[')
            br = true;
        else if (s[i] == ']')
            br = false;
        i++;
    }
    return i;
}

static bool bad(struct cur *c, size_t from, size_t to, const char *msg)
{
    pc_report(c->p->ctx, PC_D_TEMPLATE, at(c->p, from, to), "%s", msg);
    return false;
}

/* A path from FROM to TO: @data, ../, ./, this, segments split at '.'
 * or '/', [literal] segments. */
static bool parse_path(struct cur *c, size_t from, size_t to,
                       struct tpath *out)
{
    const char *s = c->p->s;
    struct pr_arena *a = c->p->a;
    size_t i = from, cap = 0;
    memset(out, 0, sizeof *out);
    out->loc = at(c->p, from, to);
    if (i < to && s[i] == '@')
        out->flags |= PR_TPATH_DATA, i++;
    for (;;) {
        if (to - i >= 3 && !memcmp(s + i, "../", 3)) {
            out->up++, i += 3;
        } else if (to - i >= 2 && !memcmp(s + i, "./", 2)) {
            out->flags |= PR_TPATH_ANCHORED, i += 2;
        } else {
            break;
        }
    }
    if (to - i == 2 && !memcmp(s + i, "..", 2))
        out->up++, i += 2;
    if (to - i == 1 && s[i] == '.')
        i++;
    if (out->up)
        out->flags |= PR_TPATH_ANCHORED;
    if (to - i >= 4 && !memcmp(s + i, "this", 4) &&
        (to - i == 4 || s[i + 4] == '.' || s[i + 4] == '/')) {
        out->flags |= PR_TPATH_ANCHORED;
        i += 4;
        if (i < to && ++i == to)
            return bad(c, from, to, "a name is missing after 'this.'");
    }
    if (out->up > 255)
        return bad(c, from, to, "more than 255 '../' in one name");
    while (i < to) {
        size_t b = i, e;
        if (s[i] == '[') {
            const char *r = memchr(s + i, ']', to - i);
            if (!r)
                return bad(c, from, to, "'[' without ']' in a name");
            b = i + 1;
            e = (size_t)(r - s);
            i = e + 1;
        } else {
            while (i < to && id_char(s[i]))
                i++;
            e = i;
        }
        if (e == b) {
            char m[96];
            snprintf(m, sizeof m, "malformed name '%.*s'",
                     (int)(to - from > 40 ? 40 : to - from), s + from);
            return bad(c, from, to, m);
        }
        if (e - b > 65535)
            return bad(c, from, to, "a name longer than 65535 bytes");
        if (i < to && s[i] != '.' && s[i] != '/') {
            char m[96];
            snprintf(m, sizeof m, "unexpected '%c' in the name '%.*s'", s[i],
                     (int)(to - from > 40 ? 40 : to - from), s + from);
            return bad(c, from, to, m);
        }
        if (i < to && ++i == to)
            return bad(c, from, to, "a name ends with a separator");
        if (out->count == 255)
            return bad(c, from, to, "more than 255 parts in one name");
        if (out->count == cap) {
            size_t nc = cap ? cap * 2 : 4;
            const char **sg = pr_arena_alloc(a, nc * sizeof *sg);
            size_t *sl = pr_arena_alloc(a, nc * sizeof *sl);
            if (!sg || !sl) {
                pc_oom(c->p->ctx);
                return false;
            }
            if (out->count) {
                memcpy(sg, out->seg, out->count * sizeof *sg);
                memcpy(sl, out->seglen, out->count * sizeof *sl);
            }
            out->seg = sg;
            out->seglen = sl;
            cap = nc;
        }
        out->seg[out->count] = s + b;
        out->seglen[out->count++] = e - b;
    }
    if ((out->flags & PR_TPATH_DATA) && (out->count == 0 || out->up))
        return bad(c, from, to, "'@' needs a name, as in @index");
    return true;
}

static bool is_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == d)
        return false;
    if (i < n && s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return false;
    }
    return i == n;
}

/* A name standing alone ({{x}}, {{#x}}, {{^x}}): Mustache reads every
 * word as a key, true, null and 1 included. */
static bool parse_name(struct cur *c, struct tval *v)
{
    const char *s = c->p->s;
    memset(v, 0, sizeof *v);
    skip_ws(c);
    size_t from = c->i, e = word_end(c);
    if (from < c->end &&
        (s[from] == '"' || s[from] == '\'' || s[from] == '(')) {
        c->i = from;
        return bad(c, from, e, "a name is needed here, not a literal");
    }
    c->i = e;
    v->kind = PR_TA_PATH;
    v->loc = at(c->p, from, e);
    return parse_path(c, from, e, &v->path);
}

/* One value: a string, number, true, false, null, undefined or path. */
static bool parse_value(struct cur *c, struct tval *v)
{
    const char *s = c->p->s;
    memset(v, 0, sizeof *v);
    skip_ws(c);
    size_t from = c->i;
    if (from < c->end && s[from] == '(')
        return bad(c, from, from + 1,
                   "subexpressions '(...)' are not "
                   "supported");
    if (from < c->end && (s[from] == '"' || s[from] == '\'')) {
        char q = s[from];
        size_t i = from + 1;
        char *buf = pr_arena_alloc(c->p->a, c->end - from + 1);
        size_t n = 0;
        if (!buf) {
            pc_oom(c->p->ctx);
            return false;
        }
        for (; i < c->end && s[i] != q; i++) {
            if (s[i] == '\\' && i + 1 < c->end &&
                (s[i + 1] == q || s[i + 1] == '\\'))
                i++;
            if (s[i] == '\0')
                return bad(c, from, i + 1, "a NUL byte in a string");
            buf[n++] = s[i];
        }
        if (i >= c->end)
            return bad(c, from, c->end, "unterminated string");
        c->i = i + 1;
        v->kind = PR_TA_TEXT;
        v->str = buf;
        v->len = n;
        v->loc = at(c->p, from, c->i);
        return true;
    }
    size_t e = word_end(c);
    c->i = e;
    v->loc = at(c->p, from, e);
#define WORD(w) (e - from == sizeof w - 1 && !memcmp(s + from, w, e - from))
    if (WORD("true") || WORD("false")) {
        v->kind = WORD("true") ? PR_TA_TRUE : PR_TA_FALSE;
        return true;
    }
    if (WORD("null") || WORD("undefined")) {
        v->kind = WORD("null") ? PR_TA_NULL : PR_TA_UNDEFINED;
        return true;
    }
#undef WORD
    if (is_number(s + from, e - from)) {
        char tmp[64];
        size_t n = e - from < sizeof tmp - 1 ? e - from : sizeof tmp - 1;
        memcpy(tmp, s + from, n);
        tmp[n] = '\0';
        v->kind = PR_TA_NUMBER;
        v->num = strtod(tmp, NULL);
        if (!isfinite(v->num))
            return bad(c, from, e, "number out of range");
        return true;
    }
    v->kind = PR_TA_PATH;
    return parse_path(c, from, e, &v->path);
}

/* Whether the next word is key=value; its key's end in *EQ. */
static bool at_pair(const struct cur *c, size_t *eq)
{
    const char *s = c->p->s;
    size_t i = c->i;
    while (i < c->end && id_char(s[i]))
        i++;
    *eq = i;
    return i > c->i && i < c->end && s[i] == '=';
}

/* Arguments then key=value pairs, up to the end of the tag. */
static bool parse_args(struct cur *c, struct pc_tnode *n, size_t maxargs,
                       const char *what)
{
    while (more(c)) {
        size_t eq, from = c->i;
        if (at_pair(c, &eq)) {
            struct tpair *h = pr_arena_alloc(c->p->a,
                                             (n->nhash + 1) * sizeof *h);
            if (!h) {
                pc_oom(c->p->ctx);
                return false;
            }
            if (n->nhash)
                memcpy(h, n->hash, n->nhash * sizeof *h);
            n->hash = h;
            struct tpair *pr = &h[n->nhash];
            pr->key = c->p->s + c->i;
            pr->klen = eq - c->i;
            c->i = eq + 1;
            if (c->i >= c->end || is_space(c->p->s[c->i]))
                return bad(c, from, eq + 1, "a value is missing after '='");
            if (!parse_value(c, &pr->v))
                return false;
            if (++n->nhash > 255)
                return bad(c, from, c->i, "more than 255 key=value pairs");
            continue;
        }
        if (n->nhash)
            return bad(c, from, word_end(c),
                       "arguments must come before key=value pairs");
        if (c->end - c->i >= 2 && !memcmp(c->p->s + c->i, "as", 2) &&
            (c->end - c->i == 2 || is_space(c->p->s[c->i + 2])))
            return bad(c, from, c->end,
                       "block parameters ('as |x|') are "
                       "not supported");
        if (n->nargs >= maxargs) {
            char m[128];
            snprintf(m, sizeof m, "too many arguments: %s takes %zu", what,
                     maxargs);
            return bad(c, from, word_end(c), m);
        }
        if (!parse_value(c, &n->args[n->nargs]))
            return false;
        n->nargs++;
    }
    return true;
}

/* ---- building the tree ---- */

struct open {
    struct pc_tnode *node;
    const char *name; /* what the closing tag must say */
    size_t nlen;
    char sigil; /* '#' or '^', for messages */
    struct pc_loc loc;
    bool in_else, chained; /* chained: made by {{else if ...}} */
    bool quiet;            /* a failed opener's: closed silently */
};

struct builder {
    struct parser *p;
    struct open *stack;
    size_t depth, cap;
    struct tlist *root;
};

static struct tlist *current(struct builder *b)
{
    if (!b->depth)
        return b->root;
    struct open *o = &b->stack[b->depth - 1];
    return o->in_else ? &o->node->els : &o->node->body;
}

static struct pc_tnode *add_node(struct builder *b, enum tkind kind,
                                 struct pc_loc loc)
{
    struct tlist *l = current(b);
    struct pc_tnode *n = pr_arena_alloc(b->p->a, sizeof *n);
    struct pc_tnode **slot = n ? PR_PUSH(b->p->a, l->v, l->n, l->cap) : NULL;
    if (!slot) {
        pc_oom(b->p->ctx);
        return NULL;
    }
    n->kind = kind;
    n->loc = loc;
    *slot = n;
    return n;
}

static void report_helper_args(struct cur *c, const char *name, int want,
                               size_t got)
{
    pc_report(c->p->ctx, PC_D_TEMPLATE, c->tag,
              "'%s' takes %d argument%s, not %zu", name, want, pr_plural(want),
              got);
}

static void unknown_helper(struct cur *c, size_t from, size_t to, bool block)
{
    static const char *const names[] = {
        "if",   "unless",  "each",    "with", "ifEquals", "unlessEquals",
        "role", "history", "section", "json", "media"};
    char name[64];
    size_t n = to - from < sizeof name - 1 ? to - from : sizeof name - 1;
    memcpy(name, c->p->s + from, n);
    name[n] = '\0';
    struct pc_diag *d = pc_report(c->p->ctx, PC_D_UNKNOWN_HELPER,
                                  at(c->p, from, to), "unknown %shelper '%s'",
                                  block ? "block " : "", name);
    const char *near = pc_closest(name, names, sizeof names / sizeof *names);
    if (d && near)
        pc_note(c->p->ctx, d, (struct pc_loc){0, 0, 0}, "did you mean '%s'?",
                near);
    else if (d)
        pc_note(c->p->ctx, d, (struct pc_loc){0, 0, 0},
                "the helpers are if, unless, each, with, ifEquals, "
                "unlessEquals (blocks), role, history, section, json and "
                "media");
}

/* {{x}}, {{{x}}}, {{& x}}, or an inline helper {{name args key=value}}. */
static void build_var(struct builder *b, const struct tok *t)
{
    struct cur c = {b->p, t->cs, t->ce, at(b->p, t->from, t->to)};
    if (c.i == c.end) {
        pc_report(b->p->ctx, PC_D_TEMPLATE, c.tag, "empty tag");
        return;
    }
    size_t from = c.i, e = word_end(&c);
    int h = pr_tpl_helper_lookup(b->p->s + from, e - from);
    bool args = false;
    c.i = e;
    args = more(&c);
    c.i = from;
    if (h < 0 && !args) {
        struct tval v;
        if (!parse_name(&c, &v))
            return;
        struct pc_tnode *n = add_node(b, T_VAR, c.tag);
        if (n) {
            n->raw = t->sigil == '{' || t->sigil == '&';
            n->path = v.path;
        }
        return;
    }
    if (h < 0) {
        unknown_helper(&c, from, e, false);
        return;
    }
    c.i = e;
    struct pc_tnode tmp = {0};
    char what[32];
    snprintf(what, sizeof what, "'%s'", pr_tpl_helper_name((unsigned)h));
    if (!parse_args(&c, &tmp, (size_t)pr_tpl_helper_argc((unsigned)h), what))
        return;
    if ((int)tmp.nargs != pr_tpl_helper_argc((unsigned)h)) {
        report_helper_args(&c, pr_tpl_helper_name((unsigned)h),
                           pr_tpl_helper_argc((unsigned)h), tmp.nargs);
        return;
    }
    static const char *const keys[PR_TH_COUNT][3] = {
        [PR_TH_JSON] = {"indent"},
        [PR_TH_MEDIA] = {"url", "contentType"},
    };
    bool has_url = false;
    for (size_t i = 0; i < tmp.nhash; i++) {
        const struct tpair *pr = &tmp.hash[i];
        bool ok = false;
        for (int k = 0; k < 3 && keys[h][k]; k++)
            if (strlen(keys[h][k]) == pr->klen &&
                !memcmp(keys[h][k], pr->key, pr->klen))
                ok = true;
        if (!ok) {
            pc_report(b->p->ctx, PC_D_TEMPLATE, pr->v.loc,
                      "'%s' takes no argument '%.*s'",
                      pr_tpl_helper_name((unsigned)h), (int)pr->klen, pr->key);
            return;
        }
        has_url |= pr->klen == 3;
    }
    if (h == PR_TH_MEDIA && !has_url) {
        pc_report(b->p->ctx, PC_D_TEMPLATE, c.tag,
                  "'media' needs url=..., as in {{media url=imageUrl}}");
        return;
    }
    if (h == PR_TH_ROLE && tmp.args[0].kind == PR_TA_TEXT) {
        bool ok = tmp.args[0].len > 0;
        for (size_t i = 0; i < tmp.args[0].len; i++)
            ok &= tmp.args[0].str[i] >= 'a' && tmp.args[0].str[i] <= 'z';
        if (!ok) {
            pc_report(b->p->ctx, PC_D_TEMPLATE, tmp.args[0].loc,
                      "a role is a word of lowercase letters, such as "
                      "\"system\", \"user\" or \"model\"");
            return;
        }
    }
    struct pc_tnode *n = add_node(b, T_HELPER, c.tag);
    if (n) {
        tmp.kind = T_HELPER;
        tmp.loc = c.tag;
        tmp.sub = (unsigned)h;
        *n = tmp;
    }
}

/* A block opener: {{#name args}}, {{^name}}, or the X of {{else X}}. */
static struct pc_tnode *build_open(struct builder *b, const struct tok *t,
                                   size_t from, bool inverted, bool chained)
{
    struct parser *p = b->p;
    struct cur c = {p, from, t->ce, at(p, t->from, t->to)};
    if (!more(&c)) {
        pc_report(p->ctx, PC_D_TEMPLATE, c.tag,
                  "a block needs a name, as in {{#if ready}}");
        return NULL;
    }
    if (b->depth >= PR_TPL_MAX_NEST) {
        pc_report(p->ctx, PC_D_TEMPLATE, c.tag,
                  "blocks nested deeper than %d levels", PR_TPL_MAX_NEST);
        return NULL;
    }
    size_t nf = c.i, ne = word_end(&c);
    int k = inverted ? -1 : pr_tpl_block_lookup(p->s + nf, ne - nf);
    struct pc_tnode tmp = {0};
    c.i = ne;
    bool args = more(&c);
    if (k < 0 && (args || chained)) {
        if (inverted || (chained && !args))
            pc_report(p->ctx, PC_D_TEMPLATE, c.tag,
                      inverted ? "{{^name}} takes a name only"
                               : "{{else NAME}} needs a block helper "
                                 "with its arguments, as in {{else if x}}");
        else
            unknown_helper(&c, nf, ne, true);
        return NULL;
    }
    if (k < 0) {
        c.i = nf;
        if (!parse_name(&c, &tmp.args[0]))
            return NULL;
        tmp.nargs = 1;
        tmp.sub = inverted ? PR_TB_INVERTED : PR_TB_SECTION;
    } else {
        const char *name = pr_tpl_block_name((unsigned)k);
        char what[32];
        snprintf(what, sizeof what, "'%s'", name);
        if (!parse_args(&c, &tmp, (size_t)pr_tpl_block_argc((unsigned)k),
                        what))
            return NULL;
        if (tmp.nhash) {
            pc_report(p->ctx, PC_D_TEMPLATE, tmp.hash[0].v.loc,
                      "'%s' takes no key=value arguments", name);
            return NULL;
        }
        if ((int)tmp.nargs != pr_tpl_block_argc((unsigned)k)) {
            report_helper_args(&c, name, pr_tpl_block_argc((unsigned)k),
                               tmp.nargs);
            return NULL;
        }
        tmp.sub = (unsigned)k;
    }
    struct pc_tnode *n = add_node(b, T_BLOCK, c.tag);
    struct open *o = n ? PR_PUSH(p->a, b->stack, b->depth, b->cap) : NULL;
    if (!o) {
        if (n)
            pc_oom(p->ctx);
        return NULL;
    }
    tmp.kind = T_BLOCK;
    tmp.loc = c.tag;
    *n = tmp;
    o->node = n;
    o->name = p->s + nf;
    o->nlen = ne - nf;
    o->loc = c.tag;
    o->sigil = inverted ? '^' : '#';
    o->in_else = false;
    o->chained = chained;
    o->quiet = false;
    return n;
}

/* After an opener that failed, a block outside the tree for its closing
 * tag to close, so one mistake gives one message. */
static void open_placeholder(struct builder *b, const struct tok *t)
{
    struct parser *p = b->p;
    struct cur c = {p, t->cs, t->ce, at(p, t->from, t->to)};
    struct pc_tnode *n = pr_arena_alloc(p->a, sizeof *n);
    struct open *o = n ? PR_PUSH(p->a, b->stack, b->depth, b->cap) : NULL;
    if (!o) {
        pc_oom(p->ctx);
        return;
    }
    skip_ws(&c);
    n->kind = T_BLOCK;
    o->node = n;
    o->name = p->s + c.i;
    o->nlen = word_end(&c) - c.i;
    o->loc = c.tag;
    o->sigil = t->sigil;
    o->in_else = o->chained = false;
    o->quiet = true;
}

static void build_else(struct builder *b, const struct tok *t)
{
    struct parser *p = b->p;
    struct pc_loc loc = at(p, t->from, t->to);
    if (!b->depth) {
        pc_report(p->ctx, PC_D_TEMPLATE, loc, "'{{else}}' outside a block");
        return;
    }
    struct open *o = &b->stack[b->depth - 1];
    if (o->in_else) {
        struct pc_diag *d = pc_report(p->ctx, PC_D_TEMPLATE, loc,
                                      "a second '{{else}}' in one block");
        pc_note(p->ctx, d, o->loc, "the block opened here");
        return;
    }
    o->in_else = true;
    size_t rest = t->cs + (t->sigil == 'e' && t->ce - t->cs >= 4 ? 4 : 0);
    struct cur c = {p, rest, t->ce, loc};
    if (more(&c))
        build_open(b, t, c.i, false, true);
}

static void build_close(struct builder *b, const struct tok *t)
{
    struct parser *p = b->p;
    struct pc_loc loc = at(p, t->from, t->to);
    const char *name = p->s + t->cs;
    size_t n = t->ce - t->cs;
    if (!b->depth) {
        pc_report(p->ctx, PC_D_TEMPLATE, loc, "'{{/%.*s}}' closes no block",
                  (int)n, name);
        return;
    }
    /* the real opener under any {{else X}} blocks */
    size_t k = b->depth;
    while (k > 0 && b->stack[k - 1].chained)
        k--;
    const struct open *o = &b->stack[k - 1];
    if (o->nlen == n && !memcmp(o->name, name, n)) {
        b->depth = k - 1;
        return;
    }
    struct pc_diag *d = pc_report(
        p->ctx, PC_D_TEMPLATE, loc, "'{{/%.*s}}' does not close '{{%c%.*s}}'",
        (int)n, name, o->sigil, (int)(o->nlen > 60 ? 60 : o->nlen), o->name);
    pc_note(p->ctx, d, o->loc, "the block opened here");
    /* recover: close up to a matching opener further out, else take it
     * for a misspelt close of this block */
    for (size_t j = k - 1; j-- > 0;)
        if (b->stack[j].nlen == n && !memcmp(b->stack[j].name, name, n) &&
            !b->stack[j].chained) {
            b->depth = j;
            return;
        }
    b->depth = k - 1;
}

static void build_partial(struct builder *b, const struct tok *t)
{
    struct parser *p = b->p;
    struct cur c = {p, t->cs, t->ce, at(p, t->from, t->to)};
    if (!more(&c)) {
        pc_report(p->ctx, PC_D_TEMPLATE, c.tag,
                  "a partial needs a name, as in {{> header}}");
        return;
    }
    size_t nf = c.i, ne = word_end(&c);
    const char *s = p->s;
    if (s[nf] == '(' || s[nf] == '*') {
        pc_report(p->ctx, PC_D_TEMPLATE, at(p, nf, ne),
                  "dynamic partial names are not supported");
        return;
    }
    for (size_t i = nf; i < ne; i++)
        if (!id_char(s[i]) && s[i] != '/' && s[i] != '.') {
            pc_report(p->ctx, PC_D_TEMPLATE, at(p, nf, ne),
                      "a partial's name is letters, digits, '_', '-', '.' "
                      "and '/'");
            return;
        }
    c.i = ne;
    struct pc_tnode tmp = {0};
    if (!parse_args(&c, &tmp, 1, "a partial"))
        return;
    struct pc_tpl_partial *ref = PR_PUSH(p->a, p->t->partials, p->t->npartials,
                                         p->t->cappartials);
    struct pc_tnode *n = ref ? add_node(b, T_PARTIAL, c.tag) : NULL;
    if (!n) {
        if (!ref)
            pc_oom(p->ctx);
        return;
    }
    ref->name = pr_arena_strndup(p->a, s + nf, ne - nf);
    ref->loc = at(p, nf, ne);
    ref->target = NULL;
    if (!ref->name)
        pc_oom(p->ctx);
    tmp.kind = T_PARTIAL;
    tmp.loc = c.tag;
    tmp.partial = p->t->npartials - 1;
    tmp.has_ctx = tmp.nargs == 1;
    tmp.standalone = t->standalone;
    if (t->standalone) {
        tmp.text = s + t->ind_from;
        tmp.len = t->ind_to - t->ind_from;
    }
    *n = tmp;
}

static void build(struct builder *b)
{
    struct parser *p = b->p;
    for (size_t k = 0; k < p->ntoks; k++) {
        const struct tok *t = &p->toks[k];
        if (!t->tag) {
            if (t->te > t->ts) {
                struct pc_tnode *n = add_node(b, T_TEXT, at(p, t->ts, t->te));
                if (n) {
                    n->text = p->s + t->ts;
                    n->len = t->te - t->ts;
                }
            }
            continue;
        }
        switch (t->sigil) {
        case 0:
        case '{':
        case '&':
            build_var(b, t);
            break;
        case '#':
        case '^':
            if (!build_open(b, t, t->cs, t->sigil == '^', false))
                open_placeholder(b, t);
            break;
        case 'e':
            build_else(b, t);
            break;
        case '/':
            build_close(b, t);
            break;
        case '>':
            build_partial(b, t);
            break;
        default: /* comments, delimiters */
            break;
        }
    }
    while (b->depth) {
        const struct open *o = &b->stack[--b->depth];
        if (o->chained || o->quiet)
            continue;
        pc_report(p->ctx, PC_D_TEMPLATE, o->loc,
                  "'{{%c%.*s}}' is not closed; add '{{/%.*s}}'", o->sigil,
                  (int)(o->nlen > 60 ? 60 : o->nlen), o->name,
                  (int)(o->nlen > 60 ? 60 : o->nlen), o->name);
    }
}

struct pc_tpl *pc_tpl_parse(struct pc_ctx *ctx, uint32_t file, uint32_t base,
                            const char *text, size_t len)
{
    struct pc_tpl *t = pr_arena_alloc(&ctx->arena, sizeof *t);
    struct pc_tnode *root = pr_arena_alloc(&ctx->arena, sizeof *root);
    if (!t || !root) {
        pc_oom(ctx);
        return NULL;
    }
    unsigned errors = ctx->nerrors;
    t->file = file;
    t->base = base;
    t->body = root;
    root->kind = T_BLOCK;
    struct parser p = {ctx, t, text, len, NULL, 0, 0, &ctx->arena};
    lex(&p);
    lines(&p);
    struct builder b = {&p, NULL, 0, 0, &root->body};
    build(&b);
    t->ok = ctx->nerrors == errors && !ctx->oom;
    return t;
}

/* ---- names against an input schema ---- */

static bool schema_open(const cJSON *schema, const cJSON **props)
{
    *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(
        schema, "additionalProperties");
    return !cJSON_IsObject(*props) || (extra && !cJSON_IsFalse(extra));
}

static void check_path(struct pc_ctx *ctx, const struct tpath *p,
                       const cJSON *props, const char *what)
{
    if ((p->flags & PR_TPATH_DATA) || p->up || p->count == 0)
        return;
    for (const cJSON *c = props->child; c; c = c->next)
        if (c->string && strlen(c->string) == p->seglen[0] &&
            !memcmp(c->string, p->seg[0], p->seglen[0]))
            return;
    struct pc_loc loc = p->loc;
    struct pc_diag *d = pc_report(ctx, PC_D_UNKNOWN_INPUT, loc,
                                  "'%.*s' is not declared in the input "
                                  "schema of %s",
                                  (int)p->seglen[0], p->seg[0], what);
    if (!d)
        return;
    const char *names[64];
    size_t n = 0;
    for (const cJSON *c = props->child; c && n < 64; c = c->next)
        if (c->string)
            names[n++] = c->string;
    char word[256];
    size_t k = p->seglen[0] < 255 ? p->seglen[0] : 255;
    memcpy(word, p->seg[0], k);
    word[k] = '\0';
    const char *near = pc_closest(word, names, n);
    if (near)
        pc_note(ctx, d, (struct pc_loc){0, 0, 0}, "did you mean '%s'?", near);
    else
        pc_note(ctx, d, (struct pc_loc){0, 0, 0},
                "its input schema declares %zu input%s", n, pr_plural(n));
}

static void check_list(struct pc_ctx *ctx, const struct tlist *l,
                       const cJSON *props, const char *what)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct pc_tnode *n = l->v[i];
        switch (n->kind) {
        case T_VAR:
            check_path(ctx, &n->path, props, what);
            break;
        case T_BLOCK:
        case T_HELPER:
        case T_PARTIAL:
            for (size_t k = 0; k < n->nargs; k++)
                if (n->args[k].kind == PR_TA_PATH)
                    check_path(ctx, &n->args[k].path, props, what);
            for (size_t k = 0; k < n->nhash; k++)
                if (n->hash[k].v.kind == PR_TA_PATH)
                    check_path(ctx, &n->hash[k].v.path, props, what);
            if (n->kind != T_BLOCK)
                break;
            /* inside a block that changes the context, names may be the
             * element's: not checked */
            if (n->sub != PR_TB_SECTION && n->sub != PR_TB_EACH &&
                n->sub != PR_TB_WITH)
                check_list(ctx, &n->body, props, what);
            check_list(ctx, &n->els, props, what);
            break;
        default:
            break;
        }
    }
}

void pc_tpl_check_inputs(struct pc_ctx *ctx, const struct pc_tpl *t,
                         const cJSON *schema, const char *what)
{
    const cJSON *props;
    if (!t || !cJSON_IsObject(schema) || schema_open(schema, &props))
        return;
    check_list(ctx, &t->body->body, props, what);
}

/* ---- encoding ---- */

struct enc {
    struct pr_buf *out;
    const struct pc_tpl *t;
    uint32_t (*index)(void *ud, void *target);
    void *ud;
    bool failed;
};

static void put(struct enc *e, const void *p, size_t n)
{
    if (pr_buf_append(e->out, p, n) < 0)
        e->failed = true;
}

static void put_u8(struct enc *e, unsigned v)
{
    if (pr_buf_append_u8(e->out, (uint8_t)v) < 0)
        e->failed = true;
}

static void put_u32(struct enc *e, uint32_t v)
{
    if (pr_buf_append_u32(e->out, v) < 0)
        e->failed = true;
}

static void put_text(struct enc *e, const char *s, size_t n)
{
    put_u32(e, (uint32_t)n);
    put(e, s, n);
}

static void put_name(struct enc *e, const char *s, size_t n)
{
    if (pr_buf_append_u16(e->out, (uint16_t)n) < 0)
        e->failed = true;
    put(e, s, n);
}

static void put_path(struct enc *e, const struct tpath *p)
{
    put_u8(e, p->flags);
    put_u8(e, p->up);
    put_u8(e, (unsigned)p->count);
    for (size_t i = 0; i < p->count; i++)
        put_name(e, p->seg[i], p->seglen[i]);
}

static void put_value(struct enc *e, const struct tval *v)
{
    put_u8(e, v->kind);
    switch (v->kind) {
    case PR_TA_PATH:
        put_path(e, &v->path);
        break;
    case PR_TA_TEXT:
        put_text(e, v->str, v->len);
        break;
    case PR_TA_NUMBER:
        if (pr_buf_append_f64(e->out, v->num) < 0)
            e->failed = true;
        break;
    default:
        break;
    }
}

static void put_hash(struct enc *e, const struct pc_tnode *n)
{
    put_u8(e, (unsigned)n->nhash);
    for (size_t i = 0; i < n->nhash; i++) {
        put_name(e, n->hash[i].key, n->hash[i].klen);
        put_value(e, &n->hash[i].v);
    }
}

static void put_list(struct enc *e, const struct tlist *l);

static void put_node(struct enc *e, const struct pc_tnode *n)
{
    switch (n->kind) {
    case T_TEXT:
        break; /* put_list joins runs of text */
    case T_VAR:
        put_u8(e, PR_TOP_VAR);
        put_u8(e, n->raw ? PR_TVAR_RAW : 0);
        put_path(e, &n->path);
        break;
    case T_BLOCK: {
        put_u8(e, PR_TOP_BLOCK);
        put_u8(e, n->sub);
        put_u8(e, (unsigned)n->nargs);
        for (size_t i = 0; i < n->nargs; i++)
            put_value(e, &n->args[i]);
        size_t sizes = e->out->len;
        put_u32(e, 0);
        put_u32(e, 0);
        size_t start = e->out->len;
        put_list(e, &n->body);
        size_t mid = e->out->len;
        put_list(e, &n->els);
        if (!e->failed &&
            (pr_buf_patch_u32(e->out, sizes, (uint32_t)(mid - start)) < 0 ||
             pr_buf_patch_u32(e->out, sizes + 4,
                              (uint32_t)(e->out->len - mid)) < 0))
            e->failed = true;
        break;
    }
    case T_PARTIAL: {
        void *target = e->t->partials[n->partial].target;
        put_u8(e, PR_TOP_PARTIAL);
        put_u32(e, target ? e->index(e->ud, target) : 0xFFFFFFFFu);
        put_u8(e, (n->has_ctx ? PR_TPART_CONTEXT : 0) |
                      (n->standalone ? PR_TPART_STANDALONE : 0));
        put_text(e, n->text, n->standalone ? n->len : 0);
        if (n->has_ctx)
            put_value(e, &n->args[0]);
        put_hash(e, n);
        break;
    }
    case T_HELPER:
        put_u8(e, PR_TOP_HELPER);
        put_u8(e, n->sub);
        put_u8(e, (unsigned)n->nargs);
        for (size_t i = 0; i < n->nargs; i++)
            put_value(e, &n->args[i]);
        put_hash(e, n);
        break;
    }
}

static void put_list(struct enc *e, const struct tlist *l)
{
    size_t i = 0;
    while (i < l->n) {
        if (l->v[i]->kind != T_TEXT) {
            put_node(e, l->v[i++]);
            continue;
        }
        size_t j = i, total = 0;
        for (; j < l->n && l->v[j]->kind == T_TEXT; j++)
            total += l->v[j]->len;
        put_u8(e, PR_TOP_TEXT);
        put_u32(e, (uint32_t)total);
        for (; i < j; i++)
            put(e, l->v[i]->text, l->v[i]->len);
    }
}

int pc_tpl_encode(const struct pc_tpl *t,
                  uint32_t (*index)(void *ud, void *target), void *ud,
                  struct pr_buf *out)
{
    struct enc e = {out, t, index, ud, false};
    put_list(&e, &t->body->body);
    return e.failed ? -1 : 0;
}
