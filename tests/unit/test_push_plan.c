/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of push/push_plan.c (a bundle cut into chunks that stand alone) and
 * of the reading of size limits in server answers (push_chunks.c). No
 * network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "push/fg_push.h"
#include "push/push_private.h"

#define LEN(s) s, strlen(s)

#define U_PAT "urn:uuid:00000000-0000-4000-8000-000000000001"
#define U_ORG "urn:uuid:00000000-0000-4000-8000-000000000002"
#define U_ENC "urn:uuid:00000000-0000-4000-8000-000000000003"
#define U_OBS "urn:uuid:00000000-0000-4000-8000-000000000004"
#define U_DR "urn:uuid:00000000-0000-4000-8000-000000000005"

/* A transaction written in an order no server with referential integrity
 * takes chunk by chunk: the report before its result, the encounter before
 * its patient, the organization (a conditional create) in the middle. */
static const char BUNDLE[] =
    "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
    "{\"fullUrl\":\"" U_DR "\",\"resource\":{\"resourceType\":\"DiagnosticReport\","
    "\"id\":\"00000000-0000-4000-8000-000000000005\",\"subject\":{\"reference\":\"" U_PAT "\"},"
    "\"result\":[{\"reference\":\"" U_OBS "\"}]},"
    "\"request\":{\"method\":\"PUT\",\"url\":\"DiagnosticReport/00000000-0000-4000-8000-000000000005\"}},"
    "{\"fullUrl\":\"" U_ENC "\",\"resource\":{\"resourceType\":\"Encounter\","
    "\"subject\":{\"reference\":\"" U_PAT "\"},\"serviceProvider\":{\"reference\":\"" U_ORG "\"}},"
    "\"request\":{\"method\":\"POST\",\"url\":\"Encounter\"}},"
    "{\"fullUrl\":\"" U_ORG "\",\"resource\":{\"resourceType\":\"Organization\",\"name\":\"X\"},"
    "\"request\":{\"method\":\"POST\",\"url\":\"Organization\","
    "\"ifNoneExist\":\"identifier=http://hl7.org/fhir/sid/us-npi|1234567893\"}},"
    "{\"fullUrl\":\"" U_PAT "\",\"resource\":{\"resourceType\":\"Patient\","
    "\"id\":\"00000000-0000-4000-8000-000000000001\"},"
    "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/00000000-0000-4000-8000-000000000001\"}},"
    "{\"fullUrl\":\"" U_OBS "\",\"resource\":{\"resourceType\":\"Observation\","
    "\"id\":\"00000000-0000-4000-8000-000000000004\",\"subject\":{\"reference\":\"" U_PAT "\"},"
    "\"encounter\":{\"reference\":\"" U_ENC "\"}},"
    "\"request\":{\"method\":\"PUT\",\"url\":\"Observation/00000000-0000-4000-8000-000000000004\"}}"
    "]}";

/* The resourceType of entry i of the Bundle text b. */
static const char *type_at(json_t *b, size_t i)
{
    return json_string_value(
        json_object_get(json_object_get(json_array_get(json_object_get(b, "entry"), i), "resource"),
                        "resourceType"));
}

static json_t *chunk(push_plan *p, size_t from, size_t to, int batch)
{
    size_t pos[16];
    for (size_t i = from; i < to; i++)
        pos[i - from] = i;
    fg_buf out;
    fg_buf_init(&out);
    fg_error e;
    fg_error_clear(&e);
    assert_int_equal(push_plan_chunk(p, pos, to - from, batch, &out, &e), FG_OK);
    json_t *b = json_loadb(out.data, out.len, 0, NULL);
    assert_non_null(b);
    fg_buf_free(&out);
    return b;
}

static void test_order(void **state)
{
    (void)state;
    push_plan *p = NULL;
    fg_error e;
    fg_error_clear(&e);
    assert_int_equal(push_plan_new(LEN(BUNDLE), &p, &e), FG_OK);
    assert_int_equal(push_plan_size(p), 5);
    /* the conditional create first, alone in its group */
    assert_int_equal(push_plan_n_resolve(p), 1);
    assert_string_equal(push_plan_key(p, 0),
                        "Organization?identifier=http://hl7.org/fhir/sid/us-npi|1234567893");
    assert_true(push_plan_shared(p, 0));
    assert_null(push_plan_target(p, 0));
    /* then each resource after what it references */
    assert_string_equal(push_plan_target(p, 1), "Patient/00000000-0000-4000-8000-000000000001");
    assert_string_equal(push_plan_target(p, 2), "Encounter/00000000-0000-4000-8000-000000000003");
    assert_string_equal(push_plan_target(p, 3), "Observation/00000000-0000-4000-8000-000000000004");
    assert_string_equal(push_plan_target(p, 4),
                        "DiagnosticReport/00000000-0000-4000-8000-000000000005");
    /* chunks never mix the groups */
    assert_int_equal(push_plan_chunk_end(p, 0, 10), 1);
    assert_int_equal(push_plan_chunk_end(p, 1, 2), 3);
    assert_int_equal(push_plan_chunk_end(p, 3, 10), 5);
    push_plan_free(p);
}

static void test_rewrite(void **state)
{
    (void)state;
    push_plan *p = NULL;
    fg_error e;
    fg_error_clear(&e);
    assert_int_equal(push_plan_new(LEN(BUNDLE), &p, &e), FG_OK);
    assert_int_equal(push_plan_set_target(p, 0, "Organization/77"), FG_OK);

    /* a transaction of Patient and Encounter: the reference between them
     * stays a urn:uuid, the one to the organization (sent before) is its id;
     * the plain create of the encounter became an update of its uuid */
    json_t *b = chunk(p, 1, 3, 0);
    assert_string_equal(json_string_value(json_object_get(b, "type")), "transaction");
    assert_string_equal(type_at(b, 0), "Patient");
    json_t *enc = json_array_get(json_object_get(b, "entry"), 1);
    json_t *res = json_object_get(enc, "resource");
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "subject"),
                                                          "reference")), U_PAT);
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "serviceProvider"),
                                                          "reference")), "Organization/77");
    assert_string_equal(json_string_value(json_object_get(res, "id")),
                        "00000000-0000-4000-8000-000000000003");
    json_t *req = json_object_get(enc, "request");
    assert_string_equal(json_string_value(json_object_get(req, "method")), "PUT");
    assert_string_equal(json_string_value(json_object_get(req, "url")),
                        "Encounter/00000000-0000-4000-8000-000000000003");
    json_decref(b);

    /* the same as a batch: every reference is Type/id */
    b = chunk(p, 1, 3, 1);
    assert_string_equal(json_string_value(json_object_get(b, "type")), "batch");
    res = json_object_get(json_array_get(json_object_get(b, "entry"), 1), "resource");
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "subject"),
                                                          "reference")),
                        "Patient/00000000-0000-4000-8000-000000000001");
    json_decref(b);

    /* a later chunk refers to the earlier ones by id */
    b = chunk(p, 3, 5, 0);
    res = json_object_get(json_array_get(json_object_get(b, "entry"), 0), "resource");
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "encounter"),
                                                          "reference")),
                        "Encounter/00000000-0000-4000-8000-000000000003");
    res = json_object_get(json_array_get(json_object_get(b, "entry"), 1), "resource");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(res, "result"), 0), "reference")),
                        U_OBS);
    json_decref(b);
    push_plan_free(p);
}

static void test_refusals(void **state)
{
    (void)state;
    push_plan *p = NULL;
    fg_error e;
    fg_error_clear(&e);
    /* a create with no uuid to become an update could land twice */
    const char *anon = "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
                       "{\"resource\":{\"resourceType\":\"Patient\"},"
                       "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}";
    assert_int_equal(push_plan_new(LEN(anon), &p, &e), FG_EINVALID);
    assert_non_null(strstr(e.text, "entry[0]"));
    assert_int_equal(push_plan_new(LEN("{\"resourceType\":\"Bundle\",\"type\":\"collection\"}"),
                                   &p, &e), FG_EINVALID);
    assert_int_equal(push_plan_new(LEN("[1"), &p, &e), FG_EINVALID);
    assert_null(p);
}

/* A reference cycle (legal in one transaction) stays in one chunk. */
static void test_cycle(void **state)
{
    (void)state;
    const char *cyc =
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
        "{\"fullUrl\":\"" U_PAT "\",\"resource\":{\"resourceType\":\"Patient\"},"
        "\"request\":{\"method\":\"PUT\",\"url\":\"Patient/1\"}},"
        "{\"fullUrl\":\"" U_ENC "\",\"resource\":{\"resourceType\":\"Encounter\","
        "\"diagnosis\":[{\"condition\":{\"reference\":\"" U_OBS "\"}}]},"
        "\"request\":{\"method\":\"PUT\",\"url\":\"Encounter/3\"}},"
        "{\"fullUrl\":\"" U_OBS "\",\"resource\":{\"resourceType\":\"Condition\","
        "\"encounter\":{\"reference\":\"" U_ENC "\"}},"
        "\"request\":{\"method\":\"PUT\",\"url\":\"Condition/4\"}}]}";
    push_plan *p = NULL;
    fg_error e;
    fg_error_clear(&e);
    assert_int_equal(push_plan_new(LEN(cyc), &p, &e), FG_OK);
    assert_string_equal(push_plan_target(p, 0), "Patient/1");
    assert_int_equal(push_plan_chunk_end(p, 0, 2), 1); /* the cycle waits for a chunk of its own */
    assert_int_equal(push_plan_chunk_end(p, 1, 2), 3);
    push_plan_free(p);
}

static void test_limits(void **state)
{
    (void)state;
    int iso;
    assert_int_equal(push_limit_named(400, "error processing: Transaction contains more "
                                           "update operations than allowed", &iso), 50);
    assert_false(iso);
    assert_int_equal(push_limit_named(400, "Transaction requires strict isolation but has too "
                                           "many entries", &iso), 8);
    assert_true(iso);
    assert_int_equal(push_limit_named(413, "Bundle has 1246 entries; this server accepts at most "
                                           "100 entries per bundle", &iso), 100);
    assert_int_equal(push_limit_named(400, "The number of entries in the bundle exceeded the "
                                           "configured limit of 500.", &iso), 500);
    assert_int_equal(push_limit_named(413, "Payload Too Large", &iso), 0);
    assert_int_equal(push_limit_named(400, "Observation.status: minimum required = 1", &iso), -1);
    assert_int_equal(push_limit_named(500, "bundle too large", &iso), -1);
}

static void test_mode_names(void **state)
{
    (void)state;
    fg_push_mode m;
    for (int i = FG_PUSH_AUTO; i <= FG_PUSH_BATCH; i++) {
        assert_int_equal(fg_push_mode_parse(fg_push_mode_name((fg_push_mode)i), &m), FG_OK);
        assert_int_equal(m, i);
    }
    assert_int_equal(fg_push_mode_parse("chunks", &m), FG_EUSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),    cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_limits),   cmocka_unit_test(test_mode_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
