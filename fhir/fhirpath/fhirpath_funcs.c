/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirpath_funcs.c: the FHIRPath function library. Criteria arguments
 * (where, select, all, exists, repeat, trace's projection) are evaluated
 * once per input item with $this and $index set; every other argument is
 * evaluated once against the focus of the enclosing expression.
 */
#include <string.h>
#include <time.h>

#include "fhir/fhirpath/fhirpath_private.h"

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
    [F_POWER] = {"power", 1, 1},          [F_AGGREGATE] = {"aggregate", 1, 2},
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

int fp_single_input(fp_ctx *c, const fp_node *n, const fp_coll *in)
{
    if (in->n > 1)
        return fp_fail(c, FG_EINVALID, "%s() needs a single item, got %zu", n->name, in->n);
    return FG_OK;
}

/* The input as one string: 1 yes, 0 empty input, negative error. */
int fp_input_string(fp_ctx *c, const fp_node *n, const fp_coll *in, const char **s,
                        size_t *len)
{
    int rc = fp_single_input(c, n, in);
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

int fp_arg_coll(fp_ctx *c, const fp_node *n, int k, const fp_coll *focus, const fp_scope *sc,
                    fp_coll *res)
{
    return fp_eval(c, n->args[k], focus, sc, res);
}

/* Argument k as a string: 1 yes, 0 empty. */
int fp_arg_string(fp_ctx *c, const fp_node *n, int k, const fp_coll *focus,
                      const fp_scope *sc, const char **s, size_t *len)
{
    fp_coll res = {0};
    int rc = fp_arg_coll(c, n, k, focus, sc, &res);
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

int fp_arg_int(fp_ctx *c, const fp_node *n, int k, const fp_coll *focus, const fp_scope *sc,
                   long long *v)
{
    fp_coll res = {0};
    int rc = fp_arg_coll(c, n, k, focus, sc, &res);
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

static int contains_item(const fp_coll *coll, const fp_item *it)
{
    for (size_t k = 0; k < coll->n; k++)
        if (fp_equal(&coll->items[k], it) == 1)
            return 1;
    return 0;
}

/* ---- the dispatcher ---- */

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
        return fp_no_memory(c);
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

/* aggregate(aggregator [, init]): $total carries the running value. */
static int aggregate_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                        const fp_scope *sc, fp_coll *out)
{
    fp_coll total = {0};
    int rc = n->nargs > 1 ? fp_arg_coll(c, n, 1, focus, sc, &total) : FG_OK;
    for (size_t k = 0; !rc && k < input->n; k++) {
        fp_coll one = {.items = &input->items[k], .n = 1, .cap = 1};
        fp_scope s = {.this_item = &input->items[k], .index = (long long)k, .total = &total};
        fp_coll next = {0};
        rc = fp_eval(c, n->args[0], &one, &s, &next);
        total = next;
        total.cap = total.n;
    }
    if (!rc)
        *out = total;
    return rc;
}

static int repeat_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, fp_coll *out)
{
    fp_coll queue = *input;
    queue.cap = queue.n;
    size_t done = 0;
    long long compared = 0;
    int rc = FG_OK;
    while (done < queue.n) {
        fp_coll res = {0};
        rc = lambda(c, n->args[0], &queue, done, &res);
        if (rc)
            return rc;
        done++;
        for (size_t k = 0; k < res.n; k++) {
            int seen = 0;
            if (res.items[k].kind != FPV_JSON) {
                /* computed values are compared by value: bound that work */
                compared += out->n;
                if (compared > FG_MAX_FHIRPATH_REPEAT * 200LL)
                    return fp_fail(c, FG_ELIMIT,
                                   "repeat() compared too many computed values "
                                   "(FG_MAX_FHIRPATH_REPEAT)");
            }
            for (size_t j = 0; j < out->n && !seen; j++)
                seen = same_node(&out->items[j], &res.items[k]);
            if (seen)
                continue;
            if (out->n >= FG_MAX_FHIRPATH_REPEAT)
                return fp_fail(c, FG_ELIMIT,
                               "repeat() collected more than %d items (FG_MAX_FHIRPATH_REPEAT)",
                               FG_MAX_FHIRPATH_REPEAT);
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
        int rc = fp_single_input(c, n, input);
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
            if (it->kind == FPV_JSON && fg_jv_is_object(it->json))
                ref = fg_jv_str(fg_jv_get(it->json, "reference"));
            else if (it->kind == FPV_JSON)
                ref = fg_jv_str(it->json);
            if (!ref || !env->resolve)
                continue;
            const fg_jv *from = c->resource.n ? c->resource.items[0].json : NULL;
            const fg_jv *r = env->resolve(env->ctx, from, ref);
            if (!fg_jv_is_object(r))
                continue;
            fp_item ri = {.kind = FPV_JSON, .json = r};
            ri.type = fg_jv_str(fg_jv_get(r, "resourceType"));
            rc = fp_push(c, out, &ri);
            if (rc)
                return rc;
        }
        return FG_OK;
    }
    const char *url = NULL;
    size_t un = 0;
    rc = fp_arg_string(c, n, 0, focus, sc, &url, &un);
    if (rc <= 0)
        return rc;
    url = fp_strndup(c, url, un);
    if (!url)
        return fp_no_memory(c);
    if (n->op == F_EXTENSION) {
        for (size_t k = 0; k < input->n; k++) {
            fp_coll ext = {0};
            rc = fp_children(c, &input->items[k], "extension", &ext);
            if (rc)
                return rc;
            for (size_t j = 0; j < ext.n; j++) {
                const fg_jv *u = fg_jv_is_object(ext.items[j].json)
                                      ? fg_jv_get(ext.items[j].json, "url")
                                      : NULL;
                if (fg_jv_is_string(u) && strcmp(fg_jv_str(u), url) == 0) {
                    rc = fp_push(c, out, &ext.items[j]);
                    if (rc)
                        return rc;
                }
            }
        }
        return FG_OK;
    }
    rc = fp_single_input(c, n, input);
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

/* ---- the function groups fp_call dispatches to ---- */

/* empty, exists, all, allTrue, anyTrue, allFalse, anyFalse */
static int existence_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, fp_coll *out)
{
    int rc, b = 0;
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
    default: { /* allTrue, anyTrue, allFalse, anyFalse */
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
    }
}

/* subsetOf, supersetOf, count, distinct, isDistinct */
static int set_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                  const fp_scope *sc, fp_coll *out)
{
    int rc = FG_OK;
    fp_coll other = {0};
    fp_item r;
    switch (n->op) {
    case F_SUBSETOF:
    case F_SUPERSETOF: {
        rc = fp_arg_coll(c, n, 0, focus, sc, &other);
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
    default: /* isDistinct */
        for (size_t k = 0; k < input->n; k++)
            for (size_t j = 0; j < k; j++)
                if (fp_equal(&input->items[j], &input->items[k]) == 1)
                    return fp_push_bool(c, out, 0);
        return fp_push_bool(c, out, 1);
    }
}

/* where, select */
static int filter_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, fp_coll *out)
{
    int rc, b = 0;
    for (size_t k = 0; k < input->n; k++) {
        if (n->op == F_WHERE) {
            rc = lambda_bool(c, n->args[0], input, k, &b);
            if (!rc && b == 1)
                rc = fp_push(c, out, &input->items[k]);
        } else {
            fp_coll res = {0};
            rc = lambda(c, n->args[0], input, k, &res);
            for (size_t j = 0; !rc && j < res.n; j++)
                rc = fp_push(c, out, &res.items[j]);
        }
        if (rc)
            return rc;
    }
    return FG_OK;
}

/* single, first, last, tail, skip, take */
static int subsetting_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                         const fp_scope *sc, fp_coll *out)
{
    int rc;
    switch (n->op) {
    case F_SINGLE:
        rc = fp_single_input(c, n, input);
        if (rc || input->n == 0)
            return rc;
        return fp_push(c, out, &input->items[0]);
    case F_FIRST:
        return input->n ? fp_push(c, out, &input->items[0]) : FG_OK;
    case F_LAST:
        return input->n ? fp_push(c, out, &input->items[input->n - 1]) : FG_OK;
    default: { /* tail, skip, take */
        long long num = 1;
        rc = FG_OK;
        if (n->op != F_TAIL) {
            rc = fp_arg_int(c, n, 0, focus, sc, &num);
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
    }
}

/* intersect, exclude, union, combine */
static int combining_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                        const fp_scope *sc, fp_coll *out)
{
    fp_coll other = {0};
    int rc = fp_arg_coll(c, n, 0, focus, sc, &other);
    if (n->op == F_INTERSECT || n->op == F_EXCLUDE) {
        for (size_t k = 0; !rc && k < input->n; k++) {
            int in = contains_item(&other, &input->items[k]);
            if ((n->op == F_INTERSECT) == (in != 0) &&
                !(n->op == F_INTERSECT && contains_item(out, &input->items[k])))
                rc = fp_push(c, out, &input->items[k]);
        }
        return rc;
    }
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
}

static int iif_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_scope *sc,
                  fp_coll *out)
{
    fp_coll cond = {0};
    int b = 0, rc = fp_eval(c, n->args[0], input, sc, &cond);
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

/* toX() and convertsToX() */
static int conversion_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, fp_coll *out)
{
    static const int pairs[][2] = {{F_CTBOOLEAN, F_TOBOOLEAN}, {F_CTINTEGER, F_TOINTEGER},
                                   {F_CTDECIMAL, F_TODECIMAL}, {F_CTSTRING, F_TOSTRING},
                                   {F_CTDATE, F_TODATE},       {F_CTDATETIME, F_TODATETIME},
                                   {F_CTTIME, F_TOTIME}};
    fp_item r;
    int rc = fp_single_input(c, n, input);
    if (rc || input->n == 0)
        return rc;
    int to = n->op;
    int check = 0;
    for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++)
        if (pairs[k][0] == to) {
            to = pairs[k][1];
            check = 1;
        }
    int ok = fp_convert(c, to, &input->items[0], &r);
    if (check)
        return fp_push_bool(c, out, ok);
    return ok ? fp_push(c, out, &r) : FG_OK;
}

/* children, descendants */
static int tree_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, fp_coll *out)
{
    int rc = FG_OK;
    for (size_t k = 0; k < input->n && !rc; k++)
        rc = n->op == F_CHILDREN ? fp_all_children(c, &input->items[k], out)
                                 : descend(c, &input->items[k], out, 0);
    return rc;
}

static int trace_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, fp_coll *out)
{
    int rc = FG_OK;
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
}

/* not, hasValue, getValue, htmlChecks */
static int value_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, fp_coll *out)
{
    int rc, b = 0;
    fp_item r;
    switch (n->op) {
    case F_NOT:
        rc = fp_to_bool(c, input, &b);
        if (rc || b < 0)
            return rc;
        return fp_push_bool(c, out, !b);
    case F_HASVALUE:
        if (input->n != 1)
            return fp_push_bool(c, out, 0);
        if (input->items[0].kind != FPV_JSON)
            return fp_push_bool(c, out, 1);
        return fp_push_bool(c, out, input->items[0].json && !fg_jv_is_object(input->items[0].json) &&
                                        !fg_jv_is_array(input->items[0].json));
    case F_GETVALUE:
        if (input->n == 1 && fp_prim(&input->items[0], &r) >= 0 && r.kind != FPV_JSON)
            return fp_push(c, out, &r);
        return FG_OK;
    default: { /* htmlChecks */
        rc = fp_single_input(c, n, input);
        if (rc || input->n == 0)
            return rc;
        const char *s = NULL;
        size_t sn = 0;
        if (!fp_to_string(c, &input->items[0], &s, &sn))
            return fp_push_bool(c, out, 0);
        return fp_push_bool(c, out, fp_html_check(s, sn));
    }
    }
}

int fp_call(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
            const fp_scope *sc, fp_coll *out)
{
    switch (n->op) {
    case F_EMPTY:
    case F_EXISTS:
    case F_ALL:
    case F_ALLTRUE:
    case F_ANYTRUE:
    case F_ALLFALSE:
    case F_ANYFALSE:
        return existence_fn(c, n, input, out);
    case F_SUBSETOF:
    case F_SUPERSETOF:
    case F_COUNT:
    case F_DISTINCT:
    case F_ISDISTINCT:
        return set_fn(c, n, input, focus, sc, out);
    case F_WHERE:
    case F_SELECT:
        return filter_fn(c, n, input, out);
    case F_REPEAT:
        return repeat_fn(c, n, input, out);
    case F_AGGREGATE:
        return aggregate_fn(c, n, input, focus, sc, out);
    case F_OFTYPE:
    case F_AS:
    case F_IS:
        return type_fn(c, n, input, out);
    case F_SINGLE:
    case F_FIRST:
    case F_LAST:
    case F_TAIL:
    case F_SKIP:
    case F_TAKE:
        return subsetting_fn(c, n, input, focus, sc, out);
    case F_INTERSECT:
    case F_EXCLUDE:
    case F_UNION:
    case F_COMBINE:
        return combining_fn(c, n, input, focus, sc, out);
    case F_IIF:
        return iif_fn(c, n, input, sc, out);
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
    case F_CTTIME:
        return conversion_fn(c, n, input, out);
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
        return fp_string_fn(c, n, input, focus, sc, out);
    case F_CHILDREN:
    case F_DESCENDANTS:
        return tree_fn(c, n, input, out);
    case F_TRACE:
        return trace_fn(c, n, input, out);
    case F_TODAY:
    case F_NOW:
    case F_TIMEOFDAY:
        return now_fn(c, n->op, out);
    case F_EXTENSION:
    case F_RESOLVE:
    case F_MEMBEROF:
    case F_CONFORMSTO:
        return callback_fn(c, n, input, focus, sc, out);
    case F_NOT:
    case F_HASVALUE:
    case F_GETVALUE:
    case F_HTMLCHECKS:
        return value_fn(c, n, input, out);
    default:
        return fp_math_fn(c, n, input, focus, sc, out);
    }
}
