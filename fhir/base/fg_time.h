/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_time.h: instants and dates as seconds since 1970-01-01T00:00:00Z.
 *
 * Histories span lifetimes that start before 1970, so times are signed
 * 64-bit and all calendar arithmetic is done here (proleptic Gregorian,
 * UTC), with no dependence on the process time zone.
 */
#ifndef FG_TIME_H
#define FG_TIME_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t fg_time;

#define FG_TIME_NONE INT64_MIN
#define FG_DAY 86400LL
#define FG_YEAR_DAYS 365.2425

/* Days since 1970-01-01 of a civil date. */
int64_t fg_days_from_civil(int y, int m, int d);

/* Civil date of a day number. */
void fg_civil_from_days(int64_t days, int *y, int *m, int *d);

/* An instant from calendar fields (UTC). */
fg_time fg_time_make(int y, int m, int d, int hh, int mm, int ss);

/* Whole years from birth to t (an age as people count it). */
int fg_age_at(fg_time birth, fg_time t);

/* birth plus a number of years (calendar years, same month and day,
 * Feb 29 becoming Feb 28). */
fg_time fg_add_years(fg_time t, int years);

/* Formatters write a NUL-terminated string and return its length.
 * "YYYY-MM-DD" needs 11 bytes; "YYYY-MM-DDThh:mm:ssZ" needs 21 (FHIR dateTime
 * and instant, UTC). */
size_t fg_format_date(fg_time t, char out[11]);
size_t fg_format_datetime(fg_time t, char out[21]);

/* Strict parsers for the two shapes above, also accepting a FHIR dateTime
 * with a numeric offset (+hh:mm / -hh:mm) or fractional seconds. A date
 * parses to midnight UTC. Return 0 on success, -1 when s is not one. */
int fg_parse_date(const char *s, fg_time *out);
int fg_parse_datetime(const char *s, fg_time *out);

#endif
