/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push.c: the push's schedule on the fhir/http pool. A fixed array of
 * slots, each holding one bundle from the moment it is read until it lands
 * or fails for good. A slot is idle, running (its transfer is in the pool),
 * or waiting for its next attempt (backoff or Retry-After). The inputs are
 * read lazily (push_source.c), one bundle per idle slot.
 */
#include "push/fg_push.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_rng.h"
#include "fhir/base/fg_sha256.h"
#include "push/push_private.h"


#define FEED_POLL 0.05 /* seconds between two asks of a streaming source with nothing ready */

/* ---- requests ------------------------------------------------------------ */

static const char *const mode_names[] = {"auto", "transaction", "split", "batch"};

const char *fg_push_mode_name(fg_push_mode m)
{
    return m >= FG_PUSH_AUTO && m <= FG_PUSH_BATCH ? mode_names[m] : "?";
}

int fg_push_mode_parse(const char *name, fg_push_mode *out)
{
    for (int m = FG_PUSH_AUTO; m <= FG_PUSH_BATCH; m++)
        if (name && strcmp(name, mode_names[m]) == 0) {
            *out = (fg_push_mode)m;
            return FG_OK;
        }
    return FG_EUSAGE;
}

const char PUSH_PENDING[] = "(pending)";

double push_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double draw(void *rng)
{
    return fg_rng_uniform(rng);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    slot *s = ud;
    size_t bytes = size * n;
    if (s->resp.len + bytes > FG_MAX_PUSH_RESPONSE_BYTES) {
        s->too_large = 1;
        return 0; /* abort the transfer: CURLE_WRITE_ERROR */
    }
    fg_buf_append(&s->resp, p, bytes);
    return s->resp.failed ? 0 : bytes;
}

/* The Content-Type of the answer, or NULL when it named none. */
static const char *content_type(const slot *s)
{
    return s->x.content_type[0] ? s->x.content_type : NULL;
}

/* Set the transfer of s up for one request to url: a POST of body when
 * body is not NULL, else a GET. */
int push_setup_request(push *P, slot *s, const char *url, const char *body, size_t len,
                         fg_error *err)
{
    /* A read-back must see the server's data, not a search cached before
     * the push (HAPI FHIR reuses search results for a minute unless asked). */
    static const char *const get_headers[] = {"Accept: application/fhir+json",
                                              "Cache-Control: no-cache", NULL};
    /* Only each entry's status and location are read back: ask the server
     * not to echo every resource (FHIR http.html#ops). */
    static const char *const post_headers[] = {"Accept: application/fhir+json",
                                               "Content-Type: application/fhir+json",
                                               "Prefer: return=minimal", NULL};
    fg_buf_clear(&s->resp);
    s->resp.failed = 0;
    s->too_large = 0;
    fg_buf auth;
    fg_buf_init(&auth);
    int rc = FG_OK;
    if (P->auth.header)
        rc = P->auth.header(P->auth.ctx, &auth, err);
    if (rc == FG_OK) {
        fg_http_request r = {.url = url, .headers = body ? post_headers : get_headers,
                             .auth_header = auth.data, .body = body, .len = len,
                             .transport = &P->transport, .write = on_body, .write_ctx = s};
        rc = fg_http_xfer_setup(&s->x, &r, err);
    }
    if (auth.data)
        memset(auth.data, 0, auth.cap);
    fg_buf_free(&auth);
    return rc;
}

/* The failure of a finished request as text: transport, size, redirect,
 * or status with the OperationOutcome. Returns 1 when it is worth a retry. */
int push_describe_failure(slot *s, int cc, long status, char *msg, size_t size)
{
    if (s->too_large) {
        snprintf(msg, size, "the answer is larger than FG_MAX_PUSH_RESPONSE_BYTES (%u bytes)",
                 FG_MAX_PUSH_RESPONSE_BYTES);
        return 0;
    }
    if (cc != CURLE_OK) {
        snprintf(msg, size, "%s%s%s", curl_easy_strerror((CURLcode)cc),
                 s->x.errbuf[0] ? ": " : "", s->x.errbuf);
        return fg_http_curl_retryable(cc);
    }
    if (status >= 300 && status < 400) {
        snprintf(msg, size,
                 "HTTP %ld: the server redirects to %.400s; fhirgen does not follow redirects "
                 "(give the final URL as the server)", status,
                 s->x.location[0] ? s->x.location : "?");
        return 0;
    }
    fg_buf oo;
    fg_buf_init(&oo);
    fg_rest_outcome_text(s->resp.data ? s->resp.data : "", s->resp.len, &oo);
    if (oo.len) {
        snprintf(msg, size, "HTTP %ld: %s", status, oo.data);
    } else {
        fg_error e;
        fg_error_clear(&e);
        if (fg_rest_check_body(content_type(s), s->resp.data ? s->resp.data : "", s->resp.len,
                               &e) != FG_OK)
            snprintf(msg, size, "HTTP %ld: %.400s", status, e.text);
        else
            snprintf(msg, size, "HTTP %ld", status);
    }
    fg_buf_free(&oo);
    if (status == 401)
        snprintf(msg + strlen(msg), size - strlen(msg), " (the server refused the credentials)");
    return push_status_retryable(status);
}

int push_status_retryable(long status)
{
    /* 409 too: HAPI FHIR answers it to the loser of two concurrent
     * conditional creates of one resource (its unique index on the search).
     * A transaction is applied all or nothing and a batch entry alone, so
     * sending it again is safe, and the second try finds what the first
     * created. */
    return fg_http_status_retryable(status) || status == 409;
}

void push_redact(push *P, char *msg, size_t size)
{
    const fg_token_provider *a = P->o->auth;
    fg_http_redact(msg, size, a && a->secret ? a->secret(a) : NULL);
}

/* The wait before the next attempt of s: what the answer asked, else backoff. */
double push_retry_wait(push *P, slot *s, int attempt)
{
    return fg_http_retry_wait(&s->x.lim, attempt, draw, &P->rng);
}

/* Drive one request (the metadata) to completion on the pool. */
static int run_one(push *P, slot *s)
{
    fg_error e;
    fg_error_clear(&e);
    s->ended = 0;
    if (fg_http_pool_add(P->pool, &s->x, &e) != FG_OK)
        return CURLE_FAILED_INIT;
    while (!s->ended) {
        int running = 0;
        if (fg_http_pool_perform(P->pool, &running, &e) < 0) {
            fg_http_pool_remove(P->pool, &s->x);
            return CURLE_FAILED_INIT;
        }
        if (s->ended)
            break;
        fg_http_pool_wait(P->pool, 200, 1);
        if (P->o->cancel && *P->o->cancel) {
            fg_http_pool_remove(P->pool, &s->x);
            return CURLE_ABORTED_BY_CALLBACK;
        }
    }
    return s->result;
}

/* The mode the push starts in, from the options and what the server's
 * CapabilityStatement declares. */
static int choose_mode(push *P, const char *body, size_t len, fg_error *err)
{
    fg_rest_capability caps;
    int rc = fg_rest_read_capability(body, len, &caps, err);
    if (rc != FG_OK)
        return rc;
    const fg_push_options *o = P->o;
    fg_push_mode m = o->mode;
    P->st.max_entries = o->max_entries ? o->max_entries : FG_PUSH_DEFAULT_MAX_ENTRIES;
    P->iso_entries = P->st.max_entries;
    if (m == FG_PUSH_AUTO) {
        P->auto_mode = 1;
        if (caps.transaction)
            m = o->max_entries ? FG_PUSH_SPLIT : FG_PUSH_TRANSACTION;
        else if (caps.batch)
            m = FG_PUSH_BATCH;
        else
            return fg_error_set(err, FG_EINVALID, "CapabilityStatement.rest.interaction",
                                "the server declares neither the 'transaction' nor the 'batch' "
                                "interaction: it does not take bundles");
        if (m == FG_PUSH_BATCH) {
            P->auto_mode = 0;
            push_notice(P, "the server declares batches but not transactions: pushing in "
                           "batch mode, %d entries per batch", P->st.max_entries);
        }
    } else if (m != FG_PUSH_BATCH && !caps.transaction) {
        return fg_error_set(err, FG_EINVALID, "CapabilityStatement.rest.interaction",
                            "the server does not declare the 'transaction' interaction%s",
                            caps.batch ? "; it declares 'batch': try the batch mode" : "");
    } else if (m == FG_PUSH_BATCH && !caps.batch) {
        return fg_error_set(err, FG_EINVALID, "CapabilityStatement.rest.interaction",
                            "the server does not declare the 'batch' interaction%s",
                            caps.transaction ? "; it declares 'transaction': try the split "
                                               "mode" : "");
    }
    P->st.mode = m;
    return FG_OK;
}

static int check_server(push *P, slot *s, fg_error *err)
{
    char url[2100];
    snprintf(url, sizeof(url), "%s/metadata", P->base);
    int max = push_max_attempts(P);
    for (int attempt = 1;; attempt++) {
        int rc = push_setup_request(P, s, url, NULL, 0, err);
        if (rc != FG_OK)
            return rc;
        int cc = run_one(P, s);
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            return fg_error_set(err, FG_ECANCELED, "metadata", "canceled");
        long status = fg_http_xfer_status(&s->x);
        if (cc == CURLE_OK && status == 200) {
            rc = fg_rest_check_body(content_type(s), s->resp.data, s->resp.len, err);
            if (rc == FG_OK)
                rc = choose_mode(P, s->resp.data, s->resp.len, err);
            if (rc != FG_OK && err)
                snprintf(err->where, sizeof(err->where), "%.250s", url);
            return rc;
        }
        char msg[FG_ERROR_TEXT_MAX];
        int again = push_describe_failure(s, cc, status, msg, sizeof(msg));
        push_redact(P, msg, sizeof(msg));
        if (!again || attempt >= max)
            return fg_error_set(err, cc != CURLE_OK ? FG_ENETWORK : FG_EINVALID, url, "%s", msg);
        double w = push_retry_wait(P, s, attempt);
        fg_http_pool_wait(P->pool, (int)(w * 1000), 0);
    }
}

/* ---- the loop ----------------------------------------------------------- */

int push_max_attempts(const push *P)
{
    return P->o->max_attempts > 0 ? P->o->max_attempts : FG_MAX_PUSH_ATTEMPTS;
}

void push_notice(push *P, const char *fmt, ...)
{
    char msg[FG_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    push_redact(P, msg, sizeof(msg));
    if (P->o->on_notice)
        P->o->on_notice(P->o->ctx, msg);
}

void push_report(push *P, slot *s, int landed, long status, const char *msg,
                 const fg_rest_tx_response *resp)
{
    if (landed)
        P->st.bundles_landed++;
    else
        P->st.bundles_failed++;
    if (P->o->on_result) {
        fg_push_result r = {s->it.path, s->sha, landed, status, s->attempts, msg, resp,
                            s->plan ? push_plan_size(s->plan) : (resp ? resp->n_entries : 0),
                            s->plan ? s->chunks : 0};
        P->o->on_result(P->o->ctx, &r);
    }
    push_chunks_release(s);
    free(s->it.data);
    s->it.data = NULL;
    s->state = SLOT_IDLE;
}

static void fail(push *P, slot *s, long status, const char *fmt, const char *text)
{
    char msg[FG_ERROR_TEXT_MAX];
    if (snprintf(msg, sizeof(msg), fmt, text) < 0)
        msg[0] = 0;
    push_redact(P, msg, sizeof(msg));
    push_report(P, s, 0, status, msg, NULL);
}

/* Send the whole bundle of s as one transaction (again, when retrying). */
static void start_whole(push *P, slot *s)
{
    char url[2100];
    fg_error e;
    fg_error_clear(&e);
    snprintf(url, sizeof(url), "%s", P->base); /* a transaction is POSTed to the base */
    s->attempts++;
    if (s->attempts > 1)
        P->st.retries++;
    if (push_setup_request(P, s, url, s->it.data, s->it.len, &e) != FG_OK) {
        fail(P, s, 0, "%s", e.text);
        return;
    }
    if (fg_http_pool_add(P->pool, &s->x, &e) != FG_OK) {
        fail(P, s, 0, "%s", e.text);
        return;
    }
    s->state = SLOT_RUNNING;
    P->st.in_flight++;
}

/* Send what s is at: its whole bundle, or its next chunk. */
static void start(push *P, slot *s)
{
    if (s->plan)
        push_chunks_send(P, s);
    else
        start_whole(P, s);
}

/* A 2xx answer: read the transaction-response and journal the bundle. */
static void landed(push *P, slot *s, long status)
{
    fg_error e;
    fg_error_clear(&e);
    fg_rest_tx_response r = {0};
    const char *ct = content_type(s);
    const char *body = s->resp.data ? s->resp.data : "";
    if (fg_rest_check_body(ct, body, s->resp.len, &e) != FG_OK ||
        fg_rest_parse_tx_response(body, s->resp.len, &r, &e) != FG_OK) {
        fail(P, s, status, "the server acknowledged the bundle but its answer is unreadable: %s",
             e.text);
        return;
    }
    if (r.n_failed) {
        char msg[FG_ERROR_TEXT_MAX];
        snprintf(msg, sizeof(msg), "%zu of %zu entries failed", r.n_failed, r.n_entries);
        push_name_failed(s->it.data, s->it.len, &r, msg, sizeof(msg));
        push_redact(P, msg, sizeof(msg));
        push_report(P, s, 0, status, msg, &r);
    } else if (P->o->journal &&
               fg_journal_append(P->o->journal, s->sha, s->it.path, &e) != FG_OK) {
        fail(P, s, status, "landed, but the journal could not record it: %s", e.text);
    } else {
        P->st.resources += r.n_entries;
        if (P->verify)
            push_verify_record(P, s, &r);
        push_report(P, s, 1, status, NULL, &r);
    }
    fg_rest_tx_response_free(&r);
}

/* The number of entries of the bundle in s (0 when it is not one): how
 * much a refused whole bundle held, for the automatic mode. */
static size_t count_entries(const slot *s)
{
    json_t *root = json_loadb(s->it.data, s->it.len, 0, NULL);
    size_t n = json_array_size(json_object_get(root, "entry"));
    json_decref(root);
    return n;
}

static void finished(push *P, slot *s, int cc)
{
    P->st.in_flight--;
    long status = fg_http_xfer_status(&s->x);
    if (cc == CURLE_OK && status >= 200 && status <= 299) {
        if (s->plan)
            push_chunks_landed(P, s, status);
        else
            landed(P, s, status);
        return;
    }
    if (cc == CURLE_OK && fg_http_auth_retry(&P->auth, status, &s->auth_retried)) {
        s->state = SLOT_WAITING; /* at once, with a fresh token */
        s->due = push_now();
        return;
    }
    char msg[FG_ERROR_TEXT_MAX];
    int again = push_describe_failure(s, cc, status, msg, sizeof(msg));
    if (!again && cc == CURLE_OK && P->auto_mode &&
        push_chunks_learn(P, status, msg, s->plan ? s->n_wire : count_entries(s))) {
        /* refused for its size, not its content: cut it (again) and go on */
        if (s->plan) {
            push_chunks_recut(P, s);
        } else {
            s->attempts = 0;
            push_chunks_begin(P, s);
        }
        return;
    }
    if (again && s->attempts < push_max_attempts(P) && !(P->o->cancel && *P->o->cancel)) {
        double w = push_retry_wait(P, s, s->attempts);
        s->state = SLOT_WAITING;
        s->due = push_now() + w;
        return;
    }
    if (again)
        snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (gave up after %d attempts)",
                 s->attempts);
    if (s->plan) {
        push_chunks_failed(P, s, status, msg);
        return;
    }
    push_redact(P, msg, sizeof(msg));
    push_report(P, s, 0, status, msg, NULL);
}

/* Read the next bundle not yet in the journal into an idle slot. 1 when the
 * slot now holds one (or reported an unreadable input), 0 at the end. */
static int fill(push *P, slot *s)
{
    int got;
    while ((got = push_source_next(P->src, &s->it)) != 0) {
        if (got == 2)
            return 2;
        P->st.bundles_seen++;
        s->attempts = 0;
        s->auth_retried = 0;
        if (s->it.message[0]) {
            fail(P, s, 0, "cannot read the bundle: %s", s->it.message);
            return 1;
        }
        fg_sha256_hex(s->it.data, s->it.len, s->sha);
        if (P->o->journal && fg_journal_contains(P->o->journal, s->sha)) {
            P->st.bundles_skipped++;
            if (P->verify)
                push_verify_record(P, s, NULL);
            free(s->it.data);
            s->it.data = NULL;
            continue;
        }
        if (P->st.mode == FG_PUSH_SPLIT || P->st.mode == FG_PUSH_BATCH)
            push_chunks_begin(P, s);
        else
            start_whole(P, s);
        return 1;
    }
    return 0;
}

static void progress(push *P, int force)
{
    double t = push_now();
    P->st.elapsed = t - P->t0;
    if (!P->o->on_progress || (!force && t - P->last_progress < PROGRESS_INTERVAL))
        return;
    P->last_progress = t;
    P->o->on_progress(P->o->ctx, &P->st);
}

static int loop(push *P, fg_error *err)
{
    int exhausted = 0;
    for (;;) {
        int canceled = P->o->cancel && *P->o->cancel, starved = 0;
        double t = push_now(), next_due = t + PROGRESS_INTERVAL;
        int busy = 0;
        for (int i = 0; i < P->n_slots; i++) {
            slot *s = &P->slots[i];
            if (s->state == SLOT_IDLE && !exhausted && !canceled && !starved) {
                int f = fill(P, s);
                exhausted = f == 0;
                starved = f == 2;
            }
            if (s->state == SLOT_WAITING) {
                if (canceled)
                    fail(P, s, 0, "%s", "canceled before it landed");
                else if (s->due <= t)
                    start(P, s);
                else if (s->due < next_due)
                    next_due = s->due;
            }
            busy |= s->state != SLOT_IDLE;
        }
        if (!busy && (exhausted || canceled))
            break;
        int running = 0;
        int freed = fg_http_pool_perform(P->pool, &running, err); /* calls finished() */
        if (freed < 0)
            return freed;
        progress(P, 0);
        /* A slot just came free: refill it (or, with nothing left, end the
         * run) now rather than after the next poll or sleep, which may wait
         * a whole progress interval while the server works on the others. */
        if (freed)
            continue;
        if (starved && next_due > t + FEED_POLL)
            next_due = t + FEED_POLL; /* ask the streaming source again soon */
        int wait_ms = (int)((next_due - push_now()) * 1000);
        if (wait_ms > 0 && running > 0) {
            fg_http_pool_wait(P->pool, wait_ms, running);
        } else if (wait_ms > 0 && running == 0) {
            int any_idle_fillable = 0;
            for (int i = 0; i < P->n_slots; i++)
                any_idle_fillable |= P->slots[i].state == SLOT_IDLE && !exhausted;
            if (!any_idle_fillable || starved)
                fg_http_pool_wait(P->pool, wait_ms, 0);
        }
    }
    progress(P, 1);
    return P->o->cancel && *P->o->cancel
               ? fg_error_set(err, FG_ECANCELED, "resume",
                                "canceled; resuming the push sends the rest")
               : FG_OK;
}

/* The pool's `done` of every transfer of the push. */
static void on_done(fg_http_xfer *x, int cc)
{
    slot *s = x->ctx;
    push *P = s->owner;
    if (P->phase == PHASE_CHECK) {
        s->ended = 1;
        s->result = cc;
    } else if (P->phase == PHASE_PUSH) {
        finished(P, s, cc);
    } else {
        push_verify_finished(P, s, cc);
    }
}

/* Check the options and set up P: slots, the pool, the credentials hook. */
static int prepare(push *P, const fg_push_options *o, fg_error *err)
{
    if (!o || !o->server || !*o->server)
        return fg_error_set(err, FG_EUSAGE, "server", "no server URL");
    if (o->concurrency < 1 || o->concurrency > FG_MAX_PUSH_CONCURRENCY)
        return fg_error_set(err, FG_EUSAGE, "concurrency",
                            "concurrency must be 1..%d (FG_MAX_PUSH_CONCURRENCY)",
                            FG_MAX_PUSH_CONCURRENCY);
    if (o->mode < FG_PUSH_AUTO || o->mode > FG_PUSH_BATCH)
        return fg_error_set(err, FG_EUSAGE, "mode", "unknown push mode %d", (int)o->mode);
    if (o->max_entries < 0 || o->max_entries > FG_MAX_PUSH_ENTRIES)
        return fg_error_set(err, FG_EUSAGE, "max-entries",
                            "entries per chunk must be 1..%d (FG_MAX_PUSH_ENTRIES)",
                            FG_MAX_PUSH_ENTRIES);
    if (strncasecmp(o->server, "https://", 8) != 0 && strncasecmp(o->server, "http://", 7) != 0)
        return fg_error_set(err, FG_EUSAGE, "server", "not an http(s) URL: %.200s", o->server);
    snprintf(P->base, sizeof(P->base), "%s", o->server);
    for (size_t n = strlen(P->base); n && P->base[n - 1] == '/'; n--)
        P->base[n - 1] = 0;
    fg_rng_seed(&P->rng, o->seed ^ 0x70757368u);
    P->transport = (fg_http_transport){.cacert = o->cacert, .cert = o->cert, .key = o->key,
                                       .insecure = o->insecure,
                                       .connect_timeout_ms = o->connect_timeout_ms,
                                       .timeout_ms = o->timeout_ms};
    P->auth_ctx = (push_auth){.provider = o->auth, .transport = &P->transport,
                              .max_attempts = o->max_attempts, .cancel = o->cancel,
                              .rng = &P->rng};
    P->auth = push_auth_hook(&P->auth_ctx);
    if (o->verify && !(P->verify = push_verify_new()))
        return fg_error_set(err, FG_ENOMEM, "push", "out of memory");
    P->n_slots = o->concurrency;
    if (!(P->slots = calloc((size_t)P->n_slots, sizeof(*P->slots))))
        return fg_error_set(err, FG_ENOMEM, "push", "out of memory");
    for (int i = 0; i < P->n_slots; i++) {
        slot *s = &P->slots[i];
        s->owner = P;
        s->x.done = on_done;
        s->x.ctx = s;
        fg_buf_init(&s->resp);
    }
    return fg_http_pool_new(P->n_slots, &P->pool, err);
}

int fg_push_run(const fg_push_options *o, const char *const *inputs, size_t n_inputs,
                fg_push_stats *stats, fg_error *err)
{
    push P;
    push_source src;
    memset(&P, 0, sizeof(P));
    memset(&src, 0, sizeof(src));
    P.o = o;
    P.src = &src;
    P.t0 = push_now();
    int rc = prepare(&P, o, err);
    if (rc == FG_OK &&
        push_source_open(&src, inputs, n_inputs, o->next_input, o->ctx) != FG_OK)
        rc = fg_error_set(err, FG_ENOMEM, "push", "out of memory");
    if (rc != FG_OK)
        goto cleanup;
    P.phase = PHASE_CHECK;
    if ((rc = check_server(&P, &P.slots[0], err)) != FG_OK)
        goto cleanup;
    P.phase = PHASE_PUSH;
    rc = loop(&P, err);
    P.phase = PHASE_VERIFY;
    if (rc == FG_OK && P.verify)
        rc = push_verify_phase(&P, err);
cleanup:
    if (rc != FG_OK && err) {
        const fg_token_provider *a = o ? o->auth : NULL;
        const char *secret = a && a->secret ? a->secret(a) : NULL;
        fg_http_redact(err->where, sizeof(err->where), secret);
        fg_http_redact(err->text, sizeof(err->text), secret);
    }
    P.st.elapsed = push_now() - P.t0;
    if (stats)
        *stats = P.st;
    for (int i = 0; P.slots && i < P.n_slots; i++) {
        slot *s = &P.slots[i];
        fg_http_pool_remove(P.pool, &s->x);
        fg_http_xfer_cleanup(&s->x);
        fg_buf_free(&s->resp);
        push_chunks_release(s);
        fg_buf_free(&s->body);
        free(s->wire);
        free(s->it.data);
    }
    free(P.slots);
    push_chunks_free(&P);
    push_verify_free(P.verify);
    fg_http_pool_free(P.pool);
    push_source_close(&src);
    return rc;
}
