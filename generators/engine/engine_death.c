/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_death.c: what the patient dies of, and the visits that lead there.
 *
 * eng_death draws when the patient dies from the life table times the
 * relative hazards of their conditions (engine_demo.c); this file chooses
 * why. With hazard ratios rr_i active at death, a share 1 - 1/prod(rr_i) of
 * such deaths is excess risk, split between the conditions in proportion to
 * log(rr_i); the chosen condition's death goes to the cause of
 * data/hospital/hospital.json that lists its module (heart failure to heart
 * failure, hypertension to myocardial infarction, depression to suicide).
 * The rest dies as the general population of that age does: a cause drawn
 * from the causes' background weights for the age band.
 *
 * The record then leads to the death by the cause's path: hospice (an
 * enrollment visit weeks before, after a stay discharged to hospice in half
 * of the cases), a terminal stay (ED, then an admission ending in
 * disposition "expired"), or a sudden death (an ED visit ending in death, or
 * none). A cause that is a new diagnosis is written as a condition at the
 * first of these visits (a cancer some months before, at a stay of its own).
 * Every death ends with the cause-of-death observation (LOINC 69453-9) at
 * the last visit, or at a death certification visit when there is none.
 */
#include <math.h>
#include <string.h>

#include "generators/engine/engine_module.h"
#include "generators/engine/hospital_private.h"

#define HOSPICE_MEAN_DAYS 30.0 /* log-normal; median about 18 days */
#define TERMINAL_LOS_DAYS 6.0

/* A cause that lists module m, drawn by the shares of m's excess deaths;
 * -1 when none lists it. */
static int cause_of_module(const struct eng_hospital *x, fg_rng *r, const struct eng_module *m)
{
    double sum = 0;
    for (size_t i = 0; i < x->n_causes; i++)
        for (size_t k = 0; k < x->causes[i].n_modules; k++)
            if (x->causes[i].modules[k] == m)
                sum += x->causes[i].shares[k];
    double u = fg_rng_uniform(r) * sum;
    int last = -1;
    for (size_t i = 0; i < x->n_causes; i++)
        for (size_t k = 0; k < x->causes[i].n_modules; k++)
            if (x->causes[i].modules[k] == m) {
                last = (int)i;
                if ((u -= x->causes[i].shares[k]) < 0)
                    return last;
            }
    return last;
}

static int background_cause(const struct eng_hospital *x, fg_rng *r, int age)
{
    int b = 0;
    while (b + 1 < HX_CAUSE_BANDS && age >= x->bands[b + 1])
        b++;
    double sum = 0;
    for (size_t i = 0; i < x->n_causes; i++)
        sum += x->causes[i].background[b];
    double u = fg_rng_uniform(r) * sum;
    for (size_t i = 0; i < x->n_causes; i++) {
        u -= x->causes[i].background[b];
        if (u < 0)
            return (int)i;
    }
    return (int)x->n_causes - 1;
}

int eng_death_cause(eng_gen *g, fg_rng *r, fg_error *err)
{
    const struct eng_hospital *x = g->e->hospital;
    fg_time t = g->h->patient.death;
    double w[ENG_MAX_CONDS], sum = 0;
    g->death_cause = -1;
    g->death_module = NULL;
    if (!x)
        return eng_vocab_term(g->e, "death.cause_natural", &g->h->death_cause, NULL, err);
    for (size_t i = 0; i < g->n_conds; i++) {
        double rr = g->conds[i].module->mortality_rr;
        w[i] = hx_active(&g->conds[i], t) && rr > 1 ? log(rr) : 0;
        sum += w[i];
    }
    double u = fg_rng_uniform(r);
    if (sum > 0 && u < 1.0 - exp(-sum)) {
        double v = fg_rng_uniform(r) * sum;
        size_t i = 0;
        while (i + 1 < g->n_conds && (v -= w[i]) >= 0)
            i++;
        while (i > 0 && w[i] <= 0) /* rounding past the last weight */
            i--;
        g->death_module = g->conds[i].module;
        g->death_cause = cause_of_module(x, r, g->death_module);
    }
    if (g->death_cause < 0) {
        g->death_module = NULL;
        g->death_cause = background_cause(x, r, fg_age_at(g->h->patient.birth_date, t));
    }
    const hx_cause *c = &x->causes[g->death_cause];
    g->h->death_cause = c->term.code ? c->term : g->death_module->term;
    return FG_OK;
}

/* ---- the visits before death ---- */

static int draw_path(fg_rng *r, const double *cum)
{
    double u = fg_rng_uniform(r) * cum[HX_NPATHS - 1];
    int i = 0;
    while (i < HX_NPATHS - 1 && u >= cum[i])
        i++;
    return i;
}

static fg_encounter *last_enc(eng_gen *g)
{
    return &g->h->encounters.v[g->h->encounters.n - 1];
}

/* An encounter of the care team at [start, end]; NULL when out of memory. */
static fg_encounter *team_visit(eng_gen *g, fg_time start, fg_time end, const fg_term *type,
                                const char *cond, fg_error *err)
{
    fg_encounter *enc = eng_add_encounter(g, start, 1, FG_CLASS_AMB, type, &g->h->death_cause);
    if (!enc) {
        fg_error_set(err, FG_ENOMEM, "encounters", "out of memory");
        return NULL;
    }
    enc->end = end;
    enc->reason_condition = cond;
    return enc;
}

/* A stay discharged to hospice, then the hospice enrollment visit. */
static int hospice_path(eng_gen *g, fg_rng *r, fg_time enroll, fg_time lo, const char *cond,
                        fg_error *err)
{
    const struct eng_hospital *x = g->e->hospital;
    if (fg_rng_chance(r, 0.5)) {
        double los = 3 + 4 * fg_rng_uniform(r);
        hx_visit v = {.path = HX_EMERGENCY, .admitted = 1, .until = enroll, .disp = HX_HOSPICE,
                      .reason = &g->h->death_cause, .reason_condition = cond};
        v.arrival = enroll - (fg_time)(los * FG_DAY);
        if (v.arrival > lo) {
            int rc = hx_write_visit(g, r, &v, err);
            if (rc)
                return rc;
        }
    }
    return team_visit(g, enroll, enroll + 90 * 60, &x->hospice, cond, err) ? FG_OK : FG_ENOMEM;
}

/* The visits of the cause's path; FG_OK having written none when the path
 * would start before the detailed window. */
static int path_visits(eng_gen *g, fg_rng *r, const hx_cause *c, fg_time lo, const char *cond,
                       fg_error *err)
{
    fg_time death = g->h->patient.death;
    hx_visit v = {.path = HX_EMERGENCY, .reason = &g->h->death_cause, .reason_condition = cond,
                  .until = death, .disp = HX_EXPIRED};
    int path = draw_path(r, c->paths);
    if (path == HX_PATH_HOSPICE) {
        double days = HOSPICE_MEAN_DAYS * exp(fg_rng_normal(r, 0, 1.0) - 0.5);
        days = days < 2 ? 2 : days > 180 ? 180 : days;
        fg_time enroll = death - (fg_time)(days * FG_DAY);
        if (enroll <= lo) /* enrolled after the last visit of the record */
            enroll = lo + 3600;
        if (enroll + FG_DAY < death)
            return hospice_path(g, r, enroll, lo, cond, err);
        path = HX_PATH_ADMISSION; /* too late for hospice: dies in hospital */
    }
    switch (path) {
    case HX_PATH_ADMISSION: {
        double los = TERMINAL_LOS_DAYS * exp(fg_rng_normal(r, 0, 0.7) - 0.245);
        v.admitted = 1;
        v.arrival = death - (fg_time)((los < 0.3 ? 0.3 : los) * FG_DAY) - 4 * 3600;
        if (v.arrival <= lo) /* admitted after the last visit of the record */
            v.arrival = lo + 3600;
        return v.arrival + 6 * 3600 < death ? hx_write_visit(g, r, &v, err) : FG_OK;
    }
    default:
        if (!fg_rng_chance(r, c->sudden_ed_p))
            return FG_OK;
        v.arrival = death - (fg_time)fg_rng_range(r, 20, 120) * 60;
        return v.arrival > lo ? hx_write_visit(g, r, &v, err) : FG_OK;
    }
}

/* A new diagnosis that is the cause (a cancer): a stay some months before. */
/* A condition the path to death diagnoses, when a condition module has its
 * term, joins the patient's chronic conditions, so that the skeleton (what
 * generate --llm hands the model) holds what the record holds. */
static void as_chronic(eng_gen *g, const fg_condition *dx)
{
    const struct eng_modules *ms = g->e->modules;
    for (size_t i = 0; i < ms->n && g->n_conds < ENG_MAX_CONDS; i++) {
        const eng_module *m = &ms->mods[i];
        if (!m->term.code || strcmp(m->term.code, dx->term.code) != 0 || hx_find(g, m))
            continue;
        g->conds[g->n_conds++] = (eng_cond){.module = m, .onset = dx->onset,
                                            .resolved = FG_TIME_NONE, .severity = 0.5,
                                            .adherent = 1, .condition_id = dx->id};
        return;
    }
}

static int diagnosis_stay(eng_gen *g, fg_rng *r, const hx_cause *c, const char **cond,
                          fg_error *err)
{
    fg_time death = g->h->patient.death;
    fg_time t = death - (fg_time)(c->diagnosed_days * (0.5 + fg_rng_uniform(r)) * FG_DAY);
    if (t <= g->window_start + FG_DAY)
        return FG_OK;
    hx_visit v = {.path = HX_EMERGENCY, .arrival = t, .admitted = 1, .until = FG_TIME_NONE,
                  .los_days = 5, .disp = HX_HOME, .reason = &g->h->death_cause};
    size_t first = g->h->encounters.n;
    int rc = hx_write_visit(g, r, &v, err);
    if (rc)
        return rc;
    fg_condition *dx = hx_add_condition(g, g->h->encounters.v[first].id, &c->term, 1, t,
                                        FG_TIME_NONE);
    if (!dx)
        return fg_error_set(err, FG_ENOMEM, "conditions", "out of memory");
    for (size_t i = first; i < g->h->encounters.n; i++)
        g->h->encounters.v[i].reason_condition = dx->id;
    as_chronic(g, dx);
    *cond = dx->id;
    return FG_OK;
}

int hx_terminal(eng_gen *g, fg_rng *r, fg_time *first, fg_error *err)
{
    const struct eng_hospital *x = g->e->hospital;
    fg_time death = g->h->patient.death;
    *first = death;
    if (g->death_cause < 0)
        return FG_OK;
    const hx_cause *c = &x->causes[g->death_cause];
    const eng_cond *dc = g->death_module ? hx_find(g, g->death_module) : NULL;
    for (size_t i = 0; !dc && c->term.code && i < g->n_conds; i++)
        if (g->conds[i].module->term.code && !strcmp(g->conds[i].module->term.code, c->term.code))
            dc = &g->conds[i]; /* the cause is a condition the patient already has */
    int own = dc && (!c->term.code || !strcmp(c->term.code, dc->module->term.code));
    const char *cond = own ? dc->condition_id : NULL;
    if (!own && !c->term.code)
        return FG_OK; /* unreachable: the loader gives such causes modules */
    int record = c->record && !own, rc;
    size_t start = g->h->encounters.n;
    if (record && c->diagnosed_days > 0) {
        if ((rc = diagnosis_stay(g, r, c, &cond, err)))
            return rc;
        record = cond == NULL;
    }
    /* the path starts after every visit the record already has */
    fg_time lo = g->window_start + FG_DAY;
    for (size_t i = 0; i < g->h->encounters.n; i++)
        if (g->h->encounters.v[i].start < death && g->h->encounters.v[i].end + 3600 > lo)
            lo = g->h->encounters.v[i].end + 3600;
    size_t path_start = g->h->encounters.n;
    if ((rc = path_visits(g, r, c, lo, cond, err)))
        return rc;
    if (g->h->encounters.n == path_start || last_enc(g)->end < death) {
        /* no visit at the time of death: the death is certified */
        fg_time from = death - 30 * 60 > lo - 3600 ? death - 30 * 60 : death;
        if (!team_visit(g, from, death, &x->certification, cond, err))
            return FG_ENOMEM;
    }
    if (record && path_start < g->h->encounters.n) {
        const fg_encounter *e0 = &g->h->encounters.v[path_start];
        fg_condition *dx = hx_add_condition(g, e0->id, &c->term, 1, e0->start, FG_TIME_NONE);
        if (!dx)
            return fg_error_set(err, FG_ENOMEM, "conditions", "out of memory");
        as_chronic(g, dx);
        for (size_t i = path_start; i < g->h->encounters.n; i++)
            g->h->encounters.v[i].reason_condition = dx->id;
    }
    fg_observation *o = FG_PUSH(g->h, observations);
    if (!o || !(o->id = eng_new_id(g)))
        return fg_error_set(err, FG_ENOMEM, "observations", "out of memory");
    o->encounter = last_enc(g)->id;
    o->category = FG_OBS_EXAM;
    o->term = x->cause_of_death;
    o->time = death;
    o->kind = FG_VALUE_CODE;
    o->code_value = g->h->death_cause;
    for (size_t i = start; i < g->h->encounters.n; i++)
        if (g->h->encounters.v[i].start < *first)
            *first = g->h->encounters.v[i].start;
    return FG_OK;
}
