/* shell.h -- turning a step's `run` text into a command that cannot be
 * injected
 *
 * A `run` is text parts and ${...} parts.  The values never enter the
 * script: each ${...} becomes a reference to an environment variable
 * (POML_V1, POML_V2, ...) that holds its value, written so that the shell
 * expands it as exactly one word with exactly its content whatever the
 * quoting context it appears in:
 *
 *   bare             "${POML_V1}"
 *   "double quoted"  ${POML_V1}
 *   'single quoted'  '"${POML_V1}"'   (close, quoted expansion, reopen)
 *   here-document    ${POML_V1}       (unquoted delimiter)
 *
 * A ${...} inside a here-document with a quoted delimiter (<<'EOF') would
 * reach whatever reads it as text, so it is refused.
 *
 * When the text is one simple command (words of plain characters, no
 * quotes, operators, expansions or shell keywords) it needs no shell at
 * all: pr_shell_prepare gives an argv to run directly.
 */
#ifndef POML_SHELL_H
#define POML_SHELL_H

#include <stdbool.h>
#include <stddef.h>

/* One part of a run: text, or (text == NULL) the value of an expression
 * whose index among the expression parts is given by its position. */
struct pr_shell_part {
    const char *text;           /* NULL: an expression */
    size_t len;
};

struct pr_shell_cmd {
    char *script;               /* for /bin/sh -c, NUL terminated */
    size_t nvars;               /* expressions: POML_V1 .. POML_Vn */
    /* direct execution: when argv_words is not NULL, the command is
       argv_words[0..nwords), each word a sequence of pieces; a piece
       is literal text or (var > 0) the value of POML_V<var> */
    struct pr_shell_word {
        struct pr_shell_piece {
            const char *text;   /* into the parts' text */
            size_t len;
            size_t var;         /* 0: text */
        } *pieces;
        size_t npieces;
    } *argv_words;
    size_t nwords;
};

/* Prepares PARTS.  Returns 0, or -1 with a message in ERR (a ${...} in a
 * quoted here-document, unterminated quotes do not matter: the shell
 * reports those itself; out of memory). */
int pr_shell_prepare(const struct pr_shell_part *parts, size_t nparts,
                     struct pr_shell_cmd *out, char *err, size_t errcap);
void pr_shell_cmd_free(struct pr_shell_cmd *c);

#endif
