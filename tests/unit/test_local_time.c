/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_local_time.c: the mapper writes every clinical dateTime in the
 * patient's local time with its offset: the history's own zone, else the
 * zone of the address's state (data/tables/states.tsv), else UTC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_data.h"
#include "fhir/term/fg_term.h"
#include "generators/history/fg_history.h"
#include "generators/map/fg_mapper.h"

#define COMPLETE_HISTORY "tests/data/history/valid/complete.json"

static void test_local_times(void **state)
{
    (void)state;
    static const struct {
        fg_tz tz;
        const char *usps, *start;
    } cases[] = {
        /* the document's own zone, New York: 2020-03-02T09:00:00Z is 04:00 EST */
        {{"America/New_York", -300, 1967}, "MA", "\"start\":\"2020-03-02T04:00:00-05:00\""},
        /* no zone: the state's (MA, New York) */
        {{NULL, 0, 0}, "MA", "\"start\":\"2020-03-02T04:00:00-05:00\""},
        {{NULL, 0, 0}, "AZ", "\"start\":\"2020-03-02T02:00:00-07:00\""},
        /* June, daylight time in Chicago, none in Phoenix */
        {{"America/Chicago", -360, 1967}, "MA", "\"start\":\"2020-06-01T09:00:00-05:00\""},
        {{"America/Phoenix", -420, 0}, "MA", "\"start\":\"2020-06-01T07:00:00-07:00\""},
        /* neither: UTC */
        {{NULL, 0, 0}, NULL, "\"start\":\"2020-03-02T09:00:00Z\""},
    };
    char dir[4096], *text = NULL;
    size_t len = 0;
    fg_error err;
    fg_terminology *terms = NULL;
    fg_mapper *m = NULL;
    fg_data_path("terminology", dir, sizeof(dir));
    if (fg_terminology_load(dir, &terms, &err) != FG_OK ||
        fg_mapper_new(terms, NULL, &m, &err) != FG_OK ||
        fg_read_file(COMPLETE_HISTORY, 1u << 24, &text, &len, &err) != FG_OK)
        fail_msg("%s: %s", err.where, err.text);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fg_history h;
        fg_buf out;
        fg_history_init(&h);
        fg_buf_init(&out);
        if (fg_history_parse(&h, text, len, COMPLETE_HISTORY, &err) != FG_OK)
            fail_msg("%s: %s", err.where, err.text);
        h.patient.tz = cases[i].tz;
        h.patient.address.state = cases[i].usps;
        if (fg_map_bundle(m, &h, &out, NULL, &err) != FG_OK)
            fail_msg("%s: %s", err.where, err.text);
        if (!strstr(out.data, cases[i].start))
            fail_msg("case %zu: no %s", i, cases[i].start);
        /* dates stay dates */
        assert_non_null(strstr(out.data, "\"birthDate\":\"1970-04-12\""));
        fg_buf_free(&out);
        fg_history_free(&h);
    }
    free(text);
    fg_mapper_free(m);
    fg_terminology_free(terms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
