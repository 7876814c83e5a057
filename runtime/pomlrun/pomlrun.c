/* pomlrun.c -- command line of the workflow runtime
 *
 * Maps a plan, validates it, binds parameters and runs it.  Loading lives
 * in plan_load.c, binding in params.c, the scheduler in exec/sched.c, the
 * executors it is given in registry.c; the reporter (exec/report.c)
 * observes the run.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "answer.h"
#include "approval.h"
#include "llm.h"
#include "params.h"
#include "policy.h"
#include "plan.h"
#include "inspect.h"
#include "memo.h"
#include "record.h"
#include "resume.h"
#include "registry.h"
#include "store.h"
#include "run.h"
#include "worker.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fputs("usage: pomlrun [options] PLAN\n"
          "       pomlrun --resume [RUN] PLAN, --redrive [RUN] PLAN\n"
          "       pomlrun --runs | --show RUN | --outputs RUN STEP | ...\n"
          "\n"
          "Runs a workflow plan compiled by pomlc.\n"
          "\n"
          "  -p NAME=VALUE        set a parameter (arrays and objects as "
          "JSON)\n"
          "  --params FILE.json   set parameters from a JSON object\n"
          "  -j, --jobs N         run at most N processes at once (default:\n"
          "                       the number of CPUs)\n"
          "  --json               print the result as JSON on stdout\n"
          "  --events FILE        write a JSON line per state change to "
          "FILE\n"
          "                       ('-': stdout)\n"
          "  -q, --quiet          report failures only\n"
          "  -v, --verbose        report starts, notes and every step's "
          "output\n"
          "  --kill-grace SECONDS between SIGTERM and SIGKILL when a step\n"
          "                       is stopped (default 5)\n"
          "  --max-output-memory SIZE  what all step outputs may take "
          "(bytes,\n"
          "                       or with K, M or G; default 1G)\n"
          "  --record FILE        write every LLM exchange to the cassette "
          "FILE\n"
          "  --replay FILE        answer LLM requests from the cassette "
          "FILE,\n"
          "                       without network or keys\n"
          "  --provider-jobs N    LLM requests in flight per provider "
          "(default 64)\n"
          "  --rpm N              at most N LLM requests a minute per "
          "provider\n"
          "  --tpm N              at most N tokens a minute per provider\n"
          "  --no-stream          ask providers for whole replies instead "
          "of\n"
          "                       server-sent events\n"
          "  --policy FILE        run under the policy in FILE (JSON) as "
          "well as\n"
          "                       the plan's own: what a sub-workflow gets "
          "from\n"
          "                       its parent\n"
          "  --state FILE         keep the run in the state file FILE\n"
          "                       (default .poml/state.db)\n"
          "  --no-state           keep no state\n"
          "  --save-state         keep the state even when the plan says\n"
          "                       save_state: false\n"
          "  --resume             take up an earlier run (RUN, 'last' or\n"
          "                       none: the newest of the plan's "
          "workflow):\n"
          "                       what succeeded is reused, the rest runs\n"
          "  --resume-from STEP   ... and run STEP and what follows it "
          "again\n"
          "  --redrive            take up a run's dead letters: run its\n"
          "                       failed jobs and what they held up\n"
          "  --no-cache           reuse no result of another run "
          "(cache:)\n"
          "  --explain            say why each job runs or is reused, in a\n"
          "                       resume; alone, --explain [RUN] STEP says\n"
          "                       why it did in RUN (default: the newest)\n"
          "  --dead-letters [RUN]\n"
          "                       list the jobs that failed, with their\n"
          "                       inputs, attempts and last error\n"
          "  --sync=full          flush the state file at every commit\n"
          "                       (survives a power cut)\n"
          "  --sync=normal        order its writes only (survives a kill;\n"
          "                       the default)\n"
          "  --submit PLAN        queue a run of PLAN (with -p, --params) "
          "in the\n"
          "                       --state database and print its id\n"
          "  --worker             take up queued runs from the --state "
          "database\n"
          "                       and run them, until SIGTERM\n"
          "  --lease SECONDS      how long a worker's hold on a run lasts "
          "unless\n"
          "                       renewed (default 30)\n"
          "  --wait RUN           wait for a submitted run to end and "
          "print its\n"
          "                       result as --json does\n"
          "  --cancel RUN         stop a submitted run, wherever it runs\n"
          "  --runs               list the runs of the state file, newest "
          "first\n"
          "  --show RUN           show one run and its jobs (RUN: an id, a\n"
          "                       prefix of one, or 'last')\n"
          "  --outputs RUN STEP   print one job's outputs as JSON\n"
          "  --history RUN        print a run's events, one JSON line each\n"
          "  --waiting [RUN]      list the approvals and escalations that "
          "wait\n"
          "  --approve RUN STEP   approve a waiting approval step; with\n"
          "                       --value JSON (its outputs), --comment "
          "TEXT,\n"
          "                       --by NAME\n"
          "  --reject RUN STEP    reject it (--comment TEXT: why)\n"
          "  --decide RUN STEP retry|skip|abort  decide an escalated "
          "failure\n"
          "  --verify             check the state file's ledger: exit 1 "
          "when a\n"
          "                       row was changed, removed or put in\n"
          "  --check              validate the plan and exit\n"
          "  --dry-run            bind parameters and print the order in\n"
          "                       which steps would start; run nothing\n"
          "  -h, --help           show this help and exit\n"
          "  -V, --version        show the version and exit\n"
          "\n"
          "Exit status: 0 success, 1 a step failed or the plan, the\n"
          "parameters or the state file are invalid, 2 usage, 4 suspended:\n"
          "waiting for a person's answer, 128+N stopped by signal N (130\n"
          "SIGINT, 143 SIGTERM).\n",
          out);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("pomlrun: error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\npomlrun: try 'pomlrun --help'\n", stderr);
    return EXIT_USAGE;
}

static int out_of_memory(void)
{
    fputs("pomlrun: error: out of memory\n", stderr);
    return EXIT_FAIL;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (n + 1 == cap) {
            if (cap > (size_t)64 << 20) {
                free(buf);
                buf = NULL;
                errno = EFBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

/* --policy FILE into P (a second one replaces the first).  0, or -1
 * with a message. */
static int load_policy(struct pr_policy *p, const char *path)
{
    char err[256];
    char *t = read_file(path);
    if (!t) {
        fprintf(stderr, "pomlrun: error: cannot read '%s': %s\n", path,
                strerror(errno));
        return -1;
    }
    pr_policy_free(p);
    int rc = pr_policy_parse(p, t, err, sizeof err);
    free(t);
    if (rc < 0)
        fprintf(stderr, "pomlrun: error: %s: %s\n", path, err);
    return rc;
}

/* Prints the order in which a scheduler that starts the ready step with
 * the longest remaining critical path first would start the steps, if
 * every step finished at once and succeeded. */
static int dry_run(const struct pr_plan *p)
{
    uint32_t n = p->nsteps;
    uint32_t *pending = calloc((size_t)n + 1, sizeof *pending);
    uint32_t *heap = malloc(((size_t)n + 1) * sizeof *heap);
    struct pr_step *steps = malloc(((size_t)n + 1) * sizeof *steps);
    if (!pending || !heap || !steps) {
        out_of_memory();
        free(pending);
        free(heap);
        free(steps);
        return -1;
    }
    size_t hn = 0;
    for (uint32_t i = 0; i < n; i++) {
        pr_plan_step(p, i, &steps[i]);
        pending[i] = steps[i].deps.n;
    }
#define BEFORE(a, b)                                                          \
    (steps[a].cp_seconds != steps[b].cp_seconds                               \
         ? steps[a].cp_seconds > steps[b].cp_seconds                          \
     : steps[a].cp_steps != steps[b].cp_steps                                 \
         ? steps[a].cp_steps > steps[b].cp_steps                              \
         : (a) < (b))
    for (uint32_t i = 0; i < n; i++) {
        if (pending[i])
            continue;
        size_t k = hn++;
        heap[k] = i;
        while (k && BEFORE(heap[k], heap[(k - 1) / 2])) {
            uint32_t t = heap[k];
            heap[k] = heap[(k - 1) / 2];
            heap[(k - 1) / 2] = t;
            k = (k - 1) / 2;
        }
    }
    static const char *const kinds[] = {"gate", "shell",      "llm",
                                        "tool", "aggregator", "workflow",
                                        "approval"};
    uint32_t order = 0;
    while (hn) {
        uint32_t x = heap[0];
        heap[0] = heap[--hn];
        for (size_t k = 0;;) {
            size_t l = 2 * k + 1, r = l + 1, m = k;
            if (l < hn && BEFORE(heap[l], heap[m]))
                m = l;
            if (r < hn && BEFORE(heap[r], heap[m]))
                m = r;
            if (m == k)
                break;
            uint32_t t = heap[k];
            heap[k] = heap[m];
            heap[m] = t;
            k = m;
        }
        char id[1200];
        printf("%5u  %-24s %-10s stage %u%s%s\n", ++order,
               pr_term_text(steps[x].id, id, sizeof id),
               kinds[steps[x].kind < PR_STEP_KINDS ? steps[x].kind : 0],
               steps[x].stage, steps[x].condition.p ? ", conditional" : "",
               steps[x].for_each.p ? ", for each item" : "");
        for (uint32_t k = 0; k < steps[x].dependents.n; k++) {
            uint32_t y = pr_plan_list_at(p, steps[x].dependents, k) &
                         ~PR_EDGE_AFTER;
            if (y >= n || --pending[y])
                continue;
            size_t q = hn++;
            heap[q] = y;
            while (q && BEFORE(heap[q], heap[(q - 1) / 2])) {
                uint32_t t = heap[q];
                heap[q] = heap[(q - 1) / 2];
                heap[(q - 1) / 2] = t;
                q = (q - 1) / 2;
            }
        }
    }
#undef BEFORE
    free(pending);
    free(heap);
    free(steps);
    return fflush(stdout) == 0 ? 0 : -1;
}

static bool parse_count(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v == 0 || v > 4096 || *s == '-')
        return false;
    *out = (unsigned)v;
    return true;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || !(v >= 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

/* SIZE: bytes, or a whole number with K, M or G (1024-based), from 1M
 * to 1T. */
static bool parse_size(const char *s, unsigned long long *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end && !end[1])
        shift = *end == 'K' || *end == 'k'   ? 10
                : *end == 'M' || *end == 'm' ? 20
                : *end == 'G' || *end == 'g' ? 30
                                             : 99;
    else if (*end)
        shift = 99;
    if (errno || shift == 99 || v > (1ull << 40) >> shift)
        return false;
    v <<= shift;
    if (v < (1ull << 20))
        return false;
    *out = v;
    return true;
}

static const char *self_exe(const char *argv0, char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n > 0) {
        buf[n] = '\0';
        return buf;
    }
    return argv0;
}

/* After ERR about PATH: a POML source given for its plan gets the
 * commands that compile and run it. */
static void source_note(const char *path, const char *err)
{
    size_t n = strlen(path);
    if (strncmp(err, "not a plan file", 15) || n <= 5 ||
        strcmp(path + n - 5, ".poml"))
        return;
    fprintf(stderr,
            "pomlrun: note: %s is a POML source, not a plan; compile it "
            "with 'pomlc %s', then run 'pomlrun %.*s.plan'\n",
            path, path, (int)(n - 5), path);
}

/* Where runs are kept unless --state or --no-state says otherwise. */
#define DEFAULT_STATE ".poml/state.db"

/* The store for this run: --state's file (an error when it cannot be
 * opened), the default file (a warning), or none.  -1 on error. */
static int open_state(const char *path, bool none, bool sync_full,
                      bool required, struct pr_store **out)
{
    char err[600], safe[700];
    *out = NULL;
    if (none)
        return 0;
    *out = pr_store_open(path ? path : DEFAULT_STATE, sync_full, err,
                         sizeof err);
    if (*out)
        return 0;
    pr_term_text(err, safe, sizeof safe);
    if (path || required) {
        fprintf(stderr, "pomlrun: error: %s\n", safe);
        return -1;
    }
    fprintf(stderr,
            "pomlrun: warning: %s; running without keeping the "
            "run's state (--state FILE keeps it elsewhere, "
            "--no-state says not to)\n",
            safe);
    return 0;
}

/* What the state file adds to a run: the cache, a resume. */
struct state_opts {
    bool no_cache, explain;
    const char *state_path; /* --state's, or NULL */
    const char *resume_from;
    struct pr_resume *resume; /* NULL: a new run */
};

/* The resume's figures for --json and the log. */
static void resume_report(const struct pr_memos *m, cJSON *res, bool json,
                          bool resumed)
{
    const struct pr_memo_stats *st = pr_memo_stats(m);
    bool any = st->reused || st->cached || st->served || st->resent;
    if (res && (any || resumed)) {
        cJSON *o = cJSON_AddObjectToObject(res, "reuse");
        cJSON_AddNumberToObject(o, "jobs_reused", (double)st->reused);
        cJSON_AddNumberToObject(o, "jobs_from_cache", (double)st->cached);
        cJSON_AddNumberToObject(o, "llm_replies_from_state",
                                (double)st->served);
        cJSON_AddNumberToObject(o, "llm_requests_sent_again",
                                (double)st->resent);
        cJSON_AddNumberToObject(o, "sent_again_cost_usd", st->resent_cost);
    }
    if (json)
        return;
    if (st->reused || st->cached)
        fprintf(stderr, "pomlrun: %llu job%s reused (%llu from the cache)\n",
                (unsigned long long)(st->reused + st->cached),
                pr_plural(st->reused + st->cached),
                (unsigned long long)st->cached);
    if (st->served || st->resent)
        fprintf(stderr,
                "pomlrun: %llu LLM repl%s taken from the state file; %llu "
                "request%s in flight when the run stopped sent again "
                "($%.4f)\n",
                (unsigned long long)st->served, st->served == 1 ? "y" : "ies",
                (unsigned long long)st->resent, pr_plural(st->resent),
                st->resent_cost);
}

static int execute(const struct pr_plan *plan, cJSON *params,
                   const struct pr_run_opts *opt0,
                   const struct pr_report_opts *ropt,
                   const struct pr_llm_opts *lopt0, struct pr_store *store,
                   const struct state_opts *so, bool json)
{
    struct pr_run run;
    struct pr_reporter rep;
    struct pr_recorder rec;
    struct pr_run_opts opt = *opt0;
    struct pr_llm_opts lopt = *lopt0;
    pr_record_init(&rec, store);
    struct pr_memos *memo = NULL;
    if (store) {
        struct pr_memo_opts mo = {so->no_cache, so->explain ? stderr : NULL,
                                  so->resume ? so->resume->run : NULL,
                                  so->resume ? so->resume->exchanges : NULL,
                                  so->resume_from};
        char err[300];
        if (so->resume)
            so->resume->exchanges = NULL; /* the memo's now */
        if (!(memo = pr_memo_new(plan, &rec, &mo, err, sizeof err))) {
            fprintf(stderr, "pomlrun: error: %s\n", err);
            cJSON_Delete(params);
            pr_record_close(&rec);
            return EXIT_FAIL;
        }
        rec.memo = memo;
        opt.memo = pr_memo_iface(memo);
        if (!lopt.replay)
            lopt.keeper = pr_memo_keeper(memo);
        /* approvals and escalations are kept there too */
        opt.host = &rec;
        opt.answers = &pr_answers_state;
        if (so->resume) {
            opt.run_id = so->resume->id;
            rec.resumed = true;
            rec.seq = so->resume->last_seq;
        }
    }
    int ok = pr_run_init(&run, plan, params, &opt);
    if (ok == 0 && (ok = pr_report_attach(&rep, ropt, &run)) < 0)
        fputs("pomlrun: error: out of memory\n", stderr);
    if (ok == 0 && store && (ok = pr_run_observe(&run, &rec.obs)) < 0)
        fputs("pomlrun: error: out of memory\n", stderr);
    if (ok < 0 || pr_llm_init(&run, &lopt) < 0) {
        pr_llm_finish(&run);
        pr_run_free(&run);
        pr_record_close(&rec);
        pr_memo_free(memo);
        return EXIT_FAIL;
    }
    int rc = pr_run_exec(&run);
    if (run.suspended && !run.signal)
        pr_answer_report(&run, so->state_path);
    if (memo && !json)
        resume_report(memo, NULL, false, so->resume != NULL);
    if (json) {
        /* a value cJSON could not allocate is missing without a word */
        unsigned long failures = pr_alloc_failures();
        cJSON *res = pr_report_result(&run);
        if (memo && res)
            resume_report(memo, res, true, so->resume != NULL);
        char *t = res ? cJSON_Print(res) : NULL;
        if (t && pr_alloc_failures() == failures) {
            puts(t);
            free(t);
        } else {
            free(t);
            fputs("pomlrun: error: out of memory writing the result\n",
                  stderr);
            rc = rc ? rc : EXIT_FAIL;
        }
        cJSON_Delete(res);
    }
    if (pr_llm_finish(&run) < 0 && rc == 0)
        rc = EXIT_FAIL;
    pr_run_free(&run);
    pr_record_close(&rec);
    pr_memo_free(memo);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "pomlrun: error: writing the result: %s\n",
                strerror(errno));
        rc = EXIT_FAIL;
    }
    return rc;
}

int main(int argc, char **argv)
{
    pr_alloc_init();
    bool check = false, dry = false, json = false;
    const char *events_path = NULL;
    char exe[PATH_MAX];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    struct pr_run_opts opt = {
        .jobs = ncpu > 0 ? (unsigned)ncpu : 1,
        .self_exe = self_exe(argv[0], exe, sizeof exe),
        .kill_grace = 5,
        .max_output_memory = PR_MAX_OUTPUT_MEMORY_DEFAULT,
        .executors = &pr_registry};
    struct pr_report_opts ropt = {.verbosity = PR_NORMAL,
                                  .progress = isatty(2)};
    struct pr_llm_opts lopt = {.provider_jobs = 64};
    const char *plan_path = NULL, *state_path = NULL;
    const char *inspect_run = NULL, *inspect_step = NULL;
    enum pr_inspect inspect = PR_INSPECT_NONE;
    struct pr_answer_args ans = {PR_ANSWER_NONE};
    bool no_state = false, sync_full = false, save_state = false;
    bool resume = false, redrive = false;
    enum { WORK_NONE, WORK_SUBMIT, WORK_WORKER, WORK_WAIT, WORK_CANCEL } work =
        WORK_NONE;
    const char *work_run = NULL;
    double lease = PR_LEASE_DEFAULT;
    struct state_opts so = {0};
    struct pr_resume prior = {0};
    struct pr_policy policy = {0};
    struct pr_param_arg *args = calloc((size_t)argc + 2, sizeof *args);
    char **texts = calloc((size_t)argc + 1, sizeof *texts);
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    size_t nargs = 0, ntexts = 0, npos = 0;
    int rc = EXIT_OK;
    if (!args || !texts || !pos) {
        free(args);
        free(texts);
        free(pos);
        return out_of_memory();
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto done;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("pomlrun (poml) %s\n", PACKAGE_VERSION);
            goto done;
        } else if (!strcmp(a, "--check")) {
            check = true;
        } else if (!strcmp(a, "--state")) {
            if (++i >= argc || !argv[i][0]) {
                rc = usage_error("'--state' needs a file%s", "");
                goto done;
            }
            state_path = argv[i];
        } else if (!strcmp(a, "--submit") || !strcmp(a, "--worker")) {
            work = a[2] == 's' ? WORK_SUBMIT : WORK_WORKER;
        } else if (!strcmp(a, "--wait") || !strcmp(a, "--cancel")) {
            if (++i >= argc || !argv[i][0]) {
                rc = usage_error("'%s' needs a run (an id or a prefix of "
                                 "one)",
                                 a);
                goto done;
            }
            work = a[2] == 'w' ? WORK_WAIT : WORK_CANCEL;
            work_run = argv[i];
        } else if (!strcmp(a, "--lease")) {
            if (!parse_seconds(++i < argc ? argv[i] : NULL, &lease) ||
                lease < 1) {
                rc = usage_error("'--lease' needs seconds from 1 to 86400%s",
                                 "");
                goto done;
            }
        } else if (!strcmp(a, "--no-state")) {
            no_state = true;
        } else if (!strcmp(a, "--save-state")) {
            save_state = true;
        } else if (!strcmp(a, "--resume")) {
            resume = true;
        } else if (!strcmp(a, "--redrive")) {
            redrive = true;
        } else if (!strcmp(a, "--resume-from") ||
                   !strncmp(a, "--resume-from=", 14)) {
            const char *v = a[13] == '=' ? a + 14
                            : ++i < argc ? argv[i]
                                         : NULL;
            if (!v || !*v) {
                rc = usage_error("'--resume-from' needs a step%s", "");
                goto done;
            }
            so.resume_from = v;
            resume = true;
        } else if (!strcmp(a, "--no-cache")) {
            so.no_cache = true;
        } else if (!strcmp(a, "--explain")) {
            so.explain = true;
        } else if (!strcmp(a, "--dead-letters")) {
            inspect = PR_INSPECT_DEAD;
            if (i + 1 < argc && argv[i + 1][0] != '-')
                inspect_run = argv[++i];
        } else if (!strcmp(a, "--sync=full")) {
            sync_full = true;
        } else if (!strcmp(a, "--sync=normal")) {
            sync_full = false;
        } else if (!strcmp(a, "--runs")) {
            inspect = PR_INSPECT_RUNS;
        } else if (!strcmp(a, "--verify")) {
            inspect = PR_INSPECT_VERIFY;
        } else if (!strcmp(a, "--show") || !strcmp(a, "--history") ||
                   !strcmp(a, "--outputs")) {
            bool two = !strcmp(a, "--outputs");
            if (i + 1 + two >= argc) {
                rc = usage_error(two ? "'%s' needs a run and a step"
                                     : "'%s' needs a run (an id, a prefix "
                                       "of one, or 'last')",
                                 a);
                goto done;
            }
            inspect = !strcmp(a, "--show")      ? PR_INSPECT_SHOW
                      : !strcmp(a, "--history") ? PR_INSPECT_HISTORY
                                                : PR_INSPECT_OUTPUTS;
            inspect_run = argv[++i];
            if (two)
                inspect_step = argv[++i];
        } else if (!strcmp(a, "--waiting")) {
            ans.cmd = PR_ANSWER_WAITING;
            if (i + 1 < argc && argv[i + 1][0] != '-' &&
                !strchr(argv[i + 1], '.'))
                ans.run = argv[++i]; /* a run, not a plan file */
        } else if (!strcmp(a, "--approve") || !strcmp(a, "--reject") ||
                   !strcmp(a, "--decide")) {
            bool three = !strcmp(a, "--decide");
            if (i + 2 + three >= argc) {
                rc = usage_error(three ? "'%s' needs a run, a step and "
                                         "retry, skip or abort"
                                       : "'%s' needs a run and a step",
                                 a);
                goto done;
            }
            ans.cmd = a[2] == 'a'   ? PR_ANSWER_APPROVE
                      : a[2] == 'r' ? PR_ANSWER_REJECT
                                    : PR_ANSWER_DECIDE;
            ans.run = argv[++i];
            ans.step = argv[++i];
            if (three) {
                ans.decision = argv[++i];
                if (strcmp(ans.decision, "retry") &&
                    strcmp(ans.decision, "skip") &&
                    strcmp(ans.decision, "abort")) {
                    rc = usage_error("'--decide' takes retry, skip or "
                                     "abort, not '%s'",
                                     ans.decision);
                    goto done;
                }
            }
        } else if (!strcmp(a, "--value") || !strcmp(a, "--comment") ||
                   !strcmp(a, "--by")) {
            if (++i >= argc) {
                rc = usage_error("'%s' needs a value", a);
                goto done;
            }
            if (a[2] == 'v')
                ans.value = argv[i];
            else if (a[2] == 'c')
                ans.comment = argv[i];
            else
                ans.by = argv[i];
        } else if (!strcmp(a, "--dry-run")) {
            dry = true;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            ropt.verbosity = PR_QUIET;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            ropt.verbosity = PR_VERBOSE;
        } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs") ||
                   (!strncmp(a, "-j", 2) && a[2])) {
            const char *v = a[1] == 'j' && a[2] ? a + 2
                            : ++i < argc        ? argv[i]
                                                : NULL;
            if (!parse_count(v, &opt.jobs)) {
                rc = usage_error("'--jobs' needs a number from 1 to 4096%s",
                                 "");
                goto done;
            }
        } else if (!strncmp(a, "--jobs=", 7)) {
            if (!parse_count(a + 7, &opt.jobs)) {
                rc = usage_error("'--jobs' needs a number from 1 to 4096%s",
                                 "");
                goto done;
            }
        } else if (!strcmp(a, "--events")) {
            if (++i >= argc) {
                rc = usage_error("'--events' needs a file name or '-'%s", "");
                goto done;
            }
            events_path = argv[i];
        } else if (!strcmp(a, "--record") || !strcmp(a, "--replay")) {
            if (++i >= argc) {
                rc = usage_error("'%s' needs a cassette file", a);
                goto done;
            }
            if (a[2] == 'r' && a[3] == 'e' && a[4] == 'c')
                lopt.record = argv[i];
            else
                lopt.replay = argv[i];
        } else if (!strcmp(a, "--no-stream")) {
            lopt.no_stream = true;
        } else if (!strcmp(a, "--rpm") || !strcmp(a, "--tpm")) {
            const char *v = ++i < argc ? argv[i] : NULL;
            char *end;
            errno = 0;
            unsigned long n = v ? strtoul(v, &end, 10) : 0;
            if (!v || !*v || *end || errno || *v == '-' || n == 0 ||
                n > 100000000) {
                rc = usage_error("'%s' needs a number from 1 to 100000000", a);
                goto done;
            }
            if (a[2] == 'r')
                lopt.rpm = (unsigned)n;
            else
                lopt.tpm = (unsigned)n;
        } else if (!strcmp(a, "--provider-jobs")) {
            if (!parse_count(++i < argc ? argv[i] : NULL,
                             &lopt.provider_jobs)) {
                rc = usage_error("'--provider-jobs' needs a number from 1 "
                                 "to 4096%s",
                                 "");
                goto done;
            }
        } else if (!strcmp(a, "--kill-grace")) {
            if (!parse_seconds(++i < argc ? argv[i] : NULL, &opt.kill_grace)) {
                rc = usage_error("'--kill-grace' needs seconds from 0 to "
                                 "86400%s",
                                 "");
                goto done;
            }
        } else if (!strcmp(a, "--max-output-memory")) {
            if (!parse_size(++i < argc ? argv[i] : NULL,
                            &opt.max_output_memory)) {
                rc = usage_error("'--max-output-memory' needs a size from "
                                 "1M to 1024G, such as 512M%s",
                                 "");
                goto done;
            }
        } else if (!strcmp(a, "--policy")) {
            if (++i >= argc) {
                rc = usage_error("'--policy' needs a JSON file%s", "");
                goto done;
            }
            if (load_policy(&policy, argv[i]) < 0) {
                rc = EXIT_FAIL;
                goto done;
            }
            opt.policy = &policy;
        } else if (!strcmp(a, "-p") || !strncmp(a, "-p", 2)) {
            const char *kv = a[2] ? a + 2 : (++i < argc ? argv[i] : NULL);
            const char *eq = kv ? strchr(kv, '=') : NULL;
            if (!kv || !eq || eq == kv) {
                rc = usage_error("'-p' needs NAME=VALUE%s", "");
                goto done;
            }
            char *name = strndup(kv, (size_t)(eq - kv));
            if (!name) {
                rc = out_of_memory();
                goto done;
            }
            texts[ntexts++] = name;
            args[nargs].name = name;
            args[nargs].text = eq + 1;
            args[nargs++].origin = "-p";
        } else if (!strcmp(a, "--params")) {
            if (++i >= argc) {
                rc = usage_error("'--params' needs a JSON file%s", "");
                goto done;
            }
            char *t = read_file(argv[i]);
            if (!t) {
                fprintf(stderr, "pomlrun: error: cannot read '%s': %s\n",
                        argv[i], strerror(errno));
                rc = EXIT_FAIL;
                goto done;
            }
            texts[ntexts++] = t;
            args[nargs].name = NULL;
            args[nargs].text = t;
            args[nargs++].origin = argv[i];
        } else if (a[0] == '-' && a[1]) {
            rc = usage_error("unknown option '%s'", a);
            goto done;
        } else {
            pos[npos++] = a;
        }
    }
    bool resuming = resume || redrive;
    if (so.explain && !resuming && inspect == PR_INSPECT_NONE) {
        /* the command: --explain [RUN] STEP */
        if (npos < 1 || npos > 2) {
            rc = usage_error("'--explain' needs a step (and a run before "
                             "it), or --resume and a plan%s",
                             "");
            goto done;
        }
        inspect = PR_INSPECT_EXPLAIN;
        inspect_run = npos == 2 ? pos[0] : "last";
        inspect_step = pos[npos - 1];
        npos = 0;
    }
    if (resuming && npos == 2) {
        so.resume_from = so.resume_from; /* RUN PLAN */
        inspect_run = pos[0];
        pos[0] = pos[1];
        npos = 1;
    }
    if (npos > 1) {
        rc = usage_error("more than one plan given ('%s')", pos[1]);
        goto done;
    }
    plan_path = npos ? pos[0] : NULL;
    if (ans.value && ans.cmd != PR_ANSWER_APPROVE) {
        rc = usage_error("'--value' goes with '--approve'%s", "");
        goto done;
    }
    if ((ans.comment || ans.by) && (ans.cmd == PR_ANSWER_NONE ||
                                    ans.cmd == PR_ANSWER_WAITING)) {
        rc = usage_error("'--comment' and '--by' go with '--approve', "
                         "'--reject' or '--decide'%s",
                         "");
        goto done;
    }
    if (ans.cmd != PR_ANSWER_NONE) {
        if (plan_path || inspect != PR_INSPECT_NONE) {
            rc = usage_error("'%s' reads the state file and takes no plan "
                             "or other command",
                             plan_path ? plan_path : "the answer");
            goto done;
        }
        rc = pr_answer(state_path ? state_path : DEFAULT_STATE, &ans, json);
        goto done;
    }
    if (work != WORK_NONE && work != WORK_SUBMIT) {
        const char *cmd = work == WORK_WORKER ? "--worker"
                          : work == WORK_WAIT ? "--wait"
                                              : "--cancel";
        if (plan_path || inspect != PR_INSPECT_NONE || resuming || nargs) {
            rc = usage_error("'%s' takes no plan, parameters or other "
                             "command (a worker runs the plans submitted "
                             "with theirs)",
                             cmd);
            goto done;
        }
        const char *url = state_path ? state_path : DEFAULT_STATE;
        rc = work == WORK_WORKER  ? pr_worker(url, opt.self_exe, argc, argv,
                                              lease)
             : work == WORK_WAIT ? pr_wait(url, work_run)
                                 : pr_cancel(url, work_run);
        goto done;
    }
    if (work == WORK_SUBMIT && (resuming || dry || inspect != PR_INSPECT_NONE ||
                                no_state)) {
        rc = usage_error("'--submit' takes a plan and its parameters only%s",
                         "");
        goto done;
    }
    if (inspect != PR_INSPECT_NONE) {
        if (plan_path) {
            rc = usage_error("'%s' reads the state file and takes no plan",
                             plan_path);
            goto done;
        }
        rc = pr_inspect(state_path ? state_path : DEFAULT_STATE, inspect,
                        inspect_run, inspect_step, json);
        goto done;
    }
    if (!plan_path) {
        rc = usage_error("no plan given%s", "");
        goto done;
    }
    if ((state_path || save_state || resuming) && no_state) {
        rc = usage_error("'--no-state' excludes --state, --save-state, "
                         "--resume and --redrive%s",
                         "");
        goto done;
    }
    if (resume && redrive) {
        rc = usage_error("'--resume' and '--redrive' exclude each other%s",
                         "");
        goto done;
    }
    if (lopt.record && lopt.replay) {
        rc = usage_error("'--record' and '--replay' exclude each other%s", "");
        goto done;
    }
    if (events_path && !strcmp(events_path, "-") && json) {
        rc = usage_error("'--events -' and '--json' both write to stdout; "
                         "send the events to a file%s",
                         "");
        goto done;
    }
    struct pr_plan plan;
    char err[256], safe[1100];
    if (pr_plan_open(&plan, plan_path, err, sizeof err) < 0) {
        fprintf(stderr, "pomlrun: error: %s: %s\n", plan_path,
                pr_term_text(err, safe, sizeof safe));
        source_note(plan_path, err);
        rc = EXIT_FAIL;
        goto done;
    }
    if (check) {
        pr_plan_close(&plan);
        goto done;
    }
    struct pr_store *store = NULL;
    if (!check && !dry && work != WORK_SUBMIT) {
        struct pr_workflow wf;
        pr_plan_workflow(&plan, &wf);
        /* save_state: false keeps none unless a file is asked for */
        bool none = no_state || ((wf.flags & PR_WF_NO_STATE) && !state_path &&
                                 !save_state && !resuming);
        if (open_state(state_path, none, sync_full, resuming, &store) < 0) {
            pr_plan_close(&plan);
            rc = EXIT_FAIL;
            goto done;
        }
    }
    if (resuming) {
        if (pr_resume_prepare(store, &plan, inspect_run, redrive,
                              opt.kill_grace, &prior) < 0) {
            pr_store_close(store);
            pr_plan_close(&plan);
            rc = EXIT_FAIL;
            goto done;
        }
        /* the run's parameters first: -p and --params given now win */
        const char **given = calloc(nargs + 1, sizeof *given);
        size_t ngiven = 0;
        for (size_t k = 0; given && k < nargs; k++)
            if (args[k].name)
                given[ngiven++] = args[k].name;
        const char *secret = given ? pr_resume_missing_secret(&prior, given,
                                                              ngiven)
                                   : NULL;
        free(given);
        if (secret) {
            fprintf(stderr,
                    "pomlrun: error: parameter '%s' holds a secret, which "
                    "the state file does not keep; give it again with -p "
                    "%s=...\n",
                    secret, secret);
            pr_store_close(store);
            pr_plan_close(&plan);
            rc = EXIT_FAIL;
            goto done;
        }
        memmove(args + 1, args, nargs * sizeof *args);
        args[0] = (struct pr_param_arg){NULL, prior.params,
                                        "the run's parameters"};
        nargs++;
        so.resume = &prior;
    }
    cJSON *params = NULL;
    if (pr_params_bind(&plan, args, nargs, &params, stderr)) {
        rc = EXIT_FAIL;
        cJSON_Delete(params);
        pr_store_close(store);
    } else if (work == WORK_SUBMIT) {
        rc = pr_submit(state_path ? state_path : DEFAULT_STATE, &plan,
                       plan_path, params);
        cJSON_Delete(params);
    } else if (dry) {
        if (dry_run(&plan) < 0)
            rc = EXIT_FAIL;
        cJSON_Delete(params);
    } else {
        FILE *ev = NULL;
        if (events_path && strcmp(events_path, "-")) {
            ev = fopen(events_path, "we");
            if (!ev) {
                fprintf(stderr, "pomlrun: error: cannot write '%s': %s\n",
                        events_path, strerror(errno));
                cJSON_Delete(params);
                pr_store_close(store);
                pr_plan_close(&plan);
                rc = EXIT_FAIL;
                goto done;
            }
        }
        ropt.events = events_path ? ev ? ev : stdout : NULL;
        if (ropt.verbosity == PR_QUIET)
            ropt.progress = false;
        /* takes params and the store */
        so.state_path = state_path;
        rc = execute(&plan, params, &opt, &ropt, &lopt, store, &so, json);
        if (ev && fclose(ev) != 0 && rc == 0) {
            fprintf(stderr, "pomlrun: error: writing '%s': %s\n", events_path,
                    strerror(errno));
            rc = EXIT_FAIL;
        }
    }
    pr_plan_close(&plan);
done:
    pr_resume_free(&prior);
    free(pos);
    pr_policy_free(&policy);
    for (size_t i = 0; i < ntexts; i++)
        free(texts[i]);
    free(texts);
    free(args);
    return rc;
}
