#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// FHIR R4 test server for `fhirgen push`: HTTPS on 127.0.0.1, Medplum's FHIR
// router over an in-memory store, several auth modes, faults injected on
// demand, transactions served all or nothing (serial) or as Medplum serves
// them (stock), and an optional cap on entries per bundle. The first line on
// stdout is "listening https://127.0.0.1:PORT".
// Usage: node server.mjs --help

import fs from 'node:fs';
import https from 'node:https';
import { Auth } from './auth.mjs';

const HELP = `Usage: node server.mjs [--config FILE.json] [options]
  --port N               0 = pick a free port (default 0)
  --cert F --key F       server certificate and key (PEM), required
  --ca F                 CA that signs client certificates (mtls)
  --auth MODE            none | bearer | client-credentials | smart | mtls (default none)
  --bearer-token T       the static token (bearer)
  --client-id ID         client id (client-credentials, smart; default fhirgen-test)
  --client-secret S      client secret (client-credentials)
  --jwks F               public JWKS of the client (smart)
  --token-lifetime S     access token lifetime in seconds (default 300)
  --seed N               fault selection seed (default 1): request k gets the
                         same fault for the same seed and options
  --fault-429 P          fraction of FHIR requests answered 429 + Retry-After
  --retry-after S        Retry-After seconds (default 1)
  --fault-500 P / --fault-503 P
  --fault-drop-before P  close the connection before reading the body
  --fault-drop-after P   process the request, then close without answering
  --delay-ms N           delay answers by N ms ...
  --delay-fraction P     ... for this fraction of requests (default 1 when delay set)
  --faults-on WHERE      fhir (default: all but /metadata, /token, well-known) | all
  --bad-answer MODE      html | r5 | invalid-json | oversized | redirect-http
  --bad-answer-on WHERE  all (default) | metadata | fhir
  --oversize-bytes N     size of the oversized answer (default 65 MiB)
  --max-body-bytes N     largest request body accepted (default 256 MiB)
  --transactions MODE    serial (default): a transaction runs through the router's
                         batch path, all or nothing by an undo log, with no limit
                         on its size; stock: the router's own transaction mode as
                         Medplum serves it, limits in place (400 above 50 updates,
                         or above 8 entries once a conditional create, update or
                         delete is present) and no rollback (in-memory store)
  --max-bundle-entries N refuse a transaction or batch Bundle of more than N
                         entries with 413 + OperationOutcome (default 0: no cap)
Config file keys are the option names without "--" in camelCase
(e.g. {"auth":"smart","jwks":"jwks.json","fault429":0.2,"transactions":"stock",
"maxBundleEntries":100}).
Admin (no auth): GET /_admin/stats, POST /_admin/reset.`;

const DEFAULTS = {
  port: 0, cert: '', key: '', ca: '', auth: 'none', bearerToken: '', clientId: 'fhirgen-test',
  clientSecret: '', jwks: '', tokenLifetime: 300, seed: 1, fault429: 0, retryAfter: 1,
  fault500: 0, fault503: 0, faultDropBefore: 0, faultDropAfter: 0, delayMs: 0,
  delayFraction: -1, faultsOn: 'fhir', badAnswer: '', badAnswerOn: 'all',
  oversizeBytes: 65 * 1024 * 1024, maxBodyBytes: 256 * 1024 * 1024,
  transactions: 'serial', maxBundleEntries: 0,
};
const TRANSACTION_MODES = ['serial', 'stock'];
const AUTH_MODES = ['none', 'bearer', 'client-credentials', 'smart', 'mtls'];
const BAD_ANSWERS = ['', 'html', 'r5', 'invalid-json', 'oversized', 'redirect-http'];

function camel(flag) {
  return flag.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function parseArgs(argv) {
  const opts = { ...DEFAULTS };
  const cli = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(HELP + '\n');
      process.exit(0);
    }
    if (!a.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${a} (see --help)`);
    cli[camel(a.slice(2))] = argv[++i];
  }
  if (cli.config) Object.assign(opts, JSON.parse(fs.readFileSync(cli.config, 'utf8')));
  Object.assign(opts, cli);
  for (const k of Object.keys(opts)) {
    if (!(k in DEFAULTS) && k !== 'config') throw new Error(`unknown option ${k} (see --help)`);
    if (typeof DEFAULTS[k] === 'number') {
      opts[k] = Number(opts[k]);
      if (!Number.isFinite(opts[k])) throw new Error(`option ${k} must be a number`);
    }
  }
  if (!AUTH_MODES.includes(opts.auth)) throw new Error(`--auth must be one of ${AUTH_MODES.join(', ')}`);
  if (!TRANSACTION_MODES.includes(opts.transactions)) {
    throw new Error(`--transactions must be one of ${TRANSACTION_MODES.join(', ')}`);
  }
  if (!Number.isInteger(opts.maxBundleEntries) || opts.maxBundleEntries < 0) {
    throw new Error('--max-bundle-entries must be a whole number, 0 for no cap');
  }
  if (!BAD_ANSWERS.includes(opts.badAnswer)) throw new Error(`--bad-answer must be one of ${BAD_ANSWERS.slice(1).join(', ')}`);
  if (!opts.cert || !opts.key) throw new Error('--cert and --key are required (make-certs.sh makes them)');
  if (opts.auth === 'mtls' && !opts.ca) throw new Error('--auth mtls needs --ca');
  if (opts.auth === 'bearer' && !opts.bearerToken) throw new Error('--auth bearer needs --bearer-token');
  if (opts.auth === 'client-credentials' && !opts.clientSecret) throw new Error('--auth client-credentials needs --client-secret');
  if (opts.auth === 'smart' && !opts.jwks) throw new Error('--auth smart needs --jwks');
  if (opts.delayFraction < 0) opts.delayFraction = opts.delayMs > 0 ? 1 : 0;
  return opts;
}

// Deterministic uniform draw in [0, 1) for request k and stream s.
function draw(seed, k, s) {
  let h = (seed ^ Math.imul(k, 0x9e3779b1) ^ Math.imul(s + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

function outcome(severity, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

function send(res, status, body, headers = {}, type = FHIR_JSON) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendOversized(res, bytes) {
  res.writeHead(200, { 'Content-Type': FHIR_JSON, 'Content-Length': bytes });
  const head = '{"resourceType":"Bundle","type":"transaction-response","padding":"';
  const tail = '"}';
  const chunk = Buffer.alloc(1 << 20, 'x');
  let left = bytes - head.length - tail.length;
  res.write(head);
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(tail);
  };
  pump();
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fhirserver: ${e.message}\n`);
    process.exit(2);
  }
  // Loading the FHIR definitions takes a moment; do it before listening.
  const { FhirStore, capabilityStatement } = await import('./fhir.mjs');
  const store = new FhirStore({ transactions: opts.transactions, maxBundleEntries: opts.maxBundleEntries });
  const stats = { requests: 0, faults: {}, byMethod: {} };
  const tls = {
    cert: fs.readFileSync(opts.cert),
    key: fs.readFileSync(opts.key),
    minVersion: 'TLSv1.2',
  };
  if (opts.ca) tls.ca = fs.readFileSync(opts.ca);
  if (opts.auth === 'mtls') {
    tls.requestCert = true;
    tls.rejectUnauthorized = true;
  }
  let baseUrl = '';
  let auth;
  const count = (what) => { stats.faults[what] = (stats.faults[what] || 0) + 1; };

  const server = https.createServer(tls, (req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) send(res, e.status || 500, outcome('error', 'exception', e.message));
      else res.destroy();
    });
  });

  async function handle(req, res) {
    const k = stats.requests++;
    stats.byMethod[req.method] = (stats.byMethod[req.method] || 0) + 1;
    const u = new URL(req.url, baseUrl);
    const path = u.pathname.replace(/\/+$/, '') || '/';
    const isMeta = path === '/metadata';
    const isAdmin = path.startsWith('/_admin/');
    const isAuthPath = path === '/token' || path.startsWith('/.well-known/');
    const isFhir = !isMeta && !isAdmin && !isAuthPath;

    if (isAdmin) {
      if (req.method === 'GET' && path === '/_admin/stats') {
        return send(res, 200, {
          ...stats, resources: store.repo.counts(), transactions: store.transactions,
          bundles: store.bundles,
          tokensIssued: auth.issued, authRefused: auth.refused,
        }, {}, 'application/json');
      }
      if (req.method === 'POST' && path === '/_admin/reset') {
        store.reset();
        return send(res, 200, outcome('information', 'informational', 'store cleared'));
      }
      return send(res, 404, outcome('error', 'not-found', `no admin endpoint ${path}`));
    }

    // Bad answers, for the client's "server misbehaves" tests.
    const badHere = opts.badAnswerOn === 'all' || (opts.badAnswerOn === 'metadata' ? isMeta : isFhir);
    if (opts.badAnswer && badHere && !isAuthPath) {
      count(`bad-${opts.badAnswer}`);
      switch (opts.badAnswer) {
        case 'html':
          return send(res, 200, '<!DOCTYPE html><html><body><h1>Welcome</h1><p>Please sign in.</p></body></html>',
            {}, 'text/html; charset=utf-8');
        case 'r5':
          if (isMeta) return send(res, 200, capabilityStatement(baseUrl, { fhirVersion: '5.0.0', auth: opts.auth }));
          break;
        case 'invalid-json':
          return send(res, 200, '{"resourceType":"Bundle","type":"transaction-response","entry":[{"resp');
        case 'oversized':
          return sendOversized(res, opts.oversizeBytes);
        case 'redirect-http':
          return send(res, 307, outcome('information', 'informational', 'moved'),
            { Location: `http://127.0.0.1:${server.address().port}${req.url}` });
        default:
          break;
      }
    }

    // Injected faults, chosen from (seed, request number).
    const faultHere = opts.faultsOn === 'all' || isFhir;
    if (faultHere) {
      if (opts.delayMs > 0 && draw(opts.seed, k, 1) < opts.delayFraction) {
        count('delay');
        await new Promise((r) => setTimeout(r, opts.delayMs));
      }
      const x = draw(opts.seed, k, 0);
      let edge = 0;
      const hit = (p) => { const lo = edge; edge += p; return x >= lo && x < edge; };
      if (hit(opts.fault429)) {
        count('429');
        return send(res, 429, outcome('error', 'throttled', 'too many requests (injected)'),
          { 'Retry-After': String(opts.retryAfter) });
      }
      if (hit(opts.fault500)) {
        count('500');
        return send(res, 500, outcome('error', 'exception', 'internal error (injected)'));
      }
      if (hit(opts.fault503)) {
        count('503');
        return send(res, 503, outcome('error', 'transient', 'unavailable (injected)'),
          { 'Retry-After': String(opts.retryAfter) });
      }
      if (hit(opts.faultDropBefore)) {
        count('drop-before');
        req.socket.destroy();
        return undefined;
      }
      if (hit(opts.faultDropAfter)) req.dropAfter = true;
    }

    if (isMeta && req.method === 'GET') {
      return send(res, 200, capabilityStatement(baseUrl, { auth: opts.auth }));
    }
    if (path === '/.well-known/smart-configuration' && req.method === 'GET') {
      return send(res, 200, auth.smartConfiguration(), {}, 'application/json');
    }
    const raw = await readBody(req, opts.maxBodyBytes);
    if (path === '/token') {
      if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request' }, {}, 'application/json');
      const r = auth.token(new URLSearchParams(raw.toString('utf8')), req.headers);
      return send(res, r.status, r.body, { 'Cache-Control': 'no-store' }, 'application/json');
    }
    if (!isFhir) return send(res, 404, outcome('error', 'not-found', `no route ${req.method} ${path}`));

    const verdict = auth.check(req);
    if (!verdict.ok) {
      return send(res, 401, outcome('error', 'login', verdict.description),
        { 'WWW-Authenticate': `Bearer error="${verdict.error}", error_description="${verdict.description}"` });
    }
    let body;
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        return send(res, 400, outcome('error', 'structure', `request body is not JSON: ${e.message}`));
      }
    }
    const r = await store.handle(req.method, path + u.search, body, req.headers);
    if (req.dropAfter) {
      count('drop-after');
      req.socket.destroy();
      return undefined;
    }
    return send(res, r.status, r.body, r.headers);
  }

  server.keepAliveTimeout = 5000;
  server.listen(opts.port, '127.0.0.1', () => {
    const { port } = server.address();
    baseUrl = `https://127.0.0.1:${port}`;
    auth = new Auth({
      mode: opts.auth, bearerToken: opts.bearerToken, clientId: opts.clientId,
      clientSecret: opts.clientSecret, tokenLifetime: opts.tokenLifetime,
      tokenUrl: `${baseUrl}/token`,
      jwks: opts.jwks ? JSON.parse(fs.readFileSync(opts.jwks, 'utf8')) : undefined,
    });
    process.stdout.write(`listening ${baseUrl}\n`);
    process.stdout.write(`auth ${opts.auth}\n`);
    process.stdout.write(`transactions ${opts.transactions}, max bundle entries ${opts.maxBundleEntries || 'unlimited'}\n`);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
