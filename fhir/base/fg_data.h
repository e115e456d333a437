/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_data.h: where fhirgen's data files (condition modules, tables,
 * terminology, the history schema) are found at run time.
 *
 * In order: the folder the program set with fg_data_set_dir (the fhirgen
 * program takes it from FHIRGEN_DATA_DIR); the data folder of the source
 * tree when the running program is the one in its build folder; the
 * installed data folder (<prefix>/share/fhirgen). The library never reads
 * the environment.
 */
#ifndef FG_DATA_H
#define FG_DATA_H

#include <stddef.h>

/* Use dir as the data folder (copied; NULL or "" goes back to the default
 * above). Call it at start-up, before any thread or any fg_data_dir caller
 * runs. */
void fg_data_set_dir(const char *dir);

/* The data folder in use; borrowed, never NULL. */
const char *fg_data_dir(void);

/* Join the data folder and a relative path into out; returns out, or NULL
 * when it does not fit. */
char *fg_data_path(const char *rel, char *out, size_t size);

/* Read a whole file into a new NUL-terminated buffer (free() it). Returns
 * FG_OK, FG_ENOTFOUND, FG_EIO or FG_ELIMIT (larger than max bytes). */
struct fg_error;
int fg_read_file(const char *path, size_t max, char **out, size_t *len, struct fg_error *err);

#endif
