import { createHmac, randomUUID } from 'node:crypto';
import { allKeys, isMeziteError, keyedHash, randomHex, ringOf, unauthenticated, type AuthMethod, type Clock, type KeyRing, type KeyUsage, type Principal, type PrincipalKind } from '@mezite/identity';
import { nullLogger, type Logger } from '@mezite/platform';
import type { Session, SessionStore } from './session';

/** Session bearer secrets: `mzs_` and 32 hex digits (128 bits). */
const SESSION_PATTERN = /^mzs_[0-9a-f]{32}$/;

/** Options of SessionManager. */
export interface SessionManagerOptions {
  store: SessionStore;
  clock: Clock;
  /** Keys the stored hashes of session secrets (shorthand for `peppers` without previous keys). */
  pepper?: Buffer;
  /** The current session pepper, which hashes new sessions, and the previous ones, which still verify. */
  peppers?: KeyRing;
  /** Where a failed re-hash is reported; default silent. */
  logger?: Logger;
}

/**
 * Creates sessions and resolves their bearer secrets to principals. A secret is looked
 * up under every configured pepper in one read; a live session found under a previous
 * one is re-hashed to the current one, so the previous pepper can be dropped once
 * `keyUsage` shows no session needs it (or the longest session lifetime has passed).
 */
export class SessionManager {
  private readonly peppers: KeyRing;
  private readonly log: Logger;

  constructor(private readonly opts: SessionManagerOptions) {
    if (!opts.store || !opts.clock) throw new Error('SessionManager: store and clock are required');
    this.peppers = ringOf(opts, 'SessionManager');
    this.log = opts.logger ?? nullLogger;
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
      tokenHash: keyedHash(this.peppers.current.key, secret),
      pepperId: this.peppers.current.id,
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
    const hashes = allKeys(this.peppers).map((k) => keyedHash(k.key, secret));
    const current = hashes[0] as Buffer;
    const s = hashes.length === 1 ? await this.opts.store.findByHash(current) : await this.opts.store.findByHashes(hashes);
    if (!s || s.revokedAt || s.expiresAt <= this.opts.clock.now()) throw refused;
    if (!s.tokenHash.equals(current) || s.pepperId !== this.peppers.current.id) {
      // A failure refuses nothing: the old hash keeps verifying until its pepper is dropped.
      await this.opts.store.rehash({ id: s.id, from: s.tokenHash, to: current, pepperId: this.peppers.current.id }).catch((err: unknown) => {
        this.log.warn('could not re-hash a session under the current pepper', { session_id: s.id, err });
      });
    }
    return toPrincipal(s);
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
      const secret = this.bootstrapSecret(id, this.peppers.current.key);
      const session: Session = { id, tenantId: input.tenantId, principalKind: 'user', principalId: input.principalId, name: input.name, authMethod: 'bootstrap-admin', roles: input.roles, acr: null, amr: [], tokenHash: keyedHash(this.peppers.current.key, secret), pepperId: this.peppers.current.id, createdAt: now, expiresAt: new Date(now.getTime() + input.ttlMs), revokedAt: null };
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
    // Derived and hashed under the current pepper only: a pepper rotation replaces the
    // bootstrap session at the next start (every replica then derives the new one), so
    // dropping the previous pepper later leaves a session every replica can derive.
    const pepper = this.peppers.current.key;
    for (const s of await this.opts.store.listBootstrap(tenantId)) {
      const secret = this.bootstrapSecret(s.id, pepper);
      if (!s.revokedAt && s.expiresAt > now && keyedHash(pepper, secret).equals(s.tokenHash)) return { secret, session: s };
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

  /** A bootstrap session's secret, derived from its id under a pepper (see ensureBootstrap). */
  private bootstrapSecret(id: string, pepper: Buffer): string {
    return `mzs_${createHmac('sha256', pepper).update(`mezite.bootstrap-session.v1\0${id}`).digest('hex').slice(0, 32)}`;
  }

  /** Live sessions counted by the pepper their hash is under (for `keys status`). */
  keyUsage(): Promise<KeyUsage[]> {
    return this.opts.store.countLiveByPepper(this.opts.clock.now());
  }

  /** Ends a session: its secret is refused from the next call on. Idempotent. */
  async revoke(id: string): Promise<void> {
    await this.opts.store.revoke(id, this.opts.clock.now());
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
