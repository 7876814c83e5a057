/* prompt.h -- rendering a plan's prompt file into chat messages
 *
 * The LLM executor's view of PROMPTS: find a step's prompt (plan.h,
 * pr_plan_prompt_find), then render it over the step's inputs with the
 * prompt's input defaults beneath them and its partials from the same
 * plan.  The template code was verified when the plan was loaded.
 */
#ifndef POML_PROMPT_RT_H
#define POML_PROMPT_RT_H

#include <cjson/cJSON.h>

#include "plan.h"
#include "template.h"

/* The templates of P's PROMPTS as the set the renderer's partial
 * instructions index. */
void pr_plan_tpl_set(const struct pr_plan *p, struct pr_tpl_set *set);

/* Renders prompt I of P over INPUT (an object, borrowed; NULL: none) with
 * the prompt's input defaults filling the keys it lacks.  HISTORY is an
 * array of earlier messages or NULL; DATA an object of @variables or NULL.
 * 0 and the messages (template.h, pr_tpl_messages) in *MESSAGES, which the
 * caller frees; -1 with a message in ERR. */
int pr_prompt_render(const struct pr_plan *p, uint32_t i, const cJSON *input,
                     const cJSON *history, const cJSON *data, cJSON **messages,
                     char *err, size_t errcap);

#endif
