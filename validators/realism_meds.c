/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism_meds.c: is the medication list reconciled? Two orders are active
 * together when their spans overlap; an order without an end is active
 * until the record ends or the patient dies. Classes come from the
 * ingredient names in the display (drug_classes.tsv).
 */
#include <string.h>

#include "validators/realism_private.h"

#define RENEW_AFTER (456 * FG_DAY) /* 15 months */

static int has(const rz_med *x, int cls)
{
    for (int k = 0; cls >= 0 && k < x->n_cls; k++)
        if (x->cls[k] == cls)
            return 1;
    return 0;
}

static int overlap(fg_time a0, fg_time a1, fg_time b0, fg_time b1)
{
    return a0 < b1 && b0 < a1;
}

/* The class a and b share, or -1. */
static int shared_class(const rz_med *a, const rz_med *b)
{
    for (int k = 0; k < a->n_cls; k++)
        if (has(b, a->cls[k]))
            return a->cls[k];
    return -1;
}

static int same_drug(const rz_med *a, const rz_med *b)
{
    return a->ing && b->ing && strcmp(a->ing, b->ing) == 0;
}

static void check_pair(rz_ctx *c, const rz_med *a, const rz_med *b)
{
    const fg_realism_rules *r = c->r;
    fg_time when = a->start > b->start ? a->start : b->start;
    const char *da = a->m->term.display, *db = b->m->term.display;
    int a_arni = has(a, r->cls_arni), b_arni = has(b, r->cls_arni);
    if ((has(a, r->cls_ace) && has(b, r->cls_arb) && !b_arni) ||
        (has(b, r->cls_ace) && has(a, r->cls_arb) && !a_arni))
        rz_hit(c, RZ_MED_ACE_ARB, when, "%.70s with %.70s", da, db);
    if ((a_arni && has(b, r->cls_ace)) || (b_arni && has(a, r->cls_ace)))
        rz_hit(c, RZ_MED_ARNI_ACE, when, "%.70s with %.70s", da, db);
    int cls = shared_class(a, b);
    if (cls < 0 || ((a->flags | b->flags) & RZ_F_CLASS_MULTI_OK))
        return;
    if (same_drug(a, b) && strcmp(a->m->term.code ? a->m->term.code : "",
                                  b->m->term.code ? b->m->term.code : "") != 0 &&
        (a->flags & RZ_F_STRENGTHS_OK))
        return;
    rz_hit(c, RZ_MED_SAME_CLASS, when, "%s: %.60s with %.60s", r->classes[cls], da, db);
}

/* A condition of the role known between t0 and t1: from its diagnosis (the
 * recorded date, when the record gives one after the onset: a prescriber
 * cannot avoid a drug for a disease not yet found) to its abatement. */
static int condition_during(const rz_ctx *c, int role, fg_time t0, fg_time t1)
{
    for (size_t i = 0; i < c->h->conditions.n; i++) {
        const fg_condition *x = &c->h->conditions.v[i];
        fg_time end = x->abatement != FG_TIME_NONE ? x->abatement : c->end + 1;
        fg_time known = x->recorded != FG_TIME_NONE && x->recorded > x->onset ? x->recorded
                                                                              : x->onset;
        if ((c->cond_roles[i] & RZ_BIT(role)) && overlap(known, end, t0, t1))
            return 1;
    }
    return 0;
}

static void check_metformin(rz_ctx *c, const rz_med *x)
{
    const rz_series *s = &c->s[RZ_R_EGFR];
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].t >= x->start && s->v[i].t < x->end && s->v[i].v < 30) {
            rz_hit(c, RZ_MED_METFORMIN, s->v[i].t, "%.80s with eGFR %.0f", x->m->term.display,
                   s->v[i].v);
            return;
        }
}

static int renewed(const rz_ctx *c, const rz_med *x)
{
    for (size_t j = 0; j < c->n_meds; j++) {
        const rz_med *y = &c->meds[j];
        if (y != x && y->start > x->start &&
            (same_drug(x, y) || (x->m->term.code && y->m->term.code &&
                                 strcmp(x->m->term.code, y->m->term.code) == 0)))
            return 1;
    }
    return 0;
}

static void check_one(rz_ctx *c, const rz_med *x)
{
    const fg_realism_rules *r = c->r;
    const char *d = x->m->term.display;
    if (has(x, r->cls_nsaid) && (condition_during(c, RZ_R_CKD, x->start, x->end) ||
                                 condition_during(c, RZ_R_HF, x->start, x->end)))
        rz_hit(c, RZ_MED_NSAID, x->start, "%.80s with CKD or heart failure", d);
    if (has(x, r->cls_biguanide))
        check_metformin(c, x);
    uint64_t form = rz_roles(r, &x->m->term);
    if ((form & RZ_BIT(RZ_R_FORM_SOLID)) && !(form & RZ_BIT(RZ_R_FORM_CHILD_OK)) &&
        rz_age(c, x->start) < 6)
        rz_hit(c, RZ_MED_SOLID_CHILD, x->start, "%.80s at age %d", d, rz_age(c, x->start));
    if (x->m->end == FG_TIME_NONE && c->end - x->start > RENEW_AFTER && !renewed(c, x))
        rz_hit(c, RZ_MED_NEVER_ENDS, x->start, "%.80s active %.0f months, never renewed", d,
               (double)(c->end - x->start) / (FG_DAY * 30.44));
    if ((x->flags & RZ_F_TERATOGEN) && condition_during(c, RZ_R_PREGNANCY, x->start, x->end))
        rz_hit(c, RZ_MED_TERATOGEN, x->start, "%.80s during a pregnancy", d);
}

void rz_check_meds(rz_ctx *c)
{
    for (size_t i = 0; i < c->n_meds; i++) {
        const rz_med *a = &c->meds[i];
        check_one(c, a);
        if (!a->n_cls)
            continue;
        for (size_t j = i + 1; j < c->n_meds; j++) {
            const rz_med *b = &c->meds[j];
            if (b->n_cls && overlap(a->start, a->end, b->start, b->end))
                check_pair(c, a, b);
        }
    }
}
