/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compile_slices.c: the parts of an element that need more than a copy:
 * slicing (discriminators, rules) and constraints (compiled FHIRPath).
 *
 * Invariants repeat on nearly every element (ele-1 is on all of them), so
 * each distinct expression is compiled once per registry and shared. An
 * expression the evaluator cannot compile keeps compiled = NULL; the
 * validator reports such a constraint as not evaluated.
 */
#include <stdint.h>
#include <string.h>

#include "profiles/registry_private.h"

/* The fp_cache value of an expression that did not compile. */
static char no_fp_marker;
#define FGR_NO_FP ((void *)&no_fp_marker)

static int disc_kind(const char *s, fg_disc_kind *out)
{
    static const struct {
        const char *name;
        fg_disc_kind kind;
    } kinds[] = {{"value", FG_DISC_VALUE},     {"exists", FG_DISC_EXISTS},
                 {"pattern", FG_DISC_PATTERN}, {"type", FG_DISC_TYPE},
                 {"profile", FG_DISC_PROFILE}};
    for (size_t i = 0; s && i < sizeof kinds / sizeof *kinds; i++) {
        if (strcmp(s, kinds[i].name) == 0) {
            *out = kinds[i].kind;
            return 0;
        }
    }
    return -1;
}

int fgr_compile_slicing(fg_registry *reg, fg_elem *e, const fg_jv *slicing, const char *where,
                        fg_error *err)
{
    if (!fg_jv_is_object(slicing))
        return fg_error_set(err, FG_EINVALID, where, "slicing is not an object");
    const fg_jv *discs = fg_jv_get(slicing, "discriminator");
    size_t n = fg_jv_array_size(discs);
    if (n) {
        fg_discriminator *list = fg_arena_calloc(&reg->arena, n * sizeof *list);
        if (!list)
            return fg_error_set(err, FG_ENOMEM, where, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const fg_jv *d = fg_jv_at(discs, i);
            const char *type = fgr_str(d, "type");
            if (disc_kind(type, &list[i].kind) != 0)
                return fg_error_set(err, FG_EINVALID, where,
                                    "slicing.discriminator[%zu].type \"%s\" is not one of value, "
                                    "exists, pattern, type, profile",
                                    i, type ? type : "(missing)");
            list[i].path = fgr_str(d, "path");
            if (!list[i].path)
                return fg_error_set(err, FG_EINVALID, where,
                                    "slicing.discriminator[%zu] has no path", i);
        }
        e->discriminators = list;
        e->n_discriminators = n;
    }
    const char *rules = fgr_str(slicing, "rules");
    e->slice_rules = FG_SLICE_OPEN;
    if (rules && strcmp(rules, "closed") == 0)
        e->slice_rules = FG_SLICE_CLOSED;
    else if (rules && strcmp(rules, "openAtEnd") == 0)
        e->slice_rules = FG_SLICE_OPEN_AT_END;
    e->slice_ordered = fg_jv_is_true(fg_jv_get(slicing, "ordered"));
    e->sliced = 1;
    return FG_OK;
}

/* The compiled form of expr into *out, compiled once per registry: NULL
 * when expr does not compile (cached as such). FG_ENOMEM when memory ran
 * out, which is never cached. */
static int compiled_of(fg_registry *reg, const char *expr, const fg_fhirpath **out)
{
    *out = NULL;
    void *v = fgr_map_get(&reg->fp_cache, expr);
    if (v) {
        *out = v == FGR_NO_FP ? NULL : v;
        return FG_OK;
    }
    fg_fhirpath *fp = NULL;
    fg_error ferr;
    fg_error_clear(&ferr);
    int rc = fg_fhirpath_compile(expr, &fp, &ferr);
    if (rc == FG_ENOMEM) {
        fg_fhirpath_free(fp);
        return FG_ENOMEM;
    }
    if (rc != FG_OK || !fp) {
        fg_fhirpath_free(fp);
        return fgr_map_put(&reg->fp_cache, expr, FGR_NO_FP) == FG_OK ? FG_OK : FG_ENOMEM;
    }
    if (fgr_vec_push(&reg->fps, fp) != FG_OK) {
        fg_fhirpath_free(fp);
        return FG_ENOMEM;
    }
    /* reg->fps owns fp from here on: fg_registry_free frees it */
    if (fgr_map_put(&reg->fp_cache, expr, fp) != FG_OK)
        return FG_ENOMEM;
    *out = fp;
    return FG_OK;
}

/* A constraint object into *out; its source stays NULL when it names none
 * (the caller puts the declaring definition there). FG_EINVALID without a
 * key, FG_ENOMEM when compiling its expression ran out of memory. */
static int read_constraint(fg_registry *reg, const fg_jv *c, fg_constraint *out)
{
    const char *key = fgr_str(c, "key");
    if (!key)
        return FG_EINVALID;
    const char *sev = fgr_str(c, "severity");
    out->is_error = !sev || strcmp(sev, "error") == 0;
    out->human = fgr_str(c, "human");
    out->expression = fgr_str(c, "expression");
    out->source = fgr_str(c, "source");
    out->compiled = NULL;
    if (out->expression && compiled_of(reg, out->expression, &out->compiled) != FG_OK)
        return FG_ENOMEM;
    out->key = key; /* last: a keyed entry of the core table is complete */
    return FG_OK;
}

/* Entry k of the compact core's constraint table into *out, read once per
 * registry (the table's constraints repeat on thousands of elements).
 * FG_EINVALID when k is not in the table or has no key, FG_ENOMEM. */
static int core_constraint(fg_registry *reg, long long k, const fg_constraint **out)
{
    size_t n = fg_jv_array_size(reg->core_constraints);
    if (k < 0 || (size_t)k >= n)
        return FG_EINVALID;
    if (!reg->core_cons)
        reg->core_cons = fg_arena_calloc(&reg->arena, n * sizeof(fg_constraint));
    if (!reg->core_cons)
        return FG_ENOMEM;
    fg_constraint *c = &reg->core_cons[k];
    if (!c->key) {
        int rc = read_constraint(reg, fg_jv_at(reg->core_constraints, (size_t)k), c);
        if (rc != FG_OK)
            return rc;
    }
    *out = c;
    return FG_OK;
}

int fgr_compile_constraints(fg_registry *reg, fgr_sd *sd, fg_elem *e, const fg_jv *list,
                            const char *where, fg_error *err)
{
    size_t n = fg_jv_array_size(list);
    if (!n)
        return FG_OK;
    fg_constraint *cs = fg_arena_calloc(&reg->arena, n * sizeof *cs);
    if (!cs)
        return fg_error_set(err, FG_ENOMEM, where, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const fg_jv *c = fg_jv_at(list, i);
        if (fg_jv_is_integer(c) && sd->compact) {
            const fg_constraint *cc = NULL;
            int rc = core_constraint(reg, fg_jv_integer(c), &cc);
            if (rc == FG_ENOMEM)
                return fg_error_set(err, FG_ENOMEM, where, "out of memory");
            if (rc != FG_OK)
                return fg_error_set(err, FG_EINVALID, where,
                                    "constraint index %lld is not in the compact core's "
                                    "constraint table, or has no key: regenerate data/r4core",
                                    fg_jv_integer(c));
            cs[i] = *cc;
        } else {
            int rc = read_constraint(reg, c, &cs[i]);
            if (rc == FG_ENOMEM)
                return fg_error_set(err, FG_ENOMEM, where, "out of memory");
            if (rc != FG_OK)
                return fg_error_set(err, FG_EINVALID, where, "constraint[%zu] has no key", i);
        }
        if (!cs[i].source)
            cs[i].source = sd->st.url;
    }
    e->constraints = cs;
    e->n_constraints = n;
    return FG_OK;
}
