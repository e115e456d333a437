/* SPDX-License-Identifier: Apache-2.0 */
#include "fhir/base/fg_arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK_MIN (64u * 1024u)
#define HUGE_PAGE (2u << 20)
#define HUGE_CHUNK_MIN (1u << 20) /* the smallest chunk of a huge arena, mapped */

struct fg_arena_chunk {
    fg_arena_chunk *next;
    size_t size;   /* usable bytes in data */
    size_t off;
    size_t mapped; /* bytes mapped for a huge-page chunk; 0 when malloc'd */
    _Alignas(max_align_t) unsigned char data[];
};

void fg_arena_init(fg_arena *a)
{
    a->head = NULL;
    a->first = NULL;
    a->used = 0;
    a->huge = 0;
}

void fg_arena_init_huge(fg_arena *a)
{
    fg_arena_init(a);
    a->huge = 1;
}

/* A chunk of at least *size usable bytes on a huge-page boundary, advised
 * for huge pages; *size becomes what it holds. NULL when mapping failed
 * (the caller falls back to malloc). */
static fg_arena_chunk *chunk_map(size_t *size)
{
#ifdef MADV_HUGEPAGE
    size_t total = (sizeof(fg_arena_chunk) + *size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    unsigned char *m = mmap(NULL, total + HUGE_PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    size_t head = start - (uintptr_t)m;
    if (head)
        munmap(m, head);
    if (HUGE_PAGE - head)
        munmap((unsigned char *)start + total, HUGE_PAGE - head);
    (void)madvise((void *)start, total, MADV_HUGEPAGE); /* advice: fine if refused */
    fg_arena_chunk *c = (fg_arena_chunk *)start;
    c->mapped = total;
    *size = total - sizeof(*c);
    return c;
#else
    (void)size;
    return NULL;
#endif
}

static void chunk_free(fg_arena_chunk *c)
{
    if (c->mapped)
        munmap(c, c->mapped);
    else
        free(c);
}

void fg_arena_free(fg_arena *a)
{
    if (!a)
        return;
    fg_arena_chunk *c = a->first;
    while (c) {
        fg_arena_chunk *next = c->next;
        chunk_free(c);
        c = next;
    }
    int huge = a->huge;
    fg_arena_init(a);
    a->huge = huge;
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
            chunk_free(c);
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
        size_t min = a->huge ? HUGE_CHUNK_MIN : CHUNK_MIN;
        size_t size = n > min ? n : min;
        if (a->head && a->head->size * 2 > size && a->head->size < (64u << 20))
            size = a->head->size * 2;
        c = a->huge && size >= HUGE_CHUNK_MIN ? chunk_map(&size) : NULL;
        if (!c) {
            c = malloc(sizeof(*c) + size);
            if (!c)
                return NULL;
            c->mapped = 0;
        }
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
