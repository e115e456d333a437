/*
 * history_json.c: the JSON form of a patient history, as described by
 * data/schema/history.schema.json.
 *
 * Both directions walk the same tables. Each kind of JSON object (patient,
 * encounter, term, ...) has an obj_spec: the list of its members in schema
 * order, each with its kind (string, id, reference, date-time, enum, nested
 * object, list, ...), its offset in the C struct and a few flags. The parser
 * walks a table to report unknown members, missing members, wrong types and
 * bad values the same way everywhere; the writer walks it to emit members in
 * the same order, with explicit nulls for absent optional values, so its
 * output validates against the strict schema.
 *
 * Members are read in table order, not document order: the patient comes
 * first and every list comes after the lists it refers to (events after
 * encounters, reports after observations, medications after conditions), so
 * references, duplicate ids and "before birth / after death" are all checked
 * while reading, each error carrying the path of the member at fault.
 *
 * Ids are kept in a jansson object (id -> kind and index) for the length of
 * one parse, so every allocation of a parse other than the history's arena
 * goes through jansson's allocator (the allocation-failure test relies on it).
 */
#include "fg_history.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../fhir/fg_buf.h"
#include "../fhir/fg_jw.h"
#include "../fhir/fg_limits.h"

#define HISTORY_VERSION "1"
#define MAX_ID_CHARS 64
#define MAX_PER_DAY 100
#define MAX_DECIMALS 6
#define MAX_ABS_VALUE 9e12 /* what fg_jw_dec writes faithfully */

_Static_assert(sizeof(fg_sex) == sizeof(int), "enums are stored through int");
_Static_assert(sizeof(fg_encounter_class) == sizeof(int), "enums are stored through int");

/* What an id names; the index into kind_names and list_names. */
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

static const char *const kind_names[] = {
    "patient",     "organization", "practitioner", "location", "encounter",
    "condition",   "observation",  "report",       "medication", "immunization",
    "procedure",   "allergy",      "careplan",     "note",
};

static const char *const list_names[] = {
    "patient",      "organizations", "practitioners", "locations",  "encounters",
    "conditions",   "observations",  "reports",       "medications", "immunizations",
    "procedures",   "allergies",     "careplans",     "notes",
};

typedef enum fkind {
    F_VERSION, /* "fhirgen_history": "1", not stored */
    F_STR,     /* const char *; non-empty unless NUL ("" then reads as NULL) */
    F_ID,      /* const char *, a FHIR id, unique across the history */
    F_REF,     /* const char *, the id of an earlier object of kind `ref` */
    F_IDS,     /* const char ** at off, size_t at off2: ids of kind `ref` */
    F_SSN,     /* const char *, 999-NN-NNNN */
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

/* ---- the tables ---------------------------------------------------------------------------- */

static const char *const sex_names[] = {"female", "male", NULL};
static const char *const class_names[] = {"AMB", "EMER", "IMP", "VR", NULL};
static const char *const cond_names[] = {"problem-list-item", "encounter-diagnosis", NULL};
static const char *const obs_names[] = {"vital-signs", "laboratory", "social-history", "survey",
                                        "exam", NULL};
static const char *const kind_value_names[] = {"none", "quantity", "code", NULL};
static const char *const med_names[] = {"active", "stopped", "completed", NULL};
static const char *const allergy_names[] = {"food", "medication", "environment", NULL};
static const char *const severity_names[] = {"mild", "moderate", "severe", NULL};

static int term_empty(const void *item);
static int address_empty(const void *item);
static int obs_absent(const void *item, const field *f);
static int allergy_absent(const void *item, const field *f);
static int obs_check(struct ctx *c, void *item);
static int allergy_check(struct ctx *c, void *item);

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
static const obj_spec term_spec = SPEC(term_fields, fg_term, K_NONE, NULL, term_empty, NULL);

static const field address_fields[] = {
    STR(fg_address, line, NUL), STR(fg_address, city, NUL), STR(fg_address, state, NUL),
    STR(fg_address, postal_code, NUL)};
static const obj_spec address_spec =
    SPEC(address_fields, fg_address, K_NONE, NULL, address_empty, NULL);

static const field patient_fields[] = {
    ID(fg_patient), STR(fg_patient, given, 0), STR(fg_patient, middle, NUL),
    STR(fg_patient, family, 0), STR(fg_patient, prefix, NUL), ENUM(fg_patient, sex, sex_names, 0),
    {.name = "birth_date", .kind = F_DATE, .off = offsetof(fg_patient, birth_date)},
    TIME_AFTER(fg_patient, death, NUL, birth_date), STR(fg_patient, race, NUL),
    STR(fg_patient, race_display, NUL), STR(fg_patient, ethnicity, NUL),
    STR(fg_patient, ethnicity_display, NUL), STR(fg_patient, marital_status, NUL),
    STR(fg_patient, language, NUL), ADDRESS(fg_patient), STR(fg_patient, phone, NUL),
    STR(fg_patient, mrn, NUL), {.name = "ssn", .kind = F_SSN, .flags = NUL, .off = offsetof(fg_patient, ssn)}};
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
    REF(fg_encounter, location, K_LOCATION, NUL)};
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
    ENUM_AS(fg_observation, "value_kind", kind, kind_value_names, 0),
    NUM(fg_observation, value, NUL), STR(fg_observation, unit, NUL),
    INT(fg_observation, decimals, 0, MAX_DECIMALS, NUL), TERM(fg_observation, code_value, NUL),
    ARR(fg_observation, components, n_components, component_spec)};
static const obj_spec observation_spec =
    SPEC(observation_fields, fg_observation, K_OBSERVATION, obs_check, NULL, obs_absent);

static const field report_fields[] = {
    ID(fg_report), ENC(fg_report), TERM(fg_report, term, 0), TIME(fg_report, time, LIFE),
    IDS(fg_report, results, n_results, K_OBSERVATION)};
static const obj_spec report_spec = SPEC(report_fields, fg_report, K_REPORT, NULL, NULL, NULL);

static const field medication_fields[] = {
    ID(fg_medication), ENC(fg_medication), TERM(fg_medication, term, 0),
    ENUM(fg_medication, status, med_names, 0), TIME(fg_medication, start, LIFE),
    TIME_AFTER(fg_medication, end, LIFE | NUL, start),
    REF(fg_medication, reason, K_CONDITION, NUL), STR(fg_medication, dosage, NUL),
    INT(fg_medication, per_day, 0, MAX_PER_DAY, 0), BOOL(fg_medication, as_needed)};
static const obj_spec medication_spec =
    SPEC(medication_fields, fg_medication, K_MEDICATION, NULL, NULL, NULL);

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
    SPEC(allergy_fields, fg_allergy, K_ALLERGY, allergy_check, NULL, allergy_absent);

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
    LIST(conditions, condition_spec), LIST(observations, observation_spec),
    LIST(reports, report_spec), LIST(medications, medication_spec),
    LIST(immunizations, immunization_spec), LIST(procedures, procedure_spec),
    LIST(allergies, allergy_spec), LIST(careplans, careplan_spec), LIST(notes, note_spec),
    OBJ(fg_history, death_cause, term_spec, NUL)};
static const obj_spec history_spec = SPEC(history_fields, fg_history, K_NONE, NULL, NULL, NULL);

/* ---- small helpers ------------------------------------------------------------------------- */

#define AT(base, off, T) ((T *)((char *)(base) + (off)))
#define CAT(base, off, T) ((const T *)((const char *)(base) + (off)))

/* An FG_VEC(T) seen without its item type; read and written with memcpy. */
typedef struct vec_any {
    void *v;
    size_t n, cap;
} vec_any;

static int term_empty(const void *item)
{
    const fg_term *t = item;
    return !t->code && !t->display;
}

static int address_empty(const void *item)
{
    const fg_address *a = item;
    return !a->line && !a->city && !a->state && !a->postal_code;
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
    return f->off == offsetof(fg_allergy, severity) && term_empty(&a->reaction);
}

/* ---- parsing ------------------------------------------------------------------------------- */

typedef struct ctx {
    fg_history *h;
    fg_error *err;
    const char *source;
    json_t *ids; /* id -> (kind << 32 | index) */
    char path[FG_ERROR_WHERE_MAX];
    size_t plen;
} ctx;

static int fail(ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(ctx *c, int code, const char *fmt, ...)
{
    if (!c->err)
        return code;
    char text[FG_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    const char *where = c->plen ? c->path : (c->source ? c->source : "history");
    return fg_error_set(c->err, code, where, "%s", text);
}

static size_t push_key(ctx *c, const char *key)
{
    size_t old = c->plen;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "%s%s", old ? "." : "", key);
    c->plen = n < 0 ? old : old + (size_t)n >= sizeof(c->path) ? sizeof(c->path) - 1 : old + (size_t)n;
    return old;
}

static size_t push_index(ctx *c, size_t i)
{
    size_t old = c->plen;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);
    c->plen = n < 0 ? old : old + (size_t)n >= sizeof(c->path) ? sizeof(c->path) - 1 : old + (size_t)n;
    return old;
}

static void pop(ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = 0;
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "null";
    }
}

static int wrong_type(ctx *c, const json_t *j, const char *want, unsigned flags)
{
    return fail(c, FG_EINVALID, "expected %s%s, got %s", want, (flags & NUL) ? " or null" : "",
                type_name(j));
}

/* A string value, length-checked and copied into the arena. "" reads as
 * NULL where null is allowed. */
static int read_string(ctx *c, const json_t *j, unsigned flags, const char **out)
{
    if (!json_is_string(j))
        return wrong_type(c, j, "a string", flags);
    size_t n = json_string_length(j);
    size_t max = (flags & TEXT) ? FG_MAX_NOTE_BYTES : FG_MAX_STRING_BYTES;
    if (n > max)
        return fail(c, FG_ELIMIT, "a string of %zu bytes is longer than the limit of %zu bytes", n,
                    max);
    if (n == 0) {
        if (flags & NUL) {
            *out = NULL;
            return FG_OK;
        }
        return fail(c, FG_EINVALID, "empty string: a value is required here");
    }
    char *s = fg_arena_strndup(&c->h->arena, json_string_value(j), n);
    if (!s)
        return fail(c, FG_ENOMEM, "out of memory");
    *out = s;
    return FG_OK;
}

static int is_fhir_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.'))
            return 0;
    }
    return n >= 1 && n <= MAX_ID_CHARS;
}

/* "encounters[3]" or "the patient": what an entry of the id index names. */
static const char *owner(const json_t *entry, char who[64])
{
    json_int_t v = json_integer_value(entry);
    if ((v >> 32) == K_PATIENT)
        return "the patient";
    snprintf(who, 64, "%s[%lld]", list_names[v >> 32], (long long)(v & 0xffffffff));
    return who;
}

static int register_id(ctx *c, const char *id, int kind, size_t index)
{
    if (!is_fhir_id(id))
        return fail(c, FG_EINVALID,
                    "not a FHIR id (1 to 64 characters from A-Z a-z 0-9 - .): \"%.80s\"", id);
    json_t *prev = json_object_get(c->ids, id);
    if (prev) {
        char who[64];
        return fail(c, FG_EINVALID, "duplicate id \"%s\": already the id of %s", id,
                    owner(prev, who));
    }
    json_t *v = json_integer(((json_int_t)kind << 32) | (json_int_t)index);
    if (!v || json_object_set_new_nocheck(c->ids, id, v))
        return fail(c, FG_ENOMEM, "out of memory");
    return FG_OK;
}

static int check_ref(ctx *c, const char *id, int want)
{
    json_t *v = json_object_get(c->ids, id);
    if (!v)
        return fail(c, FG_EINVALID, "no %s has id \"%.80s\"", kind_names[want], id);
    json_int_t k = json_integer_value(v) >> 32;
    char who[64];
    if (k != want)
        return fail(c, FG_EINVALID, "no %s has id \"%.80s\" (that id belongs to %s)",
                    kind_names[want], id, owner(v, who));
    return FG_OK;
}

static int check_life(ctx *c, fg_time t)
{
    const fg_patient *p = &c->h->patient;
    char a[21], b[21];
    if (t < p->birth_date) {
        fg_format_datetime(t, a);
        fg_format_date(p->birth_date, b);
        return fail(c, FG_EINVALID, "%s is before the patient's birth (%s)", a, b);
    }
    if (p->death != FG_TIME_NONE && t > p->death) {
        fg_format_datetime(t, a);
        fg_format_datetime(p->death, b);
        return fail(c, FG_EINVALID, "%s is after the patient's death (%s)", a, b);
    }
    return FG_OK;
}

static int parse_object(ctx *c, const json_t *j, const obj_spec *spec, void *base, size_t index);

/* Items of an array of objects into a new arena array. */
static int parse_items(ctx *c, const json_t *j, const field *f, void **items, size_t *n)
{
    if (!json_is_array(j))
        return wrong_type(c, j, "an array", 0);
    size_t count = json_array_size(j);
    if (count > FG_MAX_HISTORY_EVENTS)
        return fail(c, FG_ELIMIT, "%zu items are more than the limit of %d", count,
                    FG_MAX_HISTORY_EVENTS);
    void *v = NULL;
    if (count) {
        size_t item = f->kind == F_IDS ? sizeof(const char *) : f->obj->size;
        v = fg_arena_calloc(&c->h->arena, count * item);
        if (!v)
            return fail(c, FG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        size_t old = push_index(c, i);
        const json_t *e = json_array_get(j, i);
        int rc;
        if (f->kind == F_IDS) {
            const char **s = (const char **)v + i;
            rc = read_string(c, e, 0, s);
            if (rc == FG_OK)
                rc = check_ref(c, *s, f->ref);
        } else {
            rc = parse_object(c, e, f->obj, (char *)v + i * f->obj->size, i);
        }
        if (rc)
            return rc;
        pop(c, old);
    }
    *items = v;
    *n = count;
    return FG_OK;
}

static int parse_enum(ctx *c, const json_t *j, const field *f, int *out)
{
    if (!json_is_string(j))
        return wrong_type(c, j, "a string", f->flags);
    const char *s = json_string_value(j);
    for (int i = 0; f->names[i]; i++)
        if (strcmp(s, f->names[i]) == 0) {
            *out = i;
            return FG_OK;
        }
    char allowed[256];
    size_t n = 0;
    allowed[0] = 0;
    for (int i = 0; f->names[i]; i++) {
        int w = snprintf(allowed + n, sizeof(allowed) - n, "%s%s", i ? ", " : "", f->names[i]);
        if (w < 0 || (size_t)w >= sizeof(allowed) - n)
            break;
        n += (size_t)w;
    }
    return fail(c, FG_EINVALID, "unknown value \"%.80s\" (allowed: %s)", s, allowed);
}

static int parse_time(ctx *c, const json_t *j, const field *f, void *base)
{
    if (!json_is_string(j))
        return wrong_type(c, j, "a string", f->flags);
    const char *s = json_string_value(j);
    fg_time t;
    if (f->kind == F_DATE) {
        if (fg_parse_date(s, &t))
            return fail(c, FG_EINVALID, "not a date (expected YYYY-MM-DD): \"%.40s\"", s);
    } else if (strlen(s) != 20 || s[19] != 'Z' || fg_parse_datetime(s, &t)) {
        return fail(c, FG_EINVALID, "not a date-time (expected YYYY-MM-DDThh:mm:ssZ): \"%.40s\"",
                    s);
    }
    if (f->after) {
        fg_time before = *CAT(base, f->off2, fg_time);
        if (before != FG_TIME_NONE && t < before) {
            char a[21];
            fg_format_datetime(before, a);
            return fail(c, FG_EINVALID, "\"%s\" is before %s (%s)", s, f->after, a);
        }
    }
    int rc = (f->flags & LIFE) ? check_life(c, t) : FG_OK;
    if (rc)
        return rc;
    *AT(base, f->off, fg_time) = t;
    return FG_OK;
}

/* A null (or missing, for nullable members) value. */
static void set_null(const field *f, void *base)
{
    switch (f->kind) {
    case F_TIME: *AT(base, f->off, fg_time) = FG_TIME_NONE; break;
    case F_ENUM:
    case F_INT: *AT(base, f->off, int) = -1; break;
    case F_NUM: *AT(base, f->off, double) = NAN; break;
    case F_OBJ: memset(AT(base, f->off, char), 0, f->obj->size); break;
    case F_ARR:
    case F_IDS:
        *AT(base, f->off, void *) = NULL;
        *AT(base, f->off2, size_t) = 0;
        break;
    case F_VERSION:
    case F_LIST: break;
    default: *AT(base, f->off, const char *) = NULL; break;
    }
}

static int parse_member(ctx *c, const json_t *j, const field *f, void *base, int kind,
                        size_t index)
{
    if (json_is_null(j) && (f->flags & NUL)) {
        set_null(f, base);
        return FG_OK;
    }
    const char **sp = AT(base, f->off, const char *);
    int rc;
    switch (f->kind) {
    case F_VERSION:
        if (!json_is_string(j) || strcmp(json_string_value(j), HISTORY_VERSION) != 0)
            return fail(c, FG_EINVALID, "unsupported version (this fhirgen reads \"%s\")",
                        HISTORY_VERSION);
        return FG_OK;
    case F_STR: return read_string(c, j, f->flags, sp);
    case F_ID:
        if ((rc = read_string(c, j, 0, sp)))
            return rc;
        return register_id(c, *sp, kind, index);
    case F_REF:
        if ((rc = read_string(c, j, 0, sp)))
            return rc;
        return check_ref(c, *sp, f->ref);
    case F_SSN:
        if ((rc = read_string(c, j, f->flags, sp)) || !*sp)
            return rc;
        if (strlen(*sp) != 11 || strncmp(*sp, "999-", 4) != 0 || (*sp)[6] != '-' ||
            strspn(*sp + 4, "0123456789") != 2 || strspn(*sp + 7, "0123456789") != 4)
            return fail(c, FG_EINVALID,
                        "not a synthetic SSN (expected 999-NN-NNNN, the never-issued 999 area)");
        return FG_OK;
    case F_DATE:
    case F_TIME: return parse_time(c, j, f, base);
    case F_ENUM: return parse_enum(c, j, f, AT(base, f->off, int));
    case F_BOOL:
        if (!json_is_boolean(j))
            return wrong_type(c, j, "true or false", f->flags);
        *AT(base, f->off, int) = json_is_true(j);
        return FG_OK;
    case F_INT: {
        if (!json_is_integer(j))
            return wrong_type(c, j, "an integer", f->flags);
        json_int_t v = json_integer_value(j);
        if (v < f->lo || v > f->hi)
            return fail(c, FG_EINVALID, "%lld is out of range (%d to %d)", (long long)v, f->lo,
                        f->hi);
        *AT(base, f->off, int) = (int)v;
        return FG_OK;
    }
    case F_NUM: {
        if (!json_is_number(j))
            return wrong_type(c, j, "a number", f->flags);
        double v = json_number_value(j);
        if (!isfinite(v) || fabs(v) > MAX_ABS_VALUE)
            return fail(c, FG_EINVALID, "%g is out of range (at most %g in magnitude)", v,
                        MAX_ABS_VALUE);
        *AT(base, f->off, double) = v;
        return FG_OK;
    }
    case F_OBJ: return parse_object(c, j, f->obj, AT(base, f->off, void), 0);
    case F_ARR:
    case F_IDS:
        return parse_items(c, j, f, AT(base, f->off, void *), AT(base, f->off2, size_t));
    case F_LIST: {
        vec_any vec = {NULL, 0, 0};
        if ((rc = parse_items(c, j, f, &vec.v, &vec.n)))
            return rc;
        vec.cap = vec.n;
        memcpy(AT(base, f->off, void), &vec, sizeof(vec));
        return FG_OK;
    }
    }
    return fail(c, FG_EINTERNAL, "unhandled member kind");
}

static int parse_object(ctx *c, const json_t *j, const obj_spec *spec, void *base, size_t index)
{
    if (!json_is_object(j))
        return wrong_type(c, j, "an object", 0);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        size_t i = 0;
        while (i < spec->n && strcmp(spec->fields[i].name, key) != 0)
            i++;
        if (i == spec->n) {
            char names[512];
            size_t n = 0;
            names[0] = 0;
            for (size_t k = 0; k < spec->n; k++) {
                int w = snprintf(names + n, sizeof(names) - n, "%s%s", k ? ", " : "",
                                 spec->fields[k].name);
                if (w < 0 || (size_t)w >= sizeof(names) - n)
                    break;
                n += (size_t)w;
            }
            return fail(c, FG_EINVALID, "unknown member \"%.64s\" (members: %s)", key, names);
        }
    }
    for (size_t i = 0; i < spec->n; i++) {
        const field *f = &spec->fields[i];
        const json_t *m = json_object_get(j, f->name);
        if (!m) {
            if (!(f->flags & NUL) && f->kind != F_LIST && f->kind != F_ARR && f->kind != F_IDS)
                return fail(c, FG_EINVALID, "missing member \"%s\"", f->name);
            set_null(f, base);
            continue;
        }
        size_t old = push_key(c, f->name);
        int rc = parse_member(c, m, f, base, spec->kind, index);
        if (rc)
            return rc;
        pop(c, old);
    }
    return spec->check ? spec->check(c, base) : FG_OK;
}

/* Digits after the point that v needs, up to MAX_DECIMALS. */
static int decimals_of(double v)
{
    double scale = 1;
    for (int d = 0; d < MAX_DECIMALS; d++, scale *= 10) {
        double x = v * scale;
        if (fabs(x - round(x)) <= 1e-9 * fmax(1.0, fabs(x)))
            return d;
    }
    return MAX_DECIMALS;
}

static int member_fail(ctx *c, const char *member, const char *fmt, const char *arg)
{
    push_key(c, member);
    return fail(c, FG_EINVALID, fmt, arg);
}

static int obs_check(ctx *c, void *item)
{
    fg_observation *o = item;
    const char *kind = kind_value_names[o->kind];
    int has_value = !isnan(o->value);
    if (o->kind == FG_VALUE_QUANTITY) {
        if (!has_value)
            return member_fail(c, "value", "required when value_kind is \"%s\"", kind);
        if (!o->unit)
            return member_fail(c, "unit", "required when value_kind is \"%s\"", kind);
    } else {
        if (has_value)
            return member_fail(c, "value", "must be null when value_kind is \"%s\"", kind);
        if (o->unit)
            return member_fail(c, "unit", "must be null when value_kind is \"%s\"", kind);
        o->value = 0;
    }
    int has_code = !term_empty(&o->code_value);
    if (o->kind == FG_VALUE_CODE && !has_code)
        return member_fail(c, "code_value", "required when value_kind is \"%s\"", kind);
    if (o->kind != FG_VALUE_CODE && has_code)
        return member_fail(c, "code_value", "must be null when value_kind is \"%s\"", kind);
    if (o->decimals < 0) {
        o->decimals = o->kind == FG_VALUE_QUANTITY ? decimals_of(o->value) : 0;
        for (size_t i = 0; i < o->n_components; i++) {
            int d = decimals_of(o->components[i].value);
            if (d > o->decimals)
                o->decimals = d;
        }
    }
    return FG_OK;
}

static int allergy_check(ctx *c, void *item)
{
    fg_allergy *a = item;
    int has_reaction = !term_empty(&a->reaction);
    if (has_reaction && a->severity < 0)
        return member_fail(c, "severity", "required when there is a reaction%s", "");
    if (!has_reaction && a->severity >= 0)
        return member_fail(c, "severity", "must be null when reaction is null%s", "");
    if (a->severity < 0)
        a->severity = 0;
    return FG_OK;
}

/* Nesting depth of the document, counted before jansson sees it so a deeply
 * nested input is refused cheaply. Returns the line of the first bracket
 * past the limit, or 0. */
static int depth_exceeded(const char *s, size_t len)
{
    int depth = 0, line = 1, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '\n')
            line++;
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth > FG_MAX_JSON_DEPTH)
                return line;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return 0;
}

int fg_history_parse(fg_history *h, const char *json, size_t len, const char *source,
                     fg_error *err)
{
    ctx c = {.h = h, .err = err, .source = source ? source : "history"};
    json_t *root = NULL;
    int rc = FG_OK;
    fg_history_reset(h);
    if (!json) {
        rc = fail(&c, FG_EUSAGE, "no document given");
        goto cleanup;
    }
    if (len > FG_MAX_HISTORY_BYTES) {
        rc = fail(&c, FG_ELIMIT, "%zu bytes are more than the limit of %u bytes for a history",
                  len, FG_MAX_HISTORY_BYTES);
        goto cleanup;
    }
    int deep = depth_exceeded(json, len);
    if (deep) {
        rc = fail(&c, FG_ELIMIT, "line %d: nested deeper than the limit of %d", deep,
                  FG_MAX_JSON_DEPTH);
        if (err)
            err->line = deep;
        goto cleanup;
    }
    json_error_t jerr;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson leaves the error empty when its first allocation fails */
        int oom = json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0];
        rc = fail(&c, oom ? FG_ENOMEM : FG_EINVALID, "line %d, column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        if (err)
            err->line = jerr.line;
        goto cleanup;
    }
    c.ids = json_object();
    if (!c.ids) {
        rc = fail(&c, FG_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = parse_object(&c, root, &history_spec, h, 0);

cleanup:
    json_decref(c.ids);
    json_decref(root);
    if (rc)
        fg_history_reset(h);
    return rc;
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
        const char *s = *CAT(base, f->off, const char *const);
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
    if (spec == &observation_spec) {
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
    write_object(&x, &history_spec, h);
    return out->failed ? FG_ENOMEM : FG_OK;
}
