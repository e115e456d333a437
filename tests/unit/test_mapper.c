/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the mapper: history -> US Core transaction Bundle / NDJSON.
 *
 * Histories are built in C; every clinical code in them is picked from the
 * data files at run time (the terminology tables and the Observation
 * profile table), so no code is written here. The output is parsed back
 * with jansson and checked for shape: fullUrls and references, meta.profile
 * and HTEST on every resource, no empty elements, NDJSON agreeing with the
 * bundle, byte-identical reruns, and grounding failures that name the path
 * and leave the buffers as they were.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_data.h"
#include "fhir/term/fg_term.h"
#include "generators/history/fg_history.h"
#include "generators/map/fg_mapper.h"
#include "profiles/fg_profiles.h"

#define US_CORE_DIR "../shared/fhir-packages/hl7.fhir.us.core#6.1.0/package"
#define COMPLETE_HISTORY "tests/data/history/valid/complete.json"

typedef struct fixture {
    fg_terminology *terms;
    fg_profile_codes *codes;
    fg_mapper *m;
} fixture;

static fixture fx;

static int setup(void **state)
{
    (void)state;
    char path[4096];
    fg_error err;
    fg_error_clear(&err);
    if (!fg_data_path("terminology", path, sizeof(path)) ||
        fg_terminology_load(path, &fx.terms, &err) != FG_OK) {
        fprintf(stderr, "terminology: %s: %s\n", err.where, err.text);
        return -1;
    }
    fg_data_path("profiles/us-core-observation-codes.tsv", path, sizeof(path));
    if (fg_profile_codes_load(path, &fx.codes, &err) != FG_OK) {
        fprintf(stderr, "%s: %s\n", err.where, err.text);
        return -1;
    }
    fg_map_options mo = {"urn:fhirgen:test:mrn"};
    if (fg_mapper_new(fx.terms, &mo, &fx.m, &err) != FG_OK) {
        fprintf(stderr, "mapper: %s: %s\n", err.where, err.text);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fg_mapper_free(fx.m);
    fg_profile_codes_free(fx.codes);
    fg_terminology_free(fx.terms);
    return 0;
}

/* ---- picking codes from the data ---- */

/* The nth entry of `system` (with `unit` when not NULL), or NULL. */
static const fg_code_entry *pick(const char *system, const char *unit, int nth)
{
    for (size_t i = 0; i < fg_terminology_count(fx.terms); i++) {
        const fg_code_entry *e = fg_terminology_at(fx.terms, i);
        if (strcmp(e->system, system) != 0 || !e->display || !*e->display)
            continue;
        if (unit && (!e->unit || strcmp(e->unit, unit) != 0))
            continue;
        if (nth-- == 0)
            return e;
    }
    return NULL;
}

/* The code the profile table names for a profile. */
static const fg_profile_code *profile_row(fg_profile p)
{
    for (size_t i = 0; i < fg_profile_codes_count(fx.codes); i++)
        if (fg_profile_codes_at(fx.codes, i)->profile == p)
            return fg_profile_codes_at(fx.codes, i);
    return NULL;
}

static fg_term term_of(const fg_code_entry *e)
{
    fg_term t = {e->system, e->code, e->display};
    return t;
}

static fg_term term_code(const char *system, const char *code)
{
    const fg_code_entry *e = fg_terminology_find(fx.terms, system, code);
    fg_term t = {system, code, e ? e->display : NULL};
    return t;
}

/* ---- a history with one of everything ---- */

typedef struct codes {
    const fg_code_entry *snomed[4], *rxnorm, *cvx, *lab, *note, *mmhg[2];
    const fg_profile_code *bp, *spo2, *smoking, *weight;
} codes;

static int pick_codes(codes *k)
{
    for (int i = 0; i < 4; i++)
        k->snomed[i] = pick(FG_SYS_SNOMED, NULL, i);
    k->rxnorm = pick(FG_SYS_RXNORM, NULL, 0);
    k->cvx = pick(FG_SYS_CVX, NULL, 0);
    k->lab = pick(FG_SYS_LOINC, "mg/dL", 0);
    k->note = pick(FG_SYS_LOINC, NULL, 0);
    k->mmhg[0] = pick(FG_SYS_LOINC, "mm[Hg]", 0);
    k->mmhg[1] = pick(FG_SYS_LOINC, "mm[Hg]", 1);
    k->bp = profile_row(FG_PROF_BLOOD_PRESSURE);
    k->spo2 = profile_row(FG_PROF_PULSE_OXIMETRY);
    k->smoking = profile_row(FG_PROF_SMOKINGSTATUS);
    k->weight = profile_row(FG_PROF_BODY_WEIGHT);
    if (!k->lab)
        k->lab = pick(FG_SYS_LOINC, NULL, 1);
    for (int i = 0; i < 4; i++)
        if (!k->snomed[i])
            return 0;
    return k->rxnorm && k->cvx && k->lab && k->note && k->mmhg[0] && k->mmhg[1] && k->bp &&
           k->spo2 && k->smoking && k->weight;
}

#define SKIP_WITHOUT_CODES(k)                                                                  \
    do {                                                                                       \
        if (!pick_codes(k)) {                                                                  \
            fprintf(stderr, "skipped: the terminology tables lack a code this test needs\n");  \
            skip();                                                                            \
        }                                                                                      \
    } while (0)

/* ids: short (derived by the mapper) or UUIDs (written as given). */
static void build(fg_history *h, const codes *k, int uuids)
{
    fg_history_init(h);
    fg_patient *p = &h->patient;
    p->id = uuids ? "0b6f3c4e-2a51-4d7e-9c1a-5e8f7a6b3c21" : "p1";
    p->given = "Ana";
    p->middle = "Lucia";
    p->family = "Testperson";
    p->prefix = "Ms.";
    p->sex = FG_SEX_FEMALE;
    p->birth_date = fg_time_make(1970, 4, 12, 0, 0, 0);
    p->death = FG_TIME_NONE;
    p->race = "2106-3";
    p->race_display = "White";
    p->ethnicity = "2186-5";
    p->ethnicity_display = "Not Hispanic or Latino";
    p->marital_status = "M";
    p->language = "en-US";
    p->address = (fg_address){"12 Elm Street", "Springfield", "MA", "01101"};
    p->phone = "555-0100";
    p->mrn = "MRN-0001";
    p->ssn = "999-12-3456";

    fg_organization *o = FG_PUSH(h, organizations);
    *o = (fg_organization){"org1", "Springfield \"Family\" Practice", "1234567893",
                           {"1 Main Street", "Springfield", "MA", "01103"}, "555-0199"};
    fg_practitioner *d = FG_PUSH(h, practitioners);
    *d = (fg_practitioner){"dr1", "Dr.", "Sam", "Example", FG_SEX_MALE, "1245319599", "org1"};
    fg_location *l = FG_PUSH(h, locations);
    *l = (fg_location){"loc1", "Main Street clinic", "org1",
                       {"1 Main Street", "Springfield", "MA", "01103"}, NULL};

    fg_time t0 = fg_time_make(2020, 3, 2, 9, 0, 0);
    const char *e2 = uuids ? "7d2b1c9a-0e4f-4b3a-8c6d-1f2e3a4b5c6d" : "e2";
    for (int i = 0; i < 2; i++) {
        fg_encounter *e = FG_PUSH(h, encounters);
        e->id = i ? e2 : "e1";
        e->cls = i ? FG_CLASS_EMER : FG_CLASS_AMB;
        e->type = term_of(k->snomed[0]);
        if (i)
            e->reason = term_of(k->snomed[1]);
        e->start = t0 + i * 86400 * 30;
        e->end = e->start + 1800;
        e->organization = "org1";
        e->practitioner = "dr1";
        e->location = "loc1";
    }
    fg_condition *c = FG_PUSH(h, conditions);
    *c = (fg_condition){"c1", "e1", FG_COND_PROBLEM, term_of(k->snomed[1]), t0 - 86400 * 400,
                        FG_TIME_NONE, t0};
    c = FG_PUSH(h, conditions);
    *c = (fg_condition){"c2", e2, FG_COND_DIAGNOSIS, term_of(k->snomed[2]), t0 + 86400 * 30,
                        t0 + 86400 * 44, t0 + 86400 * 30};

    fg_observation *ob = FG_PUSH(h, observations);
    ob->id = "o-bp";
    ob->encounter = "e1";
    ob->category = FG_OBS_VITAL;
    ob->term = term_code(k->bp->system, k->bp->code);
    ob->time = t0;
    ob->kind = FG_VALUE_NONE;
    ob->components = fg_arena_calloc(&h->arena, 2 * sizeof(fg_component));
    ob->components[0] = (fg_component){term_of(k->mmhg[0]), 128, "mm[Hg]"};
    ob->components[1] = (fg_component){term_of(k->mmhg[1]), 82, "mm[Hg]"};
    ob->n_components = 2;
    ob = FG_PUSH(h, observations);
    *ob = (fg_observation){.id = "o-wt", .encounter = "e1", .category = FG_OBS_VITAL,
                           .term = term_code(k->weight->system, k->weight->code), .time = t0,
                           .kind = FG_VALUE_QUANTITY, .value = 71.25, .decimals = 1};
    ob = FG_PUSH(h, observations);
    *ob = (fg_observation){.id = "o-spo2", .encounter = "e1", .category = FG_OBS_VITAL,
                           .term = term_code(k->spo2->system, k->spo2->code), .time = t0,
                           .kind = FG_VALUE_QUANTITY, .value = 97, .unit = "%"};
    ob = FG_PUSH(h, observations);
    *ob = (fg_observation){.id = "o-smk", .encounter = "e1", .category = FG_OBS_SOCIAL,
                           .term = term_code(k->smoking->system, k->smoking->code), .time = t0,
                           .kind = FG_VALUE_CODE, .code_value = term_of(k->snomed[3])};
    ob = FG_PUSH(h, observations);
    *ob = (fg_observation){.id = "o-lab", .encounter = "e1", .category = FG_OBS_LAB,
                           .term = term_of(k->lab), .time = t0 + 600,
                           .kind = FG_VALUE_QUANTITY, .value = 5.4, .unit = "mg/dL",
                           .decimals = 2};
    fg_report *r = FG_PUSH(h, reports);
    r->id = "r1";
    r->encounter = "e1";
    r->term = term_of(k->lab);
    r->time = t0 + 600;
    static const char *results[] = {"o-lab"};
    r->results = results;
    r->n_results = 1;

    fg_medication *md = FG_PUSH(h, medications);
    *md = (fg_medication){"m1", "e1", term_of(k->rxnorm), FG_MED_ACTIVE, t0, FG_TIME_NONE,
                          "c1", "1 tablet by mouth daily", 1, 0, NULL, NULL, 1, "tablet",
                          90, 3, 90, t0 + 86400 * 360};
    fg_immunization *im = FG_PUSH(h, immunizations);
    *im = (fg_immunization){"i1", "e1", term_of(k->cvx), t0};
    fg_procedure *pr = FG_PUSH(h, procedures);
    *pr = (fg_procedure){"pr1", e2, term_of(k->snomed[0]), t0 + 86400 * 30,
                         t0 + 86400 * 30 + 900, "c2"};
    fg_allergy *al = FG_PUSH(h, allergies);
    *al = (fg_allergy){"a1", "e1", term_of(k->snomed[2]), FG_ALLERGY_FOOD, 1, t0 - 86400 * 900,
                       term_of(k->snomed[3]), 1};
    fg_careplan *cp = FG_PUSH(h, careplans);
    cp->id = "cp1";
    cp->encounter = "e1";
    cp->term = term_of(k->snomed[0]);
    cp->start = t0;
    cp->end = FG_TIME_NONE;
    static const char *addr[] = {"c1"};
    cp->addresses = addr;
    cp->n_addresses = 1;
    cp->activities = fg_arena_calloc(&h->arena, 2 * sizeof(fg_term));
    cp->activities[0] = term_of(k->snomed[1]);
    cp->activities[1] = term_of(k->snomed[2]);
    cp->n_activities = 2;
    fg_note *n = FG_PUSH(h, notes);
    *n = (fg_note){"n1", "e1", term_of(k->note), t0 + 1800,
                   "Seen for a check-up. Blood pressure 128/82 <normal> & stable."};
}

/* ---- checking the output ---- */

static void walk_nonempty(json_t *v, const char *where)
{
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            fail_msg("empty string at %s", where);
    } else if (json_is_array(v)) {
        if (json_array_size(v) == 0)
            fail_msg("empty array at %s", where);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) walk_nonempty(x, where);
    } else if (json_is_object(v)) {
        if (json_object_size(v) == 0)
            fail_msg("empty object at %s", where);
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) walk_nonempty(x, k);
    }
}

static void collect_refs(json_t *v, json_t *refs)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) collect_refs(x, refs);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (strcmp(k, "reference") == 0 && json_is_string(x))
                json_array_append(refs, x);
            else
                collect_refs(x, refs);
        }
    }
}

static int has_htest(json_t *meta)
{
    json_t *sec = json_object_get(meta, "security");
    size_t i;
    json_t *x;
    json_array_foreach(sec, i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "code")), "HTEST") == 0 &&
            strcmp(json_string_value(json_object_get(x, "system")),
                   "http://terminology.hl7.org/CodeSystem/v3-ActReason") == 0)
            return 1;
    }
    return 0;
}

/* Check a bundle; returns it (new reference). */
static json_t *check_bundle(const char *text, size_t len, const fg_map_stats *stats)
{
    json_error_t je;
    json_t *b = json_loadb(text, len, 0, &je);
    if (!b)
        fail_msg("bundle does not parse: %s at %d: %.80s", je.text, je.position,
                 text + (je.position > 40 ? je.position - 40 : 0));
    assert_string_equal(json_string_value(json_object_get(b, "resourceType")), "Bundle");
    assert_string_equal(json_string_value(json_object_get(b, "type")), "transaction");
    assert_true(has_htest(json_object_get(b, "meta")));
    walk_nonempty(b, "Bundle");
    json_t *entries = json_object_get(b, "entry");
    json_t *urls = json_object();
    size_t counts[FG_RT_COUNT] = {0};
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        json_t *r = json_object_get(e, "resource");
        const char *type = json_string_value(json_object_get(r, "resourceType"));
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *full = json_string_value(json_object_get(e, "fullUrl"));
        assert_non_null(type);
        assert_non_null(id);
        assert_int_equal(strlen(id), 36);
        assert_true(strncmp(full, "urn:uuid:", 9) == 0 && strcmp(full + 9, id) == 0);
        assert_null(json_object_get(urls, full));
        json_object_set_new(urls, full, json_true());
        json_t *meta = json_object_get(r, "meta");
        assert_true(json_array_size(json_object_get(meta, "profile")) == 1);
        assert_true(has_htest(meta));
        json_t *req = json_object_get(e, "request");
        const char *method = json_string_value(json_object_get(req, "method"));
        const char *url = json_string_value(json_object_get(req, "url"));
        int t = 0;
        while (t < FG_RT_COUNT && strcmp(fg_rtype_name((fg_rtype)t), type) != 0)
            t++;
        assert_true(t < FG_RT_COUNT);
        counts[t]++;
        if (t == FG_RT_ORGANIZATION || t == FG_RT_PRACTITIONER || t == FG_RT_LOCATION) {
            assert_string_equal(method, "POST");
            assert_string_equal(url, type);
            const char *ine = json_string_value(json_object_get(req, "ifNoneExist"));
            assert_non_null(ine);
            assert_true(strncmp(ine, "identifier=", 11) == 0);
        } else {
            char want[128];
            snprintf(want, sizeof(want), "%s/%s", type, id);
            assert_string_equal(method, "PUT");
            assert_string_equal(url, want);
        }
    }
    json_t *refs = json_array();
    collect_refs(entries, refs);
    assert_true(json_array_size(refs) > 0);
    json_array_foreach(refs, i, e)
    {
        if (!json_object_get(urls, json_string_value(e)))
            fail_msg("reference %s does not resolve in the bundle", json_string_value(e));
    }
    json_decref(refs);
    json_decref(urls);
    if (stats)
        for (int t = 0; t < FG_RT_COUNT; t++)
            assert_int_equal(counts[t], stats->resources[t]);
    return b;
}

static json_t *find_resource(json_t *bundle, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(bundle, "entry"), i, e)
    {
        json_t *r = json_object_get(e, "resource");
        if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0)
            return r;
    }
    return NULL;
}

/* Equal, references compared by the id after the last ':' or '/'. */
static int same_content(json_t *a, json_t *b, const char *key)
{
    if (key && strcmp(key, "reference") == 0 && json_is_string(a) && json_is_string(b)) {
        const char *x = json_string_value(a), *y = json_string_value(b);
        const char *xs = strrchr(x, '/') ? strrchr(x, '/') + 1 : strrchr(x, ':') + 1;
        const char *ys = strrchr(y, '/') ? strrchr(y, '/') + 1 : strrchr(y, ':') + 1;
        return strcmp(xs, ys) == 0;
    }
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        json_t *x;
        json_object_foreach(a, k, x) if (!same_content(x, json_object_get(b, k), k)) return 0;
        return 1;
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_content(json_array_get(a, i), json_array_get(b, i), key))
                return 0;
        return 1;
    }
    return json_equal(a, b);
}

static void map_and_check(const fg_history *h)
{
    fg_buf out;
    fg_buf_init(&out);
    fg_map_stats stats = {0};
    fg_error err;
    fg_error_clear(&err);
    int rc = fg_map_bundle(fx.m, h, &out, &stats, &err);
    if (rc != FG_OK)
        fail_msg("map: %s: %s", err.where, err.text);
    json_t *b = check_bundle(out.data, out.len, &stats);

    /* the same history again: the same bytes */
    fg_buf again;
    fg_buf_init(&again);
    assert_int_equal(fg_map_bundle(fx.m, h, &again, NULL, &err), FG_OK);
    assert_int_equal(again.len, out.len);
    assert_memory_equal(again.data, out.data, out.len);

    /* NDJSON: the same resources, references as Type/id */
    fg_buf nb[FG_RT_COUNT], *np[FG_RT_COUNT];
    fg_map_stats ns = {0};
    for (int t = 0; t < FG_RT_COUNT; t++) {
        fg_buf_init(&nb[t]);
        np[t] = &nb[t];
    }
    assert_int_equal(fg_map_ndjson(fx.m, h, np, &ns, &err), FG_OK);
    for (int t = 0; t < FG_RT_COUNT; t++) {
        assert_int_equal(ns.resources[t], stats.resources[t]);
        size_t lines = 0;
        char *p = nb[t].data;
        while (p && *p) {
            char *nl = strchr(p, '\n');
            assert_non_null(nl);
            json_error_t je;
            json_t *r = json_loadb(p, (size_t)(nl - p), 0, &je);
            assert_non_null(r);
            assert_string_equal(json_string_value(json_object_get(r, "resourceType")),
                                fg_rtype_name((fg_rtype)t));
            json_t *refs = json_array();
            collect_refs(r, refs);
            size_t i;
            json_t *x;
            json_array_foreach(refs, i, x)
            {
                const char *s = json_string_value(x);
                assert_null(strstr(s, "urn:uuid:"));
                assert_non_null(strchr(s, '/'));
            }
            json_decref(refs);
            json_t *br = find_resource(b, json_string_value(json_object_get(r, "id")));
            assert_non_null(br);
            assert_true(same_content(r, br, NULL));
            json_decref(r);
            lines++;
            p = nl + 1;
        }
        assert_int_equal(lines, ns.resources[t]);
        fg_buf_free(&nb[t]);
    }
    json_decref(b);
    fg_buf_free(&again);
    fg_buf_free(&out);
}

/* ---- tests ---- */

static void test_profile_urls_exist(void **state)
{
    (void)state;
    DIR *d = opendir(US_CORE_DIR);
    if (!d) {
        fprintf(stderr, "skipped: the US Core 6.1.0 package is not at ../shared\n");
        skip();
    }
    json_t *urls = json_object();
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "StructureDefinition-", 20) != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", US_CORE_DIR, de->d_name);
        json_t *sd = json_load_file(path, 0, NULL);
        assert_non_null(sd);
        json_object_set_new(urls, json_string_value(json_object_get(sd, "url")), json_true());
        json_decref(sd);
    }
    closedir(d);
    for (int p = 0; p < FG_PROF_COUNT; p++) {
        const char *u = fg_profile_url((fg_profile)p);
        if (!json_object_get(urls, u))
            fail_msg("%s is not a StructureDefinition of US Core 6.1.0", u);
        fg_profile back;
        assert_int_equal(fg_profile_by_name(fg_profile_name((fg_profile)p), &back), FG_OK);
        assert_int_equal(back, p);
    }
    json_decref(urls);
}

static void test_profile_table_codes(void **state)
{
    (void)state;
    assert_true(fg_profile_codes_count(fx.codes) > 0);
    for (size_t i = 0; i < fg_profile_codes_count(fx.codes); i++) {
        const fg_profile_code *r = fg_profile_codes_at(fx.codes, i);
        assert_non_null(fg_profile_url(r->profile));
        assert_true(fg_loinc_valid(r->code));
        /* a code the mapper writes itself must be in the terminology tables */
        if (r->also && !fg_terminology_find(fx.terms, r->system, r->also))
            fail_msg("%s|%s (added by the mapper for %s) is not in the terminology tables",
                     r->system, r->also, fg_profile_name(r->profile));
        assert_ptr_equal(fg_profile_codes_find(fx.codes, r->category, r->system, r->code), r);
    }
    assert_null(fg_profile_codes_find(fx.codes, "laboratory", "http://loinc.org", "0-0"));
}

static void test_bundle_short_ids(void **state)
{
    (void)state;
    codes k;
    SKIP_WITHOUT_CODES(&k);
    fg_history h;
    build(&h, &k, 0);
    map_and_check(&h);
    fg_history_free(&h);
}

static void test_bundle_uuid_ids(void **state)
{
    (void)state;
    codes k;
    SKIP_WITHOUT_CODES(&k);
    fg_history h;
    build(&h, &k, 1);
    map_and_check(&h);
    fg_buf out;
    fg_buf_init(&out);
    fg_error err;
    assert_int_equal(fg_map_bundle(fx.m, &h, &out, NULL, &err), FG_OK);
    /* UUID ids are written as given */
    assert_non_null(strstr(out.data, "\"id\":\"0b6f3c4e-2a51-4d7e-9c1a-5e8f7a6b3c21\""));
    assert_non_null(strstr(out.data, "\"urn:uuid:7d2b1c9a-0e4f-4b3a-8c6d-1f2e3a4b5c6d\""));
    fg_buf_free(&out);
    fg_history_free(&h);
}

static json_t *resource_by_profile(json_t *b, fg_profile p)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(b, "entry"), i, e)
    {
        json_t *r = json_object_get(e, "resource");
        json_t *prof = json_array_get(json_object_get(json_object_get(r, "meta"), "profile"), 0);
        if (strcmp(json_string_value(prof), fg_profile_url(p)) == 0)
            return r;
    }
    return NULL;
}

static void test_profiles_chosen(void **state)
{
    (void)state;
    codes k;
    SKIP_WITHOUT_CODES(&k);
    fg_history h;
    build(&h, &k, 0);
    fg_buf out;
    fg_buf_init(&out);
    fg_error err;
    assert_int_equal(fg_map_bundle(fx.m, &h, &out, NULL, &err), FG_OK);
    json_t *b = json_loads(out.data, 0, NULL);
    assert_non_null(b);
    static const fg_profile want[] = {
        FG_PROF_PATIENT,         FG_PROF_ORGANIZATION,       FG_PROF_PRACTITIONER,
        FG_PROF_LOCATION,        FG_PROF_ENCOUNTER,          FG_PROF_CONDITION_PROBLEMS,
        FG_PROF_CONDITION_DIAGNOSIS, FG_PROF_BLOOD_PRESSURE, FG_PROF_BODY_WEIGHT,
        FG_PROF_PULSE_OXIMETRY,  FG_PROF_SMOKINGSTATUS,      FG_PROF_OBS_LAB,
        FG_PROF_DIAGNOSTICREPORT_LAB, FG_PROF_MEDICATIONREQUEST, FG_PROF_IMMUNIZATION,
        FG_PROF_PROCEDURE,       FG_PROF_ALLERGYINTOLERANCE, FG_PROF_CAREPLAN,
        FG_PROF_DOCUMENTREFERENCE,
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
        if (!resource_by_profile(b, want[i]))
            fail_msg("no resource claims %s", fg_profile_name(want[i]));

    json_t *bp = resource_by_profile(b, FG_PROF_BLOOD_PRESSURE);
    assert_int_equal(json_array_size(json_object_get(bp, "component")), 2);
    assert_null(json_object_get(bp, "valueQuantity"));
    json_t *sys = json_object_get(json_object_get(json_array_get(json_object_get(bp, "component"), 0),
                                                  "valueQuantity"),
                                  "system");
    assert_string_equal(json_string_value(sys), "http://unitsofmeasure.org");
    json_t *ox = resource_by_profile(b, FG_PROF_PULSE_OXIMETRY);
    assert_int_equal(json_array_size(json_object_get(json_object_get(ox, "code"), "coding")), 2);
    json_t *wt = resource_by_profile(b, FG_PROF_BODY_WEIGHT);
    /* the history's decimals are kept */
    assert_non_null(strstr(out.data, "\"value\":71.3,"));
    assert_true(json_real_value(json_object_get(json_object_get(wt, "valueQuantity"), "value")) ==
                71.3);
    json_t *pat = resource_by_profile(b, FG_PROF_PATIENT);
    assert_int_equal(json_array_size(json_object_get(pat, "extension")), 3);
    assert_int_equal(json_array_size(json_object_get(pat, "identifier")), 2);
    json_t *given = json_object_get(json_array_get(json_object_get(pat, "name"), 0), "given");
    assert_int_equal(json_array_size(given), 2);
    json_t *cp = resource_by_profile(b, FG_PROF_CAREPLAN);
    const char *div = json_string_value(json_object_get(json_object_get(cp, "text"), "div"));
    assert_true(strncmp(div, "<div xmlns=\"http://www.w3.org/1999/xhtml\">", 42) == 0);
    json_t *doc = resource_by_profile(b, FG_PROF_DOCUMENTREFERENCE);
    json_t *att = json_object_get(json_array_get(json_object_get(doc, "content"), 0), "attachment");
    assert_string_equal(json_string_value(json_object_get(att, "contentType")), "text/plain");
    /* every code written is the table's: displays come from the terminology */
    json_t *cond = resource_by_profile(b, FG_PROF_CONDITION_PROBLEMS);
    json_t *coding = json_array_get(json_object_get(json_object_get(cond, "code"), "coding"), 0);
    assert_string_equal(json_string_value(json_object_get(coding, "display")), k.snomed[1]->display);
    json_decref(b);
    fg_buf_free(&out);
    fg_history_free(&h);
}

static void test_ground_by_display(void **state)
{
    (void)state;
    codes k;
    SKIP_WITHOUT_CODES(&k);
    fg_history h;
    build(&h, &k, 0);
    h.conditions.v[0].term.code = NULL; /* display only: looked up */
    h.conditions.v[0].term.system = NULL;
    fg_buf out;
    fg_buf_init(&out);
    fg_error err;
    assert_int_equal(fg_map_bundle(fx.m, &h, &out, NULL, &err), FG_OK);
    char want[256];
    snprintf(want, sizeof(want), "\"code\":\"%s\"", k.snomed[1]->code);
    assert_non_null(strstr(out.data, want));
    fg_buf_free(&out);
    fg_history_free(&h);
}

static void expect_failure(fg_history *h, const char *where, const char *text_part)
{
    fg_buf out;
    fg_buf_init(&out);
    fg_buf_puts(&out, "previous patient;");
    fg_error err;
    fg_error_clear(&err);
    int rc = fg_map_bundle(fx.m, h, &out, NULL, &err);
    assert_int_equal(rc, FG_EINVALID);
    assert_string_equal(err.where, where);
    if (!strstr(err.text, text_part))
        fail_msg("message \"%s\" lacks \"%s\"", err.text, text_part);
    assert_int_equal(out.len, 17);
    assert_string_equal(out.data, "previous patient;");

    fg_buf nb[FG_RT_COUNT], *np[FG_RT_COUNT];
    for (int t = 0; t < FG_RT_COUNT; t++) {
        fg_buf_init(&nb[t]);
        fg_buf_puts(&nb[t], "{}\n");
        np[t] = &nb[t];
    }
    fg_map_stats st = {0};
    assert_int_equal(fg_map_ndjson(fx.m, h, np, &st, &err), FG_EINVALID);
    assert_string_equal(err.where, where);
    for (int t = 0; t < FG_RT_COUNT; t++) {
        assert_int_equal(nb[t].len, 3);
        assert_string_equal(nb[t].data, "{}\n");
        assert_int_equal(st.resources[t], 0);
        fg_buf_free(&nb[t]);
    }
    fg_buf_free(&out);
}

static void test_ground_failures(void **state)
{
    (void)state;
    codes k;
    SKIP_WITHOUT_CODES(&k);
    fg_history h;

    build(&h, &k, 0);
    h.conditions.v[1].term = (fg_term){FG_SYS_SNOMED, NULL, "Hypertensoin"};
    expect_failure(&h, "conditions[1].term", "\"Hypertensoin\" is not a known SNOMED CT concept");
    fg_history_free(&h);

    build(&h, &k, 0);
    h.medications.v[0].term.code = "0"; /* no RxNorm concept has code 0 */
    expect_failure(&h, "medications[0].term", "RxNorm");
    fg_history_free(&h);

    build(&h, &k, 0);
    h.careplans.v[0].activities[1] = (fg_term){NULL, NULL, "no such activity at all"};
    expect_failure(&h, "careplans[0].activities[1]", "no such activity");
    fg_history_free(&h);

    build(&h, &k, 0);
    h.observations.v[4].encounter = "e9";
    expect_failure(&h, "observations[4].encounter", "no encounter with id \"e9\"");
    fg_history_free(&h);

    build(&h, &k, 0);
    h.medications.v[0].reason = "c9";
    expect_failure(&h, "medications[0].reason", "no condition");
    fg_history_free(&h);

    build(&h, &k, 0);
    h.patient.ssn = "123-45-6789";
    expect_failure(&h, "patient.ssn", "999");
    fg_history_free(&h);
}

static void test_complete_history_file(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    fg_error err;
    if (fg_read_file(COMPLETE_HISTORY, 1u << 24, &text, &len, &err) != FG_OK) {
        fprintf(stderr, "skipped: %s is not there\n", COMPLETE_HISTORY);
        skip();
    }
    fg_history h;
    fg_history_init(&h);
    int rc = fg_history_parse(&h, text, len, COMPLETE_HISTORY, &err);
    free(text);
    if (rc != FG_OK)
        fail_msg("%s: %s", err.where, err.text);
    fg_buf out;
    fg_buf_init(&out);
    rc = fg_map_bundle(fx.m, &h, &out, NULL, &err);
    if (rc == FG_EINVALID && strstr(err.text, "not a known")) {
        fprintf(stderr, "skipped: %s: %s (terminology tables incomplete)\n", err.where,
                err.text);
        fg_buf_free(&out);
        fg_history_free(&h);
        skip();
    }
    if (rc != FG_OK)
        fail_msg("%s: %s", err.where, err.text);
    fg_buf_free(&out);
    map_and_check(&h);
    fg_history_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_urls_exist),
        cmocka_unit_test(test_profile_table_codes),
        cmocka_unit_test(test_bundle_short_ids),
        cmocka_unit_test(test_bundle_uuid_ids),
        cmocka_unit_test(test_profiles_chosen),
        cmocka_unit_test(test_ground_by_display),
        cmocka_unit_test(test_ground_failures),
        cmocka_unit_test(test_complete_history_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
