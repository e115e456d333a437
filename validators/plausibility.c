/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plausibility.c: does a history tell a possible story?
 *
 * The rules that are knowledge live in two tables of the data folder,
 * loaded once and shared read-only by every thread:
 *   tables/physiology.tsv         LOINC code, UCUM unit, hard min and max
 *   tables/condition_sex_age.tsv  SNOMED CT code, sex, age range
 * The rules that are logic (dates in order, references that resolve,
 * treatments after what they treat, notes against the record) are here.
 * Dates are compared by calendar day where the record only fixes a day
 * (an event inside its encounter's days, a medication on or after the onset
 * of its reason), by instant otherwise.
 */
#include "validators/fg_plausibility.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fhir/base/fg_tsv.h"
#include "validators/plausibility_private.h"

void fg_plausibility_free(fg_plausibility_rules *r)
{
    if (!r)
        return;
    fg_tsv_free(r->phys_tab);
    fg_tsv_free(r->sex_tab);
    free(r->phys);
    free(r->sexage);
    free(r);
}

static int load_physiology(fg_plausibility_rules *r, const char *path, fg_error *err)
{
    size_t cc, cu, cmin, cmax;
    int rc = fg_tsv_load(path, &r->phys_tab, err);
    if (rc != FG_OK)
        return rc;
    fg_tsv *t = r->phys_tab;
    if ((rc = fg_tsv_col(t, "code", &cc, err)) || (rc = fg_tsv_col(t, "unit", &cu, err)) ||
        (rc = fg_tsv_col(t, "min", &cmin, err)) || (rc = fg_tsv_col(t, "max", &cmax, err)))
        return rc;
    r->n_phys = fg_tsv_rows(t);
    r->phys = calloc(r->n_phys ? r->n_phys : 1, sizeof(*r->phys));
    if (!r->phys)
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    for (size_t i = 0; i < r->n_phys; i++) {
        pl_range *x = &r->phys[i];
        x->code = fg_tsv_cell(t, i, cc);
        x->unit = fg_tsv_cell(t, i, cu);
        if ((rc = fg_tsv_double(t, i, cmin, &x->min, err)) ||
            (rc = fg_tsv_double(t, i, cmax, &x->max, err)))
            return rc;
        if (!*x->code || !*x->unit || x->min > x->max)
            return fg_tsv_row_error(t, i, err, FG_EINVALID,
                                    "a row needs a code, a unit and min <= max");
    }
    return FG_OK;
}

static int load_sex_age(fg_plausibility_rules *r, const char *path, fg_error *err)
{
    size_t cs, cc, cx, ca, cb;
    int rc = fg_tsv_load(path, &r->sex_tab, err);
    if (rc != FG_OK)
        return rc;
    fg_tsv *t = r->sex_tab;
    if ((rc = fg_tsv_col(t, "system_uri", &cs, err)) || (rc = fg_tsv_col(t, "code", &cc, err)) ||
        (rc = fg_tsv_col(t, "sex", &cx, err)) || (rc = fg_tsv_col(t, "age_min", &ca, err)) ||
        (rc = fg_tsv_col(t, "age_max", &cb, err)))
        return rc;
    r->n_sexage = fg_tsv_rows(t);
    r->sexage = calloc(r->n_sexage ? r->n_sexage : 1, sizeof(*r->sexage));
    if (!r->sexage)
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    for (size_t i = 0; i < r->n_sexage; i++) {
        pl_sexage *x = &r->sexage[i];
        double a, b;
        const char *sex = fg_tsv_cell(t, i, cx);
        x->system = fg_tsv_cell(t, i, cs);
        x->code = fg_tsv_cell(t, i, cc);
        if ((rc = fg_tsv_double(t, i, ca, &a, err)) || (rc = fg_tsv_double(t, i, cb, &b, err)))
            return rc;
        x->age_min = (int)a;
        x->age_max = (int)b;
        if (strcmp(sex, "female") == 0)
            x->sex = FG_SEX_FEMALE;
        else if (strcmp(sex, "male") == 0)
            x->sex = FG_SEX_MALE;
        else if (strcmp(sex, "any") == 0)
            x->sex = -1;
        else
            return fg_tsv_row_error(t, i, err, FG_EINVALID,
                                    "sex \"%s\" is not one of female, male, any", sex);
        if (!*x->system || !*x->code || a < 0 || a > b)
            return fg_tsv_row_error(t, i, err, FG_EINVALID,
                                    "a row needs a system, a code and 0 <= age_min <= age_max");
    }
    return FG_OK;
}

int fg_plausibility_load(const char *datadir, fg_plausibility_rules **out, fg_error *err)
{
    char path[4096];
    int rc;
    fg_plausibility_rules *r = calloc(1, sizeof(*r));
    if (!r)
        return fg_error_set(err, FG_ENOMEM, "plausibility rules", "out of memory");
    if ((size_t)snprintf(path, sizeof(path), "%s/tables/physiology.tsv", datadir) >=
        sizeof(path)) {
        rc = fg_error_set(err, FG_ELIMIT, datadir, "path too long");
        goto cleanup;
    }
    if ((rc = load_physiology(r, path, err)) != FG_OK)
        goto cleanup;
    snprintf(path, sizeof(path), "%s/tables/condition_sex_age.tsv", datadir);
    if ((rc = load_sex_age(r, path, err)) != FG_OK)
        goto cleanup;
    *out = r;
    r = NULL;
cleanup:
    fg_plausibility_free(r);
    return rc;
}

void fg_plausibility_facts_of(const fg_history *h, fg_plausibility_facts *out)
{
    out->sex = h->patient.sex;
    out->birth = h->patient.birth_date;
    out->death = h->patient.death;
    out->history_start = FG_TIME_NONE;
    out->history_end = FG_TIME_NONE;
}

const pl_range *pl_physiology(const fg_plausibility_rules *r, const char *code)
{
    for (size_t i = 0; i < r->n_phys; i++)
        if (strcmp(r->phys[i].code, code) == 0)
            return &r->phys[i];
    return NULL;
}

const pl_sexage *pl_sex_age(const fg_plausibility_rules *r, const char *system, const char *code)
{
    for (size_t i = 0; i < r->n_sexage; i++)
        if (strcmp(r->sexage[i].code, code) == 0 && strcmp(r->sexage[i].system, system) == 0)
            return &r->sexage[i];
    return NULL;
}

int64_t pl_day(fg_time t)
{
    return t / FG_DAY - (t % FG_DAY < 0); /* floor, defined for every t */
}

void pl_add(pl_ctx *c, const char *list, size_t index, const char *member, const char *fmt,
             ...)
{
    char path[256], msg[FG_MAX_FINDING_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (list)
        snprintf(path, sizeof(path), "%s[%zu]%s%s", list, index, *member ? "." : "", member);
    else
        snprintf(path, sizeof(path), "%s", member);
    if (fg_findings_add(c->out, FG_FIND_INCOHERENT, list, index, path, "%s", msg) != FG_OK)
        c->rc = FG_ENOMEM;
}

/* An instant's date for messages (a buffer per slot: three per message). */
const char *pl_date(pl_ctx *c, int slot, fg_time t)
{
    char *out = c->dates[slot < 0 || slot > 2 ? 0 : slot];
    fg_format_date(t, out);
    return out;
}

/* Physiological bounds of observation i and its components, and a blood
 * pressure whose diastolic is not below its systolic. */
static void check_values(pl_ctx *c, const fg_history *h)
{
    char member[64];
    for (size_t i = 0; i < h->observations.n; i++) {
        const fg_observation *o = &h->observations.v[i];
        const pl_range *x;
        if (o->kind == FG_VALUE_QUANTITY && o->term.code && o->unit &&
            (x = pl_physiology(c->r, o->term.code)) && strcmp(o->unit, x->unit) == 0 &&
            (o->value < x->min || o->value > x->max))
            pl_add(c, "observations", i, "value",
                    "%g %s is outside what a living person can have for \"%s\" (%g to %g %s)",
                    o->value, o->unit, o->term.display ? o->term.display : o->term.code, x->min,
                    x->max, x->unit);
        double sys = 0, dia = 0;
        int has_sys = 0, has_dia = 0;
        for (size_t j = 0; j < o->n_components; j++) {
            const fg_component *k = &o->components[j];
            if (!k->term.code)
                continue;
            if (k->unit && (x = pl_physiology(c->r, k->term.code)) &&
                strcmp(k->unit, x->unit) == 0 && (k->value < x->min || k->value > x->max)) {
                snprintf(member, sizeof(member), "components[%zu].value", j);
                pl_add(c, "observations", i, member,
                        "%g %s is outside what a living person can have for \"%s\" (%g to %g "
                        "%s)",
                        k->value, k->unit, k->term.display ? k->term.display : k->term.code,
                        x->min, x->max, x->unit);
            }
            if (strcmp(k->term.code, PL_LOINC_SYSTOLIC) == 0)
                sys = k->value, has_sys = 1;
            if (strcmp(k->term.code, PL_LOINC_DIASTOLIC) == 0)
                dia = k->value, has_dia = 1;
        }
        if (has_sys && has_dia && dia >= sys)
            pl_add(c, "observations", i, "components",
                    "diastolic pressure %g is not below systolic %g", dia, sys);
    }
}

/* One coded item against the sex and age table. `used` words the sex
 * finding ("possible", "measured"); `at` (the member holding the item's
 * time) and `verb` word the age finding, made when `when` and the birth are
 * known (at NULL: none). */
static void check_coded(pl_ctx *c, const char *list, size_t i, const fg_term *t, fg_time when,
                        const char *used, const char *at, const char *verb)
{
    const pl_sexage *s;
    if (!t->code || !t->system || !(s = pl_sex_age(c->r, t->system, t->code)))
        return;
    const char *name = t->display ? t->display : t->code;
    if (s->sex >= 0 && (int)c->f.sex != s->sex) {
        pl_add(c, list, i, "term", "\"%s\" is only %s in a %s patient; this patient is %s",
               name, used, s->sex == FG_SEX_MALE ? "male" : "female",
               c->f.sex == FG_SEX_MALE ? "male" : "female");
        return;
    }
    if (!at || when == FG_TIME_NONE || c->f.birth == FG_TIME_NONE)
        return;
    int age = fg_age_at(c->f.birth, when);
    if (age >= 0 && (age < s->age_min || age > s->age_max))
        pl_add(c, list, i, at, "\"%s\" at age %d: %s between ages %d and %d", name, age, verb,
               s->age_min, s->age_max);
}

/* Conditions, procedures and observations against the sex and age table. */
static void check_sex_age(pl_ctx *c, const fg_history *h)
{
    for (size_t i = 0; i < h->conditions.n; i++) {
        const fg_condition *x = &h->conditions.v[i];
        check_coded(c, "conditions", i, &x->term, x->onset, "possible", "onset", "it occurs");
    }
    for (size_t i = 0; i < h->procedures.n; i++) {
        const fg_procedure *x = &h->procedures.v[i];
        check_coded(c, "procedures", i, &x->term, x->start, "possible", "start", "it is done");
    }
    for (size_t i = 0; i < h->observations.n; i++) {
        const fg_observation *x = &h->observations.v[i];
        check_coded(c, "observations", i, &x->term, FG_TIME_NONE, "measured", NULL, NULL);
    }
}

int fg_plausibility_check(const fg_plausibility_rules *r, const fg_history *h,
                       const fg_plausibility_facts *facts, fg_findings *out, fg_error *err)
{
    if (!r || !h || !out)
        return fg_error_set(err, FG_EUSAGE, "plausibility", "rules, a history and a finding list "
                                                         "are required");
    pl_ctx c;
    memset(&c, 0, sizeof(c));
    c.r = r;
    c.out = out;
    c.rc = FG_OK;
    if (facts)
        c.f = *facts;
    else
        fg_plausibility_facts_of(h, &c.f);
    pl_check_dates(&c, h);
    pl_check_links(&c, h);
    check_values(&c, h);
    check_sex_age(&c, h);
    pl_check_notes(&c, h);
    if (c.rc != FG_OK)
        return fg_error_set(err, c.rc, "plausibility", "out of memory");
    return FG_OK;
}
