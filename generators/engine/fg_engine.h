/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_engine.h: the built-in statistical generator.
 *
 * An engine is built once from the data folder (demographic tables,
 * condition modules, terminology) and a cohort specification, then shared
 * read-only by every worker thread. fg_engine_generate() makes patient
 * `index` of the cohort: the same bytes for the same seed, index and
 * specification, whatever thread runs it.
 */
#ifndef FG_ENGINE_H
#define FG_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "fhir/base/fg_error.h"
#include "fhir/base/fg_time.h"
#include "generators/history/fg_history.h"

/* Ages and spans the engine generates. A value that would cross one is refused with FG_ELIMIT. */
#define FG_MAX_AGE 110              /* oldest age the engine generates */
#define FG_MAX_YEARS_OF_HISTORY 120

typedef struct fg_engine fg_engine;

typedef struct fg_cohort_spec {
    uint64_t seed;
    int age_min;              /* inclusive, years; default 0 */
    int age_max;              /* inclusive; default 110 */
    int sex;                  /* -1 any, else fg_sex */
    const char *state;        /* USPS code, or NULL for the US population */
    const char **conditions;  /* keep only patients with all of these (module names) */
    size_t n_conditions;
    int years_of_history;     /* detailed record window; default 10 */
    fg_time end;              /* the "today" of the cohort */
    int random_ids;           /* ids from the system random source, not the seed */
    const char *mrn_system;   /* identifier system of MRNs */
} fg_cohort_spec;

/* Fill spec with the defaults above (seed 1), end being the day of `now`
 * (midnight UTC). The fhirgen program passes SOURCE_DATE_EPOCH when it is
 * set (the reproducible-builds convention), else the clock. */
void fg_cohort_spec_default_at(fg_cohort_spec *spec, fg_time now);

/* fg_cohort_spec_default_at with the clock's now. */
void fg_cohort_spec_default(fg_cohort_spec *spec);

/* Build an engine from the data folder `datadir`. Checks the specification
 * against the data (a state or condition that does not exist is FG_ENOTFOUND
 * with the known names in err->text). *out is new; free with fg_engine_free. */
int fg_engine_new(const char *datadir, const fg_cohort_spec *spec, fg_engine **out,
                  fg_error *err);

void fg_engine_free(fg_engine *e);

/* Generate patient `index` into h (reset first). Thread-safe for distinct h. */
int fg_engine_generate(const fg_engine *e, uint64_t index, fg_history *h, fg_error *err);

/* One chronic condition of a generated patient, as the engine drew it. */
typedef struct fg_engine_condition {
    const char *name; /* condition module name; borrowed from the engine */
    fg_term term;     /* the module's code; borrowed from the engine */
    fg_time onset;
    fg_time resolved; /* FG_TIME_NONE when lifelong */
} fg_engine_condition;

/* As fg_engine_generate, and also list the patient's chronic conditions
 * (at most cap, in the order drawn) into conds, *n_conds of them: the
 * skeleton an LLM story is written around. Same history, same bytes. */
int fg_engine_skeleton(const fg_engine *e, uint64_t index, fg_history *h,
                       fg_engine_condition *conds, size_t cap, size_t *n_conds, fg_error *err);

/* Write the engine's clinical notes for a history made elsewhere (by hand,
 * or by another generator), as fg_engine_generate writes them: appended to
 * h->notes, their wording drawn from `seed`. FG_OK or FG_ENOMEM. */
int fg_engine_notes(const fg_engine *e, fg_history *h, uint64_t seed, fg_error *err);

/* The condition module names, sorted; borrowed. */
size_t fg_engine_condition_count(const fg_engine *e);
const char *fg_engine_condition_name(const fg_engine *e, size_t i);

#endif
