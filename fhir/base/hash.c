/* SPDX-License-Identifier: Apache-2.0 */
#include "fhir/base/fg_hash.h"

#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_error.h"

/* ---- fg_strmap ---- */

/* Rehash into `cap` slots (a power of two above the count). */
static int map_rehash(fg_strmap *m, size_t cap)
{
    fg_strmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return FG_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = fg_fnv1a_str(FG_FNV_SEED, m->slots[i].key) & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return FG_OK;
}

int fg_strmap_reserve(fg_strmap *m, size_t n)
{
    size_t want = m->n + n, cap = m->cap ? m->cap : 16;
    while (want * 4 > cap * 3)
        cap *= 2;
    return cap == m->cap ? FG_OK : map_rehash(m, cap);
}

int fg_strmap_reset(fg_strmap *m, size_t n)
{
    size_t cap = 16;
    while (n * 4 > cap * 3)
        cap *= 2;
    if (m->cap > cap * 8 || m->cap < cap) {
        free(m->slots);
        m->slots = NULL;
        m->cap = 0;
        m->n = 0;
        return map_rehash(m, cap);
    }
    memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->n = 0;
    return FG_OK;
}

/* The slot of `key`: where it is, or the empty slot where it would go. */
static fg_strmap_slot *map_find(const fg_strmap *m, const char *key)
{
    size_t j = fg_fnv1a_str(FG_FNV_SEED, key) & (m->cap - 1);
    while (m->slots[j].key && strcmp(m->slots[j].key, key) != 0)
        j = (j + 1) & (m->cap - 1);
    return &m->slots[j];
}

static int map_room(fg_strmap *m)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        return map_rehash(m, m->cap ? m->cap * 2 : 16);
    return FG_OK;
}

int fg_strmap_add(fg_strmap *m, const char *key, void *val)
{
    if (map_room(m) != FG_OK)
        return FG_ENOMEM;
    fg_strmap_slot *s = map_find(m, key);
    if (s->key)
        return 1;
    s->key = key;
    s->val = val;
    m->n++;
    return FG_OK;
}

int fg_strmap_put(fg_strmap *m, const char *key, void *val)
{
    if (map_room(m) != FG_OK)
        return FG_ENOMEM;
    fg_strmap_slot *s = map_find(m, key);
    if (!s->key)
        m->n++;
    s->key = key;
    s->val = val;
    return FG_OK;
}

void *fg_strmap_get(const fg_strmap *m, const char *key)
{
    if (!m->cap || !key)
        return NULL;
    return map_find(m, key)->val;
}

void fg_strmap_free(fg_strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- fg_hashset ---- */

int fg_hashset_add(fg_hashset *s, uint64_t h)
{
    if (!h)
        h = 1;
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        uint64_t *v = calloc(cap, sizeof *v);
        if (!v)
            return FG_ENOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i])
                continue;
            size_t j = s->v[i] & (cap - 1);
            while (v[j])
                j = (j + 1) & (cap - 1);
            v[j] = s->v[i];
        }
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->v[j]) {
        if (s->v[j] == h)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->v[j] = h;
    s->n++;
    return 1;
}

void fg_hashset_free(fg_hashset *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}
