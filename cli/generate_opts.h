/* SPDX-License-Identifier: Apache-2.0 */
/*
 * generate_opts.h: the cohort and output options that 'fhirgen generate'
 * and 'fhirgen generate --llm' share (-n, --seed, -o, -f, -q, --age, --sex,
 * --state, --condition, --years-of-history, --end-date, --shard,
 * --mrn-system, --summary-json), parsed in one place so both read them
 * alike. Each command keeps its own --help text, its own options, and
 * what it does with -j and -h.
 */
#ifndef FG_CLI_GENERATE_OPTS_H
#define FG_CLI_GENERATE_OPTS_H

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>

#include "fhir/base/fg_error.h"
#include "generators/engine/fg_engine.h"
#include "generators/fg_pipeline.h"

#define CLI_GEN_MAX_CONDITIONS 32  /* --condition options of one command */
#define CLI_GEN_SHORTOPTS "n:s:o:f:j:qh"
#define CLI_GEN_MAX_OPTIONS 64     /* entries of a joined option table */

/* getopt_long codes of the shared long-only options; a command numbers its
 * own from CLI_GEN_OPT_END. */
enum {
    CLI_GEN_OPT_AGE = 256,
    CLI_GEN_OPT_SEX,
    CLI_GEN_OPT_STATE,
    CLI_GEN_OPT_CONDITION,
    CLI_GEN_OPT_YEARS,
    CLI_GEN_OPT_END_DATE,
    CLI_GEN_OPT_SHARD,
    CLI_GEN_OPT_MRN,
    CLI_GEN_OPT_SUMMARY_JSON,
    CLI_GEN_OPT_END,
};

/* What the shared options set. Strings borrow from argv. */
typedef struct cli_gen_opts {
    fg_cohort_spec spec;   /* seed, ages, sex, state, years, end date, MRN system */
    uint64_t count;        /* -n: patients of the whole cohort */
    const char *out;       /* -o */
    const char *summary_json;
    fg_format format;      /* -f */
    int have_seed, quiet;
    int shard_k, shard_n;  /* 0/0 when not sharded */
    const char *conditions[CLI_GEN_MAX_CONDITIONS];
    size_t n_conditions;
    struct option table[CLI_GEN_MAX_OPTIONS]; /* the shared options, then the command's */
} cli_gen_opts;

/* The defaults (10 patients, ./out, bundles, the engine's cohort defaults)
 * and the option table: the shared options, then the command's own (`own`
 * ends with a zero entry). The shared table names -j and -h too; the
 * command handles them. Rewinds getopt (optind = 1). */
void cli_gen_opts_init(cli_gen_opts *o, const struct option *own);

/* The next option of argv that is not a shared one, taking the shared
 * ones on the way: its getopt_long code (the command's own, 'j', 'h', or
 * '?' for an unknown one), -1 at the end of the options, or
 * CLI_GEN_BAD_ARGUMENT after saying on stderr what is wrong with the
 * argument of a shared option or that an argument follows the options. */
#define CLI_GEN_BAD_ARGUMENT (-2)
int cli_gen_opts_next(cli_gen_opts *o, int argc, char **argv);

/* After parsing: a fresh seed when none was given, and the conditions put
 * into spec (which then points into o). */
void cli_gen_opts_finish(cli_gen_opts *o);

/* The slice of the cohort this run makes: all of it, or the K-th of N
 * shards (the union of the N slices is the cohort). */
void cli_gen_opts_slice(const cli_gen_opts *o, uint64_t *first, uint64_t *count);

/* Write a summary document to path (via a temporary file and a rename), as
 * indented JSON with sorted keys. Borrows root. FG_OK or FG_EIO. */
int cli_gen_write_summary(const char *path, json_t *root, fg_error *err);

#endif
