/* SPDX-License-Identifier: Apache-2.0 */
/* fhirgen generate --llm: the engine draws each patient, a language model
 * writes the story, fhirgen checks it before anything is written. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/generate_opts.h"
#include "fhir/base/fg_data.h"
#include "fhir/base/fg_files.h"
#include "fhir/term/fg_term.h"
#include "generators/engine/fg_engine.h"
#include "generators/llm/fg_llm.h"
#include "generators/llm/fg_llmgen.h"
#include "generators/map/fg_mapper.h"

#define CMD "generate"
#define DROP_LINES_SHOWN 10

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: fhirgen generate --llm PROVIDER:MODEL [options]\n"
        "\n"
        "The engine draws each patient (sex, birth, death, name, chronic conditions\n"
        "with onsets: the cohort keeps its statistics); a language model writes the\n"
        "story around them as a history document. Every term is grounded against\n"
        "fhirgen's terminology tables and the story is checked for coherence; problems\n"
        "go back to the model (repair rounds) and a patient that still fails is\n"
        "dropped and reported, never written.\n"
        "\n"
        "Model:\n"
        "      --llm openai:MODEL     OpenAI-compatible chat completions (OpenAI, Azure,\n"
        "                             Ollama, vLLM, llama.cpp, LM Studio); key from\n"
        "                             OPENAI_API_KEY, URL from OPENAI_BASE_URL\n"
        "      --llm anthropic:MODEL  Anthropic Messages; key from ANTHROPIC_API_KEY, URL\n"
        "                             from ANTHROPIC_BASE_URL\n"
        "      --llm-base-url URL     the API's base URL (e.g. http://127.0.0.1:11434/v1)\n"
        "      --llm-cacert FILE      extra CA certificates (PEM) for the API's TLS\n"
        "      --llm-jobs N           requests in flight (default 4)\n"
        "      --max-rpm R            requests started per minute (default: no limit)\n"
        "      --llm-stream           read answers as they are written (SSE)\n"
        "      --llm-timeout S        seconds one request may take (default 300)\n"
        "      --llm-max-tokens N     answer budget (default 8192; doubled once for an\n"
        "                             answer cut at the budget)\n"
        "      --repair-rounds N      repair requests per patient (default 2, max %d)\n"
        "      --cache DIR            answers cached here, keyed by the SHA-256 of the\n"
        "                             request (default $XDG_CACHE_HOME/fhirgen/llm or\n"
        "                             ~/.cache/fhirgen/llm): a rerun sends nothing\n"
        "      --no-cache             neither read nor write the cache\n"
        "      --price-in USD         price per million input tokens, for the summary\n"
        "      --price-out USD        price per million output tokens\n"
        "\n"
        "Story:\n"
        "      --scenario TEXT        a scenario for every patient (e.g. \"rural clinic,\n"
        "                             poor access to specialists\")\n"
        "      --scenario-file FILE   the scenario from a file\n"
        "      --prompt-dir DIR       prompt templates (system.txt, patient.txt,\n"
        "                             repair.txt) instead of the data folder's prompts/\n"
        "      --dry-run              print the request body for the first patient and\n"
        "                             exit (no request is sent)\n"
        "\n"
        "Cohort and output, as for the engine: -n, --seed, --age, --sex, --state,\n"
        "--condition, --years-of-history, --end-date, --mrn-system, --shard K/N, -o,\n"
        "-f bundle|ndjson|history, --summary-json FILE, -q. See 'fhirgen generate --help'.\n"
        "\n"
        "Exit status: 0 every patient written; 1 the run failed or a patient was\n"
        "dropped (finished patients are kept); 2 a bad command line; 130 interrupted.\n",
        FG_MAX_REPAIR_ROUNDS);
}

enum {
    OPT_LLM = CLI_GEN_OPT_END, OPT_BASE_URL, OPT_CACERT, OPT_LLM_JOBS, OPT_RPM, OPT_STREAM,
    OPT_TIMEOUT, OPT_MAX_TOKENS, OPT_REPAIR, OPT_CACHE, OPT_NO_CACHE, OPT_PRICE_IN,
    OPT_PRICE_OUT, OPT_SCENARIO, OPT_SCENARIO_FILE, OPT_PROMPT_DIR, OPT_DRY_RUN,
};

/* the options of --llm, after the shared ones (generate_opts.c) */
static const struct option own_options[] = {
    {"llm", required_argument, NULL, OPT_LLM},
    {"llm-base-url", required_argument, NULL, OPT_BASE_URL},
    {"llm-cacert", required_argument, NULL, OPT_CACERT},
    {"llm-jobs", required_argument, NULL, OPT_LLM_JOBS},
    {"max-rpm", required_argument, NULL, OPT_RPM},
    {"llm-stream", no_argument, NULL, OPT_STREAM},
    {"llm-timeout", required_argument, NULL, OPT_TIMEOUT},
    {"llm-max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
    {"repair-rounds", required_argument, NULL, OPT_REPAIR},
    {"cache", required_argument, NULL, OPT_CACHE},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"price-in", required_argument, NULL, OPT_PRICE_IN},
    {"price-out", required_argument, NULL, OPT_PRICE_OUT},
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"scenario-file", required_argument, NULL, OPT_SCENARIO_FILE},
    {"prompt-dir", required_argument, NULL, OPT_PROMPT_DIR},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {NULL, 0, NULL, 0},
};

typedef struct ui {
    int tty, quiet;
} ui;

static void on_drop(void *ud, uint64_t index, const char *reason, const char *errors)
{
    (void)ud;
    char said[FG_ERROR_TEXT_MAX];
    if (cli_text_flags(reason, said, sizeof(said)))
        reason = said;
    fprintf(stderr, "%sfhirgen generate: patient %llu dropped: %s\n",
            ((ui *)ud)->tty ? "\r\033[K" : "", (unsigned long long)index, reason);
    int shown = 0;
    for (const char *p = errors; p && *p;) {
        const char *nl = strchr(p, '\n');
        int n = (int)(nl ? nl - p : (long)strlen(p));
        if (n && shown++ < DROP_LINES_SHOWN)
            fprintf(stderr, "  %.*s\n", n, p);
        p += n + (nl ? 1 : 0);
    }
    if (shown > DROP_LINES_SHOWN)
        fprintf(stderr, "  (%d more in --summary-json)\n", shown - DROP_LINES_SHOWN);
}

static void on_progress(void *ud, uint64_t done, uint64_t total)
{
    ui *u = ud;
    if (!u->tty || u->quiet)
        return;
    fprintf(stderr, "\r  %llu/%llu patients", (unsigned long long)done,
            (unsigned long long)total);
    fflush(stderr);
}

/* A number from 0 up to (not including) a million: a price or a rate. */
static int parse_amount(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= 0 && v < 1e6))
        return -1;
    *out = v;
    return 0;
}

static int default_cache(char *out, size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg == '/')
        return (size_t)snprintf(out, size, "%s/fhirgen/llm", xdg) < size ? 0 : -1;
    if (home && *home)
        return (size_t)snprintf(out, size, "%s/.cache/fhirgen/llm", home) < size ? 0 : -1;
    return -1;
}

static void print_summary(const fg_llmgen_summary *s, const char *model, uint64_t seed,
                          const char *out, double price_in, double price_out, int priced)
{
    const fg_llm_stats *l = &s->llm;
    uint64_t n = s->requested ? s->requested : 1;
    fprintf(stderr,
            "fhirgen generate: %llu of %llu patients written, %llu dropped; %llu resources, "
            "%.1f MB in %.1f s\n",
            (unsigned long long)s->written, (unsigned long long)s->requested,
            (unsigned long long)s->dropped, (unsigned long long)s->resources_total,
            (double)s->bytes / 1e6, s->seconds);
    fprintf(stderr,
            "  model %s: %zu answers (%zu from the cache), %zu HTTP requests, %zu retries "
            "(%zu rate-limited)\n",
            model, l->requests, l->cache_hits, l->http_requests, l->retries, l->rate_limited);
    fprintf(stderr,
            "  repairs %llu (%llu patients repaired), findings %llu, hallucinated codes %llu, "
            "refusals %llu, truncations %llu, failures %llu\n",
            (unsigned long long)s->repairs, (unsigned long long)s->repaired,
            (unsigned long long)s->findings, (unsigned long long)s->hallucinated,
            (unsigned long long)s->refusals, (unsigned long long)s->truncations,
            (unsigned long long)s->failures);
    fprintf(stderr, "  tokens in %ld (%.0f per patient), out %ld (%.0f per patient)\n",
            l->tokens_in, (double)l->tokens_in / (double)n, l->tokens_out,
            (double)l->tokens_out / (double)n);
    if (priced)
        fprintf(stderr, "  cost $%.4f ($%.5f per patient)\n",
                ((double)l->tokens_in * price_in + (double)l->tokens_out * price_out) / 1e6,
                ((double)l->tokens_in * price_in + (double)l->tokens_out * price_out) / 1e6 /
                    (double)n);
    fprintf(stderr, "  seed %llu, written to %s\n", (unsigned long long)seed, out);
}

static int write_summary_json(const cli_gen_opts *go, const fg_llmgen_summary *s,
                              const char *model, double price_in, double price_out, int priced,
                              fg_error *err)
{
    json_t *root = json_object(), *types = json_object(), *llm = json_object();
    const fg_llm_stats *l = &s->llm;
    double n = s->requested ? (double)s->requested : 1;
#define SETI(o, k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))
    json_object_set_new(root, "model", json_string(model));
    SETI(root, "seed", go->spec.seed);
    json_object_set_new(root, "format", json_string(fg_format_name(go->format)));
    json_object_set_new(root, "out", json_string(go->out));
    SETI(root, "patients_requested", s->requested);
    SETI(root, "patients_written", s->written);
    SETI(root, "patients_dropped", s->dropped);
    SETI(root, "repairs", s->repairs);
    SETI(root, "patients_repaired", s->repaired);
    SETI(root, "findings", s->findings);
    SETI(root, "hallucinated_codes", s->hallucinated);
    SETI(root, "refusals", s->refusals);
    SETI(root, "truncations", s->truncations);
    SETI(root, "failures", s->failures);
    SETI(llm, "answers", l->requests);
    SETI(llm, "cache_hits", l->cache_hits);
    SETI(llm, "http_requests", l->http_requests);
    SETI(llm, "retries", l->retries);
    SETI(llm, "rate_limited", l->rate_limited);
    SETI(llm, "tokens_in", l->tokens_in);
    SETI(llm, "tokens_out", l->tokens_out);
    json_object_set_new(llm, "tokens_in_per_patient", json_real((double)l->tokens_in / n));
    json_object_set_new(llm, "tokens_out_per_patient", json_real((double)l->tokens_out / n));
    if (priced) {
        double cost = ((double)l->tokens_in * price_in + (double)l->tokens_out * price_out) / 1e6;
        json_object_set_new(llm, "cost_usd", json_real(cost));
        json_object_set_new(llm, "cost_usd_per_patient", json_real(cost / n));
    }
    json_object_set_new(root, "llm", llm);
    for (int t = 0; t < FG_RT_COUNT; t++)
        if (s->resources[t])
            SETI(types, fg_rtype_name((fg_rtype)t), s->resources[t]);
    json_object_set_new(root, "resources", types);
    SETI(root, "resources_total", s->resources_total);
    SETI(root, "files", s->files);
    SETI(root, "bytes", s->bytes);
    json_object_set_new(root, "seconds", json_real(s->seconds));
    cli_drops_flags(s->drops);
    json_object_set(root, "dropped", s->drops ? s->drops : json_array());
#undef SETI
    int rc = cli_gen_write_summary(go->summary_json, root, err);
    json_decref(root);
    return rc;
}

/* A scenario file's text (newlines kept), bounded. */
static int read_scenario(const char *path, char **out, fg_error *err)
{
    size_t len;
    int rc = fg_read_file(path, FG_MAX_SCENARIO_BYTES, out, &len, err);
    if (rc == FG_OK && strlen(*out) != len) {
        free(*out);
        *out = NULL;
        return fg_error_set(err, FG_EINVALID, path, "the scenario file holds a NUL byte");
    }
    json_t *probe = rc == FG_OK ? json_stringn(*out, len) : NULL; /* NULL: not UTF-8 */
    if (rc == FG_OK && !probe) {
        free(*out);
        *out = NULL;
        return fg_error_set(err, FG_EINVALID, path,
                            "the scenario file is not UTF-8 text: save it as UTF-8");
    }
    json_decref(probe);
    return rc;
}

/* What the command line asked for. */
typedef struct llm_args {
    cli_gen_opts go;
    fg_llm_config lc;
    int dry_run, no_cache, priced;
    int repair_rounds;
    const char *llm_spec, *cache;
    const char *scenario, *scenario_file, *prompt_dir;
    double price_in, price_out;
    char model[256], cache_dir[4096];
} llm_args;

/* What the run is made of; freed by llm_parts_free. */
typedef struct llm_parts {
    fg_engine *engine;
    fg_terminology *terms;
    fg_mapper *mapper;
    fg_llm *llm;
    fg_llmgen_prompts *prompts;
    json_t *schema;
    char *scenario_text;
    const char *datadir;
} llm_parts;

static void llm_parts_free(llm_parts *p)
{
    free(p->scenario_text);
    json_decref(p->schema);
    fg_llm_free(p->llm);
    fg_llmgen_prompts_free(p->prompts);
    fg_mapper_free(p->mapper);
    fg_terminology_free(p->terms);
    fg_engine_free(p->engine);
}

/* One option of --llm's own; -1 when taken, else the exit status. */
static int take_option(llm_args *a, int c)
{
    fg_llm_config *lc = &a->lc;
    int v;
    switch (c) {
    case CLI_GEN_BAD_ARGUMENT: return EXIT_USAGE;
    case 'j': return -1; /* the engine's threads: one loop drives the model */
    case 'h': usage(stdout); return EXIT_OK;
    case OPT_LLM: a->llm_spec = optarg; return -1;
    case OPT_BASE_URL: lc->base_url = optarg; return -1;
    case OPT_CACERT: lc->ca_file = optarg; return -1;
    case OPT_LLM_JOBS:
        if (cli_parse_int(optarg, 1, FG_MAX_LLM_JOBS, &lc->jobs))
            return cli_usage_error(CMD, "--llm-jobs: '%s' is not a number from 1 to %d",
                                   optarg, FG_MAX_LLM_JOBS);
        return -1;
    case OPT_RPM:
        if (parse_amount(optarg, &lc->max_rpm))
            return cli_usage_error(CMD, "--max-rpm: '%s' is not a number of requests per "
                                   "minute", optarg);
        return -1;
    case OPT_STREAM: lc->stream = 1; return -1;
    case OPT_TIMEOUT:
        if (cli_parse_int(optarg, 1, 86400, &v))
            return cli_usage_error(CMD, "--llm-timeout: '%s' is not a number of seconds "
                                   "from 1 to 86400", optarg);
        lc->timeout_ms = (long)v * 1000;
        return -1;
    case OPT_MAX_TOKENS:
        if (cli_parse_int(optarg, 16, 1000000, &v))
            return cli_usage_error(CMD, "--llm-max-tokens: '%s' is not a number from 16 to "
                                   "1000000", optarg);
        lc->max_tokens = v;
        return -1;
    case OPT_REPAIR:
        if (cli_parse_int(optarg, 0, FG_MAX_REPAIR_ROUNDS, &a->repair_rounds))
            return cli_usage_error(CMD, "--repair-rounds: '%s' is not a number from 0 to %d",
                                   optarg, FG_MAX_REPAIR_ROUNDS);
        return -1;
    case OPT_CACHE: a->cache = optarg; return -1;
    case OPT_NO_CACHE: a->no_cache = 1; return -1;
    case OPT_PRICE_IN:
    case OPT_PRICE_OUT: {
        int in = c == OPT_PRICE_IN;
        if (parse_amount(optarg, in ? &a->price_in : &a->price_out))
            return cli_usage_error(CMD, "--price-%s: '%s' is not a price in USD per million "
                                   "tokens", in ? "in" : "out", optarg);
        a->priced = 1;
        return -1;
    }
    case OPT_SCENARIO: a->scenario = optarg; return -1;
    case OPT_SCENARIO_FILE: a->scenario_file = optarg; return -1;
    case OPT_PROMPT_DIR: a->prompt_dir = optarg; return -1;
    case OPT_DRY_RUN: a->dry_run = 1; return -1;
    default:
        fprintf(stderr, "Run 'fhirgen generate --llm x --help' for the options.\n");
        return EXIT_USAGE;
    }
}

/* Read the command line into a; -1 to go on, else the exit status. */
static int parse_args(llm_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof(*a));
    cli_gen_opts_init(&a->go, own_options);
    fg_llm_config_default(&a->lc);
    a->repair_rounds = 2;
    int c, st;
    while ((c = cli_gen_opts_next(&a->go, argc, argv)) != -1)
        if ((st = take_option(a, c)) != -1)
            return st;
    if (!a->llm_spec)
        return cli_usage_error(CMD, "--llm needs PROVIDER:MODEL");
    const char *spec = a->llm_spec, *colon = strchr(spec, ':');
    if (!colon || !colon[1] || (size_t)(colon - spec) >= 16 ||
        strlen(colon + 1) >= sizeof(a->model))
        return cli_usage_error(CMD, "--llm: '%s' is not PROVIDER:MODEL (openai:gpt-4o-mini, "
                               "anthropic:claude-sonnet-4-5, ...)", spec);
    if (strncmp(spec, "openai:", 7) == 0)
        a->lc.provider = FG_LLM_OPENAI;
    else if (strncmp(spec, "anthropic:", 10) == 0)
        a->lc.provider = FG_LLM_ANTHROPIC;
    else
        return cli_usage_error(CMD, "--llm: provider '%.*s' is not openai or anthropic",
                               (int)(colon - spec), spec);
    strcpy(a->model, colon + 1);
    a->lc.model = a->model;
    if (a->scenario && a->scenario_file)
        return cli_usage_error(CMD, "--scenario and --scenario-file: give one");
    if (a->scenario && strlen(a->scenario) > FG_MAX_SCENARIO_BYTES)
        return cli_usage_error(CMD, "--scenario: longer than %d bytes", FG_MAX_SCENARIO_BYTES);
    if (a->cache && a->no_cache)
        return cli_usage_error(CMD, "--cache and --no-cache: give one");
    cli_llm_env(&a->lc);
    cli_gen_opts_finish(&a->go);
    a->lc.seed = a->go.spec.seed;
    return -1;
}

/* The scenario, the prompts and the cache folder; -1 to go on, else the
 * exit status. */
static int prepare_inputs(llm_args *a, llm_parts *p, fg_error *err)
{
    if (a->scenario_file) {
        if (read_scenario(a->scenario_file, &p->scenario_text, err) != FG_OK) {
            cli_report(CMD, err);
            return EXIT_USAGE;
        }
        a->scenario = p->scenario_text;
    }
    if (fg_llmgen_prompts_load(a->prompt_dir, &p->prompts, err) != FG_OK) {
        cli_report(CMD, err);
        return a->prompt_dir ? EXIT_USAGE : EXIT_FAILED;
    }
    if (!a->no_cache && !a->dry_run) {
        if (!a->cache && default_cache(a->cache_dir, sizeof(a->cache_dir)) == 0)
            a->cache = a->cache_dir;
        if (a->cache && fg_mkdirs(a->cache, err) != FG_OK) {
            fprintf(stderr, "fhirgen generate: the cache folder %s: %s: %s; choose another with "
                            "--cache DIR or run with --no-cache\n", a->cache, err->where,
                    err->text);
            return EXIT_USAGE;
        }
        a->lc.cache_dir = a->cache;
    }
    return -1;
}

/* The engine, terminology, mapper, schema and client; -1 to go on, else
 * the exit status. */
static int load_parts(llm_args *a, llm_parts *p, fg_error *err)
{
    p->datadir = fg_data_dir();
    if (fg_engine_new(p->datadir, &a->go.spec, &p->engine, err) != FG_OK) {
        cli_report(CMD, err);
        return err->code == FG_ENOTFOUND || err->code == FG_EUSAGE ? EXIT_USAGE : EXIT_FAILED;
    }
    char tdir[4096], schema_path[4096];
    if (!fg_data_path("terminology", tdir, sizeof(tdir)) ||
        fg_terminology_load(tdir, &p->terms, err) != FG_OK ||
        fg_llmgen_prompts_set_terms(p->prompts, p->terms, err) != FG_OK) {
        cli_report(CMD, err);
        return EXIT_FAILED;
    }
    fg_map_options mo = {a->go.spec.mrn_system};
    if (a->go.format != FG_FORMAT_HISTORY &&
        fg_mapper_new(p->terms, &mo, &p->mapper, err) != FG_OK) {
        cli_report(CMD, err);
        return EXIT_FAILED;
    }
    json_error_t jerr;
    if (!fg_data_path("schema/history.schema.json", schema_path, sizeof(schema_path)) ||
        !(p->schema = json_load_file(schema_path, 0, &jerr))) {
        fprintf(stderr, "fhirgen generate: %s: cannot read the history schema: %s\n",
                schema_path, jerr.text);
        return EXIT_FAILED;
    }
    if (fg_llm_new(&a->lc, &p->llm, err) != FG_OK) {
        cli_report(CMD, err);
        return err->code == FG_EUSAGE ? EXIT_USAGE : EXIT_FAILED;
    }
    return -1;
}

static void fill_options(const llm_args *a, const llm_parts *p, ui *u, fg_llmgen_options *o)
{
    memset(o, 0, sizeof(*o));
    o->engine = p->engine;
    o->terms = p->terms;
    o->mapper = p->mapper;
    o->llm = p->llm;
    o->prompts = p->prompts;
    o->schema = p->schema;
    o->datadir = p->datadir;
    o->format = a->go.format;
    o->out_dir = a->go.out;
    cli_gen_opts_slice(&a->go, &o->first, &o->count); /* the same slices as the engine path */
    o->shard_k = a->go.shard_k;
    o->shard_n = a->go.shard_n;
    o->end = a->go.spec.end;
    o->years_of_history = a->go.spec.years_of_history;
    o->repair_rounds = a->repair_rounds;
    o->max_tokens = a->lc.max_tokens;
    o->scenario = a->scenario;
    o->max_pending = (size_t)(a->lc.jobs > 0 ? a->lc.jobs : 4) * 2;
    o->on_drop = on_drop;
    o->progress = on_progress;
    o->ud = u;
}

/* Run the generation and report it; the exit status. */
static int run_and_report(const llm_args *a, fg_llmgen_options *o, const ui *u, fg_error *err)
{
    fg_llmgen_summary sum;
    memset(&sum, 0, sizeof(sum));
    int rc;
    int ndjson = a->go.format == FG_FORMAT_NDJSON;
    cli_catch_signals();
    o->cancel = &cli_cancel;
    int grc = fg_llmgen_run(o, &sum, err);
    if (u->tty)
        fprintf(stderr, "\r\033[K");
    if (grc == FG_ECANCELED) {
        fprintf(stderr, "fhirgen generate: interrupted after %llu patients; %s\n",
                (unsigned long long)sum.written,
                ndjson ? "no NDJSON file is written for an unfinished run"
                       : "every finished patient is kept");
        rc = EXIT_INTERRUPTED;
    } else if (grc != FG_OK) {
        cli_report(CMD, err);
        if (sum.written && !ndjson)
            fprintf(stderr, "fhirgen generate: %llu patients finished before the failure are "
                            "kept in %s\n", (unsigned long long)sum.written, a->go.out);
        rc = EXIT_FAILED;
    } else {
        rc = sum.dropped ? EXIT_FAILED : EXIT_OK;
    }
    if (!a->go.quiet)
        print_summary(&sum, a->llm_spec, a->go.spec.seed, a->go.out, a->price_in, a->price_out,
                      a->priced);
    if (a->go.summary_json && write_summary_json(&a->go, &sum, a->llm_spec, a->price_in,
                                                 a->price_out, a->priced, err) != FG_OK) {
        cli_report(CMD, err);
        rc = EXIT_FAILED;
    }
    fg_llmgen_summary_free(&sum);
    return rc;
}

int cmd_generate_llm(int argc, char **argv)
{
    static llm_args a; /* large: not on the stack */
    llm_parts p;
    memset(&p, 0, sizeof(p));
    fg_error err;
    fg_error_clear(&err);
    char *body = NULL;
    int rc = parse_args(&a, argc, argv);
    if (rc != -1)
        return rc;
    if ((rc = prepare_inputs(&a, &p, &err)) != -1 || (rc = load_parts(&a, &p, &err)) != -1)
        goto cleanup;
    ui u = {!a.go.quiet && isatty(STDERR_FILENO), a.go.quiet};
    fg_llmgen_options o;
    fill_options(&a, &p, &u, &o);
    if (a.dry_run) {
        rc = EXIT_FAILED;
        if (fg_llmgen_dry_run(&o, &body, &err) != FG_OK) {
            cli_report(CMD, &err);
            goto cleanup;
        }
        printf("%s\n", body);
        rc = EXIT_OK;
        goto cleanup;
    }
    rc = run_and_report(&a, &o, &u, &err);
cleanup:
    free(body);
    llm_parts_free(&p);
    return rc;
}
