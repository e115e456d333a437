/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_jr.h: a JSON reader that builds a read-only tree in an arena.
 *
 * The input side of fhirgen (the validator, FHIRPath, the profile registry)
 * reads far more JSON than it writes, and never changes what it reads.
 * jansson allocates every value, every key and a hash table per object;
 * for FHIR, where objects hold a handful of members, that is most of the
 * cost of validating a resource. fg_jr parses into one arena instead: the
 * text is copied once, strings are unescaped in place and NUL-terminated,
 * arrays and objects are contiguous runs of values. Resetting the arena
 * between resources keeps a reader's memory flat and malloc out of the loop.
 *
 * What it accepts is RFC 8259 JSON with the rules FHIR adds: UTF-8 only,
 * no duplicate keys in an object, no "\u0000" in strings. Numbers keep their
 * text (FHIR decimals have a precision the double would lose); a number
 * without a fraction or exponent that fits in 64 bits is an integer, any
 * other number a real; a number past the range of a double is refused, as
 * jansson refuses it. A UTF-8 byte order mark before the value is skipped.
 *
 * Objects keep their members in document order and are searched by a
 * linear scan: FHIR objects are small, and a scan of a few keys compared by
 * length first is faster than hashing them.
 *
 * The accessors mirror jansson's so that code reads the same: they accept
 * NULL and answer as for a value of another type (fg_jv_get(NULL, "a") is
 * NULL, fg_jv_size of a string is 0).
 */
#ifndef FG_JR_H
#define FG_JR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fhir/base/fg_arena.h"

/* The nesting fhirgen accepts in any JSON it reads (histories, value sets, resources): deeper
 * input is refused with FG_ELIMIT or reported. Narrower than FG_JR_MAX_DEPTH, which only keeps the
 * reader's own recursion bounded. */
#define FG_MAX_JSON_DEPTH 64

/* Nesting deeper than this is a parse error (callers keep their own,
 * smaller limits on what they walk). */
#define FG_JR_MAX_DEPTH 2048

typedef enum fg_jv_type {
    FG_JV_NULL = 0,
    FG_JV_FALSE,
    FG_JV_TRUE,
    FG_JV_INTEGER,
    FG_JV_REAL,
    FG_JV_STRING,
    FG_JV_ARRAY,
    FG_JV_OBJECT,
} fg_jv_type;

typedef struct fg_jv fg_jv;
typedef struct fg_jv_member fg_jv_member;

/* One value. `n` is the byte length of a string or of a number's text, the
 * item count of an array, the member count of an object. */
struct fg_jv {
    uint32_t type; /* fg_jv_type */
    uint32_t n;
    union {
        const char *s;                /* string (NUL-terminated), number text */
        const fg_jv *items;           /* array */
        const fg_jv_member *members;  /* object */
    } u;
};

struct fg_jv_member {
    const char *key; /* NUL-terminated */
    size_t key_len;
    fg_jv value;
};

/* Why a parse failed: where (1-based line and column, the column counted in
 * characters, and the byte offset) and what was found. */
typedef struct fg_jr_error {
    int line;
    int column;
    size_t position;
    char text[160];
} fg_jr_error;

/* Parse the `len` bytes at `buf` as one JSON value (surrounding white space
 * allowed, nothing else). Every value, string and key of the result lives in
 * `arena`; `buf` is not modified and may be freed at once.
 * FG_OK with *out set; FG_EINVALID with *err filled for text that is not
 * JSON as above; FG_ENOMEM when memory ran out (the arena then holds a
 * partial tree the caller resets or frees). */
int fg_jr_parse(fg_arena *arena, const char *buf, size_t len, const fg_jv **out,
                fg_jr_error *err);

/* Deep equality: same type, same text for strings, same numeric value for
 * numbers, arrays item by item, objects with the same keys whatever their
 * order. Two NULLs are equal. */
int fg_jv_equal(const fg_jv *a, const fg_jv *b);

/* A jansson copy of `v` (a new reference, NULL when memory ran out), for
 * callers that hand a value on: an OperationOutcome, a test's expectation. */
json_t *fg_jv_to_json(const fg_jv *v);

/* Compact JSON text of `v` into `arena` (NULL when memory ran out). */
char *fg_jv_dump(fg_arena *arena, const fg_jv *v);

/* Parse a jansson value's text into `arena`: the bridge for callers that
 * hold jansson trees (the generator's own bundles, tests). */
int fg_jv_from_json(fg_arena *arena, const json_t *j, const fg_jv **out);

static inline fg_jv_type fg_jv_typeof(const fg_jv *v)
{
    return v ? (fg_jv_type)v->type : FG_JV_NULL;
}

static inline int fg_jv_is_object(const fg_jv *v) { return v && v->type == FG_JV_OBJECT; }
static inline int fg_jv_is_array(const fg_jv *v) { return v && v->type == FG_JV_ARRAY; }
static inline int fg_jv_is_string(const fg_jv *v) { return v && v->type == FG_JV_STRING; }
static inline int fg_jv_is_integer(const fg_jv *v) { return v && v->type == FG_JV_INTEGER; }
static inline int fg_jv_is_real(const fg_jv *v) { return v && v->type == FG_JV_REAL; }
static inline int fg_jv_is_true(const fg_jv *v) { return v && v->type == FG_JV_TRUE; }
static inline int fg_jv_is_false(const fg_jv *v) { return v && v->type == FG_JV_FALSE; }
static inline int fg_jv_is_null(const fg_jv *v) { return v && v->type == FG_JV_NULL; }

static inline int fg_jv_is_number(const fg_jv *v)
{
    return v && (v->type == FG_JV_INTEGER || v->type == FG_JV_REAL);
}

static inline int fg_jv_is_boolean(const fg_jv *v)
{
    return v && (v->type == FG_JV_TRUE || v->type == FG_JV_FALSE);
}

/* Items of an array, members of an object; 0 for anything else. */
static inline size_t fg_jv_size(const fg_jv *v)
{
    return v && (v->type == FG_JV_ARRAY || v->type == FG_JV_OBJECT) ? v->n : 0;
}

/* Items of an array, 0 for anything else (as json_array_size). */
static inline size_t fg_jv_array_size(const fg_jv *v)
{
    return v && v->type == FG_JV_ARRAY ? v->n : 0;
}

/* Members of an object, 0 for anything else (as json_object_size). */
static inline size_t fg_jv_object_size(const fg_jv *v)
{
    return v && v->type == FG_JV_OBJECT ? v->n : 0;
}

/* Item i of an array, or NULL. */
static inline const fg_jv *fg_jv_at(const fg_jv *v, size_t i)
{
    return v && v->type == FG_JV_ARRAY && i < v->n ? &v->u.items[i] : NULL;
}

/* Member i of an object, or NULL. */
static inline const fg_jv_member *fg_jv_member_at(const fg_jv *v, size_t i)
{
    return v && v->type == FG_JV_OBJECT && i < v->n ? &v->u.members[i] : NULL;
}

/* The value of member `key` (`len` bytes) of an object, or NULL. */
static inline const fg_jv *fg_jv_getn(const fg_jv *v, const char *key, size_t len)
{
    if (!v || v->type != FG_JV_OBJECT)
        return NULL;
    const fg_jv_member *m = v->u.members;
    for (const fg_jv_member *end = m + v->n; m < end; m++)
        if (m->key_len == len && memcmp(m->key, key, len) == 0)
            return &m->value;
    return NULL;
}

static inline const fg_jv *fg_jv_get(const fg_jv *v, const char *key)
{
    return fg_jv_getn(v, key, strlen(key));
}

/* A string's value, or NULL for anything else. */
static inline const char *fg_jv_str(const fg_jv *v)
{
    return v && v->type == FG_JV_STRING ? v->u.s : NULL;
}

/* A string's length in bytes, or 0. */
static inline size_t fg_jv_len(const fg_jv *v)
{
    return v && v->type == FG_JV_STRING ? v->n : 0;
}

/* A number's text as written, or NULL. */
static inline const char *fg_jv_number_text(const fg_jv *v)
{
    return fg_jv_is_number(v) ? v->u.s : NULL;
}

/* An integer's value, or 0. */
long long fg_jv_integer(const fg_jv *v);
/* A number's value (integer or real) as a double, or 0. */
double fg_jv_number(const fg_jv *v);

/* for (i = 0; i < size && (val = item i); i++), as json_array_foreach. */
#define fg_jv_array_foreach(arr, i_, val_)                                                  \
    for ((i_) = 0; (i_) < fg_jv_array_size(arr) && ((val_) = fg_jv_at((arr), (i_))) != NULL; (i_)++)

/* Members in document order, as json_object_foreach: `key` (const char *)
 * and `val` (const fg_jv *) are the caller's variables. */
#define FG_JV_CAT_(a, b) a##b
#define FG_JV_CAT(a, b) FG_JV_CAT_(a, b)
#define fg_jv_object_foreach(obj, key_, val_)                                               \
    for (size_t FG_JV_CAT(fg_jv_i_, __LINE__) = 0;                                          \
         FG_JV_CAT(fg_jv_i_, __LINE__) < fg_jv_object_size(obj) &&                          \
         ((key_) = (obj)->u.members[FG_JV_CAT(fg_jv_i_, __LINE__)].key,                      \
         (val_) = &(obj)->u.members[FG_JV_CAT(fg_jv_i_, __LINE__)].value, 1);                \
         FG_JV_CAT(fg_jv_i_, __LINE__)++)

#endif
