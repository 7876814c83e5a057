/* child.c -- posix_spawn with a process group and captured output */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "spawn_setup.h"
#include "loop.h"
#include "util.h"

/* Capture files are reused: creating a file costs the file system an
 * inode, truncating one costs next to nothing.  Only pomlrun writes to
 * them, so a file goes back to the pool as soon as its output was read. */
#define POOL_MAX 256
static int pool[POOL_MAX];
static size_t npool;

/* The pool's room: an eighth of the descriptors the process may open,
 * so that it never holds those that steps need. */
static size_t pool_room(void)
{
    static size_t room;
    if (!room) {
        struct rlimit rl;
        rlim_t n = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur / 8 : 0;
        room = n == 0 ? 1 : n > POOL_MAX ? POOL_MAX : (size_t)n;
    }
    return room;
}

/* Out of descriptors: the pool gives its own back. */
static bool pool_empty(void)
{
    if (!npool)
        return false;
    while (npool)
        close(pool[--npool]);
    return true;
}

static int capture_file(const char *dir)
{
    while (npool) {
        int fd = pool[--npool];
        if (ftruncate(fd, 0) == 0) /* O_APPEND: writes go to the end */
            return fd;
        close(fd);
    }
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    char path[4096];
    snprintf(path, sizeof path, "%s/capture-XXXXXX", dir);
    int t = mkostemp(path, O_APPEND | O_CLOEXEC);
    if (t >= 0)
        unlink(path);
    return t;
}

/* Keeps what fits of N bytes read from a stream, counts them all. */
static void keep(struct pr_child *c, int file, size_t cap,
                 unsigned long long *total, const char *buf, size_t n)
{
    if (*total < cap && !c->lost) {
        size_t k = cap - *total < n ? (size_t)(cap - *total) : n;
        for (size_t off = 0; off < k;) {
            ssize_t w = write(file, buf + off, k - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                c->lost = w < 0 ? errno : ENOSPC;
                break;
            }
            off += (size_t)w;
        }
    }
    *total += n;
}

/* Reads what pipe *FD holds, at most LIMIT bytes (0: until it is
 * empty); at its end, stops watching it and closes it. */
static void drain(struct pr_child *c, int *fd, size_t limit)
{
    bool err = fd == &c->err_pipe;
    char buf[65536];
    size_t got = 0;
    while (*fd >= 0 && (limit == 0 || got < limit)) {
        ssize_t r = read(*fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            if (c->loop)
                pr_loop_fd(c->loop, *fd, 0, NULL, NULL);
            close(*fd);
            *fd = -1;
            return;
        }
        keep(c, err ? c->err_fd : c->out_fd, err ? c->err_cap : c->out_cap,
             err ? &c->err_total : &c->out_total, buf, (size_t)r);
        got += (size_t)r;
    }
}

static void on_pipe(void *ud, int fd, int events)
{
    struct pr_child *c = ud;
    (void)events;
    /* a bounded read per wake-up, so that one chatty step cannot hold
       the loop */
    drain(c, fd == c->out_pipe ? &c->out_pipe : &c->err_pipe, 4 * 65536);
}

void pr_spawn_drain(struct pr_child *c)
{
    drain(c, &c->out_pipe, 0);
    drain(c, &c->err_pipe, 0);
}

int pr_spawn_start(const struct pr_spawn *s, struct pr_child *c, char *err,
                   size_t errcap)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    memset(c, 0, sizeof *c);
    c->pid = -1;
    c->out_pipe = c->err_pipe = -1;
    c->out_cap = s->out_cap;
    c->err_cap = s->err_cap;
    c->out_fd = capture_file(s->tmpdir);
    c->err_fd = c->out_fd >= 0 ? capture_file(s->tmpdir) : -1;
    if (c->err_fd < 0 && (errno == EMFILE || errno == ENFILE) &&
        pool_empty()) {
        pr_spawn_close(c);
        c->out_fd = capture_file(s->tmpdir);
        c->err_fd = c->out_fd >= 0 ? capture_file(s->tmpdir) : -1;
    }
    if (c->err_fd < 0) {
        int e = errno;
        pr_errf(err, errcap, "cannot create an output file in '%s': %s",
                s->tmpdir, strerror(e));
        pr_spawn_close(c);
        errno = e;
        return -1;
    }
    bool piped = pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0;
    if (!piped && (errno == EMFILE || errno == ENFILE) && pool_empty()) {
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0)
                close(po[i]);
            if (pe[i] >= 0)
                close(pe[i]);
            po[i] = pe[i] = -1;
        }
        piped = pipe2(po, O_CLOEXEC) == 0 && pipe2(pe, O_CLOEXEC) == 0;
    }
    if (!piped) {
        int e = errno;
        pr_errf(err, errcap, "cannot make a pipe: %s", strerror(e));
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0)
                close(po[i]);
            if (pe[i] >= 0)
                close(pe[i]);
        }
        pr_spawn_close(c);
        errno = e;
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    /* a step gets standard input, output and error only: nothing of
       pomlrun's (the --events file, the HTTP client's sockets) and
       nothing pomlrun inherited */
    int rc = pr_spawn_setup(&fa, &at, s->dir);
    if (rc == 0)
        rc = posix_spawnp(&c->pid, s->argv[0], &fa, &at, s->argv, s->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(po[1]);
    close(pe[1]);
    c->out_pipe = po[0];
    c->err_pipe = pe[0];
    fcntl(c->out_pipe, F_SETFL, O_NONBLOCK);
    fcntl(c->err_pipe, F_SETFL, O_NONBLOCK);
    if (rc == 0 && s->loop &&
        (pr_loop_fd(s->loop, c->out_pipe, PR_LOOP_IN, on_pipe, c) < 0 ||
         pr_loop_fd(s->loop, c->err_pipe, PR_LOOP_IN, on_pipe, c) < 0)) {
        c->loop = s->loop;
        pr_spawn_signal(c, SIGKILL);
        pr_errf(err, errcap, "out of memory");
        pr_spawn_close(c);
        errno = ENOMEM;
        return -1; /* the exit is reaped by the loop */
    }
    c->loop = rc == 0 ? s->loop : NULL;
    if (rc != 0) {
        if (rc == ENOENT && s->dir && access(s->dir, X_OK) != 0)
            pr_errf(err, errcap, "cannot enter directory '%s': %s", s->dir,
                    strerror(errno));
        else if (rc == ENOENT)
            pr_errf(err, errcap, "%s: command not found", s->argv[0]);
        else
            pr_errf(err, errcap, "cannot start '%s': %s", s->argv[0],
                    strerror(rc));
        c->pid = -1;
        pr_spawn_close(c);
        errno = rc;
        return -1;
    }
    return 0;
}

char *pr_spawn_output(const struct pr_child *c, bool err, size_t *len,
                      unsigned long long *total)
{
    int fd = err ? c->err_fd : c->out_fd;
    unsigned long long all = err ? c->err_total : c->out_total;
    size_t cap = err ? c->err_cap : c->out_cap;
    size_t want = all < cap ? (size_t)all : cap;
    char *buf = malloc(want + 1);
    if (!buf)
        return NULL;
    size_t got = 0;
    while (fd >= 0 && got < want) {
        ssize_t r = pread(fd, buf + got, want - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *len = got;
    *total = all > got ? all : got;
    return buf;
}

static void close_pipe(struct pr_child *c, int *fd)
{
    if (*fd < 0)
        return;
    if (c->loop)
        pr_loop_fd(c->loop, *fd, 0, NULL, NULL);
    close(*fd);
    *fd = -1;
}

void pr_spawn_release(struct pr_child *c)
{
    int *fds[2] = {&c->out_fd, &c->err_fd};
    for (int i = 0; i < 2; i++)
        if (*fds[i] >= 0 && npool < pool_room()) {
            pool[npool++] = *fds[i];
            *fds[i] = -1;
        }
    pr_spawn_close(c);
}

void pr_spawn_close(struct pr_child *c)
{
    close_pipe(c, &c->out_pipe);
    close_pipe(c, &c->err_pipe);
    if (c->out_fd >= 0)
        close(c->out_fd);
    if (c->err_fd >= 0)
        close(c->err_fd);
    c->out_fd = c->err_fd = -1;
}

void pr_spawn_signal(struct pr_child *c, int sig)
{
    if (c->pid > 0 && kill(-c->pid, sig) < 0 && errno == ESRCH)
        c->group_gone = true;
}
