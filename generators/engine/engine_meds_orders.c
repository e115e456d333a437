/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_meds_orders.c: single orders of the medication list: copying,
 * switching the drug, ending with a reason, renewing a long-term order when
 * its validity runs out, and sizing each order's dose and dispense from the
 * formulary.
 *
 * A long-term order is valid for one fill and its refills (90 days and 3
 * refills: about a year). It is renewed at the first office visit from
 * renew_early_days before that end: the old order completes there and a
 * new one, naming it as prior, carries on. Without a visit the order
 * stays as it is, so a gap in care shows as an order long out of date.
 */
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_arena.h"
#include "generators/engine/meds_private.h"

#define ORDER_MINUTES 25 /* an order is written this long after its visit starts */

int meds_copy(eng_gen *g, size_t i, size_t *out, fg_error *err)
{
    fg_medication *m = FG_PUSH(g->h, medications);
    const char *id = m ? eng_new_id(g) : NULL;
    if (!m || !id)
        return fg_error_set(err, FG_ENOMEM, "medications", "out of memory");
    *m = g->h->medications.v[i];
    m->id = id;
    m->prior = g->h->medications.v[i].id;
    *out = g->h->medications.n - 1;
    return FG_OK;
}

void meds_set_drug(fg_medication *m, const eng_drug *d)
{
    m->term = d->term;
    if (d->dosage) {
        m->dosage = d->dosage;
        m->per_day = d->per_day;
        m->as_needed = d->per_day == 0;
    }
}

void meds_end(fg_medication *m, fg_time t, fg_med_status st, const char *reason)
{
    m->end = t < m->start ? m->start : t;
    m->status = st;
    m->status_reason = reason;
}

/* ---- renewal ---- */

typedef struct visit_at {
    fg_time start;
    size_t i;
} visit_at;

static int visit_cmp(const void *a, const void *b)
{
    const visit_at *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The first office visit of the sorted list starting at or after t, or NULL. */
static const visit_at *visit_from(const visit_at *v, size_t n, fg_time t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].start < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n ? &v[lo] : NULL;
}

static fg_time validity(const eng_drug *d)
{
    return (fg_time)d->supply_days * (d->refills + 1) * FG_DAY;
}

/* Renew order i once if it outlives its validity; *renewed is its renewal's index or -1. */
static int renew_one(eng_gen *g, const visit_at *v, size_t nv, size_t i, long *renewed,
                     fg_error *err)
{
    const struct eng_formulary *f = g->e->formulary;
    fg_medication *m = &g->h->medications.v[i];
    const eng_drug *d = meds_drug(f, m->term.code);
    *renewed = -1;
    if (!m->id || !d || d->supply_days <= 0 || d->refills <= 0)
        return FG_OK;
    fg_time due = m->start + validity(d);
    if (m->end != FG_TIME_NONE && m->end <= due)
        return FG_OK;
    fg_time from = due - (fg_time)(f->renew_early_days * FG_DAY);
    if (from < m->start + 30 * FG_DAY)
        from = m->start + 30 * FG_DAY;
    const visit_at *at = visit_from(v, nv, from);
    if (!at)
        return FG_OK;
    fg_time t = at->start + ORDER_MINUTES * 60;
    if (t >= g->stop || (m->end != FG_TIME_NONE && t >= m->end))
        return FG_OK;
    size_t k;
    int rc = meds_copy(g, i, &k, err);
    if (rc)
        return rc;
    fg_medication *old = &g->h->medications.v[i], *r = &g->h->medications.v[k];
    r->encounter = g->h->encounters.v[at->i].id;
    r->start = t;
    old->end = t;
    old->status = FG_MED_COMPLETED;
    old->status_reason = NULL;
    /* what follows the order from then on (a substitute, a restart) follows the renewal */
    for (size_t j = 0; j < g->h->medications.n; j++) {
        fg_medication *x = &g->h->medications.v[j];
        if (j != k && x->prior == old->id && x->start >= t)
            x->prior = r->id;
    }
    *renewed = (long)k;
    return FG_OK;
}

/* Dose and dispense of one order from its formulary drug. */
static void size_order(const eng_gen *g, fg_medication *m)
{
    const eng_drug *d = meds_drug(g->e->formulary, m->term.code);
    if (!d)
        return;
    m->dose = d->dose;
    m->dose_unit = d->dose_unit;
    int per = m->per_day > 0 ? m->per_day : 2; /* as needed: up to twice a day on average */
    int course = m->end != FG_TIME_NONE && m->status == FG_MED_COMPLETED && !m->status_reason &&
                 m->end - m->start <= (fg_time)d->supply_days * FG_DAY;
    if (d->supply_days > 0 && !course) {
        m->supply_days = d->supply_days;
        m->refills = d->refills;
        m->quantity = d->dose * per * d->supply_days;
        m->valid_until = m->start + validity(d);
    } else if (!d->injected && m->end != FG_TIME_NONE) {
        int days = (int)((m->end - m->start + FG_DAY - 1) / FG_DAY);
        if (days < 1)
            days = 1;
        m->supply_days = days;
        m->refills = 0;
        m->quantity = d->dose * per * days;
        m->valid_until = m->end;
    }
    if (m->quantity > 100000)
        m->quantity = 100000;
}

int meds_renew(eng_gen *g, fg_error *err)
{
    fg_history *h = g->h;
    size_t nv = 0;
    visit_at *v = fg_arena_alloc(&h->arena, (h->encounters.n + 1) * sizeof(*v));
    if (!v)
        return fg_error_set(err, FG_ENOMEM, "medications", "out of memory");
    for (size_t i = 0; i < h->encounters.n; i++)
        if (h->encounters.v[i].cls == FG_CLASS_AMB)
            v[nv++] = (visit_at){h->encounters.v[i].start, i};
    qsort(v, nv, sizeof(*v), visit_cmp);
    size_t n0 = h->medications.n;
    for (size_t i = 0; i < n0; i++) {
        size_t at = i;
        for (int round = 0; round < MEDS_MAX_ROUNDS; round++) {
            long k;
            int rc = renew_one(g, v, nv, at, &k, err);
            if (rc)
                return rc;
            if (k < 0)
                break;
            at = (size_t)k;
        }
    }
    for (size_t i = 0; i < h->medications.n; i++) {
        fg_medication *m = &h->medications.v[i];
        if (!m->id)
            continue;
        size_order(g, m);
        if (h->patient.death != FG_TIME_NONE && m->end != FG_TIME_NONE && m->end >= g->stop &&
            m->status == FG_MED_STOPPED && !m->status_reason)
            m->status_reason = "patient died";
    }
    return FG_OK;
}
