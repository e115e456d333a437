/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hospital.c: ED visits, hospital stays and causes of death of the
 * built-in engine, over a cohort.
 *
 * Rates are checked against the ranges the data file names (NHAMCS: about
 * 400-450 ED visits per 1,000 a year, HCUP: about 100 stays per 1,000 a
 * year, both crude over a population older than the cohort's detailed
 * windows, hence the wide bounds); every stay with an admit source has a
 * discharge disposition, every death a cause other than "unknown" in most
 * cases, a cause-of-death observation at or before it, and a visit that
 * ends at it. Codes are read from data/hospital/hospital.json, never
 * written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "fhir/base/fg_data.h"
#include "generators/engine/fg_engine.h"
#include "generators/history/fg_history.h"

#define COHORT 1500
#define END_DAY fg_time_make(2025, 6, 1, 0, 0, 0)
#define YEAR ((double)FG_YEAR_DAYS * FG_DAY)

typedef struct tally {
    double person_years;
    long ed, stays, deaths, with_cause, with_obs, ended_at_death, expired;
} tally;

static const char *data_code(json_t *doc, const char *section, const char *key)
{
    const char *c = json_string_value(json_object_get(
        json_object_get(json_object_get(doc, section), key), "code"));
    if (!c)
        fail_msg("data/hospital/hospital.json: %s.%s has no code", section, key);
    return c;
}

static void count_patient(const fg_history *h, fg_time window, tally *t, const char *cod_code,
                          const char *expired_code, const char *unknown_code)
{
    const fg_patient *p = &h->patient;
    fg_time from = p->birth_date > window ? p->birth_date : window;
    fg_time to = p->death != FG_TIME_NONE ? p->death : END_DAY;
    t->person_years += (double)(to - from) / YEAR;
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        if (e->start < from)
            continue;
        t->ed += e->cls == FG_CLASS_EMER;
        if (e->cls == FG_CLASS_IMP) {
            t->stays++;
            /* the hospital pass's stays (deliveries come from the pregnancy episodes) */
            assert_true(!e->admit_source.code == !e->discharge_disposition.code);
            assert_true(e->end >= e->start);
        }
        if (e->discharge_disposition.code && !strcmp(e->discharge_disposition.code, expired_code)) {
            t->expired++;
            assert_true(p->death != FG_TIME_NONE && e->end == p->death);
        }
        if (p->death != FG_TIME_NONE && e->end == p->death)
            t->ended_at_death++;
    }
    if (p->death == FG_TIME_NONE)
        return;
    t->deaths++;
    assert_non_null(h->death_cause.code);
    t->with_cause += strcmp(h->death_cause.code, unknown_code) != 0;
    for (size_t i = 0; i < h->observations.n; i++) {
        const fg_observation *o = &h->observations.v[i];
        if (o->term.code && !strcmp(o->term.code, cod_code)) {
            assert_string_equal(o->code_value.code, h->death_cause.code);
            assert_true(o->time == p->death);
            t->with_obs++;
        }
    }
}

static void test_rates_and_deaths(void **state)
{
    (void)state;
    char path[4096];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/hospital/hospital.json", fg_data_dir());
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        fail_msg("%s: %s", path, jerr.text);
    const char *cod = data_code(doc, "codes", "cause_of_death");
    const char *expired = data_code(doc, "dispositions", "expired");
    json_t *list = json_object_get(json_object_get(doc, "causes"), "list");
    const char *unknown = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) if (!strcmp(json_string_value(json_object_get(c, "key")), "unknown"))
        unknown = json_string_value(json_object_get(json_object_get(c, "term"), "code"));
    assert_non_null(unknown);

    fg_cohort_spec spec;
    fg_error err;
    fg_engine *e = NULL;
    fg_cohort_spec_default(&spec);
    spec.seed = 2026;
    spec.end = END_DAY;
    if (fg_engine_new(fg_data_dir(), &spec, &e, &err) != FG_OK)
        fail_msg("fg_engine_new: %s: %s", err.where, err.text);
    fg_history h;
    fg_history_init(&h);
    tally t = {0};
    fg_time window = fg_add_years(END_DAY, -spec.years_of_history);
    for (uint64_t k = 0; k < COHORT; k++) {
        if (fg_engine_generate(e, k, &h, &err) != FG_OK)
            fail_msg("patient %llu: %s: %s", (unsigned long long)k, err.where, err.text);
        count_patient(&h, window, &t, cod, expired, unknown);
    }
    double ed = 1000.0 * (double)t.ed / t.person_years;
    double stays = 1000.0 * (double)t.stays / t.person_years;
    print_message("%.0f person-years: %.0f ED visits and %.0f stays per 1,000 a year; %ld deaths, "
                  "%ld with a known cause, %ld with the observation, %ld with a visit ending at "
                  "death, %ld expired in hospital\n",
                  t.person_years, ed, stays, t.deaths, t.with_cause, t.with_obs,
                  t.ended_at_death, t.expired);
    assert_true(ed > 250 && ed < 550);
    assert_true(stays > 40 && stays < 140);
    assert_true(t.deaths > 50);
    assert_int_equal(t.with_obs, t.deaths);
    assert_true(t.ended_at_death >= t.deaths);
    assert_true(t.with_cause >= t.deaths * 7 / 10);
    assert_true(t.expired >= t.deaths / 5);
    fg_history_free(&h);
    fg_engine_free(e);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_and_deaths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
