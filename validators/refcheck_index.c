/* SPDX-License-Identifier: Apache-2.0 */
/*
 * refcheck_index.c: the hash tables of the reference checker and what the
 * cohort remembers in them: the ids and identifiers seen so far and the
 * NDJSON references still waiting for their resource (see
 * refcheck_private.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_hash.h"
#include "fhir/json/fg_jw.h"
#include "validators/refcheck_private.h"

/* ---- hashing and the table ---------------------------------------------- */

static uint64_t hash_finish(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h ? h : 1; /* 0 marks an empty rck_slot */
}

/* Hash of a, sep, b: the key of `Type/id` or `system|value`. */
uint64_t rck_hash_pair(const char *a, char sep, const char *b)
{
    uint64_t h = fg_fnv1a_str(FG_FNV_OFFSET_BASIS, a);
    h = fg_fnv1a(h, &sep, 1);
    return hash_finish(fg_fnv1a_str(h, b));
}

uint64_t rck_hash_str(const char *s, size_t n)
{
    return hash_finish(fg_fnv1a(FG_FNV_OFFSET_BASIS, s, n));
}

rck_slot *rck_table_find(const rck_table *t, uint64_t key)
{
    if (!t->cap)
        return NULL;
    for (size_t i = key & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->s[i].key == key)
            return &t->s[i];
        if (!t->s[i].key)
            return NULL;
    }
}

static int table_grow(rck_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    rck_slot *s = calloc(cap, sizeof(*s));
    if (!s)
        return FG_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->s[i].key)
            continue;
        size_t j = t->s[i].key & (cap - 1);
        while (s[j].key)
            j = (j + 1) & (cap - 1);
        s[j] = t->s[i];
    }
    free(t->s);
    t->s = s;
    t->cap = cap;
    return FG_OK;
}

/* The slot of key, added (zeroed but for key) when absent; *fresh says
 * which. NULL when out of memory. */
rck_slot *rck_table_put(rck_table *t, uint64_t key, int *fresh)
{
    rck_slot *s = rck_table_find(t, key);
    *fresh = 0;
    if (s)
        return s;
    if ((t->n + 1) * 10 > t->cap * 7 && table_grow(t))
        return NULL;
    size_t i = key & (t->cap - 1);
    while (t->s[i].key)
        i = (i + 1) & (t->cap - 1);
    t->s[i] = (rck_slot){.key = key};
    t->n++;
    *fresh = 1;
    return &t->s[i];
}

void rck_table_clear(rck_table *t)
{
    if (t->n)
        memset(t->s, 0, t->cap * sizeof(*t->s));
    t->n = 0;
}

void rck_table_free(rck_table *t)
{
    free(t->s);
    memset(t, 0, sizeof(*t));
}

/* ---- ids and identifiers ------------------------------------------------ */


/* "file entry[3]" or "file:12", for messages naming the first place. */
static void place(const fg_refcheck *rc, uint32_t file, uint32_t pos, char *out, size_t size)
{
    const rck_file *f = file < rc->nfiles ? &rc->files[file] : NULL;
    const char *name = f && f->name[0] ? f->name : "(input)";
    if (f && f->ndjson)
        snprintf(out, size, "%s:%u", name, pos);
    else
        snprintf(out, size, "%s entry[%u]", name, pos);
}

int rck_is_shared_type(const char *type)
{
    return strcmp(type, "Organization") == 0 || strcmp(type, "Practitioner") == 0 ||
           strcmp(type, "Location") == 0;
}


/* The id is unique per type across the cohort; a shared resource may come
 * back, byte for byte the same. */
void rck_check_id(rck_ctx *c, const json_t *res, const char *type, const char *id)
{
    fg_refcheck *rc = c->rc;
    char p[FG_ERROR_WHERE_MAX + 32], first[FG_ERROR_WHERE_MAX];
    uint64_t content = 0;
    if (rck_is_shared_type(type)) {
        char *dump = fg_json_dumps(res, JSON_COMPACT, NULL);
        if (!dump) {
            rc->nomem = 1;
            return;
        }
        content = rck_hash_str(dump, strlen(dump));
        free(dump);
    }
    int fresh;
    rck_slot *s = rck_table_put(&rc->ids, rck_hash_pair(type, '/', id), &fresh);
    if (!s) {
        rc->nomem = 1;
        return;
    }
    if (fresh) {
        s->val = content;
        s->file = c->file;
        s->pos = c->pos;
        return;
    }
    snprintf(p, sizeof(p), "%s.id", c->path.data);
    place(rc, s->file, s->pos, first, sizeof(first));
    if (!rck_is_shared_type(type))
        rck_report(c, FG_REFCHECK_ERROR, p,
                   "%s/%s is already used by %s: ids must be unique per type", type, id, first);
    else if (s->val != content)
        rck_report(c, FG_REFCHECK_ERROR, p,
                   "shared %s/%s differs from its copy in %s: shared resources must be "
                   "byte-identical",
                   type, id, first);
}

static void check_identifier(rck_ctx *c, const json_t *ident, const char *p, uint64_t owner)
{
    fg_refcheck *rc = c->rc;
    char first[FG_ERROR_WHERE_MAX];
    const char *sys = json_string_value(json_object_get(ident, "system"));
    const char *val = json_string_value(json_object_get(ident, "value"));
    if (!val)
        return;
    rc->sum.identifiers++;
    int fresh;
    rck_slot *s = rck_table_put(&rc->idents, rck_hash_pair(sys ? sys : "", '|', val), &fresh);
    if (!s) {
        rc->nomem = 1;
        return;
    }
    if (fresh) {
        s->val = owner;
        s->file = c->file;
        s->pos = c->pos;
    } else if (s->val != owner) {
        place(rc, s->file, s->pos, first, sizeof(first));
        rck_report(c, FG_REFCHECK_ERROR, p,
                   "identifier %s|%s is already on another resource (%s): identifiers must be "
                   "unique",
                   sys ? sys : "", val, first);
    }
}

void rck_check_identifiers(rck_ctx *c, const json_t *res, uint64_t owner)
{
    char p[FG_ERROR_WHERE_MAX + 32];
    const json_t *ids = json_object_get(res, "identifier");
    if (json_is_object(ids)) {
        snprintf(p, sizeof(p), "%s.identifier", c->path.data);
        check_identifier(c, ids, p, owner);
        return;
    }
    size_t i;
    const json_t *ident;
    json_array_foreach(ids, i, ident) {
        snprintf(p, sizeof(p), "%s.identifier[%zu]", c->path.data, i);
        check_identifier(c, ident, p, owner);
    }
}

/* ---- NDJSON references -------------------------------------------------- */

void rck_defer_reference(rck_ctx *c, const char *ref, const char *type, const char *id)
{
    fg_refcheck *rc = c->rc;
    int fresh;
    rck_slot *s = rck_table_put(&rc->targets, rck_hash_pair(type, '/', id), &fresh);
    if (!s) {
        rc->nomem = 1;
        return;
    }
    if (!fresh) {
        rc->pend[s->val].count++;
        return;
    }
    if (rc->npend == rc->cappend) {
        size_t cap = rc->cappend ? rc->cappend * 2 : 1024;
        rck_pending *p = realloc(rc->pend, cap * sizeof(*p));
        if (!p) {
            rc->nomem = 1;
            return;
        }
        rc->pend = p;
        rc->cappend = cap;
    }
    rck_pending *p = &rc->pend[rc->npend];
    *p = (rck_pending){rck_dup_str(rc, ref), rck_dup_str(rc, c->path.data), c->file, c->pos, 1, 0};
    s->val = rc->npend++;
    s->file = c->file;
    s->pos = c->pos;
}
