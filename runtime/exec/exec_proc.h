/* exec_proc.h -- steps that run a process: shell steps, sub-workflows
 *
 * pr_proc_start spawns (child.c), registers the exit with the loop and,
 * when the process ends, calls DONE with its wait status and capture
 * files; DONE must call pr_job_finish.  The process group is signalled
 * after the exit, so nothing a step started outlives it.
 */
#ifndef POML_EXEC_PROC_H
#define POML_EXEC_PROC_H

#include <stddef.h>

#include "run.h"
#include "child.h"

typedef void (*pr_proc_done)(struct pr_job *j, int status, struct pr_child *c,
                             const char *out_path);

/* Starts ARGV for J, keeping OUT_CAP bytes of its standard output and
 * ERR_CAP of its standard error.  On failure J is already finished
 * (failed) and -1 is returned. */
int pr_proc_start(struct pr_job *j, char *const *argv, char *const *envp,
                  const char *dir, const char *out_path, size_t out_cap,
                  size_t err_cap, pr_proc_done done);
/* The executor's stop: signals the process group. */
void pr_proc_stop(struct pr_job *j, int sig);
/* The exit code a wait status stands for (128 + N for signal N), and
 * a reason when it is not 0. */
int pr_proc_status(int status, char *reason, size_t cap);

/* Runs the interpolation RUN (INTERPS index) as a shell step runs its
 * `run`, with EXTRA_VAR ({name, value} or NULL) in its environment; DONE
 * gets the exit.  Prepared commands are kept in run->kind_state (freed by
 * pr_shell_release). */
void pr_shell_command(struct pr_job *j, uint32_t run,
                      const char *const *extra_var, pr_proc_done done);
void pr_shell_release(void *state);

struct pr_shell_cmd;
/* policy.allowed_commands: every command of C must be listed by R's
 * plan's policy and by the policy R runs under (its parent's), as pomlc
 * checks with -Wpolicy.  0, or -1 with the reason in ERR. */
int pr_shell_policy(const struct pr_run *r, const struct pr_shell_cmd *c,
                    char *err, size_t cap);

/* A NULL-terminated vector of strings: the first BORROWED are not the
 * vector's (they outlive it), the rest are malloc'd and freed with it. */
struct pr_strv {
    char **v;
    size_t n, cap, borrowed;
};
/* Appends S (taken over; NULL means out of memory).  0 or -1. */
int pr_strv_add(struct pr_strv *sv, char *s);
/* Appends S, not taken over; only before the first pr_strv_add. */
int pr_strv_borrow(struct pr_strv *sv, char *s);
void pr_strv_free(struct pr_strv *sv);
/* "NAME=VALUE", malloc'd (NULL when out of memory). */
char *pr_env_entry(const char *name, const char *value);

#endif
