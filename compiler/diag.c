/* diag.c -- diagnostics: collection, -W options, GCC-style and JSON output
 *
 * Text output follows GCC: "file:line:col: error: message [-Wname]", the
 * source line in a gutter and a caret with a ~~~ underline, then notes.
 * JSON output is one array of objects shaped like GCC's -fdiagnostics-format.
 */
#include "diag.h"
#include "alloc.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { ERROR = 2, WARN = 1, OFF = 0 };

static const struct {
    const char *name;
    unsigned char def;
} diag_table[PC_D_COUNT] = {
#define PC_DIAG(id, name, def) {name, def},
#include "diagnostics.def"
#undef PC_DIAG
};

const char *pc_diag_name(enum pc_diag_id id)
{
    return id < PC_D_COUNT ? diag_table[id].name : "?";
}

bool pc_diag_is_hard_error(enum pc_diag_id id)
{
    return id < PC_D_COUNT && diag_table[id].def == ERROR;
}

void pc_diag_opts_default(struct pc_diag_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < PC_D_COUNT; i++)
        o->state[i] = diag_table[i].def;
    o->max_errors = 20;
}

void pc_ctx_init(struct pc_ctx *c)
{
    memset(c, 0, sizeof *c);
    pr_arena_init(&c->arena);
    pc_diag_opts_default(&c->opts);
    struct pc_source **slot = PR_PUSH(&c->arena, c->sources, c->nsources,
                                      c->capsources);
    if (slot)
        *slot = NULL;
    else
        c->oom = true;
}

void pc_ctx_free(struct pc_ctx *c)
{
    pr_arena_free(&c->arena);
    memset(c, 0, sizeof *c);
}

uint32_t pc_ctx_add_source(struct pc_ctx *c, struct pc_source *s)
{
    struct pc_source **slot = PR_PUSH(&c->arena, c->sources, c->nsources,
                                      c->capsources);
    if (!slot) {
        pc_oom(c);
        return 0;
    }
    *slot = s;
    return (uint32_t)(c->nsources - 1);
}

struct pc_source *pc_ctx_source(struct pc_ctx *c, uint32_t file)
{
    return file && file < c->nsources ? c->sources[file] : NULL;
}

struct pc_source *pc_ctx_read_source(struct pc_ctx *c, struct pr_arena *a,
                                     const char *path)
{
    struct pc_source *s = pc_source_read(a, path);
    if (!s && errno == ENOMEM)
        pc_oom(c);
    return s;
}

static int find_diag(const char *name)
{
    for (int i = 0; i < PC_D_COUNT; i++)
        if (strcmp(diag_table[i].name, name) == 0)
            return i;
    return -1;
}

int pc_diag_option(struct pc_ctx *c, const char *arg, const char **err)
{
    static char buf[160];
    struct pc_diag_opts *o = &c->opts;
    if (strcmp(arg, "error") == 0) {
        o->werror_all = true;
        return 0;
    }
    if (strcmp(arg, "all") == 0 || strcmp(arg, "extra") == 0) {
        for (int i = 0; i < PC_D_COUNT; i++)
            if (o->state[i] == OFF)
                o->state[i] = WARN;
        return 0;
    }
    bool neg = strncmp(arg, "no-", 3) == 0;
    const char *name = neg ? arg + 3 : arg;
    bool as_error = false;
    if (strncmp(name, "error=", 6) == 0) {
        as_error = true;
        name += 6;
    }
    int id = find_diag(name);
    if (id < 0) {
        const char *names[PC_D_COUNT];
        for (int i = 0; i < PC_D_COUNT; i++)
            names[i] = diag_table[i].name;
        const char *near = pc_closest(name, names, PC_D_COUNT);
        if (near)
            snprintf(buf, sizeof buf,
                     "unknown warning option '-W%s'; did you mean '-W%s%s'?",
                     arg, neg ? "no-" : "", near);
        else
            snprintf(buf, sizeof buf, "unknown warning option '-W%s'", arg);
        *err = buf;
        return -1;
    }
    if (diag_table[id].def == ERROR) {
        if (neg) {
            snprintf(buf, sizeof buf,
                     "'-W%s': '%s' is an error and cannot be disabled", arg,
                     name);
            *err = buf;
            return -1;
        }
        return 0;
    }
    if (as_error)
        o->state[id] = neg ? (o->state[id] == ERROR ? WARN : o->state[id])
                           : ERROR;
    else
        o->state[id] = neg ? OFF : (o->state[id] == ERROR ? ERROR : WARN);
    return 0;
}

void pc_oom(struct pc_ctx *c)
{
    c->oom = true;
}

static const char *vfmt(struct pc_ctx *c, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return "";
    char *p = pr_arena_alloc(&c->arena, (size_t)n + 1);
    if (!p) {
        pc_oom(c);
        return "";
    }
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

struct pc_diag *pc_report(struct pc_ctx *c, enum pc_diag_id id,
                          struct pc_loc loc, const char *fmt, ...)
{
    unsigned st = c->opts.state[id];
    if (st == OFF || c->oom)
        return NULL;
    /* the same finding reached twice (a condition shared by two branches)
       is reported once */
    {
        va_list aq;
        char probe[256];
        va_start(aq, fmt);
        vsnprintf(probe, sizeof probe, fmt, aq);
        va_end(aq);
        for (size_t i = c->ndiags, k = 0; i-- > 0 && k < 64; k++) {
            const struct pc_diag *o = &c->diags[i];
            if (o->id == id && o->loc.file == loc.file &&
                o->loc.off == loc.off && o->loc.len == loc.len &&
                !strncmp(o->msg, probe, sizeof probe - 1))
                return NULL;
        }
    }
    enum pc_severity sev = PC_SEV_WARNING;
    if (st == ERROR || c->opts.werror_all)
        sev = PC_SEV_ERROR;
    va_list ap;
    va_start(ap, fmt);
    const char *msg = vfmt(c, fmt, ap);
    va_end(ap);
    struct pc_diag *d = c->oom ? NULL
                               : PR_PUSH(&c->arena, c->diags, c->ndiags,
                                         c->capdiags);
    if (!d) {
        pc_oom(c);
        return NULL;
    }
    d->msg = msg;
    d->id = id;
    d->sev = sev;
    d->loc = loc;
    d->notes = NULL;
    d->seq = (unsigned)c->ndiags;
    if (sev == PC_SEV_ERROR)
        c->nerrors++;
    else
        c->nwarnings++;
    return d;
}

void pc_note(struct pc_ctx *c, struct pc_diag *d, struct pc_loc loc,
             const char *fmt, ...)
{
    if (!d)
        return;
    struct pc_note *n = pr_arena_alloc(&c->arena, sizeof *n);
    if (!n) {
        pc_oom(c);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    n->msg = vfmt(c, fmt, ap);
    va_end(ap);
    n->loc = loc;
    struct pc_note **tail = &d->notes;
    while (*tail)
        tail = &(*tail)->next;
    *tail = n;
}

static int cmp_diag(const void *pa, const void *pb)
{
    const struct pc_diag *a = pa, *b = pb;
    if (a->loc.file != b->loc.file)
        return a->loc.file < b->loc.file ? -1 : 1;
    if (a->loc.off != b->loc.off)
        return a->loc.off < b->loc.off ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ---- text output ---- */

#define C_BOLD "\033[1m"
#define C_RED "\033[1;31m"
#define C_MAGENTA "\033[1;35m"
#define C_CYAN "\033[1;36m"
#define C_GREEN "\033[1;32m"
#define C_RESET "\033[0m"

static const char *sev_word(enum pc_severity s)
{
    return s == PC_SEV_ERROR     ? "error"
           : s == PC_SEV_WARNING ? "warning"
                                 : "note";
}

static const char *sev_color(enum pc_severity s)
{
    return s == PC_SEV_ERROR     ? C_RED
           : s == PC_SEV_WARNING ? C_MAGENTA
                                 : C_CYAN;
}

/* Prints the source line and a caret under the location's range. */
static void print_excerpt(struct pc_ctx *c, FILE *out, struct pc_loc loc,
                          enum pc_severity sev)
{
    struct pc_source *s = pc_ctx_source(c, loc.file);
    if (!s)
        return;
    unsigned line, col;
    pc_source_linecol(s, loc.off, &line, &col);
    size_t len;
    const char *text = pc_source_line(s, line, &len);
    fprintf(out, "%5u | ", line);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        fputc(ch == '\t' ? ' ' : (ch < 0x20 ? '?' : ch), out);
    }
    fputs("\n      | ", out);
    /* underline width in code points, limited to the line */
    unsigned width = 0;
    uint32_t end = loc.off + (loc.len ? loc.len : 1);
    size_t linestart = (size_t)(text - s->text);
    for (uint32_t i = loc.off; i < end && i < linestart + len; i++)
        if (((unsigned char)s->text[i] & 0xC0) != 0x80)
            width++;
    if (width == 0)
        width = 1;
    for (unsigned i = 1; i < col; i++)
        fputc(' ', out);
    if (c->opts.color)
        fputs(sev_color(sev), out);
    fputc('^', out);
    for (unsigned i = 1; i < width; i++)
        fputc('~', out);
    if (c->opts.color)
        fputs(C_RESET, out);
    fputc('\n', out);
}

static void print_head(struct pc_ctx *c, FILE *out, struct pc_loc loc,
                       enum pc_severity sev, const char *msg,
                       const char *option)
{
    struct pc_source *s = pc_ctx_source(c, loc.file);
    if (c->opts.color)
        fputs(C_BOLD, out);
    if (s) {
        unsigned line, col;
        pc_source_linecol(s, loc.off, &line, &col);
        fprintf(out, "%s:%u:%u: ", s->path, line, col);
    } else {
        fputs("pomlc: ", out);
    }
    if (c->opts.color)
        fprintf(out, "%s%s:" C_RESET C_BOLD " %s" C_RESET, sev_color(sev),
                sev_word(sev), msg);
    else
        fprintf(out, "%s: %s", sev_word(sev), msg);
    if (option)
        fprintf(out, " [-W%s]", option);
    fputc('\n', out);
}

static void flush_text(struct pc_ctx *c, FILE *out)
{
    unsigned errors = 0;
    for (size_t i = 0; i < c->ndiags; i++) {
        struct pc_diag *d = &c->diags[i];
        if (d->sev == PC_SEV_ERROR && c->opts.max_errors &&
            ++errors > c->opts.max_errors) {
            fprintf(out,
                    "pomlc: fatal error: too many errors emitted, "
                    "stopping now [-fmax-errors=%u]\n",
                    c->opts.max_errors);
            break;
        }
        print_head(c, out, d->loc, d->sev, d->msg, pc_diag_name(d->id));
        print_excerpt(c, out, d->loc, d->sev);
        for (struct pc_note *n = d->notes; n; n = n->next) {
            struct pc_loc nl = n->loc.file ? n->loc : d->loc;
            print_head(c, out, nl, PC_SEV_NOTE, n->msg, NULL);
            if (n->loc.file)
                print_excerpt(c, out, n->loc, PC_SEV_NOTE);
        }
    }
}

/* ---- JSON output ---- */

static cJSON *json_loc(struct pc_ctx *c, struct pc_loc loc)
{
    struct pc_source *s = pc_ctx_source(c, loc.file);
    cJSON *arr = cJSON_CreateArray();
    if (!s || !arr)
        return arr;
    unsigned line, col, eline, ecol;
    pc_source_linecol(s, loc.off, &line, &col);
    pc_source_linecol(s, loc.off + (loc.len ? loc.len - 1 : 0), &eline, &ecol);
    cJSON *l = cJSON_CreateObject();
    cJSON *caret = cJSON_CreateObject();
    cJSON *finish = cJSON_CreateObject();
    cJSON_AddStringToObject(caret, "file", s->path);
    cJSON_AddNumberToObject(caret, "line", line);
    cJSON_AddNumberToObject(caret, "column", col);
    cJSON_AddNumberToObject(caret, "byte-offset", loc.off);
    cJSON_AddStringToObject(finish, "file", s->path);
    cJSON_AddNumberToObject(finish, "line", eline);
    cJSON_AddNumberToObject(finish, "column", ecol);
    pr_json_add(l, "caret", caret);
    pr_json_add(l, "finish", finish);
    pr_json_add(arr, NULL, l);
    return arr;
}

/* The array printed when memory ran out: written without allocating. */
static const char oom_json[] =
    "[{\"kind\":\"error\",\"message\":\"out of memory\","
    "\"locations\":[],\"children\":[]}]\n";

static void flush_json(struct pc_ctx *c, FILE *out)
{
    unsigned long failures = pr_alloc_failures();
    cJSON *root = c->oom ? NULL : cJSON_CreateArray();
    for (size_t i = 0; root && i < c->ndiags; i++) {
        struct pc_diag *d = &c->diags[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", sev_word(d->sev));
        cJSON_AddStringToObject(o, "message", d->msg);
        char opt[64];
        snprintf(opt, sizeof opt, "-W%s", pc_diag_name(d->id));
        cJSON_AddStringToObject(o, "option", opt);
        pr_json_add(o, "locations", json_loc(c, d->loc));
        cJSON *children = cJSON_CreateArray();
        for (struct pc_note *n = d->notes; n; n = n->next) {
            cJSON *no = cJSON_CreateObject();
            cJSON_AddStringToObject(no, "kind", "note");
            cJSON_AddStringToObject(no, "message", n->msg);
            pr_json_add(no, "locations", json_loc(c, n->loc));
            pr_json_add(children, NULL, no);
        }
        pr_json_add(o, "children", children);
        pr_json_add(root, NULL, o);
    }
    char *txt = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    /* a value cJSON could not allocate is missing without a word */
    if (pr_alloc_failures() != failures || !txt)
        pc_oom(c);
    if (c->oom)
        fputs(oom_json, out);
    else
        fprintf(out, "%s\n", txt);
    free(txt);
}

void pc_diag_flush(struct pc_ctx *c, FILE *out)
{
    /* without its line map a diagnostic would point at line 1 */
    for (size_t i = 0; i < c->ndiags && !c->oom; i++) {
        struct pc_source *s = pc_ctx_source(c, c->diags[i].loc.file);
        if (s && pc_source_map_lines(s) < 0)
            pc_oom(c);
    }
    if (c->oom)
        c->ndiags = 0;
    if (c->ndiags > 1)
        qsort(c->diags, c->ndiags, sizeof *c->diags, cmp_diag);
    if (c->opts.format == PC_DIAG_JSON)
        flush_json(c, out);
    else
        flush_text(c, out);
    if (c->oom)
        fputs("pomlc: error: out of memory\n", stderr);
    c->ndiags = 0;
}

/* ---- did you mean ---- */

const char *pc_closest(const char *word, const char *const *cands, size_t n)
{
    return pr_closest(word, cands, n);
}
