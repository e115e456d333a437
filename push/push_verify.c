/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push_verify.c: what `fhirgen push --verify` searches for, and how it
 * judges the answers.
 *
 * A fhirgen bundle PUTs the patient's own resources under ids of its own
 * and creates the shared ones (Organization, Practitioner, Location) with
 * ifNoneExist. So after a push the server must hold, for each patient, as
 * many resources of each type referring to the Patient as the bundle PUTs,
 * and exactly one match for each distinct ifNoneExist. Both are asked with
 * `_summary=count` searches; the Patient's id on the server comes from the
 * transaction-response location of its entry.
 */
#include "push/push_private.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_buf.h"
#include "fhir/base/fg_hash.h"

#define MAX_TYPES 64       /* resource types counted in one bundle */
#define TYPE_NAME_MAX 64
#define ID_MAX 128

typedef struct query {
    char *url;        /* relative to the base */
    const char *path; /* the bundle (owned by paths[]) */
    long expected;
} query;

struct push_verify {
    query *q;
    size_t n, cap;
    char **paths;
    size_t n_paths, cap_paths;
    fg_hashset seen; /* distinct ifNoneExist searches already recorded */
};

push_verify *push_verify_new(void)
{
    return calloc(1, sizeof(push_verify));
}

void push_verify_free(push_verify *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        free(v->q[i].url);
    for (size_t i = 0; i < v->n_paths; i++)
        free(v->paths[i]);
    free(v->q);
    free(v->paths);
    fg_hashset_free(&v->seen);
    free(v);
}

/* Percent-encode what a URL query must not carry raw ('|', spaces, ...). */
static void put_encoded(fg_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~=&:/,%", c))
            fg_buf_putc(b, (char)c);
        else
            fg_buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
}

static int add_query(push_verify *v, fg_buf *url, const char *path, long expected)
{
    if (url->failed)
        return -1;
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        query *q = realloc(v->q, cap * sizeof(*q));
        if (!q)
            return -1;
        v->q = q;
        v->cap = cap;
    }
    char *u = strdup(url->data);
    if (!u)
        return -1;
    v->q[v->n++] = (query){u, path, expected};
    return 0;
}

/* The id in "Patient/<id>", "Patient/<id>/_history/<v>" or an absolute URL
 * ending so. 0 and id[] filled, or -1. */
static int patient_id_of(const char *loc, char *id, size_t size)
{
    const char *p = NULL;
    for (const char *q = strstr(loc, "Patient/"); q; q = strstr(q + 1, "Patient/"))
        if (q == loc || q[-1] == '/')
            p = q + 8;
    if (!p)
        return -1;
    size_t n = strcspn(p, "/?#");
    if (n == 0 || n >= size)
        return -1;
    memcpy(id, p, n);
    id[n] = 0;
    return 0;
}

typedef struct type_count {
    char type[TYPE_NAME_MAX];
    long n;
} type_count;

int push_verify_add(push_verify *v, const char *path, const char *data, size_t len,
                    const fg_rest_tx_response *resp, int split, fg_error *err)
{
    json_t *root = NULL;
    char *owned_path = NULL;
    type_count *tc = NULL;
    fg_buf url;
    fg_buf_init(&url);
    int rc = FG_ENOMEM, n_tc = 0;
    char pid[ID_MAX] = "";

    json_error_t je;
    if (!(root = json_loadb(data, len, 0, &je))) {
        rc = fg_error_set(err, FG_EINVALID, path, "not JSON: %s", je.text);
        goto cleanup;
    }
    json_t *entries = json_object_get(root, "entry"), *e;
    if (!json_is_array(entries)) {
        rc = fg_error_set(err, FG_EINVALID, path, "not a Bundle with entries");
        goto cleanup;
    }
    if (!(tc = calloc(MAX_TYPES, sizeof(*tc))) || !(owned_path = strdup(path)))
        goto cleanup;
    if (v->n_paths == v->cap_paths) {
        size_t cap = v->cap_paths ? 2 * v->cap_paths : 64;
        char **p = realloc(v->paths, cap * sizeof(*p));
        if (!p)
            goto cleanup;
        v->paths = p;
        v->cap_paths = cap;
    }
    v->paths[v->n_paths++] = owned_path;
    const char *bpath = owned_path;
    owned_path = NULL;

    size_t i;
    json_array_foreach(entries, i, e) {
        json_t *req = json_object_get(e, "request");
        const char *type = json_string_value(json_object_get(json_object_get(e, "resource"),
                                                             "resourceType"));
        const char *method = json_string_value(json_object_get(req, "method"));
        const char *rurl = json_string_value(json_object_get(req, "url"));
        const char *ine = json_string_value(json_object_get(req, "ifNoneExist"));
        if (!type || !method || strlen(type) >= TYPE_NAME_MAX) {
            rc = fg_error_set(err, FG_EINVALID, path, "entry[%zu] has no resourceType "
                              "or request.method", i);
            goto cleanup;
        }
        if (ine) { /* a shared resource: exactly one match on the server */
            fg_buf_clear(&url);
            fg_buf_printf(&url, "%s?", type);
            put_encoded(&url, ine);
            fg_buf_puts(&url, "&_summary=count");
            if (url.failed)
                goto cleanup;
            int fresh = fg_hashset_add(&v->seen, fg_fnv1a_str(FG_FNV_SEED, url.data));
            if (fresh < 0 || (fresh && add_query(v, &url, bpath, 1) != 0))
                goto cleanup;
            continue;
        }
        if (strcmp(type, "Patient") == 0) {
            const char *loc = resp && i < resp->n_entries ? resp->entries[i].location : NULL;
            const char *full = json_string_value(json_object_get(e, "fullUrl"));
            if (split && strcmp(method, "POST") == 0 && full &&
                strncmp(full, "urn:uuid:", 9) == 0 && strlen(full + 9) < sizeof(pid)) {
                snprintf(pid, sizeof(pid), "%s", full + 9); /* split sends it as PUT Patient/<uuid> */
            } else if (!(loc && patient_id_of(loc, pid, sizeof(pid)) == 0) &&
                !(strcmp(method, "PUT") == 0 && rurl && patient_id_of(rurl, pid, sizeof(pid)) == 0)) {
                rc = fg_error_set(err, FG_EINVALID, path, "cannot tell the Patient's id "
                                  "on the server (no location in the answer, no PUT url)");
                goto cleanup;
            }
        }
        int k = 0;
        while (k < n_tc && strcmp(tc[k].type, type) != 0)
            k++;
        if (k == n_tc) {
            if (n_tc == MAX_TYPES) {
                rc = fg_error_set(err, FG_ELIMIT, path, "more than %d resource types",
                                  MAX_TYPES);
                goto cleanup;
            }
            snprintf(tc[n_tc++].type, TYPE_NAME_MAX, "%s", type);
        }
        tc[k].n++;
    }
    if (!pid[0]) {
        rc = fg_error_set(err, FG_EINVALID, path, "the bundle has no Patient");
        goto cleanup;
    }
    for (int k = 0; k < n_tc; k++) {
        fg_buf_clear(&url);
        if (strcmp(tc[k].type, "Patient") == 0)
            fg_buf_printf(&url, "Patient?_id=");
        else
            fg_buf_printf(&url, "%s?patient=Patient/", tc[k].type);
        put_encoded(&url, pid);
        fg_buf_puts(&url, "&_summary=count");
        if (add_query(v, &url, bpath, tc[k].n) != 0)
            goto cleanup;
    }
    rc = FG_OK;
cleanup:
    if (rc == FG_ENOMEM)
        fg_error_set(err, FG_ENOMEM, path, "out of memory");
    json_decref(root);
    free(owned_path);
    free(tc);
    fg_buf_free(&url);
    return rc;
}

size_t push_verify_count(const push_verify *v)
{
    return v ? v->n : 0;
}

const char *push_verify_query(const push_verify *v, size_t i, const char **path)
{
    if (path)
        *path = v->q[i].path;
    return v->q[i].url;
}

int push_verify_judge(const push_verify *v, size_t i, const char *body, size_t len, char *msg,
                      size_t size)
{
    const query *q = &v->q[i];
    json_t *root = json_loadb(body ? body : "", len, 0, NULL);
    json_t *total = json_object_get(root, "total");
    int rc = 0;
    if (!json_is_integer(total)) {
        snprintf(msg, size, "%s: the search answer has no total", q->url);
        rc = -1;
    } else if (json_integer_value(total) != q->expected) {
        snprintf(msg, size, "%s: the server holds %lld, the bundle defines %ld", q->url,
                 (long long)json_integer_value(total), q->expected);
        rc = -1;
    }
    json_decref(root);
    return rc;
}

/* ---- --verify: read back what landed ------------------------------------ */

void push_difference(push *P, const char *path, const char *msg)
{
    P->st.verify_differences++;
    if (P->o->on_difference)
        P->o->on_difference(P->o->ctx, path, msg);
}

/* Record what a landed (resp) or journalled (resp NULL) bundle defines. */
void push_verify_record(push *P, slot *s, const fg_rest_tx_response *resp)
{
    fg_error e;
    fg_error_clear(&e);
    int split = s->plan || P->st.mode == FG_PUSH_SPLIT || P->st.mode == FG_PUSH_BATCH;
    if (push_verify_add(P->verify, s->it.path, s->it.data, s->it.len, resp, split,
                        &e) != FG_OK)
        push_difference(P, s->it.path, e.text);
}

static void verify_start(push *P, slot *s)
{
    char url[4200];
    fg_error e;
    fg_error_clear(&e);
    const char *path;
    snprintf(url, sizeof(url), "%s/%s", P->base, push_verify_query(P->verify, s->vq, &path));
    s->attempts++;
    if (push_setup_request(P, s, url, NULL, 0, &e) != FG_OK ||
        fg_http_pool_add(P->pool, &s->x, &e) != FG_OK) {
        push_difference(P, path, e.text[0] ? e.text : "cannot start the search");
        s->state = SLOT_IDLE;
        return;
    }
    P->st.verify_queries++;
    s->state = SLOT_RUNNING;
}

void push_verify_finished(push *P, slot *s, int cc)
{
    const char *path;
    const char *q = push_verify_query(P->verify, s->vq, &path);
    long status = fg_http_xfer_status(&s->x);
    char msg[FG_ERROR_TEXT_MAX];
    s->state = SLOT_IDLE;
    if (cc == CURLE_OK && status == 200) {
        if (push_verify_judge(P->verify, s->vq, s->resp.data, s->resp.len, msg, sizeof(msg)) != 0)
            push_difference(P, path, msg);
        return;
    }
    int again = push_describe_failure(s, cc, status, msg, sizeof(msg));
        if (again && s->attempts < push_max_attempts(P) && !(P->o->cancel && *P->o->cancel)) {
        double w = push_retry_wait(P, s, s->attempts);
        s->state = SLOT_WAITING;
        s->due = push_now() + w;
        return;
    }
    char full[FG_ERROR_TEXT_MAX + 300];
    snprintf(full, sizeof(full), "%.200s: the search failed: %s", q, msg);
    push_redact(P, full, sizeof(full));
    push_difference(P, path, full);
}

/* Run every recorded search, concurrency at a time, retrying as the push
 * does; differences go to on_difference. */
int push_verify_phase(push *P, fg_error *err)
{
    size_t next = 0, n = push_verify_count(P->verify);
    for (int i = 0; i < P->n_slots; i++)
        P->slots[i].state = SLOT_IDLE;
    for (;;) {
        int canceled = P->o->cancel && *P->o->cancel, busy = 0;
        double t = push_now(), next_due = t + PROGRESS_INTERVAL;
        for (int i = 0; i < P->n_slots; i++) {
            slot *s = &P->slots[i];
            if (s->state == SLOT_IDLE && next < n && !canceled) {
                s->vq = next++;
                s->attempts = 0;
                verify_start(P, s);
            } else if (s->state == SLOT_WAITING) {
                if (canceled)
                    s->state = SLOT_IDLE;
                else if (s->due <= t)
                    verify_start(P, s);
                else if (s->due < next_due)
                    next_due = s->due;
            }
            busy |= s->state != SLOT_IDLE;
        }
        if (!busy && (next >= n || canceled))
            break;
        int running = 0;
        int ended = fg_http_pool_perform(P->pool, &running, err); /* calls verify_finished() */
        if (ended < 0)
            return ended;
        int wait_ms = (int)((next_due - push_now()) * 1000);
        if (wait_ms > 0)
            fg_http_pool_wait(P->pool, wait_ms, 1);
    }
    return P->o->cancel && *P->o->cancel
               ? fg_error_set(err, FG_ECANCELED, "verify", "canceled during the read-back")
               : FG_OK;
}
