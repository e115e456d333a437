/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llmgen_private.h: what the parts of the LLM generator share.
 *
 *   llmgen_skeleton.c  the engine's patient as the skeleton a story is
 *                      written around (JSON for the prompt, facts for checks)
 *   llmgen_prompt.c    templates with {{name}} placeholders
 *   llmgen_repair.c    an answer checked: parse, merge the skeleton, ground,
 *                      coherence; the findings a repair round sends back
 *   llmgen.c           the run: requests in flight, repair rounds, writing
 */
#ifndef FG_LLMGEN_PRIVATE_H
#define FG_LLMGEN_PRIVATE_H

#include "fhir/base/fg_buf.h"
#include "validators/fg_plausibility.h"
#include "generators/llm/fg_ground.h"
#include "generators/llm/fg_llmgen.h"
#include "generators/fg_sink.h"

/* One patient's skeleton: the engine's history (demographics and care
 * team, borrowed by the merged answer) and its chronic conditions. */
typedef struct llmgen_skel {
    uint64_t index;
    fg_history h;
    fg_engine_condition conds[FG_MAX_SKELETON_CONDITIONS];
    size_t n_conds;
    fg_time history_start, history_end;
    int age; /* years at history_end */
    char *json; /* the skeleton object, one line (malloc'd) */
} llmgen_skel;

/* Initialise s (empty). */
void llmgen_skel_init(llmgen_skel *s);

/* Draw patient `index` with o->engine and build its skeleton into s
 * (initialised; its previous content is replaced). */
int llmgen_skel_make(const fg_llmgen_options *o, uint64_t index, llmgen_skel *s, fg_error *err);

/* Release s's memory; s may be made again after llmgen_skel_init. */
void llmgen_skel_free(llmgen_skel *s);

/* The template kinds of fg_llmgen_prompts. */
enum { LLMGEN_TPL_SYSTEM = 0, LLMGEN_TPL_PATIENT = 1, LLMGEN_TPL_REPAIR = 2, LLMGEN_TPL_COUNT };

/* A placeholder's value: name without braces. */
typedef struct llmgen_var {
    const char *name;
    const char *value;
} llmgen_var;

/* Render template `which` into out (appended), replacing each {{name}} by
 * its value in vars. FG_EINVALID naming the template file for a name with
 * no value. */
int llmgen_prompt_render(const fg_llmgen_prompts *p, int which, const llmgen_var *vars,
                         size_t n_vars, fg_buf *out, fg_error *err);

/* The three messages of a patient: system, first user message, and (with
 * errors) the repair user message. Each appended to out. */
int llmgen_prompt_system(const fg_llmgen_prompts *p, const llmgen_skel *s, const char *scenario,
                         fg_buf *out, fg_error *err);
int llmgen_prompt_patient(const fg_llmgen_prompts *p, const llmgen_skel *s, const char *scenario,
                          fg_buf *out, fg_error *err);
int llmgen_prompt_repair(const fg_llmgen_prompts *p, const llmgen_skel *s, const char *scenario,
                         const char *errors, size_t n_errors, fg_buf *out, fg_error *err);

/* Check a model's answer for skeleton s: parse `text` into ans
 * (initialised), give it the skeleton's patient and care team and fresh
 * ids derived from (seed-free) index and the model's ids, check the
 * skeleton's conditions are present, ground against terms and check
 * coherence with rules. Findings are appended to f (a parse failure is one
 * finding with its path). Returns FG_OK whether or not there were findings;
 * FG_ENOMEM and the like otherwise. */
int llmgen_check(const fg_terminology *terms, const fg_plausibility_rules *rules,
                 const llmgen_skel *s, const char *text, size_t len, fg_history *ans,
                 fg_findings *f, fg_error *err);

#endif
