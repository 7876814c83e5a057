/* run.h -- one execution of a plan: the scheduler and the executors
 *
 * The scheduler (sched.c, with scope.c, signals.c and sla.c) owns the
 * state of every step and decides what starts when; executors
 * (exec_shell.c, exec_agg.c, exec_sub.c, ...) know how to perform one
 * attempt of one kind of step.  An executor is a start
 * and a stop function: start begins an attempt and, now or later from the
 * event loop, calls pr_job_finish exactly once; stop asks a running
 * attempt to end (timeout, cancel) and still leads to pr_job_finish.
 * New kinds of step (LLM calls, MCP tools) plug in here without touching
 * the scheduler.
 */
#ifndef POML_RUN_H
#define POML_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "loop.h"
#include "plan.h"

/* The longest a server's Retry-After is waited for before the next
 * attempt, seconds (the OpenAI and Anthropic SDKs' bound). */
#define PR_RETRY_AFTER_MAX 60.0

enum pr_status {
    PR_ST_WAITING, PR_ST_RUNNING, PR_ST_SUCCEEDED, PR_ST_FAILED,
    PR_ST_SKIPPED, PR_ST_CANCELLED
};

struct pr_run;
struct pr_job;
struct pr_policy;

/* ==== the executor API: what a kind of step implements ==== */

struct pr_executor {
    /* Finishes inside start (no process, no --jobs slot). */
    bool in_process;
    /* Works asynchronously but limits itself (LLM requests per
     * provider): takes no --jobs slot. */
    bool own_slots;
    /* Begins one attempt.  Must call pr_job_finish exactly once, now or
     * later; on an error before anything started it calls it with the
     * reason. */
    void (*start)(struct pr_job *j);
    /* Asks the running attempt to stop; SIG is SIGTERM, then SIGKILL
     * after the grace period. */
    void (*stop)(struct pr_job *j, int sig);
    /* Frees what the executor keeps in run->kind_state[step]; may be
     * NULL. */
    void (*release)(void *state);
};

/* One unit of work: a step, or one instance of a for_each step. */
struct pr_job {
    struct pr_run *run;
    uint32_t step;
    int32_t instance;           /* -1: not an instance */
    struct pr_job *parent;      /* the for_each step, for instances */
    uint8_t status;             /* enum pr_status */
    bool timed_out;             /* the current attempt hit its timeout */
    bool queued;                /* waiting in a ready queue */
    bool retry_wait;            /* between attempts */
    bool announced;             /* its "started" event was sent */
    uint32_t attempts;
    double started_at, finished_at;     /* wall clock, seconds */
    double attempt_started;             /* this attempt, wall clock */
    double mono_started;                /* this attempt, monotonic */
    char *reason;               /* why it failed or was skipped */
    cJSON *outputs;             /* object, or NULL until needed */
    size_t output_bytes;        /* what they take, counted in the run's
                                   output_bytes */
    cJSON *history;             /* attempts, when there was more than one */
    cJSON *item;                /* the for_each element */
    long long index;
    uint64_t timer;             /* timeout, grace or retry timer */
    double retry_after;         /* the server's wish before the next
                                   attempt, seconds; < 0: none; honoured
                                   up to PR_RETRY_AFTER_MAX */
    void *priv;                 /* the executor's state */
    cJSON *handed;              /* what another step made for this one
                                   (pr_job_hand), or NULL */
    struct pr_job *inst;        /* for_each: the instances */
    uint32_t ninst, inst_done, inst_next;
};

enum pr_verbosity { PR_QUIET, PR_NORMAL, PR_VERBOSE };

/* --max-output-memory: what a run's step outputs may take in all. */
#define PR_MAX_OUTPUT_MEMORY_DEFAULT (1ull << 30)

struct pr_run_opts {
    unsigned jobs;              /* processes at once */
    enum pr_verbosity verbosity;
    bool progress;              /* live display on stderr (a terminal) */
    FILE *events;               /* JSON lines, or NULL */
    const char *self_exe;       /* for sub-workflows */
    double kill_grace;          /* seconds between SIGTERM and SIGKILL */
    unsigned long long max_output_memory;       /* bytes of step outputs
                                                   the run holds at most */
    const struct pr_policy *policy;     /* the parent's (--policy), on top
                                           of the plan's own; may be NULL */
};

struct pr_run {
    const struct pr_plan *plan;
    struct pr_workflow wf;
    struct pr_step *steps;
    struct pr_job *jobs;        /* one per step */
    uint32_t nsteps;
    uint32_t *pending;          /* dependencies not yet finished */
    uint32_t *blocker;          /* a needed dependency that did not
                                   succeed, +1; 0: none */
    struct pr_job **heap;       /* ready jobs that take a slot */
    size_t nheap, capheap;
    struct pr_job **now;        /* ready in-process jobs, and steps whose
                                   dependencies all finished */
    size_t nnow, capnow;
    const struct pr_executor *exec[PR_STEP_KINDS];
    const struct pr_executor **execs;   /* per step: exec[kind], or the
                                           command aggregator */
    void **kind_state;          /* per step, executors' prepared data */

    struct pr_loop *loop;
    struct pr_run_opts opt;
    cJSON *params;
    char run_id[40];
    char *tmpdir;
    double started_at, finished_at;     /* wall clock */
    double mono0;

    unsigned running;           /* attempts holding a slot */
    unsigned inflight;          /* attempts of own_slots executors */
    unsigned limited;           /* ... of them counted by max_parallel
                                   (PR_WF_LIMIT_LLM) */
    struct pr_job **held;       /* ready for such a slot, first first */
    size_t nheld, capheld;
    char stop_reason[192];      /* why the run stopped early, or "" */
    struct pr_llm *llm;         /* LLM calls: llm.h */
    unsigned waiting_retry;     /* jobs between attempts */
    uint32_t done, succeeded, failed, skipped, cancelled;
    bool failed_hard;           /* a failure without on_failure continue */
    int signal;                 /* the signal that cancels the run, or 0 */
    uint32_t *loops;            /* feedback loops taken, per phase */
    bool cancelling;
    uint64_t progress_timer;
    uint64_t sla_timer;         /* sla.max_duration */
    uint64_t streamed;          /* bytes of LLM text received */
    bool sla_exceeded;
    unsigned long long output_bytes;    /* held by every job's outputs,
                                           bounded by max_output_memory */
    bool fd_starved;            /* a step waits for a file descriptor:
                                   no process step starts until one
                                   ends */
    bool fd_noted;
    struct pr_child *hook;      /* an on_failure command running */
};

/* ==== the scheduler API: for pomlrun ==== */

/* Prepares a run of PLAN with bound PARAMS (taken over).  -1 with a
 * message on stderr when out of resources. */
int pr_run_init(struct pr_run *r, const struct pr_plan *plan, cJSON *params,
                const struct pr_run_opts *opt);
/* Runs to the end (or a signal).  Returns the exit status for pomlrun:
 * 0, 1 (a step failed), or 128 + the signal. */
int pr_run_exec(struct pr_run *r);
void pr_run_free(struct pr_run *r);

/* ==== the scheduler API: for executors ==== */

/* Ends the current attempt of J: OK, or a failure with REASON (copied;
 * may be NULL).  RETRYABLE false stops further attempts. */
void pr_job_finish(struct pr_job *j, bool ok, const char *reason,
                   bool retryable);

/* The attempt of process job J could not start for want of a file
 * descriptor (EMFILE, ENFILE): it is taken back and J waits, first in
 * line, until a running step ends and frees some; no other process step
 * starts meanwhile.  With nothing running that could free one, J fails
 * with WHY instead. */
void pr_job_defer(struct pr_job *j, const char *why);

/* Phase feedback: takes the steps of phases FROM .. TO (GATE, the gate of
 * TO, among them) back to waiting and starts them again.  Called by the
 * gate instead of pr_job_finish. */
void pr_run_feedback(struct pr_job *gate, uint32_t from, uint32_t to);

/* The step record of J. */
static inline const struct pr_step *pr_job_step(const struct pr_job *j)
{
    return &j->run->steps[j->step];
}
/* J's id as people read it: "build" or "build[3]". */
const char *pr_job_name(const struct pr_job *j, char *buf, size_t cap);

/* Sets output NAME of J (takes V). */
void pr_job_output(struct pr_job *j, const char *name, cJSON *v);
/* Hands V (taken over) to TO, a step that has not started: a best_of
 * step's judge reply for its judge step, which then makes no call of its
 * own.  Replaces what was handed before. */
void pr_job_hand(struct pr_job *to, cJSON *v);

/* Evaluates an interpolation (plan INTERPS index) for J: a pure one
 * (a single ${...}) keeps its value's type, others give a string.
 * 0, or -1 with ERR. */
int pr_run_interp(struct pr_job *j, uint32_t interp, cJSON **out, char *err,
                  size_t errcap);
/* Evaluates a template value (TVALS index) for J into JSON. */
int pr_run_tval(struct pr_job *j, uint32_t tval, cJSON **out, char *err,
                size_t errcap);
/* Evaluates expression CODE for J. */
int pr_run_expr(struct pr_job *j, struct pr_code code, cJSON **out,
                char *err, size_t errcap);
/* The same with ITEM and INDEX (when HAS_ITEM) in place of J's own. */
int pr_run_expr_item(struct pr_job *j, struct pr_code code, cJSON *item,
                     long long index, bool has_item, cJSON **out, char *err,
                     size_t errcap);

/* The value a dependency hands on when nothing names an output: stdout,
 * text, result... (borrowed; NULL when it has none). */
const cJSON *pr_job_main_output(const struct pr_job *j);

/* The value of declared output NAME of a step that declares NOUTPUTS
 * and did not write it, from the step's reply: the member NAME of JSON
 * (the reply as JSON, or NULL when it is not JSON); else, for the only
 * declared output, the whole JSON value or, not JSON, TEXT; else null.
 * Shell steps (their standard output) and LLM steps share the rule. */
cJSON *pr_reply_output(const cJSON *json, const char *text,
                       const char *name, uint32_t noutputs);

/* Converts captured bytes into a JSON string value: invalid UTF-8 and NUL
 * bytes become U+FFFD (counted in *REPLACED). */
cJSON *pr_text_value(const char *s, size_t n, size_t *replaced);

/* ==== the reporter API (report.c) ==== */
void pr_report_run(struct pr_run *r, const char *event);
void pr_report_job(struct pr_run *r, struct pr_job *j, const char *event);
void pr_report_note(struct pr_run *r, const struct pr_job *j,
                    const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pr_report_progress(struct pr_run *r, bool final);
/* Text an LLM step receives as it streams in (N bytes at TEXT). */
void pr_report_stream(struct pr_run *r, const struct pr_job *j,
                      const char *text, size_t n);
cJSON *pr_report_result(struct pr_run *r);
void pr_time_rfc3339(double t, char buf[64]);

/* ==== the executors ==== */

extern const struct pr_executor pr_exec_gate, pr_exec_shell, pr_exec_agg,
    pr_exec_agg_cmd, pr_exec_sub, pr_exec_llm, pr_exec_unsupported;

/* exec_agg.c: the command aggregation step S uses, or PR_PLAN_NONE. */
uint32_t pr_agg_command(const struct pr_plan *p, const struct pr_step *s);

#endif
