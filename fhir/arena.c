#include "fg_arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN (64u * 1024u)

struct fg_arena_chunk {
    fg_arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t off;
    _Alignas(max_align_t) unsigned char data[];
};

void fg_arena_init(fg_arena *a)
{
    a->head = NULL;
    a->first = NULL;
    a->used = 0;
}

void fg_arena_free(fg_arena *a)
{
    if (!a)
        return;
    fg_arena_chunk *c = a->first;
    while (c) {
        fg_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    fg_arena_init(a);
}

void fg_arena_reset(fg_arena *a)
{
    for (fg_arena_chunk *c = a->first; c; c = c->next)
        c->off = 0;
    a->head = a->first;
    a->used = 0;
}

void fg_arena_trim(fg_arena *a, size_t keep)
{
    size_t held = 0;
    for (fg_arena_chunk *c = a->first; c; c = c->next)
        held += c->size;
    if (held > keep && a->first) {
        fg_arena_chunk *c = a->first->next;
        while (c) {
            fg_arena_chunk *next = c->next;
            free(c);
            c = next;
        }
        a->first->next = NULL;
    }
    fg_arena_reset(a);
}

void *fg_arena_alloc(fg_arena *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    fg_arena_chunk *c = a->head;
    while (c && c->off + n > c->size)
        c = c->next; /* a chunk kept from before a reset may have room */
    if (!c) {
        size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;
        if (a->head && a->head->size * 2 > size && a->head->size < (64u << 20))
            size = a->head->size * 2;
        c = malloc(sizeof(*c) + size);
        if (!c)
            return NULL;
        c->size = size;
        c->off = 0;
        c->next = NULL;
        if (!a->first) {
            a->first = c;
        } else {
            fg_arena_chunk *last = a->first;
            while (last->next)
                last = last->next;
            last->next = c;
        }
    }
    a->head = c;
    void *p = c->data + c->off;
    c->off += n;
    a->used += n;
    return p;
}

void *fg_arena_calloc(fg_arena *a, size_t n)
{
    void *p = fg_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *fg_arena_strndup(fg_arena *a, const char *s, size_t n)
{
    char *p = fg_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *fg_arena_strdup(fg_arena *a, const char *s)
{
    if (!s)
        return NULL;
    return fg_arena_strndup(a, s, strlen(s));
}

char *fg_arena_printf(fg_arena *a, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n < sizeof(small))
        return fg_arena_strndup(a, small, (size_t)n);
    char *p = fg_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
