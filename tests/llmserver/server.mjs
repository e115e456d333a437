#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// LLM test server for fhirgen: OpenAI chat completions (also Azure OpenAI
// deployment URLs) and Anthropic Messages, plain and streamed, answering
// from scripted stories with faults chosen by the model name. See README.md.
//
// Usage: node server.mjs [--port P] [--key K] [--cert PEM --key-file PEM [--tls-port P]]
//                        [--data DIR] [--stall-ms MS] [--length-threshold N]
//                        [--oversize-mb N]
// Prints "listening http://127.0.0.1:P" (and "listening-tls https://127.0.0.1:P"
// with a certificate) on stdout once it accepts connections.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadTerminology } from './terminology.mjs';
import { checkSkeleton, buildStory } from './story.mjs';
import {
  tokens, requestId, errorBody, openaiJson, openaiStream, anthropicJson, anthropicStream, sseHeaders,
} from './protocol.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAX_BODY = 16 * 1024 * 1024;
const MAX_SKELETON = 256 * 1024;
const MAX_DELAY_MS = 600000;
const MAX_SEEN = 100000;

// ---- options ----------------------------------------------------------------

function parseArgs(argv) {
  const o = {
    port: 0, tlsPort: 0, key: null, cert: null, keyFile: null,
    data: process.env.FHIRGEN_DATA_DIR || path.resolve(here, '../../data'),
    stallMs: 30000, lengthThreshold: 16384, oversizeMb: 8,
  };
  const num = (v, name) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) die(`${name}: expected a non-negative integer, got "${v}"`);
    return n;
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) die(`${a}: missing value`);
      return argv[++i];
    };
    switch (a) {
      case '--port': o.port = num(v(), a); break;
      case '--tls-port': o.tlsPort = num(v(), a); break;
      case '--key': o.key = v(); break;
      case '--cert': o.cert = v(); break;
      case '--key-file': o.keyFile = v(); break;
      case '--data': o.data = v(); break;
      case '--stall-ms': o.stallMs = num(v(), a); break;
      case '--length-threshold': o.lengthThreshold = num(v(), a); break;
      case '--oversize-mb': o.oversizeMb = num(v(), a); break;
      case '-h': case '--help':
        process.stdout.write('usage: server.mjs [--port P] [--key K] [--cert PEM --key-file PEM [--tls-port P]]\n' +
          '                  [--data DIR] [--stall-ms MS] [--length-threshold N] [--oversize-mb N]\n');
        process.exit(0);
        break;
      default: die(`unknown option "${a}" (see --help)`);
    }
  }
  if (!!o.cert !== !!o.keyFile) die('--cert and --key-file go together');
  return o;
}

function die(msg) {
  process.stderr.write(`llmserver: ${msg}\n`);
  process.exit(2);
}

const opt = parseArgs(process.argv);
let term;
try {
  term = loadTerminology(opt.data);
} catch (e) {
  die(`cannot read the terminology under ${opt.data}: ${e.message} (set --data or FHIRGEN_DATA_DIR)`);
}

// ---- models -----------------------------------------------------------------

const FAULTS = new Set(['429', '500', 'stall', 'length', 'length-always', 'badjson', 'schema', 'hallucinate',
  'hopeless', 'refusal', 'filter', 'html', 'oversize', 'midstream']);

// The behaviour a model name selects, or null for an unknown model.
function modelInfo(name) {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) return null;
  let rest = name;
  let nostructured = false;
  if (rest.startsWith('nostructured-')) {
    nostructured = true;
    rest = rest.slice('nostructured-'.length);
  } else if (rest === 'nostructured') {
    return { nostructured: true, fault: null, delay: 0 };
  }
  if (rest === 'scripted') return { nostructured, fault: null, delay: 0 };
  const m = /^fault-delay-(\d{1,7})$/.exec(rest);
  if (m) {
    const d = Number(m[1]);
    return d <= MAX_DELAY_MS ? { nostructured, fault: null, delay: d } : null;
  }
  if (rest.startsWith('fault-') && FAULTS.has(rest.slice(6))) return { nostructured, fault: rest.slice(6), delay: 0 };
  return null;
}

// ---- statistics and once-per-request faults --------------------------------

const stats = {
  requests: 0, models: {}, protocols: { openai: 0, anthropic: 0 }, statuses: {}, streamed: 0, max_in_flight: 0,
};
const seen = new Map();

function count(model, proto) {
  stats.requests++;
  stats.protocols[proto]++;
  const m = (stats.models[model] ??= { openai: 0, anthropic: 0 });
  m[proto]++;
}

// True the first time this exact request (fault, protocol, body) is seen.
function firstTry(fault, proto, body) {
  const k = crypto.createHash('sha256').update(fault + '\0' + proto + '\0' + JSON.stringify(body)).digest('hex');
  if (seen.has(k)) return false;
  if (seen.size >= MAX_SEEN) seen.clear();
  seen.set(k, true);
  return true;
}

// ---- requests ---------------------------------------------------------------

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p.text === 'string' ? p.text : '')).join('\n');
  }
  return '';
}

// The skeleton of the conversation: the last user message holding a
// <skeleton> block. Returns { skeleton, repair } or throws with a reason.
function readConversation(messages) {
  let repair = false;
  let lastUser = null;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i] && messages[i].role === 'user') { lastUser = textOf(messages[i].content); break; }
  }
  if (lastUser !== null && /^\s*<errors>/.test(lastUser)) repair = true;
  for (let i = messages.length - 1; i >= 0; i--) {
    const msg = messages[i];
    if (!msg || msg.role !== 'user') continue;
    const text = textOf(msg.content);
    const lines = text.split('\n');
    const a = lines.findIndex((l) => l.trim() === '<skeleton>');
    if (a < 0) continue;
    const b = lines.findIndex((l, j) => j > a && l.trim() === '</skeleton>');
    if (b < 0) throw new Error(`messages[${i}]: <skeleton> without a closing </skeleton> line`);
    const json = lines.slice(a + 1, b).join('\n');
    if (json.length > MAX_SKELETON) throw new Error(`messages[${i}]: skeleton larger than ${MAX_SKELETON} bytes`);
    let s;
    try {
      s = JSON.parse(json);
    } catch (e) {
      throw new Error(`messages[${i}]: the skeleton is not valid JSON: ${e.message}`);
    }
    return { skeleton: checkSkeleton(s), repair };
  }
  throw new Error('no user message holds a <skeleton> ... </skeleton> block (one JSON object between those two lines)');
}

// The rules OpenAI's strict structured output puts on a schema: an object at
// the root, every object closed (additionalProperties false) with all its
// properties required, at most 10 levels of objects and 5000 properties.
// Returns null or the first breach, in the API's words.
function strictSchemaError(schema) {
  let props = 0;
  const walk = (o, ctx, depth) => {
    if (Array.isArray(o)) {
      for (const x of o) {
        const e = walk(x, ctx, depth);
        if (e) return e;
      }
      return null;
    }
    if (!o || typeof o !== 'object') return null;
    const types = Array.isArray(o.type) ? o.type : [o.type];
    if (types.includes('object') || o.properties) {
      depth++;
      if (depth > 10) return `In context=(${ctx}), the schema has more than 10 levels of nesting.`;
      const keys = Object.keys(o.properties || {});
      props += keys.length;
      if (props > 5000) return 'The schema has more than 5000 object properties.';
      if (o.additionalProperties !== false) {
        return `In context=(${ctx}), 'additionalProperties' is required to be supplied and to be false.`;
      }
      const req = Array.isArray(o.required) ? o.required : [];
      const missing = keys.find((k) => !req.includes(k));
      if (missing !== undefined) {
        return `In context=(${ctx}), 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`;
      }
    }
    for (const [k, v] of Object.entries(o)) {
      if (k === 'properties' && v && typeof v === 'object') {
        for (const [pk, pv] of Object.entries(v)) {
          const e = walk(pv, ctx ? `${ctx}, '${pk}'` : `'${pk}'`, depth);
          if (e) return e;
        }
      } else if (v && typeof v === 'object') {
        const e = walk(v, k === 'items' ? (ctx ? `${ctx}, 'items'` : "'items'") : ctx, depth);
        if (e) return e;
      }
    }
    return null;
  };
  if (schema.type !== 'object') return "In context=(), schema must be a JSON Schema of 'type: \"object\"', got 'type: \"" + String(schema.type) + "\"'.";
  return walk(schema, '', 0);
}

// The response mode: how the client asked for JSON.
function structuredMode(proto, body) {
  if (proto === 'openai') {
    const rf = body.response_format;
    if (rf === undefined || rf === null) return { mode: 'text' };
    if (typeof rf !== 'object' || Array.isArray(rf)) throw new Error('response_format: expected an object {type, ...}');
    if (rf.type === 'text') return { mode: 'text' };
    if (rf.type === 'json_object') return { mode: 'json' };
    if (rf.type === 'json_schema') {
      const js = rf.json_schema;
      if (!js || typeof js.name !== 'string' || typeof js.schema !== 'object' || js.schema === null) {
        throw new Error("response_format.json_schema: expected {name, strict, schema}");
      }
      if (js.strict === true) {
        const e = strictSchemaError(js.schema);
        if (e) throw new Error(`Invalid schema for response_format '${js.name}': ${e}`);
      }
      return { mode: 'schema' };
    }
    throw new Error(`response_format.type: unknown value "${rf.type}" (json_schema, json_object, text)`);
  }
  const tools = body.tools;
  if (tools === undefined || tools === null || (Array.isArray(tools) && tools.length === 0)) return { mode: 'text' };
  if (!Array.isArray(tools)) throw new Error('tools: expected an array');
  for (const [i, tl] of tools.entries()) {
    if (!tl || typeof tl.name !== 'string' || typeof tl.input_schema !== 'object' || tl.input_schema === null) {
      throw new Error(`tools.${i}: expected {name, description, input_schema}`);
    }
    if (tl.input_schema.type !== 'object') throw new Error(`tools.${i}.input_schema.type: Input should be 'object'`);
  }
  const tc = body.tool_choice;
  if (tc && tc.type === 'tool') {
    if (!tools.some((tl) => tl.name === tc.name)) throw new Error(`tool_choice.name: no tool named "${tc.name}"`);
    return { mode: 'tool', toolName: tc.name };
  }
  return { mode: 'tool', toolName: tools[0].name };
}

// The document a model answers with (an object, or a string of bad JSON).
function answerDocument(info, conv, mode) {
  const sk = conv.skeleton;
  const f = info.fault;
  if (f === 'hopeless' || (f === 'hallucinate' && !conv.repair)) {
    return buildStory(term, sk, { fault: 'hallucinate' });
  }
  const doc = buildStory(term, sk);
  if (f === 'schema') {
    delete doc.notes;
    doc.encounters = { first: doc.encounters[0] ?? null };
    doc.comment = 'patient history follows';
    if (doc.observations.length > 0) doc.observations[0].value = 'high';
  }
  if (f === 'oversize') {
    const size = opt.oversizeMb * 1024 * 1024;
    const para = 'The patient was seen and examined; the history was reviewed in detail. ';
    doc.notes.push({
      id: 'note-long', encounter: doc.encounters.length ? doc.encounters[0].id : 'enc1',
      type: doc.notes.length ? doc.notes[0].type : null, time: doc.encounters.length ? doc.encounters[0].end : null,
      text: para.repeat(Math.ceil(size / para.length)),
    });
  }
  return doc;
}

function render(doc, mode, info, sk) {
  let json = JSON.stringify(doc);
  if (info.fault === 'badjson') {
    json = json.slice(0, -1).replace('"fhirgen_history":', "'fhirgen_history':") + ',\n';
  }
  if (mode === 'text') {
    return `Here is the history document for ${sk.given} ${sk.family}.\n\n\`\`\`json\n${json}\n\`\`\`\n`;
  }
  return json;
}

function promptChars(body) {
  let n = JSON.stringify(body.messages || []).length;
  if (body.system) n += JSON.stringify(body.system).length;
  if (body.response_format) n += JSON.stringify(body.response_format).length;
  if (body.tools) n += JSON.stringify(body.tools).length;
  return n;
}

// ---- HTTP -------------------------------------------------------------------

function send(res, status, obj, headers = {}) {
  const text = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
  stats.statuses[status] = (stats.statuses[status] || 0) + 1;
}

function fail(res, proto, status, message, extra = {}, headers = {}) {
  send(res, status, errorBody(proto, status, message, extra), headers);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_BODY) {
        // Answer 413 and drop the rest of the body unread.
        req.removeAllListeners('data');
        req.resume();
        reject(Object.assign(new Error(`request body larger than ${MAX_BODY} bytes`), { status: 413 }));
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function authorized(proto, req, azure) {
  if (opt.key === null) return true;
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization || '');
  if (proto === 'anthropic') return req.headers['x-api-key'] === opt.key;
  if (azure && req.headers['api-key'] === opt.key) return true;
  return !!bearer && bearer[1].trim() === opt.key;
}

const sleep = (ms, res) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  res.on('close', () => { clearTimeout(t); resolve(); });
});

async function handleCompletion(req, res, proto, azureName) {
  let raw;
  try {
    raw = await readBody(req);
  } catch (e) {
    fail(res, proto, e.status || 400, e.message, {}, { connection: 'close' });
    return;
  }
  let body;
  try {
    body = JSON.parse(raw);
  } catch (e) {
    fail(res, proto, 400, `the request body is not valid JSON: ${e.message}`);
    return;
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    fail(res, proto, 400, 'the request body must be a JSON object');
    return;
  }
  const model = azureName ?? body.model;
  count(typeof model === 'string' ? model.slice(0, 200) : '(none)', proto);
  if (!authorized(proto, req, azureName !== undefined)) {
    if (proto === 'anthropic') fail(res, proto, 401, 'invalid x-api-key');
    else fail(res, proto, 401, 'Incorrect API key provided.', { code: 'invalid_api_key' });
    return;
  }
  if (proto === 'anthropic' && !req.headers['anthropic-version']) {
    fail(res, proto, 400, 'anthropic-version: header is required');
    return;
  }
  if (typeof model !== 'string') {
    fail(res, proto, 400, 'model: a string is required', { param: 'model' });
    return;
  }
  const info = modelInfo(model);
  if (!info) {
    if (proto === 'anthropic') fail(res, proto, 404, `model: ${model}`);
    else fail(res, proto, 404, `The model \`${model}\` does not exist or you do not have access to it.`, { code: 'model_not_found' });
    return;
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    fail(res, proto, 400, 'messages: a non-empty array is required', { param: 'messages' });
    return;
  }
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (proto === 'anthropic' && !Number.isInteger(maxTokens)) {
    fail(res, proto, 400, 'max_tokens: Field required');
    return;
  }
  let sm;
  try {
    sm = structuredMode(proto, body);
  } catch (e) {
    fail(res, proto, 400, e.message);
    return;
  }
  if (info.nostructured && sm.mode === 'schema') {
    fail(res, proto, 400, "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
      { param: 'response_format', code: 'unsupported_parameter' });
    return;
  }
  let conv;
  try {
    conv = readConversation(body.messages);
  } catch (e) {
    fail(res, proto, 400, `scripted model: ${e.message}`);
    return;
  }

  const f = info.fault;
  if (f === '429' && firstTry(f, proto, body)) {
    const reset = new Date(Date.now() + 1000).toISOString();
    fail(res, proto, 429, 'Rate limit reached for requests. Please try again in 1s.', {}, {
      'retry-after': '1', 'retry-after-ms': '1000', 'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-requests': '60', 'x-ratelimit-remaining-requests': '0',
      'anthropic-ratelimit-requests-limit': '60', 'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': reset,
    });
    return;
  }
  if (f === '500' && firstTry(f, proto, body)) {
    fail(res, proto, 500, 'The server had an error while processing your request.');
    return;
  }
  if (f === 'html') {
    const page = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
    res.writeHead(502, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page) });
    res.end(page);
    stats.statuses[502] = (stats.statuses[502] || 0) + 1;
    return;
  }
  const midstream = f === 'midstream' && firstTry(f, proto, body);
  if (midstream && body.stream !== true) {
    if (proto === 'anthropic') fail(res, proto, 529, 'Overloaded');
    else fail(res, proto, 503, 'The engine is currently overloaded, please try again later.');
    return;
  }
  if (f === 'stall') await sleep(opt.stallMs, res);
  // fault-delay-D: the answer is ready D ms after the request arrived, as
  // a model's would be; it is built first, so building 32 stories at once
  // does not add to the delay of the last one.
  const arrived = Date.now();
  if (res.destroyed || res.writableEnded) return;

  const promptTokens = tokens(promptChars(body));
  let ans;
  if (f === 'refusal') {
    ans = { kind: 'refusal', text: "I'm sorry, but I can't help with writing this record.", finish: 'refusal', promptTokens };
  } else if (f === 'filter') {
    // A content filter cuts the answer short: OpenAI content_filter,
    // Anthropic (which has no such reason) refusal.
    const text = render(answerDocument(info, conv, sm.mode), sm.mode, info, conv.skeleton);
    ans = { kind: 'text', text: text.slice(0, Math.floor(text.length / 3)), finish: 'filter', promptTokens };
  } else {
    const doc = answerDocument(info, conv, sm.mode);
    let text = render(doc, sm.mode, info, conv.skeleton);
    let finish = 'stop';
    const truncate = f === 'length-always' ||
      (f === 'length' && (!Number.isInteger(maxTokens) || maxTokens < opt.lengthThreshold));
    if (truncate) {
      const budget = Number.isInteger(maxTokens) && maxTokens > 0 ? maxTokens * 4 : text.length;
      text = text.slice(0, Math.max(1, Math.min(budget, Math.floor(text.length / 2))));
      finish = 'length';
    }
    const tool = sm.mode === 'tool' && !(f === 'badjson' && body.stream !== true) && !(finish === 'length' && body.stream !== true);
    ans = { kind: tool ? 'tool' : 'text', text, input: tool ? doc : null, finish, promptTokens };
  }

  if (info.delay > 0) {
    const left = info.delay - (Date.now() - arrived);
    if (left > 0) await sleep(left, res);
    if (res.destroyed || res.writableEnded) return;
  }

  const streamOpts = midstream ? { errorAfter: 2 } : {};
  if (body.stream === true) {
    stats.streamed++;
    stats.statuses[200] = (stats.statuses[200] || 0) + 1;
    sseHeaders(res);
    if (proto === 'anthropic') {
      anthropicStream(res, ans, model, requestId('msg_', raw), sm.toolName, streamOpts);
    } else {
      const usage = !!(body.stream_options && body.stream_options.include_usage);
      openaiStream(res, ans, model, requestId('chatcmpl-', raw), usage, streamOpts);
    }
    return;
  }
  if (proto === 'anthropic') {
    send(res, 200, anthropicJson(ans, model, requestId('msg_', raw), sm.toolName), { 'request-id': requestId('req_', raw) });
  } else {
    send(res, 200, openaiJson(ans, model, requestId('chatcmpl-', raw)), { 'x-request-id': requestId('req_', raw) });
  }
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const p = url.pathname;
  if (req.method === 'GET' && p === '/stats') {
    send(res, 200, stats);
    return;
  }
  if (req.method === 'DELETE' && p === '/stats') {
    stats.requests = 0; stats.models = {}; stats.protocols = { openai: 0, anthropic: 0 }; stats.statuses = {}; stats.streamed = 0;
    stats.max_in_flight = 0;
    seen.clear();
    send(res, 200, stats);
    return;
  }
  if (req.method === 'GET' && p === '/health') {
    send(res, 200, { ok: true });
    return;
  }
  if (req.method === 'GET' && (p === '/v1/models' || p === '/models')) {
    const ids = ['scripted', ...[...FAULTS].map((x) => 'fault-' + x), 'fault-delay-200', 'nostructured-scripted'];
    send(res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fhirgen-test' })) });
    return;
  }
  const azure = /^\/openai\/deployments\/([A-Za-z0-9._-]{1,200})\/chat\/completions$/.exec(p);
  let proto = null;
  if (p === '/v1/chat/completions' || p === '/chat/completions' || azure) proto = 'openai';
  else if (p === '/v1/messages' || p === '/messages') proto = 'anthropic';
  if (proto === null) {
    fail(res, 'openai', 404, `no route for ${req.method} ${p} (POST /v1/chat/completions, POST /v1/messages, GET /stats)`);
    return;
  }
  if (req.method !== 'POST') {
    fail(res, proto, 405, `${req.method} is not allowed here; use POST`);
    return;
  }
  if (azure && !url.searchParams.get('api-version')) {
    fail(res, proto, 404, 'Resource not found: the api-version query parameter is required', { code: '404' });
    return;
  }
  await handleCompletion(req, res, proto, azure ? azure[1] : undefined);
}

function serve(server) {
  server.keepAliveTimeout = 30000;
  server.headersTimeout = 60000;
  server.requestTimeout = 0;
  server.maxConnections = 1024;
  return server;
}

let inFlight = 0;
const onRequest = (req, res) => {
  if (req.method === 'POST') {
    inFlight++;
    stats.max_in_flight = Math.max(stats.max_in_flight, inFlight);
    res.on('close', () => { inFlight--; });
  }
  handle(req, res).catch((e) => {
    if (!res.headersSent) fail(res, 'openai', 500, `test server error: ${e.message}`);
    else res.destroy();
  });
};

const plain = serve(http.createServer(onRequest));
plain.listen(opt.port, '127.0.0.1', () => {
  process.stdout.write(`listening http://127.0.0.1:${plain.address().port}\n`);
  if (opt.cert) {
    const secure = serve(https.createServer({ cert: fs.readFileSync(opt.cert), key: fs.readFileSync(opt.keyFile) }, onRequest));
    secure.listen(opt.tlsPort, '127.0.0.1', () => {
      process.stdout.write(`listening-tls https://127.0.0.1:${secure.address().port}\n`);
    });
  }
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
