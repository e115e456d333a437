/*
 * coherence_private.h: what coherence.c and coherence_events.c share.
 */
#ifndef COHERENCE_PRIVATE_H
#define COHERENCE_PRIVATE_H

#include <stdint.h>

#include "fhir/base/fg_tsv.h"
#include "validators/fg_plausibility.h"

/* The systolic and diastolic components of a blood pressure panel; the
 * codes are rows of data/terminology/conditions.tsv. */
#define COH_LOINC_SYSTOLIC "8480-6"
#define COH_LOINC_DIASTOLIC "8462-4"

typedef struct coh_range {
    const char *code; /* LOINC */
    const char *unit; /* UCUM, the terminology's unit for the code */
    double min, max;
} coh_range;

typedef struct coh_sexage {
    const char *system;
    const char *code;
    int sex; /* fg_sex, or -1 for either */
    int age_min, age_max;
} coh_sexage;

struct fg_coherence_rules {
    fg_tsv *phys_tab, *sex_tab; /* the rows' strings live here */
    coh_range *phys;
    size_t n_phys;
    coh_sexage *sexage;
    size_t n_sexage;
};

typedef struct coh_ctx {
    const fg_coherence_rules *r;
    fg_coherence_facts f;
    fg_findings *out;
    int rc; /* first FG_ENOMEM */
    char dates[3][11];
} coh_ctx;

const coh_range *coh_physiology(const fg_coherence_rules *r, const char *code);
const coh_sexage *coh_sex_age(const fg_coherence_rules *r, const char *system, const char *code);

/* Days since 1970-01-01 of an instant (floor). */
int64_t coh_day(fg_time t);

/* An instant's date for a message; three slots (0, 1, 2) per message. */
const char *coh_date(coh_ctx *c, int slot, fg_time t);

/* Append an incoherence at `list[index].member` (list NULL: member alone). */
void coh_add(coh_ctx *c, const char *list, size_t index, const char *member, const char *fmt,
             ...) __attribute__((format(printf, 5, 6)));

/* coherence_events.c: dates against the patient's life and the window,
 * dates in order, events inside their encounter, references, treatments
 * after their reason; notes against the record. */
void coh_check_dates(coh_ctx *c, const fg_history *h);
void coh_check_links(coh_ctx *c, const fg_history *h);
void coh_check_notes(coh_ctx *c, const fg_history *h);

#endif
