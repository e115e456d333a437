/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_lifetime.c: the visits everyone has, whether ill or not.
 *
 * Within [window_start, stop): well-child visits on the paediatric schedule
 * (3-5 days; 1, 2, 4, 6, 9, 12, 15, 18, 24, 30 months; then yearly to 17),
 * adult wellness visits (every 1-3 years from 18 to 39, yearly from 40),
 * each with a set of vital signs and, for adults, the smoking status; the
 * routine immunizations (engine_vaccines.c), each dose at a wellness visit
 * near its due date or at its own visit; and yearly autumn influenza
 * vaccines for a share of patients.
 *
 * Vital signs follow the patient's own constants (adult height, BMI base,
 * blood-pressure offset, drawn once) along reference curves: adult figures
 * from data/tables/vitals.tsv, children from the engine's growth curve
 * (data/tables/growth.tsv, an assumption documented there). Young adults
 * move linearly from their BMI at 18 to their adult BMI base at 30.
 * Condition modules shift them through eng_conditions_vitals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generators/engine/engine_private.h"
#include "generators/engine/fg_engine.h"

#define MAX_GROWTH_ROWS 64
#define MAX_VISITS 256 /* wellness visits of one window: 120 years fit */
#define YEAR_SECONDS (FG_YEAR_DAYS * FG_DAY)
#define MONTH_SECONDS (YEAR_SECONDS / 12.0)

enum { V_HEIGHT, V_WEIGHT, V_BMI, V_BP, V_SYS, V_DIA, V_HR, V_RR, V_TEMP, V_SPO2, V_HEAD, V_COUNT };
static const char *vital_key[V_COUNT] = {
    "vital.height",     "vital.weight",    "vital.bmi",       "vital.bp_panel",
    "vital.systolic",   "vital.diastolic", "vital.heart_rate", "vital.resp_rate",
    "vital.temperature", "vital.spo2",     "vital.head_circumference"};
static const int vital_decimals[V_COUNT] = {1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1};

struct eng_life {
    fg_tsv *growth, *vitals, *params;
    size_t n_growth;
    double g_age[MAX_GROWTH_ROWS], g_hfrac[2][MAX_GROWTH_ROWS], g_bmi[2][MAX_GROWTH_ROWS],
        g_head[2][MAX_GROWTH_ROWS];
    /* vitals.tsv */
    double h_mean[2], h_sd[2], bmi_median[2], bmi_log_sd, sbp[2], dbp[2], sbp_slope, sbp_person_sd,
        sbp_visit_sd, hr_adult[2], hr_infant, hr_5, hr_13, hr_sd, rr_infant, rr_child, rr_adult,
        temp_mean, temp_sd, spo2_mean, sbp_child3, dbp_child3, htn_sbp, htn_dbp;
    /* engine_params.tsv */
    double smoke_current, smoke_former, flu_child, flu_adult, flu_miss, wellness_miss;
    /* vocabulary */
    fg_term vt[V_COUNT];
    const char *vunit[V_COUNT];
    fg_term enc_child, enc_adult, enc_checkup, flu, smoking_status, smoking[3];
};

void eng_lifetime_free(struct eng_life *l)
{
    if (!l)
        return;
    fg_tsv_free(l->growth);
    fg_tsv_free(l->vitals);
    fg_tsv_free(l->params);
    free(l);
}

/* Probit by bisection on erfc: load time only. */
static double upper_z(double p)
{
    double lo = -8, hi = 8;
    for (int i = 0; i < 100; i++) {
        double mid = (lo + hi) / 2;
        if (0.5 * erfc(mid / sqrt(2.0)) > p)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

static int load_growth(struct eng_life *l, fg_error *err)
{
    static const char *cols[7] = {"age_years", "height_frac_female", "height_frac_male", "bmi_female",
                                  "bmi_male", "head_cm_female", "head_cm_male"};
    size_t c[7];
    int rc;
    for (int i = 0; i < 7; i++)
        if ((rc = fg_tsv_col(l->growth, cols[i], &c[i], err)))
            return rc;
    if (fg_tsv_rows(l->growth) < 2 || fg_tsv_rows(l->growth) > MAX_GROWTH_ROWS)
        return fg_error_set(err, FG_EINVALID, fg_tsv_path(l->growth), "needs 2..%d rows",
                            MAX_GROWTH_ROWS);
    l->n_growth = fg_tsv_rows(l->growth);
    for (size_t r = 0; r < l->n_growth; r++) {
        double *dst[7] = {&l->g_age[r], &l->g_hfrac[0][r], &l->g_hfrac[1][r], &l->g_bmi[0][r],
                          &l->g_bmi[1][r], &l->g_head[0][r], &l->g_head[1][r]};
        for (int i = 0; i < 7; i++)
            if ((rc = fg_tsv_double(l->growth, r, c[i], dst[i], err)))
                return rc;
        if (r && l->g_age[r] <= l->g_age[r - 1])
            return fg_tsv_row_error(l->growth, r, err, FG_EINVALID, "ages must increase");
    }
    return FG_OK;
}

int eng_lifetime_load(fg_engine *e, fg_error *err)
{
    struct eng_life *l = calloc(1, sizeof(*l));
    double ob[2];
    int rc;
    if (!l)
        return fg_error_set(err, FG_ENOMEM, "tables", "out of memory");
    if ((rc = eng_table_load(e, "tables/growth.tsv", &l->growth, err)) ||
        (rc = eng_table_load(e, "tables/vitals.tsv", &l->vitals, err)) ||
        (rc = eng_table_load(e, "tables/engine_params.tsv", &l->params, err)) ||
        (rc = load_growth(l, err)))
        goto cleanup;
    struct {
        const char *key;
        double *v;
    } vp[] = {
        {"height_mean_female", &l->h_mean[0]}, {"height_mean_male", &l->h_mean[1]},
        {"height_sd_female", &l->h_sd[0]},     {"height_sd_male", &l->h_sd[1]},
        {"obesity_pct_female", &ob[0]},        {"obesity_pct_male", &ob[1]},
        {"bmi_log_sd", &l->bmi_log_sd},        {"sbp_median_female", &l->sbp[0]},
        {"sbp_median_male", &l->sbp[1]},       {"dbp_median_female", &l->dbp[0]},
        {"dbp_median_male", &l->dbp[1]},       {"sbp_age_slope", &l->sbp_slope},
        {"sbp_person_sd", &l->sbp_person_sd},  {"sbp_visit_sd", &l->sbp_visit_sd},
        {"hr_adult_female", &l->hr_adult[0]},  {"hr_adult_male", &l->hr_adult[1]},
        {"hr_infant", &l->hr_infant},          {"hr_age5", &l->hr_5},
        {"hr_adolescent", &l->hr_13},          {"hr_sd", &l->hr_sd},
        {"resp_rate_infant", &l->rr_infant},   {"resp_rate_child", &l->rr_child},
        {"resp_rate_adult", &l->rr_adult},     {"temperature_mean", &l->temp_mean},
        {"temperature_sd", &l->temp_sd},       {"spo2_mean", &l->spo2_mean},
        {"sbp_child_age3", &l->sbp_child3},    {"dbp_child_age3", &l->dbp_child3},
        {"htn_systolic", &l->htn_sbp},         {"htn_diastolic", &l->htn_dbp},
    };
    for (size_t i = 0; i < sizeof(vp) / sizeof(vp[0]); i++)
        if ((rc = eng_param(l->vitals, vp[i].key, vp[i].v, err)))
            goto cleanup;
    /* log BMI is normal; its median puts the obesity share (BMI >= 30) on the reference */
    for (int s = 0; s < 2; s++)
        l->bmi_median[s] = 30.0 * exp(-upper_z(ob[s] / 100.0) * l->bmi_log_sd);
    struct {
        const char *key;
        double *v;
    } pp[] = {
        {"smoking_current_pct", &l->smoke_current}, {"smoking_former_pct", &l->smoke_former},
        {"flu_vaccinee_pct_child", &l->flu_child},  {"flu_vaccinee_pct_adult", &l->flu_adult},
        {"flu_season_miss_pct", &l->flu_miss},      {"wellness_miss_pct", &l->wellness_miss},
    };
    for (size_t i = 0; i < sizeof(pp) / sizeof(pp[0]); i++)
        if ((rc = eng_param(l->params, pp[i].key, pp[i].v, err)))
            goto cleanup;
    for (int i = 0; i < V_COUNT; i++)
        if ((rc = eng_vocab_term(e, vital_key[i], &l->vt[i], &l->vunit[i], err)))
            goto cleanup;
    if ((rc = eng_vocab_term(e, "enc.wellness_child", &l->enc_child, NULL, err)) ||
        (rc = eng_vocab_term(e, "enc.wellness_adult", &l->enc_adult, NULL, err)) ||
        (rc = eng_vocab_term(e, "enc.checkup", &l->enc_checkup, NULL, err)) ||
        (rc = eng_vocab_term(e, "imm.flu", &l->flu, NULL, err)) ||
        (rc = eng_vocab_term(e, "social.smoking_status", &l->smoking_status, NULL, err)) ||
        (rc = eng_vocab_term(e, "smoking.never", &l->smoking[0], NULL, err)) ||
        (rc = eng_vocab_term(e, "smoking.former", &l->smoking[1], NULL, err)) ||
        (rc = eng_vocab_term(e, "smoking.current", &l->smoking[2], NULL, err)))
        goto cleanup;
    e->life = l;
    l = NULL;
    rc = FG_OK;
cleanup:
    eng_lifetime_free(l);
    return rc;
}

void eng_lifetime_traits(eng_gen *g)
{
    const struct eng_life *l = g->e->life;
    int s = g->h->patient.sex == FG_SEX_MALE ? 1 : 0;
    fg_rng r = fg_rng_fork(&g->rng, "traits");
    double z = fg_rng_normal(&r, 0, 1);
    if (z > 3.5)
        z = 3.5;
    if (z < -3.5)
        z = -3.5;
    g->adult_height = l->h_mean[s] + z * l->h_sd[s];
    z = fg_rng_normal(&r, 0, 1);
    if (z > 4)
        z = 4;
    if (z < -3)
        z = -3;
    g->bmi_base = l->bmi_median[s] * exp(z * l->bmi_log_sd);
    g->child_bmi_factor = exp(0.6 * z * l->bmi_log_sd);
    g->bp_offset = fg_rng_normal(&r, 0, l->sbp_person_sd);
    double u = fg_rng_uniform(&r) * 100.0;
    g->smoking = u < l->smoke_current ? 2 : u < l->smoke_current + l->smoke_former ? 1 : 0;
}

/* ---- vital signs ---- */

static double curve(const struct eng_life *l, const double *y, double age)
{
    if (age <= l->g_age[0])
        return y[0];
    for (size_t i = 1; i < l->n_growth; i++)
        if (age <= l->g_age[i]) {
            double f = (age - l->g_age[i - 1]) / (l->g_age[i] - l->g_age[i - 1]);
            return y[i - 1] + f * (y[i] - y[i - 1]);
        }
    return y[l->n_growth - 1];
}

static double lerp(double x0, double y0, double x1, double y1, double x)
{
    if (x <= x0)
        return y0;
    if (x >= x1)
        return y1;
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
}

static fg_observation *add_obs(eng_gen *g, const fg_encounter *enc, fg_obs_category cat,
                               const fg_term *term)
{
    fg_observation *o = FG_PUSH(g->h, observations);
    if (!o)
        return NULL;
    if (!(o->id = eng_new_id(g))) {
        g->h->observations.n--;
        return NULL;
    }
    o->encounter = enc->id;
    o->category = cat;
    o->term = *term;
    o->time = enc->start;
    return o;
}

static int add_quantity(eng_gen *g, const fg_encounter *enc, int v, double value)
{
    const struct eng_life *l = g->e->life;
    fg_observation *o = add_obs(g, enc, FG_OBS_VITAL, &l->vt[v]);
    if (!o)
        return FG_ENOMEM;
    double scale = vital_decimals[v] ? 10.0 : 1.0;
    o->kind = FG_VALUE_QUANTITY;
    o->value = round(value * scale) / scale;
    o->unit = l->vunit[v];
    o->decimals = vital_decimals[v];
    return FG_OK;
}

/* A reading that makes a hypertension diagnosis is raised (ACC/AHA 2017,
 * vitals.tsv): the visit's variation around the means ms, md is drawn again
 * until it is, and the systolic is put at the threshold when it never is. */
static void raised_reading(const struct eng_life *l, fg_rng *r, double ms, double md, double *sys, double *dia)
{
    for (int i = 0; i < 16 && *sys < l->htn_sbp && *dia < l->htn_dbp; i++) {
        *sys = ms + fg_rng_normal(r, 0, l->sbp_visit_sd);
        *dia = md + fg_rng_normal(r, 0, 0.7 * l->sbp_visit_sd);
    }
    if (*sys < l->htn_sbp && *dia < l->htn_dbp)
        *sys = l->htn_sbp;
}

int eng_add_vitals(eng_gen *g, const fg_encounter *enc)
{
    const struct eng_life *l = g->e->life;
    const fg_patient *pt = &g->h->patient;
    int s = pt->sex == FG_SEX_MALE ? 1 : 0;
    fg_time t = enc->start;
    double age = (double)(t - pt->birth_date) / YEAR_SECONDS;
    fg_rng r = fg_rng_fork(&g->rng, enc->id);
    eng_vital_shift sh;
    memset(&sh, 0, sizeof(sh));
    eng_conditions_vitals(g, t, &sh);
    if (age < 0)
        age = 0;

    double height = age < 18 ? curve(l, l->g_hfrac[s], age) * g->adult_height : g->adult_height;
    height += fg_rng_normal(&r, 0, age < 2 ? 0.4 : 0.3);
    /* the BMI follows the patient's physiology (engine_physiology.c) */
    double bmi = eng_phys_bmi(g, t, height) * exp(fg_rng_normal(&r, 0, 0.005)) + (age >= 18 ? sh.bmi : 0);
    if (bmi < 11)
        bmi = 11;
    double hm = round(height * 10) / 1000.0;
    double weight = round(bmi * hm * hm * 10) / 10.0;
    int rc;
    if ((rc = add_quantity(g, enc, V_HEIGHT, height)) || (rc = add_quantity(g, enc, V_WEIGHT, weight)) ||
        (rc = add_quantity(g, enc, V_BMI, weight / (hm * hm))))
        return rc;
    if (age < 3 && (rc = add_quantity(g, enc, V_HEAD, eng_phys_head(g, t))))
        return rc;

    if (age >= 3) {
        double sbp_ref = lerp(3, l->sbp_child3, 18, l->sbp[s], age) + (age > 45 ? l->sbp_slope * (age - 45) : 0);
        double dbp_ref = lerp(3, l->dbp_child3, 18, l->dbp[s], age);
        double k = age < 18 ? 0.6 : 1.0;
        double ms = sbp_ref + k * g->bp_offset + sh.systolic, md = dbp_ref + 0.5 * k * g->bp_offset + sh.diastolic;
        double sys = ms + fg_rng_normal(&r, 0, l->sbp_visit_sd);
        double dia = md + fg_rng_normal(&r, 0, 0.7 * l->sbp_visit_sd);
        if (g->raised_bp && age >= 18)
            raised_reading(l, &r, ms, md, &sys, &dia);
        double ref[4]; /* children: the AAP 2017 tables, at the patient's own z-score */
        if (age < 18 && eng_phys_child_bp(g, age, ref)) {
            double zp = g->phys.bp_offset_child / l->sbp_person_sd;
            sys = ref[0] + ref[1] * (0.6 * zp + 0.6 * fg_rng_normal(&r, 0, 1)) + sh.systolic;
            dia = ref[2] + ref[3] * (0.6 * zp + 0.6 * fg_rng_normal(&r, 0, 1)) + sh.diastolic;
        }
        if (dia > sys - 15)
            dia = sys - 15;
        fg_observation *o = add_obs(g, enc, FG_OBS_VITAL, &l->vt[V_BP]);
        fg_component *c = fg_arena_calloc(&g->h->arena, 2 * sizeof(*c));
        if (!o || !c)
            return FG_ENOMEM;
        o->kind = FG_VALUE_NONE;
        c[0].term = l->vt[V_SYS];
        c[0].value = round(sys);
        c[0].unit = l->vunit[V_SYS];
        c[1].term = l->vt[V_DIA];
        c[1].value = round(dia);
        c[1].unit = l->vunit[V_DIA];
        o->components = c;
        o->n_components = 2;
    }
    double hr_ref = age < 0.5 ? l->hr_infant
                    : age < 5 ? lerp(0.5, l->hr_infant, 5, l->hr_5, age)
                    : age < 13 ? lerp(5, l->hr_5, 13, l->hr_13, age)
                               : lerp(13, l->hr_13, 20, l->hr_adult[s], age);
    double rr_ref = age < 2 ? lerp(0, l->rr_infant, 2, l->rr_child, age) : lerp(6, l->rr_child, 14, l->rr_adult, age);
    double spo2 = fg_rng_normal(&r, l->spo2_mean, 0.9) + sh.spo2;
    if (spo2 > 100)
        spo2 = 100;
    if ((rc = add_quantity(g, enc, V_HR, hr_ref + fg_rng_normal(&r, 0, l->hr_sd) + sh.heart_rate)) ||
        (rc = add_quantity(g, enc, V_RR, rr_ref + fg_rng_normal(&r, 0, 1.5) + sh.resp_rate)) ||
        (rc = add_quantity(g, enc, V_TEMP, fg_rng_normal(&r, l->temp_mean, l->temp_sd))) ||
        (rc = add_quantity(g, enc, V_SPO2, spo2)))
        return rc;
    return FG_OK;
}

/* ---- the schedule ---- */


static fg_time office_time(fg_rng *r, fg_time day)
{
    day -= ((day % FG_DAY) + FG_DAY) % FG_DAY;
    return day + (8 * 60 + 15 * fg_rng_range(r, 0, 35)) * 60; /* 08:00-16:45 */
}

static int add_wellness(eng_gen *g, fg_rng *r, fg_time day, eng_visit *vs, size_t *nv, fg_error *err)
{
    const struct eng_life *l = g->e->life;
    fg_time t = office_time(r, day);
    if (t < g->window_start || t >= g->stop || *nv >= MAX_VISITS)
        return FG_OK;
    int adult = fg_age_at(g->h->patient.birth_date, t) >= 18;
    fg_encounter *enc = eng_add_encounter(g, t, adult ? 30 : 25, FG_CLASS_AMB,
                                          adult ? &l->enc_adult : &l->enc_child, NULL);
    if (!enc || eng_add_vitals(g, enc) != FG_OK)
        return fg_error_set(err, FG_ENOMEM, "encounters", "out of memory");
    if (adult) {
        fg_observation *o = add_obs(g, enc, FG_OBS_SOCIAL, &l->smoking_status);
        if (!o)
            return fg_error_set(err, FG_ENOMEM, "observations", "out of memory");
        o->kind = FG_VALUE_CODE;
        o->code_value = l->smoking[g->smoking];
    }
    vs[*nv].t = t;
    vs[*nv].enc_index = g->h->encounters.n - 1;
    vs[*nv].vaccines = 0;
    (*nv)++;
    return FG_OK;
}

static int add_imm(eng_gen *g, const char *enc_id, fg_time t, const fg_term *term, fg_error *err)
{
    fg_immunization *im = FG_PUSH(g->h, immunizations);
    if (!im || !(im->id = eng_new_id(g)))
        return fg_error_set(err, FG_ENOMEM, "immunizations", "out of memory");
    im->encounter = enc_id;
    im->term = *term;
    im->time = t;
    return FG_OK;
}

/* Give a vaccine at the wellness visit nearest `due` (within `slack`) that
 * has no dose of it yet, else at a visit of its own on `due`. */
int eng_give(eng_gen *g, fg_rng *r, eng_visit *vs, size_t nv, fg_time due, fg_time slack, int vaccine,
             const fg_term *term, fg_error *err)
{
    const struct eng_life *l = g->e->life;
    eng_visit *best = NULL;
    for (size_t i = 0; i < nv; i++) {
        fg_time d = vs[i].t > due ? vs[i].t - due : due - vs[i].t;
        if (d <= slack && !(vs[i].vaccines & (1u << vaccine)) &&
            (!best || d < (best->t > due ? best->t - due : due - best->t)))
            best = &vs[i];
    }
    if (best) {
        best->vaccines |= 1u << vaccine;
        const fg_encounter *enc = &g->h->encounters.v[best->enc_index];
        return add_imm(g, enc->id, enc->start + 10 * 60, term, err);
    }
    fg_time t = office_time(r, due);
    if (t < g->window_start || t >= g->stop)
        return FG_OK;
    fg_encounter *enc = eng_add_encounter(g, t, 15, FG_CLASS_AMB, &l->enc_checkup, NULL);
    if (!enc)
        return fg_error_set(err, FG_ENOMEM, "encounters", "out of memory");
    return add_imm(g, enc->id, t + 5 * 60, term, err);
}

int eng_lifetime(eng_gen *g, fg_error *err)
{
    const struct eng_life *l = g->e->life;
    fg_time birth = g->h->patient.birth_date;
    fg_rng r = fg_rng_fork(&g->rng, "lifetime");
    eng_visit vs[MAX_VISITS];
    size_t nv = 0;
    int rc;
    static const int ped_months[] = {1, 2, 4, 6, 9, 12, 15, 18, 24, 30};

    if (g->stop <= g->window_start)
        return FG_OK;
    /* well-child visits */
    if ((rc = add_wellness(g, &r, birth + fg_rng_range(&r, 3, 5) * FG_DAY, vs, &nv, err)))
        return rc;
    for (size_t i = 0; i < sizeof(ped_months) / sizeof(ped_months[0]); i++) {
        fg_time day = birth + (fg_time)(ped_months[i] * MONTH_SECONDS) + fg_rng_range(&r, -3, 7) * FG_DAY;
        if ((rc = add_wellness(g, &r, day, vs, &nv, err)))
            return rc;
    }
    for (int age = 3; age < 18; age++)
        if ((rc = add_wellness(g, &r, fg_add_years(birth, age) + fg_rng_range(&r, 0, 60) * FG_DAY, vs, &nv, err)))
            return rc;
    /* adult wellness: every 1-3 years to 39, then yearly */
    for (int age = 18; age <= FG_MAX_AGE;) {
        fg_time day = fg_add_years(birth, age) + fg_rng_range(&r, 0, 120) * FG_DAY;
        if (day >= g->stop)
            break;
        if (!fg_rng_chance(&r, l->wellness_miss / 100.0) && (rc = add_wellness(g, &r, day, vs, &nv, err)))
            return rc;
        age += age < 40 ? (int)fg_rng_range(&r, 1, 3) : 1;
    }
    /* routine immunizations, on the schedule in force at each date */
    if ((rc = eng_vaccines(g, vs, nv, err)))
        return rc;
    /* influenza: autumn, from 6 months, for a share of patients */
    int flu_child = fg_rng_chance(&r, l->flu_child / 100.0), flu_adult = fg_rng_chance(&r, l->flu_adult / 100.0);
    int y0, y1;
    fg_civil_from_days(g->window_start / FG_DAY, &y0, &(int){0}, &(int){0});
    fg_civil_from_days((g->stop - 1) / FG_DAY, &y1, &(int){0}, &(int){0});
    for (int y = y0; y <= y1; y++) {
        fg_time day = fg_time_make(y, 9, 1, 0, 0, 0) + fg_rng_range(&r, 0, 90) * FG_DAY;
        double age = (double)(day - birth) / YEAR_SECONDS;
        if (age < 0.5 || day < g->window_start || day >= g->stop)
            continue;
        if (!(age < 18 ? flu_child : flu_adult) || fg_rng_chance(&r, l->flu_miss / 100.0))
            continue;
        /* a wellness visit in the same autumn takes the shot */
        fg_time sep1 = fg_time_make(y, 9, 1, 0, 0, 0), dec1 = fg_time_make(y, 12, 1, 0, 0, 0);
        fg_time due = day;
        for (size_t i = 0; i < nv; i++)
            if (vs[i].t >= sep1 && vs[i].t < dec1) {
                due = vs[i].t;
                break;
            }
        if ((rc = eng_give(g, &r, vs, nv, due, 0, ENG_FLU_BIT, &l->flu, err)))
            return rc;
    }
    return FG_OK;
}
