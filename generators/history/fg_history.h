/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_history.h: the patient history, the contract between generators and
 * the mapper.
 *
 * A history is one patient's record as plain clinical facts: demographics,
 * the organisations and clinicians who saw them, encounters, and the events
 * of each encounter. Every event names its encounter by id. Times are
 * absolute (fg_time, UTC). Terms carry a code system URI, a code and a
 * display; the mapper grounds each one against the terminology tables.
 *
 * The JSON form of this structure is described by schema/history.schema.json
 * (fhirgen generate --format history writes it, fhirgen map reads it). Field
 * names below match the JSON member names.
 *
 * Memory: every string and list of a history lives in its arena. Strings may
 * also point at data that outlives the history (condition modules, tables):
 * a history never frees a string, it only resets its arena. Ids are FHIR ids
 * (the engine uses UUIDs) and are the resource ids the mapper writes.
 */
#ifndef FG_HISTORY_H
#define FG_HISTORY_H

#include <stddef.h>

#include "fhir/base/fg_arena.h"
#include "fhir/base/fg_error.h"
#include "fhir/base/fg_time.h"

/* Limits of a history document. A value that would cross one is refused with FG_ELIMIT. */
#define FG_MAX_HISTORY_BYTES (64u << 20) /* one history document */
#define FG_MAX_HISTORY_EVENTS 200000     /* entries in any one history list */
#define FG_MAX_STRING_BYTES 65536        /* one string field of a history */
#define FG_MAX_NOTE_BYTES 65536          /* one clinical note */

#define FG_SYS_SNOMED "http://snomed.info/sct"
#define FG_SYS_LOINC "http://loinc.org"
#define FG_SYS_RXNORM "http://www.nlm.nih.gov/research/umls/rxnorm"
#define FG_SYS_CVX "http://hl7.org/fhir/sid/cvx"
#define FG_SYS_UCUM "http://unitsofmeasure.org"

/* The common name of a code system URI for messages ("SNOMED CT"), or the
 * URI itself when it is none of the above. */
const char *fg_system_name(const char *uri);

/* A coded concept. code may be NULL in a hand-written or LLM history (the
 * mapper then grounds the display); the engine always sets all three. */
typedef struct fg_term {
    const char *system;
    const char *code;
    const char *display;
} fg_term;

/* A growable array in the history's arena: `v` holds `n` items. */
#define FG_VEC(T)                                                                              \
    struct {                                                                                   \
        T *v;                                                                                  \
        size_t n, cap;                                                                         \
    }

typedef struct fg_address {
    const char *line;
    const char *city;
    const char *state;       /* USPS code, e.g. "MA" */
    const char *postal_code; /* ZIP */
} fg_address;

typedef enum fg_sex { FG_SEX_FEMALE = 0, FG_SEX_MALE = 1 } fg_sex;

typedef struct fg_patient {
    const char *id;
    const char *given;  /* first given name */
    const char *middle; /* may be NULL */
    const char *family;
    const char *prefix; /* may be NULL */
    fg_sex sex;         /* administrative gender and birth sex */
    fg_time birth_date; /* midnight UTC of the birth date */
    fg_time death;      /* FG_TIME_NONE while alive */
    const char *race;      /* OMB race code (urn:oid:2.16.840.1.113883.6.238), e.g. "2106-3" */
    const char *race_display;
    const char *ethnicity; /* "2135-2" or "2186-5" */
    const char *ethnicity_display;
    const char *marital_status; /* v3-MaritalStatus code: S, M, D, W, ... */
    const char *language;       /* BCP-47, e.g. "en-US" */
    fg_address address;
    const char *phone;
    const char *mrn; /* medical record number, in the cohort's MRN system */
    const char *ssn; /* synthetic, always in the never-issued 999 area */
    fg_tz tz;        /* where the patient lives; name NULL when unknown (the mapper then
                        takes the zone of the address's state, else UTC) */
} fg_patient;

typedef struct fg_organization {
    const char *id;
    const char *name;
    const char *npi;
    fg_address address;
    const char *phone;
} fg_organization;

typedef struct fg_practitioner {
    const char *id;
    const char *prefix;
    const char *given;
    const char *family;
    fg_sex sex;
    const char *npi;
    const char *organization; /* id */
} fg_practitioner;

typedef struct fg_location {
    const char *id;
    const char *name;
    const char *organization; /* id */
    fg_address address;
    const char *phone;
} fg_location;

typedef enum fg_encounter_class {
    FG_CLASS_AMB = 0,  /* ambulatory: wellness, office, urgent care */
    FG_CLASS_EMER = 1, /* emergency department */
    FG_CLASS_IMP = 2,  /* inpatient */
    FG_CLASS_VR = 3,   /* virtual */
} fg_encounter_class;

typedef struct fg_encounter {
    const char *id;
    fg_encounter_class cls;
    fg_term type;     /* SNOMED CT encounter type */
    fg_term reason;   /* code NULL and display NULL when none */
    fg_time start;
    fg_time end;
    const char *organization; /* ids */
    const char *practitioner;
    const char *location;
    /* hospital stays and ED visits: */
    const char *reason_condition;  /* id of the condition the visit is for, or NULL */
    fg_term admit_source;          /* HL7 admit-source; code NULL when none */
    fg_term discharge_disposition; /* HL7 discharge-disposition; code NULL when none */
} fg_encounter;

typedef enum fg_condition_category {
    FG_COND_PROBLEM = 0,   /* problem-list-item */
    FG_COND_DIAGNOSIS = 1, /* encounter-diagnosis */
} fg_condition_category;

typedef struct fg_condition {
    const char *id;
    const char *encounter;
    fg_condition_category category;
    fg_term term;
    fg_time onset;
    fg_time abatement; /* FG_TIME_NONE while active */
    fg_time recorded;
} fg_condition;

typedef enum fg_obs_category {
    FG_OBS_VITAL = 0,  /* vital-signs */
    FG_OBS_LAB = 1,    /* laboratory */
    FG_OBS_SOCIAL = 2, /* social-history */
    FG_OBS_SURVEY = 3, /* survey */
    FG_OBS_EXAM = 4,   /* exam */
} fg_obs_category;

typedef enum fg_value_kind {
    FG_VALUE_NONE = 0,
    FG_VALUE_QUANTITY = 1,
    FG_VALUE_CODE = 2,
} fg_value_kind;

typedef struct fg_component {
    fg_term term;
    double value;
    const char *unit; /* UCUM */
} fg_component;

typedef struct fg_observation {
    const char *id;
    const char *encounter;
    fg_obs_category category;
    fg_term term; /* LOINC */
    fg_time time;
    fg_value_kind kind;
    double value;     /* FG_VALUE_QUANTITY */
    const char *unit; /* UCUM code for FG_VALUE_QUANTITY */
    int decimals;     /* digits after the point to write */
    fg_term code_value; /* FG_VALUE_CODE */
    fg_component *components; /* blood pressure: systolic, diastolic */
    size_t n_components;
} fg_observation;

/* A lab panel: a DiagnosticReport grouping observations. */
typedef struct fg_report {
    const char *id;
    const char *encounter;
    fg_term term; /* LOINC panel */
    fg_time time;
    const char **results; /* observation ids */
    size_t n_results;
} fg_report;

typedef enum fg_med_status {
    FG_MED_ACTIVE = 0,
    FG_MED_STOPPED = 1,
    FG_MED_COMPLETED = 2,
} fg_med_status;

typedef struct fg_medication {
    const char *id;
    const char *encounter;
    fg_term term; /* RxNorm */
    fg_med_status status;
    fg_time start;
    fg_time end;          /* FG_TIME_NONE while active */
    const char *reason;   /* condition id, or NULL */
    const char *dosage;   /* patient instruction text, e.g. "1 tablet by mouth daily" */
    int per_day;          /* doses per day, 0 when as needed */
    int as_needed;
    /* why the order was stopped, switched or held, in words a note can use
     * ("pregnancy", "replaced by ..."); NULL when it ran its course */
    const char *status_reason;
    const char *prior;      /* id of an earlier order this one renews or replaces, or NULL */
    int dose;               /* dose_units per administration; 0 when not stated */
    const char *dose_unit;  /* "tablet", "mL", "puff", ...; NULL when dose is 0 */
    int quantity;           /* dispensed per fill, in dose units; 0 when no dispense request */
    int refills;            /* fills allowed after the first */
    int supply_days;        /* days one fill lasts */
    fg_time valid_until;    /* end of the order's validity period; FG_TIME_NONE when none */
} fg_medication;

typedef struct fg_immunization {
    const char *id;
    const char *encounter;
    fg_term term; /* CVX */
    fg_time time;
} fg_immunization;

typedef struct fg_procedure {
    const char *id;
    const char *encounter;
    fg_term term; /* SNOMED CT */
    fg_time start;
    fg_time end;
    const char *reason; /* condition id, or NULL */
} fg_procedure;

typedef enum fg_allergy_category {
    FG_ALLERGY_FOOD = 0,
    FG_ALLERGY_MEDICATION = 1,
    FG_ALLERGY_ENVIRONMENT = 2,
} fg_allergy_category;

typedef struct fg_allergy {
    const char *id;
    const char *encounter;
    fg_term term;      /* substance, SNOMED CT */
    fg_allergy_category category;
    int high_criticality;
    fg_time onset;
    fg_term reaction;  /* manifestation, SNOMED CT; code NULL when none */
    int severity;      /* 0 mild, 1 moderate, 2 severe */
} fg_allergy;

typedef struct fg_careplan {
    const char *id;
    const char *encounter;
    fg_term term; /* SNOMED CT care plan category, e.g. a disease management plan */
    fg_time start;
    fg_time end; /* FG_TIME_NONE while active */
    const char **addresses; /* condition ids */
    size_t n_addresses;
    fg_term *activities;
    size_t n_activities;
} fg_careplan;

typedef struct fg_note {
    const char *id;
    const char *encounter;
    fg_term type; /* LOINC document type, e.g. progress note */
    fg_time time;
    const char *text; /* plain text */
} fg_note;

typedef struct fg_history {
    fg_arena arena;
    fg_patient patient;
    FG_VEC(fg_organization) organizations;
    FG_VEC(fg_practitioner) practitioners;
    FG_VEC(fg_location) locations;
    FG_VEC(fg_encounter) encounters;
    FG_VEC(fg_condition) conditions;
    FG_VEC(fg_observation) observations;
    FG_VEC(fg_report) reports;
    FG_VEC(fg_medication) medications;
    FG_VEC(fg_immunization) immunizations;
    FG_VEC(fg_procedure) procedures;
    FG_VEC(fg_allergy) allergies;
    FG_VEC(fg_careplan) careplans;
    FG_VEC(fg_note) notes;
    fg_term death_cause; /* code NULL when alive or unknown */
} fg_history;

/* Initialise an empty history. */
void fg_history_init(fg_history *h);

/* Empty h for the next patient, keeping its memory. */
void fg_history_reset(fg_history *h);

/* Release all memory; accepts NULL. */
void fg_history_free(fg_history *h);

/* Grow a vector by one zeroed item and return it; NULL when out of memory
 * or when the list would pass FG_MAX_HISTORY_EVENTS. Use through FG_PUSH:
 *     fg_encounter *e = FG_PUSH(h, encounters); */
void *fg_history_push(fg_history *h, void **v, size_t *n, size_t *cap, size_t item);
#define FG_PUSH(h, field)                                                                      \
    ((__typeof__((h)->field.v))fg_history_push((h), (void **)&(h)->field.v, &(h)->field.n,     \
                                               &(h)->field.cap, sizeof(*(h)->field.v)))

/* Find an encounter by id; NULL when absent. Borrowed. */
const fg_encounter *fg_history_encounter(const fg_history *h, const char *id);

/* Parse a history document (JSON text) into h, which must be initialised.
 * On failure h is left reset and err names the path and the reason, e.g.
 * `encounters[3].start: not a date`. `source` names the input in messages
 * (a file name or "<stdin>"). */
int fg_history_parse(fg_history *h, const char *json, size_t len, const char *source,
                     fg_error *err);

/* fg_history_parse with options. FG_HISTORY_PARSE_ANY_DATES skips the
 * date checks (events against the document's own birth and death, ends
 * against starts) for callers that check dates themselves and want every
 * problem at once, as the LLM generator does against its skeleton with
 * fg_plausibility_check. */
#define FG_HISTORY_PARSE_ANY_DATES 1u
int fg_history_parse_flags(fg_history *h, const char *json, size_t len, const char *source,
                           unsigned flags, fg_error *err);

/* Append the JSON form of h to out (compact, one line, no trailing newline).
 * Returns FG_OK or FG_ENOMEM. */
struct fg_buf;
int fg_history_write(const fg_history *h, struct fg_buf *out);

#endif
