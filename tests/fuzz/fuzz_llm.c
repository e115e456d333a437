/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_llm.c: libFuzzer target for what the LLM client reads from servers:
 * the SSE parser with both protocols' stream events, whole answers of both
 * protocols, error bodies, and the JSON found in a model's text.
 *
 * The first byte picks the reader; the rest is the input. A stream is fed
 * in chunks whose sizes come from the second byte, so lines and CRLFs split
 * at every place. Nothing may crash, leak or read out of bounds. Built with
 * clang when meson is set up with -Dfuzzing=true:
 *     build/tests/fuzz_llm tests/fuzz/corpus-llm
 * Without a fuzzer, tests/unit/test_llm.c replays the corpus through the
 * same function.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generators/llm/llm_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void stream(int anthropic, const char *p, size_t n, size_t chunk)
{
    llm_answer a;
    llm_sse s;
    fg_error err;
    llm_answer_init(&a);
    llm_sse_init(&s, 4096, 1 << 20);
    llm_sse_fn fn = anthropic ? llm_anthropic_event : llm_openai_event;
    int rc = FG_OK;
    for (size_t i = 0; i < n && rc == FG_OK; i += chunk)
        rc = llm_sse_feed(&s, p + i, n - i < chunk ? n - i : chunk, fn, &a, &err);
    if (rc == FG_OK)
        llm_sse_end(&s, fn, &a, &err);
    if (anthropic)
        llm_anthropic_finish(&a);
    if (a.text.len && a.text.data[a.text.len] != 0)
        abort();
    llm_sse_free(&s);
    llm_answer_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int mode = data[0] % 6;
    size_t chunk = (size_t)data[1] % 17 + 1;
    const char *p = (const char *)data + 2;
    size_t n = size - 2;
    llm_answer a;
    fg_error err;
    char out[300];
    size_t off, len;
    switch (mode) {
    case 0:
    case 1:
        stream(mode, p, n, chunk);
        break;
    case 2:
    case 3:
        llm_answer_init(&a);
        if (mode == 2)
            llm_openai_parse(p, n, &a, &err);
        else
            llm_anthropic_parse(p, n, &a, &err);
        llm_answer_free(&a);
        break;
    case 4:
        llm_error_text(p, n, chunk & 1 ? "text/html" : NULL, out, sizeof(out));
        if (strlen(out) >= sizeof(out) || strchr(out, '\n'))
            abort();
        break;
    default:
        if (llm_extract_json(p, n, &off, &len) && (off + len > n || p[off] != '{'))
            abort();
        break;
    }
    return 0;
}
