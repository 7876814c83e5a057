/* cassette.h -- recorded exchanges with model servers (--record,
 * --replay) (llm internal)
 *
 * A cassette is a text file of JSON lines, one exchange each:
 *   {"key": K, "status": N, "content_type"?: T, "body": B}
 * K is 16 hex digits of FNV-1a over the protocol, the endpoint path and
 * the request body (the key sent is never part of it, nor in the file);
 * B is the reply's body as received, after redaction.  Replaying serves
 * a request the first unused exchange of its key, else the first of its
 * key again.
 */
#ifndef POML_CASSETTE_H
#define POML_CASSETTE_H

#include <stdbool.h>
#include <stddef.h>

struct pr_llm_exchange {
    char key[17];
    long status;
    char *content_type; /* NULL when the reply had none */
    char *body;
    size_t len;
    bool used;
};

struct pr_llm_tape {
    struct pr_llm_exchange *x;
    size_t n, cap;
    bool dirty; /* exchanges were added */
};

/* The key of a request into KEY (16 hex digits and a NUL). */
void pr_llm_tape_key(const char *protocol, const char *path, const char *body,
                     char key[17]);

/* Reads the cassette at PATH into T (empty).  0, or -1 with a message
 * on stderr. */
int pr_llm_tape_load(struct pr_llm_tape *t, const char *path);
/* Writes T to PATH.  0, or -1 with a message on stderr. */
int pr_llm_tape_save(const struct pr_llm_tape *t, const char *path);
void pr_llm_tape_free(struct pr_llm_tape *t);

/* Adds an exchange (the strings are copied); out of memory loses it. */
void pr_llm_tape_add(struct pr_llm_tape *t, const char *key, long status,
                     const char *content_type, const char *body, size_t len);
/* The exchange to serve for KEY (then marked used), or NULL. */
struct pr_llm_exchange *pr_llm_tape_find(struct pr_llm_tape *t,
                                         const char *key);

#endif
