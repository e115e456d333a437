/* SPDX-License-Identifier: Apache-2.0 */
/*
 * realism: measure histories against the realism rules
 * (validators/fg_realism.h) and print one line per rule.
 *
 *   realism [--json FILE] [--data DIR] INPUT...
 *
 * An INPUT is a history document (*.json, as fhirgen generate -f history
 * writes into histories/), an NDJSON file of histories (*.ndjson, one per
 * line), or a folder searched recursively for both. Prints defects (patients
 * affected and occurrences per 1,000 patients, verdict) and metrics
 * (numerator, denominator, value, target range, verdict); --json also writes
 * every figure with up to three examples. Exits 0 when every input was read,
 * 1 when some history could not be read, 2 on bad usage.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
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
} run;

static run the_run;

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

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_F && (ends_with(path, ".json") || ends_with(path, ".ndjson")))
        return check_file(&the_run, path);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: realism [--json FILE] [--data DIR] INPUT...\n");
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
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else
            return usage();
    }
    if (i == argc)
        return usage();
    if (data)
        fg_data_set_dir(data);
    fg_realism_rules *rules;
    fg_error err;
    if (fg_realism_load(fg_data_dir(), &rules, &err) != FG_OK) {
        fprintf(stderr, "realism: %s: %s\n", err.where, err.text);
        return 2;
    }
    the_run.rules = rules;
    the_run.tally = fg_realism_tally_new();
    fg_history_init(&the_run.h);
    int status = 0;
    for (; i < argc && the_run.tally; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "realism: %s: no such file or folder\n", argv[i]);
            status = 1;
        } else if (S_ISDIR(st.st_mode)) {
            nftw(argv[i], visit, 16, FTW_PHYS);
        } else {
            check_file(&the_run, argv[i]);
        }
    }
    if (the_run.tally) {
        fg_buf b;
        fg_buf_init(&b);
        fg_realism_write_text(rules, the_run.tally, &b);
        fputs(b.data ? b.data : "", stdout);
        fg_buf_free(&b);
        if (json && write_json(rules, the_run.tally, json) != 0)
            status = 1;
    }
    if (the_run.bad || !the_run.tally)
        status = 1;
    fg_history_free(&the_run.h);
    fg_realism_tally_free(the_run.tally);
    fg_realism_free(rules);
    return status;
}
