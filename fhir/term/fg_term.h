/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_term.h: terminology tables, the ground truth for every clinical code
 * fhirgen writes.
 *
 * A table is a folder of TSV files (the .tsv files of data/terminology, read in name
 * order), each with the header `system_uri code display unit source` and one
 * code a row, listing the codes fhirgen may emit, each taken from the named
 * published source. `unit` is the UCUM unit of a LOINC quantity or empty. The mapper
 * grounds every term of a history against it: a code must exist in its
 * system; a term without a code is looked up by its display (case-insensitive,
 * also against the synonyms column when present). Nothing ungrounded is ever
 * written as FHIR.
 */
#ifndef FG_TERM_H
#define FG_TERM_H

#include <stddef.h>

#include "fhir/base/fg_error.h"

typedef struct fg_terminology fg_terminology;

typedef struct fg_code_entry {
    const char *system;
    const char *code;
    const char *display;
    const char *unit; /* UCUM unit for LOINC quantities, or NULL */
} fg_code_entry;

/* Load every *.tsv file of the folder `dir` (or one TSV file). On success
 * *out is a new table (free with fg_terminology_free). A malformed row is
 * FG_EINVALID naming the file and line. */
int fg_terminology_load(const char *dir, fg_terminology **out, fg_error *err);

/* Accepts NULL. */
void fg_terminology_free(fg_terminology *t);

/* The entry for system|code, or NULL. Borrowed from t. */
const fg_code_entry *fg_terminology_find(const fg_terminology *t, const char *system,
                                         const char *code);

/* The entry whose display (or synonym) matches text in system, ignoring
 * case; NULL when none. Borrowed from t. */
const fg_code_entry *fg_terminology_lookup_display(const fg_terminology *t, const char *system,
                                                   const char *text);

/* The entry named by text in system, forgiving what people and models
 * change in a name: case, surrounding blanks and a final full stop, and a
 * SNOMED CT semantic tag left out or added (" (disorder)", " (finding)",
 * ...). Tries the text as written (fg_terminology_lookup_display), then
 * without its tag, then, for SNOMED CT, with each common tag. NULL when
 * none; borrowed from t. */
const fg_code_entry *fg_terminology_lookup_name(const fg_terminology *t, const char *system,
                                               const char *text);

/* 1 when a and b are the same name by the rules of
 * fg_terminology_lookup_name (case, blanks, semantic tag), else 0. */
int fg_terminology_same_name(const char *a, const char *b);

/* Number of entries, and the i-th (for tests that walk every code). */
size_t fg_terminology_count(const fg_terminology *t);
const fg_code_entry *fg_terminology_at(const fg_terminology *t, size_t i);

/* Check digits: 1 when the code is well formed, 0 otherwise.
 * SNOMED CT: Verhoeff check digit and a concept partition (00 or 10).
 * LOINC: the mod-10 check digit after the hyphen. */
int fg_snomed_valid(const char *code);
int fg_loinc_valid(const char *code);

#endif
