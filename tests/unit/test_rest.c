/* Tests of fhir/rest.c and fhir/rest_journal.c: what servers answer, the
 * backoff schedule, the journal and redaction of secrets. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fhir/fg_limits.h"
#include "fhir/fg_rest.h"

#define LEN(s) s, strlen(s)

static void test_retry_after(void **state)
{
    (void)state;
    double w = -1;
    assert_int_equal(fg_rest_parse_retry_after("120", 0, &w), FG_OK);
    assert_true(w == 120.0);
    assert_int_equal(fg_rest_parse_retry_after(" 0\r\n", 0, &w), FG_OK);
    assert_true(w == 0.0);
    assert_int_equal(fg_rest_parse_retry_after("999999999999", 0, &w), FG_OK);
    assert_true(w == FG_MAX_RETRY_AFTER_S);
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    assert_int_equal(fg_rest_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 30, &w),
                     FG_OK);
    assert_true(w == 30.0);
    assert_int_equal(fg_rest_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 5, &w),
                     FG_OK);
    assert_true(w == 0.0);
    w = 7;
    assert_int_equal(fg_rest_parse_retry_after("", 0, &w), FG_EINVALID);
    assert_int_equal(fg_rest_parse_retry_after("soon", 0, &w), FG_EINVALID);
    assert_int_equal(fg_rest_parse_retry_after("12s", 0, &w), FG_EINVALID);
    assert_int_equal(fg_rest_parse_retry_after("-5", 0, &w), FG_EINVALID);
    assert_int_equal(fg_rest_parse_retry_after("Xyz, 99 Foo 20 nonsense", 0, &w), FG_EINVALID);
    assert_int_equal(fg_rest_parse_retry_after(NULL, 0, &w), FG_EINVALID);
    assert_true(w == 7);
}

static void test_backoff(void **state)
{
    (void)state;
    double base = FG_PUSH_BACKOFF_BASE_MS / 1000.0, cap = FG_PUSH_BACKOFF_CAP_MS / 1000.0;
    for (int a = 1; a <= 20; a++) {
        double ceil = base;
        for (int i = 1; i < a && ceil < cap; i++)
            ceil *= 2;
        if (ceil > cap)
            ceil = cap;
        for (double r = 0; r < 1; r += 0.125) {
            double w = fg_rest_backoff(a, r);
            assert_true(w >= ceil / 2 - 1e-9);
            assert_true(w <= ceil + 1e-9);
            assert_true(w <= cap + 1e-9);
        }
    }
    assert_true(fg_rest_backoff(2, 0.5) > fg_rest_backoff(1, 0.5));
    assert_true(fg_rest_backoff(0, 5.0) > 0); /* nonsense in, sane out */
    assert_true(fg_rest_status_retryable(429) && fg_rest_status_retryable(503) &&
                fg_rest_status_retryable(408) && fg_rest_status_retryable(0));
    assert_false(fg_rest_status_retryable(400) || fg_rest_status_retryable(401) ||
                 fg_rest_status_retryable(404) || fg_rest_status_retryable(422));
}

static void test_capability(void **state)
{
    (void)state;
    fg_error e;
    const char *r4 = "{\"resourceType\":\"CapabilityStatement\",\"fhirVersion\":\"4.0.1\","
                     "\"rest\":[{\"mode\":\"server\",\"interaction\":[{\"code\":\"batch\"},"
                     "{\"code\":\"transaction\"}]}]}";
    assert_int_equal(fg_rest_check_capability(LEN(r4), &e), FG_OK);
    const char *r5 = "{\"resourceType\":\"CapabilityStatement\",\"fhirVersion\":\"5.0.0\","
                     "\"rest\":[{\"mode\":\"server\",\"interaction\":[{\"code\":\"transaction\"}]}]}";
    fg_error_clear(&e);
    assert_int_equal(fg_rest_check_capability(LEN(r5), &e), FG_EINVALID);
    assert_non_null(strstr(e.text, "5.0.0"));
    assert_non_null(strstr(e.text, "R4"));
    const char *notx = "{\"resourceType\":\"CapabilityStatement\",\"fhirVersion\":\"4.0.1\","
                       "\"rest\":[{\"mode\":\"server\",\"interaction\":[{\"code\":\"batch\"}]}]}";
    fg_error_clear(&e);
    assert_int_equal(fg_rest_check_capability(LEN(notx), &e), FG_EINVALID);
    assert_non_null(strstr(e.text, "transaction"));
    const char *oo = "{\"resourceType\":\"OperationOutcome\"}";
    assert_int_equal(fg_rest_check_capability(LEN(oo), &e), FG_EINVALID);
    assert_int_equal(fg_rest_check_capability(LEN("{not json"), &e), FG_EINVALID);
}

static void test_body_checks(void **state)
{
    (void)state;
    fg_error e;
    fg_error_clear(&e);
    const char *html = "<!DOCTYPE html><html><body>Login</body></html>";
    assert_int_equal(fg_rest_check_body("text/html", LEN(html), &e), FG_EINVALID);
    assert_non_null(strstr(e.text, "HTML"));
    assert_int_equal(fg_rest_check_body("application/json", LEN(html), &e), FG_EINVALID);
    assert_int_equal(fg_rest_check_body("text/plain", LEN("{}"), &e), FG_EINVALID);
    assert_int_equal(fg_rest_check_body(NULL, LEN("   "), &e), FG_EINVALID);
    assert_int_equal(fg_rest_check_body(NULL, LEN("[1]"), &e), FG_EINVALID);
    assert_int_equal(fg_rest_check_body("application/fhir+json; charset=utf-8", LEN(" {}"), &e),
                     FG_OK);
    assert_int_equal(fg_rest_check_body(NULL, "{}", (size_t)FG_MAX_PUSH_RESPONSE_BYTES + 1, &e),
                     FG_ELIMIT);
}

static void test_tx_response(void **state)
{
    (void)state;
    fg_error e;
    fg_rest_tx_response r;
    const char *ok = "{\"resourceType\":\"Bundle\",\"type\":\"transaction-response\",\"entry\":["
                     "{\"response\":{\"status\":\"201 Created\",\"location\":\"Patient/1/_history/1\"}},"
                     "{\"response\":{\"status\":\"200\",\"location\":\"Organization/9\"}}]}";
    assert_int_equal(fg_rest_parse_tx_response(LEN(ok), &r, &e), FG_OK);
    assert_int_equal(r.n_entries, 2);
    assert_int_equal(r.n_failed, 0);
    assert_int_equal(r.entries[0].status, 201);
    assert_string_equal(r.entries[0].location, "Patient/1/_history/1");
    assert_null(r.entries[1].outcome);
    fg_rest_tx_response_free(&r);

    const char *bad =
        "{\"resourceType\":\"Bundle\",\"type\":\"batch-response\",\"entry\":["
        "{\"response\":{\"status\":\"201 Created\",\"location\":\"Patient/1\"}},"
        "{\"response\":{\"status\":\"400 Bad Request\",\"outcome\":{\"resourceType\":"
        "\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"invalid\","
        "\"expression\":[\"Observation.status\"],\"diagnostics\":\"Missing required property\"}]}}}]}";
    assert_int_equal(fg_rest_parse_tx_response(LEN(bad), &r, &e), FG_OK);
    assert_int_equal(r.n_failed, 1);
    assert_int_equal(r.entries[1].status, 400);
    assert_non_null(r.entries[1].outcome);
    assert_non_null(strstr(r.entries[1].outcome, "error invalid at Observation.status"));
    assert_non_null(strstr(r.entries[1].outcome, "Missing required property"));
    fg_rest_tx_response_free(&r);

    const char *oo = "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\","
                     "\"code\":\"processing\",\"details\":{\"text\":\"Transaction failed\"}}]}";
    fg_error_clear(&e);
    assert_int_equal(fg_rest_parse_tx_response(LEN(oo), &r, &e), FG_EINVALID);
    assert_non_null(strstr(e.text, "OperationOutcome"));
    fg_buf b;
    fg_buf_init(&b);
    fg_rest_outcome_text(LEN(oo), &b);
    assert_string_equal(b.data, "error processing: Transaction failed");
    fg_buf_free(&b);
}

static void test_journal(void **state)
{
    (void)state;
    char path[] = "test_rest_journal_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    fg_error e;
    fg_journal *j = NULL;
    char a[65], b[65];
    fg_rest_sha256_hex("abc", 3, a);
    assert_string_equal(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    fg_rest_sha256_hex("other", 5, b);

    assert_int_equal(fg_journal_open(path, 0, &j, &e), FG_OK);
    assert_false(fg_journal_contains(j, a));
    assert_int_equal(fg_journal_append(j, a, "out/bundles/a b.json", &e), FG_OK);
    assert_true(fg_journal_contains(j, a));
    fg_journal_close(j);

    /* a torn last line, as after a crash mid-write, is not an acknowledgement */
    FILE *f = fopen(path, "a");
    fprintf(f, "%.40s", b);
    fclose(f);

    assert_int_equal(fg_journal_open(path, 1, &j, &e), FG_OK);
    assert_int_equal(fg_journal_count(j), 1);
    assert_true(fg_journal_contains(j, a));
    assert_false(fg_journal_contains(j, b));
    fg_journal_close(j);

    /* without --resume the journal starts over */
    assert_int_equal(fg_journal_open(path, 0, &j, &e), FG_OK);
    assert_false(fg_journal_contains(j, a));
    fg_journal_close(j);
    assert_int_equal(fg_journal_open(path, 1, &j, &e), FG_OK);
    assert_int_equal(fg_journal_count(j), 0);
    /* many entries: the hash set grows */
    for (int i = 0; i < 2000; i++) {
        char sha[65];
        fg_rest_sha256_hex(&i, sizeof(i), sha);
        assert_int_equal(fg_journal_append(j, sha, "x", &e), FG_OK);
    }
    fg_journal_close(j);
    assert_int_equal(fg_journal_open(path, 1, &j, &e), FG_OK);
    assert_int_equal(fg_journal_count(j), 2000);
    int i = 1234;
    char sha[65];
    fg_rest_sha256_hex(&i, sizeof(i), sha);
    assert_true(fg_journal_contains(j, sha));
    fg_journal_close(j);
    unlink(path);

    assert_int_equal(fg_journal_open("no-such-folder/x/journal", 0, &j, &e), FG_EIO);
    assert_non_null(strstr(e.where, "no-such-folder"));
}

static void test_redaction(void **state)
{
    (void)state;
    const char *secret = "s3cr3t-T0ken.value";
    char text[256];
    snprintf(text, sizeof(text), "HTTP 401: token %s refused; Authorization: Bearer %s", secret,
             secret);
    fg_rest_redact(text, sizeof(text), secret);
    assert_null(strstr(text, secret));
    assert_null(strstr(text, "T0ken"));
    assert_non_null(strstr(text, "[redacted]"));

    snprintf(text, sizeof(text), "cannot reach https://alice:hunter2@fhir.example/r4");
    fg_rest_redact(text, sizeof(text), NULL);
    assert_null(strstr(text, "hunter2"));
    assert_non_null(strstr(text, "alice"));

    snprintf(text, sizeof(text), "Bearer abcdefghijklmnop");
    fg_rest_redact(text, sizeof(text), NULL);
    assert_null(strstr(text, "abcdefghijklmnop"));

    snprintf(text, sizeof(text), "short xy here");
    fg_rest_redact(text, sizeof(text), "xy");
    assert_string_equal(text, "short ** here");

    /* the token providers never quote the token in their errors */
    fg_error e;
    fg_token_provider *p = NULL;
    fg_error_clear(&e);
    assert_int_equal(fg_token_static_new("abc def-secret", &p, &e), FG_EINVALID);
    assert_null(strstr(e.text, "def-secret"));
    assert_int_equal(fg_token_static_new("good-token", &p, &e), FG_OK);
    const char *tok = NULL;
    assert_int_equal(p->token(p, 0, &tok, &e), FG_OK);
    assert_string_equal(tok, "good-token");
    assert_string_equal(p->secret(p), "good-token");
    fg_token_provider_free(p);

    char path[] = "test_rest_token_XXXXXX";
    int fd = mkstemp(path);
    assert_true(write(fd, "  file-token-123\n", 17) == 17);
    close(fd);
    p = NULL;
    assert_int_equal(fg_token_file_new(path, &p, &e), FG_OK);
    assert_int_equal(p->token(p, 0, &tok, &e), FG_OK);
    assert_string_equal(tok, "file-token-123");
    fg_token_provider_free(p);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after),  cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_capability),   cmocka_unit_test(test_body_checks),
        cmocka_unit_test(test_tx_response),  cmocka_unit_test(test_journal),
        cmocka_unit_test(test_redaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
