/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c: what every HTTP client of fhirgen shares: transport settings,
 * the judgement of failures (which statuses and transport errors deserve a
 * retry, how long to wait), redaction of secrets, the credentials hook, and
 * one-off blocking requests. The multi pool itself is in http_pool.c, the
 * rate-limit headers in http_limits.c.
 */
#include "fhir/http/fg_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


_Static_assert(CURL_ERROR_SIZE <= sizeof(((fg_http_xfer *)0)->errbuf),
               "fg_http_xfer.errbuf holds a curl error buffer");

/* ---- retries ---------------------------------------------------------- */

int fg_http_parse_retry_after(const char *value, time_t now, double *seconds)
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

double fg_http_backoff(int attempt, double rand01)
{
    if (attempt < 1)
        attempt = 1;
    if (rand01 < 0 || !(rand01 < 1))
        rand01 = 0;
    double ceiling = FG_HTTP_BACKOFF_BASE_MS / 1000.0;
    for (int i = 1; i < attempt && ceiling < FG_HTTP_BACKOFF_CAP_MS / 1000.0; i++)
        ceiling *= 2;
    if (ceiling > FG_HTTP_BACKOFF_CAP_MS / 1000.0)
        ceiling = FG_HTTP_BACKOFF_CAP_MS / 1000.0;
    /* "equal jitter": half fixed, half random, so waits never collapse to 0 */
    return ceiling / 2 + rand01 * ceiling / 2;
}

int fg_http_status_retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || (status >= 500 && status <= 599);
}

/*
 * Transport failures no retry will cure: the same request would fail the
 * same way, so a retry only makes the user wait FG_MAX_*_ATTEMPTS backoffs
 * for the same message. Everything not listed (refused or reset
 * connections, timeouts, broken streams, DNS servers that did not answer)
 * may be gone on the next try.
 */
static const struct {
    CURLcode code;
    const char *why; /* why it is permanent; documentation only */
} permanent[] = {
    {CURLE_UNSUPPORTED_PROTOCOL, "the URL's scheme is not http or https"},
    {CURLE_URL_MALFORMAT, "the URL itself is wrong"},
    {CURLE_COULDNT_RESOLVE_HOST, "the name does not exist: a typo, not a hiccup"},
    {CURLE_PEER_FAILED_VERIFICATION, "the server's certificate does not verify"},
    {CURLE_SSL_CACERT_BADFILE, "the CA file cannot be read"},
    {CURLE_SSL_CERTPROBLEM, "the client certificate or key cannot be used"},
    {CURLE_SSL_CIPHER, "client and server share no cipher"},
    {CURLE_SSL_ISSUER_ERROR, "the certificate's issuer does not check out"},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, "the server's key is not the pinned one"},
};

int fg_http_curl_retryable(int curlcode)
{
    for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++)
        if (permanent[i].code == (CURLcode)curlcode)
            return 0;
    return 1;
}

double fg_http_retry_wait(const fg_http_limits *l, int attempt, double (*draw)(void *ctx),
                          void *ctx)
{
    double w = l ? fg_http_limits_wait(l) : -1;
    return w >= 0 ? w : fg_http_backoff(attempt, draw(ctx));
}

/* ---- credentials ---------------------------------------------------------- */

int fg_http_auth_retry(const fg_http_auth *a, long status, int *refreshed)
{
    if (status != 401 || !a || !a->refresh || *refreshed)
        return 0;
    *refreshed = 1; /* once: the token may have expired */
    a->refresh(a->ctx);
    return 1;
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

void fg_http_redact(char *text, size_t size, const char *secret)
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

/* ---- transport ---------------------------------------------------------- */

void fg_http_apply_transport(void *curl, const fg_http_transport *t)
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

/* ---- one-off requests ------------------------------------------------------ */

typedef struct fetch_body {
    fg_buf *b;
    size_t max;
} fetch_body;

static size_t on_fetch_body(char *p, size_t size, size_t n, void *ud)
{
    fetch_body *f = ud;
    size_t bytes = size * n;
    if (f->b->len + bytes > f->max)
        return 0;
    fg_buf_append(f->b, p, bytes);
    return f->b->failed ? 0 : bytes;
}

int fg_http_fetch(const fg_http_transport *t, const char *url, const char *form, size_t max,
                  fg_buf *body, long *status, char errbuf[256])
{
    CURL *e = curl_easy_init();
    fetch_body fb = {body, max};
    errbuf[0] = 0;
    *status = 0;
    if (!e)
        return CURLE_OUT_OF_MEMORY;
    curl_easy_setopt(e, CURLOPT_URL, url);
    fg_http_apply_transport(e, t);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_fetch_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &fb);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    if (form) { /* CURLOPT_POSTFIELDS sends application/x-www-form-urlencoded */
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form));
    }
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(e);
    return (int)cc;
}
