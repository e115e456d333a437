/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_elem.c: the element walk. An object's properties are matched to
 * the children of the element that describes it (exact names first, then
 * choice elements by type suffix), arrays and single values are checked
 * against the base cardinality, every child's min and max against the
 * profile's, and each value is checked by its type: primitives for JSON type
 * and format (with their `_name` shadows), complex types by recursion into
 * the definition's children or, when the snapshot does not go deeper, into
 * the type's own definition (or the type's profile, or the extension's
 * definition found by its url).
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "fhir/json/fg_jr.h"
#include "validators/validate_private.h"

#define FGV_MAX_SEEN 512 /* children tracked per object for min checks */

static const char *system_type(const char *code)
{
    static const char pfx[] = "http://hl7.org/fhirpath/System.";
    if (strncmp(code, pfx, sizeof pfx - 1) != 0)
        return NULL;
    const char *t = code + sizeof pfx - 1;
    if (strcmp(t, "String") == 0)
        return "string";
    if (strcmp(t, "Boolean") == 0)
        return "boolean";
    if (strcmp(t, "Integer") == 0)
        return "integer";
    if (strcmp(t, "Decimal") == 0)
        return "decimal";
    if (strcmp(t, "Date") == 0)
        return "date";
    if (strcmp(t, "DateTime") == 0)
        return "dateTime";
    if (strcmp(t, "Time") == 0)
        return "time";
    return "string";
}

/* The FHIR primitive type name of a type ref ("uri" for System.String on
 * Extension.url is not known here, so it reads as string). */
static const char *prim_code(const fg_type_ref *t)
{
    const char *s = system_type(t->code);
    return s ? s : t->code;
}

int fgv_is_primitive(const fg_type_ref *t)
{
    if (t == NULL || t->code == NULL)
        return 0;
    if (t->base != NULL)
        return t->base->kind == FG_KIND_PRIMITIVE;
    if (system_type(t->code) != NULL)
        return 1;
    return islower((unsigned char)t->code[0]) && strchr(t->code, ':') == NULL;
}

static int suffix_is(const char *code, const char *suffix)
{
    if (code == NULL || suffix[0] == '\0')
        return 0;
    return toupper((unsigned char)code[0]) == suffix[0] && strcmp(code + 1, suffix + 1) == 0;
}

const fg_type_ref *fgv_choice_type(const fg_elem *def, const char *suffix)
{
    for (size_t i = 0; i < def->n_types; i++)
        if (suffix_is(def->types[i].code, suffix))
            return &def->types[i];
    return NULL;
}

const fg_elem *fgv_child_ix(const fg_validator *v, const fg_elem *parent, const char *name)
{
    if (parent == NULL)
        return NULL;
    int ti;
    long hit = fgv_index_find(v->index, parent, name, &ti);
    if (hit >= 0 && !parent->children[hit]->is_choice)
        return parent->children[hit];
    return fgv_child_named(parent, name);
}

const fg_elem *fgv_child_named(const fg_elem *parent, const char *name)
{
    if (parent == NULL)
        return NULL;
    for (size_t i = 0; i < parent->n_children; i++) {
        const fg_elem *e = parent->children[i];
        if (e->name != NULL && strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}

/* Index of the child of `src` that property `key` belongs to, or -1; for a
 * choice, *tref is the type its suffix names (NULL when not allowed). */
static long find_child(const fgv_ctx *c, const fg_elem *src, const char *key,
                       const fg_type_ref **tref, int *bad_choice)
{
    *tref = NULL;
    *bad_choice = 0;
    int ti;
    long hit = fgv_index_find(c->v->index, src, key, &ti);
    if (hit >= 0) {
        const fg_elem *e = src->children[hit];
        *tref = ti >= 0 && (size_t)ti < e->n_types ? &e->types[ti] : NULL;
        return hit;
    }
    char k0 = key[0];
    for (size_t i = 0; i < src->n_children; i++) {
        const fg_elem *e = src->children[i];
        if (!e->is_choice && e->name != NULL && e->name[0] == k0 && strcmp(e->name, key) == 0) {
            *tref = e->n_types > 0 ? &e->types[0] : NULL;
            return (long)i;
        }
    }
    for (size_t i = 0; i < src->n_children; i++) {
        const fg_elem *e = src->children[i];
        if (!e->is_choice || e->name == NULL || e->name[0] != k0)
            continue;
        size_t n = strlen(e->name);
        if (strncmp(e->name, key, n) != 0 || !isupper((unsigned char)key[n]))
            continue;
        *tref = fgv_choice_type(e, key + n);
        if (*tref == NULL)
            *bad_choice = 1;
        return (long)i;
    }
    return -1;
}

const fg_elem *fgv_children_source(const fgv_ctx *c, const fg_elem *def, const fg_type_ref *tref,
                                   const fg_structure **type_out)
{
    const fg_structure *type = NULL;
    if (tref != NULL) {
        type = tref->base;
        if (type == NULL && tref->code != NULL)
            type = fg_registry_type(c->v->reg, tref->code);
    }
    *type_out = type;
    if (def->content_ref != NULL)
        return def->content_ref;
    if (def->n_children > 0)
        return def;
    if (tref != NULL && tref->n_profiles > 0) {
        const fg_structure *p = fgv_canonical(c->v, tref->profiles[0]);
        if (p != NULL && p->root != NULL) {
            *type_out = p;
            return p->root;
        }
    }
    return type != NULL ? type->root : NULL;
}

static int is_resource_type(const fgv_ctx *c, const fg_type_ref *t)
{
    if (t == NULL || t->code == NULL)
        return 0;
    if (t->base != NULL)
        return t->base->kind == FG_KIND_RESOURCE;
    if (strcmp(t->code, "Resource") == 0 || strcmp(t->code, "DomainResource") == 0)
        return 1;
    const fg_structure *s = fg_registry_type(c->v->reg, t->code);
    return s != NULL && s->kind == FG_KIND_RESOURCE;
}

/* An extension's definition: from the element, its type profile, or its url. */
static const fg_elem *extension_source(fgv_ctx *c, const fg_jv *val, const fg_elem *def,
                                       const fg_type_ref *tref, const fg_structure **type,
                                       const char **url_out)
{
    const fg_jv *u = fg_jv_get(val, "url");
    const char *url = fg_jv_is_string(u) ? fg_jv_str(u) : NULL;
    *url_out = url;
    if (def->n_children > 0) {
        *type = c->v->extension;
        return def;
    }
    const fg_structure *ext = NULL;
    if (tref != NULL && tref->n_profiles > 0)
        ext = fgv_canonical(c->v, tref->profiles[0]);
    if (ext == NULL && url != NULL)
        ext = fg_registry_structure(c->v->reg, url);
    if (ext != NULL && ext->root != NULL && ext->type != NULL
        && strcmp(ext->type, "Extension") == 0) {
        fgv_extension_context(c, ext, c->holder_def, c->holder_type);
        *type = ext;
        return ext->root;
    }
    if (url != NULL && strchr(url, ':') != NULL) {
        int modifier = def->name != NULL && strcmp(def->name, "modifierExtension") == 0;
        /* An unknown extension cannot be judged either way: a warning, for
         * modifiers too (the instance may be valid; what the specification
         * forbids is processing it without understanding the modifier). */
        if (modifier)
            fgv_issue(c, FG_SEV_WARNING, FG_CHECK_EXTENSION, "structure", NULL,
                      "Unknown modifier extension %s: its content was not checked, and a "
                      "system that does not understand it must not process the resource "
                      "(load the package that defines it)",
                      url);
        else
            fgv_issue(c, FG_SEV_WARNING, FG_CHECK_EXTENSION, "structure", NULL,
                      "Unknown extension %s: its content was not checked (load the package "
                      "that defines it)",
                      url);
    }
    *type = c->v->extension;
    return c->v->extension ? c->v->extension->root : NULL;
}

static int has_extension(const fg_jv *shadow)
{
    const fg_jv *e = fg_jv_get(shadow, "extension");
    return fg_jv_is_array(e) && fg_jv_array_size(e) > 0;
}

void fgv_value(fgv_ctx *c, const fg_jv *val, const fg_jv *shadow, const fg_elem *def,
               const fg_type_ref *tref)
{
    if (c->failed)
        return;
    if (tref != NULL && fgv_is_primitive(tref)) {
        const char *code = prim_code(tref);
        if (code != tref->code && def->name != NULL) {
            /* System.String in the definitions: Resource.id is an id (the
             * spec's rule for logical ids), Extension.url a uri. */
            if (strcmp(def->name, "id") == 0 && def->parent != NULL
                && def->parent->parent == NULL && def->owner != NULL
                && def->owner->kind == FG_KIND_RESOURCE)
                code = "id";
            else if (strcmp(def->name, "url") == 0)
                code = "uri";
        }
        if (val != NULL)
            fgv_primitive(c, val, code);
        if (shadow != NULL && !fg_jv_is_null(shadow)) {
            if (!fg_jv_is_object(shadow)) {
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                          "The `_%s` companion of a primitive must be an object with id or "
                          "extension",
                          def->name ? def->name : "");
            } else if (fg_jv_get(shadow, "value") != NULL) {
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                          "The `_%s` companion must not hold a value: put it in `%s`",
                          def->name ? def->name : "", def->name ? def->name : "");
            } else {
                const fg_structure *pt = tref->base;
                const fg_elem *sh = c->holder_def;
                const fg_structure *st = c->holder_type;
                const char *su = c->holder_ext_url;
                c->holder_def = def;
                c->holder_type = pt;
                c->holder_ext_url = NULL;
                c->depth++;
                fgv_object(c, shadow, pt ? pt->root : NULL, pt, 0);
                c->depth--;
                c->holder_def = sh;
                c->holder_type = st;
                c->holder_ext_url = su;
            }
        }
        if (val == NULL || fg_jv_is_null(val)) {
            if (shadow == NULL || !fg_jv_is_object(shadow) || !has_extension(shadow))
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_INVARIANT, "invariant", "ele-1",
                          "A primitive without a value must have extensions (ele-1)");
            return;
        }
        if (def->fixed != NULL || def->pattern != NULL)
            fgv_fixed_pattern(c, val, def);
        if (def->binding >= FG_BIND_EXTENSIBLE && c->v->opts.check_bindings)
            fgv_binding(c, val, def, code);
        if (def->n_constraints > 0 && c->v->opts.check_invariants)
            fgv_invariants(c, val, def, code);
        return;
    }
    if (!fg_jv_is_object(val)) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_TYPE, "structure", NULL,
                  "Expected a JSON object for type %s, found %s",
                  tref && tref->code ? tref->code : "BackboneElement",
                  fg_jv_is_string(val)    ? "a string"
                  : fg_jv_is_number(val)  ? "a number"
                  : fg_jv_is_boolean(val) ? "a boolean"
                  : fg_jv_is_array(val)   ? "an array"
                                         : "null");
        return;
    }
    if (c->depth >= FG_MAX_JSON_DEPTH) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_JSON, "too-costly", NULL,
                  "Nesting deeper than %d levels is not validated", FG_MAX_JSON_DEPTH);
        return;
    }
    if (is_resource_type(c, tref)) {
        int saved = c->in_contained;
        const fg_elem *sh = c->holder_def;
        if (def->name != NULL && strcmp(def->name, "contained") == 0)
            c->in_contained = 1;
        const fg_structure *prof = NULL;
        if (tref->n_profiles > 0)
            prof = fgv_canonical(c->v, tref->profiles[0]);
        fgv_resource(c, val, prof);
        c->in_contained = saved;
        c->holder_def = sh;
        return;
    }

    const fg_structure *type = NULL;
    const fg_elem *src;
    const char *ext_url = NULL;
    int is_ext = tref != NULL && tref->code != NULL
                 && (tref->base != NULL ? tref->base == c->v->extension
                                        : strcmp(tref->code, "Extension") == 0);
    if (is_ext)
        src = extension_source(c, val, def, tref, &type, &ext_url);
    else
        src = fgv_children_source(c, def, tref, &type);

    const fg_elem *sh = c->holder_def;
    const fg_structure *st = c->holder_type;
    const char *su = c->holder_ext_url;
    c->holder_def = def;
    c->holder_type = type;
    if (is_ext)
        c->holder_ext_url = ext_url;
    c->depth++;
    fgv_object(c, val, src, type, 0);
    c->depth--;
    c->holder_def = sh;
    c->holder_type = st;
    c->holder_ext_url = su;

    if (def->fixed != NULL || def->pattern != NULL)
        fgv_fixed_pattern(c, val, def);
    const char *code = tref ? tref->code : NULL;
    if (def->binding >= FG_BIND_EXTENSIBLE && c->v->opts.check_bindings && code != NULL)
        fgv_binding(c, val, def, code);
    if (code != NULL && (tref->base != NULL ? tref->base == c->v->reference
                                            : strcmp(code, "Reference") == 0))
        fgv_reference(c, val, def, tref);
    if (c->v->opts.check_invariants) {
        fgv_invariants(c, val, def, code);
        /* The type's own invariants (ref-1, qty-3, ...) when the walk took
         * its children from elsewhere; keys already on the element are
         * skipped inside. */
        if (src != NULL && src != def && src->n_constraints > 0)
            fgv_invariants_except(c, val, src, code, def);
    }
}

/* Type slices of a choice element: the slice whose type is the one used. */
static const fg_elem *choice_slice(const fg_elem *def, const fg_type_ref *tref,
                                   const fg_type_ref **slice_tref)
{
    for (size_t i = 0; i < def->n_slices; i++) {
        const fg_elem *s = def->slices[i];
        for (size_t k = 0; k < s->n_types; k++)
            if (s->types[k].code != NULL && strcmp(s->types[k].code, tref->code) == 0) {
                *slice_tref = &s->types[k];
                return s;
            }
    }
    return NULL;
}

static void property(fgv_ctx *c, const char *key, const fg_jv *val, const fg_jv *shadow,
                     const fg_elem *def, const fg_type_ref *tref)
{
    size_t l0 = fgv_path_push(c, key);
    int prim = fgv_is_primitive(tref);
    if (def->max == 0) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "structure", NULL,
                  "Element %s is not allowed here (max 0)", key);
        goto out;
    }
    if (val != NULL && fg_jv_is_null(val)) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_JSON, "structure", NULL,
                  "null is not allowed in FHIR JSON: leave the property out");
        goto out;
    }
    const fg_jv *v_or_s = val ? val : shadow;
    if (def->is_array) {
        if (!fg_jv_is_array(v_or_s)) {
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                      "%s%s repeats, so it must be a JSON array", val ? "" : "_", key);
            if (fg_jv_is_object(v_or_s) || val != NULL)
                fgv_value(c, val, val ? NULL : shadow, def, tref);
            goto out;
        }
        size_t n = fg_jv_array_size(v_or_s);
        if (n == 0) {
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_JSON, "structure", NULL,
                      "Empty arrays are not allowed in FHIR JSON: leave the property out");
            goto out;
        }
        if (val != NULL && shadow != NULL) {
            if (!fg_jv_is_array(shadow)) {
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                          "_%s must be an array matching %s item by item", key, key);
                shadow = NULL;
            } else if (fg_jv_array_size(shadow) != n) {
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                          "_%s has %zu items but %s has %zu: they pair item by item (use "
                          "null for a missing side)",
                          key, fg_jv_array_size(shadow), key, n);
                shadow = NULL;
            }
        }
        if (n > def->max)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "structure", NULL,
                      "%s allows at most %u item%s, found %zu", key, def->max,
                      def->max == 1 ? "" : "s", n);
        if (n < def->min)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "required", NULL,
                      "%s needs at least %u items, found %zu", key, def->min, n);
        if (def->sliced && def->n_slices > 0 && val != NULL && !prim) {
            fgv_sliced(c, val, def, key);
            goto out;
        }
        for (size_t i = 0; i < n && !c->failed; i++) {
            const fg_jv *it = val ? fg_jv_at(val, i) : NULL;
            const fg_jv *sh = shadow ? fg_jv_at(shadow, i) : (val ? NULL : fg_jv_at(v_or_s, i));
            size_t l1 = fgv_path_index(c, i);
            if (it != NULL && fg_jv_is_null(it)) {
                if (!prim || sh == NULL || fg_jv_is_null(sh))
                    fgv_issue(c, FG_SEV_ERROR, FG_CHECK_JSON, "structure", NULL,
                              "null is only allowed as a placeholder in an array of "
                              "primitives paired with a `_%s` entry",
                              key);
                else
                    fgv_value(c, NULL, sh, def, tref);
            } else if (sh != NULL && fg_jv_is_null(sh)) {
                if (it == NULL)
                    fgv_issue(c, FG_SEV_ERROR, FG_CHECK_JSON, "structure", NULL,
                              "null placeholder without a value in %s", key);
                else
                    fgv_value(c, it, NULL, def, tref);
            } else {
                fgv_value(c, it, sh, def, tref);
            }
            fgv_path_pop(c, l1);
        }
        goto out;
    }
    if (fg_jv_is_array(v_or_s)) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                  "%s%s does not repeat, so it must not be a JSON array", val ? "" : "_", key);
        goto out;
    }
    if (def->is_choice && def->sliced && tref != NULL) {
        const fg_type_ref *st = NULL;
        const fg_elem *s = choice_slice(def, tref, &st);
        if (s != NULL) {
            if (s->max == 0)
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "structure", NULL,
                          "Type %s is not allowed here (max 0)", tref->code);
            else
                fgv_value(c, val, shadow, s, st);
            goto out;
        }
    }
    fgv_value(c, val, shadow, def, tref);
out:
    fgv_path_pop(c, l0);
}

void fgv_object(fgv_ctx *c, const fg_jv *obj, const fg_elem *src, const fg_structure *type,
                int is_root)
{
    if (c->failed)
        return;
    if (fg_jv_object_size(obj) == 0) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_JSON, "structure", NULL,
                  "Empty objects are not allowed in FHIR JSON: give it content or leave it out");
        return;
    }
    if (src == NULL)
        return; /* nothing known below: the caller said why, or the type is open */
    const char *tname = type && type->type ? type->type : (src->path ? src->path : "?");
    size_t nch = src->n_children;
    uint16_t seen[FGV_MAX_SEEN];
    size_t ntrack = nch < FGV_MAX_SEEN ? nch : FGV_MAX_SEEN;
    memset(seen, 0, ntrack * sizeof seen[0]);
    int only_id = 1;
    int any_shadow = 0;

    const char *key;
    const fg_jv *val;
    fg_jv_object_foreach(obj, key, val)
    {
        if (key[0] == '_') {
            any_shadow = 1;
            break;
        }
    }
    fg_jv_object_foreach(obj, key, val)
    {
        if (strcmp(key, "id") != 0)
            only_id = 0;
        if (key[0] == 'r' && strcmp(key, "resourceType") == 0
            && (is_root || fgv_child_named(src, "resourceType") == NULL)) {
            if (!is_root) {
                size_t l0 = fgv_path_push(c, key);
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                          "resourceType belongs only at the start of a resource, not in %s",
                          tname);
                fgv_path_pop(c, l0);
            }
            continue;
        }
        const char *name = key;
        int is_shadow = key[0] == '_';
        if (is_shadow) {
            name = key + 1;
            if (fg_jv_get(obj, name) != NULL)
                continue; /* checked with its value */
        }
        const fg_type_ref *tref;
        int bad_choice;
        long idx = find_child(c, src, name, &tref, &bad_choice);
        if (idx < 0) {
            size_t l0 = fgv_path_push(c, key);
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                      "Unknown element '%s' in %s: not defined by FHIR R4 (check the "
                      "spelling, or move it into an extension)",
                      key, tname);
            fgv_path_pop(c, l0);
            continue;
        }
        const fg_elem *def = src->children[idx];
        if (bad_choice) {
            size_t l0 = fgv_path_push(c, key);
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_TYPE, "structure", NULL,
                      "%s[x] does not allow type %s here (%s)", def->name,
                      name + strlen(def->name), key);
            fgv_path_pop(c, l0);
            continue;
        }
        if ((size_t)idx < ntrack) {
            if (def->is_choice && seen[idx] > 0) {
                size_t l0 = fgv_path_push(c, key);
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "structure", NULL,
                          "Only one %s[x] is allowed: found a second one (%s)", def->name,
                          key);
                fgv_path_pop(c, l0);
            }
            if (seen[idx] < UINT16_MAX)
                seen[idx]++;
        }
        if (is_shadow && !fgv_is_primitive(tref)) {
            size_t l0 = fgv_path_push(c, key);
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                      "%s is not a primitive, so `%s` is not allowed", name, key);
            fgv_path_pop(c, l0);
            continue;
        }
        const fg_jv *shadow = NULL;
        if (!is_shadow && any_shadow && fgv_is_primitive(tref)) {
            char sk[256];
            size_t kl = strlen(key);
            if (kl + 2 < sizeof sk) {
                sk[0] = '_';
                memcpy(sk + 1, key, kl + 1);
                shadow = fg_jv_get(obj, sk);
            }
        }
        if (is_shadow)
            property(c, name, NULL, val, def, tref);
        else
            property(c, key, val, shadow, def, tref);
        if (c->failed)
            return;
    }
    if (only_id && !is_root)
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_INVARIANT, "invariant", "ele-1",
                  "An element must have a value or children other than id (ele-1)");

    for (size_t i = 0; i < ntrack; i++) {
        const fg_elem *d = src->children[i];
        if (seen[i] == 0 && d->min > 0) {
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "required", NULL,
                      "Missing required element %s%s in %s (min %u)", d->name ? d->name : "?",
                      d->is_choice ? "[x]" : "", tname, d->min);
        }
    }
    if (is_root && c->v->opts.check_invariants)
        fgv_invariants(c, obj, src, type ? type->type : NULL);
}
