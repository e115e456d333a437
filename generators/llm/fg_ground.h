/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_ground.h: grounding every term of a history against the terminology
 * tables, and pruning from a history what the findings of grounding and of
 * the plausibility rules (validators/fg_plausibility.h) name.
 *
 * A history written by a model names its terms by code, by name, or both.
 * Grounding makes every term one row of the tables (data/terminology):
 * a code must exist in its system and its display must be that row's
 * display or one of its synonyms; a term given only by name is looked up by
 * display and synonym and gets the row's code. What cannot be grounded is a
 * finding (validators/fg_findings.h): a path into the history document and
 * a message a model can act on.
 *
 * Memory: strings that grounding writes into a history (codes, displays,
 * units) are borrowed from the terminology, which must outlive the history.
 */
#ifndef FG_GROUND_H
#define FG_GROUND_H

#include <stddef.h>

#include "fhir/base/fg_error.h"
#include "fhir/term/fg_term.h"
#include "generators/history/fg_history.h"
#include "validators/fg_findings.h"

/* Remove from h every item a finding names (by list and index), and what
 * depended on it: the events of a removed encounter; a removed condition
 * from medication and procedure reasons and care plan addresses; a removed
 * observation from report results (a report left with none goes too).
 * Findings about the patient (list NULL) remove nothing: a caller decides
 * about those. Afterwards the findings' indices no longer match h; run the
 * checks again on what is left. *removed (may be NULL) counts the items
 * removed. Returns FG_OK or FG_ENOMEM (h unchanged). */
int fg_findings_prune(fg_history *h, const fg_findings *f, size_t *removed, fg_error *err);

/* Ground every term of h against t: encounter types and reasons,
 * conditions, observations (their components, units and coded values),
 * reports, medications, immunizations, procedures, allergies (substance and
 * reaction), care plans (category and activities), note types, the cause
 * of death. A term given by name gets its code and the table's display; a
 * term given by code whose display is the same concept's display or
 * synonym (ignoring case) gets the table's display silently (counted in
 * out->fixed); everything else is appended to out. h is modified in place
 * (strings borrowed from t). Returns FG_OK even when findings were added;
 * FG_ENOMEM or FG_EUSAGE (t or h NULL) in err otherwise. */
int fg_ground_history(const fg_terminology *t, fg_history *h, fg_findings *out, fg_error *err);

/* Ground one term with the rules above; `system` is used when term->system
 * is NULL. On success returns FG_OK, rewrites term (system, code, display
 * borrowed from t), sets *entry (borrowed) and *fixed to 1 when the display
 * was normalised. Otherwise returns FG_ENOTFOUND, leaves term as it was and
 * fills *kind and msg (at most msg_size bytes, without the path). */
int fg_ground_term(const fg_terminology *t, const char *system, fg_term *term,
                   const fg_code_entry **entry, int *fixed, fg_finding_kind *kind, char *msg,
                   size_t msg_size);

#endif
