/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_sink.h: where every generator's output goes to disk.
 *
 * One sink writes one run into one folder, out_dir/<subfolder>:
 *   bundles/<name>.json     one transaction Bundle per patient
 *   histories/<name>.json   one history document per patient
 *   ndjson/<Type>.ndjson    one file per resource type, patients in index
 *                           order (<Type>.shard-K-of-N.ndjson when sharded)
 * <name> is patient-<index, 8 digits> unless the caller names the file.
 *
 * Patients are numbered from `first`. Per-patient files may be put from any
 * thread in any order; NDJSON pieces may arrive out of order too, and wait
 * (at most `window` patients ahead of the first unfinished one) until every
 * earlier patient is put or skipped, so the files are the same bytes
 * whatever the order of work.
 *
 * The rules, the same for the engine pipeline, `generate --llm` and
 * `fhirgen map`:
 *   - Every file is written under a temporary name in its folder
 *     and renamed into place (fg_files.h). A per-patient file is renamed as
 *     soon as it is complete; the NDJSON files only when the whole run is
 *     (fg_sink_close with ok): a failed or interrupted run leaves no NDJSON
 *     file and no temporary, only the per-patient files already complete.
 *   - The first failure (I/O, memory, a broken promise of the caller) fails
 *     the sink: that call and every later one return the same error, and
 *     fg_sink_close removes what is unfinished. If renaming one NDJSON file
 *     fails after others were renamed, those are removed again.
 *   - Shared resources (Organization, Practitioner, Location) are written
 *     to NDJSON once: a line whose id (as the mapper gives it, fg_sink_ids)
 *     was already written is left out and counted in stats.skipped; the
 *     first patient in index order keeps it.
 *   - A file name put twice in one run is an error (FG_EINVALID): nothing
 *     is ever overwritten within a run.
 */
#ifndef FG_SINK_H
#define FG_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"
#include "generators/history/fg_history.h"
#include "generators/map/fg_mapper.h"

typedef enum fg_format {
    FG_FORMAT_BUNDLE = 0,
    FG_FORMAT_NDJSON = 1,
    FG_FORMAT_HISTORY = 2,
} fg_format;

/* "bundle", "ndjson", "history"; static. */
const char *fg_format_name(fg_format f);

/* The subfolder of a format: "bundles", "ndjson", "histories"; static. */
const char *fg_format_folder(fg_format f);

typedef struct fg_sink_options {
    fg_format format;
    const char *out_dir;   /* the subfolder is made under it (mkdir -p) */
    uint64_t first, count; /* patients [first, first+count) */
    size_t window;         /* patients held ahead of the first unfinished one (0: 1) */
    int shard_k, shard_n;  /* NDJSON names with .shard-K-of-N when shard_n > 0 */
    /* Per-patient formats: called with each file's path once it is renamed
     * into place, in index order (a file waits for every earlier patient),
     * from whichever thread completed the order, under the sink's lock: it
     * may block (back-pressure) but must not call the sink. May be NULL. */
    void (*on_file)(void *ud, uint64_t index, const char *path);
    void *ud;
} fg_sink_options;

typedef struct fg_sink_stats {
    uint64_t files, bytes;             /* renamed into place (NDJSON: counted at close) */
    uint64_t skipped[FG_RT_COUNT];     /* shared resources left out as written before */
    uint64_t skipped_bytes;
} fg_sink_stats;

/* The ids of the shared resources in a piece of NDJSON, in line order per
 * type (fg_sink_ids_add). Reused across pieces: fg_sink_ids_clear. */
typedef struct fg_sink_ids {
    fg_buf ids[FG_RT_COUNT]; /* FG_MAP_ID_SIZE - 1 bytes per id, back to back */
} fg_sink_ids;

void fg_sink_ids_init(fg_sink_ids *ids);
void fg_sink_ids_clear(fg_sink_ids *ids);
void fg_sink_ids_free(fg_sink_ids *ids);

/* Append the ids of h's shared resources as fg_map_ndjson writes their
 * lines (call it with each fg_map_ndjson of the piece, in the same order).
 * FG_ENOMEM. */
int fg_sink_ids_add(fg_sink_ids *ids, const fg_mapper *m, const fg_history *h, fg_error *err);

typedef struct fg_sink fg_sink;

/* Make the subfolder and an empty sink. *out is new: fg_sink_close frees
 * it. FG_EIO (the folder), FG_ENOMEM, FG_EUSAGE (bad options). */
int fg_sink_open(const fg_sink_options *o, fg_sink **out, fg_error *err);

/* 1 when patient index may be put now (its place in the window is free;
 * always for per-patient files without on_file). */
int fg_sink_room(fg_sink *s, uint64_t index);

/* Write one patient's file (bundle or history format): data[0..len) as is,
 * under `name` (NULL: patient-<index>.json). Thread-safe. */
int fg_sink_put_file(fg_sink *s, uint64_t index, const char *name, const char *data,
                     size_t len, fg_error *err);

/* Patients [index, index+n) as NDJSON: bufs[t] holds their lines of type t
 * in order, ids the ids of their shared resources (fg_sink_ids_add; NULL
 * when bufs has no shared lines). The bytes are written now when every
 * earlier patient is in, else copied and held. bufs and ids are borrowed
 * for the call. */
int fg_sink_put_ndjson(fg_sink *s, uint64_t index, uint64_t n, fg_buf *bufs,
                       const fg_sink_ids *ids, fg_error *err);

/* Patients [index, index+n) make no output (dropped by the caller). */
int fg_sink_skip(fg_sink *s, uint64_t index, uint64_t n, fg_error *err);

/* What was written so far. */
void fg_sink_get_stats(fg_sink *s, fg_sink_stats *st);

/* Finish the run: with ok, every patient must have been put or skipped
 * (checked for NDJSON and with on_file) and the NDJSON files are renamed
 * into place; without ok (a failure or a
 * cancel elsewhere) the NDJSON temporaries are removed. stats (optional)
 * gets the final counts. Frees s; accepts NULL. Returns the sink's first
 * error, or FG_OK. */
int fg_sink_close(fg_sink *s, int ok, fg_sink_stats *stats, fg_error *err);

#endif
