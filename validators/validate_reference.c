/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_reference.c: references. The target type comes from the
 * reference string (`Type/id`, `.../Type/id`, `Type?search` in a
 * transaction) or from what it resolves to (a contained `#id`, a Bundle
 * entry by fullUrl or Type/id), and must be one the element's
 * targetProfiles allow. Inside a Bundle, `urn:uuid:` and `urn:oid:`
 * references must resolve to an entry; `#id` must resolve to a contained
 * resource everywhere. Conditional references cannot be resolved by design
 * and are accepted.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "validators/validate_private.h"

static const char *str(const fg_jv *o, const char *k)
{
    const fg_jv *v = fg_jv_get(o, k);
    return fg_jv_is_string(v) ? fg_jv_str(v) : NULL;
}

static const fg_jv *find_contained(const fg_jv *container, const char *id)
{
    const fg_jv *list = fg_jv_get(container, "contained");
    size_t i;
    const fg_jv *r;
    fg_jv_array_foreach(list, i, r)
    {
        const char *rid = str(r, "id");
        if (rid != NULL && strcmp(rid, id) == 0)
            return r;
    }
    return NULL;
}

const fg_jv *fgv_resolve(fgv_ctx *c, const fg_jv *from, const char *ref, const char **type_out)
{
    (void)from;
    *type_out = NULL;
    if (ref == NULL)
        return NULL;
    if (ref[0] == '#') {
        const fg_jv *cont = c->container ? c->container : c->resource;
        const fg_jv *r = ref[1] ? find_contained(cont, ref + 1) : cont;
        if (r != NULL)
            *type_out = str(r, "resourceType");
        return r;
    }
    for (const fgv_bundle *b = c->bundle; b != NULL; b = b->outer) {
        const fgv_entry *e = fgv_bundle_find(b, ref);
        if (e != NULL) {
            *type_out = e->type;
            return e->resource;
        }
    }
    return NULL;
}

/* The type named in a reference string, written into `out`, or "" when it
 * does not name one. */
static void type_of_ref(const fg_registry *reg, const char *ref, char *out, size_t cap)
{
    out[0] = '\0';
    const char *q = strchr(ref, '?');
    size_t len = q ? (size_t)(q - ref) : strlen(ref);
    const char *hist = strstr(ref, "/_history/");
    if (hist != NULL && (size_t)(hist - ref) < len)
        len = (size_t)(hist - ref);
    if (q != NULL) {
        /* conditional: Type?params */
        if (len == 0 || len >= cap || memchr(ref, '/', len) != NULL)
            return;
        memcpy(out, ref, len);
        out[len] = '\0';
        return;
    }
    /* last two segments: Type/id */
    const char *end = ref + len;
    const char *s2 = end;
    while (s2 > ref && s2[-1] != '/')
        s2--;
    if (s2 == ref || s2 == end)
        return;
    const char *s1 = s2 - 1;
    while (s1 > ref && s1[-1] != '/')
        s1--;
    size_t tl = (size_t)(s2 - 1 - s1);
    if (tl == 0 || tl >= cap || !isupper((unsigned char)s1[0]))
        return;
    memcpy(out, s1, tl);
    out[tl] = '\0';
    const fg_structure *s = fg_registry_type(reg, out);
    if (s == NULL || s->kind != FG_KIND_RESOURCE)
        out[0] = '\0';
}

static int target_allows(const fgv_ctx *c, const fg_type_ref *tref, const char *type,
                         char *allowed, size_t cap)
{
    size_t used = 0;
    allowed[0] = '\0';
    if (tref == NULL || tref->n_targets == 0)
        return 1;
    for (size_t i = 0; i < tref->n_targets; i++) {
        const char *url = tref->targets[i];
        const fg_structure *s = fgv_canonical(c->v, url);
        const char *tt = s && s->type ? s->type : NULL;
        char buf[128];
        if (tt == NULL) {
            const char *slash = strrchr(url, '/');
            snprintf(buf, sizeof buf, "%s", slash ? slash + 1 : url);
            tt = buf;
        }
        if (strcmp(tt, "Resource") == 0 || strcmp(tt, "DomainResource") == 0
            || strcmp(tt, type) == 0)
            return 1;
        if (used + strlen(tt) + 3 < cap)
            used += (size_t)snprintf(allowed + used, cap - used, "%s%s", used ? ", " : "", tt);
    }
    return 0;
}

void fgv_reference(fgv_ctx *c, const fg_jv *ref, const fg_elem *def, const fg_type_ref *tref)
{
    (void)def;
    const char *r = str(ref, "reference");
    if (r == NULL)
        return;
    const char *rtype = NULL;
    char named[96];
    const fg_jv *target = NULL;
    size_t l0 = fgv_path_push(c, "reference");
    if (r[0] == '#') {
        target = fgv_resolve(c, c->resource, r, &rtype);
        if (target == NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_REFERENCE, "not-found", NULL,
                      "Reference %s names no contained resource: add it to contained or fix "
                      "the id",
                      r);
    } else if (strncmp(r, "urn:uuid:", 9) == 0 || strncmp(r, "urn:oid:", 8) == 0) {
        target = fgv_resolve(c, c->resource, r, &rtype);
        if (target == NULL && c->bundle != NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_REFERENCE, "not-found", NULL,
                      "Reference %s resolves to no entry of the Bundle: add an entry with "
                      "this fullUrl",
                      r);
    } else {
        type_of_ref(c->v->reg, r, named, sizeof named);
        if (strchr(r, '?') == NULL)
            target = fgv_resolve(c, c->resource, r, &rtype);
        if (rtype == NULL && named[0])
            rtype = named;
        if (target == NULL && c->bundle != NULL && c->bundle->type != NULL
            && strcmp(c->bundle->type, "document") == 0 && strchr(r, '?') == NULL
            && strncmp(r, "http", 4) != 0)
            fgv_issue(c, FG_SEV_WARNING, FG_CHECK_REFERENCE, "not-found", NULL,
                      "Reference %s resolves to no entry of this document: a document "
                      "should carry what it references",
                      r);
        if (strchr(r, '?') != NULL && c->bundle != NULL && c->bundle->type != NULL
            && !(strcmp(c->bundle->type, "transaction") == 0
                 || strcmp(c->bundle->type, "batch") == 0))
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_REFERENCE, "invalid", NULL,
                      "Conditional reference %s is only allowed in a transaction or batch", r);
    }
    const char *declared = str(ref, "type");
    if (declared != NULL && rtype != NULL && strcmp(declared, rtype) != 0)
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_REFERENCE, "invalid", NULL,
                  "Reference.type says %s but the reference points at a %s", declared, rtype);
    if (rtype == NULL)
        rtype = declared;
    char allowed[512];
    if (rtype != NULL && !target_allows(c, tref, rtype, allowed, sizeof allowed))
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_REFERENCE, "invalid", NULL,
                  "Reference to a %s is not allowed here: allowed targets are %s", rtype,
                  allowed);
    fgv_path_pop(c, l0);
}
