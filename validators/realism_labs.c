/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism_labs.c: labs that agree with each other, and diagnoses that
 * follow the measurements (labs and diagnoses categories).
 */
#include <math.h>

#include "validators/realism_private.h"

#define DAYS(n) ((fg_time)(n) * FG_DAY)

static int64_t day_of(fg_time t)
{
    return t >= 0 ? t / FG_DAY : -((-t + FG_DAY - 1) / FG_DAY);
}

/* CKD-EPI 2021 creatinine equation (Inker et al., NEJM 2021), race-free:
 * 142 x min(Scr/k,1)^a x max(Scr/k,1)^-1.200 x 0.9938^age x 1.012 (female),
 * k 0.7 (female) or 0.9 (male), a -0.241 (female) or -0.302 (male). */
static double ckd_epi_2021(double scr, int age, fg_sex sex)
{
    double k = sex == FG_SEX_FEMALE ? 0.7 : 0.9, a = sex == FG_SEX_FEMALE ? -0.241 : -0.302;
    double x = scr / k;
    double e = 142 * pow(x < 1 ? x : 1, a) * pow(x > 1 ? x : 1, -1.200) * pow(0.9938, age);
    return sex == FG_SEX_FEMALE ? e * 1.012 : e;
}

static void creatinine_jumps(rz_ctx *c)
{
    const rz_series *s = &c->s[RZ_R_CREAT];
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = i + 1; j < s->n && s->v[j].t - s->v[i].t <= DAYS(60); j++)
            if (s->v[i].v > 0 && fabs(s->v[j].v - s->v[i].v) / s->v[i].v > 0.5) {
                rz_hit(c, RZ_LAB_CREAT_JUMP, s->v[j].t, "creatinine %.2f then %.2f mg/dL",
                       s->v[i].v, s->v[j].v);
                break;
            }
}

static void egfr_against_creatinine(rz_ctx *c)
{
    const rz_series *e = &c->s[RZ_R_EGFR], *s = &c->s[RZ_R_CREAT];
    for (size_t i = 0; i < e->n; i++) {
        int age = rz_age(c, e->v[i].t);
        long k = rz_before(s, e->v[i].t + DAYS(1) - 1);
        if (age < 18 || k < 0 || day_of(s->v[k].t) != day_of(e->v[i].t) || s->v[k].v <= 0)
            continue;
        double want = ckd_epi_2021(s->v[k].v, age, c->h->patient.sex);
        if (fabs(e->v[i].v - want) / want > 0.3)
            rz_hit(c, RZ_LAB_EGFR, e->v[i].t, "eGFR %.0f, CKD-EPI 2021 of creatinine %.2f: %.0f",
                   e->v[i].v, s->v[k].v, want);
    }
}

static void hct_hb(rz_ctx *c)
{
    const rz_series *hb = &c->s[RZ_R_HB], *hct = &c->s[RZ_R_HCT];
    for (size_t i = 0; i < hct->n; i++) {
        long k = rz_before(hb, hct->v[i].t + DAYS(1) - 1);
        if (k < 0 || day_of(hb->v[k].t) != day_of(hct->v[i].t) || hb->v[k].v <= 0)
            continue;
        double ratio = hct->v[i].v / hb->v[k].v;
        if (ratio < 2.5 || ratio > 3.5)
            rz_hit(c, RZ_LAB_HCT_HB, hct->v[i].t, "haematocrit %.1f%% with haemoglobin %.1f g/dL",
                   hct->v[i].v, hb->v[k].v);
    }
}

static void ckd_stages(rz_ctx *c)
{
    const rz_series *e = &c->s[RZ_R_EGFR];
    for (size_t i = 0; i < c->h->conditions.n; i++) {
        const fg_condition *x = &c->h->conditions.v[i];
        const rz_code *code;
        if (!(c->cond_roles[i] & RZ_BIT(RZ_R_CKD)) ||
            !(code = rz_code_of(c->r, RZ_R_CKD, &x->term)) || isnan(code->lo))
            continue;
        size_t n = 0, outside = 0;
        double last = 0;
        for (size_t k = 0; k < e->n; k++)
            if (e->v[k].t >= x->onset - DAYS(90) && e->v[k].t <= x->onset + DAYS(365)) {
                n++;
                last = e->v[k].v;
                outside += e->v[k].v < code->lo || e->v[k].v >= code->hi;
            }
        if (n && outside == n)
            rz_hit(c, RZ_LAB_CKD_STAGE, x->onset, "%.60s with every eGFR out of %.0f-%.0f (%.0f)",
                   x->term.display, code->lo, code->hi, last);
    }
}

void rz_check_labs(rz_ctx *c)
{
    creatinine_jumps(c);
    egfr_against_creatinine(c);
    hct_hb(c);
    ckd_stages(c);
}

static void obesity(rz_ctx *c, const fg_condition *x)
{
    const rz_series *b = &c->s[RZ_R_BMI], *w = &c->s[RZ_R_WEIGHT];
    if (rz_age(c, x->onset) < 18)
        return;
    long kb = rz_before(b, x->onset + DAYS(1)), kw = rz_before(w, x->onset + DAYS(1));
    int vitals = (kb >= 0 && b->v[kb].t >= x->onset - DAYS(365)) ||
                 (kw >= 0 && w->v[kw].t >= x->onset - DAYS(365));
    if (!vitals)
        return;
    for (long k = kb; k >= 0 && b->v[k].t >= x->onset - DAYS(365); k--)
        if (b->v[k].v >= 30)
            return;
    rz_hit(c, RZ_DX_OBESITY, x->onset, "%.60s without a BMI of 30 in the year before",
           x->term.display);
}

static void hypertension(rz_ctx *c, const fg_condition *x)
{
    const rz_series *s = &c->s[RZ_R_SYS];
    /* The diagnosis is the recorded date: the onset may be the first raised
     * reading, weeks before the visit that confirmed it. */
    fg_time dx = x->recorded != FG_TIME_NONE ? x->recorded : x->onset;
    /* Only inside the detailed record: on or after the first reading. */
    if (rz_age(c, dx) < 18 || !s->n || day_of(dx) < day_of(s->v[0].t))
        return;
    int days = 0;
    int64_t last_day = INT64_MIN, dx_day = day_of(dx);
    for (size_t k = 0; k < s->n && day_of(s->v[k].t) <= dx_day; k++)
        if ((s->v[k].v >= 130 || s->v[k].v2 >= 80) && day_of(s->v[k].t) != last_day) {
            days++;
            last_day = day_of(s->v[k].t);
        }
    if (days < 2)
        rz_hit(c, RZ_DX_HTN, dx, "%.60s after %d elevated reading(s)", x->term.display, days);
}

static int pregnant_near(const rz_ctx *c, fg_time t)
{
    for (size_t i = 0; i < c->h->conditions.n; i++) {
        const fg_condition *x = &c->h->conditions.v[i];
        fg_time end = x->abatement != FG_TIME_NONE ? x->abatement : c->end;
        if ((c->cond_roles[i] & RZ_BIT(RZ_R_PREGNANCY)) && t >= x->onset - DAYS(30) &&
            t <= end + DAYS(180))
            return 1;
    }
    return 0;
}

static void weight_jumps(rz_ctx *c)
{
    const rz_series *w = &c->s[RZ_R_WEIGHT];
    for (size_t i = 0; i < w->n; i++) {
        if (rz_age(c, w->v[i].t) < 18 || w->v[i].v <= 0 || pregnant_near(c, w->v[i].t))
            continue;
        for (size_t j = i + 1; j < w->n && w->v[j].t - w->v[i].t <= DAYS(60); j++)
            if (fabs(w->v[j].v - w->v[i].v) / w->v[i].v > 0.10 && !pregnant_near(c, w->v[j].t)) {
                rz_hit(c, RZ_DX_WEIGHT_JUMP, w->v[j].t, "weight %.1f then %.1f kg", w->v[i].v,
                       w->v[j].v);
                break;
            }
    }
}

static void bmi_pileup(rz_ctx *c)
{
    const rz_series *b = &c->s[RZ_R_BMI];
    for (size_t i = 0; i < b->n; i++) {
        if (rz_age(c, b->v[i].t) < 20 || rz_condition_at(c, RZ_R_OBESITY, b->v[i].t))
            continue;
        double v = b->v[i].v;
        rz_metric(c, RZ_M_BMI_PILEUP, v >= 29 && v < 30, v >= 28 && v < 29);
    }
}

void rz_check_diagnoses(rz_ctx *c)
{
    for (size_t i = 0; i < c->h->conditions.n; i++) {
        if (c->cond_roles[i] & RZ_BIT(RZ_R_OBESITY))
            obesity(c, &c->h->conditions.v[i]);
        if (c->cond_roles[i] & RZ_BIT(RZ_R_HTN))
            hypertension(c, &c->h->conditions.v[i]);
    }
    weight_jumps(c);
    bmi_pileup(c);
}
