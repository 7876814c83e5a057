/* template_msgs.c -- a rendered template as a list of chat messages
 *
 * Splits the text and markers of a pr_tpl_out the way Dotprompt splits
 * its rendered string at its <<<dotprompt:...>>> markers: role and
 * history markers start messages, media and section markers make parts,
 * runs of white space between markers vanish.  Working on markers rather
 * than on marker text means no value can forge one.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

/* The length of the JavaScript white space character at S (N bytes
 * left), or 0: what String.prototype.trim removes. */
static size_t js_space(const uint8_t *s, size_t n)
{
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
        return 1;
    if (n >= 2 && s[0] == 0xc2 && s[1] == 0xa0)
        return 2;
    if (n < 3)
        return 0;
    unsigned cp = (unsigned)(s[0] & 0x0f) << 12 |
                  (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    if ((s[0] & 0xf0) != 0xe0 || (s[1] & 0xc0) != 0x80 ||
        (s[2] & 0xc0) != 0x80)
        return 0;
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
        cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000 ||
        cp == 0xfeff)
        return 3;
    return 0;
}

static bool blank(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = js_space(s + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* Pieces of the rendered stream: text runs and markers, in order. */
struct piece {
    int mark;        /* -1: text; else index into marks */
    size_t from, to; /* text */
};

struct msg {
    const char *role;
    struct piece *src; /* the message's pieces */
    size_t n, cap;
    const cJSON *given; /* a history message, as given */
};

static int add_piece(struct msg *m, struct piece p)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct piece *v = realloc(m->src, cap * sizeof *v);
        if (!v)
            return -1;
        m->src = v;
        m->cap = cap;
    }
    m->src[m->n++] = p;
    return 0;
}

static bool is_split(const struct pr_tpl_out *o, int k)
{
    return k >= 0 && (o->marks[k].kind == PR_TM_ROLE ||
                      o->marks[k].kind == PR_TM_HISTORY);
}

/* Whether pieces [a, b) hold something beyond white space. */
static bool has_content(const struct pr_tpl_out *o, const struct piece *p,
                        size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (p[i].mark >= 0 ||
            !blank(o->text.data + p[i].from, p[i].to - p[i].from))
            return true;
    return false;
}

static cJSON *text_part(const char *s)
{
    cJSON *part = cJSON_CreateObject();
    if (part && !cJSON_AddStringToObject(part, "text", s)) {
        cJSON_Delete(part);
        part = NULL;
    }
    return part;
}

static cJSON *mark_part(const struct pr_tpl_marker *m)
{
    cJSON *part = cJSON_CreateObject();
    cJSON *in = part ? cJSON_AddObjectToObject(
                           part, m->kind == PR_TM_MEDIA ? "media" : "metadata")
                     : NULL;
    bool ok = in != NULL;
    if (ok && m->kind == PR_TM_MEDIA)
        ok = cJSON_AddStringToObject(in, "url", m->a) &&
             (!m->b || cJSON_AddStringToObject(in, "contentType", m->b));
    else if (ok)
        ok = cJSON_AddStringToObject(in, "purpose", m->a) &&
             cJSON_AddTrueToObject(in, "pending");
    if (!ok) {
        cJSON_Delete(part);
        return NULL;
    }
    return part;
}

/* A message's parts: its text runs between media and section markers,
 * blank runs dropped (adjacent runs joined first). */
static cJSON *parts_of(const struct pr_tpl_out *o, const struct msg *m)
{
    cJSON *parts = cJSON_CreateArray();
    if (!parts)
        return NULL;
    size_t i = 0;
    while (i < m->n) {
        cJSON *part = NULL;
        if (m->src[i].mark >= 0) {
            part = mark_part(&o->marks[m->src[i].mark]);
            i++;
        } else {
            size_t j = i;
            size_t len = 0;
            while (j < m->n && m->src[j].mark < 0)
                len += m->src[j].to - m->src[j].from, j++;
            char *s = malloc(len + 1);
            if (!s) {
                cJSON_Delete(parts);
                return NULL;
            }
            size_t k = 0;
            for (size_t q = i; q < j; q++) {
                memcpy(s + k, o->text.data + m->src[q].from,
                       m->src[q].to - m->src[q].from);
                k += m->src[q].to - m->src[q].from;
            }
            i = j;
            if (blank((const uint8_t *)s, len)) {
                free(s);
                continue;
            }
            s[len] = '\0';
            part = text_part(s);
            free(s);
        }
        if (!part || !cJSON_AddItemToArray(parts, part)) {
            cJSON_Delete(part);
            cJSON_Delete(parts);
            return NULL;
        }
    }
    return parts;
}

/* A history message with metadata purpose "history" added. */
static cJSON *history_copy(const cJSON *h, bool tag)
{
    cJSON *c = cJSON_Duplicate(h, true);
    if (!c || !tag || !cJSON_IsObject(c))
        return c;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(c, "metadata");
    if (!cJSON_IsObject(meta)) {
        cJSON_DeleteItemFromObjectCaseSensitive(c, "metadata");
        meta = cJSON_AddObjectToObject(c, "metadata");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "purpose");
    if (!meta || !cJSON_AddStringToObject(meta, "purpose", "history")) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

struct msgs {
    struct msg *v;
    size_t n, cap;
};

static struct msg *new_msg(struct msgs *ms, const char *role,
                           const cJSON *given)
{
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? ms->cap * 2 : 8;
        struct msg *v = realloc(ms->v, cap * sizeof *v);
        if (!v)
            return NULL;
        ms->v = v;
        ms->cap = cap;
    }
    struct msg *m = &ms->v[ms->n++];
    memset(m, 0, sizeof *m);
    m->role = role;
    m->given = given;
    return m;
}

/* Splits the stream into messages (see template.h). */
static int split(const struct pr_tpl_out *o, const cJSON *history,
                 struct msgs *ms, bool *had_history)
{
    /* the stream as pieces: text between markers, and the markers */
    struct msg all = {0};
    size_t pos = 0;
    for (size_t k = 0; k <= o->nmarks; k++) {
        size_t at = k < o->nmarks ? o->marks[k].at : o->text.len;
        if (at > o->text.len || at < pos)
            at = pos; /* markers come in order; be safe */
        if (at > pos && add_piece(&all, (struct piece){-1, pos, at}) < 0)
            goto oom;
        pos = at;
        if (k < o->nmarks && add_piece(&all, (struct piece){(int)k, 0, 0}))
            goto oom;
    }
    struct msg *cur = new_msg(ms, "user", NULL);
    if (!cur)
        goto oom;
    size_t i = 0;
    while (i < all.n) {
        if (is_split(o, all.src[i].mark)) {
            const struct pr_tpl_marker *mk = &o->marks[all.src[i].mark];
            i++;
            if (mk->kind == PR_TM_ROLE) {
                if (has_content(o, cur->src, 0, cur->n)) {
                    if (!(cur = new_msg(ms, mk->a, NULL)))
                        goto oom;
                } else {
                    cur->role = mk->a;
                }
                continue;
            }
            *had_history = true;
            for (const cJSON *h = cJSON_IsArray(history) ? history->child
                                                         : NULL;
                 h; h = h->next)
                if (!new_msg(ms, NULL, h))
                    goto oom;
            if (!(cur = new_msg(ms, "model", NULL)))
                goto oom;
            continue;
        }
        /* a run up to the next role or history marker: kept unless it
         * is only white space */
        size_t j = i;
        while (j < all.n && !is_split(o, all.src[j].mark))
            j++;
        if (has_content(o, all.src, i, j))
            for (size_t q = i; q < j; q++)
                if (add_piece(cur, all.src[q]) < 0)
                    goto oom;
        i = j;
    }
    free(all.src);
    return 0;
oom:
    free(all.src);
    return -1;
}

cJSON *pr_tpl_messages(const struct pr_tpl_out *o, const cJSON *history)
{
    struct msgs ms = {0};
    bool had_history = false;
    cJSON *out = cJSON_CreateArray();
    if (!out || split(o, history, &ms, &had_history) < 0)
        goto oom;
    for (size_t i = 0; i < ms.n; i++) {
        const struct msg *m = &ms.v[i];
        cJSON *msg;
        if (m->given) {
            msg = history_copy(m->given, true);
        } else {
            if (!m->n)
                continue;
            cJSON *parts = parts_of(o, m);
            msg = cJSON_CreateObject();
            if (!parts || !msg ||
                !cJSON_AddStringToObject(msg, "role", m->role)) {
                cJSON_Delete(parts);
                cJSON_Delete(msg);
                goto oom;
            }
            cJSON_AddItemToObject(msg, "content", parts);
        }
        if (!msg || !cJSON_AddItemToArray(out, msg)) {
            cJSON_Delete(msg);
            goto oom;
        }
    }
    if (!had_history && cJSON_IsArray(history) && history->child) {
        /* before a final user message, else at the end */
        int n = cJSON_GetArraySize(out);
        cJSON *last = n ? cJSON_GetArrayItem(out, n - 1) : NULL;
        cJSON *role = last ? cJSON_GetObjectItemCaseSensitive(last, "role")
                           : NULL;
        bool before = cJSON_IsString(role) &&
                      !strcmp(role->valuestring, "user");
        if (before)
            cJSON_DetachItemViaPointer(out, last);
        for (const cJSON *h = history->child; h; h = h->next) {
            cJSON *c = history_copy(h, false);
            if (!c || !cJSON_AddItemToArray(out, c)) {
                cJSON_Delete(c);
                cJSON_Delete(before ? last : NULL);
                goto oom;
            }
        }
        if (before)
            cJSON_AddItemToArray(out, last);
    }
    for (size_t i = 0; i < ms.n; i++)
        free(ms.v[i].src);
    free(ms.v);
    return out;
oom:
    for (size_t i = 0; i < ms.n; i++)
        free(ms.v[i].src);
    free(ms.v);
    cJSON_Delete(out);
    return NULL;
}
