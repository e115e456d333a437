/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine.c: the built-in engine (no mapping): determinism, ids, the
 * time and reference invariants of every history, the schedule, errors,
 * and the cohort's age/sex pyramid against data/tables/age_sex.tsv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include <cmocka.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_data.h"
#include "generators/engine/fg_ids.h"
#include "generators/engine/fg_engine.h"
#include "generators/history/fg_history.h"

#define PYRAMID_PATIENTS 20000
#define END_DAY fg_time_make(2025, 6, 1, 0, 0, 0)

static fg_engine *make_engine(int age_min, int age_max, uint64_t seed)
{
    fg_cohort_spec spec;
    fg_error err;
    fg_engine *e = NULL;
    fg_cohort_spec_default(&spec);
    spec.seed = seed;
    spec.end = END_DAY;
    spec.age_min = age_min;
    spec.age_max = age_max;
    int rc = fg_engine_new(fg_data_dir(), &spec, &e, &err);
    if (rc != FG_OK)
        fail_msg("fg_engine_new: %s: %s", err.where, err.text);
    return e;
}

static void test_spec_default(void **state)
{
    (void)state;
    fg_cohort_spec s;
    fg_cohort_spec_default_at(&s, 1700000000);
    assert_int_equal(s.end % FG_DAY, 0);
    assert_int_equal(s.end, 1700000000 - 1700000000 % FG_DAY);
    assert_int_equal(s.years_of_history, 10);
    assert_int_equal(s.sex, -1);
    assert_int_equal(s.age_min, 0);
    assert_int_equal(s.age_max, 110);
    assert_string_equal(s.mrn_system, "https://fhirgen.example/mrn");
}

static void test_deterministic(void **state)
{
    (void)state;
    fg_engine *e = make_engine(0, 110, 42);
    fg_history a, b;
    fg_buf ja, jb;
    fg_error err;
    fg_history_init(&a);
    fg_history_init(&b);
    fg_buf_init(&ja);
    fg_buf_init(&jb);
    for (uint64_t i = 0; i < 20; i++) {
        assert_int_equal(fg_engine_generate(e, i, &a, &err), FG_OK);
        fg_engine_generate(e, i + 1000, &b, &err); /* something else in between */
        assert_int_equal(fg_engine_generate(e, i, &b, &err), FG_OK);
        fg_buf_clear(&ja);
        fg_buf_clear(&jb);
        assert_int_equal(fg_history_write(&a, &ja), FG_OK);
        assert_int_equal(fg_history_write(&b, &jb), FG_OK);
        assert_int_equal(ja.len, jb.len);
        assert_memory_equal(ja.data, jb.data, ja.len);
    }
    fg_buf_free(&ja);
    fg_buf_free(&jb);
    fg_history_free(&a);
    fg_history_free(&b);
    fg_engine_free(e);
}

static void test_ids_differ(void **state)
{
    (void)state;
    fg_engine *e = make_engine(30, 80, 7);
    fg_history a, b;
    fg_error err;
    fg_history_init(&a);
    fg_history_init(&b);
    assert_int_equal(fg_engine_generate(e, 1, &a, &err), FG_OK);
    assert_int_equal(fg_engine_generate(e, 2, &b, &err), FG_OK);
    assert_string_not_equal(a.patient.id, b.patient.id);
    assert_string_not_equal(a.patient.mrn, b.patient.mrn);
    assert_string_not_equal(a.patient.ssn, b.patient.ssn);
    for (size_t i = 0; i < a.encounters.n; i++)
        for (size_t k = 0; k < b.encounters.n; k++)
            assert_string_not_equal(a.encounters.v[i].id, b.encounters.v[k].id);
    fg_engine_free(e);

    /* random ids: the same patient index gets new ids every time */
    fg_cohort_spec spec;
    fg_cohort_spec_default(&spec);
    spec.end = END_DAY;
    spec.random_ids = 1;
    assert_int_equal(fg_engine_new(fg_data_dir(), &spec, &e, &err), FG_OK);
    assert_int_equal(fg_engine_generate(e, 1, &a, &err), FG_OK);
    assert_int_equal(fg_engine_generate(e, 1, &b, &err), FG_OK);
    assert_string_not_equal(a.patient.id, b.patient.id);
    assert_string_equal(a.patient.mrn, b.patient.mrn);
    fg_history_free(&a);
    fg_history_free(&b);
    fg_engine_free(e);
}

#define CHECK_TIME(t, what, idx)                                                               \
    do {                                                                                       \
        if ((t) < lo || (t) > hi)                                                              \
            fail_msg("patient %llu: %s[%zu] at %lld outside [%lld, %lld]",                     \
                     (unsigned long long)p, what, (size_t)(idx), (long long)(t), (long long)lo, \
                     (long long)hi);                                                           \
    } while (0)

#define CHECK_ENC(id, what, idx)                                                               \
    do {                                                                                       \
        if (!fg_history_encounter(h, (id)))                                                    \
            fail_msg("patient %llu: %s[%zu] names unknown encounter %s",                       \
                     (unsigned long long)p, what, (size_t)(idx), (id) ? (id) : "(null)");      \
    } while (0)

static int has_id(const char *id, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] && strcmp(ids[i], id) == 0)
            return 1;
    return 0;
}

static void check_history(const fg_history *h, uint64_t p, fg_time end)
{
    const fg_patient *pt = &h->patient;
    fg_time lo = pt->birth_date;
    fg_time hi = pt->death != FG_TIME_NONE ? pt->death : end;
    assert_non_null(pt->id);
    assert_non_null(pt->given);
    assert_non_null(pt->family);
    assert_non_null(pt->race);
    assert_non_null(pt->ethnicity);
    assert_non_null(pt->address.postal_code);
    assert_true(pt->ssn && strncmp(pt->ssn, "999-", 4) == 0);
    assert_true(pt->phone && strstr(pt->phone, "555-01") != NULL);
    if (pt->death != FG_TIME_NONE)
        assert_non_null(h->death_cause.code);
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        CHECK_TIME(e->start, "encounters", i);
        if (i)
            assert_true(h->encounters.v[i - 1].start <= e->start);
        assert_true(e->end >= e->start);
        /* no well-child visit for an adult */
        if (e->type.code && strcmp(e->type.code, "410620009") == 0)
            assert_true(fg_age_at(pt->birth_date, e->start) < 18);
        if (e->type.code && strcmp(e->type.code, "162673000") == 0)
            assert_true(fg_age_at(pt->birth_date, e->start) >= 18);
        int found = 0;
        for (size_t k = 0; k < h->organizations.n && !found; k++)
            found = strcmp(h->organizations.v[k].id, e->organization) == 0;
        assert_true(found);
        found = 0;
        for (size_t k = 0; k < h->practitioners.n && !found; k++)
            found = strcmp(h->practitioners.v[k].id, e->practitioner) == 0;
        assert_true(found);
    }
    for (size_t i = 0; i < h->observations.n; i++) {
        const fg_observation *o = &h->observations.v[i];
        CHECK_TIME(o->time, "observations", i);
        CHECK_ENC(o->encounter, "observations", i);
        assert_non_null(o->term.code);
        if (o->kind == FG_VALUE_QUANTITY)
            assert_non_null(o->unit);
    }
    for (size_t i = 0; i < h->immunizations.n; i++) {
        CHECK_TIME(h->immunizations.v[i].time, "immunizations", i);
        CHECK_ENC(h->immunizations.v[i].encounter, "immunizations", i);
    }
    for (size_t i = 0; i < h->conditions.n; i++) {
        CHECK_TIME(h->conditions.v[i].onset, "conditions", i);
        if (h->conditions.v[i].encounter)
            CHECK_ENC(h->conditions.v[i].encounter, "conditions", i);
    }
    for (size_t i = 0; i < h->medications.n; i++) {
        CHECK_TIME(h->medications.v[i].start, "medications", i);
        CHECK_ENC(h->medications.v[i].encounter, "medications", i);
    }
    for (size_t i = 0; i < h->procedures.n; i++) {
        CHECK_TIME(h->procedures.v[i].start, "procedures", i);
        CHECK_ENC(h->procedures.v[i].encounter, "procedures", i);
    }
    for (size_t i = 0; i < h->notes.n; i++) {
        CHECK_TIME(h->notes.v[i].time, "notes", i);
        CHECK_ENC(h->notes.v[i].encounter, "notes", i);
    }
    for (size_t i = 0; i < h->reports.n; i++) {
        CHECK_TIME(h->reports.v[i].time, "reports", i);
        CHECK_ENC(h->reports.v[i].encounter, "reports", i);
    }
    for (size_t i = 0; i < h->locations.n; i++) {
        const char *ids[64];
        size_t n = 0;
        for (size_t k = 0; k < h->organizations.n && n < 64; k++)
            ids[n++] = h->organizations.v[k].id;
        assert_true(has_id(h->locations.v[i].organization, ids, n));
    }
    for (size_t i = 0; i < h->organizations.n; i++)
        assert_true(fg_npi_valid(h->organizations.v[i].npi));
    for (size_t i = 0; i < h->practitioners.n; i++)
        assert_true(fg_npi_valid(h->practitioners.v[i].npi));
}

static void test_invariants(void **state)
{
    (void)state;
    fg_engine *e = make_engine(0, 110, 3);
    fg_history h;
    fg_error err;
    fg_history_init(&h);
    for (uint64_t p = 0; p < 1500; p++) {
        int rc = fg_engine_generate(e, p, &h, &err);
        if (rc != FG_OK)
            fail_msg("patient %llu: %s: %s", (unsigned long long)p, err.where, err.text);
        check_history(&h, p, END_DAY);
    }
    fg_history_free(&h);
    fg_engine_free(e);
}

static int count_cvx(const fg_history *h, const char *cvx)
{
    int n = 0;
    for (size_t i = 0; i < h->immunizations.n; i++)
        n += strcmp(h->immunizations.v[i].term.code, cvx) == 0;
    return n;
}

static void test_children_vaccinated(void **state)
{
    (void)state;
    fg_engine *e = make_engine(3, 5, 11);
    fg_history h;
    fg_error err;
    fg_history_init(&h);
    int alive = 0, with_dtap = 0, with_mmr = 0, missing_some = 0;
    for (uint64_t p = 0; p < 200; p++) {
        assert_int_equal(fg_engine_generate(e, p, &h, &err), FG_OK);
        if (h.patient.death != FG_TIME_NONE)
            continue;
        alive++;
        /* born inside the window: a series taken is in the record whole, or not at all */
        int dtap = count_cvx(&h, "20"); /* DTaP at 2, 4, 6, 15 months, and 4 years */
        assert_true(dtap == 0 || dtap == 4 || dtap == 5);
        int ipv = count_cvx(&h, "10"); /* IPV at 2, 4, 6 months, and 4 years */
        assert_true(ipv == 0 || ipv == 3 || ipv == 4);
        int hepb = count_cvx(&h, "08");
        assert_true(hepb == 0 || hepb == 3);
        int mmr = count_cvx(&h, "03");
        with_dtap += dtap > 0;
        with_mmr += mmr > 0;
        missing_some += !dtap || !ipv || !hepb || !mmr;
        int ped = 0;
        for (size_t i = 0; i < h.encounters.n; i++)
            ped += strcmp(h.encounters.v[i].type.code, "410620009") == 0;
        assert_true(ped >= 11);
    }
    assert_true(alive > 190);
    /* coverage as published (DTaP 94%, MMR 92%), not everyone */
    assert_true(with_dtap > alive * 85 / 100 && with_dtap < alive);
    assert_true(with_mmr > alive * 82 / 100 && with_mmr < alive);
    assert_true(missing_some > 0);
    fg_history_free(&h);
    fg_engine_free(e);
}

/* The schedule in force at each date: no live zoster after it left the
 * market, no quadrivalent HPV after 2016, HPV in 2 doses when started before
 * 15; recombinant zoster, PCV20 and COVID-19 given, each to some only. */
static void test_schedule_in_force(void **state)
{
    (void)state;
    fg_engine *e = make_engine(0, 90, 17);
    fg_history h;
    fg_error err;
    fg_history_init(&h);
    int rzv = 0, covid = 0, pcv20 = 0, adults = 0;
    for (uint64_t p = 0; p < 400; p++) {
        assert_int_equal(fg_engine_generate(e, p, &h, &err), FG_OK);
        adults += fg_age_at(h.patient.birth_date, END_DAY) >= 50;
        int hpv9 = 0;
        fg_time hpv_first = FG_TIME_NONE;
        for (size_t i = 0; i < h.immunizations.n; i++) {
            const fg_immunization *im = &h.immunizations.v[i];
            const char *c = im->term.code;
            if (!strcmp(c, "121"))
                assert_true(im->time < fg_time_make(2020, 11, 18, 0, 0, 0));
            if (!strcmp(c, "62"))
                assert_true(im->time < fg_time_make(2017, 1, 1, 0, 0, 0));
            if (!strcmp(c, "165")) {
                hpv9++;
                if (hpv_first == FG_TIME_NONE || im->time < hpv_first)
                    hpv_first = im->time;
            }
            rzv += !strcmp(c, "187");
            pcv20 += !strcmp(c, "216");
            if (!strcmp(c, "208") || !strcmp(c, "300") || !strcmp(c, "309")) {
                covid++;
                assert_true(im->time >= fg_time_make(2020, 12, 14, 0, 0, 0));
            }
        }
        if (hpv9 && hpv_first > fg_time_make(2017, 1, 1, 0, 0, 0) &&
            fg_age_at(h.patient.birth_date, hpv_first) < 15)
            assert_true(hpv9 <= 2);
    }
    assert_true(rzv > 0 && covid > 0 && pcv20 > 0 && adults > 0);
    fg_history_free(&h);
    fg_engine_free(e);
}

static void test_adults_no_child_vaccines(void **state)
{
    (void)state;
    fg_engine *e = make_engine(40, 60, 5);
    fg_history h;
    fg_error err;
    fg_history_init(&h);
    for (uint64_t p = 0; p < 100; p++) {
        assert_int_equal(fg_engine_generate(e, p, &h, &err), FG_OK);
        assert_int_equal(count_cvx(&h, "20"), 0);
        int smoking = 0, wellness = 0;
        for (size_t i = 0; i < h.encounters.n; i++)
            wellness += strcmp(h.encounters.v[i].type.code, "162673000") == 0;
        for (size_t i = 0; i < h.observations.n; i++)
            smoking += strcmp(h.observations.v[i].term.code, "72166-2") == 0;
        assert_int_equal(smoking, wellness);
    }
    fg_history_free(&h);
    fg_engine_free(e);
}

static void test_errors(void **state)
{
    (void)state;
    fg_cohort_spec spec;
    fg_engine *e = NULL;
    fg_error err;
    fg_cohort_spec_default(&spec);
    spec.end = END_DAY;

    spec.state = "ZZ";
    assert_int_equal(fg_engine_new(fg_data_dir(), &spec, &e, &err), FG_ENOTFOUND);
    assert_null(e);
    assert_non_null(strstr(err.text, "ZZ"));
    assert_non_null(strstr(err.text, "MA"));
    assert_non_null(strstr(err.text, "CA"));
    spec.state = "MA";
    assert_int_equal(fg_engine_new(fg_data_dir(), &spec, &e, &err), FG_OK);
    fg_history h;
    fg_history_init(&h);
    for (uint64_t p = 0; p < 20; p++) {
        assert_int_equal(fg_engine_generate(e, p, &h, &err), FG_OK);
        assert_string_equal(h.patient.address.state, "MA");
    }
    fg_history_free(&h);
    fg_engine_free(e);
    e = NULL;
    spec.state = NULL;

    const char *conds[] = {"no-such-condition"};
    spec.conditions = conds;
    spec.n_conditions = 1;
    assert_int_equal(fg_engine_new(fg_data_dir(), &spec, &e, &err), FG_ENOTFOUND);
    assert_non_null(strstr(err.text, "no-such-condition"));
    assert_non_null(strstr(err.text, "known"));
    spec.conditions = NULL;
    spec.n_conditions = 0;

    spec.age_min = 50;
    spec.age_max = 20;
    assert_int_equal(fg_engine_new(fg_data_dir(), &spec, &e, &err), FG_EUSAGE);
    spec.age_min = 0;
    spec.age_max = 111;
    assert_int_equal(fg_engine_new(fg_data_dir(), &spec, &e, &err), FG_EUSAGE);
}

/* Reference bands: data/tables/age_sex.tsv (percent of the total population). */
typedef struct band {
    int lo, hi, sex;
    double pct;
} band;

static size_t read_bands(band *b, size_t max)
{
    char path[4096];
    fg_data_path("tables/age_sex.tsv", path, sizeof(path));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    size_t n = 0;
    while (fgets(line, sizeof(line), f) && n < max) {
        char sex[16], hi[16];
        int lo;
        double pct;
        if (line[0] == '#' || strncmp(line, "age_min", 7) == 0)
            continue;
        /* age_min \t age_max (may be empty) \t sex \t pct */
        char *t1 = strchr(line, '\t');
        if (!t1)
            continue;
        *t1 = 0;
        lo = atoi(line);
        char *t2 = strchr(t1 + 1, '\t');
        *t2 = 0;
        snprintf(hi, sizeof(hi), "%s", t1 + 1);
        if (sscanf(t2 + 1, "%15s %lf", sex, &pct) != 2)
            continue;
        b[n].lo = lo;
        b[n].hi = hi[0] ? atoi(hi) : 200;
        b[n].sex = strcmp(sex, "male") == 0;
        b[n].pct = pct;
        n++;
    }
    fclose(f);
    return n;
}

static void test_pyramid(void **state)
{
    (void)state;
    band b[64];
    size_t nb = read_bands(b, 64);
    assert_int_equal(nb, 36);
    fg_engine *e = make_engine(0, 110, 2024);
    fg_history h;
    fg_error err;
    double all[64] = {0}, living[64] = {0};
    size_t n_living = 0, deaths = 0;
    fg_history_init(&h);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t p = 0; p < PYRAMID_PATIENTS; p++) {
        assert_int_equal(fg_engine_generate(e, p, &h, &err), FG_OK);
        int age = fg_age_at(h.patient.birth_date, END_DAY);
        int sex = h.patient.sex == FG_SEX_MALE;
        int alive = h.patient.death == FG_TIME_NONE;
        for (size_t k = 0; k < nb; k++)
            if (b[k].sex == sex && age >= b[k].lo && age <= b[k].hi) {
                all[k]++;
                living[k] += alive;
            }
        n_living += alive;
        deaths += !alive;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("engine: %d patients in %.2f s (%.0f patients/s, one core); %.1f%% died in the "
                  "10-year window\n",
                  PYRAMID_PATIENTS, secs, PYRAMID_PATIENTS / secs, 100.0 * (double)deaths / PYRAMID_PATIENTS);
    double worst = 0;
    for (size_t k = 0; k < nb; k++) {
        double pa = 100.0 * all[k] / PYRAMID_PATIENTS, pl = 100.0 * living[k] / (double)n_living;
        double d = fabs(pa - b[k].pct) > fabs(pl - b[k].pct) ? fabs(pa - b[k].pct) : fabs(pl - b[k].pct);
        if (d > worst)
            worst = d;
        if (d > 3.0)
            fail_msg("band %d-%d %s: reference %.2f%%, cohort %.2f%%, living %.2f%%", b[k].lo, b[k].hi,
                     b[k].sex ? "male" : "female", b[k].pct, pa, pl);
    }
    print_message("engine: largest band difference %.2f percentage points\n", worst);
    /* about the population's crude death rate per year of window */
    assert_true(deaths > PYRAMID_PATIENTS * 3 / 100 && deaths < PYRAMID_PATIENTS * 15 / 100);
    fg_history_free(&h);
    fg_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_default),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_ids_differ),
        cmocka_unit_test(test_invariants),
        cmocka_unit_test(test_children_vaccinated),
        cmocka_unit_test(test_schedule_in_force),
        cmocka_unit_test(test_adults_no_child_vaccines),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_pyramid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
