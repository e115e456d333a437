/* SPDX-License-Identifier: Apache-2.0 */
/*
 * journal.c: the push journal.
 *
 * The journal is a text file, one line per bundle the server acknowledged:
 *
 *     <sha256 of the bundle's bytes, 64 hex digits> <path>\n
 *
 * Each line is written with one write() on an O_APPEND descriptor and
 * fsync'd before the push counts the bundle as landed, so after a crash the
 * journal names a subset of what the server holds, never more. A torn last
 * line (a crash mid-write) is ignored on reading. The digests read back live
 * in an open-addressing hash set of 32-byte keys.
 */
#include "push/fg_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fhir/base/fg_data.h"
#include "push/fg_push.h"

struct fg_journal {
    int fd;
    char path[FG_ERROR_WHERE_MAX];
    unsigned char *keys; /* cap * 32 bytes; an all-zero key is an empty slot */
    size_t cap, used;
    size_t count;
};

static int unhex(const char *h, unsigned char out[32])
{
    for (int i = 0; i < 64; i++) {
        int c = h[i], v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

static int set_insert(fg_journal *j, const unsigned char key[32]);

static int set_grow(fg_journal *j)
{
    size_t ncap = j->cap ? j->cap * 2 : 1024;
    unsigned char *old = j->keys;
    size_t ocap = j->cap;
    j->keys = calloc(ncap, 32);
    if (!j->keys) {
        j->keys = old;
        return -1;
    }
    j->cap = ncap;
    j->used = 0;
    static const unsigned char zero[32];
    for (size_t i = 0; i < ocap; i++)
        if (memcmp(old + i * 32, zero, 32) != 0)
            set_insert(j, old + i * 32);
    free(old);
    return 0;
}

static size_t set_slot(const fg_journal *j, const unsigned char key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof(h)); /* a SHA-256 is already uniform */
    static const unsigned char zero[32];
    size_t i = (size_t)(h & (j->cap - 1));
    while (memcmp(j->keys + i * 32, zero, 32) != 0 && memcmp(j->keys + i * 32, key, 32) != 0)
        i = (i + 1) & (j->cap - 1);
    return i;
}

static int set_insert(fg_journal *j, const unsigned char key[32])
{
    if ((j->used + 1) * 2 > j->cap && set_grow(j) != 0)
        return -1;
    size_t i = set_slot(j, key);
    if (memcmp(j->keys + i * 32, key, 32) != 0) {
        memcpy(j->keys + i * 32, key, 32);
        j->used++;
    }
    return 0;
}

static int journal_read(fg_journal *j, fg_error *err)
{
    FILE *f = fopen(j->path, "r");
    if (!f) {
        if (errno == ENOENT)
            return FG_OK;
        return fg_error_set(err, FG_EIO, j->path, "cannot read the journal: %s", strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = FG_OK;
    unsigned char key[32];
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n' || n < 66 || line[64] != ' ' || unhex(line, key) != 0)
            continue; /* a torn or foreign line: not an acknowledgement */
        if (j->count >= FG_MAX_JOURNAL_LINES) {
            rc = fg_error_set(err, FG_ELIMIT, j->path,
                              "more than FG_MAX_JOURNAL_LINES (%d) lines", FG_MAX_JOURNAL_LINES);
            break;
        }
        if (set_insert(j, key) != 0) {
            rc = fg_error_set(err, FG_ENOMEM, j->path, "out of memory reading the journal");
            break;
        }
        j->count++;
    }
    free(line);
    fclose(f);
    return rc;
}

int fg_journal_open(const char *path, int resume, fg_journal **out, fg_error *err)
{
    fg_journal *j = calloc(1, sizeof(*j));
    int rc = FG_ENOMEM;
    if (!j)
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    j->fd = -1;
    snprintf(j->path, sizeof(j->path), "%s", path);
    if (set_grow(j) != 0) {
        rc = fg_error_set(err, FG_ENOMEM, path, "out of memory");
        goto cleanup;
    }
    if (resume && (rc = journal_read(j, err)) != FG_OK)
        goto cleanup;
    j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0644);
    if (j->fd < 0) {
        rc = fg_error_set(err, FG_EIO, path, "cannot open the journal for writing: %s",
                          strerror(errno));
        goto cleanup;
    }
    *out = j;
    return FG_OK;
cleanup:
    fg_journal_close(j);
    return rc;
}

int fg_journal_contains(const fg_journal *j, const char *sha256_hex)
{
    unsigned char key[32];
    if (!j || !sha256_hex || strlen(sha256_hex) != 64 || unhex(sha256_hex, key) != 0)
        return 0;
    return memcmp(j->keys + set_slot(j, key) * 32, key, 32) == 0;
}

int fg_journal_append(fg_journal *j, const char *sha256_hex, const char *path, fg_error *err)
{
    unsigned char key[32];
    if (strlen(sha256_hex) != 64 || unhex(sha256_hex, key) != 0)
        return fg_error_set(err, FG_EINTERNAL, j->path, "not a SHA-256: %.70s", sha256_hex);
    char line[64 + 1 + 4096 + 2];
    int n = snprintf(line, sizeof(line), "%s %s", sha256_hex, path);
    if (n < 0 || (size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    for (int i = 65; i < n; i++) /* one line per bundle whatever the path holds */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = '?';
    line[n++] = '\n';
    ssize_t w = write(j->fd, line, (size_t)n);
    if (w != n || fsync(j->fd) != 0)
        return fg_error_set(err, FG_EIO, j->path, "cannot write the journal: %s",
                            w < 0 || w == n ? strerror(errno) : "short write");
    if (set_insert(j, key) != 0)
        return fg_error_set(err, FG_ENOMEM, j->path, "out of memory");
    j->count++;
    return FG_OK;
}

size_t fg_journal_count(const fg_journal *j)
{
    return j ? j->count : 0;
}

void fg_journal_close(fg_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->keys);
    free(j);
}
