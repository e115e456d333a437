/* SPDX-License-Identifier: Apache-2.0 */
/*
 * findings.c: the finding list of fg_findings.h.
 */
#include "validators/fg_findings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"

void fg_findings_init(fg_findings *f)
{
    memset(f, 0, sizeof(*f));
}

void fg_findings_reset(fg_findings *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].path);
        free(f->v[i].message);
    }
    f->n = 0;
    f->fixed = 0;
    f->dropped = 0;
}

void fg_findings_free(fg_findings *f)
{
    if (!f)
        return;
    fg_findings_reset(f);
    free(f->v);
    memset(f, 0, sizeof(*f));
}

/* Replace each byte that does not start a complete UTF-8 sequence with '?':
 * messages quote a model's text cut at a byte count, and go back to the
 * model inside a JSON string. */
static void utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80          ? 1
                   : (*p >> 5) == 6   ? 2
                   : (*p >> 4) == 14  ? 3
                   : (*p >> 3) == 30  ? 4
                                      : 0;
        size_t k = 1;
        while (n > 1 && k < n && (p[k] & 0xC0) == 0x80)
            k++;
        if (n == 0 || k < n) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

int fg_findings_add(fg_findings *f, fg_finding_kind kind, const char *list, size_t index,
                    const char *path, const char *fmt, ...)
{
    char msg[FG_MAX_FINDING_BYTES];
    if (f->n >= FG_MAX_FINDINGS) {
        f->dropped++;
        return FG_OK;
    }
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 16;
        fg_finding *nv = realloc(f->v, nc * sizeof(*nv));
        if (!nv)
            return FG_ENOMEM;
        f->v = nv;
        f->cap = nc;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    utf8_clean(msg);
    char *p = strdup(path ? path : ""), *m = strdup(msg);
    if (!p || !m) {
        free(p);
        free(m);
        return FG_ENOMEM;
    }
    f->v[f->n++] = (fg_finding){kind, list, index, p, m};
    return FG_OK;
}

size_t fg_findings_count(const fg_findings *f, fg_finding_kind kind)
{
    size_t c = 0;
    for (size_t i = 0; i < f->n; i++)
        c += f->v[i].kind == kind;
    return c;
}

const char *fg_finding_kind_name(fg_finding_kind kind)
{
    switch (kind) {
    case FG_FIND_HALLUCINATED:
        return "hallucinated code";
    case FG_FIND_DISPLAY:
        return "display mismatch";
    case FG_FIND_UNKNOWN_TERM:
        return "unknown term";
    case FG_FIND_UNIT:
        return "wrong unit";
    case FG_FIND_INCOHERENT:
        return "incoherent";
    default:
        return "unknown finding";
    }
}

int fg_findings_render(const fg_findings *f, size_t max, fg_buf *out)
{
    size_t n = max && max < f->n ? max : f->n;
    for (size_t i = 0; i < n; i++) {
        /* One line each: a message never carries a line break. */
        fg_buf_puts(out, f->v[i].path);
        fg_buf_puts(out, ": ");
        for (const char *m = f->v[i].message; *m; m++)
            fg_buf_putc(out, *m == '\n' || *m == '\r' ? ' ' : *m);
        fg_buf_putc(out, '\n');
    }
    size_t left = f->n - n + f->dropped;
    if (left)
        fg_buf_printf(out, "(and %zu more errors of the same kinds)\n", left);
    return out->failed ? FG_ENOMEM : FG_OK;
}

int fg_findings_names(const fg_findings *f, const char *list, size_t index)
{
    for (size_t i = 0; i < f->n; i++) {
        const fg_finding *x = &f->v[i];
        if (!list ? !x->list : x->list && strcmp(x->list, list) == 0 && x->index == index)
            return 1;
    }
    return 0;
}
