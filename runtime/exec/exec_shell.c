/* exec_shell.c -- shell steps, and the process machinery sub-workflows
 * share
 *
 * A shell step's `run` is prepared once per step (shell.c): a script for
 * /bin/sh -c in which every ${...} is a reference to an environment
 * variable, or an argv to start directly when the command is one plain
 * simple command.  Each attempt evaluates the ${...} values, builds the
 * environment and starts the process (child.c); the loop reports its exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "eval.h"
#include "exec_proc.h"
#include "policy.h"
#include "run.h"
#include "shell.h"
#include "util.h"

extern char **environ;

#define STDOUT_CAP ((size_t)16 << 20)
#define STDERR_CAP ((size_t)1 << 20)
#define OUTPUT_FILE_CAP ((size_t)16 << 20)
/* The kernel's limit on one environment string (MAX_ARG_STRLEN). */
#define ENV_VALUE_CAP ((size_t)128 * 1024 - 64)

/* ---- process jobs ---- */

struct proc {
    struct pr_child c;
    pr_proc_done done;
    char out_path[4096]; /* POML_OUTPUT, "" when none */
};

static void on_exit_status(void *ud, pid_t pid, int status)
{
    struct pr_job *j = ud;
    struct proc *p = j->priv;
    (void)pid;
    pr_spawn_drain(&p->c);
    /* whatever the step left behind in its group goes with it */
    pr_spawn_signal(&p->c,
                    j->timed_out || j->run->cancelling ? SIGKILL : SIGTERM);
    j->priv = NULL;
    p->done(j, status, &p->c, p->out_path[0] ? p->out_path : NULL);
    pr_spawn_release(&p->c);
    free(p);
}

int pr_proc_start(struct pr_job *j, char *const *argv, char *const *envp,
                  const char *dir, const char *out_path, size_t out_cap,
                  size_t err_cap, pr_proc_done done)
{
    struct pr_run *r = j->run;
    struct proc *p = calloc(1, sizeof *p);
    char err[512];
    if (!p) {
        pr_job_finish(j, false, "out of memory", false);
        return -1;
    }
    p->done = done;
    if (out_path)
        snprintf(p->out_path, sizeof p->out_path, "%s", out_path);
    struct pr_spawn sp = {argv,    envp,    dir,    r->tmpdir,
                          r->loop, out_cap, err_cap};
    if (pr_spawn_start(&sp, &p->c, err, sizeof err) < 0) {
        free(p);
        if (errno == EMFILE || errno == ENFILE) {
            pr_job_defer(j, err);
            return -1;
        }
        /* what the shell would have said, as its output and status */
        bool missing = strstr(err, "command not found") != NULL;
        pr_job_set_outputs(j, NULL);
        pr_job_output(j, "stdout", cJSON_CreateString(""));
        pr_job_output(j, "stderr", cJSON_CreateString(err));
        pr_job_output(j, "exit_code", cJSON_CreateNumber(missing ? 127 : 126));
        pr_job_finish(j, false, err, true);
        return -1;
    }
    j->priv = p;
    pr_job_process(j, (long)p->c.pid);
    if (pr_loop_child(r->loop, p->c.pid, on_exit_status, j) < 0) {
        pr_spawn_signal(&p->c, SIGKILL);
        /* the exit is still reaped by the loop; nothing waits for it */
        j->priv = NULL;
        pr_spawn_close(&p->c);
        free(p);
        pr_job_finish(j, false, "out of memory", false);
        return -1;
    }
    return 0;
}

void pr_proc_stop(struct pr_job *j, int sig)
{
    struct proc *p = j->priv;
    if (p)
        pr_spawn_signal(&p->c, sig);
}

static const char *signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } t[] = {{SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},
             {SIGILL, "SIGILL"},   {SIGABRT, "SIGABRT"}, {SIGFPE, "SIGFPE"},
             {SIGKILL, "SIGKILL"}, {SIGSEGV, "SIGSEGV"}, {SIGPIPE, "SIGPIPE"},
             {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGBUS, "SIGBUS"},
             {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (t[i].sig == sig)
            return t[i].name;
    return "a signal";
}

int pr_proc_status(int status, char *reason, size_t cap)
{
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (code)
            snprintf(reason, cap, "exit status %d", code);
        return code;
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(reason, cap, "killed by %s (signal %d)", signal_name(sig),
                 sig);
        return 128 + sig;
    }
    snprintf(reason, cap, "ended abnormally");
    return 255;
}

/* ---- text values ---- */

cJSON *pr_text_value(const char *s, size_t n, size_t *replaced)
{
    struct pr_buf b;
    pr_buf_init(&b);
    size_t bad = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        /* NUL, too, becomes U+FFFD: a JSON string cannot hold it */
        size_t k = u[i] ? pr_utf8_decode(s + i, n - i, NULL) : 0;
        if (k) {
            if (pr_buf_append(&b, u + i, k) < 0)
                goto oom;
            i += k;
        } else {
            if (pr_buf_append(&b, "\xef\xbf\xbd", 3) < 0)
                goto oom;
            bad++;
            i++;
        }
    }
    if (pr_buf_append_u8(&b, 0) < 0)
        goto oom;
    if (replaced)
        *replaced = bad;
    cJSON *v = cJSON_CreateString((char *)b.data);
    pr_buf_free(&b);
    return v;
oom:
    pr_buf_free(&b);
    return NULL;
}

/* ---- POML_OUTPUT ---- */

static bool output_name_ok(const char *s, size_t n)
{
    if (!n || !(s[0] == '_' || ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z')))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || c == '-' || (c >= '0' && c <= '9') ||
              ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            return false;
    }
    return true;
}

/* Outputs pomlrun records itself; a step cannot write them. */
static bool reserved_output(const char *name)
{
    static const char *const names[] = {"stdout", "stderr",   "exit_code",
                                        "status", "attempts", NULL};
    for (size_t k = 0; names[k]; k++)
        if (!strcmp(name, names[k]))
            return true;
    return false;
}

/* Text that parses as JSON as that JSON value, else NULL.  A \u0000 in
 * JSON becomes U+FFFD (no value can carry a NUL to a process). */
static cJSON *json_value(const char *s, size_t n)
{
    if (n == 0 || memchr(s, '\0', n))
        return NULL;
    char *t = pr_malloc(n + 1); /* a failure is counted: shell_done */
    if (!t)
        return NULL;
    memcpy(t, s, n);
    t[n] = '\0';
    for (long at; (at = pr_json_nul_escape(t, n)) >= 0;)
        memcpy(t + at + 2, "FFFD", 4);
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithOpts(t, &end, 1);
    free(t);
    return v;
}

/* A value written by a step: JSON when it parses as JSON, else text (a
 * NUL becomes U+FFFD). */
static cJSON *output_value(const char *s, size_t n)
{
    cJSON *v = json_value(s, n);
    return v ? v : pr_text_value(s, n, NULL);
}

static int parse_output_file(struct pr_job *j, const char *text, size_t n,
                             char *err, size_t cap)
{
    size_t line = 0;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && text[e] != '\n')
            e++;
        line++;
        const char *l = text + i;
        size_t len = e - i;
        i = e < n ? e + 1 : e;
        if (len && l[len - 1] == '\r')
            len--;
        if (!len)
            continue;
        const char *eq = memchr(l, '=', len);
        const char *hd = NULL;
        for (size_t k = 0; k + 1 < len; k++)
            if (l[k] == '<' && l[k + 1] == '<') {
                hd = l + k;
                break;
            }
        if (hd && (!eq || hd < eq)) {
            size_t nl = (size_t)(hd - l);
            const char *delim = hd + 2;
            size_t dl = len - nl - 2;
            if (!output_name_ok(l, nl) || !dl)
                return pr_errf(err, cap,
                               "POML_OUTPUT line %zu: expected "
                               "NAME<<DELIMITER",
                               line);
            size_t start = i, stop = (size_t)-1;
            while (i < n) {
                size_t le = i;
                while (le < n && text[le] != '\n')
                    le++;
                size_t ll = le - i;
                if (ll && text[i + ll - 1] == '\r')
                    ll--;
                line++;
                if (ll == dl && !memcmp(text + i, delim, dl)) {
                    stop = i;
                    i = le < n ? le + 1 : le;
                    break;
                }
                i = le < n ? le + 1 : le;
            }
            if (stop == (size_t)-1)
                return pr_errf(err, cap,
                               "POML_OUTPUT: the block '%.*s' has no closing "
                               "line '%.*s'",
                               (int)nl, l, (int)dl, delim);
            size_t vl = stop - start;
            if (vl && text[start + vl - 1] == '\n')
                vl--;
            if (vl && text[start + vl - 1] == '\r')
                vl--;
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)nl, l);
            if (reserved_output(name))
                return pr_errf(err, cap,
                               "POML_OUTPUT: '%s' is recorded by pomlrun "
                               "and cannot be written; use another name",
                               name);
            pr_job_output(j, name, output_value(text + start, vl));
            continue;
        }
        if (!eq || !output_name_ok(l, (size_t)(eq - l)) ||
            (size_t)(eq - l) >= 128)
            return pr_errf(err, cap,
                           "POML_OUTPUT line %zu: expected NAME=VALUE or "
                           "NAME<<DELIMITER",
                           line);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - l), l);
        if (reserved_output(name))
            return pr_errf(err, cap,
                           "POML_OUTPUT line %zu: '%s' is recorded by "
                           "pomlrun and cannot be written; use another name",
                           line, name);
        pr_job_output(j, name,
                      output_value(eq + 1, len - (size_t)(eq - l) - 1));
    }
    return 0;
}

/* ---- the shell executor ---- */

struct prepared {
    struct pr_shell_cmd cmd;
    struct pr_code *codes; /* the ${...} of run, in order */
    char err[256];         /* preparation failed: why */
};

void pr_shell_release(void *state)
{
    struct prepared *p = state;
    pr_shell_cmd_free(&p->cmd);
    free(p->codes);
    free(p);
}

static bool run_allowed(const char *name, void *ctx)
{
    const struct pr_run *r = ctx;
    for (uint32_t a = 0; a < r->wf.allowed_commands.n; a++)
        if (!strcmp(name, pr_plan_str(r->plan,
                                      pr_plan_list_at(
                                          r->plan, r->wf.allowed_commands, a),
                                      NULL)))
            return true;
    return false;
}

static bool parent_allowed(const char *name, void *ctx)
{
    return pr_policy_allows(ctx, name);
}

/* Some allowed_commands bounds R: its plan's, or its parent's. */
static bool commands_bounded(const struct pr_run *r)
{
    return (r->wf.flags & PR_WF_POLICY_COMMANDS) ||
           (r->opt.policy && r->opt.policy->commands.set);
}

/* policy.allowed_commands: every command of the script must be listed
 * (the check pomlc makes with -Wpolicy), by the plan's policy and by the
 * parent workflow's, which bounds a sub-workflow.  0, or -1 with the
 * reason. */
int pr_shell_policy(const struct pr_run *r, const struct pr_shell_cmd *c,
                    char *err, size_t cap)
{
    if ((r->wf.flags & PR_WF_POLICY_COMMANDS) &&
        pr_shell_check_policy(c, run_allowed, (void *)r, err, cap) < 0)
        return -1;
    const struct pr_policy *o = r->opt.policy;
    char why[256];
    if (!o || !o->commands.set ||
        pr_shell_check_policy(c, parent_allowed, (void *)&o->commands, why,
                              sizeof why) == 0)
        return 0;
    const char *what = strncmp(why, "policy: ", 8) ? why : why + 8;
    return pr_errf(err, cap,
                   "policy of the parent workflow '%.100s': %s (a "
                   "sub-workflow runs under its parent's policy)",
                   o->workflow, what);
}

static struct prepared *prepare(struct pr_job *j, uint32_t run)
{
    struct pr_run *r = j->run;
    if (r->kind_state[j->step])
        return r->kind_state[j->step];
    struct prepared *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    struct pr_interp_view iv = {0, 0, false};
    if (run != PR_PLAN_NONE)
        pr_plan_interp(r->plan, run, &iv);
    struct pr_shell_part *parts = calloc((size_t)iv.n + 1, sizeof *parts);
    p->codes = calloc((size_t)iv.n + 1, sizeof *p->codes);
    if (!parts || !p->codes) {
        free(parts);
        pr_shell_release(p);
        return NULL;
    }
    size_t nc = 0;
    for (uint32_t k = 0; k < iv.n; k++) {
        struct pr_part_view pv;
        pr_plan_part(r->plan, iv.first + k, &pv);
        if (pv.kind == 0) {
            parts[k].text = pv.text;
            parts[k].len = pv.text_len;
        } else {
            parts[k].text = NULL;
            p->codes[nc++] = pv.code;
        }
    }
    if (pr_shell_prepare(parts, iv.n, &p->cmd, p->err, sizeof p->err) < 0) {
        if (!p->err[0])
            snprintf(p->err, sizeof p->err, "out of memory");
    } else {
        pr_shell_policy(r, &p->cmd, p->err, sizeof p->err);
    }
    free(parts);
    r->kind_state[j->step] = p;
    return p;
}

int pr_strv_add(struct pr_strv *sv, char *s)
{
    if (!s)
        return -1;
    if (pr_grow((void **)&sv->v, &sv->cap, sv->n + 2, sizeof *sv->v) < 0) {
        free(s);
        return -1;
    }
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
    return 0;
}

int pr_strv_borrow(struct pr_strv *sv, char *s)
{
    if (sv->n != sv->borrowed)
        return -1;
    if (pr_grow((void **)&sv->v, &sv->cap, sv->n + 2, sizeof *sv->v) < 0)
        return -1;
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
    sv->borrowed++;
    return 0;
}

void pr_strv_free(struct pr_strv *sv)
{
    for (size_t i = sv->borrowed; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
}

char *pr_env_entry(const char *name, const char *value)
{
    size_t a = strlen(name), b = strlen(value);
    char *e = malloc(a + b + 2);
    if (e) {
        memcpy(e, name, a);
        e[a] = '=';
        memcpy(e + a + 1, value, b + 1);
    }
    return e;
}

/* Evaluates the ${...} values of the run into VALS (malloc'd strings). */
static int eval_values(struct pr_job *j, struct prepared *p, char **vals,
                       char *err, size_t cap)
{
    for (size_t k = 0; k < p->cmd.nvars; k++) {
        cJSON *v;
        char e[400];
        if (pr_run_expr(j, p->codes[k], &v, e, sizeof e) < 0)
            return pr_errf(err, cap, "in 'run': %s", e);
        vals[k] = pr_value_text(v);
        cJSON_Delete(v);
        if (!vals[k])
            return pr_errf(err, cap, "out of memory");
        if (p->cmd.vars[k].use == PR_SHELL_NUMBER &&
            !pr_shell_number_ok(vals[k]))
            return pr_errf(err, cap,
                           "in 'run': ${...} number %zu is inside shell "
                           "arithmetic, where only a decimal integer is "
                           "data; its value '%.40s%s' is not one",
                           k + 1, vals[k], strlen(vals[k]) > 40 ? "..." : "");
        size_t len = strlen(vals[k]);
        if (len > ENV_VALUE_CAP)
            return pr_errf(err, cap,
                           "in 'run': the value of ${...} number %zu is %zu "
                           "bytes; a value passed to a process is limited "
                           "to %zu bytes (write large data to a file and "
                           "pass its name)",
                           k + 1, len, ENV_VALUE_CAP);
    }
    return 0;
}

/* Variables pomlrun sets for a step: inherited copies are dropped. */
static bool is_ours(const char *e)
{
    static const char *const names[] = {
        "POML_OUTPUT=", "POML_RUN_ID=",  "POML_STEP_ID=",
        "POML_ITEMS=",  "POML_ATTEMPT=", NULL};
    for (size_t k = 0; names[k]; k++)
        if (!strncmp(e, names[k], strlen(names[k])))
            return true;
    if (strncmp(e, "POML_V", 6) || !(e[6] >= '1' && e[6] <= '9'))
        return false;
    const char *p = e + 6;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '=';
}

static int build_env(struct pr_job *j, char **vals, size_t nvals,
                     const char *out_path, const char *const *extra_var,
                     struct pr_strv *env, char *err, size_t cap)
{
    const struct pr_step *s = pr_job_step(j);
    cJSON *extra = NULL;
    if (s->env != PR_PLAN_NONE) {
        char e[400];
        if (pr_run_tval(j, s->env, &extra, e, sizeof e) < 0)
            return pr_errf(err, cap, "in 'env': %s", e);
    }
    for (char **e = environ; *e; e++) {
        if (is_ours(*e))
            continue;
        const char *eq = strchr(*e, '=');
        size_t nl = eq ? (size_t)(eq - *e) : strlen(*e);
        bool overridden = false;
        cJSON *x;
        cJSON_ArrayForEach (x, extra) {
            if (strlen(x->string) == nl && !memcmp(x->string, *e, nl))
                overridden = true;
        }
        /* the process's own environment outlives the spawn: no copy */
        if (!overridden && pr_strv_borrow(env, *e) < 0)
            goto oom;
    }
    cJSON *x;
    cJSON_ArrayForEach (x, extra) {
        if (commands_bounded(j->run) &&
            pr_shell_protected_var(x->string, strlen(x->string))) {
            int rc = pr_errf(err, cap,
                             "policy: env sets '%.100s', which changes "
                             "which programs run; allowed_commands is set",
                             x->string);
            cJSON_Delete(extra);
            return rc;
        }
        char probe[256];
        snprintf(probe, sizeof probe, "%s=", x->string);
        if (is_ours(probe))
            continue;
        char *t = pr_value_text(x);
        if (!t)
            goto oom;
        int rc = pr_strv_add(env, pr_env_entry(x->string, t));
        free(t);
        if (rc < 0)
            goto oom;
    }
    cJSON_Delete(extra);
    extra = NULL;
    for (size_t k = 0; k < nvals; k++) {
        char name[32];
        snprintf(name, sizeof name, "POML_V%zu", k + 1);
        if (pr_strv_add(env, pr_env_entry(name, vals[k])) < 0)
            goto oom;
    }
    if (extra_var &&
        pr_strv_add(env, pr_env_entry(extra_var[0], extra_var[1])) < 0)
        goto oom;
    if (pr_strv_add(env, pr_env_entry("POML_OUTPUT", out_path)) < 0 ||
        pr_strv_add(env, pr_env_entry("POML_RUN_ID", j->run->run_id)) < 0 ||
        pr_strv_add(env, pr_env_entry("POML_STEP_ID", s->id)) < 0)
        goto oom;
    char attempt[16];
    snprintf(attempt, sizeof attempt, "%u", j->attempt_base + j->attempts);
    if (pr_strv_add(env, pr_env_entry("POML_ATTEMPT", attempt)) < 0)
        goto oom;
    return 0;
oom:
    cJSON_Delete(extra);
    return pr_errf(err, cap, "out of memory");
}

static int build_argv(struct prepared *p, char **vals, bool shell,
                      struct pr_strv *argv)
{
    if (!p->cmd.argv_words || shell) {
        if (pr_strv_add(argv, strdup("/bin/sh")) < 0 ||
            pr_strv_add(argv, strdup("-c")) < 0 ||
            pr_strv_add(argv, strdup(p->cmd.script)) < 0)
            return -1;
        return 0;
    }
    for (size_t w = 0; w < p->cmd.nwords; w++) {
        struct pr_buf b;
        pr_buf_init(&b);
        const struct pr_shell_word *wd = &p->cmd.argv_words[w];
        for (size_t k = 0; k < wd->npieces; k++) {
            const struct pr_shell_piece *pc = &wd->pieces[k];
            const char *t = pc->var ? vals[pc->var - 1] : pc->text;
            size_t n = pc->var ? strlen(t) : pc->len;
            if (pr_buf_append(&b, t, n) < 0) {
                pr_buf_free(&b);
                return -1;
            }
        }
        if (pr_buf_append_u8(&b, 0) < 0 ||
            pr_strv_add(argv, (char *)b.data) < 0)
            return -1;
    }
    return 0;
}

/* Captured output as the output NAME.  0, or -1 when out of memory. */
static int add_captured(struct pr_job *j, const char *name,
                        const struct pr_child *c, bool err, bool trim)
{
    size_t len = 0, bad = 0;
    unsigned long long total = 0;
    char *t = pr_spawn_output(c, err, &len, &total);
    if (!t)
        return -1;
    if (trim && len && t[len - 1] == '\n' && total == len) {
        len--;
        if (len && t[len - 1] == '\r')
            len--;
    }
    cJSON *v = pr_text_value(t, len, &bad);
    pr_job_output(j, name, v);
    free(t);
    if (!v)
        return -1;
    if (total > len + 2)
        pr_run_note(j->run, j,
                    "%s: kept the first %zu of %llu bytes; the rest was "
                    "read and dropped",
                    name, len, total);
    if (c->lost)
        pr_run_note(j->run, j, "%s: output not kept in full: %s", name,
                    strerror(c->lost));
    if (bad)
        pr_run_note(j->run, j,
                    "%s: %zu bytes that are not UTF-8 text (or NUL) "
                    "replaced by U+FFFD",
                    name, bad);
    return 0;
}

static void shell_done(struct pr_job *j, int status, struct pr_child *c,
                       const char *out_path)
{
    const struct pr_step *s = pr_job_step(j);
    const struct pr_plan *plan = j->run->plan;
    char reason[256] = "";
    /* an output cJSON could not allocate is missing without a word */
    unsigned long failures = pr_alloc_failures();
    pr_job_set_outputs(j, NULL);
    bool lost = add_captured(j, "stdout", c, false, true) < 0;
    lost |= add_captured(j, "stderr", c, true, false) < 0;
    int code = pr_proc_status(status, reason, sizeof reason);
    pr_job_output(j, "exit_code", cJSON_CreateNumber(code));
    bool ok = code == 0;
    FILE *f = out_path ? fopen(out_path, "rbe") : NULL;
    if (f) {
        char *text = malloc(OUTPUT_FILE_CAP + 1);
        size_t n = text ? fread(text, 1, OUTPUT_FILE_CAP + 1, f) : 0;
        fclose(f);
        unlink(out_path);
        char err[256];
        if (!text) {
            ok = false;
            snprintf(reason, sizeof reason, "out of memory");
        } else if (n > OUTPUT_FILE_CAP) {
            ok = false;
            snprintf(reason, sizeof reason,
                     "POML_OUTPUT is larger than %zu bytes", OUTPUT_FILE_CAP);
        } else if (parse_output_file(j, text, n, err, sizeof err) < 0) {
            if (ok)
                snprintf(reason, sizeof reason, "%s", err);
            ok = false;
        }
        free(text);
    }
    /* standard output that parses as JSON gives the declared outputs the
       step did not write, as an LLM reply does (pr_reply_output); a JSON
       object or array is also the step's json output, so that it is the
       main output (a number or a word stays text there) */
    const char *so = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(j->outputs, "stdout"));
    cJSON *json = so ? json_value(so, strlen(so)) : NULL;
    for (uint32_t k = 0; k < s->outputs.n; k++) {
        const char *name = pr_plan_str(
            plan, pr_plan_list_at(plan, s->outputs, k), NULL);
        if (cJSON_GetObjectItemCaseSensitive(j->outputs, name))
            continue;
        cJSON *v = pr_reply_output(json, so ? so : "", name, s->outputs.n);
        if (s->outputs.n != 1 && !cJSON_GetObjectItemCaseSensitive(json, name))
            pr_run_note(j->run, j, "did not write its output '%s'", name);
        pr_job_output(j, name, v);
    }
    if ((cJSON_IsObject(json) || cJSON_IsArray(json)) &&
        !cJSON_GetObjectItemCaseSensitive(j->outputs, "json"))
        pr_job_output(j, "json", json);
    else
        cJSON_Delete(json);
    if (lost || pr_alloc_failures() != failures) {
        ok = false;
        snprintf(reason, sizeof reason, "out of memory");
    }
    pr_job_finish(j, ok, ok ? NULL : reason, true);
}

void pr_shell_command(struct pr_job *j, uint32_t run,
                      const char *const *extra_var, pr_proc_done done)
{
    struct pr_run *r = j->run;
    struct prepared *p = prepare(j, run);
    char err[512];
    if (!p) {
        pr_job_finish(j, false, "out of memory", false);
        return;
    }
    if (p->err[0]) {
        pr_job_finish(j, false, p->err, false);
        return;
    }
    char **vals = calloc(p->cmd.nvars + 1, sizeof *vals);
    struct pr_strv env = {0}, argv = {0};
    char out_path[4096];
    snprintf(out_path, sizeof out_path, "%s/output-%u-%d-%u", r->tmpdir,
             j->step, (int)j->instance, j->attempts);
    int rc = vals ? eval_values(j, p, vals, err, sizeof err)
                  : pr_errf(err, sizeof err, "out of memory");
    if (rc == 0)
        rc = build_env(j, vals, p->cmd.nvars, out_path, extra_var, &env, err,
                       sizeof err);
    /* a PATH of the step's own is searched by the shell, not by us */
    bool own_path = false;
    for (size_t k = 0; rc == 0 && k < env.n; k++)
        own_path |= !strncmp(env.v[k], "PATH=", 5) &&
                    strcmp(env.v[k] + 5, getenv("PATH") ? getenv("PATH") : "");
    if (rc == 0 && build_argv(p, vals, own_path, &argv) < 0)
        rc = pr_errf(err, sizeof err, "out of memory");
    for (size_t k = 0; vals && k < p->cmd.nvars; k++)
        free(vals[k]);
    free(vals);
    if (rc == 0) {
        const struct pr_step *s = pr_job_step(j);
        pr_proc_start(j, argv.v, env.v, s->dir, out_path, STDOUT_CAP,
                      STDERR_CAP, done);
    } else {
        pr_job_finish(j, false, err, false);
    }
    pr_strv_free(&env);
    pr_strv_free(&argv);
}

static void shell_start(struct pr_job *j)
{
    pr_shell_command(j, pr_job_step(j)->run, NULL, shell_done);
}

const struct pr_executor pr_exec_shell = {
    .in_process = false,
    .start = shell_start,
    .stop = pr_proc_stop,
    .release = pr_shell_release,
};
