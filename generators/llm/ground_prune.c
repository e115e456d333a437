/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ground_prune.c: removing from a history the items its findings name, so
 * that what is left of a story that could not be repaired is still a
 * coherent record.
 *
 * An item goes when a finding names it (list and index). What depended on
 * it follows: the events of a removed encounter go too; a removed condition
 * is dropped from the reasons of medications and procedures and from the
 * conditions care plans address; a removed observation leaves its report's
 * results, and a report left with none goes.
 */
#include <stdlib.h>
#include <string.h>

#include "generators/llm/fg_ground.h"

/* The lists a finding can name, in the order of the history. */
enum { L_ENC, L_COND, L_OBS, L_REP, L_MED, L_IMM, L_PROC, L_ALG, L_CP, L_NOTE, L_COUNT };

static const char *const LIST_NAMES[L_COUNT] = {
    "encounters", "conditions", "observations", "reports", "medications",
    "immunizations", "procedures", "allergies", "careplans", "notes",
};

static int list_of(const char *name)
{
    for (int i = 0; name && i < L_COUNT; i++)
        if (strcmp(name, LIST_NAMES[i]) == 0)
            return i;
    return -1;
}

/* 1 when id is the id of a removed item of a list (ids[i] with gone[i]). */
static int removed_id(const char *id, const void *base, size_t n, size_t stride,
                      const unsigned char *gone)
{
    if (!id)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *x = *(const char *const *)((const char *)base + i * stride);
        if (gone[i] && x && strcmp(x, id) == 0)
            return 1;
    }
    return 0;
}

#define GONE_ID(h, field, g, id)                                                               \
    removed_id((id), (h)->field.v, (h)->field.n, sizeof(*(h)->field.v), (g))

/* Keep the items of a list whose mask is 0; add the others to *removed. */
#define COMPACT(h, field, g, removed)                                                          \
    do {                                                                                       \
        size_t w_ = 0;                                                                         \
        for (size_t r_ = 0; r_ < (h)->field.n; r_++) {                                         \
            if ((g)[r_])                                                                       \
                (*(removed))++;                                                                \
            else                                                                               \
                (h)->field.v[w_++] = (h)->field.v[r_];                                         \
        }                                                                                      \
        (h)->field.n = w_;                                                                     \
    } while (0)

/* Events of a removed encounter are removed. */
#define FOLLOW_ENCOUNTER(h, field, g, enc_gone)                                                \
    do {                                                                                       \
        for (size_t i_ = 0; i_ < (h)->field.n; i_++)                                           \
            if (GONE_ID(h, encounters, enc_gone, (h)->field.v[i_].encounter))                  \
                (g)[i_] = 1;                                                                   \
    } while (0)

int fg_findings_prune(fg_history *h, const fg_findings *f, size_t *removed, fg_error *err)
{
    unsigned char *gone[L_COUNT] = {0};
    size_t sizes[L_COUNT] = {h->encounters.n, h->conditions.n, h->observations.n,
                             h->reports.n,    h->medications.n, h->immunizations.n,
                             h->procedures.n, h->allergies.n,   h->careplans.n,
                             h->notes.n};
    size_t count = 0;
    int rc = FG_OK;
    for (int l = 0; l < L_COUNT; l++)
        if (!(gone[l] = calloc(sizes[l] ? sizes[l] : 1, 1))) {
            rc = fg_error_set(err, FG_ENOMEM, "prune", "out of memory");
            goto cleanup;
        }
    for (size_t i = 0; i < f->n; i++) {
        int l = list_of(f->v[i].list);
        if (l >= 0 && f->v[i].index < sizes[l])
            gone[l][f->v[i].index] = 1;
    }
    FOLLOW_ENCOUNTER(h, conditions, gone[L_COND], gone[L_ENC]);
    FOLLOW_ENCOUNTER(h, observations, gone[L_OBS], gone[L_ENC]);
    FOLLOW_ENCOUNTER(h, reports, gone[L_REP], gone[L_ENC]);
    FOLLOW_ENCOUNTER(h, medications, gone[L_MED], gone[L_ENC]);
    FOLLOW_ENCOUNTER(h, immunizations, gone[L_IMM], gone[L_ENC]);
    FOLLOW_ENCOUNTER(h, procedures, gone[L_PROC], gone[L_ENC]);
    FOLLOW_ENCOUNTER(h, allergies, gone[L_ALG], gone[L_ENC]);
    FOLLOW_ENCOUNTER(h, careplans, gone[L_CP], gone[L_ENC]);
    FOLLOW_ENCOUNTER(h, notes, gone[L_NOTE], gone[L_ENC]);
    for (size_t i = 0; i < h->medications.n; i++)
        if (GONE_ID(h, conditions, gone[L_COND], h->medications.v[i].reason))
            h->medications.v[i].reason = NULL;
    for (size_t i = 0; i < h->procedures.n; i++)
        if (GONE_ID(h, conditions, gone[L_COND], h->procedures.v[i].reason))
            h->procedures.v[i].reason = NULL;
    for (size_t i = 0; i < h->careplans.n; i++) {
        fg_careplan *p = &h->careplans.v[i];
        size_t w = 0;
        for (size_t j = 0; j < p->n_addresses; j++)
            if (!GONE_ID(h, conditions, gone[L_COND], p->addresses[j]))
                p->addresses[w++] = p->addresses[j];
        p->n_addresses = w;
    }
    for (size_t i = 0; i < h->reports.n; i++) {
        fg_report *p = &h->reports.v[i];
        size_t w = 0;
        for (size_t j = 0; j < p->n_results; j++)
            if (!GONE_ID(h, observations, gone[L_OBS], p->results[j]))
                p->results[w++] = p->results[j];
        if (p->n_results && !w)
            gone[L_REP][i] = 1;
        p->n_results = w;
    }
    COMPACT(h, encounters, gone[L_ENC], &count);
    COMPACT(h, conditions, gone[L_COND], &count);
    COMPACT(h, observations, gone[L_OBS], &count);
    COMPACT(h, reports, gone[L_REP], &count);
    COMPACT(h, medications, gone[L_MED], &count);
    COMPACT(h, immunizations, gone[L_IMM], &count);
    COMPACT(h, procedures, gone[L_PROC], &count);
    COMPACT(h, allergies, gone[L_ALG], &count);
    COMPACT(h, careplans, gone[L_CP], &count);
    COMPACT(h, notes, gone[L_NOTE], &count);
    if (removed)
        *removed = count;
cleanup:
    for (int l = 0; l < L_COUNT; l++)
        free(gone[l]);
    return rc;
}
