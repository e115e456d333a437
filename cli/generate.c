/* fhirgen generate: a cohort from the built-in engine to files. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/generate_opts.h"
#include "fhir/base/fg_data.h"
#include "fhir/term/fg_term.h"
#include "generators/engine/fg_engine.h"
#include "generators/map/fg_mapper.h"
#include "generators/fg_pipeline.h"

#define CMD "generate"

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: fhirgen generate [options]\n"
        "\n"
        "Make synthetic patients with the built-in statistical engine: demographics\n"
        "from census tables, wellness visits, vitals, immunizations, chronic conditions\n"
        "with their labs and medications, acute episodes, notes, and death from life\n"
        "tables. Offline; no key or network needed.\n"
        "\n"
        "Cohort:\n"
        "  -n, --count N              patients to make (default 10)\n"
        "  -s, --seed S               random seed (default: a fresh one, printed in the\n"
        "                             summary so the run can be repeated)\n"
        "      --age MIN-MAX          ages (years, at the end date) to draw from, e.g. 40-80\n"
        "      --sex female|male      one sex only\n"
        "      --state XX             patients living in one US state (USPS code)\n"
        "      --condition NAME       keep only patients who have NAME (repeatable: all of\n"
        "                             them); the rest of their history is undisturbed.\n"
        "                             --list-conditions shows the names\n"
        "      --years-of-history Y   detailed record for the last Y years (default 10);\n"
        "                             older problems and medications still listed\n"
        "      --end-date YYYY-MM-DD  the cohort's \"today\" (default: SOURCE_DATE_EPOCH\n"
        "                             if set, else today)\n"
        "      --shard K/N            make only the K-th of N slices of the cohort; the\n"
        "                             union of all N slices is the unsharded cohort,\n"
        "                             ids included\n"
        "\n"
        "Output:\n"
        "  -o, --out DIR              output folder (default ./out)\n"
        "  -f, --format FMT           bundle: one FHIR transaction Bundle per patient in\n"
        "                                     DIR/bundles/ (default)\n"
        "                             ndjson: bulk-data NDJSON, one file per resource\n"
        "                                     type in DIR/ndjson/\n"
        "                             history: patient history documents in\n"
        "                                     DIR/histories/ (edit them and 'fhirgen map')\n"
        "      --mrn-system URI       identifier system of medical record numbers\n"
        "      --random-ids           resource ids from the system random source instead\n"
        "                             of the seed (output is then not reproducible)\n"
        "      --summary-json FILE    also write the summary as JSON\n"
        "      --validate             check every bundle (or NDJSON line) with the validator\n"
        "                             of 'fhirgen validate': base R4, and US Core 6.1.0 when\n"
        "                             it is in the package cache; counts in the summary,\n"
        "                             exit status 1 when a check fails\n"
        "      --llm PROVIDER:MODEL   a language model writes each patient's story around\n"
        "                             the engine's skeleton, checked before it is written\n"
        "                             ('fhirgen generate --llm x --help' for its options)\n"
        "      --push URL [OPTS]      also push each bundle to the FHIR server at URL as\n"
        "                             soon as its file is written (bundle format only);\n"
        "                             every option after URL is a 'fhirgen push' option\n"
        "                             (--cacert, -j, --verify, --resume, ...; see\n"
        "                             'fhirgen push --help'); the journal defaults to\n"
        "                             DIR/bundles/.fhirgen-push.journal\n"
        "\n"
        "Running:\n"
        "  -j, --jobs J               worker threads (default: the number of cores);\n"
        "                             output is identical whatever J is\n"
        "  -q, --quiet                no progress line and no summary\n"
        "      --list-conditions      print the condition names and exit\n"
        "  -h, --help                 this help\n"
        "\n"
        "Examples:\n"
        "  fhirgen generate -n 100 --seed 42\n"
        "  fhirgen generate -n 5000 --age 60-90 --condition heart_failure -f ndjson\n"
        "  fhirgen generate -n 1000000 --seed 7 --shard 3/10 -o /data/cohort\n"
        "  fhirgen generate -n 200 --seed 7 --push https://localhost:8443/fhir --cacert ca.pem\n"
        "\n"
        "Exit status: 0 success, 1 the run failed (nothing half-written is left),\n"
        "2 a bad command line, 130 interrupted.\n");
}

enum {
    OPT_RANDOM_IDS = CLI_GEN_OPT_END,
    OPT_LIST,
    OPT_VALIDATE,
};

/* generate's own options, after the shared ones (generate_opts.c) */
static const struct option own_options[] = {
    {"random-ids", no_argument, NULL, OPT_RANDOM_IDS},
    {"list-conditions", no_argument, NULL, OPT_LIST},
    {"validate", no_argument, NULL, OPT_VALIDATE},
    {NULL, 0, NULL, 0},
};

typedef struct progress_state {
    int tty;
    uint64_t offset;
} progress_state;

static void on_progress(void *ud, const fg_progress *p)
{
    progress_state *ps = ud;
    if (!ps->tty)
        return;
    double rate = p->seconds > 0 ? (double)p->done / p->seconds : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    fprintf(stderr, "\r  %llu/%llu patients  %.0f patients/s  %.0f resources/s  ETA %.0fs   ",
            (unsigned long long)p->done, (unsigned long long)p->total, rate,
            p->seconds > 0 ? (double)p->resources / p->seconds : 0, eta);
    fflush(stderr);
}

/* ---- --push: the pipeline on a thread, the push loop on this one ------- */

/* The bundles of [first, first+count) handed to the push loop in index
 * order as the pipeline renames each into place (files older than the run
 * are not taken for new ones). */
typedef struct feed {
    char dir[4096];
    uint64_t first, count, next;
    time_t started;
    atomic_int generation_done;
} feed;

static int feed_next(void *ctx, char *path, size_t size)
{
    feed *f = ctx;
    while (f->next < f->count) {
        int done = atomic_load(&f->generation_done); /* read before looking at the file */
        snprintf(path, size, "%s/patient-%08llu.json", f->dir,
                 (unsigned long long)(f->first + f->next));
        struct stat st;
        if (stat(path, &st) == 0 && st.st_mtime >= f->started) {
            f->next++;
            return 1;
        }
        if (!done)
            return 0;
        f->next++; /* the run ended without this file: generate reports why */
    }
    return -1;
}

typedef struct gen_job {
    const fg_engine *engine;
    const fg_mapper *mapper;
    const fg_pipeline_options *po;
    fg_run_summary *sum;
    fg_error *err;
    feed *feed;
    int rc;
} gen_job;

static void *gen_thread(void *arg)
{
    gen_job *g = arg;
    g->rc = fg_pipeline_run(g->engine, g->mapper, g->po, g->sum, g->err);
    atomic_store(&g->feed->generation_done, 1);
    return NULL;
}

static int make_dir(const char *path)
{
    return mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

/* --summary-json: the run's counts and how it was asked for. */
static int write_summary_json(const cli_gen_opts *go, const fg_run_summary *s, fg_error *err)
{
    json_t *root = json_object();
    json_t *types = json_object();
    json_object_set_new(root, "seed", json_integer((json_int_t)go->spec.seed));
    json_object_set_new(root, "format", json_string(fg_format_name(go->format)));
    json_object_set_new(root, "out", json_string(go->out));
    if (go->shard_n > 0) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%d/%d", go->shard_k, go->shard_n);
        json_object_set_new(root, "shard", json_string(buf));
    }
    json_object_set_new(root, "patients", json_integer((json_int_t)s->patients));
    json_object_set_new(root, "deceased", json_integer((json_int_t)s->deceased));
    for (int t = 0; t < FG_RT_COUNT; t++)
        if (s->resources[t])
            json_object_set_new(types, fg_rtype_name((fg_rtype)t),
                                json_integer((json_int_t)s->resources[t]));
    json_object_set_new(root, "resources", types);
    json_object_set_new(root, "resources_total", json_integer((json_int_t)s->resources_total));
    json_object_set_new(root, "files", json_integer((json_int_t)s->files));
    json_object_set_new(root, "bytes", json_integer((json_int_t)s->bytes));
    json_object_set_new(root, "seconds", json_real(s->seconds));
    int rc = cli_gen_write_summary(go->summary_json, root, err);
    json_decref(root);
    return rc;
}

static void print_summary(const fg_run_summary *s, uint64_t seed, const char *format,
                          const char *out)
{
    printf("fhirgen generate: %llu patients (%llu deceased), %llu resources, %.1f MB in %.2f s"
           " (%.0f patients/s, %.0f resources/s)\n",
           (unsigned long long)s->patients, (unsigned long long)s->deceased,
           (unsigned long long)s->resources_total, (double)s->bytes / 1e6, s->seconds,
           s->seconds > 0 ? (double)s->patients / s->seconds : 0,
           s->seconds > 0 ? (double)s->resources_total / s->seconds : 0);
    for (int t = 0; t < FG_RT_COUNT; t++)
        if (s->resources[t])
            printf("  %-20s %10zu\n", fg_rtype_name((fg_rtype)t), s->resources[t]);
    printf("  seed %llu, format %s, written to %s\n", (unsigned long long)seed, format, out);
}

int cmd_generate(int argc, char **argv)
{
    cli_gen_opts go;
    cli_gen_opts_init(&go, own_options);
    int list = 0, validate = 0;
    cli_gen_check *gen_check = NULL;
    int jobs = cli_cpu_count();
    int rc = EXIT_FAILED;
    fg_engine *engine = NULL;
    fg_terminology *terms = NULL;
    fg_mapper *mapper = NULL;
    fg_error err;
    fg_error_clear(&err);

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--llm") == 0 || strncmp(argv[i], "--llm=", 6) == 0)
            return cmd_generate_llm(argc, argv);

    /* generate's own options come before --push URL; the rest are push's */
    int push_at = 0;
    for (int i = 1; i < argc && !push_at; i++)
        if (strcmp(argv[i], "--push") == 0 || strncmp(argv[i], "--push=", 7) == 0)
            push_at = i;
    char *push_argv[argc + 3];
    int push_argc = 0;
    if (push_at) {
        push_argv[push_argc++] = "push";
        push_argv[push_argc++] = "--server";
        if (argv[push_at][6] == '=')
            push_argv[push_argc++] = argv[push_at] + 7;
        else if (push_at + 1 < argc)
            push_argv[push_argc++] = argv[++push_at];
        else
            return cli_usage_error(CMD, "--push needs the server URL");
        for (int i = push_at + 1; i < argc; i++)
            push_argv[push_argc++] = argv[i];
        push_argv[push_argc] = NULL;
        argc = argv[push_at][6] == '=' ? push_at : push_at - 1;
    }

    int c;
    while ((c = cli_gen_opts_next(&go, argc, argv)) != -1) {
        switch (c) {
        case CLI_GEN_BAD_ARGUMENT: return EXIT_USAGE;
        case 'j':
            if (cli_parse_int(optarg, 1, FG_MAX_JOBS, &jobs))
                return cli_usage_error(CMD, "--jobs: '%s' is not a number from 1 to %d", optarg,
                                       FG_MAX_JOBS);
            break;
        case 'h': usage(stdout); return EXIT_OK;
        case OPT_RANDOM_IDS: go.spec.random_ids = 1; break;
        case OPT_LIST: list = 1; break;
        case OPT_VALIDATE: validate = 1; break;
        default:
            fprintf(stderr, "Run 'fhirgen generate --help' for the options.\n");
            return EXIT_USAGE;
        }
    }
    if (push_at && go.format != FG_FORMAT_BUNDLE)
        return cli_usage_error(CMD, "--push needs the bundle format");
    cli_gen_opts_finish(&go);

    const char *datadir = fg_data_dir();
    if (fg_engine_new(datadir, &go.spec, &engine, &err) != FG_OK) {
        cli_report(CMD, &err);
        rc = (err.code == FG_ENOTFOUND && !list) || err.code == FG_EUSAGE ? EXIT_USAGE
                                                                         : EXIT_FAILED;
        goto cleanup;
    }
    if (list) {
        for (size_t i = 0; i < fg_engine_condition_count(engine); i++)
            printf("%s\n", fg_engine_condition_name(engine, i));
        rc = EXIT_OK;
        goto cleanup;
    }
    char tdir[4096];
    if (go.format != FG_FORMAT_HISTORY) {
        if (!fg_data_path("terminology", tdir, sizeof(tdir)) ||
            fg_terminology_load(tdir, &terms, &err) != FG_OK) {
            cli_report(CMD, &err);
            goto cleanup;
        }
        fg_map_options mo = {go.spec.mrn_system};
        if (fg_mapper_new(terms, &mo, &mapper, &err) != FG_OK) {
            cli_report(CMD, &err);
            goto cleanup;
        }
    }

    fg_pipeline_options po;
    memset(&po, 0, sizeof(po));
    po.format = go.format;
    po.out_dir = go.out;
    po.jobs = jobs;
    cli_gen_opts_slice(&go, &po.first, &po.count);
    po.shard_k = go.shard_k;
    po.shard_n = go.shard_n;
    progress_state ps = {!go.quiet && isatty(STDERR_FILENO), 0};
    po.progress = on_progress;
    po.progress_ud = &ps;
    cli_catch_signals();
    po.cancel = &cli_cancel;

    if (validate && go.format == FG_FORMAT_HISTORY) {
        rc = cli_usage_error(CMD, "--validate checks FHIR output: use --format bundle or ndjson");
        goto cleanup;
    }
    if (validate) {
        if (cli_gen_check_open(&gen_check, &err) != FG_OK) {
            cli_report(CMD, &err);
            goto cleanup;
        }
        po.check = cli_gen_check_fn;
        po.check_ud = gen_check;
    }

    fg_run_summary sum;
    int prc, push_rc = EXIT_OK;
    if (push_at) {
        static feed fd; /* large: not on the stack */
        memset(&fd, 0, sizeof(fd));
        snprintf(fd.dir, sizeof(fd.dir), "%s/bundles", go.out);
        fd.first = po.first;
        fd.count = po.count;
        fd.started = time(NULL) - 1;
        if (make_dir(go.out) != 0 || make_dir(fd.dir) != 0) {
            fg_error_set(&err, FG_EIO, fd.dir, "cannot create the folder: %s", strerror(errno));
            cli_report(CMD, &err);
            goto cleanup;
        }
        ps.tty = 0; /* the push shows the progress line */
        gen_job g = {engine, mapper, &po, &sum, &err, &fd, FG_OK};
        pthread_t th;
        if (pthread_create(&th, NULL, gen_thread, &g) != 0) {
            fprintf(stderr, "fhirgen generate: cannot start the generator thread\n");
            goto cleanup;
        }
        push_rc = cli_push_stream(push_argc, push_argv, fd.dir, feed_next, &fd);
        int stopped = !atomic_load(&fd.generation_done);
        if (stopped)
            cli_cancel = 1; /* the push stopped early: so does the generator */
        pthread_join(th, NULL);
        prc = g.rc;
        if (stopped && prc == FG_ECANCELED && push_rc != EXIT_OK && push_rc != EXIT_INTERRUPTED) {
            fprintf(stderr, "fhirgen generate: the push failed, so generation stopped after %llu "
                            "patients\n", (unsigned long long)sum.patients);
            rc = push_rc;
            goto cleanup;
        }
    } else {
        prc = fg_pipeline_run(engine, mapper, &po, &sum, &err);
    }
    if (ps.tty)
        fprintf(stderr, "\r\033[K");
    if (prc == FG_ECANCELED) {
        fprintf(stderr, "fhirgen generate: interrupted after %llu patients; unfinished files removed\n",
                (unsigned long long)sum.patients);
        rc = EXIT_INTERRUPTED;
        goto cleanup;
    }
    if (prc != FG_OK) {
        cli_report(CMD, &err);
        goto cleanup;
    }
    if (!go.quiet)
        print_summary(&sum, go.spec.seed, fg_format_name(go.format), go.out);
    if (go.summary_json && write_summary_json(&go, &sum, &err) != FG_OK) {
        cli_report(CMD, &err);
        goto cleanup;
    }
    rc = push_rc;
    if (gen_check && cli_gen_check_report(gen_check, go.quiet, stdout) && rc == EXIT_OK)
        rc = EXIT_FAILED;
cleanup:
    cli_gen_check_free(gen_check);
    fg_mapper_free(mapper);
    fg_terminology_free(terms);
    fg_engine_free(engine);
    return rc;
}
