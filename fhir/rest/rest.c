/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rest.c: judging what a FHIR server answers: response bodies,
 * CapabilityStatements, transaction-responses, OperationOutcomes. No network
 * I/O here.
 */
#include "fhir/rest/fg_rest.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


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
    fg_rest_capability caps;
    int rc = fg_rest_read_capability(body, len, &caps, err);
    if (rc == FG_OK && !caps.transaction)
        rc = fg_error_set(err, FG_EINVALID, "CapabilityStatement.rest.interaction",
                          "the server does not declare the 'transaction' interaction; "
                          "fhirgen pushes transaction Bundles");
    return rc;
}

int fg_rest_read_capability(const char *body, size_t len, fg_rest_capability *caps,
                            fg_error *err)
{
    int rc = FG_EINVALID;
    memset(caps, 0, sizeof(*caps));
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
    json_t *rest = json_object_get(root, "rest"), *r, *it;
    size_t i, k;
    json_array_foreach(rest, i, r) {
        const char *mode = json_string_value(json_object_get(r, "mode"));
        if (mode && strcmp(mode, "server") != 0)
            continue;
        json_array_foreach(json_object_get(r, "interaction"), k, it) {
            const char *code = json_string_value(json_object_get(it, "code"));
            if (code && strcmp(code, "transaction") == 0)
                caps->transaction = 1;
            if (code && strcmp(code, "batch") == 0)
                caps->batch = 1;
        }
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
