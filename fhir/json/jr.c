/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jr.c: the JSON reader of fg_jr.h.
 *
 * A recursive descent over a private copy of the input. Strings are
 * unescaped where they lie in the copy (the unescaped form is never longer)
 * and NUL-terminated over their closing quote, so a string costs no
 * allocation. The values of an open array or object wait on a scratch stack
 * shared by every level; when the container closes they are copied into the
 * arena as one contiguous run and the stack shrinks back. The scratch stack
 * starts inside the parser's frame and moves to the heap only for large
 * documents (a Bundle's entries).
 */
#include "fhir/json/fg_jr.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fhir/base/fg_error.h"
#include "fhir/base/fg_hash.h"

#define SCRATCH_LOCAL 128
/* Objects with more members than this are checked for duplicate keys with a
 * hash table instead of comparing every pair. */
#define DUP_SCAN_MAX 24

typedef struct jr {
    char *p;             /* read cursor in the copy */
    char *end;
    char *base;          /* the copy */
    const char *orig;    /* the caller's text, for line and column */
    fg_arena *arena;
    fg_jv_member *stk;   /* scratch: pending items of every open container */
    size_t n, cap;
    int depth;
    int rc;              /* FG_OK until the first failure */
    fg_jr_error *err;
    fg_jv_member local[SCRATCH_LOCAL];
} jr;

static void where(jr *r, const char *at, fg_jr_error *e)
{
    size_t pos = (size_t)(at - r->base);
    int line = 1, col = 1;
    for (size_t i = 0; i < pos; i++) {
        unsigned char c = (unsigned char)r->orig[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    e->line = line;
    e->column = col;
    e->position = pos;
}

static size_t utf8_len(const unsigned char *s, const unsigned char *end);

/* A message quotes keys cut at 64 bytes and is cut at its own size: a
 * character split by a cut becomes '?', so the text stays UTF-8 for an
 * OperationOutcome. */
static void utf8_repair(char *text)
{
    unsigned char *s = (unsigned char *)text, *end = s + strlen(text);
    while (s < end) {
        size_t k = *s < 0x80 ? 1 : utf8_len(s, end);
        if (k == 0) {
            *s = '?';
            k = 1;
        }
        s += k;
    }
}

static int fail(jr *r, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(jr *r, const char *at, const char *fmt, ...)
{
    if (r->rc != FG_OK)
        return r->rc;
    r->rc = FG_EINVALID;
    if (r->err) {
        where(r, at, r->err);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err->text, sizeof(r->err->text), fmt, ap);
        va_end(ap);
        utf8_repair(r->err->text);
    }
    return r->rc;
}

static int oom(jr *r)
{
    if (r->rc == FG_OK) {
        r->rc = FG_ENOMEM;
        if (r->err) {
            r->err->line = r->err->column = 0;
            r->err->position = 0;
            snprintf(r->err->text, sizeof(r->err->text), "out of memory");
        }
    }
    return r->rc;
}

/* "'x'" or "byte 0x.." for a message about what was found at p. */
static const char *found(jr *r, const char *p, char *buf, size_t size)
{
    if (p >= r->end)
        return "the end of the input";
    unsigned char c = (unsigned char)*p;
    if (c >= 0x20 && c < 0x7F)
        snprintf(buf, size, "'%c'", c);
    else
        snprintf(buf, size, "byte 0x%02X", c);
    return buf;
}

static inline void skip_ws(jr *r)
{
    char *p = r->p;
    while (p < r->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    r->p = p;
}

static int push(jr *r, const char *key, size_t key_len, const fg_jv *v)
{
    if (r->n == r->cap) {
        size_t cap = r->cap * 2;
        fg_jv_member *s;
        if (r->stk == r->local) {
            s = malloc(cap * sizeof(*s));
            if (s)
                memcpy(s, r->local, r->n * sizeof(*s));
        } else {
            s = realloc(r->stk, cap * sizeof(*s));
        }
        if (!s)
            return oom(r);
        r->stk = s;
        r->cap = cap;
    }
    fg_jv_member *m = &r->stk[r->n++];
    m->key = key;
    m->key_len = key_len;
    m->value = *v;
    return FG_OK;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Length of the UTF-8 sequence at s (1-4), or 0 when it is not valid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if ((size_t)(end - s) < k)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return k;
}

static char *put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        *d++ = (char)cp;
    } else if (cp < 0x800) {
        *d++ = (char)(0xC0 | (cp >> 6));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xE0 | (cp >> 12));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *d++ = (char)(0xF0 | (cp >> 18));
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    }
    return d;
}

/* One escape after the backslash at s; writes its bytes at *d. */
static int escape(jr *r, char **sp, char **dp)
{
    char *s = *sp, *d = *dp;
    if (s + 1 >= r->end)
        return fail(r, s, "unterminated string");
    char c = s[1];
    static const char simple_from[] = "\"\\/bfnrt";
    static const char simple_to[] = "\"\\/\b\f\n\r\t";
    const char *hit = c ? strchr(simple_from, c) : NULL;
    if (hit) {
        *d++ = simple_to[hit - simple_from];
        s += 2;
    } else if (c == 'u') {
        unsigned cp;
        if (r->end - s < 6 || hex4(s + 2, &cp) != 0)
            return fail(r, s, "invalid \\u escape: four hexadecimal digits are needed");
        s += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (r->end - s < 6 || s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &lo) != 0 ||
                lo < 0xDC00 || lo > 0xDFFF)
                return fail(r, s - 6, "invalid \\u escape: a high surrogate without its low one");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            s += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail(r, s - 6, "invalid \\u escape: a low surrogate without its high one");
        } else if (cp == 0) {
            return fail(r, s - 6, "\\u0000 is not allowed in a string");
        }
        d = put_utf8(d, cp);
    } else {
        char buf[16];
        return fail(r, s, "invalid escape: a backslash followed by %s", found(r, s + 1, buf,
                                                                              sizeof(buf)));
    }
    *sp = s;
    *dp = d;
    return FG_OK;
}

/* The string whose opening quote is at r->p: unescaped in place,
 * NUL-terminated over the closing quote. */
static int string(jr *r, const char **out, size_t *len)
{
    char *start = r->p + 1;
    char *s = start, *d = start;
    const char *end = r->end;
    for (;;) {
        /* the common case: plain ASCII, nothing to move while d == s */
        while (s < end) {
            unsigned char c = (unsigned char)*s;
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
                break;
            *d++ = *s++;
        }
        if (s >= end)
            return fail(r, r->p, "unterminated string");
        unsigned char c = (unsigned char)*s;
        if (c == '"')
            break;
        if (c == '\\') {
            if (escape(r, &s, &d) != FG_OK)
                return r->rc;
        } else if (c < 0x20) {
            return fail(r, s, "control character 0x%02X in a string: escape it", c);
        } else {
            size_t k = utf8_len((const unsigned char *)s, (const unsigned char *)end);
            if (k == 0)
                return fail(r, s, "invalid UTF-8 in a string (byte 0x%02X)", c);
            memmove(d, s, k);
            d += k;
            s += k;
        }
    }
    *d = '\0';
    *out = start;
    *len = (size_t)(d - start);
    r->p = s + 1;
    return FG_OK;
}

static int number(jr *r, fg_jv *v)
{
    char *s = r->p, *p = s;
    const char *end = r->end;
    int integer = 1;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return fail(r, s, "invalid number: a leading zero is not allowed");
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return fail(r, s, "invalid number: a digit must follow '-'");
    }
    size_t int_digits = (size_t)(p - s) - (*s == '-');
    int exponent = 0;
    if (p < end && *p == '.') {
        integer = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(r, p, "invalid number: a digit must follow the decimal point");
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integer = 0;
        exponent = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(r, p, "invalid number: a digit must follow the exponent");
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    size_t n = (size_t)(p - s);
    if (integer) {
        size_t digits = n - (*s == '-');
        /* 19 digits may overflow 64 bits: those read as reals beyond the range */
        if (digits > 19 || (digits == 19 && strncmp(s + (*s == '-'), *s == '-' ?
                                                     "9223372036854775808" :
                                                     "9223372036854775807", 19) > 0))
            integer = 0;
    }
    char *text = fg_arena_strndup(r->arena, s, n);
    if (!text)
        return oom(r);
    /* as jansson: a number past the range of a double (DBL_MAX < 1e309) is
     * refused, not read as infinity; only an exponent or 309 digits can get
     * there, so common decimals are not converted here */
    if (!integer && (exponent || int_digits > 308) && isinf(strtod(text, NULL)))
        return fail(r, s, "number out of range: %.32s", text);
    v->type = integer ? FG_JV_INTEGER : FG_JV_REAL;
    v->n = (uint32_t)n;
    v->u.s = text;
    r->p = p;
    return FG_OK;
}

static int literal(jr *r, const char *word, size_t len, fg_jv_type type, fg_jv *v)
{
    if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len) != 0) {
        char buf[16];
        return fail(r, r->p, "unexpected %s: a value was expected", found(r, r->p, buf,
                                                                          sizeof(buf)));
    }
    r->p += len;
    v->type = type;
    v->n = 0;
    v->u.s = NULL;
    return FG_OK;
}

/* The first key of m[0..n) that repeats an earlier one, or NULL. */
static const fg_jv_member *duplicate(jr *r, const fg_jv_member *m, size_t n)
{
    if (n <= DUP_SCAN_MAX) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (m[i].key_len == m[j].key_len && m[i].key[0] == m[j].key[0] &&
                    memcmp(m[i].key, m[j].key, m[i].key_len) == 0)
                    return &m[i];
        return NULL;
    }
    size_t cap = 64;
    while (cap < n * 2)
        cap *= 2;
    const fg_jv_member **slot = calloc(cap, sizeof(*slot));
    if (!slot) {
        oom(r);
        return NULL;
    }
    const fg_jv_member *dup = NULL;
    for (size_t i = 0; i < n && !dup; i++) {
        size_t h = (size_t)fg_fnv1a(FG_FNV_SEED, m[i].key, m[i].key_len) & (cap - 1);
        while (slot[h]) {
            if (slot[h]->key_len == m[i].key_len &&
                memcmp(slot[h]->key, m[i].key, m[i].key_len) == 0) {
                dup = &m[i];
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        slot[h] = &m[i];
    }
    free(slot);
    return dup;
}

static int value(jr *r, fg_jv *v);

/* Close a container whose pending values start at stk[mark]. */
static int close_container(jr *r, size_t mark, fg_jv *v, int object, const char *open)
{
    size_t n = r->n - mark;
    if (n > UINT32_MAX)
        return fail(r, open, "more than %u values in one array or object", UINT32_MAX);
    /* an empty container points at a run of none, not NULL: the accessors
     * add n to the pointer, and NULL + 0 is undefined in C */
    static const fg_jv_member no_members[1];
    static const fg_jv no_items[1];
    v->type = object ? FG_JV_OBJECT : FG_JV_ARRAY;
    v->n = (uint32_t)n;
    if (object)
        v->u.members = no_members;
    else
        v->u.items = no_items;
    if (object) {
        fg_jv_member *m = n ? fg_arena_alloc(r->arena, n * sizeof(*m)) : NULL;
        if (n && !m)
            return oom(r);
        if (n)
            memcpy(m, r->stk + mark, n * sizeof(*m));
        const fg_jv_member *dup = duplicate(r, m, n);
        if (r->rc != FG_OK)
            return r->rc;
        if (dup)
            return fail(r, dup->key - 1, "duplicate key \"%.64s\" in one object", dup->key);
        if (n)
            v->u.members = m;
    } else if (n) {
        fg_jv *items = fg_arena_alloc(r->arena, n * sizeof(*items));
        if (!items)
            return oom(r);
        for (size_t i = 0; i < n; i++)
            items[i] = r->stk[mark + i].value;
        v->u.items = items;
    }
    r->n = mark;
    return FG_OK;
}

static int container(jr *r, fg_jv *v, int object)
{
    char *open = r->p;
    char close = object ? '}' : ']';
    char buf[16];
    if (++r->depth > FG_JR_MAX_DEPTH)
        return fail(r, open, "nesting deeper than %d levels", FG_JR_MAX_DEPTH);
    size_t mark = r->n;
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return close_container(r, mark, v, object, open);
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        if (object) {
            if (r->p >= r->end || *r->p != '"')
                return fail(r, r->p, "expected a key in quotes, found %s",
                            found(r, r->p, buf, sizeof(buf)));
            if (string(r, &key, &key_len) != FG_OK)
                return r->rc;
            skip_ws(r);
            if (r->p >= r->end || *r->p != ':')
                return fail(r, r->p, "expected ':' after the key \"%.64s\", found %s", key,
                            found(r, r->p, buf, sizeof(buf)));
            r->p++;
        }
        fg_jv item;
        if (value(r, &item) != FG_OK || push(r, key, key_len, &item) != FG_OK)
            return r->rc;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            skip_ws(r);
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            break;
        }
        return fail(r, r->p, "expected ',' or '%c', found %s", close,
                    found(r, r->p, buf, sizeof(buf)));
    }
    r->depth--;
    return close_container(r, mark, v, object, open);
}

static int value(jr *r, fg_jv *v)
{
    char buf[16];
    skip_ws(r);
    if (r->p >= r->end)
        return fail(r, r->p, "unexpected end of the input: a value was expected");
    switch (*r->p) {
    case '{':
        return container(r, v, 1);
    case '[':
        return container(r, v, 0);
    case '"': {
        const char *s;
        size_t len;
        if (string(r, &s, &len) != FG_OK)
            return r->rc;
        if (len > UINT32_MAX)
            return fail(r, s - 1, "a string longer than %u bytes", UINT32_MAX);
        v->type = FG_JV_STRING;
        v->n = (uint32_t)len;
        v->u.s = s;
        return FG_OK;
    }
    case 't':
        return literal(r, "true", 4, FG_JV_TRUE, v);
    case 'f':
        return literal(r, "false", 5, FG_JV_FALSE, v);
    case 'n':
        return literal(r, "null", 4, FG_JV_NULL, v);
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
            return number(r, v);
        return fail(r, r->p, "unexpected %s: a value was expected",
                    found(r, r->p, buf, sizeof(buf)));
    }
}

int fg_jr_parse(fg_arena *arena, const char *buf, size_t len, const fg_jv **out,
                fg_jr_error *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    jr state; /* about 4 KB: the scratch stack starts here */
    jr *r = &state;
    r->arena = arena;
    r->orig = buf ? buf : "";
    r->base = fg_arena_alloc(arena, len + 1);
    r->stk = r->local;
    r->n = 0;
    r->cap = SCRATCH_LOCAL;
    r->depth = 0;
    r->rc = FG_OK;
    r->err = err;
    fg_jv *root = fg_arena_alloc(arena, sizeof(*root));
    if (!r->base || !root) {
        oom(r);
        goto done;
    }
    if (len)
        memcpy(r->base, buf, len);
    r->base[len] = '\0';
    r->p = r->base;
    r->end = r->base + len;
    /* a byte order mark is allowed before the text (RFC 8259, 8.1) */
    if (len >= 3 && memcmp(r->p, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
    skip_ws(r);
    if (r->p >= r->end) {
        fail(r, r->p, "no JSON value: the input is empty");
        goto done;
    }
    if (value(r, root) != FG_OK)
        goto done;
    skip_ws(r);
    if (r->p < r->end) {
        char b[16];
        fail(r, r->p, "%s after the end of the JSON value", found(r, r->p, b, sizeof(b)));
        goto done;
    }
    *out = root;
done:;
    int rc = r->rc;
    if (r->stk != r->local)
        free(r->stk);
    return rc;
}
