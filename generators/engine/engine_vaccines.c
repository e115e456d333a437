/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_vaccines.c: routine immunizations on the schedule in force at
 * each date (data/tables/immunizations.tsv, described in its header).
 *
 * The table is a list of series, each a run of rows (one per dose) with the
 * same name. A series belongs to a group: the patient takes the group or not
 * (its published coverage, one draw per patient), and the series of one group
 * are alternatives, tried in table order: the first whose first dose can
 * fall within its dates is the patient's (quadrivalent HPV before 2015, then
 * 9-valent in three doses, then two doses when started before 15, three
 * after). A series whose first dose was due before the product was in use
 * starts when it came, for patients young enough for catch-up. A yearly
 * series gives one dose every season. Each dose goes to the wellness visit
 * nearest its due date, else to a visit of its own (eng_give), so the
 * vaccines due at one age are given together.
 */
#include <stdlib.h>
#include <string.h>

#include "generators/engine/engine_private.h"

#define MAX_DOSES 128
#define MAX_SERIES 64
#define MAX_GROUPS 31 /* one bit each in a visit's vaccines; influenza has bit 31 */
#define MONTH_SECONDS (FG_YEAR_DAYS * FG_DAY / 12.0)
#define SLACK_DAYS 31       /* a dose goes to a wellness visit this close to its due date */
#define CATCHUP_SLACK_DAYS 120 /* or, for a catch-up or adult dose, this many days after */
#define MIN_INTERVAL_DAYS 28   /* between two doses of one series */

typedef struct vdose {
    fg_term term;
    double age;   /* months; < 0 when the dose follows the one before */
    double after; /* months after the dose before; < 0 when it has an age */
} vdose;

typedef struct series {
    size_t first, n; /* its doses */
    int group, requires; /* requires: a group index, or -1 */
    double catchup;      /* months; < 0: no catch-up */
    fg_time from, until; /* FG_TIME_NONE: open */
    int season, season_end, yearly; /* months (1-12, 0 none) doses may fall in */
    int spread;          /* days over which a catch-up start is spread */
    double uptake;       /* 0..1 */
} series;

struct eng_vaccines {
    fg_tsv *t;
    vdose doses[MAX_DOSES];
    series s[MAX_SERIES];
    size_t n_doses, n_series, n_groups;
    const char *groups[MAX_GROUPS];
};

void eng_vaccines_free(struct eng_vaccines *v)
{
    if (!v)
        return;
    fg_tsv_free(v->t);
    free(v);
}

static int group_index(struct eng_vaccines *v, const char *name, int add)
{
    for (size_t i = 0; i < v->n_groups; i++)
        if (strcmp(v->groups[i], name) == 0)
            return (int)i;
    if (!add || v->n_groups == MAX_GROUPS)
        return -1;
    v->groups[v->n_groups] = name;
    return (int)v->n_groups++;
}

static double num(const char *s, double none)
{
    return *s ? atof(s) : none;
}

/* A date cell: FG_TIME_NONE when empty; -1 when not a date. */
static int date_cell(const char *s, fg_time *out)
{
    *out = FG_TIME_NONE;
    return *s && fg_parse_date(s, out) != 0 ? -1 : 0;
}

enum { C_SERIES, C_GROUP, C_CVX, C_DISPLAY, C_AGE, C_AFTER, C_CATCHUP, C_FIRST, C_LAST, C_SEASON,
       C_YEARLY, C_REQUIRES, C_SPREAD, C_UPTAKE, C_COUNT };

/* Start series s at row r (its first dose). */
static int start_series(struct eng_vaccines *v, const size_t *c, size_t r, fg_error *err)
{
    const fg_tsv *t = v->t;
    series *s = &v->s[v->n_series++];
    s->first = v->n_doses;
    s->group = group_index(v, fg_tsv_cell(t, r, c[C_GROUP]), 1);
    if (s->group < 0)
        return fg_tsv_row_error(t, r, err, FG_ELIMIT, "more than %d vaccine groups", MAX_GROUPS);
    const char *req = fg_tsv_cell(t, r, c[C_REQUIRES]);
    s->requires = *req ? group_index(v, req, 0) : -1;
    if (*req && s->requires < 0)
        return fg_tsv_row_error(t, r, err, FG_EINVALID, "requires \"%s\", no group before it", req);
    s->catchup = num(fg_tsv_cell(t, r, c[C_CATCHUP]), -1);
    const char *season = fg_tsv_cell(t, r, c[C_SEASON]);
    s->season = s->season_end = (int)num(season, 0);
    if (strchr(season, '-'))
        s->season_end = atoi(strchr(season, '-') + 1);
    s->yearly = (int)num(fg_tsv_cell(t, r, c[C_YEARLY]), 0);
    s->spread = (int)num(fg_tsv_cell(t, r, c[C_SPREAD]), 0);
    s->uptake = num(fg_tsv_cell(t, r, c[C_UPTAKE]), -1) / 100.0;
    if (date_cell(fg_tsv_cell(t, r, c[C_FIRST]), &s->from) ||
        date_cell(fg_tsv_cell(t, r, c[C_LAST]), &s->until))
        return fg_tsv_row_error(t, r, err, FG_EINVALID, "first_date and last_date: YYYY-MM-DD or empty");
    if (s->uptake < 0 || s->uptake > 1 || s->season < 0 || s->season > 12 || s->season_end < 0 ||
        s->season_end > 12 || (s->yearly && !s->season) || s->spread < 0)
        return fg_tsv_row_error(t, r, err, FG_EINVALID,
                                "uptake_pct 0-100, season M or M-N with months 1-12 (set for a yearly series), "
                                "spread_days >= 0");
    return FG_OK;
}

static int load_rows(struct eng_vaccines *v, const fg_engine *e, fg_error *err)
{
    static const char *cols[C_COUNT] = {"series", "group", "cvx", "display", "age_months",
                                        "after_months", "catchup_months", "first_date", "last_date",
                                        "season", "yearly", "requires", "spread_days",
                                        "uptake_pct"};
    const fg_tsv *t = v->t;
    size_t c[C_COUNT];
    int rc;
    for (int i = 0; i < C_COUNT; i++)
        if ((rc = fg_tsv_col(t, cols[i], &c[i], err)))
            return rc;
    if (fg_tsv_rows(t) > MAX_DOSES)
        return fg_error_set(err, FG_ELIMIT, fg_tsv_path(t), "more than %d doses", MAX_DOSES);
    for (size_t r = 0; r < fg_tsv_rows(t); r++) {
        const char *name = fg_tsv_cell(t, r, c[C_SERIES]);
        if (!r || strcmp(name, fg_tsv_cell(t, r - 1, c[C_SERIES])) != 0) {
            if (v->n_series == MAX_SERIES)
                return fg_error_set(err, FG_ELIMIT, fg_tsv_path(t), "more than %d series", MAX_SERIES);
            if ((rc = start_series(v, c, r, err)))
                return rc;
        }
        vdose *d = &v->doses[v->n_doses++];
        v->s[v->n_series - 1].n++;
        d->term = (fg_term){FG_SYS_CVX, fg_tsv_cell(t, r, c[C_CVX]), fg_tsv_cell(t, r, c[C_DISPLAY])};
        d->age = num(fg_tsv_cell(t, r, c[C_AGE]), -1);
        d->after = num(fg_tsv_cell(t, r, c[C_AFTER]), -1);
        int first = v->s[v->n_series - 1].n == 1;
        if ((d->age < 0) == (d->after < 0) || (first && d->age < 0))
            return fg_tsv_row_error(t, r, err, FG_EINVALID,
                                    "a dose has age_months or after_months (the first dose an age)");
        if (e->terms && !fg_terminology_find(e->terms, FG_SYS_CVX, d->term.code))
            return fg_tsv_row_error(t, r, err, FG_ENOTFOUND, "CVX %s is not in the terminology tables",
                                    d->term.code);
    }
    return FG_OK;
}

int eng_vaccines_load(fg_engine *e, fg_error *err)
{
    struct eng_vaccines *v = calloc(1, sizeof(*v));
    int rc;
    if (!v)
        return fg_error_set(err, FG_ENOMEM, "tables", "out of memory");
    if ((rc = eng_table_load(e, "tables/immunizations.tsv", &v->t, err)) ||
        (rc = load_rows(v, e, err))) {
        eng_vaccines_free(v);
        return rc;
    }
    e->vaccines = v;
    return FG_OK;
}

/* ---- one patient ---- */

static fg_time add_months(fg_time t, double months)
{
    return t + (fg_time)(months * MONTH_SECONDS);
}

static int in_season(const series *s, fg_time t)
{
    int y, m, d;
    fg_civil_from_days(t >= 0 ? t / FG_DAY : -((-t + FG_DAY - 1) / FG_DAY), &y, &m, &d);
    return s->season <= s->season_end ? m >= s->season && m <= s->season_end
                                      : m >= s->season || m <= s->season_end;
}

/* The first day of s's season on or after t. */
static fg_time next_season(const series *s, fg_time t)
{
    int y, m, d;
    fg_civil_from_days(t / FG_DAY, &y, &m, &d);
    return fg_time_make(m <= s->season ? y : y + 1, s->season, 1, 0, 0, 0);
}

/* When series s can start for a patient born at birth; FG_TIME_NONE when it cannot. */
static fg_time start_of(const struct eng_vaccines *v, const series *s, fg_time birth, fg_rng *r)
{
    fg_time due = add_months(birth, v->doses[s->first].age);
    if (s->season && !in_season(s, due) && s->catchup >= 0) /* at the start of the next season */
        due = next_season(s, due) + fg_rng_range(r, 0, s->spread) * FG_DAY;
    if (s->season && s->catchup >= 0 && due > add_months(birth, s->catchup))
        return FG_TIME_NONE;
    if (s->from != FG_TIME_NONE && due < s->from) {
        if (s->catchup < 0 || s->from > add_months(birth, s->catchup))
            return FG_TIME_NONE;
        due = s->from + fg_rng_range(r, 0, s->spread) * FG_DAY;
        if (s->until != FG_TIME_NONE && due > s->until)
            due = s->until;
        if (due > add_months(birth, s->catchup))
            due = add_months(birth, s->catchup);
    }
    if (s->until != FG_TIME_NONE && due > s->until)
        return FG_TIME_NONE;
    return due;
}

static int give_series(eng_gen *g, fg_rng *r, eng_visit *vs, size_t nv, const series *s,
                       fg_time start, int catchup, fg_error *err)
{
    const struct eng_vaccines *v = g->e->vaccines;
    fg_time birth = g->h->patient.birth_date, due = start;
    /* a dose on the schedule goes to a wellness visit within a month either side; a catch-up
     * or adult dose to one within the months after (never before the product was in use) */
    fg_time slack = (catchup ? CATCHUP_SLACK_DAYS / 2 : SLACK_DAYS) * FG_DAY;
    fg_time ahead = catchup ? slack : 0;
    int rc;
    for (size_t k = 0; k < s->n; k++) {
        const vdose *d = &v->doses[s->first + k];
        if (k) {
            fg_time next = d->after >= 0 ? add_months(due, d->after) : add_months(birth, d->age);
            due = next < due + MIN_INTERVAL_DAYS * FG_DAY ? due + MIN_INTERVAL_DAYS * FG_DAY : next;
        }
        if (due >= g->stop)
            break;
        if (due < g->window_start - SLACK_DAYS * FG_DAY)
            continue; /* before the detailed record */
        if ((rc = eng_give(g, r, vs, nv, due + ahead, slack, s->group, &d->term, err)))
            return rc;
    }
    return FG_OK;
}

/* One dose each season of a yearly series, each season taken with its uptake. */
static int give_yearly(eng_gen *g, fg_rng *r, eng_visit *vs, size_t nv, const series *s,
                       fg_error *err)
{
    const struct eng_vaccines *v = g->e->vaccines;
    const vdose *d = &v->doses[s->first];
    fg_time birth = g->h->patient.birth_date;
    int y0 = 0, y1 = 0, m, dd;
    fg_civil_from_days((s->from != FG_TIME_NONE ? s->from : g->window_start) / FG_DAY, &y0, &m, &dd);
    fg_civil_from_days((g->stop - 1) / FG_DAY, &y1, &m, &dd);
    for (int y = y0; y <= y1; y++) {
        fg_time due = fg_time_make(y, s->season, 1, 0, 0, 0) + fg_rng_range(r, 0, s->spread) * FG_DAY;
        int take = fg_rng_chance(r, s->uptake);
        if (!take || due < g->window_start || due >= g->stop || due < add_months(birth, d->age) ||
            (s->from != FG_TIME_NONE && due < s->from) || (s->until != FG_TIME_NONE && due > s->until))
            continue;
        fg_time half = SLACK_DAYS / 2 * FG_DAY; /* a wellness visit in the month after, never before */
        int rc = eng_give(g, r, vs, nv, due + half, half, s->group, &d->term, err);
        if (rc)
            return rc;
    }
    return FG_OK;
}

int eng_vaccines(eng_gen *g, eng_visit *vs, size_t nv, fg_error *err)
{
    const struct eng_vaccines *v = g->e->vaccines;
    fg_time birth = g->h->patient.birth_date;
    fg_rng r = fg_rng_fork(&g->rng, "vaccines");
    int took[MAX_GROUPS], chosen[MAX_GROUPS];
    if (!v)
        return FG_OK;
    for (size_t i = 0; i < v->n_groups; i++) {
        took[i] = -1;
        chosen[i] = 0;
    }
    for (size_t i = 0; i < v->n_series; i++) {
        const series *s = &v->s[i];
        int rc;
        if (took[s->group] < 0) /* the first series of a group draws it */
            took[s->group] = s->yearly || fg_rng_chance(&r, s->uptake);
        if (!took[s->group] || chosen[s->group] || (s->requires >= 0 && !chosen[s->requires]))
            continue;
        if (s->yearly) {
            chosen[s->group] = 1;
            if ((rc = give_yearly(g, &r, vs, nv, s, err)))
                return rc;
            continue;
        }
        fg_time start = start_of(v, s, birth, &r);
        if (start == FG_TIME_NONE)
            continue;
        chosen[s->group] = 1;
        int catchup = start != add_months(birth, v->doses[s->first].age) || v->doses[s->first].age >= 216;
        if ((rc = give_series(g, &r, vs, nv, s, start, catchup, err)))
            return rc;
    }
    return FG_OK;
}
