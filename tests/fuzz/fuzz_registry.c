/*
 * fuzz_registry.c: libFuzzer target for what the registry reads from
 * package files: the trimming pass that runs before parsing, and the
 * compiling of whatever resource the text turns out to be.
 *
 * Properties: trimming never crashes and, when the original is valid JSON,
 * either gives up or yields valid JSON; a resource either adds and
 * finishes, or fails with an FG_* code. Built with clang when meson is set
 * up with -Dfuzzing=true:
 *     build/tests/fuzz_registry tests/fuzz/corpus-registry
 * Without a fuzzer, tests/unit/test_registry.c replays the corpus through
 * the same function.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "profiles/fg_registry.h"
#include "profiles/registry_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *orig = json_loadb((const char *)data, size, 0, &jerr);
    size_t tlen = 0;
    char *trimmed = fgr_json_trim((const char *)data, size, &tlen);
    if (trimmed && orig) {
        json_t *t = json_loadb(trimmed, tlen, 0, &jerr);
        if (!t)
            abort(); /* trimming broke valid JSON */
        json_decref(t);
    }
    free(trimmed);
    if (json_is_object(orig)) {
        fg_registry *reg = NULL;
        fg_error err;
        if (fg_registry_new(&reg, &err) == FG_OK) {
            if (fg_registry_add(reg, orig, "fuzz", &err) == FG_OK)
                (void)fg_registry_finish(reg, &err);
            fg_registry_free(reg);
        }
    }
    json_decref(orig);
    return 0;
}
