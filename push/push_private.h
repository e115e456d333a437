/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push_private.h: what the files of the push share.
 *
 *   push.c         the schedule: slots, attempts, retries, the journal; every
 *                  transfer runs on the fhir/http pool
 *   push_chunks.c  split and batch mode: a slot sends its bundle chunk by
 *                  chunk; the automatic mode learns the server's limits
 *   push_plan.c    a bundle cut into chunks that stand alone
 *   push_source.c  the inputs: files, folders, standard input, a stream
 *   push_auth.c    the credentials hook: tokens from an fg_token_provider,
 *                  fetched (and refetched after a 401) when it asks
 *   push_verify.c  what to search for after the push, the judgement, and
 *                  the read-back phase
 */
#ifndef FG_PUSH_PRIVATE_H
#define FG_PUSH_PRIVATE_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"
#include "fhir/base/fg_hash.h"
#include "fhir/base/fg_rng.h"
#include "fhir/http/fg_http.h"
#include "fhir/rest/fg_rest.h"
#include "push/fg_push.h"

/* ---- the inputs (push_source.c) ------------------------------------------ */

#define PUSH_MAX_DIR_DEPTH 64
#define PUSH_PATH_MAX 4096

typedef struct push_source {
    const char *const *inputs;
    size_t n_inputs, next_input;
    fg_buf walk;    /* the folder input being read, listed (push_source.c) */
    size_t walk_at; /* the next record of walk */
    FILE *in; /* standard input while it is being read */
    long line;
    char *linebuf;
    size_t linecap;
    int (*next)(void *ctx, char *path, size_t size); /* a streaming source, or NULL */
    void *next_ctx;
} push_source;

/* One bundle read from the source; data is owned by the item. */
typedef struct push_item {
    char path[PUSH_PATH_MAX];
    char *data;
    size_t len;
    char message[FG_ERROR_TEXT_MAX]; /* set when the input could not be read */
} push_item;

/* Start reading inputs (or, with next set, the stream). FG_OK or FG_ENOMEM;
 * push_source_close releases it either way. */
int push_source_open(push_source *s, const char *const *inputs, size_t n_inputs,
                     int (*next)(void *ctx, char *path, size_t size), void *next_ctx);

/* The next bundle into *it: 1 when there is one (it->message set when it
 * could not be read), 0 at the end of the inputs, 2 when a streaming
 * source has none ready yet. */
int push_source_next(push_source *s, push_item *it);

/* Release what the source holds (not the items handed out). */
void push_source_close(push_source *s);

/* ---- credentials (push_auth.c) ---------------------------------------------- */

/* The context of the fg_http_auth hook over a token provider. */
typedef struct push_auth {
    fg_token_provider *provider;
    const fg_http_transport *transport;
    int max_attempts;
    volatile sig_atomic_t *cancel;
    fg_rng *rng; /* jitter of the token endpoint's retries */
} push_auth;

/* The hook for pa (borrowed for as long as the hook is used): `header`
 * writes "Authorization: Bearer <token>", fetching a token first when the
 * provider asks (blocking: a fetch happens once per token lifetime);
 * `refresh` makes the provider forget its token, when it can. */
fg_http_auth push_auth_hook(push_auth *pa);

/* ---- --verify (push_verify.c) ------------------------------------------------ */

typedef struct push_verify push_verify;

/* A new, empty set of checks, or NULL when out of memory. */
push_verify *push_verify_new(void);

/* Free the checks; accepts NULL. */
void push_verify_free(push_verify *v);

/* Record what the bundle data[0..len) read from path defines: for its
 * Patient, one count search per resource type it PUTs (the Patient's server
 * id taken from resp, the transaction-response, or from the bundle's own
 * PUT url when resp is NULL: a bundle skipped through the journal, or sent
 * in chunks; with split set, a Patient created from a urn:uuid has that
 * uuid as id), and one search per conditional create not seen before.
 * FG_OK, or FG_EINVALID with err saying why the bundle cannot be checked. */
int push_verify_add(push_verify *v, const char *path, const char *data, size_t len,
                    const fg_rest_tx_response *resp, int split, fg_error *err);

/* Number of searches recorded. */
size_t push_verify_count(const push_verify *v);

/* Search i as a URL relative to the server base ("Observation?patient=...
 * &_summary=count"), and the bundle it checks (*path). Borrowed. */
const char *push_verify_query(const push_verify *v, size_t i, const char **path);

/* Judge the answer to search i: 0 when the server's total is what the
 * bundle defines, else -1 with msg saying what differs. */
int push_verify_judge(const push_verify *v, size_t i, const char *body, size_t len, char *msg,
                      size_t size);

/* ---- a bundle cut into chunks (push_plan.c) ----------------------------------
 *
 * Positions (pos) index the plan's order: the entries to resolve first
 * (conditional creates and updates), [0, push_plan_n_resolve), then the
 * rest, each after what it references. */

typedef struct push_plan push_plan;

/* Read a transaction (or batch) Bundle. *out is new (push_plan_free).
 * FG_EINVALID when it is not one, or holds an entry that cannot be sent
 * apart from the others (a create with neither a urn:uuid fullUrl nor
 * ifNoneExist), with err naming the entry. */
int push_plan_new(const char *data, size_t len, push_plan **out, fg_error *err);
void push_plan_free(push_plan *p);

size_t push_plan_size(const push_plan *p);      /* entries */
size_t push_plan_n_resolve(const push_plan *p); /* entries to resolve first */

/* Entry pos: its run-wide key when it is resolved by the server
 * ("Type?search"), whether it is a conditional create (the same resource
 * for every bundle that names it), its "Type/id" once known (NULL before). */
const char *push_plan_key(const push_plan *p, size_t pos);
int push_plan_shared(const push_plan *p, size_t pos);
const char *push_plan_target(const push_plan *p, size_t pos);

/* Set the Type/id of entry pos (read from the server's answer); FG_OK or
 * FG_ENOMEM. */
int push_plan_set_target(push_plan *p, size_t pos, const char *target);

/* The end of the chunk that starts at from and holds at most max entries:
 * it never mixes the entries to resolve with the rest, and keeps entries
 * caught in a reference cycle together when max allows. */
size_t push_plan_chunk_end(const push_plan *p, size_t from, size_t max);

/* Entry pos for a message: "Type/id", the conditional search, or
 * "Type (entry N)". Returns buf. */
const char *push_plan_describe(const push_plan *p, size_t pos, char *buf, size_t size);

/* Write into out a Bundle (type batch or transaction) of the entries at
 * positions pos[0..n), references rewritten (see push_plan.c). FG_OK or
 * FG_ENOMEM. */
int push_plan_chunk(push_plan *p, const size_t *pos, size_t n, int batch, fg_buf *out,
                    fg_error *err);

/* ---- the schedule (push.c, push_chunks.c, push_verify.c) -------------------- */

#define PROGRESS_INTERVAL 0.2 /* seconds between progress reports, and the longest idle wait */

enum { SLOT_IDLE, SLOT_RUNNING, SLOT_WAITING };

/* What the transfers of the pool are for: the pool's `done` dispatches on it. */
enum { PHASE_CHECK, PHASE_PUSH, PHASE_VERIFY };

typedef struct push push;

/* One bundle from the moment it is read until it lands or fails for good. */
typedef struct slot {
    push *owner;
    int state;
    fg_http_xfer x; /* the attempt on the pool; x.ctx is this slot */
    push_item it;
    char sha[65];
    int attempts;
    int auth_retried;
    double due; /* monotonic time of the next attempt when waiting */
    fg_buf resp;
    int too_large;
    int ended, result; /* PHASE_CHECK: the transfer ended, with this CURLcode */
    size_t vq;         /* the --verify search this slot runs */
    /* split and batch mode (push_chunks.c) */
    push_plan *plan;  /* NULL: the bundle goes whole */
    size_t pos;       /* the first entry (plan position) not yet acknowledged */
    size_t chunk_end; /* the chunk on the wire covers [pos, chunk_end) */
    size_t *wire;     /* positions of the entries on the wire (a resolve chunk, or a
                       * batch's retry, holds a subset) */
    size_t n_wire, cap_wire;
    int resolving;    /* the chunk on the wire resolves conditional entries */
    size_t chunks;    /* chunks acknowledged or skipped */
    char chunk_key[65]; /* the journal key of the chunk on the wire ("" when none) */
    fg_buf body;      /* the chunk on the wire */
} slot;

struct push {
    const fg_push_options *o;
    fg_http_pool *pool;
    fg_http_transport transport;
    push_auth auth_ctx;
    fg_http_auth auth;
    int phase;
    slot *slots;
    int n_slots;
    fg_rng rng;
    fg_push_stats st;
    push_source *src;
    push_verify *verify; /* with --verify: the searches to run after the push */
    double t0, last_progress;
    char base[2048]; /* the server URL without a trailing slash */
    int auto_mode;   /* the mode may still change when the server names a limit */
    int iso_entries; /* entries per chunk that resolves conditional entries */
    fg_strmap shared;   /* conditional create search -> what the run knows (push_chunks.c) */
    void **owned;       /* memory that lives as long as the push */
    size_t n_owned, cap_owned;
};

/* The value of a shared key some slot is resolving now. */
extern const char PUSH_PENDING[];

double push_now(void);
int push_max_attempts(const push *P);
void push_redact(push *P, char *msg, size_t size);

/* Set the transfer of s up for one request to url: a POST of body (len
 * bytes) when body is not NULL, else a GET. */
int push_setup_request(push *P, slot *s, const char *url, const char *body, size_t len,
                       fg_error *err);

/* The failure of a finished request as text. 1 when it is worth a retry. */
int push_describe_failure(slot *s, int cc, long status, char *msg, size_t size);

/* Whether an answer with this status is worth sending again: what
 * fg_http_status_retryable says, and 409 (a conflict between concurrent
 * transactions). */
int push_status_retryable(long status);

/* The wait before the next attempt of s. */
double push_retry_wait(push *P, slot *s, int attempt);

/* Final outcome of the bundle in s: counted, handed to on_result, slot idle. */
void push_report(push *P, slot *s, int landed, long status, const char *msg,
                 const fg_rest_tx_response *resp);
void push_notice(push *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Split and batch (push_chunks.c). push_chunks_begin cuts the bundle of s
 * and sends its first chunk (or reports it); push_chunks_send (re)sends
 * what s is at; push_chunks_landed takes a 2xx answer to a chunk;
 * push_chunks_recut cuts the chunk on the wire again after the limits
 * changed; push_chunks_failed fails the bundle for the chunk's refusal. */
void push_chunks_begin(push *P, slot *s);
void push_chunks_send(push *P, slot *s);
void push_chunks_landed(push *P, slot *s, long status);
void push_chunks_recut(push *P, slot *s);
void push_chunks_failed(push *P, slot *s, long status, const char *msg);
void push_chunks_release(slot *s);
void push_chunks_free(push *P);

/* Whether a refusal (status, message) is about the size of the request:
 * -1 no; else the entries that fit where the message or a known server's
 * limit says (0: it does not say how many), with *isolation set when the
 * limit is on chunks with conditional entries. */
int push_limit_named(long status, const char *msg, int *isolation);

/* In auto mode, whether a refused whole bundle of n entries names a limit
 * the push can keep to: 1 with the push switched to split mode (and a
 * notice), else 0. */
int push_chunks_learn(push *P, long status, const char *msg, size_t n);

/* Append to msg the first failed entries of the answer r to the bundle
 * data[0..len): ": Type/id (entry N): HTTP 400: text; ...". */
void push_name_failed(const char *data, size_t len, const fg_rest_tx_response *r, char *msg,
                      size_t size);

/* The --verify phase (push_verify.c): run every recorded search. */
int push_verify_phase(push *P, fg_error *err);
void push_verify_finished(push *P, slot *s, int cc);
void push_verify_record(push *P, slot *s, const fg_rest_tx_response *resp);
void push_difference(push *P, const char *path, const char *msg);

#endif
