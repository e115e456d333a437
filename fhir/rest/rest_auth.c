/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rest_auth.c: token providers that fetch their tokens: OAuth2 client
 * credentials (client_secret_post) and SMART Backend Services (a JWT client
 * assertion signed RS384 or ES384, token endpoint discovered from
 * [base]/.well-known/smart-configuration). No network here: the push loop
 * runs the requests these providers describe and hands back the answers.
 *
 * Secrets (the client secret, the private key, access tokens, assertions)
 * never reach an error message; buffers that held them are wiped.
 */
#include "fhir/rest/fg_rest.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fhir/base/fg_buf.h"
#include "fhir/json/fg_jw.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define ES384_HALF 48 /* bytes of R and of S for P-384 */

/* ---- small helpers ------------------------------------------------------ */

static void wipe_free(char *s)
{
    if (!s)
        return;
    volatile char *v = s;
    while (*v)
        *v++ = 0;
    free(s);
}

static void wipe_buf(fg_buf *b)
{
    if (b->data) {
        volatile char *v = b->data;
        for (size_t i = 0; i < b->cap; i++)
            v[i] = 0;
    }
    fg_buf_free(b);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void b64url(fg_buf *b, const void *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *u = p;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)u[i] << 16 | (unsigned)u[i + 1] << 8 | u[i + 2];
        char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63], abc[v & 63]};
        fg_buf_append(b, q, 4);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)u[i] << 16;
        char q[2] = {abc[v >> 18], abc[(v >> 12) & 63]};
        fg_buf_append(b, q, 2);
    } else if (n - i == 2) {
        unsigned v = (unsigned)u[i] << 16 | (unsigned)u[i + 1] << 8;
        char q[3] = {abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63]};
        fg_buf_append(b, q, 3);
    }
}

/* Append s percent-encoded for application/x-www-form-urlencoded. */
static void form_escape(fg_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            fg_buf_putc(b, (char)c);
        else
            fg_buf_printf(b, "%%%02X", c);
    }
}

static void form_field(fg_buf *b, const char *name, const char *value)
{
    if (b->len)
        fg_buf_putc(b, '&');
    fg_buf_puts(b, name);
    fg_buf_putc(b, '=');
    form_escape(b, value);
}

/* ---- token responses and timing ----------------------------------------- */

/* Copy a short server-provided string for a message: printable ASCII only. */
static void quote_text(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++)
        out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[n] = 0;
}

int fg_rest_parse_token_response(long status, const char *body, size_t len, char **token,
                                 long *lifetime, fg_error *err)
{
    json_t *root = NULL;
    int rc = FG_EINVALID;
    *token = NULL;
    if (len > FG_MAX_TOKEN_RESPONSE_BYTES) {
        rc = fg_error_set(err, FG_ELIMIT, "token endpoint",
                          "HTTP %ld: the answer is larger than FG_MAX_TOKEN_RESPONSE_BYTES (%d)",
                          status, FG_MAX_TOKEN_RESPONSE_BYTES);
        goto cleanup;
    }
    root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (status < 200 || status > 299) {
        const char *e = root ? json_string_value(json_object_get(root, "error")) : NULL;
        const char *d = root ? json_string_value(json_object_get(root, "error_description")) : NULL;
        char eq[96], dq[256];
        quote_text(eq, sizeof(eq), e);
        quote_text(dq, sizeof(dq), d);
        rc = fg_error_set(err, FG_EINVALID, "token endpoint", "HTTP %ld%s%s%s%s%s%s", status,
                          e ? ": " : "", eq, d ? " (" : "", dq, d ? ")" : "",
                          status == 400 || status == 401
                              ? ": the token endpoint refused the client credentials"
                              : "");
        goto cleanup;
    }
    if (!json_is_object(root)) {
        rc = fg_error_set(err, FG_EINVALID, "token endpoint",
                          "HTTP %ld but the answer is not a JSON object", status);
        goto cleanup;
    }
    const char *tok = json_string_value(json_object_get(root, "access_token"));
    if (!tok || !*tok) {
        rc = fg_error_set(err, FG_EINVALID, "token endpoint", "the answer has no access_token");
        goto cleanup;
    }
    size_t n = strlen(tok);
    if (n > FG_MAX_TOKEN_BYTES) {
        rc = fg_error_set(err, FG_ELIMIT, "token endpoint",
                          "the access token is longer than FG_MAX_TOKEN_BYTES (%d)",
                          FG_MAX_TOKEN_BYTES);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f) {
            rc = fg_error_set(err, FG_EINVALID, "token endpoint",
                              "the access token holds a character a header cannot carry");
            goto cleanup;
        }
    const char *type = json_string_value(json_object_get(root, "token_type"));
    if (type && strcasecmp(type, "bearer") != 0) {
        char tq[64];
        quote_text(tq, sizeof(tq), type);
        rc = fg_error_set(err, FG_EINVALID, "token endpoint",
                          "token_type is '%s'; fhirgen sends Bearer tokens only", tq);
        goto cleanup;
    }
    json_t *exp = json_object_get(root, "expires_in");
    long life = FG_TOKEN_DEFAULT_LIFETIME_S;
    if (json_is_integer(exp))
        life = (long)json_integer_value(exp);
    else if (json_is_real(exp))
        life = (long)json_real_value(exp);
    else if (json_is_string(exp)) {
        char *end = NULL;
        life = strtol(json_string_value(exp), &end, 10);
        if (!end || *end || end == json_string_value(exp))
            life = -1;
    } else if (exp && !json_is_null(exp))
        life = -1;
    if (life <= 0) {
        rc = fg_error_set(err, FG_EINVALID, "token endpoint",
                          "expires_in is not a positive number of seconds");
        goto cleanup;
    }
    if (!(*token = strdup(tok))) {
        rc = fg_error_set(err, FG_ENOMEM, "token endpoint", "out of memory");
        goto cleanup;
    }
    *lifetime = life;
    rc = FG_OK;
cleanup:
    if (root) {
        /* the token lives in jansson's copy too: wipe it */
        json_t *t = json_object_get(root, "access_token");
        if (json_is_string(t)) {
            volatile char *v = (char *)(uintptr_t)json_string_value(t);
            while (*v)
                *v++ = 0;
        }
        json_decref(root);
    }
    return rc;
}

time_t fg_token_refresh_at(time_t issued, long lifetime)
{
    if (lifetime <= 0)
        return issued;
    long early = lifetime * 4 / 5;      /* at 80% of the life */
    long margin = lifetime - 30;        /* 30 s before it expires */
    long at = early < margin ? early : margin;
    if (at < lifetime / 2)
        at = lifetime / 2;
    return issued + at;
}

/* ---- JWT client assertions ---------------------------------------------- */

static int load_key(const char *pem, size_t len, EVP_PKEY **out, fg_error *err)
{
    if (!pem || !len)
        return fg_error_set(err, FG_EUSAGE, "key", "no private key given");
    if (len > FG_MAX_SMART_KEY_BYTES)
        return fg_error_set(err, FG_ELIMIT, "key", "larger than FG_MAX_SMART_KEY_BYTES (%d)",
                            FG_MAX_SMART_KEY_BYTES);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!k)
        return fg_error_set(err, FG_EINVALID, "key",
                            "not a PEM private key without a passphrase (RSA, or EC P-384)");
    *out = k;
    return FG_OK;
}

/* The JOSE alg a key signs with, checked against the one asked for. */
static int key_alg(EVP_PKEY *k, const char *want, const char **alg, fg_error *err)
{
    const char *have = NULL;
    if (EVP_PKEY_is_a(k, "RSA")) {
        if (EVP_PKEY_get_bits(k) < 2048)
            return fg_error_set(err, FG_EINVALID, "key",
                                "an RSA key of %d bits; SMART needs at least 2048",
                                EVP_PKEY_get_bits(k));
        have = "RS384";
    } else if (EVP_PKEY_is_a(k, "EC")) {
        char curve[64] = "";
        size_t n = 0;
        EVP_PKEY_get_utf8_string_param(k, "group", curve, sizeof(curve), &n);
        if (strcmp(curve, "secp384r1") != 0 && strcmp(curve, "P-384") != 0)
            return fg_error_set(err, FG_EINVALID, "key",
                                "an EC key on curve %s; ES384 needs P-384 (secp384r1)",
                                curve[0] ? curve : "?");
        have = "ES384";
    } else {
        return fg_error_set(err, FG_EINVALID, "key", "a %s key; SMART needs RSA or EC P-384",
                            EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "?");
    }
    if (want && strcmp(want, "RS384") != 0 && strcmp(want, "ES384") != 0)
        return fg_error_set(err, FG_EUSAGE, "alg", "'%.20s' is not RS384 or ES384", want);
    if (want && strcmp(want, have) != 0)
        return fg_error_set(err, FG_EUSAGE, "alg", "%s does not fit the key, which signs %s",
                            want, have);
    *alg = have;
    return FG_OK;
}

/* DER ECDSA-Sig-Value to the fixed-size R||S of JWS (RFC 7518 3.4). */
static int der_to_jose(const unsigned char *der, size_t len, unsigned char out[2 * ES384_HALF])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (!sig)
        return -1;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    int ok = BN_bn2binpad(r, out, ES384_HALF) == ES384_HALF &&
             BN_bn2binpad(s, out + ES384_HALF, ES384_HALF) == ES384_HALF;
    ECDSA_SIG_free(sig);
    return ok ? 0 : -1;
}

static int sign_jwt(EVP_PKEY *k, const char *alg, const char *kid, const char *client_id,
                    const char *aud, const char *jti, time_t now, char **out, fg_error *err)
{
    json_t *hdr = NULL, *claims = NULL;
    char *hs = NULL, *cs = NULL;
    unsigned char *sig = NULL;
    EVP_MD_CTX *md = NULL;
    fg_buf b;
    fg_buf_init(&b);
    int rc = FG_ENOMEM;
    char jti_buf[33];
    if (!jti) {
        unsigned char r[16];
        if (RAND_bytes(r, sizeof(r)) != 1) {
            rc = fg_error_set(err, FG_EINTERNAL, "jwt", "no random bytes for the jti");
            goto cleanup;
        }
        for (int i = 0; i < 16; i++)
            snprintf(jti_buf + 2 * i, 3, "%02x", r[i]);
        jti = jti_buf;
    }
    hdr = json_pack("{s:s, s:s, s:s}", "alg", alg, "kid", kid, "typ", "JWT");
    claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", client_id, "sub", client_id,
                       "aud", aud, "jti", jti, "iat", (json_int_t)now, "exp",
                       (json_int_t)(now + FG_SMART_ASSERTION_LIFETIME_S));
    if (!hdr || !claims || !(hs = fg_json_dumps(hdr, JSON_COMPACT, NULL)) ||
        !(cs = fg_json_dumps(claims, JSON_COMPACT, NULL))) {
        rc = fg_error_set(err, FG_ENOMEM, "jwt", "out of memory");
        goto cleanup;
    }
    b64url(&b, hs, strlen(hs));
    fg_buf_putc(&b, '.');
    b64url(&b, cs, strlen(cs));
    size_t siglen = 0;
    if (b.failed || !(md = EVP_MD_CTX_new()) ||
        EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, k) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)b.data, b.len) != 1 ||
        !(sig = malloc(siglen)) ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)b.data, b.len) != 1) {
        rc = fg_error_set(err, FG_EINTERNAL, "jwt", "OpenSSL could not sign the assertion (%s)",
                          alg);
        goto cleanup;
    }
    fg_buf_putc(&b, '.');
    if (strcmp(alg, "ES384") == 0) {
        unsigned char raw[2 * ES384_HALF];
        if (der_to_jose(sig, siglen, raw) != 0) {
            rc = fg_error_set(err, FG_EINTERNAL, "jwt", "unreadable ECDSA signature");
            goto cleanup;
        }
        b64url(&b, raw, sizeof(raw));
    } else {
        b64url(&b, sig, siglen);
    }
    if (b.failed) {
        rc = fg_error_set(err, FG_ENOMEM, "jwt", "out of memory");
        goto cleanup;
    }
    *out = fg_buf_take(&b, NULL);
    rc = *out ? FG_OK : fg_error_set(err, FG_ENOMEM, "jwt", "out of memory");
cleanup:
    EVP_MD_CTX_free(md);
    free(sig);
    free(hs);
    free(cs);
    json_decref(hdr);
    json_decref(claims);
    wipe_buf(&b);
    return rc;
}

int fg_rest_jwt_assertion(const char *key_pem, size_t key_len, const char *alg, const char *kid,
                          const char *client_id, const char *aud, const char *jti, time_t now,
                          char **out, fg_error *err)
{
    EVP_PKEY *k = NULL;
    const char *use = NULL;
    int rc = FG_EUSAGE;
    if (!kid || !*kid || !client_id || !*client_id || !aud || !*aud) {
        rc = fg_error_set(err, FG_EUSAGE, "jwt", "kid, client id and audience are required");
        goto cleanup;
    }
    if ((rc = load_key(key_pem, key_len, &k, err)) != FG_OK ||
        (rc = key_alg(k, alg, &use, err)) != FG_OK)
        goto cleanup;
    rc = sign_jwt(k, use, kid, client_id, aud, jti, now, out, err);
cleanup:
    EVP_PKEY_free(k);
    return rc;
}

/* ---- the providers ------------------------------------------------------ */

enum { PENDING_NONE, PENDING_DISCOVERY, PENDING_TOKEN };

typedef struct oauth {
    fg_token_provider base;
    int smart;
    char *server, *token_url, *client_id, *secret, *scope, *kid;
    EVP_PKEY *key;
    const char *alg;
    char *token;       /* the current access token, or NULL */
    time_t refresh_at; /* when to fetch the next one */
    int pending;
    fg_token_request req;
} oauth;

static void clear_request(oauth *a)
{
    free(a->req.url);
    wipe_free(a->req.form);
    a->req.url = a->req.form = NULL;
}

static int oauth_token(fg_token_provider *p, time_t now, const char **token, fg_error *err)
{
    (void)err;
    oauth *a = (oauth *)p;
    if (!a->token || now >= a->refresh_at)
        return FG_TOKEN_FETCH;
    *token = a->token;
    return FG_OK;
}

static int oauth_request(fg_token_provider *p, time_t now, fg_token_request *req, fg_error *err)
{
    oauth *a = (oauth *)p;
    fg_buf f;
    fg_buf_init(&f);
    char *jwt = NULL;
    int rc = FG_ENOMEM;
    clear_request(a);
    if (!a->token_url) {
        fg_buf u;
        fg_buf_init(&u);
        fg_buf_printf(&u, "%s/.well-known/smart-configuration", a->server);
        if (u.failed || !(a->req.url = fg_buf_take(&u, NULL))) {
            fg_buf_free(&u);
            rc = fg_error_set(err, FG_ENOMEM, "auth", "out of memory");
            goto cleanup;
        }
        a->pending = PENDING_DISCOVERY;
        *req = a->req;
        rc = FG_OK;
        goto cleanup;
    }
    form_field(&f, "grant_type", "client_credentials");
    if (a->scope)
        form_field(&f, "scope", a->scope);
    if (a->smart) {
        if ((rc = sign_jwt(a->key, a->alg, a->kid, a->client_id, a->token_url, NULL, now, &jwt,
                           err)) != FG_OK)
            goto cleanup;
        form_field(&f, "client_assertion_type", ASSERTION_TYPE);
        form_field(&f, "client_assertion", jwt);
    } else {
        form_field(&f, "client_id", a->client_id);
        form_field(&f, "client_secret", a->secret);
    }
    if (f.failed || !(a->req.url = strdup(a->token_url)) ||
        !(a->req.form = fg_buf_take(&f, NULL))) {
        rc = fg_error_set(err, FG_ENOMEM, "auth", "out of memory");
        goto cleanup;
    }
    a->pending = PENDING_TOKEN;
    *req = a->req;
    rc = FG_OK;
cleanup:
    wipe_free(jwt);
    wipe_buf(&f);
    return rc;
}

static int take_discovery(oauth *a, long status, const char *body, size_t len, fg_error *err)
{
    const char *where = a->req.url ? a->req.url : "smart-configuration";
    if (status != 200)
        return fg_error_set(err, FG_EINVALID, "token url",
                            "%.200s answered HTTP %ld: no SMART configuration; give the token "
                            "endpoint", where, status);
    json_t *root = len <= FG_MAX_TOKEN_RESPONSE_BYTES ? json_loadb(body, len, 0, NULL) : NULL;
    const char *t = root ? json_string_value(json_object_get(root, "token_endpoint")) : NULL;
    int rc = FG_OK;
    if (!t || (strncasecmp(t, "https://", 8) != 0 && strncasecmp(t, "http://", 7) != 0))
        rc = fg_error_set(err, FG_EINVALID, "token url",
                          "the SMART configuration at %.200s names no http(s) token_endpoint; "
                          "give the token endpoint", where);
    else if (strncasecmp(t, "http://", 7) == 0 && strncasecmp(a->server, "https://", 8) == 0)
        rc = fg_error_set(err, FG_EINVALID, where,
                          "the token_endpoint is plain http for an https server; refusing to "
                          "send credentials unencrypted");
    else if (!(a->token_url = strdup(t)))
        rc = fg_error_set(err, FG_ENOMEM, where, "out of memory");
    json_decref(root);
    return rc;
}

static int oauth_response(fg_token_provider *p, time_t now, long status, const char *body,
                          size_t len, fg_error *err)
{
    oauth *a = (oauth *)p;
    int pending = a->pending;
    a->pending = PENDING_NONE;
    int rc;
    if (pending == PENDING_DISCOVERY) {
        rc = take_discovery(a, status, body ? body : "", len, err);
    } else if (pending == PENDING_TOKEN) {
        char *tok = NULL;
        long life = 0;
        rc = fg_rest_parse_token_response(status, body, len, &tok, &life, err);
        if (rc == FG_OK) {
            wipe_free(a->token);
            a->token = tok;
            a->refresh_at = fg_token_refresh_at(now, life);
        } else if (err) {
            snprintf(err->where, sizeof(err->where), "%.200s", a->token_url);
            fg_http_redact(err->text, sizeof(err->text), a->secret);
        }
    } else {
        rc = fg_error_set(err, FG_EINTERNAL, "auth", "a token answer nobody asked for");
    }
    clear_request(a);
    return rc;
}

static void oauth_invalidate(fg_token_provider *p)
{
    oauth *a = (oauth *)p;
    wipe_free(a->token);
    a->token = NULL;
}

static const char *oauth_secret(const fg_token_provider *p)
{
    const oauth *a = (const oauth *)p;
    return a->token ? a->token : a->secret;
}

static void oauth_free(fg_token_provider *p)
{
    oauth *a = (oauth *)p;
    clear_request(a);
    wipe_free(a->token);
    wipe_free(a->secret);
    free(a->server);
    free(a->token_url);
    free(a->client_id);
    free(a->scope);
    free(a->kid);
    EVP_PKEY_free(a->key);
    free(a);
}

static oauth *oauth_alloc(const fg_oauth_options *o, int smart)
{
    oauth *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->smart = smart;
    a->base.token = oauth_token;
    a->base.request = oauth_request;
    a->base.response = oauth_response;
    a->base.invalidate = oauth_invalidate;
    a->base.secret = oauth_secret;
    a->base.free = oauth_free;
    a->client_id = dup_or_null(o->client_id);
    a->token_url = dup_or_null(o->token_url);
    a->scope = dup_or_null(o->scope ? o->scope : smart ? FG_SMART_DEFAULT_SCOPE : NULL);
    if (!a->client_id || (o->token_url && !a->token_url) || (!a->scope && (smart || o->scope))) {
        oauth_free(&a->base);
        return NULL;
    }
    return a;
}

int fg_token_client_credentials_new(const fg_oauth_options *o, fg_token_provider **out,
                                    fg_error *err)
{
    if (!o || !o->token_url || !*o->token_url)
        return fg_error_set(err, FG_EUSAGE, "token url", "client credentials need a token URL");
    if (!o->client_id || !*o->client_id)
        return fg_error_set(err, FG_EUSAGE, "client id", "client credentials need a client id");
    if (!o->client_secret || !*o->client_secret)
        return fg_error_set(err, FG_EUSAGE, "client secret",
                            "client credentials need a secret");
    oauth *a = oauth_alloc(o, 0);
    if (!a || !(a->secret = strdup(o->client_secret))) {
        if (a)
            oauth_free(&a->base);
        return fg_error_set(err, FG_ENOMEM, "auth", "out of memory");
    }
    *out = &a->base;
    return FG_OK;
}

int fg_token_smart_new(const fg_oauth_options *o, fg_token_provider **out, fg_error *err)
{
    oauth *a = NULL;
    int rc = FG_EUSAGE;
    if (!o || !o->client_id || !*o->client_id) {
        rc = fg_error_set(err, FG_EUSAGE, "client id", "SMART needs a client id");
        goto cleanup;
    }
    if (!o->kid || !*o->kid) {
        rc = fg_error_set(err, FG_EUSAGE, "kid", "SMART needs the key id registered in the JWKS");
        goto cleanup;
    }
    if ((!o->token_url || !*o->token_url) && (!o->server || !*o->server)) {
        rc = fg_error_set(err, FG_EUSAGE, "token url",
                          "SMART needs a token URL or a server to discover it from");
        goto cleanup;
    }
    if (!(a = oauth_alloc(o, 1)) || !(a->kid = strdup(o->kid)) ||
        (o->server && !(a->server = strdup(o->server)))) {
        rc = fg_error_set(err, FG_ENOMEM, "auth", "out of memory");
        goto cleanup;
    }
    for (size_t n = a->server ? strlen(a->server) : 0; n && a->server[n - 1] == '/'; n--)
        a->server[n - 1] = 0;
    if ((rc = load_key(o->key_pem, o->key_len, &a->key, err)) != FG_OK ||
        (rc = key_alg(a->key, o->alg, &a->alg, err)) != FG_OK)
        goto cleanup;
    *out = &a->base;
    a = NULL;
    rc = FG_OK;
cleanup:
    if (a)
        oauth_free(&a->base);
    return rc;
}
