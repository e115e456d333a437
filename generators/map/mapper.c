/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mapper.c: the mapper's driver and its common parts (ids, references,
 * grounding, small shapes). The Patient and the shared resources are in
 * mapper_patient.c.
 *
 * See mapper_private.h for how a call runs and docs/fhir-output.md for what
 * each resource looks like and why.
 */
#include "generators/map/fg_mapper.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fhir/base/fg_data.h"
#include "fhir/base/fg_hash.h"
#include "fhir/base/fg_tsv.h"
#include "generators/map/mapper_private.h"

#define MP_OBS_CODES_FILE "profiles/us-core-observation-codes.tsv"
#define MP_STATES_FILE "tables/states.tsv"

static const char *const rtype_names[FG_RT_COUNT] = {
    "Patient",           "Organization", "Practitioner", "Location",         "Encounter",
    "Condition",         "Observation",  "DiagnosticReport", "MedicationRequest",
    "Immunization",      "Procedure",    "AllergyIntolerance", "CarePlan",
    "DocumentReference",
};

const char *fg_rtype_name(fg_rtype t)
{
    return (unsigned)t < FG_RT_COUNT ? rtype_names[t] : "Unknown";
}

/* ---- the mapper ---- */

void fg_mapper_free(fg_mapper *m)
{
    if (!m)
        return;
    free(m->mrn_system);
    free(m->state_tz);
    fg_tsv_free(m->states);
    fg_profile_codes_free(m->obs_codes);
    for (int i = 0; i < FG_PROF_COUNT; i++)
        free(m->meta[i]);
    if (m->entries)
        for (size_t i = 0; i < m->n_entries; i++)
            free(m->entries[i].cc);
    free(m->entries);
    free(m);
}

/* Precompute each entry's CodeableConcept JSON. A table whose entries are
 * not one array writes every CodeableConcept as it goes. */
static int build_cache(fg_mapper *m)
{
    size_t n = fg_terminology_count(m->terms);
    if (!n)
        return FG_OK;
    m->base = fg_terminology_at(m->terms, 0);
    for (size_t i = 0; i < n; i++)
        if (fg_terminology_at(m->terms, i) != m->base + i)
            return FG_OK;
    m->n_entries = n;
    m->entries = calloc(n, sizeof(*m->entries));
    if (!m->entries)
        return FG_ENOMEM;
    fg_buf b;
    fg_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        const fg_code_entry *e = &m->base[i];
        fg_jw w;
        fg_buf_clear(&b);
        fg_jw_init(&w, &b);
        fg_jw_obj(&w);
        fg_jw_kv_arr(&w, "coding");
        size_t off = b.len;
        fg_jw_obj(&w);
        fg_jw_kv_str(&w, "system", e->system);
        fg_jw_kv_str(&w, "code", e->code);
        if (e->display && *e->display)
            fg_jw_kv_str(&w, "display", e->display);
        fg_jw_obj_end(&w);
        size_t end = b.len;
        fg_jw_arr_end(&w);
        if (e->display && *e->display)
            fg_jw_kv_str(&w, "text", e->display);
        fg_jw_obj_end(&w);
        if (b.failed || !(m->entries[i].cc = malloc(b.len + 1))) {
            fg_buf_free(&b);
            return FG_ENOMEM;
        }
        memcpy(m->entries[i].cc, b.data, b.len + 1);
        m->entries[i].cc_len = b.len;
        m->entries[i].coding_off = off;
        m->entries[i].coding_len = end - off;
    }
    fg_buf_free(&b);
    for (size_t r = 0; r < fg_profile_codes_count(m->obs_codes); r++) {
        const fg_profile_code *row = fg_profile_codes_at(m->obs_codes, r);
        const fg_code_entry *e = fg_terminology_find(m->terms, row->system, row->code);
        if (e && !m->entries[e - m->base].row)
            m->entries[e - m->base].row = row;
    }
    return FG_OK;
}

/* The zone of each state, for histories that name no zone of their own. A
 * data folder without the states table maps such histories in UTC. */
static int load_states(fg_mapper *m, fg_error *err)
{
    char path[4096];
    if (!fg_data_path(MP_STATES_FILE, path, sizeof(path)))
        return fg_error_set(err, FG_ELIMIT, MP_STATES_FILE, "data folder path too long");
    fg_error ignored;
    if (fg_tsv_load(path, &m->states, &ignored) != FG_OK) {
        m->states = NULL;
        return FG_OK;
    }
    size_t n = fg_tsv_rows(m->states), cu;
    int rc;
    if (!(m->state_tz = calloc(n + 1, sizeof(*m->state_tz))))
        return fg_error_set(err, FG_ENOMEM, "mapper", "out of memory");
    if ((rc = fg_tsv_col(m->states, "usps", &cu, err)))
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = fg_tz_read(m->states, i, &m->state_tz[i], err)))
            return rc;
    return FG_OK;
}

/* The zone h's local times are written in. */
static fg_tz history_tz(const fg_mapper *m, const fg_history *h)
{
    fg_tz utc = {NULL, 0, 0};
    const char *st = h->patient.address.state;
    size_t cu;
    if (h->patient.tz.name)
        return h->patient.tz;
    if (!m->states || !st || fg_tsv_col(m->states, "usps", &cu, NULL) != FG_OK)
        return utc;
    for (size_t i = 0; i < fg_tsv_rows(m->states); i++)
        if (strcmp(fg_tsv_cell(m->states, i, cu), st) == 0)
            return m->state_tz[i];
    return utc;
}

int fg_mapper_new(const fg_terminology *terms, const fg_map_options *opt, fg_mapper **out,
                  fg_error *err)
{
    fg_mapper *m = NULL;
    char path[4096];
    int rc = FG_OK;
    if (!terms || !out)
        return fg_error_set(err, FG_EUSAGE, "mapper", "a terminology table is required");
    m = calloc(1, sizeof(*m));
    if (!m)
        return fg_error_set(err, FG_ENOMEM, "mapper", "out of memory");
    m->terms = terms;
    m->mrn_system = strdup(opt && opt->mrn_system ? opt->mrn_system
                                                  : "urn:fhirgen:mrn");
    if (!m->mrn_system) {
        rc = fg_error_set(err, FG_ENOMEM, "mapper", "out of memory");
        goto cleanup;
    }
    if (!fg_data_path(MP_OBS_CODES_FILE, path, sizeof(path))) {
        rc = fg_error_set(err, FG_ELIMIT, MP_OBS_CODES_FILE, "data folder path too long");
        goto cleanup;
    }
    rc = fg_profile_codes_load(path, &m->obs_codes, err);
    if (rc != FG_OK || (rc = load_states(m, err)) != FG_OK)
        goto cleanup;
    for (int p = 0; p < FG_PROF_COUNT; p++) {
        const char *url = fg_profile_url((fg_profile)p);
        size_t n = strlen(url) + sizeof(MP_HTEST_JSON) + 48;
        m->meta[p] = malloc(n);
        if (!m->meta[p]) {
            rc = fg_error_set(err, FG_ENOMEM, "mapper", "out of memory");
            goto cleanup;
        }
        int k = snprintf(m->meta[p], n, "{\"profile\":[\"%s\"],\"security\":%s}", url,
                         MP_HTEST_JSON);
        m->meta_len[p] = (size_t)k;
    }
    if (build_cache(m) != FG_OK) {
        rc = fg_error_set(err, FG_ENOMEM, "mapper", "out of memory");
        goto cleanup;
    }
    *out = m;
    m = NULL;
cleanup:
    fg_mapper_free(m);
    return rc;
}

/* ---- ids ---- */

/* 1 for 0-9 a-f, 2 for A-F. */
static const unsigned char hexclass[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['A'] = 2, ['B'] = 2, ['C'] = 2, ['D'] = 2, ['E'] = 2, ['F'] = 2,
};

static int is_uuid(const char *s, int *upper)
{
    const unsigned char *u = (const unsigned char *)s;
    *upper = 0;
    if (strnlen(s, MP_ID_LEN + 1) == MP_ID_LEN && u[8] == '-' && u[13] == '-' && u[18] == '-' &&
        u[23] == '-') {
        unsigned acc = 1;
        unsigned any = 0;
        for (int i = 0; i < MP_ID_LEN; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                continue;
            unsigned k = hexclass[u[i]];
            acc &= k != 0;
            any |= k;
        }
        *upper = (any & 2) != 0;
        return (int)acc;
    }
    return 0;
}

static void uuid_from_digest(const unsigned char d[32], char out[MP_ID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    memcpy(b, d, 16);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x50); /* version 5 layout (name-based, SHA) */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[n++] = '-';
        out[n++] = hex[b[i] >> 4];
        out[n++] = hex[b[i] & 15];
    }
    out[n] = 0;
}

/* SHA-256 of the NUL-joined parts. */
static void digest(const char *const *parts, size_t n, unsigned char out[32])
{
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    unsigned len = 0;
    if (!x) {
        memset(out, 0, 32);
        return;
    }
    EVP_DigestInit_ex(x, EVP_sha256(), NULL);
    for (size_t i = 0; i < n; i++) {
        const char *p = parts[i] ? parts[i] : "";
        EVP_DigestUpdate(x, p, strlen(p) + 1);
    }
    EVP_DigestFinal_ex(x, out, &len);
    EVP_MD_CTX_free(x);
}

static void patient_identity(mp_ctx *c)
{
    if (c->have_ident)
        return;
    const fg_patient *p = &c->h->patient;
    char birth[11] = "";
    if (p->birth_date != FG_TIME_NONE)
        fg_format_date(p->birth_date, birth);
    const char *parts[] = {"fhirgen-patient", p->id, p->mrn, p->ssn, p->family, p->given,
                           birth};
    digest(parts, sizeof(parts) / sizeof(*parts), c->ident);
    c->have_ident = 1;
}

/* What makes a shared resource itself across patients: its NPI, or the
 * name and address of a location. */
static void shared_key(mp_ctx *c, fg_rtype t, const char *local, const char **k1,
                       const char **k2)
{
    const fg_history *h = c->h;
    size_t hint = 0;
    *k1 = *k2 = NULL;
    if (t == FG_RT_ORGANIZATION) {
        const fg_organization *o = mp_find(h->organizations.v, h->organizations.n,
                                           sizeof(*o), local, &hint);
        if (o)
            *k1 = o->npi ? o->npi : o->name;
    } else if (t == FG_RT_PRACTITIONER) {
        const fg_practitioner *p = mp_find(h->practitioners.v, h->practitioners.n,
                                           sizeof(*p), local, &hint);
        if (p)
            *k1 = p->npi ? p->npi : p->family;
    } else {
        const fg_location *l = mp_find(h->locations.v, h->locations.n, sizeof(*l), local,
                                       &hint);
        if (l) {
            *k1 = l->name;
            *k2 = l->address.city;
        }
    }
}

const char *mp_id(mp_ctx *c, fg_rtype t, const char *local, char buf[MP_ID_SIZE])
{
    int upper = 0;
    if (!local)
        local = "";
    if (is_uuid(local, &upper)) {
        if (!upper)
            return local;
        for (int i = 0; i <= MP_ID_LEN; i++)
            buf[i] = (local[i] >= 'A' && local[i] <= 'F') ? (char)(local[i] + 32) : local[i];
        return buf;
    }
    unsigned char d[32];
    if (t == FG_RT_ORGANIZATION || t == FG_RT_PRACTITIONER || t == FG_RT_LOCATION) {
        const char *k1, *k2;
        shared_key(c, t, local, &k1, &k2);
        const char *parts[] = {"fhirgen-shared", rtype_names[t], local, k1, k2};
        digest(parts, 5, d);
    } else {
        patient_identity(c);
        char ident[65];
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 32; i++) {
            ident[2 * i] = hex[c->ident[i] >> 4];
            ident[2 * i + 1] = hex[c->ident[i] & 15];
        }
        ident[64] = 0;
        const char *parts[] = {ident, rtype_names[t], local};
        digest(parts, 3, d);
    }
    uuid_from_digest(d, buf);
    return buf;
}

/* ---- resources and references ---- */

/* Append a quoted string made of a prefix and an id (neither needs
 * escaping: prefixes are literals, ids are UUIDs). */
static void put_joined(mp_ctx *c, const char *prefix, size_t pn, const char *mid, size_t mn,
                       const char *id)
{
    char s[160];
    size_t n = 0;
    s[n++] = '"';
    memcpy(s + n, prefix, pn);
    n += pn;
    memcpy(s + n, mid, mn);
    n += mn;
    memcpy(s + n, id, MP_ID_LEN);
    n += MP_ID_LEN;
    s[n++] = '"';
    fg_jw_raw(&c->w, s, n);
}

static void put_ref_string(mp_ctx *c, fg_rtype t, const char *id)
{
    if (c->ndjson)
        put_joined(c, rtype_names[t], strlen(rtype_names[t]), "/", 1, id);
    else
        put_joined(c, "urn:uuid:", 9, "", 0, id);
}

void mp_raw_member(mp_ctx *c, const char *key, const char *json, size_t n)
{
    fg_jw_key(&c->w, key);
    fg_jw_raw(&c->w, json, n);
}

void mp_begin(mp_ctx *c, fg_rtype t, const char *id, fg_profile p)
{
    fg_jw *w = &c->w;
    if (c->ndjson) {
        fg_jw_init(w, c->outs[t]);
    } else {
        fg_jw_obj(w);
        fg_jw_key(w, "fullUrl");
        put_joined(c, "urn:uuid:", 9, "", 0, id);
        fg_jw_key(w, "resource");
    }
    fg_jw_obj(w);
    fg_jw_kv_str(w, "resourceType", rtype_names[t]);
    fg_jw_key(w, "id");
    put_joined(c, "", 0, "", 0, id);
    fg_jw_key(w, "meta");
    fg_jw_raw(w, c->m->meta[p], c->m->meta_len[p]);
}

void mp_end(mp_ctx *c, fg_rtype t, const char *id, const char *if_system, const char *if_value)
{
    fg_jw *w = &c->w;
    fg_jw_obj_end(w);
    c->counts[t]++;
    if (c->ndjson) {
        fg_buf_putc(w->out, '\n');
        return;
    }
    fg_jw_kv_obj(w, "request");
    if (if_system) {
        MP_RAW(c, "method", "\"POST\"");
        fg_jw_kv_str(w, "url", rtype_names[t]);
        fg_jw_key(w, "ifNoneExist");
        fg_buf *b = w->out;
        fg_jw_raw(w, "\"identifier=", 12);
        fg_json_escape(b, if_system, strlen(if_system));
        fg_buf_putc(b, '|');
        fg_json_escape(b, if_value, strlen(if_value));
        fg_buf_putc(b, '"');
    } else {
        MP_RAW(c, "method", "\"PUT\"");
        fg_jw_key(w, "url");
        put_joined(c, rtype_names[t], strlen(rtype_names[t]), "/", 1, id);
    }
    fg_jw_obj_end(w);
    fg_jw_obj_end(w);
}

void mp_ref(mp_ctx *c, const char *key, fg_rtype t, const char *local)
{
    char buf[MP_ID_SIZE];
    const char *id = mp_id(c, t, local, buf);
    if (key)
        fg_jw_key(&c->w, key);
    fg_jw_obj(&c->w);
    fg_jw_key(&c->w, "reference");
    put_ref_string(c, t, id);
    fg_jw_obj_end(&c->w);
}

void mp_ref_patient(mp_ctx *c, const char *key)
{
    if (key)
        fg_jw_key(&c->w, key);
    fg_jw_obj(&c->w);
    fg_jw_key(&c->w, "reference");
    put_ref_string(c, FG_RT_PATIENT, c->pid);
    fg_jw_obj_end(&c->w);
}

/* ---- grounding and lookups ---- */

int mp_fail(mp_ctx *c, int code, const char *list, size_t i, const char *field, const char *fmt,
            ...)
{
    char where[FG_ERROR_WHERE_MAX];
    char text[FG_ERROR_TEXT_MAX];
    if (i == (size_t)-1)
        snprintf(where, sizeof(where), "%s%s%s", list, field ? "." : "", field ? field : "");
    else
        snprintf(where, sizeof(where), "%s[%zu]%s%s", list, i, field ? "." : "",
                 field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return fg_error_set(c->err, code, where, "%s", text);
}

int mp_ground(mp_ctx *c, const fg_term *t, const char *default_system, const char *list,
              size_t i, const char *field, const fg_code_entry **out)
{
    const char *sys = t->system ? t->system : default_system;
    const fg_code_entry *e = NULL;
    if (t->code) {
        e = fg_terminology_find(c->m->terms, sys, t->code);
        if (!e)
            return mp_fail(c, FG_EINVALID, list, i, field,
                           "code \"%s\"%s%s%s is not a known %s concept (not in the "
                           "terminology tables)",
                           t->code, t->display ? " (\"" : "", t->display ? t->display : "",
                           t->display ? "\")" : "", fg_system_name(sys));
    } else if (t->display) {
        e = fg_terminology_lookup_display(c->m->terms, sys, t->display);
        if (!e)
            return mp_fail(c, FG_EINVALID, list, i, field, "\"%s\" is not a known %s concept",
                           t->display, fg_system_name(sys));
    } else {
        return mp_fail(c, FG_EINVALID, list, i, field, "a term needs a code or a display");
    }
    *out = e;
    return FG_OK;
}

const void *mp_find(const void *base, size_t n, size_t stride, const char *id, size_t *hint)
{
    if (!id || !n)
        return NULL;
    size_t start = *hint < n ? *hint : 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = start + k;
        if (i >= n)
            i -= n;
        const char *item = (const char *)base + i * stride;
        const char *s = *(const char *const *)item;
        if (s && s[0] == id[0] && strcmp(s, id) == 0) {
            *hint = i;
            return item;
        }
    }
    return NULL;
}

const fg_encounter *mp_encounter(mp_ctx *c, const char *id, const char *list, size_t i, int *rc)
{
    *rc = FG_OK;
    if (!id)
        return NULL;
    const fg_encounter *e = mp_find(c->h->encounters.v, c->h->encounters.n, sizeof(*e), id,
                                    &c->hint_enc);
    if (!e)
        *rc = mp_fail(c, FG_EINVALID, list, i, "encounter", "no encounter with id \"%s\"", id);
    return e;
}

int mp_open(mp_ctx *c, const char *list, size_t i, const char *id, const fg_term *term,
            const char *default_system, const char *field, const fg_code_entry **code)
{
    if (!id)
        return mp_fail(c, FG_EINVALID, list, i, "id", "missing");
    return mp_ground(c, term, default_system, list, i, field, code);
}

int mp_open_event(mp_ctx *c, const char *list, size_t i, const char *id, const fg_term *term,
                  const char *default_system, const fg_code_entry **code, const char *encounter,
                  const fg_encounter **enc)
{
    int rc = mp_open(c, list, i, id, term, default_system, "term", code);
    if (rc)
        return rc;
    const fg_encounter *e = mp_encounter(c, encounter, list, i, &rc);
    if (enc)
        *enc = e;
    return rc;
}

/* ---- small shapes ---- */

void mp_coding(mp_ctx *c, const fg_code_entry *e)
{
    const mp_entry *x = mp_cached(c->m, e);
    if (x) {
        fg_jw_raw(&c->w, x->cc + x->coding_off, x->coding_len);
        return;
    }
    fg_jw *w = &c->w;
    fg_jw_obj(w);
    fg_jw_kv_str(w, "system", e->system);
    fg_jw_kv_str(w, "code", e->code);
    if (e->display && *e->display)
        fg_jw_kv_str(w, "display", e->display);
    fg_jw_obj_end(w);
}

void mp_cc(mp_ctx *c, const char *key, const fg_code_entry *e)
{
    fg_jw *w = &c->w;
    if (key)
        fg_jw_key(w, key);
    const mp_entry *x = mp_cached(c->m, e);
    if (x) {
        fg_jw_raw(w, x->cc, x->cc_len);
        return;
    }
    fg_jw_obj(w);
    fg_jw_kv_arr(w, "coding");
    mp_coding(c, e);
    fg_jw_arr_end(w);
    if (e->display && *e->display)
        fg_jw_kv_str(w, "text", e->display);
    fg_jw_obj_end(w);
}

void mp_datetime(mp_ctx *c, const char *key, fg_time t)
{
    if (t == FG_TIME_NONE)
        return;
    char s[FG_DATETIME_TZ_SIZE + 2];
    s[0] = '"';
    size_t n = fg_format_datetime_memo(t, &c->tz_memo, s + 1) + 1;
    s[n++] = '"';
    fg_jw_key(&c->w, key);
    fg_jw_raw(&c->w, s, n);
}

void mp_period(mp_ctx *c, const char *key, fg_time start, fg_time end)
{
    if (start == FG_TIME_NONE && end == FG_TIME_NONE)
        return;
    fg_jw_kv_obj(&c->w, key);
    mp_datetime(c, "start", start);
    mp_datetime(c, "end", end);
    fg_jw_obj_end(&c->w);
}

/* ---- the driver ---- */

static int map_all(mp_ctx *c)
{
    static int (*const passes[])(mp_ctx *) = {
        mp_write_patient,      mp_write_shared,      mp_write_encounters,
        mp_write_conditions,   mp_write_observations, mp_write_reports,
        mp_write_medications,  mp_write_immunizations, mp_write_procedures,
        mp_write_allergies,    mp_write_careplans,   mp_write_notes,
    };
    for (size_t i = 0; i < sizeof(passes) / sizeof(*passes); i++) {
        int rc = passes[i](c);
        if (rc != FG_OK)
            return rc;
    }
    return FG_OK;
}

static int ctx_init(mp_ctx *c, const fg_mapper *m, const fg_history *h, fg_error *err)
{
    memset(c, 0, sizeof(*c));
    c->m = m;
    c->h = h;
    c->err = err;
    c->tz = history_tz(m, h);
    c->tz_memo = (fg_tz_memo){.tz = &c->tz};
    if (!h->patient.id)
        return mp_fail(c, FG_EINVALID, "patient", (size_t)-1, "id", "missing");
    const char *pid = mp_id(c, FG_RT_PATIENT, h->patient.id, c->pid);
    if (pid != c->pid)
        memcpy(c->pid, pid, MP_ID_LEN + 1);
    return FG_OK;
}

static void add_stats(const mp_ctx *c, fg_map_stats *stats)
{
    if (!stats)
        return;
    for (int t = 0; t < FG_RT_COUNT; t++)
        stats->resources[t] += c->counts[t];
}

static void restore(fg_buf *b, size_t len)
{
    if (!b)
        return;
    b->len = len;
    b->failed = 0;
    if (b->data)
        b->data[len] = 0;
}

int fg_map_bundle(const fg_mapper *m, const fg_history *h, fg_buf *out, fg_map_stats *stats,
                  fg_error *err)
{
    mp_ctx c;
    if (!m || !h || !out)
        return fg_error_set(err, FG_EUSAGE, "mapper", "mapper, history and buffer are required");
    size_t at = out->len;
    int rc = ctx_init(&c, m, h, err);
    if (rc != FG_OK)
        return rc;
    fg_jw_init(&c.w, out);
    fg_jw_obj(&c.w);
    MP_RAW(&c, "resourceType", "\"Bundle\"");
    MP_RAW(&c, "meta", "{\"security\":" MP_HTEST_JSON "}");
    MP_RAW(&c, "type", "\"transaction\"");
    fg_jw_kv_arr(&c.w, "entry");
    rc = map_all(&c);
    fg_jw_arr_end(&c.w);
    fg_jw_obj_end(&c.w);
    if (rc == FG_OK && out->failed)
        rc = fg_error_set(err, FG_ENOMEM, "mapper", "out of memory writing the bundle");
    if (rc != FG_OK) {
        restore(out, at);
        return rc;
    }
    add_stats(&c, stats);
    return FG_OK;
}

int fg_map_ndjson(const fg_mapper *m, const fg_history *h, fg_buf *out[FG_RT_COUNT],
                  fg_map_stats *stats, fg_error *err)
{
    mp_ctx c;
    size_t at[FG_RT_COUNT];
    if (!m || !h || !out)
        return fg_error_set(err, FG_EUSAGE, "mapper", "mapper, history and buffers are required");
    for (int t = 0; t < FG_RT_COUNT; t++) {
        if (!out[t])
            return fg_error_set(err, FG_EUSAGE, "mapper", "no output buffer for %s",
                                rtype_names[t]);
        at[t] = out[t]->len;
    }
    int rc = ctx_init(&c, m, h, err);
    if (rc != FG_OK)
        return rc;
    c.ndjson = 1;
    c.outs = out;
    rc = map_all(&c);
    for (int t = 0; rc == FG_OK && t < FG_RT_COUNT; t++)
        if (out[t]->failed)
            rc = fg_error_set(err, FG_ENOMEM, "mapper", "out of memory writing %s",
                              rtype_names[t]);
    if (rc != FG_OK) {
        for (int t = 0; t < FG_RT_COUNT; t++)
            restore(out[t], at[t]);
        return rc;
    }
    add_stats(&c, stats);
    return FG_OK;
}

int fg_map_shared_id(const fg_mapper *m, const fg_history *h, fg_rtype t, size_t i,
                     char id[FG_MAP_ID_SIZE], fg_error *err)
{
    const char *local = NULL;
    if (t == FG_RT_ORGANIZATION && i < h->organizations.n)
        local = h->organizations.v[i].id;
    else if (t == FG_RT_PRACTITIONER && i < h->practitioners.n)
        local = h->practitioners.v[i].id;
    else if (t == FG_RT_LOCATION && i < h->locations.n)
        local = h->locations.v[i].id;
    else
        return fg_error_set(err, FG_EUSAGE, "mapper", "no shared resource %s %zu",
                            rtype_names[t < FG_RT_COUNT ? t : 0], i);
    mp_ctx c;
    memset(&c, 0, sizeof(c));
    c.m = m;
    c.h = h;
    c.err = err;
    char buf[MP_ID_SIZE];
    const char *s = mp_id(&c, t, local, buf);
    memcpy(id, s, MP_ID_LEN);
    id[MP_ID_LEN] = 0;
    return FG_OK;
}
