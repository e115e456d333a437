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

/* Day of the week of a day number: 0 Sunday .. 6 Saturday. */
int fg_weekday(int64_t days);

/* Day number of the n-th (n >= 1) weekday wd (0 Sunday .. 6 Saturday) of
 * month m of year y, or of the last one (n = 0). */
int64_t fg_nth_weekday(int y, int m, int wd, int n);

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

/* ---- time zones (tz.c) ----
 *
 * A patient's time zone as the history carries it: the IANA name, the
 * standard offset from UTC, and the first year the zone kept US daylight
 * saving time (0 when it never does, as Arizona and Hawaii). Daylight time
 * follows the US rules of each year: from 2007 the second Sunday of March to
 * the first Sunday of November; 1987-2006 the first Sunday of April to the
 * last Sunday of October; 1967-1986 the last Sunday of April to the last
 * Sunday of October (the 1974-1975 emergency dates are not modelled); none
 * before 1967. Clocks change at 02:00 local time. A zone with name NULL is
 * UTC. */
typedef struct fg_tz {
    const char *name; /* IANA name, e.g. "America/New_York"; NULL for UTC */
    int std_offset;   /* minutes east of UTC in standard time, e.g. -300 */
    int dst_since;    /* first year of daylight saving time; <= 0 never */
} fg_tz;

#define FG_TZ_OFFSET_MAX (14 * 60) /* minutes either side of UTC */

/* 1 when t falls in US daylight saving time in a zone of standard offset
 * std_offset (minutes) that keeps it in t's year, else 0. */
int fg_us_dst(fg_time t, int std_offset);

/* Minutes east of UTC of tz at instant t; tz NULL is UTC. */
int fg_tz_offset(const fg_tz *tz, fg_time t);

/* The instant at which the clocks of tz show the wall time `local` (a time
 * built with fg_time_make from local fields). A wall time skipped in spring
 * is read in standard time; a repeated one in autumn gives the first. */
fg_time fg_tz_from_local(const fg_tz *tz, fg_time local);

/* t in tz's wall time, as a time whose UTC fields are the local fields. */
fg_time fg_tz_to_local(const fg_tz *tz, fg_time t);

/* "YYYY-MM-DDThh:mm:ss+hh:mm" (FHIR dateTime with offset; 26 bytes) for t
 * in tz's local time; "...Z" (fg_format_datetime) when tz is NULL or has no
 * name. Returns the length. */
#define FG_DATETIME_TZ_SIZE 26
size_t fg_format_datetime_tz(fg_time t, const fg_tz *tz, char out[FG_DATETIME_TZ_SIZE]);

/* A zone with the bounds of one year and of its daylight time remembered,
 * for writing many times of one patient: fg_tz_memo_offset costs a compare
 * while times stay in one year. Initialise with {.tz = zone} (tz may be NULL). */
typedef struct fg_tz_memo {
    const fg_tz *tz;
    fg_time year_from, year_to; /* the year remembered, as instants; empty at first */
    fg_time dst_from, dst_to;   /* its daylight time, as instants; empty when none */
} fg_tz_memo;

/* fg_tz_offset through a memo. */
int fg_tz_memo_offset(fg_tz_memo *m, fg_time t);

/* fg_format_datetime_tz through a memo. */
size_t fg_format_datetime_memo(fg_time t, fg_tz_memo *m, char out[FG_DATETIME_TZ_SIZE]);

/* Parse "+hh:mm" / "-hh:mm" into minutes; 0 on success, -1 otherwise. */
int fg_parse_utc_offset(const char *s, int *minutes);

/* Write minutes as "+hh:mm" / "-hh:mm" (7 bytes with the NUL). */
void fg_format_utc_offset(int minutes, char out[7]);

/* The zone of row `row` of a table with the columns tz (IANA name),
 * utc_offset (standard, "+hh:mm") and dst_since (a year, or empty for
 * never), such as the states table. The name is borrowed from the table.
 * FG_EINVALID naming the row, or the error of a missing column. */
struct fg_tsv;
struct fg_error;
int fg_tz_read(const struct fg_tsv *t, size_t row, fg_tz *out, struct fg_error *err);

#endif
