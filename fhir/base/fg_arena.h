/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_arena.h: a bump allocator for everything that lives as long as one
 * patient. A history's strings and lists come from its arena; resetting the
 * arena between patients keeps memory flat however many are generated.
 */
#ifndef FG_ARENA_H
#define FG_ARENA_H

#include <stddef.h>

typedef struct fg_arena_chunk fg_arena_chunk;

typedef struct fg_arena {
    fg_arena_chunk *head;  /* chunk being filled */
    fg_arena_chunk *first; /* kept across resets */
    size_t used;           /* bytes handed out since the last reset */
    int huge;              /* large chunks in huge pages (fg_arena_init_huge) */
} fg_arena;

void fg_arena_init(fg_arena *a);

/* An arena meant to hold many megabytes for a long time (loaded reference
 * data such as the profile registry): its chunks, a megabyte at least, are
 * mapped on huge-page boundaries and advised for huge pages, so that
 * filling them costs a page fault per 2 MB rather than per 4 KB where the
 * system offers transparent huge pages. */
void fg_arena_init_huge(fg_arena *a);

/* Free every chunk; accepts NULL. */
void fg_arena_free(fg_arena *a);

/* Forget every allocation but keep the memory for reuse. */
void fg_arena_reset(fg_arena *a);

/* Reset, and give back to the system every chunk after the first once the
 * arena holds more than keep bytes, so one unusually large patient does
 * not set the memory of the rest of the run. */
void fg_arena_trim(fg_arena *a, size_t keep);

/* n bytes aligned for any scalar type; NULL when memory is exhausted. */
void *fg_arena_alloc(fg_arena *a, size_t n);

/* Same, zero-filled. */
void *fg_arena_calloc(fg_arena *a, size_t n);

/* A copy of s (NULL stays NULL); NULL when memory is exhausted. */
char *fg_arena_strdup(fg_arena *a, const char *s);

/* A copy of the first n bytes of s, NUL-terminated. */
char *fg_arena_strndup(fg_arena *a, const char *s, size_t n);

/* printf into the arena. */
char *fg_arena_printf(fg_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
