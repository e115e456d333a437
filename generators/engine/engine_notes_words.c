/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_notes_words.c: naming things as clinicians write them, from the
 * record only: numbers with the decimals the record keeps, conditions by
 * their common abbreviation, labs by short name, drugs as ingredient,
 * strength and form parsed from the RxNorm display, spans of time in words.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "generators/engine/notes_private.h"

void nt_put(nt_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap)
        n = b->cap - 1 - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void nt_puts(nt_buf *b, const char *s)
{
    if (s)
        nt_put(b, s, strlen(s));
}

void nt_clear(nt_buf *b)
{
    b->len = 0;
    b->p[0] = 0;
}

void nt_int(nt_buf *b, long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    int neg = v < 0;
    unsigned long long u = neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        tmp[--i] = '-';
    nt_put(b, tmp + i, sizeof(tmp) - i);
}

void nt_fixed(nt_buf *b, double v, int decimals)
{
    static const double pow10[] = {1, 10, 100, 1000, 10000};
    if (decimals < 0)
        decimals = 0;
    if (decimals > 4)
        decimals = 4;
    double scaled = v * pow10[decimals];
    long long r = (long long)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    if (r < 0) {
        nt_put(b, "-", 1);
        r = -r;
    }
    long long whole = r / (long long)pow10[decimals], frac = r % (long long)pow10[decimals];
    nt_int(b, whole);
    if (decimals) {
        char tmp[8];
        for (int i = decimals - 1; i >= 0; i--, frac /= 10)
            tmp[i] = (char)('0' + frac % 10);
        nt_put(b, ".", 1);
        nt_put(b, tmp, (size_t)decimals);
    }
}

void nt_date(nt_buf *b, fg_time t)
{
    char d[11];
    nt_put(b, d, fg_format_date(t, d));
}

/* The length of a display without a trailing SNOMED CT " (tag)". */
static size_t name_len(const fg_term *t)
{
    const char *d = t->display;
    size_t n = strlen(d);
    if (t->system && strcmp(t->system, FG_SYS_SNOMED) == 0 && n > 2 && d[n - 1] == ')') {
        const char *tag = NULL;
        for (const char *p = d; (p = strstr(p, " (")) != NULL; p++)
            tag = p;
        if (tag && tag > d)
            n = (size_t)(tag - d);
    }
    return n;
}

void nt_term(nt_buf *b, const fg_term *t, int lower)
{
    if (!t->display)
        return;
    size_t start = b->len;
    nt_put(b, t->display, name_len(t));
    if (lower && b->len > start + 1 && b->p[start] >= 'A' && b->p[start] <= 'Z' &&
        !(b->p[start + 1] >= 'A' && b->p[start + 1] <= 'Z'))
        b->p[start] = (char)(b->p[start] - 'A' + 'a');
}

void nt_condition(nt_buf *b, const struct ep_notes *n, const fg_term *t)
{
    if (!t->display)
        return;
    size_t len = name_len(t), best = 0;
    const nt_pair *hit = NULL;
    int first = t->display[0] | 0x20; /* ASCII letters: lower case */
    for (size_t i = 0; i < n->n_abbrev; i++) {
        size_t m = n->abbrev_len[i];
        if ((n->abbrev[i].key[0] | 0x20) != first)
            continue;
        if (m <= len && m > best && strncasecmp(t->display, n->abbrev[i].key, m) == 0) {
            best = m;
            hit = &n->abbrev[i];
        }
    }
    if (!hit) {
        nt_term(b, t, 1);
        return;
    }
    nt_puts(b, hit->text);
    nt_put(b, t->display + best, len - best);
}

const char *nt_lab_name(const struct ep_notes *n, const fg_term *t)
{
    return t->code ? fg_strmap_get(&n->labs, t->code) : NULL;
}

static int is_number(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return 0;
    return 1;
}

static const char *pair_find(const nt_pair *p, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(p[i].key) == len && strncmp(p[i].key, s, len) == 0)
            return p[i].text;
    return NULL;
}

static int dropped(const struct ep_notes *n, const char *s, size_t len)
{
    for (size_t i = 0; i < n->drop.n; i++)
        if (strlen(n->drop.v[i]) == len && strncasecmp(n->drop.v[i], s, len) == 0)
            return 1;
    return len >= 4 && strncmp(s, "NDA", 3) == 0 && s[3] >= '0' && s[3] <= '9';
}

/* Words of a drug display, lowered, in order: ingredient words, strengths
 * ("10 mg"), "/" between the parts of a combination; the dose form at the
 * end through the forms table. */
void nt_drug(nt_buf *b, const struct ep_notes *n, const fg_term *t)
{
    const char *d = t->display;
    if (!d)
        return;
    const char *bracket = strstr(d, " [");
    size_t total = bracket ? (size_t)(bracket - d) : strlen(d);
    const char *form = NULL, *end = d + total;
    /* The form: the longest tail of the display the table knows. */
    for (const char *p = d; p < end; p++)
        if (p == d || p[-1] == ' ') {
            const char *f = pair_find(n->forms, n->n_forms, p, (size_t)(end - p));
            if (f) {
                form = f;
                end = p > d ? p - 1 : p;
                break;
            }
        }
    size_t start = b->len;
    int after_strength = 0;
    for (const char *p = d; p < end;) {
        size_t w = strcspn(p, " ");
        if ((size_t)(end - p) < w)
            w = (size_t)(end - p);
        const char *next = p + w + (p + w < end);
        const char *unit = NULL;
        if (is_number(p, w) && next < end) {
            size_t uw = strcspn(next, " ");
            if ((size_t)(end - next) < uw)
                uw = (size_t)(end - next);
            unit = pair_find(n->dose_units, n->n_dose_units, next, uw);
            if (unit) {
                if (b->len > start)
                    nt_put(b, " ", 1);
                nt_put(b, p, w);
                nt_put(b, " ", 1);
                nt_puts(b, unit);
                after_strength = 1;
                p = next + uw + (next + uw < end);
                continue;
            }
            p = next; /* a quantity before the ingredient ("10 ML"): left out */
            if (!after_strength)
                continue;
        } else if (!dropped(n, p, w)) {
            if (b->len > start)
                nt_put(b, " ", 1);
            size_t at = b->len;
            nt_put(b, p, w);
            for (size_t i = at; i < b->len; i++)
                if (b->p[i] >= 'A' && b->p[i] <= 'Z')
                    b->p[i] = (char)(b->p[i] - 'A' + 'a');
        }
        p = next;
    }
    if (form) {
        if (b->len > start)
            nt_put(b, " ", 1);
        nt_puts(b, form);
    }
}

void nt_med(nt_buf *b, const struct ep_notes *n, const fg_medication *m)
{
    nt_drug(b, n, &m->term);
    int f = m->as_needed ? 0 : m->per_day;
    if (f >= 0 && (size_t)f < n->frequency.n && (f > 0 || m->as_needed)) {
        nt_put(b, " ", 1);
        nt_puts(b, n->frequency.v[f]);
    }
}

static const char *unit_text(const struct ep_notes *n, const char *ucum)
{
    for (size_t i = 0; ucum && i < n->n_units; i++)
        if (strcmp(n->units[i].key, ucum) == 0)
            return n->units[i].text;
    return ucum;
}

static void put_quantity(nt_buf *b, const struct ep_notes *n, double v, int decimals,
                         const char *unit)
{
    const char *u = unit_text(n, unit);
    nt_fixed(b, v, decimals);
    if (u && *u) {
        if (strcmp(u, "%") && strcmp(u, "/min"))
            nt_put(b, " ", 1);
        nt_puts(b, u);
    }
}

/* A lab's name: its short name, else the display up to " [". */
static void put_lab_name(nt_buf *b, const struct ep_notes *n, const fg_term *t)
{
    const char *s = nt_lab_name(n, t);
    if (s) {
        nt_puts(b, s);
        return;
    }
    if (!t->display)
        return;
    const char *br = strstr(t->display, " [");
    nt_put(b, t->display, br ? (size_t)(br - t->display) : strlen(t->display));
}

void nt_observation(nt_buf *b, const struct ep_notes *n, const fg_observation *o)
{
    put_lab_name(b, n, &o->term);
    if (o->n_components == 2 && nt_lab_name(n, &o->term)) {
        /* Blood pressure: "BP 128/82 mmHg". */
        nt_put(b, " ", 1);
        nt_fixed(b, o->components[0].value, 0);
        nt_put(b, "/", 1);
        put_quantity(b, n, o->components[1].value, 0, o->components[1].unit);
        return;
    }
    for (size_t i = 0; i < o->n_components; i++) {
        nt_put(b, i ? ", " : " ", i ? 2 : 1);
        put_lab_name(b, n, &o->components[i].term);
        nt_put(b, " ", 1);
        put_quantity(b, n, o->components[i].value, 0, o->components[i].unit);
    }
    if (o->n_components)
        return;
    if (o->kind == FG_VALUE_QUANTITY) {
        nt_put(b, " ", 1);
        put_quantity(b, n, o->value, o->decimals, o->unit);
    } else if (o->kind == FG_VALUE_CODE) {
        nt_put(b, " ", 1);
        nt_term(b, &o->code_value, 1);
    }
}

void nt_span(nt_buf *b, const struct ep_notes *n, fg_time a, fg_time later)
{
    long long d = (long long)((later - a) / FG_DAY);
    long long num;
    int unit;
    if (d < 0)
        d = 0;
    if (d >= 730) {
        num = d / 365;
        unit = 3;
    } else if (d >= 61) {
        num = (long long)(d / 30.44);
        unit = 2;
    } else if (d >= 14) {
        num = d / 7;
        unit = 1;
    } else {
        num = d;
        unit = 0;
    }
    nt_int(b, num);
    nt_put(b, " ", 1);
    nt_puts(b, n->age_units[unit]);
    if (num != 1)
        nt_put(b, "s", 1);
}

const char *nt_stop_reason(const struct ep_notes *n, const char *key)
{
    const char *w = key ? pair_find(n->stop_reasons, n->n_stop_reasons, key, strlen(key)) : NULL;
    return w ? w : pair_find(n->stop_reasons, n->n_stop_reasons, "default", 7);
}

const char *nt_disposition(const struct ep_notes *n, const char *key)
{
    const char *w = key ? pair_find(n->dispositions, n->n_dispositions, key, strlen(key)) : NULL;
    return w ? w : pair_find(n->dispositions, n->n_dispositions, "default", 7);
}

const nt_clin *nt_clin_of(const struct ep_notes *n, const fg_term *t)
{
    return t->code ? fg_strmap_get(&n->clin_by_code, t->code) : NULL;
}
