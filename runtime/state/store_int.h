/* store_int.h -- the backends, for store.c (not an interface: the layer
 * above includes store.h) */
#ifndef POML_STORE_INT_H
#define POML_STORE_INT_H

#include "store.h"

/* store_sqlite.c: the store in the SQLite file at PATH. */
struct pr_store *pr_store_sqlite_open(const char *path, bool sync_full,
                                      char *err, size_t errcap);

#endif
