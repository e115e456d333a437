/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_private.h: what the parts of the built-in engine share.
 *
 * The engine is a sequence of passes over one patient (see engine.c):
 *
 *   demographics -> condition onsets -> physiology -> death (and its cause)
 *   -> lifetime schedule (wellness visits, vitals, immunizations) -> review
 *   of children's blood pressure -> preventive screenings at the adult
 *   wellness visits -> chronic care (diagnosis, labs, medications,
 *   follow-up, procedures, care plans) -> acute episodes, allergies,
 *   pregnancies -> ED visits, hospital stays and the visits before death ->
 *   medication reconciliation -> clinic hours (visits moved into office
 *   hours of the patient's local time, one clinic visit a day) -> notes
 *
 * Each pass reads the state earlier passes left in eng_gen and appends to
 * the history. Every clinical code comes from a data file (the engine
 * vocabulary data/engine/codes.tsv, condition modules, episode tables),
 * never from C source, so a test can check every code the engine can emit.
 */
#ifndef FG_ENGINE_PRIVATE_H
#define FG_ENGINE_PRIVATE_H

#include "fhir/base/fg_rng.h"
#include "fhir/term/fg_term.h"
#include "fhir/base/fg_tsv.h"
#include "generators/engine/fg_engine.h"

/* Limits of the engine's data files (a larger file is refused with FG_ELIMIT) and of its draws. */
#define FG_MAX_MODULE_BYTES (4u << 20)     /* one condition module file */
#define FG_MAX_MODULES 256                 /* condition modules loaded */
#define FG_MAX_DATA_FILE_BYTES (16u << 20) /* one engine data table */
#define FG_MAX_CANDIDATE_ATTEMPTS 5000     /* patients drawn to find one meeting --condition */
#define FG_SSN_SPACE 989901                /* 99 groups x 9999 serials of the 999 area */

#define ENG_MAX_CONDS 64

struct eng_demo;     /* demographic tables: engine_demo.c */
struct eng_modules;  /* condition modules: engine_conditions.c */
struct eng_episodes; /* acute episodes, allergies, pregnancy: engine_episodes.c */
struct eng_vocab;    /* the engine vocabulary: engine_vocab.c */
struct eng_module;
struct eng_life;     /* growth curve, vital-sign references */
struct eng_vaccines; /* the immunization schedule */
struct eng_phys_data; /* physiology parameters, growth charts, stages: engine_physiology.c */
struct eng_prev;     /* preventive screenings: engine_preventive.c */
struct eng_formulary; /* drugs the engine prescribes: engine_formulary.c */
struct json_t;

/* Read the JSON file at `path` (at most `max` bytes) into *out, a new
 * reference. Duplicate keys are refused. On failure err names `shown` (the
 * file under the data folder) and, for malformed JSON, line and column;
 * FG_EINVALID, FG_ELIMIT, FG_ENOTFOUND, FG_EIO or FG_ENOMEM. */
int eng_json_load(const char *path, const char *shown, size_t max, struct json_t **out,
                  fg_error *err);

struct fg_engine {
    fg_cohort_spec spec; /* strings owned by the engine */
    char *datadir;
    fg_terminology *terms;
    struct eng_vocab *vocab;
    struct eng_demo *demo;
    struct eng_modules *modules;
    struct eng_episodes *episodes;
    struct eng_life *life; /* lifetime schedule tables: engine_lifetime.c (added by the core) */
    struct eng_phys_data *phys; /* engine_physiology.c */
    struct eng_prev *prev; /* screenings: engine_preventive.c */
    struct eng_hours *hours; /* clinic hours and kinds of visit: engine_clinic.c */
    struct eng_vaccines *vaccines; /* the immunization schedule: engine_vaccines.c */
    struct eng_hospital *hospital; /* ED visits, admissions, causes of death: engine_hospital*.c */
    struct eng_formulary *formulary;
};

/* One chronic condition of the patient being generated. */
typedef struct eng_cond {
    const struct eng_module *module;
    fg_time onset;      /* when it began */
    fg_time resolved;   /* FG_TIME_NONE when lifelong */
    double severity;    /* 0..1, drawn at onset */
    int adherent;       /* takes the medication as prescribed */
    const char *condition_id; /* id of its fg_condition once written */
    const fg_term *dx_term;   /* its term when diagnosed, if a stage; NULL: the module's */
} eng_cond;

/* Shifts that conditions and their treatment apply to vital signs at a time. */
typedef struct eng_vital_shift {
    double systolic, diastolic; /* mmHg */
    double heart_rate;          /* /min */
    double resp_rate;           /* /min */
    double bmi;                 /* kg/m2 */
    double spo2;                /* % */
} eng_vital_shift;

/* The patient's latent physiology, drawn once (engine_physiology.c). */
typedef struct eng_phys {
    uint64_t seed;      /* visit noise: a function of (seed, measure, day) */
    double egfr_young;  /* eGFR before the decline with age */
    double egfr_floor;  /* lowest eGFR without kidney disease */
    double egfr_onset;  /* eGFR at the onset of kidney disease (0: none) */
    double ckd_slope;   /* eGFR lost per year after that onset */
    double z_a1c, z_ldl, z_hdl, z_tg, z_hb, z_acr; /* the patient's own levels */
    double child_z;     /* BMI-for-age z-score (CDC 2000) */
    double head_z;      /* head circumference-for-age z-score */
    double bmi_u;       /* place in the adult BMI distribution, 0..1 */
    double bmi_lean, bmi_obese; /* adult BMI levels without and with obesity */
    double phase[3];    /* of the slow drift of weight and BMI-for-age */
    double bp_offset_child; /* bp_offset as drawn, before a later hypertension raised it */
} eng_phys;

/* The state of one patient while it is generated. */
typedef struct eng_gen {
    const fg_engine *e;
    fg_history *h;
    fg_rng rng;          /* the patient's root stream; passes fork from it */
    uint64_t index;
    fg_time end;          /* the cohort's "today" */
    fg_time window_start; /* detailed history starts here (not before birth) */
    fg_time stop;         /* min(end, death) */
    /* care team, set by demographics */
    const char *org_id;   /* primary care organisation */
    const char *pract_id; /* primary care clinician */
    const char *loc_id;   /* primary care location */
    const char *hosp_org_id, *hosp_pract_id, *hosp_loc_id; /* hospital for ED/inpatient */
    /* state */
    eng_cond conds[ENG_MAX_CONDS];
    size_t n_conds;
    int smoking;          /* 0 never, 1 former, 2 current (adults) */
    double adult_height;  /* cm */
    double bmi_base;      /* adult BMI before condition effects */
    /* added by the core: */
    fg_rng id_rng;        /* the patient's id stream (eng_new_id) */
    int clinic;           /* index of the primary care clinic in the state directory */
    double bp_offset;     /* the patient's own systolic offset from the reference, mmHg */
    int raised_bp;        /* the vital signs being taken make a hypertension diagnosis */
    double child_bmi_factor; /* child BMI relative to the reference curve */
    int team_added[2];    /* primary care / hospital team already in the history */
    /* cause of death, set by eng_death_cause */
    int death_cause;                       /* index in the hospital tables */
    const struct eng_module *death_module; /* the condition it comes from, or NULL */
    eng_phys phys;        /* the latent physiology: engine_physiology.c */
} eng_gen;

/* ---- engine.c / engine_demo.c / engine_lifetime.c (core) ---- */

/* A new id for a resource of this patient (UUID; seeded unless random_ids),
 * in the history's arena. NULL when out of memory. */
const char *eng_new_id(eng_gen *g);

/* Append an encounter with the primary care team (or the hospital team for
 * FG_CLASS_EMER and FG_CLASS_IMP). reason may be NULL. */
fg_encounter *eng_add_encounter(eng_gen *g, fg_time start, int minutes, fg_encounter_class cls,
                                const fg_term *type, const fg_term *reason);

/* Add a set of vital signs taken at encounter enc. */
int eng_add_vitals(eng_gen *g, const fg_encounter *enc);

/* A term of the engine vocabulary by key (e.g. "vital.systolic"); aborts
 * the patient with FG_EINTERNAL in err when the key is unknown. */
int eng_vocab_term(const fg_engine *e, const char *key, fg_term *out, const char **unit,
                   fg_error *err);

int eng_vocab_load(fg_engine *e, fg_error *err);

/* Read the table <e->datadir>/<rel> with fg_tsv_load (engine_vocab.c).
 * On success *out is a new table the caller owns (fg_tsv_free); its cells
 * live as long as the table, so histories may borrow them. Errors as
 * fg_tsv_load's, naming the file. */
int eng_table_load(const fg_engine *e, const char *rel, fg_tsv **out, fg_error *err);
void eng_vocab_free(struct eng_vocab *v);
int eng_demo_load(fg_engine *e, fg_error *err);
void eng_demo_free(struct eng_demo *d);
/* The life table's yearly probability of death at `age` for fg_sex `sex`
 * (ages past the table use its open interval). */
double eng_demo_qx(const struct eng_demo *d, int sex, int age);
int eng_demographics(eng_gen *g, fg_error *err);
/* Add the patient's primary care team (hospital = 0) or state hospital team
 * (hospital = 1) to the history's organizations, practitioners and
 * locations, once; eng_add_encounter calls it. FG_OK or FG_ENOMEM. */
int eng_demo_add_team(eng_gen *g, int hospital, fg_error *err);
int eng_lifetime_load(fg_engine *e, fg_error *err);
/* Draw the patient's own constants (adult height, BMI base, smoking, blood
 * pressure offset); runs after demographics, before condition sampling, so
 * condition modules can read them. */
void eng_lifetime_traits(eng_gen *g);
void eng_lifetime_free(struct eng_life *l);
/* The number in the `value` column of the row whose `key` is key, in a
 * key/value table; FG_EINVALID naming the file when absent or not a number. */
int eng_param(const fg_tsv *t, const char *key, double *out, fg_error *err);
int eng_death(eng_gen *g, fg_error *err);
int eng_lifetime(eng_gen *g, fg_error *err);

/* ---- engine_conditions.c ---- */

int eng_modules_load(fg_engine *e, fg_error *err);
void eng_modules_free(struct eng_modules *m);
/* Draw the patient's chronic conditions with onsets over the whole life up
 * to g->end. Returns 1 when the patient meets the cohort's --condition
 * filter, 0 when not (the engine then draws another candidate), <0 on error. */
int eng_conditions_sample(eng_gen *g, fg_error *err);
/* Relative risk of death at time t from the patient's conditions (>= 1). */
double eng_conditions_mortality(const eng_gen *g, fg_time t);
/* Vital-sign shifts at time t from conditions and their treatment. */
void eng_conditions_vitals(const eng_gen *g, fg_time t, eng_vital_shift *out);
/* Write diagnoses, labs, medications, follow-up, procedures, care plans. */
int eng_conditions_care(eng_gen *g, fg_error *err);
/* Module names, sorted. */
size_t eng_modules_count(const struct eng_modules *m);
const char *eng_modules_name(const struct eng_modules *m, size_t i);

/* The level at t of the lab `key` of the patient's active conditions whose
 * module measures it (the module farthest from `healthy` when several do),
 * at z-score z and the treatment effect of that time, plus the visit's
 * noise, within the module's range: 1 and *out, or 0 when no active
 * condition measures it. */
int eng_conditions_level(const eng_gen *g, const char *key, fg_time t, double z, double healthy,
                         double noise, double *out);

/* ---- engine_physiology.c ---- */

int eng_phys_load(fg_engine *e, fg_error *err);
void eng_phys_free(struct eng_phys_data *d);
/* Draw the patient's physiology; runs once the conditions are sampled. */
void eng_phys_init(eng_gen *g);
/* The value at t of a lab the physiology owns (creatinine, egfr,
 * microalbumin, hba1c, glucose, ldl, hdl, triglycerides, total_cholesterol,
 * hemoglobin, hematocrit): 1 and *out (rounded as reported); 0 otherwise. */
int eng_phys_lab(const eng_gen *g, const char *key, fg_time t, double *out);
/* eGFR (CKD-EPI 2021) of the creatinine measured on the day of t. */
double eng_phys_egfr(const eng_gen *g, fg_time t);
double eng_phys_egfr_from_creatinine(int male, double age, double creatinine);
/* The stage term of condition c at t (data/tables/condition_stages.tsv), or
 * NULL when its module has no stages. */
const fg_term *eng_phys_stage(const eng_gen *g, const eng_cond *c, fg_time t);
/* When the measure of condition c has reached a more advanced stage at t
 * (rows run from mild to advanced), its record ends at t and a new one with
 * that stage begins at encounter enc. FG_OK or FG_ENOMEM. */
int eng_phys_restage_record(eng_gen *g, eng_cond *c, const char *enc, fg_time t, fg_error *err);
/* BMI at t (height_cm is the height measured then, for infants). */
double eng_phys_bmi(const eng_gen *g, fg_time t, double height_cm);
/* A child's blood pressure for age and sex (AAP 2017 tables): median and SD
 * of systolic, then of diastolic, in out; 0 outside the table's ages. */
int eng_phys_child_bp(const eng_gen *g, double age, double out[4]);
/* A child whose blood pressure was high (AAP 2017) at three visits in a row
 * of the wellness schedule gets the diagnosis at the third. */
int eng_phys_child_bp_review(eng_gen *g, fg_error *err);
/* Head circumference (cm) at t, on the patient's own centile. */
double eng_phys_head(const eng_gen *g, fg_time t);
/* ---- engine_preventive.c ---- */

/* Load data/tables/screenings.tsv and screening_results.tsv into e->prev. */
int eng_preventive_load(fg_engine *e, fg_error *err);
void eng_preventive_free(struct eng_prev *p);
/* Screenings at the adult wellness visits the lifetime pass wrote. */
int eng_preventive(eng_gen *g, fg_error *err);

/* A wellness visit of the lifetime pass, where the vaccines due near it are given. */
typedef struct eng_visit {
    fg_time t;
    size_t enc_index;  /* in the history's encounters (they move only when sorted, at the end) */
    uint32_t vaccines; /* bit per vaccine group given at this visit */
} eng_visit;
#define ENG_FLU_BIT 31 /* the bit of influenza; vaccine groups take the others */

/* Give a vaccine at the wellness visit nearest `due` (within `slack`) that
 * has no dose of its group (bit `vaccine`) yet, else at a visit of its own
 * on `due`. FG_OK or FG_ENOMEM. */
int eng_give(eng_gen *g, fg_rng *r, eng_visit *vs, size_t nv, fg_time due, fg_time slack,
             int vaccine, const fg_term *term, fg_error *err);

/* ---- engine_vaccines.c ---- */

int eng_vaccines_load(fg_engine *e, fg_error *err);
void eng_vaccines_free(struct eng_vaccines *v);
/* The routine immunizations of the schedule in force at each date
 * (data/tables/immunizations.tsv), given at the wellness visits vs. */
int eng_vaccines(eng_gen *g, eng_visit *vs, size_t nv, fg_error *err);

/* ---- engine_clinic.c ---- */

int eng_clinic_load(fg_engine *e, fg_error *err);
void eng_clinic_free(struct eng_hours *c);
/* Give each ambulatory visit with the primary care team a start in the
 * clinic's hours in the patient's local time, and make the clinic visits of
 * one local day one visit (events move with their visit). Runs after every
 * pass that adds encounters, before they are sorted and notes written. */
int eng_clinic(eng_gen *g, fg_error *err);
/* ---- engine_hospital_load.c / engine_hospital.c / engine_death.c ---- */

int eng_hospital_load(fg_engine *e, fg_error *err);
void eng_hospital_free(struct eng_hospital *x);
/* Choose the cause of the death eng_death has just drawn (g->h->patient.death):
 * one of the patient's conditions by its share of the excess risk, else a
 * cause by age from the data file; sets h->death_cause. */
int eng_death_cause(eng_gen *g, fg_rng *r, fg_error *err);
/* The visits that lead to death, then ED visits and admissions by rate. */
int eng_hospital(eng_gen *g, fg_error *err);

/* ---- engine_episodes.c / engine_notes.c ---- */

int eng_episodes_load(fg_engine *e, fg_error *err);
void eng_episodes_free(struct eng_episodes *x);
/* Acute episodes, allergies, pregnancies with prenatal care. */
int eng_episodes(eng_gen *g, fg_error *err);
/* One clinical note per encounter, saying only what the record says. */
int eng_notes(eng_gen *g, fg_error *err);

/* ---- engine_formulary.c / engine_meds.c ---- */

int eng_formulary_load(fg_engine *e, fg_error *err);
void eng_formulary_free(struct eng_formulary *f);
/* Reconcile the medication list once every pass has written its orders, as
 * if it had been reconciled at each change: conflicting orders folded or
 * replaced, forms for young children, allergies, contraindications and
 * pregnancy respected, stops with their reason, long-term orders renewed. */
int eng_meds_reconcile(eng_gen *g, fg_error *err);
/* The patient's eGFR (mL/min/1.73 m2) at time t: the latest eGFR result
 * within the rules' window, else the physiology's (eng_phys_egfr).
 * The one place the medication list learns the kidney function. */
double eng_meds_egfr(const eng_gen *g, fg_time t);

#endif
