/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism_metrics.c: preventive care and guideline treatment (metrics),
 * children on their growth curves, and notes that read like notes.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "validators/realism_private.h"

#define DAYS(n) ((fg_time)(n) * FG_DAY)

/* A procedure or an observation of the role between t0 and t1. */
static int done(const rz_ctx *c, int role, fg_time t0, fg_time t1)
{
    const rz_series *s = &c->s[role];
    long k = rz_before(s, t1);
    if (k >= 0 && s->v[k].t >= t0)
        return 1;
    for (size_t i = 0; i < c->h->procedures.n; i++) {
        const fg_procedure *p = &c->h->procedures.v[i];
        if (p->start >= t0 && p->start <= t1 && (rz_roles(c->r, &p->term) & RZ_BIT(role)))
            return 1;
    }
    return 0;
}

static int on_class(const rz_ctx *c, int cls, fg_time from, fg_time at)
{
    for (size_t i = 0; cls >= 0 && i < c->n_meds; i++) {
        const rz_med *x = &c->meds[i];
        int in = 0;
        for (int k = 0; k < x->n_cls; k++)
            in |= x->cls[k] == cls;
        if (in && x->end >= from && x->start <= at)
            return 1;
    }
    return 0;
}

static void screening(rz_ctx *c, int age, int female)
{
    fg_time e = c->end;
    if (age >= 50 && age <= 75)
        rz_metric(c, RZ_M_COLORECTAL,
                  done(c, RZ_R_COLONOSCOPY, e - DAYS(3652), e) || done(c, RZ_R_STOOL, e - DAYS(365), e), 1);
    if (female && age >= 50 && age <= 74)
        rz_metric(c, RZ_M_MAMMOGRAPHY, done(c, RZ_R_MAMMO, e - DAYS(730), e), 1);
    if (female && age >= 21 && age <= 65)
        rz_metric(c, RZ_M_CERVICAL, done(c, RZ_R_CERVICAL, e - DAYS(1826), e), 1);
    if (age >= 40 && age <= 75)
        rz_metric(c, RZ_M_LIPID, c->s[RZ_R_LIPID].n > 0, 1);
    const rz_series *b = &c->s[RZ_R_BMI];
    int diabetic = 0; /* a diabetic's HbA1c is monitoring, not screening */
    for (size_t i = 0; i < c->h->conditions.n; i++)
        diabetic |= (c->cond_roles[i] & RZ_BIT(RZ_R_DIABETES)) != 0;
    if (age >= 35 && age <= 70 && b->n && b->v[b->n - 1].v >= 25 && !diabetic)
        rz_metric(c, RZ_M_DM_SCREEN,
                  done(c, RZ_R_HBA1C, e - DAYS(1096), e) || done(c, RZ_R_GLUCOSE, e - DAYS(1096), e), 1);
    int visit = 0;
    for (size_t i = 0; i < c->h->encounters.n && !visit; i++)
        visit = c->h->encounters.v[i].cls == FG_CLASS_AMB && c->h->encounters.v[i].start >= e - DAYS(365);
    if (age >= 18 && visit)
        rz_metric(c, RZ_M_DEPRESSION, done(c, RZ_R_PHQ, e - DAYS(365), e), 1);
}

void rz_check_prevention(rz_ctx *c)
{
    const fg_realism_rules *r = c->r;
    int age = rz_age(c, c->end), female = c->h->patient.sex == FG_SEX_FEMALE;
    if (c->h->patient.death == FG_TIME_NONE) {
        screening(c, age, female);
        if (age >= 40 && age <= 75 && rz_condition_at(c, RZ_R_DIABETES, c->end))
            rz_metric(c, RZ_M_STATIN_DM, on_class(c, r->cls_statin, c->end, c->end), 1);
    }
    fg_time gerd = rz_first_onset(c, RZ_R_GERD), af = rz_first_onset(c, RZ_R_AF);
    if (gerd != FG_TIME_NONE)
        rz_metric(c, RZ_M_GERD, on_class(c, r->cls_ppi, gerd - DAYS(30), c->end) ||
                                    on_class(c, r->cls_h2, gerd - DAYS(30), c->end), 1);
    if (af != FG_TIME_NONE) {
        int doac = on_class(c, r->cls_doac, af, c->end), vka = on_class(c, r->cls_vka, af, c->end);
        rz_metric(c, RZ_M_AF_ANTICOAG, doac || vka, 1);
        if (doac || vka)
            rz_metric(c, RZ_M_AF_DOAC, doac, 1);
    }
}

/* The LMS row of the sex nearest to an age in months (CDC BMI-for-age). */
static const rz_lms *lms_at(const fg_realism_rules *r, fg_sex sex, double agemos)
{
    const rz_lms *best = NULL;
    for (size_t i = 0; i < r->n_lms; i++)
        if (r->lms[i].sex == (int)sex &&
            (!best || fabs(r->lms[i].agemos - agemos) < fabs(best->agemos - agemos)))
            best = &r->lms[i];
    return best;
}

void rz_check_children(rz_ctx *c)
{
    const rz_series *b = &c->s[RZ_R_BMI], *hc = &c->s[RZ_R_HEAD];
    fg_time birth = c->h->patient.birth_date;
    for (size_t i = 0; i < b->n; i++) {
        double agemos = (double)(b->v[i].t - birth) / (FG_DAY * FG_YEAR_DAYS / 12);
        if (agemos < 24 || agemos >= 240 || b->v[i].v <= 0)
            continue;
        const rz_lms *p = lms_at(c->r, c->h->patient.sex, agemos);
        if (!p)
            continue;
        double z = p->l != 0 ? (pow(b->v[i].v / p->m, p->l) - 1) / (p->l * p->s)
                             : log(b->v[i].v / p->m) / p->s;
        rz_metric(c, RZ_M_CHILD_BMI_LOW, z < -1.6449, 1);
        rz_metric(c, RZ_M_CHILD_BMI_HIGH, z >= 1.6449, 1);
    }
    for (size_t i = 1; i < hc->n; i++)
        if (hc->v[i].t - birth < DAYS(1096) && hc->v[i].v < hc->v[i - 1].v - RZ_HEAD_TEM_CM)
            rz_hit(c, RZ_CHILD_HEAD, hc->v[i].t, "head circumference %.1f then %.1f cm",
                   hc->v[i - 1].v, hc->v[i].v);
}

static int has_role_text(const rz_ctx *c, int role, const char *text)
{
    for (size_t i = 0; i < c->r->n_codes; i++)
        if (c->r->codes[i].role == role && c->r->codes[i].pattern &&
            rz_has_text(text, c->r->codes[i].pattern))
            return 1;
    return 0;
}

static void words(rz_ctx *c, const char *s)
{
    while (*s) {
        while (*s && !isalpha((unsigned char)*s))
            s++;
        uint64_t h = FG_FNV_SEED;
        size_t n = 0;
        for (; isalpha((unsigned char)*s); s++, n++) {
            char low = (char)tolower((unsigned char)*s);
            h = fg_fnv1a(h, &low, 1);
        }
        if (n && fg_hashset_add(&c->t->words, h) < 0)
            c->rc = FG_ENOMEM;
    }
}

/* A note's text without its digits (dates, ages, values), so that two notes
 * of one template with other figures count as one text. */
static uint64_t text_shape(const char *s)
{
    uint64_t h = FG_FNV_SEED;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            h = fg_fnv1a(h, s, 1);
    return h;
}

void rz_check_notes(rz_ctx *c)
{
    for (size_t i = 0; i < c->h->notes.n; i++) {
        const char *text = c->h->notes.v[i].text ? c->h->notes.v[i].text : "";
        int soap = has_role_text(c, RZ_R_NOTE_S, text) && has_role_text(c, RZ_R_NOTE_A, text) &&
                   has_role_text(c, RZ_R_NOTE_P, text);
        rz_metric(c, RZ_M_NOTE_SOAP, !soap, 1);
        rz_metric(c, RZ_M_NOTE_DISTINCT, 0, 1);
        words(c, text);
        if (fg_hashset_add(&c->t->texts, text_shape(text)) < 0)
            c->rc = FG_ENOMEM;
    }
}
