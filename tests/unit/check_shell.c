/* check_shell.c -- the run-command preparation of shell.c, proved by
 * running the scripts it writes through the real shells (dash and bash)
 * with hostile values: every value must arrive as exactly itself, one
 * word, in every quoting context and after every construct that could
 * lose track of the quoting, and nothing in a value may ever run.  Also
 * the commands the lexer finds for the policy, and what it refuses.
 */
#include <check.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shell.h"

static char scratch[] = "/tmp/check_shell.XXXXXX";
static char pwned[256];

/* Values that break naive interpolation. */
static const char *values[] = {
    "plain",
    "two  spaces  inside",
    "*",
    "$(touch PWNED)",
    "`touch PWNED`",
    "; touch PWNED",
    "' ; touch PWNED ; '",
    "\" ; touch PWNED ; \"",
    "a\ntouch PWNED\nb",
    "$HOME",
    "${HOME}",
    "\\",
    "\\\"",
    "-n",
    "",
    " leading and trailing ",
    "tab\there",
    "x'\"'\"'y",
    "EOF",
    "ünïcødé ✓",
    "$((1+1))",
    "!!",
    "~",
    "a|b&c>d<e",
    "}",
    ")",
    "EOF",
    "a\nEOF\nb",
    "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
    "DDDDDDDDDD",
    "x\nDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
    "DDDDDDDDDDDD\ntouch PWNED",
    "\"$(touch PWNED)\"",
    "'$(touch PWNED)'",
    "`touch PWNED`'\"",
    "a[$(touch PWNED)]",
    "-e",
    "[*]",
};

/* The shells every prepared script must be safe under. */
static const char *const shells[] = {"/bin/dash", "/bin/bash"};

/* Runs the prepared command with VALUE as POML_V1 (and POML_V2), returns
 * its standard output (malloc'd). */
static char *run_in(const char *shell, const struct pr_shell_cmd *c,
                    const char *value)
{
    char out_path[300];
    snprintf(out_path, sizeof out_path, "%s/out", scratch);
    int fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    size_t vl = strlen(value);
    char *v1 = malloc(vl + 16), *v2 = malloc(vl + 16);
    sprintf(v1, "POML_V1=%s", value);
    sprintf(v2, "POML_V2=%s", value);
    char *envp[] = {v1, v2, "HOME=/home/nobody", "PATH=/usr/bin:/bin", NULL};
    char *argv_sh[] = {(char *)shell, "-c", c->script, NULL};
    char *argv_direct[16] = {0};
    if (c->argv_words) {
        ck_assert_uint_lt(c->nwords, 15);
        for (size_t w = 0; w < c->nwords; w++) {
            char buf[4096] = "";
            for (size_t k = 0; k < c->argv_words[w].npieces; k++) {
                const struct pr_shell_piece *p = &c->argv_words[w].pieces[k];
                if (p->var)
                    strcat(buf, value);
                else
                    strncat(buf, p->text, p->len);
            }
            argv_direct[w] = strdup(buf);
        }
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_addchdir_np(&fa, scratch);
    pid_t pid;
    int rc = posix_spawnp(&pid, c->argv_words ? argv_direct[0] : shell, &fa,
                          NULL, c->argv_words ? argv_direct : argv_sh, envp);
    ck_assert_int_eq(rc, 0);
    int st;
    waitpid(pid, &st, 0);
    posix_spawn_file_actions_destroy(&fa);
    for (size_t w = 0; w < 16; w++)
        free(argv_direct[w]);
    free(v1);
    free(v2);
    off_t n = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    ck_assert_int_eq(pread(fd, buf, (size_t)n, 0), n);
    close(fd);
    return buf;
}

static char *run(const struct pr_shell_cmd *c, const char *value)
{
    return run_in("/bin/sh", c, value);
}

struct tmpl {
    const char *before, *after; /* around the one ${...} */
    const char *expect_before, *expect_after;
};

/* Each prints the value between markers. */
static const struct tmpl tmpls[] = {
    {"printf '[%s]' ", "", "[", "]"},
    {"printf '[%s]' \"", "\"", "[", "]"},
    {"printf '[%s]' '", "'", "[", "]"},
    {"printf '[%s]' \"a", "b\"", "[a", "b]"},
    {"printf '[%s]' 'a", "b'", "[a", "b]"},
    {"printf '[%s]' x", "y", "[x", "y]"},
    {"printf '[%s]' \"$(printf '%s' ", ")\"", "[", "]"},
    {"printf '[%s]' \"`printf '%s' ", "`\"", "[", "]"},
    {"printf '[%s]' $(printf '%s' ",
     " | od -An -c | tr -d ' \\n' | head -c 0)"
     "\"\"",
     "[", "]"},
    {"printf '[%s]' ${UNSET_VAR:-", "}", "[", "]"},
    {"printf '[%s]' \"${UNSET_VAR:-", "}\"", "[", "]"},
    {"cat <<EOF\n[", "]\nEOF\n", "[", "]\n"},
    {"cat <<-EOF\n\t[", "]\n\tEOF\n", "[", "]\n"},
    {"# a comment ", "\nprintf '[%s]' ok", "[ok]", ""},
    {"f() { printf '[%s]' \"$1\"; }; f ", "", "[", "]"},
    {"if true; then printf '[%s]' ", "; fi", "[", "]"},
    {"echo '# not a comment' >/dev/null; printf '[%s]' ", "", "[", "]"},
    {"printf '[%s]' \"it's \"", "", "[it's ", "]"},
    {"printf '[%s]' 'say \"", "\"'", "[say \"", "\"]"},
    {"printf '[%s]' \\'", "", "['", "]"},
    {"case a in a) printf '[%s]' ", ";; esac", "[", "]"},
    {"case a in (a|b) printf '[%s]' ", ";; *) ;; esac", "[", "]"},
    {"printf '[%s]' \"$(case a in a) printf '%s' ", ";; esac)\"", "[", "]"},
    {"(printf '[%s]' ", ")", "[", "]"},
    {"{ printf '[%s]' ", "; }", "[", "]"},
    {"cat <<EOF\n$(printf '[%s]' ", ")\nEOF\n", "[", "]\n"},
    {"printf '[%s]' \"$(printf '%s' \"", "\")\"", "[", "]"},
    {"printf '[%s]' \"a\"'b'", "\"c\"", "[ab", "c]"},
    {"printf '[%s]' ${UNSET_VAR:-\"", "\"}", "[", "]"},
    {"printf '[%s]' \"${UNSET_VAR:-'", "'}\"", "['", "']"},
    {"x=", "; printf '[%s]' \"$x\"", "[", "]"},
    {"printf '[%s]' \"$(printf '%s' $(printf '%s' ",
     "))\" | head -c 0; "
     "printf '[]'",
     "[", "]"},
    {"for x in ", "; do printf '[%s]' \"$x\"; done", "[", "]"},
    {"printf '[%s]' \"${UNSET_VAR:-$(printf '%s' ", ")}\"", "[", "]"},
};

/* Constructs after which a lexer can lose track of the quoting; each
 * prints nothing. */
static const char *const preambles[] = {
    "echo \"$(pwd)\" >/dev/null; ",
    "echo \"$(echo \"(\")\" >/dev/null\n",
    "echo $((1<<2)) >/dev/null\n",
    "x=$(( (1 + 2) * 3 )); : \"$x\"\n",
    "cat >/dev/null <<DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
    "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD\n'\"\n"
    "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD"
    "DDDDDDDDDDDDDD\n",
    "cat >/dev/null <<'EOF'\n$(unclosed ' \" `\nEOF\n",
    "cat >/dev/null <<A; cat >/dev/null <<\"B\"\n'\nA\n\"\nB\n",
    ": 'it''s' # comment's \"\n",
    "case x in (x) : ;; y) : \"(\" ;; esac\n",
    ": ${UNSET_VAR:-'}'} \"${UNSET_VAR:-'}'}\"\n",
    ": `echo \"'\"` \"`echo ')'`\"\n",
    "f() { : \"$(echo ')')\"; }; f\n",
    ": $(echo $(echo ')') \")\") >/dev/null\n",
    "echo \\\" >/dev/null; : \\' >/dev/null\n",
    "cat >/dev/null <<-\tEOF\n\t$(echo x)\n\tEOF\n",
};

static bool pwned_exists(void)
{
    struct stat st;
    return stat(pwned, &st) == 0;
}

START_TEST(test_contexts)
{
    const struct tmpl *t = &tmpls[_i];
    struct pr_shell_part parts[3] = {{t->before, strlen(t->before)},
                                     {NULL, 0},
                                     {t->after, strlen(t->after)}};
    struct pr_shell_cmd c;
    char err[256];
    ck_assert_int_eq(pr_shell_prepare(parts, 3, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.nvars, 1);
    bool ignores_value = strstr(t->before, "# a comment") ||
                         strstr(t->after, "head -c 0");
    for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
        char *out = run(&c, values[v]);
        char want[4096];
        if (ignores_value)
            snprintf(want, sizeof want, "%s%s", t->expect_before,
                     t->expect_after);
        else
            snprintf(want, sizeof want, "%s%s%s", t->expect_before, values[v],
                     t->expect_after);
        /* a command substitution drops trailing newlines: no value here
           ends with one */
        ck_assert_msg(!strcmp(out, want),
                      "template %d, value \"%s\":\n script: %s\n got:  %s\n "
                      "want: %s",
                      _i, values[v], c.script, out, want);
        ck_assert_msg(!pwned_exists(), "template %d ran value \"%s\"", _i,
                      values[v]);
        free(out);
    }
    pr_shell_cmd_free(&c);
}
END_TEST

/* Every preamble, every context, hostile values, both shells. */
START_TEST(test_property)
{
    static const char *const hostile[] = {
        "* two  spaces",
        "a\nEOF\nb",
        "$(touch PWNED)`touch PWNED`",
        "' ; touch PWNED \" ; touch PWNED ; \"",
        "}\n)\n'\"",
        ""};
    const char *pre = preambles[_i];
    for (size_t t = 0; t < sizeof tmpls / sizeof *tmpls; t++) {
        const struct tmpl *tp = &tmpls[t];
        if (strstr(tp->before, "# a comment") || strstr(tp->after, "head -c"))
            continue;
        char before[1024];
        snprintf(before, sizeof before, "%s%s", pre, tp->before);
        struct pr_shell_part parts[3] = {{before, strlen(before)},
                                         {NULL, 0},
                                         {tp->after, strlen(tp->after)}};
        struct pr_shell_cmd c;
        char err[256];
        ck_assert_msg(pr_shell_prepare(parts, 3, &c, err, sizeof err) == 0,
                      "preamble %d, template %zu: %s", _i, t, err);
        for (size_t v = 0; v < sizeof hostile / sizeof *hostile; v++) {
            for (size_t sh = 0; sh < 2; sh++) {
                char *out = run_in(shells[sh], &c, hostile[v]);
                char want[4096];
                snprintf(want, sizeof want, "%s%s%s", tp->expect_before,
                         hostile[v], tp->expect_after);
                ck_assert_msg(!strcmp(out, want),
                              "%s, preamble %d, template %zu, value \"%s\":"
                              "\n script: %s\n got:  %s\n want: %s",
                              shells[sh], _i, t, hostile[v], c.script, out,
                              want);
                ck_assert_msg(!pwned_exists(), "%s ran value \"%s\": %s",
                              shells[sh], hostile[v], c.script);
                free(out);
            }
        }
        pr_shell_cmd_free(&c);
    }
}
END_TEST

/* $(( )) takes a value as a number: integers work in both shells, and
 * anything else is refused before it reaches the shell. */
START_TEST(test_arithmetic)
{
    static const char *const texts[][2] = {
        {"printf '[%s]' $(( ", " + 1 ))"},
        {"printf '[%s]' \"$((1-", "))\""},
        {"printf '[%s]' $(( (", ") * 2 ))"},
    };
    static const struct {
        const char *v;
        const char *want[3];
    } ok[] = {{"0", {"[1]", "[1]", "[0]"}},
              {"41", {"[42]", "[-40]", "[82]"}},
              {"-5", {"[-4]", "[6]", "[-10]"}}};
    for (size_t t = 0; t < 3; t++) {
        struct pr_shell_part parts[3] = {{texts[t][0], strlen(texts[t][0])},
                                         {NULL, 0},
                                         {texts[t][1], strlen(texts[t][1])}};
        struct pr_shell_cmd c;
        char err[256];
        ck_assert_int_eq(pr_shell_prepare(parts, 3, &c, err, sizeof err), 0);
        ck_assert_int_eq(c.vars[0].use, PR_SHELL_NUMBER);
        for (size_t v = 0; v < 3; v++)
            for (size_t sh = 0; sh < 2; sh++) {
                char *out = run_in(shells[sh], &c, ok[v].v);
                ck_assert_msg(!strcmp(out, ok[v].want[t]), "%s: %s -> %s",
                              shells[sh], c.script, out);
                free(out);
            }
        pr_shell_cmd_free(&c);
    }
    static const char *const bad[] = {
        "",   "-",  "1+1",  "a[$(touch PWNED)]",   "x",   "08",
        "1 ", " 1", "0x10", "1234567890123456789", "--1", "1e3"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        ck_assert_msg(!pr_shell_number_ok(bad[k]), "'%s' accepted", bad[k]);
    ck_assert(pr_shell_number_ok("-123456789012345678"));
    /* bash's (( )) evaluates too */
    const char *a = "(( x = ", *b = " ))";
    struct pr_shell_part parts[3] = {{a, strlen(a)}, {NULL, 0}, {b, 3}};
    struct pr_shell_cmd c;
    char err[256];
    ck_assert_int_eq(pr_shell_prepare(parts, 3, &c, err, sizeof err), 0);
    ck_assert_int_eq(c.vars[0].use, PR_SHELL_NUMBER);
    pr_shell_cmd_free(&c);
}
END_TEST

/* A value that becomes program text of another interpreter is marked,
 * with the program's name for the diagnostic; arguments are not. */
START_TEST(test_code_contexts)
{
    static const struct {
        const char *before, *after, *prog;
    } cases[] = {
        {"sh -c 'echo ", "'", "sh -c"},
        {"bash -ec \"echo ", "\"", "bash -c"},
        {"eval echo ", "", "eval"},
        {"eval \"echo ", "\"", "eval"},
        {"awk '{ print \"", "\" }' file", "awk"},
        {"awk -F: '", "' file", "awk"},
        {"sed \"s/a/", "/\" file", "sed"},
        {"sed -n -e 's/", "//p'", "sed"},
        {"python3 -c 'print(\"", "\")'", "python3 -c"},
        {"perl -e 'print ", "'", "perl -e"},
        {"trap 'echo ", "' EXIT", "trap"},
        {"sh -c \"$(printf '%s' ", ")\"", "sh -c"},
        {"x=$(sh -c 'echo ", "')", "sh -c"},
        {"sh -c 'echo \"$1\"' sh ", "", NULL},
        {"sh script.sh ", "", NULL},
        {"awk -f prog.awk ", "", NULL},
        {"awk '{print}' ", "", NULL},
        {"sed -e s/a/b/ ", "", NULL},
        {"python3 script.py ", "", NULL},
        {"echo sh -c ", "", NULL},
        {"printf '%s' ", " | sh -c 'cat'", NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        struct pr_shell_part parts[3] = {
            {cases[k].before, strlen(cases[k].before)},
            {NULL, 0},
            {cases[k].after, strlen(cases[k].after)}};
        struct pr_shell_cmd c;
        char err[256];
        ck_assert_int_eq(pr_shell_prepare(parts, 3, &c, err, sizeof err), 0);
        if (cases[k].prog) {
            ck_assert_msg(c.vars[0].use == PR_SHELL_CODE, "%s: %d", c.script,
                          c.vars[0].use);
            ck_assert_str_eq(c.vars[0].prog, cases[k].prog);
        } else {
            ck_assert_msg(c.vars[0].use == PR_SHELL_DATA, "%s: %d", c.script,
                          c.vars[0].use);
        }
        pr_shell_cmd_free(&c);
    }
}
END_TEST

/* Contexts with no knowable quoting are refused. */
START_TEST(test_unknowable_refused)
{
    static const char *const cases[][2] = {
        {"cat <<", "\nx\n"},
        {"echo `echo \\`echo ", "\\``"},
        {"echo \"`echo \\\"", "\\\"`\""},
        {"echo $'a\\'b' ", ""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        struct pr_shell_part parts[3] = {{cases[k][0], strlen(cases[k][0])},
                                         {NULL, 0},
                                         {cases[k][1], strlen(cases[k][1])}};
        struct pr_shell_cmd c;
        char err[256];
        ck_assert_msg(pr_shell_prepare(parts, 3, &c, err, sizeof err) == -1,
                      "'%s' accepted: %s", cases[k][0], c.script);
        ck_assert(err[0]);
    }
}
END_TEST

START_TEST(test_quoted_heredoc_refused)
{
    const char *b = "cat <<'EOF'\n", *a = "\nEOF\n";
    struct pr_shell_part parts[3] = {
        {b, strlen(b)}, {NULL, 0}, {a, strlen(a)}};
    struct pr_shell_cmd c;
    char err[256];
    ck_assert_int_eq(pr_shell_prepare(parts, 3, &c, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "quoted here-document 'EOF'"), "%s", err);
    ck_assert_msg(strstr(err, "<<EOF"), "%s", err);
    /* after the body ends, values are fine again */
    const char *whole = "cat <<'EOF'\nliteral $x\nEOF\nprintf '[%s]' ";
    struct pr_shell_part p2[2] = {{whole, strlen(whole)}, {NULL, 0}};
    ck_assert_int_eq(pr_shell_prepare(p2, 2, &c, err, sizeof err), 0);
    char *out = run(&c, "v a l");
    ck_assert_str_eq(out, "literal $x\n[v a l]");
    free(out);
    pr_shell_cmd_free(&c);
}
END_TEST

/* Plain simple commands need no shell; anything else does. */
START_TEST(test_direct)
{
    static const struct {
        const char *text;
        bool direct;
    } cases[] = {
        {"true", true},
        {"make -j2 all", true},
        {"./deploy.sh --env=prod\n", true},
        {"echo a b", true},
        {"echo $HOME", false},
        {"echo 'a'", false},
        {"a && b", false},
        {"a; b", false},
        {"a | b", false},
        {"a > f", false},
        {"cd dir", false},
        {"exit 3", false},
        {"X=1 cmd", false},
        {"ls *.c", false},
        {"ls ~", false},
        {"a\nb", false},
        {"# comment", false},
        {"", false},
        {"   ", false},
        {"if", false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        struct pr_shell_part p = {cases[k].text, strlen(cases[k].text)};
        struct pr_shell_cmd c;
        char err[256];
        ck_assert_int_eq(pr_shell_prepare(&p, 1, &c, err, sizeof err), 0);
        ck_assert_msg((c.argv_words != NULL) == cases[k].direct,
                      "'%s': direct %d", cases[k].text, c.argv_words != NULL);
        pr_shell_cmd_free(&c);
    }
    /* a value as a whole word, and inside a word, of a direct command */
    const char *a = "printf %s. x", *b = "y";
    struct pr_shell_part parts[3] = {{a, strlen(a)}, {NULL, 0}, {b, 1}};
    struct pr_shell_cmd c;
    char err[256];
    ck_assert_int_eq(pr_shell_prepare(parts, 3, &c, err, sizeof err), 0);
    ck_assert_ptr_nonnull(c.argv_words);
    ck_assert_uint_eq(c.nwords, 3);
    for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
        char *out = run(&c, values[v]);
        char want[4096];
        snprintf(want, sizeof want, "x%sy.", values[v]);
        ck_assert_str_eq(out, want);
        free(out);
    }
    ck_assert(!pwned_exists());
    pr_shell_cmd_free(&c);
}
END_TEST

/* Two values in one command, in different contexts. */
START_TEST(test_two_values)
{
    const char *t0 = "printf '[%s][%s]' '", *t1 = "' \"", *t2 = "\"";
    struct pr_shell_part parts[5] = {{t0, strlen(t0)},
                                     {NULL, 0},
                                     {t1, strlen(t1)},
                                     {NULL, 0},
                                     {t2, strlen(t2)}};
    struct pr_shell_cmd c;
    char err[256];
    ck_assert_int_eq(pr_shell_prepare(parts, 5, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.nvars, 2);
    ck_assert_str_eq(c.script,
                     "printf '[%s][%s]' ''\"${POML_V1}\"'' \"${POML_V2}\"");
    char *out = run(&c, "a'b");
    ck_assert_str_eq(out, "[a'b][a'b]");
    free(out);
    pr_shell_cmd_free(&c);
}
END_TEST

static Suite *shell_suite(void)
{
    Suite *s = suite_create("shell");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_contexts, 0,
                        (int)(sizeof tmpls / sizeof *tmpls));
    tcase_add_loop_test(tc, test_property, 0,
                        (int)(sizeof preambles / sizeof *preambles));
    tcase_add_test(tc, test_arithmetic);
    tcase_add_test(tc, test_code_contexts);
    tcase_add_test(tc, test_unknowable_refused);
    tcase_add_test(tc, test_quoted_heredoc_refused);
    tcase_add_test(tc, test_direct);
    tcase_add_test(tc, test_two_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    snprintf(pwned, sizeof pwned, "%s/PWNED", scratch);
    SRunner *sr = srunner_create(shell_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        failed++;
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
