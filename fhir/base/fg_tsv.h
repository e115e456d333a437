/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_tsv.h: the one reader of fhirgen's tab-separated data files
 * (terminology tables, the US Core code table, the engine's tables).
 *
 * A file is read whole and cut in place: every cell is a NUL-terminated
 * string inside the table's own copy of the file, so a cell lives as long
 * as the table and callers (and the histories they build) may borrow it
 * without copying.
 *
 * The format: lines end in "\n" or "\r\n"; lines that are empty or start
 * with '#' are skipped wherever they stand (they name a table's source);
 * the first other line is the header, which names the columns; every
 * other line is a data row with exactly as many tab-separated cells as the
 * header. Callers find columns by name (fg_tsv_col), never by position.
 */
#ifndef FG_TSV_H
#define FG_TSV_H

#include <stddef.h>

#include "fhir/base/fg_error.h"

/* Limits of fg_tsv_load. A value that would cross one is refused with FG_ELIMIT. */
#define FG_MAX_TABLE_ROWS 1000000    /* rows of one data table */
#define FG_MAX_TSV_BYTES (64u << 20) /* one tab-separated data file (fg_tsv_load) */

typedef struct fg_tsv fg_tsv;

/* Read the file at path (at most FG_MAX_TSV_BYTES, FG_MAX_TABLE_ROWS data
 * rows). On success *out is a new table that the caller owns (free with
 * fg_tsv_free); on failure *out is untouched. Errors name the path as
 * given: FG_ENOTFOUND, FG_EIO, FG_ELIMIT, FG_ENOMEM, or FG_EINVALID with
 * err->line set for a row whose cell count differs from the header's, or
 * a file without a header line. */
int fg_tsv_load(const char *path, fg_tsv **out, fg_error *err);

/* Free the table and every cell in it; accepts NULL. */
void fg_tsv_free(fg_tsv *t);

/* The path the table was loaded from; borrowed from t. */
const char *fg_tsv_path(const fg_tsv *t);

/* Number of data rows (the header not counted) and of columns. */
size_t fg_tsv_rows(const fg_tsv *t);
size_t fg_tsv_cols(const fg_tsv *t);

/* The index of the header column called name into *col. A missing column
 * is FG_EINVALID naming the file, the header's line and the column. */
int fg_tsv_col(const fg_tsv *t, const char *name, size_t *col, fg_error *err);

/* The cell at data row `row`, column `col`: borrowed from t, valid until
 * fg_tsv_free; "" for an empty cell, NULL when row or col is out of range. */
const char *fg_tsv_cell(const fg_tsv *t, size_t row, size_t col);

/* The line of the file that data row `row` stands on (1-based), for
 * messages; 0 when row is out of range. */
int fg_tsv_line(const fg_tsv *t, size_t row);

/* The cell at (row, col) as a number into *out. A cell that is not one
 * number is FG_EINVALID naming the file, line and column; *out is written
 * only on success. */
int fg_tsv_double(const fg_tsv *t, size_t row, size_t col, double *out, fg_error *err);

/* Fill err for a problem with data row `row`: where = the file, line = its
 * line, text = "line N: " and the formatted message. Returns code, so a
 * check reads `return fg_tsv_row_error(t, r, err, FG_EINVALID, ...);`. */
int fg_tsv_row_error(const fg_tsv *t, size_t row, fg_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
