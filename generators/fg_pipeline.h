/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_pipeline.h: a cohort from generator to files.
 *
 * The pipeline runs the engine and the mapper on a pool of worker threads,
 * one patient at a time per worker, and writes the result as it goes, so
 * memory stays flat whatever the cohort size. Patients are taken in batches
 * of consecutive indices; NDJSON output is written in index order, so the
 * files are the same bytes whatever the number of threads.
 *
 * Output layout under out_dir:
 *   bundles/patient-<index>.json      one transaction Bundle per patient
 *   ndjson/<Type>.ndjson              bulk-data style, one file per type
 *                                     (<Type>.shard-<k>-of-<n>.ndjson when sharded)
 *   histories/patient-<index>.json    history documents
 * The files are written by a sink (fg_sink.h), whose rules hold: every
 * file under a temporary name, renamed when complete; a failed or
 * interrupted run removes its temporary files and leaves no NDJSON file;
 * shared resources listed once per NDJSON file.
 */
#ifndef FG_PIPELINE_H
#define FG_PIPELINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "fhir/base/fg_error.h"
#include "generators/engine/fg_engine.h"
#include "generators/fg_sink.h"
#include "generators/map/fg_mapper.h"

/* Limits of one run. A value that would cross one is refused with FG_ELIMIT. */
#define FG_MAX_PATIENTS 100000000LL /* -n per run */
#define FG_MAX_JOBS 256             /* worker threads */

typedef struct fg_progress {
    uint64_t done;      /* patients finished */
    uint64_t total;     /* patients asked for in this run */
    uint64_t resources; /* FHIR resources written so far */
    double seconds;     /* since the start */
} fg_progress;

typedef struct fg_pipeline_options {
    fg_format format;
    const char *out_dir;
    int jobs;        /* worker threads, >= 1 */
    uint64_t first;  /* index of the first patient of this run */
    uint64_t count;  /* patients in this run */
    int shard_k;     /* 1-based shard number, 0 when not sharded */
    int shard_n;
    /* Called from the calling thread about four times a second; may be NULL. */
    void (*progress)(void *ud, const fg_progress *p);
    void *progress_ud;
    /* Set to non-zero (e.g. from a signal handler) to stop early; may be NULL. */
    volatile sig_atomic_t *cancel;
    /* Called from the worker threads with every Bundle before its file is
     * written (bundle format), or with every NDJSON line (ndjson format);
     * may be NULL, must be thread-safe. The bytes are borrowed for the call.
     * A return other than FG_OK fails the run with err. */
    int (*check)(void *ud, uint64_t index, const char *json, size_t len, fg_error *err);
    void *check_ud;
    /* Bundle and history formats: called with each patient's file once it
     * is renamed into place, in index order, from a worker thread, one call
     * at a time. It may block to hold the workers back; it must not take
     * long otherwise. May be NULL. */
    void (*on_file)(void *ud, uint64_t index, const char *path);
    void *on_file_ud;
} fg_pipeline_options;

typedef struct fg_run_summary {
    uint64_t patients;
    uint64_t deceased;
    size_t resources[FG_RT_COUNT];
    uint64_t resources_total;
    uint64_t bytes;
    uint64_t files;
    double seconds;
} fg_run_summary;

/* Generate patients [first, first+count) with e, map them with m (unused
 * for FG_FORMAT_HISTORY) and write them under o->out_dir. Both e and m are
 * shared read-only by the workers. summary (optional) is filled on success
 * and on failure with what was done. Returns FG_OK, FG_ECANCELED when
 * o->cancel was raised, or the first error any worker met (err says which
 * patient and why). */
int fg_pipeline_run(const fg_engine *e, const fg_mapper *m, const fg_pipeline_options *o,
                    fg_run_summary *summary, fg_error *err);

#endif
