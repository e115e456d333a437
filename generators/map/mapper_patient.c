/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mapper_patient.c: the Patient and the shared resources (Organization,
 * Practitioner, Location).
 *
 * In a bundle the shared resources are conditional creates (POST with
 * ifNoneExist on their identifier), so bundles that name the same
 * organization make one resource on the server; see mp_end.
 */
#include <stdio.h>
#include <string.h>

#include "generators/map/mapper_private.h"

#define MP_NPI_SYSTEM "http://hl7.org/fhir/sid/us-npi"

static int nonempty(const char *s)
{
    return s && *s;
}

static void put_address(mp_ctx *c, const fg_address *a)
{
    fg_jw *w = &c->w;
    if (!nonempty(a->line) && !nonempty(a->city) && !nonempty(a->state) &&
        !nonempty(a->postal_code))
        return;
    fg_jw_kv_arr(w, "address");
    fg_jw_obj(w);
    if (nonempty(a->line)) {
        fg_jw_kv_arr(w, "line");
        fg_jw_str(w, a->line);
        fg_jw_arr_end(w);
    }
    if (nonempty(a->city))
        fg_jw_kv_str(w, "city", a->city);
    if (nonempty(a->state))
        fg_jw_kv_str(w, "state", a->state);
    if (nonempty(a->postal_code))
        fg_jw_kv_str(w, "postalCode", a->postal_code);
    MP_RAW(c, "country", "\"US\"");
    fg_jw_obj_end(w);
    fg_jw_arr_end(w);
}

static void put_phone(mp_ctx *c, const char *phone, int home)
{
    if (!nonempty(phone))
        return;
    fg_jw *w = &c->w;
    fg_jw_kv_arr(w, "telecom");
    fg_jw_obj(w);
    MP_RAW(c, "system", "\"phone\"");
    fg_jw_kv_str(w, "value", phone);
    if (home)
        MP_RAW(c, "use", "\"home\"");
    else
        MP_RAW(c, "use", "\"work\"");
    fg_jw_obj_end(w);
    fg_jw_arr_end(w);
}

/* ---- Patient ---- */

/* Displays of v3-MaritalStatus (hl7.fhir.r4.core#4.0.1 CodeSystem-v3-MaritalStatus). */
static const char *marital_display(const char *code)
{
    static const char *const tab[][2] = {
        {"A", "Annulled"},          {"D", "Divorced"}, {"I", "Interlocutory"},
        {"L", "Legally Separated"}, {"M", "Married"},  {"P", "Polygamous"},
        {"S", "Never Married"},     {"T", "Domestic partner"}, {"U", "unmarried"},
        {"W", "Widowed"},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(*tab); i++)
        if (strcmp(tab[i][0], code) == 0)
            return tab[i][1];
    return NULL;
}

static void put_omb_extension(mp_ctx *c, fg_profile p, const char *code, const char *display)
{
    fg_jw *w = &c->w;
    fg_jw_obj(w);
    fg_jw_kv_str(w, "url", fg_profile_url(p));
    fg_jw_kv_arr(w, "extension");
    fg_jw_obj(w);
    MP_RAW(c, "url", "\"ombCategory\"");
    fg_jw_kv_obj(w, "valueCoding");
    MP_RAW(c, "system", "\"urn:oid:2.16.840.1.113883.6.238\"");
    fg_jw_kv_str(w, "code", code);
    if (nonempty(display))
        fg_jw_kv_str(w, "display", display);
    fg_jw_obj_end(w);
    fg_jw_obj_end(w);
    fg_jw_obj(w);
    MP_RAW(c, "url", "\"text\"");
    fg_jw_kv_str(w, "valueString", nonempty(display) ? display : code);
    fg_jw_obj_end(w);
    fg_jw_arr_end(w);
    fg_jw_obj_end(w);
}

int mp_write_patient(mp_ctx *c)
{
    const fg_patient *p = &c->h->patient;
    fg_jw *w = &c->w;
    if (!nonempty(p->family) && !nonempty(p->given))
        return mp_fail(c, FG_EINVALID, "patient", (size_t)-1, "family",
                       "a patient needs a name (US Core requires Patient.name)");
    if (!nonempty(p->mrn) && !nonempty(p->ssn))
        return mp_fail(c, FG_EINVALID, "patient", (size_t)-1, "mrn",
                       "a patient needs an MRN or an SSN (US Core requires an identifier)");
    if (nonempty(p->ssn) && strncmp(p->ssn, "999", 3) != 0)
        return mp_fail(c, FG_EINVALID, "patient", (size_t)-1, "ssn",
                       "synthetic SSNs must be in the never-issued 999 area, not \"%s\"",
                       p->ssn);
    mp_begin(c, FG_RT_PATIENT, c->pid, FG_PROF_PATIENT);

    fg_jw_kv_arr(w, "extension");
    if (nonempty(p->race))
        put_omb_extension(c, FG_PROF_EXT_RACE, p->race, p->race_display);
    if (nonempty(p->ethnicity))
        put_omb_extension(c, FG_PROF_EXT_ETHNICITY, p->ethnicity, p->ethnicity_display);
    fg_jw_obj(w);
    fg_jw_kv_str(w, "url", fg_profile_url(FG_PROF_EXT_BIRTHSEX));
    fg_jw_kv_str(w, "valueCode", p->sex == FG_SEX_MALE ? "M" : "F");
    fg_jw_obj_end(w);
    fg_jw_arr_end(w);

    fg_jw_kv_arr(w, "identifier");
    if (nonempty(p->mrn)) {
        fg_jw_obj(w);
        MP_RAW(c, "type", "{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                          "v2-0203\",\"code\":\"MR\",\"display\":\"Medical record number\"}],"
                          "\"text\":\"Medical record number\"}");
        fg_jw_kv_str(w, "system", c->m->mrn_system);
        fg_jw_kv_str(w, "value", p->mrn);
        fg_jw_obj_end(w);
    }
    if (nonempty(p->ssn)) {
        fg_jw_obj(w);
        MP_RAW(c, "type", "{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                          "v2-0203\",\"code\":\"SS\",\"display\":\"Social Security number\"}],"
                          "\"text\":\"Social Security number\"}");
        MP_RAW(c, "system", "\"http://hl7.org/fhir/sid/us-ssn\"");
        fg_jw_kv_str(w, "value", p->ssn);
        fg_jw_obj_end(w);
    }
    fg_jw_arr_end(w);

    fg_jw_kv_arr(w, "name");
    fg_jw_obj(w);
    MP_RAW(c, "use", "\"official\"");
    if (nonempty(p->family))
        fg_jw_kv_str(w, "family", p->family);
    if (nonempty(p->given)) {
        fg_jw_kv_arr(w, "given");
        fg_jw_str(w, p->given);
        if (nonempty(p->middle))
            fg_jw_str(w, p->middle);
        fg_jw_arr_end(w);
    }
    if (nonempty(p->prefix)) {
        fg_jw_kv_arr(w, "prefix");
        fg_jw_str(w, p->prefix);
        fg_jw_arr_end(w);
    }
    fg_jw_obj_end(w);
    fg_jw_arr_end(w);

    put_phone(c, p->phone, 1);
    if (p->sex == FG_SEX_MALE)
        MP_RAW(c, "gender", "\"male\"");
    else
        MP_RAW(c, "gender", "\"female\"");
    if (p->birth_date != FG_TIME_NONE) {
        char d[11];
        fg_format_date(p->birth_date, d);
        fg_jw_kv_str(w, "birthDate", d);
    }
    mp_datetime(c, "deceasedDateTime", p->death);
    put_address(c, &p->address);
    if (nonempty(p->marital_status)) {
        const char *disp = marital_display(p->marital_status);
        fg_jw_kv_obj(w, "maritalStatus");
        fg_jw_kv_arr(w, "coding");
        fg_jw_obj(w);
        MP_RAW(c, "system", "\"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus\"");
        fg_jw_kv_str(w, "code", p->marital_status);
        fg_jw_kv_str(w, "display", disp);
        fg_jw_obj_end(w);
        fg_jw_arr_end(w);
        fg_jw_kv_str(w, "text", disp);
        fg_jw_obj_end(w);
    }
    if (nonempty(p->language)) {
        fg_jw_kv_arr(w, "communication");
        fg_jw_obj(w);
        fg_jw_kv_obj(w, "language");
        fg_jw_kv_arr(w, "coding");
        fg_jw_obj(w);
        MP_RAW(c, "system", "\"urn:ietf:bcp:47\"");
        fg_jw_kv_str(w, "code", p->language);
        fg_jw_obj_end(w);
        fg_jw_arr_end(w);
        fg_jw_obj_end(w);
        fg_jw_obj_end(w);
        fg_jw_arr_end(w);
    }
    mp_end(c, FG_RT_PATIENT, c->pid, NULL, NULL);
    return FG_OK;
}

/* ---- Organization, Practitioner, Location ---- */

static void put_identifier(mp_ctx *c, const char *system, const char *value)
{
    fg_jw *w = &c->w;
    fg_jw_kv_arr(w, "identifier");
    fg_jw_obj(w);
    fg_jw_kv_str(w, "system", system);
    fg_jw_kv_str(w, "value", value);
    fg_jw_obj_end(w);
    fg_jw_arr_end(w);
}

/* The checks an organization, practitioner or location opens with: an id,
 * and the field US Core requires (`required` names it as US Core does). */
static int check_listed(mp_ctx *c, const char *list, size_t i, const char *id, const char *field,
                        const char *value, const char *required)
{
    if (!id)
        return mp_fail(c, FG_EINVALID, list, i, "id", "missing");
    if (!nonempty(value))
        return mp_fail(c, FG_EINVALID, list, i, field, "US Core requires %s", required);
    return FG_OK;
}

/* Open an Organization or Practitioner: its id, the identifier it is
 * found by (the NPI, or fhirgen's own id when there is none) into *sys and
 * *val for the conditional create, and `active`. Returns the id. */
static const char *begin_listed(mp_ctx *c, fg_rtype t, fg_profile prof, const char *local,
                                const char *npi, char buf[MP_ID_SIZE], const char **sys,
                                const char **val)
{
    const char *id = mp_id(c, t, local, buf);
    *sys = MP_NPI_SYSTEM;
    *val = npi;
    if (!nonempty(npi)) {
        *sys = MP_ID_SYSTEM;
        *val = id;
    }
    mp_begin(c, t, id, prof);
    put_identifier(c, *sys, *val);
    fg_jw_kv_bool(&c->w, "active", 1);
    return id;
}

static int write_organizations(mp_ctx *c)
{
    fg_jw *w = &c->w;
    for (size_t i = 0; i < c->h->organizations.n; i++) {
        const fg_organization *o = &c->h->organizations.v[i];
        char buf[MP_ID_SIZE];
        int rc = check_listed(c, "organizations", i, o->id, "name", o->name, "Organization.name");
        if (rc)
            return rc;
        const char *sys, *val;
        const char *id = begin_listed(c, FG_RT_ORGANIZATION, FG_PROF_ORGANIZATION, o->id, o->npi,
                                      buf, &sys, &val);
        fg_jw_kv_str(w, "name", o->name);
        put_phone(c, o->phone, 0);
        put_address(c, &o->address);
        mp_end(c, FG_RT_ORGANIZATION, id, sys, val);
    }
    return FG_OK;
}

static int write_practitioners(mp_ctx *c)
{
    fg_jw *w = &c->w;
    for (size_t i = 0; i < c->h->practitioners.n; i++) {
        const fg_practitioner *p = &c->h->practitioners.v[i];
        char buf[MP_ID_SIZE];
        int rc = check_listed(c, "practitioners", i, p->id, "family", p->family,
                              "Practitioner.name.family");
        if (rc)
            return rc;
        const char *sys, *val;
        const char *id = begin_listed(c, FG_RT_PRACTITIONER, FG_PROF_PRACTITIONER, p->id, p->npi,
                                      buf, &sys, &val);
        fg_jw_kv_arr(w, "name");
        fg_jw_obj(w);
        fg_jw_kv_str(w, "family", p->family);
        if (nonempty(p->given)) {
            fg_jw_kv_arr(w, "given");
            fg_jw_str(w, p->given);
            fg_jw_arr_end(w);
        }
        if (nonempty(p->prefix)) {
            fg_jw_kv_arr(w, "prefix");
            fg_jw_str(w, p->prefix);
            fg_jw_arr_end(w);
        }
        fg_jw_obj_end(w);
        fg_jw_arr_end(w);
        if (p->sex == FG_SEX_MALE)
            MP_RAW(c, "gender", "\"male\"");
        else
            MP_RAW(c, "gender", "\"female\"");
        mp_end(c, FG_RT_PRACTITIONER, id, sys, val);
    }
    return FG_OK;
}

static int write_locations(mp_ctx *c)
{
    fg_jw *w = &c->w;
    size_t hint = 0;
    for (size_t i = 0; i < c->h->locations.n; i++) {
        const fg_location *l = &c->h->locations.v[i];
        char buf[MP_ID_SIZE];
        int rc = check_listed(c, "locations", i, l->id, "name", l->name, "Location.name");
        if (rc)
            return rc;
        if (l->organization && !mp_find(c->h->organizations.v, c->h->organizations.n,
                                        sizeof(fg_organization), l->organization, &hint))
            return mp_fail(c, FG_EINVALID, "locations", i, "organization",
                           "no organization with id \"%s\"", l->organization);
        const char *id = mp_id(c, FG_RT_LOCATION, l->id, buf);
        mp_begin(c, FG_RT_LOCATION, id, FG_PROF_LOCATION);
        put_identifier(c, MP_ID_SYSTEM, id);
        MP_RAW(c, "status", "\"active\"");
        fg_jw_kv_str(w, "name", l->name);
        put_phone(c, l->phone, 0);
        if (nonempty(l->address.line) || nonempty(l->address.city)) {
            /* Location.address is a single Address, not a list */
            fg_jw_kv_obj(w, "address");
            if (nonempty(l->address.line)) {
                fg_jw_kv_arr(w, "line");
                fg_jw_str(w, l->address.line);
                fg_jw_arr_end(w);
            }
            if (nonempty(l->address.city))
                fg_jw_kv_str(w, "city", l->address.city);
            if (nonempty(l->address.state))
                fg_jw_kv_str(w, "state", l->address.state);
            if (nonempty(l->address.postal_code))
                fg_jw_kv_str(w, "postalCode", l->address.postal_code);
            MP_RAW(c, "country", "\"US\"");
            fg_jw_obj_end(w);
        }
        if (l->organization)
            mp_ref(c, "managingOrganization", FG_RT_ORGANIZATION, l->organization);
        mp_end(c, FG_RT_LOCATION, id, MP_ID_SYSTEM, id);
    }
    return FG_OK;
}

int mp_write_shared(mp_ctx *c)
{
    int rc = write_organizations(c);
    if (rc == FG_OK)
        rc = write_practitioners(c);
    if (rc == FG_OK)
        rc = write_locations(c);
    return rc;
}
