/* SPDX-License-Identifier: Apache-2.0 */
/*
 * valueset.c: expanding the value sets that bindings name, and the
 * membership tests the validator runs against them.
 *
 * An expansion is exact or it is not made. Exact: concepts listed in an
 * include, whole code systems that are loaded and complete, is-a /
 * descendent-of / is-not-a / concept-in / property = filters over a loaded
 * complete code system, imported value sets that are themselves exact,
 * minus the excludes. Hierarchy is the nesting of concepts plus the
 * "child" property (v3 code systems). Anything else
 * (SNOMED CT, LOINC, RxNorm, UCUM, BCP-13 and BCP-47 grammars, a code
 * system or value set not loaded, a filter we do not compute) makes the
 * value set FG_VS_NOT_EXPANDABLE with a note saying why, so the validator
 * reports the binding as not checked rather than guessing.
 *
 * Each expansion holds two hash maps, "system|code" -> display and
 * "code" -> display, so a lookup is one hash either way. Keys and displays
 * are arena strings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/json/fg_jr.h"
#include "profiles/fg_registry.h"
#include "profiles/registry_private.h"

/* Terminologies fhirgen never holds, with the words a note uses. */
static const struct {
    const char *system;
    const char *name;
} external_systems[] = {
    {"http://snomed.info/sct", "SNOMED CT"},
    {"http://loinc.org", "LOINC"},
    {"http://www.nlm.nih.gov/research/umls/rxnorm", "RxNorm"},
    {"http://unitsofmeasure.org", "UCUM"},
    {"urn:ietf:bcp:13", "BCP-13 mime types"},
    {"urn:ietf:bcp:47", "BCP-47 language tags"},
    {"http://hl7.org/fhir/sid/icd-10-cm", "ICD-10-CM"},
    {"http://hl7.org/fhir/sid/icd-10", "ICD-10"},
    {"http://hl7.org/fhir/sid/cvx", "CVX"},
    {"http://hl7.org/fhir/sid/ndc", "NDC"},
    {"http://www.ama-assn.org/go/cpt", "CPT"},
    {"urn:iso:std:iso:3166", "ISO 3166 country codes"},
    {"urn:iso:std:iso:4217", "ISO 4217 currency codes"},
};

static const char *external_name(const char *system)
{
    for (size_t i = 0; i < sizeof external_systems / sizeof *external_systems; i++)
        if (strcmp(system, external_systems[i].system) == 0)
            return external_systems[i].name;
    return NULL;
}

/* ---- code systems ---- */

static int index_concepts(fgr_codesys *cs, const fg_jv *list, int depth)
{
    if (depth > FG_MAX_JSON_DEPTH)
        return FG_ELIMIT;
    size_t i;
    const fg_jv *c;
    fg_jv_array_foreach(list, i, c) {
        const char *code = fgr_str(c, "code");
        if (code && fgr_map_add(&cs->concepts, code, (void *)c) < 0)
            return FG_ENOMEM;
        const fg_jv *sub = fg_jv_get(c, "concept");
        if (sub) {
            int rc = index_concepts(cs, sub, depth + 1);
            if (rc != FG_OK)
                return rc;
        }
    }
    return FG_OK;
}

static int index_codesystems(fg_registry *reg, fg_error *err)
{
    for (size_t i = 0; i < reg->css.n; i++) {
        fgr_codesys *cs = reg->css.items[i];
        const fg_jv *top = fg_jv_get(cs->res, "concept");
        int rc = fgr_map_reserve(&cs->concepts, fg_jv_array_size(top));
        if (rc == FG_OK)
            rc = index_concepts(cs, top, 0);
        if (rc != FG_OK)
            return fg_error_set(err, rc, cs->origin, "CodeSystem %s: %s", cs->url,
                                rc == FG_ELIMIT ? "concepts nested too deep" : "out of memory");
    }
    return FG_OK;
}

/* ---- building an expansion ---- */

/* Add a code under its "system|code" key (an arena string that the maps
 * share) and under `code`, which points into the key or lives as long. */
static int set_add_key(fg_valueset *vs, const char *key, const char *code, const char *display)
{
    const char *d = display ? display : "";
    int rc = fgr_map_add(&vs->by_system, key, (void *)d);
    if (rc < 0)
        return rc;
    if (rc == FG_OK)
        vs->n_codes++;
    rc = fgr_map_add(&vs->by_code, code, (void *)d);
    return rc < 0 ? rc : FG_OK;
}

static int set_add(fg_registry *reg, fg_valueset *vs, const char *system, const char *code,
                   const char *display)
{
    size_t ls = strlen(system), lc = strlen(code);
    char *key = fg_arena_alloc(reg->vs_arena, ls + lc + 2);
    if (!key)
        return FG_ENOMEM;
    memcpy(key, system, ls);
    key[ls] = '|';
    memcpy(key + ls + 1, code, lc + 1);
    return set_add_key(vs, key, code, display);
}

/* Room for n more codes. */
static int set_reserve(fg_valueset *vs, size_t n)
{
    return fgr_map_reserve(&vs->by_system, n) == FG_OK && fgr_map_reserve(&vs->by_code, n) == FG_OK
               ? FG_OK
               : FG_ENOMEM;
}

/* Every code of `from` into `to`, sharing the keys. */
static int set_add_all(fg_valueset *to, const fgr_map *from, const fgr_map *except)
{
    if (set_reserve(to, from->n) != FG_OK)
        return FG_ENOMEM;
    for (size_t i = 0; i < from->cap; i++) {
        const fg_strmap_slot *s = &from->slots[i];
        if (!s->key || (except && fgr_map_get(except, s->key)))
            continue;
        if (set_add_key(to, s->key, strrchr(s->key, '|') + 1, s->val) != FG_OK)
            return FG_ENOMEM;
    }
    return FG_OK;
}

static int not_expandable(fg_registry *reg, fg_valueset *vs, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int not_expandable(fg_registry *reg, fg_valueset *vs, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (vs->status != FG_VS_NOT_EXPANDABLE) {
        vs->status = FG_VS_NOT_EXPANDABLE;
        vs->note = fg_arena_strdup(reg->vs_arena, buf);
        if (!vs->note)
            return FG_ENOMEM;
    }
    return 1; /* stop: the value set is settled */
}

static int add_tree(fg_registry *reg, fg_valueset *vs, const char *system, const fg_jv *list,
                    int include_self_level, int depth)
{
    if (depth > FG_MAX_JSON_DEPTH)
        return FG_ELIMIT;
    size_t i;
    const fg_jv *c;
    fg_jv_array_foreach(list, i, c) {
        const char *code = fgr_str(c, "code");
        if (code && include_self_level && set_add(reg, vs, system, code, fgr_str(c, "display")))
            return FG_ENOMEM;
        const fg_jv *sub = fg_jv_get(c, "concept");
        if (sub) {
            int rc = add_tree(reg, vs, system, sub, 1, depth + 1);
            if (rc != FG_OK)
                return rc;
        }
    }
    return FG_OK;
}

static int property_matches(const fg_jv *concept, const char *prop, const char *value)
{
    size_t i;
    const fg_jv *p, *props = fg_jv_get(concept, "property");
    fg_jv_array_foreach(props, i, p) {
        const char *code = fgr_str(p, "code");
        if (!code || strcmp(code, prop) != 0)
            continue;
        const char *key;
        const fg_jv *v;
        fg_jv_object_foreach(p, key, v) {
            if (strncmp(key, "value", 5) != 0)
                continue;
            if (fg_jv_is_string(v) && strcmp(fg_jv_str(v), value) == 0)
                return 1;
            if (fg_jv_is_boolean(v) && strcmp(fg_jv_is_true(v) ? "true" : "false", value) == 0)
                return 1;
        }
    }
    return 0;
}

static int add_by_property(fg_registry *reg, fg_valueset *vs, const char *system,
                           const fg_jv *list, const char *prop, const char *value, int depth)
{
    if (depth > FG_MAX_JSON_DEPTH)
        return FG_ELIMIT;
    size_t i;
    const fg_jv *c;
    fg_jv_array_foreach(list, i, c) {
        const char *code = fgr_str(c, "code");
        if (code && property_matches(c, prop, value) &&
            set_add(reg, vs, system, code, fgr_str(c, "display")) != FG_OK)
            return FG_ENOMEM;
        const fg_jv *sub = fg_jv_get(c, "concept");
        if (sub) {
            int rc = add_by_property(reg, vs, system, sub, prop, value, depth + 1);
            if (rc != FG_OK)
                return rc;
        }
    }
    return FG_OK;
}

/* The grammars (by system, or by the value sets that stand for them). */
static const char *grammar_note(const char *url)
{
    /* Value sets that enumerate UCUM codes (ucum-vitals-common,
     * ucum-bodyweight) are exact lists and expand like any other. */
    if (strcmp(url, "http://unitsofmeasure.org") == 0 ||
        strcmp(url, "http://hl7.org/fhir/ValueSet/ucum-units") == 0 ||
        strcmp(url, "http://hl7.org/fhir/ValueSet/all-ucum") == 0)
        return "UCUM units are a grammar, not a list: fhirgen checks their syntax only";
    if (strcmp(url, "urn:ietf:bcp:13") == 0 ||
        strcmp(url, "http://hl7.org/fhir/ValueSet/mimetypes") == 0)
        return "mime types (BCP-13) are a grammar, not a list: fhirgen checks their syntax only";
    if (strcmp(url, "urn:ietf:bcp:47") == 0 ||
        strcmp(url, "http://hl7.org/fhir/ValueSet/languages") == 0 ||
        strcmp(url, "http://hl7.org/fhir/ValueSet/all-languages") == 0)
        return "language tags (BCP-47) are a grammar, not a list: fhirgen checks their syntax "
               "only";
    return NULL;
}

static const char *find_key(const fgr_map *m, const char *system, const char *code);

/* Whether system|code is in the set being built (whatever its status). */
static int in_set(const fg_valueset *vs, const char *system, const char *code)
{
    return find_key(&vs->by_system, system, code) != NULL;
}

/* The descendants of `concept`: its nested concepts and the codes its
 * "child" properties name (v3 code systems give some concepts a second
 * parent that way), transitively. */
static int add_descendants(fg_registry *reg, fg_valueset *vs, const fgr_codesys *cs,
                           const fg_jv *concept, int depth)
{
    if (depth > FG_MAX_JSON_DEPTH)
        return FG_ELIMIT;
    size_t i;
    const fg_jv *c, *subs = fg_jv_get(concept, "concept"), *props = fg_jv_get(concept, "property");
    fg_jv_array_foreach(subs, i, c) {
        const char *code = fgr_str(c, "code");
        if (!code || in_set(vs, cs->url, code))
            continue;
        if (set_add(reg, vs, cs->url, code, fgr_str(c, "display")) != FG_OK)
            return FG_ENOMEM;
        int rc = add_descendants(reg, vs, cs, c, depth + 1);
        if (rc != FG_OK)
            return rc;
    }
    const fg_jv *p;
    fg_jv_array_foreach(props, i, p) {
        const char *pc = fgr_str(p, "code"), *code = fgr_str(p, "valueCode");
        if (!pc || strcmp(pc, "child") != 0 || !code || in_set(vs, cs->url, code))
            continue;
        c = fgr_map_get(&cs->concepts, code);
        if (!c)
            continue;
        if (set_add(reg, vs, cs->url, code, fgr_str(c, "display")) != FG_OK)
            return FG_ENOMEM;
        int rc = add_descendants(reg, vs, cs, c, depth + 1);
        if (rc != FG_OK)
            return rc;
    }
    return FG_OK;
}

/* Every concept of `list` except `code` and its descendants. */
static int add_not_under(fg_registry *reg, fg_valueset *vs, const char *system,
                         const fg_jv *list, const char *code, int depth)
{
    if (depth > FG_MAX_JSON_DEPTH)
        return FG_ELIMIT;
    size_t i;
    const fg_jv *c;
    fg_jv_array_foreach(list, i, c) {
        const char *cc = fgr_str(c, "code");
        if (cc && strcmp(cc, code) == 0)
            continue;
        if (cc && set_add(reg, vs, system, cc, fgr_str(c, "display")) != FG_OK)
            return FG_ENOMEM;
        const fg_jv *sub = fg_jv_get(c, "concept");
        if (sub) {
            int rc = add_not_under(reg, vs, system, sub, code, depth + 1);
            if (rc != FG_OK)
                return rc;
        }
    }
    return FG_OK;
}

static int expand_vs(fg_registry *reg, fg_valueset *vs, int depth);

/* One include (or exclude) into `into`. Returns FG_OK, 1 when the value set
 * turned out not expandable, or a negative error. */
static int add_include(fg_registry *reg, fg_valueset *vs, fg_valueset *into, const fg_jv *inc,
                       int depth)
{
    const char *system = fgr_str(inc, "system");
    const fg_jv *imports = fg_jv_get(inc, "valueSet");
    const fg_jv *concepts = fg_jv_get(inc, "concept");
    const fg_jv *filters = fg_jv_get(inc, "filter");
    if (fg_jv_array_size(imports)) {
        if (system || fg_jv_array_size(imports) > 1)
            return not_expandable(reg, vs, "an include intersects value sets with a code "
                                           "system or with each other, which fhirgen does not "
                                           "compute");
        const char *url = fg_jv_str(fg_jv_at(imports, 0));
        fg_valueset *sub = (fg_valueset *)fg_registry_valueset(reg, url);
        if (!sub)
            return not_expandable(reg, vs, "it imports value set %s, which is not loaded",
                                  url ? url : "(no url)");
        int rc = expand_vs(reg, sub, depth + 1);
        if (rc < 0)
            return rc;
        if (sub->status != FG_VS_EXPANDED)
            return not_expandable(reg, vs, "it imports value set %s: %s", sub->url,
                                  sub->note ? sub->note : "not expandable");
        return set_add_all(into, &sub->by_system, NULL);
    }
    if (!system)
        return not_expandable(reg, vs, "an include names neither a system nor a value set");
    if (fg_jv_array_size(concepts)) {
        const fgr_codesys *cs = fgr_map_get(&reg->cs_by_url, system);
        if (set_reserve(into, fg_jv_array_size(concepts)) != FG_OK)
            return FG_ENOMEM;
        size_t i;
        const fg_jv *c;
        fg_jv_array_foreach(concepts, i, c) {
            const char *code = fgr_str(c, "code");
            if (!code)
                continue;
            const char *display = fgr_str(c, "display");
            if (!display && cs)
                display = fgr_str(fgr_map_get(&cs->concepts, code), "display");
            if (set_add(reg, into, system, code, display) != FG_OK)
                return FG_ENOMEM;
        }
        return FG_OK;
    }
    const fgr_codesys *cs = fgr_map_get(&reg->cs_by_url, system);
    const char *ext = external_name(system);
    const char *gram = grammar_note(system);
    if (gram)
        return not_expandable(reg, vs, "%s", gram);
    if (!cs || !cs->complete) {
        if (ext)
            return not_expandable(reg, vs, "it includes %s (%s)%s, which fhirgen does not hold",
                                  ext, system, fg_jv_array_size(filters) ? " by filter" : "");
        if (!cs)
            return not_expandable(reg, vs, "it includes code system %s, which is not loaded "
                                           "(a package dependency may be missing)",
                                  system);
        return not_expandable(reg, vs, "code system %s is not complete (content = %s)", system,
                              fgr_str(cs->res, "content") ? fgr_str(cs->res, "content") : "?");
    }
    const fg_jv *roots = fg_jv_get(cs->res, "concept");
    if (!fg_jv_array_size(filters))
        return set_reserve(into, cs->concepts.n) == FG_OK &&
                       add_tree(reg, into, system, roots, 1, 0) == FG_OK
                   ? FG_OK
                   : FG_ENOMEM;
    if (fg_jv_array_size(filters) > 1)
        return not_expandable(reg, vs, "it combines %zu filters on %s, which fhirgen does not "
                                       "compute",
                              fg_jv_array_size(filters), system);
    const fg_jv *f = fg_jv_at(filters, 0);
    const char *prop = fgr_str(f, "property"), *op = fgr_str(f, "op"), *value = fgr_str(f, "value");
    if (!prop || !op || !value)
        return not_expandable(reg, vs, "a filter on %s lacks property, op or value", system);
    if (strcmp(prop, "concept") == 0 && (strcmp(op, "is-a") == 0 || strcmp(op, "descendent-of") == 0)) {
        const fg_jv *c = fgr_map_get(&cs->concepts, value);
        if (!c)
            return not_expandable(reg, vs, "filter %s %s: code %s is not in %s", op, value, value,
                                  system);
        if (strcmp(op, "is-a") == 0 &&
            set_add(reg, into, system, value, fgr_str(c, "display")) != FG_OK)
            return FG_ENOMEM;
        int rc = add_descendants(reg, into, cs, c, 0);
        if (rc == FG_ELIMIT)
            return not_expandable(reg, vs, "the hierarchy of %s nests deeper than %d", system,
                                  FG_MAX_JSON_DEPTH);
        return rc;
    }
    if (strcmp(prop, "concept") == 0 && strcmp(op, "is-not-a") == 0) {
        if (!fgr_map_get(&cs->concepts, value))
            return not_expandable(reg, vs, "filter is-not-a %s: code %s is not in %s", value,
                                  value, system);
        return add_not_under(reg, into, system, roots, value, 0) == FG_OK ? FG_OK : FG_ENOMEM;
    }
    if (strcmp(prop, "concept") == 0 && strcmp(op, "in") == 0) {
        /* A comma-separated list of codes of the system. */
        const char *p = value;
        while (*p) {
            const char *q = strchr(p, ',');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            char *code = fg_arena_strndup(reg->vs_arena, p, n);
            if (!code)
                return FG_ENOMEM;
            const fg_jv *c = fgr_map_get(&cs->concepts, code);
            if (c && set_add(reg, into, system, code, fgr_str(c, "display")) != FG_OK)
                return FG_ENOMEM;
            p += n;
            if (*p == ',')
                p++;
        }
        return FG_OK;
    }
    if (strcmp(op, "=") == 0)
        return add_by_property(reg, into, system, roots, prop, value, 0) == FG_OK ? FG_OK
                                                                                 : FG_ENOMEM;
    return not_expandable(reg, vs, "filter \"%s %s %s\" on %s is not one fhirgen computes", prop,
                          op, value, system);
}

static int add_contains(fg_registry *reg, fg_valueset *vs, const fg_jv *list, int depth)
{
    if (depth > FG_MAX_JSON_DEPTH)
        return FG_ELIMIT;
    size_t i;
    const fg_jv *c;
    fg_jv_array_foreach(list, i, c) {
        const char *system = fgr_str(c, "system"), *code = fgr_str(c, "code");
        if (system && code && set_add(reg, vs, system, code, fgr_str(c, "display")) != FG_OK)
            return FG_ENOMEM;
        const fg_jv *sub = fg_jv_get(c, "contains");
        if (sub && add_contains(reg, vs, sub, depth + 1) != FG_OK)
            return FG_ENOMEM;
    }
    return FG_OK;
}

static int expand_vs(fg_registry *reg, fg_valueset *vs, int depth)
{
    if (vs->state == 2)
        return FG_OK;
    if (vs->state == 1 || depth > FG_MAX_VALUESET_IMPORT_DEPTH) {
        not_expandable(reg, vs, "its imports form a cycle or nest deeper than %d",
                       FG_MAX_VALUESET_IMPORT_DEPTH);
        return FG_OK;
    }
    vs->state = 1;
    int rc = FG_OK;
    const char *gram = grammar_note(vs->url);
    const fg_jv *compose = fg_jv_get(vs->res, "compose");
    const fg_jv *contains = fg_jv_get(fg_jv_get(vs->res, "expansion"), "contains");
    if (gram) {
        not_expandable(reg, vs, "%s", gram);
    } else if (compose) {
        size_t i;
        const fg_jv *inc, *includes = fg_jv_get(compose, "include");
        const fg_jv *excludes = fg_jv_get(compose, "exclude");
        fg_jv_array_foreach(includes, i, inc) {
            rc = add_include(reg, vs, vs, inc, depth);
            if (rc != FG_OK)
                break;
        }
        if (rc == FG_OK && fg_jv_array_size(excludes)) {
            fg_valueset ex = {.url = vs->url};
            fg_jv_array_foreach(excludes, i, inc) {
                rc = add_include(reg, vs, &ex, inc, depth);
                if (rc != FG_OK)
                    break;
            }
            if (rc == FG_OK) {
                /* Rebuild without the excluded codes. */
                fgr_map old = vs->by_system;
                memset(&vs->by_system, 0, sizeof vs->by_system);
                fgr_map_free(&vs->by_code);
                vs->n_codes = 0;
                rc = set_add_all(vs, &old, &ex.by_system);
                fgr_map_free(&old);
            }
            fgr_map_free(&ex.by_system);
            fgr_map_free(&ex.by_code);
        }
    } else if (contains) {
        rc = add_contains(reg, vs, contains, 0);
    } else {
        not_expandable(reg, vs, "it has neither a compose nor an expansion");
    }
    vs->state = 2;
    if (rc == 1)
        rc = FG_OK;
    if (vs->status != FG_VS_EXPANDED) {
        fgr_map_free(&vs->by_system);
        fgr_map_free(&vs->by_code);
        vs->n_codes = 0;
    }
    return rc;
}

int fgr_expand_all(fg_registry *reg, fg_error *err)
{
    int rc = index_codesystems(reg, err);
    if (rc != FG_OK)
        return rc;
    /* Every value set, bound or not: memberOf() and lookups by url need
     * them too. */
    for (size_t i = 0; i < reg->vss.n; i++) {
        fg_valueset *vs = reg->vss.items[i];
        rc = expand_vs(reg, vs, 0);
        if (rc != FG_OK)
            return fg_error_set(err, rc, vs->origin, "expanding value set %s: %s", vs->url,
                                rc == FG_ELIMIT ? "nested too deep" : "out of memory");
    }
    return FG_OK;
}

int fgr_attach_bindings(fg_registry *reg, fg_error *err)
{
    for (size_t i = 0; i < reg->bound.n; i++) {
        fg_elem *e = reg->bound.items[i];
        e->binding_exp = fgr_map_get(&reg->vs_by_url, e->binding_vs);
        if (!e->binding_exp && strcmp(e->owner->package, FGR_CORE_PACKAGE) != 0 &&
            fgr_note(reg, "value set %s (bound %s by %s) is not loaded: codes bound to it are "
                          "not checked",
                     e->binding_vs, e->binding == FG_BIND_REQUIRED ? "required" : "extensible",
                     e->owner->url) != FG_OK)
            return fg_error_set(err, FG_ENOMEM, "registry", "out of memory");
    }
    return FG_OK;
}

/* ---- reading ---- */

fg_vs_status fg_valueset_status(const fg_valueset *vs)
{
    return vs ? vs->status : FG_VS_NOT_EXPANDABLE;
}

const char *fg_valueset_note(const fg_valueset *vs)
{
    if (!vs)
        return NULL;
    if (vs->status == FG_VS_EXPANDED)
        return NULL;
    return vs->note;
}

static const char *lookup(const fg_valueset *vs, const char *system, const char *code)
{
    if (!vs || !code || vs->status != FG_VS_EXPANDED)
        return NULL;
    if (!system)
        return fgr_map_get(&vs->by_code, code);
    return find_key(&vs->by_system, system, code);
}

static const char *find_key(const fgr_map *m, const char *system, const char *code)
{
    char buf[512];
    size_t ls = strlen(system), lc = strlen(code), n = ls + lc + 2;
    char *key = n <= sizeof buf ? buf : malloc(n);
    if (!key)
        return NULL;
    memcpy(key, system, ls);
    key[ls] = '|';
    memcpy(key + ls + 1, code, lc + 1);
    const char *d = fgr_map_get(m, key);
    if (key != buf)
        free(key);
    return d;
}

int fg_valueset_contains(const fg_valueset *vs, const char *system, const char *code)
{
    return lookup(vs, system, code) != NULL;
}

const char *fg_valueset_display(const fg_valueset *vs, const char *system, const char *code)
{
    const char *d = lookup(vs, system, code);
    return d && *d ? d : NULL;
}
