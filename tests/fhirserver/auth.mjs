// SPDX-License-Identifier: Apache-2.0
// Authorization for the test server: static bearer token, OAuth2
// client_credentials with a client secret, SMART Backend Services (JWT client
// assertion signed RS384 or ES384, checked against a JWKS), or nothing (none,
// and mtls, where the TLS layer already verified the client certificate).

import crypto from 'node:crypto';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_ASSERTION_LIFETIME_S = 300; // SMART: exp no more than 5 minutes ahead

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

export class Auth {
  /**
   * opts: { mode, bearerToken, clientId, clientSecret, jwks (object),
   *         tokenLifetime (seconds), tokenUrl }
   */
  constructor(opts) {
    this.opts = opts;
    this.tokens = new Map(); // access token -> { expires (ms), scope }
    this.usedJti = new Map(); // jti -> exp (ms), kept until the assertion expires
    this.issued = 0;
    this.refused = 0;
  }

  /** Does this FHIR request carry an acceptable credential? */
  check(req) {
    const { mode } = this.opts;
    if (mode === 'none' || mode === 'mtls') return { ok: true };
    const h = req.headers.authorization || '';
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (!m) return this.refuse('invalid_request', 'missing bearer token');
    if (mode === 'bearer') {
      return m[1] === this.opts.bearerToken ? { ok: true } : this.refuse('invalid_token', 'unknown token');
    }
    const t = this.tokens.get(m[1]);
    if (!t) return this.refuse('invalid_token', 'unknown token');
    if (Date.now() >= t.expires) {
      this.tokens.delete(m[1]);
      return this.refuse('invalid_token', 'token expired');
    }
    return { ok: true };
  }

  refuse(error, description) {
    this.refused++;
    return { ok: false, error, description };
  }

  /** SMART configuration document (/.well-known/smart-configuration). */
  smartConfiguration() {
    return {
      token_endpoint: this.opts.tokenUrl,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic', 'client_secret_post'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      scopes_supported: ['system/*.read', 'system/*.write', 'system/*.rs', 'system/*.cruds'],
      capabilities: ['client-confidential-asymmetric', 'client-confidential-symmetric', 'permission-v2'],
    };
  }

  /**
   * Token endpoint. form: the parsed x-www-form-urlencoded body.
   * Answers { status, body } (an OAuth2 token or error response).
   */
  token(form, headers) {
    const err = (status, error, description) => {
      this.refused++;
      return { status, body: { error, error_description: description } };
    };
    const { mode } = this.opts;
    if (mode !== 'client-credentials' && mode !== 'smart') {
      return err(400, 'unsupported_grant_type', `the server runs with auth mode ${mode}, no token endpoint`);
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return err(400, 'unsupported_grant_type', 'only grant_type=client_credentials');
    }
    let verdict;
    if (mode === 'client-credentials') verdict = this.checkSecret(form, headers);
    else verdict = this.checkAssertion(form);
    if (verdict) return err(401, 'invalid_client', verdict);
    const access = crypto.randomBytes(24).toString('base64url');
    const scope = form.get('scope') || 'system/*.cruds';
    const lifetime = this.opts.tokenLifetime;
    this.tokens.set(access, { expires: Date.now() + lifetime * 1000, scope });
    this.issued++;
    return {
      status: 200,
      body: { access_token: access, token_type: 'Bearer', expires_in: lifetime, scope },
    };
  }

  /** client_secret_basic or client_secret_post; returns an error text or null. */
  checkSecret(form, headers) {
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const m = /^Basic\s+(\S+)$/i.exec(headers.authorization || '');
    if (m) {
      const dec = Buffer.from(m[1], 'base64').toString('utf8');
      const i = dec.indexOf(':');
      if (i < 0) return 'malformed Basic credentials';
      id = decodeURIComponent(dec.slice(0, i));
      secret = decodeURIComponent(dec.slice(i + 1));
    }
    if (!id || !secret) return 'client_id and client_secret required';
    const want = Buffer.from(String(this.opts.clientSecret));
    const got = Buffer.from(String(secret));
    if (id !== this.opts.clientId || want.length !== got.length || !crypto.timingSafeEqual(want, got)) {
      return 'wrong client id or secret';
    }
    return null;
  }

  /** SMART Backend Services client assertion; returns an error text or null. */
  checkAssertion(form) {
    if (form.get('client_assertion_type') !== ASSERTION_TYPE) return `client_assertion_type must be ${ASSERTION_TYPE}`;
    const jwt = form.get('client_assertion') || '';
    const parts = jwt.split('.');
    if (parts.length !== 3) return 'client_assertion is not a compact JWT';
    let header;
    let claims;
    try {
      header = b64urlJson(parts[0]);
      claims = b64urlJson(parts[1]);
    } catch {
      return 'client_assertion header or payload is not base64url JSON';
    }
    if (header.alg !== 'RS384' && header.alg !== 'ES384') return `alg ${header.alg} not accepted (RS384, ES384)`;
    if (!header.kid) return 'kid missing from the JWT header';
    const keys = (this.opts.jwks?.keys || []).filter((k) => k.kid === header.kid);
    if (!keys.length) return `kid ${header.kid} not in the registered JWKS`;
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const sig = Buffer.from(parts[2], 'base64url');
    const good = keys.some((jwk) => {
      if ((header.alg === 'RS384') !== (jwk.kty === 'RSA')) return false;
      try {
        const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
        const opt = header.alg === 'ES384' ? { key, dsaEncoding: 'ieee-p1363' } : key;
        return crypto.verify('sha384', data, opt, sig);
      } catch {
        return false;
      }
    });
    if (!good) return 'client_assertion signature does not verify';
    const id = this.opts.clientId;
    if (claims.iss !== id || claims.sub !== id) return 'iss and sub must both be the client id';
    const formId = form.get('client_id');
    if (formId && formId !== id) return 'client_id does not match the assertion';
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(this.opts.tokenUrl)) return `aud must be the token URL ${this.opts.tokenUrl}`;
    const now = Date.now() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp <= now) return 'client_assertion expired (exp)';
    if (claims.exp > now + MAX_ASSERTION_LIFETIME_S + 5) return 'exp more than 5 minutes ahead';
    if (!claims.jti) return 'jti missing';
    for (const [j, exp] of this.usedJti) if (exp * 1000 < Date.now()) this.usedJti.delete(j);
    if (this.usedJti.has(claims.jti)) return 'jti already used';
    this.usedJti.set(claims.jti, claims.exp);
    return null;
  }
}
