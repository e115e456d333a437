/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_slicing.c: slicing (which slice each array item belongs to, by
 * the discriminators), slice cardinality, closed/ordered/openAtEnd rules,
 * and fixed[x]/pattern[x] values.
 *
 * A discriminator path is read with a small walker that knows the forms the
 * definitions use: names (a choice name matches any of its typed
 * properties), `$this`, `ofType(T)`, `extension('url')` and `resolve()`.
 * The value a slice expects is taken from the slice's element at the same
 * path (fixed, pattern, or a required binding); an extension slice
 * discriminated by `url` expects its type profile's canonical. A `profile`
 * discriminator walks the item (a resource, or what a reference resolves
 * to) against each candidate profile of its type into a scratch list: it
 * matches when that walk finds no error.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "validators/validate_private.h"

#define FGV_DISC_VALUES 16 /* values one discriminator path may reach */

static int num_equal(const fg_jv *a, const fg_jv *b)
{
    return fg_jv_is_number(a) && fg_jv_is_number(b) && fg_jv_number(a) == fg_jv_number(b);
}

int fgv_fixed_match(const fg_jv *fixed, const fg_jv *val)
{
    if (fg_jv_is_number(fixed))
        return num_equal(fixed, val);
    if (fg_jv_is_object(fixed)) {
        if (!fg_jv_is_object(val) || fg_jv_object_size(fixed) != fg_jv_object_size(val))
            return 0;
        const char *k;
        const fg_jv *fv;
        fg_jv_object_foreach(fixed, k, fv)
        {
            if (!fgv_fixed_match(fv, fg_jv_get(val, k)))
                return 0;
        }
        return 1;
    }
    if (fg_jv_is_array(fixed)) {
        if (!fg_jv_is_array(val) || fg_jv_array_size(fixed) != fg_jv_array_size(val))
            return 0;
        for (size_t i = 0; i < fg_jv_array_size(fixed); i++)
            if (!fgv_fixed_match(fg_jv_at(fixed, i), fg_jv_at(val, i)))
                return 0;
        return 1;
    }
    return val != NULL && fg_jv_equal(fixed, val);
}

int fgv_pattern_match(const fg_jv *pattern, const fg_jv *val)
{
    if (val == NULL)
        return 0;
    if (fg_jv_is_number(pattern))
        return num_equal(pattern, val);
    if (fg_jv_is_object(pattern)) {
        if (!fg_jv_is_object(val))
            return 0;
        const char *k;
        const fg_jv *pv;
        fg_jv_object_foreach(pattern, k, pv)
        {
            if (!fgv_pattern_match(pv, fg_jv_get(val, k)))
                return 0;
        }
        return 1;
    }
    if (fg_jv_is_array(pattern)) {
        if (!fg_jv_is_array(val))
            return 0;
        size_t i, j;
        const fg_jv *pi, *vj;
        fg_jv_array_foreach(pattern, i, pi)
        {
            int found = 0;
            fg_jv_array_foreach(val, j, vj)
            {
                if (fgv_pattern_match(pi, vj)) {
                    found = 1;
                    break;
                }
            }
            if (!found)
                return 0;
        }
        return 1;
    }
    return fg_jv_equal(pattern, val);
}

/* The compact JSON of j into out, shortened with "..." to fit. FG_ENOMEM
 * when dumping it ran out of memory. */
static int brief_json(const fg_jv *j, char *out, size_t cap)
{
    fg_arena scratch;
    fg_arena_init(&scratch);
    const char *s = fg_jv_dump(&scratch, j);
    if (s == NULL) {
        fg_arena_free(&scratch);
        return FG_ENOMEM;
    }
    size_t n = strlen(s);
    if (n + 1 > cap && cap > 4)
        snprintf(out, cap, "%.*s...", (int)(cap - 4), s);
    else
        snprintf(out, cap, "%s", s);
    fg_arena_free(&scratch);
    return FG_OK;
}

void fgv_fixed_pattern(fgv_ctx *c, const fg_jv *val, const fg_elem *def)
{
    char want[200];
    if (def->fixed != NULL && !fgv_fixed_match(def->fixed, val)) {
        if (brief_json(def->fixed, want, sizeof want) != FG_OK) {
            c->failed = 1;
            return;
        }
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_FIXED, "value", NULL,
                  "The value must be exactly %s (fixed by %s)", want,
                  def->owner && def->owner->url ? def->owner->url : "the profile");
    }
    if (def->pattern != NULL && !fgv_pattern_match(def->pattern, val)) {
        if (brief_json(def->pattern, want, sizeof want) != FG_OK) {
            c->failed = 1;
            return;
        }
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_FIXED, "value", NULL,
                  "The value must contain %s (pattern of %s)", want,
                  def->owner && def->owner->url ? def->owner->url : "the profile");
    }
}

/* ---- discriminator paths ---- */

/* The next segment of `p` into seg (without the dot); returns the rest or NULL. */
static const char *next_seg(const char *p, char *seg, size_t cap)
{
    size_t n = 0;
    int depth = 0, quote = 0;
    while (*p) {
        char ch = *p;
        if (ch == '\'' )
            quote = !quote;
        else if (!quote && ch == '(')
            depth++;
        else if (!quote && ch == ')')
            depth--;
        else if (!quote && depth == 0 && ch == '.')
            break;
        if (n + 1 < cap)
            seg[n++] = ch;
        p++;
    }
    seg[n] = '\0';
    return *p == '.' ? p + 1 : p;
}

static int fn_arg(const char *seg, const char *fn, char *arg, size_t cap)
{
    size_t fl = strlen(fn);
    if (strncmp(seg, fn, fl) != 0 || seg[fl] != '(')
        return 0;
    const char *a = seg + fl + 1;
    size_t n = strlen(a);
    if (n == 0 || a[n - 1] != ')')
        return 0;
    n--;
    if (n >= 2 && a[0] == '\'' && a[n - 1] == '\'') {
        a++;
        n -= 2;
    }
    if (n + 1 > cap)
        return 0;
    memcpy(arg, a, n);
    arg[n] = '\0';
    return 1;
}

static void add_val(const fg_jv **vals, size_t *n, const fg_jv *v)
{
    if (v == NULL || *n >= FGV_DISC_VALUES)
        return;
    if (fg_jv_is_array(v)) {
        size_t i;
        const fg_jv *x;
        fg_jv_array_foreach(v, i, x) if (*n < FGV_DISC_VALUES) vals[(*n)++] = x;
    } else {
        vals[(*n)++] = v;
    }
}

/* Values reached from `item` along `path`. */
static size_t eval_path(fgv_ctx *c, const fg_jv *item, const char *path, const fg_jv **out)
{
    const fg_jv *cur[FGV_DISC_VALUES], *nxt[FGV_DISC_VALUES];
    size_t ncur = 1, nn;
    cur[0] = item;
    char seg[256], arg[256];
    const char *p = path;
    while (*p && ncur > 0) {
        p = next_seg(p, seg, sizeof seg);
        nn = 0;
        if (strcmp(seg, "$this") == 0)
            continue;
        for (size_t i = 0; i < ncur; i++) {
            const fg_jv *x = cur[i];
            if (strcmp(seg, "resolve()") == 0) {
                const fg_jv *r = fg_jv_get(x, "reference");
                if (fg_jv_is_string(r)) {
                    const char *t = NULL;
                    add_val(nxt, &nn, fgv_resolve(c, c->resource, fg_jv_str(r), &t));
                }
            } else if (fn_arg(seg, "extension", arg, sizeof arg)) {
                const fg_jv *ex = fg_jv_get(x, "extension");
                size_t k;
                const fg_jv *e;
                fg_jv_array_foreach(ex, k, e)
                {
                    const fg_jv *u = fg_jv_get(e, "url");
                    if (fg_jv_is_string(u) && strcmp(fg_jv_str(u), arg) == 0)
                        add_val(nxt, &nn, e);
                }
            } else if (fn_arg(seg, "ofType", arg, sizeof arg)) {
                add_val(nxt, &nn, x); /* the choice name already chose the type below */
            } else if (fg_jv_is_object(x)) {
                const fg_jv *v = fg_jv_get(x, seg);
                if (v == NULL) {
                    /* a choice: value -> valueQuantity, filtered by a following ofType */
                    char ty[128] = "";
                    char seg2[256];
                    if (*p)
                        next_seg(p, seg2, sizeof seg2);
                    else
                        seg2[0] = '\0';
                    if (fn_arg(seg2, "ofType", ty, sizeof ty) && ty[0]) {
                        char key[400];
                        snprintf(key, sizeof key, "%s%c%s", seg, toupper((unsigned char)ty[0]),
                                 ty + 1);
                        v = fg_jv_get(x, key);
                    } else {
                        size_t sl = strlen(seg);
                        const char *k;
                        const fg_jv *kv;
                        fg_jv_object_foreach(x, k, kv)
                        {
                            if (strncmp(k, seg, sl) == 0 && isupper((unsigned char)k[sl])) {
                                v = kv;
                                break;
                            }
                        }
                    }
                }
                add_val(nxt, &nn, v);
            }
        }
        memcpy(cur, nxt, nn * sizeof cur[0]);
        ncur = nn;
    }
    memcpy(out, cur, ncur * sizeof cur[0]);
    return ncur;
}

/* The slice's element at `path`, or NULL when the slice does not constrain it. */
static const fg_elem *def_at(fgv_ctx *c, const fg_elem *s, const char *path, int *is_url_of_ext,
                             const char **ext_url)
{
    char seg[256], arg[256];
    const char *p = path;
    const fg_elem *e = s;
    *is_url_of_ext = 0;
    while (*p && e != NULL) {
        p = next_seg(p, seg, sizeof seg);
        if (strcmp(seg, "$this") == 0 || strcmp(seg, "resolve()") == 0)
            continue;
        if (fn_arg(seg, "ofType", arg, sizeof arg)) {
            for (size_t i = 0; i < e->n_slices; i++)
                for (size_t k = 0; k < e->slices[i]->n_types; k++)
                    if (strcmp(e->slices[i]->types[k].code, arg) == 0)
                        e = e->slices[i];
            continue;
        }
        const fg_elem *src = e;
        if (e->content_ref)
            src = e->content_ref;
        if (fn_arg(seg, "extension", arg, sizeof arg)) {
            const fg_elem *ext = fgv_child_ix(c->v, src, "extension");
            const fg_elem *hit = NULL;
            for (size_t i = 0; ext && i < ext->n_slices; i++) {
                const fg_elem *sl = ext->slices[i];
                if (sl->n_types > 0 && sl->types[0].n_profiles > 0
                    && strcmp(sl->types[0].profiles[0], arg) == 0)
                    hit = sl;
            }
            e = hit;
            continue;
        }
        const fg_elem *child = fgv_child_ix(c->v, src, seg);
        if (child == NULL && strcmp(seg, "url") == 0 && *p == '\0' && e->n_types > 0
            && e->types[0].code && strcmp(e->types[0].code, "Extension") == 0
            && e->types[0].n_profiles > 0) {
            *is_url_of_ext = 1;
            *ext_url = e->types[0].profiles[0];
            return e;
        }
        if (child == NULL && src->n_children == 0 && src->n_types > 0) {
            /* the slice does not go deeper: its type profile may */
            const fg_type_ref *t = &src->types[0];
            if (t->n_profiles > 0) {
                const fg_structure *ps = fgv_canonical(c->v, t->profiles[0]);
                if (ps != NULL && ps->root != NULL)
                    child = fgv_child_ix(c->v, ps->root, seg);
            }
        }
        e = child;
    }
    return e;
}

#define FGV_DISC_DEFS 16

/* Every element of slice `s` the path can reach: children, and at a sliced
 * element also each of its slices (a re-sliced coding carries the fixed
 * code in its slice, as the core bp profile does). */
static size_t defs_at(fgv_ctx *c, const fg_elem *s, const char *path, const fg_elem **out)
{
    const fg_elem *cur[FGV_DISC_DEFS], *nxt[FGV_DISC_DEFS];
    size_t ncur = 1, nn;
    cur[0] = s;
    char seg[256], arg[256];
    const char *p = path;
    while (*p && ncur > 0) {
        p = next_seg(p, seg, sizeof seg);
        if (strcmp(seg, "$this") == 0 || strcmp(seg, "resolve()") == 0
            || fn_arg(seg, "ofType", arg, sizeof arg) || fn_arg(seg, "extension", arg, sizeof arg))
            return 0; /* the single-path reader handles these */
        nn = 0;
        for (size_t i = 0; i < ncur; i++) {
            const fg_elem *src = cur[i]->content_ref ? cur[i]->content_ref : cur[i];
            const fg_elem *ch = fgv_child_ix(c->v, src, seg);
            if (ch == NULL && src->n_children == 0 && src->n_types > 0
                && src->types[0].n_profiles > 0) {
                const fg_structure *ps = fgv_canonical(c->v, src->types[0].profiles[0]);
                if (ps != NULL && ps->root != NULL)
                    ch = fgv_child_ix(c->v, ps->root, seg);
            }
            if (ch == NULL)
                continue;
            if (nn < FGV_DISC_DEFS)
                nxt[nn++] = ch;
            for (size_t k = 0; k < ch->n_slices && nn < FGV_DISC_DEFS; k++)
                nxt[nn++] = ch->slices[k];
        }
        memcpy(cur, nxt, nn * sizeof cur[0]);
        ncur = nn;
    }
    memcpy(out, cur, ncur * sizeof cur[0]);
    return ncur;
}

static int value_in(const fg_elem *e, const fg_jv *v)
{
    if (e->fixed != NULL)
        return fgv_fixed_match(e->fixed, v);
    if (e->pattern != NULL)
        return fgv_pattern_match(e->pattern, v);
    if (fg_jv_is_string(v))
        return fg_valueset_contains(e->binding_exp, NULL, fg_jv_str(v));
    const fg_jv *codings = fg_jv_get(v, "coding");
    size_t nc = fg_jv_is_array(codings) ? fg_jv_array_size(codings) : 1;
    for (size_t k = 0; k < nc; k++) {
        const fg_jv *cd = fg_jv_is_array(codings) ? fg_jv_at(codings, k) : v;
        const fg_jv *sy = fg_jv_get(cd, "system");
        const fg_jv *co = fg_jv_get(cd, "code");
        if (fg_jv_is_string(co)
            && fg_valueset_contains(e->binding_exp, fg_jv_is_string(sy) ? fg_jv_str(sy) : NULL,
                                    fg_jv_str(co)))
            return 1;
    }
    return 0;
}

static int has_expectation(const fg_elem *e)
{
    return e->fixed != NULL || e->pattern != NULL
           || (e->binding == FG_BIND_REQUIRED && e->binding_exp != NULL
               && fg_valueset_status(e->binding_exp) == FG_VS_EXPANDED);
}

static const char *value_type(const fg_jv *v)
{
    const fg_jv *rt = fg_jv_get(v, "resourceType");
    return fg_jv_is_string(rt) ? fg_jv_str(rt) : NULL;
}

/* A profile discriminator: does resource `res` meet profile `ps`? The
 * resource is walked against the profile into a scratch list, with the
 * caller's context (bundle, container), and only errors count. */
static int conforms(fgv_ctx *c, const fg_jv *res, const fg_structure *ps)
{
    if (ps->root == NULL || c->depth >= 16)
        return 1; /* cannot tell: do not reject the item */
    fg_issue_list scratch = {0};
    fgv_ctx *sub = malloc(sizeof *sub);
    if (sub == NULL) {
        c->failed = 1;
        return 0;
    }
    *sub = *c;
    sub->out = &scratch;
    sub->first_issue = 0;
    sub->dedupe = 0;
    sub->failed = 0;
    sub->resource = res;
    sub->depth = c->depth + 1;
    fgv_object(sub, res, ps->root, ps, 1);
    int ok = !sub->failed && scratch.errors == 0;
    if (sub->failed)
        c->failed = 1;
    free(sub);
    fg_issue_list_free(&scratch);
    return ok;
}

static int disc_match(fgv_ctx *c, const fg_elem *slice, const fg_discriminator *d,
                      const fg_jv *item)
{
    const fg_jv *vals[FGV_DISC_VALUES];
    size_t n = eval_path(c, item, d->path ? d->path : "$this", vals);
    int url_of_ext = 0;
    const char *ext_url = NULL;
    const fg_elem *e = def_at(c, slice, d->path ? d->path : "$this", &url_of_ext, &ext_url);
    switch (d->kind) {
    case FG_DISC_EXISTS:
        if (e == NULL)
            return 1;
        if (e->min >= 1)
            return n > 0;
        if (e->max == 0)
            return n == 0;
        return 1;
    case FG_DISC_VALUE:
    case FG_DISC_PATTERN:
        if (url_of_ext) {
            for (size_t i = 0; i < n; i++)
                if (fg_jv_is_string(vals[i]) && strcmp(fg_jv_str(vals[i]), ext_url) == 0)
                    return 1;
            return 0;
        }
        if (e == NULL || !has_expectation(e)) {
            /* the value may be fixed further down a re-sliced element */
            const fg_elem *defs[FGV_DISC_DEFS];
            size_t nd = defs_at(c, slice, d->path ? d->path : "$this", defs);
            int any = 0;
            for (size_t k = 0; k < nd; k++) {
                if (!has_expectation(defs[k]))
                    continue;
                any = 1;
                for (size_t i = 0; i < n; i++)
                    if (value_in(defs[k], vals[i]))
                        return 1;
            }
            return !any; /* nothing tells the slices apart: it matches */
        }
        if (e->fixed != NULL || e->pattern != NULL) {
            for (size_t i = 0; i < n; i++) {
                if (e->fixed != NULL && fgv_fixed_match(e->fixed, vals[i]))
                    return 1;
                if (e->fixed == NULL && fgv_pattern_match(e->pattern, vals[i]))
                    return 1;
            }
            return 0;
        }
        if (e->binding == FG_BIND_REQUIRED && e->binding_exp != NULL
            && fg_valueset_status(e->binding_exp) == FG_VS_EXPANDED) {
            for (size_t i = 0; i < n; i++) {
                const fg_jv *v = vals[i];
                if (fg_jv_is_string(v)
                    && fg_valueset_contains(e->binding_exp, NULL, fg_jv_str(v)))
                    return 1;
                const fg_jv *codings = fg_jv_get(v, "coding");
                const fg_jv *one[1] = {v};
                size_t nc = fg_jv_is_array(codings) ? fg_jv_array_size(codings) : 1;
                for (size_t k = 0; k < nc; k++) {
                    const fg_jv *cd = fg_jv_is_array(codings) ? fg_jv_at(codings, k)
                                                               : one[0];
                    const fg_jv *sy = fg_jv_get(cd, "system");
                    const fg_jv *co = fg_jv_get(cd, "code");
                    if (fg_jv_is_string(co)
                        && fg_valueset_contains(e->binding_exp,
                                                fg_jv_is_string(sy) ? fg_jv_str(sy) : NULL,
                                                fg_jv_str(co)))
                        return 1;
                }
            }
            return 0;
        }
        return 1;
    case FG_DISC_TYPE:
    case FG_DISC_PROFILE:
        if (e == NULL)
            return 1;
        for (size_t i = 0; i < n; i++) {
            const char *rt = value_type(vals[i]);
            if (rt == NULL)
                return 1;
            for (size_t k = 0; k < e->n_types; k++) {
                const fg_type_ref *t = &e->types[k];
                const char *const *pl = t->n_targets ? t->targets : t->profiles;
                size_t np = t->n_targets ? t->n_targets : t->n_profiles;
                if (d->kind == FG_DISC_TYPE && np == 0 && strcmp(t->code, rt) == 0)
                    return 1;
                for (size_t j = 0; j < np; j++) {
                    const fg_structure *ps = fgv_canonical(c->v, pl[j]);
                    if (ps == NULL || ps->type == NULL || strcmp(ps->type, rt) != 0)
                        continue;
                    if (d->kind == FG_DISC_TYPE || conforms(c, vals[i], ps))
                        return 1;
                }
                if (np == 0 && (strcmp(t->code, rt) == 0 || strcmp(t->code, "Resource") == 0))
                    return 1;
            }
        }
        return 0;
    }
    return 1;
}

static int match_slice(fgv_ctx *c, const fg_elem *def, const fg_jv *item)
{
    if (def->n_discriminators == 0)
        return -1;
    for (size_t k = 0; k < def->n_slices; k++) {
        const fg_elem *s = def->slices[k];
        int ok = 1;
        for (size_t d = 0; d < def->n_discriminators && ok; d++)
            ok = disc_match(c, s, &def->discriminators[d], item);
        if (ok)
            return (int)k;
    }
    return -1;
}

void fgv_sliced(fgv_ctx *c, const fg_jv *arr, const fg_elem *def, const char *name)
{
    size_t n = fg_jv_array_size(arr);
    int stack_of[128];
    uint32_t stack_cnt[64];
    int *slice_of = n <= 128 ? stack_of : malloc(n * sizeof *slice_of);
    uint32_t *cnt = def->n_slices <= 64 ? stack_cnt : calloc(def->n_slices, sizeof *cnt);
    if (slice_of == NULL || cnt == NULL) {
        c->failed = 1;
        goto out;
    }
    memset(cnt, 0, def->n_slices * sizeof *cnt);
    const fg_type_ref *dtref = def->n_types > 0 ? &def->types[0] : NULL;
    int last = -1, unmatched_seen = 0;
    for (size_t i = 0; i < n && !c->failed; i++) {
        const fg_jv *item = fg_jv_at(arr, i);
        size_t l1 = fgv_path_index(c, i);
        int k = fg_jv_is_null(item) ? -1 : match_slice(c, def, item);
        slice_of[i] = k;
        if (k >= 0) {
            cnt[k]++;
            if (def->slice_ordered && k < last)
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_SLICING, "structure", NULL,
                          "Slice %s comes after slice %s, but %s is ordered",
                          def->slices[k]->slice_name ? def->slices[k]->slice_name : "?",
                          def->slices[last]->slice_name ? def->slices[last]->slice_name : "?",
                          name);
            if (def->slice_rules == FG_SLICE_OPEN_AT_END && unmatched_seen)
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_SLICING, "structure", NULL,
                          "Slicing of %s is open at the end: items matching no slice must "
                          "come after all sliced items",
                          name);
            if (k > last)
                last = k;
        } else {
            unmatched_seen = 1;
            if (def->slice_rules == FG_SLICE_CLOSED && def->n_discriminators > 0)
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_SLICING, "structure", NULL,
                          "This %s matches none of the slices of %s, and the slicing is "
                          "closed",
                          name, def->owner && def->owner->url ? def->owner->url : "the profile");
        }
        if (fg_jv_is_null(item)) {
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_JSON, "structure", NULL,
                      "null is not allowed in FHIR JSON");
        } else if (k >= 0) {
            const fg_elem *s = def->slices[k];
            const fg_type_ref *t = s->n_types > 0 ? &s->types[0] : dtref;
            fgv_value(c, item, NULL, s, t);
        } else {
            fgv_value(c, item, NULL, def, dtref);
        }
        fgv_path_pop(c, l1);
    }
    for (size_t k = 0; k < def->n_slices; k++) {
        const fg_elem *s = def->slices[k];
        const char *sn = s->slice_name ? s->slice_name : "?";
        if (cnt[k] < s->min)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "required", NULL,
                      "Slice %s of %s needs at least %u item%s, found %u (%s)", sn, name,
                      s->min, s->min == 1 ? "" : "s", cnt[k],
                      def->owner && def->owner->url ? def->owner->url : "profile");
        if (cnt[k] > s->max)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "structure", NULL,
                      "Slice %s of %s allows at most %u item%s, found %u", sn, name, s->max,
                      s->max == 1 ? "" : "s", cnt[k]);
    }
out:
    if (slice_of != stack_of)
        free(slice_of);
    if (cnt != stack_cnt)
        free(cnt);
}
