/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_ids.h: synthetic identifiers that can never be mistaken for real ones.
 *
 * SSNs are drawn only from the 999 area, which the Social Security
 * Administration never issues. NPIs carry a valid Luhn check digit computed
 * with the 80840 prefix, as the NPI standard defines, so validators accept
 * them; they are derived from the cohort seed.
 */
#ifndef FG_IDS_H
#define FG_IDS_H

#include <stdint.h>

/* "999-GG-SSSS" from a 64-bit value; out needs 12 bytes. */
void fg_ssn_format(uint64_t v, char out[12]);

/* A 10-digit NPI whose first 9 digits come from v (first digit 1 or 2) and
 * whose last is the Luhn check digit; out needs 11 bytes. */
void fg_npi_format(uint64_t v, char out[11]);

/* 1 when npi is 10 digits with a valid check digit. */
int fg_npi_valid(const char *npi);

#endif
