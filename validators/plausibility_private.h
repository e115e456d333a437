/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plausibility_private.h: what plausibility.c and plausibility_events.c share.
 */
#ifndef PLAUSIBILITY_PRIVATE_H
#define PLAUSIBILITY_PRIVATE_H

#include <stdint.h>

#include "fhir/base/fg_tsv.h"
#include "validators/fg_plausibility.h"

/* The systolic and diastolic components of a blood pressure panel; the
 * codes are rows of data/terminology/conditions.tsv. */
#define PL_LOINC_SYSTOLIC "8480-6"
#define PL_LOINC_DIASTOLIC "8462-4"

typedef struct pl_range {
    const char *code; /* LOINC */
    const char *unit; /* UCUM, the terminology's unit for the code */
    double min, max;
} pl_range;

typedef struct pl_sexage {
    const char *system;
    const char *code;
    int sex; /* fg_sex, or -1 for either */
    int age_min, age_max;
} pl_sexage;

struct fg_plausibility_rules {
    fg_tsv *phys_tab, *sex_tab; /* the rows' strings live here */
    pl_range *phys;
    size_t n_phys;
    pl_sexage *sexage;
    size_t n_sexage;
};

typedef struct pl_ctx {
    const fg_plausibility_rules *r;
    fg_plausibility_facts f;
    fg_findings *out;
    int rc; /* first FG_ENOMEM */
    char dates[3][11];
} pl_ctx;

const pl_range *pl_physiology(const fg_plausibility_rules *r, const char *code);
const pl_sexage *pl_sex_age(const fg_plausibility_rules *r, const char *system, const char *code);

/* Days since 1970-01-01 of an instant (floor). */
int64_t pl_day(fg_time t);

/* An instant's date for a message; three slots (0, 1, 2) per message. */
const char *pl_date(pl_ctx *c, int slot, fg_time t);

/* Append an incoherence at `list[index].member` (list NULL: member alone). */
void pl_add(pl_ctx *c, const char *list, size_t index, const char *member, const char *fmt,
             ...) __attribute__((format(printf, 5, 6)));

/* plausibility_events.c: dates against the patient's life and the window,
 * dates in order, events inside their encounter, references, treatments
 * after their reason; notes against the record. */
void pl_check_dates(pl_ctx *c, const fg_history *h);
void pl_check_links(pl_ctx *c, const fg_history *h);
void pl_check_notes(pl_ctx *c, const fg_history *h);

#endif
