/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_findings.h: the list of findings that the checks of a history produce:
 * grounding its terms against the terminology (generators/llm/fg_ground.h)
 * and the plausibility rules (validators/fg_plausibility.h).
 *
 * A finding is a path into the history document (`conditions[2].code`, the
 * JSON member names of docs/history.md) and a message a model can act on.
 * The findings are what the repair prompt sends back (fg_findings_render)
 * and what the summary counts by kind.
 *
 * Memory: a finding list owns its paths and messages (malloc'd).
 */
#ifndef FG_FINDINGS_H
#define FG_FINDINGS_H

#include <stddef.h>

/* Limits of the findings of one history. A value that would cross one is
 * refused with FG_ELIMIT. */
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

#endif
