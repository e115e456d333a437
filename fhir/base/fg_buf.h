/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_buf.h: a growable byte buffer. A failed allocation sets `failed` and
 * later appends do nothing, so a writer can append freely and check once.
 */
#ifndef FG_BUF_H
#define FG_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct fg_buf {
    char *data; /* NUL-terminated while not failed */
    size_t len;
    size_t cap;
    int failed;
} fg_buf;

void fg_buf_init(fg_buf *b);

/* Free the memory; accepts NULL. */
void fg_buf_free(fg_buf *b);

/* Empty the buffer, keeping its memory. */
static inline void fg_buf_clear(fg_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

/* Make room for n more bytes; 0 on success, -1 (and failed set) otherwise. */
int fg_buf_reserve(fg_buf *b, size_t n);

static inline void fg_buf_append(fg_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap && fg_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

static inline void fg_buf_putc(fg_buf *b, char c)
{
    if (b->len + 2 > b->cap && fg_buf_reserve(b, 1))
        return;
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}

static inline void fg_buf_puts(fg_buf *b, const char *s)
{
    fg_buf_append(b, s, strlen(s));
}

void fg_buf_printf(fg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append the standard base64 encoding (RFC 4648, padded) of p[0..n). */
void fg_buf_base64(fg_buf *b, const void *p, size_t n);

/* Hand the bytes to the caller (free() them) and leave b empty. */
char *fg_buf_take(fg_buf *b, size_t *len);

#endif
