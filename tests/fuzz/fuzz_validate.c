/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_validate.c: libFuzzer target for the validator on arbitrary bytes.
 *
 * Whatever the input, fg_validate_bytes must return (FG_OK, or FG_ENOMEM),
 * every issue must carry a known severity and check, a path and a message,
 * the error and warning counts must agree with the issues, and the issues
 * must turn into an OperationOutcome. When the bytes are a JSON object,
 * validating the parsed object must report the same number of errors and
 * warnings as validating the bytes. Built with clang when meson is set up
 * with -Dfuzzing=true:
 *     build/tests/fuzz_validate tests/fuzz/corpus-validate
 * Without a fuzzer, tests/unit/test_validate_cases.c replays the corpus
 * through the same function. The registry is the compact R4 core of the
 * data folder (FHIRGEN_DATA_DIR), loaded once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fhir/base/fg_data.h"
#include "fhir/base/fg_error.h"
#include "profiles/fg_registry.h"
#include "validators/fg_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static fg_registry *fuzz_reg;
static fg_validator *fuzz_val;

/* Load the registry and validator once; abort when the data is missing,
 * since nothing could be fuzzed. */
static const fg_validator *fuzz_validator(void)
{
    if (fuzz_val)
        return fuzz_val;
    fg_error err;
    fg_error_clear(&err);
    fg_validate_opts o;
    fg_validate_opts_default(&o);
    fg_data_set_dir(getenv("FHIRGEN_DATA_DIR")); /* as the fhirgen program does */
    if (fg_registry_new(&fuzz_reg, &err) != FG_OK ||
        fg_registry_load_core(fuzz_reg, fg_data_dir(), &err) != FG_OK ||
        fg_registry_finish(fuzz_reg, &err) != FG_OK ||
        fg_validator_new(fuzz_reg, &o, &fuzz_val, &err) != FG_OK)
        abort();
    return fuzz_val;
}

/* Free what fuzz_validator loaded (for the corpus replay under ASan). */
__attribute__((unused)) static void fuzz_validate_cleanup(void)
{
    fg_validator_free(fuzz_val);
    fg_registry_free(fuzz_reg);
    fuzz_val = NULL;
    fuzz_reg = NULL;
}

static void check_list(const fg_issue_list *l)
{
    size_t errors = 0, warnings = 0;
    for (size_t i = 0; i < l->count; i++) {
        const fg_issue *is = &l->items[i];
        if ((unsigned)is->severity > FG_SEV_INFORMATION || (unsigned)is->check >= FG_CHECK_COUNT_)
            abort();
        if (!is->path || !is->message || !is->message[0] || !is->type)
            abort();
        if (is->severity <= FG_SEV_ERROR)
            errors++;
        else if (is->severity == FG_SEV_WARNING)
            warnings++;
    }
    if (errors != l->errors || warnings != l->warnings)
        abort();
    json_t *oo = fg_issue_list_outcome(l);
    if (!oo)
        abort();
    json_decref(oo);
}

/* libFuzzer calls this once before its timers start: the registry loads
 * here, so a slow load is not mistaken for a hanging input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_validator();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FG_MAX_NDJSON_LINE_BYTES)
        return 0;
    const fg_validator *v = fuzz_validator();
    fg_issue_list a = {0}, b = {0};
    fg_error err;
    fg_error_clear(&err);
    int rc = fg_validate_bytes(v, (const char *)data, size, &a, &err);
    if (rc != FG_OK && rc != FG_ENOMEM)
        abort();
    if (rc == FG_OK) {
        check_list(&a);
        json_error_t jerr;
        /* The same document read by jansson must give the same counts, unless
         * fhirgen's reader refused it: it is stricter than jansson 2.14 in
         * ways tests/fuzz/fuzz_jr.c lists (a NUL byte after a token). */
        int refused = a.count > 0 && a.items[0].severity == FG_SEV_FATAL;
        json_t *j = refused ? NULL
                            : json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
        if (json_is_object(j)) {
            rc = fg_validate_json(v, j, &b, &err);
            if (rc == FG_OK) {
                check_list(&b);
                if (a.errors != b.errors || a.warnings != b.warnings)
                    abort(); /* the same document, two answers */
            } else if (rc != FG_ENOMEM) {
                abort();
            }
        }
        json_decref(j);
    }
    fg_issue_list_free(&a);
    fg_issue_list_free(&b);
    return 0;
}
