/* SPDX-License-Identifier: Apache-2.0 */
/*
 * episodes_private.h: the tables of acute episodes, allergies and pregnancy
 * that engine_episodes.c loads from data/episodes/ and
 * engine_episodes_gen.c draws from. All memory lives in the loader's arena.
 */
#ifndef FG_EPISODES_PRIVATE_H
#define FG_EPISODES_PRIVATE_H

#include "generators/engine/engine_private.h"

/* A value by age band and sex: a yearly rate or a probability. */
typedef struct ep_band {
    int sex; /* -1 any, else fg_sex */
    int age_lo, age_hi; /* inclusive, whole years */
    double value;
} ep_band;

typedef struct ep_setting {
    fg_encounter_class cls;
    fg_term type;
    int min_lo, min_hi; /* visit length in minutes */
} ep_setting;

typedef struct ep_proc {
    double p;
    fg_term term;
} ep_proc;

/* One lab result: a coded value drawn by weight, or a quantity. */
typedef struct ep_result {
    fg_term term;
    fg_term *values; /* coded results */
    double *cum;     /* cumulative weights of values */
    size_t n_values;
    const char *unit; /* quantity results */
    double mean, sd, min, max;
    int decimals;
} ep_result;

typedef struct ep_lab {
    double p;
    int has_panel;
    fg_term panel;
    ep_result *results;
    size_t n_results;
} ep_lab;

typedef struct ep_med_opt {
    double w;
    int fallback;      /* used only when every weighted option is excluded */
    int min_age;       /* years */
    const char *avoid; /* allergy tag that excludes this drug, or NULL */
    fg_term term;
    int days_lo, days_hi;
    const char *dosage;
    int per_day, as_needed;
} ep_med_opt;

typedef struct ep_med {
    double p;
    ep_med_opt *opts;
    size_t n_opts;
} ep_med;

typedef struct ep_episode {
    const char *name;
    ep_band *bands; /* yearly incidence */
    size_t n_bands;
    double p_urgent; /* else the emergency department */
    fg_term diagnosis;
    int lasts_lo, lasts_hi; /* days */
    double fever;           /* chance of a fever at the visit */
    ep_proc *procs;
    size_t n_procs;
    ep_lab *labs;
    size_t n_labs;
    ep_med *meds;
    size_t n_meds;
    double followup_p; /* 0 when no follow-up visit */
    int followup_lo, followup_hi;
    ep_proc *followup_procs;
    size_t n_followup_procs;
} ep_episode;

typedef struct ep_allergy {
    const char *name;
    const char *tag; /* drug class a medication option can avoid, or NULL */
    fg_allergy_category category;
    double prevalence;
    double onset_lo, onset_hi; /* years of age */
    double high_criticality;
    fg_term substance;
    fg_term *reactions;
    double *reaction_cum;
    size_t n_reactions;
    double severity_cum[3];
} ep_allergy;

typedef struct ep_visit {
    int week; /* 0: the first prenatal visit */
    fg_term type;
    ep_proc *procs;
    size_t n_procs;
    int hemoglobin, status;
} ep_visit;

#define EP_MAX_GAIN_BANDS 8

typedef struct ep_delivery {
    double cum;
    int days_lo, days_hi;
    fg_term term;
    const char *skip; /* code of a delivery extra this option never has, or NULL */
} ep_delivery;

typedef struct ep_pregnancy {
    ep_band *rates;
    size_t n_rates;
    ep_band *miscarriage;
    size_t n_miscarriage;
    fg_term condition, miscarriage_condition;
    fg_term status, status_value;
    int first_lo, first_hi; /* gestational week of the first visit */
    fg_term visit_type;
    ep_visit *visits;
    size_t n_visits;
    ep_result hemoglobin;
    double week_mean, week_sd, week_min, week_max;
    fg_term delivery_type;
    ep_delivery *deliveries;
    size_t n_deliveries;
    ep_proc *extras;
    size_t n_extras;
    int postpartum_lo, postpartum_hi;
    fg_term postpartum_type;
    ep_proc *postpartum_procs;
    size_t n_postpartum_procs;
    /* managed pregnancy: Tdap at tdap_lo-tdap_hi weeks, weight gain by BMI band */
    fg_term tdap;
    double tdap_p;
    int tdap_lo, tdap_hi;
    double gain_bmi_lo[EP_MAX_GAIN_BANDS], gain_bmi_hi[EP_MAX_GAIN_BANDS];
    double gain_lo[EP_MAX_GAIN_BANDS], gain_hi[EP_MAX_GAIN_BANDS];
    size_t n_gain;
    double t1_lo, t1_hi;           /* first-trimester gain, kg */
    double gain_pos_mean, gain_pos_sd; /* position in the band's range, 0 low end, 1 high */
    double retained;               /* share of the gain left at the postpartum visit */
} ep_pregnancy;

struct ep_notes; /* note templates: engine_notes.c */

/* Load data/notes/notes.json and compile its templates; *out is new (free
 * with ep_notes_free). Errors name the file and the template. */
int ep_notes_load(const fg_engine *e, struct ep_notes **out, fg_error *err);
/* Accepts NULL. */
void ep_notes_free(struct ep_notes *n);

struct eng_episodes {
    fg_arena arena;
    struct ep_notes *notes;
    ep_setting urgent, emergency, followup;
    ep_episode *episodes;
    size_t n_episodes;
    fg_term allergy_encounter;
    ep_allergy *allergies;
    size_t n_allergies;
    ep_pregnancy pregnancy;
};

#endif
