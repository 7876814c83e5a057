/* spawn_setup.h -- how pomlrun's children start: posix_spawn's settings
 *
 * Every child pomlrun starts (a step's process, an MCP server) gets them:
 * nothing of pomlrun's descriptors past the standard three, the
 * directory DIR, no blocked signals, the default action for the signals
 * pomlrun handles or ignores (SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE)
 * and a process group of its own, so that a signal to the group reaches
 * everything the child starts.
 */
#ifndef POML_SPAWN_SETUP_H
#define POML_SPAWN_SETUP_H

#include <spawn.h>

/* Adds those settings to FA (after the caller's own actions) and AT (both
 * initialized).  0, or an errno value (ENOSYS: DIR given, and the system
 * cannot change a child's directory). */
int pr_spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at,
                   const char *dir);

#endif
