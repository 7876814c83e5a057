/* run.h -- the exec layer's interface: one execution of a plan
 *
 * The scheduler (sched.c, with scope.c, signals.c and sla.c) owns the
 * state of every step and decides what starts when.  Executors know how
 * to perform one attempt of one kind of step; the scheduler names none:
 * the program gives it a table of them (pomlrun's registry.c), so a new
 * kind of step (MCP tools) plugs in without touching the scheduler.
 * Observers hear every state change (observe.c); the reporter (report.c)
 * is one of them, and nothing else hooks the scheduler.
 *
 * Sections, in order:
 *   jobs and runs          the state the scheduler keeps; executors and
 *                          observers read it, only the scheduler writes it
 *   the executor API       what a kind of step implements, the table
 *   observers              who hears of state changes
 *   for the program        prepare, run, free; what the run spent
 *   for executors          end an attempt, set outputs, notes, streamed
 *                          text, evaluation for a job
 *   helpers                names, main outputs, text values, clocks
 *   the reporter           log lines, progress, --events, --json
 *   this layer's executors shell, gate, aggregate, sub-workflow
 *
 * The rest of the layer's interface: loop.h (the event loop) and
 * policy.h (the policy a parent hands its sub-workflows).  child.h,
 * exec_proc.h and sched_int.h are the layer's own.
 */
#ifndef POML_RUN_H
#define POML_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "loop.h"
#include "plan.h"

/* The longest a server's Retry-After is waited for before the next
 * attempt, seconds (the OpenAI and Anthropic SDKs' bound). */
#define PR_RETRY_AFTER_MAX 60.0

struct pr_run;
struct pr_job;
struct pr_policy;
struct pr_observer;

/* ==== jobs and runs ==== */

enum pr_status {
    PR_ST_WAITING,
    PR_ST_RUNNING,
    PR_ST_SUCCEEDED,
    PR_ST_FAILED,
    PR_ST_SKIPPED,
    PR_ST_CANCELLED,
    PR_ST_SUSPENDED /* waits for a person (pr_job_suspend): not finished,
                       its dependents wait, the rest goes on */
};

/* What pomlrun exits with when a run stopped with jobs waiting for a
 * person and nothing failed. */
#define PR_EXIT_SUSPENDED 4

/* What a person decided for an escalated job (pr_answers). */
enum pr_decision {
    PR_DECIDE_NONE,    /* never escalated: run it */
    PR_DECIDE_WAITING, /* escalated, not answered yet */
    PR_DECIDE_RETRY,   /* run it again, with a fresh attempt budget */
    PR_DECIDE_SKIP,    /* it counts as skipped */
    PR_DECIDE_ABORT    /* the run fails */
};

/* The program's memory of what people answered (pomlrun: the state
 * file), for the jobs of steps that escalate_to: human. */
struct pr_answers {
    void *ud;
    /* The decision on job J of a run that is resumed; WHO gets who made
     * it ("" when unknown). */
    enum pr_decision (*decision)(void *ud, const struct pr_job *j, char *who,
                                 size_t cap);
};

/* Their names, as events, results and the store give them. */
extern const char *const pr_status_names[];

/* One unit of work: a step, or one instance of a for_each step. */
struct pr_job {
    struct pr_run *run;
    uint32_t step;
    int32_t instance;      /* -1: not an instance */
    struct pr_job *parent; /* the for_each step, for instances */
    uint8_t status;        /* enum pr_status */
    bool timed_out;        /* the current attempt hit its timeout */
    bool queued;           /* waiting in a ready queue */
    bool retry_wait;       /* between attempts */
    bool announced;        /* its "started" event was sent */
    bool reused;           /* succeeded without running: its outputs
                              came from the memo (pr_memo) */
    uint32_t attempts;
    uint32_t attempt_base;          /* attempts made before this process (an
                                       earlier attempt of the run, resumed) */
    double started_at, finished_at; /* wall clock, seconds */
    double attempt_started;         /* this attempt, wall clock */
    double mono_started;            /* this attempt, monotonic */
    char *reason;                   /* why it failed or was skipped */
    cJSON *outputs;                 /* object, or NULL until needed */
    size_t output_bytes;            /* what they take, counted in the run's
                                       output_bytes */
    cJSON *history; /* attempts, when there was more than one */
    cJSON *item;    /* the for_each element */
    long long index;
    uint64_t timer;      /* timeout, grace or retry timer */
    double retry_after;  /* pr_job_retry_after; < 0: none */
    void *priv;          /* the executor's own: it alone writes it */
    cJSON *handed;       /* what another step made for this one
                            (pr_job_hand), or NULL */
    struct pr_job *inst; /* for_each: the instances */
    uint32_t ninst, inst_done, inst_next;
};

/* What a run spent on model calls. */
struct pr_usage {
    uint64_t calls, in_tok, out_tok; /* model calls, tokens */
    double cost;                     /* US dollars */
};

/* The executors of a run: what performs each kind of step.  The
 * scheduler names none; the program fills the table (pomlrun's
 * registry.c) and passes it in pr_run_opts. */
struct pr_exec_table {
    /* By enum pr_step_kind; NULL: the kind cannot run (pr_run_init
     * refuses a plan with such a step). */
    const struct pr_executor *kind[PR_STEP_KINDS];
    /* The executor of step S of P when it is not its kind's (an
     * aggregation that runs a command), or NULL.  May itself be NULL. */
    const struct pr_executor *(*choose)(const struct pr_plan *p,
                                        const struct pr_step *s);
    /* What run R has spent on model calls so far, into U (zeroed
     * before): the layer that makes the calls counts them.  May be
     * NULL: nothing spent. */
    void (*usage)(const struct pr_run *r, struct pr_usage *u);
    /* notify's url: POSTs BODY (JSON) to URL with HEADERS ("Name:
     * value", NULL-terminated), waiting TIMEOUT seconds at most.  The
     * HTTP status (2xx: delivered), or -1 with the reason in ERR.  May be
     * NULL: a notify URL is not reached. */
    long (*post)(const char *url, const char *const *headers,
                 const char *body, double timeout, char *err, size_t cap);
};

/* --max-output-memory: what a run's step outputs may take in all. */
#define PR_MAX_OUTPUT_MEMORY_DEFAULT (1ull << 30)

/* Results the program already has: an earlier attempt of the same run
 * (resume) or of another run (the cache).  The scheduler asks before a
 * job's first attempt, once its dependencies finished and its condition
 * held. */
struct pr_memo_answer {
    cJSON *outputs;            /* not NULL: J succeeded with these
                                  (taken over) and does not run */
    uint32_t earlier_attempts; /* attempts J made before (counted on in
                                  POML_ATTEMPT and the store) */
};
struct pr_memo {
    void *ud;
    void (*ask)(void *ud, const struct pr_job *j, struct pr_memo_answer *a);
};

struct pr_run_opts {
    unsigned jobs;        /* processes at once */
    const char *self_exe; /* for sub-workflows */
    double kill_grace;    /* seconds between SIGTERM and SIGKILL */
    unsigned long long max_output_memory;  /* bytes of step outputs
                                              the run holds at most */
    const struct pr_policy *policy;        /* the parent's (--policy), on top
                                              of the plan's own; may be NULL */
    const struct pr_exec_table *executors; /* copied; required */
    const struct pr_memo *memo;            /* may be NULL: every job runs */
    const char *run_id; /* an earlier run's id (resume); NULL: a new one */
    const struct pr_answers *answers;      /* may be NULL: none, and
                                              nothing escalates */
    void *host; /* the program's, for its executors (pomlrun: the
                   recorder of the run) */
};

struct pr_run {
    const struct pr_plan *plan;
    struct pr_workflow wf;
    struct pr_step *steps;
    struct pr_job *jobs; /* one per step */
    uint32_t nsteps;
    uint32_t *pending;    /* dependencies not yet finished */
    uint32_t *blocker;    /* a needed dependency that did not
                             succeed, +1; 0: none */
    struct pr_job **heap; /* ready jobs that take a slot */
    size_t nheap, capheap;
    struct pr_job **now; /* ready in-process jobs, and steps whose
                            dependencies all finished */
    size_t nnow, capnow;
    struct pr_exec_table exec;        /* opt.executors */
    const struct pr_executor **execs; /* per step: exec.choose's, or
                                         exec.kind[kind] */
    void **kind_state;                /* per step, executors' prepared data */
    const struct pr_observer **obs;   /* pr_run_observe, in order */
    size_t nobs, capobs;

    struct pr_loop *loop;
    struct pr_run_opts opt;
    cJSON *params;
    char run_id[40];
    char *tmpdir;
    double started_at, finished_at; /* wall clock */
    double mono0;

    unsigned running;     /* attempts holding a slot */
    unsigned inflight;    /* attempts of own_slots executors */
    unsigned limited;     /* ... of them counted by max_parallel
                             (PR_WF_LIMIT_LLM) */
    struct pr_job **held; /* ready for such a slot, first first */
    size_t nheld, capheld;
    char stop_reason[192];  /* why the run stopped early, or "" */
    struct pr_llm *llm;     /* the LLM layer's state (llm.h); the
                               scheduler never looks at it */
    unsigned waiting_retry; /* jobs between attempts */
    uint32_t done, succeeded, failed, skipped, cancelled;
    uint32_t suspended; /* jobs waiting for a person */
    bool failed_hard; /* a failure without on_failure continue */
    int signal;       /* the signal that cancels the run, or 0 */
    uint32_t *loops;  /* feedback loops taken, per phase */
    bool cancelling;
    uint64_t sla_timer; /* sla.max_duration */
    bool sla_exceeded;
    unsigned long long output_bytes; /* held by every job's outputs,
                                        bounded by max_output_memory */
    bool fd_starved;                 /* a step waits for a file descriptor:
                                        no process step starts until one
                                        ends */
    bool fd_noted;
    struct pr_child *hook; /* an on_failure command running */
};

/* ==== the executor API: what a kind of step implements ==== */

struct pr_executor {
    /* Finishes inside start (no process, no --jobs slot). */
    bool in_process;
    /* Works asynchronously but limits itself (LLM requests per
     * provider): takes no --jobs slot. */
    bool own_slots;
    /* Begins one attempt of J (j->attempts counts it already).  Must
     * call pr_job_finish exactly once, now or later from the loop; on an
     * error before anything started it calls it with the reason.  It
     * changes J only through the API below ("for executors"). */
    void (*start)(struct pr_job *j);
    /* Asks the running attempt to stop; SIG is SIGTERM, then SIGKILL
     * after the grace period.  Still leads to pr_job_finish. */
    void (*stop)(struct pr_job *j, int sig);
    /* Frees what the executor keeps in run->kind_state[step]; may be
     * NULL. */
    void (*release)(void *state);
};

/* ==== observers: who hears of state changes ====
 *
 * Every member may be NULL; UD is passed back.  Calls come from the
 * event loop, in the order things happen, and must not change the run:
 * an observer reads (and may keep timers of its own on r->loop, which
 * is why the run callbacks get it writable).  For one job: job_started once (a
 * for_each step: when its instances are made; a job that never starts has
 * none), then per attempt attempt_started, outputs as they are set,
 * attempt_finished, and job_retrying when another attempt follows; then
 * job_finished once. An attempt taken back for want of file descriptors
 * (pr_job_defer) has no attempt_finished: attempt_started comes again, with
 * the same number, when it starts for good.  Steps that had not become ready
 * when the run stopped end cancelled without job_finished; run_finished
 * follows them.
 */
struct pr_observer {
    void *ud;
    void (*run_started)(void *ud, struct pr_run *r);
    /* R's counts and finished_at are final. */
    void (*run_finished)(void *ud, struct pr_run *r);
    void (*job_started)(void *ud, const struct pr_job *j);
    void (*attempt_started)(void *ud, const struct pr_job *j);
    /* The attempt ended: OK, or failed with REASON (may be NULL). */
    void (*attempt_finished)(void *ud, const struct pr_job *j, bool ok,
                             const char *reason);
    /* The attempt that failed with REASON (may be NULL) is followed by
     * another in DELAY seconds. */
    void (*job_retrying)(void *ud, const struct pr_job *j, const char *reason,
                         double delay);
    /* J ended: j->status is succeeded, failed, skipped or cancelled,
     * j->reason says why when it did not succeed. */
    void (*job_finished)(void *ud, const struct pr_job *j);
    /* J waits for a person (PR_ST_SUSPENDED): an approval step, or a job
     * that escalated its failure (ESCALATION); j->reason is the
     * question.  No job_finished follows in this run. */
    void (*job_suspended)(void *ud, const struct pr_job *j, bool escalation);
    /* Output NAME of J is now V (borrowed). */
    void (*output)(void *ud, const struct pr_job *j, const char *name,
                   const cJSON *v);
    /* MSG about J, or about the run when J is NULL. */
    void (*note)(void *ud, const struct pr_run *r, const struct pr_job *j,
                 const char *msg);
    /* N bytes at TEXT that J receives as they stream in (LLM replies). */
    void (*stream)(void *ud, const struct pr_job *j, const char *text,
                   size_t n);
    /* The attempt of J runs in process group PGID (a shell step, an
     * aggregation command, a sub-workflow). */
    void (*process)(void *ud, const struct pr_job *j, long pgid);
};

/* Registers O (kept, not copied: it must outlive the run) on R, after
 * the observers already registered.  0, or -1 when out of memory. */
int pr_run_observe(struct pr_run *r, const struct pr_observer *o);

/* ==== the scheduler API: for the program ==== */

/* Prepares a run of PLAN with bound PARAMS (taken over) and the
 * executors of OPT.  -1 with a message on stderr when out of resources
 * or a step has no executor; pr_run_free is still called. */
int pr_run_init(struct pr_run *r, const struct pr_plan *plan, cJSON *params,
                const struct pr_run_opts *opt);
/* Runs to the end (or a signal).  Returns the exit status for pomlrun:
 * 0, 1 (a step failed), PR_EXIT_SUSPENDED (nothing failed, some job
 * waits for a person), or 128 + the signal. */
int pr_run_exec(struct pr_run *r);
void pr_run_free(struct pr_run *r);
/* No new step starts: what runs finishes, what waits ends cancelled with
 * WHY, and the run fails (the program cannot go on safely: its store
 * failed).  Called from the loop (an observer's timer). */
void pr_run_stop_starting(struct pr_run *r, const char *why);
/* What R spent on model calls (the table's usage; zeros without one). */
void pr_run_usage(const struct pr_run *r, struct pr_usage *u);

/* ==== the scheduler API: for executors ==== */

/* Ends the current attempt of J: OK, or a failure with REASON (copied;
 * may be NULL).  RETRYABLE false stops further attempts.  A timeout or
 * a cancelled run overrides what the executor says.  J's state, and the
 * run's, change only here and in the calls below. */
void pr_job_finish(struct pr_job *j, bool ok, const char *reason,
                   bool retryable);

/* Ends the current attempt of J, which waits for a person: J becomes
 * PR_ST_SUSPENDED with QUESTION (copied) as its reason, its dependents
 * wait, and the run ends (PR_EXIT_SUSPENDED) when nothing else can run.
 * Called instead of pr_job_finish. */
void pr_job_suspend(struct pr_job *j, const char *question);

/* The attempt of process job J could not start for want of a file
 * descriptor (EMFILE, ENFILE): it is taken back and J waits, first in
 * line, until a running step ends and frees some; no other process step
 * starts meanwhile.  With nothing running that could free one, J fails
 * with WHY instead. */
void pr_job_defer(struct pr_job *j, const char *why);

/* Counts N more bytes (N < 0: fewer) that R holds for a step in flight
 * (an LLM reply being read) with its outputs, against
 * --max-output-memory.  False, and nothing counted, when they would pass
 * it. */
bool pr_run_hold(struct pr_run *r, long long n);

/* Sets output NAME of J (takes V; NULL, out of memory: nothing). */
void pr_job_output(struct pr_job *j, const char *name, cJSON *v);
/* Replaces all of J's outputs by OUTPUTS (an object, taken over; NULL:
 * none), e.g. to drop what an earlier attempt left. */
void pr_job_set_outputs(struct pr_job *j, cJSON *outputs);
/* The server's wish before J's next attempt, seconds (Retry-After); it
 * holds for the attempt that runs (each attempt starts with none) and is
 * honoured, up to PR_RETRY_AFTER_MAX, when that attempt fails and may be
 * retried. */
void pr_job_retry_after(struct pr_job *j, double seconds);
/* Hands V (taken over) to TO, a step that has not started: a best_of
 * step's judge reply for its judge step, which then makes no call of its
 * own.  Replaces what was handed before. */
void pr_job_hand(struct pr_job *to, cJSON *v);
/* What was handed to J (now the caller's), or NULL. */
cJSON *pr_job_take_handed(struct pr_job *j);

/* Phase feedback: takes the steps of phases FROM .. TO (GATE, the gate of
 * TO, among them) back to waiting, counts a loop of TO (run->loops[TO])
 * and starts them again.  Called by the gate instead of pr_job_finish. */
void pr_run_feedback(struct pr_job *gate, uint32_t from, uint32_t to);

/* Tells the observers a note about J (NULL: about the run). */
void pr_run_note(struct pr_run *r, const struct pr_job *j, const char *fmt,
                 ...) __attribute__((format(printf, 3, 4)));
/* Tells the observers N bytes at TEXT that J received (streamed). */
void pr_job_stream(struct pr_job *j, const char *text, size_t n);
/* Tells the observers that J's attempt runs in process group PGID. */
void pr_job_process(struct pr_job *j, long pgid);

/* Evaluates an interpolation (plan INTERPS index) for J: a pure one
 * (a single ${...}) keeps its value's type, others give a string.
 * 0, or -1 with ERR. */
int pr_run_interp(struct pr_job *j, uint32_t interp, cJSON **out, char *err,
                  size_t errcap);
/* Evaluates a template value (TVALS index) for J into JSON. */
int pr_run_tval(struct pr_job *j, uint32_t tval, cJSON **out, char *err,
                size_t errcap);
/* Evaluates expression CODE for J. */
int pr_run_expr(struct pr_job *j, struct pr_code code, cJSON **out, char *err,
                size_t errcap);
/* The same with ITEM and INDEX (when HAS_ITEM) in place of J's own. */
int pr_run_expr_item(struct pr_job *j, struct pr_code code, cJSON *item,
                     long long index, bool has_item, cJSON **out, char *err,
                     size_t errcap);

/* ==== helpers ==== */

/* The step record of J. */
static inline const struct pr_step *pr_job_step(const struct pr_job *j)
{
    return &j->run->steps[j->step];
}
/* How run R ended, as --json and the state file say it: "succeeded",
 * "failed", "suspended" or "cancelled". */
const char *pr_run_status(const struct pr_run *r);

/* J's id as people read it: "build" or "build[3]". */
const char *pr_job_name(const struct pr_job *j, char *buf, size_t cap);

/* The value a dependency hands on when nothing names an output: stdout,
 * text, result... (borrowed; NULL when it has none). */
const cJSON *pr_job_main_output(const struct pr_job *j);

/* The value of declared output NAME of a step that declares NOUTPUTS
 * and did not write it, from the step's reply: the member NAME of JSON
 * (the reply as JSON, or NULL when it is not JSON); else, for the only
 * declared output, the whole JSON value or, not JSON, TEXT; else null.
 * Shell steps (their standard output) and LLM steps share the rule. */
cJSON *pr_reply_output(const cJSON *json, const char *text, const char *name,
                       uint32_t noutputs);

/* Converts captured bytes into a JSON string value: invalid UTF-8 and NUL
 * bytes become U+FFFD (counted in *REPLACED). */
cJSON *pr_text_value(const char *s, size_t n, size_t *replaced);

/* T (wall clock seconds, pr_wall_now of util.h) as
 * "2026-01-31T12:00:00.000Z". */
void pr_time_rfc3339(double t, char buf[64]);

/* ==== the reporter (report.c): an observer ====
 *
 *   log lines   stderr, one per finished step (failures with the end of
 *               their stderr); quiet: failures only; verbose: starts,
 *               notes and output too
 *   progress    on a terminal, one status line redrawn in place
 *   events      a JSON object per line, per state change
 */

enum pr_verbosity { PR_QUIET, PR_NORMAL, PR_VERBOSE };

struct pr_report_opts {
    enum pr_verbosity verbosity;
    bool progress; /* live display on stderr (a terminal) */
    FILE *events;  /* JSON lines, or NULL */
};

struct pr_reporter { /* pr_report_attach fills it */
    struct pr_report_opts o;
    struct pr_observer obs;
    struct pr_run *run;
    uint64_t progress_timer;
    uint64_t streamed; /* bytes of LLM text received */
};

/* Makes REP, with options O, an observer of R.  REP must outlive the
 * run.  0, or -1 when out of memory. */
int pr_report_attach(struct pr_reporter *rep, const struct pr_report_opts *o,
                     struct pr_run *r);
/* The result of a finished run, as --json prints it (NULL: no memory). */
cJSON *pr_report_result(const struct pr_run *r);

/* ==== the executors of this layer (for the program's registry) ==== */

extern const struct pr_executor pr_exec_gate, pr_exec_shell, pr_exec_agg,
    pr_exec_agg_cmd, pr_exec_sub, pr_exec_unsupported;

/* exec_agg.c: the command aggregation step S uses, or PR_PLAN_NONE. */
uint32_t pr_agg_command(const struct pr_plan *p, const struct pr_step *s);

#endif
