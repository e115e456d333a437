/*
 * uscore.c: the US Core 6.1.0 profile table and the Observation code table.
 *
 * The profile table is the list of canonical URLs fhirgen claims; the code
 * table (data/profiles/us-core-observation-codes.tsv) says which of them an
 * Observation claims by its code. The code table is read whole into one
 * buffer and cut in place, so its rows point into that buffer.
 */
#include "fg_profiles.h"

#include <stdlib.h>
#include <string.h>

#include "../fhir/fg_data.h"
#include "../fhir/fg_limits.h"

#define USCORE_BASE "http://hl7.org/fhir/us/core/StructureDefinition/"
#define USCORE_MAX_CODE_ROWS 1024
#define USCORE_MAX_FILE_BYTES (1u << 20)

typedef struct uscore_profile {
    const char *name;
    const char *url;
} uscore_profile;

#define P(id) {id, USCORE_BASE id}
static const uscore_profile profiles[FG_PROF_COUNT] = {
    [FG_PROF_PATIENT] = P("us-core-patient"),
    [FG_PROF_ORGANIZATION] = P("us-core-organization"),
    [FG_PROF_PRACTITIONER] = P("us-core-practitioner"),
    [FG_PROF_LOCATION] = P("us-core-location"),
    [FG_PROF_ENCOUNTER] = P("us-core-encounter"),
    [FG_PROF_CONDITION_PROBLEMS] = P("us-core-condition-problems-health-concerns"),
    [FG_PROF_CONDITION_DIAGNOSIS] = P("us-core-condition-encounter-diagnosis"),
    [FG_PROF_OBS_LAB] = P("us-core-observation-lab"),
    [FG_PROF_OBS_CLINICAL_RESULT] = P("us-core-observation-clinical-result"),
    [FG_PROF_OBS_SCREENING] = P("us-core-observation-screening-assessment"),
    [FG_PROF_OBS_SIMPLE] = P("us-core-simple-observation"),
    [FG_PROF_SMOKINGSTATUS] = P("us-core-smokingstatus"),
    [FG_PROF_PREGNANCY_STATUS] = P("us-core-observation-pregnancystatus"),
    [FG_PROF_PREGNANCY_INTENT] = P("us-core-observation-pregnancyintent"),
    [FG_PROF_VITAL_SIGNS] = P("us-core-vital-signs"),
    [FG_PROF_BLOOD_PRESSURE] = P("us-core-blood-pressure"),
    [FG_PROF_BMI] = P("us-core-bmi"),
    [FG_PROF_BODY_HEIGHT] = P("us-core-body-height"),
    [FG_PROF_BODY_TEMPERATURE] = P("us-core-body-temperature"),
    [FG_PROF_BODY_WEIGHT] = P("us-core-body-weight"),
    [FG_PROF_HEAD_CIRCUMFERENCE] = P("us-core-head-circumference"),
    [FG_PROF_HEART_RATE] = P("us-core-heart-rate"),
    [FG_PROF_PULSE_OXIMETRY] = P("us-core-pulse-oximetry"),
    [FG_PROF_RESPIRATORY_RATE] = P("us-core-respiratory-rate"),
    [FG_PROF_PEDIATRIC_BMI] = P("pediatric-bmi-for-age"),
    [FG_PROF_PEDIATRIC_WEIGHT_HEIGHT] = P("pediatric-weight-for-height"),
    [FG_PROF_HEAD_OFC_PERCENTILE] = P("head-occipital-frontal-circumference-percentile"),
    [FG_PROF_DIAGNOSTICREPORT_LAB] = P("us-core-diagnosticreport-lab"),
    [FG_PROF_MEDICATIONREQUEST] = P("us-core-medicationrequest"),
    [FG_PROF_IMMUNIZATION] = P("us-core-immunization"),
    [FG_PROF_PROCEDURE] = P("us-core-procedure"),
    [FG_PROF_ALLERGYINTOLERANCE] = P("us-core-allergyintolerance"),
    [FG_PROF_CAREPLAN] = P("us-core-careplan"),
    [FG_PROF_DOCUMENTREFERENCE] = P("us-core-documentreference"),
    [FG_PROF_EXT_RACE] = P("us-core-race"),
    [FG_PROF_EXT_ETHNICITY] = P("us-core-ethnicity"),
    [FG_PROF_EXT_BIRTHSEX] = P("us-core-birthsex"),
};
#undef P

const char *fg_profile_name(fg_profile p)
{
    return (unsigned)p < FG_PROF_COUNT ? profiles[p].name : NULL;
}

const char *fg_profile_url(fg_profile p)
{
    return (unsigned)p < FG_PROF_COUNT ? profiles[p].url : NULL;
}

int fg_profile_by_name(const char *name, fg_profile *out)
{
    if (!name)
        return FG_ENOTFOUND;
    for (int i = 0; i < FG_PROF_COUNT; i++) {
        if (strcmp(profiles[i].name, name) == 0) {
            *out = (fg_profile)i;
            return FG_OK;
        }
    }
    return FG_ENOTFOUND;
}

/* ---- the Observation code table ---- */

struct fg_profile_codes {
    char *buf;
    fg_profile_code *rows;
    size_t n;
};

enum { COL_SYSTEM, COL_CODE, COL_CATEGORY, COL_PROFILE, COL_ALSO, COL_SOURCE, COL_N };
static const char *const col_names[COL_N] = {"system_uri", "code",  "category",
                                             "profile",    "also", "source"};

static size_t split_tabs(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = 0;
        p = tab + 1;
    }
    return n;
}

static int row_error(fg_error *err, const char *path, int line, const char *msg, const char *v)
{
    int rc = fg_error_set(err, FG_EINVALID, path, "line %d: %s%s%s%s", line, msg,
                          v ? " \"" : "", v ? v : "", v ? "\"" : "");
    if (err)
        err->line = line;
    return rc;
}

void fg_profile_codes_free(fg_profile_codes *t)
{
    if (!t)
        return;
    free(t->buf);
    free(t->rows);
    free(t);
}

int fg_profile_codes_load(const char *path, fg_profile_codes **out, fg_error *err)
{
    fg_profile_codes *t = calloc(1, sizeof(*t));
    size_t len = 0;
    int rc = FG_OK;
    int header = 0, line = 0;
    if (!t)
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    rc = fg_read_file(path, USCORE_MAX_FILE_BYTES, &t->buf, &len, err);
    if (rc != FG_OK)
        goto cleanup;
    t->rows = calloc(USCORE_MAX_CODE_ROWS, sizeof(*t->rows));
    if (!t->rows) {
        rc = fg_error_set(err, FG_ENOMEM, path, "out of memory");
        goto cleanup;
    }
    for (char *p = t->buf; *p;) {
        char *nl = strchr(p, '\n');
        char *next = nl ? nl + 1 : p + strlen(p);
        if (nl)
            *nl = 0;
        size_t ll = strlen(p);
        if (ll && p[ll - 1] == '\r')
            p[ll - 1] = 0;
        line++;
        char *f[COL_N + 1];
        if (*p == 0 || *p == '#') {
            p = next;
            continue;
        }
        size_t nf = split_tabs(p, f, COL_N + 1);
        if (!header) {
            if (nf != COL_N) {
                rc = row_error(err, path, line, "the header must be system_uri, code, category, "
                               "profile, also, source", NULL);
                goto cleanup;
            }
            for (size_t i = 0; i < COL_N; i++) {
                if (strcmp(f[i], col_names[i]) != 0) {
                    rc = row_error(err, path, line, "unexpected header column", f[i]);
                    goto cleanup;
                }
            }
            header = 1;
            p = next;
            continue;
        }
        if (nf != COL_N) {
            rc = row_error(err, path, line, "wrong number of fields", NULL);
            goto cleanup;
        }
        if (!*f[COL_SYSTEM] || !*f[COL_CODE] || !*f[COL_CATEGORY]) {
            rc = row_error(err, path, line, "empty system_uri, code or category", NULL);
            goto cleanup;
        }
        if (t->n >= USCORE_MAX_CODE_ROWS) {
            rc = fg_error_set(err, FG_ELIMIT, path, "more than %d rows", USCORE_MAX_CODE_ROWS);
            goto cleanup;
        }
        fg_profile_code *r = &t->rows[t->n];
        if (fg_profile_by_name(f[COL_PROFILE], &r->profile) != FG_OK) {
            rc = row_error(err, path, line, "unknown profile", f[COL_PROFILE]);
            goto cleanup;
        }
        r->system = f[COL_SYSTEM];
        r->code = f[COL_CODE];
        r->category = f[COL_CATEGORY];
        r->also = *f[COL_ALSO] ? f[COL_ALSO] : NULL;
        t->n++;
        p = next;
    }
    if (!header) {
        rc = row_error(err, path, line, "no header row", NULL);
        goto cleanup;
    }
    *out = t;
    t = NULL;
cleanup:
    fg_profile_codes_free(t);
    return rc;
}

const fg_profile_code *fg_profile_codes_find(const fg_profile_codes *t, const char *category,
                                             const char *system, const char *code)
{
    if (!t || !category || !system || !code)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const fg_profile_code *r = &t->rows[i];
        if (r->code[0] == code[0] && strcmp(r->code, code) == 0 &&
            strcmp(r->system, system) == 0 && strcmp(r->category, category) == 0)
            return r;
    }
    return NULL;
}

size_t fg_profile_codes_count(const fg_profile_codes *t)
{
    return t ? t->n : 0;
}

const fg_profile_code *fg_profile_codes_at(const fg_profile_codes *t, size_t i)
{
    return t && i < t->n ? &t->rows[i] : NULL;
}
