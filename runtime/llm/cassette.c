/* cassette.c -- reading, writing and searching cassettes
 *
 * The format is in cassette.h.  What is recorded, and when a recorded
 * reply is served, is the client's (llm.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cassette.h"
#include "alloc.h"
#include "util.h"

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

void pr_llm_tape_key(const char *protocol, const char *path, const char *body,
                     char key[17])
{
    uint64_t h = fnv1a(protocol, strlen(protocol), 1469598103934665603ull);
    h = fnv1a(path, strlen(path), h);
    h = fnv1a(body, strlen(body), h);
    snprintf(key, 17, "%016llx", (unsigned long long)h);
}

/* A new exchange at the end of T, zeroed; NULL: out of memory. */
static struct pr_llm_exchange *add(struct pr_llm_tape *t)
{
    if (pr_grow((void **)&t->x, &t->cap, t->n + 1, sizeof *t->x) < 0)
        return NULL;
    struct pr_llm_exchange *x = &t->x[t->n++];
    memset(x, 0, sizeof *x);
    return x;
}

int pr_llm_tape_load(struct pr_llm_tape *t, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "pomlrun: error: cannot read cassette '%s': %s\n",
                path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int rc = 0;
    unsigned long f0 = pr_alloc_failures();
    while ((errno = 0, n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (n <= 1)
            continue;
        cJSON *e = cJSON_Parse(line);
        if (!e && pr_alloc_failures() != f0)
            break;
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(e, "key"));
        cJSON *body = cJSON_GetObjectItem(e, "body");
        cJSON *st = cJSON_GetObjectItem(e, "status");
        if (!key || strlen(key) != 16 || !cJSON_IsString(body) ||
            !cJSON_IsNumber(st)) {
            fprintf(stderr,
                    "pomlrun: error: %s:%u: not a cassette entry (a JSON "
                    "object with key, status and body)\n",
                    path, lineno);
            cJSON_Delete(e);
            rc = -1;
            break;
        }
        struct pr_llm_exchange *x = add(t);
        if (!x) {
            cJSON_Delete(e);
            errno = ENOMEM;
            break;
        }
        memcpy(x->key, key, 17);
        x->status = (long)st->valuedouble;
        const char *ct = cJSON_GetStringValue(
            cJSON_GetObjectItem(e, "content_type"));
        x->content_type = ct ? strdup(ct) : NULL;
        x->body = strdup(body->valuestring);
        x->len = strlen(body->valuestring);
        cJSON_Delete(e);
        if (!x->body || (ct && !x->content_type)) {
            errno = ENOMEM;
            break;
        }
    }
    /* getline's ENOMEM, or a break above for want of memory: not the
       cassette's end */
    if (rc == 0 && (errno == ENOMEM || pr_alloc_failures() != f0)) {
        fputs("pomlrun: error: out of memory\n", stderr);
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

int pr_llm_tape_save(const struct pr_llm_tape *t, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "pomlrun: error: cannot write cassette '%s': %s\n",
                path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct pr_llm_exchange *x = &t->x[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "key", x->key);
        cJSON_AddNumberToObject(e, "status", (double)x->status);
        if (x->content_type)
            cJSON_AddStringToObject(e, "content_type", x->content_type);
        cJSON_AddStringToObject(e, "body", x->body ? x->body : "");
        char *s = cJSON_PrintUnformatted(e);
        if (s) {
            fputs(s, f);
            fputc('\n', f);
        }
        free(s);
        cJSON_Delete(e);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "pomlrun: error: writing cassette '%s': %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

void pr_llm_tape_free(struct pr_llm_tape *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->x[i].body);
        free(t->x[i].content_type);
    }
    free(t->x);
    memset(t, 0, sizeof *t);
}

void pr_llm_tape_add(struct pr_llm_tape *t, const char *key, long status,
                     const char *content_type, const char *body, size_t len)
{
    struct pr_llm_exchange *x = add(t);
    if (!x)
        return;
    memcpy(x->key, key, 17);
    x->status = status;
    x->content_type = content_type ? strdup(content_type) : NULL;
    x->body = malloc(len + 1);
    if (x->body) {
        memcpy(x->body, body ? body : "", len);
        x->body[len] = '\0';
    }
    t->dirty = true;
}

struct pr_llm_exchange *pr_llm_tape_find(struct pr_llm_tape *t,
                                         const char *key)
{
    struct pr_llm_exchange *x = NULL;
    for (size_t i = 0; i < t->n && !x; i++)
        if (!memcmp(t->x[i].key, key, 16) && !t->x[i].used)
            x = &t->x[i];
    for (size_t i = 0; i < t->n && !x; i++)
        if (!memcmp(t->x[i].key, key, 16))
            x = &t->x[i];
    if (x)
        x->used = true;
    return x;
}
