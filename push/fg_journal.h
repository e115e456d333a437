/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_journal.h: the push journal, one fsync'd line per bundle a server
 * acknowledged (the SHA-256 of the bundle's bytes and its path), read back
 * when a push resumes so nothing lands twice.
 */
#ifndef FG_JOURNAL_H
#define FG_JOURNAL_H

#include <stddef.h>

#include "fhir/base/fg_error.h"

typedef struct fg_journal fg_journal;

/* Open (create when missing) the journal at path. With resume, the lines
 * already in it are read so fg_journal_contains() finds them; without,
 * an existing journal is truncated. *out is a new journal (close with
 * fg_journal_close). FG_EIO with the path and errno text on failure. */
int fg_journal_open(const char *path, int resume, fg_journal **out, fg_error *err);

/* Whether a bundle with this SHA-256 (64 lower-case hex digits) was already
 * acknowledged. */
int fg_journal_contains(const fg_journal *j, const char *sha256_hex);

/* Record an acknowledged bundle: "<sha256> <path>\n", written and fsync'd
 * before returning. FG_OK or FG_EIO. */
int fg_journal_append(fg_journal *j, const char *sha256_hex, const char *path, fg_error *err);

/* Number of bundles recorded (read at open plus appended). */
size_t fg_journal_count(const fg_journal *j);

/* Close the journal; accepts NULL. */
void fg_journal_close(fg_journal *j);

#endif
