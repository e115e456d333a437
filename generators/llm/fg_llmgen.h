/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_llmgen.h: patients whose story is written by a language model around
 * a skeleton drawn by the engine.
 *
 * For each patient index the engine decides who the patient is (sex, birth,
 * death, name, chronic conditions with onsets): the skeleton. A prompt built
 * from templates (data/prompts/system.txt, patient.txt, repair.txt) asks the
 * model for the whole history document (data/schema/history.schema.json)
 * around it. Each answer is parsed, given the skeleton's demographics and
 * care team, checked to keep the skeleton's conditions, grounded against
 * the terminology tables and checked for coherence; findings go back to the
 * model in a repair round (at most repair_rounds), and a patient that still
 * fails is dropped and reported, never written. Good patients are mapped to
 * FHIR and written through the same sink as the engine path (fg_sink.h):
 * an interrupted or failed run keeps every finished patient's bundle or
 * history file, and writes no NDJSON file (the cache makes a rerun cheap).
 *
 * The requests go through one fg_llm client (fg_llm.h), which the caller
 * owns and configures (protocol, model, jobs, rate, cache).
 */
#ifndef FG_LLMGEN_H
#define FG_LLMGEN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fhir/base/fg_error.h"
#include "fhir/term/fg_term.h"
#include "generators/engine/fg_engine.h"
#include "generators/llm/fg_llm.h"
#include "generators/map/fg_mapper.h"
#include "generators/fg_pipeline.h"

/* Limits of LLM generation: skeletons, prompts, the repair loop. A value that would cross one is
 * refused with FG_ELIMIT. */
#define FG_MAX_SKELETON_CONDITIONS 64  /* chronic conditions listed in one skeleton */
#define FG_MAX_PROMPT_BYTES (1u << 20) /* one prompt template file */
#define FG_MAX_SCENARIO_BYTES 16384    /* --scenario text or --scenario-file */
#define FG_MAX_REPAIR_ROUNDS 10        /* --repair-rounds */
#define FG_MAX_REPAIR_ERRORS 50        /* error lines one repair request lists */
#define FG_MAX_LLM_PENDING 1024        /* patients in flight at once */
#define FG_MAX_LLM_DROPS_KEPT 10000    /* dropped patients listed in --summary-json */

/* The three prompt templates, loaded from a folder. */
typedef struct fg_llmgen_prompts fg_llmgen_prompts;

/* Load system.txt, patient.txt and repair.txt from dir (NULL: the data
 * folder's prompts/). A missing file, a placeholder `{{name}}` that is not
 * one of the known names, or an unclosed `{{` is FG_ENOTFOUND/FG_EINVALID
 * naming the file (and line). *out is new; free with fg_llmgen_prompts_free. */
int fg_llmgen_prompts_load(const char *dir, fg_llmgen_prompts **out, fg_error *err);

/* Accepts NULL. */
void fg_llmgen_prompts_free(fg_llmgen_prompts *p);

/* Give the templates the codes of t (SNOMED CT, LOINC with units, RxNorm,
 * CVX) for the placeholder {{vocabulary}}, one `code | display` line each,
 * grouped by system; without this call it renders empty. FG_ENOMEM. */
int fg_llmgen_prompts_set_terms(fg_llmgen_prompts *p, const fg_terminology *t, fg_error *err);

typedef struct fg_llmgen_options {
    const fg_engine *engine;     /* draws the skeletons */
    const fg_terminology *terms; /* grounding */
    const fg_mapper *mapper;     /* NULL for FG_FORMAT_HISTORY */
    fg_llm *llm;                 /* the client; driven by fg_llmgen_run */
    const fg_llmgen_prompts *prompts;
    const json_t *schema;        /* the history schema given to the model (borrowed) */
    const char *datadir;         /* for the coherence tables */
    fg_format format;            /* bundle, ndjson or history */
    const char *out_dir;
    uint64_t first, count;       /* patients [first, first+count) */
    int shard_k, shard_n;        /* NDJSON files named <Type>.shard-K-of-N.ndjson when N > 0 */
    fg_time end;                 /* the cohort's "today" */
    int years_of_history;        /* the story's window: the last Y years of life */
    int repair_rounds;           /* repair requests per patient after the first answer */
    long max_tokens;             /* the answer budget of a first try (0: the client's) */
    const char *scenario;        /* free text for every patient, or NULL */
    size_t max_pending;          /* patients in flight at once (0: 64) */
    volatile sig_atomic_t *cancel;
    /* Called for each dropped patient with the reason (one line) and the
     * findings of the last answer (may be empty); may be NULL. */
    void (*on_drop)(void *ud, uint64_t index, const char *reason, const char *errors);
    /* Called after each finished patient (written or dropped); may be NULL. */
    void (*progress)(void *ud, uint64_t done, uint64_t total);
    void *ud;
} fg_llmgen_options;

typedef struct fg_llmgen_summary {
    uint64_t requested, written, dropped;
    uint64_t repairs;        /* repair requests sent */
    uint64_t repaired;       /* patients written after at least one repair */
    uint64_t hallucinated;   /* findings of kind FG_FIND_HALLUCINATED, all rounds */
    uint64_t findings;       /* findings of every kind, all rounds */
    uint64_t refusals, truncations, failures; /* answers: refused, cut, no answer */
    uint64_t resources[FG_RT_COUNT];
    uint64_t resources_total, bytes, files;
    fg_llm_stats llm;        /* requests, HTTP tries, cache hits, retries, tokens */
    double seconds;
    json_t *drops;           /* new reference: [{index, reason, errors: [..]}] */
} fg_llmgen_summary;

/* Release what a summary owns; accepts NULL. */
void fg_llmgen_summary_free(fg_llmgen_summary *s);

/* The exact request body the client would send for the first patient
 * (o->first), as a new string (free()). */
int fg_llmgen_dry_run(const fg_llmgen_options *o, char **body, fg_error *err);

/* Make patients [first, first+count). sum (required) is filled with what
 * was done, also on failure. Returns FG_OK when the run went through (even
 * with dropped patients: see sum->dropped), FG_ECANCELED when *cancel was
 * raised (finished bundle and history files are kept), or the error that stopped the run
 * (err says what and where: an unreachable endpoint, a rejected key, an
 * unknown model, I/O). */
int fg_llmgen_run(const fg_llmgen_options *o, fg_llmgen_summary *sum, fg_error *err);

#endif
