// SPDX-License-Identifier: Apache-2.0
// Helpers of selftest.sh (which drives the server with curl):
//   node selftest-lib.mjs request PROTO MODE MODEL [--index N] [--max-tokens N]
//        [--stream] [--usage] [--repair] [--no-skeleton]
//     prints a request body: PROTO openai|anthropic, MODE schema|json|text|tool
//   node selftest-lib.mjs decode PROTO STREAM FILE [--out HISTORY.json]
//     reads an answer (JSON, or server-sent events when STREAM is 1) and prints
//     one line of key=value facts about it; --out writes the history found.
//   node selftest-lib.mjs requests PLAN DIR / decode-all PLAN DIR
//     the same for every line "NAME PROTO MODE MODEL [flags]" of PLAN, in one
//     process: DIR/NAME.req, and DIR/NAME.facts from DIR/NAME.out.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTerminology, verhoeffValid, SNOMED } from './terminology.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = process.env.FHIRGEN_DATA_DIR || path.resolve(here, '../../data');

const SEXES = ['female', 'male'];
const FAMILIES = ['Testperson', 'Sample', 'Mockford', 'Fakeley'];

function skeleton(index, t) {
  const conds = [];
  const pick = (name, onset) => {
    const m = t.modules.get(name);
    if (m && m.term) conds.push({ name, system: m.term.system, code: m.term.code, display: m.term.display, onset });
  };
  pick('hypertension', '2012-05-14');
  if (index % 2 === 0) pick('diabetes', '2019-09-02');
  if (index % 3 === 0) pick('asthma', '2021-01-20');
  if (index % 5 === 0) pick('hyperlipidemia', '2017-03-11');
  return {
    index, sex: SEXES[index % 2], birth_date: `19${50 + (index % 40)}-0${1 + (index % 9)}-1${index % 10}`,
    deceased_date: index % 7 === 6 ? '2024-02-03' : null, given: 'Alex', family: FAMILIES[index % 4],
    age: 60, history_start: '2015-11-27', history_end: '2025-11-27', conditions: conds, scenario: null,
  };
}

function request(argv, t, schema) {
  const [proto, mode, model] = argv;
  const flag = (f) => argv.includes(f);
  const val = (f, d) => (argv.includes(f) ? Number(argv[argv.indexOf(f) + 1]) : d);
  const sk = skeleton(val('--index', 0), t);
  const first = flag('--no-skeleton') ? 'Write a patient history.'
    : `Write this patient's history as one JSON document.\n<skeleton>\n${JSON.stringify(sk)}\n</skeleton>\n`;
  const messages = [{ role: 'user', content: first }];
  if (flag('--repair')) {
    messages.push({ role: 'assistant', content: '{"fhirgen_history": "1"}' });
    messages.push({ role: 'user', content: '<errors>\nencounters[0].start: before the birth date\n</errors>\nAnswer with the whole corrected document.' });
  }
  const body = { model, max_tokens: val('--max-tokens', 8192), messages };
  if (proto === 'openai') {
    body.messages.unshift({ role: 'system', content: 'You write synthetic patient histories.' });
    if (mode === 'schema') body.response_format = { type: 'json_schema', json_schema: { name: 'history', strict: true, schema } };
    if (mode === 'schema' && flag('--loose-schema')) {
      body.response_format.json_schema.schema = JSON.parse(JSON.stringify(schema));
      delete body.response_format.json_schema.schema.properties.patient.additionalProperties;
    }
    if (mode === 'json') body.response_format = { type: 'json_object' };
    if (flag('--usage')) body.stream_options = { include_usage: true };
  } else {
    body.system = 'You write synthetic patient histories.';
    if (mode === 'tool') {
      body.tools = [{ name: 'write_history', description: 'The patient history document', input_schema: schema }];
      body.tool_choice = { type: 'tool', name: 'write_history' };
    }
  }
  if (flag('--stream')) body.stream = true;
  return JSON.stringify(body);
}

function parseSse(text) {
  const events = [];
  for (const block of text.split('\n\n')) {
    let ev = null;
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) ev = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length) events.push({ event: ev, data: data.join('\n') });
  }
  return events;
}

// Every {system, code} in a document that is not in the tables, and SNOMED
// codes failing the check digit.
function unknownCodes(doc, t) {
  const bad = [];
  const walk = (x) => {
    if (Array.isArray(x)) { x.forEach(walk); return; }
    if (!x || typeof x !== 'object') return;
    if (typeof x.system === 'string' && typeof x.code === 'string') {
      if (!t.has(x.system, x.code)) bad.push(x.code);
      else if (x.system === SNOMED && !verhoeffValid(x.code)) bad.push(x.code);
    }
    Object.values(x).forEach(walk);
  };
  walk(doc);
  return bad;
}

const KEYS = ['fhirgen_history', 'patient', 'organizations', 'practitioners', 'locations', 'encounters',
  'conditions', 'observations', 'reports', 'medications', 'immunizations', 'procedures', 'allergies',
  'careplans', 'notes', 'death_cause'];

function decode(argv, t) {
  const [proto, stream, file] = argv;
  const out = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : null;
  const raw = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const f = { finish: 'none', kind: 'none', bytes: raw.length, done: 0, usage_in: 0, usage_out: 0, error_event: 0, order: 'ok' };
  let text = '';
  let input = null;
  if (stream === '1') {
    const evs = parseSse(raw);
    if (proto === 'openai') {
      for (const e of evs) {
        if (e.data === '[DONE]') { f.done = 1; continue; }
        const c = JSON.parse(e.data);
        if (c.error) { f.error_event = 1; continue; }
        if (c.usage) { f.usage_in = c.usage.prompt_tokens; f.usage_out = c.usage.completion_tokens; }
        const ch = c.choices && c.choices[0];
        if (!ch) continue;
        if (typeof ch.delta.content === 'string' && ch.delta.content) { text += ch.delta.content; f.kind = 'text'; }
        if (typeof ch.delta.refusal === 'string' && ch.delta.refusal) { text += ch.delta.refusal; f.kind = 'refusal'; }
        if (ch.finish_reason) f.finish = ch.finish_reason;
      }
    } else {
      const want = ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'];
      let stage = 0;
      for (const e of evs) {
        const d = JSON.parse(e.data);
        if (d.type !== e.event) f.order = 'event-name-mismatch';
        if (d.type === 'ping') continue;
        if (d.type === 'error') { f.error_event = 1; continue; }
        const k = want.indexOf(d.type);
        if (k < stage && !(d.type === 'content_block_delta' && stage === 2)) f.order = `${d.type}-after-${want[stage]}`;
        stage = Math.max(stage, k);
        if (d.type === 'message_start') f.usage_in = d.message.usage.input_tokens;
        if (d.type === 'content_block_start') f.kind = d.content_block.type === 'tool_use' ? 'tool' : 'text';
        if (d.type === 'content_block_delta') text += d.delta.type === 'input_json_delta' ? d.delta.partial_json : d.delta.text;
        if (d.type === 'message_delta') { f.finish = d.delta.stop_reason; f.usage_out = d.usage.output_tokens; }
        if (d.type === 'message_stop') f.done = 1;
      }
    }
  } else {
    let r;
    try { r = JSON.parse(raw); } catch { r = null; }
    if (r && proto === 'openai' && r.choices) {
      const m = r.choices[0].message;
      f.finish = r.choices[0].finish_reason;
      if (m.refusal) { f.kind = 'refusal'; text = m.refusal; } else if (typeof m.content === 'string') { f.kind = 'text'; text = m.content; }
      f.usage_in = r.usage.prompt_tokens; f.usage_out = r.usage.completion_tokens;
    } else if (r && proto === 'anthropic' && r.type === 'message') {
      f.finish = r.stop_reason;
      const tu = r.content.find((c) => c.type === 'tool_use');
      const tx = r.content.find((c) => c.type === 'text');
      if (tu) { f.kind = 'tool'; input = tu.input; } else if (tx) { f.kind = 'text'; text = tx.text; }
      f.usage_in = r.usage.input_tokens; f.usage_out = r.usage.output_tokens;
    } else if (r && (r.error || r.type === 'error')) {
      f.kind = 'error';
      f.error_type = (r.error && (r.error.code || r.error.type)) || "none";
    }
  }
  f.fenced = /```json\n/.test(text) ? 1 : 0;
  let json = text;
  const fence = /```json\n([\s\S]*?)\n```/.exec(text);
  if (fence) json = fence[1];
  let doc = input;
  if (doc === null && json) {
    try { doc = JSON.parse(json); } catch { doc = null; }
  }
  f.json_ok = doc !== null && typeof doc === 'object' ? 1 : 0;
  f.history_ok = f.json_ok && KEYS.every((k) => k in doc) && Object.keys(doc).length === KEYS.length &&
    Array.isArray(doc.encounters) && doc.encounters.length > 0 ? 1 : 0;
  if (f.history_ok) {
    const bad = unknownCodes(doc, t);
    f.unknown_codes = bad.length;
    const birth = doc.patient.birth_date;
    f.before_birth = doc.encounters.filter((e) => e.start.slice(0, 10) < birth).length;
    f.encounters = doc.encounters.length;
    f.observations = doc.observations.length;
    f.given = doc.patient.given;
    if (out) fs.writeFileSync(out, JSON.stringify(doc, null, 1));
  }
  return Object.entries(f).map(([k, v]) => `${k}=${v}`).join(' ') + '\n';
}

// A plan: one request a line, "NAME PROTO MODE MODEL [flags...]".
function readPlan(file) {
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(/\s+/));
}

const [cmd, ...rest] = process.argv.slice(2);
const terms = () => loadTerminology(dataDir);
const schemaOf = () => JSON.parse(fs.readFileSync(path.join(dataDir, 'schema', 'history.schema.json'), 'utf8'));
if (cmd === 'request') {
  process.stdout.write(request(rest, terms(), schemaOf()));
} else if (cmd === 'decode') {
  process.stdout.write(decode(rest, terms()));
} else if (cmd === 'requests') {
  // requests PLAN DIR: DIR/NAME.req for every line of the plan.
  const [plan, dir] = rest;
  const t = terms();
  const schema = schemaOf();
  for (const [name, ...args] of readPlan(plan)) fs.writeFileSync(path.join(dir, name + '.req'), request(args, t, schema));
} else if (cmd === 'decode-all') {
  // decode-all PLAN DIR: DIR/NAME.facts and DIR/NAME.history.json from DIR/NAME.out.
  const [plan, dir] = rest;
  const t = terms();
  for (const [name, proto, , , ...flags] of readPlan(plan)) {
    const base = path.join(dir, name);
    let facts;
    try {
      facts = decode([proto, flags.includes('--stream') ? '1' : '0', base + '.out', '--out', base + '.history.json'], t);
    } catch (e) {
      facts = `decode-failed=${JSON.stringify(e.message)}\n`;
    }
    fs.writeFileSync(base + '.facts', facts);
  }
} else {
  process.stderr.write('usage: selftest-lib.mjs request|decode|requests|decode-all ...\n');
  process.exit(2);
}
