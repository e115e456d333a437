/* SPDX-License-Identifier: Apache-2.0 */
/* fhirgen generate: a cohort from the built-in engine to files. */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/generate_opts.h"
#include "fhir/base/fg_data.h"
#include "fhir/base/fg_files.h"
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

#define FEED_CAPACITY 64 /* bundles written but not yet taken by the push */
#define FEED_PATH_MAX 4200

/* The bundles handed from the pipeline's sink (on_file, in index order) to
 * the push loop (next_input). A bounded queue: when the push falls behind,
 * the worker handing a bundle over waits, and with it the pipeline. */
typedef struct feed {
    pthread_mutex_t mu;
    pthread_cond_t not_full;
    char paths[FEED_CAPACITY][FEED_PATH_MAX];
    size_t head, n;
    int generation_done; /* the pipeline returned: no more bundles */
    int closed;          /* the push returned: nobody takes bundles any more */
} feed;

static void feed_put(void *ud, uint64_t index, const char *path)
{
    feed *f = ud;
    (void)index;
    pthread_mutex_lock(&f->mu);
    while (f->n == FEED_CAPACITY && !f->closed)
        pthread_cond_wait(&f->not_full, &f->mu);
    if (!f->closed) {
        snprintf(f->paths[(f->head + f->n) % FEED_CAPACITY], FEED_PATH_MAX, "%s", path);
        f->n++;
    }
    pthread_mutex_unlock(&f->mu);
}

/* push's next_input: 1 with a path, 0 when none is ready yet, -1 at the end. */
static int feed_next(void *ctx, char *path, size_t size)
{
    feed *f = ctx;
    int rc;
    pthread_mutex_lock(&f->mu);
    if (f->n > 0) {
        snprintf(path, size, "%s", f->paths[f->head]);
        f->head = (f->head + 1) % FEED_CAPACITY;
        f->n--;
        pthread_cond_signal(&f->not_full);
        rc = 1;
    } else {
        rc = f->generation_done ? -1 : 0;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static void feed_mark(feed *f, int *flag)
{
    pthread_mutex_lock(&f->mu);
    *flag = 1;
    pthread_cond_broadcast(&f->not_full);
    pthread_mutex_unlock(&f->mu);
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
    feed_mark(g->feed, &g->feed->generation_done);
    return NULL;
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

/* What the command line asked for. */
typedef struct gen_args {
    cli_gen_opts go;
    int list, validate, jobs;
    int push_at; /* where --push was, 0 without it */
    int push_argc;
    char **push_argv;
} gen_args;

/* The engine, terminology, mapper and checker of a run; gen_parts_free. */
typedef struct gen_parts {
    fg_engine *engine;
    fg_terminology *terms;
    fg_mapper *mapper;
    cli_gen_check *check;
} gen_parts;

static void gen_parts_free(gen_parts *p)
{
    cli_gen_check_free(p->check);
    fg_mapper_free(p->mapper);
    fg_terminology_free(p->terms);
    fg_engine_free(p->engine);
}

/* generate's own options come before --push URL; the rest are push's:
 * they go to push_argv (room for argc + 3) and *argc ends before --push.
 * -1 to go on, else the exit status. */
static int split_push(gen_args *a, int *argc, char **argv)
{
    int n = *argc;
    for (int i = 1; i < n && !a->push_at; i++)
        if (strcmp(argv[i], "--push") == 0 || strncmp(argv[i], "--push=", 7) == 0)
            a->push_at = i;
    if (!a->push_at)
        return -1;
    int at = a->push_at;
    char **pv = a->push_argv;
    pv[a->push_argc++] = "push";
    pv[a->push_argc++] = "--server";
    if (argv[at][6] == '=')
        pv[a->push_argc++] = argv[at] + 7;
    else if (at + 1 < n)
        pv[a->push_argc++] = argv[++at];
    else
        return cli_usage_error(CMD, "--push needs the server URL");
    for (int i = at + 1; i < n; i++)
        pv[a->push_argc++] = argv[i];
    pv[a->push_argc] = NULL;
    *argc = argv[at][6] == '=' ? at : at - 1;
    return -1;
}

/* Read generate's options; -1 to go on, else the exit status. */
static int parse_args(gen_args *a, int argc, char **argv)
{
    int c;
    while ((c = cli_gen_opts_next(&a->go, argc, argv)) != -1) {
        switch (c) {
        case CLI_GEN_BAD_ARGUMENT: return EXIT_USAGE;
        case 'j':
            if (cli_parse_int(optarg, 1, FG_MAX_JOBS, &a->jobs))
                return cli_usage_error(CMD, "--jobs: '%s' is not a number from 1 to %d", optarg,
                                       FG_MAX_JOBS);
            break;
        case 'h': usage(stdout); return EXIT_OK;
        case OPT_RANDOM_IDS: a->go.spec.random_ids = 1; break;
        case OPT_LIST: a->list = 1; break;
        case OPT_VALIDATE: a->validate = 1; break;
        default:
            fprintf(stderr, "Run 'fhirgen generate --help' for the options.\n");
            return EXIT_USAGE;
        }
    }
    if (a->push_at && a->go.format != FG_FORMAT_BUNDLE)
        return cli_usage_error(CMD, "--push needs the bundle format");
    cli_gen_opts_finish(&a->go);
    return -1;
}

/* Make the engine (and list its conditions for --list-conditions), the
 * mapper and the checker; -1 to go on, else the exit status. */
static int load_parts(const gen_args *a, gen_parts *p, fg_error *err)
{
    if (fg_engine_new(fg_data_dir(), &a->go.spec, &p->engine, err) != FG_OK) {
        cli_report(CMD, err);
        return (err->code == FG_ENOTFOUND && !a->list) || err->code == FG_EUSAGE ? EXIT_USAGE
                                                                                : EXIT_FAILED;
    }
    if (a->list) {
        for (size_t i = 0; i < fg_engine_condition_count(p->engine); i++)
            printf("%s\n", fg_engine_condition_name(p->engine, i));
        return EXIT_OK;
    }
    char tdir[4096];
    if (a->go.format != FG_FORMAT_HISTORY) {
        if (!fg_data_path("terminology", tdir, sizeof(tdir)) ||
            fg_terminology_load(tdir, &p->terms, err) != FG_OK) {
            cli_report(CMD, err);
            return EXIT_FAILED;
        }
        fg_map_options mo = {a->go.spec.mrn_system};
        if (fg_mapper_new(p->terms, &mo, &p->mapper, err) != FG_OK) {
            cli_report(CMD, err);
            return EXIT_FAILED;
        }
    }
    if (a->validate && a->go.format == FG_FORMAT_HISTORY)
        return cli_usage_error(CMD, "--validate checks FHIR output: use --format bundle or ndjson");
    if (a->validate && cli_gen_check_open(&p->check, err) != FG_OK) {
        cli_report(CMD, err);
        return EXIT_FAILED;
    }
    return -1;
}

/* The pipeline on a thread, its bundles pushed from this one as the sink
 * renames each into place; *push_rc gets push's exit status. -1 to go on
 * (the pipeline's result in *prc), else the exit status. */
static int run_with_push(const gen_args *a, const gen_parts *p, fg_pipeline_options *po,
                         fg_run_summary *sum, int *prc, int *push_rc, fg_error *err)
{
    static feed fd; /* large: not on the stack */
    char dir[4200];
    memset(&fd, 0, sizeof(fd));
    snprintf(dir, sizeof(dir), "%s/bundles", a->go.out);
    if (fg_mkdirs(dir, err) != FG_OK) { /* the journal goes there before any bundle */
        cli_report(CMD, err);
        return EXIT_FAILED;
    }
    pthread_mutex_init(&fd.mu, NULL);
    pthread_cond_init(&fd.not_full, NULL);
    po->on_file = feed_put;
    po->on_file_ud = &fd;
    gen_job g = {p->engine, p->mapper, po, sum, err, &fd, FG_OK};
    pthread_t th;
    if (pthread_create(&th, NULL, gen_thread, &g) != 0) {
        fprintf(stderr, "fhirgen generate: cannot start the generator thread\n");
        return EXIT_FAILED;
    }
    *push_rc = cli_push_stream(a->push_argc, a->push_argv, dir, feed_next, &fd);
    pthread_mutex_lock(&fd.mu);
    int stopped = !fd.generation_done;
    pthread_mutex_unlock(&fd.mu);
    if (stopped)
        cli_cancel = 1; /* the push stopped early: so does the generator */
    feed_mark(&fd, &fd.closed); /* a worker waiting to hand a bundle over goes on */
    pthread_join(th, NULL);
    pthread_mutex_destroy(&fd.mu);
    pthread_cond_destroy(&fd.not_full);
    *prc = g.rc;
    if (stopped && g.rc == FG_ECANCELED && *push_rc != EXIT_OK &&
        *push_rc != EXIT_INTERRUPTED) {
        fprintf(stderr, "fhirgen generate: the push failed, so generation stopped after %llu "
                        "patients\n", (unsigned long long)sum->patients);
        return *push_rc;
    }
    return -1;
}

/* Report the run's result; the exit status. */
static int report(const gen_args *a, const gen_parts *p, int prc, int push_rc,
                  const fg_run_summary *sum, fg_error *err)
{
    if (prc == FG_ECANCELED) {
        fprintf(stderr, "fhirgen generate: interrupted after %llu patients; unfinished files removed\n",
                (unsigned long long)sum->patients);
        return EXIT_INTERRUPTED;
    }
    if (prc != FG_OK) {
        cli_report(CMD, err);
        return EXIT_FAILED;
    }
    if (!a->go.quiet)
        print_summary(sum, a->go.spec.seed, fg_format_name(a->go.format), a->go.out);
    if (a->go.summary_json && write_summary_json(&a->go, sum, err) != FG_OK) {
        cli_report(CMD, err);
        return EXIT_FAILED;
    }
    int rc = push_rc;
    if (p->check && cli_gen_check_report(p->check, a->go.quiet, stdout) && rc == EXIT_OK)
        rc = EXIT_FAILED;
    return rc;
}

int cmd_generate(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--llm") == 0 || strncmp(argv[i], "--llm=", 6) == 0)
            return cmd_generate_llm(argc, argv);

    static gen_args a; /* large: not on the stack */
    char *push_argv[argc + 3];
    memset(&a, 0, sizeof(a));
    a.push_argv = push_argv;
    a.jobs = cli_cpu_count();
    cli_gen_opts_init(&a.go, own_options);
    gen_parts p;
    memset(&p, 0, sizeof(p));
    fg_error err;
    fg_error_clear(&err);
    int rc;
    if ((rc = split_push(&a, &argc, argv)) != -1 || (rc = parse_args(&a, argc, argv)) != -1)
        return rc;
    if ((rc = load_parts(&a, &p, &err)) != -1)
        goto cleanup;

    fg_pipeline_options po;
    memset(&po, 0, sizeof(po));
    po.format = a.go.format;
    po.out_dir = a.go.out;
    po.jobs = a.jobs;
    cli_gen_opts_slice(&a.go, &po.first, &po.count);
    po.shard_k = a.go.shard_k;
    po.shard_n = a.go.shard_n;
    /* with --push, the push shows the progress line */
    progress_state ps = {!a.go.quiet && isatty(STDERR_FILENO) && !a.push_at, 0};
    po.progress = on_progress;
    po.progress_ud = &ps;
    cli_catch_signals();
    po.cancel = &cli_cancel;
    if (p.check) {
        po.check = cli_gen_check_fn;
        po.check_ud = p.check;
    }
    fg_run_summary sum;
    int prc, push_rc = EXIT_OK;
    if (a.push_at) {
        if ((rc = run_with_push(&a, &p, &po, &sum, &prc, &push_rc, &err)) != -1)
            goto cleanup;
    } else {
        prc = fg_pipeline_run(p.engine, p.mapper, &po, &sum, &err);
    }
    if (ps.tty)
        fprintf(stderr, "\r\033[K");
    rc = report(&a, &p, prc, push_rc, &sum, &err);
cleanup:
    gen_parts_free(&p);
    return rc;
}
