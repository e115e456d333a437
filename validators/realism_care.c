/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism_care.c: pregnancy, hospital and death, timing, and the vaccine
 * schedule in force at each date.
 */
#include <stdlib.h>
#include <string.h>

#include "validators/realism_private.h"

#define DAYS(n) ((fg_time)(n) * FG_DAY)

static fg_time year_start(int y)
{
    return fg_time_make(y, 1, 1, 0, 0, 0);
}

/* Weight gain of a delivered pregnancy against IOM 2009: a metric, since
 * only about a third of US pregnancies gain within the range. */
static void weight_gain(rz_ctx *c, const fg_condition *x, fg_time end)
{
    const rz_series *w = &c->s[RZ_R_WEIGHT], *b = &c->s[RZ_R_BMI];
    /* Before the pregnancy: the last weight of the year before onset, else
     * the first of the first 14 weeks. */
    long kp = rz_before(w, x->onset), kf = rz_before(w, end);
    if (kp < 0 || w->v[kp].t < x->onset - DAYS(365))
        kp = kp + 1 < (long)w->n && w->v[kp + 1].t <= x->onset + DAYS(98) ? kp + 1 : -1;
    if (kp < 0 || kf < 0 || w->v[kf].t < end - DAYS(28) || kf <= kp)
        return;
    long kb = rz_before(b, w->v[kp].t);
    if (kb < 0 || b->v[kb].t < w->v[kp].t - DAYS(1))
        return;
    double bmi = b->v[kb].v, gain = w->v[kf].v - w->v[kp].v;
    for (size_t i = 0; i < c->r->n_gwg; i++) {
        const rz_band *g = &c->r->gwg[i];
        if (bmi >= g->lo && bmi < g->hi)
            rz_metric(c, RZ_M_PREG_GAIN, gain >= g->gain_min && gain <= g->gain_max, 1);
    }
}

static int delivered(const rz_ctx *c, fg_time t0, fg_time t1)
{
    for (size_t i = 0; i < c->h->procedures.n; i++) {
        const fg_procedure *p = &c->h->procedures.v[i];
        if (p->start >= t0 && p->start <= t1 && (rz_roles(c->r, &p->term) & RZ_BIT(RZ_R_DELIVERY)))
            return 1;
    }
    return 0;
}

static int given(const rz_ctx *c, int role, fg_time t0, fg_time t1)
{
    for (size_t i = 0; i < c->h->immunizations.n; i++) {
        const fg_immunization *m = &c->h->immunizations.v[i];
        if (m->time >= t0 && m->time <= t1 && (rz_roles(c->r, &m->term) & RZ_BIT(role)))
            return 1;
    }
    return 0;
}

void rz_check_pregnancy(rz_ctx *c)
{
    const fg_history *h = c->h;
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *x = &h->conditions.v[i];
        if (!(c->cond_roles[i] & RZ_BIT(RZ_R_PREGNANCY)))
            continue;
        fg_time end = x->abatement != FG_TIME_NONE ? x->abatement : c->end;
        if (end - x->onset >= DAYS(27 * 7))
            rz_metric(c, RZ_M_PREG_TDAP, given(c, RZ_R_TDAP, x->onset, end + DAYS(2)), 1);
        if (delivered(c, x->onset, end + DAYS(7)))
            weight_gain(c, x, end);
    }
    for (size_t i = 0; i < h->procedures.n; i++) {
        const fg_procedure *p = &h->procedures.v[i];
        uint64_t m = rz_roles(c->r, &p->term);
        if ((m & RZ_BIT(RZ_R_CAESAREAN)) && !p->reason)
            rz_hit(c, RZ_PREG_CAESAREAN, p->start, "%.80s without a reason", p->term.display);
        if ((m & RZ_BIT(RZ_R_DELIVERY)) && (m & RZ_BIT(RZ_R_NOT_PROCEDURE)))
            rz_hit(c, RZ_PREG_DELIVERY_CODE, p->start, "delivery coded as %.80s", p->term.display);
    }
}

static int is_delivery_stay(const rz_ctx *c, const fg_encounter *e)
{
    for (size_t i = 0; i < c->h->procedures.n; i++) {
        const fg_procedure *p = &c->h->procedures.v[i];
        if (p->encounter && strcmp(p->encounter, e->id) == 0 &&
            (rz_roles(c->r, &p->term) & RZ_BIT(RZ_R_DELIVERY)))
            return 1;
    }
    return 0;
}

static void hospital(rz_ctx *c)
{
    const fg_history *h = c->h;
    double years = (double)(c->end - c->first) / (FG_DAY * FG_YEAR_DAYS);
    long ed = 0, adm = 0;
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        if (e->cls == FG_CLASS_EMER)
            ed++;
        if (e->cls != FG_CLASS_IMP)
            continue;
        adm++;
        int birth = is_delivery_stay(c, e);
        rz_admission(c, birth ? "delivery" : e->reason.display ? e->reason.display
                                                               : e->type.display);
        rz_metric(c, RZ_M_ADMIT_OTHER, !birth, 1);
    }
    rz_metric(c, RZ_M_ED_RATE, (double)ed, years > 0 ? years : 0);
    rz_metric(c, RZ_M_ADMIT_RATE, (double)adm, years > 0 ? years : 0);
}

static void death(rz_ctx *c)
{
    const fg_history *h = c->h;
    fg_time d = h->patient.death;
    if (d == FG_TIME_NONE)
        return;
    if ((!h->death_cause.code && !h->death_cause.display) ||
        (rz_roles(c->r, &h->death_cause) & RZ_BIT(RZ_R_UNKNOWN_CAUSE)))
        rz_hit(c, RZ_DEATH_NO_CAUSE, d, "death without a cause");
    if (rz_roles(c->r, &h->death_cause) & RZ_BIT(RZ_R_SUDDEN))
        return;
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        int care = e->cls == FG_CLASS_EMER || e->cls == FG_CLASS_IMP ||
                   ((rz_roles(c->r, &e->type) | rz_roles(c->r, &e->reason)) & RZ_BIT(RZ_R_HOSPICE));
        if (care && e->start >= d - DAYS(365) && e->start <= d)
            return;
    }
    for (size_t i = 0; i < h->careplans.n; i++) {
        const fg_careplan *p = &h->careplans.v[i];
        if ((rz_roles(c->r, &p->term) & RZ_BIT(RZ_R_HOSPICE)) && p->start <= d &&
            (p->end == FG_TIME_NONE || p->end >= d - DAYS(365)))
            return;
    }
    rz_hit(c, RZ_DEATH_NO_CARE, d, "death (%.60s) without ED, admission or hospice in the year",
           h->death_cause.display ? h->death_cause.display : "no cause");
}

static int cmp_day(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct shot {
    int64_t day;
    const char *encounter;
    fg_time time;
} shot;

static int cmp_shot(const void *a, const void *b)
{
    const shot *x = a, *y = b;
    if (x->day != y->day)
        return (x->day > y->day) - (x->day < y->day);
    return strcmp(x->encounter, y->encounter);
}

/* One hit per local day whose shots name more than one encounter. */
static void split_immunizations(rz_ctx *c)
{
    const fg_history *h = c->h;
    size_t n = 0;
    shot *v = malloc((h->immunizations.n + 1) * sizeof(*v));
    if (!v) {
        c->rc = FG_ENOMEM;
        return;
    }
    for (size_t i = 0; i < h->immunizations.n; i++)
        if (h->immunizations.v[i].encounter)
            v[n++] = (shot){rz_local_day(c, h->immunizations.v[i].time),
                            h->immunizations.v[i].encounter, h->immunizations.v[i].time};
    qsort(v, n, sizeof(*v), cmp_shot);
    for (size_t i = 1; i < n; i++)
        if (v[i].day == v[i - 1].day && strcmp(v[i].encounter, v[i - 1].encounter) != 0) {
            rz_hit(c, RZ_TIME_SPLIT_IMM, v[i].time, "vaccines of one day in several encounters");
            while (i + 1 < n && v[i + 1].day == v[i].day)
                i++;
        }
    free(v);
}

static void timing(rz_ctx *c)
{
    const fg_history *h = c->h;
    size_t n = 0;
    int64_t *days = malloc((h->encounters.n + 1) * sizeof(*days));
    if (!days) {
        c->rc = FG_ENOMEM;
        return;
    }
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        /* an encounter ending at the death is its pronouncement, at any hour */
        if (e->cls != FG_CLASS_AMB ||
            (h->patient.death != FG_TIME_NONE && e->end == h->patient.death))
            continue;
        int hour = rz_local_hour(c, e->start);
        if (hour < 7 || hour >= 19)
            rz_hit(c, RZ_TIME_OFF_HOURS, e->start, "%.60s at %02d h local", e->type.display, hour);
        days[n++] = rz_local_day(c, e->start);
    }
    qsort(days, n, sizeof(*days), cmp_day);
    for (size_t i = 1; i < n; i++)
        if (days[i] == days[i - 1] && (i < 2 || days[i - 2] != days[i]))
            rz_hit(c, RZ_TIME_SAME_DAY, (fg_time)(days[i] * FG_DAY), "two or more clinic visits");
    free(days);
    split_immunizations(c);
}

void rz_check_care(rz_ctx *c)
{
    hospital(c);
    death(c);
    timing(c);
}

static void hpv_series(rz_ctx *c)
{
    fg_time first = FG_TIME_NONE;
    int n = 0;
    for (size_t i = 0; i < c->h->immunizations.n; i++) {
        const fg_immunization *m = &c->h->immunizations.v[i];
        if (!(rz_roles(c->r, &m->term) & RZ_BIT(RZ_R_HPV)))
            continue;
        n++;
        if (first == FG_TIME_NONE || m->time < first)
            first = m->time;
    }
    if (n >= 3 && first >= year_start(2017) && rz_age(c, first) < 15)
        rz_hit(c, RZ_VAX_HPV3, first, "%d HPV doses, series started at %d", n, rz_age(c, first));
}

static int count_given(const rz_ctx *c, int role)
{
    int n = 0;
    for (size_t i = 0; i < c->h->immunizations.n; i++)
        n += (rz_roles(c->r, &c->h->immunizations.v[i].term) & RZ_BIT(role)) != 0;
    return n;
}

void rz_check_vaccines(rz_ctx *c)
{
    for (size_t i = 0; i < c->h->immunizations.n; i++) {
        const fg_immunization *m = &c->h->immunizations.v[i];
        uint64_t r = rz_roles(c->r, &m->term);
        if ((r & RZ_BIT(RZ_R_ZOSTER_LIVE)) && m->time >= year_start(2021))
            rz_hit(c, RZ_VAX_ZOSTER_LIVE, m->time, "live zoster vaccine");
        if ((r & RZ_BIT(RZ_R_HPV4)) && m->time >= year_start(2017))
            rz_hit(c, RZ_VAX_HPV4, m->time, "quadrivalent HPV vaccine");
    }
    hpv_series(c);
    int age = rz_age(c, c->end), alive = c->h->patient.death == FG_TIME_NONE;
    if (age >= 18 && c->end >= year_start(2022))
        rz_metric(c, RZ_M_COVID, count_given(c, RZ_R_COVID) > 0, 1);
    if (age >= 75 && c->end >= fg_time_make(2023, 7, 1, 0, 0, 0))
        rz_metric(c, RZ_M_RSV, count_given(c, RZ_R_RSV) > 0, 1);
    if (age >= 50 && c->end >= year_start(2019))
        rz_metric(c, RZ_M_ZOSTER_REC, count_given(c, RZ_R_ZOSTER_REC) > 0, 1);
    if (alive && age >= 2 && age <= 5) {
        rz_metric(c, RZ_M_CHILD_MMR, count_given(c, RZ_R_MMR) >= 1, 1);
        rz_metric(c, RZ_M_CHILD_DTAP, count_given(c, RZ_R_DTAP) >= 4, 1);
    }
}
