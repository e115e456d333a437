/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_module.c: reads the condition modules (data/conditions/<name>.json)
 * into eng_module structs, checking every field and every code, and orders
 * them so that risk factors are drawn before the conditions they affect.
 *
 * A bad module is rejected with its file and the path of the bad member:
 * `data/conditions/asthma.json: labs[1].term.code: ...`.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fhir/base/fg_data.h"
#include "fhir/base/fg_files.h"
#include "generators/engine/engine_module.h"
#include "generators/engine/engine_private.h"

typedef struct mod_ctx {
    const char *file;
    const fg_terminology *terms;
    fg_error *err;
} mod_ctx;

static int bad(mod_ctx *c, const char *path, const char *fmt, const char *detail)
{
    char where[FG_ERROR_WHERE_MAX];
    snprintf(where, sizeof(where), "%s: %s", c->file, path);
    return fg_error_set(c->err, FG_EINVALID, where, fmt, detail ? detail : "");
}

static int get_num(mod_ctx *c, json_t *o, const char *key, const char *path, double lo, double hi,
                   double dflt, int required, double *out)
{
    char p[160];
    json_t *v = json_object_get(o, key);
    snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
    if (!v) {
        if (required)
            return bad(c, p, "required number is missing%s", NULL);
        *out = dflt;
        return FG_OK;
    }
    if (!json_is_number(v))
        return bad(c, p, "must be a number%s", NULL);
    double x = json_number_value(v);
    if (x < lo || x > hi) {
        char range[96];
        snprintf(range, sizeof(range), " (got %g, allowed %g to %g)", x, lo, hi);
        return bad(c, p, "out of range%s", range);
    }
    *out = x;
    return FG_OK;
}

static const char *get_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A coded term: {"system", "code", "display"}, checked for format and
 * against the terminology when one is loaded. */
static int get_term(mod_ctx *c, json_t *v, const char *path, const char *want_system,
                    fg_term *out)
{
    char p[192];
    if (!json_is_object(v))
        return bad(c, path, "must be an object with system, code and display%s", NULL);
    const char *sys = get_str(v, "system"), *code = get_str(v, "code"),
               *disp = get_str(v, "display");
    if (!sys || !code || !disp || !*code || !*disp)
        return bad(c, path, "needs string members system, code and display%s", NULL);
    if (want_system && strcmp(sys, want_system) != 0) {
        snprintf(p, sizeof(p), "%s.system", path);
        return bad(c, p, "must be %s", want_system);
    }
    snprintf(p, sizeof(p), "%s.code", path);
    if (strcmp(sys, FG_SYS_SNOMED) == 0 && !fg_snomed_valid(code))
        return bad(c, p, "%s is not a valid SNOMED CT concept id (check digit or partition)",
                   code);
    if (strcmp(sys, FG_SYS_LOINC) == 0 && !fg_loinc_valid(code))
        return bad(c, p, "%s is not a valid LOINC code (check digit)", code);
    if (c->terms) {
        const fg_code_entry *e = fg_terminology_find(c->terms, sys, code);
        if (!e)
            return bad(c, p, "%s is not in the terminology tables (data/terminology)", code);
        if (strcasecmp(e->display, disp) != 0) {
            snprintf(p, sizeof(p), "%s.display", path);
            return bad(c, p, "differs from the terminology's display \"%s\"", e->display);
        }
    }
    *out = (fg_term){sys, code, disp};
    return FG_OK;
}

/* A term, or the key of the engine vocabulary (resolved later); here only
 * terms are accepted so every code stays checkable from the module. */
static int get_sex(mod_ctx *c, json_t *o, const char *path, int *out)
{
    const char *s = get_str(o, "sex");
    if (!s || strcmp(s, "any") == 0)
        *out = -1;
    else if (strcmp(s, "female") == 0)
        *out = FG_SEX_FEMALE;
    else if (strcmp(s, "male") == 0)
        *out = FG_SEX_MALE;
    else {
        char p[160];
        snprintf(p, sizeof(p), "%s%ssex", path, *path ? "." : "");
        return bad(c, p, "must be \"any\", \"female\" or \"male\", not \"%s\"", s);
    }
    return FG_OK;
}

static int get_pair(mod_ctx *c, json_t *o, const char *key, const char *path, double lo,
                    double hi, double *a, double *b)
{
    char p[160];
    snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
    json_t *v = json_object_get(o, key);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_number(json_array_get(v, 0)) ||
        !json_is_number(json_array_get(v, 1)))
        return bad(c, p, "must be an array of two numbers%s", NULL);
    *a = json_number_value(json_array_get(v, 0));
    *b = json_number_value(json_array_get(v, 1));
    if (*a < lo || *b > hi || *a > *b)
        return bad(c, p, "must be [low, high] within the allowed range%s", NULL);
    return FG_OK;
}

static int get_dist(mod_ctx *c, json_t *o, const char *key, const char *path, mod_dist *d)
{
    char p[160];
    snprintf(p, sizeof(p), "%s.%s", path, key);
    json_t *v = json_object_get(o, key);
    if (!json_is_object(v))
        return bad(c, p, "must be an object {\"mean\": ..., \"sd\": ...}%s", NULL);
    int rc = get_num(c, v, "mean", p, -1e9, 1e9, 0, 1, &d->mean);
    if (rc == FG_OK)
        rc = get_num(c, v, "sd", p, 0, 1e9, 0, 1, &d->sd);
    return rc;
}

static int parse_prevalence(mod_ctx *c, json_t *doc, eng_module *m)
{
    json_t *a = json_object_get(doc, "prevalence");
    if (!json_is_array(a) || json_array_size(a) == 0)
        return bad(c, "prevalence", "must be a non-empty array of age bands%s", NULL);
    if (json_array_size(a) > MOD_MAX_BANDS)
        return bad(c, "prevalence", "too many bands%s", NULL);
    char p[64];
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *b = json_array_get(a, i);
        mod_band *band = &m->bands[m->n_bands];
        double lo, hi, pct;
        snprintf(p, sizeof(p), "prevalence[%zu]", i);
        if (!json_is_object(b))
            return bad(c, p, "must be an object%s", NULL);
        int rc = get_pair(c, b, "ages", p, 0, 120, &lo, &hi);
        if (rc == FG_OK)
            rc = get_sex(c, b, p, &band->sex);
        if (rc == FG_OK)
            rc = get_num(c, b, "percent", p, 0, 100, 0, 1, &pct);
        if (rc != FG_OK)
            return rc;
        if (!get_str(b, "source") || !*get_str(b, "source"))
            return bad(c, p, "every band names its source (\"source\": \"...\")%s", NULL);
        band->lo = (int)lo;
        band->hi = (int)hi;
        band->p = pct / 100.0;
        m->n_bands++;
    }
    return FG_OK;
}

static int parse_labs(mod_ctx *c, json_t *doc, eng_module *m)
{
    json_t *panels = json_object_get(doc, "panels"), *labs = json_object_get(doc, "labs");
    char p[96];
    if (panels && (!json_is_array(panels) || json_array_size(panels) > MOD_MAX_PANELS))
        return bad(c, "panels", "must be an array of at most 4 panels%s", NULL);
    for (size_t i = 0; panels && i < json_array_size(panels); i++) {
        json_t *o = json_array_get(panels, i);
        snprintf(p, sizeof(p), "panels[%zu]", i);
        mod_panel *pn = &m->panels[m->n_panels];
        if (!(pn->key = get_str(o, "key")))
            return bad(c, p, "needs a string key%s", NULL);
        snprintf(p, sizeof(p), "panels[%zu].term", i);
        int rc = get_term(c, json_object_get(o, "term"), p, FG_SYS_LOINC, &pn->term);
        if (rc != FG_OK)
            return rc;
        m->n_panels++;
    }
    if (labs && (!json_is_array(labs) || json_array_size(labs) > MOD_MAX_LABS))
        return bad(c, "labs", "must be an array of at most 24 labs%s", NULL);
    for (size_t i = 0; labs && i < json_array_size(labs); i++) {
        json_t *o = json_array_get(labs, i);
        mod_lab *l = &m->labs[m->n_labs];
        char tp[160];
        double dec = 0, every = 1;
        snprintf(p, sizeof(p), "labs[%zu]", i);
        if (!json_is_object(o) || !(l->key = get_str(o, "key")))
            return bad(c, p, "must be an object with a string key%s", NULL);
        snprintf(tp, sizeof(tp), "%s.term", p);
        int rc = get_term(c, json_object_get(o, "term"), tp, FG_SYS_LOINC, &l->term);
        if (rc == FG_OK)
            rc = get_num(c, o, "decimals", p, 0, 4, 0, 0, &dec);
        if (rc == FG_OK)
            rc = get_dist(c, o, "untreated", p, &l->untreated);
        if (rc == FG_OK && json_object_get(o, "treated"))
            rc = get_dist(c, o, "treated", p, &l->treated);
        else if (rc == FG_OK)
            l->treated = l->untreated;
        if (rc == FG_OK)
            rc = get_pair(c, o, "range", p, -1e9, 1e9, &l->min, &l->max);
        if (rc == FG_OK)
            rc = get_num(c, o, "every", p, 1, 12, 1, 0, &every);
        if (rc != FG_OK)
            return rc;
        l->decimals = (int)dec;
        l->every_nth = (int)every;
        l->unit = get_str(o, "unit");
        if (!l->unit || !*l->unit)
            return bad(c, p, "needs a UCUM unit (\"unit\")%s", NULL);
        if (c->terms) {
            const fg_code_entry *e = fg_terminology_find(c->terms, l->term.system, l->term.code);
            if (e && e->unit && strcmp(e->unit, l->unit) != 0) {
                snprintf(tp, sizeof(tp), "%s.unit", p);
                return bad(c, tp, "differs from the terminology's unit \"%s\"", e->unit);
            }
        }
        const char *cat = get_str(o, "category");
        if (!cat || strcmp(cat, "laboratory") == 0)
            l->category = FG_OBS_LAB;
        else if (strcmp(cat, "survey") == 0)
            l->category = FG_OBS_SURVEY;
        else if (strcmp(cat, "exam") == 0)
            l->category = FG_OBS_EXAM;
        else
            return bad(c, p, "category must be laboratory, survey or exam, not \"%s\"", cat);
        l->at_followup = json_is_true(json_object_get(o, "followup"));
        l->panel = -1;
        const char *pk = get_str(o, "panel");
        for (size_t k = 0; pk && k < m->n_panels; k++)
            if (strcmp(m->panels[k].key, pk) == 0)
                l->panel = (int)k;
        if (pk && l->panel < 0)
            return bad(c, p, "panel \"%s\" is not one of the module's panels", pk);
        m->n_labs++;
    }
    return FG_OK;
}

/* A line's gate: "with_any" (module names; checked once every module is
 * read) and "ages" [lo, hi]. */
static int parse_line_gate(mod_ctx *c, json_t *o, const char *p, mod_line *ln)
{
    json_t *w = json_object_get(o, "with_any"), *ages = json_object_get(o, "ages");
    ln->age_lo = ln->age_hi = -1;
    if (w && (!json_is_array(w) || json_array_size(w) == 0 || json_array_size(w) > MOD_MAX_WITH))
        return bad(c, p, "with_any must be an array of 1 to 4 module names%s", NULL);
    for (size_t k = 0; w && k < json_array_size(w); k++)
        if (!(ln->with_any[ln->n_with++] = json_string_value(json_array_get(w, k))))
            return bad(c, p, "with_any must name modules%s", NULL);
    if (!ages)
        return FG_OK;
    json_t *lo = json_array_get(ages, 0), *hi = json_array_get(ages, 1);
    if (!json_is_array(ages) || json_array_size(ages) != 2 || !json_is_integer(lo) ||
        !json_is_integer(hi) || json_integer_value(lo) < 0 ||
        json_integer_value(hi) < json_integer_value(lo) || json_integer_value(hi) > 120)
        return bad(c, p, "ages must be [lo, hi], whole years from 0 to 120%s", NULL);
    ln->age_lo = (int)json_integer_value(lo);
    ln->age_hi = (int)json_integer_value(hi);
    return FG_OK;
}

/* Every module a line's with_any names exists. */
static int check_line_gates(const struct eng_modules *ms, fg_error *err)
{
    for (size_t i = 0; i < ms->n; i++)
        for (size_t l = 0; l < ms->mods[i].n_lines; l++)
            for (size_t k = 0; k < ms->mods[i].lines[l].n_with; k++) {
                const char *name = ms->mods[i].lines[l].with_any[k];
                size_t j = 0;
                while (j < ms->n && strcmp(ms->mods[j].name, name) != 0)
                    j++;
                if (j == ms->n) {
                    mod_ctx c = {ms->mods[i].file, NULL, err};
                    return bad(&c, "medications", "with_any names no module \"%s\"", name);
                }
            }
    return FG_OK;
}

static int parse_meds(mod_ctx *c, json_t *doc, eng_module *m)
{
    json_t *lines = json_object_get(doc, "medications");
    char p[96], q[128];
    if (!lines)
        return FG_OK;
    if (!json_is_array(lines) || json_array_size(lines) > MOD_MAX_LINES)
        return bad(c, "medications", "must be an array of at most 6 lines of therapy%s", NULL);
    for (size_t i = 0; i < json_array_size(lines); i++) {
        json_t *o = json_array_get(lines, i);
        mod_line *ln = &m->lines[m->n_lines];
        snprintf(p, sizeof(p), "medications[%zu]", i);
        json_t *drugs = json_object_get(o, "drugs");
        if (!json_is_array(drugs) || json_array_size(drugs) == 0 ||
            json_array_size(drugs) > MOD_MAX_DRUGS)
            return bad(c, p, "drugs must be an array of 1 to 6 drugs%s", NULL);
        int rc = get_num(c, o, "p_start", p, 0, 1, 1, 0, &ln->p_start);
        if (rc == FG_OK)
            rc = get_num(c, o, "after_months", p, 0, 600, 0, 0, &ln->after_months);
        if (rc == FG_OK)
            rc = get_num(c, o, "p_switch", p, 0, 1, 0, 0, &ln->p_switch);
        if (rc == FG_OK)
            rc = get_num(c, o, "course_months", p, 0, 600, 0, 0, &ln->course_months);
        if (rc != FG_OK)
            return rc;
        if ((rc = parse_line_gate(c, o, p, ln)))
            return rc;
        const char *when = get_str(o, "when");
        if (!when || strcmp(when, "diagnosis") == 0)
            ln->when_uncontrolled = 0;
        else if (strcmp(when, "uncontrolled") == 0)
            ln->when_uncontrolled = 1;
        else
            return bad(c, p, "when must be \"diagnosis\" or \"uncontrolled\", not \"%s\"", when);
        for (size_t k = 0; k < json_array_size(drugs); k++) {
            json_t *d = json_array_get(drugs, k);
            mod_drug *dr = &ln->drugs[ln->n_drugs];
            double per_day = 1;
            snprintf(q, sizeof(q), "%s.drugs[%zu]", p, k);
            char tp[160];
            snprintf(tp, sizeof(tp), "%s.term", q);
            rc = get_term(c, json_object_get(d, "term"), tp, FG_SYS_RXNORM, &dr->term);
            if (rc == FG_OK)
                rc = get_num(c, d, "per_day", q, 0, 24, 1, 0, &per_day);
            if (rc == FG_OK)
                rc = get_num(c, d, "weight", q, 0, 1000, 1, 0, &dr->weight);
            if (rc != FG_OK)
                return rc;
            if (!(dr->dosage = get_str(d, "dosage")) || !*dr->dosage)
                return bad(c, q, "needs dosage text (\"dosage\": \"1 tablet by mouth daily\")%s",
                           NULL);
            dr->per_day = (int)per_day;
            dr->as_needed = json_is_true(json_object_get(d, "as_needed"));
            ln->n_drugs++;
        }
        m->n_lines++;
    }
    return FG_OK;
}

static int parse_procs_plan(mod_ctx *c, json_t *doc, eng_module *m)
{
    json_t *a = json_object_get(doc, "procedures");
    char p[96], tp[128];
    if (a && (!json_is_array(a) || json_array_size(a) > MOD_MAX_PROCS))
        return bad(c, "procedures", "must be an array of at most 8 procedures%s", NULL);
    for (size_t i = 0; a && i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        mod_proc *pr = &m->procs[m->n_procs];
        double minutes = 30;
        snprintf(p, sizeof(p), "procedures[%zu]", i);
        snprintf(tp, sizeof(tp), "%s.term", p);
        int rc = get_term(c, json_object_get(o, "term"), tp, FG_SYS_SNOMED, &pr->term);
        if (rc == FG_OK)
            rc = get_num(c, o, "p", p, 0, 1, 1, 0, &pr->p);
        if (rc == FG_OK)
            rc = get_num(c, o, "minutes", p, 1, 24 * 60, 30, 0, &minutes);
        if (rc != FG_OK)
            return rc;
        pr->minutes = (int)minutes;
        const char *at = get_str(o, "at");
        if (!at || strcmp(at, "diagnosis") == 0)
            pr->at = MOD_AT_DIAGNOSIS;
        else if (strcmp(at, "followup") == 0)
            pr->at = MOD_AT_FOLLOWUP;
        else
            return bad(c, p, "at must be \"diagnosis\" or \"followup\", not \"%s\"", at);
        m->n_procs++;
    }
    json_t *cp = json_object_get(doc, "careplan");
    if (!cp)
        return FG_OK;
    int rc = get_term(c, json_object_get(cp, "category"), "careplan.category", FG_SYS_SNOMED,
                      &m->careplan);
    if (rc != FG_OK)
        return rc;
    json_t *acts = json_object_get(cp, "activities");
    if (acts && (!json_is_array(acts) || json_array_size(acts) > MOD_MAX_ACTIVITIES))
        return bad(c, "careplan.activities", "must be an array of at most 8 terms%s", NULL);
    for (size_t i = 0; acts && i < json_array_size(acts); i++) {
        snprintf(p, sizeof(p), "careplan.activities[%zu]", i);
        rc = get_term(c, json_array_get(acts, i), p, FG_SYS_SNOMED, &m->activities[i]);
        if (rc != FG_OK)
            return rc;
        m->n_activities++;
    }
    return FG_OK;
}

static int parse_shift(mod_ctx *c, json_t *o, const char *path, eng_vital_shift *s)
{
    double *f[] = {&s->systolic, &s->diastolic, &s->heart_rate, &s->resp_rate, &s->bmi, &s->spo2};
    const char *k[] = {"systolic", "diastolic", "heart_rate", "resp_rate", "bmi", "spo2"};
    if (!o)
        return FG_OK;
    if (!json_is_object(o))
        return bad(c, path, "must be an object of shifts%s", NULL);
    for (size_t i = 0; i < 6; i++) {
        int rc = get_num(c, o, k[i], path, -100, 100, 0, 0, f[i]);
        if (rc != FG_OK)
            return rc;
    }
    return FG_OK;
}

static int parse_module(mod_ctx *c, json_t *doc, eng_module *m)
{
    int rc;
    double d;
    if (!json_is_object(doc))
        return bad(c, "(root)", "a module is a JSON object%s", NULL);
    m->file = c->file;
    m->name = get_str(doc, "name");
    if (!m->name || !*m->name)
        return bad(c, "name", "required string (the setting `condition` name)%s", NULL);
    if ((rc = get_term(c, json_object_get(doc, "term"), "term", FG_SYS_SNOMED, &m->term)))
        return rc;
    if ((rc = get_sex(c, doc, "", &m->sex)))
        return rc;
    if ((rc = get_num(c, doc, "min_age", "", 0, 120, 0, 0, &d)))
        return rc;
    m->min_age = (int)d;
    if ((rc = get_num(c, doc, "max_age", "", 0, 120, 120, 0, &d)))
        return rc;
    m->max_age = (int)d;
    if ((rc = parse_prevalence(c, doc, m)))
        return rc;
    json_t *onset = json_object_get(doc, "onset");
    if (onset && (rc = get_num(c, onset, "max_years_before", "onset", 0, 120, 0, 0,
                               &m->onset_max_years)))
        return rc;
    json_t *res = json_object_get(doc, "resolution");
    if (res && !json_is_true(json_object_get(res, "lifelong"))) {
        if ((rc = get_pair(c, res, "years", "resolution", 0.05, 100, &m->resolve_min,
                           &m->resolve_max)))
            return rc;
        if ((rc = get_num(c, res, "past_episode_percent", "resolution", 0, 100, 0, 0, &d)))
            return rc;
        m->resolved_extra = d / 100.0;
    }
    if ((rc = get_num(c, doc, "adherence", "", 0, 1, 0.8, 0, &m->adherence)) ||
        (rc = get_num(c, doc, "control_first_line", "", 0, 1, 0.6, 0, &m->control_first_line)) ||
        (rc = get_num(c, doc, "response_months", "", 0, 60, 3, 0, &m->response_months)) ||
        (rc = get_num(c, doc, "confirm_after_days", "", 0, 730, 0, 0, &m->confirm_days)) ||
        (rc = get_num(c, doc, "mortality_rr", "", 0.5, 20, 1, 0, &m->mortality_rr)))
        return rc;
    if ((rc = parse_labs(c, doc, m)) || (rc = parse_meds(c, doc, m)) ||
        (rc = parse_procs_plan(c, doc, m)))
        return rc;
    json_t *fu = json_object_get(doc, "followup");
    if (fu) {
        if ((rc = get_num(c, fu, "months", "followup", 0, 120, 0, 1, &m->followup_months)))
            return rc;
        if ((rc = get_term(c, json_object_get(fu, "encounter"), "followup.encounter",
                           FG_SYS_SNOMED, &m->enc_fu)))
            return rc;
    }
    if ((rc = get_term(c, json_object_get(doc, "diagnosis_encounter"), "diagnosis_encounter",
                       FG_SYS_SNOMED, &m->enc_dx)))
        return rc;
    if (!fu)
        m->enc_fu = m->enc_dx;
    json_t *v = json_object_get(doc, "vitals");
    if (v) {
        if ((rc = parse_shift(c, json_object_get(v, "untreated"), "vitals.untreated",
                              &m->vitals.untreated)))
            return rc;
        m->vitals.treated = m->vitals.untreated;
        if ((rc = parse_shift(c, json_object_get(v, "treated"), "vitals.treated",
                              &m->vitals.treated)))
            return rc;
        if (json_object_get(v, "bmi_range") &&
            (rc = get_pair(c, v, "bmi_range", "vitals", 10, 80, &m->bmi_lo, &m->bmi_hi)))
            return rc;
        if ((rc = get_num(c, v, "absent_bmi_max", "vitals", 0, 80, 0, 0, &m->absent_bmi_max)))
            return rc;
    }
    return FG_OK;
}

/* Risk factors and complications name other modules; resolve them into
 * incoming edges once every module is read. */
static int link_edges(struct eng_modules *ms, json_t **docs, fg_error *err)
{
    static const char *kinds[] = {"risk_factors", "complications"};
    for (size_t i = 0; i < ms->n; i++) {
        mod_ctx c = {ms->mods[i].file, NULL, err};
        for (int k = 0; k < 2; k++) {
            json_t *a = json_object_get(docs[i], kinds[k]);
            if (!a)
                continue;
            if (!json_is_array(a))
                return bad(&c, kinds[k], "must be an array%s", NULL);
            for (size_t j = 0; j < json_array_size(a); j++) {
                json_t *o = json_array_get(a, j);
                char p[64];
                double rr;
                snprintf(p, sizeof(p), "%s[%zu]", kinds[k], j);
                const char *name = get_str(o, "condition");
                size_t other = ms->n;
                for (size_t x = 0; name && x < ms->n; x++)
                    if (strcmp(ms->mods[x].name, name) == 0)
                        other = x;
                if (other == ms->n || other == i)
                    return bad(&c, p, "condition \"%s\" is not another module", name);
                int rc = get_num(&c, o, "relative_risk", p, 0.05, 50, 1, 1, &rr);
                if (rc != FG_OK)
                    return rc;
                /* risk factor: other -> i; complication: i -> other */
                eng_module *to = k == 0 ? &ms->mods[i] : &ms->mods[other];
                size_t from = k == 0 ? other : i;
                if (to->n_edges >= MOD_MAX_EDGES)
                    return bad(&c, p, "too many risk factors on \"%s\"", to->name);
                to->edges[to->n_edges++] = (mod_edge){from, rr, k == 1};
            }
        }
    }
    return FG_OK;
}

/* Order modules so every edge's source comes first; a cycle is an error. */
static int order_modules(struct eng_modules *ms, fg_error *err)
{
    size_t n = ms->n, done = 0;
    eng_module *out = calloc(n ? n : 1, sizeof(*out));
    size_t *pos = calloc(n ? n : 1, sizeof(*pos)); /* old index -> new index + 1 */
    int rc = FG_OK;
    if (!out || !pos) {
        rc = fg_error_set(err, FG_ENOMEM, "data/conditions", "out of memory");
        goto cleanup;
    }
    while (done < n) {
        size_t before = done;
        for (size_t i = 0; i < n; i++) {
            if (pos[i])
                continue;
            int ready = 1;
            for (size_t k = 0; k < ms->mods[i].n_edges; k++)
                if (!pos[ms->mods[i].edges[k].from])
                    ready = 0;
            if (ready) {
                out[done] = ms->mods[i];
                pos[i] = ++done;
            }
        }
        if (done == before) {
            for (size_t i = 0; i < n; i++)
                if (!pos[i]) {
                    rc = fg_error_set(err, FG_EINVALID, ms->mods[i].file,
                                      "risk_factors/complications form a cycle through \"%s\"",
                                      ms->mods[i].name);
                    goto cleanup;
                }
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < out[i].n_edges; k++)
            out[i].edges[k].from = pos[out[i].edges[k].from] - 1;
    free(ms->mods);
    ms->mods = out;
    out = NULL;
cleanup:
    free(out);
    free(pos);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void eng_modules_free(struct eng_modules *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free((char *)m->mods[i].file);
    for (size_t i = 0; i < m->n_docs; i++)
        json_decref((json_t *)m->docs[i]);
    free(m->docs);
    free(m->mods);
    free(m->sorted);
    free(m);
}

int eng_modules_read(const char *dir, const fg_terminology *terms, struct eng_modules **out,
                     fg_error *err)
{
    struct eng_modules *ms = calloc(1, sizeof(*ms));
    char **names = NULL;
    size_t n_names = 0;
    int rc = FG_OK;
    if (!ms)
        return fg_error_set(err, FG_ENOMEM, dir, "out of memory");
    rc = fg_list_names(dir, ".json", FG_MAX_MODULES, &names, &n_names, err);
    if (rc == FG_ELIMIT)
        fg_error_set(err, FG_ELIMIT, dir, "more than FG_MAX_MODULES (%d) modules", FG_MAX_MODULES);
    if (rc == FG_ENOTFOUND || rc == FG_EIO) {
        rc = fg_error_set(err, FG_ENOTFOUND, dir, "cannot open the condition module folder");
        goto cleanup;
    }
    if (rc != FG_OK)
        goto cleanup;
    ms->mods = calloc(n_names ? n_names : 1, sizeof(*ms->mods));
    ms->docs = calloc(n_names ? n_names : 1, sizeof(*ms->docs));
    ms->sorted = calloc(n_names ? n_names : 1, sizeof(*ms->sorted));
    if (!ms->mods || !ms->docs || !ms->sorted) {
        rc = fg_error_set(err, FG_ENOMEM, dir, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n_names; i++) {
        char path[4096], shown[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        snprintf(shown, sizeof(shown), "data/conditions/%s", names[i]);
        json_t *doc = NULL;
        rc = eng_json_load(path, shown, FG_MAX_MODULE_BYTES, &doc, err);
        if (rc != FG_OK)
            goto cleanup;
        ms->docs[ms->n_docs++] = doc;
        eng_module *m = &ms->mods[ms->n];
        if (!(m->file = strdup(shown))) {
            rc = fg_error_set(err, FG_ENOMEM, dir, "out of memory");
            goto cleanup;
        }
        ms->n++;
        mod_ctx c = {m->file, terms, err};
        rc = parse_module(&c, doc, m);
        if (rc != FG_OK)
            goto cleanup;
        for (size_t k = 0; k + 1 < ms->n; k++)
            if (strcmp(ms->mods[k].name, m->name) == 0) {
                rc = bad(&c, "name", "\"%s\" is used by another module", m->name);
                goto cleanup;
            }
    }
    rc = link_edges(ms, (json_t **)ms->docs, err);
    if (rc == FG_OK)
        rc = check_line_gates(ms, err);
    if (rc == FG_OK)
        rc = order_modules(ms, err);
    if (rc != FG_OK)
        goto cleanup;
    for (size_t i = 0; i < ms->n; i++)
        ms->sorted[i] = ms->mods[i].name;
    qsort(ms->sorted, ms->n, sizeof(*ms->sorted), cmp_name);
    *out = ms;
    ms = NULL;
cleanup:
    fg_names_free(names, n_names);
    eng_modules_free(ms);
    return rc;
}

double mod_band_p(const eng_module *m, int age, int sex)
{
    if (age < m->min_age || age > m->max_age || (m->sex >= 0 && m->sex != sex))
        return 0;
    double any = -1;
    for (size_t i = 0; i < m->n_bands; i++) {
        const mod_band *b = &m->bands[i];
        if (age < b->lo || age > b->hi)
            continue;
        if (b->sex == sex)
            return b->p;
        if (b->sex < 0 && any < 0)
            any = b->p;
    }
    return any < 0 ? 0 : any;
}

size_t eng_modules_count(const struct eng_modules *m)
{
    return m ? m->n : 0;
}

const char *eng_modules_name(const struct eng_modules *m, size_t i)
{
    return m && i < m->n ? m->sorted[i] : NULL;
}
