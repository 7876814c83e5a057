/* jsonrpc.c -- JSON-RPC 2.0 messages, one per line (jsonrpc.h) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

void pr_jrpc_lines_init(struct pr_jrpc_lines *r, size_t max)
{
    memset(r, 0, sizeof *r);
    pr_buf_init(&r->line);
    r->max = max ? max : 1;
}

void pr_jrpc_lines_free(struct pr_jrpc_lines *r)
{
    pr_buf_free(&r->line);
    memset(r, 0, sizeof *r);
}

static int emit(struct pr_jrpc_lines *r, pr_jrpc_line_fn fn, void *ud)
{
    int rc = 0;
    if (r->skipping) {
        rc = fn(ud, NULL, r->skipped, true);
    } else {
        size_t n = r->line.len;
        if (n && r->line.data[n - 1] == '\r')
            n--;
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++)
            blank = r->line.data[i] == ' ' || r->line.data[i] == '\t';
        if (!blank) {
            if (pr_buf_reserve(&r->line, 1) < 0)
                return -1;
            r->line.data[n] = 0;
            rc = fn(ud, (char *)r->line.data, n, false);
        }
    }
    r->line.len = 0;
    r->skipping = false;
    r->skipped = 0;
    return rc;
}

int pr_jrpc_feed(struct pr_jrpc_lines *r, const char *p, size_t n,
                 pr_jrpc_line_fn fn, void *ud)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (r->skipping) {
            r->skipped += take;
        } else if (r->line.len + take > r->max) {
            r->skipping = true;
            r->skipped = r->line.len + take;
            r->line.len = 0;
            /* give back what a long line made the buffer take */
            if (r->line.cap > 65536) {
                pr_buf_free(&r->line);
                pr_buf_init(&r->line);
            }
        } else if (pr_buf_append(&r->line, p, take) < 0) {
            return -1;
        }
        if (!nl)
            return 0;
        int rc = emit(r, fn, ud);
        if (rc)
            return rc;
        p = nl + 1;
        n -= take + 1;
    }
    return 0;
}

static void invalid(struct pr_jrpc_msg *m, const char *why)
{
    m->kind = PR_JRPC_INVALID;
    snprintf(m->why, sizeof m->why, "%s", why);
}

void pr_jrpc_parse(const char *line, size_t len, struct pr_jrpc_msg *m)
{
    memset(m, 0, sizeof *m);
    m->error_msg = "";
    const char *end = NULL;
    m->root = cJSON_ParseWithLengthOpts(line, len, &end, false);
    if (!m->root) {
        invalid(m, "not JSON");
        return;
    }
    while (end && end < line + len &&
           (*end == ' ' || *end == '\t' || *end == '\r'))
        end++;
    if (end && end < line + len) {
        invalid(m, "text after the JSON value");
        return;
    }
    const cJSON *o = m->root;
    if (cJSON_IsArray(o)) {
        invalid(m, "a batch (MCP sends one message per line)");
        return;
    }
    if (!cJSON_IsObject(o)) {
        invalid(m, "not a JSON object");
        return;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "jsonrpc");
    if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0")) {
        invalid(m, "no \"jsonrpc\": \"2.0\"");
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(o, "method");
    if (id && !cJSON_IsNumber(id) && !cJSON_IsString(id) &&
        !cJSON_IsNull(id)) {
        invalid(m, "an id that is neither a number nor a string");
        return;
    }
    m->id = id;
    if (id && cJSON_IsNumber(id)) {
        double d = id->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) {
            m->int_id = true;
            m->id_num = (int64_t)d;
        }
    }
    if (method) {
        if (!cJSON_IsString(method)) {
            invalid(m, "a method that is not a string");
            return;
        }
        m->method = method->valuestring;
        m->params = cJSON_GetObjectItemCaseSensitive(o, "params");
        if (m->params && !cJSON_IsObject(m->params) &&
            !cJSON_IsArray(m->params)) {
            invalid(m, "params that are neither an object nor an array");
            return;
        }
        if (id && cJSON_IsNull(id)) {
            invalid(m, "a request with a null id");
            return;
        }
        m->kind = id ? PR_JRPC_REQUEST : PR_JRPC_NOTIFICATION;
        return;
    }
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "result");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (!id) {
        invalid(m, "neither a method nor an id");
        return;
    }
    if (res && err) {
        invalid(m, "both a result and an error");
        return;
    }
    if (res) {
        m->kind = PR_JRPC_RESULT;
        m->result = res;
        return;
    }
    if (!cJSON_IsObject(err)) {
        invalid(m, "a response with neither a result nor an error object");
        return;
    }
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    if (!cJSON_IsNumber(code)) {
        invalid(m, "an error without a numeric code");
        return;
    }
    if (!(fabs(code->valuedouble) < 9007199254740992.0)) {
        invalid(m, "an error code out of range");
        return;
    }
    m->kind = PR_JRPC_ERROR;
    m->error_code = (long long)code->valuedouble;
    m->error_msg = cJSON_IsString(msg) ? msg->valuestring : "";
    m->error_data = cJSON_GetObjectItemCaseSensitive(err, "data");
}

static char *print(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* An object {"jsonrpc": "2.0"} (NULL when out of memory). */
static cJSON *message(void)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "jsonrpc", "2.0")) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Adds a copy of V as NAME; false when out of memory. */
static bool add_copy(cJSON *o, const char *name, const cJSON *v)
{
    cJSON *c = v ? cJSON_Duplicate(v, true) : cJSON_CreateObject();
    if (!c)
        return false;
    cJSON_AddItemToObject(o, name, c);
    return true;
}

char *pr_jrpc_request(int64_t id, const char *method, const cJSON *params)
{
    cJSON *o = message();
    if (!o)
        return NULL;
    bool ok = (id < 0 || cJSON_AddNumberToObject(o, "id", (double)id)) &&
              cJSON_AddStringToObject(o, "method", method) &&
              (!params || add_copy(o, "params", params));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return print(o);
}

static bool add_id(cJSON *o, const cJSON *id)
{
    cJSON *c = id ? cJSON_Duplicate(id, false) : cJSON_CreateNull();
    if (!c)
        return false;
    cJSON_AddItemToObject(o, "id", c);
    return true;
}

char *pr_jrpc_result(const cJSON *id, const cJSON *result)
{
    cJSON *o = message();
    if (o && (!add_id(o, id) || !add_copy(o, "result", result))) {
        cJSON_Delete(o);
        return NULL;
    }
    return print(o);
}

char *pr_jrpc_error(const cJSON *id, long long code, const char *msg)
{
    cJSON *o = message();
    cJSON *e = cJSON_CreateObject();
    if (!o || !e || !add_id(o, id) ||
        !cJSON_AddNumberToObject(e, "code", (double)code) ||
        !cJSON_AddStringToObject(e, "message", msg)) {
        cJSON_Delete(o);
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddItemToObject(o, "error", e);
    return print(o);
}
