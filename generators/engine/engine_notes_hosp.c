/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_notes_hosp.c: notes of emergency visits, admissions (history and
 * physical at the start, discharge summary at the end) and deaths, written
 * for the encounter classes EMER and IMP of the history whatever pass made
 * them: the reason, diagnoses, procedures, drugs started and results of the
 * encounter say what happened; the next encounter says whether an emergency
 * visit led to an admission; the patient's death time says whether the
 * patient died there.
 */
#include <stdint.h>
#include <string.h>

#include "generators/engine/notes_private.h"

/* The reason for the encounter, else its first diagnosis, else its type. */
static void chief(nt_ctx *c, nt_buf *b)
{
    if (c->enc->reason.display) {
        nt_condition(b, c->n, &c->enc->reason);
        return;
    }
    NT_EACH(c, K_COND, i) {
        nt_cond(c, b, &c->h->conditions.v[i]);
        return;
    }
    nt_term(b, &c->enc->type, 1);
}

/* Procedures done and drugs started during the encounter, into c->list. */
static void course(nt_ctx *c)
{
    const fg_history *h = c->h;
    NT_EACH(c, K_PROC, i) {
        nt_list_sep(c->list, ", ");
        nt_term(c->list, &h->procedures.v[i].term, 1);
    }
    NT_EACH(c, K_MED, i) {
        nt_list_sep(c->list, ", ");
        nt_puts(c->list, "started ");
        nt_med_of(c, c->list, &h->medications.v[i]);
    }
    NT_EACH(c, K_IMM, i) {
        nt_list_sep(c->list, ", ");
        nt_term(c->list, &h->immunizations.v[i].term, 0);
        nt_puts(c->list, " given");
    }
}

/* 1 when an inpatient stay starts within 12 hours of this encounter's end. */
static int admitted_after(const nt_ctx *c)
{
    int r = c->x->rank[c->e];
    for (size_t k = (size_t)r + 1; k < c->x->n_enc; k++) {
        const fg_encounter *next = &c->h->encounters.v[c->x->order[k]];
        if (next->start > c->enc->end + FG_DAY / 2)
            break;
        if (next->cls == FG_CLASS_IMP)
            return 1;
    }
    return 0;
}

void nt_note_ed(nt_ctx *c)
{
    char reason[256];
    nt_buf rb = {reason, 0, sizeof(reason)};
    chief(c, &rb);
    c->value = reason;
    nt_say(c, S_ed_open, 0);
    c->value = NULL;
    nt_history_exam(c, nt_kind_of_visit(c));
    course(c);
    nt_say_list(c, S_ed_course, -1);
    nt_say(c, S_ap, 0);
    nt_assessment_plan(c, 0);
    nt_plan_tail(c);
    if (nt_died_here(c))
        return;
    nt_say(c, admitted_after(c) ? S_ed_dispo_admit : S_ed_dispo_home, 0);
}

void nt_note_hp(nt_ctx *c)
{
    char reason[256];
    nt_buf rb = {reason, 0, sizeof(reason)};
    chief(c, &rb);
    c->value = reason;
    nt_say(c, S_hp_open, 0);
    c->value = NULL;
    nt_history_exam(c, NK_HOSPITAL);
    c->value = reason;
    nt_say(c, S_hp_plan, 0);
    c->value = NULL;
    nt_assessment_plan(c, 1);
}

void nt_note_discharge(nt_ctx *c)
{
    const fg_history *h = c->h;
    const fg_encounter *enc = c->enc;
    fg_time end = enc->end > enc->start ? enc->end : enc->start;
    char los[32];
    nt_buf lb = {los, 0, sizeof(los)};
    /* Length of stay in midnights. */
    nt_span(&lb, c->n, enc->start - enc->start % FG_DAY, end - end % FG_DAY);
    c->value = los;
    nt_say(c, S_dc_open, 0);
    c->value = NULL;
    if (enc->reason.display) {
        nt_condition(c->list, c->n, &enc->reason);
    }
    NT_EACH(c, K_COND, i) {
        if (enc->reason.code && h->conditions.v[i].term.code &&
            strcmp(enc->reason.code, h->conditions.v[i].term.code) == 0)
            continue;
        nt_list_sep(c->list, "; ");
        nt_cond(c, c->list, &h->conditions.v[i]);
    }
    nt_say_list(c, S_dc_dx, -1);
    course(c);
    NT_EACH(c, K_OBS, i) {
        const fg_observation *o = &h->observations.v[i];
        if (o->category == FG_OBS_LAB) {
            nt_list_sep(c->list, ", ");
            nt_observation(c->list, c->n, o);
        }
    }
    nt_say_list(c, S_dc_course, S_dc_course_none);
    if (nt_died_here(c)) {
        c->value = nt_disposition(c->n, "expired");
        nt_say(c, S_dc_dispo, 0);
        c->value = NULL;
        return;
    }
    for (size_t i = 0; i < h->medications.n; i++) {
        const fg_medication *m = &h->medications.v[i];
        if (m->start <= end && (m->end == FG_TIME_NONE || m->end > end)) {
            nt_list_sep(c->list, ", ");
            nt_med_of(c, c->list, m);
        }
    }
    nt_say_list(c, S_dc_meds, S_dc_meds_none);
    c->value = nt_disposition(c->n, NULL);
    nt_say(c, S_dc_dispo, 0);
    c->value = NULL;
    nt_plan_tail(c);
}

int nt_died_here(const nt_ctx *c)
{
    fg_time d = c->h->patient.death;
    const fg_encounter *enc = c->enc;
    return d != FG_TIME_NONE && (enc->cls == FG_CLASS_IMP || enc->cls == FG_CLASS_EMER) &&
           d >= enc->start && d <= (enc->end > enc->start ? enc->end : enc->start);
}

void nt_note_death(nt_ctx *c)
{
    char date[11];
    fg_format_date(c->h->patient.death, date);
    c->value = date;
    nt_say(c, S_death_open, 0);
    nt_say(c, S_death_exam, 0);
    if (c->h->death_cause.display) {
        nt_clear(c->tmp);
        nt_term(c->tmp, &c->h->death_cause, 1);
        c->value = c->tmp->p;
        nt_say(c, S_death_cause, 0);
    }
    c->value = NULL;
    nt_say(c, S_death_family, 0);
}
