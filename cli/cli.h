/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h: what the subcommands of the fhirgen program share. Only cli/ talks
 * to the terminal: the library reports through return codes, fg_error and
 * callbacks.
 */
#ifndef FG_CLI_H
#define FG_CLI_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "fhir/base/fg_error.h"
#include "fhir/base/fg_time.h"

/* Exit codes of every subcommand. */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,      /* the run failed: bad data, I/O, a check found errors */
    EXIT_USAGE = 2,       /* the command line cannot work */
    EXIT_INTERRUPTED = 130,
};

extern volatile sig_atomic_t cli_cancel;

/* Install SIGINT/SIGTERM handlers that raise cli_cancel. */
void cli_catch_signals(void);

/* ---- settings.c: the environment, and settings named back as flags ---- */

/* The flag that sets the library setting named `where` ("jobs" ->
 * "--jobs"), or NULL when where names no setting or no flag sets it.
 * Static strings. */
const char *cli_setting_flag(const char *where);

/* Rewrite err for a user: a `where` naming a setting becomes its flag, and
 * each "setting `NAME`" in the text becomes the flag (or flag and
 * environment variable) that sets it. */
void cli_error_flags(fg_error *err);

/* text with each "setting `NAME`" named as its flag, into out (cut at
 * size). Returns 1 when out holds a rewritten text, 0 when text names no
 * setting (out is then unspecified). */
int cli_text_flags(const char *text, char *out, size_t size);

/* The same for the "reason" of each drop of an LLM run's summary. */
typedef struct json_t json_t;
void cli_drops_flags(json_t *drops);

/* The same for the messages of an issue list. FG_OK or FG_ENOMEM. */
struct fg_issue_list;
int cli_issue_flags(struct fg_issue_list *l);

/* Hand the environment's settings to the library: FHIRGEN_DATA_DIR (the
 * data folder). Call first in main, before any thread. */
void cli_settings_from_env(void);

/* Fill what c leaves unset from the environment: the base URL from
 * $OPENAI_BASE_URL or $ANTHROPIC_BASE_URL, the key from $OPENAI_API_KEY,
 * $ANTHROPIC_API_KEY, or for Azure $AZURE_OPENAI_API_KEY then
 * $OPENAI_API_KEY. The variable the key came from is what
 * cli_setting_flag("llm api key") names afterwards. */
struct fg_llm_config;
void cli_llm_env(struct fg_llm_config *c);

/* The cohort's "now": SOURCE_DATE_EPOCH when it is a number, else the
 * clock. */
fg_time cli_now(void);

/* The package cache folder: `packages` (the --packages flag) when set,
 * else $FHIRGEN_PACKAGES, else $HOME/.fhir/packages. Borrowed (a static
 * buffer in the last case). */
const char *cli_package_cache(const char *packages);

/* "fhirgen <cmd>: <where>: <text>" on stderr, settings named as flags. */
void cli_report(const char *cmd, const fg_error *err);

/* "fhirgen <cmd>: <message>" on stderr, plus a hint to run --help. Returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict number parsing: the whole string, in range. 0 on success. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int cli_parse_int(const char *s, int min, int max, int *out);

/* Number of online processors (at least 1). */
int cli_cpu_count(void);

int cmd_generate(int argc, char **argv);
/* fhirgen generate --llm ... (cli/generate_llm.c); cmd_generate hands over. */
int cmd_generate_llm(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_validate(int argc, char **argv);

/* ---- validation, shared by 'validate' and 'generate --validate' ---- */

#define CLI_VALIDATE_MAX_IGS 32 /* --ig options of one command */

struct fg_registry;

/* A finished registry: the compact R4 core from the data folder, then each
 * package of igs[] (with dependencies) from the package cache (packages, or
 * FHIRGEN_PACKAGES, or ~/.fhir/packages). On success *out is new (free with
 * fg_registry_free). A missing package is FG_ENOTFOUND naming the cache. */
int cli_validate_load(const char *const *igs, size_t n_igs, const char *packages,
                      struct fg_registry **out, fg_error *err);

/* 'generate --validate': a validator over base R4 and, when the package
 * cache holds it, US Core 6.1.0 (a line on stderr says when it does not).
 * cli_gen_check_fn is an fg_pipeline_options.check callback (ud: the
 * cli_gen_check) counting errors and warnings; cli_gen_check_report prints
 * the counts and the first errors (only errors when quiet) and returns 1
 * when there were errors. */
typedef struct cli_gen_check cli_gen_check;
int cli_gen_check_open(cli_gen_check **out, fg_error *err);
int cli_gen_check_fn(void *ud, uint64_t index, const char *json, size_t len, fg_error *err);
int cli_gen_check_report(const cli_gen_check *c, int quiet, FILE *f);
void cli_gen_check_free(cli_gen_check *c); /* accepts NULL */

/* The push half of 'fhirgen generate --push': argv as for cmd_push (argv[0]
 * "push", no input names); the bundles come from next (see
 * fg_push_options.next_input, called with ctx) and the default journal
 * lives in journal_dir. Returns the exit status. */
int cli_push_stream(int argc, char **argv, const char *journal_dir,
                    int (*next)(void *ctx, char *path, size_t size), void *ctx);

/* ---- validate_input.c: the inputs of fhirgen validate ---- */

typedef struct cli_input_list {
    char **names;
    size_t count, cap;
} cli_input_list;

/* Append a copy of name; -1 when out of memory. */
int cli_input_push(cli_input_list *l, const char *name);

/* Add the *.json and *.ndjson files below dir (recursively, in name order).
 * Returns 0, 1 when a folder could not be read (said on stderr) or -1 when
 * out of memory. */
int cli_walk_dir(cli_input_list *l, const char *dir, int depth);

/* 1 when s ends with suffix. */
int cli_ends_with(const char *s, const char *suffix);

/* A buffered reader over f whose buffer grows only to the longest line. */
typedef struct cli_reader {
    FILE *f;
    char *buf;
    size_t cap, pos, len;
    int eof;
} cli_reader;

/* Read more into the buffer (unread bytes first moved to its front).
 * Returns 1 more was read, 0 end of input, -1 a read error or no memory. */
int cli_reader_fill(cli_reader *r);

/* The next line (without its newline) into *out and *n (borrowed until the
 * next call). Returns 1 a line, 0 end of input, -1 a read error, -2 a line
 * longer than `limit` (skipped; *n is its length so far). */
int cli_reader_line(cli_reader *r, const char **out, size_t *n, size_t limit);

#endif
