/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_jw.h: a streaming JSON writer into an fg_buf.
 *
 * The output path of fhirgen: building a resource as jansson objects and
 * dumping it costs several times what writing the same bytes directly does.
 * The writer tracks where commas go; keys are written as given (callers pass
 * plain ASCII literals), string values are escaped. Output is compact JSON
 * in the order the calls are made, so it is deterministic by construction.
 */
#ifndef FG_JW_H
#define FG_JW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fhir/base/fg_buf.h"

#define FG_JW_MAX_DEPTH 64

typedef struct fg_jw {
    fg_buf *out;
    int depth;
    uint64_t need_comma; /* bit d: depth d already holds a member */
    int after_key;       /* a key was just written: no comma before the value */
} fg_jw;

void fg_jw_init(fg_jw *w, fg_buf *out);

void fg_jw_obj(fg_jw *w);     /* { */
void fg_jw_obj_end(fg_jw *w); /* } */
void fg_jw_arr(fg_jw *w);     /* [ */
void fg_jw_arr_end(fg_jw *w); /* ] */

/* "key": (the next call writes its value) */
void fg_jw_key(fg_jw *w, const char *key);

void fg_jw_str(fg_jw *w, const char *s);
void fg_jw_strn(fg_jw *w, const char *s, size_t n);
void fg_jw_int(fg_jw *w, int64_t v);
/* A decimal with exactly `places` digits after the point (0..6). */
void fg_jw_dec(fg_jw *w, double v, int places);
void fg_jw_bool(fg_jw *w, int v);
void fg_jw_null(fg_jw *w);
/* Already-serialised JSON, written as one value. */
void fg_jw_raw(fg_jw *w, const char *json, size_t n);
/* A string value holding the base64 of p[0..n). */
void fg_jw_base64(fg_jw *w, const void *p, size_t n);

/* Key-value shorthands; fg_jw_kv_str skips the member when s is NULL. */
void fg_jw_kv_str(fg_jw *w, const char *key, const char *s);
void fg_jw_kv_int(fg_jw *w, const char *key, int64_t v);
void fg_jw_kv_bool(fg_jw *w, const char *key, int v);
void fg_jw_kv_obj(fg_jw *w, const char *key); /* "key":{ */
void fg_jw_kv_arr(fg_jw *w, const char *key); /* "key":[ */

/* Append s to b with JSON string escaping, without the quotes. */
void fg_json_escape(fg_buf *b, const char *s, size_t n);

/* json_dumps(j, flags) that fails on memory: the text (free() it), its
 * length into *len when len is not NULL, or NULL. json_dumps itself drops an
 * object key when its buffer cannot grow, and still returns the text. */
char *fg_json_dumps(const json_t *j, size_t flags, size_t *len);

#endif
