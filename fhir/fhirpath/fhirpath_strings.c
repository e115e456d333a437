/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirpath_strings.c: the FHIRPath functions on strings (UTF-8, counted in
 * characters), the conversions (toInteger, convertsToDate...) and the
 * arithmetic functions (abs, round, power...).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fhir/fhirpath/fhirpath_private.h"

/* Strings are UTF-8; FHIRPath counts characters. */
static size_t cp_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t k = 0; k < n; k++)
        count += ((unsigned char)s[k] & 0xC0) != 0x80;
    return count;
}

/* Byte offset of character idx (n when past the end). */
static size_t cp_offset(const char *s, size_t n, size_t idx)
{
    size_t seen = 0;
    for (size_t k = 0; k < n; k++) {
        if (((unsigned char)s[k] & 0xC0) != 0x80) {
            if (seen == idx)
                return k;
            seen++;
        }
    }
    return n;
}

int fp_push_str(fp_ctx *c, fp_coll *out, const char *s, size_t n, int copy)
{
    fp_item it = {.kind = FPV_STR, .s = s, .n = n};
    if (copy) {
        it.s = fp_strndup(c, s, n);
        if (!it.s)
            return fp_no_memory(c);
    }
    return fp_push(c, out, &it);
}

static int parse_int(const char *s, size_t n, long long *v)
{
    size_t k = 0;
    if (k < n && (s[k] == '+' || s[k] == '-'))
        k++;
    if (k == n || n - k > 18)
        return 0;
    for (size_t j = k; j < n; j++)
        if (!isdigit((unsigned char)s[j]))
            return 0;
    char buf[24];
    memcpy(buf, s, n);
    buf[n] = '\0';
    *v = strtoll(buf, NULL, 10);
    return 1;
}

static int parse_dec(const char *s, size_t n, double *v)
{
    size_t k = 0;
    if (k < n && (s[k] == '+' || s[k] == '-'))
        k++;
    size_t d0 = k;
    while (k < n && isdigit((unsigned char)s[k]))
        k++;
    if (k == d0 || n > 60)
        return 0;
    if (k < n && s[k] == '.') {
        k++;
        size_t f0 = k;
        while (k < n && isdigit((unsigned char)s[k]))
            k++;
        if (k == f0)
            return 0;
    }
    if (k != n)
        return 0;
    char buf[64];
    memcpy(buf, s, n);
    buf[n] = '\0';
    *v = strtod(buf, NULL);
    return 1;
}

/* Convert one item; returns 1 converted (into *res), 0 not convertible. */
int fp_convert(fp_ctx *c, int fid, const fp_item *in, fp_item *res)
{
    fp_item v;
    if (fp_prim(in, &v) < 0 || v.kind == FPV_JSON)
        return 0;
    memset(res, 0, sizeof(*res));
    switch (fid) {
    case F_TOBOOLEAN:
        res->kind = FPV_BOOL;
        if (v.kind == FPV_BOOL) {
            res->i = v.i;
            return 1;
        }
        if (v.kind == FPV_INT && (v.i == 0 || v.i == 1)) {
            res->i = v.i;
            return 1;
        }
        if (v.kind == FPV_DEC && (v.d == 0 || v.d == 1)) {
            res->i = v.d == 1;
            return 1;
        }
        if (v.kind == FPV_STR) {
            static const char *const t[] = {"true", "t", "yes", "y", "1", "1.0"};
            static const char *const f[] = {"false", "f", "no", "n", "0", "0.0"};
            for (size_t k = 0; k < 6; k++) {
                if (strlen(t[k]) == v.n && strncasecmp(v.s, t[k], v.n) == 0) {
                    res->i = 1;
                    return 1;
                }
                if (strlen(f[k]) == v.n && strncasecmp(v.s, f[k], v.n) == 0) {
                    res->i = 0;
                    return 1;
                }
            }
        }
        return 0;
    case F_TOINTEGER:
        res->kind = FPV_INT;
        if (v.kind == FPV_INT || v.kind == FPV_BOOL) {
            res->i = v.i;
            return 1;
        }
        return v.kind == FPV_STR && parse_int(v.s, v.n, &res->i);
    case F_TODECIMAL:
        res->kind = FPV_DEC;
        if (v.kind == FPV_INT || v.kind == FPV_BOOL) {
            res->d = (double)v.i;
            return 1;
        }
        if (v.kind == FPV_DEC) {
            res->d = v.d;
            return 1;
        }
        return v.kind == FPV_STR && parse_dec(v.s, v.n, &res->d);
    case F_TOSTRING:
        res->kind = FPV_STR;
        return fp_to_string(c, &v, &res->s, &res->n);
    case F_TODATE:
    case F_TODATETIME:
    case F_TOTIME: {
        int kind = 0;
        if (v.kind != FPV_STR && v.kind != FPV_DATE && v.kind != FPV_DATETIME &&
            v.kind != FPV_TIME)
            return 0;
        if (!fp_parse_datetime(v.s, v.n, &kind))
            return 0;
        int want = fid == F_TODATE ? FPV_DATE : fid == F_TODATETIME ? FPV_DATETIME : FPV_TIME;
        if (want == FPV_TIME ? kind != FPV_TIME : kind == FPV_TIME)
            return 0;
        if (want == FPV_DATE && kind == FPV_DATETIME)
            return 0;
        res->kind = want;
        res->s = v.s;
        res->n = v.n;
        return 1;
    }
    }
    return 0;
}

int fp_math_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                   const fp_scope *sc, fp_coll *out)
{
    int rc = fp_single_input(c, n, input);
    if (rc || input->n == 0)
        return rc;
    fp_item v;
    if (fp_prim(&input->items[0], &v) < 0)
        return FG_OK;
    if (v.kind != FPV_INT && v.kind != FPV_DEC)
        return fp_fail(c, FG_EINVALID, "%s() needs a number", n->name);
    double x = v.kind == FPV_INT ? (double)v.i : v.d;
    fp_item r = {.kind = FPV_DEC};
    switch (n->op) {
    case F_ABS:
        if (v.kind == FPV_INT) {
            if (v.i == -9223372036854775807LL - 1)
                return FG_OK;
            r.kind = FPV_INT;
            r.i = v.i < 0 ? -v.i : v.i;
        } else {
            r.d = fabs(x);
        }
        break;
    case F_CEILING:
        r.kind = FPV_INT;
        r.i = (long long)ceil(x);
        break;
    case F_FLOOR:
        r.kind = FPV_INT;
        r.i = (long long)floor(x);
        break;
    case F_TRUNCATE:
        r.kind = FPV_INT;
        r.i = (long long)trunc(x);
        break;
    case F_ROUND: {
        long long prec = 0;
        if (n->nargs) {
            rc = fp_arg_int(c, n, 0, focus, sc, &prec);
            if (rc < 0)
                return rc;
            if (prec < 0 || prec > 15)
                return fp_fail(c, FG_EINVALID, "round() precision must be 0 to 15");
        }
        double scale = pow(10, (double)prec);
        r.d = round(x * scale) / scale;
        break;
    }
    case F_SQRT:
        if (x < 0)
            return FG_OK;
        r.d = sqrt(x);
        break;
    case F_EXP:
        r.d = exp(x);
        break;
    case F_LN:
        if (x <= 0)
            return FG_OK;
        r.d = log(x);
        break;
    case F_LOG:
    case F_POWER: {
        fp_coll a = {0};
        rc = fp_arg_coll(c, n, 0, focus, sc, &a);
        if (rc)
            return rc;
        fp_item b;
        if (a.n != 1 || fp_prim(&a.items[0], &b) < 0 || (b.kind != FPV_INT && b.kind != FPV_DEC))
            return FG_OK;
        double y = b.kind == FPV_INT ? (double)b.i : b.d;
        if (n->op == F_LOG) {
            if (x <= 0 || y <= 0 || y == 1)
                return FG_OK;
            r.d = log(x) / log(y);
        } else {
            r.d = pow(x, y);
            if (isnan(r.d))
                return FG_OK;
            if (v.kind == FPV_INT && b.kind == FPV_INT && b.i >= 0 && fabs(r.d) < 9e18) {
                r.kind = FPV_INT;
                r.i = (long long)r.d;
            }
        }
        break;
    }
    }
    return fp_push(c, out, &r);
}

int fp_string_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                     const fp_scope *sc, fp_coll *out)
{
    const char *s = NULL, *a = NULL, *b = NULL;
    size_t sn = 0, an = 0, bn = 0;
    int rc = fp_input_string(c, n, input, &s, &sn);
    if (rc <= 0)
        return rc;
    if (n->nargs >= 1) {
        if (n->op != F_SUBSTRING) {
            rc = fp_arg_string(c, n, 0, focus, sc, &a, &an);
            if (rc <= 0)
                return rc;
        }
        if (n->op == F_REPLACE || n->op == F_REPLACEMATCHES) {
            rc = fp_arg_string(c, n, 1, focus, sc, &b, &bn);
            if (rc <= 0)
                return rc;
        }
    }
    switch (n->op) {
    case F_STARTSWITH:
        return fp_push_bool(c, out, an <= sn && memcmp(s, a, an) == 0);
    case F_ENDSWITH:
        return fp_push_bool(c, out, an <= sn && memcmp(s + sn - an, a, an) == 0);
    case F_CONTAINS:
    case F_INDEXOF: {
        long long at = -1;
        if (an == 0)
            at = 0;
        for (size_t k = 0; an && k + an <= sn && at < 0; k++)
            if (memcmp(s + k, a, an) == 0)
                at = (long long)k;
        if (n->op == F_CONTAINS)
            return fp_push_bool(c, out, at >= 0);
        fp_item r = {.kind = FPV_INT, .i = at < 0 ? -1 : (long long)cp_count(s, (size_t)at)};
        return fp_push(c, out, &r);
    }
    case F_SUBSTRING: {
        long long chars = (long long)cp_count(s, sn);
        long long start = 0, len = chars;
        rc = fp_arg_int(c, n, 0, focus, sc, &start);
        if (rc <= 0)
            return rc;
        if (n->nargs > 1) {
            rc = fp_arg_int(c, n, 1, focus, sc, &len);
            if (rc < 0)
                return rc;
            if (rc == 0)
                len = chars;
        }
        if (start < 0 || start >= chars)
            return FG_OK;
        if (len < 0)
            len = 0;
        if (len > chars - start)
            len = chars - start;
        size_t from = cp_offset(s, sn, (size_t)start);
        size_t to = cp_offset(s, sn, (size_t)(start + len));
        return fp_push_str(c, out, s + from, to - from, 1);
    }
    case F_UPPER:
    case F_LOWER: {
        char *r = fp_strndup(c, s, sn);
        if (!r)
            return fp_no_memory(c);
        for (size_t k = 0; k < sn; k++)
            r[k] = (char)(n->op == F_UPPER ? toupper((unsigned char)r[k])
                                           : tolower((unsigned char)r[k]));
        return fp_push_str(c, out, r, sn, 0);
    }
    case F_LENGTH: {
        fp_item r = {.kind = FPV_INT, .i = (long long)cp_count(s, sn)};
        return fp_push(c, out, &r);
    }
    case F_TOCHARS:
        for (size_t k = 0; k < sn;) {
            size_t e = k + 1;
            while (e < sn && ((unsigned char)s[e] & 0xC0) == 0x80)
                e++;
            rc = fp_push_str(c, out, s + k, e - k, 1);
            if (rc)
                return rc;
            k = e;
        }
        return FG_OK;
    case F_REPLACE: {
        size_t cap = sn + 1;
        if (an == 0)
            cap += (sn + 1) * bn;
        else if (bn > an)
            cap += (sn / an + 1) * (bn - an);
        char *r = fp_alloc(c, cap);
        if (!r)
            return fp_no_memory(c);
        size_t o = 0;
        for (size_t k = 0; k <= sn;) {
            if (an == 0) {
                memcpy(r + o, b, bn);
                o += bn;
                if (k < sn)
                    r[o++] = s[k];
                k++;
            } else if (k + an <= sn && memcmp(s + k, a, an) == 0) {
                memcpy(r + o, b, bn);
                o += bn;
                k += an;
            } else {
                if (k < sn)
                    r[o++] = s[k];
                k++;
            }
        }
        return fp_push_str(c, out, r, o, 0);
    }
    case F_MATCHES:
        return fp_regex_run(c, n->re, a, s, sn, NULL, 0, out);
    case F_REPLACEMATCHES:
        return fp_regex_run(c, n->re, a, s, sn, b, bn, out);
    }
    return FG_OK;
}

