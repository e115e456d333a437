/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_episodes_gen.c: the episode pass of the engine (eng_episodes).
 *
 * Allergies first (their onset may lie before the detailed window: the
 * allergy is still on the record, attached to the visit that recorded it),
 * then acute episodes drawn as a Poisson process per year of age from their
 * yearly incidence over the window, then pregnancies for women of 15 to 45.
 * Each pass draws from its own stream forked from the patient's root stream.
 */
#include <math.h>
#include <string.h>

#include "generators/engine/episodes_private.h"
#include "generators/engine/fg_engine.h"

#define EP_MAX_TAGS 32           /* allergy tags a patient can carry */
#define EP_MIN_ALLERGY_AGE_DAYS 30 /* no allergy is recorded in the first month */
#define EP_PREGNANCY_REST_DAYS 90  /* after a delivery or a loss, before the next conception */

typedef struct ep_state {
    eng_gen *g;
    const struct eng_episodes *x;
    fg_rng rng;
    fg_time birth, window, stop;
    const char *tags[EP_MAX_TAGS];
    fg_time tag_onset[EP_MAX_TAGS];
    size_t n_tags;
    fg_term temperature;
    const char *temperature_unit;
    int has_temperature;
    fg_term weight, bmi; /* vital signs a pregnancy moves */
    fg_error *err;
} ep_state;

/* A visit just written: a copy, since later pushes may move the vector. */
typedef struct ep_visit_out {
    const char *id;
    fg_time start, end;
} ep_visit_out;

static int oom(ep_state *s)
{
    return fg_error_set(s->err, FG_ENOMEM, "engine.episodes", "out of memory");
}

static fg_time days(double d)
{
    return (fg_time)(d * (double)FG_DAY);
}

static double years_between(fg_time a, fg_time b)
{
    return (double)(b - a) / ((double)FG_DAY * FG_YEAR_DAYS);
}

static int range(fg_rng *r, int lo, int hi)
{
    return (int)fg_rng_range(r, lo, hi);
}

/* The value of the band that covers age and sex; 0 when none does. */
static double band_value(const ep_band *b, size_t n, int age, fg_sex sex)
{
    for (size_t i = 0; i < n; i++)
        if (age >= b[i].age_lo && age <= b[i].age_hi && (b[i].sex < 0 || b[i].sex == (int)sex))
            return b[i].value;
    return 0;
}

static int poisson(fg_rng *r, double mean)
{
    if (mean <= 0)
        return 0;
    if (mean > 30) {
        double v = fg_rng_normal(r, mean, sqrt(mean));
        return v < 0 ? 0 : (int)(v + 0.5);
    }
    double limit = exp(-mean), p = 1;
    int k = 0;
    do {
        k++;
        p *= fg_rng_uniform(r);
    } while (p > limit);
    return k - 1;
}

/* Raise the body temperature recorded since observation index `from` by a
 * fever, when the vital signs include one. */
static void apply_fever(ep_state *s, size_t from)
{
    if (!s->has_temperature)
        return;
    fg_history *h = s->g->h;
    double rise = fg_rng_normal(&s->rng, 1.5, 0.5);
    if (rise < 0.6)
        rise = 0.6;
    if (rise > 2.6)
        rise = 2.6;
    for (size_t i = from; i < h->observations.n; i++) {
        fg_observation *o = &h->observations.v[i];
        if (o->kind != FG_VALUE_QUANTITY || !o->term.code ||
            strcmp(o->term.code, s->temperature.code) != 0)
            continue;
        o->value += (o->unit && strcmp(o->unit, "[degF]") == 0) ? rise * 1.8 : rise;
    }
}

/* Add a visit with vital signs (when inside the detailed window). */
static int add_visit(ep_state *s, fg_time start, int minutes, fg_encounter_class cls,
                     const fg_term *type, const fg_term *reason, int fever, ep_visit_out *out)
{
    fg_encounter *enc = eng_add_encounter(s->g, start, minutes, cls, type, reason);
    if (!enc)
        return oom(s);
    out->id = enc->id;
    out->start = enc->start;
    out->end = enc->end;
    if (start >= s->window) {
        size_t from = s->g->h->observations.n;
        int rc = eng_add_vitals(s->g, enc);
        if (rc != FG_OK)
            return rc;
        if (fever)
            apply_fever(s, from);
    }
    return FG_OK;
}

static const char *add_condition(ep_state *s, const ep_visit_out *v, const fg_term *term,
                                 fg_condition_category cat, fg_time onset, fg_time abatement)
{
    fg_history *h = s->g->h;
    fg_condition *c = FG_PUSH(h, conditions);
    if (!c)
        return NULL;
    c->id = eng_new_id(s->g);
    c->encounter = v->id;
    c->category = cat;
    c->term = *term;
    c->onset = onset < s->birth ? s->birth : onset;
    c->abatement = (abatement == FG_TIME_NONE || abatement > s->stop) ? FG_TIME_NONE : abatement;
    c->recorded = v->start;
    return c->id;
}

static int add_procedure(ep_state *s, const ep_visit_out *v, const fg_term *term, fg_time at,
                         int minutes, const char *reason)
{
    fg_procedure *p = FG_PUSH(s->g->h, procedures);
    if (!p)
        return oom(s);
    if (at < v->start)
        at = v->start;
    fg_time end = at + (fg_time)minutes * 60;
    if (end > v->end && v->end > at)
        end = v->end;
    p->id = eng_new_id(s->g);
    p->encounter = v->id;
    p->term = *term;
    p->start = at;
    p->end = end;
    p->reason = reason;
    return p->id ? FG_OK : oom(s);
}

static int add_procs(ep_state *s, const ep_visit_out *v, const ep_proc *procs, size_t n,
                     const char *reason)
{
    fg_time at = v->start + 5 * 60;
    for (size_t i = 0; i < n; i++) {
        if (procs[i].p < 1 && !fg_rng_chance(&s->rng, procs[i].p))
            continue;
        int rc = add_procedure(s, v, &procs[i].term, at, range(&s->rng, 10, 20), reason);
        if (rc)
            return rc;
        at += 5 * 60;
    }
    return FG_OK;
}

/* One observation drawn from a result spec; its id, or NULL when out of memory. */
static const char *add_result(ep_state *s, const ep_visit_out *v, const ep_result *r,
                              fg_time at)
{
    fg_observation *o = FG_PUSH(s->g->h, observations);
    if (!o)
        return NULL;
    o->id = eng_new_id(s->g);
    o->encounter = v->id;
    o->category = FG_OBS_LAB;
    o->term = r->term;
    o->time = at;
    if (r->n_values) {
        o->kind = FG_VALUE_CODE;
        o->code_value = r->values[fg_rng_pick_cumulative(&s->rng, r->cum, r->n_values)];
    } else {
        double x = fg_rng_normal(&s->rng, r->mean, r->sd);
        o->kind = FG_VALUE_QUANTITY;
        o->value = x < r->min ? r->min : x > r->max ? r->max : x;
        o->unit = r->unit;
        o->decimals = r->decimals;
    }
    return o->id;
}

static int add_labs(ep_state *s, const ep_visit_out *v, const ep_lab *labs, size_t n)
{
    fg_time at = v->start + 15 * 60;
    for (size_t i = 0; i < n; i++) {
        const ep_lab *l = &labs[i];
        if (l->p < 1 && !fg_rng_chance(&s->rng, l->p))
            continue;
        const char **ids = NULL;
        if (l->has_panel && l->n_results) {
            ids = fg_arena_alloc(&s->g->h->arena, l->n_results * sizeof(*ids));
            if (!ids)
                return oom(s);
        }
        for (size_t k = 0; k < l->n_results; k++) {
            const char *id = add_result(s, v, &l->results[k], at);
            if (!id)
                return oom(s);
            if (ids)
                ids[k] = id;
        }
        if (ids) {
            fg_report *r = FG_PUSH(s->g->h, reports);
            if (!r)
                return oom(s);
            r->id = eng_new_id(s->g);
            r->encounter = v->id;
            r->term = l->panel;
            r->time = at;
            r->results = ids;
            r->n_results = l->n_results;
        }
    }
    return FG_OK;
}

static int allergic_to(const ep_state *s, const char *tag, fg_time t)
{
    for (size_t i = 0; tag && i < s->n_tags; i++)
        if (s->tag_onset[i] <= t && strcmp(s->tags[i], tag) == 0)
            return 1;
    return 0;
}

/* Pick a medication option: by weight among those the patient may take,
 * else the first allowed fallback; NULL when none fits. */
static const ep_med_opt *pick_med(ep_state *s, const ep_med *m, int age, fg_time t)
{
    double total = 0;
    const ep_med_opt *fallback = NULL;
    for (size_t i = 0; i < m->n_opts; i++) {
        const ep_med_opt *o = &m->opts[i];
        if (age < o->min_age || allergic_to(s, o->avoid, t))
            continue;
        if (o->fallback) {
            if (!fallback)
                fallback = o;
        } else {
            total += o->w;
        }
    }
    if (total <= 0)
        return fallback;
    double u = fg_rng_uniform(&s->rng) * total;
    const ep_med_opt *last = NULL;
    for (size_t i = 0; i < m->n_opts; i++) {
        const ep_med_opt *o = &m->opts[i];
        if (o->fallback || o->w <= 0 || age < o->min_age || allergic_to(s, o->avoid, t))
            continue;
        last = o;
        if (u < o->w)
            return o;
        u -= o->w;
    }
    return last;
}

static int add_meds(ep_state *s, const ep_visit_out *v, const ep_med *meds, size_t n, int age,
                    const char *reason)
{
    for (size_t i = 0; i < n; i++) {
        if (meds[i].p < 1 && !fg_rng_chance(&s->rng, meds[i].p))
            continue;
        const ep_med_opt *o = pick_med(s, &meds[i], age, v->start);
        if (!o)
            continue;
        fg_medication *m = FG_PUSH(s->g->h, medications);
        if (!m)
            return oom(s);
        fg_time end = v->start + days(range(&s->rng, o->days_lo, o->days_hi));
        m->id = eng_new_id(s->g);
        m->encounter = v->id;
        m->term = o->term;
        m->start = v->start;
        m->reason = reason;
        m->dosage = o->dosage;
        m->per_day = o->per_day;
        m->as_needed = o->as_needed;
        if (end <= s->stop) {
            m->status = FG_MED_COMPLETED;
            m->end = end;
        } else if (s->stop < s->g->end) { /* died during the course */
            m->status = FG_MED_STOPPED;
            m->end = s->stop;
        } else {
            m->status = FG_MED_ACTIVE;
            m->end = FG_TIME_NONE;
        }
        if (!m->id)
            return oom(s);
    }
    return FG_OK;
}

/* A visit start on the day of t: office hours for the clinic, any hour for
 * the emergency department. */
static fg_time visit_time(ep_state *s, fg_time t, int emergency)
{
    fg_time day = t - ((t % FG_DAY) + FG_DAY) % FG_DAY;
    int hour = emergency ? range(&s->rng, 0, 23) : range(&s->rng, 8, 18);
    return day + (fg_time)hour * 3600 + (fg_time)range(&s->rng, 0, 11) * 300;
}

/* ---- allergies ---- */

static int gen_allergies(ep_state *s)
{
    const struct eng_episodes *x = s->x;
    for (size_t i = 0; i < x->n_allergies; i++) {
        const ep_allergy *a = &x->allergies[i];
        if (!fg_rng_chance(&s->rng, a->prevalence))
            continue;
        double age = a->onset_lo + fg_rng_uniform(&s->rng) * (a->onset_hi + 1 - a->onset_lo);
        fg_time onset = s->birth + days(age * FG_YEAR_DAYS);
        if (onset < s->birth + days(EP_MIN_ALLERGY_AGE_DAYS))
            onset = s->birth + days(EP_MIN_ALLERGY_AGE_DAYS);
        fg_time start = visit_time(s, onset, 0);
        int minutes = range(&s->rng, 15, 30);
        int critical = fg_rng_chance(&s->rng, a->high_criticality);
        size_t reaction = fg_rng_pick_cumulative(&s->rng, a->reaction_cum, a->n_reactions);
        int severity = (int)fg_rng_pick_cumulative(&s->rng, a->severity_cum, 3);
        if (start < s->birth || start + (fg_time)minutes * 60 > s->stop)
            continue;
        ep_visit_out v = {0};
        int rc = add_visit(s, start, minutes, FG_CLASS_AMB, &x->allergy_encounter, NULL, 0, &v);
        if (rc)
            return rc;
        fg_allergy *al = FG_PUSH(s->g->h, allergies);
        if (!al)
            return oom(s);
        al->id = eng_new_id(s->g);
        al->encounter = v.id;
        al->term = a->substance;
        al->category = a->category;
        al->high_criticality = critical;
        al->onset = v.start;
        al->reaction = a->reactions[reaction];
        al->severity = severity;
        if (!al->id)
            return oom(s);
        if (a->tag && s->n_tags < EP_MAX_TAGS) {
            s->tags[s->n_tags] = a->tag;
            s->tag_onset[s->n_tags++] = v.start;
        }
    }
    return FG_OK;
}

/* ---- acute episodes ---- */

static int gen_episode(ep_state *s, const ep_episode *ep, fg_time t)
{
    const struct eng_episodes *x = s->x;
    int emergency = !fg_rng_chance(&s->rng, ep->p_urgent);
    const ep_setting *set = emergency ? &x->emergency : &x->urgent;
    fg_time start = visit_time(s, t, emergency);
    int minutes = range(&s->rng, set->min_lo, set->min_hi);
    int fever = fg_rng_chance(&s->rng, ep->fever);
    int symptom_days = range(&s->rng, 0, 3);
    int lasts = range(&s->rng, ep->lasts_lo, ep->lasts_hi);
    if (start < s->window || start < s->birth + FG_DAY ||
        start + (fg_time)minutes * 60 > s->stop)
        return FG_OK;
    int age = fg_age_at(s->birth, start);
    ep_visit_out v = {0};
    int rc = add_visit(s, start, minutes, set->cls, &set->type, &ep->diagnosis, fever, &v);
    if (rc)
        return rc;
    const char *cond = add_condition(s, &v, &ep->diagnosis, FG_COND_DIAGNOSIS,
                                     start - days(symptom_days), start + days(lasts));
    if (!cond)
        return oom(s);
    if ((rc = add_procs(s, &v, ep->procs, ep->n_procs, cond)) ||
        (rc = add_labs(s, &v, ep->labs, ep->n_labs)) ||
        (rc = add_meds(s, &v, ep->meds, ep->n_meds, age, cond)))
        return rc;
    if (ep->followup_p > 0 && fg_rng_chance(&s->rng, ep->followup_p)) {
        fg_time t2 = visit_time(s, start + days(range(&s->rng, ep->followup_lo,
                                                            ep->followup_hi)), 0);
        int m2 = range(&s->rng, x->followup.min_lo, x->followup.min_hi);
        if (t2 + (fg_time)m2 * 60 <= s->stop) {
            ep_visit_out f = {0};
            if ((rc = add_visit(s, t2, m2, x->followup.cls, &x->followup.type, &ep->diagnosis, 0,
                                &f)) ||
                (rc = add_procs(s, &f, ep->followup_procs, ep->n_followup_procs, cond)))
                return rc;
        }
    }
    return FG_OK;
}

static int gen_acute(ep_state *s)
{
    fg_sex sex = s->g->h->patient.sex;
    for (size_t e = 0; e < s->x->n_episodes; e++) {
        const ep_episode *ep = &s->x->episodes[e];
        int a0 = fg_age_at(s->birth, s->window), a1 = fg_age_at(s->birth, s->stop);
        for (int a = a0; a <= a1 && a <= FG_MAX_AGE; a++) {
            fg_time lo = fg_add_years(s->birth, a), hi = fg_add_years(s->birth, a + 1);
            if (lo < s->window)
                lo = s->window;
            if (hi > s->stop)
                hi = s->stop;
            double rate = band_value(ep->bands, ep->n_bands, a, sex);
            if (hi <= lo || rate <= 0)
                continue;
            int n = poisson(&s->rng, rate * years_between(lo, hi));
            for (int k = 0; k < n; k++) {
                fg_time t = lo + (fg_time)(fg_rng_uniform(&s->rng) * (double)(hi - lo));
                int rc = gen_episode(s, ep, t);
                if (rc)
                    return rc;
            }
        }
    }
    return FG_OK;
}

/* ---- pregnancy ---- */

/* Gestational weight gain of one pregnancy: `t1` kg by week 13, `total` by 40. */
typedef struct ep_gain {
    double t1, total;
} ep_gain;

/* Draw the gain on the IOM range of the pre-pregnancy BMI at conception. */
static ep_gain draw_gain(ep_state *s, fg_time conception)
{
    const ep_pregnancy *pg = &s->x->pregnancy;
    eng_vital_shift sh;
    memset(&sh, 0, sizeof(sh));
    eng_conditions_vitals(s->g, conception, &sh);
    double bmi = s->g->bmi_base + sh.bmi;
    size_t b = 0;
    while (b + 1 < pg->n_gain && bmi >= pg->gain_bmi_hi[b])
        b++;
    double pos = fg_rng_normal(&s->rng, pg->gain_pos_mean, pg->gain_pos_sd);
    ep_gain gn;
    gn.t1 = pg->t1_lo + (pg->t1_hi - pg->t1_lo) * fg_rng_uniform(&s->rng);
    gn.total = pg->gain_lo[b] + (pg->gain_hi[b] - pg->gain_lo[b]) * pos;
    if (gn.total < gn.t1)
        gn.total = gn.t1;
    return gn;
}

static double gain_at(const ep_gain *gn, double week)
{
    if (week <= 13)
        return gn->t1 * (week > 0 ? week : 0) / 13.0;
    return gn->t1 + (gn->total - gn->t1) * (week - 13) / 27.0;
}

/* Add kg to the weight (and the BMI) recorded since observation `from`. */
static void add_gain(ep_state *s, size_t from, double kg)
{
    fg_history *h = s->g->h;
    double ratio = 0;
    for (size_t i = from; i < h->observations.n; i++) {
        fg_observation *o = &h->observations.v[i];
        if (o->kind == FG_VALUE_QUANTITY && o->term.code && s->weight.code &&
            !strcmp(o->term.code, s->weight.code) && o->value > 0) {
            double w = round((o->value + kg) * 10) / 10.0;
            ratio = w / o->value;
            o->value = w;
        }
    }
    for (size_t i = from; ratio > 0 && i < h->observations.n; i++) {
        fg_observation *o = &h->observations.v[i];
        if (o->kind == FG_VALUE_QUANTITY && o->term.code && s->bmi.code &&
            !strcmp(o->term.code, s->bmi.code))
            o->value *= ratio;
    }
}

static int give_tdap(ep_state *s, const ep_visit_out *v)
{
    fg_immunization *im = FG_PUSH(s->g->h, immunizations);
    if (!im || !(im->id = eng_new_id(s->g)))
        return oom(s);
    im->encounter = v->id;
    im->term = s->x->pregnancy.tdap;
    im->time = v->start + 10 * 60;
    return FG_OK;
}

/* Write one pregnancy conceived at `conception`; *next is when the next one
 * may begin. Encounters before the window are left out. */
static int gen_one_pregnancy(ep_state *s, fg_time conception, fg_time *next)
{
    const ep_pregnancy *pg = &s->x->pregnancy;
    int age = fg_age_at(s->birth, conception);
    int first_week = range(&s->rng, pg->first_lo, pg->first_hi);
    int lost = fg_rng_chance(&s->rng, band_value(pg->miscarriage, pg->n_miscarriage, age,
                                                 FG_SEX_FEMALE));
    double dweek = fg_rng_normal(&s->rng, pg->week_mean, pg->week_sd);
    if (dweek < pg->week_min)
        dweek = pg->week_min;
    if (dweek > pg->week_max)
        dweek = pg->week_max;
    int loss_week = range(&s->rng, first_week + 1, first_week + 5);
    fg_time end = lost ? conception + days(7.0 * loss_week) : conception + days(7.0 * dweek);
    const char *cond = NULL;
    ep_gain gn = draw_gain(s, conception);
    int tdap = pg->n_gain && fg_rng_chance(&s->rng, pg->tdap_p);
    int rc;

    *next = end + days(EP_PREGNANCY_REST_DAYS);
    for (size_t i = 0; i < pg->n_visits; i++) {
        const ep_visit *pv = &pg->visits[i];
        int week = pv->week ? pv->week : first_week;
        if (i > 0 && week <= first_week)
            continue;
        fg_time t = visit_time(s, conception + days(7.0 * week + range(&s->rng, -2, 2)), 0);
        if (t >= end - FG_DAY || t > s->stop)
            break;
        int minutes = i == 0 ? range(&s->rng, 40, 60) : range(&s->rng, 15, 30);
        if (t < s->window || t + (fg_time)minutes * 60 > s->stop)
            continue;
        ep_visit_out v = {0};
        size_t from = s->g->h->observations.n;
        if ((rc = add_visit(s, t, minutes, FG_CLASS_AMB, &pv->type, &pg->condition, 0, &v)))
            return rc;
        add_gain(s, from, gain_at(&gn, (double)(t - conception) / (7.0 * FG_DAY)));
        if (tdap && week >= pg->tdap_lo && week <= pg->tdap_hi) {
            if ((rc = give_tdap(s, &v)))
                return rc;
            tdap = 0;
        }
        if (!cond) {
            cond = add_condition(s, &v, &pg->condition, FG_COND_PROBLEM, conception,
                                 end <= s->stop ? end : FG_TIME_NONE);
            if (!cond)
                return oom(s);
        }
        if ((rc = add_procs(s, &v, pv->procs, pv->n_procs, cond)))
            return rc;
        if (pv->hemoglobin && !add_result(s, &v, &pg->hemoglobin, v.start + 15 * 60))
            return oom(s);
        if (pv->status) {
            fg_observation *o = FG_PUSH(s->g->h, observations);
            if (!o)
                return oom(s);
            o->id = eng_new_id(s->g);
            o->encounter = v.id;
            o->category = FG_OBS_SOCIAL;
            o->term = pg->status;
            o->time = v.start;
            o->kind = FG_VALUE_CODE;
            o->code_value = pg->status_value;
        }
    }
    if (!cond || end > s->stop)
        return FG_OK; /* all before the window, or still pregnant at the end */

    if (lost) {
        fg_time t = visit_time(s, end, 0);
        int minutes = range(&s->rng, 20, 40);
        if (t + (fg_time)minutes * 60 > s->stop)
            return FG_OK;
        ep_visit_out v = {0};
        if ((rc = add_visit(s, t, minutes, FG_CLASS_AMB, &pg->visit_type,
                            &pg->miscarriage_condition, 0, &v)))
            return rc;
        if (!add_condition(s, &v, &pg->miscarriage_condition, FG_COND_DIAGNOSIS, end,
                           end + days(range(&s->rng, 7, 21))))
            return oom(s);
        return FG_OK;
    }

    double u = fg_rng_uniform(&s->rng) * pg->deliveries[pg->n_deliveries - 1].cum;
    size_t d = 0;
    while (d + 1 < pg->n_deliveries && u >= pg->deliveries[d].cum)
        d++;
    const ep_delivery *dl = &pg->deliveries[d];
    fg_time t = visit_time(s, end, 1);
    int minutes = range(&s->rng, dl->days_lo, dl->days_hi) * 1440 + range(&s->rng, 0, 600);
    if (t + (fg_time)minutes * 60 > s->stop)
        return FG_OK;
    ep_visit_out v = {0};
    size_t from = s->g->h->observations.n;
    if ((rc = add_visit(s, t, minutes, FG_CLASS_IMP, &pg->delivery_type, &pg->condition, 0, &v)))
        return rc;
    add_gain(s, from, gn.total);
    fg_time at = v.start + 3600;
    for (size_t i = 0; i < pg->n_extras; i++)
        if (fg_rng_chance(&s->rng, pg->extras[i].p) &&
            !(dl->skip && !strcmp(dl->skip, pg->extras[i].term.code))) {
            if ((rc = add_procedure(s, &v, &pg->extras[i].term, at, 30, cond)))
                return rc;
            at += 1800;
        }
    if ((rc = add_procedure(s, &v, &dl->term, at + 3600, range(&s->rng, 30, 90), cond)))
        return rc;

    fg_time pp = visit_time(s, v.end + days(range(&s->rng, pg->postpartum_lo, pg->postpartum_hi)),
                            0);
    minutes = range(&s->rng, 20, 40);
    if (pp + (fg_time)minutes * 60 > s->stop)
        return FG_OK;
    ep_visit_out p = {0};
    from = s->g->h->observations.n;
    if ((rc = add_visit(s, pp, minutes, FG_CLASS_AMB, &pg->postpartum_type, NULL, 0, &p)))
        return rc;
    add_gain(s, from, gn.total * pg->retained);
    return add_procs(s, &p, pg->postpartum_procs, pg->n_postpartum_procs, cond);
}

static int gen_pregnancies(ep_state *s)
{
    const ep_pregnancy *pg = &s->x->pregnancy;
    if (s->g->h->patient.sex != FG_SEX_FEMALE || pg->n_rates == 0)
        return FG_OK;
    int lo_age = pg->rates[0].age_lo, hi_age = pg->rates[0].age_hi;
    for (size_t i = 1; i < pg->n_rates; i++) {
        if (pg->rates[i].age_lo < lo_age)
            lo_age = pg->rates[i].age_lo;
        if (pg->rates[i].age_hi > hi_age)
            hi_age = pg->rates[i].age_hi;
    }
    /* Start early enough that a pregnancy under way when the window opens
     * shows its later visits. */
    fg_time t = s->window - days(300);
    fg_time first = fg_add_years(s->birth, lo_age), last = fg_add_years(s->birth, hi_age + 1);
    if (t < first)
        t = first;
    while (t < last && t < s->stop) {
        int age = fg_age_at(s->birth, t);
        double rate = band_value(pg->rates, pg->n_rates, age, FG_SEX_FEMALE);
        fg_time band_end = fg_add_years(s->birth, age + 1);
        if (band_end <= t) /* a Feb 29 birthday: the year ends a day later */
            band_end = t + FG_DAY;
        if (rate <= 0) {
            t = band_end;
            continue;
        }
        double u = fg_rng_uniform(&s->rng);
        fg_time conception = t + days(-log(1.0 - u) / rate * FG_YEAR_DAYS);
        if (conception >= band_end) {
            t = band_end; /* memoryless: draw again under next year's rate */
            continue;
        }
        if (conception >= last || conception >= s->stop)
            break;
        int rc = gen_one_pregnancy(s, conception, &t);
        if (rc)
            return rc;
    }
    return FG_OK;
}

int eng_episodes(eng_gen *g, fg_error *err)
{
    ep_state s;
    int rc;
    memset(&s, 0, sizeof(s));
    s.g = g;
    s.x = g->e->episodes;
    s.err = err;
    s.birth = g->h->patient.birth_date;
    s.window = g->window_start > s.birth ? g->window_start : s.birth;
    s.stop = g->stop;
    if (!s.x || s.stop <= s.birth)
        return FG_OK;
    s.has_temperature = eng_vocab_term(g->e, "vital.temperature", &s.temperature,
                                       &s.temperature_unit, NULL) == FG_OK;
    if (eng_vocab_term(g->e, "vital.weight", &s.weight, NULL, NULL) != FG_OK ||
        eng_vocab_term(g->e, "vital.bmi", &s.bmi, NULL, NULL) != FG_OK)
        memset(&s.weight, 0, sizeof(s.weight));

    s.rng = fg_rng_fork(&g->rng, "allergies");
    if ((rc = gen_allergies(&s)))
        return rc;
    s.rng = fg_rng_fork(&g->rng, "episodes");
    if ((rc = gen_acute(&s)))
        return rc;
    s.rng = fg_rng_fork(&g->rng, "pregnancy");
    return gen_pregnancies(&s);
}
