/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_rng.h: the deterministic random source behind every generated value.
 *
 * xoshiro256** seeded through splitmix64. Patient i of seed s draws from
 * fg_rng_patient(s, i), so a patient is the same bytes whatever the thread
 * count, shard or output format. fg_rng_fork() derives an independent stream
 * for one part of the engine, so adding draws to one part does not shift the
 * values another part sees.
 */
#ifndef FG_RNG_H
#define FG_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct fg_rng {
    uint64_t s[4];
} fg_rng;

/* splitmix64 finaliser: a good 64-bit mix of x. */
uint64_t fg_mix64(uint64_t x);

/* Seed r from one 64-bit value. */
void fg_rng_seed(fg_rng *r, uint64_t seed);

/* The stream of patient `index` of cohort seed `seed`. */
void fg_rng_patient(fg_rng *r, uint64_t seed, uint64_t index);

/* A new stream derived from r's current state and a tag; r is not advanced. */
fg_rng fg_rng_fork(const fg_rng *r, const char *tag);

uint64_t fg_rng_u64(fg_rng *r);

/* Uniform in [0, 1). */
double fg_rng_uniform(fg_rng *r);

/* Uniform integer in [lo, hi] (inclusive); lo when hi < lo. */
int64_t fg_rng_range(fg_rng *r, int64_t lo, int64_t hi);

/* True with probability p. */
int fg_rng_chance(fg_rng *r, double p);

/* Normal with the given mean and standard deviation. */
double fg_rng_normal(fg_rng *r, double mean, double sd);

/* Index drawn from cumulative weights cum[0..n-1] (non-decreasing, last > 0). */
size_t fg_rng_pick_cumulative(fg_rng *r, const double *cum, size_t n);

/* A version-4 UUID drawn from r, lower case, into out[37]. */
void fg_rng_uuid(fg_rng *r, char out[37]);

#endif
