/* worker.c -- --submit, --worker, --wait and --cancel on a PostgreSQL
 * state database (the queue: runtime/state/queue.h)
 *
 * A worker is an event loop over two descriptors: the database
 * connection (LISTEN poml_work, poml_cancel: a notification wakes it)
 * and a pipe its signal handler writes to (SIGCHLD, SIGTERM, SIGINT).
 * It claims one run at a time and runs it as a child pomlrun, which
 * takes the run up as --resume does (a first claim finds no job done,
 * a later one reuses what succeeded) and keeps it in the store as any
 * run is kept; the worker renews its lease every third of it meanwhile.
 * When the lease cannot be renewed (the connection is lost and does not
 * come back, or another worker took the run after it ended) the child
 * is stopped, so that a run is worked on by one worker at a time as far
 * as the worker can tell.  The child dies with the worker
 * (PR_SET_PDEATHSIG): a worker killed by SIGKILL takes its run's
 * pomlrun with it, and the next claim stops the steps it left (resume).
 *
 * With no run to claim the worker sleeps until a notification comes or,
 * when another worker holds a lease, until that lease would end: never a
 * tight poll.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "record.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#if HAVE_LIBPQ

static int queue_open(const char *url, const char *command,
                      struct pr_queue **q)
{
    char err[700], safe[800];
    *q = pr_queue_open(url, command, err, sizeof err);
    if (*q)
        return 0;
    fprintf(stderr, "pomlrun: error: %s\n",
            pr_term_text(err, safe, sizeof safe));
    return -1;
}

static int queue_failed(struct pr_queue *q)
{
    char safe[800];
    fprintf(stderr, "pomlrun: error: %s\n",
            pr_term_text(pr_queue_error(q), safe, sizeof safe));
    pr_queue_close(q);
    return 1;
}

int pr_submit(const char *url, const struct pr_plan *plan, const char *path,
              const cJSON *params)
{
    const cJSON *p;
    cJSON_ArrayForEach (p, params)
        if (p->string && pr_store_secret_name(p->string)) {
            fprintf(stderr,
                    "pomlrun: error: %s: parameter '%s' holds a secret, "
                    "which the state database does not keep, so no worker "
                    "could run it; run the plan itself with --state\n",
                    path, p->string);
            return 1;
        }
    struct pr_queue *q;
    if (queue_open(url, "--submit", &q) < 0)
        return 1;
    struct pr_workflow wf;
    pr_plan_workflow(plan, &wf);
    char hash[24], id[40];
    pr_record_plan_hash(plan, hash);
    char *t = cJSON_PrintUnformatted(params);
    if (!t) {
        pr_queue_close(q);
        fputs("pomlrun: error: out of memory\n", stderr);
        return 1;
    }
    int rc = pr_queue_submit(q, plan->base, plan->size, wf.id, hash, t, id);
    free(t);
    if (rc < 0)
        return queue_failed(q);
    puts(id);
    pr_queue_close(q);
    return fflush(stdout) ? 1 : 0;
}

/* ---- the worker ---- */

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int e = errno;
    unsigned char c = (unsigned char)sig;
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* full: a wake-up is pending already */
    }
    errno = e;
}

struct worker {
    struct pr_queue *q;
    const char *self;
    int argc;
    char **argv;
    double lease;
    char name[300]; /* host:pid */
    char dir[64];   /* the scratch directory of plans and results */
    /* the run being worked on */
    struct pr_claim claim;
    pid_t child;      /* 0: none */
    double renew_at;  /* monotonic */
    double lease_end; /* monotonic: the lease as last renewed */
    bool cancel;      /* the run is to be cancelled */
    bool lost;        /* the lease is no longer ours */
    bool stopping;    /* SIGTERM or SIGINT: claim nothing more */
    int stop_signal;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void file_of(const struct worker *w, const char *ext, char *buf,
                    size_t cap)
{
    snprintf(buf, cap, "%s/%s.%s", w->dir, w->claim.id, ext);
}

/* The child's command: this program with the worker's options (but
 * --worker, --lease and --json), then --json --resume RUN PLAN. */
static char **child_argv(const struct worker *w, char *plan)
{
    char **a = calloc((size_t)w->argc + 6, sizeof *a);
    if (!a)
        return NULL;
    size_t n = 0;
    a[n++] = (char *)w->self;
    for (int i = 1; i < w->argc; i++) {
        if (!strcmp(w->argv[i], "--lease")) {
            i++;
            continue;
        }
        if (strcmp(w->argv[i], "--worker") && strcmp(w->argv[i], "--json"))
            a[n++] = w->argv[i];
    }
    a[n++] = "--json";
    a[n++] = "--resume";
    a[n++] = (char *)w->claim.id;
    a[n++] = plan;
    return a;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Starts the child for the run claimed.  0, or -1 (the run is let go). */
static int start_child(struct worker *w)
{
    char plan[128], result[128];
    file_of(w, "plan", plan, sizeof plan);
    file_of(w, "json", result, sizeof result);
    int pf = open(plan, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rf = open(result, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char **a = child_argv(w, plan);
    bool ok = pf >= 0 && rf >= 0 && a &&
              write_all(pf, w->claim.plan, w->claim.len) == 0;
    if (pf >= 0 && close(pf) < 0)
        ok = false;
    pid_t parent = getpid();
    pid_t pid = ok ? fork() : -1;
    if (pid == 0) {
        /* dies with the worker: a killed worker leaves no run going */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(137);
        signal(SIGCHLD, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        if (dup2(rf, 1) < 0)
            _exit(127);
        execv(w->self, a);
        fprintf(stderr, "pomlrun: error: cannot run %s: %s\n", w->self,
                strerror(errno));
        _exit(127);
    }
    int e = errno;
    free(a);
    if (rf >= 0)
        close(rf);
    if (pid < 0) {
        fprintf(stderr, "pomlrun: error: cannot start run %s: %s\n",
                w->claim.id, strerror(e));
        return -1;
    }
    w->child = pid;
    w->cancel = w->lost = false;
    w->lease_end = mono() + w->lease;
    w->renew_at = mono() + w->lease / 3;
    fprintf(stderr, "pomlrun: worker %s: run %s (claim %u)\n", w->name,
            w->claim.id, w->claim.claims);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            char *nb = realloc(buf, cap = cap * 2 + 8192);
            if (!nb)
                break;
            buf = nb;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) {
            buf[n] = '\0';
            fclose(f);
            return n ? buf : (free(buf), NULL);
        }
    }
    free(buf);
    fclose(f);
    return NULL;
}

/* The child ended with STATUS (waitpid's): the run is done (its result
 * kept), or let go when the worker stopped it to stop itself. */
static void child_ended(struct worker *w, int status)
{
    int rc = WIFEXITED(status) ? WEXITSTATUS(status)
                               : 128 + WTERMSIG(status);
    char plan[128], result[128];
    file_of(w, "plan", plan, sizeof plan);
    file_of(w, "json", result, sizeof result);
    char *res = slurp(result);
    unlink(plan);
    unlink(result);
    w->child = 0;
    int k = 0;
    if (w->lost) {
        fprintf(stderr,
                "pomlrun: worker %s: run %s stopped: its lease was lost\n",
                w->name, w->claim.id);
    } else if (w->stopping && !w->cancel && rc == 128 + SIGTERM) {
        k = pr_queue_release(w->q, w->claim.id, w->name);
        if (k == 0)
            fprintf(stderr,
                    "pomlrun: worker %s: run %s let go, for another "
                    "worker to take up\n",
                    w->name, w->claim.id);
    } else if (rc == 127 || rc == 128 + SIGKILL) {
        /* no result: another claim takes it up when the lease ends */
        fprintf(stderr, "pomlrun: worker %s: run %s ended without a "
                "result (status %d)\n", w->name, w->claim.id, rc);
    } else {
        k = pr_queue_finish(w->q, w->claim.id, w->name, rc, res);
    }
    if (k < 0) {
        char safe[800];
        fprintf(stderr, "pomlrun: warning: %s; the run is taken up again "
                "when its lease ends\n",
                pr_term_text(pr_queue_error(w->q), safe, sizeof safe));
    }
    free(res);
    free(w->claim.plan);
    memset(&w->claim, 0, sizeof w->claim);
}

static void stop_child(struct worker *w, int sig)
{
    if (w->child > 0)
        kill(w->child, sig);
}

static void on_notify(void *ud, const char *channel, const char *payload)
{
    struct worker *w = ud;
    if (!strcmp(channel, "poml_cancel") && w->child &&
        !strcmp(payload, w->claim.id) && !w->cancel) {
        w->cancel = true;
        fprintf(stderr, "pomlrun: worker %s: run %s cancelled\n", w->name,
                w->claim.id);
        stop_child(w, SIGTERM);
    }
}

/* Renews the lease of the run worked on, or stops its child when the
 * lease is lost or about to end unrenewed. */
static void renew(struct worker *w)
{
    double now = mono();
    int k = pr_queue_reconnect(w->q) < 0
                ? -1
                : pr_queue_renew(w->q, w->claim.id, w->name, w->lease);
    if (k > 0) {
        w->lease_end = now + w->lease;
        w->renew_at = now + w->lease / 3;
        if (k == 2)
            on_notify(w, "poml_cancel", w->claim.id);
        return;
    }
    w->renew_at = now + (w->lease / 10 < 1 ? w->lease / 10 : 1);
    if (k == 0 || now + w->lease / 10 >= w->lease_end) {
        char safe[800];
        if (!w->lost)
            fprintf(stderr, "pomlrun: worker %s: run %s: %s; stopping it\n",
                    w->name, w->claim.id,
                    k == 0 ? "another worker holds it now"
                           : pr_term_text(pr_queue_error(w->q), safe,
                                          sizeof safe));
        w->lost = true;
        stop_child(w, SIGTERM);
    }
}

static int ms_until(double at)
{
    double d = at - mono();
    return d <= 0 ? 0 : d > 3600 ? 3600000 : (int)(d * 1000) + 1;
}

/* One turn: wait for a notification, a signal or a timer, and act. */
static void turn(struct worker *w)
{
    int timeout;
    if (w->child)
        timeout = ms_until(w->renew_at);
    else if (w->stopping)
        return;
    else {
        double e = pr_queue_next_expiry(w->q);
        timeout = e < 0 ? 600000 : (int)(e * 1000) + 50;
    }
    struct pollfd fds[2] = {{sig_pipe[0], POLLIN, 0},
                            {pr_queue_socket(w->q), POLLIN, 0}};
    int n = poll(fds, fds[1].fd >= 0 ? 2 : 1, timeout);
    if (n < 0 && errno != EINTR)
        return;
    if (fds[0].revents & POLLIN) {
        unsigned char c[64];
        ssize_t k = read(sig_pipe[0], c, sizeof c);
        for (ssize_t i = 0; i < k; i++)
            if ((c[i] == SIGTERM || c[i] == SIGINT) && !w->stopping) {
                w->stopping = true;
                w->stop_signal = c[i];
                fprintf(stderr, "pomlrun: worker %s: stopping\n", w->name);
                stop_child(w, SIGTERM);
            }
    }
    int status;
    if (w->child && waitpid(w->child, &status, WNOHANG) == w->child)
        child_ended(w, status);
    if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) &&
        pr_queue_notified(w->q, on_notify, w) < 0 && !w->child) {
        char safe[800];
        fprintf(stderr, "pomlrun: warning: %s; connecting again\n",
                pr_term_text(pr_queue_error(w->q), safe, sizeof safe));
        struct timespec ts = {1, 0};
        if (pr_queue_reconnect(w->q) < 0)
            nanosleep(&ts, NULL);
    }
    if (w->child && mono() >= w->renew_at)
        renew(w);
}

int pr_worker(const char *url, const char *self, int argc, char **argv,
              double lease)
{
    struct worker w = {.self = self, .argc = argc, .argv = argv,
                       .lease = lease};
    if (queue_open(url, "--worker", &w.q) < 0)
        return 1;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    snprintf(w.name, sizeof w.name, "%s:%ld", host, (long)getpid());
    const char *tmp = getenv("TMPDIR");
    snprintf(w.dir, sizeof w.dir, "%s/pomlrun-worker-XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0 || !mkdtemp(w.dir)) {
        fprintf(stderr, "pomlrun: error: %s\n", strerror(errno));
        pr_queue_close(w.q);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (pr_queue_listen(w.q, "poml_work") < 0 ||
        pr_queue_listen(w.q, "poml_cancel") < 0) {
        rmdir(w.dir);
        return queue_failed(w.q);
    }
    fprintf(stderr, "pomlrun: worker %s: waiting for runs\n", w.name);
    while (!w.stopping || w.child) {
        if (!w.child && !w.stopping) {
            int k = pr_queue_reconnect(w.q) < 0
                        ? -1
                        : pr_queue_claim(w.q, w.name, w.lease, &w.claim);
            if (k < 0) {
                char safe[800];
                fprintf(stderr, "pomlrun: warning: %s\n",
                        pr_term_text(pr_queue_error(w.q), safe, sizeof safe));
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
            } else if (k == 1 && start_child(&w) < 0) {
                pr_queue_release(w.q, w.claim.id, w.name);
                free(w.claim.plan);
                memset(&w.claim, 0, sizeof w.claim);
            }
            if (k == 1)
                continue;
        }
        turn(&w);
    }
    rmdir(w.dir);
    pr_queue_close(w.q);
    fprintf(stderr, "pomlrun: worker %s: stopped\n", w.name);
    return 128 + w.stop_signal;
}

/* ---- waiting and cancelling ---- */

int pr_wait(const char *url, const char *run)
{
    struct pr_queue *q;
    if (queue_open(url, "--wait", &q) < 0)
        return 1;
    if (pr_queue_listen(q, "poml_done") < 0)
        return queue_failed(q);
    for (;;) {
        char full[40], state[16], *res;
        int status;
        if (pr_queue_status(q, run, full, state, &status, &res) < 0)
            return queue_failed(q);
        if (!strcmp(state, "done") || !strcmp(state, "cancelled")) {
            if (res)
                fputs(res, stdout);
            else
                printf("{\n\t\"run_id\":\t\"%s\",\n\t\"status\":\t\"%s\"\n}",
                       full, state);
            putchar('\n');
            free(res);
            pr_queue_close(q);
            return fflush(stdout) ? 1 : status;
        }
        /* the end comes as poml_done; a minute's look in case a
           notification was lost with a connection */
        struct pollfd fd = {pr_queue_socket(q), POLLIN, 0};
        if (poll(&fd, 1, 60000) > 0 && pr_queue_notified(q, NULL, NULL) < 0 &&
            pr_queue_reconnect(q) < 0)
            return queue_failed(q);
    }
}

int pr_cancel(const char *url, const char *run)
{
    struct pr_queue *q;
    if (queue_open(url, "--cancel", &q) < 0)
        return 1;
    char full[40];
    int k = pr_queue_cancel(q, run, full);
    if (k < 0)
        return queue_failed(q);
    fprintf(stderr,
            k ? "pomlrun: run %s: cancelled (a running run stops in its "
                "worker)\n"
              : "pomlrun: run %s had ended already\n",
            full);
    pr_queue_close(q);
    return 0;
}

#else /* no libpq: SQLite files only */

static int no_database(const char *command)
{
    fprintf(stderr,
            "pomlrun: error: %s needs a PostgreSQL state database; this "
            "pomlrun is built without libpq (apt-get install libpq-dev, "
            "then configure again)\n",
            command);
    return 1;
}

int pr_submit(const char *url, const struct pr_plan *plan, const char *path,
              const cJSON *params)
{
    (void)url, (void)plan, (void)path, (void)params;
    return no_database("--submit");
}

int pr_worker(const char *url, const char *self, int argc, char **argv,
              double lease)
{
    (void)url, (void)self, (void)argc, (void)argv, (void)lease;
    return no_database("--worker");
}

int pr_wait(const char *url, const char *run)
{
    (void)url, (void)run;
    return no_database("--wait");
}

int pr_cancel(const char *url, const char *run)
{
    (void)url, (void)run;
    return no_database("--cancel");
}

#endif
