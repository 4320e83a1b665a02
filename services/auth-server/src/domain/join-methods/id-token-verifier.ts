import { isMeziteError, unavailable } from '@mezite/identity';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { refused } from '../refusal';

/** The one answer every refused join gets: the reason goes to the audit log only. */
export const INVALID_JOIN = 'invalid join token';
/** A platform ID token is a few KiB; anything much larger is refused before parsing. */
export const MAX_ID_TOKEN_CHARS = 16 * 1024;
/** How far an ID token's times may be from the server's clock. */
export const ID_TOKEN_SKEW_S = 10;
/** Asymmetric algorithms only: `none` and HMAC (a public key used as a secret) never verify. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

/** Where an issuer's keys come from. */
export interface IssuerKeys {
  /** The `iss` a token must carry. */
  issuer: string;
  /** A JWKS document (JSON) for sites whose issuer cannot be reached; else discovery → `jwks_uri`. */
  staticJwks?: string | undefined;
}

/** Options of IdTokenVerifier. */
export interface IdTokenVerifierOptions {
  /** Per request to the issuer (discovery, JWKS). Default 5 s. */
  timeoutMs?: number;
  /** How long fetched keys are kept. Default 10 min. */
  cacheMaxAgeMs?: number;
  /** The least time between two refetches for an unknown `kid` (a flood of made-up kids costs one fetch). Default 30 s. */
  cooldownMs?: number;
}

/**
 * An `https` URL, or `http` on a loopback address (tests, a local issuer): an issuer's
 * keys fetched in clear from elsewhere could be anyone's.
 */
export function checkIssuerUrl(s: string, field: string): URL {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new TypeError(`${field}: not a URL: "${s.slice(0, 100)}"`);
  }
  const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw new TypeError(`${field}: must be an https URL`);
  if (u.search || u.hash || u.username || u.password) throw new TypeError(`${field}: must have no query, fragment or credentials`);
  return u;
}

class KeySourceDown extends Error {}

/**
 * Verifies platform ID tokens (GitHub Actions, GitLab CI, Kubernetes) with jose against
 * the issuer's keys: OIDC discovery (`<issuer>/.well-known/openid-configuration` →
 * `jwks_uri`), keys cached and refetched when a token names an unknown `kid`; or a
 * static JWKS. Refusals carry a fixed reason; an issuer that cannot be reached is
 * Unavailable (fail closed: no key, no join).
 */
export class IdTokenVerifier {
  private readonly remote = new Map<string, Promise<JWTVerifyGetKey>>();
  private readonly timeoutMs: number;

  constructor(private readonly o: IdTokenVerifierOptions = {}) {
    this.timeoutMs = o.timeoutMs ?? 5000;
  }

  /** The verified claims; see the class comment for failures. */
  async verify(token: string, keys: IssuerKeys, check: { audience: string; now: Date; maxTokenAgeS: number }): Promise<JWTPayload> {
    if (token.length > MAX_ID_TOKEN_CHARS) throw refused(INVALID_JOIN, 'id token too large');
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) throw refused(INVALID_JOIN, 'malformed id token');
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw refused(INVALID_JOIN, 'malformed id token');
    }
    if (!alg || !ALGORITHMS.includes(alg)) throw refused(INVALID_JOIN, 'algorithm not allowed', { details: { alg: String(alg).slice(0, 20) } });
    const getKey = await this.keysOf(keys);
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer: keys.issuer,
        audience: check.audience,
        algorithms: ALGORITHMS,
        clockTolerance: ID_TOKEN_SKEW_S,
        currentDate: check.now,
        maxTokenAge: check.maxTokenAgeS,
        requiredClaims: ['exp', 'iat', 'jti'],
      });
      if ((payload.iat ?? 0) > check.now.getTime() / 1000 + ID_TOKEN_SKEW_S) throw refused(INVALID_JOIN, 'id token issued in the future');
      if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) throw refused(INVALID_JOIN, 'malformed id token', { details: { claim: 'jti' } });
      return payload;
    } catch (err) {
      throw this.translated(err, keys);
    }
  }

  private translated(err: unknown, keys: IssuerKeys): Error {
    if (err instanceof KeySourceDown) return unavailable(`the ID token issuer's keys cannot be fetched; try again later`, { cause: err.cause });
    if (err instanceof errors.JWTExpired) return refused(INVALID_JOIN, 'id token expired');
    if (err instanceof errors.JWTClaimValidationFailed) {
      const reason = err.claim === 'nbf' ? 'id token not yet valid' : err.claim === 'aud' ? 'audience mismatch' : err.claim === 'iss' ? 'issuer mismatch' : err.claim === 'iat' ? 'id token too old' : 'id token claim invalid';
      return refused(INVALID_JOIN, reason, { details: { claim: err.claim, expected_issuer: keys.issuer } });
    }
    if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return refused(INVALID_JOIN, 'unknown signing key');
    if (err instanceof errors.JOSEAlgNotAllowed) return refused(INVALID_JOIN, 'algorithm not allowed');
    if (err instanceof errors.JWSSignatureVerificationFailed) return refused(INVALID_JOIN, 'bad signature');
    if (err instanceof errors.JOSEError) return refused(INVALID_JOIN, 'malformed id token', { details: { code: err.code } });
    if (isMeziteError(err)) return err;
    return unavailable('the ID token could not be verified; try again later', { cause: err });
  }

  private keysOf(keys: IssuerKeys): Promise<JWTVerifyGetKey> {
    if (keys.staticJwks) {
      try {
        return Promise.resolve(createLocalJWKSet(JSON.parse(keys.staticJwks) as JSONWebKeySet));
      } catch {
        // Checked when the resource was stored; a document jose still refuses admits nobody.
        return Promise.reject(refused(INVALID_JOIN, 'invalid static jwks'));
      }
    }
    let p = this.remote.get(keys.issuer);
    if (!p) {
      p = this.discover(keys.issuer);
      this.remote.set(keys.issuer, p);
      // A failed discovery is not remembered: the next join tries again.
      p.catch(() => this.remote.delete(keys.issuer));
    }
    return p;
  }

  private async discover(issuer: string): Promise<JWTVerifyGetKey> {
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let jwksUri: URL;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`discovery answered HTTP ${res.status}`);
      const text = await res.text();
      if (text.length > 64 * 1024) throw new Error('discovery document too large');
      const doc = JSON.parse(text) as { issuer?: unknown; jwks_uri?: unknown };
      if (doc.issuer !== issuer) throw new Error(`discovery names issuer ${JSON.stringify(doc.issuer)}, not ${issuer}`);
      if (typeof doc.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri');
      jwksUri = checkIssuerUrl(doc.jwks_uri, 'jwks_uri');
    } catch (err) {
      throw unavailable(`the ID token issuer ${issuer} cannot be reached; try again later`, { cause: err });
    }
    const set = createRemoteJWKSet(jwksUri, { timeoutDuration: this.timeoutMs, cooldownDuration: this.o.cooldownMs ?? 30_000, cacheMaxAge: this.o.cacheMaxAgeMs ?? 600_000 });
    return async (header, input) => {
      try {
        return await set(header, input);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
        throw new KeySourceDown('jwks fetch failed', { cause: err });
      }
    };
  }
}
