/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push_private.h: what the files of the push share.
 *
 *   push.c         the schedule: slots, attempts, retries, the journal, the
 *                  verify phase; every transfer runs on the fhir/http pool
 *   push_source.c  the inputs: files, folders, standard input, a stream
 *   push_auth.c    the credentials hook: tokens from an fg_token_provider,
 *                  fetched (and refetched after a 401) when it asks
 *   push_verify.c  what to search for after the push, and the judgement
 */
#ifndef FG_PUSH_PRIVATE_H
#define FG_PUSH_PRIVATE_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"
#include "fhir/base/fg_rng.h"
#include "fhir/http/fg_http.h"
#include "fhir/rest/fg_rest.h"

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
 * PUT url when resp is NULL: a bundle skipped through the journal), and one
 * search per conditional create not seen before. FG_OK, or FG_EINVALID with
 * err saying why the bundle cannot be checked. */
int push_verify_add(push_verify *v, const char *path, const char *data, size_t len,
                    const fg_rest_tx_response *resp, fg_error *err);

/* Number of searches recorded. */
size_t push_verify_count(const push_verify *v);

/* Search i as a URL relative to the server base ("Observation?patient=...
 * &_summary=count"), and the bundle it checks (*path). Borrowed. */
const char *push_verify_query(const push_verify *v, size_t i, const char **path);

/* Judge the answer to search i: 0 when the server's total is what the
 * bundle defines, else -1 with msg saying what differs. */
int push_verify_judge(const push_verify *v, size_t i, const char *body, size_t len, char *msg,
                      size_t size);

#endif
