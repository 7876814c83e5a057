/* proto.h -- the wire protocols of model servers, behind one interface
 *
 * A protocol says where a request goes and with which headers, how its
 * body is written, and how a reply is read: a whole JSON reply, one
 * event of a stream, an error reply.  Two are known: OpenAI's chat
 * completions (proto_openai.c, any compatible server) and Anthropic's
 * messages (proto_anthropic.c).  The client (llm.c) picks one per call
 * from the model's protocol and never asks which one it holds.
 *
 * What both share is here and in proto.c: the request a body is built
 * from, the reply being assembled (text, tool calls, usage, the end of a
 * stream, its error), and the steps every protocol takes in the same
 * way: a printed body is valid UTF-8, an escaped NUL in a reply reads
 * as U+FFFD, an event's data is parsed once.
 */
#ifndef POML_PROTO_H
#define POML_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "run.h"
#include "sse.h"

/* What a request body is built from. */
struct pr_llm_request {
    const char *wire_id;  /* the model's name at the provider */
    uint64_t max_tokens;  /* the step's, else the model's, capped */
    bool step_max_tokens; /* the step set max_tokens itself */
    double temperature;   /* < 0: the provider's default */
    const char *prompt;   /* one user turn, when TURNS is NULL */
    const char *system;   /* NULL or "": none */
    const cJSON *turns;   /* [{"role", "text", "media"?}...] */
    const cJSON *schema;  /* the reply's JSON Schema, or NULL */
    bool json_mode;       /* ask for JSON */
    bool stream;          /* ask for server-sent events */
};

/* A reply as it is read: whole, or event by event. */
struct pr_llm_parsed {
    struct pr_job *j; /* streamed text is shown for it; NULL:
                         not shown */
    struct pr_buf text;
    cJSON *tools;           /* tool calls being assembled: [{"id",
                               "name", "arguments"}...], or NULL */
    int16_t block_tool[64]; /* Anthropic: content block -> tool call
                               index + 1 (0: not a tool block) */
    int ntools;
    uint64_t in_tok, out_tok;
    bool done;   /* the stream's last event came */
    bool oom;    /* a part of the reply could not be kept:
                    out of memory */
    char *error; /* why the stream failed, or NULL */
    size_t nuls; /* \u0000 escapes read as U+FFFD */
};

struct pr_llm_proto {
    const char *name; /* as a model's protocol names it */
    const char *path; /* the endpoint, after the base URL */
    /* The protocol's headers into OUT (at most 2): the key's, written
     * into AUTH (CAP bytes), when KEY is not NULL, and any the protocol
     * requires.  Returns how many. */
    size_t (*headers)(const char *key, char *auth, size_t cap,
                      const char **out);
    /* The body of request Q, or NULL (out of memory). */
    cJSON *(*body)(const struct pr_llm_request *q);
    /* One event of a stream, its data parsed: text, tool-call deltas,
     * usage, the end, an error. */
    void (*event)(struct pr_llm_parsed *p, const cJSON *e);
    /* A whole reply: NULL, or what makes it no reply. */
    const char *(*whole)(struct pr_llm_parsed *p, const cJSON *r);
    /* The message of error reply E into MSG (": text", or "" when it
     * has none); *QUOTA: it says the account is out of credit, which no
     * wait mends. */
    void (*error)(const cJSON *e, char *msg, size_t cap, bool *quota);
};

extern const struct pr_llm_proto pr_llm_openai, pr_llm_anthropic;

/* The protocol a model's "protocol" names (OpenAI's for any but
 * "anthropic"). */
const struct pr_llm_proto *pr_llm_proto_for(const char *protocol);

/* The printed body of Q for PR, or NULL (out of memory).  Each byte of
 * invalid UTF-8 in the text sent goes as U+FFFD, counted in *BAD: a
 * server refuses a body that is not UTF-8. */
char *pr_llm_body(const struct pr_llm_proto *pr,
                  const struct pr_llm_request *q, size_t *bad);

/* Reads one event's DATA (changed in place): the end of an OpenAI
 * stream ("[DONE]"), else JSON for PR's event reader. */
void pr_llm_event(const struct pr_llm_proto *pr, struct pr_llm_parsed *p,
                  char *data);
/* Reads a whole reply BODY[0..N) (changed in place): NULL, or why it is
 * no reply. */
const char *pr_llm_whole(const struct pr_llm_proto *pr,
                         struct pr_llm_parsed *p, char *body, size_t n);
/* The message of an error reply BODY[0..N), as PR's error reader. */
void pr_llm_error(const struct pr_llm_proto *pr, const char *body, size_t n,
                  char *msg, size_t cap, bool *quota);

void pr_llm_parsed_free(struct pr_llm_parsed *p);

/* A stream of PR's events read into P as its bytes come: the framing
 * (sse.h), then each event's data (pr_llm_event). */
struct pr_llm_stream {
    const struct pr_llm_proto *pr;
    struct pr_llm_parsed *p;
    struct pr_sse sse;
};

void pr_llm_stream_init(struct pr_llm_stream *s, const struct pr_llm_proto *pr,
                        struct pr_llm_parsed *p);
/* Reads N more bytes (running out of memory fails the stream). */
void pr_llm_stream_feed(struct pr_llm_stream *s, const char *b, size_t n);
void pr_llm_stream_free(struct pr_llm_stream *s);

/* ---- for the protocols ---- */

/* The string at O.A (or O.A.B when B is not NULL), or NULL. */
const char *pr_llm_str_at(const cJSON *o, const char *a, const char *b);
/* A count from a reply, clamped: a server's number never overflows a
 * conversion (0 for a negative or missing one). */
uint64_t pr_llm_count_at(const cJSON *o, const char *a, const char *b);
/* An index below 1024 at O.A, else -1. */
int pr_llm_index_at(const cJSON *o, const char *a);

/* Appends to tool call INDEX's id, name and arguments (NULL or "": no
 * change), adding calls up to INDEX. */
void pr_llm_tool_delta(struct pr_llm_parsed *p, int index, const char *id,
                       const char *name, const char *args);
/* Text of the reply (NULL: none); streamed text is also shown live. */
void pr_llm_text(struct pr_llm_parsed *p, const char *t);
void pr_llm_stream_text(struct pr_llm_parsed *p, const char *t);

/* One turn of a conversation: {"role", "content": TEXT}, or with MEDIA
 * (a list of URLs) a list of parts, text then each image as IMAGE
 * writes it. */
cJSON *pr_llm_turn(const char *role, const char *text, const cJSON *media,
                   cJSON *(*image)(const char *url));
/* Adds to B what follows the protocol's own fields: MSGS (Q's turns, or
 * its prompt as one user turn, appended) as "messages", "temperature",
 * "stream". */
void pr_llm_add_messages(cJSON *b, cJSON *msgs, const struct pr_llm_request *q,
                         cJSON *(*image)(const char *url));
/* The error reader both protocols share: {"error": {"message", "code",
 * "type"}}, out of credit when code or type is "insufficient_quota". */
void pr_llm_error_common(const cJSON *e, char *msg, size_t cap, bool *quota);

#endif
