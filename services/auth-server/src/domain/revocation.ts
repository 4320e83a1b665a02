import { randomUUID } from 'node:crypto';
import type { Clock } from '@mezite/identity';
import type { CertAuthorityClient } from './cert-authority-client';
import type { ExpiredRows } from './retention';

/** One revocation row: every certificate of a subject, or one certificate by serial. */
export interface Revocation {
  id: string;
  tenantId: string;
  subjectId: string | null;
  serial: string | null;
  reason: string;
  createdAt: Date;
  /** When every certificate it names has expired; afterwards it is left out of the KRL. */
  expiresAt: Date;
}

/** Persistence of revocations. */
/** Retention: a revocation ends when every certificate it names has expired (`expiresAt`). */
export interface RevocationStore extends ExpiredRows {
  add(r: Revocation): Promise<void>;
  /** Revocations whose certificates may still be valid at `now`. */
  listLive(now: Date): Promise<Revocation[]>;
  /** Whether a live revocation names this serial or this subject. */
  isRevoked(q: { serial: string; subjectId: string }, now: Date): Promise<boolean>;
}

/** Where the KRL learns which bots are locked right now (any tenant). */
export interface LockedBots {
  listLockedIds(now: Date): Promise<string[]>;
}

/** A rendered KRL for sshd's RevokedKeys. */
export interface RevocationListSnapshot {
  krl: Buffer;
  generatedAt: Date;
  revokedCertificates: number;
}

/** How long a rendered KRL is served before it is rendered again (per replica). */
export const DEFAULT_KRL_CACHE_MS = 1000;

/**
 * The cluster's OpenSSH KRL: the unexpired certificates of locked bots, removed bots
 * and nodes, and certificates revoked one by one. The state lives in PostgreSQL (bot
 * locks, `auth.revocations`), so every replica serves the same list; each replica
 * renders it at most once per `cacheMs` (ssh-ca finds the serials in its log), and a
 * change made through this replica drops its copy at once. Nodes poll it
 * (`mezd node`), so a revocation reaches sshd within cacheMs + the node's refresh interval.
 */
export class RevocationList {
  private cached: { at: number; snap: RevocationListSnapshot } | undefined;
  private rendering: Promise<RevocationListSnapshot> | undefined;
  private readonly cacheMs: number;

  constructor(private readonly o: { store: RevocationStore; bots: LockedBots; ca: Pick<CertAuthorityClient, 'generateKrl'>; clock: Clock; cacheMs?: number }) {
    this.cacheMs = o.cacheMs ?? DEFAULT_KRL_CACHE_MS;
  }

  /** The current KRL (rendered at most once per cacheMs, one render at a time). */
  async current(): Promise<RevocationListSnapshot> {
    const now = this.o.clock.now().getTime();
    if (this.cached && now - this.cached.at < this.cacheMs && now >= this.cached.at) return this.cached.snap;
    this.rendering ??= this.render(now).finally(() => {
      this.rendering = undefined;
    });
    return this.rendering;
  }

  /** Revokes every certificate of a subject (a removed bot or node) until `expiresAt`. */
  async revokeSubject(tenantId: string, subjectId: string, reason: string, expiresAt: Date): Promise<void> {
    await this.o.store.add({ id: randomUUID(), tenantId, subjectId, serial: null, reason, createdAt: this.o.clock.now(), expiresAt });
    this.invalidate();
  }

  /** Revokes one certificate until it expires. */
  async revokeSerial(tenantId: string, serial: string, reason: string, expiresAt: Date): Promise<void> {
    await this.o.store.add({ id: randomUUID(), tenantId, subjectId: null, serial, reason, createdAt: this.o.clock.now(), expiresAt });
    this.invalidate();
  }

  /**
   * Whether a certificate was revoked (by serial, or with its bot or node): the
   * auth-server refuses it for renewal and as a credential, as sshd does via the KRL.
   * Read from PostgreSQL every time, so it holds on every replica at once.
   */
  isCertificateRevoked(serial: string, subjectId: string): Promise<boolean> {
    return this.o.store.isRevoked({ serial, subjectId }, this.o.clock.now());
  }

  /** Drops this replica's rendered copy (after a lock or unlock made here). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async render(at: number): Promise<RevocationListSnapshot> {
    const now = new Date(at);
    const [rows, locked] = await Promise.all([this.o.store.listLive(now), this.o.bots.listLockedIds(now)]);
    const subjectIds = [...new Set([...locked, ...rows.flatMap((r) => (r.subjectId ? [r.subjectId] : []))])].sort();
    const serials = [...new Set(rows.flatMap((r) => (r.serial ? [r.serial] : [])))].sort();
    const snap = await this.o.ca.generateKrl({ subjectIds, serials });
    this.cached = { at, snap };
    return snap;
  }
}
