/* SPDX-License-Identifier: Apache-2.0 */
/* The options 'fhirgen generate' and 'fhirgen generate --llm' share. */
#include "cli/generate_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fhir/base/fg_files.h"
#include "generators/engine/fg_engine.h"
#include "generators/fg_pipeline.h"

#define CMD "generate"

static const struct option shared_options[] = {
    {"count", required_argument, NULL, 'n'},
    {"seed", required_argument, NULL, 's'},
    {"out", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"jobs", required_argument, NULL, 'j'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"age", required_argument, NULL, CLI_GEN_OPT_AGE},
    {"sex", required_argument, NULL, CLI_GEN_OPT_SEX},
    {"state", required_argument, NULL, CLI_GEN_OPT_STATE},
    {"condition", required_argument, NULL, CLI_GEN_OPT_CONDITION},
    {"years-of-history", required_argument, NULL, CLI_GEN_OPT_YEARS},
    {"end-date", required_argument, NULL, CLI_GEN_OPT_END_DATE},
    {"end", required_argument, NULL, CLI_GEN_OPT_END_DATE},
    {"shard", required_argument, NULL, CLI_GEN_OPT_SHARD},
    {"mrn-system", required_argument, NULL, CLI_GEN_OPT_MRN},
    {"summary-json", required_argument, NULL, CLI_GEN_OPT_SUMMARY_JSON},
};

#define N_SHARED (sizeof(shared_options) / sizeof(shared_options[0]))

void cli_gen_opts_init(cli_gen_opts *o, const struct option *own)
{
    memset(o, 0, sizeof(*o));
    fg_cohort_spec_default_at(&o->spec, cli_now());
    o->count = 10;
    o->out = "./out";
    o->format = FG_FORMAT_BUNDLE;
    size_t n = 0;
    for (size_t i = 0; i < N_SHARED; i++)
        o->table[n++] = shared_options[i];
    for (size_t i = 0; own[i].name && n < CLI_GEN_MAX_OPTIONS - 1; i++)
        o->table[n++] = own[i]; /* the last entry stays zero */
    optind = 1;
}

/* "MIN-MAX" of two numbers up to 1000. */
static int parse_range(const char *s, int *lo, int *hi)
{
    char a[16], b[16];
    const char *dash = strchr(s, '-');
    if (!dash || dash == s || (size_t)(dash - s) >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
        return -1;
    memcpy(a, s, (size_t)(dash - s));
    a[dash - s] = 0;
    strcpy(b, dash + 1);
    return cli_parse_int(a, 0, 1000, lo) || cli_parse_int(b, 0, 1000, hi) ? -1 : 0;
}

static int take_format(cli_gen_opts *o, const char *arg)
{
    if (strcmp(arg, "bundle") == 0)
        o->format = FG_FORMAT_BUNDLE;
    else if (strcmp(arg, "ndjson") == 0)
        o->format = FG_FORMAT_NDJSON;
    else if (strcmp(arg, "history") == 0)
        o->format = FG_FORMAT_HISTORY;
    else
        return cli_usage_error(CMD, "--format: '%s' is not one of bundle, ndjson, history", arg);
    return 1;
}

static int take_sex(cli_gen_opts *o, const char *arg)
{
    if (strcmp(arg, "female") == 0)
        o->spec.sex = FG_SEX_FEMALE;
    else if (strcmp(arg, "male") == 0)
        o->spec.sex = FG_SEX_MALE;
    else
        return cli_usage_error(CMD, "--sex: '%s' is not female or male", arg);
    return 1;
}

/* K/N with 1 <= K <= N <= 1000000; arg is left as it came. */
static int take_shard(cli_gen_opts *o, char *arg)
{
    char *slash = strchr(arg, '/');
    if (!slash)
        return cli_usage_error(CMD, "--shard: '%s' is not K/N", arg);
    *slash = 0;
    int bad = cli_parse_int(slash + 1, 1, 1000000, &o->shard_n) ||
              cli_parse_int(arg, 1, 1000000, &o->shard_k) || o->shard_k > o->shard_n;
    *slash = '/';
    if (bad)
        return cli_usage_error(CMD, "--shard: '%s' is not K/N with 1 <= K <= N", arg);
    return 1;
}

/* Take option c with argument arg: 1 when it is a shared option and is
 * taken, 0 when it is not one of them, EXIT_USAGE when its argument is bad. */
static int take(cli_gen_opts *o, int c, char *arg)
{
    fg_cohort_spec *spec = &o->spec;
    switch (c) {
    case 'n':
        if (cli_parse_u64(arg, 1, FG_MAX_PATIENTS, &o->count))
            return cli_usage_error(CMD, "--count: '%s' is not a number from 1 to %lld", arg,
                                   (long long)FG_MAX_PATIENTS);
        return 1;
    case 's':
        if (cli_parse_u64(arg, 0, UINT64_MAX, &spec->seed))
            return cli_usage_error(CMD, "--seed: '%s' is not a non-negative integer", arg);
        o->have_seed = 1;
        return 1;
    case 'o': o->out = arg; return 1;
    case 'f': return take_format(o, arg);
    case 'q': o->quiet = 1; return 1;
    case CLI_GEN_OPT_AGE:
        if (parse_range(arg, &spec->age_min, &spec->age_max) || spec->age_min > spec->age_max ||
            spec->age_max > FG_MAX_AGE)
            return cli_usage_error(CMD, "--age: '%s' is not a range MIN-MAX of ages from 0 to %d",
                                   arg, FG_MAX_AGE);
        return 1;
    case CLI_GEN_OPT_SEX: return take_sex(o, arg);
    case CLI_GEN_OPT_STATE: spec->state = arg; return 1;
    case CLI_GEN_OPT_CONDITION:
        if (o->n_conditions == CLI_GEN_MAX_CONDITIONS)
            return cli_usage_error(CMD, "--condition: at most %d conditions",
                                   CLI_GEN_MAX_CONDITIONS);
        o->conditions[o->n_conditions++] = arg;
        return 1;
    case CLI_GEN_OPT_YEARS:
        if (cli_parse_int(arg, 1, FG_MAX_YEARS_OF_HISTORY, &spec->years_of_history))
            return cli_usage_error(CMD, "--years-of-history: '%s' is not a number from 1 to %d",
                                   arg, FG_MAX_YEARS_OF_HISTORY);
        return 1;
    case CLI_GEN_OPT_END_DATE: {
        fg_time t;
        if (fg_parse_date(arg, &t))
            return cli_usage_error(CMD, "--end-date: '%s' is not a date YYYY-MM-DD", arg);
        spec->end = t;
        return 1;
    }
    case CLI_GEN_OPT_SHARD: return take_shard(o, arg);
    case CLI_GEN_OPT_MRN: spec->mrn_system = arg; return 1;
    case CLI_GEN_OPT_SUMMARY_JSON: o->summary_json = arg; return 1;
    default: return 0;
    }
}

int cli_gen_opts_next(cli_gen_opts *o, int argc, char **argv)
{
    int c;
    while ((c = getopt_long(argc, argv, CLI_GEN_SHORTOPTS, o->table, NULL)) != -1) {
        int taken = take(o, c, optarg);
        if (taken == EXIT_USAGE)
            return CLI_GEN_BAD_ARGUMENT;
        if (!taken)
            return c;
    }
    if (optind < argc) {
        cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
        return CLI_GEN_BAD_ARGUMENT;
    }
    return -1;
}

void cli_gen_opts_finish(cli_gen_opts *o)
{
    if (!o->have_seed) {
        uint64_t s = 0;
        if (getrandom(&s, sizeof(s), 0) != sizeof(s))
            s = (uint64_t)time(NULL);
        o->spec.seed = s >> 1; /* fits in a JSON integer */
    }
    o->spec.conditions = o->conditions;
    o->spec.n_conditions = o->n_conditions;
}

void cli_gen_opts_slice(const cli_gen_opts *o, uint64_t *first, uint64_t *count)
{
    *first = 0;
    *count = o->count;
    if (o->shard_n > 0) {
        *first = o->count * (uint64_t)(o->shard_k - 1) / (uint64_t)o->shard_n;
        *count = o->count * (uint64_t)o->shard_k / (uint64_t)o->shard_n - *first;
    }
}

int cli_gen_write_summary(const char *path, json_t *root, fg_error *err)
{
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return fg_error_set(err, FG_ENOMEM, path, "cannot write the summary: out of memory");
    int rc = fg_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}
