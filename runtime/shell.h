/* shell.h -- turning a step's `run` text into a command that cannot be
 * injected, and the commands it runs, for the policy
 *
 * A `run` is text parts and ${...} parts.  The values never enter the
 * script: each ${...} becomes a reference to an environment variable
 * (POML_V1, POML_V2, ...) that holds its value, written so that the shell
 * expands it as exactly one word with exactly its content whatever the
 * quoting context it appears in:
 *
 *   bare, $( ), ` `, ${x:-...}   "${POML_V1}"
 *   "double quoted"              ${POML_V1}
 *   'single quoted'              '"${POML_V1}"'  (close, expand, reopen)
 *   here-document                ${POML_V1}      (unquoted delimiter)
 *   $(( arithmetic ))            ${POML_V1}      (a decimal integer only)
 *
 * The shell would evaluate a value inside $(( )) (or bash's (( ))) as an
 * expression, which in bash can run commands: such a value is marked
 * PR_SHELL_NUMBER and must be checked to be a decimal integer before it is
 * passed.  A ${...} inside a here-document with a quoted delimiter
 * (<<'EOF') would reach whatever reads it as text, and one inside
 * backquotes with escaped quotes has no knowable context: both are
 * refused.  A value that becomes program text of another interpreter
 * (the script of `sh -c`, `eval`, an awk or sed program, `python -c`) is
 * marked PR_SHELL_CODE: the shell passes it intact, but the program it
 * reaches runs it.
 *
 * The lexer is a state machine over the POSIX sh quoting rules (single
 * and double quotes, backslashes, $( ), backquotes, $(( )), ${ },
 * here-documents with any delimiter, comments, nested to any depth, and
 * bash's $'...' and <( )).  It also follows the command structure (lists,
 * pipelines, subshells, compound commands, case patterns, redirections,
 * assignments, function definitions) far enough to name every command
 * the script runs, which pr_shell_check_policy compares with an
 * allow-list.
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
    const char *text; /* NULL: an expression */
    size_t len;
};

enum pr_shell_use {
    PR_SHELL_DATA,   /* one word, exactly the value */
    PR_SHELL_NUMBER, /* inside arithmetic: an integer only */
    PR_SHELL_CODE    /* program text of another interpreter */
};

struct pr_shell_var {
    enum pr_shell_use use;
    char prog[32]; /* PR_SHELL_CODE: "sh -c", "eval", "awk" */
};

/* A command the script runs (NAME, as written after quote removal), or a
 * reason (WHY) the commands of the script cannot all be known. */
struct pr_shell_run {
    char *name;
    char *why;
};

struct pr_shell_cmd {
    char *script;              /* for /bin/sh -c, NUL terminated */
    size_t nvars;              /* expressions: POML_V1 .. POML_Vn */
    struct pr_shell_var *vars; /* [nvars]: how each is used */
    struct pr_shell_run *runs; /* in the order of the text */
    size_t nruns;
    /* direct execution: when argv_words is not NULL, the command is
       argv_words[0..nwords), each word a sequence of pieces; a piece
       is literal text or (var > 0) the value of POML_V<var> */
    struct pr_shell_word {
        struct pr_shell_piece {
            const char *text; /* into the parts' text */
            size_t len;
            size_t var; /* 0: text */
        } * pieces;
        size_t npieces;
    } * argv_words;
    size_t nwords;
};

/* Prepares PARTS.  Returns 0, or -1 with a message in ERR (a ${...} in a
 * quoted here-document or as a here-document delimiter, in backquotes
 * whose quoting cannot be known, out of memory).  Unterminated quotes
 * do not matter: the shell reports those itself. */
int pr_shell_prepare(const struct pr_shell_part *parts, size_t nparts,
                     struct pr_shell_cmd *out, char *err, size_t errcap);
void pr_shell_cmd_free(struct pr_shell_cmd *c);

/* True when VALUE may be passed as a PR_SHELL_NUMBER: an optional '-'
 * and decimal digits, no leading zero, at most 18 digits. */
bool pr_shell_number_ok(const char *value);

/* Checks every command C runs against an allow-list: ALLOWED(NAME, CTX)
 * says whether NAME is listed.  The shell's own commands that run no
 * program (cd, echo, printf, test, export, ...) need no listing;
 * `command`, `exec` and `env` are looked through to the command they
 * run.  Returns 0, or -1 with the first refusal in ERR. */
int pr_shell_check_policy(const struct pr_shell_cmd *c,
                          bool (*allowed)(const char *name, void *ctx),
                          void *ctx, char *err, size_t errcap);

/* True when an environment variable named NAME[0..LEN) changes which
 * program a command name runs or what a shell runs first (PATH, ENV,
 * BASH_ENV, SHELLOPTS, BASHOPTS, PS4, LD_*, BASH_FUNC_*): refused under
 * a policy. */
bool pr_shell_protected_var(const char *name, size_t len);

/* Why NAME, if it is on an allow-list, lets a script run any command
 * (an interpreter, a program that runs its arguments), or NULL. */
const char *pr_shell_runs_code(const char *name);

#endif
