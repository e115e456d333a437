/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_hospital_load.c: reading data/hospital/hospital.json (see
 * hospital_private.h for what it holds) into the tables the hospital pass
 * walks. Every term is checked against the terminology tables and every
 * condition named must be a loaded module, so a typo fails at load time with
 * the path inside the file.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generators/engine/engine_module.h"
#include "generators/engine/hospital_private.h"

#define HOSPITAL_FILE "hospital/hospital.json"

static const char *const disp_names[HX_NDISP] = {"home", "snf", "rehab", "hospice", "expired"};
static const char *const path_names[HX_NPATHS] = {"hospice", "admission", "sudden"};

typedef struct ld {
    const fg_engine *e;
    fg_error *err;
    char where[128];
} ld;

static int ld_fail(ld *c, const char *what)
{
    return fg_error_set(c->err, FG_EINVALID, "data/" HOSPITAL_FILE, "%s: %s", c->where, what);
}

/* A term object, or null (code left NULL) when nullable. */
static int ld_term(ld *c, json_t *j, int nullable, fg_term *out)
{
    memset(out, 0, sizeof(*out));
    if (!j || json_is_null(j))
        return nullable ? FG_OK : ld_fail(c, "a term {system, code, display} is required");
    const char *sys = json_string_value(json_object_get(j, "system"));
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *disp = json_string_value(json_object_get(j, "display"));
    if (!sys || !code || !disp)
        return ld_fail(c, "a term needs system, code and display strings");
    if (c->e->terms && !fg_terminology_find(c->e->terms, sys, code))
        return fg_error_set(c->err, FG_ENOTFOUND, "data/" HOSPITAL_FILE,
                            "%s: %s|%s is not in the terminology tables", c->where, sys, code);
    *out = (fg_term){sys, code, disp};
    return FG_OK;
}

static int ld_num(ld *c, json_t *o, const char *key, double dflt, double *out)
{
    json_t *j = json_object_get(o, key);
    if (!j || json_is_null(j)) {
        if (dflt < 0)
            return fg_error_set(c->err, FG_EINVALID, "data/" HOSPITAL_FILE,
                                "%s: \"%s\" (a number) is required", c->where, key);
        *out = dflt;
        return FG_OK;
    }
    if (!json_is_number(j) || json_number_value(j) < 0)
        return fg_error_set(c->err, FG_EINVALID, "data/" HOSPITAL_FILE,
                            "%s: \"%s\" must be a number >= 0", c->where, key);
    *out = json_number_value(j);
    return FG_OK;
}

static int ld_module(ld *c, const char *name, const eng_module **out)
{
    const struct eng_modules *ms = c->e->modules;
    for (size_t i = 0; ms && i < ms->n; i++)
        if (!strcmp(ms->mods[i].name, name)) {
            *out = &ms->mods[i];
            return FG_OK;
        }
    return fg_error_set(c->err, FG_ENOTFOUND, "data/" HOSPITAL_FILE,
                        "%s: no condition module \"%s\"", c->where, name);
}

/* Weights of named choices into cumulative weights; absent names weigh 0. */
static int ld_weights(ld *c, json_t *o, const char *const *names, int n, double *cum)
{
    double sum = 0;
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return ld_fail(c, "weights must be an object");
    json_object_foreach(o, k, v) {
        int i;
        for (i = 0; i < n && strcmp(names[i], k) != 0; i++)
            ;
        if (i == n || !json_is_number(v))
            return ld_fail(c, "unknown choice or weight not a number");
    }
    for (int i = 0; i < n; i++) {
        json_t *w = json_object_get(o, names[i]);
        sum += w ? json_number_value(w) : 0;
        cum[i] = sum;
    }
    return sum > 0 ? FG_OK : ld_fail(c, "weights sum to 0");
}

static int ld_bands(ld *c, json_t *a, hx_event *ev)
{
    size_t i;
    json_t *b;
    if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > HX_MAX_BANDS)
        return ld_fail(c, "rates: 1 to 8 bands [min_age, female, male] per 1,000 a year");
    json_array_foreach(a, i, b) {
        if (json_array_size(b) != 3 || !json_is_number(json_array_get(b, 0)) ||
            !json_is_number(json_array_get(b, 1)) || !json_is_number(json_array_get(b, 2)))
            return ld_fail(c, "rates: each band is [min_age, female, male]");
        hx_band *d = &ev->bands[ev->n_bands++];
        d->min_age = (int)json_number_value(json_array_get(b, 0));
        d->per_year[0] = json_number_value(json_array_get(b, 1)) / 1000.0;
        d->per_year[1] = json_number_value(json_array_get(b, 2)) / 1000.0;
        if (i && d->min_age <= ev->bands[i - 1].min_age)
            return ld_fail(c, "rates: band ages must increase");
    }
    return FG_OK;
}

static int ld_event(ld *c, json_t *o, hx_event *ev)
{
    const char *path = json_string_value(json_object_get(o, "path"));
    const char *req = json_string_value(json_object_get(o, "requires"));
    const char *rec = json_string_value(json_object_get(o, "record"));
    json_t *risks = json_object_get(o, "risks");
    double admit_pct = 0, admit_pct65 = 0, proc_pct = 0;
    int rc;
    ev->key = json_string_value(json_object_get(o, "key"));
    if (!ev->key || !path)
        return ld_fail(c, "an event needs \"key\" and \"path\"");
    snprintf(c->where, sizeof(c->where), "events.%s", ev->key);
    if (!json_is_string(json_object_get(o, "source")))
        return ld_fail(c, "\"source\" (the publication of the rates) is required");
    ev->path = !strcmp(path, "elective") ? HX_ELECTIVE : HX_EMERGENCY;
    if (strcmp(path, "elective") && strcmp(path, "emergency"))
        return ld_fail(c, "path must be \"emergency\" or \"elective\"");
    if (req && (rc = ld_module(c, req, &ev->requires)))
        return rc;
    ev->record = !rec ? HX_RECORD_NONE : !strcmp(rec, "problem") ? HX_RECORD_PROBLEM
                                                                  : HX_RECORD_DIAGNOSIS;
    if ((rc = ld_bands(c, json_object_get(o, "rates"), ev)) ||
        (rc = ld_num(c, o, "max_years", 0, &ev->max_years)) ||
        (rc = ld_num(c, o, "admit_pct", -1, &admit_pct)) ||
        (rc = ld_num(c, o, "admit_pct_65", admit_pct, &admit_pct65)) ||
        (rc = ld_num(c, o, "los_days", -1, &ev->los_days)) ||
        (rc = ld_num(c, o, "resolve_days", 0, &ev->resolve_days)) ||
        (rc = ld_num(c, o, "procedure_pct", 0, &proc_pct)) ||
        (rc = ld_term(c, json_object_get(o, "diagnosis"), 1, &ev->diagnosis)) ||
        (rc = ld_term(c, json_object_get(o, "encounter"), 1, &ev->encounter)) ||
        (rc = ld_term(c, json_object_get(o, "procedure"), 1, &ev->procedure)) ||
        (rc = ld_weights(c, json_object_get(o, "dispositions"), disp_names, HX_EXPIRED, ev->disp)))
        return rc;
    ev->admit_p = admit_pct / 100.0;
    ev->admit_p65 = admit_pct65 / 100.0;
    ev->procedure_p = proc_pct / 100.0;
    if (!ev->diagnosis.code && !ev->requires)
        return ld_fail(c, "an event without a diagnosis needs \"requires\"");
    const char *k;
    json_t *v;
    json_object_foreach(risks, k, v) {
        if (ev->n_risks == HX_MAX_RISKS || !json_is_number(v))
            return ld_fail(c, "risks: at most 8 numbers");
        hx_risk *x = &ev->risks[ev->n_risks++];
        x->rr = json_number_value(v);
        if ((rc = ld_module(c, k, &x->module)))
            return rc;
    }
    return FG_OK;
}

static int ld_cause(ld *c, json_t *o, hx_cause *cs)
{
    json_t *mods = json_object_get(o, "modules"), *bg = json_object_get(o, "background");
    json_t *rec = json_object_get(o, "record");
    double ed_pct = 0;
    const char *k;
    size_t i;
    json_t *m;
    int rc;
    cs->key = json_string_value(json_object_get(o, "key"));
    if (!cs->key)
        return ld_fail(c, "a cause needs \"key\"");
    snprintf(c->where, sizeof(c->where), "causes.%s", cs->key);
    if ((rc = ld_term(c, json_object_get(o, "term"), 1, &cs->term)) ||
        (rc = ld_weights(c, json_object_get(o, "paths"), path_names, HX_NPATHS, cs->paths)) ||
        (rc = ld_num(c, o, "sudden_ed_pct", -1, &ed_pct)) ||
        (rc = ld_num(c, o, "diagnosed_days_before", 0, &cs->diagnosed_days)))
        return rc;
    cs->sudden_ed_p = ed_pct / 100.0;
    cs->record = cs->term.code && !json_is_false(rec);
    if (!json_is_object(mods) || json_object_size(mods) > HX_MAX_CAUSE_MODULES)
        return ld_fail(c, "modules: at most 8 condition names, each with its share");
    json_object_foreach(mods, k, m) {
        if (!json_is_number(m) || json_number_value(m) <= 0)
            return ld_fail(c, "modules: each share is a number > 0");
        cs->shares[cs->n_modules] = json_number_value(m);
        if ((rc = ld_module(c, k, &cs->modules[cs->n_modules++])))
            return rc;
    }
    if (!cs->term.code && !cs->n_modules)
        return ld_fail(c, "a cause without a term takes the term of its modules: name one");
    if (json_array_size(bg) != HX_CAUSE_BANDS)
        return ld_fail(c, "background: one weight per age band");
    for (i = 0; i < HX_CAUSE_BANDS; i++)
        cs->background[i] = json_number_value(json_array_get(bg, i));
    if (!cs->term.code)
        for (i = 0; i < HX_CAUSE_BANDS; i++)
            if (cs->background[i] > 0)
                return ld_fail(c, "a background share needs a term of its own");
    return FG_OK;
}

static int ld_codes(ld *c, json_t *doc, struct eng_hospital *x)
{
    json_t *codes = json_object_get(doc, "codes"), *disp = json_object_get(doc, "dispositions");
    struct {
        const char *key;
        fg_term *t;
    } want[] = {{"ed", &x->ed},
                {"emergency_admission", &x->emergency_admission},
                {"hospice", &x->hospice},
                {"certification", &x->certification},
                {"cause_of_death", &x->cause_of_death},
                {"from_ed", &x->from_ed},
                {"referral", &x->referral}};
    int rc;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        snprintf(c->where, sizeof(c->where), "codes.%s", want[i].key);
        if ((rc = ld_term(c, json_object_get(codes, want[i].key), 0, want[i].t)))
            return rc;
    }
    for (int i = 0; i < HX_NDISP; i++) {
        snprintf(c->where, sizeof(c->where), "dispositions.%s", disp_names[i]);
        if ((rc = ld_term(c, json_object_get(disp, disp_names[i]), 0, &x->disp[i])))
            return rc;
    }
    return FG_OK;
}

static int ld_all(ld *c, json_t *doc, struct eng_hospital *x)
{
    json_t *events = json_object_get(doc, "events"), *causes = json_object_get(doc, "causes");
    json_t *list = json_object_get(causes, "list"), *bands = json_object_get(causes, "bands");
    size_t i;
    json_t *o;
    int rc;
    if ((rc = ld_codes(c, doc, x)))
        return rc;
    snprintf(c->where, sizeof(c->where), "events");
    if (!json_is_array(events) || json_array_size(events) > HX_MAX_EVENTS)
        return ld_fail(c, "a list of at most 48 events is required");
    json_array_foreach(events, i, o) if ((rc = ld_event(c, o, &x->events[x->n_events++]))) return rc;
    snprintf(c->where, sizeof(c->where), "causes");
    if (!json_is_string(json_object_get(causes, "source")))
        return ld_fail(c, "\"source\" (the publication of the shares) is required");
    if (!json_is_array(list) || !json_array_size(list) || json_array_size(list) > HX_MAX_CAUSES ||
        json_array_size(bands) != HX_CAUSE_BANDS)
        return ld_fail(c, "a list of 1 to 32 causes and 5 age bands are required");
    for (i = 0; i < HX_CAUSE_BANDS; i++)
        x->bands[i] = (int)json_number_value(json_array_get(bands, i));
    json_array_foreach(list, i, o) if ((rc = ld_cause(c, o, &x->causes[x->n_causes++]))) return rc;
    return FG_OK;
}

void eng_hospital_free(struct eng_hospital *x)
{
    if (!x)
        return;
    json_decref(x->doc);
    free(x);
}

int eng_hospital_load(fg_engine *e, fg_error *err)
{
    char path[4096];
    json_t *doc = NULL;
    struct eng_hospital *x = NULL;
    int rc;
    if (snprintf(path, sizeof(path), "%s/" HOSPITAL_FILE, e->datadir) >= (int)sizeof(path))
        return fg_error_set(err, FG_ELIMIT, e->datadir, "data folder path too long");
    if ((rc = eng_json_load(path, "data/" HOSPITAL_FILE, FG_MAX_DATA_FILE_BYTES, &doc, err)))
        return rc;
    if (!(x = calloc(1, sizeof(*x)))) {
        json_decref(doc);
        return fg_error_set(err, FG_ENOMEM, "hospital", "out of memory");
    }
    x->doc = doc;
    ld c = {.e = e, .err = err};
    if ((rc = ld_all(&c, doc, x))) {
        eng_hospital_free(x);
        return rc;
    }
    e->hospital = x;
    return FG_OK;
}
