/**
 * In-process stand-ins for token-service and ssh-ca, for the auth-server's unit tests
 * (the end-to-end tests run the real services). They follow the same protocols: join
 * tokens are claimed, confirmed or released; certificates are really signed by CA keys
 * and logged, and the KRL is a real OpenSSH KRL over that log.
 */
import { randomUUID } from 'node:crypto';
import { failedPrecondition, notFound, unauthenticated, type Clock } from '@mezite/identity';
import { encodeKrl, generateCaKey, parsePublicKey, signCertificate, type CaKeyPair } from '@mezite/ssh';
import type { CaInfo, CertAuthorityClient, SignedCert } from './cert-authority-client';
import type { JoinTokenClaim, JoinTokenMinter } from './join-token-minter';

/** One-time tokens in memory with the claim/confirm/release protocol of token-service. */
export class FakeJoinTokens implements JoinTokenMinter {
  tokens = new Map<string, { subjectId: string; tenantId: string; kind: 'bot' | 'node'; state: 'live' | 'claimed' | 'used' | 'revoked'; claimId?: string }>();
  async create(i: { tenantId: string; subjectKind: 'bot' | 'node'; subjectId: string }) {
    const plaintext = `tok-${i.subjectKind}-${randomUUID().replace(/-/g, '')}`;
    this.tokens.set(plaintext, { subjectId: i.subjectId, tenantId: i.tenantId, kind: i.subjectKind, state: 'live' });
    return { id: randomUUID(), plaintext, expiresAt: new Date() };
  }
  async revokeForSubject(i: { subjectId: string }) {
    let n = 0;
    for (const t of this.tokens.values()) if (t.subjectId === i.subjectId && t.state === 'live') (t.state = 'revoked'), n++;
    return n;
  }
  async claim(token: string): Promise<JoinTokenClaim> {
    const t = this.tokens.get(token);
    if (!t || t.state !== 'live') throw unauthenticated('invalid join token');
    t.state = 'claimed';
    t.claimId = randomUUID();
    return { claimId: t.claimId, tokenId: 'x', tenantId: t.tenantId, subjectKind: t.kind, subjectId: t.subjectId };
  }
  async confirm(claimId: string) {
    for (const t of this.tokens.values()) if (t.claimId === claimId && t.state === 'claimed') t.state = 'used';
  }
  async release(claimId: string) {
    for (const t of this.tokens.values()) if (t.claimId === claimId && t.state === 'claimed') t.state = 'live';
  }
}

interface Logged {
  serial: bigint;
  type: 'user' | 'host';
  ca: CaKeyPair;
  subjectId: string;
  tenantId: string;
  keyId: string;
  validBefore: Date;
}

/** A CA pair that signs in process, like ssh-ca does, and keeps an issued-certificate log. */
export class FakeCa implements CertAuthorityClient {
  user = generateCaKey('ecdsa-p256');
  host = generateCaKey('ecdsa-p256');
  failNext = false;
  readonly log: Logged[] = [];
  private serial = 100n;
  constructor(private readonly clock: Clock) {}

  async sign(i: Parameters<CertAuthorityClient['sign']>[0]): Promise<SignedCert> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('ssh-ca down');
    }
    const now = this.clock.now();
    const validAfter = new Date(now.getTime() - 60_000);
    const validBefore = new Date(now.getTime() + i.ttlMs);
    const ca = i.type === 'user' ? this.user : this.host;
    const serial = this.serial++;
    const c = signCertificate({ ca: { key: ca.privateKey }, subjectKey: parsePublicKey(i.publicKey), type: i.type, serial, keyId: `${i.keyId}/${serial}`, principals: i.principals, validAfter, validBefore, extensions: i.extensions ?? {} });
    this.log.push({ serial, type: i.type, ca, subjectId: i.subjectId ?? '', tenantId: i.tenantId, keyId: `${i.keyId}/${serial}`, validBefore });
    return { certificate: c.line, serial: String(serial), validAfter, validBefore };
  }
  async publicKeys(type: 'user' | 'host') {
    return [(type === 'user' ? this.user : this.host).publicKeyLine];
  }
  async status(): Promise<CaInfo[]> {
    return (['user', 'host'] as const).map((type) => ({ type, publicKey: (type === 'user' ? this.user : this.host).publicKeyLine, fingerprint: '', state: 'active' as const, createdAt: new Date(0), lastCertificateExpiresAt: null }));
  }
  async rotate(): Promise<CaInfo[]> {
    throw failedPrecondition('the fake CA does not rotate; the rotation is tested against ssh-ca');
  }
  async generateKrl(input: { subjectIds: string[]; serials: string[] }) {
    const now = this.clock.now();
    const hit = this.log.filter((c) => c.validBefore > now && (input.subjectIds.includes(c.subjectId) || input.serials.includes(String(c.serial))));
    const certificates = [this.user, this.host].map((ca) => ({ caPublicKeyBlob: Buffer.from(ca.publicKeyLine.split(' ')[1] ?? '', 'base64'), serials: hit.filter((c) => c.ca === ca).map((c) => c.serial) })).filter((s) => s.serials.length);
    return { krl: encodeKrl({ version: 1n, generatedAt: now, comment: '', certificates }), generatedAt: now, revokedCertificates: hit.length };
  }
  async issuedCertificate(serial: string) {
    const c = this.log.find((x) => String(x.serial) === serial);
    if (!c) throw notFound(`no certificate with serial ${serial}`);
    return { serial, tenantId: c.tenantId, subjectId: c.subjectId, keyId: c.keyId, validBefore: c.validBefore };
  }
}
