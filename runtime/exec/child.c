/* child.c -- posix_spawn with a process group and captured output */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "util.h"

/* Capture files are reused: creating a file costs the file system an
 * inode, truncating one costs next to nothing.  A file goes back to the
 * pool only when nothing of its step's process group is left that could
 * still write to it. */
#define POOL_MAX 256
static int pool[POOL_MAX];
static size_t npool;

static int capture_file(const char *dir)
{
    while (npool) {
        int fd = pool[--npool];
        if (ftruncate(fd, 0) == 0)    /* O_APPEND: writes go to the end */
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

int pr_spawn_start(const struct pr_spawn *s, struct pr_child *c, char *err,
                   size_t errcap)
{
    c->pid = -1;
    c->out_fd = capture_file(s->tmpdir);
    c->err_fd = c->out_fd >= 0 ? capture_file(s->tmpdir) : -1;
    if (c->err_fd < 0) {
        pr_errf(err, errcap, "cannot create an output file in '%s': %s",
                s->tmpdir, strerror(errno));
        pr_spawn_close(c);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, c->out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, c->err_fd, 2);
    int rc = 0;
    /* a step gets standard input, output and error only: nothing of
       pomlrun's (the --events file, the HTTP client's sockets) and
       nothing pomlrun inherited; descriptors pomlrun opens are
       close-on-exec as well, for systems without closefrom */
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
    rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (rc == 0 && s->dir) {
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
        rc = posix_spawn_file_actions_addchdir_np(&fa, s->dir);
#else
        rc = ENOSYS;
#endif
    }
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGHUP);
    sigaddset(&def, SIGCHLD);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    if (rc == 0)
        rc = posix_spawnp(&c->pid, s->argv[0], &fa, &at, s->argv, s->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
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
        return -1;
    }
    return 0;
}

char *pr_spawn_read(int fd, size_t cap, size_t *len, size_t *total)
{
    struct stat st;
    size_t size = 0;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0)
        size = (size_t)st.st_size;
    size_t want = size < cap ? size : cap;
    char *buf = malloc(want + 1);
    if (!buf)
        return NULL;
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(fd, buf + got, want - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *len = got;
    *total = size > got ? size : got;
    return buf;
}

void pr_spawn_release(struct pr_child *c)
{
    bool group_gone = c->group_gone ||
                      (c->pid > 0 && kill(-c->pid, 0) < 0 && errno == ESRCH);
    int fds[2] = {c->out_fd, c->err_fd};
    for (int i = 0; i < 2 && group_gone; i++)
        if (fds[i] >= 0 && npool < POOL_MAX) {
            pool[npool++] = fds[i];
            if (i == 0)
                c->out_fd = -1;
            else
                c->err_fd = -1;
        }
    pr_spawn_close(c);
}

void pr_spawn_close(struct pr_child *c)
{
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
