/* SPDX-License-Identifier: Apache-2.0 */
/*
 * meds_private.h: the engine formulary (data/engine/formulary.tsv, loaded by
 * engine_formulary.c) and what the medication reconciliation
 * (engine_meds.c, engine_meds_orders.c) shares.
 *
 * A formulary drug is one RxNorm clinical drug with the facts the
 * medication list is checked against: its group (drugs not taken
 * together), the form a young child gets instead, the drug given instead
 * in pregnancy, with a contraindicating condition or below a kidney
 * function, the allergy that rules it out, and the size of one fill.
 * Every string borrows a cell of the loaded tables.
 */
#ifndef FG_MEDS_PRIVATE_H
#define FG_MEDS_PRIVATE_H

#include "generators/engine/engine_private.h"

#define MEDS_MAX_AVOID 4    /* condition modules one drug is avoided with */
#define MEDS_MAX_PREG 32    /* pregnancies of one history looked at */
#define MEDS_MAX_ROUNDS 64  /* renewals, restarts and substitutes per order chain */

typedef struct eng_drug {
    fg_term term;
    const char *ingredient;
    const char *cls;   /* pharmacological class, for messages */
    const char *group; /* "" when the drug may be taken with anything */
    int supersedes;    /* replaces a drug of its group instead of being folded into it */
    int under6;        /* the form suits a child under the child-form age */
    int teratogen;
    int nsaid;
    int child, pregnancy, substitute; /* formulary indices, or -1 */
    double egfr_min;   /* 0 when none */
    const char *avoid[MEDS_MAX_AVOID]; /* condition module names */
    size_t n_avoid;
    const char *allergy; /* allergy tag, or NULL */
    const char *dosage;  /* instruction when given as a substitute, or NULL */
    int per_day;
    int dose;
    const char *dose_unit;
    int supply_days, refills; /* supply 0: no repeat fills */
    int injected;             /* given in clinic when supply_days is 0 */
} eng_drug;

struct eng_formulary {
    fg_tsv *table, *rules;
    eng_drug *drugs; /* sorted by code */
    size_t n;
    double child_age;      /* years */
    fg_term egfr_lab;
    double egfr_lab_days;
    double renew_early_days;
};

/* The drug with this RxNorm code, or NULL. */
const eng_drug *meds_drug(const struct eng_formulary *f, const char *code);

/* ---- engine_meds_orders.c: the order-level steps of the reconciliation ---- */

/* Renew every long-term order whose validity runs out while it is taken:
 * the old order ends at a visit near the end of its validity and a new one
 * starts there. Then fill dose and dispense of every order. */
int meds_renew(eng_gen *g, fg_error *err);

/* A new order copied from medications[i] (which may move: FG_PUSH can
 * grow the list); its index in *out. FG_ENOMEM. */
int meds_copy(eng_gen *g, size_t i, size_t *out, fg_error *err);

/* Give drug d in place of what the order named: code, display, and the
 * drug's own instruction when it has one. */
void meds_set_drug(fg_medication *m, const eng_drug *d);

/* End the order at t (not before its start) with status st and reason. */
void meds_end(fg_medication *m, fg_time t, fg_med_status st, const char *reason);

#endif
