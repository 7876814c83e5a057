/* child.h -- starting a step's process
 *
 * Every process starts through posix_spawn in a process group of its own
 * (so that a timeout or a cancel reaches everything it started), with
 * standard input from /dev/null and standard output and error written to
 * unnamed temporary files.  Files rather than pipes: a child never blocks
 * on a full pipe, the loop is not woken for every write, and output beyond
 * what is kept in memory stays on disk until it is read.
 */
#ifndef POML_CHILD_H
#define POML_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pr_spawn {
    char *const *argv;          /* argv[0] is looked up in PATH when it
                                   has no slash */
    char *const *envp;
    const char *dir;            /* NULL: the current directory */
    const char *tmpdir;         /* where the output files live */
};

struct pr_child {
    pid_t pid;                  /* also the process group id */
    int out_fd, err_fd;         /* the capture files, -1 when closed */
    bool group_gone;            /* a signal found no process left */
};

/* Starts the process.  Returns 0, or -1 with the reason in ERR; an
 * unknown program is an error here ("command not found"), not an exit
 * status. */
int pr_spawn_start(const struct pr_spawn *s, struct pr_child *c, char *err,
                   size_t errcap);

/* Reads the first CAP bytes of a capture file into a malloc'd,
 * NUL-terminated buffer (*LEN bytes before the NUL); *TOTAL is the file's
 * whole size.  NULL when out of memory. */
char *pr_spawn_read(int fd, size_t cap, size_t *len, size_t *total);

/* Closes the capture files. */
void pr_spawn_close(struct pr_child *c);
/* The same after the process ended: the files are kept for reuse when
 * no process of its group is left. */
void pr_spawn_release(struct pr_child *c);

/* Sends SIG to the process group of C (ESRCH ignored). */
void pr_spawn_signal(struct pr_child *c, int sig);

#endif
