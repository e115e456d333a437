/* SPDX-License-Identifier: Apache-2.0 */
/*
 * refcheck_private.h: what the two files of the reference checker share.
 * Not installed.
 *
 * Cohort-wide state is three open-addressing tables keyed by 64-bit hashes:
 * resource ids (`Type/id`), identifiers (`system|value`) and, for NDJSON,
 * the reference targets still waiting for their resource. Each slot also
 * remembers where its key was first seen (file number, entry or line), so a
 * duplicate can name both places. A Bundle gets two small tables of its own
 * (fullUrls and `Type/id`), emptied for the next Bundle.
 *
 * refcheck.c        the public API: the checker, reports, references,
 *                   resources, Bundles, NDJSON lines and files
 * refcheck_index.c  the hash tables and what the cohort remembers: ids,
 *                   identifiers, NDJSON references not yet resolved
 */
#ifndef FG_REFCHECK_PRIVATE_H
#define FG_REFCHECK_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "fhir/base/fg_buf.h"
#include "validators/fg_refcheck.h"

typedef struct rck_slot {
    uint64_t key;
    uint64_t val;  /* content hash, owner hash or pending index */
    uint32_t file; /* index into rc->files */
    uint32_t pos;  /* entry index or NDJSON line */
} rck_slot;

typedef struct rck_table {
    rck_slot *s;
    size_t cap; /* a power of two, or 0 */
    size_t n;
} rck_table;

typedef struct rck_file {
    char *name;
    int ndjson;
} rck_file;

/* An NDJSON reference target not yet known to exist: the first place that
 * named it, and how many places did. */
typedef struct rck_pending {
    char *ref;
    char *path;
    uint32_t file;
    uint32_t line;
    size_t count;
    int reported;
} rck_pending;

struct fg_refcheck {
    fg_refcheck_issue_fn fn;
    void *ud;
    fg_refcheck_issue *kept;
    size_t nkept;
    rck_file *files;
    size_t nfiles, capfiles;
    rck_pending *pend;
    size_t npend, cappend;
    rck_table ids;      /* Type/id -> content hash (shared types), first place */
    rck_table idents;   /* system|value -> owner hash, first place */
    rck_table targets;  /* NDJSON Type/id -> index into pend */
    rck_table fullurls; /* this bundle: fullUrl -> entry */
    rck_table typeids;  /* this bundle: Type/id -> entry */
    fg_refcheck_summary sum;
    int nomem;
};

/* What the walk of one resource needs to know. */
typedef struct rck_ctx {
    fg_refcheck *rc;
    uint32_t file;
    uint32_t pos;         /* entry index or line */
    long line;            /* for issues: NDJSON line or 0 */
    int in_bundle;        /* resolve against the bundle tables, else defer */
    const json_t *res;    /* the resource being walked (for #contained) */
    fg_buf path;
} rck_ctx;

/* ---- refcheck.c ---- */

/* A copy of s ("" for NULL), or NULL with rc->nomem set. */
char *rck_dup_str(fg_refcheck *rc, const char *s);

/* Report an issue at path: count it, pass it to the callback and keep it
 * while there is room. */
void rck_report(rck_ctx *c, fg_refcheck_severity sev, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- refcheck_index.c ---- */

/* Hash of a, sep, b: the key of `Type/id` or `system|value`. Never 0. */
uint64_t rck_hash_pair(const char *a, char sep, const char *b);
/* Hash of n bytes of s. Never 0. */
uint64_t rck_hash_str(const char *s, size_t n);

/* The slot of key, or NULL when absent. */
rck_slot *rck_table_find(const rck_table *t, uint64_t key);
/* The slot of key, added (zeroed but for key) when absent; *fresh says
 * which. NULL when out of memory. */
rck_slot *rck_table_put(rck_table *t, uint64_t key, int *fresh);
/* Empty the table, keeping its memory. */
void rck_table_clear(rck_table *t);
/* Free the table's memory and zero it. */
void rck_table_free(rck_table *t);

/* 1 for the shared types: Organization, Practitioner, Location. */
int rck_is_shared_type(const char *type);

/* Remember Type/id as an id of the cohort: a second use is an error,
 * unless a shared resource comes back byte for byte the same. */
void rck_check_id(rck_ctx *c, const json_t *res, const char *type, const char *id);

/* Remember each identifier of res as owned by owner (the hash of its
 * Type/id): one on another resource is an error. */
void rck_check_identifiers(rck_ctx *c, const json_t *res, uint64_t owner);

/* Hold an NDJSON reference to Type/id until fg_refcheck_finish resolves
 * it; ref and c->path are copied for its report. */
void rck_defer_reference(rck_ctx *c, const char *ref, const char *type, const char *id);

#endif
