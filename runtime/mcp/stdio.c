/* stdio.c -- an MCP server as a child process (mcp_int.h)
 *
 * Started with posix_spawnp in a process group of its own, standard
 * input, output and error on pipes, nothing else of ours inherited.  The
 * stop sequence is the one the MCP stdio transport asks for: close the
 * server's input, let it exit, then SIGTERM, then SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcp_int.h"
#include "spawn_setup.h"
#include "util.h"

extern char **environ;

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int pr_mcp_stdio_start(struct pr_mcp_stdio *t, const struct pr_mcp_server *s,
                       char *err, size_t cap)
{
    pr_buf_free(&t->wq);
    memset(t, 0, sizeof *t);
    t->in = t->out = t->err = -1;
    int pi[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe2(pi, O_CLOEXEC) < 0 || pipe2(po, O_CLOEXEC) < 0 ||
        pipe2(pe, O_CLOEXEC) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            close_fd(&pi[i]);
            close_fd(&po[i]);
            close_fd(&pe[i]);
        }
        return pr_errf(err, cap, "cannot make pipes: %s", strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    int rc = pr_spawn_setup(&fa, &at, s->cwd);
    if (rc == 0)
        rc = posix_spawnp(&t->pid, s->argv[0], &fa, &at,
                          (char *const *)s->argv,
                          s->envp ? (char *const *)s->envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close_fd(&pi[0]);
    close_fd(&po[1]);
    close_fd(&pe[1]);
    t->in = pi[1];
    t->out = po[0];
    t->err = pe[0];
    if (rc != 0) {
        t->pid = 0;
        close_fd(&t->in);
        close_fd(&t->out);
        close_fd(&t->err);
        return pr_errf(err, cap, "cannot start '%s': %s", s->argv[0],
                       strerror(rc));
    }
    fcntl(t->in, F_SETFL, O_NONBLOCK);
    fcntl(t->out, F_SETFL, O_NONBLOCK);
    fcntl(t->err, F_SETFL, O_NONBLOCK);
    return 0;
}

int pr_mcp_stdio_queue(struct pr_mcp_stdio *t, const char *line)
{
    size_t n = strlen(line);
    if (t->woff && t->woff == t->wq.len) {
        t->wq.len = 0;
        t->woff = 0;
    }
    if (t->wq.len - t->woff + n + 1 > PR_MCP_MAX_QUEUE)
        return -1;
    if (pr_buf_append(&t->wq, line, n) < 0 ||
        pr_buf_append_u8(&t->wq, '\n') < 0)
        return -1;
    return 0;
}

int pr_mcp_stdio_flush(struct pr_mcp_stdio *t)
{
    while (t->woff < t->wq.len) {
        if (t->in < 0)
            return -1;
        ssize_t w = write(t->in, t->wq.data + t->woff, t->wq.len - t->woff);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            return -1;
        }
        t->woff += (size_t)w;
    }
    t->wq.len = t->woff = 0;
    /* a queue a flood made large is given back */
    if (t->wq.cap > (1u << 20)) {
        pr_buf_free(&t->wq);
        pr_buf_init(&t->wq);
    }
    return 0;
}

static void tail_add(struct pr_mcp_stdio *t, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        t->tail[t->tail_at] = p[i];
        t->tail_at = (t->tail_at + 1) % sizeof t->tail;
        if (t->tail_len < sizeof t->tail)
            t->tail_len++;
    }
}

bool pr_mcp_stdio_drain_err(struct pr_mcp_stdio *t)
{
    char b[4096];
    for (int rounds = 0; t->err >= 0 && rounds < 64; rounds++) {
        ssize_t r = read(t->err, b, sizeof b);
        if (r > 0) {
            tail_add(t, b, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        close_fd(&t->err);
        return false;
    }
    return t->err >= 0;
}

void pr_mcp_stdio_tail(const struct pr_mcp_stdio *t, char *buf, size_t cap)
{
    if (!cap)
        return;
    size_t start = (t->tail_at + sizeof t->tail - t->tail_len) %
                   sizeof t->tail;
    char lin[PR_MCP_ERR_TAIL + 1];
    size_t n = 0;
    for (size_t i = 0; i < t->tail_len; i++)
        lin[n++] = t->tail[(start + i) % sizeof t->tail];
    while (n && (lin[n - 1] == '\n' || lin[n - 1] == '\r' ||
                 lin[n - 1] == ' '))
        n--;
    lin[n] = 0;
    /* the last lines that fit */
    const char *s = lin;
    if (n + 1 > cap) {
        s = lin + n - (cap - 1);
        const char *nl = strchr(s, '\n');
        if (nl && nl[1])
            s = nl + 1;
    }
    pr_term_text(s, buf, cap);
}

static bool wait_for(struct pr_mcp_stdio *t, double seconds)
{
    for (double waited = 0;; waited += 0.01) {
        pid_t r = waitpid(t->pid, &t->status, WNOHANG);
        if (r == t->pid || (r < 0 && errno != EINTR)) {
            if (r < 0)
                t->status = 127 << 8;
            t->reaped = true;
            return true;
        }
        pr_mcp_stdio_drain_err(t);
        if (waited >= seconds)
            return false;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Writes what is queued (a notifications/cancelled, say) for up to
 * SECONDS, while the server reads. */
static void drain_queue(struct pr_mcp_stdio *t, double seconds)
{
    for (double waited = 0; t->in >= 0 && waited < seconds; waited += 0.01) {
        int rc = pr_mcp_stdio_flush(t);
        if (rc <= 0)
            return;
        struct pollfd p = {t->in, POLLOUT, 0};
        poll(&p, 1, 10);
        pr_mcp_stdio_drain_err(t);
    }
}

void pr_mcp_stdio_stop(struct pr_mcp_stdio *t, double grace)
{
    if (t->pid > 0 && !t->reaped)
        drain_queue(t, grace);
    close_fd(&t->in);
    if (t->pid > 0 && !t->reaped) {
        if (!wait_for(t, grace)) {
            kill(-t->pid, SIGTERM);
            if (!wait_for(t, grace)) {
                kill(-t->pid, SIGKILL);
                while (waitpid(t->pid, &t->status, 0) < 0 && errno == EINTR)
                    ;
                t->reaped = true;
            }
        }
        /* whatever it left in its group goes with it */
        kill(-t->pid, SIGKILL);
    }
    pr_mcp_stdio_drain_err(t);
    close_fd(&t->out);
    close_fd(&t->err);
    pr_buf_free(&t->wq);
    t->woff = 0;
}

void pr_mcp_stdio_how(const struct pr_mcp_stdio *t, char *buf, size_t cap)
{
    if (!t->reaped)
        snprintf(buf, cap, "%s", "");
    else if (WIFEXITED(t->status))
        snprintf(buf, cap, "exit status %d", WEXITSTATUS(t->status));
    else if (WIFSIGNALED(t->status))
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(t->status));
    else
        snprintf(buf, cap, "wait status %d", t->status);
}
