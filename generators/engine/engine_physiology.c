/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_physiology.c: one physiology per patient.
 *
 * A few constants drawn once per patient (eng_phys on eng_gen) and the
 * conditions sampled for them define, at every time t, the patient's kidney
 * function, glycaemia, lipids, haemoglobin, body size and head growth. Every
 * measurement reads this state, so values agree with each other and with
 * the diagnoses: eGFR is computed from the creatinine of the same day
 * (CKD-EPI 2021), glucose from HbA1c (ADAG), total cholesterol from its
 * fractions (Friedewald), haematocrit from haemoglobin; the weight rises
 * before obesity is diagnosed, eGFR falls before kidney disease is, and the
 * stage of a condition follows its measure (data/tables/condition_stages.tsv).
 *
 * Visit-to-visit noise is a pure function of the patient, the measure and
 * the day, so two readings of one day agree and the state stays
 * independent of the order in which passes ask for it. The parameters and
 * their sources are in data/tables/physiology_state.tsv; the growth curves
 * are the CDC 2000 LMS tables (data/tables/growth_lms.tsv).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_hash.h"
#include "generators/engine/engine_module.h"

#define YEAR_SECONDS (FG_YEAR_DAYS * FG_DAY)
#define MONTH_SECONDS (YEAR_SECONDS / 12.0)
#define MAX_LMS 320  /* rows of one chart and sex */
#define MAX_STAGES 16
#define MAX_BP_AGES 24
#define MAX_DECLINE 8 /* conditions that speed the loss of eGFR */ /* rows of the children's blood-pressure table per sex */

enum { P_EGFR_YOUNG, P_EGFR_AGE, P_EGFR_RATE, P_EGFR_SD, P_EGFR_FLOOR, P_EGFR_FLOOR_SPREAD,
       P_CKD_SLOPE_MIN, P_CKD_SLOPE_MAX, P_CKD_PRE_SLOPE, P_CKD_ACR_MIN, P_CR_CV, P_ACR_MEDIAN,
       P_ACR_LOG_SD, P_A1C_MEAN, P_A1C_SD, P_A1C_VISIT, P_EAG_SLOPE, P_EAG_INTERCEPT, P_GLU_VISIT,
       P_LDL_MEAN, P_LDL_SD, P_HDL_MEAN, P_HDL_SD, P_TG_MEDIAN, P_TG_LOG_SD, P_LIPID_CV,
       P_HB_FEMALE, P_HB_MALE, P_HB_SD, P_HB_VISIT, P_HB_PER_EGFR, P_HCT_PER_HB, P_HCT_VISIT,
       P_BMI_WALK, P_OB_RAMP, P_CHILD_Z_MEAN, P_CHILD_Z_SD, P_CHILD_Z_DRIFT, P_HTN_VISITS,
       P_HTN_ADULT_AGE, P_HTN_SBP_13, P_HTN_DBP_13, P_COUNT };

static const char *param_key[P_COUNT] = {
    "egfr_young", "egfr_decline_age", "egfr_decline_rate", "egfr_person_sd", "egfr_floor_healthy",
    "egfr_floor_spread", "ckd_slope_min", "ckd_slope_max", "ckd_pre_slope", "ckd_acr_min",
    "creatinine_visit_cv", "acr_median", "acr_log_sd", "a1c_mean", "a1c_sd", "a1c_visit_sd",
    "glucose_eag_slope", "glucose_eag_intercept", "glucose_visit_sd", "ldl_mean", "ldl_sd",
    "hdl_mean", "hdl_sd", "tg_median", "tg_log_sd", "lipid_visit_cv", "hb_mean_female",
    "hb_mean_male", "hb_sd", "hb_visit_sd", "hb_per_egfr_below_60", "hct_per_hb", "hct_visit_sd",
    "bmi_walk_sd", "bmi_obesity_ramp_years", "child_bmi_z_mean", "child_bmi_z_sd",
    "child_bmi_z_drift", "child_htn_visits", "child_htn_adult_age", "child_htn_sbp_13",
    "child_htn_dbp_13"};

enum { CHART_BMI, CHART_HEAD, CHART_WT_INF, CHART_COUNT };
static const char *chart_name[CHART_COUNT] = {"bmi", "head", "weight_infant"};

typedef struct lms_chart {
    double mo[MAX_LMS], l[MAX_LMS], m[MAX_LMS], s[MAX_LMS];
    size_t n;
} lms_chart;

typedef struct stage {
    const char *module;
    double lo, hi;
    fg_term term;
} stage;

struct eng_phys_data {
    fg_tsv *params, *vitals, *lms_t, *stages_t;
    double p[P_COUNT];
    double bmi_median[2], bmi_log_sd, bmi_p30[2]; /* adult BMI: log-normal, P(BMI < 30) */
    lms_chart chart[CHART_COUNT][2];              /* [chart][0 female, 1 male] */
    stage stages[MAX_STAGES];
    size_t n_stages;
    fg_tsv *bp_t;
    double bp[2][MAX_BP_AGES][5]; /* [0 female, 1 male][row]: age, sbp50, sbp95, dbp50, dbp95 */
    size_t n_bp[2];
    fg_term bp_panel, child_htn; /* engine vocabulary */
    const char *decline_module[MAX_DECLINE]; /* rows egfr_decline_extra:<module> */
    double decline_extra[MAX_DECLINE];
    size_t n_decline;
};

/* ---- numbers ---- */

static double phi(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* Inverse of phi by bisection (once per patient). */
static double probit(double p)
{
    double lo = -8, hi = 8;
    for (int i = 0; i < 60; i++) {
        double mid = (lo + hi) / 2;
        if (phi(mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* A standard normal that is a pure function of (seed, tag, n). */
static double hash_normal(uint64_t seed, const char *tag, int64_t n)
{
    uint64_t a = fg_mix64(seed ^ fg_fnv1a_str(FG_FNV_SEED, tag) ^ fg_mix64((uint64_t)n));
    uint64_t b = fg_mix64(a + 0x9e3779b97f4a7c15ull);
    double u1 = ((double)(a >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(b >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Noise of one measure on the day of t. */
static double day_noise(const eng_gen *g, const char *tag, fg_time t)
{
    return hash_normal(g->phys.seed, tag, (int64_t)floor((double)t / FG_DAY));
}

static double years_at(const eng_gen *g, fg_time t)
{
    return (double)(t - g->h->patient.birth_date) / YEAR_SECONDS;
}

static int is_male(const eng_gen *g)
{
    return g->h->patient.sex == FG_SEX_MALE;
}

/* ---- loading ---- */

static int load_lms(struct eng_phys_data *d, fg_error *err)
{
    size_t c[6];
    static const char *cols[6] = {"chart", "sex", "agemos", "L", "M", "S"};
    int rc;
    for (int i = 0; i < 6; i++)
        if ((rc = fg_tsv_col(d->lms_t, cols[i], &c[i], err)))
            return rc;
    for (size_t r = 0; r < fg_tsv_rows(d->lms_t); r++) {
        const char *name = fg_tsv_cell(d->lms_t, r, c[0]);
        int k;
        for (k = 0; k < CHART_COUNT && strcmp(chart_name[k], name) != 0; k++)
            ;
        int sex = atoi(fg_tsv_cell(d->lms_t, r, c[1]));
        if (k == CHART_COUNT || (sex != 1 && sex != 2))
            return fg_tsv_row_error(d->lms_t, r, err, FG_EINVALID, "unknown chart or sex");
        lms_chart *ch = &d->chart[k][sex == 1 ? 1 : 0];
        if (ch->n == MAX_LMS)
            return fg_tsv_row_error(d->lms_t, r, err, FG_ELIMIT, "more than %d rows", MAX_LMS);
        size_t i = ch->n++;
        if ((rc = fg_tsv_double(d->lms_t, r, c[2], &ch->mo[i], err)) ||
            (rc = fg_tsv_double(d->lms_t, r, c[3], &ch->l[i], err)) ||
            (rc = fg_tsv_double(d->lms_t, r, c[4], &ch->m[i], err)) ||
            (rc = fg_tsv_double(d->lms_t, r, c[5], &ch->s[i], err)))
            return rc;
        if (i && ch->mo[i] <= ch->mo[i - 1])
            return fg_tsv_row_error(d->lms_t, r, err, FG_EINVALID, "ages must increase");
    }
    for (int k = 0; k < CHART_COUNT; k++)
        for (int s = 0; s < 2; s++)
            if (d->chart[k][s].n < 2)
                return fg_error_set(err, FG_EINVALID, fg_tsv_path(d->lms_t),
                                    "chart %s needs rows for both sexes", chart_name[k]);
    return FG_OK;
}

static int load_stages(struct eng_phys_data *d, const fg_engine *e, fg_error *err)
{
    const fg_tsv *t = d->stages_t;
    size_t c[7];
    static const char *cols[7] = {"module", "measure", "min", "max", "system_uri", "code", "display"};
    int rc;
    for (int i = 0; i < 7; i++)
        if ((rc = fg_tsv_col(t, cols[i], &c[i], err)))
            return rc;
    if (fg_tsv_rows(t) > MAX_STAGES)
        return fg_error_set(err, FG_ELIMIT, fg_tsv_path(t), "more than %d stages", MAX_STAGES);
    for (size_t r = 0; r < fg_tsv_rows(t); r++) {
        stage *s = &d->stages[d->n_stages++];
        s->module = fg_tsv_cell(t, r, c[0]);
        if (strcmp(fg_tsv_cell(t, r, c[1]), "egfr") != 0)
            return fg_tsv_row_error(t, r, err, FG_EINVALID, "the only measure is egfr");
        if ((rc = fg_tsv_double(t, r, c[2], &s->lo, err)) ||
            (rc = fg_tsv_double(t, r, c[3], &s->hi, err)))
            return rc;
        s->term.system = fg_tsv_cell(t, r, c[4]);
        s->term.code = fg_tsv_cell(t, r, c[5]);
        s->term.display = fg_tsv_cell(t, r, c[6]);
        if (e->terms && !fg_terminology_find(e->terms, s->term.system, s->term.code))
            return fg_tsv_row_error(t, r, err, FG_ENOTFOUND, "%s is not in the terminology tables",
                                    s->term.code);
    }
    return FG_OK;
}

static int load_child_bp(struct eng_phys_data *d, fg_error *err)
{
    static const char *cols[6] = {"sex", "age", "sbp50", "sbp95", "dbp50", "dbp95"};
    size_t c[6];
    int rc;
    for (int i = 0; i < 6; i++)
        if ((rc = fg_tsv_col(d->bp_t, cols[i], &c[i], err)))
            return rc;
    for (size_t r = 0; r < fg_tsv_rows(d->bp_t); r++) {
        int s = !strcmp(fg_tsv_cell(d->bp_t, r, c[0]), "male");
        if (d->n_bp[s] == MAX_BP_AGES)
            return fg_tsv_row_error(d->bp_t, r, err, FG_ELIMIT, "more than %d ages", MAX_BP_AGES);
        double *row = d->bp[s][d->n_bp[s]++];
        for (int i = 0; i < 5; i++)
            if ((rc = fg_tsv_double(d->bp_t, r, c[i + 1], &row[i], err)))
                return rc;
    }
    if (!d->n_bp[0] || !d->n_bp[1])
        return fg_error_set(err, FG_EINVALID, fg_tsv_path(d->bp_t), "needs rows for both sexes");
    return FG_OK;
}

/* Rows "egfr_decline_extra:<module>": a condition that speeds the loss of eGFR. */
static int load_decline(struct eng_phys_data *d, fg_error *err)
{
    static const char prefix[] = "egfr_decline_extra:";
    size_t ck, cv;
    int rc;
    if ((rc = fg_tsv_col(d->params, "key", &ck, err)) || (rc = fg_tsv_col(d->params, "value", &cv, err)))
        return rc;
    for (size_t r = 0; r < fg_tsv_rows(d->params); r++) {
        const char *k = fg_tsv_cell(d->params, r, ck);
        if (strncmp(k, prefix, sizeof(prefix) - 1) != 0)
            continue;
        if (d->n_decline == MAX_DECLINE)
            return fg_tsv_row_error(d->params, r, err, FG_ELIMIT, "more than %d rows", MAX_DECLINE);
        d->decline_module[d->n_decline] = k + sizeof(prefix) - 1;
        if ((rc = fg_tsv_double(d->params, r, cv, &d->decline_extra[d->n_decline++], err)))
            return rc;
    }
    return FG_OK;
}

void eng_phys_free(struct eng_phys_data *d)
{
    if (!d)
        return;
    fg_tsv_free(d->params);
    fg_tsv_free(d->vitals);
    fg_tsv_free(d->lms_t);
    fg_tsv_free(d->stages_t);
    fg_tsv_free(d->bp_t);
    free(d);
}

int eng_phys_load(fg_engine *e, fg_error *err)
{
    struct eng_phys_data *d = calloc(1, sizeof(*d));
    double ob[2];
    int rc;
    if (!d)
        return fg_error_set(err, FG_ENOMEM, "tables", "out of memory");
    if ((rc = eng_table_load(e, "tables/physiology_state.tsv", &d->params, err)) ||
        (rc = eng_table_load(e, "tables/vitals.tsv", &d->vitals, err)) ||
        (rc = eng_table_load(e, "tables/growth_lms.tsv", &d->lms_t, err)) ||
        (rc = eng_table_load(e, "tables/condition_stages.tsv", &d->stages_t, err)) ||
        (rc = eng_table_load(e, "tables/child_bp.tsv", &d->bp_t, err)) ||
        (rc = load_lms(d, err)) || (rc = load_stages(d, e, err)) || (rc = load_child_bp(d, err)) ||
        (rc = load_decline(d, err)) ||
        (rc = eng_param(d->vitals, "obesity_pct_female", &ob[0], err)) ||
        (rc = eng_param(d->vitals, "obesity_pct_male", &ob[1], err)) ||
        (rc = eng_param(d->vitals, "bmi_log_sd", &d->bmi_log_sd, err)) ||
        (rc = eng_vocab_term(e, "vital.bp_panel", &d->bp_panel, NULL, err)) ||
        (rc = eng_vocab_term(e, "cond.child_hypertension", &d->child_htn, NULL, err)))
        goto fail;
    for (int i = 0; i < P_COUNT; i++)
        if ((rc = eng_param(d->params, param_key[i], &d->p[i], err)))
            goto fail;
    /* the adult BMI is log-normal with the obesity share above 30 (as engine_lifetime.c) */
    for (int s = 0; s < 2; s++) {
        d->bmi_p30[s] = 1 - ob[s] / 100.0;
        d->bmi_median[s] = 30.0 * exp(-probit(d->bmi_p30[s]) * d->bmi_log_sd);
    }
    e->phys = d;
    return FG_OK;
fail:
    eng_phys_free(d);
    return rc;
}

/* ---- the patient's constants ---- */

static int staged(const struct eng_phys_data *d, const eng_module *m)
{
    for (size_t i = 0; i < d->n_stages; i++)
        if (!strcmp(d->stages[i].module, m->name))
            return 1;
    return 0;
}

/* The patient's condition with stages read from eGFR (kidney disease), or NULL. */
static const eng_cond *kidney_cond(const eng_gen *g)
{
    for (size_t i = 0; i < g->n_conds; i++)
        if (staged(g->e->phys, g->conds[i].module))
            return &g->conds[i];
    return NULL;
}

/* The patient's condition that holds the BMI in a range (obesity), or NULL. */
static const eng_cond *obesity_cond(const eng_gen *g)
{
    for (size_t i = 0; i < g->n_conds; i++)
        if (g->conds[i].module->bmi_hi > 0)
            return &g->conds[i];
    return NULL;
}

static const mod_lab *module_lab(const eng_module *m, const char *key)
{
    for (size_t i = 0; i < m->n_labs; i++)
        if (!strcmp(m->labs[i].key, key))
            return &m->labs[i];
    return NULL;
}

static void body_init(eng_gen *g);

void eng_phys_init(eng_gen *g)
{
    const struct eng_phys_data *d = g->e->phys;
    const double *p = d->p;
    eng_phys *ph = &g->phys;
    fg_rng r = fg_rng_fork(&g->rng, "physiology");
    memset(ph, 0, sizeof(*ph));
    ph->seed = fg_rng_u64(&r);
    ph->egfr_young = p[P_EGFR_YOUNG] + fg_rng_normal(&r, 0, p[P_EGFR_SD]);
    ph->egfr_floor = p[P_EGFR_FLOOR] + fg_rng_uniform(&r) * p[P_EGFR_FLOOR_SPREAD];
    ph->ckd_slope = p[P_CKD_SLOPE_MIN] + fg_rng_uniform(&r) * (p[P_CKD_SLOPE_MAX] - p[P_CKD_SLOPE_MIN]);
    double z_onset = fg_rng_normal(&r, 0, 1);
    ph->z_a1c = fg_rng_normal(&r, 0, 1);
    ph->z_ldl = fg_rng_normal(&r, 0, 1);
    ph->z_hdl = fg_rng_normal(&r, 0, 1);
    ph->z_tg = fg_rng_normal(&r, 0, 1);
    ph->z_hb = fg_rng_normal(&r, 0, 1);
    ph->z_acr = fg_rng_normal(&r, 0, 1);
    ph->child_z = p[P_CHILD_Z_MEAN] + fg_rng_normal(&r, 0, p[P_CHILD_Z_SD]);
    ph->head_z = fg_rng_normal(&r, 0, 1);
    ph->bmi_u = fg_rng_uniform(&r);
    for (int i = 0; i < 3; i++)
        ph->phase[i] = fg_rng_uniform(&r) * 6.283185307179586;
    /* kidney disease: the eGFR at onset from the module's eGFR distribution */
    const eng_cond *k = kidney_cond(g);
    const mod_lab *l = k ? module_lab(k->module, "egfr") : NULL;
    if (l) {
        double e = l->untreated.mean + l->untreated.sd * z_onset;
        ph->egfr_onset = e < l->min ? l->min : e > l->max ? l->max : e;
    }
    /* who develops a condition that raises the blood pressure had a usual
     * pressure above the median before it (high-normal precedes hypertension) */
    ph->bp_offset_child = g->bp_offset;
    for (size_t i = 0; i < g->n_conds; i++)
        if (g->conds[i].module->vitals.untreated.systolic > 0)
            g->bp_offset = fabs(g->bp_offset);
    body_init(g);
}

/* ---- kidney ---- */

/* eGFR without kidney disease at age a. */
/* eGFR lost in [from, t) to the conditions that speed its loss. */
static double extra_loss(const eng_gen *g, fg_time from, fg_time t)
{
    const struct eng_phys_data *d = g->e->phys;
    double loss = 0;
    for (size_t i = 0; i < g->n_conds; i++) {
        const eng_cond *c = &g->conds[i];
        fg_time a = c->onset > from ? c->onset : from;
        fg_time b = c->resolved != FG_TIME_NONE && c->resolved < t ? c->resolved : t;
        if (a >= b)
            continue;
        for (size_t k = 0; k < d->n_decline; k++)
            if (!strcmp(d->decline_module[k], c->module->name))
                loss += d->decline_extra[k] * (double)(b - a) / YEAR_SECONDS;
    }
    return loss;
}

/* eGFR without kidney disease at t. */
static double egfr_normal(const eng_gen *g, fg_time t)
{
    const double *p = g->e->phys->p;
    double a = years_at(g, t);
    double e = g->phys.egfr_young - (a > p[P_EGFR_AGE] ? p[P_EGFR_RATE] * (a - p[P_EGFR_AGE]) : 0);
    e -= extra_loss(g, g->h->patient.birth_date, t);
    return e < g->phys.egfr_floor ? g->phys.egfr_floor : e;
}

/* The true eGFR at t: the normal path, falling to the onset value of kidney
 * disease before its onset and declining after it. */
static double egfr_true(const eng_gen *g, fg_time t)
{
    const double *p = g->e->phys->p;
    double e = egfr_normal(g, t);
    const eng_cond *k = kidney_cond(g);
    if (!k || g->phys.egfr_onset <= 0)
        return e;
    double dy = (double)(t - k->onset) / YEAR_SECONDS;
    double ckd = dy >= 0 ? g->phys.egfr_onset - g->phys.ckd_slope * dy - extra_loss(g, k->onset, t)
                         : g->phys.egfr_onset - p[P_CKD_PRE_SLOPE] * dy;
    if (ckd < 5)
        ckd = 5;
    return ckd < e ? ckd : e;
}

/* The CKD-EPI 2021 (race-free) factor 142 x 0.9938^age (x 1.012 female),
 * kappa and alpha by sex (Inker LA et al., NEJM 2021;385:1737-49). */
static void ckd_epi(int male, double age, double *a, double *kappa, double *alpha)
{
    *kappa = male ? 0.9 : 0.7;
    *alpha = male ? -0.302 : -0.241;
    *a = 142.0 * pow(0.9938, age) * (male ? 1.0 : 1.012);
}

double eng_phys_egfr_from_creatinine(int male, double age, double cr)
{
    double a, k, al;
    ckd_epi(male, age, &a, &k, &al);
    double x = cr / k;
    return a * pow(x < 1 ? x : 1, al) * pow(x > 1 ? x : 1, -1.2);
}

static double creatinine_from_egfr(int male, double age, double egfr)
{
    double a, k, al;
    ckd_epi(male, age, &a, &k, &al);
    double q = egfr / a;
    return q >= 1 ? k * pow(q, 1 / al) : k * pow(q, -1 / 1.2);
}

static double creatinine_at(const eng_gen *g, fg_time t)
{
    double a = years_at(g, t);
    double cr = creatinine_from_egfr(is_male(g), a, egfr_true(g, t));
    cr *= exp(g->e->phys->p[P_CR_CV] * day_noise(g, "creatinine", t));
    return round(cr * 100) / 100; /* as reported */
}

double eng_phys_egfr(const eng_gen *g, fg_time t)
{
    return eng_phys_egfr_from_creatinine(is_male(g), years_at(g, t), creatinine_at(g, t));
}

const fg_term *eng_phys_stage(const eng_gen *g, const eng_cond *c, fg_time t)
{
    const struct eng_phys_data *d = g->e->phys;
    if (!staged(d, c->module))
        return NULL;
    double e = round(eng_phys_egfr(g, t));
    for (size_t i = 0; i < d->n_stages; i++)
        if (!strcmp(d->stages[i].module, c->module->name) && e >= d->stages[i].lo &&
            e < d->stages[i].hi)
            return &d->stages[i].term;
    return NULL;
}

/* The stage condition c moves to at t when its measure has reached a more
 * advanced stage than `current` (rows run from mild to advanced); NULL
 * when it stays. */
static const fg_term *restage_term(const eng_gen *g, const eng_cond *c, const fg_term *current,
                                   fg_time t)
{
    const struct eng_phys_data *d = g->e->phys;
    const fg_term *next = eng_phys_stage(g, c, t);
    if (!next || !strcmp(next->code, current->code))
        return NULL;
    for (size_t i = 0; i < d->n_stages; i++) {
        if (&d->stages[i].term == next)
            return NULL; /* the new stage comes first: milder than the current one */
        if (!strcmp(d->stages[i].term.code, current->code))
            return next;
    }
    return NULL;
}

int eng_phys_restage_record(eng_gen *g, eng_cond *c, const char *enc, fg_time t, fg_error *err)
{
    fg_history *h = g->h;
    size_t i = h->conditions.n;
    while (i > 0 && h->conditions.v[i - 1].id != c->condition_id)
        i--;
    if (i == 0)
        return FG_OK;
    fg_condition cur = h->conditions.v[i - 1];
    const fg_term *next = restage_term(g, c, &cur.term, t);
    if (!next)
        return FG_OK;
    h->conditions.v[i - 1].abatement = t;
    fg_condition *n = FG_PUSH(h, conditions);
    if (!n || !(n->id = eng_new_id(g)))
        return fg_error_set(err, FG_ENOMEM, "conditions", "out of memory");
    const char *id = n->id;
    *n = cur;
    n->id = id;
    n->encounter = enc;
    n->term = *next;
    n->onset = n->recorded = t;
    c->condition_id = id;
    return FG_OK;
}

/* ---- labs ---- */

/* The level of a measure at t: the healthy level, or while a condition
 * whose module measures it is active, the module's distribution at its
 * treatment effect, both at the patient's own z-score. */
static double level(const eng_gen *g, const char *key, double healthy, double sd, double z,
                    double noise, fg_time t)
{
    double v;
    if (eng_conditions_level(g, key, t, z, healthy, noise, &v))
        return v;
    return healthy + sd * z + noise;
}

static double hb_at(const eng_gen *g, fg_time t)
{
    const double *p = g->e->phys->p;
    double hb = level(g, "hemoglobin", is_male(g) ? p[P_HB_MALE] : p[P_HB_FEMALE], p[P_HB_SD],
                      g->phys.z_hb, 0, t);
    double e = egfr_true(g, t);
    if (e < 60)
        hb -= p[P_HB_PER_EGFR] * (60 - e);
    return round((hb + p[P_HB_VISIT] * day_noise(g, "hb", t)) * 10) / 10;
}

static double a1c_at(const eng_gen *g, fg_time t)
{
    const double *p = g->e->phys->p;
    double a = level(g, "hba1c", p[P_A1C_MEAN], p[P_A1C_SD], g->phys.z_a1c,
                     p[P_A1C_VISIT] * day_noise(g, "a1c", t), t);
    return round(a * 10) / 10;
}

static double lipid(const eng_gen *g, const char *key, double healthy, double sd, double z, fg_time t)
{
    double noise = healthy * g->e->phys->p[P_LIPID_CV] * day_noise(g, key, t);
    return round(level(g, key, healthy, sd, z, noise, t));
}

static double tg_at(const eng_gen *g, fg_time t)
{
    const double *p = g->e->phys->p;
    double healthy = p[P_TG_MEDIAN] * exp(p[P_TG_LOG_SD] * g->phys.z_tg);
    double v, noise = healthy * p[P_LIPID_CV] * day_noise(g, "triglycerides", t);
    if (!eng_conditions_level(g, "triglycerides", t, g->phys.z_tg, healthy, noise, &v))
        v = healthy + noise;
    return round(v);
}

static double acr_at(const eng_gen *g, fg_time t)
{
    const double *p = g->e->phys->p;
    double healthy = p[P_ACR_MEDIAN] * exp(p[P_ACR_LOG_SD] * g->phys.z_acr);
    double v;
    if (!eng_conditions_level(g, "microalbumin", t, g->phys.z_acr, healthy, 0, &v))
        v = healthy;
    const eng_cond *k = kidney_cond(g);
    if (k && t >= k->onset && (k->resolved == FG_TIME_NONE || t < k->resolved) &&
        egfr_true(g, t) >= 60 && v < p[P_CKD_ACR_MIN])
        v = p[P_CKD_ACR_MIN];
    return round(v * exp(0.15 * day_noise(g, "acr", t)) * 10) / 10;
}

int eng_phys_lab(const eng_gen *g, const char *key, fg_time t, double *out)
{
    const double *p = g->e->phys->p;
    if (!strcmp(key, "creatinine"))
        *out = creatinine_at(g, t);
    else if (!strcmp(key, "egfr"))
        *out = eng_phys_egfr(g, t);
    else if (!strcmp(key, "microalbumin"))
        *out = acr_at(g, t);
    else if (!strcmp(key, "hba1c"))
        *out = a1c_at(g, t);
    else if (!strcmp(key, "glucose"))
        *out = p[P_EAG_SLOPE] * a1c_at(g, t) + p[P_EAG_INTERCEPT] +
               p[P_GLU_VISIT] * day_noise(g, "glucose", t);
    else if (!strcmp(key, "ldl"))
        *out = lipid(g, "ldl", p[P_LDL_MEAN], p[P_LDL_SD], g->phys.z_ldl, t);
    else if (!strcmp(key, "hdl"))
        *out = lipid(g, "hdl", p[P_HDL_MEAN], p[P_HDL_SD], g->phys.z_hdl, t);
    else if (!strcmp(key, "triglycerides"))
        *out = tg_at(g, t);
    else if (!strcmp(key, "total_cholesterol")) /* Friedewald: TC = LDL + HDL + TG/5 */
        *out = lipid(g, "ldl", p[P_LDL_MEAN], p[P_LDL_SD], g->phys.z_ldl, t) +
               lipid(g, "hdl", p[P_HDL_MEAN], p[P_HDL_SD], g->phys.z_hdl, t) + tg_at(g, t) / 5;
    else if (!strcmp(key, "hemoglobin"))
        *out = hb_at(g, t);
    else if (!strcmp(key, "hematocrit"))
        *out = p[P_HCT_PER_HB] * hb_at(g, t) + p[P_HCT_VISIT] * day_noise(g, "hct", t);
    else
        return 0;
    return 1;
}

/* ---- body size ---- */

static double lms_value(const lms_chart *ch, double mo, double z)
{
    if (mo <= ch->mo[0])
        mo = ch->mo[0];
    if (mo >= ch->mo[ch->n - 1])
        mo = ch->mo[ch->n - 1];
    size_t lo = 1, hi = ch->n - 1; /* the first row at or after mo */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ch->mo[mid] < mo)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i = lo;
    double f = (mo - ch->mo[i - 1]) / (ch->mo[i] - ch->mo[i - 1]);
    double l = ch->l[i - 1] + f * (ch->l[i] - ch->l[i - 1]);
    double m = ch->m[i - 1] + f * (ch->m[i] - ch->m[i - 1]);
    double s = ch->s[i - 1] + f * (ch->s[i] - ch->s[i - 1]);
    if (fabs(l) < 1e-9)
        return m * exp(s * z);
    double b = 1 + l * s * z;
    return b > 0.05 ? m * pow(b, 1 / l) : m * pow(0.05, 1 / l);
}

/* A slow, smooth standard-normal drift in time (three waves of a few years). */
static double drift(const eng_gen *g, fg_time t)
{
    static const double period[3] = {3.1, 5.3, 8.7};
    double y = (double)t / YEAR_SECONDS, w = 0;
    for (int i = 0; i < 3; i++)
        w += sin(6.283185307179586 * y / period[i] + g->phys.phase[i]);
    return w * 0.8165; /* sqrt(2/3): unit variance */
}

static double child_z(const eng_gen *g, fg_time t)
{
    return g->phys.child_z + g->e->phys->p[P_CHILD_Z_DRIFT] * drift(g, t);
}

/* Adult BMI level: the patient's place in the log-normal, below 30 without
 * obesity and above it with. */
static double adult_level(const eng_gen *g, int obese)
{
    const struct eng_phys_data *d = g->e->phys;
    int s = is_male(g);
    double q = obese ? d->bmi_p30[s] + g->phys.bmi_u * (1 - d->bmi_p30[s])
                     : g->phys.bmi_u * d->bmi_p30[s];
    if (q < 1e-6)
        q = 1e-6;
    if (q > 1 - 1e-6)
        q = 1 - 1e-6;
    return d->bmi_median[s] * exp(probit(q) * d->bmi_log_sd);
}

double eng_phys_bmi(const eng_gen *g, fg_time t, double height_cm)
{
    const struct eng_phys_data *d = g->e->phys;
    int s = is_male(g);
    double a = years_at(g, t);
    if (a < 2) {
        double w = lms_value(&d->chart[CHART_WT_INF][s], a * 12, child_z(g, t));
        return w / (height_cm * height_cm / 10000.0);
    }
    double child = lms_value(&d->chart[CHART_BMI][s], (a < 18 ? a : 18) * 12, child_z(g, t));
    if (a < 18)
        return child;
    double lean = g->phys.bmi_lean > 0 ? g->phys.bmi_lean : adult_level(g, 0);
    double base = a < 30 ? child + (lean - child) * (a - 18) / 12 : lean;
    double bmi = base * exp(d->p[P_BMI_WALK] * drift(g, t + (fg_time)(1.7 * YEAR_SECONDS)));
    const eng_cond *ob = obesity_cond(g);
    if (ob && (ob->resolved == FG_TIME_NONE || t < ob->resolved)) {
        const eng_module *m = ob->module;
        double target = g->phys.bmi_obese;
        double ramp = d->p[P_OB_RAMP] * YEAR_SECONDS;
        fg_time full = ob->onset - (fg_time)(3 * MONTH_SECONDS);
        double f = t >= full ? 1 : t <= full - (fg_time)ramp ? 0 : 1 - (double)(full - t) / ramp;
        bmi += f * (target - bmi);
        if (f >= 1 && bmi < m->bmi_lo)
            bmi = m->bmi_lo;
    }
    return bmi;
}

static void body_init(eng_gen *g)
{
    const eng_cond *ob = obesity_cond(g);
    g->phys.bmi_lean = adult_level(g, 0);
    if (ob) {
        double v = adult_level(g, 1);
        const eng_module *m = ob->module;
        g->phys.bmi_obese = v < m->bmi_lo ? m->bmi_lo : v > m->bmi_hi ? m->bmi_hi : v;
    }
}

double eng_phys_head(const eng_gen *g, fg_time t)
{
    double a = years_at(g, t);
    return lms_value(&g->e->phys->chart[CHART_HEAD][is_male(g)], a * 12, g->phys.head_z);
}

int eng_phys_child_bp(const eng_gen *g, double age, double out[4])
{
    const struct eng_phys_data *d = g->e->phys;
    int s = is_male(g);
    size_t n = d->n_bp[s];
    if (age < d->bp[s][0][0] || age >= d->bp[s][n - 1][0] + 1)
        return 0;
    size_t i = 0;
    while (i + 1 < n && d->bp[s][i + 1][0] <= age)
        i++;
    /* between two ages of the table, linearly */
    const double *a = d->bp[s][i], *b = d->bp[s][i + 1 < n ? i + 1 : i];
    double f = b[0] > a[0] ? (age - a[0]) / (b[0] - a[0]) : 0;
    if (f > 1)
        f = 1;
    double v[4];
    for (int k = 0; k < 4; k++)
        v[k] = a[k + 1] + f * (b[k + 1] - a[k + 1]);
    out[0] = v[0];
    out[1] = (v[1] - v[0]) / 1.645; /* the 95th percentile is 1.645 SD above the median */
    out[2] = v[2];
    out[3] = (v[3] - v[2]) / 1.645;
    return 1;
}

static int child_bp_high(const eng_gen *g, const fg_observation *o)
{
    const double *p = g->e->phys->p;
    double age = years_at(g, o->time), ref[4];
    if (age >= 18 || !eng_phys_child_bp(g, floor(age), ref)) /* the row of the age in years */
        return -1; /* not a child of the table's ages */
    double sys = o->components[0].value, dia = o->components[1].value;
    if (age >= p[P_HTN_ADULT_AGE] && (sys >= p[P_HTN_SBP_13] || dia >= p[P_HTN_DBP_13]))
        return 1;
    return sys >= round(ref[0] + 1.645 * ref[1]) || dia >= round(ref[2] + 1.645 * ref[3]);
}

int eng_phys_child_bp_review(eng_gen *g, fg_error *err)
{
    const struct eng_phys_data *d = g->e->phys;
    fg_history *h = g->h;
    int run = 0;
    for (size_t i = 0; i < h->observations.n; i++) {
        const fg_observation *o = &h->observations.v[i];
        if (o->n_components != 2 || strcmp(o->term.code, d->bp_panel.code) != 0)
            continue;
        int high = child_bp_high(g, o);
        if (high < 0)
            continue;
        run = high ? run + 1 : 0;
        if (run < (int)d->p[P_HTN_VISITS])
            continue;
        const char *enc = o->encounter;
        fg_time t = o->time;
        fg_condition *c = FG_PUSH(h, conditions);
        if (!c || !(c->id = eng_new_id(g)))
            return fg_error_set(err, FG_ENOMEM, "conditions", "out of memory");
        c->encounter = enc;
        c->category = FG_COND_PROBLEM;
        c->term = d->child_htn;
        c->onset = c->recorded = t;
        c->abatement = FG_TIME_NONE;
        return FG_OK;
    }
    return FG_OK;
}
