/* spawnfloor.c -- the floor for running processes: spawns a command N
 * times with at most JOBS in flight, by posix_spawnp and waitpid, no
 * shell, no pipes, nothing else.  What a scheduler of shell steps cannot
 * beat on the same machine.
 *
 *   usage: spawnfloor N JOBS [COMMAND [ARG...]]   (COMMAND defaults to true)
 *
 * Exit status: 0 when every process exited 0, 1 otherwise, 2 usage. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static long number(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return -1;
    return v;
}

int main(int argc, char **argv)
{
    static char *deflt[] = {"true", NULL};
    char **cmd = argc > 3 ? argv + 3 : deflt;
    long n, jobs, started = 0, running = 0, failed = 0;

    if (argc < 3 || (n = number(argv[1])) < 0 ||
        (jobs = number(argv[2])) < 1) {
        fprintf(stderr, "usage: spawnfloor N JOBS [COMMAND [ARG...]]\n");
        return 2;
    }
    while (started < n || running > 0) {
        int status;
        pid_t pid;

        while (started < n && running < jobs) {
            int e = posix_spawnp(&pid, cmd[0], NULL, NULL, cmd, environ);
            if (e) {
                fprintf(stderr, "spawnfloor: %s: %s\n", cmd[0], strerror(e));
                return 1;
            }
            started++;
            running++;
        }
        pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            perror("spawnfloor: waitpid");
            return 1;
        }
        running--;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    if (failed) {
        fprintf(stderr, "spawnfloor: %ld of %ld failed\n", failed, n);
        return 1;
    }
    return 0;
}
