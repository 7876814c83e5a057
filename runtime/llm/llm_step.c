/* llm_step.c -- the LLM step executor and its strategies
 *
 *   single     one call to the step's model (or the first fallback whose
 *              circuit breaker is closed)
 *   cascade    draft then refine: the first model of `cascade` answers
 *              the prompt, each next one improves the previous answer;
 *              outputs are the last answer's, plus `drafts`
 *   best_of N  N calls at once; the best answer is chosen by the `judge`
 *              step's model (asked for the number of the best candidate,
 *              with the judge step's prompt as its criteria, its settings
 *              and, when it has one, its output schema) or, without a
 *              judge, by vote (the most frequent answer; ties: the first);
 *              outputs are the chosen answer's, plus `candidates`.  The
 *              judge step makes no call of its own: its outputs are the
 *              judge call's, handed over (pr_job_hand), plus `chosen`.
 * Usage and cost count every call a strategy made, but the judge call:
 * it is counted on the judge step.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "eval.h"
#include "llm.h"
#include "llm_call.h"
#include "prompt.h"
#include "run.h"

enum mode { SINGLE, CASCADE, BEST_OF };

struct slot {
    struct pr_llm_call *call;
    bool pending;
};

struct llm_job {
    struct pr_job *j;
    enum mode mode;
    char *prompt, *system;
    bool json_mode;
    struct slot *slots;
    unsigned nslots, outstanding;
    unsigned stage;
    cJSON *drafts; /* cascade: every answer's text */
    cJSON *cands;  /* best_of: outputs, null when failed */
    bool judging;
    uint64_t in_tok, out_tok;
    double cost;
    char why[600];
    bool retryable;
    double retry_after;
    bool stopped;
    cJSON *turns;   /* from a prompt file, or NULL */
    unsigned depth; /* inside ask(): freeing waits */
    bool finished;
};

static void free_lj(struct llm_job *lj)
{
    if (lj->depth) {
        lj->finished = true; /* ask() frees it on the way out */
        return;
    }
    free(lj->prompt);
    free(lj->system);
    free(lj->slots);
    cJSON_Delete(lj->drafts);
    cJSON_Delete(lj->cands);
    cJSON_Delete(lj->turns);
    free(lj);
}

static void set_totals(struct llm_job *lj, cJSON *o)
{
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "input_tokens", (double)lj->in_tok);
    cJSON_AddNumberToObject(u, "output_tokens", (double)lj->out_tok);
    cJSON_AddNumberToObject(u, "total_tokens",
                            (double)(lj->in_tok + lj->out_tok));
    pr_json_set(o, "usage", u);
    pr_json_set(o, "cost", cJSON_CreateNumber(lj->cost));
}

static void fail(struct llm_job *lj);

static void succeed(struct llm_job *lj, cJSON *outputs)
{
    struct pr_job *j = lj->j;
    unsigned long failures = pr_alloc_failures();
    set_totals(lj, outputs);
    if (lj->drafts) {
        pr_json_add(outputs, "drafts", lj->drafts);
        lj->drafts = NULL;
    }
    if (lj->mode == BEST_OF && lj->cands) {
        cJSON *texts = cJSON_CreateArray(), *c;
        cJSON_ArrayForEach (c, lj->cands)
            cJSON_AddItemToArray(
                texts, cJSON_Duplicate(cJSON_GetObjectItem(c, "text"), true)
                           ?: cJSON_CreateNull());
        pr_json_add(outputs, "candidates", texts);
    }
    /* an output cJSON could not allocate is missing without a word */
    if (pr_alloc_failures() != failures) {
        cJSON_Delete(outputs);
        snprintf(lj->why, sizeof lj->why, "out of memory");
        lj->retryable = false;
        fail(lj);
        return;
    }
    pr_job_set_outputs(j, outputs);
    j->priv = NULL;
    free_lj(lj);
    pr_job_finish(j, true, NULL, false);
}

static void fail(struct llm_job *lj)
{
    struct pr_job *j = lj->j;
    char why[sizeof lj->why];
    bool retryable = lj->retryable && !lj->stopped;
    snprintf(why, sizeof why, "%s", lj->stopped ? "cancelled" : lj->why);
    pr_job_retry_after(j, lj->retry_after);
    j->priv = NULL;
    free_lj(lj);
    pr_job_finish(j, false, why, retryable);
}

static void note_failure(struct llm_job *lj, const struct pr_llm_reply *rep)
{
    snprintf(lj->why, sizeof lj->why, "%s", rep->why ? rep->why : "failed");
    lj->retryable = rep->retryable;
    if (rep->retry_after > lj->retry_after)
        lj->retry_after = rep->retry_after;
}

static void count(struct llm_job *lj, const struct pr_llm_reply *rep)
{
    lj->in_tok += rep->in_tok;
    lj->out_tok += rep->out_tok;
    lj->cost += rep->cost;
}

static void ask(struct llm_job *lj, unsigned slot, uint32_t model,
                const char *prompt, const char *system);

/* ---- best_of ---- */

static const char *text_of(const cJSON *o)
{
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(o, "text"));
    return t ? t : "";
}

static int vote(const cJSON *cands)
{
    int best = -1, best_n = 0, i = 0;
    const cJSON *a, *b;
    cJSON_ArrayForEach (a, cands) {
        if (cJSON_IsObject(a)) {
            int n = 0;
            cJSON_ArrayForEach (b, cands)
                n += cJSON_IsObject(b) && !strcmp(text_of(a), text_of(b));
            if (n > best_n)
                best = i, best_n = n;
        }
        i++;
    }
    return best;
}

static void choose(struct llm_job *lj, int k)
{
    cJSON *pick = cJSON_Duplicate(cJSON_GetArrayItem(lj->cands, k), true);
    if (pick)
        cJSON_AddNumberToObject(pick, "chosen", k);
    succeed(lj, pick);
}

/* The step's score over each good candidate (item: its outputs, index:
 * its number); the highest wins, the first of equals.  -1 when a score
 * is not a number (then the vote decides, with a note). */
static int best_score(struct llm_job *lj, struct pr_code code)
{
    int best = -1, i = 0;
    double top = 0;
    cJSON *c;
    cJSON_ArrayForEach (c, lj->cands) {
        if (cJSON_IsObject(c)) {
            cJSON *v;
            char err[400];
            if (pr_run_expr_item(lj->j, code, c, i, true, &v, err,
                                 sizeof err) < 0 ||
                !cJSON_IsNumber(v)) {
                pr_run_note(lj->j->run, lj->j,
                            "score of candidate %d: %s; choosing by "
                            "vote",
                            i, v ? "not a number" : err);
                cJSON_Delete(v);
                return -1;
            }
            if (best < 0 || v->valuedouble > top) {
                best = i;
                top = v->valuedouble;
            }
            cJSON_Delete(v);
        }
        i++;
    }
    return best;
}

static void judge(struct llm_job *lj)
{
    struct pr_job *j = lj->j;
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    const struct pr_step *js = &r->steps[s->judge];
    cJSON *crit = NULL;
    char err[400];
    if (js->prompt != PR_PLAN_NONE &&
        pr_run_interp(j, js->prompt, &crit, err, sizeof err) < 0)
        crit = NULL;
    char *ct = crit ? pr_value_text(crit) : NULL;
    cJSON_Delete(crit);
    size_t n = strlen(lj->prompt) + (ct ? strlen(ct) : 0) + 512;
    const cJSON *c;
    cJSON_ArrayForEach (c, lj->cands)
        n += strlen(text_of(c)) + 32;
    char *p = malloc(n);
    if (!p) {
        free(ct);
        choose(lj, vote(lj->cands));
        return;
    }
    int at = snprintf(p, n, "%s%sThe task was:\n%s\n\nCandidate answers:\n",
                      ct ? ct : "Pick the best answer.", "\n\n", lj->prompt);
    int i = 1;
    cJSON_ArrayForEach (c, lj->cands) {
        if (cJSON_IsObject(c))
            at += snprintf(p + at, n - (size_t)at, "\n[%d]\n%s\n", i,
                           text_of(c));
        i++;
    }
    snprintf(p + at, n - (size_t)at,
             "\nReply with the number of the best candidate only.");
    free(ct);
    lj->judging = true;
    ask(lj, 0, js->model, p, NULL);
    free(p);
}

static void best_of_done(struct llm_job *lj)
{
    if (lj->stopped) {
        fail(lj);
        return;
    }
    if (vote(lj->cands) < 0) {
        fail(lj); /* no candidate succeeded: the last reason */
        return;
    }
    const struct pr_step *s = pr_job_step(lj->j);
    if (s->score.p) {
        int k = best_score(lj, s->score);
        choose(lj, k >= 0 ? k : vote(lj->cands));
        return;
    }
    if (s->judge != PR_PLAN_NONE &&
        lj->j->run->steps[s->judge].model != PR_PLAN_NONE) {
        judge(lj);
        return;
    }
    choose(lj, vote(lj->cands));
}

/* The candidate number a judge replied, 1-based: the first whole
 * number member of its JSON object reply, else the first number of its
 * text; 0 when there is none. */
static long judge_number(const cJSON *outputs)
{
    const cJSON *json = cJSON_GetObjectItem(outputs, "json"), *m;
    if (cJSON_IsObject(json))
        cJSON_ArrayForEach (m, json) {
            if (cJSON_IsNumber(m) && m->valuedouble >= 0 &&
                m->valuedouble < 1e9 &&
                m->valuedouble == (double)(long)m->valuedouble)
                return (long)m->valuedouble;
        }
    const char *t = text_of(outputs);
    while (*t && !isdigit((unsigned char)*t))
        t++;
    return *t ? strtol(t, NULL, 10) : 0;
}

static void judged(struct llm_job *lj, struct pr_llm_reply *rep)
{
    struct pr_run *r = lj->j->run;
    struct pr_job *judge = &r->jobs[pr_job_step(lj->j)->judge];
    long n = cJSON_GetArraySize(lj->cands), k = -1;
    if (rep->ok) {
        k = judge_number(rep->outputs) - 1;
        cJSON_AddNumberToObject(rep->outputs, "chosen",
                                k >= 0 && k < n ? (double)k : -1);
        pr_job_hand(judge, rep->outputs);
    } else {
        char why[700];
        snprintf(why, sizeof why,
                 "the judge call of best_of step '%s' "
                 "failed: %s",
                 pr_job_step(lj->j)->id, rep->why ? rep->why : "failed");
        pr_job_hand(judge, cJSON_CreateString(why));
    }
    if (k < 0 || k >= n || !cJSON_IsObject(cJSON_GetArrayItem(lj->cands, k))) {
        pr_run_note(r, lj->j,
                    "the judge gave no usable candidate number; choosing "
                    "by vote");
        k = vote(lj->cands);
    }
    choose(lj, (int)k);
}

/* A judge step: its outputs are those of the judge call its best_of step
 * made; it makes no call of its own. */
static void judge_start(struct pr_job *j)
{
    const struct pr_step *s = pr_job_step(j);
    cJSON *h = pr_job_take_handed(j);
    if (cJSON_IsObject(h)) {
        pr_job_set_outputs(j, h);
        pr_job_finish(j, true, NULL, false);
        return;
    }
    char why[800];
    if (cJSON_IsString(h))
        snprintf(why, sizeof why, "%s", h->valuestring);
    else
        snprintf(why, sizeof why,
                 "step '%s' is a best_of judge, and its "
                 "best_of step made no judge call",
                 s->id);
    cJSON_Delete(h);
    pr_job_finish(j, false, why, false);
}

/* ---- the callback ---- */

/* Slots carry a back pointer through this table. */
struct slot_ud {
    struct llm_job *lj;
    unsigned slot;
};

static void on_answer(void *ud, struct pr_llm_reply *rep)
{
    struct slot_ud *su = ud;
    struct llm_job *lj = su->lj;
    unsigned k = su->slot;
    free(su);
    lj->slots[k].pending = false;
    lj->slots[k].call = NULL;
    lj->outstanding--;
    if (lj->judging) {
        /* counted on the judge step, whose outputs the reply becomes */
        judged(lj, rep);
        return;
    }
    count(lj, rep);
    if (!rep->ok)
        note_failure(lj, rep);
    switch (lj->mode) {
    case SINGLE:
        if (rep->ok)
            succeed(lj, rep->outputs);
        else
            fail(lj);
        return;
    case CASCADE: {
        if (!rep->ok || lj->stopped) {
            cJSON_Delete(rep->outputs);
            fail(lj);
            return;
        }
        const struct pr_step *s = pr_job_step(lj->j);
        const char *text = text_of(rep->outputs);
        cJSON_AddItemToArray(lj->drafts, cJSON_CreateString(text));
        if (++lj->stage >= s->cascade.n) {
            succeed(lj, rep->outputs);
            return;
        }
        size_t n = strlen(lj->prompt) + strlen(text) + 256;
        char *p = malloc(n);
        if (p)
            snprintf(p, n,
                     "Improve the draft answer below: keep what is right, "
                     "fix what is wrong, and reply with the improved answer "
                     "only.\n\nTask:\n%s\n\nDraft:\n%s",
                     lj->prompt, text);
        cJSON_Delete(rep->outputs);
        if (!p) {
            snprintf(lj->why, sizeof lj->why, "out of memory");
            lj->retryable = false;
            fail(lj);
            return;
        }
        uint32_t m = pr_plan_list_at(lj->j->run->plan, s->cascade, lj->stage);
        ask(lj, 0, m, p, lj->system);
        free(p);
        return;
    }
    case BEST_OF:
        cJSON_ReplaceItemInArray(lj->cands, (int)k,
                                 rep->ok ? rep->outputs : cJSON_CreateNull());
        if (lj->outstanding == 0)
            best_of_done(lj);
        return;
    }
}

static void ask(struct llm_job *lj, unsigned slot, uint32_t model,
                const char *prompt, const char *system)
{
    struct slot_ud *su = malloc(sizeof *su);
    if (!su) {
        snprintf(lj->why, sizeof lj->why, "out of memory");
        lj->retryable = false;
        if (lj->outstanding == 0)
            fail(lj);
        return;
    }
    su->lj = lj;
    su->slot = slot;
    lj->outstanding++;
    lj->slots[slot].pending = true;
    const struct pr_step *judge =
        lj->judging ? &lj->j->run->steps[pr_job_step(lj->j)->judge] : NULL;
    struct pr_llm_ask a = {
        .model = model,
        .prompt = prompt,
        .system = system,
        /* the first call of every strategy asks the conversation */
        .turns = lj->stage == 0 && !lj->judging ? lj->turns : NULL,
        .json_mode = judge
                         ? (judge->flags & PR_SF_JSON) || judge->output_schema
                         : lj->json_mode,
        .as_step = judge};
    lj->depth++;
    struct pr_llm_call *c = pr_llm_call(lj->j, &a, on_answer, su);
    lj->depth--;
    if (lj->finished) {
        lj->finished = false;
        free_lj(lj);
        return;
    }
    /* the answer may already have come (a cassette, a refusal) */
    if (lj->slots[slot].pending)
        lj->slots[slot].call = c;
}

/* ---- prompt files ---- */

static int append(struct pr_buf *b, const char *sep, const char *t)
{
    if (!t || !*t)
        return 0;
    if (b->len && pr_buf_append(b, sep, strlen(sep)) < 0)
        return -1;
    return pr_buf_append(b, t, strlen(t));
}

static char *buf_string(struct pr_buf *b)
{
    if (pr_buf_append_u8(b, 0) < 0) {
        pr_buf_free(b);
        return NULL;
    }
    return (char *)b->data;
}

/* Renders the step's prompt file over its inputs into the conversation
 * LJ asks: system messages join the system prompt; user and model
 * messages become turns (a step's own prompt is one more user turn at
 * the end); LJ->prompt becomes their text, for refining and judging. */
static int render_prompt_file(struct llm_job *lj, char *err, size_t cap)
{
    struct pr_job *j = lj->j;
    const struct pr_plan *p = j->run->plan;
    const struct pr_step *s = pr_job_step(j);
    uint32_t pi = pr_plan_prompt_find(p, s->prompt_file);
    if (pi == PR_PLAN_NONE)
        return pr_errf(err, cap, "the plan holds no prompt file '%s'",
                       s->prompt_file);
    cJSON *input = NULL, *msgs = NULL;
    char e[400];
    if (s->inputs != PR_PLAN_NONE &&
        pr_run_tval(j, s->inputs, &input, e, sizeof e) < 0)
        return pr_errf(err, cap, "in 'inputs': %s", e);
    int rc = pr_prompt_render(p, pi, cJSON_IsObject(input) ? input : NULL,
                              NULL, NULL, &msgs, e, sizeof e);
    cJSON_Delete(input);
    if (rc < 0)
        return pr_errf(err, cap, "prompt file '%s': %s", s->prompt_file, e);
    struct pr_buf sys, all;
    pr_buf_init(&sys);
    pr_buf_init(&all);
    append(&sys, "\n\n", lj->system);
    lj->turns = cJSON_CreateArray();
    const cJSON *m;
    cJSON_ArrayForEach (m, msgs) {
        const char *role = cJSON_GetStringValue(
            cJSON_GetObjectItem(m, "role"));
        struct pr_buf text;
        pr_buf_init(&text);
        cJSON *media = cJSON_CreateArray();
        const cJSON *part;
        cJSON_ArrayForEach (part, cJSON_GetObjectItem(m, "content")) {
            append(&text, "",
                   cJSON_GetStringValue(cJSON_GetObjectItem(part, "text")));
            const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(
                cJSON_GetObjectItem(part, "media"), "url"));
            if (url)
                cJSON_AddItemToArray(media, cJSON_CreateString(url));
        }
        char *t = buf_string(&text);
        if (role && !strcmp(role, "system")) {
            append(&sys, "\n\n", t);
            cJSON_Delete(media);
        } else {
            cJSON *tu = cJSON_CreateObject();
            cJSON_AddStringToObject(
                tu, "role",
                role && !strcmp(role, "model") ? "assistant" : "user");
            cJSON_AddStringToObject(tu, "text", t ? t : "");
            cJSON_AddItemToObject(tu, "media", media);
            cJSON_AddItemToArray(lj->turns, tu);
            append(&all, "\n\n", t);
        }
        free(t);
    }
    cJSON_Delete(msgs);
    if (lj->prompt && *lj->prompt) {
        cJSON *tu = cJSON_CreateObject();
        cJSON_AddStringToObject(tu, "role", "user");
        cJSON_AddStringToObject(tu, "text", lj->prompt);
        cJSON_AddItemToArray(lj->turns, tu);
        append(&all, "\n\n", lj->prompt);
    }
    free(lj->prompt);
    free(lj->system);
    lj->prompt = buf_string(&all);
    lj->system = sys.len ? buf_string(&sys) : NULL;
    if (!sys.len)
        pr_buf_free(&sys);
    if (!lj->prompt)
        lj->prompt = strdup("");
    return lj->prompt && lj->turns ? 0 : pr_errf(err, cap, "out of memory");
}

/* The request of a task step (pr_llm_task_step): the step's name (or id)
 * and description, its inputs as JSON, and, when it declares outputs, a
 * JSON object with those members as the answer (JSON mode on, so the
 * reply's members become the outputs). */
static int task_prompt(struct llm_job *lj, char *err, size_t cap)
{
    struct pr_job *j = lj->j;
    const struct pr_plan *p = j->run->plan;
    const struct pr_step *s = pr_job_step(j);
    cJSON *input = NULL;
    char e[400];
    if (pr_run_tval(j, s->inputs, &input, e, sizeof e) < 0)
        return pr_errf(err, cap, "in 'inputs': %s", e);
    char *json = cJSON_PrintUnformatted(input);
    cJSON_Delete(input);
    struct pr_buf b = {0};
    int bad = !json || append(&b, "", "Task: ") < 0 ||
              append(&b, "", s->name && *s->name ? s->name : s->id) < 0 ||
              append(&b, "\n", s->description) < 0 ||
              append(&b, "\n\n", "Inputs (JSON):\n") < 0 ||
              append(&b, "", json) < 0;
    free(json);
    for (uint32_t k = 0; !bad && k < s->outputs.n; k++) {
        const char *o = pr_plan_str(p, pr_plan_list_at(p, s->outputs, k),
                                    NULL);
        bad = append(&b,
                     k ? ", "
                       : "\n\nAnswer with one JSON object "
                         "with the members: ",
                     o) < 0;
    }
    if (!bad && s->outputs.n)
        bad = append(&b, "", ".") < 0;
    char *text = bad ? NULL : buf_string(&b);
    if (!text) {
        pr_buf_free(&b);
        return pr_errf(err, cap, "out of memory");
    }
    free(lj->prompt);
    lj->prompt = text;
    if (s->outputs.n)
        lj->json_mode = true;
    return 0;
}

/* ---- the executor ---- */

static void llm_start(struct pr_job *j)
{
    struct pr_run *r = j->run;
    const struct pr_step *s = pr_job_step(j);
    if (!r->llm) {
        pr_job_finish(j, false, "LLM steps are not set up in this run", false);
        return;
    }
    if (s->model == PR_PLAN_NONE && s->cascade.n == 0) {
        pr_job_finish(j, false, "the step names no model", false);
        return;
    }
    if (s->flags & PR_SF_JUDGE) {
        judge_start(j);
        return;
    }
    cJSON *pv = NULL, *sv = NULL;
    char err[400], why[600];
    if (pr_run_interp(j, s->prompt, &pv, err, sizeof err) < 0 ||
        (s->system != PR_PLAN_NONE &&
         pr_run_interp(j, s->system, &sv, err, sizeof err) < 0)) {
        snprintf(why, sizeof why, "in the prompt: %s", err);
        cJSON_Delete(pv);
        pr_job_finish(j, false, why, false);
        return;
    }
    struct llm_job *lj = calloc(1, sizeof *lj);
    if (lj) {
        lj->j = j;
        lj->prompt = pr_value_text(pv);
        lj->system = sv ? pr_value_text(sv) : NULL;
        lj->retry_after = -1;
        lj->json_mode = (s->flags & PR_SF_JSON) || s->output_schema;
        lj->mode = s->cascade.n > 1 ? CASCADE
                   : s->best_of > 1 ? BEST_OF
                                    : SINGLE;
        lj->nslots = lj->mode == BEST_OF ? s->best_of : 1;
        lj->slots = calloc(lj->nslots, sizeof *lj->slots);
        lj->drafts = lj->mode == CASCADE ? cJSON_CreateArray() : NULL;
        lj->cands = lj->mode == BEST_OF ? cJSON_CreateArray() : NULL;
        for (unsigned k = 0; lj->cands && k < lj->nslots; k++)
            cJSON_AddItemToArray(lj->cands, cJSON_CreateNull());
    }
    bool no_system = lj && sv && !lj->system; /* it could not be copied */
    cJSON_Delete(pv);
    cJSON_Delete(sv);
    if (!lj || !lj->prompt || no_system || !lj->slots ||
        (lj->mode == CASCADE && !lj->drafts) ||
        (lj->mode == BEST_OF && !lj->cands)) {
        if (lj)
            free_lj(lj);
        pr_job_finish(j, false, "out of memory", false);
        return;
    }
    if ((s->prompt_file && render_prompt_file(lj, why, sizeof why) < 0) ||
        (pr_llm_task_step(s) && task_prompt(lj, why, sizeof why) < 0)) {
        free_lj(lj);
        pr_job_finish(j, false, why, false);
        return;
    }
    j->priv = lj;
    if (lj->mode == CASCADE) {
        ask(lj, 0, pr_plan_list_at(r->plan, s->cascade, 0), lj->prompt,
            lj->system);
        return;
    }
    if (lj->mode == SINGLE) {
        ask(lj, 0, PR_PLAN_NONE, lj->prompt, lj->system);
        return;
    }
    /* best_of: a guard keeps the count above zero until every call has
       been made, as answers may come at once (a cassette, a refusal) */
    lj->outstanding++;
    for (unsigned k = 0; k < lj->nslots; k++)
        ask(lj, k, PR_PLAN_NONE, lj->prompt, lj->system);
    if (--lj->outstanding == 0)
        best_of_done(lj);
}

static void llm_stop(struct pr_job *j, int sig)
{
    struct llm_job *lj = j->priv;
    (void)sig;
    if (!lj)
        return;
    lj->stopped = true;
    for (unsigned k = 0; k < lj->nslots; k++)
        if (lj->slots[k].pending && lj->slots[k].call) {
            struct pr_llm_call *c = lj->slots[k].call;
            lj->slots[k].call = NULL;
            pr_llm_cancel(c);
            if (j->priv != lj)
                return; /* the job ended */
        }
}

const struct pr_executor pr_exec_llm = {
    .in_process = false,
    .own_slots = true,
    .start = llm_start,
    .stop = llm_stop,
    .release = free, /* the step's spending (budget.c) */
};
