/* SPDX-License-Identifier: Apache-2.0 */
/* fhirgen map: patient history documents to FHIR. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_data.h"
#include "fhir/term/fg_term.h"
#include "generators/history/fg_history.h"
#include "generators/map/fg_mapper.h"
#include "generators/fg_sink.h"

#define CMD "map"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: fhirgen map [options] [FILE...]\n"
        "\n"
        "Turn patient history documents (the format 'fhirgen generate --format history'\n"
        "writes, described by data/schema/history.schema.json) into FHIR R4 transaction\n"
        "Bundles meeting US Core 6.1.0. Every code is checked against fhirgen's\n"
        "terminology tables; a history with an unknown code or a broken reference is\n"
        "rejected with the path of the problem. With no FILE, or with -, reads stdin.\n"
        "\n"
        "Options:\n"
        "  -o, --out DIR            write DIR/bundles/<name>.json per input (or\n"
        "                           DIR/ndjson/<Type>.ndjson); default: standard output,\n"
        "                           one Bundle per line\n"
        "  -f, --format FMT         bundle (default) or ndjson\n"
        "      --mrn-system URI     identifier system of medical record numbers\n"
        "  -h, --help               this help\n"
        "\n"
        "Examples:\n"
        "  fhirgen generate -n 3 --format history -o work && fhirgen map work/histories/*.json\n"
        "  fhirgen map -o out edited-patient.json\n"
        "\n"
        "Exit status: 0 every input mapped, 1 an input was rejected (its output is not\n"
        "written), 2 a bad command line.\n");
}

static const struct option options[] = {
    {"out", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"mrn-system", required_argument, NULL, 256},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The output name of an input: its base name without .json. */
static void output_name(const char *input, char *out, size_t size)
{
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", input);
    const char *base = strcmp(input, "-") == 0 ? "stdin" : basename(copy);
    snprintf(out, size, "%s", base);
    size_t n = strlen(out);
    if (n > 5 && strcmp(out + n - 5, ".json") == 0)
        out[n - 5] = 0;
}

/* What one run of map holds. */
typedef struct map_run {
    fg_mapper *mapper;
    fg_sink *sink; /* with -o, else NULL: standard output */
    int ndjson;
    fg_history h;
    fg_buf buf;
    fg_buf nd[FG_RT_COUNT];
    fg_sink_ids ids;
    int failures;
} map_run;

/* Read and map input i (path) into m->buf or m->nd; FG_OK or the
 * input's error (reported). */
static int map_one(map_run *m, const char *path, fg_error *err)
{
    char *text = NULL;
    size_t len = 0;
    fg_error_clear(err);
    if (fg_read_file(path, FG_MAX_HISTORY_BYTES, &text, &len, err) != FG_OK) {
        cli_report(CMD, err);
        return err->code ? err->code : FG_EIO;
    }
    const char *label = strcmp(path, "-") == 0 ? "<stdin>" : path;
    int prc = fg_history_parse(&m->h, text, len, label, err);
    free(text);
    fg_buf *ndp[FG_RT_COUNT];
    for (int t = 0; t < FG_RT_COUNT; t++)
        ndp[t] = &m->nd[t];
    if (prc == FG_OK) {
        fg_buf_clear(&m->buf);
        prc = m->ndjson ? fg_map_ndjson(m->mapper, &m->h, ndp, NULL, err)
                        : fg_map_bundle(m->mapper, &m->h, &m->buf, NULL, err);
    }
    if (prc == FG_OK && m->ndjson && m->sink)
        prc = fg_sink_ids_add(&m->ids, m->mapper, &m->h, err);
    if (prc != FG_OK)
        fprintf(stderr, "fhirgen map: %s: %s%s%s\n", label, err->where, err->where[0] ? ": " : "",
                err->text);
    return prc;
}

/* Hand input i's output to the sink (or standard output); FG_OK, or the
 * sink's error that ends the run. */
static int put_one(map_run *m, uint64_t i, const char *path, fg_error *err)
{
    if (m->ndjson) {
        if (!m->sink)
            return FG_OK; /* written at the end */
        int rc = fg_sink_put_ndjson(m->sink, i, 1, m->nd, &m->ids, err);
        for (int t = 0; t < FG_RT_COUNT; t++)
            fg_buf_clear(&m->nd[t]);
        fg_sink_ids_clear(&m->ids);
        return rc;
    }
    fg_buf_putc(&m->buf, '\n');
    if (m->buf.failed)
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    if (!m->sink) {
        fwrite(m->buf.data, 1, m->buf.len, stdout);
        return FG_OK;
    }
    char name[1024];
    output_name(path, name, sizeof(name) - 5);
    strcat(name, ".json");
    return fg_sink_put_file(m->sink, i, name, m->buf.data, m->buf.len, err);
}

/* Map every input; FG_OK, or the sink's error that stopped the run. */
static int map_all(map_run *m, char **inputs, int n_inputs, fg_error *err)
{
    for (int i = 0; i < n_inputs; i++) {
        int rc = map_one(m, inputs[i], err);
        if (rc != FG_OK) {
            m->failures++;
            for (int t = 0; m->sink && t < FG_RT_COUNT; t++)
                fg_buf_clear(&m->nd[t]); /* nothing of a failed input goes out */
            fg_sink_ids_clear(&m->ids);
            rc = m->sink ? fg_sink_skip(m->sink, (uint64_t)i, 1, err) : FG_OK;
        } else {
            rc = put_one(m, (uint64_t)i, inputs[i], err);
        }
        if (rc != FG_OK)
            return rc;
    }
    for (int t = 0; m->ndjson && !m->sink && t < FG_RT_COUNT; t++)
        if (m->nd[t].len)
            fwrite(m->nd[t].data, 1, m->nd[t].len, stdout);
    return FG_OK;
}

int cmd_map(int argc, char **argv)
{
    const char *out = NULL;
    fg_map_options mo = {"https://fhirgen.example/mrn"};
    int rc = EXIT_FAILED;
    fg_terminology *terms = NULL;
    map_run m;
    memset(&m, 0, sizeof(m));
    fg_history_init(&m.h);
    fg_buf_init(&m.buf);
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_init(&m.nd[t]);
    fg_sink_ids_init(&m.ids);
    fg_error err;
    fg_error_clear(&err);

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:f:h", options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f':
            if (strcmp(optarg, "bundle") == 0)
                m.ndjson = 0;
            else if (strcmp(optarg, "ndjson") == 0)
                m.ndjson = 1;
            else
                return cli_usage_error(CMD, "--format: '%s' is not bundle or ndjson", optarg);
            break;
        case 256: mo.mrn_system = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Run 'fhirgen map --help' for the options.\n");
            return EXIT_USAGE;
        }
    }
    char *stdin_only[] = {"-"};
    char **inputs = optind < argc ? argv + optind : stdin_only;
    int n_inputs = optind < argc ? argc - optind : 1;
    if (out) {
        fg_sink_options so = {m.ndjson ? FG_FORMAT_NDJSON : FG_FORMAT_BUNDLE, out, 0,
                              (uint64_t)n_inputs, 1, 0, 0, NULL, NULL};
        if (fg_sink_open(&so, &m.sink, &err) != FG_OK) {
            cli_report(CMD, &err);
            goto cleanup;
        }
    }
    char tdir[4096];
    if (!fg_data_path("terminology", tdir, sizeof(tdir)) ||
        fg_terminology_load(tdir, &terms, &err) != FG_OK ||
        fg_mapper_new(terms, &mo, &m.mapper, &err) != FG_OK) {
        cli_report(CMD, &err);
        goto cleanup;
    }
    int src = map_all(&m, inputs, n_inputs, &err);
    fg_error cerr;
    int crc = fg_sink_close(m.sink, src == FG_OK, NULL, &cerr);
    m.sink = NULL;
    if (src != FG_OK || crc != FG_OK) {
        cli_report(CMD, src != FG_OK ? &err : &cerr);
        goto cleanup;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "fhirgen map: writing to standard output failed: %s\n", strerror(errno));
        m.failures++;
    }
    if (m.failures)
        fprintf(stderr, "fhirgen map: %d of %d inputs failed\n", m.failures, n_inputs);
    rc = m.failures ? EXIT_FAILED : EXIT_OK;
cleanup:
    fg_sink_close(m.sink, 0, NULL, NULL);
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_free(&m.nd[t]);
    fg_sink_ids_free(&m.ids);
    fg_buf_free(&m.buf);
    fg_history_free(&m.h);
    fg_mapper_free(m.mapper);
    fg_terminology_free(terms);
    return rc;
}
