/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_validate.h: validation of FHIR R4 JSON against base R4 and profiles.
 *
 * A validator is built once over a finished registry (fg_registry.h) and is
 * then shared read-only by any number of threads. Each call validates one
 * resource (a Bundle's entries included) and appends what it finds to a
 * caller-owned issue list; the list is per thread.
 *
 * Every issue names a FHIR path as FHIR writes them
 * (`Bundle.entry[3].resource.code.coding[0].system`), a severity, the kind
 * of check that raised it and an OperationOutcome issue type. Checks that
 * could not be made (a value set fhirgen cannot expand, an invariant it
 * cannot evaluate, a profile that is not loaded) are never silently passed:
 * the first time each is met, the validator records it once in its
 * not-checked list, which callers print in their summary.
 *
 * Conventions (what the data-driven cases can rely on):
 * - Paths use the JSON property names: a choice is `Observation.valueQuantity`,
 *   array items are indexed (`name[0].given[1]`), a `_name` companion reports
 *   at the path of its value (`Patient.birthDate`), except an orphan `_name`
 *   that must not exist (`Patient._name`). Nested resources continue the
 *   path (`Bundle.entry[2].resource.subject.reference`).
 * - Unknown element, array vs single, resourceType out of place: structure,
 *   at the offending property. A missing required element (min) is
 *   cardinality at the path of the object that lacks it (`Observation`); too
 *   many items, or too few of a slice, at the array's path.
 * - empty object / array / string, null: json, at the property (a null in an
 *   array at its index). A JSON string where a number, boolean or object is
 *   due, or a choice suffix not allowed: type. Not JSON at all: one fatal
 *   json issue with line and column and an empty path.
 * - Reference problems are reported at `<element>.reference`.
 * - ele-1, ext-1, dom-2..dom-6 are checked natively and reported as
 *   invariant with their key as rule (dom-6, missing narrative, is a
 *   warning). bdl-* are reported as bundle with their key as rule, at the
 *   entry (`Bundle.entry[3]`) or at `Bundle`; fullUrl not matching
 *   resource.id is bundle at the entry, without a rule.
 * - A claimed profile that is not loaded: warning, profile, at
 *   `meta.profile[i]`. Unknown extension: warning, extension, at the
 *   extension (`Patient.extension[0]`); unknown modifierExtension: error.
 * - A resource claiming profiles is walked once per loaded profile (each
 *   snapshot includes the base), issues shared by the walks reported once.
 */
#ifndef FG_VALIDATE_H
#define FG_VALIDATE_H

#include <stddef.h>

#include <jansson.h>

#include "fhir/base/fg_error.h"
#include "profiles/fg_registry.h"

/* Sizes of what a validator reads. A value that would cross one is refused with FG_ELIMIT. */
#define FG_MAX_BUNDLE_BYTES (512u << 20)     /* one Bundle or JSON file a validator reads */
#define FG_MAX_NDJSON_LINE_BYTES (64u << 20) /* one NDJSON line */

typedef enum fg_severity {
    FG_SEV_FATAL = 0,
    FG_SEV_ERROR,
    FG_SEV_WARNING,
    FG_SEV_INFORMATION,
} fg_severity;

/* What kind of check raised an issue; stable names for tests and summaries
 * (fg_check_name). */
typedef enum fg_check {
    FG_CHECK_JSON = 0,    /* not JSON, or JSON FHIR forbids (empty, null, depth) */
    FG_CHECK_STRUCTURE,   /* unknown element or resourceType, array vs single, _element */
    FG_CHECK_CARDINALITY, /* min/max, also of slices */
    FG_CHECK_TYPE,        /* wrong JSON type, choice suffix not allowed */
    FG_CHECK_FORMAT,      /* primitive format or range */
    FG_CHECK_FIXED,       /* fixed[x] or pattern[x] not met */
    FG_CHECK_BINDING,     /* code outside a required/extensible value set */
    FG_CHECK_SLICING,     /* closed slicing, order, no matching slice */
    FG_CHECK_EXTENSION,   /* unknown extension, wrong context, bad extension */
    FG_CHECK_REFERENCE,   /* target type, unresolved in a bundle */
    FG_CHECK_INVARIANT,   /* a constraint's FHIRPath is false */
    FG_CHECK_BUNDLE,      /* fullUrl/id, request, duplicates */
    FG_CHECK_PROFILE,     /* a claimed profile is unknown, or --profile does not apply */
    FG_CHECK_COUNT_
} fg_check;

typedef struct fg_issue {
    fg_severity severity;
    fg_check check;
    const char *type;  /* OperationOutcome issue.code: "structure", "required", "value",
                          "invalid", "code-invalid", "invariant", "not-found", "processing" */
    char *path;        /* FHIR path; owned by the list */
    char *message;     /* one sentence a person can act on; owned by the list */
    const char *rule;  /* invariant key ("ele-1") or NULL; borrowed from the registry */
    int line, column;  /* in the input, when known (JSON errors, NDJSON lines); else 0 */
} fg_issue;

typedef struct fg_issue_list {
    fg_issue *items;
    size_t count, cap;
    size_t errors, warnings; /* fatal counts as an error */
    size_t resources;        /* resources validated into the list: a Bundle's entries count,
                                contained resources do not */
} fg_issue_list;

/* Empty a list, keeping its storage. Accepts NULL. */
void fg_issue_list_clear(fg_issue_list *l);

/* Free the list's storage. Accepts NULL. */
void fg_issue_list_free(fg_issue_list *l);

/* Append an issue (path and message are copied). FG_ENOMEM on failure. */
int fg_issue_add(fg_issue_list *l, fg_severity sev, fg_check check, const char *type,
                 const char *path, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* "json", "structure", "cardinality", ...; never NULL. */
const char *fg_check_name(fg_check c);
/* "fatal", "error", "warning", "information"; never NULL. */
const char *fg_severity_name(fg_severity s);

typedef struct fg_validate_opts {
    const char *profile;      /* validate every resource against this canonical too, or NULL */
    int check_bindings;       /* default 1 */
    int check_invariants;     /* default 1 */
    int warn_unknown_profile; /* a meta.profile that is not loaded: warning (default 1) */
} fg_validate_opts;

void fg_validate_opts_default(fg_validate_opts *o);

typedef struct fg_validator fg_validator;

/* A validator over `reg` (borrowed: it must outlive the validator).
 * FG_ENOTFOUND when opts->profile is not loaded. */
int fg_validator_new(const fg_registry *reg, const fg_validate_opts *opts, fg_validator **out,
                     fg_error *err);

/* Accepts NULL. */
void fg_validator_free(fg_validator *v);

/* Validate one resource (a JSON object read by fg_jr; a Bundle's entries are validated
 * too) and append issues to `out`. `path_prefix` (or NULL) is written before
 * every path. Returns FG_OK whatever it found (count out->errors); a
 * negative code only when validation itself failed (FG_ENOMEM).
 * Thread-safe for distinct lists. */
int fg_validate_resource(const fg_validator *v, const fg_jv *resource, fg_issue_list *out,
                         fg_error *err);

/* Parse `len` bytes of JSON and validate them. Bad JSON is one fatal issue
 * with line and column. Thread-safe for distinct lists. */
int fg_validate_bytes(const fg_validator *v, const char *buf, size_t len, fg_issue_list *out,
                      fg_error *err);

/* The same, parsing into `scratch`, which is reset first and may keep up to
 * a few MB afterwards: a worker that keeps one arena for all its documents
 * does not allocate per resource. Thread-safe for distinct arenas and lists. */
int fg_validate_bytes_arena(const fg_validator *v, fg_arena *scratch, const char *buf,
                            size_t len, fg_issue_list *out, fg_error *err);

/* Validate a jansson resource, written out and read back as fg_validate_bytes
 * reads text: for callers that build resources with jansson. Thread-safe for
 * distinct lists. */
int fg_validate_json(const fg_validator *v, const json_t *resource, fg_issue_list *out,
                     fg_error *err);

/* Checks the validator could not make, each once: "value set
 * http://... not checked: includes SNOMED CT by filter" etc. Safe to call
 * while other threads validate (the list only grows; a mutex guards it);
 * borrowed strings live until fg_validator_free. */
size_t fg_validator_not_checked_count(const fg_validator *v);
const char *fg_validator_not_checked(const fg_validator *v, size_t i);

/* Write the issues as a FHIR OperationOutcome (a new reference). */
json_t *fg_issue_list_outcome(const fg_issue_list *l);

#endif
