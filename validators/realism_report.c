/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism_report.c: a tally's figures, as a table and as JSON.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "validators/realism_private.h"

size_t fg_realism_count(const fg_realism_rules *r)
{
    (void)r;
    return RZ_N_RULES;
}

static const char *verdict_of(const fg_realism_figure *f)
{
    if (!f->is_metric) {
        if (!f->patients)
            return "ok";
        return !isnan(f->max_per_1000) && f->value > f->max_per_1000 ? "FAIL" : "over";
    }
    if (isnan(f->value))
        return "n/a";
    if (!isnan(f->target_min) && f->value < f->target_min)
        return "low";
    if (!isnan(f->target_max) && f->value > f->target_max)
        return "high";
    return "ok";
}

void fg_realism_figure_at(const fg_realism_rules *r, const fg_realism_tally *t, size_t i,
                          fg_realism_figure *out)
{
    const rz_target *g = &r->targets[i];
    const rz_count *k = &t->c[i];
    memset(out, 0, sizeof(*out));
    out->id = g->id;
    out->category = g->category;
    out->description = g->description;
    out->source = g->source;
    out->is_metric = g->is_metric;
    out->patients = k->patients;
    out->occurrences = k->occurrences;
    out->num = k->num;
    out->den = k->den;
    if (i == RZ_M_NOTE_WORDS) {
        out->num = (double)t->words.n;
        out->den = t->c[RZ_M_NOTE_DISTINCT].den > 0 ? 1 : 0;
    } else if (i == RZ_M_NOTE_DISTINCT) {
        out->num = (double)t->texts.n;
    }
    out->target_min = g->min;
    out->target_max = g->max;
    out->max_per_1000 = g->gate;
    if (g->is_metric)
        out->value = out->den > 0 ? out->num / out->den * g->scale : NAN;
    else
        out->value = t->patients ? 1000.0 * (double)k->patients / (double)t->patients : 0;
    out->n_examples = k->n_examples;
    memcpy(out->examples, k->ex, sizeof(out->examples));
    out->verdict = verdict_of(out);
}

int fg_realism_figure_of(const fg_realism_rules *r, const fg_realism_tally *t, const char *id,
                         fg_realism_figure *out)
{
    for (size_t i = 0; i < RZ_N_RULES; i++)
        if (strcmp(r->targets[i].id, id) == 0) {
            fg_realism_figure_at(r, t, i, out);
            return FG_OK;
        }
    return FG_ENOTFOUND;
}

static void range(fg_buf *out, const fg_realism_figure *f)
{
    char a[32] = "", b[32] = "";
    if (!isnan(f->target_min))
        snprintf(a, sizeof(a), "%g", f->target_min);
    if (!isnan(f->target_max))
        snprintf(b, sizeof(b), "%g", f->target_max);
    fg_buf_printf(out, "%s-%s", a, b);
}

void fg_realism_write_text(const fg_realism_rules *r, const fg_realism_tally *t, fg_buf *out)
{
    fg_realism_figure f;
    double per = t->patients ? 1000.0 / (double)t->patients : 0;
    fg_buf_printf(out, "patients: %ld\n\n%-28s %-12s %10s %10s %8s  %s\n", t->patients, "defect",
                  "category", "pts/1000", "occ/1000", "target", "verdict");
    for (size_t i = 0; i < RZ_FIRST_METRIC; i++) {
        fg_realism_figure_at(r, t, i, &f);
        fg_buf_printf(out, "%-28s %-12s %10.1f %10.1f %8s  %s\n", f.id, f.category, f.value,
                      (double)f.occurrences * per, "0", f.verdict);
    }
    fg_buf_printf(out, "\n%-28s %-12s %12s %12s %10s %12s  %s\n", "metric", "category",
                  "numerator", "denominator", "value", "target", "verdict");
    for (size_t i = RZ_FIRST_METRIC; i < RZ_N_RULES; i++) {
        fg_realism_figure_at(r, t, i, &f);
        fg_buf_printf(out, "%-28s %-12s %12.1f %12.1f %10.2f ", f.id, f.category, f.num, f.den,
                      f.value);
        size_t at = out->len;
        range(out, &f);
        size_t w = out->len - at;
        fg_buf_printf(out, "%*s  %s\n", w < 12 ? (int)(12 - w) : 0, "", f.verdict);
    }
    fg_buf_printf(out, "\nadmissions by reason:\n");
    for (size_t i = 0; i < t->n_reasons; i++)
        fg_buf_printf(out, "  %6ld  %s\n", t->reason_n[i], t->reasons[i]);
}

static void json_str(fg_buf *out, const char *s)
{
    fg_buf_putc(out, '"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fg_buf_printf(out, "\\%c", ch);
        else if (ch < 0x20)
            fg_buf_printf(out, "\\u%04x", ch);
        else
            fg_buf_putc(out, (char)ch);
    }
    fg_buf_putc(out, '"');
}

static void json_num(fg_buf *out, double v)
{
    if (isnan(v))
        fg_buf_puts(out, "null");
    else
        fg_buf_printf(out, "%.6g", v);
}

static void json_figure(fg_buf *out, const fg_realism_figure *f)
{
    fg_buf_puts(out, "{\"id\":");
    json_str(out, f->id);
    fg_buf_puts(out, ",\"category\":");
    json_str(out, f->category);
    fg_buf_printf(out, ",\"kind\":\"%s\",\"description\":", f->is_metric ? "metric" : "defect");
    json_str(out, f->description);
    fg_buf_puts(out, ",\"source\":");
    json_str(out, f->source);
    if (f->is_metric) {
        fg_buf_printf(out, ",\"numerator\":%.6g,\"denominator\":%.6g,\"value\":", f->num, f->den);
        json_num(out, f->value);
        fg_buf_puts(out, ",\"target_min\":");
        json_num(out, f->target_min);
        fg_buf_puts(out, ",\"target_max\":");
        json_num(out, f->target_max);
    } else {
        fg_buf_printf(out, ",\"patients\":%ld,\"occurrences\":%ld,\"per_1000\":%.6g,"
                      "\"max_per_1000\":", f->patients, f->occurrences, f->value);
        json_num(out, f->max_per_1000);
    }
    fg_buf_printf(out, ",\"verdict\":\"%s\",\"examples\":[", f->verdict);
    for (int e = 0; e < f->n_examples; e++) {
        fg_buf_puts(out, e ? ",{\"patient\":" : "{\"patient\":");
        json_str(out, f->examples[e].patient);
        fg_buf_puts(out, ",\"date\":");
        json_str(out, f->examples[e].date);
        fg_buf_puts(out, ",\"what\":");
        json_str(out, f->examples[e].what);
        fg_buf_putc(out, '}');
    }
    fg_buf_puts(out, "]}");
}

void fg_realism_write_json(const fg_realism_rules *r, const fg_realism_tally *t, fg_buf *out)
{
    fg_realism_figure f;
    fg_buf_printf(out, "{\"patients\":%ld,\"rules\":[", t->patients);
    for (size_t i = 0; i < RZ_N_RULES; i++) {
        fg_realism_figure_at(r, t, i, &f);
        if (i)
            fg_buf_putc(out, ',');
        json_figure(out, &f);
    }
    fg_buf_puts(out, "],\"admissions_by_reason\":[");
    for (size_t i = 0; i < t->n_reasons; i++) {
        fg_buf_puts(out, i ? ",{\"reason\":" : "{\"reason\":");
        json_str(out, t->reasons[i]);
        fg_buf_printf(out, ",\"count\":%ld}", t->reason_n[i]);
    }
    fg_buf_puts(out, "]}\n");
}
