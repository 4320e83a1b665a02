import { randomUUID } from 'node:crypto';
import { createHmac } from 'node:crypto';
import { isMeziteError, keyedHash, randomHex, unauthenticated, type AuthMethod, type Clock, type Principal, type PrincipalKind } from '@mezite/identity';
import type { Session, SessionStore } from './session';

/** Session bearer secrets: `mzs_` and 32 hex digits (128 bits). */
const SESSION_PATTERN = /^mzs_[0-9a-f]{32}$/;

/** Options of SessionManager. */
export interface SessionManagerOptions {
  store: SessionStore;
  clock: Clock;
  /** Keys the stored hashes of session secrets. */
  pepper: Buffer;
}

/** Creates sessions and resolves their bearer secrets to principals. */
export class SessionManager {
  constructor(private readonly opts: SessionManagerOptions) {
    if (!opts.store || !opts.clock) throw new Error('SessionManager: store and clock are required');
    if (!opts.pepper || opts.pepper.length < 32) throw new Error('SessionManager: a pepper of at least 32 bytes is required');
  }

  /** Starts a session; the returned secret is shown once and only its hash kept. */
  async create(input: {
    tenantId: string;
    principalKind: PrincipalKind;
    principalId: string;
    name: string;
    authMethod: AuthMethod;
    roles: string[];
    acr?: string;
    amr?: string[];
    ttlMs: number;
  }): Promise<{ secret: string; session: Session }> {
    const secret = `mzs_${randomHex(16)}`;
    const now = this.opts.clock.now();
    const session: Session = {
      id: randomUUID(),
      tenantId: input.tenantId,
      principalKind: input.principalKind,
      principalId: input.principalId,
      name: input.name,
      authMethod: input.authMethod,
      roles: input.roles,
      acr: input.acr ?? null,
      amr: input.amr ?? [],
      tokenHash: keyedHash(this.opts.pepper, secret),
      createdAt: now,
      expiresAt: new Date(now.getTime() + input.ttlMs),
      revokedAt: null,
    };
    await this.opts.store.create(session);
    return { secret, session };
  }

  /**
   * Resolves a session secret to its principal. Unknown, malformed, expired and
   * revoked secrets all get the same error, so the answer is no oracle.
   */
  async authenticate(secret: string): Promise<Principal> {
    const refused = unauthenticated('invalid or expired credential');
    if (!SESSION_PATTERN.test(secret)) throw refused;
    const s = await this.opts.store.findByHash(keyedHash(this.opts.pepper, secret));
    if (!s || s.revokedAt || s.expiresAt <= this.opts.clock.now()) throw refused;
    return toPrincipal(s);
  }

  /** Ends a session: its secret is refused from the next call on. Idempotent. */
  async revoke(id: string): Promise<void> {
    await this.opts.store.revoke(id, this.opts.clock.now());
  }

  /**
   * The tenant's one bootstrap admin session: the live one when there is one (every
   * replica derives the same secret from its id, so each can write the identity file),
   * else a new one that replaces (revokes) all others. A session of an older version
   * (a random secret, not derivable) or an expired one is replaced.
   */
  async ensureBootstrap(input: { tenantId: string; principalId: string; name: string; roles: string[]; ttlMs: number }): Promise<{ secret: string; session: Session; created: boolean; revoked: number }> {
    for (let attempt = 0; ; attempt++) {
      const live = await this.liveBootstrap(input.tenantId);
      if (live) return { ...live, created: false, revoked: 0 };
      const now = this.opts.clock.now();
      const id = randomUUID();
      const secret = this.bootstrapSecret(id);
      const session: Session = { id, tenantId: input.tenantId, principalKind: 'user', principalId: input.principalId, name: input.name, authMethod: 'bootstrap-admin', roles: input.roles, acr: null, amr: [], tokenHash: keyedHash(this.opts.pepper, secret), createdAt: now, expiresAt: new Date(now.getTime() + input.ttlMs), revokedAt: null };
      try {
        const { revoked } = await this.opts.store.replaceBootstrap(session);
        return { secret, session, created: true, revoked };
      } catch (err) {
        // Another replica stored one at the same moment: use it (three tries).
        if (!isMeziteError(err, 'AlreadyExists') || attempt >= 2) throw err;
      }
    }
  }

  /** The tenant's live bootstrap session of this version (its secret derivable), if any. */
  async liveBootstrap(tenantId: string): Promise<{ secret: string; session: Session } | null> {
    const now = this.opts.clock.now();
    for (const s of await this.opts.store.listBootstrap(tenantId)) {
      const secret = this.bootstrapSecret(s.id);
      if (!s.revokedAt && s.expiresAt > now && keyedHash(this.opts.pepper, secret).equals(s.tokenHash)) return { secret, session: s };
    }
    return null;
  }

  /** The tenant's bootstrap sessions, newest first (listing for admins). */
  listBootstrap(tenantId: string): Promise<Session[]> {
    return this.opts.store.listBootstrap(tenantId);
  }

  /** Revokes the tenant's bootstrap sessions (Vault's "revoke the root token after setup"). */
  revokeBootstrap(tenantId: string): Promise<number> {
    return this.opts.store.revokeBootstrap(tenantId, this.opts.clock.now());
  }

  /** A bootstrap session's secret, derived from its id under the pepper (see ensureBootstrap). */
  private bootstrapSecret(id: string): string {
    return `mzs_${createHmac('sha256', this.opts.pepper).update(`mezite.bootstrap-session.v1\0${id}`).digest('hex').slice(0, 32)}`;
  }

  /** True when `secret` names a live session (used to keep an identity file valid). */
  async isLive(secret: string): Promise<boolean> {
    return this.authenticate(secret).then(
      () => true,
      () => false,
    );
  }
}

function toPrincipal(s: Session): Principal {
  const p: Principal = { kind: s.principalKind, id: s.principalId, tenantId: s.tenantId, name: s.name, authMethod: s.authMethod, roles: s.roles, sessionId: s.id };
  if (s.acr) p.acr = s.acr;
  if (s.amr.length) p.amr = s.amr;
  return p;
}
