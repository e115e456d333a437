/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_conditions.c: chronic conditions, one JSON module per condition in
 * the data folder's conditions/ (read by engine_module.c).
 *
 * Sampling works on the patient's state at the cohort's end date: for each
 * module, in dependency order, the patient has the condition with the
 * module's prevalence for their age band and sex, scaled by the relative
 * risks of the conditions they already have and divided by the expected
 * scaling at that age, so the marginal stays close to the table. The onset
 * is drawn from the prevalence curve itself (P(onset <= x) grows like the
 * prevalence up to x), so younger ages of the cohort see consistent
 * figures. A condition that resolves has an onset within its duration.
 *
 * Care follows a plan computed from a stream seeded by the condition's
 * severity draw: diagnosis visit, follow-up visits at the module's cadence,
 * lines of therapy started, switched or added when uncontrolled. The plan
 * is a pure function of the sampled state, so vital-sign shifts asked for
 * by other passes at any time agree with the medications written here.
 * Nothing is allocated per patient beyond the history's arena.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_arena.h"
#include "fhir/base/fg_data.h"
#include "fhir/base/fg_hash.h"
#include "generators/engine/engine_module.h"

#define MONTH_SECONDS ((fg_time)(30.436875 * FG_DAY))
#define YEAR_SECONDS ((fg_time)(365.2425 * FG_DAY))
#define COND_MAX_VISITS 2000 /* follow-up visits looked at per condition */

int eng_modules_load(fg_engine *e, fg_error *err)
{
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%s/conditions", e->datadir ? e->datadir : fg_data_dir());
    if (n < 0 || (size_t)n >= sizeof(dir))
        return fg_error_set(err, FG_ELIMIT, "conditions", "data folder path too long");
    struct eng_modules *m = NULL;
    int rc = eng_modules_read(dir, e->terms, &m, err);
    if (rc != FG_OK)
        return rc;
    e->modules = m;
    return FG_OK;
}

/* ---- the plan of one condition ---- */

typedef struct line_plan {
    int started;
    size_t drug, drug2;
    int k_start;   /* visit index (0 = diagnosis) */
    int k_switch;  /* visit index of an intolerance switch, or -1 */
    fg_time start; /* FG_TIME_NONE when not started */
    fg_time end;   /* course end, or FG_TIME_NONE */
} line_plan;

typedef struct cond_plan {
    uint64_t seed;
    fg_time dx;
    fg_time stop; /* care ends: resolution or the patient's stop */
    int uncontrolled;
    line_plan lines[MOD_MAX_LINES];
    double z[MOD_MAX_LABS];
} cond_plan;

static uint64_t double_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof(u));
    return u;
}

static fg_time visit_time(const eng_module *m, const cond_plan *p, int k)
{
    if (k == 0 || m->followup_months <= 0)
        return p->dx;
    fg_time base = p->dx + (fg_time)(k * m->followup_months * (double)MONTH_SECONDS);
    /* a deterministic jitter of about +/- 10% of the cadence */
    int64_t span = (int64_t)(m->followup_months * 3.0 * FG_DAY) + 1;
    int64_t j = (int64_t)(fg_mix64(p->seed + (uint64_t)k) % (uint64_t)(2 * span)) - span;
    return base + j;
}

static int visit_at_or_after(const eng_module *m, double months)
{
    if (m->followup_months <= 0 || months <= 0)
        return 0;
    return (int)ceil(months / m->followup_months - 1e-9);
}

/* The first visit from k at which a gated line may start: the patient is
 * within its ages and has one of its with_any conditions; -1 when never. */
static int line_gate(const eng_gen *g, const eng_module *m, const mod_line *ln,
                     const cond_plan *p, int k)
{
    fg_time birth = g->h->patient.birth_date, from = p->dx;
    if (ln->age_lo >= 0 && fg_add_years(birth, ln->age_lo) > from)
        from = fg_add_years(birth, ln->age_lo);
    if (ln->n_with) {
        fg_time first = FG_TIME_NONE;
        for (size_t i = 0; i < g->n_conds; i++)
            for (size_t w = 0; w < ln->n_with; w++)
                if (strcmp(g->conds[i].module->name, ln->with_any[w]) == 0 &&
                    (first == FG_TIME_NONE || g->conds[i].onset < first))
                    first = g->conds[i].onset;
        if (first == FG_TIME_NONE)
            return -1;
        if (first > from)
            from = first;
    }
    if (from > p->dx) {
        if (m->followup_months <= 0)
            return -1;
        int kf = visit_at_or_after(m, (double)(from - p->dx) / (double)MONTH_SECONDS);
        if (kf > k)
            k = kf;
    }
    if (ln->age_hi >= 0 && visit_time(m, p, k) >= fg_add_years(birth, ln->age_hi + 1))
        return -1;
    return k;
}

static void make_plan(const eng_gen *g, const eng_cond *c, cond_plan *p)
{
    const eng_module *m = c->module;
    memset(p, 0, sizeof(*p));
    p->seed = fg_mix64(double_bits(c->severity) ^ fg_fnv1a_str(FG_FNV_SEED, m->name));
    fg_rng r;
    fg_rng_seed(&r, p->seed);
    p->dx = c->onset;
    p->stop = g->stop;
    /* a diagnosis that needs a second measurement waits for it (when there is time) */
    fg_time confirmed = c->onset + (fg_time)(m->confirm_days * FG_DAY);
    if (m->confirm_days > 0 && (c->resolved == FG_TIME_NONE || confirmed < c->resolved))
        p->dx = confirmed;
    if (c->resolved != FG_TIME_NONE && c->resolved < p->stop)
        p->stop = c->resolved;
    p->uncontrolled = c->severity > m->control_first_line;
    for (size_t i = 0; i < m->n_labs; i++)
        p->z[i] = fg_rng_normal(&r, 0, 1);
    int prev_k = 0;
    for (size_t l = 0; l < m->n_lines; l++) {
        const mod_line *ln = &m->lines[l];
        line_plan *lp = &p->lines[l];
        double u = fg_rng_uniform(&r);
        double cum[MOD_MAX_DRUGS], tot = 0;
        for (size_t d = 0; d < ln->n_drugs; d++)
            cum[d] = (tot += ln->drugs[d].weight > 0 ? ln->drugs[d].weight : 1e-9);
        lp->drug = fg_rng_pick_cumulative(&r, cum, ln->n_drugs);
        lp->drug2 = ln->n_drugs > 1 ? (lp->drug + 1 + (size_t)fg_rng_range(&r, 0, (int64_t)ln->n_drugs - 2)) % ln->n_drugs
                                    : lp->drug;
        double us = fg_rng_uniform(&r);
        lp->start = lp->end = FG_TIME_NONE;
        lp->k_switch = -1;
        if (ln->when_uncontrolled && !p->uncontrolled)
            continue;
        if (u >= ln->p_start)
            continue;
        int k = visit_at_or_after(m, ln->after_months);
        if (ln->when_uncontrolled && k <= prev_k && m->followup_months > 0)
            k = prev_k + 1;
        if ((ln->n_with || ln->age_lo >= 0) && (k = line_gate(g, m, ln, p, k)) < 0)
            continue;
        fg_time t = visit_time(m, p, k);
        if (t >= p->stop)
            continue;
        lp->started = 1;
        lp->k_start = k;
        lp->start = t;
        prev_k = k;
        if (ln->course_months > 0)
            lp->end = t + (fg_time)(ln->course_months * (double)MONTH_SECONDS);
        if (ln->n_drugs > 1 && us < ln->p_switch && m->followup_months > 0 && lp->end == FG_TIME_NONE)
            lp->k_switch = k + 1;
    }
}

/* Share of the full treatment effect at time t, 0..1. */
static double treatment_effect(const eng_cond *c, const cond_plan *p, fg_time t)
{
    const eng_module *m = c->module;
    fg_time first = FG_TIME_NONE;
    int active = 0, later_line = 0;
    for (size_t l = 0; l < m->n_lines; l++) {
        const line_plan *lp = &p->lines[l];
        if (!lp->started || t < lp->start || (lp->end != FG_TIME_NONE && t >= lp->end))
            continue;
        active++;
        if (l > 0)
            later_line = 1;
        if (first == FG_TIME_NONE || lp->start < first)
            first = lp->start;
    }
    if (!active)
        return 0;
    double e = p->uncontrolled ? (later_line ? 0.85 : 0.45) : 1.0;
    if (!c->adherent)
        e *= 0.4;
    if (m->response_months > 0) {
        double months = (double)(t - first) / (double)MONTH_SECONDS;
        if (months < m->response_months)
            e *= months / m->response_months;
    }
    return e;
}

static int cond_active(const eng_cond *c, fg_time t)
{
    return c->onset <= t && (c->resolved == FG_TIME_NONE || t < c->resolved);
}

/* ---- sampling ---- */

/* Onset age (years, fractional) for someone who has the condition at age
 * `age`: drawn from the module's prevalence curve between lo and age. */
static double draw_onset_age(const eng_module *m, int sex, int lo, int age, fg_rng *r)
{
    double cum[121];
    double run = 0;
    int n = 0;
    for (int a = lo; a <= age && n < 121; a++, n++) {
        double p = mod_band_p(m, a, sex);
        if (p > run)
            run = p;
        cum[n] = run;
    }
    if (n == 0 || cum[n - 1] <= 0)
        return age + fg_rng_uniform(r);
    double target = fg_rng_uniform(r) * cum[n - 1];
    int i = 0;
    while (i < n - 1 && cum[i] < target)
        i++;
    return lo + i + fg_rng_uniform(r);
}

static int has_module(const eng_gen *g, size_t mod_index, const struct eng_modules *ms)
{
    for (size_t i = 0; i < g->n_conds; i++)
        if (g->conds[i].module == &ms->mods[mod_index] && g->conds[i].resolved == FG_TIME_NONE)
            return 1;
    return 0;
}

static const eng_cond *find_cond(const eng_gen *g, const eng_module *m)
{
    for (size_t i = 0; i < g->n_conds; i++)
        if (g->conds[i].module == m)
            return &g->conds[i];
    return NULL;
}

/* How much more likely to die someone with module mi is through the
 * conditions it makes more likely (its complications and the modules that
 * list it as a risk factor), compared with someone without it. */
static double downstream_rr(const struct eng_modules *ms, size_t mi, int age, int sex)
{
    double pm = mod_band_p(&ms->mods[mi], age, sex), ratio = 1;
    for (size_t x = mi + 1; x < ms->n; x++) {
        const eng_module *mx = &ms->mods[x];
        if (mx->mortality_rr <= 1)
            continue;
        for (size_t k = 0; k < mx->n_edges; k++) {
            if (mx->edges[k].from != mi)
                continue;
            double px = mod_band_p(mx, age, sex), e = mx->edges[k].rr;
            double without = px / (1 + pm * (e - 1)), with = without * e;
            if (with > 0.98)
                with = 0.98;
            ratio *= (1 + with * (mx->mortality_rr - 1)) / (1 + without * (mx->mortality_rr - 1));
        }
    }
    return ratio;
}

/* The mean relative hazard, at this age, of the modules drawn after mi. */
static double future_rr(const struct eng_modules *ms, size_t mi, int age, int sex)
{
    double f = 1;
    for (size_t x = mi + 1; x < ms->n; x++)
        f *= 1 + mod_band_p(&ms->mods[x], age, sex) * (ms->mods[x].mortality_rr - 1);
    return f;
}

int eng_conditions_sample(eng_gen *g, fg_error *err)
{
    (void)err;
    const struct eng_modules *ms = g->e->modules;
    const fg_patient *pt = &g->h->patient;
    fg_rng r = fg_rng_fork(&g->rng, "conditions.sample");
    int age = fg_age_at(pt->birth_date, g->end);
    int sex = pt->sex;
    g->n_conds = 0;
    /* log of the survival over the detailed window at general-population
     * risk: eng_death applies the conditions' relative hazards to it */
    double log_s0 = 0, rr_now = 1;
    int years = g->e->spec.years_of_history > 0 ? g->e->spec.years_of_history : 10;
    for (int a = age - years; a < age; a++)
        if (a >= 0)
            log_s0 += log(1.0 - eng_demo_qx(g->e->demo, sex, a));
    for (size_t i = 0; ms && i < ms->n && g->n_conds < ENG_MAX_CONDS; i++) {
        const eng_module *m = &ms->mods[i];
        double p = mod_band_p(m, age, sex);
        double u = fg_rng_uniform(&r), u2 = fg_rng_uniform(&r);
        fg_rng cr = fg_rng_fork(&r, m->name);
        if (p <= 0)
            continue;
        double factor = 1, norm = 1;
        fg_time after = FG_TIME_NONE;
        for (size_t k = 0; k < m->n_edges; k++) {
            const mod_edge *e = &m->edges[k];
            double pf = mod_band_p(&ms->mods[e->from], age, sex);
            norm *= 1 + pf * (e->rr - 1);
            if (has_module(g, e->from, ms)) {
                factor *= e->rr;
                const eng_cond *fc = find_cond(g, &ms->mods[e->from]);
                if (e->ordered && fc && (after == FG_TIME_NONE || fc->onset > after))
                    after = fc->onset;
            }
        }
        p = p * factor / norm;
        if (p > 0.98)
            p = 0.98;
        double rr_m = m->mortality_rr * downstream_rr(ms, i, age, sex);
        if (rr_m > 1 && log_s0 < 0) {
            /* Bayes: P(has | alive at end) = p needs a larger draw */
            double base = log_s0 * rr_now * future_rr(ms, i, age, sex);
            double s_without = exp(base), s_with = exp(base * rr_m);
            p = p * s_without / (p * s_without + (1 - p) * s_with);
        }
        int lo = m->min_age;
        fg_time onset;
        fg_time resolved = FG_TIME_NONE;
        double dur_years = 0;
        if (m->resolve_max > 0)
            dur_years = m->resolve_min + fg_rng_uniform(&cr) * (m->resolve_max - m->resolve_min);
        if (u < p) {
            if (m->onset_max_years > 0 && age - (int)m->onset_max_years > lo)
                lo = age - (int)m->onset_max_years;
            if (m->resolve_max > 0 && age - (int)ceil(dur_years) > lo)
                lo = age - (int)ceil(dur_years);
            double oa = draw_onset_age(m, sex, lo, age, &cr);
            onset = pt->birth_date + (fg_time)(oa * (double)YEAR_SECONDS);
            if (onset > g->end)
                onset = g->end - (fg_time)(fg_rng_uniform(&cr) * 30 * FG_DAY);
            if (after != FG_TIME_NONE && onset < after)
                onset = after + (fg_time)(fg_rng_uniform(&cr) * (double)(g->end - after));
        } else if (m->resolved_extra > 0 && u2 < m->resolved_extra) {
            /* a past episode that has resolved before the end date */
            fg_time dur = (fg_time)(dur_years * (double)YEAR_SECONDS);
            fg_time earliest = pt->birth_date + (fg_time)(m->min_age * (double)YEAR_SECONDS);
            fg_time latest = g->end - dur - 30 * FG_DAY;
            if (latest <= earliest)
                continue;
            fg_time span = latest - earliest;
            if (span > 15 * YEAR_SECONDS)
                span = 15 * YEAR_SECONDS;
            onset = latest - (fg_time)(fg_rng_uniform(&cr) * (double)span);
            resolved = onset + dur;
        } else {
            continue;
        }
        if (onset < pt->birth_date)
            onset = pt->birth_date;
        eng_cond *c = &g->conds[g->n_conds++];
        c->module = m;
        c->onset = onset;
        c->resolved = resolved;
        c->severity = fg_rng_uniform(&cr);
        c->adherent = fg_rng_chance(&cr, m->adherence);
        c->condition_id = NULL;
        c->dx_term = NULL;
        if (resolved == FG_TIME_NONE)
            rr_now *= m->mortality_rr;
    }
    for (size_t i = 0; i < g->e->spec.n_conditions; i++) {
        int found = 0;
        for (size_t k = 0; k < g->n_conds && !found; k++)
            found = strcmp(g->conds[k].module->name, g->e->spec.conditions[i]) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

double eng_conditions_mortality(const eng_gen *g, fg_time t)
{
    double rr = 1;
    for (size_t i = 0; i < g->n_conds; i++)
        if (cond_active(&g->conds[i], t))
            rr *= g->conds[i].module->mortality_rr;
    return rr < 1 ? 1 : rr;
}

void eng_conditions_vitals(const eng_gen *g, fg_time t, eng_vital_shift *out)
{
    *out = (eng_vital_shift){0};
    for (size_t i = 0; i < g->n_conds; i++) {
        const eng_cond *c = &g->conds[i];
        const eng_module *m = c->module;
        if (!cond_active(c, t)) {
            continue;
        }
        cond_plan p;
        double e = 0;
        if (m->n_lines) {
            make_plan(g, c, &p);
            e = treatment_effect(c, &p, t);
        }
        const eng_vital_shift *u = &m->vitals.untreated, *tr = &m->vitals.treated;
        out->systolic += u->systolic + (tr->systolic - u->systolic) * e;
        out->diastolic += u->diastolic + (tr->diastolic - u->diastolic) * e;
        out->heart_rate += u->heart_rate + (tr->heart_rate - u->heart_rate) * e;
        out->resp_rate += u->resp_rate + (tr->resp_rate - u->resp_rate) * e;
        out->bmi += u->bmi + (tr->bmi - u->bmi) * e;
        out->spo2 += u->spo2 + (tr->spo2 - u->spo2) * e;
    }
}

int eng_conditions_level(const eng_gen *g, const char *key, fg_time t, double z, double healthy,
                         double noise, double *out)
{
    double best = -1;
    for (size_t i = 0; i < g->n_conds; i++) {
        const eng_cond *c = &g->conds[i];
        const eng_module *m = c->module;
        if (!cond_active(c, t))
            continue;
        for (size_t k = 0; k < m->n_labs; k++) {
            const mod_lab *l = &m->labs[k];
            double far = fabs(l->untreated.mean - healthy);
            if (strcmp(l->key, key) != 0 || far <= best)
                continue;
            cond_plan p;
            make_plan(g, c, &p);
            double e = treatment_effect(c, &p, t);
            double v = l->untreated.mean + (l->treated.mean - l->untreated.mean) * e +
                       (l->untreated.sd + (l->treated.sd - l->untreated.sd) * e) * z + noise;
            *out = v < l->min ? l->min : v > l->max ? l->max : v;
            best = far;
        }
    }
    return best >= 0;
}

/* ---- care ---- */

typedef struct care {
    eng_gen *g;
    fg_rng r;
    fg_error *err;
} care;

static int oom(care *c)
{
    return fg_error_set(c->err, FG_ENOMEM, "conditions", "out of memory");
}

static double lab_value(care *cc, const eng_cond *c, const cond_plan *p, size_t i, fg_time t)
{
    const mod_lab *l = &c->module->labs[i];
    double scale = pow(10, l->decimals), v;
    if (eng_phys_lab(cc->g, l->key, t, &v))
        return round(v * scale) / scale;
    double e = treatment_effect(c, p, t);
    double mean = l->untreated.mean + (l->treated.mean - l->untreated.mean) * e;
    double sd = l->untreated.sd + (l->treated.sd - l->untreated.sd) * e;
    v = mean + sd * (0.8 * p->z[i] + 0.6 * fg_rng_normal(&cc->r, 0, 1));
    if (v < l->min)
        v = l->min;
    if (v > l->max)
        v = l->max;
    return round(v * scale) / scale;
}

/* Labs of one visit (all at diagnosis, the follow-up ones later) with a
 * report per panel. */
static int write_labs(care *cc, const eng_cond *c, const cond_plan *p, const char *enc_id,
                      fg_time t, int k)
{
    eng_gen *g = cc->g;
    const eng_module *m = c->module;
    const char *ids[MOD_MAX_LABS];
    int panel_of[MOD_MAX_LABS];
    size_t n = 0;
    for (size_t i = 0; i < m->n_labs; i++) {
        const mod_lab *l = &m->labs[i];
        if (k > 0 && (!l->at_followup || k % l->every_nth != 0))
            continue;
        fg_observation *o = FG_PUSH(g->h, observations);
        if (!o)
            return oom(cc);
        o->id = eng_new_id(g);
        if (!o->id)
            return oom(cc);
        o->encounter = enc_id;
        o->category = l->category;
        o->term = l->term;
        o->time = t + 20 * 60;
        o->kind = FG_VALUE_QUANTITY;
        o->value = lab_value(cc, c, p, i, t);
        o->unit = l->unit;
        o->decimals = l->decimals;
        ids[n] = o->id;
        panel_of[n++] = l->panel;
    }
    for (size_t pn = 0; pn < m->n_panels; pn++) {
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            cnt += panel_of[i] == (int)pn;
        if (!cnt)
            continue;
        const char **res = fg_arena_alloc(&g->h->arena, cnt * sizeof(*res));
        fg_report *rp = FG_PUSH(g->h, reports);
        if (!res || !rp)
            return oom(cc);
        size_t j = 0;
        for (size_t i = 0; i < n; i++)
            if (panel_of[i] == (int)pn)
                res[j++] = ids[i];
        rp->id = eng_new_id(g);
        if (!rp->id)
            return oom(cc);
        rp->encounter = enc_id;
        rp->term = m->panels[pn].term;
        rp->time = t + 20 * 60;
        rp->results = res;
        rp->n_results = cnt;
    }
    return FG_OK;
}

static int write_procs(care *cc, const eng_cond *c, const char *enc_id, fg_time t, int at)
{
    const eng_module *m = c->module;
    for (size_t i = 0; i < m->n_procs; i++) {
        const mod_proc *pr = &m->procs[i];
        if (pr->at != at || !fg_rng_chance(&cc->r, pr->p))
            continue;
        fg_procedure *x = FG_PUSH(cc->g->h, procedures);
        if (!x || !(x->id = eng_new_id(cc->g)))
            return oom(cc);
        x->encounter = enc_id;
        x->term = pr->term;
        x->start = t + 10 * 60;
        x->end = x->start + pr->minutes * 60;
        if (x->end > cc->g->stop)
            x->end = cc->g->stop;
        if (x->start > x->end)
            x->start = x->end;
        x->reason = c->condition_id;
    }
    return FG_OK;
}

/* Start drug d of line l at visit time t; returns its index in the list. */
static int start_med(care *cc, const eng_cond *c, const mod_drug *d, const char *enc_id,
                     fg_time t, size_t *index)
{
    fg_medication *md = FG_PUSH(cc->g->h, medications);
    if (!md || !(md->id = eng_new_id(cc->g)))
        return oom(cc);
    md->encounter = enc_id;
    md->term = d->term;
    md->status = FG_MED_ACTIVE;
    md->start = t + 25 * 60;
    md->end = FG_TIME_NONE;
    md->reason = c->condition_id;
    md->dosage = d->dosage;
    md->per_day = d->per_day;
    md->as_needed = d->as_needed;
    *index = cc->g->h->medications.n - 1;
    return FG_OK;
}

static void end_med(care *cc, size_t index, fg_time t, fg_med_status st)
{
    fg_medication *md = &cc->g->h->medications.v[index];
    if (md->end != FG_TIME_NONE)
        return;
    md->end = t < md->start ? md->start : t;
    md->status = st;
}

static const char *new_encounter(care *cc, const eng_module *m, fg_time t, int dx, int vitals)
{
    fg_encounter *e = eng_add_encounter(cc->g, t, dx ? 30 : 20, FG_CLASS_AMB,
                                        dx ? &m->enc_dx : &m->enc_fu, &m->term);
    if (!e)
        return NULL;
    const char *id = e->id;
    if (vitals && eng_add_vitals(cc->g, e) != FG_OK)
        return NULL;
    return id;
}

/* The visit of the first abnormal finding (a raised blood pressure, a low
 * eGFR), with vital signs and the module's labs; the diagnosis waits for
 * the module's confirm_after_days. */
static int first_finding(care *cc, const eng_cond *c, const cond_plan *p)
{
    fg_encounter *e = eng_add_encounter(cc->g, c->onset, 20, FG_CLASS_AMB, &c->module->enc_fu, NULL);
    if (!e)
        return fg_error_set(cc->err, FG_EINTERNAL, c->module->file, "cannot add an encounter");
    const char *id = e->id;
    cc->g->raised_bp = c->module->vitals.untreated.systolic > 0;
    int rc = eng_add_vitals(cc->g, e);
    cc->g->raised_bp = 0;
    if (rc != FG_OK)
        return oom(cc);
    return c->onset >= cc->g->window_start ? write_labs(cc, c, p, id, c->onset, 0) : FG_OK;
}

static int care_one(care *cc, eng_cond *c)
{
    eng_gen *g = cc->g;
    const eng_module *m = c->module;
    cond_plan p;
    if (c->onset >= g->stop)
        return FG_OK; /* the patient died before it began */
    make_plan(g, c, &p);
    int in_window = p.dx >= g->window_start, rc;
    if (p.dx > c->onset && (rc = first_finding(cc, c, &p)))
        return rc;
    if (p.dx >= g->stop)
        return FG_OK; /* not yet confirmed */
    g->raised_bp = p.dx > c->onset && m->vitals.untreated.systolic > 0; /* the confirming reading */
    const char *dx_enc = new_encounter(cc, m, p.dx, 1, 1);
    g->raised_bp = 0;
    if (!dx_enc)
        return fg_error_set(cc->err, FG_EINTERNAL, m->file, "cannot add the diagnosis encounter");
    fg_condition *cd = FG_PUSH(g->h, conditions);
    if (!cd || !(cd->id = eng_new_id(g)))
        return oom(cc);
    cd->encounter = dx_enc;
    cd->category = FG_COND_PROBLEM;
    const fg_term *stage = eng_phys_stage(g, c, p.dx);
    cd->term = stage ? *stage : m->term;
    c->dx_term = stage;
    cd->onset = c->onset;
    cd->recorded = p.dx;
    cd->abatement = c->resolved != FG_TIME_NONE && c->resolved <= g->stop ? c->resolved
                                                                          : FG_TIME_NONE;
    c->condition_id = cd->id;
    if (in_window) {
        if ((rc = write_labs(cc, c, &p, dx_enc, p.dx, 0)) ||
            (rc = write_procs(cc, c, dx_enc, p.dx, MOD_AT_DIAGNOSIS)))
            return rc;
    }
    if (m->careplan.code) {
        fg_careplan *cp = FG_PUSH(g->h, careplans);
        if (!cp || !(cp->id = eng_new_id(g)))
            return oom(cc);
        const char **addr = fg_arena_alloc(&g->h->arena, sizeof(*addr));
        if (!addr)
            return oom(cc);
        addr[0] = cd->id;
        cp->encounter = dx_enc;
        cp->term = m->careplan;
        cp->start = p.dx;
        cp->end = p.stop < g->end ? p.stop : FG_TIME_NONE;
        cp->addresses = addr;
        cp->n_addresses = 1;
        cp->activities = (fg_term *)m->activities;
        cp->n_activities = m->n_activities;
    }
    size_t med_index[MOD_MAX_LINES];
    int med_on[MOD_MAX_LINES] = {0};
    int last_k = m->followup_months > 0 ? COND_MAX_VISITS : 0;
    for (int k = 0; k <= last_k; k++) {
        fg_time t = visit_time(m, &p, k);
        if (t >= p.stop)
            break;
        int events = 0;
        for (size_t l = 0; l < m->n_lines; l++)
            events |= p.lines[l].started &&
                      (p.lines[l].k_start == k || p.lines[l].k_switch == k);
        int wanted = k > 0 && t >= g->window_start;
        if (k > 0 && !wanted && !events)
            continue;
        const char *enc = k == 0 ? dx_enc : new_encounter(cc, m, t, 0, 1);
        if (!enc)
            return fg_error_set(cc->err, FG_EINTERNAL, m->file, "cannot add a follow-up encounter");
        for (size_t l = 0; l < m->n_lines; l++) {
            const line_plan *lp = &p.lines[l];
            const mod_line *ln = &m->lines[l];
            if (!lp->started)
                continue;
            if (lp->k_start == k) {
                if ((rc = start_med(cc, c, &ln->drugs[lp->drug], enc, t, &med_index[l])))
                    return rc;
                med_on[l] = 1;
                if (lp->end != FG_TIME_NONE && lp->end < p.stop)
                    end_med(cc, med_index[l], lp->end, FG_MED_COMPLETED);
            } else if (lp->k_switch == k && med_on[l]) {
                end_med(cc, med_index[l], t, FG_MED_STOPPED);
                g->h->medications.v[med_index[l]].status_reason = "not tolerated";
                if ((rc = start_med(cc, c, &ln->drugs[lp->drug2], enc, t, &med_index[l])))
                    return rc;
            }
        }
        if (wanted) {
            if ((rc = write_labs(cc, c, &p, enc, t, k)) ||
                (rc = write_procs(cc, c, enc, t, MOD_AT_FOLLOWUP)) || (rc = eng_phys_restage_record(g, c, enc, t, cc->err)))
                return rc;
        }
    }
    /* what is still running when care ends */
    for (size_t l = 0; l < m->n_lines; l++) {
        if (!med_on[l])
            continue;
        if (c->resolved != FG_TIME_NONE && c->resolved <= g->stop)
            end_med(cc, med_index[l], c->resolved, FG_MED_COMPLETED);
        else if (g->h->patient.death != FG_TIME_NONE)
            end_med(cc, med_index[l], g->stop, FG_MED_STOPPED);
    }
    return FG_OK;
}

int eng_conditions_care(eng_gen *g, fg_error *err)
{
    care cc = {g, fg_rng_fork(&g->rng, "conditions.care"), err};
    for (size_t i = 0; i < g->n_conds; i++) {
        int rc = care_one(&cc, &g->conds[i]);
        if (rc != FG_OK)
            return rc;
    }
    return FG_OK;
}
