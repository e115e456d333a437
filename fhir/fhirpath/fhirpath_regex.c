/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirpath_regex.c: FHIRPath regular expressions follow the Java/XML Schema
 * flavour (`\s`, `\d`, backslash escapes inside brackets); <regex.h> speaks
 * POSIX ERE, where a backslash inside brackets is an ordinary character and
 * `]` must come first. This rewrites the first into the second: escapes
 * become classes or plain characters, and each bracket expression is
 * rebuilt from the set of bytes it matches.
 */
#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/fhirpath/fhirpath_private.h"

typedef struct out_buf {
    char *p;
    size_t n, cap;
    int overflow;
} out_buf;

static void put(out_buf *o, const char *s)
{
    size_t len = strlen(s);
    if (o->n + len + 1 > o->cap) {
        o->overflow = 1;
        return;
    }
    memcpy(o->p + o->n, s, len);
    o->n += len;
    o->p[o->n] = '\0';
}

static void putc_(out_buf *o, char ch)
{
    char s[2] = {ch, '\0'};
    put(o, s);
}

static void set_range(unsigned char *set, int a, int b)
{
    for (int k = a; k <= b; k++)
        set[k] = 1;
}

/* A class escape (\d \s \w) into set; 1 when ch named one. */
static int class_escape(char ch, unsigned char *set)
{
    unsigned char tmp[256] = {0};
    switch (ch | 0x20) {
    case 'd':
        set_range(tmp, '0', '9');
        break;
    case 's':
        tmp[' '] = tmp['\t'] = tmp['\n'] = tmp['\r'] = tmp['\f'] = tmp['\v'] = 1;
        break;
    case 'w':
        set_range(tmp, '0', '9');
        set_range(tmp, 'a', 'z');
        set_range(tmp, 'A', 'Z');
        tmp['_'] = 1;
        break;
    default:
        return 0;
    }
    int neg = ch >= 'A' && ch <= 'Z';
    for (int k = 1; k < 256; k++)
        if (tmp[k] != neg)
            set[k] = 1;
    return 1;
}

static char plain_escape(char ch)
{
    switch (ch) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'f': return '\f';
    default: return ch;
    }
}

/* Write a bracket expression matching exactly the bytes in set. */
static int emit_set(out_buf *o, const unsigned char *set, int neg)
{
    int count = 0;
    for (int k = 1; k < 256; k++)
        count += set[k];
    if (count == 0)
        return neg ? (put(o, "(.|\n)"), FG_OK) : FG_EINVALID;
    if (!neg && count == 1 && set['^']) {
        put(o, "\\^");
        return FG_OK;
    }
    put(o, neg ? "[^" : "[");
    if (set[']'])
        putc_(o, ']');
    for (int k = 1; k < 256; k++)
        if (set[k] && k != ']' && k != '^' && k != '-')
            putc_(o, (char)k);
    if (set['^'])
        putc_(o, '^');
    if (set['-'])
        putc_(o, '-');
    putc_(o, ']');
    return FG_OK;
}

static int bracket(const char *in, size_t *pos, out_buf *o)
{
    unsigned char set[256] = {0};
    size_t k = *pos + 1;
    int neg = 0;
    if (in[k] == '^') {
        neg = 1;
        k++;
    }
    int first = 1;
    while (in[k] && (in[k] != ']' || first)) {
        first = 0;
        int lo;
        if (in[k] == '\\') {
            if (!in[k + 1])
                return FG_EINVALID;
            if (class_escape(in[k + 1], set)) {
                k += 2;
                continue;
            }
            lo = (unsigned char)plain_escape(in[k + 1]);
            k += 2;
        } else if (in[k] == '[' || (in[k] == '&' && in[k + 1] == '&')) {
            return FG_EINVALID; /* nested classes, intersections */
        } else {
            lo = (unsigned char)in[k++];
        }
        if (in[k] == '-' && in[k + 1] && in[k + 1] != ']') {
            int hi;
            if (in[k + 1] == '\\') {
                if (!in[k + 2])
                    return FG_EINVALID;
                hi = (unsigned char)plain_escape(in[k + 2]);
                k += 3;
            } else {
                hi = (unsigned char)in[k + 1];
                k += 2;
            }
            if (hi < lo)
                return FG_EINVALID;
            set_range(set, lo, hi);
        } else {
            set[lo] = 1;
        }
    }
    if (in[k] != ']')
        return FG_EINVALID;
    *pos = k + 1;
    return emit_set(o, set, neg);
}

int fp_regex_translate(const char *in, char *outp, size_t outcap)
{
    out_buf o = {.p = outp, .cap = outcap};
    if (outcap)
        outp[0] = '\0';
    size_t k = 0;
    while (in[k]) {
        char ch = in[k];
        if (ch == '\\') {
            char e = in[k + 1];
            if (!e)
                return FG_EINVALID;
            unsigned char set[256] = {0};
            if (class_escape(e, set)) {
                if (emit_set(&o, set, 0))
                    return FG_EINVALID;
            } else if (strchr(".[()*+?{|^$\\", e)) {
                putc_(&o, '\\');
                putc_(&o, e);
            } else if (e >= '0' && e <= '9') {
                return FG_EINVALID; /* back-references */
            } else {
                putc_(&o, plain_escape(e));
            }
            k += 2;
        } else if (ch == '[') {
            if (bracket(in, &k, &o))
                return FG_EINVALID;
        } else if (ch == '(' && in[k + 1] == '?') {
            if (in[k + 2] != ':')
                return FG_EINVALID;
            putc_(&o, '(');
            k += 3;
        } else if ((ch == '?' || ch == '+') && k > 0 &&
                   (in[k - 1] == '*' || in[k - 1] == '+' || in[k - 1] == '?' ||
                    in[k - 1] == '}') &&
                   (k < 2 || in[k - 2] != '\\')) {
            k++; /* lazy or possessive quantifier: the same matches for a yes/no test */
        } else {
            putc_(&o, ch);
            k++;
        }
    }
    return o.overflow ? FG_ELIMIT : FG_OK;
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
    int rrc = regcomp(r, tr, REG_EXTENDED);
    if (rrc != 0) {
        /* REG_ESPACE: regcomp ran out of memory, the pattern may be fine */
        rc = rrc == REG_ESPACE ? FG_ENOMEM : FG_EINVALID;
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

/* matches() and replaceMatches(): one match anywhere in the string; every
 * match replaced, $1..$9 naming groups. */
int fp_regex_run(fp_ctx *c, const void *compiled, const char *pattern, const char *s, size_t n,
                 const char *subst, size_t subst_n, fp_coll *out)
{
    const regex_t *pre = compiled;
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
            return fp_no_memory(c);
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
        return fp_no_memory(c);
    if (pos < n) {
        if (o + (n - pos) + 1 > cap) {
            char *bigger = fp_alloc(c, o + (n - pos) + 1);
            if (!bigger)
                return fp_no_memory(c);
            memcpy(bigger, res, o);
            res = bigger;
        }
        memcpy(res + o, str + pos, n - pos);
        o += n - pos;
    }
    return fp_push_str(c, out, res, o, 0);
}
