/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirpath_parse.c: the FHIRPath lexer and a precedence-climbing parser.
 *
 * Precedence, loosest first: implies; or xor; and; in contains; = ~ != !~;
 * < > <= >=; |; is as; + - &; * / div mod; unary + -; then . and [].
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/fhirpath/fhirpath_private.h"

enum {
    T_END, T_IDENT, T_STRING, T_NUMBER, T_DATE, T_VAR, T_SPECIAL, T_OP, T_QTY_UNIT,
};

typedef struct parser {
    fg_fhirpath *fp;
    const char *s;
    size_t pos;
    int depth;
    fg_error *err;
    /* current token */
    int tok;
    size_t tstart;
    char *tval;   /* identifier, string or number text (arena) */
    size_t tlen;
    int quoted;   /* identifier was `delimited` */
} parser;

static int perr(parser *p, size_t col, const char *fmt, const char *arg)
{
    if (p->err) {
        fg_error_set(p->err, FG_EINVALID, "", "FHIRPath syntax error at column %zu: ", col + 1);
        size_t used = strlen(p->err->text);
        snprintf(p->err->text + used, sizeof(p->err->text) - used, fmt, arg ? arg : "");
        snprintf(p->err->where, sizeof(p->err->where), "%s", p->s);
        p->err->line = (int)col + 1;
    }
    return FG_EINVALID;
}

static int nomem(parser *p)
{
    return fg_error_set(p->err, FG_ENOMEM, "", "out of memory compiling a FHIRPath expression");
}

static void skip_space(parser *p)
{
    for (;;) {
        char ch = p->s[p->pos];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            p->pos++;
        } else if (ch == '/' && p->s[p->pos + 1] == '/') {
            while (p->s[p->pos] && p->s[p->pos] != '\n')
                p->pos++;
        } else if (ch == '/' && p->s[p->pos + 1] == '*') {
            const char *end = strstr(p->s + p->pos + 2, "*/");
            p->pos = end ? (size_t)(end - p->s) + 2 : strlen(p->s);
        } else {
            return;
        }
    }
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Read a quoted string or delimited identifier starting at p->pos (the
 * quote), unescaping it into the arena. */
static int lex_quoted(parser *p, char q)
{
    size_t start = p->pos++;
    size_t cap = strlen(p->s + p->pos) + 1;
    char *buf = fg_arena_alloc(&p->fp->arena, cap);
    if (!buf)
        return nomem(p);
    size_t n = 0;
    for (;;) {
        char ch = p->s[p->pos];
        if (!ch)
            return perr(p, start, "unterminated %s", q == '`' ? "identifier" : "string");
        p->pos++;
        if (ch == q)
            break;
        if (ch != '\\') {
            buf[n++] = ch;
            continue;
        }
        ch = p->s[p->pos];
        if (!ch)
            return perr(p, start, "unterminated %s", "string");
        p->pos++;
        switch (ch) {
        case 'n': buf[n++] = '\n'; break;
        case 't': buf[n++] = '\t'; break;
        case 'r': buf[n++] = '\r'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'u': {
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = hexval(p->s[p->pos]);
                if (h < 0)
                    return perr(p, p->pos, "expected four hex digits after \\u%s", "");
                cp = cp * 16 + (unsigned)h;
                p->pos++;
            }
            if (cp < 0x80) {
                buf[n++] = (char)cp;
            } else if (cp < 0x800) {
                buf[n++] = (char)(0xC0 | (cp >> 6));
                buf[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                buf[n++] = (char)(0xE0 | (cp >> 12));
                buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                buf[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: buf[n++] = ch; break; /* \' \" \` \\ \/ and any other */
        }
    }
    buf[n] = '\0';
    p->tval = buf;
    p->tlen = n;
    return FG_OK;
}

static int is_ident_start(char ch)
{
    return isalpha((unsigned char)ch) || ch == '_';
}

static int is_ident_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_';
}

static int next(parser *p)
{
    skip_space(p);
    p->tstart = p->pos;
    p->quoted = 0;
    p->tval = NULL;
    p->tlen = 0;
    const char *s = p->s;
    char ch = s[p->pos];
    if (!ch) {
        p->tok = T_END;
        return FG_OK;
    }
    if (is_ident_start(ch)) {
        size_t b = p->pos;
        while (is_ident_char(s[p->pos]))
            p->pos++;
        p->tval = fg_arena_strndup(&p->fp->arena, s + b, p->pos - b);
        if (!p->tval)
            return nomem(p);
        p->tlen = p->pos - b;
        p->tok = T_IDENT;
        return FG_OK;
    }
    if (ch == '`') {
        p->tok = T_IDENT;
        p->quoted = 1;
        return lex_quoted(p, '`');
    }
    if (ch == '\'') {
        p->tok = T_STRING;
        return lex_quoted(p, '\'');
    }
    if (isdigit((unsigned char)ch)) {
        size_t b = p->pos;
        while (isdigit((unsigned char)s[p->pos]))
            p->pos++;
        if (s[p->pos] == '.' && isdigit((unsigned char)s[p->pos + 1])) {
            p->pos++;
            while (isdigit((unsigned char)s[p->pos]))
                p->pos++;
        }
        p->tval = fg_arena_strndup(&p->fp->arena, s + b, p->pos - b);
        if (!p->tval)
            return nomem(p);
        p->tlen = p->pos - b;
        p->tok = T_NUMBER;
        return FG_OK;
    }
    if (ch == '@') {
        size_t b = ++p->pos;
        while (isalnum((unsigned char)s[p->pos]) || (s[p->pos] && strchr("-:.+", s[p->pos])))
            p->pos++;
        if (s[p->pos] == 'Z')
            p->pos++;
        p->tval = fg_arena_strndup(&p->fp->arena, s + b, p->pos - b);
        if (!p->tval)
            return nomem(p);
        p->tlen = p->pos - b;
        p->tok = T_DATE;
        return FG_OK;
    }
    if (ch == '%') {
        p->pos++;
        p->tok = T_VAR;
        if (s[p->pos] == '`' || s[p->pos] == '\'')
            return lex_quoted(p, s[p->pos]);
        size_t b = p->pos;
        while (is_ident_char(s[p->pos]) || s[p->pos] == '-')
            p->pos++;
        if (p->pos == b)
            return perr(p, b, "expected a name after %%%s", "");
        p->tval = fg_arena_strndup(&p->fp->arena, s + b, p->pos - b);
        if (!p->tval)
            return nomem(p);
        p->tlen = p->pos - b;
        return FG_OK;
    }
    if (ch == '$') {
        size_t b = ++p->pos;
        while (is_ident_char(s[p->pos]))
            p->pos++;
        p->tval = fg_arena_strndup(&p->fp->arena, s + b, p->pos - b);
        if (!p->tval)
            return nomem(p);
        p->tlen = p->pos - b;
        p->tok = T_SPECIAL;
        return FG_OK;
    }
    static const char *const ops2[] = {"<=", ">=", "!=", "!~"};
    for (size_t k = 0; k < sizeof(ops2) / sizeof(ops2[0]); k++) {
        if (s[p->pos] == ops2[k][0] && s[p->pos + 1] == ops2[k][1]) {
            p->tval = (char *)ops2[k];
            p->tlen = 2;
            p->pos += 2;
            p->tok = T_OP;
            return FG_OK;
        }
    }
    static const char ops1[] = ".[](),+-*/|&<>=~{}";
    const char *o = strchr(ops1, ch);
    if (o) {
        static const char *const one[] = {".", "[", "]", "(", ")", ",", "+", "-", "*",
                                          "/", "|", "&", "<", ">", "=", "~", "{", "}"};
        p->tval = (char *)one[o - ops1];
        p->tlen = 1;
        p->pos++;
        p->tok = T_OP;
        return FG_OK;
    }
    char what[8];
    snprintf(what, sizeof(what), "%c", ch);
    return perr(p, p->pos, "unexpected character '%s'", what);
}

static int is_op(const parser *p, const char *op)
{
    return p->tok == T_OP && strcmp(p->tval, op) == 0;
}

static int expect(parser *p, const char *op)
{
    if (!is_op(p, op))
        return perr(p, p->tstart, "expected '%s'", op);
    return next(p);
}

static fp_node *node_new(parser *p, int kind)
{
    fp_node *n = fg_arena_calloc(&p->fp->arena, sizeof(*n));
    if (n)
        n->kind = kind;
    return n;
}

/* Binary operator of the current token and its binding power, or 0. */
static int binop(const parser *p, int *op)
{
    static const struct {
        const char *text;
        int op, prec, word;
    } table[] = {
        {"implies", FPO_IMPLIES, 1, 1}, {"or", FPO_OR, 2, 1},       {"xor", FPO_XOR, 2, 1},
        {"and", FPO_AND, 3, 1},         {"in", FPO_IN, 4, 1},       {"contains", FPO_CONTAINS, 4, 1},
        {"=", FPO_EQ, 5, 0},            {"~", FPO_EQUIV, 5, 0},     {"!=", FPO_NE, 5, 0},
        {"!~", FPO_NEQUIV, 5, 0},       {"<", FPO_LT, 6, 0},        {">", FPO_GT, 6, 0},
        {"<=", FPO_LE, 6, 0},           {">=", FPO_GE, 6, 0},       {"|", FPO_UNION, 7, 0},
        {"is", FPO_IS, 8, 1},           {"as", FPO_AS, 8, 1},       {"+", FPO_ADD, 9, 0},
        {"-", FPO_SUB, 9, 0},           {"&", FPO_CONCAT, 9, 0},    {"*", FPO_MUL, 10, 0},
        {"/", FPO_DIV, 10, 0},          {"div", FPO_IDIV, 10, 1},   {"mod", FPO_MOD, 10, 1},
    };
    if (p->tok != T_OP && !(p->tok == T_IDENT && !p->quoted))
        return 0;
    for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
        if ((p->tok == T_IDENT) != (table[k].word != 0))
            continue;
        if (strcmp(p->tval, table[k].text) == 0) {
            *op = table[k].op;
            return table[k].prec;
        }
    }
    return 0;
}

static int parse_expr(parser *p, int min_prec, fp_node **out);

/* A type specifier: Name or Namespace.Name, kept as written. */
static int parse_type_name(parser *p, const char **out)
{
    if (p->tok != T_IDENT)
        return perr(p, p->tstart, "expected a type name%s", "");
    const char *first = p->tval;
    int rc = next(p);
    if (rc)
        return rc;
    if (is_op(p, ".")) {
        rc = next(p);
        if (rc)
            return rc;
        if (p->tok != T_IDENT)
            return perr(p, p->tstart, "expected a type name after '.'%s", "");
        char *full = fg_arena_printf(&p->fp->arena, "%s.%s", first, p->tval);
        if (!full)
            return nomem(p);
        *out = full;
        return next(p);
    }
    *out = first;
    return FG_OK;
}

/* After an identifier: a function call when '(' follows. */
static int parse_call_or_member(parser *p, fp_node *left, fp_node **out)
{
    const char *name = p->tval;
    size_t col = p->tstart;
    int rc = next(p);
    if (rc)
        return rc;
    if (!is_op(p, "(")) {
        fp_node *n = node_new(p, FPN_MEMBER);
        if (!n)
            return nomem(p);
        n->name = name;
        n->left = left;
        *out = n;
        return FG_OK;
    }
    int id = 0;
    const fp_func_info *fi = fp_func_lookup(name, &id);
    if (!fi)
        return fg_error_set(p->err, FG_ENOTFOUND, p->s,
                            "FHIRPath function %s() at column %zu is not supported", name,
                            col + 1);
    fp_node *n = node_new(p, FPN_FUNC);
    if (!n)
        return nomem(p);
    n->name = name;
    n->op = id;
    n->left = left;
    rc = next(p);
    if (rc)
        return rc;
    fp_node *args[8];
    int nargs = 0;
    if (!is_op(p, ")")) {
        for (;;) {
            if (nargs == 8)
                return perr(p, p->tstart, "too many arguments to %s()", name);
            if (fp_func_is_typearg(id)) {
                fp_node *t = node_new(p, FPN_LITERAL);
                if (!t)
                    return nomem(p);
                rc = parse_type_name(p, &t->name);
                if (rc)
                    return rc;
                args[nargs++] = t;
            } else {
                rc = parse_expr(p, 1, &args[nargs]);
                if (rc)
                    return rc;
                nargs++;
            }
            if (!is_op(p, ","))
                break;
            rc = next(p);
            if (rc)
                return rc;
        }
    }
    rc = expect(p, ")");
    if (rc)
        return rc;
    if (nargs < fi->min_args || nargs > fi->max_args)
        return perr(p, col, "wrong number of arguments to %s()", name);
    if (nargs) {
        n->args = fg_arena_alloc(&p->fp->arena, sizeof(fp_node *) * (size_t)nargs);
        if (!n->args)
            return nomem(p);
        memcpy(n->args, args, sizeof(fp_node *) * (size_t)nargs);
    }
    n->nargs = nargs;
    *out = n;
    return fp_func_prepare(p->fp, n, p->err);
}

static const char *const calendar_units[] = {
    "year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours",
    "minute", "minutes", "second", "seconds", "millisecond", "milliseconds",
};

static int parse_term(parser *p, fp_node **out)
{
    int rc;
    fp_node *n = NULL;
    if (p->tok == T_IDENT && !p->quoted &&
        (strcmp(p->tval, "true") == 0 || strcmp(p->tval, "false") == 0)) {
        n = node_new(p, FPN_LITERAL);
        if (!n)
            return nomem(p);
        n->lit.kind = FPV_BOOL;
        n->lit.i = p->tval[0] == 't';
        rc = next(p);
    } else if (p->tok == T_IDENT) {
        return parse_call_or_member(p, NULL, out);
    } else if (p->tok == T_STRING) {
        n = node_new(p, FPN_LITERAL);
        if (!n)
            return nomem(p);
        n->lit.kind = FPV_STR;
        n->lit.s = p->tval;
        n->lit.n = p->tlen;
        rc = next(p);
    } else if (p->tok == T_NUMBER) {
        n = node_new(p, FPN_LITERAL);
        if (!n)
            return nomem(p);
        const char *num = p->tval;
        int dec = strchr(num, '.') != NULL;
        rc = next(p);
        if (rc)
            return rc;
        const char *unit = NULL;
        if (p->tok == T_STRING) {
            unit = p->tval;
        } else if (p->tok == T_IDENT && !p->quoted) {
            for (size_t k = 0; k < sizeof(calendar_units) / sizeof(calendar_units[0]); k++)
                if (strcmp(p->tval, calendar_units[k]) == 0)
                    unit = p->tval;
        }
        if (unit) {
            n->lit.kind = FPV_QTY;
            n->lit.d = strtod(num, NULL);
            n->lit.s = unit;
            n->lit.n = strlen(unit);
            rc = next(p);
        } else if (dec) {
            n->lit.kind = FPV_DEC;
            n->lit.d = strtod(num, NULL);
        } else {
            n->lit.kind = FPV_INT;
            n->lit.i = strtoll(num, NULL, 10);
            if (strlen(num) > 18)
                return perr(p, p->tstart, "integer literal %s is too large", num);
        }
    } else if (p->tok == T_DATE) {
        n = node_new(p, FPN_LITERAL);
        if (!n)
            return nomem(p);
        int kind = 0;
        if (!fp_parse_datetime(p->tval, p->tlen, &kind))
            return perr(p, p->tstart, "not a date, date/time or time literal: @%s", p->tval);
        n->lit.kind = kind;
        n->lit.s = p->tval;
        n->lit.n = p->tlen;
        rc = next(p);
    } else if (p->tok == T_VAR) {
        n = node_new(p, FPN_VAR);
        if (!n)
            return nomem(p);
        n->name = p->tval;
        rc = next(p);
    } else if (p->tok == T_SPECIAL) {
        int kind = strcmp(p->tval, "this") == 0    ? FPN_THIS
                   : strcmp(p->tval, "index") == 0 ? FPN_INDEX
                   : strcmp(p->tval, "total") == 0 ? FPN_TOTAL
                                                   : -1;
        if (kind < 0)
            return perr(p, p->tstart, "unknown variable $%s", p->tval);
        n = node_new(p, kind);
        if (!n)
            return nomem(p);
        rc = next(p);
    } else if (is_op(p, "(")) {
        rc = next(p);
        if (rc)
            return rc;
        rc = parse_expr(p, 1, &n);
        if (rc)
            return rc;
        rc = expect(p, ")");
    } else if (is_op(p, "{")) {
        rc = next(p);
        if (rc)
            return rc;
        n = node_new(p, FPN_EMPTY);
        if (!n)
            return nomem(p);
        rc = expect(p, "}");
    } else if (is_op(p, "-") || is_op(p, "+")) {
        int neg = p->tval[0] == '-';
        rc = next(p);
        if (rc)
            return rc;
        fp_node *inner = NULL;
        rc = parse_expr(p, 11, &inner);
        if (rc)
            return rc;
        if (!neg) {
            *out = inner;
            return FG_OK;
        }
        n = node_new(p, FPN_NEG);
        if (!n)
            return nomem(p);
        n->left = inner;
        *out = n;
        return FG_OK;
    } else if (p->tok == T_END) {
        return perr(p, p->tstart, "unexpected end of expression%s", "");
    } else {
        return perr(p, p->tstart, "unexpected '%s'", p->tval);
    }
    if (rc)
        return rc;
    *out = n;
    return FG_OK;
}

/* Term followed by any number of .member, .func() and [index]. */
static int parse_postfix(parser *p, fp_node **out)
{
    fp_node *n = NULL;
    int rc = parse_term(p, &n);
    if (rc)
        return rc;
    for (;;) {
        if (is_op(p, ".")) {
            rc = next(p);
            if (rc)
                return rc;
            if (p->tok != T_IDENT)
                return perr(p, p->tstart, "expected a name after '.'%s", "");
            rc = parse_call_or_member(p, n, &n);
            if (rc)
                return rc;
        } else if (is_op(p, "[")) {
            rc = next(p);
            if (rc)
                return rc;
            fp_node *ix = node_new(p, FPN_INDEXER);
            if (!ix)
                return nomem(p);
            ix->left = n;
            rc = parse_expr(p, 1, &ix->right);
            if (rc)
                return rc;
            rc = expect(p, "]");
            if (rc)
                return rc;
            n = ix;
        } else {
            break;
        }
    }
    *out = n;
    return FG_OK;
}

static int parse_expr(parser *p, int min_prec, fp_node **out)
{
    if (++p->depth > FG_MAX_FHIRPATH_DEPTH)
        return fg_error_set(p->err, FG_ELIMIT, p->s,
                            "FHIRPath expression nests deeper than %d (FG_MAX_FHIRPATH_DEPTH)",
                            FG_MAX_FHIRPATH_DEPTH);
    fp_node *left = NULL;
    int rc = parse_postfix(p, &left);
    if (rc)
        return rc;
    for (;;) {
        int op = 0;
        int prec = binop(p, &op);
        if (!prec || prec < min_prec)
            break;
        rc = next(p);
        if (rc)
            return rc;
        fp_node *n = node_new(p, op == FPO_IS || op == FPO_AS ? FPN_TYPEOP : FPN_BINARY);
        if (!n)
            return nomem(p);
        n->op = op;
        n->left = left;
        if (n->kind == FPN_TYPEOP) {
            rc = parse_type_name(p, &n->name);
        } else {
            rc = parse_expr(p, prec + 1, &n->right);
        }
        if (rc)
            return rc;
        left = n;
    }
    p->depth--;
    *out = left;
    return FG_OK;
}

int fp_parse(fg_fhirpath *fp, fg_error *err)
{
    parser p = {.fp = fp, .s = fp->text, .err = err};
    int rc = next(&p);
    if (rc)
        return rc;
    rc = parse_expr(&p, 1, &fp->root);
    if (rc)
        return rc;
    if (p.tok != T_END)
        return perr(&p, p.tstart, "unexpected '%s' after the expression",
                    p.tval ? p.tval : "");
    return FG_OK;
}
