/*
 * fg_ground.h: grounding every term of a history against the terminology
 * tables, and the list of findings that grounding and the coherence checks
 * (fg_coherence.h) produce.
 *
 * A history written by a model names its terms by code, by name, or both.
 * Grounding makes every term one row of the tables (data/terminology):
 * a code must exist in its system and its display must be that row's
 * display or one of its synonyms; a term given only by name is looked up by
 * display and synonym and gets the row's code. What cannot be grounded is a
 * finding: a path into the history document (`conditions[2].code`, the JSON
 * member names of docs/history.md) and a message a model can act on. The
 * findings are what the repair prompt sends back (fg_findings_render) and
 * what the summary counts by kind.
 *
 * Memory: a finding list owns its paths and messages (malloc'd); strings
 * that grounding writes into a history (codes, displays, units) are
 * borrowed from the terminology, which must outlive the history.
 */
#ifndef FG_GROUND_H
#define FG_GROUND_H

#include <stddef.h>

#include "fhir/base/fg_error.h"
#include "fhir/term/fg_term.h"
#include "generators/history/fg_history.h"

/* Limits of grounding and coherence findings. A value that would cross one is refused with
 * FG_ELIMIT. */
#define FG_MAX_FINDINGS 1000     /* findings one history keeps (the rest are counted) */
#define FG_MAX_FINDING_BYTES 512 /* one finding's message */

struct fg_buf;

/* What went wrong, for the summary. Stable numbers; new kinds are appended. */
typedef enum fg_finding_kind {
    FG_FIND_HALLUCINATED = 0, /* a code not in its system's table (or malformed) */
    FG_FIND_DISPLAY = 1,      /* the code exists, the display names another concept */
    FG_FIND_UNKNOWN_TERM = 2, /* no code, and the name matches no display or synonym */
    FG_FIND_UNIT = 3,         /* a LOINC quantity not in the table's unit, or without value */
    FG_FIND_INCOHERENT = 4,   /* dates, references, sex/age, physiology, notes */
    FG_FIND_KIND_COUNT
} fg_finding_kind;

/* One finding. `list` is the history list the item belongs to (a static
 * string: "encounters", "conditions", "observations", "reports",
 * "medications", "immunizations", "procedures", "allergies", "careplans",
 * "notes"), or NULL for the patient; `index` is the item's index in that
 * list, so a caller can drop the item. `path` is the full document path,
 * e.g. `observations[4].components[1].unit`. */
typedef struct fg_finding {
    fg_finding_kind kind;
    const char *list;
    size_t index;
    char *path;
    char *message;
} fg_finding;

typedef struct fg_findings {
    fg_finding *v;
    size_t n, cap;
    size_t fixed;   /* displays normalised silently (same concept, other case/synonym) */
    size_t dropped; /* findings not kept, past FG_MAX_FINDINGS */
} fg_findings;

void fg_findings_init(fg_findings *f);

/* Forget every finding, keeping the memory. */
void fg_findings_reset(fg_findings *f);

/* Release all memory; accepts NULL. */
void fg_findings_free(fg_findings *f);

/* Append a finding (path and message are copied, the message cut at
 * FG_MAX_FINDING_BYTES). Returns FG_OK, or FG_ENOMEM; past FG_MAX_FINDINGS
 * findings the call succeeds and only counts the finding in f->dropped. */
int fg_findings_add(fg_findings *f, fg_finding_kind kind, const char *list, size_t index,
                    const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Number of findings of one kind. */
size_t fg_findings_count(const fg_findings *f, fg_finding_kind kind);

/* "hallucinated code", "display mismatch", ...; static, never NULL. */
const char *fg_finding_kind_name(fg_finding_kind kind);

/* Append the findings to out as the lines of a repair prompt's `<errors>`
 * block, one `path: message\n` line each (without the `<errors>` lines
 * themselves), at most `max` lines (0: all) and then one line saying how
 * many more were left out. Returns FG_OK or FG_ENOMEM. */
int fg_findings_render(const fg_findings *f, size_t max, struct fg_buf *out);

/* 1 when some finding names item `index` of `list` (or, with list NULL, the
 * patient), else 0. */
int fg_findings_names(const fg_findings *f, const char *list, size_t index);

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
