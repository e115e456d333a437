/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mapper_private.h: what the four files of the mapper share.
 *
 * One call of fg_map_bundle or fg_map_ndjson runs with an mp_ctx on the
 * stack: the history, where the output goes, and small caches (the
 * patient's id, search hints). Resources are written in one pass straight
 * into the output buffer; a term that cannot be grounded or a reference
 * that does not resolve stops the pass, and the caller restores every
 * buffer to its length at entry, so a failed patient leaves no bytes.
 *
 * mapper.c               the driver, ids, references, grounding, small
 *                        shapes
 * mapper_patient.c       Patient and the shared resources (Organization,
 *                        Practitioner, Location)
 * mapper_clinical.c      Encounter, Condition, MedicationRequest,
 *                        Immunization, Procedure, AllergyIntolerance,
 *                        CarePlan, DocumentReference
 * mapper_observations.c  Observation, DiagnosticReport
 */
#ifndef FG_MAPPER_PRIVATE_H
#define FG_MAPPER_PRIVATE_H

#include <stddef.h>

#include "fhir/json/fg_jw.h"
#include "profiles/fg_profiles.h"
#include "generators/map/fg_mapper.h"

/* A FHIR id as the mapper writes it: a lower-case UUID. */
#define MP_ID_LEN 36
/* The identifier system of fhirgen's own resource identifiers (Location,
 * Encounter, DocumentReference, and shared resources without an NPI): the
 * value is the resource id. Not urn:ietf:rfc:3986 with a urn:uuid value,
 * because that string is also the entry's fullUrl, and servers rewrite every
 * string holding a bundle's urn:uuid (Medplum does), which breaks the
 * ifNoneExist search on reload. ".example" is reserved (RFC 2606). */
#define MP_ID_SYSTEM "https://fhirgen.example/id"
#define MP_ID_SIZE 40

#define MP_HTEST_JSON                                                                          \
    "[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\",\"code\":\"HTEST\","   \
    "\"display\":\"test health data\"}]"

/* What the mapper precomputes for each terminology entry: its
 * CodeableConcept as JSON ({"coding":[<coding>],"text":...}), where the
 * Coding sits inside it, and the first Observation profile row of its code. */
typedef struct mp_entry {
    char *cc;
    size_t cc_len;
    size_t coding_off, coding_len;
    const fg_profile_code *row;
} mp_entry;

struct fg_mapper {
    const fg_terminology *terms;
    const fg_code_entry *base; /* entry 0 of terms; entries are contiguous */
    size_t n_entries;
    mp_entry *entries;   /* NULL when the table is not contiguous */
    char *mrn_system;
    fg_profile_codes *obs_codes;
    char *meta[FG_PROF_COUNT]; /* {"profile":["<url>"],"security":[HTEST]} */
    struct fg_tsv *states; /* the states table, for the zone of a history without one */
    fg_tz *state_tz;       /* the zone of each of its rows */
    size_t meta_len[FG_PROF_COUNT];
};

typedef struct mp_ctx {
    const fg_mapper *m;
    const fg_history *h;
    int ndjson;
    fg_buf **outs; /* NDJSON: the buffer of each type */
    fg_jw w;       /* the writer of the resource being written */
    fg_error *err;
    size_t counts[FG_RT_COUNT];
    char pid[MP_ID_SIZE]; /* the Patient's id */
    unsigned char ident[32]; /* hash of the patient's identity, for derived ids */
    int have_ident;
    fg_tz tz; /* the zone local times are written in: the patient's, their state's, or UTC */
    fg_tz_memo tz_memo; /* tz with one year's daylight-saving dates remembered */
    size_t hint_enc, hint_cond, hint_obs; /* where the last search by id ended */
} mp_ctx;

/* ---- mapper.c ---- */

/* The precomputed form of a grounded entry, or NULL. */
static inline const mp_entry *mp_cached(const fg_mapper *m, const fg_code_entry *e)
{
    if (!m->entries || e < m->base || e >= m->base + m->n_entries)
        return NULL;
    return &m->entries[e - m->base];
}

/* The FHIR id of history id `local` of a resource of type t: local itself
 * when it is a lower-case UUID, else a UUID derived from it (and from the
 * patient, for the patient's own resources). Returns a pointer to local or
 * to buf. */
const char *mp_id(mp_ctx *c, fg_rtype t, const char *local, char buf[MP_ID_SIZE]);

/* Start a resource of type t with the given (FHIR) id and profile: in a
 * bundle the entry, fullUrl and resource; in NDJSON the line. Writes
 * resourceType, id and meta. */
void mp_begin(mp_ctx *c, fg_rtype t, const char *id, fg_profile p);

/* Close the resource. In a bundle, write the request: PUT <Type>/<id>, or
 * POST <Type> with ifNoneExist identifier=<system>|<value> when
 * if_system is not NULL. NDJSON ends the line. */
void mp_end(mp_ctx *c, fg_rtype t, const char *id, const char *if_system, const char *if_value);

/* "key":{"reference":"urn:uuid:<id>"} (bundle) or "Type/<id>" (NDJSON), for
 * history id `local`; key NULL writes the value only (inside an array). */
void mp_ref(mp_ctx *c, const char *key, fg_rtype t, const char *local);
/* The same for the patient. */
void mp_ref_patient(mp_ctx *c, const char *key);

/* Ground a term: its code must exist in its system (default_system when the
 * term names none), or, without a code, its display must name a concept.
 * On success *out is the table's entry; otherwise FG_EINVALID with the path
 * `<list>[i].<field>`. */
int mp_ground(mp_ctx *c, const fg_term *t, const char *default_system, const char *list,
              size_t i, const char *field, const fg_code_entry **out);

/* Fail with FG_EINVALID (or code) at `<list>[i].<field>`. */
int mp_fail(mp_ctx *c, int code, const char *list, size_t i, const char *field, const char *fmt,
            ...) __attribute__((format(printf, 6, 7)));

/* Find an item by id in a history list whose items start with `const char
 * *id`, starting at *hint (updated). NULL when absent. */
const void *mp_find(const void *base, size_t n, size_t stride, const char *id, size_t *hint);

/* The encounter named by an event, or NULL when the event names none;
 * FG_EINVALID (through *rc) when it names one that does not exist. */
const fg_encounter *mp_encounter(mp_ctx *c, const char *id, const char *list, size_t i, int *rc);

/* The checks a clinical event opens with, item i of `list`: it has an id,
 * and its term grounds in default_system (*code; errors at
 * `<list>[i].<field>`). FG_OK or the error reported. */
int mp_open(mp_ctx *c, const char *list, size_t i, const char *id, const fg_term *term,
            const char *default_system, const char *field, const fg_code_entry **code);

/* mp_open of the field "term", then the encounter the event names must
 * exist (*enc unless enc is NULL; NULL when it names none). FG_OK or the
 * error reported. */
int mp_open_event(mp_ctx *c, const char *list, size_t i, const char *id, const fg_term *term,
                  const char *default_system, const fg_code_entry **code, const char *encounter,
                  const fg_encounter **enc);

/* Writers of small shapes. */
void mp_cc(mp_ctx *c, const char *key, const fg_code_entry *e); /* CodeableConcept */
void mp_coding(mp_ctx *c, const fg_code_entry *e);              /* Coding, in an array */
void mp_datetime(mp_ctx *c, const char *key, fg_time t);        /* skipped when NONE */
void mp_period(mp_ctx *c, const char *key, fg_time start, fg_time end);
/* "key":<json> where json is already serialised. MP_RAW takes a string
 * literal only (its length is the literal's sizeof). */
void mp_raw_member(mp_ctx *c, const char *key, const char *json, size_t n);
#define MP_RAW(c, key, lit) mp_raw_member((c), (key), "" lit, sizeof(lit) - 1)
/* An already-serialised literal as one value (e.g. inside an array). */
#define MP_RAWV(c, lit) fg_jw_raw(&(c)->w, "" lit, sizeof(lit) - 1)

/* ---- mapper_patient.c ---- */

int mp_write_patient(mp_ctx *c);
int mp_write_shared(mp_ctx *c);

/* ---- mapper_clinical.c ---- */

int mp_write_encounters(mp_ctx *c);
int mp_write_conditions(mp_ctx *c);
int mp_write_medications(mp_ctx *c);
int mp_write_immunizations(mp_ctx *c);
int mp_write_procedures(mp_ctx *c);
int mp_write_allergies(mp_ctx *c);
int mp_write_careplans(mp_ctx *c);
int mp_write_notes(mp_ctx *c);

/* ---- mapper_observations.c ---- */

int mp_write_observations(mp_ctx *c);
int mp_write_reports(mp_ctx *c);

#endif
