import { randomUUID } from 'node:crypto';
import { type Clock, invalidArgument, permissionDenied, unauthenticated, unavailable } from '@mezite/identity';
import { type CaKeyPair, generateCaKey, parseCertificate, parsePublicKey, signCertificate, verifyBotRenewal, botRenewalProof, CLAIMS_EXTENSION } from '@mezite/ssh';
import type { IssuedCertificate } from './bot-identity';
import type { BotHeartbeat } from './heartbeat';
import type { IdentityIssuer, JoinInput, RenewInput } from './identity-issuer';

/** One request as the in-memory server received it. */
export interface MemoryIssuerRequest {
  kind: 'join' | 'renew';
  /** The key to certify (authorized_keys line). */
  publicKey: string;
  heartbeat?: BotHeartbeat | undefined;
  /** The generation of the certificate a renewal presented. */
  presentedGeneration?: number;
}

/** How far the request's time may be from the server's clock. */
const MAX_SKEW_MS = 2 * 60_000;

/**
 * Test support: an in-process {@link IdentityIssuer} that signs real certificates on
 * an injected clock and keeps the server's contract for one bot instance: a one-time
 * token, renewal proofs checked with `verifyBotRenewal`, a repeat of a join or renewal
 * with the same key answered with the same certificate, and a generation presented
 * again with another key treated as a copy (the instance is locked). It fails on
 * demand, also after committing (a lost response). Unlike the gRPC fake it needs no
 * network, so loop tests run on fake timers alone.
 */
export class MemoryIssuer implements IdentityIssuer {
  readonly userCa: CaKeyPair = generateCaKey('ecdsa-p256');
  readonly hostCa: CaKeyPair = generateCaKey('ecdsa-p256');
  readonly instanceId = randomUUID();
  /** The instance's current generation. */
  generation = 0;
  /** Joins and renewals committed (a repeat answered again is a replay, not counted here). */
  joins = 0;
  renewals = 0;
  replays = 0;
  /** Certificate lifetime granted. */
  ttlMs: number | undefined;
  /** Failures to throw on the next calls, first one first. */
  readonly failures: Error[] = [];
  /** Every call fails with this while set. */
  failAlways: Error | undefined;
  /** The next this many calls that succeed commit, then throw Unavailable (the response was lost). */
  loseResponses = 0;
  /** Set when the instance is locked (a copy was detected). */
  lockReason: string | undefined;
  /** Every request that got past the failures, oldest first. */
  readonly requests: MemoryIssuerRequest[] = [];
  private joined: { publicKey: string; issued: IssuedCertificate } | undefined;
  /** The answer to each presented generation, with the key it certified. */
  private readonly answered = new Map<number, { keyBlob: Buffer; issued: IssuedCertificate }>();
  private serial = 0n;

  constructor(
    private readonly clock: Clock,
    readonly joinToken = 'tok-bot-0123456789abcdef0123456789abcdef',
  ) {}

  async join(input: JoinInput): Promise<IssuedCertificate> {
    this.maybeFail();
    this.requests.push({ kind: 'join', publicKey: input.publicKey, heartbeat: input.heartbeat });
    if (input.joinToken !== this.joinToken) throw unauthenticated('invalid join token');
    if (this.joined) {
      if (this.joined.publicKey !== input.publicKey) throw unauthenticated('invalid join token');
      this.replays++;
      return this.respond(this.joined.issued);
    }
    this.joins++;
    this.generation = 1;
    const issued = this.issue(input.publicKey, input.ttlMs);
    this.joined = { publicKey: input.publicKey, issued };
    return this.respond(issued);
  }

  async renew(input: RenewInput): Promise<IssuedCertificate> {
    this.maybeFail();
    const cert = parseCertificate(input.certificate);
    if (cert.validBefore <= this.clock.now()) throw unauthenticated('the certificate has expired');
    if (Math.abs(input.time.getTime() - this.clock.now().getTime()) > MAX_SKEW_MS) throw invalidArgument('the renewal time is more than 2 minutes off the server clock');
    const newKey = parsePublicKey(input.newPublicKey);
    const proof = botRenewalProof(cert, newKey.blob, input.time.getTime());
    this.requests.push({ kind: 'renew', publicKey: input.newPublicKey, heartbeat: input.heartbeat, presentedGeneration: proof.generation });
    if (proof.instanceId !== this.instanceId || !verifyBotRenewal(cert.subjectKey, proof, input.signature)) throw unauthenticated('bad renewal signature');
    if (this.lockReason) throw permissionDenied(`bot instance ${this.instanceId} is locked: ${this.lockReason}`);
    if (proof.generation === this.generation) {
      this.renewals++;
      this.generation++;
      const issued = this.issue(input.newPublicKey, input.ttlMs);
      this.answered.set(proof.generation, { keyBlob: newKey.blob, issued });
      return this.respond(issued);
    }
    const before = this.answered.get(proof.generation);
    if (before?.keyBlob.equals(newKey.blob)) {
      this.replays++;
      return this.respond(before.issued);
    }
    this.lockReason = `generation ${proof.generation} was presented again with another key (current ${this.generation}): a copied credential`;
    throw permissionDenied(`bot instance ${this.instanceId} is locked: ${this.lockReason}`);
  }

  private issue(publicKey: string, requestedTtlMs: number): IssuedCertificate {
    const now = this.clock.now();
    const ttl = this.ttlMs ?? requestedTtlMs;
    const signed = signCertificate({
      ca: { key: this.userCa.privateKey },
      subjectKey: parsePublicKey(publicKey),
      type: 'user',
      serial: ++this.serial,
      keyId: 'bot:test',
      principals: ['deploy'],
      validAfter: new Date(now.getTime() - 60_000), // backdated for clock skew, as ssh-ca does
      validBefore: new Date(now.getTime() + ttl),
      extensions: { [CLAIMS_EXTENSION]: JSON.stringify({ v: 1, bot: 'test', bot_id: 'bot-test', inst: this.instanceId, gen: this.generation }) },
    });
    return { certificate: signed.line, hostCertAuthorities: [this.hostCa.publicKeyLine], userCertAuthorities: [this.userCa.publicKeyLine], generation: this.generation, botName: 'test', principals: ['deploy'], instanceId: this.instanceId };
  }

  private respond(issued: IssuedCertificate): IssuedCertificate {
    if (this.loseResponses > 0) {
      this.loseResponses--;
      throw unavailable('auth server 127.0.0.1:3025 is unavailable: the connection was reset before the response arrived');
    }
    return issued;
  }

  private maybeFail(): void {
    if (this.failAlways) throw this.failAlways;
    const next = this.failures.shift();
    if (next) throw next;
  }
}
