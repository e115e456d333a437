/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_sha256.h: SHA-256 digests as lower-case hex, for the push journal (the
 * digest of a bundle's bytes) and the LLM answer cache (the digest of a
 * request). Backed by OpenSSL's EVP interface.
 */
#ifndef FG_SHA256_H
#define FG_SHA256_H

#include <stddef.h>

/* One piece of the bytes to digest. */
typedef struct fg_sha256_part {
    const void *data;
    size_t len;
} fg_sha256_part;

/* SHA-256 of p[0..n) as 64 lower-case hex digits and a NUL into out[65].
 * Should the digest itself fail (OpenSSL out of memory), out is 64 '0's. */
void fg_sha256_hex(const void *p, size_t n, char out[65]);

/* The same over parts[0..n_parts) taken one after the other, as if they
 * were one buffer. */
void fg_sha256_hexv(const fg_sha256_part *parts, size_t n_parts, char out[65]);

#endif
