/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline.c: workers generate and map batches of consecutive patients into
 * a ring of slots; the calling thread consumes the slots in batch order,
 * hands their NDJSON to the sink (fg_sink.h) and reports progress. Bundle
 * and history files are put to the sink by the workers themselves (the sink
 * keeps their order for on_file); their slots carry only counts.
 */
#include "generators/fg_pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fhir/base/fg_buf.h"

#define BATCH 16
/* Memory kept between patients: a worker's arena and buffers above these
 * sizes are given back, so peak memory does not creep up with the largest
 * patient of a long run. */
#define KEEP_ARENA_BYTES (256u << 10)
#define KEEP_BUFFER_BYTES (64u << 10)

typedef struct slot {
    uint64_t expected; /* the batch this slot may hold next */
    int ready;
    fg_buf bufs[FG_RT_COUNT]; /* NDJSON per type */
    fg_sink_ids ids;          /* the shared resources' ids of those lines */
    uint64_t patients, deceased;
    fg_map_stats stats;
} slot;

typedef struct run {
    const fg_engine *e;
    const fg_mapper *m;
    const fg_pipeline_options *o;
    fg_sink *sink;
    uint64_t n_batches;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_batch;
    slot *slots;
    size_t n_slots;
    pthread_t *threads;
    int started;
    int locks;
    int failed; /* 1 an error (err), 2 canceled */
    fg_error err;
} run;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(run *r, const fg_error *e)
{
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        r->failed = 1;
        r->err = *e;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Map h into the slot's NDJSON buffers and note its shared ids; every new
 * line goes through o->check. */
static int one_ndjson(run *r, uint64_t index, const fg_history *h, slot *s, fg_error *err)
{
    const fg_pipeline_options *o = r->o;
    fg_buf *outs[FG_RT_COUNT];
    size_t starts[FG_RT_COUNT];
    for (int t = 0; t < FG_RT_COUNT; t++) {
        outs[t] = &s->bufs[t];
        starts[t] = s->bufs[t].len;
    }
    int rc = fg_map_ndjson(r->m, h, outs, &s->stats, err);
    if (rc == FG_OK)
        rc = fg_sink_ids_add(&s->ids, r->m, h, err);
    for (int t = 0; rc == FG_OK && o->check && t < FG_RT_COUNT; t++) {
        const char *p = s->bufs[t].data + starts[t], *end = s->bufs[t].data + s->bufs[t].len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (n > 0 && (rc = o->check(o->check_ud, index, p, n, err)) != FG_OK)
                return rc;
            p += n + 1;
        }
    }
    return rc;
}

static int one_patient(run *r, uint64_t index, fg_history *h, fg_buf *scratch, slot *s,
                       fg_error *err)
{
    const fg_pipeline_options *o = r->o;
    int rc = fg_engine_generate(r->e, index, h, err);
    if (rc != FG_OK)
        return rc;
    s->patients++;
    if (h->patient.death != FG_TIME_NONE)
        s->deceased++;
    if (o->format == FG_FORMAT_NDJSON)
        return one_ndjson(r, index, h, s, err);
    fg_buf_clear(scratch);
    if (o->format == FG_FORMAT_BUNDLE)
        rc = fg_map_bundle(r->m, h, scratch, &s->stats, err);
    else
        rc = fg_history_write(h, scratch);
    if (rc != FG_OK)
        return rc;
    if (o->check && o->format == FG_FORMAT_BUNDLE &&
        (rc = o->check(o->check_ud, index, scratch->data, scratch->len, err)) != FG_OK)
        return rc;
    fg_buf_putc(scratch, '\n');
    if (scratch->failed)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    return fg_sink_put_file(r->sink, index, NULL, scratch->data, scratch->len, err);
}

static void *worker(void *arg)
{
    run *r = arg;
    const fg_pipeline_options *o = r->o;
    fg_history h;
    fg_history_init(&h);
    fg_buf scratch;
    fg_buf_init(&scratch);
    for (;;) {
        pthread_mutex_lock(&r->mu);
        if (r->failed || r->next_batch >= r->n_batches || (o->cancel && *o->cancel)) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        uint64_t b = r->next_batch++;
        slot *s = &r->slots[b % r->n_slots];
        while (s->expected != b && !r->failed)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->failed) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        pthread_mutex_unlock(&r->mu);

        uint64_t lo = o->first + b * BATCH;
        uint64_t hi = lo + BATCH;
        if (hi > o->first + o->count)
            hi = o->first + o->count;
        /* Large slot buffers are given back here, by the thread that grew
         * them, so the memory returns to this thread's malloc arena. */
        for (int t = 0; t < FG_RT_COUNT; t++)
            if (s->bufs[t].cap > KEEP_BUFFER_BYTES)
                fg_buf_free(&s->bufs[t]);
        fg_error err;
        fg_error_clear(&err);
        for (uint64_t i = lo; i < hi; i++) {
            fg_arena_trim(&h.arena, KEEP_ARENA_BYTES);
            if (scratch.cap > KEEP_BUFFER_BYTES)
                fg_buf_free(&scratch);
            int rc = one_patient(r, i, &h, &scratch, s, &err);
            if (rc != FG_OK) {
                char where[64];
                snprintf(where, sizeof(where), "patient %llu", (unsigned long long)i);
                fg_error_prefix(&err, where);
                if (!err.code)
                    err.code = rc;
                fail(r, &err);
                break;
            }
        }
        pthread_mutex_lock(&r->mu);
        s->ready = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    fg_history_free(&h);
    fg_buf_free(&scratch);
    return NULL;
}

static void add_slot(fg_run_summary *sum, slot *s)
{
    sum->patients += s->patients;
    sum->deceased += s->deceased;
    for (int t = 0; t < FG_RT_COUNT; t++) {
        sum->resources[t] += s->stats.resources[t];
        sum->resources_total += s->stats.resources[t];
    }
    s->patients = s->deceased = 0;
    memset(&s->stats, 0, sizeof(s->stats));
}

/* Check the options, open the sink, make the slots and start the workers. */
static int run_start(run *r, const fg_engine *e, const fg_mapper *m,
                     const fg_pipeline_options *o, fg_error *err)
{
    if (o->jobs < 1 || o->jobs > FG_MAX_JOBS)
        return fg_error_set(err, FG_EUSAGE, "jobs", "must be between 1 and %d", FG_MAX_JOBS);
    if (!m && o->format != FG_FORMAT_HISTORY)
        return fg_error_set(err, FG_EUSAGE, NULL, "a mapper is needed for FHIR output");
    r->e = e;
    r->m = m;
    r->o = o;
    r->n_batches = (o->count + BATCH - 1) / BATCH;
    r->n_slots = (size_t)o->jobs * 2;
    /* Workers run at most n_slots batches ahead of the first unfinished one:
     * that is the window the sink must hold for on_file's order. */
    fg_sink_options so = {o->format, o->out_dir, o->first, o->count, r->n_slots * BATCH,
                          o->shard_k, o->shard_n, o->on_file, o->on_file_ud};
    int rc = fg_sink_open(&so, &r->sink, err);
    if (rc != FG_OK)
        return rc;
    r->slots = calloc(r->n_slots, sizeof(slot));
    r->threads = calloc((size_t)o->jobs, sizeof(pthread_t));
    if (!r->slots || !r->threads)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < r->n_slots; i++) {
        r->slots[i].expected = i;
        for (int t = 0; t < FG_RT_COUNT; t++)
            fg_buf_init(&r->slots[i].bufs[t]);
        fg_sink_ids_init(&r->slots[i].ids);
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->locks = 1;
    for (int i = 0; i < o->jobs; i++) {
        if (pthread_create(&r->threads[i], NULL, worker, r) != 0) {
            fg_error ferr;
            fg_error_set(&ferr, FG_ENOMEM, NULL, "cannot start worker thread");
            fail(r, &ferr);
            break;
        }
        r->started++;
    }
    return FG_OK;
}

/* Wait until batch b is ready (reporting progress meanwhile); 0 when it is,
 * -1 when the run failed or was canceled. */
static int wait_batch(run *r, slot *s, uint64_t b, fg_run_summary *sum, double t0,
                      double *last_report)
{
    const fg_pipeline_options *o = r->o;
    pthread_mutex_lock(&r->mu);
    while (!(s->expected == b && s->ready) && !r->failed && !(o->cancel && *o->cancel)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        double now = now_seconds();
        if (o->progress && now - *last_report >= 0.25) {
            *last_report = now;
            fg_progress p = {sum->patients, o->count, sum->resources_total, now - t0};
            pthread_mutex_unlock(&r->mu);
            o->progress(o->progress_ud, &p);
            pthread_mutex_lock(&r->mu);
        }
    }
    int stop = r->failed || (o->cancel && *o->cancel);
    pthread_mutex_unlock(&r->mu);
    return stop ? -1 : 0;
}

/* Hand batch b's NDJSON to the sink; shared resources it leaves out are
 * not counted as written. */
static int put_batch(run *r, slot *s, uint64_t b, fg_error *err)
{
    fg_sink_stats before, after;
    fg_sink_get_stats(r->sink, &before);
    uint64_t lo = r->o->first + b * BATCH;
    uint64_t hi = lo + BATCH;
    if (hi > r->o->first + r->o->count)
        hi = r->o->first + r->o->count;
    int rc = fg_sink_put_ndjson(r->sink, lo, hi - lo, s->bufs, &s->ids, err);
    fg_sink_get_stats(r->sink, &after);
    for (int t = 0; t < FG_RT_COUNT; t++) {
        s->stats.resources[t] -= after.skipped[t] - before.skipped[t];
        fg_buf_clear(&s->bufs[t]);
    }
    fg_sink_ids_clear(&s->ids);
    return rc;
}

/* Take the batches in order as the workers finish them. */
static void consume(run *r, fg_run_summary *sum, double t0)
{
    const fg_pipeline_options *o = r->o;
    double last_report = t0;
    for (uint64_t b = 0; b < r->n_batches; b++) {
        slot *s = &r->slots[b % r->n_slots];
        if (wait_batch(r, s, b, sum, t0, &last_report) != 0)
            break;
        if (o->format == FG_FORMAT_NDJSON) {
            fg_error werr;
            fg_error_clear(&werr);
            if (put_batch(r, s, b, &werr) != FG_OK) {
                fail(r, &werr);
                break;
            }
        }
        add_slot(sum, s);
        pthread_mutex_lock(&r->mu);
        s->ready = 0;
        s->expected = b + r->n_slots;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    if (o->cancel && *o->cancel) {
        pthread_mutex_lock(&r->mu);
        r->failed = r->failed ? r->failed : 2;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
}

/* Join the workers, close the sink and free the run; the run's result. */
static int run_finish(run *r, int rc, fg_run_summary *sum, fg_error *err)
{
    for (int i = 0; i < r->started; i++)
        pthread_join(r->threads[i], NULL);
    if (rc == FG_OK && r->failed == 1) {
        rc = r->err.code ? r->err.code : FG_EINTERNAL;
        if (err)
            *err = r->err;
    } else if (rc == FG_OK && r->failed == 2) {
        rc = fg_error_set(err, FG_ECANCELED, NULL, "interrupted");
    }
    if (r->sink) {
        fg_sink_stats st;
        fg_error cerr;
        int crc = fg_sink_close(r->sink, rc == FG_OK, &st, &cerr);
        if (rc == FG_OK && crc != FG_OK) {
            rc = crc;
            if (err)
                *err = cerr;
        }
        sum->files = st.files;
        sum->bytes = st.bytes;
    }
    if (r->slots) {
        for (size_t i = 0; i < r->n_slots; i++) {
            for (int t = 0; t < FG_RT_COUNT; t++)
                fg_buf_free(&r->slots[i].bufs[t]);
            fg_sink_ids_free(&r->slots[i].ids);
        }
        free(r->slots);
    }
    free(r->threads);
    if (r->locks) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
    }
    return rc;
}

int fg_pipeline_run(const fg_engine *e, const fg_mapper *m, const fg_pipeline_options *o,
                    fg_run_summary *summary, fg_error *err)
{
    fg_run_summary sum;
    memset(&sum, 0, sizeof(sum));
    double t0 = now_seconds();
    run r;
    memset(&r, 0, sizeof(r));
    int rc = run_start(&r, e, m, o, err);
    if (rc == FG_OK)
        consume(&r, &sum, t0);
    rc = run_finish(&r, rc, &sum, err);
    if (o->progress && rc == FG_OK) {
        fg_progress p = {sum.patients, o->count, sum.resources_total, now_seconds() - t0};
        o->progress(o->progress_ud, &p);
    }
    sum.seconds = now_seconds() - t0;
    if (summary)
        *summary = sum;
    return rc;
}
