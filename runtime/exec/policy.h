/* policy.h -- the policy a parent workflow hands its sub-workflows
 *
 * A sub-workflow runs as a child pomlrun under its own plan's policy and,
 * in addition, under the policy of the run that started it: the parent
 * writes its effective policy (its own lists intersected with the one it
 * runs under) to a JSON file and passes it with --policy.  A list that is
 * absent bounds nothing; a list that is present allows only its names.
 *
 *   {"workflow": "build", "allowed_commands": ["echo", "make"],
 *    "allowed_tools": ["search"]}
 */
#ifndef POML_POLICY_H
#define POML_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct pr_run;

struct pr_policy_list {
    bool set; /* false: no bound */
    char **names;
    size_t n;
};

struct pr_policy {
    char *workflow; /* the workflow whose policy this is */
    struct pr_policy_list commands, tools;
};

/* Reads the JSON TEXT of a policy file into P (zeroed first).  0, or -1
 * with the reason in ERR. */
int pr_policy_parse(struct pr_policy *p, const char *text, char *err,
                    size_t errcap);
void pr_policy_free(struct pr_policy *p);

/* NAME is allowed by L: L sets no bound, or lists NAME. */
bool pr_policy_allows(const struct pr_policy_list *l, const char *name);

/* Writes to PATH the policy a sub-workflow of R runs under: R's plan's
 * lists intersected with the policy R runs under (r->opt.policy).  1 when
 * written, 0 when nothing bounds R (no file), -1 with errno on failure. */
int pr_policy_write(const struct pr_run *r, const char *path);

#endif
