/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_error.h: the one error vocabulary of libfhirgen.
 *
 * Every fallible function returns an int: FG_OK (0) on success or one of the
 * negative codes below. The numbers are stable: new codes are appended, none
 * is ever renumbered. Details travel in a caller-supplied fg_error, in the
 * manner of jansson's json_error_t: where the problem is (a file, a FHIR or
 * JSON path, a line) and a message a person can act on.
 */
#ifndef FG_ERROR_H
#define FG_ERROR_H

#include <stddef.h>

enum {
    FG_OK = 0,
    FG_EINVALID = -1,  /* input does not follow its format or schema */
    FG_ENOTFOUND = -2, /* a file, code, condition or resource is unknown */
    FG_ENOMEM = -3,    /* allocation failed */
    FG_EIO = -4,       /* reading or writing a file failed */
    FG_ELIMIT = -5,    /* a named limit (FG_MAX_*, in its module's header) was exceeded */
    FG_ENETWORK = -6,  /* a transport-level failure */
    FG_EUSAGE = -7,    /* a caller passed arguments that cannot work */
    FG_ECANCELED = -8, /* the caller asked to stop */
    FG_EINTERNAL = -9, /* a bug: an invariant did not hold */
};

#define FG_ERROR_WHERE_MAX 256
#define FG_ERROR_TEXT_MAX 512

/* Where and why a call failed. `where` is a path such as
 * `encounters[3].start` or `data/conditions/asthma.json`; `line` is 0 when
 * the input has no lines worth naming. */
typedef struct fg_error {
    int code;
    int line;
    char where[FG_ERROR_WHERE_MAX];
    char text[FG_ERROR_TEXT_MAX];
} fg_error;

/* A short English description of an FG_* code; never NULL. */
const char *fg_strerror(int code);

/* Clear an fg_error; accepts NULL. */
void fg_error_clear(fg_error *err);

/* Fill err (when not NULL) and return code, so a failure reads
 * `return fg_error_set(err, FG_EINVALID, path, "not a date: %s", s);`. */
int fg_error_set(fg_error *err, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefix err->where with `prefix` (joined with '.' unless the existing
 * path starts with '['), so nested parsers can build full paths. */
void fg_error_prefix(fg_error *err, const char *prefix);

#endif
