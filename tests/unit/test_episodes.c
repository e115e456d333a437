/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_episodes.c: acute episodes, allergies, pregnancies and clinical notes
 * of the built-in engine.
 *
 * The codes the checks look for are read from the data files
 * (the files of data/episodes, data/notes/notes.json, data/terminology), never
 * written here: the test names an episode ("otitis_media") and finds its
 * diagnosis in acute.json.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "fhir/base/fg_data.h"
#include "fhir/term/fg_term.h"
#include "generators/engine/fg_engine.h"
#include "generators/history/fg_history.h"
#include "validators/fg_findings.h"
#include "validators/fg_plausibility.h"

#define COHORT 3000
#define NOTE_SCAN_PATIENTS 150
#define END_DAY fg_time_make(2025, 6, 1, 0, 0, 0)

static fg_engine *make_engine(uint64_t seed)
{
    fg_cohort_spec spec;
    fg_error err;
    fg_engine *e = NULL;
    fg_cohort_spec_default(&spec);
    spec.seed = seed;
    spec.end = END_DAY;
    int rc = fg_engine_new(fg_data_dir(), &spec, &e, &err);
    if (rc != FG_OK)
        fail_msg("fg_engine_new: %s: %s", err.where, err.text);
    return e;
}

static json_t *load_json(const char *rel)
{
    char path[4096];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/%s", fg_data_dir(), rel);
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j)
        fail_msg("%s: %s", rel, jerr.text);
    return j;
}

/* The diagnosis code of the named episode of acute.json (borrowed from j). */
static const char *episode_code(json_t *acute, const char *name)
{
    size_t i;
    json_t *ep;
    json_array_foreach(json_object_get(acute, "episodes"), i, ep) {
        if (strcmp(json_string_value(json_object_get(ep, "name")), name) == 0)
            return json_string_value(json_object_get(json_object_get(ep, "diagnosis"), "code"));
    }
    fail_msg("no episode %s in acute.json", name);
    return NULL;
}

static void test_rates_and_rules(void **state)
{
    (void)state;
    json_t *acute = load_json("episodes/acute.json"), *preg = load_json("episodes/pregnancy.json");
    const char *otitis = episode_code(acute, "otitis_media");
    const char *cystitis = episode_code(acute, "cystitis");
    const char *strep = episode_code(acute, "strep_pharyngitis");
    const char *pregnancy =
        json_string_value(json_object_get(json_object_get(preg, "condition"), "code"));
    fg_engine *e = make_engine(11);
    fg_history h;
    fg_error err;
    long otitis_n = 0, otitis_child = 0, uti_n = 0, uti_f = 0, strep_n = 0, preg_n = 0;
    long with_allergy = 0, encounters = 0, notes = 0;
    fg_history_init(&h);
    for (uint64_t i = 0; i < COHORT; i++) {
        assert_int_equal(fg_engine_generate(e, i, &h, &err), FG_OK);
        const fg_patient *p = &h.patient;
        fg_time stop = p->death != FG_TIME_NONE ? p->death : END_DAY;
        encounters += (long)h.encounters.n;
        notes += (long)h.notes.n;
        with_allergy += h.allergies.n > 0;
        for (size_t k = 0; k < h.conditions.n; k++) {
            const fg_condition *c = &h.conditions.v[k];
            int age = fg_age_at(p->birth_date, c->recorded);
            assert_true(c->onset >= p->birth_date);
            if (strcmp(c->term.code, otitis) == 0) {
                otitis_n++;
                otitis_child += age < 12;
            } else if (strcmp(c->term.code, cystitis) == 0) {
                uti_n++;
                uti_f += p->sex == FG_SEX_FEMALE;
            } else if (strcmp(c->term.code, strep) == 0) {
                strep_n++;
            } else if (strcmp(c->term.code, pregnancy) == 0) {
                preg_n++;
                assert_int_equal(p->sex, FG_SEX_FEMALE);
                int onset_age = fg_age_at(p->birth_date, c->onset);
                assert_true(onset_age >= 15 && onset_age <= 45);
            }
        }
        for (size_t k = 0; k < h.encounters.n; k++) {
            assert_true(h.encounters.v[k].start >= p->birth_date);
            assert_true(h.encounters.v[k].end <= stop);
        }
        for (size_t k = 0; k < h.allergies.n; k++)
            assert_non_null(fg_history_encounter(&h, h.allergies.v[k].encounter));
        for (size_t k = 0; k < h.medications.n; k++)
            assert_true(h.medications.v[k].start >= p->birth_date &&
                        h.medications.v[k].start <= stop);
    }
    print_message("%d patients: otitis media %ld (%ld under 12), cystitis %ld (%ld women), "
                  "strep %ld, pregnancies %ld, with an allergy %ld\n",
                  COHORT, otitis_n, otitis_child, uti_n, uti_f, strep_n, preg_n, with_allergy);
    assert_true(otitis_n > 20 && otitis_child * 10 >= otitis_n * 7);
    assert_true(uti_n > 50 && uti_f * 10 >= uti_n * 8);
    assert_true(strep_n > 20);
    assert_true(preg_n > 30);
    /* Food, drug and environmental allergies together: a fifth to a half. */
    assert_true(with_allergy * 5 >= COHORT && with_allergy * 2 <= COHORT);
    assert_true(notes >= encounters);
    fg_history_free(&h);
    fg_engine_free(e);
    json_decref(acute);
    json_decref(preg);
}

/* Notes read like notes (sections, short names) and never contradict the
 * record: the plausibility rules find nothing in them, every vital sign is
 * quoted with its recorded value, and no drug is written as its database
 * string. */
static void test_notes_say_what_the_record_says(void **state)
{
    (void)state;
    char path[4096];
    fg_terminology *terms = NULL;
    fg_plausibility_rules *rules = NULL;
    fg_findings f;
    fg_error err;
    snprintf(path, sizeof(path), "%s/terminology", fg_data_dir());
    assert_int_equal(fg_terminology_load(path, &terms, &err), FG_OK);
    assert_int_equal(fg_plausibility_load(fg_data_dir(), &rules, &err), FG_OK);
    fg_engine *e = make_engine(5);
    fg_history h;
    long soap = 0, notes = 0, contradictions = 0;
    fg_history_init(&h);
    fg_findings_init(&f);
    for (uint64_t i = 0; i < COHORT / 2; i++) {
        assert_int_equal(fg_engine_generate(e, i, &h, &err), FG_OK);
        assert_true(h.notes.n >= h.encounters.n);
        for (size_t k = 0; k < h.notes.n; k++) {
            const fg_note *n = &h.notes.v[k];
            const fg_encounter *enc = fg_history_encounter(&h, n->encounter);
            assert_non_null(enc);
            assert_non_null(n->text);
            assert_non_null(fg_terminology_find(terms, n->type.system, n->type.code));
            notes++;
            soap += strstr(n->text, "\n") && (strstr(n->text, "HPI:") != NULL) &&
                    (strstr(n->text, "A/P:") || strstr(n->text, "Assessment"));
            if (i < NOTE_SCAN_PATIENTS)
                for (size_t t = 0; t < fg_terminology_count(terms); t++) {
                    const fg_code_entry *c = fg_terminology_at(terms, t);
                    if (strcmp(c->system, FG_SYS_RXNORM) || !c->display ||
                        !strstr(c->display, " MG ") || !strstr(n->text, c->display))
                        continue;
                    fail_msg("patient %llu: note writes the database string %s",
                             (unsigned long long)i, c->display);
                }
        }
        /* Blood pressure as recorded ("BP <sys>/<dia>") in a note of its encounter. */
        for (size_t o = 0; o < h.observations.n; o++) {
            const fg_observation *x = &h.observations.v[o];
            if (x->n_components != 2)
                continue;
            char bp[48];
            int found = 0;
            snprintf(bp, sizeof(bp), "BP %lld/%lld", (long long)(x->components[0].value + 0.5),
                     (long long)(x->components[1].value + 0.5));
            for (size_t k = 0; k < h.notes.n && !found; k++)
                found = strcmp(h.notes.v[k].encounter, x->encounter) == 0 &&
                        strstr(h.notes.v[k].text, bp) != NULL;
            if (!found)
                fail_msg("patient %llu: no note of its encounter says %s", (unsigned long long)i,
                         bp);
        }
        fg_findings_reset(&f);
        assert_int_equal(fg_plausibility_check(rules, &h, NULL, &f, &err), FG_OK);
        for (size_t k = 0; k < f.n; k++)
            if (f.v[k].list && strcmp(f.v[k].list, "notes") == 0) {
                print_message("%s: %s\n", f.v[k].path, f.v[k].message);
                contradictions++;
            }
    }
    print_message("%ld notes, %ld with HPI and assessment/plan, %ld contradictions\n", notes, soap,
                  contradictions);
    assert_int_equal(contradictions, 0);
    assert_true(soap * 2 > notes);
    fg_findings_free(&f);
    fg_history_free(&h);
    fg_engine_free(e);
    fg_plausibility_free(rules);
    fg_terminology_free(terms);
}

/* A term of a data file: obj's member `key` ({system, code, display}). */
static fg_term json_term(json_t *obj, const char *key)
{
    json_t *t = json_object_get(obj, key);
    fg_term out = {json_string_value(json_object_get(t, "system")),
                   json_string_value(json_object_get(t, "code")),
                   json_string_value(json_object_get(t, "display"))};
    assert_non_null(out.code);
    return out;
}

static fg_encounter *add_enc(fg_history *h, const char *id, fg_encounter_class cls,
                             const fg_term *type, const fg_term *reason, fg_time start,
                             fg_time end)
{
    fg_encounter *x = FG_PUSH(h, encounters);
    x->id = id;
    x->cls = cls;
    x->type = *type;
    if (reason)
        x->reason = *reason;
    x->start = start;
    x->end = end;
    return x;
}

static const fg_note *note_of(const fg_history *h, const char *enc, const char *type_code)
{
    for (size_t i = 0; i < h->notes.n; i++)
        if (strcmp(h->notes.v[i].encounter, enc) == 0 &&
            strcmp(h->notes.v[i].type.code, type_code) == 0)
            return &h->notes.v[i];
    fail_msg("no note of type %s for encounter %s", type_code, enc);
    return NULL;
}

/* Crafted histories: an emergency visit that leads to an admission where
 * the patient dies, and a drug held in pregnancy. Notes follow whatever
 * encounters, classes and events the history holds. */
static void test_notes_of_crafted_histories(void **state)
{
    (void)state;
    json_t *hf = load_json("conditions/heart_failure.json"),
           *htn = load_json("conditions/hypertension.json"),
           *preg = load_json("episodes/pregnancy.json"), *acute = load_json("episodes/acute.json"),
           *notes = load_json("notes/notes.json");
    json_t *settings = json_object_get(acute, "settings"), *types = json_object_get(notes, "types");
    fg_term hf_term = json_term(hf, "term"), preg_term = json_term(preg, "condition");
    fg_term ed_type = json_term(json_object_get(settings, "emergency"), "type");
    fg_term office = json_term(json_object_get(settings, "followup"), "type");
    json_t *drug = json_array_get(json_object_get(json_array_get(json_object_get(htn,
                                  "medications"), 0), "drugs"), 0);
    fg_term lisinopril = json_term(drug, "term");
    fg_engine *e = make_engine(1);
    fg_plausibility_rules *rules = NULL;
    fg_findings f;
    fg_error err;
    fg_history h;
    assert_int_equal(fg_plausibility_load(fg_data_dir(), &rules, &err), FG_OK);
    fg_findings_init(&f);
    fg_history_init(&h);

    /* A man of 78 with heart failure: ED at 10:00, admitted at 14:00, dies day 3. */
    fg_time day = fg_time_make(2024, 3, 4, 10, 0, 0);
    h.patient.id = "p1";
    h.patient.sex = FG_SEX_MALE;
    h.patient.birth_date = fg_time_make(1946, 1, 1, 0, 0, 0);
    h.patient.death = day + 2 * FG_DAY;
    h.death_cause = hf_term;
    add_enc(&h, "ed", FG_CLASS_EMER, &ed_type, &hf_term, day, day + 3 * 3600);
    add_enc(&h, "ip", FG_CLASS_IMP, &ed_type, &hf_term, day + 4 * 3600, day + 2 * FG_DAY);
    fg_condition *c = FG_PUSH(&h, conditions);
    *c = (fg_condition){"c1", "ed", FG_COND_PROBLEM, hf_term, day - 400 * FG_DAY, FG_TIME_NONE,
                        day - 400 * FG_DAY};
    assert_int_equal(fg_engine_notes(e, &h, 7, &err), FG_OK);
    const fg_note *ed = note_of(&h, "ed", json_string_value(json_object_get(
                                                json_object_get(types, "EMER"), "code")));
    assert_non_null(strcasestr(ed->text, "admit"));
    assert_non_null(strstr(ed->text, "CHF"));
    note_of(&h, "ip", json_string_value(json_object_get(json_object_get(types, "HP"), "code")));
    const fg_note *dc = note_of(&h, "ip", json_string_value(json_object_get(
                                               json_object_get(types, "IMP"), "code")));
    assert_null(strstr(dc->text, "medications at discharge"));
    const fg_note *death = note_of(&h, "ip", json_string_value(json_object_get(
                                                  json_object_get(types, "DEATH"), "code")));
    assert_int_equal(death->time, h.patient.death);
    assert_non_null(strstr(death->text, "2024-03-06"));
    assert_non_null(strcasestr(death->text, "heart failure"));
    assert_int_equal(fg_plausibility_check(rules, &h, NULL, &f, &err), FG_OK);
    for (size_t k = 0; k < f.n; k++)
        assert_false(f.v[k].list && strcmp(f.v[k].list, "notes") == 0);

    /* A woman of 30 on lisinopril for hypertension: held when pregnant. */
    fg_history_reset(&h);
    fg_findings_reset(&f);
    h.patient.id = "p2";
    h.patient.sex = FG_SEX_FEMALE;
    h.patient.birth_date = fg_time_make(1994, 5, 1, 0, 0, 0);
    h.patient.death = FG_TIME_NONE;
    add_enc(&h, "v1", FG_CLASS_AMB, &office, NULL, day - 300 * FG_DAY, day - 300 * FG_DAY + 1800);
    add_enc(&h, "v2", FG_CLASS_AMB, &office, &preg_term, day, day + 1800);
    c = FG_PUSH(&h, conditions);
    *c = (fg_condition){"c2", "v2", FG_COND_PROBLEM, preg_term, day - 40 * FG_DAY, FG_TIME_NONE,
                        day};
    fg_medication *m = FG_PUSH(&h, medications);
    *m = (fg_medication){"m1", "v1", lisinopril, FG_MED_STOPPED, day - 300 * FG_DAY, day + 600,
                         NULL, "1 tablet by mouth daily", 1, 0};
    assert_int_equal(fg_engine_notes(e, &h, 7, &err), FG_OK);
    assert_int_equal(h.notes.n, 2);
    const char *t = h.notes.v[1].text;
    assert_non_null(strstr(t, "lisinopril 10 mg tablet daily, pregnant"));
    assert_true(strstr(t, "held lisinopril") || strstr(t, "holding lisinopril"));
    assert_null(strstr(t, "MG Oral"));
    assert_int_equal(fg_plausibility_check(rules, &h, NULL, &f, &err), FG_OK);
    for (size_t k = 0; k < f.n; k++)
        assert_false(f.v[k].list && strcmp(f.v[k].list, "notes") == 0);

    fg_findings_free(&f);
    fg_history_free(&h);
    fg_plausibility_free(rules);
    fg_engine_free(e);
    json_decref(hf);
    json_decref(htn);
    json_decref(preg);
    json_decref(acute);
    json_decref(notes);
}

static void test_notes_deterministic(void **state)
{
    (void)state;
    fg_engine *e = make_engine(3);
    fg_history a, b;
    fg_error err;
    fg_history_init(&a);
    fg_history_init(&b);
    for (uint64_t i = 0; i < 50; i++) {
        assert_int_equal(fg_engine_generate(e, i, &a, &err), FG_OK);
        assert_int_equal(fg_engine_generate(e, i + 500, &b, &err), FG_OK);
        assert_int_equal(fg_engine_generate(e, i, &b, &err), FG_OK);
        assert_int_equal(a.notes.n, b.notes.n);
        for (size_t k = 0; k < a.notes.n; k++)
            assert_string_equal(a.notes.v[k].text, b.notes.v[k].text);
    }
    fg_history_free(&a);
    fg_history_free(&b);
    fg_engine_free(e);
}

/* A data folder like the real one (links to its entries) whose
 * episodes/acute.json is `acute`; made in the build folder. */
static char *bad_data_dir(const char *acute)
{
    static char dir[4096];
    char src[4096], dst[8192];
    snprintf(dir, sizeof(dir), "%s/fg-episodes-XXXXXX", FG_BUILD_ROOT);
    assert_non_null(mkdtemp(dir));
    DIR *d = opendir(fg_data_dir());
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "episodes") == 0)
            continue;
        snprintf(src, sizeof(src), "%s/%s", fg_data_dir(), de->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", dir, de->d_name);
        assert_int_equal(symlink(src, dst), 0);
    }
    closedir(d);
    snprintf(dst, sizeof(dst), "%s/episodes", dir);
    assert_int_equal(mkdir(dst, 0700), 0);
    static const char *const files[] = {"allergies.json", "pregnancy.json"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(src, sizeof(src), "%s/episodes/%s", fg_data_dir(), files[i]);
        snprintf(dst, sizeof(dst), "%s/episodes/%s", dir, files[i]);
        assert_int_equal(symlink(src, dst), 0);
    }
    snprintf(dst, sizeof(dst), "%s/episodes/acute.json", dir);
    FILE *f = fopen(dst, "w");
    assert_non_null(f);
    fputs(acute, f);
    fclose(f);
    return dir;
}

static void remove_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

#define CARE_PATIENTS 1500

static int term_is(const fg_term *t, const char *code)
{
    return t->code && strcmp(t->code, code) == 0;
}

/* The value of the first observation of code at encounter enc; -1 when none. */
static double value_at(const fg_history *h, const char *enc, const char *code)
{
    for (size_t k = 0; k < h->observations.n; k++)
        if (h->observations.v[k].encounter == enc && term_is(&h->observations.v[k].term, code))
            return h->observations.v[k].value;
    return -1;
}

static int has_condition_code(const fg_history *h, const char *code, fg_time before)
{
    for (size_t k = 0; k < h->conditions.n; k++)
        if (term_is(&h->conditions.v[k].term, code) && h->conditions.v[k].onset <= before)
            return 1;
    return 0;
}

/* Managed pregnancy (deliveries are procedures, caesareans near a third, Tdap in about half of
 * pregnancies, weight rising to delivery) and screenings (by age and sex, results that agree
 * with the conditions: a PHQ-9 of 10 or more only with depression; a PHQ-2 positive share near
 * 5%). */
static void test_preventive_care_and_pregnancy(void **state)
{
    (void)state;
    json_t *preg = load_json("episodes/pregnancy.json");
    json_t *dl = json_object_get(preg, "delivery"), *opts = json_object_get(dl, "options");
    const char *delivery_type =
        json_string_value(json_object_get(json_object_get(dl, "type"), "code"));
    json_t *dep = load_json("conditions/depression.json");
    const char *depression =
        json_string_value(json_object_get(json_object_get(dep, "term"), "code"));
    fg_engine *e = make_engine(12);
    fg_history h;
    fg_error err;
    long deliveries = 0, coded = 0, caesarean = 0, tdap = 0, gained = 0, weighed = 0;
    long mammo = 0, colonoscopy = 0, phq2 = 0, phq2_pos = 0, a1c_high = 0;
    fg_history_init(&h);
    for (uint64_t i = 0; i < CARE_PATIENTS; i++) {
        assert_int_equal(fg_engine_generate(e, i, &h, &err), FG_OK);
        const fg_patient *p = &h.patient;
        for (size_t k = 0; k < h.procedures.n; k++) {
            const fg_procedure *pr = &h.procedures.v[k];
            int age = fg_age_at(p->birth_date, pr->start);
            if (term_is(&pr->term, "24623002")) {
                mammo++;
                assert_int_equal(p->sex, FG_SEX_FEMALE);
                assert_true(age >= 40 && age <= 75);
            } else if (term_is(&pr->term, "444783004")) {
                colonoscopy++;
                assert_true(age >= 45 && age <= 76);
            }
        }
        for (size_t k = 0; k < h.observations.n; k++) {
            const fg_observation *o = &h.observations.v[k];
            if (term_is(&o->term, "55758-7")) {
                phq2++;
                phq2_pos += o->value >= 3;
            } else if (term_is(&o->term, "44261-6") && o->value >= 10) {
                assert_true(has_condition_code(&h, depression, o->time));
            }
        }
        for (size_t k = 0; k < h.encounters.n; k++) {
            const fg_encounter *en = &h.encounters.v[k];
            if (term_is(&en->type, "162673000")) {
                /* a screening HbA1c of 5.7 or more belongs to (pre)diabetes, now or within 2 years */
                double a1c = value_at(&h, en->id, "4548-4");
                fg_time soon = en->start + 730 * (fg_time)FG_DAY;
                if (a1c >= 5.7) {
                    a1c_high++;
                    assert_true(has_condition_code(&h, "714628002", soon) ||
                                has_condition_code(&h, "44054006", soon));
                }
                continue;
            }
            if (!term_is(&en->type, delivery_type))
                continue;
            deliveries++;
            for (size_t k2 = 0; k2 < h.procedures.n; k2++) {
                const fg_procedure *pr = &h.procedures.v[k2];
                size_t j;
                json_t *o;
                if (pr->encounter != en->id)
                    continue;
                json_array_foreach(opts, j, o)
                {
                    const char *code =
                        json_string_value(json_object_get(json_object_get(o, "term"), "code"));
                    if (term_is(&pr->term, code)) {
                        coded++;
                        caesarean += strstr(pr->term.display, "cesarean") != NULL;
                        assert_non_null(strstr(pr->term.display, "(procedure)"));
                    }
                }
            }
            /* the first prenatal visit of this pregnancy, within 300 days before */
            const fg_encounter *first = NULL;
            for (size_t k2 = 0; k2 < h.encounters.n && !first; k2++) {
                const fg_encounter *v = &h.encounters.v[k2];
                if (term_is(&v->type, "424441002") && v->start < en->start &&
                    en->start - v->start < 300 * (fg_time)FG_DAY)
                    first = v;
            }
            for (size_t k2 = 0; k2 < h.immunizations.n; k2++) {
                const fg_immunization *im = &h.immunizations.v[k2];
                tdap += term_is(&im->term, "115") && im->time < en->start &&
                        en->start - im->time < 300 * (fg_time)FG_DAY;
            }
            double w0 = first ? value_at(&h, first->id, "29463-7") : -1;
            double w1 = value_at(&h, en->id, "29463-7");
            if (w0 > 0 && w1 > 0) {
                weighed++;
                gained += w1 > w0 + 3;
            }
        }
    }
    print_message("%d patients: %ld deliveries (%ld coded as procedures, %ld caesarean, %ld "
                  "with Tdap; %ld of %ld weighed gained over 3 kg); %ld mammograms, %ld "
                  "colonoscopies, %ld PHQ-2 (%ld positive), %ld screening HbA1c >= 5.7\n",
                  CARE_PATIENTS, deliveries, coded, caesarean, tdap, gained, weighed, mammo,
                  colonoscopy, phq2, phq2_pos, a1c_high);
    assert_true(deliveries > 50);
    assert_int_equal(coded, deliveries);
    assert_true(caesarean * 100 >= deliveries * 22 && caesarean * 100 <= deliveries * 42);
    assert_true(tdap * 100 >= deliveries * 35 && tdap * 100 <= deliveries * 75);
    assert_true(weighed > 30 && gained * 10 >= weighed * 8);
    assert_true(mammo > 50 && colonoscopy > 50);
    assert_true(phq2 > 1000 && phq2_pos * 100 >= phq2 * 2 && phq2_pos * 100 <= phq2 * 10);
    fg_history_free(&h);
    fg_engine_free(e);
    json_decref(preg);
    json_decref(dep);
}

static void test_load_errors(void **state)
{
    (void)state;
    /* A shape error names the file and the path inside it. */
    json_t *acute = load_json("episodes/acute.json");
    json_t *ep = json_array_get(json_object_get(acute, "episodes"), 2);
    json_object_set_new(ep, "lasts_days", json_string("a week"));
    char *text = json_dumps(acute, 0);
    char *dir = bad_data_dir(text);
    fg_cohort_spec spec;
    fg_engine *e = NULL;
    fg_error err;
    fg_cohort_spec_default(&spec);
    assert_int_equal(fg_engine_new(dir, &spec, &e, &err), FG_EINVALID);
    assert_null(e);
    assert_non_null(strstr(err.where, "episodes/acute.json"));
    assert_non_null(strstr(err.where, "episodes[2].lasts_days"));
    remove_dir(dir);
    free(text);

    /* A code the terminology tables do not list is refused. */
    json_object_set_new(ep, "lasts_days", json_pack("[i,i]", 5, 10));
    json_object_set_new(json_object_get(ep, "diagnosis"), "code", json_string("1"));
    text = json_dumps(acute, 0);
    dir = bad_data_dir(text);
    assert_int_equal(fg_engine_new(dir, &spec, &e, &err), FG_ENOTFOUND);
    assert_non_null(strstr(err.where, "episodes[2].diagnosis"));
    remove_dir(dir);
    free(text);

    dir = bad_data_dir("{\"settings\": ");
    assert_int_equal(fg_engine_new(dir, &spec, &e, &err), FG_EINVALID);
    assert_non_null(strstr(err.where, "episodes/acute.json"));
    assert_non_null(strstr(err.text, "column"));
    remove_dir(dir);

    /* Episode tables are read as strictly as condition modules: a repeated key is refused
     * with its line and column. */
    dir = bad_data_dir("{\"episodes\": [],\n \"episodes\": []}");
    assert_int_equal(fg_engine_new(dir, &spec, &e, &err), FG_EINVALID);
    assert_null(e);
    assert_string_equal(err.where, "episodes/acute.json");
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.text, "line 2 column"));
    assert_non_null(strstr(err.text, "duplicate"));
    remove_dir(dir);
    json_decref(acute);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_notes_deterministic),
        cmocka_unit_test(test_notes_of_crafted_histories),
        cmocka_unit_test(test_rates_and_rules),
        cmocka_unit_test(test_preventive_care_and_pregnancy),
        cmocka_unit_test(test_notes_say_what_the_record_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
