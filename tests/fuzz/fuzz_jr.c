/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_jr.c: differential libFuzzer target for the arena JSON reader
 * (fhir/fg_jr.h) against jansson, the parser it replaces on the input side.
 *
 * Every input is parsed by fg_jr_parse and by json_loadb with
 * JSON_DECODE_ANY | JSON_REJECT_DUPLICATES. The two must agree on the
 * verdict, and when both accept, on the value: the trees are walked side by
 * side through fg_jr's accessors (types, sizes, strings, numbers, member
 * order, lookups by key), fg_jv_to_json must be json_equal to jansson's
 * tree, fg_jv_dump must read back as the same value, and fg_jv_from_json of
 * jansson's tree must be fg_jv_equal to fg_jr's. A rejection must say where
 * (line, column and byte offset consistent with the text) and why, in
 * valid UTF-8 (the message may end up in an OperationOutcome).
 *
 * The verdicts may differ only where fg_jr is documented to differ:
 *  - a UTF-8 byte order mark before the value: fg_jr skips it (RFC 8259,
 *    8.1 lets a parser ignore it), jansson refuses it. The rest of the input
 *    must then be read alike by both.
 *  - an integer that does not fit in 64 bits: fg_jr reads it as a real,
 *    jansson refuses it ("too big integer"). fg_jr's tree must then hold a
 *    real written as an integer.
 *  - nesting: fg_jr counts containers (FG_JR_MAX_DEPTH of them may nest),
 *    jansson counts every value, so a scalar or a non-empty container
 *    inside 2048 nested containers is refused by jansson alone. fg_jr's
 *    tree must then be exactly FG_JR_MAX_DEPTH containers deep.
 *  - a NUL byte right after a number or a literal (`[1\0]`, `true\0`):
 *    jansson reads it as the end of its look-ahead buffer once it has put
 *    back the character that ended the token, so the byte is lost and the
 *    text accepted (jansson 2.14); fg_jr refuses it as any other stray
 *    byte. With that byte removed, both must read the input alike.
 *
 * Built with clang when meson is set up with -Dfuzzing=true:
 *     build-fuzz/tests/fuzz_jr tests/fuzz/corpus-jr
 * Without a fuzzer, tests/unit/test_jr.c replays the corpus through the
 * same function.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fhir/base/fg_error.h"
#include "fhir/json/fg_jr.h"

/* Larger inputs teach the fuzzer nothing new and slow every run down. */
#define FUZZ_JR_MAX_INPUT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond))                                                                        \
            abort();                                                                        \
    } while (0)

/* Walk fg_jr's tree and jansson's side by side through the accessors. */
static void walk_same(const fg_jv *v, const json_t *j)
{
    CHECK(v && j);
    switch (json_typeof(j)) {
    case JSON_NULL:
        CHECK(fg_jv_is_null(v) && fg_jv_typeof(v) == FG_JV_NULL);
        break;
    case JSON_TRUE:
        CHECK(fg_jv_is_true(v) && fg_jv_is_boolean(v));
        break;
    case JSON_FALSE:
        CHECK(fg_jv_is_false(v) && fg_jv_is_boolean(v));
        break;
    case JSON_INTEGER:
        CHECK(fg_jv_is_integer(v) && fg_jv_is_number(v));
        CHECK(fg_jv_integer(v) == json_integer_value(j));
        CHECK(fg_jv_number(v) == (double)json_integer_value(j));
        CHECK(strlen(fg_jv_number_text(v)) == v->n);
        break;
    case JSON_REAL:
        CHECK(fg_jv_is_real(v) && fg_jv_is_number(v) && fg_jv_integer(v) == 0);
        CHECK(fg_jv_number(v) == json_real_value(j));
        break;
    case JSON_STRING:
        CHECK(fg_jv_is_string(v) && fg_jv_len(v) == json_string_length(j));
        CHECK(memcmp(fg_jv_str(v), json_string_value(j), fg_jv_len(v)) == 0);
        CHECK(fg_jv_str(v)[fg_jv_len(v)] == '\0' && fg_jv_size(v) == 0);
        break;
    case JSON_ARRAY: {
        CHECK(fg_jv_is_array(v) && fg_jv_size(v) == json_array_size(j));
        size_t i;
        const fg_jv *item;
        fg_jv_array_foreach(v, i, item)
            walk_same(item, json_array_get(j, i));
        CHECK(i == json_array_size(j) && fg_jv_at(v, i) == NULL);
        break;
    }
    case JSON_OBJECT: {
        CHECK(fg_jv_is_object(v) && fg_jv_size(v) == json_object_size(j));
        const char *key;
        const fg_jv *val;
        size_t i = 0;
        void *it = json_object_iter((json_t *)j);
        fg_jv_object_foreach(v, key, val) {
            /* jansson keeps members in document order too */
            CHECK(it && strcmp(key, json_object_iter_key(it)) == 0);
            CHECK(fg_jv_get(v, key) == val && fg_jv_member_at(v, i)->key == key);
            CHECK(fg_jv_member_at(v, i)->key_len == strlen(key));
            walk_same(val, json_object_iter_value(it));
            it = json_object_iter_next((json_t *)j, it);
            i++;
        }
        CHECK(it == NULL && i == json_object_size(j));
        break;
    }
    }
}

/* Containers on the deepest path of v: 0 for a scalar. */
static int depth_of(const fg_jv *v)
{
    int deepest = 0;
    for (size_t i = 0; i < fg_jv_size(v); i++) {
        const fg_jv *c = fg_jv_is_array(v) ? fg_jv_at(v, i) : &fg_jv_member_at(v, i)->value;
        int d = depth_of(c);
        if (d > deepest)
            deepest = d;
    }
    return fg_jv_is_array(v) || fg_jv_is_object(v) ? deepest + 1 : 0;
}

/* A real written without fraction or exponent somewhere in v. */
static int has_wide_integer(const fg_jv *v)
{
    if (fg_jv_is_real(v))
        return strpbrk(fg_jv_number_text(v), ".eE") == NULL;
    for (size_t i = 0; i < fg_jv_size(v); i++) {
        const fg_jv *c = fg_jv_is_array(v) ? fg_jv_at(v, i) : &fg_jv_member_at(v, i)->value;
        if (has_wide_integer(c))
            return 1;
    }
    return 0;
}

/* Both accepted: the values must be the same however they are compared. */
static void check_same(fg_arena *arena, const fg_jv *v, const json_t *j)
{
    walk_same(v, j);
    json_t *copy = fg_jv_to_json(v);
    CHECK(copy && json_equal(copy, (json_t *)j));
    json_decref(copy);
    CHECK(fg_jv_equal(v, v));

    const fg_jv *back = NULL;
    CHECK(fg_jv_from_json(arena, j, &back) == FG_OK && fg_jv_equal(v, back));

    const char *text = fg_jv_dump(arena, v);
    CHECK(text);
    json_t *again = json_loads(text, JSON_DECODE_ANY, NULL);
    CHECK(again && json_equal(again, (json_t *)j));
    json_decref(again);
}

/* fg_jr refused: the error must name a place inside the input and say why
 * in valid UTF-8. */
static void check_error(const uint8_t *data, size_t size, const fg_jr_error *e)
{
    CHECK(e->position <= size && e->text[0] != '\0');
    CHECK(memchr(e->text, '\0', sizeof(e->text)) != NULL);
    int line = 1, column = 1;
    for (size_t i = 0; i < e->position; i++) {
        if (data[i] == '\n') {
            line++;
            column = 1;
        } else if ((data[i] & 0xC0) != 0x80) {
            column++;
        }
    }
    CHECK(e->line == line && e->column == column);
    json_t *s = json_string(e->text); /* NULL when the text is not UTF-8 */
    CHECK(s);
    json_decref(s);
}

/* fg_jr accepted what jansson refused: allowed only for the differences
 * listed at the top of this file. */
static void check_jr_only(fg_arena *arena, const uint8_t *data, size_t size, const fg_jv *v,
                          const json_error_t *jerr)
{
    if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        json_error_t e2;
        json_t *j = json_loadb((const char *)data + 3, size - 3,
                               JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e2);
        if (j) {
            check_same(arena, v, j);
            json_decref(j);
            return;
        }
        check_jr_only(arena, data + 3, size - 3, v, &e2);
        return;
    }
    if (strncmp(jerr->text, "too big", 7) == 0) {
        CHECK(has_wide_integer(v));
        return;
    }
    if (strncmp(jerr->text, "maximum parsing depth", 21) == 0) {
        CHECK(depth_of(v) == FG_JR_MAX_DEPTH);
        return;
    }
    abort(); /* a difference nobody documented */
}

static void differ(const uint8_t *data, size_t size);

/* jansson read what fg_jr refused: allowed only for a NUL byte after a
 * token, which jansson skips. */
static void check_jansson_only(const uint8_t *data, size_t size, const fg_jr_error *e)
{
    size_t at = e->position;
    CHECK(at > 0 && at < size && data[at] == '\0');
    unsigned char before = data[at - 1];
    CHECK((before >= '0' && before <= '9') || (before >= 'a' && before <= 'z'));
    uint8_t *rest = malloc(size - 1);
    CHECK(rest);
    memcpy(rest, data, at);
    memcpy(rest + at, data + at + 1, size - at - 1);
    differ(rest, size - 1);
    free(rest);
}

static void differ(const uint8_t *data, size_t size)
{
    fg_arena arena;
    fg_arena_init(&arena);
    const fg_jv *v = NULL;
    fg_jr_error err;
    int rc = fg_jr_parse(&arena, (const char *)data, size, &v, &err);
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                           &jerr);
    if (rc == FG_OK && j)
        check_same(&arena, v, j);
    else if (rc == FG_OK)
        check_jr_only(&arena, data, size, v, &jerr);
    else if (rc == FG_EINVALID)
        check_error(data, size, &err);
    CHECK(rc == FG_OK || rc == FG_EINVALID || rc == FG_ENOMEM);
    if (j && rc == FG_EINVALID)
        check_jansson_only(data, size, &err);
    json_decref(j);
    fg_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size <= FUZZ_JR_MAX_INPUT)
        differ(data, size);
    return 0;
}
