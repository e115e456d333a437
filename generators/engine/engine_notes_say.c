/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_notes_say.c: sentences of a note (a phrasing of a slot drawn from
 * the patient's random stream, its {values} filled from the record), and the
 * sections every kind of note shares: problem list, medications, allergies,
 * social history (carried forward from the previous note), vital signs,
 * results and the examination.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "generators/engine/notes_private.h"

static void put_age(nt_ctx *c)
{
    fg_time birth = c->h->patient.birth_date, t = c->enc->start;
    int years = fg_age_at(birth, t);
    long long d = (long long)((t - birth) / FG_DAY);
    long long num;
    int unit;
    if (years >= 2) {
        num = years;
        unit = 3;
    } else if (d >= 61) {
        num = (long long)(d / 30.44);
        unit = 2;
    } else if (d >= 14) {
        num = d / 7;
        unit = 1;
    } else {
        num = d < 0 ? 0 : d;
        unit = 0;
    }
    nt_int(c->out, num);
    nt_put(c->out, "-", 1);
    nt_puts(c->out, c->n->age_units[unit]);
    nt_put(c->out, "-old", 4);
}

static void put_var(nt_ctx *c, nt_buf *b, int var)
{
    const struct ep_notes *n = c->n;
    const fg_patient *p = &c->h->patient;
    int male = p->sex == FG_SEX_MALE;
    int age = fg_age_at(p->birth_date, c->enc->start);
    switch (var) {
    case NT_V_AGE: {
        nt_buf *keep = c->out;
        c->out = b;
        put_age(c);
        c->out = keep;
        break;
    }
    case NT_V_PERSON:
        nt_puts(b, age < 1 ? n->infant : (male ? n->male : n->female)[age >= n->adult_age]);
        break;
    case NT_V_DATE:
        nt_date(b, c->enc->start);
        break;
    case NT_V_END_DATE:
        nt_date(b, c->enc->end > c->enc->start ? c->enc->end : c->enc->start);
        break;
    case NT_V_VISIT:
        nt_term(b, &c->enc->type, 1);
        break;
    case NT_V_LIST:
        nt_put(b, c->list->p, c->list->len);
        break;
    case NT_V_VALUE:
        nt_puts(b, c->value);
        break;
    case NT_V_WHEN:
        nt_puts(b, c->when);
        break;
    default: {
        const char *w = (var <= NT_V_HE_CAP ? n->he : n->his)[male];
        size_t start = b->len;
        nt_puts(b, w);
        if ((var == NT_V_HE_CAP || var == NT_V_HIS_CAP) && b->len > start &&
            b->p[start] >= 'a' && b->p[start] <= 'z')
            b->p[start] = (char)(b->p[start] - 'a' + 'A');
        break;
    }
    }
}

void nt_say_to(nt_ctx *c, nt_buf *b, int s)
{
    const nt_tmpl *tp = &c->n->slots[s].v[fg_rng_range(&c->rng, 0, (int64_t)c->n->slots[s].n - 1)];
    size_t start = b->len;
    for (size_t i = 0; i < tp->n; i++) {
        if (tp->segs[i].var == NT_V_LIT)
            nt_put(b, tp->segs[i].text, tp->segs[i].len);
        else
            put_var(c, b, tp->segs[i].var);
    }
    /* A sentence starts with a capital. */
    int first = start == 0 || b->p[start - 1] == '\n' ||
                (start >= 2 && b->p[start - 1] == ' ' && b->p[start - 2] == '.');
    if (b == c->out && first && b->len > start && b->p[start] >= 'a' && b->p[start] <= 'z')
        b->p[start] = (char)(b->p[start] - 'a' + 'A');
}

void nt_say(nt_ctx *c, int s, int inline_)
{
    if (c->out->len)
        nt_put(c->out, inline_ ? " " : "\n", 1);
    nt_say_to(c, c->out, s);
}

void nt_list_sep(nt_buf *list, const char *sep)
{
    if (list->len)
        nt_puts(list, sep);
}

void nt_say_list(nt_ctx *c, int s, int none)
{
    if (c->list->len)
        nt_say(c, s, 0);
    else if (none >= 0)
        nt_say(c, none, 0);
    nt_clear(c->list);
}

/* ---- shared sections ---- */

static int active_at(const fg_condition *d, fg_time t)
{
    return d->onset != FG_TIME_NONE && d->onset <= t &&
           (d->abatement == FG_TIME_NONE || d->abatement > t);
}

/* "HTN (since 2019)": the problems on record at t. */
void nt_pmh(nt_ctx *c, fg_time t)
{
    const fg_history *h = c->h;
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *d = &h->conditions.v[i];
        if (d->category != FG_COND_PROBLEM || !active_at(d, t))
            continue;
        nt_list_sep(c->list, ", ");
        nt_cond(c, c->list, d);
        int year, month, day;
        fg_civil_from_days(d->onset / FG_DAY - (d->onset % FG_DAY < 0), &year, &month, &day);
        nt_put(c->list, " (", 2);
        nt_int(c->list, year);
        nt_put(c->list, ")", 1);
    }
    nt_say_list(c, S_pmh, S_pmh_none);
}

/* Medications taken before t (started before, not yet ended). */
void nt_meds_before(nt_ctx *c, fg_time t)
{
    const fg_history *h = c->h;
    for (size_t i = 0; i < h->medications.n; i++) {
        const fg_medication *m = &h->medications.v[i];
        if (m->start < t && (m->end == FG_TIME_NONE || m->end > t)) {
            nt_list_sep(c->list, ", ");
            nt_med_of(c, c->list, m);
        }
    }
    nt_say_list(c, S_meds, S_meds_none);
}

void nt_allergies(nt_ctx *c, fg_time t)
{
    const fg_history *h = c->h;
    for (size_t i = 0; i < h->allergies.n; i++) {
        const fg_allergy *a = &h->allergies.v[i];
        if (a->onset > t && NT_ENC(c, K_ALLERGY, allergies, a) != c->e)
            continue;
        nt_list_sep(c->list, ", ");
        nt_term(c->list, &a->term, 1);
        if (a->reaction.display) {
            nt_put(c->list, " (", 2);
            nt_term(c->list, &a->reaction, 1);
            nt_put(c->list, ")", 1);
        }
    }
    nt_say_list(c, S_allergies, S_allergies_none);
}

/* The smoking status of adults, the sentence copied from the previous note
 * while the status is the same (carried forward, as clinicians do). */
void nt_social(nt_ctx *c)
{
    const fg_history *h = c->h;
    const fg_observation *last = NULL;
    fg_time adult = fg_add_years(h->patient.birth_date, c->n->adult_age);
    if (!c->smoking || c->enc->start < adult)
        return;
    for (size_t i = 0; i < c->x->n_smoking; i++) {
        const fg_observation *o = &h->observations.v[c->x->smoking[i]];
        if (o->time <= c->enc->end && o->time >= adult &&
            (!last || o->time >= last->time))
            last = o;
    }
    if (!last || !last->code_value.code)
        return;
    if (c->carry->len && c->carry_code && strcmp(c->carry_code, last->code_value.code) == 0) {
        nt_put(c->out, "\n", 1);
        nt_put(c->out, c->carry->p, c->carry->len);
        return;
    }
    nt_clear(c->tmp);
    nt_term(c->tmp, &last->code_value, 1);
    c->value = c->tmp->p;
    size_t start = c->out->len + (c->out->len > 0);
    nt_say(c, S_social, 0);
    c->value = NULL;
    nt_clear(c->carry);
    nt_put(c->carry, c->out->p + start, c->out->len - start);
    c->carry_code = last->code_value.code;
}

void nt_vitals(nt_ctx *c)
{
    NT_EACH(c, K_OBS, i) {
        const fg_observation *o = &c->h->observations.v[i];
        if (o->category == FG_OBS_VITAL) {
            nt_list_sep(c->list, ", ");
            nt_observation(c->list, c->n, o);
        }
    }
    nt_say_list(c, S_vitals, S_vitals_none);
}

void nt_labs(nt_ctx *c)
{
    NT_EACH(c, K_OBS, i) {
        const fg_observation *o = &c->h->observations.v[i];
        if (o->category != FG_OBS_VITAL && o->category != FG_OBS_SOCIAL) {
            nt_list_sep(c->list, ", ");
            nt_observation(c->list, c->n, o);
        }
    }
    nt_say_list(c, S_labs, -1);
}

/* The exam: for each system examined in this kind of visit, the finding of
 * a condition diagnosed or addressed here (or a persistent finding of an
 * active one), else a normal finding. */
void nt_exam(nt_ctx *c, int kind)
{
    const struct ep_notes *n = c->n;
    const fg_history *h = c->h;
    const char *found[SYS_COUNT] = {0};
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *d = &h->conditions.v[i];
        const nt_clin *k = nt_clin_of(n, &d->term);
        if (!k)
            continue;
        int here = NT_ENC(c, K_COND, conditions, d) == c->e ||
                   (c->enc->reason.code && d->term.code &&
                    strcmp(c->enc->reason.code, d->term.code) == 0 &&
                    active_at(d, c->enc->end));
        if (!here && !(k->persistent && active_at(d, c->enc->start)))
            continue;
        for (int s = 0; s < SYS_COUNT; s++)
            if (k->exam[s] && !found[s])
                found[s] = k->exam[s];
    }
    for (int s = 0; s < SYS_COUNT; s++) {
        if (!n->exam_systems[kind][s] && !found[s])
            continue;
        nt_list_sep(c->list, "; ");
        nt_puts(c->list, nt_sys_names[s]);
        nt_put(c->list, ": ", 2);
        const nt_list *l = &n->exam_normal[s];
        nt_puts(c->list, found[s] ? found[s] : l->v[fg_rng_range(&c->rng, 0, (int64_t)l->n - 1)]);
    }
    nt_say_list(c, S_exam, -1);
}
