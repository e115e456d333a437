/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The inputs of fhirgen validate: folders walked for FHIR files, and a
 * reader that hands out lines of any length up to a limit from a buffer
 * that grows only to the longest line, so an NDJSON file of any size is
 * read in bounded memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "fhir/base/fg_files.h"

/* ---- inputs ---- */

int cli_input_push(cli_input_list *l, const char *name)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **n = realloc(l->names, cap * sizeof(*n));
        if (!n)
            return -1;
        l->names = n;
        l->cap = cap;
    }
    l->names[l->count] = strdup(name);
    if (!l->names[l->count])
        return -1;
    l->count++;
    return 0;
}

int cli_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* What cli_walk_dir's callbacks share: the list and how the walk went
 * (0 fine, 1 a folder skipped, -1 out of memory). */
typedef struct walk_state {
    cli_input_list *l;
    int bad;
} walk_state;

static int take_input(void *ud, const char *path, const char *name)
{
    walk_state *w = ud;
    (void)name;
    if (cli_input_push(w->l, path) != 0) {
        w->bad = -1;
        return FG_ENOMEM;
    }
    return FG_OK;
}

/* A folder that cannot be read is named and skipped. */
static int skip_folder(void *ud, const char *dir, const fg_error *e)
{
    walk_state *w = ud;
    (void)dir; /* e names it, as it always has */
    fprintf(stderr, "fhirgen validate: %s: %s%s\n", e->where, e->text,
            e->code == FG_ELIMIT ? "; skipped" : "");
    if (w->bad == 0)
        w->bad = 1;
    return FG_OK;
}

int cli_walk_dir(cli_input_list *l, const char *dir, int depth)
{
    static const char *const suffixes[] = {".json", ".ndjson", NULL};
    fg_walk_options wo = {FG_WALK_FILES | FG_WALK_RECURSE, suffixes, 0, 64 - depth, skip_folder};
    walk_state w = {l, 0};
    fg_error err;
    int rc = fg_walk(dir, &wo, take_input, &w, &err);
    if (rc == FG_ENOMEM)
        return -1;
    return rc != FG_OK && w.bad == 0 ? 1 : w.bad;
}

/* ---- a bounded line and file reader ---- */

#define READER_CHUNK (1u << 20)

int cli_reader_fill(cli_reader *r)
{
    if (r->eof)
        return 0;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : READER_CHUNK;
        char *n = realloc(r->buf, cap);
        if (!n)
            return -1;
        r->buf = n;
        r->cap = cap;
    }
    size_t got = fread(r->buf + r->len, 1, r->cap - r->len, r->f);
    if (got == 0) {
        r->eof = 1;
        return ferror(r->f) ? -1 : 0;
    }
    r->len += got;
    return 1;
}

int cli_reader_line(cli_reader *r, const char **out, size_t *n, size_t limit)
{
    size_t scanned = 0;
    for (;;) {
        char *nl =
            r->buf ? memchr(r->buf + r->pos + scanned, '\n', r->len - r->pos - scanned) : NULL;
        if (nl) {
            *out = r->buf + r->pos;
            *n = (size_t)(nl - (r->buf + r->pos));
            r->pos += *n + 1;
            return *n > limit ? -2 : 1;
        }
        scanned = r->len - r->pos;
        if (scanned > limit) {
            /* Too long: drop what we have up to the next newline. */
            size_t dropped = scanned;
            r->pos = r->len = 0;
            for (;;) {
                int f = cli_reader_fill(r);
                if (f < 0)
                    return -1;
                if (f == 0) {
                    *n = dropped;
                    return -2;
                }
                char *q = memchr(r->buf, '\n', r->len);
                if (q) {
                    dropped += (size_t)(q - r->buf);
                    r->pos = (size_t)(q - r->buf) + 1;
                    *n = dropped;
                    return -2;
                }
                dropped += r->len;
                r->len = 0;
            }
        }
        int f = cli_reader_fill(r);
        if (f < 0)
            return -1;
        if (f == 0) {
            if (r->len == r->pos)
                return 0;
            *out = r->buf + r->pos;
            *n = r->len - r->pos;
            r->pos = r->len;
            return *n > limit ? -2 : 1;
        }
        /* reader_fill moved the unread bytes to the front. */
    }
}
