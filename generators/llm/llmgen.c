/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llmgen.c: the LLM generation run.
 *
 * Patients flow through a bounded table of slots. fg_llm_run asks for work
 * (on_more): the next patient's skeleton is drawn, its prompt rendered and
 * its first request submitted. Each answer (on_done) is checked
 * (llmgen_check); findings send a repair request with the exact errors, up
 * to repair_rounds of them; an answer cut at the token budget is asked
 * again once with twice the budget; a refusal is counted and never parsed.
 * A good answer is mapped and handed to the sink (fg_sink.h) at once: a
 * bundle or history file is renamed into place as soon as it is complete,
 * so a run stopped at any point keeps every finished patient's file and
 * nothing half-written; NDJSON files appear only when the run succeeds. A
 * transport failure, a rejected key or an unknown model stops the run: every
 * later request would fail the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generators/llm/llmgen_private.h"

#define DEFAULT_PENDING 64
#define DEFAULT_MAX_TOKENS 8192

typedef struct slot {
    int used;
    uint64_t index;
    llmgen_skel skel;
    char *system, *user;    /* the first request's messages */
    char *answer, *repair;  /* the last answer and the repair message (repair rounds) */
    int round;              /* repair requests sent */
    int length_retried;
    long max_tokens;
} slot;

typedef struct run {
    const fg_llmgen_options *o;
    fg_llmgen_summary *sum;
    fg_plausibility_rules *rules;
    slot *slots;
    size_t n_slots;
    uint64_t next;          /* patients submitted (offset from first) */
    uint64_t finished;
    fg_history ans;
    fg_findings f;
    fg_buf out, errors;
    fg_buf nd[FG_RT_COUNT]; /* one patient's NDJSON lines per type */
    fg_sink_ids ids;        /* and the ids of its shared resources */
    fg_sink *sink;
    int stop_rc;
    fg_error stop_err;
} run;

void fg_llmgen_summary_free(fg_llmgen_summary *s)
{
    if (!s)
        return;
    json_decref(s->drops);
    s->drops = NULL;
}

static void slot_clear(slot *s)
{
    free(s->system);
    free(s->user);
    free(s->answer);
    free(s->repair);
    s->system = s->user = s->answer = s->repair = NULL;
    s->used = 0;
    s->round = 0;
    s->length_retried = 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static slot *find_slot(run *r, uint64_t index)
{
    for (size_t i = 0; i < r->n_slots; i++)
        if (r->slots[i].used && r->slots[i].index == index)
            return &r->slots[i];
    return NULL;
}

static int submit(run *r, slot *s, fg_error *err)
{
    fg_llm_message m[3] = {{"user", s->user}, {"assistant", s->answer}, {"user", s->repair}};
    fg_llm_request req;
    memset(&req, 0, sizeof(req));
    req.tag = s->index;
    req.system = s->system;
    req.messages = m;
    req.n_messages = s->repair ? 3 : 1;
    req.schema = r->o->schema;
    req.schema_name = "patient_history";
    req.max_tokens = s->max_tokens;
    return fg_llm_submit(r->o->llm, &req, err);
}

/* Render the first request of slot s (its skeleton made). */
static int render_first(const fg_llmgen_options *o, slot *s, fg_buf *b, fg_error *err)
{
    int rc;
    fg_buf_clear(b);
    if ((rc = llmgen_prompt_system(o->prompts, &s->skel, o->scenario, b, err)))
        return rc;
    s->system = fg_buf_take(b, NULL);
    if ((rc = llmgen_prompt_patient(o->prompts, &s->skel, o->scenario, b, err)))
        return rc;
    s->user = fg_buf_take(b, NULL);
    if (!s->system || !s->user)
        return fg_error_set(err, FG_ENOMEM, "prompt", "out of memory");
    return FG_OK;
}

static int on_more(void *ctx)
{
    run *r = ctx;
    if (r->stop_rc || r->next >= r->o->count || (r->o->cancel && *r->o->cancel))
        return 1;
    if (!fg_sink_room(r->sink, r->o->first + r->next))
        return 0; /* an earlier patient holds the NDJSON files back: asked again shortly */
    slot *s = NULL;
    for (size_t i = 0; i < r->n_slots && !s; i++)
        if (!r->slots[i].used)
            s = &r->slots[i];
    if (!s)
        return 0; /* every slot waits for an answer: asked again shortly */
    uint64_t index = r->o->first + r->next++;
    fg_error *err = &r->stop_err;
    int rc;
    slot_clear(s);
    s->used = 1;
    s->index = index;
    s->max_tokens = r->o->max_tokens;
    if ((rc = llmgen_skel_make(r->o, index, &s->skel, err)) ||
        (rc = render_first(r->o, s, &r->out, err)) || (rc = submit(r, s, err))) {
        r->stop_rc = rc;
        slot_clear(s);
        return rc;
    }
    r->sum->requested++;
    return 0;
}

/* The patient in s is done (written or dropped): free the slot. */
static void finish(run *r, slot *s)
{
    slot_clear(s);
    r->finished++;
    if (r->o->progress)
        r->o->progress(r->o->ud, r->finished, r->o->count);
}

static int drop(run *r, slot *s, const char *reason, const char *errors)
{
    int rc = FG_OK;
    r->sum->dropped++;
    rc = fg_sink_skip(r->sink, s->index, 1, &r->stop_err);
    if (r->o->on_drop)
        r->o->on_drop(r->o->ud, s->index, reason, errors ? errors : "");
    if (r->sum->drops && json_array_size(r->sum->drops) < FG_MAX_LLM_DROPS_KEPT) {
        json_t *d = json_object();
        json_t *lines = json_array();
        json_object_set_new(d, "index", json_integer((json_int_t)s->index));
        json_object_set_new(d, "reason", json_string(reason));
        for (const char *p = errors; p && *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            if (n)
                json_array_append_new(lines, json_stringn(p, n));
            p += n + (nl ? 1 : 0);
        }
        json_object_set_new(d, "errors", lines);
        json_array_append_new(r->sum->drops, d);
    }
    finish(r, s);
    return rc ? (r->stop_rc = rc) : FG_OK;
}

/* Map and write the checked history r->ans of slot s. FG_OK when written;
 * a mapping failure becomes a finding (the model can fix it); I/O errors
 * stop the run. */
static int write_patient(run *r, slot *s, fg_error *err)
{
    const fg_llmgen_options *o = r->o;
    char name[64];
    snprintf(name, sizeof(name), "patient-%08llu.json", (unsigned long long)s->index);
    fg_buf_clear(&r->out);
    fg_map_stats st;
    memset(&st, 0, sizeof(st));
    if (o->format == FG_FORMAT_HISTORY) {
        if (fg_history_write(&r->ans, &r->out) != FG_OK || r->out.failed)
            return fg_error_set(err, FG_ENOMEM, name, "out of memory");
    } else {
        fg_error merr;
        fg_error_clear(&merr);
        fg_buf *nd[FG_RT_COUNT];
        for (int t = 0; t < FG_RT_COUNT; t++) {
            fg_buf_clear(&r->nd[t]);
            nd[t] = &r->nd[t];
        }
        int rc = o->format == FG_FORMAT_NDJSON
                     ? fg_map_ndjson(o->mapper, &r->ans, nd, &st, &merr)
                     : fg_map_bundle(o->mapper, &r->ans, &r->out, &st, &merr);
        if (rc == FG_ENOMEM)
            return fg_error_set(err, FG_ENOMEM, name, "out of memory");
        if (rc != FG_OK) {
            fg_findings_add(&r->f, FG_FIND_INCOHERENT, NULL, 0, merr.where[0] ? merr.where : "$",
                            "%s", merr.text);
            return FG_EINVALID;
        }
    }
    int rc;
    if (o->format == FG_FORMAT_NDJSON) {
        fg_sink_ids_clear(&r->ids);
        if ((rc = fg_sink_ids_add(&r->ids, o->mapper, &r->ans, err)) != FG_OK ||
            (rc = fg_sink_put_ndjson(r->sink, s->index, 1, r->nd, &r->ids, err)) != FG_OK)
            return rc;
    } else {
        fg_buf_putc(&r->out, '\n');
        if (r->out.failed)
            return fg_error_set(err, FG_ENOMEM, name, "out of memory");
        if ((rc = fg_sink_put_file(r->sink, s->index, NULL, r->out.data, r->out.len, err)))
            return rc;
    }
    for (int t = 0; t < FG_RT_COUNT; t++) {
        r->sum->resources[t] += st.resources[t];
        r->sum->resources_total += st.resources[t];
    }
    r->sum->written++;
    if (s->round > 0)
        r->sum->repaired++;
    return FG_OK;
}

/* Send the findings in r->f back to the model, or drop the patient when
 * its repair rounds are spent. */
static int repair_or_drop(run *r, slot *s, const fg_llm_response *resp, fg_error *err)
{
    fg_buf_clear(&r->errors);
    if (fg_findings_render(&r->f, FG_MAX_REPAIR_ERRORS, &r->errors) != FG_OK || r->errors.failed)
        return fg_error_set(err, FG_ENOMEM, "repair", "out of memory");
    if (s->round >= r->o->repair_rounds) {
        char reason[160];
        snprintf(reason, sizeof(reason), "%zu problem%s left after %d repair round%s", r->f.n,
                 r->f.n == 1 ? "" : "s", s->round, s->round == 1 ? "" : "s");
        return drop(r, s, reason, r->errors.data);
    }
    /* the errors block carries the findings without its trailing newline */
    if (r->errors.len && r->errors.data[r->errors.len - 1] == '\n')
        r->errors.data[--r->errors.len] = 0;
    free(s->answer);
    free(s->repair);
    s->repair = NULL;
    s->answer = strndup(resp->text, resp->text_len);
    fg_buf_clear(&r->out);
    int rc = llmgen_prompt_repair(r->o->prompts, &s->skel, r->o->scenario, r->errors.data,
                                  r->f.n, &r->out, err);
    if (rc != FG_OK)
        return rc;
    s->repair = fg_buf_take(&r->out, NULL);
    if (!s->answer || !s->repair)
        return fg_error_set(err, FG_ENOMEM, "repair", "out of memory");
    s->round++;
    r->sum->repairs++;
    return submit(r, s, err);
}

/* A failure no other request could escape: the endpoint, the key, the model. */
static int fatal_failure(const fg_llm_response *resp)
{
    long h = resp->http_status;
    return resp->status == FG_ENETWORK || resp->status == FG_ECANCELED || h == 0 || h == 401 ||
           h == 403 || h == 404 || h >= 500;
}

static int on_done(void *ctx, const fg_llm_request *req, const fg_llm_response *resp)
{
    run *r = ctx;
    fg_error *err = &r->stop_err;
    slot *s = find_slot(r, req->tag);
    int rc;
    if (!s)
        return fg_error_set(err, FG_EINTERNAL, "llm", "an answer for patient %llu, not in flight",
                            (unsigned long long)req->tag);
    switch (resp->finish) {
    case FG_LLM_FINISH_FAILED:
        r->sum->failures++;
        if (resp->status == FG_OK || !fatal_failure(resp)) {
            char reason[FG_ERROR_WHERE_MAX + FG_ERROR_TEXT_MAX + 32];
            snprintf(reason, sizeof(reason), "no answer: %s%s%s", resp->err.where,
                     resp->err.where[0] ? ": " : "", resp->err.text);
            return drop(r, s, reason, NULL);
        }
        *err = resp->err;
        if (!err->text[0])
            fg_error_set(err, resp->status, "llm", "no answer (HTTP status %ld)",
                         resp->http_status);
        r->stop_rc = resp->status < 0 ? resp->status : FG_ENETWORK;
        slot_clear(s);
        return r->stop_rc;
    case FG_LLM_FINISH_REFUSAL:
    case FG_LLM_FINISH_FILTERED: {
        r->sum->refusals++;
        char reason[600];
        snprintf(reason, sizeof(reason), "the model %s%s%.500s",
                 resp->finish == FG_LLM_FINISH_REFUSAL ? "refused" : "answer was filtered",
                 resp->refusal ? ": " : "", resp->refusal ? resp->refusal : "");
        for (char *p = reason; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        return drop(r, s, reason, NULL);
    }
    case FG_LLM_FINISH_LENGTH:
        r->sum->truncations++;
        if (s->length_retried) {
            return drop(r, s,
                        "the answer was cut at the token budget twice (raise setting `max_tokens`)",
                        NULL);
        }
        s->length_retried = 1;
        s->max_tokens = 2 * (s->max_tokens > 0 ? s->max_tokens : DEFAULT_MAX_TOKENS);
        if ((rc = submit(r, s, err)) != FG_OK)
            return r->stop_rc = rc;
        return FG_OK;
    case FG_LLM_FINISH_STOP:
        break;
    }
    fg_findings_reset(&r->f);
    if ((rc = llmgen_check(r->o->terms, r->rules, &s->skel, resp->text ? resp->text : "",
                           resp->text_len, &r->ans, &r->f, err)) != FG_OK)
        return r->stop_rc = rc;
    r->sum->hallucinated += fg_findings_count(&r->f, FG_FIND_HALLUCINATED);
    r->sum->findings += r->f.n;
    if (r->f.n == 0) {
        rc = write_patient(r, s, err);
        if (rc == FG_OK) {
            finish(r, s);
            return FG_OK;
        }
        if (rc != FG_EINVALID)
            return r->stop_rc = rc;
        r->sum->findings += r->f.n;
    }
    if ((rc = repair_or_drop(r, s, resp, err)) != FG_OK)
        return r->stop_rc = rc;
    return FG_OK;
}

static int run_setup(run *r, const fg_llmgen_options *o, fg_llmgen_summary *sum, fg_error *err)
{
    int rc;
    memset(r, 0, sizeof(*r));
    r->o = o;
    r->sum = sum;
    fg_history_init(&r->ans);
    fg_findings_init(&r->f);
    fg_buf_init(&r->out);
    fg_buf_init(&r->errors);
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_init(&r->nd[t]);
    fg_sink_ids_init(&r->ids);
    if (!o->engine || !o->terms || !o->llm || !o->prompts || !o->out_dir ||
        (o->format != FG_FORMAT_HISTORY && !o->mapper))
        return fg_error_set(err, FG_EUSAGE, "llm", "engine, terminology, client, prompts, "
                                                   "output folder and mapper are required");
    if ((rc = fg_plausibility_load(o->datadir, &r->rules, err)) != FG_OK)
        return rc;
    r->n_slots = o->max_pending ? o->max_pending : DEFAULT_PENDING;
    if (r->n_slots > FG_MAX_LLM_PENDING)
        r->n_slots = FG_MAX_LLM_PENDING;
    r->slots = calloc(r->n_slots, sizeof(*r->slots));
    if (!r->slots)
        return fg_error_set(err, FG_ENOMEM, "llm", "out of memory");
    for (size_t i = 0; i < r->n_slots; i++)
        llmgen_skel_init(&r->slots[i].skel);
    /* NDJSON waits for every earlier patient: at most four times the
     * patients in flight are let ahead of the first unfinished one. */
    fg_sink_options so = {o->format, o->out_dir, o->first, o->count, 4 * r->n_slots,
                          o->shard_k, o->shard_n, NULL, NULL};
    return fg_sink_open(&so, &r->sink, err);
}

static void run_free(run *r)
{
    for (size_t i = 0; r->slots && i < r->n_slots; i++) {
        slot_clear(&r->slots[i]);
        llmgen_skel_free(&r->slots[i].skel);
    }
    free(r->slots);
    fg_plausibility_free(r->rules);
    fg_history_free(&r->ans);
    fg_findings_free(&r->f);
    fg_buf_free(&r->out);
    fg_buf_free(&r->errors);
    for (int t = 0; t < FG_RT_COUNT; t++)
        fg_buf_free(&r->nd[t]);
    fg_sink_ids_free(&r->ids);
}

/* Close the sink after a run that ended with rc; the summary counts what
 * it wrote (shared resources written before are not counted again). */
static int close_sink(run *r, int rc, fg_llmgen_summary *sum, fg_error *err)
{
    fg_sink_stats st;
    fg_error cerr;
    int crc = fg_sink_close(r->sink, rc == FG_OK, &st, &cerr);
    r->sink = NULL;
    if (crc != FG_OK && rc == FG_OK) {
        rc = crc;
        *err = cerr;
    }
    sum->files = st.files;
    sum->bytes = st.bytes;
    for (int t = 0; t < FG_RT_COUNT; t++) {
        sum->resources[t] -= st.skipped[t];
        sum->resources_total -= st.skipped[t];
    }
    return rc;
}

int fg_llmgen_run(const fg_llmgen_options *o, fg_llmgen_summary *sum, fg_error *err)
{
    run r;
    double t0 = now_seconds();
    memset(sum, 0, sizeof(*sum));
    sum->drops = json_array();
    int rc = run_setup(&r, o, sum, err);
    if (rc == FG_OK) {
        rc = fg_llm_run(o->llm, on_more, on_done, &r, o->cancel, err);
        if (r.stop_rc && rc != FG_ECANCELED) {
            rc = r.stop_rc;
            *err = r.stop_err;
            if (err->code == 0)
                err->code = rc;
        }
    }
    if (r.sink) /* finished patients' files stay; NDJSON only for a run that went through */
        rc = close_sink(&r, rc, sum, err);
    fg_llm_get_stats(o->llm, &sum->llm);
    sum->seconds = now_seconds() - t0;
    run_free(&r);
    return rc;
}

int fg_llmgen_dry_run(const fg_llmgen_options *o, char **body, fg_error *err)
{
    slot s;
    fg_buf b;
    memset(&s, 0, sizeof(s));
    llmgen_skel_init(&s.skel);
    fg_buf_init(&b);
    s.index = o->first;
    s.max_tokens = o->max_tokens;
    int rc = llmgen_skel_make(o, o->first, &s.skel, err);
    if (rc == FG_OK)
        rc = render_first(o, &s, &b, err);
    if (rc == FG_OK) {
        fg_llm_message m = {"user", s.user};
        fg_llm_request req;
        memset(&req, 0, sizeof(req));
        req.tag = s.index;
        req.system = s.system;
        req.messages = &m;
        req.n_messages = 1;
        req.schema = o->schema;
        req.schema_name = "patient_history";
        req.max_tokens = s.max_tokens;
        rc = fg_llm_render(o->llm, &req, body, err);
    }
    slot_clear(&s);
    llmgen_skel_free(&s.skel);
    fg_buf_free(&b);
    return rc;
}
