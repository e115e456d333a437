/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_mapper.h: from a patient history to FHIR R4 (US Core 6.1.0).
 *
 * The mapper writes JSON straight into a buffer (fg_jw), one patient at a
 * time. Every term is grounded against the terminology table first; a term
 * that cannot be grounded fails the whole patient with a path naming it, so
 * nothing half-mapped is ever written.
 *
 * Bundle form: one transaction Bundle per patient; every entry has fullUrl
 * urn:uuid:<id> and a request; references use those fullUrls; Organization,
 * Practitioner and Location travel in every bundle as conditional creates
 * (request.ifNoneExist on their identifier).
 * NDJSON form: one line per resource, appended to the buffer of its type,
 * references written as Type/id.
 */
#ifndef FG_MAPPER_H
#define FG_MAPPER_H

#include <stddef.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"
#include "fhir/term/fg_term.h"
#include "generators/history/fg_history.h"

typedef enum fg_rtype {
    FG_RT_PATIENT = 0,
    FG_RT_ORGANIZATION,
    FG_RT_PRACTITIONER,
    FG_RT_LOCATION,
    FG_RT_ENCOUNTER,
    FG_RT_CONDITION,
    FG_RT_OBSERVATION,
    FG_RT_DIAGNOSTICREPORT,
    FG_RT_MEDICATIONREQUEST,
    FG_RT_IMMUNIZATION,
    FG_RT_PROCEDURE,
    FG_RT_ALLERGYINTOLERANCE,
    FG_RT_CAREPLAN,
    FG_RT_DOCUMENTREFERENCE,
    FG_RT_COUNT
} fg_rtype;

/* "Patient", "Organization", ...; borrowed, static. */
const char *fg_rtype_name(fg_rtype t);

typedef struct fg_map_options {
    const char *mrn_system; /* identifier system of Patient MRNs */
} fg_map_options;

typedef struct fg_map_stats {
    size_t resources[FG_RT_COUNT];
} fg_map_stats;

typedef struct fg_mapper fg_mapper;

/* A mapper grounding terms against `terms` (borrowed: it must outlive the
 * mapper). *out is new; free with fg_mapper_free. Read-only afterwards, so
 * one mapper serves every thread. */
int fg_mapper_new(const fg_terminology *terms, const fg_map_options *opt, fg_mapper **out,
                  fg_error *err);

void fg_mapper_free(fg_mapper *m);

/* Append h as one transaction Bundle (compact JSON, no newline) to out.
 * stats (optional) has the resources written added to it. On failure out is
 * restored to its length at entry. */
int fg_map_bundle(const fg_mapper *m, const fg_history *h, fg_buf *out, fg_map_stats *stats,
                  fg_error *err);

/* Append h's resources as NDJSON lines to out[type] (each ends with '\n').
 * On failure every buffer is restored to its length at entry. */
int fg_map_ndjson(const fg_mapper *m, const fg_history *h, fg_buf *out[FG_RT_COUNT],
                  fg_map_stats *stats, fg_error *err);

/* Bytes of a resource id as the mapper makes them: a lower-case UUID and
 * its NUL. */
#define FG_MAP_ID_SIZE 37

/* The id fg_map_bundle and fg_map_ndjson give h's i-th shared resource of
 * type t: FG_RT_ORGANIZATION (h->organizations.v[i]), FG_RT_PRACTITIONER or
 * FG_RT_LOCATION. fg_map_ndjson writes one line per shared resource, in the
 * order of h's lists, so line i of out[t] is the resource with this id.
 * FG_EUSAGE for another type or i out of range. */
int fg_map_shared_id(const fg_mapper *m, const fg_history *h, fg_rtype t, size_t i,
                     char id[FG_MAP_ID_SIZE], fg_error *err);

#endif
