/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirpath_eval.c: evaluation of the compiled tree: navigation over JSON
 * (arrays flatten, `_name` carries a primitive's extensions, `value` finds
 * `valueQuantity`), variables, and the operators with FHIRPath's empty
 * propagation and three-valued logic.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fhir/fhirpath/fhirpath_private.h"

static const fp_item bool_items[2] = {{.kind = FPV_BOOL, .i = 0}, {.kind = FPV_BOOL, .i = 1}};

int fp_push_bool(fp_ctx *c, fp_coll *out, int b)
{
    if (out->n == 0) {
        /* Collections are never written in place (cap == n makes the next
         * push copy), so a result can share a constant item. */
        out->items = (fp_item *)&bool_items[b != 0];
        out->n = out->cap = 1;
        return FG_OK;
    }
    return fp_push(c, out, &bool_items[b != 0]);
}

/* Singleton evaluation of a collection as a boolean: -1 empty. */
int fp_to_bool(fp_ctx *c, const fp_coll *v, int *b)
{
    if (v->n == 0) {
        *b = -1;
        return FG_OK;
    }
    fp_item p;
    if (v->n > 1) {
        /* Several items: an error when any is a boolean (which one counts?);
         * references or codings (`practitioner or organization`) count as
         * present, the reading invariants written this way intend. */
        for (size_t k = 0; k < v->n; k++)
            if (fp_prim(&v->items[k], &p) == FPV_BOOL)
                return fp_fail(c, FG_EINVALID,
                               "a collection of %zu items was used where one boolean was "
                               "expected",
                               v->n);
        *b = 1;
        return FG_OK;
    }
    const fp_item *it = &v->items[0];
    if (it->kind == FPV_BOOL)
        *b = it->i != 0;
    else if (it->kind == FPV_JSON && fg_jv_is_boolean(it->json))
        *b = fg_jv_is_true(it->json);
    else
        *b = 1; /* a single item of another type counts as true */
    return FG_OK;
}

const char *fp_type(const fp_item *it)
{
    if (it->type || it->kind != FPV_JSON)
        return it->type;
    if (fg_jv_is_object(it->json)) {
        const char *rt = fg_jv_str(fg_jv_get(it->json, "resourceType"));
        if (rt)
            return rt;
    }
    fp_ctx *c = fp_current;
    if (!it->parent || !it->pname || !c || !c->env->child_type)
        return NULL;
    const char *ptype = fp_type(it->parent);
    return ptype ? c->env->child_type(c->env->ctx, ptype, it->pname) : NULL;
}

/* Push the items of property value v (array or single) with its `_name`
 * companion e, reached from parent by `name`; type is known for a choice
 * element's suffix, else left to fp_type. */
static int push_values(fp_ctx *c, const fp_item *parent, const char *name, const fg_jv *v,
                       const fg_jv *e, const char *type, fp_coll *out)
{
    int rc;
    fp_item it = {.kind = FPV_JSON, .type = type, .parent = parent, .pname = name};
    if (fg_jv_is_array(v) || (!v && fg_jv_is_array(e))) {
        size_t nv = fg_jv_is_array(v) ? fg_jv_array_size(v) : 0;
        size_t ne = fg_jv_is_array(e) ? fg_jv_array_size(e) : 0;
        size_t n = nv > ne ? nv : ne;
        for (size_t k = 0; k < n; k++) {
            const fg_jv *vi = k < nv ? fg_jv_at(v, k) : NULL;
            const fg_jv *ei = k < ne ? fg_jv_at(e, k) : NULL;
            if (fg_jv_is_null(vi))
                vi = NULL;
            if (!fg_jv_is_object(ei))
                ei = NULL;
            if (!vi && !ei)
                continue;
            it.json = vi;
            it.ext = ei;
            rc = fp_push(c, out, &it);
            if (rc)
                return rc;
        }
        return FG_OK;
    }
    if (fg_jv_is_null(v))
        v = NULL;
    if (!fg_jv_is_object(e))
        e = NULL;
    if (!v && !e)
        return FG_OK;
    it.json = v;
    it.ext = e;
    return fp_push(c, out, &it);
}

/* Property `name` of one item, appended to out. */
int fp_children(fp_ctx *c, const fp_item *it, const char *name, fp_coll *out)
{
    if (it->kind != FPV_JSON)
        return FG_OK;
    const fg_jv *obj = it->json;
    if (!fg_jv_is_object(obj)) {
        /* A primitive: its id and extensions live in `_name`. */
        if (it->ext && (strcmp(name, "extension") == 0 || strcmp(name, "id") == 0))
            return push_values(c, it, name, fg_jv_get(it->ext, name), NULL,
                               strcmp(name, "id") == 0 ? "string" : "Extension", out);
        return FG_OK;
    }
    char uname[128];
    size_t len = strlen(name);
    const fg_jv *e = NULL;
    const fg_jv *v = fg_jv_get(obj, name);
    /* Only primitives have a `_name` companion: skip the lookup for objects. */
    const fg_jv *first = fg_jv_is_array(v) ? fg_jv_at(v, 0) : v;
    if (!fg_jv_is_object(first) && len + 2 <= sizeof(uname)) {
        uname[0] = '_';
        memcpy(uname + 1, name, len + 1);
        e = fg_jv_get(obj, uname);
    }
    if (v || e)
        return push_values(c, it, name, v, e, NULL, out);
    /* A choice element: `value` finds `valueQuantity` (or only its
     * `_valueString` companion). One pass over the keys, the first
     * character filtering most of them out. */
    if (!fp_is_choice_name(name))
        return FG_OK;
    const char *key;
    const fg_jv *val;
    fg_jv_object_foreach(obj, key, val) {
        int under = key[0] == '_';
        const char *k = key + under;
        if (k[0] != name[0] || strncmp(k, name, len) != 0 || k[len] < 'A' || k[len] > 'Z')
            continue;
        const char *type = fp_choice_type(k + len);
        if (!type)
            continue;
        if (under) {
            if (fg_jv_get(obj, k))
                continue; /* taken with its value */
            return push_values(c, it, k, NULL, val, type, out);
        }
        const fg_jv *ce = NULL;
        if (strlen(key) + 2 <= sizeof(uname)) {
            uname[0] = '_';
            strcpy(uname + 1, key);
            ce = fg_jv_get(obj, uname);
        }
        return push_values(c, it, key, val, ce, type, out);
    }
    return FG_OK;
}

/* The type a key names when it is a choice element with its type suffix
 * (`multipleBirthBoolean` -> boolean), else NULL. */
static const char *choice_key_type(const char *key)
{
    char prefix[64];
    for (size_t k = 1; key[k] && k < sizeof(prefix); k++) {
        if (key[k] < 'A' || key[k] > 'Z')
            continue;
        memcpy(prefix, key, k);
        prefix[k] = '\0';
        const char *type = fp_choice_type(key + k);
        if (type && fp_is_choice_name(prefix))
            return type;
    }
    return NULL;
}

/* Every child element of an item (children()). */
int fp_all_children(fp_ctx *c, const fp_item *it, fp_coll *out)
{
    if (it->kind != FPV_JSON)
        return FG_OK;
    const fg_jv *obj = it->json;
    if (!fg_jv_is_object(obj)) {
        if (it->ext) {
            int rc = push_values(c, it, "id", fg_jv_get(it->ext, "id"), NULL, "string",
                                 out);
            if (rc)
                return rc;
            return push_values(c, it, "extension", fg_jv_get(it->ext, "extension"), NULL,
                               "Extension", out);
        }
        return FG_OK;
    }
    char uname[128];
    const char *key;
    const fg_jv *val;
    fg_jv_object_foreach(obj, key, val) {
        if (strcmp(key, "resourceType") == 0)
            continue;
        int rc;
        if (key[0] == '_') {
            if (fg_jv_get(obj, key + 1))
                continue; /* visited with its value */
            rc = push_values(c, it, key + 1, NULL, val, choice_key_type(key + 1), out);
        } else {
            const fg_jv *e = NULL;
            if (strlen(key) + 2 <= sizeof(uname)) {
                uname[0] = '_';
                strcpy(uname + 1, key);
                e = fg_jv_get(obj, uname);
            }
            const char *type = choice_key_type(key);
            rc = push_values(c, it, key, val, e, type, out);
        }
        if (rc)
            return rc;
    }
    return FG_OK;
}

/* Identifier evaluated on each item of the input. A name with a capital
 * first letter is a type name: it selects the items of that type. */
static int eval_member(fp_ctx *c, const char *name, const fp_coll *in, fp_coll *out)
{
    int upper = name[0] >= 'A' && name[0] <= 'Z';
    for (size_t k = 0; k < in->n; k++) {
        const fp_item *it = &in->items[k];
        int rc;
        if (upper) {
            if (fp_is_type(it, name) == 1) {
                rc = fp_push(c, out, it);
                if (rc)
                    return rc;
            }
            continue;
        }
        rc = fp_children(c, it, name, out);
        if (rc)
            return rc;
    }
    return FG_OK;
}

static int eval_var(fp_ctx *c, const fp_node *n, fp_coll *out)
{
    const char *name = n->name;
    const char *str = NULL;
    if (strcmp(name, "context") == 0) {
        *out = c->context;
        out->cap = out->n;
        return FG_OK;
    }
    if (strcmp(name, "resource") == 0) {
        *out = c->resource;
        out->cap = out->n;
        return FG_OK;
    }
    if (strcmp(name, "rootResource") == 0) {
        *out = c->root;
        out->cap = out->n;
        return FG_OK;
    }
    if (strcmp(name, "ucum") == 0)
        str = "http://unitsofmeasure.org";
    else if (strcmp(name, "sct") == 0)
        str = "http://snomed.info/sct";
    else if (strcmp(name, "loinc") == 0)
        str = "http://loinc.org";
    fp_item it = {.kind = FPV_STR};
    if (str) {
        it.s = str;
        it.n = strlen(str);
    } else if (strncmp(name, "vs-", 3) == 0 || strncmp(name, "ext-", 4) == 0) {
        int vs = name[0] == 'v';
        char *s = fp_alloc(c, strlen(name) + 64);
        if (!s)
            return fp_no_memory(c);
        sprintf(s, "http://hl7.org/fhir/%s/%s", vs ? "ValueSet" : "StructureDefinition",
                name + (vs ? 3 : 4));
        it.s = s;
        it.n = strlen(s);
    } else {
        return fp_fail(c, FG_EINVALID, "unknown FHIRPath variable %%%s", name);
    }
    return fp_push(c, out, &it);
}

int fp_union_into(fp_ctx *c, fp_coll *out, const fp_coll *src)
{
    for (size_t k = 0; k < src->n; k++) {
        int dup = 0;
        for (size_t j = 0; j < out->n && !dup; j++)
            dup = fp_equal(&out->items[j], &src->items[k]) == 1;
        if (!dup) {
            int rc = fp_push(c, out, &src->items[k]);
            if (rc)
                return rc;
        }
    }
    return FG_OK;
}

static int arith(fp_ctx *c, int op, const fp_coll *l, const fp_coll *r, fp_coll *out)
{
    if (op == FPO_CONCAT) {
        const char *ls = "", *rs = "";
        size_t ln = 0, rn = 0;
        if (l->n > 1 || r->n > 1)
            return fp_fail(c, FG_EINVALID, "& needs single strings");
        if (l->n && !fp_to_string(c, &l->items[0], &ls, &ln))
            return fp_fail(c, FG_EINVALID, "& needs strings");
        if (r->n && !fp_to_string(c, &r->items[0], &rs, &rn))
            return fp_fail(c, FG_EINVALID, "& needs strings");
        char *s = fp_alloc(c, ln + rn + 1);
        if (!s)
            return fp_no_memory(c);
        memcpy(s, ls, ln);
        memcpy(s + ln, rs, rn);
        s[ln + rn] = '\0';
        fp_item it = {.kind = FPV_STR, .s = s, .n = ln + rn};
        return fp_push(c, out, &it);
    }
    if (l->n == 0 || r->n == 0)
        return FG_OK;
    if (l->n > 1 || r->n > 1)
        return fp_fail(c, FG_EINVALID, "arithmetic on a collection of several items");
    fp_item a, b;
    if (fp_prim(&l->items[0], &a) < 0 || fp_prim(&r->items[0], &b) < 0)
        return FG_OK;
    if (op == FPO_ADD && a.kind == FPV_STR && b.kind == FPV_STR) {
        char *s = fp_alloc(c, a.n + b.n + 1);
        if (!s)
            return fp_no_memory(c);
        memcpy(s, a.s, a.n);
        memcpy(s + a.n, b.s, b.n);
        s[a.n + b.n] = '\0';
        fp_item it = {.kind = FPV_STR, .s = s, .n = a.n + b.n};
        return fp_push(c, out, &it);
    }
    if ((op == FPO_ADD || op == FPO_SUB) && b.kind == FPV_QTY &&
        (a.kind == FPV_DATE || a.kind == FPV_DATETIME ||
         (a.kind == FPV_STR && fp_parse_datetime(a.s, a.n, &(int){0})))) {
        if (a.kind == FPV_STR)
            fp_parse_datetime(a.s, a.n, &a.kind);
        fp_item res;
        int done = fp_date_add(c, &a, op == FPO_ADD ? 1 : -1, &b, &res);
        if (done < 0)
            return fp_no_memory(c);
        return done ? fp_push(c, out, &res) : FG_OK;
    }
    int anum = a.kind == FPV_INT || a.kind == FPV_DEC;
    int bnum = b.kind == FPV_INT || b.kind == FPV_DEC;
    if (!anum || !bnum)
        return fp_fail(c, FG_EINVALID, "arithmetic needs numbers (got %s and %s)",
                       fp_item_type(&a), fp_item_type(&b));
    fp_item res = {.kind = FPV_INT};
    if (a.kind == FPV_INT && b.kind == FPV_INT && op != FPO_DIV) {
        long long x = a.i, y = b.i, z = 0;
        switch (op) {
        case FPO_ADD:
            if (__builtin_add_overflow(x, y, &z))
                return FG_OK;
            break;
        case FPO_SUB:
            if (__builtin_sub_overflow(x, y, &z))
                return FG_OK;
            break;
        case FPO_MUL:
            if (__builtin_mul_overflow(x, y, &z))
                return FG_OK;
            break;
        case FPO_IDIV:
            if (y == 0 || (x == -9223372036854775807LL - 1 && y == -1))
                return FG_OK;
            z = x / y;
            break;
        case FPO_MOD:
            if (y == 0 || (x == -9223372036854775807LL - 1 && y == -1))
                return FG_OK;
            z = x % y;
            break;
        }
        res.i = z;
        return fp_push(c, out, &res);
    }
    double x = a.kind == FPV_INT ? (double)a.i : a.d;
    double y = b.kind == FPV_INT ? (double)b.i : b.d;
    res.kind = FPV_DEC;
    switch (op) {
    case FPO_ADD: res.d = x + y; break;
    case FPO_SUB: res.d = x - y; break;
    case FPO_MUL: res.d = x * y; break;
    case FPO_DIV:
        if (y == 0)
            return FG_OK;
        res.d = x / y;
        break;
    case FPO_IDIV:
        if (y == 0)
            return FG_OK;
        res.kind = FPV_INT;
        res.i = (long long)trunc(x / y);
        break;
    case FPO_MOD:
        if (y == 0)
            return FG_OK;
        res.d = fmod(x, y);
        break;
    }
    return fp_push(c, out, &res);
}

static int compare_op(fp_ctx *c, int op, const fp_coll *l, const fp_coll *r, fp_coll *out)
{
    if (l->n == 0 || r->n == 0)
        return FG_OK;
    if (l->n > 1 || r->n > 1)
        return fp_fail(c, FG_EINVALID, "comparison of a collection of several items");
    int cmp = 0;
    int rc = fp_compare(c, &l->items[0], &r->items[0], &cmp);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return FG_OK;
    int b = op == FPO_LT ? cmp < 0 : op == FPO_GT ? cmp > 0 : op == FPO_LE ? cmp <= 0 : cmp >= 0;
    return fp_push_bool(c, out, b);
}

static int equality_op(fp_ctx *c, int op, const fp_coll *l, const fp_coll *r, fp_coll *out)
{
    int equiv = op == FPO_EQUIV || op == FPO_NEQUIV;
    int neg = op == FPO_NE || op == FPO_NEQUIV;
    int res;
    if (equiv) {
        if (l->n != r->n) {
            res = 0;
        } else {
            res = 1;
            for (size_t k = 0; k < l->n && res; k++) {
                int found = 0;
                for (size_t j = 0; j < r->n && !found; j++)
                    found = fp_equivalent(&l->items[k], &r->items[j]);
                res = found;
            }
        }
    } else {
        if (l->n == 0 || r->n == 0)
            return FG_OK;
        if (l->n != r->n) {
            res = 0;
        } else {
            res = 1;
            for (size_t k = 0; k < l->n && res == 1; k++)
                res = fp_equal(&l->items[k], &r->items[k]);
            if (res < 0)
                return FG_OK;
        }
    }
    return fp_push_bool(c, out, neg ? !res : res);
}

static int membership(fp_ctx *c, const fp_coll *elem, const fp_coll *coll, fp_coll *out)
{
    if (elem->n == 0)
        return FG_OK;
    if (elem->n > 1)
        return fp_fail(c, FG_EINVALID, "'in' or 'contains' with several items on one side");
    int found = 0;
    for (size_t k = 0; k < coll->n && !found; k++)
        found = fp_equal(&elem->items[0], &coll->items[k]) == 1;
    return fp_push_bool(c, out, found);
}

static int logic(fp_ctx *c, const fp_node *n, const fp_coll *focus, const fp_scope *sc,
                 fp_coll *out)
{
    fp_coll l = {0}, r = {0};
    int a, b;
    int rc = fp_eval(c, n->left, focus, sc, &l);
    if (rc)
        return rc;
    rc = fp_to_bool(c, &l, &a);
    if (rc)
        return rc;
    if ((n->op == FPO_AND && a == 0) || (n->op == FPO_OR && a == 1))
        return fp_push_bool(c, out, a);
    if (n->op == FPO_IMPLIES && a == 0)
        return fp_push_bool(c, out, 1);
    rc = fp_eval(c, n->right, focus, sc, &r);
    if (rc)
        return rc;
    rc = fp_to_bool(c, &r, &b);
    if (rc)
        return rc;
    int res = -1;
    switch (n->op) {
    case FPO_AND:
        res = b == 0 ? 0 : (a == 1 && b == 1) ? 1 : -1;
        break;
    case FPO_OR:
        res = b == 1 ? 1 : (a == 0 && b == 0) ? 0 : -1;
        break;
    case FPO_XOR:
        res = (a < 0 || b < 0) ? -1 : a != b;
        break;
    case FPO_IMPLIES:
        res = b == 1 ? 1 : a == 1 ? b : -1;
        break;
    }
    if (res < 0)
        return FG_OK;
    return fp_push_bool(c, out, res);
}

static int eval_binary(fp_ctx *c, const fp_node *n, const fp_coll *focus, const fp_scope *sc,
                       fp_coll *out)
{
    if (n->op <= FPO_AND)
        return logic(c, n, focus, sc, out);
    fp_coll l = {0}, r = {0};
    int rc = fp_eval(c, n->left, focus, sc, &l);
    if (rc)
        return rc;
    rc = fp_eval(c, n->right, focus, sc, &r);
    if (rc)
        return rc;
    switch (n->op) {
    case FPO_IN:
        return membership(c, &l, &r, out);
    case FPO_CONTAINS:
        return membership(c, &r, &l, out);
    case FPO_EQ:
    case FPO_EQUIV:
    case FPO_NE:
    case FPO_NEQUIV:
        return equality_op(c, n->op, &l, &r, out);
    case FPO_LT:
    case FPO_GT:
    case FPO_LE:
    case FPO_GE:
        return compare_op(c, n->op, &l, &r, out);
    case FPO_UNION:
        rc = fp_union_into(c, out, &l);
        return rc ? rc : fp_union_into(c, out, &r);
    default:
        return arith(c, n->op, &l, &r, out);
    }
}

int fp_eval(fp_ctx *c, const fp_node *n, const fp_coll *focus, const fp_scope *sc, fp_coll *out)
{
    int rc = FG_OK;
    if (++c->depth > FG_MAX_FHIRPATH_DEPTH) {
        c->depth--;
        return fp_fail(c, FG_ELIMIT, "FHIRPath evaluation nests deeper than %d "
                       "(FG_MAX_FHIRPATH_DEPTH)", FG_MAX_FHIRPATH_DEPTH);
    }
    switch (n->kind) {
    case FPN_LITERAL:
        if (out->n == 0) {
            out->items = (fp_item *)&n->lit; /* shared, read-only: see fp_push_bool */
            out->n = out->cap = 1;
        } else {
            rc = fp_push(c, out, &n->lit);
        }
        break;
    case FPN_EMPTY:
        break;
    case FPN_MEMBER:
        if (n->left) {
            fp_coll in = {0};
            rc = fp_eval(c, n->left, focus, sc, &in);
            if (!rc)
                rc = eval_member(c, n->name, &in, out);
        } else {
            rc = eval_member(c, n->name, focus, out);
        }
        break;
    case FPN_FUNC:
        if (n->left) {
            fp_coll in = {0};
            rc = fp_eval(c, n->left, focus, sc, &in);
            if (!rc)
                rc = fp_call(c, n, &in, focus, sc, out);
        } else {
            rc = fp_call(c, n, focus, focus, sc, out);
        }
        break;
    case FPN_INDEXER: {
        fp_coll in = {0}, ix = {0};
        rc = fp_eval(c, n->left, focus, sc, &in);
        if (!rc)
            rc = fp_eval(c, n->right, focus, sc, &ix);
        if (rc)
            break;
        fp_item v;
        if (ix.n == 1 && fp_prim(&ix.items[0], &v) >= 0 && v.kind == FPV_INT) {
            if (v.i >= 0 && (size_t)v.i < in.n)
                rc = fp_push(c, out, &in.items[v.i]);
        } else if (ix.n) {
            rc = fp_fail(c, FG_EINVALID, "an index must be one integer");
        }
        break;
    }
    case FPN_THIS:
        if (sc->this_item)
            rc = fp_push(c, out, sc->this_item);
        else {
            *out = *focus;
            out->cap = out->n;
        }
        break;
    case FPN_INDEX:
        if (sc->this_item) {
            fp_item it = {.kind = FPV_INT, .i = sc->index};
            rc = fp_push(c, out, &it);
        }
        break;
    case FPN_TOTAL:
        if (sc->total) {
            *out = *sc->total;
            out->cap = out->n;
        }
        break;
    case FPN_VAR:
        rc = eval_var(c, n, out);
        break;
    case FPN_NEG: {
        fp_coll in = {0};
        rc = fp_eval(c, n->left, focus, sc, &in);
        if (rc || in.n == 0)
            break;
        fp_item v;
        if (in.n > 1 || fp_prim(&in.items[0], &v) < 0 ||
            (v.kind != FPV_INT && v.kind != FPV_DEC && v.kind != FPV_QTY)) {
            rc = fp_fail(c, FG_EINVALID, "unary minus needs one number");
            break;
        }
        if (v.kind == FPV_INT)
            v.i = -v.i;
        else
            v.d = -v.d;
        rc = fp_push(c, out, &v);
        break;
    }
    case FPN_BINARY:
        rc = eval_binary(c, n, focus, sc, out);
        break;
    case FPN_TYPEOP: {
        fp_coll in = {0};
        rc = fp_eval(c, n->left, focus, sc, &in);
        if (rc || in.n == 0)
            break;
        if (in.n > 1) {
            rc = fp_fail(c, FG_EINVALID, "'%s' needs a single item, got %zu",
                         n->op == FPO_IS ? "is" : "as", in.n);
            break;
        }
        int is = fp_is_type(&in.items[0], n->name) == 1;
        if (n->op == FPO_IS)
            rc = fp_push_bool(c, out, is);
        else if (is)
            rc = fp_push(c, out, &in.items[0]);
        break;
    }
    default:
        rc = fp_fail(c, FG_EINTERNAL, "unknown FHIRPath node %d", n->kind);
    }
    c->depth--;
    return rc;
}
