/* prompt.c -- rendering a plan's prompt file into chat messages
 *
 * Glue between the PROMPTS section (plan_load.c) and the renderer
 * (template_render.c): the partials a template includes are the plan's
 * records by index; the context is the step's inputs over the prompt's
 * input defaults.
 */
#include "prompt.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static int plan_template(void *ud, uint32_t i, const uint8_t **code,
                         size_t *len)
{
    const struct pr_plan *p = ud;
    struct pr_prompt v;
    if (i >= p->nprompts)
        return -1;
    pr_plan_prompt(p, i, &v);
    *code = v.code.p;
    *len = v.code.len;
    return 0;
}

void pr_plan_tpl_set(const struct pr_plan *p, struct pr_tpl_set *set)
{
    set->get = plan_template;
    set->ud = (void *)(uintptr_t)p;
}

/* INPUT over the defaults: a new object, or NULL when out of memory. */
static cJSON *with_defaults(const char *defaults, const cJSON *input)
{
    cJSON *ctx = defaults ? cJSON_Parse(defaults) : cJSON_CreateObject();
    if (!cJSON_IsObject(ctx)) {
        cJSON_Delete(ctx);
        ctx = cJSON_CreateObject();
    }
    for (const cJSON *c = input ? input->child : NULL; ctx && c; c = c->next) {
        if (!c->string)
            continue;
        cJSON *copy = cJSON_Duplicate(c, true);
        cJSON_DeleteItemFromObjectCaseSensitive(ctx, c->string);
        if (!copy || !cJSON_AddItemToObject(ctx, c->string, copy)) {
            cJSON_Delete(copy);
            cJSON_Delete(ctx);
            return NULL;
        }
    }
    return ctx;
}

int pr_prompt_render(const struct pr_plan *p, uint32_t i, const cJSON *input,
                     const cJSON *history, const cJSON *data, cJSON **messages,
                     char *err, size_t errcap)
{
    struct pr_prompt v;
    *messages = NULL;
    if (i >= p->nprompts)
        return pr_errf(err, errcap, "no prompt %lu in the plan",
                       (unsigned long)i);
    pr_plan_prompt(p, i, &v);
    cJSON *owned = NULL;
    const cJSON *ctx = input;
    if (!input || cJSON_IsObject(input)) {
        ctx = owned = with_defaults(v.input_default, input);
        if (!owned)
            return pr_errf(err, errcap, "out of memory");
    }
    struct pr_tpl_set set;
    struct pr_tpl_opts opts = {.data = data};
    struct pr_tpl_out out;
    char why[256];
    pr_plan_tpl_set(p, &set);
    pr_tpl_out_init(&out);
    int rc = pr_tpl_render(v.code.p, v.code.len, &set, ctx, &opts, &out, why,
                           sizeof why);
    if (rc < 0)
        pr_errf(err, errcap, "prompt file '%s': %s", v.name, why);
    else if (!(*messages = pr_tpl_messages(&out, history)))
        rc = pr_errf(err, errcap, "out of memory");
    pr_tpl_out_free(&out);
    cJSON_Delete(owned);
    return rc;
}
