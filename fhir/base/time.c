/* SPDX-License-Identifier: Apache-2.0 */
#include "fhir/base/fg_time.h"

#include <string.h>

/* Howard Hinnant's days_from_civil / civil_from_days algorithms. */
int64_t fg_days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void fg_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (mm <= 2));
    *m = mm;
    *d = dd;
}

int fg_weekday(int64_t days)
{
    return (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
}

int64_t fg_nth_weekday(int y, int m, int wd, int n)
{
    int64_t first = fg_days_from_civil(y, m, 1);
    int64_t d = first + (wd - fg_weekday(first) + 7) % 7;
    if (n > 0)
        return d + 7 * (n - 1);
    int64_t next = fg_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1);
    while (d + 7 < next)
        d += 7;
    return d;
}

fg_time fg_time_make(int y, int m, int d, int hh, int mm, int ss)
{
    return fg_days_from_civil(y, m, d) * FG_DAY + hh * 3600LL + mm * 60LL + ss;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int fg_age_at(fg_time birth, fg_time t)
{
    int by, bm, bd, ty, tm, td;
    fg_civil_from_days(floor_div(birth, FG_DAY), &by, &bm, &bd);
    fg_civil_from_days(floor_div(t, FG_DAY), &ty, &tm, &td);
    int age = ty - by;
    if (tm < bm || (tm == bm && td < bd))
        age--;
    return age;
}

fg_time fg_add_years(fg_time t, int years)
{
    int64_t days = floor_div(t, FG_DAY);
    int64_t secs = t - days * FG_DAY;
    int y, m, d;
    fg_civil_from_days(days, &y, &m, &d);
    y += years;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        d = 28;
    return fg_days_from_civil(y, m, d) * FG_DAY + secs;
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

static void put4(char *p, int v)
{
    p[0] = (char)('0' + v / 1000 % 10);
    p[1] = (char)('0' + v / 100 % 10);
    p[2] = (char)('0' + v / 10 % 10);
    p[3] = (char)('0' + v % 10);
}

size_t fg_format_date(fg_time t, char out[11])
{
    int y, m, d;
    fg_civil_from_days(floor_div(t, FG_DAY), &y, &m, &d);
    if (y < 0)
        y = 0;
    put4(out, y);
    out[4] = '-';
    put2(out + 5, m);
    out[7] = '-';
    put2(out + 8, d);
    out[10] = 0;
    return 10;
}

size_t fg_format_datetime(fg_time t, char out[21])
{
    int64_t days = floor_div(t, FG_DAY);
    int secs = (int)(t - days * FG_DAY);
    fg_format_date(t, out);
    out[10] = 'T';
    put2(out + 11, secs / 3600);
    out[13] = ':';
    put2(out + 14, secs / 60 % 60);
    out[16] = ':';
    put2(out + 17, secs % 60);
    out[19] = 'Z';
    out[20] = 0;
    return 20;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

static int parse_ymd(const char *s, int *y, int *m, int *d)
{
    if (digits(s, 4, y) || s[4] != '-' || digits(s + 5, 2, m) || s[7] != '-' ||
        digits(s + 8, 2, d))
        return -1;
    if (*m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
        return -1;
    return 0;
}

int fg_parse_date(const char *s, fg_time *out)
{
    int y, m, d;
    if (!s || strlen(s) != 10 || parse_ymd(s, &y, &m, &d))
        return -1;
    *out = fg_time_make(y, m, d, 0, 0, 0);
    return 0;
}

int fg_parse_datetime(const char *s, fg_time *out)
{
    int y, m, d, hh, mi, ss;
    if (!s)
        return -1;
    size_t n = strlen(s);
    if (n == 10)
        return fg_parse_date(s, out);
    if (n < 20 || parse_ymd(s, &y, &m, &d) || s[10] != 'T' || digits(s + 11, 2, &hh) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &ss))
        return -1;
    if (hh > 23 || mi > 59 || ss > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int64_t offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 14 || om > 59)
            return -1;
        offset = (oh * 3600LL + om * 60LL) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *out = fg_time_make(y, m, d, hh, mi, ss) - offset;
    return 0;
}
