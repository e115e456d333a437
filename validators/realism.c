/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism.c: the realism rules' entry points, the tally, and the helpers
 * every rule file uses (role of a term, a hit with its example, a metric).
 */
#include "validators/fg_realism.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "validators/realism_private.h"

void fg_realism_free(fg_realism_rules *r)
{
    if (!r)
        return;
    for (int i = 0; i < 6; i++)
        fg_tsv_free(r->tabs[i]);
    free(r->codes);
    free(r->ings);
    free(r->classes);
    free(r->lms);
    free(r);
}

int fg_realism_load(const char *datadir, fg_realism_rules **out, fg_error *err)
{
    fg_realism_rules *r = calloc(1, sizeof(*r));
    if (!r)
        return fg_error_set(err, FG_ENOMEM, "realism rules", "out of memory");
    int rc = rz_load_tables(r, datadir, err);
    if (rc != FG_OK) {
        fg_realism_free(r);
        return rc;
    }
    *out = r;
    return FG_OK;
}

fg_realism_tally *fg_realism_tally_new(void)
{
    return calloc(1, sizeof(fg_realism_tally));
}

void fg_realism_tally_free(fg_realism_tally *t)
{
    if (!t)
        return;
    fg_hashset_free(&t->words);
    fg_hashset_free(&t->texts);
    free(t);
}

static void add_reason(fg_realism_tally *t, const char *reason, long n)
{
    size_t i = 0;
    while (i < t->n_reasons && strcmp(t->reasons[i], reason) != 0)
        i++;
    if (i == t->n_reasons) {
        if (t->n_reasons == RZ_MAX_REASONS) {
            i = RZ_MAX_REASONS - 1; /* the last line gathers the rest */
            reason = "(other reasons)";
        } else {
            t->n_reasons++;
        }
        snprintf(t->reasons[i], sizeof(t->reasons[i]), "%s", reason);
    }
    t->reason_n[i] += n;
}

/* Admissions by reason (hospital category), for the report. */
void rz_admission(rz_ctx *c, const char *reason)
{
    add_reason(c->t, reason && *reason ? reason : "(no reason)", 1);
}

int fg_realism_tally_merge(fg_realism_tally *dst, const fg_realism_tally *src)
{
    dst->patients += src->patients;
    for (int k = 0; k < RZ_N_RULES; k++) {
        rz_count *d = &dst->c[k];
        const rz_count *s = &src->c[k];
        d->patients += s->patients;
        d->occurrences += s->occurrences;
        d->num += s->num;
        d->den += s->den;
        for (int e = 0; e < s->n_examples && d->n_examples < FG_REALISM_EXAMPLES; e++)
            d->ex[d->n_examples++] = s->ex[e];
    }
    for (size_t i = 0; i < src->n_reasons; i++)
        add_reason(dst, src->reasons[i], src->reason_n[i]);
    for (size_t i = 0; i < src->words.cap; i++)
        if (src->words.v[i] && fg_hashset_add(&dst->words, src->words.v[i]) < 0)
            return FG_ENOMEM;
    for (size_t i = 0; i < src->texts.cap; i++)
        if (src->texts.v[i] && fg_hashset_add(&dst->texts, src->texts.v[i]) < 0)
            return FG_ENOMEM;
    return src->rc ? src->rc : FG_OK;
}

long fg_realism_patients(const fg_realism_tally *t)
{
    return t->patients;
}

int rz_has_text(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (!hay || !n)
        return 0;
    for (; *hay; hay++)
        if (tolower((unsigned char)*hay) == tolower((unsigned char)*needle) &&
            strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static int code_matches(const rz_code *x, const fg_term *t)
{
    if (x->code)
        return t->code && t->system && strcmp(x->code, t->code) == 0 &&
               strcmp(x->system, t->system) == 0;
    return rz_has_text(t->display, x->pattern);
}

uint64_t rz_roles(const fg_realism_rules *r, const fg_term *t)
{
    uint64_t m = 0;
    for (size_t i = 0; i < r->n_codes; i++)
        if (!(m & RZ_BIT(r->codes[i].role)) && code_matches(&r->codes[i], t))
            m |= RZ_BIT(r->codes[i].role);
    return m;
}

const rz_code *rz_code_of(const fg_realism_rules *r, int role, const fg_term *t)
{
    for (size_t i = 0; i < r->n_codes; i++)
        if (r->codes[i].role == role && code_matches(&r->codes[i], t))
            return &r->codes[i];
    return NULL;
}

void rz_hit(rz_ctx *c, int rule, fg_time when, const char *fmt, ...)
{
    rz_count *k = &c->t->c[rule];
    c->hits[rule]++;
    if (k->n_examples >= FG_REALISM_EXAMPLES || c->hits[rule] > 1)
        return;
    fg_realism_example *e = &k->ex[k->n_examples++];
    snprintf(e->patient, sizeof(e->patient), "%s", c->h->patient.id ? c->h->patient.id : "?");
    if (when == FG_TIME_NONE)
        snprintf(e->date, sizeof(e->date), "-");
    else
        fg_format_date(when, e->date);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->what, sizeof(e->what), fmt, ap);
    va_end(ap);
}

void rz_metric(rz_ctx *c, int rule, double num, double den)
{
    c->t->c[rule].num += num;
    c->t->c[rule].den += den;
}

int rz_age(const rz_ctx *c, fg_time t)
{
    return fg_age_at(c->h->patient.birth_date, t);
}

long rz_before(const rz_series *s, fg_time t)
{
    long lo = 0, hi = (long)s->n; /* first index with time > t */
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        if (s->v[mid].t <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

int rz_condition_at(const rz_ctx *c, int role, fg_time t)
{
    for (size_t i = 0; i < c->h->conditions.n; i++) {
        const fg_condition *x = &c->h->conditions.v[i];
        if ((c->cond_roles[i] & RZ_BIT(role)) && x->onset <= t &&
            (x->abatement == FG_TIME_NONE || t < x->abatement))
            return 1;
    }
    return 0;
}

fg_time rz_first_onset(const rz_ctx *c, int role)
{
    fg_time best = FG_TIME_NONE;
    for (size_t i = 0; i < c->h->conditions.n; i++)
        if ((c->cond_roles[i] & RZ_BIT(role)) &&
            (best == FG_TIME_NONE || c->h->conditions.v[i].onset < best))
            best = c->h->conditions.v[i].onset;
    return best;
}

int fg_realism_check(const fg_realism_rules *r, const fg_history *h, fg_realism_tally *t,
                     fg_error *err)
{
    if (!r || !h || !t)
        return fg_error_set(err, FG_EUSAGE, "realism", "rules, history and tally are needed");
    rz_ctx c = {.r = r, .h = h, .t = t};
    if (rz_index(&c) != FG_OK) {
        rz_index_free(&c);
        return fg_error_set(err, FG_ENOMEM, "realism", "out of memory");
    }
    rz_check_meds(&c);
    rz_check_pregnancy(&c);
    rz_check_labs(&c);
    rz_check_diagnoses(&c);
    rz_check_care(&c);
    rz_check_vaccines(&c);
    rz_check_prevention(&c);
    rz_check_children(&c);
    rz_check_notes(&c);
    t->patients++;
    for (int k = 0; k < RZ_FIRST_METRIC; k++)
        if (c.hits[k]) {
            t->c[k].patients++;
            t->c[k].occurrences += c.hits[k];
        }
    rz_index_free(&c);
    if (c.rc || t->rc)
        return fg_error_set(err, FG_ENOMEM, "realism", "out of memory");
    return FG_OK;
}
