/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsv.c: the tab-separated file reader (see fg_tsv.h for the format).
 *
 * The table keeps the file's text and cuts it in place: tabs and line ends
 * become NULs, and `cells` points at the start of each cell, row-major,
 * with the header as row 0. `lines` holds the file line of the header and
 * of each data row, so callers can name the line of a row they reject.
 */
#include "fhir/base/fg_tsv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_data.h"

struct fg_tsv {
    char *text;
    char **cells; /* (rows + 1) * cols; row 0 is the header */
    int *lines;   /* rows + 1 */
    size_t rows, cols;
    char path[FG_ERROR_WHERE_MAX];
};

static int line_verror(const char *path, int line, fg_error *err, int code, const char *fmt,
                       va_list ap)
{
    char msg[FG_ERROR_TEXT_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    fg_error_set(err, code, path, "line %d: %s", line, msg);
    if (err)
        err->line = line;
    return code;
}

static int line_error(const char *path, int line, fg_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int line_error(const char *path, int line, fg_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_verror(path, line, err, code, fmt, ap);
    va_end(ap);
    return code;
}

void fg_tsv_free(fg_tsv *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->cells);
    free(t->lines);
    free(t);
}

static size_t count_cells(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        if (*s == '\t')
            n++;
    return n;
}

/* Cut the line s (NUL-terminated, without its line end) into cells and keep
 * it as row *kept: the header when it is the first. The arrays were sized
 * for every line and cell of the file, so they have room. */
static int add_row(fg_tsv *t, size_t *kept, char *s, int line, fg_error *err)
{
    size_t n = count_cells(s);
    if (*kept == 0)
        t->cols = n;
    else if (n != t->cols)
        return line_error(t->path, line, err, FG_EINVALID, "%zu cells where the header has %zu",
                          n, t->cols);
    if (*kept > FG_MAX_TABLE_ROWS)
        return fg_error_set(err, FG_ELIMIT, t->path, "more than FG_MAX_TABLE_ROWS (%d) rows",
                            FG_MAX_TABLE_ROWS);
    char **row = t->cells + *kept * t->cols;
    size_t c = 0;
    row[c++] = s;
    for (char *p = s; *p; p++)
        if (*p == '\t') {
            *p = 0;
            row[c++] = p + 1;
        }
    t->lines[*kept] = line;
    (*kept)++;
    return FG_OK;
}

int fg_tsv_load(const char *path, fg_tsv **out, fg_error *err)
{
    fg_tsv *t = NULL;
    size_t len = 0, kept = 0, n_lines = 1, n_cells = 1;
    int line = 0;
    int rc;

    t = calloc(1, sizeof(*t));
    if (!t)
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    snprintf(t->path, sizeof(t->path), "%s", path);
    rc = fg_read_file(path, FG_MAX_TSV_BYTES, &t->text, &len, err);
    if (rc != FG_OK)
        goto cleanup;
    for (size_t i = 0; i < len; i++) { /* bounds: every line kept, every tab a cell */
        n_lines += t->text[i] == '\n';
        n_cells += t->text[i] == '\n' || t->text[i] == '\t';
    }
    t->cells = malloc(n_cells * sizeof(*t->cells));
    t->lines = malloc(n_lines * sizeof(*t->lines));
    if (!t->cells || !t->lines) {
        rc = fg_error_set(err, FG_ENOMEM, path, "out of memory");
        goto cleanup;
    }
    char *p = t->text, *end = t->text + len; /* *end is the NUL fg_read_file adds */
    while (p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        *eol = 0;
        if (eol > p && eol[-1] == '\r')
            eol[-1] = 0;
        line++;
        if (*p != 0 && *p != '#') { /* blank lines and comments are skipped */
            rc = add_row(t, &kept, p, line, err);
            if (rc != FG_OK)
                goto cleanup;
        }
        p = eol + 1;
    }
    if (kept == 0) {
        rc = fg_error_set(err, FG_EINVALID, path,
                          "no header line: the file is empty or holds only comments");
        goto cleanup;
    }
    t->rows = kept - 1;
    *out = t;
    t = NULL;
cleanup:
    fg_tsv_free(t);
    return rc;
}

const char *fg_tsv_path(const fg_tsv *t)
{
    return t ? t->path : "";
}

size_t fg_tsv_rows(const fg_tsv *t)
{
    return t ? t->rows : 0;
}

size_t fg_tsv_cols(const fg_tsv *t)
{
    return t ? t->cols : 0;
}

int fg_tsv_col(const fg_tsv *t, const char *name, size_t *col, fg_error *err)
{
    for (size_t i = 0; i < t->cols; i++)
        if (strcmp(t->cells[i], name) == 0) {
            *col = i;
            return FG_OK;
        }
    return line_error(t->path, t->lines[0], err, FG_EINVALID,
                      "the header has no column named '%s'", name);
}

const char *fg_tsv_cell(const fg_tsv *t, size_t row, size_t col)
{
    if (!t || row >= t->rows || col >= t->cols)
        return NULL;
    return t->cells[(row + 1) * t->cols + col];
}

int fg_tsv_line(const fg_tsv *t, size_t row)
{
    return t && row < t->rows ? t->lines[row + 1] : 0;
}

int fg_tsv_double(const fg_tsv *t, size_t row, size_t col, double *out, fg_error *err)
{
    const char *s = fg_tsv_cell(t, row, col);
    if (!s)
        return fg_error_set(err, FG_EINTERNAL, fg_tsv_path(t), "no cell at row %zu, column %zu",
                            row, col);
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end)
        return fg_tsv_row_error(t, row, err, FG_EINVALID, "column %s: '%s' is not a number",
                                t->cells[col], s);
    *out = d;
    return FG_OK;
}

int fg_tsv_row_error(const fg_tsv *t, size_t row, fg_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_verror(fg_tsv_path(t), fg_tsv_line(t, row), err, code, fmt, ap);
    va_end(ap);
    return code;
}
