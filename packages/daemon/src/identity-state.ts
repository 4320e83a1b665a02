import { createHash, type KeyObject } from 'node:crypto';
import type { BotIdentity } from './bot-identity';

/** What a pending key is for: the join with one token, or the renewal presenting one certificate. */
export type PendingStep =
  | { kind: 'join'; /** SHA-256 hex of the join token. */ joinTokenHash: string }
  | { kind: 'renew'; /** Serial (decimal) of the certificate the renewal presents. */ serial: string };

/**
 * The key generated for the next join or renewal, saved before it is sent. The server
 * answers a repeat of the same step with the same key by giving the same certificate
 * again, and treats the same step with another key as a copied credential; so a
 * retry, also after a restart, must send this key.
 */
export type PendingKey = PendingStep & { privateKey: KeyObject };

/**
 * What the daemon keeps between runs in its data dir: the current identity (key,
 * certificate, generation) with the auth server's CA it pinned, and the key of a step
 * under way. Saved as one unit, so key, certificate and generation never disagree.
 * Before the first join succeeds there is no identity (and no CA: it is pinned only
 * with a successful join), at most a pending join key.
 */
export interface IdentityState {
  /** The `host:port` the identity was obtained from. */
  authServer: string;
  /** PEM of the auth server's TLS CA, trusted from here on; set with `identity`. */
  caCertPem?: string | undefined;
  identity?: BotIdentity | undefined;
  /**
   * SHA-256 hex of the join token `identity` was obtained with. Absent in a state
   * written by a mezd older than this field: such an identity is renewed whatever
   * token is passed.
   */
  joinTokenHash?: string | undefined;
  pending?: PendingKey | undefined;
}

/** Persistence of the daemon's state (one per data dir). */
export interface IdentityStateStore {
  /** For logs and messages, e.g. the state file's path. */
  readonly description: string;
  /** The saved state, or undefined when there is none yet. A corrupt state is an error. */
  load(): Promise<IdentityState | undefined>;
  /** Replaces the saved state atomically. */
  save(state: IdentityState): Promise<void>;
}

/** How a join token is remembered: SHA-256, lower-case hex (never the token itself). */
export function joinTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether two pending steps are the same request (so the same key must be sent). */
export function sameStep(a: PendingStep, b: PendingStep): boolean {
  if (a.kind === 'join') return b.kind === 'join' && a.joinTokenHash === b.joinTokenHash;
  return b.kind === 'renew' && a.serial === b.serial;
}
