/* template_render.c -- renders compiled templates over JSON values
 *
 * Walks the code of template.h with a stack of contexts, an iteration's
 * data variables and the partials of a template set, appending text and
 * markers (role, history, media, section) to a pr_tpl_out, which
 * template_msgs.c splits into messages.  Every read of the code goes
 * through the checked decoder, and recursion, work and output are
 * bounded, so a hostile template ends in an error message.
 */
#include "template.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "util.h"

/* ---- output ---- */

void pr_tpl_out_init(struct pr_tpl_out *o)
{
    memset(o, 0, sizeof *o);
    pr_buf_init(&o->text);
}

void pr_tpl_out_free(struct pr_tpl_out *o)
{
    for (size_t i = 0; i < o->nmarks; i++) {
        free(o->marks[i].a);
        free(o->marks[i].b);
    }
    free(o->marks);
    pr_buf_free(&o->text);
    memset(o, 0, sizeof *o);
}

char *pr_tpl_text(const struct pr_tpl_out *o, size_t *len)
{
    char *s = malloc(o->text.len + 1);
    if (!s)
        return NULL;
    if (o->text.len)
        memcpy(s, o->text.data, o->text.len);
    s[o->text.len] = '\0';
    if (len)
        *len = o->text.len;
    return s;
}

/* ---- the renderer's state ---- */

struct iter {
    bool on; /* inside an iteration */
    size_t index, count;
    const char *key; /* each over an object */
};

struct rs {
    const struct pr_tpl_set *set;
    const struct pr_tpl_opts *o;
    struct pr_tpl_out *out;
    const cJSON *root;
    const cJSON **stack; /* contexts, innermost last */
    size_t depth, cap;
    cJSON **temps; /* values made while rendering */
    size_t ntemps, captemps;
    struct iter it;
    unsigned long work, max_work;
    size_t max_output;
    unsigned partials;  /* partials being rendered */
    const char *indent; /* standalone partials: line prefix */
    size_t indent_len;
    bool bol; /* a template line starts: indent due */
    char *err;
    size_t errcap;
    bool failed;
};

static int fail(struct rs *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct rs *r, const char *fmt, ...)
{
    if (!r->failed && r->err && r->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errcap, fmt, ap);
        va_end(ap);
    }
    r->failed = true;
    return -1;
}

static int oom(struct rs *r)
{
    return fail(r, "out of memory");
}

static int push(struct rs *r, const cJSON *v)
{
    if (r->depth == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        const cJSON **s = realloc(r->stack, cap * sizeof *s);
        if (!s)
            return oom(r);
        r->stack = s;
        r->cap = cap;
    }
    r->stack[r->depth++] = v;
    return 0;
}

/* A value made here, freed when the instruction that made it is done. */
static const cJSON *temp(struct rs *r, cJSON *v)
{
    if (!v) {
        oom(r);
        return NULL;
    }
    if (r->ntemps == r->captemps) {
        size_t cap = r->captemps ? r->captemps * 2 : 16;
        cJSON **t = realloc(r->temps, cap * sizeof *t);
        if (!t) {
            cJSON_Delete(v);
            oom(r);
            return NULL;
        }
        r->temps = t;
        r->captemps = cap;
    }
    r->temps[r->ntemps++] = v;
    return v;
}

static void release(struct rs *r, size_t mark)
{
    while (r->ntemps > mark)
        cJSON_Delete(r->temps[--r->ntemps]);
}

/* ---- appending ---- */

static int append(struct rs *r, const void *p, size_t n)
{
    if (n > r->max_output || r->out->text.len > r->max_output - n)
        return fail(r, "the rendered text exceeds %zu bytes", r->max_output);
    if (pr_buf_append(&r->out->text, p, n) < 0)
        return oom(r);
    return 0;
}

static int flush_indent(struct rs *r)
{
    if (r->bol && r->indent_len) {
        r->bol = false;
        return append(r, r->indent, r->indent_len);
    }
    r->bol = false;
    return 0;
}

/* Template text: inside a standalone partial, each line it starts gets
 * the indentation. */
static int append_text(struct rs *r, const uint8_t *s, size_t n)
{
    if (!r->indent_len) {
        r->bol = n ? s[n - 1] == '\n' : r->bol;
        return append(r, s, n);
    }
    size_t i = 0;
    while (i < n) {
        if (flush_indent(r) < 0)
            return -1;
        const uint8_t *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) + 1 : n;
        if (append(r, s + i, end - i) < 0)
            return -1;
        r->bol = nl != NULL;
        i = end;
    }
    return 0;
}

/* A value's text: never indented inside, never starts a line. */
static int append_value(struct rs *r, const char *s, size_t n, bool escape)
{
    if (flush_indent(r) < 0)
        return -1;
    if (!escape)
        return append(r, s, n);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = s[i] == '&'   ? "&amp;"
                        : s[i] == '<' ? "&lt;"
                        : s[i] == '>' ? "&gt;"
                        : s[i] == '"' ? "&quot;"
                                      : NULL;
        if (!e)
            continue;
        if (append(r, s + from, i - from) < 0 || append(r, e, strlen(e)) < 0)
            return -1;
        from = i + 1;
    }
    return append(r, s + from, n - from);
}

static int mark(struct rs *r, enum pr_tpl_mark kind, const char *a,
                const char *b)
{
    struct pr_tpl_out *o = r->out;
    if (o->nmarks == o->capmarks) {
        size_t cap = o->capmarks ? o->capmarks * 2 : 8;
        struct pr_tpl_marker *m = realloc(o->marks, cap * sizeof *m);
        if (!m)
            return oom(r);
        o->marks = m;
        o->capmarks = cap;
    }
    struct pr_tpl_marker *m = &o->marks[o->nmarks];
    m->kind = kind;
    m->at = o->text.len;
    m->a = a ? strdup(a) : NULL;
    m->b = b ? strdup(b) : NULL;
    if ((a && !m->a) || (b && !m->b)) {
        free(m->a);
        free(m->b);
        return oom(r);
    }
    o->nmarks++;
    return 0;
}

/* ---- values ---- */

static bool falsy(const cJSON *v)
{
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
        return true;
    if (cJSON_IsNumber(v))
        return v->valuedouble == 0 || isnan(v->valuedouble);
    if (cJSON_IsString(v))
        return !v->valuestring || !v->valuestring[0];
    if (cJSON_IsArray(v))
        return !v->child;
    return false;
}

/* Whether N bytes at S spell a list index; its value in *I. */
static bool index_name(const uint8_t *s, size_t n, size_t *i)
{
    size_t v = 0;
    if (n == 0 || n > 9 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return false;
        v = v * 10 + (size_t)(s[k] - '0');
    }
    *i = v;
    return true;
}

/* V's member named by S (N bytes): an object's key, a list's index or its
 * length; NULL when there is none. */
static const cJSON *member(struct rs *r, const cJSON *v, const uint8_t *s,
                           size_t n)
{
    size_t i;
    if (cJSON_IsObject(v)) {
        for (const cJSON *c = v->child; c; c = c->next)
            if (c->string && strlen(c->string) == n &&
                memcmp(c->string, s, n) == 0)
                return c;
    } else if (cJSON_IsArray(v)) {
        if (index_name(s, n, &i)) {
            const cJSON *c = v->child;
            for (; c && i; c = c->next)
                i--;
            return c;
        }
        if (n == 6 && !memcmp(s, "length", 6))
            return temp(r, cJSON_CreateNumber(cJSON_GetArraySize(v)));
    }
    return NULL;
}

/* The data variable named by S: @index, @key, @first, @last, @root, or
 * one from the options. */
static const cJSON *data_var(struct rs *r, const uint8_t *s, size_t n)
{
    const struct iter *it = &r->it;
#define IS(w) (n == sizeof w - 1 && memcmp(s, w, n) == 0)
    if (IS("root"))
        return r->root;
    if (it->on && IS("index"))
        return temp(r, cJSON_CreateNumber((double)it->index));
    if (it->on && IS("first"))
        return temp(r, cJSON_CreateBool(it->index == 0));
    if (it->on && IS("last"))
        return temp(r, cJSON_CreateBool(it->index + 1 == it->count));
    if (it->on && it->key && IS("key"))
        return temp(r, cJSON_CreateString(it->key));
#undef IS
    return r->o->data ? member(r, r->o->data, s, n) : NULL;
}

/* Resolves a path; NULL: missing.  Sets r->failed on a malformed one. */
static const cJSON *lookup(struct rs *r, const uint8_t *code, size_t len,
                           const struct pr_tpl_val *p)
{
    size_t at = p->names;
    const uint8_t *s;
    size_t n;
    const char *why;
    const cJSON *v;
    unsigned i = 0;
    if (p->flags & PR_TPATH_DATA) {
        if (pr_tpl_name(code, len, &at, &s, &n, &why) < 0) {
            fail(r, "invalid template code: %s", why);
            return NULL;
        }
        v = data_var(r, s, n);
        i = 1;
    } else {
        if (p->up >= r->depth)
            return NULL;
        size_t base = r->depth - 1 - p->up;
        v = r->stack[base];
        if (p->count && !(p->flags & PR_TPATH_ANCHORED) && !p->up) {
            /* the first name: innermost context outward */
            if (pr_tpl_name(code, len, &at, &s, &n, &why) < 0) {
                fail(r, "invalid template code: %s", why);
                return NULL;
            }
            v = NULL;
            for (size_t k = base + 1; k-- > 0 && !v;)
                v = member(r, r->stack[k], s, n);
            i = 1;
        }
    }
    for (; v && i < p->count; i++) {
        if (pr_tpl_name(code, len, &at, &s, &n, &why) < 0) {
            fail(r, "invalid template code: %s", why);
            return NULL;
        }
        v = member(r, v, s, n);
    }
    return v;
}

/* The value at *AT; NULL is "missing" (undefined) unless r->failed. */
static const cJSON *eval(struct rs *r, const uint8_t *code, size_t len,
                         size_t *at)
{
    struct pr_tpl_val v;
    const char *why;
    if (pr_tpl_value(code, len, at, &v, &why) < 0) {
        fail(r, "invalid template code: %s", why);
        return NULL;
    }
    switch (v.kind) {
    case PR_TA_PATH:
        return lookup(r, code, len, &v);
    case PR_TA_TEXT: {
        char *s = malloc((size_t)v.n + 1);
        if (!s) {
            oom(r);
            return NULL;
        }
        memcpy(s, v.str, v.n);
        s[v.n] = '\0';
        const cJSON *j = temp(r, cJSON_CreateString(s));
        free(s);
        return j;
    }
    case PR_TA_NUMBER:
        return temp(r, cJSON_CreateNumber(v.num));
    case PR_TA_TRUE:
    case PR_TA_FALSE:
        return temp(r, cJSON_CreateBool(v.kind == PR_TA_TRUE));
    case PR_TA_NULL:
        return temp(r, cJSON_CreateNull());
    default:
        return NULL;
    }
}

/* ===, with missing (undefined) equal only to itself. */
static bool strict_equal(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return !a && !b;
    return pr_json_equal(a, b);
}

/* ---- JSON as JSON.stringify writes it ---- */

static int json_str(struct pr_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (pr_buf_append_u8(b, '"') < 0)
        return -1;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            if (c >= 0x20) {
                if (pr_buf_append_u8(b, c) < 0)
                    return -1;
                continue;
            }
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            n = 6;
        }
        if (pr_buf_append(b, e, n) < 0)
            return -1;
    }
    return pr_buf_append_u8(b, '"');
}

static int json_nl(struct pr_buf *b, int indent, int level)
{
    if (!indent)
        return 0;
    if (pr_buf_append_u8(b, '\n') < 0)
        return -1;
    for (int i = 0; i < indent * level; i++)
        if (pr_buf_append_u8(b, ' ') < 0)
            return -1;
    return 0;
}

static int json_write(struct pr_buf *b, const cJSON *v, int indent, int level)
{
    char num[32];
    if (level > PR_EVAL_MAX_NEST)
        return -1;
    if (cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble))
            return pr_buf_append(b, "null", 4);
        int n = pr_format_number(v->valuedouble, num, sizeof num);
        return pr_buf_append(b, num, (size_t)n);
    }
    if (cJSON_IsString(v))
        return json_str(b, v->valuestring ? v->valuestring : "");
    if (cJSON_IsTrue(v))
        return pr_buf_append(b, "true", 4);
    if (cJSON_IsFalse(v))
        return pr_buf_append(b, "false", 5);
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return pr_buf_append(b, "null", 4);
    bool obj = cJSON_IsObject(v);
    if (pr_buf_append_u8(b, obj ? '{' : '[') < 0)
        return -1;
    for (const cJSON *c = v->child; c; c = c->next) {
        if (json_nl(b, indent, level + 1) < 0)
            return -1;
        if (obj && (json_str(b, c->string ? c->string : "") < 0 ||
                    pr_buf_append(b, ": ", indent ? 2 : 1) < 0))
            return -1;
        if (json_write(b, c, indent, level + 1) < 0)
            return -1;
        if (c->next && pr_buf_append_u8(b, ',') < 0)
            return -1;
    }
    if (v->child && json_nl(b, indent, level) < 0)
        return -1;
    return pr_buf_append_u8(b, obj ? '}' : ']');
}

/* ---- instructions ---- */

static int render_range(struct rs *r, const uint8_t *code, size_t len,
                        size_t from, size_t to);

/* The hash at AT: KEY's value, or NULL (missing). */
static const cJSON *hash_get(struct rs *r, const uint8_t *code, size_t len,
                             size_t at, const char *key)
{
    unsigned n = code[at++];
    const char *why;
    for (unsigned i = 0; i < n && !r->failed; i++) {
        const uint8_t *s;
        size_t k;
        if (pr_tpl_name(code, len, &at, &s, &k, &why) < 0) {
            fail(r, "invalid template code: %s", why);
            return NULL;
        }
        bool hit = k == strlen(key) && memcmp(s, key, k) == 0;
        const cJSON *v = eval(r, code, len, &at);
        if (hit)
            return v;
    }
    return NULL;
}

/* A helper's argument that must be text of lowercase letters (role) or
 * any text (section name, media url); NULL after an error. */
static const char *text_arg(struct rs *r, const cJSON *v, const char *what,
                            bool role)
{
    if (r->failed)
        return NULL;
    if (!cJSON_IsString(v) || !v->valuestring || !v->valuestring[0]) {
        fail(r, "%s needs a non-empty string, not %s", what,
             v ? pr_json_type_name(v) : "a missing value");
        return NULL;
    }
    const char *s = v->valuestring;
    for (const char *p = s; role && *p; p++)
        if (*p < 'a' || *p > 'z') {
            fail(r, "role '%.40s' is not a word of lowercase letters", s);
            return NULL;
        }
    return s;
}

static int do_helper(struct rs *r, const uint8_t *code, size_t len,
                     const struct pr_tpl_insn *in)
{
    size_t at = in->args;
    const cJSON *arg = in->argc ? eval(r, code, len, &at) : NULL;
    if (r->failed)
        return -1;
    switch (in->a) {
    case PR_TH_ROLE: {
        const char *role = text_arg(r, arg, "role", true);
        return role ? mark(r, PR_TM_ROLE, role, NULL) : -1;
    }
    case PR_TH_HISTORY:
        return mark(r, PR_TM_HISTORY, NULL, NULL);
    case PR_TH_SECTION: {
        const char *name = text_arg(r, arg, "section", false);
        return name ? mark(r, PR_TM_SECTION, name, NULL) : -1;
    }
    case PR_TH_JSON: {
        const cJSON *ind = hash_get(r, code, len, in->hash, "indent");
        int indent = 0;
        if (r->failed)
            return -1;
        if (ind && !cJSON_IsNumber(ind))
            return fail(r, "json: indent must be a number");
        if (ind)
            indent = ind->valuedouble < 1    ? 0
                     : ind->valuedouble > 10 ? 10
                                             : (int)ind->valuedouble;
        if (!arg)
            return 0; /* JSON.stringify(undefined): nothing */
        struct pr_buf b;
        pr_buf_init(&b);
        int rc = json_write(&b, arg, indent, 0);
        if (rc == 0)
            rc = append_value(r, (const char *)b.data, b.len, false);
        else
            oom(r);
        pr_buf_free(&b);
        return rc;
    }
    case PR_TH_MEDIA: {
        const cJSON *url = hash_get(r, code, len, in->hash, "url");
        const cJSON *ct = hash_get(r, code, len, in->hash, "contentType");
        const char *u = text_arg(r, url, "media url", false);
        if (!u)
            return -1;
        if (ct && !cJSON_IsString(ct) && !cJSON_IsNull(ct))
            return fail(r, "media contentType must be a string, not %s",
                        pr_json_type_name(ct));
        const char *c = cJSON_IsString(ct) && ct->valuestring &&
                                ct->valuestring[0]
                            ? ct->valuestring
                            : NULL;
        return mark(r, PR_TM_MEDIA, u, c);
    }
    default:
        return fail(r, "invalid template code: unknown helper %u", in->a);
    }
}

/* The body in the context V (pushed unless PUSH is false), once. */
static int body_with(struct rs *r, const uint8_t *code, size_t len,
                     const struct pr_tpl_insn *in, const cJSON *v, bool push_v)
{
    if (push_v && push(r, v) < 0)
        return -1;
    int rc = render_range(r, code, len, in->body, in->else_at);
    if (push_v)
        r->depth--;
    return rc;
}

/* The body once per element of a list, or member of an object. */
static int iterate(struct rs *r, const uint8_t *code, size_t len,
                   const struct pr_tpl_insn *in, const cJSON *v)
{
    struct iter saved = r->it;
    int rc = 0;
    size_t i = 0, count = (size_t)cJSON_GetArraySize(v);
    for (const cJSON *c = v->child; c && rc == 0; c = c->next, i++) {
        r->it = (struct iter){true, i, count,
                              cJSON_IsObject(v) ? c->string : NULL};
        if (cJSON_IsObject(v) && !c->string)
            r->it.key = "";
        rc = body_with(r, code, len, in, c, true);
    }
    r->it = saved;
    return rc;
}

static int do_block(struct rs *r, const uint8_t *code, size_t len,
                    const struct pr_tpl_insn *in)
{
    size_t at = in->args;
    const cJSON *a = eval(r, code, len, &at);
    const cJSON *b = in->argc > 1 ? eval(r, code, len, &at) : NULL;
    if (r->failed)
        return -1;
    bool yes;
    switch (in->a) {
    case PR_TB_SECTION:
        if (falsy(a))
            break;
        if (cJSON_IsArray(a))
            return iterate(r, code, len, in, a);
        return body_with(r, code, len, in, a, !cJSON_IsTrue(a));
    case PR_TB_INVERTED:
    case PR_TB_IF:
    case PR_TB_UNLESS:
        yes = in->a == PR_TB_IF ? !falsy(a) : falsy(a);
        if (yes)
            return body_with(r, code, len, in, NULL, false);
        break;
    case PR_TB_EACH:
        if ((cJSON_IsArray(a) || cJSON_IsObject(a)) && a->child)
            return iterate(r, code, len, in, a);
        break;
    case PR_TB_WITH:
        if (!falsy(a))
            return body_with(r, code, len, in, a, true);
        break;
    case PR_TB_IFEQUALS:
    case PR_TB_UNLESSEQUALS:
        yes = strict_equal(a, b) == (in->a == PR_TB_IFEQUALS);
        if (yes)
            return body_with(r, code, len, in, NULL, false);
        break;
    default:
        return fail(r, "invalid template code: unknown block %u", in->a);
    }
    return render_range(r, code, len, in->else_at, in->next);
}

/* The context of a partial with a hash: the context's members, then the
 * hash's pairs over them. */
static const cJSON *hash_context(struct rs *r, const uint8_t *code, size_t len,
                                 size_t at, const cJSON *ctx)
{
    cJSON *o = cJSON_CreateObject();
    if (!temp(r, o))
        return NULL;
    for (const cJSON *c = cJSON_IsObject(ctx) ? ctx->child : NULL; c;
         c = c->next)
        if (c->string &&
            !cJSON_AddItemReferenceToObject(o, c->string, (cJSON *)c)) {
            oom(r);
            return NULL;
        }
    unsigned n = code[at++];
    const char *why;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *s;
        size_t k;
        if (pr_tpl_name(code, len, &at, &s, &k, &why) < 0) {
            fail(r, "invalid template code: %s", why);
            return NULL;
        }
        char *key = malloc(k + 1);
        const cJSON *v = key ? eval(r, code, len, &at) : NULL;
        if (!key || r->failed) {
            free(key);
            if (!r->failed)
                oom(r);
            return NULL;
        }
        memcpy(key, s, k);
        key[k] = '\0';
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        bool ok = v ? cJSON_AddItemReferenceToObject(o, key, (cJSON *)v)
                    : true;
        free(key);
        if (!ok) {
            oom(r);
            return NULL;
        }
    }
    return o;
}

static int do_partial(struct rs *r, const uint8_t *code, size_t len,
                      const struct pr_tpl_insn *in)
{
    const uint8_t *pcode;
    size_t plen;
    if (!r->set || r->set->get(r->set->ud, in->target, &pcode, &plen) < 0)
        return fail(r, "partial %lu does not exist",
                    (unsigned long)in->target);
    if (r->partials >= PR_TPL_MAX_PARTIALS)
        return fail(r,
                    "partials nested more than %d deep (a partial that "
                    "includes itself without end?)",
                    PR_TPL_MAX_PARTIALS);
    size_t at = in->args;
    const cJSON *ctx = r->stack[r->depth - 1];
    if (in->flags & PR_TPART_CONTEXT)
        ctx = eval(r, code, len, &at);
    if (!r->failed && code[in->hash])
        ctx = hash_context(r, code, len, in->hash, ctx);
    if (r->failed)
        return -1;
    bool standalone = in->flags & PR_TPART_STANDALONE;
    const char *saved_indent = r->indent;
    size_t saved_len = r->indent_len;
    char *indent = NULL;
    if (standalone && in->n) {
        indent = malloc(saved_len + in->n);
        if (!indent)
            return oom(r);
        if (saved_len)
            memcpy(indent, saved_indent, saved_len);
        memcpy(indent + saved_len, in->str, in->n);
        r->indent = indent;
        r->indent_len = saved_len + in->n;
    } else if (!standalone) {
        if (flush_indent(r) < 0)
            return -1;
        r->indent = NULL;
        r->indent_len = 0;
    }
    if (standalone)
        r->bol = true;
    int rc = push(r, ctx);
    if (rc == 0) {
        r->partials++;
        rc = render_range(r, pcode, plen, 0, plen);
        r->partials--;
        r->depth--;
    }
    r->indent = saved_indent;
    r->indent_len = saved_len;
    if (!standalone)
        r->bol = false; /* the tag's line goes on */
    free(indent);
    return rc;
}

static int render_range(struct rs *r, const uint8_t *code, size_t len,
                        size_t from, size_t to)
{
    size_t pc = from;
    while (pc < to) {
        struct pr_tpl_insn in;
        const char *why;
        if (++r->work > r->max_work)
            return fail(r,
                        "the template does too much work (more than %lu "
                        "steps)",
                        r->max_work);
        if (pr_tpl_decode(code, to, pc, &in, &why) < 0)
            return fail(r, "invalid template code at byte %zu: %s", pc, why);
        size_t mark_temps = r->ntemps;
        int rc = 0;
        switch (in.op) {
        case PR_TOP_TEXT:
            rc = append_text(r, in.str, in.n);
            break;
        case PR_TOP_VAR: {
            struct pr_tpl_val p = {.kind = PR_TA_PATH};
            p.flags = code[in.path];
            p.up = code[in.path + 1];
            p.count = code[in.path + 2];
            p.names = in.path + 3;
            const cJSON *v = lookup(r, code, to, &p);
            if (r->failed)
                return -1;
            char *s = pr_value_text(v);
            if (!s)
                return oom(r);
            rc = append_value(r, s, strlen(s),
                              r->o->escape_html && !(in.a & PR_TVAR_RAW));
            free(s);
            break;
        }
        case PR_TOP_BLOCK:
            rc = do_block(r, code, to, &in);
            break;
        case PR_TOP_PARTIAL:
            rc = do_partial(r, code, to, &in);
            break;
        case PR_TOP_HELPER:
            rc = do_helper(r, code, to, &in);
            break;
        }
        release(r, mark_temps);
        if (rc < 0 || r->failed)
            return -1;
        pc = in.next;
    }
    return 0;
}

int pr_tpl_render(const uint8_t *code, size_t len,
                  const struct pr_tpl_set *set, const cJSON *context,
                  const struct pr_tpl_opts *opts, struct pr_tpl_out *out,
                  char *err, size_t errcap)
{
    static const struct pr_tpl_opts defaults = {0};
    struct rs r = {0};
    cJSON *empty = NULL;
    if (err && errcap)
        err[0] = '\0';
    r.set = set;
    r.o = opts ? opts : &defaults;
    r.out = out;
    r.err = err;
    r.errcap = errcap;
    r.max_work = r.o->max_work ? r.o->max_work : PR_TPL_MAX_WORK;
    r.max_output = r.o->max_output ? r.o->max_output : PR_TPL_MAX_OUTPUT;
    r.bol = true;
    if (!context && !(context = empty = cJSON_CreateObject()))
        return pr_errf(err, errcap, "out of memory");
    r.root = context;
    int rc = -1;
    if (!code && len)
        fail(&r, "invalid template code: none");
    else if (push(&r, context) == 0)
        rc = render_range(&r, code, len, 0, len);
    release(&r, 0);
    free(r.temps);
    free(r.stack);
    cJSON_Delete(empty);
    return rc < 0 || r.failed ? -1 : 0;
}
