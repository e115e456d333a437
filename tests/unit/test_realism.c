/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_realism.c: every realism rule on a crafted history that breaks it
 * (the rule fires) and on one that keeps it (the rule stays quiet), a few
 * metrics, the tables, and the report.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fhir/base/fg_data.h"
#include "generators/engine/fg_engine.h"
#include "validators/fg_realism.h"

static fg_realism_rules *rules;

static int setup(void **state)
{
    (void)state;
    fg_error err;
    if (fg_realism_load(fg_data_dir(), &rules, &err) != FG_OK) {
        fprintf(stderr, "cannot load the realism rules: %s %s\n", err.where, err.text);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fg_realism_free(rules);
    return 0;
}

#define LOINC FG_SYS_LOINC
#define SCT FG_SYS_SNOMED
#define RX FG_SYS_RXNORM
#define CVX FG_SYS_CVX

static fg_time day(int y, int m, int d)
{
    return fg_time_make(y, m, d, 15, 0, 0); /* 10:00 in Massachusetts */
}

/* A patient of Massachusetts with one clinic visit "e0" on 2020-03-02. */
static void base(fg_history *h, fg_sex sex, int born)
{
    fg_history_init(h);
    h->patient.id = "p1";
    h->patient.sex = sex;
    h->patient.birth_date = fg_time_make(born, 1, 15, 0, 0, 0);
    h->patient.death = FG_TIME_NONE;
    h->patient.address.state = "MA";
    fg_encounter *e = FG_PUSH(h, encounters);
    *e = (fg_encounter){.id = "e0", .cls = FG_CLASS_AMB, .start = day(2020, 3, 2),
                        .end = day(2020, 3, 2) + 1800,
                        .type = {SCT, "185349003", "Encounter for check up (procedure)"}};
}

static void enc(fg_history *h, const char *id, fg_encounter_class cls, fg_time t)
{
    fg_encounter *e = FG_PUSH(h, encounters);
    *e = (fg_encounter){.id = id, .cls = cls, .start = t, .end = t + 1800,
                        .type = {SCT, "185349003", "Encounter for check up (procedure)"}};
}

static void cond(fg_history *h, const char *code, const char *display, fg_time onset,
                 fg_time abatement)
{
    fg_condition *c = FG_PUSH(h, conditions);
    *c = (fg_condition){.id = "c", .encounter = "e0", .term = {SCT, code, display},
                        .onset = onset, .abatement = abatement, .recorded = onset};
}

static void obs(fg_history *h, const char *code, const char *display, fg_time t, double v)
{
    fg_observation *o = FG_PUSH(h, observations);
    *o = (fg_observation){.id = "o", .encounter = "e0", .term = {LOINC, code, display},
                          .time = t, .kind = FG_VALUE_QUANTITY, .value = v};
}

static void bp(fg_history *h, fg_time t, double sys, double dia)
{
    fg_observation *o = FG_PUSH(h, observations);
    static fg_component comps[64][2]; /* histories may borrow strings and lists that outlive them */
    static size_t used;
    fg_component *k = comps[used++ % 64];
    k[0] = (fg_component){{LOINC, "8480-6", "Systolic Blood Pressure"}, sys, "mm[Hg]"};
    k[1] = (fg_component){{LOINC, "8462-4", "Diastolic Blood Pressure"}, dia, "mm[Hg]"};
    *o = (fg_observation){.id = "bp", .encounter = "e0", .time = t, .kind = FG_VALUE_NONE,
                          .term = {LOINC, "85354-9", "Blood pressure panel with all children optional"},
                          .components = k, .n_components = 2};
}

static void med(fg_history *h, const char *display, fg_time start, fg_time end)
{
    fg_medication *m = FG_PUSH(h, medications);
    *m = (fg_medication){.id = "m", .encounter = "e0", .term = {RX, display, display},
                         .start = start, .end = end,
                         .status = end == FG_TIME_NONE ? FG_MED_ACTIVE : FG_MED_COMPLETED};
}

static void imm(fg_history *h, const char *cvx, const char *display, fg_time t, const char *e)
{
    fg_immunization *i = FG_PUSH(h, immunizations);
    *i = (fg_immunization){.id = "i", .encounter = e, .term = {CVX, cvx, display}, .time = t};
}

static void proc(fg_history *h, const char *code, const char *display, fg_time t,
                 const char *reason)
{
    fg_procedure *p = FG_PUSH(h, procedures);
    *p = (fg_procedure){.id = "x", .encounter = "e0", .term = {SCT, code, display}, .start = t,
                        .end = t + 600, .reason = reason};
}

/* The figure of rule id after checking h alone; h is freed. */
static fg_realism_figure run(fg_history *h, const char *id)
{
    fg_error err;
    fg_realism_figure f;
    fg_realism_tally *t = fg_realism_tally_new();
    assert_non_null(t);
    assert_int_equal(fg_realism_check(rules, h, t, &err), FG_OK);
    assert_int_equal(fg_realism_figure_of(rules, t, id, &f), FG_OK);
    fg_realism_tally_free(t);
    fg_history_free(h);
    return f;
}

static void fires(fg_history *h, const char *id)
{
    fg_realism_figure f = run(h, id);
    if (f.patients != 1)
        fail_msg("%s does not fire", id);
    assert_true(f.n_examples >= 1);
}

static void quiet(fg_history *h, const char *id)
{
    fg_realism_figure f = run(h, id);
    if (f.patients != 0)
        fail_msg("%s fires: %s", id, f.examples[0].what);
}

#define NONE FG_TIME_NONE
#define LISINOPRIL "lisinopril 10 MG Oral Tablet"
#define LOSARTAN "losartan potassium 50 MG Oral Tablet"

static void test_medications(void **state)
{
    (void)state;
    fg_history h;
    base(&h, FG_SEX_MALE, 1960), med(&h, LISINOPRIL, day(2019, 1, 1), NONE),
        med(&h, LOSARTAN, day(2019, 6, 1), day(2019, 9, 1)), fires(&h, "med.ace_arb");
    base(&h, FG_SEX_MALE, 1960), med(&h, LISINOPRIL, day(2019, 1, 1), day(2019, 5, 1)),
        med(&h, LOSARTAN, day(2019, 6, 1), day(2019, 9, 1)), quiet(&h, "med.ace_arb");
    base(&h, FG_SEX_MALE, 1960), med(&h, "sacubitril 49 MG / valsartan 51 MG Oral Tablet",
                                     day(2019, 1, 1), day(2019, 9, 1)),
        med(&h, LISINOPRIL, day(2019, 6, 1), day(2019, 7, 1)), fires(&h, "med.arni_ace");
    base(&h, FG_SEX_MALE, 1960), med(&h, "sacubitril 49 MG / valsartan 51 MG Oral Tablet",
                                     day(2019, 1, 1), day(2019, 9, 1)),
        quiet(&h, "med.arni_ace");
    base(&h, FG_SEX_MALE, 1960), med(&h, "atorvastatin 20 MG Oral Tablet", day(2019, 1, 1), day(2019, 9, 1)),
        med(&h, "simvastatin 20 MG Oral Tablet", day(2019, 2, 1), day(2019, 3, 1)),
        fires(&h, "med.same_class");
    base(&h, FG_SEX_MALE, 1960), med(&h, "warfarin sodium 5 MG Oral Tablet", day(2019, 1, 1), day(2019, 9, 1)),
        med(&h, "warfarin sodium 1 MG Oral Tablet", day(2019, 2, 1), day(2019, 3, 1)),
        med(&h, "atorvastatin 20 MG Oral Tablet", day(2019, 2, 1), day(2019, 3, 1)),
        quiet(&h, "med.same_class");
    base(&h, FG_SEX_MALE, 1960), cond(&h, "433144002", "Chronic kidney disease stage 3 (disorder)", day(2018, 1, 1), NONE),
        med(&h, "Ibuprofen 400 MG Oral Tablet", day(2019, 1, 1), day(2019, 2, 1)),
        fires(&h, "med.nsaid_ckd_hf");
    base(&h, FG_SEX_MALE, 1960), med(&h, "Ibuprofen 400 MG Oral Tablet", day(2019, 1, 1), day(2019, 2, 1)),
        quiet(&h, "med.nsaid_ckd_hf");
    base(&h, FG_SEX_MALE, 1960), med(&h, "metformin hydrochloride 500 MG Oral Tablet", day(2019, 1, 1), day(2019, 9, 1)),
        obs(&h, "33914-3", "Glomerular filtration rate", day(2019, 5, 1), 25), fires(&h, "med.metformin_egfr");
    base(&h, FG_SEX_MALE, 1960), med(&h, "metformin hydrochloride 500 MG Oral Tablet", day(2019, 1, 1), day(2019, 9, 1)),
        obs(&h, "33914-3", "Glomerular filtration rate", day(2019, 5, 1), 70), quiet(&h, "med.metformin_egfr");
    base(&h, FG_SEX_FEMALE, 2018), med(&h, "Amoxicillin 250 MG Oral Capsule", day(2021, 1, 1), day(2021, 1, 11)),
        fires(&h, "med.solid_child");
    base(&h, FG_SEX_FEMALE, 2018), med(&h, "Amoxicillin 250 MG Chewable Tablet", day(2021, 1, 1), day(2021, 1, 11)),
        quiet(&h, "med.solid_child");
    base(&h, FG_SEX_MALE, 1960), med(&h, LISINOPRIL, day(2017, 1, 1), NONE), enc(&h, "e1", FG_CLASS_AMB, day(2021, 5, 1)),
        fires(&h, "med.never_ends");
    base(&h, FG_SEX_MALE, 1960), med(&h, LISINOPRIL, day(2017, 1, 1), NONE), med(&h, LISINOPRIL, day(2020, 1, 1), NONE),
        enc(&h, "e1", FG_CLASS_AMB, day(2020, 5, 1)), quiet(&h, "med.never_ends");
    base(&h, FG_SEX_FEMALE, 1990), med(&h, LISINOPRIL, day(2017, 1, 1), NONE),
        cond(&h, "72892002", "Normal pregnancy (finding)", day(2019, 1, 1), day(2019, 9, 20)),
        fires(&h, "med.teratogen_pregnancy");
    base(&h, FG_SEX_FEMALE, 1990), med(&h, LISINOPRIL, day(2017, 1, 1), day(2018, 12, 1)),
        cond(&h, "72892002", "Normal pregnancy (finding)", day(2019, 1, 1), day(2019, 9, 20)),
        quiet(&h, "med.teratogen_pregnancy");
}

static void metric(fg_history *h, const char *id, double num, double den);

/* A delivered pregnancy: 2019-01-01 to 2019-09-30, 60 kg with BMI 22 before it. */
static void pregnancy(fg_history *h, double final_kg, int tdap)
{
    base(h, FG_SEX_FEMALE, 1990);
    cond(h, "72892002", "Normal pregnancy (finding)", day(2019, 1, 1), day(2019, 9, 30));
    obs(h, "29463-7", "Body Weight", day(2018, 11, 20), 60);
    obs(h, "39156-5", "Body mass index (BMI) [Ratio]", day(2018, 11, 20), 22);
    obs(h, "29463-7", "Body Weight", day(2019, 2, 20), 64); /* not the starting weight */
    obs(h, "29463-7", "Body Weight", day(2019, 9, 25), final_kg);
    proc(h, "177184002", "Normal delivery procedure (procedure)", day(2019, 9, 30), NULL);
    if (tdap)
        imm(h, "115", "Tdap", day(2019, 7, 15), "e0");
}

static void test_pregnancy(void **state)
{
    (void)state;
    fg_history h;
    pregnancy(&h, 61, 1), metric(&h, "preg.gain_in_range", 0, 1);
    pregnancy(&h, 73, 1), metric(&h, "preg.gain_in_range", 1, 1);
    pregnancy(&h, 73, 0), metric(&h, "preg.tdap", 0, 1);
    pregnancy(&h, 73, 1), metric(&h, "preg.tdap", 1, 1);
    pregnancy(&h, 73, 1), proc(&h, "11466000", "Cesarean section (procedure)", day(2019, 9, 30), NULL),
        fires(&h, "preg.caesarean_no_reason");
    pregnancy(&h, 73, 1), proc(&h, "11466000", "Cesarean section (procedure)", day(2019, 9, 30), "c"),
        quiet(&h, "preg.caesarean_no_reason");
    pregnancy(&h, 73, 1), proc(&h, "386216000", "Human parturition, function (observable entity)",
                               day(2019, 9, 30), NULL),
        fires(&h, "preg.delivery_not_procedure");
    pregnancy(&h, 73, 1), quiet(&h, "preg.delivery_not_procedure");
}

#define CREAT "2160-0", "Creatinine [Mass/volume] in Serum or Plasma"
#define EGFR "33914-3", "Glomerular filtration rate"

static void test_labs(void **state)
{
    (void)state;
    fg_history h;
    base(&h, FG_SEX_MALE, 1960), obs(&h, CREAT, day(2020, 1, 1), 1.0), obs(&h, CREAT, day(2020, 2, 1), 1.8),
        fires(&h, "lab.creatinine_jump");
    base(&h, FG_SEX_MALE, 1960), obs(&h, CREAT, day(2020, 1, 1), 1.0), obs(&h, CREAT, day(2020, 2, 1), 1.1),
        obs(&h, CREAT, day(2020, 6, 1), 1.8), quiet(&h, "lab.creatinine_jump");
    /* A man of 40 with creatinine 1.0: CKD-EPI 2021 gives 97.6. */
    base(&h, FG_SEX_MALE, 1980), obs(&h, CREAT, day(2020, 2, 1), 1.0), obs(&h, EGFR, day(2020, 2, 1), 50),
        fires(&h, "lab.egfr_creatinine");
    base(&h, FG_SEX_MALE, 1980), obs(&h, CREAT, day(2020, 2, 1), 1.0), obs(&h, EGFR, day(2020, 2, 1), 96),
        quiet(&h, "lab.egfr_creatinine");
    base(&h, FG_SEX_MALE, 1960), obs(&h, "718-7", "Hemoglobin [Mass/volume] in Blood", day(2020, 2, 1), 14),
        obs(&h, "4544-3", "Hematocrit", day(2020, 2, 1), 25), fires(&h, "lab.hct_hb_ratio");
    base(&h, FG_SEX_MALE, 1960), obs(&h, "718-7", "Hemoglobin [Mass/volume] in Blood", day(2020, 2, 1), 14),
        obs(&h, "4544-3", "Hematocrit", day(2020, 2, 1), 42), quiet(&h, "lab.hct_hb_ratio");
    base(&h, FG_SEX_MALE, 1950), cond(&h, "433144002", "Chronic kidney disease stage 3 (disorder)", day(2020, 3, 1), NONE),
        obs(&h, EGFR, day(2020, 6, 1), 20), obs(&h, EGFR, day(2020, 12, 1), 22), fires(&h, "lab.ckd_stage_egfr");
    base(&h, FG_SEX_MALE, 1950), cond(&h, "433144002", "Chronic kidney disease stage 3 (disorder)", day(2020, 3, 1), NONE),
        obs(&h, EGFR, day(2020, 6, 1), 20), obs(&h, EGFR, day(2020, 12, 1), 45), quiet(&h, "lab.ckd_stage_egfr");
}

#define BMI "39156-5", "Body mass index (BMI) [Ratio]"
#define OBESITY "162864005", "Body mass index 30+ - obesity (finding)"
#define HTN "59621000", "Essential hypertension (disorder)"

static void test_diagnoses(void **state)
{
    (void)state;
    fg_history h;
    base(&h, FG_SEX_MALE, 1960), obs(&h, BMI, day(2020, 3, 2), 27), cond(&h, OBESITY, day(2020, 6, 1), NONE),
        fires(&h, "dx.obesity_no_bmi");
    base(&h, FG_SEX_MALE, 1960), obs(&h, BMI, day(2020, 3, 2), 31), cond(&h, OBESITY, day(2020, 6, 1), NONE),
        quiet(&h, "dx.obesity_no_bmi");
    base(&h, FG_SEX_MALE, 1960), cond(&h, OBESITY, day(2020, 6, 1), NONE), quiet(&h, "dx.obesity_no_bmi");
    base(&h, FG_SEX_MALE, 1960), obs(&h, "29463-7", "Body Weight", day(2020, 1, 1), 70),
        obs(&h, "29463-7", "Body Weight", day(2020, 2, 1), 80), fires(&h, "dx.weight_jump");
    base(&h, FG_SEX_MALE, 1960), obs(&h, "29463-7", "Body Weight", day(2020, 1, 1), 70),
        obs(&h, "29463-7", "Body Weight", day(2020, 2, 1), 72), quiet(&h, "dx.weight_jump");
    base(&h, FG_SEX_MALE, 1960), bp(&h, day(2020, 3, 2), 150, 95), cond(&h, HTN, day(2020, 3, 2), NONE),
        fires(&h, "dx.htn_few_readings");
    base(&h, FG_SEX_MALE, 1960), bp(&h, day(2020, 2, 2), 150, 95), bp(&h, day(2020, 3, 2), 128, 84),
        cond(&h, HTN, day(2020, 3, 2), NONE), quiet(&h, "dx.htn_few_readings");
    base(&h, FG_SEX_MALE, 1960), bp(&h, day(2020, 3, 2), 150, 95), cond(&h, HTN, day(2010, 3, 2), NONE),
        quiet(&h, "dx.htn_few_readings"); /* before the record's readings: not judged */
}

static void test_death_and_timing(void **state)
{
    (void)state;
    fg_history h;
    base(&h, FG_SEX_MALE, 1940), h.patient.death = day(2021, 1, 1), fires(&h, "death.no_cause");
    base(&h, FG_SEX_MALE, 1940), h.patient.death = day(2021, 1, 1),
        h.death_cause = (fg_term){SCT, "95281009", "Sudden cardiac death (disorder)"},
        quiet(&h, "death.no_cause");
    base(&h, FG_SEX_MALE, 1940), h.patient.death = day(2021, 1, 1),
        h.death_cause = (fg_term){SCT, "9855000", "Natural death with unknown cause"},
        fires(&h, "death.no_cause");
    base(&h, FG_SEX_MALE, 1940), h.patient.death = day(2021, 1, 1),
        h.death_cause = (fg_term){SCT, "84114007", "Heart failure (disorder)"}, fires(&h, "death.no_care");
    base(&h, FG_SEX_MALE, 1940), h.patient.death = day(2021, 1, 1),
        h.death_cause = (fg_term){SCT, "84114007", "Heart failure (disorder)"},
        enc(&h, "e1", FG_CLASS_IMP, day(2020, 11, 1)), quiet(&h, "death.no_care");
    base(&h, FG_SEX_MALE, 1940), h.patient.death = day(2021, 1, 1),
        h.death_cause = (fg_term){SCT, "84114007", "Heart failure (disorder)"};
    fg_careplan *plan = FG_PUSH(&h, careplans);
    *plan = (fg_careplan){.id = "cp", .encounter = "e0", .term = {SCT, "385763009", "Hospice care (regime/therapy)"},
                          .start = day(2020, 12, 1), .end = FG_TIME_NONE};
    quiet(&h, "death.no_care");
    base(&h, FG_SEX_MALE, 1940), enc(&h, "e1", FG_CLASS_AMB, fg_time_make(2020, 5, 1, 3, 0, 0)),
        fires(&h, "time.off_hours");
    base(&h, FG_SEX_MALE, 1940), enc(&h, "e1", FG_CLASS_AMB, fg_time_make(2020, 5, 1, 22, 0, 0)),
        quiet(&h, "time.off_hours"); /* 18:00 in Boston, daylight saving time */
    base(&h, FG_SEX_MALE, 1940), enc(&h, "e1", FG_CLASS_AMB, fg_time_make(2020, 7, 1, 11, 30, 0)),
        quiet(&h, "time.off_hours"); /* 07:30 in Boston */
    base(&h, FG_SEX_MALE, 1940), enc(&h, "e1", FG_CLASS_AMB, fg_time_make(2020, 1, 15, 11, 30, 0)),
        fires(&h, "time.off_hours"); /* 06:30 in Boston, standard time */
    base(&h, FG_SEX_MALE, 1940), enc(&h, "e1", FG_CLASS_AMB, day(2020, 3, 2) + 7200),
        fires(&h, "time.same_day_visits");
    base(&h, FG_SEX_MALE, 1940), enc(&h, "e1", FG_CLASS_AMB, day(2020, 3, 3)), quiet(&h, "time.same_day_visits");
    base(&h, FG_SEX_FEMALE, 2019), enc(&h, "e1", FG_CLASS_AMB, day(2020, 3, 2) + 3600),
        imm(&h, "20", "DTaP", day(2020, 3, 2), "e0"), imm(&h, "10", "IPV", day(2020, 3, 2) + 3600, "e1"),
        fires(&h, "time.split_immunizations");
    base(&h, FG_SEX_FEMALE, 2019), imm(&h, "20", "DTaP", day(2020, 3, 2), "e0"),
        imm(&h, "10", "IPV", day(2020, 3, 2), "e0"), quiet(&h, "time.split_immunizations");
}

static void test_vaccines_and_children(void **state)
{
    (void)state;
    fg_history h;
    base(&h, FG_SEX_MALE, 1950), imm(&h, "121", "zoster live", day(2022, 1, 1), "e0"),
        fires(&h, "vax.zoster_live_late");
    base(&h, FG_SEX_MALE, 1950), imm(&h, "121", "zoster live", day(2015, 1, 1), "e0"),
        quiet(&h, "vax.zoster_live_late");
    base(&h, FG_SEX_FEMALE, 2005), imm(&h, "62", "HPV, quadrivalent", day(2018, 1, 1), "e0"),
        fires(&h, "vax.hpv4_late");
    base(&h, FG_SEX_FEMALE, 2002), imm(&h, "62", "HPV, quadrivalent", day(2015, 1, 1), "e0"),
        quiet(&h, "vax.hpv4_late");
    base(&h, FG_SEX_FEMALE, 2008), imm(&h, "165", "HPV9", day(2019, 3, 1), "e0"),
        imm(&h, "165", "HPV9", day(2019, 5, 1), "e0"), imm(&h, "165", "HPV9", day(2019, 9, 1), "e0"),
        fires(&h, "vax.hpv_three_doses");
    base(&h, FG_SEX_FEMALE, 2008), imm(&h, "165", "HPV9", day(2019, 3, 1), "e0"),
        imm(&h, "165", "HPV9", day(2019, 9, 1), "e0"), quiet(&h, "vax.hpv_three_doses");
    base(&h, FG_SEX_MALE, 2019), obs(&h, "9843-4", "Head Occipital-frontal circumference", day(2019, 12, 1), 45),
        obs(&h, "9843-4", "Head Occipital-frontal circumference", day(2020, 6, 1), 44),
        fires(&h, "child.head_shrinks");
    base(&h, FG_SEX_MALE, 2019), obs(&h, "9843-4", "Head Occipital-frontal circumference", day(2019, 12, 1), 45),
        obs(&h, "9843-4", "Head Occipital-frontal circumference", day(2020, 6, 1), 46),
        quiet(&h, "child.head_shrinks");
}

static void metric(fg_history *h, const char *id, double num, double den)
{
    fg_realism_figure f = run(h, id);
    assert_true(f.is_metric);
    if (fabs(f.num - num) > 1e-9 || fabs(f.den - den) > 1e-9)
        fail_msg("%s: %g/%g, expected %g/%g", id, f.num, f.den, num, den);
}

static void test_metrics(void **state)
{
    (void)state;
    fg_history h;
    base(&h, FG_SEX_MALE, 1960), proc(&h, "73761001", "Colonoscopy (procedure)", day(2018, 1, 1), NULL),
        metric(&h, "prev.colorectal", 1, 1);
    base(&h, FG_SEX_MALE, 1960), metric(&h, "prev.colorectal", 0, 1);
    base(&h, FG_SEX_MALE, 1990), metric(&h, "prev.colorectal", 0, 0);
    /* A boy of 10 with BMI 30 is above the 95th percentile; 17 is not. */
    base(&h, FG_SEX_MALE, 2010), obs(&h, BMI, day(2020, 3, 2), 30), metric(&h, "child.bmi_high", 1, 1);
    base(&h, FG_SEX_MALE, 2010), obs(&h, BMI, day(2020, 3, 2), 17), metric(&h, "child.bmi_high", 0, 1);
    base(&h, FG_SEX_MALE, 1960), enc(&h, "e1", FG_CLASS_IMP, day(2020, 5, 1)),
        metric(&h, "hosp.admission_rate", 1, (double)(day(2020, 5, 1) + 1800 - day(2020, 3, 2)) /
                                                (FG_DAY * FG_YEAR_DAYS));
    base(&h, FG_SEX_MALE, 1960);
    fg_note *n = FG_PUSH(&h, notes);
    *n = (fg_note){.id = "n", .encounter = "e0", .text = "Chief complaint: cough.\nAssessment: bronchitis.\nPlan: rest."};
    n = FG_PUSH(&h, notes);
    *n = (fg_note){.id = "n2", .encounter = "e0", .text = "Seen for hypertension."};
    metric(&h, "notes.no_soap", 1, 2);
}

static void test_tally_and_report(void **state)
{
    (void)state;
    fg_history h;
    fg_error err;
    fg_realism_tally *a = fg_realism_tally_new(), *b = fg_realism_tally_new();
    base(&h, FG_SEX_MALE, 1960), med(&h, LISINOPRIL, day(2019, 1, 1), NONE), med(&h, LOSARTAN, day(2019, 6, 1), NONE);
    assert_int_equal(fg_realism_check(rules, &h, a, &err), FG_OK);
    fg_history_free(&h);
    base(&h, FG_SEX_MALE, 1960);
    assert_int_equal(fg_realism_check(rules, &h, b, &err), FG_OK);
    fg_history_free(&h);
    assert_int_equal(fg_realism_tally_merge(a, b), FG_OK);
    assert_int_equal(fg_realism_patients(a), 2);
    fg_realism_figure f;
    assert_int_equal(fg_realism_figure_of(rules, a, "med.ace_arb", &f), FG_OK);
    assert_int_equal(f.patients, 1);
    assert_true(fabs(f.value - 500) < 1e-9);
    assert_string_equal(f.examples[0].patient, "p1");
    assert_int_equal(fg_realism_figure_of(rules, a, "no.such_rule", &f), FG_ENOTFOUND);
    assert_true(fg_realism_count(rules) > 40);
    for (size_t i = 0; i < fg_realism_count(rules); i++) {
        fg_realism_figure_at(rules, a, i, &f);
        assert_non_null(f.id);
        assert_true(*f.category && *f.description && *f.source);
    }
    fg_buf text, json;
    fg_buf_init(&text);
    fg_buf_init(&json);
    fg_realism_write_text(rules, a, &text);
    fg_realism_write_json(rules, a, &json);
    assert_non_null(strstr(text.data, "med.ace_arb"));
    assert_non_null(strstr(json.data, "\"id\":\"med.ace_arb\""));
    fg_buf_free(&text);
    fg_buf_free(&json);
    fg_realism_tally_free(a);
    fg_realism_tally_free(b);
    fg_history empty; /* demographics only */
    fg_history_init(&empty);
    empty.patient.id = "p0";
    empty.patient.death = FG_TIME_NONE;
    empty.patient.birth_date = fg_time_make(1990, 1, 1, 0, 0, 0);
    fg_realism_tally *t = fg_realism_tally_new();
    assert_int_equal(fg_realism_check(rules, &empty, t, &err), FG_OK);
    assert_int_equal(fg_realism_check(rules, NULL, t, &err), FG_EUSAGE);
    fg_realism_tally_free(t);
    fg_history_free(&empty);
    fg_realism_rules *none;
    assert_int_not_equal(fg_realism_load("/nonexistent", &none, &err), FG_OK);
}

/* The engine's own histories: every rule runs, the codes of the engine are
 * recognised (metrics have denominators), and two half tallies merged give
 * the tally of the whole. No figure is asserted: the engine changes. */
static void test_engine_cohort(void **state)
{
    (void)state;
    fg_error err;
    fg_history h;
    fg_cohort_spec spec;
    fg_engine *e = NULL;
    fg_cohort_spec_default(&spec);
    spec.seed = 2026;
    spec.end = fg_time_make(2026, 1, 1, 0, 0, 0);
    assert_int_equal(fg_engine_new(fg_data_dir(), &spec, &e, &err), FG_OK);
    fg_realism_tally *all = fg_realism_tally_new(), *half[2] = {fg_realism_tally_new(),
                                                                fg_realism_tally_new()};
    fg_history_init(&h);
    for (uint64_t i = 0; i < 200; i++) {
        assert_int_equal(fg_engine_generate(e, i, &h, &err), FG_OK);
        assert_int_equal(fg_realism_check(rules, &h, all, &err), FG_OK);
        assert_int_equal(fg_realism_check(rules, &h, half[i % 2], &err), FG_OK);
        fg_history_reset(&h);
    }
    assert_int_equal(fg_realism_tally_merge(half[0], half[1]), FG_OK);
    assert_int_equal(fg_realism_patients(all), 200);
    static const char *const measured[] = {"prev.colorectal", "prev.lipid", "child.bmi_low",
                                           "hosp.ed_rate", "notes.no_soap", "vax.covid_adults"};
    for (size_t i = 0; i < sizeof(measured) / sizeof(measured[0]); i++) {
        fg_realism_figure f;
        assert_int_equal(fg_realism_figure_of(rules, all, measured[i], &f), FG_OK);
        if (!(f.den > 0))
            fail_msg("%s has no denominator on the engine's histories", measured[i]);
    }
    for (size_t i = 0; i < fg_realism_count(rules); i++) {
        fg_realism_figure a, b;
        fg_realism_figure_at(rules, all, i, &a);
        fg_realism_figure_at(rules, half[0], i, &b);
        assert_non_null(a.verdict);
        assert_int_equal(a.patients, b.patients);
        assert_int_equal(a.occurrences, b.occurrences);
        assert_true(fabs(a.num - b.num) < 1e-6 && fabs(a.den - b.den) < 1e-6);
    }
    fg_realism_tally_free(all);
    fg_realism_tally_free(half[0]);
    fg_realism_tally_free(half[1]);
    fg_history_free(&h);
    fg_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_medications),
        cmocka_unit_test(test_pregnancy),
        cmocka_unit_test(test_labs),
        cmocka_unit_test(test_diagnoses),
        cmocka_unit_test(test_death_and_timing),
        cmocka_unit_test(test_vaccines_and_children),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_tally_and_report),
        cmocka_unit_test(test_engine_cohort),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
