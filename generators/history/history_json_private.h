/* SPDX-License-Identifier: Apache-2.0 */
/*
 * history_json_private.h: what the parser (history_json.c) and the writer
 * (history_json_write.c) of the history's JSON form share: the member tables
 * that describe each kind of JSON object. Not installed.
 */
#ifndef FG_HISTORY_JSON_PRIVATE_H
#define FG_HISTORY_JSON_PRIVATE_H

#include <stddef.h>

#include "generators/history/fg_history.h"

#define HISTORY_VERSION "1"
#define MAX_ID_CHARS 64
#define MAX_PER_DAY 100
#define MAX_DOSE 1000          /* units of one medication dose */
#define MAX_QUANTITY 100000    /* units of one dispense */
#define MAX_REFILLS 99
#define MAX_SUPPLY_DAYS 3650
#define MAX_DECIMALS 6
#define MAX_ABS_VALUE 9e12 /* what fg_jw_dec writes faithfully */

/* What an id names; the index into hj_kind_names and hj_list_names. */
enum {
    K_NONE = -1,
    K_PATIENT,
    K_ORGANIZATION,
    K_PRACTITIONER,
    K_LOCATION,
    K_ENCOUNTER,
    K_CONDITION,
    K_OBSERVATION,
    K_REPORT,
    K_MEDICATION,
    K_IMMUNIZATION,
    K_PROCEDURE,
    K_ALLERGY,
    K_CAREPLAN,
    K_NOTE,
};

extern const char *const hj_kind_names[];  /* "encounter" */

extern const char *const hj_list_names[];  /* "encounters" */

typedef enum fkind {
    F_VERSION, /* "fhirgen_history": "1", not stored */
    F_STR,     /* const char *; non-empty unless NUL ("" then reads as NULL) */
    F_ID,      /* const char *, a FHIR id, unique across the history */
    F_REF,     /* const char *, the id of an earlier object of kind `ref` */
    F_IDS,     /* const char ** at off, size_t at off2: ids of kind `ref` */
    F_SSN,     /* const char *, 999-NN-NNNN */
    F_OFFSET,  /* int minutes east of UTC, written "+hh:mm" / "-hh:mm" */
    F_DATE,    /* fg_time from YYYY-MM-DD */
    F_TIME,    /* fg_time from YYYY-MM-DDThh:mm:ssZ; NUL gives FG_TIME_NONE */
    F_ENUM,    /* int, index into `names`; NUL gives -1 */
    F_BOOL,    /* int 0/1 */
    F_INT,     /* int in [lo, hi]; NUL gives -1 */
    F_NUM,     /* double; NUL gives NAN */
    F_OBJ,     /* a struct of kind `obj` at off; NUL gives zeroes */
    F_ARR,     /* items of `obj` at off (pointer), count at off2 */
    F_LIST,    /* an FG_VEC of `obj` at off */
} fkind;

enum {
    NUL = 1u << 0,  /* may be null (or missing) */
    LIFE = 1u << 1, /* a time within the patient's life */
    TEXT = 1u << 2, /* long text: FG_MAX_NOTE_BYTES instead of FG_MAX_STRING_BYTES */
};

struct ctx;
typedef struct obj_spec obj_spec;

typedef struct field {
    const char *name;
    fkind kind;
    unsigned flags;
    size_t off;
    size_t off2;               /* count of F_ARR / F_IDS; earlier time of F_TIME */
    const char *after;         /* F_TIME: the member this one may not precede */
    const char *const *names;  /* F_ENUM, NULL-terminated */
    int ref;                   /* F_REF, F_IDS: kind of the object named */
    int lo, hi;                /* F_INT */
    const obj_spec *obj;       /* F_OBJ, F_ARR, F_LIST */
} field;

struct obj_spec {
    const field *fields;
    size_t n;
    size_t size;
    int kind;                                      /* K_* for objects with an id */
    int (*check)(struct ctx *c, void *item);       /* after reading; may be NULL */
    int (*empty)(const void *item);                /* a nullable object written as null */
    int (*absent)(const void *item, const field *f); /* a member written as null */
};

#define AT(base, off, T) ((T *)((char *)(base) + (off)))
#define CAT(base, off, T) ((const T *)((const char *)(base) + (off)))

/* An FG_VEC(T) seen without its item type; read and written with memcpy. */
typedef struct vec_any {
    void *v;
    size_t n, cap;
} vec_any;

extern const char *const hj_kind_value_names[]; /* "none", "quantity", "code" */
extern const obj_spec hj_history_spec;            /* the whole document */
extern const obj_spec hj_observation_spec;

/* 1 when a term is absent (no code and no display). */
int hj_term_empty(const void *item);

/* Checks across the members of one object, run by the parser after reading it. */
int hj_obs_check(struct ctx *c, void *item);
int hj_allergy_check(struct ctx *c, void *item);
int hj_med_check(struct ctx *c, void *item);

#endif
