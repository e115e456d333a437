/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_plausibility.h: checks that a (grounded) history tells a possible story.
 *
 * The rules: every date lies inside the patient's life and before the end
 * of the history window, and in order (an encounter starts before it ends, events fall in
 * their encounter's days, abatement follows onset); every event names an
 * encounter that exists; medications and procedures with a `reason` start
 * on or after that condition's onset and the reason exists; conditions,
 * procedures and observations suit the patient's sex and age
 * (data/tables/condition_sex_age.tsv);
 * vitals and labs lie inside physiological bounds
 * (data/tables/physiology.tsv); notes do not deny an active condition nor
 * name the other sex. Knowledge lives in those tables, each row naming
 * its source; the C code only walks them.
 *
 * Each violation is a finding of kind FG_FIND_INCOHERENT with the path of
 * the offending member (see validators/fg_findings.h).
 */
#ifndef FG_PLAUSIBILITY_H
#define FG_PLAUSIBILITY_H

#include "fhir/base/fg_error.h"
#include "fhir/base/fg_time.h"
#include "validators/fg_findings.h"
#include "generators/history/fg_history.h"

typedef struct fg_plausibility_rules fg_plausibility_rules;

/* Load the rule tables from the data folder `datadir` (tables/physiology.tsv,
 * tables/condition_sex_age.tsv). *out is new (free with
 * fg_plausibility_free); a malformed row is FG_EINVALID naming file and line. */
int fg_plausibility_load(const char *datadir, fg_plausibility_rules **out, fg_error *err);

/* Accepts NULL. */
void fg_plausibility_free(fg_plausibility_rules *r);

/* What the engine decided about the patient (the skeleton), which the
 * story must respect. A member set to FG_TIME_NONE is not checked (death:
 * alive). */
typedef struct fg_plausibility_facts {
    fg_sex sex;
    fg_time birth;         /* midnight UTC of the birth date */
    fg_time death;         /* FG_TIME_NONE while alive */
    fg_time history_start; /* the window the story must cover; not a bound: a */
    fg_time history_end;   /* diagnosis may predate it, nothing may follow its end */
} fg_plausibility_facts;

/* The facts of h's own patient block (no history window). */
void fg_plausibility_facts_of(const fg_history *h, fg_plausibility_facts *out);

/* Check h against the rules and the facts (NULL: those of h's patient),
 * appending one finding per violation to out. Returns FG_OK even when
 * findings were added; FG_ENOMEM or FG_EUSAGE (r or h NULL) in err. */
int fg_plausibility_check(const fg_plausibility_rules *r, const fg_history *h,
                       const fg_plausibility_facts *facts, fg_findings *out, fg_error *err);

#endif
