/*
 * The inputs of fhirgen validate: folders walked for FHIR files, and a
 * reader that hands out lines of any length up to a limit from a buffer
 * that grows only to the longest line, so an NDJSON file of any size is
 * read in bounded memory.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

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

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_walk_dir(cli_input_list *l, const char *dir, int depth)
{
    if (depth > 64) {
        fprintf(stderr, "fhirgen validate: %s: folders nested deeper than 64 levels; skipped\n",
                dir);
        return 1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fhirgen validate: %s: cannot open the folder: %s\n", dir, strerror(errno));
        return 1;
    }
    cli_input_list here = {0};
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
            continue;
        if (cli_input_push(&here, path) != 0) {
            bad = -1;
            break;
        }
    }
    closedir(d);
    qsort(here.names, here.count, sizeof(char *), cmp_names);
    for (size_t i = 0; i < here.count; i++) {
        struct stat st;
        const char *p = here.names[i];
        if (bad >= 0 && stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                int r = cli_walk_dir(l, p, depth + 1);
                if (r < 0)
                    bad = -1;
                else if (r > 0 && bad == 0)
                    bad = 1;
            } else if (S_ISREG(st.st_mode) &&
                       (cli_ends_with(p, ".json") || cli_ends_with(p, ".ndjson"))) {
                if (cli_input_push(l, p) != 0)
                    bad = -1;
            }
        }
        free(here.names[i]);
    }
    free(here.names);
    return bad;
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
