/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the LLM generator's parts that need no server: skeletons
 * drawn from the engine, prompt templates (loading, placeholders, the
 * `<skeleton>` block the test server reads), and the check of an answer
 * (parse, merge with the skeleton, conditions kept, grounding, coherence,
 * fresh ids).
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
#include <sys/stat.h>
#include <unistd.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_data.h"
#include "fhir/term/fg_term.h"
#include "generators/engine/fg_engine.h"
#include "generators/llm/fg_llmgen.h"
#include "generators/llm/llmgen_private.h"

typedef struct fixture {
    fg_engine *engine;
    fg_terminology *terms;
    fg_plausibility_rules *rules;
    fg_llmgen_prompts *prompts;
    fg_llmgen_options o;
} fixture;

static int setup(void **state)
{
    fixture *x = calloc(1, sizeof(*x));
    fg_cohort_spec spec;
    fg_error err;
    char tdir[4096];
    fg_cohort_spec_default(&spec);
    spec.seed = 42;
    spec.end = fg_time_make(2025, 1, 1, 0, 0, 0);
    spec.age_min = 40;
    spec.age_max = 90;
    if (fg_engine_new(fg_data_dir(), &spec, &x->engine, &err) != FG_OK)
        fail_msg("engine: %s: %s", err.where, err.text);
    fg_data_path("terminology", tdir, sizeof(tdir));
    if (fg_terminology_load(tdir, &x->terms, &err) != FG_OK)
        fail_msg("terminology: %s: %s", err.where, err.text);
    if (fg_plausibility_load(fg_data_dir(), &x->rules, &err) != FG_OK)
        fail_msg("coherence: %s: %s", err.where, err.text);
    if (fg_llmgen_prompts_load(NULL, &x->prompts, &err) != FG_OK)
        fail_msg("prompts: %s: %s", err.where, err.text);
    if (fg_llmgen_prompts_set_terms(x->prompts, x->terms, &err) != FG_OK)
        fail_msg("prompts: %s", err.text);
    x->o.engine = x->engine;
    x->o.terms = x->terms;
    x->o.prompts = x->prompts;
    x->o.end = spec.end;
    x->o.years_of_history = 10;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture *x = *state;
    fg_llmgen_prompts_free(x->prompts);
    fg_plausibility_free(x->rules);
    fg_terminology_free(x->terms);
    fg_engine_free(x->engine);
    free(x);
    return 0;
}

/* The first patient of the cohort with at least one chronic condition. */
static uint64_t patient_with_conditions(fixture *x, llmgen_skel *s)
{
    fg_error err;
    for (uint64_t i = 0; i < 200; i++) {
        assert_int_equal(llmgen_skel_make(&x->o, i, s, &err), FG_OK);
        if (s->n_conds > 0)
            return i;
    }
    fail_msg("no patient with a chronic condition in 200");
    return 0;
}

static void test_skeleton_json(void **state)
{
    fixture *x = *state;
    llmgen_skel s;
    llmgen_skel_init(&s);
    uint64_t i = patient_with_conditions(x, &s);
    json_error_t jerr;
    json_t *j = json_loads(s.json, 0, &jerr);
    assert_non_null(j);
    assert_null(strchr(s.json, '\n'));
    assert_int_equal(json_integer_value(json_object_get(j, "index")), (json_int_t)i);
    const char *sex = json_string_value(json_object_get(j, "sex"));
    assert_true(strcmp(sex, "male") == 0 || strcmp(sex, "female") == 0);
    const char *members[] = {"birth_date", "given", "family", "history_start", "history_end"};
    for (size_t k = 0; k < 5; k++)
        assert_true(json_is_string(json_object_get(j, members[k])));
    assert_true(json_is_integer(json_object_get(j, "age")));
    assert_non_null(json_object_get(j, "deceased_date"));
    assert_true(json_is_null(json_object_get(j, "scenario")));
    json_t *conds = json_object_get(j, "conditions");
    assert_int_equal(json_array_size(conds), s.n_conds);
    json_t *c0 = json_array_get(conds, 0);
    const char *cm[] = {"name", "system", "code", "display", "onset"};
    for (size_t k = 0; k < 5; k++)
        assert_true(json_is_string(json_object_get(c0, cm[k])));
    /* every code of the skeleton is in the terminology tables */
    for (size_t k = 0; k < s.n_conds; k++)
        assert_non_null(fg_terminology_find(x->terms, s.conds[k].term.system,
                                            s.conds[k].term.code));
    assert_true(s.history_start <= s.history_end);
    assert_true(s.history_end <= x->o.end);
    assert_true(s.age >= 40 && s.age <= 90);
    json_decref(j);
    llmgen_skel_free(&s);
}

/* The skeleton's history is the engine's, byte for byte, and twice the same. */
static void test_skeleton_matches_engine(void **state)
{
    fixture *x = *state;
    fg_error err;
    for (uint64_t i = 0; i < 20; i++) {
        llmgen_skel s;
        fg_history h;
        fg_buf a, b;
        llmgen_skel_init(&s);
        fg_history_init(&h);
        fg_buf_init(&a);
        fg_buf_init(&b);
        assert_int_equal(llmgen_skel_make(&x->o, i, &s, &err), FG_OK);
        assert_int_equal(fg_engine_generate(x->engine, i, &h, &err), FG_OK);
        assert_int_equal(fg_history_write(&s.h, &a), FG_OK);
        assert_int_equal(fg_history_write(&h, &b), FG_OK);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        char *first = strdup(s.json);
        assert_int_equal(llmgen_skel_make(&x->o, i, &s, &err), FG_OK);
        assert_string_equal(first, s.json);
        free(first);
        fg_buf_free(&a);
        fg_buf_free(&b);
        fg_history_free(&h);
        llmgen_skel_free(&s);
    }
}

static void test_prompt_blocks(void **state)
{
    fixture *x = *state;
    llmgen_skel s;
    fg_buf b;
    fg_error err;
    llmgen_skel_init(&s);
    fg_buf_init(&b);
    patient_with_conditions(x, &s);
    assert_int_equal(llmgen_prompt_patient(x->prompts, &s, "a rural clinic", &b, &err), FG_OK);
    /* the skeleton alone on the lines between <skeleton> and </skeleton> */
    char *open = strstr(b.data, "\n<skeleton>\n");
    assert_non_null(open);
    char *js = open + strlen("\n<skeleton>\n");
    char *close = strstr(js, "\n</skeleton>\n");
    assert_non_null(close);
    assert_int_equal((size_t)(close - js), strlen(s.json));
    assert_memory_equal(js, s.json, strlen(s.json));
    assert_non_null(strstr(b.data, "a rural clinic"));
    assert_null(strstr(b.data, "{{"));
    fg_buf_clear(&b);
    assert_int_equal(llmgen_prompt_repair(x->prompts, &s, NULL, "conditions[0].code: bad\n"
                                          "encounters[1].start: before birth", 2, &b, &err),
                     FG_OK);
    assert_true(strncmp(b.data, "<errors>\nconditions[0].code: bad\nencounters[1].start: before "
                                "birth\n</errors>\n", 75) == 0);
    fg_buf_clear(&b);
    assert_int_equal(llmgen_prompt_system(x->prompts, &s, NULL, &b, &err), FG_OK);
    assert_true(b.len > 100);
    /* the vocabulary lists the skeleton's codes with their displays */
    char line[512];
    snprintf(line, sizeof(line), "\n%s | %s\n", s.conds[0].term.code, s.conds[0].term.display);
    assert_non_null(strstr(b.data, line));
    assert_non_null(strstr(b.data, "LOINC (system http://loinc.org)"));
    fg_buf_free(&b);
    llmgen_skel_free(&s);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_prompt_errors(void **state)
{
    (void)state;
    char dir[] = "/tmp/fhirgen-prompts-XXXXXX", p[256];
    fg_llmgen_prompts *pr = NULL;
    fg_error err;
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/system.txt", dir);
    write_text(p, "You write histories.\n");
    snprintf(p, sizeof(p), "%s/patient.txt", dir);
    write_text(p, "<skeleton>\n{{skeleton}}\n</skeleton>\n");
    /* repair.txt missing */
    assert_int_equal(fg_llmgen_prompts_load(dir, &pr, &err), FG_ENOTFOUND);
    assert_non_null(strstr(err.where, "repair.txt"));
    snprintf(p, sizeof(p), "%s/repair.txt", dir);
    write_text(p, "<errors>\n{{errors}}\n</errors>\nfix {{n_erors}} problems\n");
    assert_int_equal(fg_llmgen_prompts_load(dir, &pr, &err), FG_EINVALID);
    assert_non_null(strstr(err.where, "repair.txt"));
    assert_int_equal(err.line, 4);
    assert_non_null(strstr(err.text, "n_erors"));
    write_text(p, "<errors>\n{{errors\n");
    assert_int_equal(fg_llmgen_prompts_load(dir, &pr, &err), FG_EINVALID);
    assert_int_equal(err.line, 2);
    write_text(p, "<errors>\n{{ errors }}\n</errors>\n");
    assert_int_equal(fg_llmgen_prompts_load(dir, &pr, &err), FG_OK);
    fg_llmgen_prompts_free(pr);
    const char *names[] = {"system.txt", "patient.txt", "repair.txt"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* The engine's own history, given as the model's answer, passes. */
static char *engine_answer(fixture *x, const llmgen_skel *s)
{
    fg_buf b;
    fg_buf_init(&b);
    assert_int_equal(fg_history_write(&s->h, &b), FG_OK);
    (void)x;
    return fg_buf_take(&b, NULL);
}

static void test_check_engine_history(void **state)
{
    fixture *x = *state;
    llmgen_skel s;
    fg_history ans;
    fg_findings f;
    fg_error err;
    llmgen_skel_init(&s);
    fg_history_init(&ans);
    fg_findings_init(&f);
    for (uint64_t i = 0; i < 10; i++) {
        assert_int_equal(llmgen_skel_make(&x->o, i, &s, &err), FG_OK);
        char *text = engine_answer(x, &s);
        fg_findings_reset(&f);
        assert_int_equal(llmgen_check(x->terms, x->rules, &s, text, strlen(text), &ans, &f, &err),
                         FG_OK);
        if (f.n)
            fail_msg("patient %llu: %s: %s", (unsigned long long)i, f.v[0].path,
                     f.v[0].message);
        /* the patient is the skeleton's; resource ids are fresh UUIDs */
        assert_string_equal(ans.patient.id, s.h.patient.id);
        if (ans.encounters.n) {
            assert_int_equal(strlen(ans.encounters.v[0].id), 36);
            assert_string_not_equal(ans.encounters.v[0].id, s.h.encounters.v[0].id);
        }
        for (size_t k = 0; k < ans.observations.n; k++)
            assert_non_null(fg_history_encounter(&ans, ans.observations.v[k].encounter));
        free(text);
    }
    fg_findings_free(&f);
    fg_history_free(&ans);
    llmgen_skel_free(&s);
}

/* A made-up code, a dropped skeleton condition and invalid JSON each give
 * a finding with a path. */
static void test_check_findings(void **state)
{
    fixture *x = *state;
    llmgen_skel s;
    fg_history ans;
    fg_findings f;
    fg_error err;
    llmgen_skel_init(&s);
    fg_history_init(&ans);
    fg_findings_init(&f);
    patient_with_conditions(x, &s);
    const char *code = s.conds[0].term.code;

    /* the skeleton's condition code replaced by one that is in no table */
    char *text = engine_answer(x, &s);
    char needle[64];
    snprintf(needle, sizeof(needle), "\"code\":\"%s\"", code);
    char *at = strstr(text, needle);
    assert_non_null(at);
    for (; at; at = strstr(at, needle))
        memset(at + 8, '1', strlen(code)); /* 1111...: no such concept, everywhere */
    assert_int_equal(llmgen_check(x->terms, x->rules, &s, text, strlen(text), &ans, &f, &err),
                     FG_OK);
    assert_true(fg_findings_count(&f, FG_FIND_HALLUCINATED) >= 1);
    int missing = 0;
    for (size_t k = 0; k < f.n; k++)
        if (strcmp(f.v[k].path, "conditions") == 0 && strstr(f.v[k].message, "missing"))
            missing = 1;
    assert_true(missing);
    free(text);

    fg_findings_reset(&f);
    const char *bad = "{\"fhirgen_history\": \"1\", \"patient\": ";
    assert_int_equal(llmgen_check(x->terms, x->rules, &s, bad, strlen(bad), &ans, &f, &err), FG_OK);
    assert_int_equal(f.n, 1);
    assert_non_null(f.v[0].message);
    fg_findings_free(&f);
    fg_history_free(&ans);
    llmgen_skel_free(&s);
}

/* NDJSON lines reach the files in patient order whatever order patients
 * finish in (the sink the LLM path writes through); a dropped patient
 * leaves no line; shared resources once, told apart by the ids given. */
static void test_ndjson_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/fhirgen-ndjson-XXXXXX", path[256], line[256];
    fg_sink *n = NULL;
    fg_error err;
    assert_non_null(mkdtemp(dir));
    fg_sink_options so = {FG_FORMAT_NDJSON, dir, 10, 4, 4, 0, 0, NULL, NULL};
    assert_int_equal(fg_sink_open(&so, &n, &err), FG_OK);
    assert_true(fg_sink_room(n, 13));
    assert_false(fg_sink_room(n, 14));
    uint64_t order[] = {12, 10, 13, 11};
    fg_sink_ids ids;
    fg_sink_ids_init(&ids);
    fg_buf_append(&ids.ids[FG_RT_ORGANIZATION], "00000000-0000-4000-8000-000000000001", 36);
    for (size_t i = 0; i < 4; i++) {
        fg_buf b[FG_RT_COUNT];
        for (int t = 0; t < FG_RT_COUNT; t++)
            fg_buf_init(&b[t]);
        fg_buf_printf(&b[FG_RT_PATIENT], "{\"resourceType\":\"Patient\",\"id\":\"p%llu\"}\n",
                      (unsigned long long)order[i]);
        fg_buf_printf(&b[FG_RT_ORGANIZATION], "{\"resourceType\":\"Organization\",\"id\":\"o1\"}\n");
        if (order[i] == 11)
            assert_int_equal(fg_sink_skip(n, order[i], 1, &err), FG_OK);
        else
            assert_int_equal(fg_sink_put_ndjson(n, order[i], 1, b, &ids, &err), FG_OK);
        for (int t = 0; t < FG_RT_COUNT; t++)
            fg_buf_free(&b[t]);
    }
    fg_sink_ids_free(&ids);
    assert_true(fg_sink_room(n, 17));
    fg_sink_stats st;
    assert_int_equal(fg_sink_close(n, 1, &st, &err), FG_OK);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.skipped[FG_RT_ORGANIZATION], 2);
    snprintf(path, sizeof(path), "%s/ndjson/Patient.ndjson", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    const char *want[] = {"p10", "p12", "p13"};
    for (int i = 0; i < 3; i++) {
        assert_non_null(fgets(line, sizeof(line), f));
        assert_non_null(strstr(line, want[i]));
    }
    assert_null(fgets(line, sizeof(line), f));
    fclose(f);
    unlink(path);
    snprintf(path, sizeof(path), "%s/ndjson/Organization.ndjson", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    assert_null(fgets(line, sizeof(line), f));
    fclose(f);
    unlink(path);
    snprintf(path, sizeof(path), "%s/ndjson", dir);
    rmdir(path);
    rmdir(dir);
}

/* A run that does not go through leaves no NDJSON file and no temporary;
 * a file name put twice fails the sink. */
static void test_sink_failure(void **state)
{
    (void)state;
    char dir[] = "/tmp/fhirgen-sink-XXXXXX", path[256];
    fg_sink *n = NULL;
    fg_error err;
    assert_non_null(mkdtemp(dir));
    fg_sink_options so = {FG_FORMAT_NDJSON, dir, 0, 2, 2, 0, 0, NULL, NULL};
    assert_int_equal(fg_sink_open(&so, &n, &err), FG_OK);
    fg_buf b[FG_RT_COUNT];
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_init(&b[t]);
    fg_buf_puts(&b[FG_RT_PATIENT], "{\"resourceType\":\"Patient\",\"id\":\"p0\"}\n");
    assert_int_equal(fg_sink_put_ndjson(n, 0, 1, b, NULL, &err), FG_OK);
    assert_int_equal(fg_sink_close(n, 0, NULL, &err), FG_OK);
    snprintf(path, sizeof(path), "%s/ndjson", dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        assert_true(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
    closedir(d);
    rmdir(path);

    so.format = FG_FORMAT_BUNDLE;
    assert_int_equal(fg_sink_open(&so, &n, &err), FG_OK);
    assert_int_equal(fg_sink_put_file(n, 0, "x.json", "{}\n", 3, &err), FG_OK);
    assert_int_equal(fg_sink_put_file(n, 1, "x.json", "{}\n", 3, &err), FG_EINVALID);
    assert_non_null(strstr(err.text, "twice"));
    assert_int_equal(fg_sink_close(n, 1, NULL, &err), FG_EINVALID);
    snprintf(path, sizeof(path), "%s/bundles/x.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/bundles", dir);
    rmdir(path);
    rmdir(dir);
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_free(&b[t]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skeleton_json),
        cmocka_unit_test(test_skeleton_matches_engine),
        cmocka_unit_test(test_prompt_blocks),
        cmocka_unit_test(test_prompt_errors),
        cmocka_unit_test(test_check_engine_history),
        cmocka_unit_test(test_check_findings),
        cmocka_unit_test(test_ndjson_order),
        cmocka_unit_test(test_sink_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
