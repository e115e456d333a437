/*
 * llmgen_ndjson.c: NDJSON output of the LLM path, in patient order.
 *
 * Answers finish in any order; bulk-data files are written in index order,
 * so the same cohort gives the same bytes whatever the number of requests in
 * flight. A finished patient's lines wait in a ring of `window` places until
 * every patient before it is finished (written or dropped); the run starts
 * no patient past the window (llmgen_ndjson_room). Organizations,
 * Practitioners and Locations are listed once per file, as the engine path
 * does. Files are written under temporary names and renamed on close, which
 * also flushes whatever finished beyond a gap (an interrupted run keeps
 * every finished patient).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generators/llm/llmgen_private.h"

typedef struct held {
    int state; /* 0 waiting, 1 finished */
    char *data[FG_RT_COUNT];
    size_t len[FG_RT_COUNT];
} held;

struct llmgen_ndjson {
    char dir[4096];
    uint64_t next; /* the first patient not yet flushed */
    size_t window;
    held *ring;
    FILE *f[FG_RT_COUNT];
    char tmp[FG_RT_COUNT][4200], final[FG_RT_COUNT][4200];
    uint64_t *seen; /* open-addressing set of hashes of shared resource ids */
    size_t seen_cap, seen_n;
    uint64_t bytes;
    char suffix[48]; /* ".shard-K-of-N" or "" */
};

static uint64_t hash_bytes(const char *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h ? h : 1;
}

/* 1 when added, 0 when present, -1 out of memory. */
static int seen_add(llmgen_ndjson *n, uint64_t h)
{
    if ((n->seen_n + 1) * 2 > n->seen_cap) {
        size_t cap = n->seen_cap ? n->seen_cap * 2 : 1024;
        uint64_t *v = calloc(cap, sizeof(*v));
        if (!v)
            return -1;
        for (size_t i = 0; i < n->seen_cap; i++) {
            if (!n->seen[i])
                continue;
            size_t j = n->seen[i] & (cap - 1);
            while (v[j])
                j = (j + 1) & (cap - 1);
            v[j] = n->seen[i];
        }
        free(n->seen);
        n->seen = v;
        n->seen_cap = cap;
    }
    size_t j = h & (n->seen_cap - 1);
    while (n->seen[j]) {
        if (n->seen[j] == h)
            return 0;
        j = (j + 1) & (n->seen_cap - 1);
    }
    n->seen[j] = h;
    n->seen_n++;
    return 1;
}

static int shared(int t)
{
    return t == FG_RT_ORGANIZATION || t == FG_RT_PRACTITIONER || t == FG_RT_LOCATION;
}

int llmgen_ndjson_open(const char *dir, uint64_t first, size_t window, int shard_k, int shard_n,
                       llmgen_ndjson **out, fg_error *err)
{
    llmgen_ndjson *n = calloc(1, sizeof(*n));
    if (!n || !(n->ring = calloc(window ? window : 1, sizeof(held)))) {
        free(n);
        return fg_error_set(err, FG_ENOMEM, "ndjson", "out of memory");
    }
    if ((size_t)snprintf(n->dir, sizeof(n->dir), "%s", dir) >= sizeof(n->dir)) {
        free(n->ring);
        free(n);
        return fg_error_set(err, FG_EUSAGE, dir, "output path is too long");
    }
    n->next = first;
    if (shard_n > 0)
        snprintf(n->suffix, sizeof(n->suffix), ".shard-%d-of-%d", shard_k, shard_n);
    n->window = window ? window : 1;
    *out = n;
    return FG_OK;
}

int llmgen_ndjson_room(const llmgen_ndjson *n, uint64_t index)
{
    return index - n->next < n->window;
}

/* Append one held patient's lines to the files. */
static int append(llmgen_ndjson *n, held *h, fg_error *err)
{
    for (int t = 0; t < FG_RT_COUNT; t++) {
        char *b = h->data[t];
        size_t len = h->len[t];
        if (!b || !len)
            continue;
        if (!n->f[t]) {
            const char *type = fg_rtype_name((fg_rtype)t);
            snprintf(n->tmp[t], sizeof(n->tmp[t]), "%s/.%s%s.ndjson.tmp", n->dir, type, n->suffix);
            snprintf(n->final[t], sizeof(n->final[t]), "%s/%s%s.ndjson", n->dir, type, n->suffix);
            if (!(n->f[t] = fopen(n->tmp[t], "wbe")))
                return fg_error_set(err, FG_EIO, n->tmp[t], "cannot create file: %s",
                                    strerror(errno));
        }
        if (shared(t)) { /* keep the first line of each id */
            char *p = b, *end = b + len, *w = b;
            while (p < end) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *le = nl ? nl + 1 : end;
                const char *id = memmem(p, (size_t)(le - p), "\"id\":\"", 6);
                const char *ie = id ? memchr(id + 6, '"', (size_t)(le - id - 6)) : NULL;
                int keep = 1;
                if (id && ie &&
                    (keep = seen_add(n, hash_bytes(id + 6, (size_t)(ie - id - 6),
                                                   1469598103934665603ULL + (uint64_t)t))) < 0)
                    return fg_error_set(err, FG_ENOMEM, "ndjson", "out of memory");
                if (keep) {
                    memmove(w, p, (size_t)(le - p));
                    w += le - p;
                }
                p = le;
            }
            len = (size_t)(w - b);
        }
        if (len && fwrite(b, 1, len, n->f[t]) != len)
            return fg_error_set(err, FG_EIO, n->final[t], "write failed: %s", strerror(errno));
        n->bytes += len;
    }
    return FG_OK;
}

static void release(held *h)
{
    for (int t = 0; t < FG_RT_COUNT; t++) {
        free(h->data[t]);
        h->data[t] = NULL;
        h->len[t] = 0;
    }
    h->state = 0;
}

int llmgen_ndjson_put(llmgen_ndjson *n, uint64_t index, fg_buf *bufs, fg_error *err)
{
    if (!llmgen_ndjson_room(n, index))
        return fg_error_set(err, FG_EINTERNAL, "ndjson", "patient %llu is outside the window",
                            (unsigned long long)index);
    held *h = &n->ring[index % n->window];
    h->state = 1;
    for (int t = 0; bufs && t < FG_RT_COUNT; t++) {
        if (bufs[t].failed)
            return fg_error_set(err, FG_ENOMEM, "ndjson", "out of memory");
        if (bufs[t].len)
            h->data[t] = fg_buf_take(&bufs[t], &h->len[t]);
    }
    int rc = FG_OK;
    while (rc == FG_OK && n->ring[n->next % n->window].state) {
        held *x = &n->ring[n->next % n->window];
        rc = append(n, x, err);
        release(x);
        n->next++;
    }
    return rc;
}

int llmgen_ndjson_close(llmgen_ndjson *n, int keep, uint64_t *files, uint64_t *bytes,
                        fg_error *err)
{
    int rc = FG_OK;
    if (!n)
        return FG_OK;
    for (size_t i = 0; i < n->window; i++) { /* finished beyond a gap, in order */
        held *x = &n->ring[(n->next + i) % n->window];
        if (x->state && keep && rc == FG_OK)
            rc = append(n, x, err);
        release(x);
    }
    for (int t = 0; t < FG_RT_COUNT; t++) {
        if (!n->f[t])
            continue;
        int bad = ferror(n->f[t]);
        if (fclose(n->f[t]) != 0)
            bad = 1;
        n->f[t] = NULL;
        if (!keep || bad || rc != FG_OK) {
            if (bad && rc == FG_OK)
                rc = fg_error_set(err, FG_EIO, n->final[t], "write failed");
            unlink(n->tmp[t]);
            continue;
        }
        if (rename(n->tmp[t], n->final[t]) != 0) {
            rc = fg_error_set(err, FG_EIO, n->final[t], "rename failed: %s", strerror(errno));
            unlink(n->tmp[t]);
            continue;
        }
        if (files)
            (*files)++;
    }
    if (bytes)
        *bytes += n->bytes;
    free(n->seen);
    free(n->ring);
    free(n);
    return rc;
}
