import { type KeyObject, randomUUID } from 'node:crypto';
import { type Clock, failedPrecondition } from '@mezite/identity';
import type { Logger } from '@mezite/platform/client';
import { encodePublicKey, formatPublicKey, signRenewal } from '@mezite/ssh';
import { type BotIdentity, generateBotKey, identityFromIssued, isUsable } from './bot-identity';
import type { Destination } from './destination';
import type { IdentityIssuer } from './identity-issuer';
import type { IdentityStateStore } from './identity-state';

/** Options of {@link IdentityRenewer}; everything it touches is injected (STYLE.md §7). */
export interface IdentityRenewerOptions {
  issuer: IdentityIssuer;
  store: IdentityStateStore;
  destinations: Destination[];
  clock: Clock;
  logger: Logger;
  /** `host:port`, saved with the state. */
  authServer: string;
  /** The CA the channel trusts, saved with the state (pinned for later runs). */
  caCertPem: string;
  certificateTtlMs: number;
  /** Used only when there is no identity that can still be renewed. */
  joinToken?: string | undefined;
  /** The identity loaded from the data dir, if any. */
  initial?: BotIdentity | undefined;
  /** Key generation; injectable for tests. Default ECDSA P-256. */
  generateKey?: () => KeyObject;
}

/**
 * One join or renewal at a time, with a fresh key pair each time: renew while the
 * current certificate is valid, join with the token otherwise. Order of effects: the
 * new identity becomes current in memory, then is saved to the data dir, then written
 * to the destinations. So a failed call changes nothing; a failed save keeps the new
 * identity for the next attempt (presenting an older generation twice would look like a
 * copied credential); and a crash before the save leaves the previous state, one
 * generation behind, which the auth server tolerates once.
 */
export class IdentityRenewer {
  private identity: BotIdentity | undefined;
  private requestId: string | undefined;
  private readonly generateKey: () => KeyObject;

  constructor(private readonly o: IdentityRenewerOptions) {
    for (const k of ['issuer', 'store', 'destinations', 'clock', 'logger', 'authServer', 'caCertPem'] as const) if (!o[k]) throw new Error(`IdentityRenewer: ${k} is required`);
    if (!(o.certificateTtlMs > 0)) throw new Error('IdentityRenewer: certificateTtlMs must be positive');
    this.identity = o.initial;
    this.generateKey = o.generateKey ?? generateBotKey;
  }

  /** The newest identity obtained (or loaded), valid or not. */
  current(): BotIdentity | undefined {
    return this.identity;
  }

  /** The request id of the latest attempt, for its failure log line. */
  get lastRequestId(): string | undefined {
    return this.requestId;
  }

  /** Whether a failed attempt can succeed later without a new identity (a join token or a live certificate). */
  canRecover(now: Date): boolean {
    return isUsable(this.identity, now) || this.o.joinToken !== undefined;
  }

  /**
   * Joins or renews once and delivers the result. FailedPrecondition without calling
   * the server when there is neither a live certificate nor a join token.
   */
  async refresh(): Promise<BotIdentity> {
    const now = this.o.clock.now();
    const cur = this.identity;
    const key = this.generateKey();
    const newPublicKey = formatPublicKey(key);
    const requestId = randomUUID();
    this.requestId = requestId;
    let action: 'joined' | 'renewed';
    let issued;
    if (cur && isUsable(cur, now)) {
      action = 'renewed';
      const newBlob = encodePublicKey(key);
      issued = await this.o.issuer.renew({
        certificate: cur.certificate,
        newPublicKey,
        ttlMs: this.o.certificateTtlMs,
        sign: (challenge) => signRenewal(cur.privateKey, challenge, newBlob),
        requestId,
      });
    } else if (this.o.joinToken !== undefined) {
      action = 'joined';
      issued = await this.o.issuer.join({ joinToken: this.o.joinToken, publicKey: newPublicKey, ttlMs: this.o.certificateTtlMs, requestId });
    } else if (cur) {
      throw failedPrecondition(`the certificate of bot "${cur.botName}" expired at ${cur.validBefore.toISOString()} before it could be renewed; join again with a new --join-token`);
    } else {
      throw failedPrecondition('no identity to renew and no --join-token to join with');
    }
    const identity = identityFromIssued(issued, key, this.o.clock.now());
    this.identity = identity;
    await this.o.store.save({ authServer: this.o.authServer, caCertPem: this.o.caCertPem, identity });
    await this.deliver(identity);
    const ttlMs = identity.validBefore.getTime() - identity.validAfter.getTime();
    this.o.logger.info(action, {
      request_id: requestId,
      bot: identity.botName,
      generation: identity.generation,
      principals: identity.principals,
      valid_before: identity.validBefore.toISOString(),
      ...(ttlMs < this.o.certificateTtlMs ? { requested_ttl_s: Math.round(this.o.certificateTtlMs / 1000), granted_ttl_s: Math.round(ttlMs / 1000) } : {}),
    });
    return identity;
  }

  /**
   * Writes the current identity to every destination again (a daemon does this at
   * start, so a destination on a cleared tmpfs is usable before the first renewal).
   */
  async restore(): Promise<void> {
    const cur = this.identity;
    if (cur && isUsable(cur, this.o.clock.now())) await this.deliver(cur);
  }

  private async deliver(identity: BotIdentity): Promise<void> {
    for (const d of this.o.destinations) {
      await d.write(identity);
      this.o.logger.debug('destination written', { destination: d.description, generation: identity.generation });
    }
  }
}
