/* loop.c -- poll(2) event loop with timers, child exits and signals
 *
 * See loop.h for why it is written by hand.  Watches live in an array
 * indexed by fd; timers in a binary min-heap over a slab (ids carry a
 * generation so that a stale id never cancels a newer timer); children in
 * a small array searched on each SIGCHLD.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

struct watch {
    int events; /* 0: unused */
    pr_fd_fn fn;
    void *ud;
};

struct timer {
    double when;
    uint32_t gen;
    uint32_t heap_pos; /* UINT32_MAX: free */
    pr_timer_fn fn;
    void *ud;
};

struct child {
    pid_t pid;
    pr_child_fn fn;
    void *ud;
};

struct pr_loop {
    struct watch *w; /* by fd */
    size_t wcap;
    size_t nwatch;
    struct pollfd *pfd;
    size_t pfdcap;

    struct timer *t; /* slab */
    size_t tcap, tused;
    uint32_t *heap; /* slab indices ordered by when */
    size_t nheap;
    uint32_t *free_t;
    size_t nfree;

    struct child *c;
    size_t nc, ccap;

    pr_signal_fn on_signal;
    void *signal_ud;
    struct sigaction old[5];
};

static const int caught[5] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGUSR1};
static int sig_pipe[2] = {-1, -1};

static void on_sig(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    ssize_t r = write(sig_pipe[1], &b, 1);
    (void)r; /* a full pipe already has a wake-up */
    errno = saved;
}

double pr_loop_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

struct pr_loop *pr_loop_new(void)
{
    struct pr_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    if (sig_pipe[0] < 0) {
        if (pipe(sig_pipe) < 0) {
            free(l);
            return NULL;
        }
        set_flags(sig_pipe[0]);
        set_flags(sig_pipe[1]);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    for (int i = 0; i < 5; i++)
        sigaction(caught[i], &sa, &l->old[i]);
    return l;
}

void pr_loop_free(struct pr_loop *l)
{
    if (!l)
        return;
    for (int i = 0; i < 5; i++)
        sigaction(caught[i], &l->old[i], NULL);
    free(l->w);
    free(l->pfd);
    free(l->t);
    free(l->heap);
    free(l->free_t);
    free(l->c);
    free(l);
}

int pr_loop_fd(struct pr_loop *l, int fd, int events, pr_fd_fn fn, void *ud)
{
    if (fd < 0)
        return -1;
    size_t old = l->wcap;
    if (pr_grow((void **)&l->w, &l->wcap, (size_t)fd + 1, sizeof *l->w) < 0)
        return -1;
    if (l->wcap > old)
        memset(l->w + old, 0, (l->wcap - old) * sizeof *l->w);
    struct watch *w = &l->w[fd];
    if (!w->events && events)
        l->nwatch++;
    else if (w->events && !events)
        l->nwatch--;
    w->events = events;
    w->fn = fn;
    w->ud = ud;
    return 0;
}

/* ---- timers ---- */

static bool earlier(const struct pr_loop *l, uint32_t a, uint32_t b)
{
    return l->t[a].when < l->t[b].when;
}

static void heap_set(struct pr_loop *l, size_t pos, uint32_t slot)
{
    l->heap[pos] = slot;
    l->t[slot].heap_pos = (uint32_t)pos;
}

static void sift_up(struct pr_loop *l, size_t k)
{
    uint32_t x = l->heap[k];
    while (k && earlier(l, x, l->heap[(k - 1) / 2])) {
        heap_set(l, k, l->heap[(k - 1) / 2]);
        k = (k - 1) / 2;
    }
    heap_set(l, k, x);
}

static void sift_down(struct pr_loop *l, size_t k)
{
    uint32_t x = l->heap[k];
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && earlier(l, l->heap[c + 1], l->heap[c]))
            c++;
        if (!earlier(l, l->heap[c], x))
            break;
        heap_set(l, k, l->heap[c]);
        k = c;
    }
    heap_set(l, k, x);
}

static void heap_remove(struct pr_loop *l, size_t pos)
{
    uint32_t slot = l->heap[pos];
    l->t[slot].heap_pos = UINT32_MAX;
    l->free_t[l->nfree++] = slot;
    if (pos == --l->nheap)
        return;
    heap_set(l, pos, l->heap[l->nheap]);
    sift_down(l, pos);
    sift_up(l, l->t[l->heap[pos]].heap_pos);
}

uint64_t pr_loop_timer(struct pr_loop *l, double after, pr_timer_fn fn,
                       void *ud)
{
    uint32_t slot;
    if (l->nfree) {
        slot = l->free_t[--l->nfree];
    } else {
        if (l->tused == l->tcap) {
            size_t n = l->tcap, hc = l->tcap, fc = l->tcap;
            if (pr_grow((void **)&l->t, &n, n + 1, sizeof *l->t) < 0 ||
                pr_grow((void **)&l->heap, &hc, n, sizeof *l->heap) < 0 ||
                pr_grow((void **)&l->free_t, &fc, n, sizeof *l->free_t) < 0)
                return 0;
            l->tcap = n;
        }
        slot = (uint32_t)l->tused++;
        l->t[slot].gen = 0;
    }
    struct timer *t = &l->t[slot];
    t->gen++;
    t->when = pr_loop_now() + (after > 0 ? after : 0);
    t->fn = fn;
    t->ud = ud;
    l->heap[l->nheap] = slot;
    t->heap_pos = (uint32_t)l->nheap++;
    sift_up(l, t->heap_pos);
    return (uint64_t)t->gen << 32 | slot;
}

void pr_loop_cancel(struct pr_loop *l, uint64_t id)
{
    uint32_t slot = (uint32_t)id, gen = (uint32_t)(id >> 32);
    if (!id || slot >= l->tcap)
        return;
    struct timer *t = &l->t[slot];
    if (t->gen != gen || t->heap_pos == UINT32_MAX)
        return;
    heap_remove(l, t->heap_pos);
}

/* ---- children and signals ---- */

int pr_loop_child(struct pr_loop *l, pid_t pid, pr_child_fn fn, void *ud)
{
    if (pr_grow((void **)&l->c, &l->ccap, l->nc + 1, sizeof *l->c) < 0)
        return -1;
    l->c[l->nc++] = (struct child){pid, fn, ud};
    return 0;
}

void pr_loop_on_signal(struct pr_loop *l, pr_signal_fn fn, void *ud)
{
    l->on_signal = fn;
    l->signal_ud = ud;
}

static int reap(struct pr_loop *l)
{
    int ran = 0;
    for (size_t i = 0; i < l->nc;) {
        int st;
        pid_t r = waitpid(l->c[i].pid, &st, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            i++;
            continue;
        }
        struct child c = l->c[i];
        l->c[i] = l->c[--l->nc];
        if (r < 0)
            st = 127 << 8; /* not our child: report it as lost */
        c.fn(c.ud, c.pid, st);
        ran++;
    }
    return ran;
}

static int drain_signals(struct pr_loop *l)
{
    unsigned char buf[64];
    int ran = 0;
    bool child = false;
    ssize_t n;
    while ((n = read(sig_pipe[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == SIGCHLD) {
                child = true;
            } else if (l->on_signal) {
                l->on_signal(l->signal_ud, buf[i]);
                ran++;
            }
        }
    }
    if (child)
        ran += reap(l);
    return ran;
}

bool pr_loop_busy(const struct pr_loop *l)
{
    return l->nwatch || l->nheap || l->nc;
}

static int run_timers(struct pr_loop *l)
{
    int ran = 0;
    double now = pr_loop_now();
    while (l->nheap && l->t[l->heap[0]].when <= now) {
        uint32_t slot = l->heap[0];
        pr_timer_fn fn = l->t[slot].fn;
        void *ud = l->t[slot].ud;
        heap_remove(l, 0);
        fn(ud);
        ran++;
    }
    return ran;
}

int pr_loop_once(struct pr_loop *l, double timeout)
{
    if (!pr_loop_busy(l) && timeout < 0)
        return -1;
    size_t n = 1;
    if (pr_grow((void **)&l->pfd, &l->pfdcap, l->nwatch + 1, sizeof *l->pfd) <
        0)
        return -1;
    l->pfd[0] = (struct pollfd){sig_pipe[0], POLLIN, 0};
    for (size_t fd = 0; fd < l->wcap && n <= l->nwatch; fd++) {
        int ev = l->w[fd].events;
        if (!ev)
            continue;
        l->pfd[n++] = (struct pollfd){
            (int)fd,
            (short)((ev & PR_LOOP_IN ? POLLIN : 0) |
                    (ev & PR_LOOP_OUT ? POLLOUT : 0)),
            0};
    }
    double wait = timeout;
    if (l->nheap) {
        double d = l->t[l->heap[0]].when - pr_loop_now();
        if (d < 0)
            d = 0;
        if (wait < 0 || d < wait)
            wait = d;
    }
    int ms = wait < 0 ? -1 : wait > 86400 ? 86400000 : (int)ceil(wait * 1e3);
    /* a child that exits between registration and poll has already
       written to the pipe, so the wait below cannot miss it */
    int r = poll(l->pfd, n, ms);
    if (r < 0 && errno != EINTR)
        return -1;
    int ran = 0;
    if (r > 0 && l->pfd[0].revents)
        ran += drain_signals(l);
    for (size_t i = 1; r > 0 && i < n; i++) {
        short re = l->pfd[i].revents;
        int fd = l->pfd[i].fd;
        if (!re || (size_t)fd >= l->wcap || !l->w[fd].events)
            continue;
        int ev = 0;
        if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
            ev |= PR_LOOP_IN;
        if (re & POLLOUT)
            ev |= PR_LOOP_OUT;
        ev &= l->w[fd].events | PR_LOOP_IN;
        l->w[fd].fn(l->w[fd].ud, fd, ev);
        ran++;
    }
    ran += run_timers(l);
    return ran;
}
