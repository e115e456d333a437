/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push_auth.c: the push's credentials as an fg_http_auth hook. A token
 * provider answers a token, or asks for a fetch (OAuth2 client credentials,
 * SMART Backend Services): the requests it describes (SMART discovery, then
 * the token endpoint) run here, blocking, on a handle of their own with the
 * push's TLS settings. A fetch happens once per token lifetime, and the
 * transfers in the pool simply wait for it. Transport failures and 429/5xx
 * answers of the token endpoint are retried with backoff.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fhir/base/fg_buf.h"
#include "push/fg_push.h"
#include "push/push_private.h"

static void sleep_s(double w)
{
    struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Run the requests a fetching provider asks for until it answers a token. */
static int fetch_token(push_auth *pa, const char **tok, fg_error *err)
{
    fg_token_provider *a = pa->provider;
    fg_buf body;
    fg_buf_init(&body);
    char errbuf[256];
    int rc = FG_TOKEN_FETCH, attempt = 0;
    int max = pa->max_attempts > 0 ? pa->max_attempts : FG_MAX_PUSH_ATTEMPTS;
    for (int round = 0; round < 4 && rc == FG_TOKEN_FETCH; round++) {
        fg_token_request req = {0};
        if ((rc = a->request(a, time(NULL), &req, err)) != FG_OK)
            goto cleanup;
        fg_buf_clear(&body);
        body.failed = 0;
        fg_http_transport tr = *pa->transport;
        tr.timeout_ms = 60000L; /* a token endpoint answers fast or not at all */
        long status = 0;
        int cc = fg_http_fetch(&tr, req.url, req.form, FG_MAX_TOKEN_RESPONSE_BYTES, &body,
                               &status, errbuf);
        if ((cc != CURLE_OK || status == 429 || status >= 500) && ++attempt < max &&
            !(pa->cancel && *pa->cancel)) {
            sleep_s(fg_http_backoff(attempt, fg_rng_uniform(pa->rng)));
            a->response(a, time(NULL), 503, "", 0, NULL); /* drop the pending request */
            rc = FG_TOKEN_FETCH;
            round--;
            continue;
        }
        if (cc != CURLE_OK) {
            rc = fg_error_set(err, FG_ENETWORK, "token endpoint", "%.200s: %s%s%s", req.url,
                              curl_easy_strerror((CURLcode)cc), errbuf[0] ? ": " : "", errbuf);
            a->response(a, time(NULL), 0, "", 0, NULL);
            goto cleanup;
        }
        if ((rc = a->response(a, time(NULL), status, body.data ? body.data : "", body.len, err)) !=
            FG_OK)
            goto cleanup;
        rc = a->token(a, time(NULL), tok, err);
    }
    if (rc == FG_TOKEN_FETCH)
        rc = fg_error_set(err, FG_EINVALID, "auth", "the token provider never answered a token");
cleanup:
    if (body.data)
        memset(body.data, 0, body.cap);
    fg_buf_free(&body);
    return rc;
}

static int auth_header(void *ctx, fg_buf *line, fg_error *err)
{
    push_auth *pa = ctx;
    fg_token_provider *a = pa->provider;
    const char *tok = NULL;
    int rc = a->token(a, time(NULL), &tok, err);
    if (rc == FG_TOKEN_FETCH)
        rc = fetch_token(pa, &tok, err);
    if (rc != FG_OK)
        return rc;
    fg_buf_printf(line, "Authorization: Bearer %s", tok);
    return line->failed ? fg_error_set(err, FG_ENOMEM, "curl", "out of memory") : FG_OK;
}

static void auth_refresh(void *ctx)
{
    push_auth *pa = ctx;
    pa->provider->invalidate(pa->provider);
}

fg_http_auth push_auth_hook(push_auth *pa)
{
    fg_http_auth h = {NULL, NULL, NULL};
    if (pa->provider) {
        h.header = auth_header;
        h.refresh = pa->provider->invalidate ? auth_refresh : NULL;
        h.ctx = pa;
    }
    return h;
}
