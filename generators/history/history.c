/* SPDX-License-Identifier: Apache-2.0 */
#include "generators/history/fg_history.h"

#include <string.h>


void fg_history_init(fg_history *h)
{
    memset(h, 0, sizeof(*h));
    fg_arena_init(&h->arena);
    h->patient.death = FG_TIME_NONE;
}

void fg_history_reset(fg_history *h)
{
    fg_arena a = h->arena;
    fg_arena_reset(&a);
    memset(h, 0, sizeof(*h));
    h->arena = a;
    h->patient.death = FG_TIME_NONE;
}

void fg_history_free(fg_history *h)
{
    if (!h)
        return;
    fg_arena_free(&h->arena);
    memset(h, 0, sizeof(*h));
}

void *fg_history_push(fg_history *h, void **v, size_t *n, size_t *cap, size_t item)
{
    if (*n >= FG_MAX_HISTORY_EVENTS)
        return NULL;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void *nv = fg_arena_alloc(&h->arena, ncap * item);
        if (!nv)
            return NULL;
        if (*n)
            memcpy(nv, *v, *n * item);
        *v = nv;
        *cap = ncap;
    }
    void *p = (char *)*v + *n * item;
    memset(p, 0, item);
    (*n)++;
    return p;
}

const fg_encounter *fg_history_encounter(const fg_history *h, const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < h->encounters.n; i++)
        if (h->encounters.v[i].id && strcmp(h->encounters.v[i].id, id) == 0)
            return &h->encounters.v[i];
    return NULL;
}

const char *fg_system_name(const char *uri)
{
    if (strcmp(uri, FG_SYS_SNOMED) == 0)
        return "SNOMED CT";
    if (strcmp(uri, FG_SYS_LOINC) == 0)
        return "LOINC";
    if (strcmp(uri, FG_SYS_RXNORM) == 0)
        return "RxNorm";
    if (strcmp(uri, FG_SYS_CVX) == 0)
        return "CVX";
    return uri;
}
