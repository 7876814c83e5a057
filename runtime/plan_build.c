/* plan_build.c -- assembles a plan file: strings, records, checksums
 *
 * The writer's half of plan.h.  Sections are built in memory and laid out
 * in id order, each on an 8-byte boundary, after the header; the section
 * table comes last.  Identical strings are stored once.  Embedded plans
 * are collected as given and laid out in SUBPLANS, sorted by name, when
 * the file is finished.  Nothing here knows about workflows:
 * compiler/emit.c decides what goes in the records.
 */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct str_slot {
    uint32_t ref;
    uint32_t hash;
};

struct subplan {
    uint32_t name; /* string reference */
    uint8_t *data; /* a copy of the embedded plan */
    size_t size;
};

struct pr_plan_builder {
    struct pr_buf sec[PR_SEC_COUNT + 1];
    struct str_slot *slots; /* open addressing over STRINGS records */
    size_t nslots, used;
    struct subplan *subs; /* SUBPLANS, laid out by pr_pb_finish */
    size_t nsubs, capsubs;
    bool failed;
    char why[96]; /* a record refused: which field */
};

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

struct pr_plan_builder *pr_pb_new(void)
{
    struct pr_plan_builder *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    for (int i = 0; i <= PR_SEC_COUNT; i++)
        pr_buf_init(&b->sec[i]);
    /* reference 0: the empty string */
    if (pr_buf_append_u32(&b->sec[PR_SEC_STRINGS], 0) < 0 ||
        pr_buf_append_u8(&b->sec[PR_SEC_STRINGS], 0) < 0)
        b->failed = true;
    return b;
}

void pr_pb_free(struct pr_plan_builder *b)
{
    if (!b)
        return;
    for (int i = 0; i <= PR_SEC_COUNT; i++)
        pr_buf_free(&b->sec[i]);
    for (size_t i = 0; i < b->nsubs; i++)
        free(b->subs[i].data);
    free(b->subs);
    free(b->slots);
    free(b);
}

bool pr_pb_failed(const struct pr_plan_builder *b)
{
    return b->failed;
}

const char *pr_pb_why(const struct pr_plan_builder *b)
{
    return b->why[0] ? b->why : "out of memory";
}

/* ---- records by field name ---- */

/* The names of each record's fields, by section, for pr_pb_why. */
#define NAME(name, type, arg, off) #name,
#define NAMES(R, sec, what)                                                   \
    static const char *const names_##R[] = {PR_##R##_FIELDS(NAME)};
PR_RECORDS(NAMES)
#undef NAMES
#undef NAME

static const struct {
    const char *what;
    const char *const *names;
    size_t n;
} records[PR_SEC_COUNT + 1] = {
#define REC(R, sec, what_)                                                    \
    [sec] = {what_, names_##R, sizeof names_##R / sizeof names_##R[0]},
    PR_RECORDS(REC)
#undef REC
};

/* Every record fits the buffer and has a bit per field. */
#define FITS(R, sec, what)                                                    \
    _Static_assert(PR_##R##_SIZE <= PR_REC_MAX && PR_##R##_NFIELDS <= 64,     \
                   #R " does not fit struct pr_rec");
PR_RECORDS(FITS)
#undef FITS

void pr_rec_init(struct pr_rec *w, enum pr_section sec, uint32_t size,
                 uint32_t nwrite)
{
    memset(w, 0, sizeof *w);
    w->sec = sec;
    w->size = size;
    w->nwrite = nwrite;
}

static const char *field_name(enum pr_section sec, unsigned no)
{
    return no < records[sec].n ? records[sec].names[no] : "?";
}

/* W is complete: else the builder fails with the reason. */
static bool rec_complete(struct pr_plan_builder *b, const struct pr_rec *w)
{
    const char *what = records[w->sec].what ? records[w->sec].what : "?";
    if (w->bad) {
        snprintf(b->why, sizeof b->why,
                 "internal error: %s field '%s': value does not fit", what,
                 field_name(w->sec, (unsigned)w->bad - 1));
    } else if ((uint32_t)__builtin_popcountll(w->set) != w->nwrite) {
        unsigned no = 0;
        while (no < records[w->sec].n && (w->set >> no & 1))
            no++;
        snprintf(b->why, sizeof b->why,
                 "internal error: %s field '%s' not written", what,
                 field_name(w->sec, no));
    } else {
        return true;
    }
    b->failed = true;
    return false;
}

static int grow_slots(struct pr_plan_builder *b)
{
    size_t n = b->nslots ? b->nslots * 2 : 1024;
    struct str_slot *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < b->nslots; i++) {
        if (!b->slots[i].ref)
            continue;
        size_t h = b->slots[i].hash & (n - 1);
        while (s[h].ref)
            h = (h + 1) & (n - 1);
        s[h] = b->slots[i];
    }
    free(b->slots);
    b->slots = s;
    b->nslots = n;
    return 0;
}

uint32_t pr_pb_str(struct pr_plan_builder *b, const char *s, size_t n)
{
    if (n == 0 || b->failed)
        return 0;
    struct pr_buf *st = &b->sec[PR_SEC_STRINGS];
    if ((b->used + 1) * 2 > b->nslots && grow_slots(b) < 0) {
        b->failed = true;
        return 0;
    }
    uint32_t h = hash_bytes(s, n);
    size_t i = h & (b->nslots - 1);
    while (b->slots[i].ref) {
        uint32_t r = b->slots[i].ref;
        if (b->slots[i].hash == h && pr_rd_u32(st->data + r) == n &&
            memcmp(st->data + r + 4, s, n) == 0)
            return r;
        i = (i + 1) & (b->nslots - 1);
    }
    if (st->len + n + 5 > 0xFFFFFFF0u) {
        b->failed = true;
        return 0;
    }
    uint32_t ref = (uint32_t)st->len;
    if (pr_buf_append_u32(st, (uint32_t)n) < 0 ||
        pr_buf_append(st, s, n) < 0 || pr_buf_append_u8(st, 0) < 0) {
        b->failed = true;
        return 0;
    }
    b->slots[i].ref = ref;
    b->slots[i].hash = h;
    b->used++;
    return ref;
}

uint8_t *pr_pb_record(struct pr_plan_builder *b, enum pr_section sec,
                      size_t size, uint32_t *index)
{
    static uint8_t scratch[512];
    struct pr_buf *buf = &b->sec[sec];
    if (b->failed || pr_buf_reserve(buf, size) < 0) {
        b->failed = true;
        memset(scratch, 0, sizeof scratch);
        if (index)
            *index = 0;
        return scratch;
    }
    if (index)
        *index = (uint32_t)(buf->len / size);
    uint8_t *p = buf->data + buf->len;
    memset(p, 0, size);
    buf->len += size;
    return p;
}

uint8_t *pr_pb_at(struct pr_plan_builder *b, enum pr_section sec, size_t size,
                  uint32_t index)
{
    static uint8_t scratch[512];
    struct pr_buf *buf = &b->sec[sec];
    if (b->failed || (size_t)index * size + size > buf->len) {
        b->failed = true;
        return scratch;
    }
    return buf->data + (size_t)index * size;
}

void pr_pb_put(struct pr_plan_builder *b, const struct pr_rec *w,
               uint32_t index)
{
    if (rec_complete(b, w))
        memcpy(pr_pb_at(b, w->sec, w->size, index), w->b, w->size);
}

uint32_t pr_pb_add(struct pr_plan_builder *b, const struct pr_rec *w)
{
    uint32_t index;
    uint8_t *r = pr_pb_record(b, w->sec, w->size, &index);
    if (rec_complete(b, w))
        memcpy(r, w->b, w->size);
    return index;
}

void pr_pb_put_span_at(struct pr_plan_builder *b, enum pr_section sec,
                       uint32_t size, uint32_t index, unsigned off,
                       struct pr_span s)
{
    uint8_t *r = pr_pb_at(b, sec, size, index);
    pr_put_u32(r + off, s.off);
    pr_put_u32(r + off + 4, s.len);
}

uint32_t pr_pb_code(struct pr_plan_builder *b, const void *code, size_t n)
{
    struct pr_buf *buf = &b->sec[PR_SEC_CODE];
    uint32_t off = (uint32_t)buf->len;
    if (pr_buf_append(buf, code, n) < 0)
        b->failed = true;
    return off;
}

uint32_t pr_pb_list(struct pr_plan_builder *b, const uint32_t *v, size_t n)
{
    struct pr_buf *buf = &b->sec[PR_SEC_LISTS];
    uint32_t off = (uint32_t)(buf->len / 4);
    for (size_t i = 0; i < n; i++)
        if (pr_buf_append_u32(buf, v[i]) < 0)
            b->failed = true;
    return off;
}

int pr_pb_subplan(struct pr_plan_builder *b, const char *name,
                  const uint8_t *data, size_t size)
{
    uint32_t ref = pr_pb_str(b, name, strlen(name));
    if (b->nsubs == b->capsubs) {
        size_t cap = b->capsubs ? b->capsubs * 2 : 8;
        struct subplan *v = realloc(b->subs, cap * sizeof *v);
        if (!v)
            b->failed = true;
        else
            b->subs = v, b->capsubs = cap;
    }
    uint8_t *copy = size ? malloc(size) : NULL;
    if (b->failed || !ref || !copy) {
        free(copy);
        b->failed = true;
        return -1;
    }
    memcpy(copy, data, size);
    b->subs[b->nsubs++] = (struct subplan){ref, copy, size};
    return 0;
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Orders two SUBPLANS entries by name. */
static int sub_cmp(const struct pr_plan_builder *b, const struct subplan *x,
                   const struct subplan *y)
{
    const uint8_t *st = b->sec[PR_SEC_STRINGS].data;
    return pr_plan_name_cmp(
        (const char *)st + x->name + 4, pr_rd_u32(st + x->name),
        (const char *)st + y->name + 4, pr_rd_u32(st + y->name));
}

/* SUBPLANS: the records sorted by name, then each plan 8-byte aligned. */
static int lay_out_subplans(struct pr_plan_builder *b)
{
    struct subplan *v = b->subs;
    for (size_t i = 1; i < b->nsubs; i++) /* insertion sort: a few names */
        for (size_t j = i; j > 0 && sub_cmp(b, &v[j - 1], &v[j]) > 0; j--) {
            struct subplan t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    struct pr_buf *out = &b->sec[PR_SEC_SUBPLANS];
    size_t end = b->nsubs * PR_SUBPLAN_SIZE;
    for (size_t i = 0; i < b->nsubs; i++) {
        if (i > 0 && sub_cmp(b, &v[i - 1], &v[i]) == 0)
            return -1;
        size_t off = align8(end);
        if (off + v[i].size > 0xFFFFFFF0u)
            return -1;
        struct pr_rec w;
        PR_REC_INIT(&w, SUBPLAN);
        PR_PUT(&w, SUBPLAN, name, v[i].name);
        PR_PUT(&w, SUBPLAN, offset, off);
        PR_PUT(&w, SUBPLAN, size, v[i].size);
        if (!rec_complete(b, &w) || pr_buf_append(out, w.b, w.size) < 0)
            return -1;
        end = off + v[i].size;
    }
    for (size_t i = 0; i < b->nsubs; i++) {
        static const uint8_t zero[8];
        if (pr_buf_append(out, zero, align8(out->len) - out->len) < 0 ||
            pr_buf_append(out, v[i].data, v[i].size) < 0)
            return -1;
    }
    return 0;
}

int pr_pb_finish(struct pr_plan_builder *b, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    if (b->failed || lay_out_subplans(b) < 0)
        return -1;
    size_t total = PR_PLAN_HEADER_SIZE;
    uint32_t offs[PR_SEC_COUNT + 1];
    for (int i = 1; i <= PR_SEC_COUNT; i++) {
        offs[i] = (uint32_t)total;
        total = align8(total + b->sec[i].len);
    }
    size_t table = total;
    total += (size_t)PR_SEC_COUNT * PR_ENT_BYTES;
    if (total > 0xFFFFFFF0u)
        return -1;
    uint8_t *f = calloc(1, total);
    if (!f)
        return -1;
    memcpy(f + PR_HDR_MAGIC, PR_PLAN_MAGIC, 8);
    f[PR_HDR_MAJOR] = PR_PLAN_MAJOR;
    f[PR_HDR_MINOR] = PR_PLAN_MINOR;
    pr_put_u32(f + PR_HDR_SIZE, PR_PLAN_HEADER_SIZE);
    pr_put_u64(f + PR_HDR_FILE_SIZE, total);
    pr_put_u32(f + PR_HDR_NSECTIONS, PR_SEC_COUNT);
    pr_put_u64(f + PR_HDR_TABLE, table);
    for (int i = 1; i <= PR_SEC_COUNT; i++) {
        if (b->sec[i].len)
            memcpy(f + offs[i], b->sec[i].data, b->sec[i].len);
        uint8_t *e = f + table + (size_t)(i - 1) * PR_ENT_BYTES;
        pr_put_u32(e + PR_ENT_ID, (uint32_t)i);
        pr_put_u32(e + PR_ENT_OFFSET, offs[i]);
        pr_put_u32(e + PR_ENT_SIZE, (uint32_t)b->sec[i].len);
    }
    /* the header's checksum covers it with both checksum fields zero */
    uint32_t body = pr_crc32c(0, f + PR_PLAN_HEADER_SIZE,
                              total - PR_PLAN_HEADER_SIZE);
    pr_put_u32(f + PR_HDR_CRC, pr_crc32c(0, f, PR_PLAN_HEADER_SIZE));
    pr_put_u32(f + PR_HDR_BODY_CRC, body);
    *out = f;
    *size = total;
    return 0;
}
