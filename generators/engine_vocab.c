/*
 * engine_vocab.c: the engine's data-file reader and its vocabulary.
 *
 * Every data file of the engine is a small TSV table: '#' lines name the
 * source, the first other line is the header. eng_tsv_load reads one whole
 * and splits it in place, so the cells are plain C strings that live as long
 * as the engine; histories borrow them without copying.
 *
 * The vocabulary (data/engine/codes.tsv) maps keys such as "vital.systolic"
 * to a coded term and a UCUM unit. It is sorted by key once at load time and
 * searched by bisection. At load every code is checked against the
 * terminology tables, so the engine can never emit a code they do not list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fhir/fg_data.h"
#include "../fhir/fg_limits.h"
#include "engine_private.h"

#define VOCAB_FILE "engine/codes.tsv"

typedef struct vocab_entry {
    const char *key;
    fg_term term;
    const char *unit; /* NULL when the table cell is empty */
} vocab_entry;

struct eng_vocab {
    eng_tsv table;
    vocab_entry *v;
    size_t n;
};

static size_t count_cells(const char *line, const char *end)
{
    size_t n = 1;
    for (const char *p = line; p < end; p++)
        if (*p == '\t')
            n++;
    return n;
}

int eng_tsv_load(const char *datadir, const char *rel, eng_tsv *t, fg_error *err)
{
    char path[4096];
    char *text = NULL;
    size_t len = 0, rows = 0, cols = 0, cap = 0, line_no = 0;
    char **cells = NULL;
    int rc;

    memset(t, 0, sizeof(*t));
    snprintf(t->path, sizeof(t->path), "%s", rel);
    if (snprintf(path, sizeof(path), "%s/%s", datadir, rel) >= (int)sizeof(path))
        return fg_error_set(err, FG_ELIMIT, rel, "data folder path too long");
    rc = fg_read_file(path, FG_MAX_DATA_FILE_BYTES, &text, &len, err);
    if (rc != FG_OK) {
        if (err)
            snprintf(err->where, sizeof(err->where), "%s", rel);
        return rc;
    }
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        line_no++;
        if (eol > p && eol[-1] == '\r')
            eol[-1] = 0;
        *eol = 0;
        if (*p == '#' || *p == 0) {
            p = eol + 1;
            continue;
        }
        size_t n = count_cells(p, eol);
        if (cols == 0) {
            cols = n;
        } else if (n != cols) {
            rc = fg_error_set(err, FG_EINVALID, rel,
                              "line %zu has %zu cells, the header has %zu", line_no, n, cols);
            if (err)
                err->line = (int)line_no;
            goto cleanup;
        }
        if ((rows + 1) * cols > cap) {
            if (rows > FG_MAX_TABLE_ROWS) {
                rc = fg_error_set(err, FG_ELIMIT, rel, "more than %d rows", FG_MAX_TABLE_ROWS);
                goto cleanup;
            }
            size_t ncap = cap ? cap * 2 : 64 * cols;
            char **nc = realloc(cells, ncap * sizeof(*nc));
            if (!nc) {
                rc = fg_error_set(err, FG_ENOMEM, rel, "out of memory");
                goto cleanup;
            }
            cells = nc;
            cap = ncap;
        }
        char **row = cells + rows * cols;
        size_t c = 0;
        row[c++] = p;
        for (char *q = p; q < eol; q++)
            if (*q == '\t') {
                *q = 0;
                row[c++] = q + 1;
            }
        rows++;
        p = eol + 1;
    }
    if (rows == 0) {
        rc = fg_error_set(err, FG_EINVALID, rel, "no header line");
        goto cleanup;
    }
    t->text = text;
    t->header = cells;
    t->cells = cells + cols;
    t->rows = rows - 1;
    t->cols = cols;
    text = NULL;
    cells = NULL;
    rc = FG_OK;
cleanup:
    free(text);
    free(cells);
    return rc;
}

void eng_tsv_free(eng_tsv *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->header);
    memset(t, 0, sizeof(*t));
}

int eng_tsv_col(const eng_tsv *t, const char *name, size_t *col, fg_error *err)
{
    for (size_t i = 0; i < t->cols; i++)
        if (strcmp(t->header[i], name) == 0) {
            *col = i;
            return FG_OK;
        }
    return fg_error_set(err, FG_EINVALID, t->path, "no column named '%s' in the header", name);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const vocab_entry *)a)->key, ((const vocab_entry *)b)->key);
}

void eng_vocab_free(struct eng_vocab *v)
{
    if (!v)
        return;
    eng_tsv_free(&v->table);
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
    rc = eng_tsv_load(e->datadir, VOCAB_FILE, &v->table, err);
    if (rc != FG_OK)
        goto cleanup;
    if ((rc = eng_tsv_col(&v->table, "key", &ck, err)) ||
        (rc = eng_tsv_col(&v->table, "system_uri", &cs, err)) ||
        (rc = eng_tsv_col(&v->table, "code", &cc, err)) ||
        (rc = eng_tsv_col(&v->table, "display", &cd, err)) ||
        (rc = eng_tsv_col(&v->table, "unit", &cu, err)))
        goto cleanup;
    v->n = v->table.rows;
    v->v = calloc(v->n ? v->n : 1, sizeof(*v->v));
    if (!v->v) {
        rc = fg_error_set(err, FG_ENOMEM, VOCAB_FILE, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < v->n; i++) {
        vocab_entry *x = &v->v[i];
        x->key = eng_tsv_at(&v->table, i, ck);
        x->term.system = eng_tsv_at(&v->table, i, cs);
        x->term.code = eng_tsv_at(&v->table, i, cc);
        x->term.display = eng_tsv_at(&v->table, i, cd);
        const char *u = eng_tsv_at(&v->table, i, cu);
        x->unit = *u ? u : NULL;
        if (!*x->key || !*x->term.system || !*x->term.code || !*x->term.display) {
            rc = fg_error_set(err, FG_EINVALID, VOCAB_FILE, "row %zu: key, system, code and display are required", i + 1);
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

int eng_tsv_param(const eng_tsv *t, const char *key, double *out, fg_error *err)
{
    size_t ck, cv;
    int rc;
    if ((rc = eng_tsv_col(t, "key", &ck, err)) || (rc = eng_tsv_col(t, "value", &cv, err)))
        return rc;
    for (size_t i = 0; i < t->rows; i++)
        if (strcmp(eng_tsv_at(t, i, ck), key) == 0) {
            char *end;
            const char *s = eng_tsv_at(t, i, cv);
            double d = strtod(s, &end);
            if (end == s || *end)
                return fg_error_set(err, FG_EINVALID, t->path, "%s: '%s' is not a number", key, s);
            *out = d;
            return FG_OK;
        }
    return fg_error_set(err, FG_EINVALID, t->path, "no row with key '%s'", key);
}
