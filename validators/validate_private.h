/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_private.h: internals shared by the validator's files (prefix fgv_).
 *
 * One call of fg_validate_resource builds an fgv_ctx on the stack: the FHIR
 * path of the element being checked lives in one reusable buffer (a segment
 * is appended on the way down and cut off on the way up, and the text is
 * copied only when an issue is recorded), so walking a resource allocates
 * nothing per element. Bundles get an entry index (fgv_bundle) so references
 * resolve without a scan per reference; nested Bundles stack their indexes.
 */
#ifndef FG_VALIDATE_PRIVATE_H
#define FG_VALIDATE_PRIVATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "validators/fg_validate.h"

#define FGV_PATH_MAX 4096

typedef struct fgv_index fgv_index;

struct fg_validator {
    const fg_registry *reg;
    fg_validate_opts opts;
    const fg_structure *profile;   /* opts->profile, resolved, or NULL */
    const fg_structure *extension; /* the base Extension definition */
    const fg_structure *reference; /* the base Reference definition */
    fgv_index *index;              /* children by (parent, JSON name) */

    pthread_mutex_t lock;          /* guards the not-checked list */
    char **not_checked;
    size_t n_not_checked, cap_not_checked;
};

/* One Bundle entry, for resolving references. */
typedef struct fgv_entry {
    const char *full_url;       /* borrowed from the JSON, or NULL */
    const char *type;           /* resource.resourceType, or NULL */
    const char *id;             /* resource.id, or NULL */
    const fg_jv *resource;
} fgv_entry;

typedef struct fgv_bundle {
    const fg_jv *bundle;
    const char *type;           /* Bundle.type */
    fgv_entry *entries;
    size_t n;
    uint32_t *by_url, *by_tid;  /* open-addressing hashes of entry index + 1 */
    size_t mask;
    size_t *dup_of;             /* entry i repeats the fullUrl of entry dup_of[i] - 1 */
    struct fgv_bundle *outer;
} fgv_bundle;

typedef struct fgv_ctx {
    const fg_validator *v;
    fg_issue_list *out;
    size_t first_issue;         /* issues before this index belong to earlier calls */
    int dedupe;                 /* 1 on the second and later profile walk of a resource */
    int failed;                 /* an allocation failed: stop and return FG_ENOMEM */
    int depth;

    char path[FGV_PATH_MAX];
    size_t path_len;

    const fg_jv *resource;      /* the resource holding the focus (%resource) */
    const fg_jv *root_resource; /* the outermost resource */
    const fg_jv *container;     /* the resource whose contained[] `#id` refers to */
    const char *resource_type;
    fgv_bundle *bundle;          /* innermost enclosing Bundle, or NULL */
    int in_contained;            /* validating a contained resource */

    /* The element whose value's properties are being walked, for the
     * context of extensions found there. */
    const fg_elem *holder_def;
    const fg_structure *holder_type;
    const char *holder_ext_url;  /* when the holder is an extension */
} fgv_ctx;

/* ---- validate_index.c ---- */
int fgv_index_build(const fg_registry *reg, fgv_index **out);
void fgv_index_free(fgv_index *ix);
/* Index of the child of `parent` that JSON property `key` names, with
 * *type its type index (-1 none); -1 when not indexed. */
long fgv_index_find(const fgv_index *ix, const fg_elem *parent, const char *key, int *type);
/* fg_registry_structure for a canonical string owned by the registry (a
 * type profile, target profile or base), answered from a table keyed by
 * the string's address; other strings fall back to the registry. */
const fg_structure *fgv_canonical(const fg_validator *v, const char *url);
/* 1 the first time `key` (a binding's value set string or a constraint,
 * both owned by the registry) is met by any thread, 0 afterwards; 1 for
 * keys not in the table (the not-checked list dedupes those itself). */
int fgv_once(const fg_validator *v, const void *key);
/* The native form of a constraint's expression (fgv_expr_kind), looked up
 * by the constraint's address; 0 when it is evaluated with FHIRPath. */
int fgv_constraint_kind(const fg_validator *v, const fg_constraint *k);

/* ---- validate_invariant.c ---- */
/* Which frequent expression (by exact text) `expr` is, or 0. */
int fgv_expr_kind(const char *expr);
/* Check constraint `k` of that kind natively; 1 when it holds. */
int fgv_expr_native(fgv_ctx *c, int kind, const fg_jv *val, const fg_elem *def, const char *type);

/* ---- validate_issue.c ---- */
void fgv_issue(fgv_ctx *c, fg_severity sev, fg_check check, const char *type, const char *rule,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Record, on the context's validator, a check that could not be made,
 * once per text (copied). Running out of memory fails the validation
 * (c->failed): a check not made must not go unreported. */
void fgv_not_checked(fgv_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The same, once per `key`: an entry whose text starts with `key` followed
 * by ':' or the end counts as the same. */
void fgv_not_checked_key(fgv_ctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- path buffer (validate.c) ---- */
size_t fgv_path_push(fgv_ctx *c, const char *name);
size_t fgv_path_index(fgv_ctx *c, size_t i);
static inline void fgv_path_pop(fgv_ctx *c, size_t len)
{
    c->path_len = len;
    c->path[len] = '\0';
}

/* ---- validate.c ---- */
/* Validate a resource object against its base and claimed profiles. The
 * path already names it. */
void fgv_resource(fgv_ctx *c, const fg_jv *res, const fg_structure *extra_profile);

/* ---- validate_elem.c ---- */
/* Check the properties of object `obj` against the children of `def`
 * (or of its type when it has none). `type` is the FHIR type of obj. */
void fgv_object(fgv_ctx *c, const fg_jv *obj, const fg_elem *def, const fg_structure *type,
                int is_resource_root);
/* Check one value (an array item or a single value) of element `def`
 * whose FHIR type is `tref`; `shadow` is its `_name` counterpart. */
void fgv_value(fgv_ctx *c, const fg_jv *val, const fg_jv *shadow, const fg_elem *def,
               const fg_type_ref *tref);
/* The children that describe values of `def` typed `tref`. */
const fg_elem *fgv_children_source(const fgv_ctx *c, const fg_elem *def, const fg_type_ref *tref,
                                   const fg_structure **type_out);
/* Child of `parent` (a children source) named `name` (exact, no choice). */
const fg_elem *fgv_child_named(const fg_elem *parent, const char *name);
/* The same through the validator's child index. */
const fg_elem *fgv_child_ix(const fg_validator *v, const fg_elem *parent, const char *name);
int fgv_is_primitive(const fg_type_ref *t);
/* The type ref of `def` whose JSON suffix is `suffix` ("Quantity"), or NULL. */
const fg_type_ref *fgv_choice_type(const fg_elem *def, const char *suffix);

/* ---- validate_primitive.c ---- */
/* Check a primitive JSON value against FHIR type `code`. */
void fgv_primitive(fgv_ctx *c, const fg_jv *val, const char *code);
/* 1 when the type's JSON form is a number / boolean. */
int fgv_prim_is_number(const char *code);
int fgv_prim_is_integer(const char *code);

/* ---- validate_slicing.c ---- */
void fgv_sliced(fgv_ctx *c, const fg_jv *arr, const fg_elem *def, const char *name);
/* pattern containment / fixed equality */
int fgv_pattern_match(const fg_jv *pattern, const fg_jv *val);
int fgv_fixed_match(const fg_jv *fixed, const fg_jv *val);
void fgv_fixed_pattern(fgv_ctx *c, const fg_jv *val, const fg_elem *def);

/* ---- validate_binding.c ---- */
void fgv_binding(fgv_ctx *c, const fg_jv *val, const fg_elem *def, const char *type);

/* ---- validate_reference.c ---- */
void fgv_reference(fgv_ctx *c, const fg_jv *ref, const fg_elem *def, const fg_type_ref *tref);
const fg_jv *fgv_resolve(fgv_ctx *c, const fg_jv *from, const char *reference,
                          const char **type_out);

/* ---- validate_bundle.c ---- */
/* Index bundle's entries into b and make b the context's innermost bundle;
 * close it with fgv_bundle_close. FG_ENOMEM: nothing to close, c->bundle
 * stays as it was. */
int fgv_bundle_open(fgv_ctx *c, const fg_jv *bundle, fgv_bundle *b);
void fgv_bundle_close(fgv_ctx *c, fgv_bundle *b);
void fgv_bundle_rules(fgv_ctx *c, const fg_jv *bundle, fgv_bundle *b);
/* The entry `reference` points at (a fullUrl, or Type/id), or NULL. */
const fgv_entry *fgv_bundle_find(const fgv_bundle *b, const char *reference);

/* ---- validate_invariant.c ---- */
void fgv_invariants(fgv_ctx *c, const fg_jv *val, const fg_elem *def, const char *type);
/* The same, skipping the keys `done` already has (the type's own
 * constraints after the element's). */
void fgv_invariants_except(fgv_ctx *c, const fg_jv *val, const fg_elem *def, const char *type,
                           const fg_elem *done);
void fgv_extension_context(fgv_ctx *c, const fg_structure *ext, const fg_elem *holder_def,
                           const fg_structure *holder_type);

#endif
