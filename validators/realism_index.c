/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism_index.c: one patient's record arranged for the rules: the
 * observations of each role as a time series, each medication order with
 * its drug classes and active span, the roles of each condition, the end of
 * the record, and the patient's clock offset.
 */
#include <stdlib.h>
#include <string.h>

#include "validators/realism_private.h"

static int push_point(rz_series *s, fg_time t, double v, double v2)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        rz_point *p = realloc(s->v, cap * sizeof(*p));
        if (!p)
            return FG_ENOMEM;
        s->v = p;
        s->cap = cap;
    }
    s->v[s->n++] = (rz_point){t, v, v2};
    return FG_OK;
}

static int by_time(const void *a, const void *b)
{
    fg_time x = ((const rz_point *)a)->t, y = ((const rz_point *)b)->t;
    return (x > y) - (x < y);
}

/* A blood pressure: a panel with components, or a lone systolic. */
static int add_bp(rz_ctx *c, const fg_observation *o, uint64_t roles)
{
    double sys = -1, dia = -1;
    if (roles & RZ_BIT(RZ_R_SYS))
        sys = o->value;
    for (size_t k = 0; k < o->n_components; k++) {
        uint64_t m = rz_roles(c->r, &o->components[k].term);
        if (m & RZ_BIT(RZ_R_SYS))
            sys = o->components[k].value;
        if (m & RZ_BIT(RZ_R_DIA))
            dia = o->components[k].value;
    }
    if (sys < 0)
        return FG_OK;
    return push_point(&c->s[RZ_R_SYS], o->time, sys, dia);
}

static int index_observations(rz_ctx *c)
{
    const fg_history *h = c->h;
    for (size_t i = 0; i < h->observations.n; i++) {
        const fg_observation *o = &h->observations.v[i];
        uint64_t m = rz_roles(c->r, &o->term);
        if (!m)
            continue;
        if (m & (RZ_BIT(RZ_R_BP_PANEL) | RZ_BIT(RZ_R_SYS))) {
            if (add_bp(c, o, m) != FG_OK)
                return FG_ENOMEM;
            continue;
        }
        for (int role = 0; role <= RZ_R_MAMMO; role++)
            if ((m & RZ_BIT(role)) && push_point(&c->s[role], o->time,
                                                 o->kind == FG_VALUE_QUANTITY ? o->value : 0,
                                                 0) != FG_OK)
                return FG_ENOMEM;
        if (o->time > c->end)
            c->end = o->time;
    }
    for (int role = 0; role <= RZ_R_NOTE_P; role++)
        if (c->s[role].n > 1)
            qsort(c->s[role].v, c->s[role].n, sizeof(rz_point), by_time);
    return FG_OK;
}

static void classify(const fg_realism_rules *r, rz_med *x)
{
    const char *d = x->m->term.display;
    for (size_t i = 0; i < r->n_ings && x->n_cls < 4; i++) {
        const rz_ingredient *g = &r->ings[i];
        if (!rz_has_text(d, g->name))
            continue;
        int seen = 0;
        for (int k = 0; k < x->n_cls; k++)
            seen |= x->cls[k] == g->cls;
        if (!seen)
            x->cls[x->n_cls++] = g->cls;
        x->flags |= g->flags;
        if (!x->ing)
            x->ing = g->name;
    }
}

static int by_instant(const void *a, const void *b)
{
    fg_time x = *(const fg_time *)a, y = *(const fg_time *)b;
    return x < y ? -1 : x > y;
}

/* The record's end (its latest encounter), and the start of its observed
 * care: the first encounter after which no two visits lie more than
 * RZ_CARE_GAP_DAYS apart. Years before it hold scattered diagnosis visits
 * (a record's remembered past), not care a rate per person-year can use. */
static int find_span(rz_ctx *c)
{
    const fg_history *h = c->h;
    c->end = FG_TIME_NONE;
    c->first = FG_TIME_NONE;
    fg_time *s = malloc((h->encounters.n ? h->encounters.n : 1) * sizeof(*s));
    if (!s)
        return FG_ENOMEM;
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        fg_time last = e->end != FG_TIME_NONE ? e->end : e->start;
        if (last > c->end)
            c->end = last;
        s[i] = e->start;
    }
    qsort(s, h->encounters.n, sizeof(*s), by_instant);
    size_t k = h->encounters.n;
    while (k > 1 && s[k - 1] - s[k - 2] <= RZ_CARE_GAP_DAYS * FG_DAY)
        k--;
    if (k > 0)
        c->first = s[k - 1];
    free(s);
    return FG_OK;
}

int rz_index(rz_ctx *c)
{
    const fg_history *h = c->h;
    if (find_span(c) != FG_OK || index_observations(c) != FG_OK)
        return FG_ENOMEM;
    if (h->patient.death != FG_TIME_NONE)
        c->end = h->patient.death;
    if (c->end == FG_TIME_NONE) /* a record of demographics only */
        c->end = h->patient.birth_date;
    if (c->first == FG_TIME_NONE)
        c->first = c->end;
    c->cond_roles = calloc(h->conditions.n + 1, sizeof(*c->cond_roles));
    c->meds = calloc(h->medications.n + 1, sizeof(*c->meds));
    if (!c->cond_roles || !c->meds)
        return FG_ENOMEM;
    for (size_t i = 0; i < h->conditions.n; i++)
        c->cond_roles[i] = rz_roles(c->r, &h->conditions.v[i].term);
    for (size_t i = 0; i < h->medications.n; i++) {
        rz_med *x = &c->meds[c->n_meds++];
        x->m = &h->medications.v[i];
        x->start = x->m->start;
        x->end = x->m->end != FG_TIME_NONE ? x->m->end : c->end;
        if (x->end < x->start)
            x->end = x->start;
        classify(c->r, x);
    }
    c->tz = 0;
    /* The history carries no clock offset of its own: take the state's. */
    const char *st = h->patient.address.state;
    for (size_t i = 0; st && i < c->r->n_tz; i++)
        if (strcmp(c->r->tz_state[i], st) == 0) {
            c->tz = c->r->tz_offset[i];
            c->dst = c->r->tz_dst[i];
        }
    return FG_OK;
}

void rz_index_free(rz_ctx *c)
{
    for (int role = 0; role <= RZ_R_NOTE_P; role++)
        free(c->s[role].v);
    free(c->meds);
    free(c->cond_roles);
}

static int64_t floor_day(fg_time t)
{
    return t >= 0 ? t / FG_DAY : -((-t + FG_DAY - 1) / FG_DAY);
}

/* Clock time: the record's own zone, else the state's standard offset with
 * US daylight saving time where the state keeps it (fg_tz, 15 USC 260a). */
static fg_time local(const rz_ctx *c, fg_time t)
{
    if (c->h->patient.tz.name)
        return fg_tz_to_local(&c->h->patient.tz, t);
    fg_tz state = {"state", (int)(c->tz / 60), c->dst ? 1967 : 0};
    return fg_tz_to_local(&state, t);
}

int64_t rz_local_day(const rz_ctx *c, fg_time t)
{
    return floor_day(local(c, t));
}

int rz_local_hour(const rz_ctx *c, fg_time t)
{
    fg_time l = local(c, t);
    return (int)((l - floor_day(l) * FG_DAY) / 3600);
}
