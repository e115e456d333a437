/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirpath_html.c: htmlChecks(), the test behind the narrative invariants
 * (txt-1, txt-2): the XHTML is well formed (tags nest and close, attributes
 * are quoted), uses only the basic formatting elements FHIR allows, has no
 * event attributes (onclick...) or javascript: links. Whether it has some
 * content (txt-2) is not judged here: R4 writes txt-1 and txt-2 with the
 * same expression, and an empty div must not break txt-1.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "fhir/fhirpath/fhirpath_private.h"

#define HTML_MAX_DEPTH 256
#define HTML_NAME_MAX 32

static const char *const allowed[] = {
    "a", "abbr", "acronym", "address", "area", "b", "bdo", "big", "blockquote", "br",
    "caption", "cite", "code", "col", "colgroup", "dd", "dfn", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "map", "ol", "p",
    "pre", "q", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "tt", "ul", "var", "s", "u", "strike", "font", "center",
};

static int is_allowed(const char *name)
{
    const char *colon = strchr(name, ':');
    if (colon)
        name = colon + 1; /* xhtml:div */
    for (size_t k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
        if (strcmp(allowed[k], name) == 0)
            return 1;
    return 0;
}

static int name_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '-' || ch == '_' || ch == ':' || ch == '.';
}

/* Read a name at s[*k]; 0 when there is none or it is too long. */
static int read_name(const char *s, size_t n, size_t *k, char *out)
{
    size_t len = 0;
    while (*k < n && name_char(s[*k])) {
        if (len + 1 >= HTML_NAME_MAX)
            return 0;
        out[len++] = (char)tolower((unsigned char)s[(*k)++]);
    }
    out[len] = '\0';
    return len > 0;
}

static int skip_ws(const char *s, size_t n, size_t *k)
{
    while (*k < n && isspace((unsigned char)s[*k]))
        (*k)++;
    return *k < n;
}

static int value_is_script(const char *v, size_t len)
{
    while (len && isspace((unsigned char)*v)) {
        v++;
        len--;
    }
    return len >= 11 && strncasecmp(v, "javascript:", 11) == 0;
}

/* Parse the attributes of a start tag up to '>' or '/>'. */
static int attributes(const char *s, size_t n, size_t *k, int *self_closing)
{
    char name[HTML_NAME_MAX];
    for (;;) {
        if (!skip_ws(s, n, k))
            return 0;
        if (s[*k] == '>') {
            (*k)++;
            return 1;
        }
        if (s[*k] == '/' && *k + 1 < n && s[*k + 1] == '>') {
            *k += 2;
            *self_closing = 1;
            return 1;
        }
        if (!read_name(s, n, k, name))
            return 0;
        if (name[0] == 'o' && name[1] == 'n')
            return 0; /* event handler */
        if (!skip_ws(s, n, k) || s[*k] != '=')
            return 0;
        (*k)++;
        if (!skip_ws(s, n, k) || (s[*k] != '"' && s[*k] != '\''))
            return 0;
        char q = s[(*k)++];
        size_t start = *k;
        while (*k < n && s[*k] != q) {
            if (s[*k] == '<')
                return 0;
            (*k)++;
        }
        if (*k >= n)
            return 0;
        if ((strcmp(name, "href") == 0 || strcmp(name, "src") == 0) &&
            value_is_script(s + start, *k - start))
            return 0;
        (*k)++;
    }
}

int fp_html_check(const char *s, size_t n)
{
    char stack[HTML_MAX_DEPTH][HTML_NAME_MAX];
    int depth = 0, seen_root = 0;
    size_t k = 0;
    while (k < n) {
        if (s[k] != '<') {
            if (!isspace((unsigned char)s[k]) && depth == 0)
                return 0; /* text outside the root element */
            k++;
            continue;
        }
        if (k + 3 < n && strncmp(s + k, "<!--", 4) == 0) {
            const char *end = NULL;
            for (size_t j = k + 4; j + 2 < n; j++)
                if (s[j] == '-' && s[j + 1] == '-' && s[j + 2] == '>') {
                    end = s + j;
                    break;
                }
            if (!end)
                return 0;
            k = (size_t)(end - s) + 3;
            continue;
        }
        if (k + 1 < n && s[k + 1] == '?' && depth == 0 && !seen_root) {
            const char *end = NULL;
            for (size_t j = k + 2; j + 1 < n; j++)
                if (s[j] == '?' && s[j + 1] == '>') {
                    end = s + j;
                    break;
                }
            if (!end)
                return 0;
            k = (size_t)(end - s) + 2;
            continue;
        }
        k++;
        char name[HTML_NAME_MAX];
        if (k < n && s[k] == '/') {
            k++;
            if (!read_name(s, n, &k, name) || depth == 0 || strcmp(stack[depth - 1], name) != 0)
                return 0;
            if (!skip_ws(s, n, &k) || s[k] != '>')
                return 0;
            k++;
            depth--;
            continue;
        }
        if (!read_name(s, n, &k, name))
            return 0;
        if (depth == 0) {
            if (seen_root || strcmp(name, "div") != 0)
                return 0;
            seen_root = 1;
        } else if (!is_allowed(name)) {
            return 0;
        }
        int self_closing = 0;
        if (!attributes(s, n, &k, &self_closing))
            return 0;
        if (self_closing)
            continue;
        if (depth == HTML_MAX_DEPTH)
            return 0;
        memcpy(stack[depth++], name, HTML_NAME_MAX);
    }
    return seen_root && depth == 0;
}
