import { type Clock, invalidArgument, unauthenticated } from '@mezite/identity';
import { type CaKeyPair, generateCaKey, parseCertificate, parsePublicKey, signCertificate, verifyRenewal } from '@mezite/ssh';
import { randomBytes } from 'node:crypto';
import type { IssuedCertificate } from './bot-identity';
import type { IdentityIssuer } from './identity-issuer';

/**
 * Test support: an in-process {@link IdentityIssuer} that signs real certificates on
 * an injected clock, checks renewal proofs, and fails on demand. Unlike the gRPC fake
 * it needs no network, so loop tests run on fake timers alone.
 */
export class MemoryIssuer implements IdentityIssuer {
  readonly userCa: CaKeyPair = generateCaKey('ecdsa-p256');
  readonly hostCa: CaKeyPair = generateCaKey('ecdsa-p256');
  generation = 0;
  joins = 0;
  renewals = 0;
  /** Certificate lifetime granted. */
  ttlMs: number | undefined;
  /** Failures to throw on the next calls, first one first. */
  readonly failures: Error[] = [];
  /** Every call fails with this while set. */
  failAlways: Error | undefined;

  constructor(
    private readonly clock: Clock,
    readonly joinToken = 'tok-bot-0123456789abcdef0123456789abcdef',
  ) {}

  async join(input: { joinToken: string; publicKey: string; ttlMs: number }): Promise<IssuedCertificate> {
    this.maybeFail();
    if (input.joinToken !== this.joinToken) throw unauthenticated('invalid join token');
    this.joins++;
    return this.issue(input.publicKey, input.ttlMs);
  }

  async renew(input: { certificate: string; newPublicKey: string; ttlMs: number; sign: (challenge: Buffer) => Buffer }): Promise<IssuedCertificate> {
    this.maybeFail();
    const cert = parseCertificate(input.certificate);
    if (cert.validBefore <= this.clock.now()) throw unauthenticated('the certificate has expired');
    const challenge = randomBytes(32);
    const newKey = parsePublicKey(input.newPublicKey);
    if (!verifyRenewal(cert.subjectKey, challenge, newKey.blob, input.sign(challenge))) throw invalidArgument('bad renewal signature');
    this.renewals++;
    return this.issue(input.newPublicKey, input.ttlMs);
  }

  private issue(publicKey: string, requestedTtlMs: number): IssuedCertificate {
    const now = this.clock.now();
    const ttl = this.ttlMs ?? requestedTtlMs;
    const signed = signCertificate({
      ca: { key: this.userCa.privateKey },
      subjectKey: parsePublicKey(publicKey),
      type: 'user',
      serial: BigInt(++this.generation),
      keyId: 'bot:test',
      principals: ['deploy'],
      validAfter: new Date(now.getTime() - 60_000), // backdated for clock skew, as ssh-ca does
      validBefore: new Date(now.getTime() + ttl),
    });
    return { certificate: signed.line, hostCertAuthorities: [this.hostCa.publicKeyLine], userCertAuthorities: [this.userCa.publicKeyLine], generation: this.generation, botName: 'test', principals: ['deploy'] };
  }

  private maybeFail(): void {
    if (this.failAlways) throw this.failAlways;
    const next = this.failures.shift();
    if (next) throw next;
  }
}
