/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_profiles.h: the US Core 6.1.0 profiles fhirgen claims.
 *
 * Every resource the mapper writes names one of these profiles in
 * meta.profile. The table of canonical URLs lives in uscore.c; a unit test
 * checks each URL against the StructureDefinitions of the US Core package
 * when the package is at hand.
 *
 * Which Observation code calls for which profile (body weight, blood
 * pressure, smoking status, ...) is data, not code: the table
 * data/profiles/us-core-observation-codes.tsv, built from the fixed and
 * pattern codes of the profiles' StructureDefinitions.
 */
#ifndef FG_PROFILES_H
#define FG_PROFILES_H

#include <stddef.h>

#include "fhir/base/fg_error.h"

typedef enum fg_profile {
    FG_PROF_PATIENT = 0,
    FG_PROF_ORGANIZATION,
    FG_PROF_PRACTITIONER,
    FG_PROF_LOCATION,
    FG_PROF_ENCOUNTER,
    FG_PROF_CONDITION_PROBLEMS,
    FG_PROF_CONDITION_DIAGNOSIS,
    FG_PROF_OBS_LAB,
    FG_PROF_OBS_CLINICAL_RESULT,
    FG_PROF_OBS_SCREENING,
    FG_PROF_OBS_SIMPLE,
    FG_PROF_SMOKINGSTATUS,
    FG_PROF_PREGNANCY_STATUS,
    FG_PROF_PREGNANCY_INTENT,
    FG_PROF_VITAL_SIGNS,
    FG_PROF_BLOOD_PRESSURE,
    FG_PROF_BMI,
    FG_PROF_BODY_HEIGHT,
    FG_PROF_BODY_TEMPERATURE,
    FG_PROF_BODY_WEIGHT,
    FG_PROF_HEAD_CIRCUMFERENCE,
    FG_PROF_HEART_RATE,
    FG_PROF_PULSE_OXIMETRY,
    FG_PROF_RESPIRATORY_RATE,
    FG_PROF_PEDIATRIC_BMI,
    FG_PROF_PEDIATRIC_WEIGHT_HEIGHT,
    FG_PROF_HEAD_OFC_PERCENTILE,
    FG_PROF_DIAGNOSTICREPORT_LAB,
    FG_PROF_MEDICATIONREQUEST,
    FG_PROF_IMMUNIZATION,
    FG_PROF_PROCEDURE,
    FG_PROF_ALLERGYINTOLERANCE,
    FG_PROF_CAREPLAN,
    FG_PROF_DOCUMENTREFERENCE,
    FG_PROF_EXT_RACE,
    FG_PROF_EXT_ETHNICITY,
    FG_PROF_EXT_BIRTHSEX,
    FG_PROF_COUNT
} fg_profile;

/* The profile's id, e.g. "us-core-patient"; borrowed, static. NULL when p
 * is out of range. */
const char *fg_profile_name(fg_profile p);

/* The profile's canonical URL; borrowed, static. NULL when out of range. */
const char *fg_profile_url(fg_profile p);

/* The profile whose id is `name`; FG_ENOTFOUND when none. */
int fg_profile_by_name(const char *name, fg_profile *out);

/* One row of the Observation code table: an Observation of `category`
 * (an observation-category code such as "vital-signs") coded system|code
 * claims `profile`; `also` is a second code of the same system the profile
 * requires next to it (pulse oximetry needs both of its codings), or NULL. */
typedef struct fg_profile_code {
    const char *system;
    const char *code;
    const char *category;
    fg_profile profile;
    const char *also;
} fg_profile_code;

typedef struct fg_profile_codes fg_profile_codes;

/* Load the Observation code table from `path` (a TSV file with the header
 * `system_uri code category profile also source`; '#' lines are comments).
 * *out is new; free with fg_profile_codes_free. A malformed row or an
 * unknown profile is FG_EINVALID naming the file and line. */
int fg_profile_codes_load(const char *path, fg_profile_codes **out, fg_error *err);

/* Accepts NULL. */
void fg_profile_codes_free(fg_profile_codes *t);

/* The row for an Observation of `category` coded system|code; NULL when
 * the table names no profile for it. Borrowed from t. */
const fg_profile_code *fg_profile_codes_find(const fg_profile_codes *t, const char *category,
                                             const char *system, const char *code);

/* Number of rows, and the i-th (for tests that walk the table). */
size_t fg_profile_codes_count(const fg_profile_codes *t);
const fg_profile_code *fg_profile_codes_at(const fg_profile_codes *t, size_t i);

#endif
