/* fhirgen map: patient history documents to FHIR. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_data.h"
#include "fhir/term/fg_term.h"
#include "generators/history/fg_history.h"
#include "generators/map/fg_mapper.h"

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

static int ensure_dir(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return -1;
    return access(tmp, W_OK);
}

static int write_atomic(const char *path, const char *data, size_t n)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int bad = fwrite(data, 1, n, f) != n;
    if (fclose(f) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

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

int cmd_map(int argc, char **argv)
{
    const char *out = NULL;
    int ndjson = 0;
    fg_map_options mo = {"https://fhirgen.example/mrn"};
    int rc = EXIT_FAILED;
    fg_terminology *terms = NULL;
    fg_mapper *mapper = NULL;
    fg_history h;
    fg_history_init(&h);
    fg_buf buf;
    fg_buf_init(&buf);
    fg_buf nd[FG_RT_COUNT];
    fg_buf *ndp[FG_RT_COUNT];
    for (int t = 0; t < FG_RT_COUNT; t++) {
        fg_buf_init(&nd[t]);
        ndp[t] = &nd[t];
    }
    fg_error err;
    fg_error_clear(&err);
    int failures = 0;

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:f:h", options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f':
            if (strcmp(optarg, "bundle") == 0)
                ndjson = 0;
            else if (strcmp(optarg, "ndjson") == 0)
                ndjson = 1;
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
    char dir[4096] = "";
    if (out) {
        snprintf(dir, sizeof(dir), "%s/%s", out, ndjson ? "ndjson" : "bundles");
        if (ensure_dir(dir) != 0) {
            fprintf(stderr, "fhirgen map: %s: cannot create or write the folder: %s\n", dir,
                    strerror(errno));
            return EXIT_FAILED;
        }
    }
    char tdir[4096];
    if (!fg_data_path("terminology", tdir, sizeof(tdir)) ||
        fg_terminology_load(tdir, &terms, &err) != FG_OK ||
        fg_mapper_new(terms, &mo, &mapper, &err) != FG_OK) {
        cli_report(CMD, &err);
        goto cleanup;
    }

    char *stdin_only[] = {"-"};
    char **inputs = optind < argc ? argv + optind : stdin_only;
    int n_inputs = optind < argc ? argc - optind : 1;
    for (int i = 0; i < n_inputs; i++) {
        const char *path = inputs[i];
        char *text = NULL;
        size_t len = 0;
        fg_error_clear(&err);
        if (fg_read_file(path, FG_MAX_HISTORY_BYTES, &text, &len, &err) != FG_OK) {
            cli_report(CMD, &err);
            failures++;
            continue;
        }
        const char *label = strcmp(path, "-") == 0 ? "<stdin>" : path;
        int prc = fg_history_parse(&h, text, len, label, &err);
        free(text);
        if (prc == FG_OK) {
            fg_buf_clear(&buf);
            prc = ndjson ? fg_map_ndjson(mapper, &h, ndp, NULL, &err)
                         : fg_map_bundle(mapper, &h, &buf, NULL, &err);
        }
        if (prc != FG_OK) {
            fprintf(stderr, "fhirgen map: %s: %s%s%s\n", label, err.where,
                    err.where[0] ? ": " : "", err.text);
            failures++;
            continue;
        }
        if (ndjson)
            continue;
        fg_buf_putc(&buf, '\n');
        if (!out) {
            fwrite(buf.data, 1, buf.len, stdout);
        } else {
            char name[1024], path_out[4096 + 1100];
            output_name(path, name, sizeof(name));
            snprintf(path_out, sizeof(path_out), "%s/%s.json", dir, name);
            if (write_atomic(path_out, buf.data, buf.len) != 0) {
                fprintf(stderr, "fhirgen map: %s: write failed: %s\n", path_out, strerror(errno));
                failures++;
            }
        }
    }
    if (ndjson) {
        for (int t = 0; t < FG_RT_COUNT; t++) {
            if (!nd[t].len)
                continue;
            if (!out) {
                fwrite(nd[t].data, 1, nd[t].len, stdout);
                continue;
            }
            char path_out[4096 + 64];
            snprintf(path_out, sizeof(path_out), "%s/%s.ndjson", dir, fg_rtype_name((fg_rtype)t));
            if (write_atomic(path_out, nd[t].data, nd[t].len) != 0) {
                fprintf(stderr, "fhirgen map: %s: write failed: %s\n", path_out, strerror(errno));
                failures++;
            }
        }
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "fhirgen map: writing to standard output failed: %s\n", strerror(errno));
        failures++;
    }
    if (failures)
        fprintf(stderr, "fhirgen map: %d of %d inputs failed\n", failures, n_inputs);
    rc = failures ? EXIT_FAILED : EXIT_OK;
cleanup:
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_free(&nd[t]);
    fg_buf_free(&buf);
    fg_history_free(&h);
    fg_mapper_free(mapper);
    fg_terminology_free(terms);
    return rc;
}
