/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_primitive.c: JSON type, format and range of FHIR primitives.
 *
 * The formats follow the regular expressions of the R4 definitions
 * (ElementDefinition.type extension regex), written as small hand-made
 * scanners because regex.h is far too slow on the hot path. Dates are also
 * checked for real calendar days (2023-02-30 is refused), as the reference
 * validator does.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "validators/validate_private.h"

#define FGV_MAX_STRING_BYTES (1u << 20) /* FHIR's 1 MB limit on one string */

int fgv_prim_is_integer(const char *code)
{
    switch (code[0]) {
    case 'i':
        return code[1] == 'n' && strcmp(code, "integer") == 0;
    case 'p':
        return strcmp(code, "positiveInt") == 0;
    case 'u':
        return code[1] == 'n' && strcmp(code, "unsignedInt") == 0;
    default:
        return 0;
    }
}

int fgv_prim_is_number(const char *code)
{
    if (code[0] == 'd')
        return code[1] == 'e' && strcmp(code, "decimal") == 0;
    return fgv_prim_is_integer(code);
}

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int days_in(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* YYYY, YYYY-MM or YYYY-MM-DD; returns characters used, 0 on failure;
 * *parts is how many of year/month/day there were. */
static size_t scan_date(const char *s, int *parts)
{
    if (!digits(s, 4))
        return 0;
    int y = num(s, 4);
    if (y == 0)
        return 0;
    *parts = 1;
    if (s[4] != '-')
        return 4;
    if (!digits(s + 5, 2))
        return 0;
    int m = num(s + 5, 2);
    if (m < 1 || m > 12)
        return 0;
    *parts = 2;
    if (s[7] != '-')
        return 7;
    if (!digits(s + 8, 2))
        return 0;
    int d = num(s + 8, 2);
    if (d < 1 || d > days_in(y, m))
        return 0;
    *parts = 3;
    return 10;
}

/* hh:mm:ss(.f+)? */
static size_t scan_time(const char *s)
{
    if (!digits(s, 2) || s[2] != ':' || !digits(s + 3, 2) || s[5] != ':' || !digits(s + 6, 2))
        return 0;
    if (num(s, 2) > 23 || num(s + 3, 2) > 59 || num(s + 6, 2) > 60)
        return 0;
    size_t n = 8;
    if (s[n] == '.') {
        n++;
        size_t f = n;
        while (isdigit((unsigned char)s[n]))
            n++;
        if (n == f)
            return 0;
    }
    return n;
}

/* Z or +hh:mm / -hh:mm (up to 14:00) */
static size_t scan_zone(const char *s)
{
    if (s[0] == 'Z')
        return 1;
    if ((s[0] != '+' && s[0] != '-') || !digits(s + 1, 2) || s[3] != ':' || !digits(s + 4, 2))
        return 0;
    int h = num(s + 1, 2), m = num(s + 4, 2);
    if (h > 14 || m > 59 || (h == 14 && m != 0))
        return 0;
    return 6;
}

static int is_date(const char *s)
{
    int parts;
    size_t n = scan_date(s, &parts);
    return n > 0 && s[n] == '\0';
}

static int is_datetime(const char *s, int instant)
{
    int parts = 0;
    size_t n = scan_date(s, &parts);
    if (n == 0)
        return 0;
    if (s[n] == '\0')
        return !instant;
    if (s[n] != 'T' || parts != 3)
        return 0;
    n++;
    size_t t = scan_time(s + n);
    if (t == 0)
        return 0;
    n += t;
    size_t z = scan_zone(s + n);
    if (z == 0)
        return 0;
    return s[n + z] == '\0';
}

static int is_time(const char *s)
{
    size_t n = scan_time(s);
    return n > 0 && s[n] == '\0';
}

static int is_id(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '-' && ch != '.')
            return 0;
    }
    return 1;
}

static int is_oid(const char *s)
{
    if (strncmp(s, "urn:oid:", 8) != 0)
        return 0;
    s += 8;
    if (*s < '0' || *s > '2')
        return 0;
    s++;
    int arcs = 0;
    while (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return 0;
        if (*s == '0' && isdigit((unsigned char)s[1]))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
        arcs++;
    }
    return arcs > 0 && *s == '\0';
}

static int is_uuid(const char *s)
{
    if (strncmp(s, "urn:uuid:", 9) != 0)
        return 0;
    s += 9;
    static const int groups[] = {8, 4, 4, 4, 12};
    for (int g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++, s++)
            if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
                return 0;
        if (g < 4 && *s++ != '-')
            return 0;
    }
    return *s == '\0';
}

/* \s of the definitions' regexes, without a locale lookup per byte */
static inline int ws(char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static int no_space(const char *s)
{
    for (; *s; s++)
        if (ws(*s))
            return 0;
    return 1;
}

/* code: [^\s]+(\s[^\s]+)* */
static int is_code(const char *s)
{
    if (*s == '\0' || ws(*s))
        return 0;
    for (; *s; s++)
        if (ws(*s) && (s[1] == '\0' || ws(s[1])))
            return 0;
    return 1;
}

/* 1 base64 alphabet, 2 '=', 3 whitespace, 0 anything else */
static const unsigned char b64class[256] = {
    ['\t'] = 3, ['\n'] = 3, ['\r'] = 3, [' '] = 3, ['+'] = 1, ['/'] = 1, ['='] = 2,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static int is_base64(const char *s)
{
    size_t n = 0, pad = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (b64class[*p]) {
        case 1:
            if (pad)
                return 0;
            n++;
            break;
        case 2:
            pad++;
            n++;
            break;
        case 3:
            break;
        default:
            return 0;
        }
    }
    return n % 4 == 0 && pad <= 2;
}

/* Printable text: no control characters other than tab, CR and LF. */
static const char *bad_control(const char *s, size_t len)
{
    /* eight bytes at a time while none is below 0x20 (the usual case) */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (((x - 0x20 * ones) & ~x & highs) != 0)
            break;
    }
    for (s += i; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n')
            return s;
    }
    return NULL;
}

static int is_xhtml_div(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    if (strncmp(s, "<div", 4) != 0 || (!isspace((unsigned char)s[4]) && s[4] != '>'))
        return 0;
    const char *end = strchr(s, '>');
    if (end == NULL)
        return 0;
    const char *ns = strstr(s, "xmlns=\"http://www.w3.org/1999/xhtml\"");
    if (ns == NULL || ns > end) {
        ns = strstr(s, "xmlns='http://www.w3.org/1999/xhtml'");
        if (ns == NULL || ns > end)
            return 0;
    }
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    if (end[-1] == '/' && (size_t)(end - s) + 1 == len)
        return 1;
    return len >= 6 && strncmp(s + len - 6, "</div>", 6) == 0;
}

static const char *json_kind(const fg_jv *v)
{
    if (fg_jv_is_string(v))
        return "a string";
    if (fg_jv_is_integer(v) || fg_jv_is_real(v))
        return "a number";
    if (fg_jv_is_boolean(v))
        return "a boolean";
    if (fg_jv_is_array(v))
        return "an array";
    if (fg_jv_is_object(v))
        return "an object";
    return "null";
}

static void number(fgv_ctx *c, const fg_jv *val, const char *code)
{
    if (!fg_jv_is_number(val)) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_TYPE, "structure", NULL,
                  "A %s must be a JSON number, found %s%s", code, json_kind(val),
                  fg_jv_is_string(val) ? " (remove the quotes)" : "");
        return;
    }
    if (!fgv_prim_is_integer(code)) {
        if (fg_jv_is_real(val) && !isfinite(fg_jv_number(val)))
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_FORMAT, "value", NULL,
                      "A decimal must be finite");
        return;
    }
    if (!fg_jv_is_integer(val)) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_FORMAT, "value", NULL,
                  "A %s must be a whole number, found %g", code, fg_jv_number(val));
        return;
    }
    json_int_t n = fg_jv_integer(val);
    json_int_t lo = strcmp(code, "positiveInt") == 0 ? 1 : strcmp(code, "unsignedInt") == 0 ? 0
                                                                                            : INT32_MIN;
    if (n < lo || n > INT32_MAX)
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_FORMAT, "value", NULL,
                  "%lld is out of range for %s (%lld to %d)", (long long)n, code, (long long)lo,
                  INT32_MAX);
}

void fgv_primitive(fgv_ctx *c, const fg_jv *val, const char *code)
{
    if (fg_jv_is_null(val))
        return; /* the caller decides whether a null placeholder is allowed */
    if (code[0] == 'b' && code[1] == 'o' && strcmp(code, "boolean") == 0) {
        if (!fg_jv_is_boolean(val))
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_TYPE, "structure", NULL,
                      "A boolean must be JSON true or false, found %s%s", json_kind(val),
                      fg_jv_is_string(val) ? " (remove the quotes)" : "");
        return;
    }
    if (fgv_prim_is_number(code)) {
        number(c, val, code);
        return;
    }
    if (!fg_jv_is_string(val)) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_TYPE, "structure", NULL,
                  "A %s must be a JSON string, found %s", code, json_kind(val));
        return;
    }
    const char *s = fg_jv_str(val);
    size_t len = fg_jv_len(val);
    if (len == 0) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_JSON, "value", NULL,
                  "Empty strings are not allowed in FHIR: leave the property out");
        return;
    }
    if (strlen(s) != len) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_FORMAT, "value", NULL,
                  "The %s contains a NUL character", code);
        return;
    }
    if (len > FGV_MAX_STRING_BYTES && strcmp(code, "xhtml") != 0
        && strcmp(code, "base64Binary") != 0) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_FORMAT, "value", NULL,
                  "The %s is %zu bytes long; FHIR allows at most 1 MB", code, len);
        return;
    }
    int ok = 1;
    const char *want = NULL;
    switch (code[0]) {
    case 'b':
        if (strcmp(code, "base64Binary") == 0) {
            ok = is_base64(s);
            want = "base64 (A-Z a-z 0-9 + / with = padding, a multiple of 4 characters)";
        }
        break;
    case 'c':
        if (strcmp(code, "code") == 0) {
            ok = is_code(s);
            want = "a code without leading, trailing or doubled whitespace";
        } else if (strcmp(code, "canonical") == 0) {
            ok = no_space(s);
            want = "a canonical URL without whitespace";
        }
        break;
    case 'd':
        if (strcmp(code, "date") == 0) {
            ok = is_date(s);
            want = "a date YYYY, YYYY-MM or YYYY-MM-DD (a real calendar day, no time)";
        } else if (strcmp(code, "dateTime") == 0) {
            ok = is_datetime(s, 0);
            want = "a dateTime YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time "
                   "zone (Z or +hh:mm)";
        }
        break;
    case 'i':
        if (strcmp(code, "instant") == 0) {
            ok = is_datetime(s, 1);
            want = "an instant YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or +hh:mm)";
        } else if (strcmp(code, "id") == 0) {
            ok = is_id(s, len);
            want = "an id: 1 to 64 of A-Z a-z 0-9 - .";
        }
        break;
    case 'o':
        if (strcmp(code, "oid") == 0) {
            ok = is_oid(s);
            want = "an OID urn:oid:1.2.3";
        }
        break;
    case 't':
        if (strcmp(code, "time") == 0) {
            ok = is_time(s);
            want = "a time hh:mm:ss";
        }
        break;
    case 'u':
        if (strcmp(code, "uuid") == 0) {
            ok = is_uuid(s);
            want = "urn:uuid: followed by a lower-case UUID";
        } else if (strcmp(code, "uri") == 0 || strcmp(code, "url") == 0) {
            ok = no_space(s);
            want = "a URI without whitespace";
        }
        break;
    case 'x':
        if (strcmp(code, "xhtml") == 0) {
            ok = is_xhtml_div(s);
            want = "XHTML whose root is <div xmlns=\"http://www.w3.org/1999/xhtml\">...</div>";
        }
        break;
    default:
        break;
    }
    if (!ok) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_FORMAT, "value", NULL, "'%.80s%s' is not %s", s,
                  len > 80 ? "..." : "", want);
        return;
    }
    if (code[0] != 'x' && code[0] != 'b') { /* xhtml, base64Binary: checked above */
        const char *bad = bad_control(s, len);
        if (bad != NULL)
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_FORMAT, "value", NULL,
                      "The %s holds control character 0x%02x at offset %zu", code,
                      (unsigned)(unsigned char)*bad, (size_t)(bad - s));
    }
}
