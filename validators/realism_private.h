/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism_private.h: what the realism rule files share: the rule and role
 * numbers, the loaded tables, the per-patient index the rules read, and the
 * tally.
 */
#ifndef REALISM_PRIVATE_H
#define REALISM_PRIVATE_H

#include <stdint.h>

#include "fhir/base/fg_hash.h"
#include "fhir/base/fg_tsv.h"
#include "validators/fg_realism.h"

/* The rules, in the order of the report; rz_rule_ids in realism.c names them. */
enum {
    RZ_MED_ACE_ARB, RZ_MED_ARNI_ACE, RZ_MED_SAME_CLASS, RZ_MED_NSAID, RZ_MED_METFORMIN,
    RZ_MED_SOLID_CHILD, RZ_MED_NEVER_ENDS, RZ_MED_TERATOGEN,
    RZ_PREG_CAESAREAN, RZ_PREG_DELIVERY_CODE,
    RZ_LAB_CREAT_JUMP, RZ_LAB_EGFR, RZ_LAB_HCT_HB, RZ_LAB_CKD_STAGE,
    RZ_DX_OBESITY, RZ_DX_WEIGHT_JUMP, RZ_DX_HTN,
    RZ_DEATH_NO_CAUSE, RZ_DEATH_NO_CARE,
    RZ_TIME_OFF_HOURS, RZ_TIME_SAME_DAY, RZ_TIME_SPLIT_IMM,
    RZ_VAX_ZOSTER_LIVE, RZ_VAX_HPV4, RZ_VAX_HPV3,
    RZ_CHILD_HEAD,
    /* metrics */
    RZ_M_BMI_PILEUP, RZ_M_ED_RATE, RZ_M_ADMIT_RATE, RZ_M_ADMIT_OTHER,
    RZ_M_PREG_TDAP, RZ_M_PREG_GAIN,
    RZ_M_COVID, RZ_M_RSV, RZ_M_ZOSTER_REC, RZ_M_CHILD_MMR, RZ_M_CHILD_DTAP,
    RZ_M_COLORECTAL, RZ_M_MAMMOGRAPHY, RZ_M_CERVICAL, RZ_M_LIPID, RZ_M_DM_SCREEN,
    RZ_M_DEPRESSION, RZ_M_STATIN_DM, RZ_M_GERD, RZ_M_AF_ANTICOAG, RZ_M_AF_DOAC,
    RZ_M_CHILD_BMI_LOW, RZ_M_CHILD_BMI_HIGH,
    RZ_M_NOTE_WORDS, RZ_M_NOTE_SOAP, RZ_M_NOTE_DISTINCT,
    RZ_N_RULES
};
#define RZ_FIRST_METRIC RZ_M_BMI_PILEUP

/* The roles of realism_codes.tsv; rz_role_names in realism.c names them. */
enum {
    RZ_R_CREAT, RZ_R_EGFR, RZ_R_HB, RZ_R_HCT, RZ_R_BMI, RZ_R_WEIGHT, RZ_R_HEIGHT, RZ_R_BP_PANEL,
    RZ_R_SYS, RZ_R_DIA, RZ_R_HBA1C, RZ_R_GLUCOSE, RZ_R_LIPID, RZ_R_PHQ, RZ_R_HEAD, RZ_R_STOOL,
    RZ_R_CERVICAL, RZ_R_COLONOSCOPY, RZ_R_MAMMO, RZ_R_CKD, RZ_R_HF, RZ_R_OBESITY, RZ_R_HTN,
    RZ_R_PREGNANCY, RZ_R_DIABETES, RZ_R_GERD, RZ_R_AF, RZ_R_DELIVERY, RZ_R_CAESAREAN,
    RZ_R_NOT_PROCEDURE, RZ_R_HOSPICE, RZ_R_SUDDEN, RZ_R_TDAP, RZ_R_ZOSTER_LIVE, RZ_R_ZOSTER_REC,
    RZ_R_HPV4, RZ_R_HPV, RZ_R_COVID, RZ_R_RSV, RZ_R_MMR, RZ_R_DTAP, RZ_R_FORM_SOLID,
    RZ_R_FORM_CHILD_OK, RZ_R_NOTE_S, RZ_R_NOTE_A, RZ_R_NOTE_P, RZ_R_UNKNOWN_CAUSE,
    RZ_N_ROLES
};
/* A head circumference may read this much below the last one: the technical
 * error of measurement between observers (WHO MGRS reliability study,
 * Acta Paediatr Suppl 2006;450:38-46: about 0.2-0.3 cm). */
#define RZ_HEAD_TEM_CM 0.3
/* Visits further apart than this end a record's observed care (rates per person-year). */
#define RZ_CARE_GAP_DAYS 1096
#define RZ_BIT(role) ((uint64_t)1 << (role))

/* Drug class flags (drug_classes.tsv). */
#define RZ_F_TERATOGEN 1u
#define RZ_F_STRENGTHS_OK 2u
#define RZ_F_CLASS_MULTI_OK 4u

typedef struct rz_code {
    int role;
    const char *system, *code, *pattern; /* pattern: display part (code NULL) */
    double lo, hi;                       /* CKD stage band; NaN when none */
} rz_code;

typedef struct rz_ingredient {
    const char *name;
    int cls; /* index into rules->classes */
    unsigned flags;
} rz_ingredient;

typedef struct rz_target {
    const char *id, *category, *description, *source;
    int is_metric;
    double min, max, scale, gate; /* NaN when empty */
} rz_target;

typedef struct rz_band {
    double lo, hi, gain_min, gain_max;
} rz_band;

typedef struct rz_lms {
    int sex; /* fg_sex */
    double agemos, l, m, s;
} rz_lms;

struct fg_realism_rules {
    fg_tsv *tabs[6];
    rz_code *codes;
    size_t n_codes;
    rz_ingredient *ings;
    size_t n_ings;
    const char **classes; /* class names, index = rz_ingredient.cls */
    size_t n_classes;
    int cls_ace, cls_arb, cls_arni, cls_nsaid, cls_biguanide, cls_statin, cls_ppi, cls_h2,
        cls_doac, cls_vka;
    rz_target targets[RZ_N_RULES];
    rz_band gwg[8];
    size_t n_gwg;
    rz_lms *lms;
    size_t n_lms;
    char tz_state[64][3];
    int tz_offset[64];
    int tz_dst[64]; /* observes daylight saving time */
    size_t n_tz;
};

#define RZ_MAX_REASONS 48
typedef struct rz_count {
    long patients, occurrences;
    double num, den;
    int n_examples;
    fg_realism_example ex[FG_REALISM_EXAMPLES];
} rz_count;

struct fg_realism_tally {
    long patients;
    rz_count c[RZ_N_RULES];
    fg_hashset words, texts;
    char reasons[RZ_MAX_REASONS][80];
    long reason_n[RZ_MAX_REASONS];
    size_t n_reasons;
    int rc; /* first FG_ENOMEM */
};

/* A dated value of one role. */
typedef struct rz_point {
    fg_time t;
    double v, v2; /* v2: diastolic of a blood pressure */
} rz_point;

typedef struct rz_series {
    rz_point *v;
    size_t n, cap;
} rz_series;

/* A medication order with its classes (up to 4) and its active span. */
typedef struct rz_med {
    const fg_medication *m;
    fg_time start, end; /* end: the order's end, else death or the record's end */
    int cls[4];
    int n_cls;
    unsigned flags;
    const char *ing; /* first ingredient found */
} rz_med;

/* One patient under check. */
typedef struct rz_ctx {
    const fg_realism_rules *r;
    const fg_history *h;
    fg_realism_tally *t;
    long hits[RZ_N_RULES];
    fg_time end;          /* death, else the latest time in the record */
    fg_time first;        /* the start of observed care (find_span in realism_index.c) */
    int tz;               /* local standard-time offset, seconds */
    int dst;              /* the state observes daylight saving time */
    rz_series s[RZ_R_NOTE_P + 1]; /* observation series by role (sorted by time) */
    rz_med *meds;
    size_t n_meds;
    uint64_t *cond_roles; /* per condition */
    int rc;
} rz_ctx;

/* realism.c */
uint64_t rz_roles(const fg_realism_rules *r, const fg_term *t);
const rz_code *rz_code_of(const fg_realism_rules *r, int role, const fg_term *t);
void rz_hit(rz_ctx *c, int rule, fg_time when, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void rz_metric(rz_ctx *c, int rule, double num, double den);
void rz_admission(rz_ctx *c, const char *reason);
int rz_age(const rz_ctx *c, fg_time t);
int rz_has_text(const char *hay, const char *needle); /* case-insensitive */
/* Index of the last point of s at or before t (-1 when none). */
long rz_before(const rz_series *s, fg_time t);
/* Is a condition of this role active (onset <= t < abatement) at t? */
int rz_condition_at(const rz_ctx *c, int role, fg_time t);
/* The earliest onset of a condition of the role (FG_TIME_NONE when none). */
fg_time rz_first_onset(const rz_ctx *c, int role);

/* realism_index.c: build and drop the per-patient index. */
int rz_index(rz_ctx *c);
void rz_index_free(rz_ctx *c);
int rz_local_hour(const rz_ctx *c, fg_time t);
int64_t rz_local_day(const rz_ctx *c, fg_time t);

/* The rule files. */
void rz_check_meds(rz_ctx *c);
void rz_check_pregnancy(rz_ctx *c);
void rz_check_labs(rz_ctx *c);
void rz_check_diagnoses(rz_ctx *c);
void rz_check_care(rz_ctx *c);     /* hospital, death, timing */
void rz_check_vaccines(rz_ctx *c);
void rz_check_prevention(rz_ctx *c);
void rz_check_children(rz_ctx *c);
void rz_check_notes(rz_ctx *c);

/* realism_load.c */
int rz_load_tables(fg_realism_rules *r, const char *datadir, fg_error *err);

#endif
