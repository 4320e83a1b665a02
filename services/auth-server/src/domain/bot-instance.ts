import type { BotLock } from './bot';
import type { ExpiredRows } from './retention';

/** What mezd says of itself with each join and renewal (shown by `mezctl bots instances`). */
export interface BotHeartbeat {
  version: string;
  hostname: string;
  os: string;
  renewalIntervalMs: number;
  oneShot: boolean;
  destinations: Array<{ destination: string; healthy: boolean; error: string; updatedAt: Date | null }>;
}

/**
 * One machine's lineage of a bot (Teleport's bot_instance): a successful join creates
 * it at generation 1, each renewal moves it one on. A bot may have many, one per
 * machine; a copied credential locks only the instance it was copied from.
 */
export interface BotInstance {
  id: string;
  tenantId: string;
  botId: string;
  generation: number;
  /** How it joined: `token` (a one-time join token). */
  joinMethod: string;
  joinTokenId: string | null;
  createdAt: Date;
  lastRenewalAt: Date | null;
  lastAddress: string;
  heartbeat: BotHeartbeat | null;
  certExpiresAt: Date | null;
  /** Set when a copy of its credentials was used (or an admin locked it). */
  lock: BotLock | null;
  /**
   * For a lineage carried over from before instances existed: the generation it had
   * then. Its generations up to there have no recorded keys.
   */
  legacyGeneration: number | null;
}

/** One step of a lineage: the key certified at a generation, and the certificate. */
export interface LineageStep {
  instanceId: string;
  generation: number;
  /** `<type> <base64>` of the certified key. */
  publicKey: string;
  keyFingerprint: string;
  serial: string;
  /** The certificate as issued: a retry of the same step gets it again. */
  certificate: string;
  issuedAt: Date;
  expiresAt: Date;
  /** Source address of the join or renewal that got it. */
  address: string;
  requestId: string;
}

/** What a renewal writes besides the new step. */
export interface InstanceActivity {
  at: Date;
  address: string;
  heartbeat: BotHeartbeat | null;
}

/** Persistence of bot instances and their lineages (one aggregate), scoped by tenant. */
/**
 * Retention (`deleteExpired`) prunes lineage steps, never instances: step N goes once
 * its certificate and its predecessor's both expired before the cutoff, and never the
 * instance's last step (docs/DECISIONS.md, "Lineage retention").
 */
export interface BotInstanceStore extends ExpiredRows {
  get(tenantId: string, id: string): Promise<BotInstance | null>;
  /** Instances of the tenant (of one bot when `botId`), newest first, after the cursor `after`. */
  list(tenantId: string, opts: { botId?: string; limit: number; after?: { createdAt: Date; id: string } }): Promise<BotInstance[]>;
  /** The lineage, oldest first. */
  lineage(tenantId: string, id: string): Promise<LineageStep[]>;
  /** One step, or null. */
  step(tenantId: string, id: string, generation: number): Promise<LineageStep | null>;
  /**
   * Records `step` and moves the unlocked instance from `step.generation - 1` to it, with
   * the bot's last-seen columns, in one statement; false when the instance is not at that
   * generation, is locked, or the step exists already (another renewal got there first).
   */
  advance(tenantId: string, step: LineageStep, activity: InstanceActivity): Promise<boolean>;
  /**
   * Locks the instance and revokes every certificate of its lineage that is unexpired at
   * `at`, plus `extra` (certificates issued but never delivered), in one transaction.
   * Returns the serials revoked.
   */
  lockAndRevoke(tenantId: string, id: string, lock: BotLock, extra: Array<{ serial: string; expiresAt: Date }>, at: Date): Promise<string[]>;
}

/** Limits on what a daemon may store about itself: a heartbeat is bounded, whoever sends it. */
const MAX_DESTINATIONS = 16;

/** Cuts a heartbeat to its bounds (fields are informational; nothing decides on them). */
export function boundedHeartbeat(h: BotHeartbeat | null | undefined): BotHeartbeat | null {
  if (!h) return null;
  const cut = (s: unknown, n: number) => (typeof s === 'string' ? s.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, n) : '');
  const ms = Number.isSafeInteger(h.renewalIntervalMs) && h.renewalIntervalMs > 0 ? Math.min(h.renewalIntervalMs, 366 * 24 * 3600_000) : 0;
  return {
    version: cut(h.version, 64),
    hostname: cut(h.hostname, 253),
    os: cut(h.os, 128),
    renewalIntervalMs: ms,
    oneShot: h.oneShot === true,
    destinations: (h.destinations ?? []).slice(0, MAX_DESTINATIONS).map((d) => ({
      destination: cut(d.destination, 256),
      healthy: d.healthy === true,
      error: cut(d.error, 200),
      updatedAt: d.updatedAt instanceof Date && !Number.isNaN(d.updatedAt.getTime()) ? d.updatedAt : null,
    })),
  };
}
