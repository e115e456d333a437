/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fg_rest.h: the pieces of a FHIR REST client that do not touch the network.
 *
 * The push loop (push/fg_push.h) owns the sockets, through the pool of
 * fhir/http/fg_http.h; this module reads and judges what servers answer:
 *
 *   - a server's CapabilityStatement: FHIR R4 (4.0.x) and transactions, or a
 *     refusal naming what is missing;
 *   - a transaction-response Bundle: per-entry status, location, and the
 *     OperationOutcome issues of each entry;
 *   - token providers for the Authorization header.
 *
 * Retries, transport settings and redaction are HTTP matters: fg_http.h.
 */
#ifndef FG_REST_H
#define FG_REST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_error.h"
#include "fhir/http/fg_http.h"

/* Limits of the REST client and its authorisation. A value that would cross one is refused with
 * FG_ELIMIT. */
#define FG_MAX_PUSH_RESPONSE_BYTES (64u << 20) /* one answer of a FHIR server */
#define FG_MAX_TOKEN_BYTES 16384               /* one access token or token file */
#define FG_MAX_TOKEN_RESPONSE_BYTES 65536      /* one answer of a token endpoint */
#define FG_TOKEN_DEFAULT_LIFETIME_S 300        /* a token whose answer gives no expires_in */
#define FG_SMART_ASSERTION_LIFETIME_S 240      /* exp of a SMART client assertion (at most 300) */
#define FG_MAX_SMART_KEY_BYTES 65536           /* one PEM private key */


/* ---- what servers answer ---------------------------------------------- */

/* Check that a response body is JSON worth parsing: not empty, not HTML,
 * not larger than FG_MAX_PUSH_RESPONSE_BYTES, and (when content_type is
 * not NULL) a JSON media type. FG_OK or FG_EINVALID/FG_ELIMIT with a message
 * that quotes the start of the body. */
int fg_rest_check_body(const char *content_type, const char *body, size_t len, fg_error *err);

/* Check a CapabilityStatement: fhirVersion 4.0.x and a rest.interaction with
 * code "transaction". FG_OK, or FG_EINVALID with a message saying which is
 * missing (e.g. "the server speaks FHIR 5.0.0, not R4 (4.0.x)"). */
int fg_rest_check_capability(const char *body, size_t len, fg_error *err);

/* What a CapabilityStatement offers for loading data. */
typedef struct fg_rest_capability {
    int transaction; /* rest.interaction "transaction" */
    int batch;       /* rest.interaction "batch" */
} fg_rest_capability;

/* Read a CapabilityStatement: FG_OK when it is one and speaks FHIR 4.0.x,
 * with *caps saying which of transaction and batch it declares (either may
 * be missing); else FG_EINVALID as fg_rest_check_capability. */
int fg_rest_read_capability(const char *body, size_t len, fg_rest_capability *caps,
                            fg_error *err);

/* Append the issues of an OperationOutcome (JSON text) to out as
 * "severity code: diagnostics-or-details; ...". Appends nothing when the
 * body is not an OperationOutcome. */
void fg_rest_outcome_text(const char *body, size_t len, fg_buf *out);

/* One entry of a transaction-response. */
typedef struct fg_rest_entry {
    int status;      /* the HTTP status of response.status, 0 when unreadable */
    char *location;  /* response.location, or NULL */
    char *outcome;   /* response.outcome issues as text, or NULL */
} fg_rest_entry;

typedef struct fg_rest_tx_response {
    fg_rest_entry *entries;
    size_t n_entries;
    size_t n_failed;    /* entries whose status is not 2xx */
} fg_rest_tx_response;

/* Parse a transaction-response Bundle. On FG_OK *out owns the entries (free
 * with fg_rest_tx_response_free). FG_EINVALID when the body is not a Bundle
 * of type transaction-response or batch-response. */
int fg_rest_parse_tx_response(const char *body, size_t len, fg_rest_tx_response *out,
                              fg_error *err);

/* Free what fg_rest_parse_tx_response allocated; accepts NULL. */
void fg_rest_tx_response_free(fg_rest_tx_response *r);

/* ---- tokens -------------------------------------------------------------- */

/*
 * A source of access tokens for the Authorization header. The push loop asks
 * `token` before each request and calls `invalidate` once after a 401.
 * A provider that must fetch its tokens (OAuth2 client credentials, SMART
 * Backend Services) answers FG_TOKEN_FETCH from `token`, and the loop runs
 * the request the provider describes with `request` (URL, form body; see
 * push/push_auth.c), then hands the answer to `response`. The static
 * providers below never ask for a fetch.
 */
#define FG_TOKEN_FETCH 1

typedef struct fg_token_request {
    char *url;       /* token endpoint; owned by the provider */
    char *form;      /* application/x-www-form-urlencoded body; owned by the provider */
} fg_token_request;

typedef struct fg_token_provider fg_token_provider;
struct fg_token_provider {
    /* FG_OK with *token (borrowed, valid until the next call) or
     * FG_TOKEN_FETCH, or a negative code with err filled. */
    int (*token)(fg_token_provider *p, time_t now, const char **token, fg_error *err);
    /* Describe the token request to make; only called after FG_TOKEN_FETCH. */
    int (*request)(fg_token_provider *p, time_t now, fg_token_request *req, fg_error *err);
    /* Take the token endpoint's answer. */
    int (*response)(fg_token_provider *p, time_t now, long status, const char *body, size_t len,
                    fg_error *err);
    /* Forget the current token (after a 401); may be NULL. */
    void (*invalidate)(fg_token_provider *p);
    /* The secret this provider holds, for fg_http_redact(); may return NULL. */
    const char *(*secret)(const fg_token_provider *p);
    void (*free)(fg_token_provider *p);
};

/* A provider that always answers the same bearer token (copied). *out is
 * new (free with fg_token_provider_free). FG_EINVALID for an empty token or
 * one with characters an HTTP header cannot carry; the message never quotes
 * the token. */
int fg_token_static_new(const char *token, fg_token_provider **out, fg_error *err);

/* The same, with the token read from a file (surrounding white space
 * trimmed; at most FG_MAX_TOKEN_BYTES). */
int fg_token_file_new(const char *path, fg_token_provider **out, fg_error *err);

/* Free a provider; accepts NULL. */
void fg_token_provider_free(fg_token_provider *p);

/* ---- fetched tokens (rest_auth.c) ----------------------------------------
 *
 * A request whose `form` is NULL is a GET (SMART configuration discovery);
 * otherwise a POST of the form. The providers below ask for a fetch when
 * they hold no token or when fg_token_refresh_at() has passed, and again
 * after `invalidate`.
 */

/* Settings of the OAuth2 providers; strings are copied. */
typedef struct fg_oauth_options {
    const char *server;        /* FHIR base URL: SMART discovery when token_url is NULL */
    const char *token_url;     /* token endpoint, or NULL (SMART only: discovered) */
    const char *client_id;
    const char *client_secret; /* client credentials */
    const char *scope;         /* NULL: none sent (client credentials), FG_SMART_DEFAULT_SCOPE (SMART) */
    const char *key_pem;       /* SMART: the private key as PEM text (RSA, or EC P-384) */
    size_t key_len;
    const char *kid;           /* SMART: the JWT "kid" header */
    const char *alg;           /* SMART: "RS384" or "ES384"; NULL: from the key type */
} fg_oauth_options;

/* The scope a SMART Backend Services client asks for when none is given:
 * every resource type with every SMART v2 permission (create, read, update,
 * delete, search), what SMART v1 wrote with the wildcard ".*" scope. */
#define FG_SMART_DEFAULT_SCOPE "system/*.cruds"

/* OAuth2 client credentials (RFC 6749 section 4.4; client_secret_post).
 * *out is new (free with fg_token_provider_free). FG_EUSAGE when the token
 * URL, client id or secret is missing; messages never quote the secret. */
int fg_token_client_credentials_new(const fg_oauth_options *o, fg_token_provider **out,
                                    fg_error *err);

/* SMART Backend Services: a JWT client assertion signed with the key
 * (RS384 or ES384), token endpoint from token_url or discovered at
 * [server]/.well-known/smart-configuration. *out is new. FG_EINVALID when
 * the key cannot be read or does not fit alg (the message names the key
 * type, never its material), FG_EUSAGE for missing settings. */
int fg_token_smart_new(const fg_oauth_options *o, fg_token_provider **out, fg_error *err);

/* Read a token endpoint's answer. On FG_OK *token is a new string (the
 * caller frees it) and *lifetime the expires_in seconds
 * (FG_TOKEN_DEFAULT_LIFETIME_S when absent). A non-2xx status, an OAuth2
 * error body, a missing access_token, a token_type other than Bearer or a
 * token a header cannot carry is FG_EINVALID with a message that quotes
 * error/error_description but never a token. */
int fg_rest_parse_token_response(long status, const char *body, size_t len, char **token,
                                 long *lifetime, fg_error *err);

/* When a token issued at `issued` that lives `lifetime` seconds is to be
 * replaced: 30 s before it expires or at 80% of its life, whichever comes
 * first, but not before half of it. */
time_t fg_token_refresh_at(time_t issued, long lifetime);

/* Build a SMART client assertion: a compact JWT with header {alg, kid, typ
 * JWT} and claims iss = sub = client_id, aud, jti, iat = now,
 * exp = now + FG_SMART_ASSERTION_LIFETIME_S, signed with key_pem (ES384
 * signatures in the JOSE R||S form). alg NULL: from the key type. jti NULL:
 * 128 random bits. *out is new (the caller frees it). */
int fg_rest_jwt_assertion(const char *key_pem, size_t key_len, const char *alg, const char *kid,
                          const char *client_id, const char *aud, const char *jti, time_t now,
                          char **out, fg_error *err);

#endif
