/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_invariant.c: constraints (FHIRPath invariants) and the context
 * of extensions.
 *
 * The invariants found on nearly every element are implemented natively,
 * with the same semantics as their FHIRPath, because evaluating them per
 * element would dominate the run time:
 *   ele-1  hasValue() or (children().count() > id.count())   (validate_elem.c)
 *   ext-1  extension.exists() != value.exists()
 *   dom-2  contained.contained.empty()
 *   dom-3  every contained resource is referenced from the rest of the
 *          resource (or references the container with "#")
 *   dom-4  contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()
 *   dom-5  contained.meta.security.empty()
 *   dom-6  text.`div`.exists()   (a warning: best practice)
 *   qty-3, cpt-2, att-1  "x.empty() or y.exists()"; sqty-1 comparator.empty()
 *   obs-6, vs-1, vs-2, vs-3 and "url.exists() or data.exists()": matched by
 *          their exact expression text (fgv_expr_kind), see native_exprs
 *   txt-2  the div has non-whitespace content (R4 writes it as htmlChecks(),
 *          the same expression as txt-1, so only the key tells them apart)
 *   ref-1  a "#id" reference names a contained resource: the reference
 *          check reports it (validate_reference.c, check reference)
 *   bdl-*  the Bundle rules                                    (validate_bundle.c)
 * Every other constraint with a compiled expression is evaluated with the
 * FHIRPath evaluator; one without is reported once as not checked, and so is
 * one whose evaluation fails at run time (never a false error).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "validators/validate_private.h"

static int has_value_x(const fg_jv *o)
{
    const char *k;
    const fg_jv *v;
    fg_jv_object_foreach(o, k, v)
    {
        /* a value present only through its `_valueX` extensions counts */
        (void)v;
        const char *name = k[0] == '_' ? k + 1 : k;
        if (strncmp(name, "value", 5) == 0 && isupper((unsigned char)name[5]))
            return 1;
    }
    return 0;
}

/* 1 when some "reference" string under `j` equals `ref`, skipping `skip`. */
static int refers_to(const fg_jv *j, const char *ref, const fg_jv *skip, int depth)
{
    if (j == skip || depth > 64)
        return 0;
    if (fg_jv_is_object(j)) {
        const char *k;
        const fg_jv *v;
        fg_jv_object_foreach(j, k, v)
        {
            if (fg_jv_is_string(v)) {
                /* Reference.reference, and canonical or uri values (dom-3
                 * reads descendants().as(canonical) and .as(uri) too) */
                (void)k;
                if (strcmp(fg_jv_str(v), ref) == 0)
                    return 1;
            } else if (refers_to(v, ref, skip, depth + 1)) {
                return 1;
            }
        }
    } else if (fg_jv_is_array(j)) {
        size_t i;
        const fg_jv *v;
        fg_jv_array_foreach(j, i, v) if (refers_to(v, ref, skip, depth + 1)) return 1;
    } else if (fg_jv_is_string(j)) {
        return strcmp(fg_jv_str(j), ref) == 0;
    }
    return 0;
}

/* "#" anywhere in a contained resource's references: it points back at
 * its container, which dom-3 accepts. */
static int refers_to_container(const fg_jv *j, int depth)
{
    return refers_to(j, "#", NULL, depth);
}

static void dom_rules(fgv_ctx *c, const fg_jv *res, const char *key, int is_error)
{
    const fg_jv *contained = fg_jv_get(res, "contained");
    size_t i;
    const fg_jv *r;
    if (strcmp(key, "dom-6") == 0) {
        const fg_jv *text = fg_jv_get(res, "text");
        if (!fg_jv_is_object(text) || fg_jv_get(text, "div") == NULL)
            fgv_issue(c, is_error ? FG_SEV_ERROR : FG_SEV_WARNING, FG_CHECK_INVARIANT,
                      "invariant", "dom-6",
                      "A resource should have narrative for robust management (dom-6)");
        return;
    }
    if (!fg_jv_is_array(contained))
        return;
    size_t l0 = fgv_path_push(c, "contained");
    fg_jv_array_foreach(contained, i, r)
    {
        if (!fg_jv_is_object(r))
            continue;
        size_t l1 = fgv_path_index(c, i);
        const fg_jv *meta = fg_jv_get(r, "meta");
        if (strcmp(key, "dom-2") == 0 && fg_jv_get(r, "contained") != NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_INVARIANT, "invariant", "dom-2",
                      "A contained resource must not contain resources (dom-2)");
        else if (strcmp(key, "dom-4") == 0 && fg_jv_is_object(meta)
                 && (fg_jv_get(meta, "versionId") || fg_jv_get(meta, "lastUpdated")))
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_INVARIANT, "invariant", "dom-4",
                      "A contained resource must not have meta.versionId or meta.lastUpdated "
                      "(dom-4)");
        else if (strcmp(key, "dom-5") == 0 && fg_jv_is_object(meta)
                 && fg_jv_get(meta, "security"))
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_INVARIANT, "invariant", "dom-5",
                      "A contained resource must not have a security label (dom-5)");
        else if (strcmp(key, "dom-3") == 0) {
            const fg_jv *id = fg_jv_get(r, "id");
            if (fg_jv_is_string(id)) {
                char ref[160];
                snprintf(ref, sizeof ref, "#%s", fg_jv_str(id));
                if (!refers_to(res, ref, contained, 0) && !refers_to_container(r, 0)) {
                    /* siblings may refer to it too */
                    int sib = 0;
                    size_t k;
                    const fg_jv *o;
                    fg_jv_array_foreach(contained, k, o) if (o != r && refers_to(o, ref, NULL, 0))
                        sib = 1;
                    if (!sib)
                        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_INVARIANT, "invariant", "dom-3",
                                  "Contained resource %s is not referenced from the rest of "
                                  "the resource (dom-3)",
                                  ref);
                }
            }
        }
        fgv_path_pop(c, l1);
    }
    fgv_path_pop(c, l0);
}

/* ---- the FHIRPath environment ---- */

static const fg_elem *child_of(const fg_elem *e, const char *name)
{
    if (e == NULL)
        return NULL;
    if (e->content_ref)
        e = e->content_ref;
    for (size_t i = 0; i < e->n_children; i++) {
        const fg_elem *ch = e->children[i];
        if (ch->name != NULL && strcmp(ch->name, name) == 0)
            return ch;
    }
    return NULL;
}

static const char *cb_child_type(void *ctx, const char *parent_type, const char *name)
{
    fgv_ctx *c = ctx;
    if (parent_type == NULL || name == NULL)
        return NULL;
    char first[128];
    const char *dot = strchr(parent_type, '.');
    size_t fl = dot ? (size_t)(dot - parent_type) : strlen(parent_type);
    if (fl >= sizeof first)
        return NULL;
    memcpy(first, parent_type, fl);
    first[fl] = '\0';
    const fg_structure *s = fg_registry_type(c->v->reg, first);
    if (s == NULL || s->root == NULL)
        return NULL;
    const fg_elem *e = s->root;
    while (dot != NULL && e != NULL) {
        const char *seg = dot + 1;
        dot = strchr(seg, '.');
        size_t sl = dot ? (size_t)(dot - seg) : strlen(seg);
        char nm[128];
        if (sl >= sizeof nm)
            return NULL;
        memcpy(nm, seg, sl);
        nm[sl] = '\0';
        char *br = strchr(nm, '[');
        if (br)
            *br = '\0';
        e = child_of(e, nm);
    }
    const fg_elem *ch = child_of(e, name);
    if (ch == NULL || ch->is_choice)
        return NULL;
    if (ch->content_ref != NULL)
        return ch->content_ref->path;
    if (ch->n_types == 0)
        return ch->path;
    const char *code = ch->types[0].code;
    if (strcmp(code, "BackboneElement") == 0 || strcmp(code, "Element") == 0)
        return ch->path;
    return code;
}

static const fg_jv *cb_resolve(void *ctx, const fg_jv *from, const char *ref)
{
    const char *t;
    return fgv_resolve(ctx, from, ref, &t);
}

static int cb_member_of(void *ctx, const fg_jv *coded, const char *coded_type, const char *vsurl)
{
    fgv_ctx *c = ctx;
    (void)coded_type;
    const fg_valueset *vs = fg_registry_valueset(c->v->reg, vsurl);
    if (vs == NULL || fg_valueset_status(vs) != FG_VS_EXPANDED)
        return -1;
    if (fg_jv_is_string(coded))
        return fg_valueset_contains(vs, NULL, fg_jv_str(coded));
    const fg_jv *codings = fg_jv_get(coded, "coding");
    if (fg_jv_is_array(codings)) {
        size_t i;
        const fg_jv *cd;
        fg_jv_array_foreach(codings, i, cd)
        {
            const fg_jv *sy = fg_jv_get(cd, "system"), *co = fg_jv_get(cd, "code");
            if (fg_jv_is_string(co)
                && fg_valueset_contains(vs, fg_jv_is_string(sy) ? fg_jv_str(sy) : NULL,
                                        fg_jv_str(co)))
                return 1;
        }
        return 0;
    }
    const fg_jv *sy = fg_jv_get(coded, "system"), *co = fg_jv_get(coded, "code");
    if (!fg_jv_is_string(co))
        return -1;
    return fg_valueset_contains(vs, fg_jv_is_string(sy) ? fg_jv_str(sy) : NULL,
                                fg_jv_str(co));
}

typedef enum native_kind {
    NK_NONE = 0, /* evaluated with FHIRPath */
    NK_ELE1,
    NK_EXT1,
    NK_DOM,
    NK_BDL,
    NK_REF1,
    NK_SQTY1,
    NK_EMPTY_OR_EXISTS, /* "a.empty() or b.exists()" */
    NK_TXT2,
} native_kind;

/* txt-2: the narrative has some non-whitespace content (text outside the
 * tags, or an image). txt-1 and txt-2 share the expression htmlChecks() in
 * R4, so txt-2 is told apart by its key. */
static int has_content(const char *div)
{
    int in_tag = 0;
    for (const char *p = div; *p; p++) {
        if (in_tag) {
            if (*p == '>')
                in_tag = 0;
        } else if (*p == '<') {
            if (strncmp(p + 1, "img", 3) == 0 && !isalnum((unsigned char)p[4]))
                return 1;
            in_tag = 1;
        } else if (!isspace((unsigned char)*p)) {
            return 1;
        }
    }
    return 0;
}

/* The native constraints of the form "a.empty() or b.exists()": key, a, b. */
static const char *const empty_or_exists[][3] = {
    {"qty-3", "code", "system"},
    {"cpt-2", "value", "system"},
    {"att-1", "data", "contentType"},
};

static native_kind classify(const char *key, size_t *eoe)
{
    switch (key[0]) {
    case 'e':
        if (strcmp(key, "ele-1") == 0)
            return NK_ELE1;
        if (strcmp(key, "ext-1") == 0)
            return NK_EXT1;
        return NK_NONE;
    case 'd':
        return strncmp(key, "dom-", 4) == 0 ? NK_DOM : NK_NONE;
    case 'b':
        return strncmp(key, "bdl-", 4) == 0 ? NK_BDL : NK_NONE;
    case 'r':
        return strcmp(key, "ref-1") == 0 ? NK_REF1 : NK_NONE;
    case 's':
        return strcmp(key, "sqty-1") == 0 ? NK_SQTY1 : NK_NONE;
    case 't':
        return strcmp(key, "txt-2") == 0 ? NK_TXT2 : NK_NONE;
    case 'q':
    case 'c':
    case 'a':
        for (size_t e = 0; e < sizeof empty_or_exists / sizeof empty_or_exists[0]; e++)
            if (strcmp(key, empty_or_exists[e][0]) == 0) {
                *eoe = e;
                return NK_EMPTY_OR_EXISTS;
            }
        return NK_NONE;
    default:
        return NK_NONE;
    }
}

/* Expressions met on nearly every Observation, matched by their exact text
 * (not by key, so a profile that reuses a key with another expression still
 * goes to the evaluator) and checked natively with the same meaning. */
static const char *const native_exprs[] = {
    NULL,
    "dataAbsentReason.empty() or value.empty()", /* obs-6 */
    "(component.empty() and hasMember.empty()) implies (dataAbsentReason.exists() or "
    "value.exists())",                              /* vs-2 */
    "value.exists() or dataAbsentReason.exists()", /* vs-3 */
    "($this as dateTime).toString().length() >= 8", /* vs-1 */
    "url.exists() or data.exists()",
};

int fgv_expr_kind(const char *expr)
{
    if (expr == NULL)
        return 0;
    for (size_t i = 1; i < sizeof native_exprs / sizeof native_exprs[0]; i++)
        if (strcmp(expr, native_exprs[i]) == 0)
            return (int)i;
    return 0;
}

static int present(const fg_jv *o, const char *k)
{
    return fg_jv_get(o, k) != NULL;
}

int fgv_expr_native(fgv_ctx *c, int kind, const fg_jv *val, const fg_elem *def, const char *type)
{
    (void)c;
    (void)def;
    if (kind == 4) /* a dateTime of at least day precision; anything else is empty: true */
        return !(fg_jv_is_string(val) && type != NULL && strcmp(type, "dateTime") == 0)
               || strlen(fg_jv_str(val)) >= 8;
    if (!fg_jv_is_object(val))
        return 1;
    switch (kind) {
    case 1:
        return !present(val, "dataAbsentReason") || !has_value_x(val);
    case 2:
        if (present(val, "component") || present(val, "hasMember"))
            return 1;
        return present(val, "dataAbsentReason") || has_value_x(val);
    case 3:
        return has_value_x(val) || present(val, "dataAbsentReason");
    case 5:
        return present(val, "url") || present(val, "data");
    default:
        return 1;
    }
}

static void evaluate(fgv_ctx *c, const fg_jv *val, const fg_elem *def, const char *type,
                     const fg_constraint *k)
{
    if (k->compiled == NULL) {
        if (!fgv_once(c->v, k))
            return;
        fgv_not_checked(c, "invariant %s (%s) not checked: its expression could not be "
                              "compiled: %s",
                        k->key, k->source ? k->source : "?",
                        k->expression ? k->expression : "(none)");
        return;
    }
    const char *focus_type = type;
    if (def->parent == NULL)
        focus_type = def->owner && def->owner->kind == FG_KIND_RESOURCE
                         ? NULL /* a resource root: the evaluator reads resourceType */
                         : (def->owner ? def->owner->type : type);
    else if (type == NULL || strcmp(type, "BackboneElement") == 0 || strcmp(type, "Element") == 0)
        focus_type = def->path;
    fg_fhirpath_env env = {
        .resource = c->resource,
        .root_resource = c->container ? c->container : c->resource,
        .ctx = c,
        .child_type = cb_child_type,
        .resolve = cb_resolve,
        .member_of = cb_member_of,
        .conforms_to = NULL,
    };
    int result = -1;
    fg_error err;
    err.code = 0;
    err.line = 0;
    err.where[0] = '\0';
    err.text[0] = '\0';
    int rc = fg_fhirpath_eval_bool(k->compiled, val, focus_type, &env, &result, &err);
    if (rc == FG_ENOMEM) {
        c->failed = 1; /* out of memory is no reason to skip the invariant */
        return;
    }
    if (rc != FG_OK) {
        fgv_not_checked(c, "invariant %s (%s) not checked: evaluation failed: %s", k->key,
                        k->source ? k->source : "?", err.text);
        return;
    }
    if (result == 0)
        fgv_issue(c, k->is_error ? FG_SEV_ERROR : FG_SEV_WARNING, FG_CHECK_INVARIANT,
                  "invariant", k->key, "%s (%s)", k->human ? k->human : "Constraint failed",
                  k->key);
}

static int has_key(const fg_elem *e, const char *key)
{
    for (size_t i = 0; e != NULL && i < e->n_constraints; i++)
        if (e->constraints[i].key && strcmp(e->constraints[i].key, key) == 0)
            return 1;
    return 0;
}

void fgv_invariants(fgv_ctx *c, const fg_jv *val, const fg_elem *def, const char *type)
{
    fgv_invariants_except(c, val, def, type, NULL);
}

void fgv_invariants_except(fgv_ctx *c, const fg_jv *val, const fg_elem *def, const char *type,
                           const fg_elem *done)
{
    for (size_t i = 0; i < def->n_constraints && !c->failed; i++) {
        const fg_constraint *k = &def->constraints[i];
        if (k->key == NULL || (k->key[0] == 'e' && k->key[1] == 'l' && k->key[2] == 'e'
                               && k->key[3] == '-' && k->key[4] == '1' && k->key[5] == '\0'))
            continue; /* ele-1, on every element, is checked in the walk */
        size_t eoe = 0;
        native_kind nk = classify(k->key, &eoe);
        if (nk == NK_ELE1 || nk == NK_BDL || nk == NK_REF1)
            continue; /* checked elsewhere (see the top of this file) */
        if (done != NULL && (nk == NK_DOM || has_key(done, k->key)))
            continue; /* met on the element already; dom-* only at a resource root */
        fg_severity sev = k->is_error ? FG_SEV_ERROR : FG_SEV_WARNING;
        switch (nk) {
        case NK_EXT1:
            if (fg_jv_is_object(val)) {
                const fg_jv *ex = fg_jv_get(val, "extension");
                int has_ext = fg_jv_is_array(ex) && fg_jv_array_size(ex) > 0;
                if (has_ext == has_value_x(val))
                    fgv_issue(c, FG_SEV_ERROR, FG_CHECK_INVARIANT, "invariant", "ext-1",
                              has_ext ? "An extension must have either extensions or a value, "
                                        "not both (ext-1)"
                                      : "An extension must have either extensions or a value "
                                        "(ext-1)");
            }
            break;
        case NK_SQTY1:
            if (fg_jv_is_object(val) && fg_jv_get(val, "comparator") != NULL)
                fgv_issue(c, sev, FG_CHECK_INVARIANT, "invariant", k->key, "%s (%s)",
                          k->human ? k->human : "A SimpleQuantity has no comparator", k->key);
            break;
        case NK_EMPTY_OR_EXISTS:
            if (fg_jv_is_object(val) && fg_jv_get(val, empty_or_exists[eoe][1]) != NULL
                && fg_jv_get(val, empty_or_exists[eoe][2]) == NULL)
                fgv_issue(c, sev, FG_CHECK_INVARIANT, "invariant", k->key, "%s (%s)",
                          k->human ? k->human : "Constraint failed", k->key);
            break;
        case NK_TXT2:
            if (fg_jv_is_string(val) && !has_content(fg_jv_str(val)))
                fgv_issue(c, sev, FG_CHECK_INVARIANT, "invariant", k->key, "%s (%s)",
                          k->human ? k->human : "The narrative SHALL have some non-whitespace "
                                                "content",
                          k->key);
            break;
        case NK_DOM:
            if (fg_jv_is_object(val) && def->parent == NULL
                && fg_jv_get(val, "resourceType") != NULL)
                dom_rules(c, val, k->key, k->is_error);
            break;
        default: {
            /* the same key twice on one element (a profile restating it) */
            int dup = 0;
            for (size_t j = 0; j < i && !dup; j++)
                dup = def->constraints[j].key && strcmp(def->constraints[j].key, k->key) == 0;
            if (dup)
                break;
            int ek = fgv_constraint_kind(c->v, k);
            if (ek != 0) {
                if (!fgv_expr_native(c, ek, val, def, type))
                    fgv_issue(c, sev, FG_CHECK_INVARIANT, "invariant", k->key, "%s (%s)",
                              k->human ? k->human : "Constraint failed", k->key);
            } else {
                evaluate(c, val, def, type, k);
            }
        }
        }
    }
}

/* ---- extension contexts ---- */

static int context_matches(fgv_ctx *c, const char *ctxexpr, const fg_elem *holder_def,
                           const fg_structure *holder_type)
{
    if (strcmp(ctxexpr, "Element") == 0)
        return 1;
    if (strncmp(ctxexpr, "http", 4) == 0) {
        const char *hash = strchr(ctxexpr, '#');
        size_t n = hash ? (size_t)(hash - ctxexpr) : strlen(ctxexpr);
        return c->holder_ext_url != NULL && strlen(c->holder_ext_url) == n
               && strncmp(c->holder_ext_url, ctxexpr, n) == 0;
    }
    if (strpbrk(ctxexpr, "() ") != NULL)
        return 1; /* a FHIRPath context: not judged here */
    if (holder_def != NULL) {
        if (holder_def->path && strcmp(holder_def->path, ctxexpr) == 0)
            return 1;
        if (holder_def->content_ref && strcmp(holder_def->content_ref->path, ctxexpr) == 0)
            return 1;
        for (size_t i = 0; i < holder_def->n_types; i++)
            if (strcmp(holder_def->types[i].code, ctxexpr) == 0)
                return 1;
    }
    int guard = 0;
    for (const fg_structure *t = holder_type; t != NULL && guard < 16; guard++) {
        if (t->type && strcmp(t->type, ctxexpr) == 0)
            return 1;
        if (t->name && strcmp(t->name, ctxexpr) == 0)
            return 1;
        t = t->base ? fgv_canonical(c->v, t->base) : NULL;
    }
    if (holder_type == NULL && holder_def == NULL)
        return 1; /* nothing known about the holder */
    return 0;
}

/* Extensions that the R4 specification itself publishes outside their
 * declared contexts, thousands of times (structuredefinition-fhir-type on
 * ElementDefinition.type instead of .type.code, normative-version on
 * resources, translation on non-string elements): a misplaced one is a
 * warning, so the specification's own material does not fail. Every other
 * extension outside its contexts is an error. */
static int context_lenient(const char *url)
{
    static const char *const lenient[] = {
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type",
        "http://hl7.org/fhir/StructureDefinition/structuredefinition-normative-version",
        "http://hl7.org/fhir/StructureDefinition/regex",
        "http://hl7.org/fhir/StructureDefinition/translation",
        "http://hl7.org/fhir/StructureDefinition/valueset-concept-comments",
    };
    for (size_t i = 0; url != NULL && i < sizeof lenient / sizeof lenient[0]; i++)
        if (strcmp(url, lenient[i]) == 0)
            return 1;
    return 0;
}

void fgv_extension_context(fgv_ctx *c, const fg_structure *ext, const fg_elem *holder_def,
                           const fg_structure *holder_type)
{
    if (ext->n_contexts == 0)
        return;
    for (size_t i = 0; i < ext->n_contexts; i++)
        if (ext->contexts[i] != NULL
            && context_matches(c, ext->contexts[i], holder_def, holder_type))
            return;
    char list[300];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < ext->n_contexts && used + 40 < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 ext->contexts[i] ? ext->contexts[i] : "?");
    const char *where = holder_def && holder_def->path ? holder_def->path
                        : holder_type && holder_type->type ? holder_type->type
                                                           : "?";
    fgv_issue(c, context_lenient(ext->url) ? FG_SEV_WARNING : FG_SEV_ERROR, FG_CHECK_EXTENSION,
              "structure", NULL,
              "Extension %s is not allowed on %s: it may be used on %s", ext->url, where, list);
}
