/* proto_openai.c -- OpenAI's chat completions, spoken by most servers
 *
 * POST /chat/completions with "Authorization: Bearer KEY".  The system
 * prompt is the first message; JSON is asked for by response_format (a
 * json_schema when there is a schema); max_tokens is sent only when the
 * step sets it.  A stream's events carry choices[0].delta (content,
 * tool_calls by index) and, last, usage; "[DONE]" ends it.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "alloc.h"

static size_t headers(const char *key, char *auth, size_t cap,
                      const char **out)
{
    if (!key)
        return 0;
    snprintf(auth, cap, "Authorization: Bearer %s", key);
    out[0] = auth;
    return 1;
}

static cJSON *image(const char *url)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "image_url");
    cJSON *iu = cJSON_AddObjectToObject(p, "image_url");
    cJSON_AddStringToObject(iu, "url", url);
    return p;
}

static cJSON *body(const struct pr_llm_request *q)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "model", q->wire_id);
    cJSON *msgs = cJSON_CreateArray();
    if (q->step_max_tokens)
        cJSON_AddNumberToObject(b, "max_tokens", (double)q->max_tokens);
    if (q->system && *q->system) {
        cJSON *sm = cJSON_CreateObject();
        cJSON_AddStringToObject(sm, "role", "system");
        cJSON_AddStringToObject(sm, "content", q->system);
        pr_json_add(msgs, NULL, sm);
    }
    if (q->json_mode) {
        cJSON *rf = cJSON_AddObjectToObject(b, "response_format");
        if (q->schema) {
            cJSON_AddStringToObject(rf, "type", "json_schema");
            cJSON *js = cJSON_AddObjectToObject(rf, "json_schema");
            cJSON_AddStringToObject(js, "name", "output");
            pr_json_add(js, "schema", cJSON_Duplicate(q->schema, true));
        } else {
            cJSON_AddStringToObject(rf, "type", "json_object");
        }
    }
    pr_llm_add_messages(b, msgs, q, image);
    if (q->stream) {
        cJSON *so = cJSON_AddObjectToObject(b, "stream_options");
        cJSON_AddTrueToObject(so, "include_usage");
    }
    return b;
}

static void event(struct pr_llm_parsed *p, const cJSON *e)
{
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "choices"), 0);
    cJSON *d = cJSON_GetObjectItem(ch, "delta");
    pr_llm_stream_text(p, pr_llm_str_at(d, "content", NULL));
    cJSON *tc;
    cJSON_ArrayForEach (tc, cJSON_GetObjectItem(d, "tool_calls")) {
        int idx = pr_llm_index_at(tc, "index");
        if (idx >= 0 && idx < 1024)
            pr_llm_tool_delta(p, idx, pr_llm_str_at(tc, "id", NULL),
                              pr_llm_str_at(tc, "function", "name"),
                              pr_llm_str_at(tc, "function", "arguments"));
    }
    cJSON *u = cJSON_GetObjectItem(e, "usage");
    if (cJSON_IsObject(u)) {
        p->in_tok = pr_llm_count_at(u, "prompt_tokens", NULL);
        p->out_tok = pr_llm_count_at(u, "completion_tokens", NULL);
    }
    const char *em = pr_llm_str_at(e, "error", "message");
    if (em && !p->error)
        p->error = strdup(em);
}

static const char *whole(struct pr_llm_parsed *p, const cJSON *r)
{
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "choices"), 0);
    cJSON *m = cJSON_GetObjectItem(ch, "message");
    if (!m)
        return "the reply has no choices[0].message";
    pr_llm_text(p, pr_llm_str_at(m, "content", NULL));
    cJSON *tc;
    int idx = 0;
    cJSON_ArrayForEach (tc, cJSON_GetObjectItem(m, "tool_calls")) {
        pr_llm_tool_delta(p, idx++, pr_llm_str_at(tc, "id", NULL),
                          pr_llm_str_at(tc, "function", "name"),
                          pr_llm_str_at(tc, "function", "arguments"));
    }
    p->in_tok = pr_llm_count_at(r, "usage", "prompt_tokens");
    p->out_tok = pr_llm_count_at(r, "usage", "completion_tokens");
    return NULL;
}

const struct pr_llm_proto pr_llm_openai = {
    .name = "openai",
    .path = "/chat/completions",
    .headers = headers,
    .body = body,
    .event = event,
    .whole = whole,
    .error = pr_llm_error_common,
};
