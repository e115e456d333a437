/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tz.c: US time zones for local timestamps (see fg_time.h).
 *
 * The zone itself (standard offset, whether and since when it keeps
 * daylight saving time) is data: the states table names each state's zone.
 * Only the federal daylight-saving calendar lives here, as the rules of the
 * Uniform Time Act (1967) and the Energy Policy Acts of 1986 and 2005.
 */
#include "fhir/base/fg_time.h"

#include <stdlib.h>

#include "fhir/base/fg_tsv.h"

/* The days on which daylight time begins and ends in year y; 0 when none. */
static int dst_days(int y, int64_t *begin, int64_t *end)
{
    if (y >= 2007) {
        *begin = fg_nth_weekday(y, 3, 0, 2);
        *end = fg_nth_weekday(y, 11, 0, 1);
    } else if (y >= 1987) {
        *begin = fg_nth_weekday(y, 4, 0, 1);
        *end = fg_nth_weekday(y, 10, 0, 0);
    } else if (y >= 1967) {
        *begin = fg_nth_weekday(y, 4, 0, 0);
        *end = fg_nth_weekday(y, 10, 0, 0);
    } else {
        return 0;
    }
    return 1;
}

/* 1 when t is in daylight time in a zone of standard offset std_offset that
 * keeps it from year `since` (one calendar conversion: this is on the
 * mapper's path for every timestamp). */
static int dst_at(fg_time t, int std_offset, int since)
{
    fg_time local_std = t + (fg_time)std_offset * 60;
    int64_t day = local_std >= 0 ? local_std / FG_DAY : -((-local_std + FG_DAY - 1) / FG_DAY);
    int y, m, d;
    int64_t begin, end;
    fg_civil_from_days(day, &y, &m, &d);
    if (y < since || m < 3 || m > 11 || !dst_days(y, &begin, &end))
        return 0;
    /* from 02:00 standard time on the first day to 01:00 standard (02:00 daylight) on the last */
    return local_std >= begin * FG_DAY + 2 * 3600 && local_std < end * FG_DAY + 3600;
}

int fg_us_dst(fg_time t, int std_offset)
{
    return dst_at(t, std_offset, 0);
}

static int keeps_dst(const fg_tz *tz, fg_time t)
{
    return tz->dst_since > 0 && dst_at(t, tz->std_offset, tz->dst_since);
}

int fg_tz_offset(const fg_tz *tz, fg_time t)
{
    if (!tz || !tz->name)
        return 0;
    return tz->std_offset + (keeps_dst(tz, t) ? 60 : 0);
}

fg_time fg_tz_from_local(const fg_tz *tz, fg_time local)
{
    if (!tz || !tz->name)
        return local;
    fg_time std = local - (fg_time)tz->std_offset * 60;
    /* the daylight reading first: a repeated hour gives its first (daylight) instant */
    return keeps_dst(tz, std - 3600) ? std - 3600 : std;
}

fg_time fg_tz_to_local(const fg_tz *tz, fg_time t)
{
    return t + (fg_time)fg_tz_offset(tz, t) * 60;
}

void fg_format_utc_offset(int minutes, char out[7])
{
    int a = minutes < 0 ? -minutes : minutes, h = (a / 60) % 100, m = a % 60;
    out[0] = minutes < 0 ? '-' : '+';
    out[1] = (char)('0' + h / 10);
    out[2] = (char)('0' + h % 10);
    out[3] = ':';
    out[4] = (char)('0' + m / 10);
    out[5] = (char)('0' + m % 10);
    out[6] = 0;
}

size_t fg_format_datetime_tz(fg_time t, const fg_tz *tz, char out[FG_DATETIME_TZ_SIZE])
{
    if (!tz || !tz->name)
        return fg_format_datetime(t, out);
    int off = fg_tz_offset(tz, t);
    size_t n = fg_format_datetime(t + (fg_time)off * 60, out) - 1; /* drop the Z */
    fg_format_utc_offset(off, out + n);
    return n + 6;
}

int fg_tz_memo_offset(fg_tz_memo *m, fg_time t)
{
    const fg_tz *tz = m->tz;
    if (!tz || !tz->name)
        return 0;
    if (t < m->year_from || t >= m->year_to) {
        fg_time std = (fg_time)tz->std_offset * 60, local = t + std;
        int64_t day = local >= 0 ? local / FG_DAY : -((-local + FG_DAY - 1) / FG_DAY), begin, end;
        int y, mo, d;
        fg_civil_from_days(day, &y, &mo, &d);
        m->year_from = fg_days_from_civil(y, 1, 1) * FG_DAY - std;
        m->year_to = fg_days_from_civil(y + 1, 1, 1) * FG_DAY - std;
        m->dst_from = m->dst_to = 0;
        if (tz->dst_since > 0 && y >= tz->dst_since && dst_days(y, &begin, &end)) {
            m->dst_from = begin * FG_DAY + 2 * 3600 - std;
            m->dst_to = end * FG_DAY + 3600 - std;
        }
    }
    return tz->std_offset + (t >= m->dst_from && t < m->dst_to ? 60 : 0);
}

size_t fg_format_datetime_memo(fg_time t, fg_tz_memo *m, char out[FG_DATETIME_TZ_SIZE])
{
    if (!m->tz || !m->tz->name)
        return fg_format_datetime(t, out);
    int off = fg_tz_memo_offset(m, t);
    size_t n = fg_format_datetime(t + (fg_time)off * 60, out) - 1; /* drop the Z */
    fg_format_utc_offset(off, out + n);
    return n + 6;
}

int fg_parse_utc_offset(const char *s, int *minutes)
{
    if (!s || (s[0] != '+' && s[0] != '-'))
        return -1;
    for (int i = 1; i < 6; i++)
        if (i == 3 ? s[i] != ':' : (s[i] < '0' || s[i] > '9'))
            return -1;
    if (s[6])
        return -1;
    int h = (s[1] - '0') * 10 + (s[2] - '0'), m = (s[4] - '0') * 10 + (s[5] - '0');
    int v = h * 60 + m;
    if (m > 59 || v > FG_TZ_OFFSET_MAX)
        return -1;
    *minutes = s[0] == '-' ? -v : v;
    return 0;
}

int fg_tz_read(const fg_tsv *t, size_t row, fg_tz *out, fg_error *err)
{
    size_t cn, co, cd;
    int rc;
    if ((rc = fg_tsv_col(t, "tz", &cn, err)) || (rc = fg_tsv_col(t, "utc_offset", &co, err)) ||
        (rc = fg_tsv_col(t, "dst_since", &cd, err)))
        return rc;
    const char *name = fg_tsv_cell(t, row, cn), *dst = fg_tsv_cell(t, row, cd);
    fg_tz tz = {name, 0, 0};
    if (!*name || fg_parse_utc_offset(fg_tsv_cell(t, row, co), &tz.std_offset) != 0)
        return fg_tsv_row_error(t, row, err, FG_EINVALID,
                                "needs a time zone name and a UTC offset (+hh:mm or -hh:mm)");
    if (*dst) {
        char *end;
        long y = strtol(dst, &end, 10);
        if (*end || y < 1900 || y > 2100)
            return fg_tsv_row_error(t, row, err, FG_EINVALID,
                                    "dst_since must be a year (1900-2100) or empty");
        tz.dst_since = (int)y;
    }
    *out = tz;
    return FG_OK;
}
