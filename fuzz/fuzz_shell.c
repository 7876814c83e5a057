/* fuzz_shell.c -- libFuzzer harness for the shell lexer (runtime/shell.c):
 * every ${...} value reaches the command as exactly its bytes
 *
 * An input is script bytes, a NUL, value bytes.  Each script byte picks a
 * piece of shell syntax (quotes, $( ), backquotes, ${x:-, $(( )),
 * here-documents, comments, ...) or a ${...} part; each value byte picks
 * a character that means something to a shell ($, quotes, blanks, globs,
 * operators).  Both alphabets are closed: no loops, no function
 * definitions and no program but the checker `chk` can be spelt, so a
 * script always ends and, even if a value escaped, could only touch the
 * scratch directory.
 *
 * The property, checked by running the prepared script through /bin/sh
 * twice: once with each data value replaced by a plain word (QQ1QQ, ...),
 * once with the fuzzed value.  The second output must be the first with
 * each plain word replaced by the value: the value was one word (or part
 * of one), never split, globbed or expanded.  A script the lexer refuses
 * must come with a message.  A direct argv must be the words the shell
 * would have passed.  Build: fuzz/build-shell.sh
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "shell.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EXPR NULL /* a ${...} part in the script alphabet */
#define MAX_VARS 8
#define MAX_OUT (1 << 20)

static const char *const script_tokens[] = {
    " ",         "chk ",    "chk ",      "'",           "\"",       "\\",
    "$(",        ")",       "`",         "${x:-",       "}",        "$((",
    "))",        "<<EOF\n", "<<'EOF'\n", "<<\"EOF\"\n", "<<-EOF\n", "\nEOF\n",
    "\n\tEOF\n", "#",       "\n",        "a",           EXPR,       EXPR,
    EXPR,        "$'",      ";",         "(",           "{ ",       " }",
    "\\\"",      "\\`",     "1+",        "$",           "&&",       "<(",
    "\\\n",      "${x}",    "=",         "chk <<EOF\n", "$(chk ",   "`chk ",
    "\"$(chk ",
};
#define NSCRIPT (sizeof script_tokens / sizeof *script_tokens)

static const char *const value_tokens[] = {
    "$",        "(",       ")",      "`",   "'",   "\"",      "\\",   " ",
    "\t",       "\n",      "*",      "?",   "[",   "]",       "~",    "{",
    "}",        "a",       "-",      "=",   ";",   "|",       "&",    "<",
    ">",        "#",       "!",      "%",   "0",   "1",       "\001", "\377",
    "$(chk a)", "${x:-a}", "$((1))", "\\n", "EOF", "\nEOF\n", "'\"",  "g*",
};
#define NVALUE (sizeof value_tokens / sizeof *value_tokens)

static char scratch[] = "/tmp/fuzz-shell-XXXXXX";

/* chk writes to descriptor 3 (out of reach of a $( ) that would split
 * its output again) \2, each argument NUL-terminated, \3, its standard
 * input, \4: the words it received, unambiguously (no value holds \2 ..
 * \4 or NUL).  No pipelines: the order of the records is the script's. */
static const char prologue[] =
    "chk() { printf '\\002' >&3; for a; do printf '%s\\000' \"$a\" >&3; "
    "done; printf '\\003' >&3; /bin/cat >&3; printf '\\004' >&3; }\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!mkdtemp(scratch))
        abort();
    char glob[sizeof scratch + 4];
    snprintf(glob, sizeof glob, "%s/g1", scratch);
    int fd = open(glob, O_CREAT | O_WRONLY, 0600); /* something to glob */
    if (fd >= 0)
        close(fd);
    return 0;
}

/* Runs SCRIPT under /bin/sh in the scratch directory with POML_V1..n set
 * to VALS; what chk wrote (descriptor 3) into OUT.  0, or -1 when it was
 * killed or could not run (no verdict then). */
static int run_sh(const char *script, char *const *vals, size_t n,
                  struct pr_buf *out)
{
    char *env[MAX_VARS + 3];
    char envbuf[MAX_VARS][600];
    size_t e = 0;
    env[e++] = "PATH=/nonexistent-poml-fuzz";
    env[e++] = "LC_ALL=C";
    for (size_t i = 0; i < n; i++) {
        snprintf(envbuf[i], sizeof envbuf[i], "POML_V%zu=%s", i + 1, vals[i]);
        env[e++] = envbuf[i];
    }
    env[e] = NULL;
    struct pr_buf full;
    pr_buf_init(&full);
    char cd[sizeof scratch + 16];
    snprintf(cd, sizeof cd, "cd %s || exit 1\n", scratch);
    if (pr_buf_append(&full, cd, strlen(cd)) < 0 ||
        pr_buf_append(&full, prologue, strlen(prologue)) < 0 ||
        pr_buf_append(&full, script, strlen(script)) < 0 ||
        pr_buf_append_u8(&full, 0) < 0)
        abort();
    int p[2];
    if (pipe(p) < 0)
        abort();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawn_file_actions_adddup2(&fa, p[1], 3);
    if (p[1] != 3)
        posix_spawn_file_actions_addclose(&fa, p[1]);
    char *argv[] = {"sh", "-c", (char *)full.data, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    pr_buf_free(&full);
    if (rc != 0) {
        close(p[0]);
        return -1;
    }
    char chunk[4096];
    ssize_t k;
    while ((k = read(p[0], chunk, sizeof chunk)) > 0)
        if (out->len < MAX_OUT && pr_buf_append(out, chunk, (size_t)k) < 0)
            abort();
    close(p[0]);
    int st;
    if (waitpid(pid, &st, 0) < 0 || WIFSIGNALED(st))
        return -1;
    return 0;
}

/* OUT with every SENT[i] replaced by VALS[i]. */
static void substitute(const struct pr_buf *in, char *const *sent,
                       char *const *vals, size_t n, struct pr_buf *out)
{
    for (size_t at = 0; at < in->len;) {
        size_t i;
        for (i = 0; i < n; i++) {
            size_t sl = strlen(sent[i]);
            if (sent[i][0] == 'Q' && at + sl <= in->len &&
                memcmp(in->data + at, sent[i], sl) == 0)
                break;
        }
        const char *t = i < n ? vals[i] : (const char *)in->data + at;
        size_t tl = i < n ? strlen(vals[i]) : 1;
        if (pr_buf_append(out, t, tl) < 0)
            abort();
        at += i < n ? strlen(sent[i]) : 1;
    }
}

/* What chk prints for the direct argv of C with VALS, when its program
 * is chk; false otherwise. */
static void append_word(const struct pr_shell_word *wd, char *const *vals,
                        struct pr_buf *out)
{
    for (size_t k = 0; k < wd->npieces; k++) {
        const struct pr_shell_piece *pc = &wd->pieces[k];
        const char *t = pc->var ? vals[pc->var - 1] : pc->text;
        if (pr_buf_append(out, t, pc->var ? strlen(t) : pc->len) < 0)
            abort();
    }
}

static bool direct_output(const struct pr_shell_cmd *c, char *const *vals,
                          struct pr_buf *out)
{
    if (!c->argv_words || c->nwords == 0)
        return false;
    struct pr_buf w0;
    pr_buf_init(&w0);
    append_word(&c->argv_words[0], vals, &w0);
    bool chk = w0.len == 3 && memcmp(w0.data, "chk", 3) == 0;
    pr_buf_free(&w0);
    pr_buf_append_u8(out, 2);
    for (size_t w = 1; w < c->nwords; w++) {
        append_word(&c->argv_words[w], vals, out);
        pr_buf_append_u8(out, 0);
    }
    pr_buf_append(out, "\003\004", 2);
    return chk;
}

/* A function definition ( '(' blanks ')' not after '$') could recurse
 * without end, and $$ differs from run to run: scripts with either are
 * lexed but not run.  So is an empty value: it could complete a command
 * name ("${v}"chk) where the plain word does not. */
static bool defines_function(const char *s)
{
    for (const char *p = strchr(s, '('); p; p = strchr(p + 1, '(')) {
        if (p > s && p[-1] == '$')
            continue;
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t' || *q == '\n')
            q++;
        if (*q == ')')
            return true;
    }
    return false;
}

static void dump(const char *what, const struct pr_buf *b)
{
    fprintf(stderr, "%s (%zu bytes): ", what, b->len);
    for (size_t i = 0; i < b->len; i++) {
        unsigned char ch = b->data[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            fputc(ch, stderr);
        else
            fprintf(stderr, "\\x%02x", ch);
    }
    fputc('\n', stderr);
}

static void fail(const char *why, const char *script, const char *value,
                 const struct pr_buf *want, const struct pr_buf *got)
{
    struct pr_buf s;
    fprintf(stderr, "fuzz_shell: %s\n", why);
    pr_buf_init(&s);
    pr_buf_append(&s, script, strlen(script));
    dump("script", &s);
    s.len = 0;
    pr_buf_append(&s, value, strlen(value));
    dump("value", &s);
    pr_buf_free(&s);
    dump("expected", want);
    dump("got", got);
    abort();
}

static bool same(const struct pr_buf *a, const struct pr_buf *b)
{
    return a->len == b->len &&
           (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void check(const struct pr_shell_cmd *c, const char *value)
{
    char *sent[MAX_VARS], *vals[MAX_VARS];
    char names[MAX_VARS][8];
    for (size_t i = 0; i < c->nvars; i++) {
        snprintf(names[i], sizeof names[i], "QQ%zuQQ", i + 1);
        bool data = c->vars[i].use == PR_SHELL_DATA;
        sent[i] = data ? names[i] : "12";
        vals[i] = data ? (char *)value : "12";
    }
    struct pr_buf plain, real, want;
    pr_buf_init(&plain);
    pr_buf_init(&real);
    pr_buf_init(&want);
    if (run_sh(c->script, sent, c->nvars, &plain) == 0 &&
        run_sh(c->script, vals, c->nvars, &real) == 0) {
        substitute(&plain, sent, vals, c->nvars, &want);
        if (!same(&want, &real))
            fail("a value did not arrive as itself", c->script, value, &want,
                 &real);
        struct pr_buf direct;
        pr_buf_init(&direct);
        if (direct_output(c, vals, &direct) && !same(&direct, &real))
            fail("the direct argv differs from the shell's words", c->script,
                 value, &real, &direct);
        pr_buf_free(&direct);
    }
    pr_buf_free(&plain);
    pr_buf_free(&real);
    pr_buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t ns = nul ? (size_t)(nul - data) : size;
    if (ns > 200)
        return 0;
    struct pr_buf text, value;
    pr_buf_init(&text);
    pr_buf_init(&value);
    size_t starts[200], nparts = 0, nexpr = 0;
    bool expr[200];
    struct pr_shell_part parts[200];
    /* the text first (it may move while it grows), then the parts */
    for (size_t i = 0; i < ns; i++) {
        const char *t = script_tokens[data[i] % NSCRIPT];
        expr[i] = !t && nexpr < MAX_VARS;
        nexpr += expr[i];
        starts[i] = text.len;
        if (!expr[i])
            pr_buf_append(&text, t ? t : " ", t ? strlen(t) : 1);
    }
    pr_buf_append_u8(&text, 0);
    for (size_t i = 0; i < ns; i++) {
        size_t end = i + 1 < ns ? starts[i + 1] : text.len - 1;
        if (expr[i])
            parts[nparts++] = (struct pr_shell_part){NULL, 0};
        else if (nparts > 0 && parts[nparts - 1].text)
            parts[nparts - 1].len += end - starts[i];
        else
            parts[nparts++] = (struct pr_shell_part){
                (const char *)text.data + starts[i], end - starts[i]};
    }
    for (size_t i = ns + 1; i < size && value.len < 500; i++) {
        const char *t = value_tokens[data[i] % NVALUE];
        pr_buf_append(&value, t, strlen(t));
    }
    pr_buf_append_u8(&value, 0);

    struct pr_shell_cmd c;
    char err[256] = "";
    if (pr_shell_prepare(parts, nparts, &c, err, sizeof err) < 0) {
        if (!err[0])
            abort(); /* every refusal must say why */
    } else {
        if (c.nvars != nexpr)
            abort();
        if (value.len > 1 && !defines_function(c.script) &&
            !strstr(c.script, "$$"))
            check(&c, (const char *)value.data);
        pr_shell_cmd_free(&c);
    }
    pr_buf_free(&text);
    pr_buf_free(&value);
    return 0;
}
