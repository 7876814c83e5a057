/* worker.h -- runs shared through a PostgreSQL database (worker.c):
 * --submit, --worker, --wait, --cancel */
#ifndef POML_WORKER_H
#define POML_WORKER_H

#include <cjson/cJSON.h>

#include "plan.h"

/* How long a worker's claim on a run lasts unless renewed (--lease). */
#define PR_LEASE_DEFAULT 30.0

/* --submit: a new run of PLAN (its file at PATH) with the bound PARAMS
 * in the database URL; prints its id.  The exit status. */
int pr_submit(const char *url, const struct pr_plan *plan, const char *path,
              const cJSON *params);

/* --worker: claims runs from URL and runs each as a child pomlrun (the
 * program SELF, with the options of ARGV but the worker's own), renewing
 * a lease of LEASE seconds, until SIGTERM or SIGINT.  The exit status. */
int pr_worker(const char *url, const char *self, int argc, char **argv,
              double lease);

/* --wait RUN: waits for run RUN to end and prints its result as --json
 * does; the run's exit status. */
int pr_wait(const char *url, const char *run);

/* --cancel RUN: asks for run RUN to be stopped, wherever it runs. */
int pr_cancel(const char *url, const char *run);

#endif
