/* SPDX-License-Identifier: Apache-2.0 */
/*
 * history_json_write.c: the member tables of the history's JSON form (one
 * obj_spec per kind of object, members in schema order) and the writer that
 * walks them through fg_jw. The writer emits every member, null where a value
 * is absent, so its output validates against the strict schema; it is on the
 * generation hot path (--format history) and allocates nothing but `out`.
 */
#include <stdint.h>
#include <string.h>

#include "fhir/base/fg_buf.h"
#include "fhir/json/fg_jw.h"
#include "generators/history/history_json_private.h"

_Static_assert(sizeof(fg_sex) == sizeof(int), "enums are stored through int");
_Static_assert(sizeof(fg_encounter_class) == sizeof(int), "enums are stored through int");

const char *const hj_kind_names[] = {
    "patient",     "organization", "practitioner", "location", "encounter",
    "condition",   "observation",  "report",       "medication", "immunization",
    "procedure",   "allergy",      "careplan",     "note",
};

const char *const hj_list_names[] = {
    "patient",      "organizations", "practitioners", "locations",  "encounters",
    "conditions",   "observations",  "reports",       "medications", "immunizations",
    "procedures",   "allergies",     "careplans",     "notes",
};

/* ---- the tables ---------------------------------------------------------------------------- */

static const char *const sex_names[] = {"female", "male", NULL};
static const char *const class_names[] = {"AMB", "EMER", "IMP", "VR", NULL};
static const char *const cond_names[] = {"problem-list-item", "encounter-diagnosis", NULL};
static const char *const obs_names[] = {"vital-signs", "laboratory", "social-history", "survey",
                                        "exam", NULL};
const char *const hj_kind_value_names[] = {"none", "quantity", "code", NULL};
static const char *const med_names[] = {"active", "stopped", "completed", NULL};
static const char *const allergy_names[] = {"food", "medication", "environment", NULL};
static const char *const severity_names[] = {"mild", "moderate", "severe", NULL};

static int address_empty(const void *item);
static int tz_empty(const void *item);
static int tz_absent(const void *item, const field *f);
static int obs_absent(const void *item, const field *f);
static int allergy_absent(const void *item, const field *f);
static int med_absent(const void *item, const field *f);

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SPEC(fields, T, kind, check, empty, absent)                                              \
    {fields, N(fields), sizeof(T), kind, check, empty, absent}

#define STR(T, m, fl) {.name = #m, .kind = F_STR, .flags = (fl), .off = offsetof(T, m)}
#define ID(T) {.name = "id", .kind = F_ID, .off = offsetof(T, id)}
#define REF(T, m, k, fl) {.name = #m, .kind = F_REF, .flags = (fl), .off = offsetof(T, m), .ref = (k)}
#define ENC(T) REF(T, encounter, K_ENCOUNTER, 0)
#define IDS(T, m, n, k)                                                                          \
    {.name = #m, .kind = F_IDS, .off = offsetof(T, m), .off2 = offsetof(T, n), .ref = (k)}
#define TIME(T, m, fl) {.name = #m, .kind = F_TIME, .flags = (fl), .off = offsetof(T, m)}
#define TIME_AFTER(T, m, fl, a)                                                                  \
    {.name = #m, .kind = F_TIME, .flags = (fl), .off = offsetof(T, m), .off2 = offsetof(T, a),     \
     .after = #a}
#define ENUM_AS(T, name_, m, nm, fl)                                                             \
    {.name = name_, .kind = F_ENUM, .flags = (fl), .off = offsetof(T, m), .names = (nm)}
#define ENUM(T, m, nm, fl) ENUM_AS(T, #m, m, nm, fl)
#define BOOL(T, m) {.name = #m, .kind = F_BOOL, .off = offsetof(T, m)}
#define INT(T, m, l, h, fl)                                                                      \
    {.name = #m, .kind = F_INT, .flags = (fl), .off = offsetof(T, m), .lo = (l), .hi = (h)}
#define NUM(T, m, fl) {.name = #m, .kind = F_NUM, .flags = (fl), .off = offsetof(T, m)}
#define OBJ(T, m, spec, fl) {.name = #m, .kind = F_OBJ, .flags = (fl), .off = offsetof(T, m), .obj = &(spec)}
#define TERM(T, m, fl) OBJ(T, m, term_spec, fl)
#define ADDRESS(T) OBJ(T, address, address_spec, NUL)
#define ARR(T, m, n, spec)                                                                       \
    {.name = #m, .kind = F_ARR, .off = offsetof(T, m), .off2 = offsetof(T, n), .obj = &(spec)}
#define LIST(m, spec) {.name = #m, .kind = F_LIST, .off = offsetof(fg_history, m), .obj = &(spec)}

static const field term_fields[] = {
    STR(fg_term, system, 0), STR(fg_term, code, NUL), STR(fg_term, display, 0)};
static const obj_spec term_spec = SPEC(term_fields, fg_term, K_NONE, NULL, hj_term_empty, NULL);

static const field address_fields[] = {
    STR(fg_address, line, NUL), STR(fg_address, city, NUL), STR(fg_address, state, NUL),
    STR(fg_address, postal_code, NUL)};
static const obj_spec address_spec =
    SPEC(address_fields, fg_address, K_NONE, NULL, address_empty, NULL);

static const field tz_fields[] = {
    STR(fg_tz, name, 0),
    {.name = "utc_offset", .kind = F_OFFSET, .off = offsetof(fg_tz, std_offset)},
    INT(fg_tz, dst_since, 1900, 2100, NUL)};
static const obj_spec tz_spec = SPEC(tz_fields, fg_tz, K_NONE, NULL, tz_empty, tz_absent);

static const field patient_fields[] = {
    ID(fg_patient), STR(fg_patient, given, 0), STR(fg_patient, middle, NUL),
    STR(fg_patient, family, 0), STR(fg_patient, prefix, NUL), ENUM(fg_patient, sex, sex_names, 0),
    {.name = "birth_date", .kind = F_DATE, .off = offsetof(fg_patient, birth_date)},
    TIME_AFTER(fg_patient, death, NUL, birth_date), STR(fg_patient, race, NUL),
    STR(fg_patient, race_display, NUL), STR(fg_patient, ethnicity, NUL),
    STR(fg_patient, ethnicity_display, NUL), STR(fg_patient, marital_status, NUL),
    STR(fg_patient, language, NUL), ADDRESS(fg_patient), STR(fg_patient, phone, NUL),
    STR(fg_patient, mrn, NUL), {.name = "ssn", .kind = F_SSN, .flags = NUL, .off = offsetof(fg_patient, ssn)},
    OBJ(fg_patient, tz, tz_spec, NUL)};
static const obj_spec patient_spec = SPEC(patient_fields, fg_patient, K_PATIENT, NULL, NULL, NULL);

static const field organization_fields[] = {
    ID(fg_organization), STR(fg_organization, name, 0), STR(fg_organization, npi, NUL),
    ADDRESS(fg_organization), STR(fg_organization, phone, NUL)};
static const obj_spec organization_spec =
    SPEC(organization_fields, fg_organization, K_ORGANIZATION, NULL, NULL, NULL);

static const field practitioner_fields[] = {
    ID(fg_practitioner), STR(fg_practitioner, prefix, NUL), STR(fg_practitioner, given, 0),
    STR(fg_practitioner, family, 0), ENUM(fg_practitioner, sex, sex_names, 0),
    STR(fg_practitioner, npi, NUL), REF(fg_practitioner, organization, K_ORGANIZATION, NUL)};
static const obj_spec practitioner_spec =
    SPEC(practitioner_fields, fg_practitioner, K_PRACTITIONER, NULL, NULL, NULL);

static const field location_fields[] = {
    ID(fg_location), STR(fg_location, name, 0), REF(fg_location, organization, K_ORGANIZATION, NUL),
    ADDRESS(fg_location), STR(fg_location, phone, NUL)};
static const obj_spec location_spec =
    SPEC(location_fields, fg_location, K_LOCATION, NULL, NULL, NULL);

static const field encounter_fields[] = {
    ID(fg_encounter), ENUM_AS(fg_encounter, "class", cls, class_names, 0),
    TERM(fg_encounter, type, 0), TERM(fg_encounter, reason, NUL), TIME(fg_encounter, start, LIFE),
    TIME_AFTER(fg_encounter, end, LIFE, start),
    REF(fg_encounter, organization, K_ORGANIZATION, NUL),
    REF(fg_encounter, practitioner, K_PRACTITIONER, NUL),
    REF(fg_encounter, location, K_LOCATION, NUL), STR(fg_encounter, reason_condition, NUL),
    TERM(fg_encounter, admit_source, NUL), TERM(fg_encounter, discharge_disposition, NUL)};
static const obj_spec encounter_spec =
    SPEC(encounter_fields, fg_encounter, K_ENCOUNTER, NULL, NULL, NULL);

static const field condition_fields[] = {
    ID(fg_condition), ENC(fg_condition), ENUM(fg_condition, category, cond_names, 0),
    TERM(fg_condition, term, 0), TIME(fg_condition, onset, LIFE),
    TIME_AFTER(fg_condition, abatement, LIFE | NUL, onset), TIME(fg_condition, recorded, LIFE)};
static const obj_spec condition_spec =
    SPEC(condition_fields, fg_condition, K_CONDITION, NULL, NULL, NULL);

static const field component_fields[] = {
    TERM(fg_component, term, 0), NUM(fg_component, value, 0), STR(fg_component, unit, 0)};
static const obj_spec component_spec =
    SPEC(component_fields, fg_component, K_NONE, NULL, NULL, NULL);

static const field observation_fields[] = {
    ID(fg_observation), ENC(fg_observation), ENUM(fg_observation, category, obs_names, 0),
    TERM(fg_observation, term, 0), TIME(fg_observation, time, LIFE),
    ENUM_AS(fg_observation, "value_kind", kind, hj_kind_value_names, 0),
    NUM(fg_observation, value, NUL), STR(fg_observation, unit, NUL),
    INT(fg_observation, decimals, 0, MAX_DECIMALS, NUL), TERM(fg_observation, code_value, NUL),
    ARR(fg_observation, components, n_components, component_spec)};
const obj_spec hj_observation_spec =
    SPEC(observation_fields, fg_observation, K_OBSERVATION, hj_obs_check, NULL, obs_absent);

static const field report_fields[] = {
    ID(fg_report), ENC(fg_report), TERM(fg_report, term, 0), TIME(fg_report, time, LIFE),
    IDS(fg_report, results, n_results, K_OBSERVATION)};
static const obj_spec report_spec = SPEC(report_fields, fg_report, K_REPORT, NULL, NULL, NULL);

static const field medication_fields[] = {
    ID(fg_medication), ENC(fg_medication), TERM(fg_medication, term, 0),
    ENUM(fg_medication, status, med_names, 0), TIME(fg_medication, start, LIFE),
    TIME_AFTER(fg_medication, end, LIFE | NUL, start),
    REF(fg_medication, reason, K_CONDITION, NUL), STR(fg_medication, dosage, NUL),
    INT(fg_medication, per_day, 0, MAX_PER_DAY, 0), BOOL(fg_medication, as_needed),
    STR(fg_medication, status_reason, NUL), REF(fg_medication, prior, K_MEDICATION, NUL),
    INT(fg_medication, dose, 1, MAX_DOSE, NUL), STR(fg_medication, dose_unit, NUL),
    INT(fg_medication, quantity, 1, MAX_QUANTITY, NUL),
    INT(fg_medication, refills, 0, MAX_REFILLS, NUL),
    INT(fg_medication, supply_days, 1, MAX_SUPPLY_DAYS, NUL),
    TIME_AFTER(fg_medication, valid_until, NUL, start)};
static const obj_spec medication_spec =
    SPEC(medication_fields, fg_medication, K_MEDICATION, hj_med_check, NULL, med_absent);

static const field immunization_fields[] = {
    ID(fg_immunization), ENC(fg_immunization), TERM(fg_immunization, term, 0),
    TIME(fg_immunization, time, LIFE)};
static const obj_spec immunization_spec =
    SPEC(immunization_fields, fg_immunization, K_IMMUNIZATION, NULL, NULL, NULL);

static const field procedure_fields[] = {
    ID(fg_procedure), ENC(fg_procedure), TERM(fg_procedure, term, 0),
    TIME(fg_procedure, start, LIFE), TIME_AFTER(fg_procedure, end, LIFE, start),
    REF(fg_procedure, reason, K_CONDITION, NUL)};
static const obj_spec procedure_spec =
    SPEC(procedure_fields, fg_procedure, K_PROCEDURE, NULL, NULL, NULL);

static const field allergy_fields[] = {
    ID(fg_allergy), ENC(fg_allergy), TERM(fg_allergy, term, 0),
    ENUM(fg_allergy, category, allergy_names, 0), BOOL(fg_allergy, high_criticality),
    TIME(fg_allergy, onset, LIFE), TERM(fg_allergy, reaction, NUL),
    ENUM(fg_allergy, severity, severity_names, NUL)};
static const obj_spec allergy_spec =
    SPEC(allergy_fields, fg_allergy, K_ALLERGY, hj_allergy_check, NULL, allergy_absent);

static const field careplan_fields[] = {
    ID(fg_careplan), ENC(fg_careplan), TERM(fg_careplan, term, 0), TIME(fg_careplan, start, LIFE),
    TIME_AFTER(fg_careplan, end, LIFE | NUL, start),
    IDS(fg_careplan, addresses, n_addresses, K_CONDITION),
    ARR(fg_careplan, activities, n_activities, term_spec)};
static const obj_spec careplan_spec =
    SPEC(careplan_fields, fg_careplan, K_CAREPLAN, NULL, NULL, NULL);

static const field note_fields[] = {
    ID(fg_note), ENC(fg_note), TERM(fg_note, type, 0), TIME(fg_note, time, LIFE),
    STR(fg_note, text, TEXT)};
static const obj_spec note_spec = SPEC(note_fields, fg_note, K_NOTE, NULL, NULL, NULL);

/* The order matters: patient first, every list after the lists it names. */
static const field history_fields[] = {
    {.name = "fhirgen_history", .kind = F_VERSION, .flags = NUL},
    {.name = "patient", .kind = F_OBJ, .off = offsetof(fg_history, patient), .obj = &patient_spec},
    LIST(organizations, organization_spec), LIST(practitioners, practitioner_spec),
    LIST(locations, location_spec), LIST(encounters, encounter_spec),
    LIST(conditions, condition_spec), LIST(observations, hj_observation_spec),
    LIST(reports, report_spec), LIST(medications, medication_spec),
    LIST(immunizations, immunization_spec), LIST(procedures, procedure_spec),
    LIST(allergies, allergy_spec), LIST(careplans, careplan_spec), LIST(notes, note_spec),
    OBJ(fg_history, death_cause, term_spec, NUL)};
const obj_spec hj_history_spec = SPEC(history_fields, fg_history, K_NONE, NULL, NULL, NULL);

int hj_term_empty(const void *item)
{
    const fg_term *t = item;
    return !t->code && !t->display;
}

static int address_empty(const void *item)
{
    const fg_address *a = item;
    return !a->line && !a->city && !a->state && !a->postal_code;
}

static int tz_empty(const void *item)
{
    return !((const fg_tz *)item)->name;
}

static int tz_absent(const void *item, const field *f)
{
    return f->off == offsetof(fg_tz, dst_since) && ((const fg_tz *)item)->dst_since <= 0;
}

static int obs_absent(const void *item, const field *f)
{
    const fg_observation *o = item;
    if (f->off == offsetof(fg_observation, value) || f->off == offsetof(fg_observation, unit))
        return o->kind != FG_VALUE_QUANTITY;
    if (f->off == offsetof(fg_observation, code_value))
        return o->kind != FG_VALUE_CODE;
    return 0;
}

static int allergy_absent(const void *item, const field *f)
{
    const fg_allergy *a = item;
    return f->off == offsetof(fg_allergy, severity) && hj_term_empty(&a->reaction);
}

/* A medication's dose and dispense members are null when it states none. */
static int med_absent(const void *item, const field *f)
{
    const fg_medication *m = item;
    if (f->off == offsetof(fg_medication, dose) || f->off == offsetof(fg_medication, dose_unit))
        return m->dose <= 0;
    if (f->off == offsetof(fg_medication, quantity) ||
        f->off == offsetof(fg_medication, refills) ||
        f->off == offsetof(fg_medication, supply_days) ||
        f->off == offsetof(fg_medication, valid_until))
        return m->quantity <= 0;
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------- */

typedef struct wctx {
    fg_jw w;
    int decimals; /* of the observation being written */
} wctx;

static void write_object(wctx *x, const obj_spec *spec, const void *base);

static void write_items(wctx *x, const field *f, const void *items, size_t n)
{
    fg_jw_arr(&x->w);
    for (size_t i = 0; i < n; i++) {
        if (f->kind == F_IDS) {
            const char *s = ((const char *const *)items)[i];
            if (s)
                fg_jw_str(&x->w, s);
            else
                fg_jw_null(&x->w);
        } else {
            write_object(x, f->obj, (const char *)items + i * f->obj->size);
        }
    }
    fg_jw_arr_end(&x->w);
}

static void write_member(wctx *x, const obj_spec *spec, const field *f, const void *base)
{
    fg_jw *w = &x->w;
    fg_jw_key(w, f->name);
    if (spec->absent && spec->absent(base, f)) {
        fg_jw_null(w);
        return;
    }
    switch (f->kind) {
    case F_VERSION: fg_jw_str(w, HISTORY_VERSION); return;
    case F_STR:
    case F_ID:
    case F_REF:
    case F_SSN: {
        const char *s = *CAT(base, f->off, char *);
        if (s)
            fg_jw_str(w, s);
        else
            fg_jw_null(w);
        return;
    }
    case F_DATE:
    case F_TIME: {
        fg_time t = *CAT(base, f->off, fg_time);
        char s[21];
        if (t == FG_TIME_NONE) {
            fg_jw_null(w);
            return;
        }
        if (f->kind == F_DATE)
            fg_format_date(t, s);
        else
            fg_format_datetime(t, s);
        fg_jw_str(w, s);
        return;
    }
    case F_ENUM: {
        int v = *CAT(base, f->off, int);
        int n = 0;
        while (f->names[n])
            n++;
        if (v >= 0 && v < n)
            fg_jw_str(w, f->names[v]);
        else
            fg_jw_null(w);
        return;
    }
    case F_OFFSET: {
        char o[7];
        fg_format_utc_offset(*CAT(base, f->off, int), o);
        fg_jw_str(w, o);
        return;
    }
    case F_BOOL: fg_jw_bool(w, *CAT(base, f->off, int) != 0); return;
    case F_INT: fg_jw_int(w, *CAT(base, f->off, int)); return;
    case F_NUM: fg_jw_dec(w, *CAT(base, f->off, double), x->decimals); return;
    case F_OBJ: {
        const void *o = CAT(base, f->off, void);
        if ((f->flags & NUL) && f->obj->empty && f->obj->empty(o))
            fg_jw_null(w);
        else
            write_object(x, f->obj, o);
        return;
    }
    case F_ARR:
    case F_IDS:
        write_items(x, f, *CAT(base, f->off, void *const), *CAT(base, f->off2, size_t));
        return;
    case F_LIST: {
        vec_any vec;
        memcpy(&vec, CAT(base, f->off, void), sizeof(vec));
        write_items(x, f, vec.v, vec.n);
        return;
    }
    }
}

static void write_object(wctx *x, const obj_spec *spec, const void *base)
{
    if (spec == &hj_observation_spec) {
        int d = ((const fg_observation *)base)->decimals;
        x->decimals = d < 0 ? 0 : d > MAX_DECIMALS ? MAX_DECIMALS : d;
    }
    fg_jw_obj(&x->w);
    for (size_t i = 0; i < spec->n; i++)
        write_member(x, spec, &spec->fields[i], base);
    fg_jw_obj_end(&x->w);
}

int fg_history_write(const fg_history *h, fg_buf *out)
{
    wctx x = {.decimals = 0};
    fg_jw_init(&x.w, out);
    write_object(&x, &hj_history_spec, h);
    return out->failed ? FG_ENOMEM : FG_OK;
}
