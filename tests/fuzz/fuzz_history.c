/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_history.c: libFuzzer target for the history parser.
 *
 * Any input must be either rejected with an error or accepted; an accepted
 * document must write, parse back and write again to the same bytes. Built
 * with clang when meson is set up with -Dfuzzing=true:
 *     build/tests/fuzz_history tests/fuzz/corpus/history tests/data/history/valid
 * Without a fuzzer, tests/unit/test_history_corpus.c replays the corpus
 * through the same function.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"
#include "generators/history/fg_history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_or_die(const fg_history *h, fg_buf *out)
{
    if (fg_history_write(h, out) != FG_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fg_history h, back;
    fg_buf first, second;
    fg_error err;
    fg_history_init(&h);
    fg_history_init(&back);
    fg_buf_init(&first);
    fg_buf_init(&second);
    int rc = fg_history_parse(&h, (const char *)data, size, "fuzz", &err);
    if (rc == FG_OK) {
        write_or_die(&h, &first);
        if (fg_history_parse(&back, first.data, first.len, "written", &err) != FG_OK)
            abort(); /* the writer produced something the parser refuses */
        write_or_die(&back, &second);
        if (first.len != second.len || memcmp(first.data, second.data, first.len) != 0)
            abort(); /* not a fixed point */
    } else if (rc != err.code || !err.where[0] || !err.text[0]) {
        abort(); /* every rejection says where and why */
    }
    fg_buf_free(&first);
    fg_buf_free(&second);
    fg_history_free(&h);
    fg_history_free(&back);
    return 0;
}
