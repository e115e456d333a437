/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ground.c: grounding terms against the terminology tables (by code,
 * by name, by synonym; hallucinated codes, display mismatches, unknown
 * terms, units), the finding list and its rendering for a repair prompt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_data.h"
#include "generators/history/fg_history.h"
#include "generators/llm/fg_ground.h"

#define COMPLETE_HISTORY "tests/data/history/valid/complete.json"

static fg_terminology *terms;

static int setup(void **state)
{
    (void)state;
    char path[4096];
    fg_error err;
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
    fg_terminology_free(terms);
    return 0;
}

/* Ground one term; returns FG_OK or FG_ENOTFOUND, kind and msg set. */
static int ground1(const char *system, const char *code, const char *display, fg_term *out,
                   int *fixed, fg_finding_kind *kind, char *msg)
{
    const fg_code_entry *e = NULL;
    *out = (fg_term){system, code, display};
    return fg_ground_term(terms, FG_SYS_SNOMED, out, &e, fixed, kind, msg, 512);
}

/* The terminology's lookups that grounding and the mapper share. */
static void test_term_lookups(void **state)
{
    (void)state;
    const fg_code_entry *e = fg_terminology_find(terms, FG_SYS_SNOMED, "59621000");
    assert_non_null(e);
    assert_string_equal(e->display, "Essential hypertension (disorder)");
    assert_null(fg_terminology_find(terms, FG_SYS_LOINC, "59621000"));
    assert_null(fg_terminology_find(terms, FG_SYS_SNOMED, "59621001"));
    assert_null(fg_terminology_find(terms, NULL, "59621000"));
    /* exact display or synonym, any case: the mapper's lookup */
    const fg_code_entry *d =
        fg_terminology_lookup_display(terms, FG_SYS_SNOMED, "essential HYPERTENSION (disorder)");
    assert_non_null(d);
    assert_string_equal(d->code, "59621000");
    assert_null(fg_terminology_lookup_display(terms, FG_SYS_SNOMED, " Essential hypertension."));
    /* forgiving names: grounding's lookup */
    d = fg_terminology_lookup_name(terms, FG_SYS_SNOMED, " Essential hypertension.");
    assert_non_null(d);
    assert_string_equal(d->code, "59621000");
    d = fg_terminology_lookup_name(terms, FG_SYS_SNOMED, "Primary hypertension (finding)");
    assert_non_null(d);
    assert_string_equal(d->code, "59621000");
    assert_null(fg_terminology_lookup_name(terms, FG_SYS_LOINC, "Essential hypertension"));
    assert_true(fg_terminology_same_name("essential hypertension",
                                         "Essential hypertension (disorder)"));
    assert_false(fg_terminology_same_name("hypertension", "Essential hypertension (disorder)"));
}

static void test_by_code(void **state)
{
    (void)state;
    fg_term t;
    int fixed = -1;
    fg_finding_kind kind;
    char msg[512];
    assert_int_equal(ground1(FG_SYS_SNOMED, "59621000", "Essential hypertension (disorder)", &t,
                             &fixed, &kind, msg),
                     FG_OK);
    assert_int_equal(fixed, 0);
    assert_string_equal(t.code, "59621000");
    /* Same concept, other case, no semantic tag: fixed silently. */
    assert_int_equal(ground1(NULL, "59621000", "essential HYPERTENSION", &t, &fixed, &kind, msg),
                     FG_OK);
    assert_int_equal(fixed, 1);
    assert_string_equal(t.display, "Essential hypertension (disorder)");
    assert_string_equal(t.system, FG_SYS_SNOMED);
    /* A synonym of the same code. */
    assert_int_equal(ground1(NULL, "59621000", "High blood pressure", &t, &fixed, &kind, msg),
                     FG_OK);
    assert_int_equal(fixed, 1);
    assert_string_equal(t.display, "Essential hypertension (disorder)");
    /* No display: the table's. */
    assert_int_equal(ground1(NULL, "195967001", NULL, &t, &fixed, &kind, msg), FG_OK);
    assert_string_equal(t.display, "Asthma (disorder)");
}

static void test_by_name_and_synonym(void **state)
{
    (void)state;
    fg_term t;
    int fixed;
    fg_finding_kind kind;
    char msg[512];
    assert_int_equal(ground1(NULL, NULL, "Essential hypertension (disorder)", &t, &fixed, &kind,
                             msg),
                     FG_OK);
    assert_string_equal(t.code, "59621000");
    assert_int_equal(ground1(NULL, NULL, "  asthma ", &t, &fixed, &kind, msg), FG_OK);
    assert_string_equal(t.code, "195967001");
    assert_int_equal(ground1(NULL, NULL, "heart attack", &t, &fixed, &kind, msg), FG_OK);
    assert_string_equal(t.code, "22298006");
    assert_int_equal(ground1(NULL, NULL, "Type 2 Diabetes", &t, &fixed, &kind, msg), FG_OK);
    assert_string_equal(t.code, "44054006");
    /* Other systems by name: LOINC, RxNorm, CVX. */
    const fg_code_entry *e = NULL;
    t = (fg_term){NULL, NULL, "HbA1c"};
    assert_int_equal(fg_ground_term(terms, FG_SYS_LOINC, &t, &e, &fixed, &kind, msg, sizeof(msg)),
                     FG_OK);
    assert_string_equal(t.code, "4548-4");
    assert_string_equal(e->unit, "%");
    t = (fg_term){NULL, NULL, "amlodipine 5 mg"};
    assert_int_equal(fg_ground_term(terms, FG_SYS_RXNORM, &t, &e, &fixed, &kind, msg, sizeof(msg)),
                     FG_OK);
    assert_string_equal(t.code, "197361");
    t = (fg_term){NULL, NULL, "flu shot"};
    assert_int_equal(fg_ground_term(terms, FG_SYS_CVX, &t, &e, &fixed, &kind, msg, sizeof(msg)),
                     FG_OK);
    assert_string_equal(t.code, "140");
}

/* A SNOMED CT identifier with a valid check digit that the tables lack. */
static void well_formed_unknown(char *out)
{
    for (int d = 0; d < 10; d++) {
        snprintf(out, 16, "9876543100%d", d);
        if (fg_snomed_valid(out) && !fg_terminology_find(terms, FG_SYS_SNOMED, out))
            return;
    }
    fail_msg("no check digit makes 9876543100x valid");
}

static void test_hallucinated(void **state)
{
    (void)state;
    fg_term t;
    int fixed;
    fg_finding_kind kind;
    char msg[512], code[16];
    /* Fails the Verhoeff check. */
    assert_int_equal(ground1(NULL, "59621001", "Hypertension", &t, &fixed, &kind, msg),
                     FG_ENOTFOUND);
    assert_int_equal(kind, FG_FIND_HALLUCINATED);
    assert_non_null(strstr(msg, "check digit"));
    /* The display is known: the message names its code. */
    assert_non_null(strstr(msg, "59621000"));
    assert_string_equal(t.code, "59621001"); /* untouched */
    /* Well formed, not in the tables. */
    well_formed_unknown(code);
    assert_int_equal(ground1(NULL, code, "Purple spotted fever of the elbow", &t, &fixed, &kind,
                             msg),
                     FG_ENOTFOUND);
    assert_int_equal(kind, FG_FIND_HALLUCINATED);
    assert_non_null(strstr(msg, "not in fhirgen's terminology tables"));
    /* A LOINC code whose check digit fails. */
    const fg_code_entry *e;
    t = (fg_term){FG_SYS_LOINC, "4548-5", "Hemoglobin A1c"};
    assert_int_equal(fg_ground_term(terms, FG_SYS_LOINC, &t, &e, &fixed, &kind, msg, sizeof(msg)),
                     FG_ENOTFOUND);
    assert_int_equal(kind, FG_FIND_HALLUCINATED);
    assert_non_null(strstr(msg, "4548-4"));
}

static void test_display_mismatch_and_unknown(void **state)
{
    (void)state;
    fg_term t;
    int fixed;
    fg_finding_kind kind;
    char msg[512];
    /* Display of another concept. */
    assert_int_equal(ground1(NULL, "59621000", "Asthma", &t, &fixed, &kind, msg), FG_ENOTFOUND);
    assert_int_equal(kind, FG_FIND_DISPLAY);
    assert_non_null(strstr(msg, "195967001"));
    /* Display of nothing known. */
    assert_int_equal(ground1(NULL, "59621000", "Elevated mood disorder", &t, &fixed, &kind, msg),
                     FG_ENOTFOUND);
    assert_int_equal(kind, FG_FIND_DISPLAY);
    assert_non_null(strstr(msg, "Essential hypertension (disorder)"));
    /* No code, unknown name: a hint lists known names sharing a word. */
    assert_int_equal(ground1(NULL, NULL, "Hypertension of the elbow", &t, &fixed, &kind, msg),
                     FG_ENOTFOUND);
    assert_int_equal(kind, FG_FIND_UNKNOWN_TERM);
    assert_non_null(strstr(msg, "known: "));
    assert_int_equal(ground1(NULL, NULL, NULL, &t, &fixed, &kind, msg), FG_ENOTFOUND);
    assert_int_equal(kind, FG_FIND_UNKNOWN_TERM);
}

static void load_complete(fg_history *h)
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

static const fg_finding *find_path(const fg_findings *f, const char *path)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].path, path) == 0)
            return &f->v[i];
    return NULL;
}

static void test_history(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    fg_error err;
    load_complete(&h);
    fg_findings_init(&f);
    assert_int_equal(fg_ground_history(terms, &h, &f, &err), FG_OK);
    assert_int_equal(f.n, 0);

    /* Names only: codes are filled in. */
    h.conditions.v[0].term.code = NULL;
    h.conditions.v[0].term.display = "high blood pressure";
    h.medications.v[0].term.code = NULL;
    h.medications.v[0].term.display = "Lisinopril 10 mg";
    assert_int_equal(fg_ground_history(terms, &h, &f, &err), FG_OK);
    assert_int_equal(f.n, 0);
    assert_string_equal(h.conditions.v[0].term.code, "59621000");
    assert_string_equal(h.medications.v[0].term.code, "314076");

    /* One of each kind, at its path. */
    h.conditions.v[0].term.code = "59621001";
    h.procedures.v[0].term.display = "Colonoscopy (procedure)";
    h.observations.v[2].unit = "mmol/L";       /* glucose is mg/dL */
    h.observations.v[0].components[1].unit = "kPa";
    h.medications.v[0].term.system = FG_SYS_SNOMED;
    h.notes.v[0].type = (fg_term){FG_SYS_LOINC, NULL, "Poem about the weather"};
    assert_int_equal(fg_ground_history(terms, &h, &f, &err), FG_OK);
    const fg_finding *x = find_path(&f, "conditions[0].term.code");
    assert_non_null(x);
    assert_int_equal(x->kind, FG_FIND_HALLUCINATED);
    assert_string_equal(x->list, "conditions");
    assert_int_equal(x->index, 0);
    assert_non_null(x = find_path(&f, "procedures[0].term.display"));
    assert_int_equal(x->kind, FG_FIND_DISPLAY);
    assert_non_null(x = find_path(&f, "observations[2].unit"));
    assert_int_equal(x->kind, FG_FIND_UNIT);
    assert_non_null(strstr(x->message, "\"mg/dL\""));
    assert_non_null(x = find_path(&f, "observations[0].components[1].unit"));
    assert_int_equal(x->kind, FG_FIND_UNIT);
    assert_non_null(x = find_path(&f, "medications[0].term.system"));
    assert_int_equal(x->kind, FG_FIND_UNKNOWN_TERM);
    assert_non_null(x = find_path(&f, "notes[0].type.display"));
    assert_int_equal(x->kind, FG_FIND_UNKNOWN_TERM);
    assert_int_equal(f.n, 6);
    assert_int_equal(fg_findings_count(&f, FG_FIND_UNIT), 2);
    /* A quantity code with a coded value. */
    fg_findings_reset(&f);
    h.observations.v[1].kind = FG_VALUE_CODE;
    h.observations.v[1].code_value = (fg_term){FG_SYS_SNOMED, "162864005", NULL};
    assert_int_equal(fg_ground_history(terms, &h, &f, &err), FG_OK);
    assert_non_null(x = find_path(&f, "observations[1].value_kind"));
    assert_int_equal(x->kind, FG_FIND_UNIT);
    assert_non_null(strstr(x->message, "\"kg\""));
    h.observations.v[1].kind = FG_VALUE_QUANTITY;
    fg_findings_reset(&f);
    assert_int_equal(fg_ground_history(terms, &h, &f, &err), FG_OK);
    assert_int_equal(f.n, 6);
    assert_true(fg_findings_names(&f, "procedures", 0));
    assert_false(fg_findings_names(&f, "procedures", 1));
    assert_false(fg_findings_names(&f, "reports", 0));

    /* The repair prompt's lines. */
    fg_buf b;
    fg_buf_init(&b);
    assert_int_equal(fg_findings_render(&f, 0, &b), FG_OK);
    assert_non_null(strstr(b.data, "conditions[0].term.code: SNOMED CT code \"59621001\""));
    size_t lines = 0;
    for (const char *p = b.data; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 6);
    fg_buf_clear(&b);
    assert_int_equal(fg_findings_render(&f, 2, &b), FG_OK);
    assert_non_null(strstr(b.data, "(and 4 more errors"));
    fg_buf_free(&b);

    fg_findings_free(&f);
    fg_history_free(&h);
}

static void test_findings_list(void **state)
{
    (void)state;
    fg_findings f;
    fg_findings_init(&f);
    for (int i = 0; i < FG_MAX_FINDINGS + 5; i++)
        assert_int_equal(fg_findings_add(&f, FG_FIND_INCOHERENT, "notes", (size_t)i, "notes[0]",
                                         "line one\nline %d", i),
                         FG_OK);
    assert_int_equal(f.n, FG_MAX_FINDINGS);
    assert_int_equal(f.dropped, 5);
    fg_buf b;
    fg_buf_init(&b);
    assert_int_equal(fg_findings_render(&f, 1, &b), FG_OK);
    assert_string_equal(b.data, "notes[0]: line one line 0\n(and 1004 more errors of the same "
                                "kinds)\n");
    fg_buf_free(&b);
    assert_string_equal(fg_finding_kind_name(FG_FIND_DISPLAY), "display mismatch");
    /* A quote cut inside a UTF-8 sequence does not leave half a character. */
    fg_findings_reset(&f);
    assert_int_equal(fg_findings_add(&f, FG_FIND_UNKNOWN_TERM, "conditions", 0, "conditions[0]",
                                     "\"%.4s\" and \"%s\"", "caf\xc3\xa9 au lait", "\xff ok"),
                     FG_OK);
    assert_string_equal(f.v[0].message, "\"caf?\" and \"? ok\"");
    fg_findings_reset(&f);
    assert_int_equal(fg_findings_add(&f, FG_FIND_UNKNOWN_TERM, NULL, 0, "x", "%s",
                                     "na\xc3\xafve \xe2\x80\x94 ok"),
                     FG_OK);
    assert_string_equal(f.v[0].message, "na\xc3\xafve \xe2\x80\x94 ok");
    fg_findings_reset(&f);
    assert_int_equal(f.n, 0);
    assert_int_equal(f.dropped, 0);
    fg_findings_free(&f);
    fg_findings_free(NULL);
}

static size_t count_all(const fg_history *h)
{
    return h->encounters.n + h->conditions.n + h->observations.n + h->reports.n +
           h->medications.n + h->immunizations.n + h->procedures.n + h->allergies.n +
           h->careplans.n + h->notes.n;
}

static void test_prune(void **state)
{
    (void)state;
    fg_history h;
    fg_findings f;
    fg_error err;
    size_t removed = 99, before;
    load_complete(&h);
    fg_findings_init(&f);
    before = count_all(&h);
    /* Nothing named, nothing removed; a patient finding removes nothing. */
    assert_int_equal(fg_findings_add(&f, FG_FIND_INCOHERENT, NULL, 0, "patient", "x"), FG_OK);
    assert_int_equal(fg_findings_prune(&h, &f, &removed, &err), FG_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(count_all(&h), before);
    /* The glucose observation (the report's only result) and hypertension
     * (the reason of the medication and procedure, addressed by the care
     * plan). */
    fg_findings_reset(&f);
    assert_int_equal(fg_findings_add(&f, FG_FIND_UNIT, "observations", 2, "observations[2].unit",
                                     "x"),
                     FG_OK);
    assert_int_equal(fg_findings_add(&f, FG_FIND_HALLUCINATED, "conditions", 0,
                                     "conditions[0].term.code", "x"),
                     FG_OK);
    assert_int_equal(fg_findings_prune(&h, &f, &removed, &err), FG_OK);
    assert_int_equal(removed, 3); /* observation, condition, report */
    assert_int_equal(h.observations.n, 3);
    assert_int_equal(h.conditions.n, 0);
    assert_int_equal(h.reports.n, 0);
    assert_null(h.medications.v[0].reason);
    assert_null(h.procedures.v[0].reason);
    assert_int_equal(h.careplans.v[0].n_addresses, 0);
    /* An encounter takes its events along. */
    fg_findings_reset(&f);
    assert_int_equal(fg_findings_add(&f, FG_FIND_INCOHERENT, "encounters", 1, "encounters[1].end",
                                     "x"),
                     FG_OK);
    assert_int_equal(fg_findings_prune(&h, &f, &removed, &err), FG_OK);
    assert_int_equal(h.encounters.n, 1);
    assert_int_equal(h.medications.n, 0);
    assert_int_equal(h.procedures.n, 0);
    assert_int_equal(h.careplans.n, 0);
    assert_int_equal(h.notes.n, 0);
    assert_int_equal(removed, 5);
    /* What is left grounds cleanly. */
    fg_findings_reset(&f);
    assert_int_equal(fg_ground_history(terms, &h, &f, &err), FG_OK);
    assert_int_equal(f.n, 0);
    fg_findings_free(&f);
    fg_history_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_term_lookups),
        cmocka_unit_test(test_by_code),
        cmocka_unit_test(test_by_name_and_synonym),
        cmocka_unit_test(test_hallucinated),
        cmocka_unit_test(test_display_mismatch_and_unknown),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_findings_list),
        cmocka_unit_test(test_prune),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
