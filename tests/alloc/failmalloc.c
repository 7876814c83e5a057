/* failmalloc.c -- fails the N-th allocation of a test build of pomlc or
 * pomlrun
 *
 * Linked into tests/alloc/pomlc-oom and pomlrun-oom with
 * -Wl,--wrap=malloc,--wrap=calloc,...: every call the programs' own objects
 * (and the static libraries linked with them) make to one of the functions
 * below lands here, and so do cJSON's and libcurl's allocations, which go
 * through runtime/alloc.c.  Allocations inside libc itself (stdio buffers,
 * the dynamic loader) are not counted: they differ from one libc to the
 * next, and they are not the programs' to handle.
 *
 *   POML_FAIL_ALLOC=N        fail the N-th counted allocation and, unless
 *                            POML_FAIL_ALLOC_ONCE is set, every later one
 *                            (0 or unset: fail none, only count)
 *   POML_FAIL_ALLOC_ONCE=1   fail the N-th only; the rest succeed ("" or 0:
 *                            off)
 *   POML_ALLOC_COUNT=FILE    at exit, write the number of counted
 *                            allocations and of failed ones to FILE
 *   POML_FAIL_ALLOC_BACKTRACE=1  print a backtrace on stderr where the
 *                            first failure happens (for addr2line)
 *
 * Failing every later allocation is the default because memory that has
 * run out rarely comes back by the next call: the program must be able to
 * say so, clean up and exit without allocating again.  The once mode
 * checks the other half, that a failure the program survives leaves no
 * trace on what it produces.  A process started from the program (a
 * sub-workflow's pomlrun) inherits the variables and counts its own.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_realpath(const char *path, char *resolved);
FILE *__real_open_memstream(char **buf, size_t *len);
ssize_t __real_getline(char **line, size_t *cap, FILE *f);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
char *__wrap_realpath(const char *path, char *resolved);
FILE *__wrap_open_memstream(char **buf, size_t *len);
ssize_t __wrap_getline(char **line, size_t *cap, FILE *f);

static unsigned long fail_at; /* 0: never */
static bool once, backtraces, ready;
static unsigned long counted, failed;
static pid_t owner; /* the process that read the settings */

/* A variable set to something other than "" or "0" */
static bool set(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0");
}

static void setup(void)
{
    const char *n = getenv("POML_FAIL_ALLOC");
    fail_at = n ? strtoul(n, NULL, 10) : 0;
    once = set("POML_FAIL_ALLOC_ONCE");
    backtraces = set("POML_FAIL_ALLOC_BACKTRACE");
    owner = getpid();
    ready = true;
}

/* True when this allocation is to fail (errno set to ENOMEM). */
static bool fail_now(void)
{
    if (!ready)
        setup();
    unsigned long k = __atomic_add_fetch(&counted, 1, __ATOMIC_RELAXED);
    if (!fail_at || k < fail_at || (once && k != fail_at))
        return false;
    if (__atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED) == 1 && backtraces) {
        void *frames[32];
        int depth = backtrace(frames, 32);
        fprintf(stderr, "failmalloc: allocation %lu fails here:\n", k);
        backtrace_symbols_fd(frames, depth, 2);
    }
    errno = ENOMEM;
    return true;
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("POML_ALLOC_COUNT");
    if (!path || !ready || getpid() != owner)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dprintf(fd, "%lu %lu\n", counted, failed);
        close(fd);
    }
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    /* realloc(P, 0) frees: not an allocation that can fail */
    return n && fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strndup(const char *s, size_t n)
{
    if (fail_now())
        return NULL;
    size_t len = strnlen(s, n);
    char *d = __real_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char *__wrap_strdup(const char *s)
{
    return __wrap_strndup(s, (size_t)-1);
}

char *__wrap_realpath(const char *path, char *resolved)
{
    return !resolved && fail_now() ? NULL : __real_realpath(path, resolved);
}

FILE *__wrap_open_memstream(char **buf, size_t *len)
{
    return fail_now() ? NULL : __real_open_memstream(buf, len);
}

/* getline grows its buffer: each call counts as one allocation */
ssize_t __wrap_getline(char **line, size_t *cap, FILE *f)
{
    return fail_now() ? -1 : __real_getline(line, cap, f);
}
