/* spawn_setup.c -- how pomlrun's children start (spawn_setup.h) */
#include <errno.h>
#include <signal.h>

#include "spawn_setup.h"

int pr_spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at,
                   const char *dir)
{
    int rc = 0;
    /* descriptors pomlrun opens are close-on-exec as well, for systems
       without closefrom */
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
    rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
#endif
    if (rc == 0 && dir) {
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
        rc = posix_spawn_file_actions_addchdir_np(fa, dir);
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
    posix_spawnattr_setsigmask(at, &none);
    posix_spawnattr_setsigdefault(at, &def);
    posix_spawnattr_setpgroup(at, 0);
    posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP |
                                     POSIX_SPAWN_SETSIGMASK |
                                     POSIX_SPAWN_SETSIGDEF);
    return rc;
}
