/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mapper_observations.c: Observation and DiagnosticReport.
 *
 * An Observation claims the US Core profile that fits it: a vital sign the
 * profile of its code (data/profiles/us-core-observation-codes.tsv, e.g.
 * body weight, blood pressure), or the generic vital-signs profile; a lab
 * us-core-observation-lab; smoking status and pregnancy status/intent their
 * own profiles; other social history us-core-simple-observation; a survey
 * us-core-observation-screening-assessment; an exam
 * us-core-observation-clinical-result. A profile that needs what the
 * history does not have (a coded value, both blood-pressure components)
 * gives way to the generic profile of the category.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "generators/map/mapper_private.h"

#define OBS_CATEGORY(code, disp)                                                               \
    "[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/observation-category\"," \
    "\"code\":\"" code "\",\"display\":\"" disp "\"}],\"text\":\"" disp "\"}]"

typedef struct obs_category {
    const char *code;
    const char *json;
    size_t len;
    fg_profile fallback;
} obs_category;

#define CAT(code, disp, prof) {code, OBS_CATEGORY(code, disp), sizeof(OBS_CATEGORY(code, disp)) - 1, prof}
static const obs_category categories[] = {
    [FG_OBS_VITAL] = CAT("vital-signs", "Vital Signs", FG_PROF_VITAL_SIGNS),
    [FG_OBS_LAB] = CAT("laboratory", "Laboratory", FG_PROF_OBS_LAB),
    [FG_OBS_SOCIAL] = CAT("social-history", "Social History", FG_PROF_OBS_SIMPLE),
    [FG_OBS_SURVEY] = CAT("survey", "Survey", FG_PROF_OBS_SCREENING),
    [FG_OBS_EXAM] = CAT("exam", "Exam", FG_PROF_OBS_CLINICAL_RESULT),
};
#undef CAT

/* Digits after the point for a value the history gives no precision for. */
static int natural_places(double v)
{
    double a = fabs(v);
    for (int p = 0; p < 3; p++) {
        double s = a * (p == 0 ? 1 : p == 1 ? 10 : 100);
        if (fabs(s - round(s)) < 1e-6)
            return p;
    }
    return 3;
}

static void put_quantity(mp_ctx *c, const char *key, double v, int places, const char *unit)
{
    fg_jw *w = &c->w;
    fg_jw_kv_obj(w, key);
    fg_jw_key(w, "value");
    fg_jw_dec(w, v, places);
    fg_jw_kv_str(w, "unit", unit);
    MP_RAW(c, "system", "\"" FG_SYS_UCUM "\"");
    fg_jw_kv_str(w, "code", unit);
    fg_jw_obj_end(w);
}

/* The profile an Observation claims, and the extra code it needs (or NULL). */
static fg_profile choose_profile(mp_ctx *c, const fg_observation *o, const fg_code_entry *code,
                                 const char **also)
{
    const obs_category *cat = &categories[o->category];
    const mp_entry *x = mp_cached(c->m, code);
    const fg_profile_code *row = x ? x->row : NULL;
    if (!x || (row && strcmp(row->category, cat->code) != 0))
        row = fg_profile_codes_find(c->m->obs_codes, cat->code, code->system, code->code);
    *also = NULL;
    if (!row)
        return cat->fallback;
    switch (row->profile) {
    case FG_PROF_SMOKINGSTATUS:
    case FG_PROF_PREGNANCY_STATUS:
    case FG_PROF_PREGNANCY_INTENT:
        if (o->kind != FG_VALUE_CODE)
            return cat->fallback; /* these require a coded value */
        break;
    case FG_PROF_BLOOD_PRESSURE:
        if (o->n_components < 2)
            return cat->fallback; /* systolic and diastolic are both required */
        break;
    default:
        break;
    }
    *also = row->also;
    return row->profile;
}

int mp_write_observations(mp_ctx *c)
{
    const fg_history *h = c->h;
    fg_jw *w = &c->w;
    for (size_t i = 0; i < h->observations.n; i++) {
        const fg_observation *o = &h->observations.v[i];
        const fg_code_entry *code = NULL, *value = NULL, *extra = NULL;
        const char *unit = NULL, *also = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        if (!o->id)
            return mp_fail(c, FG_EINVALID, "observations", i, "id", "missing");
        if ((unsigned)o->category > FG_OBS_EXAM)
            return mp_fail(c, FG_EINVALID, "observations", i, "category", "unknown category");
        if ((rc = mp_ground(c, &o->term, FG_SYS_LOINC, "observations", i, "term", &code)))
            return rc;
        if (o->kind == FG_VALUE_QUANTITY) {
            unit = o->unit && *o->unit ? o->unit : code->unit;
            if (!unit)
                return mp_fail(c, FG_EINVALID, "observations", i, "unit",
                               "a quantity needs a UCUM unit");
        } else if (o->kind == FG_VALUE_CODE) {
            if ((rc = mp_ground(c, &o->code_value, FG_SYS_SNOMED, "observations", i,
                                "code_value", &value)))
                return rc;
        }
        for (size_t j = 0; j < o->n_components; j++) {
            const fg_code_entry *ce = NULL;
            if ((rc = mp_ground(c, &o->components[j].term, FG_SYS_LOINC, "observations", i,
                                "components", &ce))) {
                if (c->err)
                    snprintf(c->err->where, sizeof(c->err->where),
                             "observations[%zu].components[%zu].term", i, j);
                return rc;
            }
            if (!ce->unit && !(o->components[j].unit && *o->components[j].unit))
                return mp_fail(c, FG_EINVALID, "observations", i, "components",
                               "component %zu needs a UCUM unit", j);
        }
        const fg_encounter *enc = mp_encounter(c, o->encounter, "observations", i, &rc);
        if (rc)
            return rc;
        if (o->time == FG_TIME_NONE)
            return mp_fail(c, FG_EINVALID, "observations", i, "time", "missing");
        fg_profile prof = choose_profile(c, o, code, &also);
        if (also) {
            extra = fg_terminology_find(c->m->terms, code->system, also);
            if (!extra)
                return mp_fail(c, FG_EINTERNAL, "observations", i, "term",
                               "%s needs code %s next to %s, and the terminology tables "
                               "lack it",
                               fg_profile_name(prof), also, code->code);
        }

        const char *id = mp_id(c, FG_RT_OBSERVATION, o->id, buf);
        mp_begin(c, FG_RT_OBSERVATION, id, prof);
        MP_RAW(c, "status", "\"final\"");
        fg_jw_key(w, "category");
        fg_jw_raw(w, categories[o->category].json, categories[o->category].len);
        fg_jw_kv_obj(w, "code");
        fg_jw_kv_arr(w, "coding");
        mp_coding(c, code);
        if (extra)
            mp_coding(c, extra);
        fg_jw_arr_end(w);
        if (code->display && *code->display)
            fg_jw_kv_str(w, "text", code->display);
        fg_jw_obj_end(w);
        mp_ref_patient(c, "subject");
        if (o->encounter)
            mp_ref(c, "encounter", FG_RT_ENCOUNTER, o->encounter);
        mp_datetime(c, "effectiveDateTime", o->time);
        if (o->category == FG_OBS_LAB)
            mp_datetime(c, "issued", o->time);
        if (enc && enc->practitioner && o->category != FG_OBS_VITAL) {
            fg_jw_kv_arr(w, "performer");
            mp_ref(c, NULL, FG_RT_PRACTITIONER, enc->practitioner);
            fg_jw_arr_end(w);
        }
        if (o->kind == FG_VALUE_QUANTITY)
            put_quantity(c, "valueQuantity", o->value, o->decimals, unit);
        else if (o->kind == FG_VALUE_CODE)
            mp_cc(c, "valueCodeableConcept", value);
        else if (o->n_components == 0)
            MP_RAW(c, "dataAbsentReason",
                   "{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                   "data-absent-reason\",\"code\":\"unknown\",\"display\":\"Unknown\"}]}");
        if (o->n_components) {
            fg_jw_kv_arr(w, "component");
            for (size_t j = 0; j < o->n_components; j++) {
                const fg_component *k = &o->components[j];
                const fg_code_entry *ce = NULL;
                mp_ground(c, &k->term, FG_SYS_LOINC, "observations", i, NULL, &ce);
                fg_jw_obj(w);
                mp_cc(c, "code", ce);
                put_quantity(c, "valueQuantity", k->value, natural_places(k->value),
                             k->unit && *k->unit ? k->unit : ce->unit);
                fg_jw_obj_end(w);
            }
            fg_jw_arr_end(w);
        }
        mp_end(c, FG_RT_OBSERVATION, id, NULL, NULL);
    }
    return FG_OK;
}

int mp_write_reports(mp_ctx *c)
{
    const fg_history *h = c->h;
    fg_jw *w = &c->w;
    for (size_t i = 0; i < h->reports.n; i++) {
        const fg_report *r = &h->reports.v[i];
        const fg_code_entry *code = NULL;
        char buf[MP_ID_SIZE];
        int rc;
        const fg_encounter *enc;
        if ((rc = mp_open_event(c, "reports", i, r->id, &r->term, FG_SYS_LOINC, &code,
                                r->encounter, &enc)))
            return rc;
        for (size_t j = 0; j < r->n_results; j++) {
            if (!mp_find(h->observations.v, h->observations.n, sizeof(fg_observation),
                         r->results[j], &c->hint_obs)) {
                rc = mp_fail(c, FG_EINVALID, "reports", i, "results",
                             "no observation with id \"%s\"",
                             r->results[j] ? r->results[j] : "(null)");
                if (c->err)
                    snprintf(c->err->where, sizeof(c->err->where), "reports[%zu].results[%zu]",
                             i, j);
                return rc;
            }
        }
        const char *id = mp_id(c, FG_RT_DIAGNOSTICREPORT, r->id, buf);
        mp_begin(c, FG_RT_DIAGNOSTICREPORT, id, FG_PROF_DIAGNOSTICREPORT_LAB);
        MP_RAW(c, "status", "\"final\"");
        MP_RAW(c, "category",
               "[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v2-0074\","
               "\"code\":\"LAB\",\"display\":\"Laboratory\"}],\"text\":\"Laboratory\"}]");
        mp_cc(c, "code", code);
        mp_ref_patient(c, "subject");
        if (r->encounter)
            mp_ref(c, "encounter", FG_RT_ENCOUNTER, r->encounter);
        mp_datetime(c, "effectiveDateTime", r->time);
        mp_datetime(c, "issued", r->time);
        if (enc && enc->organization) {
            fg_jw_kv_arr(w, "performer");
            mp_ref(c, NULL, FG_RT_ORGANIZATION, enc->organization);
            fg_jw_arr_end(w);
        }
        if (r->n_results) {
            fg_jw_kv_arr(w, "result");
            for (size_t j = 0; j < r->n_results; j++)
                mp_ref(c, NULL, FG_RT_OBSERVATION, r->results[j]);
            fg_jw_arr_end(w);
        }
        mp_end(c, FG_RT_DIAGNOSTICREPORT, id, NULL, NULL);
    }
    return FG_OK;
}
