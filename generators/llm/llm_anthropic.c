/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llm_anthropic.c: the Anthropic Messages API.
 *
 * A schema becomes the input_schema of one tool the model is forced to call
 * (tool_choice {type: tool}); the answer is that tool_use block's input,
 * re-serialised as compact JSON text. Without a tool_use block the text
 * blocks are the answer. stop_reason max_tokens is LENGTH, refusal is
 * REFUSAL. Streams carry the tool input as input_json_delta fragments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/json/fg_jw.h"
#include "generators/llm/llm_private.h"

int llm_anthropic_render(const fg_llm_config *cfg, const fg_llm_request *req, fg_buf *out,
                         fg_error *err)
{
    int rc = FG_ENOMEM;
    json_t *root = json_object(), *msgs = json_array();
    if (!root || !msgs) {
        rc = fg_error_set(err, FG_ENOMEM, "request", "out of memory");
        goto cleanup;
    }
    const char *tool = req->schema_name ? req->schema_name : "answer";
    json_object_set_new(root, "model", json_string(cfg->model));
    json_object_set_new(root, "max_tokens",
                        json_integer(req->max_tokens > 0 ? req->max_tokens : cfg->max_tokens));
    if (req->system)
        json_object_set_new(root, "system", json_string(req->system));
    if ((rc = llm_put_messages(msgs, req, err)) != FG_OK)
        goto cleanup;
    json_object_set(root, "messages", msgs);
    if (cfg->temperature >= 0)
        json_object_set_new(root, "temperature", json_real(cfg->temperature));
    if (req->schema) {
        json_object_set_new(
            root, "tools",
            json_pack("[{s:s,s:s,s:o}]", "name", tool, "description",
                      "Record the answer: call this tool with the whole document as its input.",
                      "input_schema", json_incref((json_t *)req->schema)));
        json_object_set_new(root, "tool_choice",
                            json_pack("{s:s,s:s}", "type", "tool", "name", tool));
    }
    if (cfg->stream)
        json_object_set_new(root, "stream", json_true());
    rc = llm_put_body(root, out, err);
cleanup:
    json_decref(msgs);
    json_decref(root);
    return rc;
}

static void stop_reason(llm_answer *a, const char *r)
{
    if (!r)
        return;
    a->finished = 1;
    if (strcmp(r, "max_tokens") == 0)
        a->finish = FG_LLM_FINISH_LENGTH;
    else if (strcmp(r, "refusal") == 0)
        a->finish = FG_LLM_FINISH_REFUSAL;
    else
        a->finish = FG_LLM_FINISH_STOP; /* end_turn, tool_use, stop_sequence, pause_turn */
}

static int read_error(llm_answer *a, const json_t *root)
{
    const char *type = json_string_value(json_object_get(root, "type"));
    json_t *e = json_object_get(root, "error");
    if (!(type && strcmp(type, "error") == 0) && !json_is_object(e))
        return 0;
    llm_answer_error(a, json_string_value(json_object_get(e, "message")));
    return 1;
}

/* The content blocks: the first tool_use input, else the text; the stop reason. */
static int read_body(llm_answer *a, const json_t *root, fg_error *err)
{
    json_t *content = json_object_get(root, "content");
    if (!json_is_array(content))
        return fg_error_set(err, FG_EINVALID, "response", "the answer has no content array");
    size_t i;
    json_t *block;
    json_array_foreach(content, i, block) {
        const char *type = json_string_value(json_object_get(block, "type"));
        if (type && strcmp(type, "tool_use") == 0 && !a->tool_seen) {
            char *s = fg_json_dumps(json_object_get(block, "input"), LLM_DUMP_FLAGS | JSON_ENCODE_ANY,
                                    NULL);
            if (s) {
                fg_buf_clear(&a->text);
                llm_answer_append(a, &a->text, s, strlen(s));
                free(s);
            }
            a->tool_seen = 1;
        } else if (type && strcmp(type, "text") == 0 && !a->tool_seen) {
            json_t *t = json_object_get(block, "text");
            if (json_is_string(t))
                llm_answer_append(a, &a->text, json_string_value(t), json_string_length(t));
        }
    }
    stop_reason(a, json_string_value(json_object_get(root, "stop_reason")));
    if (!a->finished) {
        a->finished = 1;
        a->finish = FG_LLM_FINISH_STOP;
    }
    if (a->finish == FG_LLM_FINISH_REFUSAL && !a->tool_seen && a->text.len) {
        llm_answer_append(a, &a->refusal, a->text.data, a->text.len);
    }
    return FG_OK;
}

static const llm_envelope envelope = {"input_tokens", "output_tokens", read_error, read_body};

int llm_anthropic_parse(const char *body, size_t len, llm_answer *a, fg_error *err)
{
    return llm_envelope_parse(&envelope, body, len, a, err);
}

int llm_anthropic_event(void *answer, const char *event, const char *data, size_t len)
{
    llm_answer *a = answer;
    (void)event;
    json_t *root = json_loadb(data, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return 0;
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    if (!type)
        type = "";
    if (strcmp(type, "error") == 0) {
        read_error(a, root);
    } else if (strcmp(type, "message_start") == 0) {
        json_t *msg = json_object_get(root, "message");
        llm_read_model(a, msg);
        llm_read_usage(&envelope, a, json_object_get(msg, "usage"));
    } else if (strcmp(type, "content_block_start") == 0) {
        json_t *b = json_object_get(root, "content_block");
        const char *bt = json_string_value(json_object_get(b, "type"));
        a->in_tool = bt && strcmp(bt, "tool_use") == 0 && !a->tool_seen;
        if (a->in_tool)
            a->tool_seen = 1;
    } else if (strcmp(type, "content_block_delta") == 0) {
        json_t *d = json_object_get(root, "delta");
        const char *dt = json_string_value(json_object_get(d, "type"));
        json_t *pj = json_object_get(d, "partial_json"), *t = json_object_get(d, "text");
        if (dt && strcmp(dt, "input_json_delta") == 0 && a->in_tool && json_is_string(pj))
            llm_answer_append(a, &a->tool, json_string_value(pj), json_string_length(pj));
        else if (dt && strcmp(dt, "text_delta") == 0 && json_is_string(t))
            llm_answer_append(a, &a->text, json_string_value(t), json_string_length(t));
    } else if (strcmp(type, "message_stop") == 0) {
        if (!a->finished) /* a stop without a stop_reason */
            stop_reason(a, "end_turn");
    } else if (strcmp(type, "content_block_stop") == 0) {
        a->in_tool = 0;
    } else if (strcmp(type, "message_delta") == 0) {
        stop_reason(a, json_string_value(json_object_get(json_object_get(root, "delta"),
                                                         "stop_reason")));
        json_t *u = json_object_get(root, "usage");
        json_t *out = json_object_get(u, "output_tokens");
        if (json_is_integer(out))
            a->tokens_out = (long)json_integer_value(out);
        json_t *in = json_object_get(u, "input_tokens");
        if (json_is_integer(in) && json_integer_value(in) > 0)
            a->tokens_in = (long)json_integer_value(in);
    }
    json_decref(root);
    return 0;
}

void llm_anthropic_finish(llm_answer *a)
{
    if (!a->tool_seen) {
        if (a->finish == FG_LLM_FINISH_REFUSAL && a->text.len && !a->refusal.len)
            llm_answer_append(a, &a->refusal, a->text.data, a->text.len);
        return;
    }
    fg_buf_clear(&a->text);
    json_t *v = a->tool.len ? json_loadb(a->tool.data, a->tool.len, 0, NULL) : NULL;
    char *s = v ? fg_json_dumps(v, LLM_DUMP_FLAGS | JSON_ENCODE_ANY, NULL) : NULL;
    if (s)
        llm_answer_append(a, &a->text, s, strlen(s));
    else if (a->tool.len) /* cut short or broken: the caller sees what came */
        llm_answer_append(a, &a->text, a->tool.data, a->tool.len);
    free(s);
    json_decref(v);
}
