/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry behind fhirgen validate and generate --validate (the compact
 * R4 core plus the packages named by --ig), and the check that
 * generate --validate runs on every bundle of the pipeline.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "fhir/base/fg_data.h"
#include "profiles/fg_registry.h"
#include "validators/fg_validate.h"

/* ---- loading ---- */

int cli_validate_load(const char *const *igs, size_t n_igs, const char *packages, fg_registry **out,
                      fg_error *err)
{
    fg_registry *reg = NULL;
    int rc = fg_registry_new(&reg, err);
    if (rc != FG_OK)
        goto cleanup;
    rc = fg_registry_load_core(reg, fg_data_dir(), err);
    if (rc != FG_OK)
        goto cleanup;
    const char *cache = cli_package_cache(packages);
    for (size_t i = 0; i < n_igs; i++) {
        rc = fg_registry_load_package(reg, cache, igs[i], err);
        if (rc == FG_ENOTFOUND && err) {
            char where[FG_ERROR_WHERE_MAX];
            snprintf(where, sizeof(where), "%s", err->where[0] ? err->where : igs[i]);
            fg_error_set(err, rc, where,
                         "package %s is not in the package cache %s (give another cache with "
                         "--packages DIR or FHIRGEN_PACKAGES; a package is the folder "
                         "<name>#<version>/package/ of its .tgz)",
                         igs[i], cache);
        }
        if (rc != FG_OK)
            goto cleanup;
    }
    rc = fg_registry_finish(reg, err);
    if (rc != FG_OK)
        goto cleanup;
    *out = reg;
    reg = NULL;
cleanup:
    fg_registry_free(reg);
    return rc;
}

/* ---- generate --validate ---- */

#define GEN_CHECK_SHOWN 10 /* issues of a generate --validate run printed in full */

struct cli_gen_check {
    fg_registry *reg;
    fg_validator *v;
    int with_us_core;
    pthread_mutex_t mu;
    uint64_t items, errors, warnings;
    char *shown[GEN_CHECK_SHOWN];
    size_t n_shown;
};

int cli_gen_check_open(cli_gen_check **out, fg_error *err)
{
    static const char *const us_core[] = {"hl7.fhir.us.core#6.1.0"};
    cli_gen_check *c = calloc(1, sizeof(*c));
    if (!c)
        return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    const char *cache = cli_package_cache(NULL);
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s/package", cache, us_core[0]);
    c->with_us_core = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (!c->with_us_core)
        fprintf(stderr,
                "fhirgen generate: --validate: US Core 6.1.0 is not in the package "
                "cache %s: "
                "bundles are validated against base R4 only (put "
                "hl7.fhir.us.core#6.1.0 there, "
                "or name another cache with FHIRGEN_PACKAGES)\n",
                cache);
    int rc = cli_validate_load(us_core, c->with_us_core ? 1 : 0, NULL, &c->reg, err);
    fg_validate_opts o;
    fg_validate_opts_default(&o);
    if (rc == FG_OK)
        rc = fg_validator_new(c->reg, &o, &c->v, err);
    if (rc != FG_OK) {
        cli_gen_check_free(c);
        return rc;
    }
    *out = c;
    return FG_OK;
}

int cli_gen_check_fn(void *ud, uint64_t index, const char *json, size_t len, fg_error *err)
{
    cli_gen_check *c = ud;
    fg_issue_list l = {0};
    int rc = fg_validate_bytes(c->v, json, len, &l, err);
    if (rc != FG_OK) {
        fg_issue_list_free(&l);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    c->items++;
    c->errors += l.errors;
    c->warnings += l.warnings;
    for (size_t i = 0; i < l.count && c->n_shown < GEN_CHECK_SHOWN; i++) {
        const fg_issue *is = &l.items[i];
        if (is->severity > FG_SEV_ERROR)
            continue;
        char *line = NULL;
        if (asprintf(&line, "patient %llu: %s %s %s: %s", (unsigned long long)index,
                     fg_severity_name(is->severity), fg_check_name(is->check),
                     is->path ? is->path : "", is->message ? is->message : "") >= 0)
            c->shown[c->n_shown++] = line;
    }
    pthread_mutex_unlock(&c->mu);
    fg_issue_list_free(&l);
    return FG_OK;
}

int cli_gen_check_report(const cli_gen_check *c, int quiet, FILE *f)
{
    if (!quiet || c->errors > 0)
        fprintf(f,
                "Validated %llu JSON %s against base R4%s: %llu error%s, %llu "
                "warning%s, %zu not checked\n",
                (unsigned long long)c->items, c->items == 1 ? "document" : "documents",
                c->with_us_core ? " and US Core 6.1.0" : " (US Core not in the package cache)",
                (unsigned long long)c->errors, c->errors == 1 ? "" : "s",
                (unsigned long long)c->warnings, c->warnings == 1 ? "" : "s",
                fg_validator_not_checked_count(c->v) + fg_registry_note_count(c->reg));
    for (size_t i = 0; i < c->n_shown; i++)
        fprintf(f, "  %s\n", c->shown[i]);
    if (c->errors > c->n_shown && c->n_shown > 0)
        fprintf(f, "  ... run 'fhirgen validate' on the output for the full list\n");
    return c->errors > 0;
}

void cli_gen_check_free(cli_gen_check *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_shown; i++)
        free(c->shown[i]);
    fg_validator_free(c->v);
    fg_registry_free(c->reg);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
