/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_validate.c: focused tests of each check of the validator, on small
 * JSON literals against the compact R4 core; the US Core tests load the
 * package from ../shared/fhir-packages and skip when it is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fhir/base/fg_data.h"
#include "validators/fg_validate.h"

#define SHARED_PACKAGES "../shared/fhir-packages"
#define USCORE "hl7.fhir.us.core#6.1.0"

static fg_registry *core_reg;
static fg_validator *core_v;
static fg_registry *us_reg;
static fg_validator *us_v;

static int setup(void **state)
{
    (void)state;
    fg_error err;
    assert_int_equal(fg_registry_new(&core_reg, &err), FG_OK);
    assert_int_equal(fg_registry_load_core(core_reg, fg_data_dir(), &err), FG_OK);
    assert_int_equal(fg_registry_finish(core_reg, &err), FG_OK);
    assert_int_equal(fg_validator_new(core_reg, NULL, &core_v, &err), FG_OK);
    if (access(SHARED_PACKAGES "/" USCORE "/package/package.json", R_OK) == 0) {
        assert_int_equal(fg_registry_new(&us_reg, &err), FG_OK);
        assert_int_equal(fg_registry_load_core(us_reg, fg_data_dir(), &err), FG_OK);
        assert_int_equal(fg_registry_load_package(us_reg, SHARED_PACKAGES, USCORE, &err), FG_OK);
        assert_int_equal(fg_registry_finish(us_reg, &err), FG_OK);
        assert_int_equal(fg_validator_new(us_reg, NULL, &us_v, &err), FG_OK);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fg_validator_free(core_v);
    fg_registry_free(core_reg);
    fg_validator_free(us_v);
    fg_registry_free(us_reg);
    return 0;
}

static void run_with(const fg_validator *v, const char *json, fg_issue_list *l)
{
    fg_error err;
    fg_issue_list_clear(l);
    assert_int_equal(fg_validate_bytes(v, json, strlen(json), l, &err), FG_OK);
}

static void run(const char *json, fg_issue_list *l)
{
    run_with(core_v, json, l);
}

/* Issues that are errors or warnings, not counting dom-6 (narrative). */
static size_t counted(const fg_issue_list *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].severity <= FG_SEV_WARNING
            && !(l->items[i].rule && strcmp(l->items[i].rule, "dom-6") == 0))
            n++;
    return n;
}

static void dump(const fg_issue_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        fprintf(stderr, "  %s %s %s: %s\n", fg_severity_name(l->items[i].severity),
                fg_check_name(l->items[i].check), l->items[i].path, l->items[i].message);
}

static int has(const fg_issue_list *l, fg_severity sev, fg_check check, const char *path)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].severity == sev && l->items[i].check == check
            && strcmp(l->items[i].path, path) == 0)
            return 1;
    fprintf(stderr, "expected %s %s at %s, got:\n", fg_severity_name(sev), fg_check_name(check),
            path);
    dump(l);
    return 0;
}

static int has_rule(const fg_issue_list *l, const char *rule, const char *path)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].rule && strcmp(l->items[i].rule, rule) == 0
            && strcmp(l->items[i].path, path) == 0)
            return 1;
    fprintf(stderr, "expected rule %s at %s, got:\n", rule, path);
    dump(l);
    return 0;
}

static void expect_clean(const char *json)
{
    fg_issue_list l = {0};
    run(json, &l);
    if (counted(&l) != 0)
        dump(&l);
    assert_int_equal(counted(&l), 0);
    fg_issue_list_free(&l);
}

static void test_valid_patient(void **state)
{
    (void)state;
    expect_clean("{\"resourceType\":\"Patient\",\"id\":\"p1\",\"active\":true,"
                 "\"name\":[{\"family\":\"Doe\",\"given\":[\"Jo\",\"Ann\"]}],"
                 "\"gender\":\"female\",\"birthDate\":\"1970-02-28\","
                 "\"_birthDate\":{\"extension\":[{\"url\":"
                 "\"http://hl7.org/fhir/StructureDefinition/data-absent-reason\","
                 "\"valueCode\":\"unknown\"}]},\"multipleBirthInteger\":2,"
                 "\"text\":{\"status\":\"generated\",\"div\":\"<div "
                 "xmlns=\\\"http://www.w3.org/1999/xhtml\\\">Jo</div>\"}}");
}

static void test_structure(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Patient\",\"foo\":1,\"gender\":[\"male\"],"
        "\"name\":{\"family\":\"X\"},\"contact\":[{\"resourceType\":\"Patient\","
        "\"gender\":\"male\"}]}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "Patient.foo"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "Patient.gender"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "Patient.name"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "Patient.contact[0].resourceType"));
    run("{\"resourceType\":\"Patiently\"}", &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, ""));
    run("{\"id\":\"x\"}", &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, ""));
    fg_issue_list_free(&l);
}

static void test_shadow(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    /* given and _given pair item by item, nulls as placeholders */
    expect_clean("{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"A\",null],"
                 "\"_given\":[null,{\"extension\":[{\"url\":"
                 "\"http://hl7.org/fhir/StructureDefinition/data-absent-reason\","
                 "\"valueCode\":\"unknown\"}]}]}]}");
    run("{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"A\",\"B\"],"
        "\"_given\":[null]}],\"_birthDate\":\"1970\",\"_gender\":{\"id\":\"g\"}}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "Patient.name[0].given"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "Patient.birthDate"));
    assert_true(has_rule(&l, "ele-1", "Patient.gender"));
    run("{\"resourceType\":\"Patient\",\"_name\":[{\"id\":\"n\"}]}", &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "Patient._name"));
    fg_issue_list_free(&l);
}

static void test_json_shape(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Patient\",\"name\":[],\"maritalStatus\":{},"
        "\"gender\":null,\"birthDate\":\"\",\"telecom\":[null]}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_JSON, "Patient.name"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_JSON, "Patient.maritalStatus"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_JSON, "Patient.gender"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_JSON, "Patient.birthDate"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_JSON, "Patient.telecom[0]"));
    run("{\"resourceType\":\"Patient\",\n  \"active\": tru}", &l);
    assert_int_equal(l.count, 1);
    assert_int_equal(l.items[0].severity, FG_SEV_FATAL);
    assert_int_equal(l.items[0].check, FG_CHECK_JSON);
    assert_int_equal(l.items[0].line, 2);
    fg_issue_list_free(&l);
}

static void test_cardinality(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/1\"}}", &l);
    assert_int_equal(l.errors, 2); /* status and code */
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "Observation"));
    run("{\"resourceType\":\"Patient\",\"link\":[{\"type\":\"seealso\"}]}", &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "Patient.link[0]"));
    fg_issue_list_free(&l);
}

static void test_types(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Patient\",\"deceasedString\":\"yes\","
        "\"multipleBirthInteger\":\"2\",\"active\":1,\"birthDate\":19700101,"
        "\"maritalStatus\":\"M\",\"deceasedBoolean\":true,\"deceasedDateTime\":\"2020\"}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_TYPE, "Patient.deceasedString"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_TYPE, "Patient.multipleBirthInteger"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_TYPE, "Patient.active"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_TYPE, "Patient.birthDate"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_TYPE, "Patient.maritalStatus"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "Patient.deceasedDateTime"));
    fg_issue_list_free(&l);
}

static void format_case(const char *prop, const char *value, int ok)
{
    char json[512];
    snprintf(json, sizeof json, "{\"resourceType\":\"%s\",%s}",
             strncmp(prop, "Observation", 11) == 0 ? "Observation" : "Patient", value);
    fg_issue_list l = {0};
    run(json, &l);
    int found = 0;
    for (size_t i = 0; i < l.count; i++)
        if (l.items[i].check == FG_CHECK_FORMAT && strcmp(l.items[i].path, prop) == 0)
            found = 1;
    if (found == ok) {
        fprintf(stderr, "format case %s %s: expected %s\n", prop, value, ok ? "ok" : "error");
        dump(&l);
    }
    assert_int_equal(found, !ok);
    fg_issue_list_free(&l);
}

static void test_formats(void **state)
{
    (void)state;
    format_case("Patient.birthDate", "\"birthDate\":\"2024-02-29\"", 1);
    format_case("Patient.birthDate", "\"birthDate\":\"2023-02-29\"", 0);
    format_case("Patient.birthDate", "\"birthDate\":\"2023-1-2\"", 0);
    format_case("Patient.birthDate", "\"birthDate\":\"2023-01-02T10:00:00Z\"", 0);
    format_case("Patient.deceasedDateTime", "\"deceasedDateTime\":\"2023-01-02T10:00:00+01:00\"", 1);
    format_case("Patient.deceasedDateTime", "\"deceasedDateTime\":\"2023-01-02T10:00:00\"", 0);
    format_case("Patient.deceasedDateTime", "\"deceasedDateTime\":\"2023-01-02T25:00:00Z\"", 0);
    format_case("Patient.id", "\"id\":\"a.b-C9\"", 1);
    format_case("Patient.id", "\"id\":\"a_b\"", 0);
    format_case("Patient.id",
                "\"id\":\"0123456789012345678901234567890123456789012345678901234567890123456\"",
                0);
    format_case("Patient.multipleBirthInteger", "\"multipleBirthInteger\":2147483648", 0);
    format_case("Patient.multipleBirthInteger", "\"multipleBirthInteger\":-2147483648", 1);
    format_case("Patient.multipleBirthInteger", "\"multipleBirthInteger\":1.5", 0);
    format_case("Patient.gender", "\"gender\":\"male \"", 0);
    format_case("Patient.implicitRules", "\"implicitRules\":\"http://a b\"", 0);
    format_case("Patient.photo[0].data", "\"photo\":[{\"data\":\"aGVsbG8=\"}]", 1);
    format_case("Patient.photo[0].data", "\"photo\":[{\"data\":\"aGVsbG8\"}]", 0);
    format_case("Patient.photo[0].size", "\"photo\":[{\"size\":-1}]", 0);
    format_case("Patient.meta.lastUpdated", "\"meta\":{\"lastUpdated\":\"2020-01-01\"}", 0);
    format_case("Patient.meta.lastUpdated",
                "\"meta\":{\"lastUpdated\":\"2020-01-01T00:00:00.123Z\"}", 1);
    format_case("Patient.text.div",
                "\"text\":{\"status\":\"generated\",\"div\":\"<p>no</p>\"}", 0);
    format_case("Patient.name[0].family", "\"name\":[{\"family\":\"a\\u0001b\"}]", 0);
    format_case("Observation.valueTime", "\"status\":\"final\",\"code\":{\"text\":\"x\"},"
                                         "\"valueTime\":\"24:00:00\"",
                0);
    format_case("Observation.valueTime", "\"status\":\"final\",\"code\":{\"text\":\"x\"},"
                                         "\"valueTime\":\"23:59:59.5\"",
                1);
}

static void test_binding(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Patient\",\"gender\":\"boy\"}", &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_BINDING, "Patient.gender"));
    run("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
        "\"valueQuantity\":{\"value\":1,\"comparator\":\"~\"}}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_BINDING, "Observation.valueQuantity.comparator"));
    fg_issue_list_free(&l);
}

static void test_references(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
        "\"subject\":{\"reference\":\"Medication/1\"},"
        "\"performer\":[{\"reference\":\"#nope\"}]}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_REFERENCE, "Observation.subject.reference"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_REFERENCE, "Observation.performer[0].reference"));
    /* contained, resolved; dom-3 met */
    expect_clean("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":"
                 "\"x\"},\"contained\":[{\"resourceType\":\"Patient\",\"id\":\"p\"}],"
                 "\"subject\":{\"reference\":\"#p\"}}");
    run("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
        "\"contained\":[{\"resourceType\":\"Patient\",\"id\":\"p\"}]}",
        &l);
    assert_true(has_rule(&l, "dom-3", "Observation.contained[0]"));
    fg_issue_list_free(&l);
}

static void test_bundle(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    const char *ok =
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
        "{\"fullUrl\":\"urn:uuid:0b8e5a3c-6c7e-4b0e-9a53-8d0c8b9a1f10\",\"resource\":"
        "{\"resourceType\":\"Patient\",\"id\":\"0b8e5a3c-6c7e-4b0e-9a53-8d0c8b9a1f10\"},"
        "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
        "{\"fullUrl\":\"urn:uuid:1b8e5a3c-6c7e-4b0e-9a53-8d0c8b9a1f10\",\"resource\":"
        "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
        "\"subject\":{\"reference\":\"urn:uuid:0b8e5a3c-6c7e-4b0e-9a53-8d0c8b9a1f10\"},"
        "\"performer\":[{\"reference\":\"Organization?identifier=http://e.org|1\"}]},"
        "\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}";
    expect_clean(ok);
    run("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
        "{\"fullUrl\":\"urn:uuid:0b8e5a3c-6c7e-4b0e-9a53-8d0c8b9a1f10\",\"resource\":"
        "{\"resourceType\":\"Patient\"}},"
        "{\"fullUrl\":\"urn:uuid:0b8e5a3c-6c7e-4b0e-9a53-8d0c8b9a1f10\",\"resource\":"
        "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
        "\"subject\":{\"reference\":\"urn:uuid:2b8e5a3c-6c7e-4b0e-9a53-8d0c8b9a1f10\"}},"
        "\"request\":{\"method\":\"POST\"}},"
        "{\"fullUrl\":\"http://e.org/fhir/Patient/1\",\"resource\":"
        "{\"resourceType\":\"Patient\",\"id\":\"2\"},"
        "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/2\"}}]}",
        &l);
    assert_true(has_rule(&l, "bdl-3", "Bundle.entry[0]"));
    assert_true(has_rule(&l, "bdl-7", "Bundle.entry[1]"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "Bundle.entry[1].request"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_REFERENCE,
                    "Bundle.entry[1].resource.subject.reference"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_BUNDLE, "Bundle.entry[2]"));
    run("{\"resourceType\":\"Bundle\",\"type\":\"document\",\"entry\":["
        "{\"fullUrl\":\"http://e.org/Patient/1\",\"resource\":{\"resourceType\":\"Patient\","
        "\"id\":\"1\"}}]}",
        &l);
    assert_true(has_rule(&l, "bdl-9", "Bundle"));
    assert_true(has_rule(&l, "bdl-11", "Bundle"));
    fg_issue_list_free(&l);
}

static void test_invariants(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
        "\"valueString\":\"a\",\"dataAbsentReason\":{\"text\":\"gone\"}}",
        &l);
    assert_true(has_rule(&l, "obs-6", "Observation"));
    run("{\"resourceType\":\"Patient\",\"extension\":[{\"url\":\"http://e.org/x\","
        "\"valueString\":\"a\",\"extension\":[{\"url\":\"y\",\"valueString\":\"b\"}]}],"
        "\"name\":[{\"id\":\"only\"}]}",
        &l);
    assert_true(has_rule(&l, "ext-1", "Patient.extension[0]"));
    assert_true(has_rule(&l, "ele-1", "Patient.name[0]"));
    fg_issue_list_free(&l);
}

static void test_extensions(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Patient\",\"extension\":[{\"url\":\"http://e.org/unknown\","
        "\"valueString\":\"a\"}],\"modifierExtension\":[{\"url\":\"http://e.org/mod\","
        "\"valueBoolean\":true}]}",
        &l);
    assert_true(has(&l, FG_SEV_WARNING, FG_CHECK_EXTENSION, "Patient.extension[0]"));
    assert_true(has(&l, FG_SEV_WARNING, FG_CHECK_EXTENSION, "Patient.modifierExtension[0]"));
    /* a core extension: value type and context checked */
    expect_clean("{\"resourceType\":\"Patient\",\"extension\":[{\"url\":"
                 "\"http://hl7.org/fhir/StructureDefinition/patient-birthPlace\","
                 "\"valueAddress\":{\"city\":\"Boston\"}}]}");
    run("{\"resourceType\":\"Patient\",\"extension\":[{\"url\":"
        "\"http://hl7.org/fhir/StructureDefinition/patient-birthPlace\","
        "\"valueString\":\"Boston\"}]}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_TYPE, "Patient.extension[0].valueString"));
    run("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
        "\"extension\":[{\"url\":\"http://hl7.org/fhir/StructureDefinition/patient-birthPlace\","
        "\"valueAddress\":{\"city\":\"Boston\"}}]}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_EXTENSION, "Observation.extension[0]"));
    fg_issue_list_free(&l);
}

static void test_profiles_uscore(void **state)
{
    (void)state;
    if (us_v == NULL)
        skip(); /* needs ../shared/fhir-packages/hl7.fhir.us.core#6.1.0 */
    fg_issue_list l = {0};
    const char *pat =
        "{\"resourceType\":\"Patient\",\"meta\":{\"profile\":["
        "\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient\","
        "\"http://example.org/StructureDefinition/not-loaded\"]},"
        "\"name\":[{\"family\":\"Doe\"}],\"gender\":\"female\"}";
    run_with(us_v, pat, &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "Patient"));
    assert_true(has(&l, FG_SEV_WARNING, FG_CHECK_PROFILE, "Patient.meta.profile[1]"));
    /* the base rules are reported once, not once per walk */
    run_with(us_v,
             "{\"resourceType\":\"Patient\",\"meta\":{\"profile\":["
             "\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient\"]},"
             "\"identifier\":[{\"system\":\"http://e.org\",\"value\":\"1\"}],"
             "\"name\":[{\"family\":\"Doe\"}],\"gender\":\"girl\"}",
             &l);
    assert_int_equal(l.errors, 1);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_BINDING, "Patient.gender"));
    /* blood pressure: slices by pattern on component.code and category */
    run_with(us_v,
             "{\"resourceType\":\"Observation\",\"meta\":{\"profile\":["
             "\"http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure\"]},"
             "\"status\":\"final\",\"category\":[{\"coding\":[{\"system\":"
             "\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":"
             "\"vital-signs\"}]}],\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
             "\"code\":\"85354-9\"}]},\"subject\":{\"reference\":\"Patient/1\"},"
             "\"effectiveDateTime\":\"2020-01-01\",\"component\":[{\"code\":{\"coding\":[{"
             "\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}]},\"valueQuantity\":{"
             "\"value\":120,\"unit\":\"mmHg\",\"system\":\"http://unitsofmeasure.org\","
             "\"code\":\"mm[Hg]\"}}]}",
             &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "Observation.component"));
    fg_issue_list_free(&l);
}

static void test_profile_option(void **state)
{
    (void)state;
    if (us_reg == NULL)
        skip(); /* needs ../shared/fhir-packages/hl7.fhir.us.core#6.1.0 */
    fg_validate_opts o;
    fg_validate_opts_default(&o);
    o.profile = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient";
    fg_validator *v = NULL;
    fg_error err;
    assert_int_equal(fg_validator_new(us_reg, &o, &v, &err), FG_OK);
    fg_issue_list l = {0};
    run_with(v, "{\"resourceType\":\"Patient\",\"gender\":\"male\"}", &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_CARDINALITY, "Patient"));
    run_with(v, "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"}}",
             &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_PROFILE, "Observation"));
    fg_validator_free(v);
    o.profile = "http://example.org/nothing";
    assert_int_equal(fg_validator_new(us_reg, &o, &v, &err), FG_ENOTFOUND);
    fg_issue_list_free(&l);
}

static void test_not_checked_and_outcome(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Patient\",\"foo\":true}", &l);
    json_t *oo = fg_issue_list_outcome(&l);
    assert_non_null(oo);
    assert_string_equal(json_string_value(json_object_get(oo, "resourceType")),
                        "OperationOutcome");
    json_t *is = json_array_get(json_object_get(oo, "issue"), 0);
    assert_string_equal(json_string_value(json_object_get(is, "severity")), "error");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(is, "expression"), 0)), "Patient.foo");
    json_decref(oo);
    assert_string_equal(fg_check_name(FG_CHECK_SLICING), "slicing");
    assert_string_equal(fg_severity_name(FG_SEV_WARNING), "warning");
    /* the list of unchecked things only grows, and each entry is unique */
    size_t n = fg_validator_not_checked_count(core_v);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(fg_validator_not_checked(core_v, i),
                                    fg_validator_not_checked(core_v, j));
    fg_issue_list_free(&l);
}

static void test_depth(void **state)
{
    (void)state;
    /* deeply nested extensions: an issue, no crash */
    char *buf = malloc(200000);
    size_t n = 0;
    n += (size_t)sprintf(buf + n, "{\"resourceType\":\"Patient\"");
    for (int i = 0; i < 500; i++)
        n += (size_t)sprintf(buf + n, ",\"extension\":[{\"url\":\"http://e.org/%d\"", i);
    n += (size_t)sprintf(buf + n, ",\"valueString\":\"x\"");
    for (int i = 0; i < 500; i++)
        n += (size_t)sprintf(buf + n, "}]");
    sprintf(buf + n, "}");
    fg_issue_list l = {0};
    run(buf, &l);
    assert_true(l.errors > 0);
    free(buf);
    fg_issue_list_free(&l);
}

static void test_regressions(void **state)
{
    (void)state;
    fg_issue_list l = {0};
    /* an Extension with a `_b` property once crashed ext-1's value scan */
    run("{\"resourceType\":\"Patient\",\"_birthDate\":{\"extension\":[{\"url\":"
        "\"http://e.org/x\",\"v:x\":\"Patient\",\"_b\":\"x\"}]}}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "Patient.birthDate.extension[0]._b"));
    /* an extension on a primitive takes the primitive as its context */
    expect_clean("{\"resourceType\":\"Patient\",\"birthDate\":\"1970-01-01\",\"_birthDate\":"
                 "{\"extension\":[{\"url\":"
                 "\"http://hl7.org/fhir/StructureDefinition/patient-birthTime\","
                 "\"valueDateTime\":\"1970-01-01T10:00:00Z\"}]}}");
    /* txt-2: a narrative of whitespace only */
    run("{\"resourceType\":\"Patient\",\"text\":{\"status\":\"generated\",\"div\":"
        "\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\"> <p> </p></div>\"}}",
        &l);
    assert_true(has_rule(&l, "txt-2", "Patient.text.div"));
    /* transactions: request.url against the resource, one write per resource */
    run("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
        "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"a\"},"
        "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/b\"}},"
        "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"b\"},"
        "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/b\"}},"
        "{\"resource\":{\"resourceType\":\"Patient\"},"
        "\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}},"
        "{\"resource\":{\"resourceType\":\"Parameters\"},"
        "\"request\":{\"method\":\"POST\",\"url\":\"ValueSet/$expand\"}}]}",
        &l);
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_BUNDLE, "Bundle.entry[0].request.url"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_BUNDLE, "Bundle.entry[1]"));
    assert_true(has(&l, FG_SEV_ERROR, FG_CHECK_BUNDLE, "Bundle.entry[2].request.url"));
    for (size_t i = 0; i < l.count; i++)
        assert_string_not_equal(l.items[i].path, "Bundle.entry[3].request.url");
    /* datatype invariants reached through the type: qty-3, cpt-2 */
    run("{\"resourceType\":\"Patient\",\"telecom\":[{\"value\":\"555\"}]}", &l);
    assert_true(has_rule(&l, "cpt-2", "Patient.telecom[0]"));
    fg_issue_list_free(&l);
}

static void test_core_bp_profile(void **state)
{
    (void)state;
    /* the core bp profile fixes each component's code in a re-slice of
     * code.coding: a correct one has no slicing or cardinality issue */
    fg_issue_list l = {0};
    run("{\"resourceType\":\"Observation\",\"meta\":{\"profile\":["
        "\"http://hl7.org/fhir/StructureDefinition/bp\"]},\"status\":\"final\","
        "\"category\":[{\"coding\":[{\"system\":"
        "\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":"
        "\"vital-signs\"}]}],\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
        "\"code\":\"85354-9\"}]},\"subject\":{\"reference\":\"Patient/1\"},"
        "\"effectiveDateTime\":\"2020-01-01\",\"component\":["
        "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}]},"
        "\"valueQuantity\":{\"value\":120,\"unit\":\"mmHg\",\"system\":"
        "\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\"}},"
        "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8462-4\"}]},"
        "\"valueQuantity\":{\"value\":80,\"unit\":\"mmHg\",\"system\":"
        "\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\"}}]}",
        &l);
    for (size_t i = 0; i < l.count; i++)
        if (l.items[i].check == FG_CHECK_SLICING || l.items[i].check == FG_CHECK_CARDINALITY) {
            dump(&l);
            fail();
        }
    fg_issue_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_patient),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_shadow),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_cardinality),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_binding),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_invariants),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_profiles_uscore),
        cmocka_unit_test(test_profile_option),
        cmocka_unit_test(test_not_checked_and_outcome),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_regressions),
        cmocka_unit_test(test_core_bp_profile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
