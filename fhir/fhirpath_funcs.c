/*
 * fhirpath_funcs.c: the FHIRPath function library. Criteria arguments
 * (where, select, all, exists, repeat, trace's projection) are evaluated
 * once per input item with $this and $index set; every other argument is
 * evaluated once against the focus of the enclosing expression.
 */
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fg_limits.h"
#include "fhirpath_private.h"

enum {
    F_EMPTY, F_EXISTS, F_ALL, F_ALLTRUE, F_ANYTRUE, F_ALLFALSE, F_ANYFALSE, F_SUBSETOF,
    F_SUPERSETOF, F_COUNT, F_DISTINCT, F_ISDISTINCT, F_WHERE, F_SELECT, F_REPEAT, F_OFTYPE,
    F_AS, F_IS, F_SINGLE, F_FIRST, F_LAST, F_TAIL, F_SKIP, F_TAKE, F_INTERSECT, F_EXCLUDE,
    F_UNION, F_COMBINE, F_IIF, F_TOBOOLEAN, F_CTBOOLEAN, F_TOINTEGER, F_CTINTEGER, F_TODECIMAL,
    F_CTDECIMAL, F_TOSTRING, F_CTSTRING, F_TODATE, F_CTDATE, F_TODATETIME, F_CTDATETIME,
    F_TOTIME, F_CTTIME, F_INDEXOF, F_SUBSTRING, F_STARTSWITH, F_ENDSWITH, F_CONTAINS, F_UPPER,
    F_LOWER, F_REPLACE, F_MATCHES, F_REPLACEMATCHES, F_LENGTH, F_TOCHARS, F_NOT, F_CHILDREN,
    F_DESCENDANTS, F_TRACE, F_TODAY, F_NOW, F_TIMEOFDAY, F_HASVALUE, F_GETVALUE, F_EXTENSION,
    F_RESOLVE, F_MEMBEROF, F_CONFORMSTO, F_HTMLCHECKS, F_ABS, F_CEILING, F_FLOOR, F_ROUND,
    F_TRUNCATE, F_SQRT, F_EXP, F_LN, F_LOG, F_POWER,
};

static const fp_func_info funcs[] = {
    [F_EMPTY] = {"empty", 0, 0},          [F_EXISTS] = {"exists", 0, 1},
    [F_ALL] = {"all", 1, 1},              [F_ALLTRUE] = {"allTrue", 0, 0},
    [F_ANYTRUE] = {"anyTrue", 0, 0},      [F_ALLFALSE] = {"allFalse", 0, 0},
    [F_ANYFALSE] = {"anyFalse", 0, 0},    [F_SUBSETOF] = {"subsetOf", 1, 1},
    [F_SUPERSETOF] = {"supersetOf", 1, 1}, [F_COUNT] = {"count", 0, 0},
    [F_DISTINCT] = {"distinct", 0, 0},    [F_ISDISTINCT] = {"isDistinct", 0, 0},
    [F_WHERE] = {"where", 1, 1},          [F_SELECT] = {"select", 1, 1},
    [F_REPEAT] = {"repeat", 1, 1},        [F_OFTYPE] = {"ofType", 1, 1},
    [F_AS] = {"as", 1, 1},                [F_IS] = {"is", 1, 1},
    [F_SINGLE] = {"single", 0, 0},        [F_FIRST] = {"first", 0, 0},
    [F_LAST] = {"last", 0, 0},            [F_TAIL] = {"tail", 0, 0},
    [F_SKIP] = {"skip", 1, 1},            [F_TAKE] = {"take", 1, 1},
    [F_INTERSECT] = {"intersect", 1, 1},  [F_EXCLUDE] = {"exclude", 1, 1},
    [F_UNION] = {"union", 1, 1},          [F_COMBINE] = {"combine", 1, 1},
    [F_IIF] = {"iif", 2, 3},              [F_TOBOOLEAN] = {"toBoolean", 0, 0},
    [F_CTBOOLEAN] = {"convertsToBoolean", 0, 0}, [F_TOINTEGER] = {"toInteger", 0, 0},
    [F_CTINTEGER] = {"convertsToInteger", 0, 0}, [F_TODECIMAL] = {"toDecimal", 0, 0},
    [F_CTDECIMAL] = {"convertsToDecimal", 0, 0}, [F_TOSTRING] = {"toString", 0, 0},
    [F_CTSTRING] = {"convertsToString", 0, 0}, [F_TODATE] = {"toDate", 0, 0},
    [F_CTDATE] = {"convertsToDate", 0, 0}, [F_TODATETIME] = {"toDateTime", 0, 0},
    [F_CTDATETIME] = {"convertsToDateTime", 0, 0}, [F_TOTIME] = {"toTime", 0, 0},
    [F_CTTIME] = {"convertsToTime", 0, 0}, [F_INDEXOF] = {"indexOf", 1, 1},
    [F_SUBSTRING] = {"substring", 1, 2},  [F_STARTSWITH] = {"startsWith", 1, 1},
    [F_ENDSWITH] = {"endsWith", 1, 1},    [F_CONTAINS] = {"contains", 1, 1},
    [F_UPPER] = {"upper", 0, 0},          [F_LOWER] = {"lower", 0, 0},
    [F_REPLACE] = {"replace", 2, 2},      [F_MATCHES] = {"matches", 1, 1},
    [F_REPLACEMATCHES] = {"replaceMatches", 2, 2}, [F_LENGTH] = {"length", 0, 0},
    [F_TOCHARS] = {"toChars", 0, 0},      [F_NOT] = {"not", 0, 0},
    [F_CHILDREN] = {"children", 0, 0},    [F_DESCENDANTS] = {"descendants", 0, 0},
    [F_TRACE] = {"trace", 1, 2},          [F_TODAY] = {"today", 0, 0},
    [F_NOW] = {"now", 0, 0},              [F_TIMEOFDAY] = {"timeOfDay", 0, 0},
    [F_HASVALUE] = {"hasValue", 0, 0},    [F_GETVALUE] = {"getValue", 0, 0},
    [F_EXTENSION] = {"extension", 1, 1},  [F_RESOLVE] = {"resolve", 0, 0},
    [F_MEMBEROF] = {"memberOf", 1, 1},    [F_CONFORMSTO] = {"conformsTo", 1, 1},
    [F_HTMLCHECKS] = {"htmlChecks", 0, 0}, [F_ABS] = {"abs", 0, 0},
    [F_CEILING] = {"ceiling", 0, 0},      [F_FLOOR] = {"floor", 0, 0},
    [F_ROUND] = {"round", 0, 1},          [F_TRUNCATE] = {"truncate", 0, 0},
    [F_SQRT] = {"sqrt", 0, 0},            [F_EXP] = {"exp", 0, 0},
    [F_LN] = {"ln", 0, 0},                [F_LOG] = {"log", 1, 1},
    [F_POWER] = {"power", 1, 1},
};
#define NFUNCS ((int)(sizeof(funcs) / sizeof(funcs[0])))

const fp_func_info *fp_func_lookup(const char *name, int *id)
{
    for (int k = 0; k < NFUNCS; k++) {
        if (strcmp(funcs[k].name, name) == 0) {
            *id = k;
            return &funcs[k];
        }
    }
    return NULL;
}

int fp_func_is_typearg(int id)
{
    return id == F_OFTYPE || id == F_AS || id == F_IS;
}


/* Translate and compile a pattern into *re (allocated). */
static int regex_compile(const char *pattern, regex_t **re)
{
    size_t plen = strlen(pattern);
    size_t cap = plen * 16 + 64;
    char *tr = malloc(cap);
    regex_t *r = malloc(sizeof(*r));
    int rc = FG_ENOMEM;
    if (!tr || !r)
        goto cleanup;
    rc = fp_regex_translate(pattern, tr, cap);
    if (rc)
        goto cleanup;
    if (regcomp(r, tr, REG_EXTENDED) != 0) {
        rc = FG_EINVALID;
        goto cleanup;
    }
    *re = r;
    r = NULL;
cleanup:
    free(tr);
    free(r);
    return rc;
}

int fp_func_prepare(fg_fhirpath *fp, fp_node *n, fg_error *err)
{
    if ((n->op != F_MATCHES && n->op != F_REPLACEMATCHES) || n->args[0]->kind != FPN_LITERAL ||
        n->args[0]->lit.kind != FPV_STR)
        return FG_OK;
    const char *pattern = n->args[0]->lit.s;
    if (strlen(pattern) != n->args[0]->lit.n)
        return fg_error_set(err, FG_EINVALID, fp->text, "a NUL character in a regular expression");
    void **list = realloc(fp->regexes, (fp->nregexes + 1) * sizeof(*list));
    if (!list)
        return fg_error_set(err, FG_ENOMEM, fp->text, "out of memory");
    fp->regexes = list;
    regex_t *re = NULL;
    int rc = regex_compile(pattern, &re);
    if (rc == FG_ENOMEM)
        return fg_error_set(err, rc, fp->text, "out of memory");
    if (rc)
        return fg_error_set(err, FG_EINVALID, fp->text,
                            "the regular expression '%s' of %s() is invalid or uses a feature "
                            "POSIX regular expressions lack",
                            pattern, n->name);
    fp->regexes[fp->nregexes++] = re;
    n->re = re;
    return FG_OK;
}

void fp_func_release(fg_fhirpath *fp)
{
    for (size_t k = 0; k < fp->nregexes; k++) {
        regfree(fp->regexes[k]);
        free(fp->regexes[k]);
    }
    free(fp->regexes);
    fp->regexes = NULL;
    fp->nregexes = 0;
}

/* ---- helpers ---- */

static int lambda(fp_ctx *c, const fp_node *arg, const fp_coll *input, size_t k, fp_coll *res)
{
    fp_coll one = {.items = &input->items[k], .n = 1, .cap = 1};
    fp_scope s = {.this_item = &input->items[k], .index = (long long)k, .total = NULL};
    return fp_eval(c, arg, &one, &s, res);
}

static int lambda_bool(fp_ctx *c, const fp_node *arg, const fp_coll *input, size_t k, int *b)
{
    fp_coll res = {0};
    int rc = lambda(c, arg, input, k, &res);
    return rc ? rc : fp_to_bool(c, &res, b);
}

static int single_input(fp_ctx *c, const fp_node *n, const fp_coll *in)
{
    if (in->n > 1)
        return fp_fail(c, FG_EINVALID, "%s() needs a single item, got %zu", n->name, in->n);
    return FG_OK;
}

/* The input as one string: 1 yes, 0 empty input, negative error. */
static int input_string(fp_ctx *c, const fp_node *n, const fp_coll *in, const char **s,
                        size_t *len)
{
    int rc = single_input(c, n, in);
    if (rc)
        return rc;
    if (in->n == 0)
        return 0;
    fp_item v;
    if (fp_prim(&in->items[0], &v) < 0)
        return 0;
    if (v.kind == FPV_JSON)
        return fp_fail(c, FG_EINVALID, "%s() needs a string, got a %s", n->name,
                       fp_item_type(&in->items[0]));
    if (!fp_to_string(c, &v, s, len))
        return 0;
    return 1;
}

static int arg_coll(fp_ctx *c, const fp_node *n, int k, const fp_coll *focus, const fp_scope *sc,
                    fp_coll *res)
{
    return fp_eval(c, n->args[k], focus, sc, res);
}

/* Argument k as a string: 1 yes, 0 empty. */
static int arg_string(fp_ctx *c, const fp_node *n, int k, const fp_coll *focus,
                      const fp_scope *sc, const char **s, size_t *len)
{
    fp_coll res = {0};
    int rc = arg_coll(c, n, k, focus, sc, &res);
    if (rc)
        return rc;
    if (res.n == 0)
        return 0;
    if (res.n > 1)
        return fp_fail(c, FG_EINVALID, "argument %d of %s() must be one string", k + 1, n->name);
    if (!fp_to_string(c, &res.items[0], s, len))
        return fp_fail(c, FG_EINVALID, "argument %d of %s() must be a string", k + 1, n->name);
    return 1;
}

static int arg_int(fp_ctx *c, const fp_node *n, int k, const fp_coll *focus, const fp_scope *sc,
                   long long *v)
{
    fp_coll res = {0};
    int rc = arg_coll(c, n, k, focus, sc, &res);
    if (rc)
        return rc;
    if (res.n == 0)
        return 0;
    fp_item it;
    if (res.n > 1 || fp_prim(&res.items[0], &it) != FPV_INT)
        return fp_fail(c, FG_EINVALID, "argument %d of %s() must be one integer", k + 1,
                       n->name);
    *v = it.i;
    return 1;
}

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

static int push_str(fp_ctx *c, fp_coll *out, const char *s, size_t n, int copy)
{
    fp_item it = {.kind = FPV_STR, .s = s, .n = n};
    if (copy) {
        it.s = fp_strndup(c, s, n);
        if (!it.s)
            return fp_fail(c, FG_ELIMIT, "out of evaluation memory");
    }
    return fp_push(c, out, &it);
}

static int contains_item(const fp_coll *coll, const fp_item *it)
{
    for (size_t k = 0; k < coll->n; k++)
        if (fp_equal(&coll->items[k], it) == 1)
            return 1;
    return 0;
}

/* ---- conversions ---- */

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
static int convert(fp_ctx *c, int fid, const fp_item *in, fp_item *res)
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

/* ---- regular expressions ---- */

static int regex_run(fp_ctx *c, const regex_t *pre, const char *pattern, const char *s, size_t n,
                     const char *subst, size_t subst_n, fp_coll *out);

/* ---- the dispatcher ---- */

static int math_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                   const fp_scope *sc, fp_coll *out)
{
    int rc = single_input(c, n, input);
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
            rc = arg_int(c, n, 0, focus, sc, &prec);
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
        rc = arg_coll(c, n, 0, focus, sc, &a);
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

static int string_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                     const fp_scope *sc, fp_coll *out)
{
    const char *s = NULL, *a = NULL, *b = NULL;
    size_t sn = 0, an = 0, bn = 0;
    int rc = input_string(c, n, input, &s, &sn);
    if (rc <= 0)
        return rc;
    if (funcs[n->op].min_args >= 1) {
        if (n->op != F_SUBSTRING) {
            rc = arg_string(c, n, 0, focus, sc, &a, &an);
            if (rc <= 0)
                return rc;
        }
        if (n->op == F_REPLACE || n->op == F_REPLACEMATCHES) {
            rc = arg_string(c, n, 1, focus, sc, &b, &bn);
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
        rc = arg_int(c, n, 0, focus, sc, &start);
        if (rc <= 0)
            return rc;
        if (n->nargs > 1) {
            rc = arg_int(c, n, 1, focus, sc, &len);
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
        return push_str(c, out, s + from, to - from, 1);
    }
    case F_UPPER:
    case F_LOWER: {
        char *r = fp_strndup(c, s, sn);
        if (!r)
            return fp_fail(c, FG_ELIMIT, "out of evaluation memory");
        for (size_t k = 0; k < sn; k++)
            r[k] = (char)(n->op == F_UPPER ? toupper((unsigned char)r[k])
                                           : tolower((unsigned char)r[k]));
        return push_str(c, out, r, sn, 0);
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
            rc = push_str(c, out, s + k, e - k, 1);
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
            return fp_fail(c, FG_ELIMIT, "out of evaluation memory");
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
        return push_str(c, out, r, o, 0);
    }
    case F_MATCHES:
        return regex_run(c, n->re, a, s, sn, NULL, 0, out);
    case F_REPLACEMATCHES:
        return regex_run(c, n->re, a, s, sn, b, bn, out);
    }
    return FG_OK;
}

static int now_fn(fp_ctx *c, int fid, fp_coll *out)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[40];
    fp_item it = {0};
    if (fid == F_TODAY) {
        strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
        it.kind = FPV_DATE;
    } else if (fid == F_NOW) {
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        it.kind = FPV_DATETIME;
    } else {
        strftime(buf, sizeof(buf), "T%H:%M:%S", &tm);
        it.kind = FPV_TIME;
    }
    it.n = strlen(buf);
    it.s = fp_strndup(c, buf, it.n);
    if (!it.s)
        return fp_fail(c, FG_ELIMIT, "out of evaluation memory");
    return fp_push(c, out, &it);
}

static int descend(fp_ctx *c, const fp_item *it, fp_coll *out, int depth)
{
    if (depth > FG_MAX_FHIRPATH_DEPTH)
        return FG_OK;
    fp_coll kids = {0};
    int rc = fp_all_children(c, it, &kids);
    for (size_t k = 0; !rc && k < kids.n; k++) {
        rc = fp_push(c, out, &kids.items[k]);
        if (!rc)
            rc = descend(c, &kids.items[k], out, depth + 1);
    }
    return rc;
}

static int same_node(const fp_item *a, const fp_item *b)
{
    if (a->kind == FPV_JSON && b->kind == FPV_JSON)
        return a->json == b->json && a->ext == b->ext;
    return fp_equal(a, b) == 1;
}

static int repeat_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, fp_coll *out)
{
    fp_coll queue = *input;
    queue.cap = queue.n;
    size_t done = 0;
    int rc = FG_OK;
    while (done < queue.n) {
        fp_coll res = {0};
        rc = lambda(c, n->args[0], &queue, done, &res);
        if (rc)
            return rc;
        done++;
        for (size_t k = 0; k < res.n; k++) {
            int seen = 0;
            for (size_t j = 0; j < out->n && !seen; j++)
                seen = same_node(&out->items[j], &res.items[k]);
            if (seen)
                continue;
            rc = fp_push(c, out, &res.items[k]);
            if (!rc)
                rc = fp_push(c, &queue, &res.items[k]);
            if (rc)
                return rc;
        }
    }
    return FG_OK;
}

static int type_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, fp_coll *out)
{
    const char *type = n->args[0]->name;
    if (n->op == F_IS) {
        int rc = single_input(c, n, input);
        if (rc || input->n == 0)
            return rc;
        return fp_push_bool(c, out, fp_is_type(&input->items[0], type) == 1);
    }
    for (size_t k = 0; k < input->n; k++)
        if (fp_is_type(&input->items[k], type) == 1) {
            int rc = fp_push(c, out, &input->items[k]);
            if (rc)
                return rc;
        }
    return FG_OK;
}

static int callback_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                       const fp_scope *sc, fp_coll *out)
{
    const fg_fhirpath_env *env = c->env;
    int rc;
    if (n->op == F_RESOLVE) {
        for (size_t k = 0; k < input->n; k++) {
            const fp_item *it = &input->items[k];
            const char *ref = NULL;
            if (it->kind == FPV_JSON && json_is_object(it->json))
                ref = json_string_value(json_object_get(it->json, "reference"));
            else if (it->kind == FPV_JSON)
                ref = json_string_value(it->json);
            if (!ref || !env->resolve)
                continue;
            const json_t *from = c->resource.n ? c->resource.items[0].json : NULL;
            const json_t *r = env->resolve(env->ctx, from, ref);
            if (!json_is_object(r))
                continue;
            fp_item ri = {.kind = FPV_JSON, .json = r};
            ri.type = json_string_value(json_object_get(r, "resourceType"));
            rc = fp_push(c, out, &ri);
            if (rc)
                return rc;
        }
        return FG_OK;
    }
    const char *url = NULL;
    size_t un = 0;
    rc = arg_string(c, n, 0, focus, sc, &url, &un);
    if (rc <= 0)
        return rc;
    url = fp_strndup(c, url, un);
    if (!url)
        return fp_fail(c, FG_ELIMIT, "out of evaluation memory");
    if (n->op == F_EXTENSION) {
        for (size_t k = 0; k < input->n; k++) {
            fp_coll ext = {0};
            rc = fp_children(c, &input->items[k], "extension", &ext);
            if (rc)
                return rc;
            for (size_t j = 0; j < ext.n; j++) {
                const json_t *u = json_is_object(ext.items[j].json)
                                      ? json_object_get(ext.items[j].json, "url")
                                      : NULL;
                if (json_is_string(u) && strcmp(json_string_value(u), url) == 0) {
                    rc = fp_push(c, out, &ext.items[j]);
                    if (rc)
                        return rc;
                }
            }
        }
        return FG_OK;
    }
    rc = single_input(c, n, input);
    if (rc || input->n == 0)
        return rc;
    const fp_item *it = &input->items[0];
    if (it->kind != FPV_JSON || !it->json)
        return FG_OK;
    int ans = -1;
    if (n->op == F_MEMBEROF && env->member_of)
        ans = env->member_of(env->ctx, it->json, fp_type(it), url);
    else if (n->op == F_CONFORMSTO && env->conforms_to)
        ans = env->conforms_to(env->ctx, it->json, url);
    if (ans < 0)
        return FG_OK;
    return fp_push_bool(c, out, ans > 0);
}

int fp_call(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
            const fp_scope *sc, fp_coll *out)
{
    int rc = FG_OK, b = 0;
    fp_coll other = {0};
    fp_item r;
    switch (n->op) {
    case F_EMPTY:
        return fp_push_bool(c, out, input->n == 0);
    case F_EXISTS:
    case F_ALL:
        if (n->nargs == 0)
            return fp_push_bool(c, out, input->n > 0);
        for (size_t k = 0; k < input->n; k++) {
            rc = lambda_bool(c, n->args[0], input, k, &b);
            if (rc)
                return rc;
            if (n->op == F_EXISTS && b == 1)
                return fp_push_bool(c, out, 1);
            if (n->op == F_ALL && b != 1)
                return fp_push_bool(c, out, 0);
        }
        return fp_push_bool(c, out, n->op == F_ALL);
    case F_ALLTRUE:
    case F_ANYTRUE:
    case F_ALLFALSE:
    case F_ANYFALSE: {
        int want = n->op == F_ALLTRUE || n->op == F_ANYTRUE;
        int any = n->op == F_ANYTRUE || n->op == F_ANYFALSE;
        for (size_t k = 0; k < input->n; k++) {
            fp_item v;
            if (fp_prim(&input->items[k], &v) != FPV_BOOL)
                return fp_fail(c, FG_EINVALID, "%s() needs booleans", n->name);
            if (any && v.i == want)
                return fp_push_bool(c, out, 1);
            if (!any && v.i != want)
                return fp_push_bool(c, out, 0);
        }
        return fp_push_bool(c, out, !any);
    }
    case F_SUBSETOF:
    case F_SUPERSETOF: {
        rc = arg_coll(c, n, 0, focus, sc, &other);
        if (rc)
            return rc;
        const fp_coll *sub = n->op == F_SUBSETOF ? input : &other;
        const fp_coll *sup = n->op == F_SUBSETOF ? &other : input;
        for (size_t k = 0; k < sub->n; k++)
            if (!contains_item(sup, &sub->items[k]))
                return fp_push_bool(c, out, 0);
        return fp_push_bool(c, out, 1);
    }
    case F_COUNT:
        r = (fp_item){.kind = FPV_INT, .i = (long long)input->n};
        return fp_push(c, out, &r);
    case F_DISTINCT:
        for (size_t k = 0; k < input->n && !rc; k++)
            if (!contains_item(out, &input->items[k]))
                rc = fp_push(c, out, &input->items[k]);
        return rc;
    case F_ISDISTINCT:
        for (size_t k = 0; k < input->n; k++)
            for (size_t j = 0; j < k; j++)
                if (fp_equal(&input->items[j], &input->items[k]) == 1)
                    return fp_push_bool(c, out, 0);
        return fp_push_bool(c, out, 1);
    case F_WHERE:
        for (size_t k = 0; k < input->n; k++) {
            rc = lambda_bool(c, n->args[0], input, k, &b);
            if (!rc && b == 1)
                rc = fp_push(c, out, &input->items[k]);
            if (rc)
                return rc;
        }
        return FG_OK;
    case F_SELECT:
        for (size_t k = 0; k < input->n; k++) {
            fp_coll res = {0};
            rc = lambda(c, n->args[0], input, k, &res);
            for (size_t j = 0; !rc && j < res.n; j++)
                rc = fp_push(c, out, &res.items[j]);
            if (rc)
                return rc;
        }
        return FG_OK;
    case F_REPEAT:
        return repeat_fn(c, n, input, out);
    case F_OFTYPE:
    case F_AS:
    case F_IS:
        return type_fn(c, n, input, out);
    case F_SINGLE:
        rc = single_input(c, n, input);
        if (rc || input->n == 0)
            return rc;
        return fp_push(c, out, &input->items[0]);
    case F_FIRST:
        return input->n ? fp_push(c, out, &input->items[0]) : FG_OK;
    case F_LAST:
        return input->n ? fp_push(c, out, &input->items[input->n - 1]) : FG_OK;
    case F_TAIL:
    case F_SKIP:
    case F_TAKE: {
        long long num = 1;
        if (n->op != F_TAIL) {
            rc = arg_int(c, n, 0, focus, sc, &num);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return FG_OK;
            rc = FG_OK;
        }
        size_t from = 0, to = input->n;
        if (n->op == F_TAKE)
            to = num <= 0 ? 0 : (size_t)num < to ? (size_t)num : to;
        else
            from = num <= 0 ? 0 : (size_t)num < to ? (size_t)num : to;
        for (size_t k = from; k < to && !rc; k++)
            rc = fp_push(c, out, &input->items[k]);
        return rc;
    }
    case F_INTERSECT:
    case F_EXCLUDE:
        rc = arg_coll(c, n, 0, focus, sc, &other);
        for (size_t k = 0; !rc && k < input->n; k++) {
            int in = contains_item(&other, &input->items[k]);
            if ((n->op == F_INTERSECT) == (in != 0) &&
                !(n->op == F_INTERSECT && contains_item(out, &input->items[k])))
                rc = fp_push(c, out, &input->items[k]);
        }
        return rc;
    case F_UNION:
    case F_COMBINE:
        rc = arg_coll(c, n, 0, focus, sc, &other);
        if (rc)
            return rc;
        if (n->op == F_UNION) {
            rc = fp_union_into(c, out, input);
            return rc ? rc : fp_union_into(c, out, &other);
        }
        for (size_t k = 0; !rc && k < input->n; k++)
            rc = fp_push(c, out, &input->items[k]);
        for (size_t k = 0; !rc && k < other.n; k++)
            rc = fp_push(c, out, &other.items[k]);
        return rc;
    case F_IIF: {
        fp_coll cond = {0};
        rc = fp_eval(c, n->args[0], input, sc, &cond);
        if (rc)
            return rc;
        rc = fp_to_bool(c, &cond, &b);
        if (rc)
            return rc;
        if (b == 1)
            return fp_eval(c, n->args[1], input, sc, out);
        if (n->nargs > 2)
            return fp_eval(c, n->args[2], input, sc, out);
        return FG_OK;
    }
    case F_TOBOOLEAN:
    case F_TOINTEGER:
    case F_TODECIMAL:
    case F_TOSTRING:
    case F_TODATE:
    case F_TODATETIME:
    case F_TOTIME:
    case F_CTBOOLEAN:
    case F_CTINTEGER:
    case F_CTDECIMAL:
    case F_CTSTRING:
    case F_CTDATE:
    case F_CTDATETIME:
    case F_CTTIME: {
        rc = single_input(c, n, input);
        if (rc || input->n == 0)
            return rc;
        int to = n->op;
        int check = 0;
        static const int pairs[][2] = {{F_CTBOOLEAN, F_TOBOOLEAN}, {F_CTINTEGER, F_TOINTEGER},
                                       {F_CTDECIMAL, F_TODECIMAL}, {F_CTSTRING, F_TOSTRING},
                                       {F_CTDATE, F_TODATE},       {F_CTDATETIME, F_TODATETIME},
                                       {F_CTTIME, F_TOTIME}};
        for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++)
            if (pairs[k][0] == to) {
                to = pairs[k][1];
                check = 1;
            }
        int ok = convert(c, to, &input->items[0], &r);
        if (check)
            return fp_push_bool(c, out, ok);
        return ok ? fp_push(c, out, &r) : FG_OK;
    }
    case F_INDEXOF:
    case F_SUBSTRING:
    case F_STARTSWITH:
    case F_ENDSWITH:
    case F_CONTAINS:
    case F_UPPER:
    case F_LOWER:
    case F_REPLACE:
    case F_MATCHES:
    case F_REPLACEMATCHES:
    case F_LENGTH:
    case F_TOCHARS:
        return string_fn(c, n, input, focus, sc, out);
    case F_NOT:
        rc = fp_to_bool(c, input, &b);
        if (rc || b < 0)
            return rc;
        return fp_push_bool(c, out, !b);
    case F_CHILDREN:
        for (size_t k = 0; k < input->n && !rc; k++)
            rc = fp_all_children(c, &input->items[k], out);
        return rc;
    case F_DESCENDANTS:
        for (size_t k = 0; k < input->n && !rc; k++)
            rc = descend(c, &input->items[k], out, 0);
        return rc;
    case F_TRACE:
        if (n->nargs > 1) {
            for (size_t k = 0; k < input->n && !rc; k++) {
                fp_coll res = {0};
                rc = lambda(c, n->args[1], input, k, &res);
            }
            if (rc)
                return rc;
        }
        *out = *input;
        out->cap = out->n;
        return FG_OK;
    case F_TODAY:
    case F_NOW:
    case F_TIMEOFDAY:
        return now_fn(c, n->op, out);
    case F_HASVALUE:
        if (input->n != 1)
            return fp_push_bool(c, out, 0);
        if (input->items[0].kind != FPV_JSON)
            return fp_push_bool(c, out, 1);
        return fp_push_bool(c, out, input->items[0].json && !json_is_object(input->items[0].json) &&
                                        !json_is_array(input->items[0].json));
    case F_GETVALUE:
        if (input->n == 1 && fp_prim(&input->items[0], &r) >= 0 && r.kind != FPV_JSON)
            return fp_push(c, out, &r);
        return FG_OK;
    case F_EXTENSION:
    case F_RESOLVE:
    case F_MEMBEROF:
    case F_CONFORMSTO:
        return callback_fn(c, n, input, focus, sc, out);
    case F_HTMLCHECKS: {
        rc = single_input(c, n, input);
        if (rc || input->n == 0)
            return rc;
        const char *s = NULL;
        size_t sn = 0;
        if (!fp_to_string(c, &input->items[0], &s, &sn))
            return fp_push_bool(c, out, 0);
        return fp_push_bool(c, out, fp_html_check(s, sn));
    }
    default:
        return math_fn(c, n, input, focus, sc, out);
    }
}

/* ---- regular expressions ---- */

static int regex_run(fp_ctx *c, const regex_t *pre, const char *pattern, const char *s, size_t n,
                     const char *subst, size_t subst_n, fp_coll *out)
{
    regex_t *owned = NULL;
    if (!pre) {
        /* A pattern computed at run time: compiled for this call. */
        int rc = regex_compile(pattern, &owned);
        if (rc == FG_ENOMEM)
            return fp_fail(c, rc, "out of memory");
        if (rc)
            return fp_fail(c, FG_EINVALID, "invalid or unsupported regular expression: %s",
                           pattern);
        pre = owned;
    }
    const char *str = s;
    if (s[n] != '\0' || strlen(s) != n) {
        str = fp_strndup(c, s, n);
        if (!str) {
            if (owned)
                regfree(owned);
            free(owned);
            return fp_fail(c, FG_ELIMIT, "out of evaluation memory");
        }
    }
    int rc;
    if (!subst) {
        rc = fp_push_bool(c, out, regexec(pre, str, 0, NULL, 0) == 0);
        if (owned) {
            regfree(owned);
            free(owned);
        }
        return rc;
    }
    /* replaceMatches: every match replaced, $1..$9 name groups. */
    size_t cap = n + 1 + 64, o = 0;
    char *res = fp_alloc(c, cap);
    size_t pos = 0;
    regmatch_t m[10];
    rc = FG_OK;
    while (res && pos <= n) {
        if (regexec(pre, str + pos, 10, m, pos ? REG_NOTBOL : 0) != 0)
            break;
        size_t need = o + (size_t)m[0].rm_so + subst_n * 4 + (n - pos) + 64;
        for (size_t k = 0; k < subst_n; k++)
            if (subst[k] == '$')
                need += n;
        if (need > cap) {
            char *bigger = fp_alloc(c, need * 2);
            if (bigger)
                memcpy(bigger, res, o);
            res = bigger;
            cap = need * 2;
            if (!res)
                break;
        }
        memcpy(res + o, str + pos, (size_t)m[0].rm_so);
        o += (size_t)m[0].rm_so;
        for (size_t k = 0; k < subst_n; k++) {
            if (subst[k] == '$' && k + 1 < subst_n && isdigit((unsigned char)subst[k + 1])) {
                int g = subst[++k] - '0';
                if (m[g].rm_so >= 0) {
                    memcpy(res + o, str + pos + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
                    o += (size_t)(m[g].rm_eo - m[g].rm_so);
                }
            } else {
                res[o++] = subst[k];
            }
        }
        if (m[0].rm_eo == m[0].rm_so) {
            if (pos < n)
                res[o++] = str[pos];
            pos++;
        } else {
            pos += (size_t)m[0].rm_eo;
        }
    }
    if (owned) {
        regfree(owned);
        free(owned);
    }
    if (!res)
        return fp_fail(c, FG_ELIMIT, "out of evaluation memory");
    if (pos < n) {
        if (o + (n - pos) + 1 > cap) {
            char *bigger = fp_alloc(c, o + (n - pos) + 1);
            if (!bigger)
                return fp_fail(c, FG_ELIMIT, "out of evaluation memory");
            memcpy(bigger, res, o);
            res = bigger;
        }
        memcpy(res + o, str + pos, n - pos);
        o += n - pos;
    }
    return push_str(c, out, res, o, 0);
}
