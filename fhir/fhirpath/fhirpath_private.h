/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirpath_private.h: the internals shared by the fhirpath*.c files.
 *
 * A compiled expression is a tree of fp_node, allocated in the arena of its
 * fg_fhirpath and never modified after compile. Evaluation works on
 * collections (fp_coll) of items (fp_item). An item is either a view of a
 * JSON value inside the caller's resource (FPV_JSON: the value, plus the
 * `_name` object holding the id and extensions of a primitive) or a value
 * computed by the expression (a boolean, a number, a string, a date...).
 * Every collection and computed string of one evaluation comes from a
 * per-call bump allocator (fp_mem) whose first block lives on the stack, so
 * a typical invariant evaluates without calling malloc.
 */
#ifndef FG_FHIRPATH_PRIVATE_H
#define FG_FHIRPATH_PRIVATE_H

#include <stddef.h>

#include <jansson.h>

#include "fhir/base/fg_arena.h"
#include "fhir/base/fg_error.h"
#include "fhir/fhirpath/fg_fhirpath.h"

/* Limits of the FHIRPath evaluator. A value that would cross one is refused with FG_ELIMIT. */
#define FG_MAX_FHIRPATH_EXPR_BYTES 16384       /* one expression's source text */
#define FG_MAX_FHIRPATH_DEPTH 128              /* nesting of an expression, and of evaluation */
#define FG_MAX_FHIRPATH_ITEMS 1000000          /* items in one collection during evaluation */
#define FG_MAX_FHIRPATH_EVAL_BYTES (64u << 20) /* memory one evaluation may take */
#define FG_MAX_FHIRPATH_REPEAT 5000            /* items repeat() may collect */

/* Kinds of items. */
enum {
    FPV_JSON,     /* a value in the input JSON (json may be NULL: extension-only primitive) */
    FPV_BOOL,
    FPV_INT,
    FPV_DEC,
    FPV_STR,
    FPV_DATE,     /* string form in s */
    FPV_DATETIME,
    FPV_TIME,
    FPV_QTY,      /* d + unit */
};

typedef struct fp_item fp_item;
struct fp_item {
    int kind;
    const char *type;   /* FHIR type name when known (FPV_JSON), else NULL: see fp_type */
    const fp_item *parent; /* FPV_JSON: the item this one was reached from (arena) */
    const char *pname;     /* and the property name it was reached by */
    const fg_jv *json; /* FPV_JSON: the value */
    const fg_jv *ext;  /* FPV_JSON primitives: the `_name` object, or NULL */
    long long i;        /* FPV_BOOL, FPV_INT */
    double d;           /* FPV_DEC, FPV_QTY */
    const char *s;      /* FPV_STR, FPV_DATE.., FPV_QTY unit */
    size_t n;           /* length of s */
};

typedef struct fp_coll {
    fp_item *items;
    size_t n;
    size_t cap;
} fp_coll;

/* Node kinds of the compiled tree. */
enum {
    FPN_LITERAL, /* lit */
    FPN_EMPTY,   /* {} */
    FPN_MEMBER,  /* left.name (left NULL: the focus) */
    FPN_FUNC,    /* left.name(args) */
    FPN_INDEXER, /* left[right] */
    FPN_THIS,
    FPN_INDEX,
    FPN_TOTAL,
    FPN_VAR,     /* %name */
    FPN_NEG,     /* -left */
    FPN_BINARY,  /* left op right */
    FPN_TYPEOP,  /* left is/as name */
};

/* Binary operators. */
enum {
    FPO_IMPLIES, FPO_OR, FPO_XOR, FPO_AND, FPO_IN, FPO_CONTAINS, FPO_EQ, FPO_EQUIV, FPO_NE,
    FPO_NEQUIV, FPO_LT, FPO_GT, FPO_LE, FPO_GE, FPO_UNION, FPO_IS, FPO_AS, FPO_ADD, FPO_SUB,
    FPO_CONCAT, FPO_MUL, FPO_DIV, FPO_IDIV, FPO_MOD,
};

typedef struct fp_node fp_node;
struct fp_node {
    int kind;
    int op;           /* FPO_* or function id */
    const char *name; /* member, function, variable or type name */
    fp_node *left;
    fp_node *right;
    fp_node **args;
    int nargs;
    fp_item lit;
    void *re; /* matches/replaceMatches with a literal pattern: its regex_t */
};

struct fg_fhirpath {
    fg_arena arena;
    char *text;
    fp_node *root;
    void **regexes; /* regex_t * compiled from literal patterns, freed with the expression */
    size_t nregexes;
};

/* The per-evaluation allocator: a stack block, then malloc'd blocks. */
typedef struct fp_block fp_block;
typedef struct fp_mem {
    unsigned char *base;
    size_t size, off;
    fp_block *blocks;
    size_t total; /* bytes taken from malloc */
    int malloc_failed; /* the last NULL of fp_alloc was malloc's, not the limit */
} fp_mem;

/* $this, $index, $total of the innermost iteration. */
typedef struct fp_scope {
    const fp_item *this_item; /* NULL at the top level */
    long long index;
    const fp_coll *total;
} fp_scope;

typedef struct fp_ctx {
    const fg_fhirpath_env *env;
    fp_mem mem;
    fp_coll context;  /* %context */
    fp_coll resource; /* %resource */
    fp_coll root;     /* %rootResource */
    int depth;
    fg_error *err;
    const char *expr;
} fp_ctx;

/* fhirpath.c: memory and collections */
void *fp_alloc(fp_ctx *c, size_t n);
char *fp_strndup(fp_ctx *c, const char *s, size_t n);
int fp_push(fp_ctx *c, fp_coll *out, const fp_item *it);
int fp_fail(fp_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* After fp_alloc returned NULL: FG_ENOMEM when malloc failed, FG_ELIMIT
 * when the evaluation reached FG_MAX_FHIRPATH_EVAL_BYTES. */
int fp_no_memory(fp_ctx *c);

/* fhirpath_parse.c */
int fp_parse(fg_fhirpath *fp, fg_error *err);

/* fhirpath_eval.c */
/* The FHIR type of an item, worked out when first needed: a resource's
 * resourceType, else the environment's child_type of its parent's type.
 * Types are resolved lazily because most evaluations never need one and
 * the callback walks the validator's element trees. */
const char *fp_type(const fp_item *it);
/* The evaluation running on this thread (fp_type reaches its env). */
extern _Thread_local fp_ctx *fp_current;
int fp_eval(fp_ctx *c, const fp_node *n, const fp_coll *focus, const fp_scope *sc, fp_coll *out);
int fp_children(fp_ctx *c, const fp_item *it, const char *name, fp_coll *out);
int fp_all_children(fp_ctx *c, const fp_item *it, fp_coll *out);
int fp_to_bool(fp_ctx *c, const fp_coll *v, int *b); /* -1 empty, 0, 1 */
int fp_push_bool(fp_ctx *c, fp_coll *out, int b);
int fp_union_into(fp_ctx *c, fp_coll *out, const fp_coll *src); /* append, skipping duplicates */

/* fhirpath_funcs.c: the function ids and the helpers the function files share */
enum fp_func_id {
    F_EMPTY, F_EXISTS, F_ALL, F_ALLTRUE, F_ANYTRUE, F_ALLFALSE, F_ANYFALSE, F_SUBSETOF,
    F_SUPERSETOF, F_COUNT, F_DISTINCT, F_ISDISTINCT, F_WHERE, F_SELECT, F_REPEAT, F_OFTYPE,
    F_AS, F_IS, F_SINGLE, F_FIRST, F_LAST, F_TAIL, F_SKIP, F_TAKE, F_INTERSECT, F_EXCLUDE,
    F_UNION, F_COMBINE, F_IIF, F_TOBOOLEAN, F_CTBOOLEAN, F_TOINTEGER, F_CTINTEGER, F_TODECIMAL,
    F_CTDECIMAL, F_TOSTRING, F_CTSTRING, F_TODATE, F_CTDATE, F_TODATETIME, F_CTDATETIME,
    F_TOTIME, F_CTTIME, F_INDEXOF, F_SUBSTRING, F_STARTSWITH, F_ENDSWITH, F_CONTAINS, F_UPPER,
    F_LOWER, F_REPLACE, F_MATCHES, F_REPLACEMATCHES, F_LENGTH, F_TOCHARS, F_NOT, F_CHILDREN,
    F_DESCENDANTS, F_TRACE, F_TODAY, F_NOW, F_TIMEOFDAY, F_HASVALUE, F_GETVALUE, F_EXTENSION,
    F_RESOLVE, F_MEMBEROF, F_CONFORMSTO, F_HTMLCHECKS, F_ABS, F_CEILING, F_FLOOR, F_ROUND,
    F_TRUNCATE, F_SQRT, F_EXP, F_LN, F_LOG, F_POWER, F_AGGREGATE,
};
int fp_single_input(fp_ctx *c, const fp_node *n, const fp_coll *in);
/* The input as one string: 1 yes, 0 empty input, negative FG_* error. */
int fp_input_string(fp_ctx *c, const fp_node *n, const fp_coll *in, const char **s, size_t *len);
int fp_arg_coll(fp_ctx *c, const fp_node *n, int k, const fp_coll *focus, const fp_scope *sc,
                fp_coll *res);
/* Argument k as a string or integer: 1 yes, 0 empty, negative error. */
int fp_arg_string(fp_ctx *c, const fp_node *n, int k, const fp_coll *focus, const fp_scope *sc,
                  const char **s, size_t *len);
int fp_arg_int(fp_ctx *c, const fp_node *n, int k, const fp_coll *focus, const fp_scope *sc,
               long long *v);

typedef struct fp_func_info {
    const char *name;
    int min_args, max_args;
} fp_func_info;
const fp_func_info *fp_func_lookup(const char *name, int *id);
int fp_func_is_typearg(int id); /* ofType, is, as: the argument is a type name */
/* Compile-time work for a function node (a literal regular expression is
 * compiled once here). */
int fp_func_prepare(fg_fhirpath *fp, fp_node *n, fg_error *err);
void fp_func_release(fg_fhirpath *fp);
int fp_call(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
            const fp_scope *sc, fp_coll *out);

/* fhirpath_strings.c */
int fp_push_str(fp_ctx *c, fp_coll *out, const char *s, size_t n, int copy);
int fp_convert(fp_ctx *c, int fid, const fp_item *in, fp_item *res); /* 1 converted, 0 not */
int fp_math_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
               const fp_scope *sc, fp_coll *out);
int fp_string_fn(fp_ctx *c, const fp_node *n, const fp_coll *input, const fp_coll *focus,
                 const fp_scope *sc, fp_coll *out);

/* fhirpath_types.c */
/* The primitive view of an item: kind FPV_BOOL/INT/DEC/STR/DATE..., or
 * FPV_JSON for objects; -1 when the primitive has no value. */
int fp_prim(const fp_item *it, fp_item *out);
const char *fp_item_type(const fp_item *it);
int fp_is_type(const fp_item *it, const char *type);
int fp_equal(const fp_item *a, const fp_item *b);      /* 1, 0, -1 empty */
int fp_equivalent(const fp_item *a, const fp_item *b); /* 1, 0 */
/* Order a and b: sets *cmp (<0, 0, >0); returns 1 done, 0 empty result,
 * negative FG_* when they cannot be compared (error text in c). */
int fp_compare(fp_ctx *c, const fp_item *a, const fp_item *b, int *cmp);
/* String form (toString); 0 when there is none. */
int fp_to_string(fp_ctx *c, const fp_item *it, const char **s, size_t *n);
const char *fp_choice_type(const char *suffix); /* "Quantity", "DateTime" -> "dateTime" */
int fp_is_choice_name(const char *name);        /* an R4 element name that ends in [x] */
int fp_parse_datetime(const char *s, size_t n, int *kind);
/* date (+ or -, by sign) a calendar or UCUM time quantity: 1 done (*out
 * set), 0 no answer (unit unknown, finer than the date), -1 no memory. */
int fp_date_add(fp_ctx *c, const fp_item *date, int sign, const fp_item *qty, fp_item *out);

/* fhirpath_regex.c: rewrite a FHIRPath (Java-style) regular expression as a
 * POSIX extended one; FG_EINVALID when it uses a feature POSIX lacks. */
int fp_regex_translate(const char *in, char *out, size_t outcap);
/* matches (subst NULL) or replaceMatches with a compiled pattern, or with
 * `pattern` compiled for this call when pre is NULL. */
int fp_regex_run(fp_ctx *c, const void *pre, const char *pattern,
                 const char *s, size_t n, const char *subst, size_t subst_n, fp_coll *out);

/* fhirpath_html.c */
int fp_html_check(const char *s, size_t n); /* 1 acceptable narrative, 0 not */

#endif
