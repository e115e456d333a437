/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_hospital.c: ED visits and hospital stays.
 *
 * The pass first writes the visits that lead to the patient's death
 * (engine_death.c), then draws the events of data/hospital/hospital.json
 * over the detailed window before them: year by year of age, each event
 * happens a Poisson number of times at its rate for the age band and sex,
 * times the relative risks of the conditions the patient has then (events
 * that need a condition count only while it is active). The drawn events are
 * taken in time order; one that falls during an earlier stay (or within a
 * day after it) is dropped.
 *
 * An emergency is an ED visit of 2-6 hours with vital signs; a share of them
 * is admitted (an inpatient encounter from the end of the ED visit, admit
 * source "from the ED"); an elective stay starts in the morning with admit
 * source "physician referral". The length of stay is log-normal around the
 * published mean; the discharge disposition is drawn from the event's
 * weights. The diagnosis is the condition the event needs (reasonReference)
 * or a new condition written at the visit (MI and stroke on the problem
 * list for good; pneumonia and sepsis as encounter diagnoses that resolve),
 * and the typical procedure (PCI, hip or knee arthroplasty, cholecystectomy)
 * is done on the day after admission.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generators/engine/engine_module.h"
#include "generators/engine/hospital_private.h"

#define YEAR_SECONDS ((double)FG_YEAR_DAYS * FG_DAY)

int hx_active(const eng_cond *c, fg_time t)
{
    return c->onset != FG_TIME_NONE && c->onset <= t &&
           (c->resolved == FG_TIME_NONE || t < c->resolved);
}

const eng_cond *hx_find(const eng_gen *g, const struct eng_module *m)
{
    for (size_t i = 0; i < g->n_conds; i++)
        if (g->conds[i].module == m)
            return &g->conds[i];
    return NULL;
}

fg_condition *hx_add_condition(eng_gen *g, const char *enc, const fg_term *t, int problem,
                               fg_time onset, fg_time abatement)
{
    fg_condition *c = FG_PUSH(g->h, conditions);
    if (!c)
        return NULL;
    if (!(c->id = eng_new_id(g))) {
        g->h->conditions.n--;
        return NULL;
    }
    c->encounter = enc;
    c->category = problem ? FG_COND_PROBLEM : FG_COND_DIAGNOSIS;
    c->term = *t;
    c->onset = onset;
    c->recorded = onset;
    c->abatement = abatement;
    return c;
}

static fg_encounter *add_enc(eng_gen *g, fg_time start, fg_time end, fg_encounter_class cls,
                             const fg_term *type, const hx_visit *v, fg_error *err)
{
    fg_encounter *enc = eng_add_encounter(g, start, 1, cls, type, v->reason);
    if (!enc) {
        fg_error_set(err, FG_ENOMEM, "encounters", "out of memory");
        return NULL;
    }
    enc->end = end > start ? end : start + 60;
    enc->reason_condition = v->reason_condition;
    return enc;
}

/* Length of stay: log-normal with the given mean, 12 hours to HX_MAX_LOS_DAYS. */
static double draw_los(fg_rng *r, double mean)
{
    double d = mean * exp(fg_rng_normal(r, 0, 0.55) - 0.55 * 0.55 / 2);
    return d < 0.5 ? 0.5 : d > HX_MAX_LOS_DAYS ? HX_MAX_LOS_DAYS : d;
}

int hx_write_visit(eng_gen *g, fg_rng *r, hx_visit *v, fg_error *err)
{
    const struct eng_hospital *x = g->e->hospital;
    fg_time t = v->arrival, stay_start = t;
    fg_encounter *enc;
    int rc;
    if (v->path == HX_EMERGENCY) {
        fg_time ed_end = t + (fg_time)fg_rng_range(r, 120, 360) * 60;
        if (v->until != FG_TIME_NONE && (ed_end > v->until || !v->admitted))
            ed_end = v->until;
        if (!(enc = add_enc(g, t, ed_end, FG_CLASS_EMER, &x->ed, v, err)))
            return FG_ENOMEM;
        if (!v->admitted)
            enc->discharge_disposition = x->disp[v->disp];
        v->last_encounter = enc->id;
        v->end = enc->end;
        if ((rc = eng_add_vitals(g, enc)))
            return fg_error_set(err, rc, "observations", "out of memory");
        stay_start = v->end;
    }
    if (!v->admitted)
        return FG_OK;
    fg_time end = v->until != FG_TIME_NONE
                      ? v->until
                      : stay_start + (fg_time)(draw_los(r, v->los_days) * FG_DAY);
    const fg_term *type = v->stay_type ? v->stay_type : &x->emergency_admission;
    if (!(enc = add_enc(g, stay_start, end, FG_CLASS_IMP, type, v, err)))
        return FG_ENOMEM;
    enc->admit_source = v->path == HX_EMERGENCY ? x->from_ed : x->referral;
    enc->discharge_disposition = x->disp[v->disp];
    v->last_encounter = enc->id;
    v->end = enc->end;
    if (v->path == HX_ELECTIVE && (rc = eng_add_vitals(g, enc)))
        return fg_error_set(err, rc, "observations", "out of memory");
    return FG_OK;
}

int hx_busy(const eng_gen *g, size_t n, fg_time from, fg_time to)
{
    for (size_t i = 0; i < n; i++) {
        const fg_encounter *e = &g->h->encounters.v[i];
        if (e->start < to && e->end > from)
            return 1;
    }
    return 0;
}

/* ---- events by rate ---- */

typedef struct cand {
    fg_time t;
    int ev;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->ev - y->ev;
}

static int poisson(fg_rng *r, double lambda)
{
    double limit = exp(-lambda), p = 1;
    int k = -1;
    do {
        k++;
        p *= fg_rng_uniform(r);
    } while (p > limit && k < 20);
    return k;
}

/* Events per year of ev for this patient at time t (age in years). */
static double event_rate(const eng_gen *g, const hx_event *ev, int age, fg_time t)
{
    int s = g->h->patient.sex == FG_SEX_MALE ? 1 : 0;
    double rate = 0;
    for (size_t b = 0; b < ev->n_bands && age >= ev->bands[b].min_age; b++)
        rate = ev->bands[b].per_year[s];
    if (rate <= 0)
        return 0;
    if (ev->requires) {
        const eng_cond *c = hx_find(g, ev->requires);
        if (!c || !hx_active(c, t) ||
            (ev->max_years > 0 && t - c->onset > (fg_time)(ev->max_years * YEAR_SECONDS)))
            return 0;
    }
    for (size_t k = 0; k < ev->n_risks; k++) {
        const eng_cond *c = hx_find(g, ev->risks[k].module);
        if (c && hx_active(c, t))
            rate *= ev->risks[k].rr;
    }
    return rate;
}

/* Draw the events of [from, until) into cs. */
static size_t draw_events(eng_gen *g, fg_rng *r, fg_time from, fg_time until, cand *cs)
{
    const struct eng_hospital *x = g->e->hospital;
    fg_time birth = g->h->patient.birth_date;
    size_t n = 0;
    for (fg_time t0 = from; t0 < until;) {
        int age = fg_age_at(birth, t0);
        fg_time t1 = fg_add_years(birth, age + 1);
        if (t1 > until)
            t1 = until;
        if (t1 <= t0)
            break;
        double years = (double)(t1 - t0) / YEAR_SECONDS;
        fg_time mid = t0 + (t1 - t0) / 2;
        for (size_t i = 0; i < x->n_events; i++) {
            double lambda = event_rate(g, &x->events[i], age, mid) * years;
            if (lambda <= 0)
                continue;
            for (int k = poisson(r, lambda); k > 0 && n < HX_MAX_CANDIDATES; k--) {
                cs[n].t = t0 + (fg_time)(fg_rng_uniform(r) * (double)(t1 - t0));
                cs[n].ev = (int)i;
                n++;
            }
        }
        t0 = t1;
    }
    return n;
}

static int draw_disp(fg_rng *r, const double *cum)
{
    double u = fg_rng_uniform(r) * cum[HX_EXPIRED - 1];
    int i = 0;
    while (i < HX_EXPIRED - 1 && u >= cum[i])
        i++;
    return i;
}

/* Write one event at time t; *busy is when the patient is free again. */
static int write_event(eng_gen *g, fg_rng *r, const hx_event *ev, fg_time t, fg_time until,
                       fg_time *busy, fg_error *err)
{
    hx_visit v = {.path = ev->path, .until = FG_TIME_NONE, .los_days = ev->los_days};
    fg_time day = t - ((t % FG_DAY) + FG_DAY) % FG_DAY;
    if (ev->path == HX_ELECTIVE)
        v.arrival = day + 12 * 3600 + fg_rng_range(r, 0, 8) * 900; /* a morning, US time */
    else
        v.arrival = t;
    int old = fg_age_at(g->h->patient.birth_date, t) >= 65;
    v.admitted = ev->path == HX_ELECTIVE || fg_rng_chance(r, old ? ev->admit_p65 : ev->admit_p);
    v.disp = v.admitted ? draw_disp(r, ev->disp) : HX_HOME;
    v.stay_type = ev->encounter.code ? &ev->encounter : NULL;
    const eng_cond *req = ev->requires ? hx_find(g, ev->requires) : NULL;
    if (ev->diagnosis.code) {
        v.reason = &ev->diagnosis;
    } else if (req) {
        v.reason = &req->module->term;
        v.reason_condition = req->condition_id;
    }
    /* a stay must end by the cohort's today (or the visits before death) */
    fg_time need = v.admitted ? (HX_MAX_LOS_DAYS + 1) * FG_DAY : FG_DAY;
    if (v.arrival < g->window_start || v.arrival + need >= until)
        return FG_OK;
    size_t first = g->h->encounters.n, n_obs = g->h->observations.n;
    int rc = hx_write_visit(g, r, &v, err);
    if (rc)
        return rc;
    if (hx_busy(g, first, v.arrival, v.end)) {
        /* another visit of the record falls in this one: it did not happen */
        g->h->encounters.n = first;
        g->h->observations.n = n_obs;
        return FG_OK;
    }
    const char *enc0 = g->h->encounters.v[first].id;
    if (ev->record && ev->diagnosis.code) {
        fg_time abate = ev->resolve_days > 0 ? v.arrival + (fg_time)(ev->resolve_days * FG_DAY)
                                             : FG_TIME_NONE;
        if (abate != FG_TIME_NONE && abate >= g->stop)
            abate = FG_TIME_NONE;
        fg_condition *c = hx_add_condition(g, enc0, &ev->diagnosis,
                                           ev->record == HX_RECORD_PROBLEM, v.arrival, abate);
        if (!c)
            return fg_error_set(err, FG_ENOMEM, "conditions", "out of memory");
        v.reason_condition = c->id;
        for (size_t i = first; i < g->h->encounters.n; i++)
            g->h->encounters.v[i].reason_condition = c->id;
    }
    if (v.admitted && ev->procedure.code && fg_rng_chance(r, ev->procedure_p)) {
        fg_encounter *stay = &g->h->encounters.v[g->h->encounters.n - 1];
        fg_procedure *p = FG_PUSH(g->h, procedures);
        if (!p || !(p->id = eng_new_id(g)))
            return fg_error_set(err, FG_ENOMEM, "procedures", "out of memory");
        p->encounter = stay->id;
        p->term = ev->procedure;
        p->start = stay->start + (ev->path == HX_ELECTIVE ? 2 * 3600 : 12 * 3600);
        if (p->start > stay->end - 3600)
            p->start = stay->start + (stay->end - stay->start) / 3;
        p->end = p->start + 2 * 3600 < stay->end ? p->start + 2 * 3600 : stay->end;
        p->reason = v.reason_condition;
    }
    *busy = v.end + FG_DAY;
    return FG_OK;
}

int eng_hospital(eng_gen *g, fg_error *err)
{
    const struct eng_hospital *x = g->e->hospital;
    if (!x || g->stop <= g->window_start)
        return FG_OK;
    fg_rng r = fg_rng_fork(&g->rng, "hospital");
    fg_time until = g->stop;
    int rc;
    if (g->h->patient.death != FG_TIME_NONE) {
        fg_rng rd = fg_rng_fork(&g->rng, "hospital.terminal");
        if ((rc = hx_terminal(g, &rd, &until, err)))
            return rc;
        until -= 2 * FG_DAY;
    }
    cand cs[HX_MAX_CANDIDATES];
    size_t n = draw_events(g, &r, g->window_start, until, cs);
    qsort(cs, n, sizeof(*cs), cand_cmp);
    fg_time busy = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].t < busy || cs[i].t >= until)
            continue;
        if ((rc = write_event(g, &r, &x->events[cs[i].ev], cs[i].t, until, &busy, err)))
            return rc;
    }
    return FG_OK;
}
