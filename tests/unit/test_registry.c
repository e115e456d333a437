/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_registry.c: the profile registry: the compact R4 core, US Core from
 * the package cache, compiled element trees, value set expansions, and
 * broken packages (tests/data/packages).
 *
 * Runs with the repository root as working directory. The US Core and
 * regeneration tests need the shared folder (../shared) and skip, saying
 * why, without it.
 */
#include <pthread.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "fhir/base/fg_data.h"
#include "profiles/fg_registry.h"
#include "profiles/registry_private.h"

#include "tests/fuzz/fuzz_registry.c"

#define SHARED_PACKAGES "../shared/fhir-packages"
#define CORE_PACKAGE_DIR SHARED_PACKAGES "/hl7.fhir.r4.core#4.0.1/package"
#define TEST_PACKAGES "tests/data/packages"

static fg_registry *core_reg; /* core only, finished once for the read-only tests */

static const char *datadir(void)
{
    const char *d = getenv("FHIRGEN_DATA_DIR");
    return d && *d ? d : "data";
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const fg_elem *child(const fg_elem *e, const char *name)
{
    for (size_t i = 0; e && i < e->n_children; i++)
        if (strcmp(e->children[i]->name, name) == 0)
            return e->children[i];
    return NULL;
}

static const fg_elem *slice(const fg_elem *e, const char *name)
{
    for (size_t i = 0; e && i < e->n_slices; i++)
        if (strcmp(e->slices[i]->slice_name, name) == 0)
            return e->slices[i];
    return NULL;
}

static int setup_core(void **state)
{
    (void)state;
    fg_error err;
    fg_error_clear(&err);
    if (fg_registry_new(&core_reg, &err) != FG_OK ||
        fg_registry_load_core(core_reg, datadir(), &err) != FG_OK ||
        fg_registry_finish(core_reg, &err) != FG_OK) {
        fprintf(stderr, "core registry: %s: %s\n", err.where, err.text);
        return -1;
    }
    return 0;
}

static int teardown_core(void **state)
{
    (void)state;
    fg_registry_free(core_reg);
    return 0;
}

static void test_core_counts(void **state)
{
    (void)state;
    size_t sds, vss, css;
    fg_registry_counts(core_reg, &sds, &vss, &css);
    assert_true(sds >= 650);
    assert_true(vss >= 300);
    assert_true(css >= 300);
    /* Every core structure compiled. */
    assert_int_equal(fg_registry_structure_count(core_reg), sds);
    for (size_t i = 0; i < sds; i++) {
        const fg_structure *st = fg_registry_structure_at(core_reg, i);
        assert_non_null(st->root);
        assert_non_null(fg_registry_structure(core_reg, st->url));
    }
    assert_non_null(fg_registry_type(core_reg, "Patient"));
    assert_non_null(fg_registry_type(core_reg, "string"));
    assert_int_equal(fg_registry_type(core_reg, "string")->kind, FG_KIND_PRIMITIVE);
    assert_null(fg_registry_type(core_reg, "NoSuchType"));
}

static void test_core_patient(void **state)
{
    (void)state;
    const fg_structure *pat = fg_registry_type(core_reg, "Patient");
    assert_string_equal(pat->url, "http://hl7.org/fhir/StructureDefinition/Patient");
    assert_int_equal(pat->kind, FG_KIND_RESOURCE);
    assert_int_equal(pat->is_constraint, 0);
    const fg_elem *gender = child(pat->root, "gender");
    assert_non_null(gender);
    assert_int_equal(gender->binding, FG_BIND_REQUIRED);
    assert_string_equal(gender->binding_vs,
                        "http://hl7.org/fhir/ValueSet/administrative-gender"); /* version stripped */
    assert_non_null(gender->binding_exp);
    assert_int_equal(fg_valueset_status(gender->binding_exp), FG_VS_EXPANDED);
    const char *sys = "http://hl7.org/fhir/administrative-gender";
    const char *codes[] = {"male", "female", "other", "unknown"};
    for (size_t i = 0; i < 4; i++) {
        assert_true(fg_valueset_contains(gender->binding_exp, sys, codes[i]));
        assert_true(fg_valueset_contains(gender->binding_exp, NULL, codes[i]));
    }
    assert_false(fg_valueset_contains(gender->binding_exp, sys, "M"));
    assert_false(fg_valueset_contains(gender->binding_exp, "http://other", "male"));
    assert_string_equal(fg_valueset_display(gender->binding_exp, sys, "female"), "Female");
    assert_int_equal(gender->is_array, 0);
    assert_int_equal(gender->max, 1);
    const fg_elem *name = child(pat->root, "name");
    assert_true(name->is_array);
    assert_int_equal(name->max, FG_CARD_MANY);
    assert_int_equal(name->n_types, 1);
    assert_string_equal(name->types[0].code, "HumanName");
    assert_ptr_equal(name->types[0].base, fg_registry_type(core_reg, "HumanName"));
    assert_ptr_equal(name->parent, pat->root);
    assert_ptr_equal(name->owner, pat);
    /* Constraints: dom-2 on the root, ele-1 on elements, shared compiled form. */
    int found = 0;
    for (size_t i = 0; i < pat->root->n_constraints; i++)
        if (strcmp(pat->root->constraints[i].key, "dom-2") == 0) {
            found = 1;
            assert_true(pat->root->constraints[i].is_error);
            assert_non_null(pat->root->constraints[i].expression);
        }
    assert_true(found);
    assert_true(name->n_constraints >= 1);
    assert_string_equal(name->constraints[0].key, "ele-1");
    assert_string_equal(name->constraints[0].source,
                        "http://hl7.org/fhir/StructureDefinition/Element");
    const fg_elem *contact = child(pat->root, "contact");
    assert_true(contact->has_children);
    assert_non_null(child(contact, "relationship"));
    assert_true(child(contact, "relationship")->binding == FG_BIND_EXTENSIBLE);
}

static void test_core_choice_and_refs(void **state)
{
    (void)state;
    const fg_structure *obs = fg_registry_type(core_reg, "Observation");
    const fg_elem *value = child(obs->root, "value");
    assert_non_null(value);
    assert_true(value->is_choice);
    assert_string_equal(value->path, "Observation.value[x]");
    assert_int_equal(value->n_types, 11);
    assert_string_equal(value->types[0].code, "Quantity");
    const fg_elem *subject = child(obs->root, "subject");
    assert_int_equal(subject->n_types, 1);
    assert_true(subject->types[0].n_targets >= 4);

    const fg_structure *q = fg_registry_type(core_reg, "Questionnaire");
    const fg_elem *item = child(q->root, "item");
    const fg_elem *sub = child(item, "item");
    assert_non_null(sub);
    assert_ptr_equal(sub->content_ref, item);
    assert_int_equal(sub->has_children, 0);

    /* Primitive value: a System type with the fhir-type extension. */
    const fg_structure *str = fg_registry_type(core_reg, "string");
    const fg_elem *v = child(str->root, "value");
    assert_non_null(v);
    assert_string_equal(v->types[0].code, "http://hl7.org/fhirpath/System.String");
    assert_null(v->types[0].base);
}

static void test_core_profiles_and_slices(void **state)
{
    (void)state;
    const fg_structure *bp =
        fg_registry_structure(core_reg, "http://hl7.org/fhir/StructureDefinition/bp");
    assert_non_null(bp);
    assert_true(bp->is_constraint);
    assert_string_equal(bp->type, "Observation");
    assert_null(fg_registry_structure(core_reg, "http://hl7.org/fhir/StructureDefinition/bp|9.9"));
    assert_non_null(fg_registry_structure(core_reg,
                                          "http://hl7.org/fhir/StructureDefinition/bp|4.0.1"));
    const fg_elem *comp = child(bp->root, "component");
    assert_true(comp->sliced);
    assert_int_equal(comp->slice_rules, FG_SLICE_OPEN);
    assert_int_equal(comp->n_discriminators, 2);
    assert_int_equal(comp->discriminators[0].kind, FG_DISC_VALUE);
    assert_string_equal(comp->discriminators[0].path, "code.coding.code");
    const fg_elem *sys = slice(comp, "SystolicBP");
    assert_non_null(sys);
    assert_int_equal(sys->min, 1);
    assert_true(sys->is_array);
    const fg_elem *coding = child(child(sys, "code"), "coding");
    assert_ptr_equal(coding->parent->parent, sys);
    const fg_elem *sbp = slice(coding, "SBPCode");
    assert_non_null(sbp);
    const fg_elem *code = child(sbp, "code");
    assert_non_null(code->fixed);
    assert_string_equal(code->fixed_type, "Code");
    assert_ptr_equal(code->parent, sbp);
    /* value[x] of the profile is sliced by type, closed. */
    const fg_elem *value = child(bp->root, "value");
    assert_true(value->sliced);
    assert_int_equal(value->slice_rules, FG_SLICE_CLOSED);
    assert_int_equal(value->discriminators[0].kind, FG_DISC_TYPE);
    const fg_elem *cat = child(bp->root, "category");
    assert_true(cat->sliced);
    assert_non_null(slice(cat, "VSCat"));

    /* An extension definition keeps its contexts. */
    const fg_structure *ext = fg_registry_structure(
        core_reg, "http://hl7.org/fhir/StructureDefinition/patient-birthPlace");
    assert_non_null(ext);
    assert_int_equal(ext->n_contexts, 1);
    assert_string_equal(ext->contexts[0], "Patient");
    const fg_elem *url = child(ext->root, "url");
    assert_non_null(url->fixed);
    assert_string_equal(url->fixed_type, "Uri");
}

static void test_core_valuesets(void **state)
{
    (void)state;
    const fg_valueset *vs =
        fg_registry_valueset(core_reg, "http://hl7.org/fhir/ValueSet/observation-status|4.0.1");
    assert_non_null(vs);
    assert_int_equal(fg_valueset_status(vs), FG_VS_EXPANDED);
    assert_true(fg_valueset_contains(vs, "http://hl7.org/fhir/observation-status", "final"));
    assert_null(fg_valueset_note(vs));
    /* Grammars are not lists. */
    vs = fg_registry_valueset(core_reg, "http://hl7.org/fhir/ValueSet/mimetypes");
    assert_non_null(vs);
    assert_int_equal(fg_valueset_status(vs), FG_VS_NOT_EXPANDABLE);
    assert_non_null(strstr(fg_valueset_note(vs), "BCP-13"));
    vs = fg_registry_valueset(core_reg, "http://hl7.org/fhir/ValueSet/ucum-units");
    assert_non_null(vs);
    assert_int_equal(fg_valueset_status(vs), FG_VS_NOT_EXPANDABLE);
    assert_non_null(strstr(fg_valueset_note(vs), "UCUM"));
    assert_null(fg_registry_valueset(core_reg, "http://example.org/none"));
    /* A list of UCUM codes is an exact list. */
    vs = fg_registry_valueset(core_reg, "http://hl7.org/fhir/ValueSet/ucum-vitals-common");
    assert_int_equal(fg_valueset_status(vs), FG_VS_EXPANDED);
    assert_true(fg_valueset_contains(vs, "http://unitsofmeasure.org", "mm[Hg]"));
    assert_false(fg_valueset_contains(vs, "http://unitsofmeasure.org", "mmHg"));
    /* is-not-a over a hierarchical code system. */
    vs = fg_registry_valueset(core_reg, "http://hl7.org/fhir/ValueSet/patient-contactrelationship");
    assert_int_equal(fg_valueset_status(vs), FG_VS_EXPANDED);
    assert_true(fg_valueset_contains(vs, "http://terminology.hl7.org/CodeSystem/v2-0131", "C"));
    assert_false(fg_valueset_contains(vs, "http://terminology.hl7.org/CodeSystem/v2-0131", "O"));
}

/* After finish, readers share the registry without locks. */
static void *reader(void *arg)
{
    (void)arg;
    long hits = 0;
    for (int i = 0; i < 2000; i++) {
        const fg_structure *st = fg_registry_type(core_reg, i % 2 ? "Patient" : "Observation");
        const fg_valueset *vs =
            fg_registry_valueset(core_reg, "http://hl7.org/fhir/ValueSet/administrative-gender");
        hits += st != NULL;
        hits += fg_valueset_contains(vs, "http://hl7.org/fhir/administrative-gender", "female");
        hits += fg_valueset_contains(vs, NULL, "male");
        hits += fg_registry_structure(core_reg, "http://hl7.org/fhir/StructureDefinition/bp|4.0.1") !=
                NULL;
    }
    return (void *)hits;
}

static void test_concurrent_reads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *hits = NULL;
        pthread_join(t[i], &hits);
        assert_int_equal((long)hits, 8000);
    }
}

/* ---- packages ---- */

static fg_registry *load(const char *cache, const char *spec, int *rc_load, int *rc_finish,
                         fg_error *err)
{
    fg_registry *reg = NULL;
    fg_error_clear(err);
    /* Without the core: these packages need nothing from it, and the
     * test stays quick under sanitizers. */
    assert_int_equal(fg_registry_new(&reg, err), FG_OK);
    *rc_load = fg_registry_load_package(reg, cache, spec, err);
    *rc_finish = *rc_load == FG_OK ? fg_registry_finish(reg, err) : 1;
    return reg;
}

static int has_note(const fg_registry *reg, const char *a, const char *b)
{
    for (size_t i = 0; i < fg_registry_note_count(reg); i++) {
        const char *n = fg_registry_note(reg, i);
        if (strstr(n, a) && (!b || strstr(n, b)))
            return 1;
    }
    return 0;
}

static void test_package_good(void **state)
{
    (void)state;
    fg_error err;
    int rl, rf;
    /* Bare name: 1.10.0 beats 1.9.0 (which is broken and must not be read). */
    fg_registry *reg = NULL;
    assert_int_equal(fg_registry_new(&reg, &err), FG_OK);
    assert_int_equal(fg_registry_load_package(reg, TEST_PACKAGES, "fhirgen.test.good", &err), FG_OK);
    /* A second version of the same package is a note, not a second load. */
    assert_int_equal(fg_registry_load_package(reg, TEST_PACKAGES, "fhirgen.test.good#1.9.0", &err),
                     FG_OK);
    assert_true(has_note(reg, "fhirgen.test.good#1.9.0 is not loaded", NULL));
    rl = FG_OK;
    rf = fg_registry_finish(reg, &err);
    assert_int_equal(rl, FG_OK);
    assert_int_equal(rf, FG_OK);
    const fg_structure *st =
        fg_registry_structure(reg, "http://example.org/fhirgen-test/StructureDefinition/test-patient");
    assert_non_null(st); /* found without .index.json */
    assert_string_equal(st->package, "fhirgen.test.good#1.10.0");
    const fg_elem *ident = child(st->root, "identifier");
    assert_int_equal(ident->min, 1);
    /* A slice, its children, and a re-slice below it. */
    assert_true(ident->sliced);
    assert_int_equal(ident->n_children, 1);
    assert_int_equal(ident->n_slices, 1);
    const fg_elem *mrn = slice(ident, "mrn");
    assert_non_null(mrn);
    assert_true(mrn->sliced);
    assert_int_equal(mrn->slice_rules, FG_SLICE_CLOSED);
    assert_true(mrn->slice_ordered);
    assert_string_equal(child(mrn, "system")->fixed_type, "Uri");
    assert_string_equal(fg_jv_str(child(mrn, "system")->fixed),
                        "http://example.org/fhirgen-test/mrn");
    assert_int_equal(mrn->n_slices, 1);
    const fg_elem *local = slice(mrn, "mrn/local");
    assert_non_null(local);
    assert_int_equal(local->max, 1);
    assert_true(local->is_array);
    assert_non_null(child(local, "type")->pattern);
    assert_ptr_equal(local->parent, st->root);
    /* "deceasedBoolean" next to "deceased[x]" folds into a type slice. */
    const fg_elem *dec = child(st->root, "deceased");
    assert_non_null(dec);
    assert_true(dec->is_choice);
    assert_true(dec->sliced);
    assert_int_equal(dec->discriminators[0].kind, FG_DISC_TYPE);
    const fg_elem *db = slice(dec, "deceasedBoolean");
    assert_non_null(db);
    assert_int_equal(db->min, 1);
    assert_int_equal(db->n_children, 1);
    assert_null(child(st->root, "deceasedBoolean"));
    const fg_elem *g = child(st->root, "gender");
    assert_string_equal(g->binding_vs, "http://example.org/fhirgen-test/ValueSet/test-colours");
    assert_non_null(g->binding_exp);
    assert_int_equal(fg_valueset_status(g->binding_exp), FG_VS_EXPANDED);
    const char *cs = "http://example.org/fhirgen-test/CodeSystem/test-colours";
    assert_true(fg_valueset_contains(g->binding_exp, cs, "red"));
    assert_true(fg_valueset_contains(g->binding_exp, cs, "crimson"));
    assert_false(fg_valueset_contains(g->binding_exp, cs, "grey")); /* excluded */
    assert_string_equal(fg_valueset_display(g->binding_exp, cs, "crimson"), "Crimson");
    assert_true(has_note(reg, "fhirgen.test.absent", "not in the package cache"));
    /* A dependency that is present loads (through its .index.json). */
    const fg_valueset *sizes =
        fg_registry_valueset(reg, "http://example.org/fhirgen-test/ValueSet/dep-sizes");
    assert_non_null(sizes);
    assert_int_equal(fg_valueset_status(sizes), FG_VS_EXPANDED);
    const char *dcs = "http://example.org/fhirgen-test/CodeSystem/dep-sizes";
    assert_true(fg_valueset_contains(sizes, dcs, "big"));
    assert_true(fg_valueset_contains(sizes, dcs, "huge"));
    assert_false(fg_valueset_contains(sizes, dcs, "small"));
    assert_false(has_note(reg, "fhirgen.test.dep", NULL));
    assert_false(has_note(reg, "hl7.fhir.r4.core", NULL));
    fg_registry_free(reg);
}

static void test_package_errors(void **state)
{
    (void)state;
    fg_error err;
    int rl, rf;
    fg_registry *reg = load(TEST_PACKAGES, "fhirgen.test.nopkgjson#1.0.0", &rl, &rf, &err);
    assert_int_equal(rl, FG_EINVALID);
    assert_non_null(strstr(err.where, "fhirgen.test.nopkgjson#1.0.0/package"));
    assert_non_null(strstr(err.text, "package.json"));
    fg_registry_free(reg);

    reg = load(TEST_PACKAGES, "fhirgen.test.notjson#1.0.0", &rl, &rf, &err);
    assert_int_equal(rl, FG_EINVALID);
    assert_non_null(strstr(err.where, "StructureDefinition-broken.json"));
    assert_non_null(strstr(err.text, "not valid JSON"));
    fg_registry_free(reg);

    reg = load(TEST_PACKAGES, "fhirgen.test.badsd", &rl, &rf, &err);
    assert_int_equal(rl, FG_OK);
    assert_int_equal(rf, FG_EINVALID);
    assert_non_null(strstr(err.where, "StructureDefinition/bad"));
    assert_non_null(strstr(err.where, "Patient.name"));
    assert_non_null(strstr(err.text, "many"));
    assert_non_null(strstr(err.text, "StructureDefinition-bad.json"));
    fg_registry_free(reg);

    reg = load(TEST_PACKAGES, "fhirgen.test.orphan", &rl, &rf, &err);
    assert_int_equal(rf, FG_EINVALID);
    assert_non_null(strstr(err.text, "Patient.contact.name"));
    fg_registry_free(reg);

    reg = load(TEST_PACKAGES, "fhirgen.test.nosuch", &rl, &rf, &err);
    assert_int_equal(rl, FG_ENOTFOUND);
    assert_non_null(strstr(err.text, "not in the package cache"));
    fg_registry_free(reg);

    reg = load(TEST_PACKAGES, "fhirgen.test.good#3.0.0", &rl, &rf, &err);
    assert_int_equal(rl, FG_ENOTFOUND);
    fg_registry_free(reg);
}

static void test_cache_dir(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(fg_package_cache_dir("/x/y", "/home/someone", buf, sizeof(buf)), "/x/y");
    assert_string_equal(fg_package_cache_dir(NULL, "/home/someone", buf, sizeof(buf)),
                        "/home/someone/.fhir/packages");
    assert_string_equal(fg_package_cache_dir("", NULL, buf, sizeof(buf)), "./.fhir/packages");
    assert_null(fg_package_cache_dir(NULL, "/home/someone", buf, 8));
}

static long rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_us_core(void **state)
{
    (void)state;
    if (!exists(SHARED_PACKAGES "/hl7.fhir.us.core#6.1.0/package/package.json")) {
        skip(); /* needs ../shared/fhir-packages/hl7.fhir.us.core#6.1.0 */
        return;
    }
    fg_error err;
    fg_error_clear(&err);
    fg_registry *reg = NULL;
    double t0 = now_ms();
    assert_int_equal(fg_registry_new(&reg, &err), FG_OK);
    assert_int_equal(fg_registry_load_core(reg, datadir(), &err), FG_OK);
    double t1 = now_ms();
    int rc = fg_registry_load_package(reg, SHARED_PACKAGES, "hl7.fhir.us.core#6.1.0", &err);
    if (rc != FG_OK)
        fail_msg("%s: %s", err.where, err.text);
    double t2 = now_ms();
    rc = fg_registry_finish(reg, &err);
    if (rc != FG_OK)
        fail_msg("%s: %s", err.where, err.text);
    double t3 = now_ms();
    print_message("registry: core %.0f ms, US Core %.0f ms, finish %.0f ms, total %.0f ms, "
                  "peak RSS %ld MB\n",
                  t1 - t0, t2 - t1, t3 - t2, t3 - t0, rss_kb() / 1024);

    size_t n_us = 0;
    for (size_t i = 0; i < fg_registry_structure_count(reg); i++) {
        const fg_structure *st = fg_registry_structure_at(reg, i);
        assert_non_null(st->root);
        if (strncmp(st->package, "hl7.fhir.us.core#", 17) == 0)
            n_us++;
    }
    assert_true(n_us >= 55);
    const fg_structure *pat =
        fg_registry_structure(reg, "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient");
    assert_non_null(pat);
    assert_string_equal(pat->package, "hl7.fhir.us.core#6.1.0");
    assert_int_equal(child(pat->root, "identifier")->min, 1);
    const fg_elem *ext = child(pat->root, "extension");
    assert_true(ext->sliced);
    const fg_elem *race = slice(ext, "race");
    assert_non_null(race);
    assert_int_equal(race->types[0].n_profiles, 1);
    assert_string_equal(race->types[0].profiles[0],
                        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race");
    /* Missing dependencies are named. */
    assert_true(has_note(reg, "hl7.terminology.r4", "not in the package cache"));
    assert_true(has_note(reg, "us.nlm.vsac", NULL));
    assert_false(has_note(reg, "hl7.fhir.r4.core", NULL));
    /* A value set over SNOMED CT is not expandable, with the reason. */
    const fg_valueset *vs =
        fg_registry_valueset(reg, "http://hl7.org/fhir/us/core/ValueSet/us-core-condition-code");
    assert_non_null(vs);
    assert_int_equal(fg_valueset_status(vs), FG_VS_NOT_EXPANDABLE);
    assert_non_null(strstr(fg_valueset_note(vs), "SNOMED CT"));
    /* An enumerated US Core value set over a core code system is exact. */
    vs = fg_registry_valueset(reg, "http://hl7.org/fhir/us/core/ValueSet/us-core-narrative-status");
    assert_int_equal(fg_valueset_status(vs), FG_VS_EXPANDED);
    assert_true(fg_valueset_contains(vs, "http://hl7.org/fhir/narrative-status", "generated"));
    /* Type-specific choice constraints: us-core-body-weight value[x] is a Quantity. */
    const fg_structure *bw = fg_registry_structure(
        reg, "http://hl7.org/fhir/us/core/StructureDefinition/us-core-body-weight");
    assert_non_null(bw);
    const fg_elem *val = child(bw->root, "value");
    assert_non_null(val);
    assert_true(val->is_choice);
    fg_registry_free(reg);
}

/* Resources as odd as a package can make them: errors, never a crash. */
static void test_hostile(void **state)
{
    (void)state;
    static const char *const sds[] = {
        /* wrong JSON types everywhere */
        "{\"resourceType\":\"StructureDefinition\",\"url\":\"http://x/a\",\"type\":\"Patient\","
        "\"snapshot\":{\"element\":[{\"path\":\"Patient\",\"type\":[1,2],\"binding\":\"x\","
        "\"constraint\":[3,{\"key\":\"k\",\"expression\":\"((((\"}],\"max\":\"*\"}]}}",
        /* a slicing that is not an object */
        "{\"resourceType\":\"StructureDefinition\",\"url\":\"http://x/b\",\"type\":\"Patient\","
        "\"snapshot\":{\"element\":[{\"path\":\"Patient\",\"slicing\":7}]}}",
        /* a contentReference to nothing */
        "{\"resourceType\":\"StructureDefinition\",\"url\":\"http://x/c\",\"type\":\"Patient\","
        "\"snapshot\":{\"element\":[{\"path\":\"Patient\"},"
        "{\"path\":\"Patient.a\",\"contentReference\":\"#Nowhere\"}]}}",
        /* the same id twice */
        "{\"resourceType\":\"StructureDefinition\",\"url\":\"http://x/d\",\"type\":\"Patient\","
        "\"snapshot\":{\"element\":[{\"path\":\"Patient\"},{\"path\":\"Patient.a\"},"
        "{\"path\":\"Patient.a\"}]}}",
        /* the first element is not a root; a negative min */
        "{\"resourceType\":\"StructureDefinition\",\"url\":\"http://x/e\",\"type\":\"Patient\","
        "\"snapshot\":{\"element\":[{\"path\":\"Patient.a\"}]}}",
        "{\"resourceType\":\"StructureDefinition\",\"url\":\"http://x/f\",\"type\":\"Patient\","
        "\"snapshot\":{\"element\":[{\"path\":\"Patient\",\"min\":-1}]}}",
        /* slices and ids that lead nowhere */
        "{\"resourceType\":\"StructureDefinition\",\"url\":\"http://x/g\",\"type\":\"Patient\","
        "\"snapshot\":{\"element\":[{\"path\":\"Patient\"},{\"id\":\"Patient.b:s/t/u\","
        "\"path\":\"Patient.b\",\"sliceName\":\"u\"},{\"id\":\":::..\",\"path\":\".\"}]}}",
    };
    int ok = 0, invalid = 0;
    for (size_t i = 0; i < sizeof sds / sizeof *sds; i++) {
        fg_registry *reg = NULL;
        fg_error err;
        json_error_t jerr;
        json_t *res = json_loads(sds[i], 0, &jerr);
        assert_non_null(res);
        assert_int_equal(fg_registry_new(&reg, &err), FG_OK);
        int rc = fg_registry_add(reg, res, "hostile", &err);
        json_decref(res);
        if (rc == FG_OK)
            rc = fg_registry_finish(reg, &err);
        if (rc == FG_OK)
            ok++;
        else if (rc == FG_EINVALID)
            invalid++;
        else
            fail_msg("case %zu: unexpected %d: %s", i, rc, err.text);
        fg_registry_free(reg);
    }
    assert_int_equal(ok + invalid, sizeof sds / sizeof *sds);
    assert_true(invalid >= 5);

    /* Value sets that import each other, or themselves. */
    fg_registry *reg = NULL;
    fg_error err;
    assert_int_equal(fg_registry_new(&reg, &err), FG_OK);
    static const char *const vss[] = {
        "{\"resourceType\":\"ValueSet\",\"url\":\"http://x/vs1\",\"compose\":{\"include\":"
        "[{\"valueSet\":[\"http://x/vs2\"]}]}}",
        "{\"resourceType\":\"ValueSet\",\"url\":\"http://x/vs2\",\"compose\":{\"include\":"
        "[{\"valueSet\":[\"http://x/vs1\"]}]}}",
        "{\"resourceType\":\"ValueSet\",\"url\":\"http://x/vs3\",\"compose\":{\"include\":"
        "[{\"valueSet\":[\"http://x/vs3\"]},{\"system\":7}]}}",
        "{\"resourceType\":\"ValueSet\",\"url\":\"http://x/vs4\",\"compose\":{\"include\":"
        "[{\"system\":\"http://snomed.info/sct\",\"filter\":[{\"property\":\"concept\","
        "\"op\":\"is-a\",\"value\":\"404684003\"}]}]}}",
    };
    for (size_t i = 0; i < sizeof vss / sizeof *vss; i++) {
        json_t *res = json_loads(vss[i], 0, NULL);
        assert_int_equal(fg_registry_add(reg, res, "hostile", &err), FG_OK);
        json_decref(res);
    }
    assert_int_equal(fg_registry_finish(reg, &err), FG_OK);
    for (size_t i = 1; i <= 4; i++) {
        char url[32];
        snprintf(url, sizeof url, "http://x/vs%zu", i);
        const fg_valueset *vs = fg_registry_valueset(reg, url);
        assert_non_null(vs);
        assert_int_equal(fg_valueset_status(vs), FG_VS_NOT_EXPANDABLE);
        assert_non_null(fg_valueset_note(vs));
    }
    assert_non_null(strstr(fg_valueset_note(fg_registry_valueset(reg, "http://x/vs4")),
                           "SNOMED CT"));
    fg_registry_free(reg);
}

/* The members the registry never reads go before parsing; nothing else. */
static void test_json_trim(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"{\"a\":1,\"text\":{\"div\":\"<p>\\\"}\\\"</p>\"},\"b\":[2]}", "{\"a\":1,\"b\":[2]}"},
        {"{\"text\":\"x\", \"a\" : 1}", "{ \"a\" : 1}"},
        {"{\"a\":1 , \"differential\" : {\"element\":[{}]} }", "{\"a\":1 }"},
        {"{\"text\":1}", "{}"},
        /* deeper: element prose goes, a pattern's text stays */
        {"{\"e\":[{\"path\":\"A\",\"definition\":\"d\",\"patternCodeableConcept\":{\"text\":\"t\"}}]}",
         "{\"e\":[{\"path\":\"A\",\"patternCodeableConcept\":{\"text\":\"t\"}}]}"},
        /* a value that is only a string equal to a trimmed key */
        {"{\"a\":[\"text\",\"comment\"]}", "{\"a\":[\"text\",\"comment\"]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = 0;
        char *t = fgr_json_trim(cases[i][0], strlen(cases[i][0]), &n);
        assert_non_null(t);
        assert_int_equal(n, strlen(t));
        assert_string_equal(t, cases[i][1]);
        free(t);
        /* in place, as package files are trimmed */
        char *p = strdup(cases[i][0]);
        assert_non_null(p);
        n = fgr_json_trim_to(p, p, strlen(p));
        assert_int_equal(n, strlen(cases[i][1]));
        assert_memory_equal(p, cases[i][1], n);
        free(p);
    }
    /* Not well formed: no trimmed copy (the caller parses the original). */
    size_t n = 0;
    assert_null(fgr_json_trim("{\"text\":\"open", 14, &n));
    assert_null(fgr_json_trim("{\"text\":{\"a\":[1}", 17, &n));
}

/* The fuzz corpus, replayed through the fuzz target's function. */
static void test_fuzz_corpus(void **state)
{
    (void)state;
    const char *dir = "tests/fuzz/corpus-registry";
    DIR *d = opendir(dir);
    if (!d) {
        skip(); /* run from the repository root */
        return;
    }
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *buf = NULL;
        size_t len = 0;
        fg_error err;
        if (fg_read_file(path, 1u << 20, &buf, &len, &err) != FG_OK)
            continue;
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        /* every prefix too: truncated files are the common breakage */
        for (size_t cut = 0; cut < len; cut += 1 + len / 64)
            LLVMFuzzerTestOneInput((const uint8_t *)buf, cut);
        free(buf);
        n++;
    }
    closedir(d);
    assert_true(n >= 5);
}

/* data/r4core is what profiles/gen_r4core.py writes today. */
static void test_core_is_current(void **state)
{
    (void)state;
    if (!exists(CORE_PACKAGE_DIR "/package.json")) {
        skip(); /* needs ../shared/fhir-packages/hl7.fhir.r4.core#4.0.1 */
        return;
    }
    if (system("python3 -c pass >/dev/null 2>&1") != 0) {
        skip(); /* needs python3 */
        return;
    }
    char tmp[512];
    const char *tmpdir = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/fg_r4core_XXXXXX", tmpdir && *tmpdir ? tmpdir : P_tmpdir);
    assert_non_null(mkdtemp(tmp));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 profiles/gen_r4core.py '%s' '%s'", CORE_PACKAGE_DIR, tmp);
    assert_int_equal(system(cmd), 0);
    const char *files[] = {"constraints.json", "structures.json", "terminology.json"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "cmp -s '%s/r4core/%s' '%s/%s'", datadir(), files[i], tmp,
                 files[i]);
        if (system(cmd) != 0)
            fail_msg("data/r4core/%s differs from what profiles/gen_r4core.py writes: run it "
                     "and commit the result",
                     files[i]);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest core_tests[] = {
        cmocka_unit_test(test_core_counts),
        cmocka_unit_test(test_core_patient),
        cmocka_unit_test(test_core_choice_and_refs),
        cmocka_unit_test(test_core_profiles_and_slices),
        cmocka_unit_test(test_core_valuesets),
        cmocka_unit_test(test_concurrent_reads),
    };
    const struct CMUnitTest other_tests[] = {
        cmocka_unit_test(test_package_good),  cmocka_unit_test(test_package_errors),
        cmocka_unit_test(test_cache_dir),     cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_json_trim),     cmocka_unit_test(test_fuzz_corpus),
        cmocka_unit_test(test_us_core),
        cmocka_unit_test(test_core_is_current),
    };
    int failed = cmocka_run_group_tests_name("registry core", core_tests, setup_core, teardown_core);
    failed += cmocka_run_group_tests_name("registry packages", other_tests, NULL, NULL);
    return failed;
}
