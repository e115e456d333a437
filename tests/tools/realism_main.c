/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism: measure histories against the realism rules
 * (validators/fg_realism.h) and print one line per rule.
 *
 *   realism [--json FILE] [--data DIR] [--jobs N] INPUT...
 *
 * An INPUT is a history document (*.json, as fhirgen generate -f history
 * writes into histories/), an NDJSON file of histories (*.ndjson, one per
 * line), or a folder searched recursively for both. Prints defects (patients
 * affected and occurrences per 1,000 patients, verdict) and metrics
 * (numerator, denominator, value, target range, verdict); --json also writes
 * every figure with up to three examples. The files are taken in name order
 * and cut into --jobs (default 2) consecutive slices, one per thread, whose
 * tallies are added in order: the output is the same from run to run.
 * Exits 0 when every input was read,
 * 1 when some history could not be read, 2 on bad usage, 3 when a gated
 * defect (max_per_1000 in data/tables/realism_targets.tsv) is over its gate.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fhir/base/fg_data.h"
#include "validators/fg_realism.h"

typedef struct run {
    const fg_realism_rules *rules;
    fg_realism_tally *tally;
    fg_history h;
    long bad;
    char **files; /* this thread's slice */
    size_t n_files;
} run;

typedef struct names {
    char **v;
    size_t n, cap;
    int failed;
} names;

static names found;

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n > k && strcmp(s + n - k, tail) == 0;
}

static void check_text(run *r, const char *text, size_t len, const char *source)
{
    fg_error err;
    if (fg_history_parse(&r->h, text, len, source, &err) != FG_OK) {
        fprintf(stderr, "realism: %s: %s\n", err.where, err.text);
        r->bad++;
        return;
    }
    if (fg_realism_check(r->rules, &r->h, r->tally, &err) != FG_OK) {
        fprintf(stderr, "realism: %s: %s\n", source, err.text);
        r->bad++;
    }
    fg_history_reset(&r->h);
}

static int check_file(run *r, const char *path)
{
    char *text;
    size_t len;
    fg_error err;
    if (fg_read_file(path, (size_t)1 << 30, &text, &len, &err) != FG_OK) {
        fprintf(stderr, "realism: %s: %s\n", path, err.text);
        r->bad++;
        return 0;
    }
    if (ends_with(path, ".ndjson")) {
        char *line = text;
        while (line < text + len) {
            char *nl = memchr(line, '\n', (size_t)(text + len - line));
            size_t n = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
            if (n > 1)
                check_text(r, line, n, path);
            line += n + 1;
        }
    } else {
        check_text(r, text, len, path);
    }
    free(text);
    return 0;
}

static int add_name(const char *path)
{
    if (found.n == found.cap) {
        size_t cap = found.cap ? found.cap * 2 : 1024;
        char **v = realloc(found.v, cap * sizeof(*v));
        if (!v)
            return found.failed = 1;
        found.v = v;
        found.cap = cap;
    }
    if (!(found.v[found.n] = strdup(path)))
        return found.failed = 1;
    found.n++;
    return 0;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_F && (ends_with(path, ".json") || ends_with(path, ".ndjson")))
        return add_name(path);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void *work(void *arg)
{
    run *r = arg;
    fg_history_init(&r->h);
    for (size_t i = 0; i < r->n_files && r->tally; i++)
        check_file(r, r->files[i]);
    fg_history_free(&r->h);
    return NULL;
}

/* Check the found files on jobs threads; the tallies are added into runs[0]. */
static int check_all(run *runs, int jobs)
{
    pthread_t tid[16];
    size_t at = 0;
    for (int j = 0; j < jobs; j++) {
        size_t n = found.n / (size_t)jobs + ((size_t)j < found.n % (size_t)jobs);
        runs[j].files = found.v + at;
        runs[j].n_files = n;
        at += n;
        if (j && pthread_create(&tid[j], NULL, work, &runs[j]) != 0)
            return -1;
    }
    work(&runs[0]);
    int rc = 0;
    for (int j = 1; j < jobs; j++) {
        pthread_join(tid[j], NULL);
        runs[0].bad += runs[j].bad;
        if (!runs[0].tally || !runs[j].tally ||
            fg_realism_tally_merge(runs[0].tally, runs[j].tally) != FG_OK)
            rc = -1;
    }
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: realism [--json FILE] [--data DIR] [--jobs N] INPUT...\n");
    return 2;
}

static int write_json(const fg_realism_rules *rules, const fg_realism_tally *t, const char *path)
{
    fg_buf b;
    fg_buf_init(&b);
    fg_realism_write_json(rules, t, &b);
    FILE *f = fopen(path, "w");
    int ok = f && !b.failed && fwrite(b.data, 1, b.len, f) == b.len;
    if (f && fclose(f) != 0)
        ok = 0;
    fg_buf_free(&b);
    if (!ok)
        fprintf(stderr, "realism: cannot write %s\n", path);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *json = NULL, *data = NULL;
    int jobs = 2, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
            jobs = atoi(argv[++i]);
        else
            return usage();
    }
    if (i == argc || jobs < 1 || jobs > 16)
        return usage();
    if (data)
        fg_data_set_dir(data);
    fg_realism_rules *rules;
    fg_error err;
    if (fg_realism_load(fg_data_dir(), &rules, &err) != FG_OK) {
        fprintf(stderr, "realism: %s: %s\n", err.where, err.text);
        return 2;
    }
    int status = 0;
    for (; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "realism: %s: no such file or folder\n", argv[i]);
            status = 1;
        } else if (S_ISDIR(st.st_mode)) {
            nftw(argv[i], visit, 16, FTW_PHYS);
        } else {
            add_name(argv[i]);
        }
    }
    qsort(found.v, found.n, sizeof(*found.v), by_name);
    run runs[16] = {{0}};
    for (int j = 0; j < jobs; j++) {
        runs[j].rules = rules;
        runs[j].tally = fg_realism_tally_new();
    }
    if (found.failed || check_all(runs, jobs) != 0 || !runs[0].tally) {
        fprintf(stderr, "realism: out of memory\n");
        status = 2;
    } else {
        fg_buf b;
        fg_buf_init(&b);
        fg_realism_write_text(rules, runs[0].tally, &b);
        fputs(b.data ? b.data : "", stdout);
        fg_buf_free(&b);
        if (json && write_json(rules, runs[0].tally, json) != 0)
            status = 1;
        if (runs[0].bad)
            status = 1;
        size_t failed = 0;
        for (size_t k = 0; k < fg_realism_count(rules); k++) {
            fg_realism_figure f;
            fg_realism_figure_at(rules, runs[0].tally, k, &f);
            if (strcmp(f.verdict, "FAIL") == 0) {
                fprintf(stderr, "realism: %s: %.1f patients per 1,000 over the gate of %.1f\n",
                        f.id, f.value, f.max_per_1000);
                failed++;
            }
        }
        if (failed && status == 0)
            status = 3;
    }
    for (int j = 0; j < jobs; j++)
        fg_realism_tally_free(runs[j].tally);
    for (size_t k = 0; k < found.n; k++)
        free(found.v[k]);
    free(found.v);
    fg_realism_free(rules);
    return status;
}
