import { type KeyObject, randomUUID } from 'node:crypto';
import { type Clock, failedPrecondition } from '@mezite/identity';
import type { Logger } from '@mezite/platform/client';
import { encodePublicKey, formatPublicKey, parseCertificate, signBotRenewal, botRenewalProof } from '@mezite/ssh';
import { type BotIdentity, generateBotKey, identityFromIssued, type IssuedCertificate, isUsable } from './bot-identity';
import type { Destination } from './destination';
import { type BotHeartbeat, DestinationHealthLog, machineHeartbeat } from './heartbeat';
import type { IdentityIssuer } from './identity-issuer';
import { type IdentityState, type IdentityStateStore, joinTokenHash, type PendingKey, type PendingStep, sameStep } from './identity-state';

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
  /**
   * The join token: joined with when there is no identity that can still be renewed,
   * or when it is not the token the identity was obtained with (`joinTokenHash`).
   */
  joinToken?: string | undefined;
  /** The identity loaded from the data dir, if any. */
  initial?: BotIdentity | undefined;
  /**
   * SHA-256 hex of the token `initial` was obtained with; undefined for a state written
   * by an older mezd, whose identity is renewed whatever `joinToken` is (and which then
   * adopts the token's hash).
   */
  joinTokenHash?: string | undefined;
  /** The pending key loaded from the data dir, if any: reused when the next step is the one it is for. */
  pending?: PendingKey | undefined;
  /** What the heartbeat says of the daemon's schedule; without it no heartbeat is sent. */
  heartbeat?: { renewalIntervalMs: number; oneShot: boolean } | undefined;
  /** Key generation; injectable for tests. Default ECDSA P-256. */
  generateKey?: () => KeyObject;
}

/**
 * One join or renewal at a time: renew while the current certificate is valid, join
 * with the token otherwise (or when the token is not the one the identity came from).
 * Each step gets a new key pair, saved in the data dir *before* it is sent and reused
 * by every retry of that step, also after a restart: the server answers a repeat with
 * the same key by giving the same certificate again (a lost response costs nothing)
 * and treats another key for the same step as a copied credential.
 *
 * After a success the new identity becomes current in memory, then is saved (pending
 * key cleared), then written to the destinations. A failed save keeps the new identity
 * in memory; the data dir then still holds the previous identity with the pending key,
 * which a restart presents again and is answered the same certificate.
 */
export class IdentityRenewer {
  private identity: BotIdentity | undefined;
  private tokenHashOfIdentity: string | undefined;
  private pending: PendingKey | undefined;
  /** Whether `pending` is in the data dir (only then may it be sent). */
  private pendingSaved: boolean;
  private requestId: string | undefined;
  private action: 'join' | 'renew' | undefined;
  private readonly tokenHash: string | undefined;
  private readonly health = new DestinationHealthLog();
  private readonly generateKey: () => KeyObject;

  constructor(private readonly o: IdentityRenewerOptions) {
    for (const k of ['issuer', 'store', 'destinations', 'clock', 'logger', 'authServer', 'caCertPem'] as const) if (!o[k]) throw new Error(`IdentityRenewer: ${k} is required`);
    if (!(o.certificateTtlMs > 0)) throw new Error('IdentityRenewer: certificateTtlMs must be positive');
    this.identity = o.initial;
    this.tokenHashOfIdentity = o.joinTokenHash;
    this.pending = o.pending;
    this.pendingSaved = o.pending !== undefined;
    this.tokenHash = o.joinToken === undefined ? undefined : joinTokenHash(o.joinToken);
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

  /** What the latest attempt did or tried: a refused join token ends the run, a refused renewal is retried. */
  get lastAction(): 'join' | 'renew' | undefined {
    return this.action;
  }

  /** Whether a failed attempt can succeed later without a new identity (a join token or a live certificate). */
  canRecover(now: Date): boolean {
    return isUsable(this.identity, now) || this.o.joinToken !== undefined;
  }

  /**
   * Whether the next attempt joins: with no renewable identity, or with a token that
   * is not the one the identity came from (an operator re-enrolling the machine).
   */
  willJoin(now: Date): boolean {
    if (this.tokenHash === undefined) return false;
    if (!isUsable(this.identity, now)) return true;
    return this.tokenHashOfIdentity !== undefined && this.tokenHashOfIdentity !== this.tokenHash;
  }

  /**
   * Joins or renews once and delivers the result. FailedPrecondition without calling
   * the server when there is neither a live certificate nor a join token.
   */
  async refresh(): Promise<BotIdentity> {
    const now = this.o.clock.now();
    const cur = this.identity;
    const requestId = randomUUID();
    this.requestId = requestId;
    this.action = undefined;
    const joining = this.willJoin(now);
    if (!joining && !(cur && isUsable(cur, now))) {
      if (cur) throw failedPrecondition(`the certificate of bot "${cur.botName}" expired at ${cur.validBefore.toISOString()} before it could be renewed; join again with a new --join-token`);
      throw failedPrecondition('no identity to renew and no --join-token to join with');
    }
    this.action = joining ? 'join' : 'renew';
    const step: PendingStep = joining ? { kind: 'join', joinTokenHash: this.tokenHash as string } : { kind: 'renew', serial: parseCertificate((cur as BotIdentity).certificate).serial.toString() };
    const key = await this.keyFor(step);
    const newPublicKey = formatPublicKey(key);
    const heartbeat = this.heartbeat();
    let issued: IssuedCertificate;
    if (joining) {
      issued = await this.o.issuer.join({ joinToken: this.o.joinToken as string, publicKey: newPublicKey, ttlMs: this.o.certificateTtlMs, heartbeat, requestId });
    } else {
      const presented = cur as BotIdentity;
      const time = this.o.clock.now();
      const proof = botRenewalProof(parseCertificate(presented.certificate), encodePublicKey(key), time.getTime(), presented);
      issued = await this.o.issuer.renew({
        certificate: presented.certificate,
        newPublicKey,
        ttlMs: this.o.certificateTtlMs,
        time,
        signature: signBotRenewal(presented.privateKey, proof),
        heartbeat,
        requestId,
      });
    }
    const identity = identityFromIssued(issued, key, this.o.clock.now());
    this.identity = identity;
    this.pending = undefined;
    this.pendingSaved = false;
    // After a join the identity came from this token. A renewal keeps the identity's
    // token, or adopts the given one for an identity saved before tokens were tracked,
    // so a token changed later is recognised as new.
    if (joining || this.tokenHashOfIdentity === undefined) this.tokenHashOfIdentity = this.tokenHash;
    await this.o.store.save(this.state());
    await this.deliver(identity);
    const ttlMs = identity.validBefore.getTime() - identity.validAfter.getTime();
    this.o.logger.info(joining ? 'joined' : 'renewed', {
      request_id: requestId,
      bot: identity.botName,
      instance: identity.instanceId,
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

  /**
   * The key for `step`: the pending one if it is for this very step, else a new one,
   * saved before anything is sent. A save that fails fails the attempt (the key is
   * kept in memory and its save tried again next time): a key the data dir does not
   * hold is never sent.
   */
  private async keyFor(step: PendingStep): Promise<KeyObject> {
    if (!this.pending || !sameStep(this.pending, step)) {
      this.pending = { ...step, privateKey: this.generateKey() };
      this.pendingSaved = false;
    }
    if (!this.pendingSaved) {
      await this.o.store.save(this.state());
      this.pendingSaved = true;
    } else {
      this.o.logger.debug('retrying with the saved key', { step: step.kind });
    }
    return this.pending.privateKey;
  }

  /** The state as it is to be saved now. The CA is pinned only together with an identity. */
  private state(): IdentityState {
    const id = this.identity;
    return {
      authServer: this.o.authServer,
      ...(id ? { caCertPem: this.o.caCertPem, identity: id } : {}),
      ...(id && this.tokenHashOfIdentity ? { joinTokenHash: this.tokenHashOfIdentity } : {}),
      ...(this.pending ? { pending: this.pending } : {}),
    };
  }

  private heartbeat(): BotHeartbeat | undefined {
    const h = this.o.heartbeat;
    return h ? { ...machineHeartbeat(h), destinations: this.health.list() } : undefined;
  }

  private async deliver(identity: BotIdentity): Promise<void> {
    for (const d of this.o.destinations) {
      try {
        await d.write(identity);
      } catch (err) {
        this.health.failed(d.description, err);
        throw err;
      }
      this.health.written(d.description, this.o.clock.now());
      this.o.logger.debug('destination written', { destination: d.description, generation: identity.generation });
    }
  }
}
