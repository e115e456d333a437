/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_llm.h: a client for language-model chat APIs, built for many requests
 * in flight.
 *
 * Two protocols: OpenAI-compatible chat completions (OpenAI, Azure OpenAI,
 * Ollama, vLLM, llama.cpp server, LM Studio) and Anthropic Messages. A
 * request carries a system prompt, a conversation and, optionally, the JSON
 * schema the answer must follow: OpenAI gets it as `response_format`
 * json_schema (strict), falling back to JSON-object mode and then to plain
 * text when a server refuses it; Anthropic gets it as the input schema of a
 * tool the model is forced to call. Either way the response's `text` is the
 * JSON document the model wrote (untrusted: the caller validates it).
 *
 * The fhir/http pool drives up to `jobs` requests at once; the client honours
 * Retry-After, retry-after-ms and x-ratelimit-* headers and `max_rpm`,
 * retries 408/409/429/5xx and transport errors with backoff and jitter, and
 * reads streamed (SSE) answers when `stream` is set. Answers can be cached
 * on disk, keyed by the SHA-256 of the request body, as plain JSON files.
 *
 * The library never prints and never logs a key. Not thread-safe: one
 * thread drives a fg_llm.
 *
 * Details the declarations below leave open (comments only were added to
 * this contract after it was agreed; no declaration changed):
 *   - The answer budget is sent as `max_tokens` to both protocols: every
 *     OpenAI-compatible server takes it, while `max_completion_tokens` is
 *     OpenAI's alone.
 *   - The library reads no environment: base_url and api_key come in the
 *     config (the CLI fills them from $OPENAI_BASE_URL, $ANTHROPIC_BASE_URL,
 *     $OPENAI_API_KEY, $ANTHROPIC_API_KEY, $AZURE_OPENAI_API_KEY). Without
 *     base_url: https://api.openai.com/v1 or https://api.anthropic.com. The
 *     Anthropic endpoint is {base_url}/v1/messages ({base_url}/messages when
 *     base_url already ends in /v1).
 *   - Errors name settings in fg_error.where ("llm model", "llm base url",
 *     "llm jobs", "llm api key"), never a command-line flag.
 *   - The response_format level a server accepted (json_schema, json_object,
 *     none) is kept for the client's later requests; below json_schema the
 *     schema is written into the system prompt instead.
 *   - With a schema and a complete (STOP) answer, `text` is the JSON object
 *     itself: prose around it and a ```json fence are removed. `text` is
 *     always NUL-terminated.
 *   - The cache key is the SHA-256 of the endpoint URL, "\n" and the body;
 *     only complete answers without a refusal are stored.
 *   - `more` is asked whenever a slot is free and the queue is empty; it may
 *     return 0 without submitting anything (it is asked again within 50 ms
 *     or when a transfer ends). After it says 1 it is asked once more when
 *     nothing is left in flight, so a follow-up that became ready late is
 *     not lost.
 *   - On cancel, answers already finished are delivered; requests still in
 *     flight are dropped without a `done` call, queued ones stay queued.
 *   - response.status: FG_EUSAGE for 401/403/404 (key, permission, model),
 *     FG_ELIMIT for an answer over FG_MAX_LLM_RESPONSE_BYTES, FG_ENETWORK for
 *     transport failures, timeouts and retryable statuses after the last
 *     try, FG_EINVALID for other answers that cannot be read.
 */
#ifndef FG_LLM_H
#define FG_LLM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fhir/base/fg_error.h"

/* Limits of the LLM client. A value that would cross one is refused with FG_ELIMIT. */
#define FG_MAX_LLM_RESPONSE_BYTES (2u << 20)    /* one answer: a body, or the text of a stream */
#define FG_MAX_LLM_STREAM_BYTES (32u << 20)     /* raw bytes of one streamed (SSE) answer */
#define FG_MAX_LLM_JOBS 256                     /* requests in flight (--llm-jobs) */
#define FG_MAX_LLM_ATTEMPTS 20                  /* tries of one request, the first included */
#define FG_MAX_LLM_CACHE_FILE_BYTES (16u << 20) /* one cache entry read back */

typedef enum fg_llm_provider {
    FG_LLM_OPENAI = 0,
    FG_LLM_ANTHROPIC,
} fg_llm_provider;

typedef struct fg_llm_config {
    fg_llm_provider provider;
    const char *model;          /* required */
    const char *base_url;       /* NULL: https://api.openai.com/v1,
                                   https://api.anthropic.com for Anthropic */
    const char *api_key;        /* NULL for none (local servers) */
    const char *azure_api_version; /* set for Azure OpenAI: `api-key` header and
                                      ?api-version=; base_url is the deployment URL */
    const char *ca_file;        /* extra CA bundle (PEM), or NULL */
    int stream;                 /* read answers as server-sent events */
    int jobs;                   /* requests in flight; default 4 */
    double max_rpm;             /* requests started per minute; 0 = no limit */
    long timeout_ms;            /* whole request; default 300000 */
    long connect_timeout_ms;    /* default 10000 */
    int max_attempts;           /* tries per request, first included; default 5 */
    long max_tokens;            /* answer budget; default 8192 */
    double temperature;         /* default 0.7; < 0 leaves it to the server */
    const char *cache_dir;      /* NULL: no cache */
    uint64_t seed;              /* for jitter */
} fg_llm_config;

/* Fill c with the defaults above. */
void fg_llm_config_default(fg_llm_config *c);

typedef struct fg_llm_message {
    const char *role;    /* "user" or "assistant" */
    const char *content;
} fg_llm_message;

typedef struct fg_llm_request {
    uint64_t tag;                 /* the caller's (e.g. patient index); echoed back */
    const char *system;           /* system prompt, or NULL */
    const fg_llm_message *messages;
    size_t n_messages;
    const json_t *schema;         /* the answer's JSON schema (borrowed), or NULL */
    const char *schema_name;      /* e.g. "patient_history" */
    long max_tokens;              /* 0: the config's */
} fg_llm_request;

typedef enum fg_llm_finish {
    FG_LLM_FINISH_STOP = 0,   /* a complete answer */
    FG_LLM_FINISH_LENGTH,     /* cut at the token budget (length / max_tokens) */
    FG_LLM_FINISH_REFUSAL,    /* the model declined (refusal field, stop_reason refusal) */
    FG_LLM_FINISH_FILTERED,   /* content_filter */
    FG_LLM_FINISH_FAILED,     /* no answer: see status and err */
} fg_llm_finish;

typedef struct fg_llm_response {
    uint64_t tag;
    int status;            /* FG_OK, or why there is no answer (FG_ENETWORK, FG_EINVALID, ...) */
    fg_llm_finish finish;
    const char *text;      /* the answer (JSON text when a schema was given); borrowed,
                              valid during the callback */
    size_t text_len;
    const char *refusal;   /* the refusal message, or NULL */
    long http_status;      /* last HTTP status, 0 if none */
    long tokens_in, tokens_out;
    int attempts;          /* HTTP tries this answer took (0 from cache) */
    int from_cache;
    fg_error err;          /* when status != FG_OK: what and where, key-free */
} fg_llm_response;

typedef struct fg_llm_stats {
    size_t requests;       /* answers delivered (cache included) */
    size_t http_requests;  /* tries sent */
    size_t cache_hits;
    size_t retries;
    size_t rate_limited;   /* 429 answers */
    size_t failures;
    long tokens_in, tokens_out;
} fg_llm_stats;

typedef struct fg_llm fg_llm;

/* A client for `cfg` (copied). FG_EUSAGE names a missing model, a bad
 * URL or a cache folder that cannot be created. *out is new. */
int fg_llm_new(const fg_llm_config *cfg, fg_llm **out, fg_error *err);

/* Accepts NULL; aborts transfers still in flight. */
void fg_llm_free(fg_llm *llm);

/* The exact HTTP body fg_llm would send for `req`, as a new string (free()),
 * for --dry-run and for the cache key. */
int fg_llm_render(const fg_llm *llm, const fg_llm_request *req, char **body, fg_error *err);

/* Queue a request (copied, except its schema: the client takes a reference
 * to it, so the caller must not modify a schema it has submitted). It
 * starts when a slot is free. */
int fg_llm_submit(fg_llm *llm, const fg_llm_request *req, fg_error *err);

/* Called by fg_llm_run when a slot is free and nothing is queued: submit
 * more with fg_llm_submit and return 0, or return 1 when there is no more
 * work; a negative FG_* code stops the run. */
typedef int (*fg_llm_more_fn)(void *ctx);

/* Called for every finished request, answer or failure. It may submit
 * follow-ups (a repair round). A negative FG_* code stops the run. */
typedef int (*fg_llm_done_fn)(void *ctx, const fg_llm_request *req,
                              const fg_llm_response *resp);

/* Drive the loop until `more` says there is no more work and nothing is
 * in flight, or *cancel becomes non-zero (FG_ECANCELED, after delivering
 * what already finished). */
int fg_llm_run(fg_llm *llm, fg_llm_more_fn more, fg_llm_done_fn done, void *ctx,
               volatile sig_atomic_t *cancel, fg_error *err);

/* Totals so far. */
void fg_llm_get_stats(const fg_llm *llm, fg_llm_stats *out);

#endif
