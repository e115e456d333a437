/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_fhirpath.c: libFuzzer target for the FHIRPath compiler and evaluator.
 *
 * The input is an expression. It must either be refused with an error or
 * compile; a compiled expression is then evaluated on a fixed resource
 * (with contained resources, primitive extensions, choice elements and a
 * narrative) and must return a result or an error, never crash. Built with
 * clang when meson is set up with -Dfuzzing=true:
 *     build/tests/fuzz_fhirpath tests/fuzz/corpus-fhirpath
 * Without a fuzzer, tests/unit/test_fhirpath.c replays the corpus through
 * the same function.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fhir/base/fg_error.h"
#include "fhir/fhirpath/fg_fhirpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_resource[] =
    "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\","
    "\"meta\":{\"security\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActReason\","
    "\"code\":\"HTEST\"}]},"
    "\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">"
    "<p>x</p></div>\"},"
    "\"contained\":[{\"resourceType\":\"Patient\",\"id\":\"p\",\"name\":[{\"given\":[\"A\",null],"
    "\"_given\":[null,{\"extension\":[{\"url\":\"u\",\"valueString\":\"v\"}]}]}]}],"
    "\"subject\":{\"reference\":\"#p\"},\"effectiveDateTime\":\"2020-01-02T03:04:05Z\","
    "\"valueQuantity\":{\"value\":1.5,\"unit\":\"mg\",\"system\":\"http://unitsofmeasure.org\","
    "\"code\":\"mg\"},\"component\":[{\"code\":{\"text\":\"a\"},\"valueInteger\":3},"
    "{\"code\":{\"text\":\"b\"},\"valueString\":\"s\"}]}";

static const fg_jv *fuzz_resolve(void *ctx, const fg_jv *from, const char *ref)
{
    (void)ctx;
    const fg_jv *contained = fg_jv_get(from, "contained");
    if (ref[0] != '#')
        return NULL;
    for (size_t k = 0; k < fg_jv_array_size(contained); k++) {
        const fg_jv *c = fg_jv_at(contained, k);
        const char *id = fg_jv_str(fg_jv_get(c, "id"));
        if (id && strcmp(id, ref + 1) == 0)
            return c;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fg_arena arena;
    static const fg_jv *res;
    if (!res) {
        fg_jr_error jerr;
        if (fg_jr_parse(&arena, fuzz_resource, strlen(fuzz_resource), &res, &jerr) != FG_OK)
            abort();
    }
    if (size > 20000)
        return 0;
    char *expr = malloc(size + 1);
    if (!expr)
        return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    fg_fhirpath *fp = NULL;
    fg_error err;
    int rc = fg_fhirpath_compile(expr, &fp, &err);
    if (rc == FG_OK) {
        fg_fhirpath_env env = {.resource = res, .root_resource = res, .resolve = fuzz_resolve};
        int b = 0;
        json_t *out = NULL;
        (void)fg_fhirpath_eval_bool(fp, res, NULL, &env, &b, &err);
        if (fg_fhirpath_eval_json(fp, res, NULL, &env, &out, &err) == FG_OK && !json_is_array(out))
            abort();
        json_decref(out);
        if (strcmp(fg_fhirpath_text(fp), expr) != 0)
            abort();
    } else if (rc != FG_EINVALID && rc != FG_ENOTFOUND && rc != FG_ELIMIT) {
        abort();
    }
    fg_fhirpath_free(fp);
    free(expr);
    return 0;
}
