/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Calibration of the condition modules: generate a cohort with the engine
 * (no mapping) and compare the prevalence of each anchored condition among
 * the patients alive at the cohort's end date with its target, by age band.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fhir/base/fg_data.h"
#include "generators/engine/fg_engine.h"
#include "generators/history/fg_history.h"

#define COHORT 20000
#define TOLERANCE 3.0 /* percentage points */

typedef struct target {
    const char *module;
    int lo, hi;     /* ages at the end date, inclusive */
    double percent; /* among living patients of the band */
    const char *source;
} target;

static const target targets[] = {
    {"hypertension", 18, 39, 22.4, "NHANES 2017-2018 (>=130/80 or treated)"},
    {"hypertension", 40, 59, 54.5, "NHANES 2017-2018"},
    {"hypertension", 60, 110, 74.5, "NHANES 2017-2018"},
    {"diabetes", 18, 44, 4.8, "total diabetes, project target"},
    {"diabetes", 45, 64, 18.9, "total diabetes, project target"},
    {"diabetes", 65, 110, 29.2, "total diabetes, project target"},
    {"obesity", 20, 39, 35.5, "NHANES 2021-2023 BMI>=30"},
    {"obesity", 40, 59, 46.4, "NHANES 2021-2023 BMI>=30"},
    {"obesity", 60, 110, 38.9, "NHANES 2021-2023 BMI>=30"},
    {"hyperlipidemia", 20, 110, 11.3, "NHANES 2021-2023 TC>=240 mg/dL"},
};
#define N_TARGETS (sizeof(targets) / sizeof(targets[0]))

/* The SNOMED code of a module, read from its file. */
static int module_code(const char *name, char *out, size_t size)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof(rel), "conditions/%s.json", name);
    if (!fg_data_path(rel, path, sizeof(path)))
        return -1;
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc)
        return -1;
    const char *code = json_string_value(json_object_get(json_object_get(doc, "term"), "code"));
    int rc = code ? 0 : -1;
    if (code)
        snprintf(out, size, "%s", code);
    json_decref(doc);
    return rc;
}

static void test_living_prevalence(void **state)
{
    (void)state;
    fg_cohort_spec spec;
    fg_cohort_spec_default(&spec);
    spec.seed = 20240601;
    spec.end = fg_time_make(2024, 6, 1, 0, 0, 0);
    fg_engine *e = NULL;
    fg_error err;
    fg_error_clear(&err);
    int rc = fg_engine_new(fg_data_dir(), &spec, &e, &err);
    if (rc != FG_OK)
        fail_msg("engine: %s: %s", err.where, err.text);

    char codes[N_TARGETS][32];
    long num[N_TARGETS] = {0}, den[N_TARGETS] = {0};
    for (size_t t = 0; t < N_TARGETS; t++)
        assert_int_equal(module_code(targets[t].module, codes[t], sizeof(codes[t])), 0);

    fg_history h;
    fg_history_init(&h);
    for (uint64_t i = 0; i < COHORT; i++) {
        rc = fg_engine_generate(e, i, &h, &err);
        if (rc != FG_OK)
            fail_msg("patient %llu: %s: %s", (unsigned long long)i, err.where, err.text);
        if (h.patient.death != FG_TIME_NONE)
            continue;
        int age = fg_age_at(h.patient.birth_date, spec.end);
        for (size_t t = 0; t < N_TARGETS; t++) {
            if (age < targets[t].lo || age > targets[t].hi)
                continue;
            den[t]++;
            for (size_t c = 0; c < h.conditions.n; c++) {
                const fg_condition *cd = &h.conditions.v[c];
                if (cd->abatement == FG_TIME_NONE && cd->term.code &&
                    strcmp(cd->term.code, codes[t]) == 0) {
                    num[t]++;
                    break;
                }
            }
        }
    }
    fg_history_free(&h);
    fg_engine_free(e);

    int failures = 0;
    print_message("%-16s %-8s %8s %9s %7s  %s\n", "condition", "ages", "target", "measured",
                  "n", "source");
    for (size_t t = 0; t < N_TARGETS; t++) {
        double measured = den[t] ? 100.0 * (double)num[t] / (double)den[t] : 0;
        char ages[16];
        snprintf(ages, sizeof(ages), "%d-%d", targets[t].lo, targets[t].hi);
        int ok = den[t] > 0 && measured >= targets[t].percent - TOLERANCE &&
                 measured <= targets[t].percent + TOLERANCE;
        print_message("%-16s %-8s %7.1f%% %8.1f%% %7ld  %s%s\n", targets[t].module, ages,
                      targets[t].percent, measured, den[t], targets[t].source,
                      ok ? "" : "  <-- off");
        failures += !ok;
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_living_prevalence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
