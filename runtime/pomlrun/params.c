/* params.c -- binding a run's parameters to a plan's parameter schema
 *
 * A value given on the command line is text; the schema decides how it is
 * read.  Values from a JSON file are already typed and only checked.
 */
#include "params.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "eval.h"

static const char *const type_words[] = {
    "any value",     "a string",     "an integer",   "a number",
    "true or false", "a JSON array", "a JSON object"};

static long find_param(const struct pr_plan *p, const char *name)
{
    for (uint32_t i = 0; i < p->nparams; i++) {
        struct pr_param pa;
        pr_plan_param(p, i, &pa);
        if (!strcmp(pa.name, name))
            return i;
    }
    return -1;
}

static void unknown(const struct pr_plan *p, const char *name,
                    const char *origin, FILE *errs)
{
    const char **names = malloc(((size_t)p->nparams + 1) * sizeof *names);
    const char *best = NULL;
    if (names) {
        for (uint32_t i = 0; i < p->nparams; i++) {
            struct pr_param pa;
            pr_plan_param(p, i, &pa);
            names[i] = pa.name;
        }
        best = pr_closest(name, names, p->nparams);
        free(names);
    }
    fprintf(errs, "pomlrun: error: %s: unknown parameter '%s'", origin, name);
    if (best)
        fprintf(errs, "; did you mean '%s'?", best);
    else if (p->nparams == 0)
        fputs("; this workflow takes no parameters", errs);
    fputc('\n', errs);
}

/* Decimal notation only: sign, digits, fraction, exponent; no blanks, hex,
 * "inf" or "nan", which strtod would also take. */
static bool decimal(const char *s, bool integer)
{
    if (*s == '-' || *s == '+')
        s++;
    bool digits = false;
    while (*s >= '0' && *s <= '9')
        s++, digits = true;
    if (integer)
        return digits && !*s;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits = true;
    if (digits && (*s == 'e' || *s == 'E')) {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return digits && !*s;
}

/* Reads TEXT as a value of TYPE; NULL when it does not fit. */
static cJSON *from_text(const char *text, uint8_t type)
{
    char *end;
    if ((type == PR_T_INTEGER || type == PR_T_NUMBER) &&
        !decimal(text, type == PR_T_INTEGER))
        return NULL;
    switch (type) {
    case PR_T_STRING:
        return cJSON_CreateString(text);
    case PR_T_INTEGER: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno || v > (1LL << 53) || v < -(1LL << 53))
            return NULL;
        return cJSON_CreateNumber((double)v);
    }
    case PR_T_NUMBER: {
        double d = strtod(text, &end);
        if (!*text || *end || !isfinite(d))
            return NULL;
        return cJSON_CreateNumber(d);
    }
    case PR_T_BOOLEAN:
        if (!strcmp(text, "true"))
            return cJSON_CreateTrue();
        if (!strcmp(text, "false"))
            return cJSON_CreateFalse();
        return NULL;
    case PR_T_ARRAY:
    case PR_T_OBJECT: {
        if (pr_json_nul_escape(text, strlen(text)) >= 0)
            return NULL;
        cJSON *j = cJSON_Parse(text);
        if (j && ((type == PR_T_ARRAY && cJSON_IsArray(j)) ||
                  (type == PR_T_OBJECT && cJSON_IsObject(j))))
            return j;
        cJSON_Delete(j);
        return NULL;
    }
    default: {
        /* any: JSON when it reads as JSON, else the text itself */
        cJSON *j = pr_json_nul_escape(text, strlen(text)) >= 0
                       ? NULL
                       : cJSON_Parse(text);
        return j ? j : cJSON_CreateString(text);
    }
    }
}

static bool fits(const cJSON *v, uint8_t type)
{
    switch (type) {
    case PR_T_STRING:
        return cJSON_IsString(v);
    case PR_T_INTEGER:
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
               fabs(v->valuedouble) <= 9007199254740992.0; /* 2^53 */
    case PR_T_NUMBER:
        return cJSON_IsNumber(v);
    case PR_T_BOOLEAN:
        return cJSON_IsBool(v);
    case PR_T_ARRAY:
        return cJSON_IsArray(v);
    case PR_T_OBJECT:
        return cJSON_IsObject(v);
    default:
        return true;
    }
}

/* Checks V against the parameter's enum; prints and returns 1 if not in. */
static int check_enum(const struct pr_param *pa, const cJSON *v,
                      const char *origin, FILE *errs)
{
    if (!pa->enum_json)
        return 0;
    cJSON *e = cJSON_Parse(pa->enum_json);
    int bad = 0;
    if (cJSON_IsArray(e)) {
        bad = 1;
        const cJSON *it;
        cJSON_ArrayForEach (it, e)
            if (pr_json_equal(it, v))
                bad = 0;
        if (bad) {
            char *txt = pr_value_text(v);
            fprintf(errs,
                    "pomlrun: error: %s: parameter '%s' is '%s', not "
                    "one of %s\n",
                    origin, pa->name, txt ? txt : "?", pa->enum_json);
            free(txt);
        }
    }
    cJSON_Delete(e);
    return bad;
}

static int set(cJSON *obj, const struct pr_param *pa, cJSON *v,
               const char *origin, FILE *errs)
{
    int bad = check_enum(pa, v, origin, errs);
    pr_json_set(obj, pa->name, v); /* a failure: pr_params_bind sees it */
    return bad;
}

/* True, with the message, when an allocation of cJSON's failed since
 * F0: a value it could not parse or add then says nothing about the
 * parameters. */
static bool oom_since(unsigned long f0, FILE *errs)
{
    if (pr_alloc_failures() == f0)
        return false;
    fputs("pomlrun: error: out of memory\n", errs);
    return true;
}

int pr_params_bind(const struct pr_plan *p, const struct pr_param_arg *args,
                   size_t nargs, cJSON **out, FILE *errs)
{
    int bad = 0;
    unsigned long f0 = pr_alloc_failures();
    cJSON *obj = cJSON_CreateObject();
    *out = NULL;
    if (!obj) {
        fputs("pomlrun: error: out of memory\n", errs);
        return 1;
    }
    for (size_t i = 0; i < nargs; i++) {
        const struct pr_param_arg *a = &args[i];
        if (!a->name) {
            /* a JSON file: an object of name -> value */
            if (pr_json_nul_escape(a->text, strlen(a->text)) >= 0) {
                fprintf(errs,
                        "pomlrun: error: %s: a string holds a NUL "
                        "character (\\u0000), which no step can "
                        "receive; remove it\n",
                        a->origin);
                bad++;
                continue;
            }
            cJSON *j = cJSON_Parse(a->text);
            if (oom_since(f0, errs)) {
                cJSON_Delete(j);
                cJSON_Delete(obj);
                return 1;
            }
            if (!cJSON_IsObject(j)) {
                fprintf(errs,
                        "pomlrun: error: %s: not a JSON object of "
                        "parameter values\n",
                        a->origin);
                cJSON_Delete(j);
                bad++;
                continue;
            }
            cJSON *it;
            cJSON_ArrayForEach (it, j) {
                long k = find_param(p, it->string);
                if (k < 0) {
                    unknown(p, it->string, a->origin, errs);
                    bad++;
                    continue;
                }
                struct pr_param pa;
                pr_plan_param(p, (uint32_t)k, &pa);
                if (!fits(it, pa.type)) {
                    fprintf(errs,
                            "pomlrun: error: %s: parameter '%s' must "
                            "be %s, not a %s\n",
                            a->origin, pa.name, type_words[pa.type],
                            pr_json_type_name(it));
                    bad++;
                    continue;
                }
                bad += set(obj, &pa, cJSON_Duplicate(it, true), a->origin,
                           errs);
            }
            cJSON_Delete(j);
            continue;
        }
        long k = find_param(p, a->name);
        if (k < 0) {
            unknown(p, a->name, a->origin, errs);
            bad++;
            continue;
        }
        struct pr_param pa;
        pr_plan_param(p, (uint32_t)k, &pa);
        cJSON *v = from_text(a->text, pa.type);
        if (oom_since(f0, errs)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            return 1;
        }
        if (!v && (pa.type == PR_T_ARRAY || pa.type == PR_T_OBJECT) &&
            pr_json_nul_escape(a->text, strlen(a->text)) >= 0) {
            fprintf(errs,
                    "pomlrun: error: %s: parameter '%s': a string "
                    "holds a NUL character (\\u0000), which no step "
                    "can receive; remove it\n",
                    a->origin, pa.name);
            bad++;
            continue;
        }
        if (!v) {
            fprintf(errs,
                    "pomlrun: error: %s: parameter '%s' must be %s, "
                    "not '%s'\n",
                    a->origin, pa.name, type_words[pa.type], a->text);
            bad++;
            continue;
        }
        bad += set(obj, &pa, v, a->origin, errs);
    }
    for (uint32_t i = 0; i < p->nparams; i++) {
        struct pr_param pa;
        pr_plan_param(p, i, &pa);
        if (cJSON_GetObjectItemCaseSensitive(obj, pa.name))
            continue;
        if (pa.default_json) {
            cJSON *d = cJSON_Parse(pa.default_json);
            if (d)
                cJSON_AddItemToObject(obj, pa.name, d);
        } else if (pa.flags & PR_PF_REQUIRED) {
            fprintf(errs, "pomlrun: error: missing required parameter '%s'",
                    pa.name);
            if (*pa.description)
                fprintf(errs, " (%s)", pa.description);
            fprintf(errs, "; give it with -p %s=VALUE\n", pa.name);
            bad++;
        }
    }
    if (!bad && oom_since(f0, errs))
        bad++;
    if (bad) {
        cJSON_Delete(obj);
        return bad;
    }
    *out = obj;
    return 0;
}
