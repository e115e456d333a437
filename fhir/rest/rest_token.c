/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rest_token.c: token providers that hold their token: a bearer token given
 * as text or read from a file. Nothing to fetch; the token is wiped from
 * memory when the provider is freed.
 */
#include "fhir/rest/fg_rest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_data.h"

/* ---- static token providers --------------------------------------------- */

typedef struct static_token {
    fg_token_provider base;
    char *token;
} static_token;

static int static_get(fg_token_provider *p, time_t now, const char **token, fg_error *err)
{
    (void)now;
    (void)err;
    *token = ((static_token *)p)->token;
    return FG_OK;
}

static const char *static_secret(const fg_token_provider *p)
{
    return ((const static_token *)p)->token;
}

static void static_free(fg_token_provider *p)
{
    static_token *s = (static_token *)p;
    if (s->token) {
        /* do not leave the secret in freed memory */
        volatile char *v = s->token;
        while (*v)
            *v++ = 0;
        free(s->token);
    }
    free(s);
}

int fg_token_static_new(const char *token, fg_token_provider **out, fg_error *err)
{
    size_t n = token ? strlen(token) : 0;
    if (n == 0)
        return fg_error_set(err, FG_EINVALID, "token", "the access token is empty");
    if (n > FG_MAX_TOKEN_BYTES)
        return fg_error_set(err, FG_ELIMIT, "token",
                            "the access token is longer than FG_MAX_TOKEN_BYTES (%d)",
                            FG_MAX_TOKEN_BYTES);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)token[i];
        if (c <= 0x20 || c >= 0x7f)
            return fg_error_set(err, FG_EINVALID, "token",
                                "the access token holds a character a header cannot carry "
                                "(at byte %zu of %zu)", i + 1, n);
    }
    static_token *s = calloc(1, sizeof(*s));
    if (!s || !(s->token = strdup(token))) {
        free(s);
        return fg_error_set(err, FG_ENOMEM, "token", "out of memory");
    }
    s->base.token = static_get;
    s->base.secret = static_secret;
    s->base.free = static_free;
    *out = &s->base;
    return FG_OK;
}

int fg_token_file_new(const char *path, fg_token_provider **out, fg_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = fg_read_file(path, FG_MAX_TOKEN_BYTES + 64, &text, &len, err);
    if (rc != FG_OK)
        return rc;
    char *s = text, *e = text + len;
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *e = 0;
    rc = fg_token_static_new(s, out, err);
    if (rc != FG_OK && err)
        snprintf(err->where, sizeof(err->where), "%s", path);
    memset(text, 0, len);
    free(text);
    return rc;
}

void fg_token_provider_free(fg_token_provider *p)
{
    if (p && p->free)
        p->free(p);
}
