/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the history IR in JSON: parser, writer and schema.
 *
 * Data-driven: every tests/data/history/valid/<name>.json must parse, write and
 * round-trip byte for byte, and conform to data/schema/history.schema.json;
 * every tests/data/history/invalid/<case>.json must be rejected with the
 * `where` on the first line of <case>.expected and a message containing its
 * second line. The schema itself is checked against the rules of strict
 * structured output (OpenAI strict mode, Anthropic tool input schemas).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_data.h"
#include "fhir/base/fg_error.h"
#include "fhir/json/fg_jr.h"
#include "generators/history/fg_history.h"

#define HISTORY_DIR "tests/data/history"
#define MAX_FILES 512

/* ---- helpers ------------------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    size_t n = fread(text, 1, (size_t)size, f);
    fclose(f);
    text[n] = 0;
    if (len)
        *len = n;
    return text;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the files in dir ending in suffix, sorted; free each and the array. */
static size_t list_files(const char *dir, const char *suffix, char ***out)
{
    char **names = calloc(MAX_FILES, sizeof(char *));
    size_t n = 0, sl = strlen(suffix);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_FILES) {
        size_t l = strlen(e->d_name);
        if (l > sl && strcmp(e->d_name + l - sl, suffix) == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(char *), by_name);
    *out = names;
    return n;
}

static void free_files(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int parse_text(fg_history *h, const char *text, fg_error *err)
{
    return fg_history_parse(h, text, strlen(text), "test", err);
}

/* parse -> write; returns the written bytes (free()). */
static char *parse_write(const char *text, size_t len, const char *name)
{
    fg_history h;
    fg_history_init(&h);
    fg_error err;
    fg_error_clear(&err);
    int rc = fg_history_parse(&h, text, len, name, &err);
    if (rc != FG_OK)
        fail_msg("%s: %s: %s", name, err.where, err.text);
    fg_buf out;
    fg_buf_init(&out);
    assert_int_equal(fg_history_write(&h, &out), FG_OK);
    fg_history_free(&h);
    return fg_buf_take(&out, NULL);
}

/* ---- a checker for the schema keyword subset -------------------------------------------- */

static const char *allowed_keywords[] = {"type",  "properties", "required", "additionalProperties",
                                         "items", "enum",       "anyOf",    "description",
                                         "$defs", "$ref",       NULL};

static int keyword_allowed(const char *k)
{
    for (int i = 0; allowed_keywords[i]; i++)
        if (strcmp(k, allowed_keywords[i]) == 0)
            return 1;
    return 0;
}

static int type_is(const json_t *type, const char *name)
{
    if (json_is_string(type))
        return strcmp(json_string_value(type), name) == 0;
    size_t i;
    json_t *t;
    json_array_foreach(type, i, t) if (json_is_string(t) && strcmp(json_string_value(t), name) == 0)
        return 1;
    return 0;
}

/* Strict-mode rules on every schema node; `path` for messages. */
static void check_strict(const json_t *s, const char *path, int is_property)
{
    char sub[512];
    assert_true(json_is_object(s));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v) if (!keyword_allowed(k))
        fail_msg("%s: keyword \"%s\" is not accepted by strict mode", path, k);
    if (is_property && !json_object_get(s, "description"))
        fail_msg("%s: property without a description", path);
    const json_t *type = json_object_get(s, "type");
    const json_t *props = json_object_get(s, "properties");
    if ((type && type_is(type, "object")) || props) {
        const json_t *ap = json_object_get(s, "additionalProperties");
        if (!json_is_false(ap))
            fail_msg("%s: object without additionalProperties false", path);
        const json_t *req = json_object_get(s, "required");
        if (!json_is_array(req) || !json_is_object(props))
            fail_msg("%s: object without properties and required", path);
        if (json_array_size(req) != json_object_size(props))
            fail_msg("%s: required does not list every property", path);
        json_object_foreach((json_t *)props, k, v) {
            int found = 0;
            size_t i;
            json_t *r;
            json_array_foreach(req, i, r) found |= json_is_string(r) &&
                                                   strcmp(json_string_value(r), k) == 0;
            if (!found)
                fail_msg("%s: property \"%s\" is not in required", path, k);
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            check_strict(v, sub, 1);
        }
    }
    const json_t *items = json_object_get(s, "items");
    if (items) {
        snprintf(sub, sizeof(sub), "%s[]", path);
        check_strict(items, sub, 0);
    }
    const json_t *any = json_object_get(s, "anyOf");
    if (any) {
        size_t i;
        json_t *b;
        json_array_foreach(any, i, b) {
            snprintf(sub, sizeof(sub), "%s|%zu", path, i);
            check_strict(b, sub, 0);
        }
    }
    const json_t *defs = json_object_get(s, "$defs");
    json_object_foreach((json_t *)defs, k, v) {
        snprintf(sub, sizeof(sub), "$defs.%s", k);
        check_strict(v, sub, 0);
    }
}

/* 1 when instance conforms to schema s; why names the first mismatch. */
static int conforms(const json_t *x, const json_t *s, const json_t *root, char *why, size_t wn,
                    const char *path)
{
    char sub[512];
    const json_t *ref = json_object_get(s, "$ref");
    if (ref) {
        const char *r = json_string_value(ref);
        assert_true(strncmp(r, "#/$defs/", 8) == 0);
        s = json_object_get(json_object_get(root, "$defs"), r + 8);
        assert_non_null(s);
    }
    const json_t *any = json_object_get(s, "anyOf");
    if (any) {
        size_t i;
        json_t *b;
        json_array_foreach(any, i, b) if (conforms(x, b, root, why, wn, path)) return 1;
        snprintf(why, wn, "%s: matches no branch of anyOf", path);
        return 0;
    }
    const json_t *type = json_object_get(s, "type");
    if (type) {
        int ok = (json_is_object(x) && type_is(type, "object")) ||
                 (json_is_array(x) && type_is(type, "array")) ||
                 (json_is_string(x) && type_is(type, "string")) ||
                 (json_is_integer(x) && (type_is(type, "integer") || type_is(type, "number"))) ||
                 (json_is_real(x) && type_is(type, "number")) ||
                 (json_is_boolean(x) && type_is(type, "boolean")) ||
                 (json_is_null(x) && type_is(type, "null"));
        if (!ok) {
            snprintf(why, wn, "%s: wrong type", path);
            return 0;
        }
    }
    const json_t *en = json_object_get(s, "enum");
    if (en) {
        int ok = 0;
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e) ok |= json_equal(e, (json_t *)x);
        if (!ok) {
            snprintf(why, wn, "%s: not one of the enum values", path);
            return 0;
        }
    }
    if (json_is_object(x)) {
        const json_t *props = json_object_get(s, "properties");
        const char *k;
        json_t *v;
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(s, "required"), i, r) if (!json_object_get(x, json_string_value(r))) {
            snprintf(why, wn, "%s: missing %s", path, json_string_value(r));
            return 0;
        }
        json_object_foreach((json_t *)x, k, v) {
            const json_t *ps = json_object_get(props, k);
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            if (!ps) {
                if (json_is_false(json_object_get(s, "additionalProperties"))) {
                    snprintf(why, wn, "%s: not allowed", sub);
                    return 0;
                }
                continue;
            }
            if (!conforms(v, ps, root, why, wn, sub))
                return 0;
        }
    }
    if (json_is_array(x) && json_object_get(s, "items")) {
        size_t i;
        json_t *v;
        json_array_foreach(x, i, v) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            if (!conforms(v, json_object_get(s, "items"), root, why, wn, sub))
                return 0;
        }
    }
    return 1;
}

static json_t *load_schema(void)
{
    char path[4096];
    assert_non_null(fg_data_path("schema/history.schema.json", path, sizeof(path)));
    json_error_t jerr;
    json_t *s = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!s)
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    return s;
}

static void assert_conforms(const json_t *schema, const char *text, const char *name)
{
    json_error_t jerr;
    json_t *x = json_loads(text, 0, &jerr);
    if (!x)
        fail_msg("%s: %s", name, jerr.text);
    char why[600] = "";
    if (!conforms(x, schema, schema, why, sizeof(why), "$"))
        fail_msg("%s does not conform to the schema: %s", name, why);
    json_decref(x);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_valid_round_trip(void **state)
{
    (void)state;
    json_t *schema = load_schema();
    char **names;
    size_t n = list_files(HISTORY_DIR "/valid", ".json", &names);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), HISTORY_DIR "/valid/%s", names[i]);
        size_t len;
        char *text = slurp(path, &len);
        assert_conforms(schema, text, path);
        char *first = parse_write(text, len, names[i]);
        char *second = parse_write(first, strlen(first), names[i]);
        if (strcmp(first, second) != 0)
            fail_msg("%s: writing twice gives different bytes:\n%s\n%s", names[i], first, second);
        assert_conforms(schema, first, "the written form");
        free(text);
        free(first);
        free(second);
    }
    free_files(names, n);
    json_decref(schema);
}

static void test_invalid_cases(void **state)
{
    (void)state;
    char **names;
    size_t n = list_files(HISTORY_DIR "/invalid", ".json", &names);
    assert_true(n >= 30);
    fg_history h;
    fg_history_init(&h);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), HISTORY_DIR "/invalid/%s", names[i]);
        size_t len;
        char *text = slurp(path, &len);
        snprintf(path + strlen(path) - 5, 16, ".expected");
        char *expected = slurp(path, NULL);
        char *nl = strchr(expected, '\n');
        assert_non_null(nl);
        *nl = 0;
        char *substr = nl + 1;
        nl = strchr(substr, '\n');
        if (nl)
            *nl = 0;
        fg_error err;
        fg_error_clear(&err);
        int rc = fg_history_parse(&h, text, len, names[i], &err);
        if (rc == FG_OK)
            fail_msg("%s: accepted", names[i]);
        if (strcmp(err.where, expected) != 0 || !strstr(err.text, substr))
            fail_msg("%s: got `%s: %s`, expected `%s: ...%s...`", names[i], err.where, err.text,
                     expected, substr);
        assert_int_equal(err.code, rc);
        assert_int_equal(h.encounters.n, 0); /* left reset */
        free(text);
        free(expected);
    }
    fg_history_free(&h);
    free_files(names, n);
}

static void test_schema_is_strict(void **state)
{
    (void)state;
    json_t *s = load_schema();
    const json_t *type = json_object_get(s, "type");
    assert_true(json_is_string(type) && strcmp(json_string_value(type), "object") == 0);
    assert_null(json_object_get(s, "anyOf")); /* the root must be a plain object */
    check_strict(s, "$", 0);
    /* Every list of the C history is a property, named as in fg_history.h. */
    const char *members[] = {"fhirgen_history", "patient",      "organizations", "practitioners",
                             "locations",       "encounters",   "conditions",    "observations",
                             "reports",         "medications",  "immunizations", "procedures",
                             "allergies",       "careplans",    "notes",         "death_cause"};
    const json_t *props = json_object_get(s, "properties");
    assert_int_equal(json_object_size(props), sizeof(members) / sizeof(members[0]));
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
        if (!json_object_get(props, members[i]))
            fail_msg("schema lacks %s", members[i]);
    json_decref(s);
}

static void test_complete_has_everything(void **state)
{
    (void)state;
    char *text = slurp(HISTORY_DIR "/valid/complete.json", NULL);
    fg_history h;
    fg_history_init(&h);
    fg_error err;
    assert_int_equal(parse_text(&h, text, &err), FG_OK);
    assert_true(h.organizations.n && h.practitioners.n && h.locations.n && h.encounters.n &&
                h.conditions.n && h.observations.n && h.reports.n && h.medications.n &&
                h.immunizations.n && h.procedures.n && h.allergies.n && h.careplans.n &&
                h.notes.n);
    assert_string_equal(h.patient.id, "p1");
    assert_int_equal(h.patient.sex, FG_SEX_FEMALE);
    assert_true(h.patient.birth_date == fg_time_make(1970, 4, 12, 0, 0, 0));
    assert_true(h.patient.death == FG_TIME_NONE);
    assert_null(h.death_cause.code);
    const fg_encounter *e = fg_history_encounter(&h, "e2");
    assert_non_null(e);
    assert_int_equal(e->cls, FG_CLASS_AMB);
    assert_string_equal(e->reason.code, "59621000");
    assert_null(h.encounters.v[0].reason.display);
    int kinds = 0;
    for (size_t i = 0; i < h.observations.n; i++) {
        const fg_observation *o = &h.observations.v[i];
        kinds |= 1 << o->kind;
        if (o->kind == FG_VALUE_QUANTITY && strcmp(o->unit, "kg") == 0) {
            assert_true(fabs(o->value - 71.4) < 1e-9);
            assert_int_equal(o->decimals, 1);
        }
        if (o->n_components) {
            assert_int_equal(o->n_components, 2);
            assert_string_equal(o->components[0].unit, "mm[Hg]");
        }
    }
    assert_int_equal(kinds, 7); /* none, quantity and code */
    assert_int_equal(h.reports.v[0].n_results, 1);
    assert_string_equal(h.medications.v[0].reason, "c1");
    assert_true(h.medications.v[0].end == FG_TIME_NONE);
    assert_int_equal(h.medications.v[0].per_day, 1);
    assert_int_equal(h.allergies.v[0].severity, 1);
    assert_true(h.allergies.v[0].high_criticality);
    assert_int_equal(h.careplans.v[0].n_activities, 2);
    assert_non_null(strchr(h.notes.v[0].text, '\n'));
    fg_history_free(&h);
    free(text);
}

/* A hand-written document may leave out nullable members and empty lists. */
static const char *minimal_doc =
    "{\"patient\":{\"id\":\"p\",\"given\":\"A\",\"family\":\"B\",\"sex\":\"male\","
    "\"birth_date\":\"2001-02-03\"},"
    "\"encounters\":[{\"id\":\"e1\",\"class\":\"VR\",\"type\":{\"system\":\"http://snomed.info/sct\","
    "\"code\":null,\"display\":\"Telehealth consultation\"},\"start\":\"2022-01-01T10:00:00Z\","
    "\"end\":\"2022-01-01T10:15:00Z\"}],"
    "\"observations\":[{\"id\":\"o1\",\"encounter\":\"e1\",\"category\":\"vital-signs\","
    "\"term\":{\"system\":\"http://loinc.org\",\"code\":null,\"display\":\"Body temperature\"},"
    "\"time\":\"2022-01-01T10:05:00Z\",\"value_kind\":\"quantity\",\"value\":37.25,\"unit\":\"Cel\"}]}";

static void test_missing_nullable_members(void **state)
{
    (void)state;
    fg_history h;
    fg_history_init(&h);
    fg_error err;
    if (parse_text(&h, minimal_doc, &err) != FG_OK)
        fail_msg("%s: %s", err.where, err.text);
    assert_null(h.patient.middle);
    assert_null(h.patient.address.city);
    assert_true(h.patient.death == FG_TIME_NONE);
    assert_int_equal(h.encounters.n, 1);
    assert_null(h.encounters.v[0].organization);
    assert_null(h.encounters.v[0].type.code);
    assert_int_equal(h.observations.v[0].decimals, 2); /* inferred from 37.25 */
    assert_int_equal(h.conditions.n, 0);
    fg_buf out;
    fg_buf_init(&out);
    assert_int_equal(fg_history_write(&h, &out), FG_OK);
    assert_non_null(strstr(out.data, "\"value\":37.25,\"unit\":\"Cel\",\"decimals\":2"));
    assert_non_null(strstr(out.data, "\"middle\":null"));
    assert_non_null(strstr(out.data, "\"address\":null"));
    assert_non_null(strstr(out.data, "\"conditions\":[]"));
    fg_buf_free(&out);
    fg_history_free(&h);
}

/* What the engine builds in C is written consistently: members that do not
 * apply to the value kind are null, an empty reason is null. */
static void test_write_from_c(void **state)
{
    (void)state;
    fg_history h;
    fg_history_init(&h);
    h.patient.id = "p";
    h.patient.given = "A";
    h.patient.family = "B";
    h.patient.sex = FG_SEX_MALE;
    h.patient.birth_date = fg_time_make(1950, 1, 1, 0, 0, 0);
    h.patient.death = fg_time_make(2020, 1, 1, 0, 0, 0);
    h.patient.ssn = "999-00-0001";
    h.death_cause = (fg_term){FG_SYS_SNOMED, "22298006", "Myocardial Infarction"};
    fg_encounter *e = FG_PUSH(&h, encounters);
    e->id = "e";
    e->cls = FG_CLASS_EMER;
    e->type = (fg_term){FG_SYS_SNOMED, NULL, "Emergency visit"};
    e->reason.system = FG_SYS_SNOMED; /* system only: still no reason */
    e->start = fg_time_make(2019, 12, 31, 22, 0, 0);
    e->end = fg_time_make(2019, 12, 31, 23, 59, 59);
    fg_observation *o = FG_PUSH(&h, observations);
    o->id = "o";
    o->encounter = "e";
    o->term = (fg_term){FG_SYS_LOINC, "85354-9", "Blood pressure panel with all children optional"};
    o->time = e->start;
    o->kind = FG_VALUE_NONE;
    o->unit = "mm[Hg]";
    o->decimals = 0;
    fg_component comps[2] = {{{FG_SYS_LOINC, "8480-6", "Systolic Blood Pressure"}, 181.4, "mm[Hg]"},
                             {{FG_SYS_LOINC, "8462-4", "Diastolic Blood Pressure"}, 99.6, "mm[Hg]"}};
    o->components = comps;
    o->n_components = 2;
    fg_buf out;
    fg_buf_init(&out);
    assert_int_equal(fg_history_write(&h, &out), FG_OK);
    assert_non_null(strstr(out.data, "\"reason\":null"));
    assert_non_null(strstr(out.data, "\"value\":null,\"unit\":null,\"decimals\":0"));
    assert_non_null(strstr(out.data, "\"value\":181,\"unit\""));
    assert_non_null(strstr(out.data, "\"value\":100,\"unit\""));
    assert_non_null(strstr(out.data, "\"death\":\"2020-01-01T00:00:00Z\""));
    json_t *schema = load_schema();
    assert_conforms(schema, out.data, "engine-like history");
    json_decref(schema);
    fg_history back;
    fg_history_init(&back);
    fg_error err;
    if (fg_history_parse(&back, out.data, out.len, "written", &err) != FG_OK)
        fail_msg("%s: %s", err.where, err.text);
    assert_string_equal(back.death_cause.code, "22298006");
    assert_true(back.observations.v[0].components[1].value == 100);
    fg_history_free(&back);
    fg_buf_free(&out);
    h.encounters.v = NULL; /* arena-owned; nothing else to free */
    fg_history_free(&h);
}

static char *complete_with(const char *from, const char *to)
{
    char *text = slurp(HISTORY_DIR "/valid/complete.json", NULL);
    char *at = strstr(text, from);
    assert_non_null(at);
    size_t n = strlen(text), fl = strlen(from), tl = strlen(to);
    char *r = malloc(n - fl + tl + 1);
    memcpy(r, text, (size_t)(at - text));
    memcpy(r + (at - text), to, tl);
    memcpy(r + (at - text) + tl, at + fl, n - (size_t)(at - text) - fl + 1);
    free(text);
    return r;
}

static void test_limits(void **state)
{
    (void)state;
    fg_history h;
    fg_history_init(&h);
    fg_error err;
    /* Size: refused before a byte is read. */
    char small[] = "{}";
    assert_int_equal(fg_history_parse(&h, small, (size_t)FG_MAX_HISTORY_BYTES + 1, "big", &err),
                     FG_ELIMIT);
    assert_string_equal(err.where, "big");

    /* A string longer than FG_MAX_STRING_BYTES. */
    size_t big = FG_MAX_STRING_BYTES + 10;
    char *name = malloc(big + 3);
    name[0] = '"';
    memset(name + 1, 'a', big);
    strcpy(name + 1 + big, "\"");
    char *doc = complete_with("\"Lucia\"", name);
    free(name);
    assert_int_equal(parse_text(&h, doc, &err), FG_ELIMIT);
    assert_string_equal(err.where, "patient.middle");
    free(doc);

    /* A list longer than FG_MAX_HISTORY_EVENTS. */
    size_t n = (size_t)FG_MAX_HISTORY_EVENTS + 1;
    fg_buf ids;
    fg_buf_init(&ids);
    fg_buf_puts(&ids, "[");
    for (size_t i = 0; i < n; i++)
        fg_buf_puts(&ids, i ? ",\"c1\"" : "\"c1\"");
    fg_buf_puts(&ids, "]");
    fg_buf repl;
    fg_buf_init(&repl);
    fg_buf_printf(&repl, "\"addresses\": %s", ids.data);
    doc = complete_with("\"addresses\": [\"c1\"]", repl.data);
    assert_int_equal(parse_text(&h, doc, &err), FG_ELIMIT);
    assert_string_equal(err.where, "careplans[0].addresses");
    free(doc);
    fg_buf_free(&ids);
    fg_buf_free(&repl);

    /* Depth: a line number for the first bracket too deep. */
    fg_buf deep;
    fg_buf_init(&deep);
    fg_buf_puts(&deep, "{\n\"patient\":");
    for (int i = 0; i < FG_MAX_JSON_DEPTH + 1; i++)
        fg_buf_putc(&deep, '[');
    assert_int_equal(parse_text(&h, deep.data, &err), FG_ELIMIT);
    assert_int_equal(err.line, 2);
    fg_buf_free(&deep);

    /* NULL input is a usage error, not a crash. */
    assert_int_equal(fg_history_parse(&h, NULL, 0, NULL, &err), FG_EUSAGE);
    fg_history_free(&h);
}

/* ---- allocation failure -------------------------------------------------------------------- */

static long alloc_count, alloc_fail_at, alloc_live;

static void *failing_malloc(size_t n)
{
    if (++alloc_count == alloc_fail_at)
        return NULL;
    void *p = malloc(n);
    if (p)
        alloc_live++;
    return p;
}

static void counting_free(void *p)
{
    if (p)
        alloc_live--;
    free(p);
}

static void test_allocation_failure(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp(HISTORY_DIR "/valid/complete.json", &len);
    fg_history h;
    fg_history_init(&h);
    json_set_alloc_funcs(failing_malloc, counting_free);
    long failures = 0, garbled = 0, silent = 0;
    for (alloc_fail_at = 1;; alloc_fail_at++) {
        alloc_count = 0;
        alloc_live = 0;
        fg_error err;
        int rc = fg_history_parse(&h, text, len, "complete.json", &err);
        assert_int_equal(alloc_live, 0); /* every jansson allocation released */
        if (alloc_count < alloc_fail_at) {
            assert_int_equal(rc, FG_OK); /* no failure was injected: done */
            break;
        }
        if (rc == FG_OK) {
            silent++;
            continue;
        }
        if (rc == FG_ENOMEM)
            failures++;
        else if (rc == FG_EINVALID)
            garbled++;
        else
            fail_msg("allocation %ld failing gave %d (%s: %s)", alloc_fail_at, rc, err.where,
                     err.text);
        assert_int_equal(h.encounters.n, 0);
    }
    json_set_alloc_funcs(malloc, free);
    print_message("allocation failures: %ld out of memory, %ld garbled, %ld unnoticed\n", failures, garbled, silent);
    assert_true(failures > 100);
    fg_history_free(&h);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_round_trip),
        cmocka_unit_test(test_invalid_cases),
        cmocka_unit_test(test_schema_is_strict),
        cmocka_unit_test(test_complete_has_everything),
        cmocka_unit_test(test_missing_nullable_members),
        cmocka_unit_test(test_write_from_c),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
