/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirpath.c: the public face of the FHIRPath evaluator (compile, evaluate,
 * convert the result) and the per-evaluation memory.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/fhirpath/fhirpath_private.h"

#define FP_STACK_BYTES 16384

struct fp_block {
    fp_block *next;
    size_t size;
    _Alignas(max_align_t) unsigned char data[];
};

void *fp_alloc(fp_ctx *c, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    fp_mem *m = &c->mem;
    if (m->off + n > m->size) {
        size_t size = n > 65536 ? n : 65536;
        if (m->total + size > FG_MAX_FHIRPATH_EVAL_BYTES) {
            m->malloc_failed = 0;
            return NULL;
        }
        fp_block *b = malloc(sizeof(*b) + size);
        m->malloc_failed = b == NULL;
        if (!b)
            return NULL;
        b->next = m->blocks;
        b->size = size;
        m->blocks = b;
        m->total += size;
        m->base = b->data;
        m->size = size;
        m->off = 0;
    }
    void *p = m->base + m->off;
    m->off += n;
    return p;
}

int fp_no_memory(fp_ctx *c)
{
    if (c->mem.malloc_failed)
        return fp_fail(c, FG_ENOMEM, "out of memory");
    return fp_fail(c, FG_ELIMIT,
                   "a FHIRPath evaluation needed more than %u bytes (FG_MAX_FHIRPATH_EVAL_BYTES)",
                   (unsigned)FG_MAX_FHIRPATH_EVAL_BYTES);
}

char *fp_strndup(fp_ctx *c, const char *s, size_t n)
{
    char *d = fp_alloc(c, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void mem_free(fp_mem *m)
{
    fp_block *b = m->blocks;
    while (b) {
        fp_block *next = b->next;
        free(b);
        b = next;
    }
    m->blocks = NULL;
}

int fp_fail(fp_ctx *c, int code, const char *fmt, ...)
{
    if (c->err && c->err->code == FG_OK) {
        char text[FG_ERROR_TEXT_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        fg_error_set(c->err, code, c->expr, "%s", text);
    }
    return code;
}

int fp_push(fp_ctx *c, fp_coll *out, const fp_item *it)
{
    if (out->n == out->cap) {
        if (out->n >= FG_MAX_FHIRPATH_ITEMS)
            return fp_fail(c, FG_ELIMIT,
                           "a FHIRPath collection grew past %d items (FG_MAX_FHIRPATH_ITEMS)",
                           FG_MAX_FHIRPATH_ITEMS);
        size_t cap = out->cap ? out->cap * 2 : 2;
        fp_item *items = fp_alloc(c, cap * sizeof(*items));
        if (!items)
            return fp_no_memory(c);
        if (out->n)
            memcpy(items, out->items, out->n * sizeof(*items));
        out->items = items;
        out->cap = cap;
    }
    out->items[out->n++] = *it;
    return FG_OK;
}

int fg_fhirpath_compile(const char *expr, fg_fhirpath **out, fg_error *err)
{
    fg_fhirpath *fp = NULL;
    int rc;
    if (!expr || !out)
        return fg_error_set(err, FG_EUSAGE, "", "fg_fhirpath_compile needs an expression");
    size_t len = strlen(expr);
    if (len > FG_MAX_FHIRPATH_EXPR_BYTES)
        return fg_error_set(err, FG_ELIMIT, "",
                            "FHIRPath expression of %zu bytes is longer than %d "
                            "(FG_MAX_FHIRPATH_EXPR_BYTES)",
                            len, FG_MAX_FHIRPATH_EXPR_BYTES);
    fp = calloc(1, sizeof(*fp));
    if (!fp)
        return fg_error_set(err, FG_ENOMEM, "", "out of memory");
    fg_arena_init(&fp->arena);
    fp->text = fg_arena_strndup(&fp->arena, expr, len);
    if (!fp->text) {
        rc = fg_error_set(err, FG_ENOMEM, "", "out of memory");
        goto cleanup;
    }
    rc = fp_parse(fp, err);
    if (rc)
        goto cleanup;
    *out = fp;
    fp = NULL;
cleanup:
    fg_fhirpath_free(fp);
    return rc;
}

void fg_fhirpath_free(fg_fhirpath *fp)
{
    if (!fp)
        return;
    fp_func_release(fp);
    fg_arena_free(&fp->arena);
    free(fp);
}

const char *fg_fhirpath_text(const fg_fhirpath *fp)
{
    return fp ? fp->text : NULL;
}

_Thread_local fp_ctx *fp_current;

static int run_inner(fp_ctx *c, const fg_fhirpath *fp, const fg_jv *focus,
                     const char *focus_type, const fg_fhirpath_env *env, fp_coll *res)
{
    static const fg_fhirpath_env no_env;
    c->env = env ? env : &no_env;
    c->expr = fp->text;
    fp_item it = {.kind = FPV_JSON, .json = focus, .type = focus_type};
    if (!it.type && fg_jv_is_object(focus))
        it.type = fg_jv_str(fg_jv_get(focus, "resourceType"));
    fp_coll in = {0};
    int rc = fp_push(c, &in, &it);
    if (rc)
        return rc;
    c->context = in;
    if (c->env->resource && c->env->resource == focus && it.type) {
        c->resource = in;
    } else if (c->env->resource) {
        fp_item r = {.kind = FPV_JSON, .json = c->env->resource};
        r.type = fg_jv_str(fg_jv_get(c->env->resource, "resourceType"));
        rc = fp_push(c, &c->resource, &r);
        if (rc)
            return rc;
    } else if (fg_jv_is_object(focus) && fg_jv_get(focus, "resourceType")) {
        c->resource = in;
    }
    if (c->env->root_resource && c->resource.n &&
        c->env->root_resource == c->resource.items[0].json) {
        c->root = c->resource;
    } else if (c->env->root_resource) {
        fp_item r = {.kind = FPV_JSON, .json = c->env->root_resource};
        r.type = fg_jv_str(fg_jv_get(c->env->root_resource, "resourceType"));
        rc = fp_push(c, &c->root, &r);
        if (rc)
            return rc;
    } else {
        c->root = c->resource;
    }
    fp_scope sc = {.this_item = NULL};
    return fp_eval(c, fp->root, &in, &sc, res);
}

/* Evaluate into *res with a caller-owned stack block; the caller frees
 * c->mem's blocks. */
static int run(fp_ctx *c, const fg_fhirpath *fp, const fg_jv *focus, const char *focus_type,
               const fg_fhirpath_env *env, fp_coll *res)
{
    fp_ctx *outer = fp_current;
    fp_current = c;
    int rc = run_inner(c, fp, focus, focus_type, env, res);
    fp_current = outer;
    return rc;
}

int fg_fhirpath_eval_bool(const fg_fhirpath *fp, const fg_jv *focus, const char *focus_type,
                          const fg_fhirpath_env *env, int *result, fg_error *err)
{
    _Alignas(max_align_t) unsigned char stack[FP_STACK_BYTES];
    fp_ctx c = {.err = err};
    c.mem.base = stack;
    c.mem.size = sizeof(stack);
    if (err) {
        err->code = FG_OK;
        err->where[0] = err->text[0] = '\0';
    }
    if (!fp || !result) {
        return fg_error_set(err, FG_EUSAGE, "", "fg_fhirpath_eval_bool needs an expression");
    }
    fp_coll res = {0};
    int rc = run(&c, fp, focus, focus_type, env, &res);
    if (rc)
        goto cleanup;
    if (res.n == 0) {
        *result = -1;
    } else if (res.n > 1) {
        rc = fg_error_set(err, FG_EINVALID, fp->text,
                          "the expression gave %zu items where one boolean was expected", res.n);
    } else if (res.items[0].kind == FPV_BOOL) {
        *result = res.items[0].i != 0;
    } else if (res.items[0].kind == FPV_JSON && fg_jv_is_boolean(res.items[0].json)) {
        *result = fg_jv_is_true(res.items[0].json);
    } else {
        rc = fg_error_set(err, FG_EINVALID, fp->text,
                          "the expression gave a %s where a boolean was expected",
                          fp_item_type(&res.items[0]));
    }
cleanup:
    mem_free(&c.mem);
    return rc;
}

/* The JSON form of one result item: a copy of input JSON, or a new scalar. */
static json_t *item_json(fp_ctx *c, const fp_item *it)
{
    const char *s = NULL;
    size_t n = 0;
    switch (it->kind) {
    case FPV_JSON:
        return it->json ? fg_jv_to_json(it->json) : json_null();
    case FPV_BOOL:
        return json_boolean(it->i);
    case FPV_INT:
        return json_integer(it->i);
    case FPV_DEC:
        return json_real(it->d);
    case FPV_QTY: {
        json_t *q = json_object();
        if (q) {
            json_object_set_new(q, "value", json_real(it->d));
            json_object_set_new(q, "code", json_stringn(it->s, it->n));
        }
        return q;
    }
    default:
        if (!fp_to_string(c, it, &s, &n))
            return json_null();
        return json_stringn(s, n);
    }
}

int fg_fhirpath_eval_json(const fg_fhirpath *fp, const fg_jv *focus, const char *focus_type,
                          const fg_fhirpath_env *env, json_t **out, fg_error *err)
{
    _Alignas(max_align_t) unsigned char stack[FP_STACK_BYTES];
    fp_ctx c = {.err = err};
    c.mem.base = stack;
    c.mem.size = sizeof(stack);
    json_t *arr = NULL;
    if (err)
        fg_error_clear(err);
    if (!fp || !out)
        return fg_error_set(err, FG_EUSAGE, "", "fg_fhirpath_eval_json needs an expression");
    fp_coll res = {0};
    int rc = run(&c, fp, focus, focus_type, env, &res);
    if (rc)
        goto cleanup;
    arr = json_array();
    if (!arr) {
        rc = fg_error_set(err, FG_ENOMEM, "", "out of memory");
        goto cleanup;
    }
    for (size_t k = 0; k < res.n; k++) {
        json_t *v = item_json(&c, &res.items[k]);
        if (!v || json_array_append_new(arr, v) != 0) {
            rc = fg_error_set(err, FG_ENOMEM, "", "out of memory");
            goto cleanup;
        }
    }
    *out = arr;
    arr = NULL;
cleanup:
    json_decref(arr);
    mem_free(&c.mem);
    return rc;
}
