/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llm_cache.c: complete answers on disk, so a rerun asks nothing.
 *
 * The key is the hex SHA-256 of the endpoint URL, a newline and the exact
 * request body (no key or header goes into either). An entry lives at
 * <dir>/<first two hex digits>/<hex>.json and holds
 *   {"request": <the body as JSON>,
 *    "response": {"text", "finish": "stop", "tokens_in", "tokens_out", "model"}}
 * written to a temporary name and renamed, so a reader never sees half an
 * entry. An entry that does not parse, lacks a field, or whose request is
 * not the one asked (a collision, a hand edit) is a miss, and is replaced
 * when the answer comes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fhir/base/fg_data.h"
#include "fhir/base/fg_files.h"
#include "fhir/base/fg_sha256.h"
#include "fhir/json/fg_jw.h"
#include "generators/llm/fg_llm.h"
#include "generators/llm/llm_private.h"

void llm_cache_key(const char *url, const char *body, size_t len, char hex[65])
{
    fg_sha256_part parts[] = {{url, strlen(url)}, {"\n", 1}, {body, len}};
    fg_sha256_hexv(parts, sizeof(parts) / sizeof(parts[0]), hex);
}

int llm_cache_prepare(const char *dir, fg_error *err)
{
    fg_error e;
    if (fg_mkdirs(dir, &e) != FG_OK)
        return fg_error_set(err, FG_EUSAGE, dir, "cannot create the cache folder: %s", e.text);
    return FG_OK;
}

static int entry_path(const char *dir, const char *hex, char *out, size_t size)
{
    return snprintf(out, size, "%s/%.2s/%s.json", dir, hex, hex) < (int)size ? 0 : -1;
}

int llm_cache_get(const char *dir, const char *hex, const char *body, size_t len, llm_answer *a)
{
    char path[4200];
    char *data = NULL;
    size_t n = 0;
    int found = 0;
    json_t *root = NULL, *req = NULL;
    fg_error e;
    if (entry_path(dir, hex, path, sizeof(path)) != 0)
        return 0;
    if (access(path, R_OK) != 0 ||
        fg_read_file(path, FG_MAX_LLM_CACHE_FILE_BYTES, &data, &n, &e) != FG_OK)
        goto cleanup;
    root = json_loadb(data, n, 0, NULL);
    req = json_loadb(body, len, 0, NULL);
    json_t *resp = json_object_get(root, "response");
    json_t *text = json_object_get(resp, "text");
    const char *finish = json_string_value(json_object_get(resp, "finish"));
    if (!req || !json_equal(json_object_get(root, "request"), req) || !json_is_string(text) ||
        !finish || strcmp(finish, "stop") != 0 ||
        json_string_length(text) > FG_MAX_LLM_RESPONSE_BYTES)
        goto cleanup;
    llm_answer_reset(a);
    fg_buf_append(&a->text, json_string_value(text), json_string_length(text));
    if (a->text.failed)
        goto cleanup;
    a->finish = FG_LLM_FINISH_STOP;
    a->finished = 1;
    json_t *ti = json_object_get(resp, "tokens_in"), *to = json_object_get(resp, "tokens_out");
    a->tokens_in = json_is_integer(ti) ? (long)json_integer_value(ti) : 0;
    a->tokens_out = json_is_integer(to) ? (long)json_integer_value(to) : 0;
    const char *m = json_string_value(json_object_get(resp, "model"));
    snprintf(a->model, sizeof(a->model), "%s", m ? m : "");
    found = 1;
cleanup:
    json_decref(req);
    json_decref(root);
    free(data);
    return found;
}

int llm_cache_put(const char *dir, const char *hex, const char *body, size_t len,
                  const char *text, size_t text_len, long tokens_in, long tokens_out,
                  const char *model, fg_error *err)
{
    char path[4200], sub[4200];
    int rc = FG_EIO;
    char *s = NULL;
    json_t *req = json_loadb(body, len, 0, NULL);
    json_t *root = NULL;
    if (!req)
        return fg_error_set(err, FG_EINTERNAL, "cache", "the request body is not JSON");
    root = json_pack("{s:o,s:{s:s%,s:s,s:I,s:I,s:s}}", "request", req, "response", "text", text,
                     text_len, "finish", "stop", "tokens_in", (json_int_t)tokens_in, "tokens_out",
                     (json_int_t)tokens_out, "model", model ? model : "");
    if (!root || !(s = fg_json_dumps(root, JSON_COMPACT, NULL))) {
        rc = fg_error_set(err, FG_ENOMEM, "cache", "out of memory (or the answer is not UTF-8)");
        goto cleanup;
    }
    snprintf(sub, sizeof(sub), "%s/%.2s", dir, hex);
    if (entry_path(dir, hex, path, sizeof(path)) != 0) {
        rc = fg_error_set(err, FG_EIO, dir, "the cache path is too long");
        goto cleanup;
    }
    size_t n = strlen(s);
    s[n] = '\n'; /* the entry ends with a newline: the dump's NUL becomes it */
    fg_error e;
    if (fg_mkdirs(sub, &e) != FG_OK || fg_write_file_atomic(path, s, n + 1, &e) != FG_OK) {
        rc = fg_error_set(err, FG_EIO, e.where, "cannot write to the cache: %s", e.text);
        goto cleanup;
    }
    rc = FG_OK;
cleanup:
    free(s);
    json_decref(root);
    return rc;
}
