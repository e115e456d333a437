/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_notes.c: the clinical notes of a patient (eng_notes), one per
 * encounter (two for an admission: the history and physical, then the
 * discharge summary; a death note when the patient died there).
 *
 * A note can only say what the record says. Ambulatory visits get a SOAP
 * note: chief complaint from the reason, history of present illness from the
 * episode (symptoms and how long, pertinent negatives that the record does
 * not contradict), review of systems, problem list, medications, allergies,
 * social history carried forward, vital signs and results as recorded, an
 * exam whose findings support the diagnoses, and an assessment and plan per
 * problem that says what changed (started, stopped with its reason,
 * continued) and when to come back (the next visit on record). Preventive
 * visits say what was screened, given and discussed. Which problems a visit
 * addresses, which drugs it starts or stops, and what kind of visit it is
 * are read from the history, so events other passes add show up without
 * this file knowing them.
 *
 * Speed: what notes look up again and again is computed once per patient
 * (engine_notes_index.c); text is built in fixed scratch buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "generators/engine/episodes_private.h"
#include "generators/engine/notes_private.h"

/* ---- what a visit addresses ---- */

static int same_code(const fg_term *a, const fg_term *b)
{
    return a->code && b->code && strcmp(a->code, b->code) == 0;
}

/* 1 when condition d is diagnosed at this visit: recorded here with an
 * onset at most a month before (a condition of long standing recorded here
 * is known, not new). */
static int new_here(const nt_ctx *c, const fg_condition *d)
{
    return NT_ENC(c, K_COND, conditions, d) == c->e &&
           (d->onset == FG_TIME_NONE || d->onset >= c->enc->start - 30 * FG_DAY);
}

/* The conditions on record at time t (diagnosed before, or at this visit). */
static int on_record(const nt_ctx *c, const fg_condition *d, fg_time t)
{
    if (NT_ENC(c, K_COND, conditions, d) == c->e)
        return 1;
    return d->onset != FG_TIME_NONE && d->onset <= t &&
           (d->abatement == FG_TIME_NONE || d->abatement > t);
}

/* 1 when condition d is addressed at this visit: diagnosed here, the
 * reason of the visit, or a drug for it started or stopped here. */
static int addressed(const nt_ctx *c, const fg_condition *d)
{
    if (NT_ENC(c, K_COND, conditions, d) == c->e)
        return 1;
    if (!on_record(c, d, c->enc->start))
        return 0;
    if (same_code(&c->enc->reason, &d->term))
        return 1;
    NT_EACH(c, K_MED, i) {
        if (c->h->medications.v[i].reason && d->id &&
            strcmp(c->h->medications.v[i].reason, d->id) == 0)
            return 1;
    }
    return 0;
}

/* 1 when phrase p (lower case, as the data writes phrases) may be said as a
 * negative: it names no condition of the record, no symptom of an active
 * problem, and no fever that was measured. */
static int may_deny(const nt_ctx *c, const char *p, int febrile)
{
    const fg_history *h = c->h;
    size_t plen = strlen(p);
    for (size_t i = 0; febrile && i < c->n->fever_words.n; i++)
        if (strstr(p, c->n->fever_words.v[i]))
            return 0;
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *d = &h->conditions.v[i];
        if (d->onset != FG_TIME_NONE && d->onset > c->enc->end)
            continue;
        const char *name = c->x->cond_name[i];
        size_t len = c->x->cond_len[i];
        if (len >= 4 && ((len <= plen && strstr(p, name)) || (plen <= len && strstr(name, p))))
            return 0;
        const nt_clin *k = c->x->cond_clin[i];
        if (!k || !k->symptoms.n || !on_record(c, d, c->enc->start))
            continue;
        for (size_t s = 0; s < k->symptoms.n; s++)
            if (strstr(k->symptoms.v[s], p) || strstr(p, k->symptoms.v[s]))
                return 0;
    }
    return 1;
}

/* The recorded body temperature of the visit that is a fever, or NULL. */
const fg_observation *nt_fever_of(const nt_ctx *c)
{
    NT_EACH(c, K_OBS, i) {
        const fg_observation *o = &c->h->observations.v[i];
        const char *s = nt_lab_name(c->n, &o->term);
        if (s && strcmp(s, "T") == 0 && o->kind == FG_VALUE_QUANTITY && o->unit &&
            strcmp(o->unit, "Cel") == 0 && o->value >= c->n->fever_celsius)
            return o;
    }
    return NULL;
}

void nt_reason(nt_ctx *c, nt_buf *b)
{
    const fg_encounter *enc = c->enc;
    const nt_clin *k = nt_clin_of(c->n, &enc->reason);
    if (k && k->symptoms.n && k->kind != NK_CHRONIC) {
        nt_puts(b, k->symptoms.v[0]);
    } else if (enc->reason.display) {
        int is_new = enc->cls != FG_CLASS_AMB && enc->cls != FG_CLASS_VR;
        NT_EACH(c, K_COND, i) {
            is_new |= same_code(&c->h->conditions.v[i].term, &enc->reason);
        }
        nt_clear(c->tmp);
        nt_condition(c->tmp, c->n, &enc->reason);
        c->value = c->tmp->p;
        nt_say_to(c, b, is_new ? S_cc_new : S_cc_followup);
        c->value = NULL;
    } else {
        nt_say_to(c, b, S_cc_none);
    }
}

void nt_diagnoses(nt_ctx *c)
{
    NT_EACH(c, K_COND, i) {
        nt_list_sep(c->list, "; ");
        nt_cond(c, c->list, &c->h->conditions.v[i]);
    }
}

/* ---- the subjective part ---- */

static void hpi_episode(nt_ctx *c, int febrile_here)
{
    const fg_history *h = c->h;
    nt_buf *l = c->list;
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *d = &h->conditions.v[i];
        const nt_clin *k = NT_CLIN(c, d);
        if (!k || k->kind == NK_CHRONIC || !k->symptoms.n || !addressed(c, d))
            continue;
        nt_clear(l);
        for (size_t s = 0; s < k->symptoms.n; s++) {
            if (s)
                nt_puts(l, s + 1 == k->symptoms.n ? " and " : ", ");
            nt_puts(l, k->symptoms.v[s]);
        }
        char when[32];
        nt_buf w = {when, 0, sizeof(when)};
        int days = (int)fg_rng_range(&c->rng, k->days[0], k->days[1] > k->days[0] ? k->days[1]
                                                                                : k->days[0]);
        if (days <= 0) {
            nt_puts(&w, "earlier today");
        } else {
            nt_int(&w, days);
            nt_puts(&w, days == 1 ? " day" : " days");
        }
        nt_clear(c->tmp);
        nt_put(c->tmp, l->p, l->len);
        nt_clear(l);
        c->value = c->tmp->p;
        c->when = when;
        nt_say(c, days <= 0 ? S_hpi_symptoms_today : S_hpi_symptoms, 1);
        c->value = c->when = NULL;
        break;
    }
    if (febrile_here) {
        char t[32];
        nt_buf tb = {t, 0, sizeof(t)};
        nt_observation(&tb, c->n, nt_fever_of(c));
        c->value = t;
        nt_say(c, S_hpi_fever, 1);
        c->value = NULL;
    }
}

/* The negatives of the conditions addressed, then general ones; only what
 * may be denied. Into c->list, ", "-separated, at most `max`. */
static void negatives(nt_ctx *c, int febrile, size_t max, int general)
{
    const fg_history *h = c->h;
    size_t n = 0;
    for (size_t i = 0; i < h->conditions.n && n < max; i++) {
        const fg_condition *d = &h->conditions.v[i];
        const nt_clin *k = NT_CLIN(c, d);
        if (!k || !addressed(c, d))
            continue;
        for (size_t s = 0; s < k->negatives.n && n < max; s++)
            if (may_deny(c, k->negatives.v[s], febrile) && !strstr(c->list->p, k->negatives.v[s])) {
                nt_list_sep(c->list, ", ");
                nt_puts(c->list, k->negatives.v[s]);
                n++;
            }
    }
    if (!general)
        return;
    size_t first = (size_t)fg_rng_range(&c->rng, 0, (int64_t)c->n->ros.n - 1);
    for (size_t j = 0; j < c->n->ros.n && n < max; j++) {
        const char *p = c->n->ros.v[(first + j) % c->n->ros.n];
        if (may_deny(c, p, febrile) && !strstr(c->list->p, p)) {
            nt_list_sep(c->list, ", ");
            nt_puts(c->list, p);
            n++;
        }
    }
}

/* "HTN since 2019, on lisinopril 10 mg tablet daily." for problems followed
 * up at this visit and diagnosed before it. */
static void hpi_chronic(nt_ctx *c)
{
    const fg_history *h = c->h;
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *d = &h->conditions.v[i];
        if (d->category != FG_COND_PROBLEM || !addressed(c, d) || new_here(c, d))
            continue;
        nt_clear(c->list);
        for (size_t m = 0; m < h->medications.n; m++) {
            const fg_medication *x = &h->medications.v[m];
            if (x->reason && d->id && strcmp(x->reason, d->id) == 0 && x->start < c->enc->start &&
                (x->end == FG_TIME_NONE || x->end > c->enc->start)) {
                nt_list_sep(c->list, ", ");
                nt_med_of(c, c->list, x);
            }
        }
        char meds[1024];
        nt_buf mb = {meds, 0, sizeof(meds)};
        if (c->list->len) {
            nt_say_to(c, &mb, S_on_meds);
        } else {
            nt_say_to(c, &mb, S_no_meds);
        }
        nt_clear(c->list);
        nt_puts(c->list, meds);
        char since[32];
        nt_buf sb = {since, 0, sizeof(since)};
        nt_span(&sb, c->n, d->onset, c->enc->start);
        nt_clear(c->tmp);
        nt_cond(c, c->tmp, d);
        c->value = c->tmp->p;
        c->when = since;
        nt_say(c, S_hpi_chronic, 1);
        c->value = c->when = NULL;
        nt_clear(c->list);
    }
}

void nt_subjective(nt_ctx *c, int febrile)
{
    const fg_history *h = c->h;
    fg_time t = c->enc->start;
    nt_clear(c->tmp);
    char reason[256];
    nt_buf rb = {reason, 0, sizeof(reason)};
    nt_reason(c, &rb);
    c->value = reason;
    nt_say(c, S_cc, 0);
    /* HPI opening with the abbreviated problem list. */
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *d = &h->conditions.v[i];
        if (d->category == FG_COND_PROBLEM && d->onset < t &&
            (d->abatement == FG_TIME_NONE || d->abatement > t) && !new_here(c, d)) {
            nt_list_sep(c->list, ", ");
            nt_cond(c, c->list, d);
        }
    }
    c->value = reason;
    nt_say(c, c->list->len ? S_hpi_open : S_hpi_open_none, 0);
    c->value = NULL;
    nt_clear(c->list);
    hpi_episode(c, febrile);
    hpi_chronic(c);
    NT_EACH(c, K_COND, i) {
        nt_clear(c->tmp);
        nt_cond(c, c->tmp, &h->conditions.v[i]);
        c->value = c->tmp->p;
        const nt_clin *k = NT_CLIN(c, &h->conditions.v[i]);
        if ((!k || k->kind == NK_CHRONIC) && new_here(c, &h->conditions.v[i]))
            nt_say(c, S_hpi_new, 1);
        c->value = NULL;
    }
    negatives(c, febrile, 3, 0);
    nt_say_list(c, S_hpi_negatives, -1);
    int r = c->x->rank[c->e];
    if (r > 0) {
        const fg_encounter *prev = &h->encounters.v[c->x->order[r - 1]];
        char when[32];
        nt_buf wb = {when, 0, sizeof(when)};
        nt_span(&wb, c->n, prev->start, t);
        c->when = when;
        if (prev->start < t - FG_DAY)
            nt_say(c, S_hpi_last_seen, 1);
        c->when = NULL;
    }
    negatives(c, febrile, 5, 1);
    nt_say_list(c, S_ros, -1);
}

/* ---- assessment and plan ---- */

/* Why medication m, stopped at this visit, was stopped: the key of
 * vocabulary.json stop_reasons (NULL: not known). When the order gives no
 * reason here, so it is read from what the record shows: another drug for
 * the same problem started here, or a condition of stop_contexts on record
 * at the time (*held: the drug is held, not stopped for good). */
static const char *stop_key(const nt_ctx *c, const fg_medication *m, int *held)
{
    const fg_history *h = c->h;
    *held = 0;
    NT_EACH(c, K_MED, i) {
        const fg_medication *x = &h->medications.v[i];
        if (m->reason && x->reason && strcmp(m->reason, x->reason) == 0)
            return "switched";
    }
    for (size_t k = 0; k < c->n->n_stop_ctx; k++)
        for (size_t i = 0; i < h->conditions.n; i++) {
            const fg_condition *d = &h->conditions.v[i];
            if (d->term.code && strcmp(d->term.code, c->n->stop_ctx[k].condition) == 0 &&
                d->onset <= m->end && (d->abatement == FG_TIME_NONE || d->abatement > m->end)) {
                *held = c->n->stop_ctx[k].held;
                return c->n->stop_ctx[k].reason;
            }
        }
    return NULL;
}

/* Words for why m stopped: the record's own reason (a key of stop_reasons,
 * else its words as they stand), else what stop_key reads from the record. */
static const char *stop_words(const nt_ctx *c, const fg_medication *m, int *held)
{
    const char *key = stop_key(c, m, held);
    if (!m->status_reason)
        return nt_stop_reason(c->n, key);
    const char *w = nt_stop_reason(c->n, m->status_reason);
    return w && *w ? w : m->status_reason;
}

/* Medications of this visit's plan for condition id (NULL: those linked to
 * no condition): started here, stopped at this visit (with why), continued. */
static void plan_meds(nt_ctx *c, const char *cond, int *any)
{
    const fg_history *h = c->h;
    const fg_encounter *enc = c->enc;
    for (size_t i = 0; i < h->medications.n; i++) {
        const fg_medication *m = &h->medications.v[i];
        int linked = cond ? m->reason && strcmp(m->reason, cond) == 0 : m->reason == NULL;
        if (!linked)
            continue;
        int here = NT_ENC(c, K_MED, medications, m) == c->e;
        int stopped = !here && m->end != FG_TIME_NONE && m->end >= enc->start &&
                      m->end <= enc->end + FG_DAY / 2 && m->status == FG_MED_STOPPED;
        int continued = !here && cond && m->start < enc->start &&
                        (m->end == FG_TIME_NONE || m->end > enc->end + FG_DAY / 2);
        int held = 0;
        if (!here && !stopped && !continued)
            continue;
        nt_clear(c->tmp);
        nt_med_of(c, c->tmp, m);
        const char *why = stopped ? stop_words(c, m, &held) : NULL;
        if (why && *why) {
            nt_puts(c->tmp, ", ");
            nt_puts(c->tmp, why);
        }
        c->value = c->tmp->p;
        nt_puts(c->out, *any ? "; " : " ");
        nt_say_to(c, c->out, here ? S_started : held ? S_held : stopped ? S_stopped : S_continue);
        c->value = NULL;
        *any = 1;
    }
}

/* "1. HTN (since 2019): ..." */
static void ap_item(nt_ctx *c, const fg_condition *d, int item)
{
    nt_put(c->out, "\n", 1);
    nt_int(c->out, item);
    nt_put(c->out, ". ", 2);
    size_t start = c->out->len;
    nt_clear(c->tmp);
    nt_cond(c, c->tmp, d);
    if (new_here(c, d) || d->onset >= c->enc->start - FG_DAY) {
        nt_put(c->out, c->tmp->p, c->tmp->len);
        nt_puts(c->out, ", ");
        nt_say_to(c, c->out, S_new_dx);
    } else {
        char y[11];
        fg_format_date(d->onset, y);
        y[4] = 0;
        c->value = c->tmp->p;
        c->when = y;
        nt_say_to(c, c->out, S_ap_item_since);
        c->value = c->when = NULL;
    }
    if (c->out->len > start && c->out->p[start] >= 'a' && c->out->p[start] <= 'z')
        c->out->p[start] = (char)(c->out->p[start] - 'a' + 'A');
    nt_put(c->out, ":", 1);
    int any = 0;
    plan_meds(c, d->id, &any);
    const nt_clin *k = NT_CLIN(c, d);
    if (k && k->plan) {
        nt_puts(c->out, any ? "; " : " ");
        nt_puts(c->out, k->plan);
        any = 1;
    }
    if (!any) {
        nt_put(c->out, " ", 1);
        nt_say_to(c, c->out, S_no_change);
    }
    nt_put(c->out, ".", 1);
}

void nt_assessment_plan(nt_ctx *c, int heading)
{
    const fg_history *h = c->h;
    int item = 0;
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *d = &h->conditions.v[i];
        if (!addressed(c, d))
            continue;
        if (!item && heading)
            nt_say(c, S_ap, 0);
        ap_item(c, d, ++item);
    }
    int any = 0;
    size_t mark = c->out->len;
    if (!item && heading)
        nt_say(c, S_ap, 0);
    nt_put(c->out, "\n", 1);
    nt_int(c->out, ++item);
    nt_puts(c->out, ". Other:");
    plan_meds(c, NULL, &any);
    if (any)
        nt_put(c->out, ".", 1);
    else {
        c->out->len = mark;
        c->out->p[mark] = 0;
    }
}

/* Vaccines, procedures and allergies recorded at this visit, other
 * problems, and the next visit on record. */
void nt_plan_tail(nt_ctx *c)
{
    const fg_history *h = c->h;
    int inpatient = c->enc->cls == FG_CLASS_IMP;
    NT_EACH(c, K_IMM, i) {
        nt_list_sep(c->list, ", ");
        nt_term(c->list, &h->immunizations.v[i].term, 0);
    }
    if (inpatient)
        nt_clear(c->list);
    nt_say_list(c, S_given_vaccines, -1);
    NT_EACH(c, K_PROC, i) {
        nt_list_sep(c->list, ", ");
        nt_term(c->list, &h->procedures.v[i].term, 1);
    }
    /* A discharge summary names them in the hospital course. */
    if (inpatient)
        nt_clear(c->list);
    nt_say_list(c, S_procedures, -1);
    NT_EACH(c, K_ALLERGY, i) {
        const fg_allergy *a = &h->allergies.v[i];
        nt_list_sep(c->list, ", ");
        nt_term(c->list, &a->term, 1);
        if (a->reaction.display) {
            nt_put(c->list, " (", 2);
            nt_term(c->list, &a->reaction, 1);
            if (a->severity >= 0 && a->severity <= 2) {
                nt_put(c->list, ", ", 2);
                nt_puts(c->list, c->n->severity[a->severity]);
            }
            nt_put(c->list, ")", 1);
        }
        if (a->high_criticality) {
            nt_put(c->list, ", ", 2);
            nt_puts(c->list, c->n->high_crit);
        }
    }
    nt_say_list(c, S_allergy_new, -1);
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *d = &h->conditions.v[i];
        if (d->category == FG_COND_PROBLEM && !addressed(c, d) && on_record(c, d, c->enc->start)) {
            nt_list_sep(c->list, ", ");
            nt_cond(c, c->list, d);
        }
    }
    nt_say_list(c, S_other_problems, -1);
    int r = c->x->rank[c->e];
    if (c->enc->cls == FG_CLASS_EMER)
        return; /* the disposition says where the patient goes */
    if ((size_t)r + 1 < c->x->n_enc) {
        const fg_encounter *next = &h->encounters.v[c->x->order[r + 1]];
        char when[32];
        nt_buf wb = {when, 0, sizeof(when)};
        nt_span(&wb, c->n, c->enc->start, next->start);
        c->when = when;
        fg_time gap = next->start - c->enc->start;
        nt_say(c, gap > FG_DAY && gap <= c->n->followup_max_days * FG_DAY ? S_followup
                                                                           : S_followup_none,
               0);
        c->when = NULL;
    } else {
        nt_say(c, S_followup_none, 0);
    }
}

/* ---- the kinds of ambulatory note ---- */

int nt_kind_of_visit(const nt_ctx *c)
{
    NT_EACH(c, K_COND, i) {
        const nt_clin *k = NT_CLIN(c, &c->h->conditions.v[i]);
        if (k)
            return k->kind;
    }
    const nt_clin *k = nt_clin_of(c->n, &c->enc->reason);
    return k ? k->kind : NK_CHRONIC;
}

static int is_wellness(const nt_ctx *c)
{
    for (size_t i = 0; c->enc->type.code && i < c->n->wellness_types.n; i++)
        if (strcmp(c->enc->type.code, c->n->wellness_types.v[i]) == 0)
            return 1;
    return 0;
}

void nt_history_exam(nt_ctx *c, int kind)
{
    nt_subjective(c, nt_fever_of(c) != NULL);
    nt_pmh(c, c->enc->start);
    nt_meds_before(c, c->enc->start);
    nt_allergies(c, c->enc->start);
    nt_social(c);
    nt_vitals(c);
    nt_exam(c, kind);
    nt_labs(c);
}

static void note_soap(nt_ctx *c)
{
    nt_history_exam(c, nt_kind_of_visit(c));
    nt_say(c, S_ap, 0);
    nt_assessment_plan(c, 0);
    nt_plan_tail(c);
}

static void note_wellness(nt_ctx *c)
{
    const fg_history *h = c->h;
    int age = fg_age_at(h->patient.birth_date, c->enc->start);
    int child = age < c->n->adult_age;
    nt_say(c, child ? S_wellness_open_child : S_wellness_open, 0);
    int r = c->x->rank[c->e];
    const fg_encounter *prev = NULL;
    for (int k = r - 1; k >= 0 && !prev; k--)
        if (same_code(&h->encounters.v[c->x->order[k]].type, &c->enc->type))
            prev = &h->encounters.v[c->x->order[k]];
    if (prev) {
        char when[32];
        nt_buf wb = {when, 0, sizeof(when)};
        nt_span(&wb, c->n, prev->start, c->enc->start);
        c->when = when;
        nt_say(c, S_wellness_interval, 1);
        c->when = NULL;
    } else {
        nt_say(c, S_wellness_interval_first, 1);
    }
    nt_pmh(c, c->enc->start);
    nt_meds_before(c, c->enc->start);
    nt_allergies(c, c->enc->start);
    nt_social(c);
    nt_vitals(c);
    nt_exam(c, NK_WELLNESS);
    nt_labs(c);
    nt_say(c, S_ap, 0);
    nt_say(c, child ? S_wellness_assess_child : S_wellness_assess, 1);
    NT_EACH(c, K_OBS, i) {
        const fg_observation *o = &h->observations.v[i];
        if (o->category == FG_OBS_SURVEY) {
            nt_list_sep(c->list, ", ");
            nt_observation(c->list, c->n, o);
        }
    }
    nt_say_list(c, S_screening, -1);
    for (size_t i = 0; i < c->n->n_counsel; i++) {
        const nt_counsel *k = &c->n->counsel[i];
        if (age < k->age[0] || age > k->age[1] || !k->phrases.n)
            continue;
        size_t first = (size_t)fg_rng_range(&c->rng, 0, (int64_t)k->phrases.n - 1);
        for (size_t j = 0; j < 3 && j < k->phrases.n; j++) {
            nt_list_sep(c->list, ", ");
            nt_puts(c->list, k->phrases.v[(first + j) % k->phrases.n]);
        }
        break;
    }
    nt_say_list(c, S_counsel, -1);
    nt_assessment_plan(c, 0);
    nt_plan_tail(c);
}

/* ---- driver ---- */

static int add_note(eng_gen *g, const nt_ctx *c, int type, fg_time t, fg_error *err)
{
    fg_history *h = g->h;
    const char *text = fg_arena_strndup(&h->arena, c->out->p, c->out->len);
    const char *enc_id = c->enc->id;
    fg_note *note = FG_PUSH(h, notes);
    if (!text || !note)
        return fg_error_set(err, FG_ENOMEM, "engine.notes", "out of memory");
    note->id = eng_new_id(g);
    note->encounter = enc_id;
    note->type = c->n->types[type];
    note->time = t;
    note->text = text;
    if (!note->id)
        return fg_error_set(err, FG_ENOMEM, "engine.notes", "out of memory");
    return FG_OK;
}

/* The notes of encounter c->enc. The encounter pointer is re-read after
 * each push (the history's lists may move). */
static int notes_of(eng_gen *g, nt_ctx *c, fg_error *err)
{
    const fg_encounter *enc = c->enc;
    fg_time end = enc->end > enc->start ? enc->end : enc->start;
    int rc;
    nt_clear(c->out);
    nt_clear(c->list);
    if (enc->cls == FG_CLASS_IMP) {
        nt_note_hp(c);
        if ((rc = add_note(g, c, NT_HP, enc->start, err)))
            return rc;
        c->enc = &g->h->encounters.v[c->e];
        nt_clear(c->out);
        nt_note_discharge(c);
        if ((rc = add_note(g, c, NT_IMP, end, err)))
            return rc;
    } else {
        if (enc->cls == FG_CLASS_EMER)
            nt_note_ed(c);
        else if (is_wellness(c))
            note_wellness(c);
        else
            note_soap(c);
        if ((rc = add_note(g, c, enc->cls == FG_CLASS_EMER ? NT_EMER
                                  : enc->cls == FG_CLASS_VR ? NT_VR
                                                            : NT_AMB,
                           end, err)))
            return rc;
    }
    c->enc = &g->h->encounters.v[c->e];
    if (nt_died_here(c)) {
        nt_clear(c->out);
        nt_note_death(c);
        return add_note(g, c, NT_DEATH, g->h->patient.death, err);
    }
    return FG_OK;
}

int eng_notes(eng_gen *g, fg_error *err)
{
    const struct eng_episodes *ep = g->e->episodes;
    fg_history *h = g->h;
    nt_idx ix;
    nt_buf out = {0}, list = {0}, tmp = {0}, carry = {0};
    fg_term smoking;
    int have_smoking, rc = FG_OK;

    memset(&ix, 0, sizeof(ix));
    if (!ep || !ep->notes || h->encounters.n == 0)
        return FG_OK;
    have_smoking = eng_vocab_term(g->e, "social.smoking_status", &smoking, NULL, NULL) == FG_OK;
    out.cap = list.cap = tmp.cap = FG_MAX_NOTE_BYTES;
    carry.cap = 1024;
    out.p = malloc(out.cap);
    list.p = malloc(list.cap);
    tmp.p = malloc(tmp.cap);
    carry.p = malloc(carry.cap);
    if (!out.p || !list.p || !tmp.p || !carry.p ||
        nt_idx_build(&ix, ep->notes, h, have_smoking ? &smoking : NULL)) {
        rc = fg_error_set(err, FG_ENOMEM, "engine.notes", "out of memory");
        goto cleanup;
    }
    nt_clear(&list);
    nt_clear(&tmp);
    nt_clear(&carry);
    nt_ctx c = {ep->notes, h, &ix, NULL, 0, fg_rng_fork(&g->rng, "notes"), &out, &list, &tmp,
                NULL, NULL, &carry, NULL, have_smoking ? &smoking : NULL};
    size_t n_enc = h->encounters.n;
    for (size_t r = 0; r < n_enc && rc == FG_OK; r++) {
        c.e = ix.order[r];
        c.enc = &h->encounters.v[c.e];
        rc = notes_of(g, &c, err);
    }
cleanup:
    nt_idx_free(&ix);
    free(out.p);
    free(list.p);
    free(tmp.p);
    free(carry.p);
    return rc;
}

int fg_engine_notes(const fg_engine *e, fg_history *h, uint64_t seed, fg_error *err)
{
    eng_gen g;
    memset(&g, 0, sizeof(g));
    g.e = e;
    g.h = h;
    fg_rng_seed(&g.rng, seed);
    g.id_rng = fg_rng_fork(&g.rng, "ids");
    return eng_notes(&g, err);
}
