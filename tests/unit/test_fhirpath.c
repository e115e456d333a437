/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the FHIRPath evaluator:
 *  - data-driven cases from tests/data/fhirpath/cases.json (expression,
 *    input, expected collection or error);
 *  - the tricky semantics (three-valued logic, empty propagation, partial
 *    dates, choice types, primitive extensions) spelt out in C;
 *  - every invariant of the R4 core and US Core 6.1.0 definitions in the
 *    shared folder compiles (known exceptions listed with their reason in
 *    tests/data/fhirpath/unsupported.tsv), and the root-level invariants
 *    hold on the official R4 examples;
 *  - the fuzz corpus (tests/fuzz/corpus-fhirpath) replays without a crash.
 * Set FHIRPATH_VERBOSE=1 to list what fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fhir/fhirpath/fg_fhirpath.h"

#include "tests/fuzz/fuzz_fhirpath.c"

#define R4_DIR "../shared/fhir-packages/hl7.fhir.r4.core#4.0.1/package"
#define EXAMPLES_DIR "tests/examples/node_modules/hl7.fhir.r4.examples"
#define SYNTHEA_DIR "../shared/corpora/synthea-bulk-ndjson"
#define USCORE_DIR "../shared/fhir-packages/hl7.fhir.us.core#6.1.0/package"

/* Error-level invariants the R4 package itself breaks: the logical models
 * Definition, Event, FiveWs and Request are neither abstract nor have a
 * baseDefinition (sdf-...), and the structuredefinition-{json,xml,rdf}-type
 * extension definitions have a type whose code carries only an extension. */
#define FHIRPATH_EXAMPLE_FALSES_MAX 7

/* Error-level invariants the official R4 examples break, all genuine and
 * listed with their reasons in tests/examples/expected-errors.tsv: sdf-4 on
 * the four logical models, bdl-7 on Bundle-dataelements (fullUrls repeated
 * without versionId). */
#define FHIRPATH_OFFICIAL_FALSES_MAX 5

/* The cases are written as jansson values; the evaluator reads fg_jr trees.
 * Copies live in one arena, reset for each resource of the sweeps. */
static fg_arena jv_arena;

static const fg_jv *jv(const json_t *j)
{
    const fg_jv *v = NULL;
    if (j && fg_jv_from_json(&jv_arena, j, &v) != FG_OK)
        abort();
    return v;
}

static int verbose(void)
{
    const char *v = getenv("FHIRPATH_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* A JSON file read whole (json_load_file reads a byte at a time). */
static json_t *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    json_t *doc = NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size))) {
            if (fread(buf, 1, (size_t)size, f) == (size_t)size)
                doc = json_loadb(buf, (size_t)size, 0, NULL);
        }
    }
    free(buf);
    fclose(f);
    return doc;
}

/* ---- data-driven cases ---- */

static void run_case(const json_t *tc, size_t idx, size_t *failed)
{
    const char *expr = json_string_value(json_object_get(tc, "expr"));
    const json_t *input = json_object_get(tc, "input");
    const json_t *expect = json_object_get(tc, "expect");
    const char *error = json_string_value(json_object_get(tc, "error"));
    assert_non_null(expr);
    fg_fhirpath *fp = NULL;
    fg_error err;
    int rc = fg_fhirpath_compile(expr, &fp, &err);
    if (error && strcmp(error, "compile") == 0) {
        if (rc == FG_OK) {
            print_message("case %zu: %s: compiled, expected a compile error\n", idx, expr);
            (*failed)++;
        }
        fg_fhirpath_free(fp);
        return;
    }
    if (rc != FG_OK) {
        print_message("case %zu: %s: %s\n", idx, expr, err.text);
        (*failed)++;
        return;
    }
    json_t *out = NULL;
    json_t *null_input = json_null();
    rc = fg_fhirpath_eval_json(fp, jv(input ? input : null_input), NULL, NULL, &out, &err);
    if (error) {
        if (rc == FG_OK) {
            char *got = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
            print_message("case %zu: %s: gave %s, expected an error\n", idx, expr, got);
            free(got);
            (*failed)++;
        }
    } else if (rc != FG_OK) {
        print_message("case %zu: %s: %s\n", idx, expr, err.text);
        (*failed)++;
    } else if (!json_equal(out, (json_t *)expect)) {
        char *got = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
        char *want = json_dumps(expect, JSON_COMPACT | JSON_ENCODE_ANY);
        print_message("case %zu: %s: gave %s, expected %s\n", idx, expr, got, want);
        free(got);
        free(want);
        (*failed)++;
    }
    json_decref(null_input);
    json_decref(out);
    fg_fhirpath_free(fp);
}

static void test_cases(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *doc = json_load_file("tests/data/fhirpath/cases.json", JSON_DECODE_ANY, &jerr);
    if (!doc)
        print_message("cases.json: %s (line %d)\n", jerr.text, jerr.line);
    assert_non_null(doc);
    const json_t *cases = json_object_get(doc, "cases");
    assert_true(json_array_size(cases) > 0);
    size_t failed = 0;
    for (size_t k = 0; k < json_array_size(cases); k++)
        run_case(json_array_get(cases, k), k, &failed);
    print_message("%zu cases, %zu failed\n", json_array_size(cases), failed);
    json_decref(doc);
    assert_int_equal(failed, 0);
}

/* ---- semantics spelt out ---- */

static int eval_bool(const char *expr, const char *json, int *result)
{
    fg_fhirpath *fp = NULL;
    fg_error err;
    json_t *in = json_loads(json, 0, NULL);
    assert_non_null(in);
    int rc = fg_fhirpath_compile(expr, &fp, &err);
    if (rc == FG_OK)
        rc = fg_fhirpath_eval_bool(fp, jv(in), NULL, NULL, result, &err);
    fg_fhirpath_free(fp);
    json_decref(in);
    return rc;
}

static void expect_bool(const char *expr, const char *json, int want)
{
    int got = 99;
    int rc = eval_bool(expr, json, &got);
    if (rc != FG_OK || got != want)
        print_message("%s: rc %d, got %d, want %d\n", expr, rc, got, want);
    assert_int_equal(rc, FG_OK);
    assert_int_equal(got, want);
}

static void test_semantics(void **state)
{
    (void)state;
    const char *pat = "{\"resourceType\":\"Patient\",\"active\":true,"
                      "\"birthDate\":\"1970-03\",\"name\":[{\"given\":[\"Ann\",null],"
                      "\"_given\":[null,{\"extension\":[{\"url\":\"u\",\"valueCode\":\"x\"}]}]}]}";
    /* three-valued logic */
    expect_bool("{} and false", pat, 0);
    expect_bool("{} and true", pat, -1);
    expect_bool("{} or true", pat, 1);
    expect_bool("{} or false", pat, -1);
    expect_bool("false implies {}", pat, 1);
    expect_bool("{} implies true", pat, 1);
    expect_bool("true implies {}", pat, -1);
    expect_bool("true xor {}", pat, -1);
    /* empty propagation and singletons */
    expect_bool("deceased = true", pat, -1);
    expect_bool("name.given.count() = 2", pat, 1);
    expect_bool("name.given[1].hasValue()", pat, 0);
    expect_bool("name.given[1].extension('u').exists()", pat, 1);
    expect_bool("name.given[0].hasValue()", pat, 1);
    expect_bool("Patient.active", pat, 1);
    /* partial dates: no answer rather than a wrong one */
    expect_bool("birthDate < @1970-03-15", pat, -1);
    expect_bool("birthDate < @1971-01-01", pat, 1);
    expect_bool("birthDate >= @1970-02", pat, 1);
    expect_bool("@2020-01-01T10:00:00+02:00 = @2020-01-01T08:00:00Z", pat, 1);
    /* numbers and strings */
    expect_bool("1.0 = 1", pat, 1);
    expect_bool("'ABC' ~ 'abc'", pat, 1);
    expect_bool("'ABC' = 'abc'", pat, 0);
    expect_bool("(1 | 2 | 2).count() = 2", pat, 1);
    expect_bool("(1).combine(2).count() = 2", pat, 1);
    /* several items where one boolean is wanted */
    int got;
    assert_int_equal(eval_bool("name.given", pat, &got), FG_EINVALID);
    assert_int_equal(eval_bool("'a' + 1", pat, &got), FG_EINVALID);
    /* unsupported function */
    fg_fhirpath *fp = NULL;
    fg_error err;
    assert_int_equal(fg_fhirpath_compile("nosuchfunction()", &fp, &err), FG_ENOTFOUND);
    assert_int_equal(fg_fhirpath_compile("name.(", &fp, &err), FG_EINVALID);
    assert_true(err.line > 0);
    /* limits: nesting, length, evaluation depth */
    char *deep = malloc(1000);
    assert_non_null(deep);
    memset(deep, '(', 300);
    strcpy(deep + 300, "1");
    assert_int_equal(fg_fhirpath_compile(deep, &fp, &err), FG_ELIMIT);
    free(deep);
    char *longx = malloc(20000);
    assert_non_null(longx);
    memset(longx, ' ', 19998);
    longx[19998] = '1';
    longx[19999] = '\0';
    assert_int_equal(fg_fhirpath_compile(longx, &fp, &err), FG_ELIMIT);
    free(longx);
    char sum[1200] = "1";
    for (int k = 0; k < 300; k++)
        strcat(sum, "+1");
    assert_int_equal(fg_fhirpath_compile(sum, &fp, &err), FG_OK);
    json_t *obj = json_object();
    int r;
    assert_int_equal(fg_fhirpath_eval_bool(fp, jv(obj), NULL, NULL, &r, &err), FG_ELIMIT);
    fg_fhirpath_free(fp);
    /* repeat() over a computed value ends */
    expect_bool("(1).repeat($this).count() = 1", pat, 1);
    json_decref(obj);
}

/* Element types as a validator would supply them. */
static const char *typed_child(void *ctx, const char *parent, const char *name)
{
    static const char *const table[][3] = {
        {"Patient", "birthDate", "date"},         {"Patient", "name", "HumanName"},
        {"HumanName", "given", "string"},         {"Patient", "gender", "code"},
        {"Observation", "effectivePeriod", "Period"}, {"Period", "start", "dateTime"},
        {"Period", "end", "dateTime"},            {"Observation", "component", "Observation.component"},
        {"Observation.component", "code", "CodeableConcept"}, {"Observation", "issued", "instant"},
        {"CodeableConcept", "text", "string"},
    };
    (void)ctx;
    for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++)
        if (strcmp(table[k][0], parent) == 0 && strcmp(table[k][1], name) == 0)
            return table[k][2];
    return NULL;
}

static void expect_typed(const char *expr, const char *json, int want)
{
    fg_fhirpath *fp = NULL;
    fg_error err;
    json_t *in = json_loads(json, 0, NULL);
    assert_non_null(in);
    assert_int_equal(fg_fhirpath_compile(expr, &fp, &err), FG_OK);
    const fg_jv *v = jv(in);
    fg_fhirpath_env env = {.resource = v, .child_type = typed_child};
    int got = 99;
    int rc = fg_fhirpath_eval_bool(fp, v, NULL, &env, &got, &err);
    if (rc != FG_OK || got != want)
        print_message("%s: rc %d (%s), got %d, want %d\n", expr, rc, err.text, got, want);
    assert_int_equal(rc, FG_OK);
    assert_int_equal(got, want);
    fg_fhirpath_free(fp);
    json_decref(in);
}

static void test_typed(void **state)
{
    (void)state;
    const char *pat = "{\"resourceType\":\"Patient\",\"birthDate\":\"1974-12-25\","
                      "\"gender\":\"female\",\"name\":[{\"given\":[\"Ann\"]}]}";
    const char *obs = "{\"resourceType\":\"Observation\",\"issued\":\"2020-01-01T10:00:00+02:00\","
                      "\"effectivePeriod\":{\"start\":\"2020-01-01T10:00:00+01:00\","
                      "\"end\":\"2020-01-01T09:30:00Z\"},"
                      "\"component\":[{\"code\":{\"text\":\"x\"}}]}";
    expect_typed("birthDate = '1974-12-25'", pat, 1);
    expect_typed("birthDate < today()", pat, 1);
    expect_typed("birthDate is date", pat, 1);
    expect_typed("birthDate is Date", pat, 1);
    expect_typed("gender is code and gender is string", pat, 1);
    expect_typed("name.given is string", pat, 1);
    expect_typed("name is HumanName", pat, 1);
    expect_typed("effective.start <= effective.end", obs, 1);
    expect_typed("effective.start = @2020-01-01T09:00:00Z", obs, 1);
    expect_typed("issued < effective.end", obs, 1);
    expect_typed("component.code is CodeableConcept", obs, 1);
    expect_typed("component is Observation", obs, 0);
    expect_typed("children().count() = 3", obs, 1);
    expect_typed("descendants().ofType(dateTime).count() = 2", obs, 1);
    expect_typed("descendants().ofType(instant).count() = 1", obs, 1);
}

/* One compiled expression evaluated by several threads at once (a literal
 * regular expression, lazy element types, a callback) gives every thread
 * the same answers. */
typedef struct thread_job {
    const fg_fhirpath *fp;
    const fg_jv *in;
    size_t wrong;
} thread_job;

static void *thread_main(void *arg)
{
    thread_job *job = arg;
    fg_fhirpath_env env = {.resource = job->in, .child_type = typed_child};
    for (int k = 0; k < 20000; k++) {
        int r = -1;
        fg_error err;
        if (fg_fhirpath_eval_bool(job->fp, job->in, NULL, &env, &r, &err) != FG_OK || r != 1)
            job->wrong++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    json_t *in = json_loads("{\"resourceType\":\"Patient\",\"birthDate\":\"1974-12-25\","
                            "\"name\":[{\"given\":[\"Ann\",\"Bo\"]}]}",
                            0, NULL);
    fg_fhirpath *fp = NULL;
    fg_error err;
    assert_int_equal(fg_fhirpath_compile("name.given.all(matches('^[A-Z][a-z]+$')) and "
                                         "birthDate is date and birthDate < @2000 and "
                                         "name.given.select($this + '!').count() = 2",
                                         &fp, &err),
                     FG_OK);
    enum { NTHREADS = 4 };
    pthread_t th[NTHREADS];
    thread_job jobs[NTHREADS];
    for (int k = 0; k < NTHREADS; k++) {
        jobs[k] = (thread_job){.fp = fp, .in = jv(in)};
        assert_int_equal(pthread_create(&th[k], NULL, thread_main, &jobs[k]), 0);
    }
    size_t wrong = 0;
    for (int k = 0; k < NTHREADS; k++) {
        pthread_join(th[k], NULL);
        wrong += jobs[k].wrong;
    }
    assert_int_equal(wrong, 0);
    fg_fhirpath_free(fp);
    json_decref(in);
}

/* ---- the invariants of the definitions ---- */

typedef struct corpus {
    json_t *seen;        /* expression -> true */
    json_t *by_type;     /* resource type -> array of [relative path, expression] */
    json_t *by_profile;  /* US Core profile url -> the same, for its own (us-core-*) invariants */
    json_t *unsupported; /* expression -> reason */
    size_t total, compiled, failed;
} corpus;

static json_t *load_unsupported(void)
{
    json_t *map = json_object();
    FILE *f = fopen("tests/data/fhirpath/unsupported.tsv", "r");
    if (!f)
        return map;
    char line[8192];
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        json_object_set_new(map, line, json_string(tab + 1));
    }
    fclose(f);
    return map;
}

static void scan_definition(corpus *cp, const char *path)
{
    json_t *sd = load_json(path);
    if (!sd)
        return;
    const char *rt = json_string_value(json_object_get(sd, "resourceType"));
    if (!rt || strcmp(rt, "StructureDefinition") != 0) {
        json_decref(sd);
        return;
    }
    const char *type = json_string_value(json_object_get(sd, "type"));
    const char *url = json_string_value(json_object_get(sd, "url"));
    const char *derivation = json_string_value(json_object_get(sd, "derivation"));
    const json_t *elements = json_object_get(json_object_get(sd, "snapshot"), "element");
    for (size_t k = 0; k < json_array_size(elements); k++) {
        const json_t *el = json_array_get(elements, k);
        const char *epath = json_string_value(json_object_get(el, "path"));
        const json_t *cons = json_object_get(el, "constraint");
        for (size_t j = 0; j < json_array_size(cons); j++) {
            const char *expr =
                json_string_value(json_object_get(json_array_get(cons, j), "expression"));
            if (!expr)
                continue;
            const char *severity =
                json_string_value(json_object_get(json_array_get(cons, j), "severity"));
            size_t tlen = type ? strlen(type) : 0;
            if (type && epath && derivation && strcmp(derivation, "specialization") == 0 &&
                severity && strcmp(severity, "error") == 0 && strncmp(epath, type, tlen) == 0 &&
                (epath[tlen] == '\0' || epath[tlen] == '.')) {
                json_t *list = json_object_get(cp->by_type, type);
                if (!list) {
                    list = json_array();
                    json_object_set_new(cp->by_type, type, list);
                }
                /* The element path relative to the resource, without [x]. */
                char rel[1024];
                snprintf(rel, sizeof(rel), "%s", epath[tlen] ? epath + tlen + 1 : "");
                char *x = strstr(rel, "[x]");
                if (x)
                    memmove(x, x + 3, strlen(x + 3) + 1);
                json_array_append_new(list, json_pack("[ss]", rel, expr));
            }
            const char *key = json_string_value(json_object_get(json_array_get(cons, j), "key"));
            const char *eid = json_string_value(json_object_get(el, "id"));
            int on_slice = eid && strchr(eid, ':'); /* applies to the matching items only */
            if (!on_slice && type && epath && url && key && strncmp(key, "us-core-", 8) == 0 &&
                severity &&
                strcmp(severity, "error") == 0 && strncmp(epath, type, tlen) == 0 &&
                (epath[tlen] == '\0' || epath[tlen] == '.')) {
                json_t *list = json_object_get(cp->by_profile, url);
                if (!list) {
                    list = json_array();
                    json_object_set_new(cp->by_profile, url, list);
                }
                char rel[1024];
                snprintf(rel, sizeof(rel), "%s", epath[tlen] ? epath + tlen + 1 : "");
                char *x = strstr(rel, "[x]");
                if (x)
                    memmove(x, x + 3, strlen(x + 3) + 1);
                json_array_append_new(list, json_pack("[ss]", rel, expr));
            }
            if (json_object_get(cp->seen, expr))
                continue;
            json_object_set_new(cp->seen, expr, json_true());
            cp->total++;
            fg_fhirpath *fp = NULL;
            fg_error err;
            if (fg_fhirpath_compile(expr, &fp, &err) == FG_OK) {
                cp->compiled++;
            } else if (!json_object_get(cp->unsupported, expr)) {
                cp->failed++;
                print_message("does not compile: %s\n    %s\n", expr, err.text);
            }
            fg_fhirpath_free(fp);
        }
    }
    json_decref(sd);
}

static int scan_dir(corpus *cp, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "StructureDefinition-", 20) != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        scan_definition(cp, path);
    }
    closedir(d);
    return 1;
}

static corpus the_corpus;

static void test_definitions_compile(void **state)
{
    (void)state;
    corpus *cp = &the_corpus;
    cp->seen = json_object();
    cp->by_type = json_object();
    cp->by_profile = json_object();
    cp->unsupported = load_unsupported();
    if (!scan_dir(cp, R4_DIR)) {
        print_message("skipped: ../shared/fhir-packages is absent\n");
        skip();
    }
    scan_dir(cp, USCORE_DIR);
    print_message("%zu distinct invariants, %zu compile, %zu listed as unsupported, "
                  "%zu fail\n",
                  cp->total, cp->compiled, json_object_size(cp->unsupported), cp->failed);
    assert_true(cp->total >= 200);
    assert_int_equal(cp->failed, 0);
}

/* Every error-level invariant of a resource's base definition, evaluated
 * on each element it applies to (reached with the element's path as a
 * FHIRPath expression): the official conformance resources and the Synthea
 * sample in the shared folder must satisfy them all. */
typedef struct sweep {
    size_t resources, profiled, evals, falses, errors;
} sweep;

/* Compiled expressions of the sweep, by source text (compiled once). */
static json_t *compiled_cache;

static fg_fhirpath *cached_compile(const char *expr, fg_error *err)
{
    if (!compiled_cache)
        compiled_cache = json_object();
    json_t *hit = json_object_get(compiled_cache, expr);
    if (hit)
        return (fg_fhirpath *)(intptr_t)json_integer_value(hit);
    fg_fhirpath *fp = NULL;
    if (fg_fhirpath_compile(expr, &fp, err) != FG_OK)
        fp = NULL;
    json_object_set_new(compiled_cache, expr, json_integer((json_int_t)(intptr_t)fp));
    return fp;
}

static void free_cache(void)
{
    const char *key;
    json_t *val;
    json_object_foreach(compiled_cache, key, val)
        fg_fhirpath_free((fg_fhirpath *)(intptr_t)json_integer_value(val));
    json_decref(compiled_cache);
    compiled_cache = NULL;
}

static void sweep_list(sweep *sw, const char *name, json_t *res, const json_t *list)
{
    const fg_jv *rv = jv(res);
    fg_fhirpath_env env = {.resource = rv, .root_resource = rv};
    for (size_t k = 0; k < json_array_size(list); k++) {
        const json_t *inv = json_array_get(list, k);
        const char *path = json_string_value(json_array_get(inv, 0));
        const char *expr = json_string_value(json_array_get(inv, 1));
        fg_error err;
        json_t *targets = NULL;
        const fg_fhirpath *fp = cached_compile(expr, &err), *pp = NULL;
        if (!fp)
            continue;
        if (path[0]) {
            pp = cached_compile(path, &err);
            if (!pp || fg_fhirpath_eval_json(pp, rv, NULL, &env, &targets, &err) != FG_OK) {
                sw->errors++;
                print_message("%s: path %s: %s\n", name, path, err.text);
                goto next;
            }
        } else {
            targets = json_array();
            json_array_append(targets, res);
        }
        for (size_t j = 0; j < json_array_size(targets); j++) {
            int r = -1;
            sw->evals++;
            const fg_jv *focus = path[0] ? jv(json_array_get(targets, j)) : rv;
            int rc = fg_fhirpath_eval_bool(fp, focus, NULL, &env, &r, &err);
            if (rc != FG_OK) {
                sw->errors++;
                if (verbose())
                    print_message("%s: %s: %s: error %s\n", name, path, expr, err.text);
            } else if (r == 0) {
                sw->falses++;
                if (verbose())
                    print_message("%s: %s: false: %s\n", name, path, expr);
            }
        }
    next:
        json_decref(targets);
    }
}

static void sweep_resource(corpus *cp, sweep *sw, const char *name, json_t *res)
{
    const char *rt = json_string_value(json_object_get(res, "resourceType"));
    const json_t *list = rt ? json_object_get(cp->by_type, rt) : NULL;
    if (!list)
        return;
    fg_arena_reset(&jv_arena);
    sw->resources++;
    sweep_list(sw, name, res, list);
    const json_t *profiles = json_object_get(json_object_get(res, "meta"), "profile");
    for (size_t k = 0; k < json_array_size(profiles); k++) {
        const json_t *plist =
            json_object_get(cp->by_profile, json_string_value(json_array_get(profiles, k)));
        if (plist) {
            sw->profiled++;
            sweep_list(sw, name, res, plist);
        }
    }
}

/* Every *.json resource of a folder; 0 when the folder is absent. */
static int sweep_json_dir(corpus *cp, sweep *sw, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".json") || strcmp(e->d_name, "package.json") == 0 ||
            e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        json_t *res = load_json(path);
        if (res)
            sweep_resource(cp, sw, e->d_name, res);
        json_decref(res);
    }
    closedir(d);
    return 1;
}

static void test_examples(void **state)
{
    (void)state;
    corpus *cp = &the_corpus;
    if (!cp->by_type || json_object_size(cp->by_type) == 0)
        skip();
    sweep sw = {0};
    if (!sweep_json_dir(cp, &sw, R4_DIR))
        skip();
    size_t from_package = sw.resources;
    /* The official R4 examples, when the integration tests have installed
     * them (tests/examples, npm). */
    sweep sx = {0};
    if (sweep_json_dir(cp, &sx, EXAMPLES_DIR)) {
        print_message("%zu official examples: %zu invariant evaluations, %zu false, %zu errors\n",
                      sx.resources, sx.evals, sx.falses, sx.errors);
        assert_int_equal(sx.errors, 0);
        assert_true(sx.falses <= FHIRPATH_OFFICIAL_FALSES_MAX);
    }
    struct dirent *e;
    DIR *d;
    /* FHIRPATH_SWEEP_DIR names another NDJSON folder to sweep (fhirgen's own
     * output, say) in place of the Synthea sample. */
    const char *ndjson_dir = getenv("FHIRPATH_SWEEP_DIR");
    if (!ndjson_dir || !*ndjson_dir)
        ndjson_dir = SYNTHEA_DIR;
    d = opendir(ndjson_dir);
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".ndjson"))
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", ndjson_dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        static char line[1 << 20];
        while (fgets(line, sizeof(line), f)) {
            json_t *res = json_loads(line, 0, NULL);
            if (res)
                sweep_resource(cp, &sw, e->d_name, res);
            json_decref(res);
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    print_message("%zu package resources and %zu NDJSON resources (%zu US Core profile "
                  "claims), %zu invariant evaluations, %zu false, %zu errors\n",
                  from_package, sw.resources - from_package, sw.profiled, sw.evals, sw.falses,
                  sw.errors);
    assert_true(sw.resources > 100);
    assert_int_equal(sw.errors, 0);
    assert_true(sw.falses <= FHIRPATH_EXAMPLE_FALSES_MAX);
}

/* ---- fuzz corpus replay ---- */

static size_t replayed;

static void replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t buf[65536];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, buf, n);
        LLVMFuzzerTestOneInput(copy, n);
        free(copy);
        replayed++;
    }
    closedir(d);
}

static void test_fuzz_corpus(void **state)
{
    (void)state;
    replay_dir("tests/fuzz/corpus-fhirpath");
    print_message("replayed %zu fuzz inputs\n", replayed);
    assert_true(replayed >= 10);
}

static int teardown_corpus(void **state)
{
    (void)state;
    json_decref(the_corpus.seen);
    json_decref(the_corpus.by_type);
    json_decref(the_corpus.by_profile);
    free_cache();
    json_decref(the_corpus.unsupported);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_semantics),
        cmocka_unit_test(test_typed),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_definitions_compile),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_fuzz_corpus),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fg_arena_free(&jv_arena);
    teardown_corpus(NULL);
    return rc;
}
