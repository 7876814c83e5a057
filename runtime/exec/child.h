/* child.h -- starting a step's process
 *
 * Every process starts through posix_spawn in a process group of its own
 * (so that a timeout or a cancel reaches everything it started), with
 * standard input from /dev/null and standard output and error on pipes
 * that the run's loop drains.  What is kept of each goes to an unnamed
 * temporary file, up to the stream's cap; the rest is counted and
 * dropped, so a step that writes without end costs neither memory nor
 * disk beyond its caps, and never blocks on a full pipe.
 */
#ifndef POML_CHILD_H
#define POML_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pr_loop;

struct pr_spawn {
    char *const *argv; /* argv[0] is looked up in PATH when it
                          has no slash */
    char *const *envp;
    const char *dir;         /* NULL: the current directory */
    const char *tmpdir;      /* where the output files live */
    struct pr_loop *loop;    /* drains the pipes */
    size_t out_cap, err_cap; /* bytes of each stream kept */
};

struct pr_child {
    pid_t pid;              /* also the process group id */
    int out_fd, err_fd;     /* the capture files, -1 when closed */
    int out_pipe, err_pipe; /* read ends, -1 once at their end */
    size_t out_cap, err_cap;
    unsigned long long out_total, err_total; /* bytes written to each */
    int lost; /* errno of a capture write that failed */
    struct pr_loop *loop;
    bool group_gone; /* a signal found no process left */
};

/* Starts the process and watches its pipes on S's loop (C must stay
 * where it is until pr_spawn_close).  Returns 0, or -1 with the reason in
 * ERR and errno set; an unknown program is an error here ("command not
 * found"), not an exit status; out of descriptors (EMFILE, ENFILE) is
 * one the caller can wait out. */
int pr_spawn_start(const struct pr_spawn *s, struct pr_child *c, char *err,
                   size_t errcap);

/* Reads what the pipes still hold, without waiting: called when the
 * process has ended, before its output is read.  A process it started
 * that still holds a pipe is not waited for. */
void pr_spawn_drain(struct pr_child *c);

/* What was kept of standard output (ERR false) or standard error, in a
 * malloc'd, NUL-terminated buffer (*LEN bytes before the NUL); *TOTAL is
 * what the process wrote.  NULL when out of memory. */
char *pr_spawn_output(const struct pr_child *c, bool err, size_t *len,
                      unsigned long long *total);

/* Stops watching the pipes and closes them and the capture files. */
void pr_spawn_close(struct pr_child *c);
/* The same after the process ended: the files are kept for reuse. */
void pr_spawn_release(struct pr_child *c);

/* Sends SIG to the process group of C (ESRCH ignored). */
void pr_spawn_signal(struct pr_child *c, int sig);

#endif
