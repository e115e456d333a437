/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push_chunks.c: split and batch mode. A slot sends its bundle as a
 * sequence of chunks cut by push_plan.c, one chunk on the wire at a time:
 *
 *   1. the conditional entries not yet resolved, at most iso_entries per
 *      chunk. A conditional create already resolved in this run (another
 *      bundle named the same search) is not sent again; one that another
 *      slot is resolving now makes this slot wait for the answer, so two
 *      slots never race to create the same resource. Their ids are read
 *      from the answer's locations; these chunks are not journalled (sent
 *      again, a conditional create finds what it made);
 *   2. the rest, max_entries per chunk. Each acknowledged chunk is
 *      journalled under the SHA-256 of "<bundle sha>#<first>+<count>"
 *      before the next is sent, so a resumed push skips it.
 *
 * A batch-response names each entry's outcome: the entries refused with a
 * status worth a retry are sent again (alone), any other refusal fails the
 * bundle with the entries named. In the automatic mode an answer that names
 * a limit on transaction size or isolation lowers the chunk size and the
 * chunk is cut again.
 */
#include "push/push_private.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fhir/base/fg_sha256.h"

#define PENDING_POLL 0.02 /* seconds between two looks at a search another slot resolves */
#define SHOWN_ENTRIES 3   /* failed entries named in a bundle's message */

/* Limits of known servers, for answers that name one without its figure. */
static const struct {
    const char *phrase; /* in the server's message (case-insensitive) */
    int entries;        /* what fits */
    int isolation;      /* 1: a limit on chunks with conditional entries */
} known_limits[] = {
    /* Medplum's FHIR router: at most 50 updates in a transaction, and at
     * most 8 entries in one that needs serializable isolation (any
     * conditional create, update or delete). */
    {"more update operations than allowed", 50, 0},
    {"requires strict isolation but has too many entries", 8, 1},
};

/* Words of an answer that is about the size of the bundle. */
static const char *const size_words[] = {
    "too many entries", "too large", "too big", "exceeds the maximum", "maximum number of",
    "entries per bundle", "bundle size", "payload too large", "limit of", "at most",
};

static const char *find_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

/* The first figure within 40 characters after a size word, or -1. */
static long named_figure(const char *msg)
{
    for (size_t w = 0; w < sizeof(size_words) / sizeof(size_words[0]); w++) {
        const char *at = find_nocase(msg, size_words[w]);
        if (!at)
            continue;
        at += strlen(size_words[w]);
        for (int k = 0; k < 40 && at[k]; k++)
            if (isdigit((unsigned char)at[k]))
                return strtol(at + k, NULL, 10);
    }
    return -1;
}

int push_limit_named(long status, const char *msg, int *isolation)
{
    *isolation = 0;
    for (size_t i = 0; i < sizeof(known_limits) / sizeof(known_limits[0]); i++)
        if (find_nocase(msg, known_limits[i].phrase)) {
            *isolation = known_limits[i].isolation;
            return known_limits[i].entries;
        }
    int sized = status == 413;
    for (size_t w = 0; !sized && w < sizeof(size_words) / sizeof(size_words[0]); w++)
        sized = status >= 400 && status < 500 && find_nocase(msg, size_words[w]) != NULL;
    if (!sized)
        return -1;
    long figure = named_figure(msg);
    return figure > 0 && figure <= FG_MAX_PUSH_ENTRIES ? (int)figure : 0;
}

int push_chunks_learn(push *P, long status, const char *msg, size_t n)
{
    int isolation;
    long limit = push_limit_named(status, msg, &isolation);
    if (limit < 0)
        return 0;
    int current = isolation ? P->iso_entries : P->st.max_entries;
    if (P->st.mode == FG_PUSH_SPLIT && n > (size_t)current)
        return 1; /* cut before the limit was learned: cut it again */
    if (limit == 0 || (size_t)limit >= n)
        limit = (long)(n / 2); /* no figure, or one this request kept to: halve */
    if (limit < 1)
        return 0;
    if (isolation) {
        P->iso_entries = (int)limit;
        if (P->st.mode == FG_PUSH_TRANSACTION)
            P->st.max_entries = P->st.max_entries > (int)n / 2 && n > 1 ? (int)n / 2
                                                                         : P->st.max_entries;
    } else {
        P->st.max_entries = (int)limit;
        if (P->iso_entries > limit)
            P->iso_entries = (int)limit;
    }
    push_notice(P, "the server refused %zu entries in one transaction (%.300s): pushing in "
                "split mode from now on, transactions of at most %d entries (%d with "
                "conditional creates)", n, msg, P->st.max_entries, P->iso_entries);
    P->st.mode = FG_PUSH_SPLIT;
    return 1;
}

/* ---- shared resources ----------------------------------------------------- */

/* Memory that lives as long as the push: n bytes, or a copy of str. */
static void *own_bytes(push *P, size_t n)
{
    if (P->n_owned == P->cap_owned) {
        size_t cap = P->cap_owned ? 2 * P->cap_owned : 64;
        void **o = realloc(P->owned, cap * sizeof(*o));
        if (!o)
            return NULL;
        P->owned = o;
        P->cap_owned = cap;
    }
    void *c = calloc(1, n);
    if (c)
        P->owned[P->n_owned++] = c;
    return c;
}

static char *own(push *P, const char *str)
{
    char *c = own_bytes(P, strlen(str) + 1);
    if (c)
        strcpy(c, str);
    return c;
}

/* What the run knows of one conditional create's search. */
typedef struct shared {
    const char *target; /* "Type/id", PUSH_PENDING, or NULL (not resolved) */
    char key[];
} shared;

/* The record of key, made (unresolved) when create is set; NULL when
 * absent (or out of memory). */
static shared *shared_get(push *P, const char *key, int create)
{
    shared *sh = fg_strmap_get(&P->shared, key);
    if (sh || !create)
        return sh;
    if (!(sh = own_bytes(P, sizeof(*sh) + strlen(key) + 1)))
        return NULL;
    strcpy(sh->key, key);
    return fg_strmap_put(&P->shared, sh->key, sh) == FG_OK ? sh : NULL;
}

void push_chunks_free(push *P)
{
    for (size_t i = 0; i < P->n_owned; i++)
        free(P->owned[i]);
    free(P->owned);
    fg_strmap_free(&P->shared);
}

/* Let go of the searches of s's chunk that it marked as being resolved. */
static void unmark(push *P, slot *s)
{
    if (!s->resolving)
        return;
    for (size_t i = 0; i < s->n_wire; i++) {
        shared *sh = push_plan_shared(s->plan, s->wire[i])
                         ? shared_get(P, push_plan_key(s->plan, s->wire[i]), 0)
                         : NULL;
        if (sh && sh->target == PUSH_PENDING)
            sh->target = NULL;
    }
}

/* Mark the shared searches on the wire of s as being resolved: 0, or -1
 * out of memory. */
static int mark(push *P, slot *s)
{
    for (size_t i = 0; i < s->n_wire; i++) {
        if (!push_plan_shared(s->plan, s->wire[i]))
            continue;
        shared *sh = shared_get(P, push_plan_key(s->plan, s->wire[i]), 1);
        if (!sh)
            return -1;
        sh->target = PUSH_PENDING;
    }
    return 0;
}

void push_chunks_release(slot *s)
{
    push_plan_free(s->plan);
    s->plan = NULL;
    s->pos = s->chunk_end = s->n_wire = s->chunks = 0;
    s->resolving = 0;
    s->chunk_key[0] = 0;
}

/* ---- the next chunk -------------------------------------------------------- */

static int wire_add(slot *s, size_t pos)
{
    if (s->n_wire == s->cap_wire) {
        size_t cap = s->cap_wire ? 2 * s->cap_wire : 64;
        size_t *w = realloc(s->wire, cap * sizeof(*w));
        if (!w)
            return -1;
        s->wire = w;
        s->cap_wire = cap;
    }
    s->wire[s->n_wire++] = pos;
    return 0;
}

static void fail_bundle(push *P, slot *s, long status, const char *fmt, const char *text)
{
    char msg[FG_ERROR_TEXT_MAX];
    snprintf(msg, sizeof(msg), fmt, text);
    push_redact(P, msg, sizeof(msg));
    unmark(P, s);
    push_report(P, s, 0, status, msg, NULL);
}

/* The conditional entries of s still to resolve onto the wire. 1 when some
 * are, 2 when the only ones left are being resolved by another slot, 0
 * when all are resolved, -1 out of memory. */
static int resolve_chunk(push *P, slot *s)
{
    size_t nr = push_plan_n_resolve(s->plan);
    int waiting = 0;
    s->n_wire = 0;
    for (size_t i = s->pos; i < nr; i++) {
        if (push_plan_target(s->plan, i))
            continue;
        const char *key = push_plan_key(s->plan, i);
        if (push_plan_shared(s->plan, i)) {
            const shared *sh = shared_get(P, key, 0);
            const char *v = sh ? sh->target : NULL;
            if (v == PUSH_PENDING) {
                waiting = 1;
                continue;
            }
            if (v) {
                if (push_plan_set_target(s->plan, i, v) != FG_OK)
                    return -1;
                continue;
            }
        }
        if (s->n_wire < (size_t)P->iso_entries && wire_add(s, i) != 0)
            return -1;
    }
    if (s->n_wire == 0)
        return waiting ? 2 : 0;
    s->resolving = 1;
    return mark(P, s) == 0 ? 1 : -1;
}

/* Put the next chunk of s on the wire: 1 when there is one, 0 when the
 * bundle is complete, 2 when it must wait for another slot, -1 when it
 * failed (reported). */
static int next_chunk(push *P, slot *s)
{
    fg_error e;
    fg_error_clear(&e);
    s->resolving = 0;
    s->chunk_key[0] = 0;
    if (s->pos < push_plan_n_resolve(s->plan)) {
        int r = resolve_chunk(P, s);
        if (r < 0) {
            fail_bundle(P, s, 0, "%s", "out of memory");
            return -1;
        }
        if (r == 2)
            return 2;
        if (r == 0)
            s->pos = push_plan_n_resolve(s->plan);
    }
    size_t n = push_plan_size(s->plan);
    while (!s->resolving && s->pos < n) {
        size_t end = push_plan_chunk_end(s->plan, s->pos, (size_t)P->st.max_entries);
        char key[200];
        snprintf(key, sizeof(key), "%s#%zu+%zu", s->sha, s->pos, end - s->pos);
        fg_sha256_hex(key, strlen(key), s->chunk_key);
        if (P->o->journal && fg_journal_contains(P->o->journal, s->chunk_key)) {
            s->pos = end;
            s->chunks++;
            P->st.chunks_skipped++;
            continue;
        }
        s->n_wire = 0;
        for (size_t i = s->pos; i < end; i++)
            if (wire_add(s, i) != 0) {
                fail_bundle(P, s, 0, "%s", "out of memory");
                return -1;
            }
        s->chunk_end = end;
        break;
    }
    if (!s->resolving && s->pos >= n)
        return 0;
    if (push_plan_chunk(s->plan, s->wire, s->n_wire, P->st.mode == FG_PUSH_BATCH, &s->body,
                        &e) != FG_OK) {
        fail_bundle(P, s, 0, "%s", e.text);
        return -1;
    }
    return 1;
}

/* Every chunk landed: journal the bundle and report it. */
static void complete(push *P, slot *s)
{
    fg_error e;
    fg_error_clear(&e);
    if (P->o->journal && fg_journal_append(P->o->journal, s->sha, s->it.path, &e) != FG_OK) {
        fail_bundle(P, s, 200, "landed, but the journal could not record it: %s", e.text);
        return;
    }
    P->st.resources += push_plan_size(s->plan);
    if (P->verify)
        push_verify_record(P, s, NULL);
    push_report(P, s, 1, 200, NULL, NULL);
}

void push_chunks_send(push *P, slot *s)
{
    fg_error e;
    fg_error_clear(&e);
    if (s->n_wire == 0) {
        int r = next_chunk(P, s);
        if (r < 0)
            return;
        if (r == 0) {
            complete(P, s);
            return;
        }
        if (r == 2) {
            s->state = SLOT_WAITING;
            s->due = push_now() + PENDING_POLL;
            return;
        }
        s->attempts = 0;
    }
    s->attempts++;
    if (s->attempts > 1)
        P->st.retries++;
    if (push_setup_request(P, s, P->base, s->body.data, s->body.len, &e) != FG_OK ||
        fg_http_pool_add(P->pool, &s->x, &e) != FG_OK) {
        fail_bundle(P, s, 0, "%s", e.text);
        return;
    }
    s->state = SLOT_RUNNING;
    P->st.in_flight++;
}

void push_chunks_begin(push *P, slot *s)
{
    fg_error e;
    fg_error_clear(&e);
    push_chunks_release(s);
    if (push_plan_new(s->it.data, s->it.len, &s->plan, &e) != FG_OK) {
        fail_bundle(P, s, 0, "cannot cut the bundle into chunks: %s", e.text);
        return;
    }
    push_chunks_send(P, s);
}

/* ---- answers ---------------------------------------------------------------- */

void push_name_failed(const char *data, size_t len, const fg_rest_tx_response *r, char *msg,
                      size_t size)
{
    json_t *root = json_loadb(data, len, 0, NULL);
    json_t *entries = json_object_get(root, "entry");
    size_t shown = 0, at = strlen(msg);
    for (size_t i = 0; i < r->n_entries && shown < SHOWN_ENTRIES && at + 1 < size; i++) {
        const fg_rest_entry *re = &r->entries[i];
        if (re->status >= 200 && re->status <= 299)
            continue;
        json_t *e = json_array_get(entries, i);
        const char *url = json_string_value(json_object_get(json_object_get(e, "request"), "url"));
        const char *type = json_string_value(
            json_object_get(json_object_get(e, "resource"), "resourceType"));
        snprintf(msg + at, size - at, "%s%s (entry %zu): HTTP %d%s%.300s", shown ? "; " : ": ",
                 url && strchr(url, '/') ? url : type ? type : "?", i, re->status,
                 re->outcome ? ": " : "", re->outcome ? re->outcome : "");
        at = strlen(msg);
        shown++;
    }
    json_decref(root);
}

/* "Type/id" of a location ("[base/]Type/id[/_history/v]") into out. */
static int location_target(const char *loc, char *out, size_t size)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", loc);
    char *h = strstr(buf, "/_history");
    if (h)
        *h = 0;
    buf[strcspn(buf, "?#")] = 0;
    char *id = strrchr(buf, '/');
    if (!id || id == buf || !id[1])
        return -1;
    *id = 0;
    char *type = strrchr(buf, '/');
    type = type ? type + 1 : buf;
    if (!*type || !isupper((unsigned char)*type))
        return -1;
    snprintf(out, size, "%s/%s", type, id + 1);
    return 0;
}

/* Take a 2xx answer to the chunk of s. */
void push_chunks_landed(push *P, slot *s, long status)
{
    fg_error e;
    fg_error_clear(&e);
    fg_rest_tx_response r = {0};
    const char *body = s->resp.data ? s->resp.data : "";
    const char *ct = s->x.content_type[0] ? s->x.content_type : NULL;
    if (fg_rest_check_body(ct, body, s->resp.len, &e) != FG_OK ||
        fg_rest_parse_tx_response(body, s->resp.len, &r, &e) != FG_OK) {
        fail_bundle(P, s, status, "the server acknowledged a chunk but its answer is "
                    "unreadable: %s", e.text);
        return;
    }
    if (r.n_entries != s->n_wire) {
        char m[200];
        snprintf(m, sizeof(m), "%zu entries for the %zu sent", r.n_entries, s->n_wire);
        fg_rest_tx_response_free(&r);
        fail_bundle(P, s, status, "the server answered a chunk with %s", m);
        return;
    }
    char msg[FG_ERROR_TEXT_MAX] = "", what[300];
    size_t kept = 0, refused = 0, again = 0;
    for (size_t i = 0; i < r.n_entries; i++) {
        const fg_rest_entry *re = &r.entries[i];
        size_t pos = s->wire[i];
        if (re->status >= 200 && re->status <= 299) {
            char target[1100];
            if (s->resolving && (!re->location ||
                                 location_target(re->location, target, sizeof(target)) != 0)) {
                snprintf(msg, sizeof(msg), "%s: the server gave no location for it, so what "
                         "refers to it cannot be sent apart",
                         push_plan_describe(s->plan, pos, what, sizeof(what)));
                refused++;
                continue;
            }
            if (s->resolving) {
                shared *sh = push_plan_shared(s->plan, pos)
                                 ? shared_get(P, push_plan_key(s->plan, pos), 1)
                                 : NULL;
                char *v = sh ? own(P, target) : NULL;
                if (push_plan_set_target(s->plan, pos, target) != FG_OK ||
                    (push_plan_shared(s->plan, pos) && !v))
                    refused++;
                else if (sh)
                    sh->target = v;
            }
            continue;
        }
        if (push_status_retryable(re->status) && s->attempts < push_max_attempts(P)) {
            s->wire[kept++] = pos; /* sent again, alone */
            again++;
            continue;
        }
        if (refused++ < SHOWN_ENTRIES) {
            size_t at = strlen(msg);
            snprintf(msg + at, sizeof(msg) - at, "%s%s: HTTP %d%s%.300s", at ? "; " : "",
                     push_plan_describe(s->plan, pos, what, sizeof(what)), re->status,
                     re->outcome ? ": " : "", re->outcome ? re->outcome : "");
        }
    }
    fg_rest_tx_response_free(&r);
    if (refused) {
        char full[FG_ERROR_TEXT_MAX + 100];
        snprintf(full, sizeof(full), "%zu entr%s refused: %s", refused,
                 refused == 1 ? "y" : "ies", msg);
        fail_bundle(P, s, status, "%s", full);
        return;
    }
    if (again) { /* only the entries to try again go back on the wire */
        unmark(P, s);
        s->n_wire = kept;
        if (push_plan_chunk(s->plan, s->wire, s->n_wire, P->st.mode == FG_PUSH_BATCH,
                            &s->body, &e) != FG_OK) {
            fail_bundle(P, s, 0, "%s", e.text);
            return;
        }
        if (s->resolving && mark(P, s) != 0) {
            fail_bundle(P, s, 0, "%s", "out of memory");
            return;
        }
        s->state = SLOT_WAITING;
        s->due = push_now() + push_retry_wait(P, s, s->attempts);
        return;
    }
    if (!s->resolving) {
        char line[PUSH_PATH_MAX + 64];
        snprintf(line, sizeof(line), "%s#%zu+%zu", s->it.path, s->pos, s->chunk_end - s->pos);
        if (P->o->journal &&
            fg_journal_append(P->o->journal, s->chunk_key, line, &e) != FG_OK) {
            fail_bundle(P, s, status, "a chunk landed, but the journal could not record it: %s",
                        e.text);
            return;
        }
        s->pos = s->chunk_end;
        s->chunks++;
        P->st.chunks_landed++;
    }
    s->n_wire = 0;
    push_chunks_send(P, s);
}

void push_chunks_recut(push *P, slot *s)
{
    unmark(P, s); /* cut the chunk again, to the size learned */
    s->n_wire = 0;
    push_chunks_send(P, s);
}

void push_chunks_failed(push *P, slot *s, long status, const char *msg)
{
    char what[300], full[FG_ERROR_TEXT_MAX + 400];
    snprintf(full, sizeof(full), "the chunk of %zu entries from %s: %s", s->n_wire,
             s->n_wire ? push_plan_describe(s->plan, s->wire[0], what, sizeof(what)) : "?", msg);
    fail_bundle(P, s, status, "%s", full);
}
