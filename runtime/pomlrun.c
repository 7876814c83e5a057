/* pomlrun.c -- command line of the workflow runtime
 *
 * Maps a plan and executes it.  This file only parses options and reports;
 * loading, scheduling and executors live in their own modules.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"

static void usage(FILE *out)
{
    fputs("usage: pomlrun [options] PLAN\n"
          "  -h, --help       show this help and exit\n"
          "  -V, --version    show the version and exit\n",
          out);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf("pomlrun (poml) %s\n", PACKAGE_VERSION);
            return 0;
        }
    }
    usage(stderr);
    return 2;
}
