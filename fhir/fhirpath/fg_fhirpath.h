/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_fhirpath.h: a FHIRPath evaluator over JSON FHIR resources.
 *
 * It implements the part of FHIRPath (N1, as used by FHIR R4) that the
 * invariants of the R4 core definitions and of implementation guides such as
 * US Core are written in: paths, choice types (`value` finds `valueQuantity`),
 * the operators, existence, filtering, subsetting, combining, conversion and
 * string functions, `iif`, `is`/`as`/`ofType` with the FHIR and System
 * types, `%resource`, `%rootResource`, `%context`, `%ucum`, `hasValue()`,
 * `extension(url)`, `htmlChecks()`, `trace()`, and `resolve()`,
 * `memberOf()` and `conformsTo()` through callbacks.
 *
 * An expression is compiled once (fg_fhirpath_compile) into an immutable
 * tree that any number of threads may evaluate at once. Evaluation reads the
 * JSON in place: it never copies or modifies the resource.
 *
 * Types: the evaluator knows the type of the root (its resourceType), of
 * values reached through a choice suffix (`valueQuantity` is a Quantity) and
 * of JSON primitives (string, boolean, number). For the FHIR type of any
 * other child it asks the environment's child_type callback, which the
 * validator answers from the compiled definitions.
 */
#ifndef FG_FHIRPATH_H
#define FG_FHIRPATH_H

#include <stddef.h>

#include "fhir/json/fg_jr.h"

#include "fhir/base/fg_error.h"

typedef struct fg_fhirpath fg_fhirpath;

/* What the evaluator may ask of its caller; every member may be NULL. */
typedef struct fg_fhirpath_env {
    const fg_jv *resource;      /* %resource: the resource holding the focus */
    const fg_jv *root_resource; /* %rootResource: the Bundle or containing resource */
    void *ctx;                   /* passed back to every callback */

    /* The FHIR type name of property `name` of a value of type
     * `parent_type` ("Observation", "code" -> "CodeableConcept"), or NULL
     * when unknown. The returned string must outlive the evaluation. It is
     * asked only when a type is needed (is, as, ofType, memberOf, comparing
     * Quantities), not on every navigation step. */
    const char *(*child_type)(void *ctx, const char *parent_type, const char *name);

    /* resolve(): the resource a reference string points at (a contained
     * "#id", an entry of the enclosing Bundle), or NULL. Borrowed. */
    const fg_jv *(*resolve)(void *ctx, const fg_jv *from_resource, const char *reference);

    /* memberOf(vs): 1 member, 0 not, -1 unknown (the result is then empty). */
    int (*member_of)(void *ctx, const fg_jv *coded, const char *coded_type,
                     const char *valueset);

    /* conformsTo(url): 1, 0, or -1 unknown. */
    int (*conforms_to)(void *ctx, const fg_jv *resource, const char *profile);
} fg_fhirpath_env;

/* Compile `expr`. On success *out is new (free with fg_fhirpath_free).
 * A syntax error is FG_EINVALID with the column in err->line's place
 * (err->where is the expression, err->text what was expected); a function
 * the evaluator does not implement is FG_ENOTFOUND naming it, so callers
 * can count invariants they cannot evaluate. */
int fg_fhirpath_compile(const char *expr, fg_fhirpath **out, fg_error *err);

/* Accepts NULL. */
void fg_fhirpath_free(fg_fhirpath *fp);

/* The source text of a compiled expression. Borrowed. */
const char *fg_fhirpath_text(const fg_fhirpath *fp);

/* Evaluate `fp` with `focus` (of FHIR type `focus_type`, or NULL to take it
 * from focus's resourceType) as the input collection and %context, and
 * convert the result to a boolean the way FHIR invariants are read: empty
 * is *result = -1, a single true 1, a single false 0. A result that is not
 * a single boolean (several items, a non-boolean) is FG_EINVALID; a
 * runtime type error (e.g. adding a string to a number) too. Thread-safe. */
int fg_fhirpath_eval_bool(const fg_fhirpath *fp, const fg_jv *focus, const char *focus_type,
                          const fg_fhirpath_env *env, int *result, fg_error *err);

/* Evaluate and return the result collection as a new JSON array of the
 * items (JSON values borrowed from the input are copied), for tests and
 * for slicing discriminators. Thread-safe. */
int fg_fhirpath_eval_json(const fg_fhirpath *fp, const fg_jv *focus, const char *focus_type,
                          const fg_fhirpath_env *env, json_t **out, fg_error *err);

#endif
