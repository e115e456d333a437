/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_jr.c: the arena JSON reader (fhir/fg_jr.h) against jansson.
 *
 * fg_jr replaces jansson where fhirgen reads JSON, so jansson is the
 * reference: tables of valid texts must give values json_equal to what
 * json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) gives, and tables of
 * invalid texts must be refused with the expected line, column and message.
 * Then the accessors, fg_jv_equal, the bridges to and from jansson, the
 * foreach macros. test_jr_corpus.c sweeps real files through both parsers
 * and replays the fuzz corpus.
 *
 * Where fg_jr and jansson differ on purpose (a byte order mark, integers
 * past 64 bits, the exact depth limit, a NUL byte after a token), the
 * difference is tested here and explained in tests/fuzz/fuzz_jr.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_error.h"
#include "fhir/json/fg_jr.h"

#define JANSSON_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)
/* A text and its length, so that tables can hold NUL bytes. */
#define T(s) s, sizeof(s) - 1

typedef struct text {
    const char *s;
    size_t len;
} text;

/* fg_jr's value of s, failing the test when it is refused. */
static const fg_jv *parse(fg_arena *a, const char *s, size_t len)
{
    const fg_jv *v = NULL;
    fg_jr_error e;
    int rc = fg_jr_parse(a, s, len, &v, &e);
    if (rc != FG_OK)
        fail_msg("fg_jr refused %.*s: %d:%d %s", (int)len, s, e.line, e.column, e.text);
    assert_non_null(v);
    return v;
}

/* Both parsers accept s and give equal values. */
static void assert_as_jansson(const char *s, size_t len)
{
    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = parse(&a, s, len);
    json_error_t je;
    json_t *j = json_loadb(s, len, JANSSON_FLAGS, &je);
    if (!j)
        fail_msg("jansson refused %.*s: %s", (int)len, s, je.text);
    json_t *copy = fg_jv_to_json(v);
    if (!copy || !json_equal(copy, j))
        fail_msg("fg_jr and jansson differ on %.*s", (int)len, s);
    json_decref(copy);
    json_decref(j);
    fg_arena_free(&a);
}

/* fg_jr refuses s at line:column with a message containing `what`. */
static void assert_refused(const char *s, size_t len, int line, int column, const char *what)
{
    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = (const fg_jv *)&a; /* must be reset to NULL */
    fg_jr_error e;
    int rc = fg_jr_parse(&a, s, len, &v, &e);
    if (rc != FG_EINVALID)
        fail_msg("fg_jr accepted %.*s", (int)len, s);
    assert_null(v);
    if (e.line != line || e.column != column || !strstr(e.text, what))
        fail_msg("%.*s: got %d:%d \"%s\", expected %d:%d \"%s\"", (int)len, s, e.line, e.column,
                 e.text, line, column, what);
    json_t *msg = json_string(e.text); /* the message is valid UTF-8 */
    assert_non_null(msg);
    json_decref(msg);
    fg_arena_free(&a);
}

static void test_valid(void **state)
{
    (void)state;
    static const text cases[] = {
        /* numbers */
        {T("0")}, {T("-0")}, {T("1")}, {T("-1")}, {T("42")}, {T("1e5")}, {T("1E5")},
        {T("1E-5")}, {T("1e+5")}, {T("-0.0")}, {T("0.5")}, {T("3.14159")}, {T("-2.5e+10")},
        {T("1.0")}, {T("10.50")}, {T("0e0")}, {T("9223372036854775807")},
        {T("-9223372036854775808")}, {T("1e-400")}, {T("4.9e-324")},
        {T("1.7976931348623157e308")}, {T("[1,-1,0.25,2E2]")},
        /* strings and escapes */
        {T("\"\"")}, {T("\"plain\"")}, {T("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"")},
        {T("\"\\u0041\\u00e9\\u20AC\\uFFFF\\u0001\\u001f\"")}, {T("\"\\ud83d\\ude00\"")},
        {T("\"\\uD83D\\uDE00 and \\uDBFF\\uDFFF\"")}, {T("\"a\\u0062c\\n\"")},
        {T("\"\x7f\"")}, {T("\"\xC2\x80\"")}, {T("\"\xDF\xBF\"")}, {T("\"\xE0\xA0\x80\"")},
        {T("\"\xED\x9F\xBF\"")}, {T("\"\xEE\x80\x80\"")}, {T("\"\xEF\xBF\xBF\"")},
        {T("\"\xF0\x90\x80\x80\"")}, {T("\"\xF4\x8F\xBF\xBF\"")},
        {T("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"")},
        /* literals and containers */
        {T("null")}, {T("true")}, {T("false")}, {T("[]")}, {T("{}")}, {T("[[]]")},
        {T("[{}]")}, {T(" \t\r\n[ 1 , 2 ]\n ")}, {T("{\"a\":{\"b\":[1,{\"c\":null}]}}")},
        {T("{\"\":0}")}, {T("{\"a\":1,\"A\":2}")}, {T("{\"ab\":1,\"a\":2,\"b\":3,\"ba\":4}")},
        {T("[\"a\",\"a\",1,1]")}, {T("{\"\\u00e9\":1,\"e\":2}")},
        {T("{\"a\":[],\"b\":{},\"c\":\"\",\"d\":[[],[{}]]}")},
        {T("{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"Ann\"]}],\"active\":true}")},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        assert_as_jansson(cases[i].s, cases[i].len);
}

/* How fg_jr types numbers: integers while they fit in 64 bits. */
static void test_number_types(void **state)
{
    (void)state;
    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = parse(&a, T("[-0, 1e5, 1E-5, 1.0, -9223372036854775808, 0.1]"));
    assert_true(fg_jv_is_integer(fg_jv_at(v, 0)));
    assert_int_equal(fg_jv_integer(fg_jv_at(v, 0)), 0);
    assert_true(fg_jv_is_real(fg_jv_at(v, 1)));
    assert_true(fg_jv_number(fg_jv_at(v, 1)) == 1e5);
    assert_true(fg_jv_is_real(fg_jv_at(v, 2)));
    assert_true(fg_jv_number(fg_jv_at(v, 2)) == 1e-5);
    assert_true(fg_jv_is_real(fg_jv_at(v, 3)));
    assert_string_equal(fg_jv_number_text(fg_jv_at(v, 3)), "1.0"); /* the text as written */
    assert_int_equal(fg_jv_at(v, 3)->n, 3);
    assert_true(fg_jv_integer(fg_jv_at(v, 4)) == LLONG_MIN);
    assert_true(fg_jv_number(fg_jv_at(v, 5)) == 0.1);
    fg_arena_free(&a);
}

/* Integers past 64 bits are reals with their text kept; jansson refuses
 * them ("too big integer"), a documented difference. */
static void test_wide_integers(void **state)
{
    (void)state;
    static const char *wide[] = {"9223372036854775808", "-9223372036854775809",
                                 "18446744073709551616", "123456789012345678901234567890"};
    fg_arena a;
    fg_arena_init(&a);
    for (size_t i = 0; i < sizeof(wide) / sizeof(*wide); i++) {
        const fg_jv *v = parse(&a, wide[i], strlen(wide[i]));
        assert_true(fg_jv_is_real(v));
        assert_string_equal(fg_jv_number_text(v), wide[i]);
        assert_true(fg_jv_number(v) == strtod(wide[i], NULL));
        assert_int_equal(fg_jv_integer(v), 0);
        json_error_t je;
        json_t *j = json_loadb(wide[i], strlen(wide[i]), JANSSON_FLAGS, &je);
        assert_null(j);
        assert_non_null(strstr(je.text, "too big"));
    }
    /* 309 digits still fit in a double; 400 do not and are refused */
    char digits[401];
    memset(digits, '9', 400);
    digits[400] = '\0';
    const fg_jv *v = parse(&a, digits, 308);
    assert_true(fg_jv_is_real(v) && fg_jv_number(v) > 9.9e307);
    assert_refused(digits, 400, 1, 1, "out of range");
    fg_arena_free(&a);
}

typedef struct bad {
    const char *s;
    size_t len;
    int line, column;
    const char *what;
} bad;

static void test_invalid(void **state)
{
    (void)state;
    static const bad cases[] = {
        /* nothing, or more than one value */
        {T(""), 1, 1, "empty"},
        {T("  \n "), 2, 2, "empty"},
        {T("\xEF\xBB\xBF"), 1, 2, "empty"},
        {T("\xEF\xBB\xBF\xEF\xBB\xBF" "1"), 1, 2, "byte 0xEF"},
        {T(" \xEF\xBB\xBF" "1"), 1, 2, "byte 0xEF"},
        {T("[1] x"), 1, 5, "'x' after the end"},
        {T("1 2"), 1, 3, "after the end"},
        {T("{}{}"), 1, 3, "'{' after the end"},
        {T("truex"), 1, 5, "'x' after the end"},
        {T("0x10"), 1, 2, "'x' after the end"},
        {T("[1]\x00"), 1, 4, "byte 0x00 after the end"},
        /* structure */
        {T("nul"), 1, 1, "unexpected 'n'"},
        {T("True"), 1, 1, "unexpected 'T'"},
        {T("[1,]"), 1, 4, "unexpected ']'"},
        {T("[,1]"), 1, 2, "unexpected ','"},
        {T("{\"a\":1,}"), 1, 8, "expected a key"},
        {T("{\"a\" 1}"), 1, 6, "expected ':' after the key \"a\""},
        {T("{a:1}"), 1, 2, "expected a key"},
        {T("{1:1}"), 1, 2, "expected a key"},
        {T("[1 2]"), 1, 4, "expected ',' or ']'"},
        {T("{\"a\":1 \"b\":2}"), 1, 8, "expected ',' or '}'"},
        {T("[1}"), 1, 3, "expected ',' or ']'"},
        {T("["), 1, 2, "end of the input"},
        {T("{"), 1, 2, "the end of the input"},
        {T("{\"a\":"), 1, 6, "end of the input"},
        {T("[\n1,\n x]"), 3, 2, "unexpected 'x'"},
        {T("[\r\n x]"), 2, 2, "unexpected 'x'"},
        {T("\"\xC3\xA9\" x"), 1, 5, "'x' after the end"},
        {T("\xC3\xA9"), 1, 1, "byte 0xC3"},
        /* strings */
        {T("\"abc"), 1, 1, "unterminated string"},
        {T("[\"abc\\"), 1, 6, "unterminated string"},
        {T("\"\\x\""), 1, 2, "a backslash followed by 'x'"},
        {T("\"\\U0041\""), 1, 2, "a backslash followed by 'U'"},
        {T("\"\\u12\""), 1, 2, "four hexadecimal digits"},
        {T("\"\\u12G4\""), 1, 2, "four hexadecimal digits"},
        {T("\"\\u"), 1, 2, "four hexadecimal digits"},
        {T("\"\\ud800\""), 1, 2, "high surrogate"},
        {T("\"ab\\ud800\\u0041\""), 1, 4, "high surrogate"},
        {T("\"\\ud800\\ud800\""), 1, 2, "high surrogate"},
        {T("\"\\ud800\\n\""), 1, 2, "high surrogate"},
        {T("\"\\udc00\""), 1, 2, "low surrogate"},
        {T("\"\\udfff\\ud800\""), 1, 2, "low surrogate"},
        {T("\"\\u0000\""), 1, 2, "\\u0000"},
        {T("{\"a\\u0000\":1}"), 1, 4, "\\u0000"},
        {T("\"a\x01\""), 1, 3, "control character 0x01"},
        {T("\"a\nb\""), 1, 3, "control character 0x0A"},
        {T("\"\t\""), 1, 2, "control character 0x09"},
        {T("\"\x1f\""), 1, 2, "control character 0x1F"},
        {T("\"\x00\""), 1, 2, "control character 0x00"},
        /* bad UTF-8: overlong, surrogates, past U+10FFFF, truncated, stray */
        {T("\"\xC0\xAF\""), 1, 2, "invalid UTF-8"},
        {T("\"\xC1\xBF\""), 1, 2, "invalid UTF-8"},
        {T("\"\xE0\x80\xAF\""), 1, 2, "invalid UTF-8"},
        {T("\"\xE0\x9F\xBF\""), 1, 2, "invalid UTF-8"},
        {T("\"\xF0\x80\x80\xAF\""), 1, 2, "invalid UTF-8"},
        {T("\"\xF0\x8F\xBF\xBF\""), 1, 2, "invalid UTF-8"},
        {T("\"\xED\xA0\x80\""), 1, 2, "invalid UTF-8"},
        {T("\"\xED\xBF\xBF\""), 1, 2, "invalid UTF-8"},
        {T("\"\xF4\x90\x80\x80\""), 1, 2, "invalid UTF-8"},
        {T("\"\xF5\x80\x80\x80\""), 1, 2, "invalid UTF-8"},
        {T("\"\xFF\""), 1, 2, "invalid UTF-8"},
        {T("\"\xFE\""), 1, 2, "invalid UTF-8"},
        {T("\"\xE2\x82\""), 1, 2, "invalid UTF-8"},
        {T("\"\xE2\x82"), 1, 2, "invalid UTF-8"},
        {T("\"\xF0\x9F\x98\""), 1, 2, "invalid UTF-8"},
        {T("\"\xC3\""), 1, 2, "invalid UTF-8"},
        {T("\"\xC3\x41\""), 1, 2, "invalid UTF-8"},
        {T("\"\x80\""), 1, 2, "invalid UTF-8"},
        {T("\"\xC3\xA9\xBF\""), 1, 3, "invalid UTF-8"},
        /* numbers */
        {T("-"), 1, 1, "a digit must follow '-'"},
        {T("-a"), 1, 1, "a digit must follow '-'"},
        {T("[-]"), 1, 2, "a digit must follow '-'"},
        {T("1."), 1, 3, "decimal point"},
        {T("1.e5"), 1, 3, "decimal point"},
        {T(".5"), 1, 1, "unexpected '.'"},
        {T("+1"), 1, 1, "unexpected '+'"},
        {T("01"), 1, 1, "leading zero"},
        {T("-01"), 1, 1, "leading zero"},
        {T("[00]"), 1, 2, "leading zero"},
        {T("1e"), 1, 3, "exponent"},
        {T("1e+"), 1, 4, "exponent"},
        {T("1E-x"), 1, 4, "exponent"},
        {T("1e400"), 1, 1, "out of range"},
        {T("[-1.5e309]"), 1, 2, "out of range"},
        {T("Infinity"), 1, 1, "unexpected 'I'"},
        {T("NaN"), 1, 1, "unexpected 'N'"},
        {T("1.5.3"), 1, 4, "'.' after the end"},
        /* duplicate keys, small objects (compared pairwise) */
        {T("{\"a\":1,\"a\":2}"), 1, 8, "duplicate key \"a\""},
        {T("{\"\":1,\"\":2}"), 1, 7, "duplicate key \"\""},
        {T("{\"\\u0061\":1,\"a\":2}"), 1, 13, "duplicate key \"a\""},
        {T("{\"a\":1,\"b\":2,\"c\":3,\"b\":4}"), 1, 20, "duplicate key \"b\""},
        {T("{\"x\":{\"b\":1,\"b\":2}}"), 1, 13, "duplicate key \"b\""},
        {T("[{\"a\":1},\n {\"a\":1,\"a\":{}}]"), 2, 9, "duplicate key \"a\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const bad *c = &cases[i];
        assert_refused(c->s, c->len, c->line, c->column, c->what);
        json_error_t je;
        json_t *j = json_loadb(c->s, c->len, JANSSON_FLAGS, &je);
        /* jansson refuses them too, but for a byte order mark alone or
         * followed by trouble of its own */
        if (j && !(c->len >= 3 && memcmp(c->s, "\xEF\xBB\xBF", 3) == 0))
            fail_msg("jansson accepted %.*s", (int)c->len, c->s);
        json_decref(j);
    }
}

/* The only inputs jansson takes and fg_jr refuses: a NUL byte right after
 * a number or a literal, which jansson's reader skips. */
static void test_nul_after_token(void **state)
{
    (void)state;
    static const bad cases[] = {
        {T("[1\x00]"), 1, 3, "expected ',' or ']', found byte 0x00"},
        {T("1\x00"), 1, 2, "byte 0x00 after the end"},
        {T("{\"a\":true\x00}"), 1, 10, "expected ',' or '}', found byte 0x00"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const bad *c = &cases[i];
        assert_refused(c->s, c->len, c->line, c->column, c->what);
        json_t *j = json_loadb(c->s, c->len, JANSSON_FLAGS, NULL);
        assert_non_null(j);
        json_decref(j);
    }
}

/* A byte order mark before the value is skipped (jansson refuses it). */
static void test_bom(void **state)
{
    (void)state;
    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = parse(&a, T("\xEF\xBB\xBF{\"a\":[1]}"));
    assert_int_equal(fg_jv_integer(fg_jv_at(fg_jv_get(v, "a"), 0)), 1);
    v = parse(&a, T("\xEF\xBB\xBF \n\"x\""));
    assert_string_equal(fg_jv_str(v), "x");
    assert_refused(T("\xEF\xBB\xBF" "1 ]"), 1, 4, "']' after the end");
    assert_null(json_loadb(T("\xEF\xBB\xBF" "1"), JANSSON_FLAGS, NULL));
    fg_arena_free(&a);
}

/* Nesting: FG_JR_MAX_DEPTH containers, not one more. */
static void test_depth(void **state)
{
    (void)state;
    size_t max = FG_JR_MAX_DEPTH + 1;
    char *s = malloc(max * 8 + 16);
    assert_non_null(s);
    for (size_t depth = FG_JR_MAX_DEPTH - 1; depth <= max; depth++) {
        for (int objects = 0; objects <= 1; objects++) {
            size_t n = 0;
            for (size_t i = 0; i < depth; i++)
                n += (size_t)sprintf(s + n, objects ? "{\"k\":" : "[");
            n += (size_t)sprintf(s + n, "{}");
            for (size_t i = 0; i < depth; i++)
                s[n++] = objects ? '}' : ']';
            /* depth + 1 containers with the innermost {} */
            if (depth + 1 <= FG_JR_MAX_DEPTH) {
                assert_as_jansson(s, n);
            } else if (depth + 1 == FG_JR_MAX_DEPTH + 1) {
                size_t col = objects ? depth * 5 + 1 : depth + 1;
                assert_refused(s, n, 1, (int)col, "nesting deeper than 2048 levels");
            } else {
                assert_refused(s, n, 1, (int)(objects ? 5 * FG_JR_MAX_DEPTH + 1 :
                                              FG_JR_MAX_DEPTH + 1), "nesting deeper");
            }
        }
    }
    /* 2048 arrays around a scalar: fg_jr takes it, jansson (which counts
     * the scalar as a level) does not */
    size_t n = 0;
    for (size_t i = 0; i < FG_JR_MAX_DEPTH; i++)
        s[n++] = '[';
    s[n++] = '7';
    for (size_t i = 0; i < FG_JR_MAX_DEPTH; i++)
        s[n++] = ']';
    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = parse(&a, s, n);
    for (size_t i = 0; i < FG_JR_MAX_DEPTH; i++)
        v = fg_jv_at(v, 0);
    assert_int_equal(fg_jv_integer(v), 7);
    assert_null(json_loadb(s, n, JANSSON_FLAGS, NULL));
    fg_arena_free(&a);
    free(s);
}

/* An object of `n` members k0..k(n-1), with member `dup` (when < n) named
 * as member `of`. */
static size_t object_text(char *s, size_t n, size_t dup, size_t of)
{
    size_t len = (size_t)sprintf(s, "{");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(s + len, "%s\"k%zu\":%zu", i ? "," : "", i == dup ? of : i, i);
    len += (size_t)sprintf(s + len, "}");
    return len;
}

/* Large objects are checked for duplicates with a hash table. */
static void test_duplicates_large(void **state)
{
    (void)state;
    static const size_t sizes[] = {24, 25, 26, 64, 1000};
    char *s = malloc(20000);
    assert_non_null(s);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
        size_t n = sizes[k];
        size_t len = object_text(s, n, n, 0);
        assert_as_jansson(s, len);
        /* the repeat last, first-but-one, in the middle */
        size_t where[][2] = {{n - 1, 0}, {1, 0}, {n / 2, n / 2 - 1}, {n - 1, n - 2}};
        for (size_t w = 0; w < 4; w++) {
            len = object_text(s, n, where[w][0], where[w][1]);
            char key[32];
            snprintf(key, sizeof(key), "duplicate key \"k%zu\"", where[w][1]);
            /* the column of the repeated key's opening quote: keys are the
             * only strings, two quotes each */
            const char *at = s;
            for (size_t q = 0; q <= 2 * where[w][0]; q++)
                at = strchr(at + 1, '"');
            assert_refused(s, len, 1, (int)(at - s) + 1, key);
            assert_null(json_loadb(s, len, JANSSON_FLAGS, NULL));
        }
    }
    free(s);
}

/* More items than the parser's scratch stack holds in its frame. */
static void test_large_containers(void **state)
{
    (void)state;
    char *s = malloc(1u << 20); /* 300 arrays of 100 objects: about 700 KB */
    assert_non_null(s);
    size_t n = (size_t)sprintf(s, "[");
    for (int i = 0; i < 300; i++) {
        n += (size_t)sprintf(s + n, "%s[", i ? "," : "");
        for (int k = 0; k < 100; k++)
            n += (size_t)sprintf(s + n, "%s{\"v\":%d,\"s\":\"x%d\"}", k ? "," : "", k, i);
        n += (size_t)sprintf(s + n, "]");
    }
    n += (size_t)sprintf(s + n, "]");
    assert_as_jansson(s, n);
    free(s);
}

/* The accessors take NULL and values of the wrong type. */
static void test_accessors(void **state)
{
    (void)state;
    const fg_jv *none = NULL;
    assert_int_equal(fg_jv_typeof(none), FG_JV_NULL);
    assert_false(fg_jv_is_null(none) || fg_jv_is_object(none) || fg_jv_is_array(none) ||
                 fg_jv_is_string(none) || fg_jv_is_number(none) || fg_jv_is_boolean(none) ||
                 fg_jv_is_integer(none) || fg_jv_is_real(none) || fg_jv_is_true(none) ||
                 fg_jv_is_false(none));
    assert_int_equal(fg_jv_size(none), 0);
    assert_null(fg_jv_at(none, 0));
    assert_null(fg_jv_member_at(none, 0));
    assert_null(fg_jv_get(none, "a"));
    assert_null(fg_jv_getn(none, "a", 1));
    assert_null(fg_jv_str(none));
    assert_int_equal(fg_jv_len(none), 0);
    assert_null(fg_jv_number_text(none));
    assert_int_equal(fg_jv_integer(none), 0);
    assert_true(fg_jv_number(none) == 0);
    assert_null(fg_jv_to_json(none));

    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = parse(&a, T("[\"str\",12,2.5,true,null,{\"k\":\"v\",\"kx\":1},[1],{},[],false]"));
    const fg_jv *str = fg_jv_at(v, 0), *i = fg_jv_at(v, 1), *r = fg_jv_at(v, 2);
    const fg_jv *t = fg_jv_at(v, 3), *nul = fg_jv_at(v, 4), *obj = fg_jv_at(v, 5);
    const fg_jv *arr = fg_jv_at(v, 6), *eobj = fg_jv_at(v, 7), *earr = fg_jv_at(v, 8);
    assert_int_equal(fg_jv_size(v), 10);
    assert_true(fg_jv_is_false(fg_jv_at(v, 9)) && fg_jv_is_boolean(fg_jv_at(v, 9)));
    assert_null(fg_jv_at(v, 10));
    assert_null(fg_jv_at(v, SIZE_MAX));
    /* a string: its length is not a size */
    assert_int_equal(fg_jv_size(str), 0);
    assert_int_equal(fg_jv_len(str), 3);
    assert_null(fg_jv_get(str, "s"));
    assert_null(fg_jv_at(str, 0));
    assert_null(fg_jv_number_text(str));
    assert_int_equal(fg_jv_integer(str), 0);
    /* numbers */
    assert_null(fg_jv_str(i));
    assert_int_equal(fg_jv_len(i), 0);
    assert_int_equal(fg_jv_integer(i), 12);
    assert_true(fg_jv_number(i) == 12.0);
    assert_int_equal(fg_jv_integer(r), 0);
    assert_true(fg_jv_number(r) == 2.5);
    assert_string_equal(fg_jv_number_text(r), "2.5");
    assert_int_equal(fg_jv_size(r), 0);
    /* literals */
    assert_true(fg_jv_is_true(t) && fg_jv_is_boolean(t) && !fg_jv_is_number(t));
    assert_true(fg_jv_is_null(nul) && fg_jv_typeof(nul) == FG_JV_NULL);
    assert_null(fg_jv_str(nul));
    /* an object: by key (whole key only), by index, not as an array */
    assert_string_equal(fg_jv_str(fg_jv_get(obj, "k")), "v");
    assert_int_equal(fg_jv_integer(fg_jv_get(obj, "kx")), 1);
    assert_string_equal(fg_jv_str(fg_jv_getn(obj, "kxyz", 1)), "v");
    assert_null(fg_jv_get(obj, "K"));
    assert_null(fg_jv_get(obj, "kxx"));
    assert_null(fg_jv_get(obj, ""));
    assert_null(fg_jv_at(obj, 0));
    assert_string_equal(fg_jv_member_at(obj, 1)->key, "kx");
    assert_int_equal(fg_jv_member_at(obj, 1)->key_len, 2);
    assert_null(fg_jv_member_at(obj, 2));
    assert_int_equal(fg_jv_len(obj), 0);
    /* an array is not an object */
    assert_null(fg_jv_get(arr, "0"));
    assert_null(fg_jv_member_at(arr, 0));
    assert_int_equal(fg_jv_integer(fg_jv_at(arr, 0)), 1);
    /* empty containers */
    assert_int_equal(fg_jv_size(eobj), 0);
    assert_null(fg_jv_get(eobj, "k"));
    assert_null(fg_jv_member_at(eobj, 0));
    assert_int_equal(fg_jv_size(earr), 0);
    assert_null(fg_jv_at(earr, 0));
    fg_arena_free(&a);
}

/* The value of s, compared with fg_jv_equal to the value of t. */
static int equal_texts(fg_arena *a, const char *s, const char *t)
{
    return fg_jv_equal(parse(a, s, strlen(s)), parse(a, t, strlen(t)));
}

static void test_equal(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        int equal;
    } cases[] = {
        {"{\"a\":1,\"b\":[true,null]}", "{\"b\":[true,null],\"a\":1}", 1},
        {"{\"x\":{\"p\":1,\"q\":2}}", "{\"x\":{\"q\":2,\"p\":1}}", 1},
        {"{}", "{}", 1},
        {"[]", "[]", 1},
        {"1", "1.0", 1},
        {"100", "1e2", 1},
        {"-0", "0", 1},
        {"-0.0", "0", 1},
        {"0.1", "1e-1", 1},
        {"\"\\u00e9\"", "\"\xC3\xA9\"", 1},
        {"\"\\/\"", "\"/\"", 1},
        {"1", "2", 0},
        {"9223372036854775807", "9223372036854775806", 0},
        {"\"ab\"", "\"ac\"", 0},
        {"\"a\"", "\"ab\"", 0},
        {"[1,2]", "[2,1]", 0},
        {"[1]", "[1,1]", 0},
        {"{\"a\":1}", "{\"b\":1}", 0},
        {"{\"a\":1}", "{\"a\":1,\"b\":2}", 0},
        {"{\"a\":1,\"b\":2}", "{\"a\":1}", 0},
        {"{\"a\":{\"b\":1}}", "{\"a\":{\"b\":2}}", 0},
        {"null", "false", 0},
        {"true", "false", 0},
        {"\"1\"", "1", 0},
        {"[]", "{}", 0},
        {"[]", "null", 0},
        {"\"\"", "null", 0},
    };
    fg_arena a;
    fg_arena_init(&a);
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        if (equal_texts(&a, cases[i].a, cases[i].b) != cases[i].equal ||
            equal_texts(&a, cases[i].b, cases[i].a) != cases[i].equal)
            fail_msg("fg_jv_equal(%s, %s) is not %d", cases[i].a, cases[i].b, cases[i].equal);
    }
    const fg_jv *v = parse(&a, T("[1]"));
    assert_true(fg_jv_equal(NULL, NULL));
    assert_true(fg_jv_equal(v, v));
    assert_false(fg_jv_equal(v, NULL));
    assert_false(fg_jv_equal(NULL, v));
    fg_arena_free(&a);
}

/* jansson -> fg_jr -> jansson gives the value back. */
static void test_from_json(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:s, s:I, s:I, s:f, s:f, s:[b,b,n,[],{}], s:{s:f, s:s}}",
                          "s", "caf\xC3\xA9 \"q\" \\ \n \xF0\x9F\x98\x80", "min", (json_int_t)LLONG_MIN,
                          "max", (json_int_t)LLONG_MAX, "r", 0.1, "big", 1.5e300, "a", 1, 0,
                          "o", "neg", -0.0, "", "");
    assert_non_null(j);
    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = NULL;
    assert_int_equal(fg_jv_from_json(&a, j, &v), FG_OK);
    assert_true(fg_jv_is_integer(fg_jv_get(v, "min")));
    assert_true(fg_jv_is_real(fg_jv_get(v, "r")));
    json_t *back = fg_jv_to_json(v);
    assert_true(json_equal(back, j));
    json_decref(back);
    json_decref(j);
    /* scalars at the top */
    j = json_string("x");
    assert_int_equal(fg_jv_from_json(&a, j, &v), FG_OK);
    assert_string_equal(fg_jv_str(v), "x");
    json_decref(j);
    /* nothing to read, and a NUL, which fg_jr never accepts */
    v = (const fg_jv *)&a;
    assert_int_equal(fg_jv_from_json(&a, NULL, &v), FG_EUSAGE);
    assert_null(v);
    j = json_stringn("a\0b", 3);
    assert_int_equal(fg_jv_from_json(&a, j, &v), FG_EINVALID);
    assert_null(v);
    json_decref(j);
    fg_arena_free(&a);
}

static void test_dump(void **state)
{
    (void)state;
    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = parse(&a, T(" { \"b\" : [1, 2.5, \"x\\u00e9\\n\"], \"a\" : null, \"c\" : {} } "));
    assert_string_equal(fg_jv_dump(&a, v), "{\"b\":[1,2.5,\"x\xC3\xA9\\n\"],\"a\":null,\"c\":{}}");
    assert_string_equal(fg_jv_dump(&a, fg_jv_get(v, "a")), "null");
    assert_null(fg_jv_dump(&a, NULL));
    fg_arena_free(&a);
}

/* The foreach macros, nested, on empty and on wrong values. */
static void test_foreach(void **state)
{
    (void)state;
    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = parse(&a, T("{\"a\":[1,2],\"b\":{\"c\":[3],\"d\":[]},\"e\":[[4,5],[6]],\"f\":7}"));
    char out[256] = "";
    size_t n = 0;
    const char *key, *key2;
    const fg_jv *val, *val2, *item, *item2;
    size_t i, k;
    fg_jv_object_foreach(v, key, val) {
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s:", key);
        fg_jv_object_foreach(val, key2, val2) {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s=", key2);
            fg_jv_array_foreach(val2, i, item)
                n += (size_t)snprintf(out + n, sizeof(out) - n, "%lld.", fg_jv_integer(item));
        }
        fg_jv_array_foreach(val, i, item) {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%lld", fg_jv_integer(item));
            fg_jv_array_foreach(item, k, item2)
                n += (size_t)snprintf(out + n, sizeof(out) - n, "(%zu:%lld)", k,
                                      fg_jv_integer(item2));
        }
        n += (size_t)snprintf(out + n, sizeof(out) - n, ";");
    }
    assert_string_equal(out, "a:12;b:c=3.d=;e:0(0:4)(1:5)0(0:6);f:;");
    /* break leaves the index where it stopped */
    fg_jv_array_foreach(fg_jv_get(v, "a"), i, item)
        if (fg_jv_integer(item) == 2)
            break;
    assert_int_equal(i, 1);
    /* nothing to walk: no iteration, and the array index ends at 0 */
    int runs = 0;
    const fg_jv *none = NULL;
    fg_jv_object_foreach(none, key, val) runs++;
    fg_jv_object_foreach(fg_jv_get(v, "a"), key, val) runs++;
    fg_jv_object_foreach(fg_jv_get(v, "f"), key, val) runs++;
    fg_jv_array_foreach(none, i, item) runs++;
    fg_jv_array_foreach(v, i, item) runs++;
    assert_int_equal(i, 0);
    fg_jv_array_foreach(fg_jv_get(fg_jv_get(v, "b"), "d"), i, item) runs++;
    assert_int_equal(runs, 0);
    fg_arena_free(&a);
}

/* The tree does not point into the caller's text, which stays unchanged;
 * an arena reset between documents keeps memory flat. */
static void test_input_and_arena(void **state)
{
    (void)state;
    static const char doc[] = "{\"a\\n\":\"x\\u00e9\\\"y\",\"n\":[1.5,-2]}";
    char *copy = malloc(sizeof(doc));
    assert_non_null(copy);
    memcpy(copy, doc, sizeof(doc));
    fg_arena a;
    fg_arena_init(&a);
    const fg_jv *v = parse(&a, copy, sizeof(doc) - 1);
    assert_memory_equal(copy, doc, sizeof(doc));
    free(copy); /* under ASan, any use of the text below would show */
    assert_string_equal(fg_jv_str(fg_jv_get(v, "a\n")), "x\xC3\xA9\"y");
    assert_int_equal(fg_jv_len(fg_jv_get(v, "a\n")), 5);
    assert_string_equal(fg_jv_number_text(fg_jv_at(fg_jv_get(v, "n"), 1)), "-2");
    size_t first = 0;
    for (int round = 0; round < 1000; round++) {
        fg_arena_reset(&a);
        v = parse(&a, doc, sizeof(doc) - 1);
        assert_int_equal(fg_jv_size(v), 2);
        if (round == 0)
            first = a.used;
        assert_int_equal(a.used, first);
    }
    fg_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_number_types),
        cmocka_unit_test(test_wide_integers),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_nul_after_token),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_duplicates_large),
        cmocka_unit_test(test_large_containers),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_from_json),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_input_and_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
