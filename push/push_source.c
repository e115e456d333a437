/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push_source.c: where the bundles of a push come from: files, folders
 * (recursively, *.json in name order, hidden files skipped), standard input
 * (one bundle per line), or a streaming callback handing over files as they
 * are written. Bundles are read lazily, one per free slot, so memory stays
 * flat; a folder input is listed by fg_walk when it is reached (its paths
 * kept back to back in one buffer) and its bundles read one by one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fhir/base/fg_data.h"
#include "fhir/base/fg_files.h"
#include "push/fg_push.h"
#include "push/push_private.h"

/* A bundle of a folder input: its path, NUL-terminated, after 'f'. */
static int add_bundle(void *ud, const char *path, const char *name)
{
    fg_buf *b = ud;
    (void)name;
    fg_buf_putc(b, 'f');
    fg_buf_append(b, path, strlen(path) + 1);
    return b->failed ? FG_ENOMEM : FG_OK;
}

/* A folder that cannot be read: 'e', its path and the message, each
 * NUL-terminated; the walk goes on. */
static int add_unreadable(void *ud, const char *dir, const fg_error *e)
{
    fg_buf *b = ud;
    fg_buf_putc(b, 'e');
    fg_buf_append(b, dir, strlen(dir) + 1);
    if (e->code == FG_ELIMIT) {
        fg_buf_printf(b, "folders nested deeper than %d", PUSH_MAX_DIR_DEPTH);
    } else {
        const char *why = strstr(e->text, ": "); /* the system's reason */
        fg_buf_printf(b, "cannot read the folder: %s", why ? why + 2 : e->text);
    }
    fg_buf_putc(b, 0);
    return b->failed ? FG_ENOMEM : FG_OK;
}

/* List the bundles of folder dir into s->walk. 0, or 1 with it->message
 * set when the walk failed as a whole. */
static int walk_input(push_source *s, const char *dir, push_item *it)
{
    static const char *const suffixes[] = {".json", NULL};
    fg_walk_options wo = {.flags = FG_WALK_FILES | FG_WALK_RECURSE,
                          .suffixes = suffixes,
                          .max_depth = PUSH_MAX_DIR_DEPTH - 1,
                          .on_error = add_unreadable};
    fg_error e;
    fg_error_clear(&e);
    fg_buf_clear(&s->walk);
    s->walk_at = 0;
    if (fg_walk(dir, &wo, add_bundle, &s->walk, &e) == FG_OK && !s->walk.failed)
        return 0;
    snprintf(it->message, sizeof(it->message), "%s", e.text[0] ? e.text : "out of memory");
    fg_buf_free(&s->walk);
    return 1;
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
        if (s->walk_at < s->walk.len) {
            const char *kind = s->walk.data + s->walk_at, *path = kind + 1;
            s->walk_at += strlen(path) + 2;
            snprintf(it->path, sizeof(it->path), "%s", path);
            if (*kind == 'e') {
                const char *msg = s->walk.data + s->walk_at;
                s->walk_at += strlen(msg) + 1;
                snprintf(it->message, sizeof(it->message), "%s", msg);
            } else {
                read_file_item(it);
            }
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
            if (walk_input(s, in, it))
                return 1;
            continue;
        }
        read_file_item(it);
        return 1;
    }
}

void push_source_close(push_source *s)
{
    fg_buf_free(&s->walk);
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
    return FG_OK;
}
