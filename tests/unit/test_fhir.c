/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the fhir/ layer: time, rng, ids, JSON writer and dumps, buffers, TSV reader,
 * hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fhir/base/fg_arena.h"
#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"
#include "fhir/base/fg_hash.h"
#include "generators/engine/fg_ids.h"
#include "fhir/json/fg_jw.h"
#include "fhir/base/fg_rng.h"
#include "fhir/base/fg_time.h"
#include "fhir/base/fg_tsv.h"

static void test_dates_round_trip(void **state)
{
    (void)state;
    char buf[21];
    fg_time t = fg_time_make(1955, 2, 28, 13, 5, 9);
    fg_format_datetime(t, buf);
    assert_string_equal(buf, "1955-02-28T13:05:09Z");
    fg_time back;
    assert_int_equal(fg_parse_datetime(buf, &back), 0);
    assert_true(back == t);
    fg_format_date(fg_time_make(2000, 2, 29, 0, 0, 0), buf);
    assert_string_equal(buf, "2000-02-29");
    assert_int_equal(fg_parse_datetime("2020-01-01T10:00:00+02:00", &back), 0);
    assert_true(back == fg_time_make(2020, 1, 1, 8, 0, 0));
}

/* US daylight saving time: the rules of each era, zones without it, the
 * wall-clock conversions both ways and the written offset. */
static void test_time_zones(void **state)
{
    (void)state;
    const fg_tz ny = {"America/New_York", -300, 1967}, az = {"America/Phoenix", -420, 0},
                in = {"America/Indiana/Indianapolis", -300, 2006};
    char s[FG_DATETIME_TZ_SIZE];
    /* 2024: 10 March 02:00 EST (07:00Z) to 3 November 02:00 EDT (06:00Z) */
    assert_int_equal(fg_tz_offset(&ny, fg_time_make(2024, 3, 10, 6, 59, 59)), -300);
    assert_int_equal(fg_tz_offset(&ny, fg_time_make(2024, 3, 10, 7, 0, 0)), -240);
    assert_int_equal(fg_tz_offset(&ny, fg_time_make(2024, 11, 3, 5, 59, 59)), -240);
    assert_int_equal(fg_tz_offset(&ny, fg_time_make(2024, 11, 3, 6, 0, 0)), -300);
    /* 2005: first Sunday of April (3rd) to last Sunday of October (30th) */
    assert_int_equal(fg_tz_offset(&ny, fg_time_make(2005, 4, 3, 6, 59, 0)), -300);
    assert_int_equal(fg_tz_offset(&ny, fg_time_make(2005, 4, 3, 7, 0, 0)), -240);
    assert_int_equal(fg_tz_offset(&ny, fg_time_make(2005, 10, 30, 5, 59, 0)), -240);
    assert_int_equal(fg_tz_offset(&ny, fg_time_make(2005, 10, 30, 6, 0, 0)), -300);
    assert_int_equal(fg_tz_offset(&ny, fg_time_make(1960, 7, 1, 12, 0, 0)), -300);
    assert_int_equal(fg_tz_offset(&az, fg_time_make(2024, 7, 1, 12, 0, 0)), -420);
    assert_int_equal(fg_tz_offset(&in, fg_time_make(2005, 7, 1, 12, 0, 0)), -300);
    assert_int_equal(fg_tz_offset(&in, fg_time_make(2006, 7, 1, 12, 0, 0)), -240);
    assert_int_equal(fg_tz_offset(NULL, fg_time_make(2024, 7, 1, 12, 0, 0)), 0);
    /* wall clock to instant and back */
    fg_time t = fg_tz_from_local(&ny, fg_time_make(2024, 3, 5, 9, 30, 0));
    assert_true(t == fg_time_make(2024, 3, 5, 14, 30, 0));
    assert_true(fg_tz_to_local(&ny, t) == fg_time_make(2024, 3, 5, 9, 30, 0));
    t = fg_tz_from_local(&ny, fg_time_make(2024, 7, 5, 9, 30, 0));
    assert_true(t == fg_time_make(2024, 7, 5, 13, 30, 0));
    assert_int_equal(fg_format_datetime_tz(t, &ny, s), 25);
    assert_string_equal(s, "2024-07-05T09:30:00-04:00");
    fg_time back;
    assert_int_equal(fg_parse_datetime(s, &back), 0);
    assert_true(back == t);
    fg_format_datetime_tz(t, NULL, s);
    assert_string_equal(s, "2024-07-05T13:30:00Z");
    /* the memo agrees with the direct computation, hour by hour over three years */
    fg_tz_memo memo = {.tz = &ny};
    for (fg_time h = fg_time_make(2005, 1, 1, 0, 0, 0); h < fg_time_make(2008, 1, 1, 0, 0, 0); h += 3600)
        assert_int_equal(fg_tz_memo_offset(&memo, h), fg_tz_offset(&ny, h));
    int m;
    assert_int_equal(fg_parse_utc_offset("-05:00", &m), 0);
    assert_int_equal(m, -300);
    assert_int_equal(fg_parse_utc_offset("+5:00", &m), -1);
    char o[7];
    fg_format_utc_offset(-600, o);
    assert_string_equal(o, "-10:00");
}

static void test_dates_rejected(void **state)
{
    (void)state;
    fg_time t;
    const char *bad[] = {"2021-02-29", "2020-13-01", "2020-1-01", "20200101", "2020-01-01T25:00:00Z",
                         "2020-01-01T10:00:00", "", "2020-01-01T10:00:00Zjunk", "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fg_parse_datetime(bad[i], &t), -1);
}

static void test_age(void **state)
{
    (void)state;
    fg_time birth = fg_time_make(1980, 6, 15, 0, 0, 0);
    assert_int_equal(fg_age_at(birth, fg_time_make(2020, 6, 14, 23, 0, 0)), 39);
    assert_int_equal(fg_age_at(birth, fg_time_make(2020, 6, 15, 0, 0, 0)), 40);
    assert_true(fg_add_years(fg_time_make(2020, 2, 29, 0, 0, 0), 1) ==
                fg_time_make(2021, 2, 28, 0, 0, 0));
}

static void test_rng_deterministic(void **state)
{
    (void)state;
    fg_rng a, b;
    fg_rng_patient(&a, 42, 7);
    fg_rng_patient(&b, 42, 7);
    for (int i = 0; i < 100; i++)
        assert_true(fg_rng_u64(&a) == fg_rng_u64(&b));
    fg_rng_patient(&b, 42, 8);
    assert_true(fg_rng_u64(&a) != fg_rng_u64(&b));
    char u1[37], u2[37];
    fg_rng_patient(&a, 1, 1);
    fg_rng_uuid(&a, u1);
    assert_int_equal(strlen(u1), 36);
    assert_int_equal(u1[14], '4');
    fg_rng_uuid(&a, u2);
    assert_string_not_equal(u1, u2);
    double sum = 0;
    for (int i = 0; i < 10000; i++)
        sum += fg_rng_normal(&a, 10, 2);
    assert_true(sum / 10000 > 9.9 && sum / 10000 < 10.1);
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(fg_npi_valid("1234567893")); /* the NPI standard's worked example */
    assert_false(fg_npi_valid("1234567890"));
    char npi[11], ssn[12];
    for (uint64_t v = 0; v < 1000; v++) {
        fg_npi_format(v * 7919, npi);
        assert_true(fg_npi_valid(npi));
        fg_ssn_format(v * 104729, ssn);
        assert_memory_equal(ssn, "999-", 4);
        assert_int_equal(strlen(ssn), 11);
    }
}

static void test_json_writer(void **state)
{
    (void)state;
    fg_buf b;
    fg_buf_init(&b);
    fg_jw w;
    fg_jw_init(&w, &b);
    fg_jw_obj(&w);
    fg_jw_kv_str(&w, "a", "x\"y\n");
    fg_jw_kv_arr(&w, "l");
    fg_jw_int(&w, -3);
    fg_jw_dec(&w, 1.25, 1);
    fg_jw_dec(&w, -0.04, 1);
    fg_jw_obj(&w);
    fg_jw_obj_end(&w);
    fg_jw_arr_end(&w);
    fg_jw_kv_bool(&w, "t", 1);
    fg_jw_key(&w, "d");
    fg_jw_base64(&w, "hello", 5);
    fg_jw_obj_end(&w);
    assert_false(b.failed);
    assert_string_equal(b.data, "{\"a\":\"x\\\"y\\n\",\"l\":[-3,1.3,0.0,{}],\"t\":true,\"d\":\"aGVsbG8=\"}");
    fg_buf_free(&b);
}

/* fg_json_dumps writes what json_dumps does, flag for flag. */
static void test_json_dumps(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:s,s:[i,f,b,n],s:{s:s},s:s}", "z", "\u00e9\"", "a", 3, 1.5, 1, "o",
                          "k", "v", "m", "x");
    assert_non_null(j);
    const size_t flags[] = {0, JSON_COMPACT, JSON_COMPACT | JSON_SORT_KEYS, JSON_INDENT(2),
                            JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char *want = json_dumps(j, flags[i]);
        size_t len = 0;
        char *got = fg_json_dumps(j, flags[i], &len);
        assert_non_null(got);
        assert_string_equal(got, want);
        assert_int_equal(len, strlen(want));
        free(want);
        free(got);
    }
    json_t *s = json_string("only");
    assert_null(fg_json_dumps(s, JSON_COMPACT, NULL)); /* not an object or array */
    char *any = fg_json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY, NULL);
    assert_string_equal(any, "\"only\"");
    free(any);
    json_decref(s);
    json_decref(j);
}

static void test_arena(void **state)
{
    (void)state;
    /* the same with large chunks mapped for huge pages */
    for (int huge = 0; huge < 2; huge++) {
        fg_arena a;
        if (huge)
            fg_arena_init_huge(&a);
        else
            fg_arena_init(&a);
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 10000; i++) {
                char *s = fg_arena_printf(&a, "item-%d", i);
                assert_non_null(s);
            }
            size_t n = (size_t)(1 + 2 * huge) << 20;
            char *big = fg_arena_alloc(&a, n);
            assert_non_null(big);
            memset(big, 1, n);
            if (round == 1)
                fg_arena_trim(&a, 0);
            else
                fg_arena_reset(&a);
        }
        fg_arena_free(&a);
    }
}

/* Write text to a new temporary file; its name into path. */
static void write_temp(char *path, size_t size, const char *text)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, size, "%s/fg_tsv_XXXXXX", dir && *dir ? dir : P_tmpdir);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static void test_tsv_read(void **state)
{
    (void)state;
    char path[4096];
    fg_tsv *t = NULL;
    fg_error err;
    size_t ck, cv;
    double d = 0;
    write_temp(path, sizeof(path),
               "# source: a test\n\nkey\tvalue\tnote\r\n# a comment between rows\n"
               "a\t1.5\t\nb\tx\tlast line without a newline");
    assert_int_equal(fg_tsv_load(path, &t, &err), FG_OK);
    assert_int_equal(fg_tsv_rows(t), 2);
    assert_int_equal(fg_tsv_cols(t), 3);
    assert_int_equal(fg_tsv_col(t, "value", &cv, &err), FG_OK);
    assert_int_equal(cv, 1);
    assert_int_equal(fg_tsv_col(t, "key", &ck, &err), FG_OK);
    assert_string_equal(fg_tsv_cell(t, 0, ck), "a");
    assert_string_equal(fg_tsv_cell(t, 0, 2), "");
    assert_string_equal(fg_tsv_cell(t, 1, 2), "last line without a newline");
    assert_null(fg_tsv_cell(t, 2, 0));
    assert_int_equal(fg_tsv_line(t, 0), 5);
    assert_int_equal(fg_tsv_line(t, 1), 6);
    assert_int_equal(fg_tsv_double(t, 0, cv, &d, &err), FG_OK);
    assert_true(d == 1.5);
    assert_int_equal(fg_tsv_double(t, 1, cv, &d, &err), FG_EINVALID);
    assert_int_equal(err.line, 6);
    assert_true(d == 1.5);
    assert_int_equal(fg_tsv_col(t, "unit", &cv, &err), FG_EINVALID);
    assert_string_equal(err.where, path);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.text, "'unit'"));
    fg_tsv_free(t);
    unlink(path);
}

static void test_tsv_malformed(void **state)
{
    (void)state;
    char path[4096];
    fg_tsv *t = NULL;
    fg_error err;
    write_temp(path, sizeof(path), "# comment\na\tb\n1\t2\n# another\n1\t2\t3\n");
    assert_int_equal(fg_tsv_load(path, &t, &err), FG_EINVALID);
    assert_null(t);
    assert_string_equal(err.where, path);
    assert_int_equal(err.line, 5);
    assert_non_null(strstr(err.text, "line 5: 3 cells where the header has 2"));
    unlink(path);

    write_temp(path, sizeof(path), "# only a comment\n\n");
    assert_int_equal(fg_tsv_load(path, &t, &err), FG_EINVALID);
    assert_string_equal(err.where, path);
    unlink(path);

    assert_int_equal(fg_tsv_load(path, &t, &err), FG_ENOTFOUND);
    assert_null(t);
}

static void test_hash(void **state)
{
    (void)state;
    /* FNV-1a's published vectors */
    assert_true(fg_fnv1a_str(FG_FNV_OFFSET_BASIS, "") == 0xcbf29ce484222325ULL);
    assert_true(fg_fnv1a_str(FG_FNV_OFFSET_BASIS, "a") == 0xaf63dc4c8601ec8cULL);
    assert_true(fg_fnv1a_str(FG_FNV_OFFSET_BASIS, "foobar") == 0x85944171f73967e8ULL);
    assert_true(fg_fnv1a(fg_fnv1a(FG_FNV_OFFSET_BASIS, "foo", 3), "bar", 3)
                == 0x85944171f73967e8ULL);
    /* fhirgen's seed picks random streams and orders: its values never change */
    assert_true(fg_fnv1a_str(FG_FNV_SEED, "foobar") == 0x88fad7c0a8ff07f2ULL);
    assert_true(fg_fnv1a(FG_FNV_SEED, "foobar", 6) == 0x88fad7c0a8ff07f2ULL);

    static char keys[2000][16];
    fg_strmap m = {0};
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        assert_int_equal(fg_strmap_add(&m, keys[i], &keys[i]), FG_OK);
    }
    assert_int_equal(m.n, 2000);
    assert_int_equal(fg_strmap_add(&m, "k7", NULL), 1);
    assert_ptr_equal(fg_strmap_get(&m, "k7"), &keys[7]);
    assert_int_equal(fg_strmap_put(&m, "k7", &keys[8]), FG_OK);
    assert_ptr_equal(fg_strmap_get(&m, "k7"), &keys[8]);
    assert_null(fg_strmap_get(&m, "k2000"));
    assert_null(fg_strmap_get(&m, NULL));
    assert_int_equal(fg_strmap_reset(&m, 4), FG_OK);
    assert_int_equal(m.n, 0);
    assert_null(fg_strmap_get(&m, "k1"));
    fg_strmap_free(&m);
    assert_null(fg_strmap_get(&m, "k1"));

    fg_hashset s = {0};
    for (uint64_t i = 0; i < 5000; i++)
        assert_int_equal(fg_hashset_add(&s, i * 0x9e3779b97f4a7c15ULL), 1);
    assert_int_equal(fg_hashset_add(&s, 0), 0); /* 0 was added first */
    assert_int_equal(fg_hashset_add(&s, 1), 0); /* and is stored as 1 */
    assert_int_equal(fg_hashset_add(&s, 3 * 0x9e3779b97f4a7c15ULL), 0);
    assert_int_equal(s.n, 5000);
    fg_hashset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates_round_trip), cmocka_unit_test(test_time_zones),
        cmocka_unit_test(test_dates_rejected),
        cmocka_unit_test(test_age),              cmocka_unit_test(test_rng_deterministic),
        cmocka_unit_test(test_ids),              cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_arena),            cmocka_unit_test(test_tsv_read),
        cmocka_unit_test(test_tsv_malformed),    cmocka_unit_test(test_json_dumps),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests_name("fhir", tests, NULL, NULL);
}
