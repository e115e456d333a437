/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_hash.h: the one string hash of libfhirgen (64-bit FNV-1a) and the two
 * open-addressing tables built on it.
 *
 * FNV-1a is inline: the JSON reader and the validator's indexes hash every
 * key they meet. Its values are part of fhirgen's output where a caller
 * seeds a random stream or picks an order with it (fg_rng_fork, the
 * engine's condition streams), so the function never changes.
 *
 * fg_strmap maps a NUL-terminated key to a pointer, by linear probing over
 * a power-of-two table kept at most three quarters full. Keys are borrowed:
 * they must outlive the map. fg_hashset records 64-bit hashes (of ids, of
 * searches) to tell the first sight of a value from a repeat; two values
 * with the same hash count as one.
 */
#ifndef FG_HASH_H
#define FG_HASH_H

#include <stddef.h>
#include <stdint.h>

/* fhirgen's start value: the published offset basis (FG_FNV_OFFSET_BASIS,
 * 14695981039346656037) with its last digit lost when the first copy was
 * written. Every hash that picks a seed or an order starts from it, so it
 * stays; the mixing is FNV-1a's all the same. */
#define FG_FNV_SEED 1469598103934665603ULL
#define FG_FNV_OFFSET_BASIS 0xcbf29ce484222325ULL
#define FG_FNV_PRIME 1099511628211ULL

/* FNV-1a of n bytes at p, continuing from h (FG_FNV_SEED or
 * FG_FNV_OFFSET_BASIS to start). */
static inline uint64_t fg_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * FG_FNV_PRIME;
    return h;
}

/* FNV-1a of the NUL-terminated s, continuing from h. */
static inline uint64_t fg_fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * FG_FNV_PRIME;
    return h;
}

/* ---- fg_strmap: NUL-terminated key -> pointer ---- */

typedef struct fg_strmap_slot {
    const char *key; /* NULL: empty */
    void *val;
} fg_strmap_slot;

/* Zero-initialise ({0}) for an empty map. */
typedef struct fg_strmap {
    fg_strmap_slot *slots;
    size_t cap; /* a power of two, or 0 */
    size_t n;
} fg_strmap;

/* Insert or replace; FG_OK or FG_ENOMEM. */
int fg_strmap_put(fg_strmap *m, const char *key, void *val);
/* Insert `key` unless it is there: FG_OK when inserted, 1 when it was there
 * already (its value unchanged), FG_ENOMEM. */
int fg_strmap_add(fg_strmap *m, const char *key, void *val);
/* Make room for `n` more keys without growing again; FG_OK or FG_ENOMEM. */
int fg_strmap_reserve(fg_strmap *m, size_t n);
/* Empty the map, keeping its memory for reuse (unless far larger than `n`
 * keys need), and make room for `n` keys; FG_OK or FG_ENOMEM. */
int fg_strmap_reset(fg_strmap *m, size_t n);
/* The value of `key` (borrowed), or NULL when absent or key is NULL. */
void *fg_strmap_get(const fg_strmap *m, const char *key);
/* Release the table (not the keys or values) and zero the map. */
void fg_strmap_free(fg_strmap *m);

/* ---- fg_hashset: a set of 64-bit hashes ---- */

/* Zero-initialise ({0}) for an empty set. */
typedef struct fg_hashset {
    uint64_t *v; /* 0: empty (hash 0 is stored as 1) */
    size_t cap, n;
} fg_hashset;

/* Record h: 1 when it is new, 0 when it was there, FG_ENOMEM. */
int fg_hashset_add(fg_hashset *s, uint64_t h);
/* Release the table and zero the set. */
void fg_hashset_free(fg_hashset *s);

#endif
