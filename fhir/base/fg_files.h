/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_files.h: the file system chores every part of fhirgen shares.
 *
 *   fg_mkdirs           mkdir -p
 *   fg_atomic_*         a file that appears whole or not at all: bytes go to
 *                       a temporary name in the same folder
 *                       (.<name>.<pid>-<n>.tmp, unique per process and call),
 *                       and the file is renamed into place; a failure or an
 *                       abort removes the temporary. This guards against a
 *                       run that fails or is killed, not against a power
 *                       loss: the file is not fsync'ed (a cohort is tens of
 *                       thousands of files, and an fsync each made writing
 *                       one on disk 1.7 times slower). What must survive a
 *                       power loss (the push journal) syncs itself.
 *   fg_write_file_atomic  the same for bytes already in memory
 *   fg_walk             the files of a folder in name order, optionally its
 *                       subfolders too, filtered by suffix
 *   fg_list_names       the names of a folder's files with one suffix, as a
 *                       sorted array
 *
 * Errors name the path and carry the system's reason (strerror).
 */
#ifndef FG_FILES_H
#define FG_FILES_H

#include <stddef.h>

#include "fhir/base/fg_error.h"

/* Create dir and every missing parent (mode 0777 less the umask). FG_OK when
 * dir exists as a folder afterwards (already there is fine); FG_EIO naming
 * the first folder that could not be made, FG_EUSAGE for an empty or too
 * long path. */
int fg_mkdirs(const char *dir, fg_error *err);

/* A file being written under its temporary name. */
typedef struct fg_atomic_file fg_atomic_file;

/* Start writing path (its folder must exist). *out is new: finish it with
 * fg_atomic_commit or fg_atomic_abort. FG_EIO, FG_ENOMEM, FG_EUSAGE (path
 * too long). */
int fg_atomic_open(const char *path, fg_atomic_file **out, fg_error *err);

/* Append n bytes (buffered). FG_EIO naming the final path. */
int fg_atomic_write(fg_atomic_file *f, const void *data, size_t n, fg_error *err);

/* Flush, close and rename into place; frees f (also on failure,
 * when the temporary is removed). Accepts NULL (FG_OK). */
int fg_atomic_commit(fg_atomic_file *f, fg_error *err);

/* Close f and remove its temporary; frees f. Accepts NULL. */
void fg_atomic_abort(fg_atomic_file *f);

/* The final path of f; borrowed for f's life. */
const char *fg_atomic_path(const fg_atomic_file *f);

/* Write data[0..n) to path through a temporary and rename. Nothing
 * is left at the temporary name on failure. */
int fg_write_file_atomic(const char *path, const void *data, size_t n, fg_error *err);

/* What fg_walk reports. */
enum {
    FG_WALK_FILES = 1,   /* regular files (the default when none is asked) */
    FG_WALK_FOLDERS = 2, /* folders (reported, and entered when recursing) */
    FG_WALK_RECURSE = 4, /* enter subfolders, in name order among the files */
};

typedef struct fg_walk_options {
    int flags;                    /* FG_WALK_* */
    const char *const *suffixes;  /* NULL-terminated; a file is reported when its name ends
                                   * with one of them; NULL: every file */
    size_t max_entries;           /* FG_ELIMIT when more would be reported; 0: no limit */
    int max_depth;                /* subfolder levels entered at most; 0: 64 */
    /* Called with a folder that cannot be listed (or is nested too deep):
     * its whole path and the error; FG_OK skips it and the walk goes on,
     * anything else stops the walk with that code. NULL: stop with the
     * error. */
    int (*on_error)(void *ud, const char *dir, const fg_error *e);
} fg_walk_options;

/* Call each(ud, path, name) for the entries of dir, sorted by name (bytes)
 * per folder; path is dir/name (dir/sub/name when recursing), name the last
 * part. Names starting with '.' are skipped. A non-zero return of each stops
 * the walk with that code. FG_ENOTFOUND (dir cannot be opened), FG_ENOMEM,
 * FG_ELIMIT, with the path and the system's reason in err. */
int fg_walk(const char *dir, const fg_walk_options *o,
            int (*each)(void *ud, const char *path, const char *name), void *ud,
            fg_error *err);

/* The names of the files of dir (not of its subfolders) ending with suffix
 * (NULL: every file), sorted by name, into *names: a new array of *n
 * malloc'd strings, which fg_names_free releases. At most max names (0: no
 * limit). fg_walk's codes: FG_ENOTFOUND, FG_EIO, FG_ENOMEM, FG_ELIMIT
 * (err names dir; a caller may give its own words); *names and *n are
 * written only on success. */
int fg_list_names(const char *dir, const char *suffix, size_t max, char ***names, size_t *n,
                  fg_error *err);

/* Free what fg_list_names gave; accepts NULL. */
void fg_names_free(char **names, size_t n);

#endif
