/* SPDX-License-Identifier: Apache-2.0 */
#include "fhir/base/fg_rng.h"

#include <math.h>
#include <uuid/uuid.h>

#include "fhir/base/fg_hash.h"

uint64_t fg_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void fg_rng_seed(fg_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = fg_mix64(x);
    }
}

void fg_rng_patient(fg_rng *r, uint64_t seed, uint64_t index)
{
    fg_rng_seed(r, fg_mix64(seed) ^ fg_mix64(index * 0xd1342543de82ef95ULL + 1));
}

fg_rng fg_rng_fork(const fg_rng *r, const char *tag)
{
    fg_rng out;
    fg_rng_seed(&out, r->s[0] ^ fg_mix64(r->s[1] ^ fg_fnv1a_str(FG_FNV_SEED, tag)));
    return out;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t fg_rng_u64(fg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double fg_rng_uniform(fg_rng *r)
{
    return (double)(fg_rng_u64(r) >> 11) * 0x1.0p-53;
}

int64_t fg_rng_range(fg_rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(fg_rng_u64(r) % span);
}

int fg_rng_chance(fg_rng *r, double p)
{
    return fg_rng_uniform(r) < p;
}

double fg_rng_normal(fg_rng *r, double mean, double sd)
{
    /* Box-Muller; one value per call keeps the stream position simple. */
    double u1 = fg_rng_uniform(r);
    double u2 = fg_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return mean + sd * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

size_t fg_rng_pick_cumulative(fg_rng *r, const double *cum, size_t n)
{
    if (n == 0)
        return 0;
    double x = fg_rng_uniform(r) * cum[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void fg_rng_uuid(fg_rng *r, char out[37])
{
    uuid_t u;
    uint64_t a = fg_rng_u64(r), b = fg_rng_u64(r);
    for (int i = 0; i < 8; i++) {
        u[i] = (unsigned char)(a >> (8 * i));
        u[8 + i] = (unsigned char)(b >> (8 * i));
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    uuid_unparse_lower(u, out);
}
