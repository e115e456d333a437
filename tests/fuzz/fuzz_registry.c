/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_registry.c: libFuzzer target for what the registry reads from
 * package files: the trimming pass that runs before parsing, and the
 * compiling of whatever resource the text turns out to be.
 *
 * Properties: trimming never crashes, gives the same text in place as into
 * a copy and, when the original is valid JSON, either gives up or yields
 * valid JSON; a resource (read with fg_jr, as the registry reads package
 * files) either adds and finishes, or fails with an FG_* code. Built with
 * clang when meson is set up with -Dfuzzing=true:
 *     build/tests/fuzz_registry tests/fuzz/corpus-registry
 * Without a fuzzer, tests/unit/test_registry.c replays the corpus through
 * the same function.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/json/fg_jr.h"
#include "profiles/fg_registry.h"
#include "profiles/registry_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fg_arena arena;
    fg_arena_init(&arena);
    const fg_jv *orig = NULL, *t = NULL;
    if (fg_jr_parse(&arena, (const char *)data, size, &orig, NULL) != FG_OK)
        orig = NULL;
    size_t tlen = 0;
    char *trimmed = fgr_json_trim((const char *)data, size, &tlen);
    if (trimmed && orig && fg_jr_parse(&arena, trimmed, tlen, &t, NULL) != FG_OK)
        abort(); /* trimming broke valid JSON */
    /* Trimming in place (as the registry reads package files) gives the
     * same text as trimming into a copy. */
    char *inplace = malloc(size + 1);
    if (inplace) {
        if (size)
            memcpy(inplace, data, size);
        size_t n = fgr_json_trim_to(inplace, inplace, size);
        if ((n == (size_t)-1) != (trimmed == NULL) ||
            (trimmed && (n != tlen || memcmp(inplace, trimmed, n) != 0)))
            abort();
        free(inplace);
    }
    free(trimmed);
    if (fg_jv_is_object(orig)) {
        fg_registry *reg = NULL;
        fg_error err;
        if (fg_registry_new(&reg, &err) == FG_OK) {
            if (fg_registry_add_jv(reg, orig, "fuzz", &err) == FG_OK)
                (void)fg_registry_finish(reg, &err);
            fg_registry_free(reg);
        }
    }
    fg_arena_free(&arena); /* after the registry, which borrowed from it */
    return 0;
}
