/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jr_value.c: what fg_jr.h offers beyond parsing: numbers, equality, and
 * the bridges to and from jansson.
 */
#include "fhir/json/fg_jr.h"

#include <errno.h>
#include <stdlib.h>

#include "fhir/json/fg_jw.h"
#include "fhir/base/fg_error.h"

long long fg_jv_integer(const fg_jv *v)
{
    if (!fg_jv_is_integer(v))
        return 0;
    return strtoll(v->u.s, NULL, 10);
}

double fg_jv_number(const fg_jv *v)
{
    if (!fg_jv_is_number(v))
        return 0;
    return strtod(v->u.s, NULL);
}

static int numbers_equal(const fg_jv *a, const fg_jv *b)
{
    if (a->type == FG_JV_INTEGER && b->type == FG_JV_INTEGER)
        return fg_jv_integer(a) == fg_jv_integer(b);
    return fg_jv_number(a) == fg_jv_number(b);
}

int fg_jv_equal(const fg_jv *a, const fg_jv *b)
{
    if (a == b)
        return 1;
    if (!a || !b)
        return 0;
    if (fg_jv_is_number(a) && fg_jv_is_number(b))
        return numbers_equal(a, b);
    if (a->type != b->type || a->n != b->n)
        return 0;
    switch ((fg_jv_type)a->type) {
    case FG_JV_STRING:
        return memcmp(a->u.s, b->u.s, a->n) == 0;
    case FG_JV_ARRAY:
        for (uint32_t i = 0; i < a->n; i++)
            if (!fg_jv_equal(&a->u.items[i], &b->u.items[i]))
                return 0;
        return 1;
    case FG_JV_OBJECT:
        for (uint32_t i = 0; i < a->n; i++) {
            const fg_jv_member *m = &a->u.members[i];
            if (!fg_jv_equal(&m->value, fg_jv_getn(b, m->key, m->key_len)))
                return 0;
        }
        return 1;
    default:
        return 1; /* null, true, false: the type says it all */
    }
}

json_t *fg_jv_to_json(const fg_jv *v)
{
    if (!v)
        return NULL;
    switch ((fg_jv_type)v->type) {
    case FG_JV_NULL:
        return json_null();
    case FG_JV_TRUE:
        return json_true();
    case FG_JV_FALSE:
        return json_false();
    case FG_JV_INTEGER:
        return json_integer(fg_jv_integer(v));
    case FG_JV_REAL:
        return json_real(fg_jv_number(v));
    case FG_JV_STRING:
        return json_stringn_nocheck(v->u.s, v->n);
    case FG_JV_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < v->n; i++) {
            if (json_array_append_new(a, fg_jv_to_json(&v->u.items[i])) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case FG_JV_OBJECT: {
        json_t *o = json_object();
        for (uint32_t i = 0; o && i < v->n; i++) {
            const fg_jv_member *m = &v->u.members[i];
            if (json_object_setn_new_nocheck(o, m->key, m->key_len,
                                             fg_jv_to_json(&m->value)) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    }
    return NULL;
}

char *fg_jv_dump(fg_arena *arena, const fg_jv *v)
{
    json_t *j = fg_jv_to_json(v);
    if (!j)
        return NULL;
    size_t len = 0;
    char *text = fg_json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY, &len);
    json_decref(j);
    if (!text)
        return NULL;
    char *copy = fg_arena_strndup(arena, text, len);
    free(text);
    return copy;
}

int fg_jv_from_json(fg_arena *arena, const json_t *j, const fg_jv **out)
{
    *out = NULL;
    if (!j)
        return FG_EUSAGE;
    size_t len = 0;
    char *text = fg_json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY, &len);
    if (!text)
        return FG_ENOMEM;
    fg_jr_error e;
    int rc = fg_jr_parse(arena, text, len, out, &e);
    free(text);
    return rc;
}
