/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_preventive.c: the screenings of the adult wellness visits.
 *
 * data/tables/screenings.tsv lists, for each screening (colorectal,
 * mammography, cervical, lipid, diabetes, depression), its tests by age
 * band and sex with their interval, uptake and test share;
 * data/tables/screening_results.tsv gives the results each test writes.
 * The pass runs after the lifetime schedule and walks the patient's adult
 * wellness visits in time order. Each patient draws once per screening
 * whether they take it up and which test they prefer, so the same people
 * stay up to date year after year; a screening done before the detailed
 * window is assumed at a random phase of its interval.
 *
 * Results agree with the patient's conditions: a patient whose condition
 * is diagnosed is followed by its module and not screened; a condition
 * that begins within the test's lead time gives the abnormal results of
 * the stage before diagnosis; everyone else gets normal results, below the
 * thresholds at which the modules diagnose.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generators/engine/engine_module.h"
#include "generators/engine/engine_private.h"
#include "generators/engine/fg_engine.h"

#define PV_MAX_SCREENINGS 16
#define PV_MAX_RESULTS 8 /* results of one test and state */
#define PV_DUE_SLACK_DAYS 90 /* a test this close to due is done at the visit */

enum { PV_PROCEDURE, PV_PANEL, PV_RESULTS, PV_PHQ };

typedef struct pv_test {
    const char *screening, *test, *exclude, *abnormal;
    int kind, sex; /* sex -1 any */
    int age_lo, age_hi, from_year;
    double interval_days, uptake, share, min_bmi, lead_days;
    fg_term term;
} pv_test;

typedef struct pv_result {
    const char *test, *state, *unit;
    fg_obs_category category;
    fg_term term;
    double mean, sd, min, max;
    int decimals;
} pv_result;

struct eng_prev {
    fg_tsv *tests_t, *results_t;
    pv_test *tests;
    size_t n_tests;
    pv_result *results;
    size_t n_results;
    fg_term wellness, visit;
    double phq_threshold;
    const pv_result *answers[4], *negative, *positive, *items[2];
};

void eng_preventive_free(struct eng_prev *p)
{
    if (!p)
        return;
    fg_tsv_free(p->tests_t);
    fg_tsv_free(p->results_t);
    free(p->tests);
    free(p->results);
    free(p);
}

/* The term of row i from its system_uri/code/display cells; FG_EINVALID when
 * a code is not in the terminology tables. An empty code gives an empty term. */
static int row_term(const fg_engine *e, const fg_tsv *t, size_t i, fg_term *out, fg_error *err)
{
    size_t cs, cc, cd;
    int rc;
    if ((rc = fg_tsv_col(t, "system_uri", &cs, err)) || (rc = fg_tsv_col(t, "code", &cc, err)) ||
        (rc = fg_tsv_col(t, "display", &cd, err)))
        return rc;
    memset(out, 0, sizeof(*out));
    if (!*fg_tsv_cell(t, i, cc))
        return FG_OK;
    out->system = fg_tsv_cell(t, i, cs);
    out->code = fg_tsv_cell(t, i, cc);
    out->display = fg_tsv_cell(t, i, cd);
    if (!fg_terminology_find(e->terms, out->system, out->code))
        return fg_tsv_row_error(t, i, err, FG_EINVALID, "%s|%s is not in data/terminology",
                                out->system, out->code);
    return FG_OK;
}

/* The number in column `name` of row i; an empty cell gives def. */
static int cell_num(const fg_tsv *t, size_t i, const char *name, double def, double *out,
                    fg_error *err)
{
    size_t c;
    int rc = fg_tsv_col(t, name, &c, err);
    if (rc)
        return rc;
    if (!*fg_tsv_cell(t, i, c)) {
        *out = def;
        return FG_OK;
    }
    return fg_tsv_double(t, i, c, out, err);
}

static const char *cell(const fg_tsv *t, size_t i, const char *name)
{
    size_t c;
    return fg_tsv_col(t, name, &c, NULL) == FG_OK ? fg_tsv_cell(t, i, c) : "";
}

/* 1 when every name of the '|'-separated list is a condition module. */
static int known_modules(const fg_engine *e, const char *list)
{
    for (const char *s = list; s && *s;) {
        size_t len = strcspn(s, "|"), k, n = eng_modules_count(e->modules);
        for (k = 0; k < n; k++) {
            const char *name = eng_modules_name(e->modules, k);
            if (strlen(name) == len && !strncmp(name, s, len))
                break;
        }
        if (k == n)
            return 0;
        s += len + (s[len] == '|');
    }
    return 1;
}

static int load_tests(const fg_engine *e, struct eng_prev *p, fg_error *err)
{
    static const char *kinds[] = {"procedure", "panel", "results", "phq"};
    const fg_tsv *t = p->tests_t;
    size_t n = fg_tsv_rows(t);
    if (!(p->tests = calloc(n ? n : 1, sizeof(*p->tests))))
        return fg_error_set(err, FG_ENOMEM, "screenings", "out of memory");
    for (size_t i = 0; i < n; i++) {
        pv_test *x = &p->tests[i];
        double lo, hi, from, interval, uptake;
        int rc;
        if ((rc = cell_num(t, i, "age_lo", NAN, &lo, err)) ||
            (rc = cell_num(t, i, "age_hi", NAN, &hi, err)) ||
            (rc = cell_num(t, i, "from_year", 0, &from, err)) ||
            (rc = cell_num(t, i, "interval_years", NAN, &interval, err)) ||
            (rc = cell_num(t, i, "uptake_pct", NAN, &uptake, err)) ||
            (rc = cell_num(t, i, "test_share", 1, &x->share, err)) ||
            (rc = cell_num(t, i, "min_bmi", 0, &x->min_bmi, err)) ||
            (rc = cell_num(t, i, "lead_days", 0, &x->lead_days, err)) ||
            (rc = row_term(e, t, i, &x->term, err)))
            return rc;
        x->screening = cell(t, i, "screening");
        x->test = cell(t, i, "test");
        x->exclude = cell(t, i, "exclude");
        x->abnormal = cell(t, i, "abnormal");
        x->age_lo = (int)lo;
        x->age_hi = (int)hi;
        x->from_year = (int)from;
        x->interval_days = interval * FG_YEAR_DAYS;
        x->uptake = uptake / 100.0;
        const char *sex = cell(t, i, "sex");
        x->sex = !strcmp(sex, "female") ? FG_SEX_FEMALE : !strcmp(sex, "male") ? FG_SEX_MALE : -1;
        x->kind = -1;
        for (int k = 0; k < 4; k++)
            if (!strcmp(cell(t, i, "kind"), kinds[k]))
                x->kind = k;
        if (!known_modules(e, x->exclude) || !known_modules(e, x->abnormal))
            return fg_tsv_row_error(t, i, err, FG_EINVALID,
                                    "exclude and abnormal name condition modules, separated by |");
        if (x->kind < 0 || !x->term.code || interval <= 0)
            return fg_tsv_row_error(t, i, err, FG_EINVALID,
                                    "kind must be procedure, panel, results or phq, with a code "
                                    "and a positive interval");
    }
    p->n_tests = n;
    return FG_OK;
}

static int load_results(const fg_engine *e, struct eng_prev *p, fg_error *err)
{
    const fg_tsv *t = p->results_t;
    size_t n = fg_tsv_rows(t);
    if (!(p->results = calloc(n ? n : 1, sizeof(*p->results))))
        return fg_error_set(err, FG_ENOMEM, "screening results", "out of memory");
    for (size_t i = 0; i < n; i++) {
        pv_result *x = &p->results[i];
        double dec;
        int rc;
        if ((rc = cell_num(t, i, "mean", 0, &x->mean, err)) ||
            (rc = cell_num(t, i, "sd", 0, &x->sd, err)) ||
            (rc = cell_num(t, i, "min", -1e9, &x->min, err)) ||
            (rc = cell_num(t, i, "max", 1e9, &x->max, err)) ||
            (rc = cell_num(t, i, "decimals", 0, &dec, err)) ||
            (rc = row_term(e, t, i, &x->term, err)))
            return rc;
        x->test = cell(t, i, "test");
        x->state = cell(t, i, "state");
        x->unit = *cell(t, i, "unit") ? cell(t, i, "unit") : NULL;
        x->category = !strcmp(cell(t, i, "category"), "survey") ? FG_OBS_SURVEY : FG_OBS_LAB;
        x->decimals = (int)dec;
        if (!strcmp(x->test, "_answer") && x->state[0] >= '0' && x->state[0] <= '3')
            p->answers[x->state[0] - '0'] = x;
        else if (!strcmp(x->test, "_value"))
            *(!strcmp(x->state, "positive") ? &p->positive : &p->negative) = x;
        else if (!strcmp(x->test, "phq_item") && !p->items[0])
            p->items[0] = x;
        else if (!strcmp(x->test, "phq_item"))
            p->items[1] = x;
        else if (!strcmp(x->test, "phq") && !strcmp(x->state, "threshold"))
            p->phq_threshold = x->mean;
    }
    p->n_results = n;
    for (int k = 0; k < 4; k++)
        if (!p->answers[k])
            return fg_error_set(err, FG_EINVALID, fg_tsv_path(t), "needs _answer rows 0 to 3");
    if (!p->positive || !p->negative || !p->items[1] || p->phq_threshold <= 0)
        return fg_error_set(err, FG_EINVALID, fg_tsv_path(t),
                            "needs _value positive/negative, two phq_item rows and a phq threshold");
    return FG_OK;
}

int eng_preventive_load(fg_engine *e, fg_error *err)
{
    struct eng_prev *p = calloc(1, sizeof(*p));
    int rc;
    if (!p)
        return fg_error_set(err, FG_ENOMEM, "screenings", "out of memory");
    e->prev = p;
    if ((rc = eng_table_load(e, "tables/screenings.tsv", &p->tests_t, err)) ||
        (rc = eng_table_load(e, "tables/screening_results.tsv", &p->results_t, err)) ||
        (rc = load_tests(e, p, err)) || (rc = load_results(e, p, err)) ||
        (rc = eng_vocab_term(e, "enc.wellness_adult", &p->wellness, NULL, err)) ||
        (rc = eng_vocab_term(e, "enc.checkup", &p->visit, NULL, err)))
        return rc;
    return FG_OK;
}

/* ---- one patient ---- */

typedef struct pv_state {
    eng_gen *g;
    const struct eng_prev *p;
    fg_rng rng;
    fg_error *err;
} pv_state;

typedef struct pv_visit {
    const char *id;
    fg_time start;
} pv_visit;

static int oom(pv_state *s)
{
    return fg_error_set(s->err, FG_ENOMEM, "engine.preventive", "out of memory");
}

/* 1 when a condition named in the '|'-separated list is active at t, or
 * (lead > 0) begins within lead days after t. */
static int has_condition(const eng_gen *g, const char *list, fg_time t, double lead)
{
    if (!list || !*list)
        return 0;
    fg_time until = t + (fg_time)(lead * FG_DAY);
    for (size_t i = 0; i < g->n_conds; i++) {
        const eng_cond *c = &g->conds[i];
        if (c->onset == FG_TIME_NONE || c->onset > until ||
            (c->resolved != FG_TIME_NONE && c->resolved <= t))
            continue;
        size_t len = strlen(c->module->name);
        for (const char *s = list; s; s = strchr(s, '|')) {
            if (*s == '|')
                s++;
            if (!strncmp(s, c->module->name, len) && (s[len] == 0 || s[len] == '|'))
                return 1;
        }
    }
    return 0;
}

static double bmi_at(const eng_gen *g, fg_time t)
{
    eng_vital_shift sh;
    memset(&sh, 0, sizeof(sh));
    eng_conditions_vitals(g, t, &sh);
    return g->bmi_base + sh.bmi;
}

/* The test of `screening` for this age, sex and year that the patient's
 * preference v picks among those rows by share; NULL when none applies. */
static const pv_test *pick_test(const struct eng_prev *p, const char *screening, int age,
                                fg_sex sex, int year, double v)
{
    const pv_test *m[PV_MAX_SCREENINGS];
    size_t n = 0;
    double sum = 0;
    for (size_t i = 0; i < p->n_tests && n < PV_MAX_SCREENINGS; i++) {
        const pv_test *x = &p->tests[i];
        if (strcmp(x->screening, screening) || age < x->age_lo || age > x->age_hi ||
            (x->sex >= 0 && x->sex != (int)sex) || year < x->from_year)
            continue;
        m[n++] = x;
        sum += x->share;
    }
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += m[i]->share;
        if (v * sum < acc)
            return m[i];
    }
    return n ? m[n - 1] : NULL;
}

static fg_observation *add_obs(pv_state *s, const char *enc, const pv_result *r, fg_time at)
{
    fg_observation *o = FG_PUSH(s->g->h, observations);
    if (!o || !(o->id = eng_new_id(s->g)))
        return NULL;
    o->encounter = enc;
    o->category = r->category;
    o->term = r->term;
    o->time = at;
    return o;
}

/* A quantity drawn from r (clipped to its range), or a coded Positive with
 * probability r->mean; *positive says which. NULL when out of memory. */
static const char *add_result(pv_state *s, const char *enc, const pv_result *r, fg_time at,
                              int *positive)
{
    fg_observation *o = add_obs(s, enc, r, at);
    if (!o)
        return NULL;
    if (r->unit) {
        double x = fg_rng_normal(&s->rng, r->mean, r->sd);
        o->kind = FG_VALUE_QUANTITY;
        o->value = x < r->min ? r->min : x > r->max ? r->max : x;
        o->unit = r->unit;
        o->decimals = r->decimals;
    } else {
        int pos = fg_rng_chance(&s->rng, r->mean);
        o->kind = FG_VALUE_CODE;
        o->code_value = pos ? s->p->positive->term : s->p->negative->term;
        if (positive)
            *positive |= pos;
    }
    return o->id;
}

/* The rows of test in state (falling back to "normal"). */
static size_t find_results(const struct eng_prev *p, const char *test, int abnormal,
                           const pv_result **out)
{
    size_t n = 0;
    for (int pass = 0; pass < 2 && n == 0; pass++) {
        const char *state = abnormal && pass == 0 ? "abnormal" : "normal";
        for (size_t i = 0; i < p->n_results && n < PV_MAX_RESULTS; i++)
            if (!strcmp(p->results[i].test, test) && !strcmp(p->results[i].state, state))
                out[n++] = &p->results[i];
    }
    return n;
}

/* A procedure at a visit of its own `days` after the wellness visit. */
static int procedure_visit(pv_state *s, const fg_term *term, fg_time day)
{
    eng_gen *g = s->g;
    day -= ((day % FG_DAY) + FG_DAY) % FG_DAY;
    fg_time t = day + (8 * 60 + 15 * fg_rng_range(&s->rng, 0, 30)) * 60;
    if (t >= g->stop - 3600)
        return FG_OK;
    fg_encounter *enc = eng_add_encounter(g, t, 60, FG_CLASS_AMB, &s->p->visit, term);
    if (!enc)
        return oom(s);
    const char *enc_id = enc->id;
    fg_procedure *pr = FG_PUSH(g->h, procedures);
    if (!pr || !(pr->id = eng_new_id(g)))
        return oom(s);
    pr->encounter = enc_id;
    pr->term = *term;
    pr->start = t + 10 * 60;
    pr->end = t + (10 + fg_rng_range(&s->rng, 20, 40)) * 60;
    return FG_OK;
}

/* PHQ-2 (two items and the total), then the PHQ-9 total when positive. */
static int phq(pv_state *s, const pv_visit *v, int abnormal)
{
    const struct eng_prev *p = s->p;
    const pv_result *r[PV_MAX_RESULTS];
    fg_time at = v->start + 10 * 60;
    if (!find_results(p, "phq", abnormal, r))
        return FG_OK;
    double x = fg_rng_normal(&s->rng, r[0]->mean, r[0]->sd);
    int total = (int)(x < r[0]->min ? r[0]->min : x > r[0]->max ? r[0]->max : x + 0.5);
    int first = total <= 3 ? (int)fg_rng_range(&s->rng, 0, total) : (int)fg_rng_range(&s->rng, total - 3, 3);
    int item[2] = {first, total - first};
    for (int k = 0; k < 2; k++) {
        fg_observation *o = add_obs(s, v->id, p->items[k], at);
        if (!o)
            return oom(s);
        o->kind = FG_VALUE_CODE;
        o->code_value = p->answers[item[k]]->term;
    }
    fg_observation *o = add_obs(s, v->id, r[0], at);
    if (!o)
        return oom(s);
    o->kind = FG_VALUE_QUANTITY;
    o->value = total;
    o->unit = r[0]->unit;
    if (total >= p->phq_threshold && find_results(p, "phq9", abnormal, r) &&
        !add_result(s, v->id, r[0], at + 5 * 60, NULL))
        return oom(s);
    return FG_OK;
}

/* Do test x at wellness visit v; *next_due is when the screening is next due. */
static int do_test(pv_state *s, const pv_test *x, const pv_visit *v, fg_time *next_due)
{
    const struct eng_prev *p = s->p;
    int abnormal = has_condition(s->g, x->abnormal, v->start, x->lead_days);
    const pv_result *r[PV_MAX_RESULTS];
    const char *ids[PV_MAX_RESULTS];
    int positive = 0;
    *next_due = v->start + (fg_time)(x->interval_days * FG_DAY);
    if (x->kind == PV_PROCEDURE)
        return procedure_visit(s, &x->term, v->start + fg_rng_range(&s->rng, 14, 42) * FG_DAY);
    if (x->kind == PV_PHQ)
        return phq(s, v, abnormal);
    size_t n = find_results(p, x->test, abnormal, r);
    for (size_t i = 0; i < n; i++)
        if (!(ids[i] = add_result(s, v->id, r[i], v->start + 20 * 60, &positive)))
            return oom(s);
    if (x->kind == PV_PANEL && n) {
        fg_report *rep = FG_PUSH(s->g->h, reports);
        const char **res = fg_arena_alloc(&s->g->h->arena, n * sizeof(*res));
        if (!rep || !res || !(rep->id = eng_new_id(s->g)))
            return oom(s);
        memcpy(res, ids, n * sizeof(*res));
        rep->encounter = v->id;
        rep->term = x->term;
        rep->time = v->start + 20 * 60;
        rep->results = res;
        rep->n_results = n;
    }
    /* a positive stool test is followed by a colonoscopy of the same screening */
    for (size_t i = 0; positive && i < p->n_tests; i++) {
        const pv_test *f = &p->tests[i];
        if (f->kind == PV_PROCEDURE && !strcmp(f->screening, x->screening)) {
            fg_time day = v->start + fg_rng_range(&s->rng, 21, 60) * FG_DAY;
            *next_due = day + (fg_time)(f->interval_days * FG_DAY);
            return procedure_visit(s, &f->term, day);
        }
    }
    return FG_OK;
}

static int screen(pv_state *s, const char *screening, const pv_visit *vs, size_t nv)
{
    const eng_gen *g = s->g;
    const fg_patient *pt = &g->h->patient;
    double uptake = fg_rng_uniform(&s->rng), pref = fg_rng_uniform(&s->rng);
    double phase = fg_rng_uniform(&s->rng);
    fg_time next_due = FG_TIME_NONE;
    for (size_t k = 0; k < nv; k++) {
        const pv_visit *v = &vs[k];
        int year;
        fg_civil_from_days(v->start / FG_DAY, &year, &(int){0}, &(int){0});
        const pv_test *x = pick_test(s->p, screening, fg_age_at(pt->birth_date, v->start),
                                     pt->sex, year, pref);
        if (!x || uptake >= x->uptake || has_condition(g, x->exclude, v->start, 0) ||
            (x->min_bmi > 0 && bmi_at(g, v->start) < x->min_bmi))
            continue;
        /* eligible at the window's start: the last test lies at a random phase before it */
        if (next_due == FG_TIME_NONE && v->start - g->window_start < FG_YEAR_DAYS * FG_DAY &&
            fg_age_at(pt->birth_date, g->window_start) > x->age_lo)
            next_due = v->start + (fg_time)((1.0 - phase) * x->interval_days * FG_DAY);
        if (next_due != FG_TIME_NONE && v->start < next_due - PV_DUE_SLACK_DAYS * FG_DAY)
            continue;
        int rc = do_test(s, x, v, &next_due);
        if (rc)
            return rc;
    }
    return FG_OK;
}

int eng_preventive(eng_gen *g, fg_error *err)
{
    const struct eng_prev *p = g->e->prev;
    fg_history *h = g->h;
    if (!p || g->stop <= g->window_start)
        return FG_OK;
    pv_state s = {g, p, fg_rng_fork(&g->rng, "preventive"), err};
    size_t nv = 0;
    pv_visit *vs = fg_arena_alloc(&h->arena, (h->encounters.n + 1) * sizeof(*vs));
    if (!vs)
        return oom(&s);
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        if (e->type.code && !strcmp(e->type.code, p->wellness.code) && e->start >= g->window_start &&
            e->start < g->stop) {
            vs[nv].id = e->id;
            vs[nv++].start = e->start;
        }
    }
    const char *done[PV_MAX_SCREENINGS];
    size_t n_done = 0;
    for (size_t i = 0; i < p->n_tests; i++) {
        const char *name = p->tests[i].screening;
        size_t k;
        for (k = 0; k < n_done && strcmp(done[k], name); k++)
            ;
        if (k < n_done || n_done == PV_MAX_SCREENINGS)
            continue;
        done[n_done++] = name;
        int rc = screen(&s, name, vs, nv);
        if (rc)
            return rc;
    }
    return FG_OK;
}
