/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_bundle.c: the entry index of a Bundle (fullUrl and Type/id
 * hashes, so each reference resolves in constant time) and the Bundle
 * rules: fullUrl against resource.id, request/response by bundle type,
 * duplicate fullUrls, and the bdl-* invariants, which are implemented here
 * natively with the same semantics as their FHIRPath (the invariant walker
 * skips them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_hash.h"
#include "validators/validate_private.h"

static uint64_t hash_tid(const char *type, size_t tl, const char *id, size_t il)
{
    uint64_t h = fg_fnv1a(FG_FNV_SEED, type, tl);
    h = fg_fnv1a(h, "/", 1);
    return fg_fnv1a(h, id, il);
}

static const char *str(const fg_jv *o, const char *k)
{
    const fg_jv *v = fg_jv_get(o, k);
    return fg_jv_is_string(v) ? fg_jv_str(v) : NULL;
}

int fgv_bundle_open(fgv_ctx *c, const fg_jv *bundle, fgv_bundle *b)
{
    memset(b, 0, sizeof *b);
    b->bundle = bundle;
    b->type = str(bundle, "type");
    const fg_jv *entries = fg_jv_get(bundle, "entry");
    size_t n = fg_jv_is_array(entries) ? fg_jv_array_size(entries) : 0;
    b->outer = c->bundle;
    if (n == 0) {
        c->bundle = b;
        return FG_OK;
    }
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    b->entries = calloc(n, sizeof *b->entries);
    b->by_url = calloc(cap, sizeof *b->by_url);
    b->by_tid = calloc(cap, sizeof *b->by_tid);
    b->dup_of = calloc(n, sizeof *b->dup_of);
    if (!b->entries || !b->by_url || !b->by_tid || !b->dup_of) {
        fgv_bundle_close(c, b); /* c->bundle is not b yet: it stays as it was */
        return FG_ENOMEM;
    }
    c->bundle = b;
    b->mask = cap - 1;
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        const fg_jv *e = fg_jv_at(entries, i);
        fgv_entry *en = &b->entries[i];
        en->full_url = str(e, "fullUrl");
        en->resource = fg_jv_get(e, "resource");
        if (fg_jv_is_object(en->resource)) {
            en->type = str(en->resource, "resourceType");
            en->id = str(en->resource, "id");
        } else {
            en->resource = NULL;
        }
        if (en->full_url != NULL) {
            size_t h = fg_fnv1a(FG_FNV_SEED, en->full_url, strlen(en->full_url)) & b->mask;
            while (b->by_url[h] != 0) {
                const fgv_entry *o = &b->entries[b->by_url[h] - 1];
                if (strcmp(o->full_url, en->full_url) == 0 && b->dup_of[i] == 0) {
                    /* bdl-7 allows one fullUrl for several versions */
                    const fg_jv *m1 = fg_jv_get(en->resource, "meta");
                    const fg_jv *m2 = fg_jv_get(o->resource, "meta");
                    const char *v1 = str(m1, "versionId"), *v2 = str(m2, "versionId");
                    if (v1 == NULL || v2 == NULL || strcmp(v1, v2) == 0)
                        b->dup_of[i] = b->by_url[h];
                }
                h = (h + 1) & b->mask;
            }
            b->by_url[h] = (uint32_t)(i + 1);
        }
        if (en->type != NULL && en->id != NULL) {
            size_t h = hash_tid(en->type, strlen(en->type), en->id, strlen(en->id)) & b->mask;
            while (b->by_tid[h] != 0)
                h = (h + 1) & b->mask;
            b->by_tid[h] = (uint32_t)(i + 1);
        }
    }
    return FG_OK;
}

void fgv_bundle_close(fgv_ctx *c, fgv_bundle *b)
{
    if (c->bundle == b)
        c->bundle = b->outer;
    free(b->entries);
    free(b->by_url);
    free(b->by_tid);
    free(b->dup_of);
    memset(b, 0, sizeof *b);
}

const fgv_entry *fgv_bundle_find(const fgv_bundle *b, const char *ref)
{
    if (b == NULL || b->n == 0 || ref == NULL)
        return NULL;
    size_t rl = strlen(ref);
    size_t h = fg_fnv1a(FG_FNV_SEED, ref, rl) & b->mask;
    while (b->by_url[h] != 0) {
        const fgv_entry *e = &b->entries[b->by_url[h] - 1];
        if (strcmp(e->full_url, ref) == 0)
            return e;
        h = (h + 1) & b->mask;
    }
    if (strchr(ref, ':') != NULL)
        return NULL; /* absolute: only an exact fullUrl resolves it */
    /* relative Type/id (a /_history/n suffix ignored) */
    const char *hist = strstr(ref, "/_history/");
    size_t len = hist ? (size_t)(hist - ref) : rl;
    const char *slash = memchr(ref, '/', len);
    if (slash == NULL || slash == ref || (size_t)(slash - ref) + 1 >= len)
        return NULL;
    size_t tl = (size_t)(slash - ref);
    const char *id = slash + 1;
    size_t il = len - tl - 1;
    if (memchr(id, '/', il) != NULL)
        return NULL;
    h = hash_tid(ref, tl, id, il) & b->mask;
    while (b->by_tid[h] != 0) {
        const fgv_entry *e = &b->entries[b->by_tid[h] - 1];
        if (strlen(e->type) == tl && strncmp(e->type, ref, tl) == 0 && strlen(e->id) == il
            && strncmp(e->id, id, il) == 0)
            return e;
        h = (h + 1) & b->mask;
    }
    return NULL;
}

static int type_is(const char *t, const char *a, const char *b2)
{
    return t != NULL && (strcmp(t, a) == 0 || (b2 != NULL && strcmp(t, b2) == 0));
}

/* request.url against the resource: POST names its type, PUT its type
 * and id (or a conditional Type?query). */
static void request_rules(fgv_ctx *c, const fg_jv *req, const fgv_entry *en)
{
    const char *method = str(req, "method");
    const char *url = str(req, "url");
    if (method == NULL || url == NULL)
        return;
    int post = strcmp(method, "POST") == 0, put = strcmp(method, "PUT") == 0;
    if (!post && !put)
        return;
    /* a full URL is read from its last Type/id or Type segment */
    const char *u = url;
    const char *q = strchr(u, '?');
    size_t len = q ? (size_t)(q - u) : strlen(u);
    const char *type = u, *id = NULL;
    size_t tl = len, il = 0;
    if (len > 0 && (u[0] == '$' || u[0] == '_'))
        return; /* a system-level operation or search */
    const char *slash = memchr(u, '/', len);
    if (slash != NULL) {
        tl = (size_t)(slash - u);
        id = slash + 1;
        il = len - tl - 1;
        if (memchr(id, '/', il) != NULL || (il > 0 && (id[0] == '$' || id[0] == '_')))
            return; /* absolute, _history, an operation or _search: not judged here */
    }
    size_t l0 = fgv_path_push(c, "request");
    fgv_path_push(c, "url");
    if (tl != strlen(en->type) || strncmp(type, en->type, tl) != 0)
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invalid", NULL,
                  "request.url %s does not name the entry's resource type %s", url, en->type);
    else if (put && id != NULL && en->id != NULL
             && (strlen(en->id) != il || strncmp(en->id, id, il) != 0))
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invalid", NULL,
                  "PUT %s carries resource id %s: the ids must agree", url, en->id);
    fgv_path_pop(c, l0);
}

/* In a transaction no two entries may write the same resource (PUT, PATCH
 * or DELETE of one url): the later one is reported. */
static void overlapping_writes(fgv_ctx *c, const fg_jv *entries, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    size_t *tab = calloc(cap, sizeof *tab);
    if (tab == NULL) {
        c->failed = 1;
        return;
    }
    size_t l0 = fgv_path_push(c, "entry");
    for (size_t i = 0; i < n; i++) {
        const fg_jv *req = fg_jv_get(fg_jv_at(entries, i), "request");
        const char *m = str(req, "method"), *url = str(req, "url");
        if (m == NULL || url == NULL
            || !(strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 || strcmp(m, "PATCH") == 0))
            continue;
        size_t h = fg_fnv1a(FG_FNV_SEED, url, strlen(url)) & (cap - 1);
        while (tab[h] != 0) {
            const fg_jv *oreq = fg_jv_get(fg_jv_at(entries, tab[h] - 1), "request");
            if (strcmp(str(oreq, "url"), url) == 0) {
                size_t l1 = fgv_path_index(c, i);
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invalid", NULL,
                          "entry[%zu] already writes %s in this transaction: a transaction "
                          "may touch each resource once",
                          tab[h] - 1, url);
                fgv_path_pop(c, l1);
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        if (tab[h] == 0)
            tab[h] = i + 1;
    }
    fgv_path_pop(c, l0);
    free(tab);
}

static void entry_rules(fgv_ctx *c, fgv_bundle *b, const fg_jv *e, size_t i)
{
    const char *bt = b->type;
    const fgv_entry *en = &b->entries[i];
    if (!fg_jv_is_object(e))
        return;
    const fg_jv *req = fg_jv_get(e, "request");
    const fg_jv *resp = fg_jv_get(e, "response");
    if (en->resource == NULL && req == NULL && resp == NULL)
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-5",
                  "An entry must have a resource, a request or a response (bdl-5)");
    if (en->full_url != NULL && strstr(en->full_url, "/_history/") != NULL)
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-8",
                  "fullUrl %s is version specific: drop the /_history/ part (bdl-8)",
                  en->full_url);
    if (bt != NULL) {
        int needs_req = type_is(bt, "transaction", "batch") || strcmp(bt, "history") == 0;
        int needs_resp = type_is(bt, "transaction-response", "batch-response")
                         || strcmp(bt, "history") == 0;
        if (needs_req && req == NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-3",
                      "Every entry of a %s bundle needs a request with method and url (bdl-3)",
                      bt);
        if (!needs_req && req != NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-3",
                      "entry.request is only allowed in batch, transaction and history "
                      "bundles, not in a %s (bdl-3)",
                      bt);
        if (needs_resp && resp == NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-4",
                      "Every entry of a %s bundle needs a response (bdl-4)", bt);
        if (!needs_resp && resp != NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-4",
                      "entry.response is only allowed in batch-response, transaction-response "
                      "and history bundles, not in a %s (bdl-4)",
                      bt);
        if (strcmp(bt, "searchset") != 0 && fg_jv_get(e, "search") != NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-2",
                      "entry.search is only allowed in a searchset bundle (bdl-2)");
    }
    if (en->full_url != NULL && en->resource != NULL && en->id != NULL && en->type != NULL
        && strncmp(en->full_url, "urn:", 4) != 0) {
        /* an absolute fullUrl names the resource: it ends in Type/id */
        char tail[320];
        snprintf(tail, sizeof tail, "/%s/%s", en->type, en->id);
        size_t fl = strlen(en->full_url), tl = strlen(tail);
        const char *hist = strstr(en->full_url, "/_history/");
        if (hist != NULL)
            fl = (size_t)(hist - en->full_url);
        if (strchr(en->full_url, ':') != NULL
            && (fl < tl || strncmp(en->full_url + fl - tl, tail, tl) != 0))
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invalid", NULL,
                      "fullUrl %s does not match the resource (%s/%s): it must end in %s",
                      en->full_url, en->type, en->id, tail + 1);
    }
    if (en->full_url != NULL && en->resource != NULL && en->id == NULL
        && strstr(en->full_url, "://") != NULL
        && !(fg_jv_is_object(req) && str(req, "method") && strcmp(str(req, "method"), "POST") == 0))
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invalid", NULL,
                  "fullUrl %s names a resource on a server, but the resource has no id: give "
                  "it the id the fullUrl ends in, or use a urn:uuid: fullUrl",
                  en->full_url);
    if (fg_jv_is_object(req) && en->type != NULL)
        request_rules(c, req, en);
    if (b->dup_of != NULL && b->dup_of[i] != 0 && !(bt != NULL && strcmp(bt, "history") == 0))
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-7",
                  "fullUrl %s is also the fullUrl of entry[%zu]: each entry needs its own "
                  "(bdl-7)",
                  en->full_url, (size_t)(b->dup_of[i] - 1));
}

void fgv_bundle_rules(fgv_ctx *c, const fg_jv *bundle, fgv_bundle *b)
{
    const char *bt = b->type;
    const fg_jv *entries = fg_jv_get(bundle, "entry");
    if (fg_jv_is_array(entries)) {
        size_t l0 = fgv_path_push(c, "entry");
        for (size_t i = 0; i < b->n; i++) {
            size_t l1 = fgv_path_index(c, i);
            entry_rules(c, b, fg_jv_at(entries, i), i);
            fgv_path_pop(c, l1);
        }
        fgv_path_pop(c, l0);
    }
    if (bt == NULL)
        return;
    if (strcmp(bt, "transaction") == 0 && b->n > 1)
        overlapping_writes(c, entries, b->n);
    if (fg_jv_get(bundle, "total") != NULL && !type_is(bt, "searchset", "history"))
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-1",
                  "total is only allowed in searchset and history bundles (bdl-1)");
    const char *first = b->n > 0 ? b->entries[0].type : NULL;
    if (strcmp(bt, "document") == 0) {
        const fg_jv *idf = fg_jv_get(bundle, "identifier");
        if (!fg_jv_is_object(idf) || str(idf, "system") == NULL || str(idf, "value") == NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-9",
                      "A document bundle needs an identifier with system and value (bdl-9)");
        if (fg_jv_get(bundle, "timestamp") == NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-10",
                      "A document bundle needs a timestamp (bdl-10)");
        if (first == NULL || strcmp(first, "Composition") != 0)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-11",
                      "A document bundle must start with a Composition (bdl-11)");
    } else if (strcmp(bt, "message") == 0) {
        if (first == NULL || strcmp(first, "MessageHeader") != 0)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BUNDLE, "invariant", "bdl-12",
                      "A message bundle must start with a MessageHeader (bdl-12)");
    }
}
