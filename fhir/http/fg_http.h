/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_http.h: the one libcurl multi pool every network client of fhirgen
 * runs on (FHIR servers, token endpoints, language-model APIs), and the
 * HTTP knowledge they share.
 *
 * A client keeps its own schedule (which request goes next, when a retry
 * is due, how many may be in flight) and hands each attempt to the pool as
 * an fg_http_xfer: the pool sets the request up (TLS, timeouts, HTTP/2,
 * keep-alive), reads the answer's headers (Content-Type, Location,
 * Retry-After, retry-after-ms, x-ratelimit-*), drives every transfer in one
 * multi handle and calls the transfer's `done` when it ends. Between
 * attempts the client asks fg_http_status_retryable(),
 * fg_http_curl_retryable() and fg_http_retry_wait() what the answer
 * deserves, and fg_http_auth_retry() whether a 401 is worth one more try
 * with a fresh token.
 *
 * Nothing here knows FHIR, prints, or reads the environment.
 */
#ifndef FG_HTTP_H
#define FG_HTTP_H

#include <stddef.h>
#include <time.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"

/* Limits of waiting between tries. A server cannot park a run: its wait is
 * capped. */
#define FG_HTTP_BACKOFF_BASE_MS 500  /* wait before the first retry (before jitter) */
#define FG_HTTP_BACKOFF_CAP_MS 30000 /* longest backoff between two tries */
#define FG_MAX_RETRY_AFTER_S 300     /* longest Retry-After honoured */

/* ---- transport ---------------------------------------------------------- */

/* The connection settings every HTTP client of fhirgen shares. */
typedef struct fg_http_transport {
    const char *cacert; /* extra CA bundle (PEM), or NULL for the system's */
    const char *cert;   /* client certificate (PEM) for mutual TLS, or NULL */
    const char *key;    /* its private key, or NULL */
    int insecure;       /* skip certificate verification (tests only) */
    long connect_timeout_ms; /* <= 0: 10 s */
    long timeout_ms;         /* the whole transfer; <= 0: 300 s */
} fg_http_transport;

/* Apply t to `curl` (a CURL * easy handle): http and https only, no
 * redirects followed, no signals, certificate and host verification unless
 * t->insecure, and the CA, client certificate and key when given. */
void fg_http_apply_transport(void *curl, const fg_http_transport *t);

/* ---- retries ------------------------------------------------------------ */

/* Parse a Retry-After header value: delta-seconds ("120") or an HTTP date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"), relative to `now`. Writes the wait in
 * seconds (0 for a date in the past, at most FG_MAX_RETRY_AFTER_S) to
 * *seconds. Returns FG_OK, or FG_EINVALID for an empty or garbage value
 * (*seconds untouched). */
int fg_http_parse_retry_after(const char *value, time_t now, double *seconds);

/* A duration as the x-ratelimit-reset-* headers write it: "1s", "6m0s",
 * "20ms", "1h2m", "0.5" (seconds), capped at FG_MAX_RETRY_AFTER_S.
 * FG_OK or FG_EINVALID. */
int fg_http_parse_duration(const char *s, double *seconds);

/* The wait before attempt `attempt` (1 = the first retry): exponential from
 * FG_HTTP_BACKOFF_BASE_MS, capped at FG_HTTP_BACKOFF_CAP_MS, with jitter
 * drawn from `rand01` in [0, 1): the result lies in
 * [base*2^(attempt-1)/2, base*2^(attempt-1)] (before the cap). In seconds. */
double fg_http_backoff(int attempt, double rand01);

/* Whether an HTTP status is worth retrying: 408, 429 and 5xx. 0 (a transport
 * failure with no status) is retryable too. */
int fg_http_status_retryable(long status);

/* Whether a transfer that ended with this CURLcode is worth another try:
 * 0 for the failures in the table of permanent errors in http.c
 * (certificates, URLs, names that do not resolve), 1 otherwise. */
int fg_http_curl_retryable(int curlcode);

/* What an answer's headers said about waiting (seconds; -1 when not given). */
typedef struct fg_http_limits {
    double retry_after;       /* Retry-After, or retry-after-ms (the finer) */
    double reset_requests;    /* x-ratelimit-reset-requests */
    double reset_tokens;      /* x-ratelimit-reset-tokens */
    long remaining_requests;  /* x-ratelimit-remaining-requests */
} fg_http_limits;

/* Forget every header read (all fields -1). */
void fg_http_limits_reset(fg_http_limits *l);

/* Read one header line ("Name: value\r\n", len bytes); other headers are
 * ignored. */
void fg_http_limits_header(fg_http_limits *l, const char *line, size_t len, time_t now);

/* The wait a 429/503 asks for in seconds, or -1 when the headers named none:
 * Retry-After first, else the later of the request budget's reset (when
 * spent) and the token budget's reset. */
double fg_http_limits_wait(const fg_http_limits *l);

/* The wait before retry `attempt`: what the headers asked, else
 * fg_http_backoff(attempt, *draw()) (draw is only called then). */
double fg_http_retry_wait(const fg_http_limits *l, int attempt, double (*draw)(void *ctx),
                          void *ctx);

/* ---- secrets ------------------------------------------------------------ */

/* Replace, in place, every occurrence of `secret` in text (a NUL-terminated
 * string) with "[redacted]" when it fits, or with '*' otherwise; a NULL or
 * empty secret does nothing. Also hides the token of any "Bearer <token>"
 * and the password of any "scheme://user:password@host" URL. */
void fg_http_redact(char *text, size_t size, const char *secret);

/* ---- credentials ---------------------------------------------------------- */

/*
 * The hook by which a client's credentials reach the pool: `header` writes
 * the Authorization line of the next request (FG_OK; an empty line for
 * none) and may block to fetch a token; `refresh` drops the current token
 * after a server answered 401, so the next `header` gets a new one.
 */
typedef struct fg_http_auth {
    int (*header)(void *ctx, fg_buf *line, fg_error *err);
    void (*refresh)(void *ctx); /* may be NULL: nothing to refresh */
    void *ctx;
} fg_http_auth;

/* After an answer with `status`: 1 when it is a 401 that a fresh token may
 * cure and this request has not had its one refresh yet (*refreshed is
 * then set and a->refresh called), else 0. a may be NULL. */
int fg_http_auth_retry(const fg_http_auth *a, long status, int *refreshed);

/* ---- the pool -------------------------------------------------------------- */

typedef struct fg_http_xfer fg_http_xfer;

/* One attempt of a request, owned by the client (usually inside its slot).
 * Zero it before first use; release it with fg_http_xfer_cleanup. */
struct fg_http_xfer {
    void *easy;              /* CURL *, made on first setup and reused */
    void *headers;           /* struct curl_slist * of the request */
    /* Called by fg_http_pool_perform when the transfer ended (already out
     * of the pool): curlcode is its CURLcode. */
    void (*done)(fg_http_xfer *x, int curlcode);
    void *ctx;               /* the client's, for done */
    int running;             /* in the pool now */
    unsigned responses;      /* status lines read (1xx answers count too) */
    fg_http_limits lim;      /* of the last response */
    char content_type[128];  /* of the last response, "" when none */
    char location[512];      /* of the last response, "" when none */
    char errbuf[256];        /* curl's words for a transport failure */
};

/* A request, as fg_http_xfer_setup takes it. */
typedef struct fg_http_request {
    const char *url;
    const char *const *headers; /* header lines, NULL-terminated; copied */
    const char *auth_header;    /* one more line, wiped after copying; or NULL */
    const char *body;           /* POSTed when not NULL (borrowed until done) */
    size_t len;
    const fg_http_transport *transport;
    const char *user_agent;     /* or NULL for none */
    /* the response body, as a CURLOPT_WRITEFUNCTION */
    size_t (*write)(char *p, size_t size, size_t n, void *ctx);
    void *write_ctx;
} fg_http_request;

/* Set x up for one attempt of r: the easy handle reset and configured
 * (transport, HTTP/2 where TLS offers it, keep-alive, compressed answers),
 * the header state cleared. FG_OK or FG_ENOMEM. */
int fg_http_xfer_setup(fg_http_xfer *x, const fg_http_request *r, fg_error *err);

/* The HTTP status of the last answer, 0 when none. */
long fg_http_xfer_status(const fg_http_xfer *x);

/* Free what x holds (the handle must not be running); accepts NULL. */
void fg_http_xfer_cleanup(fg_http_xfer *x);

typedef struct fg_http_pool fg_http_pool;

/* A pool of at most max_per_host connections to one host (multiplexed over
 * HTTP/2 where the server offers it). *out is new (fg_http_pool_free).
 * FG_ENOMEM. */
int fg_http_pool_new(long max_per_host, fg_http_pool **out, fg_error *err);

/* Free the pool; transfers still in it are removed. Accepts NULL. */
void fg_http_pool_free(fg_http_pool *p);

/* Start x (set up) in the pool. FG_OK or FG_EINTERNAL. */
int fg_http_pool_add(fg_http_pool *p, fg_http_xfer *x, fg_error *err);

/* Take x out of the pool without calling done (cancel); no-op when it is
 * not running. */
void fg_http_pool_remove(fg_http_pool *p, fg_http_xfer *x);

/* Move every transfer on, then call `done` of each that ended. Writes the
 * number still running to *running. Returns the number of transfers that
 * ended, or FG_EINTERNAL when curl's loop failed. */
int fg_http_pool_perform(fg_http_pool *p, int *running, fg_error *err);

/* Wait at most ms for a running transfer to have something to do; with
 * none running, sleep ms. */
void fg_http_pool_wait(fg_http_pool *p, int ms, int running);

/* ---- one-off requests ------------------------------------------------------ */

/* A blocking request on a handle of its own (token endpoints, discovery):
 * a GET of url, or a POST of form (application/x-www-form-urlencoded)
 * when form is not NULL. The body (at most max bytes) goes into *body and
 * the status into *status. Returns the CURLcode (0 when an answer came);
 * errbuf[256] gets curl's words. */
int fg_http_fetch(const fg_http_transport *t, const char *url, const char *form, size_t max,
                  fg_buf *body, long *status, char errbuf[256]);

#endif
