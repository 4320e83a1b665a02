import type { BotIdentity } from './bot-identity';

/**
 * What the daemon keeps between runs in its data dir: the current identity (key,
 * certificate, generation) and the auth server's CA it pinned on first contact.
 * Saved as one unit after every successful join or renewal, so key, certificate and
 * generation can never disagree.
 */
export interface IdentityState {
  /** The `host:port` the identity was obtained from. */
  authServer: string;
  /** PEM of the auth server's TLS CA, trusted from here on. */
  caCertPem: string;
  identity: BotIdentity;
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
