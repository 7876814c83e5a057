/* eval.c -- the expression stack machine
 *
 * Decodes each instruction with pr_decode and checks it as it goes (jump
 * target, string index, stack depth), so it never trusts the code even
 * though plan_load.c has verified it.
 * Stack slots either borrow a value from the environment or own a value
 * made here; whatever is left when an error stops the run is freed.
 */
#include "eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read-only constants pushed as borrowed values: never linked anywhere */
static cJSON k_null = {.type = cJSON_NULL};
static cJSON k_true = {.type = cJSON_True};
static cJSON k_false = {.type = cJSON_False};

struct slot {
    cJSON *v;
    bool own;           /* v was made here and must be freed */
    unsigned char nest; /* list nesting made here */
};

struct vm {
    const struct pr_eval_env *env;
    char *err;
    size_t errcap;
    size_t sp;
    struct slot st[PR_EVAL_STACK];
};

static int fail(struct vm *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct vm *m, const char *fmt, ...)
{
    if (m->err && m->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->err, m->errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int oom(struct vm *m)
{
    return fail(m, "out of memory");
}

/* ---- values ---- */

const char *pr_json_type_name(const cJSON *v)
{
    if (!v || cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsArray(v))
        return "list";
    if (cJSON_IsObject(v))
        return "object";
    return "value";
}

/* The type with its article, for messages: "a list", "an object", "null". */
static const char *a_type(const cJSON *v)
{
    if (cJSON_IsObject(v))
        return "an object";
    if (!v || cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsArray(v))
        return "a list";
    return "a value";
}

static const char *str_of(const cJSON *v)
{
    return v->valuestring ? v->valuestring : "";
}

bool pr_truthy(const cJSON *v)
{
    if (!v)
        return false;
    if (cJSON_IsTrue(v))
        return true;
    if (cJSON_IsNumber(v))
        return v->valuedouble != 0 && !isnan(v->valuedouble);
    if (cJSON_IsString(v))
        return str_of(v)[0] != '\0';
    if (cJSON_IsArray(v) || cJSON_IsObject(v))
        return v->child != NULL;
    return false;
}

static cJSON *find_key(const cJSON *obj, const char *key, size_t n)
{
    for (cJSON *c = obj->child; c; c = c->next)
        if (c->string && strlen(c->string) == n &&
            memcmp(c->string, key, n) == 0)
            return c;
    return NULL;
}

bool pr_json_equal(const cJSON *a, const cJSON *b)
{
    if (!a)
        a = &k_null;
    if (!b)
        b = &k_null;
    if ((a->type & 0xff) != (b->type & 0xff))
        return false;
    if (cJSON_IsNumber(a))
        return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a))
        return strcmp(str_of(a), str_of(b)) == 0;
    if (cJSON_IsArray(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if (!pr_json_equal(x, y))
                return false;
        return !x && !y;
    }
    if (cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
            return false;
        for (const cJSON *x = a->child; x; x = x->next) {
            const char *k = x->string ? x->string : "";
            const cJSON *y = find_key(b, k, strlen(k));
            if (!y || !pr_json_equal(x, y))
                return false;
        }
        return true;
    }
    return true; /* null, true, false */
}

int pr_format_number(double d, char *buf, size_t cap)
{
    if (isnan(d))
        return snprintf(buf, cap, "nan");
    if (isinf(d))
        return snprintf(buf, cap, d < 0 ? "-inf" : "inf");
    if (d == 0)
        return snprintf(buf, cap, signbit(d) ? "-0" : "0");
    char tmp[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    return snprintf(buf, cap, "%s", tmp);
}

char *pr_value_text(const cJSON *v)
{
    char num[32];
    const char *s;
    if (!v || cJSON_IsNull(v))
        s = "";
    else if (cJSON_IsTrue(v))
        s = "true";
    else if (cJSON_IsFalse(v))
        s = "false";
    else if (cJSON_IsNumber(v)) {
        pr_format_number(v->valuedouble, num, sizeof num);
        s = num;
    } else if (cJSON_IsString(v))
        s = str_of(v);
    else
        return cJSON_PrintUnformatted(v);
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

/* UTF-8 code points (bytes that do not continue a sequence). */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* ---- the stack ---- */

static void drop(struct slot *s)
{
    if (s->own)
        cJSON_Delete(s->v);
    s->v = NULL;
    s->own = false;
    s->nest = 0;
}

static int push(struct vm *m, cJSON *v, bool own, unsigned nest)
{
    if (!v)
        return own ? oom(m) : push(m, &k_null, false, 0);
    if (m->sp >= PR_EVAL_STACK) {
        if (own)
            cJSON_Delete(v);
        return fail(m, "invalid bytecode: stack overflow");
    }
    m->st[m->sp].v = v;
    m->st[m->sp].own = own;
    m->st[m->sp].nest = (unsigned char)nest;
    m->sp++;
    return 0;
}

static int push_bool(struct vm *m, bool b)
{
    return push(m, b ? &k_true : &k_false, false, 0);
}

static int push_num(struct vm *m, double d)
{
    return push(m, cJSON_CreateNumber(d), true, 0);
}

/* A new string value from N bytes; strings with a NUL byte cannot be
 * represented in cJSON and are refused. */
static int push_strn(struct vm *m, const char *s, size_t n)
{
    if (memchr(s, '\0', n))
        return fail(m, "string contains a NUL byte");
    char *tmp = malloc(n + 1);
    if (!tmp)
        return oom(m);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    cJSON *v = cJSON_CreateString(tmp);
    free(tmp);
    return push(m, v, true, 0);
}

/* Drops the top N slots. */
static void popn(struct vm *m, size_t n)
{
    while (n-- > 0)
        drop(&m->st[--m->sp]);
}

/* Replaces the top N slots by slot K of them (0 the deepest), keeping its
 * ownership. */
static void keep_one(struct vm *m, size_t n, size_t k)
{
    struct slot s = m->st[m->sp - n + k];
    m->st[m->sp - n + k].own = false;
    popn(m, n);
    m->st[m->sp++] = s;
}

/* Replaces the top slot, an object or list owning CHILD, by CHILD. */
static int replace_by_child(struct vm *m, cJSON *child)
{
    struct slot *s = &m->st[m->sp - 1];
    if (!s->own) {
        s->v = child;
        s->nest = 0;
        return 0;
    }
    cJSON_DetachItemViaPointer(s->v, child);
    cJSON_Delete(s->v);
    s->v = child;
    s->nest = s->nest ? (unsigned char)(s->nest - 1) : 0;
    return 0;
}

static const char *get_str(struct vm *m, uint32_t idx, size_t *n)
{
    const char *s = m->env->str ? m->env->str(m->env->ud, idx, n) : NULL;
    if (!s)
        fail(m, "invalid bytecode: string index %lu out of range",
             (unsigned long)idx);
    return s;
}

/* ---- instructions ---- */

static int op_root(struct vm *m, unsigned root)
{
    const struct pr_eval_env *e = m->env;
    switch (root) {
    case PR_ROOT_PARAMS:
        return push(m, e->params, false, 0);
    case PR_ROOT_ITEM:
    case PR_ROOT_INDEX:
        if (!e->has_item)
            return fail(m, "'%s' is only defined inside for_each",
                        pr_root_name(root));
        return root == PR_ROOT_ITEM ? push(m, e->item, false, 0)
                                    : push_num(m, (double)e->index);
    }
    return fail(m, "invalid bytecode: unknown root %u", root);
}

static int op_step(struct vm *m, uint32_t idx)
{
    const struct pr_eval_env *e = m->env;
    if (idx >= e->nsteps || !e->step)
        return fail(m, "invalid bytecode: step index %lu out of range",
                    (unsigned long)idx);
    cJSON *v = e->step(e->ud, idx);
    return push(m, v ? v : &k_null, false, 0);
}

static int op_member(struct vm *m, uint32_t idx)
{
    size_t n;
    const char *s = get_str(m, idx, &n);
    if (!s)
        return -1;
    struct slot *top = &m->st[m->sp - 1];
    if (cJSON_IsNull(top->v)) {
        drop(top);
        top->v = &k_null;
        return 0;
    }
    if (!cJSON_IsObject(top->v))
        return fail(m, "cannot read member '%.*s' of %s",
                    (int)(n > 64 ? 64 : n), s, a_type(top->v));
    cJSON *c = find_key(top->v, s, n);
    if (!c) {
        drop(top);
        top->v = &k_null;
        return 0;
    }
    return replace_by_child(m, c);
}

static int op_index(struct vm *m)
{
    cJSON *v = m->st[m->sp - 2].v, *i = m->st[m->sp - 1].v;
    cJSON *c = NULL;
    if (cJSON_IsNull(v)) {
        popn(m, 2);
        return push(m, &k_null, false, 0);
    }
    if (cJSON_IsArray(v)) {
        if (!cJSON_IsNumber(i))
            return fail(m, "cannot index a list with %s", a_type(i));
        double d = i->valuedouble;
        if (d != floor(d) || !isfinite(d))
            return fail(m, "list index %g is not an integer", d);
        if (d >= 0 && d < (double)cJSON_GetArraySize(v))
            c = cJSON_GetArrayItem(v, (int)d);
    } else if (cJSON_IsObject(v)) {
        if (!cJSON_IsString(i))
            return fail(m, "cannot index an object with %s", a_type(i));
        const char *k = str_of(i);
        c = find_key(v, k, strlen(k));
    } else {
        return fail(m, "cannot index %s", a_type(v));
    }
    popn(m, 1);
    if (!c) {
        popn(m, 1);
        return push(m, &k_null, false, 0);
    }
    return replace_by_child(m, c);
}

/* The size of V as JSON text, roughly, counted until it passes LIMIT
 * (then any value above LIMIT). */
static size_t value_size(const cJSON *v, size_t limit)
{
    if (cJSON_IsString(v))
        return strlen(str_of(v)) + 2;
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return 8;
    size_t n = 2;
    for (const cJSON *c = v->child; c && n <= limit; c = c->next)
        n += value_size(c, limit - n) + 1 +
             (c->string ? strlen(c->string) + 3 : 0);
    return n;
}

/* WHAT would build a value of SIZE bytes: an error past
 * PR_EVAL_MAX_VALUE. */
static int check_size(struct vm *m, const char *what, size_t size)
{
    if (size <= PR_EVAL_MAX_VALUE)
        return 0;
    return fail(m,
                "%s would build a value larger than %zu MiB, the most "
                "an expression may build; pass less data or split the work "
                "across steps",
                what, PR_EVAL_MAX_VALUE >> 20);
}

static int op_list(struct vm *m, size_t n)
{
    if (m->sp < n)
        return fail(m, "invalid bytecode: stack underflow");
    size_t size = 2;
    for (size_t k = m->sp - n; k < m->sp && size <= PR_EVAL_MAX_VALUE; k++)
        size += value_size(m->st[k].v, PR_EVAL_MAX_VALUE - size) + 1;
    if (check_size(m, "the list [...]", size) < 0)
        return -1;
    unsigned nest = 0;
    for (size_t k = m->sp - n; k < m->sp; k++)
        if (m->st[k].nest > nest)
            nest = m->st[k].nest;
    if (++nest > PR_EVAL_MAX_NEST)
        return fail(m, "lists nested too deeply");
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return oom(m);
    for (size_t k = m->sp - n; k < m->sp; k++) {
        struct slot *s = &m->st[k];
        cJSON *item = s->own ? s->v : cJSON_Duplicate(s->v, true);
        if (!item) {
            cJSON_Delete(arr);
            return oom(m);
        }
        if (s->own) {
            s->own = false;
            s->v = &k_null;
        }
        cJSON_AddItemToArray(arr, item);
    }
    popn(m, n);
    return push(m, arr, true, nest);
}

static int arith(struct vm *m, unsigned op)
{
    cJSON *a = m->st[m->sp - 2].v, *b = m->st[m->sp - 1].v;
    static const char *const sym[] = {
        [PR_OP_MUL] = "*", [PR_OP_DIV] = "/", [PR_OP_MOD] = "%",
        [PR_OP_ADD] = "+", [PR_OP_SUB] = "-",
    };
    if (op == PR_OP_ADD && cJSON_IsString(a) && cJSON_IsString(b)) {
        const char *x = str_of(a), *y = str_of(b);
        size_t nx = strlen(x), ny = strlen(y);
        if (check_size(m, "'+' of two strings", nx + ny) < 0)
            return -1;
        char *p = malloc(nx + ny + 1);
        if (!p)
            return oom(m);
        memcpy(p, x, nx);
        memcpy(p + nx, y, ny + 1);
        cJSON *r = cJSON_CreateString(p);
        free(p);
        popn(m, 2);
        return push(m, r, true, 0);
    }
    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b))
        return fail(m, "cannot apply '%s' to %s and %s", sym[op],
                    pr_json_type_name(a), pr_json_type_name(b));
    double x = a->valuedouble, y = b->valuedouble, r = 0;
    switch (op) {
    case PR_OP_MUL:
        r = x * y;
        break;
    case PR_OP_DIV:
        if (y == 0)
            return fail(m, "division by zero");
        r = x / y;
        break;
    case PR_OP_MOD:
        if (y == 0)
            return fail(m, "modulo by zero");
        r = fmod(x, y);
        break;
    case PR_OP_ADD:
        r = x + y;
        break;
    case PR_OP_SUB:
        r = x - y;
        break;
    }
    if (!isfinite(r))
        return fail(m, "result of '%s' is out of range", sym[op]);
    popn(m, 2);
    return push_num(m, r);
}

static int compare(struct vm *m, unsigned op)
{
    cJSON *a = m->st[m->sp - 2].v, *b = m->st[m->sp - 1].v;
    static const char *const sym[] = {
        [PR_OP_LT] = "<",
        [PR_OP_LE] = "<=",
        [PR_OP_GT] = ">",
        [PR_OP_GE] = ">=",
    };
    int c;
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
        double x = a->valuedouble, y = b->valuedouble;
        c = x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
    } else if (cJSON_IsString(a) && cJSON_IsString(b)) {
        c = strcmp(str_of(a), str_of(b));
    } else {
        return fail(m, "cannot compare %s and %s with '%s'",
                    pr_json_type_name(a), pr_json_type_name(b), sym[op]);
    }
    bool r;
    if (c == 2) /* NaN: every ordering is false */
        r = false;
    else if (op == PR_OP_LT)
        r = c < 0;
    else if (op == PR_OP_LE)
        r = c <= 0;
    else if (op == PR_OP_GT)
        r = c > 0;
    else
        r = c >= 0;
    popn(m, 2);
    return push_bool(m, r);
}

/* NEEDLE in HAY, shared by 'in' and contains(). */
static int member_of(struct vm *m, const cJSON *needle, const cJSON *hay,
                     const char *what, bool *r)
{
    if (cJSON_IsNull(hay)) {
        *r = false;
        return 0;
    }
    if (cJSON_IsArray(hay)) {
        *r = false;
        for (const cJSON *c = hay->child; c && !*r; c = c->next)
            *r = pr_json_equal(needle, c);
        return 0;
    }
    if (!cJSON_IsString(hay) && !cJSON_IsObject(hay))
        return fail(m, "%s needs a list, string or object to search, not %s",
                    what, a_type(hay));
    if (!cJSON_IsString(needle))
        return fail(m, "%s cannot look for %s in %s", what, a_type(needle),
                    a_type(hay));
    const char *k = str_of(needle);
    if (cJSON_IsString(hay))
        *r = strstr(str_of(hay), k) != NULL;
    else
        *r = find_key(hay, k, strlen(k)) != NULL;
    return 0;
}

/* Appends N bytes to a malloc'd text. */
static int text_add(char **p, size_t *len, size_t *cap, const char *s,
                    size_t n)
{
    if (*cap - *len <= n) {
        size_t nc = *cap ? *cap : 64;
        while (nc - *len <= n)
            nc *= 2;
        char *q = realloc(*p, nc);
        if (!q)
            return -1;
        *p = q;
        *cap = nc;
    }
    memcpy(*p + *len, s, n);
    *len += n;
    (*p)[*len] = '\0';
    return 0;
}

static int fn_join(struct vm *m, const cJSON *list, const cJSON *sep)
{
    if (!cJSON_IsArray(list) || !cJSON_IsString(sep))
        return fail(m, "join() needs a list and a string, not %s and %s",
                    a_type(list), a_type(sep));
    char *p = NULL;
    size_t len = 0, cap = 0;
    const char *s = str_of(sep);
    size_t slen = strlen(s);
    int i = 0;
    if (text_add(&p, &len, &cap, "", 0) < 0)
        return oom(m);
    for (const cJSON *c = list->child; c; c = c->next, i++) {
        if (cJSON_IsArray(c) || cJSON_IsObject(c)) {
            free(p);
            return fail(m, "join() cannot join element %d, %s", i, a_type(c));
        }
        char *t = pr_value_text(c);
        if (t && check_size(m, "join()", len + slen + strlen(t)) < 0) {
            free(t);
            free(p);
            return -1;
        }
        if (!t || (i > 0 && text_add(&p, &len, &cap, s, slen) < 0) ||
            text_add(&p, &len, &cap, t, strlen(t)) < 0) {
            free(t);
            free(p);
            return oom(m);
        }
        free(t);
    }
    cJSON *r = cJSON_CreateString(p);
    free(p);
    popn(m, 2);
    return push(m, r, true, 0);
}

static int fn_case(struct vm *m, const cJSON *v, bool upper)
{
    if (!cJSON_IsString(v))
        return fail(m, "%s() needs a string, not %s",
                    upper ? "upper" : "lower", a_type(v));
    const char *s = str_of(v);
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (!p)
        return oom(m);
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        p[i] = c;
    }
    cJSON *r = cJSON_CreateString(p);
    free(p);
    popn(m, 1);
    return push(m, r, true, 0);
}

static int op_call(struct vm *m, unsigned fn, unsigned argc)
{
    if (pr_func_arity(fn) < 0)
        return fail(m, "invalid bytecode: unknown function %u", fn);
    if ((int)argc != pr_func_arity(fn))
        return fail(m, "invalid bytecode: %s() called with %u arguments",
                    pr_func_name(fn), argc);
    if (m->sp < argc)
        return fail(m, "invalid bytecode: stack underflow");
    cJSON *a = m->st[m->sp - argc].v;
    cJSON *b = argc > 1 ? m->st[m->sp - argc + 1].v : NULL;
    bool r;
    switch ((enum pr_func)fn) {
    case PR_FN_LEN: {
        double n;
        if (cJSON_IsNull(a))
            n = 0;
        else if (cJSON_IsString(a))
            n = (double)utf8_len(str_of(a));
        else if (cJSON_IsArray(a) || cJSON_IsObject(a))
            n = cJSON_GetArraySize(a);
        else
            return fail(m, "len() needs a string, list or object, not %s",
                        a_type(a));
        popn(m, 1);
        return push_num(m, n);
    }
    case PR_FN_CONTAINS:
        if (member_of(m, b, a, "contains()", &r) < 0)
            return -1;
        popn(m, 2);
        return push_bool(m, r);
    case PR_FN_STARTS_WITH:
    case PR_FN_ENDS_WITH: {
        bool starts = fn == PR_FN_STARTS_WITH;
        if (!cJSON_IsString(a) || !cJSON_IsString(b))
            return fail(m, "%s() needs two strings, not %s and %s",
                        starts ? "startsWith" : "endsWith", a_type(a),
                        a_type(b));
        const char *s = str_of(a), *p = str_of(b);
        size_t ns = strlen(s), np = strlen(p);
        r = np <= ns && memcmp(starts ? s : s + ns - np, p, np) == 0;
        popn(m, 2);
        return push_bool(m, r);
    }
    case PR_FN_JOIN:
        return fn_join(m, a, b);
    case PR_FN_DEFAULT:
        keep_one(m, 2, cJSON_IsNull(a) ? 1 : 0);
        return 0;
    case PR_FN_LOWER:
    case PR_FN_UPPER:
        return fn_case(m, a, fn == PR_FN_UPPER);
    }
    return fail(m, "invalid bytecode: unknown function %u", fn);
}

static int step(struct vm *m, const uint8_t *code, size_t len, size_t *pc,
                cJSON **out)
{
    size_t at = *pc;
    struct pr_insn in;
    int rc = pr_decode(code, len, at, &in);
    unsigned op = in.op;
    if (rc == PR_DECODE_BAD_OPCODE)
        return fail(m, "invalid bytecode: unknown opcode 0x%02x at %zu", op,
                    at);
    if (rc == PR_DECODE_TRUNCATED)
        return fail(m, "invalid bytecode: truncated instruction at %zu", at);
    if (m->sp < in.pops)
        return fail(m, "invalid bytecode: stack underflow at %zu", at);
    size_t next = in.next;
    *pc = next;
    switch ((enum pr_op)op) {
    case PR_OP_END:
        if (m->sp != 1)
            return fail(m, "invalid bytecode: %zu values left at end", m->sp);
        if (m->st[0].own) {
            *out = m->st[0].v;
            m->st[0].own = false;
        } else {
            *out = cJSON_Duplicate(m->st[0].v, true);
            if (!*out)
                return oom(m);
        }
        m->sp = 0;
        return 1;
    case PR_OP_NULL:
        return push(m, &k_null, false, 0);
    case PR_OP_TRUE:
        return push_bool(m, true);
    case PR_OP_FALSE:
        return push_bool(m, false);
    case PR_OP_NUM: {
        double d = in.num;
        if (!isfinite(d))
            return fail(m, "invalid bytecode: number is not finite");
        return push_num(m, d);
    }
    case PR_OP_STR: {
        size_t n;
        const char *s = get_str(m, in.u32, &n);
        return s ? push_strn(m, s, n) : -1;
    }
    case PR_OP_ROOT:
        return op_root(m, in.a);
    case PR_OP_STEP:
        return op_step(m, in.u32);
    case PR_OP_MEMBER:
        return op_member(m, in.u32);
    case PR_OP_INDEX:
        return op_index(m);
    case PR_OP_LIST:
        return op_list(m, in.a);
    case PR_OP_NOT:
    case PR_OP_BOOL: {
        bool t = pr_truthy(m->st[m->sp - 1].v);
        popn(m, 1);
        return push_bool(m, op == PR_OP_NOT ? !t : t);
    }
    case PR_OP_NEG: {
        cJSON *v = m->st[m->sp - 1].v;
        if (!cJSON_IsNumber(v))
            return fail(m, "cannot apply unary '-' to %s", a_type(v));
        double d = -v->valuedouble;
        popn(m, 1);
        return push_num(m, d);
    }
    case PR_OP_MUL:
    case PR_OP_DIV:
    case PR_OP_MOD:
    case PR_OP_ADD:
    case PR_OP_SUB:
        return arith(m, op);
    case PR_OP_LT:
    case PR_OP_LE:
    case PR_OP_GT:
    case PR_OP_GE:
        return compare(m, op);
    case PR_OP_EQ:
    case PR_OP_NE: {
        bool eq = pr_json_equal(m->st[m->sp - 2].v, m->st[m->sp - 1].v);
        popn(m, 2);
        return push_bool(m, op == PR_OP_EQ ? eq : !eq);
    }
    case PR_OP_IN: {
        bool r;
        if (member_of(m, m->st[m->sp - 2].v, m->st[m->sp - 1].v, "'in'", &r) <
            0)
            return -1;
        popn(m, 2);
        return push_bool(m, r);
    }
    case PR_OP_AND:
    case PR_OP_OR: {
        uint32_t target = in.u32;
        if (target < next || target >= len)
            return fail(m, "invalid bytecode: jump target %lu at %zu",
                        (unsigned long)target, at);
        bool t = pr_truthy(m->st[m->sp - 1].v);
        popn(m, 1);
        if (t == (op == PR_OP_OR)) {
            *pc = target;
            return push_bool(m, t);
        }
        return 0;
    }
    case PR_OP_CALL:
        return op_call(m, in.a, in.b);
    }
    return fail(m, "invalid bytecode: unknown opcode 0x%02x at %zu", op, at);
}

int pr_eval(const uint8_t *code, size_t len, const struct pr_eval_env *env,
            cJSON **out, char *err, size_t errcap)
{
    struct vm *m = malloc(sizeof *m);
    *out = NULL;
    if (err && errcap)
        err[0] = '\0';
    if (!m) {
        if (err && errcap)
            snprintf(err, errcap, "out of memory");
        return -1;
    }
    m->env = env;
    m->err = err;
    m->errcap = errcap;
    m->sp = 0;
    int rc = -1;
    size_t pc = 0;
    for (;;) {
        if (pc >= len) {
            fail(m, "invalid bytecode: missing end");
            break;
        }
        rc = step(m, code, len, &pc, out);
        if (rc != 0)
            break;
    }
    popn(m, m->sp);
    free(m);
    return rc > 0 ? 0 : -1;
}
