/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uscore.c: the US Core 6.1.0 profile table and the Observation code table.
 *
 * The profile table is the list of canonical URLs fhirgen claims; the code
 * table (data/profiles/us-core-observation-codes.tsv) says which of them an
 * Observation claims by its code. The code table is read with fg_tsv_load
 * and kept, so its rows point into that table's cells.
 */
#include "profiles/fg_profiles.h"

#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_tsv.h"

#define USCORE_BASE "http://hl7.org/fhir/us/core/StructureDefinition/"
#define USCORE_MAX_CODE_ROWS 1024

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
    fg_tsv *table; /* the rows' strings are its cells */
    fg_profile_code *rows;
    size_t n;
};

void fg_profile_codes_free(fg_profile_codes *t)
{
    if (!t)
        return;
    fg_tsv_free(t->table);
    free(t->rows);
    free(t);
}

int fg_profile_codes_load(const char *path, fg_profile_codes **out, fg_error *err)
{
    fg_profile_codes *t = calloc(1, sizeof(*t));
    size_t cs, cc, ccat, cp, ca, csrc;
    int rc = FG_OK;
    if (!t)
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    rc = fg_tsv_load(path, &t->table, err);
    if (rc != FG_OK)
        goto cleanup;
    const fg_tsv *tab = t->table;
    if ((rc = fg_tsv_col(tab, "system_uri", &cs, err)) ||
        (rc = fg_tsv_col(tab, "code", &cc, err)) || (rc = fg_tsv_col(tab, "category", &ccat, err)) ||
        (rc = fg_tsv_col(tab, "profile", &cp, err)) || (rc = fg_tsv_col(tab, "also", &ca, err)) ||
        (rc = fg_tsv_col(tab, "source", &csrc, err))) /* required, though only people read it */
        goto cleanup;
    size_t rows = fg_tsv_rows(tab);
    if (rows > USCORE_MAX_CODE_ROWS) {
        rc = fg_error_set(err, FG_ELIMIT, path, "more than %d rows", USCORE_MAX_CODE_ROWS);
        goto cleanup;
    }
    t->rows = calloc(rows ? rows : 1, sizeof(*t->rows));
    if (!t->rows) {
        rc = fg_error_set(err, FG_ENOMEM, path, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < rows; i++) {
        fg_profile_code *r = &t->rows[t->n];
        const char *profile = fg_tsv_cell(tab, i, cp), *also = fg_tsv_cell(tab, i, ca);
        r->system = fg_tsv_cell(tab, i, cs);
        r->code = fg_tsv_cell(tab, i, cc);
        r->category = fg_tsv_cell(tab, i, ccat);
        r->also = *also ? also : NULL;
        if (!*r->system || !*r->code || !*r->category) {
            rc = fg_tsv_row_error(tab, i, err, FG_EINVALID, "empty system_uri, code or category");
            goto cleanup;
        }
        if (fg_profile_by_name(profile, &r->profile) != FG_OK) {
            rc = fg_tsv_row_error(tab, i, err, FG_EINVALID, "unknown profile \"%s\"", profile);
            goto cleanup;
        }
        t->n++;
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
