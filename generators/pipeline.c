/*
 * pipeline.c: workers generate and map batches of consecutive patients into
 * a ring of slots; the calling thread consumes the slots in batch order,
 * appends NDJSON to its files and reports progress. Bundle and history files
 * are written by the workers themselves (one file per patient needs no
 * ordering); their slots carry only counts.
 */
#include "generators/fg_pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fhir/base/fg_buf.h"

#define BATCH 16
/* Memory kept between patients: a worker's arena and buffers above these
 * sizes are given back, so peak memory does not creep up with the largest
 * patient of a long run. */
#define KEEP_ARENA_BYTES (256u << 10)
#define KEEP_BUFFER_BYTES (64u << 10)
#define PATH_MAX_LEN 4096

/* Ids of the shared resources (Organization, Practitioner, Location) already
 * written to NDJSON: every patient's bundle carries the clinics it visited,
 * but a bulk-data file lists each once. An open-addressing set of 64-bit
 * hashes of "Type/id". */
typedef struct seen_set {
    uint64_t *v;
    size_t cap, n;
} seen_set;

static uint64_t hash_bytes(const char *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h ? h : 1;
}

/* 1 when h was added, 0 when it was there, -1 when out of memory. */
static int seen_add(seen_set *s, uint64_t h)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *v = calloc(cap, sizeof(*v));
        if (!v)
            return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i])
                continue;
            size_t j = s->v[i] & (cap - 1);
            while (v[j])
                j = (j + 1) & (cap - 1);
            v[j] = s->v[i];
        }
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->v[j]) {
        if (s->v[j] == h)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->v[j] = h;
    s->n++;
    return 1;
}

static int is_shared_type(int t)
{
    return t == FG_RT_ORGANIZATION || t == FG_RT_PRACTITIONER || t == FG_RT_LOCATION;
}

typedef struct slot {
    uint64_t expected; /* the batch this slot may hold next */
    int ready;
    fg_buf bufs[FG_RT_COUNT]; /* NDJSON per type */
    uint64_t patients, deceased, bytes, files;
    fg_map_stats stats;
} slot;

typedef struct run {
    const fg_engine *e;
    const fg_mapper *m;
    const fg_pipeline_options *o;
    char dir[PATH_MAX_LEN]; /* the output subfolder */
    uint64_t n_batches;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_batch;
    slot *slots;
    size_t n_slots;
    int failed;
    fg_error err;
} run;

const char *fg_format_name(fg_format f)
{
    switch (f) {
    case FG_FORMAT_BUNDLE: return "bundle";
    case FG_FORMAT_NDJSON: return "ndjson";
    case FG_FORMAT_HISTORY: return "history";
    }
    return "?";
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int make_dirs(const char *path, fg_error *err)
{
    char tmp[PATH_MAX_LEN];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return fg_error_set(err, FG_EUSAGE, path, "output folder name is empty or too long");
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != 0)
            continue;
        char c = tmp[i];
        tmp[i] = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return fg_error_set(err, FG_EIO, tmp, "cannot create folder: %s", strerror(errno));
        tmp[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return fg_error_set(err, FG_EIO, path, "not a folder");
    if (access(path, W_OK) != 0)
        return fg_error_set(err, FG_EIO, path, "folder is not writable: %s", strerror(errno));
    return FG_OK;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write data to dir/name through dir/.name.tmp and a rename. */
static int write_file_atomic(const char *dir, const char *name, const char *data, size_t n,
                             fg_error *err)
{
    char tmp[PATH_MAX_LEN], final[PATH_MAX_LEN];
    if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp) ||
        snprintf(final, sizeof(final), "%s/%s", dir, name) >= (int)sizeof(final))
        return fg_error_set(err, FG_EUSAGE, dir, "output path is too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return fg_error_set(err, FG_EIO, tmp, "cannot create file: %s", strerror(errno));
    int bad = write_all(fd, data, n) != 0;
    int saved = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        unlink(tmp);
        return fg_error_set(err, FG_EIO, final, "write failed: %s", strerror(saved));
    }
    if (rename(tmp, final) != 0) {
        saved = errno;
        unlink(tmp);
        return fg_error_set(err, FG_EIO, final, "rename failed: %s", strerror(saved));
    }
    return FG_OK;
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
    if (o->format == FG_FORMAT_NDJSON) {
        fg_buf *outs[FG_RT_COUNT];
        size_t before = 0, starts[FG_RT_COUNT];
        for (int t = 0; t < FG_RT_COUNT; t++) {
            outs[t] = &s->bufs[t];
            starts[t] = s->bufs[t].len;
            before += s->bufs[t].len;
        }
        rc = fg_map_ndjson(r->m, h, outs, &s->stats, err);
        if (rc != FG_OK)
            return rc;
        size_t after = 0;
        for (int t = 0; t < FG_RT_COUNT; t++)
            after += s->bufs[t].len;
        s->bytes += after - before;
        for (int t = 0; o->check && t < FG_RT_COUNT; t++) {
            const char *p = s->bufs[t].data + starts[t], *end = s->bufs[t].data + s->bufs[t].len;
            while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (n > 0 && (rc = o->check(o->check_ud, index, p, n, err)) != FG_OK)
                    return rc;
                p += n + 1;
            }
        }
        return FG_OK;
    }
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
    char name[64];
    snprintf(name, sizeof(name), "patient-%08llu.json", (unsigned long long)index);
    rc = write_file_atomic(r->dir, name, scratch->data, scratch->len, err);
    if (rc != FG_OK)
        return rc;
    s->bytes += scratch->len;
    s->files++;
    return FG_OK;
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

typedef struct ndjson_files {
    FILE *f[FG_RT_COUNT];
    seen_set seen;
    uint64_t skipped[FG_RT_COUNT]; /* duplicate shared resources not written */
    uint64_t skipped_bytes;
    char tmp[FG_RT_COUNT][PATH_MAX_LEN];
    char final[FG_RT_COUNT][PATH_MAX_LEN];
} ndjson_files;

static int ndjson_append(run *r, ndjson_files *nf, slot *s, fg_error *err)
{
    for (int t = 0; t < FG_RT_COUNT; t++) {
        fg_buf *b = &s->bufs[t];
        if (b->failed)
            return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
        if (b->len == 0)
            continue;
        if (!nf->f[t]) {
            const char *type = fg_rtype_name((fg_rtype)t);
            char name[128];
            if (r->o->shard_n > 0)
                snprintf(name, sizeof(name), "%s.shard-%d-of-%d.ndjson", type, r->o->shard_k,
                         r->o->shard_n);
            else
                snprintf(name, sizeof(name), "%s.ndjson", type);
            if (snprintf(nf->tmp[t], PATH_MAX_LEN, "%s/.%s.tmp", r->dir, name) >= PATH_MAX_LEN ||
                snprintf(nf->final[t], PATH_MAX_LEN, "%s/%s", r->dir, name) >= PATH_MAX_LEN)
                return fg_error_set(err, FG_EUSAGE, r->dir, "output path is too long");
            nf->f[t] = fopen(nf->tmp[t], "wbe");
            if (!nf->f[t])
                return fg_error_set(err, FG_EIO, nf->tmp[t], "cannot create file: %s",
                                    strerror(errno));
        }
        if (is_shared_type(t)) {
            /* Keep the first line of each id; lines start {"resourceType":"X","id":"..." */
            char *p = b->data, *end = b->data + b->len, *w = b->data;
            while (p < end) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *line_end = nl ? nl + 1 : end;
                const char *id = memmem(p, (size_t)(line_end - p), "\"id\":\"", 6);
                const char *id_end = id ? memchr(id + 6, '"', (size_t)(line_end - id - 6)) : NULL;
                int keep = 1;
                if (id && id_end) {
                    int added = seen_add(&nf->seen, hash_bytes(id + 6, (size_t)(id_end - id - 6),
                                                               1469598103934665603ULL + (uint64_t)t));
                    if (added < 0)
                        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
                    keep = added;
                }
                if (keep) {
                    memmove(w, p, (size_t)(line_end - p));
                    w += line_end - p;
                } else {
                    nf->skipped[t]++;
                    nf->skipped_bytes += (uint64_t)(line_end - p);
                }
                p = line_end;
            }
            b->len = (size_t)(w - b->data);
        }
        if (b->len && fwrite(b->data, 1, b->len, nf->f[t]) != b->len)
            return fg_error_set(err, FG_EIO, nf->final[t], "write failed: %s", strerror(errno));
        fg_buf_clear(b);
    }
    return FG_OK;
}

static int ndjson_finish(ndjson_files *nf, int ok, uint64_t *files, fg_error *err)
{
    int rc = FG_OK;
    free(nf->seen.v);
    nf->seen.v = NULL;
    for (int t = 0; t < FG_RT_COUNT; t++) {
        if (!nf->f[t])
            continue;
        int bad = ferror(nf->f[t]);
        if (fclose(nf->f[t]) != 0)
            bad = 1;
        nf->f[t] = NULL;
        if (ok && rc == FG_OK && bad)
            rc = fg_error_set(err, FG_EIO, nf->final[t], "write failed: %s", strerror(errno));
        if (!ok || rc != FG_OK || bad) {
            unlink(nf->tmp[t]);
            continue;
        }
        if (rename(nf->tmp[t], nf->final[t]) != 0) {
            rc = fg_error_set(err, FG_EIO, nf->final[t], "rename failed: %s", strerror(errno));
            unlink(nf->tmp[t]);
            continue;
        }
        (*files)++;
    }
    /* A failure after some renames leaves complete files of a failed run:
     * remove them too, so nothing of this run looks finished. */
    if (rc != FG_OK)
        for (int t = 0; t < FG_RT_COUNT; t++)
            if (nf->final[t][0])
                unlink(nf->final[t]);
    return rc;
}

static void add_slot(fg_run_summary *sum, slot *s)
{
    sum->patients += s->patients;
    sum->deceased += s->deceased;
    sum->bytes += s->bytes;
    sum->files += s->files;
    for (int t = 0; t < FG_RT_COUNT; t++) {
        sum->resources[t] += s->stats.resources[t];
        sum->resources_total += s->stats.resources[t];
    }
    s->patients = s->deceased = s->bytes = s->files = 0;
    memset(&s->stats, 0, sizeof(s->stats));
}

int fg_pipeline_run(const fg_engine *e, const fg_mapper *m, const fg_pipeline_options *o,
                    fg_run_summary *summary, fg_error *err)
{
    fg_run_summary sum;
    memset(&sum, 0, sizeof(sum));
    double t0 = now_seconds();
    int rc = FG_OK;
    run r;
    memset(&r, 0, sizeof(r));
    ndjson_files nf;
    memset(&nf, 0, sizeof(nf));
    pthread_t *threads = NULL;
    int started = 0;
    int locks = 0;

    if (o->jobs < 1 || o->jobs > FG_MAX_JOBS) {
        rc = fg_error_set(err, FG_EUSAGE, "jobs", "must be between 1 and %d", FG_MAX_JOBS);
        goto cleanup;
    }
    if (!m && o->format != FG_FORMAT_HISTORY) {
        rc = fg_error_set(err, FG_EUSAGE, NULL, "a mapper is needed for FHIR output");
        goto cleanup;
    }
    const char *sub = o->format == FG_FORMAT_BUNDLE   ? "bundles"
                      : o->format == FG_FORMAT_NDJSON ? "ndjson"
                                                      : "histories";
    if (snprintf(r.dir, sizeof(r.dir), "%s/%s", o->out_dir, sub) >= (int)sizeof(r.dir)) {
        rc = fg_error_set(err, FG_EUSAGE, o->out_dir, "output folder name is too long");
        goto cleanup;
    }
    rc = make_dirs(r.dir, err);
    if (rc != FG_OK)
        goto cleanup;

    r.e = e;
    r.m = m;
    r.o = o;
    r.n_batches = (o->count + BATCH - 1) / BATCH;
    r.n_slots = (size_t)o->jobs * 2;
    r.slots = calloc(r.n_slots, sizeof(slot));
    threads = calloc((size_t)o->jobs, sizeof(pthread_t));
    if (!r.slots || !threads) {
        rc = fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < r.n_slots; i++) {
        r.slots[i].expected = i;
        for (int t = 0; t < FG_RT_COUNT; t++)
            fg_buf_init(&r.slots[i].bufs[t]);
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    locks = 1;
    for (int i = 0; i < o->jobs; i++) {
        if (pthread_create(&threads[i], NULL, worker, &r) != 0) {
            fg_error ferr;
            fg_error_set(&ferr, FG_ENOMEM, NULL, "cannot start worker thread");
            fail(&r, &ferr);
            break;
        }
        started++;
    }

    double last_report = t0;
    for (uint64_t b = 0; b < r.n_batches; b++) {
        slot *s = &r.slots[b % r.n_slots];
        pthread_mutex_lock(&r.mu);
        while (!(s->expected == b && s->ready) && !r.failed && !(o->cancel && *o->cancel)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&r.cv, &r.mu, &ts);
            double now = now_seconds();
            if (o->progress && now - last_report >= 0.25) {
                last_report = now;
                fg_progress p = {sum.patients, o->count, sum.resources_total, now - t0};
                pthread_mutex_unlock(&r.mu);
                o->progress(o->progress_ud, &p);
                pthread_mutex_lock(&r.mu);
            }
        }
        int stop = r.failed || (o->cancel && *o->cancel);
        pthread_mutex_unlock(&r.mu);
        if (stop)
            break;
        if (o->format == FG_FORMAT_NDJSON) {
            fg_error werr;
            fg_error_clear(&werr);
            uint64_t skipped_bytes = nf.skipped_bytes;
            uint64_t skipped[FG_RT_COUNT];
            memcpy(skipped, nf.skipped, sizeof(skipped));
            int arc = ndjson_append(&r, &nf, s, &werr);
            s->bytes -= nf.skipped_bytes - skipped_bytes;
            for (int t = 0; t < FG_RT_COUNT; t++)
                s->stats.resources[t] -= nf.skipped[t] - skipped[t];
            if (arc != FG_OK) {
                fail(&r, &werr);
                break;
            }
        }
        add_slot(&sum, s);
        pthread_mutex_lock(&r.mu);
        s->ready = 0;
        s->expected = b + r.n_slots;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
    }
    if (o->cancel && *o->cancel) {
        pthread_mutex_lock(&r.mu);
        r.failed = r.failed ? r.failed : 2;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);

    if (r.failed == 1) {
        rc = r.err.code ? r.err.code : FG_EINTERNAL;
        if (err)
            *err = r.err;
    } else if (r.failed == 2) {
        rc = fg_error_set(err, FG_ECANCELED, NULL, "interrupted");
    }
    if (o->format == FG_FORMAT_NDJSON) {
        int frc = ndjson_finish(&nf, rc == FG_OK, &sum.files, err);
        if (rc == FG_OK)
            rc = frc;
    }
    if (o->progress && rc == FG_OK) {
        fg_progress p = {sum.patients, o->count, sum.resources_total, now_seconds() - t0};
        o->progress(o->progress_ud, &p);
    }

cleanup:
    if (r.slots) {
        for (size_t i = 0; i < r.n_slots; i++)
            for (int t = 0; t < FG_RT_COUNT; t++)
                fg_buf_free(&r.slots[i].bufs[t]);
        free(r.slots);
    }
    free(threads);
    if (locks) {
        pthread_mutex_destroy(&r.mu);
        pthread_cond_destroy(&r.cv);
    }
    sum.seconds = now_seconds() - t0;
    if (summary)
        *summary = sum;
    return rc;
}
