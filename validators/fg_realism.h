/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_realism.h: would a primary-care physician believe this record?
 *
 * Rules over one history, each with an id, a category and a one-line
 * description (data/tables/realism_targets.tsv). A defect is a
 * contradiction (an ACE inhibitor with an ARB, an eGFR that disagrees with
 * its creatinine, a visit at 3 a.m.): its target is zero. A metric is a
 * numerator over a denominator (screening uptake, admissions per 1,000
 * person-years) with a published target range. Every rule reads the codes
 * it needs from data/tables/realism_codes.tsv and drug classes from
 * data/tables/drug_classes.tsv, matching by code or by display, so that it
 * judges any generator's histories, not only the engine's.
 *
 * Checking adds to a tally: per defect the patients affected, the
 * occurrences and up to three examples; per metric its numerator and
 * denominator. The rules are read-only after loading and may be shared by
 * threads, each with its own tally (merge them at the end).
 */
#ifndef FG_REALISM_H
#define FG_REALISM_H

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"
#include "generators/history/fg_history.h"

typedef struct fg_realism_rules fg_realism_rules;
typedef struct fg_realism_tally fg_realism_tally;

/* Load the tables from the data folder. *out is new (fg_realism_free). A
 * malformed row, or a rule of the code without its row in
 * realism_targets.tsv, is FG_EINVALID naming file and line. */
int fg_realism_load(const char *datadir, fg_realism_rules **out, fg_error *err);
void fg_realism_free(fg_realism_rules *r); /* accepts NULL */

/* A new empty tally; NULL when out of memory. */
fg_realism_tally *fg_realism_tally_new(void);
void fg_realism_tally_free(fg_realism_tally *t); /* accepts NULL */
/* Add src's counts to dst. FG_OK or FG_ENOMEM. */
int fg_realism_tally_merge(fg_realism_tally *dst, const fg_realism_tally *src);

/* Check one history, adding to t. FG_OK, FG_ENOMEM or FG_EUSAGE. */
int fg_realism_check(const fg_realism_rules *r, const fg_history *h, fg_realism_tally *t,
                     fg_error *err);

/* What a tally holds for one rule. */
#define FG_REALISM_EXAMPLES 3
typedef struct fg_realism_example {
    char patient[64];
    char date[11];
    char what[160];
} fg_realism_example;

typedef struct fg_realism_figure {
    const char *id, *category, *description, *source; /* from the targets table */
    int is_metric;
    long patients;    /* defect: patients affected */
    long occurrences; /* defect: occurrences */
    double num, den;  /* metric */
    double value;     /* defect: patients per 1,000; metric: num / den * scale (NaN: no denominator) */
    double target_min, target_max; /* NaN when open */
    double max_per_1000;           /* NaN when not gated */
    const char *verdict;           /* "ok", "over", "FAIL", "low", "high", "n/a" */
    int n_examples;
    fg_realism_example examples[FG_REALISM_EXAMPLES];
} fg_realism_figure;

/* Patients checked into t. */
long fg_realism_patients(const fg_realism_tally *t);

/* The number of rules, and rule i's figure in t (0 <= i < count). */
size_t fg_realism_count(const fg_realism_rules *r);
void fg_realism_figure_at(const fg_realism_rules *r, const fg_realism_tally *t, size_t i,
                          fg_realism_figure *out);
/* The figure of the rule named id; FG_ENOTFOUND when there is none. */
int fg_realism_figure_of(const fg_realism_rules *r, const fg_realism_tally *t, const char *id,
                         fg_realism_figure *out);

/* Append the tally as a table (one line per rule) or as JSON to out. */
void fg_realism_write_text(const fg_realism_rules *r, const fg_realism_tally *t, fg_buf *out);
void fg_realism_write_json(const fg_realism_rules *r, const fg_realism_tally *t, fg_buf *out);

#endif
