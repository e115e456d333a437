/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push_source.c: where the bundles of a push come from: files, folders
 * (recursively, *.json in name order, hidden files skipped), standard input
 * (one bundle per line), or a streaming callback handing over files as they
 * are written. Read lazily, one bundle per free slot, so memory stays flat.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fhir/base/fg_data.h"
#include "push/fg_push.h"
#include "push/push_private.h"

static int json_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    if (d->d_name[0] == '.')
        return 0; /* hidden files and the journal */
    if (d->d_type == DT_DIR || d->d_type == DT_UNKNOWN || d->d_type == DT_LNK)
        return 1;
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static int push_dir(push_source *s, const char *path, push_item *it)
{
    if (s->depth >= PUSH_MAX_DIR_DEPTH) {
        snprintf(it->message, sizeof(it->message), "folders nested deeper than %d", PUSH_MAX_DIR_DEPTH);
        return 1;
    }
    push_dir_level *d = &s->dirs[s->depth];
    snprintf(d->path, sizeof(d->path), "%s", path);
    d->n = scandir(path, &d->names, json_name, alphasort);
    d->i = 0;
    if (d->n < 0) {
        snprintf(it->message, sizeof(it->message), "cannot read the folder: %s", strerror(errno));
        d->names = NULL;
        return 1;
    }
    s->depth++;
    return 0;
}

static void pop_dir(push_source *s)
{
    push_dir_level *d = &s->dirs[--s->depth];
    for (int i = 0; i < d->n; i++)
        free(d->names[i]);
    free(d->names);
    d->names = NULL;
}

static void read_file_item(push_item *it)
{
    fg_error e;
    fg_error_clear(&e);
    if (fg_read_file(it->path, FG_MAX_PUSH_BUNDLE_BYTES, &it->data, &it->len, &e) != FG_OK)
        snprintf(it->message, sizeof(it->message), "%s", e.text);
}

/* The next bundle into *it: 1 when there is one (it->message set when it
 * could not be read), 0 at the end of the inputs, 2 when a streaming
 * source has none ready yet. */
int push_source_next(push_source *s, push_item *it)
{
    memset(it, 0, sizeof(*it) - sizeof(it->message));
    it->message[0] = 0;
    if (s->next) {
        int r = s->next(s->next_ctx, it->path, sizeof(it->path));
        if (r <= 0)
            return r < 0 ? 0 : 2;
        read_file_item(it);
        return 1;
    }
    for (;;) {
        if (s->in) {
            ssize_t n = getline(&s->linebuf, &s->linecap, s->in);
            if (n < 0) {
                s->in = NULL;
                continue;
            }
            s->line++;
            while (n && (s->linebuf[n - 1] == '\n' || s->linebuf[n - 1] == '\r'))
                n--;
            if (n == 0)
                continue;
            snprintf(it->path, sizeof(it->path), "<stdin>:%ld", s->line);
            if ((size_t)n > FG_MAX_PUSH_BUNDLE_BYTES) {
                snprintf(it->message, sizeof(it->message),
                         "longer than FG_MAX_PUSH_BUNDLE_BYTES (%u bytes)", FG_MAX_PUSH_BUNDLE_BYTES);
                return 1;
            }
            if (!(it->data = malloc((size_t)n + 1))) {
                snprintf(it->message, sizeof(it->message), "out of memory");
                return 1;
            }
            memcpy(it->data, s->linebuf, (size_t)n);
            it->data[n] = 0;
            it->len = (size_t)n;
            return 1;
        }
        if (s->depth > 0) {
            push_dir_level *d = &s->dirs[s->depth - 1];
            if (d->i >= d->n) {
                pop_dir(s);
                continue;
            }
            const char *name = d->names[d->i++]->d_name;
            if (snprintf(it->path, sizeof(it->path), "%s/%s", d->path, name) >= (int)sizeof(it->path))
                continue;
            struct stat st;
            if (stat(it->path, &st) != 0)
                continue;
            if (S_ISDIR(st.st_mode)) {
                if (push_dir(s, it->path, it))
                    return 1;
                continue;
            }
            size_t n = strlen(name);
            if (!S_ISREG(st.st_mode) || n <= 5 || strcmp(name + n - 5, ".json") != 0)
                continue;
            read_file_item(it);
            return 1;
        }
        if (s->next_input >= s->n_inputs)
            return 0;
        const char *in = s->inputs[s->next_input++];
        if (strcmp(in, "-") == 0) {
            s->in = stdin;
            s->line = 0;
            continue;
        }
        snprintf(it->path, sizeof(it->path), "%s", in);
        struct stat st;
        if (stat(in, &st) != 0) {
            snprintf(it->message, sizeof(it->message), "%s", strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            if (push_dir(s, in, it))
                return 1;
            continue;
        }
        read_file_item(it);
        return 1;
    }
}

void push_source_close(push_source *s)
{
    while (s->depth > 0)
        pop_dir(s);
    free(s->dirs);
    free(s->linebuf);
}

int push_source_open(push_source *s, const char *const *inputs, size_t n_inputs,
                     int (*next)(void *ctx, char *path, size_t size), void *next_ctx)
{
    memset(s, 0, sizeof(*s));
    s->inputs = inputs;
    s->n_inputs = n_inputs;
    s->next = next;
    s->next_ctx = next_ctx;
    s->dirs = calloc(PUSH_MAX_DIR_DEPTH, sizeof(*s->dirs));
    return s->dirs ? FG_OK : FG_ENOMEM;
}
