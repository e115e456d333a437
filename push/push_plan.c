/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push_plan.c: a transaction Bundle cut into Bundles that each stand alone,
 * for servers that cap the size of a transaction or offer only batches.
 *
 * The entries are put in the order a server with referential integrity
 * accepts them one chunk at a time:
 *
 *   1. the entries to resolve: conditional creates (POST with ifNoneExist)
 *      and conditional updates (PUT Type?search). The server decides their
 *      ids, so they go first and their ids are read back from the answer's
 *      locations; a conditional create is the same search for every patient
 *      that shares the resource, so the push resolves it once per run;
 *   2. everything else, each resource after every entry it references (a
 *      stable topological order: among entries free to go, the earliest in
 *      the bundle first; entries caught in a reference cycle go last, in
 *      bundle order, and stay together where a chunk holds them).
 *
 * A plain create (POST with a urn:uuid fullUrl) becomes an update of that
 * uuid (PUT Type/<uuid>), so its id is known before it is sent and a chunk
 * sent twice writes the same resource twice, never two resources.
 *
 * In a chunk, a reference to an entry of the same transaction keeps its
 * urn:uuid (the server resolves it, as in the whole bundle); a reference to
 * an entry of another chunk, or any reference in a batch, becomes the
 * entry's Type/id.
 */
#include "push/push_private.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_hash.h"

typedef struct plan_entry {
    json_t *entry;        /* borrowed from the plan's root */
    const char *full_url; /* borrowed; NULL when absent */
    char *target;         /* "Type/id" once known; owned */
    char *key;            /* entries to resolve: "Type?search", the run-wide key; owned */
    size_t *deps;         /* entries it references (indices); owned */
    size_t n_deps;
    size_t chunk;         /* the chunk that sends it (while building one) */
    int shared;           /* a conditional create: the same resource for every bundle */
} plan_entry;

struct push_plan {
    json_t *root;
    plan_entry *e;
    size_t n;
    size_t *order; /* entries to resolve first, then the rest in dependency order */
    size_t n_resolve;
    size_t n_cyclic; /* entries at the end of order caught in reference cycles */
    fg_strmap by_url;
    size_t chunks; /* chunks built: tags the entries of the next one */
};

static int is_urn_uuid(const char *s)
{
    return s && strncmp(s, "urn:uuid:", 9) == 0 && strlen(s) == 45;
}

void push_plan_free(push_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].target);
        free(p->e[i].key);
        free(p->e[i].deps);
    }
    free(p->e);
    free(p->order);
    fg_strmap_free(&p->by_url);
    json_decref(p->root);
    free(p);
}

/* Record in e the entries of p that value (a resource or a part of one)
 * references through a "reference" string. */
static int collect_deps(push_plan *p, plan_entry *e, size_t self, json_t *value, size_t *cap)
{
    if (json_is_array(value)) {
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v)
            if (collect_deps(p, e, self, v, cap) != 0)
                return -1;
        return 0;
    }
    if (!json_is_object(value))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(value, k, v) {
        if (strcmp(k, "reference") == 0 && json_is_string(v)) {
            plan_entry *t = fg_strmap_get(&p->by_url, json_string_value(v));
            size_t ti = t ? (size_t)(t - p->e) : self;
            if (ti == self)
                continue;
            if (e->n_deps == *cap) {
                size_t ncap = *cap ? *cap * 2 : 8;
                size_t *d = realloc(e->deps, ncap * sizeof(*d));
                if (!d)
                    return -1;
                e->deps = d;
                *cap = ncap;
            }
            e->deps[e->n_deps++] = ti;
        } else if (collect_deps(p, e, self, v, cap) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Read entry i: its request, its target when the bundle fixes it, and
 * whether it must be resolved first. */
static int read_entry(push_plan *p, size_t i, fg_error *err)
{
    plan_entry *e = &p->e[i];
    json_t *req = json_object_get(e->entry, "request");
    json_t *res = json_object_get(e->entry, "resource");
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *url = json_string_value(json_object_get(req, "url"));
    const char *ine = json_string_value(json_object_get(req, "ifNoneExist"));
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    e->full_url = json_string_value(json_object_get(e->entry, "fullUrl"));
    if (!method || !url)
        return fg_error_set(err, FG_EINVALID, "entry", "entry[%zu] has no request.method "
                            "or request.url", i);
    int post = strcmp(method, "POST") == 0, put = strcmp(method, "PUT") == 0;
    fg_buf b;
    fg_buf_init(&b);
    if (post && ine) { /* a conditional create: resolved once per run */
        fg_buf_printf(&b, "%s?%s", url, ine);
        e->shared = 1;
        if (!(e->key = fg_buf_take(&b, NULL)))
            return fg_error_set(err, FG_ENOMEM, "entry", "out of memory");
    } else if (put && strchr(url, '?')) { /* a conditional update: resolved first */
        if (!(e->key = strdup(url)))
            return fg_error_set(err, FG_ENOMEM, "entry", "out of memory");
    } else if (put) {
        if (!(e->target = strdup(url)))
            return fg_error_set(err, FG_ENOMEM, "entry", "out of memory");
    } else if (post && type && is_urn_uuid(e->full_url)) {
        /* a plain create: an update of its uuid, so a re-send writes the same resource */
        fg_buf_printf(&b, "%s/%s", type, e->full_url + 9);
        if (!(e->target = fg_buf_take(&b, NULL)) ||
            json_object_set_new(res, "id", json_string(e->full_url + 9)) != 0 ||
            json_object_set_new(req, "method", json_string("PUT")) != 0 ||
            json_object_set_new(req, "url", json_string(e->target)) != 0)
            return fg_error_set(err, FG_ENOMEM, "entry", "out of memory");
    } else if (post) {
        return fg_error_set(err, FG_EINVALID, "entry", "entry[%zu] creates a %s without a "
                            "urn:uuid fullUrl or an ifNoneExist: sent apart from the rest of "
                            "its bundle it could land twice; push such bundles whole "
                            "(transaction mode)", i, type ? type : "resource");
    }
    return FG_OK;
}

/* A binary min-heap of entry indices: the earliest entry free to go first. */
static void heap_push(size_t *h, size_t *n, size_t v)
{
    size_t i = (*n)++;
    while (i && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static size_t heap_pop(size_t *h, size_t *n)
{
    size_t top = h[0], v = h[--(*n)], i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

/* The order: entries to resolve (topologically among themselves), then the
 * others. Kahn's algorithm over the reference graph of each group. */
static int make_order(push_plan *p)
{
    size_t n = p->n, at = 0;
    size_t *indeg = calloc(n ? n : 1, sizeof(size_t));
    size_t *heap = malloc((n ? n : 1) * sizeof(size_t));
    size_t *rev_n = calloc(n ? n : 1, sizeof(size_t));
    size_t **rev = calloc(n ? n : 1, sizeof(size_t *));
    int rc = -1;
    if (!indeg || !heap || !rev_n || !rev || !(p->order = malloc((n ? n : 1) * sizeof(size_t))))
        goto cleanup;
    /* who references whom, within each group */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < p->e[i].n_deps; k++) {
            size_t d = p->e[i].deps[k];
            if (!p->e[d].key != !p->e[i].key)
                continue; /* across the groups: the resolve group always goes first */
            size_t *r = realloc(rev[d], (rev_n[d] + 1) * sizeof(size_t));
            if (!r)
                goto cleanup;
            rev[d] = r;
            rev[d][rev_n[d]++] = i;
            indeg[i]++;
        }
    for (int group = 1; group >= 0; group--) {
        size_t hn = 0, start = at;
        for (size_t i = 0; i < n; i++)
            if (!p->e[i].key == !group && indeg[i] == 0)
                heap_push(heap, &hn, i);
        while (hn) {
            size_t i = heap_pop(heap, &hn);
            p->order[at++] = i;
            for (size_t k = 0; k < rev_n[i]; k++)
                if (--indeg[rev[i][k]] == 0)
                    heap_push(heap, &hn, rev[i][k]);
        }
        /* what is left is caught in cycles: bundle order */
        size_t cyclic = 0;
        for (size_t i = 0; i < n; i++)
            if (!p->e[i].key == !group && indeg[i] > 0) {
                p->order[at++] = i;
                cyclic++;
            }
        if (group)
            p->n_resolve = at - start;
        else
            p->n_cyclic = cyclic;
    }
    rc = 0;
cleanup:
    for (size_t i = 0; rev && i < n; i++)
        free(rev[i]);
    free(rev);
    free(rev_n);
    free(heap);
    free(indeg);
    return rc;
}

int push_plan_new(const char *data, size_t len, push_plan **out, fg_error *err)
{
    push_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return fg_error_set(err, FG_ENOMEM, "plan", "out of memory");
    int rc = FG_ENOMEM;
    json_error_t je;
    if (!(p->root = json_loadb(data, len, 0, &je))) {
        rc = fg_error_set(err, FG_EINVALID, "bundle", "not JSON: %s (line %d)", je.text, je.line);
        goto fail;
    }
    json_t *entries = json_object_get(p->root, "entry");
    const char *type = json_string_value(json_object_get(p->root, "type"));
    if (!json_is_array(entries) || json_array_size(entries) == 0 || !type ||
        (strcmp(type, "transaction") != 0 && strcmp(type, "batch") != 0)) {
        rc = fg_error_set(err, FG_EINVALID, "bundle", "not a transaction or batch Bundle "
                          "with entries");
        goto fail;
    }
    p->n = json_array_size(entries);
    if (!(p->e = calloc(p->n, sizeof(*p->e))) || fg_strmap_reserve(&p->by_url, p->n) != FG_OK)
        goto fail_oom;
    for (size_t i = 0; i < p->n; i++) {
        p->e[i].entry = json_array_get(entries, i);
        if ((rc = read_entry(p, i, err)) != FG_OK)
            goto fail;
        if (p->e[i].full_url && fg_strmap_put(&p->by_url, p->e[i].full_url, &p->e[i]) != FG_OK)
            goto fail_oom;
    }
    for (size_t i = 0; i < p->n; i++) {
        size_t cap = 0;
        if (collect_deps(p, &p->e[i], i, json_object_get(p->e[i].entry, "resource"), &cap) != 0)
            goto fail_oom;
    }
    if (make_order(p) != 0)
        goto fail_oom;
    *out = p;
    return FG_OK;
fail_oom:
    rc = fg_error_set(err, FG_ENOMEM, "plan", "out of memory");
fail:
    push_plan_free(p);
    return rc;
}

size_t push_plan_size(const push_plan *p)
{
    return p->n;
}

size_t push_plan_n_resolve(const push_plan *p)
{
    return p->n_resolve;
}

const char *push_plan_key(const push_plan *p, size_t pos)
{
    return p->e[p->order[pos]].key;
}

int push_plan_shared(const push_plan *p, size_t pos)
{
    return p->e[p->order[pos]].shared;
}

const char *push_plan_target(const push_plan *p, size_t pos)
{
    return p->e[p->order[pos]].target;
}

int push_plan_set_target(push_plan *p, size_t pos, const char *target)
{
    plan_entry *e = &p->e[p->order[pos]];
    char *t = strdup(target);
    if (!t)
        return FG_ENOMEM;
    free(e->target);
    e->target = t;
    return FG_OK;
}

size_t push_plan_chunk_end(const push_plan *p, size_t from, size_t max)
{
    size_t end = from < p->n_resolve ? p->n_resolve : p->n;
    size_t to = end - from > max ? from + max : end;
    size_t cyc = p->n - p->n_cyclic;
    /* entries caught in a cycle go together when one chunk holds them all */
    if (p->n_cyclic && to > cyc && from < cyc && p->n_cyclic <= max)
        to = cyc;
    return to;
}

const char *push_plan_describe(const push_plan *p, size_t pos, char *buf, size_t size)
{
    const plan_entry *e = &p->e[p->order[pos]];
    json_t *res = json_object_get(e->entry, "resource");
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    if (e->target && strchr(e->target, '/'))
        snprintf(buf, size, "%s", e->target);
    else if (e->key)
        snprintf(buf, size, "%s", e->key);
    else
        snprintf(buf, size, "%s (entry %zu)", type ? type : "entry", (size_t)p->order[pos]);
    return buf;
}

/* A copy of value with each "reference" to an entry of p rewritten to its
 * target, unless that entry is in the same transaction chunk. */
static json_t *rewrite(const push_plan *p, json_t *value, size_t chunk, int keep_local)
{
    if (json_is_array(value)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v)
            if (!a || json_array_append_new(a, rewrite(p, v, chunk, keep_local)) != 0) {
                json_decref(a);
                return NULL;
            }
        return a;
    }
    if (!json_is_object(value))
        return json_incref(value);
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(value, k, v) {
        json_t *nv = NULL;
        if (strcmp(k, "reference") == 0 && json_is_string(v)) {
            const plan_entry *t = fg_strmap_get(&p->by_url, json_string_value(v));
            if (t && t->target && !(keep_local && t->chunk == chunk))
                nv = json_string(t->target);
        }
        if (!nv)
            nv = rewrite(p, v, chunk, keep_local);
        if (!o || json_object_set_new(o, k, nv) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int push_plan_chunk(push_plan *p, const size_t *pos, size_t n, int batch, fg_buf *out,
                    fg_error *err)
{
    size_t tag = ++p->chunks; /* marks the entries of this chunk for rewrite() */
    for (size_t i = 0; i < n; i++)
        p->e[p->order[pos[i]]].chunk = tag;
    json_t *b = json_pack("{s:s, s:s, s:[]}", "resourceType", "Bundle", "type",
                          batch ? "batch" : "transaction", "entry");
    json_t *entries = json_object_get(b, "entry");
    int ok = b != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *e = rewrite(p, p->e[p->order[pos[i]]].entry, tag, !batch);
        ok = e && json_array_append_new(entries, e) == 0;
    }
    for (size_t i = 0; i < n; i++)
        p->e[p->order[pos[i]]].chunk = 0;
    char *text = ok ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!text)
        return fg_error_set(err, FG_ENOMEM, "plan", "out of memory");
    fg_buf_clear(out);
    fg_buf_puts(out, text);
    free(text);
    return out->failed ? fg_error_set(err, FG_ENOMEM, "plan", "out of memory") : FG_OK;
}
