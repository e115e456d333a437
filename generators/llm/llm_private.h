/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llm_private.h: the internals of the LLM client shared by its files.
 *
 *   llm.c            configuration, the request queue, delivery, stats, the
 *                    parts of request bodies and answers both protocols share
 *   llm_http.c       the transfers on the fhir/http pool: slots, attempts,
 *                    retries, max_rpm, cancel
 *   llm_openai.c     chat completions: request bodies, answers, stream chunks
 *   llm_anthropic.c  Messages: request bodies, answers, stream events
 *   llm_sse.c        an incremental server-sent-events parser
 *   llm_cache.c      answers on disk keyed by SHA-256 of URL and body
 *
 * An answer, streamed or not, is accumulated into an llm_answer; the loop
 * then judges it (finish reason, errors) and hands it to the caller.
 */
#ifndef LLM_PRIVATE_H
#define LLM_PRIVATE_H

#include "generators/llm/fg_llm.h"
#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_rng.h"
#include "fhir/http/fg_http.h"

/* ---- SSE (llm_sse.c) ---------------------------------------------------- */

/* Called for each complete event: `event` is its name ("" when none was
 * given), data the lines of `data:` joined with '\n'. A non-zero return
 * stops the parse and is returned by llm_sse_feed. */
typedef int (*llm_sse_fn)(void *ctx, const char *event, const char *data, size_t len);

typedef struct llm_sse {
    fg_buf line;      /* the current line, possibly split across chunks */
    fg_buf data;      /* data lines of the event being read */
    char event[64];
    int has_data;
    int after_cr;     /* the last byte seen was a CR (a CRLF may be split) */
    size_t total;     /* bytes fed so far */
    size_t max_line, max_total;
} llm_sse;

void llm_sse_init(llm_sse *s, size_t max_line, size_t max_total);
void llm_sse_free(llm_sse *s);
/* Feed n bytes. FG_OK, FG_ELIMIT (a line or the stream too long), FG_ENOMEM,
 * or the callback's non-zero return. */
int llm_sse_feed(llm_sse *s, const char *p, size_t n, llm_sse_fn fn, void *ctx, fg_error *err);
/* End of stream: dispatch an event left without its blank line. */
int llm_sse_end(llm_sse *s, llm_sse_fn fn, void *ctx, fg_error *err);

/* ---- answers ------------------------------------------------------------- */

typedef struct llm_answer {
    fg_buf text;
    fg_buf refusal;
    fg_llm_finish finish;
    int finished;            /* a finish/stop reason was read */
    int in_tool;             /* Anthropic stream: the current block is tool_use */
    int tool_seen;           /* Anthropic: a tool_use block was read */
    fg_buf tool;             /* Anthropic: the tool_use input (JSON text) */
    long tokens_in, tokens_out;
    char model[128];
    char error[FG_ERROR_TEXT_MAX]; /* an error reported inside a 200 answer or stream */
    int too_large;
} llm_answer;

void llm_answer_init(llm_answer *a);
void llm_answer_reset(llm_answer *a);
void llm_answer_free(llm_answer *a);
/* Append to a buffer of the answer, honouring FG_MAX_LLM_RESPONSE_BYTES. */
void llm_answer_append(llm_answer *a, fg_buf *b, const char *p, size_t n);

/* What differs in how the providers' whole answers read: the names of the
 * token counts in the usage object, how an error inside a 2xx answer shows
 * (read_error fills a->error and returns 1 when there is one), and the
 * answer itself (read_body: FG_OK, or FG_EINVALID with err saying why). */
typedef struct llm_envelope {
    const char *tokens_in, *tokens_out;
    int (*read_error)(llm_answer *a, const json_t *root);
    int (*read_body)(llm_answer *a, const json_t *root, fg_error *err);
} llm_envelope;

/* A whole answer body into a: a JSON object that reports no error, its
 * model and usage, then the provider's read_body. FG_OK, or FG_EINVALID
 * with err saying why. */
int llm_envelope_parse(const llm_envelope *env, const char *body, size_t len, llm_answer *a,
                       fg_error *err);
/* The token counts of a usage object (absent ones leave a as it is). */
void llm_read_usage(const llm_envelope *env, llm_answer *a, const json_t *usage);
/* obj.model into a->model when it is a string. */
void llm_read_model(llm_answer *a, const json_t *obj);
/* "the server reported an error: <message>" into a->error. */
void llm_answer_error(llm_answer *a, const char *message);

/* ---- request bodies (llm.c) ------------------------------------------------ */

/* How request bodies and re-serialised answers are written. */
#define LLM_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* The request's messages appended to msgs as {role, content} objects.
 * FG_OK, or FG_EUSAGE for a message without a role or content. */
int llm_put_messages(json_t *msgs, const fg_llm_request *req, fg_error *err);
/* root written onto out as compact JSON. FG_OK or FG_ENOMEM. */
int llm_put_body(const json_t *root, fg_buf *out, fg_error *err);

/* OpenAI response_format levels, lowered when a server refuses one. */
enum { LLM_FORMAT_SCHEMA = 0, LLM_FORMAT_OBJECT = 1, LLM_FORMAT_NONE = 2 };

int llm_openai_render(const fg_llm_config *cfg, const fg_llm_request *req, int level, fg_buf *out,
                      fg_error *err);
/* A whole (not streamed) 2xx body into a. FG_OK or FG_EINVALID. */
int llm_openai_parse(const char *body, size_t len, llm_answer *a, fg_error *err);
/* One SSE event of a chat-completions stream. */
int llm_openai_event(void *answer, const char *event, const char *data, size_t len);

int llm_anthropic_render(const fg_llm_config *cfg, const fg_llm_request *req, fg_buf *out,
                         fg_error *err);
int llm_anthropic_parse(const char *body, size_t len, llm_answer *a, fg_error *err);
int llm_anthropic_event(void *answer, const char *event, const char *data, size_t len);
/* After a stream ended: move the tool input (re-serialised) into text. */
void llm_anthropic_finish(llm_answer *a);

/* The message of an error body ({"error": {"message"}} or {"error": "..."},
 * an HTML page, or plain text) as one line of at most `size` bytes. */
void llm_error_text(const char *body, size_t len, const char *content_type, char *out,
                    size_t size);

/* Find the JSON object in a model's text: the text itself when it looks
 * like one (starts with '{', ends with '}'), the inside of a ```json fence,
 * or the first balanced {...} that parses, not looking inside an unclosed
 * one. Sets *off and *n and returns 1 when found, 0 otherwise. */
int llm_extract_json(const char *text, size_t len, size_t *off, size_t *n);

/* ---- cache (llm_cache.c) --------------------------------------------------- */

/* The cache key of a request: hex SHA-256 of url, a newline, and body. */
void llm_cache_key(const char *url, const char *body, size_t len, char hex[65]);
/* A cached answer for key into a (text, finish STOP, tokens, model):
 * 1 when found and sound, 0 otherwise (corrupt entries are ignored). */
int llm_cache_get(const char *dir, const char *hex, const char *body, size_t len, llm_answer *a);
/* Store a complete answer, atomically. FG_OK or FG_EIO. */
int llm_cache_put(const char *dir, const char *hex, const char *body, size_t len,
                  const char *text, size_t text_len, long tokens_in, long tokens_out,
                  const char *model, fg_error *err);
/* Create the folder (and its parents). FG_OK or FG_EUSAGE. */
int llm_cache_prepare(const char *dir, fg_error *err);

/* ---- the client (llm.c, llm_http.c) ---------------------------------------- */

/* A queued request with copies of everything it points at. */
typedef struct llm_req {
    fg_llm_request pub;
    fg_llm_message *msgs;
    char *system, *schema_name;
    json_t *schema;
    struct llm_req *next;
} llm_req;

enum { LLM_SLOT_IDLE, LLM_SLOT_RUNNING, LLM_SLOT_WAITING };

typedef struct llm_slot {
    struct fg_llm *owner;
    int state;
    llm_req *req;
    fg_http_xfer x;       /* the attempt on the pool; x.ctx is this slot */
    fg_buf body;          /* the rendered request of this attempt */
    int level;            /* the response_format level it was rendered at */
    int cache_level;      /* the level the cache was last looked up at, -1 none */
    fg_buf raw;           /* a body that is not a stream */
    size_t raw_total;
    llm_sse sse;
    unsigned sse_decided; /* the x.responses the stream decision was made for; 0 none */
    int is_sse;
    llm_answer ans;
    int too_large;
    int attempts, fallbacks;
    double due;
} llm_slot;

struct fg_llm {
    fg_llm_config cfg;        /* strings point at the copies below */
    char *model, *base_url, *api_key, *azure, *ca_file, *cache_dir;
    fg_http_transport transport; /* ca_file and the timeouts */
    char *url;                /* the endpoint requests are POSTed to */
    int level;                /* OpenAI response_format level in use */
    llm_req *q_head, *q_tail;
    llm_slot *slots;
    int n_slots;
    fg_http_pool *pool;
    fg_rng rng;
    fg_llm_stats st;
    double next_start;        /* max_rpm: no start before this (monotonic s) */
    double pause_until;       /* after a 429: no start before this */
    fg_llm_done_fn run_done;  /* fg_llm_run's callback, for the pool's `done` */
    void *run_ctx;
    int run_rc;               /* the first negative code run_done returned */
};

double llm_now(void);
void llm_req_free(llm_req *r);
/* Take the head of the queue (NULL when empty). */
llm_req *llm_queue_pop(fg_llm *llm);
/* Render req at the client's current level into body; writes the level. */
int llm_render_buf(const fg_llm *llm, const fg_llm_request *req, int level, fg_buf *body,
                   fg_error *err);
/* Hand an answer or a failure to done(); frees req. Returns done()'s code. */
int llm_deliver(fg_llm *llm, llm_req *req, llm_answer *a, int status, long http_status,
                int attempts, int from_cache, const fg_error *e, fg_llm_done_fn done, void *ctx);
/* The pool's `done` of a slot's transfer (llm_http.c): judge the answer,
 * deliver it through the run's callback or schedule a retry. */
void llm_xfer_done(fg_http_xfer *x, int curlcode);
/* Replace the API key in text with [redacted]. */
void llm_redact(const fg_llm *llm, char *text, size_t size);

#endif
