import { timingSafeEqual } from 'node:crypto';
import { invalidArgument, OIDC_NONCE_SECRET_LENGTH, oidcNonceFor, unauthenticated, unavailable, type Clock } from '@mezite/identity';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/** What a verified ID token says about the person. */
export interface VerifiedIdToken {
  issuer: string;
  /** The provider's stable id of the person (unique per issuer). */
  subject: string;
  email?: string;
  /** True only when the provider says so (`email_verified: true`). */
  emailVerified: boolean;
  preferredUsername?: string;
  name?: string;
  acr?: string;
  /** Authentication methods (RFC 8176); empty when the token has none. */
  amr: string[];
}

/** Checks an ID token from the tenant's human identity provider. */
export interface IdTokenVerifier {
  /**
   * Resolves to the token's claims, or rejects with Unauthenticated('invalid ID token')
   * for every kind of bad token (the reason only in the error's cause), or Unavailable
   * when the provider's discovery document or keys cannot be fetched. `nonceSecret`:
   * the secret whose {@link oidcNonceFor} the client sent as the login's nonce.
   */
  verify(idToken: string, nonceSecret: string): Promise<VerifiedIdToken>;
}

/** Options of OidcIdTokenVerifier. */
export interface OidcIdTokenVerifierOptions {
  /** The provider's issuer URL, exactly as it appears in `iss`. */
  issuer: string;
  /** Our client id: the only accepted `aud`. */
  clientId: string;
  clock: Clock;
  /** Clock skew allowed on `exp`, `iat` and `nbf`; default 60 s. */
  skewSeconds?: number;
  /** Oldest `iat` accepted: ID tokens are exchanged right after sign-in; default 15 min. */
  maxAgeSeconds?: number;
  /** Time limit of each discovery or JWKS fetch; default 5 s. */
  fetchTimeoutMs?: number;
  /** Least time between two JWKS fetches for an unknown key id (jose's cooldown); default 30 s. */
  jwksCooldownMs?: number;
}

/** Asymmetric algorithms only: never `none`, never HMAC (keyed with a secret we do not have). */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/**
 * Verifies ID tokens with `jose` against the provider's published keys: the JWKS named
 * by `<issuer>/.well-known/openid-configuration`, fetched on first use and refetched by
 * jose when a token names an unknown key (rotation). Checks signature, `iss`, `aud`
 * (and `azp` when there are several audiences), `exp`, `iat`, `nbf`, `sub` and `nonce`
 * (bound to a secret only the signing-in client holds).
 */
export class OidcIdTokenVerifier implements IdTokenVerifier {
  private keys: Promise<JWTVerifyGetKey> | undefined;

  constructor(private readonly o: OidcIdTokenVerifierOptions) {
    if (!o.issuer || !o.clientId || !o.clock) throw new Error('OidcIdTokenVerifier: issuer, clientId and clock are required');
  }

  /**
   * `nonceSecret` is the login's secret, not the nonce: the token's `nonce` must be
   * {@link oidcNonceFor}(nonceSecret), so only the client that started the login can
   * turn its ID token into a session.
   */
  async verify(idToken: string, nonceSecret: string): Promise<VerifiedIdToken> {
    if (!nonceSecret) throw invalidArgument('nonce is required');
    if (nonceSecret.length < OIDC_NONCE_SECRET_LENGTH.min || nonceSecret.length > OIDC_NONCE_SECRET_LENGTH.max) {
      throw invalidArgument(`nonce must be the ${OIDC_NONCE_SECRET_LENGTH.min}- to ${OIDC_NONCE_SECRET_LENGTH.max}-character secret whose SHA-256 the login sent as its nonce; upgrade mezctl`);
    }
    if (!idToken || idToken.length > 16_384) throw invalid('missing or oversized token');
    const keys = await this.jwks();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, keys, {
        issuer: this.o.issuer,
        audience: this.o.clientId,
        algorithms: ALGORITHMS,
        clockTolerance: this.o.skewSeconds ?? 60,
        maxTokenAge: this.o.maxAgeSeconds ?? 900,
        currentDate: this.o.clock.now(),
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (err) {
      // A JWKS fetch that failed (network, timeout, not 200 or not JSON: jose's generic code) is an outage, not a bad token.
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError) || err.code === 'ERR_JOSE_GENERIC') throw unavailable('the identity provider did not answer', { cause: err });
      throw invalid(`${err.code}: ${err.message}`, err);
    }
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if ((aud.length > 1 || payload.azp !== undefined) && payload.azp !== this.o.clientId) throw invalid('azp is not our client id');
    if (typeof payload.nonce !== 'string' || !sameText(payload.nonce, oidcNonceFor(nonceSecret))) throw invalid('nonce mismatch');
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub.length < 1 || sub.length > 255) throw invalid('sub missing or longer than 255');
    const amr = payload.amr ?? [];
    if (!Array.isArray(amr) || !amr.every((m) => typeof m === 'string')) throw invalid('amr is not a list of strings');
    if (payload.acr !== undefined && typeof payload.acr !== 'string') throw invalid('acr is not a string');
    const out: VerifiedIdToken = { issuer: this.o.issuer, subject: sub, emailVerified: payload.email_verified === true, amr: amr as string[] };
    for (const [claim, key] of [
      ['email', 'email'],
      ['preferred_username', 'preferredUsername'],
      ['name', 'name'],
      ['acr', 'acr'],
    ] as const) {
      const v = payload[claim];
      if (typeof v === 'string' && v) out[key] = v.slice(0, 255);
    }
    return out;
  }

  /** The provider's key set, from discovery; a failed discovery is retried on the next call. */
  private jwks(): Promise<JWTVerifyGetKey> {
    this.keys ??= this.discover().catch((err: unknown) => {
      this.keys = undefined;
      throw err;
    });
    return this.keys;
  }

  private async discover(): Promise<JWTVerifyGetKey> {
    const url = `${this.o.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const timeout = this.o.fetchTimeoutMs ?? 5000;
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeout), redirect: 'error' });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (err) {
      throw unavailable('the identity provider did not answer', { cause: new Error(`discovery ${url}: ${(err as Error).message}`, { cause: err }) });
    }
    // OpenID Connect Discovery §4.3: the document must name the issuer we asked.
    if (doc.issuer !== this.o.issuer || typeof doc.jwks_uri !== 'string') {
      throw unavailable('the identity provider did not answer', { cause: new Error(`discovery ${url}: issuer ${String(doc.issuer)} or jwks_uri is wrong`) });
    }
    return createRemoteJWKSet(new URL(doc.jwks_uri), { timeoutDuration: timeout, cooldownDuration: this.o.jwksCooldownMs ?? 30_000 });
  }
}

/** The one answer to every bad token; the reason goes in the cause, for the audit log. */
function invalid(reason: string, cause?: unknown) {
  return unauthenticated('invalid ID token', { cause: new Error(reason, cause === undefined ? undefined : { cause }) });
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
