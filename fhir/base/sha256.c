/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sha256.c: SHA-256 as hex through OpenSSL's EVP digests.
 */
#include "fhir/base/fg_sha256.h"

#include <openssl/evp.h>
#include <string.h>

void fg_sha256_hexv(const fg_sha256_part *parts, size_t n_parts, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < n_parts; i++)
        ok = EVP_DigestUpdate(c, parts[i].data, parts[i].len);
    ok = ok && EVP_DigestFinal_ex(c, md, &n) && n == 32;
    EVP_MD_CTX_free(c);
    if (!ok) {
        memset(out, '0', 64);
        out[64] = 0;
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = 0;
}

void fg_sha256_hex(const void *p, size_t n, char out[65])
{
    fg_sha256_part part = {p, n};
    fg_sha256_hexv(&part, 1, out);
}
