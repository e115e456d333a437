/* SPDX-License-Identifier: Apache-2.0 */
/*
 * term_names.c: finding a concept by a name as people and models write it.
 *
 * Names are compared ignoring case, surrounding blanks (and a final full
 * stop) and a trailing SNOMED CT semantic tag such as " (disorder)", so
 * "essential hypertension" names "Essential hypertension (disorder)": the
 * lookup tries the text as written, without its tag, and with each common
 * tag added. Moved here from the LLM generator's grounding so that the
 * terminology is the one place that knows what names a concept.
 */
#include "fhir/term/fg_term.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Only SNOMED CT names carry semantic tags. */
#define TERM_SNOMED "http://snomed.info/sct"

/* The SNOMED CT semantic tags a model is likely to add or leave out. */
static const char *const TAGS[] = {
    "disorder",        "finding",          "procedure",        "substance",
    "situation",       "regime/therapy",   "observable entity", "record artifact",
    "qualifier value", "product",          "morphologic abnormality",
    "event",           "body structure",   "medicinal product", "clinical drug",
    "environment",     "physical object",  "assessment scale",
};
#define N_TAGS (sizeof(TAGS) / sizeof(TAGS[0]))

/* Length of s without surrounding blanks, into *start / return. */
static size_t trimmed(const char *s, const char **start)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '.'))
        n--;
    *start = s;
    return n;
}

/* Length of the name without a trailing " (tag)". */
static size_t untagged(const char *s, size_t n)
{
    if (n < 3 || s[n - 1] != ')')
        return n;
    for (size_t k = 0; k < N_TAGS; k++) {
        size_t m = strlen(TAGS[k]);
        if (n >= m + 3 && s[n - m - 3] == ' ' && s[n - m - 2] == '(' &&
            strncasecmp(s + n - m - 1, TAGS[k], m) == 0) {
            n -= m + 3;
            while (n && s[n - 1] == ' ')
                n--;
            return n;
        }
    }
    return n;
}

int fg_terminology_same_name(const char *a, const char *b)
{
    const char *sa, *sb;
    size_t na = trimmed(a, &sa), nb = trimmed(b, &sb);
    na = untagged(sa, na);
    nb = untagged(sb, nb);
    return na == nb && strncasecmp(sa, sb, na) == 0;
}

const fg_code_entry *fg_terminology_lookup_name(const fg_terminology *t, const char *sys,
                                               const char *text)
{
    char buf[512];
    const char *s;
    size_t n = trimmed(text, &s);
    if (n == 0 || n >= sizeof(buf) - 40)
        return NULL;
    const fg_code_entry *e = fg_terminology_lookup_display(t, sys, text);
    if (e)
        return e;
    size_t u = untagged(s, n);
    memcpy(buf, s, u);
    buf[u] = 0;
    if ((e = fg_terminology_lookup_display(t, sys, buf)))
        return e;
    if (strcmp(sys, TERM_SNOMED) != 0)
        return NULL;
    for (size_t k = 0; k < N_TAGS; k++) {
        snprintf(buf + u, sizeof(buf) - u, " (%s)", TAGS[k]);
        if ((e = fg_terminology_lookup_display(t, sys, buf)))
            return e;
    }
    return NULL;
}
