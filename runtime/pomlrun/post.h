/* post.h -- notify's POST to a URL (post.c) */
#ifndef POML_POST_H
#define POML_POST_H

#include <stddef.h>

/* As pr_exec_table's post: the HTTP status, or -1 with ERR. */
long pr_post_json(const char *url, const char *const *headers,
                  const char *body, double timeout, char *err, size_t cap);

#endif
