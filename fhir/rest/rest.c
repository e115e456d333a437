/*
 * rest.c: judging what a FHIR server answers. Retry-After and backoff,
 * response bodies, CapabilityStatements, transaction-responses,
 * OperationOutcomes, and redaction of secrets. No network I/O here.
 */
#include "fhir/rest/fg_rest.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fhir/fg_limits.h"

/* ---- retries ---------------------------------------------------------- */

int fg_rest_parse_retry_after(const char *value, time_t now, double *seconds)
{
    if (!value)
        return FG_EINVALID;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r' ||
                 value[n - 1] == '\n'))
        n--;
    if (n == 0 || n > 64)
        return FG_EINVALID;
    char v[65];
    memcpy(v, value, n);
    v[n] = 0;

    double wait;
    if (isdigit((unsigned char)v[0])) {
        /* delta-seconds: digits only (RFC 9110 section 10.2.3) */
        uint64_t s = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)v[i]))
                return FG_EINVALID;
            if (s < 1000000000u)
                s = s * 10 + (uint64_t)(v[i] - '0');
        }
        wait = (double)s;
    } else {
        /* An HTTP date names a weekday first; anything else is garbage. */
        if (!isalpha((unsigned char)v[0]) || !strchr(v, ' '))
            return FG_EINVALID;
        time_t t = curl_getdate(v, NULL);
        if (t == (time_t)-1)
            return FG_EINVALID;
        wait = t > now ? difftime(t, now) : 0.0;
    }
    if (wait > FG_MAX_RETRY_AFTER_S)
        wait = FG_MAX_RETRY_AFTER_S;
    *seconds = wait;
    return FG_OK;
}

double fg_rest_backoff(int attempt, double rand01)
{
    if (attempt < 1)
        attempt = 1;
    if (rand01 < 0 || !(rand01 < 1))
        rand01 = 0;
    double ceiling = FG_PUSH_BACKOFF_BASE_MS / 1000.0;
    for (int i = 1; i < attempt && ceiling < FG_PUSH_BACKOFF_CAP_MS / 1000.0; i++)
        ceiling *= 2;
    if (ceiling > FG_PUSH_BACKOFF_CAP_MS / 1000.0)
        ceiling = FG_PUSH_BACKOFF_CAP_MS / 1000.0;
    /* "equal jitter": half fixed, half random, so waits never collapse to 0 */
    return ceiling / 2 + rand01 * ceiling / 2;
}

int fg_rest_status_retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || (status >= 500 && status <= 599);
}

/* ---- what servers answer ---------------------------------------------- */

/* The first bytes of a body, printable, for an error message. */
static void body_excerpt(const char *body, size_t len, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 4 < size && i < 80; i++) {
        unsigned char c = (unsigned char)body[i];
        out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
    }
    if (len > 80 && j + 4 < size) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = 0;
}

static int media_type_is_json(const char *ct)
{
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; ");
    static const char *const ok[] = {"application/fhir+json", "application/json",
                                     "application/json+fhir"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strlen(ok[i]) == n && strncasecmp(ct, ok[i], n) == 0)
            return 1;
    return 0;
}

int fg_rest_check_body(const char *content_type, const char *body, size_t len, fg_error *err)
{
    char ex[100];
    if (len > FG_MAX_PUSH_RESPONSE_BYTES)
        return fg_error_set(err, FG_ELIMIT, "response",
                            "the answer is larger than FG_MAX_PUSH_RESPONSE_BYTES (%u bytes)",
                            FG_MAX_PUSH_RESPONSE_BYTES);
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    if (i == len)
        return fg_error_set(err, FG_EINVALID, "response", "the server answered an empty body");
    body_excerpt(body + i, len - i, ex, sizeof(ex));
    if (body[i] == '<' || (content_type && strncasecmp(content_type, "text/html", 9) == 0))
        return fg_error_set(err, FG_EINVALID, "response",
                            "the server answered HTML, not FHIR JSON (is the URL the FHIR base?): %s",
                            ex);
    if (content_type && !media_type_is_json(content_type))
        return fg_error_set(err, FG_EINVALID, "response",
                            "the server answered Content-Type '%.60s', not application/fhir+json: %s",
                            content_type, ex);
    if (body[i] != '{')
        return fg_error_set(err, FG_EINVALID, "response",
                            "the server answered something that is not a JSON object: %s", ex);
    return FG_OK;
}

static json_t *load_object(const char *body, size_t len, fg_error *err)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root) {
        fg_error_set(err, FG_EINVALID, "response", "invalid JSON at line %d column %d: %s",
                     je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fg_error_set(err, FG_EINVALID, "response", "the answer is JSON but not an object");
        return NULL;
    }
    return root;
}

int fg_rest_check_capability(const char *body, size_t len, fg_error *err)
{
    int rc = FG_EINVALID;
    json_t *root = load_object(body, len, err);
    if (!root)
        return FG_EINVALID;
    const char *type = json_string_value(json_object_get(root, "resourceType"));
    if (!type || strcmp(type, "CapabilityStatement") != 0) {
        fg_error_set(err, FG_EINVALID, "metadata",
                     "[base]/metadata answered %s, not a CapabilityStatement (is the URL the FHIR base?)",
                     type ? type : "a JSON object without resourceType");
        goto cleanup;
    }
    const char *version = json_string_value(json_object_get(root, "fhirVersion"));
    if (!version) {
        fg_error_set(err, FG_EINVALID, "CapabilityStatement.fhirVersion",
                     "the server does not say which FHIR version it speaks; fhirgen needs R4 (4.0.x)");
        goto cleanup;
    }
    if (strncmp(version, "4.0.", 4) != 0 && strcmp(version, "4.0") != 0) {
        fg_error_set(err, FG_EINVALID, "CapabilityStatement.fhirVersion",
                     "the server speaks FHIR %.32s, not R4 (4.0.x); fhirgen writes R4 bundles",
                     version);
        goto cleanup;
    }
    int transaction = 0;
    json_t *rest = json_object_get(root, "rest"), *r, *it;
    size_t i, k;
    json_array_foreach(rest, i, r) {
        const char *mode = json_string_value(json_object_get(r, "mode"));
        if (mode && strcmp(mode, "server") != 0)
            continue;
        json_array_foreach(json_object_get(r, "interaction"), k, it) {
            const char *code = json_string_value(json_object_get(it, "code"));
            if (code && strcmp(code, "transaction") == 0)
                transaction = 1;
        }
    }
    if (!transaction) {
        fg_error_set(err, FG_EINVALID, "CapabilityStatement.rest.interaction",
                     "the server does not declare the 'transaction' interaction; "
                     "fhirgen pushes transaction Bundles");
        goto cleanup;
    }
    rc = FG_OK;
cleanup:
    json_decref(root);
    return rc;
}

static void outcome_append(json_t *oo, fg_buf *out)
{
    const char *type = json_string_value(json_object_get(oo, "resourceType"));
    if (!type || strcmp(type, "OperationOutcome") != 0)
        return;
    json_t *issue;
    size_t i;
    json_array_foreach(json_object_get(oo, "issue"), i, issue) {
        const char *sev = json_string_value(json_object_get(issue, "severity"));
        const char *code = json_string_value(json_object_get(issue, "code"));
        const char *text = json_string_value(json_object_get(issue, "diagnostics"));
        if (!text)
            text = json_string_value(json_object_get(json_object_get(issue, "details"), "text"));
        json_t *expr = json_array_get(json_object_get(issue, "expression"), 0);
        if (out->len)
            fg_buf_puts(out, "; ");
        fg_buf_printf(out, "%s %s", sev ? sev : "?", code ? code : "?");
        if (json_is_string(expr))
            fg_buf_printf(out, " at %s", json_string_value(expr));
        if (text)
            fg_buf_printf(out, ": %.400s", text);
    }
}

void fg_rest_outcome_text(const char *body, size_t len, fg_buf *out)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    if (!root)
        return;
    outcome_append(root, out);
    json_decref(root);
}

void fg_rest_tx_response_free(fg_rest_tx_response *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_entries; i++) {
        free(r->entries[i].location);
        free(r->entries[i].outcome);
    }
    free(r->entries);
    memset(r, 0, sizeof(*r));
}

int fg_rest_parse_tx_response(const char *body, size_t len, fg_rest_tx_response *out,
                              fg_error *err)
{
    fg_rest_tx_response r = {0};
    fg_buf text;
    fg_buf_init(&text);
    int rc = FG_EINVALID;
    json_t *root = load_object(body, len, err);
    if (!root)
        return FG_EINVALID;
    const char *rt = json_string_value(json_object_get(root, "resourceType"));
    const char *type = json_string_value(json_object_get(root, "type"));
    if (!rt || strcmp(rt, "Bundle") != 0 || !type ||
        (strcmp(type, "transaction-response") != 0 && strcmp(type, "batch-response") != 0)) {
        fg_error_set(err, FG_EINVALID, "response",
                     "expected a transaction-response Bundle, got %.40s%s%.40s",
                     rt ? rt : "no resourceType", type ? " of type " : "", type ? type : "");
        goto cleanup;
    }
    json_t *entries = json_object_get(root, "entry"), *e;
    size_t n = json_array_size(entries), i;
    if (n) {
        r.entries = calloc(n, sizeof(*r.entries));
        if (!r.entries) {
            rc = fg_error_set(err, FG_ENOMEM, "response", "out of memory");
            goto cleanup;
        }
    }
    json_array_foreach(entries, i, e) {
        fg_rest_entry *en = &r.entries[r.n_entries++];
        json_t *resp = json_object_get(e, "response");
        const char *status = json_string_value(json_object_get(resp, "status"));
        en->status = status ? atoi(status) : 0; /* "201 Created" -> 201 */
        const char *loc = json_string_value(json_object_get(resp, "location"));
        if (loc && !(en->location = strdup(loc))) {
            rc = fg_error_set(err, FG_ENOMEM, "response", "out of memory");
            goto cleanup;
        }
        fg_buf_clear(&text);
        outcome_append(json_object_get(resp, "outcome"), &text);
        if (text.len && !(en->outcome = strdup(text.data))) {
            rc = fg_error_set(err, FG_ENOMEM, "response", "out of memory");
            goto cleanup;
        }
        if (en->status < 200 || en->status > 299)
            r.n_failed++;
    }
    *out = r;
    memset(&r, 0, sizeof(r));
    rc = FG_OK;
cleanup:
    fg_rest_tx_response_free(&r);
    fg_buf_free(&text);
    json_decref(root);
    return rc;
}

/* ---- secrets ------------------------------------------------------------ */

static void mask(char *p, size_t n)
{
    static const char tag[] = "[redacted]";
    if (n >= sizeof(tag) - 1) {
        memcpy(p, tag, sizeof(tag) - 1);
        memmove(p + sizeof(tag) - 1, p + n, strlen(p + n) + 1);
    } else {
        memset(p, '*', n);
    }
}

/* Hide the word that follows each occurrence of `key` (case-insensitive). */
static void mask_after(char *text, const char *key)
{
    size_t k = strlen(key);
    for (char *p = text; (p = strcasestr(p, key)) != NULL;) {
        p += k;
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " \t\r\n\"',;");
        if (n && strncmp(p, "[redacted]", 10) != 0)
            mask(p, n);
        p += strcspn(p, " \t\r\n\"',;");
    }
}

void fg_rest_redact(char *text, size_t size, const char *secret)
{
    if (!text || !size)
        return;
    text[size - 1] = 0;
    if (secret && *secret) {
        size_t n = strlen(secret);
        for (char *p = text; (p = strstr(p, secret)) != NULL;) {
            mask(p, n);
            p += n < 10 ? n : 10;
        }
    }
    mask_after(text, "Bearer ");
    /* scheme://user:password@host */
    for (char *p = text; (p = strstr(p, "://")) != NULL;) {
        p += 3;
        size_t auth = strcspn(p, "/@ \t\r\n");
        if (p[auth] != '@')
            continue;
        char *colon = memchr(p, ':', auth);
        if (colon && colon + 1 < p + auth)
            mask(colon + 1, (size_t)(p + auth - colon - 1));
    }
}

void fg_rest_apply_transport(void *curl, const fg_rest_transport *t)
{
    CURL *e = curl;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     t->connect_timeout_ms > 0 ? t->connect_timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t->timeout_ms > 0 ? t->timeout_ms : 300000L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, t->insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, t->insecure ? 0L : 2L);
    if (t->cacert)
        curl_easy_setopt(e, CURLOPT_CAINFO, t->cacert);
    if (t->cert)
        curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert);
    if (t->key)
        curl_easy_setopt(e, CURLOPT_SSLKEY, t->key);
}
