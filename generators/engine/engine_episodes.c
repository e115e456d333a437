/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_episodes.c: acute episodes, allergies and pregnancies.
 *
 * Three data files under data/episodes/ describe what this pass can write:
 * acute.json (infections and injuries with their yearly incidence by age
 * band and sex, the visit setting, diagnosis, procedures, labs and short
 * medication courses), allergies.json (substances with a prevalence, an
 * onset age range, reactions and criticality) and pregnancy.json (rates by
 * age, the prenatal visit schedule, delivery, the postpartum visit). They are
 * read once by eng_episodes_load into the tables below; every string is
 * copied into the loader's arena, so the tables outlive the JSON documents
 * and histories borrow their terms without copying.
 *
 * Generation draws from streams forked from the patient's root stream
 * ("allergies", "episodes", "pregnancy"), so adding draws here never shifts
 * what another pass sees. Allergies come first: a medication course avoids a
 * drug class the patient is allergic to at the time it is prescribed.
 * Nothing is written after g->stop or before birth.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "generators/engine/engine_private.h"
#include "generators/engine/episodes_private.h"

/* ---- loading ---------------------------------------------------------- */

/* Load context: the file being read, the arena the tables live in, the
 * terminology that must list every code. */
typedef struct ld {
    const char *file; /* relative to the data folder, for messages */
    fg_arena *arena;
    const fg_terminology *terms;
    fg_error *err;
} ld;

/* Format a path or location into a buffer of FG_ERROR_WHERE_MAX bytes,
 * truncating silently: it only ever feeds an error message. */
static void pf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, FG_ERROR_WHERE_MAX, fmt, ap);
    va_end(ap);
}

static int ld_fail(ld *c, const char *path, const char *msg)
{
    char where[FG_ERROR_WHERE_MAX];
    pf(where, "%s: %s", c->file, path);
    return fg_error_set(c->err, FG_EINVALID, where, "%s", msg);
}

static json_t *ld_member(json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static int ld_str(ld *c, json_t *o, const char *key, const char *path, const char **out)
{
    json_t *v = ld_member(o, key);
    char p[FG_ERROR_WHERE_MAX];
    pf(p, "%s.%s", path, key);
    if (!json_is_string(v))
        return ld_fail(c, p, "expected a string");
    *out = fg_arena_strdup(c->arena, json_string_value(v));
    return *out ? FG_OK : fg_error_set(c->err, FG_ENOMEM, c->file, "out of memory");
}

/* A number member; `def` when absent and def is not NAN. */
static int ld_num(ld *c, json_t *o, const char *key, const char *path, double def, double *out)
{
    json_t *v = ld_member(o, key);
    char p[FG_ERROR_WHERE_MAX];
    pf(p, "%s.%s", path, key);
    if (!v && !isnan(def)) {
        *out = def;
        return FG_OK;
    }
    if (!json_is_number(v))
        return ld_fail(c, p, "expected a number");
    *out = json_number_value(v);
    return FG_OK;
}

static int ld_prob(ld *c, json_t *o, const char *key, const char *path, double def, double *out)
{
    int rc = ld_num(c, o, key, path, def, out);
    if (rc == FG_OK && (*out < 0 || *out > 1)) {
        char p[FG_ERROR_WHERE_MAX];
        pf(p, "%s.%s", path, key);
        return ld_fail(c, p, "expected a probability between 0 and 1");
    }
    return rc;
}

/* A [lo, hi] pair of numbers with lo <= hi. */
static int ld_range(ld *c, json_t *o, const char *key, const char *path, double *lo, double *hi)
{
    json_t *v = ld_member(o, key);
    char p[FG_ERROR_WHERE_MAX];
    pf(p, "%s.%s", path, key);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_number(json_array_get(v, 0)) ||
        !json_is_number(json_array_get(v, 1)))
        return ld_fail(c, p, "expected [low, high]");
    *lo = json_number_value(json_array_get(v, 0));
    *hi = json_number_value(json_array_get(v, 1));
    if (*lo > *hi || *lo < 0)
        return ld_fail(c, p, "expected 0 <= low <= high");
    return FG_OK;
}

/* A term object {"system", "code", "display"}, checked against the
 * terminology tables when they are loaded. */
static int ld_term_value(ld *c, json_t *v, const char *p, fg_term *out)
{
    json_t *s = ld_member(v, "system"), *k = ld_member(v, "code"), *d = ld_member(v, "display");
    if (!json_is_string(s) || !json_is_string(k) || !json_is_string(d))
        return ld_fail(c, p, "expected a term {\"system\", \"code\", \"display\"}");
    if (c->terms &&
        !fg_terminology_find(c->terms, json_string_value(s), json_string_value(k))) {
        char where[FG_ERROR_WHERE_MAX];
        pf(where, "%s: %s", c->file, p);
        return fg_error_set(c->err, FG_ENOTFOUND, where,
                            "%s|%s is not in the terminology tables (add it to "
                            "data/terminology/episodes.tsv with its source)",
                            json_string_value(s), json_string_value(k));
    }
    out->system = fg_arena_strdup(c->arena, json_string_value(s));
    out->code = fg_arena_strdup(c->arena, json_string_value(k));
    out->display = fg_arena_strdup(c->arena, json_string_value(d));
    if (!out->system || !out->code || !out->display)
        return fg_error_set(c->err, FG_ENOMEM, c->file, "out of memory");
    return FG_OK;
}

static int ld_term(ld *c, json_t *o, const char *key, const char *path, fg_term *out)
{
    char p[FG_ERROR_WHERE_MAX];
    pf(p, "%s.%s", path, key);
    return ld_term_value(c, ld_member(o, key), p, out);
}

/* An array member (absent is an empty array when `optional`). */
static int ld_array(ld *c, json_t *o, const char *key, const char *path, int optional,
                    json_t **out, size_t *n)
{
    json_t *v = ld_member(o, key);
    char p[FG_ERROR_WHERE_MAX];
    pf(p, "%s.%s", path, key);
    if (!v && optional) {
        *out = NULL;
        *n = 0;
        return FG_OK;
    }
    if (!json_is_array(v))
        return ld_fail(c, p, "expected an array");
    *out = v;
    *n = json_array_size(v);
    return FG_OK;
}

static void *ld_alloc(ld *c, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    return fg_arena_calloc(c->arena, n * size);
}

#define LD_ALLOC(c, ptr, n)                                                                    \
    do {                                                                                       \
        (ptr) = ld_alloc((c), (n), sizeof(*(ptr)));                                            \
        if ((n) && !(ptr))                                                                     \
            return fg_error_set((c)->err, FG_ENOMEM, (c)->file, "out of memory");              \
    } while (0)

static int ld_bands(ld *c, json_t *o, const char *key, const char *path, const char *value_key,
                    ep_band **out, size_t *n_out)
{
    json_t *arr;
    size_t n;
    int rc = ld_array(c, o, key, path, 0, &arr, &n);
    if (rc)
        return rc;
    ep_band *b;
    LD_ALLOC(c, b, n);
    for (size_t i = 0; i < n; i++) {
        char p[FG_ERROR_WHERE_MAX];
        pf(p, "%s.%s[%zu]", path, key, i);
        json_t *it = json_array_get(arr, i);
        double lo, hi;
        const char *sex = "any";
        json_t *s = ld_member(it, "sex");
        if (s && !json_is_string(s))
            return ld_fail(c, p, "sex must be \"F\", \"M\" or \"any\"");
        if (s)
            sex = json_string_value(s);
        if (strcmp(sex, "F") && strcmp(sex, "M") && strcmp(sex, "any"))
            return ld_fail(c, p, "sex must be \"F\", \"M\" or \"any\"");
        b[i].sex = sex[0] == 'F' ? FG_SEX_FEMALE : sex[0] == 'M' ? FG_SEX_MALE : -1;
        if ((rc = ld_range(c, it, "age", p, &lo, &hi)) ||
            (rc = ld_num(c, it, value_key, p, NAN, &b[i].value)))
            return rc;
        if (b[i].value < 0)
            return ld_fail(c, p, "a rate cannot be negative");
        b[i].age_lo = (int)lo;
        b[i].age_hi = (int)hi;
    }
    *out = b;
    *n_out = n;
    return FG_OK;
}

/* The optional array `key` of o, and room in the arena for its n elements
 * of `size` bytes each (*v is NULL when there are none). */
static int ld_list(ld *c, json_t *o, const char *key, const char *path, size_t size,
                   json_t **arr, size_t *n, void **v)
{
    int rc = ld_array(c, o, key, path, 1, arr, n);
    if (rc)
        return rc;
    *v = ld_alloc(c, *n, size);
    if (*n && !*v)
        return fg_error_set(c->err, FG_ENOMEM, c->file, "out of memory");
    return FG_OK;
}

/* Item i of the list `key` of `path`: its path in p (FG_ERROR_WHERE_MAX
 * bytes), the item, and its probability "p" (1 when absent). */
static int ld_list_item(ld *c, json_t *arr, const char *key, const char *path, size_t i, char *p,
                        json_t **it, double *prob)
{
    pf(p, "%s.%s[%zu]", path, key, i);
    *it = json_array_get(arr, i);
    return ld_prob(c, *it, "p", p, 1.0, prob);
}

static int ld_procs(ld *c, json_t *o, const char *key, const char *path, ep_proc **out,
                    size_t *n_out)
{
    json_t *arr;
    size_t n;
    void *mem;
    int rc = ld_list(c, o, key, path, sizeof(ep_proc), &arr, &n, &mem);
    if (rc)
        return rc;
    ep_proc *v = mem;
    for (size_t i = 0; i < n; i++) {
        char p[FG_ERROR_WHERE_MAX];
        pf(p, "%s.%s[%zu]", path, key, i);
        json_t *it = json_array_get(arr, i);
        if (ld_member(it, "term")) {
            if ((rc = ld_prob(c, it, "p", p, 1.0, &v[i].p)) ||
                (rc = ld_term(c, it, "term", p, &v[i].term)))
                return rc;
        } else {
            v[i].p = 1.0;
            if ((rc = ld_term_value(c, it, p, &v[i].term)))
                return rc;
        }
    }
    *out = v;
    *n_out = n;
    return FG_OK;
}

static int ep_load_result(ld *c, json_t *it, const char *p, ep_result *r)
{
    int rc = ld_term(c, it, "term", p, &r->term);
    if (rc)
        return rc;
    json_t *vals = ld_member(it, "values");
    if (vals) {
        size_t n;
        if ((rc = ld_array(c, it, "values", p, 0, &vals, &n)))
            return rc;
        LD_ALLOC(c, r->values, n);
        LD_ALLOC(c, r->cum, n);
        double sum = 0;
        for (size_t k = 0; k < n; k++) {
            char q[FG_ERROR_WHERE_MAX];
            pf(q, "%s.values[%zu]", p, k);
            json_t *vk = json_array_get(vals, k);
            double w;
            if ((rc = ld_num(c, vk, "w", q, NAN, &w)) ||
                (rc = ld_term(c, vk, "value", q, &r->values[k])))
                return rc;
            sum += w;
            r->cum[k] = sum;
        }
        if (n == 0 || sum <= 0)
            return ld_fail(c, p, "values need a positive total weight");
        r->n_values = n;
        return FG_OK;
    }
    double dec;
    if ((rc = ld_str(c, it, "unit", p, &r->unit)) ||
        (rc = ld_num(c, it, "mean", p, NAN, &r->mean)) ||
        (rc = ld_num(c, it, "sd", p, 0, &r->sd)) ||
        (rc = ld_num(c, it, "min", p, -INFINITY, &r->min)) ||
        (rc = ld_num(c, it, "max", p, INFINITY, &r->max)) ||
        (rc = ld_num(c, it, "decimals", p, 1, &dec)))
        return rc;
    r->decimals = (int)dec;
    return FG_OK;
}

static int ld_labs(ld *c, json_t *o, const char *path, ep_lab **out, size_t *n_out)
{
    json_t *arr;
    size_t n;
    void *mem;
    int rc = ld_list(c, o, "labs", path, sizeof(ep_lab), &arr, &n, &mem);
    if (rc)
        return rc;
    ep_lab *v = mem;
    for (size_t i = 0; i < n; i++) {
        char p[FG_ERROR_WHERE_MAX];
        json_t *it, *res;
        size_t nr;
        if ((rc = ld_list_item(c, arr, "labs", path, i, p, &it, &v[i].p)))
            return rc;
        if (ld_member(it, "panel")) {
            if ((rc = ld_term(c, it, "panel", p, &v[i].panel)))
                return rc;
            v[i].has_panel = 1;
        }
        if ((rc = ld_array(c, it, "results", p, 0, &res, &nr)))
            return rc;
        LD_ALLOC(c, v[i].results, nr);
        v[i].n_results = nr;
        for (size_t k = 0; k < nr; k++) {
            char q[FG_ERROR_WHERE_MAX];
            pf(q, "%s.results[%zu]", p, k);
            if ((rc = ep_load_result(c, json_array_get(res, k), q, &v[i].results[k])))
                return rc;
        }
    }
    *out = v;
    *n_out = n;
    return FG_OK;
}

static int ld_meds(ld *c, json_t *o, const char *path, ep_med **out, size_t *n_out)
{
    json_t *arr;
    size_t n;
    void *mem;
    int rc = ld_list(c, o, "medications", path, sizeof(ep_med), &arr, &n, &mem);
    if (rc)
        return rc;
    ep_med *v = mem;
    for (size_t i = 0; i < n; i++) {
        char p[FG_ERROR_WHERE_MAX];
        json_t *it, *opts;
        size_t no;
        if ((rc = ld_list_item(c, arr, "medications", path, i, p, &it, &v[i].p)) ||
            (rc = ld_array(c, it, "options", p, 0, &opts, &no)))
            return rc;
        LD_ALLOC(c, v[i].opts, no);
        v[i].n_opts = no;
        for (size_t k = 0; k < no; k++) {
            char q[FG_ERROR_WHERE_MAX];
            pf(q, "%s.options[%zu]", p, k);
            json_t *ok = json_array_get(opts, k), *av = ld_member(ok, "avoid");
            ep_med_opt *m = &v[i].opts[k];
            double lo, hi, per_day = 0, min_age = 0;
            if ((rc = ld_num(c, ok, "w", q, NAN, &m->w)) ||
                (rc = ld_term(c, ok, "term", q, &m->term)) ||
                (rc = ld_range(c, ok, "days", q, &lo, &hi)) ||
                (rc = ld_str(c, ok, "dosage", q, &m->dosage)) ||
                (rc = ld_num(c, ok, "per_day", q, 0, &per_day)) ||
                (rc = ld_num(c, ok, "min_age", q, 0, &min_age)))
                return rc;
            if (av && !json_is_string(av))
                return ld_fail(c, q, "avoid must name an allergy tag");
            m->avoid = av ? fg_arena_strdup(c->arena, json_string_value(av)) : NULL;
            m->fallback = json_is_true(ld_member(ok, "fallback"));
            m->as_needed = json_is_true(ld_member(ok, "as_needed"));
            m->days_lo = (int)lo;
            m->days_hi = (int)hi;
            m->per_day = (int)per_day;
            m->min_age = (int)min_age;
        }
    }
    *out = v;
    *n_out = n;
    return FG_OK;
}

static int ld_setting(ld *c, json_t *o, const char *key, ep_setting *s)
{
    json_t *it = ld_member(o, key);
    char p[FG_ERROR_WHERE_MAX];
    pf(p, "settings.%s", key);
    const char *cls;
    double lo, hi;
    int rc;
    if (!it)
        return ld_fail(c, p, "missing");
    if ((rc = ld_str(c, it, "class", p, &cls)) || (rc = ld_term(c, it, "type", p, &s->type)) ||
        (rc = ld_range(c, it, "minutes", p, &lo, &hi)))
        return rc;
    if (strcmp(cls, "AMB") == 0)
        s->cls = FG_CLASS_AMB;
    else if (strcmp(cls, "EMER") == 0)
        s->cls = FG_CLASS_EMER;
    else
        return ld_fail(c, p, "class must be \"AMB\" or \"EMER\"");
    s->min_lo = (int)lo;
    s->min_hi = (int)hi;
    return FG_OK;
}

static int ld_episode(ld *c, json_t *it, const char *p, ep_episode *ep)
{
    json_t *set = ld_member(it, "settings"), *fu = ld_member(it, "followup");
    double lo, hi;
    int rc;
    if ((rc = ld_str(c, it, "name", p, &ep->name)) ||
        (rc = ld_bands(c, it, "incidence", p, "per_year", &ep->bands, &ep->n_bands)) ||
        (rc = ld_term(c, it, "diagnosis", p, &ep->diagnosis)) ||
        (rc = ld_range(c, it, "lasts_days", p, &lo, &hi)) ||
        (rc = ld_prob(c, it, "fever", p, 0, &ep->fever)) ||
        (rc = ld_procs(c, it, "procedures", p, &ep->procs, &ep->n_procs)) ||
        (rc = ld_labs(c, it, p, &ep->labs, &ep->n_labs)) ||
        (rc = ld_meds(c, it, p, &ep->meds, &ep->n_meds)))
        return rc;
    ep->lasts_lo = (int)lo;
    ep->lasts_hi = (int)hi;
    char q[FG_ERROR_WHERE_MAX];
    pf(q, "%s.settings", p);
    if ((rc = ld_prob(c, set, "urgent", q, NAN, &ep->p_urgent)))
        return rc;
    if (fu) {
        pf(q, "%s.followup", p);
        if ((rc = ld_prob(c, fu, "p", q, 1.0, &ep->followup_p)) ||
            (rc = ld_range(c, fu, "after_days", q, &lo, &hi)) ||
            (rc = ld_procs(c, fu, "procedures", q, &ep->followup_procs, &ep->n_followup_procs)))
            return rc;
        ep->followup_lo = (int)lo;
        ep->followup_hi = (int)hi;
    }
    return FG_OK;
}

static int ld_acute(ld *c, json_t *root, struct eng_episodes *x)
{
    json_t *set = ld_member(root, "settings"), *arr;
    size_t n;
    int rc;
    if (!json_is_object(set))
        return ld_fail(c, "settings", "expected an object");
    if ((rc = ld_setting(c, set, "urgent", &x->urgent)) ||
        (rc = ld_setting(c, set, "emergency", &x->emergency)) ||
        (rc = ld_setting(c, set, "followup", &x->followup)) ||
        (rc = ld_array(c, root, "episodes", "", 0, &arr, &n)))
        return rc;
    LD_ALLOC(c, x->episodes, n);
    x->n_episodes = n;
    for (size_t i = 0; i < n; i++) {
        char p[FG_ERROR_WHERE_MAX];
        pf(p, "episodes[%zu]", i);
        if ((rc = ld_episode(c, json_array_get(arr, i), p, &x->episodes[i])))
            return rc;
    }
    return FG_OK;
}

static int ld_allergy(ld *c, json_t *it, json_t *reactions, const char *p, ep_allergy *a)
{
    const char *cat;
    double lo, hi;
    int rc;
    json_t *tag = ld_member(it, "tag"), *rx = ld_member(it, "reactions"),
           *sev = ld_member(it, "severity");
    if ((rc = ld_str(c, it, "name", p, &a->name)) || (rc = ld_str(c, it, "category", p, &cat)) ||
        (rc = ld_prob(c, it, "prevalence", p, NAN, &a->prevalence)) ||
        (rc = ld_range(c, it, "onset_age", p, &lo, &hi)) ||
        (rc = ld_prob(c, it, "high_criticality", p, 0, &a->high_criticality)) ||
        (rc = ld_term(c, it, "substance", p, &a->substance)))
        return rc;
    if (strcmp(cat, "food") == 0)
        a->category = FG_ALLERGY_FOOD;
    else if (strcmp(cat, "medication") == 0)
        a->category = FG_ALLERGY_MEDICATION;
    else if (strcmp(cat, "environment") == 0)
        a->category = FG_ALLERGY_ENVIRONMENT;
    else
        return ld_fail(c, p, "category must be food, medication or environment");
    a->onset_lo = lo;
    a->onset_hi = hi;
    a->tag = json_is_string(tag) ? fg_arena_strdup(c->arena, json_string_value(tag)) : NULL;
    if (!json_is_object(rx) || json_object_size(rx) == 0)
        return ld_fail(c, p, "reactions must map reaction names to weights");
    size_t n = json_object_size(rx), k = 0;
    LD_ALLOC(c, a->reactions, n);
    LD_ALLOC(c, a->reaction_cum, n);
    const char *name;
    json_t *w;
    double sum = 0;
    json_object_foreach(rx, name, w) {
        char q[FG_ERROR_WHERE_MAX];
        pf(q, "%s.reactions.%s", p, name);
        json_t *term = ld_member(reactions, name);
        if (!term)
            return ld_fail(c, q, "no such reaction in the top-level \"reactions\"");
        if (!json_is_number(w) || json_number_value(w) < 0)
            return ld_fail(c, q, "expected a weight");
        pf(q, "reactions.%s", name);
        if ((rc = ld_term_value(c, term, q, &a->reactions[k])))
            return rc;
        sum += json_number_value(w);
        a->reaction_cum[k++] = sum;
    }
    if (sum <= 0)
        return ld_fail(c, p, "reaction weights must have a positive total");
    a->n_reactions = n;
    if (!json_is_array(sev) || json_array_size(sev) != 3)
        return ld_fail(c, p, "severity must be [mild, moderate, severe] weights");
    sum = 0;
    for (size_t i = 0; i < 3; i++) {
        sum += json_number_value(json_array_get(sev, i));
        a->severity_cum[i] = sum;
    }
    if (sum <= 0)
        return ld_fail(c, p, "severity weights must have a positive total");
    return FG_OK;
}

static int ld_allergies(ld *c, json_t *root, struct eng_episodes *x)
{
    json_t *arr, *reactions = ld_member(root, "reactions");
    size_t n;
    int rc;
    if (!json_is_object(reactions))
        return ld_fail(c, "reactions", "expected an object of named reaction terms");
    if ((rc = ld_term(c, root, "record_encounter", "", &x->allergy_encounter)) ||
        (rc = ld_array(c, root, "allergies", "", 0, &arr, &n)))
        return rc;
    LD_ALLOC(c, x->allergies, n);
    x->n_allergies = n;
    for (size_t i = 0; i < n; i++) {
        char p[FG_ERROR_WHERE_MAX];
        pf(p, "allergies[%zu]", i);
        if ((rc = ld_allergy(c, json_array_get(arr, i), reactions, p, &x->allergies[i])))
            return rc;
    }
    return FG_OK;
}

static int ld_pregnancy(ld *c, json_t *root, ep_pregnancy *pg)
{
    json_t *st = ld_member(root, "status"), *dl = ld_member(root, "delivery"),
           *pp = ld_member(root, "postpartum"), *arr;
    size_t n;
    double lo, hi;
    int rc;
    if ((rc = ld_bands(c, root, "rates", "", "per_year", &pg->rates, &pg->n_rates)) ||
        (rc = ld_bands(c, root, "miscarriage", "", "p", &pg->miscarriage, &pg->n_miscarriage)) ||
        (rc = ld_term(c, root, "condition", "", &pg->condition)) ||
        (rc = ld_term(c, root, "miscarriage_condition", "", &pg->miscarriage_condition)) ||
        (rc = ld_term(c, st, "term", "status", &pg->status)) ||
        (rc = ld_term(c, st, "value", "status", &pg->status_value)) ||
        (rc = ld_range(c, root, "first_visit_week", "", &lo, &hi)) ||
        (rc = ld_term(c, root, "visit_type", "", &pg->visit_type)) ||
        (rc = ep_load_result(c, ld_member(root, "hemoglobin"), "hemoglobin", &pg->hemoglobin)) ||
        (rc = ld_array(c, root, "visits", "", 0, &arr, &n)))
        return rc;
    pg->first_lo = (int)lo;
    pg->first_hi = (int)hi;
    LD_ALLOC(c, pg->visits, n);
    pg->n_visits = n;
    for (size_t i = 0; i < n; i++) {
        char p[FG_ERROR_WHERE_MAX];
        pf(p, "visits[%zu]", i);
        json_t *it = json_array_get(arr, i);
        ep_visit *v = &pg->visits[i];
        double week;
        if ((rc = ld_num(c, it, "week", p, NAN, &week)) ||
            (rc = ld_procs(c, it, "procedures", p, &v->procs, &v->n_procs)))
            return rc;
        v->week = (int)week;
        if (ld_member(it, "type")) {
            if ((rc = ld_term(c, it, "type", p, &v->type)))
                return rc;
        } else {
            v->type = pg->visit_type;
        }
        v->hemoglobin = json_is_true(ld_member(it, "hemoglobin"));
        v->status = json_is_true(ld_member(it, "status"));
        if (i > 0 && v->week <= pg->visits[i - 1].week)
            return ld_fail(c, p, "visits must be in increasing week order");
    }
    if (n == 0 || pg->visits[0].week != 0)
        return ld_fail(c, "visits", "the first visit must be week 0 (the first prenatal visit)");
    if (!dl || !pp)
        return ld_fail(c, "delivery", "delivery and postpartum are required");
    if ((rc = ld_num(c, dl, "week_mean", "delivery", NAN, &pg->week_mean)) ||
        (rc = ld_num(c, dl, "week_sd", "delivery", NAN, &pg->week_sd)) ||
        (rc = ld_num(c, dl, "week_min", "delivery", NAN, &pg->week_min)) ||
        (rc = ld_num(c, dl, "week_max", "delivery", NAN, &pg->week_max)) ||
        (rc = ld_term(c, dl, "type", "delivery", &pg->delivery_type)) ||
        (rc = ld_procs(c, dl, "extras", "delivery", &pg->extras, &pg->n_extras)) ||
        (rc = ld_array(c, dl, "options", "delivery", 0, &arr, &n)))
        return rc;
    LD_ALLOC(c, pg->deliveries, n);
    pg->n_deliveries = n;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        char p[FG_ERROR_WHERE_MAX];
        pf(p, "delivery.options[%zu]", i);
        json_t *it = json_array_get(arr, i);
        double w;
        if ((rc = ld_num(c, it, "w", p, NAN, &w)) ||
            (rc = ld_range(c, it, "days", p, &lo, &hi)) ||
            (rc = ld_term(c, it, "term", p, &pg->deliveries[i].term)))
            return rc;
        json_t *skip = ld_member(it, "skip_extra");
        if (skip && !json_is_string(skip))
            return ld_fail(c, p, "skip_extra must be the code of a delivery extra");
        if (skip && !(pg->deliveries[i].skip = fg_arena_strdup(c->arena, json_string_value(skip))))
            return fg_error_set(c->err, FG_ENOMEM, c->file, "out of memory");
        sum += w;
        pg->deliveries[i].cum = sum;
        pg->deliveries[i].days_lo = (int)lo;
        pg->deliveries[i].days_hi = (int)hi;
    }
    if (sum <= 0)
        return ld_fail(c, "delivery.options", "need a positive total weight");
    if ((rc = ld_range(c, pp, "after_days", "postpartum", &lo, &hi)) ||
        (rc = ld_term(c, pp, "type", "postpartum", &pg->postpartum_type)) ||
        (rc = ld_procs(c, pp, "procedures", "postpartum", &pg->postpartum_procs,
                       &pg->n_postpartum_procs)))
        return rc;
    pg->postpartum_lo = (int)lo;
    pg->postpartum_hi = (int)hi;
    return FG_OK;
}

typedef int (*ld_fn)(ld *c, json_t *root, struct eng_episodes *x);

/* Tdap in pregnancy and gestational weight gain by pre-pregnancy BMI. */
static int ld_pregnancy_care(ld *c, json_t *root, ep_pregnancy *pg)
{
    json_t *td = ld_member(root, "tdap"), *wg = ld_member(root, "weight_gain"), *arr;
    json_t *pos = ld_member(wg, "position");
    double lo, hi;
    size_t n;
    int rc;
    if ((rc = ld_term(c, td, "vaccine", "tdap", &pg->tdap)) ||
        (rc = ld_range(c, td, "weeks", "tdap", &lo, &hi)) ||
        (rc = ld_prob(c, td, "p", "tdap", NAN, &pg->tdap_p)) ||
        (rc = ld_range(c, wg, "first_trimester_kg", "weight_gain", &pg->t1_lo, &pg->t1_hi)) ||
        (rc = ld_num(c, pos, "mean", "weight_gain.position", NAN, &pg->gain_pos_mean)) ||
        (rc = ld_num(c, pos, "sd", "weight_gain.position", NAN, &pg->gain_pos_sd)) ||
        (rc = ld_prob(c, wg, "postpartum_retained", "weight_gain", NAN, &pg->retained)) ||
        (rc = ld_array(c, wg, "bands", "weight_gain", 0, &arr, &n)))
        return rc;
    pg->tdap_lo = (int)lo;
    pg->tdap_hi = (int)hi;
    if (n == 0 || n > EP_MAX_GAIN_BANDS)
        return ld_fail(c, "weight_gain.bands", "expected 1 to 8 bands");
    for (size_t i = 0; i < n; i++) {
        char p[FG_ERROR_WHERE_MAX];
        pf(p, "weight_gain.bands[%zu]", i);
        json_t *it = json_array_get(arr, i);
        if ((rc = ld_range(c, it, "bmi", p, &pg->gain_bmi_lo[i], &pg->gain_bmi_hi[i])) ||
            (rc = ld_range(c, it, "kg", p, &pg->gain_lo[i], &pg->gain_hi[i])))
            return rc;
    }
    pg->n_gain = n;
    return FG_OK;
}

static int ld_pregnancy_file(ld *c, json_t *root, struct eng_episodes *x)
{
    int rc = ld_pregnancy(c, root, &x->pregnancy);
    return rc ? rc : ld_pregnancy_care(c, root, &x->pregnancy);
}

static int ld_file(const fg_engine *e, struct eng_episodes *x, const char *rel, ld_fn fn,
                   fg_error *err)
{
    char path[4096];
    json_t *root = NULL;
    ld c = {rel, &x->arena, e->terms, err};

    if (snprintf(path, sizeof(path), "%s/%s", e->datadir, rel) >= (int)sizeof(path))
        return fg_error_set(err, FG_ELIMIT, rel, "data folder path too long");
    int rc = eng_json_load(path, rel, FG_MAX_DATA_FILE_BYTES, &root, err);
    if (rc == FG_OK)
        rc = fn(&c, root, x);
    json_decref(root);
    return rc;
}

int eng_episodes_load(fg_engine *e, fg_error *err)
{
    struct eng_episodes *x = calloc(1, sizeof(*x));
    int rc;
    if (!x)
        return fg_error_set(err, FG_ENOMEM, "data/episodes", "out of memory");
    fg_arena_init(&x->arena);
    if ((rc = ld_file(e, x, "episodes/acute.json", ld_acute, err)) ||
        (rc = ld_file(e, x, "episodes/allergies.json", ld_allergies, err)) ||
        (rc = ld_file(e, x, "episodes/pregnancy.json", ld_pregnancy_file, err)) ||
        (rc = ep_notes_load(e, &x->notes, err))) {
        eng_episodes_free(x);
        return rc;
    }
    e->episodes = x;
    return FG_OK;
}

void eng_episodes_free(struct eng_episodes *x)
{
    if (!x)
        return;
    ep_notes_free(x->notes);
    fg_arena_free(&x->arena);
    free(x);
}
