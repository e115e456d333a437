/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirgen validate: FHIR R4 JSON checked against the base specification and
 * the profiles of FHIR packages.
 *
 * Inputs are files, folders (walked recursively for *.json and *.ndjson) and
 * standard input. Each input becomes one or more work items: a JSON file is
 * one item, an NDJSON file one item per line. Items go through a ring of
 * slots: the main thread reads the next item into a free slot, workers
 * validate filled slots, and the main thread prints the oldest slot as soon
 * as it is done and reuses it. Output therefore comes in input order whatever
 * --jobs is, and memory is bounded by the ring (slots x longest line), not by
 * the size of the input.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "fhir/base/fg_data.h"
#include "generators/fg_pipeline.h"
#include "profiles/fg_registry.h"
#include "validators/fg_validate.h"

#define CMD "validate"

enum { FMT_TEXT = 0, FMT_OUTCOME, FMT_SUMMARY };
enum { OPT_PROFILE = 256, OPT_PACKAGES, OPT_IG, OPT_NO_BINDINGS, OPT_NO_INVARIANTS };

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: fhirgen validate [options] FILE|DIR|-...\n"
        "\n"
        "Check FHIR R4 resources (JSON) against the base specification and, with --ig,\n"
        "the profiles of FHIR packages. An input is a resource, a Bundle (its entries are\n"
        "validated too), an NDJSON file (one resource per line; messages name the line),\n"
        "a folder (walked recursively for *.json and *.ndjson) or - for standard input.\n"
        "\n"
        "Options:\n"
        "      --ig PKG#VER         also load package PKG (e.g. hl7.fhir.us.core#6.1.0) and\n"
        "                           its dependencies from the package cache; repeatable.\n"
        "                           A bare name takes the highest version in the cache\n"
        "      --packages DIR       the package cache folder (default: $FHIRGEN_PACKAGES,\n"
        "                           else ~/.fhir/packages), laid out as\n"
        "                           DIR/<name>#<version>/package/*.json\n"
        "      --profile URL        validate every resource against this profile too\n"
        "                           (resources are always checked against the profiles\n"
        "                           they claim in meta.profile, when loaded)\n"
        "  -f, --format FMT         text (default): issues grouped by file, with FHIR paths;\n"
        "                           outcome: one OperationOutcome per input on a line (for\n"
        "                           NDJSON, one per line that has issues);\n"
        "                           json-summary: one JSON object with the counts\n"
        "  -j, --jobs N             validating threads (default: the number of cores)\n"
        "      --no-bindings        do not check codes against value sets\n"
        "      --no-invariants      do not evaluate FHIRPath invariants\n"
        "  -q, --quiet              text format: no summary and no not-checked list\n"
        "  -h, --help               this help\n"
        "\n"
        "What is checked: JSON shape and unknown elements, cardinality, choice types,\n"
        "primitive formats, fixed and pattern values, required bindings (extensible\n"
        "ones as warnings), slicing, extensions, reference targets and their resolution\n"
        "inside a Bundle, Bundle rules, and invariants. A check fhirgen cannot make (a\n"
        "value set it cannot expand, an invariant it cannot evaluate, a package\n"
        "dependency missing from the cache) is never passed silently: the summary\n"
        "lists it under 'not checked'.\n"
        "\n"
        "Examples:\n"
        "  fhirgen validate patient.json\n"
        "  fhirgen validate --ig hl7.fhir.us.core#6.1.0 out/bundles\n"
        "  fhirgen validate --ig hl7.fhir.us.core -f json-summary out/ndjson/Observation.ndjson\n"
        "  curl -s https://server/fhir/Patient/1 | fhirgen validate -\n"
        "\n"
        "Exit status: 0 no errors (warnings allowed), 1 errors found, 2 a bad command\n"
        "line, an unreadable input or a package that cannot be loaded.\n"
        "\n"
        "Environment:\n"
        "  FHIRGEN_PACKAGES     the package cache folder\n"
        "  FHIRGEN_DATA_DIR     fhirgen's data folder, which holds the compact R4 core\n"
        "                       (now: %s)\n",
        fg_data_dir());
}

static const struct option options[] = {
    {"ig", required_argument, NULL, OPT_IG},
    {"packages", required_argument, NULL, OPT_PACKAGES},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"format", required_argument, NULL, 'f'},
    {"jobs", required_argument, NULL, 'j'},
    {"no-bindings", no_argument, NULL, OPT_NO_BINDINGS},
    {"no-invariants", no_argument, NULL, OPT_NO_INVARIANTS},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the ring of work items ---- */

enum { SLOT_FREE = 0, SLOT_FILLED, SLOT_BUSY, SLOT_DONE };

/* A slot carries a batch of items of one input (up to SLOT_ITEMS lines or
 * SLOT_BYTES of text), so threads meet once per batch, not once per line. */
#define SLOT_ITEMS 64
#define SLOT_BYTES (256u << 10)

typedef struct item {
    size_t off, len; /* the item's text in the slot's buffer */
    long line;       /* NDJSON line number, 0 for a whole file */
    int too_long;    /* the line or file crossed its limit: not validated */
    int failed;      /* validation itself failed (allocation) */
    fg_issue_list issues;
} item;

typedef struct slot {
    int state;
    size_t file; /* index into the input names */
    char *buf;
    size_t len, cap;
    item items[SLOT_ITEMS];
    size_t n;
} slot;

typedef struct run {
    const fg_validator *v;
    slot *slots;
    size_t n_slots;
    size_t head;   /* oldest slot not yet printed */
    size_t next;   /* next slot to fill */
    size_t queued; /* slots in use (filled, busy or done) */
    size_t scan;   /* where workers look for a filled slot */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t work, done;

    int format, quiet;
    const char *const *names;
    size_t last_file_printed; /* text format: the file whose header was printed last, +1 */
    uint64_t files, resources, errors, warnings, items_failed;
    uint64_t by_check[FG_CHECK_COUNT_];
    int io_problem;
    fg_arena scratch; /* the parse arena of the main thread (--jobs 1) */
    int sync_ready;   /* mu, work and done are initialised */
    pthread_t *threads;
    int n_threads;
} run;

/* Each thread parses into its own arena, kept between items. */
static void validate_slot(const fg_validator *v, fg_arena *scratch, slot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        item *it = &s->items[i];
        if (it->too_long || it->failed)
            continue;
        fg_error err;
        fg_error_clear(&err);
        int rc = fg_validate_bytes_arena(v, scratch, s->buf + it->off, it->len, &it->issues, &err);
        it->failed = rc != FG_OK || cli_issue_flags(&it->issues) != FG_OK;
    }
}

static void *worker(void *arg)
{
    run *r = arg;
    fg_arena scratch;
    fg_arena_init(&scratch);
    pthread_mutex_lock(&r->mu);
    for (;;) {
        slot *s = NULL;
        while (!r->stop) {
            for (size_t k = 0; k < r->n_slots; k++) {
                size_t i = (r->scan + k) % r->n_slots;
                if (r->slots[i].state == SLOT_FILLED) {
                    s = &r->slots[i];
                    r->scan = (i + 1) % r->n_slots;
                    break;
                }
            }
            if (s)
                break;
            pthread_cond_wait(&r->work, &r->mu);
        }
        if (!s)
            break;
        s->state = SLOT_BUSY;
        pthread_mutex_unlock(&r->mu);
        validate_slot(r->v, &scratch, s);
        pthread_mutex_lock(&r->mu);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&r->done);
    }
    pthread_mutex_unlock(&r->mu);
    fg_arena_free(&scratch);
    return NULL;
}

/* ---- output ---- */

static void json_print_line(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

/* An OperationOutcome for one item, with the input named by the standard
 * operationoutcome-file extension and NDJSON line numbers on each issue. */
static void print_outcome(run *r, const slot *sl, const item *s)
{
    json_t *oo = fg_issue_list_outcome(&s->issues);
    if (!oo || !json_is_object(oo)) {
        json_decref(oo);
        return;
    }
    json_t *ext = json_pack("[{s:s, s:s}]", "url",
                            "http://hl7.org/fhir/StructureDefinition/operationoutcome-file",
                            "valueString", r->names[sl->file]);
    if (ext)
        json_object_set_new(oo, "extension", ext);
    json_t *issues = json_object_get(oo, "issue");
    if (s->line > 0 && json_is_array(issues)) {
        size_t i;
        json_t *is;
        json_array_foreach(issues, i, is)
        {
            json_t *e = json_object_get(is, "extension");
            if (!json_is_array(e)) {
                e = json_array();
                json_object_set_new(is, "extension", e);
            }
            /* Drop a line the validator set relative to the line's text. */
            for (size_t k = json_array_size(e); k-- > 0;) {
                const char *url = json_string_value(json_object_get(json_array_get(e, k), "url"));
                if (url && strstr(url, "operationoutcome-issue-line"))
                    json_array_remove(e, k);
            }
            json_array_append_new(
                e, json_pack("{s:s, s:I}", "url",
                             "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-line",
                             "valueInteger", (json_int_t)s->line));
        }
    }
    json_print_line(oo);
    json_decref(oo);
}

static void print_text(run *r, const slot *sl, const item *s)
{
    if (s->issues.count == 0 && !s->too_long && !s->failed)
        return;
    if (r->last_file_printed != sl->file + 1) {
        printf("%s\n", r->names[sl->file]);
        r->last_file_printed = sl->file + 1;
    }
    char where[48] = "";
    if (s->line > 0)
        snprintf(where, sizeof(where), "line %ld: ", s->line);
    if (s->too_long)
        printf("  %serror json: longer than %u bytes; not validated (split the input)\n", where,
               s->line > 0 ? FG_MAX_NDJSON_LINE_BYTES : FG_MAX_BUNDLE_BYTES);
    if (s->failed)
        printf("  %serror: validation ran out of memory; not validated\n", where);
    for (size_t i = 0; i < s->issues.count; i++) {
        const fg_issue *is = &s->issues.items[i];
        printf("  %s%s %s", where, fg_severity_name(is->severity), fg_check_name(is->check));
        if (is->path && is->path[0])
            printf(" %s", is->path);
        if (s->line == 0 && is->line > 0)
            printf(" (line %d, column %d)", is->line, is->column);
        else if (s->line > 0 && is->line > 0 && is->column > 0)
            printf(" (column %d)", is->column);
        printf(": %s", is->message ? is->message : "");
        if (is->rule)
            printf(" [%s]", is->rule);
        putchar('\n');
    }
}

/* Count and print the oldest slot, then free it for reuse. Called with the
 * mutex held or from the only thread. */
static void emit_item(run *r, const slot *sl, item *s)
{
    /* an item that is not a resource at all (bad JSON) still counts as one read */
    r->resources += s->issues.resources ? s->issues.resources : 1;
    r->errors += s->issues.errors + (uint64_t)(s->too_long || s->failed);
    r->warnings += s->issues.warnings;
    for (size_t i = 0; i < s->issues.count; i++)
        if ((unsigned)s->issues.items[i].check < FG_CHECK_COUNT_)
            r->by_check[s->issues.items[i].check]++;
    if (s->too_long)
        r->by_check[FG_CHECK_JSON]++;
    if (r->format == FMT_TEXT)
        print_text(r, sl, s);
    else if (r->format == FMT_OUTCOME && (s->line == 0 || s->issues.count > 0 || s->too_long))
        print_outcome(r, sl, s);
    fg_issue_list_clear(&s->issues);
    s->too_long = s->failed = 0;
}

static void emit(run *r, slot *s)
{
    for (size_t i = 0; i < s->n; i++)
        emit_item(r, s, &s->items[i]);
    s->n = 0;
    s->len = 0;
    s->state = SLOT_FREE;
}

/* Print the oldest queued batch once it is validated (here, when there are
 * no worker threads) and free its slot. Threaded: called with r->mu held. */
static void retire_oldest(run *r, int threaded)
{
    slot *h = &r->slots[r->head];
    if (threaded) {
        while (h->state != SLOT_DONE)
            pthread_cond_wait(&r->done, &r->mu);
    } else {
        validate_slot(r->v, &r->scratch, h);
    }
    emit(r, h);
    r->head = (r->head + 1) % r->n_slots;
    r->queued--;
}

/* A free slot for the next item, printing finished ones as needed. With no
 * worker threads the item in the oldest slot is validated here. */
static slot *take_slot(run *r, int threaded)
{
    if (threaded)
        pthread_mutex_lock(&r->mu);
    while (r->queued == r->n_slots)
        retire_oldest(r, threaded);
    slot *s = &r->slots[r->next];
    if (threaded)
        pthread_mutex_unlock(&r->mu);
    return s;
}

static void submit_slot(run *r, slot *s, int threaded)
{
    if (threaded)
        pthread_mutex_lock(&r->mu);
    s->state = SLOT_FILLED;
    r->next = (r->next + 1) % r->n_slots;
    r->queued++;
    if (threaded) {
        pthread_cond_signal(&r->work);
        pthread_mutex_unlock(&r->mu);
    }
}

static void drain(run *r, int threaded)
{
    if (threaded)
        pthread_mutex_lock(&r->mu);
    while (r->queued > 0)
        retire_oldest(r, threaded);
    if (threaded)
        pthread_mutex_unlock(&r->mu);
}

/* Append an item to the batch being filled (*cur), submitting it first
 * when it is full or holds another input, and taking a free slot when there
 * is none. data may be NULL for an item that is not validated (too_long). */
static void slot_add(run *r, slot **cur, int threaded, size_t file, long line, const char *data,
                     size_t n, int too_long)
{
    slot *s = *cur;
    if (s && (s->file != file || s->n == SLOT_ITEMS || (s->len + n > SLOT_BYTES && s->n > 0))) {
        submit_slot(r, s, threaded);
        s = NULL;
    }
    if (!s) {
        s = take_slot(r, threaded);
        s->file = file;
        s->n = 0;
        s->len = 0;
    }
    *cur = s;
    item *it = &s->items[s->n++];
    it->line = line;
    it->off = s->len;
    it->len = 0;
    it->too_long = too_long;
    it->failed = 0;
    if (too_long || !data)
        return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            it->failed = 1;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->buf[s->len + n] = 0;
    it->len = n;
    s->len += n + 1;
}

/* Is this whole buffer NDJSON rather than one document? The first line is a
 * complete JSON value and more non-blank text follows it. */
static int looks_ndjson(const char *buf, size_t n)
{
    const char *nl = memchr(buf, '\n', n);
    if (!nl)
        return 0;
    size_t first = (size_t)(nl - buf);
    const char *p = nl + 1;
    while (p < buf + n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (p == buf + n)
        return 0;
    json_t *j = json_loadb(buf, first, JSON_DECODE_ANY, NULL);
    int ok = j != NULL;
    json_decref(j);
    return ok;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* Feed one input to the ring. Returns 0, or 1 when it could not be read. */
static int feed_input(run *r, size_t file, int threaded)
{
    const char *name = r->names[file];
    int is_stdin = strcmp(name, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(name, "rb");
    if (!f) {
        fprintf(stderr, "fhirgen validate: %s: cannot open: %s\n", name, strerror(errno));
        return 1;
    }
    int ndjson = cli_ends_with(name, ".ndjson") || cli_ends_with(name, ".jsonl");
    int sniff = !ndjson && !cli_ends_with(name, ".json");
    cli_reader rd = {.f = f};
    slot *cur = NULL; /* the batch being filled */
    int bad = 0;
    r->files++;

    if (sniff) {
        /* Read up to the end of the first line: NDJSON when it is a complete
         * JSON value followed by more lines, streamed like any NDJSON file. */
        int fr;
        while ((fr = cli_reader_fill(&rd)) > 0 && !memchr(rd.buf, '\n', rd.len) &&
               rd.len <= FG_MAX_NDJSON_LINE_BYTES && !cli_cancel)
            ;
        if (fr < 0) {
            fprintf(stderr, "fhirgen validate: %s: read error: %s\n", name, strerror(errno));
            bad = 1;
            goto cleanup;
        }
        if (!rd.eof) {
            /* More may follow the first line: is there a second one? */
            const char *nl = rd.buf ? memchr(rd.buf, '\n', rd.len) : NULL;
            while (nl && (size_t)(nl - rd.buf) + 1 == rd.len && (fr = cli_reader_fill(&rd)) > 0)
                nl = memchr(rd.buf, '\n', rd.len);
        }
        if (rd.buf && looks_ndjson(rd.buf, rd.len))
            ndjson = 1;
    }
    if (!ndjson) {
        /* A whole document, bounded. */
        int fr;
        while ((fr = cli_reader_fill(&rd)) > 0 && rd.len <= FG_MAX_BUNDLE_BYTES && !cli_cancel)
            ;
        if (fr < 0) {
            fprintf(stderr, "fhirgen validate: %s: read error: %s\n", name, strerror(errno));
            bad = 1;
            goto cleanup;
        }
        {
            slot_add(r, &cur, threaded, file, 0, rd.buf ? rd.buf : "", rd.len,
                     rd.len > FG_MAX_BUNDLE_BYTES);
            goto cleanup;
        }
    }

    long line = 0;
    for (;;) {
        if (cli_cancel)
            break;
        const char *text = NULL;
        size_t n = 0;
        int lr = cli_reader_line(&rd, &text, &n, FG_MAX_NDJSON_LINE_BYTES);
        if (lr == 0)
            break;
        if (lr == -1) {
            fprintf(stderr, "fhirgen validate: %s: read error after line %ld: %s\n", name, line,
                    strerror(errno));
            bad = 1;
            break;
        }
        line++;
        if (lr == 1 && is_blank(text, n))
            continue;
        slot_add(r, &cur, threaded, file, line, lr == -2 ? NULL : text, n, lr == -2);
    }

cleanup:
    if (cur)
        submit_slot(r, cur, threaded);
    free(rd.buf);
    if (!is_stdin)
        fclose(f);
    return bad;
}

/* ---- summary ---- */

static void print_summary_text(const run *r, const fg_registry *reg, const fg_validator *v,
                               double seconds, double load_ms, FILE *out)
{
    size_t nc = fg_validator_not_checked_count(v) + fg_registry_note_count(reg);
    fprintf(out,
            "%llu file%s, %llu resource%s: %llu error%s, %llu warning%s, %zu not checked; "
            "%.2f s (packages loaded in %.0f ms)\n",
            (unsigned long long)r->files, r->files == 1 ? "" : "s",
            (unsigned long long)r->resources, r->resources == 1 ? "" : "s",
            (unsigned long long)r->errors, r->errors == 1 ? "" : "s",
            (unsigned long long)r->warnings, r->warnings == 1 ? "" : "s", nc, seconds, load_ms);
    if (nc == 0 || r->quiet)
        return;
    fprintf(out, "Not checked:\n");
    for (size_t i = 0; i < fg_registry_note_count(reg); i++)
        fprintf(out, "  - %s\n", fg_registry_note(reg, i));
    for (size_t i = 0; i < fg_validator_not_checked_count(v); i++)
        fprintf(out, "  - %s\n", fg_validator_not_checked(v, i));
}

static void print_summary_json(const run *r, const fg_registry *reg, const fg_validator *v,
                               double seconds, double load_ms)
{
    json_t *o = json_object();
    json_t *checks = json_object();
    json_t *nc = json_array();
    if (!o || !checks || !nc) {
        json_decref(o);
        json_decref(checks);
        json_decref(nc);
        return;
    }
    for (int c = 0; c < FG_CHECK_COUNT_; c++)
        if (r->by_check[c])
            json_object_set_new(checks, fg_check_name((fg_check)c),
                                json_integer((json_int_t)r->by_check[c]));
    for (size_t i = 0; i < fg_registry_note_count(reg); i++)
        json_array_append_new(nc, json_string(fg_registry_note(reg, i)));
    for (size_t i = 0; i < fg_validator_not_checked_count(v); i++)
        json_array_append_new(nc, json_string(fg_validator_not_checked(v, i)));
    json_object_set_new(o, "files", json_integer((json_int_t)r->files));
    json_object_set_new(o, "resources", json_integer((json_int_t)r->resources));
    json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
    json_object_set_new(o, "warnings", json_integer((json_int_t)r->warnings));
    json_object_set_new(o, "issues_by_check", checks);
    json_object_set_new(o, "not_checked_count", json_integer((json_int_t)json_array_size(nc)));
    json_object_set_new(o, "not_checked", nc);
    json_object_set_new(o, "seconds", json_real(seconds));
    json_object_set_new(o, "load_ms", json_real(load_ms));
    char *s = json_dumps(o, JSON_INDENT(2));
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(o);
}

/* ---- the command ---- */

/* What the command line asks for. */
typedef struct vargs {
    const char *igs[CLI_VALIDATE_MAX_IGS];
    size_t n_igs;
    const char *packages;
    fg_validate_opts vo;
    int format, quiet, jobs;
} vargs;

/* Read the options into a; -1 to go on, or the exit status to return now. */
static int parse_args(int argc, char **argv, vargs *a)
{
    *a = (vargs){.format = FMT_TEXT, .jobs = cli_cpu_count()};
    fg_validate_opts_default(&a->vo);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "f:j:qh", options, NULL)) != -1) {
        switch (c) {
        case OPT_IG:
            if (a->n_igs == CLI_VALIDATE_MAX_IGS)
                return cli_usage_error(CMD, "at most %d --ig options", CLI_VALIDATE_MAX_IGS);
            a->igs[a->n_igs++] = optarg;
            break;
        case OPT_PACKAGES: a->packages = optarg; break;
        case OPT_PROFILE: a->vo.profile = optarg; break;
        case OPT_NO_BINDINGS: a->vo.check_bindings = 0; break;
        case OPT_NO_INVARIANTS: a->vo.check_invariants = 0; break;
        case 'f':
            if (strcmp(optarg, "text") == 0)
                a->format = FMT_TEXT;
            else if (strcmp(optarg, "outcome") == 0)
                a->format = FMT_OUTCOME;
            else if (strcmp(optarg, "json-summary") == 0)
                a->format = FMT_SUMMARY;
            else
                return cli_usage_error(CMD, "--format must be text, outcome or json-summary, not '%s'",
                                       optarg);
            break;
        case 'j':
            if (cli_parse_int(optarg, 1, FG_MAX_JOBS, &a->jobs) != 0)
                return cli_usage_error(CMD, "--jobs must be a whole number from 1 to %d, not '%s'",
                                       FG_MAX_JOBS, optarg);
            break;
        case 'q': a->quiet = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: return cli_usage_error(CMD, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error(CMD, "name at least one FILE, DIR or - (standard input)");
    return -1;
}

/* List argv[optind..], folders walked: 0, 1 when one is unreadable (said), -1 out of memory. */
static int collect_inputs(int argc, char **argv, cli_input_list *inputs)
{
    int io_problem = 0;
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (strcmp(argv[i], "-") == 0) {
            if (cli_input_push(inputs, "-") != 0)
                return -1;
        } else if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fhirgen validate: %s: %s\n", argv[i], strerror(errno));
            io_problem = 1;
        } else if (S_ISDIR(st.st_mode)) {
            int w = cli_walk_dir(inputs, argv[i], 0);
            if (w < 0)
                return -1;
            io_problem |= w;
        } else if (cli_input_push(inputs, argv[i]) != 0) {
            return -1;
        }
    }
    return io_problem;
}

/* Load the packages and build the validator; FG_OK, or the failure said on stderr. */
static int load_validator(const vargs *a, fg_registry **reg, fg_validator **v)
{
    fg_error err = {0};
    if (cli_validate_load(a->igs, a->n_igs, a->packages, reg, &err) != FG_OK) {
        cli_report(CMD, &err);
        return err.code;
    }
    if (fg_validator_new(*reg, &a->vo, v, &err) != FG_OK) {
        cli_report(CMD, &err);
        if (err.code == FG_ENOTFOUND && a->vo.profile)
            fprintf(stderr, "Load the package that defines it with --ig PKG#VER.\n");
        return err.code;
    }
    return FG_OK;
}

/* The ring, its lock and (with more than one job) the workers: 1 when workers
 * run, 0 when the main thread validates, -1 out of memory. */
static int start_run(run *r, const vargs *a, const fg_validator *v, const cli_input_list *inputs)
{
    r->v = v;
    r->format = a->format;
    r->quiet = a->quiet;
    r->names = (const char *const *)inputs->names;
    r->n_slots = (size_t)a->jobs * 4;
    r->slots = calloc(r->n_slots, sizeof(slot));
    if (!r->slots)
        return -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->done, NULL);
    r->sync_ready = 1;
    if (a->jobs <= 1)
        return 0;
    r->threads = calloc((size_t)a->jobs, sizeof(pthread_t));
    if (!r->threads)
        return -1;
    for (; r->n_threads < a->jobs; r->n_threads++)
        if (pthread_create(&r->threads[r->n_threads], NULL, worker, r) != 0)
            break;
    return r->n_threads > 0;
}

/* Stop and join the workers and release the ring; accepts a run never started. */
static void finish_run(run *r)
{
    if (r->sync_ready) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_broadcast(&r->work);
        pthread_mutex_unlock(&r->mu);
    }
    for (int i = 0; i < r->n_threads; i++)
        pthread_join(r->threads[i], NULL);
    free(r->threads);
    if (r->slots) {
        for (size_t i = 0; i < r->n_slots; i++) {
            free(r->slots[i].buf);
            for (size_t k = 0; k < SLOT_ITEMS; k++)
                fg_issue_list_free(&r->slots[i].items[k].issues);
        }
        free(r->slots);
    }
    fg_arena_free(&r->scratch);
    if (r->sync_ready) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->work);
        pthread_cond_destroy(&r->done);
    }
}

int cmd_validate(int argc, char **argv)
{
    vargs a;
    int status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    status = EXIT_USAGE;
    fg_registry *reg = NULL;
    fg_validator *v = NULL;
    cli_input_list inputs = {0};
    run r;
    memset(&r, 0, sizeof(r));

    int io_problem = collect_inputs(argc, argv, &inputs);
    if (io_problem < 0)
        goto oom;

    double t0 = now_s();
    if (load_validator(&a, &reg, &v) != FG_OK)
        goto cleanup;
    /* loading counts everything before the first resource: packages, compiled
     * profiles, expanded value sets and the validator's index */
    double load_ms = (now_s() - t0) * 1000.0;

    cli_catch_signals();
    int threaded = start_run(&r, &a, v, &inputs);
    if (threaded < 0)
        goto oom;

    double t1 = now_s();
    for (size_t i = 0; i < inputs.count && !cli_cancel; i++)
        io_problem |= feed_input(&r, i, threaded);
    drain(&r, threaded);
    double seconds = now_s() - t1;

    if (a.format == FMT_SUMMARY)
        print_summary_json(&r, reg, v, seconds, load_ms);
    else if (a.format == FMT_TEXT && !a.quiet)
        print_summary_text(&r, reg, v, seconds, load_ms, stdout);
    else if (a.format == FMT_OUTCOME && !a.quiet)
        print_summary_text(&r, reg, v, seconds, load_ms, stderr);
    fflush(stdout);
    status = cli_cancel ? EXIT_INTERRUPTED
             : io_problem ? EXIT_USAGE
             : r.errors > 0 ? EXIT_FAILED : EXIT_OK;
    goto cleanup;

oom:
    fprintf(stderr, "fhirgen validate: out of memory\n");
    status = EXIT_USAGE;
cleanup:
    finish_run(&r);
    for (size_t i = 0; i < inputs.count; i++)
        free(inputs.names[i]);
    free(inputs.names);
    fg_validator_free(v);
    fg_registry_free(reg);
    return status;
}
