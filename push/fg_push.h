/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_push.h: load transaction Bundles into a FHIR server, a sink of the
 * pipeline.
 *
 * The fhir/http pool carries all network I/O: first GET [base]/metadata
 * (the server must speak R4 and declare transactions or batches), then the
 * bundles, at most `concurrency` in flight, over kept-alive connections
 * (HTTP/2 where the server offers it). Inputs are read one bundle at a time
 * as slots free up, so memory stays flat. A request answered 408, 409, 429, 5xx
 * or lost in transport is retried with backoff (honouring Retry-After);
 * another status is a permanent failure of that bundle and the run goes on.
 *
 * A bundle goes to the server whole (one transaction), or cut into chunks
 * (split: transactions of at most max_entries entries; batch: the same
 * chunks as batch Bundles): the conditional creates first, resolved once
 * per run, then the bundle's resources, each after what it references, with
 * references between chunks rewritten to Type/id (push_plan.c). In the
 * automatic mode the push starts whole and, when the server answers with a
 * limit on transaction size or isolation (a 413, or a message that names
 * one), goes on in split mode with chunks that fit and says so.
 *
 * Each whole bundle, and each chunk, the server acknowledged is recorded in
 * the journal before it counts as landed, so a resumed push continues in
 * the middle of a bundle.
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
#define FG_MAX_JOURNAL_LINES 100000000        /* bundles and chunks one push journal holds */
#define FG_MAX_PUSH_ENTRIES 100000            /* entries of one chunk (--max-entries) */
#define FG_PUSH_DEFAULT_MAX_ENTRIES 100       /* entries of one chunk when no limit is known */

/* How bundles go to the server. */
typedef enum fg_push_mode {
    FG_PUSH_AUTO = 0,    /* whole transactions, split when the server names a limit */
    FG_PUSH_TRANSACTION, /* each bundle one transaction, as written */
    FG_PUSH_SPLIT,       /* transactions of at most max_entries entries */
    FG_PUSH_BATCH,       /* batches of at most max_entries entries */
} fg_push_mode;

/* The option spelling of a mode ("auto", "transaction", "split", "batch"),
 * and back: FG_OK or FG_EUSAGE for a name that is none of them. */
const char *fg_push_mode_name(fg_push_mode m);
int fg_push_mode_parse(const char *name, fg_push_mode *out);

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
    uint64_t chunks_landed;  /* chunks acknowledged (split and batch) */
    uint64_t chunks_skipped; /* chunks already in the journal */
    fg_push_mode mode;       /* how bundles go now (auto resolved to transaction or split) */
    int max_entries;         /* entries per chunk in split and batch mode */
} fg_push_stats;

/* The outcome of one bundle, handed to on_result once it is final. */
typedef struct fg_push_result {
    const char *path;    /* the file, or "<stdin>:LINE" */
    const char *sha256;  /* of the bundle's bytes */
    int landed;          /* 1 acknowledged and journalled, 0 failed */
    long http_status;    /* the last answer's status, 0 for a transport failure */
    int attempts;
    const char *message; /* why it failed, secrets redacted; NULL when landed; in split
                          * and batch mode it names the entries that failed */
    const fg_rest_tx_response *response; /* per-entry outcome of a whole bundle, or NULL */
    size_t entries;      /* entries of the bundle */
    size_t chunks;       /* chunks it went in (0: whole) */
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
    fg_push_mode mode;
    int max_entries;         /* entries per chunk (split, batch; in auto a limit known in
                              * advance, which starts the push in split mode); 0: none
                              * given (FG_PUSH_DEFAULT_MAX_ENTRIES where one is needed) */
    fg_token_provider *auth; /* borrowed; NULL for no Authorization header */
    fg_journal *journal;     /* borrowed; NULL for no journal */
    uint64_t seed;           /* of the backoff jitter */
    volatile sig_atomic_t *cancel; /* stop starting bundles when it becomes non-zero */
    void (*on_result)(void *ctx, const fg_push_result *r);
    void (*on_progress)(void *ctx, const fg_push_stats *s); /* at most 5 times a second */
    void (*on_notice)(void *ctx, const char *message); /* a change of mode, and why; may be NULL */
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
