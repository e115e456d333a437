/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the referential-integrity checker, on the hand-made
 * bundles and NDJSON files of tests/data/refcheck/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "validators/fg_refcheck.h"

#define DIR "tests/data/refcheck/"

typedef struct seen {
    int calls;
} seen;

static void count_issue(void *ud, const fg_refcheck_issue *is)
{
    ((seen *)ud)->calls++;
    assert_non_null(is->path);
    assert_non_null(is->message);
}

/* Feed the files in order to a new checker, finish, and return it. */
static fg_refcheck *check_files(const char *const *files, fg_refcheck_summary *sum, seen *s)
{
    fg_refcheck *rc = NULL;
    fg_error err;
    assert_int_equal(fg_refcheck_new(count_issue, s, &rc, &err), FG_OK);
    for (size_t i = 0; files[i]; i++) {
        int r = fg_refcheck_file(rc, files[i], &err);
        if (r != FG_OK)
            fail_msg("%s: %s: %s", files[i], err.where, err.text);
    }
    assert_int_equal(fg_refcheck_finish(rc, sum, &err), FG_OK);
    return rc;
}

/* The one issue of severity sev whose path is path and whose message
 * contains word; fails unless exactly one matches. */
static void expect_issue(const fg_refcheck *rc, fg_refcheck_severity sev, const char *path,
                         const char *word)
{
    size_t n, hits = 0;
    const fg_refcheck_issue *is = fg_refcheck_issues(rc, &n);
    for (size_t i = 0; i < n; i++)
        if (is[i].severity == sev && strcmp(is[i].path, path) == 0 && strstr(is[i].message, word))
            hits++;
    if (hits != 1) {
        for (size_t i = 0; i < n; i++)
            print_message("  %s %s: %s\n", is[i].file, is[i].path, is[i].message);
        fail_msg("expected one issue at %s mentioning '%s', found %zu", path, word, hits);
    }
}

static void test_valid_cohort(void **state)
{
    (void)state;
    const char *files[] = {DIR "valid-1.json", DIR "valid-2.json", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    assert_int_equal(sum.errors, 0);
    assert_int_equal(sum.warnings, 0);
    assert_int_equal(s.calls, 0);
    assert_int_equal(sum.bundles, 2);
    assert_int_equal(sum.files, 2);
    assert_int_equal(sum.resources, 8);
    /* per bundle: Encounter subject + serviceProvider, Observation subject,
     * encounter and the contained performer */
    assert_int_equal(sum.references, 10);
    assert_int_equal(sum.identifiers, 4);
    fg_refcheck_free(rc);
}

static void test_dangling_reference(void **state)
{
    (void)state;
    const char *files[] = {DIR "dangling-reference.json", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    assert_int_equal(sum.errors, 1);
    assert_int_equal(s.calls, 1);
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[3].resource.subject.reference", "fullUrl");
    size_t n;
    const fg_refcheck_issue *is = fg_refcheck_issues(rc, &n);
    assert_string_equal(is[0].file, DIR "dangling-reference.json");
    assert_int_equal(is[0].line, 0);
    fg_refcheck_free(rc);
}

static void test_duplicate_fullurl(void **state)
{
    (void)state;
    const char *files[] = {DIR "duplicate-fullurl.json", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[3].fullUrl", "already used by entry[2]");
    /* the entry's own id no longer matches its urn:uuid */
    expect_issue(rc, FG_REFCHECK_WARNING, "Bundle.entry[3].fullUrl", "does not carry the id");
    assert_int_equal(sum.errors, 1);
    fg_refcheck_free(rc);
}

static void test_duplicate_identifier_across_bundles(void **state)
{
    (void)state;
    const char *files[] = {DIR "valid-1.json", DIR "duplicate-identifier.json", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[1].resource.identifier[0]",
                 "valid-1.json entry[1]");
    assert_int_equal(sum.errors, 1);
    fg_refcheck_free(rc);
}

static void test_duplicate_id_across_bundles(void **state)
{
    (void)state;
    const char *files[] = {DIR "valid-1.json", DIR "duplicate-id.json", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[2].resource.id", "ids must be unique");
    assert_int_equal(sum.errors, 1);
    fg_refcheck_free(rc);
}

static void test_missing_request(void **state)
{
    (void)state;
    const char *files[] = {DIR "missing-request.json", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[2].request", "needs a request");
    assert_int_equal(sum.errors, 1);
    fg_refcheck_free(rc);
}

static void test_put_url_mismatch(void **state)
{
    (void)state;
    const char *files[] = {DIR "put-url-mismatch.json", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[1].request.url", "Patient/other-id");
    assert_int_equal(sum.errors, 1);
    fg_refcheck_free(rc);
}

static void test_shared_resource_differs(void **state)
{
    (void)state;
    const char *files[] = {DIR "valid-1.json", DIR "valid-2.json", DIR "shared-differs.json",
                           NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[0].resource.id", "byte-identical");
    assert_int_equal(sum.errors, 1);
    fg_refcheck_free(rc);
}

static void test_missing_meta(void **state)
{
    (void)state;
    const char *files[] = {DIR "missing-meta.json", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[3].resource.meta.security", "HTEST");
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[2].resource.meta.profile", "profile");
    assert_int_equal(sum.errors, 2);
    fg_refcheck_free(rc);
}

static void test_conditional_and_contained(void **state)
{
    (void)state;
    const char *files[] = {DIR "conditional-reference.json", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[3].resource.subject.reference",
                 "conditional");
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.entry[3].resource.performer[0].reference",
                 "contained");
    assert_int_equal(sum.errors, 2);
    fg_refcheck_free(rc);
}

static void test_ndjson_resolved_at_the_end(void **state)
{
    (void)state;
    /* Observations come first: their targets are only known at the end. */
    const char *files[] = {DIR "ndjson/Observation.ndjson", DIR "ndjson/Encounter.ndjson",
                           DIR "ndjson/Patient.ndjson", DIR "ndjson/Organization.ndjson", NULL};
    fg_refcheck_summary sum;
    seen s = {0};
    fg_refcheck *rc = check_files(files, &sum, &s);
    assert_int_equal(sum.resources, 8);
    assert_int_equal(sum.errors, 1);
    expect_issue(rc, FG_REFCHECK_ERROR, "Observation.subject.reference", "999");
    size_t n;
    const fg_refcheck_issue *is = fg_refcheck_issues(rc, &n);
    assert_int_equal(is[0].line, 3);
    assert_string_equal(is[0].file, DIR "ndjson/Observation.ndjson");
    fg_refcheck_free(rc);
}

static void test_text_and_json_entry_points(void **state)
{
    (void)state;
    fg_refcheck *rc = NULL;
    fg_error err;
    fg_refcheck_summary sum;
    assert_int_equal(fg_refcheck_new(NULL, NULL, &rc, &err), FG_OK);
    const char *bad = "\n{not json}\n";
    assert_int_equal(fg_refcheck_text(rc, bad, strlen(bad), 1, "inline", &err), FG_EINVALID);
    json_t *notbundle = json_pack("{s:s}", "resourceType", "Patient");
    assert_int_equal(fg_refcheck_bundle(rc, notbundle, "x", &err), FG_EINVALID);
    json_decref(notbundle);
    /* an urn:uuid reference means nothing in bulk data */
    json_t *obs = json_pack("{s:s,s:s,s:{s:[s],s:[{s:s,s:s}]},s:{s:s}}", "resourceType",
                            "Observation", "id", "o1", "meta", "profile", "p", "security",
                            "system", "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                            "code", "HTEST", "subject", "reference", "urn:uuid:abc");
    assert_int_equal(fg_refcheck_resource(rc, obs, "lines", 7, &err), FG_OK);
    json_decref(obs);
    assert_int_equal(fg_refcheck_finish(rc, &sum, &err), FG_OK);
    expect_issue(rc, FG_REFCHECK_ERROR, "Observation.subject.reference", "Type/id");
    expect_issue(rc, FG_REFCHECK_ERROR, "Bundle.resourceType", "not a Bundle");
    expect_issue(rc, FG_REFCHECK_ERROR, "", "not JSON");
    assert_int_equal(sum.errors, 3);
    size_t n;
    const fg_refcheck_issue *is = fg_refcheck_issues(rc, &n);
    assert_int_equal(is[0].line, 2);
    assert_int_equal(fg_refcheck_file(rc, DIR "no-such-file.json", &err), FG_ENOTFOUND);
    fg_refcheck_free(rc);
    fg_refcheck_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_cohort),
        cmocka_unit_test(test_dangling_reference),
        cmocka_unit_test(test_duplicate_fullurl),
        cmocka_unit_test(test_duplicate_identifier_across_bundles),
        cmocka_unit_test(test_duplicate_id_across_bundles),
        cmocka_unit_test(test_missing_request),
        cmocka_unit_test(test_put_url_mismatch),
        cmocka_unit_test(test_shared_resource_differs),
        cmocka_unit_test(test_missing_meta),
        cmocka_unit_test(test_conditional_and_contained),
        cmocka_unit_test(test_ndjson_resolved_at_the_end),
        cmocka_unit_test(test_text_and_json_entry_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
