/* proto_anthropic.c -- Anthropic's messages
 *
 * POST /messages with "x-api-key: KEY" and "anthropic-version".  The
 * system prompt is a field of its own; max_tokens is required; JSON is
 * asked for by output_config.format with a schema, or by the system
 * prompt without one.  A reply is a list of content blocks (text,
 * tool_use); a stream's events are typed (message_start, the blocks'
 * start and deltas, message_delta with the usage, message_stop, error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "alloc.h"

static size_t headers(const char *key, char *auth, size_t cap,
                      const char **out)
{
    size_t n = 0;
    if (key) {
        snprintf(auth, cap, "x-api-key: %s", key);
        out[n++] = auth;
    }
    out[n++] = "anthropic-version: 2023-06-01";
    return n;
}

static cJSON *image(const char *url)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "image");
    cJSON *src = cJSON_AddObjectToObject(p, "source");
    cJSON_AddStringToObject(src, "type", "url");
    cJSON_AddStringToObject(src, "url", url);
    return p;
}

static cJSON *body(const struct pr_llm_request *q)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", q->wire_id);
    cJSON *msgs = cJSON_CreateArray();
    cJSON_AddNumberToObject(b, "max_tokens", (double)q->max_tokens);
    const char *system = q->system;
    char *sys = NULL;
    if (q->schema) {
        /* structured outputs: output_config.format */
        cJSON *oc = cJSON_AddObjectToObject(b, "output_config");
        cJSON *f = cJSON_AddObjectToObject(oc, "format");
        cJSON_AddStringToObject(f, "type", "json_schema");
        pr_json_add(f, "schema", cJSON_Duplicate(q->schema, true));
    } else if (q->json_mode) {
        /* JSON without a schema has no option of its own: ask */
        size_t n = (system ? strlen(system) : 0) + 64;
        sys = pr_malloc(n); /* a failure is counted: build_body */
        if (sys)
            snprintf(sys, n, "%s%sReply with one JSON value only.",
                     system ? system : "", system && *system ? "\n\n" : "");
    }
    if (sys || (system && *system))
        cJSON_AddStringToObject(b, "system", sys ? sys : system);
    free(sys);
    pr_llm_add_messages(b, msgs, q, image);
    return b;
}

static void event(struct pr_llm_parsed *p, const cJSON *e)
{
    const char *type = pr_llm_str_at(e, "type", NULL);
    if (!type)
        return;
    if (!strcmp(type, "message_start")) {
        cJSON *msg = cJSON_GetObjectItem(e, "message");
        p->in_tok += pr_llm_count_at(msg, "usage", "input_tokens");
        p->out_tok += pr_llm_count_at(msg, "usage", "output_tokens");
    } else if (!strcmp(type, "content_block_start")) {
        cJSON *b = cJSON_GetObjectItem(e, "content_block");
        int idx = pr_llm_index_at(e, "index");
        const char *bt = pr_llm_str_at(b, "type", NULL);
        if (bt && !strcmp(bt, "tool_use")) {
            int t = p->ntools < 1024 ? p->ntools++ : 1023;
            if (idx >= 0 && idx < 64)
                p->block_tool[idx] = (int16_t)(t + 1);
            pr_llm_tool_delta(p, t, pr_llm_str_at(b, "id", NULL),
                              pr_llm_str_at(b, "name", NULL), NULL);
        } else {
            pr_llm_stream_text(p, pr_llm_str_at(b, "text", NULL));
        }
    } else if (!strcmp(type, "content_block_delta")) {
        cJSON *d = cJSON_GetObjectItem(e, "delta");
        const char *dt = pr_llm_str_at(d, "type", NULL);
        int idx = pr_llm_index_at(e, "index");
        if (dt && !strcmp(dt, "input_json_delta")) {
            if (idx >= 0 && idx < 64 && p->block_tool[idx])
                pr_llm_tool_delta(p, p->block_tool[idx] - 1, NULL, NULL,
                                  pr_llm_str_at(d, "partial_json", NULL));
        } else {
            pr_llm_stream_text(p, pr_llm_str_at(d, "text", NULL));
        }
    } else if (!strcmp(type, "message_delta")) {
        uint64_t o = pr_llm_count_at(e, "usage", "output_tokens");
        if (o)
            p->out_tok = o;
    } else if (!strcmp(type, "message_stop")) {
        p->done = true;
    } else if (!strcmp(type, "error") && !p->error) {
        const char *m = pr_llm_str_at(e, "error", "message");
        size_t n = (m ? strlen(m) : 0) + 32;
        p->error = malloc(n);
        if (p->error)
            snprintf(p->error, n, "server error: %s", m ? m : "unknown");
    }
}

static const char *whole(struct pr_llm_parsed *p, const cJSON *r)
{
    cJSON *b;
    int idx = 0;
    cJSON_ArrayForEach (b, cJSON_GetObjectItem(r, "content")) {
        const char *t = pr_llm_str_at(b, "type", NULL);
        if (t && !strcmp(t, "tool_use") && idx < 1024) {
            cJSON *in = cJSON_GetObjectItem(b, "input");
            char *args = in ? cJSON_PrintUnformatted(in) : NULL;
            pr_llm_tool_delta(p, idx++, pr_llm_str_at(b, "id", NULL),
                              pr_llm_str_at(b, "name", NULL), args);
            free(args);
        } else {
            pr_llm_text(p, pr_llm_str_at(b, "text", NULL));
        }
    }
    p->in_tok = pr_llm_count_at(r, "usage", "input_tokens");
    p->out_tok = pr_llm_count_at(r, "usage", "output_tokens");
    if (!cJSON_IsArray(cJSON_GetObjectItem(r, "content")))
        return "the reply has no 'content' list";
    return NULL;
}

const struct pr_llm_proto pr_llm_anthropic = {
    .name = "anthropic",
    .path = "/messages",
    .headers = headers,
    .body = body,
    .event = event,
    .whole = whole,
    .error = pr_llm_error_common,
};
