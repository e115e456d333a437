/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plausibility_events.c: the logical rules of plausibility.c.
 *
 * Dates: every instant lies after the birth date, not after death and not
 * after the end of the history; ends follow starts; an event falls on the
 * days of its encounter (or the day after); a medication's status agrees
 * with its end.
 * References: every event's encounter exists; a medication's or
 * procedure's reason and a care plan's conditions exist and were present
 * (onset on or before the day treatment starts); a report's results exist.
 * Notes: a note that denies a condition the record has at that time, or
 * that calls the patient a man or a woman against the record's sex.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "validators/plausibility_private.h"

static const char *term_name(const fg_term *t)
{
    return t->display ? t->display : t->code ? t->code : "?";
}

/* One instant against birth, death and the end of the history. */
static void check_when(pl_ctx *c, const char *list, size_t i, const char *member, fg_time t)
{
    if (t == FG_TIME_NONE)
        return;
    int64_t d = pl_day(t);
    if (c->f.birth != FG_TIME_NONE && d < pl_day(c->f.birth))
        pl_add(c, list, i, member, "%s is before the patient's birth (%s)", pl_date(c, 0, t),
                pl_date(c, 1, c->f.birth));
    else if (c->f.death != FG_TIME_NONE && d > pl_day(c->f.death))
        pl_add(c, list, i, member, "%s is after the patient's death (%s)", pl_date(c, 0, t),
                pl_date(c, 1, c->f.death));
    else if (c->f.history_end != FG_TIME_NONE && d > pl_day(c->f.history_end))
        pl_add(c, list, i, member, "%s is after the end of the history (%s)",
                pl_date(c, 0, t), pl_date(c, 1, c->f.history_end));
}

static void check_order(pl_ctx *c, const char *list, size_t i, const char *member,
                        fg_time start, fg_time end, const char *what)
{
    if (start != FG_TIME_NONE && end != FG_TIME_NONE && end < start)
        pl_add(c, list, i, member, "%s is before the %s (%s)", pl_date(c, 0, end), what,
                pl_date(c, 1, start));
}

/* The encounter named by id, or NULL. */
static const fg_encounter *encounter(const fg_history *h, const char *id)
{
    return id ? fg_history_encounter(h, id) : NULL;
}

/* 1 when the encounter's own dates are wrong (reported at the encounter):
 * its events are then not also reported as off its days. */
static int encounter_dates_wrong(const pl_ctx *c, const fg_encounter *e)
{
    int64_t s = pl_day(e->start);
    return (c->f.birth != FG_TIME_NONE && s < pl_day(c->f.birth)) ||
           (c->f.death != FG_TIME_NONE && s > pl_day(c->f.death)) ||
           (c->f.history_end != FG_TIME_NONE && s > pl_day(c->f.history_end)) ||
           (e->end != FG_TIME_NONE && e->end < e->start);
}

/* An event's instant on the days of its encounter (which must exist). */
static void check_in_encounter(pl_ctx *c, const fg_history *h, const char *list, size_t i,
                               const char *enc_id, const char *member, fg_time t)
{
    const fg_encounter *e = encounter(h, enc_id);
    if (!e) {
        pl_add(c, list, i, "encounter", "no encounter has id \"%s\"", enc_id ? enc_id : "");
        return;
    }
    if (t == FG_TIME_NONE || e->start == FG_TIME_NONE || encounter_dates_wrong(c, e))
        return;
    int64_t d = pl_day(t), s = pl_day(e->start);
    int64_t x = e->end != FG_TIME_NONE && e->end > e->start ? pl_day(e->end) : s;
    /* The day after counts: a visit late in the evening ends past midnight,
     * and a prescription may start the next morning. */
    if (d < s || d > x + 1)
        pl_add(c, list, i, member, "%s is not on the days of its encounter %s (%s%s%s)%s",
                pl_date(c, 0, t), e->id, pl_date(c, 1, e->start), x > s ? " to " : "",
                x > s ? pl_date(c, 2, e->end) : "",
                strcmp(member, "recorded") == 0
                    ? ": recorded is when that encounter noted it (the onset may be earlier)"
                    : "");
}

/* An event from start to end (medications, procedures): both dates
 * plausible, in order, and the start on the days of its encounter. */
static void check_span(pl_ctx *c, const fg_history *h, const char *list, size_t i,
                       const char *enc_id, fg_time start, fg_time end)
{
    check_when(c, list, i, "start", start);
    check_when(c, list, i, "end", end);
    check_order(c, list, i, "end", start, end, "start");
    check_in_encounter(c, h, list, i, enc_id, "start", start);
}

void pl_check_dates(pl_ctx *c, const fg_history *h)
{
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        check_when(c, "encounters", i, "start", e->start);
        check_when(c, "encounters", i, "end", e->end);
        check_order(c, "encounters", i, "end", e->start, e->end, "start");
    }
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *x = &h->conditions.v[i];
        check_when(c, "conditions", i, "onset", x->onset);
        check_when(c, "conditions", i, "abatement", x->abatement);
        check_order(c, "conditions", i, "abatement", x->onset, x->abatement, "onset");
        if (x->recorded != FG_TIME_NONE && x->onset != FG_TIME_NONE &&
            pl_day(x->recorded) < pl_day(x->onset))
            pl_add(c, "conditions", i, "recorded", "%s is before the onset (%s)",
                    pl_date(c, 0, x->recorded), pl_date(c, 1, x->onset));
        check_in_encounter(c, h, "conditions", i, x->encounter, "recorded", x->recorded);
    }
    for (size_t i = 0; i < h->observations.n; i++) {
        const fg_observation *x = &h->observations.v[i];
        check_when(c, "observations", i, "time", x->time);
        check_in_encounter(c, h, "observations", i, x->encounter, "time", x->time);
    }
    for (size_t i = 0; i < h->reports.n; i++) {
        const fg_report *x = &h->reports.v[i];
        check_when(c, "reports", i, "time", x->time);
        check_in_encounter(c, h, "reports", i, x->encounter, "time", x->time);
    }
    for (size_t i = 0; i < h->medications.n; i++) {
        const fg_medication *x = &h->medications.v[i];
        check_span(c, h, "medications", i, x->encounter, x->start, x->end);
        if (x->status == FG_MED_ACTIVE && x->end != FG_TIME_NONE &&
            (c->f.history_end == FG_TIME_NONE || x->end <= c->f.history_end))
            pl_add(c, "medications", i, "status",
                    "\"active\" but the medication ended %s: use \"completed\" or \"stopped\", "
                    "or end null", pl_date(c, 0, x->end));
        else if (x->status != FG_MED_ACTIVE && x->end == FG_TIME_NONE)
            pl_add(c, "medications", i, "end",
                    "a %s medication needs the date it ended",
                    x->status == FG_MED_STOPPED ? "stopped" : "completed");
    }
    for (size_t i = 0; i < h->immunizations.n; i++) {
        const fg_immunization *x = &h->immunizations.v[i];
        check_when(c, "immunizations", i, "time", x->time);
        check_in_encounter(c, h, "immunizations", i, x->encounter, "time", x->time);
    }
    for (size_t i = 0; i < h->procedures.n; i++) {
        const fg_procedure *x = &h->procedures.v[i];
        check_span(c, h, "procedures", i, x->encounter, x->start, x->end);
    }
    for (size_t i = 0; i < h->allergies.n; i++) {
        const fg_allergy *x = &h->allergies.v[i];
        const fg_encounter *e = encounter(h, x->encounter);
        check_when(c, "allergies", i, "onset", x->onset);
        if (!e)
            pl_add(c, "allergies", i, "encounter", "no encounter has id \"%s\"",
                    x->encounter ? x->encounter : "");
        else if (x->onset != FG_TIME_NONE && e->end != FG_TIME_NONE &&
                 !encounter_dates_wrong(c, e) && pl_day(x->onset) > pl_day(e->end))
            pl_add(c, "allergies", i, "onset", "%s is after its encounter %s (%s) recorded it",
                    pl_date(c, 0, x->onset), e->id, pl_date(c, 1, e->end));
    }
    for (size_t i = 0; i < h->careplans.n; i++) {
        const fg_careplan *x = &h->careplans.v[i];
        check_when(c, "careplans", i, "start", x->start);
        check_when(c, "careplans", i, "end", x->end);
        check_order(c, "careplans", i, "end", x->start, x->end, "start");
        check_in_encounter(c, h, "careplans", i, x->encounter, "start", x->start);
    }
    for (size_t i = 0; i < h->notes.n; i++) {
        const fg_note *x = &h->notes.v[i];
        check_when(c, "notes", i, "time", x->time);
        check_in_encounter(c, h, "notes", i, x->encounter, "time", x->time);
    }
}

static const fg_condition *condition(const fg_history *h, const char *id, size_t *k)
{
    for (size_t i = 0; id && i < h->conditions.n; i++)
        if (h->conditions.v[i].id && strcmp(h->conditions.v[i].id, id) == 0) {
            *k = i;
            return &h->conditions.v[i];
        }
    return NULL;
}

/* A treatment starting at `start` for condition `id` at list[i].member. */
static void check_reason(pl_ctx *c, const fg_history *h, const char *list, size_t i,
                         const char *member, const char *id, fg_time start, const char *what)
{
    size_t k = 0;
    const fg_condition *x = condition(h, id, &k);
    if (!x) {
        pl_add(c, list, i, member, "no condition has id \"%s\"", id);
        return;
    }
    if (start != FG_TIME_NONE && x->onset != FG_TIME_NONE &&
        pl_day(start) < pl_day(x->onset))
        pl_add(c, list, i, member, "the %s starts %s, before its reason \"%s\" "
                "(conditions[%zu]) began (%s)", what, pl_date(c, 0, start),
                term_name(&x->term), k, pl_date(c, 1, x->onset));
}

void pl_check_links(pl_ctx *c, const fg_history *h)
{
    char member[64];
    for (size_t i = 0; i < h->medications.n; i++) {
        const fg_medication *x = &h->medications.v[i];
        if (x->reason)
            check_reason(c, h, "medications", i, "reason", x->reason, x->start, "medication");
    }
    for (size_t i = 0; i < h->procedures.n; i++) {
        const fg_procedure *x = &h->procedures.v[i];
        if (x->reason)
            check_reason(c, h, "procedures", i, "reason", x->reason, x->start, "procedure");
    }
    for (size_t i = 0; i < h->careplans.n; i++) {
        const fg_careplan *x = &h->careplans.v[i];
        for (size_t j = 0; j < x->n_addresses; j++) {
            snprintf(member, sizeof(member), "addresses[%zu]", j);
            check_reason(c, h, "careplans", i, member, x->addresses[j], x->start, "care plan");
        }
    }
    for (size_t i = 0; i < h->reports.n; i++) {
        const fg_report *x = &h->reports.v[i];
        for (size_t j = 0; j < x->n_results; j++) {
            int found = 0;
            for (size_t k = 0; k < h->observations.n && !found; k++)
                found = h->observations.v[k].id && x->results[j] &&
                        strcmp(h->observations.v[k].id, x->results[j]) == 0;
            if (!found) {
                snprintf(member, sizeof(member), "results[%zu]", j);
                pl_add(c, "reports", i, member, "no observation has id \"%s\"",
                        x->results[j] ? x->results[j] : "");
            }
        }
    }
}

/* ---- notes ------------------------------------------------------------- */

/* Phrases that deny a condition; `ever` ones deny it at any time before
 * the note, the others only while it is active. */
static const struct {
    const char *cue;
    int ever;
} CUES[] = {
    {"no history of ", 1},  {"no prior history of ", 1}, {"no past history of ", 1},
    {"no hx of ", 1},       {"never had ", 1},           {"never diagnosed with ", 1},
    {"no known ", 0},       {"denies ", 0},              {"denied ", 0},
    {"negative for ", 0},   {"no evidence of ", 0},      {"does not have ", 0},
};

/* Qualifiers a note may leave out of a condition's name. */
static const char *const QUALIFIERS[] = {"essential ", "chronic ", "primary ", "acute ",
                                         "mild ", "moderate ", "severe ", "major "};

/* The condition's name without a trailing " (tag)" and, in *alt, without
 * a leading qualifier (empty when none). */
static void condition_names(const char *display, char *name, size_t size, char *alt,
                            size_t alt_size)
{
    snprintf(name, size, "%s", display);
    char *p = strrchr(name, '(');
    if (p && p > name && p[-1] == ' ' && name[strlen(name) - 1] == ')')
        p[-1] = 0;
    alt[0] = 0;
    for (size_t q = 0; q < sizeof(QUALIFIERS) / sizeof(QUALIFIERS[0]); q++) {
        size_t n = strlen(QUALIFIERS[q]);
        if (strncasecmp(name, QUALIFIERS[q], n) == 0 && strlen(name + n) >= 6) {
            snprintf(alt, alt_size, "%s", name + n);
            break;
        }
    }
}

/* 1 when `name` occurs in the clause of text starting at p (to the next
 * '.', ';', line break or " but "), at most 160 characters. */
static int in_clause(const char *p, const char *name)
{
    char clause[168];
    size_t n = strcspn(p, ".;\n");
    if (n > 160)
        n = 160;
    memcpy(clause, p, n);
    clause[n] = 0;
    char *but = strcasestr(clause, " but ");
    if (but)
        *but = 0;
    return *name && strcasestr(clause, name) != NULL;
}

#define PL_MAX_CUES_PER_NOTE 64

static void check_note_conditions(pl_ctx *c, const fg_history *h, size_t i)
{
    const fg_note *note = &h->notes.v[i];
    char name[256], alt[256];
    struct {
        const char *at; /* just after the cue */
        size_t cue;
    } hits[PL_MAX_CUES_PER_NOTE];
    size_t n_hits = 0;
    /* The denials of the note, found once; most notes have none. */
    for (size_t q = 0; q < sizeof(CUES) / sizeof(CUES[0]); q++)
        for (const char *p = note->text;
             n_hits < PL_MAX_CUES_PER_NOTE && (p = strcasestr(p, CUES[q].cue));) {
            p += strlen(CUES[q].cue);
            hits[n_hits].at = p;
            hits[n_hits++].cue = q;
        }
    for (size_t k = 0; n_hits && k < h->conditions.n; k++) {
        const fg_condition *x = &h->conditions.v[k];
        if (!x->term.display || x->onset == FG_TIME_NONE || x->onset > note->time)
            continue;
        int active = x->abatement == FG_TIME_NONE || x->abatement > note->time;
        condition_names(x->term.display, name, sizeof(name), alt, sizeof(alt));
        for (size_t j = 0; j < n_hits; j++) {
            if (!active && !CUES[hits[j].cue].ever)
                continue;
            if (in_clause(hits[j].at, name) || in_clause(hits[j].at, alt)) {
                pl_add(c, "notes", i, "text",
                        "the note says \"%s%s\" but the record has \"%s\" (conditions[%zu]) "
                        "since %s",
                        CUES[hits[j].cue].cue, alt[0] ? alt : name, x->term.display, k,
                        pl_date(c, 0, x->onset));
                break;
            }
        }
    }
}

/* "54-year-old man", "54 year old female", "54 yo woman", "54 y/o male". */
static void check_note_sex(pl_ctx *c, const fg_history *h, size_t i)
{
    static const char *const AGE[] = {"year-old ", "year old ", " yo ", " y/o ", "-yo "};
    static const struct {
        const char *word;
        int sex;
    } WORDS[] = {{"man", FG_SEX_MALE},        {"male", FG_SEX_MALE},
                 {"gentleman", FG_SEX_MALE},  {"boy", FG_SEX_MALE},
                 {"woman", FG_SEX_FEMALE},    {"female", FG_SEX_FEMALE},
                 {"lady", FG_SEX_FEMALE},     {"girl", FG_SEX_FEMALE}};
    const char *text = h->notes.v[i].text;
    for (size_t a = 0; a < sizeof(AGE) / sizeof(AGE[0]); a++) {
        for (const char *p = text; (p = strcasestr(p, AGE[a]));) {
            p += strlen(AGE[a]);
            size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
            for (size_t w = 0; w < sizeof(WORDS) / sizeof(WORDS[0]); w++) {
                if (strlen(WORDS[w].word) == n && strncasecmp(p, WORDS[w].word, n) == 0 &&
                    WORDS[w].sex != (int)c->f.sex) {
                    pl_add(c, "notes", i, "text",
                            "the note calls the patient a %.*s, but the patient is %s", (int)n,
                            p, c->f.sex == FG_SEX_MALE ? "male" : "female");
                    return;
                }
            }
        }
    }
}

void pl_check_notes(pl_ctx *c, const fg_history *h)
{
    for (size_t i = 0; i < h->notes.n; i++) {
        if (!h->notes.v[i].text)
            continue;
        check_note_conditions(c, h, i);
        check_note_sex(c, h, i);
    }
}
