// SPDX-License-Identifier: Apache-2.0
// Wire shapes of the two protocols: OpenAI chat completions (also Azure
// OpenAI deployments) and Anthropic Messages, plain JSON and server-sent
// events, and their error bodies.

import crypto from 'node:crypto';

export const tokens = (chars) => Math.max(1, Math.ceil(chars / 4));

const STREAM_PIECE = 400;

function pieces(text) {
  const out = [];
  for (let i = 0; i < text.length; i += STREAM_PIECE) out.push(text.slice(i, i + STREAM_PIECE));
  return out;
}

export function requestId(prefix, body) {
  return prefix + crypto.createHash('sha256').update(body).digest('hex').slice(0, 24);
}

// ---- errors ---------------------------------------------------------------

export function errorBody(proto, status, message, extra = {}) {
  if (proto === 'anthropic') {
    const type = {
      400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error',
      404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error',
      500: 'api_error', 529: 'overloaded_error',
    }[status] || 'api_error';
    return { type: 'error', error: { type, message } };
  }
  const type = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type: extra.type || type, param: extra.param ?? null, code: extra.code ?? null } };
}

// ---- answers --------------------------------------------------------------
// An answer is { kind: 'text' | 'tool' | 'refusal', text, input, finish,
// promptTokens } where finish is 'stop' | 'length' | 'refusal' and, for
// kind 'tool', text is the JSON text of input (possibly broken when
// streamed by a faulty model).

const OPENAI_FINISH = { stop: 'stop', length: 'length', refusal: 'stop', filter: 'content_filter' };
const ANTHROPIC_STOP = { stop: 'end_turn', length: 'max_tokens', refusal: 'refusal', filter: 'refusal' };

export function openaiJson(ans, model, id) {
  const completion = tokens((ans.text || '').length);
  const message = { role: 'assistant', content: null, refusal: null };
  if (ans.kind === 'refusal') message.refusal = ans.text;
  else message.content = ans.text;
  return {
    id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
    system_fingerprint: 'fp_fhirgen_test',
    choices: [{ index: 0, message, logprobs: null, finish_reason: OPENAI_FINISH[ans.finish] }],
    usage: {
      prompt_tokens: ans.promptTokens, completion_tokens: completion,
      total_tokens: ans.promptTokens + completion,
    },
  };
}

// Writes the answer as chat.completion.chunk events; ends the response.
export function openaiStream(res, ans, model, id, includeUsage, opts = {}) {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta, finish, usage) => {
    const c = {
      id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fhirgen_test',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    if (includeUsage) c.usage = usage ?? null;
    res.write(`data: ${JSON.stringify(c)}\n\n`);
  };
  chunk({ role: 'assistant', content: '', refusal: null }, null);
  const field = ans.kind === 'refusal' ? 'refusal' : 'content';
  const parts = pieces(ans.text || '');
  const cut = opts.errorAfter !== undefined ? Math.min(opts.errorAfter, parts.length) : parts.length;
  for (let i = 0; i < cut; i++) chunk({ [field]: parts[i] }, null);
  if (opts.errorAfter !== undefined) {
    res.write(`data: ${JSON.stringify(errorBody('openai', 500, 'The server had an error while processing your request. Sorry about that!'))}\n\n`);
    res.end();
    return;
  }
  chunk({}, OPENAI_FINISH[ans.finish]);
  if (includeUsage) {
    const completion = tokens((ans.text || '').length);
    const c = {
      id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fhirgen_test', choices: [],
      usage: { prompt_tokens: ans.promptTokens, completion_tokens: completion, total_tokens: ans.promptTokens + completion },
    };
    res.write(`data: ${JSON.stringify(c)}\n\n`);
  }
  res.end('data: [DONE]\n\n');
}

export function anthropicJson(ans, model, id, toolName) {
  const content = [];
  let stop = ANTHROPIC_STOP[ans.finish];
  if (ans.kind === 'tool' && ans.finish === 'stop') {
    content.push({ type: 'tool_use', id: 'toolu_' + id.slice(4), name: toolName, input: ans.input });
    stop = 'tool_use';
  } else if (ans.text) {
    content.push({ type: 'text', text: ans.text });
  }
  return {
    id, type: 'message', role: 'assistant', model, content, stop_reason: stop, stop_sequence: null,
    usage: { input_tokens: ans.promptTokens, output_tokens: tokens((ans.text || '').length) },
  };
}

// Writes the answer as Anthropic stream events; ends the response.
export function anthropicStream(res, ans, model, id, toolName, opts = {}) {
  const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  ev('message_start', {
    message: {
      id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
      usage: { input_tokens: ans.promptTokens, output_tokens: 1 },
    },
  });
  const tool = ans.kind === 'tool';
  let stop = ANTHROPIC_STOP[ans.finish];
  if (tool && ans.finish === 'stop') stop = 'tool_use';
  const parts = pieces(ans.text || '');
  if (parts.length > 0) {
    ev('content_block_start', {
      index: 0,
      content_block: tool ? { type: 'tool_use', id: 'toolu_' + id.slice(4), name: toolName, input: {} }
        : { type: 'text', text: '' },
    });
    ev('ping', {});
    const cut = opts.errorAfter !== undefined ? Math.min(opts.errorAfter, parts.length) : parts.length;
    for (let i = 0; i < cut; i++) {
      ev('content_block_delta', {
        index: 0,
        delta: tool ? { type: 'input_json_delta', partial_json: parts[i] } : { type: 'text_delta', text: parts[i] },
      });
    }
    if (opts.errorAfter !== undefined) {
      ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
      res.end();
      return;
    }
    ev('content_block_stop', { index: 0 });
  }
  ev('message_delta', {
    delta: { stop_reason: stop, stop_sequence: null },
    usage: { output_tokens: tokens((ans.text || '').length) },
  });
  ev('message_stop', {});
  res.end();
}

export function sseHeaders(res) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
}
