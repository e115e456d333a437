/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llm_openai.c: OpenAI-compatible chat completions (OpenAI, Azure OpenAI,
 * Ollama, vLLM, llama.cpp server, LM Studio).
 *
 * The request names its answer budget `max_tokens`: every compatible server
 * accepts it (OpenAI's newer `max_completion_tokens` is not known to most
 * of them). The schema goes as `response_format` json_schema with strict
 * set; a server that refuses that is asked again with json_object, then
 * with no response_format at all, and at those levels the schema is written
 * into the system prompt so the model still knows the shape to follow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/json/fg_jw.h"
#include "generators/llm/llm_private.h"

static json_t *system_text(const fg_llm_request *req, int level)
{
    fg_buf b;
    fg_buf_init(&b);
    if (req->system)
        fg_buf_puts(&b, req->system);
    if (req->schema && level > LLM_FORMAT_SCHEMA) {
        char *s = fg_json_dumps(req->schema, JSON_COMPACT, NULL);
        if (b.len)
            fg_buf_puts(&b, "\n\n");
        fg_buf_puts(&b, "Answer with one JSON object, and nothing else, that follows this JSON "
                        "schema:\n");
        if (s)
            fg_buf_puts(&b, s);
        free(s);
    }
    json_t *t = b.failed || !b.len ? NULL : json_stringn(b.data, b.len);
    fg_buf_free(&b);
    return t;
}

int llm_openai_render(const fg_llm_config *cfg, const fg_llm_request *req, int level, fg_buf *out,
                      fg_error *err)
{
    int rc = FG_ENOMEM;
    json_t *root = json_object(), *msgs = json_array(), *sys = system_text(req, level);
    if (!root || !msgs) {
        rc = fg_error_set(err, FG_ENOMEM, "request", "out of memory");
        goto cleanup;
    }
    json_object_set_new(root, "model", json_string(cfg->model));
    if (sys) {
        json_array_append_new(msgs, json_pack("{s:s,s:o}", "role", "system", "content", sys));
        sys = NULL;
    }
    if ((rc = llm_put_messages(msgs, req, err)) != FG_OK)
        goto cleanup;
    json_object_set(root, "messages", msgs);
    json_object_set_new(root, "max_tokens",
                        json_integer(req->max_tokens > 0 ? req->max_tokens : cfg->max_tokens));
    if (cfg->temperature >= 0)
        json_object_set_new(root, "temperature", json_real(cfg->temperature));
    if (req->schema && level == LLM_FORMAT_SCHEMA) {
        json_t *schema = json_incref((json_t *)req->schema); /* shared, never modified */
        json_object_set_new(root, "response_format",
                            json_pack("{s:s,s:{s:s,s:b,s:o}}", "type", "json_schema",
                                      "json_schema", "name",
                                      req->schema_name ? req->schema_name : "answer", "strict", 1,
                                      "schema", schema));
    } else if (req->schema && level == LLM_FORMAT_OBJECT) {
        json_object_set_new(root, "response_format", json_pack("{s:s}", "type", "json_object"));
    }
    if (cfg->stream) {
        json_object_set_new(root, "stream", json_true());
        json_object_set_new(root, "stream_options", json_pack("{s:b}", "include_usage", 1));
    }
    rc = llm_put_body(root, out, err);
cleanup:
    json_decref(sys);
    json_decref(msgs);
    json_decref(root);
    return rc;
}

static fg_llm_finish finish_of(const char *r)
{
    if (!r)
        return FG_LLM_FINISH_STOP;
    if (strcmp(r, "length") == 0)
        return FG_LLM_FINISH_LENGTH;
    if (strcmp(r, "content_filter") == 0)
        return FG_LLM_FINISH_FILTERED;
    if (strcmp(r, "refusal") == 0)
        return FG_LLM_FINISH_REFUSAL;
    return FG_LLM_FINISH_STOP; /* stop, tool_calls, function_call, eos (some servers) */
}

/* An {"error": ...} member inside an answer: its message into a->error. */
static int read_error(llm_answer *a, const json_t *root)
{
    json_t *e = json_object_get(root, "error");
    if (!e || json_is_null(e))
        return 0;
    llm_answer_error(a, json_is_string(e) ? json_string_value(e)
                                          : json_string_value(json_object_get(e, "message")));
    return 1;
}

/* choices[0]: its message's content or refusal, and its finish reason. */
static int read_body(llm_answer *a, const json_t *root, fg_error *err)
{
    json_t *c0 = json_array_get(json_object_get(root, "choices"), 0);
    json_t *msg = json_object_get(c0, "message");
    if (!json_is_object(msg))
        return fg_error_set(err, FG_EINVALID, "response", "the answer has no choices[0].message");
    json_t *content_v = json_object_get(msg, "content");
    const char *content = json_string_value(content_v);
    const char *refusal = json_string_value(json_object_get(msg, "refusal"));
    if (content)
        llm_answer_append(a, &a->text, content, json_string_length(content_v));
    a->finish = finish_of(json_string_value(json_object_get(c0, "finish_reason")));
    a->finished = 1;
    if (refusal && *refusal) {
        llm_answer_append(a, &a->refusal, refusal, strlen(refusal));
        a->finish = FG_LLM_FINISH_REFUSAL;
    }
    return FG_OK;
}

static const llm_envelope envelope = {"prompt_tokens", "completion_tokens", read_error, read_body};

int llm_openai_parse(const char *body, size_t len, llm_answer *a, fg_error *err)
{
    return llm_envelope_parse(&envelope, body, len, a, err);
}

int llm_openai_event(void *answer, const char *event, const char *data, size_t len)
{
    llm_answer *a = answer;
    (void)event;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        if (!a->finished) { /* some servers end without a finish_reason */
            a->finished = 1;
            a->finish = a->refusal.len ? FG_LLM_FINISH_REFUSAL : FG_LLM_FINISH_STOP;
        }
        return 0;
    }
    json_t *root = json_loadb(data, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return 0; /* a keep-alive or a line we do not know: skip it */
    }
    if (read_error(a, root)) {
        json_decref(root);
        return 0;
    }
    llm_read_model(a, root);
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage))
        llm_read_usage(&envelope, a, usage);
    json_t *c0 = json_array_get(json_object_get(root, "choices"), 0);
    json_t *delta = json_object_get(c0, "delta");
    json_t *content = json_object_get(delta, "content");
    json_t *refusal = json_object_get(delta, "refusal");
    if (json_is_string(content))
        llm_answer_append(a, &a->text, json_string_value(content), json_string_length(content));
    if (json_is_string(refusal))
        llm_answer_append(a, &a->refusal, json_string_value(refusal), json_string_length(refusal));
    const char *fr = json_string_value(json_object_get(c0, "finish_reason"));
    if (fr) {
        a->finish = finish_of(fr);
        a->finished = 1;
    }
    if (a->refusal.len)
        a->finish = FG_LLM_FINISH_REFUSAL;
    json_decref(root);
    return 0;
}
