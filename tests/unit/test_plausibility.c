/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_plausibility.c: each plausibility rule on a history that breaks it and on
 * one that keeps it, the rule tables, and the engine's own histories (a few
 * hundred patients, grounded and checked: no finding at all).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fhir/base/fg_data.h"
#include "generators/history/fg_history.h"
#include "fhir/base/fg_tsv.h"
#include "generators/llm/fg_ground.h"
#include "validators/fg_plausibility.h"
#include "generators/engine/fg_engine.h"

#define COMPLETE_HISTORY "tests/data/history/valid/complete.json"

static fg_plausibility_rules *rules;
static fg_terminology *terms;

static int setup(void **state)
{
    (void)state;
    char path[4096];
    fg_error err;
    if (fg_plausibility_load(fg_data_dir(), &rules, &err) != FG_OK) {
        fprintf(stderr, "cannot load the plausibility rules: %s %s\n", err.where, err.text);
        return -1;
    }
    if (!fg_data_path("terminology", path, sizeof(path)) ||
        fg_terminology_load(path, &terms, &err) != FG_OK) {
        fprintf(stderr, "cannot load the terminology: %s %s\n", err.where, err.text);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fg_plausibility_free(rules);
    fg_terminology_free(terms);
    return 0;
}

/* complete.json: a woman born 1970-04-12; e1 on 2020-03-02 (hypertension
 * c1 recorded, BP, weight, glucose, smoking), e2 on 2020-06-01 (lisinopril
 * for c1, ECG, care plan, note). */
static void load(fg_history *h)
{
    char *json = NULL;
    size_t len = 0;
    fg_error err;
    fg_history_init(h);
    assert_int_equal(fg_read_file(COMPLETE_HISTORY, FG_MAX_HISTORY_BYTES, &json, &len, &err),
                     FG_OK);
    assert_int_equal(fg_history_parse(h, json, len, COMPLETE_HISTORY, &err), FG_OK);
    free(json);
}

/* Check h with facts (NULL: its own) into f, reset first. */
static void check(const fg_history *h, const fg_plausibility_facts *facts, fg_findings *f)
{
    fg_error err;
    fg_findings_reset(f);
    assert_int_equal(fg_plausibility_check(rules, h, facts, f, &err), FG_OK);
    for (size_t i = 0; i < f->n; i++)
        assert_int_equal(f->v[i].kind, FG_FIND_INCOHERENT);
}

/* The finding at path whose message contains text, or a failure. */
static void expect(const fg_findings *f, const char *path, const char *text)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].path, path) == 0 && strstr(f->v[i].message, text))
            return;
    for (size_t i = 0; i < f->n; i++)
        print_message("  %s: %s\n", f->v[i].path, f->v[i].message);
    fail_msg("no finding at %s containing \"%s\"", path, text);
}

static void test_clean(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    load(&h);
    fg_findings_init(&f);
    check(&h, NULL, &f);
    assert_int_equal(f.n, 0);
    fg_plausibility_facts facts;
    fg_plausibility_facts_of(&h, &facts);
    facts.history_start = fg_time_make(2016, 1, 1, 0, 0, 0);
    facts.history_end = fg_time_make(2021, 1, 1, 0, 0, 0);
    check(&h, &facts, &f);
    assert_int_equal(f.n, 0);
    fg_findings_free(&f);
    fg_history_free(&h);
}

static void test_life_and_window(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    fg_plausibility_facts facts;
    load(&h);
    fg_findings_init(&f);
    /* Before birth. */
    h.immunizations.v[0].time = fg_time_make(1969, 1, 1, 0, 0, 0);
    check(&h, NULL, &f);
    expect(&f, "immunizations[0].time", "before the patient's birth (1970-04-12)");
    fg_history_free(&h);
    /* After death (the skeleton's), after the end of the history. */
    load(&h);
    fg_plausibility_facts_of(&h, &facts);
    facts.death = fg_time_make(2020, 4, 1, 0, 0, 0);
    check(&h, &facts, &f);
    expect(&f, "medications[0].start", "after the patient's death (2020-04-01)");
    expect(&f, "encounters[1].start", "after the patient's death");
    facts.death = FG_TIME_NONE;
    facts.history_end = fg_time_make(2020, 5, 1, 0, 0, 0);
    check(&h, &facts, &f);
    expect(&f, "notes[0].time", "after the end of the history (2020-05-01)");
    /* A diagnosis before the window is a fact of the past, not an error. */
    facts.history_end = FG_TIME_NONE;
    facts.history_start = fg_time_make(2020, 5, 1, 0, 0, 0);
    check(&h, &facts, &f);
    assert_int_equal(f.n, 0);
    fg_findings_free(&f);
    fg_history_free(&h);
}

static void test_order_and_encounters(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    load(&h);
    fg_findings_init(&f);
    h.encounters.v[0].end = h.encounters.v[0].start - 3600;
    h.conditions.v[0].abatement = fg_time_make(2019, 1, 1, 0, 0, 0);
    h.procedures.v[0].start += 5 * FG_DAY;
    h.procedures.v[0].end = h.procedures.v[0].start + 600;
    h.observations.v[1].encounter = "e9";
    h.reports.v[0].results[0] = "obs-nothing";
    check(&h, NULL, &f);
    expect(&f, "encounters[0].end", "is before the start");
    expect(&f, "conditions[0].abatement", "is before the onset (2020-03-02)");
    expect(&f, "procedures[0].start", "is not on the days of its encounter e2 (2020-06-01)");
    expect(&f, "encounters[0].end", "is before the start");
    expect(&f, "observations[1].encounter", "no encounter has id \"e9\"");
    expect(&f, "reports[0].results[0]", "no observation has id \"obs-nothing\"");
    fg_history_free(&h);
    /* An encounter dated before birth is reported once, at the encounter,
     * not again at each of its events. */
    load(&h);
    h.encounters.v[0].start = fg_time_make(1948, 2, 4, 9, 0, 0);
    h.encounters.v[0].end = h.encounters.v[0].start + 1800;
    check(&h, NULL, &f);
    expect(&f, "encounters[0].start", "before the patient's birth");
    expect(&f, "encounters[0].end", "before the patient's birth");
    assert_int_equal(f.n, 2);
    fg_history_free(&h);
    /* A two-day encounter names both days; a condition recorded years
     * after its encounter gets a hint. */
    load(&h);
    h.encounters.v[1].end += 2 * FG_DAY;
    h.procedures.v[0].start += 6 * FG_DAY;
    h.procedures.v[0].end = h.procedures.v[0].start;
    h.conditions.v[0].recorded = fg_time_make(2021, 1, 1, 0, 0, 0);
    check(&h, NULL, &f);
    expect(&f, "procedures[0].start", "its encounter e2 (2020-06-01 to 2020-06-03)");
    expect(&f, "conditions[0].recorded", "the onset may be earlier");
    fg_history_free(&h);
    /* A medication's status and end. */
    load(&h);
    h.medications.v[0].end = fg_time_make(2020, 9, 1, 0, 0, 0);
    check(&h, NULL, &f);
    expect(&f, "medications[0].status", "\"active\" but the medication ended 2020-09-01");
    fg_plausibility_facts facts;
    fg_plausibility_facts_of(&h, &facts);
    facts.history_end = fg_time_make(2020, 8, 1, 0, 0, 0);
    check(&h, &facts, &f); /* an end after today is reported once, as such */
    expect(&f, "medications[0].end", "after the end of the history (2020-08-01)");
    assert_int_equal(f.n, 1);
    h.medications.v[0].status = FG_MED_COMPLETED;
    check(&h, NULL, &f);
    assert_int_equal(f.n, 0);
    h.medications.v[0].end = FG_TIME_NONE;
    check(&h, NULL, &f);
    expect(&f, "medications[0].end", "a completed medication needs the date it ended");
    fg_history_free(&h);
    /* The day after the encounter is accepted (a prescription filled the
     * next morning). */
    load(&h);
    h.medications.v[0].start += FG_DAY;
    check(&h, NULL, &f);
    assert_int_equal(f.n, 0);
    fg_findings_free(&f);
    fg_history_free(&h);
}

static void test_reason_onset(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    load(&h);
    fg_findings_init(&f);
    /* Lisinopril (2020-06-01) for a hypertension that begins later. */
    h.conditions.v[0].onset = fg_time_make(2020, 7, 1, 0, 0, 0);
    h.conditions.v[0].recorded = h.conditions.v[0].onset;
    check(&h, NULL, &f);
    expect(&f, "medications[0].reason", "before its reason \"Essential hypertension");
    expect(&f, "procedures[0].reason", "before its reason");
    expect(&f, "careplans[0].addresses[0]", "before its reason");
    fg_history_free(&h);
    load(&h);
    h.medications.v[0].reason = "c7";
    check(&h, NULL, &f);
    expect(&f, "medications[0].reason", "no condition has id \"c7\"");
    fg_findings_free(&f);
    fg_history_free(&h);
}

static void test_sex_and_age(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    load(&h);
    fg_findings_init(&f);
    /* A prostate condition and a prostatectomy in a woman. */
    h.conditions.v[0].term = (fg_term){FG_SYS_SNOMED, "126906006", "Neoplasm of prostate"};
    h.procedures.v[0].term = (fg_term){FG_SYS_SNOMED, "90470006", "Prostatectomy"};
    check(&h, NULL, &f);
    expect(&f, "conditions[0].term", "only possible in a male patient; this patient is female");
    expect(&f, "procedures[0].term", "only possible in a male patient");
    h.observations.v[2].term = (fg_term){FG_SYS_LOINC, "2857-1", "PSA"};
    h.observations.v[2].unit = "ng/mL";
    h.observations.v[2].value = 1.2;
    check(&h, NULL, &f);
    expect(&f, "observations[2].term", "only measured in a male patient");
    /* The same record for a man is fine. */
    fg_plausibility_facts facts;
    fg_plausibility_facts_of(&h, &facts);
    facts.sex = FG_SEX_MALE;
    check(&h, &facts, &f);
    assert_int_equal(f.n, 0);
    /* Pregnancy at 49 is possible, at 60 not; for a man never. */
    h.conditions.v[0].term = (fg_term){FG_SYS_SNOMED, "72892002", "Normal pregnancy"};
    h.procedures.v[0].term = (fg_term){FG_SYS_SNOMED, "29303009", "ECG"};
    h.observations.v[2].term = (fg_term){FG_SYS_LOINC, "2339-0", "Glucose"};
    h.observations.v[2].unit = "mg/dL";
    h.observations.v[2].value = 92;
    check(&h, NULL, &f);
    assert_int_equal(f.n, 0);
    check(&h, &facts, &f);
    expect(&f, "conditions[0].term", "only possible in a female patient");
    h.patient.birth_date = fg_time_make(1960, 1, 1, 0, 0, 0);
    check(&h, NULL, &f);
    expect(&f, "conditions[0].onset", "at age 60: it occurs between ages 12 and 55");
    fg_findings_free(&f);
    fg_history_free(&h);
}

static void test_physiology(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    load(&h);
    fg_findings_init(&f);
    h.observations.v[2].value = 9000; /* glucose, mg/dL */
    h.observations.v[1].value = -3;   /* weight, kg */
    h.observations.v[0].components[1].value = 160; /* diastolic above systolic 148 */
    check(&h, NULL, &f);
    expect(&f, "observations[2].value", "9000 mg/dL is outside what a living person can have");
    expect(&f, "observations[1].value", "-3 kg");
    expect(&f, "observations[0].components", "diastolic pressure 160 is not below systolic 148");
    /* A value in another unit is grounding's business, not checked here. */
    h.observations.v[2].unit = "mmol/L";
    h.observations.v[1].value = 70;
    h.observations.v[0].components[1].value = 90;
    check(&h, NULL, &f);
    assert_int_equal(f.n, 0);
    /* Bounds are inclusive: a saturation of exactly 100 %. */
    fg_error err;
    fg_findings g;
    fg_findings_init(&g);
    h.observations.v[1].term = (fg_term){FG_SYS_LOINC, "59408-5", NULL};
    h.observations.v[1].unit = "%";
    h.observations.v[1].value = 100;
    assert_int_equal(fg_plausibility_check(rules, &h, NULL, &g, &err), FG_OK);
    assert_int_equal(g.n, 0);
    h.observations.v[1].value = 100.5;
    assert_int_equal(fg_plausibility_check(rules, &h, NULL, &g, &err), FG_OK);
    assert_int_equal(g.n, 1);
    fg_findings_free(&g);
    fg_findings_free(&f);
    fg_history_free(&h);
}

static void test_notes(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    load(&h);
    fg_findings_init(&f);
    /* Hypertension has been active since March. */
    h.notes.v[0].text = "Follow-up visit. Patient denies hypertension; feels well.";
    check(&h, NULL, &f);
    expect(&f, "notes[0].text", "the note says \"denies hypertension\"");
    h.notes.v[0].text = "No history of essential hypertension.";
    check(&h, NULL, &f);
    expect(&f, "notes[0].text", "conditions[0]");
    /* Denying other things, or a negation that stops before the name. */
    h.notes.v[0].text = "Denies chest pain. No history of asthma. Hypertension noted in March.";
    check(&h, NULL, &f);
    assert_int_equal(f.n, 0);
    h.notes.v[0].text = "Denies headache but hypertension remains high.";
    check(&h, NULL, &f);
    assert_int_equal(f.n, 0);
    /* After the condition resolved, "denies" is fine and "no history of" is not. */
    h.conditions.v[0].abatement = fg_time_make(2020, 5, 1, 0, 0, 0);
    h.notes.v[0].text = "Denies hypertension today.";
    check(&h, NULL, &f);
    assert_int_equal(f.n, 0);
    h.notes.v[0].text = "No history of hypertension.";
    check(&h, NULL, &f);
    expect(&f, "notes[0].text", "no history of");
    /* The other sex. */
    h.notes.v[0].text = "50-year-old man seen for blood pressure.";
    check(&h, NULL, &f);
    expect(&f, "notes[0].text", "calls the patient a man, but the patient is female");
    h.notes.v[0].text = "50 year old woman seen for blood pressure; her husband is a manager.";
    check(&h, NULL, &f);
    assert_int_equal(f.n, 0);
    fg_findings_free(&f);
    fg_history_free(&h);
}

static void test_rules_files(void **state)
{
    (void)state;
    fg_plausibility_rules *r = NULL;
    fg_error err;
    assert_int_equal(fg_plausibility_load("no/such/folder", &r, &err), FG_ENOTFOUND);
    assert_null(r);
    fg_plausibility_free(NULL);
    /* Every physiology row names a LOINC quantity with the same unit as the
     * terminology, so a value in the table's unit is one grounding accepts. */
    char path[4096];
    fg_tsv *t = NULL;
    size_t cc, cu;
    assert_non_null(fg_data_path("tables/physiology.tsv", path, sizeof(path)));
    assert_int_equal(fg_tsv_load(path, &t, &err), FG_OK);
    assert_int_equal(fg_tsv_col(t, "code", &cc, &err), FG_OK);
    assert_int_equal(fg_tsv_col(t, "unit", &cu, &err), FG_OK);
    for (size_t i = 0; i < fg_tsv_rows(t); i++) {
        const fg_code_entry *e = fg_terminology_find(terms, FG_SYS_LOINC, fg_tsv_cell(t, i, cc));
        if (!e || !e->unit || strcmp(e->unit, fg_tsv_cell(t, i, cu)) != 0)
            fail_msg("physiology.tsv line %d: %s is not a LOINC quantity in %s",
                     fg_tsv_line(t, i), fg_tsv_cell(t, i, cc), fg_tsv_cell(t, i, cu));
    }
    fg_tsv_free(t);
    /* Every sex/age row names a code of the terminology. */
    size_t cs;
    assert_non_null(fg_data_path("tables/condition_sex_age.tsv", path, sizeof(path)));
    assert_int_equal(fg_tsv_load(path, &t, &err), FG_OK);
    assert_int_equal(fg_tsv_col(t, "system_uri", &cs, &err), FG_OK);
    assert_int_equal(fg_tsv_col(t, "code", &cc, &err), FG_OK);
    for (size_t i = 0; i < fg_tsv_rows(t); i++)
        if (!fg_terminology_find(terms, fg_tsv_cell(t, i, cs), fg_tsv_cell(t, i, cc)))
            fail_msg("condition_sex_age.tsv line %d: %s is not in the terminology",
                     fg_tsv_line(t, i), fg_tsv_cell(t, i, cc));
    fg_tsv_free(t);
}

/* Items with every optional member missing and times unset: no crash, and
 * grounding names what it cannot use. */
static void test_degenerate(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    fg_error err;
    fg_history_init(&h);
    fg_findings_init(&f);
    h.patient.birth_date = FG_TIME_NONE;
    h.patient.death = FG_TIME_NONE;
    fg_encounter *e = FG_PUSH(&h, encounters);
    assert_non_null(e);
    e->start = e->end = FG_TIME_NONE;
    fg_condition *c = FG_PUSH(&h, conditions);
    c->onset = c->abatement = c->recorded = FG_TIME_NONE;
    fg_observation *o = FG_PUSH(&h, observations);
    o->time = FG_TIME_NONE;
    o->kind = FG_VALUE_QUANTITY;
    fg_medication *m = FG_PUSH(&h, medications);
    m->start = m->end = INT64_MIN + 1;
    m->reason = "nothing";
    fg_note *n = FG_PUSH(&h, notes);
    n->time = FG_TIME_NONE;
    n->text = "Denies everything. 40 yo";
    fg_allergy *a = FG_PUSH(&h, allergies);
    a->onset = INT64_MAX;
    assert_int_equal(fg_ground_history(terms, &h, &f, &err), FG_OK);
    assert_true(f.n >= 5);
    assert_int_equal(fg_plausibility_check(rules, &h, NULL, &f, &err), FG_OK);
    assert_true(fg_findings_names(&f, "medications", 0));
    assert_int_equal(fg_plausibility_check(NULL, &h, NULL, &f, &err), FG_EUSAGE);
    assert_int_equal(fg_ground_history(NULL, &h, &f, &err), FG_EUSAGE);
    fg_findings_free(&f);
    fg_history_free(&h);
}

/* The engine's histories, grounded and checked, raise nothing. */
static void test_engine_histories(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed;
        int age_min, age_max;
    } cohorts[] = {{7, 0, 110}, {8, 0, 17}, {9, 65, 110}};
    fg_error err;
    fg_history h;
    fg_findings f;
    fg_history_init(&h);
    fg_findings_init(&f);
    size_t patients = 0;
    for (size_t c = 0; c < sizeof(cohorts) / sizeof(cohorts[0]); c++) {
        fg_cohort_spec spec;
        fg_cohort_spec_default(&spec);
        spec.seed = cohorts[c].seed;
        spec.age_min = cohorts[c].age_min;
        spec.age_max = cohorts[c].age_max;
        spec.end = fg_time_make(2025, 6, 1, 0, 0, 0);
        fg_engine *e = NULL;
        assert_int_equal(fg_engine_new(fg_data_dir(), &spec, &e, &err), FG_OK);
        for (uint64_t i = 0; i < 120; i++, patients++) {
            assert_int_equal(fg_engine_generate(e, i, &h, &err), FG_OK);
            fg_findings_reset(&f);
            assert_int_equal(fg_ground_history(terms, &h, &f, &err), FG_OK);
            fg_plausibility_facts facts;
            fg_plausibility_facts_of(&h, &facts);
            facts.history_start = fg_add_years(spec.end, -spec.years_of_history);
            facts.history_end = spec.end;
            assert_int_equal(fg_plausibility_check(rules, &h, &facts, &f, &err), FG_OK);
            if (f.n)
                fail_msg("seed %llu patient %llu: %s: %s (and %zu more)",
                         (unsigned long long)spec.seed, (unsigned long long)i, f.v[0].path,
                         f.v[0].message, f.n - 1);
            assert_int_equal(f.fixed, 0);
        }
        fg_engine_free(e);
    }
    assert_int_equal(patients, 360);
    fg_findings_free(&f);
    fg_history_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_life_and_window),
        cmocka_unit_test(test_order_and_encounters),
        cmocka_unit_test(test_reason_onset),
        cmocka_unit_test(test_sex_and_age),
        cmocka_unit_test(test_physiology),
        cmocka_unit_test(test_notes),
        cmocka_unit_test(test_rules_files),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_engine_histories),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
