/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of fhir/rest.c and fhir/rest_journal.c: what servers answer, the
 * backoff schedule, the journal and redaction of secrets, fetched tokens and
 * SMART client assertions. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fhir/base/fg_sha256.h"
#include "fhir/rest/fg_rest.h"
#include "push/fg_journal.h"

#define LEN(s) s, strlen(s)

static void test_retry_after(void **state)
{
    (void)state;
    double w = -1;
    assert_int_equal(fg_http_parse_retry_after("120", 0, &w), FG_OK);
    assert_true(w == 120.0);
    assert_int_equal(fg_http_parse_retry_after(" 0\r\n", 0, &w), FG_OK);
    assert_true(w == 0.0);
    assert_int_equal(fg_http_parse_retry_after("999999999999", 0, &w), FG_OK);
    assert_true(w == FG_MAX_RETRY_AFTER_S);
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    assert_int_equal(fg_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 30, &w),
                     FG_OK);
    assert_true(w == 30.0);
    assert_int_equal(fg_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 5, &w),
                     FG_OK);
    assert_true(w == 0.0);
    w = 7;
    assert_int_equal(fg_http_parse_retry_after("", 0, &w), FG_EINVALID);
    assert_int_equal(fg_http_parse_retry_after("soon", 0, &w), FG_EINVALID);
    assert_int_equal(fg_http_parse_retry_after("12s", 0, &w), FG_EINVALID);
    assert_int_equal(fg_http_parse_retry_after("-5", 0, &w), FG_EINVALID);
    assert_int_equal(fg_http_parse_retry_after("Xyz, 99 Foo 20 nonsense", 0, &w), FG_EINVALID);
    assert_int_equal(fg_http_parse_retry_after(NULL, 0, &w), FG_EINVALID);
    assert_true(w == 7);
}

static void test_backoff(void **state)
{
    (void)state;
    double base = FG_HTTP_BACKOFF_BASE_MS / 1000.0, cap = FG_HTTP_BACKOFF_CAP_MS / 1000.0;
    for (int a = 1; a <= 20; a++) {
        double ceil = base;
        for (int i = 1; i < a && ceil < cap; i++)
            ceil *= 2;
        if (ceil > cap)
            ceil = cap;
        for (double r = 0; r < 1; r += 0.125) {
            double w = fg_http_backoff(a, r);
            assert_true(w >= ceil / 2 - 1e-9);
            assert_true(w <= ceil + 1e-9);
            assert_true(w <= cap + 1e-9);
        }
    }
    assert_true(fg_http_backoff(2, 0.5) > fg_http_backoff(1, 0.5));
    assert_true(fg_http_backoff(0, 5.0) > 0); /* nonsense in, sane out */
    assert_true(fg_http_status_retryable(429) && fg_http_status_retryable(503) &&
                fg_http_status_retryable(408) && fg_http_status_retryable(0));
    assert_false(fg_http_status_retryable(400) || fg_http_status_retryable(401) ||
                 fg_http_status_retryable(404) || fg_http_status_retryable(422));
}

/* ---- fhir/http: the judgement shared by every client --------------------- */

static double fixed_draw(void *ctx)
{
    (*(int *)ctx)++;
    return 0.5;
}

static int refreshes;
static void count_refresh(void *ctx)
{
    (void)ctx;
    refreshes++;
}

static void test_http_retry(void **state)
{
    (void)state;
    /* one table of permanent transport errors */
    assert_false(fg_http_curl_retryable(CURLE_COULDNT_RESOLVE_HOST));
    assert_false(fg_http_curl_retryable(CURLE_PEER_FAILED_VERIFICATION));
    assert_false(fg_http_curl_retryable(CURLE_SSL_PINNEDPUBKEYNOTMATCH));
    assert_false(fg_http_curl_retryable(CURLE_URL_MALFORMAT));
    assert_true(fg_http_curl_retryable(CURLE_COULDNT_CONNECT));
    assert_true(fg_http_curl_retryable(CURLE_OPERATION_TIMEDOUT));
    assert_true(fg_http_curl_retryable(CURLE_RECV_ERROR));
    /* the wait: what the headers asked, else backoff with one draw */
    fg_http_limits l;
    fg_http_limits_reset(&l);
    int draws = 0;
    assert_true(fg_http_retry_wait(&l, 1, fixed_draw, &draws) == fg_http_backoff(1, 0.5));
    assert_int_equal(draws, 1);
    const char *h = "Retry-After: 7\r\n";
    fg_http_limits_header(&l, h, strlen(h), 0);
    assert_true(fg_http_retry_wait(&l, 3, fixed_draw, &draws) == 7.0);
    assert_int_equal(draws, 1);
    /* a 401 asks for a fresh token once per request */
    fg_http_auth a = {NULL, count_refresh, NULL};
    int refreshed = 0;
    assert_false(fg_http_auth_retry(&a, 403, &refreshed));
    assert_true(fg_http_auth_retry(&a, 401, &refreshed));
    assert_false(fg_http_auth_retry(&a, 401, &refreshed));
    assert_int_equal(refreshes, 1);
    refreshed = 0;
    assert_false(fg_http_auth_retry(NULL, 401, &refreshed));
    fg_http_auth none = {NULL, NULL, NULL};
    assert_false(fg_http_auth_retry(&none, 401, &refreshed));
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
    fg_sha256_hex("abc", 3, a);
    assert_string_equal(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    fg_sha256_hex("other", 5, b);

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
        fg_sha256_hex(&i, sizeof(i), sha);
        assert_int_equal(fg_journal_append(j, sha, "x", &e), FG_OK);
    }
    fg_journal_close(j);
    assert_int_equal(fg_journal_open(path, 1, &j, &e), FG_OK);
    assert_int_equal(fg_journal_count(j), 2000);
    int i = 1234;
    char sha[65];
    fg_sha256_hex(&i, sizeof(i), sha);
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
    fg_http_redact(text, sizeof(text), secret);
    assert_null(strstr(text, secret));
    assert_null(strstr(text, "T0ken"));
    assert_non_null(strstr(text, "[redacted]"));

    snprintf(text, sizeof(text), "cannot reach https://alice:hunter2@fhir.example/r4");
    fg_http_redact(text, sizeof(text), NULL);
    assert_null(strstr(text, "hunter2"));
    assert_non_null(strstr(text, "alice"));

    snprintf(text, sizeof(text), "Bearer abcdefghijklmnop");
    fg_http_redact(text, sizeof(text), NULL);
    assert_null(strstr(text, "abcdefghijklmnop"));

    snprintf(text, sizeof(text), "short xy here");
    fg_http_redact(text, sizeof(text), "xy");
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


/* ---- rest_auth.c: fetched tokens, JWT client assertions ------------------ */

static char *pem_of(EVP_PKEY *k, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *out = malloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = 0;
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

static unsigned char *b64url_decode(const char *s, size_t n, size_t *len)
{
    unsigned char *out = malloc(n * 3 / 4 + 3);
    unsigned v = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *q = strchr(abc, s[i]);
        assert_non_null(q); /* base64url alphabet, no padding */
        v = v << 6 | (unsigned)(q - abc);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    *len = o;
    return out;
}

static json_t *jwt_part(const char *jwt, int part)
{
    const char *p = jwt;
    for (int i = 0; i < part; i++)
        p = strchr(p, '.') + 1;
    size_t n = strcspn(p, "."), len = 0;
    unsigned char *raw = b64url_decode(p, n, &len);
    json_t *j = json_loadb((const char *)raw, len, 0, NULL);
    free(raw);
    assert_non_null(j);
    return j;
}

/* Verify a compact JWS with the public half of k, the way a server would. */
static int jwt_verifies(const char *jwt, EVP_PKEY *k, int es)
{
    const char *dot2 = strrchr(jwt, '.');
    size_t siglen = 0;
    unsigned char *sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
    unsigned char *der = NULL;
    int derlen = 0;
    if (es) {
        assert_int_equal(siglen, 96); /* JOSE R||S, 48 bytes each, not DER */
        ECDSA_SIG *e = ECDSA_SIG_new();
        ECDSA_SIG_set0(e, BN_bin2bn(sig, 48, NULL), BN_bin2bn(sig + 48, 48, NULL));
        derlen = i2d_ECDSA_SIG(e, &der);
        ECDSA_SIG_free(e);
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, k) == 1 &&
             EVP_DigestVerify(md, es ? der : sig, es ? (size_t)derlen : siglen,
                              (const unsigned char *)jwt, (size_t)(dot2 - jwt)) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    free(sig);
    return ok;
}

static void test_jwt_assertion(void **state)
{
    (void)state;
    fg_error e;
    fg_error_clear(&e);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(ec);
    assert_non_null(rsa);
    assert_non_null(p256);
    size_t eclen, rsalen, p256len;
    char *ecpem = pem_of(ec, &eclen), *rsapem = pem_of(rsa, &rsalen), *p256pem = pem_of(p256, &p256len);
    const char *aud = "https://auth.example/token";

    /* ES384: header, claims, and a signature in R||S form that verifies;
     * many runs so some R or S has leading zero bytes to pad. */
    for (int i = 0; i < 24; i++) {
        char *jwt = NULL;
        assert_int_equal(fg_rest_jwt_assertion(ecpem, eclen, NULL, "k-ec", "client-1", aud,
                                               i ? NULL : "jti-fixed", 1700000000, &jwt, &e),
                         FG_OK);
        json_t *h = jwt_part(jwt, 0), *c = jwt_part(jwt, 1);
        assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES384");
        assert_string_equal(json_string_value(json_object_get(h, "kid")), "k-ec");
        assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
        assert_string_equal(json_string_value(json_object_get(c, "iss")), "client-1");
        assert_string_equal(json_string_value(json_object_get(c, "sub")), "client-1");
        assert_string_equal(json_string_value(json_object_get(c, "aud")), aud);
        long exp = (long)json_integer_value(json_object_get(c, "exp"));
        assert_true(exp > 1700000000 && exp <= 1700000000 + 300);
        const char *jti = json_string_value(json_object_get(c, "jti"));
        assert_non_null(jti);
        if (i == 0)
            assert_string_equal(jti, "jti-fixed");
        else
            assert_int_equal(strlen(jti), 32);
        assert_true(jwt_verifies(jwt, ec, 1));
        json_decref(h);
        json_decref(c);
        free(jwt);
    }
    /* random jti differ */
    char *a = NULL, *b = NULL;
    assert_int_equal(fg_rest_jwt_assertion(ecpem, eclen, "ES384", "k", "c", aud, NULL, 1, &a, &e), FG_OK);
    assert_int_equal(fg_rest_jwt_assertion(ecpem, eclen, "ES384", "k", "c", aud, NULL, 1, &b, &e), FG_OK);
    json_t *ca = jwt_part(a, 1), *cb = jwt_part(b, 1);
    assert_string_not_equal(json_string_value(json_object_get(ca, "jti")),
                            json_string_value(json_object_get(cb, "jti")));
    json_decref(ca);
    json_decref(cb);
    /* another P-384 key does not verify it; a tampered payload neither */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    assert_true(jwt_verifies(a, ec, 1));
    assert_false(jwt_verifies(a, other, 1));
    EVP_PKEY_free(other);
    char *dot = strchr(a, '.');
    dot[1] = dot[1] == 'A' ? 'B' : 'A';
    assert_false(jwt_verifies(a, ec, 1));
    free(a);
    free(b);

    /* RS384 */
    char *jwt = NULL;
    assert_int_equal(fg_rest_jwt_assertion(rsapem, rsalen, NULL, "k-rsa", "c", aud, NULL, 5, &jwt, &e),
                     FG_OK);
    json_t *h = jwt_part(jwt, 0);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS384");
    json_decref(h);
    assert_true(jwt_verifies(jwt, rsa, 0));
    free(jwt);

    /* refusals: wrong alg for the key, a P-256 key, garbage, missing kid */
    jwt = NULL;
    assert_int_equal(fg_rest_jwt_assertion(ecpem, eclen, "RS384", "k", "c", aud, NULL, 5, &jwt, &e),
                     FG_EUSAGE);
    assert_non_null(strstr(e.text, "ES384"));
    assert_int_equal(fg_rest_jwt_assertion(p256pem, p256len, NULL, "k", "c", aud, NULL, 5, &jwt, &e),
                     FG_EINVALID);
    assert_non_null(strstr(e.text, "P-384"));
    assert_int_equal(fg_rest_jwt_assertion(LEN("not a key"), NULL, "k", "c", aud, NULL, 5, &jwt, &e),
                     FG_EINVALID);
    assert_null(strstr(e.text, "not a key"));
    assert_int_equal(fg_rest_jwt_assertion(ecpem, eclen, NULL, "", "c", aud, NULL, 5, &jwt, &e),
                     FG_EUSAGE);
    assert_null(jwt);

    free(ecpem);
    free(rsapem);
    free(p256pem);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);
}

static void test_token_response(void **state)
{
    (void)state;
    fg_error e;
    fg_error_clear(&e);
    char *tok = NULL;
    long life = 0;
    assert_int_equal(fg_rest_parse_token_response(
                         200, LEN("{\"access_token\":\"abc.DEF-1\",\"token_type\":\"Bearer\","
                                  "\"expires_in\":3600}"), &tok, &life, &e), FG_OK);
    assert_string_equal(tok, "abc.DEF-1");
    assert_int_equal(life, 3600);
    free(tok);
    /* token_type case-insensitive; expires_in as a string; absent: the default */
    assert_int_equal(fg_rest_parse_token_response(
                         200, LEN("{\"access_token\":\"t\",\"token_type\":\"bearer\","
                                  "\"expires_in\":\"120\"}"), &tok, &life, &e), FG_OK);
    assert_int_equal(life, 120);
    free(tok);
    assert_int_equal(fg_rest_parse_token_response(200, LEN("{\"access_token\":\"t\"}"), &tok, &life,
                                                  &e), FG_OK);
    assert_int_equal(life, FG_TOKEN_DEFAULT_LIFETIME_S);
    free(tok);
    /* refusals never quote the token */
    assert_int_equal(fg_rest_parse_token_response(
                         200, LEN("{\"access_token\":\"sekrit\",\"token_type\":\"MAC\"}"), &tok,
                         &life, &e), FG_EINVALID);
    assert_null(tok);
    assert_non_null(strstr(e.text, "MAC"));
    assert_null(strstr(e.text, "sekrit"));
    assert_int_equal(fg_rest_parse_token_response(200, LEN("{\"access_token\":\"se krit\"}"), &tok,
                                                  &life, &e), FG_EINVALID);
    assert_null(strstr(e.text, "krit"));
    assert_int_equal(fg_rest_parse_token_response(
                         200, LEN("{\"access_token\":\"sekrit\",\"expires_in\":-5}"), &tok, &life,
                         &e), FG_EINVALID);
    assert_int_equal(fg_rest_parse_token_response(200, LEN("{\"token_type\":\"Bearer\"}"), &tok,
                                                  &life, &e), FG_EINVALID);
    assert_non_null(strstr(e.text, "access_token"));
    assert_int_equal(fg_rest_parse_token_response(200, LEN("<html>"), &tok, &life, &e), FG_EINVALID);
    /* an OAuth2 error answer is quoted */
    assert_int_equal(fg_rest_parse_token_response(
                         401, LEN("{\"error\":\"invalid_client\",\"error_description\":\"bad "
                                  "secret\"}"), &tok, &life, &e), FG_EINVALID);
    assert_non_null(strstr(e.text, "HTTP 401: invalid_client (bad secret)"));
    assert_non_null(strstr(e.text, "refused"));
    assert_int_equal(fg_rest_parse_token_response(503, LEN(""), &tok, &life, &e), FG_EINVALID);
    assert_non_null(strstr(e.text, "HTTP 503"));
}

static void test_token_refresh_at(void **state)
{
    (void)state;
    /* at 80% of the life or 30 s before its end, whichever is first, never
     * before half */
    assert_int_equal(fg_token_refresh_at(1000, 3600), 1000 + 2880);
    assert_int_equal(fg_token_refresh_at(1000, 300), 1000 + 240);
    assert_int_equal(fg_token_refresh_at(1000, 100), 1000 + 70);
    assert_int_equal(fg_token_refresh_at(1000, 40), 1000 + 20);
    assert_int_equal(fg_token_refresh_at(1000, 2), 1000 + 1);
    assert_int_equal(fg_token_refresh_at(1000, 1), 1000);
    assert_int_equal(fg_token_refresh_at(1000, 0), 1000);
    for (long l = 1; l < 100000; l = l * 3 + 1) {
        time_t t = fg_token_refresh_at(0, l);
        assert_true(t < l || l == 1);
        assert_true(t >= l / 2);
    }
}

/* The provider conversation the push loop runs. */
static void test_token_providers(void **state)
{
    (void)state;
    fg_error e;
    fg_error_clear(&e);
    fg_token_provider *p = NULL;
    fg_oauth_options o = {0};
    o.token_url = "https://a.example/token";
    o.client_id = "id 1";
    assert_int_equal(fg_token_client_credentials_new(&o, &p, &e), FG_EUSAGE);
    o.client_secret = "s&cr=t+x";
    assert_int_equal(fg_token_client_credentials_new(&o, &p, &e), FG_OK);
    const char *tok = NULL;
    fg_token_request req = {0};
    assert_int_equal(p->token(p, 100, &tok, &e), FG_TOKEN_FETCH);
    assert_int_equal(p->request(p, 100, &req, &e), FG_OK);
    assert_string_equal(req.url, "https://a.example/token");
    assert_string_equal(req.form, "grant_type=client_credentials&client_id=id%201"
                                  "&client_secret=s%26cr%3Dt%2Bx");
    assert_string_equal(p->secret(p), "s&cr=t+x");
    assert_int_equal(p->response(p, 100, 200, LEN("{\"access_token\":\"T1\",\"expires_in\":100}"),
                                 &e), FG_OK);
    assert_int_equal(p->token(p, 150, &tok, &e), FG_OK);
    assert_string_equal(tok, "T1");
    assert_string_equal(p->secret(p), "T1");
    assert_int_equal(p->token(p, 170, &tok, &e), FG_TOKEN_FETCH); /* refresh due at 170 */
    assert_int_equal(p->request(p, 170, &req, &e), FG_OK);
    assert_int_equal(p->response(p, 170, 200, LEN("{\"access_token\":\"T2\",\"expires_in\":100}"),
                                 &e), FG_OK);
    assert_int_equal(p->token(p, 171, &tok, &e), FG_OK);
    assert_string_equal(tok, "T2");
    p->invalidate(p); /* after a 401 */
    assert_int_equal(p->token(p, 172, &tok, &e), FG_TOKEN_FETCH);
    assert_int_equal(p->request(p, 172, &req, &e), FG_OK);
    assert_int_equal(p->response(p, 172, 401,
                                 LEN("{\"error\":\"invalid_client\",\"error_description\":"
                                     "\"secret s&cr=t+x is wrong\"}"), &e), FG_EINVALID);
    assert_null(strstr(e.text, "s&cr=t+x"));
    assert_string_equal(e.where, "https://a.example/token");
    fg_token_provider_free(p);

    /* SMART: discovery first, then a signed assertion to the found endpoint */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    size_t len;
    char *pem = pem_of(ec, &len);
    fg_oauth_options so = {0};
    so.server = "https://fhir.example/r4/";
    so.client_id = "bulk";
    so.kid = "k1";
    so.key_pem = pem;
    so.key_len = len;
    p = NULL;
    assert_int_equal(fg_token_smart_new(&so, &p, &e), FG_OK);
    assert_int_equal(p->token(p, 100, &tok, &e), FG_TOKEN_FETCH);
    assert_int_equal(p->request(p, 100, &req, &e), FG_OK);
    assert_string_equal(req.url, "https://fhir.example/r4/.well-known/smart-configuration");
    assert_null(req.form); /* a GET */
    assert_int_equal(p->response(p, 100, 200,
                                 LEN("{\"token_endpoint\":\"https://auth.example/t\"}"), &e), FG_OK);
    assert_int_equal(p->token(p, 100, &tok, &e), FG_TOKEN_FETCH);
    assert_int_equal(p->request(p, 100, &req, &e), FG_OK);
    assert_string_equal(req.url, "https://auth.example/t");
    assert_non_null(strstr(req.form, "grant_type=client_credentials&scope=system%2F%2A.cruds"));
    assert_non_null(strstr(req.form, "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                                     "client-assertion-type%3Ajwt-bearer&client_assertion=ey"));
    const char *jwt = strstr(req.form, "client_assertion=") + strlen("client_assertion=");
    json_t *c = jwt_part(jwt, 1);
    assert_string_equal(json_string_value(json_object_get(c, "aud")), "https://auth.example/t");
    json_decref(c);
    assert_true(jwt_verifies(jwt, ec, 1));
    assert_int_equal(p->response(p, 100, 200, LEN("{\"access_token\":\"S1\",\"expires_in\":300}"),
                                 &e), FG_OK);
    assert_int_equal(p->token(p, 101, &tok, &e), FG_OK);
    assert_string_equal(tok, "S1");
    fg_token_provider_free(p);
    /* discovery that names no endpoint, or a plain-http one */
    p = NULL;
    assert_int_equal(fg_token_smart_new(&so, &p, &e), FG_OK);
    assert_int_equal(p->request(p, 100, &req, &e), FG_OK);
    assert_int_equal(p->response(p, 100, 404, LEN("{}"), &e), FG_EINVALID);
    assert_string_equal(e.where, "token url"); /* the setting; the CLI names its flag */
    assert_int_equal(p->request(p, 100, &req, &e), FG_OK);
    assert_int_equal(p->response(p, 100, 200, LEN("{\"token_endpoint\":\"http://a/t\"}"), &e),
                     FG_EINVALID);
    assert_non_null(strstr(e.text, "plain http"));
    fg_token_provider_free(p);
    so.kid = NULL;
    assert_int_equal(fg_token_smart_new(&so, &p, &e), FG_EUSAGE);
    free(pem);
    EVP_PKEY_free(ec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after),  cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_http_retry),
        cmocka_unit_test(test_capability),   cmocka_unit_test(test_body_checks),
        cmocka_unit_test(test_tx_response),  cmocka_unit_test(test_journal),
        cmocka_unit_test(test_redaction),    cmocka_unit_test(test_jwt_assertion),
        cmocka_unit_test(test_token_response), cmocka_unit_test(test_token_refresh_at),
        cmocka_unit_test(test_token_providers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
