/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mapper_clinical.c: Encounter, Condition, MedicationRequest, Immunization,
 * Procedure, AllergyIntolerance, CarePlan and DocumentReference.
 *
 * Each writer walks one list of the history: it grounds the item's terms
 * and checks the ids it references first, then writes the resource, so a
 * failure never leaves a resource half-written (the driver also rolls the
 * buffer back to where the patient began).
 */
#include <stdio.h>
#include <string.h>

#include "generators/history/fg_history.h"
#include "generators/map/mapper_private.h"

#define V3_ACTCODE "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define V3_PARTTYPE "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#define MP_ADMIT_SOURCE "http://terminology.hl7.org/CodeSystem/admit-source"
#define MP_DISCHARGE "http://terminology.hl7.org/CodeSystem/discharge-disposition"

/* Codes of FHIR-defined code systems, displays as in hl7.fhir.r4.core#4.0.1
 * (CodeSystem-v3-ActCode, -v3-ParticipationType, -condition-*, ...). */
static const char *const encounter_class[] = {
    [FG_CLASS_AMB] = "{\"system\":\"" V3_ACTCODE "\",\"code\":\"AMB\",\"display\":\"ambulatory\"}",
    [FG_CLASS_EMER] = "{\"system\":\"" V3_ACTCODE "\",\"code\":\"EMER\",\"display\":\"emergency\"}",
    [FG_CLASS_IMP] = "{\"system\":\"" V3_ACTCODE
                     "\",\"code\":\"IMP\",\"display\":\"inpatient encounter\"}",
    [FG_CLASS_VR] = "{\"system\":\"" V3_ACTCODE "\",\"code\":\"VR\",\"display\":\"virtual\"}",
};

#define PARTICIPANT(code, disp)                                                                \
    "[{\"coding\":[{\"system\":\"" V3_PARTTYPE "\",\"code\":\"" code "\",\"display\":\"" disp   \
    "\"}],\"text\":\"" disp "\"}]"

static void put_uri_identifier(mp_ctx *c, const char *id)
{
    fg_jw_kv_arr(&c->w, "identifier");
    fg_jw_obj(&c->w);
    MP_RAW(c, "system", "\"" MP_ID_SYSTEM "\"");
    fg_jw_kv_str(&c->w, "value", id);
    fg_jw_obj_end(&c->w);
    fg_jw_arr_end(&c->w);
}

static int has_term(const fg_term *t)
{
    return (t->code && *t->code) || (t->display && *t->display);
}

static int check_condition(mp_ctx *c, const char *cond, const char *list, size_t i,
                           const char *field);

/* Encounter.hospitalization: where the patient came from and went. */
static void put_hospitalization(mp_ctx *c, const fg_code_entry *src, const fg_code_entry *disp)
{
    if (!src && !disp)
        return;
    fg_jw_key(&c->w, "hospitalization");
    fg_jw_obj(&c->w);
    if (src)
        mp_cc(c, "admitSource", src);
    if (disp)
        mp_cc(c, "dischargeDisposition", disp);
    fg_jw_obj_end(&c->w);
}

/* ---- Encounter ---- */

int mp_write_encounters(mp_ctx *c)
{
    const fg_history *h = c->h;
    fg_jw *w = &c->w;
    size_t ho = 0, hp = 0, hl = 0;
    for (size_t i = 0; i < h->encounters.n; i++) {
        const fg_encounter *e = &h->encounters.v[i];
        const fg_code_entry *type = NULL, *reason = NULL, *src = NULL, *disp = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        if (!e->id)
            return mp_fail(c, FG_EINVALID, "encounters", i, "id", "missing");
        if ((unsigned)e->cls > FG_CLASS_VR)
            return mp_fail(c, FG_EINVALID, "encounters", i, "class", "unknown class %d",
                           (int)e->cls);
        if ((rc = mp_ground(c, &e->type, FG_SYS_SNOMED, "encounters", i, "type", &type)))
            return rc;
        if (has_term(&e->reason) &&
            (rc = mp_ground(c, &e->reason, FG_SYS_SNOMED, "encounters", i, "reason", &reason)))
            return rc;
        if (has_term(&e->admit_source) &&
            (rc = mp_ground(c, &e->admit_source, MP_ADMIT_SOURCE, "encounters", i, "admit_source",
                            &src)))
            return rc;
        if (has_term(&e->discharge_disposition) &&
            (rc = mp_ground(c, &e->discharge_disposition, MP_DISCHARGE, "encounters", i,
                            "discharge_disposition", &disp)))
            return rc;
        if ((rc = check_condition(c, e->reason_condition, "encounters", i, "reason_condition")))
            return rc;
        if (e->organization && !mp_find(h->organizations.v, h->organizations.n,
                                        sizeof(fg_organization), e->organization, &ho))
            return mp_fail(c, FG_EINVALID, "encounters", i, "organization",
                           "no organization with id \"%s\"", e->organization);
        if (e->practitioner && !mp_find(h->practitioners.v, h->practitioners.n,
                                        sizeof(fg_practitioner), e->practitioner, &hp))
            return mp_fail(c, FG_EINVALID, "encounters", i, "practitioner",
                           "no practitioner with id \"%s\"", e->practitioner);
        if (e->location && !mp_find(h->locations.v, h->locations.n, sizeof(fg_location),
                                    e->location, &hl))
            return mp_fail(c, FG_EINVALID, "encounters", i, "location",
                           "no location with id \"%s\"", e->location);
        if (e->start == FG_TIME_NONE)
            return mp_fail(c, FG_EINVALID, "encounters", i, "start", "missing");

        const char *id = mp_id(c, FG_RT_ENCOUNTER, e->id, buf);
        mp_begin(c, FG_RT_ENCOUNTER, id, FG_PROF_ENCOUNTER);
        put_uri_identifier(c, id);
        if (e->end != FG_TIME_NONE)
            MP_RAW(c, "status", "\"finished\"");
        else
            MP_RAW(c, "status", "\"in-progress\"");
        fg_jw_key(w, "class");
        fg_jw_raw(w, encounter_class[e->cls], strlen(encounter_class[e->cls]));
        fg_jw_kv_arr(w, "type");
        mp_cc(c, NULL, type);
        fg_jw_arr_end(w);
        mp_ref_patient(c, "subject");
        if (e->practitioner) {
            fg_jw_kv_arr(w, "participant");
            fg_jw_obj(w);
            if (e->cls == FG_CLASS_EMER || e->cls == FG_CLASS_IMP)
                MP_RAW(c, "type", PARTICIPANT("ATND", "attender"));
            else
                MP_RAW(c, "type", PARTICIPANT("PPRF", "primary performer"));
            mp_period(c, "period", e->start, e->end);
            mp_ref(c, "individual", FG_RT_PRACTITIONER, e->practitioner);
            fg_jw_obj_end(w);
            fg_jw_arr_end(w);
        }
        mp_period(c, "period", e->start, e->end);
        if (reason) {
            fg_jw_kv_arr(w, "reasonCode");
            mp_cc(c, NULL, reason);
            fg_jw_arr_end(w);
        }
        if (e->reason_condition) {
            fg_jw_kv_arr(w, "reasonReference");
            mp_ref(c, NULL, FG_RT_CONDITION, e->reason_condition);
            fg_jw_arr_end(w);
        }
        put_hospitalization(c, src, disp);
        if (e->location) {
            fg_jw_kv_arr(w, "location");
            fg_jw_obj(w);
            mp_ref(c, "location", FG_RT_LOCATION, e->location);
            fg_jw_obj_end(w);
            fg_jw_arr_end(w);
        }
        if (e->organization)
            mp_ref(c, "serviceProvider", FG_RT_ORGANIZATION, e->organization);
        mp_end(c, FG_RT_ENCOUNTER, id, NULL, NULL);
    }
    return FG_OK;
}

/* ---- Condition ---- */

#define CLINICAL(code, disp)                                                                   \
    "{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/condition-clinical\","    \
    "\"code\":\"" code "\",\"display\":\"" disp "\"}]}"
#define CONDITION_CATEGORY(code, disp)                                                         \
    "[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/condition-category\","   \
    "\"code\":\"" code "\",\"display\":\"" disp "\"}]}]"

int mp_write_conditions(mp_ctx *c)
{
    const fg_history *h = c->h;
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *x = &h->conditions.v[i];
        const fg_code_entry *code = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        if ((rc = mp_open_event(c, "conditions", i, x->id, &x->term, FG_SYS_SNOMED, &code,
                                x->encounter, NULL)))
            return rc;
        int problem = x->category == FG_COND_PROBLEM;
        const char *id = mp_id(c, FG_RT_CONDITION, x->id, buf);
        mp_begin(c, FG_RT_CONDITION, id,
                 problem ? FG_PROF_CONDITION_PROBLEMS : FG_PROF_CONDITION_DIAGNOSIS);
        if (x->abatement != FG_TIME_NONE)
            MP_RAW(c, "clinicalStatus", CLINICAL("resolved", "Resolved"));
        else
            MP_RAW(c, "clinicalStatus", CLINICAL("active", "Active"));
        MP_RAW(c, "verificationStatus",
               "{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
               "condition-ver-status\",\"code\":\"confirmed\",\"display\":\"Confirmed\"}]}");
        if (problem)
            MP_RAW(c, "category", CONDITION_CATEGORY("problem-list-item", "Problem List Item"));
        else
            MP_RAW(c, "category",
                   CONDITION_CATEGORY("encounter-diagnosis", "Encounter Diagnosis"));
        mp_cc(c, "code", code);
        mp_ref_patient(c, "subject");
        if (x->encounter)
            mp_ref(c, "encounter", FG_RT_ENCOUNTER, x->encounter);
        mp_datetime(c, "onsetDateTime", x->onset);
        mp_datetime(c, "abatementDateTime", x->abatement);
        mp_datetime(c, "recordedDate", x->recorded != FG_TIME_NONE ? x->recorded : x->onset);
        mp_end(c, FG_RT_CONDITION, id, NULL, NULL);
    }
    return FG_OK;
}

/* A condition id named by an event must exist. */
static int check_condition(mp_ctx *c, const char *cond, const char *list, size_t i,
                           const char *field)
{
    if (!cond)
        return FG_OK;
    if (!mp_find(c->h->conditions.v, c->h->conditions.n, sizeof(fg_condition), cond,
                 &c->hint_cond))
        return mp_fail(c, FG_EINVALID, list, i, field, "no condition with id \"%s\"", cond);
    return FG_OK;
}

/* ---- MedicationRequest ---- */

#define MED_CATEGORY(code, disp)                                                               \
    "[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"                        \
    "medicationrequest-category\",\"code\":\"" code "\",\"display\":\"" disp "\"}],"          \
    "\"text\":\"" disp "\"}]"

/* dispenseRequest: how long the order is valid, the fills it allows, and
 * what one fill holds. Nothing when the order states no dispense. */
static void write_dispense(mp_ctx *c, const fg_medication *x)
{
    fg_jw *w = &c->w;
    if (x->quantity <= 0)
        return;
    fg_jw_kv_obj(w, "dispenseRequest");
    if (x->valid_until != FG_TIME_NONE && x->valid_until >= x->start)
        mp_period(c, "validityPeriod", x->start, x->valid_until);
    fg_jw_kv_int(w, "numberOfRepeatsAllowed", x->refills);
    fg_jw_kv_obj(w, "quantity");
    fg_jw_kv_int(w, "value", x->quantity);
    if (x->dose_unit)
        fg_jw_kv_str(w, "unit", x->dose_unit);
    fg_jw_obj_end(w);
    if (x->supply_days > 0) {
        fg_jw_kv_obj(w, "expectedSupplyDuration");
        fg_jw_kv_int(w, "value", x->supply_days);
        MP_RAW(c, "unit", "\"days\"");
        MP_RAW(c, "system", "\"http://unitsofmeasure.org\"");
        MP_RAW(c, "code", "\"d\"");
        fg_jw_obj_end(w);
    }
    fg_jw_obj_end(w);
}

int mp_write_medications(mp_ctx *c)
{
    const fg_history *h = c->h;
    fg_jw *w = &c->w;
    for (size_t i = 0; i < h->medications.n; i++) {
        const fg_medication *x = &h->medications.v[i];
        const fg_code_entry *code = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        const fg_encounter *enc;
        if ((rc = mp_open_event(c, "medications", i, x->id, &x->term, FG_SYS_RXNORM, &code,
                                x->encounter, &enc)))
            return rc;
        if ((rc = check_condition(c, x->reason, "medications", i, "reason")))
            return rc;
        const char *id = mp_id(c, FG_RT_MEDICATIONREQUEST, x->id, buf);
        mp_begin(c, FG_RT_MEDICATIONREQUEST, id, FG_PROF_MEDICATIONREQUEST);
        switch (x->status) {
        case FG_MED_STOPPED: MP_RAW(c, "status", "\"stopped\""); break;
        case FG_MED_COMPLETED: MP_RAW(c, "status", "\"completed\""); break;
        default: MP_RAW(c, "status", "\"active\""); break;
        }
        if (x->status_reason && *x->status_reason) {
            fg_jw_kv_obj(w, "statusReason");
            fg_jw_kv_str(w, "text", x->status_reason);
            fg_jw_obj_end(w);
        }
        MP_RAW(c, "intent", "\"order\"");
        if (enc && enc->cls == FG_CLASS_IMP)
            MP_RAW(c, "category", MED_CATEGORY("inpatient", "Inpatient"));
        else
            MP_RAW(c, "category", MED_CATEGORY("outpatient", "Outpatient"));
        fg_jw_kv_bool(w, "reportedBoolean", 0);
        mp_cc(c, "medicationCodeableConcept", code);
        mp_ref_patient(c, "subject");
        if (x->encounter)
            mp_ref(c, "encounter", FG_RT_ENCOUNTER, x->encounter);
        mp_datetime(c, "authoredOn", x->start);
        if (enc && enc->practitioner)
            mp_ref(c, "requester", FG_RT_PRACTITIONER, enc->practitioner);
        if (x->reason) {
            fg_jw_kv_arr(w, "reasonReference");
            mp_ref(c, NULL, FG_RT_CONDITION, x->reason);
            fg_jw_arr_end(w);
        }
        fg_jw_kv_arr(w, "dosageInstruction");
        fg_jw_obj(w);
        fg_jw_kv_int(w, "sequence", 1);
        if (x->dosage && *x->dosage)
            fg_jw_kv_str(w, "text", x->dosage);
        if (x->per_day > 0) {
            fg_jw_kv_obj(w, "timing");
            fg_jw_kv_obj(w, "repeat");
            fg_jw_kv_int(w, "frequency", x->per_day);
            fg_jw_kv_int(w, "period", 1);
            MP_RAW(c, "periodUnit", "\"d\"");
            fg_jw_obj_end(w);
            fg_jw_obj_end(w);
        }
        fg_jw_kv_bool(w, "asNeededBoolean", x->as_needed != 0);
        if (x->dose > 0 && x->dose_unit) {
            fg_jw_kv_arr(w, "doseAndRate");
            fg_jw_obj(w);
            fg_jw_kv_obj(w, "doseQuantity");
            fg_jw_kv_int(w, "value", x->dose);
            fg_jw_kv_str(w, "unit", x->dose_unit);
            fg_jw_obj_end(w);
            fg_jw_obj_end(w);
            fg_jw_arr_end(w);
        }
        fg_jw_obj_end(w);
        fg_jw_arr_end(w);
        write_dispense(c, x);
        if (x->prior)
            mp_ref(c, "priorPrescription", FG_RT_MEDICATIONREQUEST, x->prior);
        mp_end(c, FG_RT_MEDICATIONREQUEST, id, NULL, NULL);
    }
    return FG_OK;
}

/* ---- Immunization ---- */

int mp_write_immunizations(mp_ctx *c)
{
    const fg_history *h = c->h;
    for (size_t i = 0; i < h->immunizations.n; i++) {
        const fg_immunization *x = &h->immunizations.v[i];
        const fg_code_entry *code = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        if ((rc = mp_open_event(c, "immunizations", i, x->id, &x->term, FG_SYS_CVX, &code,
                                x->encounter, NULL)))
            return rc;
        if (x->time == FG_TIME_NONE)
            return mp_fail(c, FG_EINVALID, "immunizations", i, "time",
                           "US Core requires Immunization.occurrence");
        const char *id = mp_id(c, FG_RT_IMMUNIZATION, x->id, buf);
        mp_begin(c, FG_RT_IMMUNIZATION, id, FG_PROF_IMMUNIZATION);
        MP_RAW(c, "status", "\"completed\"");
        mp_cc(c, "vaccineCode", code);
        mp_ref_patient(c, "patient");
        if (x->encounter)
            mp_ref(c, "encounter", FG_RT_ENCOUNTER, x->encounter);
        mp_datetime(c, "occurrenceDateTime", x->time);
        fg_jw_kv_bool(&c->w, "primarySource", 1);
        mp_end(c, FG_RT_IMMUNIZATION, id, NULL, NULL);
    }
    return FG_OK;
}

/* ---- Procedure ---- */

int mp_write_procedures(mp_ctx *c)
{
    const fg_history *h = c->h;
    fg_jw *w = &c->w;
    for (size_t i = 0; i < h->procedures.n; i++) {
        const fg_procedure *x = &h->procedures.v[i];
        const fg_code_entry *code = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        const fg_encounter *enc;
        if ((rc = mp_open_event(c, "procedures", i, x->id, &x->term, FG_SYS_SNOMED, &code,
                                x->encounter, &enc)))
            return rc;
        if ((rc = check_condition(c, x->reason, "procedures", i, "reason")))
            return rc;
        const char *id = mp_id(c, FG_RT_PROCEDURE, x->id, buf);
        mp_begin(c, FG_RT_PROCEDURE, id, FG_PROF_PROCEDURE);
        MP_RAW(c, "status", "\"completed\"");
        mp_cc(c, "code", code);
        mp_ref_patient(c, "subject");
        if (x->encounter)
            mp_ref(c, "encounter", FG_RT_ENCOUNTER, x->encounter);
        if (x->end != FG_TIME_NONE && x->end != x->start)
            mp_period(c, "performedPeriod", x->start, x->end);
        else
            mp_datetime(c, "performedDateTime", x->start);
        if (enc && enc->practitioner) {
            fg_jw_kv_arr(w, "performer");
            fg_jw_obj(w);
            mp_ref(c, "actor", FG_RT_PRACTITIONER, enc->practitioner);
            fg_jw_obj_end(w);
            fg_jw_arr_end(w);
        }
        if (enc && enc->location)
            mp_ref(c, "location", FG_RT_LOCATION, enc->location);
        if (x->reason) {
            fg_jw_kv_arr(w, "reasonReference");
            mp_ref(c, NULL, FG_RT_CONDITION, x->reason);
            fg_jw_arr_end(w);
        }
        mp_end(c, FG_RT_PROCEDURE, id, NULL, NULL);
    }
    return FG_OK;
}

/* ---- AllergyIntolerance ---- */

int mp_write_allergies(mp_ctx *c)
{
    static const char *const category[] = {"\"food\"", "\"medication\"", "\"environment\""};
    static const char *const severity[] = {"\"mild\"", "\"moderate\"", "\"severe\""};
    const fg_history *h = c->h;
    fg_jw *w = &c->w;
    for (size_t i = 0; i < h->allergies.n; i++) {
        const fg_allergy *x = &h->allergies.v[i];
        const fg_code_entry *code = NULL, *reaction = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        if (!x->id)
            return mp_fail(c, FG_EINVALID, "allergies", i, "id", "missing");
        if ((unsigned)x->category > FG_ALLERGY_ENVIRONMENT)
            return mp_fail(c, FG_EINVALID, "allergies", i, "category", "unknown category");
        if (x->severity < 0 || x->severity > 2)
            return mp_fail(c, FG_EINVALID, "allergies", i, "severity",
                           "must be 0 (mild), 1 (moderate) or 2 (severe)");
        if ((rc = mp_ground(c, &x->term, FG_SYS_SNOMED, "allergies", i, "term", &code)))
            return rc;
        if (has_term(&x->reaction) &&
            (rc = mp_ground(c, &x->reaction, FG_SYS_SNOMED, "allergies", i, "reaction",
                            &reaction)))
            return rc;
        const fg_encounter *enc = mp_encounter(c, x->encounter, "allergies", i, &rc);
        if (rc)
            return rc;
        const char *id = mp_id(c, FG_RT_ALLERGYINTOLERANCE, x->id, buf);
        mp_begin(c, FG_RT_ALLERGYINTOLERANCE, id, FG_PROF_ALLERGYINTOLERANCE);
        MP_RAW(c, "clinicalStatus",
               "{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
               "allergyintolerance-clinical\",\"code\":\"active\",\"display\":\"Active\"}]}");
        MP_RAW(c, "verificationStatus",
               "{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
               "allergyintolerance-verification\",\"code\":\"confirmed\","
               "\"display\":\"Confirmed\"}]}");
        MP_RAW(c, "type", "\"allergy\"");
        fg_jw_kv_arr(w, "category");
        fg_jw_raw(w, category[x->category], strlen(category[x->category]));
        fg_jw_arr_end(w);
        if (x->high_criticality)
            MP_RAW(c, "criticality", "\"high\"");
        else
            MP_RAW(c, "criticality", "\"low\"");
        mp_cc(c, "code", code);
        mp_ref_patient(c, "patient");
        if (x->encounter)
            mp_ref(c, "encounter", FG_RT_ENCOUNTER, x->encounter);
        mp_datetime(c, "onsetDateTime", x->onset);
        mp_datetime(c, "recordedDate", enc ? enc->start : x->onset);
        if (reaction) {
            fg_jw_kv_arr(w, "reaction");
            fg_jw_obj(w);
            fg_jw_kv_arr(w, "manifestation");
            mp_cc(c, NULL, reaction);
            fg_jw_arr_end(w);
            fg_jw_key(w, "severity");
            fg_jw_raw(w, severity[x->severity], strlen(severity[x->severity]));
            fg_jw_obj_end(w);
            fg_jw_arr_end(w);
        }
        mp_end(c, FG_RT_ALLERGYINTOLERANCE, id, NULL, NULL);
    }
    return FG_OK;
}

/* ---- CarePlan ---- */

/* Text as XHTML character data inside a JSON string: &, <, > become
 * entities, the rest is JSON-escaped. */
static void put_xhtml_text(fg_buf *b, const char *s)
{
    size_t start = 0, i = 0;
    for (; s[i]; i++) {
        const char *ent = NULL;
        switch (s[i]) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        default: continue;
        }
        fg_json_escape(b, s + start, i - start);
        fg_buf_puts(b, ent);
        start = i + 1;
    }
    fg_json_escape(b, s + start, i - start);
}

static void put_date_text(fg_buf *b, fg_time t)
{
    char d[11];
    fg_format_date(t, d);
    fg_buf_append(b, d, 10);
}

int mp_write_careplans(mp_ctx *c)
{
    const fg_history *h = c->h;
    fg_jw *w = &c->w;
    for (size_t i = 0; i < h->careplans.n; i++) {
        const fg_careplan *x = &h->careplans.v[i];
        const fg_code_entry *code = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        if ((rc = mp_open(c, "careplans", i, x->id, &x->term, FG_SYS_SNOMED, "term", &code)))
            return rc;
        for (size_t j = 0; j < x->n_activities; j++) {
            const fg_code_entry *a = NULL;
            if ((rc = mp_ground(c, &x->activities[j], FG_SYS_SNOMED, "careplans", i,
                                "activities", &a))) {
                if (c->err)
                    snprintf(c->err->where, sizeof(c->err->where),
                             "careplans[%zu].activities[%zu]", i, j);
                return rc;
            }
        }
        for (size_t j = 0; j < x->n_addresses; j++) {
            if ((rc = check_condition(c, x->addresses[j], "careplans", i, "addresses"))) {
                if (c->err)
                    snprintf(c->err->where, sizeof(c->err->where),
                             "careplans[%zu].addresses[%zu]", i, j);
                return rc;
            }
        }
        mp_encounter(c, x->encounter, "careplans", i, &rc);
        if (rc)
            return rc;
        int active = x->end == FG_TIME_NONE;
        const char *id = mp_id(c, FG_RT_CAREPLAN, x->id, buf);
        mp_begin(c, FG_RT_CAREPLAN, id, FG_PROF_CAREPLAN);

        /* The narrative: what the plan is, its dates and its activities. */
        fg_jw_kv_obj(w, "text");
        MP_RAW(c, "status", "\"generated\"");
        fg_jw_key(w, "div");
        MP_RAWV(c, "\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\"><p>");
        fg_buf *b = w->out;
        put_xhtml_text(b, code->display && *code->display ? code->display : code->code);
        fg_buf_puts(b, active ? " (active" : " (completed");
        if (x->start != FG_TIME_NONE) {
            fg_buf_puts(b, ", from ");
            put_date_text(b, x->start);
        }
        if (!active) {
            fg_buf_puts(b, " to ");
            put_date_text(b, x->end);
        }
        fg_buf_puts(b, ")</p>");
        if (x->n_activities) {
            fg_buf_puts(b, "<ul>");
            for (size_t j = 0; j < x->n_activities; j++) {
                const fg_code_entry *a = NULL;
                mp_ground(c, &x->activities[j], FG_SYS_SNOMED, "careplans", i, NULL, &a);
                fg_buf_puts(b, "<li>");
                put_xhtml_text(b, a->display && *a->display ? a->display : a->code);
                fg_buf_puts(b, "</li>");
            }
            fg_buf_puts(b, "</ul>");
        }
        fg_buf_puts(b, "</div>\"");
        fg_jw_obj_end(w);

        fg_jw_kv_str(w, "status", active ? "active" : "completed");
        MP_RAW(c, "intent", "\"plan\"");
        fg_jw_kv_arr(w, "category");
        MP_RAWV(c, "{\"coding\":[{\"system\":\"http://hl7.org/fhir/us/core/CodeSystem/"
                   "careplan-category\",\"code\":\"assess-plan\",\"display\":\"Assessment "
                   "and Plan of Treatment\"}]}");
        mp_cc(c, NULL, code);
        fg_jw_arr_end(w);
        mp_ref_patient(c, "subject");
        if (x->encounter)
            mp_ref(c, "encounter", FG_RT_ENCOUNTER, x->encounter);
        mp_period(c, "period", x->start, x->end);
        if (x->n_addresses) {
            fg_jw_kv_arr(w, "addresses");
            for (size_t j = 0; j < x->n_addresses; j++)
                mp_ref(c, NULL, FG_RT_CONDITION, x->addresses[j]);
            fg_jw_arr_end(w);
        }
        if (x->n_activities) {
            fg_jw_kv_arr(w, "activity");
            for (size_t j = 0; j < x->n_activities; j++) {
                const fg_code_entry *a = NULL;
                mp_ground(c, &x->activities[j], FG_SYS_SNOMED, "careplans", i, NULL, &a);
                fg_jw_obj(w);
                fg_jw_kv_obj(w, "detail");
                mp_cc(c, "code", a);
                fg_jw_kv_str(w, "status", active ? "in-progress" : "completed");
                fg_jw_obj_end(w);
                fg_jw_obj_end(w);
            }
            fg_jw_arr_end(w);
        }
        mp_end(c, FG_RT_CAREPLAN, id, NULL, NULL);
    }
    return FG_OK;
}

/* ---- DocumentReference ---- */

int mp_write_notes(mp_ctx *c)
{
    const fg_history *h = c->h;
    fg_jw *w = &c->w;
    for (size_t i = 0; i < h->notes.n; i++) {
        const fg_note *x = &h->notes.v[i];
        const fg_code_entry *type = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        if ((rc = mp_open(c, "notes", i, x->id, &x->type, FG_SYS_LOINC, "type", &type)))
            return rc;
        if (!x->text || !*x->text)
            return mp_fail(c, FG_EINVALID, "notes", i, "text", "a note needs text");
        size_t len = strlen(x->text);
        if (len > FG_MAX_NOTE_BYTES)
            return mp_fail(c, FG_ELIMIT, "notes", i, "text",
                           "longer than FG_MAX_NOTE_BYTES (%u bytes)",
                           (unsigned)FG_MAX_NOTE_BYTES);
        const fg_encounter *enc = mp_encounter(c, x->encounter, "notes", i, &rc);
        if (rc)
            return rc;
        const char *id = mp_id(c, FG_RT_DOCUMENTREFERENCE, x->id, buf);
        mp_begin(c, FG_RT_DOCUMENTREFERENCE, id, FG_PROF_DOCUMENTREFERENCE);
        put_uri_identifier(c, id);
        MP_RAW(c, "status", "\"current\"");
        mp_cc(c, "type", type);
        MP_RAW(c, "category",
               "[{\"coding\":[{\"system\":\"http://hl7.org/fhir/us/core/CodeSystem/"
               "us-core-documentreference-category\",\"code\":\"clinical-note\","
               "\"display\":\"Clinical Note\"}],\"text\":\"Clinical Note\"}]");
        mp_ref_patient(c, "subject");
        mp_datetime(c, "date", x->time);
        if (enc && enc->practitioner) {
            fg_jw_kv_arr(w, "author");
            mp_ref(c, NULL, FG_RT_PRACTITIONER, enc->practitioner);
            fg_jw_arr_end(w);
        }
        if (enc && enc->organization)
            mp_ref(c, "custodian", FG_RT_ORGANIZATION, enc->organization);
        fg_jw_kv_arr(w, "content");
        fg_jw_obj(w);
        fg_jw_kv_obj(w, "attachment");
        MP_RAW(c, "contentType", "\"text/plain\"");
        fg_jw_key(w, "data");
        fg_jw_base64(w, x->text, len);
        fg_jw_obj_end(w);
        fg_jw_obj_end(w);
        fg_jw_arr_end(w);
        if (enc) {
            fg_jw_kv_obj(w, "context");
            fg_jw_kv_arr(w, "encounter");
            mp_ref(c, NULL, FG_RT_ENCOUNTER, x->encounter);
            fg_jw_arr_end(w);
            mp_period(c, "period", enc->start, enc->end);
            fg_jw_obj_end(w);
        }
        mp_end(c, FG_RT_DOCUMENTREFERENCE, id, NULL, NULL);
    }
    return FG_OK;
}
