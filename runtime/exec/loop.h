/* loop.h -- the runtime's one event loop
 *
 * A single thread waits in poll(2) for everything a run reacts to: output
 * on child pipes, child exits, timers (timeouts, retry delays, kill grace
 * periods) and signals.  Signals and SIGCHLD reach the loop through a
 * self-pipe written by async-signal-safe handlers, so no work ever happens
 * in a handler.  Sockets of other subsystems (libcurl's multi interface,
 * MCP server pipes) register the same way as child pipes.
 *
 * Why by hand and not libuv: the loop is under 400 lines; what the runtime
 * needs from it is narrow (fds, timers, child exits, two signals); process
 * start-up stays in our hands (posix_spawn, a process group per step,
 * output through pipes drained into capped files, see child.h) instead
 * of going through libuv's process API; and it is one library fewer to
 * install.  libcurl's multi_socket interface plugs into any loop that can
 * watch fds and one timer, which this one can.
 */
#ifndef POML_LOOP_H
#define POML_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct pr_loop;

/* What a watch waits for. */
#define PR_LOOP_IN 1
#define PR_LOOP_OUT 2

typedef void (*pr_fd_fn)(void *ud, int fd, int events);
typedef void (*pr_timer_fn)(void *ud);
typedef void (*pr_child_fn)(void *ud, pid_t pid, int status);
typedef void (*pr_signal_fn)(void *ud, int signo);

/* Creates the loop and installs handlers for SIGCHLD, SIGINT, SIGTERM,
 * SIGHUP and SIGUSR1.  NULL when out of memory or a pipe cannot be made. */
struct pr_loop *pr_loop_new(void);
/* Restores the signal handlers it changed and frees everything. */
void pr_loop_free(struct pr_loop *l);

/* Monotonic time in seconds. */
double pr_loop_now(void);

/* Watches FD for EVENTS (PR_LOOP_IN / PR_LOOP_OUT); calling it again for
 * the same fd changes what is watched; EVENTS 0 removes the watch.  The
 * callback gets the events that happened (PR_LOOP_IN also on hang-up and
 * error, so that a read sees the end).  Returns 0 or -1 (no memory). */
int pr_loop_fd(struct pr_loop *l, int fd, int events, pr_fd_fn fn, void *ud);

/* A one-shot timer firing AFTER seconds from now; returns its id (never 0)
 * or 0 when out of memory. */
uint64_t pr_loop_timer(struct pr_loop *l, double after, pr_timer_fn fn,
                       void *ud);
/* Cancels a pending timer; a fired or unknown id is ignored. */
void pr_loop_cancel(struct pr_loop *l, uint64_t id);

/* Calls FN once when child PID exits, with its wait status.  The child
 * must have been started by this process after pr_loop_new. */
int pr_loop_child(struct pr_loop *l, pid_t pid, pr_child_fn fn, void *ud);

/* Called for SIGINT, SIGTERM, SIGHUP and SIGUSR1, from the loop (not the
 * handler). */
void pr_loop_on_signal(struct pr_loop *l, pr_signal_fn fn, void *ud);

/* Runs one round: waits until something happens (or TIMEOUT seconds, < 0
 * for no limit) and dispatches it.  Returns the number of callbacks run,
 * or -1 when there is nothing left to wait for (no fds, timers or
 * children) and TIMEOUT is < 0. */
int pr_loop_once(struct pr_loop *l, double timeout);

/* True while anything is registered. */
bool pr_loop_busy(const struct pr_loop *l);

#endif
