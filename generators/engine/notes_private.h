/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notes_private.h: what the files of the engine's clinical notes share
 * (prefix nt_).
 *
 * The notes are loaded once from data/notes/notes.json (the phrasings of each
 * sentence, "slots") and data/notes/vocabulary.json (short names of labs,
 * drug wording, abbreviations, clinical phrases per condition). A note is
 * written into a fixed scratch buffer (nt_buf) from the record only:
 * engine_notes_load.c reads the files, engine_notes_words.c names things
 * (labs, drugs, conditions, dates), engine_notes.c writes ambulatory and
 * preventive notes and engine_notes_hosp.c emergency, admission, discharge
 * and death notes.
 */
#ifndef FG_NOTES_PRIVATE_H
#define FG_NOTES_PRIVATE_H

#include "fhir/base/fg_arena.h"
#include "fhir/base/fg_hash.h"
#include "fhir/base/fg_rng.h"
#include "generators/engine/engine_private.h"
#include "generators/history/fg_history.h"

enum {
    NT_V_LIT = 0, NT_V_AGE, NT_V_PERSON, NT_V_DATE, NT_V_END_DATE, NT_V_VISIT, NT_V_LIST,
    NT_V_VALUE, NT_V_WHEN, NT_V_HE, NT_V_HE_CAP, NT_V_HIS, NT_V_HIS_CAP, NT_V_COUNT
};

/* The sentences of notes.json `slots`, in this order. */
#define NT_SLOTS(X)                                                                            \
    X(cc) X(cc_followup) X(cc_none) X(cc_new) X(hpi_symptoms_today) X(hpi_open) X(hpi_open_none) X(hpi_symptoms) X(hpi_fever)             \
    X(hpi_negatives) X(hpi_chronic) X(hpi_new) X(hpi_last_seen) X(on_meds) X(no_meds) X(ros)   \
    X(pmh) X(pmh_none) X(meds) X(meds_none) X(allergies) X(allergies_none) X(social)           \
    X(vitals) X(vitals_none) X(exam) X(labs) X(ap) X(ap_item_since) X(new_dx) X(started)       \
    X(stopped) X(held) X(continue) X(no_change) X(given_vaccines) X(procedures) X(allergy_new) \
    X(other_problems) X(followup) X(followup_none) X(wellness_open) X(wellness_open_child)      \
    X(wellness_interval) X(wellness_interval_first) X(wellness_assess) X(wellness_assess_child)\
    X(screening) X(counsel) X(ed_open) X(ed_course) X(ed_dispo_home) X(ed_dispo_admit)         \
    X(hp_open) X(hp_plan) X(dc_open) X(dc_dx) X(dc_course) X(dc_course_none) X(dc_meds)        \
    X(dc_meds_none) X(dc_dispo) X(death_open) X(death_cause) X(death_exam) X(death_family)
#define NT_ENUM(name) S_##name,
enum { NT_SLOTS(NT_ENUM) S_COUNT };
#undef NT_ENUM

/* Body systems of the exam, in the order a note writes them. */
enum { SYS_GENERAL, SYS_HEENT, SYS_NECK, SYS_LUNGS, SYS_HEART, SYS_ABDOMEN, SYS_EXTREMITIES,
       SYS_SKIN, SYS_MSK, SYS_NEURO, SYS_PSYCH, SYS_COUNT };
/* Kinds of visit, which choose the systems examined. */
enum { NK_ACUTE, NK_CHRONIC, NK_WELLNESS, NK_INJURY, NK_HOSPITAL, NK_COUNT };
/* Note types of notes.json `types`. */
enum { NT_AMB, NT_EMER, NT_IMP, NT_VR, NT_HP, NT_DEATH, NT_TYPES };

typedef struct nt_seg {
    int var;
    const char *text;
    size_t len;
} nt_seg;

typedef struct nt_tmpl {
    nt_seg *segs;
    size_t n;
} nt_tmpl;

typedef struct nt_list {
    const char **v;
    size_t n;
} nt_list;

typedef struct nt_pair {
    const char *key, *text;
} nt_pair;

/* Phrases of one condition or episode (vocabulary.json `clinical`). */
typedef struct nt_clin {
    const char *code;
    nt_list symptoms, negatives;
    int days[2];
    const char *exam[SYS_COUNT];
    const char *plan;
    int kind;       /* NK_ACUTE, NK_CHRONIC or NK_INJURY */
    int persistent; /* its exam finding shows at every visit while active */
} nt_clin;

typedef struct nt_counsel {
    int age[2];
    nt_list phrases;
} nt_counsel;

struct ep_notes {
    fg_arena arena;
    fg_term types[NT_TYPES];
    int adult_age;
    const char *female[2], *male[2], *infant, *he[2], *his[2];
    const char *age_units[4], *severity[3], *high_crit, *sep;
    nt_pair *units;
    size_t n_units;
    struct {
        nt_tmpl *v;
        size_t n;
    } slots[S_COUNT];
    /* vocabulary.json */
    int followup_max_days; /* a next visit further away is not a follow-up */
    struct {
        const char *condition, *reason;
        int held;
    } *stop_ctx;
    size_t n_stop_ctx;
    nt_pair *abbrev; /* match -> short */
    size_t *abbrev_len;
    size_t n_abbrev;
    fg_strmap labs;  /* LOINC code -> short name */
    nt_pair *forms, *dose_units, *stop_reasons, *dispositions;
    size_t n_forms, n_dose_units, n_stop_reasons, n_dispositions;
    nt_list drop, frequency, ros, wellness_types, fever_words;
    double fever_celsius;
    nt_list exam_normal[SYS_COUNT];
    int exam_systems[NK_COUNT][SYS_COUNT]; /* 1 when examined */
    nt_clin *clin;
    size_t n_clin;
    fg_strmap clin_by_code; /* code -> nt_clin * */
    nt_counsel *counsel;
    size_t n_counsel;
};

extern const char *const nt_slot_names[S_COUNT];
extern const char *const nt_sys_names[SYS_COUNT];

/* ---- engine_notes_load.c ---- */
int nt_load_vocabulary(struct ep_notes *n, const char *datadir, fg_error *err);
int nt_fail(fg_error *err, const char *file, const char *path, const char *msg);
/* A list of strings in the arena; FG_EINVALID naming `path` when v is not one. */
struct json_t;
int nt_strings(struct ep_notes *n, struct json_t *v, const char *file, const char *path, nt_list *out,
               fg_error *err);

/* ---- engine_notes_words.c: a fixed scratch buffer; text past its end is dropped ---- */
typedef struct nt_buf {
    char *p;
    size_t len, cap;
} nt_buf;

void nt_put(nt_buf *b, const char *s, size_t n);
void nt_puts(nt_buf *b, const char *s);
void nt_int(nt_buf *b, long long v);
void nt_fixed(nt_buf *b, double v, int decimals);
void nt_clear(nt_buf *b);
/* A condition's or procedure's name without its SNOMED CT tag, first letter
 * lowered unless an acronym. */
void nt_term(nt_buf *b, const fg_term *t, int lower);
/* A condition as clinicians abbreviate it ("HTN", "CKD 3a"). */
void nt_condition(nt_buf *b, const struct ep_notes *n, const fg_term *t);
/* "lisinopril 10 mg tablet" from "lisinopril 10 MG Oral Tablet". */
void nt_drug(nt_buf *b, const struct ep_notes *n, const fg_term *t);
/* The drug and how often: "lisinopril 10 mg tablet daily". */
void nt_med(nt_buf *b, const struct ep_notes *n, const fg_medication *m);
/* "HbA1c 7.2 %", "BP 128/82 mmHg", "UA nitrite positive". */
void nt_observation(nt_buf *b, const struct ep_notes *n, const fg_observation *o);
/* "3 days", "2 weeks", "4 months", "2 years" between a and b (b later). */
void nt_span(nt_buf *b, const struct ep_notes *n, fg_time a, fg_time b_time);
void nt_date(nt_buf *b, fg_time t);
/* Words for why a medication stopped: stop_reasons[key], or the default. */
const char *nt_stop_reason(const struct ep_notes *n, const char *key);
/* Words for where the patient went at discharge: dispositions[key] or the default. */
const char *nt_disposition(const struct ep_notes *n, const char *key);
const nt_clin *nt_clin_of(const struct ep_notes *n, const fg_term *t);
/* The short name of an observation's code, or NULL. */
const char *nt_lab_name(const struct ep_notes *n, const fg_term *t);

/* ---- engine_notes.c: writing ---- */

/* Per patient: events bucketed by encounter, encounters in time order. */
enum { K_COND, K_OBS, K_MED, K_IMM, K_PROC, K_ALLERGY, K_COUNT };
typedef struct nt_idx {
    size_t n_enc;
    fg_strmap by_id;
    int *first[K_COUNT], *next[K_COUNT];
    int *enc_of[K_COUNT]; /* the encounter index of each event (-1: none) */
    char **cond_name;     /* each condition's name, lower case, without its tag */
    size_t *cond_len;     /* its length */
    const nt_clin **cond_clin; /* its phrases, or NULL */
    char **cond_abbr;     /* its name as clinicians abbreviate it (nt_condition) */
    char **med_text;      /* each medication as nt_med writes it */
    int *smoking;         /* indices of the smoking status observations */
    size_t n_smoking;
    int *order; /* encounter indices by start time */
    int *rank;  /* position of each encounter in order */
} nt_idx;

struct nt_ctx;
typedef struct nt_ctx {
    const struct ep_notes *n;
    const fg_history *h;
    const nt_idx *x;
    const fg_encounter *enc;
    int e; /* encounter index */
    fg_rng rng;
    nt_buf *out, *list, *tmp;
    const char *value, *when; /* {value}, {when} */
    nt_buf *carry;            /* the social history sentence of the previous note */
    const char *carry_code;   /* the smoking status it said */
    const fg_term *smoking;   /* the smoking status observation code, or NULL */
} nt_ctx;


/* Index h for notes (smoking: the smoking status code, or NULL); -1 when
 * out of memory. nt_idx_free accepts a zeroed or partly built index. */
int nt_idx_build(nt_idx *x, const struct ep_notes *n, const fg_history *h,
                 const fg_term *smoking);
void nt_idx_free(nt_idx *x);
int nt_idx_find(const nt_idx *x, const char *id);
/* nt_condition and nt_med of a condition or medication of the history,
 * written once per patient. */
void nt_cond(const struct nt_ctx *c, nt_buf *b, const fg_condition *d);
void nt_med_of(const struct nt_ctx *c, nt_buf *b, const fg_medication *m);
/* The encounter index of event p of history list `field` (kind k). */
#define NT_ENC(c, k, field, p) ((c)->x->enc_of[k][(p) - (c)->h->field.v])
/* The phrases of condition d of the history, or NULL. */
#define NT_CLIN(c, d) ((c)->x->cond_clin[(d) - (c)->h->conditions.v])
#define NT_EACH(c, k, i) for (int i = (c)->x->first[k][(c)->e]; i >= 0; i = (c)->x->next[k][i])

/* Write a sentence of slot s (a phrasing drawn from the rng) on a new line
 * (inline: after a space). */
void nt_say(nt_ctx *c, int s, int inline_);
/* Append a phrasing of slot s to buffer b (for a phrase inside a list). */
void nt_say_to(nt_ctx *c, nt_buf *b, int s);
void nt_list_sep(nt_buf *list, const char *sep);
/* Say slot s with the list when it is not empty, else slot none (-1: nothing); empties the list. */
void nt_say_list(nt_ctx *c, int s, int none);

/* Sections shared by the kinds of note (engine_notes.c). */
void nt_pmh(nt_ctx *c, fg_time t);
void nt_meds_before(nt_ctx *c, fg_time t);
void nt_allergies(nt_ctx *c, fg_time t);
void nt_social(nt_ctx *c);
void nt_vitals(nt_ctx *c);
void nt_labs(nt_ctx *c);
void nt_exam(nt_ctx *c, int kind);
/* Subjective, history, medications, allergies, social history, vitals, exam
 * (of kind) and labs: the part every visit note shares. */
void nt_history_exam(nt_ctx *c, int kind);
/* The hospital notes (engine_notes_hosp.c). */
void nt_note_ed(nt_ctx *c);
void nt_note_hp(nt_ctx *c);
void nt_note_discharge(nt_ctx *c);
/* 1 when the patient died during encounter c->enc. */
int nt_died_here(const nt_ctx *c);
void nt_note_death(nt_ctx *c);
/* The reason of the visit in words (chief complaint) into b. */
void nt_reason(nt_ctx *c, nt_buf *b);
/* CC, HPI and ROS; the numbered assessment and plan; vaccines,
 * procedures, allergies, other problems and follow-up (engine_notes.c). */
void nt_subjective(nt_ctx *c, int febrile);
/* heading: say the A/P heading before the first item (none when no item). */
void nt_assessment_plan(nt_ctx *c, int heading);
void nt_plan_tail(nt_ctx *c);
/* The recorded temperature of this visit that is a fever, or NULL. */
const fg_observation *nt_fever_of(const nt_ctx *c);
/* NK_ACUTE, NK_CHRONIC or NK_INJURY from what the visit addresses. */
int nt_kind_of_visit(const nt_ctx *c);
/* Diagnoses of this encounter, "; "-separated, abbreviated, into c->list. */
void nt_diagnoses(nt_ctx *c);

#endif
