/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_notes_index.c: what the notes of one patient look up again and
 * again, computed once per patient: the events of each encounter (a hash of
 * encounter ids, then linked lists), the encounters in time order, each
 * condition's name, abbreviation and phrases, each medication's wording and
 * the smoking status observations.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generators/engine/notes_private.h"

int nt_idx_find(const nt_idx *x, const char *id)
{
    return id ? (int)(intptr_t)fg_strmap_get(&x->by_id, id) - 1 : -1;
}

#define IDX_BUCKET(x, h, k, field)                                                             \
    do {                                                                                       \
        (x)->next[k] = malloc(((h)->field.n + 1) * sizeof(int));                               \
        (x)->enc_of[k] = malloc(((h)->field.n + 1) * sizeof(int));                             \
        if (!(x)->next[k] || !(x)->enc_of[k])                                                  \
            return -1;                                                                         \
        for (size_t i_ = (h)->field.n; i_-- > 0;) {                                            \
            int e_ = nt_idx_find((x), (h)->field.v[i_].encounter);                             \
            (x)->enc_of[k][i_] = e_;                                                           \
            (x)->next[k][i_] = e_ >= 0 ? (x)->first[k][e_] : -1;                               \
            if (e_ >= 0)                                                                       \
                (x)->first[k][e_] = (int)i_;                                                   \
        }                                                                                      \
    } while (0)

int nt_idx_build(nt_idx *x, const struct ep_notes *n, const fg_history *h,
                 const fg_term *smoking)
{
    x->n_enc = h->encounters.n;
    if (fg_strmap_reserve(&x->by_id, x->n_enc) != FG_OK)
        return -1;
    for (size_t e = 0; e < x->n_enc; e++) {
        const char *id = h->encounters.v[e].id;
        if (id && fg_strmap_add(&x->by_id, id, (void *)(intptr_t)(e + 1)) < 0)
            return -1;
    }
    for (int k = 0; k < K_COUNT; k++) {
        x->first[k] = malloc((x->n_enc + 1) * sizeof(int));
        if (!x->first[k])
            return -1;
        for (size_t e = 0; e < x->n_enc; e++)
            x->first[k][e] = -1;
    }
    IDX_BUCKET(x, h, K_COND, conditions);
    IDX_BUCKET(x, h, K_OBS, observations);
    IDX_BUCKET(x, h, K_MED, medications);
    IDX_BUCKET(x, h, K_IMM, immunizations);
    IDX_BUCKET(x, h, K_PROC, procedures);
    IDX_BUCKET(x, h, K_ALLERGY, allergies);
    x->cond_name = calloc(h->conditions.n + 1, sizeof(char *));
    x->cond_len = calloc(h->conditions.n + 1, sizeof(size_t));
    x->cond_clin = calloc(h->conditions.n + 1, sizeof(nt_clin *));
    x->cond_abbr = calloc(h->conditions.n + 1, sizeof(char *));
    x->med_text = calloc(h->medications.n + 1, sizeof(char *));
    if (!x->cond_name || !x->cond_len || !x->cond_clin || !x->cond_abbr || !x->med_text)
        return -1;
    for (size_t i = 0; i < h->medications.n; i++) {
        char text[512];
        nt_buf b = {text, 0, sizeof(text)};
        text[0] = 0;
        nt_med(&b, n, &h->medications.v[i]);
        if (!(x->med_text[i] = strdup(text)))
            return -1;
    }
    for (size_t i = 0; i < h->conditions.n; i++) {
        char name[512];
        nt_buf b = {name, 0, sizeof(name)};
        nt_term(&b, &h->conditions.v[i].term, 0);
        for (size_t j = 0; j < b.len; j++)
            name[j] = (char)(name[j] >= 'A' && name[j] <= 'Z' ? name[j] - 'A' + 'a' : name[j]);
        if (!(x->cond_name[i] = strdup(name)))
            return -1;
        x->cond_len[i] = b.len;
        nt_clear(&b);
        nt_condition(&b, n, &h->conditions.v[i].term);
        if (!(x->cond_abbr[i] = strdup(name)))
            return -1;
        x->cond_clin[i] = nt_clin_of(n, &h->conditions.v[i].term);
    }
    x->smoking = malloc((h->observations.n + 1) * sizeof(int));
    if (!x->smoking)
        return -1;
    for (size_t i = 0; smoking && i < h->observations.n; i++) {
        const fg_observation *o = &h->observations.v[i];
        if (o->kind == FG_VALUE_CODE && o->term.code && strcmp(o->term.code, smoking->code) == 0)
            x->smoking[x->n_smoking++] = (int)i;
    }
    x->order = malloc((x->n_enc + 1) * sizeof(int));
    x->rank = malloc((x->n_enc + 1) * sizeof(int));
    if (!x->order || !x->rank)
        return -1;
    for (size_t e = 0; e < x->n_enc; e++)
        x->order[e] = (int)e;
    /* Encounters are mostly in time order already: an insertion sort, stable. */
    for (size_t i = 1; i < x->n_enc; i++) {
        int v = x->order[i];
        size_t j = i;
        for (; j > 0 && h->encounters.v[x->order[j - 1]].start > h->encounters.v[v].start; j--)
            x->order[j] = x->order[j - 1];
        x->order[j] = v;
    }
    for (size_t r = 0; r < x->n_enc; r++)
        x->rank[x->order[r]] = (int)r;
    return 0;
}

void nt_idx_free(nt_idx *x)
{
    fg_strmap_free(&x->by_id);
    for (int k = 0; k < K_COUNT; k++) {
        free(x->first[k]);
        free(x->next[k]);
        free(x->enc_of[k]);
    }
    for (size_t i = 0; x->cond_name && x->cond_name[i]; i++)
        free(x->cond_name[i]);
    for (size_t i = 0; x->cond_abbr && x->cond_abbr[i]; i++)
        free(x->cond_abbr[i]);
    for (size_t i = 0; x->med_text && x->med_text[i]; i++)
        free(x->med_text[i]);
    free(x->cond_abbr);
    free(x->med_text);
    free(x->cond_name);
    free(x->cond_len);
    free(x->cond_clin);
    free(x->smoking);
    free(x->order);
    free(x->rank);
}

void nt_cond(const nt_ctx *c, nt_buf *b, const fg_condition *d)
{
    nt_puts(b, c->x->cond_abbr[d - c->h->conditions.v]);
}

void nt_med_of(const nt_ctx *c, nt_buf *b, const fg_medication *m)
{
    nt_puts(b, c->x->med_text[m - c->h->medications.v]);
}

