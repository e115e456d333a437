/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c: the built-in statistical generator, from cohort specification
 * to one patient's history.
 *
 * A patient is a fixed sequence of passes over an eng_gen (see
 * engine_private.h), all drawing from streams forked from the patient's own
 * stream fg_rng_patient(seed, index): the same seed, index and
 * specification give the same history whatever thread runs it. When the
 * cohort asks for patients with given conditions, candidates are drawn
 * (attempt a > 0 forks the stream with a tag naming a) until one has them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "fhir/base/fg_data.h"
#include "generators/engine/engine_module.h"
#include "generators/engine/engine_private.h"
#include "generators/engine/fg_engine.h"

#define DEFAULT_MRN_SYSTEM "https://fhirgen.example/mrn"

void fg_cohort_spec_default_at(fg_cohort_spec *spec, fg_time now)
{
    memset(spec, 0, sizeof(*spec));
    spec->seed = 1;
    spec->age_min = 0;
    spec->age_max = FG_MAX_AGE;
    spec->sex = -1;
    spec->years_of_history = 10;
    spec->mrn_system = DEFAULT_MRN_SYSTEM;
    spec->end = now - (((now % FG_DAY) + FG_DAY) % FG_DAY);
}

void fg_cohort_spec_default(fg_cohort_spec *spec)
{
    fg_cohort_spec_default_at(spec, (fg_time)time(NULL));
}

void fg_engine_free(fg_engine *e)
{
    if (!e)
        return;
    eng_formulary_free(e->formulary);
    eng_episodes_free(e->episodes);
    eng_preventive_free(e->prev);
    eng_hospital_free(e->hospital);
    eng_modules_free(e->modules);
    eng_lifetime_free(e->life);
    eng_clinic_free(e->hours);
    eng_vaccines_free(e->vaccines);
    eng_phys_free(e->phys);
    eng_demo_free(e->demo);
    eng_vocab_free(e->vocab);
    fg_terminology_free(e->terms);
    if (e->spec.conditions)
        for (size_t i = 0; i < e->spec.n_conditions; i++)
            free((char *)e->spec.conditions[i]);
    free((void *)e->spec.conditions);
    free((char *)e->spec.state);
    free((char *)e->spec.mrn_system);
    free(e->datadir);
    free(e);
}

static int copy_spec(fg_engine *e, const fg_cohort_spec *spec, fg_error *err)
{
    e->spec = *spec;
    e->spec.state = NULL;
    e->spec.conditions = NULL;
    e->spec.n_conditions = 0;
    e->spec.mrn_system = NULL;
    if (spec->state && !(e->spec.state = strdup(spec->state)))
        return fg_error_set(err, FG_ENOMEM, "spec", "out of memory");
    if (!(e->spec.mrn_system = strdup(spec->mrn_system ? spec->mrn_system : DEFAULT_MRN_SYSTEM)))
        return fg_error_set(err, FG_ENOMEM, "spec", "out of memory");
    if (spec->n_conditions) {
        const char **c = calloc(spec->n_conditions, sizeof(*c));
        if (!c)
            return fg_error_set(err, FG_ENOMEM, "spec", "out of memory");
        e->spec.conditions = c;
        for (size_t i = 0; i < spec->n_conditions; i++) {
            if (!(c[i] = strdup(spec->conditions[i] ? spec->conditions[i] : "")))
                return fg_error_set(err, FG_ENOMEM, "spec", "out of memory");
            e->spec.n_conditions = i + 1;
        }
    }
    return FG_OK;
}

static int check_spec(const fg_cohort_spec *s, fg_error *err)
{
    if (s->age_min < 0 || s->age_max > FG_MAX_AGE || s->age_min > s->age_max)
        return fg_error_set(err, FG_EUSAGE, "age",
                            "age range %d-%d is impossible: ages must satisfy 0 <= min <= max <= %d",
                            s->age_min, s->age_max, FG_MAX_AGE);
    if (s->sex < -1 || s->sex > 1)
        return fg_error_set(err, FG_EUSAGE, "sex", "sex must be -1 (any), 0 (female) or 1 (male)");
    if (s->years_of_history < 0 || s->years_of_history > FG_MAX_YEARS_OF_HISTORY)
        return fg_error_set(err, FG_ELIMIT, "years_of_history", "years of history must be 0..%d",
                            FG_MAX_YEARS_OF_HISTORY);
    return FG_OK;
}

static int check_conditions(const fg_engine *e, fg_error *err)
{
    size_t n = eng_modules_count(e->modules);
    for (size_t i = 0; i < e->spec.n_conditions; i++) {
        const char *want = e->spec.conditions[i];
        int found = 0;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(eng_modules_name(e->modules, k), want) == 0;
        if (found)
            continue;
        char list[FG_ERROR_TEXT_MAX - 96];
        size_t len = 0;
        list[0] = 0;
        for (size_t k = 0; k < n && len + 8 < sizeof(list); k++)
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "",
                                    eng_modules_name(e->modules, k));
        return fg_error_set(err, FG_ENOTFOUND, "condition", "unknown condition '%s'; known: %s",
                            want, n ? list : "(no condition modules loaded)");
    }
    return FG_OK;
}

int fg_engine_new(const char *datadir, const fg_cohort_spec *spec, fg_engine **out, fg_error *err)
{
    fg_engine *e = NULL;
    char path[4096];
    int rc;

    if (!spec || !out)
        return fg_error_set(err, FG_EUSAGE, "engine", "spec and out are required");
    if ((rc = check_spec(spec, err)))
        return rc;
    if (!(e = calloc(1, sizeof(*e))))
        return fg_error_set(err, FG_ENOMEM, "engine", "out of memory");
    if ((rc = copy_spec(e, spec, err)))
        goto cleanup;
    if (!(e->datadir = strdup(datadir ? datadir : fg_data_dir()))) {
        rc = fg_error_set(err, FG_ENOMEM, "engine", "out of memory");
        goto cleanup;
    }
    if (snprintf(path, sizeof(path), "%s/terminology", e->datadir) >= (int)sizeof(path)) {
        rc = fg_error_set(err, FG_ELIMIT, e->datadir, "data folder path too long");
        goto cleanup;
    }
    if ((rc = fg_terminology_load(path, &e->terms, err)) || (rc = eng_vocab_load(e, err)) ||
        (rc = eng_demo_load(e, err)) || (rc = eng_lifetime_load(e, err)) ||
        (rc = eng_clinic_load(e, err)) || (rc = eng_vaccines_load(e, err)) ||
        (rc = eng_phys_load(e, err)) ||
        (rc = eng_modules_load(e, err)) || (rc = eng_episodes_load(e, err)) ||
        (rc = eng_preventive_load(e, err)) || (rc = eng_hospital_load(e, err)) ||
        (rc = eng_formulary_load(e, err)) || (rc = check_conditions(e, err)))
        goto cleanup;
    *out = e;
    e = NULL;
    rc = FG_OK;
cleanup:
    fg_engine_free(e);
    return rc;
}

size_t fg_engine_condition_count(const fg_engine *e)
{
    return e && e->modules ? eng_modules_count(e->modules) : 0;
}

const char *fg_engine_condition_name(const fg_engine *e, size_t i)
{
    return i < fg_engine_condition_count(e) ? eng_modules_name(e->modules, i) : NULL;
}

const char *eng_new_id(eng_gen *g)
{
    char *s = fg_arena_alloc(&g->h->arena, 37);
    if (!s)
        return NULL;
    if (g->e->spec.random_ids) {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, s);
    } else {
        fg_rng_uuid(&g->id_rng, s);
    }
    return s;
}

fg_encounter *eng_add_encounter(eng_gen *g, fg_time start, int minutes, fg_encounter_class cls,
                                const fg_term *type, const fg_term *reason)
{
    int hosp = cls == FG_CLASS_EMER || cls == FG_CLASS_IMP;
    if (eng_demo_add_team(g, hosp, NULL) != FG_OK)
        return NULL;
    fg_encounter *enc = FG_PUSH(g->h, encounters);
    if (!enc)
        return NULL;
    if (!(enc->id = eng_new_id(g))) {
        g->h->encounters.n--;
        return NULL;
    }
    enc->cls = cls;
    enc->type = *type;
    if (reason)
        enc->reason = *reason;
    enc->start = start;
    enc->end = start + (fg_time)(minutes > 0 ? minutes : 1) * 60;
    enc->organization = hosp ? g->hosp_org_id : g->org_id;
    enc->practitioner = hosp ? g->hosp_pract_id : g->pract_id;
    enc->location = hosp ? g->hosp_loc_id : g->loc_id;
    return enc;
}

typedef struct enc_key {
    fg_time start;
    size_t i;
} enc_key;

static int enc_key_cmp(const void *a, const void *b)
{
    const enc_key *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Sort encounters by start, keeping the order of equal starts (and ids). */
static int sort_encounters(fg_history *h, fg_error *err)
{
    size_t n = h->encounters.n;
    fg_encounter *v = h->encounters.v;
    size_t i;
    for (i = 1; i < n && v[i - 1].start <= v[i].start; i++)
        ;
    if (i >= n)
        return FG_OK;
    enc_key *k = fg_arena_alloc(&h->arena, n * sizeof(*k));
    fg_encounter *tmp = fg_arena_alloc(&h->arena, n * sizeof(*tmp));
    if (!k || !tmp)
        return fg_error_set(err, FG_ENOMEM, "encounters", "out of memory");
    for (i = 0; i < n; i++) {
        k[i].start = v[i].start;
        k[i].i = i;
    }
    qsort(k, n, sizeof(*k), enc_key_cmp);
    for (i = 0; i < n; i++)
        tmp[i] = v[k[i].i];
    memcpy(v, tmp, n * sizeof(*v));
    return FG_OK;
}

/* Drop conditions that would begin after death; 1 when one was dropped. */
static int prune_after_death(eng_gen *g)
{
    size_t w = 0;
    int dropped = 0;
    for (size_t i = 0; i < g->n_conds; i++) {
        if (g->conds[i].onset != FG_TIME_NONE && g->conds[i].onset >= g->stop) {
            dropped = 1;
            continue;
        }
        g->conds[w++] = g->conds[i];
    }
    g->n_conds = w;
    return dropped;
}

/* Copy the chronic conditions of a finished patient into the caller's list. */
static void copy_skeleton(const eng_gen *g, fg_engine_condition *conds, size_t cap, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < g->n_conds && k < cap; i++) {
        const eng_cond *c = &g->conds[i];
        if (c->onset == FG_TIME_NONE || !c->condition_id)
            continue; /* not diagnosed (yet) */
        conds[k].name = c->module->name;
        conds[k].term = c->dx_term ? *c->dx_term : c->module->term;
        conds[k].onset = c->onset;
        conds[k].resolved = c->resolved;
        k++;
    }
    *n = k;
}

static int generate(const fg_engine *e, uint64_t index, fg_history *h, fg_engine_condition *conds,
                    size_t cap, size_t *n_conds, fg_error *err);

int fg_engine_generate(const fg_engine *e, uint64_t index, fg_history *h, fg_error *err)
{
    return generate(e, index, h, NULL, 0, NULL, err);
}

int fg_engine_skeleton(const fg_engine *e, uint64_t index, fg_history *h,
                       fg_engine_condition *conds, size_t cap, size_t *n_conds, fg_error *err)
{
    size_t n = 0;
    int rc = generate(e, index, h, conds, cap, &n, err);
    if (rc == FG_OK && n_conds)
        *n_conds = n;
    return rc;
}

static int generate(const fg_engine *e, uint64_t index, fg_history *h, fg_engine_condition *conds,
                    size_t cap, size_t *n_conds, fg_error *err)
{
    fg_rng root;
    int rc = FG_OK;
    fg_rng_patient(&root, e->spec.seed, index);
    for (int a = 0; a < FG_MAX_CANDIDATE_ATTEMPTS; a++) {
        eng_gen g;
        memset(&g, 0, sizeof(g));
        fg_history_reset(h);
        g.e = e;
        g.h = h;
        g.index = index;
        g.end = e->spec.end;
        if (a == 0) {
            g.rng = root;
        } else {
            char tag[32];
            snprintf(tag, sizeof(tag), "candidate:%d", a);
            g.rng = fg_rng_fork(&root, tag);
        }
        g.id_rng = fg_rng_fork(&g.rng, "ids");
        if ((rc = eng_demographics(&g, err)))
            goto fail;
        eng_lifetime_traits(&g);
        rc = eng_conditions_sample(&g, err);
        if (rc < 0)
            goto fail;
        if (rc == 0)
            continue;
        eng_phys_init(&g);
        if ((rc = eng_death(&g, err)))
            goto fail;
        if (prune_after_death(&g) && e->spec.n_conditions)
            continue; /* a required condition may have been lost: draw again */
        if ((rc = eng_lifetime(&g, err)) || (rc = eng_phys_child_bp_review(&g, err)) ||
            (rc = eng_preventive(&g, err)) ||
            (rc = eng_conditions_care(&g, err)) || (rc = eng_episodes(&g, err)) ||
            (rc = eng_hospital(&g, err)) || (rc = eng_meds_reconcile(&g, err)) ||
            (rc = eng_clinic(&g, err)) ||
            (rc = sort_encounters(h, err)) ||
            (rc = eng_notes(&g, err)))
            goto fail;
        if (n_conds)
            copy_skeleton(&g, conds, cap, n_conds);
        return FG_OK;
    }
    fg_history_reset(h);
    return fg_error_set(err, FG_ELIMIT, "condition",
                        "no patient with the requested conditions in %d candidates for patient %llu: "
                        "the filter is too rare for ages %d-%d%s; widen the age range or drop a condition",
                        FG_MAX_CANDIDATE_ATTEMPTS, (unsigned long long)index, e->spec.age_min,
                        e->spec.age_max, e->spec.sex < 0 ? "" : e->spec.sex ? " (male)" : " (female)");
fail:
    fg_history_reset(h);
    if (err && err->where[0] == 0)
        snprintf(err->where, sizeof(err->where), "patient %llu", (unsigned long long)index);
    return rc;
}
