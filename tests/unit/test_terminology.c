/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Terminology tables: loading and lookups, the check digits (agreeing with
 * the `check` column of the shared reference list on every row), and a walk
 * of every code the data folder can make the engine emit.
 */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fhir/base/fg_data.h"
#include "fhir/term/fg_term.h"
#include "generators/history/fg_history.h"

#define SHARED_TERMS "../shared/terminology"

static fg_terminology *terms;

static int setup(void **state)
{
    (void)state;
    char dir[4096];
    fg_error err;
    fg_error_clear(&err);
    fg_data_path("terminology", dir, sizeof(dir));
    if (fg_terminology_load(dir, &terms, &err) != FG_OK) {
        fprintf(stderr, "%s: %s\n", err.where, err.text);
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

/* Call fn(fields, n, ctx) for each row of a TSV file after its header;
 * header names are passed once with row -1. */
typedef void (*row_fn)(char **f, size_t n, int row, void *ctx);
static int each_row(const char *path, row_fn fn, void *ctx)
{
    char *text = NULL;
    size_t len;
    if (fg_read_file(path, 256u << 20, &text, &len, NULL) != FG_OK)
        return -1;
    int row = -1;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *f[32];
        size_t n = 0;
        char *p = line;
        while (n < 32) {
            f[n++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = 0;
            p = tab + 1;
        }
        fn(f, n, row++, ctx);
    }
    free(text);
    return 0;
}

static void test_lookups(void **state)
{
    (void)state;
    assert_true(fg_terminology_count(terms) > 100);
    const fg_code_entry *e = fg_terminology_find(terms, FG_SYS_SNOMED, "59621000");
    assert_non_null(e);
    assert_string_equal(e->display, "Essential hypertension (disorder)");
    const fg_code_entry *d =
        fg_terminology_lookup_display(terms, FG_SYS_SNOMED, "ESSENTIAL HYPERTENSION (disorder)");
    assert_ptr_equal(d, e);
    assert_null(fg_terminology_find(terms, FG_SYS_SNOMED, "0"));
    assert_null(fg_terminology_find(terms, FG_SYS_LOINC, "59621000"));
    const fg_code_entry *a1c = fg_terminology_find(terms, FG_SYS_LOINC, "4548-4");
    assert_non_null(a1c);
    assert_non_null(a1c->unit);
    assert_string_equal(a1c->unit, "%");
}

static void test_check_digits(void **state)
{
    (void)state;
    assert_true(fg_snomed_valid("59621000"));
    assert_false(fg_snomed_valid("59621001"));      /* check digit */
    assert_false(fg_snomed_valid("59621020"));      /* partition 02 is a description id */
    assert_true(fg_snomed_valid("124171000119105")); /* namespace concept, partition 10 */
    assert_false(fg_snomed_valid("012345"));
    assert_false(fg_snomed_valid("12a45"));
    assert_true(fg_loinc_valid("4548-4"));
    assert_false(fg_loinc_valid("4548-5"));
    assert_false(fg_loinc_valid("X9999-0"));
    assert_false(fg_loinc_valid("4548"));
    assert_true(fg_loinc_valid("LA28409-8"));
}

typedef struct shared_ctx {
    int c_sys, c_code, c_check;
    long ok, not_real_passing, checked;
    char first_bad[160];
} shared_ctx;

static void shared_row(char **f, size_t n, int row, void *vctx)
{
    shared_ctx *c = vctx;
    if (row < 0) {
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(f[i], "system_uri"))
                c->c_sys = (int)i;
            if (!strcmp(f[i], "code"))
                c->c_code = (int)i;
            if (!strcmp(f[i], "check"))
                c->c_check = (int)i;
        }
        return;
    }
    if ((size_t)c->c_check >= n || (size_t)c->c_code >= n)
        return;
    const char *sys = f[c->c_sys], *code = f[c->c_code], *check = f[c->c_check];
    int is_snomed = !strcmp(sys, FG_SYS_SNOMED), is_loinc = !strcmp(sys, FG_SYS_LOINC);
    if (!is_snomed && !is_loinc)
        return;
    int valid = is_snomed ? fg_snomed_valid(code) : fg_loinc_valid(code);
    c->checked++;
    if (!strcmp(check, "NOT-REAL")) {
        c->not_real_passing += valid;
        return;
    }
    /* ok: a valid check digit; format (LOINC answer codes): the shape only */
    if (!valid && !c->first_bad[0])
        snprintf(c->first_bad, sizeof(c->first_bad), "%s|%s (check=%s)", sys, code, check);
    c->ok += valid;
}

static void test_check_digits_agree_with_shared_list(void **state)
{
    (void)state;
    struct stat st;
    if (stat(SHARED_TERMS "/synthea-codes.tsv", &st) != 0) {
        print_message("skipped: ../shared/terminology is absent\n");
        skip();
    }
    shared_ctx c = {.c_sys = -1, .c_code = -1, .c_check = -1};
    assert_int_equal(each_row(SHARED_TERMS "/synthea-codes.tsv", shared_row, &c), 0);
    if (c.first_bad[0])
        fail_msg("a code the shared list marks valid fails here: %s", c.first_bad);
    /* 99999-5 passes the LOINC check digit by chance (the shared README) */
    assert_true(c.not_real_passing <= 1);
    assert_true(c.checked > 1500);
    print_message("%ld SNOMED CT and LOINC rows agree with the check column\n", c.ok);
}

typedef struct ban_ctx {
    int c_sys, c_code, c_check;
    char bad[160];
} ban_ctx;

static void ban_row(char **f, size_t n, int row, void *vctx)
{
    ban_ctx *c = vctx;
    if (row < 0) {
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(f[i], "system_uri"))
                c->c_sys = (int)i;
            if (!strcmp(f[i], "code"))
                c->c_code = (int)i;
            if (!strcmp(f[i], "check"))
                c->c_check = (int)i;
        }
        return;
    }
    if ((size_t)c->c_check < n && !strcmp(f[c->c_check], "NOT-REAL") &&
        fg_terminology_find(terms, f[c->c_sys], f[c->c_code]) && !c->bad[0])
        snprintf(c->bad, sizeof(c->bad), "%s|%s", f[c->c_sys], f[c->c_code]);
}

static void test_every_code_well_formed(void **state)
{
    (void)state;
    for (size_t i = 0; i < fg_terminology_count(terms); i++) {
        const fg_code_entry *e = fg_terminology_at(terms, i);
        if (!strcmp(e->system, FG_SYS_SNOMED) && !fg_snomed_valid(e->code))
            fail_msg("SNOMED CT %s (%s) fails the Verhoeff/partition check", e->code, e->display);
        if (!strcmp(e->system, FG_SYS_LOINC) && !fg_loinc_valid(e->code))
            fail_msg("LOINC %s (%s) fails its check digit", e->code, e->display);
    }
    struct stat st;
    if (stat(SHARED_TERMS "/synthea-codes.tsv", &st) != 0) {
        print_message("NOT-REAL check skipped: ../shared/terminology is absent\n");
        return;
    }
    ban_ctx c = {.c_sys = -1, .c_code = -1, .c_check = -1};
    assert_int_equal(each_row(SHARED_TERMS "/synthea-codes.tsv", ban_row, &c), 0);
    if (c.bad[0])
        fail_msg("a placeholder code flagged NOT-REAL is in the terminology: %s", c.bad);
}

/* ---- every code the data can emit ---- */

typedef struct walk {
    long seen, n_bad;
    char bad[512];
} walk;

static void check_term(walk *w, const char *where, const char *sys, const char *code,
                       const char *display)
{
    w->seen++;
    const fg_code_entry *e = fg_terminology_find(terms, sys, code);
    char msg[512] = "";
    if (!e)
        snprintf(msg, sizeof(msg), "%s: %s|%s is not in data/terminology", where, sys, code);
    else if (display && *display && strcasecmp(e->display, display) != 0)
        snprintf(msg, sizeof(msg), "%s: %s|%s display \"%s\" differs from \"%s\"", where, sys,
                 code, display, e->display);
    if (!msg[0])
        return;
    if (w->n_bad++ < 20)
        print_message("data/%s\n", msg);
    if (!w->bad[0])
        snprintf(w->bad, sizeof(w->bad), "%s", msg);
}

static void walk_json(walk *w, const char *where, json_t *v)
{
    if (json_is_object(v)) {
        const char *sys = json_string_value(json_object_get(v, "system"));
        json_t *code = json_object_get(v, "code");
        if (sys && json_is_string(code))
            check_term(w, where, sys, json_string_value(code),
                       json_string_value(json_object_get(v, "display")));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) walk_json(w, where, x);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) walk_json(w, where, x);
    }
}

typedef struct tsv_ctx {
    walk *w;
    const char *where;
    int c_sys, c_code, c_disp;
} tsv_ctx;

static void tsv_row(char **f, size_t n, int row, void *vctx)
{
    tsv_ctx *c = vctx;
    if (row < 0) {
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(f[i], "system_uri"))
                c->c_sys = (int)i;
            if (!strcmp(f[i], "code"))
                c->c_code = (int)i;
            if (!strcmp(f[i], "display"))
                c->c_disp = (int)i;
        }
        return;
    }
    if (c->c_sys < 0 || c->c_code < 0 || (size_t)c->c_sys >= n || (size_t)c->c_code >= n)
        return;
    if (!*f[c->c_sys] || !*f[c->c_code])
        return;
    check_term(c->w, c->where, f[c->c_sys], f[c->c_code],
               c->c_disp >= 0 && (size_t)c->c_disp < n ? f[c->c_disp] : NULL);
}

static void walk_dir(walk *w, const char *dir, const char *rel)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096], r[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        size_t l = strlen(de->d_name);
        if (S_ISDIR(st.st_mode)) {
            /* the tables themselves, and the validator's R4 core definitions
             * (codes profiles require, which fhirgen never writes) */
            if (strcmp(r, "terminology") != 0 && strcmp(r, "r4core") != 0)
                walk_dir(w, path, r);
        } else if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) {
            json_error_t je;
            json_t *doc = json_load_file(path, 0, &je);
            if (!doc)
                fail_msg("data/%s: line %d: %s", r, je.line, je.text);
            walk_json(w, r, doc);
            json_decref(doc);
        } else if (l > 4 && !strcmp(de->d_name + l - 4, ".tsv")) {
            tsv_ctx c = {w, r, -1, -1, -1};
            each_row(path, tsv_row, &c);
        }
    }
    closedir(d);
}

static void test_every_emitted_code_is_in_the_terminology(void **state)
{
    (void)state;
    walk w = {0};
    walk_dir(&w, fg_data_dir(), "");
    if (w.n_bad)
        fail_msg("%ld coded terms of data/ are not grounded, e.g. data/%s", w.n_bad, w.bad);
    assert_true(w.seen > 100);
    print_message("%ld coded terms in data/ all found in data/terminology\n", w.seen);
}

/* ---- every terminology row comes from a published list ---- */

typedef struct pub_ctx {
    char **keys;
    size_t n, cap;
    int c_sys, c_code;
} pub_ctx;

static void pub_row(char **f, size_t n, int row, void *vctx)
{
    pub_ctx *c = vctx;
    if (row < 0) {
        c->c_sys = c->c_code = -1;
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(f[i], "system_uri"))
                c->c_sys = (int)i;
            if (!strcmp(f[i], "code"))
                c->c_code = (int)i;
        }
        return;
    }
    if (c->c_sys < 0 || (size_t)c->c_code >= n)
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        c->keys = realloc(c->keys, c->cap * sizeof(*c->keys));
        assert_non_null(c->keys);
    }
    size_t len = strlen(f[c->c_sys]) + strlen(f[c->c_code]) + 2;
    char *k = malloc(len);
    assert_non_null(k);
    snprintf(k, len, "%s|%s", f[c->c_sys], f[c->c_code]);
    c->keys[c->n++] = k;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_terminology_rows_are_published(void **state)
{
    (void)state;
    struct stat st;
    if (stat(SHARED_TERMS "/synthea-codes.tsv", &st) != 0) {
        print_message("skipped: ../shared/terminology is absent\n");
        skip();
    }
    pub_ctx c = {0};
    assert_int_equal(each_row(SHARED_TERMS "/synthea-codes.tsv", pub_row, &c), 0);
    assert_int_equal(each_row(SHARED_TERMS "/fhir-package-codes.tsv", pub_row, &c), 0);
    /* the second set of shared lists (VSAC value sets, CDC CVX, US Core examples) */
    static const char *more[] = {"screening-loinc.tsv", "procedures-devices.tsv",
                                 "conditions-snomed-icd10.tsv", "vaccines-cvx.tsv",
                                 "drugs-rxnorm.tsv", "encounters-admissions.tsv"};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", SHARED_TERMS, more[i]);
        if (stat(path, &st) == 0)
            assert_int_equal(each_row(path, pub_row, &c), 0);
    }
    qsort(c.keys, c.n, sizeof(*c.keys), cmp_key);
    char missing[1024] = "";
    size_t n_missing = 0;
    for (size_t i = 0; i < fg_terminology_count(terms); i++) {
        const fg_code_entry *e = fg_terminology_at(terms, i);
        if (strcmp(e->system, FG_SYS_SNOMED) && strcmp(e->system, FG_SYS_LOINC) &&
            strcmp(e->system, FG_SYS_RXNORM) && strcmp(e->system, FG_SYS_CVX))
            continue; /* FHIR code systems (v3, v2, US Core) are checked by the profiles */
        char key[512];
        snprintf(key, sizeof(key), "%s|%s", e->system, e->code);
        const char *kp = key;
        if (!bsearch(&kp, c.keys, c.n, sizeof(*c.keys), cmp_key)) {
            if (!n_missing)
                snprintf(missing, sizeof(missing), "%s (%s)", key, e->display);
            n_missing++;
        }
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.keys[i]);
    free(c.keys);
    if (n_missing)
        fail_msg("%zu terminology rows are in neither shared list, e.g. %s", n_missing, missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_check_digits),
        cmocka_unit_test(test_check_digits_agree_with_shared_list),
        cmocka_unit_test(test_every_code_well_formed),
        cmocka_unit_test(test_every_emitted_code_is_in_the_terminology),
        cmocka_unit_test(test_terminology_rows_are_published),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
