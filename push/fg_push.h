/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_push.h: load transaction Bundles into a FHIR server, a sink of the
 * pipeline.
 *
 * The fhir/http pool carries all network I/O: first GET [base]/metadata
 * (the server must speak R4 and accept transactions), then the bundles, at
 * most `concurrency` in flight, over kept-alive connections (HTTP/2 where
 * the server offers it). Inputs are read one bundle at a time as slots free
 * up, so memory stays flat. A bundle answered 408, 429, 5xx or a transport
 * error is retried with backoff (honouring Retry-After); another status is a
 * permanent failure of that bundle and the run goes on. Each bundle the
 * server acknowledged is recorded in the journal before it counts as landed.
 *
 * The library never prints: per-bundle results and progress reach the caller
 * through callbacks.
 */
#ifndef FG_PUSH_H
#define FG_PUSH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "fhir/base/fg_error.h"
#include "fhir/rest/fg_rest.h"
#include "push/fg_journal.h"

/* Limits of fhirgen push. A value that would cross one is refused with FG_ELIMIT. */
#define FG_MAX_PUSH_BUNDLE_BYTES (256u << 20) /* one bundle fhirgen push sends */
#define FG_MAX_PUSH_CONCURRENCY 256           /* bundles in flight (--concurrency) */
#define FG_MAX_PUSH_ATTEMPTS 8                /* tries of one bundle, the first included */
#define FG_MAX_JOURNAL_LINES 100000000        /* bundles one push journal holds */

typedef struct fg_push_stats {
    uint64_t bundles_seen;    /* inputs read so far */
    uint64_t bundles_landed;  /* acknowledged by the server (and journalled) */
    uint64_t bundles_skipped; /* already in the journal (--resume) */
    uint64_t bundles_failed;  /* permanent failures */
    uint64_t resources;       /* entries of the landed bundles */
    uint64_t retries;         /* attempts beyond the first */
    unsigned in_flight;       /* requests on the wire now */
    double elapsed;           /* seconds since the push began */
    uint64_t verify_queries;     /* searches run by --verify */
    uint64_t verify_differences; /* counts that differ from the bundles (or searches that failed) */
} fg_push_stats;

/* The outcome of one bundle, handed to on_result once it is final. */
typedef struct fg_push_result {
    const char *path;    /* the file, or "<stdin>:LINE" */
    const char *sha256;  /* of the bundle's bytes */
    int landed;          /* 1 acknowledged and journalled, 0 failed */
    long http_status;    /* the last answer's status, 0 for a transport failure */
    int attempts;
    const char *message; /* why it failed, secrets redacted; NULL when landed */
    const fg_rest_tx_response *response; /* per-entry outcome, or NULL */
} fg_push_result;

typedef struct fg_push_options {
    const char *server;      /* FHIR base URL (https://host/fhir) */
    const char *cacert;      /* CA bundle file, or NULL for the system store */
    const char *cert, *key;  /* client certificate and key (PEM) for mutual TLS, or NULL */
    int insecure;            /* skip TLS verification (the CLI warns loudly) */
    int concurrency;         /* bundles in flight, 1..FG_MAX_PUSH_CONCURRENCY */
    long connect_timeout_ms; /* 0: 10 s */
    long timeout_ms;         /* per request; 0: 300 s */
    int max_attempts;        /* 0: FG_MAX_PUSH_ATTEMPTS */
    fg_token_provider *auth; /* borrowed; NULL for no Authorization header */
    fg_journal *journal;     /* borrowed; NULL for no journal */
    uint64_t seed;           /* of the backoff jitter */
    volatile sig_atomic_t *cancel; /* stop starting bundles when it becomes non-zero */
    void (*on_result)(void *ctx, const fg_push_result *r);
    void (*on_progress)(void *ctx, const fg_push_stats *s); /* at most 5 times a second */
    void *ctx;
    /* After the push, read back through the server's search what each
     * pushed (or journalled) bundle defines: per patient, the count of each
     * resource type (the Patient's server id taken from the
     * transaction-response location), and each conditional create once.
     * Each difference reaches on_difference (path = the bundle, message
     * says what differs); stats->verify_differences counts them. */
    int verify;
    void (*on_difference)(void *ctx, const char *path, const char *message);
    /* When not NULL, the inputs come from this callback instead of the
     * inputs array (streaming: files handed over as they are written). It
     * writes a file path to path[size] and returns 1, returns 0 when none
     * is ready yet (asked again shortly), or -1 at the end. */
    int (*next_input)(void *ctx, char *path, size_t size);
} fg_push_options;

/* Push the bundles found in inputs: files, folders (recursively, *.json,
 * in name order) and "-" (standard input, one Bundle per line). Fills
 * *stats (when not NULL) even on failure. Returns FG_OK when the run went
 * through (individual bundles may still have failed: see stats), or a
 * negative code when it could not run at all (bad options, server refused
 * in its CapabilityStatement, journal not writable, canceled), with err
 * filled and secrets redacted. */
int fg_push_run(const fg_push_options *opts, const char *const *inputs, size_t n_inputs,
                fg_push_stats *stats, fg_error *err);

#endif
