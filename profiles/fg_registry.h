/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_registry.h: conformance resources loaded from FHIR packages and
 * compiled for validation.
 *
 * A registry gathers StructureDefinitions, ValueSets and CodeSystems from
 * fhirgen's compact R4 core (data/r4core) and from FHIR packages in the
 * package cache (~/.fhir/packages/<name>#<version>/package/, or the folder
 * the caller names). fg_registry_finish() compiles
 * every StructureDefinition snapshot into a tree of fg_elem and expands
 * every value set that a required or extensible binding names. After that
 * the registry is immutable: any number of threads may read it at once,
 * and nothing here allocates or locks while validating.
 *
 * The compiled tree is plain read-only data, exposed so the validator can
 * walk it without a call per step. Every pointer in it is owned by the
 * registry and lives until fg_registry_free().
 *
 * What a registry could not do (a package dependency missing from the
 * cache, a value set it cannot expand, a StructureDefinition without a
 * snapshot) is not an error: it is kept as a note, so the validator can
 * say what it left unchecked instead of passing it silently.
 */
#ifndef FG_REGISTRY_H
#define FG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fhir/base/fg_error.h"
#include "fhir/fhirpath/fg_fhirpath.h"
#include "fhir/json/fg_jr.h"

/* Limits of FHIR packages and the profile registry. A value that would cross one is refused with
 * FG_ELIMIT. */
#define FG_MAX_PACKAGE_FILE_BYTES (64u << 20) /* one resource file of a FHIR package */
#define FG_MAX_PACKAGE_FILES 50000            /* files in one package folder */
#define FG_MAX_PACKAGES 64                    /* packages one registry loads, dependencies included */
#define FG_MAX_PACKAGE_DEPTH 16               /* nesting of package dependencies */
#define FG_MAX_SNAPSHOT_ELEMENTS 20000        /* elements of one StructureDefinition snapshot */
#define FG_MAX_VALUESET_IMPORT_DEPTH 32       /* value sets importing value sets */
#define FG_MAX_REGISTRY_NOTES 10000           /* notes one registry keeps */
#define FG_MAX_PACKAGE_LOAD_THREADS 8         /* threads parsing the files of one package */

#define FG_CARD_MANY UINT32_MAX /* max = "*" */

typedef struct fg_registry fg_registry;
typedef struct fg_elem fg_elem;
typedef struct fg_structure fg_structure;
typedef struct fg_valueset fg_valueset;

typedef enum fg_binding_strength {
    FG_BIND_NONE = 0,
    FG_BIND_EXAMPLE,
    FG_BIND_PREFERRED,
    FG_BIND_EXTENSIBLE,
    FG_BIND_REQUIRED,
} fg_binding_strength;

typedef enum fg_slice_rules {
    FG_SLICE_OPEN = 0,
    FG_SLICE_CLOSED,
    FG_SLICE_OPEN_AT_END,
} fg_slice_rules;

typedef enum fg_disc_kind {
    FG_DISC_VALUE = 0,
    FG_DISC_EXISTS,
    FG_DISC_PATTERN,
    FG_DISC_TYPE,
    FG_DISC_PROFILE,
} fg_disc_kind;

typedef struct fg_discriminator {
    fg_disc_kind kind;
    const char *path; /* FHIRPath-ish: "code", "url", "$this", "resolve()", "value.ofType(Quantity)" */
} fg_discriminator;

/* One allowed type of an element. `code` is a FHIR type name ("string",
 * "CodeableConcept", "Reference", "Patient", "BackboneElement") or, for the
 * value of a primitive, the FHIRPath system type URL as in the definitions
 * ("http://hl7.org/fhirpath/System.String"). */
typedef struct fg_type_ref {
    const char *code;
    const fg_structure *base;      /* the registry's definition of `code`, or NULL */
    const char *const *profiles;   /* type.profile canonicals */
    size_t n_profiles;
    const char *const *targets;    /* type.targetProfile canonicals (Reference, canonical) */
    size_t n_targets;
} fg_type_ref;

typedef struct fg_constraint {
    const char *key;        /* "ele-1", "us-core-6" */
    int is_error;           /* severity error (1) or warning (0) */
    const char *human;
    const char *expression; /* FHIRPath, or NULL */
    const fg_fhirpath *compiled; /* NULL when the expression could not be compiled */
    const char *source;     /* canonical of the definition that declared it */
} fg_constraint;

struct fg_elem {
    const char *path;        /* as in the snapshot: "Observation.component.value[x]" */
    const char *id;          /* element id: "Observation.component:systolic.code" */
    const char *name;        /* last path segment without "[x]": "value" */
    const char *slice_name;  /* NULL unless this element is a slice (or re-slice) */
    uint32_t min, max;       /* this profile's cardinality; max FG_CARD_MANY for "*" */
    unsigned is_array : 1;   /* base.max != "1": the JSON property is an array */
    unsigned is_choice : 1;  /* path ends in "[x]" */
    unsigned is_modifier : 1;
    unsigned must_support : 1;
    unsigned has_children : 1; /* the snapshot constrains below this element */

    const fg_type_ref *types;
    size_t n_types;

    /* contentReference ("#Questionnaire.item"), resolved: walk this element's
     * children instead. NULL otherwise. */
    const fg_elem *content_ref;

    fg_binding_strength binding;
    const char *binding_vs;          /* canonical, version stripped, or NULL */
    const fg_valueset *binding_exp;  /* its expansion, or NULL when unknown */

    /* fixed[x] / pattern[x]: the JSON value (borrowed from the registry)
     * and the type suffix ("Coding"). */
    const fg_jv *fixed;
    const fg_jv *pattern;
    const char *fixed_type;

    const fg_constraint *constraints;
    size_t n_constraints;

    /* Slicing declared on this element. slices[] are the slice elements, in
     * definition order; each slice's children hang below it. A re-slice
     * ("component:a/b") is a slice of slice "a". Type-specific constraints
     * of a choice ("value[x]:valueQuantity", or the older separate path
     * "valueQuantity") are slices of the choice element whose slice_name is
     * the name plus the type ("valueQuantity"); the separate-path form
     * marks the choice sliced by type ($this, open) when the profile did
     * not. A slice's parent is the sliced element's parent. */
    unsigned sliced : 1;
    unsigned slice_ordered : 1;
    fg_slice_rules slice_rules;
    const fg_discriminator *discriminators;
    size_t n_discriminators;
    const fg_elem *const *slices;
    size_t n_slices;

    /* Direct children (not slices), in definition order. */
    const fg_elem *const *children;
    size_t n_children;

    const fg_elem *parent;
    const fg_structure *owner;
};

typedef enum fg_structure_kind {
    FG_KIND_PRIMITIVE = 0,
    FG_KIND_COMPLEX,
    FG_KIND_RESOURCE,
    FG_KIND_LOGICAL,
} fg_structure_kind;

struct fg_structure {
    const char *url;
    const char *version;
    const char *name;
    const char *type;        /* "Observation", "Extension", "string" */
    const char *base;        /* baseDefinition canonical, or NULL */
    const char *package;     /* "hl7.fhir.us.core#6.1.0", or "fhirgen r4 core" */
    fg_structure_kind kind;
    unsigned abstract : 1;
    unsigned is_constraint : 1; /* derivation = constraint (a profile) */
    const fg_elem *root;
    /* For extension definitions: the contexts where it may be used. */
    const char *const *contexts; /* context[].expression */
    size_t n_contexts;
};

/* The membership test of an expanded value set. */
typedef enum fg_vs_status {
    FG_VS_EXPANDED = 0,    /* every code is known: membership is exact */
    FG_VS_NOT_EXPANDABLE,  /* needs a terminology fhirgen does not have (reason in note) */
} fg_vs_status;


/* ---- building ---- */

/* A new, empty registry (free with fg_registry_free). */
int fg_registry_new(fg_registry **out, fg_error *err);

/* Accepts NULL. */
void fg_registry_free(fg_registry *reg);

/* Load fhirgen's compact R4 core from data folder `datadir`
 * (datadir/r4core/). FG_ENOTFOUND when it is missing. */
int fg_registry_load_core(fg_registry *reg, const char *datadir, fg_error *err);

/* The package cache folder: `explicit_dir` when not NULL or empty, else
 * <home>/.fhir/packages (home NULL or empty: the current folder), written
 * into buf. Returns explicit_dir or buf; NULL when buf is too small. The
 * library reads no environment: the fhirgen program passes --packages, else
 * FHIRGEN_PACKAGES, as explicit_dir and $HOME as home. */
const char *fg_package_cache_dir(const char *explicit_dir, const char *home, char *buf,
                                 size_t size);

/* Load package `spec` ("hl7.fhir.us.core#6.1.0", or a bare name for the
 * highest version present) and, recursively, its dependencies from the
 * cache folder `cache` (required; see fg_package_cache_dir). Builds the
 * package index when .index.json is missing (in memory; the cache is never
 * written). A dependency that is missing is a note, not an error;
 * hl7.fhir.r4.core is skipped silently
 * (the compact core provides it). FG_ENOTFOUND when `spec` itself is missing,
 * FG_EINVALID for a package without package.json or with a resource that
 * is not JSON (err names the file). */
int fg_registry_load_package(fg_registry *reg, const char *cache, const char *spec,
                             fg_error *err);

/* Add one conformance resource (StructureDefinition, ValueSet, CodeSystem;
 * others are ignored). `origin` names where it came from in messages.
 * The registry keeps a copy of `res` (the caller keeps its reference). */
int fg_registry_add(fg_registry *reg, const json_t *res, const char *origin, fg_error *err);

/* The same for a resource already read with fg_jr: `res` is borrowed and
 * must stay alive and unchanged until fg_registry_free (its arena outlives
 * the registry). */
int fg_registry_add_jv(fg_registry *reg, const fg_jv *res, const char *origin, fg_error *err);

/* Compile every StructureDefinition and expand bound value sets. After
 * this the registry is read-only. A StructureDefinition that cannot be
 * compiled is FG_EINVALID naming its url and element. */
int fg_registry_finish(fg_registry *reg, fg_error *err);

/* ---- reading (only after fg_registry_finish) ---- */

/* The definition with canonical `url` (an optional "|version" is
 * honoured), or NULL. Borrowed. */
const fg_structure *fg_registry_structure(const fg_registry *reg, const char *url);

/* The base definition of a type or resource name ("Patient", "string"),
 * or NULL. Borrowed. */
const fg_structure *fg_registry_type(const fg_registry *reg, const char *type);

/* The expansion of value set `url`, or NULL when no such value set is
 * loaded. Borrowed. */
const fg_valueset *fg_registry_valueset(const fg_registry *reg, const char *url);

fg_vs_status fg_valueset_status(const fg_valueset *vs);

/* Why a value set is not expandable (e.g. "includes SNOMED CT by filter"),
 * or NULL. Borrowed. */
const char *fg_valueset_note(const fg_valueset *vs);

/* 1 when system|code is in the expansion, 0 when not. `system` NULL
 * matches a code in any system (for elements of type code, whose system is
 * implied). Only meaningful for FG_VS_EXPANDED. */
int fg_valueset_contains(const fg_valueset *vs, const char *system, const char *code);

/* The display of system|code in the expansion, or NULL. Borrowed. */
const char *fg_valueset_display(const fg_valueset *vs, const char *system, const char *code);

/* Notes on what loading could not do, in the order they arose. Borrowed. */
size_t fg_registry_note_count(const fg_registry *reg);
const char *fg_registry_note(const fg_registry *reg, size_t i);

/* Counts, for summaries: structures, value sets, code systems. */
void fg_registry_counts(const fg_registry *reg, size_t *structures, size_t *valuesets,
                        size_t *codesystems);

/* Every structure, for tests that compile all of them. Borrowed. */
size_t fg_registry_structure_count(const fg_registry *reg);
const fg_structure *fg_registry_structure_at(const fg_registry *reg, size_t i);

#endif
