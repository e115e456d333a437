/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_meds.c: the reconciled medication list.
 *
 * The condition modules and the acute episodes each write the orders their
 * own plan calls for; pregnancies are drawn after them. Once every order
 * and every pregnancy is known, this pass replays the list in time so the
 * result is what reconciling it at each change would have given:
 *
 *   1. at each start: a form a young child can take, no drug the patient
 *      is allergic to, none a current condition or the kidney function
 *      rules out (a substitute when the formulary names one), and no
 *      teratogen during a known pregnancy;
 *   2. one drug per group: a later order of a group already taken is
 *      folded into it (the drug covers the new indication too), unless it
 *      supersedes it (an ARNI for an ACE inhibitor): then the old order
 *      ends with "replaced by ..." and the new one names it as prior;
 *   3. while an order runs: a pregnancy, a contraindicating diagnosis or a
 *      low eGFR stops it with its reason, a substitute covers the gap, and
 *      after delivery the drug is restarted;
 *   4. long-term orders are renewed and every order gets its dispense
 *      (engine_meds_orders.c).
 *
 * All decisions read the formulary and the rules table; none draws a random
 * number, so the pass keeps the other passes' streams as they were.
 */
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_arena.h"
#include "generators/engine/engine_module.h"
#include "generators/engine/episodes_private.h"
#include "generators/engine/meds_private.h"

typedef struct preg_span {
    fg_time known;      /* the first prenatal visit: the pregnancy is known */
    fg_time end;        /* delivery or loss; FG_TIME_NONE while pregnant */
    const char *enc;    /* the first prenatal visit */
    fg_time restart;    /* the first office visit after the end, or FG_TIME_NONE */
    const char *restart_enc;
} preg_span;

typedef struct meds_ctx {
    eng_gen *g;
    const struct eng_formulary *f;
    fg_error *err;
    preg_span preg[MEDS_MAX_PREG];
    size_t n_preg;
} meds_ctx;

static int oom(meds_ctx *c)
{
    return fg_error_set(c->err, FG_ENOMEM, "medications", "out of memory");
}

static int runs_at(const fg_medication *m, fg_time t)
{
    return m->id && m->start <= t && (m->end == FG_TIME_NONE || t < m->end);
}

/* ---- what the patient has at a time ---- */

double eng_meds_egfr(const eng_gen *g, fg_time t)
{
    const struct eng_formulary *f = g->e->formulary;
    const fg_history *h = g->h;
    const fg_observation *best = NULL;
    fg_time from = t - (fg_time)(f->egfr_lab_days * FG_DAY);
    for (size_t i = 0; i < h->observations.n; i++) {
        const fg_observation *o = &h->observations.v[i];
        if (o->kind == FG_VALUE_QUANTITY && o->time <= t && o->time >= from && o->term.code &&
            strcmp(o->term.code, f->egfr_lab.code) == 0 && (!best || o->time > best->time))
            best = o;
    }
    return best ? best->value : eng_phys_egfr(g, t);
}

/* The condition of module `name` active at t, or NULL. */
static const eng_cond *cond_at(const eng_gen *g, const char *name, fg_time t)
{
    for (size_t i = 0; i < g->n_conds; i++) {
        const eng_cond *c = &g->conds[i];
        if (strcmp(c->module->name, name) == 0 && c->onset <= t &&
            (c->resolved == FG_TIME_NONE || t < c->resolved))
            return c;
    }
    return NULL;
}

static int allergic(const meds_ctx *c, const char *tag, fg_time t)
{
    const struct eng_episodes *x = c->g->e->episodes;
    const fg_history *h = c->g->h;
    for (size_t i = 0; tag && x && i < h->allergies.n; i++) {
        const fg_allergy *a = &h->allergies.v[i];
        if (a->onset > t)
            continue;
        for (size_t k = 0; k < x->n_allergies; k++)
            if (x->allergies[k].tag && strcmp(x->allergies[k].tag, tag) == 0 &&
                strcmp(x->allergies[k].substance.code, a->term.code) == 0)
                return 1;
    }
    return 0;
}

static const preg_span *pregnant_at(const meds_ctx *c, fg_time t)
{
    for (size_t i = 0; i < c->n_preg; i++)
        if (c->preg[i].known <= t && (c->preg[i].end == FG_TIME_NONE || t < c->preg[i].end))
            return &c->preg[i];
    return NULL;
}

/* The first office visit at or after t (its start into *at), or NULL. */
static const char *visit_after(const fg_history *h, fg_time t, fg_time *at)
{
    const fg_encounter *best = NULL;
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        if (e->cls == FG_CLASS_AMB && e->start >= t && (!best || e->start < best->start))
            best = e;
    }
    *at = best ? best->start + 25 * 60 : FG_TIME_NONE;
    return best ? best->id : NULL;
}

static void find_pregnancies(meds_ctx *c)
{
    const struct eng_episodes *x = c->g->e->episodes;
    const fg_history *h = c->g->h;
    if (!x || !x->pregnancy.condition.code)
        return;
    for (size_t i = 0; i < h->conditions.n && c->n_preg < MEDS_MAX_PREG; i++) {
        const fg_condition *cd = &h->conditions.v[i];
        const fg_encounter *e = fg_history_encounter(h, cd->encounter);
        if (!e || strcmp(cd->term.code, x->pregnancy.condition.code) != 0)
            continue;
        preg_span *p = &c->preg[c->n_preg++];
        p->known = e->start;
        p->enc = e->id;
        p->end = cd->abatement;
        p->restart = FG_TIME_NONE;
        p->restart_enc = NULL;
        if (p->end != FG_TIME_NONE)
            p->restart_enc = visit_after(h, p->end, &p->restart);
    }
}

/* ---- 1. at each start ---- */

static const char *words(meds_ctx *c, const char *prefix, const char *name)
{
    char *s = fg_arena_printf(&c->g->h->arena, "%s%s", prefix, name);
    for (char *p = s; p && *p; p++)
        if (*p == '_')
            *p = ' ';
    return s;
}

/* The drug order i may start with, or -1 when it may not start at all
 * (an allergy, a contraindication without substitute). */
static int allowed_drug(meds_ctx *c, const fg_medication *m, const eng_drug *d)
{
    const struct eng_formulary *f = c->f;
    double age = (double)(m->start - c->g->h->patient.birth_date) / (FG_YEAR_DAYS * FG_DAY);
    int idx = (int)(d - f->drugs);
    for (int round = 0; round < 4 && idx >= 0; round++) {
        d = &f->drugs[idx];
        int next = idx;
        if (age < f->child_age && !d->under6)
            next = d->child;
        else if (allergic(c, d->allergy, m->start))
            next = d->substitute;
        else if (d->egfr_min > 0 && eng_meds_egfr(c->g, m->start) < d->egfr_min)
            next = d->substitute;
        else
            for (size_t k = 0; k < d->n_avoid && next == idx; k++)
                if (cond_at(c->g, d->avoid[k], m->start))
                    next = d->substitute;
        if (next == idx)
            return idx;
        idx = next;
    }
    return idx;
}

static int check_starts(meds_ctx *c)
{
    fg_history *h = c->g->h;
    for (size_t i = 0; i < h->medications.n; i++) {
        fg_medication *m = &h->medications.v[i];
        const eng_drug *d = meds_drug(c->f, m->term.code);
        if (!d)
            continue;
        int idx = allowed_drug(c, m, d);
        if (idx < 0) {
            m->id = NULL; /* not given: dropped from the list */
            continue;
        }
        if (&c->f->drugs[idx] != d)
            meds_set_drug(m, &c->f->drugs[idx]);
        d = &c->f->drugs[idx];
        const preg_span *p = pregnant_at(c, m->start);
        if (!p || !d->teratogen)
            continue;
        /* started while pregnant: the safe drug now, the wanted one after delivery */
        if (d->pregnancy >= 0) {
            if (p->restart != FG_TIME_NONE && (m->end == FG_TIME_NONE || p->restart < m->end)) {
                size_t k;
                int rc = meds_copy(c->g, i, &k, c->err);
                if (rc)
                    return rc;
                m = &h->medications.v[i];
                h->medications.v[k].start = p->restart;
                h->medications.v[k].encounter = p->restart_enc;
                meds_end(m, p->restart, FG_MED_COMPLETED, "pregnancy ended");
            }
            meds_set_drug(m, &c->f->drugs[d->pregnancy]);
        } else if (p->restart != FG_TIME_NONE && (m->end == FG_TIME_NONE || p->restart < m->end)) {
            m->start = p->restart;
            m->encounter = p->restart_enc;
        } else {
            m->id = NULL;
        }
    }
    return FG_OK;
}

/* ---- 2. one drug per group ---- */

typedef struct by_start {
    fg_time start;
    size_t i;
} by_start;

static int by_start_cmp(const void *a, const void *b)
{
    const by_start *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int same_group(const eng_drug *a, const eng_drug *b)
{
    return strcmp(a->ingredient, b->ingredient) == 0 || (*a->group && strcmp(a->group, b->group) == 0);
}

/* Order n (started at or after o) meets order o of the same group. */
static void resolve_pair(meds_ctx *c, fg_medication *o, const eng_drug *od, fg_medication *n,
                         const eng_drug *nd)
{
    if (nd->supersedes && strcmp(od->ingredient, nd->ingredient) != 0) {
        meds_end(o, n->start, FG_MED_STOPPED, words(c, "replaced by ", nd->ingredient));
        n->prior = o->id;
        return;
    }
    /* the drug already taken covers the new indication for as long */
    if (o->end != FG_TIME_NONE && (n->end == FG_TIME_NONE || n->end > o->end)) {
        o->end = n->end;
        o->status = n->status;
        o->status_reason = n->status_reason;
    }
    n->id = NULL;
}

static int one_per_group(meds_ctx *c)
{
    fg_history *h = c->g->h;
    size_t n = 0;
    by_start *v = fg_arena_alloc(&h->arena, (h->medications.n + 1) * sizeof(*v));
    if (!v)
        return oom(c);
    for (size_t i = 0; i < h->medications.n; i++)
        if (h->medications.v[i].id)
            v[n++] = (by_start){h->medications.v[i].start, i};
    qsort(v, n, sizeof(*v), by_start_cmp);
    for (size_t a = 0; a < n; a++) {
        fg_medication *m = &h->medications.v[v[a].i];
        const eng_drug *d = meds_drug(c->f, m->term.code);
        for (size_t b = 0; d && b < a && m->id; b++) {
            fg_medication *o = &h->medications.v[v[b].i];
            const eng_drug *od = o->id ? meds_drug(c->f, o->term.code) : NULL;
            if (od && runs_at(o, m->start) && same_group(od, d))
                resolve_pair(c, o, od, m, d);
        }
    }
    return FG_OK;
}

/* ---- 3. while an order runs ---- */

/* Stop order i at t for reason; the substitute s (or -1) carries on from t
 * at encounter enc until the old end, or until `until` when that is set. */
static int stop_for(meds_ctx *c, size_t i, fg_time t, const char *reason, int s, const char *enc,
                    fg_time until)
{
    fg_history *h = c->g->h;
    fg_medication old = h->medications.v[i];
    meds_end(&h->medications.v[i], t, FG_MED_STOPPED, reason);
    if (s < 0 || !enc)
        return FG_OK;
    size_t k;
    int rc = meds_copy(c->g, i, &k, c->err);
    if (rc)
        return rc;
    fg_medication *n = &h->medications.v[k];
    meds_set_drug(n, &c->f->drugs[s]);
    n->start = t;
    n->encounter = enc;
    n->end = old.end;
    n->status = old.status;
    n->status_reason = old.status_reason;
    if (until != FG_TIME_NONE && (old.end == FG_TIME_NONE || until < old.end))
        meds_end(n, until, FG_MED_COMPLETED, "pregnancy ended");
    return FG_OK;
}

static int stop_in_pregnancy(meds_ctx *c, size_t i, const eng_drug *d, int *stopped)
{
    fg_history *h = c->g->h;
    for (size_t p = 0; p < c->n_preg; p++) {
        const preg_span *ps = &c->preg[p];
        fg_medication *m = &h->medications.v[i];
        if (ps->known <= m->start || (m->end != FG_TIME_NONE && ps->known >= m->end))
            continue;
        fg_medication old = *m;
        int rc = stop_for(c, i, ps->known, "pregnancy", d->pregnancy, ps->enc, ps->restart);
        if (rc)
            return rc;
        *stopped = 1;
        if (ps->restart == FG_TIME_NONE || (old.end != FG_TIME_NONE && ps->restart >= old.end))
            return FG_OK;
        size_t k;
        if ((rc = meds_copy(c->g, i, &k, c->err)))
            return rc;
        fg_medication *r = &h->medications.v[k];
        const char *id = r->id;
        *r = old;
        r->id = id;
        r->prior = h->medications.v[i].id;
        r->start = ps->restart;
        r->encounter = ps->restart_enc;
        return FG_OK;
    }
    return FG_OK;
}

/* The diagnosis record of the patient's condition c: its own record, or,
 * when that is a later stage (CKD moves to a new record as it progresses),
 * the record written for c's onset. NULL when none is written. */
static const fg_condition *dx_record(const fg_history *h, const eng_cond *c)
{
    const fg_condition *first = NULL;
    for (size_t i = 0; c->condition_id && i < h->conditions.n; i++) {
        const fg_condition *x = &h->conditions.v[i];
        if (x->id == c->condition_id && x->onset == c->onset)
            return x;
        if (x->onset == c->onset && !first)
            first = x;
    }
    return first;
}

/* When the condition is known to the clinician: its diagnosis (the record's
 * recorded date), else its onset. */
static fg_time known_at(const fg_condition *x, const eng_cond *c)
{
    return x && x->recorded != FG_TIME_NONE ? x->recorded : c->onset;
}

static int stop_for_condition(meds_ctx *c, size_t i, const eng_drug *d, int *stopped)
{
    fg_history *h = c->g->h;
    const fg_medication *m = &h->medications.v[i];
    const eng_cond *first = NULL;
    fg_time when = FG_TIME_NONE;
    for (size_t k = 0; k < d->n_avoid; k++)
        for (size_t j = 0; j < c->g->n_conds; j++) {
            const eng_cond *cd = &c->g->conds[j];
            fg_time t = known_at(dx_record(h, cd), cd);
            if (strcmp(cd->module->name, d->avoid[k]) == 0 && t > m->start &&
                (m->end == FG_TIME_NONE || t < m->end) && (!first || t < when))
                first = cd, when = t;
        }
    if (!first)
        return FG_OK;
    *stopped = 1;
    const fg_condition *x = dx_record(h, first);
    return stop_for(c, i, when, words(c, "avoided with ", first->module->name), d->substitute,
                    x ? x->encounter : NULL, FG_TIME_NONE);
}

static int stop_for_egfr(meds_ctx *c, size_t i, const eng_drug *d)
{
    fg_history *h = c->g->h;
    const fg_medication *m = &h->medications.v[i];
    const fg_observation *first = NULL;
    if (d->egfr_min <= 0)
        return FG_OK;
    for (size_t k = 0; k < h->observations.n; k++) {
        const fg_observation *o = &h->observations.v[k];
        if (o->kind != FG_VALUE_QUANTITY || !o->term.code || o->value >= d->egfr_min ||
            o->time <= m->start || (m->end != FG_TIME_NONE && o->time >= m->end) ||
            strcmp(o->term.code, c->f->egfr_lab.code) != 0)
            continue;
        if (!first || o->time < first->time)
            first = o;
    }
    if (!first)
        return FG_OK;
    const char *why = fg_arena_printf(&h->arena, "eGFR below %g", d->egfr_min);
    if (!why)
        return oom(c);
    return stop_for(c, i, first->time, why, d->substitute, first->encounter, FG_TIME_NONE);
}

static int check_running(meds_ctx *c)
{
    fg_history *h = c->g->h;
    for (size_t i = 0; i < h->medications.n; i++) {
        if (!h->medications.v[i].id)
            continue;
        const eng_drug *d = meds_drug(c->f, h->medications.v[i].term.code);
        int stopped = 0, rc = FG_OK;
        if (!d)
            continue;
        if (d->teratogen)
            rc = stop_in_pregnancy(c, i, d, &stopped);
        if (!rc && !stopped)
            rc = stop_for_condition(c, i, d, &stopped);
        if (!rc && !stopped)
            rc = stop_for_egfr(c, i, d);
        if (rc)
            return rc;
    }
    return FG_OK;
}

/* ---- the pass ---- */

/* Drop the orders taken off the list. */
static void compact(fg_history *h)
{
    size_t w = 0;
    for (size_t i = 0; i < h->medications.n; i++)
        if (h->medications.v[i].id)
            h->medications.v[w++] = h->medications.v[i];
    h->medications.n = w;
}

/* Put the list in order of start, so an order comes after the one it
 * renews or replaces; a prior that was dropped is forgotten. */
static int sort_by_start(meds_ctx *c)
{
    fg_history *h = c->g->h;
    size_t w = h->medications.n;
    by_start *v = fg_arena_alloc(&h->arena, (w + 1) * sizeof(*v));
    fg_medication *tmp = fg_arena_alloc(&h->arena, (w + 1) * sizeof(*tmp));
    if (!v || !tmp)
        return oom(c);
    for (size_t i = 0; i < w; i++)
        v[i] = (by_start){h->medications.v[i].start, i};
    qsort(v, w, sizeof(*v), by_start_cmp);
    for (size_t i = 0; i < w; i++)
        tmp[i] = h->medications.v[v[i].i];
    memcpy(h->medications.v, tmp, w * sizeof(*tmp));
    for (size_t i = 0; i < w; i++) {
        fg_medication *m = &h->medications.v[i];
        int found = 0;
        for (size_t k = 0; m->prior && k < i && !found; k++)
            found = h->medications.v[k].id == m->prior;
        if (!found)
            m->prior = NULL;
    }
    return FG_OK;
}

int eng_meds_reconcile(eng_gen *g, fg_error *err)
{
    meds_ctx c = {.g = g, .f = g->e->formulary, .err = err};
    int rc;
    if (!c.f || g->h->medications.n == 0)
        return FG_OK;
    find_pregnancies(&c);
    if ((rc = check_starts(&c)) || (rc = one_per_group(&c)) || (rc = check_running(&c)) ||
        (rc = one_per_group(&c)))
        return rc;
    compact(g->h);
    if ((rc = meds_renew(g, err)))
        return rc;
    return sort_by_start(&c);
}
