/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink.c: the output of a run (fg_sink.h).
 *
 * A ring of `window` places, indexed by patient, holds what arrived ahead
 * of the first unfinished patient (`next`): NDJSON pieces (their bytes and
 * shared ids copied), or per-patient files already renamed whose path waits
 * for on_file. Whenever the place of `next` fills, the ring drains in order.
 * Per-patient files without on_file need no order and skip the ring.
 *
 * Written shared ids and explicit file names live in key sets: an
 * fg_strmap over copies of the keys kept in an arena.
 */
#include "generators/fg_sink.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fhir/base/fg_arena.h"
#include "fhir/base/fg_files.h"
#include "fhir/base/fg_hash.h"

#define SINK_PATH_MAX 4096
#define ID_LEN (FG_MAP_ID_SIZE - 1)

/* ---- key sets ---- */

typedef struct keyset {
    fg_strmap map; /* key -> itself, borrowed from keys */
    fg_arena keys;
} keyset;

/* 1 when key was added, 0 when it was there, -1 out of memory. */
static int keyset_add(keyset *k, const char *key)
{
    if (fg_strmap_get(&k->map, key))
        return 0;
    char *copy = fg_arena_strdup(&k->keys, key);
    if (!copy || fg_strmap_put(&k->map, copy, copy) != FG_OK)
        return -1;
    return 1;
}

static void keyset_free(keyset *k)
{
    fg_strmap_free(&k->map);
    fg_arena_free(&k->keys);
}

/* ---- formats and ids ---- */

const char *fg_format_name(fg_format f)
{
    switch (f) {
    case FG_FORMAT_BUNDLE: return "bundle";
    case FG_FORMAT_NDJSON: return "ndjson";
    case FG_FORMAT_HISTORY: return "history";
    }
    return "?";
}

const char *fg_format_folder(fg_format f)
{
    switch (f) {
    case FG_FORMAT_BUNDLE: return "bundles";
    case FG_FORMAT_NDJSON: return "ndjson";
    case FG_FORMAT_HISTORY: return "histories";
    }
    return "?";
}

static int is_shared(int t)
{
    return t == FG_RT_ORGANIZATION || t == FG_RT_PRACTITIONER || t == FG_RT_LOCATION;
}

void fg_sink_ids_init(fg_sink_ids *ids)
{
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_init(&ids->ids[t]);
}

void fg_sink_ids_clear(fg_sink_ids *ids)
{
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_clear(&ids->ids[t]);
}

void fg_sink_ids_free(fg_sink_ids *ids)
{
    if (!ids)
        return;
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_free(&ids->ids[t]);
}

int fg_sink_ids_add(fg_sink_ids *ids, const fg_mapper *m, const fg_history *h, fg_error *err)
{
    const size_t counts[FG_RT_COUNT] = {
        [FG_RT_ORGANIZATION] = h->organizations.n,
        [FG_RT_PRACTITIONER] = h->practitioners.n,
        [FG_RT_LOCATION] = h->locations.n,
    };
    for (int t = 0; t < FG_RT_COUNT; t++) {
        for (size_t i = 0; i < counts[t]; i++) {
            char id[FG_MAP_ID_SIZE];
            int rc = fg_map_shared_id(m, h, (fg_rtype)t, i, id, err);
            if (rc != FG_OK)
                return rc;
            fg_buf_append(&ids->ids[t], id, ID_LEN);
        }
        if (ids->ids[t].failed)
            return fg_error_set(err, FG_ENOMEM, "ndjson", "out of memory");
    }
    return FG_OK;
}

/* ---- the sink ---- */

typedef struct held {
    int state; /* 0 empty, 1 in, 2 its file being written */
    uint64_t n;
    char *data[FG_RT_COUNT];
    size_t len[FG_RT_COUNT];
    char *ids[FG_RT_COUNT];
    size_t ids_len[FG_RT_COUNT];
    char *path; /* a renamed file waiting for on_file */
} held;

struct fg_sink {
    fg_sink_options o;
    char dir[SINK_PATH_MAX];
    char suffix[48];
    pthread_mutex_t mu;
    uint64_t next;
    size_t window;
    held *ring;
    int ordered; /* the ring is in use */
    fg_atomic_file *f[FG_RT_COUNT];
    keyset seen[FG_RT_COUNT];
    keyset names;
    fg_sink_stats st;
    int failed;
    fg_error err;
};

/* Fail the sink with *e (the first failure stays) and return its code. */
static int sink_fail(fg_sink *s, const fg_error *e, fg_error *err)
{
    if (!s->failed) {
        s->failed = 1;
        s->err = *e;
        if (!s->err.code)
            s->err.code = FG_EINTERNAL;
    }
    if (err)
        *err = s->err;
    return s->err.code;
}

static int sink_failf(fg_sink *s, int code, const char *where, const char *text, fg_error *err)
{
    fg_error e;
    fg_error_set(&e, code, where, "%s", text);
    return sink_fail(s, &e, err);
}

int fg_sink_open(const fg_sink_options *o, fg_sink **out, fg_error *err)
{
    if (!o || !o->out_dir)
        return fg_error_set(err, FG_EUSAGE, "output", "an output folder is required");
    fg_sink *s = calloc(1, sizeof(*s));
    if (!s)
        return fg_error_set(err, FG_ENOMEM, "output", "out of memory");
    s->o = *o;
    s->window = o->window ? o->window : 1;
    s->next = o->first;
    s->ordered = o->format == FG_FORMAT_NDJSON || o->on_file;
    if (o->shard_n > 0)
        snprintf(s->suffix, sizeof(s->suffix), ".shard-%d-of-%d", o->shard_k, o->shard_n);
    int rc;
    if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s/%s", o->out_dir,
                         fg_format_folder(o->format)) >= sizeof(s->dir))
        rc = fg_error_set(err, FG_EUSAGE, o->out_dir, "output folder name is too long");
    else if (s->ordered && !(s->ring = calloc(s->window, sizeof(held))))
        rc = fg_error_set(err, FG_ENOMEM, "output", "out of memory");
    else
        rc = fg_mkdirs(s->dir, err);
    if (rc != FG_OK) {
        free(s->ring);
        free(s);
        return rc;
    }
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_arena_init(&s->seen[t].keys);
    fg_arena_init(&s->names.keys);
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return FG_OK;
}

int fg_sink_room(fg_sink *s, uint64_t index)
{
    if (!s->ordered)
        return 1;
    pthread_mutex_lock(&s->mu);
    int room = index >= s->next && index - s->next < s->window;
    pthread_mutex_unlock(&s->mu);
    return room;
}

/* The NDJSON file of type t, opened at its first line. */
static int ndjson_file(fg_sink *s, int t, fg_error *err)
{
    if (s->f[t])
        return FG_OK;
    char path[SINK_PATH_MAX + 128];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s%s.ndjson", s->dir,
                         fg_rtype_name((fg_rtype)t), s->suffix) >= sizeof(path))
        return fg_error_set(err, FG_EUSAGE, s->dir, "output path is too long");
    return fg_atomic_open(path, &s->f[t], err);
}

/* Write the lines of a shared type, leaving out ids already written. */
static int append_shared(fg_sink *s, int t, const char *p, size_t len, const char *ids,
                         size_t ids_len, fg_error *err)
{
    const char *end = p + len, *run = p;
    size_t k = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl + 1 : end;
        if ((k + 1) * ID_LEN > ids_len)
            return fg_error_set(err, FG_EINTERNAL, fg_rtype_name((fg_rtype)t),
                                "more lines than ids");
        char id[ID_LEN + 1];
        memcpy(id, ids + k * ID_LEN, ID_LEN);
        id[ID_LEN] = 0;
        int added = keyset_add(&s->seen[t], id);
        if (added < 0)
            return fg_error_set(err, FG_ENOMEM, "ndjson", "out of memory");
        k++;
        if (!added) {
            if (p > run && fg_atomic_write(s->f[t], run, (size_t)(p - run), err) != FG_OK)
                return FG_EIO;
            s->st.bytes += (uint64_t)(p - run);
            s->st.skipped[t]++;
            s->st.skipped_bytes += (uint64_t)(le - p);
            run = le;
        }
        p = le;
    }
    if (k * ID_LEN != ids_len)
        return fg_error_set(err, FG_EINTERNAL, fg_rtype_name((fg_rtype)t), "more ids than lines");
    if (end > run && fg_atomic_write(s->f[t], run, (size_t)(end - run), err) != FG_OK)
        return FG_EIO;
    s->st.bytes += (uint64_t)(end - run);
    return FG_OK;
}

/* Append a piece to the files (the sink's lock held). */
static int append_piece(fg_sink *s, char *const *data, const size_t *len, char *const *ids,
                        const size_t *ids_len, fg_error *err)
{
    for (int t = 0; t < FG_RT_COUNT; t++) {
        if (!len[t])
            continue;
        int rc = ndjson_file(s, t, err);
        if (rc != FG_OK)
            return rc;
        if (is_shared(t)) {
            rc = append_shared(s, t, data[t], len[t], ids ? ids[t] : NULL, ids ? ids_len[t] : 0,
                               err);
        } else {
            rc = fg_atomic_write(s->f[t], data[t], len[t], err);
            s->st.bytes += len[t];
        }
        if (rc != FG_OK)
            return rc;
    }
    return FG_OK;
}

static void release(held *h)
{
    for (int t = 0; t < FG_RT_COUNT; t++) {
        free(h->data[t]);
        free(h->ids[t]);
    }
    free(h->path);
    memset(h, 0, sizeof(*h));
}

/* Take every place of the ring from `next` on that is in (lock held). */
static int drain(fg_sink *s, fg_error *err)
{
    for (;;) {
        held *h = &s->ring[s->next % s->window];
        if (h->state != 1)
            return FG_OK;
        int rc = FG_OK;
        if (s->o.format == FG_FORMAT_NDJSON)
            rc = append_piece(s, h->data, h->len, h->ids, h->ids_len, err);
        else if (h->path && s->o.on_file)
            s->o.on_file(s->o.ud, s->next, h->path);
        s->next += h->n;
        release(h);
        if (rc != FG_OK)
            return rc;
    }
}

/* The ring place of [index, index+n), or NULL with err set. */
static held *place(fg_sink *s, uint64_t index, uint64_t n, fg_error *err)
{
    if (index < s->next || index - s->next >= s->window || n == 0) {
        fg_error_set(err, FG_EINTERNAL, "output", "patient %llu is outside the window",
                     (unsigned long long)index);
        return NULL;
    }
    held *h = &s->ring[index % s->window];
    if (h->state) {
        fg_error_set(err, FG_EINTERNAL, "output", "patient %llu was put twice",
                     (unsigned long long)index);
        return NULL;
    }
    return h;
}

static char *memdup(const char *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

int fg_sink_put_ndjson(fg_sink *s, uint64_t index, uint64_t n, fg_buf *bufs,
                       const fg_sink_ids *ids, fg_error *err)
{
    fg_error e;
    fg_error_clear(&e);
    int rc = FG_OK;
    pthread_mutex_lock(&s->mu);
    if (s->failed) {
        rc = sink_fail(s, &s->err, err);
        goto out;
    }
    if (s->o.format != FG_FORMAT_NDJSON) {
        rc = sink_failf(s, FG_EINTERNAL, "output", "NDJSON put to a per-patient sink", err);
        goto out;
    }
    for (int t = 0; t < FG_RT_COUNT; t++)
        if (bufs[t].failed || (ids && ids->ids[t].failed)) {
            rc = sink_failf(s, FG_ENOMEM, "ndjson", "out of memory", err);
            goto out;
        }
    held *h = place(s, index, n, &e);
    if (!h) {
        rc = sink_fail(s, &e, err);
        goto out;
    }
    char *data[FG_RT_COUNT], *idv[FG_RT_COUNT];
    size_t len[FG_RT_COUNT], ids_len[FG_RT_COUNT];
    for (int t = 0; t < FG_RT_COUNT; t++) {
        data[t] = bufs[t].data;
        len[t] = bufs[t].len;
        idv[t] = ids ? ids->ids[t].data : NULL;
        ids_len[t] = ids ? ids->ids[t].len : 0;
    }
    if (index == s->next) {
        rc = append_piece(s, data, len, idv, ids_len, &e);
        s->next += n;
        if (rc == FG_OK)
            rc = drain(s, &e);
    } else {
        h->state = 1;
        h->n = n;
        for (int t = 0; t < FG_RT_COUNT; t++) {
            if (len[t] && !(h->data[t] = memdup(data[t], len[t])))
                rc = FG_ENOMEM;
            h->len[t] = len[t];
            if (ids_len[t] && !(h->ids[t] = memdup(idv[t], ids_len[t])))
                rc = FG_ENOMEM;
            h->ids_len[t] = ids_len[t];
        }
        if (rc != FG_OK)
            fg_error_set(&e, FG_ENOMEM, "ndjson", "out of memory");
    }
    if (rc != FG_OK)
        rc = sink_fail(s, &e, err);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int fg_sink_skip(fg_sink *s, uint64_t index, uint64_t n, fg_error *err)
{
    fg_error e;
    int rc = FG_OK;
    pthread_mutex_lock(&s->mu);
    if (s->failed) {
        rc = sink_fail(s, &s->err, err);
    } else if (s->ordered) {
        held *h = place(s, index, n, &e);
        if (!h) {
            rc = sink_fail(s, &e, err);
        } else {
            h->state = 1;
            h->n = n;
            if ((rc = drain(s, &e)) != FG_OK)
                rc = sink_fail(s, &e, err);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Check name against the names of this run (lock held). */
static int claim_name(fg_sink *s, const char *name, const char *path, fg_error *err)
{
    int added = keyset_add(&s->names, name);
    if (added < 0)
        return sink_failf(s, FG_ENOMEM, "output", "out of memory", err);
    if (!added)
        return sink_failf(s, FG_EINVALID, path, "written twice in this run", err);
    return FG_OK;
}

int fg_sink_put_file(fg_sink *s, uint64_t index, const char *name, const char *data,
                     size_t len, fg_error *err)
{
    char own[64], path[SINK_PATH_MAX + 1100];
    fg_error e;
    if (!name) {
        snprintf(own, sizeof(own), "patient-%08llu.json", (unsigned long long)index);
        name = own;
    }
    int too_long = (size_t)snprintf(path, sizeof(path), "%s/%s", s->dir, name) >= sizeof(path);
    int rc = FG_OK;
    pthread_mutex_lock(&s->mu);
    if (s->failed)
        rc = sink_fail(s, &s->err, err);
    else if (s->o.format == FG_FORMAT_NDJSON)
        rc = sink_failf(s, FG_EINTERNAL, "output", "a file put to an NDJSON sink", err);
    else if (too_long)
        rc = sink_failf(s, FG_EUSAGE, s->dir, "output path is too long", err);
    else if (name != own)
        rc = claim_name(s, name, path, err);
    if (rc == FG_OK && s->ordered) {
        held *h = place(s, index, 1, &e);
        if (!h)
            rc = sink_fail(s, &e, err);
        else
            h->state = 2;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc != FG_OK)
        return rc;

    rc = fg_write_file_atomic(path, data, len, &e);

    pthread_mutex_lock(&s->mu);
    if (rc != FG_OK) {
        rc = sink_fail(s, &e, err);
    } else {
        s->st.files++;
        s->st.bytes += len;
        if (s->ordered) {
            held *h = &s->ring[index % s->window];
            h->state = 1;
            h->n = 1;
            h->path = strdup(path);
            if (!h->path)
                rc = sink_failf(s, FG_ENOMEM, "output", "out of memory", err);
            else if ((rc = drain(s, &e)) != FG_OK)
                rc = sink_fail(s, &e, err);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void fg_sink_get_stats(fg_sink *s, fg_sink_stats *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->st;
    pthread_mutex_unlock(&s->mu);
}

/* Rename the NDJSON files into place, all or none. */
static int commit_all(fg_sink *s, fg_error *err)
{
    char *done[FG_RT_COUNT] = {NULL};
    int rc = FG_OK;
    for (int t = 0; t < FG_RT_COUNT; t++) {
        if (!s->f[t])
            continue;
        if (rc != FG_OK) {
            fg_atomic_abort(s->f[t]);
        } else {
            done[t] = strdup(fg_atomic_path(s->f[t]));
            if (!done[t]) {
                fg_atomic_abort(s->f[t]);
                rc = fg_error_set(err, FG_ENOMEM, "ndjson", "out of memory");
            } else if ((rc = fg_atomic_commit(s->f[t], err)) != FG_OK) {
                free(done[t]);
                done[t] = NULL;
            } else {
                s->st.files++;
            }
        }
        s->f[t] = NULL;
    }
    for (int t = 0; t < FG_RT_COUNT; t++) {
        if (rc != FG_OK && done[t]) {
            unlink(done[t]);
            s->st.files--;
        }
        free(done[t]);
    }
    return rc;
}

int fg_sink_close(fg_sink *s, int ok, fg_sink_stats *stats, fg_error *err)
{
    if (!s)
        return FG_OK;
    fg_error e;
    int rc = FG_OK;
    if (s->failed)
        rc = sink_fail(s, &s->err, err);
    else if (ok && s->ordered && s->next != s->o.first + s->o.count) {
        fg_error_set(&e, FG_EINTERNAL, "output", "patient %llu was never put",
                     (unsigned long long)s->next);
        rc = sink_fail(s, &e, err);
    }
    if (ok && rc == FG_OK && (rc = commit_all(s, &e)) != FG_OK)
        rc = sink_fail(s, &e, err);
    for (int t = 0; t < FG_RT_COUNT; t++) {
        fg_atomic_abort(s->f[t]);
        keyset_free(&s->seen[t]);
    }
    keyset_free(&s->names);
    for (size_t i = 0; s->ring && i < s->window; i++)
        release(&s->ring[i]);
    free(s->ring);
    if (stats)
        *stats = s->st;
    pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
}
