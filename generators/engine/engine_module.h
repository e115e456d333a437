/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_module.h: a chronic condition module as the engine holds it once
 * read from data/conditions/<name>.json (see docs/conditions.md for the
 * file format). Shared by the loader (engine_module.c) and the condition
 * pass (engine_conditions.c); nothing else sees it.
 *
 * Every string of a module (names, codes, displays, dosage texts) points
 * into the parsed JSON document, which the module set keeps alive until
 * eng_modules_free(); arrays are allocated once at load time. Generation
 * only reads them.
 */
#ifndef ENGINE_MODULE_H
#define ENGINE_MODULE_H

#include <stddef.h>

#include "generators/engine/engine_private.h"

#define MOD_MAX_LABS 24
#define MOD_MAX_PANELS 4
#define MOD_MAX_LINES 6
#define MOD_MAX_WITH 4
#define MOD_MAX_DRUGS 6
#define MOD_MAX_PROCS 8
#define MOD_MAX_EDGES 8
#define MOD_MAX_BANDS 32
#define MOD_MAX_ACTIVITIES 8

typedef struct mod_dist {
    double mean, sd;
} mod_dist;

typedef struct mod_band {
    int lo, hi; /* ages, inclusive */
    int sex;    /* -1 any, else fg_sex */
    double p;   /* probability 0..1 */
} mod_band;

typedef struct mod_lab {
    const char *key;
    fg_term term;
    const char *unit;
    int decimals;
    fg_obs_category category;
    mod_dist untreated, treated;
    double min, max;
    int panel;        /* index into panels, or -1 */
    int at_followup;  /* also measured at follow-up visits */
    int every_nth;    /* at every n-th follow-up visit (1 = each) */
} mod_lab;

typedef struct mod_panel {
    const char *key;
    fg_term term;
} mod_panel;

typedef struct mod_drug {
    fg_term term;
    const char *dosage;
    int per_day;
    int as_needed;
    double weight;
} mod_drug;

typedef struct mod_line {
    mod_drug drugs[MOD_MAX_DRUGS];
    size_t n_drugs;
    double p_start;       /* probability the line is started when due */
    int when_uncontrolled;/* only added when the earlier lines do not control it */
    double after_months;  /* earliest, counted from diagnosis */
    double p_switch;      /* intolerance: stopped and another drug of the line started */
    double course_months; /* 0 = long term; else completed after this */
    const char *with_any[MOD_MAX_WITH]; /* started only with one of these modules (none: any) */
    size_t n_with;
    int age_lo, age_hi;   /* started only within these ages (-1: no bound) */
} mod_line;

enum { MOD_AT_DIAGNOSIS = 0, MOD_AT_FOLLOWUP = 1 };

typedef struct mod_proc {
    fg_term term;
    int at;       /* MOD_AT_* */
    double p;     /* probability at each occasion */
    int minutes;
} mod_proc;

/* A dependency between two modules: `from` raises the risk of the module
 * holding the edge. ordered: the onset follows the onset of `from`
 * (a complication). */
typedef struct mod_edge {
    size_t from;
    double rr;
    int ordered;
} mod_edge;

typedef struct mod_vitals {
    eng_vital_shift untreated, treated;
} mod_vitals;

typedef struct eng_module {
    const char *name;
    const char *file;  /* data/conditions/<name>.json, for messages */
    fg_term term;
    int sex;           /* -1 any */
    int min_age, max_age;
    mod_band bands[MOD_MAX_BANDS];
    size_t n_bands;
    double onset_max_years; /* 0: onset anywhere from min_age */
    double resolve_min, resolve_max; /* years; 0/0 lifelong */
    double resolved_extra;  /* extra share with a past, resolved episode */
    double adherence;
    double control_first_line; /* share controlled by the first line alone */
    double response_months;
    double confirm_days;       /* diagnosis this long after a first abnormal visit (0: at once) */
    mod_lab labs[MOD_MAX_LABS];
    size_t n_labs;
    mod_panel panels[MOD_MAX_PANELS];
    size_t n_panels;
    mod_line lines[MOD_MAX_LINES];
    size_t n_lines;
    mod_proc procs[MOD_MAX_PROCS];
    size_t n_procs;
    mod_edge edges[MOD_MAX_EDGES]; /* incoming: risk factors */
    size_t n_edges;
    double followup_months; /* 0: no follow-up visits */
    fg_term enc_dx, enc_fu;
    mod_vitals vitals;
    double bmi_lo, bmi_hi;     /* BMI range while active (0/0: none) */
    double absent_bmi_max;     /* BMI kept below this without it (0: none) */
    double mortality_rr;
    fg_term careplan;          /* code NULL when none */
    fg_term activities[MOD_MAX_ACTIVITIES];
    size_t n_activities;
} eng_module;

struct eng_modules {
    eng_module *mods; /* in dependency order: risk factors first */
    size_t n;
    const char **sorted; /* names, sorted */
    void **docs;         /* parsed JSON documents (json_t *) */
    size_t n_docs;
};

/* The module's probability for age and sex (0 when none applies). */
double mod_band_p(const eng_module *m, int age, int sex);

/* Read every .json module of the folder dir into a new set; terms are
 * checked against terms when not NULL. Errors name the file and the path
 * inside it. */
int eng_modules_read(const char *dir, const fg_terminology *terms, struct eng_modules **out,
                     fg_error *err);

#endif
