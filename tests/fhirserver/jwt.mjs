#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Sign a SMART Backend Services client assertion, for tests.
// Usage: node jwt.mjs --key KEY.pem --kid KID --alg RS384|ES384 --iss CLIENT_ID
//                     --aud TOKEN_URL [--exp-in SECONDS] [--jti ID]
// Prints the compact JWT on stdout.
import crypto from 'node:crypto';
import fs from 'node:fs';

const a = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) a[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['key', 'kid', 'alg', 'iss', 'aud']) {
  if (!a[k]) {
    process.stderr.write(`jwt.mjs: --${k} is required\n`);
    process.exit(2);
  }
}
const now = Math.floor(Date.now() / 1000);
const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const head = enc({ alg: a.alg, kid: a.kid, typ: 'JWT' });
const body = enc({
  iss: a.iss, sub: a.iss, aud: a.aud, exp: now + Number(a['exp-in'] ?? 240),
  jti: a.jti ?? crypto.randomUUID(),
});
const key = crypto.createPrivateKey(fs.readFileSync(a.key));
const opt = a.alg === 'ES384' ? { key, dsaEncoding: 'ieee-p1363' } : key;
const sig = crypto.sign('sha384', Buffer.from(`${head}.${body}`), opt).toString('base64url');
process.stdout.write(`${head}.${body}.${sig}\n`);
