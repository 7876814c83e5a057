/* pomlc.c -- command line of the workflow compiler
 *
 * Parses options, compiles each file and prints diagnostics.  The passes
 * live in compile.c and the modules it calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "compile.h"
#include "config.h"
#include "diag.h"

enum { EXIT_OK = 0, EXIT_ERRORS = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fputs(
        "usage: pomlc [options] FILE.poml...\n"
        "\n"
        "Checks POML workflow files and compiles them into plans.\n"
        "\n"
        "  --lint                     check only; write nothing\n"
        "  --stdlib DIR               standard library directory\n"
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
               o.state[i] == 2 ? "error" : o.state[i] == 1 ? "warning"
                                                         : "off");
    }
}

int main(int argc, char **argv)
{
    struct pc_ctx ctx;
    pc_ctx_init(&ctx);
    const char *stdlib_opt = NULL;
    const char *color = "auto";
    bool lint = false;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    int rc = EXIT_OK;
    if (!files) {
        fputs("pomlc: error: out of memory\n", stderr);
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
            lint = true;
        } else if (!strcmp(a, "--stdlib")) {
            if (++i >= argc) {
                rc = usage_error("'%s' needs a directory", a);
                goto done;
            }
            stdlib_opt = argv[i];
        } else if (!strncmp(a, "--stdlib=", 9)) {
            stdlib_opt = a + 9;
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
                                 "text or json", a + 21);
                goto done;
            }
        } else if (!strncmp(a, "--color=", 8)) {
            color = a + 8;
            if (strcmp(color, "auto") && strcmp(color, "always") &&
                strcmp(color, "never")) {
                rc = usage_error("'--color' takes auto, always or never, "
                                 "not '%s'", color);
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
    if (!strcmp(color, "always"))
        ctx.opts.color = true;
    else if (!strcmp(color, "auto"))
        ctx.opts.color = isatty(2) && !getenv("NO_COLOR") &&
                         ctx.opts.format == PC_DIAG_TEXT;

    struct pc_catalog cat;
    pc_catalog_init(&cat, pc_stdlib_dir(stdlib_opt, argv[0]));
    for (size_t i = 0; i < nfiles; i++) {
        struct pc_workflow *wf;
        pc_compile(&ctx, &cat, files[i], &wf);
        if (ctx.opts.format == PC_DIAG_TEXT)
            pc_diag_flush(&ctx, stderr);
    }
    (void)lint;
    if (ctx.opts.format == PC_DIAG_JSON)
        pc_diag_flush(&ctx, stdout);
    if (ctx.nerrors || ctx.oom)
        rc = EXIT_ERRORS;

done:
    free(files);
    pc_ctx_free(&ctx);
    return rc;
}
