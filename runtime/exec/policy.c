/* policy.c -- the policy a parent workflow hands its sub-workflows
 *
 * Parsing the --policy file and writing the one a sub-workflow gets; the
 * checks themselves are made where the lists apply (exec_shell.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "policy.h"
#include "run.h"

static int parse_list(struct pr_policy_list *l, const cJSON *o,
                      const char *key, char *err, size_t errcap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return pr_errf(err, errcap, "policy: '%s' must be a list of names",
                       key);
    l->set = true;
    size_t n = (size_t)cJSON_GetArraySize(v);
    l->names = calloc(n + 1, sizeof *l->names);
    if (!l->names)
        return pr_errf(err, errcap, "out of memory");
    const cJSON *x;
    cJSON_ArrayForEach (x, v) {
        if (!cJSON_IsString(x))
            return pr_errf(err, errcap, "policy: '%s' must be a list of names",
                           key);
        if (!(l->names[l->n++] = strdup(x->valuestring)))
            return pr_errf(err, errcap, "out of memory");
    }
    return 0;
}

int pr_policy_parse(struct pr_policy *p, const char *text, char *err,
                    size_t errcap)
{
    static const char *const keys[] = {"workflow", "allowed_commands",
                                       "allowed_tools", NULL};
    memset(p, 0, sizeof *p);
    cJSON *o = cJSON_Parse(text);
    int rc = 0;
    if (!cJSON_IsObject(o))
        rc = pr_errf(err, errcap, "policy: expected a JSON object");
    const cJSON *x, *keys_of = rc ? NULL : o;
    cJSON_ArrayForEach (x, keys_of) {
        size_t k = 0;
        while (keys[k] && strcmp(keys[k], x->string))
            k++;
        if (!keys[k]) {
            rc = pr_errf(err, errcap,
                         "policy: unknown key '%.100s' (known: workflow, "
                         "allowed_commands, allowed_tools)",
                         x->string);
            break;
        }
    }
    const char *wf = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(o, "workflow"));
    if (rc == 0 && !(p->workflow = strdup(wf ? wf : "")))
        rc = pr_errf(err, errcap, "out of memory");
    if (rc == 0)
        rc = parse_list(&p->commands, o, "allowed_commands", err, errcap);
    if (rc == 0)
        rc = parse_list(&p->tools, o, "allowed_tools", err, errcap);
    cJSON_Delete(o);
    if (rc < 0)
        pr_policy_free(p);
    return rc;
}

static void free_list(struct pr_policy_list *l)
{
    for (size_t k = 0; k < l->n; k++)
        free(l->names[k]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

void pr_policy_free(struct pr_policy *p)
{
    free(p->workflow);
    free_list(&p->commands);
    free_list(&p->tools);
    p->workflow = NULL;
}

bool pr_policy_allows(const struct pr_policy_list *l, const char *name)
{
    if (!l || !l->set)
        return true;
    for (size_t k = 0; k < l->n; k++)
        if (!strcmp(l->names[k], name))
            return true;
    return false;
}

/* The plan's list OWN (when SET) intersected with OUTER, as JSON under
 * KEY in O; nothing when neither bounds. */
static void add_list(cJSON *o, const char *key, const struct pr_plan *plan,
                     bool set, struct pr_list own,
                     const struct pr_policy_list *outer)
{
    if (!set && (!outer || !outer->set))
        return;
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (!set) {
        for (size_t k = 0; k < outer->n; k++)
            cJSON_AddItemToArray(a, cJSON_CreateString(outer->names[k]));
        return;
    }
    for (uint32_t k = 0; k < own.n; k++) {
        const char *name = pr_plan_str(plan, pr_plan_list_at(plan, own, k),
                                       NULL);
        if (pr_policy_allows(outer, name))
            cJSON_AddItemToArray(a, cJSON_CreateString(name));
    }
}

int pr_policy_write(const struct pr_run *r, const char *path)
{
    const struct pr_policy *outer = r->opt.policy;
    bool cmds = r->wf.flags & PR_WF_POLICY_COMMANDS,
         tools = r->wf.flags & PR_WF_POLICY_TOOLS;
    if (!cmds && !tools &&
        !(outer && (outer->commands.set || outer->tools.set)))
        return 0;
    cJSON *o = cJSON_CreateObject();
    /* a refusal names the nearest workflow that bounds the list */
    cJSON_AddStringToObject(
        o, "workflow", cmds || tools || !outer ? r->wf.id : outer->workflow);
    add_list(o, "allowed_commands", r->plan, cmds, r->wf.allowed_commands,
             outer ? &outer->commands : NULL);
    add_list(o, "allowed_tools", r->plan, tools, r->wf.allowed_tools,
             outer ? &outer->tools : NULL);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    FILE *f = t ? fopen(path, "we") : NULL;
    if (!f) {
        if (!t)
            errno = ENOMEM;
        free(t);
        return -1;
    }
    bool ok = fputs(t, f) >= 0;
    free(t);
    ok = fclose(f) == 0 && ok;
    return ok ? 1 : -1;
}
