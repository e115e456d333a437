/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_refcheck.h: referential integrity of a cohort.
 *
 * A checker is fed a cohort one piece at a time: a transaction Bundle, or
 * one NDJSON line (a resource whose references are written `Type/id`). It
 * checks, and reports through a callback and a bounded list:
 *
 *   inside a Bundle   every entry has a fullUrl and no two are equal; every
 *                     `reference` (at any depth of any resource) resolves to
 *                     an entry's fullUrl or to `Type/id` of an entry; in a
 *                     transaction or batch every entry has request.method and
 *                     request.url, a PUT url is `Type/id` of its resource, a
 *                     POST url its type, and an ifNoneExist of the form
 *                     `identifier=system|value` names one of its identifiers;
 *   every resource    carries meta.security HTEST (v3-ActReason) and at least
 *                     one meta.profile;
 *   across the cohort resource ids are unique per type, except the shared
 *                     resources (Organization, Practitioner, Location) which
 *                     must be byte-identical (compact JSON) wherever the same
 *                     id appears; an identifier (system|value) belongs to one
 *                     resource only;
 *   NDJSON            references must be `Type/id` (or `#id` into contained)
 *                     and are resolved by fg_refcheck_finish() across every
 *                     line fed.
 *
 * The cohort-wide sets keep 64-bit hashes, not the strings, so memory stays
 * near 16 bytes per resource; a false duplicate is possible in principle
 * (about one chance in 10^6 for ten million resources) and every duplicate
 * names both places, so a person can confirm it.
 */
#ifndef FG_REFCHECK_H
#define FG_REFCHECK_H

#include <jansson.h>
#include <stddef.h>

#include "fhir/base/fg_error.h"

/* Limits of a referential check. A value that would cross one is refused with FG_ELIMIT. */
#define FG_MAX_REFCHECK_ISSUES_KEPT 10000 /* issues a referential check keeps in memory */

typedef enum fg_refcheck_severity {
    FG_REFCHECK_ERROR = 0,
    FG_REFCHECK_WARNING = 1,
} fg_refcheck_severity;

/* One finding. Every string is borrowed: it lives as long as the checker
 * (when taken from fg_refcheck_issues) or for the callback only. */
typedef struct fg_refcheck_issue {
    fg_refcheck_severity severity;
    const char *file;    /* the name the caller gave, "" when none */
    long line;           /* NDJSON line (1-based), 0 for a Bundle file */
    const char *path;    /* e.g. Bundle.entry[3].resource.subject.reference */
    const char *message; /* what is wrong, and where its twin is for duplicates */
} fg_refcheck_issue;

typedef void (*fg_refcheck_issue_fn)(void *ud, const fg_refcheck_issue *issue);

typedef struct fg_refcheck_summary {
    size_t files;
    size_t bundles;
    size_t resources;
    size_t references; /* references checked (resolved or not) */
    size_t identifiers;
    size_t errors;
    size_t warnings;
} fg_refcheck_summary;

typedef struct fg_refcheck fg_refcheck;

/* A new, empty checker. fn (may be NULL) is called for every issue as it is
 * found; the first FG_MAX_REFCHECK_ISSUES_KEPT issues are also kept for
 * fg_refcheck_issues. *out is new; free with fg_refcheck_free. Returns FG_OK
 * or FG_ENOMEM. A checker is not thread-safe. */
int fg_refcheck_new(fg_refcheck_issue_fn fn, void *ud, fg_refcheck **out, fg_error *err);

/* Free a checker and the issues it kept; accepts NULL. */
void fg_refcheck_free(fg_refcheck *rc);

/* Check one Bundle (borrowed). file names it in issues (may be NULL).
 * Findings are issues, not failures: returns FG_OK once checked, FG_ENOMEM,
 * or FG_EINVALID when bundle is not a Bundle at all (also an issue). */
int fg_refcheck_bundle(fg_refcheck *rc, const json_t *bundle, const char *file, fg_error *err);

/* Check one resource as an NDJSON line (borrowed): its references are
 * resolved by fg_refcheck_finish. A Bundle given here is checked as a
 * Bundle. line is 1-based (0 when unknown). Returns as fg_refcheck_bundle. */
int fg_refcheck_resource(fg_refcheck *rc, const json_t *resource, const char *file, long line,
                         fg_error *err);

/* Parse and check text: a Bundle or resource (JSON), or, when ndjson is
 * non-zero, NDJSON lines. Text that is not JSON is an issue and returns
 * FG_EINVALID after checking the rest. */
int fg_refcheck_text(fg_refcheck *rc, const char *text, size_t len, int ndjson, const char *file,
                     fg_error *err);

/* Read and check one file: `*.ndjson` line by line, anything else as one
 * JSON document. Returns FG_OK, FG_EINVALID (unparseable input, reported),
 * FG_ENOTFOUND/FG_EIO (err says why) or FG_ELIMIT. */
int fg_refcheck_file(fg_refcheck *rc, const char *path, fg_error *err);

/* Resolve the NDJSON references held so far, reporting those that name no
 * resource fed, and fill *summary (may be NULL). Can be called again after
 * more input; each unresolved target is reported once. Returns FG_OK or
 * FG_ENOMEM. */
int fg_refcheck_finish(fg_refcheck *rc, fg_refcheck_summary *summary, fg_error *err);

/* The issues kept so far (borrowed; valid until the next call that feeds
 * the checker) and their number in *n. */
const fg_refcheck_issue *fg_refcheck_issues(const fg_refcheck *rc, size_t *n);

#endif
