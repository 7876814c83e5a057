/* pomlc.c -- command line of the workflow compiler
 *
 * Parses options, compiles each file and prints diagnostics.  The passes
 * live in compile.c and the modules it calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "catalog.h"
#include "compile.h"
#include "config.h"
#include "diag.h"
#include "emit.h"
#include "prompt_file.h"

enum { EXIT_OK = 0, EXIT_ERRORS = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fputs(
        "usage: pomlc [options] FILE.poml...\n"
        "\n"
        "Checks POML workflow files and compiles them into plans; checks\n"
        "prompt files (FILE.md, FILE.prompt) given alone.\n"
        "\n"
        "  -o FILE                    write the output to FILE (default: the\n"
        "                             source with .plan, or standard output\n"
        "                             for --emit=dot and --emit=json)\n"
        "  --lint                     check only; write nothing\n"
        "  --emit=KIND                plan (default), dot or json\n"
        "  --stats                    print counts, the critical path and\n"
        "                             upper bounds on LLM calls and cost\n"
        "  --dump PLAN                print a plan file readably\n"
        "  -MD                        also write a make dependency file\n"
        "  -MF FILE                   name the dependency file (implies -MD)\n"
        "  -MT TARGET                 name the rule's target\n"
        "  -MP                        add an empty rule for each dependency\n"
        "  --stdlib DIR               standard library directory\n"
        "  --allow-path DIR           also read imports, prompt files and\n"
        "                             sub-workflows under DIR (repeatable)\n"
        "  -W NAME, -WNAME            enable warning NAME\n"
        "  -Wno-NAME                  disable warning NAME\n"
        "  -Werror                    make every warning an error\n"
        "  -Werror=NAME               make warning NAME an error\n"
        "  -Wall                      enable every warning\n"
        "  -fmax-errors=N             stop after N errors (default 20, 0: "
        "all)\n"
        "  --diagnostics-format=FMT   text (default) or json\n"
        "  --color=WHEN               auto (default), always or never\n"
        "  --list-warnings            print every check's name and default\n"
        "  -h, --help                 show this help and exit\n"
        "  -V, --version              show the version and exit\n"
        "\n"
        "Exit status: 0 clean, 1 errors (or warnings under -Werror), "
        "2 usage.\n",
        out);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("pomlc: error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\npomlc: try 'pomlc --help'\n", stderr);
    return EXIT_USAGE;
}

static void list_warnings(void)
{
    for (int i = 0; i < PC_D_COUNT; i++) {
        enum pc_diag_id id = (enum pc_diag_id)i;
        struct pc_diag_opts o;
        pc_diag_opts_default(&o);
        printf("%-22s %s\n", pc_diag_name(id),
               o.state[i] == 2   ? "error"
               : o.state[i] == 1 ? "warning"
                                 : "off");
    }
}

enum emit_kind { EMIT_PLAN, EMIT_DOT, EMIT_JSON, EMIT_STATS, EMIT_NONE };

/* FILE.poml -> FILE.plan (the extension replaced, or .plan appended). */
static char *plan_name(const char *src)
{
    const char *slash = strrchr(src, '/');
    const char *dot = strrchr(src, '.');
    size_t stem = dot && (!slash || dot > slash + 1) ? (size_t)(dot - src)
                                                     : strlen(src);
    char *p = malloc(stem + 6);
    if (p) {
        memcpy(p, src, stem);
        memcpy(p + stem, ".plan", 6);
    }
    return p;
}

/* Writes N bytes of DATA to FD.  0, or -1 with errno set. */
static int write_fd(int fd, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes DATA to PATH through a temporary file and a rename, so a reader
 * never sees half a file.  A PATH that is there and not a regular file
 * (/dev/null, /dev/stdout, a FIFO) is written to as it is: a rename
 * would put a file in the device's place.  0, or -1 with errno set. */
static int write_atomic(const char *path, const void *data, size_t n)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        int rc = write_fd(fd, data, n);
        if (close(fd) < 0)
            rc = -1;
        return rc;
    }
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp)
        return -1;
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmpXXXXXX", 11);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    int rc = fchmod(fd, 0666 & ~mask);
    if (rc == 0)
        rc = write_fd(fd, data, n);
    if (close(fd) < 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -1;
    if (rc < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
    }
    free(tmp);
    return rc;
}

static int write_text(const char *path,
                      int (*fn)(struct pc_workflow *, FILE *),
                      struct pc_workflow *wf)
{
    if (!path || !strcmp(path, "-"))
        return fn(wf, stdout) < 0 ? -1 : fflush(stdout);
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m)
        return -1;
    if (fn(wf, m) < 0) {
        int e = errno;
        fclose(m);
        free(buf);
        errno = e;
        return -1;
    }
    if (fclose(m) != 0) {
        free(buf);
        return -1;
    }
    int rc = write_atomic(path, buf, n);
    free(buf);
    return rc;
}

static int dot_out(struct pc_workflow *wf, FILE *out)
{
    pc_emit_dot(wf, out);
    return 0;
}

struct deps_opts {
    bool md, mp;
    const char *mf, *mt;
};

static int write_deps(struct pc_workflow *wf, const char *output,
                      const struct deps_opts *d)
{
    char *name = NULL;
    const char *path = d->mf;
    if (!path) {
        size_t n = strlen(output);
        const char *dot = strrchr(output, '.');
        const char *slash = strrchr(output, '/');
        if (dot && (!slash || dot > slash))
            n = (size_t)(dot - output);
        name = malloc(n + 3);
        if (!name) {
            fputs("pomlc: error: out of memory\n", stderr);
            return -1;
        }
        memcpy(name, output, n);
        memcpy(name + n, ".d", 3);
        path = name;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc = -1;
    if (m) {
        pc_emit_deps(wf, d->mt ? d->mt : output, d->mp, m);
        if (fclose(m) == 0)
            rc = write_atomic(path, buf, len);
        free(buf);
    }
    if (rc < 0 && errno == ENOMEM)
        fputs("pomlc: error: out of memory\n", stderr);
    else if (rc < 0)
        fprintf(stderr, "pomlc: error: cannot write '%s': %s\n", path,
                strerror(errno));
    free(name);
    return rc;
}

int pc_dump_plan(const char *path, FILE *out);

/* A prompt file (.md or .prompt) rather than a workflow. */
static bool is_prompt_file(const char *path)
{
    size_t n = strlen(path);
    return (n > 3 && !strcmp(path + n - 3, ".md")) ||
           (n > 7 && !strcmp(path + n - 7, ".prompt"));
}

int main(int argc, char **argv)
{
    pr_alloc_init();
    struct pc_ctx ctx;
    pc_ctx_init(&ctx);
    const char *stdlib_opt = NULL;
    const char *color = "auto";
    enum emit_kind emit = EMIT_PLAN;
    const char *output = NULL;
    struct deps_opts deps = {0};
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    const char **allow = calloc((size_t)argc + 1, sizeof *allow);
    size_t nallow = 0;
    int rc = EXIT_OK;
    if (!files || !allow) {
        fputs("pomlc: error: out of memory\n", stderr);
        free(files);
        free(allow);
        pc_ctx_free(&ctx);
        return EXIT_ERRORS;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *err;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto done;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("pomlc (poml) %s\n", PACKAGE_VERSION);
            goto done;
        } else if (!strcmp(a, "--list-warnings")) {
            list_warnings();
            goto done;
        } else if (!strcmp(a, "--lint")) {
            emit = EMIT_NONE;
        } else if (!strcmp(a, "--stats")) {
            emit = EMIT_STATS;
        } else if (!strncmp(a, "--emit=", 7)) {
            if (!strcmp(a + 7, "plan"))
                emit = EMIT_PLAN;
            else if (!strcmp(a + 7, "dot"))
                emit = EMIT_DOT;
            else if (!strcmp(a + 7, "json"))
                emit = EMIT_JSON;
            else {
                rc = usage_error("'--emit' takes plan, dot or json, not "
                                 "'%s'",
                                 a + 7);
                goto done;
            }
        } else if (!strcmp(a, "--dump")) {
            if (++i >= argc) {
                rc = usage_error("'%s' needs a plan file", a);
                goto done;
            }
            rc = pc_dump_plan(argv[i], stdout);
            goto done;
        } else if (!strcmp(a, "-o") || !strcmp(a, "-MF") ||
                   !strcmp(a, "-MT")) {
            if (++i >= argc) {
                rc = usage_error("'%s' needs a file name", a);
                goto done;
            }
            if (!strcmp(a, "-o"))
                output = argv[i];
            else if (!strcmp(a, "-MF"))
                deps.mf = argv[i], deps.md = true;
            else
                deps.mt = argv[i];
        } else if (!strcmp(a, "-MD") || !strcmp(a, "-MMD")) {
            deps.md = true;
        } else if (!strcmp(a, "-MP")) {
            deps.mp = true;
        } else if (!strcmp(a, "--stdlib")) {
            if (++i >= argc) {
                rc = usage_error("'%s' needs a directory", a);
                goto done;
            }
            stdlib_opt = argv[i];
        } else if (!strncmp(a, "--stdlib=", 9)) {
            stdlib_opt = a + 9;
        } else if (!strcmp(a, "--allow-path") ||
                   !strncmp(a, "--allow-path=", 13)) {
            const char *dir = a[12] == '=' ? a + 13 : NULL;
            if (!dir && ++i >= argc) {
                rc = usage_error("'%s' needs a directory", a);
                goto done;
            }
            if (!dir)
                dir = argv[i];
            char *real = realpath(dir, NULL);
            struct stat st;
            if (!real || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
                free(real);
                rc = usage_error("'--allow-path' needs a directory, and "
                                 "'%s' is none",
                                 dir);
                goto done;
            }
            allow[nallow] = pr_arena_strdup(&ctx.arena, real);
            free(real);
            if (!allow[nallow]) {
                fputs("pomlc: error: out of memory\n", stderr);
                rc = EXIT_ERRORS;
                goto done;
            }
            nallow++;
        } else if (!strcmp(a, "-W")) {
            if (++i >= argc) {
                rc = usage_error("'%s' needs a warning name", a);
                goto done;
            }
            if (pc_diag_option(&ctx, argv[i], &err) < 0) {
                rc = usage_error("%s", err);
                goto done;
            }
        } else if (!strncmp(a, "-W", 2)) {
            if (pc_diag_option(&ctx, a + 2, &err) < 0) {
                rc = usage_error("%s", err);
                goto done;
            }
        } else if (!strncmp(a, "-fmax-errors=", 13)) {
            char *end;
            long n = strtol(a + 13, &end, 10);
            if (*end || n < 0 || a[13] == '\0') {
                rc = usage_error("'%s' needs a whole number", a);
                goto done;
            }
            ctx.opts.max_errors = (unsigned)n;
        } else if (!strncmp(a, "--diagnostics-format=", 21)) {
            if (!strcmp(a + 21, "json"))
                ctx.opts.format = PC_DIAG_JSON;
            else if (!strcmp(a + 21, "text"))
                ctx.opts.format = PC_DIAG_TEXT;
            else {
                rc = usage_error("unknown diagnostics format '%s'; use "
                                 "text or json",
                                 a + 21);
                goto done;
            }
        } else if (!strncmp(a, "--color=", 8)) {
            color = a + 8;
            if (strcmp(color, "auto") && strcmp(color, "always") &&
                strcmp(color, "never")) {
                rc = usage_error("'--color' takes auto, always or never, "
                                 "not '%s'",
                                 color);
                goto done;
            }
        } else if (!strcmp(a, "--")) {
            while (++i < argc)
                files[nfiles++] = argv[i];
        } else if (a[0] == '-' && a[1]) {
            rc = usage_error("unknown option '%s'", a);
            goto done;
        } else {
            files[nfiles++] = a;
        }
    }
    if (nfiles == 0) {
        rc = usage_error("no input files%s", "");
        goto done;
    }
    if (deps.md && !output && !deps.mt &&
        (emit == EMIT_DOT || emit == EMIT_JSON)) {
        rc = usage_error("'-MD' needs '-o FILE' or '-MT TARGET' when the "
                         "output goes to standard output%s",
                         "");
        goto done;
    }
    if (output && nfiles > 1 && emit != EMIT_NONE) {
        rc = usage_error("'-o' needs exactly one input file%s", "");
        goto done;
    }
    if (!strcmp(color, "always"))
        ctx.opts.color = true;
    else if (!strcmp(color, "auto"))
        ctx.opts.color = isatty(2) && !getenv("NO_COLOR") &&
                         ctx.opts.format == PC_DIAG_TEXT;

    struct pc_catalog cat;
    pc_catalog_init(&cat, pc_stdlib_dir(stdlib_opt, argv[0]));
    cat.allow = allow;
    cat.nallow = nallow;
    for (size_t i = 0; i < nfiles; i++) {
        struct pc_workflow *wf;
        if (is_prompt_file(files[i])) {
            /* checked alone; its code goes into the plans naming it */
            if (pc_lint_prompt(&ctx, &cat, files[i]) < 0)
                rc = EXIT_ERRORS;
            if (ctx.opts.format == PC_DIAG_TEXT)
                pc_diag_flush(&ctx, stderr);
            continue;
        }
        int bad = pc_compile(&ctx, &cat, files[i], &wf);
        if (ctx.opts.format == PC_DIAG_TEXT)
            pc_diag_flush(&ctx, stderr);
        if (bad || !wf) {
            rc = EXIT_ERRORS;
            continue;
        }
        char *def = NULL;
        const char *out = output;
        int wrc = 0;
        switch (emit) {
        case EMIT_NONE:
            break;
        case EMIT_STATS:
            pc_emit_stats(wf, stdout);
            break;
        case EMIT_DOT:
            wrc = write_text(out, dot_out, wf);
            break;
        case EMIT_JSON:
            wrc = write_text(out, pc_emit_json, wf);
            break;
        case EMIT_PLAN: {
            uint8_t *img;
            size_t n;
            if (!out)
                out = def = plan_name(files[i]);
            char why[128] = "out of memory";
            if (!out ||
                pc_emit_plan(&ctx, &cat, wf, &img, &n, why, sizeof why) < 0) {
                fprintf(stderr, "pomlc: error: %s\n", why);
                rc = EXIT_ERRORS;
                break;
            }
            wrc = write_atomic(out, img, n);
            free(img);
            break;
        }
        }
        if (wrc < 0 && errno == ENOMEM) {
            fputs("pomlc: error: out of memory\n", stderr);
            rc = EXIT_ERRORS;
        } else if (wrc < 0) {
            fprintf(stderr, "pomlc: error: cannot write '%s': %s\n",
                    out ? out : "standard output", strerror(errno));
            rc = EXIT_ERRORS;
        } else if (deps.md && emit != EMIT_NONE && emit != EMIT_STATS) {
            const char *target = out ? out : files[i];
            if (write_deps(wf, target, &deps) < 0)
                rc = EXIT_ERRORS;
        }
        free(def);
    }
    if (ctx.opts.format == PC_DIAG_JSON)
        pc_diag_flush(&ctx, stdout);
    if (ctx.nerrors || ctx.oom)
        rc = EXIT_ERRORS;

done:
    free(files);
    free(allow);
    pc_ctx_free(&ctx);
    return rc;
}
