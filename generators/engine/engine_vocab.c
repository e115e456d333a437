/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_vocab.c: the engine's data-file reader and its vocabulary.
 *
 * Every data file of the engine is a small TSV table read by fg_tsv_load
 * ('#' lines name the source, the first other line is the header); the
 * engine keeps the tables, so their cells live as long as the engine and
 * histories borrow them without copying.
 *
 * The vocabulary (data/engine/codes.tsv) maps keys such as "vital.systolic"
 * to a coded term and a UCUM unit. It is sorted by key once at load time and
 * searched by bisection. At load every code is checked against the
 * terminology tables, so the engine can never emit a code they do not list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generators/engine/engine_private.h"

#define VOCAB_FILE "engine/codes.tsv"

typedef struct vocab_entry {
    const char *key;
    fg_term term;
    const char *unit; /* NULL when the table cell is empty */
} vocab_entry;

struct eng_vocab {
    fg_tsv *table;
    vocab_entry *v;
    size_t n;
};

int eng_table_load(const fg_engine *e, const char *rel, fg_tsv **out, fg_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", e->datadir, rel) >= (int)sizeof(path))
        return fg_error_set(err, FG_ELIMIT, rel, "data folder path too long");
    return fg_tsv_load(path, out, err);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const vocab_entry *)a)->key, ((const vocab_entry *)b)->key);
}

void eng_vocab_free(struct eng_vocab *v)
{
    if (!v)
        return;
    fg_tsv_free(v->table);
    free(v->v);
    free(v);
}

int eng_vocab_load(fg_engine *e, fg_error *err)
{
    struct eng_vocab *v = NULL;
    size_t ck, cs, cc, cd, cu;
    int rc;

    v = calloc(1, sizeof(*v));
    if (!v)
        return fg_error_set(err, FG_ENOMEM, VOCAB_FILE, "out of memory");
    rc = eng_table_load(e, VOCAB_FILE, &v->table, err);
    if (rc != FG_OK)
        goto cleanup;
    const fg_tsv *t = v->table;
    if ((rc = fg_tsv_col(t, "key", &ck, err)) || (rc = fg_tsv_col(t, "system_uri", &cs, err)) ||
        (rc = fg_tsv_col(t, "code", &cc, err)) || (rc = fg_tsv_col(t, "display", &cd, err)) ||
        (rc = fg_tsv_col(t, "unit", &cu, err)))
        goto cleanup;
    v->n = fg_tsv_rows(t);
    v->v = calloc(v->n ? v->n : 1, sizeof(*v->v));
    if (!v->v) {
        rc = fg_error_set(err, FG_ENOMEM, VOCAB_FILE, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < v->n; i++) {
        vocab_entry *x = &v->v[i];
        x->key = fg_tsv_cell(t, i, ck);
        x->term.system = fg_tsv_cell(t, i, cs);
        x->term.code = fg_tsv_cell(t, i, cc);
        x->term.display = fg_tsv_cell(t, i, cd);
        const char *u = fg_tsv_cell(t, i, cu);
        x->unit = *u ? u : NULL;
        if (!*x->key || !*x->term.system || !*x->term.code || !*x->term.display) {
            rc = fg_tsv_row_error(t, i, err, FG_EINVALID, "key, system, code and display are required");
            goto cleanup;
        }
        if (e->terms && !fg_terminology_find(e->terms, x->term.system, x->term.code)) {
            rc = fg_error_set(err, FG_ENOTFOUND, VOCAB_FILE,
                              "%s: %s|%s is not in the terminology tables (add it to data/terminology/engine.tsv with its source)",
                              x->key, x->term.system, x->term.code);
            goto cleanup;
        }
    }
    qsort(v->v, v->n, sizeof(*v->v), entry_cmp);
    for (size_t i = 1; i < v->n; i++)
        if (strcmp(v->v[i - 1].key, v->v[i].key) == 0) {
            rc = fg_error_set(err, FG_EINVALID, VOCAB_FILE, "key '%s' appears twice", v->v[i].key);
            goto cleanup;
        }
    e->vocab = v;
    v = NULL;
    rc = FG_OK;
cleanup:
    eng_vocab_free(v);
    return rc;
}

int eng_vocab_term(const fg_engine *e, const char *key, fg_term *out, const char **unit,
                   fg_error *err)
{
    const struct eng_vocab *v = e->vocab;
    size_t lo = 0, hi = v ? v->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v->v[mid].key, key);
        if (c == 0) {
            *out = v->v[mid].term;
            if (unit)
                *unit = v->v[mid].unit;
            return FG_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return fg_error_set(err, FG_EINTERNAL, VOCAB_FILE, "no vocabulary key '%s'", key);
}

int eng_param(const fg_tsv *t, const char *key, double *out, fg_error *err)
{
    size_t ck, cv;
    int rc;
    if ((rc = fg_tsv_col(t, "key", &ck, err)) || (rc = fg_tsv_col(t, "value", &cv, err)))
        return rc;
    for (size_t i = 0; i < fg_tsv_rows(t); i++)
        if (strcmp(fg_tsv_cell(t, i, ck), key) == 0)
            return fg_tsv_double(t, i, cv, out, err);
    return fg_error_set(err, FG_EINVALID, fg_tsv_path(t), "no row with key '%s'", key);
}
