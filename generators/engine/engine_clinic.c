/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_clinic.c: care at the clinic's hours, one visit a day.
 *
 * The passes before this one schedule visits by date (a wellness visit at
 * an age, a follow-up so many weeks after a diagnosis); this pass gives each
 * ambulatory visit with the primary care team a time the clinic keeps, in
 * the patient's local time (data/tables/clinic.tsv):
 *
 *   - clinic visits (wellness, problems, follow-ups, vaccines) start on a
 *     weekday that is not a holiday, within office hours, on the slot grid;
 *     a visit that falls on a closed day moves to the next open one (or the
 *     one before, when the next is past the end of the record);
 *   - urgent care visits keep their day and start within its longer hours;
 *   - several clinic visits on one local day are one visit: the later ones
 *     (or all but the wellness visit) attach to the first, which lasts a
 *     little longer; their events move with them, and of several sets of
 *     vital signs the visit keeps the one taken last (a raised blood
 *     pressure found that day stays). Urgent and obstetric visits stay
 *     visits of their own (data/tables/visit_kinds.tsv).
 *
 * An event moves with its encounter when its time lies within the visit (or
 * within a day after it, as a short course does); times further away (an
 * onset years before, the end of a long prescription) stay as they are.
 * Runs before encounters are sorted and before notes are written.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generators/engine/engine_private.h"

#define MAX_KINDS 64
#define HOUR 3600

enum { KIND_NONE = -1, KIND_CLINIC = 0, KIND_WELLNESS, KIND_URGENT, KIND_OBSTETRIC };

struct eng_hours {
    fg_tsv *params, *kinds;
    int open, close, slot, urgent_open, urgent_close, merged_minutes; /* hours, minutes */
    const char *code[MAX_KINDS];
    int kind[MAX_KINDS];
    size_t n_kinds;
};

void eng_clinic_free(struct eng_hours *c)
{
    if (!c)
        return;
    fg_tsv_free(c->params);
    fg_tsv_free(c->kinds);
    free(c);
}

static int load_kinds(struct eng_hours *c, fg_error *err)
{
    static const char *names[] = {"clinic", "wellness", "urgent", "obstetric", "fixed"};
    static const int kinds[] = {KIND_CLINIC, KIND_WELLNESS, KIND_URGENT, KIND_OBSTETRIC, KIND_NONE};
    size_t cc, ck;
    int rc;
    if ((rc = fg_tsv_col(c->kinds, "code", &cc, err)) || (rc = fg_tsv_col(c->kinds, "kind", &ck, err)))
        return rc;
    if (fg_tsv_rows(c->kinds) > MAX_KINDS)
        return fg_error_set(err, FG_ELIMIT, fg_tsv_path(c->kinds), "more than %d rows", MAX_KINDS);
    for (size_t r = 0; r < fg_tsv_rows(c->kinds); r++) {
        const char *k = fg_tsv_cell(c->kinds, r, ck);
        int found = -1;
        for (int i = 0; i < 5; i++)
            if (strcmp(names[i], k) == 0)
                found = i;
        if (found < 0)
            return fg_tsv_row_error(c->kinds, r, err, FG_EINVALID,
                                    "kind \"%s\" is none of clinic, wellness, urgent, obstetric, fixed",
                                    k);
        c->code[c->n_kinds] = fg_tsv_cell(c->kinds, r, cc);
        c->kind[c->n_kinds++] = kinds[found];
    }
    return FG_OK;
}

int eng_clinic_load(fg_engine *e, fg_error *err)
{
    struct eng_hours *c = calloc(1, sizeof(*c));
    int rc;
    if (!c)
        return fg_error_set(err, FG_ENOMEM, "tables", "out of memory");
    if ((rc = eng_table_load(e, "tables/clinic.tsv", &c->params, err)) ||
        (rc = eng_table_load(e, "tables/visit_kinds.tsv", &c->kinds, err)) ||
        (rc = load_kinds(c, err)))
        goto cleanup;
    struct {
        const char *key;
        int *v;
        int lo, hi;
    } p[] = {
        {"open_hour", &c->open, 0, 23},           {"close_hour", &c->close, 1, 24},
        {"slot_minutes", &c->slot, 1, 120},       {"urgent_open_hour", &c->urgent_open, 0, 23},
        {"urgent_close_hour", &c->urgent_close, 1, 24},
        {"merged_visit_minutes", &c->merged_minutes, 0, 120},
    };
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        double v;
        if ((rc = eng_param(c->params, p[i].key, &v, err)))
            goto cleanup;
        if (v < p[i].lo || v > p[i].hi) {
            rc = fg_error_set(err, FG_EINVALID, fg_tsv_path(c->params), "%s must be %d to %d",
                              p[i].key, p[i].lo, p[i].hi);
            goto cleanup;
        }
        *p[i].v = (int)v;
    }
    if (c->close <= c->open || c->urgent_close <= c->urgent_open) {
        rc = fg_error_set(err, FG_EINVALID, fg_tsv_path(c->params), "a closing hour must follow its opening hour");
        goto cleanup;
    }
    e->hours = c;
    c = NULL;
cleanup:
    eng_clinic_free(c);
    return rc;
}

/* ---- the calendar ---- */

static int64_t day_of(fg_time local)
{
    return local >= 0 ? local / FG_DAY : -((-local + FG_DAY - 1) / FG_DAY);
}

/* Days the clinic is closed: weekends, New Year's Day, Memorial Day,
 * Independence Day, Labor Day, Thanksgiving and Christmas Day. */
static int closed(int64_t day)
{
    int wd = fg_weekday(day), y, m, d;
    if (wd == 0 || wd == 6)
        return 1;
    fg_civil_from_days(day, &y, &m, &d);
    return (m == 1 && d == 1) || (m == 7 && d == 4) || (m == 12 && d == 25) ||
           day == fg_nth_weekday(y, 5, 1, 0) || day == fg_nth_weekday(y, 9, 1, 1) ||
           day == fg_nth_weekday(y, 11, 4, 4);
}

/* ---- where each visit goes ---- */

typedef struct visit {
    fg_time old_start, old_end; /* as the earlier passes left it */
    fg_time start;              /* its new start */
    int kind;                   /* KIND_*, KIND_NONE for visits left alone */
    size_t target;              /* the visit it is part of (itself when kept) */
    int had_vitals;             /* vital signs taken at it before merging */
    size_t vitals_from;         /* of a kept visit: the visit whose vital signs it keeps */
} visit;

static int kind_of(const struct eng_hours *c, const eng_gen *g, const fg_encounter *e)
{
    if (e->cls != FG_CLASS_AMB || !e->organization || !g->org_id || strcmp(e->organization, g->org_id) != 0)
        return KIND_NONE;
    for (size_t i = 0; e->type.code && i < c->n_kinds; i++)
        if (strcmp(c->code[i], e->type.code) == 0)
            return c->kind[i];
    return KIND_CLINIC;
}

/* A start for visit v on an open day near its own, or v's old start when none fits. */
static fg_time place(const struct eng_hours *c, const eng_gen *g, fg_rng *r, const visit *v)
{
    const fg_tz *tz = &g->h->patient.tz;
    fg_time len = v->old_end - v->old_start;
    int64_t day = day_of(fg_tz_to_local(tz, v->old_start));
    int urgent = v->kind == KIND_URGENT;
    int open = urgent ? c->urgent_open : c->open, close = urgent ? c->urgent_close : c->close;
    int64_t slots = (int64_t)(close - open) * 60 / c->slot;
    fg_time minute = (fg_time)open * 60 + fg_rng_range(r, 0, slots - 1) * c->slot;
    for (int step = 1; step >= -1; step -= 2) {
        int64_t d = day;
        for (int k = 0; k < 7 && !urgent && closed(d); k++)
            d += step;
        fg_time t = fg_tz_from_local(tz, d * FG_DAY + minute * 60);
        if (t >= g->h->patient.birth_date && t + len <= g->stop)
            return t;
        if (urgent)
            break;
    }
    return v->old_start;
}

/* Move each event time of an encounter that lies within its visit (or a day after it). */
static void shift(fg_time *t, const visit *v, fg_time delta, fg_time stop)
{
    if (*t == FG_TIME_NONE || *t < v->old_start - HOUR / 2 || *t > v->old_end + FG_DAY)
        return;
    *t += delta;
    if (*t > stop)
        *t = stop;
}

typedef struct enc_ref {
    const char *id;
    size_t i;
} enc_ref;

/* By the address of the id string: events name their encounter with the
 * encounter's own id pointer, so a lookup is a compare of addresses. */
static int ref_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const enc_ref *)a)->id, y = (uintptr_t)((const enc_ref *)b)->id;
    return x < y ? -1 : x > y;
}

/* The encounter named id: by address, else (an id copied elsewhere) by its text. */
static const enc_ref *lookup(const enc_ref *refs, size_t n, const char *id)
{
    enc_ref key = {id, 0};
    const enc_ref *hit = bsearch(&key, refs, n, sizeof(key), ref_cmp);
    for (size_t i = 0; !hit && i < n; i++)
        if (strcmp(refs[i].id, id) == 0)
            hit = &refs[i];
    return hit;
}

typedef struct pass {
    eng_gen *g;
    visit *v;
    enc_ref *refs;
    size_t n;
    fg_time *keep_start; /* new start of each kept visit */
} pass;

/* The visit of an event, or NULL when its encounter is not one this pass moves. */
static const visit *find(const pass *p, const char **enc, fg_time *delta)
{
    if (!*enc)
        return NULL;
    const enc_ref *hit = lookup(p->refs, p->n, *enc);
    if (!hit || p->v[hit->i].kind == KIND_NONE)
        return NULL;
    const visit *v = &p->v[hit->i];
    *delta = p->keep_start[v->target] - v->old_start;
    *enc = p->g->h->encounters.v[v->target].id;
    return v;
}

#define EACH(list, T, body)                                                                  \
    for (size_t i_ = 0; i_ < h->list.n; i_++) {                                              \
        T *x = &h->list.v[i_];                                                               \
        fg_time d;                                                                           \
        const visit *v = find(p, &x->encounter, &d);                                         \
        if (v) {                                                                             \
            body                                                                             \
        }                                                                                    \
    }

static void fix_end(fg_time start, fg_time *end)
{
    if (*end != FG_TIME_NONE && *end < start)
        *end = start;
}

/* Orders move with their visit; an order that ended when another began
 * (renewed, replaced, switched: its end between the start of the other's
 * visit and the other's start) moves its end with the other, so the two
 * never overlap. FG_OK or FG_ENOMEM. */
static int move_medications(const pass *p, fg_error *err)
{
    fg_history *h = p->g->h;
    size_t n = h->medications.n;
    fg_time *old = malloc((n ? 2 * n : 1) * sizeof(*old)), *visit_start = old + n;
    if (!old)
        return fg_error_set(err, FG_ENOMEM, "medications", "out of memory");
    for (size_t i = 0; i < n; i++) {
        fg_medication *m = &h->medications.v[i];
        fg_time d;
        old[i] = visit_start[i] = m->start;
        const visit *v = find(p, &m->encounter, &d);
        if (v) {
            visit_start[i] = v->old_start;
            shift(&m->start, v, d, p->g->stop);
            shift(&m->end, v, d, p->g->stop);
        }
    }
    for (size_t i = 0; i < n; i++) {
        fg_time moved = h->medications.v[i].start - old[i];
        for (size_t k = 0; moved && k < n; k++) {
            fg_medication *x = &h->medications.v[k];
            if (k != i && old[k] < old[i] && x->end >= visit_start[i] && x->end <= old[i])
                x->end += moved;
        }
    }
    for (size_t i = 0; i < n; i++)
        fix_end(h->medications.v[i].start, &h->medications.v[i].end);
    free(old);
    return FG_OK;
}

/* Move every event with its visit; of a merged day keep one set of vital
 * signs, and the social history of the visit kept. */
static void move_events(pass *p)
{
    fg_history *h = p->g->h;
    fg_time stop = p->g->stop;
    size_t w = 0;
    for (size_t i = 0; i < h->observations.n; i++) {
        fg_observation o = h->observations.v[i];
        fg_time d;
        const visit *v = find(p, &o.encounter, &d);
        size_t self = v ? (size_t)(v - p->v) : 0;
        if (v && ((o.category == FG_OBS_VITAL && self != p->v[v->target].vitals_from) ||
                  (o.category == FG_OBS_SOCIAL && self != v->target)))
            continue; /* the visit took one set already */
        if (v)
            shift(&o.time, v, d, stop);
        h->observations.v[w++] = o;
    }
    h->observations.n = w;
    EACH(reports, fg_report, shift(&x->time, v, d, stop);)
    EACH(conditions, fg_condition, shift(&x->onset, v, d, stop); shift(&x->recorded, v, d, stop);
         shift(&x->abatement, v, d, stop); fix_end(x->onset, &x->abatement);)
    EACH(immunizations, fg_immunization, shift(&x->time, v, d, stop);)
    EACH(procedures, fg_procedure, shift(&x->start, v, d, stop); shift(&x->end, v, d, stop);
         fix_end(x->start, &x->end);)
    EACH(allergies, fg_allergy, shift(&x->onset, v, d, stop);)
    EACH(careplans, fg_careplan, shift(&x->start, v, d, stop); fix_end(x->start, &x->end);)
    EACH(notes, fg_note, shift(&x->time, v, d, stop);)
}

typedef struct day_key {
    int64_t day;
    int wellness; /* 0 for a wellness visit, so it sorts first */
    fg_time start;
    size_t i;
} day_key;

static int day_cmp(const void *a, const void *b)
{
    const day_key *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->wellness != y->wellness)
        return x->wellness - y->wellness;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Attach the clinic visits of one local day to its first (wellness first). */
static int merge_days(const struct eng_hours *c, pass *p)
{
    fg_history *h = p->g->h;
    day_key *k = fg_arena_alloc(&h->arena, p->n * sizeof(*k));
    size_t nk = 0;
    if (!k)
        return FG_ENOMEM;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].kind == KIND_CLINIC || p->v[i].kind == KIND_WELLNESS)
            k[nk++] = (day_key){day_of(fg_tz_to_local(&h->patient.tz, p->v[i].start)),
                                p->v[i].kind != KIND_WELLNESS, p->v[i].start, i};
    qsort(k, nk, sizeof(*k), day_cmp);
    for (size_t a = 0; a < nk;) {
        size_t b = a + 1;
        fg_encounter *keep = &h->encounters.v[k[a].i];
        visit *kept = &p->v[k[a].i];
        kept->vitals_from = k[a].i;
        for (; b < nk && k[b].day == k[a].day; b++) {
            visit *v = &p->v[k[b].i];
            fg_encounter *e = &h->encounters.v[k[b].i];
            v->target = k[a].i;
            /* the set taken last: it reads a condition that began that day */
            const visit *from = &p->v[kept->vitals_from];
            if (v->had_vitals && (!from->had_vitals || v->old_start > from->old_start))
                kept->vitals_from = k[b].i;
            fg_time end = keep->start + (v->old_end - v->old_start);
            keep->end = (end > keep->end ? end : keep->end) + (fg_time)c->merged_minutes * 60;
            if (keep->end > p->g->stop)
                keep->end = p->g->stop > keep->start ? p->g->stop : keep->start + 60;
            if (!keep->reason.code && !keep->reason.display)
                keep->reason = e->reason;
        }
        a = b;
    }
    return FG_OK;
}

int eng_clinic(eng_gen *g, fg_error *err)
{
    const struct eng_hours *c = g->e->hours;
    fg_history *h = g->h;
    size_t n = h->encounters.n;
    if (!c || !n)
        return FG_OK;
    pass p = {g, fg_arena_calloc(&h->arena, n * sizeof(visit)),
              fg_arena_alloc(&h->arena, n * sizeof(enc_ref)), n,
              fg_arena_alloc(&h->arena, n * sizeof(fg_time))};
    if (!p.v || !p.refs || !p.keep_start)
        return fg_error_set(err, FG_ENOMEM, "encounters", "out of memory");
    fg_rng r = fg_rng_fork(&g->rng, "clinic");
    for (size_t i = 0; i < n; i++) {
        fg_encounter *e = &h->encounters.v[i];
        visit *v = &p.v[i];
        v->old_start = v->start = e->start;
        v->old_end = e->end;
        v->kind = kind_of(c, g, e);
        v->target = v->vitals_from = i;
        p.refs[i] = (enc_ref){e->id, i};
        if (v->kind != KIND_NONE) {
            v->start = place(c, g, &r, v);
            e->start = v->start;
            e->end = v->start + (v->old_end - v->old_start);
        }
    }
    qsort(p.refs, n, sizeof(*p.refs), ref_cmp);
    for (size_t i = 0; i < h->observations.n; i++) {
        const char *id = h->observations.v[i].encounter;
        const enc_ref *hit = id && h->observations.v[i].category == FG_OBS_VITAL ? lookup(p.refs, n, id) : NULL;
        if (hit)
            p.v[hit->i].had_vitals = 1;
    }
    if (merge_days(c, &p) != FG_OK)
        return fg_error_set(err, FG_ENOMEM, "encounters", "out of memory");
    for (size_t i = 0; i < n; i++)
        p.keep_start[i] = h->encounters.v[i].start;
    move_events(&p);
    if (move_medications(&p, err) != FG_OK)
        return err->code;
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (p.v[i].target == i)
            h->encounters.v[w++] = h->encounters.v[i];
    h->encounters.n = w;
    return FG_OK;
}
